/* SPDX-License-Identifier: MIT */
#include "stack.h"
#include "log.h"

#include <ctype.h>
#include <dirent.h>

#define F CONF_FIELD

static const struct field rollout_fields[] = {
	F("object", FT_STRING, struct stack_rollout, object, .required = true),
	F("when", FT_STRING, struct stack_rollout, when),
	{ 0 },
};
static const struct schema rollout_schema = { .what = "rollout",
					      .size = sizeof(struct stack_rollout),
					      .fields = rollout_fields };

static const struct field condition_fields[] = {
	F("object", FT_STRING, struct stack_condition, object, .required = true),
	F("namespace", FT_STRING, struct stack_condition, namespace),
	F("condition", FT_STRING, struct stack_condition, condition, .required = true),
	F("when", FT_STRING, struct stack_condition, when),
	{ 0 },
};
static const struct schema condition_schema = { .what = "condition",
						.size = sizeof(struct stack_condition),
						.fields = condition_fields };

static const struct field resource_fields[] = {
	F("manifest", FT_STRING, struct stack_resource, manifest, .required = true,
	  .multiline = true),
	F("when", FT_STRING, struct stack_resource, when),
	{ 0 },
};
static const struct schema resource_schema = { .what = "resource",
					       .size = sizeof(struct stack_resource),
					       .fields = resource_fields };

static const struct field chart_fields[] = {
	F("artifact", FT_STRING, struct stack_chart, artifact, .required = true),
	F("bootstrap", FT_BOOL, struct stack_chart, bootstrap),
	F("values", FT_STRING, struct stack_chart, values, .multiline = true),
	{ 0 },
};
static const struct schema chart_schema = { .what = "chart", .fields = chart_fields };

static const struct field def_fields[] = {
	F("name", FT_STRING, struct stack_def, name, .required = true),
	F("description", FT_STRING, struct stack_def, description),
	F("namespace", FT_STRING, struct stack_def, namespace, .required = true),
	F("cni", FT_BOOL, struct stack_def, cni),
	F("depends", FT_STRLIST, struct stack_def, depends),
	F("timeout", FT_DURATION, struct stack_def, timeout, .min = 1, .max = 86400,
	  .required = true),
	F("chart", FT_MAP, struct stack_def, chart, .sub = &chart_schema),
	F("rollout", FT_LIST, struct stack_def, rollout, .sub = &rollout_schema),
	F("crds", FT_STRLIST, struct stack_def, crds),
	F("resources", FT_LIST, struct stack_def, resources, .sub = &resource_schema),
	F("conditions", FT_LIST, struct stack_def, conditions, .sub = &condition_schema),
	{ 0 },
};
static const struct schema def_schema = { .what = "component", .fields = def_fields };

/* A DNS label (RFC 1123): what names, namespaces and variables may be. */
static bool dns_label(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return false;
	for (const char *p = s; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-'))
			return false;
	return true;
}

/* "kind/name": a kind kubectl takes and an object name (DNS subdomain). */
static bool object_ref(const char *s)
{
	const char *slash = strchr(s, '/');

	if (!slash || slash == s || !slash[1] || strchr(slash + 1, '/'))
		return false;
	for (const char *p = s; p < slash; p++)
		if (!(isalnum((unsigned char)*p) || *p == '.'))
			return false;
	for (const char *p = slash + 1; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' ||
		      *p == '.'))
			return false;
	return true;
}

static bool word(const char *s)
{
	if (!*s)
		return false;
	for (const char *p = s; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.'))
			return false;
	return true;
}

static void check_def(struct stack_def *d, const char *file_name)
{
	struct conf_file *f = &d->file;
	char base[256];

	snprintf(base, sizeof(base), "%.*s", (int)(strlen(file_name) - 5), file_name);
	if (d->name.m.set && !dns_label(d->name.v))
		conf_error(f, d->name.m.pos, "name '%s' is not a DNS label (a-z, 0-9, '-')",
			   d->name.v);
	else if (d->name.m.set && !streq(d->name.v, base))
		conf_error(f, d->name.m.pos,
			   "name '%s' is not the file's name: call the file %s.yaml", d->name.v,
			   d->name.v);
	if (d->namespace.m.set && !dns_label(d->namespace.v))
		conf_error(f, d->namespace.m.pos, "namespace '%s' is not a DNS label",
			   d->namespace.v);
	for (size_t i = 0; i < d->depends.n; i++)
		for (size_t j = 0; j < i; j++)
			if (streq(d->depends.v[i], d->depends.v[j]))
				conf_error(f, d->depends.vpos[i],
					   "depends: '%s' is listed twice (first on line %u)",
					   d->depends.v[i], d->depends.vpos[j].line);
	for (size_t i = 0; i < d->rollout.n; i++) {
		const struct stack_rollout *r = STACK_AT(d->rollout, struct stack_rollout, i);
		if (!r->object.m.set)
			continue; /* reported by the loader */
		if (!object_ref(r->object.v) || !(startswith(r->object.v, "deployment/") ||
						  startswith(r->object.v, "daemonset/") ||
						  startswith(r->object.v, "statefulset/")))
			conf_error(f, r->object.m.pos,
				   "rollout: '%s' is not deployment/NAME, daemonset/NAME or "
				   "statefulset/NAME",
				   r->object.v);
		if (r->when.m.set && !word(r->when.v))
			conf_error(f, r->when.m.pos, "when: '%s' is not a variable name",
				   r->when.v);
	}
	for (size_t i = 0; i < d->crds.n; i++) {
		const char *c = d->crds.v[i];
		if (!strchr(c, '.') ||
		    strspn(c, "abcdefghijklmnopqrstuvwxyz0123456789-.") != strlen(c))
			conf_error(f, d->crds.vpos[i],
				   "crds: '%s' is not a CRD's name (PLURAL.GROUP)", c);
	}
	for (size_t i = 0; i < d->conditions.n; i++) {
		const struct stack_condition *c =
			STACK_AT(d->conditions, struct stack_condition, i);
		if (!c->object.m.set || !c->condition.m.set)
			continue; /* reported by the loader */
		if (!object_ref(c->object.v))
			conf_error(f, c->object.m.pos, "conditions: '%s' is not KIND/NAME",
				   c->object.v);
		if (c->namespace.m.set && !dns_label(c->namespace.v))
			conf_error(f, c->namespace.m.pos,
				   "conditions: namespace '%s' is not a DNS label", c->namespace.v);
		if (!word(c->condition.v))
			conf_error(f, c->condition.m.pos,
				   "conditions: '%s' is not a condition type", c->condition.v);
		if (c->when.m.set && !word(c->when.v))
			conf_error(f, c->when.m.pos, "when: '%s' is not a variable name",
				   c->when.v);
	}
	for (size_t i = 0; i < d->resources.n; i++) {
		const struct stack_resource *r = STACK_AT(d->resources, struct stack_resource, i);
		if (r->when.m.set && !word(r->when.v))
			conf_error(f, r->when.m.pos, "when: '%s' is not a variable name",
				   r->when.v);
	}
	if (d->chart.m.set && d->chart.artifact.m.set && !word(d->chart.artifact.v))
		conf_error(f, d->chart.artifact.m.pos, "chart: artifact '%s' is not a name",
			   d->chart.artifact.v);
	if (!d->chart.m.set && !d->resources.n)
		conf_error(f, d->m.pos, "a component needs a chart or resources");
	if (!d->chart.m.set && d->rollout.n)
		conf_error(f, d->m.pos,
			   "rollout: a component without a chart has no workloads to wait for");
	if (d->crds.n && !d->resources.n)
		conf_error(f, d->crds.m.pos, "crds: the component has no resources that need them");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int stack_defs_load(const char *dir, struct stack_defs *s)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	unsigned errors = 0;

	*s = (struct stack_defs){ .dir = xstrdup(dir) };
	if (!d)
		return log_error_errno(errno, "Cannot read the stack's definitions in %s: %m", dir);
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] == '.' || l < 6 || !streq(de->d_name + l - 5, ".yaml"))
			continue;
		ARRAY_PUSH(names, n, cap, xstrdup(de->d_name));
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	s->defs = xcalloc(n ? n : 1, sizeof(*s->defs));
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *path = xasprintf("%s/%s", dir, names[i]);
		struct stack_def *def = &s->defs[s->n];
		if (conf_file_open(path, &def->file) < 0) {
			conf_file_close(&def->file);
			errors++;
			continue;
		}
		s->n++;
		conf_load(&def->file, &def_schema, def);
		check_def(def, names[i]);
		errors += def->file.errors;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return errors ? -EINVAL : 0;
}

void stack_defs_free(struct stack_defs *s)
{
	for (size_t i = 0; i < s->n; i++) {
		conf_free(&def_schema, &s->defs[i]);
		conf_file_close(&s->defs[i].file);
	}
	free(s->defs);
	free(s->dir);
	*s = (struct stack_defs){ 0 };
}

const struct stack_def *stack_def_find(const struct stack_defs *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->defs[i].name.v && streq(s->defs[i].name.v, name))
			return &s->defs[i];
	return NULL;
}

/* Depth-first: appends D to ORDER after what it depends on. STATE: 0 new,
 * 1 on the path, 2 placed. Reports a cycle at the edge that closes it. */
static unsigned place(const struct stack_defs *s, const struct stack_def *d, int *state,
		      const struct stack_def **path, size_t depth, const struct stack_def **order,
		      size_t *n)
{
	size_t idx = (size_t)(d - s->defs);
	unsigned errors = 0;

	if (state[idx] == 2)
		return 0;
	state[idx] = 1;
	path[depth] = d;
	for (size_t i = 0; i < d->depends.n; i++) {
		const struct stack_def *dep = stack_def_find(s, d->depends.v[i]);
		size_t di;
		if (!dep)
			continue; /* reported already */
		di = (size_t)(dep - s->defs);
		if (state[di] == 1) {
			char chain[1024] = "";
			size_t from = 0;
			while (from < depth && path[from] != dep)
				from++;
			for (size_t k = from; k <= depth; k++)
				snprintf(chain + strlen(chain), sizeof(chain) - strlen(chain),
					 "%s -> ", path[k]->name.v);
			snprintf(chain + strlen(chain), sizeof(chain) - strlen(chain), "%s",
				 dep->name.v);
			conf_error((struct conf_file *)&d->file, d->depends.vpos[i],
				   "component '%s' depends on '%s': a cycle (%s)", d->name.v,
				   dep->name.v, chain);
			errors++;
			continue;
		}
		errors += place(s, dep, state, path, depth + 1, order, n);
	}
	state[idx] = 2;
	order[(*n)++] = d;
	return errors;
}

unsigned stack_resolve(struct config *c, const struct stack_defs *s,
		       const struct stack_def ***order, size_t *n)
{
	unsigned errors = 0;
	const struct stack_def **wanted = xcalloc(c->stack.n + 1, sizeof(*wanted));
	int *state = xcalloc(s->n + 1, sizeof(int));

	*order = NULL;
	*n = 0;
	for (size_t i = 0; i < c->stack.n; i++) {
		size_t first = i;
		for (size_t j = 0; j < i && first == i; j++)
			if (streq(c->stack.v[i], c->stack.v[j]))
				first = j;
		if (first != i) {
			config_error(c, c->stack.vpos[i],
				     "stack: component '%s' is already listed on line %u",
				     c->stack.v[i], c->stack.vpos[first].line);
			errors++;
			continue;
		}
		wanted[i] = stack_def_find(s, c->stack.v[i]);
		if (!wanted[i]) {
			char known[512] = "";
			for (size_t k = 0; k < s->n; k++)
				snprintf(known + strlen(known), sizeof(known) - strlen(known),
					 "%s%s", k ? ", " : "", s->defs[k].name.v);
			config_error(c, c->stack.vpos[i],
				     "stack: unknown component '%s' (%s has: %s)", c->stack.v[i],
				     s->dir, s->n ? known : "nothing");
			errors++;
		}
	}
	/* A CNI: k3s runs without flannel (config.c says so of a stack that is
	 * missing or empty). */
	{
		bool cni = false, all_known = true;
		for (size_t i = 0; i < c->stack.n; i++) {
			cni |= wanted[i] && wanted[i]->cni.v;
			all_known &= wanted[i] != NULL;
		}
		if (!cni && all_known) {
			config_error(c, c->stack.m.pos, "stack: " CONFIG_NO_CNI);
			errors++;
		}
	}
	/* Every dependency known, and in the stack. */
	for (size_t i = 0; i < c->stack.n; i++) {
		const struct stack_def *d = wanted[i];
		for (size_t k = 0; d && k < d->depends.n; k++) {
			bool in = false;
			if (!stack_def_find(s, d->depends.v[k])) {
				conf_error((struct conf_file *)&d->file, d->depends.vpos[k],
					   "component '%s' depends on '%s', which is not a component "
					   "(no %s/%s.yaml)",
					   d->name.v, d->depends.v[k], s->dir, d->depends.v[k]);
				errors++;
				continue;
			}
			for (size_t j = 0; j < c->stack.n; j++)
				in |= streq(c->stack.v[j], d->depends.v[k]);
			if (!in) {
				config_error(c, c->stack.vpos[i],
					     "stack: component '%s' depends on '%s' (%s:%u), which the "
					     "stack does not have: add it",
					     d->name.v, d->depends.v[k], d->file.path,
					     d->depends.vpos[k].line);
				errors++;
			}
		}
	}
	if (!errors) {
		const struct stack_def **path = xcalloc(s->n + 1, sizeof(*path));
		*order = xcalloc(s->n + 1, sizeof(**order));
		for (size_t i = 0; i < c->stack.n; i++)
			errors += place(s, wanted[i], state, path, 0, *order, n);
		free(path);
		if (errors) {
			free(*order);
			*order = NULL;
			*n = 0;
		}
	}
	free(state);
	free(wanted);
	return errors;
}
