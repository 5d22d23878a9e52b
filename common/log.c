/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <stdarg.h>

static const char *program_name = "farm";
static enum log_level max_level = LOG_LEVEL_INFO;
static bool journal;

void log_init(const char *program)
{
	const char *e;

	program_name = program;
	journal = getenv("JOURNAL_STREAM") != NULL;
	e = getenv("FARM_LOG_LEVEL");
	if (e && streq(e, "debug"))
		max_level = LOG_LEVEL_DEBUG;
}

void log_set_max_level(enum log_level level) { max_level = level; }
enum log_level log_get_max_level(void) { return max_level; }

int log_full_errno(enum log_level level, int err, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	if (err < 0)
		err = -err;
	if (level <= max_level) {
		flockfile(stderr);
		if (journal)
			fprintf(stderr, "<%d>", (int)level);
		else
			fprintf(stderr, "%s: ", program_name);
		if (level == LOG_LEVEL_WARNING && !journal)
			fputs("warning: ", stderr);
		errno = err;
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
		funlockfile(stderr);
	}
	errno = saved;
	return err ? -err : -EIO;
}
