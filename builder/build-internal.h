/* SPDX-License-Identifier: MIT */
/* One node's build: what its phases share (build.c, build-load.c). The
 * struct owns every resource, build_free() releases them all. */
#pragma once

#include "artifacts.h"
#include "build.h"
#include "derive.h"
#include "personalize.h"
#include "plan.h"
#include "progress.h"
#include "secrets.h"
#include "stack-render.h"
#include "stream.h"
#include "template.h"

/* The artifacts a node needs, verified. */
struct node_artifacts {
	struct artifacts lock;
	char *k3s, *airgap, *airgap_name;
	struct stack_chart_file *charts; /* server only */
	size_t n_charts;
	const struct artifact **used; /* what the manifest lists: k3s, its images, charts */
	size_t n_used;
};

struct build {
	const struct build_opts *o;
	const struct config *c;
	const struct config_node *n;
	const struct board *b;
	const char *name; /* the node's */

	/* Load: every input, checked. */
	const char *base; /* --base, or base_cached */
	char *base_cached, *farm_node;
	struct overlay_entry *overlays;
	size_t n_overlays;
	struct overlay_mode *modes;
	size_t n_modes;
	struct secrets *sec;
	struct node_artifacts na;
	struct secret_file power_key, power_crt; /* an agent's */
	struct personal_inputs pi;
	struct capture *caps; /* base files read as they stream past */
	size_t n_caps;

	/* Plan: pure. */
	struct plan_input in;
	struct plan plan;
	struct vars vars;
	struct pathmap *replaced; /* the plan's paths, which the stream skips */
	bool secret;		  /* a planned file is secret: the outputs are 0600 */

	/* Write. */
	struct outputs *out;
	struct fat_writer *fat;
	struct ext4_writer *ext4;
	struct pathmap *boot_files; /* what the stream wrote to the boot partition */
	struct stream_stats stats;
	struct progress prog;
	uint64_t root_used;
	char *img_name; /* NAME.img, for the bmap */
	struct derive_result res;
	double t0, t_stream, t_fs; /* when the build, the stream, the filesystems ended */
};

/* Load: the base, overlays, secrets, artifacts and farm-node, whatever is
 * missing named, all of it at once; then the node's personal inputs.
 * Returns 0 or -ENOENT after the messages. */
int build_load(struct build *bd);
void node_artifacts_free(struct node_artifacts *na);
