/* SPDX-License-Identifier: MIT */
/* IPv4/IPv6 addresses and prefixes: parsing and the small amount of maths
 * the config checks need (containment, overlap). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct ip_addr {
	int family;	   /* AF_INET or AF_INET6 */
	uint8_t bytes[16]; /* network order; IPv4 uses the first 4 */
};

struct ip_prefix {
	struct ip_addr addr;
	unsigned len;
};

/* Strict parsers: return 0, or -EINVAL. */
int ip_addr_parse(int family, const char *s, struct ip_addr *ret);
/* "10.42.0.0/16". -EINVAL for syntax, -EADDRNOTAVAIL when host bits are set. */
int ip_prefix_parse(int family, const char *s, struct ip_prefix *ret);

unsigned ip_addr_bits(const struct ip_addr *a);
const char *ip_addr_to_string(const struct ip_addr *a, char *buf, size_t len);
const char *ip_prefix_to_string(const struct ip_prefix *p, char *buf, size_t len);

bool ip_addr_equal(const struct ip_addr *a, const struct ip_addr *b);
/* a <=> b, same family assumed. */
int ip_addr_compare(const struct ip_addr *a, const struct ip_addr *b);
bool ip_prefix_contains(const struct ip_prefix *p, const struct ip_addr *a);
/* The address INDEX after P's network address, as a string in BUF (the
 * cluster DNS is the services range's tenth). */
const char *ip_prefix_nth(const struct ip_prefix *p, unsigned index, char *buf, size_t len);
bool ip_prefix_overlaps(const struct ip_prefix *a, const struct ip_prefix *b);
/* The network (all host bits 0) or broadcast (all host bits 1) address of p. */
bool ip_prefix_is_network(const struct ip_prefix *p, const struct ip_addr *a);
bool ip_prefix_is_broadcast(const struct ip_prefix *p, const struct ip_addr *a);
