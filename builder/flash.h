/* SPDX-License-Identifier: MIT */
/* farm-image flash: writes a node's image onto a disk (a block device or a
 * regular file), only the blocks its .bmap maps, and verifies every one of
 * them by reading the disk back with the page cache bypassed. The parts:
 *
 *   flash.c         the command: inputs, refusals, the question, the report
 *   flash-target.c  the disk: what it is, whether it is in use, what it holds
 *   flash-gpt.c     partition tables (libfdisk) of the image and of the disk;
 *                   the marks that keep a disk unbootable while it is written
 *   flash-copy.c    the copy: source, hasher, writer and verifier threads
 *
 * The disk is never bootable while it is being written: a whole flash wipes
 * the old table first and writes the image's GPT last; a reimage that keeps
 * the data (--keep-data) marks the disk's GPT headers (their signature is
 * replaced, so no firmware and no kernel reads them) and puts the
 * signature back only once boot and root are written and verified. An
 * interrupted reimage is recognised by its marks and can be run again. */
#pragma once

#include "bmap.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define FLASH_GPT_MARK "FARM WIP" /* replaces "EFI PART" while a reimage runs */

#define FLASH_USAGE                                                                                \
	"flash --node NAME --device PATH [--out DIR] [--config FILE] [--keep-data] [--yes]"

#define FLASH_SUMMARY                                                                              \
	"Write a node's image (DIR/NAME.img, or DIR/NAME.img.zst when there is no .img)\n"         \
	"onto a disk or a disk image file: only the blocks its .bmap maps, each one\n"             \
	"read back from the disk (page cache bypassed) and checked against the bmap's\n"           \
	"checksums. The disk does not boot until all of it is written and verified.\n"             \
	"Refused, with nothing written: a disk in use (mounted, swap, held), the disk\n"           \
	"the running system is on, a partition, a disk too small or of a sector size\n"            \
	"the board cannot boot from, anything that is no block device or file.\n\n"                \
	"  -n, --node NAME     the node\n"                                                         \
	"  -d, --device PATH   the disk (/dev/sdX, /dev/nvmeXn1, ...) or an existing file\n"       \
	"  -o, --out DIR       where the image is (default out)\n"                                 \
	"  -c, --config FILE   the cluster config (default " DEFAULT_CONFIG ")\n"                  \
	"  -k, --keep-data     reimage: rewrite boot and root only, keep the data partition\n"     \
	"                      (the node's identity, k3s state, /var, /home) and any Ceph\n"       \
	"                      partition; the disk must carry this node's farm GPT\n"              \
	"  -y, --yes           do not show the disk and ask before writing"

int cmd_flash(int argc, char **argv);

/* One partition of a table, as libfdisk reads it. */
struct flash_part {
	unsigned partno; /* 1-based */
	char name[80], type[40], uuid[40], type_name[64];
	uint64_t start, size; /* bytes */
};

struct flash_table {
	char label[8];			   /* "gpt", "dos", ...; "" when there is none */
	unsigned ss;			   /* the sector size it was read with */
	char disk_id[40];		   /* GPT: the disk GUID (upper case); dos: the disk id */
	uint64_t first_usable, end_usable; /* GPT: bytes, [first, end) */
	bool marked; /* a reimage was interrupted: headers carry FLASH_GPT_MARK */
	uint64_t primary_header, backup_header; /* byte offsets (GPT) */
	struct flash_part *parts;
	size_t n_parts;
};

/* The disk being written. */
struct flash_target {
	char *path;
	bool blockdev;
	dev_t rdev;
	char *sysname;	 /* "sda" (block devices) */
	char *model;	 /* vendor and model from sysfs, or NULL */
	char *transport; /* "usb", "nvme", ... or NULL */
	uint64_t size;
	unsigned lss; /* logical sector size */
};

/* flash-target.c */

/* Looks at PATH and refuses, with one message, what must not be written:
 * not a block device or regular file, a partition, a device in use (mounted,
 * swap, held by device-mapper/RAID, attached to a loop device), the disk
 * the running system's root is on. Fills T (free with flash_target_free). */
int flash_target_inspect(const char *path, struct flash_target *t);
void flash_target_free(struct flash_target *t);
/* Prints, for the question before writing, what the disk is and holds:
 * model, size, sector size, its partitions with their filesystems. */
void flash_target_describe(FILE *f, const struct flash_target *t, int fd,
			   const struct flash_table *table);

/* flash-gpt.c */

/* The partition table of an image whose first HEAD_LEN bytes are HEAD (its
 * primary GPT), SIZE bytes in all. Returns 0 or -errno (no message). */
int flash_table_of_image(const void *head, size_t head_len, uint64_t size, struct flash_table *t);
/* The partition table on the disk FD (SIZE bytes, sectors of LSS), read
 * through a copy of its table sectors in memory, so that the marks of an
 * interrupted reimage are seen through. No table: label "". Returns 0 or
 * -errno (no message). */
int flash_table_of_disk(int fd, uint64_t size, unsigned lss, struct flash_table *t);
void flash_table_free(struct flash_table *t);
const struct flash_part *flash_table_find(const struct flash_table *t, const char *name);
/* Replaces the signature of the GPT headers of T on FD ("EFI PART" <->
 * FLASH_GPT_MARK) and syncs. MARK true: the disk becomes unbootable.
 * Returns 0 or -errno. */
int flash_gpt_mark(int fd, const struct flash_table *t, bool mark);

/* Zeros the table sectors of a disk of SIZE bytes before a whole flash: its
 * first HEAD_LEN bytes, its last 34 sectors and the backup header of the
 * table OLD (NULL: none). Returns 0 or -errno. */
int flash_gpt_wipe(int fd, uint64_t size, unsigned lss, uint64_t head_len,
		   const struct flash_table *old);

/* flash-source.c: the image, read forward once. */

struct flash_source;
/* Opens PATH, a regular file: NAME.img (read at offsets) or, with ZST,
 * NAME.img.zst (a stream, decompressed once). SIZE is the
 * image's size from its bmap: a .img or a .zst frame of another size is
 * refused. The first HEAD_LEN bytes are read at once and kept. Returns 0 or
 * -errno after one message. */
int flash_source_open(const char *path, bool zst, uint64_t size, size_t head_len,
		      struct flash_source **ret);
const uint8_t *flash_source_head(const struct flash_source *s);
/* LEN bytes at OFF into BUF. Offsets only go forward, except inside the
 * head. Returns 0 or -errno after one message. */
int flash_source_read(struct flash_source *s, uint64_t off, void *buf, size_t len);
void flash_source_free(struct flash_source *s);

/* flash-copy.c */

enum flash_mode {
	FLASH_WHOLE,	 /* every mapped range; the image's GPT written last */
	FLASH_KEEP_DATA, /* the mapped ranges of boot and root only */
};

struct flash_copy {
	const struct bmap *bmap;
	struct flash_source *src;
	const char *image;  /* the .img or .img.zst, for messages */
	int fd;		    /* the disk, opened for writing */
	bool blockdev;	    /* a block device (else a regular file) */
	const char *device; /* for messages */
	unsigned lss;
	enum flash_mode mode;
	/* FLASH_WHOLE: [0, hold_head) and [hold_tail, image end) hold the
	 * image's GPT: written once all the rest is written and verified. */
	uint64_t hold_head, hold_tail;
	/* FLASH_KEEP_DATA: the byte ranges written (boot and root). */
	uint64_t write_start[2], write_end[2];
	volatile sig_atomic_t *interrupted;
	const char *what; /* progress label */
	/* results */
	uint64_t written;
	bool direct; /* the disk took O_DIRECT */
};

/* Writes and verifies. Returns 0; or -errno after one message. In
 * FLASH_WHOLE mode the image's GPT is written last and wiped again when
 * anything fails after it. */
int flash_copy_run(struct flash_copy *c);
