/* SPDX-License-Identifier: MIT */
/* Streams a base rootfs archive (any format and compression libarchive
 * reads) into the image in one pass: entries go to the ext4 root, files the
 * board lists go to the FAT boot partition. The archive is untrusted input:
 * this is where the rules of SECURITY.md ("Reading untrusted input") are
 * enforced, and every refusal names the archive entry. */
#pragma once

#include "ext4.h"
#include "fat.h"
#include "hash.h"
#include "output.h"
#include "pathmap.h"
#include "progress.h"

#include <signal.h>

struct board;

struct stream_stats {
	uint64_t entries, files, dirs, links, bytes;
	uint64_t boot_files;   /* files written to the boot partition */
	uint64_t left_out;     /* entries below the boot mount not listed by the board */
	uint64_t replaced;     /* entries the build's own files replace */
	uint64_t host_keys;    /* SSH host keys of the base, left out */
	uint64_t archive_size; /* compressed bytes read */
	char sha256[SHA256_HEX_LEN];
};

/* Base files the build needs to read while they stream past: captured
 * (and, for KEEP, also written unchanged). personalize.c lists them. */
struct capture {
	const char *path;
	bool keep;
	uint8_t *data;
	size_t size;
	bool found;
};

struct stream_sink {
	struct ext4_writer *ext4;
	struct fat_writer *fat; /* NULL: no boot partition files */
	const struct board *board;
	const struct pathmap *replaced_paths; /* written later by the build; skipped here */
	struct capture *captures;	      /* base files read into memory */
	size_t n_captures;
	struct pathmap *boot_files; /* gets the paths written to the boot partition */
	time_t epoch;
	volatile sig_atomic_t *interrupted;
	struct progress *progress;
	const struct outputs *out; /* where the image goes: a full disk is named */
};

/* Returns 0, or -errno after printing one message naming the archive (and
 * the entry). */
int stream_base(const char *archive, struct stream_sink *sink, struct stream_stats *stats);

/* Normalizes an archive path: strips "./" and trailing slashes, refuses
 * absolute paths, "..", empty components, over-long names and paths deeper
 * than STREAM_MAX_DEPTH. "" is the root. Returns 0 or -EINVAL with a reason. */
#define STREAM_MAX_DEPTH 64
int stream_normalize_path(const char *in, char **out, const char **why);
