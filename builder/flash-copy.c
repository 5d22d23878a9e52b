/* SPDX-License-Identifier: MIT */
/* The copy: stages on a ring of chunk buffers, so that reading (or
 * decompressing) the image, hashing it, writing the disk and reading it
 * back all overlap:
 *
 *   this thread  reads the image's mapped ranges into free chunks
 *   hasher       hashes each chunk; at the end of each bmap range the hash
 *                must be the bmap's
 *   writers      write the chunks: onto a block device with O_DIRECT, from
 *                several threads; onto a regular file through the page
 *                cache, each chunk's writeback started at once
 *   verifiers    read each written chunk back from the disk, page cache
 *                bypassed (after its writeback), and compare it with what
 *                was written (a difference names the byte)
 *
 * A slot is free again once its chunk is hashed and verified: the disk is
 * proven to hold the bytes the bmap's checksums were taken of. Hashing the
 * chunks rather than what is read back keeps the CPU off the verifiers'
 * path; several verifiers and writers keep several requests in flight.
 * A regular file is written through the page cache since its filesystem
 * serializes direct writes that allocate (ext4 holds the inode lock through
 * each), while writeback allocates large extents with many requests in
 * flight (480 MB onto a sparse ext4 file: 0.28 s, direct 0.45 s); what is
 * read back is still the disk's, and the pages are dropped after.
 *
 * Bytes not written here (the image's GPT, held back to be written last;
 * with --keep-data, what lies outside boot and root) are hashed too, so
 * that every range's checksum is still checked whole. */
#include "flash.h"
#include "log.h"
#include "progress.h"
#include "util.h"

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <time.h>

#define CHUNK (4 * MiB)
#define SLOTS 16        /* 64 MiB of chunks in flight */
#define VERIFIERS 4
#define DISK_WRITERS 4  /* block devices; a regular file has one */
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

/* The stages after the producer. Each takes the chunks in order (claimed),
 * and counts them done in order too (done: all chunks before it are). */
enum stage { S_HASH, S_WRITE, S_VERIFY, N_STAGES };

struct pipe {
	struct flash_copy *c;
	struct chunk slot[SLOTS];
	uint64_t produced;                  /* chunks, monotonic */
	uint64_t claimed[N_STAGES], done[N_STAGES];
	bool finished[N_STAGES][SLOTS];     /* done, out of order */
	bool end;                           /* no more chunks will come */
	int error;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_mutex_t draw_lock; /* one verifier draws at a time */
	int bfd;       /* the disk without O_DIRECT (unaligned pieces, fallback) */
	bool direct;   /* c->fd takes O_DIRECT */
	bool cached;   /* a regular file: written through the page cache */
	size_t align;
	uint8_t *vbuf; /* write_held's read buffer */
	struct sha256_ctx *sha; /* the hasher's */
	uint64_t bytes_written, bytes_verified, total;
	struct held *held;
	size_t n_held, cap_held;
	struct progress progress;
	uint64_t start_ns;
	/* time spent (ns, summed over a stage's threads), for
	 * FARM_LOG_LEVEL=debug */
	uint64_t t_src, t_pwait, t_busy[N_STAGES], t_wait[N_STAGES], t_cmp;
};

struct worker {
	struct pipe *p;
	enum stage stage;
	uint8_t *vbuf; /* a verifier's read buffer */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void add_time(uint64_t *sum, uint64_t since)
{
	__atomic_fetch_add(sum, now_ns() - since, __ATOMIC_RELAXED);
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

static bool aligned(struct pipe *p, uint64_t off, size_t len)
{
	return __atomic_load_n(&p->direct, __ATOMIC_RELAXED) && off % p->align == 0 &&
	       len % p->align == 0;
}

/* A direct write or read that the file refuses (EINVAL: some filesystems
 * take the O_DIRECT open but not the I/O) is done again through the page
 * cache, and the rest of the copy goes that way. */
static void no_direct(struct pipe *p)
{
	bool was;

	pthread_mutex_lock(&p->lock);
	was = p->direct;
	p->direct = false;
	pthread_mutex_unlock(&p->lock);
	if (was)
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

/* The progress line: called by the verifiers, without the lock held; one
 * that finds another drawing goes on. */
static void draw(struct pipe *p, uint64_t written, uint64_t verified)
{
	char a[32], b[32], c[32], d[32];
	uint64_t ns = now_ns() - p->start_ns;

	if (!p->progress.enabled || pthread_mutex_trylock(&p->draw_lock) != 0)
		return;
	progress_line(&p->progress, "%3u%% (%s of %s written, %s verified, %s/s)",
		      (unsigned)(p->total ? verified * 100 / p->total : 100),
		      format_size(written, a, sizeof(a)), format_size(p->total, b, sizeof(b)),
		      format_size(verified, c, sizeof(c)),
		      format_size(ns ? (uint64_t)((double)verified * 1e9 / (double)ns) : 0, d,
				  sizeof(d)));
	pthread_mutex_unlock(&p->draw_lock);
}

static int hash_chunk(struct pipe *p, const struct chunk *ch)
{
	const struct bmap_range *rg = &p->c->bmap->ranges[ch->range];

	if (!p->sha)
		p->sha = sha256_new();
	sha256_update(p->sha, ch->buf, ch->len);
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

/* Whether the chunk goes through the page cache, to be read back direct
 * (see the top). */
static bool cached(struct pipe *p, const struct chunk *ch)
{
	return p->cached && aligned(p, ch->off, ch->len);
}

static int write_chunk(struct pipe *p, const struct chunk *ch)
{
	int r;

	if (ch->kind != K_WRITE)
		return 0;
	if (cached(p, ch)) {
		/* Its writeback only starts here; the verifier waits for it. */
		r = pwrite_full(p->bfd, ch->buf, ch->len, ch->off);
		if (r == 0)
			(void)sync_file_range(p->bfd, (off_t)ch->off, (off_t)ch->len,
					      SYNC_FILE_RANGE_WRITE);
	} else
		r = disk_write(p, ch->buf, ch->len, ch->off);
	if (r < 0)
		return log_error_errno(r, "Writing %s at byte %" PRIu64 " failed: %m", p->c->device,
				       ch->off);
	return 0;
}

static int verify_chunk(struct pipe *p, const struct chunk *ch, uint8_t *vbuf)
{
	uint64_t t0;
	int r;

	if (ch->kind != K_WRITE)
		return 0;
	if (cached(p, ch)) {
		/* The chunk's writeback, started by the writer: its errors are
		 * the write's. */
		r = sync_file_range(p->bfd, (off_t)ch->off, (off_t)ch->len,
				    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
					    SYNC_FILE_RANGE_WAIT_AFTER);
		if (r < 0 && errno == EINVAL)
			r = fdatasync(p->bfd);
		if (r < 0)
			return log_error_errno(errno, "Writing %s at byte %" PRIu64 " failed: %m",
					       p->c->device, ch->off);
		r = disk_read(p, vbuf, ch->len, ch->off);
		posix_fadvise(p->bfd, (off_t)ch->off, (off_t)ch->len, POSIX_FADV_DONTNEED);
	} else
		r = disk_read(p, vbuf, ch->len, ch->off);
	if (r < 0)
		return log_error_errno(r, "Reading %s back at byte %" PRIu64 " failed: %m",
				       p->c->device, ch->off);
	t0 = now_ns();
	if (memcmp(vbuf, ch->buf, ch->len) != 0) {
		size_t i = 0;
		while (vbuf[i] == ch->buf[i])
			i++;
		return log_error("Verify failed: %s holds 0x%02x at byte %" PRIu64
				 " where 0x%02x was written (a failing disk or adapter, or "
				 "something else writing to it)",
				 p->c->device, vbuf[i], ch->off + i, ch->buf[i]);
	}
	add_time(&p->t_cmp, t0);
	return 0;
}

/* Chunks a stage may take: the hasher and the writers any produced one,
 * the verifiers only written ones. */
static uint64_t available(const struct pipe *p, enum stage s)
{
	return s == S_VERIFY ? p->done[S_WRITE] : p->produced;
}

static void *stage_worker(void *arg)
{
	struct worker *w = arg;
	struct pipe *p = w->p;
	enum stage s = w->stage;

	for (;;) {
		struct chunk *ch;
		uint64_t i, t0 = now_ns(), bw = 0, bv = 0;
		int r;

		pthread_mutex_lock(&p->lock);
		while (!p->error && p->claimed[s] == available(p, s) &&
		       !(p->end && p->claimed[s] == p->produced))
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->error || p->claimed[s] == available(p, s)) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		i = p->claimed[s]++;
		ch = &p->slot[i % SLOTS];
		pthread_mutex_unlock(&p->lock);
		add_time(&p->t_wait[s], t0);

		t0 = now_ns();
		r = s == S_HASH ? hash_chunk(p, ch)
		    : s == S_WRITE ? write_chunk(p, ch)
				   : verify_chunk(p, ch, w->vbuf);
		add_time(&p->t_busy[s], t0);
		if (r < 0) {
			set_error(p, r);
			return NULL;
		}
		pthread_mutex_lock(&p->lock);
		p->finished[s][i % SLOTS] = true;
		while (p->done[s] < p->claimed[s] && p->finished[s][p->done[s] % SLOTS]) {
			p->finished[s][p->done[s] % SLOTS] = false;
			p->done[s]++;
		}
		if (ch->kind == K_WRITE && s == S_WRITE)
			p->bytes_written += ch->len;
		if (ch->kind == K_WRITE && s == S_VERIFY)
			p->bytes_verified += ch->len;
		bw = p->bytes_written;
		bv = p->bytes_verified;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
		if (s == S_VERIFY)
			draw(p, bw, bv);
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

/* The chunks to copy, in order. */
static struct chunk *plan(const struct flash_copy *c, size_t *n_ret)
{
	const struct bmap *b = c->bmap;
	struct chunk *v = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < b->n_ranges; i++) {
		const struct bmap_range *rg = &b->ranges[i];
		uint64_t off = rg->start;

		if (!range_written(c, rg))
			continue;
		while (off < rg->end) {
			uint64_t until;
			struct chunk ch = { .off = off, .kind = classify(c, rg, off, &until), .range = i };
			ch.len = (size_t)MIN(until - off, (uint64_t)CHUNK);
			ch.range_end = off + ch.len == rg->end;
			ARRAY_PUSH(v, n, cap, ch);
			off += ch.len;
		}
	}
	*n_ret = n;
	return v;
}

/* This thread: the chunks, in order. */
static int produce(struct pipe *p)
{
	struct flash_copy *c = p->c;
	size_t n;
	_cleanup_free_ struct chunk *todo = plan(c, &n);
	int r;

	for (size_t i = 0; i < n; i++) {
		struct chunk *ch;
		uint8_t *buf;
		uint64_t t0 = now_ns();

		pthread_mutex_lock(&p->lock);
		while (!p->error && p->produced - MIN(p->done[S_VERIFY], p->done[S_HASH]) == SLOTS)
			pthread_cond_wait(&p->cond, &p->lock);
		r = p->error;
		pthread_mutex_unlock(&p->lock);
		p->t_pwait += now_ns() - t0;
		if (r)
			return r;
		if (c->interrupted && *c->interrupted)
			return set_error(p, log_error_errno(EINTR, "Interrupted"));
		ch = &p->slot[p->produced % SLOTS];
		buf = ch->buf;
		*ch = todo[i];
		ch->buf = buf;
		t0 = now_ns();
		r = flash_source_read(c->src, ch->off, ch->buf, ch->len);
		p->t_src += now_ns() - t0;
		if (r < 0)
			return set_error(p, r);
		if (ch->kind == K_HOLD) {
			struct held h = { ch->off, ch->len, aligned_buf(ALIGN_UP(ch->len, DIO_ALIGN)) };
			memcpy(h.buf, ch->buf, ch->len);
			ARRAY_PUSH(p->held, p->n_held, p->cap_held, h);
		}
		pthread_mutex_lock(&p->lock);
		p->produced++;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
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
	struct worker w[1 + DISK_WRITERS + VERIFIERS];
	pthread_t t[1 + DISK_WRITERS + VERIFIERS];
	size_t n_threads = 0;
	bool gpt_started = false;
	uint64_t t_pipe, t_held = 0, t1;
	int r, fl;

	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.cond, NULL);
	pthread_mutex_init(&p.draw_lock, NULL);
	p.align = MAX((size_t)DIO_ALIGN, (size_t)c->lss);
	fl = fcntl(c->fd, F_GETFL);
	p.direct = fl >= 0 && (fl & O_DIRECT);
	p.cached = !c->blockdev;
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

	w[n_threads++] = (struct worker){ &p, S_HASH, NULL };
	for (unsigned i = 0; i < (c->blockdev ? DISK_WRITERS : 1); i++)
		w[n_threads++] = (struct worker){ &p, S_WRITE, NULL };
	for (unsigned i = 0; i < VERIFIERS; i++)
		w[n_threads++] = (struct worker){ &p, S_VERIFY, aligned_buf(CHUNK) };
	for (size_t i = 0; i < n_threads; i++)
		pthread_create(&t[i], NULL, stage_worker, &w[i]);
	r = produce(&p);
	for (size_t i = 0; i < n_threads; i++)
		pthread_join(t[i], NULL);
	for (size_t i = 0; i < n_threads; i++)
		free(w[i].vbuf);
	if (!r)
		r = p.error;
	t_pipe = now_ns() - p.start_ns;
	t1 = now_ns();
	if (!r && c->mode == FLASH_WHOLE) {
		gpt_started = true;
		r = write_held(&p);
		t_held = now_ns() - t1;
	}
	progress_done(&p.progress);
	t1 = now_ns();
	if (!r && fsync(c->fd) < 0)
		r = log_error_errno(errno, "Syncing %s failed: %m", c->device);
	log_debug("flash timing (s): pipeline %.3f [source %.3f, wait-slot %.3f | sha256 %.3f, wait %.3f | "
		  "write %.3f, wait %.3f | readback %.3f (compare %.3f), wait %.3f]; gpt+syncs %.3f; final fsync %.3f",
		  t_pipe / 1e9, p.t_src / 1e9, p.t_pwait / 1e9, p.t_busy[S_HASH] / 1e9,
		  p.t_wait[S_HASH] / 1e9, p.t_busy[S_WRITE] / 1e9, p.t_wait[S_WRITE] / 1e9,
		  p.t_busy[S_VERIFY] / 1e9, p.t_cmp / 1e9, p.t_wait[S_VERIFY] / 1e9, t_held / 1e9,
		  (now_ns() - t1) / 1e9);
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
	pthread_mutex_destroy(&p.draw_lock);
	return r;
}
