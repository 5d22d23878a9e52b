/* SPDX-License-Identifier: MIT */
/* farm-node firstboot: what the node needs before sshd and k3s start, on
 * the data partition (the root is read-only). Each step checks the world,
 * acts only when needed, verifies, and only then records itself; a power
 * cut anywhere leads to a boot that finishes the job. */
#include "firstboot.h"
#include "fileio.h"
#include "log.h"
#include "process.h"
#include "steps.h"

#include <dirent.h>
#include <sys/stat.h>

#define SSH_DIR "var/lib/farm/ssh"
#define K3S_TLS "var/lib/rancher/k3s/server/tls"
#define K3S_IMAGES "var/lib/rancher/k3s/agent/images"
#define K3S_KUBELET_D "var/lib/rancher/k3s/agent/etc/kubelet.conf.d"
#define FARM_K3S "usr/lib/farm/k3s"

const char *const firstboot_steps[] = { "ssh-host-keys", "home", "k3s-ca", "k3s-images",
					"kubelet-dropin", NULL };

static char *at(const char *root, const char *path) { return xasprintf("%s/%s", root, path); }

/* ssh-keygen into a temporary name, then both files renamed: a key is
 * either complete or absent. */
static int host_key(const char *dir, const char *type, const char *bits)
{
	_cleanup_free_ char *key = xasprintf("%s/ssh_host_%s_key", dir, type);
	_cleanup_free_ char *tmp = xasprintf("%s/.ssh_host_%s_key.new", dir, type);
	_cleanup_free_ char *key_pub = xasprintf("%s.pub", key), *tmp_pub = xasprintf("%s.pub", tmp);
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

static int step_host_keys(const struct nodeconf *n, const char *root, char *detail, size_t len)
{
	_cleanup_free_ char *dir = at(root, SSH_DIR);
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
static int lookup_user(const char *root, const char *user, unsigned *uid, unsigned *gid)
{
	_cleanup_free_ char *path = at(root, "etc/passwd"), *text = NULL;
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

static int step_home(const struct nodeconf *n, const char *root, char *detail, size_t len)
{
	_cleanup_free_ char *home = xasprintf("%s/home/%s", root, n->admin_user.v);
	unsigned uid, gid;
	int r = lookup_user(root, n->admin_user.v, &uid, &gid);

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

static int step_k3s_ca(const struct nodeconf *n, const char *root, char *detail, size_t len)
{
	_cleanup_free_ char *src = at(root, FARM_K3S "/tls"), *dst = at(root, K3S_TLS);
	unsigned copied = 0;
	int r;

	if (!streq(n->role.v, "server")) {
		snprintf(detail, len, "not a server");
		return 0;
	}
	/* Before k3s first starts: k3s uses CA files it finds, makes its own
	 * otherwise. */
	r = copy_tree(src, dst, 0600, true, &copied);
	snprintf(detail, len, "%u CA files installed in /%s", copied, K3S_TLS);
	return r;
}

static int step_k3s_images(const struct nodeconf *n, const char *root, char *detail, size_t len)
{
	_cleanup_free_ char *src = at(root, FARM_K3S "/images"), *dst = at(root, K3S_IMAGES);
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

static int step_kubelet(const struct nodeconf *n, const char *root, char *detail, size_t len)
{
	_cleanup_free_ char *src = at(root, FARM_K3S "/kubelet.conf.d"), *dst = at(root, K3S_KUBELET_D);
	unsigned copied = 0;
	int r = copy_tree(src, dst, 0644, false, &copied);

	snprintf(detail, len, "kubelet drop-ins in /%s", K3S_KUBELET_D);
	return r;
}

int firstboot_run(const struct nodeconf *n, const char *root)
{
	static int (*const steps[])(const struct nodeconf *, const char *, char *, size_t) = {
		step_host_keys, step_home, step_k3s_ca, step_k3s_images, step_kubelet,
	};
	_cleanup_free_ char *state = at(root, FARM_STATE_DIR);
	int r = mkdir_p(state, 0700);

	if (r < 0)
		return log_error_errno(r, "Cannot create %s: %m", state);
	for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
		struct step_record rec;
		char detail[400] = "";
		if (step_read(state, firstboot_steps[i], &rec) >= 0 && rec.done)
			continue;
		r = steps[i](n, root, detail, sizeof(detail));
		if (r < 0)
			return log_error_errno(r, "First boot step %s failed; it runs again at the next "
						  "boot",
					       firstboot_steps[i]);
		r = step_record(state, firstboot_steps[i], detail);
		if (r < 0)
			return log_error_errno(r, "Cannot record step %s: %m", firstboot_steps[i]);
		log_info("%s: %s", firstboot_steps[i], detail);
	}
	return 0;
}
