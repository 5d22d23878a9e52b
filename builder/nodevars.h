/* SPDX-License-Identifier: MIT */
/* The values a node's templates and generated files are made of: computed
 * from the config, the board and the plan (pure), plus the facts learned
 * from the base while it streams (its OpenSSH version). */
#pragma once

#include "board.h"
#include "config.h"
#include "plan.h"
#include "subvol.h"
#include "template.h"

/* Facts about the base rootfs. */
struct base_facts {
	char *openssh_version; /* Debian version of openssh-server, NULL if absent */
	unsigned ssh_major, ssh_minor;
};

/* Every variable templates may use. Facts get empty values until
 * node_vars_add_facts(); their names are known from the start so templates
 * can be checked before anything is written. */
void node_vars(const struct config *c, const struct config_node *n, const struct board *b,
	       const struct plan *p, struct vars *v);
/* Reads the version of openssh-server from the text of /var/lib/dpkg/status. */
int base_facts_from_dpkg(const char *status, size_t len, struct base_facts *f);
/* The sshd algorithm lists for the base's OpenSSH. Returns -EINVAL (with a
 * message) for an OpenSSH too old to do what SECURITY.md asks. */
int node_vars_add_facts(struct vars *v, const struct base_facts *f);
void base_facts_free(struct base_facts *f);

/* /etc/machine-id of a node: 32 hex digits derived from cluster and node. */
void node_machine_id(const char *cluster, const char *node, char out[33]);
