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
	size_t n, cap;
};

void vars_set(struct vars *v, const char *name, const char *value);
void vars_setf(struct vars *v, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const char *vars_get(const struct vars *v, const char *name);
void vars_free(struct vars *v);

/* Checks every placeholder of TEXT against the names in V (values are not
 * used). Prints each problem as NAME:LINE:COL: message; returns the number
 * of problems. */
unsigned template_check(const char *name, const char *text, const struct vars *v);
/* Renders TEXT; returns 0 and a malloc'ed result, or -EINVAL after printing
 * one message (an unknown variable, an unclosed placeholder). */
int template_render(const char *name, const char *text, const struct vars *v, char **out);
