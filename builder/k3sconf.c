/* SPDX-License-Identifier: MIT */
/* What each key means to k3s, from its source (k3s-io/k3s @ c837bfcd, the
 * v1.33 line):
 * - node-ip: both families. With disable-cloud-controller, k3s does not pass
 *   a dual-stack node-ip to the kubelet (pkg/daemons/agent/agent_linux.go
 *   kubeletArgsAndConfig: "If the embedded CCM is disabled, don't assume
 *   that dual-stack node IPs are safe ... set the node-ip kubelet arg
 *   directly"), so the kubelet would register IPv4 only: kubelet-arg
 *   node-ip gives it both (the kubelet allows a dual-stack --node-ip without
 *   a cloud provider, component-helpers node/util ips.go
 *   ParseNodeIPArgument). Extra kubelet args replace k3s's defaults of the
 *   same name (pkg/util/args.go GetArgs).
 * - Image garbage collection is not a kubelet flag: it is in farm's kubelet
 *   drop-in (overlays/common/usr/lib/farm/k3s/kubelet.conf.d).
 * - token-file: the server token on the server, the agent token on agents.
 *   agent-token-file (server only): agents join with it and cannot join as
 *   servers (pkg/daemons/control/deps/deps.go genUsers: the "node" user's
 *   password is the agent token; pkg/passwd EnsureUser strips the
 *   "K10<hash>::node:" prefix of a full token).
 * - `k3s agent` treats an unknown key as fatal; `k3s server` drops unknown
 *   keys with a warning (pkg/configfilearg/parser.go). */
#include "k3sconf.h"
#include "k3s.h"
#include "log.h"
#include "secrets.h"
#include "yamlout.h"

int k3s_config_yaml(const struct config *c, const struct config_node *n, char **ret)
{
	const struct config_network *net = &c->network;
	bool server = n->role.i == ROLE_SERVER;
	const struct config_node *srv = config_server(c);
	char v4[64], v6[64], p4[80], p6[80];
	const char *two[2];
	char *arg, *yaml, *why, **labels;
	struct yaml_out *y = yaml_out_new();
	int r;

	ip_addr_to_string(&n->ipv4.v, v4, sizeof(v4));
	ip_addr_to_string(&n->ipv6.v, v6, sizeof(v6));
	yaml_out_str(y, "node-name", n->name.v);
	two[0] = v4;
	two[1] = v6;
	yaml_out_list(y, "node-ip", two, 2);
	/* The token is a file, never an argument (SECURITY.md). */
	yaml_out_str(y, "token-file", "/" K3S_TOKEN);
	if (!server) {
		_cleanup_free_ char *url = xasprintf("https://%s:6443", c->cluster.api_name.v);
		yaml_out_str(y, "server", url);
	}
	yaml_out_bool(y, "protect-kernel-defaults", true);
	arg = xasprintf("node-ip=%s,%s", v4, v6);
	yaml_out_list(y, "kubelet-arg", (const char *const *)&arg, 1);
	free(arg);
	labels = xcalloc(n->labels.n + 1, sizeof(*labels));
	for (size_t i = 0; i < n->labels.n; i++)
		labels[i] = xasprintf("%s=%s", n->labels.keys[i], n->labels.values[i]);
	yaml_out_list(y, "node-label", (const char *const *)labels, n->labels.n);
	for (size_t i = 0; i < n->labels.n; i++)
		free(labels[i]);
	free(labels);
	yaml_out_list(y, "node-taint", (const char *const *)n->taints.v, n->taints.n);

	if (server) {
		char s4[64], s6[64];
		const char *sans[] = { c->cluster.api_name.v,
				       ip_addr_to_string(&srv->ipv4.v, s4, sizeof(s4)),
				       ip_addr_to_string(&srv->ipv6.v, s6, sizeof(s6)) };
		_cleanup_free_ char *mask =
			xasprintf("node-cidr-mask-size-ipv6=%llu",
				  (unsigned long long)net->pods.ipv6_node_mask.v);
		const char *kcm[] = { mask };

		yaml_out_str(y, "agent-token-file", "/" K3S_AGENT_TOKEN);
		two[0] = ip_prefix_to_string(&net->pods.ipv4.v, p4, sizeof(p4));
		two[1] = ip_prefix_to_string(&net->pods.ipv6.v, p6, sizeof(p6));
		yaml_out_list(y, "cluster-cidr", two, 2);
		two[0] = ip_prefix_to_string(&net->services.ipv4.v, p4, sizeof(p4));
		two[1] = ip_prefix_to_string(&net->services.ipv6.v, p6, sizeof(p6));
		yaml_out_list(y, "service-cidr", two, 2);
		yaml_out_str(y, "flannel-backend", "none");
		yaml_out_bool(y, "disable-network-policy", true);
		yaml_out_bool(y, "disable-kube-proxy", true);
		yaml_out_bool(y, "disable-cloud-controller", true);
		yaml_out_list(y, "disable", k3s_disabled, n_k3s_disabled);
		yaml_out_bool(y, "secrets-encryption", true);
		yaml_out_list(y, "tls-san", sans, ELEMENTSOF(sans));
		yaml_out_list(y, "kube-controller-manager-arg", kcm, ELEMENTSOF(kcm));
		/* k3s rewrites its kubeconfig at every start: not into /etc. */
		yaml_out_str(y, "write-kubeconfig", "/" K3S_ADMIN_KUBECONFIG);
		yaml_out_str(y, "write-kubeconfig-mode", "0600");
	}
	r = yaml_out_finish(y, &yaml, &why);
	if (r < 0) {
		log_error("Cannot write the k3s config of node '%s': %s", n->name.v, why);
		free(why);
		return r;
	}
	*ret = xasprintf("# k3s %s config, written by farm-image from the cluster config.\n%s",
			 server ? "server" : "agent", yaml);
	free(yaml);
	return 0;
}

/* A secret file: its text and a newline, 0600. */
static void add_secret(struct plan *p, const char *path, const char *origin, const char *text)
{
	_cleanup_free_ char *line = xasprintf("%s\n", text);

	plan_add_text(p, path, 0600, origin, line)->secret = true;
}

int k3s_plan(const struct plan_input *in, const struct personal_inputs *pi, struct plan *p)
{
	const struct config_node *n = in->node;
	bool server = n->role.i == ROLE_SERVER;
	char *yaml, *path;
	int r;

	r = k3s_config_yaml(in->config, n, &yaml);
	if (r < 0)
		return r;
	plan_add_text(p, K3S_CONFIG, 0600, "farm-image (k3s config)", yaml);
	free(yaml);
	/* The server joins with the server token and hands agents the agent
	 * token; an agent's disk holds the agent token only (SECURITY.md). */
	if (server && pi->token)
		add_secret(p, K3S_TOKEN, "secrets (token)", pi->token);
	if (server && pi->agent_token)
		add_secret(p, K3S_AGENT_TOKEN, "secrets (agent-token)", pi->agent_token);
	if (!server && pi->agent_token)
		add_secret(p, K3S_TOKEN, "secrets (agent-token)", pi->agent_token);
	if (pi->node_password)
		add_secret(p, K3S_NODE_PASSWORD, "secrets (node password)", pi->node_password);
	if (server) {
		for (size_t i = 0; i < pi->n_ca; i++) {
			path = xasprintf(FARM_LIB "/k3s/tls/%s", pi->ca[i].name);
			plan_add_data(p, path, 0600, "secrets (cluster CA)", pi->ca[i].data,
				      pi->ca[i].size)
				->secret = true;
			free(path);
		}
		plan_add_link(p, K3S_KUBECONFIG_LINK, "/" K3S_ADMIN_KUBECONFIG,
			      "farm-image (k3s admin kubeconfig)");
	}
	if (pi->k3s_binary) {
		plan_add_source(p, "usr/local/bin/k3s", 0755, "artifacts (k3s)", pi->k3s_binary);
		plan_add_link(p, "usr/local/bin/kubectl", "k3s", "farm-image (k3s tools)");
		plan_add_link(p, "usr/local/bin/crictl", "k3s", "farm-image (k3s tools)");
		plan_add_link(p, "usr/local/bin/ctr", "k3s", "farm-image (k3s tools)");
	}
	if (pi->airgap_images) {
		/* /var/lib/rancher is a data subvolume: the archive waits in the
		 * root and farm-node links it into k3s's images directory. */
		path = xasprintf(FARM_LIB "/k3s/images/%s", pi->airgap_name);
		plan_add_source(p, path, 0644, "artifacts (k3s air-gap images)", pi->airgap_images);
		free(path);
	}
	/* Where Cilium writes its CNI plugin and config: data subvolumes are
	 * mounted here (builder/nodevars.c). */
	plan_add(p, PLAN_DIR, CNI_CONF_DIR, 0755, "farm-image (mount point)");
	plan_add(p, PLAN_DIR, CNI_BIN_DIR, 0755, "farm-image (mount point)");
	return 0;
}
