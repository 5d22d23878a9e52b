/* SPDX-License-Identifier: MIT */
/* NAME.json: what an image was built from (inputs and their sha256) and what
 * it holds (partitions with offsets, sizes, types, UUIDs; filesystem ids;
 * the derived outputs). Deterministic: the same build gives the same file. */
#pragma once

#include "board.h"
#include "config.h"
#include "derive.h"
#include "plan.h"
#include "stream.h"

struct artifact;

struct manifest_input {
	const char *path;
	char sha256[SHA256_HEX_LEN];
};

struct manifest {
	const struct plan *plan;
	const struct config *config;
	const struct config_node *node;
	const struct board *board;
	struct manifest_input config_file, board_file, base;
	const struct artifact *const *artifacts; /* the pinned artifacts baked in */
	size_t n_artifacts;
	const struct stream_stats *rootfs;
	uint64_t root_used;
	const struct derive_result *out;
};

/* Writes the manifest to FD. Returns 0 or -errno (no message). */
int manifest_write(int fd, const struct manifest *m);
