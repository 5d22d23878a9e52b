/* SPDX-License-Identifier: MIT */
/* farm-image fetch: fills the artifact cache from the URLs pinned in the
 * lock file (libcurl), or from a local directory, verifying every byte. */
#pragma once

#define FETCH_DEFAULT_LOCK "configs/artifacts.lock"

#define FETCH_USAGE "fetch [--lock FILE] [--cache DIR] [--arch ARCH]... [--from DIR] [--check]"

#define FETCH_SUMMARY                                                                              \
	"Download every pinned artifact that the cache lacks (k3s, its air-gap images,\n"          \
	"the stack's Helm charts) and verify its size and sha256. An interrupted\n"                \
	"download is kept as <sha256>.part and resumed by the next run.\n\n"                       \
	"  -l, --lock FILE    the lock file (default " FETCH_DEFAULT_LOCK ")\n"                    \
	"  -c, --cache DIR    the cache (default ${XDG_CACHE_HOME:-~/.cache}/farm/artifacts)\n"    \
	"  -a, --arch ARCH    only this architecture's files (and the shared ones);\n"             \
	"                     may be repeated\n"                                                   \
	"  -f, --from DIR     import from DIR (files named like the URLs' last part)\n"            \
	"                     instead of downloading, for machines without internet\n"             \
	"  -n, --check        download nothing: report what is missing or damaged"

int cmd_fetch(int argc, char **argv);
