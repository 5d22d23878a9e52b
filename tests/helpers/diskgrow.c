/* SPDX-License-Identifier: MIT */
/* diskgrow DISK PARTNO CEPH_BYTES: runs farm-node's disk_grow() on a disk
 * image file and prints what it found and did, for tests/unit/farm-node.sh. */
#include "disk.h"
#include "log.h"
#include "util.h"

int main(int argc, char **argv)
{
	struct disk_result r;
	uint64_t ceph = 0;

	log_init("diskgrow");
	if (argc != 4 || parse_size(argv[3], &ceph) < 0) {
		fprintf(stderr, "usage: diskgrow DISK PARTNO CEPH_BYTES\n");
		return 2;
	}
	if (disk_grow(argv[1], (unsigned)atoi(argv[2]), ceph, &r) < 0)
		return 1;
	printf("changed=%d data=%llu+%llu ceph=%llu+%llu\n", r.changed,
	       (unsigned long long)r.data_start, (unsigned long long)r.data_size,
	       (unsigned long long)r.ceph_start, (unsigned long long)r.ceph_size);
	return 0;
}
