/* SPDX-License-Identifier: MIT */
/* /etc/farm/node.yaml: what farm-node needs to know about its node, written
 * by farm-image into the image and read by farm-node with the same schema
 * loader. Its format is defined here, in one place. */
#pragma once

#include "conf.h"
#include "role.h"

#define NODECONF_PATH "etc/farm/node.yaml"
/* How long each wait of `farm-node join` may take unless node.yaml says. */
#define NODECONF_JOIN_TIMEOUT (60 * 60)

/* The bounds of the power cycle's waits (seconds; node.yaml power:,
 * defaults below). */
struct nodeconf_power {
	struct cmeta m;
	struct cuint lock_wait;	   /* worker: for the control plane's shutdown lock to appear */
	struct cuint release_wait; /* worker: for it to be released */
	struct cuint scale_wait;   /* control plane: each scale-down, hibernation, detach */
	struct cuint workers_wait; /* control plane: for every worker's report */
	struct cuint drain;	   /* each node's drain */
	struct cuint stop;	   /* stopping k3s */
	struct cuint startup_wait; /* startup: each of its waits (API, CoreDNS, DNS, storage) */
};
/* A struct nodeconf_power's initializer: what nodeconf_load() gives each
 * wait that node.yaml does not bound. */
#define NODECONF_POWER_DEFAULTS                                                                    \
	{                                                                                          \
		.lock_wait.v = 10 * 60, .release_wait.v = 45 * 60, .scale_wait.v = 10 * 60,        \
		.workers_wait.v = 20 * 60, .drain.v = 5 * 60, .stop.v = 3 * 60,                    \
		.startup_wait.v = 30 * 60                                                          \
	}

struct nodeconf {
	struct cmeta m;
	struct cstr cluster, node, admin_user;
	struct cenum role;	   /* role.i: enum role */
	struct cstr api_server;	   /* https://API-NAME:6443: where agents join */
	struct cuint join_timeout; /* seconds each wait of `farm-node join` may take */
	struct cstr data_partuuid; /* the Btrfs data partition */
	struct cstr disk;	   /* expected disk name, for messages */
	struct cuint ceph_size;	   /* bytes of raw Ceph OSD partition; 0: none */
	struct cstr control_plane; /* the control plane's node name */
	struct cstr cluster_dns;   /* CoreDNS's service address, "IP" or "IP:PORT" */
	struct nodeconf_power power;
	struct conf_file file;
};

/* Loads PATH; prints FILE:LINE:COL problems. Returns 0 or -errno. */
int nodeconf_load(const char *path, struct nodeconf *n);
void nodeconf_free(struct nodeconf *n);
/* The text of node.yaml for N: a comment naming the node (a checked host
 * name), then every field that is set, in the schema's order. Returns 0 and
 * the malloc'ed text in *TEXT, or -EINVAL after printing one message (a
 * value that is not UTF-8). */
int nodeconf_write(const struct nodeconf *n, char **text);
