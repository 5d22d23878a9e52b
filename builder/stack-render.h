/* SPDX-License-Identifier: MIT */
/* The stack rendered into the control plane's image: for each component of
 * the config's stack, in install order, one plain YAML file under
 * /usr/lib/farm/stack/ (its k3s HelmChart with the chart archive embedded
 * as chartContent and its values rendered from the cluster config, then
 * its custom resources), and the install plan farm-node follows
 * (common/stackplan.h). Everything is rendered and checked at build time:
 * farm-node renders nothing. */
#pragma once

#include "artifacts.h"
#include "plan.h"
#include "stack.h"
#include "template.h"

/* A component's chart archive, verified against its pin. */
struct stack_chart_file {
	const struct stack_def *def;
	const struct artifact *pin;
	uint8_t *data;
	size_t size;
};

/* The stack's components for config C, checked, in install order. */
struct stack_set {
	struct stack_defs defs;
	const struct stack_def **order;
	size_t n;
};

/* Loads C's stack definitions (beside the config) and puts the config's
 * components in order. Returns 0, or -EINVAL after every message. */
int stack_set_load(struct config *c, struct stack_set *s);
void stack_set_free(struct stack_set *s);

/* Every chart of S pinned in LOCK (a message at the definition's chart
 * line for each one that is not). Returns the number of problems. */
unsigned stack_check_pins(const struct stack_set *s, const struct artifacts *lock);

/* The chart archives of S, from the artifacts (verified by artifact_path)
 * and checked to be Helm charts of the pinned name and version, small
 * enough for helm-controller's ConfigMap. *CHARTS has one entry per
 * component with a chart. Returns 0 or -errno after a message for each. */
int stack_load_charts(const struct stack_set *s, const struct artifacts *lock,
		      const char *artifacts_dir, struct stack_chart_file **charts, size_t *n);
void stack_charts_free(struct stack_chart_file *charts, size_t n);

/* The cluster-wide values the stack's templates use (from the config
 * alone, so that validate can render them). */
void stack_vars(const struct config *c, struct vars *v);

/* Renders S with V. With CHARTS, adds the component files and the plan to
 * P; without (validate), renders and checks the templates only. Every
 * problem is printed at its FILE:LINE:COL. Returns 0 or -EINVAL. */
int stack_render(const struct config *c, const struct stack_set *s, const struct vars *v,
		 const struct stack_chart_file *charts, size_t n_charts, struct plan *p);

/* helm-controller's configHash of the install Job of a HelmChart NAME with
 * CHART_B64 as chartContent and VALUES as valuesContent: "SHA256=" and the
 * upper-case hex sha256 of the chart-content ConfigMap's data then the
 * values Secret's data, each key then value, a Secret's values base64
 * (k3s-io/helm-controller v0.16.13 pkg/controllers/chart/chart.go
 * hashObjects, over getJobAndRelatedResources' objects). */
void stack_job_hash(const char *name, const char *chart_b64, const char *values, char out[72]);
