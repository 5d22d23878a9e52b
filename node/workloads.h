/* SPDX-License-Identifier: MIT */
/* What the control plane's shutdown stops and its startup brings back
 * (NODE-SPEC.md, "Power cycle"), each optional component detected, never
 * assumed:
 *   Argo CD      its application controller (StatefulSet or Deployment
 *                labelled app.kubernetes.io/name=argocd-application-controller),
 *                so that it does not undo what follows;
 *   apps, dbs    Deployments and StatefulSets labelled
 *                storage=rook-ceph,shutdown=app, then shutdown=db;
 *   CloudNativePG  its Clusters (CRD clusters.postgresql.cnpg.io),
 *                hibernated with cnpg.io/hibernation=on;
 *   Rook-Ceph    the volume attachments of its CSI drivers (*.csi.ceph.com)
 *                must go before the nodes stop; at startup its CephClusters
 *                (CRD cephclusters.ceph.rook.io) must be healthy before
 *                anything that stores data comes back.
 * The replicas of each workload are recorded in its own annotation
 * (farm/replicas) before it is scaled: the record goes with the object
 * (one deleted and made again meanwhile is not "restored" to a count it
 * never had), it survives a reimage of the control plane, and
 * `kubectl get -o yaml` shows it. Nothing already at 0 is recorded, so a
 * workload the user had scaled down stays down; a CloudNativePG cluster the
 * user hibernated is left alone the same way. */
#pragma once

#include "powercycle.h"

enum workload_set {
	SET_ARGOCD,
	SET_APPS,
	SET_DBS,
};

/* Records and scales SET to 0, then waits (bounded) until its pods are
 * gone. Returns 0 or -errno after printing why (an API error, a timeout
 * naming what it waited for). *DETAIL says what was done. */
int workloads_stop(struct farm_node *n, struct cluster *c, enum workload_set set, char *detail,
		   size_t len);
/* Hibernates the CloudNativePG clusters (none, or no CRD: nothing to do)
 * and waits until their pods are gone. */
int cnpg_hibernate(struct farm_node *n, struct cluster *c, char *detail, size_t len);
/* Waits until no volume attachment of a Ceph CSI driver is left. */
int ceph_detached(struct farm_node *n, struct cluster *c, char *detail, size_t len);

/* Startup: waits until every CephCluster reports HEALTH_OK or HEALTH_WARN
 * (Ceph serves I/O in both); no Rook-Ceph: nothing to wait for. */
int ceph_healthy(struct farm_node *n, struct cluster *c, char *detail, size_t len);
/* Ends the hibernation of the clusters farm/hibernated marks. */
int cnpg_wake(struct farm_node *n, struct cluster *c, char *detail, size_t len);
/* Scales every workload of SET that carries farm/replicas back to its
 * count, then drops the record. */
int workloads_restore(struct farm_node *n, struct cluster *c, enum workload_set set, char *detail,
		      size_t len);
