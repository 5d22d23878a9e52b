/* SPDX-License-Identifier: MIT */
/* The cluster config's checks, in parts (config.c calls them). */
#pragma once

#include "config.h"

/* kube-controller-manager's node mask for IPv4 pod ranges, which k3s leaves
 * at its default (cmd/kube-controller-manager/app/core.go:
 * defaultNodeMaskCIDRIPv4 = 24). */
#define KCM_NODE_MASK_IPV4 24
/* How much longer a node's IPv6 pod range may be than the cluster's
 * (pkg/controller/nodeipam/ipam/cidrset/cidr_set.go: clusterSubnetMaxDiff). */
#define KCM_MAX_NODE_MASK_DIFF 16
/* The node mask farm writes for IPv6 pods unless the config sets one. */
#define DEFAULT_IPV6_NODE_MASK 120

/* The LAN, pod, service and LoadBalancer ranges (config-net.c). */
void config_check_network(struct config *c);
/* One node's address of one family against the LAN (config-net.c). */
void config_check_node_address(struct config *c, struct config_node *node, const struct caddr *ad,
			       const struct cprefix *lan, const struct caddr *gw,
			       const struct crange *lb);

/* The nodes (config-node.c). */
void config_check_nodes(struct config *c);
/* An RFC 1123 label: a-z, 0-9 and '-' (not at the ends), at most 63. */
bool config_valid_dns_label(const char *s);
