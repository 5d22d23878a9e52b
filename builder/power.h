/* SPDX-License-Identifier: MIT */
/* The power cycle's files in the images (NODE-SPEC.md, "Power cycle"):
 *
 * - every agent gets its own credentials (power-identity.h) under
 *   /etc/farm/power/: client.key (0600), client.crt, the cluster's server CA
 *   (server-ca.crt, to know the API server) and a kubeconfig naming them,
 *   pointed at the API name directly, not at k3s-agent's load balancer on
 *   127.0.0.1:6444, so that farm-node can still report after k3s-agent
 *   has stopped;
 * - the server gets /usr/lib/farm/power/rbac.yaml: the ClusterRoles and
 *   bindings that give those users exactly what the power cycle needs
 *   (power_rules below), applied by the server's farm-node.
 *
 * The power cycle keeps its locks and reports as annotations on the Node
 * objects (farm-node's power.h has the keys), not in ConfigMaps: RBAC can
 * restrict patching a Node to the node's own name, but it cannot restrict
 * creating a ConfigMap by name, so ConfigMap locks would let any worker
 * forge the control plane's shutdown lock or another worker's "done". */
#pragma once

#include "config.h"
#include "plan.h"

#include <stdbool.h>

#define POWER_DIR	 "etc/farm/power"
#define POWER_KUBECONFIG POWER_DIR "/kubeconfig"
#define POWER_RBAC_PATH	 FARM_LIB_POWER "/rbac.yaml"
#define FARM_LIB_POWER	 "usr/lib/farm/power"

/* One RBAC rule of the power cycle, with why the power cycle needs it. */
struct power_rule {
	const char *group;    /* API group: "" (core) or "apps" */
	const char *resource; /* "nodes", "pods/eviction" */
	const char *verbs[3];
	bool own_node; /* resourceNames: [the node] (a per-node ClusterRole) */
	const char *why;
};

extern const struct power_rule power_rules[];
extern const size_t n_power_rules;

/* The RBAC manifest of config C (every agent's user), malloc'ed YAML. */
char *power_rbac_yaml(const struct config *c);
/* The kubeconfig of agent N. */
char *power_kubeconfig(const struct config *c, const struct config_node *n);

struct secret_file;
/* Adds the power cycle's files of node N to P: for an agent its key,
 * certificate, the server CA and the kubeconfig (KEY, CRT, SERVER_CA may be
 * NULL when a test builds without secrets: then nothing); for the server
 * the RBAC manifest. */
void power_plan(struct plan *p, const struct config *c, const struct config_node *n,
		const struct secret_file *key, const struct secret_file *crt,
		const struct secret_file *server_ca);

struct ext4_writer;
/* Once the base is in ROOT: what the power timer (an overlay template)
 * needs of it, its time zone. Prints one message and returns -EINVAL when
 * the base lacks it. */
int power_check_base(const struct config *c, struct ext4_writer *root, const char *base);
