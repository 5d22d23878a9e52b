/* SPDX-License-Identifier: MIT */
/* The base rootfs of a board: a recipe (configs/rootfs/BOARD.yaml: suite,
 * variant, architecture, mirrors and their keys, packages, mmdebstrap hooks)
 * that `farm-image rootfs` builds with mmdebstrap into a .tar.zst, cached
 * under ${XDG_CACHE_HOME:-~/.cache}/farm/base/ by the sha256 of the recipe's
 * bytes, its key files, the suite and mmdebstrap's version. */
#pragma once

#include "conf.h"

struct base_mirror {
	struct cmeta m;
	struct cstr uri, key, node_key;
	struct cstrlist suites, components;
};

struct base_recipe {
	struct cmeta m;
	struct cstr description, suite, variant, architecture;
	struct cstrlist components, packages;
	struct clist mirrors; /* struct base_mirror */
	struct cstrlist setup_hooks, essential_hooks, customize_hooks;
	struct cstr from; /* a parent recipe: this base is that one plus what this one adds */

	char *path; /* the recipe file */
	char *dir;  /* its directory: key paths are relative to it */
	/* With FROM, set when the cache key is computed: the parent's recipe,
	 * its cache key and its archive, which the build starts from. */
	struct base_recipe *parent;
	char *parent_key, *parent_archive;
};

/* Loads the recipe at PATH for BOARD: unknown keys, bad package names,
 * missing key files, an architecture that is not the board's are
 * FILE:LINE:COL errors. Returns 0 or -errno after printing every problem. */
int base_recipe_load(const char *path, const char *board, struct base_recipe *r);
void base_recipe_free(struct base_recipe *r);

/* "CONFIG_DIR/rootfs/BOARD.yaml". */
char *base_recipe_path(const char *config_dir, const char *board);
/* ${XDG_CACHE_HOME:-$HOME/.cache}/farm/base, or NULL with a message when
 * neither is set. */
char *base_cache_dir(void);

/* The cache key, as 64 hex digits: sha256 of the recipe's bytes, the key
 * files' bytes, SUITE and MMDEBSTRAP_VERSION (and the parent's key for a
 * recipe with `from`). Returns 0 or -errno. */
int base_cache_key(const struct base_recipe *r, const char *suite, const char *mmdebstrap_version,
		   char key[65]);
/* `mmdebstrap --version`'s output ("mmdebstrap 1.3.5"), or NULL (with a
 * message telling how to install it unless QUIET). */
char *base_mmdebstrap_version(bool quiet);

/* The cached base archive of BOARD (recipe in CONFIG_DIR/rootfs/, default
 * suite and cache), or NULL when it has not been built (or the recipe does
 * not load). For `build` when --base is not given. */
char *base_cached_path(const char *config_dir, const char *board);

/* farm-image rootfs: main.c's command table takes these. */
#define BASE_ROOTFS_USAGE                                                                          \
	"rootfs --board BOARD [--suite SUITE] [--cache DIR] [--print-path|--print-key|--rebuild]"
#define BASE_ROOTFS_SUMMARY                                                                        \
	"Build the base rootfs of a board with mmdebstrap from its recipe\n"                       \
	"(configs/rootfs/BOARD.yaml) into the cache, unless it is there already,\n"                \
	"and print the archive's path.\n\n"                                                        \
	"  -b, --board BOARD   pi5 or x86\n"                                                       \
	"  -s, --suite SUITE   Debian suite (default: the recipe's, trixie)\n"                     \
	"      --cache DIR     default ${XDG_CACHE_HOME:-~/.cache}/farm/base\n"                    \
	"  -c, --config FILE   the cluster config; recipes are in its directory's\n"               \
	"                      rootfs/ (default configs/cluster.yaml)\n"                           \
	"      --recipe FILE   this recipe instead\n"                                              \
	"      --print-path    print the cached archive's path; exit 1 if not built\n"             \
	"      --print-key     print the cache key (no build, no network)\n"                       \
	"      --rebuild       build even when the archive is cached\n\n"                          \
	"The cache key is the sha256 of the recipe, the key files it names, the\n"                 \
	"suite and mmdebstrap's version. As root mmdebstrap runs in --mode=root,\n"                \
	"otherwise in --mode=unshare (user namespaces). A foreign architecture\n"                  \
	"(arm64 on x86) runs under qemu-user through binfmt_misc. The build log is\n"              \
	"kept next to the archive."
int cmd_rootfs(int argc, char **argv);

/* Shared by base-recipe.c, base.c and base-run.c (mmdebstrap, host checks,
 * progress). */
const char *base_recipe_suite(const struct base_recipe *r);
const char *base_recipe_variant(const struct base_recipe *r);
struct base_mirror *base_recipe_mirror(const struct base_recipe *r, size_t i);
/* The parent recipe's path (`from`): relative to R's directory. */
char *base_recipe_parent_path(const struct base_recipe *r);
/* S is a suite name: a-z, 0-9, - . _ */
bool base_suite_ok(const char *s);
/* TMPL with every "{suite}" replaced by SUITE. */
char *base_expand_suite(const char *tmpl, const char *suite);
/* The absolute path of M's key file, or NULL when it has none. */
char *base_key_path(const struct base_recipe *r, const struct base_mirror *m);
/* mmdebstrap's argument vector (NULL-terminated) for R; SOURCES is the
 * node's sources.list file, written by base_write_sources(). */
char **base_mmdebstrap_argv(const struct base_recipe *r, const char *suite, const char *target,
			    const char *sources);
int base_write_sources(const struct base_recipe *r, const char *board, const char *suite,
		       const char *path);
void base_strv_free(char ***v);
/* Builds R's base into ARCHIVE (a .tar.zst; written under a temporary name
 * in its directory, renamed when complete, removed on failure or Ctrl-C),
 * logging mmdebstrap's output to ARCHIVE without ".tar.zst" plus ".log".
 * Returns 0 or -errno after saying what went wrong. */
int base_build(const struct base_recipe *r, const char *board, const char *suite,
	       const char *archive);
