/* SPDX-License-Identifier: MIT */
/* kubectl's verbs of nodes: cordon, uncordon, drain, taint. Their output
 * and the kubectl sources it follows: the top of verbs.c and the
 * comments below. */
#include "verbs.h"

#include <string.h>

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

void verb_cordon(struct args *a, struct out *o, bool on, bool quiet_already)
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

void verb_drain(struct args *a, struct out *o)
{
	const struct kind *pk = kind_by_word("pod");
	size_t n;
	json_object **pods;

	verb_cordon(a, o, true, false);
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

void verb_taint(struct args *a, struct out *o)
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
