/* SPDX-License-Identifier: MIT */
/* The stand-in's objects: one JSON file each, STATE/objects/PLURAL.GROUP/
 * NAMESPACE/NAME.json ("-" for cluster-scoped objects), written atomically
 * and synced like etcd's (a power cut in a boot test keeps what was
 * acknowledged). The kinds: the built-in ones farm-node and the tests use,
 * and those of Established CRDs. */
#include "standin.h"
#include "fileio.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <errno.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>

char *state_dir;
uint64_t world_tick;

static const struct kind builtins[] = {
	{ "Namespace", "", "v1", "namespaces", false, "ns" },
	{ "Node", "", "v1", "nodes", false, "no" },
	{ "Pod", "", "v1", "pods", true, "po" },
	{ "ConfigMap", "", "v1", "configmaps", true, "cm" },
	{ "Secret", "", "v1", "secrets", true, "" },
	{ "Service", "", "v1", "services", true, "svc" },
	{ "ServiceAccount", "", "v1", "serviceaccounts", true, "sa" },
	{ "PersistentVolumeClaim", "", "v1", "persistentvolumeclaims", true, "pvc" },
	{ "Deployment", "apps", "v1", "deployments", true, "deploy" },
	{ "DaemonSet", "apps", "v1", "daemonsets", true, "ds" },
	{ "StatefulSet", "apps", "v1", "statefulsets", true, "sts" },
	{ "ReplicaSet", "apps", "v1", "replicasets", true, "rs" },
	{ "Job", "batch", "v1", "jobs", true, "" },
	{ "CustomResourceDefinition", "apiextensions.k8s.io", "v1", "customresourcedefinitions",
	  false, "crd crds" },
	{ "ClusterRole", "rbac.authorization.k8s.io", "v1", "clusterroles", false, "" },
	{ "ClusterRoleBinding", "rbac.authorization.k8s.io", "v1", "clusterrolebindings", false,
	  "" },
	{ "Role", "rbac.authorization.k8s.io", "v1", "roles", true, "" },
	{ "RoleBinding", "rbac.authorization.k8s.io", "v1", "rolebindings", true, "" },
	{ "VolumeAttachment", "storage.k8s.io", "v1", "volumeattachments", false, "" },
	{ "Lease", "coordination.k8s.io", "v1", "leases", true, "" },
	{ "HelmChart", "helm.cattle.io", "v1", "helmcharts", true, "" },
	{ "HelmChartConfig", "helm.cattle.io", "v1", "helmchartconfigs", true, "" },
	{ "Addon", "k3s.cattle.io", "v1", "addons", true, "" },
};

/* Kinds from CRDs, rebuilt when asked (they change as CRDs are applied). */
static struct kind crd_kinds[128];
static char crd_strings[128][4][128];
static size_t n_crd_kinds;

static void load_crd_kinds(void)
{
	const struct kind *crd = kind_by_word("crd");
	size_t n;
	json_object **l = store_list(crd, NULL, &n);

	n_crd_kinds = 0;
	for (size_t i = 0; i < n && n_crd_kinds < 128; i++) {
		json_object *o = l[i], *vers = jget(o, "spec", "versions", NULL);
		const char *kind = jstr(o, "spec", "names", "kind", NULL);
		const char *plural = jstr(o, "spec", "names", "plural", NULL);
		const char *group = jstr(o, "spec", "group", NULL);
		const char *scope = jstr(o, "spec", "scope", NULL);
		const char *ver =
			vers ? jstr(json_object_array_get_idx(vers, 0), "name", NULL) : NULL;
		const char *singular = jstr(o, "spec", "names", "singular", NULL);
		struct kind *k = &crd_kinds[n_crd_kinds];
		if (!kind || !plural || !group || !ver || !condition_is(o, "Established", "True"))
			continue;
		snprintf(crd_strings[n_crd_kinds][0], 128, "%s", kind);
		snprintf(crd_strings[n_crd_kinds][1], 128, "%s", group);
		snprintf(crd_strings[n_crd_kinds][2], 128, "%s", ver);
		snprintf(crd_strings[n_crd_kinds][3], 128, "%s", plural);
		*k = (struct kind){ crd_strings[n_crd_kinds][0],
				    crd_strings[n_crd_kinds][1],
				    crd_strings[n_crd_kinds][2],
				    crd_strings[n_crd_kinds][3],
				    !scope || strcmp(scope, "Cluster") != 0,
				    singular ? "" : "" };
		n_crd_kinds++;
	}
	store_list_free(l, n);
}

static bool word_is(const struct kind *k, const char *w)
{
	char buf[256];
	size_t kl = strlen(k->kind);

	if (!strcasecmp(w, k->kind) || !strcmp(w, k->plural))
		return true;
	/* the singular: the plural without its "s" */
	if (strlen(k->plural) == kl + 1 && !strncasecmp(w, k->plural, kl) && strlen(w) == kl)
		return true;
	snprintf(buf, sizeof(buf), "%s.%s", k->plural, k->group);
	if (*k->group && !strcmp(w, buf))
		return true;
	snprintf(buf, sizeof(buf), "%s", k->kind);
	for (char *c = buf; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
	if (*k->group) {
		char b2[300];
		snprintf(b2, sizeof(b2), "%s.%s", buf, k->group);
		if (!strcmp(w, b2))
			return true;
	}
	for (const char *s = k->shortnames; *s;) {
		size_t n = strcspn(s, " ");
		if (n == strlen(w) && !strncmp(s, w, n))
			return true;
		s += n + (s[n] == ' ');
	}
	return false;
}

const struct kind *kind_by_word(const char *word)
{
	for (size_t i = 0; i < sizeof(builtins) / sizeof(*builtins); i++)
		if (word_is(&builtins[i], word))
			return &builtins[i];
	load_crd_kinds();
	for (size_t i = 0; i < n_crd_kinds; i++)
		if (word_is(&crd_kinds[i], word))
			return &crd_kinds[i];
	return NULL;
}

const struct kind *kind_by_gvk(const char *api_version, const char *kind)
{
	char group[128] = "", version[64];
	const char *slash = strchr(api_version, '/');

	if (slash) {
		snprintf(group, sizeof(group), "%.*s", (int)(slash - api_version), api_version);
		snprintf(version, sizeof(version), "%s", slash + 1);
	} else
		snprintf(version, sizeof(version), "%s", api_version);
	for (size_t i = 0; i < sizeof(builtins) / sizeof(*builtins); i++)
		if (!strcmp(builtins[i].kind, kind) && !strcmp(builtins[i].group, group) &&
		    !strcmp(builtins[i].version, version))
			return &builtins[i];
	load_crd_kinds();
	for (size_t i = 0; i < n_crd_kinds; i++)
		if (!strcmp(crd_kinds[i].kind, kind) && !strcmp(crd_kinds[i].group, group) &&
		    !strcmp(crd_kinds[i].version, version))
			return &crd_kinds[i];
	return NULL;
}

void kind_print_name(const struct kind *k, char *buf, size_t len)
{
	char lower[128];

	snprintf(lower, sizeof(lower), "%s", k->kind);
	for (char *c = lower; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
	if (*k->group)
		snprintf(buf, len, "%s.%s", lower, k->group);
	else
		snprintf(buf, len, "%s", lower);
}

void kind_resource_name(const struct kind *k, char *buf, size_t len)
{
	if (*k->group)
		snprintf(buf, len, "%s.%s", k->plural, k->group);
	else
		snprintf(buf, len, "%s", k->plural);
}

static char *dir_of(const struct kind *k, const char *ns)
{
	char *d;

	if (asprintf(&d, "%s/objects/%s.%s/%s", state_dir, k->plural, *k->group ? k->group : "core",
		     k->namespaced ? ns : "-") < 0)
		abort();
	return d;
}

json_object *store_get(const struct kind *k, const char *ns, const char *name)
{
	char *d = dir_of(k, ns ? ns : "default"), *p;
	json_object *o;

	if (asprintf(&p, "%s/%s.json", d, name) < 0)
		abort();
	o = json_object_from_file(p);
	free(p);
	free(d);
	return o;
}

void request_log(const char *fmt, ...)
{
	char *path;
	FILE *f;
	va_list ap;

	if (asprintf(&path, "%s/requests.log", state_dir) < 0)
		abort();
	f = fopen(path, "a");
	free(path);
	if (!f)
		return;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	/* Durable at once: the boot tests read it after a power cut, as a
	 * real cluster's datastore would keep what it answered. */
	if (fflush(f) == 0)
		fsync(fileno(f));
	fclose(f);
}

void now_rfc3339(char buf[32])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int store_put(const struct kind *k, json_object *obj)
{
	const char *name = jstr(obj, "metadata", "name", NULL);
	const char *ns = k->namespaced ? jstr(obj, "metadata", "namespace", NULL) : NULL;
	char *d, *p;
	const char *text;
	json_object *meta = jmake(obj, "metadata", NULL), *old;
	int r;

	if (!name)
		return -EINVAL;
	if (k->namespaced && !ns) {
		jset_str(meta, "namespace", "default");
		ns = "default";
	}
	if (!k->namespaced)
		json_object_object_del(meta, "namespace");
	old = store_get(k, ns, name);
	if (!jget(meta, "uid", NULL)) {
		char uid[64];
		const char *ou = old ? jstr(old, "metadata", "uid", NULL) : NULL;
		if (ou)
			snprintf(uid, sizeof(uid), "%s", ou);
		else
			snprintf(uid, sizeof(uid), "00000000-0000-4000-8000-%012llx",
				 (unsigned long long)(world_tick * 1000 +
						      (uint64_t)(rand() % 1000)));
		jset_str(meta, "uid", uid);
	}
	if (!jget(meta, "creationTimestamp", NULL)) {
		char ts[32];
		const char *ot = old ? jstr(old, "metadata", "creationTimestamp", NULL) : NULL;
		now_rfc3339(ts);
		jset_str(meta, "creationTimestamp", ot ? ot : ts);
	}
	{
		char rv[32];
		snprintf(rv, sizeof(rv), "%llu", (unsigned long long)world_tick);
		jset_str(meta, "resourceVersion", rv);
	}
	if (!jget(obj, "apiVersion", NULL)) {
		char av[128];
		snprintf(av, sizeof(av), "%s%s%s", k->group, *k->group ? "/" : "", k->version);
		json_object_object_add(obj, "apiVersion", json_object_new_string(av));
	}
	if (!jget(obj, "kind", NULL))
		json_object_object_add(obj, "kind", json_object_new_string(k->kind));
	json_object_put(old);
	d = dir_of(k, ns);
	r = mkdir_p(d, 0700);
	if (r < 0) {
		free(d);
		return r;
	}
	if (asprintf(&p, "%s/%s.json", d, name) < 0)
		abort();
	text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY |
							   JSON_C_TO_STRING_NOSLASHESCAPE);
	r = write_file_atomic(p, text, strlen(text), 0600);
	free(p);
	free(d);
	return r;
}

int store_delete(const struct kind *k, const char *ns, const char *name)
{
	char *d = dir_of(k, ns ? ns : "default"), *p;
	int r;

	if (asprintf(&p, "%s/%s.json", d, name) < 0)
		abort();
	r = unlink(p) < 0 ? -errno : fsync_dir(d);
	free(p);
	free(d);
	return r;
}

static int cmp_obj(const void *a, const void *b)
{
	json_object *x = *(json_object *const *)a, *y = *(json_object *const *)b;
	const char *nx = jstr(x, "metadata", "namespace", NULL),
		   *ny = jstr(y, "metadata", "namespace", NULL);
	int c = strcmp(nx ? nx : "", ny ? ny : "");

	return c ? c : strcmp(jstr(x, "metadata", "name", NULL), jstr(y, "metadata", "name", NULL));
}

static void list_dir(const char *d, json_object ***l, size_t *n)
{
	DIR *dd = opendir(d);
	struct dirent *de;

	if (!dd)
		return;
	while ((de = readdir(dd))) {
		char *p;
		json_object *o;
		size_t len = strlen(de->d_name);
		if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		if (asprintf(&p, "%s/%s", d, de->d_name) < 0)
			abort();
		o = json_object_from_file(p);
		free(p);
		if (!o || !jstr(o, "metadata", "name", NULL)) {
			json_object_put(o);
			continue;
		}
		*l = realloc(*l, (*n + 1) * sizeof(**l));
		(*l)[(*n)++] = o;
	}
	closedir(dd);
}

json_object **store_list(const struct kind *k, const char *ns, size_t *n)
{
	json_object **l = NULL;

	*n = 0;
	if (!k->namespaced || ns) {
		char *d = dir_of(k, ns ? ns : "-");
		list_dir(d, &l, n);
		free(d);
	} else {
		char *top;
		DIR *dd;
		struct dirent *de;
		if (asprintf(&top, "%s/objects/%s.%s", state_dir, k->plural,
			     *k->group ? k->group : "core") < 0)
			abort();
		dd = opendir(top);
		while (dd && (de = readdir(dd))) {
			char *d;
			if (de->d_name[0] == '.')
				continue;
			if (asprintf(&d, "%s/%s", top, de->d_name) < 0)
				abort();
			list_dir(d, &l, n);
			free(d);
		}
		if (dd)
			closedir(dd);
		free(top);
	}
	if (*n)
		qsort(l, *n, sizeof(*l), cmp_obj);
	return l;
}

void store_list_free(json_object **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_object_put(l[i]);
	free(l);
}

json_object *jmake(json_object *o, ...)
{
	va_list ap;
	const char *k;

	va_start(ap, o);
	while ((k = va_arg(ap, const char *))) {
		json_object *c;
		if (!json_object_object_get_ex(o, k, &c) ||
		    !json_object_is_type(c, json_type_object)) {
			c = json_object_new_object();
			json_object_object_add(o, k, c);
		}
		o = c;
	}
	va_end(ap);
	return o;
}

void jset_str(json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, json_object_new_string(v));
}

void set_condition(json_object *obj, const char *type, const char *status, const char *reason,
		   const char *message)
{
	json_object *st = jmake(obj, "status", NULL), *conds, *c = NULL;
	char ts[32];

	if (!json_object_object_get_ex(st, "conditions", &conds) ||
	    !json_object_is_type(conds, json_type_array)) {
		conds = json_object_new_array();
		json_object_object_add(st, "conditions", conds);
	}
	for (size_t i = 0; i < json_object_array_length(conds); i++) {
		const char *t = jstr(json_object_array_get_idx(conds, i), "type", NULL);
		if (t && !strcmp(t, type))
			c = json_object_array_get_idx(conds, i);
	}
	if (!c) {
		c = json_object_new_object();
		json_object_array_add(conds, c);
		jset_str(c, "type", type);
	}
	now_rfc3339(ts);
	jset_str(c, "status", status);
	if (reason)
		jset_str(c, "reason", reason);
	if (message)
		jset_str(c, "message", message);
	jset_str(c, "lastTransitionTime", ts);
}

bool condition_is(json_object *obj, const char *type, const char *status)
{
	json_object *conds = jget(obj, "status", "conditions", NULL);

	for (size_t i = 0; conds && i < json_object_array_length(conds); i++) {
		json_object *c = json_object_array_get_idx(conds, i);
		const char *t = jstr(c, "type", NULL), *s = jstr(c, "status", NULL);
		if (t && s && !strcmp(t, type) && !strcmp(s, status))
			return true;
	}
	return false;
}
