/* SPDX-License-Identifier: MIT */
/* What the files of kubectl's verbs share: verbs.c (the arguments, the
 * output, the dispatcher kubectl_main and the verbs that read: get, wait,
 * rollout), verbs-write.c (the verbs that change objects) and verbs-node.c
 * (the verbs of nodes). */
#pragma once

#include "standin.h"

/* --- arguments and output (verbs.c) --------------------------------------- */

struct args {
	int n;
	char **pos; /* positional words after the verb */
	size_t npos;
	const char *ns, *output, *selector, *filename, *for_, *timeout, *type, *patch, *replicas;
	const char *raw;
	bool all_ns, overwrite, server_side;
};

/* "kind/name" or "kind name" into K and NAME. Prints the error. */
bool object_arg(struct args *a, size_t *i, const struct kind **k, const char **name, struct out *o);
/* kubectl's NotFound error for NAME of K, exit status 1. */
void not_found(struct out *o, const struct kind *k, const char *name);
/* "KIND.GROUP/NAME OP" (OP NULL: "KIND.GROUP/NAME"). */
void print_name(struct out *o, const struct kind *k, const char *name, const char *op);
/* The API request a verb makes, as kubectl v0.33 makes it (the sources
 * are cited where each verb calls this), with who made it:
 * "api USER GROUPS VERB GROUP RESOURCE[/SUB] NAMESPACE NAME" ("core" for
 * the core group, "-" for none) in the request log, for the RBAC checks of
 * tests/helpers/rbac-check.py. */
void api(const char *verb, const struct kind *k, const char *sub, const char *ns, const char *name);
/* A copy without the stand-in's own bookkeeping. */
json_object *shown(json_object *obj);

/* --- the verbs that change objects (verbs-write.c) ------------------------ */

void verb_apply(struct args *a, const char *input, size_t len, struct out *o);
void verb_patch(struct args *a, struct out *o);
void verb_scale(struct args *a, struct out *o);
/* annotate / label: KEY=VALUE and KEY- words after the object. */
void verb_meta(struct args *a, struct out *o, const char *field, const char *op);
void verb_delete(struct args *a, struct out *o);

/* --- the verbs of nodes (verbs-node.c) ------------------------------------ */

/* cordon (ON) or uncordon the node named first; QUIET_ALREADY: no "already
 * cordoned" line for a node that is. drain cordons first. */
void verb_cordon(struct args *a, struct out *o, bool on, bool quiet_already);
void verb_drain(struct args *a, struct out *o);
void verb_taint(struct args *a, struct out *o);
