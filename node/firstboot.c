/* SPDX-License-Identifier: MIT */
/* The steps of `farm-node firstboot`: what the node needs before sshd and
 * k3s start, on the data partition (the root is read-only). Each checks
 * the world and acts only when needed (steps.c records them). */
#include "firstboot.h"
#include "fileio.h"
#include "log.h"
#include "process.h"

#include <dirent.h>
#include <sys/stat.h>

#define SSH_DIR	      "var/lib/farm/ssh"
#define K3S_TLS	      "var/lib/rancher/k3s/server/tls"
#define K3S_IMAGES    "var/lib/rancher/k3s/agent/images"
#define K3S_KUBELET_D "var/lib/rancher/k3s/agent/etc/kubelet.conf.d"
#define FARM_K3S      "usr/lib/farm/k3s"

/* ssh-keygen into a temporary name, then both files renamed: a key is
 * either complete or absent. */
static int host_key(const char *dir, const char *type, const char *bits)
{
	_cleanup_free_ char *key = xasprintf("%s/ssh_host_%s_key", dir, type);
	_cleanup_free_ char *tmp = xasprintf("%s/.ssh_host_%s_key.new", dir, type);
	_cleanup_free_ char *key_pub = xasprintf("%s.pub", key),
			    *tmp_pub = xasprintf("%s.pub", tmp);
	char *check[] = { "ssh-keygen", "-l", "-f", key, NULL };
	int r;

	if (access(key, F_OK) == 0 && access(key_pub, F_OK) == 0 && spawn_wait(check, 1) == 0)
		return 0;
	unlink(tmp);
	unlink(tmp_pub);
	{
		char *argv[16];
		size_t i = 0;
		argv[i++] = "ssh-keygen";
		argv[i++] = "-q";
		argv[i++] = "-t";
		argv[i++] = (char *)type;
		if (bits) {
			argv[i++] = "-b";
			argv[i++] = (char *)bits;
		}
		argv[i++] = "-N";
		argv[i++] = "";
		argv[i++] = "-C";
		argv[i++] = "";
		argv[i++] = "-f";
		argv[i++] = tmp;
		argv[i] = NULL;
		r = spawn_wait(argv, 1);
	}
	if (r != 0)
		return log_error_errno(r < 0 ? r : EIO, "ssh-keygen -t %s failed (%d)", type, r);
	if (rename(tmp_pub, key_pub) < 0 || rename(tmp, key) < 0)
		return log_error_errno(errno, "Cannot put the %s host key in place: %m", type);
	r = fsync_dir(dir);
	if (r >= 0 && spawn_wait(check, 1) != 0)
		r = log_error("The new %s host key does not read back", type);
	return r;
}

int step_host_keys(struct farm_node *n, char *detail, size_t len)
{
	_cleanup_free_ char *dir = node_path(n, SSH_DIR);
	int r = mkdir_p(dir, 0700);

	if (r < 0)
		return log_error_errno(r, "Cannot create %s: %m", dir);
	r = host_key(dir, "ed25519", NULL);
	if (r >= 0)
		r = host_key(dir, "rsa", "3072");
	snprintf(detail, len, "ed25519 and rsa 3072 keys in /%s", SSH_DIR);
	return r;
}

/* uid and gid of USER from the root's /etc/passwd. */
static int lookup_user(const struct farm_node *node, const char *user, unsigned *uid, unsigned *gid)
{
	_cleanup_free_ char *path = node_path(node, "etc/passwd"), *text = NULL;
	size_t n = strlen(user);
	int r = read_file(path, &text, NULL, 4 * MiB);

	if (r < 0)
		return log_error_errno(r, "Cannot read %s: %m", path);
	for (char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (strncmp(l, user, n) == 0 && l[n] == ':' &&
		    sscanf(strchr(l + n + 1, ':') + 1, "%u:%u", uid, gid) == 2)
			return 0;
	return log_error("User %s is not in %s", user, path);
}

int step_home(struct farm_node *node, char *detail, size_t len)
{
	const struct nodeconf *n = &node->conf;
	_cleanup_free_ char *home = xasprintf("%s/home/%s", node->root, n->admin_user.v);
	unsigned uid, gid;
	int r = lookup_user(node, n->admin_user.v, &uid, &gid);

	if (r < 0)
		return r;
	if (mkdir(home, 0700) < 0 && errno != EEXIST)
		return log_error_errno(errno, "Cannot create %s: %m", home);
	if (chown(home, uid, gid) < 0 && geteuid() == 0)
		return log_error_errno(errno, "Cannot give %s to %s: %m", home, n->admin_user.v);
	snprintf(detail, len, "/home/%s (uid %u)", n->admin_user.v, uid);
	return 0;
}

/* Copies SRC_DIR's files (recursively) to DST_DIR, keeping any file that is
 * already there (equal content required for KEEP_EQUAL). */
static int copy_tree(const char *src, const char *dst, mode_t mode, bool must_equal,
		     unsigned *copied)
{
	DIR *d = opendir(src);
	struct dirent *de;
	int r = mkdir_p(dst, 0700);

	if (!d)
		return errno == ENOENT ? 0 : log_error_errno(errno, "Cannot read %s: %m", src);
	while (r >= 0 && (de = readdir(d))) {
		_cleanup_free_ char *s = NULL, *t = NULL, *a = NULL, *b = NULL;
		size_t la, lb;
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		s = xasprintf("%s/%s", src, de->d_name);
		t = xasprintf("%s/%s", dst, de->d_name);
		if (lstat(s, &st) < 0) {
			r = log_error_errno(errno, "Cannot read %s: %m", s);
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			r = copy_tree(s, t, mode, must_equal, copied);
			continue;
		}
		r = read_file(s, &a, &la, 64 * MiB);
		if (r < 0) {
			log_error_errno(r, "Cannot read %s: %m", s);
			break;
		}
		if (read_file(t, &b, &lb, 64 * MiB) == 0) {
			if (must_equal && (la != lb || memcmp(a, b, la) != 0))
				r = log_error("%s differs from the image's %s: this node already has "
					      "another cluster's CA; refusing to mix them",
					      t, s);
			continue;
		}
		r = write_file_atomic(t, a, la, mode);
		if (r < 0)
			log_error_errno(r, "Cannot write %s: %m", t);
		else
			(*copied)++;
	}
	closedir(d);
	return r;
}

int step_k3s_ca(struct farm_node *n, char *detail, size_t len)
{
	_cleanup_free_ char *src = node_path(n, FARM_K3S "/tls"), *dst = node_path(n, K3S_TLS);
	unsigned copied = 0;
	int r;

	/* Before k3s first starts: k3s uses CA files it finds, makes its own
	 * otherwise. */
	r = copy_tree(src, dst, 0600, true, &copied);
	snprintf(detail, len, "%u CA files installed in /%s", copied, K3S_TLS);
	return r;
}

int step_k3s_images(struct farm_node *n, char *detail, size_t len)
{
	_cleanup_free_ char *src = node_path(n, FARM_K3S "/images"),
			    *dst = node_path(n, K3S_IMAGES);
	DIR *d = opendir(src);
	struct dirent *de;
	unsigned linked = 0;
	int r = mkdir_p(dst, 0755);

	if (!d)
		return log_error_errno(errno, "Cannot read %s: %m", src);
	/* k3s imports every archive in its images directory; a link to the
	 * read-only root saves copying it onto the data partition. */
	while (r >= 0 && (de = readdir(d))) {
		_cleanup_free_ char *link = NULL, *target = NULL;
		if (de->d_name[0] == '.')
			continue;
		link = xasprintf("%s/%s", dst, de->d_name);
		target = xasprintf("/" FARM_K3S "/images/%s", de->d_name);
		if (symlink(target, link) < 0 && errno != EEXIST)
			r = log_error_errno(errno, "Cannot link %s: %m", link);
		else
			linked++;
	}
	closedir(d);
	snprintf(detail, len, "%u image archives linked into /%s", linked, K3S_IMAGES);
	return r;
}

int step_kubelet_dropins(struct farm_node *n, char *detail, size_t len)
{
	_cleanup_free_ char *src = node_path(n, FARM_K3S "/kubelet.conf.d");
	_cleanup_free_ char *dst = node_path(n, K3S_KUBELET_D);
	unsigned copied = 0;
	int r = copy_tree(src, dst, 0644, false, &copied);

	snprintf(detail, len, "kubelet drop-ins in /%s", K3S_KUBELET_D);
	return r;
}
