/* SPDX-License-Identifier: MIT */
/* ext4 reader: walks the ext4 filesystem inside a region of a file (the
 * root partition of a disk image) through libext2fs, without mounting and
 * without root. The journal is not replayed.
 *
 * Entries come in a fixed order, so that builds are reproducible: the root
 * directory first, then the tree depth first in byte order of names, each
 * directory before its contents. A regular file's first name is reported as
 * the file and its later names as hardlinks to it; other types are
 * reported once per name. /lost+found, which belongs to the filesystem, is
 * not reported.
 *
 * The filesystem is untrusted input: inode numbers (reserved, out of range,
 * not in use), directory loops, depth (64 components), names, directory
 * sizes, extent maps (ordering, length of the walk), symlink targets and
 * the number of extended attributes are checked; encrypted files are
 * refused.
 *
 * Low-level: never prints; on failure returns -errno and keeps a
 * description in ext4r_last_error(). */
#pragma once

#include "ext4.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ext4r;

/* Valid until the next ext4r_next(). */
struct ext4r_entry {
	const char *path; /* "." for the root, else relative: "usr/bin" */
	uint32_t mode;	  /* st_mode: type and permission bits */
	uint32_t uid, gid;
	int64_t mtime;
	uint64_t size;	      /* regular files, not for a hardlink */
	const char *symlink;  /* target of a symlink */
	const char *hardlink; /* for a later name: the file's first name */
	uint32_t rdev_major, rdev_minor;
	const struct ext4_xattr *xattrs;
	size_t n_xattrs;
	const struct ext4_region *regions; /* data regions; NULL: the whole file */
	size_t n_regions;
};

/* Opens the ext4 filesystem at byte OFFSET of FD, which must fit in SIZE
 * bytes. FD stays the caller's. Returns 0; -EINVAL when libext2fs cannot
 * open the filesystem; -EFBIG when it is larger than SIZE; another -errno
 * for a system error. *RET is set even on failure, for ext4r_last_error():
 * free it with ext4r_free(). */
int ext4r_open(int fd, uint64_t offset, uint64_t size, struct ext4r **ret);
void ext4r_free(struct ext4r *er);
const char *ext4r_last_error(const struct ext4r *er);
/* Bytes of the filesystem's blocks in use. */
uint64_t ext4r_used_bytes(const struct ext4r *er);
/* True when the filesystem was not cleanly unmounted. */
bool ext4r_needs_recovery(const struct ext4r *er);
/* Directory PATH (relative, "boot/firmware") is reported but what it holds
 * is not read: something is mounted over it. One path; set it before the
 * first ext4r_next(). */
void ext4r_prune(struct ext4r *er, const char *path);

/* The next entry: 1 and *E, 0 when the tree is done, or -errno. */
int ext4r_next(struct ext4r *er, const struct ext4r_entry **e);
/* Reads the next bytes of the current regular file's data (at most LEN,
 * within one data region, holes skipped) into BUF: returns the count and
 * their offset in the file in *OFFSET, 0 at the end, or -errno. */
ssize_t ext4r_read(struct ext4r *er, void *buf, size_t len, uint64_t *offset);
