/* SPDX-License-Identifier: MIT */
#include "gpt.h"
#include "fdisk-cleanup.h"
#include "hash.h"
#include "log.h"

/* Closes the image without fdisk_deassign_device(), which fsyncs it (and
 * with nosync=0 syncs every filesystem): the image is synced once, when
 * the outputs are committed, whose fsync reports any failed write. */
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
		return log_error("%s: libfdisk does not know partition type %s", name, pp->type_guid);
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
		return log_error_errno(r, "%s: cannot add the %s partition (start %llu, %llu "
					  "sectors) to the GPT: %m",
				       name, pp->name, (unsigned long long)(pp->start / p->sector_size),
				       (unsigned long long)(pp->size / p->sector_size));
	return 0;
}

int gpt_write(const char *path, const char *name, const struct plan *p)
{
	_cleanup_(close_without_sync) struct fdisk_context *cxt = fdisk_new_context();
	char uuid[37];
	int r;

	if (!cxt)
		return log_error_errno(ENOMEM, "Out of memory");
	r = fdisk_save_user_sector_size(cxt, (unsigned)p->sector_size, (unsigned)p->sector_size);
	if (r >= 0)
		r = fdisk_assign_device(cxt, path, 0);
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
	return 0;
}
