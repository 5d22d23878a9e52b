/* SPDX-License-Identifier: MIT */
#include "template.h"
#include "conf.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <stdarg.h>

static void set(struct vars *v, const char *name, const char *value, bool multiline)
{
	for (size_t i = 0; i < v->n; i++)
		if (streq(v->names[i], name)) {
			free(v->values[i]);
			v->values[i] = xstrdup(value);
			v->multiline[i] = multiline;
			return;
		}
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 32;
		v->names = xrealloc(v->names, v->cap * sizeof(char *));
		v->values = xrealloc(v->values, v->cap * sizeof(char *));
		v->multiline = xrealloc(v->multiline, v->cap * sizeof(bool));
	}
	v->names[v->n] = xstrdup(name);
	v->multiline[v->n] = multiline;
	v->values[v->n++] = xstrdup(value);
}

void vars_set(struct vars *v, const char *name, const char *value) { set(v, name, value, false); }

void vars_set_lines(struct vars *v, const char *name, const char *value)
{
	set(v, name, value, true);
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

static ssize_t find(const struct vars *v, const char *name)
{
	for (size_t i = 0; i < v->n; i++)
		if (streq(v->names[i], name))
			return (ssize_t)i;
	return -1;
}

const char *vars_get(const struct vars *v, const char *name)
{
	ssize_t i = find(v, name);

	return i < 0 ? NULL : v->values[i];
}

void vars_free(struct vars *v)
{
	for (size_t i = 0; i < v->n; i++) {
		free(v->names[i]);
		free(v->values[i]);
	}
	free(v->names);
	free(v->values);
	free(v->multiline);
	*v = (struct vars){ 0 };
}

/* Whether the template NAME renders a systemd unit file, whose values
 * systemd expands specifiers in ("%n", "%h": systemd.unit(5),
 * "Specifiers"): a '%' of a value is written "%%". */
static bool is_unit_file(const char *name)
{
	static const char *const suffixes[] = {
		".service.in", ".socket.in", ".timer.in",  ".mount.in", ".automount.in",
		".swap.in",    ".path.in",   ".target.in", ".slice.in", ".scope.in",
	};
	size_t n = strlen(name);

	for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
		size_t m = strlen(suffixes[i]);
		if (n >= m && streq(name + n - m, suffixes[i]))
			return true;
	}
	return false;
}

/* Writes VALUE as the template's format wants it; returns false (nothing
 * written) when the value cannot be written there. Every value is checked
 * when the config is loaded (common/config.c), so that this never refuses
 * what came from a valid config: it is the last guard, for values from the
 * base (its OpenSSH version) and for templates that put a value where it
 * was not meant to go. */
static bool put_value(FILE *out, const char *value, bool multiline, bool unit, const char **why)
{
	for (const char *p = value; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			bool lines = *p == '\n' || *p == '\t';
			if (lines && multiline && !unit)
				continue; /* /etc/hosts, fstab: lines of fields */
			*why = lines && multiline
				       ? "is several lines, which a systemd unit cannot take"
			       : *p == '\n' ? "holds a line break"
					    : "holds a control character";
			return false;
		}
	if (!out)
		return true;
	for (const char *p = value; *p; p++) {
		if (unit && *p == '%')
			fputc('%', out);
		fputc(*p, out);
	}
	return true;
}

char *template_unit_value(const char *value)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	const char *why;
	bool ok = put_value(f, value, false, true, &why);

	fclose(f);
	if (!ok) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* A problem at POS of a template: in the template (NAME, TEXT), or, for a
 * template inside a file (O), at that file's position. */
#define problem(o, name, text, pos, ...)                                                           \
	((o) ? conf_error_at((o)->path, (o)->file_text,                                            \
			     (struct pos){ (o)->line + (pos).line - 1, (o)->indent + (pos).col },  \
			     __VA_ARGS__)                                                          \
	     : conf_error_at((name), (text), (pos), __VA_ARGS__))

/* Walks TEXT, checking each {{name}} (and writing the rendering to OUT when
 * given). Returns the number of problems found. */
static unsigned walk_in(const struct tmpl_origin *o, const char *name, const char *text,
			const struct vars *v, FILE *out)
{
	unsigned line = 1, col = 1, problems = 0;
	bool unit = is_unit_file(name);
	const char *p = text;

	while (*p) {
		if (p[0] == '{' && p[1] == '{') {
			const char *start = p + 2, *end = strstr(start, "}}"), *why = NULL;
			struct pos pos = { line, col };
			char key[64];
			size_t len;
			ssize_t i;

			if (!end || memchr(start, '\n', (size_t)(end - start))) {
				problem(o, name, text, pos, "'{{' is not closed on the same line");
				return problems + 1;
			}
			while (start < end && isspace((unsigned char)*start))
				start++;
			len = (size_t)(end - start);
			while (len && isspace((unsigned char)start[len - 1]))
				len--;
			if (len == 0 || len >= sizeof(key)) {
				problem(o, name, text, pos, "empty or over-long placeholder");
				problems++;
			} else {
				memcpy(key, start, len);
				key[len] = 0;
				i = find(v, key);
				if (i < 0) {
					problem(o, name, text, pos, "unknown variable '%s'", key);
					problems++;
				} else if (!put_value(out, v->values[i], v->multiline[i], unit,
						      &why)) {
					problem(o, name, text, pos, "the value of '%s' %s: '%s'",
						key, why, v->values[i]);
					problems++;
				}
			}
			for (const char *q = p; q < end + 2; q++)
				col += ((unsigned char)*q & 0xc0) != 0x80;
			p = end + 2;
			continue;
		}
		if (out)
			fputc(*p, out);
		if (*p == '\n') {
			line++;
			col = 1;
		} else if (((unsigned char)*p & 0xc0) != 0x80)
			col++; /* characters, as the config's positions count */
		p++;
	}
	return problems;
}

unsigned template_check(const char *name, const char *text, const struct vars *v)
{
	return walk_in(NULL, name, text, v, NULL);
}

/* Renders TEXT (from O, or named NAME) into *OUT. */
static int render(const struct tmpl_origin *o, const char *name, const char *text,
		  const struct vars *v, char **out)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	unsigned problems;

	if (!f)
		return -ENOMEM;
	problems = walk_in(o, name, text, v, f);
	fclose(f);
	if (problems) {
		free(buf);
		return -EINVAL;
	}
	*out = buf;
	return 0;
}

int template_render(const char *name, const char *text, const struct vars *v, char **out)
{
	return render(NULL, name, text, v, out);
}

int template_render_in(const struct tmpl_origin *o, const char *text, const struct vars *v,
		       char **out)
{
	return render(o, o->path, text, v, out);
}
