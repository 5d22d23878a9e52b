/* SPDX-License-Identifier: MIT */
/* What farm-image's commands share on their command lines. */
#pragma once

#define DEFAULT_CONFIG "configs/cluster.yaml"

/* A usage error of 'farm-image CMD': prints "farm-image CMD: WHAT 'ARG'"
 * (without the quoted part when ARG is NULL) and "Try 'farm-image CMD
 * --help'." on stderr, and returns 2, the command's exit status. */
int usage_error(const char *cmd, const char *what, const char *arg);

struct option;
/* The one usage error for what getopt_long(..., OPTS, ...) returned as O
 * ('?' or ':'; the option string must start with ':', so that getopt prints
 * nothing itself and tells a missing argument from an unknown option):
 * "missing argument of option '--node'", "unknown option '-x'", "ambiguous
 * option '--a'", ... Returns 2. */
int usage_option_error(const char *cmd, int o, char *const *argv, const struct option *opts);
