/* SPDX-License-Identifier: MIT */
/* Writes the plan's GPT into the image file through libfdisk: 512-byte
 * sectors, the entry array at LBA 2, 1 MiB aligned partitions, derived disk
 * and partition GUIDs, names boot/root/data. */
#pragma once

#include "plan.h"

/* PATH opens the image, NAME is its name in messages. Returns 0 or -errno
 * after printing one message. */
int gpt_write(const char *path, const char *name, const struct plan *p);
