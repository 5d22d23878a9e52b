/* SPDX-License-Identifier: MIT */
/* The base rootfs recipe (configs/rootfs/BOARD.yaml): its schema, its
 * checks, what the rest of base*.c reads of it. What mmdebstrap is given for
 * it, its cache and `farm-image rootfs` are base.c. */
#include "base.h"
#include "board.h"
#include "log.h"

#include <libgen.h>

#define DEFAULT_SUITE	"trixie"
#define DEFAULT_VARIANT "minbase"

#define F CONF_FIELD

static const char *const variants[] = { "extract",     "custom",   "essential", "apt",
					"required",    "minbase",  "buildd",	"important",
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
	F("mirrors", FT_LIST, struct base_recipe, mirrors, .sub = &mirror_schema, .required = true),
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

char *base_recipe_parent_path(const struct base_recipe *r)
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

static bool has_space(const char *s) { return strpbrk(s, " \t\n\r\v\f") != NULL; }

bool base_suite_ok(const char *s) { return word_ok(s, "-._"); }

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
	if (r->suite.m.set && !base_suite_ok(r->suite.v))
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
		_cleanup_free_ char *parent = base_recipe_parent_path(r);
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
