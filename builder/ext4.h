/* SPDX-License-Identifier: MIT */
/* ext4 writer: builds an ext4 filesystem inside a region of an image file
 * through libext2fs, one entry at a time, as entries stream in. No mounting,
 * no root privileges, no loop devices.
 *
 * Layout choices: 4 KiB blocks, 256-byte inodes, extents, flex_bg,
 * metadata_csum, no resize_inode. When the size comes from the content, the
 * filesystem is first created at a provisional capacity (at most 16 GiB, so
 * that the group descriptor table is one block whatever the final size) and
 * cut down at ext4_finish() to the blocks in use plus headroom: libext2fs
 * allocates inodes and blocks from the start, so nothing has to move, only
 * the superblock, group descriptors and bitmaps change. The journal is added
 * after the cut.
 *
 * File data is written straight to its final blocks with pwrite(), the
 * blocks taken as the data arrives, in order and from the start (holes and
 * blocks of zeros stay holes; ext4-file.c).
 *
 * This module enforces the mechanics (parents exist and are directories, a
 * name is not used twice); the policy for untrusted archives lives in
 * stream.c. Low-level: never prints; on failure returns -errno and keeps a
 * description of the libext2fs error in ext4_last_error(). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct ext4_writer;

#define EXT4_MAX_PROVISIONAL (16 * GiB)

struct ext4_params {
	const char *path; /* the image file */
	int fd;		  /* the same file, open read-write, for file data */
	uint64_t offset;  /* byte offset of the filesystem in the file */
	uint64_t size;	  /* fixed size, or the provisional capacity when shrink */
	bool shrink;	  /* size from content at ext4_finish() */
	uint8_t uuid[16], hash_seed[16];
	const char *label;
	time_t epoch; /* SOURCE_DATE_EPOCH: every time the fs records */
};

struct ext4_xattr {
	const char *name;
	const void *value;
	size_t size;
};

struct ext4_meta {
	uint32_t mode; /* st_mode: type and permission bits */
	uint32_t uid, gid;
	int64_t mtime;
	uint32_t rdev_major, rdev_minor;
	const struct ext4_xattr *xattrs;
	size_t n_xattrs;
};

/* A range of file data [offset, offset+length); the rest of the file is a hole. */
struct ext4_region {
	uint64_t offset, length;
};

int ext4_new(const struct ext4_params *p, struct ext4_writer **ret);
void ext4_free(struct ext4_writer *w);
const char *ext4_last_error(const struct ext4_writer *w);
/* -ENOSPC (or -EDQUOT) when the failure was writing the image file itself:
 * the disk it is on is full, not the filesystem in it. Else 0. */
int ext4_host_error(const struct ext4_writer *w);

/* 0 and the entry's st_mode, or -ENOENT. PATH is relative ("usr/bin"), ""
 * is the root directory. */
int ext4_lookup(struct ext4_writer *w, const char *path, uint32_t *mode);

/* Creates a directory, or updates the metadata of an existing one. */
int ext4_mkdir(struct ext4_writer *w, const char *path, const struct ext4_meta *m);
/* Makes sure every parent of PATH is a directory, creating the missing ones
 * (root:root 0755, mtime MTIME), outermost first; a path is never resolved
 * through a link. Returns 0, or -errno with the parent it stopped at in
 * *WHERE (to free) and *MODE: that parent's mode when it exists and is no
 * directory (a symlink, a file), 0 when creating it failed
 * (ext4_last_error() says why). */
int ext4_mkdir_parents(struct ext4_writer *w, const char *path, time_t mtime, char **where,
		       uint32_t *mode);
int ext4_symlink(struct ext4_writer *w, const char *path, const char *target,
		 const struct ext4_meta *m);
/* Character/block devices, fifos and sockets. */
int ext4_mknod(struct ext4_writer *w, const char *path, const struct ext4_meta *m);
/* A second name for the regular file TARGET. */
int ext4_hardlink(struct ext4_writer *w, const char *path, const char *target);

/* Regular files: begin with the size and the data regions the source
 * declares (NULL/0: the whole file), write chunks in increasing offset
 * order within the regions, end (which writes what is pending and can
 * fail). M must stay valid until the end. Blocks of zeros become holes. */
int ext4_file_begin(struct ext4_writer *w, const char *path, const struct ext4_meta *m,
		    uint64_t size, const struct ext4_region *regions, size_t n_regions);
/* The same for the existing regular file PATH, whose content is replaced
 * (as open(O_TRUNC) does) and whose owner, mode and time become M's: a
 * hardlink entry that carries the file's data (cpio, pax). */
int ext4_file_rewrite(struct ext4_writer *w, const char *path, const struct ext4_meta *m,
		      uint64_t size, const struct ext4_region *regions, size_t n_regions);
int ext4_file_write(struct ext4_writer *w, uint64_t offset, const void *buf, size_t len);
int ext4_file_end(struct ext4_writer *w);

/* Bytes of the filesystem in use so far. */
uint64_t ext4_used_bytes(const struct ext4_writer *w);
/* Largest file size this filesystem can take. */
uint64_t ext4_capacity(const struct ext4_writer *w);
/* The filesystem's inodes (one per 8 KiB of its size), and in *FREE how
 * many are left. */
uint32_t ext4_inodes(const struct ext4_writer *w, uint32_t *free);

/* Cuts the filesystem to its content plus HEADROOM bytes (when created with
 * shrink), adds the journal, writes all metadata. *SIZE gets the final size
 * in bytes (a multiple of 1 MiB). */
int ext4_finish(struct ext4_writer *w, uint64_t headroom, uint64_t *size);
