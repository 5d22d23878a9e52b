/* SPDX-License-Identifier: MIT */
/* Running another program: an argument vector, never a shell string
 * (STYLE.md). */
#pragma once

/* Runs ARGV[0] (searched in PATH) and waits. Returns its exit status (0 on
 * success), 128+signal when killed, or -errno when it could not start.
 * With QUIET, its stdout and stderr go to /dev/null. */
int spawn_wait(char *const argv[], int quiet);
