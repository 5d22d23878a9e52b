/* SPDX-License-Identifier: MIT */
#include "nodeconf.h"
#include "log.h"

#define F CONF_FIELD

static const struct field power_fields[] = {
	F("lock-wait", FT_DURATION, struct nodeconf_power, lock_wait, .min = 1),
	F("release-wait", FT_DURATION, struct nodeconf_power, release_wait, .min = 1),
	F("scale-wait", FT_DURATION, struct nodeconf_power, scale_wait, .min = 1),
	F("workers-wait", FT_DURATION, struct nodeconf_power, workers_wait, .min = 1),
	F("drain", FT_DURATION, struct nodeconf_power, drain, .min = 1),
	F("stop", FT_DURATION, struct nodeconf_power, stop, .min = 1),
	F("startup-wait", FT_DURATION, struct nodeconf_power, startup_wait, .min = 1),
	{ 0 },
};
static const struct schema power_schema = { .what = "power", .fields = power_fields };

static const struct field node_fields[] = {
	F("cluster", FT_STRING, struct nodeconf, cluster, .required = true),
	F("node", FT_STRING, struct nodeconf, node, .required = true),
	F("role", FT_ENUM, struct nodeconf, role, .values = role_names, .required = true),
	F("admin-user", FT_STRING, struct nodeconf, admin_user, .required = true),
	F("data-partuuid", FT_STRING, struct nodeconf, data_partuuid, .required = true),
	F("disk", FT_STRING, struct nodeconf, disk),
	F("ceph-size", FT_SIZE, struct nodeconf, ceph_size),
	F("api-server", FT_STRING, struct nodeconf, api_server, .required = true),
	F("join-timeout", FT_DURATION, struct nodeconf, join_timeout, .min = 1),
	F("control-plane", FT_STRING, struct nodeconf, control_plane),
	F("cluster-dns", FT_STRING, struct nodeconf, cluster_dns),
	F("power", FT_MAP, struct nodeconf, power, .sub = &power_schema),
	{ 0 },
};
static const struct schema node_schema = { .what = "node.yaml", .fields = node_fields };

int nodeconf_load(const char *path, struct nodeconf *n)
{
	int r;

	*n = (struct nodeconf){ 0 };
	r = conf_file_open(path, &n->file);
	if (r < 0)
		return r;
	conf_load(&n->file, &node_schema, n);
	if (!n->join_timeout.m.set)
		n->join_timeout.v = NODECONF_JOIN_TIMEOUT;
	{
		static const struct {
			uint64_t lock_wait, release_wait, scale_wait, workers_wait, drain, stop,
				startup_wait;
		} d = NODECONF_POWER_DEFAULTS;
		struct nodeconf_power *p = &n->power;
		if (!p->lock_wait.m.set)
			p->lock_wait.v = d.lock_wait;
		if (!p->release_wait.m.set)
			p->release_wait.v = d.release_wait;
		if (!p->scale_wait.m.set)
			p->scale_wait.v = d.scale_wait;
		if (!p->workers_wait.m.set)
			p->workers_wait.v = d.workers_wait;
		if (!p->drain.m.set)
			p->drain.v = d.drain;
		if (!p->stop.m.set)
			p->stop.v = d.stop;
		if (!p->startup_wait.m.set)
			p->startup_wait.v = d.startup_wait;
	}
	return n->file.errors ? -EINVAL : 0;
}

void nodeconf_free(struct nodeconf *n)
{
	conf_free(&node_schema, n);
	conf_file_close(&n->file);
	*n = (struct nodeconf){ 0 };
}
