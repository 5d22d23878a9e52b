/* SPDX-License-Identifier: MIT */
/* A stand-in for the k3s binary (k3s itself cannot be downloaded here),
 * for the tests that run farm-node against a cluster: the boot tests and
 * the orchestration tests. See README.md beside this file.
 *
 *   k3s server   keeps a small cluster's objects in a state directory and
 *                answers kubectl's requests over TCP on its https port (and
 *                the port after it, where k3s's API server listens); it
 *                registers its own node and plays helm-controller, the
 *                kubelet and the controllers as a scenario file says.
 *   k3s agent    registers its node with the server it is configured with,
 *                then writes the kubelet kubeconfig, as k3s agent does.
 *   k3s kubectl  sends its arguments and standard input to the server named
 *                by --server or the kubeconfig, prints what the server
 *                answers and exits with its status: the output shapes and
 *                exit codes of kubectl v1.33's (cited in the sources). A
 *                server that is not there is "The connection to the server
 *                HOST:PORT was refused", as for kubectl. */
#pragma once

#include "jsonq.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* --- the wire (wire.c) --------------------------------------------------- */

struct reply {
	int status;
	char *out, *err;
	size_t out_len, err_len;
};

/* Client: sends ARGV and INPUT to HOST:PORT. Returns 0 and R, or -errno
 * (-ECONNREFUSED, -ETIMEDOUT, ...) when the server cannot be reached. */
int wire_call(const char *host, const char *port, int argc, char **argv, const char *input,
	      size_t input_len, struct reply *r);
/* Server: listening sockets on PORT (all addresses; NULL: none) and on
 * LOOPBACK_PORT (127.0.0.1 only; NULL: none). Each request is handled by HANDLER in
 * turn, in this process. Never returns unless it cannot listen. */
typedef void (*wire_handler)(int argc, char **argv, const char *input, size_t len, struct reply *r);
int wire_serve(const char *port, const char *loopback_port, wire_handler h, void (*ready)(void));

/* --- the cluster's objects (store.c) ------------------------------------- */

struct kind {
	const char *kind, *group, *version, *plural;
	bool namespaced;
	const char *shortnames; /* space-separated */
};

/* The state directory (set by the server at start). */
extern char *state_dir;
extern uint64_t world_tick;

/* The kind a kubectl resource word names ("deploy", "deployments.apps",
 * "crd", "clusterissuer", a CRD's plural...), including the kinds of
 * Established CRDs. NULL when unknown. */
const struct kind *kind_by_word(const char *word);
/* The kind of an object's apiVersion and kind, or NULL. */
const struct kind *kind_by_gvk(const char *api_version, const char *kind);
/* "deployment.apps" / "node": what kubectl prints before "/NAME". */
void kind_print_name(const struct kind *k, char *buf, size_t len);
/* "deployments.apps" / "nodes": the qualified resource of errors. */
void kind_resource_name(const struct kind *k, char *buf, size_t len);

/* The object, or NULL (caller owns it). NS is ignored for cluster-scoped kinds. */
json_object *store_get(const struct kind *k, const char *ns, const char *name);
/* Writes OBJ (metadata.name, metadata.namespace set) atomically: uid,
 * resourceVersion, creationTimestamp and generation are kept up to date. */
int store_put(const struct kind *k, json_object *obj);
int store_delete(const struct kind *k, const char *ns, const char *name);
/* Every object of K (in NS, or all namespaces when NS is NULL), sorted by
 * namespace and name; *N set. Caller frees each (json_object_put) and the
 * array. */
json_object **store_list(const struct kind *k, const char *ns, size_t *n);
void store_list_free(json_object **l, size_t n);

/* --- the simulated cluster (world.c) -------------------------------------- */

/* Reads the scenario (K3S_STANDIN_SCENARIO, else /etc/rancher/k3s/
 * standin.scenario) and the world's state. */
void world_load(void);
/* One tick: what the controllers would have done by now. Called before
 * every request. Returns true when the request must fail as if the API
 * did not answer (the scenario's api-down). */
bool world_tick_once(void);
/* helm-controller's configHash of a HelmChart's install Job. */
void world_config_hash(json_object *helmchart, char out[80]);
/* Whether the condition TYPE of custom resource OBJ is True now (the
 * scenario decides; the default is True one tick after creation). */
bool world_cr_condition(json_object *obj, const char *type);
/* A node registering itself (server and agents). */
int world_register_node(const char *name, const char *ip);

/* --- kubectl's verbs (verbs*.c, sharing verbs.h) -------------------------- */

struct out {
	FILE *out, *err;
	int status;
};
void kubectl_main(int argc, char **argv, const char *input, size_t len, struct out *o);

/* Who makes the request being served: the user and groups of the
 * client certificate the kubectl's kubeconfig names ("system:admin" in
 * "system:masters" without one). Set by the server for each request. */
extern const char *standin_user, *standin_groups;

/* --- the power cycle's world (power.c) ------------------------------------ */

/* What the controllers of the power cycle's objects do, one tick per
 * request (after world.c's): workload pods, CloudNativePG's hibernation,
 * Ceph's volume attachments and health. */
void world_tick_power(void);
/* Serves DNS as CoreDNS would (when the scenario says where), in a child
 * process that ends with the server. */
void world_start_dns(void);
/* The user and groups of the PEM certificate at PATH ("CN", "O1,O2"), or
 * -1. */
int cert_identity(const char *path, char *user, size_t ulen, char *groups, size_t glen);

/* A line of the scenario: "WORD A B C..." (REST: all after A). */
struct rule {
	char word[32], a[256], b[256], c[256];
	char *rest;
};
/* The scenario's rule WORD A (A NULL: any), the I-th rule (NULL past the
 * end), and a rule's "WORD A VERB N" count (DFLT without it; *NEVER for
 * "never"). */
const struct rule *world_rule(const char *word, const char *a);
const struct rule *world_rule_at(size_t i);
uint64_t world_rule_n(const char *word, const char *a, const char *verb, uint64_t dflt,
		      bool *never);
/* The tick an object was first seen (set_born) and the server's start. */
uint64_t world_born(json_object *o);
void world_set_born(json_object *o);
extern uint64_t world_start_tick;

/* --- helpers --------------------------------------------------------------- */

/* YAML documents of TEXT, as JSON objects (yaml.c). Returns the number of
 * documents or -1 with *ERR set. */
int yaml_to_json(const char *text, size_t len, json_object ***docs, char **err);
/* kubectl's jsonpath (a subset: fields, [N], [*], [?(@.a=="b")], range/end,
 * literals) applied to OBJ, into F. Returns 0 or -1 with ERR (jsonpath.c). */
int jsonpath_print(FILE *f, json_object *obj, const char *tmpl, char *err, size_t errlen);
/* Whether OBJ's labels match SELECTOR ("a=b,c!=d,e"). */
bool selector_matches(json_object *obj, const char *selector);
/* A line of STATE/requests.log, the record of what the stand-in was asked
 * and applied that the tests read. */
void request_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* RFC 3339 time of now. */
void now_rfc3339(char buf[32]);
/* The object at KEY/KEY/..., created as {} on the way. */
json_object *jmake(json_object *o, ...);
void jset_str(json_object *o, const char *key, const char *v);
/* Sets condition TYPE of OBJ's status.conditions to STATUS (with REASON
 * and MESSAGE). */
void set_condition(json_object *obj, const char *type, const char *status, const char *reason,
		   const char *message);
bool condition_is(json_object *obj, const char *type, const char *status);
