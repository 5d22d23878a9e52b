/* SPDX-License-Identifier: MIT */
/* A node's role in the cluster, one enum for both programs: the k3s server
 * (the control plane, which installs the stack) or an agent (a worker). */
#pragma once

enum role {
	ROLE_SERVER,
	ROLE_AGENT,
	ROLE_COUNT,
};

#define ROLE_BIT(r) (1u << (r))
#define ROLES_ALL   (ROLE_BIT(ROLE_SERVER) | ROLE_BIT(ROLE_AGENT))

/* The names in configs and node.yaml, indexed by enum role, NULL-terminated
 * (the values of an FT_ENUM field). */
extern const char *const role_names[];

const char *role_name(enum role r);
