/* SPDX-License-Identifier: MIT */
#include "stack.h"
#include "cluster.h"
#include "fileio.h"
#include "jsonq.h"
#include "log.h"
#include "steps.h"
#include "wait.h"

#include <stdarg.h>

/* helm-controller's annotation on the install Job's pod template
 * (pkg/controllers/chart/chart.go: Annotation, hashObjects). */
#define CONFIG_HASH_ANNOTATION "helmcharts.helm.cattle.io/configHash"
/* The largest manifest farm-node reads (a chart is embedded in it). */
#define MAX_MANIFEST (8 * MiB)

int stack_plan_load(const struct farm_node *n, struct stack_plan *p)
{
	_cleanup_free_ char *path = node_path(n, STACK_PLAN);

	return stack_plan_read(path, p);
}

/* One component being installed. */
struct install {
	struct farm_node *n;
	const struct stack_item *it;
	struct waiter w;    /* the component's deadline */
	char failure[1024]; /* set when the run must stop */
};

static int fail(struct install *in, const char *fmt, ...) _printf_(2, 3);
static int fail(struct install *in, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(in->failure, sizeof(in->failure), fmt, ap);
	va_end(ap);
	return -EIO;
}

/* Out of time while waiting for WHAT. */
static int timed_out(struct install *in, const char *what)
{
	return fail(in, "timed out after %u s waiting for %s; last seen: %s",
		    waiter_elapsed(&in->w), what, in->w.last[0] ? in->w.last : "nothing");
}

/* The condition TYPE of OBJ whose status is "True", or NULL. */
static json_object *true_condition(json_object *obj, const char *type)
{
	json_object *conds = jget(obj, "status", "conditions", NULL);

	for (size_t i = 0; conds && i < json_object_array_length(conds); i++) {
		json_object *c = json_object_array_get_idx(conds, i);
		const char *t = jstr(c, "type", NULL), *s = jstr(c, "status", NULL);
		if (t && s && streq(t, type) && streq(s, "True"))
			return c;
	}
	return NULL;
}

/* What the first pod of the install Job shows: a container waiting
 * (CrashLoopBackOff, ImagePullBackOff, with its message) or the last
 * termination (exit code and message). */
static void job_pod_state(struct install *in, const char *job, char *buf, size_t len)
{
	_cleanup_free_ char *sel = xasprintf("job-name=%s", job);
	json_object *list = NULL, *items;
	struct kubectl k;

	buf[0] = 0;
	if (cluster_list_json(in->n->cluster, "pods", STACK_CHART_NAMESPACE, sel, &list, &k) !=
	    CL_OK) {
		kubectl_free(&k);
		return;
	}
	kubectl_free(&k);
	items = jget(list, "items", NULL);
	for (size_t i = 0; i < json_object_array_length(items) && !buf[0]; i++) {
		json_object *pod = json_object_array_get_idx(items, i);
		json_object *cs = jget(pod, "status", "containerStatuses", NULL);
		const char *pname = jstr(pod, "metadata", "name", NULL);
		for (size_t c = 0; cs && c < json_object_array_length(cs) && !buf[0]; c++) {
			json_object *st = json_object_array_get_idx(cs, c);
			json_object *wt = jget(st, "state", "waiting", NULL);
			json_object *term = jget(st, "lastState", "terminated", NULL);
			if (!term)
				term = jget(st, "state", "terminated", NULL);
			if (wt)
				snprintf(buf, len, "pod %s waiting: %s%s%.300s",
					 pname ? pname : "?",
					 jstr(wt, "reason", NULL) ? jstr(wt, "reason", NULL) : "?",
					 jstr(wt, "message", NULL) ? ": " : "",
					 jstr(wt, "message", NULL) ? jstr(wt, "message", NULL)
								   : "");
			else if (term)
				snprintf(buf, len, "pod %s exited with %d%s%.300s",
					 pname ? pname : "?",
					 json_object_get_int(jget(term, "exitCode", NULL)),
					 jstr(term, "message", NULL) ? ": " : "",
					 jstr(term, "message", NULL) ? jstr(term, "message", NULL)
								     : "");
		}
		if (!buf[0]) {
			const char *phase = jstr(pod, "status", "phase", NULL);
			snprintf(buf, len, "pod %s %s", pname ? pname : "?",
				 phase ? phase : "pending");
		}
	}
	json_object_put(list);
}

/* Waits for the Job helm-install-CHART made from this version of the
 * HelmChart to complete. */
static int wait_install_job(struct install *in)
{
	const struct stack_item *it = in->it;
	_cleanup_free_ char *job = xasprintf("helm-install-%s", it->chart.v);
	_cleanup_free_ char *obj = xasprintf("job/%s", job);
	_cleanup_free_ char *what = xasprintf("Job %s/%s (helm-controller's install of the chart) "
					      "to complete",
					      STACK_CHART_NAMESPACE, job);
	char seen[1024], said[512];

	for (;;) {
		json_object *o = NULL, *failed;
		struct kubectl k;
		enum cl_class cls =
			cluster_get_json(in->n->cluster, obj, STACK_CHART_NAMESPACE, &o, &k);
		const char *hash;

		kubectl_said(&k, said, sizeof(said));
		kubectl_free(&k);
		if (cls == CL_REFUSED || cls == CL_FAILED)
			return fail(in, "cannot read Job %s: %s", job, said);
		if (cls == CL_NOT_FOUND)
			snprintf(seen, sizeof(seen), "the Job does not exist yet");
		else if (cls != CL_OK)
			snprintf(seen, sizeof(seen), "%s", said);
		else if (!(hash = jstr(o, "spec", "template", "metadata", "annotations",
				       CONFIG_HASH_ANNOTATION, NULL)) ||
			 !streq(hash, it->job_hash.v))
			snprintf(seen, sizeof(seen),
				 "the Job is another version's (configHash %s, this one's %s): "
				 "helm-controller has not replaced it yet",
				 hash ? hash : "none", it->job_hash.v);
		else if (true_condition(o, "Complete")) {
			json_object_put(o);
			return 0;
		} else if ((failed = true_condition(o, "Failed"))) {
			char pod[512];
			job_pod_state(in, job, pod, sizeof(pod));
			snprintf(seen, sizeof(seen), "%s%s%s%s%s",
				 jstr(failed, "reason", NULL) ? jstr(failed, "reason", NULL)
							      : "Failed",
				 jstr(failed, "message", NULL) ? ": " : "",
				 jstr(failed, "message", NULL) ? jstr(failed, "message", NULL) : "",
				 pod[0] ? "; " : "", pod);
			json_object_put(o);
			return fail(in, "the install Job %s/%s failed: %s", STACK_CHART_NAMESPACE,
				    job, seen);
		} else {
			char pod[512];
			json_object *active = jget(o, "status", "active", NULL);
			job_pod_state(in, job, pod, sizeof(pod));
			snprintf(seen, sizeof(seen), "the Job is running (%d active%s%s)",
				 active ? json_object_get_int(active) : 0, pod[0] ? "; " : "", pod);
		}
		json_object_put(o);
		if (!waiter_again(&in->w, seen))
			return timed_out(in, what);
	}
}

/* Retries CALL while the API does not answer (or cannot serve it now) or,
 * with RETRY_NOT_FOUND, while what it needs does not exist yet. */
static int apply_docs(struct install *in, const char *docs, const char *what)
{
	char said[512];

	for (;;) {
		struct kubectl k;
		enum cl_class cls = cluster_apply(in->n->cluster, docs, &k);
		kubectl_said(&k, said, sizeof(said));
		kubectl_free(&k);
		if (cls == CL_OK)
			return 0;
		/* A kind whose CRD was Established a moment ago may not be in
		 * the API's discovery yet; a webhook (cert-manager's) may not
		 * answer yet: both pass. */
		if (cls != CL_UNREACHABLE && cls != CL_NOT_FOUND)
			return fail(in, "applying %s was refused: %s", what, said);
		if (!waiter_again(&in->w, said)) {
			_cleanup_free_ char *w = xasprintf("the API to accept %s", what);
			return timed_out(in, w);
		}
	}
}

/* A kubectl wait (rollout status or wait --for) on OBJ, repeated until it
 * succeeds or the component's time is up. */
static int wait_for(struct install *in, const char *obj, const char *ns, const char *cond)
{
	_cleanup_free_ char *what =
		cond ? xasprintf("%s%s%s to be %s", obj, ns ? " in " : "", ns ? ns : "", cond)
		     : xasprintf("%s in %s to roll out", obj, ns);
	char said[512];

	for (;;) {
		struct kubectl k;
		unsigned slice = MIN(waiter_left(&in->w), 60);
		enum cl_class cls =
			cond ? cluster_wait_condition(in->n->cluster, obj, ns, cond, slice, &k)
			     : cluster_rollout_status(in->n->cluster, obj, ns, slice, &k);
		if (cls == CL_OK) {
			kubectl_free(&k);
			return 0;
		}
		kubectl_said(&k, said, sizeof(said));
		if (cls == CL_TIMEOUT && !cond && k.out[0]) {
			/* rollout status printed where the rollout stands. */
			struct kubectl shown = { .out = k.out, .err = (char *)"" };
			kubectl_said(&shown, said, sizeof(said));
		}
		if (cls == CL_NOT_FOUND)
			snprintf(said + strlen(said), sizeof(said) - strlen(said),
				 " (not created yet)");
		kubectl_free(&k);
		if (cls == CL_REFUSED || cls == CL_FAILED)
			return fail(in, "cannot wait for %s: %s", what, said);
		if (cls == CL_TIMEOUT && cond) {
			/* What the object says of the condition. */
			_cleanup_free_ char *path =
				xasprintf("{.status.conditions[?(@.type==\"%s\")].message}", cond);
			struct kubectl m;
			if (cluster_jsonpath(in->n->cluster, obj, ns, path, &m) == CL_OK &&
			    m.out[0])
				snprintf(said, sizeof(said), "%s: %.400s", cond, m.out);
			kubectl_free(&m);
		}
		if (!waiter_again(&in->w, said))
			return timed_out(in, what);
	}
}

/* The documents of a manifest file: "---" lines separate them. */
static size_t split_docs(char *text, char **docs, size_t max)
{
	size_t n = 0;
	char *p = text, *start = NULL;

	while (p && *p) {
		char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (len == 3 && strncmp(p, "---", 3) == 0) {
			*p = 0;
			if (start && n < max)
				docs[n++] = start;
			start = nl ? nl + 1 : NULL;
		} else if (!start)
			start = p;
		p = nl ? nl + 1 : NULL;
	}
	if (start && *start && n < max)
		docs[n++] = start;
	/* Drop documents that hold only comments and blank lines. */
	for (size_t i = 0; i < n; i++) {
		bool content = false;
		for (char *l = docs[i]; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
			content |= *l != '#' && *l != '\n';
		if (!content) {
			memmove(&docs[i], &docs[i + 1], (n - i - 1) * sizeof(*docs));
			n--;
			i--;
		}
	}
	return n;
}

static int install(struct install *in, char *text, char *detail, size_t len)
{
	const struct stack_item *it = in->it;
	char *docs[256];
	size_t n_docs = split_docs(text, docs, ELEMENTSOF(docs)), first = 0;
	int r;

	if (it->chart.m.set) {
		_cleanup_free_ char *what =
			xasprintf("HelmChart %s/%s", STACK_CHART_NAMESPACE, it->chart.v);
		if (n_docs == 0 || !strstr(docs[0], "\nkind: HelmChart\n"))
			return fail(in, "the manifest %s does not start with the HelmChart",
				    it->file.v);
		r = apply_docs(in, docs[0], what);
		if (r >= 0)
			r = wait_install_job(in);
		for (size_t i = 0; r >= 0 && i < it->rollout.n; i++)
			r = wait_for(in, it->rollout.v[i], it->namespace.v, NULL);
		if (r < 0)
			return r;
		first = 1;
	}
	for (size_t i = 0; i < it->crds.n; i++) {
		_cleanup_free_ char *crd = xasprintf("crd/%s", it->crds.v[i]);
		r = wait_for(in, crd, NULL, "Established");
		if (r < 0)
			return r;
	}
	if (first < n_docs) {
		/* One apply, in the file's order: a resource that refers to
		 * another (a CA issuer to the Certificate's secret) converges
		 * on its own. */
		char *joined = NULL;
		size_t jl = 0;
		FILE *f = open_memstream(&joined, &jl);
		for (size_t i = first; i < n_docs; i++)
			fprintf(f, "---\n%s", docs[i]);
		fclose(f);
		r = apply_docs(in, joined, "the component's resources");
		free(joined);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < it->conditions.n; i++) {
		const struct stack_wait *w = stack_wait_at(it, i);
		r = wait_for(in, w->object.v, w->namespace.m.set ? w->namespace.v : NULL,
			     w->condition.v);
		if (r < 0)
			return r;
	}
	snprintf(detail, len,
		 "%s%zu rolled out, %zu CRDs Established, %zu resources, %zu "
		 "conditions met, in %u s",
		 it->chart.m.set ? "chart installed, " : "", it->rollout.n, it->crds.n,
		 n_docs - first, it->conditions.n, waiter_elapsed(&in->w));
	return 0;
}

int step_stack(struct farm_node *n, char *detail, size_t len)
{
	struct stack_plan plan;
	unsigned applied = 0, kept = 0;
	int r = stack_plan_load(n, &plan);

	if (r < 0) {
		stack_plan_free(&plan);
		return log_error_errno(r, "Cannot read the stack's plan; the image is damaged");
	}
	for (size_t i = 0; i < plan.n; i++) {
		const struct stack_item *it = &plan.items[i];
		_cleanup_free_ char *path = xasprintf("%s/" STACK_DIR "/%s", n->root, it->file.v);
		_cleanup_free_ char *text = NULL, *pname = xasprintf("stack-%s", it->name.v);
		_cleanup_free_ char *what = xasprintf("component %s", it->name.v);
		struct install in = { .n = n, .it = it };
		struct record rec;
		char done[400];

		r = journal_read(n->state, "stack", it->name.v, &rec);
		if (r >= 0 && rec.state == RECORD_DONE && streq(rec.hash, it->sha256.v)) {
			kept++;
			continue;
		}
		r = read_file(path, &text, NULL, MAX_MANIFEST);
		if (r < 0) {
			stack_plan_free(&plan);
			return log_error_errno(r, "Cannot read %s: %m", path);
		}
		/* The console line a test (and an operator) watches for. */
		log_notice("Stack: installing %s (%zu of %zu)%s", it->name.v, i + 1, plan.n,
			   rec.state == RECORD_DONE ? ", its manifest changed" : "");
		journal_progress(n->state, pname, PROGRESS_RUNNING, "installing (%zu of %zu)",
				 i + 1, plan.n);
		waiter_init(&in.w, what, (unsigned)it->timeout.v);
		waiter_progress(&in.w, n->state, pname);
		r = install(&in, text, done, sizeof(done));
		if (r < 0) {
			journal_progress(n->state, pname, PROGRESS_FAILED, "%s", in.failure);
			log_error("Stack component %s failed: %s. Nothing after it was applied; the next "
				  "run starts from it",
				  it->name.v, in.failure);
			stack_plan_free(&plan);
			return r;
		}
		r = journal_write(n->state, "stack", it->name.v, it->sha256.v, done);
		if (r < 0) {
			stack_plan_free(&plan);
			return log_error_errno(r, "Cannot record component %s: %m", it->name.v);
		}
		journal_progress_clear(n->state, pname);
		log_notice("Stack: %s ready (%s)", it->name.v, done);
		applied++;
	}
	snprintf(detail, len, "%zu components: %u installed now, %u already installed", plan.n,
		 applied, kept);
	stack_plan_free(&plan);
	return 0;
}
