/* SPDX-License-Identifier: MIT */
/* farm-node: runs on every node. Subcommands are one table, as in git.c.
 * Messages go to the journal with priorities (see common/log.c). */
#include "firstboot.h"
#include "json.h"
#include "log.h"
#include "nodeconf.h"
#include "steps.h"
#include "storage.h"

#include <getopt.h>

struct command {
	const char *name;
	int (*run)(const char *root, int argc, char **argv);
	const char *usage;
};

static const struct command commands[];

static char *data_partition(const struct nodeconf *n)
{
	return xasprintf("/dev/disk/by-partuuid/%s", n->data_partuuid.v);
}

static int load(const char *root, struct nodeconf *n)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", root, NODECONF_PATH);

	return nodeconf_load(path, n);
}

static int cmd_storage(const char *root, int argc, char **argv)
{
	struct nodeconf n;
	_cleanup_free_ char *data = NULL;
	const char *dev = NULL;
	int r;

	if (argc > 1 && startswith(argv[1], "--data="))
		dev = argv[1] + 7;
	r = load(root, &n);
	if (r >= 0) {
		struct storage_opts o = { .node = &n, .root = root };
		o.data = dev ? dev : (data = data_partition(&n));
		r = storage_run(&o);
	}
	nodeconf_free(&n);
	return r < 0 ? 1 : 0;
}

static int cmd_firstboot(const char *root, int argc, char **argv)
{
	struct nodeconf n;
	int r = load(root, &n);

	if (r >= 0)
		r = firstboot_run(&n, root);
	nodeconf_free(&n);
	return r < 0 ? 1 : 0;
}

static int cmd_status(const char *root, int argc, char **argv)
{
	_cleanup_free_ char *state = xasprintf("%s/%s", root, FARM_STATE_DIR);
	bool json = argc > 1 && streq(argv[1], "--json");
	const char *all[16] = { "storage" };
	size_t n = 1;
	struct json j;
	struct nodeconf conf;
	int r = load(root, &conf);

	if (r < 0)
		return 1;
	for (const char *const *s = firstboot_steps; *s; s++)
		all[n++] = *s;
	if (json) {
		json_begin(&j, stdout);
		json_object_open(&j);
		json_kv_string(&j, "node", conf.node.v);
		json_kv_string(&j, "role", conf.role.v);
		json_key(&j, "steps");
		json_array_open(&j);
	} else
		printf("node %s (%s, cluster %s)\n", conf.node.v, conf.role.v, conf.cluster.v);
	for (size_t i = 0; i < n; i++) {
		struct step_record rec;
		r = step_read(state, all[i], &rec);
		if (json) {
			json_object_open(&j);
			json_kv_string(&j, "step", all[i]);
			json_kv_bool(&j, "done", rec.done);
			if (rec.done) {
				json_kv_uint(&j, "when", (uint64_t)rec.when);
				json_kv_string(&j, "detail", rec.detail);
			}
			json_object_close(&j);
		} else {
			char when[32] = "";
			if (rec.done)
				strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S",
					 gmtime(&rec.when));
			printf("  %-16s %-8s %s%s%s\n", all[i], rec.done ? "done" : "pending", when,
			       rec.done ? "  " : "", rec.detail);
		}
	}
	if (json) {
		json_array_close(&j);
		json_object_close(&j);
		json_end(&j);
	}
	nodeconf_free(&conf);
	return 0;
}

static const struct command commands[] = {
	{ "storage", cmd_storage,
	  "storage [--data=DEVICE]   grow the disk's data partition and prepare Btrfs "
	  "(early boot)" },
	{ "firstboot", cmd_firstboot,
	  "firstboot                 host keys, home, k3s's CA, images and drop-ins" },
	{ "status", cmd_status, "status [--json]           where the node is" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: farm-node [--root DIR] COMMAND\n\nCommands:\n");
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		fprintf(f, "  %s\n", commands[i].usage);
	fprintf(f, "\n--root DIR runs against a directory instead of / (tests).\n");
}

int main(int argc, char **argv)
{
	const char *root = "";
	int i = 1;

	log_init("farm-node");
	if (argc > 2 && streq(argv[1], "--root")) {
		root = argv[2];
		i = 3;
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	if (streq(argv[i], "--help") || streq(argv[i], "-h")) {
		usage(stdout);
		return 0;
	}
	for (size_t c = 0; c < ELEMENTSOF(commands); c++)
		if (streq(commands[c].name, argv[i]))
			return commands[c].run(root, argc - i, argv + i);
	fprintf(stderr, "farm-node: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return 2;
}
