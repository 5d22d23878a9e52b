/* SPDX-License-Identifier: MIT */
#include "basefit.h"
#include "log.h"

#include <sys/stat.h>

#define RESOLV_CONF   "etc/resolv.conf"
#define RESOLVED_UNIT "/usr/lib/systemd/system/systemd-resolved.service"
/* glibc reads at most three nameserver lines (MAXNS). */
#define MAX_NAMESERVERS 3

/* Enablement links and files a base may carry for what the image masks
 * (overlays/common/etc/systemd/system/): left out, so that nothing in the
 * image still asks for them. Where each comes from:
 *   NetworkManager: WantedBy=multi-user.target (network.target in older
 *     releases), Alias=dbus-org.freedesktop.NetworkManager.service; its
 *     wait-online: WantedBy=network-online.target; its dispatcher:
 *     Alias=dbus-org.freedesktop.nm-dispatcher.service.
 *   userconf-pi's rename-user (pi-gen's export-image/01-user-rename):
 *     `systemctl enable userconfig` (WantedBy=multi-user.target) and
 *     /etc/ssh/sshd_config.d/rename_user.conf (a Banner saying SSH may not
 *     work until a user is set up).
 *   raspberrypi-sys-mods: regenerate_ssh_host_keys and sshswitch
 *     (WantedBy=multi-user.target; pi-gen bookworm enables the first).
 *   dphys-swapfile (bookworm), dhcpcd (bullseye and older). */
static const char *const absent[] = {
	"etc/systemd/system/multi-user.target.wants/NetworkManager.service",
	"etc/systemd/system/network.target.wants/NetworkManager.service",
	"etc/systemd/system/network-online.target.wants/NetworkManager-wait-online.service",
	"etc/systemd/system/dbus-org.freedesktop.NetworkManager.service",
	"etc/systemd/system/dbus-org.freedesktop.nm-dispatcher.service",
	"etc/systemd/system/multi-user.target.wants/userconfig.service",
	"etc/ssh/sshd_config.d/rename_user.conf",
	"etc/systemd/system/multi-user.target.wants/regenerate_ssh_host_keys.service",
	"etc/systemd/system/multi-user.target.wants/sshswitch.service",
	"etc/systemd/system/multi-user.target.wants/dphys-swapfile.service",
	"etc/systemd/system/multi-user.target.wants/dhcpcd.service",
};

/* What a node cannot do without: a file of the base (any of PATHS, or for
 * a library its name in usr/lib/TRIPLET/), the package that has it, and
 * what it is for. Paths are those of a merged /usr (Debian 12 and later). */
static const struct need {
	const char *paths[2];
	const char *package, *why;
	bool lib;
} needs[] = {
#define BIN(path, alt, pkg, what)                                                                  \
	{                                                                                          \
		{ path, alt }, pkg, what, false                                                    \
	}
#define LIB(name, pkg)                                                                             \
	{                                                                                          \
		{ name, NULL }, pkg, "farm-node is linked against it", true                        \
	}
	BIN("usr/lib/systemd/systemd", NULL, "systemd", "the node's init"),
	BIN("usr/sbin/init", NULL, "systemd-sysv", "the kernel starts /sbin/init"),
	BIN("usr/lib/systemd/systemd-networkd", NULL,
	    "systemd (systemd-networkd where Debian ships it apart)",
	    "it gives the node its static addresses"),
	BIN("usr/lib/systemd/systemd-udevd", NULL, "udev",
	    "farm-storage waits for the data partition's device"),
	BIN("usr/sbin/sshd", NULL, "openssh-server", "nodes are reached over SSH"),
	BIN("usr/bin/ssh-keygen", NULL, "openssh-client", "farm-node makes the node's host keys"),
	BIN("usr/sbin/mkfs.btrfs", "usr/bin/mkfs.btrfs", "btrfs-progs",
	    "farm-node formats the data partition"),
	BIN("usr/bin/sudo", NULL, "sudo", "the admin user's sudo"),
	LIB("libfdisk.so.1", "libfdisk1"),
	LIB("libblkid.so.1", "libblkid1"),
	LIB("libbtrfsutil.so.1", "libbtrfsutil1t64 (libbtrfsutil1 before Debian 13)"),
	LIB("libyaml-0.so.2", "libyaml-0-2"),
#undef BIN
#undef LIB
};

void basefit_plan(struct plan *p)
{
	for (size_t i = 0; i < ELEMENTSOF(absent); i++)
		plan_add(p, PLAN_ABSENT, absent[i], 0, "farm-image (neutralized in the base)");
	/* A file or a link, decided by basefit_finish(). */
	plan_add(p, PLAN_FILE, RESOLV_CONF, 0644, "farm-image (name resolution)");
}

static char *need_path(const struct need *n, size_t i, const char *triplet)
{
	return n->lib ? xasprintf("usr/lib/%s/%s", triplet, n->paths[i]) : xstrdup(n->paths[i]);
}

static bool exists(struct ext4_writer *w, const char *path)
{
	uint32_t mode;

	return ext4_lookup(w, path, &mode) == 0;
}

/* /etc/resolv.conf for a base without systemd-resolved: the config's DNS
 * servers and the cluster's domain. */
static char *resolv_conf(const struct vars *v)
{
	_cleanup_free_ char *dns = xstrdup(vars_get(v, "dns"));
	char *buf = NULL, *save = NULL;
	size_t len = 0, n = 0;
	FILE *f = open_memstream(&buf, &len);

	fprintf(f, "# The node's name servers, from the cluster config, written by\n"
		   "# farm-image: the base has no systemd-resolved.\n");
	for (char *s = strtok_r(dns, " ", &save); s; s = strtok_r(NULL, " ", &save))
		if (n++ < MAX_NAMESERVERS)
			fprintf(f, "nameserver %s\n", s);
		else
			fprintf(f, "# nameserver %s: glibc reads only the first three\n", s);
	fprintf(f, "search %s\n", vars_get(v, "domain"));
	fclose(f);
	return buf;
}

static struct plan_file *find(struct plan *p, const char *path)
{
	return (struct plan_file *)plan_find_file(p, path);
}

int basefit_finish(struct plan *p, struct ext4_writer *w, const struct board *b,
		   const struct vars *v, const char *base)
{
	_cleanup_free_ char *triplet = xasprintf("%s-linux-gnu", b->ops->qemu_arch);
	struct plan_file *rc = find(p, RESOLV_CONF);
	unsigned missing = 0;
	uint32_t mode;

	if (ext4_lookup(w, "lib", &mode) == 0 && S_ISDIR(mode)) {
		log_error("%s: the base's /lib is a directory, not a link to /usr/lib: farm needs a "
			  "merged /usr (Debian 12 and later; the usrmerge package)",
			  base);
		return -ENOENT;
	}
	for (size_t i = 0; i < ELEMENTSOF(needs); i++) {
		const struct need *n = &needs[i];
		_cleanup_free_ char *shown = need_path(n, 0, triplet);
		bool found = exists(w, shown);

		for (size_t j = 1; !found && j < ELEMENTSOF(n->paths) && n->paths[j]; j++) {
			_cleanup_free_ char *alt = need_path(n, j, triplet);
			found = exists(w, alt);
		}
		if (found)
			continue;
		log_error("%s: the base has no /%s, which a node needs (%s): add the package %s "
			  "to the base",
			  base, shown, n->why, n->package);
		missing++;
	}
	if (missing)
		return -ENOENT;

	free(rc->data);
	rc->data = NULL;
	rc->size = 0;
	if (exists(w, "usr/lib/systemd/systemd-resolved")) {
		/* As Debian's systemd-resolved package sets it up: the stub,
		 * which k3s recognizes and looks past. */
		rc->kind = PLAN_SYMLINK;
		rc->mode = 0777;
		rc->target = xstrdup("../run/systemd/resolve/stub-resolv.conf");
		return 0;
	}
	rc->data = (uint8_t *)resolv_conf(v);
	rc->size = strlen((char *)rc->data);
	/* No resolved: its enable links (overlays) would dangle. */
	for (size_t i = 0; i < p->n_files; i++) {
		struct plan_file *f = &p->files[i];
		if (f->kind == PLAN_SYMLINK && streq(f->target, RESOLVED_UNIT))
			f->kind = PLAN_ABSENT;
	}
	log_notice("%s: the base has no systemd-resolved; /etc/resolv.conf lists the config's DNS "
		   "servers",
		   base);
	return 0;
}
