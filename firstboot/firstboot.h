/* SPDX-License-Identifier: MIT */
#pragma once

#include "nodeconf.h"

/* The steps of `farm-node firstboot`, in order, for status. */
extern const char *const firstboot_steps[];

/* Runs every step that is not done yet. ROOT is "" on the node. */
int firstboot_run(const struct nodeconf *n, const char *root);
