/* SPDX-License-Identifier: MIT */
/* mkarchive: writes the tar fixtures the image tests stream into ext4,
 * without root privileges: every entry (owners, devices, setuid bits,
 * xattrs, sparse maps, malicious names) is described to libarchive's
 * writer rather than read from disk.
 *
 *   mkarchive KIND OUTPUT    OUTPUT ending in .gz, .xz or .zst is compressed;
 *                            "-" writes to stdout
 *   mkarchive list           the kinds, one per line
 *
 * The output is restricted pax (ustar headers, with a pax extended header
 * only where an entry needs one: xattrs, sparse maps, long names, large
 * sizes) and byte-for-byte deterministic: every time is set explicitly
 * (mtime 1600000000 unless stated, no atime/ctime), every owner is numeric
 * (uid/gid 0 unless stated, no user or group names), and file contents
 * come from a PRNG seeded with the path.
 *
 * The files: this one (the command, the kinds' table, the archive's format
 * and compression), mkarchive-write.c (entries, data, sparse files),
 * mkarchive-full.c (the full fixture and the kinds built on it),
 * mkarchive-evil.c (the malicious and oversized archives); mkarchive.h
 * declares what they share.
 *
 * libarchive caveats mkarchive works around:
 *   - tar cannot hold sockets: libarchive refuses them ("tar format cannot
 *     archive socket", ARCHIVE_FAILED) and GNU tar skips them, so `full`
 *     has no ./run/sock.
 *   - A sparse entry's data is written as the whole logical stream: the pax
 *     writer drops the bytes that fall into holes of the map, so holes must
 *     be fed through archive_write_data() too (write_sparse() does it from
 *     a zero buffer, which is never read).  Each call stays within one
 *     block of the map: some libarchive sources size each piece from the
 *     whole buffer instead of what is left of it, which mis-advances when
 *     one call spans a hole and data (3.6.2 gets it right; we don't rely
 *     on it).
 *   - Sparse files are stored as GNU sparse format 1.0 inside pax:
 *     GNU.sparse.{major=1,minor=0,name,realsize} attributes, the ustar name
 *     rewritten to DIR/GNUSparseFile.0/NAME, and the map ("count\noffset\n
 *     length\n...", padded to 512) at the start of the entry's data.
 *   - Xattrs: by default libarchive writes each one twice, as
 *     LIBARCHIVE.xattr.NAME=base64 and SCHILY.xattr.NAME=raw bytes, and its
 *     3.6 reader then returns the xattr twice; GNU tar ignores (with a
 *     warning) the LIBARCHIVE form. We ask for SCHILY.xattr only, the form
 *     GNU tar --xattrs writes.
 *   - Hardlink entries carry no data in (restricted) pax.
 *   - The gzip filter stamps the current time into its header unless its
 *     "timestamp" option is turned off.
 */
#include <stdarg.h>
#include <sys/stat.h>

#include "mkarchive.h"

static const char *arg_output;
static bool output_created;

_Noreturn void die(const char *fmt, ...)
{
	va_list ap;

	fputs("mkarchive: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	/* Leave no half-written fixture behind for a later test to trust. */
	if (output_created)
		(void)unlink(arg_output);
	exit(1);
}

static const struct kind {
	const char *name;
	void (*build)(struct ctx *c);
} kinds[] = {
	{ "full", kind_full },
	{ "full-amd64", kind_full_amd64 },
	{ "pios", kind_pios },
	{ "traversal", kind_traversal },
	{ "traversal-inner", kind_traversal_inner },
	{ "absolute", kind_absolute },
	{ "symlink-parent", kind_symlink_parent },
	{ "symlink-ancestor", kind_symlink_ancestor },
	{ "hardlink-missing", kind_hardlink_missing },
	{ "hardlink-self", kind_hardlink_self },
	{ "hardlink-later", kind_hardlink_later },
	{ "hardlink-dir", kind_hardlink_dir },
	{ "duplicate", kind_duplicate },
	{ "device-outside-dev", kind_device_outside_dev },
	{ "long-name", kind_long_name },
	{ "deep", kind_deep },
	{ "file-over-dir", kind_file_over_dir },
	{ "overflow", kind_overflow },
	{ "bomb-count", kind_bomb_count },
	{ "bomb-entries", kind_bomb_entries },
	{ "zeros", kind_zeros },
	{ "sparse-end", kind_sparse_end },
};

static bool endswith(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);
	return ls >= lx && streq(s + ls - lx, suffix);
}

static void usage(FILE *f)
{
	fputs("usage: mkarchive KIND OUTPUT   (OUTPUT: *.tar, *.gz, *.xz, *.zst or -)\n"
	      "       mkarchive list\n",
	      f);
}

int main(int argc, char **argv)
{
	const struct kind *kind = NULL;
	struct ctx c;
	const char *filter = NULL;
	bool to_stdout;

	if (argc == 2 && streq(argv[1], "list")) {
		for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
			puts(kinds[i].name);
		return 0;
	}
	if (argc == 2 && (streq(argv[1], "-h") || streq(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (argc != 3) {
		usage(stderr);
		die("expected KIND OUTPUT (or: list)");
	}
	for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
		if (streq(argv[1], kinds[i].name))
			kind = &kinds[i];
	if (!kind)
		die("unknown kind '%s' (see: mkarchive list)", argv[1]);
	if (argv[2][0] == '\0')
		die("empty output path");

	to_stdout = streq(argv[2], "-");
	if (!to_stdout) {
		if (endswith(argv[2], ".gz"))
			filter = "gzip";
		else if (endswith(argv[2], ".xz"))
			filter = "xz";
		else if (endswith(argv[2], ".zst"))
			filter = "zstd";
	}

	c.a = archive_write_new();
	c.e = archive_entry_new();
	if (!c.a || !c.e)
		die("out of memory");
	if (archive_write_set_format_pax_restricted(c.a) != ARCHIVE_OK)
		die("pax format: %s", archive_error_string(c.a));
	/* Xattrs as SCHILY.xattr.NAME only, the way GNU tar writes them: the
	 * default also adds LIBARCHIVE.xattr.NAME, which GNU tar warns about
	 * and which makes libarchive 3.6's reader report every xattr twice. */
	if (archive_write_set_format_option(c.a, "pax", "xattrheader", "SCHILY") != ARCHIVE_OK)
		die("pax xattrheader: %s", archive_error_string(c.a));
	/* Pad the end to 512-byte records whatever OUTPUT is, so that a file
	 * and stdout get the same bytes (the default pads only non-files to
	 * the 10240-byte block). */
	if (archive_write_set_bytes_in_last_block(c.a, 1) != ARCHIVE_OK)
		die("last block: %s", archive_error_string(c.a));
	if (filter) {
		if (archive_write_add_filter_by_name(c.a, filter) != ARCHIVE_OK)
			die("%s compression: %s", filter, archive_error_string(c.a));
		/* No current time in the gzip header. */
		if (streq(filter, "gzip") &&
		    archive_write_set_filter_option(c.a, "gzip", "timestamp", NULL) != ARCHIVE_OK)
			die("gzip: cannot disable the timestamp: %s", archive_error_string(c.a));
	}

	arg_output = argv[2];
	if (archive_write_open_filename(c.a, to_stdout ? NULL : arg_output) != ARCHIVE_OK)
		die("cannot open %s: %s", arg_output, archive_error_string(c.a));
	/* Only a regular file is ours to remove on failure (not /dev/null). */
	if (!to_stdout) {
		struct stat st;
		output_created = stat(arg_output, &st) == 0 && S_ISREG(st.st_mode);
	}

	kind->build(&c);

	archive_entry_clear(c.e);
	if (archive_write_close(c.a) != ARCHIVE_OK)
		die("writing %s: %s", arg_output, archive_error_string(c.a));
	archive_entry_free(c.e);
	archive_write_free(c.a);
	return 0;
}
