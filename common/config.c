/* SPDX-License-Identifier: MIT */
#include "config.h"
#include "log.h"

#include <ctype.h>
#include <libgen.h>
#include <strings.h>

#define F CONF_FIELD

static const struct field lan_fields[] = {
	F("ipv4", FT_PREFIX4, struct config_lan, ipv4, .required = true),
	F("ipv4-gateway", FT_IPV4, struct config_lan, ipv4_gateway, .required = true),
	F("ipv6", FT_PREFIX6, struct config_lan, ipv6, .required = true),
	F("ipv6-gateway", FT_IPV6, struct config_lan, ipv6_gateway, .required = true),
	F("dns", FT_ADDRLIST, struct config_lan, dns, .required = true),
	{ 0 },
};
static const struct schema lan_schema = { .what = "network.lan", .fields = lan_fields };

static const struct field pods_fields[] = {
	F("ipv4", FT_PREFIX4, struct config_family_pair, ipv4, .required = true),
	F("ipv6", FT_PREFIX6, struct config_family_pair, ipv6, .required = true),
	F("ipv6-node-mask", FT_UINT, struct config_family_pair, ipv6_node_mask, .min = 64,
	  .max = 124),
	{ 0 },
};
static const struct schema pods_schema = { .what = "network.pods", .fields = pods_fields };

static const struct field services_fields[] = {
	F("ipv4", FT_PREFIX4, struct config_family_pair, ipv4, .required = true),
	F("ipv6", FT_PREFIX6, struct config_family_pair, ipv6, .required = true),
	{ 0 },
};
static const struct schema services_schema = { .what = "network.services",
					       .fields = services_fields };

static const struct field lb_fields[] = {
	F("ipv4", FT_RANGE4, struct config_lb, ipv4),
	F("ipv6", FT_RANGE6, struct config_lb, ipv6),
	{ 0 },
};
static const struct schema lb_schema = { .what = "network.loadbalancer", .fields = lb_fields };

static const struct field network_fields[] = {
	F("lan", FT_MAP, struct config_network, lan, .sub = &lan_schema, .required = true),
	F("pods", FT_MAP, struct config_network, pods, .sub = &pods_schema, .required = true),
	F("services", FT_MAP, struct config_network, services, .sub = &services_schema,
	  .required = true),
	F("loadbalancer", FT_MAP, struct config_network, loadbalancer, .sub = &lb_schema),
	{ 0 },
};
static const struct schema network_schema = { .what = "network", .fields = network_fields };

static const struct field cluster_fields[] = {
	F("name", FT_STRING, struct config_cluster, name, .required = true),
	F("domain", FT_STRING, struct config_cluster, domain, .required = true),
	F("api-name", FT_STRING, struct config_cluster, api_name),
	{ 0 },
};
static const struct schema cluster_schema = { .what = "cluster", .fields = cluster_fields };

static const struct field k3s_fields[] = {
	F("version", FT_STRING, struct config_k3s, version, .required = true),
	{ 0 },
};
static const struct schema k3s_schema = { .what = "k3s", .fields = k3s_fields };

static const struct field admin_fields[] = {
	F("user", FT_STRING, struct config_admin, user, .required = true),
	F("authorized-keys", FT_STRLIST, struct config_admin, authorized_keys, .required = true),
	{ 0 },
};
static const struct schema admin_schema = { .what = "admin", .fields = admin_fields };

static const struct field power_fields[] = {
	F("enabled", FT_BOOL, struct config_power, enabled),
	F("shutdown", FT_TIME, struct config_power, shutdown),
	F("timezone", FT_STRING, struct config_power, timezone),
	{ 0 },
};
static const struct schema power_schema = { .what = "power", .fields = power_fields };

static const struct field storage_fields[] = {
	F("ceph", FT_SIZE, struct config_storage, ceph),
	{ 0 },
};
static const struct schema storage_schema = { .what = "storage", .fields = storage_fields };

static const char *const roles[] = { "server", "agent", NULL };

static const struct field node_fields[] = {
	F("name", FT_STRING, struct config_node, name, .required = true),
	F("board", FT_STRING, struct config_node, board, .required = true),
	F("role", FT_ENUM, struct config_node, role, .values = roles, .required = true),
	F("ipv4", FT_IPV4, struct config_node, ipv4, .required = true),
	F("ipv6", FT_IPV6, struct config_node, ipv6, .required = true),
	F("disk", FT_STRING, struct config_node, disk),
	F("interface", FT_STRING, struct config_node, interface),
	F("pcie-gen", FT_UINT, struct config_node, pcie_gen, .min = 2, .max = 3),
	F("root-size", FT_SIZE, struct config_node, root_size),
	F("labels", FT_STRMAP, struct config_node, labels),
	F("taints", FT_STRLIST, struct config_node, taints),
	F("storage", FT_MAP, struct config_node, storage, .sub = &storage_schema),
	{ 0 },
};
static const struct schema node_schema = {
	.what = "node", .name_key = "name", .size = sizeof(struct config_node), .fields = node_fields
};

static const struct field top_fields[] = {
	F("cluster", FT_MAP, struct config, cluster, .sub = &cluster_schema, .required = true),
	F("k3s", FT_MAP, struct config, k3s, .sub = &k3s_schema, .required = true),
	F("network", FT_MAP, struct config, network, .sub = &network_schema, .required = true),
	F("admin", FT_MAP, struct config, admin, .sub = &admin_schema, .required = true),
	F("power", FT_MAP, struct config, power, .sub = &power_schema),
	F("stack", FT_STRLIST, struct config, stack),
	F("nodes", FT_LIST, struct config, nodes, .sub = &node_schema, .required = true),
	{ 0 },
};
static const struct schema top_schema = { .what = "config", .fields = top_fields };

static const char *const known_components[] = {
	"cilium",  "coredns", "cert-manager",	"trust-manager", "traefik",
	"argocd",  "rook-ceph", "cloudnative-pg", "monitoring",	 NULL,
};

/* RFC 1123 label: lower case letters, digits, '-', not at the ends. */
static bool valid_label(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (const char *p = s; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-'))
			return false;
	return true;
}

bool config_interface_is_mac(const char *s)
{
	for (int i = 0; i < 17; i++)
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return false;
	return s[17] == 0;
}

/* An interface name or glob (systemd.link's Name=): one or more
 * space-separated patterns of at most 15 characters (IFNAMSIZ - 1). */
static bool valid_interface_name(const char *s)
{
	size_t words = 0;

	for (const char *p = s; *p;) {
		size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				     "0123456789_.-*?");
		if (n == 0 || n > 15 || (p[n] && p[n] != ' ') || (p[n] == ' ' && !p[n + 1]))
			return false;
		words++;
		p += n + (p[n] == ' ');
	}
	return words > 0;
}

static bool valid_domain(const char *s)
{
	_cleanup_free_ char *copy = xstrdup(s);
	char *save = NULL;

	if (strlen(s) > 253 || !*s || s[strlen(s) - 1] == '.' || strstr(s, ".."))
		return false;
	for (char *l = strtok_r(copy, ".", &save); l; l = strtok_r(NULL, ".", &save))
		if (!valid_label(l))
			return false;
	return true;
}

static bool valid_user(const char *s)
{
	if (!*s || strlen(s) > 32 || !(islower((unsigned char)*s) || *s == '_'))
		return false;
	for (const char *p = s; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' ||
		      *p == '-'))
			return false;
	return true;
}

static bool valid_ssh_key(const char *s)
{
	static const char *const types[] = {
		"ssh-ed25519",
		"ssh-rsa",
		"ecdsa-sha2-nistp256",
		"ecdsa-sha2-nistp384",
		"ecdsa-sha2-nistp521",
		"sk-ssh-ed25519@openssh.com",
		"sk-ecdsa-sha2-nistp256@openssh.com",
	};
	const char *sp = strchr(s, ' '), *b;

	if (!sp || strchr(s, '\n'))
		return false;
	for (size_t i = 0; i < ELEMENTSOF(types); i++) {
		if ((size_t)(sp - s) != strlen(types[i]) || strncmp(s, types[i], strlen(types[i])))
			continue;
		b = sp + 1;
		if (strspn(b, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") <
		    16)
			return false;
		return true;
	}
	return false;
}

/* "key=value:Effect" or "key:Effect". */
static bool valid_taint(const char *s)
{
	const char *colon = strrchr(s, ':');

	if (!colon || colon == s)
		return false;
	return streq(colon + 1, "NoSchedule") || streq(colon + 1, "PreferNoSchedule") ||
	       streq(colon + 1, "NoExecute");
}

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

static void check_network(struct config *c)
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

	if (n->pods.ipv6.m.set && n->pods.ipv6_node_mask.m.set &&
	    n->pods.ipv6_node_mask.v < n->pods.ipv6.v.len)
		config_error(c, n->pods.ipv6_node_mask.m.pos,
			     "network.pods: ipv6-node-mask /%llu is wider than the pod range /%u",
			     (unsigned long long)n->pods.ipv6_node_mask.v, n->pods.ipv6.v.len);

	for (int fam = 0; fam < 2; fam++) {
		const struct crange *r = fam ? &n->loadbalancer.ipv6 : &n->loadbalancer.ipv4;
		const struct cprefix *p = fam ? &lan->ipv6 : &lan->ipv4;
		if (r->m.set && p->m.set &&
		    (!ip_prefix_contains(&p->v, &r->first) || !ip_prefix_contains(&p->v, &r->last)))
			config_error(c, r->m.pos,
				     "network.loadbalancer: %s range is not inside the node LAN %s",
				     fam ? "ipv6" : "ipv4",
				     ip_prefix_to_string(&p->v, a, sizeof(a)));
	}
}

static void check_node_address(struct config *c, struct config_node *node, const struct caddr *ad,
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

static void check_nodes(struct config *c)
{
	struct config_lan *lan = &c->network.lan;
	size_t servers = 0;

	if (c->nodes.m.set && c->nodes.n == 0)
		config_error(c, c->nodes.m.pos, "nodes: the list is empty");

	for (size_t i = 0; i < c->nodes.n; i++) {
		struct config_node *n = config_node_at(c, i);

		if (!n->name.m.set)
			continue;
		if (!valid_label(n->name.v))
			config_error(c, n->name.m.pos,
				     "node '%s': name must be a host name (a-z, 0-9, '-', at "
				     "most 63)",
				     n->name.v);
		if (n->role.m.set && streq(n->role.v, "server"))
			servers++;
		if (n->disk.m.set && (!*n->disk.v || strspn(n->disk.v,
							    "abcdefghijklmnopqrstuvwxyz0123456789") !=
							     strlen(n->disk.v)))
			config_error(c, n->disk.m.pos,
				     "node '%s': disk '%s' is not a kernel disk name such as "
				     "nvme0n1 or sda",
				     n->name.v, n->disk.v);
		if (n->interface.m.set && !config_interface_is_mac(n->interface.v) &&
		    !valid_interface_name(n->interface.v))
			config_error(c, n->interface.m.pos,
				     "node '%s': interface '%s' is neither a MAC address "
				     "(aa:bb:cc:dd:ee:ff) nor an interface name or pattern such as "
				     "enp1s0 or en*",
				     n->name.v, n->interface.v);
		check_node_address(c, n, &n->ipv4, &lan->ipv4, &lan->ipv4_gateway,
				   &c->network.loadbalancer.ipv4);
		check_node_address(c, n, &n->ipv6, &lan->ipv6, &lan->ipv6_gateway,
				   &c->network.loadbalancer.ipv6);
		for (size_t t = 0; t < n->taints.n; t++)
			if (!valid_taint(n->taints.v[t]))
				config_error(c, n->taints.vpos[t],
					     "node '%s': taint '%s' is not KEY[=VALUE]:EFFECT with "
					     "EFFECT NoSchedule, PreferNoSchedule or NoExecute",
					     n->name.v, n->taints.v[t]);

		for (size_t j = 0; j < i; j++) {
			struct config_node *o = config_node_at(c, j);
			char a[64];
			if (!o->name.m.set)
				continue;
			if (streq(o->name.v, n->name.v))
				config_error(c, n->name.m.pos,
					     "node '%s': name already used on line %u", n->name.v,
					     o->name.m.pos.line);
			if (n->ipv4.m.set && o->ipv4.m.set && ip_addr_equal(&n->ipv4.v, &o->ipv4.v))
				config_error(c, n->ipv4.m.pos,
					     "node '%s': ipv4 %s is already node '%s's (line %u)",
					     n->name.v, ip_addr_to_string(&n->ipv4.v, a, sizeof(a)),
					     o->name.v, o->ipv4.m.pos.line);
			if (n->ipv6.m.set && o->ipv6.m.set && ip_addr_equal(&n->ipv6.v, &o->ipv6.v))
				config_error(c, n->ipv6.m.pos,
					     "node '%s': ipv6 %s is already node '%s's (line %u)",
					     n->name.v, ip_addr_to_string(&n->ipv6.v, a, sizeof(a)),
					     o->name.v, o->ipv6.m.pos.line);
			if (n->interface.m.set && o->interface.m.set &&
			    config_interface_is_mac(n->interface.v) &&
			    strcasecmp(n->interface.v, o->interface.v) == 0)
				config_error(c, n->interface.m.pos,
					     "node '%s': MAC address %s is already node '%s's (line %u)",
					     n->name.v, n->interface.v, o->name.v,
					     o->interface.m.pos.line);
		}
	}
	for (size_t i = 0; i < c->nodes.n; i++)
		if (!config_node_at(c, i)->role.m.set)
			return; /* already reported; counting would only repeat it */
	if (c->nodes.n > 0 && servers != 1)
		config_error(c, c->nodes.m.pos,
			     "nodes: exactly one node must have role 'server' (found %zu)",
			     servers);
}

static void check_rest(struct config *c)
{
	if (c->cluster.name.m.set && !valid_label(c->cluster.name.v))
		config_error(c, c->cluster.name.m.pos,
			     "cluster: name '%s' must be a DNS label (a-z, 0-9, '-', at most 63)",
			     c->cluster.name.v);
	if (c->cluster.domain.m.set && !valid_domain(c->cluster.domain.v))
		config_error(c, c->cluster.domain.m.pos, "cluster: domain '%s' is not a DNS name",
			     c->cluster.domain.v);
	if (c->cluster.api_name.m.set && !valid_domain(c->cluster.api_name.v))
		config_error(c, c->cluster.api_name.m.pos,
			     "cluster: api-name '%s' is not a DNS name", c->cluster.api_name.v);
	if (c->admin.user.m.set && (!valid_user(c->admin.user.v) || streq(c->admin.user.v, "root")))
		config_error(c, c->admin.user.m.pos,
			     "admin: user '%s' must be a login name other than root (a-z, 0-9, "
			     "'_', '-')",
			     c->admin.user.v);
	if (c->admin.authorized_keys.m.set && c->admin.authorized_keys.n == 0 && !c->file.errors)
		config_error(c, c->admin.authorized_keys.m.pos,
			     "admin: authorized-keys is empty; nobody could log in");
	for (size_t i = 0; i < c->admin.authorized_keys.n; i++)
		if (!valid_ssh_key(c->admin.authorized_keys.v[i]))
			config_error(c, c->admin.authorized_keys.vpos[i],
				     "admin: authorized-keys entry %zu is not an OpenSSH public key "
				     "line (TYPE BASE64 [COMMENT])",
				     i + 1);
	for (size_t i = 0; i < c->stack.n; i++) {
		bool known = false;
		for (const char *const *k = known_components; *k; k++)
			known |= streq(*k, c->stack.v[i]);
		if (!known)
			config_error(c, c->stack.vpos[i], "stack: unknown component '%s'",
				     c->stack.v[i]);
		for (size_t j = 0; j < i; j++)
			if (streq(c->stack.v[i], c->stack.v[j]))
				config_error(c, c->stack.vpos[i],
					     "stack: component '%s' is listed twice", c->stack.v[i]);
	}
}

int config_load(const char *path, struct config *c)
{
	_cleanup_free_ char *copy = xstrdup(path);
	int r;

	*c = (struct config){ 0 };
	c->dir = xstrdup(dirname(copy));
	r = conf_file_open(path, &c->file);
	if (r < 0)
		return r;
	conf_load(&c->file, &top_schema, c);
	check_network(c);
	check_nodes(c);
	check_rest(c);
	if (c->file.errors)
		return -EINVAL;

	if (!c->cluster.api_name.m.set) {
		c->cluster.api_name.v = xasprintf("k3s.%s", c->cluster.domain.v);
		c->cluster.api_name.m.set = true;
	}
	if (!c->network.pods.ipv6_node_mask.m.set)
		c->network.pods.ipv6_node_mask.v = 120;
	if (!c->power.enabled.m.set)
		c->power.enabled.v = c->power.shutdown.m.set;
	return 0;
}

void config_free(struct config *c)
{
	conf_free(&top_schema, c);
	conf_file_close(&c->file);
	free(c->dir);
	*c = (struct config){ 0 };
}

struct config_node *config_find_node(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->nodes.n; i++)
		if (streq(config_node_at(c, i)->name.v, name))
			return config_node_at(c, i);
	return NULL;
}
