/* SPDX-License-Identifier: MIT */
/* What source-ext4.c (the walk) and source-ext4-inode.c (what one inode
 * holds) share: the reader's state and its error reporting. Not for other
 * modules: they use source-ext4.h. */
#pragma once

#include "source-ext4.h"
#include "pathmap.h"
#include "util.h"

#include <et/com_err.h>
#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>

#define MAX_DEPTH  64 /* path components, as stream.c */
#define MAX_XATTRS 64

struct name {
	char *name;
	ext2_ino_t ino;
};

/* A directory being walked: its sorted entries and its path's length. */
struct level {
	struct name *v;
	size_t n, i, len;
};

struct ext4r {
	ext2_filsys fs;
	struct level stack[MAX_DEPTH + 1];
	size_t depth;
	bool started;
	char path[MAX_DEPTH * 256 + 2];
	char *prune;
	struct pathmap *seen; /* "d<ino>": directories; "f<ino>": files */
	char **links;	      /* first names of files with more than one */
	size_t n_links, cap_links;

	/* The current entry and its data. */
	struct ext4r_entry e;
	struct ext2_inode_large inode;
	ext2_ino_t ino;
	char *target;
	struct ext2_xattr_handle *xh;
	struct ext4_xattr xattrs[MAX_XATTRS];
	void *acls[2]; /* ACL values converted to the xattr form, ours */
	struct ext4_region *regions, whole;
	size_t cap_regions, region;
	uint64_t pos;
	ext2_file_t file;
	bool data; /* a regular file, whose data ext4r_read() reads */

	char err[512];
};

/* Keeps the message in ER->err, with E's when E is set; returns -E when
 * it is an errno, else -EIO. */
int ext4r_fail(struct ext4r *er, errcode_t e, const char *fmt, ...) _printf_(3, 4);

/* The current regular file's data regions (SIZE bytes), for ext4r_read(). */
int ext4r_map_file(struct ext4r *er, uint64_t size);
/* The current symlink's target. */
int ext4r_read_symlink(struct ext4r *er);
/* The current entry's extended attributes, POSIX ACLs converted. */
int ext4r_read_xattrs(struct ext4r *er);
/* The current device node's numbers. */
void ext4r_device_numbers(struct ext4r *er);
