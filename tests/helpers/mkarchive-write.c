/* SPDX-License-Identifier: MIT */
/* mkarchive's entries as libarchive's writer is given them: headers with
 * the fixture's defaults, data, hardlinks, devices, sparse files, and the
 * pseudo-random bytes of file contents. The libarchive caveats they work
 * around: the top of mkarchive.c. */
#include "mkarchive.h"

#define ZERO_CHUNK (4 * MiB)

void die_archive(struct ctx *c, const char *what)
{
	const char *path = archive_entry_pathname(c->e);
	die("%s %s: %s", what, path ? path : "(archive)", archive_error_string(c->a));
}

/* Deterministic pseudo-random bytes: splitmix64 seeded with the FNV-1a hash
 * of a string (usually the entry's path), taken little-endian so that every
 * host produces the same fixture. */
static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t seed_of(const char *s, uint64_t salt)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325) ^ salt;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * UINT64_C(0x100000001b3);
	return h;
}

uint8_t *random_bytes(const char *seed, uint64_t salt, size_t len)
{
	uint8_t *buf = xmalloc(len);
	uint64_t state = seed_of(seed, salt), v = 0;

	for (size_t i = 0; i < len; i++) {
		if (i % 8 == 0)
			v = splitmix64(&state);
		buf[i] = (uint8_t)(v >> (8 * (i % 8)));
	}
	return buf;
}

struct archive_entry *entry_begin(struct ctx *c, const char *path, unsigned type, unsigned perm)
{
	archive_entry_clear(c->e);
	archive_entry_set_pathname(c->e, path);
	archive_entry_set_filetype(c->e, type);
	archive_entry_set_perm(c->e, perm);
	archive_entry_set_uid(c->e, 0);
	archive_entry_set_gid(c->e, 0);
	archive_entry_set_mtime(c->e, FIXTURE_MTIME, 0);
	return c->e;
}

static void write_data(struct ctx *c, const void *data, size_t len)
{
	la_ssize_t n = archive_write_data(c->a, data, len);
	if (n < 0)
		die_archive(c, "writing data of");
	if ((size_t)n != len)
		die("writing data of %s: short write (%zd of %zu bytes)",
		    archive_entry_pathname(c->e), (ssize_t)n, len);
}

void entry_write(struct ctx *c, const void *data, size_t len)
{
	bool regular = archive_entry_filetype(c->e) == AE_IFREG && !archive_entry_hardlink(c->e);

	if (regular)
		archive_entry_set_size(c->e, (la_int64_t)len);
	/* ARCHIVE_WARN too: it means something was altered or dropped. */
	if (archive_write_header(c->a, c->e) != ARCHIVE_OK)
		die_archive(c, "writing header of");
	if (regular && len > 0)
		write_data(c, data, len);
}

void add_dir(struct ctx *c, const char *path, unsigned perm)
{
	entry_begin(c, path, AE_IFDIR, perm);
	entry_write(c, NULL, 0);
}

void add_file(struct ctx *c, const char *path, unsigned perm, const void *data, size_t len)
{
	entry_begin(c, path, AE_IFREG, perm);
	entry_write(c, data, len);
}

void add_text(struct ctx *c, const char *path, unsigned perm, const char *text)
{
	add_file(c, path, perm, text, strlen(text));
}

void add_random(struct ctx *c, const char *path, unsigned perm, size_t len)
{
	_cleanup_free_ uint8_t *buf = random_bytes(path, 0, len);
	add_file(c, path, perm, buf, len);
}

void add_symlink(struct ctx *c, const char *path, const char *target)
{
	entry_begin(c, path, AE_IFLNK, 0777);
	archive_entry_set_symlink(c->e, target);
	entry_write(c, NULL, 0);
}

void add_hardlink(struct ctx *c, const char *path, const char *target, unsigned perm)
{
	entry_begin(c, path, AE_IFREG, perm);
	archive_entry_set_hardlink(c->e, target);
	entry_write(c, NULL, 0);
}

void add_dev(struct ctx *c, const char *path, unsigned type, unsigned perm, unsigned major,
	     unsigned minor, int64_t gid)
{
	entry_begin(c, path, type, perm);
	archive_entry_set_rdevmajor(c->e, major);
	archive_entry_set_rdevminor(c->e, minor);
	archive_entry_set_gid(c->e, gid);
	entry_write(c, NULL, 0);
}

void feed_hole(struct ctx *c, uint64_t len)
{
	/* Not const: keeps the 4 MiB in .bss rather than in the binary. */
	static uint8_t zeros[ZERO_CHUNK];

	while (len > 0) {
		size_t n = (size_t)MIN(len, (uint64_t)sizeof(zeros));
		write_data(c, zeros, n);
		len -= n;
	}
}

void write_sparse(struct ctx *c, const char *path, unsigned perm, uint64_t size,
		  const struct region *regions, size_t n_regions)
{
	uint64_t pos = 0;

	entry_begin(c, path, AE_IFREG, perm);
	archive_entry_set_size(c->e, (la_int64_t)size);
	for (size_t i = 0; i < n_regions; i++)
		archive_entry_sparse_add_entry(c->e, (la_int64_t)regions[i].offset,
					       (la_int64_t)regions[i].length);
	if (archive_write_header(c->a, c->e) != ARCHIVE_OK)
		die_archive(c, "writing header of");

	for (size_t i = 0; i < n_regions; i++) {
		_cleanup_free_ uint8_t *buf =
			random_bytes(path, regions[i].offset, (size_t)regions[i].length);

		feed_hole(c, regions[i].offset - pos);
		write_data(c, buf, (size_t)regions[i].length);
		pos = regions[i].offset + regions[i].length;
	}
	/* A trailing hole needs no feeding: the map ends at the last region
	 * and GNU.sparse.realsize carries the apparent size. */
}
