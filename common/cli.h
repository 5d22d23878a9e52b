/* SPDX-License-Identifier: MIT */
/* Command lines of farm-image and farm-node: one shape for both (as git's
 * and btrfs-progs' subcommands): "PROGRAM COMMAND [OPTIONS]", every command
 * with --help, usage errors on stderr with exit status 2. */
#pragma once

#include <getopt.h>

/* A usage error of 'PROGRAM CMD': prints "PROGRAM CMD: WHAT 'ARG'" (without
 * the quoted part when ARG is NULL; control characters made visible) and
 * "Try 'PROGRAM CMD --help'." on stderr, and returns 2, the command's exit
 * status. PROGRAM is the name given to log_init(); CMD NULL is the
 * program's own options. */
int usage_error(const char *cmd, const char *what, const char *arg);

/* The one usage error for what getopt_long(..., OPTS, ...) returned as O
 * ('?' or ':'; the option string must start with ':', so that getopt prints
 * nothing itself and tells a missing argument from an unknown option):
 * "missing argument of option '--node'", "unknown option '-x'", "ambiguous
 * option '--a'", ... Returns 2. */
int usage_option_error(const char *cmd, int o, char *const *argv, const struct option *opts);

/* getopt_long() for command CMD, with getopt's own messages replaced by one
 * usage error each (usage_option_error()): it prints it and returns
 * CLI_USAGE_ERROR; otherwise it returns what getopt_long() does. SHORTOPTS
 * is getopt's string, without a ':' (it may start with '+'). */
#define CLI_USAGE_ERROR (-2)
int cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
	       const struct option *longopts);
