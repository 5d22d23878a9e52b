/* SPDX-License-Identifier: MIT */
/* Overlay templates: files ending in ".in" whose "{{name}}" placeholders are
 * replaced by the node's values. A name that is not a variable is an error
 * with its position (FILE:LINE:COL), found when the build is planned,
 * before anything is written. There is no logic in templates: values that
 * need loops (the hosts of the cluster, the k3s config) are computed in C. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct vars {
	char **names, **values;
	bool *multiline;
	size_t n, cap;
};

/* A value is one line (no control characters at all) unless it is set with
 * vars_set_lines(), which allows line breaks and tabs (outside systemd
 * units). */
void vars_set(struct vars *v, const char *name, const char *value);
void vars_set_lines(struct vars *v, const char *name, const char *value);
void vars_setf(struct vars *v, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const char *vars_get(const struct vars *v, const char *name);
void vars_free(struct vars *v);

/* Checks every placeholder of TEXT against the names in V, and that each
 * value can go where it is placed. Prints each problem as NAME:LINE:COL:
 * message; returns the number of problems.
 *
 * How values are written: as they are, except in systemd units (NAME ends
 * in .service.in, .timer.in, ...), where a '%' becomes "%%" so that systemd
 * does not expand it as a specifier. A value with a control character is
 * refused, and so is a line break outside vars_set_lines() values or inside
 * a unit. */
unsigned template_check(const char *name, const char *text, const struct vars *v);
/* Renders TEXT; returns 0 and a malloc'ed result, or -EINVAL after printing
 * each problem (an unknown variable, an unclosed placeholder, a value that
 * cannot go there). */
int template_render(const char *name, const char *text, const struct vars *v, char **out);

/* VALUE as a systemd unit file takes it ('%' written "%%"), malloc'ed; NULL
 * when it cannot go into a unit at all (a control character, a line
 * break). For units written in C rather than from a template. */
char *template_unit_value(const char *value);

/* Where a template's text sits inside a file (a YAML block scalar): its
 * first line is the file's LINE, every line indented by INDENT columns. */
struct tmpl_origin {
	const char *path, *file_text;
	unsigned line, indent;
};
/* template_render() for such a template: every problem is printed at the
 * file's position (FILE:LINE:COL, the source line and a caret), all of
 * them before it fails. */
int template_render_in(const struct tmpl_origin *o, const char *text, const struct vars *v,
		       char **out);
