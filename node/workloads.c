/* SPDX-License-Identifier: MIT */
/* The workloads of the power cycle (workloads.h). */
#include "workloads.h"
#include "jsonq.h"
#include "log.h"
#include "wait.h"

static const char *const set_selector[] = {
	[SET_ARGOCD] = "app.kubernetes.io/name=argocd-application-controller",
	[SET_APPS] = "storage=rook-ceph,shutdown=app",
	[SET_DBS] = "storage=rook-ceph,shutdown=db",
};
static const char *const set_name[] = {
	[SET_ARGOCD] = "Argo CD's application controller",
	[SET_APPS] = "the storage apps (storage=rook-ceph,shutdown=app)",
	[SET_DBS] = "the storage databases (storage=rook-ceph,shutdown=db)",
};
static const char *const workload_kinds[] = { "deployments", "statefulsets" };

/* `get KIND [-A | -n NS] [-l SEL] -o json`: the items array (a new
 * reference in *ITEMS), or the class of the failure with SAID. */
static enum cl_class list(struct cluster *c, const char *kind, const char *ns, const char *sel,
			  json_object **items, char *said, size_t len)
{
	const char *args[10] = { "get", kind, "-o", "json" };
	size_t i = 4;
	struct kubectl k;
	json_object *l = NULL;
	enum cl_class cls;

	if (ns) {
		args[i++] = "-n";
		args[i++] = ns;
	} else
		args[i++] = "-A";
	if (sel) {
		args[i++] = "-l";
		args[i++] = sel;
	}
	args[i] = NULL;
	*items = NULL;
	cls = cluster_kubectl(c, args, NULL, 0, &k);
	kubectl_said(&k, said, len);
	if (cls == CL_OK && (!(l = json_tokener_parse(k.out)) || !jget(l, "items", NULL) ||
			     !json_object_is_type(jget(l, "items", NULL), json_type_array))) {
		snprintf(said, len, "kubectl get %s printed no list", kind);
		cls = CL_FAILED;
	}
	kubectl_free(&k);
	if (cls == CL_OK)
		*items = json_object_get(jget(l, "items", NULL));
	json_object_put(l);
	return cls;
}

/* "app=a,b=c" of a workload's spec.selector.matchLabels, or NULL. */
static char *match_labels(json_object *w)
{
	json_object *m = jget(w, "spec", "selector", "matchLabels", NULL);
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	if (!m || !json_object_is_type(m, json_type_object) || !json_object_object_length(m))
		return NULL;
	f = open_memstream(&out, &len);
	{
		bool first = true;
		json_object_object_foreach(m, key, val)
		{
			fprintf(f, "%s%s=%s", first ? "" : ",", key, json_object_get_string(val));
			first = false;
		}
	}
	fclose(f);
	return out;
}

/* Waits until no pod matches SEL in NS. */
static int pods_gone(struct farm_node *n, struct cluster *c, const char *ns, const char *sel,
		     const char *what)
{
	_cleanup_free_ char *w = xasprintf("the pods of %s to go", what);
	struct waiter wt;
	char said[512];

	waiter_init(&wt, w, (unsigned)n->conf.power.scale_wait.v);
	waiter_progress(&wt, n->state, "shutdown");
	for (;;) {
		json_object *items = NULL;
		enum cl_class cls = list(c, "pods", ns, sel, &items, said, sizeof(said));
		size_t left = items ? json_object_array_length(items) : 0;
		json_object_put(items);
		if (cls == CL_OK && left == 0)
			return 0;
		if (cls == CL_REFUSED || cls == CL_FAILED || cls == CL_NOT_FOUND)
			return log_error("Cannot see whether the pods of %s are gone: %s", what,
					 said);
		if (cls == CL_OK)
			snprintf(said, sizeof(said), "%zu pod(s) still there", left);
		if (!waiter_again(&wt, said))
			return log_error("Gave up after %u s waiting for %s: %s",
					 waiter_elapsed(&wt), w, said);
	}
}

/* One workload of a set, as each_workload hands it over. */
struct workload {
	json_object *json;
	const char *ns, *name;
	const char *record; /* the POWER_ANN_REPLICAS annotation, or NULL */
	char *obj;	    /* "deployment/NAME", "statefulset/NAME" */
};

typedef int (*workload_fn)(struct farm_node *n, struct cluster *c, const struct workload *w,
			   void *ctx);

/* Calls FN for each workload of SET, every kind, in the API's order; stops
 * at the first FN that returns < 0, and returns that. A list the API does
 * not give is an error: never read as "none". */
static int each_workload(struct farm_node *n, struct cluster *c, enum workload_set set,
			 workload_fn fn, void *ctx)
{
	char said[512];

	for (size_t kk = 0; kk < ELEMENTSOF(workload_kinds); kk++) {
		json_object *items = NULL;
		enum cl_class cls = list(c, workload_kinds[kk], NULL, set_selector[set], &items,
					 said, sizeof(said));
		int r = 0;
		if (cls != CL_OK)
			return log_error("Cannot list %s (%s): %s", set_name[set],
					 cl_class_name(cls), said);
		for (size_t i = 0; r >= 0 && i < json_object_array_length(items); i++) {
			json_object *j = json_object_array_get_idx(items, i);
			struct workload w = {
				.json = j,
				.ns = jstr(j, "metadata", "namespace", NULL),
				.name = jstr(j, "metadata", "name", NULL),
				.record = jstr(j, "metadata", "annotations", POWER_ANN_REPLICAS,
					       NULL),
			};
			if (!w.ns || !w.name)
				continue;
			w.obj = xasprintf("%.*s/%s", (int)strlen(workload_kinds[kk]) - 1,
					  workload_kinds[kk], w.name);
			r = fn(n, c, &w, ctx);
			free(w.obj);
		}
		json_object_put(items);
		if (r < 0)
			return r;
	}
	return 0;
}

struct stop_count {
	unsigned found, scaled;
};

/* Records W's replicas, scales it to 0 and waits for its pods to go. */
static int stop_one(struct farm_node *n, struct cluster *c, const struct workload *w, void *ctx)
{
	struct stop_count *sc = ctx;
	json_object *rj = jget(w->json, "spec", "replicas", NULL);
	int replicas = rj ? json_object_get_int(rj) : 1;
	_cleanup_free_ char *what = xasprintf("%s/%s", w->ns, w->obj);
	_cleanup_free_ char *sel = match_labels(w->json);
	const char *rec = w->record;
	struct kubectl k;
	char said[512];
	enum cl_class cls;

	sc->found++;
	/* Record first, then scale: a cut between the two leaves a record
	 * and the replicas, which the next run scales. */
	if (!rec && replicas > 0) {
		char v[16];
		snprintf(v, sizeof(v), "%d", replicas);
		cls = cluster_annotate(c, w->obj, w->ns, POWER_ANN_REPLICAS, v, &k);
		kubectl_said(&k, said, sizeof(said));
		kubectl_free(&k);
		if (cls != CL_OK)
			return log_error("Cannot record the replicas of %s (%s): %s; nothing of it is "
					 "scaled",
					 what, cl_class_name(cls), said);
		rec = "";
	}
	if (!rec)
		return 0; /* at 0 already, by the user: left as it is */
	if (replicas != 0) {
		cls = cluster_scale(c, w->obj, w->ns, 0, &k);
		kubectl_said(&k, said, sizeof(said));
		kubectl_free(&k);
		if (cls != CL_OK)
			return log_error("Cannot scale %s to 0 (%s): %s", what, cl_class_name(cls),
					 said);
		log_info("Scaled %s to 0 (it had %d)", what, replicas);
	}
	sc->scaled++;
	if (sel && pods_gone(n, c, w->ns, sel, what) < 0)
		return -ETIMEDOUT;
	return 0;
}

int workloads_stop(struct farm_node *n, struct cluster *c, enum workload_set set, char *detail,
		   size_t len)
{
	struct stop_count sc = { 0 };
	int r = each_workload(n, c, set, stop_one, &sc);

	if (r < 0)
		return r;
	if (!sc.found)
		snprintf(detail, len, "%s: none in this cluster", set_name[set]);
	else
		snprintf(detail, len, "%s: %u scaled to 0, their pods gone", set_name[set],
			 sc.scaled);
	return 0;
}

struct restore_count {
	unsigned restored, failed;
	int ret;
};

/* Scales W back to its recorded replicas and drops the record. A failure
 * is logged and counted, and the others go on. */
static int restore_one(struct farm_node *n, struct cluster *c, const struct workload *w, void *ctx)
{
	struct restore_count *rc = ctx;
	json_object *rj = jget(w->json, "spec", "replicas", NULL);
	struct kubectl k;
	enum cl_class cls;
	char said[512], *end;
	long want;

	(void)n;
	if (!w->record)
		return 0;
	want = strtol(w->record, &end, 10);
	if (*end || end == w->record || want < 1 || want > 10000) {
		log_warning("%s/%s: its record %s=\"%s\" is not a replica count; left as it is",
			    w->ns, w->obj, POWER_ANN_REPLICAS, w->record);
		return 0;
	}
	/* Never scaled down (a cut between the record and the scale, or a
	 * refused scale): only the record goes. */
	if (rj && json_object_get_int64(rj) == want)
		cls = CL_OK;
	else {
		cls = cluster_scale(c, w->obj, w->ns, (unsigned)want, &k);
		kubectl_said(&k, said, sizeof(said));
		kubectl_free(&k);
	}
	if (cls == CL_OK) {
		/* Dropped only once the count is back: a cut in between scales
		 * it again, to the same count. */
		cls = cluster_annotate(c, w->obj, w->ns, POWER_ANN_REPLICAS, NULL, &k);
		kubectl_said(&k, said, sizeof(said));
		kubectl_free(&k);
	}
	if (cls != CL_OK) {
		/* The others are restored all the same; the record stays for
		 * the next run. */
		rc->ret = log_error("Cannot restore %s/%s to %ld replicas (%s): %s; the next "
				    "startup tries again",
				    w->ns, w->obj, want, cl_class_name(cls), said);
		rc->failed++;
		return 0;
	}
	log_info("Restored %s/%s to %ld replicas", w->ns, w->obj, want);
	rc->restored++;
	return 0;
}

int workloads_restore(struct farm_node *n, struct cluster *c, enum workload_set set, char *detail,
		      size_t len)
{
	struct restore_count rc = { 0 };
	int r = each_workload(n, c, set, restore_one, &rc);

	if (r < 0)
		return r;
	snprintf(detail, len, "%s: %u restored%s", set_name[set], rc.restored,
		 rc.failed ? ", some not (see the log)" : "");
	return rc.ret;
}

/* Whether the CRD NAME exists: 1, 0, or -errno after printing. */
static int have_crd(struct cluster *c, const char *name, const char *what)
{
	_cleanup_free_ char *obj = xasprintf("crd/%s", name);
	struct kubectl k;
	char said[512];
	enum cl_class cls = cluster_jsonpath(c, obj, NULL, "{.metadata.name}", &k);

	kubectl_said(&k, said, sizeof(said));
	kubectl_free(&k);
	if (cls == CL_OK)
		return 1;
	if (cls == CL_NOT_FOUND)
		return 0;
	return log_error("Cannot tell whether %s is installed (%s): %s", what, cl_class_name(cls),
			 said);
}

#define CNPG_CRD	 "clusters.postgresql.cnpg.io"
#define CNPG_HIBERNATION "cnpg.io/hibernation"

/* `annotate --overwrite cluster.postgresql.cnpg.io/NAME -n NS A B`. */
static enum cl_class annotate2(struct cluster *c, const char *name, const char *ns, const char *a,
			       const char *b, char *said, size_t len)
{
	_cleanup_free_ char *obj = xasprintf(CNPG_CRD "/%s", name);
	const char *args[] = { "annotate", "--overwrite", obj, a, b, "-n", ns, NULL };
	struct kubectl k;
	enum cl_class cls = cluster_kubectl(c, args, NULL, 0, &k);

	kubectl_said(&k, said, len);
	kubectl_free(&k);
	return cls;
}

/* The CloudNativePG clusters into *ITEMS (caller puts): 1, or 0 without
 * CloudNativePG (DETAIL says so), or -errno after printing. */
static int cnpg_clusters(struct cluster *c, json_object **items, char *detail, size_t len)
{
	char said[512];
	int r = have_crd(c, CNPG_CRD, "CloudNativePG");
	enum cl_class cls;

	*items = NULL;
	if (r <= 0) {
		if (r == 0)
			snprintf(detail, len, "CloudNativePG: not installed");
		return r;
	}
	cls = list(c, CNPG_CRD, NULL, NULL, items, said, sizeof(said));
	if (cls != CL_OK)
		return log_error("Cannot list the CloudNativePG clusters (%s): %s",
				 cl_class_name(cls), said);
	return 1;
}

int cnpg_hibernate(struct farm_node *n, struct cluster *c, char *detail, size_t len)
{
	json_object *items = NULL;
	unsigned done = 0, theirs = 0;
	char said[512];
	int r = cnpg_clusters(c, &items, detail, len);
	enum cl_class cls;

	if (r <= 0)
		return r;
	r = 0;
	for (size_t i = 0; i < json_object_array_length(items) && r >= 0; i++) {
		json_object *cl = json_object_array_get_idx(items, i);
		const char *ns = jstr(cl, "metadata", "namespace", NULL);
		const char *name = jstr(cl, "metadata", "name", NULL);
		const char *h = jstr(cl, "metadata", "annotations", CNPG_HIBERNATION, NULL);
		const char *mine = jstr(cl, "metadata", "annotations", POWER_ANN_HIBERNATED, NULL);
		_cleanup_free_ char *sel = NULL, *what = NULL;
		if (!ns || !name)
			continue;
		if (h && streq(h, "on") && !mine) {
			theirs++; /* hibernated by the user: theirs to wake */
			continue;
		}
		/* The mark and the hibernation in one request. */
		cls = annotate2(c, name, ns, POWER_ANN_HIBERNATED "=true", CNPG_HIBERNATION "=on",
				said, sizeof(said));
		if (cls != CL_OK) {
			r = log_error("Cannot hibernate the CloudNativePG cluster %s/%s (%s): %s",
				      ns, name, cl_class_name(cls), said);
			break;
		}
		log_info("Hibernating the CloudNativePG cluster %s/%s", ns, name);
		sel = xasprintf("cnpg.io/cluster=%s", name);
		what = xasprintf("the CloudNativePG cluster %s/%s", ns, name);
		r = pods_gone(n, c, ns, sel, what);
		done++;
	}
	json_object_put(items);
	if (r >= 0)
		snprintf(detail, len, "CloudNativePG: %u cluster(s) hibernated%s", done,
			 theirs ? " (and some the user had hibernated, left so)" : "");
	return MIN(r, 0);
}

int cnpg_wake(struct farm_node *n, struct cluster *c, char *detail, size_t len)
{
	json_object *items = NULL;
	unsigned woke = 0, failed = 0;
	char said[512];
	int r = cnpg_clusters(c, &items, detail, len);
	enum cl_class cls;

	if (r <= 0)
		return r;
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *cl = json_object_array_get_idx(items, i);
		const char *ns = jstr(cl, "metadata", "namespace", NULL);
		const char *name = jstr(cl, "metadata", "name", NULL);
		if (!ns || !name ||
		    !jstr(cl, "metadata", "annotations", POWER_ANN_HIBERNATED, NULL))
			continue;
		cls = annotate2(c, name, ns, CNPG_HIBERNATION "=off", POWER_ANN_HIBERNATED "-",
				said, sizeof(said));
		/* One that cannot be woken does not keep the others asleep:
		 * each is tried, as the restore tries each workload. */
		if (cls != CL_OK) {
			r = log_error("Cannot end the hibernation of %s/%s (%s): %s; the next startup "
				      "tries again",
				      ns, name, cl_class_name(cls), said);
			failed++;
			continue;
		}
		log_info("Ended the hibernation of the CloudNativePG cluster %s/%s", ns, name);
		woke++;
	}
	json_object_put(items);
	snprintf(detail, len, "CloudNativePG: %u cluster(s) woken%s", woke,
		 failed ? ", some not (see the log)" : "");
	return failed ? r : 0;
}

/* Whether ATTACHER is one of Rook-Ceph's CSI drivers
 * (NAMESPACE.rbd.csi.ceph.com, NAMESPACE.cephfs.csi.ceph.com). */
static bool ceph_attacher(const char *a)
{
	size_t n = a ? strlen(a) : 0, s = strlen(".csi.ceph.com");

	return n > s && streq(a + n - s, ".csi.ceph.com");
}

int ceph_detached(struct farm_node *n, struct cluster *c, char *detail, size_t len)
{
	struct waiter w;
	char said[512];

	waiter_init(&w, "the Ceph volumes to be detached", (unsigned)n->conf.power.scale_wait.v);
	waiter_progress(&w, n->state, "shutdown");
	for (;;) {
		json_object *items = NULL;
		unsigned left = 0;
		const char *args[] = { "get", "volumeattachments", "-o", "json", NULL };
		struct kubectl k;
		enum cl_class cls = cluster_kubectl(c, args, NULL, 0, &k);
		json_object *l = cls == CL_OK ? json_tokener_parse(k.out) : NULL;
		kubectl_said(&k, said, sizeof(said));
		kubectl_free(&k);
		items = jget(l, "items", NULL);
		if (cls == CL_OK && !items)
			cls = CL_FAILED;
		for (size_t i = 0; items && i < json_object_array_length(items); i++)
			left += ceph_attacher(jstr(json_object_array_get_idx(items, i), "spec",
						   "attacher", NULL));
		json_object_put(l);
		if (cls == CL_OK && !left) {
			snprintf(detail, len, "no Ceph volume attached");
			return 0;
		}
		if (cls != CL_OK && cls != CL_UNREACHABLE)
			return log_error("Cannot see the volume attachments (%s): %s",
					 cl_class_name(cls), said);
		if (cls == CL_OK)
			snprintf(said, sizeof(said), "%u Ceph volume attachment(s) left", left);
		if (!waiter_again(&w, said))
			return log_error("Gave up after %u s waiting for the Ceph volumes to be "
					 "detached: %s",
					 waiter_elapsed(&w), said);
	}
}

int ceph_healthy(struct farm_node *n, struct cluster *c, char *detail, size_t len)
{
	struct waiter w;
	char said[512];
	int r = have_crd(c, "cephclusters.ceph.rook.io", "Rook-Ceph");

	if (r <= 0) {
		if (r == 0)
			snprintf(detail, len, "Rook-Ceph: not installed");
		return r;
	}
	waiter_init(&w, "Rook-Ceph to be healthy", (unsigned)n->conf.power.startup_wait.v);
	waiter_progress(&w, n->state, "startup");
	for (;;) {
		json_object *items = NULL;
		unsigned bad = 0, total = 0;
		enum cl_class cls = list(c, "cephclusters.ceph.rook.io", NULL, NULL, &items, said,
					 sizeof(said));
		char first[300] = "";
		for (size_t i = 0; items && i < json_object_array_length(items); i++) {
			json_object *cc = json_object_array_get_idx(items, i);
			const char *h = jstr(cc, "status", "ceph", "health", NULL);
			total++;
			if (!h || (!streq(h, "HEALTH_OK") && !streq(h, "HEALTH_WARN"))) {
				if (!bad++)
					snprintf(first, sizeof(first), "%s/%s is %s",
						 jstr(cc, "metadata", "namespace", NULL),
						 jstr(cc, "metadata", "name", NULL),
						 h ? h : "not reporting");
			}
		}
		json_object_put(items);
		if (cls == CL_OK && !bad) {
			snprintf(detail, len, "Rook-Ceph: %u cluster(s) healthy", total);
			return 0;
		}
		if (cls != CL_OK && cls != CL_UNREACHABLE)
			return log_error("Cannot see Rook-Ceph's health (%s): %s",
					 cl_class_name(cls), said);
		if (cls == CL_OK)
			snprintf(said, sizeof(said), "%s", first);
		if (!waiter_again(&w, said))
			return log_error("Gave up after %u s waiting for Rook-Ceph to be healthy (%s): "
					 "what stores data on it stays scaled down",
					 waiter_elapsed(&w), said);
	}
}
