/* SPDX-License-Identifier: MIT */
#include "derive.h"
#include "log.h"
#include "threads.h"
#include "zst.h"

#define BMAP_BLOCK     4096
#define CHUNK	       (1 << 20)
#define WRITEBACK_STEP (32 * MiB) /* of .zst, then its writeback starts */

struct range {
	uint64_t first, last; /* blocks, inclusive */
	char sha[SHA256_HEX_LEN];
};

/* How much of the .zst is written, for the thread that hashes it. */
struct zst_progress {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t written;
	bool done; /* nothing more will be written */
};

struct deriver {
	const struct outputs *o;
	const char *name;
	int img_fd, zst_fd;
	struct zst *zst;
	struct zst_progress *zp;
	uint64_t zst_size, zst_flushed;
	const int *hash_err; /* the hasher's: once set, compressing on is wasted */
};

static void zst_published(struct zst_progress *zp, uint64_t written, bool done)
{
	pthread_mutex_lock(&zp->lock);
	zp->written = written;
	zp->done |= done;
	pthread_cond_signal(&zp->cond);
	pthread_mutex_unlock(&zp->lock);
}

/* The .zst's bytes as the frame is made. */
static int zst_write(void *opaque, const void *buf, size_t len)
{
	struct deriver *d = opaque;
	int r = write_full(d->zst_fd, buf, len);

	if (r < 0)
		return outputs_write_failed(d->o, OUT_ZST, r);
	d->zst_size += len;
	zst_published(d->zp, d->zst_size, false);
	if (d->zst_size >= d->zst_flushed + WRITEBACK_STEP) {
		outputs_writeback(d->o, OUT_ZST);
		d->zst_flushed = d->zst_size;
	}
	return 0;
}

/* The data extents of the file, at block granularity. */
static int next_data(int fd, uint64_t from, uint64_t size, uint64_t *start, uint64_t *end)
{
	off_t d = lseek(fd, (off_t)from, SEEK_DATA), h;

	if (d < 0)
		return errno == ENXIO ? 0 : -errno;
	h = lseek(fd, d, SEEK_HOLE);
	if (h < 0)
		return -errno;
	*start = (uint64_t)d / BMAP_BLOCK * BMAP_BLOCK;
	*end = MIN(ALIGN_UP((uint64_t)h, BMAP_BLOCK), size);
	return 1;
}

static int write_bmap(const struct outputs *o, const char *name, uint64_t size,
		      const struct range *ranges, size_t n, uint64_t mapped)
{
	char *text = NULL, *p;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	uint8_t digest[SHA256_LEN];
	char hex[SHA256_HEX_LEN], zeros[SHA256_HEX_LEN];
	int r;

	if (!f)
		return log_error_errno(errno, "%s.bmap: %m", name);
	memset(zeros, '0', SHA256_HEX_LEN - 1);
	zeros[SHA256_HEX_LEN - 1] = 0;
	/* The comment names neither the image nor an option: an XML comment
	 * cannot hold "--", which a node's name may (xn--...), and a map that
	 * is not XML is refused whole by bmaptool (ElementTree) and farm-image
	 * flash (expat). The file's name says whose map it is. */
	fprintf(f,
		"<?xml version=\"1.0\" ?>\n"
		"<!-- Block map of a node's disk image, written by farm-image: the blocks\n"
		"     that hold data. Flash it with farm-image's flash command; bmaptool\n"
		"     copy reads it too. -->\n"
		"<bmap version=\"2.0\">\n"
		"    <ImageSize> %llu </ImageSize>\n"
		"    <BlockSize> %u </BlockSize>\n"
		"    <BlocksCount> %llu </BlocksCount>\n"
		"    <MappedBlocksCount> %llu </MappedBlocksCount>\n"
		"    <ChecksumType> sha256 </ChecksumType>\n"
		"    <BmapFileChecksum> %s </BmapFileChecksum>\n"
		"    <BlockMap>\n",
		(unsigned long long)size, BMAP_BLOCK,
		(unsigned long long)DIV_ROUND_UP(size, BMAP_BLOCK),
		(unsigned long long)(mapped / BMAP_BLOCK), zeros);
	for (size_t i = 0; i < n; i++) {
		if (ranges[i].first == ranges[i].last)
			fprintf(f, "        <Range chksum=\"%s\"> %llu </Range>\n", ranges[i].sha,
				(unsigned long long)ranges[i].first);
		else
			fprintf(f, "        <Range chksum=\"%s\"> %llu-%llu </Range>\n",
				ranges[i].sha, (unsigned long long)ranges[i].first,
				(unsigned long long)ranges[i].last);
	}
	fprintf(f, "    </BlockMap>\n</bmap>\n");
	if (fclose(f) != 0)
		return log_error_errno(errno, "%s.bmap: %m", name);
	/* The file's own checksum is taken with the field all zeros. */
	sha256_buf(text, len, digest);
	hex_encode(digest, SHA256_LEN, hex);
	p = strstr(text, zeros);
	memcpy(p, hex, SHA256_HEX_LEN - 1);
	r = write_full(outputs_fd(o, OUT_BMAP), text, len);
	free(text);
	return r < 0 ? outputs_write_failed(o, OUT_BMAP, r) : 0;
}

/* The hashing, on a thread of its own, so that it never waits for the
 * compressor nor the compressor for it (the image's long holes cost the
 * compressor time and the hashing none): the bmap's ranges, in a pass of
 * their own over the image (in the page cache), then the .zst, read back
 * from the page cache as it is written. */
struct hasher {
	int fd, zst_fd;
	struct zst_progress *zp;
	struct sha256_ctx *zst_sha;
	uint64_t size;
	volatile sig_atomic_t *interrupted;
	struct range *ranges;
	size_t n, cap;
	uint64_t mapped;
	bool stop;	  /* set when the compression failed: no bmap will be written */
	int err;	  /* -errno of a read, or -EINTR; set once, by hasher_fail() */
	const char *what; /* what failed, for the message */
};

/* The compressor stops at its next chunk (compress_image()); the message is
 * derive_outputs()' to print, after the join. */
static void hasher_fail(struct hasher *h, int r, const char *what)
{
	h->what = what;
	__atomic_store_n(&h->err, r, __ATOMIC_RELEASE);
}

/* Follows the .zst as the compressor writes it, to its end. */
static void *hash_zst(struct hasher *h, uint8_t *buf)
{
	uint64_t hashed = 0;

	for (;;) {
		uint64_t written;
		bool done;
		pthread_mutex_lock(&h->zp->lock);
		while (h->zp->written == hashed && !h->zp->done)
			pthread_cond_wait(&h->zp->cond, &h->zp->lock);
		written = h->zp->written;
		done = h->zp->done;
		pthread_mutex_unlock(&h->zp->lock);
		if (written == hashed && done)
			return NULL;
		while (hashed < written) {
			size_t n = (size_t)MIN((uint64_t)CHUNK, written - hashed);
			int r = pread_full(h->zst_fd, buf, n, hashed);
			if (r < 0) {
				hasher_fail(h, r, "read the .zst back");
				return NULL;
			}
			sha256_update(h->zst_sha, buf, n);
			hashed += n;
		}
	}
}

static void *hash_outputs(void *arg)
{
	struct hasher *h = arg;
	_cleanup_free_ uint8_t *buf = xmalloc(CHUNK);
	uint64_t pos = 0;
	uint8_t digest[SHA256_LEN];

	while (pos < h->size) {
		uint64_t ds = 0, de = 0, at;
		struct sha256_ctx *rs;
		struct range rg;
		int r = next_data(h->fd, pos, h->size, &ds, &de);
		if (r < 0) {
			hasher_fail(h, r, "map the image's data");
			return NULL;
		}
		if (r == 0 || ds >= de)
			break;
		rs = sha256_new();
		for (at = ds; at < de;) {
			size_t n = (size_t)MIN((uint64_t)CHUNK, de - at);
			r = pread_full(h->fd, buf, n, at);
			if (r >= 0 && ((h->interrupted &&
					__atomic_load_n(h->interrupted, __ATOMIC_RELAXED)) ||
				       __atomic_load_n(&h->stop, __ATOMIC_RELAXED)))
				r = -EINTR;
			if (r < 0) {
				sha256_free(rs);
				hasher_fail(h, r, "read the image");
				return NULL;
			}
			sha256_update(rs, buf, n);
			at += n;
		}
		sha256_final(rs, digest);
		rg = (struct range){ ds / BMAP_BLOCK, (de - 1) / BMAP_BLOCK, "" };
		hex_encode(digest, SHA256_LEN, rg.sha);
		ARRAY_PUSH(h->ranges, h->n, h->cap, rg);
		h->mapped += de - ds;
		pos = de;
	}
	return hash_zst(h, buf);
}

/* The image compressed in order: its holes are zeros, not read. */
static int compress_image(struct deriver *d, uint64_t img_size, volatile sig_atomic_t *interrupted,
			  struct progress *progress)
{
	_cleanup_free_ uint8_t *buf = xmalloc(CHUNK);
	uint64_t pos = 0;
	int r;

	while (pos < img_size) {
		uint64_t ds = 0, de = 0;
		r = next_data(d->img_fd, pos, img_size, &ds, &de);
		if (r < 0)
			return log_error_errno(r, "%s: cannot map the image's data: %m", d->name);
		if (r == 0)
			ds = de = img_size;
		if (pos < ds) {
			r = zst_zeros(d->zst, ds - pos);
			if (r < 0)
				return r;
			pos = ds;
		}
		while (pos < de) {
			size_t n = (size_t)MIN((uint64_t)CHUNK, de - pos);
			r = pread_full(d->img_fd, buf, n, pos);
			if (r < 0)
				return log_error_errno(r, "%s: read failed: %m", d->name);
			r = zst_data(d->zst, buf, n);
			if (r < 0)
				return r;
			pos += n;
			if (interrupted && *interrupted)
				return -EINTR;
			if (__atomic_load_n(d->hash_err, __ATOMIC_ACQUIRE) < 0)
				return -ECANCELED;
			if (progress)
				progress_update(progress, pos, img_size, 0, d->zst_size);
		}
	}
	return zst_end(d->zst);
}

int derive_outputs(const struct outputs *o, const char *name, uint64_t img_size,
		   volatile sig_atomic_t *interrupted, struct progress *progress,
		   struct derive_result *res)
{
	int img_fd = outputs_fd(o, OUT_IMG);
	struct deriver d = {
		.o = o, .name = name, .img_fd = img_fd, .zst_fd = outputs_fd(o, OUT_ZST)
	};
	struct zst_progress zp = { .lock = PTHREAD_MUTEX_INITIALIZER,
				   .cond = PTHREAD_COND_INITIALIZER };
	struct hasher h = { .fd = img_fd,
			    .zst_fd = d.zst_fd,
			    .zp = &zp,
			    .size = img_size,
			    .interrupted = interrupted };
	pthread_t thread;
	bool threaded = false;
	uint8_t digest[SHA256_LEN];
	int r = 0;

	d.zp = &zp;
	d.hash_err = &h.err;
	h.zst_sha = sha256_new();
	r = zst_new(name, img_size, zst_write, &d, &d.zst);
	if (r < 0)
		goto out;

	threaded = thread_start(&thread, hash_outputs, &h) == 0;
	r = compress_image(&d, img_size, interrupted, progress);
	if (r < 0)
		__atomic_store_n(&h.stop, true, __ATOMIC_RELAXED);
	zst_published(&zp, d.zst_size, true);
	if (threaded)
		pthread_join(thread, NULL);
	else if (r >= 0)
		hash_outputs(&h);
	if (r < 0 && !(r == -ECANCELED && h.err < 0))
		goto out;
	if (h.err < 0) {
		r = h.err == -EINTR ? -EINTR
				    : log_error_errno(h.err, "%s: cannot %s: %m", name, h.what);
		goto out;
	}
	r = write_bmap(o, name, img_size, h.ranges, h.n, h.mapped);
	if (r < 0)
		goto out;
	sha256_final(h.zst_sha, digest);
	h.zst_sha = NULL;
	hex_encode(digest, SHA256_LEN, res->zst_sha256);
	res->mapped_bytes = h.mapped;
	res->zst_size = d.zst_size;
	log_debug("%s.zst: %llu MiB of the image's %llu MiB through zstd, the rest zeros in RLE "
		  "blocks",
		  name, (unsigned long long)(zst_compressed(d.zst) / MiB),
		  (unsigned long long)(img_size / MiB));
out:
	if (progress)
		progress_done(progress);
	free(h.ranges);
	zst_free(d.zst);
	sha256_free(h.zst_sha);
	return r;
}
