/* SPDX-License-Identifier: MIT */
/* What the power cycle's parts share (powercycle.h): the credentials, the
 * Node objects and their annotations, systemctl, times; and the server's
 * step that applies the agents' rights. */
#include "powercycle.h"
#include "fileio.h"
#include "join.h"
#include "jsonq.h"
#include "log.h"
#include "process.h"
#include "steps.h"

#include <sys/stat.h>

/* The RBAC manifest farm-image renders into the server's image
 * (builder/power.h). */
#define POWER_RBAC "usr/lib/farm/power/rbac.yaml"

void power_cluster(const struct farm_node *n, struct cluster *c)
{
	if (n->conf.role.i == ROLE_SERVER)
		cluster_init(c, n->root, K3S_SERVER_KUBECONFIG, NULL);
	else
		cluster_init(c, n->root, POWER_KUBECONFIG, NULL);
	/* One request may take this long; every wait of the power cycle
	 * is bounded on its own and retries. */
	c->request_timeout = 15;
}

int power_systemctl(const struct farm_node *n, unsigned timeout, const char *const *args)
{
	_cleanup_free_ char *bin = node_path(n, "usr/bin/systemctl");
	_cleanup_free_ char *limit = xasprintf("%us", timeout);
	const char *argv[16];
	size_t i = 0;

	/* coreutils' timeout(1) bounds the wait for systemd's job (which goes
	 * on without us: the power off stops what is left). */
	argv[i++] = "timeout";
	argv[i++] = limit;
	argv[i++] = bin;
	for (; *args && i < ELEMENTSOF(argv) - 1; args++)
		argv[i++] = *args;
	argv[i] = NULL;
	return spawn_wait((char *const *)argv, 0);
}

const char *power_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "?");
	return buf;
}

int power_parse_time(const char *s, time_t *t)
{
	struct tm tm = { 0 };
	const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;

	if (!end || *end)
		return -EINVAL;
	*t = timegm(&tm);
	return 0;
}

json_object *power_annotation(json_object *obj, const char *key)
{
	const char *v = jstr(obj, "metadata", "annotations", key, NULL);
	json_object *j = v ? json_tokener_parse(v) : NULL;

	if (j && !json_object_is_type(j, json_type_object)) {
		json_object_put(j);
		j = NULL;
	}
	return j;
}

static bool node_ready(json_object *node)
{
	json_object *conds = jget(node, "status", "conditions", NULL);

	for (size_t i = 0; conds && i < json_object_array_length(conds); i++) {
		json_object *c = json_object_array_get_idx(conds, i);
		const char *type = jstr(c, "type", NULL), *status = jstr(c, "status", NULL);
		if (type && streq(type, "Ready"))
			return status && streq(status, "True");
	}
	return false;
}

enum cl_class power_list_nodes(const struct farm_node *n, struct cluster *c,
			       struct power_node **nodes, size_t *count, char *said, size_t len)
{
	const char *args[] = { "get", "nodes", "-o", "json", NULL };
	struct kubectl k;
	json_object *list = NULL, *items;
	enum cl_class cls = cluster_kubectl(c, args, NULL, 0, &k);

	*nodes = NULL;
	*count = 0;
	kubectl_said(&k, said, len);
	if (cls == CL_OK &&
	    (!(list = json_tokener_parse(k.out)) || !(items = jget(list, "items", NULL)) ||
	     !json_object_is_type(items, json_type_array))) {
		snprintf(said, len, "kubectl get nodes printed no list of nodes");
		cls = CL_FAILED;
	}
	kubectl_free(&k);
	if (cls != CL_OK) {
		json_object_put(list);
		return cls;
	}
	*nodes = xcalloc(json_object_array_length(items) + 1, sizeof(**nodes));
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *o = json_object_array_get_idx(items, i);
		const char *name = jstr(o, "metadata", "name", NULL);
		struct power_node *p = &(*nodes)[*count];
		if (!name)
			continue;
		snprintf(p->name, sizeof(p->name), "%s", name);
		p->ready = node_ready(o);
		p->server = n->conf.control_plane.v && streq(name, n->conf.control_plane.v);
		p->obj = json_object_get(o);
		(*count)++;
	}
	json_object_put(list);
	return CL_OK;
}

void power_nodes_free(struct power_node *nodes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_object_put(nodes[i].obj);
	free(nodes);
}

void power_read_shutdown_lock(json_object *node, struct shutdown_lock *l)
{
	json_object *a = power_annotation(node, POWER_ANN_SHUTDOWN_LOCK);
	const char *s;

	*l = (struct shutdown_lock){ 0 };
	if (!a)
		return;
	l->present = true;
	l->id = json_object_get_int64(jget(a, "id", NULL));
	snprintf(l->owner, sizeof(l->owner), "%s", (s = jstr(a, "owner", NULL)) ? s : "");
	snprintf(l->phase, sizeof(l->phase), "%s", (s = jstr(a, "phase", NULL)) ? s : "");
	snprintf(l->reason, sizeof(l->reason), "%s", (s = jstr(a, "reason", NULL)) ? s : "");
	if (power_parse_time(jstr(a, "started", NULL), &l->started) < 0 ||
	    power_parse_time(jstr(a, "until", NULL), &l->until) < 0 || !l->id || !l->owner[0])
		/* A lock we cannot read is a lock, held until it is repaired:
		 * but one with no expiry is treated as expired by readers, so
		 * that a damaged lock never holds workers for ever. */
		l->until = 0;
	json_object_put(a);
}

int step_power_rbac(struct farm_node *n, char *detail, size_t len)
{
	_cleanup_free_ char *path = node_path(n, POWER_RBAC);
	_cleanup_free_ char *text = NULL;
	struct kubectl k;
	char said[512];
	int r = read_file(path, &text, NULL, 1 << 20);

	if (r == -ENOENT) {
		snprintf(detail, len, "no agents' RBAC in this image (/%s)", POWER_RBAC);
		return 0;
	}
	if (r < 0)
		return log_error_errno(r, "Cannot read %s: %m", path);
	if (cluster_apply(n->cluster, text, &k) != CL_OK) {
		kubectl_said(&k, said, sizeof(said));
		r = log_error("Cannot apply the agents' power-cycle rights (/%s): %s (%s)",
			      POWER_RBAC, said, cl_class_name(k.cls));
		kubectl_free(&k);
		return r;
	}
	kubectl_free(&k);
	snprintf(detail, len, "the agents' power-cycle rights applied (/%s)", POWER_RBAC);
	return 0;
}

void power_boot_id(const struct farm_node *n, char *buf, size_t len)
{
	_cleanup_free_ char *p = node_path(n, "proc/sys/kernel/random/boot_id");
	_cleanup_free_ char *text = NULL;

	if (read_file(p, &text, NULL, 128) == 0)
		snprintf(buf, len, "%.*s", (int)strcspn(text, "\n"), text);
	else
		snprintf(buf, len, "unknown");
}

void power_info_gather(const struct farm_node *n, struct power_info *pi)
{
	struct record st;
	struct progress_note pn = { 0 };
	char boot[64];

	*pi = (struct power_info){ 0 };
	pi->have_shutdown = power_shutdown_position(n, &pi->id, pi->state, sizeof(pi->state),
						    &pi->when, pi->note, sizeof(pi->note)) == 0;
	if (journal_read(n->state, "power", "startup", &st) < 0)
		st.state = RECORD_DAMAGED;
	journal_read_progress(n->state, "startup", &pn);
	power_boot_id(n, boot, sizeof(boot));
	pi->startup_recorded = st.state == RECORD_DONE;
	pi->startup_this_boot = pi->startup_recorded && streq(st.hash, boot);
	pi->startup = pi->startup_this_boot	     ? "done"
		      : pn.state == PROGRESS_RUNNING ? "running"
		      : pn.state == PROGRESS_FAILED  ? "failed"
		      : st.state == RECORD_DAMAGED   ? "damaged"
						     : "pending";
	if (pi->startup_recorded && (pi->startup_this_boot || pn.state == PROGRESS_NONE)) {
		pi->startup_when = st.when;
		snprintf(pi->startup_detail, sizeof(pi->startup_detail), "%s", st.detail);
	} else if (pn.state == PROGRESS_RUNNING || pn.state == PROGRESS_FAILED) {
		pi->startup_when = pn.when;
		snprintf(pi->startup_detail, sizeof(pi->startup_detail), "%s", pn.text);
	}
	power_locks_gather(n, pi);
}

void power_info_free(struct power_info *pi)
{
	free(pi->locks);
	*pi = (struct power_info){ 0 };
}
