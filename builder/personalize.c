/* SPDX-License-Identifier: MIT */
/* The plan of a node's generated files (personalize.h): its identity and
 * farm-node here, the parts in their files (personalize-accounts.c,
 * personalize-nodeyaml.c, k3sconf.c, power.c), and the base files a build
 * reads as they stream past. */
#include "personalize.h"
#include "k3sconf.h"
#include "nodevars.h"
#include "power.h"
#include "stream.h"

int personalize_plan(const struct plan_input *in, const struct personal_inputs *pi, struct plan *p)
{
	const struct config *c = in->config;
	const struct config_node *n = in->node;
	char mid[33], *text;
	int r;

	/* Identity: the same machine-id after a reimage. */
	node_machine_id(c->cluster.name.v, n->name.v, mid);
	text = xasprintf("%s\n", mid);
	plan_add_text(p, "etc/machine-id", 0444, "farm-image (machine-id)", text);
	free(text);

	personalize_accounts(c, p);

	/* farm-node and what it needs to know about the node. */
	if (pi->farm_node)
		plan_add_source(p, "usr/local/bin/farm-node", 0755, "farm-node", pi->farm_node);
	r = personalize_node_yaml(p, c, n);
	if (r < 0)
		return r;

	/* Mount points of the data subvolumes, and farm's own state. */
	plan_add(p, PLAN_DIR, "var/lib/rancher", 0755, "farm-image (mount point)");
	plan_add(p, PLAN_DIR, ".snapshots", 0700, "farm-image (mount point)");
	plan_add(p, PLAN_DIR, "var/lib/farm", 0700, "farm-image (state)");

	r = k3s_plan(in, pi, p);
	if (r < 0)
		return r;
	power_plan(p, c, n, pi->power_key, pi->power_crt, pi->server_ca);
	return 0;
}

static struct capture captures[] = {
	{ .path = "etc/passwd" },     { .path = "etc/group" },
	{ .path = "etc/shadow" },     { .path = "etc/gshadow" },
	{ .path = "etc/ssh/moduli" }, { .path = "var/lib/dpkg/status", .keep = true },
};

struct capture *personalize_captures(size_t *n)
{
	*n = ELEMENTSOF(captures);
	return captures;
}

void personalize_captures_reset(struct capture *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].data);
		c[i].data = NULL;
		c[i].size = 0;
		c[i].found = false;
	}
}
