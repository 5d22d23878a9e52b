/* SPDX-License-Identifier: MIT */
/* The stack's components as data: one definition file per component in
 * the stack directory beside the cluster config (configs/stack/NAME.yaml),
 * the one table of what a component is: its chart (a pinned artifact), the
 * namespace of its release, its values and custom resources (templates of
 * the cluster's values), what "ready" means, its timeout, what it depends
 * on. farm-image checks them against the config's `stack:` and renders
 * them into the control plane's image as an install plan (stackplan.h),
 * which farm-node follows. */
#pragma once

#include "config.h"

#define STACK_DEFS_DIR "stack" /* beside the cluster config */

struct stack_rollout {
	struct cmeta m;
	struct cstr object; /* "deployment/coredns", in the component's namespace */
	struct cstr when;   /* a variable: only when it is "true" */
};

struct stack_condition {
	struct cmeta m;
	struct cstr object;    /* "certificate/farm-ca" */
	struct cstr namespace; /* unset: cluster-scoped */
	struct cstr condition; /* "Ready" */
	struct cstr when;
};

struct stack_resource {
	struct cmeta m;
	struct cstr manifest; /* one YAML document, a template */
	struct cstr when;
};

struct stack_chart {
	struct cmeta m;
	struct cstr artifact; /* its name in the artifacts lock */
	struct cbool bootstrap;
	struct cstr values; /* a template */
};

struct stack_def {
	struct cmeta m;
	struct cstr name;
	struct cstr description;
	struct cstr namespace;
	struct cbool cni; /* the cluster's network plugin (k3s runs without flannel) */
	struct cstrlist depends;
	struct cuint timeout; /* seconds */
	struct stack_chart chart;
	struct clist rollout;	 /* struct stack_rollout */
	struct cstrlist crds;	 /* Established before the resources are applied */
	struct clist resources;	 /* struct stack_resource */
	struct clist conditions; /* struct stack_condition, waited for after the resources */
	struct conf_file file;	 /* for positioned messages */
};

struct stack_defs {
	char *dir;
	struct stack_def *defs;
	size_t n;
};

#define STACK_AT(list, type, i) (&((const type *)(list).items)[i])

/* Loads every *.yaml of DIR (sorted). Each file is one component, named as
 * the file. Prints FILE:LINE:COL problems; returns 0 or -EINVAL (-ENOENT
 * when DIR is missing). */
int stack_defs_load(const char *dir, struct stack_defs *s);
void stack_defs_free(struct stack_defs *s);
const struct stack_def *stack_def_find(const struct stack_defs *s, const char *name);

/* Checks the config's `stack:` against the definitions (an unknown
 * component, one listed twice, a dependency unknown or not in the stack, a
 * cycle), each error at its FILE:LINE:COL, and puts the components in
 * install order: every one after what it depends on, otherwise in the
 * config's order. Returns the number of errors; *ORDER (malloc'ed) and *N
 * on success. */
unsigned stack_resolve(struct config *c, const struct stack_defs *s,
		       const struct stack_def ***order, size_t *n);
