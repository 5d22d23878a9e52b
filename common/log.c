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

const char *log_program_name(void) { return program_name; }

void log_set_max_level(enum log_level level) { max_level = level; }
enum log_level log_get_max_level(void) { return max_level; }

/* Code points a terminal (or a reader) would act on rather than show: C0
 * and C1 controls, DEL, and the Unicode controls that reorder or break
 * lines (bidirectional overrides and isolates, line and paragraph
 * separators). */
static bool acts_on_terminal(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x061c || c == 0x200e ||
	       c == 0x200f || (c >= 0x2028 && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

size_t log_escape_char(const char *s, size_t len, char out[16], size_t *consumed)
{
	uint32_t c;
	size_t n = utf8_decode(s, len, &c);

	if (n == 0) {
		/* Not UTF-8: the byte, in hex. */
		snprintf(out, 16, "\\x%02x", (unsigned char)s[0]);
		*consumed = 1;
		return 4;
	}
	*consumed = n;
	if (!acts_on_terminal(c)) {
		memcpy(out, s, n);
		out[n] = 0;
		return 1;
	}
	if (c == '\n')
		strcpy(out, "\\n");
	else if (c == '\r')
		strcpy(out, "\\r");
	else if (c == '\t')
		strcpy(out, "\\t");
	else if (c < 0x80)
		snprintf(out, 16, "\\x%02x", (unsigned)c);
	else
		snprintf(out, 16, "\\u%04x", (unsigned)c);
	return strlen(out);
}

size_t log_put_escaped(FILE *f, const char *s, size_t len)
{
	size_t cols = 0;

	for (size_t i = 0; i < len;) {
		char buf[16];
		size_t n;
		cols += log_escape_char(s + i, len - i, buf, &n);
		fputs(buf, f);
		i += n;
	}
	return cols;
}

bool log_is_printable(const char *s)
{
	size_t len = strlen(s);

	for (size_t i = 0; i < len;) {
		uint32_t c;
		size_t n = utf8_decode(s + i, len - i, &c);
		if (n == 0 || acts_on_terminal(c))
			return false;
		i += n;
	}
	return true;
}

void log_print(FILE *f, const char *fmt, ...)
{
	_cleanup_free_ char *text = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0) {
		fputs("out of memory\n", stderr);
		abort();
	}
	flockfile(f);
	log_put_escaped(f, text, (size_t)n - (n > 0 && text[n - 1] == '\n'));
	if (n > 0 && text[n - 1] == '\n')
		fputc('\n', f);
	funlockfile(f);
}

int log_full_errno(enum log_level level, int err, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	if (err < 0)
		err = -err;
	if (level <= max_level) {
		_cleanup_free_ char *msg = NULL;
		int n;

		errno = err;
		va_start(ap, fmt);
		n = vasprintf(&msg, fmt, ap);
		va_end(ap);
		if (n < 0) {
			fputs("out of memory\n", stderr);
			abort();
		}
		flockfile(stderr);
		if (journal)
			fprintf(stderr, "<%d>", (int)level);
		else
			fprintf(stderr, "%s: ", program_name);
		if (level == LOG_LEVEL_WARNING && !journal)
			fputs("warning: ", stderr);
		/* One message, one line: whatever the arguments carry (an
		 * archive's entry names, config values) cannot move the
		 * cursor, colour the terminal or forge a line of its own. */
		log_put_escaped(stderr, msg, (size_t)n);
		fputc('\n', stderr);
		funlockfile(stderr);
	}
	errno = saved;
	return err ? -err : -EIO;
}
