/* SPDX-License-Identifier: MIT */
/* mkarchive's full fixture (a small rootfs with every entry type tar can
 * hold) and the kinds built on it: full-amd64, pios, zeros, sparse-end. */
#include "mkarchive.h"

#define FUTURE_MTIME ((time_t)2000000000)

/* The Debian architecture `full` is for: arm64, that of the pi5 nodes. */
static const char *full_arch = "arm64";

/* VFS_CAP_REVISION_2, cap_net_raw (13) in permitted, effective flag set. */
static const uint8_t cap_net_raw[20] = {
	0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* The POSIX ACL systemd-tmpfiles gives /var/log/journal on Debian
 * (tmpfiles.d/systemd.conf: group adm may read the journal), in the form
 * getxattr(2) and GNU tar --xattrs give (version 2; the owner, group, mask
 * and other entries carry the undefined id), once as the access ACL and
 * once as the default one: user::rwx group::r-x group:adm:r-x mask::r-x
 * other::r-x. */
static const uint8_t journal_acl[44] = {
	0x02, 0x00, 0x00, 0x00,				/* version 2 */
	0x01, 0x00, 0x07, 0x00, 0xff, 0xff, 0xff, 0xff, /* user:: rwx */
	0x04, 0x00, 0x05, 0x00, 0xff, 0xff, 0xff, 0xff, /* group:: r-x */
	0x08, 0x00, 0x05, 0x00, 0x04, 0x00, 0x00, 0x00, /* group:adm: r-x */
	0x10, 0x00, 0x05, 0x00, 0xff, 0xff, 0xff, 0xff, /* mask:: r-x */
	0x20, 0x00, 0x05, 0x00, 0xff, 0xff, 0xff, 0xff, /* other:: r-x */
};

static const char os_release[] = "PRETTY_NAME=\"Farm Fixture 1\"\n"
				 "NAME=\"Farm Fixture\"\n"
				 "ID=farm-fixture\n"
				 "VERSION_ID=1\n";

/* The fixture's stand-ins for what a node cannot do without (builder/
 * basefit.c): a few bytes each, where Debian puts them. */
static void add_node_needs(struct ctx *c, bool resolved)
{
	static const char *const bins[] = {
		"./usr/lib/systemd/systemd",
		"./usr/lib/systemd/systemd-networkd",
		"./usr/lib/systemd/systemd-udevd",
		"./usr/sbin/sshd",
		"./usr/bin/ssh-keygen",
		"./usr/sbin/mkfs.btrfs",
		"./usr/bin/sudo",
	};
	static const char *const libs[] = {
		"libfdisk.so.1",
		"libblkid.so.1",
		"libbtrfsutil.so.1",
		"libyaml-0.so.2",
	};
	static const char *const triplets[] = { "x86_64-linux-gnu", "aarch64-linux-gnu" };

	add_dir(c, "./usr/sbin/", 0755);
	for (size_t i = 0; i < ELEMENTSOF(bins); i++)
		add_text(c, bins[i], 0755, "#!/bin/sh\n# fixture\n");
	if (resolved)
		add_text(c, "./usr/lib/systemd/systemd-resolved", 0755, "#!/bin/sh\n# fixture\n");
	add_symlink(c, "./usr/sbin/init", "../lib/systemd/systemd");
	for (size_t t = 0; t < ELEMENTSOF(triplets); t++) {
		char dir[64];
		snprintf(dir, sizeof(dir), "./usr/lib/%s/", triplets[t]);
		add_dir(c, dir, 0755);
		for (size_t i = 0; i < ELEMENTSOF(libs); i++) {
			char path[128];
			snprintf(path, sizeof(path), "%s%s", dir, libs[i]);
			add_text(c, path, 0644, "fixture library\n");
		}
	}
}

/* The full fixture; RESOLVED: with systemd-resolved (a Debian base), else
 * without (Raspberry Pi OS). */
static void full_entries(struct ctx *c, bool resolved)
{
	add_dir(c, "./", 0755);

	add_dir(c, "./etc/", 0755);
	add_text(c, "./etc/hostname", 0644, "fixture\n");
	entry_begin(c, "./etc/shadow", AE_IFREG, 0640);
	archive_entry_set_gid(c->e, 42);
	entry_write(c, "root:*:19000:0:99999:7:::\n", 26);
	/* What the build reads from a Debian base: the account files it adds
	 * the admin to, SSH moduli it filters, a host key it must leave out,
	 * dpkg's record of openssh-server (the sshd algorithm lists depend on
	 * its version), a machine-id it replaces. */
	add_text(c, "./etc/passwd", 0644,
		 "root:x:0:0:root:/root:/bin/bash\n"
		 "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
		 "user:x:1000:1000:fixture user:/home/user:/bin/bash\n");
	add_text(c, "./etc/group", 0644,
		 "root:x:0:\nadm:x:4:\ntty:x:5:\nshadow:x:42:\nuser:x:1000:\n"
		 "systemd-journal:x:999:\n");
	entry_begin(c, "./etc/gshadow", AE_IFREG, 0640);
	archive_entry_set_gid(c->e, 42);
	entry_write(c, "root:*::\nadm:*::\n", 17);
	add_text(c, "./etc/machine-id", 0444, "00000000000000000000000000000001\n");
	add_dir(c, "./etc/ssh/", 0755);
	add_text(c, "./etc/ssh/sshd_config", 0644, "Include /etc/ssh/sshd_config.d/*.conf\n");
	add_text(c, "./etc/ssh/moduli", 0644,
		 "# Time Type Tests Tries Size Generator Modulus\n"
		 "20230101000000 2 6 100 2047 2 C0FFEE01\n"
		 "20230101000000 2 6 100 3071 2 C0FFEE02\n"
		 "20230101000000 2 6 100 4095 5 C0FFEE03\n");
	add_text(c, "./etc/ssh/ssh_host_ed25519_key", 0600, "not a real key\n");
	add_text(c, "./etc/ssh/ssh_host_ed25519_key.pub", 0644, "ssh-ed25519 AAAA fixture\n");

	add_dir(c, "./usr/", 0755);
	add_dir(c, "./usr/bin/", 0755);
	{
		_cleanup_free_ uint8_t *buf = random_bytes("./usr/bin/ping", 0, 20517);
		entry_begin(c, "./usr/bin/ping", AE_IFREG, 0755);
		archive_entry_xattr_add_entry(c->e, "security.capability", cap_net_raw,
					      sizeof(cap_net_raw));
		entry_write(c, buf, 20517);
	}
	add_text(c, "./usr/bin/su", 04755, "#!/bin/sh\necho fixture su\n");
	entry_begin(c, "./usr/bin/wall", AE_IFREG, 02755);
	archive_entry_set_gid(c->e, 5);
	entry_write(c, "#!/bin/sh\necho fixture wall\n", 28);
	add_hardlink(c, "./usr/bin/hardlinked", "./usr/bin/su", 04755);

	add_dir(c, "./usr/lib/", 0755);
	add_text(c, "./usr/lib/os-release", 0644, os_release);
	add_symlink(c, "./etc/os-release", "../usr/lib/os-release");

	add_dir(c, "./usr/share/", 0755);
	/* The example cluster's power schedule is in Europe/Berlin: the
	 * build checks that the base's tzdata has it. */
	add_dir(c, "./usr/share/zoneinfo/", 0755);
	add_dir(c, "./usr/share/zoneinfo/Etc/", 0755);
	add_text(c, "./usr/share/zoneinfo/Etc/UTC", 0644, "TZif2 fixture\n");
	add_dir(c, "./usr/share/zoneinfo/Europe/", 0755);
	add_text(c, "./usr/share/zoneinfo/Europe/Berlin", 0644, "TZif2 fixture\n");
	add_random(c, "./usr/share/big.bin", 0644, 1 * MiB + 123);
	add_dir(c, "./usr/share/many/", 0755);
	for (unsigned i = 0; i < 300; i++) {
		char path[64], text[16];
		snprintf(path, sizeof(path), "./usr/share/many/f%03u", i);
		snprintf(text, sizeof(text), "f%03u\n", i);
		add_text(c, path, 0644, text);
	}

	add_dir(c, "./var/", 0755);
	{
		static const struct region map[] = {
			{ 0, 4096 },
			{ 32 * MiB, 8192 },
			{ 64 * MiB - 4096, 4096 },
		};
		write_sparse(c, "./var/sparse.img", 0644, 64 * MiB, map, ELEMENTSOF(map));
	}
	add_file(c, "./var/empty", 0644, NULL, 0);
	add_dir(c, "./var/log/", 0755);
	entry_begin(c, "./var/log/journal/", AE_IFDIR, 02755);
	archive_entry_set_gid(c->e, 999);
	archive_entry_xattr_add_entry(c->e, "system.posix_acl_access", journal_acl,
				      sizeof(journal_acl));
	archive_entry_xattr_add_entry(c->e, "system.posix_acl_default", journal_acl,
				      sizeof(journal_acl));
	entry_write(c, NULL, 0);
	add_dir(c, "./var/lib/", 0755);
	add_dir(c, "./var/lib/dpkg/", 0755);
	{
		/* dpkg's own record is what tells the base's architecture. */
		_cleanup_free_ char *status = xasprintf(
			"Package: bash\nStatus: install ok installed\nVersion: 5.2.37-2\n\n"
			"Package: dpkg\nEssential: yes\nStatus: install ok installed\n"
			"Architecture: %s\nVersion: 1.22.21\n\n"
			"Package: openssh-server\nStatus: install ok installed\nPriority: optional\n"
			"Architecture: %s\nVersion: 1:10.0p1-7\n\n"
			"Package: sudo\nStatus: install ok installed\nVersion: 1.9.16p2-3\n",
			full_arch, full_arch);
		add_text(c, "./var/lib/dpkg/status", 0644, status);
	}

	add_dir(c, "./home/", 0755);
	entry_begin(c, "./home/user/", AE_IFDIR, 0700);
	archive_entry_set_uid(c->e, 1000);
	archive_entry_set_gid(c->e, 1000);
	entry_write(c, NULL, 0);
	entry_begin(c, "./home/user/file", AE_IFREG, 0600);
	archive_entry_set_uid(c->e, 1000);
	archive_entry_set_gid(c->e, 1000);
	entry_write(c, "user file\n", 10);

	add_dir(c, "./dev/", 0755);
	add_dev(c, "./dev/null", AE_IFCHR, 0666, 1, 3, 0);
	add_dev(c, "./dev/console", AE_IFCHR, 0600, 5, 1, 0);
	add_dev(c, "./dev/sda", AE_IFBLK, 0660, 8, 0, 6);
	/* major > 255 and minor > 255: needs the "new" (huge) encoding in
	 * ext4's inode, yet still fits ustar's octal fields. */
	add_dev(c, "./dev/big", AE_IFCHR, 0600, 300, 70000, 0);

	add_dir(c, "./run/", 0755);
	entry_begin(c, "./run/initctl", AE_IFIFO, 0600);
	entry_write(c, NULL, 0);
	/* No ./run/sock: tar has no socket type (see the top of mkarchive.c). */

	add_dir(c, "./tmp/", 01777);

	entry_begin(c, "./etc/future", AE_IFREG, 0644);
	archive_entry_set_mtime(c->e, FUTURE_MTIME, 0);
	entry_write(c, "future\n", 7);

	entry_begin(c, "./etc/user.xattr", AE_IFREG, 0644);
	archive_entry_xattr_add_entry(c->e, "user.comment", "hello", 5);
	entry_write(c, "user xattr\n", 11);
	/* Too large for the inode: ext4 puts it in a block of its own. */
	{
		_cleanup_free_ uint8_t *big = random_bytes("user.big", 0, 3000);
		entry_begin(c, "./etc/big.xattr", AE_IFREG, 0644);
		archive_entry_xattr_add_entry(c->e, "user.big", big, 3000);
		entry_write(c, "big xattr\n", 10);
	}

	add_dir(c, "./boot/", 0755);
	add_dir(c, "./boot/firmware/", 0755);
	add_text(c, "./boot/firmware/config.txt", 0644, "# fixture\n");
	add_text(c, "./boot/firmware/cmdline.txt", 0644,
		 "console=serial0,115200 console=tty1 root=LABEL=root rootfstype=ext4 "
		 "fsck.repair=yes rootwait\n");
	add_random(c, "./boot/firmware/kernel_2712.img", 0644, 64 * KiB);
	add_random(c, "./boot/firmware/kernel8.img", 0644, 48 * KiB);
	add_random(c, "./boot/firmware/initramfs8", 0644, 24 * KiB);
	/* What Raspberry Pi OS also has there and a Pi 5 does not read. */
	add_random(c, "./boot/firmware/start4.elf", 0644, 8 * KiB);
	add_random(c, "./boot/firmware/fixup4.dat", 0644, 2 * KiB);
	add_random(c, "./boot/firmware/bootcode.bin", 0644, 2 * KiB);
	add_random(c, "./boot/firmware/bcm2711-rpi-4-b.dtb", 0644, 4 * KiB);
	add_random(c, "./boot/firmware/bcm2712-rpi-5-b.dtb", 0644, 4 * KiB);
	add_dir(c, "./boot/firmware/overlays/", 0755);
	add_random(c, "./boot/firmware/overlays/bcm2712d0.dtbo", 0644, 1 * KiB);
	add_random(c, "./boot/firmware/initramfs_2712", 0644, 32 * KiB);
	add_random(c, "./boot/vmlinuz-6.12.0-1-amd64", 0644, 64 * KiB);
	add_random(c, "./boot/initrd.img-6.12.0-1-amd64", 0644, 32 * KiB);
	/* An older kernel, and a newer one without an initrd: the x86 boot
	 * entry must pick 6.12.0-1. */
	add_random(c, "./boot/vmlinuz-6.1.0-9-amd64", 0644, 16 * KiB);
	add_random(c, "./boot/initrd.img-6.1.0-9-amd64", 0644, 8 * KiB);
	add_random(c, "./boot/vmlinuz-6.13.0-0-amd64", 0644, 16 * KiB);
	add_dir(c, "./usr/lib/systemd/", 0755);
	add_dir(c, "./usr/lib/systemd/boot/", 0755);
	add_dir(c, "./usr/lib/systemd/boot/efi/", 0755);
	add_random(c, "./usr/lib/systemd/boot/efi/systemd-bootx64.efi", 0644, 16 * KiB);
	add_node_needs(c, resolved);
}

void kind_full(struct ctx *c) { full_entries(c, true); }

/* What Raspberry Pi OS Lite brings that a farm node must not run, as
 * pi-gen leaves it (trixie and bookworm): sshd disabled (no enable links),
 * NetworkManager enabled, the user wizard enabled and getty@tty1 disabled
 * (userconf-pi's rename-user), cloud-init, rpi-swap and dphys-swapfile,
 * first-boot units of raspberrypi-sys-mods, a plain resolv.conf and no
 * systemd-resolved. Unit files are stand-ins; links are where systemctl
 * enable puts them. */
void kind_pios(struct ctx *c)
{
	static const char *const units[] = {
		"NetworkManager.service",
		"NetworkManager-wait-online.service",
		"NetworkManager-dispatcher.service",
		"userconfig.service",
		"regenerate_ssh_host_keys.service",
		"sshswitch.service",
		"rpi-resize.service",
		"dphys-swapfile.service",
		"cloud-init-main.service",
		"cloud-init-local.service",
		"cloud-init-network.service",
		"cloud-config.service",
		"cloud-final.service",
		"cloud-init.target",
		"ssh.service",
		"getty@.service",
	};
	static const char *const links[][2] = {
		{ "multi-user.target.wants/NetworkManager.service", "NetworkManager.service" },
		{ "network-online.target.wants/NetworkManager-wait-online.service",
		  "NetworkManager-wait-online.service" },
		{ "dbus-org.freedesktop.NetworkManager.service", "NetworkManager.service" },
		{ "dbus-org.freedesktop.nm-dispatcher.service",
		  "NetworkManager-dispatcher.service" },
		{ "multi-user.target.wants/userconfig.service", "userconfig.service" },
		{ "multi-user.target.wants/regenerate_ssh_host_keys.service",
		  "regenerate_ssh_host_keys.service" },
		{ "multi-user.target.wants/sshswitch.service", "sshswitch.service" },
		{ "multi-user.target.wants/dphys-swapfile.service", "dphys-swapfile.service" },
		{ "cloud-init.target.wants/cloud-init-main.service", "cloud-init-main.service" },
		{ "cloud-init.target.wants/cloud-final.service", "cloud-final.service" },
	};
	static const char *const dirs[] = {
		"./etc/systemd/",
		"./etc/systemd/system/",
		"./etc/systemd/system/multi-user.target.wants/",
		"./etc/systemd/system/network-online.target.wants/",
		"./etc/systemd/system/cloud-init.target.wants/",
		"./etc/ssh/sshd_config.d/",
		"./etc/rpi/",
		"./etc/init.d/",
		"./usr/lib/systemd/system/",
		"./usr/lib/systemd/system-generators/",
		"./usr/lib/systemd/zram-generator.conf.d/",
	};

	full_entries(c, false);
	for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
		add_dir(c, dirs[i], 0755);
	for (size_t i = 0; i < ELEMENTSOF(units); i++) {
		char path[128], text[128];
		snprintf(path, sizeof(path), "./usr/lib/systemd/system/%s", units[i]);
		snprintf(text, sizeof(text), "[Unit]\nDescription=fixture %s\n", units[i]);
		add_text(c, path, 0644, text);
	}
	for (size_t i = 0; i < ELEMENTSOF(links); i++) {
		char path[160], target[128];
		snprintf(path, sizeof(path), "./etc/systemd/system/%s", links[i][0]);
		snprintf(target, sizeof(target), "/usr/lib/systemd/system/%s", links[i][1]);
		add_symlink(c, path, target);
	}
	add_text(c, "./etc/resolv.conf", 0644, "nameserver 8.8.8.8\n");
	add_text(c, "./etc/ssh/sshd_config.d/rename_user.conf", 0644,
		 "Banner /usr/share/userconf-pi/sshd_banner\n");
	add_text(c, "./etc/rpi/swap.conf", 0644, "[Main]\n#Mechanism=auto\n");
	add_text(c, "./etc/init.d/resize2fs_once", 0755, "#!/bin/sh\n# fixture\n");
	add_text(c, "./usr/lib/systemd/system-generators/rpi-swap-generator", 0755,
		 "#!/bin/sh\n# fixture\n");
	add_text(c, "./usr/lib/systemd/system-generators/cloud-init-generator", 0755,
		 "#!/bin/sh\n# fixture\n");
	add_text(c, "./usr/lib/systemd/zram-generator.conf.d/20-rpi-swap-zram0-ctrl.conf", 0644,
		 "[zram0]\nfs-type=swap\n");
}

/* The same base for x86 nodes: only dpkg's record differs. */
void kind_full_amd64(struct ctx *c)
{
	full_arch = "amd64";
	kind_full(c);
}

/* Data with whole blocks of zeros in it (which the build leaves as holes):
 * ./var/zeros is 512 MiB of zeros, ./var/mixed random bytes around 3 MiB
 * of zeros, neither block-aligned. Not sparse in the tar: the zeros are
 * data there. */
void kind_zeros(struct ctx *c)
{
	static const size_t head = 5000, zeros = 3 * MiB, tail = 100;
	_cleanup_free_ uint8_t *buf = xcalloc(1, head + zeros + tail);
	_cleanup_free_ uint8_t *h = random_bytes("./var/mixed", 0, head);
	_cleanup_free_ uint8_t *t = random_bytes("./var/mixed", 1, tail);

	kind_full(c);
	entry_begin(c, "./var/zeros", AE_IFREG, 0644);
	archive_entry_set_size(c->e, (la_int64_t)(512 * MiB));
	if (archive_write_header(c->a, c->e) != ARCHIVE_OK)
		die_archive(c, "writing header of");
	feed_hole(c, 512 * MiB);
	memcpy(buf, h, head);
	memcpy(buf + head + zeros, t, tail);
	add_file(c, "./var/mixed", 0644, buf, head + zeros + tail);
}

/* A sparse ./var/log/lastlog of 15 GiB whose only data is its last block,
 * as a base with a few thousand uids has one. */
void kind_sparse_end(struct ctx *c)
{
	static const struct region map[] = {
		{ 15 * GiB - 4096, 4096 },
	};

	kind_full(c);
	add_dir(c, "./var/log/", 0755);
	write_sparse(c, "./var/log/lastlog", 0664, 15 * GiB, map, ELEMENTSOF(map));
}
