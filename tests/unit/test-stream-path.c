/* SPDX-License-Identifier: MIT */
#include "stream.h"
#include "unit.h"
#include "util.h"

static const char *norm(const char *in)
{
	static char buf[1024];
	const char *why;
	char *out;

	if (stream_normalize_path(in, &out, &why) < 0) {
		snprintf(buf, sizeof(buf), "error: %s", why);
		return buf;
	}
	snprintf(buf, sizeof(buf), "%s", out);
	free(out);
	return buf;
}

int main(void)
{
	char longname[300], deep[400] = "";

	CHECK_STR("dot slash", "etc/passwd", norm("./etc/passwd"));
	CHECK_STR("root", "", norm("./"));
	CHECK_STR("root dot", "", norm("."));
	CHECK_STR("trailing slash", "usr/bin", norm("usr/bin/"));
	CHECK_STR("inner dot", "a/b", norm("a/./b"));
	CHECK_STR("double slash", "a/b", norm("a//b"));
	CHECK_STR("absolute", "error: absolute path", norm("/etc/passwd"));
	CHECK_STR("dotdot", "error: path contains '..'", norm("../escape"));
	CHECK_STR("inner dotdot", "error: path contains '..'", norm("etc/../../x"));
	CHECK_STR("dotdot suffix is a name", "a/..b", norm("a/..b"));
	memset(longname, 'n', 256);
	longname[256] = 0;
	CHECK_STR("long name", "error: a name in the path is longer than 255 bytes",
		  norm(longname));
	for (int i = 0; i < 65; i++)
		strcat(deep, "d/");
	CHECK_STR("deep", "error: path is deeper than 64 directories", norm(deep));
	CHECK_STR("null", "error: the entry has no name", norm(NULL));
	return UNIT_EXIT();
}
