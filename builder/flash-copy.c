/* SPDX-License-Identifier: MIT */
/* The copy: three stages on a ring of chunk buffers, so that reading (or
 * decompressing) the image, writing the disk and reading it back overlap:
 *
 *   this thread  reads the image's mapped ranges into free chunks
 *   writer       writes each chunk to the disk (O_DIRECT when it can)
 *   verifier     reads the chunk back from the disk, page cache bypassed,
 *                compares it with what was written (a difference names
 *                the byte), and hashes it; at the end of each bmap range
 *                the hash must be the bmap's
 *
 * Bytes not written here (the image's GPT, held back to be written last;
 * with --keep-data, what lies outside boot and root) are hashed from the
 * image, so that every range's checksum is still checked whole. */
#include "flash.h"
#include "log.h"
#include "progress.h"
#include "util.h"

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <time.h>

#define CHUNK (4 * MiB)
#define SLOTS 8
#define DIO_ALIGN 4096

enum kind { K_WRITE, K_HOLD, K_SKIP };

struct chunk {
	uint64_t off;
	size_t len;
	enum kind kind;
	size_t range;
	bool range_end;
	uint8_t *buf;
};

struct held {
	uint64_t off;
	size_t len;
	uint8_t *buf;
};

struct pipe {
	struct flash_copy *c;
	struct chunk slot[SLOTS];
	uint64_t produced, written, verified; /* chunks, monotonic */
	bool end;                             /* no more chunks will come */
	int error;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int bfd;       /* the disk without O_DIRECT (unaligned pieces, fallback) */
	bool direct;   /* c->fd takes O_DIRECT */
	size_t align;
	uint8_t *vbuf; /* the verifier's read buffer */
	struct sha256_ctx *sha;
	uint64_t bytes_written, bytes_verified, total;
	struct held *held;
	size_t n_held, cap_held;
	struct progress progress;
	uint64_t start_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *aligned_buf(size_t len)
{
	void *p = NULL;

	if (posix_memalign(&p, DIO_ALIGN, len) != 0)
		abort();
	return p;
}

/* Records the first error (its message is printed by the caller). */
static int set_error(struct pipe *p, int r)
{
	pthread_mutex_lock(&p->lock);
	if (!p->error)
		p->error = r;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return r;
}

static bool aligned(const struct pipe *p, uint64_t off, size_t len)
{
	return p->direct && off % p->align == 0 && len % p->align == 0;
}

/* A direct write or read that the file refuses (EINVAL: some filesystems
 * take the O_DIRECT open but not the I/O) is done again through the page
 * cache, and the rest of the copy goes that way. */
static void no_direct(struct pipe *p)
{
	if (!p->direct)
		return;
	p->direct = false;
	log_notice("%s does not take direct I/O: writing and verifying through the page cache "
		   "(written back and dropped before each read-back)",
		   p->c->device);
}

static int disk_write(struct pipe *p, const uint8_t *buf, size_t len, uint64_t off)
{
	int r;

	if (aligned(p, off, len)) {
		r = pwrite_full(p->c->fd, buf, len, off);
		if (r != -EINVAL)
			return r;
		no_direct(p);
	}
	return pwrite_full(p->bfd, buf, len, off);
}

static int disk_read(struct pipe *p, uint8_t *buf, size_t len, uint64_t off)
{
	int r;

	if (aligned(p, off, len)) {
		r = pread_full(p->c->fd, buf, len, off);
		if (r != -EINVAL)
			return r;
		no_direct(p);
	}
	/* Through the page cache: write the range back and drop it, so the
	 * read comes from the disk where the cache can be dropped (not on
	 * tmpfs, where the cache is the file). */
	r = sync_file_range(p->bfd, (off_t)off, (off_t)len,
			    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
				    SYNC_FILE_RANGE_WAIT_AFTER);
	if (r < 0 && errno != ESPIPE && errno != EINVAL)
		return -errno;
	if (r < 0)
		fdatasync(p->bfd);
	posix_fadvise(p->bfd, (off_t)off, (off_t)len, POSIX_FADV_DONTNEED);
	return pread_full(p->bfd, buf, len, off);
}

static const char *hex(const uint8_t *d, char out[SHA256_HEX_LEN])
{
	hex_encode(d, SHA256_LEN, out);
	return out;
}

/* The progress line: called by the verifier, without the lock held. */
static void draw(struct pipe *p, uint64_t written, uint64_t verified)
{
	char a[32], b[32], c[32], d[32];
	uint64_t ns = now_ns() - p->start_ns;

	if (!p->progress.enabled)
		return;
	progress_line(&p->progress, "%3u%% (%s of %s written, %s verified, %s/s)",
		      (unsigned)(p->total ? verified * 100 / p->total : 100),
		      format_size(written, a, sizeof(a)), format_size(p->total, b, sizeof(b)),
		      format_size(verified, c, sizeof(c)),
		      format_size(ns ? (uint64_t)((double)verified * 1e9 / (double)ns) : 0, d,
				  sizeof(d)));
}

static void *writer(void *arg)
{
	struct pipe *p = arg;

	for (;;) {
		struct chunk *ch;
		int r;

		pthread_mutex_lock(&p->lock);
		while (!p->error && p->written == p->produced && !p->end)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->error || p->written == p->produced) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		ch = &p->slot[p->written % SLOTS];
		pthread_mutex_unlock(&p->lock);

		if (ch->kind == K_WRITE) {
			r = disk_write(p, ch->buf, ch->len, ch->off);
			if (r < 0) {
				log_error_errno(r, "Writing %s at byte %" PRIu64 " failed: %m",
						p->c->device, ch->off);
				set_error(p, r);
				return NULL;
			}
		}
		pthread_mutex_lock(&p->lock);
		p->written++;
		if (ch->kind == K_WRITE)
			p->bytes_written += ch->len;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
	}
}

static int verify_chunk(struct pipe *p, const struct chunk *ch)
{
	const struct bmap_range *rg = &p->c->bmap->ranges[ch->range];
	const uint8_t *bytes = ch->buf;
	int r;

	if (ch->kind == K_WRITE) {
		r = disk_read(p, p->vbuf, ch->len, ch->off);
		if (r < 0)
			return log_error_errno(r, "Reading %s back at byte %" PRIu64 " failed: %m",
					       p->c->device, ch->off);
		if (memcmp(p->vbuf, ch->buf, ch->len) != 0) {
			size_t i = 0;
			while (p->vbuf[i] == ch->buf[i])
				i++;
			return log_error("Verify failed: %s holds 0x%02x at byte %" PRIu64
					 " where 0x%02x was written (a failing disk or adapter, or "
					 "something else writing to it)",
					 p->c->device, p->vbuf[i], ch->off + i, ch->buf[i]);
		}
		bytes = p->vbuf;
	}
	if (!p->sha)
		p->sha = sha256_new();
	sha256_update(p->sha, bytes, ch->len);
	if (ch->range_end) {
		uint8_t d[SHA256_LEN];
		char a[SHA256_HEX_LEN], b[SHA256_HEX_LEN];
		sha256_final(p->sha, d);
		p->sha = NULL;
		if (memcmp(d, rg->sha256, SHA256_LEN) != 0)
			return log_error("Verify failed: bytes %" PRIu64 "-%" PRIu64 " have sha256 %s, "
					 "the block map says %s: %s is damaged or not the image "
					 "its block map was written with; rebuild it",
					 rg->start, rg->end - 1, hex(d, a), hex(rg->sha256, b),
					 p->c->image);
	}
	return 0;
}

static void *verifier(void *arg)
{
	struct pipe *p = arg;

	for (;;) {
		struct chunk *ch;
		int r;

		pthread_mutex_lock(&p->lock);
		while (!p->error && p->verified == p->written && !(p->end && p->written == p->produced))
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->error || p->verified == p->written) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		ch = &p->slot[p->verified % SLOTS];
		pthread_mutex_unlock(&p->lock);

		r = verify_chunk(p, ch);
		if (r < 0) {
			set_error(p, r);
			return NULL;
		}
		uint64_t w, v;
		pthread_mutex_lock(&p->lock);
		p->verified++;
		if (ch->kind == K_WRITE)
			p->bytes_verified += ch->len;
		w = p->bytes_written;
		v = p->bytes_verified;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
		draw(p, w, v);
	}
}

/* What OFF (in range RG) is, and where that stops. */
static enum kind classify(const struct flash_copy *c, const struct bmap_range *rg, uint64_t off,
			  uint64_t *until)
{
	*until = rg->end;
	if (c->mode == FLASH_WHOLE) {
		if (off < c->hold_head) {
			*until = MIN(*until, c->hold_head);
			return K_HOLD;
		}
		if (off >= c->hold_tail)
			return K_HOLD;
		*until = MIN(*until, c->hold_tail);
		return K_WRITE;
	}
	for (int i = 0; i < 2; i++)
		if (off >= c->write_start[i] && off < c->write_end[i]) {
			*until = MIN(*until, c->write_end[i]);
			return K_WRITE;
		}
	for (int i = 0; i < 2; i++)
		if (c->write_start[i] > off)
			*until = MIN(*until, c->write_start[i]);
	return K_SKIP;
}

static bool range_written(const struct flash_copy *c, const struct bmap_range *rg)
{
	if (c->mode == FLASH_WHOLE)
		return true;
	for (int i = 0; i < 2; i++)
		if (rg->start < c->write_end[i] && rg->end > c->write_start[i])
			return true;
	return false;
}

/* This thread: the chunks, in order. */
static int produce(struct pipe *p)
{
	struct flash_copy *c = p->c;
	const struct bmap *b = c->bmap;
	int r;

	for (size_t i = 0; i < b->n_ranges; i++) {
		const struct bmap_range *rg = &b->ranges[i];
		uint64_t off = rg->start;

		if (!range_written(c, rg))
			continue;
		while (off < rg->end) {
			uint64_t until;
			enum kind k = classify(c, rg, off, &until);
			size_t len = (size_t)MIN(until - off, (uint64_t)CHUNK);
			struct chunk *ch;

			pthread_mutex_lock(&p->lock);
			while (!p->error && p->produced - p->verified == SLOTS)
				pthread_cond_wait(&p->cond, &p->lock);
			r = p->error;
			pthread_mutex_unlock(&p->lock);
			if (r)
				return r;
			if (c->interrupted && *c->interrupted)
				return set_error(p, log_error_errno(EINTR, "Interrupted"));
			ch = &p->slot[p->produced % SLOTS];
			ch->off = off;
			ch->len = len;
			ch->kind = k;
			ch->range = i;
			ch->range_end = off + len == rg->end;
			r = flash_source_read(c->src, off, ch->buf, len);
			if (r < 0)
				return set_error(p, r);
			if (k == K_HOLD) {
				struct held h = { off, len, aligned_buf(ALIGN_UP(len, DIO_ALIGN)) };
				memcpy(h.buf, ch->buf, len);
				ARRAY_PUSH(p->held, p->n_held, p->cap_held, h);
			}
			pthread_mutex_lock(&p->lock);
			p->produced++;
			pthread_cond_broadcast(&p->cond);
			pthread_mutex_unlock(&p->lock);
			off += len;
		}
	}
	pthread_mutex_lock(&p->lock);
	p->end = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

/* FLASH_WHOLE, once everything else is written and verified: the GPT,
 * backup first, then the primary; then read back. */
static int write_held(struct pipe *p)
{
	struct flash_copy *c = p->c;
	int r;

	if (fdatasync(c->fd) < 0)
		return log_error_errno(errno, "Syncing %s failed: %m", c->device);
	for (size_t i = p->n_held; i-- > 0;) {
		r = disk_write(p, p->held[i].buf, p->held[i].len, p->held[i].off);
		if (r < 0)
			return log_error_errno(r, "Writing the GPT to %s failed: %m", c->device);
		p->bytes_written += p->held[i].len;
	}
	if (fdatasync(c->fd) < 0)
		return log_error_errno(errno, "Syncing %s failed: %m", c->device);
	for (size_t i = 0; i < p->n_held; i++) {
		r = disk_read(p, p->vbuf, p->held[i].len, p->held[i].off);
		if (r < 0)
			return log_error_errno(r, "Reading the GPT of %s back failed: %m", c->device);
		if (memcmp(p->vbuf, p->held[i].buf, p->held[i].len) != 0)
			return log_error("Verify failed: the GPT read back from %s (bytes %" PRIu64
					 "-%" PRIu64 ") differs from what was written",
					 c->device, p->held[i].off,
					 p->held[i].off + p->held[i].len - 1);
		p->bytes_verified += p->held[i].len;
	}
	return 0;
}

int flash_copy_run(struct flash_copy *c)
{
	struct pipe p = { .c = c, .bfd = -1 };
	pthread_t wt, vt;
	bool gpt_started = false;
	int r, fl;

	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.cond, NULL);
	p.align = MAX((size_t)DIO_ALIGN, (size_t)c->lss);
	fl = fcntl(c->fd, F_GETFL);
	p.direct = fl >= 0 && (fl & O_DIRECT);
	{
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", c->fd);
		p.bfd = open(path, O_RDWR | O_CLOEXEC);
	}
	if (p.bfd < 0) {
		r = log_error_errno(errno, "Cannot open %s again: %m", c->device);
		goto out;
	}
	for (size_t i = 0; i < SLOTS; i++)
		p.slot[i].buf = aligned_buf(CHUNK);
	p.vbuf = aligned_buf(CHUNK);
	for (size_t i = 0; i < c->bmap->n_ranges; i++) {
		const struct bmap_range *rg = &c->bmap->ranges[i];
		if (c->mode == FLASH_WHOLE)
			p.total += rg->end - rg->start;
		else
			for (int k = 0; k < 2; k++)
				if (rg->start < c->write_end[k] && rg->end > c->write_start[k])
					p.total += MIN(rg->end, c->write_end[k]) -
						   MAX(rg->start, c->write_start[k]);
	}
	progress_init(&p.progress, c->what);
	p.start_ns = now_ns();

	pthread_create(&wt, NULL, writer, &p);
	pthread_create(&vt, NULL, verifier, &p);
	r = produce(&p);
	pthread_join(wt, NULL);
	pthread_join(vt, NULL);
	if (!r)
		r = p.error;
	if (!r && c->mode == FLASH_WHOLE) {
		gpt_started = true;
		r = write_held(&p);
	}
	progress_done(&p.progress);
	if (!r && fsync(c->fd) < 0)
		r = log_error_errno(errno, "Syncing %s failed: %m", c->device);
	if (r < 0 && gpt_started) {
		/* Never leave a GPT that points at anything unverified. */
		static const uint8_t zero[DIO_ALIGN];
		for (size_t i = 0; i < p.n_held; i++)
			for (size_t o = 0; o < p.held[i].len; o += sizeof(zero))
				pwrite_full(p.bfd, zero, MIN(sizeof(zero), p.held[i].len - o),
					    p.held[i].off + o);
		fdatasync(p.bfd);
	}
	c->written = p.bytes_written;
	c->direct = p.direct;
out:
	if (p.bfd >= 0)
		close(p.bfd);
	for (size_t i = 0; i < SLOTS; i++)
		free(p.slot[i].buf);
	for (size_t i = 0; i < p.n_held; i++)
		free(p.held[i].buf);
	free(p.held);
	free(p.vbuf);
	sha256_free(p.sha);
	pthread_mutex_destroy(&p.lock);
	pthread_cond_destroy(&p.cond);
	return r;
}
