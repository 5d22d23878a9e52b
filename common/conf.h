/* SPDX-License-Identifier: MIT */
/* Typed YAML loading driven by schema tables (as netplan's parse.c does):
 * each table row says key, value type, where the value goes and whether it
 * is required. Unknown keys, duplicate keys, wrong node kinds and values that
 * do not parse are errors, each printed once as
 *     FILE:LINE:COL: message
 *         the source line
 *         ^
 * Every loaded value remembers where it came from, so that later semantic
 * checks (addresses outside the LAN, overlaps, duplicates) can point at it. */
#pragma once

#include "net.h"
#include "util.h"

#include <yaml.h>

struct pos {
	unsigned line, col; /* 1-based; 0 when unknown */
};

/* Every value type starts with this. */
struct cmeta {
	struct pos pos;
	bool set;
};

/* One table, read across: */
/* clang-format off */
struct cstr { struct cmeta m; char *v; };
/* FT_ENUM: the value as written, and its index in the field's values. */
struct cenum { struct cmeta m; char *v; unsigned i; };
struct cuint { struct cmeta m; uint64_t v; };
struct cbool { struct cmeta m; bool v; };
struct caddr { struct cmeta m; struct ip_addr v; };
struct cprefix { struct cmeta m; struct ip_prefix v; };
struct crange { struct cmeta m; struct ip_addr first, last; };
struct cstrlist { struct cmeta m; size_t n; char **v; struct pos *vpos; };
struct cstrmap { struct cmeta m; size_t n; char **keys; char **values; struct pos *kpos, *vpos; };
struct caddrlist { struct cmeta m; size_t n; struct ip_addr *v; struct pos *vpos; };
struct clist { struct cmeta m; size_t n; void *items; };
/* clang-format on */

enum field_type {
	FT_STRING,   /* struct cstr */
	FT_UINT,     /* struct cuint: decimal integer, range [min, max] */
	FT_BOOL,     /* struct cbool: true/false */
	FT_SIZE,     /* struct cuint: "512MiB", "4GiB", "4096B" (a unit is required), [min, max] */
	FT_TIME,     /* struct cuint: "HH:MM", minutes after midnight */
	FT_DURATION, /* struct cuint: seconds, written "90s", "15m", "1h30m" */
	FT_ENUM,     /* struct cenum: one of field->values */
	FT_IPV4,     /* struct caddr */
	FT_IPV6,     /* struct caddr */
	FT_PREFIX4,  /* struct cprefix: IPv4 CIDR, host bits clear */
	FT_PREFIX6,  /* struct cprefix */
	FT_RANGE4,   /* struct crange: "a.b.c.d-a.b.c.e" */
	FT_RANGE6,   /* struct crange */
	FT_ADDRLIST, /* struct caddrlist: IPv4 or IPv6 addresses */
	FT_STRLIST,  /* struct cstrlist */
	FT_STRMAP,   /* struct cstrmap: string -> string */
	FT_MAP,	     /* embedded struct whose first member is a struct cmeta */
	FT_LIST,     /* struct clist of mappings, each field->sub->size bytes */
};

struct schema;

struct field {
	const char *key;
	enum field_type type;
	size_t offset;
	bool required;
	const struct schema *sub;  /* FT_MAP, FT_LIST */
	const char *const *values; /* FT_ENUM: NULL-terminated */
	uint64_t min, max;	   /* FT_UINT; FT_SIZE (max 0: 1 EiB) */
	bool multiline;		   /* FT_STRING, FT_STRLIST: line breaks and tabs allowed */
};

/* One table row: CONF_FIELD("ipv4", FT_IPV4, struct config_node, ipv4, .required = true) */
#define CONF_FIELD(k, kind, owner, member, ...)                                                    \
	{                                                                                          \
		.key = (k), .type = (kind), .offset = offsetof(owner, member), __VA_ARGS__         \
	}

struct schema {
	const char *what;	    /* "node", "network.lan": used in messages */
	const char *name_key;	    /* key whose value names an item: "node 'cow'" */
	size_t size;		    /* item size for FT_LIST */
	const struct field *fields; /* terminated by a row with key == NULL */
};

/* One YAML file being loaded, with its source kept for diagnostics. */
struct conf_file {
	char *path;
	char *text;
	size_t len;
	yaml_document_t doc;
	bool have_doc;
	unsigned errors;
	unsigned visited; /* nodes walked; bounds alias expansion */
};

/* Reads and parses PATH. Returns 0, or -errno after printing one message
 * (a missing file, a YAML syntax error with its position). */
int conf_file_open(const char *path, struct conf_file *f);
/* Only the first 100 errors of a file are printed (the rest are counted):
 * closing the file says how many were left out, if any. */
void conf_file_close(struct conf_file *f);

/* Loads the document's root mapping into OBJ per SCHEMA. Errors are printed
 * and counted in f->errors; returns the number of new errors. */
unsigned conf_load(struct conf_file *f, const struct schema *schema, void *obj);

/* Prints "PATH:LINE:COL: message" plus the source line (a window of it,
 * when long) and a caret, and counts the error. Used by semantic checks. */
void conf_error(struct conf_file *f, struct pos pos, const char *fmt, ...) _printf_(3, 4);
/* "PATH:LINE:COL: warning: message", not counted as an error. */
void conf_warning(struct conf_file *f, struct pos pos, const char *fmt, ...) _printf_(3, 4);
/* Same format, for a file that is not (or no longer) loaded. */
void conf_error_at(const char *path, const char *text, struct pos pos, const char *fmt, ...)
	_printf_(4, 5);

/* For conf_file_close(): "N more problems not shown", when there were. */
void conf_report_hidden(struct conf_file *f);

/* Frees every value OBJ holds per SCHEMA (not OBJ itself). */
void conf_free(const struct schema *schema, void *obj);

/* "90s", "15m", "1h30m" (units h, m, s in that order, at most 30 days)
 * into seconds. Returns 0, -EINVAL or -ERANGE. */
int conf_parse_duration(const char *s, uint64_t *ret);
