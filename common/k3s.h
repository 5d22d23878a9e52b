/* SPDX-License-Identifier: MIT */
/* What farm relies on about k3s (the v1.33 line), in one place for
 * farm-image, which bakes the files, and farm-node, which prepares the node
 * before k3s first starts. Each fact was read in k3s's source at commit
 * c837bfcdc7c8c6e9a17e9cad09769034a7e9b0d7 (see README, "k3s on a read-only
 * root"). Paths are relative to the node's root, as the plan's are. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Read by k3s (pkg/configfilearg/defaultparser.go DefaultConfig). */
#define K3S_CONFIG "etc/rancher/k3s/config.yaml"
/* token-file of every node: the server token on the server, the agent
 * token on agents; agent-token-file of the server. */
#define K3S_TOKEN	"etc/rancher/k3s/token"
#define K3S_AGENT_TOKEN "etc/rancher/k3s/agent-token"
/* Created by the agent when absent (pkg/agent/config/config.go
 * ensureNodePassword): baked, so a reimaged node keeps its identity. */
#define K3S_NODE_PASSWORD "etc/rancher/node/password"
/* The server writes its admin kubeconfig to write-kubeconfig and links the
 * default path to it (pkg/server/server.go writeKubeConfig): the link is
 * baked into the read-only root, the file lives on the data partition. */
#define K3S_KUBECONFIG_LINK  "etc/rancher/k3s/k3s.yaml"
#define K3S_ADMIN_KUBECONFIG "var/lib/rancher/k3s/server/cred/farm-admin.kubeconfig"
/* The credentials farm-node reads the cluster with. The server's own admin
 * kubeconfig, made with its certificates (pkg/daemons/control/deps/deps.go:
 * DataDir/cred/admin.kubeconfig, pointing at the API server on the
 * loopback), there before write-kubeconfig's copy. */
#define K3S_SERVER_KUBECONFIG "var/lib/rancher/k3s/server/cred/admin.kubeconfig"
/* An agent's kubelet kubeconfig, written once the server has signed its
 * certificates (pkg/agent/config/config.go: DataDir/agent/
 * kubelet.kubeconfig): the node's own identity, system:node:NAME, which may
 * read Node objects and no more than the node authorizer allows. */
#define K3S_KUBELET_KUBECONFIG "var/lib/rancher/k3s/agent/kubelet.kubeconfig"

/* Under k3s's data dir (/var/lib/rancher/k3s, a data subvolume). */
#define K3S_TLS_DIR	     "var/lib/rancher/k3s/server/tls"
#define K3S_MANIFESTS_DIR    "var/lib/rancher/k3s/server/manifests"
#define K3S_IMAGES_DIR	     "var/lib/rancher/k3s/agent/images"
#define K3S_KUBELET_CONF_DIR "var/lib/rancher/k3s/agent/etc/kubelet.conf.d"

/* With flannel-backend: none k3s leaves containerd's CNI settings at
 * containerd's defaults (pkg/agent/config/config.go sets CNIBinDir and
 * CNIConfDir only with flannel; pkg/agent/templates omits the cni section
 * when both are empty), which are Cilium's defaults too (cni.binPath,
 * cni.confPath). Both are mount points of data subvolumes. */
#define CNI_CONF_DIR "etc/cni/net.d"
#define CNI_BIN_DIR  "opt/cni/bin"

/* The packaged components the server's config.yaml disables (its
 * `disable:` list): the stack installs its own CoreDNS and Traefik, and
 * Cilium's LB IPAM replaces servicelb. */
extern const char *const k3s_disabled[];
extern const size_t n_k3s_disabled;

/* Whether k3s deletes the file NAME (relative to its manifests directory)
 * and what it created: k3s's deploy controller (pkg/deploy/controller.go
 * shouldDisableFile) deletes every .yaml/.yml/.json file whose name without
 * the extension is a disabled component, at any depth, and every file
 * below a top-level directory of that name (it looks up the joins of the
 * leading components, "a", "a/b"..., so a deeper one is no match).
 * Besides the `disable:` list, "ccm" is disabled when both the cloud
 * controller and servicelb are (pkg/cli/server/server.go), as in farm's
 * server config. Anything farm puts there must pass this. */
bool k3s_manifest_deleted(const char *name);
