/* SPDX-License-Identifier: MIT */
/* The archive source: libarchive's streaming read loop (as in its untar.c),
 * reading the file ourselves so that it is hashed as it is read, once (on
 * a thread of its own, ahead of libarchive). */
#include "log.h"
#include "readahead.h"
#include "source.h"

#include <archive.h>
#include <archive_entry.h>

#define READ_CHUNK (1 << 20)

struct archive_source {
	struct source s;
	int fd;
	struct readahead *ra;
	struct sha256_ctx *sha;
	struct archive *a;
	struct source_entry e;
	struct ext4_xattr *xattrs; /* stream.c bounds how many */
	size_t cap_xattrs;
	struct ext4_region *regions;
	size_t cap_regions;
	bool eof;
};

static la_ssize_t reader_read(struct archive *a, void *data, const void **out)
{
	struct archive_source *as = data;
	ssize_t n = readahead_next(as->ra, out);

	if (n < 0) {
		archive_set_error(a, (int)-n, "read error");
		return -1;
	}
	as->s.done += (uint64_t)n;
	return n;
}

static int set_error(struct archive_source *as, const char *detail)
{
	snprintf(as->s.error, sizeof(as->s.error), "%s", detail ? detail : "read error");
	return -EIO;
}

static int tar_next(struct source *s, struct source_entry **ret)
{
	struct archive_source *as = (struct archive_source *)s;
	struct archive_entry *ae;
	const char *name;
	const void *value;
	size_t size, n = 0;
	int h, count;

	h = archive_read_next_header(as->a, &ae);
	if (h == ARCHIVE_EOF) {
		as->eof = true;
		return 0;
	}
	s->warned = false;
	if (h == ARCHIVE_WARN) {
		log_warning("%s: %s", s->path, archive_error_string(as->a));
		s->warned = true;
	} else if (h != ARCHIVE_OK)
		return set_error(as, archive_error_string(as->a));

	as->e = (struct source_entry){
		.path = archive_entry_pathname(ae),
		.mode = (uint32_t)archive_entry_mode(ae),
		.mtime = archive_entry_mtime(ae),
		.size_known = archive_entry_size_is_set(ae) != 0,
		.size = (uint64_t)archive_entry_size(ae),
		.symlink = archive_entry_symlink(ae),
		.hardlink = archive_entry_hardlink(ae),
		.rdev_major = (uint64_t)archive_entry_rdevmajor(ae),
		.rdev_minor = (uint64_t)archive_entry_rdevminor(ae),
	};
	as->e.uid = archive_entry_uid(ae);
	as->e.gid = archive_entry_gid(ae);

	/* bsdtar stores each xattr twice (LIBARCHIVE. and SCHILY.): the last
	 * one of a name wins. */
	archive_entry_xattr_reset(ae);
	while (archive_entry_xattr_next(ae, &name, &value, &size) == ARCHIVE_OK) {
		size_t i;
		for (i = 0; i < n; i++)
			if (streq(as->xattrs[i].name, name))
				break;
		if (i == n)
			ARRAY_PUSH(as->xattrs, n, as->cap_xattrs,
				   ((struct ext4_xattr){ name, value, size }));
		else
			as->xattrs[i] = (struct ext4_xattr){ name, value, size };
	}
	as->e.xattrs = as->xattrs;
	as->e.n_xattrs = n;

	count = archive_entry_sparse_reset(ae);
	if (count > 0) {
		if ((size_t)count > as->cap_regions) {
			as->cap_regions = (size_t)count;
			as->regions = xrealloc(as->regions, as->cap_regions * sizeof(*as->regions));
		}
		for (int i = 0; i < count; i++) {
			la_int64_t off, len;
			archive_entry_sparse_next(ae, &off, &len);
			if (off < 0 || len < 0) {
				snprintf(s->error, sizeof(s->error),
					 "entry '%s': its sparse map has negative values",
					 as->e.path);
				return -EINVAL;
			}
			as->regions[i] = (struct ext4_region){ (uint64_t)off, (uint64_t)len };
		}
		as->e.regions = as->regions;
		as->e.n_regions = (size_t)count;
	}
	s->expanded = (uint64_t)archive_filter_bytes(as->a, 0);
	*ret = &as->e;
	return 1;
}

static int tar_read(struct source *s, const void **buf, size_t *len, uint64_t *offset)
{
	struct archive_source *as = (struct archive_source *)s;
	la_int64_t off;
	int r = archive_read_data_block(as->a, buf, len, &off);

	if (r == ARCHIVE_EOF)
		return 0;
	if (r == ARCHIVE_WARN && !s->warned) {
		log_warning("%s: entry '%s': %s", s->path, as->e.path, archive_error_string(as->a));
		s->warned = true;
	} else if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
		return set_error(as, archive_error_string(as->a));
	if (off < 0)
		return set_error(as, "negative data offset");
	*offset = (uint64_t)off;
	return 1;
}

static int tar_finish(struct source *s)
{
	struct archive_source *as = (struct archive_source *)s;
	uint8_t digest[SHA256_LEN];

	/* Hash what libarchive did not need to read (padding at the end). */
	for (;;) {
		const void *buf;
		la_ssize_t n = reader_read(as->a, as, &buf);
		if (n < 0)
			return set_error(as, archive_error_string(as->a));
		if (n == 0)
			break;
	}
	sha256_final(as->sha, digest);
	as->sha = NULL;
	hex_encode(digest, SHA256_LEN, s->sha256);
	return 0;
}

static void tar_free(struct source *s)
{
	struct archive_source *as = (struct archive_source *)s;

	archive_read_free(as->a);
	readahead_free(as->ra);
	sha256_free(as->sha);
	free(as->regions);
	free(as->xattrs);
	if (as->fd >= 0)
		close(as->fd);
}

static const struct source_ops tar_ops = {
	.next = tar_next,
	.read = tar_read,
	.finish = tar_finish,
	.free = tar_free,
};

int source_archive_open(const char *path, int fd, struct source **ret)
{
	struct archive_source *as = xcalloc(1, sizeof(*as));

	as->s.ops = &tar_ops;
	as->s.path = xstrdup(path);
	as->s.kind = "archive";
	as->fd = fd;
	as->sha = sha256_new();
	*ret = &as->s;
	if (readahead_start(fd, READ_CHUNK, as->sha, &as->ra) < 0)
		return log_error("%s: cannot start reading it", path);
	as->a = archive_read_new();
	archive_read_support_filter_all(as->a);
	archive_read_support_format_tar(as->a);
	archive_read_support_format_gnutar(as->a);
	archive_read_support_format_cpio(as->a);
	if (archive_read_open(as->a, as, NULL, reader_read, NULL) != ARCHIVE_OK)
		return log_error("%s: not a rootfs archive: %s", path, archive_error_string(as->a));
	return 0;
}
