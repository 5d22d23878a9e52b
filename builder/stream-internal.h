/* SPDX-License-Identifier: MIT */
/* What stream.c (the walk over the base's entries and their rules) and
 * stream-file.c (a regular file's data) share. Not for other modules: they
 * use stream.h. */
#pragma once

#include "stream.h"
#include "arch.h"
#include "source.h"
#include "util.h"

struct stream {
	const char *archive;
	struct stream_sink *sink;
	struct stream_stats *stats;
	struct source *src;
	char *boot_source, *boot_mount; /* relative, "" for / */
	struct pathmap *seen;		/* every path of the archive -> its type */
	struct pathmap *dir_entries;	/* directory -> how many entries it has */
	char *arch_from;		/* the entry that showed the base's architecture */
	bool want_head;			/* the current file's start is read (arch.h) */
	uint8_t head[ARCH_ELF_HEADER];
};

/* "ARCHIVE: entry 'PATH': " and the message; returns -EINVAL. */
int stream_entry_error(struct stream *s, const char *path, const char *fmt, ...) _printf_(3, 4);
/* A failed write of the root filesystem (R < 0) at PATH, said once: a full
 * disk, no inode left, a full root. Returns R. */
int stream_write_error(struct stream *s, const char *path, int r);
/* "a/b" is below (or at) "a": what follows it; everything is below "". */
const char *stream_below(const char *path, const char *dir);

/* Reads a base file the build transforms (or inspects) into memory; holes
 * become zeros. With keep, it is also written to the root unchanged. */
int stream_capture_file(struct stream *s, const char *path, const struct source_entry *e,
			struct ext4_meta *m, struct capture *c);
/* dpkg's status (C, captured) shows the base's architecture: the board's,
 * or the build is refused. */
int stream_check_dpkg_status(struct stream *s, const char *path, const struct capture *c);
/* A regular file's data, into the root (TO_ROOT; REWRITE: into the file
 * already at PATH) and the boot partition (BOOT_REL). */
int stream_regular_file(struct stream *s, const char *path, const struct source_entry *e,
			struct ext4_meta *m, bool to_root, const char *boot_rel, bool rewrite);
