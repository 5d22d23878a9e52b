/* SPDX-License-Identifier: MIT */
/* A worker's own identity for the power cycle (NODE-SPEC.md, "Power
 * cycle"; DESIGN.md, "Node side"): workers never hold cluster-admin. Each
 * agent gets an ECDSA P-256 key and a client certificate signed by the
 * cluster's client CA, user "farm-power:NODE" in group "farm:power", which
 * the ClusterRoles of power-rbac.h allow exactly what the power cycle
 * needs.
 *
 * Why the API server takes it (k3s-io/k3s c837bfcd, kubernetes/apiserver
 * v0.33.9):
 * - pkg/daemons/control/deps/deps.go: client-ca.crt/.key in the server's
 *   tls directory (which our custom CA files fill, secrets.h) is the CA
 *   that signs k3s's own client certificates (genClientCerts: system:admin
 *   in system:masters, the controller manager, the scheduler), each with
 *   ExtKeyUsageClientAuth;
 * - pkg/daemons/control/server.go: kube-apiserver runs with
 *   --client-ca-file=client-ca.crt and --authorization-mode=Node,RBAC;
 *   port 6443 hands every request that is not k3s's own (/v1-k3s/...,
 *   /cacerts, /ping) to the API server (pkg/server/handlers/router.go,
 *   NotFoundHandler = APIServer);
 * - pkg/authentication/request/x509/x509.go: a chain to that CA valid for
 *   client auth authenticates as user = the subject's CommonName, groups =
 *   its Organizations (CommonNameUserConversion).
 *
 * The key and certificate are made once by `farm-image secrets init` and
 * kept in the secrets directory (nodes/NODE.power.key, .crt), as the node
 * passwords are: an ECDSA signature is randomized, so a certificate signed
 * at every build would make every agent image differ from the last one, and
 * images are reproducible. A reimaged node keeps its identity. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define POWER_USER_PREFIX "farm-power:"
#define POWER_GROUP	  "farm:power"

/* Signs the public key of the PEM private key KEY as NODE's client
 * certificate with the PEM CA certificate and key CA_CRT/CA_KEY: valid from
 * an hour before NOW until the CA itself expires. Returns 0 and a
 * malloc'ed PEM certificate in *PEM (*LEN bytes), or -errno with *WHY (a
 * static string) saying what failed. */
int power_cert_sign(const uint8_t *ca_crt, size_t ca_crt_len, const uint8_t *ca_key,
		    size_t ca_key_len, const uint8_t *key, size_t key_len, const char *node,
		    time_t now, uint8_t **pem, size_t *len, const char **why);

/* Checks that CRT is NODE's power certificate, signed by CA_CRT, for the
 * private key KEY, valid at NOW. Returns 0, or -EINVAL with *WHY (static)
 * saying what is wrong. *DAYS_LEFT is set to the whole days it stays
 * valid. */
int power_cert_check(const uint8_t *ca_crt, size_t ca_crt_len, const uint8_t *key, size_t key_len,
		     const uint8_t *crt, size_t crt_len, const char *node, time_t now,
		     int *days_left, const char **why);
