/* SPDX-License-Identifier: MIT */
/* Building one node's image: load (everything checked, nothing written),
 * plan (pure), write (one temporary image, renamed with its derived outputs
 * only when all of them are complete). */
#pragma once

#include "board.h"
#include "config.h"
#include "stack-render.h"

#include <signal.h>
#include <time.h>

struct build_opts {
	const char *config_path;
	const char *base; /* rootfs archive */
	const char *out_dir;
	const char *overlays;  /* overlay root directory */
	const char *secrets;   /* the cluster's secrets directory */
	const char *lock;      /* artifacts.lock */
	const char *artifacts; /* a directory of artifacts given by the user, or NULL */
	const char *farm_node; /* where farm-node is built: DIR/farm-node, DIR/aarch64/farm-node */
	const struct stack_set *stack; /* the config's stack, checked, in order */
	time_t epoch;
	volatile sig_atomic_t *interrupted;
};

/* Returns 0 or -errno after printing one message. Leaves no output behind
 * on failure. */
int build_node(const struct build_opts *o, const struct config *c, const struct config_node *n,
	       const struct board *b);

/* --all: every node (of BOARD, unless NULL) in its own process, as many at
 * once as there are CPUs; they share the loaded config, and the base and
 * artifacts through the page cache. A SIGINT, SIGTERM or SIGHUP to
 * farm-image stops the builds that run (the signal is passed on: a service
 * manager or kill(1) signals only this process) and starts no more. One
 * line at the end; non-zero if any node was not built. */
int build_all(const struct build_opts *bo, const struct config *c, struct board *boards,
	      const char *board);
