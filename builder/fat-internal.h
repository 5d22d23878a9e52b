/* SPDX-License-Identifier: MIT */
/* What fat.c and fat-names.c share: the in-memory directory tree, the
 * directory entry format, and the name handling that fat-names.c does
 * (UTF-8 to UCS-2 with validation, case-insensitive lookup, 8.3 aliases,
 * long-name entries, the volume label). Not for other modules: they use
 * fat.h. */
#pragma once

#include "fat.h"

#include <stdbool.h>
#include <stddef.h>

#define DIR_ENTRY    32u
#define LFN_MAX	     255u
#define LFN_CHARS    13u /* UCS-2 characters per long-name entry */
#define ATTR_VOLUME  0x08u
#define ATTR_DIR     0x10u
#define ATTR_ARCHIVE 0x20u
#define ATTR_LFN     0x0Fu

struct fat_node {
	struct fat_node *parent;
	struct fat_node **kids; /* directories: children in insertion order */
	size_t nkids, capkids;
	uint16_t *uname; /* long name, UCS-2 */
	size_t ulen;
	uint8_t sname[11]; /* 8.3 name, space padded, upper case */
	uint8_t nlfn;	   /* long-name entries; 0 = short entry only */
	bool dir;
	uint32_t cluster; /* first cluster, 0 for an empty file */
	uint32_t entries; /* directories: 32-byte entries used */
	uint64_t size;
	time_t mtime;
};

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xFF;
	p[1] = v >> 8;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, v & 0xFFFF);
	put16(p + 2, v >> 16);
}

/* The first LEN bytes of S as a long name in OUT (LFN_MAX characters), its
 * length in *RET. -EINVAL for what a FAT long name cannot hold faithfully:
 * invalid UTF-8, characters beyond the BMP, control and reserved
 * characters, more than LFN_MAX characters, "", "." and "..", and a
 * trailing dot or space. */
int fat_utf8_to_ucs2(const char *s, size_t len, uint16_t *out, size_t *ret);

/* The child of D named U (case-insensitively, ASCII only), or NULL. */
struct fat_node *fat_find_child(const struct fat_node *d, const uint16_t *u, size_t ulen);

/* Sets N's 8.3 name, case flags and number of long-name entries from its
 * long name, unique among D's children. */
void fat_make_short_name(const struct fat_node *d, struct fat_node *n);

/* Writes N's long-name entries (none when N->nlfn is 0) from E on and
 * returns where N's 8.3 entry goes. */
uint8_t *fat_put_lfn(uint8_t *e, const struct fat_node *n);
