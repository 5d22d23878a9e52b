/* SPDX-License-Identifier: MIT */
#include "role.h"

#include <stddef.h>

const char *const role_names[] = {
	[ROLE_SERVER] = "server",
	[ROLE_AGENT] = "agent",
	[ROLE_COUNT] = NULL,
};

const char *role_name(enum role r) { return r < ROLE_COUNT ? role_names[r] : "?"; }
