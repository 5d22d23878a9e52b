/* SPDX-License-Identifier: MIT */
#include "wait.h"
#include "log.h"
#include "steps.h"

#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void waiter_init(struct waiter *w, const char *what, unsigned timeout)
{
	*w = (struct waiter){ .what = what, .start = now(), .delay = 1 };
	w->deadline = w->start + timeout;
	w->last_log = w->start;
}

void waiter_progress(struct waiter *w, const char *state, const char *note)
{
	w->state = state;
	w->note = note;
}

bool waiter_again(struct waiter *w, const char *seen)
{
	double t = now(), d;
	bool changed = !streq(seen, w->last);

	w->attempts++;
	snprintf(w->last, sizeof(w->last), "%s", seen);
	if (t >= w->deadline)
		return false;
	if (changed || t - w->last_log >= 60) {
		log_info("Waiting for %s (%.0f s so far): %s", w->what, t - w->start, seen);
		if (w->note)
			journal_progress(w->state, w->note, PROGRESS_RUNNING,
					 "waiting for %s (%.0f s so far, up to %.0f): %s", w->what,
					 t - w->start, w->deadline - w->start, seen);
		w->last_log = t;
	}
	d = MIN(w->delay, w->deadline - t);
	if (d > 0) {
		struct timespec ts = { .tv_sec = (time_t)d,
				       .tv_nsec = (long)((d - (double)(time_t)d) * 1e9) };
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	w->delay = MIN(w->delay * 2, 15);
	return true;
}

unsigned waiter_left(const struct waiter *w)
{
	double left = w->deadline - now();

	return left < 1 ? 1 : (unsigned)left;
}

unsigned waiter_elapsed(const struct waiter *w) { return (unsigned)(now() - w->start); }
