/* SPDX-License-Identifier: MIT */
#include "net.h"
#include "util.h"

#include <arpa/inet.h>

static size_t family_size(int family) { return family == AF_INET ? 4 : 16; }

unsigned ip_addr_bits(const struct ip_addr *a) { return a->family == AF_INET ? 32 : 128; }

int ip_addr_parse(int family, const char *s, struct ip_addr *ret)
{
	struct ip_addr a = { .family = family };

	if (!s || strchr(s, '%')) /* no zone ids in static configs */
		return -EINVAL;
	if (inet_pton(family, s, a.bytes) != 1)
		return -EINVAL;
	*ret = a;
	return 0;
}

static bool bit(const struct ip_addr *a, unsigned i)
{
	return (a->bytes[i / 8] >> (7 - i % 8)) & 1;
}

int ip_prefix_parse(int family, const char *s, struct ip_prefix *ret)
{
	const char *slash = s ? strchr(s, '/') : NULL;
	char addr[64], *end;
	unsigned long len;
	struct ip_prefix p;

	if (!slash || (size_t)(slash - s) >= sizeof(addr) || !slash[1])
		return -EINVAL;
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = 0;
	if (ip_addr_parse(family, addr, &p.addr) < 0)
		return -EINVAL;
	if (slash[1] == '0' && slash[2])
		return -EINVAL; /* no leading zeros */
	errno = 0;
	len = strtoul(slash + 1, &end, 10);
	if (errno || *end || len > ip_addr_bits(&p.addr) || slash[1] == '-' || slash[1] == '+')
		return -EINVAL;
	p.len = (unsigned)len;
	for (unsigned i = p.len; i < ip_addr_bits(&p.addr); i++)
		if (bit(&p.addr, i))
			return -EADDRNOTAVAIL;
	*ret = p;
	return 0;
}

const char *ip_addr_to_string(const struct ip_addr *a, char *buf, size_t len)
{
	if (!inet_ntop(a->family, a->bytes, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

const char *ip_prefix_to_string(const struct ip_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	snprintf(buf, len, "%s/%u", ip_addr_to_string(&p->addr, a, sizeof(a)), p->len);
	return buf;
}

bool ip_addr_equal(const struct ip_addr *a, const struct ip_addr *b)
{
	return a->family == b->family && memcmp(a->bytes, b->bytes, family_size(a->family)) == 0;
}

int ip_addr_compare(const struct ip_addr *a, const struct ip_addr *b)
{
	return memcmp(a->bytes, b->bytes, family_size(a->family));
}

static bool same_bits(const struct ip_addr *a, const struct ip_addr *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (bit(a, i) != bit(b, i))
			return false;
	return true;
}

bool ip_prefix_contains(const struct ip_prefix *p, const struct ip_addr *a)
{
	return p->addr.family == a->family && same_bits(&p->addr, a, p->len);
}

bool ip_prefix_overlaps(const struct ip_prefix *a, const struct ip_prefix *b)
{
	return a->addr.family == b->addr.family &&
	       same_bits(&a->addr, &b->addr, MIN(a->len, b->len));
}

static bool host_bits_all(const struct ip_prefix *p, const struct ip_addr *a, bool value)
{
	if (!ip_prefix_contains(p, a) || p->len >= ip_addr_bits(a) - 1)
		return false; /* /31, /32, /127, /128 have no network/broadcast */
	for (unsigned i = p->len; i < ip_addr_bits(a); i++)
		if (bit(a, i) != value)
			return false;
	return true;
}

bool ip_prefix_is_network(const struct ip_prefix *p, const struct ip_addr *a)
{
	return host_bits_all(p, a, false);
}

bool ip_prefix_is_broadcast(const struct ip_prefix *p, const struct ip_addr *a)
{
	return a->family == AF_INET && host_bits_all(p, a, true);
}

const char *ip_prefix_nth(const struct ip_prefix *p, unsigned index, char *buf, size_t len)
{
	struct ip_addr a = p->addr;
	size_t bytes = a.family == AF_INET ? 4 : 16;
	unsigned carry = index;

	for (size_t i = bytes; i-- > 0 && carry;) {
		unsigned v = a.bytes[i] + carry;
		a.bytes[i] = (uint8_t)v;
		carry = v >> 8;
	}
	return ip_addr_to_string(&a, buf, len);
}
