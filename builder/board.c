/* SPDX-License-Identifier: MIT */
#include "board.h"
#include "fat.h"
#include "hash.h"
#include "log.h"

/* The boards: one row each, NAME for the ops table board_NAME that
 * board-NAME.c defines. */
#define BOARDS(X) X(pi5) X(x86)

#define BOARD_DECLARE(name) extern const struct board_ops board_##name;
#define BOARD_ROW(name)	    &board_##name,
BOARDS(BOARD_DECLARE)
static const struct board_ops *const board_table[] = { BOARDS(BOARD_ROW) };

const struct board_ops *board_ops_find(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(board_table); i++)
		if (streq(board_table[i]->name, name))
			return board_table[i];
	return NULL;
}

const char *board_names(void)
{
	static char *names; /* made once, from the table */

	if (names)
		return names;
	for (size_t i = 0; i < ELEMENTSOF(board_table); i++) {
		char *more =
			xasprintf("%s%s%s", i ? names : "", i ? ", " : "", board_table[i]->name);
		free(names);
		names = more;
	}
	return names;
}

const char *board_sector_size_problem(const struct board_ops *ops, unsigned lss, unsigned image_ss)
{
	const char *why = ops->sector_size_problem ? ops->sector_size_problem(lss) : NULL;

	if (why)
		return why;
	if (lss != image_ss)
		return image_ss == 512 ? "the image is laid out in 512-byte sectors, so its GPT is "
					 "not where such a disk has it; reformat the drive to "
					 "512-byte sectors (nvme format --lbaf=N, N a 512-byte "
					 "format of 'nvme id-ns -H')"
				       : "the image is laid out in other sectors than the disk's";
	return NULL;
}

static const struct {
	const char *name, *guid;
} part_types[] = {
	{ "esp", "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" },
	{ "microsoft-basic-data", "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7" },
	{ "linux-filesystem", "0FC63DAF-8483-4772-8E79-3D69D8477DE4" },
	{ "linux-root-x86-64", "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709" },
	{ "linux-root-arm64", "B921B045-1DF0-41C3-AF44-4C6F280D3FAE" },
};

const char *partition_type_guid(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(part_types); i++)
		if (streq(part_types[i].name, name))
			return part_types[i].guid;
	return NULL;
}

#define F CONF_FIELD

static const char *const boot_types[] = { "esp", "microsoft-basic-data", NULL };
static const char *const root_types[] = { "linux-filesystem", "linux-root-x86-64",
					  "linux-root-arm64", NULL };
static const char *const fs_types[] = { "vfat", NULL };
static const char *const archs[] = { "arm64", "amd64", NULL };

static const struct field copy_fields[] = {
	F("from", FT_STRING, struct board_copy, from, .required = true),
	F("to", FT_STRING, struct board_copy, to, .required = true),
	{ 0 },
};
static const struct schema copy_schema = { .what = "boot copy",
					   .size = sizeof(struct board_copy),
					   .fields = copy_fields };

static const struct field boot_fields[] = {
	F("filesystem", FT_ENUM, struct board_boot, filesystem, .values = fs_types,
	  .required = true),
	F("size", FT_SIZE, struct board_boot, size, .required = true),
	F("type", FT_ENUM, struct board_boot, type, .values = boot_types, .required = true),
	F("label", FT_STRING, struct board_boot, label, .required = true),
	F("source", FT_STRING, struct board_boot, source, .required = true),
	F("mount", FT_STRING, struct board_boot, mount, .required = true),
	F("files", FT_STRLIST, struct board_boot, files, .required = true),
	F("copy", FT_LIST, struct board_boot, copy, .sub = &copy_schema),
	{ 0 },
};
static const struct schema boot_schema = { .what = "boot", .fields = boot_fields };

static const struct field root_fields[] = {
	F("type", FT_ENUM, struct board_root, type, .values = root_types, .required = true),
	F("headroom", FT_SIZE, struct board_root, headroom),
	F("size", FT_SIZE, struct board_root, size),
	{ 0 },
};
static const struct schema root_schema = { .what = "root", .fields = root_fields };

static const struct field data_fields[] = {
	F("size", FT_SIZE, struct board_data, size, .required = true),
	{ 0 },
};
static const struct schema data_schema = { .what = "data", .fields = data_fields };

static const struct field board_fields[] = {
	F("name", FT_STRING, struct board, name, .required = true),
	F("arch", FT_ENUM, struct board, arch, .values = archs, .required = true),
	F("description", FT_STRING, struct board, description),
	F("boot", FT_MAP, struct board, boot, .sub = &boot_schema, .required = true),
	F("root", FT_MAP, struct board, root, .sub = &root_schema, .required = true),
	F("data", FT_MAP, struct board, data, .sub = &data_schema, .required = true),
	{ 0 },
};
static const struct schema board_schema = { .what = "board", .fields = board_fields };

/* The characters a path of a profile may use: it becomes a field of
 * /etc/fstab (whitespace separates fields there) and a mount unit's name,
 * so nothing that would need escaping in either. */
static bool plain_path(const char *s)
{
	return *s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
			       "._+@/-") == strlen(s);
}

static bool abs_dir(const char *s)
{
	return s[0] == '/' && !strstr(s, "..") && !strstr(s, "//") && plain_path(s);
}

int board_load(const char *config_dir, const char *name, struct board *b)
{
	struct conf_file f;
	char sha[SHA256_HEX_LEN];
	int r;

	*b = (struct board){ 0 };
	b->path = xasprintf("%s/boards/%s.yaml", config_dir, name);
	r = conf_file_open(b->path, &f);
	if (r < 0) {
		conf_file_close(&f);
		return r;
	}
	conf_load(&f, &board_schema, b);
	if (!f.errors) {
		if (!streq(b->name.v, name))
			conf_error(&f, b->name.m.pos,
				   "board: name '%s' does not match the file name '%s.yaml'",
				   b->name.v, name);
		b->ops = board_ops_find(name);
		if (!b->ops)
			conf_error(&f, b->name.m.pos,
				   "board: '%s' has a profile but farm-image has no support for it (known: %s)",
				   name, board_names());
		else if (!streq(b->ops->arch, b->arch.v))
			conf_error(&f, b->arch.m.pos,
				   "board: arch '%s' does not match board %s (%s)", b->arch.v, name,
				   b->ops->arch);
		if (b->boot.size.v < 34 * MiB || b->boot.size.v % MiB)
			conf_error(&f, b->boot.size.m.pos,
				   "boot: size must be a whole number of MiB, at least 34MiB (FAT32)");
		uint8_t label[11];
		if (b->boot.label.m.set &&
		    (!*b->boot.label.v || fat_parse_label(b->boot.label.v, label) < 0))
			conf_error(&f, b->boot.label.m.pos,
				   "boot: label '%s' is not a FAT volume label (1 to 11 letters, "
				   "digits, spaces and _-!#$%%&'()@^`{}~)",
				   b->boot.label.v);
		if (!abs_dir(b->boot.source.v))
			conf_error(&f, b->boot.source.m.pos,
				   "boot: source must be an absolute path (letters, digits, "
				   "'._+@-/')");
		if (!abs_dir(b->boot.mount.v))
			conf_error(&f, b->boot.mount.m.pos,
				   "boot: mount must be an absolute path (letters, digits, "
				   "'._+@-/')");
		if (b->data.size.v < MiB || b->data.size.v % MiB)
			conf_error(&f, b->data.size.m.pos,
				   "data: size must be a whole number of MiB");
		for (size_t i = 0; i < b->boot.copy.n; i++) {
			const struct board_copy *cp = board_copy_at(b, i);
			if (!abs_dir(cp->from.v) || cp->to.v[0] == '/' || strstr(cp->to.v, "..") ||
			    !plain_path(cp->to.v))
				conf_error(&f, cp->m.pos,
					   "boot: copy needs an absolute 'from' in the "
					   "rootfs and a relative 'to' in the boot partition");
		}
		if (b->root.size.m.set && b->root.size.v % MiB)
			conf_error(&f, b->root.size.m.pos,
				   "root: size must be a whole number of MiB");
	}
	r = f.errors ? -EINVAL : 0;
	conf_file_close(&f);
	if (r == 0 && sha256_file(b->path, sha) == 0)
		b->profile_sha = xstrdup(sha);
	return r;
}

void board_free(struct board *b)
{
	conf_free(&board_schema, b);
	free(b->path);
	free(b->profile_sha);
	*b = (struct board){ 0 };
}
