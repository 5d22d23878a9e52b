/* SPDX-License-Identifier: MIT */
/* What every farm-node command works on: the node's root (a directory in
 * the tests, "" on the node), its node.yaml, its state directory. */
#pragma once

#include "nodeconf.h"

/* farm-node's state and step journal, under the root. */
#define FARM_STATE_DIR "var/lib/farm"

struct cluster;

struct farm_node {
	const char *root;	 /* "" on the node; a directory with --root */
	struct nodeconf conf;	 /* ROOT/etc/farm/node.yaml */
	char *state;		 /* ROOT/var/lib/farm */
	const char *data;	 /* storage: the data partition's device (--data) */
	struct cluster *cluster; /* join: how this node reaches the cluster (join.h) */
};

/* ROOT/REL (REL without a leading '/'), malloc'ed. */
char *node_path(const struct farm_node *n, const char *rel);
