/* SPDX-License-Identifier: MIT */
#include "k8sname.h"
#include "util.h"

#include <ctype.h>

#define NAME_MAX_LEN	  63  /* qualifiedNameMaxLength, LabelValueMaxLength */
#define SUBDOMAIN_MAX_LEN 253 /* DNS1123SubdomainMaxLength */

static bool is_alnum(char c) { return isascii((unsigned char)c) && isalnum((unsigned char)c); }

/* qualifiedNameFmt: ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], N bytes of S. */
static bool name_part(const char *s, size_t n)
{
	if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

/* dns1123LabelFmt: [a-z0-9]([-a-z0-9]*[a-z0-9])?, N bytes of S. (In a
 * subdomain, IsDNS1123Subdomain bounds only the whole, not each label.) */
static bool dns_label(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool ok = islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) ||
			  (s[i] == '-' && i > 0 && i < n - 1);
		if (!ok)
			return false;
	}
	return true;
}

static bool subdomain(const char *s, size_t n)
{
	if (n == 0 || n > SUBDOMAIN_MAX_LEN)
		return false;
	for (size_t i = 0; i < n;) {
		size_t l = 0;
		while (i + l < n && s[i + l] != '.')
			l++;
		if (!dns_label(s + i, l))
			return false;
		i += l + 1;
		if (i == n) /* a trailing dot */
			return false;
	}
	return true;
}

bool k8s_is_dns1123_subdomain(const char *s) { return subdomain(s, strlen(s)); }

const char *k8s_qualified_name_error(const char *s)
{
	const char *slash = strchr(s, '/'), *name = slash ? slash + 1 : s;

	if (slash && strchr(name, '/'))
		return "it has more than one '/' (PREFIX/NAME)";
	if (slash && slash == s)
		return "the prefix before '/' is empty";
	if (slash && !subdomain(s, (size_t)(slash - s)))
		return "the prefix before '/' is not a DNS subdomain (lower-case letters, digits, "
		       "'-' and '.', at most 253 characters)";
	if (!*name)
		return "the name is empty";
	if (strlen(name) > NAME_MAX_LEN)
		return "the name is longer than 63 characters";
	if (!name_part(name, strlen(name)))
		return "the name must be letters, digits, '-', '_' and '.', starting and ending "
		       "with a letter or digit";
	return NULL;
}

const char *k8s_label_value_error(const char *s)
{
	if (strlen(s) > NAME_MAX_LEN)
		return "it is longer than 63 characters";
	if (*s && !name_part(s, strlen(s)))
		return "it must be empty or letters, digits, '-', '_' and '.', starting and ending "
		       "with a letter or digit";
	return NULL;
}

/* Of pkg/kubelet/apis/well_known_labels.go: the labels a kubelet may set
 * in the kubernetes.io namespace (v1.Label* constants), and the namespaces
 * it may set any label in. */
static const char *const kubelet_labels[] = {
	"kubernetes.io/hostname",
	"failure-domain.beta.kubernetes.io/zone",
	"failure-domain.beta.kubernetes.io/region",
	"topology.kubernetes.io/zone",
	"topology.kubernetes.io/region",
	"beta.kubernetes.io/instance-type",
	"node.kubernetes.io/instance-type",
	"kubernetes.io/os",
	"kubernetes.io/arch",
	"beta.kubernetes.io/os",
	"beta.kubernetes.io/arch",
};
static const char *const kubelet_namespaces[] = { "kubelet.kubernetes.io", "node.kubernetes.io" };

/* Whether namespace NS (N bytes) is DOMAIN or below it. */
static bool in_namespace(const char *ns, size_t n, const char *domain)
{
	size_t d = strlen(domain);

	return (n == d && strncmp(ns, domain, n) == 0) ||
	       (n > d && ns[n - d - 1] == '.' && strncmp(ns + n - d, domain, d) == 0);
}

const char *k8s_node_label_error(const char *key)
{
	const char *slash = strchr(key, '/');
	size_t n = slash ? (size_t)(slash - key) : 0;

	if (!slash || !(in_namespace(key, n, "kubernetes.io") || in_namespace(key, n, "k8s.io")))
		return NULL;
	for (size_t i = 0; i < ELEMENTSOF(kubelet_labels); i++)
		if (streq(key, kubelet_labels[i]))
			return NULL;
	for (size_t i = 0; i < ELEMENTSOF(kubelet_namespaces); i++)
		if (in_namespace(key, n, kubelet_namespaces[i]))
			return NULL;
	return "the kubelet refuses labels in the kubernetes.io and k8s.io namespaces except "
	       "below node.kubernetes.io and kubelet.kubernetes.io and a few it sets itself "
	       "(kubernetes.io/os, topology.kubernetes.io/zone, ...); set node-role and the like "
	       "with kubectl once the node has joined";
}

const char *k8s_taint_parse(const char *s, struct k8s_taint *t)
{
	const char *colon = strchr(s, ':'), *eq, *why;
	size_t klen;

	*t = (struct k8s_taint){ 0 };
	if (!colon)
		return "it has no ':EFFECT' (NoSchedule, PreferNoSchedule or NoExecute)";
	if (strchr(colon + 1, ':'))
		return "it has more than one ':'";
	if (!streq(colon + 1, "NoSchedule") && !streq(colon + 1, "PreferNoSchedule") &&
	    !streq(colon + 1, "NoExecute"))
		return "its effect is not NoSchedule, PreferNoSchedule or NoExecute";
	eq = memchr(s, '=', (size_t)(colon - s));
	if (eq && memchr(eq + 1, '=', (size_t)(colon - eq - 1)))
		return "it has more than one '='";
	klen = (size_t)((eq ? eq : colon) - s);
	if (klen >= sizeof(t->key))
		return "its key is longer than a qualified name can be";
	memcpy(t->key, s, klen);
	if (eq) {
		size_t vlen = (size_t)(colon - eq - 1);
		if (vlen > NAME_MAX_LEN)
			return "its value is longer than 63 characters";
		memcpy(t->value, eq + 1, vlen);
		if (k8s_label_value_error(t->value))
			return "its value must be empty or letters, digits, '-', '_' and '.', starting "
			       "and ending with a letter or digit";
	}
	why = k8s_qualified_name_error(t->key);
	if (why) {
		static char buf[256];
		snprintf(buf, sizeof(buf), "its key is not a qualified name ([PREFIX/]NAME): %s",
			 why);
		return buf;
	}
	strcpy(t->effect, colon + 1);
	return NULL;
}
