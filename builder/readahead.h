/* SPDX-License-Identifier: MIT */
/* Reading a file ahead on a thread of its own: the next pieces are read and
 * hashed (the sha256 of everything read, in order) while the caller works
 * on the current one. So that a base archive is read and hashed on one CPU
 * while another writes the image. */
#pragma once

#include "hash.h"

#include <sys/types.h>

struct readahead;

/* Reads FD from its offset to its end in pieces of BLOCK bytes, hashing
 * them into SHA (which the caller finishes once readahead_next() has
 * returned 0). Returns 0 or -errno. */
int readahead_start(int fd, size_t block, struct sha256_ctx *sha, struct readahead **ret);
/* The next piece: its length, 0 at the end, or -errno of the read. *BUF
 * stays valid until the next call. */
ssize_t readahead_next(struct readahead *ra, const void **buf);
/* Stops the thread. */
void readahead_free(struct readahead *ra);
