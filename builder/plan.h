/* SPDX-License-Identifier: MIT */
/* The plan: everything the write phase will do, computed from the loaded
 * inputs with no I/O, so that it can be unit-tested and so that nothing is
 * written before it is complete. Byte offsets and sizes of every partition,
 * every derived UUID and serial, the files added on top of the base rootfs,
 * and the output names. The root partition's size is the one thing that may
 * come from the content: plan_place() finishes the layout once the root
 * filesystem knows its size. */
#pragma once

#include "board.h"
#include "config.h"
#include "output.h"

#include <time.h>

enum { PART_BOOT, PART_ROOT, PART_DATA, PART_COUNT };

#define PLAN_ALIGN MiB

struct plan_partition {
	const char *name;      /* "boot", "root", "data": the GPT partition name */
	const char *type_name; /* as the board profile says, e.g. "esp" */
	const char *type_guid;
	uint8_t uuid[16];
	uint64_t start, size; /* bytes */
};

enum plan_file_kind {
	PLAN_FILE,	/* content from SOURCE (a host file) or DATA */
	PLAN_SYMLINK,	/* TARGET */
	PLAN_DIR,	/* a directory, created when the base lacks it */
	PLAN_TEMPLATE,	/* DATA is a template, rendered once the base's facts are known */
	PLAN_TRANSFORM, /* the base's own file, changed by TRANSFORM */
	PLAN_ABSENT,	/* the base's entry at this path is left out (not a directory) */
};

enum plan_transform {
	TRANSFORM_PASSWD, /* add the admin user */
	TRANSFORM_GROUP,
	TRANSFORM_SHADOW,
	TRANSFORM_GSHADOW,
	TRANSFORM_MODULI, /* keep only moduli of at least 3072 bits */
};

/* A file the build puts into the root, replacing any entry of the archive
 * at the same path. */
struct plan_file {
	char *path; /* relative to the root: "etc/sysctl.d/90-farm.conf" */
	enum plan_file_kind kind;
	uint32_t mode; /* permission bits */
	uint32_t uid, gid;
	char *source;
	char *target; /* symlink target */
	uint8_t *data;
	size_t size;
	enum plan_transform transform;
	bool secret;  /* a secret: the image must be 0600 */
	char *origin; /* where it came from, for messages and the manifest */
};

struct overlay_entry; /* overlay.h */
struct overlay_mode;

struct plan_input {
	const struct config *config;
	const struct config_node *node;
	const struct board *board;
	const struct overlay_entry *overlays;
	size_t n_overlays;
	const struct overlay_mode *modes;
	size_t n_modes;
	const char *out_dir;
	time_t epoch;
};

struct plan {
	char *cluster, *node;
	uint64_t sector_size;
	uint8_t disk_uuid[16];
	struct plan_partition part[PART_COUNT];
	uint8_t root_fs_uuid[16], root_hash_seed[16];
	uint32_t boot_serial;
	char boot_label[12];
	bool root_from_content;
	uint64_t root_size; /* fixed size, or the provisional capacity */
	uint64_t root_headroom;
	uint64_t disk_size;
	time_t epoch;
	struct plan_file *files;
	size_t n_files;
	char *out[OUT_COUNT]; /* DIR/NAME.img, ...: the outputs (output.h) */
};

/* Pure. Returns 0 or -EINVAL (after printing why: e.g. two layers give a
 * file and a directory at one path). */
int plan_make(const struct plan_input *in, struct plan *p);
/* Adds a file the build generates (replacing one of the same path), and
 * keeps the list sorted; the caller fills in its content. */
struct plan_file *plan_add(struct plan *p, enum plan_file_kind kind, const char *path,
			   uint32_t mode, const char *origin);
/* A PLAN_FILE whose content is a copy of DATA (SIZE bytes). */
struct plan_file *plan_add_data(struct plan *p, const char *path, uint32_t mode, const char *origin,
				const void *data, size_t size);
/* Generated files added to the plan (replacing any of the same path), as
 * plan_add_data() does for bytes: TEXT, a symbolic link to TARGET, the
 * content of the host's file HOST. */
struct plan_file *plan_add_text(struct plan *p, const char *path, uint32_t mode, const char *origin,
				const char *text);
void plan_add_link(struct plan *p, const char *path, const char *target, const char *origin);
void plan_add_source(struct plan *p, const char *path, uint32_t mode, const char *origin,
		     const char *host);
/* Sets the root partition's final size and places what follows it. */
void plan_place(struct plan *p, uint64_t root_size);
void plan_free(struct plan *p);
const struct plan_file *plan_find_file(const struct plan *p, const char *path);
