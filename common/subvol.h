/* SPDX-License-Identifier: MIT */
/* The Btrfs subvolumes of the data partition and where they are mounted:
 * one table, for the image's fstab (farm-image) and for the subvolumes
 * `farm-node storage` creates. Both programs are built from the same tree
 * and baked together, so the table travels in both, not in node.yaml. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct data_subvolume {
	const char *name;    /* "@var": starts with '@', no '/' */
	const char *mount;   /* "/var" */
	const char *options; /* mount options besides subvol= */
	bool seed;	     /* filled from the image's directory at MOUNT when created */
};

extern const struct data_subvolume data_subvolumes[];
extern const size_t n_data_subvolumes;
