/* SPDX-License-Identifier: MIT */
#include "subvol.h"
#include "util.h"

const struct data_subvolume data_subvolumes[] = {
	{ "@var", "/var", "noatime", true },
	{ "@rancher", "/var/lib/rancher", "noatime", false },
	{ "@home", "/home", "noatime,nodev,nosuid", false },
	{ "@snapshots", "/.snapshots", "noatime", false },
	/* containerd's CNI directories (k3s with flannel-backend: none keeps
	 * containerd's defaults), where Cilium installs its plugin and config:
	 * writable on the read-only root, and kept across reboots. */
	{ "@cni-conf", "/etc/cni/net.d", "noatime,nodev,nosuid,noexec", false },
	{ "@cni-bin", "/opt/cni/bin", "noatime,nodev,nosuid", false },
};
const size_t n_data_subvolumes = ELEMENTSOF(data_subvolumes);
