/* SPDX-License-Identifier: MIT */
/* What the copy's stages (flash-copy.c) do to a chunk: hash it against the
 * bmap, write it to the disk, read it back and compare; the held GPT,
 * written last. A block device is written with O_DIRECT where the file
 * takes it, through the page cache where it does not. */
#include "flash-copy-internal.h"
#include "log.h"

#include <fcntl.h>
#include <inttypes.h>

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

int copy_hash(struct pipe *p, const struct chunk *ch)
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
			return log_error("Verify failed: bytes %" PRIu64 "-%" PRIu64
					 " have sha256 %s, "
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

int copy_write(struct pipe *p, const struct chunk *ch)
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

int copy_verify(struct pipe *p, const struct chunk *ch, uint8_t *vbuf)
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

int copy_write_held(struct pipe *p)
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
			return log_error_errno(r, "Reading the GPT of %s back failed: %m",
					       c->device);
		if (memcmp(p->vbuf, p->held[i].buf, p->held[i].len) != 0)
			return log_error("Verify failed: the GPT read back from %s (bytes %" PRIu64
					 "-%" PRIu64 ") differs from what was written",
					 c->device, p->held[i].off,
					 p->held[i].off + p->held[i].len - 1);
		p->bytes_verified += p->held[i].len;
	}
	return 0;
}
