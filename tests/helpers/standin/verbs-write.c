/* SPDX-License-Identifier: MIT */
/* kubectl's verbs that change objects: apply, patch (merge and JSON
 * patches), scale, annotate, label, delete. Their output and the kubectl
 * sources it follows: the top of verbs.c. */
#include "verbs.h"

#include <stdlib.h>
#include <string.h>

/* "applied KIND/NAME" in the request log. */
static void log_applied(const struct kind *k, const char *name)
{
	char kn[256];

	kind_print_name(k, kn, sizeof(kn));
	request_log("applied %s/%s\n", kn, name);
}

void verb_apply(struct args *a, const char *input, size_t len, struct out *o)
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

void verb_patch(struct args *a, struct out *o)
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

void verb_scale(struct args *a, struct out *o)
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

void verb_meta(struct args *a, struct out *o, const char *field, const char *op)
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

void verb_delete(struct args *a, struct out *o)
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
