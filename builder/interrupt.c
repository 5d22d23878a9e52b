/* SPDX-License-Identifier: MIT */
#include "interrupt.h"

#include <stddef.h>

static const int signals[3] = { SIGINT, SIGTERM, SIGHUP };

volatile sig_atomic_t interrupted;

static void on_signal(int sig) { interrupted = sig; }

void interrupt_catch(struct interrupt_saved *old)
{
	struct sigaction sa = { .sa_handler = on_signal };

	interrupted = 0;
	for (int i = 0; i < 3; i++)
		sigaction(signals[i], &sa, old ? &old->old[i] : NULL);
}

void interrupt_restore(const struct interrupt_saved *old)
{
	for (int i = 0; i < 3; i++)
		sigaction(signals[i], &old->old[i], NULL);
}
