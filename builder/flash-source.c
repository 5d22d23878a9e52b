/* SPDX-License-Identifier: MIT */
/* The image a flash reads: NAME.img at offsets, or NAME.img.zst as one
 * forward stream (the holes decompress to zeros and are dropped). Both
 * must be regular files. */
#include "fileio.h"
#include "flash.h"
#include "log.h"
#include "util.h"

#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <zstd.h>

struct flash_source {
	char *path;
	int fd;
	bool zst;
	uint64_t size;
	uint8_t *head;
	size_t head_len;
	/* zst */
	ZSTD_DCtx *dctx;
	uint8_t *in;
	size_t in_size;
	ZSTD_inBuffer zin;
	uint64_t pos; /* bytes of the image decompressed so far */
	bool eof;
	uint8_t *scratch;
};

static int zst_fill(struct flash_source *s)
{
	ssize_t n;

	do
		n = read(s->fd, s->in, s->in_size);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return log_error_errno(errno, "%s: read failed: %m", s->path);
	s->zin = (ZSTD_inBuffer){ s->in, (size_t)n, 0 };
	s->eof = n == 0;
	return 0;
}

/* The next LEN bytes of the stream into BUF (NULL: dropped). */
static int zst_next(struct flash_source *s, uint8_t *buf, size_t len)
{
	while (len > 0) {
		uint8_t *dst = buf ? buf : s->scratch;
		ZSTD_outBuffer out = { dst, buf ? len : MIN(len, ZSTD_DStreamOutSize()), 0 };
		size_t rem;

		if (s->zin.pos == s->zin.size) {
			int r = zst_fill(s);
			if (r < 0)
				return r;
			if (s->eof)
				return log_error("%s: the stream ends after %" PRIu64
						 " of the image's %" PRIu64
						 " bytes: the file is truncated",
						 s->path, s->pos, s->size);
		}
		rem = ZSTD_decompressStream(s->dctx, &out, &s->zin);
		if (ZSTD_isError(rem))
			return log_error("%s: cannot decompress at byte %" PRIu64
					 " of the image: %s",
					 s->path, s->pos, ZSTD_getErrorName(rem));
		s->pos += out.pos;
		len -= out.pos;
		if (buf)
			buf += out.pos;
		(void)rem; /* 0 at the end of a frame: another may follow */
	}
	return 0;
}

int flash_source_open(const char *path, bool zst, uint64_t size, size_t head_len,
		      struct flash_source **ret)
{
	struct flash_source *s = xcalloc(1, sizeof(*s));
	struct stat st;
	int r;

	s->fd = -1;
	s->path = xstrdup(path);
	s->zst = zst;
	s->size = size;
	s->head_len = (size_t)MIN((uint64_t)head_len, size);
	s->head = xmalloc(MAX(s->head_len, (size_t)1));
	s->fd = open_regular(AT_FDCWD, path, 0, false);
	if (s->fd < 0) {
		r = log_error("Cannot open the image %s: %s", path, open_error(s->fd));
		goto fail;
	}
	if (fstat(s->fd, &st) < 0) {
		r = log_error_errno(errno, "Cannot stat %s: %m", path);
		goto fail;
	}
	if (!zst) {
		if ((uint64_t)st.st_size != size) {
			r = log_error("%s has %" PRIu64 " bytes, but its block map says %" PRIu64
				      ": they are not from the same build; rebuild the image",
				      path, (uint64_t)st.st_size, size);
			goto fail;
		}
		posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
		r = pread_full(s->fd, s->head, s->head_len, 0);
		if (r < 0) {
			r = log_error_errno(r, "%s: read failed: %m", path);
			goto fail;
		}
		*ret = s;
		return 0;
	}

	s->dctx = ZSTD_createDCtx();
	s->in_size = ZSTD_DStreamInSize();
	s->in = xmalloc(s->in_size);
	s->scratch = xmalloc(ZSTD_DStreamOutSize());
	if (!s->dctx) {
		r = log_error_errno(ENOMEM, "Out of memory");
		goto fail;
	}
	r = zst_fill(s);
	if (r < 0)
		goto fail;
	{
		unsigned long long fs = ZSTD_getFrameContentSize(s->zin.src, s->zin.size);
		if (fs == ZSTD_CONTENTSIZE_ERROR) {
			r = log_error("%s is not a zstd stream", path);
			goto fail;
		}
		if (fs != ZSTD_CONTENTSIZE_UNKNOWN && fs != size) {
			r = log_error("%s holds an image of %llu bytes, but its block map says %" PRIu64
				      ": they are not from the same build; rebuild the image",
				      path, fs, size);
			goto fail;
		}
	}
	r = zst_next(s, s->head, s->head_len);
	if (r < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	flash_source_free(s);
	return r;
}

const uint8_t *flash_source_head(const struct flash_source *s) { return s->head; }

int flash_source_read(struct flash_source *s, uint64_t off, void *buf, size_t len)
{
	uint8_t *b = buf;

	if (off < s->head_len) {
		size_t n = (size_t)MIN((uint64_t)len, s->head_len - off);
		memcpy(b, s->head + off, n);
		off += n;
		b += n;
		len -= n;
	}
	if (!len)
		return 0;
	if (!s->zst) {
		int r = pread_full(s->fd, b, len, off);
		return r < 0 ? log_error_errno(r, "%s: read failed at byte %" PRIu64 ": %m",
					       s->path, off)
			     : 0;
	}
	if (off < s->pos)
		return log_error("%s: internal error: reading back to byte %" PRIu64, s->path, off);
	if (off > s->pos) {
		int r = zst_next(s, NULL, (size_t)(off - s->pos));
		if (r < 0)
			return r;
	}
	return zst_next(s, b, len);
}

void flash_source_free(struct flash_source *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	ZSTD_freeDCtx(s->dctx);
	free(s->in);
	free(s->scratch);
	free(s->head);
	free(s->path);
	free(s);
}
