/* SPDX-License-Identifier: MIT */
/* Kubernetes' syntax for what a node carries: label keys and values, and
 * taints, checked here as the kubelet checks them when it starts, so that a
 * bad one is a config error (with its position) rather than a node whose
 * kubelet exits at every start. The rules are those of Kubernetes 1.33:
 *   k8s.io/apimachinery pkg/util/validation/validation.go: IsQualifiedName,
 *     IsValidLabelValue, IsDNS1123Subdomain;
 *   k8s.io/kubernetes pkg/util/taints/taints.go: parseTaint, ParseTaints;
 *   k8s.io/kubernetes cmd/kubelet/app/options/options.go:
 *     ValidateKubeletFlags with pkg/kubelet/apis/well_known_labels.go
 *     (labels in the kubernetes.io and k8s.io namespaces a kubelet may set).
 * Each check returns NULL when the text is valid, else why it is not (a
 * static string; k8s_taint_parse's is overwritten by the next call). */
#pragma once

#include <stdbool.h>

/* A DNS-1123 subdomain: at most 253 characters, dot-separated labels of
 * lower-case alphanumerics and '-', each starting and ending with an
 * alphanumeric. */
bool k8s_is_dns1123_subdomain(const char *s);

/* A qualified name: [PREFIX/]NAME, PREFIX a DNS-1123 subdomain, NAME at most
 * 63 characters of alphanumerics, '-', '_' and '.', starting and ending
 * with an alphanumeric. */
const char *k8s_qualified_name_error(const char *s);

/* A label value: empty, or at most 63 characters as a qualified name's NAME. */
const char *k8s_label_value_error(const char *s);

/* A label key that the kubelet refuses in --node-labels (k3s passes
 * node-label that way): one in the kubernetes.io or k8s.io namespace that
 * is not one a kubelet may set on its own node. */
const char *k8s_node_label_error(const char *key);

struct k8s_taint {
	char key[320], value[64], effect[20];
};
/* A taint as k3s's node-taint takes it: KEY[=VALUE]:EFFECT, EFFECT one of
 * NoSchedule, PreferNoSchedule, NoExecute. Fills *T when valid. */
const char *k8s_taint_parse(const char *s, struct k8s_taint *t);
