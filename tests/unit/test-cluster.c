/* SPDX-License-Identifier: MIT */
/* farm-node's cluster module: kubectl's outcomes sorted into classes, with
 * the messages as kubectl v1.33 prints them (kubernetes/kubectl v0.33.5
 * pkg/cmd/util/helpers.go checkErr and StandardErrorMessage; apimachinery's
 * StatusError messages; pkg/cmd/wait/condition.go; cli-runtime v0.33.5
 * pkg/resource/mapper.go). Anything unrecognized is a failure, never OK. */
#include "cluster.h"
#include "unit.h"

struct c {
	const char *name;
	int status;
	const char *err;
	enum cl_class want;
};

static const struct c cases[] = {
	{ "success", 0, "", CL_OK },
	{ "success with warnings", 0, "Warning: resource is deprecated\n", CL_OK },
	{ "not found", 1, "Error from server (NotFound): deployments.apps \"coredns\" not found\n",
	  CL_NOT_FOUND },
	{ "not found (cluster-scoped)", 1,
	  "Error from server (NotFound): customresourcedefinitions.apiextensions.k8s.io "
	  "\"certificates.cert-manager.io\" not found\n",
	  CL_NOT_FOUND },
	{ "unknown resource type", 1,
	  "error: the server doesn't have a resource type \"clusterissuers\"\n", CL_NOT_FOUND },
	{ "a kind without its CRD", 1,
	  "error: resource mapping not found for name: \"farm-ca\" namespace: \"\" from \"STDIN\": no "
	  "matches for kind \"ClusterIssuer\" in version \"cert-manager.io/v1\"\nensure CRDs are "
	  "installed first\n",
	  CL_NOT_FOUND },
	{ "connection refused", 1,
	  "The connection to the server 127.0.0.1:6444 was refused - did you specify the right host "
	  "or port?\n",
	  CL_UNREACHABLE },
	{ "unable to connect", 1,
	  "Unable to connect to the server: dial tcp 192.168.14.11:6443: i/o timeout\n",
	  CL_UNREACHABLE },
	{ "TLS handshake timeout", 1,
	  "Unable to connect to the server: net/http: TLS handshake timeout\n", CL_UNREACHABLE },
	{ "service unavailable", 1,
	  "Error from server (ServiceUnavailable): the server is currently unable to handle the "
	  "request\n",
	  CL_UNREACHABLE },
	{ "a webhook that does not answer yet", 1,
	  "Error from server (InternalError): error when creating \"STDIN\": Internal error "
	  "occurred: failed calling webhook \"webhook.cert-manager.io\": failed to call webhook: Post "
	  "\"https://cert-manager-webhook.cert-manager.svc:443/validate?timeout=30s\": dial tcp "
	  "10.43.12.1:443: connect: connection refused\n",
	  CL_UNREACHABLE },
	{ "too many requests", 1,
	  "Error from server (TooManyRequests): the server has received too many requests and has asked us to try again later\n",
	  CL_UNREACHABLE },
	{ "forbidden", 1,
	  "Error from server (Forbidden): nodes \"cow\" is forbidden: User \"system:node:sheep\" "
	  "cannot patch resource \"nodes\" in API group \"\" at the cluster scope\n",
	  CL_REFUSED },
	{ "unauthorized", 1, "error: You must be logged in to the server (Unauthorized)\n",
	  CL_REFUSED },
	{ "invalid", 1,
	  "The HelmChart \"cilium\" is invalid: spec.bootstrap: Invalid value: \"string\": "
	  "spec.bootstrap in body must be of type boolean: \"string\"\n",
	  CL_REFUSED },
	{ "invalid without details", 1, "The request is invalid: patch: Invalid value\n",
	  CL_REFUSED },
	{ "conflict", 1,
	  "Error from server (Conflict): Apply failed with 1 conflict: conflict with \"helm\": "
	  ".spec.replicas\n",
	  CL_REFUSED },
	{ "wait timed out", 1,
	  "error: timed out waiting for the condition on jobs/helm-install-cilium\n", CL_TIMEOUT },
	{ "rollout status timed out", 1, "error: timed out waiting for the condition\n",
	  CL_TIMEOUT },
	{ "something else", 1, "error: unknown flag: --bogus\n", CL_FAILED },
	{ "nothing said", 1, "", CL_FAILED },
	{ "killed", 137, "", CL_FAILED },
	{ "did not run", -2, "", CL_FAILED },
	{ "the first recognized line decides", 1,
	  "Warning: something\nThe connection to the server 127.0.0.1:6444 was refused - did you "
	  "specify the right host or port?\n",
	  CL_UNREACHABLE },
};

int main(void)
{
	char buf[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		const struct c *c = &cases[i];
		CHECK_STR(c->name, cl_class_name(c->want),
			  cl_class_name(kubectl_classify(c->status, c->err)));
	}
	{
		struct kubectl k = { .status = 1,
				     .out = (char *)"",
				     .err = (char *)"line one\n\nlast line\n" };
		CHECK_STR("kubectl_said: the last line", "last line",
			  kubectl_said(&k, buf, sizeof(buf)));
		k.err = (char *)"";
		k.out = (char *)"Waiting for deployment \"x\" rollout to finish: 0 of 1 updated replicas are available...\n";
		CHECK_STR("kubectl_said: stdout when stderr is empty",
			  "Waiting for deployment \"x\" rollout to finish: 0 of 1 updated replicas are available...",
			  kubectl_said(&k, buf, sizeof(buf)));
		k.status = -2;
		CHECK_STR("kubectl_said: did not run",
			  "kubectl did not run: No such file or directory",
			  kubectl_said(&k, buf, sizeof(buf)));
	}
	return UNIT_EXIT();
}
