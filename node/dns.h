/* SPDX-License-Identifier: MIT */
/* The startup's proof that the cluster's DNS works: a lookup of a name
 * only the cluster's DNS knows, sent to CoreDNS's service address
 * (node.yaml cluster-dns), not to the node's own resolver. */
#pragma once

#include <netinet/in.h>
#include <stddef.h>

/* "A.B.C.D" or "A.B.C.D:PORT" (port 53 by default). 0 or -EINVAL. */
int dns_parse_server(const char *s, struct in_addr *addr, unsigned *port);

/* Asks SERVER for NAME's A records. 0 when it answered with at least one,
 * -ENOENT when it answered without one (NXDOMAIN, no data), -ETIMEDOUT
 * when it did not answer; SAID says what happened. */
int dns_lookup(const char *server, const char *name, char *said, size_t len);
