/* SPDX-License-Identifier: MIT */
/* The power cycle's credentials and rights, and what its timer needs of
 * the base (power.h). */
#include "power.h"
#include "ext4.h"
#include "log.h"
#include "personalize.h"
#include "power-identity.h"
#include "secrets.h"

#include <sys/stat.h>

/* Every request an agent's farm-node makes for the power cycle, and the
 * rule that allows it. How kubectl turns each command into requests
 * (kubernetes/kubectl v0.33.9): `taint`, `cordon`, `uncordon` and
 * `annotate` GET the node, then PATCH it (pkg/cmd/taint/taint.go,
 * pkg/drain/cordon.go PatchOrReplaceWithContext, pkg/cmd/annotate); `drain`
 * cordons, LISTs the pods of all namespaces with spec.nodeName=NODE
 * (pkg/drain/drain.go GetPodsForDeletion), GETs the DaemonSet of each
 * DaemonSet pod (pkg/drain/filters.go daemonSetFilter), POSTs an Eviction
 * per pod and GETs each pod until it is gone (evictPods, waitForDelete).
 * Discovery and /readyz are every authenticated user's already
 * (system:discovery, system:public-info-viewer). Nothing here can write
 * anything but the node's own Node object or start a pod; `update` is not
 * granted (kubectl patches; cordon falls back to update only when it
 * cannot compute a patch). */
const struct power_rule power_rules[] = {
	{ "",
	  "nodes",
	  { "get", "list" },
	  false,
	  "read every node's SSH locks and power report, and the control plane's shutdown "
	  "lock (annotations on the Node objects); taint, cordon and annotate GET the node "
	  "first" },
	{ "",
	  "pods",
	  { "get", "list" },
	  false,
	  "drain lists the pods on its node and waits for each evicted one to be gone; startup "
	  "waits for CoreDNS's pods to be Ready" },
	{ "",
	  "pods/eviction",
	  { "create" },
	  false,
	  "drain evicts the pods on its node (PodDisruptionBudgets are honoured)" },
	{ "apps",
	  "daemonsets",
	  { "get" },
	  false,
	  "drain --ignore-daemonsets looks up the DaemonSet of each DaemonSet pod" },
	{ "",
	  "nodes",
	  { "patch" },
	  true,
	  "its own Node only: the dns-unready taint, cordon and uncordon, its SSH locks and "
	  "its power report" },
};
const size_t n_power_rules = ELEMENTSOF(power_rules);

static void rules(FILE *f, bool own_node, const char *node)
{
	fprintf(f, "rules:\n");
	for (size_t i = 0; i < n_power_rules; i++) {
		const struct power_rule *r = &power_rules[i];
		if (r->own_node != own_node)
			continue;
		fprintf(f, "  # %s\n", r->why);
		fprintf(f, "  - apiGroups: [\"%s\"]\n    resources: [\"%s\"]\n", r->group,
			r->resource);
		if (own_node)
			fprintf(f, "    resourceNames: [\"%s\"]\n", node);
		fprintf(f, "    verbs: [");
		for (size_t v = 0; v < ELEMENTSOF(r->verbs) && r->verbs[v]; v++)
			fprintf(f, "%s\"%s\"", v ? ", " : "", r->verbs[v]);
		fprintf(f, "]\n");
	}
}

static void object(FILE *f, const char *kind, const char *name)
{
	fprintf(f,
		"---\napiVersion: rbac.authorization.k8s.io/v1\nkind: %s\nmetadata:\n"
		"  name: \"%s\"\n  labels:\n    app.kubernetes.io/managed-by: farm\n"
		"    app.kubernetes.io/component: power\n",
		kind, name);
}

static void binding(FILE *f, const char *name, const char *subject_kind, const char *subject)
{
	object(f, "ClusterRoleBinding", name);
	fprintf(f,
		"roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n"
		"  name: \"%s\"\nsubjects:\n  - apiGroup: rbac.authorization.k8s.io\n"
		"    kind: %s\n    name: \"%s\"\n",
		name, subject_kind, subject);
}

char *power_rbac_yaml(const struct config *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fprintf(f,
		"# The rights of the agents' power cycle (farm-node shutdown, startup, lock),\n"
		"# written by farm-image for cluster %s and applied by the server's\n"
		"# farm-node. Each agent is user \"" POWER_USER_PREFIX
		"NODE\" in group \"" POWER_GROUP
		"\"\n# (a client certificate of the cluster's client CA in its image).\n",
		c->cluster.name.v);
	object(f, "ClusterRole", "farm-power");
	rules(f, false, NULL);
	binding(f, "farm-power", "Group", POWER_GROUP);
	for (size_t i = 0; i < c->nodes.n; i++) {
		const struct config_node *n = config_node_at(c, i);
		_cleanup_free_ char *user = xasprintf(POWER_USER_PREFIX "%s", n->name.v);
		if (n->role.i == ROLE_SERVER)
			continue;
		object(f, "ClusterRole", user);
		rules(f, true, n->name.v);
		binding(f, user, "User", user);
	}
	fclose(f);
	return buf;
}

char *power_kubeconfig(const struct config *c, const struct config_node *n)
{
	return xasprintf(
		"# farm-node's credentials for the power cycle of node %s: user \"" POWER_USER_PREFIX
		"%s\"\n# in group \"" POWER_GROUP
		"\", whose rights are in the server's /" POWER_RBAC_PATH
		".\n# Written by farm-image.\n"
		"apiVersion: v1\nkind: Config\nclusters:\n  - name: farm\n    cluster:\n"
		"      server: \"https://%s:6443\"\n      certificate-authority: /" POWER_DIR
		"/server-ca.crt\nusers:\n  - name: \"" POWER_USER_PREFIX "%s\"\n    user:\n"
		"      client-certificate: /" POWER_DIR "/client.crt\n      client-key: /" POWER_DIR
		"/client.key\ncontexts:\n  - name: farm-power\n    context:\n      cluster: farm\n"
		"      user: \"" POWER_USER_PREFIX "%s\"\ncurrent-context: farm-power\n",
		n->name.v, n->name.v, c->cluster.api_name.v, n->name.v, n->name.v);
}

void power_plan(struct plan *p, const struct config *c, const struct config_node *n,
		const struct secret_file *key, const struct secret_file *crt,
		const struct secret_file *server_ca)
{
	char *text;

	if (n->role.i == ROLE_SERVER) {
		text = power_rbac_yaml(c);
		plan_add_data(p, POWER_RBAC_PATH, 0644, "farm-image (power-cycle RBAC)", text,
			      strlen(text));
		free(text);
		return;
	}
	if (!key || !crt || !server_ca)
		return;
	plan_add_data(p, POWER_DIR "/client.key", 0600, "secrets (power-cycle key)", key->data,
		      key->size)
		->secret = true;
	plan_add_data(p, POWER_DIR "/client.crt", 0644, "secrets (power-cycle certificate)",
		      crt->data, crt->size);
	plan_add_data(p, POWER_DIR "/server-ca.crt", 0644, "secrets (cluster server CA)",
		      server_ca->data, server_ca->size);
	text = power_kubeconfig(c, n);
	plan_add_data(p, POWER_KUBECONFIG, 0600, "farm-image (power-cycle kubeconfig)", text,
		      strlen(text));
	free(text);
}

int power_check_base(const struct config *c, struct ext4_writer *root, const char *base)
{
	_cleanup_free_ char *path = NULL;
	uint32_t mode;

	/* The power timer's zone: systemd resolves it in the node's own
	 * /usr/share/zoneinfo when it loads the timer (verify_timezone in
	 * src/basic/time-util.c), and a zone it cannot open makes OnCalendar=
	 * unparsable, so the timer never fires. UTC needs no file. */
	if (!c->power.enabled.v || !c->power.shutdown.m.set || !c->power.timezone.m.set ||
	    streq(c->power.timezone.v, "UTC"))
		return 0;
	path = xasprintf("usr/share/zoneinfo/%s", c->power.timezone.v);
	if (ext4_lookup(root, path, &mode) == 0 && (S_ISREG(mode) || S_ISLNK(mode)))
		return 0;
	return log_error("%s: the base has no time zone '%s' (/%s), which the power schedule's "
			 "timer needs: add tzdata to the base (tzdata-legacy for the old names "
			 "such as US/Eastern), or use a name of its zone1970.tab",
			 base, c->power.timezone.v, path);
}
