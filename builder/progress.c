/* SPDX-License-Identifier: MIT */
#include "progress.h"
#include "util.h"

#include <stdarg.h>
#include <time.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void progress_init(struct progress *p, const char *what)
{
	*p = (struct progress){ .enabled = isatty(STDERR_FILENO) && !getenv("FARM_NO_PROGRESS") };
	snprintf(p->what, sizeof(p->what), "%s", what);
}

/* Whether to draw now: a few times a second at most. */
static bool due(struct progress *p)
{
	uint64_t t;

	if (!p->enabled)
		return false;
	t = now_ns();
	if (p->shown && t - p->last_ns < 200000000ull)
		return false;
	p->last_ns = t;
	p->shown = true;
	return true;
}

void progress_update(struct progress *p, uint64_t done, uint64_t total, uint64_t entries,
		     uint64_t written)
{
	char a[32], b[32], c[32];

	if (!due(p))
		return;
	format_size(done, a, sizeof(a));
	format_size(written, c, sizeof(c));
	if (total)
		fprintf(stderr, "\r\033[K%s: %3u%% (%s of %s read), %llu entries, %s written",
			p->what, (unsigned)(done * 100 / total), a,
			format_size(total, b, sizeof(b)), (unsigned long long)entries, c);
	else
		fprintf(stderr, "\r\033[K%s: %s read, %llu entries, %s written", p->what, a,
			(unsigned long long)entries, c);
}

void progress_line(struct progress *p, const char *fmt, ...)
{
	va_list ap;

	if (!due(p))
		return;
	fprintf(stderr, "\r\033[K%s: ", p->what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

void progress_done(struct progress *p)
{
	if (p->enabled && p->shown)
		fputs("\r\033[K", stderr);
	p->shown = false;
}
