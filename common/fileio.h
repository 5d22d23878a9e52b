/* SPDX-License-Identifier: MIT */
/* Files written so that a power cut leaves either the old content or the
 * new one, never half of it (SECURITY.md, "First boot must survive a power
 * cut"): a temporary file in the same directory, written, fsync'ed,
 * renamed, then the directory fsync'ed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Writes DATA to PATH atomically with MODE. Returns 0 or -errno. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Opens PATH (relative to DFD, or AT_FDCWD) for reading, refusing what is
 * not a regular file before anything can wait on it: a FIFO (open() would
 * block until a writer comes, read() until it writes), a device (/dev/zero
 * never ends), a directory. With BLOCK_OK, a block device is taken too.
 * FLAGS are added (O_NOFOLLOW...). Returns the descriptor, or -errno:
 * -EINVAL for what is not a regular file (see open_error()). Every reader
 * of a file the user names goes through this. */
int open_regular(int dfd, const char *path, int flags, bool block_ok);
/* The reason for a message: "not a regular file" for -EINVAL. */
const char *open_error(int r);
/* Reads a whole (small) file; *RET is NUL-terminated. Returns 0 or -errno. */
int read_file(const char *path, char **ret, size_t *len, size_t max);
/* mkdir -p with MODE for the directories it creates. Returns 0 or -errno. */
int mkdir_p(const char *path, mode_t mode);
/* fsync of a directory. */
int fsync_dir(const char *dir);
/* syncfs of the filesystem PATH is on: everything written to it is durable.
 * Returns 0 or -errno. */
int syncfs_of(const char *path);
