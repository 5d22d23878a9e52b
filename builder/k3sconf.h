/* SPDX-License-Identifier: MIT */
/* A node's k3s: its config.yaml (server or agent, NODE-SPEC.md "K3s"), the
 * join token, node password and, on the server, the cluster CA, the k3s
 * binary with its tools and the air-gap images, and what k3s needs of the
 * read-only root (the CNI mount points, the kubeconfig link). */
#pragma once

#include "personalize.h"

/* The node's config.yaml: every value a quoted YAML scalar (common/yamlout),
 * every key a flag of `k3s server` or `k3s agent` (checked by
 * tests/image/k3s.sh against k3s's own flag lists). Returns 0 and the text,
 * or -EINVAL after printing one message naming the node. */
int k3s_config_yaml(const struct config *c, const struct config_node *n, char **ret);

/* Adds the node's k3s files to P. */
int k3s_plan(const struct plan_input *in, const struct personal_inputs *pi, struct plan *p);
