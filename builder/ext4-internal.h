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

struct mapped {
	blk64_t lblk, pblk, len;
};

struct ext4_writer {
	ext2_filsys fs;
	int fd;
	uint64_t offset;
	bool shrink;
	time_t epoch;
	struct pathmap *paths; /* path -> ino << 16 | mode >> 12 */
	char err[512];

	/* The regular file being written. */
	ext2_ino_t cur_ino;
	uint64_t cur_size, cur_pos;
	struct mapped *map;
	size_t n_map, cap_map;
};

/* Records a message (with libext2fs's text for E) and returns -errno. */
int ext4_fail(struct ext4_writer *w, errcode_t e, const char *fmt, ...) _printf_(3, 4);

/* Cuts a filesystem created with shrink to its content plus HEADROOM
 * bytes (ext4-shrink.c). */
int ext4_shrink_to_content(struct ext4_writer *w, uint64_t headroom);
