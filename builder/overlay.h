/* SPDX-License-Identifier: MIT */
/* Overlay directories: files baked into every image (overlays/common/), per
 * board (overlays/board/BOARD/) and per role (overlays/role/ROLE/), later
 * layers replacing earlier ones. Collected in the load phase (sorted, so
 * the plan is deterministic); the plan turns them into root files. A file
 * ending in ".in" is a template (template.h), read here so that the plan
 * can check it without I/O. */
#pragma once

#include "config.h"

#include <stdbool.h>
#include <stdint.h>

#define OVERLAY_MAX_FEATURES 8

/* A file found in an overlay directory (collected by the load phase). */
struct overlay_entry {
	char *layer; /* "common", "board/pi5", "role/server" */
	char *rel;   /* path relative to the layer, without ".in" for templates */
	char *host;  /* path on the build host */
	uint32_t mode;
	bool symlink;
	char *target;
	char *text; /* a template's text (the file ended in ".in") */
};

/* An explicit owner and mode for an overlay file (overlays/modes). */
struct overlay_mode {
	char *path;
	uint32_t mode, uid, gid;
};

/* The features of config C that have their own layer,
 * ROOT/feature/FEATURE/, added after the role's: files that exist only
 * when the config asks for what they do ("power-schedule": the daily
 * shutdown timer). Fills FEATURES (at most MAX) and returns how many. */
size_t overlay_features(const struct config *c, const char **features, size_t max);

/* Scans ROOT/common, ROOT/board/BOARD, ROOT/role/ROLE and
 * ROOT/feature/F for each of FEATURES (missing layers are fine). Returns 0
 * or -errno after printing one message. */
int overlay_scan(const char *root, const char *board, const char *role, const char *const *features,
		 size_t n_features, struct overlay_entry **ret, size_t *n);
void overlay_free(struct overlay_entry *v, size_t n);
/* ROOT/modes: "MODE UID GID PATH" lines for files that are not 0644 root. */
int overlay_read_modes(const char *root, struct overlay_mode **ret, size_t *n);
void overlay_modes_free(struct overlay_mode *v, size_t n);
