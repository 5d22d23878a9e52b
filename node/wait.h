/* SPDX-License-Identifier: MIT */
/* Bounded waiting with backoff, as every wait of farm-node's is: a
 * deadline, sleeps that grow from 1 s to 15 s, and a log line when what is
 * seen changes (at most one a minute when it does not), so the journal
 * says what farm-node waits for and what it last saw. */
#pragma once

#include <stdbool.h>

struct waiter {
	const char *what;	  /* "the API at https://...": "Waiting for %s" */
	const char *state, *note; /* the progress note kept up to date (steps.h), or NULL */
	double start, deadline, delay, last_log;
	unsigned attempts;
	char last[512]; /* what the last attempt saw */
};

void waiter_init(struct waiter *w, const char *what, unsigned timeout);
/* Also keeps the progress note NOTE under STATE (what `status` shows)
 * saying what it waits for and what it last saw. */
void waiter_progress(struct waiter *w, const char *state, const char *note);
/* Notes what the last attempt saw (logging it when it changed), then
 * sleeps before the next attempt. Returns false, without sleeping, when
 * the deadline has passed. */
bool waiter_again(struct waiter *w, const char *seen);
/* Seconds left (at least 1 while there is time). */
unsigned waiter_left(const struct waiter *w);
/* Seconds since the wait began. */
unsigned waiter_elapsed(const struct waiter *w);
