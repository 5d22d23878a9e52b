/* SPDX-License-Identifier: MIT */
/* The base rootfs recipe, what mmdebstrap is given for it (arguments, the
 * node's sources.list), its cache key and cache, and `farm-image rootfs`.
 * Running mmdebstrap (host checks, progress, log) is in base-run.c. */
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

#define DEFAULT_SUITE "trixie"
#define DEFAULT_VARIANT "minbase"
#define DEFAULT_CONFIG_DIR "configs"
/* Part of every cache key: bump it when farm-image changes how it turns a
 * recipe into an mmdebstrap run, so that old bases are not reused. */
#define KEY_FORMAT "farm-rootfs-1"
#define MAX_KEY_FILE (1 * MiB)

#define F CONF_FIELD

static const char *const variants[] = { "extract", "custom",    "essential", "apt",
					"required", "minbase",  "buildd",    "important",
					"debootstrap", "standard", NULL };
static const char *const archs[] = { "amd64", "arm64", NULL };

static const struct field mirror_fields[] = {
	F("uri", FT_STRING, struct base_mirror, uri, .required = true),
	F("suites", FT_STRLIST, struct base_mirror, suites),
	F("components", FT_STRLIST, struct base_mirror, components),
	F("key", FT_STRING, struct base_mirror, key),
	F("node-key", FT_STRING, struct base_mirror, node_key),
	{ 0 },
};
static const struct schema mirror_schema = { .what = "mirror",
					     .name_key = "uri",
					     .size = sizeof(struct base_mirror),
					     .fields = mirror_fields };

static const struct field recipe_fields[] = {
	F("description", FT_STRING, struct base_recipe, description),
	F("suite", FT_STRING, struct base_recipe, suite),
	F("variant", FT_ENUM, struct base_recipe, variant, .values = variants),
	F("architecture", FT_ENUM, struct base_recipe, architecture, .values = archs,
	  .required = true),
	F("components", FT_STRLIST, struct base_recipe, components),
	F("mirrors", FT_LIST, struct base_recipe, mirrors, .sub = &mirror_schema,
	  .required = true),
	F("packages", FT_STRLIST, struct base_recipe, packages, .required = true),
	F("setup-hooks", FT_STRLIST, struct base_recipe, setup_hooks, .multiline = true),
	F("essential-hooks", FT_STRLIST, struct base_recipe, essential_hooks, .multiline = true),
	F("customize-hooks", FT_STRLIST, struct base_recipe, customize_hooks, .multiline = true),
	F("from", FT_STRING, struct base_recipe, from),
	{ 0 },
};
static const struct schema recipe_schema = { .what = "recipe", .fields = recipe_fields };

const char *base_recipe_suite(const struct base_recipe *r)
{
	return r->suite.m.set ? r->suite.v : DEFAULT_SUITE;
}

const char *base_recipe_variant(const struct base_recipe *r)
{
	/* A derived base starts from its parent's tree (a setup hook) and
	 * only adds its packages. */
	if (r->from.m.set)
		return "custom";
	return r->variant.m.set ? r->variant.v : DEFAULT_VARIANT;
}

/* The parent recipe's path: relative to this recipe's directory. */
static char *from_path(const struct base_recipe *r)
{
	return r->from.v[0] == '/' ? xstrdup(r->from.v) : xasprintf("%s/%s", r->dir, r->from.v);
}

struct base_mirror *base_recipe_mirror(const struct base_recipe *r, size_t i)
{
	return (struct base_mirror *)r->mirrors.items + i;
}

/* S is not empty and each byte is a lower-case letter, a digit or in EXTRA. */
static bool word_ok(const char *s, const char *extra)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr(extra, *s)))
			return false;
	return true;
}

/* Debian policy 5.6.1: lower case, digits, + - ., two or more, starting
 * with a letter or digit. */
static bool package_ok(const char *s)
{
	return strlen(s) >= 2 && word_ok(s, "+-.") && s[0] != '+' && s[0] != '-' && s[0] != '.';
}

static bool has_space(const char *s)
{
	return strpbrk(s, " \t\n\r\v\f") != NULL;
}

char *base_expand_suite(const char *tmpl, const char *suite)
{
	size_t n = strlen(tmpl) + 1;
	char *out, *o;

	for (const char *p = strstr(tmpl, "{suite}"); p; p = strstr(p + 7, "{suite}"))
		n += strlen(suite);
	out = o = xmalloc(n);
	while (*tmpl) {
		if (startswith(tmpl, "{suite}")) {
			o = stpcpy(o, suite);
			tmpl += 7;
		} else
			*o++ = *tmpl++;
	}
	*o = 0;
	return out;
}

char *base_key_path(const struct base_recipe *r, const struct base_mirror *m)
{
	if (!m->key.m.set)
		return NULL;
	return m->key.v[0] == '/' ? xstrdup(m->key.v) : xasprintf("%s/%s", r->dir, m->key.v);
}

static void check_words(struct conf_file *f, const struct cstrlist *l, const char *what)
{
	for (size_t i = 0; i < l->n; i++)
		if (!word_ok(l->v[i], "-"))
			conf_error(f, l->vpos[i], "%s '%s' is not a component name (a-z, 0-9, -)",
				   what, l->v[i]);
}

static void check_mirror(struct conf_file *f, const struct base_recipe *r, struct base_mirror *m)
{
	const char *u = m->uri.v;
	_cleanup_free_ char *key = NULL;

	if ((!startswith(u, "http://") && !startswith(u, "https://")) || has_space(u) ||
	    strpbrk(u, "[]\"'"))
		conf_error(f, m->uri.m.pos, "mirror '%s': uri must be an http:// or https:// URL",
			   u);
	for (size_t i = 0; i < m->suites.n; i++) {
		_cleanup_free_ char *s = base_expand_suite(m->suites.v[i], "x");
		if (!word_ok(s, "-._"))
			conf_error(f, m->suites.vpos[i],
				   "mirror '%s': suite '%s' is not a suite name (a-z, 0-9, - . _, "
				   "{suite} for the recipe's suite)",
				   u, m->suites.v[i]);
	}
	check_words(f, &m->components, "component");
	if (m->node_key.m.set && (m->node_key.v[0] != '/' || has_space(m->node_key.v)))
		conf_error(f, m->node_key.m.pos,
			   "mirror '%s': node-key must be an absolute path without spaces", u);
	if (m->node_key.m.set && !m->key.m.set)
		conf_error(f, m->node_key.m.pos, "mirror '%s': node-key needs a key to build with",
			   u);
	key = base_key_path(r, m);
	if (!key)
		return;
	if (has_space(key))
		conf_error(f, m->key.m.pos, "mirror '%s': key path '%s' has a space in it", u, key);
	else if (access(key, R_OK) < 0)
		conf_error(f, m->key.m.pos,
			   "mirror '%s': cannot read its signing key %s: %s (the archive's public "
			   "key must be shipped with the recipe)",
			   u, key, strerror(errno));
}

static void check_recipe(struct conf_file *f, struct base_recipe *r, const char *board)
{
	const struct board_ops *ops = board_ops_find(board);

	if (ops && !streq(r->architecture.v, ops->arch))
		conf_error(f, r->architecture.m.pos,
			   "architecture '%s' is not board %s's architecture (%s)",
			   r->architecture.v, board, ops->arch);
	if (r->suite.m.set && !word_ok(r->suite.v, "-._"))
		conf_error(f, r->suite.m.pos, "suite '%s' is not a suite name (a-z, 0-9, - . _)",
			   r->suite.v);
	check_words(f, &r->components, "component");
	if (r->mirrors.n == 0)
		conf_error(f, r->mirrors.m.pos, "mirrors: give at least one mirror");
	for (size_t i = 0; i < r->mirrors.n; i++)
		check_mirror(f, r, base_recipe_mirror(r, i));
	if (r->packages.n == 0)
		conf_error(f, r->packages.m.pos, "packages: give at least one package");
	if (r->from.m.set) {
		_cleanup_free_ char *parent = from_path(r);
		if (has_space(parent) || strpbrk(parent, "'\"\\$`"))
			conf_error(f, r->from.m.pos, "from: '%s' cannot be passed to a setup hook",
				   parent);
		else if (access(parent, R_OK) < 0)
			conf_error(f, r->from.m.pos, "from: cannot read the parent recipe %s: %s",
				   parent, strerror(errno));
		if (r->variant.m.set && !streq(r->variant.v, "custom"))
			conf_error(f, r->variant.m.pos,
				   "variant: a recipe with 'from' adds to its parent's tree "
				   "(variant custom); leave variant out");
	}
	for (size_t i = 0; i < r->packages.n; i++) {
		if (!package_ok(r->packages.v[i])) {
			conf_error(f, r->packages.vpos[i],
				   "package '%s' is not a Debian package name (a-z, 0-9, + - .)",
				   r->packages.v[i]);
			continue;
		}
		for (size_t j = 0; j < i; j++)
			if (streq(r->packages.v[i], r->packages.v[j])) {
				conf_error(f, r->packages.vpos[i],
					   "package '%s' is listed twice (first on line %u)",
					   r->packages.v[i], r->packages.vpos[j].line);
				break;
			}
	}
}

int base_recipe_load(const char *path, const char *board, struct base_recipe *r)
{
	_cleanup_free_ char *copy = xstrdup(path);
	struct conf_file f;
	char *abs;
	int ret;

	*r = (struct base_recipe){ .path = xstrdup(path) };
	abs = realpath(dirname(copy), NULL);
	r->dir = abs ? abs : xstrdup(".");
	if (!board_ops_find(board))
		return log_error("Unknown board '%s' (known: %s)", board, board_names());
	if (access(path, R_OK) < 0)
		return log_error_errno(errno, "Cannot read the %s base recipe %s: %m", board, path);
	ret = conf_file_open(path, &f);
	if (ret == 0) {
		conf_load(&f, &recipe_schema, r);
		if (!f.errors)
			check_recipe(&f, r, board);
		ret = f.errors ? -EINVAL : 0;
	}
	conf_file_close(&f);
	return ret;
}

void base_recipe_free(struct base_recipe *r)
{
	if (r->parent) {
		base_recipe_free(r->parent);
		free(r->parent);
	}
	free(r->parent_key);
	free(r->parent_archive);
	conf_free(&recipe_schema, r);
	free(r->path);
	free(r->dir);
	*r = (struct base_recipe){ 0 };
}

char *base_recipe_path(const char *config_dir, const char *board)
{
	return xasprintf("%s/rootfs/%s.yaml", config_dir, board);
}

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

static void strv_push(char ***v, size_t *n, size_t *cap, char *s)
{
	ARRAY_PUSH(*v, *n, *cap, s);
}

/* The sources.list the node keeps: keys at /usr/share/keyrings/farm-NAME.
 * With HOST_KEYS, the keys' paths on this machine (for mmdebstrap's apt). */
static void source_lines(const struct base_recipe *r, const char *suite, bool host_keys,
			 char ***v, size_t *n, size_t *cap)
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
			strv_push(v, n, cap, xasprintf("deb %s%s %s%s", signed_by ? signed_by : "",
						       m->uri.v, s, c));
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
	path = from_path(r);
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
	if (suite && !word_ok(suite, "-._"))
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
