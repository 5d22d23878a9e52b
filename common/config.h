/* SPDX-License-Identifier: MIT */
/* The cluster config (configs/cluster.yaml): a typed model of the file and
 * the checks that make it safe to build from. Shared by farm-image (which
 * renders images from it) and farm-node. */
#pragma once

#include "conf.h"
#include "role.h"

struct config_lan {
	struct cmeta m;
	struct cprefix ipv4, ipv6;
	struct caddr ipv4_gateway, ipv6_gateway;
	struct caddrlist dns;
};

struct config_family_pair {
	struct cmeta m;
	struct cprefix ipv4, ipv6;
	struct cuint ipv6_node_mask; /* pods only */
};

struct config_lb {
	struct cmeta m;
	struct crange ipv4, ipv6;
};

struct config_network {
	struct cmeta m;
	struct config_lan lan;
	struct config_family_pair pods, services;
	struct config_lb loadbalancer;
};

struct config_cluster {
	struct cmeta m;
	struct cstr name, domain, api_name;
};

struct config_k3s {
	struct cmeta m;
	struct cstr version;
};

struct config_admin {
	struct cmeta m;
	struct cstr user;
	struct cstrlist authorized_keys;
};

struct config_power {
	struct cmeta m;
	struct cbool enabled;
	struct cuint shutdown; /* minutes after midnight */
	struct cstr timezone;
};

struct config_storage {
	struct cmeta m;
	struct cuint ceph; /* bytes of raw Ceph OSD partition; 0: none */
};

/* The root Application Argo CD gets (the argocd component): from then on
 * Argo CD owns what the repository says. */
struct config_gitops {
	struct cmeta m;
	struct cstr repository; /* https://, ssh:// or git@ URL */
	struct cstr path;	/* in the repository; default "." */
	struct cstr revision;	/* default "HEAD" */
};

struct config_node {
	struct cmeta m;
	struct cstr name, board, disk;
	struct cenum role;     /* role.i: enum role */
	struct cstr interface; /* the LAN NIC: a MAC address or a name pattern */
	struct caddr ipv4, ipv6;
	struct cuint pcie_gen;
	struct cstr kernel; /* pi5: "4k" (kernel8.img, the default) or "16k" (kernel_2712.img) */
	struct cuint root_size; /* fixed root filesystem size; 0: from content */
	struct cstrmap labels;
	struct cstrlist taints;
	struct config_storage storage;
};

struct config {
	struct cmeta m;
	struct config_cluster cluster;
	struct config_k3s k3s;
	struct config_network network;
	struct config_admin admin;
	struct config_power power;
	struct cstrlist stack;
	struct config_gitops gitops;
	struct clist nodes; /* struct config_node */

	struct conf_file file; /* kept for positioned messages after loading */
	char *dir;	       /* directory of the config file */
};

static inline struct config_node *config_node_at(const struct config *c, size_t i)
{
	return &((struct config_node *)c->nodes.items)[i];
}

/* Loads and checks PATH. Prints every problem (FILE:LINE:COL: message) and
 * returns -EINVAL if there was any; the model is usable only on success.
 * config_free() in every case. */
int config_load(const char *path, struct config *c);
void config_free(struct config *c);

struct config_node *config_find_node(const struct config *c, const char *name);
/* The node with role server (validation makes it the only one), or NULL. */
const struct config_node *config_server(const struct config *c);

/* Whether a node's interface: names its NIC by MAC address (aa:bb:cc:dd:ee:ff)
 * rather than by name pattern. */
bool config_interface_is_mac(const char *s);

/* Why a stack needs a CNI (config.c, stack.c). */
#define CONFIG_NO_CNI                                                                              \
	"k3s runs without flannel (flannel-backend: none), so the stack must install a CNI "       \
	"(cilium); without one no pod gets a network"

/* Reports an error at a position of the loaded config file. */
#define config_error(c, pos, ...) conf_error(&(c)->file, (pos), __VA_ARGS__)
