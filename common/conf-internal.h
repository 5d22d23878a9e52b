/* SPDX-License-Identifier: MIT */
/* The schema loader in parts: the walk of the document (conf.c) and the
 * scalar values of each field type (conf-scalar.c). */
#pragma once

#include "conf.h"

/* Loader state for one walk. */
struct walk {
	struct conf_file *f;
	char ctx[256]; /* "node 'cow'", "network.lan" or "" */
};

/* An error at POS, prefixed with the item it is in ("node 'cow': "). */
#define werr(w, pos, fmt, ...)                                                                     \
	conf_error((w)->f, (pos), "%s%s" fmt, (w)->ctx, *(w)->ctx ? ": " : "", ##__VA_ARGS__)

/* Parses S, the value of scalar field F at POS, into P (F's struct c*).
 * Returns false after printing the one message a value that does not parse
 * gets. */
bool conf_load_scalar(struct walk *w, const struct field *f, const char *s, struct pos pos,
		      void *p);
