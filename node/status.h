/* SPDX-License-Identifier: MIT */
/* `farm-node status`: where the node is, from the step table and the
 * journal (and, on the control plane, the stack's plan and records). */
#pragma once

#include "node.h"

#include <stdbool.h>
#include <stdio.h>

/* Prints every step of the node's role (and every stack component) with
 * its state. A damaged record is shown as damaged. Returns 0, or -errno
 * when the state directory cannot be read at all. */
int status_print(const struct farm_node *n, bool json, FILE *f);
