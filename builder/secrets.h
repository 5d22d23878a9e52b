/* SPDX-License-Identifier: MIT */
/* The secrets of a cluster (SECURITY.md, "Host identity and secrets"): the
 * k3s certificate authorities, the join token and the per-node k3s node
 * passwords. They live outside git in one directory (0700, files 0600) that
 * `farm-image secrets init` creates once; the image build reads it.
 *
 * Layout of the directory:
 *   token                 K10<sha256 of server-ca.crt>::server:<64 hex>
 *   agent-token           K10<sha256 of server-ca.crt>::node:<64 hex> (k3s's
 *                         agent-token: joins agents, never servers)
 *   nodes/NODE.password   64 hex, one per node of the config
 *   nodes/NODE.power.key  an agent's client key and certificate for the power
 *   nodes/NODE.power.crt  cycle (power-identity.h), one pair per agent
 *   k3s/tls/...           the files k3s takes as custom CA certificates in
 *                         /var/lib/rancher/k3s/server/tls/: server-ca,
 *                         client-ca, request-header-ca, etcd/peer-ca,
 *                         etcd/server-ca (.crt and .key each), service.key
 */
#pragma once

#include "config.h"
#include "usage.h"

#include <stddef.h>
#include <stdint.h>

/* The command: farm-image secrets init [--dir DIR] [--config FILE]. */
int cmd_secrets(int argc, char **argv);
/* Its line of 'farm-image help' and its --help (one text for both). */
#define SECRETS_USAGE "secrets init [--dir DIR] [--config FILE]"
#define SECRETS_SUMMARY                                                                            \
	"Create the cluster's secrets once, outside git: the k3s CAs, the server and\n"            \
	"agent tokens and the k3s node passwords (only what is missing; nothing is\n"              \
	"replaced).\n\n"                                                                           \
	"  -d, --dir DIR       secrets directory (default\n"                                       \
	"                      ${XDG_CONFIG_HOME:-$HOME/.config}/farm/CLUSTER)\n"                  \
	"  -c, --config FILE   the cluster config (default " DEFAULT_CONFIG ")"

struct secrets;

/* Default directory: ${XDG_CONFIG_HOME:-$HOME/.config}/farm/CLUSTER-NAME.
 * Returns a string to free, or NULL when there is no home directory. */
char *secrets_default_dir(const struct config *c);

/* Loads DIR for config C: checks that the directory is 0700 and owned by the
 * caller, that every file the cluster needs exists and is 0600 (refusing
 * looser modes, with a message naming the file and how to fix it), that each
 * CA key matches its certificate, that both tokens carry the hash of the
 * server CA, and that each node of C has its password. Returns 0, or -errno
 * after printing ONE message naming the file and saying what to do. */
int secrets_load(const char *dir, const struct config *c, struct secrets **ret);

/* The full server token and agent token, no newline. */
const char *secrets_token(const struct secrets *s);
const char *secrets_agent_token(const struct secrets *s);
/* The k3s node password of NODE (no newline), or NULL for a node that is not
 * in the config secrets_load() was given. */
const char *secrets_node_password(const struct secrets *s, const char *node);

struct secret_file;
/* An agent's power-cycle client key and certificate (PEM; names
 * "power.key", "power.crt"), valid until secrets_free(). Returns 0, or
 * -ENOENT for a server or a node not in the config. */
int secrets_power_identity(const struct secrets *s, const char *node, struct secret_file *key,
			   struct secret_file *crt);

/* A file of the secrets directory, by its name relative to where it goes
 * (k3s's server tls dir: "server-ca.crt", "etcd/peer-ca.key"; the power
 * identity: "power.key"). */
struct secret_file {
	const char *name;
	const uint8_t *data;
	size_t size;
};

/* The CA files the server's first boot installs into
 * /var/lib/rancher/k3s/server/tls/ before k3s first starts (certificates,
 * keys and service.key; install them 0600). Valid until secrets_free(). */
size_t secrets_ca_files(const struct secrets *s, const struct secret_file **files);

void secrets_free(struct secrets *s);
