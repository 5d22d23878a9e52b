/* SPDX-License-Identifier: MIT */
/* Overlay directories: files baked into every image (overlays/common/), per
 * board (overlays/board/BOARD/) and per role (overlays/role/ROLE/), later
 * layers replacing earlier ones. Collected in the load phase (sorted, so
 * the plan is deterministic); the plan turns them into root files. */
#pragma once

#include "plan.h"

/* Scans ROOT/common, ROOT/board/BOARD and ROOT/role/ROLE (missing layers
 * are fine). Returns 0 or -errno after printing one message. */
int overlay_scan(const char *root, const char *board, const char *role,
		 struct overlay_entry **ret, size_t *n);
void overlay_free(struct overlay_entry *v, size_t n);
