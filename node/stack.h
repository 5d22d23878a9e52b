/* SPDX-License-Identifier: MIT */
/* The stack installer of the control plane (the `stack` step of `farm-node
 * join`): it follows the plan farm-image rendered into the image
 * (common/stackplan.h) and renders nothing itself.
 *
 * Each component is applied, then waited for until it is really ready,
 * then recorded (stack/NAME, with the sha256 of what was applied); only
 * then the next. For a component with a chart:
 *   1. the HelmChart is applied (server-side);
 *   2. k3s's helm-controller (v0.16.13, pkg/controllers/chart/chart.go)
 *      makes the Job helm-install-NAME in the HelmChart's namespace; its pod
 *      template carries the annotation helmcharts.helm.cattle.io/configHash,
 *      a hash of the chart and values it installs, which the plan has too:
 *      a Job with another hash is a previous version's, not this one's. The
 *      HelmChart's own status only says that a Job exists (JobCreated), so
 *      the Job's Complete condition is the signal; a Failed one stops the
 *      run with its reason and the pod's last state;
 *   3. helm-controller runs `helm install` without --wait: the release's
 *      workloads are then only created, so each is waited for (kubectl
 *      rollout status);
 * then, for every component:
 *   4. the CRDs its resources need are waited for until Established;
 *   5. its custom resources are applied, and their conditions waited for.
 * Every wait is bounded by the component's timeout; an API that does not
 * answer is retried within it; anything refused stops the run. A failed or
 * timed-out component stops the run with a message naming it, what it
 * waited for and the last state seen; nothing after it is applied, and the
 * next run starts from it. A recorded component whose manifest is
 * unchanged is not applied again; a changed one is. */
#pragma once

#include "node.h"
#include "stackplan.h"

/* Loads ROOT/STACK_PLAN (printing its problems). */
int stack_plan_load(const struct farm_node *n, struct stack_plan *p);

int step_stack(struct farm_node *n, char *detail, size_t len);
