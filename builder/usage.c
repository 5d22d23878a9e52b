/* SPDX-License-Identifier: MIT */
#include "usage.h"

#include <stdio.h>

int usage_error(const char *cmd, const char *what, const char *arg)
{
	fprintf(stderr, "farm-image %s: %s%s%s%s\n", cmd, what, arg ? " '" : "", arg ? arg : "",
		arg ? "'" : "");
	fprintf(stderr, "Try 'farm-image %s --help'.\n", cmd);
	return 2;
}
