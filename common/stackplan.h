/* SPDX-License-Identifier: MIT */
/* The stack's install plan: what farm-image renders into the control
 * plane's image (STACK_DIR/plan.yaml beside one manifest file per
 * component) and farm-node follows. The format is defined here, once: the
 * schema farm-node loads it with, and the writer farm-image uses.
 *
 * For each component, in install order: its manifest file (first the k3s
 * HelmChart, when it has a chart, then its custom resources) and that
 * file's sha256; how long it may take; the HelmChart's name and the hash
 * helm-controller puts on the install Job it makes from exactly that
 * HelmChart; the workloads to see rolled out; the CRDs that must be
 * Established before the custom resources are applied; the conditions to
 * wait for on those resources. */
#pragma once

#include "conf.h"

#include <stdio.h>

/* In the image, relative to its root. */
#define STACK_DIR  "usr/lib/farm/stack"
#define STACK_PLAN STACK_DIR "/plan.yaml"
/* HelmCharts live in kube-system, where k3s's helm-controller makes their
 * install Jobs (helm-install-NAME, in the HelmChart's namespace). */
#define STACK_CHART_NAMESPACE "kube-system"

struct stack_wait {
	struct cmeta m;
	struct cstr object;    /* "clusterissuer/farm-ca" */
	struct cstr namespace; /* unset: a cluster-scoped object */
	struct cstr condition; /* "Ready" */
};

struct stack_item {
	struct cmeta m;
	struct cstr name;
	struct cstr file;      /* relative to STACK_DIR */
	struct cstr sha256;    /* of the file */
	struct cuint timeout;  /* seconds */
	struct cstr namespace; /* of the release's workloads and resources */
	struct cstr chart;     /* the HelmChart's name; unset: no chart */
	struct cstr job_hash;  /* "SHA256=..." of helm-install-CHART's pod template */
	struct cstrlist rollout;
	struct cstrlist crds;
	struct clist conditions; /* struct stack_wait */
};

struct stack_plan {
	struct cmeta m;
	struct clist components; /* struct stack_item */
	/* Filled by stack_plan_read(): */
	struct stack_item *items;
	size_t n;
	struct conf_file file;
};

static inline const struct stack_wait *stack_wait_at(const struct stack_item *it, size_t i)
{
	return &((const struct stack_wait *)it->conditions.items)[i];
}

/* Loads PATH. Prints FILE:LINE:COL problems; returns 0 or -errno. */
int stack_plan_read(const char *path, struct stack_plan *p);
void stack_plan_free(struct stack_plan *p);

/* Writes PLAN (items as filled by the renderer) as PATH's text would be
 * read back by stack_plan_read(). */
void stack_plan_write(FILE *f, const struct stack_item *items, size_t n, const char *cluster);
