/* SPDX-License-Identifier: MIT */
/* The step journal of farm-node, under ROOT/var/lib/farm/steps/: one file
 * per step, written atomically once the step is verified, with what it
 * found and did. A step that is not recorded runs again; every step is
 * idempotent (check the world, act if needed, verify, record). */
#pragma once

#include <stdbool.h>
#include <time.h>

#define FARM_STATE_DIR "var/lib/farm"

struct step_record {
	bool done;
	time_t when;
	char detail[512];
};

/* Records STEP as done, with DETAIL, under STATE_DIR (a full path). */
int step_record(const char *state_dir, const char *step, const char *detail);
int step_read(const char *state_dir, const char *step, struct step_record *r);
