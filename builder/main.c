/* SPDX-License-Identifier: MIT */
/* farm-image: builds flash-and-boot disk images for the nodes of a K3s
 * cluster from one cluster config. Subcommands are one table, as in git.c. */
#include "artifacts.h"
#include "base.h"
#include "board.h"
#include "build.h"
#include "config.h"
#include "fetch.h"
#include "flash.h"
#include "interrupt.h"
#include "log.h"
#include "secrets.h"
#include "usage.h"

#include <getopt.h>
#include <locale.h>
#include <signal.h>

#define DEFAULT_OUT "out"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
	const char *usage;
};

static const struct command commands[];

static void usage_of(const struct command *c, FILE *f)
{
	fprintf(f, "Usage: farm-image %s\n\n%s\n", c->usage, c->summary);
}

/* The config's stack (its definitions, checked, in install order). */
static struct stack_set stack;

/* Loads the config, every node's board profile and the stack's
 * definitions, reporting all problems. */
static int load_all(const char *path, struct config *c, struct board **boards)
{
	int r = config_load(path, c);
	size_t errors = 0;

	*boards = NULL;
	/* The stack's problems are reported with the config's, all at once,
	 * whenever the config could be read. */
	if (r < 0 && c->file.have_doc)
		stack_set_load(c, &stack);
	if (r < 0)
		return r;
	errors += stack_set_load(c, &stack) < 0;
	*boards = xcalloc(c->nodes.n, sizeof(struct board));
	for (size_t i = 0; i < c->nodes.n; i++) {
		struct config_node *n = config_node_at(c, i);
		if (!board_ops_find(n->board.v)) {
			config_error(c, n->board.m.pos, "node '%s': unknown board '%s' (known: %s)",
				     n->name.v, n->board.v, board_names());
			errors++;
		} else if (board_load(c->dir, n->board.v, &(*boards)[i]) < 0)
			errors++;
	}
	return errors ? -EINVAL : 0;
}

static void free_all(struct config *c, struct board *boards)
{
	stack_set_free(&stack);
	if (boards)
		for (size_t i = 0; i < c->nodes.n; i++)
			board_free(&boards[i]);
	free(boards);
	config_free(c);
}

/* What validate checks of the stack beyond its definitions: every chart
 * pinned in LOCK (default: beside the config), every template rendered
 * with the cluster's values into YAML. */
static int validate_stack(struct config *c, const char *lock)
{
	_cleanup_free_ char *lock_default = NULL;
	struct artifacts a;
	struct vars v = { 0 };
	unsigned problems = 0;
	int r;

	if (!stack.n)
		return 0;
	if (!lock)
		lock = lock_default = streq(c->dir, ".") ? xstrdup("artifacts.lock")
							 : xasprintf("%s/artifacts.lock", c->dir);
	r = artifacts_load(lock, &a);
	if (r >= 0)
		problems += stack_check_pins(&stack, &a);
	artifacts_free(&a);
	stack_vars(c, &v);
	problems += stack_render(c, &stack, &v, NULL, 0, NULL) < 0;
	vars_free(&v);
	return r < 0 || problems ? -EINVAL : 0;
}

static int cmd_validate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "lock", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config = DEFAULT_CONFIG, *lock = NULL;
	struct config c;
	struct board *boards = NULL;
	int o, r;

	while ((o = getopt_long(argc, argv, ":c:L:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			config = optarg;
			break;
		case 'L':
			lock = optarg;
			break;
		case 'h':
			usage_of(&commands[0], stdout);
			return 0;
		default:
			return usage_option_error("validate", o, argv, opts);
		}
	}
	if (optind < argc)
		return usage_error("validate", "unexpected argument", argv[optind]);
	r = load_all(config, &c, &boards);
	if (r == 0)
		r = validate_stack(&c, lock);
	if (r == 0) {
		log_put_escaped(stdout, config, strlen(config)); /* as typed, made visible */
		printf(": %zu nodes:", c.nodes.n);
		for (size_t i = 0; i < c.nodes.n; i++)
			printf(" %s (%s, %s)", config_node_at(&c, i)->name.v,
			       config_node_at(&c, i)->board.v, config_node_at(&c, i)->role.v);
		printf("\n");
		if (stack.n) {
			log_put_escaped(stdout, config, strlen(config));
			printf(": stack, in install order:");
			for (size_t i = 0; i < stack.n; i++)
				printf("%s %s", i ? "," : "", stack.order[i]->name.v);
			printf("\n");
		}
	}
	free_all(&c, boards);
	return r < 0 ? 1 : 0;
}

static time_t source_date_epoch(int *r)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	char *end;
	long long v;

	*r = 0;
	if (!s || !*s)
		return time(NULL);
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < 0 || v > 4102444800LL) {
		*r = log_error("SOURCE_DATE_EPOCH='%s' is not a time in seconds since 1970", s);
		return 0;
	}
	return (time_t)v;
}

/* What 'build' was asked, and what it holds while it runs. */
struct build_cmd {
	const char *node, *board, *config;
	bool all;
	struct build_opts bo;
	char *overlays_default, *lock_default, *farm_node_default, *secrets_default;
	bool loaded;
	struct config c;
	struct board *boards;
};

static void build_cmd_free(struct build_cmd *bc)
{
	free(bc->overlays_default);
	free(bc->lock_default);
	free(bc->farm_node_default);
	free(bc->secrets_default);
	if (bc->loaded)
		free_all(&bc->c, bc->boards);
}

/* The command line into BC. Returns -1 to go on, else the exit status
 * (--help, a usage error). */
static int build_parse(int argc, char **argv, struct build_cmd *bc)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'n' },
		{ "all", no_argument, NULL, 'a' },
		{ "board", required_argument, NULL, 'b' },
		{ "config", required_argument, NULL, 'c' },
		{ "base", required_argument, NULL, 'B' },
		{ "out", required_argument, NULL, 'o' },
		{ "overlays", required_argument, NULL, 'O' },
		{ "secrets", required_argument, NULL, 'S' },
		{ "lock", required_argument, NULL, 'L' },
		{ "artifacts", required_argument, NULL, 'A' },
		{ "farm-node", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct build_opts *bo = &bc->bo;
	int o;

	bc->config = DEFAULT_CONFIG;
	bo->out_dir = DEFAULT_OUT;
	while ((o = getopt_long(argc, argv, ":n:ab:c:B:o:O:S:L:A:F:h", opts, NULL)) != -1) {
		switch (o) {
		case 'n':
			/* The last one would win: one build is one node. */
			if (bc->node)
				return usage_error("build",
						   "--node given twice (one node, or --all), again as",
						   optarg);
			bc->node = optarg;
			break;
		case 'a':
			bc->all = true;
			break;
		case 'b':
			bc->board = optarg;
			break;
		case 'c':
			bc->config = optarg;
			break;
		case 'B':
			bo->base = optarg;
			break;
		case 'o':
			bo->out_dir = optarg;
			break;
		case 'O':
			bo->overlays = optarg;
			break;
		case 'S':
			bo->secrets = optarg;
			break;
		case 'L':
			bo->lock = optarg;
			break;
		case 'A':
			bo->artifacts = optarg;
			break;
		case 'F':
			bo->farm_node = optarg;
			break;
		case 'h':
			usage_of(&commands[1], stdout);
			return 0;
		default:
			return usage_option_error("build", o, argv, opts);
		}
	}
	if (optind < argc)
		return usage_error("build", "unexpected argument", argv[optind]);
	if (!!bc->node == bc->all)
		return usage_error("build", "give exactly one of --node NAME and --all", NULL);
	return -1;
}

/* What was not given, from where the config is: overlays/ beside configs/,
 * the lock beside the config, farm-node beside farm-image, the cluster's
 * secrets directory. Returns 0 or -errno after one message. */
static int build_defaults(struct build_cmd *bc)
{
	struct build_opts *bo = &bc->bo;

	if (!bo->overlays)
		bo->overlays = bc->overlays_default = xasprintf("%s/../overlays", bc->c.dir);
	if (!bo->lock)
		bo->lock = bc->lock_default = xasprintf("%s/artifacts.lock", bc->c.dir);
	if (!bo->farm_node) {
		/* Built next to farm-image. */
		char exe[4096];
		ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		exe[len > 0 ? len : 0] = 0;
		if (strrchr(exe, '/'))
			*strrchr(exe, '/') = 0;
		bo->farm_node = bc->farm_node_default = xstrdup(exe);
	}
	if (!bo->secrets) {
		bo->secrets = bc->secrets_default = secrets_default_dir(&bc->c);
		if (!bo->secrets)
			return log_error(
				"No secrets directory: pass --secrets DIR (HOME is not set)");
	}
	return 0;
}

/* --node names a node of the config. Returns 0 or -errno after one message. */
static int build_check_node(const struct build_cmd *bc)
{
	_cleanup_free_ char *names = NULL;
	size_t len = 0;
	FILE *f;

	if (!bc->node || config_find_node(&bc->c, bc->node))
		return 0;
	f = open_memstream(&names, &len);
	for (size_t i = 0; i < bc->c.nodes.n; i++)
		fprintf(f, "%s%s", i ? ", " : "", config_node_at(&bc->c, i)->name.v);
	fclose(f);
	return log_error("%s: there is no node '%s' (nodes: %s)", bc->config, bc->node, names);
}

/* --board checks --node's board, and selects --all's nodes. Returns 0 or
 * -errno after one message. */
static int build_check_board(struct build_cmd *bc)
{
	struct config *c = &bc->c;

	if (!bc->board)
		return 0;
	if (bc->all) {
		size_t of_board = 0;
		for (size_t i = 0; i < c->nodes.n; i++)
			of_board += streq(bc->board, config_node_at(c, i)->board.v);
		if (!of_board)
			return log_error("%s: no node has board '%s' (--board)", bc->config,
					 bc->board);
		return 0;
	}
	for (size_t i = 0; i < c->nodes.n; i++) {
		const struct config_node *n = config_node_at(c, i);
		if (streq(n->name.v, bc->node) && !streq(bc->board, n->board.v)) {
			config_error(c, n->board.m.pos,
				     "node '%s' has board '%s', not '%s' as --board says",
				     n->name.v, n->board.v, bc->board);
			return -EINVAL;
		}
	}
	return 0;
}

static int cmd_build(int argc, char **argv)
{
	struct build_cmd bc = { 0 };
	int r = build_parse(argc, argv, &bc);

	if (r >= 0)
		return r;
	bc.bo.epoch = source_date_epoch(&r);
	if (r < 0)
		return 1;
	bc.bo.config_path = bc.config;
	bc.loaded = true;
	r = load_all(bc.config, &bc.c, &bc.boards);
	if (r >= 0)
		r = build_check_node(&bc);
	if (r >= 0)
		r = build_defaults(&bc);
	if (r >= 0) {
		bc.bo.stack = &stack;
		bc.bo.interrupted = &interrupted;
		interrupt_catch(NULL);
		r = build_check_board(&bc);
	}
	if (r >= 0) {
		const struct config_node *n = bc.node ? config_find_node(&bc.c, bc.node) : NULL;
		r = n ? build_node(&bc.bo, &bc.c, n, &bc.boards[n - config_node_at(&bc.c, 0)])
		      : build_all(&bc.bo, &bc.c, bc.boards, bc.board);
	}
	build_cmd_free(&bc);
	return r < 0 ? 1 : 0;
}

static int cmd_help(int argc, char **argv);

static const struct command commands[] = {
	{ "validate", cmd_validate,
	  "Check the cluster config and the board profiles; print every problem as\n"
	  "FILE:LINE:COL: message. The stack's components (the stack/ directory\n"
	  "beside the config) are checked too: unknown components and dependencies,\n"
	  "cycles, charts without a pin, templates that do not render into YAML.\n\n"
	  "  -c, --config FILE   the cluster config (default " DEFAULT_CONFIG ")\n"
	  "  -L, --lock FILE     pinned artifacts (default: artifacts.lock beside the config)",
	  "validate [--config FILE] [--lock FILE]" },
	{ "build", cmd_build,
	  "Build the disk image of one node (or all): DIR/NAME.img (sparse raw),\n"
	  "NAME.img.bmap, NAME.img.zst and NAME.json (manifest).\n\n"
	  "  -n, --node NAME       the node to build\n"
	  "  -a, --all             every node in the config\n"
	  "  -b, --board BOARD     check that the node has this board; with --all,\n"
	  "                        build only the nodes of this board\n"
	  "  -c, --config FILE     the cluster config (default " DEFAULT_CONFIG ")\n"
	  "  -B, --base ARCHIVE    the base rootfs: a tar archive (any compression) or a\n"
	  "                        Raspberry Pi OS Lite image (default: the board's base\n"
	  "                        built by 'farm-image rootfs')\n"
	  "  -o, --out DIR         output directory (default " DEFAULT_OUT ")\n"
	  "  -O, --overlays DIR    overlay root (default: overlays/ beside configs/)\n"
	  "  -S, --secrets DIR     the cluster's secrets (default: see 'secrets init')\n"
	  "  -L, --lock FILE       pinned artifacts (default: artifacts.lock beside the config)\n"
	  "  -A, --artifacts DIR   take artifacts from DIR (files named as in their URLs)\n"
	  "                        instead of the cache 'farm-image fetch' fills\n"
	  "  -F, --farm-node DIR   where farm-node is built (default: beside farm-image;\n"
	  "                        DIR/aarch64/farm-node for arm64 nodes)\n\n"
	  "SOURCE_DATE_EPOCH sets every timestamp: the same inputs and epoch give\n"
	  "byte-identical outputs.",
	  "build (--node NAME | --all) [--board BOARD] [--config FILE] [--base ARCHIVE] "
	  "[--out DIR]" },
	{ "rootfs", cmd_rootfs, BASE_ROOTFS_SUMMARY, BASE_ROOTFS_USAGE },
	{ "secrets", cmd_secrets, SECRETS_SUMMARY, SECRETS_USAGE },
	{ "fetch", cmd_fetch, FETCH_SUMMARY, FETCH_USAGE },
	{ "flash", cmd_flash, FLASH_SUMMARY, FLASH_USAGE },
	{ "help", cmd_help, "Show help for a command.", "help [COMMAND]" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: farm-image COMMAND [OPTIONS]\n\nCommands:\n");
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].usage);
	fprintf(f, "\nRun 'farm-image COMMAND --help' for a command's options.\n");
}

static int cmd_help(int argc, char **argv)
{
	if (argc >= 2 && (streq(argv[1], "--help") || streq(argv[1], "-h"))) {
		usage_of(&commands[ELEMENTSOF(commands) - 1], stdout);
		return 0;
	}
	if (argc > 2)
		return usage_error("help", "unexpected argument", argv[2]);
	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		if (streq(commands[i].name, argv[1])) {
			usage_of(&commands[i], stdout);
			return 0;
		}
	return usage_error("help", "unknown command", argv[1]);
}

int main(int argc, char **argv)
{
	log_init("farm-image");
	/* Archive names are UTF-8 (pax) or raw bytes: with a UTF-8 character
	 * type libarchive hands both over unchanged, whatever the user's
	 * locale. */
	if (!setlocale(LC_CTYPE, "C.UTF-8"))
		setlocale(LC_CTYPE, "");
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (streq(argv[1], "--help") || streq(argv[1], "-h"))
		return cmd_help(1, argv);
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		if (streq(commands[i].name, argv[1]))
			return commands[i].run(argc - 1, argv + 1);
	log_error("unknown command '%s'", argv[1]);
	usage(stderr);
	return 2;
}
