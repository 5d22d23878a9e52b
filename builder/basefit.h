/* SPDX-License-Identifier: MIT */
/* Fitting a base to a node: what farm cannot do without (refused at build
 * time, naming the package), and what a base brings that a node must not
 * run. Raspberry Pi OS Lite is the case in point: pi-gen disables sshd,
 * enables NetworkManager, the first-boot user wizard, cloud-init, swap and
 * one-shot first-boot units, and ships a plain resolv.conf. Everything is
 * neutralized by what the image holds, never by a script at boot: the
 * masks and enable links are overlay files (overlays/common/etc/systemd/),
 * the enablement links a base may carry are left out here, and name
 * resolution is chosen once the base has streamed (systemd-resolved when
 * the base has it, else a resolv.conf with the config's DNS servers). */
#pragma once

#include "board.h"
#include "ext4.h"
#include "plan.h"
#include "template.h"

/* Adds to P the base's paths the image leaves out (PLAN_ABSENT) and the
 * placeholder of /etc/resolv.conf. Pure. */
void basefit_plan(struct plan *p);

/* Once the base has streamed into W: refuses a base that lacks what a node
 * needs (every missing piece named, with its package), and settles name
 * resolution in P. Returns 0, or -ENOENT after the messages. */
int basefit_finish(struct plan *p, struct ext4_writer *w, const struct board *b,
		   const struct vars *v, const char *base);
