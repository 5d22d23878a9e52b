/* SPDX-License-Identifier: MIT */
/* FAT12/16/32 reader: reads the FAT filesystem inside a region of a file
 * (the boot partition of a disk image) without mounting and without mtools.
 *
 * The filesystem is untrusted input. fatr_open() checks the boot sector
 * against the region and refuses nonsense with -EINVAL; every cluster chain
 * is checked as it is followed: a chain that loops, leaves the data area,
 * hits a free or bad cluster, or does not have the length the file's size
 * needs is an error. Names are VFAT long names (UCS-2 on disk, UTF-8 out) when their
 * checksum matches the 8.3 entry that follows, else the 8.3 name with the
 * NT lowercase flags applied. Times are read as UTC.
 *
 * Low-level: never prints; on failure returns -errno and keeps a
 * description in fatr_last_error(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct fatr;

struct fatr_entry {
	char *name; /* UTF-8, never "", ".", ".." and never with '/' */
	bool dir;
	uint32_t cluster; /* first cluster; 0 for an empty file */
	uint32_t size;	  /* bytes, files only */
	int64_t mtime;	  /* seconds since the epoch */
};

/* A file being read: see fatr_file_open(). */
struct fatr_file {
	struct fatr *f;
	uint32_t cluster; /* the cluster holding byte POS */
	uint32_t size, pos;
};

/* Opens the FAT filesystem at byte OFFSET of FD, which must fit in SIZE
 * bytes. FD stays the caller's. */
int fatr_open(int fd, uint64_t offset, uint64_t size, struct fatr **ret);
void fatr_free(struct fatr *f);
const char *fatr_last_error(const struct fatr *f);
/* 12, 16 or 32. */
unsigned fatr_bits(const struct fatr *f);
/* First cluster of the root directory (FAT32), 0 for FAT12/16. */
uint32_t fatr_root_cluster(const struct fatr *f);

/* The entries of directory DIR (NULL: the root directory) in on-disk
 * order, without ".", "..", volume labels and deleted entries. Free the
 * list with fatr_entries_free(). */
int fatr_readdir(struct fatr *f, const struct fatr_entry *dir, struct fatr_entry **ret, size_t *n);
void fatr_entries_free(struct fatr_entry *e, size_t n);

/* Checks the file's whole cluster chain, then positions FF at its start. */
int fatr_file_open(struct fatr *f, const struct fatr_entry *e, struct fatr_file *ff);
/* Reads the next bytes of the file (at most LEN): returns the count, 0 at
 * the end, or -errno. */
ssize_t fatr_file_read(struct fatr_file *ff, void *buf, size_t len);
