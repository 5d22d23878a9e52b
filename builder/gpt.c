/* SPDX-License-Identifier: MIT */
#include "gpt.h"
#include "fdisk-cleanup.h"
#include "hash.h"
#include "log.h"

#include <sys/mman.h>

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

int gpt_copy(int scratch, int img, const struct plan *p)
{
	const uint64_t low = p->part[0].start;
	const uint64_t high = p->part[PART_COUNT - 1].start + p->part[PART_COUNT - 1].size;
	_cleanup_free_ uint8_t *buf = xmalloc(COPY_CHUNK);
	uint64_t pos = 0;

	while (pos < p->disk_size) {
		off_t d = lseek(scratch, (off_t)pos, SEEK_DATA), h;
		if (d < 0 && errno == ENXIO)
			return 0;
		h = d < 0 ? -1 : lseek(scratch, d, SEEK_HOLE);
		if (h < 0)
			return -errno;
		for (uint64_t o = (uint64_t)d; o < (uint64_t)h;) {
			uint64_t end = MIN((uint64_t)h, o + COPY_CHUNK);
			int r;
			if (o < low)
				end = MIN(end, low);
			else if (o < high) {
				o = MIN((uint64_t)h, high);
				continue;
			}
			r = pread_full(scratch, buf, (size_t)(end - o), (off_t)o);
			if (r >= 0)
				r = pwrite_full(img, buf, (size_t)(end - o), (off_t)o);
			if (r < 0)
				return r;
			o = end;
		}
		pos = (uint64_t)h;
	}
	return 0;
}

int gpt_make(const char *name, const struct plan *p, int *ret)
{
	_cleanup_close_ int scratch = memfd_create("farm-gpt", MFD_CLOEXEC);
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
	*ret = TAKE_FD(scratch);
	return 0;
}
