/* SPDX-License-Identifier: MIT */
/* What ext4.c and ext4-shrink.c share: the writer's state and its error
 * reporting. Not for other modules: they use ext4.h. */
#pragma once

#include "ext4.h"
#include "util.h"
#include "pathmap.h"

#include <et/com_err.h>
#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>

#define BLOCK_SIZE 4096

struct ext4_writer {
	ext2_filsys fs;
	int fd;
	uint64_t offset;
	bool shrink;
	time_t epoch;
	struct pathmap *paths; /* path -> ino << 16 | mode >> 12 */
	char err[512];
	int host_error;	       /* -errno of a failed write to the image file */
	errcode_t write_error; /* the first failed write, seen by libext2fs's hook */
	ext2_ino_t *indexed;   /* the directories made htrees (ext4-dir.c) */
	size_t n_indexed, cap_indexed;

	/* The regular file being written (ext4-file.c). */
	ext2_ino_t cur_ino;
	char *cur_path;
	const struct ext4_meta *cur_meta; /* its xattrs are set at the end */
	struct ext2_inode cur_in;
	ext2_extent_handle_t cur_h;
	struct ext2fs_extent cur_last; /* its last extent */
	bool cur_has_last;
	uint64_t cur_size, cur_pos;
	blk64_t cur_goal;		 /* where its next block goes */
	struct ext4_region *cur_regions; /* the data regions it declared */
	size_t cur_n_regions, cur_region;
	uint8_t *pend; /* a block that arrives in pieces */
	blk64_t pend_lblk;
	bool pend_valid;

	/* File data for consecutive blocks, not yet written (ext4-file.c). */
	uint8_t *gather;
	uint64_t gather_at; /* its offset in the image file */
	size_t gather_len;
};

/* Records a message (with libext2fs's text for E) and returns -errno. */
int ext4_fail(struct ext4_writer *w, errcode_t e, const char *fmt, ...) _printf_(3, 4);

/* What ext4.c provides to the other parts of the writer. */
ext2_ino_t ext4_lookup_ino(struct ext4_writer *w, const char *path);
/* A new inode of any type except directories and symlinks, linked at PATH. */
int ext4_new_inode(struct ext4_writer *w, const char *path, const struct ext4_meta *m,
		   ext2_ino_t *ret);
/* Owner, mode (only the permission bits with KEEP_TYPE), times, device
 * numbers. */
errcode_t ext4_set_meta(struct ext4_writer *w, ext2_ino_t ino, const struct ext4_meta *m,
			bool keep_type);
int ext4_set_xattrs(struct ext4_writer *w, ext2_ino_t ino, const char *path,
		    const struct ext4_meta *m);
/* Zeroes what follows each name in the htree directories' entries
 * (ext4-dir.c): libext2fs's leaf splits leave bytes of its own memory there,
 * which differ from run to run. */
errcode_t ext4_dir_scrub(struct ext4_writer *w);
/* Adds NAME -> INO (of FILE_TYPE) to directory DIR, which does not hold
 * NAME yet (ext4-dir.c). */
errcode_t ext4_dir_link(struct ext4_writer *w, ext2_ino_t dir, const char *name, ext2_ino_t ino,
			int file_type);
/* Writes the file data gathered so far (ext4-file.c): before any block is
 * given back, and before the metadata. */
int ext4_file_flush(struct ext4_writer *w);
/* Frees the state of the file being written (ext4-file.c). */
void ext4_file_free(struct ext4_writer *w);

/* Cuts a filesystem created with shrink to its content plus HEADROOM
 * bytes (ext4-shrink.c). */
int ext4_shrink_to_content(struct ext4_writer *w, uint64_t headroom);
