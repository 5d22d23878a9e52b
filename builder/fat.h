/* SPDX-License-Identifier: MIT */
/* FAT32 writer: builds a FAT32 filesystem inside a region of an image file,
 * in-process (no mkfs.vfat, no mtools), in a single pass.
 *
 * File data is written to its clusters as it arrives (each file gets one
 * contiguous run of clusters, allocated in the order files are added);
 * directories and both FAT copies are kept in memory and written by
 * fat_finish(). Every sector the filesystem depends on (boot sectors, FSInfo,
 * reserved sectors, both FATs, directory clusters, file clusters) is written
 * explicitly, so that a bmap of the image maps them even when they are zero.
 *
 * Names are stored as VFAT long names (UTF-8 in, UCS-2 on disk) with
 * deterministic 8.3 aliases; names that are valid 8.3 in one case get a plain
 * short entry (with the lowercase flags where needed). Timestamps are UTC.
 * Output is byte-identical for the same calls. */
#pragma once

#include <stdint.h>
#include <time.h>

struct fat_writer;
struct fat_file;

struct fat_params {
	uint64_t offset;   /* byte offset of the filesystem in fd (sector aligned) */
	uint64_t size;	   /* size in bytes; at least 33 MiB (FAT32 minimum) */
	uint32_t serial;   /* volume serial number */
	const char *label; /* volume label, <= 11 chars, stored upper case */
	time_t mtime;	   /* time for directories and the volume label */
};

/* LABEL (NULL or "": none) as an 11-byte space-padded upper case volume
 * label in OUT; -EINVAL when it is longer, starts with a space or holds a
 * character an 8.3 name cannot. */
int fat_parse_label(const char *label, uint8_t out[11]);

/* Returns 0 or a negative errno (-EINVAL for a bad size/label, -ENOSPC ...).
 * Low-level: never prints. */
int fat_new(int fd, const struct fat_params *params, struct fat_writer **ret);

/* Creates directory PATH ("a/b", no leading slash, parents created as
 * needed). Idempotent for an existing directory; -ENOTDIR if a file is in
 * the way. */
int fat_mkdir(struct fat_writer *w, const char *path, time_t mtime);

/* Adds file PATH of SIZE bytes (parents created as needed); -EEXIST if the
 * path exists, -ENOSPC if the clusters do not fit, -EMLINK if the directory
 * has no room for its entries (FAT's 65536 a directory), -EINVAL for a name FAT
 * cannot hold. Then call fat_file_write() with consecutive chunks covering
 * exactly [0, SIZE), then fat_file_close(), which returns -EIO if fewer or
 * more than SIZE bytes were written. */
int fat_file_open(struct fat_writer *w, const char *path, uint64_t size, time_t mtime,
		  struct fat_file **ret);
int fat_file_write(struct fat_file *f, const void *buf, size_t len);
int fat_file_close(struct fat_file *f);

/* Convenience: a whole file from memory. */
int fat_add_file(struct fat_writer *w, const char *path, const void *data, uint64_t size,
		 time_t mtime);

/* Bytes still free in the data area. */
uint64_t fat_free_bytes(const struct fat_writer *w);

/* Writes directories, both FATs, FSInfo and boot sectors. Returns 0 or
 * -errno. fat_free() must be called in all cases. */
int fat_finish(struct fat_writer *w);
void fat_free(struct fat_writer *w);
