/* SPDX-License-Identifier: MIT */
/* A base rootfs is read as a stream of entries from a source: a tar archive
 * in any compression libarchive reads (source-archive.c), or a disk image in
 * the Raspberry Pi OS layout (source-image.c). stream.c applies the same
 * rules (SECURITY.md, "Reading untrusted input") to every source, so a
 * source only reports what it holds and never decides what is acceptable. */
#pragma once

#include "ext4.h"
#include "hash.h"

#include <stdbool.h>
#include <stdint.h>

struct source_entry {
	const char *path; /* as the source names it; stream.c normalizes it */
	uint32_t mode;	  /* st_mode: type and permission bits */
	int64_t uid, gid; /* as the source gives them: stream.c checks the range */
	int64_t mtime;
	bool size_known;
	uint64_t size;
	const char *symlink;  /* target of a symlink */
	const char *hardlink; /* for a second name: the earlier path it links to */
	uint64_t rdev_major, rdev_minor;
	const struct ext4_xattr *xattrs; /* names and sizes unchecked */
	size_t n_xattrs;
	const struct ext4_region *regions; /* data regions; NULL: the whole file */
	size_t n_regions;
};

struct source;

struct source_ops {
	/* The next entry: 1 and *E (valid until the next call), 0 at the end,
	 * or -errno with source_error() set. */
	int (*next)(struct source *s, struct source_entry **e);
	/* The next chunk of the current entry's data, in increasing offset
	 * order: 1, 0 at the end of the data, or -errno. */
	int (*read)(struct source *s, const void **buf, size_t *len, uint64_t *offset);
	/* After the last entry: reads what is left, so the hash covers the file. */
	int (*finish)(struct source *s);
	void (*free)(struct source *s);
};

struct source {
	const struct source_ops *ops;
	char *path;	  /* the file, for messages */
	const char *kind; /* "archive", "disk image" */
	char error[512];
	uint64_t done, total;	     /* bytes of the file read so far, and its size */
	uint64_t expanded;	     /* bytes the content has expanded to so far */
	char sha256[SHA256_HEX_LEN]; /* of the whole file, after finish */
	bool warned;		     /* a warning was printed for the current entry */
};

/* Opens PATH as whatever it is (a disk image when it has the Raspberry Pi OS
 * layout, else an archive). Returns 0, or -errno after printing one
 * message that names the file. */
int source_open(const char *path, struct source **ret);
void source_free(struct source *s);
static inline const char *source_error(const struct source *s) { return s->error; }

/* Constructors of the source kinds (fd is owned by the source). */
int source_archive_open(const char *path, int fd, struct source **ret);
int source_image_open(const char *path, int fd, struct source **ret);
/* True when FD holds an MBR disk image, raw or compressed (xz, gzip, zstd):
 * a 55 AA boot signature, a valid partition entry, and not a tar. Reads
 * with pread(), so the file offset is left alone. */
bool source_image_probe(int fd);
