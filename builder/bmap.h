/* SPDX-License-Identifier: MIT */
/* Reading a block map in bmaptool's format (2.0, as builder/output.c writes
 * it and `bmaptool copy` reads it): the image's size, its block size, and
 * the ranges of blocks that hold data, each with its sha256. The file's own
 * checksum (BmapFileChecksum, taken with that field all zeros) is checked,
 * the ranges must be sorted, disjoint and inside the image. Parsed with
 * libexpat, the parser Python's ElementTree (and so bmaptool) uses. */
#pragma once

#include "hash.h"

#include <stddef.h>
#include <stdint.h>

struct bmap_range {
	uint64_t start, end; /* bytes: [start, end), end clipped to the image size */
	uint8_t sha256[SHA256_LEN];
};

struct bmap {
	uint64_t image_size;
	uint32_t block_size;
	uint64_t mapped_bytes;
	struct bmap_range *ranges;
	size_t n_ranges;
};

/* Loads PATH. Returns 0, or -errno after printing one message that names
 * the file (and the line, for a syntax or content error). */
int bmap_load(const char *path, struct bmap *b);
void bmap_free(struct bmap *b);
