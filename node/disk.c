/* SPDX-License-Identifier: MIT */
#include "disk.h"
#include "fdisk-cleanup.h"
#include "fileio.h"
#include "log.h"
#include "util.h"

#include <limits.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

int disk_of_partition(const char *part, char **disk, unsigned *partno)
{
	struct stat st;
	_cleanup_free_ char *link = NULL, *num = NULL, *path = NULL;
	char target[PATH_MAX];
	ssize_t n;
	char *slash;

	if (stat(part, &st) < 0)
		return log_error_errno(errno, "Cannot find the data partition %s: %m", part);
	if (!S_ISBLK(st.st_mode))
		return log_error("%s is not a block device", part);
	path = xasprintf("/sys/dev/block/%u:%u", major(st.st_rdev), minor(st.st_rdev));
	link = xasprintf("%s/partition", path);
	if (read_file(link, &num, NULL, 64) < 0 || sscanf(num, "%u", partno) != 1)
		return log_error("%s is not a partition (no %s)", part, link);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return log_error_errno(errno, "Cannot resolve %s: %m", path);
	target[n] = 0;
	/* .../block/nvme0n1/nvme0n1p3 -> nvme0n1 */
	slash = strrchr(target, '/');
	if (!slash)
		return log_error("Unexpected sysfs path %s", target);
	*slash = 0;
	slash = strrchr(target, '/');
	*disk = xasprintf("/dev/%s", slash ? slash + 1 : target);
	return 0;
}

int disk_grow(const char *disk, unsigned data_partno, uint64_t ceph, struct disk_result *res)
{
	_cleanup_(unref_context) struct fdisk_context *cxt = fdisk_new_context();
	_cleanup_(unref_partition) struct fdisk_partition *data = NULL;
	_cleanup_(unref_table) struct fdisk_table *before = NULL;
	struct fdisk_label *gpt;
	uint64_t ss, grain, last, start, end, want_end, ceph_start = 0, ceph_end = 0;
	size_t ceph_no = data_partno; /* 0-based number of the next partition */
	bool relocate, have_ceph = false;
	int r;

	*res = (struct disk_result){ 0 };
	if (!cxt)
		return log_error_errno(ENOMEM, "Out of memory");
	r = fdisk_assign_device(cxt, disk, 0);
	if (r < 0)
		return log_error_errno(r, "Cannot open %s for partitioning: %m", disk);
	fdisk_disable_dialogs(cxt, 1);
	if (!fdisk_is_labeltype(cxt, FDISK_DISKLABEL_GPT))
		return log_error("%s has no GPT: it is not a farm node's disk", disk);
	gpt = fdisk_get_label(cxt, "gpt");
	ss = fdisk_get_sector_size(cxt);
	grain = fdisk_get_grain_size(cxt) / ss;
	res->disk_bytes = fdisk_get_nsectors(cxt) * ss;
	r = fdisk_get_partitions(cxt, &before);
	if (r < 0)
		return log_error_errno(r, "Cannot read the partitions of %s: %m", disk);

	/* The backup GPT header belongs at the disk's last sector; an image
	 * written to a bigger disk has it at the image's end. libfdisk moves it
	 * (and the last usable LBA) when the label is written. */
	last = fdisk_get_last_lba(cxt);
	relocate = last + 34 < fdisk_get_nsectors(cxt);
	if (relocate) {
		fdisk_label_set_changed(gpt, 1);
		last = fdisk_get_nsectors(cxt) - 34;
	}

	r = fdisk_get_partition(cxt, data_partno - 1, &data);
	if (r < 0 || !fdisk_partition_has_start(data) || !fdisk_partition_has_size(data))
		return log_error("%s has no partition %u: it is not a farm node's disk", disk,
				 data_partno);
	start = fdisk_partition_get_start(data);
	end = fdisk_partition_get_end(data);

	/* An existing Ceph partition stays where it is, with what it holds. */
	{
		struct fdisk_partition *p = NULL;
		if (fdisk_get_partition(cxt, ceph_no, &p) == 0 && fdisk_partition_is_used(p)) {
			have_ceph = true;
			ceph_start = fdisk_partition_get_start(p);
		}
		fdisk_unref_partition(p);
	}

	if (have_ceph)
		want_end = ceph_start - 1;
	else if (ceph) {
		uint64_t ceph_sectors = ALIGN_UP(ceph / ss, grain);
		/* The Ceph partition takes the end of the disk: it ends at the
		 * last whole grain and starts on a grain boundary. */
		ceph_end = (last + 1) / grain * grain - 1;
		ceph_start = ceph_sectors < ceph_end + 1 ? ceph_end + 1 - ceph_sectors : 0;
		want_end = ceph_start - 1;
		if (ceph_start <= end + 1) {
			log_warning("%s: no room for the %llu MiB Ceph partition after the data "
				    "partition; not creating it",
				    disk, (unsigned long long)(ceph / MiB));
			ceph = 0;
			want_end = last;
		}
	} else
		want_end = last;
	/* Whole grains, never past the usable area, never smaller. */
	want_end = (want_end + 1) / grain * grain - 1;
	if (want_end > end) {
		_cleanup_(unref_partition) struct fdisk_partition *pa = fdisk_new_partition();
		fdisk_partition_set_size(pa, want_end - start + 1);
		r = fdisk_set_partition(cxt, data_partno - 1, pa);
		if (r < 0)
			return log_error_errno(r, "Cannot grow partition %u of %s: %m", data_partno,
					       disk);
		end = want_end;
	}
	if (ceph && !have_ceph) {
		_cleanup_(unref_partition) struct fdisk_partition *pa = fdisk_new_partition();
		struct fdisk_parttype *t = fdisk_label_parse_parttype(gpt, CEPH_OSD_TYPE);
		fdisk_partition_set_partno(pa, ceph_no);
		fdisk_partition_set_start(pa, ceph_start);
		fdisk_partition_set_size(pa, ceph_end - ceph_start + 1);
		fdisk_partition_set_type(pa, t);
		fdisk_partition_set_name(pa, "ceph");
		r = fdisk_add_partition(cxt, pa, NULL);
		fdisk_unref_parttype(t);
		if (r < 0)
			return log_error_errno(r, "Cannot add the Ceph partition to %s: %m", disk);
		have_ceph = true;
	}

	if (fdisk_label_is_changed(gpt)) {
		r = fdisk_write_disklabel(cxt);
		if (r < 0)
			return log_error_errno(r, "Cannot write the GPT of %s: %m", disk);
		/* Tell the kernel about the new sizes even while partitions are
		 * in use (BLKPG), as sfdisk and partx do. */
		fdisk_reread_changes(cxt, before);
		res->changed = true;
	}
	res->data_start = start * ss;
	res->data_size = (end - start + 1) * ss;
	if (have_ceph) {
		struct fdisk_partition *p = NULL;
		if (fdisk_get_partition(cxt, ceph_no, &p) == 0) {
			res->ceph_start = fdisk_partition_get_start(p) * ss;
			res->ceph_size = fdisk_partition_get_size(p) * ss;
		}
		fdisk_unref_partition(p);
	}
	r = fdisk_deassign_device(cxt, 0);
	if (r < 0)
		return log_error_errno(r, "Cannot close %s: %m", disk);
	fdisk_unref_context(cxt);
	cxt = NULL;
	return 0;
}
