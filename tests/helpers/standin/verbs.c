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
 *     (pkg/polymorphichelpers/rollout_status.go). */
#include "standin.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct args {
	int n;
	char **pos; /* positional words after the verb */
	size_t npos;
	const char *ns, *output, *selector, *filename, *for_, *timeout, *type, *patch, *replicas;
	const char *raw;
	bool all_ns, overwrite, server_side;
};

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

/* "kind/name" or "kind name" into K and NAME. Prints the error. */
static bool object_arg(struct args *a, size_t *i, const struct kind **k, const char **name,
		       struct out *o)
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

static void not_found(struct out *o, const struct kind *k, const char *name)
{
	char res[256];

	kind_resource_name(k, res, sizeof(res));
	fprintf(o->err, "Error from server (NotFound): %s \"%s\" not found\n", res, name);
	o->status = 1;
}

static void print_name(struct out *o, const struct kind *k, const char *name, const char *op)
{
	char kn[256];

	kind_print_name(k, kn, sizeof(kn));
	fprintf(o->out, "%s/%s%s%s\n", kn, name, op ? " " : "", op ? op : "");
}

/* "applied KIND/NAME" in the request log. */
static void log_applied(const struct kind *k, const char *name)
{
	char kn[256];

	kind_print_name(k, kn, sizeof(kn));
	request_log("applied %s/%s\n", kn, name);
}

/* The API request a verb makes, as kubectl v0.33 makes it (the sources
 * are cited where each verb calls this), with who made it:
 * "api USER GROUPS VERB GROUP RESOURCE[/SUB] NAMESPACE NAME" ("core" for
 * the core group, "-" for none) in the request log, for the RBAC checks of
 * tests/helpers/rbac-check.py. */
static void api(const char *verb, const struct kind *k, const char *sub, const char *ns,
		const char *name)
{
	request_log("api %s %s %s %s %s%s%s %s %s\n", standin_user,
		    standin_groups[0] ? standin_groups : "-", verb, k->group[0] ? k->group : "core",
		    k->plural, sub ? "/" : "", sub ? sub : "", k->namespaced && ns ? ns : "-",
		    name ? name : "-");
}

/* A copy without the stand-in's own bookkeeping. */
static json_object *shown(json_object *obj)
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

static void verb_apply(struct args *a, const char *input, size_t len, struct out *o)
{
	json_object **docs;
	char *err;
	int n;

	if (!a->filename || strcmp(a->filename, "-")) {
		fprintf(o->err, "error: the stand-in applies standard input only (-f -)\n");
		o->status = 1;
		return;
	}
	n = yaml_to_json(input, len, &docs, &err);
	if (n < 0) {
		fprintf(o->err, "error: %s\n", err ? err : "cannot read the manifest");
		o->status = 1;
		free(err);
		return;
	}
	if (n == 0) {
		fprintf(o->err, "error: no objects passed to apply\n");
		o->status = 1;
	}
	for (int i = 0; i < n; i++) {
		json_object *d = docs[i], *old;
		const char *av = jstr(d, "apiVersion", NULL), *kd = jstr(d, "kind", NULL);
		const char *name = jstr(d, "metadata", "name", NULL);
		const char *ns = jstr(d, "metadata", "namespace", NULL);
		const struct kind *k = av && kd ? kind_by_gvk(av, kd) : NULL;
		if (!av || !kd) {
			fprintf(o->err,
				"error: error validating \"STDIN\": error validating data: "
				"[apiVersion not set, kind not set]; if you choose to ignore these "
				"errors, turn validation off with --validate=false\n");
			o->status = 1;
			continue;
		}
		if (!k) {
			fprintf(o->err,
				"error: resource mapping not found for name: \"%s\" namespace: \"%s\" "
				"from \"STDIN\": no matches for kind \"%s\" in version \"%s\"\n"
				"ensure CRDs are installed first\n",
				name ? name : "", ns ? ns : "", kd, av);
			o->status = 1;
			continue;
		}
		if (k->namespaced) {
			json_object *nso =
				store_get(kind_by_word("namespace"), NULL, ns ? ns : "default");
			if (!nso) {
				fprintf(o->err,
					"Error from server (NotFound): namespaces \"%s\" not found\n",
					ns ? ns : "default");
				o->status = 1;
				continue;
			}
			json_object_put(nso);
		}
		old = store_get(k, ns, name);
		if (old) {
			/* The applied fields replace the old ones; status and
			 * the stand-in's bookkeeping stay. */
			json_object *st = jget(old, "status", NULL),
				    *sb = jget(old, "_standin", NULL);
			const char *uid = jstr(old, "metadata", "uid", NULL);
			const char *ts = jstr(old, "metadata", "creationTimestamp", NULL);
			json_object *g = jget(old, "metadata", "generation", NULL);
			bool same;
			json_object *c1 = shown(old), *c2 = shown(d);
			json_object_object_del(c1, "status");
			json_object_object_del(jget(c1, "metadata", NULL), "uid");
			json_object_object_del(jget(c1, "metadata", NULL), "creationTimestamp");
			json_object_object_del(jget(c1, "metadata", NULL), "resourceVersion");
			json_object_object_del(jget(c1, "metadata", NULL), "generation");
			if (!k->namespaced)
				json_object_object_del(jget(c2, "metadata", NULL), "namespace");
			else if (!jget(c2, "metadata", "namespace", NULL))
				jset_str(jget(c2, "metadata", NULL), "namespace", "default");
			same = json_object_equal(c1, c2);
			json_object_put(c1);
			json_object_put(c2);
			if (st)
				json_object_object_add(d, "status", json_object_get(st));
			if (sb)
				json_object_object_add(d, "_standin", json_object_get(sb));
			if (uid)
				jset_str(jmake(d, "metadata", NULL), "uid", uid);
			if (ts)
				jset_str(jmake(d, "metadata", NULL), "creationTimestamp", ts);
			json_object_object_add(jmake(d, "metadata", NULL), "generation",
					       json_object_new_int64(
						       (g ? json_object_get_int64(g) : 1) +
						       (same ? 0 : 1)));
			store_put(k, d);
			if (!same)
				log_applied(k, name);
			print_name(o, k, name,
				   a->server_side ? "serverside-applied"
				   : same	  ? "unchanged"
						  : "configured");
			json_object_put(old);
		} else {
			json_object_object_add(jmake(d, "_standin", NULL), "born",
					       json_object_new_int64((int64_t)world_tick));
			json_object_object_add(jmake(d, "metadata", NULL), "generation",
					       json_object_new_int(1));
			store_put(k, d);
			log_applied(k, name);
			print_name(o, k, name, a->server_side ? "serverside-applied" : "created");
		}
	}
	for (int i = 0; i < n; i++)
		json_object_put(docs[i]);
	free(docs);
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

/* RFC 7386 merge patch of PATCH into TARGET. */
static void merge_patch(json_object *target, json_object *patch)
{
	json_object_object_foreach(patch, key, val)
	{
		json_object *t;
		if (!val)
			json_object_object_del(target, key);
		else if (json_object_is_type(val, json_type_object) &&
			 json_object_object_get_ex(target, key, &t) &&
			 json_object_is_type(t, json_type_object))
			merge_patch(t, val);
		else
			json_object_object_add(target, key, json_object_get(val));
	}
}

/* A JSON patch (RFC 6902): add, replace, remove on "/a/b/0" paths. */
static int json_patch(json_object *target, json_object *ops, char *err, size_t len)
{
	for (size_t i = 0; i < json_object_array_length(ops); i++) {
		json_object *op = json_object_array_get_idx(ops, i), *cur = target, *val;
		const char *kind = jstr(op, "op", NULL), *path = jstr(op, "path", NULL);
		char buf[512], *save = NULL, *tok, *next;
		if (!kind || !path || path[0] != '/') {
			snprintf(err, len, "invalid JSON patch operation %zu", i);
			return -1;
		}
		snprintf(buf, sizeof(buf), "%s", path + 1);
		tok = strtok_r(buf, "/", &save);
		while (tok && (next = strtok_r(NULL, "/", &save))) {
			json_object *c = NULL;
			if (json_object_is_type(cur, json_type_array))
				c = json_object_array_get_idx(cur, (size_t)atoi(tok));
			else
				json_object_object_get_ex(cur, tok, &c);
			if (!c) {
				snprintf(err, len, "doc is missing path: \"%s\"", path);
				return -1;
			}
			cur = c;
			tok = next;
		}
		/* "~1" is "/" in a path segment */
		for (char *t = tok; t && (t = strstr(t, "~1"));) {
			*t = '/';
			memmove(t + 1, t + 2, strlen(t + 2) + 1);
		}
		val = jget(op, "value", NULL);
		if (!strcmp(kind, "test")) {
			json_object *have = NULL;
			if (json_object_is_type(cur, json_type_array))
				have = json_object_array_get_idx(cur, (size_t)atoi(tok));
			else
				json_object_object_get_ex(cur, tok, &have);
			if (!have || !json_object_equal(have, val)) {
				snprintf(err, len, "testing value %s failed: test failed", path);
				return -1;
			}
			continue;
		}
		if (!strcmp(kind, "remove")) {
			if (json_object_is_type(cur, json_type_array))
				json_object_array_del_idx(cur, (size_t)atoi(tok), 1);
			else
				json_object_object_del(cur, tok);
		} else if (json_object_is_type(cur, json_type_array)) {
			if (!strcmp(tok, "-"))
				json_object_array_add(cur, json_object_get(val));
			else
				json_object_array_put_idx(cur, (size_t)atoi(tok),
							  json_object_get(val));
		} else
			json_object_object_add(cur, tok, json_object_get(val));
	}
	return 0;
}

static void verb_patch(struct args *a, struct out *o)
{
	const struct kind *k;
	const char *name;
	size_t i = 0;
	json_object *obj, *p, *before = NULL;
	char err[256];

	if (a->npos < 1 || !a->patch) {
		fprintf(o->err,
			"error: must specify --patch or --patch-file containing the contents "
			"of the patch\n");
		o->status = 1;
		return;
	}
	if (!object_arg(a, &i, &k, &name, o))
		return;
	obj = store_get(k, a->ns, name);
	api("patch", k, NULL, a->ns ? a->ns : "default", name);
	if (!obj)
		return not_found(o, k, name);
	p = json_tokener_parse(a->patch);
	if (!p) {
		fprintf(o->err,
			"error: unable to parse \"%s\": yaml: did not find expected node content\n",
			a->patch);
		o->status = 1;
		json_object_put(obj);
		return;
	}
	json_object_deep_copy(obj, &before, NULL);
	if (a->type && !strcmp(a->type, "json")) {
		if (json_patch(obj, p, err, sizeof(err)) < 0) {
			fprintf(o->err, "The request is invalid: %s\n", err);
			o->status = 1;
		}
	} else /* merge; strategic merges alike for the fields the tests use */
		merge_patch(obj, p);
	if (!o->status) {
		bool same = json_object_equal(before, obj);
		store_put(k, obj);
		print_name(o, k, name, same ? "patched (no change)" : "patched");
	}
	json_object_put(before);
	json_object_put(p);
	json_object_put(obj);
}

static void verb_scale(struct args *a, struct out *o)
{
	const struct kind *k;
	const char *name;
	size_t i = 0;
	json_object *obj;

	if (!a->replicas) {
		fprintf(o->err, "error: required flag(s) \"replicas\" not set\n");
		o->status = 1;
		return;
	}
	if (a->npos < 1 || !object_arg(a, &i, &k, &name, o))
		return;
	obj = store_get(k, a->ns, name);
	/* pkg/scale/scale.go ScaleSimple: a patch of the scale subresource */
	api("patch", k, "scale", a->ns ? a->ns : "default", name);
	if (!obj)
		return not_found(o, k, name);
	json_object_object_add(jmake(obj, "spec", NULL), "replicas",
			       json_object_new_int(atoi(a->replicas)));
	json_object_object_del(jmake(obj, "_standin", NULL), "born");
	json_object_object_add(jmake(obj, "_standin", NULL), "born",
			       json_object_new_int64((int64_t)world_tick));
	store_put(k, obj);
	print_name(o, k, name, "scaled");
	json_object_put(obj);
}

/* annotate / label: KEY=VALUE and KEY- words after the object. */
static void verb_meta(struct args *a, struct out *o, const char *field, const char *op)
{
	const struct kind *k;
	const char *name;
	size_t i = 0;
	json_object *obj, *m;

	if (a->npos < 2 || !object_arg(a, &i, &k, &name, o))
		return;
	obj = store_get(k, a->ns, name);
	/* pkg/cmd/annotate: the object is read, then merge-patched */
	api("get", k, NULL, a->ns ? a->ns : "default", name);
	if (!obj)
		return not_found(o, k, name);
	api("patch", k, NULL, a->ns ? a->ns : "default", name);
	m = jmake(obj, "metadata", field, NULL);
	for (i++; i < a->npos; i++) {
		char key[256];
		const char *w = a->pos[i], *eq = strchr(w, '=');
		json_object *have;
		if (!eq && w[strlen(w) - 1] == '-') {
			snprintf(key, sizeof(key), "%.*s", (int)strlen(w) - 1, w);
			json_object_object_del(m, key);
			continue;
		}
		if (!eq)
			continue;
		snprintf(key, sizeof(key), "%.*s", (int)(eq - w), w);
		if (!a->overwrite && json_object_object_get_ex(m, key, &have) &&
		    strcmp(json_object_get_string(have), eq + 1)) {
			fprintf(o->err,
				"error: --overwrite is false but found the following declared "
				"%s(s): '%s' already has a value (%s)\n",
				!strcmp(field, "labels") ? "label" : "annotation", key,
				json_object_get_string(have));
			o->status = 1;
			json_object_put(obj);
			return;
		}
		jset_str(m, key, eq + 1);
	}
	store_put(k, obj);
	print_name(o, k, name, op);
	json_object_put(obj);
}

static json_object *get_node(struct args *a, size_t i, struct out *o)
{
	const struct kind *k = kind_by_word("node");
	json_object *n;

	if (a->npos <= i) {
		fprintf(o->err, "error: USAGE: NODE is required\n");
		o->status = 1;
		return NULL;
	}
	n = store_get(k, NULL, a->pos[i]);
	/* cordon, drain, taint read the node first (resource builder) */
	api("get", k, NULL, NULL, a->pos[i]);
	if (!n)
		not_found(o, k, a->pos[i]);
	return n;
}

static void cordon(struct args *a, struct out *o, bool on, bool quiet_already)
{
	json_object *n = get_node(a, 0, o), *u;
	bool was;

	if (!n)
		return;
	was = (u = jget(n, "spec", "unschedulable", NULL)) && json_object_get_boolean(u);
	if (was == on) {
		if (!quiet_already)
			print_name(o, kind_by_word("node"), a->pos[0],
				   on ? "already cordoned" : "already uncordoned");
	} else {
		json_object_object_add(jmake(n, "spec", NULL), "unschedulable",
				       json_object_new_boolean(on));
		/* pkg/drain/cordon.go PatchOrReplaceWithContext: a strategic
		 * merge patch, only when the node changes */
		api("patch", kind_by_word("node"), NULL, NULL, a->pos[0]);
		store_put(kind_by_word("node"), n);
		print_name(o, kind_by_word("node"), a->pos[0], on ? "cordoned" : "uncordoned");
	}
	json_object_put(n);
}

static void verb_drain(struct args *a, struct out *o)
{
	const struct kind *pk = kind_by_word("pod");
	size_t n;
	json_object **pods;

	cordon(a, o, true, false);
	if (o->status)
		return;
	pods = store_list(pk, NULL, &n);
	/* pkg/drain/drain.go GetPodsForDeletion: every namespace's pods with
	 * spec.nodeName=NODE */
	api("list", pk, NULL, NULL, NULL);
	for (size_t i = 0; i < n; i++) {
		const char *node = jstr(pods[i], "spec", "nodeName", NULL);
		json_object *owners = jget(pods[i], "metadata", "ownerReferences", NULL);
		const char *ok = json_object_is_type(owners, json_type_array)
					 ? jstr(json_object_array_get_idx(owners, 0), "kind", NULL)
					 : NULL;
		const char *pname = jstr(pods[i], "metadata", "name", NULL);
		const char *pns = jstr(pods[i], "metadata", "namespace", NULL);
		if (!node || strcmp(node, a->pos[0]))
			continue;
		if (ok && !strcmp(ok, "DaemonSet")) {
			/* pkg/drain/filters.go daemonSetFilter: the DaemonSet is
			 * looked up */
			api("get", kind_by_word("daemonset"), NULL, pns,
			    jstr(json_object_array_get_idx(owners, 0), "name", NULL));
			fprintf(o->err, "Warning: ignoring DaemonSet-managed Pods: %s/%s\n", pns,
				pname);
			continue;
		}
		/* evictPods: an Eviction per pod, then the pod is read until it
		 * is gone (waitForDelete) */
		api("create", pk, "eviction", pns, pname);
		api("get", pk, NULL, pns, pname);
		fprintf(o->out, "evicting pod %s/%s\n", pns, pname);
		store_delete(pk, pns, pname);
		fprintf(o->out, "pod/%s evicted\n", pname);
	}
	store_list_free(pods, n);
	print_name(o, kind_by_word("node"), a->pos[0], "drained");
}

static void verb_taint(struct args *a, struct out *o)
{
	json_object *n, *taints;
	const char *t;
	char key[256], value[256] = "", effect[64] = "";
	bool remove;

	if (a->npos < 3 || (strcmp(a->pos[0], "nodes") && strcmp(a->pos[0], "node"))) {
		fprintf(o->err, "error: the stand-in taints 'nodes NODE TAINT' only\n");
		o->status = 1;
		return;
	}
	n = get_node(a, 1, o);
	if (!n)
		return;
	t = a->pos[2];
	remove = t[strlen(t) - 1] == '-';
	sscanf(t, "%255[^=:]", key);
	if (strchr(t, '='))
		sscanf(strchr(t, '=') + 1, "%255[^:]", value);
	if (strchr(t, ':'))
		sscanf(strchr(t, ':') + 1, "%63[A-Za-z]", effect);
	taints = jget(n, "spec", "taints", NULL);
	if (!taints) {
		taints = json_object_new_array();
		json_object_object_add(jmake(n, "spec", NULL), "taints", taints);
	}
	{
		bool found = false;
		for (size_t i = json_object_array_length(taints); i-- > 0;) {
			json_object *x = json_object_array_get_idx(taints, i);
			const char *xk = jstr(x, "key", NULL), *xe = jstr(x, "effect", NULL);
			if (xk && !strcmp(xk, key) && (!*effect || (xe && !strcmp(xe, effect)))) {
				found = true;
				if (remove || a->overwrite)
					json_object_array_del_idx(taints, i, 1);
				else {
					fprintf(o->err,
						"error: node %s already has %s taint(s) with same "
						"effect(s) and --overwrite is false\n",
						a->pos[1], key);
					o->status = 1;
					json_object_put(n);
					return;
				}
			}
		}
		if (remove && !found) {
			fprintf(o->err, "error: taint \"%.*s\" not found\n", (int)strlen(t) - 1, t);
			o->status = 1;
			json_object_put(n);
			return;
		}
	}
	/* pkg/cmd/taint/taint.go: a strategic merge patch of the node */
	api("patch", kind_by_word("node"), NULL, NULL, a->pos[1]);
	if (!remove) {
		json_object *x = json_object_new_object();
		jset_str(x, "key", key);
		if (*value)
			jset_str(x, "value", value);
		jset_str(x, "effect", effect);
		json_object_array_add(taints, x);
	}
	store_put(kind_by_word("node"), n);
	print_name(o, kind_by_word("node"), a->pos[1], remove ? "untainted" : "tainted");
	json_object_put(n);
}

static void verb_delete(struct args *a, struct out *o)
{
	const struct kind *k;
	const char *name;
	size_t i = 0;
	json_object *obj;
	char kn[256];

	if (a->npos < 1 || !object_arg(a, &i, &k, &name, o))
		return;
	if (!name) {
		fprintf(o->err, "error: resource(s) were provided, but no name was specified\n");
		o->status = 1;
		return;
	}
	obj = store_get(k, a->ns, name);
	api("delete", k, NULL, a->ns ? a->ns : "default", name);
	if (!obj)
		return not_found(o, k, name);
	store_delete(k, a->ns, name);
	kind_print_name(k, kn, sizeof(kn));
	fprintf(o->out, "%s \"%s\" deleted\n", kn, name);
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
		cordon(&a, o, true, false);
	else if (!strcmp(argv[v], "uncordon"))
		cordon(&a, o, false, false);
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
