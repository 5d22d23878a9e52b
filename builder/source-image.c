/* SPDX-License-Identifier: MIT */
/* The disk image source: a Raspberry Pi OS (Lite) image, raw or compressed,
 * read without mounting and without root: the MBR through libfdisk, the
 * ext4 root (p2) through source-ext4.c, the FAT bootfs (p1) through
 * source-fat.c.
 *
 * Entries come in a fixed order, so that builds are reproducible: the ext4
 * tree depth first in byte order of names, each directory before its
 * contents, a regular file's first name as the file and its later names as
 * hardlinks to it (other types, which stream.c does not link, are reported
 * once per name); then the bootfs below boot/firmware/, where Raspberry Pi
 * OS mounts it, as root:root 0644 files and 0755 directories. What the ext4
 * root holds below boot/firmware is hidden by that mount on a running
 * system and is not reported; neither is /lost+found, which belongs to the
 * filesystem.
 *
 * The image is untrusted: the ext4 walk (inode numbers, directory loops,
 * depth, extent maps, symlinks) is checked by source-ext4.c, every FAT chain
 * by source-fat.c, the FAT tree's loops and depth here; the rest is
 * stream.c's. A compressed image is first decompressed (libarchive, raw
 * format) into an unnamed temporary file in $TMPDIR, zero blocks left as
 * holes: source-image-file.c. */
#include "fdisk-cleanup.h"
#include "log.h"
#include "pathmap.h"
#include "source-ext4.h"
#include "source-fat.h"
#include "source-image-internal.h"

#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

#define MAX_DEPTH	64 /* path components, as stream.c */
#define MAX_DIR_ENTRIES (1u << 20)
#define BOOT_DIR	"boot/firmware"

struct boot_item {
	char *path;
	struct fatr_entry e;
};

struct image_source {
	struct source s;
	int fd;			/* the file as given */
	int img;		/* the disk image: fd, or the decompressed copy */
	struct sha256_ctx *sha; /* compressed input: hashed while decompressed */
	uint64_t hashed;
	uint8_t *buf;

	struct ext4r *ext4;
	struct pathmap *seen; /* "c<cluster>": FAT directories */

	struct fatr *fat;
	struct boot_item *boot;
	size_t n_boot, cap_boot, i_boot;
	uint64_t boot_size, boot_bytes; /* of partition 1, and of its files */

	/* The current entry and its data. */
	struct source_entry e;
	struct fatr_file bf;
	enum { DATA_NONE, DATA_EXT4, DATA_BOOT } data;
};

/* Sets the source's error (with ": strerror(ERR)" when ERR, an errno);
 * returns -ERR, or -EIO. */
static int fail(struct image_source *is, int err, const char *fmt, ...) _printf_(3, 4);
static int fail(struct image_source *is, int err, const char *fmt, ...)
{
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(is->s.error, sizeof(is->s.error), fmt, ap);
	va_end(ap);
	n = strlen(is->s.error);
	if (err)
		snprintf(is->s.error + n, sizeof(is->s.error) - n, ": %s", strerror(err));
	return err > 0 && err < 256 ? -err : -EIO;
}

/* --- The partition table ---------------------------------------------- */

/* The byte ranges of p1 (FAT) and p2 (Linux). */
static int read_mbr(struct image_source *is, uint64_t off[2], uint64_t size[2])
{
	_cleanup_(unref_context) struct fdisk_context *cxt = fdisk_new_context();
	_cleanup_(unref_table) struct fdisk_table *tb = NULL;
	const char *path = is->s.path;
	struct stat st;
	uint64_t ss;
	int r;

	if (!cxt)
		return log_error_errno(ENOMEM, "Out of memory");
	if (fstat(is->img, &st) < 0)
		return log_error_errno(errno, "%s: %m", path);
	r = fdisk_assign_device_by_fd(cxt, is->img, path, 1);
	if (r < 0)
		return log_error_errno(r, "%s: cannot read the partition table: %m", path);
	if (!fdisk_has_label(cxt))
		return log_error("%s: the disk image has no partition table", path);
	if (!fdisk_is_labeltype(cxt, FDISK_DISKLABEL_DOS))
		return log_error("%s: the disk image has a %s partition table; a Raspberry Pi OS "
				 "image has an MBR (dos) one",
				 path, fdisk_label_get_name(fdisk_get_label(cxt, NULL)));
	r = fdisk_get_partitions(cxt, &tb);
	if (r < 0)
		return log_error_errno(r, "%s: cannot read the partition table: %m", path);
	ss = fdisk_get_sector_size(cxt);
	if (fdisk_table_get_nents(tb) != 2)
		return log_error("%s: the disk image has %zu partitions; a Raspberry Pi OS image "
				 "has two: p1 FAT (bootfs) and p2 Linux (rootfs)",
				 path, fdisk_table_get_nents(tb));
	for (size_t i = 0; i < 2; i++) {
		struct fdisk_partition *pa = fdisk_table_get_partition(tb, i);
		struct fdisk_parttype *t = fdisk_partition_get_type(pa);
		unsigned code = t ? fdisk_parttype_get_code(t) : 0;
		size_t no = fdisk_partition_get_partno(pa);
		bool ok = i == 0 ? code == 0x0b || code == 0x0c || code == 0x0e : code == 0x83;

		if (no != i || !ok)
			return log_error("%s: partition %zu has type 0x%02x; a Raspberry Pi OS "
					 "image has p1 FAT (0x0b, 0x0c or 0x0e) and p2 Linux "
					 "(0x83)",
					 path, no + 1, code);
		off[i] = fdisk_partition_get_start(pa) * ss;
		size[i] = fdisk_partition_get_size(pa) * ss;
		if (off[i] + size[i] > (uint64_t)st.st_size || !size[i])
			return log_error("%s: partition %zu (bytes %llu to %llu) ends past the end "
					 "of the disk image (%llu bytes)",
					 path, i + 1, (unsigned long long)off[i],
					 (unsigned long long)(off[i] + size[i]),
					 (unsigned long long)st.st_size);
	}
	return 0;
}

/* --- The FAT bootfs ----------------------------------------------------- */

static int by_fat_name(const void *a, const void *b)
{
	return strcmp(((const struct fatr_entry *)a)->name, ((const struct fatr_entry *)b)->name);
}

/* Lists directory DIR (at PATH, DEPTH components from /) and everything
 * below it, and checks every file's cluster chain, so that a damaged FAT is
 * found before anything is written. */
static int boot_scan(struct image_source *is, const struct fatr_entry *dir, const char *path,
		     unsigned depth)
{
	const char *rel = path + strlen(BOOT_DIR);
	struct fatr_entry *v;
	struct fatr_file ff;
	size_t n;
	int r = fatr_readdir(is->fat, dir, &v, &n);

	if (r < 0)
		return log_error("%s: the FAT filesystem in partition 1 is damaged: directory "
				 "'%s': %s",
				 is->s.path, *rel ? rel + 1 : "/", fatr_last_error(is->fat));
	if (n)
		qsort(v, n, sizeof(*v), by_fat_name);
	for (size_t i = 0; i < n && r >= 0; i++) {
		_cleanup_free_ char *child = xasprintf("%s/%s", path, v[i].name);
		const char *crel = child + strlen(BOOT_DIR) + 1;
		char key[16];

		snprintf(key, sizeof(key), "c%u", v[i].cluster);
		if (depth + 1 > MAX_DEPTH)
			r = log_error("%s: partition 1: '%s' is deeper than %d directories",
				      is->s.path, crel, MAX_DEPTH);
		else if (v[i].dir && pathmap_get(is->seen, key, NULL))
			r = log_error("%s: the FAT filesystem in partition 1 is damaged: directory "
				      "'%s' loops back to cluster %u",
				      is->s.path, crel, v[i].cluster);
		else if (!v[i].dir && fatr_file_open(is->fat, &v[i], &ff) < 0)
			r = log_error("%s: the FAT filesystem in partition 1 is damaged: file "
				      "'%s': %s",
				      is->s.path, crel, fatr_last_error(is->fat));
		else if ((is->boot_bytes += v[i].size) > is->boot_size ||
			 is->n_boot == MAX_DIR_ENTRIES)
			r = log_error("%s: the FAT filesystem in partition 1 is damaged: its files "
				      "claim more than the partition holds (cross-linked clusters)",
				      is->s.path);
		if (r < 0)
			break;
		ARRAY_PUSH(is->boot, is->n_boot, is->cap_boot,
			   ((struct boot_item){ xstrdup(child), v[i] }));
		is->boot[is->n_boot - 1].e.name = NULL; /* freed with V */
		is->s.total += v[i].size;
		if (v[i].dir) {
			pathmap_put(is->seen, key, 1);
			r = boot_scan(is, &v[i], child, depth + 1);
		}
	}
	fatr_entries_free(v, n);
	return r;
}

static int boot_next(struct image_source *is)
{
	const struct boot_item *b;

	if (is->i_boot == is->n_boot)
		return 0;
	b = &is->boot[is->i_boot++];
	is->e = (struct source_entry){
		.path = b->path,
		.mode = b->e.dir ? S_IFDIR | 0755 : S_IFREG | 0644,
		.mtime = b->e.mtime,
		.size_known = !b->e.dir,
		.size = b->e.size,
	};
	if (b->e.dir)
		return 1;
	if (fatr_file_open(is->fat, &b->e, &is->bf) < 0)
		return fail(is, 0, "entry '%s': %s", b->path, fatr_last_error(is->fat));
	is->data = DATA_BOOT;
	return 1;
}

/* --- Source operations -------------------------------------------------- */

/* Sets the source's error from the ext4 reader's; returns R. */
static int ext4_fail(struct image_source *is, int r)
{
	snprintf(is->s.error, sizeof(is->s.error), "%s", ext4r_last_error(is->ext4));
	return r;
}

/* The next ext4 entry: 1, 0 when the tree is done, or -errno. */
static int ext4_next(struct image_source *is)
{
	const struct ext4r_entry *x;
	int r = ext4r_next(is->ext4, &x);

	if (r <= 0)
		return r < 0 ? ext4_fail(is, r) : 0;
	is->e = (struct source_entry){
		.path = x->path,
		.mode = x->mode,
		.uid = x->uid,
		.gid = x->gid,
		.mtime = x->mtime,
		.size_known = S_ISREG(x->mode) && !x->hardlink,
		.size = x->size,
		.symlink = x->symlink,
		.hardlink = x->hardlink,
		.rdev_major = x->rdev_major,
		.rdev_minor = x->rdev_minor,
		.xattrs = x->xattrs,
		.n_xattrs = x->n_xattrs,
		.regions = x->regions,
		.n_regions = x->n_regions,
	};
	is->data = DATA_EXT4;
	return 1;
}

static int img_next(struct source *s, struct source_entry **ret)
{
	struct image_source *is = (struct image_source *)s;
	int r;

	is->data = DATA_NONE;
	s->warned = false;
	r = ext4_next(is);
	if (r == 0)
		r = boot_next(is);
	if (r > 0)
		*ret = &is->e;
	return r;
}

static int read_boot(struct image_source *is, const void **buf, size_t *len, uint64_t *offset)
{
	ssize_t n;

	*offset = is->bf.pos;
	n = fatr_file_read(&is->bf, is->buf, CHUNK);
	if (n < 0)
		return fail(is, 0, "%s", fatr_last_error(is->fat));
	*buf = is->buf;
	*len = (size_t)n;
	is->s.done += (uint64_t)n;
	return n > 0;
}

static int img_read(struct source *s, const void **buf, size_t *len, uint64_t *offset)
{
	struct image_source *is = (struct image_source *)s;
	ssize_t n;

	if (is->data == DATA_BOOT)
		return read_boot(is, buf, len, offset);
	if (is->data != DATA_EXT4)
		return 0;
	n = ext4r_read(is->ext4, is->buf, CHUNK, offset);
	if (n <= 0)
		return n < 0 ? ext4_fail(is, (int)n) : 0;
	*buf = is->buf;
	*len = (size_t)n;
	s->done += (uint64_t)n;
	s->expanded = s->done;
	return 1;
}

/* Hashes the file as given: what decompression did not read, or all of a
 * raw image (sequentially, after the walk). */
static int img_finish(struct source *s)
{
	struct image_source *is = (struct image_source *)s;
	uint8_t digest[SHA256_LEN];

	if (!is->sha) {
		is->sha = sha256_new();
		is->hashed = 0;
	}
	for (;;) {
		ssize_t n = pread(is->fd, is->buf, CHUNK, (off_t)is->hashed);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(is, errno, "cannot read the disk image to hash it");
		if (n == 0)
			break;
		sha256_update(is->sha, is->buf, (size_t)n);
		is->hashed += (uint64_t)n;
	}
	sha256_final(is->sha, digest);
	is->sha = NULL;
	hex_encode(digest, SHA256_LEN, s->sha256);
	s->done = s->total = is->hashed;
	return 0;
}

static void img_free(struct source *s)
{
	struct image_source *is = (struct image_source *)s;

	ext4r_free(is->ext4);
	if (is->fat)
		fatr_free(is->fat);
	for (size_t i = 0; i < is->n_boot; i++)
		free(is->boot[i].path);
	free(is->boot);
	pathmap_free(is->seen);
	free(is->buf);
	sha256_free(is->sha);
	if (is->img >= 0 && is->img != is->fd)
		close(is->img);
	if (is->fd >= 0)
		close(is->fd);
}

static const struct source_ops image_ops = {
	.next = img_next,
	.read = img_read,
	.finish = img_finish,
	.free = img_free,
};

static int open_ext4(struct image_source *is, uint64_t off, uint64_t size)
{
	int r = ext4r_open(is->img, off, size, &is->ext4);

	if (r == -EFBIG)
		return log_error("%s: the ext4 filesystem in partition 2 is larger than the "
				 "partition",
				 is->s.path);
	if (r == -EINVAL)
		return log_error("%s: cannot read the ext4 filesystem in partition 2: %s",
				 is->s.path, ext4r_last_error(is->ext4));
	if (r < 0)
		return log_error_errno(r, "%s: %m", is->s.path);
	/* The bootfs is mounted over boot/firmware: what is below is hidden. */
	ext4r_prune(is->ext4, BOOT_DIR);
	if (ext4r_needs_recovery(is->ext4))
		log_warning("%s: the ext4 filesystem in partition 2 was not cleanly unmounted; "
			    "its journal is not replayed",
			    is->s.path);
	is->s.total += ext4r_used_bytes(is->ext4);
	return 0;
}

static int open_image(struct image_source *is)
{
	struct fatr_entry root = { .dir = true };
	uint64_t off[2], size[2];
	char key[16];
	ssize_t n;
	int r;

	n = pread(is->fd, is->buf, PEEK, 0);
	if (n < 0)
		return log_error_errno(errno, "%s: %m", is->s.path);
	if (image_compressed(is->buf, (size_t)n)) {
		struct image_file f = { .path = is->s.path,
					.fd = is->fd,
					.buf = is->buf,
					.img = &is->img,
					.hashed = &is->hashed };

		f.sha = is->sha = sha256_new();
		r = image_decompress(&f);
		if (r < 0)
			return r;
	}
	r = read_mbr(is, off, size);
	if (r < 0)
		return r;
	r = open_ext4(is, off[1], size[1]);
	if (r < 0)
		return r;
	is->boot_size = size[0];
	r = fatr_open(is->img, off[0], size[0], &is->fat);
	if (r < 0)
		return log_error("%s: cannot read the FAT filesystem in partition 1: %s",
				 is->s.path, fatr_last_error(is->fat));
	root.cluster = fatr_root_cluster(is->fat);
	snprintf(key, sizeof(key), "c%u", root.cluster); /* 0: FAT12/16's root */
	pathmap_put(is->seen, key, 1);
	return boot_scan(is, root.cluster ? &root : NULL, BOOT_DIR, 2);
}

int source_image_open(const char *path, int fd, struct source **ret)
{
	struct image_source *is = xcalloc(1, sizeof(*is));
	int r;

	is->s.ops = &image_ops;
	is->s.path = xstrdup(path);
	is->s.kind = "disk image";
	is->fd = is->img = fd;
	is->buf = xmalloc(CHUNK);
	is->seen = pathmap_new();
	r = open_image(is);
	if (r < 0) {
		source_free(&is->s);
		*ret = NULL;
		return r;
	}
	*ret = &is->s;
	return 0;
}
