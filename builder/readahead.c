/* SPDX-License-Identifier: MIT */
#include "readahead.h"
#include "threads.h"
#include "util.h"

#include <pthread.h>

#define N_BUFS 4

struct piece {
	uint8_t *buf;
	ssize_t len; /* bytes, 0 at the end, -errno */
	bool full;
};

struct readahead {
	int fd;
	size_t block;
	struct sha256_ctx *sha;
	struct piece pieces[N_BUFS];
	size_t head; /* the next piece the thread fills */
	size_t tail; /* the next piece the caller takes */
	bool taken;  /* the caller holds pieces[tail - 1] */
	bool done, stop;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
};

static void *fill(void *arg)
{
	struct readahead *ra = arg;

	pthread_mutex_lock(&ra->lock);
	while (!ra->done) {
		struct piece *p = &ra->pieces[ra->head % N_BUFS];
		ssize_t n;
		while (!ra->stop && p->full)
			pthread_cond_wait(&ra->cond, &ra->lock);
		if (ra->stop)
			break;
		pthread_mutex_unlock(&ra->lock);
		do
			n = read(ra->fd, p->buf, ra->block);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			n = -errno;
		else if (n > 0)
			sha256_update(ra->sha, p->buf, (size_t)n);
		pthread_mutex_lock(&ra->lock);
		p->len = n;
		p->full = true;
		ra->head++;
		ra->done = n <= 0;
		pthread_cond_broadcast(&ra->cond);
	}
	pthread_mutex_unlock(&ra->lock);
	return NULL;
}

int readahead_start(int fd, size_t block, struct sha256_ctx *sha, struct readahead **ret)
{
	struct readahead *ra = xcalloc(1, sizeof(*ra));
	int r;

	ra->fd = fd;
	ra->block = block;
	ra->sha = sha;
	for (size_t i = 0; i < N_BUFS; i++)
		ra->pieces[i].buf = xmalloc(block);
	pthread_mutex_init(&ra->lock, NULL);
	pthread_cond_init(&ra->cond, NULL);
	r = thread_start(&ra->thread, fill, ra);
	if (r < 0) {
		for (size_t i = 0; i < N_BUFS; i++)
			free(ra->pieces[i].buf);
		free(ra);
		return r;
	}
	*ret = ra;
	return 0;
}

ssize_t readahead_next(struct readahead *ra, const void **buf)
{
	struct piece *p;
	ssize_t n;

	pthread_mutex_lock(&ra->lock);
	if (ra->taken) {
		/* The caller is done with the piece it had. */
		struct piece *prev = &ra->pieces[(ra->tail - 1) % N_BUFS];
		prev->full = false;
		ra->taken = false;
		pthread_cond_broadcast(&ra->cond);
	}
	p = &ra->pieces[ra->tail % N_BUFS];
	while (!p->full)
		pthread_cond_wait(&ra->cond, &ra->lock);
	n = p->len;
	if (n > 0) {
		/* The end (or an error) stays where it is for every later call. */
		ra->tail++;
		ra->taken = true;
	}
	pthread_mutex_unlock(&ra->lock);
	*buf = p->buf;
	return n;
}

void readahead_free(struct readahead *ra)
{
	if (!ra)
		return;
	pthread_mutex_lock(&ra->lock);
	ra->stop = true;
	pthread_cond_broadcast(&ra->cond);
	pthread_mutex_unlock(&ra->lock);
	pthread_join(ra->thread, NULL);
	for (size_t i = 0; i < N_BUFS; i++)
		free(ra->pieces[i].buf);
	pthread_mutex_destroy(&ra->lock);
	pthread_cond_destroy(&ra->cond);
	free(ra);
}
