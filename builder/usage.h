/* SPDX-License-Identifier: MIT */
/* What farm-image's commands share on their command lines. */
#pragma once

#define DEFAULT_CONFIG "configs/cluster.yaml"

/* A usage error of 'farm-image CMD': prints "farm-image CMD: WHAT 'ARG'"
 * (without the quoted part when ARG is NULL) and "Try 'farm-image CMD
 * --help'." on stderr, and returns 2, the command's exit status. */
int usage_error(const char *cmd, const char *what, const char *arg);
