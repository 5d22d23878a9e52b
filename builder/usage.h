/* SPDX-License-Identifier: MIT */
/* What farm-image's commands share on their command lines (the usage errors
 * are common to both programs: common/cli.h). */
#pragma once

#include "cli.h"

#define DEFAULT_CONFIG "configs/cluster.yaml"
