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
 * that every range's checksum is still checked whole.
 *
 * What each stage does to a chunk is flash-copy-disk.c. */
#include "flash-copy-internal.h"
#include "log.h"

#include <fcntl.h>
#include <inttypes.h>

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
		r = s == S_HASH	   ? copy_hash(p, ch)
		    : s == S_WRITE ? copy_write(p, ch)
				   : copy_verify(p, ch, w->vbuf);
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
			struct chunk ch = { .off = off,
					    .kind = classify(c, rg, off, &until),
					    .range = i };
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
			struct held h = { ch->off, ch->len,
					  aligned_buf(ALIGN_UP(ch->len, DIO_ALIGN)) };
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
		r = copy_write_held(&p);
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
