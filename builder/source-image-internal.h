/* SPDX-License-Identifier: MIT */
/* What source-image.c (the partitions and the walk) and source-image-file.c
 * (the image's file: probing, decompressing) share. Not for other modules:
 * they use source.h. */
#pragma once

#include "source.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHUNK ((size_t)MiB)
#define PEEK  ((size_t)(64 * KiB))

/* xz, gzip or zstd, by their magic numbers. */
bool image_compressed(const uint8_t *b, size_t n);

/* A compressed disk image being decompressed: PATH (for messages) read
 * through FD, BUF (CHUNK bytes) to read it into, SHA to hash it with. */
struct image_file {
	const char *path;
	int fd;
	uint8_t *buf;
	struct sha256_ctx *sha;
	int *img;	  /* set to the temporary file (or -errno), which becomes the image */
	uint64_t *hashed; /* set to the count of bytes hashed */
};

/* Decompresses F's input into a temporary file, which becomes the image;
 * all-zero blocks are not written, so that holes stay holes. The input is
 * hashed on the way. Returns 0, or the -errno it printed a message for. */
int image_decompress(struct image_file *f);
