/* SPDX-License-Identifier: MIT */
/* The steps of farm-node, one table that the commands run and `status`
 * walks, and their journal under ROOT/var/lib/farm/.
 *
 * Every step is idempotent: it checks the world, acts only when needed,
 * verifies, and only then is recorded done (steps/NAME, written
 * atomically). A step that is not recorded runs again at the next start of
 * its command; a power cut anywhere therefore resumes. While a step runs,
 * and when it fails, progress/NAME says what it is doing or what went
 * wrong, for `status` (that file never means "done": a unit's condition on
 * steps/NAME stays exact). */
#pragma once

#include "node.h"
#include "role.h"

#include <stdbool.h>
#include <time.h>

/* The command that runs a step. */
enum step_phase {
	PHASE_STORAGE,	 /* farm-node storage: early boot, before local filesystems */
	PHASE_FIRSTBOOT, /* farm-node firstboot: before k3s and sshd */
	PHASE_JOIN,	 /* farm-node join: after k3s */
};

enum {
	/* Runs at every start of its command, recorded or not (it is cheap
	 * when there is nothing to do, and it is how a bigger disk or a
	 * changed stack is taken up). */
	STEP_EVERY_BOOT = 1u << 0,
	/* Writes its own record (storage: its journal lives on the data
	 * partition it mounts). */
	STEP_SELF_RECORDING = 1u << 1,
};

struct step {
	const char *name;
	enum step_phase phase;
	unsigned roles; /* ROLE_BIT(...) of the roles it runs on */
	unsigned flags;
	const char *summary; /* what it does, in a few words (status --verbose, docs) */
	/* Does the step; on success writes what it found and did into DETAIL
	 * (one line, for the record). Returns 0 or -errno after printing one
	 * message. */
	int (*run)(struct farm_node *n, char *detail, size_t len);
};

extern const struct step farm_steps[];
extern const size_t n_farm_steps;

/* Whether STEP runs on a node with role R. */
bool step_applies(const struct step *s, enum role r);

/* Runs every step of PHASE for the node's role, in table order, each only
 * when it is not recorded (or is STEP_EVERY_BOOT). Stops at the first
 * failure. Returns 0 or -errno (the failure is already reported). */
int steps_run(struct farm_node *n, enum step_phase phase);

/* The journal. KIND is "steps" or "stack" (a record per stack
 * component). */
enum record_state {
	RECORD_NONE, /* not recorded */
	RECORD_DONE,
	RECORD_DAMAGED, /* a file that is not a record farm-node wrote */
};

struct record {
	enum record_state state;
	time_t when;
	char hash[72];	  /* stack components: sha256 of what was applied ("" if none) */
	char detail[512]; /* one line */
	char why[96];	  /* RECORD_DAMAGED: what is wrong with it */
};

int journal_write(const char *state_dir, const char *kind, const char *name, const char *hash,
		  const char *detail);
/* Returns 0 (R filled, RECORD_NONE when absent or RECORD_DAMAGED when it
 * cannot be read as a record) or -errno when the file cannot be read. */
int journal_read(const char *state_dir, const char *kind, const char *name, struct record *r);

/* Progress of a step or component that is not done: "running" (with what it
 * waits for) or "failed" (with the message). */
enum progress_state { PROGRESS_NONE, PROGRESS_RUNNING, PROGRESS_FAILED, PROGRESS_DAMAGED };
struct progress_note {
	enum progress_state state;
	time_t when;
	char text[512];
};
/* Best effort: a progress note that cannot be written is only warned
 * about. NAME is a step or "stack-COMPONENT". */
void journal_progress(const char *state_dir, const char *name, enum progress_state s,
		      const char *fmt, ...) _printf_(4, 5);
void journal_progress_clear(const char *state_dir, const char *name);
int journal_read_progress(const char *state_dir, const char *name, struct progress_note *p);
