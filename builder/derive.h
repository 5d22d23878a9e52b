/* SPDX-License-Identifier: MIT */
/* The outputs derived from a finished image, read from the page cache by two
 * threads at once (one feeds the compressor, one hashes the bmap's ranges):
 * NAME.img.bmap (bmaptool's format 2.0: the ranges of 4 KiB blocks the image
 * file has data in, each with its sha256) and NAME.img.zst (one zstd frame,
 * zst.h) with its sha256. Holes are not read, and long ones never reach the
 * compressor. The whole image is not hashed with sha256: its holes would
 * cost more than all the data, and the bmap's range checksums and the
 * .zst's sha256 already pin its content. */
#pragma once

#include "hash.h"
#include "output.h"
#include "progress.h"

#include <signal.h>
#include <stdint.h>

struct derive_result {
	char zst_sha256[SHA256_HEX_LEN];
	uint64_t mapped_bytes, zst_size;
};

/* NAME is the image's file name for the bmap's comment and messages. Reads
 * OUT_IMG (SIZE bytes), writes OUT_BMAP and OUT_ZST. Returns 0 or -errno
 * after printing one message (-EINTR without one). */
int derive_outputs(const struct outputs *o, const char *name, uint64_t size,
		   volatile sig_atomic_t *interrupted, struct progress *progress,
		   struct derive_result *res);
