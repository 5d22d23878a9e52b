/* SPDX-License-Identifier: MIT */
/* Writes the plan's GPT into the image file through libfdisk: 512-byte
 * sectors, the entry array at LBA 2, 1 MiB aligned partitions, derived disk
 * and partition GUIDs, names boot/root/data. */
#pragma once

#include "plan.h"

/* The label is made by libfdisk in a scratch file of the image's size, in
 * memory, not in the image: libfdisk fsyncs its device after every piece
 * of the label it writes (util-linux libfdisk/src/gpt.c, gpt_write()), and
 * on the image each fsync would wait for everything the build has written
 * so far. The image is synced once, when the outputs are committed. */

/* Makes the plan's label; *RET is the scratch file's descriptor, for
 * gpt_copy(). NAME is the image's name in messages. Returns 0 or -errno
 * after printing one message. */
int gpt_make(const char *name, const struct plan *p, int *ret);
/* Copies what libfdisk wrote in SCRATCH into the image IMG: the parts of
 * its data outside the partitions (protective MBR, primary header and
 * entries, backup entries and header). Returns 0 or -errno, and does not
 * print: the caller names the output a failed write was for. */
int gpt_copy(int scratch, int img, const struct plan *p);
