/* SPDX-License-Identifier: MIT */
#include "net.h"
#include "unit.h"
#include "util.h"

static bool pfx(int fam, const char *s, struct ip_prefix *p)
{
	return ip_prefix_parse(fam, s, p) == 0;
}

int main(void)
{
	struct ip_prefix a, b;
	struct ip_addr x;
	char buf[64];

	CHECK("ipv4 parse", ip_addr_parse(AF_INET, "192.168.14.1", &x) == 0);
	CHECK("ipv4 rejects 300", ip_addr_parse(AF_INET, "10.1.0.300", &x) < 0);
	CHECK("ipv4 rejects leading zero", ip_addr_parse(AF_INET, "10.01.0.1", &x) < 0);
	CHECK("ipv4 rejects 3 parts", ip_addr_parse(AF_INET, "10.1.0", &x) < 0);
	CHECK("ipv6 parse", ip_addr_parse(AF_INET6, "fd12:3456:789a:14::1", &x) == 0);
	CHECK("ipv6 rejects zone", ip_addr_parse(AF_INET6, "fe80::1%eth0", &x) < 0);
	CHECK("ipv6 rejects ipv4", ip_addr_parse(AF_INET6, "10.0.0.1", &x) < 0);

	CHECK("cidr parse", pfx(AF_INET, "10.42.0.0/16", &a) && a.len == 16);
	CHECK("cidr host bits", ip_prefix_parse(AF_INET, "10.42.0.1/16", &a) == -EADDRNOTAVAIL);
	CHECK("cidr /33", ip_prefix_parse(AF_INET, "10.0.0.0/33", &a) == -EINVAL);
	CHECK("cidr /08", ip_prefix_parse(AF_INET, "10.0.0.0/08", &a) == -EINVAL);
	CHECK("cidr no len", ip_prefix_parse(AF_INET, "10.0.0.0/", &a) == -EINVAL);
	CHECK("cidr6 /104", pfx(AF_INET6, "fd22:2025:6a6a:42::/104", &a) && a.len == 104);
	CHECK_STR("cidr6 format", "fd22:2025:6a6a:42::/104",
		  ip_prefix_to_string(&a, buf, sizeof(buf)));

	pfx(AF_INET, "10.42.0.0/16", &a);
	pfx(AF_INET, "10.43.0.0/16", &b);
	CHECK("no overlap", !ip_prefix_overlaps(&a, &b));
	pfx(AF_INET, "10.0.0.0/8", &b);
	CHECK("overlap contains", ip_prefix_overlaps(&a, &b) && ip_prefix_overlaps(&b, &a));
	pfx(AF_INET6, "fd00::/16", &a);
	pfx(AF_INET6, "fd00:1::/64", &b);
	CHECK("overlap6", ip_prefix_overlaps(&a, &b));
	pfx(AF_INET, "0.0.0.0/0", &b);
	CHECK("families never overlap", !ip_prefix_overlaps(&a, &b));

	pfx(AF_INET, "192.168.14.0/26", &a);
	ip_addr_parse(AF_INET, "192.168.14.63", &x);
	CHECK("contains last", ip_prefix_contains(&a, &x));
	CHECK("broadcast", ip_prefix_is_broadcast(&a, &x));
	ip_addr_parse(AF_INET, "192.168.14.64", &x);
	CHECK("outside", !ip_prefix_contains(&a, &x));
	ip_addr_parse(AF_INET, "192.168.14.0", &x);
	CHECK("network", ip_prefix_is_network(&a, &x));
	pfx(AF_INET, "10.0.0.0/31", &a);
	CHECK("/31 has no network address", !ip_prefix_is_network(&a, &x));

	{
		uint64_t v;
		CHECK("size MiB", parse_size("512MiB", &v) == 0 && v == 512 * MiB);
		CHECK("size G", parse_size("4G", &v) == 0 && v == 4 * GiB);
		CHECK("size bytes", parse_size("4096", &v) == 0 && v == 4096);
		CHECK("size junk", parse_size("12 parsecs", &v) < 0);
		CHECK("size negative", parse_size("-1", &v) < 0);
		CHECK("size overflow", parse_size("99999999999TiB", &v) == -ERANGE);
	}
	return UNIT_EXIT();
}
