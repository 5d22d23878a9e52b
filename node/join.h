/* SPDX-License-Identifier: MIT */
/* The steps of `farm-node join` (after k3s, unit farm-join.service): the
 * API answers, this node is registered, it is Ready. On the control plane
 * the stack (stack.h) is installed between the last two, since a node is
 * Ready only once its CNI (Cilium, the stack's first component) runs. */
#pragma once

#include "cluster.h"
#include "node.h"

/* The k3s files farm-node reads the cluster's credentials from. */
/* The server's admin kubeconfig: k3s makes it with its certificates
 * (k3s pkg/daemons/control/deps/deps.go: DataDir/cred/admin.kubeconfig,
 * pointing at the API server on the loopback). */
#define K3S_SERVER_KUBECONFIG "var/lib/rancher/k3s/server/cred/admin.kubeconfig"
/* An agent's kubelet kubeconfig, which k3s agent writes once the server
 * has signed its certificates (pkg/agent/config/config.go: DataDir/agent/
 * kubelet.kubeconfig): the node's own identity, system:node:NAME, which
 * may read Node objects and no more than the node authorizer allows. */
#define K3S_KUBELET_KUBECONFIG "var/lib/rancher/k3s/agent/kubelet.kubeconfig"

/* The cluster as this node reaches it: the server through its admin
 * kubeconfig, an agent through its kubelet's credentials at node.yaml's
 * api-server. */
void join_cluster(const struct farm_node *n, struct cluster *c);

int step_k3s_api(struct farm_node *n, char *detail, size_t len);
int step_node_registered(struct farm_node *n, char *detail, size_t len);
int step_node_ready(struct farm_node *n, char *detail, size_t len);
