/* SPDX-License-Identifier: MIT */
/* The schema loader (conf.h): a file and its one document, the walk of its
 * mappings and lists, keys checked against the schema; each scalar value is
 * parsed by conf-scalar.c. */
#include "fileio.h"
#include "conf-internal.h"
#include "log.h"

#include <fcntl.h>
#include <sys/stat.h>

#define MAX_CONF_SIZE	  (4 * MiB)
#define MAX_NODES_VISITED 200000

static struct pos mark_pos(yaml_mark_t m)
{
	/* libyaml counts from 0. */
	return (struct pos){ .line = (unsigned)m.line + 1, .col = (unsigned)m.column + 1 };
}

static struct pos node_pos(yaml_node_t *n) { return mark_pos(n->start_mark); }

/* The line and character column of byte OFF of TEXT. */
static struct pos offset_pos(const char *text, size_t off)
{
	struct pos p = { 1, 1 };

	for (size_t i = 0; i < off; i++) {
		if (text[i] == '\n')
			p.line++, p.col = 1;
		else if (((unsigned char)text[i] & 0xc0) != 0x80)
			p.col++;
	}
	return p;
}

int conf_file_open(const char *path, struct conf_file *f)
{
	_cleanup_close_ int fd = -1;
	yaml_parser_t parser;
	struct stat st;
	ssize_t n;

	*f = (struct conf_file){ .path = xstrdup(path) };
	fd = open_regular(AT_FDCWD, path, 0, false);
	if (fd < 0)
		return log_error_errno(fd, "Cannot read config %s: %s", path, open_error(fd));
	if (fstat(fd, &st) < 0)
		return log_error_errno(errno, "Cannot read config %s: %m", path);
	if (st.st_size > (off_t)MAX_CONF_SIZE)
		return log_error("Config %s is larger than 4 MiB; refusing to load it", path);
	f->text = xmalloc((size_t)st.st_size + 1);
	while (f->len < (size_t)st.st_size) {
		n = read(fd, f->text + f->len, (size_t)st.st_size - f->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return log_error_errno(errno, "Cannot read config %s: %m", path);
		if (n == 0)
			break;
		f->len += (size_t)n;
	}
	f->text[f->len] = 0;
	if (memchr(f->text, 0, f->len)) {
		conf_error(f, (struct pos){ 0 }, "not a text file (contains NUL bytes)");
		return -EINVAL;
	}

	if (!yaml_parser_initialize(&parser))
		return log_error("Cannot initialize the YAML parser");
	yaml_parser_set_input_string(&parser, (const unsigned char *)f->text, f->len);
	if (!yaml_parser_load(&parser, &f->doc)) {
		struct pos p = mark_pos(parser.problem_mark);
		if (parser.error == YAML_READER_ERROR)
			/* libyaml gives the reader's problems (control
			 * characters, bad UTF-8) as a byte offset. */
			p = offset_pos(f->text, MIN(parser.problem_offset, f->len));
		conf_error(f, p, "YAML syntax error: %s%s%s", parser.problem,
			   parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return -EINVAL;
	}
	f->have_doc = true;
	{
		/* One document per file: a second one (after "---") would be
		 * ignored, silently. */
		yaml_document_t next;
		if (!yaml_parser_load(&parser, &next)) {
			struct pos p = mark_pos(parser.problem_mark);
			conf_error(f, p, "YAML syntax error in a second document: %s",
				   parser.problem);
		} else {
			yaml_node_t *root = yaml_document_get_root_node(&next);
			if (root)
				conf_error(f, mark_pos(next.start_mark),
					   "a second YAML document starts here; a config file is "
					   "one document (remove the '---' and what follows, or "
					   "merge it into the first)");
			yaml_document_delete(&next);
		}
	}
	yaml_parser_delete(&parser);
	return f->errors ? -EINVAL : 0;
}

void conf_file_close(struct conf_file *f)
{
	conf_report_hidden(f);
	if (f->have_doc)
		yaml_document_delete(&f->doc);
	free(f->path);
	free(f->text);
	*f = (struct conf_file){ 0 };
}

static const char *kind_name(yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

static const char *scalar(yaml_node_t *n) { return (const char *)n->data.scalar.value; }

static bool scalar_is_null(yaml_node_t *n)
{
	const char *s = scalar(n);

	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (!*s || streq(s, "~") || streq(s, "null") || streq(s, "Null") || streq(s, "NULL"));
}

/* The first control character of scalar N (C0 but, with LINES, line
 * breaks and tabs; DEL; C1; a NUL from a "\0" escape, which would cut the
 * value short), or -1 when there is none. */
static int control_char(yaml_node_t *n, bool lines)
{
	const char *s = scalar(n);
	size_t len = n->data.scalar.length;

	for (size_t i = 0; i < len;) {
		uint32_t c;
		size_t k = utf8_decode(s + i, len - i, &c);
		if (k == 0)
			return (unsigned char)s[i]; /* libyaml hands over UTF-8 only */
		if ((c < 0x20 && !(lines && (c == '\n' || c == '\t'))) || (c >= 0x7f && c <= 0x9f))
			return (int)c;
		i += k;
	}
	return -1;
}

static unsigned edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned d[64];

	if (la >= 63 || lb >= 63)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		d[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned prev = d[0];
		d[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned tmp = d[j];
			d[j] = MIN(MIN(d[j] + 1, d[j - 1] + 1), prev + (a[i - 1] != b[j - 1]));
			prev = tmp;
		}
	}
	return d[lb];
}

static yaml_node_t *get_node(struct walk *w, yaml_node_item_t id)
{
	if (++w->f->visited > MAX_NODES_VISITED)
		return NULL;
	return yaml_document_get_node(&w->f->doc, id);
}

static void load_map(struct walk *w, yaml_node_t *node, const struct schema *s, void *obj);

/* Whether scalar V (a value of field F, or a key) is text that can go into
 * a generated file: no control characters (values are one line, unless
 * the field takes several), no NUL. Reports the problem. */
static bool text_ok(struct walk *w, const struct field *f, yaml_node_t *v)
{
	int c = control_char(v, f->multiline);

	if (c < 0)
		return true;
	werr(w, node_pos(v), "%s '%s' holds the control character U+%04X; %s", f->key, scalar(v),
	     (unsigned)c,
	     f->multiline ? "only line breaks and tabs may" : "a value is one line of text");
	return false;
}

/* A scalar value for field F, or NULL after an error. */
static const char *want_scalar(struct walk *w, const struct field *f, yaml_node_t *v)
{
	if (v->type != YAML_SCALAR_NODE) {
		werr(w, node_pos(v), "'%s' must be a single value, not %s", f->key, kind_name(v));
		return NULL;
	}
	if (scalar_is_null(v)) {
		werr(w, node_pos(v), "'%s' has no value", f->key);
		return NULL;
	}
	if (!text_ok(w, f, v))
		return NULL;
	return scalar(v);
}

static void load_scalar_field(struct walk *w, const struct field *f, yaml_node_t *v, void *p)
{
	const char *s = want_scalar(w, f, v);

	if (s && conf_load_scalar(w, f, s, node_pos(v), p))
		((struct cmeta *)p)->set = true;
}

static void load_seq_scalars(struct walk *w, const struct field *f, yaml_node_t *v, void *p)
{
	struct cmeta *m = p;
	size_t cap = 0, pcap = 0;

	if (v->type != YAML_SEQUENCE_NODE) {
		werr(w, node_pos(v), "'%s' must be a list, not %s", f->key, kind_name(v));
		return;
	}
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *e = get_node(w, *it);
		const char *s;
		if (!e)
			break;
		if (e->type != YAML_SCALAR_NODE || scalar_is_null(e)) {
			werr(w, node_pos(e), "items of '%s' must be single values, not %s", f->key,
			     e->type == YAML_SCALAR_NODE ? "nothing" : kind_name(e));
			continue;
		}
		if (!text_ok(w, f, e))
			continue;
		s = scalar(e);
		if (f->type == FT_STRLIST) {
			struct cstrlist *l = p;
			size_t n = l->n;
			ARRAY_PUSH(l->v, l->n, cap, xstrdup(s));
			ARRAY_PUSH(l->vpos, n, pcap, node_pos(e));
		} else {
			struct caddrlist *l = p;
			struct ip_addr a;
			size_t n = l->n;
			if (ip_addr_parse(AF_INET, s, &a) < 0 &&
			    ip_addr_parse(AF_INET6, s, &a) < 0) {
				werr(w, node_pos(e), "%s '%s' is not an IPv4 or IPv6 address",
				     f->key, s);
				continue;
			}
			ARRAY_PUSH(l->v, l->n, cap, a);
			ARRAY_PUSH(l->vpos, n, pcap, node_pos(e));
		}
	}
	m->set = true;
}

static void load_strmap(struct walk *w, const struct field *f, yaml_node_t *v, struct cstrmap *m)
{
	size_t cap = 0, c2 = 0, c3 = 0, c4 = 0;

	if (v->type != YAML_MAPPING_NODE) {
		werr(w, node_pos(v), "'%s' must be a mapping, not %s", f->key, kind_name(v));
		return;
	}
	for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top;
	     pr++) {
		yaml_node_t *k = get_node(w, pr->key), *val = get_node(w, pr->value);
		if (!k || !val)
			break;
		if (k->type != YAML_SCALAR_NODE || val->type != YAML_SCALAR_NODE) {
			werr(w, node_pos(k->type != YAML_SCALAR_NODE ? k : val),
			     "'%s' must map names to single values", f->key);
			continue;
		}
		if (!text_ok(w, f, k) || !text_ok(w, f, val))
			continue;
		for (size_t i = 0; i < m->n; i++)
			if (streq(m->keys[i], scalar(k))) {
				werr(w, node_pos(k), "%s: duplicate key '%s' (first on line %u)",
				     f->key, scalar(k), m->kpos[i].line);
				goto next;
			}
		{
			size_t n1 = m->n, n2 = m->n, n3 = m->n;
			ARRAY_PUSH(m->keys, m->n, cap, xstrdup(scalar(k)));
			ARRAY_PUSH(m->values, n1, c2, xstrdup(scalar(val)));
			ARRAY_PUSH(m->kpos, n2, c3, node_pos(k));
			ARRAY_PUSH(m->vpos, n3, c4, node_pos(val));
		}
	next:;
	}
	m->m.set = true;
}

static void load_list(struct walk *w, const struct field *f, yaml_node_t *v, struct clist *l)
{
	size_t cap = 0, size = f->sub->size;

	if (v->type != YAML_SEQUENCE_NODE) {
		werr(w, node_pos(v), "'%s' must be a list, not %s", f->key, kind_name(v));
		return;
	}
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *e = get_node(w, *it);
		if (!e)
			break;
		if (l->n == cap) {
			cap = cap ? cap * 2 : 4;
			l->items = xrealloc(l->items, cap * size);
		}
		memset((char *)l->items + l->n * size, 0, size);
		load_map(w, e, f->sub, (char *)l->items + l->n * size);
		l->n++;
	}
	l->m.set = true;
}

static void load_field(struct walk *w, const struct field *f, yaml_node_t *v, void *obj)
{
	void *p = (char *)obj + f->offset;
	struct cmeta *m = p;

	m->pos = node_pos(v);
	switch (f->type) {
	case FT_STRLIST:
	case FT_ADDRLIST:
		load_seq_scalars(w, f, v, p);
		break;
	case FT_STRMAP:
		load_strmap(w, f, v, p);
		break;
	case FT_LIST:
		load_list(w, f, v, p);
		break;
	case FT_MAP: {
		struct walk sub = { .f = w->f };
		/* "network.lan", or "node 'cow' storage" below a named item */
		snprintf(sub.ctx, sizeof(sub.ctx), "%s%s%s", w->ctx,
			 !*w->ctx			      ? ""
			 : w->ctx[strlen(w->ctx) - 1] == '\'' ? " "
							      : ".",
			 f->key);
		if (v->type != YAML_MAPPING_NODE) {
			werr(w, node_pos(v), "'%s' must be a mapping, not %s", f->key,
			     kind_name(v));
			return;
		}
		load_map(&sub, v, f->sub, p);
		break;
	}
	default:
		load_scalar_field(w, f, v, p);
	}
}

static void load_map(struct walk *w, yaml_node_t *node, const struct schema *s, void *obj)
{
	struct walk local = *w;
	yaml_node_pair_t *start, *top;

	((struct cmeta *)obj)->pos = node_pos(node);
	((struct cmeta *)obj)->set = true;
	if (node->type != YAML_MAPPING_NODE) {
		werr(w, node_pos(node), "each %s must be a mapping, not %s", s->what,
		     kind_name(node));
		return;
	}
	start = node->data.mapping.pairs.start;
	top = node->data.mapping.pairs.top;

	/* Name the item in messages ("node 'cow'") when it has a name. */
	if (s->name_key) {
		snprintf(local.ctx, sizeof(local.ctx), "%s", s->what);
		for (yaml_node_pair_t *pr = start; pr < top; pr++) {
			yaml_node_t *k = get_node(w, pr->key), *v = get_node(w, pr->value);
			if (k && v && k->type == YAML_SCALAR_NODE &&
			    streq(scalar(k), s->name_key) && v->type == YAML_SCALAR_NODE &&
			    !scalar_is_null(v))
				snprintf(local.ctx, sizeof(local.ctx), "%s '%s'", s->what,
					 scalar(v));
		}
	}

	for (yaml_node_pair_t *pr = start; pr < top; pr++) {
		yaml_node_t *k = get_node(w, pr->key), *v = get_node(w, pr->value);
		const struct field *f, *best = NULL;
		unsigned best_d = 3;

		if (!k || !v) {
			werr(&local, node_pos(node), "too many nodes (alias expansion?)");
			return;
		}
		if (k->type != YAML_SCALAR_NODE) {
			werr(&local, node_pos(k), "keys must be plain names, not %s", kind_name(k));
			continue;
		}
		if (control_char(k, false) >= 0) {
			werr(&local, node_pos(k), "key '%s' holds a control character", scalar(k));
			continue;
		}
		for (yaml_node_pair_t *q = start; q < pr; q++) {
			yaml_node_t *k2 = get_node(w, q->key);
			if (k2 && k2->type == YAML_SCALAR_NODE && streq(scalar(k2), scalar(k))) {
				werr(&local, node_pos(k), "duplicate key '%s' (first on line %u)",
				     scalar(k), node_pos(k2).line);
				goto next;
			}
		}
		for (f = s->fields; f->key; f++) {
			unsigned d;
			if (streq(f->key, scalar(k)))
				break;
			d = edit_distance(f->key, scalar(k));
			if (d < best_d) {
				best_d = d;
				best = f;
			}
		}
		if (!f->key) {
			if (best)
				werr(&local, node_pos(k), "unknown key '%s' (did you mean '%s'?)",
				     scalar(k), best->key);
			else
				werr(&local, node_pos(k), "unknown key '%s'", scalar(k));
			continue;
		}
		load_field(&local, f, v, obj);
	next:;
	}

	for (const struct field *f = s->fields; f->key; f++) {
		struct cmeta *m = (struct cmeta *)((char *)obj + f->offset);
		if (f->required && !m->pos.line)
			werr(&local, node_pos(node), "missing required key '%s'", f->key);
	}
}

unsigned conf_load(struct conf_file *f, const struct schema *schema, void *obj)
{
	struct walk w = { .f = f };
	unsigned before = f->errors;
	yaml_node_t *root = yaml_document_get_root_node(&f->doc);

	if (!root) {
		conf_error(f, (struct pos){ 1, 1 }, "the file is empty");
		return f->errors - before;
	}
	load_map(&w, root, schema, obj);
	return f->errors - before;
}

void conf_free(const struct schema *schema, void *obj)
{
	for (const struct field *f = schema->fields; f->key; f++) {
		void *p = (char *)obj + f->offset;
		switch (f->type) {
		case FT_STRING:
			free(((struct cstr *)p)->v);
			break;
		case FT_ENUM:
			free(((struct cenum *)p)->v);
			break;
		case FT_STRLIST: {
			struct cstrlist *l = p;
			for (size_t i = 0; i < l->n; i++)
				free(l->v[i]);
			free(l->v);
			free(l->vpos);
			break;
		}
		case FT_ADDRLIST:
			free(((struct caddrlist *)p)->v);
			free(((struct caddrlist *)p)->vpos);
			break;
		case FT_STRMAP: {
			struct cstrmap *m = p;
			for (size_t i = 0; i < m->n; i++) {
				free(m->keys[i]);
				free(m->values[i]);
			}
			free(m->keys);
			free(m->values);
			free(m->kpos);
			free(m->vpos);
			break;
		}
		case FT_MAP:
			conf_free(f->sub, p);
			break;
		case FT_LIST: {
			struct clist *l = p;
			for (size_t i = 0; i < l->n; i++)
				conf_free(f->sub, (char *)l->items + i * f->sub->size);
			free(l->items);
			break;
		}
		default:
			break;
		}
	}
}
