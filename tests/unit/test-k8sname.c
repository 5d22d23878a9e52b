/* SPDX-License-Identifier: MIT */
/* Kubernetes' syntax for labels and taints (common/k8sname.c), on the cases
 * of k8s.io/apimachinery's own tests (pkg/util/validation/validation_test.go,
 * TestIsQualifiedName and TestIsValidLabelValue, v1.33) and on taints as
 * pkg/util/taints parses them. */
#include "k8sname.h"
#include "unit.h"
#include "util.h"

static char *rep(char c, size_t n)
{
	char *s = xmalloc(n + 1);
	memset(s, c, n);
	s[n] = 0;
	return s;
}

int main(void)
{
	char *a63 = rep('a', 63), *a64 = rep('a', 64), *a253 = rep('a', 253), *a254 = rep('a', 254);
	char *long_ok = xasprintf("%s/%s", a253, rep('b', 63)),
	     *long_bad = xasprintf("%s/abc", a254);
	const char *good[] = {
		"simple",
		"now-with-dashes",
		"1-starts-with-num",
		"1234",
		"simple/simple",
		"now-with-dashes/simple",
		"now-with-dashes/now-with-dashes",
		"now.with.dots/simple",
		"now-with.dashes-and.dots/simple",
		"1-num.2-num/3-num",
		"1234/5678",
		"1.2.3.4/5678",
		"Uppercase_Is_OK_123",
		"example.com/Uppercase_Is_OK_123",
		"requests.storage-foo",
		a63,
		long_ok,
	};
	const char *bad[] = {
		"nospecialchars%^=@",
		"cantendwithadash-",
		"-cantstartwithadash-",
		"only/one/slash",
		"Example.com/abc",
		"example_com/abc",
		"example.com/",
		"/simple",
		a64,
		long_bad,
	};
	const char *good_values[] = {
		"simple", "now-with-dashes", "1-starts-with-num", "end-with-num-1", "1234", a63, "",
	};
	const char *bad_values[] = {
		"nospecialchars%^=@",	    "Tama-nui-te-r\xc4\x81.is.M\xc4\x81ori.sun",
		"\\backslashes\\are\\bad",  "-starts-with-dash",
		"ends-with-dash-",	    ".starts.with.dot",
		"ends.with.dot.",	    a64,
		"a\"\nnode-ip: 6.6.6.6\n#",
	};
	struct k8s_taint t;
	char name[80];

	for (size_t i = 0; i < ELEMENTSOF(good); i++) {
		snprintf(name, sizeof(name), "qualified name %.40s", good[i]);
		CHECK(name, k8s_qualified_name_error(good[i]) == NULL);
	}
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		snprintf(name, sizeof(name), "not a qualified name %.40s", bad[i]);
		CHECK(name, k8s_qualified_name_error(bad[i]) != NULL);
	}
	for (size_t i = 0; i < ELEMENTSOF(good_values); i++) {
		snprintf(name, sizeof(name), "label value '%.40s'", good_values[i]);
		CHECK(name, k8s_label_value_error(good_values[i]) == NULL);
	}
	for (size_t i = 0; i < ELEMENTSOF(bad_values); i++) {
		snprintf(name, sizeof(name), "not a label value #%zu", i);
		CHECK(name, k8s_label_value_error(bad_values[i]) != NULL);
	}

	/* The kubelet's --node-labels: its own namespaces only. */
	CHECK("kubelet: farm/ai", k8s_node_label_error("farm/ai") == NULL);
	CHECK("kubelet: no prefix", k8s_node_label_error("gpu") == NULL);
	CHECK("kubelet: node-role refused", k8s_node_label_error("node-role.kubernetes.io/worker"));
	CHECK("kubelet: kubernetes.io refused", k8s_node_label_error("kubernetes.io/role"));
	CHECK("kubelet: k8s.io refused", k8s_node_label_error("x.k8s.io/y"));
	CHECK("kubelet: notkubernetes.io allowed", !k8s_node_label_error("notkubernetes.io/y"));
	CHECK("kubelet: node.kubernetes.io allowed", !k8s_node_label_error("node.kubernetes.io/x"));
	CHECK("kubelet: below kubelet.kubernetes.io",
	      !k8s_node_label_error("a.kubelet.kubernetes.io/x"));
	CHECK("kubelet: topology zone allowed",
	      !k8s_node_label_error("topology.kubernetes.io/zone"));
	CHECK("kubelet: topology other refused",
	      k8s_node_label_error("topology.kubernetes.io/rack"));

	CHECK("taint key=value:effect", !k8s_taint_parse("farm/ai=true:NoSchedule", &t) &&
						streq(t.key, "farm/ai") && streq(t.value, "true") &&
						streq(t.effect, "NoSchedule"));
	CHECK("taint key:effect", !k8s_taint_parse("gpu:NoExecute", &t) && streq(t.key, "gpu") &&
					  !*t.value && streq(t.effect, "NoExecute"));
	CHECK("taint empty value", !k8s_taint_parse("gpu=:PreferNoSchedule", &t) && !*t.value);
	CHECK("taint without effect", k8s_taint_parse("gpu=true", &t) != NULL);
	CHECK("taint removal form", k8s_taint_parse("gpu:NoSchedule-", &t) != NULL);
	CHECK("taint bad effect", k8s_taint_parse("gpu:Never", &t) != NULL);
	CHECK("taint two colons", k8s_taint_parse("a:b:NoSchedule", &t) != NULL);
	CHECK("taint two equals", k8s_taint_parse("a=b=c:NoSchedule", &t) != NULL);
	CHECK("taint empty key", k8s_taint_parse("=x:NoSchedule", &t) != NULL);
	CHECK("taint bad value", k8s_taint_parse("a=x y:NoSchedule", &t) != NULL);
	CHECK("taint value of 64", k8s_taint_parse(xasprintf("a=%s:NoSchedule", a64), &t) != NULL);
	CHECK("taint injection",
	      k8s_taint_parse("a\"\nserver: https://evil:6443\n#:NoSchedule", &t));
	CHECK("subdomain", k8s_is_dns1123_subdomain("example.com") &&
				   !k8s_is_dns1123_subdomain("example..com") &&
				   !k8s_is_dns1123_subdomain("example.com.") &&
				   !k8s_is_dns1123_subdomain("-a.com") &&
				   !k8s_is_dns1123_subdomain(a254));
	return UNIT_EXIT();
}
