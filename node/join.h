/* SPDX-License-Identifier: MIT */
/* The steps of `farm-node join` (after k3s, unit farm-join.service): the
 * API answers, this node is registered, it is Ready. On the control plane
 * the stack (stack.h) is installed between the last two, since a node is
 * Ready only once its CNI (Cilium, the stack's first component) runs. */
#pragma once

#include "cluster.h"
#include "k3s.h"
#include "node.h"

/* The cluster as this node reaches it: the server through its admin
 * kubeconfig, an agent through its kubelet's credentials at node.yaml's
 * api-server. */
void join_cluster(const struct farm_node *n, struct cluster *c);

int step_k3s_api(struct farm_node *n, char *detail, size_t len);
int step_node_registered(struct farm_node *n, char *detail, size_t len);
int step_node_ready(struct farm_node *n, char *detail, size_t len);
