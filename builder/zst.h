/* SPDX-License-Identifier: MIT */
/* A sparse disk image as one zstd frame (RFC 8878) whose long runs of
 * zeros never reach the compressor: libzstd (level 1, multithreaded; the
 * same bytes for any number of threads) compresses the data and the
 * start of each long run of zeros, whose rest is written here as RLE
 * blocks. The
 * frame header, with the image's size, and the content checksum at the
 * end are written here too: libzstd never sees the whole content. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct zst;

/* Where the frame's bytes go, in order: returns 0 or -errno after printing
 * one message. */
typedef int (*zst_sink)(void *opaque, const void *buf, size_t len);

/* A frame of SIZE bytes of content, for NAME (messages). Returns 0 or
 * -errno after printing one message. */
int zst_new(const char *name, uint64_t size, zst_sink sink, void *opaque, struct zst **ret);
/* The next LEN bytes of content (zeros, if it holds only zeros). */
int zst_data(struct zst *z, const void *buf, size_t len);
/* The next LEN bytes of content are zeros. */
int zst_zeros(struct zst *z, uint64_t len);
/* Ends the frame: the content given must be SIZE bytes. */
int zst_end(struct zst *z);
/* How much of the content went through libzstd. */
uint64_t zst_compressed(const struct zst *z);
void zst_free(struct zst *z);
