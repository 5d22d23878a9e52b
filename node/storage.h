/* SPDX-License-Identifier: MIT */
/* The step of `farm-node storage` (early at every boot, before local
 * filesystems): the data partition grown to the disk, Btrfs on it, the
 * subvolumes the image mounts. It records itself in the @var subvolume it
 * mounts (/var is not there yet). */
#pragma once

#include "node.h"

int step_storage(struct farm_node *n, char *detail, size_t len);
