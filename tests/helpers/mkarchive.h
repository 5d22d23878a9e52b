/* SPDX-License-Identifier: MIT */
/* What mkarchive's files share (the top of mkarchive.c says which does
 * what). */
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include "util.h"

#define FIXTURE_MTIME ((time_t)1600000000)

struct ctx {
	struct archive *a;
	struct archive_entry *e;
};

/* --- the command (mkarchive.c) -------------------------------------------- */

/* "mkarchive: MESSAGE" on stderr, the partly written output removed, exit
 * status 1. */
_Noreturn _printf_(1, 2) void die(const char *fmt, ...);

/* --- writing entries (mkarchive-write.c) ---------------------------------- */

/* die() with libarchive's error about the current entry. */
void die_archive(struct ctx *c, const char *what);
/* LEN pseudo-random bytes seeded with SEED and SALT (caller frees). */
uint8_t *random_bytes(const char *seed, uint64_t salt, size_t len);
/* Starts a new entry with the defaults: owner 0:0, mtime FIXTURE_MTIME,
 * nothing else set. Adjust the returned entry, then call entry_write(). */
struct archive_entry *entry_begin(struct ctx *c, const char *path, unsigned type, unsigned perm);
void entry_write(struct ctx *c, const void *data, size_t len);
void add_dir(struct ctx *c, const char *path, unsigned perm);
void add_file(struct ctx *c, const char *path, unsigned perm, const void *data, size_t len);
void add_text(struct ctx *c, const char *path, unsigned perm, const char *text);
/* A regular file of LEN pseudo-random bytes seeded with its path. */
void add_random(struct ctx *c, const char *path, unsigned perm, size_t len);
void add_symlink(struct ctx *c, const char *path, const char *target);
/* A hardlink entry (typeflag '1'); it carries no data. */
void add_hardlink(struct ctx *c, const char *path, const char *target, unsigned perm);
/* A device (character or block TYPE) of group GID. */
void add_dev(struct ctx *c, const char *path, unsigned type, unsigned perm, unsigned major,
	     unsigned minor, int64_t gid);

struct region {
	uint64_t offset, length;
};
/* Feeds LEN logical bytes of a hole: the pax writer skips them. */
void feed_hole(struct ctx *c, uint64_t len);
/* A sparse regular file of apparent SIZE whose data is only REGIONS (sorted,
 * non-overlapping), each filled with pseudo-random bytes. */
void write_sparse(struct ctx *c, const char *path, unsigned perm, uint64_t size,
		  const struct region *regions, size_t n_regions);

/* --- the kinds: the full fixture and its variants (mkarchive-full.c) ------ */

void kind_full(struct ctx *c);
void kind_full_amd64(struct ctx *c);
void kind_pios(struct ctx *c);
void kind_zeros(struct ctx *c);
void kind_sparse_end(struct ctx *c);

/* --- the kinds: malicious and oversized archives (mkarchive-evil.c) ------- */

void kind_traversal(struct ctx *c);
void kind_traversal_inner(struct ctx *c);
void kind_absolute(struct ctx *c);
void kind_symlink_parent(struct ctx *c);
void kind_symlink_ancestor(struct ctx *c);
void kind_hardlink_missing(struct ctx *c);
void kind_hardlink_self(struct ctx *c);
void kind_hardlink_later(struct ctx *c);
void kind_hardlink_dir(struct ctx *c);
void kind_duplicate(struct ctx *c);
void kind_device_outside_dev(struct ctx *c);
void kind_long_name(struct ctx *c);
void kind_deep(struct ctx *c);
void kind_file_over_dir(struct ctx *c);
void kind_overflow(struct ctx *c);
void kind_bomb_count(struct ctx *c);
void kind_bomb_entries(struct ctx *c);
