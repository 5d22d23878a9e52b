/* SPDX-License-Identifier: MIT */
/* farm-node shutdown (powercycle.h; NODE-SPEC.md, "Power cycle").
 *
 * Every node:  no valid SSH lock anywhere, or it changes nothing.
 * Control plane: takes the cluster's shutdown lock (phase "scaling", with
 *   an owner and an expiry); re-checks the SSH locks (one taken meanwhile
 *   still stops it); records and scales down Argo CD's application
 *   controller, the storage apps, the storage databases; hibernates the
 *   CloudNativePG clusters; waits for the Ceph volumes to detach; releases
 *   the lock (phase "released"); waits for every worker's report (or its
 *   timeout); then goes itself, last.
 * Worker: waits (bounded) for a fresh shutdown lock on the control plane,
 *   then for its release, and only then goes. No lock, or an aborted one,
 *   and it stays up; only a control plane whose API has not answered for
 *   the whole of lock-wait counts as down, and then the worker goes on its
 *   own (the API gone, k3s-agent's stop and the kubelet's graceful node
 *   shutdown drain it).
 * Going: taint dns-unready=true:NoExecute, drain (bounded), stop k3s,
 *   report (a worker), power off.
 *
 * The position is recorded in the journal (power/shutdown: the shutdown's
 * id and the last state reached) after each state, atomically, on the data
 * partition: a run that finds a shutdown under way resumes it where it
 * stopped. A control plane that fails after it took the lock marks the
 * lock aborted (the workers stay up), puts back what it had scaled down,
 * and stops. */
#include "powercycle.h"
#include "jsonq.h"
#include "log.h"
#include "steps.h"
#include "wait.h"
#include "workloads.h"

#include <stdarg.h>

enum sd_state {
	SD_NONE,
	SD_BEGIN,
	SD_LOCKED,
	SD_ARGOCD,
	SD_APPS,
	SD_DBS,
	SD_CNPG,
	SD_VOLUMES,
	SD_RELEASED,
	SD_WORKERS,
	SD_WAITED,
	SD_TAINTED,
	SD_DRAINED,
	SD_STOPPED,
	SD_REPORTED,
	SD_POWEROFF,
	/* ended without going down */
	SD_HELD,
	SD_ABORTED,
	SD_FAILED,
	SD_FINISHED, /* the startup after it is done */
	SD_COUNT,
};

/* One table, read across: */
/* clang-format off */
static const char *const state_words[SD_COUNT] = {
	[SD_NONE] = "none",	      [SD_BEGIN] = "begun",	[SD_LOCKED] = "locked",
	[SD_ARGOCD] = "argocd-down",  [SD_APPS] = "apps-down",	[SD_DBS] = "dbs-down",
	[SD_CNPG] = "cnpg-hibernated", [SD_VOLUMES] = "volumes-detached",
	[SD_RELEASED] = "released",   [SD_WORKERS] = "workers-done",
	[SD_WAITED] = "control-plane-done", [SD_TAINTED] = "tainted", [SD_DRAINED] = "drained",
	[SD_STOPPED] = "k3s-stopped", [SD_REPORTED] = "reported", [SD_POWEROFF] = "powering-off",
	[SD_HELD] = "held",	      [SD_ABORTED] = "aborted", [SD_FAILED] = "failed",
	[SD_FINISHED] = "finished",
};
/* clang-format on */

struct sd {
	struct farm_node *n;
	struct cluster c;
	long long id;
	enum sd_state state;
	bool api;	/* the API is there to act through (false: the control plane is down) */
	time_t started; /* this run's start */
};

static _printf_(3, 4) void record(struct sd *s, enum sd_state st, const char *fmt, ...)
{
	_cleanup_free_ char *note = NULL, *detail = NULL;
	char id[32];
	va_list ap;
	int r;

	va_start(ap, fmt);
	if (vasprintf(&note, fmt, ap) < 0)
		abort();
	va_end(ap);
	note[strcspn(note, "\n")] = 0;
	detail = xasprintf("%s %s", state_words[st], note);
	snprintf(id, sizeof(id), "%lld", s->id);
	r = journal_write(s->n->state, "power", "shutdown", id, detail);
	if (r < 0)
		log_warning_errno(r, "Cannot record the shutdown's position (%s): %m",
				  state_words[st]);
	s->state = st;
	log_info("Shutdown %lld: %s%s%s", s->id, state_words[st], note[0] ? ": " : "", note);
}

int power_shutdown_position(const struct farm_node *n, long long *id, char *state, size_t len,
			    time_t *when, char *note, size_t nlen)
{
	struct record rec;
	int r = journal_read(n->state, "power", "shutdown", &rec);
	size_t w;

	if (r < 0 || rec.state != RECORD_DONE)
		return r < 0 ? r : -ENOENT;
	*id = strtoll(rec.hash, NULL, 10);
	w = strcspn(rec.detail, " ");
	snprintf(state, len, "%.*s", (int)w, rec.detail);
	snprintf(note, nlen, "%s", rec.detail[w] ? rec.detail + w + 1 : "");
	*when = rec.when;
	return 0;
}

void power_shutdown_finished(struct farm_node *n, const char *note)
{
	struct sd s = { .n = n };
	char state[32], old[512];
	time_t when;

	if (power_shutdown_position(n, &s.id, state, sizeof(state), &when, old, sizeof(old)) < 0)
		return;
	for (int i = 0; i < SD_COUNT; i++)
		if (streq(state, state_words[i]) && i != SD_FINISHED)
			record(&s, SD_FINISHED, "%s (it had reached %s)", note, state);
}

/* Resumes a shutdown under way (not older than a day), or begins one. */
static void begin(struct sd *s)
{
	char state[32], note[512];
	time_t when;

	s->started = time(NULL);
	s->api = true;
	if (power_shutdown_position(s->n, &s->id, state, sizeof(state), &when, note,
				    sizeof(note)) == 0 &&
	    s->id > 0 && s->started - (time_t)s->id < 86400)
		for (int i = SD_BEGIN; i < SD_POWEROFF; i++)
			if (streq(state, state_words[i])) {
				s->state = (enum sd_state)i;
				s->api = !strstr(note, "the control plane is down");
				log_info("Resuming shutdown %lld from '%s'", s->id, state);
				return;
			}
	s->id = (long long)s->started;
	record(s, SD_BEGIN, "%s", s->n->conf.role.i == ROLE_SERVER ? "control plane" : "worker");
}

/* 1: held by a lock (reported), 0: none, -errno: cannot tell. */
static int held(struct sd *s)
{
	struct lock_info *locks = NULL;
	size_t n = 0;
	int r = power_find_locks(s->n, &s->c, &locks, &n);

	for (size_t i = 0; r > 0 && i < n; i++)
		if (locks[i].live) {
			char until[32];
			log_notice("Shutdown held off: SSH lock %s/%s%s%s is valid until %s; nothing "
				   "was changed",
				   locks[i].node, locks[i].name, locks[i].by[0] ? " of " : "",
				   locks[i].by, power_time(locks[i].until, until, sizeof(until)));
			record(s, SD_HELD, "by SSH lock %s/%s", locks[i].node, locks[i].name);
			break;
		}
	free(locks);
	return r > 0 ? 1 : r;
}

/* The shutdown lock on the control plane's own Node. */
static enum cl_class set_lock(struct sd *s, const char *phase, const char *reason)
{
	const struct nodeconf_power *p = &s->n->conf.power;
	_cleanup_free_ char *obj = xasprintf("node/%s", s->n->conf.node.v);
	time_t until = (time_t)s->id + (time_t)(5 * p->scale_wait.v + p->workers_wait.v +
						p->drain.v + p->stop.v + 600);
	json_object *v = json_object_new_object();
	char t1[32], t2[32], said[512];
	struct kubectl k;
	enum cl_class cls;

	json_object_object_add(v, "id", json_object_new_int64(s->id));
	json_object_object_add(v, "owner", json_object_new_string(s->n->conf.node.v));
	json_object_object_add(v, "phase", json_object_new_string(phase));
	json_object_object_add(v, "started",
			       json_object_new_string(power_time((time_t)s->id, t1, sizeof(t1))));
	json_object_object_add(v, "until",
			       json_object_new_string(power_time(until, t2, sizeof(t2))));
	if (reason)
		json_object_object_add(v, "reason", json_object_new_string(reason));
	cls = cluster_annotate(&s->c, obj, NULL, POWER_ANN_SHUTDOWN_LOCK,
			       json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), &k);
	kubectl_said(&k, said, sizeof(said));
	kubectl_free(&k);
	json_object_put(v);
	if (cls != CL_OK)
		log_error("Cannot set the cluster's shutdown lock to '%s' (%s): %s", phase,
			  cl_class_name(cls), said);
	return cls;
}

/* The control plane after a failure past the lock: the workers must not
 * go, what was scaled down comes back. */
static int cp_failed(struct sd *s, const char *what)
{
	_cleanup_free_ char *why = xasprintf("the control plane's shutdown failed at %s", what);

	set_lock(s, "aborted", why);
	power_restore(s->n, &s->c, why, NULL, 0);
	record(s, SD_FAILED, "at %s; the cluster is left running (see the journal)", what);
	journal_progress(s->n->state, "shutdown", PROGRESS_FAILED, "%s", why);
	return 1;
}

/* The control plane waits for each worker that is up to report. */
static void wait_workers(struct sd *s)
{
	struct power_node *nodes = NULL;
	size_t nn = 0;
	char said[512];
	struct waiter w;
	bool *want = NULL;
	size_t n_want = 0;
	enum cl_class cls;

	waiter_init(&w, "every worker's report", (unsigned)s->n->conf.power.workers_wait.v);
	waiter_progress(&w, s->n->state, "shutdown");
	for (;;) {
		size_t missing = 0;
		char first[300] = "";
		cls = power_list_nodes(s->n, &s->c, &nodes, &nn, said, sizeof(said));
		if (cls == CL_OK && !want) {
			/* The workers that are up now; the others are off already. */
			want = xcalloc(nn + 1, sizeof(*want));
			for (size_t i = 0; i < nn; i++)
				want[i] =
					!streq(nodes[i].name, s->n->conf.node.v) && nodes[i].ready;
			n_want = nn;
		}
		for (size_t i = 0; cls == CL_OK && i < nn && i < n_want; i++) {
			json_object *rep;
			if (!want[i])
				continue;
			rep = power_annotation(nodes[i].obj, POWER_ANN_REPORT);
			if (rep && json_object_get_int64(jget(rep, "id", NULL)) == s->id)
				log_info("Worker %s reported: %s", nodes[i].name,
					 jstr(rep, "state", NULL) ? jstr(rep, "state", NULL) : "?");
			else if (nodes[i].ready && !missing++)
				snprintf(first, sizeof(first), "%s has not reported",
					 nodes[i].name);
			if ((rep && json_object_get_int64(jget(rep, "id", NULL)) == s->id) ||
			    !nodes[i].ready)
				want[i] = false;
			json_object_put(rep);
		}
		power_nodes_free(nodes, nn);
		if (cls == CL_OK && !missing)
			break;
		if (cls == CL_OK)
			snprintf(said, sizeof(said), "%zu worker(s) to go; %s", missing, first);
		if (!waiter_again(&w, said)) {
			log_warning("Gave up after %u s waiting for %s (%s): the control plane goes "
				    "now",
				    waiter_elapsed(&w), w.what, said);
			break;
		}
	}
	free(want);
	record(s, SD_WORKERS, "after %u s", waiter_elapsed(&w));
}

/* Waits for the control plane's lock: 0 go (s->api false: it is down),
 * 1 stay up (said why), -errno. */
static int wait_control_plane(struct sd *s)
{
	const struct nodeconf_power *p = &s->n->conf.power;
	const char *cp = s->n->conf.control_plane.v;
	_cleanup_free_ char *obj = xasprintf("node/%s", cp);
	time_t silent_since = s->started; /* since when the API has not answered */
	bool seen = false;
	struct waiter w;
	char said[512];

	waiter_init(&w, "the control plane's shutdown lock", (unsigned)p->lock_wait.v);
	waiter_progress(&w, s->n->state, "shutdown");
	for (;;) {
		struct kubectl k;
		json_object *node = NULL;
		struct shutdown_lock l = { 0 };
		enum cl_class cls = cluster_get_json(&s->c, obj, NULL, &node, &k);
		time_t now = time(NULL);
		kubectl_said(&k, said, sizeof(said));
		kubectl_free(&k);
		if (cls == CL_OK) {
			silent_since = now;
			power_read_shutdown_lock(node, &l);
			json_object_put(node);
			/* A lock of this shutdown: not expired, not older than a
			 * control plane's scaling can take. */
			if (l.present && l.until > now &&
			    l.started >= s->started - (time_t)p->release_wait.v) {
				if (streq(l.phase, "released")) {
					/* From here on this node's shutdown is the
					 * control plane's: its report names that id. */
					s->id = l.id;
					return 0;
				}
				if (!streq(l.phase, "scaling"))
					return log_notice("The control plane %s %s its shutdown (%s): this "
							  "node stays up",
							  cp, l.phase, l.reason),
					       1;
				if (!seen) {
					seen = true;
					log_info("The control plane %s shuts the cluster down (shutdown "
						 "%lld); waiting for it to release its lock",
						 cp, l.id);
					waiter_init(&w,
						    "the control plane's shutdown lock to be released",
						    (unsigned)p->release_wait.v);
					waiter_progress(&w, s->n->state, "shutdown");
				}
				snprintf(said, sizeof(said), "phase %s", l.phase);
			} else if (seen)
				return log_error("The control plane's shutdown lock %s while this node "
						 "waited for it: this node stays up",
						 l.present ? "expired" : "disappeared"),
				       1;
			else
				snprintf(said, sizeof(said), "no shutdown lock on node %s", cp);
		} else if (cls != CL_UNREACHABLE)
			return log_error("Cannot read the control plane's shutdown lock (%s): %s; this "
					 "node stays up",
					 cl_class_name(cls), said),
			       1;
		if (!waiter_again(&w, said))
			break;
	}
	/* Out of time. Down only when its API has been silent for all of
	 * lock-wait: then nothing scales anything down any more. */
	if (time(NULL) - silent_since >= (time_t)p->lock_wait.v) {
		log_notice("The control plane's API has not answered for %u s: it is down; this "
			   "node shuts down on its own",
			   (unsigned)p->lock_wait.v);
		s->api = false;
		return 0;
	}
	return log_error("Gave up after %u s waiting for %s (%s): the control plane is up but "
			 "not shutting down, so this node stays up",
			 waiter_elapsed(&w), w.what, said),
	       1;
}

/* Taint, drain, stop k3s, report, power off. */
static int go_down(struct sd *s)
{
	struct farm_node *n = s->n;
	_cleanup_free_ char *obj = xasprintf("node/%s", n->conf.node.v);
	bool worker = n->conf.role.i != ROLE_SERVER;
	struct kubectl k;
	char said[512];
	enum cl_class cls;

	if (s->api && s->state < SD_TAINTED) {
		cls = cluster_taint(&s->c, n->conf.node.v, POWER_TAINT, &k);
		kubectl_said(&k, said, sizeof(said));
		kubectl_free(&k);
		if (cls != CL_OK)
			return log_error("Cannot taint node %s %s (%s): %s; it stays up",
					 n->conf.node.v, POWER_TAINT, cl_class_name(cls), said),
			       record(s, SD_FAILED, "cannot taint: %s", said), 1;
		record(s, SD_TAINTED, "%s", POWER_TAINT);
	}
	if (s->api && s->state < SD_DRAINED) {
		cls = cluster_drain(&s->c, n->conf.node.v, (unsigned)n->conf.power.drain.v, &k);
		kubectl_said(&k, said, sizeof(said));
		kubectl_free(&k);
		/* kubectl drain's --timeout, as it says it (kubernetes/kubectl
		 * pkg/drain/drain.go evictPods: "global timeout reached" while
		 * it evicts, the context's "deadline exceeded" while it waits
		 * for the pods to go). */
		bool ran_out = strstr(said, "global timeout reached") ||
			       strstr(said, "deadline exceeded") || strstr(said, "timed out");
		if (cls == CL_REFUSED || (cls == CL_FAILED && !ran_out)) {
			/* Not a drain that ran out of time: something refused it.
			 * Stay up, schedulable again. */
			struct kubectl u;
			cluster_cordon(&s->c, n->conf.node.v, false, &u);
			kubectl_free(&u);
			cluster_taint(&s->c, n->conf.node.v, POWER_TAINT_KEY ":NoExecute-", &u);
			kubectl_free(&u);
			return log_error("Cannot drain node %s (%s): %s; it stays up",
					 n->conf.node.v, cl_class_name(cls), said),
			       record(s, SD_FAILED, "cannot drain: %s", said), 1;
		}
		if (cls != CL_OK)
			log_warning("The drain of node %s did not finish within %u s (%s): what is "
				    "left stops with the kubelet's graceful node shutdown",
				    n->conf.node.v, (unsigned)n->conf.power.drain.v, said);
		record(s, SD_DRAINED, "%s", cls == CL_OK ? "drained" : "drain ran out of time");
	}
	if (s->state < SD_STOPPED) {
		const char *unit = worker ? "k3s-agent.service" : "k3s.service";
		const char *args[] = { "stop", unit, NULL };
		int r = power_systemctl(n, (unsigned)n->conf.power.stop.v, args);
		if (r != 0)
			log_warning("systemctl stop %s failed (%d): the power off stops it", unit,
				    r);
		record(s, SD_STOPPED, "%s", unit);
	}
	if (worker && s->api && s->state < SD_REPORTED) {
		json_object *v = json_object_new_object();
		char at[32];
		json_object_object_add(v, "id", json_object_new_int64(s->id));
		json_object_object_add(v, "state", json_object_new_string("done"));
		json_object_object_add(v, "at",
				       json_object_new_string(power_time(time(NULL), at, 32)));
		cls = cluster_annotate(&s->c, obj, NULL, POWER_ANN_REPORT,
				       json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
				       &k);
		kubectl_said(&k, said, sizeof(said));
		kubectl_free(&k);
		json_object_put(v);
		if (cls != CL_OK)
			log_warning("Cannot report to the control plane (%s): %s; it waits for its "
				    "timeout",
				    cl_class_name(cls), said);
		record(s, SD_REPORTED, "%s", cls == CL_OK ? "reported done" : "could not report");
	}
	record(s, SD_POWEROFF, "%s", s->api ? "" : "the control plane is down");
	journal_progress_clear(n->state, "shutdown");
	{
		const char *args[] = { "poweroff", NULL };
		int r = power_systemctl(n, 60, args);
		if (r != 0)
			return log_error("systemctl poweroff failed (%d)", r), 1;
	}
	log_notice("Powering off");
	return 0;
}

static int cp_shutdown(struct sd *s)
{
	static const struct {
		enum sd_state state;
		const char *what;
	} phases[] = {
		{ SD_ARGOCD, "Argo CD" },
		{ SD_APPS, "the storage apps" },
		{ SD_DBS, "the storage databases" },
		{ SD_CNPG, "CloudNativePG" },
		{ SD_VOLUMES, "the Ceph volumes" },
	};
	char detail[512];
	int r;

	if (s->state < SD_LOCKED) {
		r = held(s);
		if (r)
			return r < 0 ? (record(s, SD_FAILED, "cannot look for SSH locks"), 1) : 0;
		if (set_lock(s, "scaling", NULL) != CL_OK)
			return record(s, SD_FAILED, "cannot take the shutdown lock"), 1;
		/* A lock taken while the shutdown lock went up still wins. */
		r = held(s);
		if (r) {
			set_lock(s, "aborted",
				 r > 0 ? "an SSH lock was taken" : "cannot look for SSH locks");
			if (r < 0)
				record(s, SD_FAILED, "cannot look for SSH locks");
			return r < 0 ? 1 : 0;
		}
		record(s, SD_LOCKED, "the cluster's shutdown lock is taken");
	}
	for (size_t i = 0; i < ELEMENTSOF(phases); i++) {
		if (s->state >= phases[i].state)
			continue;
		detail[0] = 0;
		switch (phases[i].state) {
		case SD_ARGOCD:
			r = workloads_stop(s->n, &s->c, SET_ARGOCD, detail, sizeof(detail));
			break;
		case SD_APPS:
			r = workloads_stop(s->n, &s->c, SET_APPS, detail, sizeof(detail));
			break;
		case SD_DBS:
			r = workloads_stop(s->n, &s->c, SET_DBS, detail, sizeof(detail));
			break;
		case SD_CNPG:
			r = cnpg_hibernate(s->n, &s->c, detail, sizeof(detail));
			break;
		default:
			r = ceph_detached(s->n, &s->c, detail, sizeof(detail));
			break;
		}
		if (r < 0)
			return cp_failed(s, phases[i].what);
		record(s, phases[i].state, "%s", detail);
	}
	if (s->state < SD_RELEASED) {
		if (set_lock(s, "released", NULL) != CL_OK)
			return cp_failed(s, "releasing the shutdown lock");
		record(s, SD_RELEASED, "the workers may go");
	}
	if (s->state < SD_WORKERS)
		wait_workers(s);
	return go_down(s);
}

static int worker_shutdown(struct sd *s)
{
	int r;

	if (!s->n->conf.control_plane.v)
		return log_error(
			       "node.yaml names no control-plane: this worker cannot tell when the "
			       "cluster shuts down; rebuild its image"),
		       1;
	if (s->state < SD_WAITED) {
		r = held(s);
		/* The API not answering is no "no locks": the worker goes only
		 * if the control plane turns out to be down (then no lock
		 * anywhere can be read, nor anything scaled down). */
		if (r == -EHOSTUNREACH)
			log_notice("The API does not answer: this node goes only if the control plane "
				   "stays down for %u s",
				   (unsigned)s->n->conf.power.lock_wait.v);
		else if (r)
			return r < 0 ? (record(s, SD_FAILED, "cannot look for SSH locks"), 1) : 0;
		r = wait_control_plane(s);
		if (r) {
			record(s, r > 0 ? SD_ABORTED : SD_FAILED,
			       "the control plane did not release "
			       "this node");
			return 1;
		}
		record(s, SD_WAITED, "%s",
		       s->api ? "the control plane released its lock"
			      : "the control plane is down");
	}
	return go_down(s);
}

int power_shutdown(struct farm_node *n)
{
	struct sd s = { .n = n };
	int r;

	power_cluster(n, &s.c);
	begin(&s);
	r = n->conf.role.i == ROLE_SERVER ? cp_shutdown(&s) : worker_shutdown(&s);
	cluster_free(&s.c);
	return r;
}
