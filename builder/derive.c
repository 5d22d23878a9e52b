/* SPDX-License-Identifier: MIT */
#include "derive.h"
#include "log.h"
#include "threads.h"

#include <pthread.h>
#include <zstd.h>

#define BMAP_BLOCK 4096
/* Level 1, not zstd's default 3: compression is the largest part of a
 * build, and with level 1 a build of the x86 base takes about 30% less CPU
 * time for a 5% larger .zst (267 MiB instead of 254), and peaks at 56 MiB
 * of memory instead of 134. */
#define ZSTD_LEVEL 1
/* zstd's multithreaded mode cuts the input into jobs of exactly this size
 * and compresses each from its own bytes and the end of the one before
 * (lib/compress/zstdmt_compress.c), so the one frame it writes depends on
 * the input, the level and the job size only: not on the number of
 * workers, nor on their timing. Both are fixed here, not left to the
 * library's defaults and the CPU count (2 MiB is libzstd 1.5's default job
 * for level 1, whose window is 512 KiB), so that another libzstd or
 * another machine writes the same bytes. */
#define ZSTD_JOB_SIZE (2 * MiB)
/* Three workers even on two CPUs: the caller and the reader wait now and
 * then, and a third job keeps both CPUs compressing meanwhile. */
#define ZSTD_WORKERS 3
#define PIECE (2 * MiB)  /* of the image, read and hashed at once */
#define N_PIECES 4
#define ZST_OUT (1 * MiB) /* of .zst, written at once */
#define WRITEBACK_STEP (32 * MiB) /* of .zst, then its writeback starts */

struct range {
	uint64_t start, end; /* bytes, block-aligned (end clipped to the image) */
	char sha[SHA256_HEX_LEN];
};

struct deriver {
	const struct outputs *o;
	const char *name;
	int zst_fd;
	ZSTD_CCtx *cctx;
	uint8_t *out;
	struct sha256_ctx *zst_sha;
	uint64_t zst_size, zst_flushed;
};

static int zst_feed(struct deriver *d, const void *buf, size_t len, bool end)
{
	ZSTD_inBuffer in = { buf, len, 0 };
	size_t rem;

	do {
		ZSTD_outBuffer o = { d->out, ZST_OUT, 0 };
		rem = ZSTD_compressStream2(d->cctx, &o, &in, end ? ZSTD_e_end : ZSTD_e_continue);
		if (ZSTD_isError(rem))
			return log_error("%s.zst: compression failed: %s", d->name,
					 ZSTD_getErrorName(rem));
		if (o.pos) {
			int r = write_full(d->zst_fd, d->out, o.pos);
			if (r < 0)
				return outputs_write_failed(d->o, OUT_ZST, r);
			sha256_update(d->zst_sha, d->out, o.pos);
			d->zst_size += o.pos;
			if (d->zst_size >= d->zst_flushed + WRITEBACK_STEP) {
				outputs_writeback(d->o, OUT_ZST);
				d->zst_flushed = d->zst_size;
			}
		}
	} while (end ? rem != 0 : in.pos < in.size);
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

/* All of them, before anything is read: the bmap's ranges. */
static int map_data(int fd, uint64_t size, struct range **ret, size_t *n)
{
	struct range *ranges = NULL;
	size_t cap = 0;
	uint64_t pos = 0;

	*n = 0;
	while (pos < size) {
		uint64_t ds = 0, de = 0;
		int r = next_data(fd, pos, size, &ds, &de);
		if (r < 0) {
			free(ranges);
			return r;
		}
		if (r == 0 || ds >= de)
			break;
		ARRAY_PUSH(ranges, *n, cap, ((struct range){ ds, de, "" }));
		pos = de;
	}
	*ret = ranges;
	return 0;
}

/* The reader: a thread that reads the ranges in order, piece by piece,
 * and hashes each range as it goes, while the calling thread feeds the
 * same pieces to zstd (whose own workers compress them): the image is read
 * once, and its hashing and its compression run on different CPUs. */
struct piece {
	uint8_t *buf;
	uint64_t off;
	size_t len;
	int err;    /* -errno of the read */
	bool full;
};

struct reader {
	int fd;
	struct range *ranges;
	size_t n_ranges;
	struct piece pieces[N_PIECES];
	size_t head, tail; /* the next piece the reader fills, the caller takes */
	bool stop;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
};

static void *read_ranges(void *arg)
{
	struct reader *rd = arg;
	uint8_t digest[SHA256_LEN];
	int err = 0;

	for (size_t i = 0; i < rd->n_ranges && !err; i++) {
		struct range *rg = &rd->ranges[i];
		struct sha256_ctx *sha = sha256_new();
		for (uint64_t pos = rg->start; pos < rg->end && !err;) {
			struct piece *p = &rd->pieces[rd->head % N_PIECES];
			size_t n = (size_t)MIN((uint64_t)PIECE, rg->end - pos);
			pthread_mutex_lock(&rd->lock);
			while (!rd->stop && p->full)
				pthread_cond_wait(&rd->cond, &rd->lock);
			err = rd->stop ? -ECANCELED : 0;
			pthread_mutex_unlock(&rd->lock);
			if (err)
				break;
			err = pread_full(rd->fd, p->buf, n, pos);
			if (err >= 0)
				sha256_update(sha, p->buf, n);
			pthread_mutex_lock(&rd->lock);
			*p = (struct piece){ p->buf, pos, n, err, true };
			rd->head++;
			pthread_cond_broadcast(&rd->cond);
			pthread_mutex_unlock(&rd->lock);
			pos += n;
		}
		if (!err) {
			sha256_final(sha, digest);
			hex_encode(digest, SHA256_LEN, rg->sha);
		} else
			sha256_free(sha);
	}
	return NULL;
}

/* The next piece, in order; the one taken before is given back. */
static struct piece *reader_next(struct reader *rd, struct piece *prev)
{
	struct piece *p = &rd->pieces[rd->tail % N_PIECES];

	pthread_mutex_lock(&rd->lock);
	if (prev) {
		prev->full = false;
		pthread_cond_broadcast(&rd->cond);
	}
	while (!p->full)
		pthread_cond_wait(&rd->cond, &rd->lock);
	rd->tail++;
	pthread_mutex_unlock(&rd->lock);
	return p;
}

static int reader_start(struct reader *rd)
{
	for (size_t i = 0; i < N_PIECES; i++)
		rd->pieces[i].buf = xmalloc(PIECE);
	return thread_start(&rd->thread, read_ranges, rd);
}

/* Stops the reader where it is and waits for it. */
static void reader_stop(struct reader *rd)
{
	pthread_mutex_lock(&rd->lock);
	rd->stop = true;
	pthread_cond_broadcast(&rd->cond);
	pthread_mutex_unlock(&rd->lock);
	pthread_join(rd->thread, NULL);
}

static void reader_free(struct reader *rd)
{
	for (size_t i = 0; i < N_PIECES; i++)
		free(rd->pieces[i].buf);
	pthread_mutex_destroy(&rd->lock);
	pthread_cond_destroy(&rd->cond);
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
		unsigned long long first = ranges[i].start / BMAP_BLOCK,
				   last = (ranges[i].end - 1) / BMAP_BLOCK;
		if (first == last)
			fprintf(f, "        <Range chksum=\"%s\"> %llu </Range>\n", ranges[i].sha,
				first);
		else
			fprintf(f, "        <Range chksum=\"%s\"> %llu-%llu </Range>\n",
				ranges[i].sha, first, last);
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

/* Zeros for the holes, from POS to END: not read. */
static int feed_zeros(struct deriver *d, uint64_t *pos, uint64_t end)
{
	static const uint8_t zeros[PIECE];

	while (*pos < end) {
		size_t n = (size_t)MIN((uint64_t)PIECE, end - *pos);
		int r = zst_feed(d, zeros, n, false);
		if (r < 0)
			return r;
		*pos += n;
	}
	return 0;
}

int derive_outputs(const struct outputs *o, const char *name, uint64_t img_size,
		   volatile sig_atomic_t *interrupted, struct progress *progress,
		   struct derive_result *res)
{
	struct deriver d = { .o = o, .name = name, .zst_fd = outputs_fd(o, OUT_ZST) };
	struct reader rd = { .fd = outputs_fd(o, OUT_IMG), .lock = PTHREAD_MUTEX_INITIALIZER,
			     .cond = PTHREAD_COND_INITIALIZER };
	struct piece *p = NULL;
	uint64_t pos = 0, mapped = 0;
	uint8_t digest[SHA256_LEN];
	bool started = false;
	int r;

	r = map_data(rd.fd, img_size, &rd.ranges, &rd.n_ranges);
	if (r < 0)
		return log_error_errno(r, "%s: cannot map the image's data: %m", name);
	d.cctx = ZSTD_createCCtx();
	d.out = xmalloc(ZST_OUT);
	d.zst_sha = sha256_new();
	if (!d.cctx) {
		r = log_error("%s.zst: cannot create a zstd context", name);
		goto out;
	}
	ZSTD_CCtx_setParameter(d.cctx, ZSTD_c_compressionLevel, ZSTD_LEVEL);
	ZSTD_CCtx_setParameter(d.cctx, ZSTD_c_checksumFlag, 1);
	ZSTD_CCtx_setParameter(d.cctx, ZSTD_c_contentSizeFlag, 1);
	if (ZSTD_isError(ZSTD_CCtx_setParameter(d.cctx, ZSTD_c_nbWorkers, ZSTD_WORKERS)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(d.cctx, ZSTD_c_jobSize, ZSTD_JOB_SIZE))) {
		r = log_error("%s.zst: this libzstd cannot compress on threads of its own (it was "
			      "built without ZSTD_MULTITHREAD); Debian's libzstd1 can",
			      name);
		goto out;
	}
	ZSTD_CCtx_setPledgedSrcSize(d.cctx, img_size);
	r = reader_start(&rd);
	if (r < 0) {
		r = log_error_errno(r, "%s: cannot start reading it: %m", name);
		goto out;
	}
	started = true;

	for (size_t i = 0; i < rd.n_ranges; i++) {
		const struct range *rg = &rd.ranges[i];
		r = feed_zeros(&d, &pos, rg->start);
		while (r >= 0 && pos < rg->end) {
			p = reader_next(&rd, p);
			if (p->err < 0) {
				r = log_error_errno(p->err, "%s: read failed: %m", name);
				break;
			}
			r = zst_feed(&d, p->buf, p->len, false);
			pos += p->len;
			if (r >= 0 && interrupted && *interrupted)
				r = -EINTR;
			if (r >= 0 && progress)
				progress_update(progress, pos, img_size, 0, d.zst_size);
		}
		if (r < 0)
			goto out;
		mapped += rg->end - rg->start;
	}
	r = feed_zeros(&d, &pos, img_size);
	if (r >= 0)
		r = zst_feed(&d, NULL, 0, true);
	if (r < 0)
		goto out;
	/* The reader has hashed the last range once it gave its last piece. */
	pthread_join(rd.thread, NULL);
	started = false;
	r = write_bmap(o, name, img_size, rd.ranges, rd.n_ranges, mapped);
	if (r < 0)
		goto out;
	sha256_final(d.zst_sha, digest);
	d.zst_sha = NULL;
	hex_encode(digest, SHA256_LEN, res->zst_sha256);
	res->mapped_bytes = mapped;
	res->zst_size = d.zst_size;
out:
	if (started)
		reader_stop(&rd);
	reader_free(&rd);
	free(rd.ranges);
	if (progress)
		progress_done(progress);
	ZSTD_freeCCtx(d.cctx);
	free(d.out);
	sha256_free(d.zst_sha);
	return r;
}
