/* SPDX-License-Identifier: MIT */
/* Writing a YAML mapping with libyaml's emitter, for generated files whose
 * values come from the cluster config (k3s's config.yaml): every string is
 * a double-quoted scalar with libyaml's escapes, so that no value, whatever
 * it holds (quotes, newlines, '#', ': '), can end its scalar, add a key or
 * start a comment. The writer keeps the first error; yaml_out_finish()
 * reports it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct yaml_out;

/* A new top-level block mapping. Never NULL. */
struct yaml_out *yaml_out_new(void);

/* KEY: "VALUE" */
void yaml_out_str(struct yaml_out *y, const char *key, const char *value);
/* KEY: true|false */
void yaml_out_bool(struct yaml_out *y, const char *key, bool value);
/* KEY: N */
void yaml_out_uint(struct yaml_out *y, const char *key, uint64_t value);
/* KEY: followed by one "- "VALUE"" item per element; nothing when N is 0. */
void yaml_out_list(struct yaml_out *y, const char *key, const char *const *values, size_t n);
/* KEY: VALUE as a plain scalar, for values the caller formats from a
 * number (a size or a duration with its unit: "512MiB", "1h30m"), which
 * nothing in them can end. */
void yaml_out_plain(struct yaml_out *y, const char *key, const char *value);
/* KEY: followed by a nested block mapping, whose entries come until
 * yaml_out_map_end(). */
void yaml_out_map_begin(struct yaml_out *y, const char *key);
void yaml_out_map_end(struct yaml_out *y);

/* Ends the mapping. On success returns 0 and the text (malloc'ed, NUL
 * terminated) in *TEXT; on failure returns -EINVAL and *WHY (malloc'ed)
 * names the key whose value could not be written (e.g. not UTF-8). Frees Y
 * in both cases. */
int yaml_out_finish(struct yaml_out *y, char **text, char **why);
