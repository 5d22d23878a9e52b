/* SPDX-License-Identifier: MIT */
/* The disk the node booted from, as farm-node sees it: grow its GPT to the
 * real end of the disk, grow the data partition into the free space (after
 * leaving room for a raw Ceph OSD partition when the node asks for one).
 * Only ever grows: nothing is moved, shrunk or deleted. Works on a block
 * device or on a disk image file (for the tests). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define CEPH_OSD_TYPE "4FBD7E29-9D25-41B8-AFD0-062C0CEFF05D"

struct disk_result {
	bool changed; /* the table was written */
	uint64_t disk_bytes;
	uint64_t data_start, data_size; /* bytes */
	uint64_t ceph_start, ceph_size; /* 0: no Ceph partition */
};

/* DISK: the whole disk (device or file); DATA_PARTNO: 1-based number of the
 * data partition; CEPH: bytes wanted for a Ceph partition (0: none).
 * Returns 0, or -errno after printing one message. */
int disk_grow(const char *disk, unsigned data_partno, uint64_t ceph, struct disk_result *res);

/* The disk and partition number holding the partition device PART
 * (/dev/nvme0n1p3 -> /dev/nvme0n1, 3), from sysfs. */
int disk_of_partition(const char *part, char **disk, unsigned *partno);
