/* SPDX-License-Identifier: MIT */
/* The checks of the cluster config's nodes: names, disks, interfaces,
 * addresses, Kubernetes labels and taints, storage; a name or an address
 * used twice is reported once, against its first use. */
#include "config-internal.h"
#include "k8sname.h"

#include <ctype.h>
#include <strings.h>

/* The smallest device ceph-volume accepts for an OSD
 * (src/ceph-volume/ceph_volume/util/device.py: "Insufficient space
 * (<5GB)" below 5368709120 bytes). */
#define CEPH_MIN_SIZE (5 * GiB)

bool config_valid_dns_label(const char *s)
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

/* Sorting N items by a key to find, for each, the first earlier item with
 * the same key (or -1): O(n log n), so that a config of thousands of nodes
 * costs no more to check than to read. */
struct dup_sort {
	int (*cmp)(const struct config_node *a, const struct config_node *b);
	const struct config *c;
};

static int by_key_then_index(const void *x, const void *y, void *arg)
{
	const struct dup_sort *d = arg;
	size_t i = *(const size_t *)x, j = *(const size_t *)y;
	int r = d->cmp(config_node_at(d->c, i), config_node_at(d->c, j));

	return r ? r : (i > j) - (i < j);
}

/* FIRST[i]: the first node before i with an equal key, or -1. CMP returns
 * 2 (as "no key": never equal) when either has no key. */
static void first_equal(const struct config *c,
			int (*cmp)(const struct config_node *a, const struct config_node *b),
			ssize_t *first)
{
	struct dup_sort d = { cmp, c };
	size_t n = c->nodes.n, *idx = xmalloc((n ? n : 1) * sizeof(size_t));

	for (size_t i = 0; i < n; i++) {
		idx[i] = i;
		first[i] = -1;
	}
	qsort_r(idx, n, sizeof(size_t), by_key_then_index, &d);
	for (size_t i = 1, start = 0; i < n; i++) {
		const struct config_node *a = config_node_at(c, idx[start]),
					 *b = config_node_at(c, idx[i]);
		if (cmp(a, b) == 0)
			first[idx[i]] = (ssize_t)idx[start];
		else
			start = i;
	}
	free(idx);
}

/* Keys: a missing one sorts last and equals nothing. */
#define KEY_CMP(name, set_a, set_b, expr)                                                          \
	static int name(const struct config_node *a, const struct config_node *b)                  \
	{                                                                                          \
		if (!(set_a) || !(set_b))                                                          \
			return (set_a) ? -2 : (set_b) ? 2 : (a < b ? -2 : 2);                      \
		return (expr);                                                                     \
	}
/* Keys of nodes without a name (already an error) are left out too. */
#define HAS(x, f) ((x)->name.m.set && (x)->f.m.set)
KEY_CMP(cmp_name, a->name.m.set, b->name.m.set, strcmp(a->name.v, b->name.v))
KEY_CMP(cmp_ipv4, HAS(a, ipv4), HAS(b, ipv4), ip_addr_compare(&a->ipv4.v, &b->ipv4.v))
KEY_CMP(cmp_ipv6, HAS(a, ipv6), HAS(b, ipv6), ip_addr_compare(&a->ipv6.v, &b->ipv6.v))
KEY_CMP(cmp_mac, HAS(a, interface) && config_interface_is_mac(a->interface.v),
	HAS(b, interface) && config_interface_is_mac(b->interface.v),
	strcasecmp(a->interface.v, b->interface.v))

static void check_labels(struct config *c, const struct config_node *n)
{
	for (size_t i = 0; i < n->labels.n; i++) {
		const char *k = n->labels.keys[i], *v = n->labels.values[i], *why;
		if ((why = k8s_qualified_name_error(k)) || (why = k8s_node_label_error(k)))
			config_error(c, n->labels.kpos[i],
				     "node '%s': label key '%s' is not one the kubelet takes: %s",
				     n->name.v, k, why);
		else if ((why = k8s_label_value_error(v)))
			config_error(c, n->labels.vpos[i],
				     "node '%s': the value '%s' of label '%s' is not a Kubernetes "
				     "label value: %s",
				     n->name.v, v, k, why);
	}
}

static void check_taints(struct config *c, const struct config_node *n)
{
	struct k8s_taint *t = xcalloc(n->taints.n ? n->taints.n : 1, sizeof(*t));

	for (size_t i = 0; i < n->taints.n; i++) {
		const char *why = k8s_taint_parse(n->taints.v[i], &t[i]);
		if (why) {
			config_error(c, n->taints.vpos[i],
				     "node '%s': taint '%s' is not KEY[=VALUE]:EFFECT: %s",
				     n->name.v, n->taints.v[i], why);
			continue;
		}
		/* k8s ParseTaints: one taint per key and effect. */
		for (size_t j = 0; j < i; j++)
			if (streq(t[j].key, t[i].key) && streq(t[j].effect, t[i].effect)) {
				config_error(c, n->taints.vpos[i],
					     "node '%s': a second taint with key '%s' and effect %s "
					     "(first on line %u)",
					     n->name.v, t[i].key, t[i].effect,
					     n->taints.vpos[j].line);
				break;
			}
	}
	free(t);
}

static void check_storage(struct config *c, const struct config_node *n)
{
	char a[32];

	if (n->storage.ceph.m.set && n->storage.ceph.v && n->storage.ceph.v < CEPH_MIN_SIZE)
		config_error(c, n->storage.ceph.m.pos,
			     "node '%s': storage.ceph is %s, less than the 5 GiB ceph-volume "
			     "needs for an OSD",
			     n->name.v, format_size(n->storage.ceph.v, a, sizeof(a)));
	else if (n->storage.ceph.m.set && n->storage.ceph.v % MiB)
		config_error(c, n->storage.ceph.m.pos,
			     "node '%s': storage.ceph must be a whole number of MiB (partitions "
			     "are MiB-aligned)",
			     n->name.v);
	if (n->root_size.m.set && n->root_size.v % MiB)
		config_error(c, n->root_size.m.pos,
			     "node '%s': root-size must be a whole number of MiB", n->name.v);
}

void config_check_nodes(struct config *c)
{
	struct config_lan *lan = &c->network.lan;
	size_t servers = 0, n_nodes = c->nodes.n ? c->nodes.n : 1;
	ssize_t *dup_name = xmalloc(n_nodes * sizeof(ssize_t)),
		*dup_ipv4 = xmalloc(n_nodes * sizeof(ssize_t)),
		*dup_ipv6 = xmalloc(n_nodes * sizeof(ssize_t)),
		*dup_mac = xmalloc(n_nodes * sizeof(ssize_t));

	if (c->nodes.m.set && c->nodes.n == 0)
		config_error(c, c->nodes.m.pos, "nodes: the list is empty");
	first_equal(c, cmp_name, dup_name);
	first_equal(c, cmp_ipv4, dup_ipv4);
	first_equal(c, cmp_ipv6, dup_ipv6);
	first_equal(c, cmp_mac, dup_mac);

	for (size_t i = 0; i < c->nodes.n; i++) {
		struct config_node *n = config_node_at(c, i);
		char a[64];

		if (!n->name.m.set)
			continue;
		if (!config_valid_dns_label(n->name.v))
			config_error(c, n->name.m.pos,
				     "node '%s': name must be a host name (a-z, 0-9, '-', at "
				     "most 63)",
				     n->name.v);
		if (n->role.m.set && n->role.i == ROLE_SERVER)
			servers++;
		if (n->disk.m.set &&
		    (!*n->disk.v || strspn(n->disk.v, "abcdefghijklmnopqrstuvwxyz0123456789") !=
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
		if (n->kernel.m.set && n->board.m.set && !streq(n->board.v, "pi5"))
			config_error(c, n->kernel.m.pos,
				     "node '%s': kernel chooses the page size of a Raspberry Pi 5's "
				     "kernel; board %s boots the base's own",
				     n->name.v, n->board.v);
		config_check_node_address(c, n, &n->ipv4, &lan->ipv4, &lan->ipv4_gateway,
					  &c->network.loadbalancer.ipv4);
		config_check_node_address(c, n, &n->ipv6, &lan->ipv6, &lan->ipv6_gateway,
					  &c->network.loadbalancer.ipv6);
		check_labels(c, n);
		check_taints(c, n);
		check_storage(c, n);

		if (dup_name[i] >= 0)
			config_error(c, n->name.m.pos, "node '%s': name already used on line %u",
				     n->name.v,
				     config_node_at(c, (size_t)dup_name[i])->name.m.pos.line);
		if (dup_ipv4[i] >= 0) {
			const struct config_node *o = config_node_at(c, (size_t)dup_ipv4[i]);
			config_error(c, n->ipv4.m.pos,
				     "node '%s': ipv4 %s is already node '%s's (line %u)",
				     n->name.v, ip_addr_to_string(&n->ipv4.v, a, sizeof(a)),
				     o->name.v, o->ipv4.m.pos.line);
		}
		if (dup_ipv6[i] >= 0) {
			const struct config_node *o = config_node_at(c, (size_t)dup_ipv6[i]);
			config_error(c, n->ipv6.m.pos,
				     "node '%s': ipv6 %s is already node '%s's (line %u)",
				     n->name.v, ip_addr_to_string(&n->ipv6.v, a, sizeof(a)),
				     o->name.v, o->ipv6.m.pos.line);
		}
		if (dup_mac[i] >= 0) {
			const struct config_node *o = config_node_at(c, (size_t)dup_mac[i]);
			config_error(c, n->interface.m.pos,
				     "node '%s': MAC address %s is already node '%s's (line %u)",
				     n->name.v, n->interface.v, o->name.v, o->interface.m.pos.line);
		}
	}
	free(dup_name);
	free(dup_ipv4);
	free(dup_ipv6);
	free(dup_mac);
	for (size_t i = 0; i < c->nodes.n; i++)
		if (!config_node_at(c, i)->role.m.set)
			return; /* already reported; counting would only repeat it */
	if (c->nodes.n > 0 && servers != 1)
		config_error(c, c->nodes.m.pos,
			     "nodes: exactly one node must have role 'server' (found %zu)",
			     servers);
}
