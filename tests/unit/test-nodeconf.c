/* SPDX-License-Identifier: MIT */
/* node.yaml has one definition, nodeconf.c's schema: what nodeconf_write()
 * writes (every field type the schema has: strings, the role, a size,
 * durations, the power mapping) is what nodeconf_load() reads back, and a
 * value that would end its scalar or add a key stays in it. */
#include "fileio.h"
#include "nodeconf.h"
#include "unit.h"

#include <stdlib.h>
#include <unistd.h>

#define STR(s)	((struct cstr){ .m.set = true, .v = (char *)(s) })
#define UINT(n) ((struct cuint){ .m.set = true, .v = (n) })

int main(void)
{
	struct nodeconf in = {
		.cluster = STR("farm"),
		.node = STR("null"),
		.role = { .m.set = true, .i = ROLE_AGENT },
		.admin_user = STR("admin"),
		.data_partuuid = STR("0b5e6a4c-1f0d-4a53-9c1e-5d2f8b7e6a11"),
		.api_server = STR("https://api.farm:6443"),
		.control_plane = STR("cow"),
		.cluster_dns = STR("10.43.0.10"),
		.disk = STR("a \"disk\": #1 \\ 'ü'"),
		.ceph_size = UINT(200 * GiB),
		.join_timeout = UINT(5400),
		.power = { .m.set = true,
			   .lock_wait = UINT(90),
			   .drain = UINT(3600),
			   .startup_wait = UINT(3 * 3600 + 61) },
	};
	struct nodeconf out;
	char dir[] = "/tmp/test-nodeconf.XXXXXX", *path, *text = NULL;
	int r;

	r = nodeconf_write(&in, &text);
	CHECK("nodeconf_write", r == 0);
	CHECK_STR("node.yaml text",
		  "# farm-node's view of node null, written by farm-image.\n"
		  "cluster: \"farm\"\n"
		  "node: \"null\"\n"
		  "role: \"agent\"\n"
		  "admin-user: \"admin\"\n"
		  "data-partuuid: \"0b5e6a4c-1f0d-4a53-9c1e-5d2f8b7e6a11\"\n"
		  "api-server: \"https://api.farm:6443\"\n"
		  "control-plane: \"cow\"\n"
		  "cluster-dns: \"10.43.0.10\"\n"
		  "disk: \"a \\\"disk\\\": #1 \\\\ 'ü'\"\n"
		  "ceph-size: 204800MiB\n"
		  "join-timeout: 1h30m\n"
		  "power:\n"
		  "  lock-wait: 1m30s\n"
		  "  drain: 1h\n"
		  "  startup-wait: 3h1m1s\n",
		  text);

	if (!mkdtemp(dir))
		abort();
	path = xasprintf("%s/node.yaml", dir);
	CHECK("write node.yaml", text && write_file_atomic(path, text, strlen(text), 0644) == 0);
	r = nodeconf_load(path, &out);
	CHECK("nodeconf_load reads what nodeconf_write wrote", r == 0);
	if (r == 0) {
		CHECK_STR("read back: node", "null", out.node.v);
		CHECK("read back: role", out.role.i == ROLE_AGENT);
		CHECK_STR("read back: api-server", in.api_server.v, out.api_server.v);
		CHECK_STR("read back: a value with quotes, '#', ': ', a backslash and UTF-8",
			  in.disk.v, out.disk.v);
		CHECK("read back: ceph-size", out.ceph_size.v == in.ceph_size.v);
		CHECK("read back: join-timeout", out.join_timeout.v == 5400);
		CHECK("read back: power durations",
		      out.power.lock_wait.v == 90 && out.power.drain.v == 3600 &&
			      out.power.startup_wait.v == 3 * 3600 + 61);
		CHECK("read back: power defaults for what was not written",
		      out.power.stop.v == 3 * 60 && out.power.release_wait.v == 45 * 60);
	}
	nodeconf_free(&out);
	free(text);

	/* A size that is not whole MiB is written in bytes. */
	in.ceph_size = UINT(5 * GiB + 1);
	in.disk.m.set = in.join_timeout.m.set = in.power.m.set = false;
	r = nodeconf_write(&in, &text);
	CHECK("ceph-size in bytes", r == 0 && strstr(text, "\nceph-size: 5368709121B\n"));
	CHECK("unset fields are left out", r == 0 && !strstr(text, "disk") &&
						   !strstr(text, "join-timeout") &&
						   !strstr(text, "power"));
	r = r == 0 ? write_file_atomic(path, text, strlen(text), 0644) : r;
	r = r == 0 ? nodeconf_load(path, &out) : r;
	CHECK("without power: every wait has its default",
	      r == 0 && out.power.lock_wait.v == 10 * 60 && out.power.release_wait.v == 45 * 60 &&
		      out.power.scale_wait.v == 10 * 60 && out.power.workers_wait.v == 20 * 60 &&
		      out.power.drain.v == 5 * 60 && out.power.stop.v == 3 * 60 &&
		      out.power.startup_wait.v == 30 * 60);
	nodeconf_free(&out);
	free(text);

	unlink(path);
	rmdir(dir);
	free(path);
	return UNIT_EXIT();
}
