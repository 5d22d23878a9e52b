/* SPDX-License-Identifier: MIT */
#include "stackplan.h"
#include "log.h"

#define F CONF_FIELD

static const struct field wait_fields[] = {
	F("object", FT_STRING, struct stack_wait, object, .required = true),
	F("namespace", FT_STRING, struct stack_wait, namespace),
	F("condition", FT_STRING, struct stack_wait, condition, .required = true),
	{ 0 },
};
static const struct schema wait_schema = { .what = "condition",
					   .size = sizeof(struct stack_wait),
					   .fields = wait_fields };

static const struct field item_fields[] = {
	F("name", FT_STRING, struct stack_item, name, .required = true),
	F("file", FT_STRING, struct stack_item, file, .required = true),
	F("sha256", FT_STRING, struct stack_item, sha256, .required = true),
	F("timeout", FT_UINT, struct stack_item, timeout, .min = 1, .max = 86400, .required = true),
	F("namespace", FT_STRING, struct stack_item, namespace, .required = true),
	F("chart", FT_STRING, struct stack_item, chart),
	F("job-hash", FT_STRING, struct stack_item, job_hash),
	F("rollout", FT_STRLIST, struct stack_item, rollout),
	F("crds", FT_STRLIST, struct stack_item, crds),
	F("conditions", FT_LIST, struct stack_item, conditions, .sub = &wait_schema),
	{ 0 },
};
static const struct schema item_schema = { .what = "component",
					   .name_key = "name",
					   .size = sizeof(struct stack_item),
					   .fields = item_fields };

static const struct field plan_fields[] = {
	F("components", FT_LIST, struct stack_plan, components, .sub = &item_schema,
	  .required = true),
	{ 0 },
};
static const struct schema plan_schema = { .what = "stack plan", .fields = plan_fields };

int stack_plan_read(const char *path, struct stack_plan *p)
{
	int r;

	*p = (struct stack_plan){ 0 };
	r = conf_file_open(path, &p->file);
	if (r < 0)
		return r;
	conf_load(&p->file, &plan_schema, p);
	p->items = p->components.items;
	p->n = p->components.n;
	for (size_t i = 0; i < p->n && !p->file.errors; i++) {
		const struct stack_item *it = &p->items[i];
		if (it->chart.m.set != it->job_hash.m.set)
			conf_error(&p->file, it->m.pos,
				   "component '%s': 'chart' and 'job-hash' go together",
				   it->name.v);
		if (strchr(it->file.v, '/') || it->file.v[0] == '.')
			conf_error(&p->file, it->file.m.pos,
				   "component '%s': file '%s' is not a name in the plan's directory",
				   it->name.v, it->file.v);
	}
	return p->file.errors ? -EINVAL : 0;
}

void stack_plan_free(struct stack_plan *p)
{
	conf_free(&plan_schema, p);
	conf_file_close(&p->file);
	*p = (struct stack_plan){ 0 };
}

/* A double-quoted YAML scalar. */
static void q(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if (*c == '"' || *c == '\\')
			fprintf(f, "\\%c", *c);
		else if (*c < 0x20 || *c == 0x7f)
			fprintf(f, "\\x%02x", *c);
		else
			fputc(*c, f);
	fputc('"', f);
}

static void list(FILE *f, const char *key, const struct cstrlist *l)
{
	if (!l->n)
		return;
	fprintf(f, "    %s:\n", key);
	for (size_t i = 0; i < l->n; i++) {
		fputs("      - ", f);
		q(f, l->v[i]);
		fputc('\n', f);
	}
}

void stack_plan_write(FILE *f, const struct stack_item *items, size_t n, const char *cluster)
{
	fprintf(f,
		"# The install plan of cluster %s's stack, written by farm-image from\n"
		"# configs/stack/; farm-node follows it at the control plane's first boot\n"
		"# (and after a reimage, applying what changed). Each component's file in\n"
		"# this directory is what farm-node applies.\n",
		cluster);
	fprintf(f, "components:%s\n", n ? "" : " []");
	for (size_t i = 0; i < n; i++) {
		const struct stack_item *it = &items[i];
		fputs("  - name: ", f);
		q(f, it->name.v);
		fputs("\n    file: ", f);
		q(f, it->file.v);
		fputs("\n    sha256: ", f);
		q(f, it->sha256.v);
		fprintf(f,
			"\n    timeout: %llu\n    namespace: ", (unsigned long long)it->timeout.v);
		q(f, it->namespace.v);
		fputc('\n', f);
		if (it->chart.m.set) {
			fputs("    chart: ", f);
			q(f, it->chart.v);
			fputs("\n    job-hash: ", f);
			q(f, it->job_hash.v);
			fputc('\n', f);
		}
		list(f, "rollout", &it->rollout);
		list(f, "crds", &it->crds);
		if (it->conditions.n)
			fprintf(f, "    conditions:\n");
		for (size_t c = 0; c < it->conditions.n; c++) {
			const struct stack_wait *w = stack_wait_at(it, c);
			fputs("      - object: ", f);
			q(f, w->object.v);
			if (w->namespace.m.set) {
				fputs("\n        namespace: ", f);
				q(f, w->namespace.v);
			}
			fputs("\n        condition: ", f);
			q(f, w->condition.v);
			fputc('\n', f);
		}
	}
}
