/* SPDX-License-Identifier: MIT */
#include "stream-internal.h"
#include "arch.h"
#include "personalize.h"
#include "board.h"
#include "log.h"

#include "source.h"

#include <fnmatch.h>
#include <stdarg.h>
#include <sys/stat.h>

#define MAX_SYMLINK 4095
/* No rootfs expands to this much, has this many entries, or this many in
 * one directory (Debian's largest, /var/lib/dpkg/info of a full desktop,
 * holds some 20,000); an archive that does is a bomb. */
#define MAX_EXPANDED	(64 * GiB)
#define MAX_ENTRIES	2000000
#define MAX_DIR_ENTRIES 250000
/* What ext4 and Linux hold: xattrs per entry (bsdtar and GNU tar archive a
 * handful), a name (XATTR_NAME_MAX), a value in one block (our limit),
 * device numbers (12 and 20 bits), owners ((uid_t)-1 means none). */
#define MAX_XATTRS	64
#define MAX_XATTR_NAME	255
#define MAX_XATTR_VALUE 4000
#define MAX_DEV_MAJOR	4095
#define MAX_DEV_MINOR	1048575
#define MAX_ID		(UINT32_MAX - 1)

int stream_normalize_path(const char *in, char **out, const char **why)
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
			if (++depth > STREAM_MAX_DEPTH) {
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

int stream_entry_error(struct stream *s, const char *path, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	return log_error("%s: entry '%s': %s", s->archive, path, msg ? msg : "error");
}

int stream_write_error(struct stream *s, const char *path, int r)
{
	uint32_t free_inodes, inodes = ext4_inodes(s->sink->ext4, &free_inodes);
	int host = ext4_host_error(s->sink->ext4);

	/* The disk the image is on is full, not the filesystem in it. */
	if (host < 0 && s->sink->out)
		return outputs_write_failed(s->sink->out, OUT_IMG, host);
	/* Out of inodes, not of space: a fixed root holds one per 8 KiB. */
	if (r == -ENOSPC && free_inodes == 0)
		return log_error_errno(r,
				       "%s: entry '%s': the root filesystem has no inode left "
				       "(%s): a root of %llu MiB has %u (one per 8 KiB) and the base "
				       "has more entries: set a larger root-size for the node",
				       s->archive, path, ext4_last_error(s->sink->ext4),
				       (unsigned long long)(ext4_capacity(s->sink->ext4) / MiB),
				       inodes);
	if (r == -ENOSPC)
		return log_error_errno(r,
				       "%s: entry '%s': the root filesystem is full (%s); the "
				       "content does not fit in %llu MiB: set root-size for the "
				       "node or use a smaller base",
				       s->archive, path, ext4_last_error(s->sink->ext4),
				       (unsigned long long)(ext4_capacity(s->sink->ext4) / MiB));
	return log_error_errno(r, "%s: entry '%s': %s", s->archive, path,
			       ext4_last_error(s->sink->ext4));
}

/* "a/b" is below (or at) "a"; everything is below "". */
const char *stream_below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 0)
		return path;
	if (strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == 0))
		return path[n] ? path + n + 1 : path + n;
	return NULL;
}

/* The board's "copy" entries: a rootfs file also placed, under another
 * name, in the boot partition (systemd-boot's EFI binary). */
static const char *boot_copy(struct stream *s, const char *path)
{
	const struct board *b = s->sink->board;

	for (size_t i = 0; i < b->boot.copy.n; i++)
		if (streq(board_copy_at(b, i)->from.v + 1, path))
			return board_copy_at(b, i)->to.v;
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
	_cleanup_free_ char *dir = NULL;
	uint32_t mode = 0;
	int r = ext4_mkdir_parents(s->sink->ext4, path, s->sink->epoch, &dir, &mode);

	if (r >= 0)
		return 0;
	if (!mode)
		return stream_write_error(s, dir, r);
	/* Named as the entry, which the archive holds, and DIR as its parent
	 * or, further up, its ancestor. */
	return stream_entry_error(s, path, "its %s '%s' is a %s; refusing to write through it",
				  strchr(path + strlen(dir) + 1, '/') ? "ancestor" : "parent", dir,
				  S_ISLNK(mode) ? "symlink" : "non-directory");
}

static struct capture *find_capture(struct stream *s, const char *path)
{
	for (size_t i = 0; i < s->sink->n_captures; i++)
		if (streq(s->sink->captures[i].path, path))
			return &s->sink->captures[i];
	return NULL;
}

/* A path given twice is refused: which of the two the image should hold
 * is not for the writer to guess (a directory may repeat: its last owner
 * and mode win, as in tar's extraction). And no directory holds more
 * entries than any rootfs has. */
static int note_path(struct stream *s, const char *path, unsigned type)
{
	const char *slash = strrchr(path, '/');
	_cleanup_free_ char *dir = slash ? strndup(path, (size_t)(slash - path)) : xstrdup("");
	uint64_t v;

	if (pathmap_get(s->seen, path, &v)) {
		if (v == S_IFDIR && type == S_IFDIR)
			return 0;
		return stream_entry_error(s, path, "the archive holds this path twice");
	}
	pathmap_put(s->seen, path, type);
	if (!*path)
		return 0;
	v = 0;
	pathmap_get(s->dir_entries, dir, &v);
	if (++v > MAX_DIR_ENTRIES)
		return stream_entry_error(s, path,
					  "directory '/%s' has more than %d entries; no rootfs "
					  "has that many, refusing the archive",
					  dir, MAX_DIR_ENTRIES);
	pathmap_put(s->dir_entries, dir, v);
	return 0;
}

/* What ext4 and Linux can hold of an entry's metadata, checked rather than
 * cut to fit. */
static int check_meta(struct stream *s, const char *path, const struct source_entry *e,
		      unsigned type)
{
	if (e->uid < 0 || e->uid > MAX_ID || e->gid < 0 || e->gid > MAX_ID)
		return stream_entry_error(s, path,
					  "owner %lld:%lld is out of range (uids and gids go "
					  "from 0 to %llu)",
					  (long long)e->uid, (long long)e->gid,
					  (unsigned long long)MAX_ID);
	if (e->n_xattrs > MAX_XATTRS)
		return stream_entry_error(s, path, "more than %d extended attributes (%zu)",
					  MAX_XATTRS, e->n_xattrs);
	for (size_t i = 0; i < e->n_xattrs; i++) {
		const char *name = e->xattrs[i].name;
		if (!name || !*name)
			return stream_entry_error(s, path, "an extended attribute without a name");
		if (strlen(name) > MAX_XATTR_NAME)
			return stream_entry_error(s, path,
						  "extended attribute name '%.40s...' is longer than "
						  "%d bytes (%zu)",
						  name, MAX_XATTR_NAME, strlen(name));
		if (e->xattrs[i].size > MAX_XATTR_VALUE)
			return stream_entry_error(s, path,
						  "extended attribute %s is larger than %d bytes",
						  name, MAX_XATTR_VALUE);
	}
	if ((type == S_IFCHR || type == S_IFBLK) &&
	    (e->rdev_major > MAX_DEV_MAJOR || e->rdev_minor > MAX_DEV_MINOR))
		return stream_entry_error(s, path,
					  "device number %llu:%llu is out of range (majors go to "
					  "%d, minors to %d)",
					  (unsigned long long)e->rdev_major,
					  (unsigned long long)e->rdev_minor, MAX_DEV_MAJOR,
					  MAX_DEV_MINOR);
	return 0;
}

/* A hardlink whose target is not in the root: never in the archive, or
 * an entry the build did not take into the root as it is. */
static int hardlink_missing(struct stream *s, const char *path, const char *target)
{
	const struct capture *c = find_capture(s, target);
	const char *why = "is not earlier in the archive";

	if (pathmap_get(s->seen, target, NULL)) {
		if ((c && !c->keep) || pathmap_get(s->sink->replaced_paths, target, NULL))
			why = "the build replaces with a file of its own, so a second name "
			      "cannot share it";
		else
			why = "the build leaves out of the root filesystem (an SSH host key, or "
			      "a file of the boot partition), so a second name cannot share it";
	}
	return stream_entry_error(s, path, "hardlink to '%s', which %s", target, why);
}

/* The entry's owner, mode, time (clamped to the build's epoch) and
 * extended attributes, as the writers take them. */
static struct ext4_meta entry_meta(const struct stream *s, const struct source_entry *e)
{
	struct ext4_meta m = { 0 };

	m.mode = e->mode;
	m.uid = (uint32_t)e->uid;
	m.gid = (uint32_t)e->gid;
	m.mtime = e->mtime;
	if (m.mtime > s->sink->epoch)
		m.mtime = s->sink->epoch;
	if (m.mtime < 0)
		m.mtime = 0;
	m.xattrs = e->xattrs;
	m.n_xattrs = e->n_xattrs;
	return m;
}

/* What the build takes aside rather than streams into the root: the base's
 * SSH host keys (left out), the files it captures, the paths it writes
 * itself. *DONE tells whether PATH was one of them. */
static int set_aside(struct stream *s, const char *path, const struct source_entry *e,
		     struct ext4_meta *m, bool *done)
{
	unsigned type = e->mode & S_IFMT;
	struct capture *c;
	int r;

	*done = true;
	/* No SSH host key of the base goes into an image (SECURITY.md): each
	 * node makes its own at first boot. */
	if (startswith(path, "etc/ssh/ssh_host_") && !strchr(path + 8, '/')) {
		s->stats->host_keys++;
		return 0;
	}
	c = find_capture(s, path);
	if (c) {
		if (type != S_IFREG || e->hardlink)
			return stream_entry_error(s, path, "expected a regular file here");
		r = ensure_parents(s, path);
		if (r >= 0)
			r = stream_capture_file(s, path, e, m, c);
		if (r >= 0 && streq(path, "var/lib/dpkg/status"))
			r = stream_check_dpkg_status(s, path, c);
		return r;
	}
	if (pathmap_get(s->sink->replaced_paths, path, NULL) && type != S_IFDIR) {
		s->stats->replaced++;
		return 0;
	}
	*done = false;
	return 0;
}

/* Where the entry goes: the root (*TO_ROOT) and the boot partition (as
 * *BOOT_REL). Below the boot partition's mount point: only listed files,
 * and only in the boot partition. Below the boot source (x86: /boot):
 * listed files go to both. False: the entry is left out. */
static bool route(struct stream *s, const char *path, const struct source_entry *e, bool *to_root,
		  const char **boot_rel)
{
	unsigned type = e->mode & S_IFMT;
	bool file = type == S_IFREG && !e->hardlink;
	const char *rel_mount = stream_below(path, s->boot_mount);
	const char *rel_source = stream_below(path, s->boot_source);

	*to_root = true;
	*boot_rel = NULL;
	if (rel_mount && *rel_mount) {
		*to_root = false;
		if (file && rel_source && boot_listed(s, rel_source)) {
			*boot_rel = rel_source;
		} else {
			if (type != S_IFDIR)
				s->stats->left_out++;
			return false;
		}
	} else if (rel_source && *rel_source && file && boot_listed(s, rel_source))
		*boot_rel = rel_source;
	else if (file)
		*boot_rel = boot_copy(s, path);
	return true;
}

/* A second name of a regular file earlier in the archive. */
static int hardlink_entry(struct stream *s, const char *path, const struct source_entry *e,
			  struct ext4_meta *m, bool to_root)
{
	_cleanup_free_ char *target = NULL;
	const char *why;
	uint32_t existing;
	int r;

	if (stream_normalize_path(e->hardlink, &target, &why) < 0)
		return stream_entry_error(s, path, "hardlink target '%s': %s", e->hardlink, why);
	if (streq(target, path))
		return stream_entry_error(s, path, "hardlink to itself");
	if (ext4_lookup(s->sink->ext4, target, &existing) < 0)
		return hardlink_missing(s, path, target);
	if (!S_ISREG(existing))
		return stream_entry_error(s, path, "hardlink to '%s', which is not a regular file",
					  target);
	if (!to_root)
		return 0;
	r = ext4_hardlink(s->sink->ext4, path, target);
	if (r < 0)
		return stream_write_error(s, path, r);
	s->stats->links++;
	/* cpio's newc puts a file's data on its last name, and pax
	 * may put it on any: such an entry replaces the content (and
	 * owner and mode), as libarchive's own extraction does. */
	if (e->size_known && e->size > 0)
		return stream_regular_file(s, path, e, m, true, NULL, true);
	return 0;
}

/* The entry itself, by its type, where route() sent it. */
static int make_entry(struct stream *s, const char *path, const struct source_entry *e,
		      struct ext4_meta *m, bool to_root, const char *boot_rel)
{
	unsigned type = e->mode & S_IFMT;
	int r;

	switch (type) {
	case S_IFDIR:
		r = ext4_mkdir(s->sink->ext4, path, m);
		s->stats->dirs++;
		break;
	case S_IFREG:
		return stream_regular_file(s, path, e, m, to_root, boot_rel, false);
	case S_IFLNK: {
		const char *t = e->symlink;
		if (!t || !*t)
			return stream_entry_error(s, path, "symlink without a target");
		if (strlen(t) > MAX_SYMLINK)
			return stream_entry_error(s, path, "symlink target longer than %d bytes",
						  MAX_SYMLINK);
		r = ext4_symlink(s->sink->ext4, path, t, m);
		break;
	}
	case S_IFCHR:
	case S_IFBLK:
		if (!stream_below(path, "dev"))
			return stream_entry_error(s, path,
						  "device node outside /dev; a rootfs has no "
						  "reason to carry one");
		m->rdev_major = (uint32_t)e->rdev_major;
		m->rdev_minor = (uint32_t)e->rdev_minor;
		r = ext4_mknod(s->sink->ext4, path, m);
		break;
	case S_IFIFO:
	case S_IFSOCK:
		if (!stream_below(path, "dev") && !stream_below(path, "run"))
			return stream_entry_error(s, path, "%s outside /dev and /run",
						  type == S_IFIFO ? "fifo" : "socket");
		r = ext4_mknod(s->sink->ext4, path, m);
		break;
	default:
		return stream_entry_error(s, path, "unsupported entry type 0%o", type);
	}
	return r < 0 ? stream_write_error(s, path, r) : 0;
}

static int one_entry(struct stream *s, const struct source_entry *e)
{
	_cleanup_free_ char *path = NULL;
	const char *why, *name = e->path, *boot_rel;
	unsigned type = e->mode & S_IFMT;
	struct ext4_meta m;
	bool to_root, done;
	uint32_t existing;
	int r;

	if (stream_normalize_path(name, &path, &why) < 0)
		return log_error("%s: entry '%s': %s", s->archive, name ? name : "?", why);
	s->stats->entries++;
	r = note_path(s, path, type);
	if (r >= 0)
		r = check_meta(s, path, e, type);
	if (r < 0)
		return r;
	m = entry_meta(s, e);

	if (*path == 0) {
		/* The archive's own "./": the root directory's owner and mode. */
		if (type != S_IFDIR)
			return stream_entry_error(s, ".", "the root entry is not a directory");
		r = ext4_mkdir(s->sink->ext4, "", &m);
		return r < 0 ? stream_write_error(s, "/", r) : 0;
	}
	r = set_aside(s, path, e, &m, &done);
	if (r < 0 || done)
		return r;
	if (!route(s, path, e, &to_root, &boot_rel))
		return 0;
	if (to_root) {
		r = ensure_parents(s, path);
		if (r < 0)
			return r;
		if (ext4_lookup(s->sink->ext4, path, &existing) == 0 &&
		    !(S_ISDIR(existing) && type == S_IFDIR))
			return stream_entry_error(s, path, "the archive holds this path twice");
	}
	if (e->hardlink)
		return hardlink_entry(s, path, e, &m, to_root);
	return make_entry(s, path, e, &m, to_root, boot_rel);
}

static char *relative(const char *abs) { return xstrdup(abs[0] == '/' ? abs + 1 : abs); }

int stream_base(const char *archive, struct stream_sink *sink, struct stream_stats *stats)
{
	struct stream s = { .archive = archive, .sink = sink, .stats = stats };
	struct source_entry *e;
	int r;

	*stats = (struct stream_stats){ 0 };
	r = source_open(archive, &s.src);
	if (r < 0)
		goto out;
	s.boot_source = relative(sink->board->boot.source.v);
	s.boot_mount = relative(sink->board->boot.mount.v);
	s.seen = pathmap_new();
	s.dir_entries = pathmap_new();

	for (;;) {
		r = s.src->ops->next(s.src, &e);
		if (r == 0)
			break;
		if (r < 0) {
			if (stats->entries == 0)
				r = log_error("%s: not a rootfs %s: %s", archive, s.src->kind,
					      source_error(s.src));
			else
				r = log_error("%s: the %s is damaged or truncated after %llu "
					      "entries: %s",
					      archive, s.src->kind,
					      (unsigned long long)stats->entries,
					      source_error(s.src));
			goto out;
		}
		if (sink->interrupted && *sink->interrupted) {
			r = -EINTR;
			goto out;
		}
		if (stats->entries >= MAX_ENTRIES) {
			r = log_error("%s: the %s holds more than %d entries; no rootfs has that "
				      "many, refusing it",
				      archive, s.src->kind, MAX_ENTRIES);
			goto out;
		}
		if (s.src->expanded > MAX_EXPANDED) {
			r = log_error("%s: the %s expands to more than 64 GiB; no rootfs is that "
				      "large, refusing it",
				      archive, s.src->kind);
			goto out;
		}
		r = one_entry(&s, e);
		if (r < 0)
			goto out;
		if (sink->progress)
			progress_update(sink->progress, s.src->done, s.src->total, stats->entries,
					ext4_used_bytes(sink->ext4));
	}
	if (stats->entries == 0) {
		r = log_error("%s: the %s holds no entries", archive, s.src->kind);
		goto out;
	}
	/* A base that shows no architecture is refused too: the image would
	 * boot only by luck, and every Debian-based base shows it. */
	if (!s.arch_from) {
		const struct board *b = sink->board;
		r = log_error("%s: nothing in the base tells its architecture (no dpkg or libc6 in "
			      "/var/lib/dpkg/status, no ELF /usr/bin/dpkg, /usr/lib/systemd/systemd "
			      "or /usr/sbin/sshd), and board %s runs only %s programs: pass a "
			      "Debian-based base for %s",
			      archive, b->name.v, b->arch.v, b->arch.v);
		goto out;
	}
	r = s.src->ops->finish(s.src);
	if (r < 0) {
		r = log_error("%s: %s", archive, source_error(s.src));
		goto out;
	}
	stats->archive_size = s.src->done;
	memcpy(stats->sha256, s.src->sha256, sizeof(stats->sha256));
out:
	if (sink->progress)
		progress_done(sink->progress);
	source_free(s.src);
	free(s.boot_source);
	free(s.boot_mount);
	pathmap_free(s.seen);
	pathmap_free(s.dir_entries);
	free(s.arch_from);
	return r;
}
