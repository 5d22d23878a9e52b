/* SPDX-License-Identifier: MIT */
#include "json.h"
#include "util.h"

static void indent(struct json *j)
{
	fputc('\n', j->f);
	for (int i = 0; i < j->depth; i++)
		fputs("  ", j->f);
}

/* Separator and indentation before a value or a key. */
static void before_item(struct json *j)
{
	if (j->is_key) {
		j->is_key = false;
		return;
	}
	if (j->depth > 0) {
		if (!j->first)
			fputc(',', j->f);
		indent(j);
	}
	j->first = false;
}

void json_begin(struct json *j, FILE *f) { *j = (struct json){ .f = f, .first = true }; }

void json_end(struct json *j) { fputc('\n', j->f); }

static void open_container(struct json *j, char c)
{
	before_item(j);
	fputc(c, j->f);
	j->depth++;
	j->first = true;
}

static void close_container(struct json *j, char c)
{
	j->depth--;
	if (!j->first)
		indent(j);
	fputc(c, j->f);
	j->first = false;
}

void json_object_open(struct json *j) { open_container(j, '{'); }
void json_object_close(struct json *j) { close_container(j, '}'); }
void json_array_open(struct json *j) { open_container(j, '['); }
void json_array_close(struct json *j) { close_container(j, ']'); }

/* A JSON string: always valid JSON (RFC 8259) and UTF-8, whatever S holds.
 * Control characters are escaped; a byte that does not start a valid
 * UTF-8 sequence (a base path or a record in another encoding) becomes
 * U+FFFD, the replacement character, as a decoder would show it. */
static void write_string(FILE *f, const char *s)
{
	size_t len = strlen(s);

	fputc('"', f);
	for (size_t i = 0; i < len;) {
		uint32_t c;
		size_t n = utf8_decode(s + i, len - i, &c);
		if (n == 0) {
			fputs("\\ufffd", f);
			i++;
			continue;
		}
		switch (c) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (c < 0x20)
				fprintf(f, "\\u%04x", (unsigned)c);
			else
				fwrite(s + i, 1, n, f);
		}
		i += n;
	}
	fputc('"', f);
}

void json_key(struct json *j, const char *key)
{
	before_item(j);
	write_string(j->f, key);
	fputs(": ", j->f);
	j->is_key = true;
}

void json_string(struct json *j, const char *s)
{
	before_item(j);
	if (s)
		write_string(j->f, s);
	else
		fputs("null", j->f);
}

void json_uint(struct json *j, uint64_t v)
{
	before_item(j);
	fprintf(j->f, "%llu", (unsigned long long)v);
}

void json_bool(struct json *j, bool v)
{
	before_item(j);
	fputs(v ? "true" : "false", j->f);
}

void json_null(struct json *j)
{
	before_item(j);
	fputs("null", j->f);
}

void json_kv_string(struct json *j, const char *key, const char *s)
{
	json_key(j, key);
	json_string(j, s);
}

void json_kv_uint(struct json *j, const char *key, uint64_t v)
{
	json_key(j, key);
	json_uint(j, v);
}

void json_kv_bool(struct json *j, const char *key, bool v)
{
	json_key(j, key);
	json_bool(j, v);
}
