/* SPDX-License-Identifier: MIT */
/* Partition tables for flash, read with libfdisk from a copy of the table's
 * sectors in memory (a memfd as large as the disk, holding only those
 * sectors): so the image's table is read from the first bytes of its stream,
 * and a disk whose GPT headers carry the mark of an interrupted reimage is
 * read as it will be once the mark is taken off, without writing it. */
#include "flash.h"
#include "fdisk-cleanup.h"
#include "log.h"
#include "util.h"

#include <fcntl.h>
#include <sys/mman.h>

#define GPT_SIG	    "EFI PART"
#define SHADOW_HEAD (1 * MiB)
#define BLOCK	    4096

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void upper(char *s)
{
	for (; *s; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 'a' + 'A');
}

/* Reads the table of the shadow file SHADOW (sectors of SS) into T. */
static int read_shadow(int shadow, unsigned ss, struct flash_table *t)
{
	_cleanup_(unref_context) struct fdisk_context *cxt = fdisk_new_context();
	_cleanup_(unref_table) struct fdisk_table *tb = NULL;
	struct fdisk_iter *it = NULL;
	struct fdisk_partition *pa;
	char path[64];
	char *id = NULL;
	size_t cap = 0;
	int r;

	if (!cxt)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", shadow);
	r = fdisk_save_user_sector_size(cxt, ss, ss);
	if (r >= 0)
		r = fdisk_assign_device(cxt, path, 1);
	if (r < 0)
		return r;
	fdisk_disable_dialogs(cxt, 1);
	t->ss = ss;
	if (!fdisk_has_label(cxt))
		return 0;
	snprintf(t->label, sizeof(t->label), "%s",
		 fdisk_label_get_name(fdisk_get_label(cxt, NULL)));
	if (fdisk_get_disklabel_id(cxt, &id) == 0 && id) {
		snprintf(t->disk_id, sizeof(t->disk_id), "%s", id);
		upper(t->disk_id);
	}
	free(id);
	t->first_usable = fdisk_get_first_lba(cxt) * ss;
	t->end_usable = (fdisk_get_last_lba(cxt) + 1) * ss;
	r = fdisk_get_partitions(cxt, &tb);
	if (r < 0)
		return r;
	it = fdisk_new_iter(FDISK_ITER_FORWARD);
	while (fdisk_table_next_partition(tb, it, &pa) == 0) {
		struct flash_part p = { 0 };
		struct fdisk_parttype *type = fdisk_partition_get_type(pa);
		if (!fdisk_partition_has_start(pa) || !fdisk_partition_has_size(pa))
			continue;
		p.partno = (unsigned)fdisk_partition_get_partno(pa) + 1;
		p.start = fdisk_partition_get_start(pa) * ss;
		p.size = fdisk_partition_get_size(pa) * ss;
		snprintf(p.name, sizeof(p.name), "%s",
			 fdisk_partition_get_name(pa) ? fdisk_partition_get_name(pa) : "");
		snprintf(p.uuid, sizeof(p.uuid), "%s",
			 fdisk_partition_get_uuid(pa) ? fdisk_partition_get_uuid(pa) : "");
		upper(p.uuid);
		if (type) {
			snprintf(p.type, sizeof(p.type), "%s",
				 fdisk_parttype_get_string(type) ? fdisk_parttype_get_string(type)
								 : "");
			upper(p.type);
			snprintf(p.type_name, sizeof(p.type_name), "%s",
				 fdisk_parttype_get_name(type) ? fdisk_parttype_get_name(type)
							       : "");
		}
		ARRAY_PUSH(t->parts, t->n_parts, cap, p);
	}
	fdisk_free_iter(it);
	return 0;
}

static int shadow_new(uint64_t size)
{
	int fd = memfd_create("farm-flash-table", MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* The GPT header's signature at BUF: 1 "EFI PART", 2 the mark, 0 neither. */
static int header_kind(const uint8_t *buf)
{
	if (memcmp(buf, GPT_SIG, 8) == 0)
		return 1;
	if (memcmp(buf, FLASH_GPT_MARK, 8) == 0)
		return 2;
	return 0;
}

int flash_table_of_image(const void *head, size_t head_len, uint64_t size, struct flash_table *t)
{
	_cleanup_close_ int shadow = -1;
	const uint8_t *h = head;
	unsigned ss = 0;
	int r;

	*t = (struct flash_table){ 0 };
	if (head_len >= 520 && header_kind(h + 512) == 1)
		ss = 512;
	else if (head_len >= 4104 && header_kind(h + 4096) == 1)
		ss = 4096;
	else
		return -ENOMSG;
	shadow = shadow_new(size);
	if (shadow < 0)
		return shadow;
	r = pwrite_full(shadow, head, head_len, 0);
	if (r < 0)
		return r;
	r = read_shadow(shadow, ss, t);
	if (r >= 0 && strcmp(t->label, "gpt") != 0)
		r = -ENOMSG;
	if (r < 0) {
		flash_table_free(t);
		return r;
	}
	t->primary_header = ss;
	t->backup_header = le64(h + ss + 32) * ss;
	return 0;
}

/* Copies LEN bytes at OFF of the disk into the shadow, taking the mark off
 * a GPT header found at HDR (an offset inside, or UINT64_MAX). */
static int copy_piece(int fd, int shadow, uint64_t off, size_t len, uint64_t hdr, bool *marked)
{
	_cleanup_free_ uint8_t *buf = xmalloc(len);
	int r = pread_full(fd, buf, len, off);

	if (r < 0)
		return r;
	if (hdr >= off && hdr + 8 <= off + len && header_kind(buf + (hdr - off)) == 2) {
		memcpy(buf + (hdr - off), GPT_SIG, 8);
		*marked = true;
	}
	return pwrite_full(shadow, buf, len, off);
}

int flash_table_of_disk(int fd, uint64_t size, unsigned lss, struct flash_table *t)
{
	_cleanup_close_ int shadow = -1;
	uint8_t hdr[512];
	uint64_t alt = 0, tail_off, head_len = MIN((uint64_t)SHADOW_HEAD, size);
	bool marked = false;
	int kind, r;

	*t = (struct flash_table){ 0 };
	if (size < 2 * (uint64_t)lss)
		return 0;
	r = pread_full(fd, hdr, sizeof(hdr), lss);
	if (r < 0)
		return r;
	kind = header_kind(hdr);
	if (kind)
		alt = le64(hdr + 32) * lss;
	shadow = shadow_new(size);
	if (shadow < 0)
		return shadow;
	r = copy_piece(fd, shadow, 0, (size_t)head_len, lss, &marked);
	/* The backup: at the end of the disk, and where the primary says. */
	tail_off = size > 64 * (uint64_t)lss ? size - 64 * (uint64_t)lss : 0;
	if (r >= 0 && tail_off >= head_len)
		r = copy_piece(fd, shadow, tail_off, (size_t)(size - tail_off), size - lss,
			       &marked);
	if (r >= 0 && kind && alt >= head_len && alt + lss <= size &&
	    (alt < tail_off || alt >= size)) {
		uint64_t from = alt >= 32 * (uint64_t)lss ? alt - 32 * (uint64_t)lss : 0;
		r = copy_piece(fd, shadow, from, (size_t)(alt + lss - from), alt, &marked);
	}
	if (r < 0)
		return r;
	r = read_shadow(shadow, lss, t);
	if (r < 0) {
		flash_table_free(t);
		return r;
	}
	t->marked = marked;
	if (streq(t->label, "gpt")) {
		t->primary_header = lss;
		t->backup_header = alt ? alt : size - lss;
	}
	return 0;
}

void flash_table_free(struct flash_table *t)
{
	free(t->parts);
	*t = (struct flash_table){ 0 };
}

const struct flash_part *flash_table_find(const struct flash_table *t, const char *name)
{
	for (size_t i = 0; i < t->n_parts; i++)
		if (streq(t->parts[i].name, name))
			return &t->parts[i];
	return NULL;
}

/* The disk through the page cache (small, unaligned writes), as a new fd. */
static int buffered(int fd)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	fd = open(path, O_RDWR | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int flash_gpt_mark(int fd, const struct flash_table *t, bool mark)
{
	_cleanup_close_ int bfd = buffered(fd);
	const uint64_t at[2] = { t->primary_header, t->backup_header };
	const char *from = mark ? GPT_SIG : FLASH_GPT_MARK, *to = mark ? FLASH_GPT_MARK : GPT_SIG;
	char sig[8];
	int r;

	if (bfd < 0)
		return bfd;
	/* The backup first when the mark goes, the primary first when it
	 * comes: the primary is what firmware reads first. */
	for (int k = 0; k < 2; k++) {
		uint64_t off = at[mark ? k : 1 - k];
		if (!off)
			continue;
		r = pread_full(bfd, sig, 8, off);
		if (r < 0)
			return r;
		if (memcmp(sig, from, 8) != 0)
			continue;
		r = pwrite_full(bfd, to, 8, off);
		if (r < 0)
			return r;
		if (fdatasync(bfd) < 0)
			return -errno;
	}
	/* Read back: what a firmware would find. */
	for (int k = 0; k < 2; k++) {
		if (!at[k])
			continue;
		posix_fadvise(bfd, (off_t)(at[k] / BLOCK * BLOCK), BLOCK, POSIX_FADV_DONTNEED);
		r = pread_full(bfd, sig, 8, at[k]);
		if (r < 0)
			return r;
		if (k == 0 && memcmp(sig, to, 8) != 0)
			return -EIO;
	}
	return 0;
}

int flash_gpt_wipe(int fd, uint64_t size, unsigned lss, uint64_t head_len,
		   const struct flash_table *old)
{
	_cleanup_close_ int bfd = buffered(fd);
	static const uint8_t zero[BLOCK];
	uint64_t tail = size > 34 * (uint64_t)lss ? size - 34 * (uint64_t)lss : 0;
	int r = 0;

	if (bfd < 0)
		return bfd;
	for (uint64_t o = 0; r >= 0 && o < MIN(head_len, size); o += BLOCK)
		r = pwrite_full(bfd, zero, (size_t)MIN((uint64_t)BLOCK, MIN(head_len, size) - o),
				o);
	for (uint64_t o = MAX(tail, head_len); r >= 0 && o < size; o += BLOCK)
		r = pwrite_full(bfd, zero, (size_t)MIN((uint64_t)BLOCK, size - o), o);
	if (r >= 0 && old && old->backup_header >= head_len && old->backup_header + lss <= size)
		r = pwrite_full(bfd, zero, lss, old->backup_header);
	if (r < 0)
		return r;
	return fdatasync(bfd) < 0 ? -errno : 0;
}
