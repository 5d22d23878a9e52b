/* SPDX-License-Identifier: MIT */
/* The configHash farm-image predicts for helm-controller's install Job
 * (builder/stack-render.c stack_job_hash), against helm-controller's own
 * test vectors: k3s-io/helm-controller v0.16.13,
 * pkg/controllers/chart/chart_test.go TestHashObjects, the cases with a
 * HelmChart's valuesContent only (its chart there is a repository chart,
 * no chartContent). */
#include "stack-render.h"
#include "unit.h"

int main(void)
{
	static const struct {
		const char *name, *values, *hash;
	} v[] = {
		{ "No Values", "",
		  "SHA256=E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855" },
		{ "Chart Only 1", "foo: bar\n",
		  "SHA256=B7D684A932E5B3AC74E009951700E032CE9936BF6BE82CD2DED22B5EA647EE5D" },
		{ "Chart Only 2", "foo:\n  a: true\n  b: 1\n  c: 'true'\n",
		  "SHA256=F3756AFACE793965D81AE9E9BD85A51369E60C18FE024E4D950BF56054258070" },
		{ "Chart Only 3", "{}",
		  "SHA256=FFE4DB5EFB61ACC03F197C464414B5BB65885E8F03AE11B9EBB657D5DD3CCC55" },
	};
	char got[72], name[96];

	for (size_t i = 0; i < sizeof(v) / sizeof(*v); i++) {
		stack_job_hash("traefik", NULL, v[i].values, got);
		snprintf(name, sizeof(name), "helm-controller's TestHashObjects: %s", v[i].name);
		CHECK_STR(name, v[i].hash, got);
	}
	/* With chartContent: the ConfigMap's data comes first, its key
	 * "NAME.tgz.base64". Changing either changes the hash. */
	{
		char a[72], b[72], c[72];
		stack_job_hash("cilium", "aGVsbG8=", "foo: bar\n", a);
		stack_job_hash("cilium", "aGVsbG9v", "foo: bar\n", b);
		stack_job_hash("cilium", "aGVsbG8=", "foo: baz\n", c);
		CHECK("the chart's content is in the hash", strcmp(a, b) != 0);
		CHECK("the values are in the hash", strcmp(a, c) != 0);
	}
	return UNIT_EXIT();
}
