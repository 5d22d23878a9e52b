/* SPDX-License-Identifier: MIT */
/* Boards: a YAML profile (configs/boards/NAME.yaml: sizes, partition types,
 * where the boot files are) plus a row in the C ops table below for what a
 * profile cannot say. Adding a board is one profile, one row, one test. */
#pragma once

#include "conf.h"

struct board_copy {
	struct cmeta m;
	struct cstr from, to; /* a file of the rootfs, and its path in the boot partition */
};

struct board_boot {
	struct cmeta m;
	struct cenum filesystem, type;
	struct cstr label, source, mount;
	struct cuint size;
	struct cstrlist files;
	struct clist copy; /* struct board_copy */
};

struct board_root {
	struct cmeta m;
	struct cenum type;
	struct cuint headroom, size;
};

struct board_data {
	struct cmeta m;
	struct cuint size;
};

struct board_ops;

struct board {
	struct cmeta m;
	struct cstr name, arch, description;
	struct board_boot boot;
	struct board_root root;
	struct board_data data;

	const struct board_ops *ops;
	char *path;	   /* the profile file */
	char *profile_sha; /* sha256 of the profile, for the manifest */
};

struct fat_writer;
struct pathmap;
struct plan;
struct vars;

/* What a board's finish hook gets once the base has streamed: the boot
 * partition (still open), the names written into it, the plan. */
struct board_finish {
	const struct board *board;
	const struct plan *plan;
	const struct vars *vars;
	struct fat_writer *fat;
	const struct pathmap *boot_files; /* paths written to the boot partition */
	const char *base;		  /* the base's file name, for messages */
};

struct board_ops {
	const char *name;
	const char *arch; /* Debian architecture */
	const char *qemu_arch;
	/* The virtual address bits of the board's kernel (CONFIG_ARM64_VA_BITS,
	 * x86-64's 4-level paging): below 48, Cilium's Envoy proxy aborts
	 * (its tcmalloc needs 48), so the stack turns it off. */
	unsigned va_bits;
	/* Checks that the base gave what the board boots with and writes the
	 * generated boot files. Returns 0 or -errno after one message. */
	int (*finish)(struct board_finish *f);
	/* Why the board cannot boot from a disk of LSS-byte logical sectors,
	 * or NULL when it can (see board_sector_size_problem()). */
	const char *(*sector_size_problem)(unsigned lss);
	/* For the message that there is no base: what its recipe needs beside
	 * Debian's archive (" and Raspberry Pi's"), and what else can be the
	 * base (" or a Raspberry Pi OS Lite image"). NULL: nothing. */
	const char *base_archives, *base_other;
};

/* Partition type GUIDs by the names profiles use. NULL when unknown. */
const char *partition_type_guid(const char *name);

/* Loads CONFIG_DIR/boards/NAME.yaml. Messages name the profile's file and
 * line. */
int board_load(const char *config_dir, const char *name, struct board *b);
void board_free(struct board *b);
static inline const struct board_copy *board_copy_at(const struct board *b, size_t i)
{
	return &((const struct board_copy *)b->boot.copy.items)[i];
}

/* The one rule for the logical sector size of a board's disk, which
 * 'farm-image flash' enforces and the README states: NULL when a disk of
 * LSS-byte logical sectors can hold and boot an image laid out in
 * IMAGE_SS-byte sectors, else why not (words that follow "DISK has
 * LSS-byte logical sectors: "). */
const char *board_sector_size_problem(const struct board_ops *ops, unsigned lss, unsigned image_ss);

/* The known boards, comma-separated ("pi5, x86"), for messages. */
const char *board_names(void);
const struct board_ops *board_ops_find(const char *name);
