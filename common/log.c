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
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x061c || c == 0x200e || c == 0x200f ||
	       (c >= 0x2028 && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
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

/* A line is put together in memory and written with one call: several
 * processes may share stderr (build --all's builds, each in its own), and
 * a line written in pieces (the prefix, each escaped character) would
 * interleave with theirs mid-line. flockfile() orders the threads of one
 * process only. */
struct line {
	FILE *m;
	char *text;
	size_t len;
};

static FILE *line_open(struct line *l)
{
	l->text = NULL;
	l->len = 0;
	l->m = open_memstream(&l->text, &l->len);
	if (!l->m)
		oom();
	return l->m;
}

static void line_write(struct line *l, FILE *f)
{
	if (fclose(l->m) != 0)
		oom();
	fwrite(l->text, 1, l->len, f);
	free(l->text);
}

void log_print(FILE *f, const char *fmt, ...)
{
	_cleanup_free_ char *text = NULL;
	struct line l;
	va_list ap;
	FILE *m;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	m = line_open(&l);
	log_put_escaped(m, text, (size_t)n - (n > 0 && text[n - 1] == '\n'));
	if (n > 0 && text[n - 1] == '\n')
		fputc('\n', m);
	line_write(&l, f);
}

int log_full_errno(enum log_level level, int err, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	if (err < 0)
		err = -err;
	if (level <= max_level) {
		_cleanup_free_ char *msg = NULL;
		struct line l;
		FILE *m;
		int n;

		errno = err;
		va_start(ap, fmt);
		n = vasprintf(&msg, fmt, ap);
		va_end(ap);
		if (n < 0)
			oom();
		m = line_open(&l);
		if (journal)
			fprintf(m, "<%d>", (int)level);
		else
			fprintf(m, "%s: ", program_name);
		if (level == LOG_LEVEL_WARNING && !journal)
			fputs("warning: ", m);
		/* One message, one line: whatever the arguments carry (an
		 * archive's entry names, config values) cannot move the
		 * cursor, colour the terminal or forge a line of its own. */
		log_put_escaped(m, msg, (size_t)n);
		fputc('\n', m);
		line_write(&l, stderr);
	}
	errno = saved;
	return err ? -err : -EIO;
}
