/* SPDX-License-Identifier: MIT */
/* Boards: a YAML profile (configs/boards/NAME.yaml: sizes, partition types,
 * where the boot files are) plus a row in the C ops table below for what a
 * profile cannot say. Adding a board is one profile, one row, one test. */
#pragma once

#include "conf.h"

struct board_boot {
	struct cmeta m;
	struct cstr filesystem, type, label, source, mount;
	struct cuint size;
	struct cstrlist files;
};

struct board_root {
	struct cmeta m;
	struct cstr type;
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
	char *path;        /* the profile file */
	char *profile_sha; /* sha256 of the profile, for the manifest */
};

struct board_ops {
	const char *name;
	const char *arch;    /* Debian architecture */
	const char *qemu_arch;
};

/* Partition type GUIDs by the names profiles use. NULL when unknown. */
const char *partition_type_guid(const char *name);

/* Loads DIR/boards/NAME.yaml. Messages name the profile's file and line;
 * UNKNOWN_POS is where the config names the board (for "unknown board"). */
int board_load(const char *config_dir, const char *name, struct board *b);
void board_free(struct board *b);
/* Comma-separated list of known boards, for messages. */
const char *board_names(void);
const struct board_ops *board_ops_find(const char *name);
