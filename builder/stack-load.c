/* SPDX-License-Identifier: MIT */
/* What stack-render.c renders from, loaded and checked: the config's stack
 * (its components' definitions in install order), every chart's pin in
 * artifacts.lock, and the chart archives, each checked against its pin,
 * its Chart.yaml and what a ConfigMap can hold. */
#include "stack-render.h"
#include "fileio.h"
#include "log.h"

#include <archive.h>
#include <archive_entry.h>
#include <yaml.h>

/* helm-controller puts chartContent into a ConfigMap, whose data may not
 * exceed 1 MiB (Kubernetes' ConfigMap validation, MaxSecretSize). */
#define CONFIGMAP_LIMIT (1024 * 1024)
#define MAX_CHART_SIZE	(8 * MiB)

int stack_set_load(struct config *c, struct stack_set *s)
{
	_cleanup_free_ char *dir = streq(c->dir, ".") ? xstrdup(STACK_DEFS_DIR)
						      : xasprintf("%s/" STACK_DEFS_DIR, c->dir);
	int r;

	*s = (struct stack_set){ 0 };
	if (c->stack.n == 0)
		return 0;
	r = stack_defs_load(dir, &s->defs);
	if (r < 0)
		return r;
	return stack_resolve(c, &s->defs, &s->order, &s->n) ? -EINVAL : 0;
}

void stack_set_free(struct stack_set *s)
{
	stack_defs_free(&s->defs);
	free(s->order);
	*s = (struct stack_set){ 0 };
}

unsigned stack_check_pins(const struct stack_set *s, const struct artifacts *lock)
{
	unsigned problems = 0;

	for (size_t i = 0; i < s->n; i++) {
		const struct stack_def *d = s->order[i];
		if (!d->chart.m.set || artifacts_find(lock, d->chart.artifact.v, NULL))
			continue;
		conf_error((struct conf_file *)&d->file, d->chart.artifact.m.pos,
			   "component '%s': chart '%s' has no pin in %s: add it with its URL and "
			   "sha256, or remove '%s' from the stack",
			   d->name.v, d->chart.artifact.v, lock->path, d->name.v);
		problems++;
	}
	return problems;
}

/* Chart.yaml's top-level NAME and VERSION (plain values). */
static int chart_yaml_fields(const char *text, size_t len, char *name, char *version, size_t n)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;

	name[0] = version[0] = 0;
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		yaml_parser_delete(&parser);
		return -EINVAL;
	}
	yaml_parser_delete(&parser);
	root = yaml_document_get_root_node(&doc);
	if (root && root->type == YAML_MAPPING_NODE)
		for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
		     p < root->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(&doc, p->key);
			yaml_node_t *v = yaml_document_get_node(&doc, p->value);
			if (k->type != YAML_SCALAR_NODE || v->type != YAML_SCALAR_NODE)
				continue;
			if (streq((char *)k->data.scalar.value, "name"))
				snprintf(name, n, "%s", (char *)v->data.scalar.value);
			else if (streq((char *)k->data.scalar.value, "version"))
				snprintf(version, n, "%s", (char *)v->data.scalar.value);
		}
	yaml_document_delete(&doc);
	return name[0] && version[0] ? 0 : -EINVAL;
}

/* Checks that DATA is a Helm chart archive (a gzip'ed tar with
 * NAME/Chart.yaml) of the pin's name and version. */
static int check_chart(const struct stack_chart_file *cf, const char *desc)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	char name[256], version[128];
	bool found = false;
	int r = 0;

	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_memory(a, cf->data, cf->size) != ARCHIVE_OK) {
		r = log_error("%s is not a Helm chart archive (a .tgz): %s", desc,
			      archive_error_string(a));
		goto out;
	}
	while (!found && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *p = archive_entry_pathname(e), *slash = p ? strchr(p, '/') : NULL;
		char text[65536];
		la_ssize_t got;
		if (!slash || !streq(slash + 1, "Chart.yaml") ||
		    archive_entry_size(e) >= (la_int64_t)sizeof(text))
			continue;
		got = archive_read_data(a, text, sizeof(text) - 1);
		if (got < 0 ||
		    chart_yaml_fields(text, (size_t)got, name, version, sizeof(name)) < 0) {
			r = log_error("%s: its %s has no name and version", desc, p);
			goto out;
		}
		found = true;
	}
	if (!found) {
		r = log_error("%s is not a Helm chart archive: it has no CHART/Chart.yaml", desc);
		goto out;
	}
	r = 0;
	if (!streq(name, cf->pin->name) || (cf->pin->version && !streq(version, cf->pin->version)))
		r = log_error("%s holds chart %s %s, not the pinned %s %s", desc, name, version,
			      cf->pin->name, cf->pin->version ? cf->pin->version : "(any version)");
out:
	archive_read_free(a);
	return r;
}

int stack_load_charts(const struct stack_set *s, const struct artifacts *lock,
		      const char *artifacts_dir, struct stack_chart_file **charts, size_t *n)
{
	unsigned failed = 0;

	*charts = xcalloc(s->n + 1, sizeof(**charts));
	*n = 0;
	for (size_t i = 0; i < s->n; i++) {
		const struct stack_def *d = s->order[i];
		struct stack_chart_file *cf = &(*charts)[*n];
		_cleanup_free_ char *path = NULL, *desc = NULL;
		int r;
		if (!d->chart.m.set)
			continue;
		cf->def = d;
		cf->pin = artifacts_find(lock, d->chart.artifact.v, NULL);
		(*n)++;
		if (!cf->pin) {
			failed++; /* reported by stack_check_pins() */
			continue;
		}
		if (artifact_path(lock, cf->pin->name, NULL, artifacts_dir, &path) < 0) {
			failed++;
			continue;
		}
		desc = xasprintf("the chart of component '%s' (%s)", d->name.v, path);
		r = read_file(path, (char **)&cf->data, &cf->size, MAX_CHART_SIZE);
		if (r < 0) {
			log_error_errno(r, "Cannot read %s: %m", desc);
			failed++;
			continue;
		}
		if (check_chart(cf, desc) < 0) {
			failed++;
			continue;
		}
		{
			size_t b64 = 4 * ((cf->size + 2) / 3),
			       key = strlen(d->name.v) + strlen(".tgz.base64");
			if (b64 + key > CONFIGMAP_LIMIT) {
				log_error("%s is too big for k3s: helm-controller puts it, base64 (%zu "
					  "bytes), into a ConfigMap, which holds at most %u bytes",
					  desc, b64 + key, CONFIGMAP_LIMIT);
				failed++;
			}
		}
	}
	return failed ? -ENOENT : 0;
}

void stack_charts_free(struct stack_chart_file *charts, size_t n)
{
	for (size_t i = 0; charts && i < n; i++)
		free(charts[i].data);
	free(charts);
}
