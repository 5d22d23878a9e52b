/* SPDX-License-Identifier: MIT */
/* The power cycle (NODE-SPEC.md, "Power cycle"): the cluster's graceful
 * shutdown on a schedule, the startup after it, and the SSH locks that
 * hold a shutdown off.
 *
 * Everything the nodes tell each other lives in annotations on the Node
 * objects (builder/power.h says why not ConfigMaps):
 *   farm/ssh-lock-NAME  on the node where someone works: {"until": T,
 *                       "by": USER, "from": ADDRESS}; valid until T;
 *   farm/shutdown-lock  on the control plane: {"id": ID, "owner": NODE,
 *                       "phase": "scaling" | "released" | "aborted",
 *                       "started": T, "until": T, "reason": TEXT};
 *                       workers wait for it, then for "released";
 *   farm/power          on each worker: {"id": ID, "state": "done",
 *                       "at": T}: its report to the control plane;
 *   farm/replicas       on each workload the shutdown scaled down: the
 *                       replicas it had, restored by the startup;
 *   farm/hibernated     on each CloudNativePG cluster the shutdown put to
 *                       sleep (one the user hibernated is left alone).
 * Times are RFC 3339 UTC; ID is the shutdown's start in Unix seconds.
 *
 * A worker reaches the API as its own user (/etc/farm/power/kubeconfig,
 * builder/power.h), the control plane with k3s's admin kubeconfig. Every
 * check fails closed: an API error is never "no locks", "gone" or "ready". */
#pragma once

#include "cluster.h"
#include "node.h"
#include "powerinfo.h"

#include <stdbool.h>
#include <time.h>

#define POWER_ANN_SSH_LOCK	"farm/ssh-lock-"
#define POWER_ANN_SHUTDOWN_LOCK "farm/shutdown-lock"
#define POWER_ANN_REPORT	"farm/power"
#define POWER_ANN_REPLICAS	"farm/replicas"
#define POWER_ANN_HIBERNATED	"farm/hibernated"
#define POWER_TAINT		"dns-unready=true:NoExecute"
#define POWER_TAINT_KEY		"dns-unready"
/* A worker's own credentials (builder/power.h). */
#define POWER_KUBECONFIG "etc/farm/power/kubeconfig"
/* Local records of the SSH locks of this node's live sessions (tmpfs:
 * sessions end with the boot). */
#define POWER_RUN_LOCKS "run/farm/locks"

/* The cluster as the power cycle reaches it. */
void power_cluster(const struct farm_node *n, struct cluster *c);

/* Runs ROOT/usr/bin/systemctl with ARGS (NULL-terminated), for at most
 * TIMEOUT seconds. Returns its exit status or -errno. */
int power_systemctl(const struct farm_node *n, unsigned timeout, const char *const *args);

/* This boot's id (the kernel's random boot_id), "unknown" without one. */
void power_boot_id(const struct farm_node *n, char *buf, size_t len);

/* RFC 3339 UTC of T into BUF (at least 32 bytes); and back (-EINVAL). */
const char *power_time(time_t t, char *buf, size_t len);
int power_parse_time(const char *s, time_t *t);

/* One node's power annotations, as read from its Node object. */
struct power_node {
	char name[256];
	bool ready;	  /* condition Ready is True */
	bool server;	  /* the control plane (node.yaml control-plane) */
	json_object *obj; /* the Node object (owned) */
};

/* Every Node (`get nodes -o json`, one request). Returns the class; on
 * CL_OK *NODES (free with power_nodes_free) and *N. */
enum cl_class power_list_nodes(const struct farm_node *n, struct cluster *c,
			       struct power_node **nodes, size_t *count, char *said, size_t len);
void power_nodes_free(struct power_node *nodes, size_t n);
/* The annotation KEY of OBJ parsed as a JSON object, or NULL (caller puts). */
json_object *power_annotation(json_object *obj, const char *key);

/* The control plane's shutdown lock, as seen on its Node. */
struct shutdown_lock {
	bool present;
	long long id;
	char owner[256], phase[16], reason[256];
	time_t started, until;
};
void power_read_shutdown_lock(json_object *node, struct shutdown_lock *l);

/* --- locks.c ------------------------------------------------------------- */

/* Finds every valid SSH lock: on every node's Node object, and the
 * records of this node's live sessions (which hold the node itself off
 * even when their lock could not be published). Removes what has expired
 * or whose session is gone: this node's own, and on the control plane any
 * node's. Returns the number of valid locks (*LOCKS, *N: all, valid or
 * not), or -errno after printing why the locks could not be read (fail
 * closed: the caller must not go on); -EHOSTUNREACH when the API did not
 * answer and this node has no session lock of its own (a worker may then
 * still go, but only once the control plane is known to be down). */
int power_find_locks(struct farm_node *n, struct cluster *c, struct lock_info **locks,
		     size_t *count);

/* status's list of every published lock (powerinfo.h). */
void power_locks_gather(const struct farm_node *n, struct power_info *pi);
/* farm-node lock [--session NAME] [--for DURATION] [--quiet-ok] */
int power_lock(struct farm_node *n, const char *session, unsigned duration, bool quiet_ok);
/* farm-node unlock [--session NAME] [--manual] */
int power_unlock(struct farm_node *n, const char *session, bool manual);

/* --- shutdown.c, startup.c ----------------------------------------------- */

/* farm-node shutdown: the power cycle's shutdown of this node (and, on the
 * control plane, of the cluster's workloads). Exit status for main(). */
int power_shutdown(struct farm_node *n);
/* farm-node startup, after k3s at every boot. */
int power_startup(struct farm_node *n);
/* Puts back what an interrupted or failed shutdown scaled down, on the
 * control plane (the startup's restore, also run when a shutdown fails
 * midway). Returns 0 or -errno after printing why. */
int power_restore(struct farm_node *n, struct cluster *c, const char *why, char *summary,
		  size_t len);
/* The shutdown's position in the journal (power/shutdown): its id, the
 * state reached, when, and the note. Returns 0, -ENOENT or -errno. */
int power_shutdown_position(const struct farm_node *n, long long *id, char *state, size_t len,
			    time_t *when, char *note, size_t nlen);
/* Records that the shutdown under way (if any) is over: the startup after
 * it ran. */
void power_shutdown_finished(struct farm_node *n, const char *note);

/* The server's step: applies the image's RBAC manifest of the agents'
 * power cycle (every boot; server-side apply changes nothing when it is
 * in place). */
int step_power_rbac(struct farm_node *n, char *detail, size_t len);
