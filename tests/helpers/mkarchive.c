/* SPDX-License-Identifier: MIT */
/* mkarchive: writes the tar fixtures the image tests stream into ext4,
 * without root privileges: every entry (owners, devices, setuid bits,
 * xattrs, sparse maps, malicious names) is described to libarchive's
 * writer rather than read from disk.
 *
 *   mkarchive KIND OUTPUT    OUTPUT ending in .gz, .xz or .zst is compressed;
 *                            "-" writes to stdout
 *   mkarchive list           the kinds, one per line
 *
 * The output is restricted pax (ustar headers, with a pax extended header
 * only where an entry needs one: xattrs, sparse maps, long names, large
 * sizes) and byte-for-byte deterministic: every time is set explicitly
 * (mtime 1600000000 unless stated, no atime/ctime), every owner is numeric
 * (uid/gid 0 unless stated, no user or group names), and file contents
 * come from a PRNG seeded with the path.
 *
 * libarchive caveats this file works around:
 *   - tar cannot hold sockets: libarchive refuses them ("tar format cannot
 *     archive socket", ARCHIVE_FAILED) and GNU tar skips them, so `full`
 *     has no ./run/sock.
 *   - A sparse entry's data is written as the whole logical stream: the pax
 *     writer drops the bytes that fall into holes of the map, so holes must
 *     be fed through archive_write_data() too (write_sparse() does it from
 *     a zero buffer, which is never read).  Each call stays within one
 *     block of the map: some libarchive sources size each piece from the
 *     whole buffer instead of what is left of it, which mis-advances when
 *     one call spans a hole and data (3.6.2 gets it right; we don't rely
 *     on it).
 *   - Sparse files are stored as GNU sparse format 1.0 inside pax:
 *     GNU.sparse.{major=1,minor=0,name,realsize} attributes, the ustar name
 *     rewritten to DIR/GNUSparseFile.0/NAME, and the map ("count\noffset\n
 *     length\n...", padded to 512) at the start of the entry's data.
 *   - Xattrs: by default libarchive writes each one twice, as
 *     LIBARCHIVE.xattr.NAME=base64 and SCHILY.xattr.NAME=raw bytes, and its
 *     3.6 reader then returns the xattr twice; GNU tar ignores (with a
 *     warning) the LIBARCHIVE form. We ask for SCHILY.xattr only, the form
 *     GNU tar --xattrs writes.
 *   - Hardlink entries carry no data in (restricted) pax.
 *   - The gzip filter stamps the current time into its header unless its
 *     "timestamp" option is turned off.
 */
#include <archive.h>
#include <archive_entry.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "util.h"

#define FIXTURE_MTIME ((time_t)1600000000)
#define FUTURE_MTIME  ((time_t)2000000000)
#define ZERO_CHUNK    (4 * MiB)

static const char *arg_output;
/* The Debian architecture `full` is for: arm64, that of the pi5 nodes. */
static const char *full_arch = "arm64";
static bool output_created;

static _Noreturn _printf_(1, 2) void die(const char *fmt, ...)
{
	va_list ap;

	fputs("mkarchive: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	/* Leave no half-written fixture behind for a later test to trust. */
	if (output_created)
		(void)unlink(arg_output);
	exit(1);
}

struct ctx {
	struct archive *a;
	struct archive_entry *e;
};

static void die_archive(struct ctx *c, const char *what)
{
	const char *path = archive_entry_pathname(c->e);
	die("%s %s: %s", what, path ? path : "(archive)", archive_error_string(c->a));
}

/* Deterministic pseudo-random bytes: splitmix64 seeded with the FNV-1a hash
 * of a string (usually the entry's path), taken little-endian so that every
 * host produces the same fixture. */
static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t seed_of(const char *s, uint64_t salt)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325) ^ salt;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * UINT64_C(0x100000001b3);
	return h;
}

static uint8_t *random_bytes(const char *seed, uint64_t salt, size_t len)
{
	uint8_t *buf = xmalloc(len);
	uint64_t state = seed_of(seed, salt), v = 0;

	for (size_t i = 0; i < len; i++) {
		if (i % 8 == 0)
			v = splitmix64(&state);
		buf[i] = (uint8_t)(v >> (8 * (i % 8)));
	}
	return buf;
}

/* Starts a new entry with the defaults: owner 0:0, mtime FIXTURE_MTIME,
 * nothing else set. Adjust the returned entry, then call entry_write(). */
static struct archive_entry *entry_begin(struct ctx *c, const char *path, unsigned type,
					 unsigned perm)
{
	archive_entry_clear(c->e);
	archive_entry_set_pathname(c->e, path);
	archive_entry_set_filetype(c->e, type);
	archive_entry_set_perm(c->e, perm);
	archive_entry_set_uid(c->e, 0);
	archive_entry_set_gid(c->e, 0);
	archive_entry_set_mtime(c->e, FIXTURE_MTIME, 0);
	return c->e;
}

static void write_data(struct ctx *c, const void *data, size_t len)
{
	la_ssize_t n = archive_write_data(c->a, data, len);
	if (n < 0)
		die_archive(c, "writing data of");
	if ((size_t)n != len)
		die("writing data of %s: short write (%zd of %zu bytes)",
		    archive_entry_pathname(c->e), (ssize_t)n, len);
}

static void entry_write(struct ctx *c, const void *data, size_t len)
{
	bool regular = archive_entry_filetype(c->e) == AE_IFREG && !archive_entry_hardlink(c->e);

	if (regular)
		archive_entry_set_size(c->e, (la_int64_t)len);
	/* ARCHIVE_WARN too: it means something was altered or dropped. */
	if (archive_write_header(c->a, c->e) != ARCHIVE_OK)
		die_archive(c, "writing header of");
	if (regular && len > 0)
		write_data(c, data, len);
}

static void add_dir(struct ctx *c, const char *path, unsigned perm)
{
	entry_begin(c, path, AE_IFDIR, perm);
	entry_write(c, NULL, 0);
}

static void add_file(struct ctx *c, const char *path, unsigned perm, const void *data, size_t len)
{
	entry_begin(c, path, AE_IFREG, perm);
	entry_write(c, data, len);
}

static void add_text(struct ctx *c, const char *path, unsigned perm, const char *text)
{
	add_file(c, path, perm, text, strlen(text));
}

static void add_random(struct ctx *c, const char *path, unsigned perm, size_t len)
{
	_cleanup_free_ uint8_t *buf = random_bytes(path, 0, len);
	add_file(c, path, perm, buf, len);
}

static void add_symlink(struct ctx *c, const char *path, const char *target)
{
	entry_begin(c, path, AE_IFLNK, 0777);
	archive_entry_set_symlink(c->e, target);
	entry_write(c, NULL, 0);
}

/* A hardlink entry (typeflag '1'); it carries no data. */
static void add_hardlink(struct ctx *c, const char *path, const char *target, unsigned perm)
{
	entry_begin(c, path, AE_IFREG, perm);
	archive_entry_set_hardlink(c->e, target);
	entry_write(c, NULL, 0);
}

static void add_dev(struct ctx *c, const char *path, unsigned type, unsigned perm, unsigned major,
		    unsigned minor, int64_t gid)
{
	entry_begin(c, path, type, perm);
	archive_entry_set_rdevmajor(c->e, major);
	archive_entry_set_rdevminor(c->e, minor);
	archive_entry_set_gid(c->e, gid);
	entry_write(c, NULL, 0);
}

struct region {
	uint64_t offset, length;
};

/* Feeds LEN logical bytes of a hole: the pax writer skips them. */
static void feed_hole(struct ctx *c, uint64_t len)
{
	/* Not const: keeps the 4 MiB in .bss rather than in the binary. */
	static uint8_t zeros[ZERO_CHUNK];

	while (len > 0) {
		size_t n = (size_t)MIN(len, (uint64_t)sizeof(zeros));
		write_data(c, zeros, n);
		len -= n;
	}
}

/* A sparse regular file of apparent SIZE whose data is only REGIONS (sorted,
 * non-overlapping), each filled with pseudo-random bytes. */
static void write_sparse(struct ctx *c, const char *path, unsigned perm, uint64_t size,
			 const struct region *regions, size_t n_regions)
{
	uint64_t pos = 0;

	entry_begin(c, path, AE_IFREG, perm);
	archive_entry_set_size(c->e, (la_int64_t)size);
	for (size_t i = 0; i < n_regions; i++)
		archive_entry_sparse_add_entry(c->e, (la_int64_t)regions[i].offset,
					       (la_int64_t)regions[i].length);
	if (archive_write_header(c->a, c->e) != ARCHIVE_OK)
		die_archive(c, "writing header of");

	for (size_t i = 0; i < n_regions; i++) {
		_cleanup_free_ uint8_t *buf =
			random_bytes(path, regions[i].offset, (size_t)regions[i].length);

		feed_hole(c, regions[i].offset - pos);
		write_data(c, buf, (size_t)regions[i].length);
		pos = regions[i].offset + regions[i].length;
	}
	/* A trailing hole needs no feeding: the map ends at the last region
	 * and GNU.sparse.realsize carries the apparent size. */
}

/* --- kinds -------------------------------------------------------------- */

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
	/* No ./run/sock: tar has no socket type (see the top of the file). */

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

static void kind_full(struct ctx *c) { full_entries(c, true); }

/* What Raspberry Pi OS Lite brings that a farm node must not run, as
 * pi-gen leaves it (trixie and bookworm): sshd disabled (no enable links),
 * NetworkManager enabled, the user wizard enabled and getty@tty1 disabled
 * (userconf-pi's rename-user), cloud-init, rpi-swap and dphys-swapfile,
 * first-boot units of raspberrypi-sys-mods, a plain resolv.conf and no
 * systemd-resolved. Unit files are stand-ins; links are where systemctl
 * enable puts them. */
static void kind_pios(struct ctx *c)
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
static void kind_full_amd64(struct ctx *c)
{
	full_arch = "amd64";
	kind_full(c);
}

static void kind_traversal(struct ctx *c)
{
	add_dir(c, "./etc/", 0755);
	add_text(c, "../escape", 0644, "escaped\n");
}

static void kind_traversal_inner(struct ctx *c)
{
	add_dir(c, "./etc/", 0755);
	add_text(c, "etc/../../escape", 0644, "escaped\n");
}

static void kind_absolute(struct ctx *c)
{
	add_text(c, "/etc/passwd", 0644, "root:x:0:0:root:/root:/bin/sh\n");
}

static void kind_symlink_parent(struct ctx *c)
{
	add_dir(c, "./etc/", 0755);
	add_symlink(c, "./evil", "/tmp");
	add_text(c, "./evil/owned", 0644, "owned\n");
}

/* The symlink two levels above the entry, whose parents farm-image would
 * create through it. */
static void kind_symlink_ancestor(struct ctx *c)
{
	add_dir(c, "./etc/", 0755);
	add_symlink(c, "./evil", "/tmp");
	add_text(c, "./evil/deeper/owned", 0644, "owned\n");
}

static void kind_hardlink_missing(struct ctx *c)
{
	add_dir(c, "./etc/", 0755);
	add_hardlink(c, "./etc/a", "./etc/nothing", 0644);
}

static void kind_hardlink_self(struct ctx *c)
{
	add_dir(c, "./etc/", 0755);
	add_hardlink(c, "./etc/a", "./etc/a", 0644);
}

static void kind_hardlink_later(struct ctx *c)
{
	add_hardlink(c, "./a", "./b", 0644);
	add_text(c, "./b", 0644, "b\n");
}

static void kind_hardlink_dir(struct ctx *c)
{
	add_dir(c, "./d/", 0755);
	add_hardlink(c, "./x", "./d", 0755);
}

static void kind_duplicate(struct ctx *c)
{
	add_dir(c, "./etc/", 0755);
	add_text(c, "./etc/a", 0644, "first\n");
	add_text(c, "./etc/a", 0644, "second version\n");
}

static void kind_device_outside_dev(struct ctx *c)
{
	add_dir(c, "./etc/", 0755);
	add_dev(c, "./etc/null", AE_IFCHR, 0666, 1, 3, 0);
}

static void kind_long_name(struct ctx *c)
{
	char path[sizeof("./etc/") + 300];

	memcpy(path, "./etc/", 6);
	memset(path + 6, 'n', 300);
	path[306] = '\0';
	add_dir(c, "./", 0755);
	add_dir(c, "./etc/", 0755);
	add_text(c, path, 0644, "long\n");
}

static void kind_deep(struct ctx *c)
{
	char path[2 + 200 * 2 + sizeof("file")] = "./";
	size_t len = 2;

	add_dir(c, "./", 0755);
	for (unsigned i = 0; i < 200; i++) {
		memcpy(path + len, "d/", 3);
		len += 2;
		add_dir(c, path, 0755);
	}
	memcpy(path + len, "file", sizeof("file"));
	add_text(c, path, 0644, "deep\n");
}

static void kind_file_over_dir(struct ctx *c)
{
	add_dir(c, "./etc/", 0755);
	add_text(c, "./etc", 0644, "not a directory\n");
}

static void kind_overflow(struct ctx *c)
{
	static const struct region map[] = {
		{ 1024 * GiB - 4096, 4096 },
	};

	add_dir(c, "./", 0755);
	write_sparse(c, "./overflow.img", 0644, 1024 * GiB, map, ELEMENTSOF(map));
}

static void kind_bomb_count(struct ctx *c)
{
	add_dir(c, "./", 0755);
	add_dir(c, "./f/", 0755);
	for (unsigned i = 0; i < 200000; i++) {
		char path[32];
		snprintf(path, sizeof(path), "./f/%06u", i);
		add_file(c, path, 0644, NULL, 0);
	}
}

/* One more entry than a base may have, cheaply: the directory ./d/ given
 * again and again (a directory may repeat), 2,000,001 entries in all. */
static void kind_bomb_entries(struct ctx *c)
{
	add_dir(c, "./", 0755);
	for (unsigned i = 0; i < 2000000; i++)
		add_dir(c, "./d/", 0755);
}

/* Data with whole blocks of zeros in it (which the build leaves as holes):
 * ./var/zeros is 512 MiB of zeros, ./var/mixed random bytes around 3 MiB
 * of zeros, neither block-aligned. Not sparse in the tar: the zeros are
 * data there. */
static void kind_zeros(struct ctx *c)
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
static void kind_sparse_end(struct ctx *c)
{
	static const struct region map[] = {
		{ 15 * GiB - 4096, 4096 },
	};

	kind_full(c);
	add_dir(c, "./var/log/", 0755);
	write_sparse(c, "./var/log/lastlog", 0664, 15 * GiB, map, ELEMENTSOF(map));
}

static const struct kind {
	const char *name;
	void (*build)(struct ctx *c);
} kinds[] = {
	{ "full", kind_full },
	{ "full-amd64", kind_full_amd64 },
	{ "pios", kind_pios },
	{ "traversal", kind_traversal },
	{ "traversal-inner", kind_traversal_inner },
	{ "absolute", kind_absolute },
	{ "symlink-parent", kind_symlink_parent },
	{ "symlink-ancestor", kind_symlink_ancestor },
	{ "hardlink-missing", kind_hardlink_missing },
	{ "hardlink-self", kind_hardlink_self },
	{ "hardlink-later", kind_hardlink_later },
	{ "hardlink-dir", kind_hardlink_dir },
	{ "duplicate", kind_duplicate },
	{ "device-outside-dev", kind_device_outside_dev },
	{ "long-name", kind_long_name },
	{ "deep", kind_deep },
	{ "file-over-dir", kind_file_over_dir },
	{ "overflow", kind_overflow },
	{ "bomb-count", kind_bomb_count },
	{ "bomb-entries", kind_bomb_entries },
	{ "zeros", kind_zeros },
	{ "sparse-end", kind_sparse_end },
};

static bool endswith(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);
	return ls >= lx && streq(s + ls - lx, suffix);
}

static void usage(FILE *f)
{
	fputs("usage: mkarchive KIND OUTPUT   (OUTPUT: *.tar, *.gz, *.xz, *.zst or -)\n"
	      "       mkarchive list\n",
	      f);
}

int main(int argc, char **argv)
{
	const struct kind *kind = NULL;
	struct ctx c;
	const char *filter = NULL;
	bool to_stdout;

	if (argc == 2 && streq(argv[1], "list")) {
		for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
			puts(kinds[i].name);
		return 0;
	}
	if (argc == 2 && (streq(argv[1], "-h") || streq(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (argc != 3) {
		usage(stderr);
		die("expected KIND OUTPUT (or: list)");
	}
	for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
		if (streq(argv[1], kinds[i].name))
			kind = &kinds[i];
	if (!kind)
		die("unknown kind '%s' (see: mkarchive list)", argv[1]);
	if (argv[2][0] == '\0')
		die("empty output path");

	to_stdout = streq(argv[2], "-");
	if (!to_stdout) {
		if (endswith(argv[2], ".gz"))
			filter = "gzip";
		else if (endswith(argv[2], ".xz"))
			filter = "xz";
		else if (endswith(argv[2], ".zst"))
			filter = "zstd";
	}

	c.a = archive_write_new();
	c.e = archive_entry_new();
	if (!c.a || !c.e)
		die("out of memory");
	if (archive_write_set_format_pax_restricted(c.a) != ARCHIVE_OK)
		die("pax format: %s", archive_error_string(c.a));
	/* Xattrs as SCHILY.xattr.NAME only, the way GNU tar writes them: the
	 * default also adds LIBARCHIVE.xattr.NAME, which GNU tar warns about
	 * and which makes libarchive 3.6's reader report every xattr twice. */
	if (archive_write_set_format_option(c.a, "pax", "xattrheader", "SCHILY") != ARCHIVE_OK)
		die("pax xattrheader: %s", archive_error_string(c.a));
	/* Pad the end to 512-byte records whatever OUTPUT is, so that a file
	 * and stdout get the same bytes (the default pads only non-files to
	 * the 10240-byte block). */
	if (archive_write_set_bytes_in_last_block(c.a, 1) != ARCHIVE_OK)
		die("last block: %s", archive_error_string(c.a));
	if (filter) {
		if (archive_write_add_filter_by_name(c.a, filter) != ARCHIVE_OK)
			die("%s compression: %s", filter, archive_error_string(c.a));
		/* No current time in the gzip header. */
		if (streq(filter, "gzip") &&
		    archive_write_set_filter_option(c.a, "gzip", "timestamp", NULL) != ARCHIVE_OK)
			die("gzip: cannot disable the timestamp: %s", archive_error_string(c.a));
	}

	arg_output = argv[2];
	if (archive_write_open_filename(c.a, to_stdout ? NULL : arg_output) != ARCHIVE_OK)
		die("cannot open %s: %s", arg_output, archive_error_string(c.a));
	/* Only a regular file is ours to remove on failure (not /dev/null). */
	if (!to_stdout) {
		struct stat st;
		output_created = stat(arg_output, &st) == 0 && S_ISREG(st.st_mode);
	}

	kind->build(&c);

	archive_entry_clear(c.e);
	if (archive_write_close(c.a) != ARCHIVE_OK)
		die("writing %s: %s", arg_output, archive_error_string(c.a));
	archive_entry_free(c.e);
	archive_write_free(c.a);
	return 0;
}
