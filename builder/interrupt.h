/* SPDX-License-Identifier: MIT */
/* SIGINT, SIGTERM and SIGHUP asking farm-image to stop: one flag for every
 * command that runs long (build, rootfs, fetch, flash). The work notes it,
 * stops at the next safe point and removes what it had started. */
#pragma once

#include <signal.h>

/* The signal that asked to stop, 0 while none did. */
extern volatile sig_atomic_t interrupted;

/* The handlers interrupt_catch() replaced. */
struct interrupt_saved {
	struct sigaction old[3];
};

/* Clears the flag, then sets it on each of the three signals from now on.
 * OLD (may be NULL) keeps the handlers for interrupt_restore(). */
void interrupt_catch(struct interrupt_saved *old);
void interrupt_restore(const struct interrupt_saved *old);
