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

struct nodeconf {
	struct cmeta m;
	struct cstr cluster, node, admin_user;
	struct cenum role; /* role.i: enum role */
	struct cstr api_server;    /* https://API-NAME:6443: where agents join */
	struct cuint join_timeout; /* seconds each wait of `farm-node join` may take */
	struct cstr data_partuuid; /* the Btrfs data partition */
	struct cstr disk;          /* expected disk name, for messages */
	struct cuint ceph_size;    /* bytes of raw Ceph OSD partition; 0: none */
	struct conf_file file;
};

/* Loads PATH; prints FILE:LINE:COL problems. Returns 0 or -errno. */
int nodeconf_load(const char *path, struct nodeconf *n);
void nodeconf_free(struct nodeconf *n);
