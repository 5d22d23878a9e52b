/* SPDX-License-Identifier: MIT */
#include "nodeconf.h"
#include "log.h"
#include "yamlout.h"

#include <inttypes.h>

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

/* In the order nodeconf_write() writes them. */
static const struct field node_fields[] = {
	F("cluster", FT_STRING, struct nodeconf, cluster, .required = true),
	F("node", FT_STRING, struct nodeconf, node, .required = true),
	F("role", FT_ENUM, struct nodeconf, role, .values = role_names, .required = true),
	F("admin-user", FT_STRING, struct nodeconf, admin_user, .required = true),
	F("data-partuuid", FT_STRING, struct nodeconf, data_partuuid, .required = true),
	F("api-server", FT_STRING, struct nodeconf, api_server, .required = true),
	F("control-plane", FT_STRING, struct nodeconf, control_plane),
	F("cluster-dns", FT_STRING, struct nodeconf, cluster_dns),
	F("disk", FT_STRING, struct nodeconf, disk),
	F("ceph-size", FT_SIZE, struct nodeconf, ceph_size),
	F("join-timeout", FT_DURATION, struct nodeconf, join_timeout, .min = 1),
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
	/* Each wait node.yaml does not bound: its default, field by field of
	 * the schema, so that a new wait needs only its row and its default. */
	for (const struct field *f = power_fields; f->key; f++) {
		static const struct nodeconf_power defaults = NODECONF_POWER_DEFAULTS;
		struct cuint *v = (struct cuint *)((char *)&n->power + f->offset);
		if (!v->m.set)
			v->v = ((const struct cuint *)((const char *)&defaults + f->offset))->v;
	}
	return n->file.errors ? -EINVAL : 0;
}

void nodeconf_free(struct nodeconf *n)
{
	conf_free(&node_schema, n);
	conf_file_close(&n->file);
	*n = (struct nodeconf){ 0 };
}

/* A duration as the loader reads it: "1h30m", "90s". */
static void format_duration(uint64_t s, char *buf, size_t len)
{
	int n = 0;

	if (s >= 3600)
		n += snprintf(buf + n, len - (size_t)n, "%" PRIu64 "h", s / 3600);
	if (s % 3600 >= 60)
		n += snprintf(buf + n, len - (size_t)n, "%" PRIu64 "m", s % 3600 / 60);
	if (s % 60 || !s)
		snprintf(buf + n, len - (size_t)n, "%" PRIu64 "s", s % 60);
}

/* The fields of OBJ that are set, per SCHEMA, in its order. */
static void write_map(struct yaml_out *y, const struct schema *schema, const void *obj)
{
	for (const struct field *f = schema->fields; f->key; f++) {
		const void *p = (const char *)obj + f->offset;
		char buf[64];

		if (!((const struct cmeta *)p)->set)
			continue;
		switch (f->type) {
		case FT_STRING:
			yaml_out_str(y, f->key, ((const struct cstr *)p)->v);
			break;
		case FT_ENUM:
			yaml_out_str(y, f->key, f->values[((const struct cenum *)p)->i]);
			break;
		case FT_SIZE: {
			/* Sizes carry their unit (conf.h): whole MiB, or bytes. */
			uint64_t v = ((const struct cuint *)p)->v;
			if (v % MiB == 0)
				snprintf(buf, sizeof(buf), "%" PRIu64 "MiB", v / MiB);
			else
				snprintf(buf, sizeof(buf), "%" PRIu64 "B", v);
			yaml_out_plain(y, f->key, buf);
			break;
		}
		case FT_DURATION:
			format_duration(((const struct cuint *)p)->v, buf, sizeof(buf));
			yaml_out_plain(y, f->key, buf);
			break;
		case FT_MAP:
			yaml_out_map_begin(y, f->key);
			write_map(y, f->sub, p);
			yaml_out_map_end(y);
			break;
		default:
			abort(); /* no such field in node.yaml */
		}
	}
}

int nodeconf_write(const struct nodeconf *n, char **text)
{
	struct yaml_out *y = yaml_out_new();
	_cleanup_free_ char *body = NULL, *why = NULL;

	/* Every string double-quoted: a node named "null" (a valid host
	 * name) is a string to farm-node, not YAML's null. */
	write_map(y, &node_schema, n);
	if (yaml_out_finish(y, &body, &why) < 0)
		return log_error("Cannot write %s for node %s: %s", NODECONF_PATH, n->node.v, why);
	*text = xasprintf("# farm-node's view of node %s, written by farm-image.\n%s", n->node.v,
			  body);
	return 0;
}
