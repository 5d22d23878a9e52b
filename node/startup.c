/* SPDX-License-Identifier: MIT */
/* farm-node startup, at every boot once the node has joined
 * (powercycle.h; NODE-SPEC.md, "Power cycle", startup):
 *   1. the API answers;
 *   2. uncordon, keeping the dns-unready taint: CoreDNS tolerates the
 *      taint, but nothing schedules onto a cordoned node, CoreDNS
 *      included (configs/stack/coredns.yaml tolerates dns-unready, not
 *      node.kubernetes.io/unschedulable), so the node must take pods again
 *      before CoreDNS can come back; the NoExecute taint still keeps
 *      everything else off (the seed's k3s-post-startup uncordons first,
 *      too);
 *   3. CoreDNS's pods Ready (app.kubernetes.io/name=coredns in
 *      kube-system, the coredns chart's pod label: coredns/helm
 *      coredns-1.43.3, charts/coredns/templates/deployment.yaml), and a
 *      real lookup of kubernetes.default.svc.cluster.local at CoreDNS's
 *      service address answers;
 *   4. the taint goes: the node takes everything again;
 *   5. the control plane: Rook-Ceph healthy (when installed), the
 *      CloudNativePG clusters it hibernated woken, the recorded replicas
 *      restored (databases, apps, then Argo CD's application controller
 *      last, so that it finds everything as it was), the shutdown lock
 *      removed.
 * Steps 2 to 4 only when the node carries the taint (a boot that followed
 * no shutdown of the power cycle leaves the node, and an operator's
 * cordon, alone). Each wait is bounded (node.yaml power startup-wait) and
 * says what it waits for; a failure fails the unit, and `systemctl restart
 * farm-startup` (or the next boot) runs it again, which is harmless. */
#include "dns.h"
#include "fileio.h"
#include "jsonq.h"
#include "log.h"
#include "powercycle.h"
#include "steps.h"
#include "wait.h"
#include "workloads.h"

#define DNS_PROBE    "kubernetes.default.svc.cluster.local"
#define COREDNS_PODS "app.kubernetes.io/name=coredns"

/* Repeats F (which returns a class and fills SAID) while the API does not
 * answer, within the startup's bound. Returns 0, or -errno after
 * printing. */
static int with_retry(struct farm_node *n, const char *what,
		      enum cl_class (*f)(struct farm_node *, struct cluster *, char *, size_t),
		      struct cluster *c)
{
	struct waiter w;
	char said[512];

	waiter_init(&w, what, (unsigned)n->conf.power.startup_wait.v);
	waiter_progress(&w, n->state, "startup");
	for (;;) {
		enum cl_class cls = f(n, c, said, sizeof(said));
		if (cls == CL_OK)
			return 0;
		if (cls != CL_UNREACHABLE && cls != CL_TIMEOUT)
			return log_error("Startup: cannot %s (%s): %s", what, cl_class_name(cls),
					 said);
		if (!waiter_again(&w, said))
			return log_error("Startup: gave up after %u s trying to %s: %s",
					 waiter_elapsed(&w), what, said);
	}
}

static enum cl_class api_ready(struct farm_node *n, struct cluster *c, char *said, size_t len)
{
	struct kubectl k;
	enum cl_class cls = cluster_get_raw(c, "/readyz", &k);

	kubectl_said(&k, said, len);
	kubectl_free(&k);
	return cls;
}

static enum cl_class uncordon(struct farm_node *n, struct cluster *c, char *said, size_t len)
{
	struct kubectl k;
	enum cl_class cls = cluster_cordon(c, n->conf.node.v, false, &k);

	kubectl_said(&k, said, len);
	kubectl_free(&k);
	return cls;
}

/* CL_OK once a CoreDNS pod is Ready; CL_UNREACHABLE (retried) until. */
static enum cl_class coredns_ready(struct farm_node *n, struct cluster *c, char *said, size_t len)
{
	const char *args[] = { "get",	     "pods", "-n",   "kube-system", "-l",
			       COREDNS_PODS, "-o",   "json", NULL };
	struct kubectl k;
	enum cl_class cls = cluster_kubectl(c, args, NULL, 0, &k);
	json_object *l = cls == CL_OK ? json_tokener_parse(k.out) : NULL;
	json_object *items = jget(l, "items", NULL);
	size_t pods = 0, ready = 0;

	kubectl_said(&k, said, len);
	kubectl_free(&k);
	if (cls == CL_OK && !items)
		cls = CL_FAILED;
	for (size_t i = 0; items && i < json_object_array_length(items); i++) {
		json_object *conds =
			jget(json_object_array_get_idx(items, i), "status", "conditions", NULL);
		pods++;
		for (size_t j = 0; conds && j < json_object_array_length(conds); j++) {
			json_object *cd = json_object_array_get_idx(conds, j);
			const char *t = jstr(cd, "type", NULL), *s = jstr(cd, "status", NULL);
			if (t && s && streq(t, "Ready") && streq(s, "True"))
				ready++;
		}
	}
	json_object_put(l);
	if (cls == CL_OK && !ready) {
		snprintf(said, len, "%zu CoreDNS pod(s), none Ready", pods);
		cls = CL_UNREACHABLE; /* not yet: wait on */
	}
	return cls;
}

static int dns_answers(struct farm_node *n)
{
	const char *server = n->conf.cluster_dns.v;
	_cleanup_free_ char *what = NULL;
	struct waiter w;
	char said[512];

	if (!server)
		return log_error("node.yaml names no cluster-dns: the startup cannot check the "
				 "cluster's DNS; rebuild the node's image");
	what = xasprintf("a lookup of " DNS_PROBE " at %s to answer", server);
	waiter_init(&w, what, (unsigned)n->conf.power.startup_wait.v);
	waiter_progress(&w, n->state, "startup");
	for (;;) {
		int r = dns_lookup(server, DNS_PROBE, said, sizeof(said));
		if (r == 0)
			return 0;
		if (r == -EINVAL)
			return log_error("node.yaml cluster-dns: %s", said);
		if (!waiter_again(&w, said))
			return log_error("Startup: gave up after %u s waiting for %s: %s",
					 waiter_elapsed(&w), what, said);
	}
}

/* Whether this node carries the dns-unready taint: *HAS. */
static enum cl_class has_taint(struct farm_node *n, struct cluster *c, bool *has, char *said,
			       size_t len)
{
	_cleanup_free_ char *obj = xasprintf("node/%s", n->conf.node.v);
	json_object *node = NULL, *taints;
	struct kubectl k;
	enum cl_class cls = cluster_get_json(c, obj, NULL, &node, &k);

	kubectl_said(&k, said, len);
	kubectl_free(&k);
	*has = false;
	if (cls != CL_OK)
		return cls;
	taints = jget(node, "spec", "taints", NULL);
	for (size_t i = 0; taints && i < json_object_array_length(taints); i++) {
		const char *key = jstr(json_object_array_get_idx(taints, i), "key", NULL);
		*has |= key && streq(key, POWER_TAINT_KEY);
	}
	json_object_put(node);
	return CL_OK;
}

/* The API answers, and whether the node came back from the power cycle's
 * shutdown (it carries the taint), into tainted. */
static bool tainted;
static enum cl_class api_and_taint(struct farm_node *n, struct cluster *c, char *said, size_t len)
{
	return has_taint(n, c, &tainted, said, len);
}

/* Removes the dns-unready taint when the node has it. */
static enum cl_class untaint(struct farm_node *n, struct cluster *c, char *said, size_t len)
{
	struct kubectl k;
	bool has;
	enum cl_class cls = has_taint(n, c, &has, said, len);

	if (cls != CL_OK || !has)
		return cls;
	cls = cluster_taint(c, n->conf.node.v, POWER_TAINT_KEY ":NoExecute-", &k);
	kubectl_said(&k, said, len);
	kubectl_free(&k);
	return cls;
}

/* Removes the control plane's shutdown lock: every lock is older than
 * this boot. */
static enum cl_class unlock_cluster(struct farm_node *n, struct cluster *c, char *said, size_t len)
{
	_cleanup_free_ char *obj = xasprintf("node/%s", n->conf.node.v);
	struct kubectl k;
	enum cl_class cls = cluster_annotate(c, obj, NULL, POWER_ANN_SHUTDOWN_LOCK, NULL, &k);

	kubectl_said(&k, said, len);
	kubectl_free(&k);
	return cls;
}

int power_restore(struct farm_node *n, struct cluster *c, const char *why, char *summary,
		  size_t len)
{
	char d[4][256];
	int r, e;

	log_info("Restoring what the shutdown scaled down (%s)", why);
	d[0][0] = d[1][0] = d[2][0] = d[3][0] = 0;
	/* Each part whatever became of the one before: an error in one
	 * leaves no other scaled down. The databases before the apps, Argo CD
	 * last (it would otherwise reconcile what is not back yet). */
	r = cnpg_wake(n, c, d[0], sizeof(d[0]));
	e = workloads_restore(n, c, SET_DBS, d[1], sizeof(d[1]));
	r = r < 0 ? r : e;
	e = workloads_restore(n, c, SET_APPS, d[2], sizeof(d[2]));
	r = r < 0 ? r : e;
	e = workloads_restore(n, c, SET_ARGOCD, d[3], sizeof(d[3]));
	r = r < 0 ? r : e;
	if (summary)
		snprintf(summary, len, "%s; %s; %s; %s", d[0], d[1], d[2], d[3]);
	return r;
}

int power_startup(struct farm_node *n)
{
	struct cluster c;
	char detail[1400], restored[900] = "", ceph[256] = "", boot[64];
	bool server = n->conf.role.i == ROLE_SERVER;
	int r;

	power_cluster(n, &c);
	journal_progress(n->state, "startup", PROGRESS_RUNNING, "starting");
	r = with_retry(n, "reach the API", api_ready, &c);
	if (r >= 0)
		r = with_retry(n, "read this node's taints", api_and_taint, &c);
	/* Without the taint this boot follows no shutdown of the power
	 * cycle (or its startup got past the taint already): nothing on this
	 * node to bring back, and a cordon is the operator's. */
	if (r >= 0 && !tainted)
		log_info("Node %s has no %s taint: nothing to bring back on it", n->conf.node.v,
			 POWER_TAINT_KEY);
	if (r >= 0 && tainted)
		r = with_retry(n, "uncordon this node", uncordon, &c);
	if (r >= 0 && tainted)
		r = with_retry(n, "see CoreDNS Ready", coredns_ready, &c);
	if (r >= 0 && tainted)
		r = dns_answers(n);
	if (r >= 0 && tainted)
		r = with_retry(n, "remove this node's " POWER_TAINT_KEY " taint", untaint, &c);
	if (r >= 0 && server) {
		r = ceph_healthy(n, &c, ceph, sizeof(ceph));
		if (r >= 0)
			log_info("%s", ceph);
		if (r >= 0)
			r = power_restore(n, &c, "startup", restored, sizeof(restored));
		if (r >= 0)
			r = with_retry(n, "remove the cluster's shutdown lock", unlock_cluster, &c);
	}
	if (r >= 0) {
		/* This node's own locks whose sessions ended with the last
		 * boot; on the control plane, anyone's expired ones. */
		struct lock_info *locks = NULL;
		size_t nl = 0;
		power_find_locks(n, &c, &locks, &nl);
		free(locks);
	}
	cluster_free(&c);
	if (r < 0) {
		journal_progress(n->state, "startup", PROGRESS_FAILED,
				 "failed (see the journal); 'systemctl restart farm-startup' runs it "
				 "again");
		return 1;
	}
	power_boot_id(n, boot, sizeof(boot));
	snprintf(detail, sizeof(detail), "%s%s%s%s%s",
		 tainted ? "DNS answers, taint removed, uncordoned"
			 : "not tainted: nothing to bring back",
		 server ? "; " : "", ceph, server ? "; " : "", restored);
	r = journal_write(n->state, "power", "startup", boot, detail);
	if (r < 0)
		log_warning_errno(r, "Cannot record the startup: %m");
	journal_progress_clear(n->state, "startup");
	power_shutdown_finished(n, "the startup after it ran");
	log_notice("Startup done: %s", detail);
	return 0;
}
