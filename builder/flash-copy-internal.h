/* SPDX-License-Identifier: MIT */
/* What flash-copy.c (the pipeline: the ring of chunks, its threads, the
 * producer) and flash-copy-disk.c (what the stages do to a chunk) share.
 * Not for other modules: they use flash.h. */
#pragma once

#include "flash.h"
#include "progress.h"
#include "util.h"

#include <pthread.h>
#include <time.h>

#define CHUNK	     (4 * MiB)
#define SLOTS	     16 /* 64 MiB of chunks in flight */
#define VERIFIERS    4
#define DISK_WRITERS 4 /* block devices; a regular file has one */
#define DIO_ALIGN    4096

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
	uint64_t produced; /* chunks, monotonic */
	uint64_t claimed[N_STAGES], done[N_STAGES];
	bool finished[N_STAGES][SLOTS]; /* done, out of order */
	bool end;			/* no more chunks will come */
	int error;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_mutex_t draw_lock; /* one verifier draws at a time */
	int bfd;		   /* the disk without O_DIRECT (unaligned pieces, fallback) */
	bool direct;		   /* c->fd takes O_DIRECT */
	bool cached;		   /* a regular file: written through the page cache */
	size_t align;
	uint8_t *vbuf;		/* copy_write_held's read buffer */
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

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void add_time(uint64_t *sum, uint64_t since)
{
	__atomic_fetch_add(sum, now_ns() - since, __ATOMIC_RELAXED);
}

/* The stages, each on one chunk (see flash-copy.c's top). Return 0 or
 * -errno after one message. */
int copy_hash(struct pipe *p, const struct chunk *ch);
int copy_write(struct pipe *p, const struct chunk *ch);
int copy_verify(struct pipe *p, const struct chunk *ch, uint8_t *vbuf);
/* FLASH_WHOLE, once everything else is written and verified: the GPT,
 * backup first, then the primary; then read back. */
int copy_write_held(struct pipe *p);
