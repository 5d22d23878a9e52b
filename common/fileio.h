/* SPDX-License-Identifier: MIT */
/* Files written so that a power cut leaves either the old content or the
 * new one, never half of it (SECURITY.md, "First boot must survive a power
 * cut"): a temporary file in the same directory, written, fsync'ed,
 * renamed, then the directory fsync'ed. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Writes DATA to PATH atomically with MODE. Returns 0 or -errno. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Reads a whole (small) file; *RET is NUL-terminated. Returns 0 or -errno. */
int read_file(const char *path, char **ret, size_t *len, size_t max);
/* mkdir -p with MODE for the directories it creates. Returns 0 or -errno. */
int mkdir_p(const char *path, mode_t mode);
/* fsync of a directory. */
int fsync_dir(const char *dir);
