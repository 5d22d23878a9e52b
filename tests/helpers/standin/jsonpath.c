/* SPDX-License-Identifier: MIT */
/* kubectl's -o jsonpath (k8s.io/client-go/util/jsonpath), the subset the
 * tests need: {.a.b} with \. escapes, [N], [*], [?(@.a.b=="v")] and !=,
 * {range EXPR}...{end}, {"literal"}; several results print separated by a
 * space, strings bare, the rest as JSON. Plus label selectors. */
#include "standin.h"

#include <stdlib.h>
#include <string.h>

struct vals {
	json_object **v;
	size_t n, cap;
};

static void push(struct vals *s, json_object *o)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = o;
}

/* A field name at *P (up to '.', '[' or the end; "\." is a dot). */
static size_t name_at(const char *p, char *buf, size_t len)
{
	size_t i = 0, n = 0;

	while (p[i] && p[i] != '.' && p[i] != '[') {
		if (p[i] == '\\' && p[i + 1])
			i++;
		if (n + 1 < len)
			buf[n++] = p[i];
		i++;
	}
	buf[n] = 0;
	return i;
}

static int eval(json_object *ctx, const char *expr, struct vals *out, char *err, size_t errlen);

/* Whether ITEM passes the filter "@.path OP value". */
static bool filter_ok(json_object *item, const char *f)
{
	const char *op = strstr(f, "==");
	bool eq = true;
	char path[256], want[256];
	struct vals v = { 0 };
	const char *val;
	bool ok = false;
	char e[64];

	if (!op) {
		op = strstr(f, "!=");
		eq = false;
	}
	if (!op || strncmp(f, "@", 1) != 0)
		return false;
	snprintf(path, sizeof(path), "%.*s", (int)(op - f - 1), f + 1);
	val = op + 2;
	if (*val == '"' || *val == '\'') {
		snprintf(want, sizeof(want), "%s", val + 1);
		want[strcspn(want, "\"'")] = 0;
	} else
		snprintf(want, sizeof(want), "%s", val);
	if (eval(item, path, &v, e, sizeof(e)) < 0)
		return false;
	for (size_t i = 0; i < v.n; i++) {
		const char *s = json_object_is_type(v.v[i], json_type_string)
					? json_object_get_string(v.v[i])
					: json_object_to_json_string(v.v[i]);
		ok |= s && !strcmp(s, want);
	}
	free(v.v);
	return eq ? ok : !ok;
}

/* EXPR: ".a.b[0][*][?(...)]" relative to CTX. */
static int eval(json_object *ctx, const char *expr, struct vals *out, char *err, size_t errlen)
{
	struct vals cur = { 0 }, next;
	const char *p = expr;

	while (*p == ' ')
		p++;
	if (*p == '$' || *p == '@')
		p++;
	push(&cur, ctx);
	while (*p && *p != ' ' && *p != '}') {
		next = (struct vals){ 0 };
		if (*p == '.') {
			char name[256];
			p++;
			if (!*p || *p == '[')
				continue;
			p += name_at(p, name, sizeof(name));
			for (size_t i = 0; i < cur.n; i++) {
				json_object *c;
				if (json_object_is_type(cur.v[i], json_type_object) &&
				    json_object_object_get_ex(cur.v[i], name, &c))
					push(&next, c);
			}
		} else if (*p == '[') {
			const char *close = strchr(p, ']');
			char inner[512];
			if (!close) {
				snprintf(err, errlen, "unclosed [");
				free(cur.v);
				return -1;
			}
			if (p[1] == '?') {
				/* [?(...)] may hold ']' in its value: find ")]" */
				const char *e = strstr(p, ")]");
				if (e)
					close = e + 1;
			}
			snprintf(inner, sizeof(inner), "%.*s", (int)(close - p - 1), p + 1);
			p = close + 1;
			for (size_t i = 0; i < cur.n; i++) {
				json_object *a = cur.v[i];
				size_t len;
				if (!json_object_is_type(a, json_type_array))
					continue;
				len = json_object_array_length(a);
				if (!strcmp(inner, "*")) {
					for (size_t k = 0; k < len; k++)
						push(&next, json_object_array_get_idx(a, k));
				} else if (inner[0] == '?') {
					char f[500];
					snprintf(f, sizeof(f), "%s", inner + 2);
					if (strlen(f))
						f[strlen(f) - 1] = 0; /* the closing ')' */
					for (size_t k = 0; k < len; k++)
						if (filter_ok(json_object_array_get_idx(a, k), f))
							push(&next,
							     json_object_array_get_idx(a, k));
				} else {
					long idx = strtol(inner, NULL, 10);
					if (idx < 0)
						idx += (long)len;
					if (idx >= 0 && (size_t)idx < len)
						push(&next,
						     json_object_array_get_idx(a, (size_t)idx));
				}
			}
		} else {
			snprintf(err, errlen, "unrecognized character in action: %c", *p);
			free(cur.v);
			return -1;
		}
		free(cur.v);
		cur = next;
	}
	for (size_t i = 0; i < cur.n; i++)
		if (cur.v[i])
			push(out, cur.v[i]);
	free(cur.v);
	return 0;
}

static void print_val(FILE *f, json_object *v)
{
	if (json_object_is_type(v, json_type_string))
		fputs(json_object_get_string(v), f);
	else
		fputs(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), f);
}

/* Runs TMPL (up to END, or to its end) with CTX; returns where it
 * stopped ("{end}" consumed) or NULL after an error. */
static const char *run(FILE *f, json_object *ctx, const char *t, char *err, size_t errlen)
{
	while (*t) {
		const char *close;
		char action[1024];
		if (*t != '{') {
			fputc(*t++, f);
			continue;
		}
		close = strchr(t, '}');
		if (!close) {
			snprintf(err, errlen, "unclosed action");
			return NULL;
		}
		snprintf(action, sizeof(action), "%.*s", (int)(close - t - 1), t + 1);
		t = close + 1;
		if (!strcmp(action, "end"))
			return t;
		if (action[0] == '"') {
			for (const char *c = action + 1; *c && *c != '"'; c++) {
				if (*c == '\\' && c[1] == 'n') {
					fputc('\n', f);
					c++;
				} else if (*c == '\\' && c[1] == 't') {
					fputc('\t', f);
					c++;
				} else
					fputc(*c, f);
			}
			continue;
		}
		if (!strncmp(action, "range ", 6)) {
			struct vals v = { 0 };
			const char *after = NULL;
			if (eval(ctx, action + 6, &v, err, errlen) < 0)
				return NULL;
			if (v.n == 0) {
				/* skip to the matching {end} */
				FILE *null = fopen("/dev/null", "w");
				after = run(null, NULL, t, err, errlen);
				fclose(null);
			}
			for (size_t i = 0; i < v.n; i++) {
				after = run(f, v.v[i], t, err, errlen);
				if (!after) {
					free(v.v);
					return NULL;
				}
			}
			free(v.v);
			if (!after)
				return NULL;
			t = after;
			continue;
		}
		{
			struct vals v = { 0 };
			if (!ctx)
				continue;
			if (eval(ctx, action, &v, err, errlen) < 0)
				return NULL;
			for (size_t i = 0; i < v.n; i++) {
				if (i)
					fputc(' ', f);
				print_val(f, v.v[i]);
			}
			free(v.v);
		}
	}
	return t;
}

int jsonpath_print(FILE *f, json_object *obj, const char *tmpl, char *err, size_t errlen)
{
	return run(f, obj, tmpl, err, errlen) ? 0 : -1;
}

bool selector_matches(json_object *obj, const char *selector)
{
	char *copy = strdup(selector), *save = NULL;
	bool ok = true;
	json_object *labels = jget(obj, "metadata", "labels", NULL);

	for (char *term = strtok_r(copy, ",", &save); term && ok;
	     term = strtok_r(NULL, ",", &save)) {
		char *ne = strstr(term, "!="), *eq = ne ? NULL : strchr(term, '=');
		const char *have;
		json_object *v = NULL;
		if (ne)
			*ne = 0;
		else if (eq) {
			*eq = 0;
			if (eq[1] == '=')
				eq++;
		}
		if (labels)
			json_object_object_get_ex(labels, term, &v);
		have = v ? json_object_get_string(v) : NULL;
		if (ne)
			ok = !have || strcmp(have, ne + 2);
		else if (eq)
			ok = have && !strcmp(have, eq + 1);
		else
			ok = have != NULL;
	}
	free(copy);
	return ok;
}
