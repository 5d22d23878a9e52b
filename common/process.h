/* SPDX-License-Identifier: MIT */
/* Running another program: an argument vector, never a shell string
 * (STYLE.md). */
#pragma once

#include <sys/types.h>

/* Runs ARGV[0] (searched in PATH) and waits. Returns its exit status (0 on
 * success), 128+signal when killed, or -errno when it could not start.
 * With QUIET, its stdout and stderr go to /dev/null. */
int spawn_wait(char *const argv[], int quiet);

/* Starts ARGV[0] (searched in PATH) with stdin from /dev/null, stdout and
 * stderr into OUT, and SIGINT, SIGTERM and SIGHUP at their defaults (a
 * shell starts background jobs with SIGINT ignored), so that a signal passed
 * on stops it. Returns 0 (the child in PID) or -errno. */
int spawn_into(char *const argv[], int out, pid_t *pid);
/* Waits for the child PID, through EINTR: its wait status into STATUS.
 * Returns 0 or -errno. */
int wait_child(pid_t pid, int *status);
