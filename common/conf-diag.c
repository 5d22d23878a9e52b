/* SPDX-License-Identifier: MIT */
/* The diagnostics of config files: "FILE:LINE:COL: message", the source
 * line (a window of it around the caret) and a caret, every byte a
 * terminal would act on escaped (log.h). */
#include "conf.h"
#include "log.h"

#include <stdarg.h>

#define MAX_SHOWN      100 /* messages printed per file; the rest are counted */
#define SOURCE_COLUMNS 100 /* of the source line shown under a message */

/* The source line L (N bytes) under a message, control characters made
 * visible, and a caret under character COL (1-based, as libyaml counts). A
 * long line is cut to a window around the caret, so that a one-line
 * config does not print itself with every message. */
static void put_source_line(const char *l, size_t n, unsigned col)
{
	size_t nch = 0, k, s = 0, e, *off = xmalloc((n + 1) * sizeof(size_t));
	size_t *w = xmalloc((n + 1) * sizeof(size_t)); /* w[i]: columns before char i */
	char buf[16];

	w[0] = 0;
	for (size_t i = 0, used; i < n; i += used) {
		off[nch] = i;
		w[nch + 1] = w[nch] + log_escape_char(l + i, n - i, buf, &used);
		nch++;
	}
	off[nch] = n;
	k = MIN((size_t)(col ? col - 1 : 0), nch);
	e = nch;
	if (w[nch] > SOURCE_COLUMNS) {
		while (w[k] - w[s] > SOURCE_COLUMNS / 2)
			s++;
		e = s;
		while (e < nch && w[e + 1] - w[s] <= SOURCE_COLUMNS)
			e++;
	}
	fputs("    ", stderr);
	if (s > 0)
		fputs("...", stderr);
	log_put_escaped(stderr, l + off[s], off[e] - off[s]);
	if (e < nch)
		fputs("...", stderr);
	fprintf(stderr, "\n    %*s^\n", (int)((s > 0 ? 3 : 0) + w[k] - w[s]), "");
	free(off);
	free(w);
}

static void print_diag(const char *path, const char *text, struct pos pos, const char *fmt,
		       va_list ap)
{
	_cleanup_free_ char *head = NULL, *msg = NULL;

	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	if (pos.line)
		head = xasprintf("%s:%u:%u: ", path, pos.line, pos.col);
	else
		head = xasprintf("%s: ", path);
	flockfile(stderr);
	/* Paths and values come from the user's files: one line each, their
	 * control characters made visible (log.h). */
	log_put_escaped(stderr, head, strlen(head));
	log_put_escaped(stderr, msg, strlen(msg));
	fputc('\n', stderr);

	/* The source line and a caret under the column. */
	if (text && pos.line) {
		const char *l = text;
		for (unsigned i = 1; i < pos.line && l; i++) {
			l = strchr(l, '\n');
			if (l)
				l++;
		}
		if (l && *l)
			put_source_line(l, strcspn(l, "\n"), pos.col);
	}
	funlockfile(stderr);
}

void conf_error_at(const char *path, const char *text, struct pos pos, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	print_diag(path, text, pos, fmt, ap);
	va_end(ap);
}

void conf_error(struct conf_file *f, struct pos pos, const char *fmt, ...)
{
	va_list ap;

	f->errors++;
	if (f->errors > MAX_SHOWN)
		return;
	va_start(ap, fmt);
	print_diag(f->path, f->text, pos, fmt, ap);
	va_end(ap);
}

void conf_warning(struct conf_file *f, struct pos pos, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	conf_error_at(f->path, f->text, pos, "warning: %s", msg);
}

void conf_report_hidden(struct conf_file *f)
{
	if (f->errors > MAX_SHOWN)
		conf_error_at(f->path, NULL, (struct pos){ 0 },
			      "%u more problems not shown (the first %u are above)",
			      f->errors - MAX_SHOWN, MAX_SHOWN);
}
