/* SPDX-License-Identifier: MIT */
/* A real lookup through the cluster's DNS (dns.h), with glibc's resolver
 * library: one query to one server, nothing from /etc/resolv.conf's
 * servers or search list. */
#include "dns.h"
#include "util.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>

int dns_parse_server(const char *s, struct in_addr *addr, unsigned *port)
{
	char host[64];
	const char *colon = strchr(s, ':');
	char *end;
	unsigned long p = 53;

	if (strlen(s) >= sizeof(host))
		return -EINVAL;
	snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - s) : (int)strlen(s), s);
	if (colon) {
		errno = 0;
		p = strtoul(colon + 1, &end, 10);
		if (errno || *end || end == colon + 1 || p < 1 || p > 65535)
			return -EINVAL;
	}
	if (inet_pton(AF_INET, host, addr) != 1)
		return -EINVAL;
	*port = (unsigned)p;
	return 0;
}

int dns_lookup(const char *server, const char *name, char *said, size_t len)
{
	struct __res_state st;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	unsigned char answer[1500];
	unsigned port;
	ns_msg msg;
	int n, r;

	if (dns_parse_server(server, &sa.sin_addr, &port) < 0) {
		snprintf(said, len, "'%s' is not an IPv4 address with an optional :PORT", server);
		return -EINVAL;
	}
	sa.sin_port = htons((uint16_t)port);
	memset(&st, 0, sizeof(st));
	if (res_ninit(&st) < 0) {
		snprintf(said, len, "the resolver cannot start");
		return -EIO;
	}
	st.nscount = 1;
	st.nsaddr_list[0] = sa;
	st.retrans = 2; /* seconds per try */
	st.retry = 2;
	st.options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
	n = res_nquery(&st, name, ns_c_in, ns_t_a, answer, sizeof(answer));
	if (n < 0) {
		int h = st.res_h_errno;
		snprintf(said, len, "%s asked for %s: %s", server, name,
			 h == HOST_NOT_FOUND ? "no such name (NXDOMAIN)"
			 : h == NO_DATA	     ? "no address for the name"
			 : h == TRY_AGAIN    ? "no answer (timed out or SERVFAIL)"
					     : "the query failed");
		r = h == HOST_NOT_FOUND || h == NO_DATA ? -ENOENT : -ETIMEDOUT;
	} else if (ns_initparse(answer, n, &msg) < 0 || ns_msg_count(msg, ns_s_an) == 0) {
		snprintf(said, len, "%s answered for %s without an address", server, name);
		r = -ENOENT;
	} else {
		snprintf(said, len, "%s answered for %s", server, name);
		r = 0;
	}
	res_nclose(&st);
	return r;
}
