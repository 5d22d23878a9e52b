/* SPDX-License-Identifier: MIT */
/* What the cluster's controllers do, played out one tick per request:
 *   helm-controller (k3s-io/helm-controller v0.16.13, pkg/controllers/chart/
 *     chart.go): for each HelmChart a Job helm-install-NAME in the
 *     HelmChart's namespace, its pod template annotated with configHash
 *     (hashObjects: sha256 over the chart-content ConfigMap's data, then the
 *     values Secret's data, keys sorted, Secret values base64), replaced when
 *     the hash changes; the Job completes (or fails) as the scenario says,
 *     and then the release's objects appear (no --wait: workloads roll out
 *     afterwards);
 *   the API server: a CRD becomes Established;
 *   the workload controllers and the kubelet: Deployments, DaemonSets and
 *     StatefulSets roll out; nodes turn Ready once the CNI's release is
 *     installed; custom resources' conditions turn True.
 * The scenario file, one rule a line ("#" comments):
 *   api-down N                  the next N requests fail as if the API did not answer
 *   release CHART OBJECT...     what installing CHART creates: crd/PLURAL.GROUP=KIND/VERSION[/Cluster],
 *                               deployment/NS/NAME, daemonset/NS/NAME, statefulset/NS/NAME
 *   job CHART complete-after N  its Job completes N ticks after it is made (default 1)
 *   job CHART fail [MESSAGE]    its Job fails: BackoffLimitExceeded, its pod in CrashLoopBackOff
 *   crd NAME established-after N    (default 1)
 *   rollout KIND/NS/NAME after N | never   (default 1)
 *   condition KIND/NAME TYPE after N | never   a custom resource's condition (default: after 1)
 *   cni CHART                   the release that makes nodes Ready (default cilium;
 *                               "-": nodes are Ready as they register)
 * api-down counts from each start of the server (a restart is an API that
 * does not answer again). */
#include "standin.h"
#include "fileio.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static struct rule *rules;
static size_t n_rules;
static uint64_t api_down_left;
uint64_t world_start_tick;

static const struct rule *find_rule(const char *word, const char *a)
{
	for (size_t i = 0; i < n_rules; i++)
		if (!strcmp(rules[i].word, word) && (!a || !strcmp(rules[i].a, a)))
			return &rules[i];
	return NULL;
}

static char *world_path(void)
{
	char *p;

	if (asprintf(&p, "%s/world", state_dir) < 0)
		abort();
	return p;
}

static void world_save(void)
{
	char *p = world_path(), text[128];
	int n = snprintf(text, sizeof(text), "tick %llu\n", (unsigned long long)world_tick);

	write_file_atomic(p, text, (size_t)n, 0600);
	free(p);
}

void world_load(void)
{
	const char *path = getenv("K3S_STANDIN_SCENARIO");
	char *text = NULL, *w = world_path(), *wt = NULL;
	bool fresh;

	if (!path)
		path = "/etc/rancher/k3s/standin.scenario";
	if (read_file(path, &text, NULL, 1 << 20) == 0) {
		for (char *save = NULL, *l = strtok_r(text, "\n", &save); l;
		     l = strtok_r(NULL, "\n", &save)) {
			struct rule r = { 0 };
			int off = 0;
			if (*l == '#' || !*l)
				continue;
			if (sscanf(l, "%31s %255s %n", r.word, r.a, &off) < 1)
				continue;
			r.rest = strdup(off ? l + off : "");
			sscanf(r.rest, "%255s %255s", r.b, r.c);
			rules = realloc(rules, (n_rules + 1) * sizeof(*rules));
			rules[n_rules++] = r;
		}
		free(text);
	}
	fresh = read_file(w, &wt, NULL, 4096) < 0;
	if (!fresh) {
		unsigned long long t = 0;
		sscanf(wt, "tick %llu", &t);
		world_tick = t;
		free(wt);
	}
	{
		const struct rule *r = find_rule("api-down", NULL);
		api_down_left = r ? strtoull(r->a, NULL, 10) : 0;
	}
	world_start_tick = world_tick;
	world_save();
	free(w);
}

static uint64_t born(json_object *o)
{
	json_object *b = jget(o, "_standin", "born", NULL);

	return b ? (uint64_t)json_object_get_int64(b) : 0;
}

static void set_born(json_object *o)
{
	json_object *s = jmake(o, "_standin", NULL);

	if (!jget(s, "born", NULL))
		json_object_object_add(s, "born", json_object_new_int64((int64_t)world_tick));
}

static uint64_t rule_n(const char *word, const char *a, const char *verb, uint64_t dflt,
		       bool *never)
{
	const struct rule *r = find_rule(word, a);

	if (never)
		*never = false;
	if (!r)
		return dflt;
	if (never && !strcmp(r->b, "never")) {
		*never = true;
		return 0;
	}
	if (!strcmp(r->b, verb))
		return strtoull(r->c, NULL, 10);
	return dflt;
}

static void b64(const unsigned char *in, size_t n, char **out)
{
	*out = malloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)*out, in, (int)n);
}

void world_config_hash(json_object *hc, char out[80])
{
	const char *name = jstr(hc, "metadata", "name", NULL);
	const char *content = jstr(hc, "spec", "chartContent", NULL);
	const char *values = jstr(hc, "spec", "valuesContent", NULL);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char h[32];
	unsigned hl = 32;

	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	if (content && *content) {
		char key[300];
		snprintf(key, sizeof(key), "%s.tgz.base64", name);
		EVP_DigestUpdate(md, key, strlen(key));
		EVP_DigestUpdate(md, content, strlen(content));
	}
	if (values && *values) {
		char *enc;
		b64((const unsigned char *)values, strlen(values), &enc);
		EVP_DigestUpdate(md, "HelmChartValuesContent", 22);
		EVP_DigestUpdate(md, enc, strlen(enc));
		free(enc);
	}
	EVP_DigestFinal_ex(md, h, &hl);
	EVP_MD_CTX_free(md);
	strcpy(out, "SHA256=");
	for (int i = 0; i < 32; i++)
		sprintf(out + 7 + 2 * i, "%02X", h[i]);
}

static const struct kind *K(const char *w) { return kind_by_word(w); }

/* The objects a release makes once its Job completed. */
static void install_release(json_object *hc)
{
	const char *name = jstr(hc, "metadata", "name", NULL);
	const char *target = jstr(hc, "spec", "targetNamespace", NULL);
	const struct rule *r = find_rule("release", name);

	if (target && !store_get(K("namespace"), NULL, target)) {
		json_object *ns = json_object_new_object();
		jset_str(jmake(ns, "metadata", NULL), "name", target);
		store_put(K("namespace"), ns);
		json_object_put(ns);
	}
	if (!r)
		return;
	for (char *save = NULL, *copy = strdup(r->rest), *w = strtok_r(copy, " ", &save); w;
	     w = strtok_r(NULL, " ", &save)) {
		char kind[64] = "", a[256] = "", b[256] = "";
		json_object *o = json_object_new_object(), *meta = jmake(o, "metadata", NULL);
		if (sscanf(w, "%63[^/]/%255[^/]/%255s", kind, a, b) < 2) {
			json_object_put(o);
			continue;
		}
		if (!strcmp(kind, "crd")) {
			/* crd/PLURAL.GROUP=KIND/VERSION[/Cluster] */
			char crd[256], k2[128], ver[64], scope[32] = "Namespaced";
			char *eq = strchr(w + 4, '=');
			if (!eq || sscanf(eq + 1, "%127[^/]/%63[^/]/%31s", k2, ver, scope) < 2) {
				json_object_put(o);
				continue;
			}
			snprintf(crd, sizeof(crd), "%.*s", (int)(eq - (w + 4)), w + 4);
			if (store_get(K("crd"), NULL, crd)) {
				json_object_put(o);
				continue;
			}
			jset_str(meta, "name", crd);
			{
				json_object *spec = jmake(o, "spec", NULL),
					    *names = jmake(spec, "names", NULL);
				json_object *vers = json_object_new_array(),
					    *v = json_object_new_object();
				char plural[256], lower[128];
				snprintf(plural, sizeof(plural), "%.*s", (int)strcspn(crd, "."),
					 crd);
				jset_str(spec, "group",
					 strchr(crd, '.') ? strchr(crd, '.') + 1 : "");
				jset_str(spec, "scope",
					 strcmp(scope, "Cluster") ? "Namespaced" : "Cluster");
				jset_str(names, "kind", k2);
				jset_str(names, "plural", plural);
				snprintf(lower, sizeof(lower), "%s", k2);
				for (char *c = lower; *c; c++)
					*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
				jset_str(names, "singular", lower);
				jset_str(v, "name", ver);
				json_object_object_add(v, "served", json_object_new_boolean(1));
				json_object_object_add(v, "storage", json_object_new_boolean(1));
				json_object_array_add(vers, v);
				json_object_object_add(spec, "versions", vers);
			}
			set_born(o);
			store_put(K("crd"), o);
		} else if (K(kind) && b[0]) {
			if (store_get(K(kind), a, b)) {
				json_object_put(o);
				continue;
			}
			jset_str(meta, "name", b);
			jset_str(meta, "namespace", a);
			json_object_object_add(jmake(o, "spec", NULL), "replicas",
					       json_object_new_int(1));
			json_object_object_add(jmake(o, "metadata", "annotations", NULL),
					       "meta.helm.sh/release-name",
					       json_object_new_string(name));
			set_born(o);
			store_put(K(kind), o);
		}
		json_object_put(o);
	}
}

static void job_pod(json_object *job, const char *state, const char *message)
{
	const char *jname = jstr(job, "metadata", "name", NULL),
		   *ns = jstr(job, "metadata", "namespace", NULL);
	char pname[300];
	json_object *pod = json_object_new_object(), *meta = jmake(pod, "metadata", NULL);
	json_object *cs = json_object_new_array(), *c = json_object_new_object();

	snprintf(pname, sizeof(pname), "%s-standin", jname);
	jset_str(meta, "name", pname);
	jset_str(meta, "namespace", ns);
	jset_str(jmake(meta, "labels", NULL), "job-name", jname);
	jset_str(c, "name", "helm");
	if (!strcmp(state, "running")) {
		jset_str(jmake(pod, "status", NULL), "phase", "Running");
		jmake(c, "state", "running", NULL);
	} else if (!strcmp(state, "completed")) {
		json_object *t = jmake(c, "state", "terminated", NULL);
		jset_str(jmake(pod, "status", NULL), "phase", "Succeeded");
		json_object_object_add(t, "exitCode", json_object_new_int(0));
		jset_str(t, "reason", "Completed");
	} else {
		json_object *w = jmake(c, "state", "waiting", NULL);
		json_object *t = jmake(c, "lastState", "terminated", NULL);
		char msg[600];
		jset_str(jmake(pod, "status", NULL), "phase", "Running");
		snprintf(msg, sizeof(msg),
			 "back-off 5m0s restarting failed container=helm pod=%s_%s", pname, ns);
		jset_str(w, "reason", "CrashLoopBackOff");
		jset_str(w, "message", msg);
		json_object_object_add(t, "exitCode", json_object_new_int(1));
		jset_str(t, "reason", "Error");
		jset_str(t, "message", message);
	}
	json_object_array_add(cs, c);
	json_object_object_add(jmake(pod, "status", NULL), "containerStatuses", cs);
	store_put(K("pod"), pod);
	json_object_put(pod);
}

static void tick_helmcharts(void)
{
	size_t n;
	json_object **l = store_list(K("helmchart"), NULL, &n);

	for (size_t i = 0; i < n; i++) {
		json_object *hc = l[i], *job;
		const char *name = jstr(hc, "metadata", "name", NULL);
		const char *ns = jstr(hc, "metadata", "namespace", NULL);
		char jname[300], hash[80];
		const char *have;

		world_config_hash(hc, hash);
		snprintf(jname, sizeof(jname), "helm-install-%s", name);
		job = store_get(K("job"), ns, jname);
		have = job ? jstr(job, "spec", "template", "metadata", "annotations",
				  "helmcharts.helm.cattle.io/configHash", NULL)
			   : NULL;
		if (!job || !have || strcmp(have, hash)) {
			/* A new Job (wrangler's apply replaces it when its
			 * template changes). */
			json_object_put(job);
			job = json_object_new_object();
			json_object *meta = jmake(job, "metadata", NULL);
			jset_str(meta, "name", jname);
			jset_str(meta, "namespace", ns);
			jset_str(jmake(meta, "labels", NULL), "helmcharts.helm.cattle.io/chart",
				 name);
			json_object_object_add(jmake(job, "spec", NULL), "backoffLimit",
					       json_object_new_int(1000));
			jset_str(jmake(job, "spec", "template", "metadata", "annotations", NULL),
				 "helmcharts.helm.cattle.io/configHash", hash);
			json_object_object_add(jmake(job, "status", NULL), "active",
					       json_object_new_int(1));
			set_born(job);
			store_put(K("job"), job);
			job_pod(job, "running", "");
		} else if (!condition_is(job, "Complete", "True") &&
			   !condition_is(job, "Failed", "True")) {
			const struct rule *fr = find_rule("job", name);
			uint64_t after = rule_n("job", name, "complete-after", 1, NULL);
			if (fr && !strcmp(fr->b, "fail")) {
				const char *msg =
					strlen(fr->rest) > 5
						? fr->rest + 5
						: "Error: INSTALLATION FAILED: the stand-in's scenario says so";
				if (world_tick - born(job) >= after) {
					set_condition(job, "Failed", "True", "BackoffLimitExceeded",
						      "Job has reached the specified backoff limit");
					json_object_object_add(jmake(job, "status", NULL), "active",
							       json_object_new_int(0));
					json_object_object_add(jmake(job, "status", NULL), "failed",
							       json_object_new_int(1));
					store_put(K("job"), job);
				}
				job_pod(job, "crashloop", msg);
			} else if (world_tick - born(job) >= after) {
				set_condition(job, "SuccessCriteriaMet", "True",
					      "CompletionsReached",
					      "Reached expected number of succeeded pods");
				set_condition(job, "Complete", "True", "CompletionsReached",
					      "Reached expected number of succeeded pods");
				json_object_object_add(jmake(job, "status", NULL), "active",
						       json_object_new_int(0));
				json_object_object_add(jmake(job, "status", NULL), "succeeded",
						       json_object_new_int(1));
				store_put(K("job"), job);
				job_pod(job, "completed", "");
				install_release(hc);
			}
		}
		json_object_put(job);
	}
	store_list_free(l, n);
}

static void tick_crds(void)
{
	size_t n;
	json_object **l = store_list(K("crd"), NULL, &n);

	for (size_t i = 0; i < n; i++) {
		const char *name = jstr(l[i], "metadata", "name", NULL);
		if (condition_is(l[i], "Established", "True"))
			continue;
		set_born(l[i]);
		if (world_tick - born(l[i]) >= rule_n("crd", name, "established-after", 1, NULL)) {
			set_condition(l[i], "NamesAccepted", "True", "NoConflicts",
				      "no conflicts found");
			set_condition(l[i], "Established", "True", "InitialNamesAccepted",
				      "the initial names have been accepted");
		}
		store_put(K("crd"), l[i]);
	}
	store_list_free(l, n);
}

static size_t node_count(void)
{
	size_t n;
	json_object **l = store_list(K("node"), NULL, &n);

	store_list_free(l, n);
	return n ? n : 1;
}

static void tick_workloads(void)
{
	static const char *const kinds[] = { "deployment", "daemonset", "statefulset" };

	for (size_t k = 0; k < 3; k++) {
		size_t n;
		json_object **l = store_list(K(kinds[k]), NULL, &n);
		for (size_t i = 0; i < n; i++) {
			json_object *o = l[i], *st = jmake(o, "status", NULL);
			char key[400];
			bool never;
			uint64_t after;
			int64_t want =
				k == 1 ? (int64_t)node_count()
				       : json_object_get_int64(jget(o, "spec", "replicas", NULL));
			json_object *gen = jget(o, "metadata", "generation", NULL);
			bool done;
			snprintf(key, sizeof(key), "%s/%s/%s", kinds[k],
				 jstr(o, "metadata", "namespace", NULL),
				 jstr(o, "metadata", "name", NULL));
			set_born(o);
			after = rule_n("rollout", key, "after", 1, &never);
			done = !never && world_tick - born(o) >= after;
			if (!jget(o, "spec", "replicas", NULL) && k != 1)
				want = 1;
			json_object_object_add(st, "observedGeneration",
					       json_object_new_int64(
						       gen ? json_object_get_int64(gen) : 1));
			if (k == 0) {
				json_object_object_add(st, "replicas", json_object_new_int64(want));
				json_object_object_add(st, "updatedReplicas",
						       json_object_new_int64(want));
				json_object_object_add(st, "readyReplicas",
						       json_object_new_int64(done ? want : 0));
				json_object_object_add(st, "availableReplicas",
						       json_object_new_int64(done ? want : 0));
			} else if (k == 1) {
				json_object_object_add(st, "desiredNumberScheduled",
						       json_object_new_int64(want));
				json_object_object_add(st, "updatedNumberScheduled",
						       json_object_new_int64(want));
				json_object_object_add(st, "numberAvailable",
						       json_object_new_int64(done ? want : 0));
				json_object_object_add(st, "numberReady",
						       json_object_new_int64(done ? want : 0));
			} else {
				json_object_object_add(st, "replicas", json_object_new_int64(want));
				json_object_object_add(st, "readyReplicas",
						       json_object_new_int64(done ? want : 0));
				json_object_object_add(st, "currentReplicas",
						       json_object_new_int64(want));
				json_object_object_add(st, "updatedReplicas",
						       json_object_new_int64(want));
				jset_str(st, "currentRevision", "standin-1");
				jset_str(st, "updateRevision", "standin-1");
			}
			store_put(K(kinds[k]), o);
		}
		store_list_free(l, n);
	}
}

static void tick_nodes(void)
{
	const struct rule *r = find_rule("cni", NULL);
	const char *cni = r ? r->a : "cilium";
	size_t n, hn;
	json_object **l = store_list(K("node"), NULL, &n), **charts;
	bool ready = !strcmp(cni, "-");

	charts = store_list(K("helmchart"), NULL, &hn);
	for (size_t i = 0; i < hn; i++)
		if (!ready && !strcmp(jstr(charts[i], "metadata", "name", NULL), cni)) {
			char jname[300];
			json_object *job;
			snprintf(jname, sizeof(jname), "helm-install-%s", cni);
			job = store_get(K("job"), jstr(charts[i], "metadata", "namespace", NULL),
					jname);
			ready = job && condition_is(job, "Complete", "True");
			json_object_put(job);
		}
	store_list_free(charts, hn);
	for (size_t i = 0; i < n; i++) {
		if (ready && !condition_is(l[i], "Ready", "True")) {
			set_condition(l[i], "Ready", "True", "KubeletReady",
				      "kubelet is posting ready status");
			store_put(K("node"), l[i]);
		}
	}
	store_list_free(l, n);
}

bool world_tick_once(void)
{
	world_tick++;
	if (api_down_left > 0) {
		api_down_left--;
		world_save();
		return true;
	}
	world_save();
	tick_crds();
	tick_helmcharts();
	tick_workloads();
	tick_nodes();
	world_tick_power();
	return false;
}

bool world_cr_condition(json_object *obj, const char *type)
{
	char key[400], kind[128];
	bool never;
	uint64_t after;

	snprintf(kind, sizeof(kind), "%s", jstr(obj, "kind", NULL) ? jstr(obj, "kind", NULL) : "");
	for (char *c = kind; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
	snprintf(key, sizeof(key), "%s/%s", kind, jstr(obj, "metadata", "name", NULL));
	{
		const struct rule *r = NULL;
		for (size_t i = 0; i < n_rules; i++)
			if (!strcmp(rules[i].word, "condition") && !strcmp(rules[i].a, key) &&
			    !strcmp(rules[i].b, type))
				r = &rules[i];
		never = r && !strncmp(r->rest + strlen(r->b) + 1, "never", 5);
		after = r && !never ? strtoull(strrchr(r->rest, ' ') + 1, NULL, 10) : 1;
	}
	return !never && world_tick - born(obj) >= after;
}

int world_register_node(const char *name, const char *ip)
{
	const struct kind *k = K("node");
	json_object *o = store_get(k, NULL, name);

	if (!o) {
		json_object *st, *addrs = json_object_new_array(), *a = json_object_new_object();
		o = json_object_new_object();
		jset_str(jmake(o, "metadata", NULL), "name", name);
		jset_str(jmake(o, "metadata", "labels", NULL), "kubernetes.io/hostname", name);
		st = jmake(o, "status", NULL);
		jset_str(a, "type", "InternalIP");
		jset_str(a, "address", ip ? ip : "127.0.0.1");
		json_object_array_add(addrs, a);
		json_object_object_add(st, "addresses", addrs);
		set_condition(o, "Ready", "False", "KubeletNotReady",
			      "container runtime network not ready: NetworkReady=false "
			      "reason:NetworkPluginNotReady message:Network plugin returns error: cni "
			      "plugin not initialized");
		set_born(o);
	}
	{
		int r = store_put(k, o);
		json_object_put(o);
		return r;
	}
}

const struct rule *world_rule(const char *word, const char *a) { return find_rule(word, a); }
const struct rule *world_rule_at(size_t i) { return i < n_rules ? &rules[i] : NULL; }
uint64_t world_rule_n(const char *word, const char *a, const char *verb, uint64_t dflt, bool *never)
{
	return rule_n(word, a, verb, dflt, never);
}
uint64_t world_born(json_object *o) { return born(o); }
void world_set_born(json_object *o) { set_born(o); }
