/* SPDX-License-Identifier: MIT */
/* The stand-in's world for the power cycle (standin.h), played one tick
 * per request as world.c plays the rest. Scenario rules:
 *   pods on                    Deployments and StatefulSets have pods: NAME-I for
 *                              each replica, labelled as their template (or
 *                              app.kubernetes.io/name=NAME), Ready, on a node that
 *                              takes pods (none cordoned: Pending); drained pods
 *                              come back elsewhere, as their controller makes them
 *   terminate KIND/NS/NAME after N | never
 *                              pods above the replica count go N ticks after the
 *                              scale-down (default 0: at once)
 *   hibernate NS/NAME after N | never
 *                              a CloudNativePG Cluster's pods (cnpg.io/cluster=NAME,
 *                              spec.instances of them) go N ticks after it is
 *                              annotated cnpg.io/hibernation=on, and come back
 *                              when it is not
 *   attachment NAME for KIND/NS/NAME [never]
 *                              a VolumeAttachment of Rook's RBD driver that exists
 *                              while the workload has pods (never: it stays)
 *   ceph NS/NAME HEALTH after N   a CephCluster's status.ceph.health: HEALTH once N
 *                              ticks have passed since the server started,
 *                              HEALTH_ERR before
 *   dns ADDRESS:PORT           answers DNS there (UDP) as CoreDNS: an A record
 *                              (10.43.0.1) for NAME.cluster.local while a pod
 *                              app.kubernetes.io/name=coredns in kube-system is
 *                              Ready, SERVFAIL while none is, NXDOMAIN for other
 *                              names */
#include "standin.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

static const struct kind *K(const char *w) { return kind_by_word(w); }

int cert_identity(const char *path, char *user, size_t ulen, char *groups, size_t glen)
{
	FILE *f = fopen(path, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	X509_NAME *n = x ? X509_get_subject_name(x) : NULL;
	size_t gl = 0;
	int i = -1;

	if (f)
		fclose(f);
	if (!n) {
		X509_free(x);
		return -1;
	}
	user[0] = groups[0] = 0;
	if ((i = X509_NAME_get_index_by_NID(n, NID_commonName, -1)) >= 0)
		snprintf(user, ulen, "%s",
			 (const char *)ASN1_STRING_get0_data(
				 X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i))));
	for (i = -1; (i = X509_NAME_get_index_by_NID(n, NID_organizationName, i)) >= 0;) {
		const char *o = (const char *)ASN1_STRING_get0_data(
			X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i)));
		gl += (size_t)snprintf(groups + gl, gl < glen ? glen - gl : 0, "%s%s",
				       gl ? "," : "", o);
	}
	X509_free(x);
	return user[0] ? 0 : -1;
}

/* A node that takes pods (not cordoned), or NULL. */
static char *schedulable_node(void)
{
	size_t n;
	json_object **l = store_list(K("node"), NULL, &n);
	char *name = NULL;

	for (size_t i = 0; i < n && !name; i++) {
		json_object *u = jget(l[i], "spec", "unschedulable", NULL);
		if (!u || !json_object_get_boolean(u))
			name = strdup(jstr(l[i], "metadata", "name", NULL));
	}
	store_list_free(l, n);
	return name;
}

static void pod_status(json_object *pod, const char *node)
{
	json_object *st = jmake(pod, "status", NULL);

	json_object_object_del(st, "conditions");
	if (node) {
		jset_str(jmake(pod, "spec", NULL), "nodeName", node);
		jset_str(st, "phase", "Running");
		set_condition(pod, "Ready", "True", "", "");
	} else {
		jset_str(st, "phase", "Pending");
		set_condition(pod, "PodScheduled", "False", "Unschedulable",
			      "0/1 nodes are available: 1 node(s) were unschedulable.");
	}
}

/* The pods whose first owner is KIND/NAME in NS (caller frees). */
static json_object **owned(const char *kind, const char *ns, const char *name, size_t *count)
{
	size_t n;
	json_object **l = store_list(K("pod"), ns, &n), **out = calloc(n + 1, sizeof(*out));

	*count = 0;
	for (size_t i = 0; i < n; i++) {
		/* A pod may have no owner at all (a Job's pod here, a bare pod
		 * anywhere). */
		json_object *owners = jget(l[i], "metadata", "ownerReferences", NULL);
		json_object *ow = json_object_is_type(owners, json_type_array)
					  ? json_object_array_get_idx(owners, 0)
					  : NULL;
		const char *k = jstr(ow, "kind", NULL), *nm = jstr(ow, "name", NULL);
		if (k && nm && !strcmp(k, kind) && !strcmp(nm, name))
			out[(*count)++] = json_object_get(l[i]);
	}
	store_list_free(l, n);
	return out;
}

/* Makes pod NAME-INDEX of owner KIND/NAME with LABELS (a new reference or
 * NULL: app.kubernetes.io/name=NAME). */
static void make_pod(const char *kind, const char *ns, const char *name, const char *pod_name,
		     json_object *labels)
{
	json_object *pod = json_object_new_object(), *meta = jmake(pod, "metadata", NULL);
	json_object *owners = json_object_new_array(), *ow = json_object_new_object();
	char *node = schedulable_node();

	jset_str(meta, "name", pod_name);
	jset_str(meta, "namespace", ns);
	if (labels)
		json_object_object_add(meta, "labels", labels);
	else
		jset_str(jmake(meta, "labels", NULL), "app.kubernetes.io/name", name);
	jset_str(ow, "kind", kind);
	jset_str(ow, "name", name);
	json_object_object_add(ow, "controller", json_object_new_boolean(1));
	json_object_array_add(owners, ow);
	json_object_object_add(meta, "ownerReferences", owners);
	pod_status(pod, node);
	store_put(K("pod"), pod);
	json_object_put(pod);
	free(node);
}

/* Keeps OWNER's pods at WANT: new ones made at once, extra ones removed
 * AFTER ticks (or never) after the count went down; Pending ones placed. */
static void keep_pods(json_object *owner, const char *kind, const char *word, int64_t want,
		      json_object *labels, const char *rule_word, const char *rule_key)
{
	const char *ns = jstr(owner, "metadata", "namespace", NULL);
	const char *name = jstr(owner, "metadata", "name", NULL);
	size_t n;
	json_object **pods = owned(kind, ns, name, &n);
	json_object *since = jget(owner, "_standin", "down-since", NULL);
	bool never;
	uint64_t after = world_rule_n(rule_word, rule_key, "after", 0, &never);
	bool changed = false;

	for (size_t i = 0; i < n; i++)
		if (!jstr(pods[i], "spec", "nodeName", NULL)) {
			char *node = schedulable_node();
			if (node) {
				pod_status(pods[i], node);
				store_put(K("pod"), pods[i]);
			}
			free(node);
		}
	if ((int64_t)n < want) {
		for (int64_t i = 0; i < want; i++) {
			char pn[300];
			json_object *have;
			snprintf(pn, sizeof(pn), "%s-%lld", name, (long long)i);
			have = store_get(K("pod"), ns, pn);
			if (!have) {
				json_object *l = NULL;
				if (labels)
					json_object_deep_copy(labels, &l, NULL);
				make_pod(kind, ns, name, pn, l);
			}
			json_object_put(have);
		}
		json_object_object_del(jmake(owner, "_standin", NULL), "down-since");
		changed = true;
	} else if ((int64_t)n > want) {
		if (!since && !never && after == 0) {
			for (size_t i = (size_t)(want > 0 ? want : 0); i < n; i++)
				store_delete(K("pod"), ns, jstr(pods[i], "metadata", "name", NULL));
			changed = true;
		} else if (!since) {
			json_object_object_add(jmake(owner, "_standin", NULL), "down-since",
					       json_object_new_int64((int64_t)world_tick));
			changed = true;
		} else if (!never && world_tick - (uint64_t)json_object_get_int64(since) >= after) {
			for (size_t i = (size_t)(want > 0 ? want : 0); i < n; i++)
				store_delete(K("pod"), ns, jstr(pods[i], "metadata", "name", NULL));
			json_object_object_del(jmake(owner, "_standin", NULL), "down-since");
			changed = true;
		}
	}
	if (changed)
		store_put(K(word), owner);
	store_list_free(pods, n);
}

static void tick_workload_pods(void)
{
	static const struct {
		const char *word, *kind;
	} kinds[] = { { "deployment", "Deployment" }, { "statefulset", "StatefulSet" } };

	for (size_t k = 0; k < 2; k++) {
		size_t n;
		json_object **l = store_list(K(kinds[k].word), NULL, &n);
		for (size_t i = 0; i < n; i++) {
			json_object *r = jget(l[i], "spec", "replicas", NULL);
			json_object *labels =
				jget(l[i], "spec", "template", "metadata", "labels", NULL);
			char key[400];
			snprintf(key, sizeof(key), "%s/%s/%s", kinds[k].word,
				 jstr(l[i], "metadata", "namespace", NULL),
				 jstr(l[i], "metadata", "name", NULL));
			keep_pods(l[i], kinds[k].kind, kinds[k].word,
				  r ? json_object_get_int64(r) : 1, labels, "terminate", key);
		}
		store_list_free(l, n);
	}
}

static void tick_cnpg(void)
{
	const struct kind *ck = K("clusters.postgresql.cnpg.io");
	size_t n;
	json_object **l;

	if (!ck)
		return;
	l = store_list(ck, NULL, &n);
	for (size_t i = 0; i < n; i++) {
		const char *h = jstr(l[i], "metadata", "annotations", "cnpg.io/hibernation", NULL);
		json_object *inst = jget(l[i], "spec", "instances", NULL);
		json_object *labels = json_object_new_object();
		char key[400];
		snprintf(key, sizeof(key), "%s/%s", jstr(l[i], "metadata", "namespace", NULL),
			 jstr(l[i], "metadata", "name", NULL));
		jset_str(labels, "cnpg.io/cluster", jstr(l[i], "metadata", "name", NULL));
		keep_pods(l[i], "Cluster", "clusters.postgresql.cnpg.io",
			  h && !strcmp(h, "on") ? 0
			  : inst		? json_object_get_int64(inst)
						: 1,
			  labels, "hibernate", key);
		json_object_put(labels);
	}
	store_list_free(l, n);
}

static void tick_attachments(void)
{
	const struct kind *vk = K("volumeattachment");
	const struct rule *r;

	for (size_t i = 0; (r = world_rule_at(i)); i++) {
		char word[64] = "", ns[128] = "", wname[128] = "";
		const struct kind *wk;
		json_object *w, *have;
		size_t count = 0;
		json_object **pods;
		if (strcmp(r->word, "attachment") || strcmp(r->b, "for") ||
		    sscanf(r->c, "%63[^/]/%127[^/]/%127s", word, ns, wname) != 3 || !(wk = K(word)))
			continue;
		w = store_get(wk, ns, wname);
		if (w) {
			char kind[64];
			snprintf(kind, sizeof(kind), "%s", wk->kind);
			pods = owned(kind, ns, wname, &count);
			store_list_free(pods, count);
			json_object_put(w);
		}
		have = store_get(vk, NULL, r->a);
		if (count && !have) {
			json_object *va = json_object_new_object();
			jset_str(jmake(va, "metadata", NULL), "name", r->a);
			jset_str(jmake(va, "spec", NULL), "attacher", "rook-ceph.rbd.csi.ceph.com");
			jset_str(jmake(va, "spec", "source", NULL), "persistentVolumeName", r->a);
			json_object_object_add(jmake(va, "status", NULL), "attached",
					       json_object_new_boolean(1));
			store_put(vk, va);
			json_object_put(va);
		} else if (!count && have && !strstr(r->rest, " never"))
			store_delete(vk, NULL, r->a);
		json_object_put(have);
	}
}

static void tick_ceph(void)
{
	const struct kind *ck = K("cephclusters.ceph.rook.io");
	size_t n;
	json_object **l;

	if (!ck)
		return;
	l = store_list(ck, NULL, &n);
	for (size_t i = 0; i < n; i++) {
		char key[400];
		const struct rule *r;
		const char *health = "HEALTH_ERR", *have;
		snprintf(key, sizeof(key), "%s/%s", jstr(l[i], "metadata", "namespace", NULL),
			 jstr(l[i], "metadata", "name", NULL));
		r = world_rule("ceph", key);
		if (!r)
			continue;
		/* "ceph NS/NAME HEALTH after N": b is the health, then "after N" */
		{
			unsigned long long after = 0;
			const char *a = strstr(r->rest, " after ");
			if (a)
				after = strtoull(a + 7, NULL, 10);
			if (world_tick - world_start_tick >= after)
				health = r->b;
		}
		have = jstr(l[i], "status", "ceph", "health", NULL);
		if (!have || strcmp(have, health)) {
			jset_str(jmake(l[i], "status", "ceph", NULL), "health", health);
			store_put(ck, l[i]);
		}
	}
	store_list_free(l, n);
}

void world_tick_power(void)
{
	const struct rule *p = world_rule("pods", "on");

	if (p)
		tick_workload_pods();
	tick_cnpg();
	tick_attachments();
	tick_ceph();
}

/* --- DNS ------------------------------------------------------------------- */

static bool coredns_ready(void)
{
	size_t n;
	json_object **l = store_list(K("pod"), "kube-system", &n);
	bool ready = false;

	for (size_t i = 0; i < n; i++)
		if (selector_matches(l[i], "app.kubernetes.io/name=coredns") &&
		    condition_is(l[i], "Ready", "True"))
			ready = true;
	store_list_free(l, n);
	return ready;
}

/* The question's name of query Q (LEN bytes) into NAME; the offset after
 * the question, or 0. */
static size_t question(const unsigned char *q, size_t len, char *name, size_t nlen)
{
	size_t off = 12, o = 0;

	while (off < len && q[off]) {
		size_t l = q[off++];
		if (l > 63 || off + l > len || o + l + 2 > nlen)
			return 0;
		if (o)
			name[o++] = '.';
		memcpy(name + o, q + off, l);
		o += l;
		off += l;
	}
	name[o] = 0;
	return off + 5 <= len ? off + 5 : 0; /* the root label, type, class */
}

static void serve_dns(int fd)
{
	for (;;) {
		unsigned char q[512], a[600];
		char name[256];
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
		size_t qend, alen;
		size_t nl;
		bool ours;
		int rcode;
		if (n < 12)
			continue;
		qend = question(q, (size_t)n, name, sizeof(name));
		if (!qend)
			continue;
		nl = strlen(name);
		ours = nl > 14 && !strcasecmp(name + nl - 14, ".cluster.local");
		rcode = !ours ? 3 : coredns_ready() ? 0 : 2;
		memcpy(a, q, qend);
		a[2] = 0x80 | (q[2] & 0x01);	    /* QR, RD as asked */
		a[3] = 0x80 | (unsigned char)rcode; /* RA */
		a[4] = 0, a[5] = 1;		    /* one question */
		a[6] = 0, a[7] = rcode == 0 ? 1 : 0;
		memset(a + 8, 0, 4);
		alen = qend;
		if (rcode == 0) {
			static const unsigned char rr[] = { 0xc0, 0x0c, 0, 1, 0,  1,  0, 0,
							    0,	  5,	0, 4, 10, 43, 0, 1 };
			memcpy(a + alen, rr, sizeof(rr));
			alen += sizeof(rr);
		}
		sendto(fd, a, alen, 0, (struct sockaddr *)&from, fl);
	}
}

void world_start_dns(void)
{
	const struct rule *r = world_rule("dns", NULL);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char host[64];
	const char *colon;
	pid_t parent = getpid();
	int fd, one = 1;

	if (!r || !(colon = strrchr(r->a, ':')))
		return;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - r->a), r->a);
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "k3s stand-in: cannot serve DNS on %s\n", r->a);
		if (fd >= 0)
			close(fd);
		return;
	}
	if (fork() == 0) {
		/* ends with the server */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		serve_dns(fd);
		_exit(0);
	}
	close(fd);
}
