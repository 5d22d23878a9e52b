/* SPDX-License-Identifier: MIT */
#pragma once

#include "nodeconf.h"

struct storage_opts {
	const struct nodeconf *node;
	const char *root; /* "" on the node; a directory in tests */
	const char *data; /* the data partition's device */
};

int storage_run(const struct storage_opts *o);
