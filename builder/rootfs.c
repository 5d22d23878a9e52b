/* SPDX-License-Identifier: MIT */
#include "rootfs.h"
#include "board.h"
#include "log.h"

#include <archive.h>
#include <stdarg.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>

#define READ_CHUNK (1 << 20)
#define MAX_SYMLINK 4095
#define MAX_XATTRS 64
/* No rootfs expands to this much; an archive that does is a bomb. */
#define MAX_EXPANDED (64 * GiB)

int rootfs_normalize_path(const char *in, char **out, const char **why)
{
	_cleanup_free_ char *buf = NULL;
	size_t n = 0, depth = 0;
	const char *p = in;

	if (!in) {
		*why = "the entry has no name";
		return -EINVAL;
	}
	if (in[0] == '/') {
		*why = "absolute path";
		return -EINVAL;
	}
	buf = xmalloc(strlen(in) + 1);
	while (*p) {
		size_t len = strcspn(p, "/");
		if (len == 0 || (len == 1 && p[0] == '.')) {
			/* "./x", "x//y" and a trailing "/" are harmless; skip */
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			*why = "path contains '..'";
			return -EINVAL;
		} else if (len > 255) {
			*why = "a name in the path is longer than 255 bytes";
			return -EINVAL;
		} else {
			if (++depth > ROOTFS_MAX_DEPTH) {
				*why = "path is deeper than 64 directories";
				return -EINVAL;
			}
			if (n)
				buf[n++] = '/';
			memcpy(buf + n, p, len);
			n += len;
		}
		p += len;
		if (*p == '/')
			p++;
	}
	buf[n] = 0;
	*out = TAKE_PTR(buf);
	return 0;
}

/* Reads the archive file while hashing it and counting bytes for progress. */
struct reader {
	int fd;
	uint8_t *buf;
	struct sha256_ctx *sha;
	uint64_t done;
};

static la_ssize_t reader_read(struct archive *a, void *data, const void **out)
{
	struct reader *r = data;
	ssize_t n;

	do
		n = read(r->fd, r->buf, READ_CHUNK);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		archive_set_error(a, errno, "read error");
		return -1;
	}
	sha256_update(r->sha, r->buf, (size_t)n);
	r->done += (uint64_t)n;
	*out = r->buf;
	return n;
}

struct stream {
	const char *archive;
	struct rootfs_sink *sink;
	struct rootfs_stats *stats;
	struct archive *a;
	struct reader rd;
	uint64_t total;
	char *boot_source, *boot_mount; /* relative, "" for / */
};

static int entry_error(struct stream *s, const char *path, const char *fmt, ...) _printf_(3, 4);
static int entry_error(struct stream *s, const char *path, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	return log_error("%s: entry '%s': %s", s->archive, path, msg ? msg : "error");
}

static int write_error(struct stream *s, const char *path, int r)
{
	if (r == -ENOSPC)
		return log_error_errno(r, "%s: entry '%s': the root filesystem is full (%s); the "
					  "content does not fit in %llu MiB: set root-size for the "
					  "node or use a smaller base",
				       s->archive, path, ext4_last_error(s->sink->ext4),
				       (unsigned long long)(ext4_capacity(s->sink->ext4) / MiB));
	return log_error_errno(r, "%s: entry '%s': %s", s->archive, path,
			       ext4_last_error(s->sink->ext4));
}

/* "a/b" is below (or at) "a"; everything is below "". */
static const char *below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 0)
		return path;
	if (strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == 0))
		return path[n] ? path + n + 1 : path + n;
	return NULL;
}

static bool boot_listed(struct stream *s, const char *rel)
{
	const struct cstrlist *files = &s->sink->board->boot.files;

	for (size_t i = 0; i < files->n; i++)
		if (fnmatch(files->v[i], rel, FNM_PATHNAME) == 0)
			return true;
	return false;
}

/* Makes sure every parent of PATH is a directory the writer created,
 * creating missing ones (root:root 0755). A parent that is a symlink or a
 * file is refused: the writer never resolves a path through a link. */
static int ensure_parents(struct stream *s, const char *path)
{
	_cleanup_free_ char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	uint32_t mode;
	int r;

	if (!slash)
		return 0;
	*slash = 0;
	r = ext4_lookup(s->sink->ext4, dir, &mode);
	if (r == 0) {
		if (S_ISDIR(mode))
			return 0;
		return entry_error(s, path, "its parent '%s' is a %s; refusing to write through it",
				   dir, S_ISLNK(mode) ? "symlink" : "non-directory");
	}
	r = ensure_parents(s, dir);
	if (r < 0)
		return r;
	{
		struct ext4_meta m = { .mode = S_IFDIR | 0755, .mtime = s->sink->epoch };
		r = ext4_mkdir(s->sink->ext4, dir, &m);
	}
	return r < 0 ? write_error(s, dir, r) : 0;
}

struct xattrs {
	struct ext4_xattr v[MAX_XATTRS];
	size_t n;
};

static int read_xattrs(struct stream *s, struct archive_entry *e, const char *path,
		       struct xattrs *x)
{
	const char *name;
	const void *value;
	size_t size;

	x->n = 0;
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
		size_t i;
		/* bsdtar stores each xattr twice (LIBARCHIVE. and SCHILY.); the
		 * last one wins. */
		for (i = 0; i < x->n; i++)
			if (streq(x->v[i].name, name))
				break;
		if (i == MAX_XATTRS)
			return entry_error(s, path, "more than %d extended attributes", MAX_XATTRS);
		if (size > 4000)
			return entry_error(s, path, "extended attribute %s is larger than 4000 bytes",
					   name);
		x->v[i] = (struct ext4_xattr){ name, value, size };
		if (i == x->n)
			x->n++;
	}
	return 0;
}

static int copy_data(struct stream *s, const char *path, struct archive_entry *e,
		     uint64_t size, struct fat_file *boot, bool to_root)
{
	uint64_t pos = 0;
	static const uint8_t zeros[65536];

	for (;;) {
		const void *buf;
		size_t len;
		la_int64_t off;
		int r = archive_read_data_block(s->a, &buf, &len, &off);

		if (r == ARCHIVE_EOF)
			break;
		if (r == ARCHIVE_WARN)
			log_warning("%s: entry '%s': %s", s->archive, path,
				    archive_error_string(s->a));
		else if (r != ARCHIVE_OK)
			return entry_error(s, path, "%s", archive_error_string(s->a));
		if (s->sink->interrupted && *s->sink->interrupted)
			return -EINTR;
		if (off < 0 || (uint64_t)off < pos || (uint64_t)off + len > size)
			return entry_error(s, path, "data at offset %lld is outside the entry's size %llu",
					   (long long)off, (unsigned long long)size);
		if (boot) {
			/* FAT has no holes: fill the gap with zeros. */
			while (pos < (uint64_t)off) {
				size_t n = (size_t)MIN((uint64_t)sizeof(zeros), (uint64_t)off - pos);
				r = fat_file_write(boot, zeros, n);
				if (r < 0)
					return log_error_errno(r, "%s: entry '%s': writing it to the boot partition: %m",
							       s->archive, path);
				pos += n;
			}
			r = fat_file_write(boot, buf, len);
			if (r < 0)
				return log_error_errno(r, "%s: entry '%s': writing it to the boot partition: %m",
						       s->archive, path);
		}
		if (to_root && len) {
			r = ext4_file_write(s->sink->ext4, (uint64_t)off, buf, len);
			if (r < 0)
				return write_error(s, path, r);
		}
		pos = (uint64_t)off + len;
		s->stats->bytes += len;
		if (s->sink->progress)
			progress_update(s->sink->progress, s->rd.done, s->total, s->stats->entries,
					ext4_used_bytes(s->sink->ext4));
	}
	if (boot) {
		while (pos < size) {
			size_t n = (size_t)MIN((uint64_t)sizeof(zeros), size - pos);
			int r = fat_file_write(boot, zeros, n);
			if (r < 0)
				return log_error_errno(r, "%s: entry '%s': writing it to the boot partition: %m",
						       s->archive, path);
			pos += n;
		}
	}
	return 0;
}

static int regular_file(struct stream *s, const char *path, struct archive_entry *e,
			struct ext4_meta *m, bool to_root, const char *boot_rel)
{
	uint64_t size = (uint64_t)archive_entry_size(e);
	struct ext4_region regions[256];
	_cleanup_free_ struct ext4_region *many = NULL;
	struct ext4_region *reg = regions;
	struct fat_file *boot = NULL;
	int count, r;
	uint64_t end = 0;

	if (archive_entry_size_is_set(e) == 0)
		return entry_error(s, path, "the archive does not give the file's size");
	if (size > ext4_capacity(s->sink->ext4))
		return entry_error(s, path, "its size (%llu bytes) is larger than the whole root "
					    "filesystem can be",
				   (unsigned long long)size);

	count = archive_entry_sparse_reset(e);
	if (count > (int)ELEMENTSOF(regions))
		reg = many = xcalloc((size_t)count, sizeof(*reg));
	for (int i = 0; i < count; i++) {
		la_int64_t off, len;
		archive_entry_sparse_next(e, &off, &len);
		if (off < 0 || len < 0 || (uint64_t)off < end || (uint64_t)(off + len) > size)
			return entry_error(s, path, "its sparse map is inconsistent with its size");
		reg[i] = (struct ext4_region){ (uint64_t)off, (uint64_t)len };
		end = (uint64_t)(off + len);
	}

	if (boot_rel) {
		r = fat_file_open(s->sink->fat, boot_rel, size, (time_t)m->mtime, &boot);
		if (r == -ENOSPC)
			return log_error_errno(r, "%s: entry '%s': the boot partition is full (%llu MiB, "
						  "set by the board profile %s)",
					       s->archive, path,
					       (unsigned long long)(s->sink->board->boot.size.v / MiB),
					       s->sink->board->path);
		if (r < 0)
			return log_error_errno(r, "%s: entry '%s': cannot add it to the boot partition: %m",
					       s->archive, path);
		s->stats->boot_files++;
	}
	if (to_root) {
		r = ext4_file_begin(s->sink->ext4, path, m, size, count ? reg : NULL, (size_t)count);
		if (r < 0)
			return write_error(s, path, r);
	}
	r = copy_data(s, path, e, size, boot, to_root);
	if (boot) {
		int r2 = fat_file_close(boot);
		if (r >= 0 && r2 < 0)
			r = log_error_errno(r2, "%s: entry '%s': boot partition copy is incomplete: %m",
					    s->archive, path);
	}
	if (to_root)
		ext4_file_end(s->sink->ext4);
	s->stats->files++;
	return r;
}

static int one_entry(struct stream *s, struct archive_entry *e)
{
	_cleanup_free_ char *path = NULL, *target = NULL;
	const char *why, *name = archive_entry_pathname(e);
	const char *hl = archive_entry_hardlink(e);
	unsigned type = archive_entry_filetype(e);
	struct xattrs x;
	struct ext4_meta m = { 0 };
	const char *rel_mount, *rel_source, *boot_rel = NULL;
	bool to_root = true;
	uint32_t existing;
	int r;

	if (rootfs_normalize_path(name, &path, &why) < 0)
		return log_error("%s: entry '%s': %s", s->archive, name ? name : "?", why);
	s->stats->entries++;

	m.mode = (uint32_t)archive_entry_mode(e);
	m.uid = (uint32_t)archive_entry_uid(e);
	m.gid = (uint32_t)archive_entry_gid(e);
	m.mtime = archive_entry_mtime(e);
	if (archive_entry_uid(e) < 0 || archive_entry_uid(e) > UINT32_MAX - 1 ||
	    archive_entry_gid(e) < 0 || archive_entry_gid(e) > UINT32_MAX - 1)
		return entry_error(s, path, "owner is out of range");
	if (m.mtime > s->sink->epoch)
		m.mtime = s->sink->epoch;
	if (m.mtime < 0)
		m.mtime = 0;
	r = read_xattrs(s, e, path, &x);
	if (r < 0)
		return r;
	m.xattrs = x.v;
	m.n_xattrs = x.n;

	if (*path == 0) {
		/* The archive's own "./": the root directory's owner and mode. */
		if (type != AE_IFDIR)
			return entry_error(s, ".", "the root entry is not a directory");
		r = ext4_mkdir(s->sink->ext4, "", &m);
		return r < 0 ? write_error(s, "/", r) : 0;
	}

	if (pathmap_get(s->sink->replaced_paths, path, NULL) && type != AE_IFDIR) {
		s->stats->replaced++;
		return 0;
	}

	/* Below the boot partition's mount point: only listed files, and only
	 * in the boot partition. Below the boot source (x86: /boot): listed
	 * files go to both. */
	rel_mount = below(path, s->boot_mount);
	rel_source = below(path, s->boot_source);
	if (rel_mount && *rel_mount) {
		to_root = false;
		if (type == AE_IFREG && !hl && rel_source && boot_listed(s, rel_source)) {
			boot_rel = rel_source;
		} else {
			if (type != AE_IFDIR)
				s->stats->left_out++;
			return 0;
		}
	} else if (rel_source && *rel_source && type == AE_IFREG && !hl &&
		   boot_listed(s, rel_source))
		boot_rel = rel_source;

	if (to_root) {
		r = ensure_parents(s, path);
		if (r < 0)
			return r;
		if (ext4_lookup(s->sink->ext4, path, &existing) == 0 &&
		    !(S_ISDIR(existing) && type == AE_IFDIR))
			return entry_error(s, path, "the archive holds this path twice");
	}

	if (hl) {
		if (rootfs_normalize_path(hl, &target, &why) < 0)
			return entry_error(s, path, "hardlink target '%s': %s", hl, why);
		if (streq(target, path))
			return entry_error(s, path, "hardlink to itself");
		if (ext4_lookup(s->sink->ext4, target, &existing) < 0)
			return entry_error(s, path, "hardlink to '%s', which is not earlier in the "
						    "archive",
					   target);
		if (!S_ISREG(existing))
			return entry_error(s, path, "hardlink to '%s', which is not a regular file",
					   target);
		if (!to_root)
			return 0;
		r = ext4_hardlink(s->sink->ext4, path, target);
		if (r < 0)
			return write_error(s, path, r);
		s->stats->links++;
		return 0;
	}

	switch (type) {
	case AE_IFDIR:
		r = ext4_mkdir(s->sink->ext4, path, &m);
		s->stats->dirs++;
		break;
	case AE_IFREG:
		return regular_file(s, path, e, &m, to_root, boot_rel);
	case AE_IFLNK: {
		const char *t = archive_entry_symlink(e);
		if (!t || !*t)
			return entry_error(s, path, "symlink without a target");
		if (strlen(t) > MAX_SYMLINK)
			return entry_error(s, path, "symlink target longer than %d bytes",
					   MAX_SYMLINK);
		r = ext4_symlink(s->sink->ext4, path, t, &m);
		break;
	}
	case AE_IFCHR:
	case AE_IFBLK:
		if (!below(path, "dev"))
			return entry_error(s, path, "device node outside /dev; a rootfs has no "
						    "reason to carry one");
		m.rdev_major = (uint32_t)archive_entry_rdevmajor(e);
		m.rdev_minor = (uint32_t)archive_entry_rdevminor(e);
		r = ext4_mknod(s->sink->ext4, path, &m);
		break;
	case AE_IFIFO:
	case AE_IFSOCK:
		if (!below(path, "dev") && !below(path, "run"))
			return entry_error(s, path, "%s outside /dev and /run",
					   type == AE_IFIFO ? "fifo" : "socket");
		r = ext4_mknod(s->sink->ext4, path, &m);
		break;
	default:
		return entry_error(s, path, "unsupported entry type 0%o", type);
	}
	return r < 0 ? write_error(s, path, r) : 0;
}

static char *relative(const char *abs) { return xstrdup(abs[0] == '/' ? abs + 1 : abs); }

int rootfs_stream(const char *archive, struct rootfs_sink *sink, struct rootfs_stats *stats)
{
	struct stream s = { .archive = archive, .sink = sink, .stats = stats };
	struct archive_entry *e;
	struct stat st;
	uint8_t digest[SHA256_LEN];
	int r = 0;

	*stats = (struct rootfs_stats){ 0 };
	s.rd.fd = open(archive, O_RDONLY | O_CLOEXEC);
	if (s.rd.fd < 0)
		return log_error_errno(errno, "Cannot open the base rootfs %s: %m", archive);
	if (fstat(s.rd.fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(s.rd.fd);
		return log_error("Cannot read the base rootfs %s: not a regular file", archive);
	}
	s.total = (uint64_t)st.st_size;
	s.rd.buf = xmalloc(READ_CHUNK);
	s.rd.sha = sha256_new();
	s.boot_source = relative(sink->board->boot.source.v);
	s.boot_mount = relative(sink->board->boot.mount.v);

	s.a = archive_read_new();
	archive_read_support_filter_all(s.a);
	archive_read_support_format_tar(s.a);
	archive_read_support_format_gnutar(s.a);
	archive_read_support_format_cpio(s.a);
	if (archive_read_open(s.a, &s.rd, NULL, reader_read, NULL) != ARCHIVE_OK) {
		r = log_error("%s: not a rootfs archive: %s", archive, archive_error_string(s.a));
		goto out;
	}
	for (;;) {
		int h = archive_read_next_header(s.a, &e);
		if (h == ARCHIVE_EOF)
			break;
		if (h == ARCHIVE_WARN)
			log_warning("%s: %s", archive, archive_error_string(s.a));
		else if (h != ARCHIVE_OK) {
			const char *msg = archive_error_string(s.a);
			if (stats->entries == 0)
				r = log_error("%s: not a rootfs archive: %s", archive,
					      msg ? msg : "unreadable");
			else
				r = log_error("%s: the archive is damaged or truncated after %llu "
					      "entries: %s",
					      archive, (unsigned long long)stats->entries,
					      msg ? msg : "read error");
			goto out;
		}
		if (sink->interrupted && *sink->interrupted) {
			r = -EINTR;
			goto out;
		}
		if ((uint64_t)archive_filter_bytes(s.a, 0) > MAX_EXPANDED) {
			r = log_error("%s: the archive expands to more than 64 GiB; no rootfs is "
				      "that large, refusing it",
				      archive);
			goto out;
		}
		r = one_entry(&s, e);
		if (r < 0)
			goto out;
		if (sink->progress)
			progress_update(sink->progress, s.rd.done, s.total, stats->entries,
					ext4_used_bytes(sink->ext4));
	}
	if (stats->entries == 0) {
		r = log_error("%s: the archive holds no entries", archive);
		goto out;
	}
	/* Hash what libarchive did not need to read (padding at the end). */
	for (;;) {
		const void *buf;
		la_ssize_t n = reader_read(s.a, &s.rd, &buf);
		if (n <= 0)
			break;
	}
	stats->archive_size = s.rd.done;
	sha256_final(s.rd.sha, digest);
	s.rd.sha = NULL;
	hex_encode(digest, SHA256_LEN, stats->sha256);
out:
	if (sink->progress)
		progress_done(sink->progress);
	archive_read_free(s.a);
	sha256_free(s.rd.sha);
	free(s.rd.buf);
	free(s.boot_source);
	free(s.boot_mount);
	close(s.rd.fd);
	return r;
}
