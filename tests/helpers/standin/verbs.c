/* SPDX-License-Identifier: MIT */
/* kubectl's verbs against the stand-in's objects, with kubectl v1.33's
 * output and exit codes (kubernetes/kubectl v0.33.5; cli-runtime v0.33.5):
 *   errors: "Error from server (NotFound): RESOURCE.GROUP "NAME" not found"
 *     (apimachinery NewNotFound), "error: the server doesn't have a resource
 *     type "X"" (pkg/cmd/util/helpers.go), "error: resource mapping not
 *     found for name: ... ensure CRDs are installed first" (cli-runtime
 *     pkg/resource/mapper.go), exit status 1 (DefaultErrorExitCode);
 *   success lines: "KIND.GROUP/NAME OPERATION" (cli-runtime pkg/printers/
 *     name.go) with the operations of apply ("serverside-applied",
 *     "created", "configured", "unchanged"), wait ("condition met"), patch
 *     ("patched", "patched (no change)"), scale ("scaled"), annotate,
 *     label, taint, cordon ("cordoned", "already cordoned", "uncordoned"),
 *     drain ("evicting pod NS/NAME", "drained"), delete ("KIND.GROUP "NAME"
 *     deleted");
 *   wait's timeout: "error: timed out waiting for the condition on
 *     RESOURCE/NAME" (pkg/cmd/wait/condition.go extendErrWaitTimeout);
 *   rollout status: "Waiting for deployment "X" rollout to finish: A of B
 *     updated replicas are available...", "deployment "X" successfully
 *     rolled out", daemon set and statefulset alike
 *     (pkg/polymorphichelpers/rollout_status.go).
 *
 * This file: the arguments, the output, the dispatcher and the verbs that
 * read (get, wait, rollout); verbs-write.c has the verbs that change
 * objects, verbs-node.c those of nodes (cordon, drain, taint). */
#include "verbs.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Flags that take a value (as "--flag VALUE" or "--flag=VALUE"). */
static const char *const valued[] = { "-n",
				      "--namespace",
				      "-o",
				      "--output",
				      "-l",
				      "--selector",
				      "-f",
				      "--filename",
				      "--for",
				      "--timeout",
				      "--type",
				      "-p",
				      "--patch",
				      "--replicas",
				      "--raw",
				      "--field-manager",
				      "--kubeconfig",
				      "--server",
				      "-s",
				      "--request-timeout",
				      "--grace-period",
				      NULL };

static const char **slot(struct args *a, const char *flag)
{
	if (!strcmp(flag, "-n") || !strcmp(flag, "--namespace"))
		return &a->ns;
	if (!strcmp(flag, "-o") || !strcmp(flag, "--output"))
		return &a->output;
	if (!strcmp(flag, "-l") || !strcmp(flag, "--selector"))
		return &a->selector;
	if (!strcmp(flag, "-f") || !strcmp(flag, "--filename"))
		return &a->filename;
	if (!strcmp(flag, "--for"))
		return &a->for_;
	if (!strcmp(flag, "--timeout"))
		return &a->timeout;
	if (!strcmp(flag, "--type"))
		return &a->type;
	if (!strcmp(flag, "-p") || !strcmp(flag, "--patch"))
		return &a->patch;
	if (!strcmp(flag, "--replicas"))
		return &a->replicas;
	if (!strcmp(flag, "--raw"))
		return &a->raw;
	return NULL;
}

static void parse(int argc, char **argv, int first, struct args *a)
{
	static const char *ignored;

	a->pos = calloc((size_t)argc + 1, sizeof(char *));
	for (int i = first; i < argc; i++) {
		char *w = argv[i], flag[64];
		const char *val = NULL;
		bool takes = false;
		if (w[0] != '-' || !strcmp(w, "-")) {
			a->pos[a->npos++] = w;
			continue;
		}
		snprintf(flag, sizeof(flag), "%.*s", (int)strcspn(w, "="), w);
		for (const char *const *v = valued; *v; v++)
			takes |= !strcmp(*v, flag);
		if (strchr(w, '='))
			val = strchr(w, '=') + 1;
		else if (takes && i + 1 < argc)
			val = argv[++i];
		if (!strcmp(flag, "-A") || !strcmp(flag, "--all-namespaces"))
			a->all_ns = true;
		else if (!strcmp(flag, "--overwrite"))
			a->overwrite = !val || strcmp(val, "false");
		else if (!strcmp(flag, "--server-side"))
			a->server_side = true;
		else if (takes) {
			const char **s = slot(a, flag);
			*(s ? s : &ignored) = val;
		}
	}
}

bool object_arg(struct args *a, size_t *i, const struct kind **k, const char **name, struct out *o)
{
	char word[256];
	const char *w = a->pos[*i];
	const char *slash = strchr(w, '/');

	snprintf(word, sizeof(word), "%.*s", (int)(slash ? (size_t)(slash - w) : strlen(w)), w);
	*k = kind_by_word(word);
	if (!*k) {
		fprintf(o->err, "error: the server doesn't have a resource type \"%s\"\n", word);
		o->status = 1;
		return false;
	}
	if (slash)
		*name = slash + 1;
	else if (*i + 1 < a->npos)
		*name = a->pos[++*i];
	else
		*name = NULL;
	return true;
}

void not_found(struct out *o, const struct kind *k, const char *name)
{
	char res[256];

	kind_resource_name(k, res, sizeof(res));
	fprintf(o->err, "Error from server (NotFound): %s \"%s\" not found\n", res, name);
	o->status = 1;
}

void print_name(struct out *o, const struct kind *k, const char *name, const char *op)
{
	char kn[256];

	kind_print_name(k, kn, sizeof(kn));
	fprintf(o->out, "%s/%s%s%s\n", kn, name, op ? " " : "", op ? op : "");
}

void api(const char *verb, const struct kind *k, const char *sub, const char *ns, const char *name)
{
	request_log("api %s %s %s %s %s%s%s %s %s\n", standin_user,
		    standin_groups[0] ? standin_groups : "-", verb, k->group[0] ? k->group : "core",
		    k->plural, sub ? "/" : "", sub ? sub : "", k->namespaced && ns ? ns : "-",
		    name ? name : "-");
}

json_object *shown(json_object *obj)
{
	json_object *c = NULL;

	json_object_deep_copy(obj, &c, NULL);
	json_object_object_del(c, "_standin");
	return c;
}

static void print_obj(struct out *o, json_object *obj, const struct kind *k, const char *output)
{
	json_object *c = shown(obj);

	if (!output || !strcmp(output, "wide")) {
		fprintf(o->out, "NAME\n%s\n", jstr(c, "metadata", "name", NULL));
	} else if (!strcmp(output, "json")) {
		fprintf(o->out, "%s\n",
			json_object_to_json_string_ext(c, JSON_C_TO_STRING_PRETTY |
								  JSON_C_TO_STRING_NOSLASHESCAPE));
	} else if (!strcmp(output, "name")) {
		print_name(o, k, jstr(c, "metadata", "name", NULL), NULL);
	} else if (!strncmp(output, "jsonpath=", 9)) {
		char err[256];
		const char *t = output + 9;
		char *tt = strdup(t);
		size_t l = strlen(tt);
		/* kubectl strips one level of quotes the shell left */
		if (l >= 2 && (tt[0] == '\'' || tt[0] == '"') && tt[l - 1] == tt[0]) {
			memmove(tt, tt + 1, l - 2);
			tt[l - 2] = 0;
		}
		if (jsonpath_print(o->out, c, tt, err, sizeof(err)) < 0) {
			fprintf(o->err, "error: error parsing jsonpath %s, %s\n", t, err);
			o->status = 1;
		}
		free(tt);
	} else {
		fprintf(o->err,
			"error: unable to match a printer suitable for the output format "
			"\"%s\"\n",
			output);
		o->status = 1;
	}
	json_object_put(c);
}

static void verb_get(struct args *a, struct out *o)
{
	const struct kind *k;
	const char *name;
	size_t i = 0;

	if (a->raw) {
		if (!strcmp(a->raw, "/readyz") || !strcmp(a->raw, "/livez") ||
		    !strcmp(a->raw, "/healthz"))
			fprintf(o->out, "ok");
		else {
			fprintf(o->err,
				"Error from server (NotFound): the server could not find the "
				"requested resource\n");
			o->status = 1;
		}
		return;
	}
	if (a->npos < 1) {
		fprintf(o->err, "error: You must specify the type of resource to get.\n");
		o->status = 1;
		return;
	}
	if (!object_arg(a, &i, &k, &name, o))
		return;
	if (name) {
		json_object *obj = store_get(k, a->ns, name);
		api("get", k, NULL, a->ns ? a->ns : "default", name);
		if (!obj)
			return not_found(o, k, name);
		print_obj(o, obj, k, a->output);
		json_object_put(obj);
		return;
	}
	{
		size_t n;
		json_object **l = store_list(k, a->all_ns ? NULL : a->ns ? a->ns : "default", &n);
		api("list", k, NULL, a->all_ns ? NULL : a->ns ? a->ns : "default", NULL);
		json_object *list = json_object_new_object(), *items = json_object_new_array();
		jset_str(list, "apiVersion", "v1");
		jset_str(list, "kind", "List");
		for (size_t j = 0; j < n; j++)
			if (!a->selector || selector_matches(l[j], a->selector))
				json_object_array_add(items, shown(l[j]));
		json_object_object_add(list, "items", items);
		jset_str(jmake(list, "metadata", NULL), "resourceVersion", "");
		if (!a->output || !strcmp(a->output, "name") || !strcmp(a->output, "wide")) {
			if (json_object_array_length(items) == 0 &&
			    (!a->output || strcmp(a->output, "name")))
				fprintf(o->err, "No resources found%s%s%s.\n",
					k->namespaced ? " in " : "",
					k->namespaced ? (a->ns ? a->ns : "default") : "",
					k->namespaced ? " namespace" : "");
			for (size_t j = 0; j < json_object_array_length(items); j++)
				print_obj(o, json_object_array_get_idx(items, j), k,
					  a->output ? a->output : NULL);
		} else
			print_obj(o, list, k, a->output);
		json_object_put(list);
		store_list_free(l, n);
	}
}

/* Whether OBJ of kind K meets condition COND now. */
static bool condition_met(const struct kind *k, json_object *obj, const char *cond)
{
	bool builtin = !strcmp(k->kind, "Job") || !strcmp(k->kind, "Node") ||
		       !strcmp(k->kind, "CustomResourceDefinition") ||
		       !strcmp(k->kind, "Deployment") || !strcmp(k->kind, "Pod");

	if (!strcmp(k->kind, "Deployment") && !strcasecmp(cond, "Available")) {
		json_object *av = jget(obj, "status", "availableReplicas", NULL);
		json_object *want = jget(obj, "spec", "replicas", NULL);
		return av && json_object_get_int(av) >= (want ? json_object_get_int(want) : 1);
	}
	if (builtin) {
		/* kubectl matches the condition type case-insensitively */
		json_object *conds = jget(obj, "status", "conditions", NULL);
		for (size_t i = 0; conds && i < json_object_array_length(conds); i++) {
			json_object *c = json_object_array_get_idx(conds, i);
			const char *t = jstr(c, "type", NULL), *s = jstr(c, "status", NULL);
			if (t && s && !strcasecmp(t, cond) && !strcmp(s, "True"))
				return true;
		}
		return false;
	}
	return world_cr_condition(obj, cond);
}

static void verb_wait(struct args *a, struct out *o)
{
	const struct kind *k;
	const char *name;
	size_t i = 0;
	json_object *obj;
	char res[256];

	if (a->npos < 1 || !a->for_) {
		fprintf(o->err, "error: --for must be set\n");
		o->status = 1;
		return;
	}
	if (!object_arg(a, &i, &k, &name, o))
		return;
	obj = store_get(k, a->ns, name);
	if (!strcmp(a->for_, "delete")) {
		if (obj) {
			fprintf(o->err, "error: timed out waiting for the condition on %s/%s\n",
				k->plural, name);
			o->status = 1;
		}
		json_object_put(obj);
		return;
	}
	if (!obj) {
		if (!strcmp(a->for_, "create")) {
			fprintf(o->err, "error: timed out waiting for the condition\n");
			o->status = 1;
		} else
			not_found(o, k, name);
		return;
	}
	kind_resource_name(k, res, sizeof(res));
	if (!strcmp(a->for_, "create") ||
	    (!strncmp(a->for_, "condition=", 10) && condition_met(k, obj, a->for_ + 10)))
		print_name(o, k, name, "condition met");
	else if (strncmp(a->for_, "condition=", 10) && strcmp(a->for_, "create")) {
		fprintf(o->err, "error: unrecognized condition: \"%s\"\n", a->for_);
		o->status = 1;
	} else {
		fprintf(o->err, "error: timed out waiting for the condition on %s/%s\n", k->plural,
			name);
		o->status = 1;
	}
	json_object_put(obj);
}

static void verb_rollout(struct args *a, struct out *o)
{
	const struct kind *k;
	const char *name;
	size_t i = 1;
	json_object *obj;
	int64_t want, have;
	bool done;

	if (a->npos < 2 || strcmp(a->pos[0], "status")) {
		fprintf(o->err, "error: the stand-in knows only 'rollout status'\n");
		o->status = 1;
		return;
	}
	if (!object_arg(a, &i, &k, &name, o))
		return;
	if (!name) {
		fprintf(o->err, "error: required resource not specified\n");
		o->status = 1;
		return;
	}
	obj = store_get(k, a->ns, name);
	if (!obj)
		return not_found(o, k, name);
	if (!strcmp(k->kind, "Deployment")) {
		json_object *r = jget(obj, "spec", "replicas", NULL);
		want = r ? json_object_get_int64(r) : 1;
		have = json_object_get_int64(jget(obj, "status", "availableReplicas", NULL));
		done = jget(obj, "status", NULL) && have >= want;
		if (!done)
			fprintf(o->out,
				"Waiting for deployment \"%s\" rollout to finish: %lld of %lld "
				"updated replicas are available...\n",
				name, (long long)have, (long long)want);
		else
			fprintf(o->out, "deployment \"%s\" successfully rolled out\n", name);
	} else if (!strcmp(k->kind, "DaemonSet")) {
		want = json_object_get_int64(jget(obj, "status", "desiredNumberScheduled", NULL));
		have = json_object_get_int64(jget(obj, "status", "numberAvailable", NULL));
		done = jget(obj, "status", "desiredNumberScheduled", NULL) && have >= want;
		if (!done)
			fprintf(o->out,
				"Waiting for daemon set \"%s\" rollout to finish: %lld of %lld "
				"updated pods are available...\n",
				name, (long long)have, (long long)want);
		else
			fprintf(o->out, "daemon set \"%s\" successfully rolled out\n", name);
	} else if (!strcmp(k->kind, "StatefulSet")) {
		json_object *r = jget(obj, "spec", "replicas", NULL);
		want = r ? json_object_get_int64(r) : 1;
		have = json_object_get_int64(jget(obj, "status", "readyReplicas", NULL));
		done = jget(obj, "status", NULL) && have >= want;
		if (!done)
			fprintf(o->out, "Waiting for %lld pods to be ready...\n",
				(long long)(want - have));
		else
			fprintf(o->out,
				"statefulset rolling update complete %lld pods at revision "
				"standin-1...\n",
				(long long)want);
	} else {
		fprintf(o->err, "error: no status viewer has been implemented for %s\n", k->kind);
		o->status = 1;
		json_object_put(obj);
		return;
	}
	if (!done) {
		fprintf(o->err, "error: timed out waiting for the condition\n");
		o->status = 1;
	}
	json_object_put(obj);
}

void kubectl_main(int argc, char **argv, const char *input, size_t len, struct out *o)
{
	struct args a = { 0 };
	int v = 1;

	/* argv[0] is "kubectl"; skip the global flags to the verb. */
	while (v < argc && argv[v][0] == '-') {
		bool takes = false;
		char flag[64];
		snprintf(flag, sizeof(flag), "%.*s", (int)strcspn(argv[v], "="), argv[v]);
		for (const char *const *x = valued; *x; x++)
			takes |= !strcmp(*x, flag);
		v += takes && !strchr(argv[v], '=') ? 2 : 1;
	}
	if (v >= argc) {
		fprintf(o->err, "error: a verb is required\n");
		o->status = 1;
		return;
	}
	parse(argc, argv, v + 1, &a);
	{
		/* The scenario's "refuse VERB OBJECT" and "hang VERB OBJECT"
		 * (OBJECT: the first word after the verb, or "*"): a request the
		 * API refuses, and one it never answers (a power cut while it
		 * waits, for the tests). */
		const struct rule *r;
		for (size_t i = 0; (r = world_rule_at(i)); i++) {
			bool match = (!strcmp(r->word, "refuse") || !strcmp(r->word, "hang")) &&
				     !strcmp(r->a, argv[v]) &&
				     (!strcmp(r->b, "*") || (a.npos && !strcmp(r->b, a.pos[0])));
			if (!match)
				continue;
			if (!strcmp(r->word, "hang")) {
				request_log("hanging on %s %s\n", argv[v], r->b);
				for (;;)
					pause();
			}
			fprintf(o->err,
				"Error from server (Forbidden): %s %s is refused by the "
				"stand-in's scenario\n",
				argv[v], a.npos ? a.pos[0] : "");
			o->status = 1;
			free(a.pos);
			return;
		}
	}
	if (!strcmp(argv[v], "get"))
		verb_get(&a, o);
	else if (!strcmp(argv[v], "apply"))
		verb_apply(&a, input, len, o);
	else if (!strcmp(argv[v], "wait"))
		verb_wait(&a, o);
	else if (!strcmp(argv[v], "rollout"))
		verb_rollout(&a, o);
	else if (!strcmp(argv[v], "patch"))
		verb_patch(&a, o);
	else if (!strcmp(argv[v], "scale"))
		verb_scale(&a, o);
	else if (!strcmp(argv[v], "annotate"))
		verb_meta(&a, o, "annotations", "annotated");
	else if (!strcmp(argv[v], "label"))
		verb_meta(&a, o, "labels", "labeled");
	else if (!strcmp(argv[v], "cordon"))
		verb_cordon(&a, o, true, false);
	else if (!strcmp(argv[v], "uncordon"))
		verb_cordon(&a, o, false, false);
	else if (!strcmp(argv[v], "drain"))
		verb_drain(&a, o);
	else if (!strcmp(argv[v], "taint"))
		verb_taint(&a, o);
	else if (!strcmp(argv[v], "delete"))
		verb_delete(&a, o);
	else if (!strcmp(argv[v], "standin-register-node")) {
		if (a.npos < 1 || world_register_node(a.pos[0], a.npos > 1 ? a.pos[1] : NULL) < 0) {
			fprintf(o->err, "error: cannot register the node\n");
			o->status = 1;
		}
	} else {
		fprintf(o->err, "error: unknown command \"%s\" for \"kubectl\"\n", argv[v]);
		o->status = 1;
	}
	free(a.pos);
}
