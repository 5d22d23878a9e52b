/* SPDX-License-Identifier: MIT */
#include "template.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <stdarg.h>

void vars_set(struct vars *v, const char *name, const char *value)
{
	for (size_t i = 0; i < v->n; i++)
		if (streq(v->names[i], name)) {
			free(v->values[i]);
			v->values[i] = xstrdup(value);
			return;
		}
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 32;
		v->names = xrealloc(v->names, v->cap * sizeof(char *));
		v->values = xrealloc(v->values, v->cap * sizeof(char *));
	}
	v->names[v->n] = xstrdup(name);
	v->values[v->n++] = xstrdup(value);
}

void vars_setf(struct vars *v, const char *name, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	vars_set(v, name, s);
	free(s);
}

const char *vars_get(const struct vars *v, const char *name)
{
	for (size_t i = 0; i < v->n; i++)
		if (streq(v->names[i], name))
			return v->values[i];
	return NULL;
}

void vars_free(struct vars *v)
{
	for (size_t i = 0; i < v->n; i++) {
		free(v->names[i]);
		free(v->values[i]);
	}
	free(v->names);
	free(v->values);
	*v = (struct vars){ 0 };
}

/* Walks TEXT, checking each {{name}} (and writing the rendering to OUT when
 * given). Returns the number of problems found. */
static unsigned walk(const char *name, const char *text, const struct vars *v, FILE *out)
{
	unsigned line = 1, col = 1, problems = 0;
	const char *p = text;

	while (*p) {
		if (p[0] == '{' && p[1] == '{') {
			const char *start = p + 2, *end = strstr(start, "}}");
			char key[64];
			size_t len;
			const char *value;

			if (!end || memchr(start, '\n', (size_t)(end - start))) {
				fprintf(stderr, "%s:%u:%u: '{{' is not closed on the same line\n", name,
					line, col);
				return problems + 1;
			}
			while (start < end && isspace((unsigned char)*start))
				start++;
			len = (size_t)(end - start);
			while (len && isspace((unsigned char)start[len - 1]))
				len--;
			if (len == 0 || len >= sizeof(key)) {
				fprintf(stderr, "%s:%u:%u: empty or over-long placeholder\n", name, line,
					col);
				problems++;
			} else {
				memcpy(key, start, len);
				key[len] = 0;
				value = vars_get(v, key);
				if (!value) {
					fprintf(stderr, "%s:%u:%u: unknown variable '%s'\n", name, line,
						col, key);
					problems++;
				} else if (out)
					fputs(value, out);
			}
			col += (unsigned)(end + 2 - p);
			p = end + 2;
			continue;
		}
		if (out)
			fputc(*p, out);
		if (*p == '\n') {
			line++;
			col = 1;
		} else
			col++;
		p++;
	}
	return problems;
}

unsigned template_check(const char *name, const char *text, const struct vars *v)
{
	return walk(name, text, v, NULL);
}

int template_render(const char *name, const char *text, const struct vars *v, char **out)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	unsigned problems;

	if (!f)
		return -ENOMEM;
	problems = walk(name, text, v, f);
	fclose(f);
	if (problems) {
		free(buf);
		return -EINVAL;
	}
	*out = buf;
	return 0;
}
