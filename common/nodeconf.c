/* SPDX-License-Identifier: MIT */
#include "nodeconf.h"
#include "log.h"

#define F CONF_FIELD

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
	return n->file.errors ? -EINVAL : 0;
}

void nodeconf_free(struct nodeconf *n)
{
	conf_free(&node_schema, n);
	conf_file_close(&n->file);
	*n = (struct nodeconf){ 0 };
}
