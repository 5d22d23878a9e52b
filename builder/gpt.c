/* SPDX-License-Identifier: MIT */
#include "gpt.h"
#include "fdisk-cleanup.h"
#include "hash.h"
#include "log.h"

#include <sys/mman.h>

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U /* linux/memfd.h since Linux 6.3 */
#endif

#define COPY_CHUNK (64 * 1024)

/* Closes the scratch label without fdisk_deassign_device(), which fsyncs
 * (and with nosync=0 syncs every filesystem). */
static void close_without_sync(struct fdisk_context **c)
{
	if (*c)
		fdisk_unref_context(*c);
}

static int add_partition(struct fdisk_context *cxt, const char *name, const struct plan *p,
			 size_t i)
{
	const struct plan_partition *pp = &p->part[i];
	_cleanup_(unref_partition) struct fdisk_partition *pa = fdisk_new_partition();
	_cleanup_(unref_parttype) struct fdisk_parttype *type = NULL;
	char uuid[37];
	int r;

	if (!pa)
		return log_error_errno(ENOMEM, "Out of memory");
	type = fdisk_label_parse_parttype(fdisk_get_label(cxt, NULL), pp->type_guid);
	if (!type)
		return log_error("%s: libfdisk does not know partition type %s", name,
				 pp->type_guid);
	uuid_format(pp->uuid, uuid);
	r = fdisk_partition_set_partno(pa, i);
	if (r >= 0)
		r = fdisk_partition_set_start(pa, pp->start / p->sector_size);
	if (r >= 0)
		r = fdisk_partition_set_size(pa, pp->size / p->sector_size);
	if (r >= 0)
		r = fdisk_partition_set_type(pa, type);
	if (r >= 0)
		r = fdisk_partition_set_name(pa, pp->name);
	if (r >= 0)
		r = fdisk_partition_set_uuid(pa, uuid);
	if (r >= 0)
		r = fdisk_add_partition(cxt, pa, NULL);
	if (r < 0)
		return log_error_errno(r,
				       "%s: cannot add the %s partition (start %llu, %llu "
				       "sectors) to the GPT: %m",
				       name, pp->name,
				       (unsigned long long)(pp->start / p->sector_size),
				       (unsigned long long)(pp->size / p->sector_size));
	return 0;
}

/* One of the label's numbers, as libfdisk wrote it into the primary header. */
static int label_lba(struct fdisk_context *cxt, int id, uint64_t *lba)
{
	struct fdisk_labelitem *item = fdisk_new_labelitem();
	int r;

	if (!item)
		return -ENOMEM;
	r = fdisk_get_disklabel_item(cxt, id, item);
	if (r == 0)
		r = fdisk_labelitem_get_data_u64(item, lba);
	fdisk_unref_labelitem(item);
	return r < 0 ? r : r > 0 ? -EINVAL : 0;
}

/* Where the label lies: the protective MBR, the primary header and entries
 * up to HEAD; the backup entries and header from TAIL on. libfdisk writes
 * every sector of those (util-linux libfdisk/src/gpt.c: the backup entries
 * start after the last usable LBA, the backup header is the alternative
 * LBA, the disk's last sector). They must lie outside the partitions. */
static int label_extent(struct fdisk_context *cxt, const char *name, const struct plan *p,
			struct gpt_label *l)
{
	const uint64_t ss = p->sector_size;
	uint64_t entries_last, last_usable, alt;
	int r = label_lba(cxt, GPT_LABELITEM_ENTRIESLASTLBA, &entries_last);

	if (r >= 0)
		r = label_lba(cxt, GPT_LABELITEM_LASTLBA, &last_usable);
	if (r >= 0)
		r = label_lba(cxt, GPT_LABELITEM_ALTLBA, &alt);
	if (r < 0)
		return log_error_errno(r, "%s: cannot read back where libfdisk put the GPT: %m",
				       name);
	l->head = (entries_last + 1) * ss;
	l->tail = (last_usable + 1) * ss;
	if (l->head > p->part[0].start ||
	    l->tail < p->part[PART_COUNT - 1].start + p->part[PART_COUNT - 1].size ||
	    (alt + 1) * ss != p->disk_size)
		return log_error("%s: libfdisk put the GPT where the plan has partitions "
				 "(primary to byte %llu, backup from byte %llu, disk %llu bytes)",
				 name, (unsigned long long)l->head, (unsigned long long)l->tail,
				 (unsigned long long)p->disk_size);
	return 0;
}

/* Copies [FROM, TO) of the scratch file into the image. */
static int copy_extent(int scratch, int img, uint64_t from, uint64_t to)
{
	_cleanup_free_ uint8_t *buf = xmalloc(COPY_CHUNK);

	for (uint64_t o = from; o < to;) {
		size_t n = (size_t)MIN((uint64_t)COPY_CHUNK, to - o);
		int r = pread_full(scratch, buf, n, (off_t)o);
		if (r >= 0)
			r = pwrite_full(img, buf, n, (off_t)o);
		if (r < 0)
			return r;
		o += n;
	}
	return 0;
}

int gpt_copy(const struct gpt_label *l, int img, const struct plan *p)
{
	int r = copy_extent(l->fd, img, 0, l->head);

	return r < 0 ? r : copy_extent(l->fd, img, l->tail, p->disk_size);
}

/* A file in memory; sealed against exec where the kernel knows the flag
 * (Linux 6.3; with vm.memfd_noexec=2 a memfd without it is refused). */
static int scratch_file(void)
{
	int fd = memfd_create("farm-gpt", MFD_CLOEXEC | MFD_NOEXEC_SEAL);

	return fd < 0 && errno == EINVAL ? memfd_create("farm-gpt", MFD_CLOEXEC) : fd;
}

int gpt_make(const char *name, const struct plan *p, struct gpt_label *ret)
{
	_cleanup_close_ int scratch = scratch_file();
	_cleanup_(close_without_sync) struct fdisk_context *cxt = NULL;
	char uuid[37];
	int r;

	if (scratch < 0 || ftruncate(scratch, (off_t)p->disk_size) < 0)
		return log_error_errno(errno, "%s: cannot make a scratch file for the GPT: %m",
				       name);
	cxt = fdisk_new_context();
	if (!cxt)
		return log_error_errno(ENOMEM, "Out of memory");
	r = fdisk_save_user_sector_size(cxt, (unsigned)p->sector_size, (unsigned)p->sector_size);
	if (r >= 0)
		r = fdisk_assign_device_by_fd(cxt, scratch, name, 0);
	if (r < 0)
		return log_error_errno(r, "%s: cannot open the image for partitioning: %m", name);
	fdisk_disable_dialogs(cxt, 1);
	r = fdisk_create_disklabel(cxt, "gpt");
	if (r < 0)
		return log_error_errno(r, "%s: cannot create a GPT: %m", name);
	uuid_format(p->disk_uuid, uuid);
	r = fdisk_set_disklabel_id_from_string(cxt, uuid);
	if (r < 0)
		return log_error_errno(r, "%s: cannot set the disk GUID: %m", name);
	for (size_t i = 0; i < PART_COUNT; i++) {
		r = add_partition(cxt, name, p, i);
		if (r < 0)
			return r;
	}
	r = fdisk_write_disklabel(cxt);
	if (r < 0)
		return log_error_errno(r, "%s: cannot write the GPT: %m", name);
	r = label_extent(cxt, name, p, ret);
	if (r < 0)
		return r;
	ret->fd = TAKE_FD(scratch);
	return 0;
}
