/* SPDX-License-Identifier: MIT */
/* What `farm-node status` shows of the power cycle, as plain data (no
 * json-c here: status prints with common/json.h, whose json_bool() the
 * json-c headers would clash with). Gathered by powercycle.c. */
#pragma once

#include "node.h"

#include <stdbool.h>
#include <time.h>

/* An SSH lock, on a Node object or in this node's local records. */
struct lock_info {
	char node[256], name[64];
	time_t until;
	char by[128];
	bool live; /* not expired (and, for this node's session locks, its session is alive) */
};

struct power_info {
	bool have_shutdown;
	long long id;
	char state[32], note[512];
	time_t when;
	const char *startup; /* done (this boot), running, failed, damaged, pending */
	bool startup_this_boot, startup_recorded;
	time_t startup_when;
	char startup_detail[600];
	bool locks_known; /* false: the API did not tell (locks_said says why) */
	char locks_said[512];
	struct lock_info *locks;
	size_t n_locks;
};

/* Reads the journal and asks the API (bounded) for the locks; changes
 * nothing. */
void power_info_gather(const struct farm_node *n, struct power_info *pi);
void power_info_free(struct power_info *pi);
/* Prints PI as status does (powerstatus.c). J: as JSON, else text to F. */
struct json;
void power_status_print(const struct power_info *pi, struct json *j, FILE *f);
