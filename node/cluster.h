/* SPDX-License-Identifier: MIT */
/* The one module of farm-node that talks to the cluster. It runs the image's
 * `k3s kubectl` with an argument vector (never a shell), with explicit
 * credentials (--kubeconfig; the server's admin kubeconfig on the control
 * plane), captures what kubectl printed and how it ended, and sorts every
 * outcome into a class, so that callers fail closed: anything but CL_OK is
 * never read as "no objects" or "ready".
 *
 * The classes follow kubectl's own messages (kubernetes/kubectl v0.33.5,
 * pkg/cmd/util/helpers.go checkErr/StandardErrorMessage):
 *   "Error from server (NotFound): ..."              -> CL_NOT_FOUND
 *   "the server doesn't have a resource type ..."     -> CL_NOT_FOUND (the kind)
 *   "... no matches for kind ... ensure CRDs are installed first" -> CL_NOT_FOUND
 *   "The connection to the server H was refused ..."   -> CL_UNREACHABLE
 *   "Unable to connect to the server: ..."             -> CL_UNREACHABLE
 *   "Error from server (ServiceUnavailable|Timeout|TooManyRequests|InternalError)"
 *                                                      -> CL_UNREACHABLE (the API is
 *                                                         there but cannot serve it now)
 *   "Error from server (Forbidden|Invalid|...)",
 *   "error: You must be logged in to the server (...)",
 *   "The request is invalid" / "The X "y" is invalid"  -> CL_REFUSED
 *   "error: timed out waiting for the condition..."    -> CL_TIMEOUT (wait, rollout status)
 *   anything else                                     -> CL_FAILED */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

enum cl_class {
	CL_OK,
	CL_NOT_FOUND,	/* the object, or its kind, does not exist */
	CL_UNREACHABLE, /* the API did not answer, or cannot serve the request now */
	CL_REFUSED,	/* the API answered and refused the request */
	CL_TIMEOUT,	/* a wait of kubectl's own ran out */
	CL_FAILED,	/* kubectl failed otherwise (or could not run) */
};

const char *cl_class_name(enum cl_class c);

struct cluster {
	char *k3s;		  /* the k3s binary */
	char *kubeconfig;	  /* the credentials */
	char *server;		  /* NULL: the kubeconfig's own server */
	unsigned request_timeout; /* seconds per API request (kubectl --request-timeout) */
};

/* ROOT/usr/local/bin/k3s with ROOT/KUBECONFIG (relative to the root) and,
 * when SERVER is not NULL, that API server instead of the kubeconfig's. */
void cluster_init(struct cluster *c, const char *root, const char *kubeconfig, const char *server);
void cluster_free(struct cluster *c);

/* The outcome of one kubectl call. */
struct kubectl {
	enum cl_class cls;
	int status;	 /* kubectl's exit status; 128+N when killed; -errno when it did not run */
	char *out, *err; /* what it printed, NUL-terminated (never NULL after a call) */
};

/* Runs `k3s kubectl --kubeconfig K [--server S] --request-timeout=Ns ARGS`
 * (ARGS NULL-terminated), with INPUT on its standard input (NULL: none).
 * KUBECTL_TIMEOUT, for a wait, bounds the whole run in seconds (its own
 * --timeout plus a margin; no --request-timeout then, a watch may outlast
 * one request); 0 is one request's time plus a margin. Past it kubectl is
 * killed and the call is CL_UNREACHABLE.
 * Returns the class; R holds the rest (kubectl_free() it). */
enum cl_class cluster_kubectl(const struct cluster *c, const char *const *args, const char *input,
			      unsigned kubectl_timeout, struct kubectl *r);
void kubectl_free(struct kubectl *r);

/* The class of an outcome (pure; exposed for the tests). */
enum cl_class kubectl_classify(int status, const char *err);
/* What kubectl said, in one line for a message: the last non-empty line of
 * its stderr (or of stdout), or why it did not run. Points into R. */
const char *kubectl_said(const struct kubectl *r, char *buf, size_t len);

/* --- the verbs farm-node uses (each one kubectl call) ------------------
 * OBJ is "kind/name" (as kubectl takes it, e.g. "deployment/coredns",
 * "crd/certificates.cert-manager.io"); NS is a namespace or NULL for
 * cluster-scoped objects. Each returns the class and fills R. */

/* `get OBJ -o json`, parsed with json-c into *JSON (on CL_OK; a reply that
 * is not JSON is CL_FAILED). */
enum cl_class cluster_get_json(const struct cluster *c, const char *obj, const char *ns,
			       json_object **json, struct kubectl *r);
/* `get KIND -l SELECTOR -o json` (a list). */
enum cl_class cluster_list_json(const struct cluster *c, const char *kind, const char *ns,
				const char *selector, json_object **json, struct kubectl *r);
/* `get OBJ -o jsonpath=PATH`: the text in R->out. */
enum cl_class cluster_jsonpath(const struct cluster *c, const char *obj, const char *ns,
			       const char *path, struct kubectl *r);
/* `get --raw PATH` (e.g. /readyz). */
enum cl_class cluster_get_raw(const struct cluster *c, const char *path, struct kubectl *r);
/* `apply -f -` of MANIFEST (server-side apply with farm-node as the field
 * manager, so that what farm-node owns is recorded in the objects). */
enum cl_class cluster_apply(const struct cluster *c, const char *manifest, struct kubectl *r);
/* `wait --for=condition=COND OBJ --timeout=Ns`. */
enum cl_class cluster_wait_condition(const struct cluster *c, const char *obj, const char *ns,
				     const char *cond, unsigned timeout, struct kubectl *r);
/* `rollout status OBJ --timeout=Ns` (Deployment, DaemonSet, StatefulSet). */
enum cl_class cluster_rollout_status(const struct cluster *c, const char *obj, const char *ns,
				     unsigned timeout, struct kubectl *r);
/* `patch OBJ --type=TYPE -p PATCH` (TYPE: merge, json or strategic). */
enum cl_class cluster_patch(const struct cluster *c, const char *obj, const char *ns,
			    const char *type, const char *patch, struct kubectl *r);
/* `scale OBJ --replicas=N`. */
enum cl_class cluster_scale(const struct cluster *c, const char *obj, const char *ns,
			    unsigned replicas, struct kubectl *r);
/* `annotate --overwrite OBJ KEY=VALUE` (VALUE NULL: `KEY-`, removes it). */
enum cl_class cluster_annotate(const struct cluster *c, const char *obj, const char *ns,
			       const char *key, const char *value, struct kubectl *r);
/* `cordon NODE` or `uncordon NODE`. */
enum cl_class cluster_cordon(const struct cluster *c, const char *node, bool cordon,
			     struct kubectl *r);
/* `drain NODE --ignore-daemonsets --delete-emptydir-data --timeout=Ns`. */
enum cl_class cluster_drain(const struct cluster *c, const char *node, unsigned timeout,
			    struct kubectl *r);
/* `taint nodes NODE TAINT --overwrite` (TAINT "key=value:Effect", or
 * "key:Effect-" to remove it). */
enum cl_class cluster_taint(const struct cluster *c, const char *node, const char *taint,
			    struct kubectl *r);
