/* SPDX-License-Identifier: MIT */
/* The steps of `farm-node firstboot` (steps.c has the table): what the node
 * needs before sshd and k3s first start. */
#pragma once

#include "node.h"

int step_host_keys(struct farm_node *n, char *detail, size_t len);
int step_home(struct farm_node *n, char *detail, size_t len);
/* The server only: the cluster CA where k3s takes it at its first start. */
int step_k3s_ca(struct farm_node *n, char *detail, size_t len);
int step_k3s_images(struct farm_node *n, char *detail, size_t len);
int step_kubelet_dropins(struct farm_node *n, char *detail, size_t len);
