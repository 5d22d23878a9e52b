/* SPDX-License-Identifier: MIT */
/* mkrpiimg: writes a disk image in the layout of Raspberry Pi OS Lite from
 * a rootfs archive, without root, for the tests of the disk image source.
 *
 *   mkrpiimg ARCHIVE OUT.img
 *
 * MBR (libfdisk, "dos" label, disk id 0x6661726d):
 *   p1  sectors 8192.., 512 MiB, type 0x0c, FAT32 "BOOTFS": the archive's
 *       boot/firmware/ files and directories (builder/fat.c)
 *   p2  right after p1, 256 MiB, type 0x83, ext4 "rootfs": everything else,
 *       with boot/firmware itself an empty directory (builder/ext4.c)
 * Owners, modes, mtimes, xattrs, device numbers, symlinks, hardlinks and
 * holes go to the ext4 root as the archive has them (times are not
 * clamped). The output is the same bytes on every run. Errors print
 * "mkrpiimg: ...", exit 1 and remove OUT. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <libfdisk/libfdisk.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "ext4.h"
#include "fat.h"
#include "util.h"

#define SECTOR	 512
#define P1_START (4 * MiB)
#define P1_SIZE	 (512 * MiB)
#define P2_START (P1_START + P1_SIZE)
#define P2_SIZE	 (256 * MiB)
#define BOOT	 "boot/firmware/"

static const char *arg_out;
static bool created;

static _Noreturn _printf_(1, 2) void die(const char *fmt, ...)
{
	va_list ap;

	fputs("mkrpiimg: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (created)
		(void)unlink(arg_out);
	exit(1);
}

static void add_partition(struct fdisk_context *cxt, size_t no, uint64_t start, uint64_t size,
			  unsigned code)
{
	struct fdisk_partition *pa = fdisk_new_partition();
	struct fdisk_parttype *t =
		fdisk_label_get_parttype_from_code(fdisk_get_label(cxt, NULL), code);
	int r;

	if (!pa || !t)
		die("libfdisk: no partition or type 0x%02x", code);
	r = fdisk_partition_set_partno(pa, no);
	if (r >= 0)
		r = fdisk_partition_set_start(pa, start / SECTOR);
	if (r >= 0)
		r = fdisk_partition_set_size(pa, size / SECTOR);
	if (r >= 0)
		r = fdisk_partition_set_type(pa, t);
	if (r >= 0)
		r = fdisk_add_partition(cxt, pa, NULL);
	if (r < 0)
		die("cannot add partition %zu: %s", no + 1, strerror(-r));
	fdisk_unref_partition(pa);
}

static void write_mbr(int fd)
{
	struct fdisk_context *cxt = fdisk_new_context();
	int r;

	if (!cxt)
		die("out of memory");
	r = fdisk_assign_device_by_fd(cxt, fd, arg_out, 0);
	if (r >= 0) {
		fdisk_disable_dialogs(cxt, 1);
		r = fdisk_create_disklabel(cxt, "dos");
	}
	if (r >= 0)
		r = fdisk_set_disklabel_id_from_string(cxt, "0x6661726d");
	if (r < 0)
		die("%s: cannot create the MBR: %s", arg_out, strerror(-r));
	add_partition(cxt, 0, P1_START, P1_SIZE, 0x0c);
	add_partition(cxt, 1, P2_START, P2_SIZE, 0x83);
	r = fdisk_write_disklabel(cxt);
	if (r < 0)
		die("%s: cannot write the MBR: %s", arg_out, strerror(-r));
	fdisk_deassign_device(cxt, 1);
	fdisk_unref_context(cxt);
}

/* "./a/b/" -> "a/b"; "./" -> "". */
static char *clean(const char *p)
{
	size_t n;

	while (startswith(p, "./"))
		p += 2;
	n = strlen(p);
	while (n && p[n - 1] == '/')
		n--;
	return strndup(p, n);
}

static void boot_file(struct archive *a, struct fat_writer *fat, const char *rel,
		      struct archive_entry *ae)
{
	static const uint8_t zeros[4096];
	uint64_t size = (uint64_t)archive_entry_size(ae), pos = 0;
	struct fat_file *f;
	const void *buf;
	size_t len;
	la_int64_t off;
	int r;

	r = fat_file_open(fat, rel, size, archive_entry_mtime(ae), &f);
	if (r < 0)
		die("boot file %s: %s", rel, strerror(-r));
	while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
		for (; pos < (uint64_t)off; pos += MIN(sizeof(zeros), (uint64_t)off - pos))
			fat_file_write(f, zeros, MIN(sizeof(zeros), (uint64_t)off - pos));
		fat_file_write(f, buf, len);
		pos += len;
	}
	for (; pos < size; pos += MIN(sizeof(zeros), size - pos))
		fat_file_write(f, zeros, MIN(sizeof(zeros), size - pos));
	if (r != ARCHIVE_EOF || fat_file_close(f) < 0)
		die("boot file %s: cannot copy it", rel);
}

static void root_file(struct archive *a, struct ext4_writer *w, const char *path,
		      struct archive_entry *ae, const struct ext4_meta *m)
{
	_cleanup_free_ struct ext4_region *regions = NULL;
	int n = archive_entry_sparse_reset(ae), r;
	const void *buf;
	size_t len;
	la_int64_t off;

	if (n > 0) {
		regions = xcalloc((size_t)n, sizeof(*regions));
		for (int i = 0; i < n; i++) {
			la_int64_t o, l;
			archive_entry_sparse_next(ae, &o, &l);
			regions[i] = (struct ext4_region){ (uint64_t)o, (uint64_t)l };
		}
	}
	r = ext4_file_begin(w, path, m, (uint64_t)archive_entry_size(ae), regions,
			    n > 0 ? (size_t)n : 0);
	while (r >= 0 && (r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK)
		r = len ? ext4_file_write(w, (uint64_t)off, buf, len) : 0;
	if (r == ARCHIVE_EOF && ext4_file_end(w) < 0)
		r = -EIO;
	if (r != ARCHIVE_EOF)
		die("%s: %s", path, r < 0 ? ext4_last_error(w) : archive_error_string(a));
}

static void root_entry(struct archive *a, struct ext4_writer *w, const char *path,
		       struct archive_entry *ae)
{
	struct ext4_xattr xattrs[16];
	struct ext4_meta m = {
		.mode = archive_entry_mode(ae),
		.uid = (uint32_t)archive_entry_uid(ae),
		.gid = (uint32_t)archive_entry_gid(ae),
		.mtime = archive_entry_mtime(ae),
		.rdev_major = archive_entry_rdevmajor(ae),
		.rdev_minor = archive_entry_rdevminor(ae),
		.xattrs = xattrs,
	};
	const char *name;
	const void *value;
	size_t size;
	int r;

	archive_entry_xattr_reset(ae);
	while (m.n_xattrs < ELEMENTSOF(xattrs) &&
	       archive_entry_xattr_next(ae, &name, &value, &size) == ARCHIVE_OK)
		xattrs[m.n_xattrs++] = (struct ext4_xattr){ name, value, size };
	if (archive_entry_hardlink(ae)) {
		_cleanup_free_ char *target = clean(archive_entry_hardlink(ae));
		r = ext4_hardlink(w, path, target);
	} else if (S_ISDIR(m.mode)) {
		r = ext4_mkdir(w, path, &m);
	} else if (S_ISREG(m.mode)) {
		root_file(a, w, path, ae, &m);
		r = 0;
	} else if (S_ISLNK(m.mode)) {
		r = ext4_symlink(w, path, archive_entry_symlink(ae), &m);
	} else {
		r = ext4_mknod(w, path, &m);
	}
	if (r < 0)
		die("%s: %s", path, ext4_last_error(w));
}

int main(int argc, char **argv)
{
	const char *epoch_s = getenv("SOURCE_DATE_EPOCH");
	time_t epoch = epoch_s ? (time_t)strtoll(epoch_s, NULL, 10) : 1700000000;
	struct fat_params fp = {
		.offset = P1_START,
		.size = P1_SIZE,
		.serial = 0x6661726d,
		.label = "bootfs",
		.mtime = epoch,
	};
	struct ext4_params ep = {
		.offset = P2_START,
		.size = P2_SIZE,
		.label = "rootfs",
		.epoch = epoch,
		.uuid = "mkrpiimg-rootfs",
		.hash_seed = "mkrpiimg-seed",
	};
	struct archive_entry *ae;
	struct fat_writer *fat;
	struct ext4_writer *w;
	struct archive *a;
	uint64_t size;
	int fd, r;

	if (argc != 3) {
		fprintf(stderr, "usage: mkrpiimg ARCHIVE OUT.img\n");
		return 2;
	}
	arg_out = argv[2];
	fd = open(arg_out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die("%s: %m", arg_out);
	created = true;
	if (ftruncate(fd, (off_t)(P2_START + P2_SIZE)) < 0)
		die("%s: %m", arg_out);
	write_mbr(fd);
	r = fat_new(fd, &fp, &fat);
	if (r < 0)
		die("cannot create the FAT: %s", strerror(-r));
	ep.path = arg_out;
	ep.fd = fd;
	if (ext4_new(&ep, &w) < 0)
		die("cannot create the ext4: %s", ext4_last_error(w));

	a = archive_read_new();
	archive_read_support_filter_all(a);
	archive_read_support_format_all(a);
	if (archive_read_open_filename(a, argv[1], 1 << 20) != ARCHIVE_OK)
		die("%s: %s", argv[1], archive_error_string(a));
	while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		_cleanup_free_ char *path = clean(archive_entry_pathname(ae));
		const char *rel = startswith(path, BOOT) ? path + strlen(BOOT) : NULL;

		if (!rel) {
			root_entry(a, w, path, ae);
		} else if (S_ISDIR(archive_entry_mode(ae))) {
			r = fat_mkdir(fat, rel, archive_entry_mtime(ae));
			if (r < 0)
				die("boot directory %s: %s", rel, strerror(-r));
		} else if (S_ISREG(archive_entry_mode(ae)) && !archive_entry_hardlink(ae)) {
			boot_file(a, fat, rel, ae);
		} else {
			die("%s: only files and directories can go to the FAT", path);
		}
	}
	if (r != ARCHIVE_EOF)
		die("%s: %s", argv[1], archive_error_string(a));
	archive_read_free(a);
	r = fat_finish(fat);
	if (r < 0)
		die("cannot write the FAT: %s", strerror(-r));
	fat_free(fat);
	if (ext4_finish(w, 0, &size) < 0)
		die("cannot write the ext4: %s", ext4_last_error(w));
	ext4_free(w);
	if (close(fd) < 0)
		die("%s: %m", arg_out);
	return 0;
}
