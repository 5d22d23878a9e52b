/* SPDX-License-Identifier: MIT */
/* A one-line progress display on a terminal (stderr): redrawn at most a few
 * times a second, cleared when done. Silent when stderr is not a terminal. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct progress {
	bool enabled, shown;
	uint64_t last_ns;
	char what[64];
};

void progress_init(struct progress *p, const char *what);
/* DONE of TOTAL bytes (TOTAL 0 when unknown), ENTRIES so far, WRITTEN bytes. */
void progress_update(struct progress *p, uint64_t done, uint64_t total, uint64_t entries,
		     uint64_t written);
/* Any line: "WHAT: " and the formatted text, at most a few times a second. */
void progress_line(struct progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void progress_done(struct progress *p);
