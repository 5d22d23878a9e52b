/* SPDX-License-Identifier: MIT */
/* A string-keyed hash map (open addressing, FNV-1a). Keys are copied;
 * values are opaque 64-bit numbers. Used for the path table of the ext4
 * writer (path -> inode) and anywhere a set of names is needed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pathmap;

struct pathmap *pathmap_new(void);
void pathmap_free(struct pathmap *m);
/* Inserts or replaces. */
void pathmap_put(struct pathmap *m, const char *key, uint64_t value);
bool pathmap_get(const struct pathmap *m, const char *key, uint64_t *value);
size_t pathmap_size(const struct pathmap *m);
/* Calls FN for every key, in no particular order. */
void pathmap_each(const struct pathmap *m, void (*fn)(const char *key, uint64_t value, void *ud),
		  void *ud);
