/* SPDX-License-Identifier: MIT */
#include "k3s.h"
#include "util.h"

#include <strings.h>

const char *const k3s_disabled[] = { "coredns", "servicelb", "traefik" };
const size_t n_k3s_disabled = ELEMENTSOF(k3s_disabled);

static bool disabled(const char *name, size_t len)
{
	if (len == 3 && strncmp(name, "ccm", 3) == 0)
		return true;
	for (size_t i = 0; i < n_k3s_disabled; i++)
		if (strlen(k3s_disabled[i]) == len && strncmp(name, k3s_disabled[i], len) == 0)
			return true;
	return false;
}

static bool manifest_suffix(const char *s, size_t len)
{
	static const char *const suffixes[] = { ".yaml", ".yml", ".json" };

	for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
		size_t n = strlen(suffixes[i]);
		/* util.HasSuffixI: case-insensitive */
		if (len >= n && strncasecmp(s + len - n, suffixes[i], n) == 0)
			return true;
	}
	return false;
}

bool k3s_manifest_deleted(const char *name)
{
	const char *slash = strchr(name, '/'), *base, *dot;

	/* Below a directory named after a disabled component: k3s looks up
	 * the joins of the leading components ("a", "a/b", ...), and no
	 * disabled name holds a '/', so only the first one can match. */
	if (slash && disabled(name, (size_t)(slash - name)))
		return true;
	/* Then the base name, at any depth. */
	base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
	if (!manifest_suffix(base, strlen(base)))
		return false;
	/* filepath.Ext: from the last dot of the base name. */
	dot = strrchr(base, '.');
	return disabled(base, (size_t)(dot - base));
}
