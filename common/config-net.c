/* SPDX-License-Identifier: MIT */
/* The network checks of the cluster config: what k3s (kube-controller-
 * manager, the LoadBalancer pool of the stack) could not use is an error
 * with its position, not a cluster that comes up broken. */
#include "config-internal.h"

static void check_prefix_overlaps(struct config *c, const struct cprefix *const *p,
				  const char *const *names, size_t n)
{
	char a[64], b[64];

	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (p[i]->m.set && p[j]->m.set && ip_prefix_overlaps(&p[i]->v, &p[j]->v))
				config_error(c, p[j]->m.pos, "%s %s overlaps %s %s (line %u)",
					     names[j], ip_prefix_to_string(&p[j]->v, a, sizeof(a)),
					     names[i], ip_prefix_to_string(&p[i]->v, b, sizeof(b)),
					     p[i]->m.pos.line);
}

static bool range_contains(const struct crange *r, const struct ip_addr *a)
{
	return r->m.set && r->first.family == a->family && ip_addr_compare(&r->first, a) <= 0 &&
	       ip_addr_compare(a, &r->last) <= 0;
}

/* 2^BITS, saturated: how many node ranges a pod range holds. */
static uint64_t pow2(unsigned bits) { return bits >= 63 ? UINT64_MAX : (uint64_t)1 << bits; }

static void check_pods(struct config *c)
{
	const struct config_family_pair *pods = &c->network.pods;
	size_t nodes = c->nodes.n;
	char a[80];

	/* k3s leaves kube-controller-manager's IPv4 node mask at /24: each
	 * node gets a /24 of the pod range. */
	if (pods->ipv4.m.set) {
		if (pods->ipv4.v.len > KCM_NODE_MASK_IPV4)
			config_error(c, pods->ipv4.m.pos,
				     "network.pods: ipv4 %s is smaller than the /%u that "
				     "kube-controller-manager gives each node; use a /%u or larger",
				     ip_prefix_to_string(&pods->ipv4.v, a, sizeof(a)),
				     KCM_NODE_MASK_IPV4, KCM_NODE_MASK_IPV4);
		else if (pow2(KCM_NODE_MASK_IPV4 - pods->ipv4.v.len) < nodes)
			config_error(c, pods->ipv4.m.pos,
				     "network.pods: ipv4 %s has room for %llu node range%s of /%u, "
				     "not for %zu nodes",
				     ip_prefix_to_string(&pods->ipv4.v, a, sizeof(a)),
				     (unsigned long long)pow2(KCM_NODE_MASK_IPV4 -
							      pods->ipv4.v.len),
				     pods->ipv4.v.len == KCM_NODE_MASK_IPV4 ? "" : "s",
				     KCM_NODE_MASK_IPV4, nodes);
	}
	if (pods->ipv6.m.set) {
		unsigned mask = pods->ipv6_node_mask.m.set ? (unsigned)pods->ipv6_node_mask.v
							   : DEFAULT_IPV6_NODE_MASK;
		struct pos pos =
			pods->ipv6_node_mask.m.set ? pods->ipv6_node_mask.m.pos : pods->ipv6.m.pos;
		unsigned len = pods->ipv6.v.len;
		if (mask < len)
			config_error(c, pos,
				     "network.pods: ipv6-node-mask /%u is wider than the pod range /%u",
				     mask, len);
		else if (mask - len > KCM_MAX_NODE_MASK_DIFF)
			config_error(c, pos,
				     "network.pods: the IPv6 node mask /%u%s is more than %u bits "
				     "longer than the pod range /%u, which kube-controller-manager "
				     "refuses; use a pod range of /%u or longer, or a shorter mask",
				     mask, pods->ipv6_node_mask.m.set ? "" : " (the default)",
				     KCM_MAX_NODE_MASK_DIFF, len, mask - KCM_MAX_NODE_MASK_DIFF);
		else if (pow2(mask - len) < nodes)
			config_error(c, pos,
				     "network.pods: ipv6 /%u has room for %llu node range%s of /%u, "
				     "not for %zu nodes",
				     len, (unsigned long long)pow2(mask - len),
				     mask == len ? "" : "s", mask, nodes);
	}
}

/* A LoadBalancer pool hands out its addresses to services: none of them may
 * be an address the LAN already uses. */
static void check_pool(struct config *c, const struct crange *r, const struct cprefix *lan,
		       const struct caddr *gw, const char *fam)
{
	const struct caddrlist *dns = &c->network.lan.dns;
	char a[64], b[64];

	if (!r->m.set || !lan->m.set)
		return;
	if (!ip_prefix_contains(&lan->v, &r->first) || !ip_prefix_contains(&lan->v, &r->last)) {
		config_error(c, r->m.pos,
			     "network.loadbalancer: %s range is not inside the node LAN %s", fam,
			     ip_prefix_to_string(&lan->v, a, sizeof(a)));
		return;
	}
	if (ip_prefix_is_network(&lan->v, &r->first))
		config_error(c, r->m.pos,
			     "network.loadbalancer: %s range starts at %s, the network address of "
			     "%s",
			     fam, ip_addr_to_string(&r->first, a, sizeof(a)),
			     ip_prefix_to_string(&lan->v, b, sizeof(b)));
	if (ip_prefix_is_broadcast(&lan->v, &r->last))
		config_error(c, r->m.pos,
			     "network.loadbalancer: %s range ends at %s, the broadcast address of "
			     "%s",
			     fam, ip_addr_to_string(&r->last, a, sizeof(a)),
			     ip_prefix_to_string(&lan->v, b, sizeof(b)));
	if (gw->m.set && range_contains(r, &gw->v))
		config_error(c, r->m.pos,
			     "network.loadbalancer: %s range holds the gateway %s (line %u)", fam,
			     ip_addr_to_string(&gw->v, a, sizeof(a)), gw->m.pos.line);
	for (size_t i = 0; i < dns->n; i++)
		if (range_contains(r, &dns->v[i]))
			config_error(c, r->m.pos,
				     "network.loadbalancer: %s range holds the DNS server %s (line "
				     "%u)",
				     fam, ip_addr_to_string(&dns->v[i], a, sizeof(a)),
				     dns->vpos[i].line);
}

void config_check_network(struct config *c)
{
	struct config_network *n = &c->network;
	struct config_lan *lan = &n->lan;
	char a[64], b[64];

	if (lan->ipv4.m.set && lan->ipv4_gateway.m.set &&
	    (!ip_prefix_contains(&lan->ipv4.v, &lan->ipv4_gateway.v) ||
	     ip_prefix_is_network(&lan->ipv4.v, &lan->ipv4_gateway.v) ||
	     ip_prefix_is_broadcast(&lan->ipv4.v, &lan->ipv4_gateway.v)))
		config_error(c, lan->ipv4_gateway.m.pos,
			     "network.lan: ipv4-gateway %s is not a host address in %s",
			     ip_addr_to_string(&lan->ipv4_gateway.v, a, sizeof(a)),
			     ip_prefix_to_string(&lan->ipv4.v, b, sizeof(b)));
	if (lan->ipv6.m.set && lan->ipv6_gateway.m.set &&
	    (!ip_prefix_contains(&lan->ipv6.v, &lan->ipv6_gateway.v) ||
	     ip_prefix_is_network(&lan->ipv6.v, &lan->ipv6_gateway.v)))
		config_error(c, lan->ipv6_gateway.m.pos,
			     "network.lan: ipv6-gateway %s is not a host address in %s",
			     ip_addr_to_string(&lan->ipv6_gateway.v, a, sizeof(a)),
			     ip_prefix_to_string(&lan->ipv6.v, b, sizeof(b)));
	if (lan->dns.m.set && lan->dns.n == 0 && !c->file.errors)
		config_error(c, lan->dns.m.pos,
			     "network.lan: dns is empty; the nodes need at least one DNS server");

	{
		const struct cprefix *v4[] = { &lan->ipv4, &n->pods.ipv4, &n->services.ipv4 };
		const struct cprefix *v6[] = { &lan->ipv6, &n->pods.ipv6, &n->services.ipv6 };
		const char *names4[] = { "network.lan ipv4", "network.pods ipv4",
					 "network.services ipv4" };
		const char *names6[] = { "network.lan ipv6", "network.pods ipv6",
					 "network.services ipv6" };
		check_prefix_overlaps(c, v4, names4, 3);
		check_prefix_overlaps(c, v6, names6, 3);
	}
	check_pods(c);
	check_pool(c, &n->loadbalancer.ipv4, &lan->ipv4, &lan->ipv4_gateway, "ipv4");
	check_pool(c, &n->loadbalancer.ipv6, &lan->ipv6, &lan->ipv6_gateway, "ipv6");
}

void config_check_node_address(struct config *c, struct config_node *node, const struct caddr *ad,
			       const struct cprefix *lan, const struct caddr *gw,
			       const struct crange *lb)
{
	const char *fam = ad->v.family == AF_INET ? "ipv4" : "ipv6";
	char a[64], b[64];

	if (!ad->m.set || !lan->m.set)
		return;
	if (!ip_prefix_contains(&lan->v, &ad->v))
		config_error(c, ad->m.pos, "node '%s': %s %s is outside the node LAN %s",
			     node->name.v, fam, ip_addr_to_string(&ad->v, a, sizeof(a)),
			     ip_prefix_to_string(&lan->v, b, sizeof(b)));
	else if (ip_prefix_is_network(&lan->v, &ad->v) || ip_prefix_is_broadcast(&lan->v, &ad->v))
		config_error(c, ad->m.pos, "node '%s': %s %s is not a host address of %s",
			     node->name.v, fam, ip_addr_to_string(&ad->v, a, sizeof(a)),
			     ip_prefix_to_string(&lan->v, b, sizeof(b)));
	else if (gw->m.set && ip_addr_equal(&gw->v, &ad->v))
		config_error(c, ad->m.pos, "node '%s': %s %s is the gateway's address",
			     node->name.v, fam, ip_addr_to_string(&ad->v, a, sizeof(a)));
	else if (range_contains(lb, &ad->v))
		config_error(c, ad->m.pos,
			     "node '%s': %s %s is inside the LoadBalancer pool (line %u)",
			     node->name.v, fam, ip_addr_to_string(&ad->v, a, sizeof(a)),
			     lb->m.pos.line);
}
