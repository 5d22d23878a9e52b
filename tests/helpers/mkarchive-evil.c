/* SPDX-License-Identifier: MIT */
/* mkarchive's malicious and oversized archives, for tests/image/evil.sh:
 * names that leave the tree, hardlinks and symlinks that point where they
 * must not, duplicates, devices outside /dev, long and deep names, sizes
 * and entry counts past the limits. */
#include "mkarchive.h"

void kind_traversal(struct ctx *c)
{
	add_dir(c, "./etc/", 0755);
	add_text(c, "../escape", 0644, "escaped\n");
}

void kind_traversal_inner(struct ctx *c)
{
	add_dir(c, "./etc/", 0755);
	add_text(c, "etc/../../escape", 0644, "escaped\n");
}

void kind_absolute(struct ctx *c)
{
	add_text(c, "/etc/passwd", 0644, "root:x:0:0:root:/root:/bin/sh\n");
}

void kind_symlink_parent(struct ctx *c)
{
	add_dir(c, "./etc/", 0755);
	add_symlink(c, "./evil", "/tmp");
	add_text(c, "./evil/owned", 0644, "owned\n");
}

/* The symlink two levels above the entry, whose parents farm-image would
 * create through it. */
void kind_symlink_ancestor(struct ctx *c)
{
	add_dir(c, "./etc/", 0755);
	add_symlink(c, "./evil", "/tmp");
	add_text(c, "./evil/deeper/owned", 0644, "owned\n");
}

void kind_hardlink_missing(struct ctx *c)
{
	add_dir(c, "./etc/", 0755);
	add_hardlink(c, "./etc/a", "./etc/nothing", 0644);
}

void kind_hardlink_self(struct ctx *c)
{
	add_dir(c, "./etc/", 0755);
	add_hardlink(c, "./etc/a", "./etc/a", 0644);
}

void kind_hardlink_later(struct ctx *c)
{
	add_hardlink(c, "./a", "./b", 0644);
	add_text(c, "./b", 0644, "b\n");
}

void kind_hardlink_dir(struct ctx *c)
{
	add_dir(c, "./d/", 0755);
	add_hardlink(c, "./x", "./d", 0755);
}

void kind_duplicate(struct ctx *c)
{
	add_dir(c, "./etc/", 0755);
	add_text(c, "./etc/a", 0644, "first\n");
	add_text(c, "./etc/a", 0644, "second version\n");
}

void kind_device_outside_dev(struct ctx *c)
{
	add_dir(c, "./etc/", 0755);
	add_dev(c, "./etc/null", AE_IFCHR, 0666, 1, 3, 0);
}

void kind_long_name(struct ctx *c)
{
	char path[sizeof("./etc/") + 300];

	memcpy(path, "./etc/", 6);
	memset(path + 6, 'n', 300);
	path[306] = '\0';
	add_dir(c, "./", 0755);
	add_dir(c, "./etc/", 0755);
	add_text(c, path, 0644, "long\n");
}

void kind_deep(struct ctx *c)
{
	char path[2 + 200 * 2 + sizeof("file")] = "./";
	size_t len = 2;

	add_dir(c, "./", 0755);
	for (unsigned i = 0; i < 200; i++) {
		memcpy(path + len, "d/", 3);
		len += 2;
		add_dir(c, path, 0755);
	}
	memcpy(path + len, "file", sizeof("file"));
	add_text(c, path, 0644, "deep\n");
}

void kind_file_over_dir(struct ctx *c)
{
	add_dir(c, "./etc/", 0755);
	add_text(c, "./etc", 0644, "not a directory\n");
}

void kind_overflow(struct ctx *c)
{
	static const struct region map[] = {
		{ 1024 * GiB - 4096, 4096 },
	};

	add_dir(c, "./", 0755);
	write_sparse(c, "./overflow.img", 0644, 1024 * GiB, map, ELEMENTSOF(map));
}

void kind_bomb_count(struct ctx *c)
{
	add_dir(c, "./", 0755);
	add_dir(c, "./f/", 0755);
	for (unsigned i = 0; i < 200000; i++) {
		char path[32];
		snprintf(path, sizeof(path), "./f/%06u", i);
		add_file(c, path, 0644, NULL, 0);
	}
}

/* One more entry than a base may have, cheaply: the directory ./d/ given
 * again and again (a directory may repeat), 2,000,001 entries in all. */
void kind_bomb_entries(struct ctx *c)
{
	add_dir(c, "./", 0755);
	for (unsigned i = 0; i < 2000000; i++)
		add_dir(c, "./d/", 0755);
}
