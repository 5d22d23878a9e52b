/* SPDX-License-Identifier: MIT */
#include "join.h"
#include "log.h"
#include "wait.h"

#include <sys/stat.h>

void join_cluster(const struct farm_node *n, struct cluster *c)
{
	if (n->conf.role.i == ROLE_SERVER)
		cluster_init(c, n->root, K3S_SERVER_KUBECONFIG, NULL);
	else
		cluster_init(c, n->root, K3S_KUBELET_KUBECONFIG, n->conf.api_server.v);
}

/* Where the API is, for messages. */
static const char *api_where(const struct farm_node *n)
{
	return n->conf.role.i == ROLE_SERVER ? "the local k3s server" : n->conf.api_server.v;
}

int step_k3s_api(struct farm_node *n, char *detail, size_t len)
{
	struct cluster *c = n->cluster;
	_cleanup_free_ char *what = xasprintf("the API of %s", api_where(n));
	struct waiter w;
	char said[512];

	waiter_init(&w, what, (unsigned)n->conf.join_timeout.v);
	waiter_progress(&w, n->state, "k3s-api");
	/* k3s writes the credentials farm-node uses once it has its
	 * certificates: an agent only after the server accepted its token. */
	while (access(c->kubeconfig, R_OK) < 0) {
		_cleanup_free_ char *seen = xasprintf(
			"%s is not there yet (%s)", c->kubeconfig,
			n->conf.role.i == ROLE_SERVER
				? "k3s has not made its certificates"
				: "k3s-agent has not had its certificates signed by the server");
		if (!waiter_again(&w, seen))
			return log_error("Gave up after %u s waiting for %s: %s",
					 waiter_elapsed(&w), what, seen);
	}
	for (;;) {
		struct kubectl k;
		enum cl_class cls = cluster_get_raw(c, "/readyz", &k);
		kubectl_said(&k, said, sizeof(said));
		kubectl_free(&k);
		if (cls == CL_OK)
			break;
		if (cls == CL_REFUSED)
			return log_error("The API of %s refused farm-node's credentials (%s): %s",
					 api_where(n), c->kubeconfig, said);
		if (!waiter_again(&w, said))
			return log_error("Gave up after %u s waiting for %s; last: %s",
					 waiter_elapsed(&w), what, said);
	}
	snprintf(detail, len, "the API of %s answers (after %u s)", api_where(n),
		 waiter_elapsed(&w));
	return 0;
}

int step_node_registered(struct farm_node *n, char *detail, size_t len)
{
	_cleanup_free_ char *obj = xasprintf("node/%s", n->conf.node.v);
	_cleanup_free_ char *what = xasprintf("node %s to be registered", n->conf.node.v);
	struct waiter w;
	char said[512];

	waiter_init(&w, what, (unsigned)n->conf.join_timeout.v);
	waiter_progress(&w, n->state, "node-registered");
	for (;;) {
		struct kubectl k;
		enum cl_class cls = cluster_jsonpath(n->cluster, obj, NULL, "{.metadata.name}", &k);
		kubectl_said(&k, said, sizeof(said));
		kubectl_free(&k);
		if (cls == CL_OK)
			break;
		if (cls == CL_REFUSED || cls == CL_FAILED)
			return log_error("Cannot look node %s up: %s", n->conf.node.v, said);
		if (!waiter_again(&w, said))
			return log_error("Gave up after %u s waiting for %s; last: %s",
					 waiter_elapsed(&w), what, said);
	}
	snprintf(detail, len, "node %s registered (after %u s)", n->conf.node.v,
		 waiter_elapsed(&w));
	return 0;
}

int step_node_ready(struct farm_node *n, char *detail, size_t len)
{
	_cleanup_free_ char *obj = xasprintf("node/%s", n->conf.node.v);
	_cleanup_free_ char *what = xasprintf("node %s to be Ready", n->conf.node.v);
	struct waiter w;
	char said[512];

	waiter_init(&w, what, (unsigned)n->conf.join_timeout.v);
	waiter_progress(&w, n->state, "node-ready");
	for (;;) {
		struct kubectl k;
		enum cl_class cls = cluster_wait_condition(n->cluster, obj, NULL, "Ready",
							   MIN(waiter_left(&w), 60), &k);
		kubectl_said(&k, said, sizeof(said));
		kubectl_free(&k);
		if (cls == CL_OK)
			break;
		if (cls == CL_REFUSED || cls == CL_FAILED)
			return log_error("Cannot wait for node %s: %s", n->conf.node.v, said);
		if (cls == CL_TIMEOUT) {
			/* Why it is not Ready, in the kubelet's words. */
			struct kubectl m;
			if (cluster_jsonpath(n->cluster, obj, NULL,
					     "{.status.conditions[?(@.type==\"Ready\")].message}",
					     &m) == CL_OK &&
			    *m.out)
				snprintf(said, sizeof(said), "not Ready: %.480s", m.out);
			kubectl_free(&m);
		}
		if (!waiter_again(&w, said))
			return log_error("Gave up after %u s waiting for %s; last: %s",
					 waiter_elapsed(&w), what, said);
	}
	snprintf(detail, len, "node %s Ready (after %u s)", n->conf.node.v, waiter_elapsed(&w));
	return 0;
}
