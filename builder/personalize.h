/* SPDX-License-Identifier: MIT */
/* What makes an image one node's: the generated files of NODE-SPEC.md
 * ("Node preparation", "K3s") added to the plan (pure), and the transforms
 * of the base's own files (the admin user in passwd/group/shadow/gshadow,
 * SSH moduli) applied once the base has streamed past them. */
#pragma once

#include "plan.h"
#include "template.h"

struct capture;	    /* stream.h */
struct secret_file; /* secrets.h */

/* Inputs that come from the secrets directory and the artifacts cache. */
struct personal_inputs {
	const char *token;	      /* the full server token (K10<CA hash>::server:...) */
	const char *agent_token;      /* the full agent token (K10<CA hash>::node:...) */
	const char *node_password;    /* this node's k3s node password */
	const struct secret_file *ca; /* server only: k3s's custom CA files */
	size_t n_ca;
	const char *k3s_binary; /* host paths of verified artifacts */
	const char *airgap_images;
	const char *airgap_name; /* file name to give the air-gap archive */
	const char *farm_node;	 /* host path of farm-node for the node's architecture */
	/* agents: the power-cycle key and certificate, and the server CA */
	const struct secret_file *power_key, *power_crt, *server_ca;
};

#define FARM_LIB "usr/lib/farm"

/* Adds the node's generated files to P. */
int personalize_plan(const struct plan_input *in, const struct personal_inputs *pi, struct plan *p);
/* Its parts, each in its file: the admin user's keys and the transforms of
 * the base's account files and SSH moduli (personalize-accounts.c) ... */
void personalize_accounts(const struct config *c, struct plan *p);
/* ... and node.yaml (personalize-nodeyaml.c), after the data partition's
 * UUID is in P. Returns 0 or -EINVAL after printing one message. */
int personalize_node_yaml(struct plan *p, const struct config *c, const struct config_node *n);

/* The base files to capture, in a static list. */
struct capture *personalize_captures(size_t *n);
void personalize_captures_reset(struct capture *c, size_t n);

/* Applies transform T to the base's file (personalize-accounts.c) (BASE may be NULL when absent).
 * Returns 0 and malloc'ed output, or -errno after printing one message. */
int personalize_transform(enum plan_transform t, const char *path, const uint8_t *base, size_t len,
			  const struct vars *v, time_t epoch, uint8_t **out, size_t *out_len);
