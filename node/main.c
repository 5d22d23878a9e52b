/* SPDX-License-Identifier: MIT */
/* farm-node: runs on every node. The commands are one table (as git.c's);
 * each runs the steps of its phase from the one step table (steps.c).
 * Messages go to the journal with priorities (common/log.c). */
#include "cli.h"
#include "cluster.h"
#include "join.h"
#include "log.h"
#include "powercycle.h"
#include "status.h"
#include "steps.h"

#include <locale.h>

/* Options a command may take, besides --root and --help. */
enum {
	OPT_DATA = 1u << 0,    /* storage --data DEVICE */
	OPT_JSON = 1u << 1,    /* status --json */
	OPT_SESSION = 1u << 2, /* lock, unlock --session NAME */
	OPT_FOR = 1u << 3,     /* lock --for DURATION, --quiet-ok */
	OPT_MANUAL = 1u << 4,  /* unlock --manual */
};

/* How long a lock holds unless --for says. */
#define LOCK_DEFAULT (12 * 60 * 60)

struct args {
	const char *root;
	const char *data;
	bool json;
	const char *session;
	unsigned duration;
	bool quiet_ok, manual;
};

struct command {
	const char *name;
	int (*run)(struct farm_node *n, const struct args *a);
	unsigned opts;
	bool needs_node; /* loads node.yaml first */
	const char *usage;
	const char *summary;
};

static int cmd_help_of(const char *name);

static int run_phase(struct farm_node *n, enum step_phase phase)
{
	return steps_run(n, phase) < 0 ? 1 : 0;
}

static int cmd_storage(struct farm_node *n, const struct args *a)
{
	n->data = a->data;
	return run_phase(n, PHASE_STORAGE);
}

static int cmd_firstboot(struct farm_node *n, const struct args *a)
{
	return run_phase(n, PHASE_FIRSTBOOT);
}

static int cmd_join(struct farm_node *n, const struct args *a)
{
	struct cluster c;
	int r;

	join_cluster(n, &c);
	n->cluster = &c;
	r = run_phase(n, PHASE_JOIN);
	n->cluster = NULL;
	cluster_free(&c);
	return r;
}

static int cmd_status(struct farm_node *n, const struct args *a)
{
	return status_print(n, a->json, stdout) < 0 ? 1 : 0;
}

static int cmd_shutdown(struct farm_node *n, const struct args *a) { return power_shutdown(n); }

static int cmd_startup(struct farm_node *n, const struct args *a) { return power_startup(n); }

static int cmd_lock(struct farm_node *n, const struct args *a)
{
	return power_lock(n, a->session, a->duration ? a->duration : LOCK_DEFAULT, a->quiet_ok);
}

static int cmd_unlock(struct farm_node *n, const struct args *a)
{
	return power_unlock(n, a->session, a->manual);
}

static const struct command commands[] = {
	{ "storage", cmd_storage, OPT_DATA, true, "storage [--data DEVICE]",
	  "Grow the disk's data partition into the free space (leaving the Ceph\n"
	  "partition the node asks for), create Btrfs on it only if it carries no\n"
	  "filesystem, grow it, create the subvolumes. Early at every boot\n"
	  "(farm-storage.service); a no-op once everything is in place.\n\n"
	  "  --data DEVICE   the data partition (default: the image's, by PARTUUID)" },
	{ "firstboot", cmd_firstboot, 0, true, "firstboot",
	  "Prepare the node before sshd and k3s first start (farm-firstboot.service):\n"
	  "SSH host keys on the data partition, the admin's home, on the server the\n"
	  "cluster CA where k3s takes it, the air-gap images, the kubelet drop-ins." },
	{ "join", cmd_join, 0, true, "join",
	  "After k3s (farm-join.service): wait for the cluster's API and for this\n"
	  "node to be registered; on the control plane install the stack, in order,\n"
	  "each component ready before the next; wait for the node to be Ready.\n"
	  "Every wait is bounded (node.yaml join-timeout); a failed or interrupted\n"
	  "run resumes where it stopped at the next start." },
	{ "shutdown", cmd_shutdown, 0, true, "shutdown",
	  "The power cycle's graceful shutdown (farm-shutdown.service: the daily\n"
	  "timer, or koff). Nothing happens while any node has a valid SSH lock.\n"
	  "The control plane takes the cluster's shutdown lock, scales down Argo CD,\n"
	  "the storage apps and databases, hibernates CloudNativePG, waits for the\n"
	  "Ceph volumes to detach, releases the lock and waits for the workers; a\n"
	  "worker waits for that release. Then each node taints itself\n"
	  "dns-unready=true:NoExecute, drains, stops k3s and powers off, the control\n"
	  "plane last. Every wait is bounded (node.yaml power:); an interrupted\n"
	  "shutdown resumes where it stopped." },
	{ "startup", cmd_startup, 0, true, "startup",
	  "After k3s at every boot (farm-startup.service): uncordon, wait for CoreDNS\n"
	  "and a real lookup through it, remove the dns-unready taint; on the control\n"
	  "plane wait for Rook-Ceph, wake CloudNativePG, restore the recorded replicas\n"
	  "and Argo CD, remove the shutdown lock." },
	{ "lock", cmd_lock, OPT_SESSION | OPT_FOR, true,
	  "lock [--session NAME] [--for DURATION] [--quiet-ok]",
	  "Hold off the cluster's scheduled shutdown: a lock on this node that every\n"
	  "node's shutdown honours until it is released or expires (klogin; a login\n"
	  "shell of an SSH session takes one for its session).\n\n"
	  "  --session NAME   the lock's name (ssh-ID: alive while logind's session ID\n"
	  "                   is; pid-N: while process N runs; default: manual)\n"
	  "  --for DURATION   how long it holds (\"12h\", \"90m\"; default 12h)\n"
	  "  --quiet-ok       say nothing on success unless on a terminal" },
	{ "unlock", cmd_unlock, OPT_SESSION | OPT_MANUAL, true,
	  "unlock [--session NAME] [--manual]",
	  "Release this node's lock NAME, and the manual one (klogout; the login shell's\n"
	  "exit releases its session's).\n\n"
	  "  --session NAME   the session lock to release\n"
	  "  --manual         the manual lock too (the default without --session)" },
	{ "status", cmd_status, OPT_JSON, true, "status [--json]",
	  "Show where the node is: each step (done, running, failed, pending) and,\n"
	  "on the control plane, each component of the stack.\n\n"
	  "  --json   the same as JSON" },
	{ "help", NULL, 0, false, "help [COMMAND]", "Show the help of a command." },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: farm-node [--root DIR] COMMAND [OPTIONS]\n\nCommands:\n");
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		fprintf(f, "  %s\n", commands[i].usage);
	fprintf(f, "\n--root DIR runs against a directory instead of / (the tests).\n"
		   "Run 'farm-node COMMAND --help' for a command's options.\n");
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		if (streq(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static int cmd_help_of(const char *name)
{
	const struct command *c = find_command(name);

	if (!c)
		return usage_error("help", "unknown command", name);
	printf("Usage: farm-node [--root DIR] %s\n\n%s\n", c->usage, c->summary);
	return 0;
}

/* The command's options (--root and --help for every command). Returns 0,
 * 1 when --help was answered, or the usage error's exit status (2). */
static int parse_args(const struct command *c, int argc, char **argv, struct args *a)
{
	const struct option all[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ "data", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "session", required_argument, NULL, 's' },
		{ "for", required_argument, NULL, 'f' },
		{ "quiet-ok", no_argument, NULL, 'q' },
		{ "manual", no_argument, NULL, 'm' },
		{ 0 },
	};
	struct option opts[ELEMENTSOF(all)];
	size_t n = 0;
	int o;

	for (size_t i = 0; i < ELEMENTSOF(all) - 1; i++)
		if (i < 2 || (all[i].val == 'd' && (c->opts & OPT_DATA)) ||
		    (all[i].val == 'j' && (c->opts & OPT_JSON)) ||
		    (all[i].val == 's' && (c->opts & OPT_SESSION)) ||
		    (strchr("fq", all[i].val) && (c->opts & OPT_FOR)) ||
		    (all[i].val == 'm' && (c->opts & OPT_MANUAL)))
			opts[n++] = all[i];
	opts[n] = (struct option){ 0 };
	optind = 0; /* a new argument vector: getopt starts over */
	while ((o = cli_getopt(c->name, argc, argv, "h", opts)) != -1) {
		switch (o) {
		case 'r':
			a->root = optarg;
			break;
		case 'h':
			return cmd_help_of(c->name) == 0 ? 1 : 2;
		case 'd':
			a->data = optarg;
			break;
		case 'j':
			a->json = true;
			break;
		case 's':
			a->session = optarg;
			break;
		case 'f': {
			uint64_t d;
			if (conf_parse_duration(optarg, &d) < 0 || d < 1 || d > 7 * 24 * 3600)
				return usage_error(c->name,
						   "--for takes a duration from 1s to 168h "
						   "(\"12h\", \"90m\")",
						   optarg);
			a->duration = (unsigned)d;
			break;
		}
		case 'q':
			a->quiet_ok = true;
			break;
		case 'm':
			a->manual = true;
			break;
		default:
			return 2;
		}
	}
	if (streq(c->name, "help")) {
		if (argc - optind > 1)
			return usage_error(c->name, "unexpected argument", argv[optind + 1]);
		return 0;
	}
	if (optind < argc)
		return usage_error(c->name, "unexpected argument", argv[optind]);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option global[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct args a = { .root = "" };
	const struct command *c;
	struct farm_node n = { 0 };
	int o, r;

	log_init("farm-node");
	setlocale(LC_CTYPE, "C.UTF-8");
	/* Options before the command: stop at the first word that is not
	 * one ('+'), which names the command. */
	while ((o = cli_getopt(NULL, argc, argv, "+h", global)) != -1) {
		switch (o) {
		case 'r':
			a.root = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	c = find_command(argv[optind]);
	if (!c) {
		fprintf(stderr, "farm-node: unknown command '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	argc -= optind;
	argv += optind;
	r = parse_args(c, argc, argv, &a);
	if (r)
		return r == 1 ? 0 : r;
	if (!c->run) {
		/* help [COMMAND] */
		if (optind < argc)
			return cmd_help_of(argv[optind]);
		usage(stdout);
		return 0;
	}
	n.root = a.root;
	n.state = node_path(&n, FARM_STATE_DIR);
	if (c->needs_node) {
		_cleanup_free_ char *path = node_path(&n, NODECONF_PATH);
		if (nodeconf_load(path, &n.conf) < 0) {
			nodeconf_free(&n.conf);
			free(n.state);
			return 1;
		}
	}
	r = c->run(&n, &a);
	nodeconf_free(&n.conf);
	free(n.state);
	return r;
}

char *node_path(const struct farm_node *n, const char *rel)
{
	return xasprintf("%s/%s", n->root, rel);
}
