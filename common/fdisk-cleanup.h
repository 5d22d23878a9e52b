/* SPDX-License-Identifier: MIT */
/* The _cleanup_ helpers of libfdisk's objects, for every file of either
 * program that uses libfdisk. */
#pragma once

#include <libfdisk/libfdisk.h>

/* A context gives up its device (fdisk_deassign_device() with nosync set)
 * before its last reference goes. */
static inline void unref_context(struct fdisk_context **c)
{
	if (*c) {
		fdisk_deassign_device(*c, 1);
		fdisk_unref_context(*c);
	}
}
static inline void unref_table(struct fdisk_table **t) { fdisk_unref_table(*t); }
static inline void unref_partition(struct fdisk_partition **p) { fdisk_unref_partition(*p); }
static inline void unref_parttype(struct fdisk_parttype **t) { fdisk_unref_parttype(*t); }
