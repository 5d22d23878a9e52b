/* SPDX-License-Identifier: MIT */
/* What mmdebstrap is given for a base rootfs recipe (arguments, the node's
 * sources.list), its cache key and cache, and `farm-image rootfs`. The
 * recipe itself is base-recipe.c; running mmdebstrap (host checks,
 * progress, log) is base-run.c. */
#include "fileio.h"
#include "base.h"
#include "board.h"
#include "hash.h"
#include "log.h"
#include "usage.h"

#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <sys/stat.h>

#define DEFAULT_CONFIG_DIR "configs"
/* Part of every cache key: bump it when farm-image changes how it turns a
 * recipe into an mmdebstrap run, so that old bases are not reused. */
#define KEY_FORMAT   "farm-rootfs-1"
#define MAX_KEY_FILE (1 * MiB)

char *base_cache_dir(void)
{
	const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");

	if (x && x[0] == '/')
		return xasprintf("%s/farm/base", x);
	if (home && *home)
		return xasprintf("%s/.cache/farm/base", home);
	log_error("Neither XDG_CACHE_HOME nor HOME is set: pass --cache DIR");
	return NULL;
}

void base_strv_free(char ***v)
{
	if (*v)
		for (char **p = *v; *p; p++)
			free(*p);
	free(*v);
}

static void strv_push(char ***v, size_t *n, size_t *cap, char *s) { ARRAY_PUSH(*v, *n, *cap, s); }

/* The sources.list the node keeps: keys at /usr/share/keyrings/farm-NAME.
 * With HOST_KEYS, the keys' paths on this machine (for mmdebstrap's apt). */
static void source_lines(const struct base_recipe *r, const char *suite, bool host_keys, char ***v,
			 size_t *n, size_t *cap)
{
	for (size_t i = 0; i < r->mirrors.n; i++) {
		const struct base_mirror *m = base_recipe_mirror(r, i);
		const struct cstrlist *comps =
			m->components.m.set ? &m->components : &r->components;
		_cleanup_free_ char *key = base_key_path(r, m), *signed_by = NULL, *c = NULL;
		size_t ns = m->suites.m.set ? m->suites.n : 1;

		if (key && host_keys)
			signed_by = xasprintf("[signed-by=\"%s\"] ", key);
		else if (key && m->node_key.m.set)
			signed_by = xasprintf("[signed-by=%s] ", m->node_key.v);
		else if (key)
			signed_by = xasprintf("[signed-by=/usr/share/keyrings/farm-%s] ",
					      strrchr(key, '/') + 1);
		c = xstrdup(comps->m.set ? "" : " main");
		for (size_t j = 0; comps->m.set && j < comps->n; j++) {
			char *t = xasprintf("%s %s", c, comps->v[j]);
			free(c);
			c = t;
		}
		for (size_t j = 0; j < ns; j++) {
			const char *t = m->suites.m.set ? m->suites.v[j] : "{suite}";
			_cleanup_free_ char *s = base_expand_suite(t, suite);
			strv_push(v, n, cap,
				  xasprintf("deb %s%s %s%s", signed_by ? signed_by : "", m->uri.v,
					    s, c));
		}
	}
}

static void push_hooks(char ***v, size_t *n, size_t *cap, const char *opt,
		       const struct cstrlist *hooks)
{
	for (size_t i = 0; i < hooks->n; i++)
		strv_push(v, n, cap, xasprintf("--%s=%s", opt, hooks->v[i]));
}

/* mmdebstrap's argument vector; SOURCES is the node's sources.list file. */
char **base_mmdebstrap_argv(const struct base_recipe *r, const char *suite, const char *target,
			    const char *sources)
{
	char **v = NULL, *inc;
	size_t n = 0, cap = 0, len = 1;

	strv_push(&v, &n, &cap, xstrdup("mmdebstrap"));
	strv_push(&v, &n, &cap, xstrdup(getuid() == 0 ? "--mode=root" : "--mode=unshare"));
	strv_push(&v, &n, &cap, xasprintf("--variant=%s", base_recipe_variant(r)));
	strv_push(&v, &n, &cap, xasprintf("--architectures=%s", r->architecture.v));
	for (size_t i = 0; i < r->packages.n; i++)
		len += strlen(r->packages.v[i]) + 1;
	inc = xmalloc(len + strlen("--include="));
	strcpy(inc, "--include=");
	for (size_t i = 0; i < r->packages.n; i++)
		strcat(strcat(inc, i ? "," : ""), r->packages.v[i]);
	strv_push(&v, &n, &cap, inc);
	strv_push(&v, &n, &cap, xstrdup("--verbose"));
	/* A derived base: the parent's tree first, owners, modes and xattrs
	 * (ACLs too) as they are. */
	if (r->parent_archive)
		strv_push(&v, &n, &cap,
			  xasprintf("--setup-hook=zstd -dcq '%s' | tar -C \"$1\" --numeric-owner "
				    "--xattrs --xattrs-include='*' -xpf -",
				    r->parent_archive));
	push_hooks(&v, &n, &cap, "setup-hook", &r->setup_hooks);
	push_hooks(&v, &n, &cap, "essential-hook", &r->essential_hooks);
	push_hooks(&v, &n, &cap, "customize-hook", &r->customize_hooks);
	/* The node's apt finds the keys inside the root, not on this host:
	 * a package's (node-key) or a copy of the recipe's. */
	for (size_t i = 0; i < r->mirrors.n; i++) {
		_cleanup_free_ char *key = base_key_path(r, base_recipe_mirror(r, i));
		if (key && !base_recipe_mirror(r, i)->node_key.m.set)
			strv_push(&v, &n, &cap,
				  xasprintf("--customize-hook=upload %s "
					    "/usr/share/keyrings/farm-%s",
					    key, strrchr(key, '/') + 1));
	}
	strv_push(&v, &n, &cap,
		  xasprintf("--customize-hook=upload %s /etc/apt/sources.list", sources));
	strv_push(&v, &n, &cap, xstrdup(suite));
	strv_push(&v, &n, &cap, xstrdup(target));
	source_lines(r, suite, true, &v, &n, &cap);
	strv_push(&v, &n, &cap, NULL);
	return v;
}

int base_write_sources(const struct base_recipe *r, const char *board, const char *suite,
		       const char *path)
{
	_cleanup_(base_strv_free) char **lines = NULL;
	_cleanup_fclose_ FILE *f = fopen(path, "we");
	size_t n = 0, cap = 0;

	if (!f)
		return -errno;
	source_lines(r, suite, false, &lines, &n, &cap);
	strv_push(&lines, &n, &cap, NULL);
	fprintf(f, "# Written by farm-image rootfs from the %s recipe.\n", board);
	for (char **l = lines; *l; l++)
		fprintf(f, "%s\n", *l);
	return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}

/* Reads a whole (small) file. Returns 0 or -errno. */
static int read_small(const char *path, char **ret, size_t *len)
{
	_cleanup_close_ int fd = open_regular(AT_FDCWD, path, 0, false);
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	int r;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size > (off_t)MAX_KEY_FILE * 4)
		return -EFBIG;
	buf = xmalloc((size_t)st.st_size + 1);
	r = pread_full(fd, buf, (size_t)st.st_size, 0);
	if (r < 0)
		return r;
	*len = (size_t)st.st_size;
	*ret = TAKE_PTR(buf);
	return 0;
}

/* Length-prefixed, so that no two inputs hash alike by moving bytes across
 * a boundary. */
static void feed(struct sha256_ctx *c, const void *data, size_t len)
{
	uint64_t n = len;

	sha256_update(c, &n, sizeof(n));
	sha256_update(c, data, len);
}

int base_cache_key(const struct base_recipe *r, const char *suite, const char *mmdebstrap_version,
		   char key[65])
{
	struct sha256_ctx *c = sha256_new();
	uint8_t md[SHA256_LEN];
	char *buf;
	size_t len;
	int ret;

	feed(c, KEY_FORMAT, strlen(KEY_FORMAT));
	ret = read_small(r->path, &buf, &len);
	if (ret < 0) {
		sha256_free(c);
		return log_error_errno(ret, "Cannot read %s: %m", r->path);
	}
	feed(c, buf, len);
	free(buf);
	for (size_t i = 0; i < r->mirrors.n; i++) {
		_cleanup_free_ char *path = base_key_path(r, base_recipe_mirror(r, i));
		if (!path)
			continue;
		ret = read_small(path, &buf, &len);
		if (ret < 0) {
			sha256_free(c);
			return log_error_errno(ret, "Cannot read the signing key %s: %m", path);
		}
		feed(c, buf, len);
		free(buf);
	}
	feed(c, suite, strlen(suite));
	feed(c, mmdebstrap_version, strlen(mmdebstrap_version));
	if (r->parent_key)
		feed(c, r->parent_key, strlen(r->parent_key));
	sha256_final(c, md);
	hex_encode(md, SHA256_LEN, key);
	return 0;
}

static int archive_path(struct base_recipe *r, const char *board, const char *suite,
			const char *cache, bool quiet, char **ret, char key[65]);

/* Loads a derived recipe's parent and finds its key and archive. */
static int resolve_parent(struct base_recipe *r, const char *board, const char *suite,
			  const char *cache, bool quiet, int depth)
{
	_cleanup_free_ char *path = NULL;
	char key[65];
	int e;

	if (r->parent || !r->from.m.set)
		return 0;
	path = base_recipe_parent_path(r);
	if (depth > 4)
		return log_error("%s: 'from' goes more than four recipes deep", r->path);
	r->parent = xcalloc(1, sizeof(*r->parent));
	e = base_recipe_load(path, board, r->parent);
	if (e < 0)
		return e;
	if (!streq(r->parent->architecture.v, r->architecture.v))
		return log_error("%s: its parent %s is for %s, not %s", r->path, path,
				 r->parent->architecture.v, r->architecture.v);
	e = resolve_parent(r->parent, board, suite, cache, quiet, depth + 1);
	if (e < 0)
		return e;
	e = archive_path(r->parent, board, suite, cache, quiet, &r->parent_archive, key);
	if (e < 0)
		return e;
	r->parent_key = xstrdup(key);
	return 0;
}

/* Where a recipe's base is (or would be) cached, CACHE/BOARD-SUITE-ARCH-
 * KEY.tar.zst (KEY's first 16 digits), and the whole KEY. */
static int archive_path(struct base_recipe *r, const char *board, const char *suite,
			const char *cache, bool quiet, char **ret, char key[65])
{
	_cleanup_free_ char *version = base_mmdebstrap_version(quiet);
	int e;

	if (!version)
		return -ENOENT;
	e = resolve_parent(r, board, suite, cache, quiet, 0);
	if (e < 0)
		return e;
	e = base_cache_key(r, suite, version, key);
	if (e < 0)
		return e;
	*ret = xasprintf("%s/%s-%s-%s-%.16s.tar.zst", cache, board, suite, r->architecture.v, key);
	return 0;
}

char *base_cached_path(const char *config_dir, const char *board)
{
	_cleanup_free_ char *recipe = base_recipe_path(config_dir, board);
	_cleanup_free_ char *cache = base_cache_dir();
	struct base_recipe r;
	char *path = NULL, key[65];

	if (!cache)
		return NULL;
	if (base_recipe_load(recipe, board, &r) == 0 &&
	    archive_path(&r, board, base_recipe_suite(&r), cache, true, &path, key) == 0 &&
	    access(path, R_OK) < 0) {
		free(path);
		path = NULL;
	}
	base_recipe_free(&r);
	return path;
}

/* A derived base starts from its parent's archive: built first when it is
 * not cached. */
static int build_parents(const struct base_recipe *r, const char *board, const char *suite)
{
	int e;

	if (!r->parent || access(r->parent_archive, R_OK) == 0)
		return 0;
	e = build_parents(r->parent, board, suite);
	if (e < 0)
		return e;
	log_info("%s starts from %s, which is not built yet: building that first", r->path,
		 r->parent->path);
	return base_build(r->parent, board, suite, r->parent_archive);
}

static int usage(FILE *f, int status)
{
	fprintf(f, "Usage: farm-image %s\n\n%s\n", BASE_ROOTFS_USAGE, BASE_ROOTFS_SUMMARY);
	return status;
}

int cmd_rootfs(int argc, char **argv)
{
	enum { O_CACHE = 0x100, O_RECIPE, O_PRINT_PATH, O_PRINT_KEY, O_REBUILD };
	static const struct option opts[] = {
		{ "board", required_argument, NULL, 'b' },
		{ "suite", required_argument, NULL, 's' },
		{ "cache", required_argument, NULL, O_CACHE },
		{ "config", required_argument, NULL, 'c' },
		{ "recipe", required_argument, NULL, O_RECIPE },
		{ "print-path", no_argument, NULL, O_PRINT_PATH },
		{ "print-key", no_argument, NULL, O_PRINT_KEY },
		{ "rebuild", no_argument, NULL, O_REBUILD },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *board = NULL, *suite = NULL, *config = NULL, *recipe_arg = NULL;
	_cleanup_free_ char *cache = NULL, *recipe = NULL, *path = NULL;
	_cleanup_free_ char *config_copy = NULL;
	bool print_path = false, print_key = false, rebuild = false;
	struct base_recipe r;
	char key[65];
	int o, ret;

	optind = 1;
	while ((o = getopt_long(argc, argv, ":b:s:c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'b':
			board = optarg;
			break;
		case 's':
			suite = optarg;
			break;
		case O_CACHE:
			free(cache);
			cache = xstrdup(optarg);
			break;
		case 'c':
			config = optarg;
			break;
		case O_RECIPE:
			recipe_arg = optarg;
			break;
		case O_PRINT_PATH:
			print_path = true;
			break;
		case O_PRINT_KEY:
			print_key = true;
			break;
		case O_REBUILD:
			rebuild = true;
			break;
		case 'h':
			return usage(stdout, 0);
		default:
			return usage_option_error("rootfs", o, argv, opts);
		}
	}
	if (optind < argc)
		return usage_error("rootfs", "unexpected argument", argv[optind]);
	if (!board) {
		_cleanup_free_ char *what =
			xasprintf("--board BOARD is required (boards: %s)", board_names());
		return usage_error("rootfs", what, NULL);
	}
	if (print_path + print_key + rebuild > 1)
		return usage_error("rootfs",
				   "give at most one of --print-path, --print-key and --rebuild",
				   NULL);
	if (suite && !base_suite_ok(suite))
		return usage_error("rootfs", "--suite: not a suite name", suite);

	if (recipe_arg)
		recipe = xstrdup(recipe_arg);
	else if (config)
		recipe = base_recipe_path(dirname(config_copy = xstrdup(config)), board);
	else
		recipe = base_recipe_path(DEFAULT_CONFIG_DIR, board);
	if (!cache && !(cache = base_cache_dir()))
		return 1;
	if (base_recipe_load(recipe, board, &r) < 0) {
		base_recipe_free(&r);
		return 1;
	}
	if (!suite)
		suite = base_recipe_suite(&r);

	ret = archive_path(&r, board, suite, cache, false, &path, key);
	if (ret == 0 && print_key)
		printf("%s\n", key);
	else if (ret == 0 && access(path, R_OK) == 0 && !rebuild) {
		if (!print_path)
			log_info("The %s base (%s, %s) is cached; --rebuild builds it anew", board,
				 suite, r.architecture.v);
		printf("%s\n", path);
	} else if (ret == 0 && print_path) {
		/* The command that builds it: the same arguments less --print-path. */
		char hint[1024] = "farm-image rootfs";
		for (int i = 1; i < argc; i++)
			if (!streq(argv[i], "--print-path"))
				snprintf(hint + strlen(hint), sizeof(hint) - strlen(hint), " %s",
					 argv[i]);
		log_error("The %s base (%s, %s) has not been built yet: run '%s' to build it "
			  "(a few minutes; tens of minutes for a foreign architecture under "
			  "emulation). It will be %s",
			  board, suite, r.architecture.v, hint, path);
		ret = -ENOENT;
	} else if (ret == 0) {
		ret = build_parents(&r, board, suite);
		if (ret == 0)
			ret = base_build(&r, board, suite, path);
		if (ret == 0)
			printf("%s\n", path);
	}
	base_recipe_free(&r);
	return ret < 0 ? 1 : 0;
}
