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

/* The label in its scratch file: bytes [0, HEAD) (protective MBR, primary
 * header and entries) and [TAIL, the disk's end) (backup entries and
 * header), each sector of them written by libfdisk. Only those are copied:
 * what the scratch file reports as data comes in its memory pages (4 KiB,
 * 16 KiB, 64 KiB or a huge page, by host), and copying the zeros of a page
 * would map them in the .bmap, which must not depend on the build host. */
struct gpt_label {
	int fd;
	uint64_t head, tail;
};

/* Makes the plan's label into *RET (RET->fd is the caller's to close).
 * NAME is the image's name in messages. Returns 0 or -errno after printing
 * one message. */
int gpt_make(const char *name, const struct plan *p, struct gpt_label *ret);
/* Copies the label L into the image IMG. Returns 0 or -errno, and does not
 * print: the caller names the output a failed write was for. */
int gpt_copy(const struct gpt_label *l, int img, const struct plan *p);
