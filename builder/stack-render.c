/* SPDX-License-Identifier: MIT */
/* The stack rendered (see stack-render.h): the template variables from the
 * cluster config, each component's file (its HelmChart, its resources) and
 * plan item, the install plan. What it renders from is loaded and checked
 * by stack-load.c. */
#include "stack-render.h"
#include "board.h"
#include "hash.h"
#include "log.h"
#include "stackplan.h"

#include <ctype.h>
#include <yaml.h>

/* k3s's https port (https-listen-port): its supervisor, which proxies
 * the API, on every server. */
#define API_PORT "6443"
/* The IPv4 pod range each node gets (k3s's kube-controller-manager
 * default, node-cidr-mask-size-ipv4). */
#define POD_MASK_IPV4 "24"

void stack_vars(const struct config *c, struct vars *v)
{
	const struct config_network *net = &c->network;
	const struct config_node *server = config_server(c);
	char a[64], b[64];
	bool l7 = true;

	for (size_t i = 0; i < c->nodes.n; i++) {
		const struct board_ops *ops = board_ops_find(config_node_at(c, i)->board.v);
		if (ops && ops->va_bits < 48)
			l7 = false;
	}
	vars_set(v, "cluster", c->cluster.name.v);
	vars_set(v, "domain", c->cluster.domain.v);
	vars_set(v, "api_name", c->cluster.api_name.v);
	vars_set(v, "api_port", API_PORT);
	if (server) {
		vars_set(v, "server_ipv4", ip_addr_to_string(&server->ipv4.v, a, sizeof(a)));
		vars_set(v, "server_ipv6", ip_addr_to_string(&server->ipv6.v, a, sizeof(a)));
	}
	vars_set(v, "pods_ipv4", ip_prefix_to_string(&net->pods.ipv4.v, a, sizeof(a)));
	vars_set(v, "pods_ipv6", ip_prefix_to_string(&net->pods.ipv6.v, a, sizeof(a)));
	vars_set(v, "pods_ipv4_mask", POD_MASK_IPV4);
	vars_setf(v, "pods_ipv6_mask", "%llu", (unsigned long long)net->pods.ipv6_node_mask.v);
	vars_set(v, "services_ipv4", ip_prefix_to_string(&net->services.ipv4.v, a, sizeof(a)));
	vars_set(v, "services_ipv6", ip_prefix_to_string(&net->services.ipv6.v, a, sizeof(a)));
	vars_set(v, "dns_ipv4", ip_prefix_nth(&net->services.ipv4.v, 10, a, sizeof(a)));
	vars_set(v, "dns_ipv6", ip_prefix_nth(&net->services.ipv6.v, 10, a, sizeof(a)));
	{
		/* Cilium's pool blocks, one per family the config has. */
		char blocks[512] = "[";
		const struct crange *r[] = { &net->loadbalancer.ipv4, &net->loadbalancer.ipv6 };
		for (size_t i = 0; i < 2; i++)
			if (r[i]->m.set)
				snprintf(blocks + strlen(blocks), sizeof(blocks) - strlen(blocks),
					 "%s{start: \"%s\", stop: \"%s\"}", blocks[1] ? ", " : "",
					 ip_addr_to_string(&r[i]->first, a, sizeof(a)),
					 ip_addr_to_string(&r[i]->last, b, sizeof(b)));
		strcat(blocks, "]");
		vars_set(v, "lb_blocks", blocks);
		vars_set(v, "loadbalancer", r[0]->m.set || r[1]->m.set ? "true" : "false");
	}
	vars_set(v, "cilium_l7_proxy", l7 ? "true" : "false");
	vars_set(v, "gitops", c->gitops.repository.m.set ? "true" : "false");
	vars_set(v, "gitops_repository", c->gitops.repository.m.set ? c->gitops.repository.v : "");
	vars_set(v, "gitops_path", c->gitops.path.m.set ? c->gitops.path.v : ".");
	vars_set(v, "gitops_revision", c->gitops.revision.m.set ? c->gitops.revision.v : "HEAD");
}

void stack_job_hash(const char *name, const char *chart_b64, const char *values, char out[72])
{
	struct sha256_ctx *h = sha256_new();
	uint8_t d[SHA256_LEN];
	char hex[SHA256_HEX_LEN];

	/* The chart-content ConfigMap's data: "NAME.tgz.base64" -> chartContent. */
	if (chart_b64 && *chart_b64) {
		_cleanup_free_ char *key = xasprintf("%s.tgz.base64", name);
		sha256_update(h, key, strlen(key));
		sha256_update(h, chart_b64, strlen(chart_b64));
	}
	/* The values Secret's data, as base64 in its unstructured form. */
	if (values && *values) {
		_cleanup_free_ char *b = base64_encode(values, strlen(values));
		sha256_update(h, "HelmChartValuesContent", 22);
		sha256_update(h, b, strlen(b));
	}
	sha256_final(h, d);
	hex_encode(d, SHA256_LEN, hex);
	for (char *p = hex; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	snprintf(out, 72, "SHA256=%s", hex);
}

/* Where the template S of D sits in its file. */
static struct tmpl_origin origin_of(const struct stack_def *d, const struct cstr *s)
{
	const char *text = d->file.text, *l = text;
	struct tmpl_origin o = { .path = d->file.path,
				 .file_text = text,
				 .line = s->m.pos.line,
				 .indent = s->m.pos.col ? s->m.pos.col - 1 : 0 };

	for (unsigned i = 1; i < s->m.pos.line && l; i++)
		l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL;
	if (!l)
		return o;
	if (l[o.indent] == '|' || l[o.indent] == '>') {
		/* A block scalar: from the next line, at its indentation. */
		const char *c = strchr(l, '\n');
		o.line++;
		while (c && c[1] == '\n')
			c++;
		o.indent = 0;
		if (c)
			while (c[1 + o.indent] == ' ')
				o.indent++;
	} else if (l[o.indent] == '"' || l[o.indent] == '\'')
		o.indent++;
	return o;
}

/* Whether an item with WHEN applies: 1 yes, 0 no, -1 after a message. */
static int when_ok(const struct stack_def *d, const struct cstr *when, const struct vars *v)
{
	const char *val;

	if (!when->m.set)
		return 1;
	val = vars_get(v, when->v);
	if (!val || (!streq(val, "true") && !streq(val, "false"))) {
		conf_error((struct conf_file *)&d->file, when->m.pos,
			   val ? "when: variable '%s' is '%s', not true or false"
			       : "when: unknown variable '%s'%s",
			   when->v, val ? val : "");
		return -1;
	}
	return streq(val, "true");
}

/* Renders template T of D and parses the result as YAML; a MANIFEST must
 * be one object (apiVersion, kind, metadata.name). Returns the text, or
 * NULL after the messages. */
static char *render_yaml(const struct stack_def *d, const struct cstr *t, const struct vars *v,
			 bool manifest)
{
	struct tmpl_origin o = origin_of(d, t);
	yaml_parser_t parser;
	char *out = NULL;
	unsigned docs = 0;
	bool bad = false;

	if (template_render_in(&o, t->v, v, &out) < 0)
		return NULL;
	if (!yaml_parser_initialize(&parser)) {
		free(out);
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)out, strlen(out));
	for (;;) {
		yaml_document_t doc;
		yaml_node_t *root;
		if (!yaml_parser_load(&parser, &doc)) {
			/* Where what failed began (a flow sequence left open),
			 * rather than the end of the text where libyaml noticed. */
			yaml_mark_t m = parser.context ? parser.context_mark : parser.problem_mark;
			conf_error_at(o.path, o.file_text,
				      (struct pos){ o.line + (unsigned)m.line,
						    o.indent + (unsigned)m.column + 1 },
				      "component '%s': once rendered, not YAML: %s%s%s%s",
				      d->name.v, parser.problem, parser.context ? " (" : "",
				      parser.context ? parser.context : "",
				      parser.context ? ")" : "");
			bad = true;
			break;
		}
		root = yaml_document_get_root_node(&doc);
		if (!root) {
			yaml_document_delete(&doc);
			break;
		}
		docs++;
		if (manifest) {
			const char *api = NULL, *kind = NULL, *name = NULL;
			if (root->type == YAML_MAPPING_NODE)
				for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
				     p < root->data.mapping.pairs.top; p++) {
					yaml_node_t *k = yaml_document_get_node(&doc, p->key);
					yaml_node_t *val = yaml_document_get_node(&doc, p->value);
					const char *key = k->type == YAML_SCALAR_NODE
								  ? (char *)k->data.scalar.value
								  : "";
					if (val->type == YAML_SCALAR_NODE &&
					    streq(key, "apiVersion"))
						api = (char *)val->data.scalar.value;
					else if (val->type == YAML_SCALAR_NODE &&
						 streq(key, "kind"))
						kind = (char *)val->data.scalar.value;
					else if (val->type == YAML_MAPPING_NODE &&
						 streq(key, "metadata"))
						for (yaml_node_pair_t *q =
							     val->data.mapping.pairs.start;
						     q < val->data.mapping.pairs.top; q++) {
							yaml_node_t *mk =
								yaml_document_get_node(&doc,
										       q->key);
							yaml_node_t *mv =
								yaml_document_get_node(&doc,
										       q->value);
							if (mk->type == YAML_SCALAR_NODE &&
							    mv->type == YAML_SCALAR_NODE &&
							    streq((char *)mk->data.scalar.value,
								  "name"))
								name = (char *)mv->data.scalar.value;
						}
				}
			if (!api || !*api || !kind || !*kind || !name || !*name) {
				conf_error_at(o.path, o.file_text,
					      (struct pos){ o.line, o.indent + 1 },
					      "component '%s': a resource needs apiVersion, kind and "
					      "metadata.name",
					      d->name.v);
				bad = true;
			}
		}
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	if (!bad && manifest && docs != 1) {
		conf_error_at(o.path, o.file_text, (struct pos){ o.line, o.indent + 1 },
			      "component '%s': each resource is one YAML document (found %u)",
			      d->name.v, docs);
		bad = true;
	}
	if (bad) {
		free(out);
		return NULL;
	}
	return out;
}

/* VALUES as valuesContent holds it once the block scalar is read back:
 * no leading or trailing blank lines, one final newline. */
static char *normalize_values(const char *values)
{
	const char *s = values, *e;

	while (*s) {
		size_t n = strcspn(s, "\n");
		if (strspn(s, " \t") < n)
			break;
		s += n + (s[n] == '\n');
	}
	e = s + strlen(s);
	while (e > s && (e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t'))
		e--;
	return e > s ? xasprintf("%.*s\n", (int)(e - s), s) : xstrdup("");
}

/* The valuesContent read back from the HelmChart document TEXT, or NULL. */
static char *read_back_values(const char *text)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	char *got = NULL;

	if (!yaml_parser_initialize(&parser))
		return NULL;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
	if (yaml_parser_load(&parser, &doc)) {
		root = yaml_document_get_root_node(&doc);
		for (yaml_node_pair_t *p = root ? root->data.mapping.pairs.start : NULL;
		     p && p < root->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(&doc, p->key);
			yaml_node_t *v = yaml_document_get_node(&doc, p->value);
			if (!streq((char *)k->data.scalar.value, "spec") ||
			    v->type != YAML_MAPPING_NODE)
				continue;
			for (yaml_node_pair_t *q = v->data.mapping.pairs.start;
			     q < v->data.mapping.pairs.top; q++) {
				yaml_node_t *sk = yaml_document_get_node(&doc, q->key);
				yaml_node_t *sv = yaml_document_get_node(&doc, q->value);
				if (streq((char *)sk->data.scalar.value, "valuesContent") &&
				    sv->type == YAML_SCALAR_NODE)
					got = xstrdup((char *)sv->data.scalar.value);
			}
		}
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	return got;
}

static void strlist_add(struct cstrlist *l, const char *s)
{
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(char *));
	l->v[l->n++] = xstrdup(s);
	l->m.set = true;
}

static void set_str(struct cstr *c, const char *s)
{
	c->v = xstrdup(s);
	c->m.set = true;
}

static void item_free(struct stack_item *it)
{
	struct cstr *strs[] = { &it->name,	&it->file,  &it->sha256,
				&it->namespace, &it->chart, &it->job_hash };
	for (size_t i = 0; i < ELEMENTSOF(strs); i++)
		free(strs[i]->v);
	for (size_t i = 0; i < it->rollout.n; i++)
		free(it->rollout.v[i]);
	free(it->rollout.v);
	for (size_t i = 0; i < it->crds.n; i++)
		free(it->crds.v[i]);
	free(it->crds.v);
	for (size_t i = 0; i < it->conditions.n; i++) {
		struct stack_wait *w = &((struct stack_wait *)it->conditions.items)[i];
		free(w->object.v);
		free(w->namespace.v);
		free(w->condition.v);
	}
	free(it->conditions.items);
}

static void add_file(struct plan *p, const char *path, const char *text, const char *origin)
{
	struct plan_file *f = plan_add(p, PLAN_FILE, path, 0644, origin);
	size_t n = strlen(text);

	f->data = xmalloc(n ? n : 1);
	memcpy(f->data, text, n);
	f->size = n;
}

/* The HelmChart document of D's chart (CHART, verified), with its values
 * rendered: appended to F, and its name and job hash to IT. Returns the
 * count of problems reported. */
static unsigned render_chart(const struct stack_def *d, const struct vars *v,
			     const struct stack_chart_file *chart, struct stack_item *it, FILE *f)
{
	_cleanup_free_ char *raw =
		d->chart.values.m.set ? render_yaml(d, &d->chart.values, v, false) : xstrdup("");
	_cleanup_free_ char *b64 =
		chart && chart->data ? base64_encode(chart->data, chart->size) : xstrdup("");
	_cleanup_free_ char *values = NULL;
	unsigned problems = 0;
	char hash[72];
	char *doc = NULL, *back;
	size_t dl = 0;
	FILE *df;

	if (!raw)
		return 1;
	df = open_memstream(&doc, &dl);
	values = normalize_values(raw);
	fprintf(df,
		"apiVersion: helm.cattle.io/v1\nkind: HelmChart\nmetadata:\n"
		"  name: %s\n  namespace: %s\n  labels:\n"
		"    app.kubernetes.io/managed-by: farm-node\n"
		"spec:\n  targetNamespace: %s\n  createNamespace: true\n",
		d->name.v, STACK_CHART_NAMESPACE, d->namespace.v);
	if (d->chart.bootstrap.v)
		fprintf(df, "  bootstrap: true\n");
	fprintf(df, "  chartContent: %s\n", b64);
	if (*values) {
		fprintf(df, "  valuesContent: |\n");
		for (const char *l = values; *l;) {
			size_t n = strcspn(l, "\n");
			fprintf(df, "%s%.*s\n", n ? "    " : "", (int)n, l);
			l += n + (l[n] == '\n');
		}
	}
	fclose(df);
	back = *values ? read_back_values(doc) : xstrdup("");
	if (!back || !streq(back, values)) {
		conf_error((struct conf_file *)&d->file, d->chart.values.m.pos,
			   "component '%s': its values do not read back the same from "
			   "the HelmChart (a line that YAML's block scalar changes)",
			   d->name.v);
		problems++;
	}
	free(back);
	fprintf(f, "---\n%s", doc);
	free(doc);
	stack_job_hash(d->name.v, b64, values, hash);
	set_str(&it->chart, d->name.v);
	set_str(&it->job_hash, hash);
	return problems;
}

/* The waits of D that apply, into IT. Returns the count of problems
 * reported. */
static unsigned add_conditions(const struct stack_def *d, const struct vars *v,
			       struct stack_item *it)
{
	unsigned problems = 0;

	for (size_t i = 0; i < d->conditions.n; i++) {
		const struct stack_condition *sc =
			STACK_AT(d->conditions, struct stack_condition, i);
		int ok = when_ok(d, &sc->when, v);
		struct stack_wait *w;
		problems += ok < 0;
		if (ok <= 0)
			continue;
		it->conditions.items = xrealloc(it->conditions.items,
						(it->conditions.n + 1) * sizeof(struct stack_wait));
		w = &((struct stack_wait *)it->conditions.items)[it->conditions.n++];
		*w = (struct stack_wait){ .m.set = true };
		set_str(&w->object, sc->object.v);
		if (sc->namespace.m.set)
			set_str(&w->namespace, sc->namespace.v);
		set_str(&w->condition, sc->condition.v);
		it->conditions.m.set = true;
	}
	return problems;
}

/* One component: its file's text and its plan item. */
static int render_one(const struct config *c, const struct stack_def *d, size_t index,
		      const struct vars *v, const struct stack_chart_file *chart,
		      struct stack_item *it, char **file_text)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	unsigned problems = 0;

	*it = (struct stack_item){ .m.set = true };
	set_str(&it->name, d->name.v);
	{
		_cleanup_free_ char *fn = xasprintf("%02zu-%s.yaml", index + 1, d->name.v);
		set_str(&it->file, fn);
	}
	it->timeout = (struct cuint){ .m.set = true, .v = d->timeout.v };
	set_str(&it->namespace, d->namespace.v);
	fprintf(f, "# %s%s%s\n", d->name.v, d->description.m.set ? ": " : "",
		d->description.m.set ? d->description.v : "");
	fprintf(f,
		"# Rendered by farm-image from %s/%s.yaml for cluster %s. farm-node\n"
		"# applies it in the order of plan.yaml:%s%s the resources once the\n"
		"# CRDs they need are Established.\n",
		STACK_DEFS_DIR, d->name.v, c->cluster.name.v,
		d->chart.m.set
			? " the HelmChart first (and waits for its\n# install and workloads),"
			: "",
		d->chart.m.set ? " then" : "");
	if (d->chart.m.set)
		problems += render_chart(d, v, chart, it, f);
	for (size_t i = 0; i < d->rollout.n; i++) {
		const struct stack_rollout *r = STACK_AT(d->rollout, struct stack_rollout, i);
		int ok = when_ok(d, &r->when, v);
		problems += ok < 0;
		if (ok > 0)
			strlist_add(&it->rollout, r->object.v);
	}
	for (size_t i = 0; i < d->crds.n; i++)
		strlist_add(&it->crds, d->crds.v[i]);
	for (size_t i = 0; i < d->resources.n; i++) {
		const struct stack_resource *r = STACK_AT(d->resources, struct stack_resource, i);
		int ok = when_ok(d, &r->when, v);
		char *text;
		problems += ok < 0;
		if (ok <= 0)
			continue;
		text = render_yaml(d, &r->manifest, v, true);
		if (!text) {
			problems++;
			continue;
		}
		fprintf(f, "---\n%s%s", text,
			text[0] && text[strlen(text) - 1] != '\n' ? "\n" : "");
		free(text);
	}
	problems += add_conditions(d, v, it);
	fclose(f);
	{
		uint8_t h[SHA256_LEN];
		char hex[SHA256_HEX_LEN];
		sha256_buf(buf, len, h);
		hex_encode(h, SHA256_LEN, hex);
		set_str(&it->sha256, hex);
	}
	*file_text = buf;
	return problems ? -EINVAL : 0;
}

int stack_render(const struct config *c, const struct stack_set *s, const struct vars *v,
		 const struct stack_chart_file *charts, size_t n_charts, struct plan *p)
{
	struct stack_item *items = xcalloc(s->n + 1, sizeof(*items));
	unsigned problems = 0;

	for (size_t i = 0; i < s->n; i++) {
		const struct stack_chart_file *cf = NULL;
		char *text = NULL;
		for (size_t k = 0; k < n_charts; k++)
			if (charts[k].def == s->order[i])
				cf = &charts[k];
		problems += render_one(c, s->order[i], i, v, cf, &items[i], &text) < 0;
		if (p && !problems) {
			_cleanup_free_ char *path = xasprintf(STACK_DIR "/%s", items[i].file.v);
			_cleanup_free_ char *origin =
				xasprintf("stack (%s/%s.yaml)", STACK_DEFS_DIR,
					  s->order[i]->name.v);
			add_file(p, path, text, origin);
		}
		free(text);
	}
	if (p && !problems) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		stack_plan_write(f, items, s->n, c->cluster.name.v);
		fclose(f);
		add_file(p, STACK_PLAN, buf, "stack (install plan)");
		free(buf);
	}
	for (size_t i = 0; i < s->n; i++)
		item_free(&items[i]);
	free(items);
	return problems ? -EINVAL : 0;
}
