/* SPDX-License-Identifier: MIT */
/* The disk image's file, before its partitions are read (source-image.c):
 * recognising one (an MBR, raw or compressed with xz, gzip or zstd) and
 * decompressing a compressed one (libarchive, raw format) into an unnamed
 * temporary file in $TMPDIR, zero blocks left as holes. */
#include "log.h"
#include "source-image-internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>

#define MAX_IMAGE  (64 * GiB)
#define ZERO_BLOCK ((size_t)(64 * KiB))

struct reader {
	int fd;
	uint64_t off;
	uint8_t *buf;
	struct sha256_ctx *sha;
};

static la_ssize_t reader_read(struct archive *a, void *data, const void **out)
{
	struct reader *rd = data;
	ssize_t n;

	do
		n = pread(rd->fd, rd->buf, CHUNK, (off_t)rd->off);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		archive_set_error(a, errno, "read error");
		return -1;
	}
	if (rd->sha)
		sha256_update(rd->sha, rd->buf, (size_t)n);
	rd->off += (uint64_t)n;
	*out = rd->buf;
	return n;
}

bool image_compressed(const uint8_t *b, size_t n)
{
	return (n >= 6 && memcmp(b,
				 "\xFD"
				 "7zXZ\0",
				 6) == 0) ||
	       (n >= 2 && b[0] == 0x1F && b[1] == 0x8B) ||
	       (n >= 4 && memcmp(b, "\x28\xB5\x2F\xFD", 4) == 0);
}

static void free_archive(struct archive **a) { archive_read_free(*a); }

/* RD's file as one decompressed stream. An error shows on the first read. */
static struct archive *open_raw(struct reader *rd)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;

	archive_read_support_filter_xz(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_format_raw(a);
	if (archive_read_open(a, rd, NULL, reader_read, NULL) == ARCHIVE_OK)
		(void)archive_read_next_header(a, &ae);
	return a;
}

/* Up to LEN decompressed bytes: the count, or -1. */
static ssize_t read_full(struct archive *a, uint8_t *buf, size_t len)
{
	size_t have = 0;

	while (have < len) {
		la_ssize_t n = archive_read_data(a, buf + have, len - have);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		have += (size_t)n;
	}
	return (ssize_t)have;
}

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool mbr_probe(const uint8_t *b, size_t n)
{
	bool valid = false;

	if (n < 512 || b[510] != 0x55 || b[511] != 0xAA ||
	    (n >= 262 && memcmp(b + 257, "ustar", 5) == 0))
		return false;
	for (int i = 0; i < 4; i++) {
		const uint8_t *p = b + 446 + 16 * i;

		if (p[0] != 0 && p[0] != 0x80)
			return false;
		valid |= p[4] && le32(p + 8) && le32(p + 12);
	}
	return valid;
}

bool source_image_probe(int fd)
{
	_cleanup_free_ uint8_t *buf = xmalloc(PEEK), *rbuf = NULL;
	_cleanup_(free_archive) struct archive *a = NULL;
	struct reader rd = { .fd = fd };
	ssize_t n = pread(fd, buf, PEEK, 0);

	if (n < 0)
		return false;
	if (!image_compressed(buf, (size_t)n))
		return mbr_probe(buf, (size_t)n);
	rd.buf = rbuf = xmalloc(CHUNK);
	a = open_raw(&rd);
	n = read_full(a, buf, PEEK);
	return n > 0 && mbr_probe(buf, (size_t)n);
}

/* An unnamed file in $TMPDIR: nothing is left behind, whatever happens. */
static int open_tmp(void)
{
	const char *dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	_cleanup_free_ char *name = NULL;
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd < 0 ? -errno : fd;
	name = xasprintf("%s/farm-image.XXXXXX", dir);
	fd = mkostemp(name, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	(void)unlink(name);
	return fd;
}

int image_decompress(struct image_file *f)
{
	struct reader rd = { .fd = f->fd, .buf = f->buf, .sha = f->sha };
	_cleanup_free_ uint8_t *out = xmalloc(CHUNK);
	_cleanup_(free_archive) struct archive *a = NULL;
	uint64_t size = 0;
	int r;

	*f->img = open_tmp();
	if (*f->img < 0)
		return log_error_errno(*f->img,
				       "%s: cannot create a temporary file in $TMPDIR to "
				       "decompress the disk image into: %m",
				       f->path);
	a = open_raw(&rd);
	for (;;) {
		ssize_t n = read_full(a, out, CHUNK);
		if (n < 0)
			return log_error("%s: cannot decompress the disk image: %s", f->path,
					 archive_error_string(a));
		if (n == 0)
			break;
		if (size + (uint64_t)n > MAX_IMAGE)
			return log_error("%s: the disk image expands to more than 64 GiB; "
					 "refusing it",
					 f->path);
		for (size_t o = 0; o < (size_t)n; o += ZERO_BLOCK) {
			size_t len = MIN(ZERO_BLOCK, (size_t)n - o);
			if (mem_is_zero(out + o, len))
				continue;
			r = pwrite_full(*f->img, out + o, len, size + o);
			if (r < 0)
				return log_error_errno(r,
						       "%s: cannot write the decompressed "
						       "disk image to $TMPDIR: %m",
						       f->path);
		}
		size += (uint64_t)n;
	}
	*f->hashed = rd.off;
	if (ftruncate(*f->img, (off_t)size) < 0)
		return log_error_errno(errno, "%s: cannot size the decompressed disk image: %m",
				       f->path);
	return 0;
}
