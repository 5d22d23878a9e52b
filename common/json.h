/* SPDX-License-Identifier: MIT */
/* A small streaming JSON writer with deterministic output (two-space
 * indentation, keys in the order written). Shared by the image manifest and
 * farm-node's status. Its output is always valid JSON in UTF-8: strings are
 * escaped, and bytes that are not UTF-8 become U+FFFD. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct json {
	FILE *f;
	int depth;
	bool first;  /* no member written yet at this depth */
	bool is_key; /* a key was just written; its value follows */
};

void json_begin(struct json *j, FILE *f);
void json_end(struct json *j); /* final newline */

void json_object_open(struct json *j);
void json_object_close(struct json *j);
void json_array_open(struct json *j);
void json_array_close(struct json *j);
void json_key(struct json *j, const char *key);
void json_string(struct json *j, const char *s);
void json_uint(struct json *j, uint64_t v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);

/* key + value shorthands */
void json_kv_string(struct json *j, const char *key, const char *s);
void json_kv_uint(struct json *j, const char *key, uint64_t v);
void json_kv_bool(struct json *j, const char *key, bool v);
