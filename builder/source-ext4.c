/* SPDX-License-Identifier: MIT */
/* ext4 reader, see source-ext4.h.
 *
 * The walk keeps a stack of directories, each listed and sorted when it is
 * entered, and the path of the current entry in one buffer. Directories
 * are remembered by inode, so that a second name for one (a loop) is
 * refused; regular files with more than one name are remembered with their
 * first name, which later names link to.
 *
 * A regular file's data is read through the data regions found from its
 * extent map (or block map): unwritten extents and gaps are holes. */
#include "source-ext4.h"
#include "pathmap.h"
#include "util.h"

#include <et/com_err.h>
#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

#define MAX_DEPTH	64 /* path components, as stream.c */
#define MAX_SYMLINK	4095
#define MAX_XATTRS	64
#define MAX_DIR_ENTRIES (1u << 20)
#define MAX_READ	((size_t)GiB)

struct name {
	char *name;
	ext2_ino_t ino;
};

/* A directory being walked: its sorted entries and its path's length. */
struct level {
	struct name *v;
	size_t n, i, len;
};

struct ext4r {
	ext2_filsys fs;
	struct level stack[MAX_DEPTH + 1];
	size_t depth;
	bool started;
	char path[MAX_DEPTH * 256 + 2];
	char *prune;
	struct pathmap *seen; /* "d<ino>": directories; "f<ino>": files */
	char **links;	      /* first names of files with more than one */
	size_t n_links, cap_links;

	/* The current entry and its data. */
	struct ext4r_entry e;
	struct ext2_inode_large inode;
	ext2_ino_t ino;
	char *target;
	struct ext2_xattr_handle *xh;
	struct ext4_xattr xattrs[MAX_XATTRS];
	void *acls[2]; /* ACL values converted to the xattr form, ours */
	struct ext4_region *regions, whole;
	size_t cap_regions, region;
	uint64_t pos;
	ext2_file_t file;
	bool data; /* a regular file, whose data ext4r_read() reads */

	char err[512];
};

static int fail(struct ext4r *er, errcode_t e, const char *fmt, ...) _printf_(3, 4);
static int fail(struct ext4r *er, errcode_t e, const char *fmt, ...)
{
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(er->err, sizeof(er->err), fmt, ap);
	va_end(ap);
	n = strlen(er->err);
	if (e)
		snprintf(er->err + n, sizeof(er->err) - n, ": %s", error_message(e));
	return e > 0 && e < 256 ? -(int)e : -EIO;
}

const char *ext4r_last_error(const struct ext4r *er) { return er->err; }

uint64_t ext4r_used_bytes(const struct ext4r *er)
{
	return (ext2fs_blocks_count(er->fs->super) - ext2fs_free_blocks_count(er->fs->super)) *
	       er->fs->blocksize;
}

bool ext4r_needs_recovery(const struct ext4r *er)
{
	return ext2fs_has_feature_journal_needs_recovery(er->fs->super);
}

void ext4r_prune(struct ext4r *er, const char *path)
{
	free(er->prune);
	er->prune = xstrdup(path);
}

/* --- Directories -------------------------------------------------------- */

static void level_free(struct level *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	*l = (struct level){ 0 };
}

struct listing {
	struct ext4r *er;
	struct level *l;
	size_t cap;
	int r;
};

static int list_one(ext2_ino_t dir, int entry, struct ext2_dir_entry *d, int offset,
		    int blocksize, char *buf, void *data)
{
	struct listing *ls = data;
	size_t len = (size_t)ext2fs_dirent_name_len(d);
	char *name;

	if (entry != DIRENT_OTHER_FILE || (len == 1 && d->name[0] == '.') ||
	    (len == 2 && d->name[0] == '.' && d->name[1] == '.'))
		return 0;
	if (!len || memchr(d->name, '/', len) || memchr(d->name, 0, len)) {
		ls->r = fail(ls->er, 0, "directory '%s' holds an entry with an invalid name",
			     ls->er->path);
		return DIRENT_ABORT;
	}
	if (ls->l->n == MAX_DIR_ENTRIES) {
		ls->r = fail(ls->er, 0, "directory '%s' holds more than %u entries", ls->er->path,
			     MAX_DIR_ENTRIES);
		return DIRENT_ABORT;
	}
	name = xmalloc(len + 1);
	memcpy(name, d->name, len);
	name[len] = 0;
	ARRAY_PUSH(ls->l->v, ls->l->n, ls->cap, ((struct name){ name, d->inode }));
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct name *)a)->name, ((const struct name *)b)->name);
}

/* Lists directory INO (at the current path) for the walk. */
static int push_dir(struct ext4r *er, ext2_ino_t ino)
{
	struct level *l = &er->stack[er->depth];
	struct listing ls = { .er = er, .l = l };
	errcode_t e;

	*l = (struct level){ .len = strlen(er->path) };
	e = ext2fs_dir_iterate2(er->fs, ino, 0, NULL, list_one, &ls);
	if (e || ls.r < 0) {
		level_free(l);
		return ls.r < 0 ? ls.r : fail(er, e, "cannot read directory '%s'", er->path);
	}
	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), by_name);
	er->depth++;
	return 0;
}

/* --- Data regions ------------------------------------------------------- */

static void add_region(struct ext4r *er, size_t *n, uint64_t off, uint64_t len)
{
	if (*n && er->regions[*n - 1].offset + er->regions[*n - 1].length == off)
		er->regions[*n - 1].length += len;
	else
		ARRAY_PUSH(er->regions, *n, er->cap_regions, ((struct ext4_region){ off, len }));
}

/* Data regions from the extent map: unwritten extents and gaps are holes.
 * A hostile tree cannot make this loop: leaves must go forward, and the
 * steps are bounded by the filesystem's size. */
static int map_extents(struct ext4r *er, uint64_t size, size_t *n)
{
	ext2_filsys fs = er->fs;
	ext2_extent_handle_t h;
	struct ext2fs_extent ex;
	uint64_t bs = fs->blocksize, steps = 0, next = 0;
	uint64_t limit = 2 * ext2fs_blocks_count(fs->super) + 64;
	int op = EXT2_EXTENT_ROOT;
	errcode_t e;

	e = ext2fs_extent_open2(fs, er->ino, (struct ext2_inode *)&er->inode, &h);
	if (e)
		return fail(er, e, "entry '%s': cannot read its extent map", er->path);
	for (;; op = EXT2_EXTENT_NEXT) {
		uint64_t off;

		e = ext2fs_extent_get(h, op, &ex);
		if (e == EXT2_ET_EXTENT_NO_NEXT || e == EXT2_ET_EXTENT_NO_DOWN) {
			e = 0;
			break;
		}
		if (!e && ++steps > limit)
			e = EXT2_ET_EXTENT_HEADER_BAD;
		if (e)
			break;
		if (!(ex.e_flags & EXT2_EXTENT_FLAGS_LEAF) || !ex.e_len)
			continue;
		if (ex.e_lblk < next) {
			ext2fs_extent_free(h);
			return fail(er, 0, "entry '%s': its extents overlap", er->path);
		}
		next = ex.e_lblk + (uint64_t)ex.e_len;
		off = ex.e_lblk * bs;
		if (off >= size)
			break;
		if (!(ex.e_flags & EXT2_EXTENT_FLAGS_UNINIT))
			add_region(er, n, off, MIN((uint64_t)ex.e_len * bs, size - off));
	}
	ext2fs_extent_free(h);
	return e ? fail(er, e, "entry '%s': cannot read its extent map", er->path) : 0;
}

struct blockmap {
	struct ext4r *er;
	size_t n;
	uint64_t size;
};

static int map_block(ext2_filsys fs, blk64_t *blk, e2_blkcnt_t cnt, blk64_t ref_blk,
		     int ref_offset, void *data)
{
	struct blockmap *bm = data;
	uint64_t off = (uint64_t)cnt * fs->blocksize;

	if (cnt >= 0 && off < bm->size)
		add_region(bm->er, &bm->n, off, MIN((uint64_t)fs->blocksize, bm->size - off));
	return 0;
}

/* The current file's data regions, so that holes stay holes: from the
 * extent map, or the block map of a file without extents. */
static int map_file(struct ext4r *er, uint64_t size)
{
	struct blockmap bm = { .er = er, .size = size };
	errcode_t e;
	int r;

	if (!size || (er->inode.i_flags & EXT4_INLINE_DATA_FL))
		return 0;
	if (er->inode.i_flags & EXT4_EXTENTS_FL) {
		r = map_extents(er, size, &bm.n);
		if (r < 0)
			return r;
	} else {
		e = ext2fs_block_iterate3(er->fs, er->ino,
					  BLOCK_FLAG_DATA_ONLY | BLOCK_FLAG_READ_ONLY, NULL,
					  map_block, &bm);
		if (e)
			return fail(er, e, "entry '%s': cannot read its block map", er->path);
	}
	/* All hole: one empty region at the end, as tar's sparse maps have
	 * (no regions at all would mean "all data"). */
	if (!bm.n)
		add_region(er, &bm.n, size, 0);
	er->e.regions = er->regions;
	er->e.n_regions = bm.n;
	return 0;
}

/* --- Other metadata ----------------------------------------------------- */

static int read_symlink(struct ext4r *er)
{
	uint64_t size = EXT2_I_SIZE(&er->inode);
	unsigned got = 0;
	errcode_t e;

	if (!size || size > MAX_SYMLINK)
		return fail(er, 0, "entry '%s': symlink target of %llu bytes", er->path,
			    (unsigned long long)size);
	er->target = xmalloc(size + 1);
	if ((er->inode.i_flags & EXT4_INLINE_DATA_FL) ||
	    ext2fs_inode_data_blocks2(er->fs, (struct ext2_inode *)&er->inode)) {
		e = ext2fs_file_open2(er->fs, er->ino, (struct ext2_inode *)&er->inode, 0,
				      &er->file);
		if (!e)
			e = ext2fs_file_read(er->file, er->target, (unsigned)size, &got);
		if (!e && got != size)
			e = EXT2_ET_SHORT_READ;
		if (e)
			return fail(er, e, "entry '%s': cannot read the symlink target", er->path);
	} else if (size < sizeof(er->inode.i_block)) {
		memcpy(er->target, er->inode.i_block, size); /* a fast symlink */
	} else {
		return fail(er, 0, "entry '%s': a fast symlink longer than the inode", er->path);
	}
	er->target[size] = 0;
	if (strlen(er->target) != size)
		return fail(er, 0, "entry '%s': symlink target holds a NUL byte", er->path);
	er->e.symlink = er->target;
	return 0;
}

static int add_xattr(char *name, char *value, size_t len, void *data)
{
	struct ext4r *er = data;

	if (streq(name, "system.data")) /* the inline data, not an attribute */
		return 0;
	if (er->e.n_xattrs == MAX_XATTRS)
		return XATTR_ABORT;
	er->xattrs[er->e.n_xattrs++] = (struct ext4_xattr){ name, value, len };
	return 0;
}

static bool is_acl(const char *name)
{
	return streq(name, "system.posix_acl_access") || streq(name, "system.posix_acl_default");
}

/* An ACL as ext4 stores it (version 1: a 4-byte header, then 4-byte
 * entries for the owner, owning group, mask and others and 8-byte ones,
 * with an id, for named users and groups), checked before libext2fs
 * converts it: its converter trusts the lengths. */
static bool acl_disk_ok(const uint8_t *v, size_t len)
{
	size_t i = 4;

	if (len < 4 || v[0] != 1 || v[1] || v[2] || v[3])
		return false;
	while (i < len) {
		unsigned tag;

		if (len - i < 4)
			return false;
		tag = v[i] | (unsigned)v[i + 1] << 8;
		if (tag == 0x02 || tag == 0x08) /* ACL_USER, ACL_GROUP */
			i += 8;
		else if (tag == 0x01 || tag == 0x04 || tag == 0x10 || tag == 0x20)
			i += 4;
		else
			return false;
	}
	return i == len && len > 4;
}

/* The handle stays open until the next entry: the names and values are
 * its. POSIX ACLs are passed on in the form getxattr(2) and tar give them
 * (version 2), which is what the ext4 writer takes: libext2fs's iteration
 * shows ext4's own form, ext2fs_xattr_get() converts. */
static int read_xattrs(struct ext4r *er)
{
	errcode_t e = ext2fs_xattrs_open(er->fs, er->ino, &er->xh);
	size_t n_acls = 0;

	if (e == EXT2_ET_MISSING_EA_FEATURE)
		return 0;
	if (!e)
		e = ext2fs_xattrs_read(er->xh);
	if (!e)
		e = ext2fs_xattrs_iterate(er->xh, add_xattr, er);
	if (e)
		return fail(er, e, "entry '%s': cannot read its extended attributes", er->path);
	if (er->e.n_xattrs == MAX_XATTRS)
		return fail(er, 0, "entry '%s': more than %d extended attributes", er->path,
			    MAX_XATTRS - 1);
	for (size_t i = 0; i < er->e.n_xattrs; i++) {
		struct ext4_xattr *x = &er->xattrs[i];
		void *v = NULL;
		size_t len = 0;

		if (!is_acl(x->name))
			continue;
		if (n_acls == ELEMENTSOF(er->acls) || !acl_disk_ok(x->value, x->size))
			return fail(er, 0, "entry '%s': its %s is not a valid ext4 ACL", er->path,
				    x->name);
		e = ext2fs_xattr_get(er->xh, x->name, &v, &len);
		if (e)
			return fail(er, e, "entry '%s': cannot read its %s", er->path, x->name);
		er->acls[n_acls++] = v;
		x->value = v;
		x->size = len;
	}
	er->e.xattrs = er->xattrs;
	return 0;
}

static void device_numbers(struct ext4r *er)
{
	const uint32_t *b = er->inode.i_block;

	if (b[0]) { /* old encoding: 8-bit major and minor */
		er->e.rdev_major = (b[0] >> 8) & 0xff;
		er->e.rdev_minor = b[0] & 0xff;
	} else {
		er->e.rdev_major = (b[1] & 0xfff00) >> 8;
		er->e.rdev_minor = (b[1] & 0xff) | ((b[1] >> 12) & 0xfff00);
	}
}

/* --- The walk ----------------------------------------------------------- */

/* Fills the entry for inode INO at the current path: 1, or -errno. */
static int read_entry(struct ext4r *er, ext2_ino_t ino)
{
	struct ext2_inode_large *in = &er->inode;
	ext2_filsys fs = er->fs;
	char key[16];
	uint64_t v;
	errcode_t e;
	int r;

	if (ino < EXT2_ROOT_INO || ino > fs->super->s_inodes_count ||
	    (ino < EXT2_FIRST_INO(fs->super) && ino != EXT2_ROOT_INO))
		return fail(er, 0, "entry '%s': inode number %u is out of range", er->path, ino);
	memset(in, 0, sizeof(*in));
	e = ext2fs_read_inode_full(fs, ino, (struct ext2_inode *)in, sizeof(*in));
	if (e)
		return fail(er, e, "entry '%s': cannot read inode %u", er->path, ino);
	if (!in->i_links_count)
		return fail(er, 0, "entry '%s': inode %u is not in use", er->path, ino);
	if (in->i_flags & EXT4_ENCRYPT_FL)
		return fail(er, 0, "entry '%s': the file is encrypted", er->path);
	er->ino = ino;
	er->e = (struct ext4r_entry){
		.path = ino == EXT2_ROOT_INO ? "." : er->path,
		.mode = in->i_mode,
		.uid = inode_uid(*in),
		.gid = inode_gid(*in),
		.mtime = (int32_t)in->i_mtime,
	};
	/* Times after 2038: two more bits of seconds in the extra field. */
	if (EXT2_INODE_SIZE(fs->super) > EXT2_GOOD_OLD_INODE_SIZE &&
	    in->i_extra_isize >= offsetof(struct ext2_inode_large, i_mtime_extra) + 4 -
					 EXT2_GOOD_OLD_INODE_SIZE)
		er->e.mtime += (int64_t)(in->i_mtime_extra & 3) << 32;

	switch (in->i_mode & S_IFMT) {
	case S_IFDIR:
		snprintf(key, sizeof(key), "d%u", ino);
		if (pathmap_get(er->seen, key, NULL))
			return fail(er, 0, "entry '%s': directory inode %u has a second name (the "
					   "tree loops)",
				    er->path, ino);
		pathmap_put(er->seen, key, 1);
		break;
	case S_IFREG:
		snprintf(key, sizeof(key), "f%u", ino);
		if (in->i_links_count > 1 && pathmap_get(er->seen, key, &v)) {
			er->e.hardlink = er->links[v];
			return 1;
		}
		if (in->i_links_count > 1) {
			pathmap_put(er->seen, key, er->n_links);
			ARRAY_PUSH(er->links, er->n_links, er->cap_links, xstrdup(er->path));
		}
		er->e.size = EXT2_I_SIZE(in);
		r = map_file(er, er->e.size);
		if (r < 0)
			return r;
		er->data = true;
		er->region = 0;
		er->pos = 0;
		break;
	case S_IFLNK:
		r = read_symlink(er);
		if (r < 0)
			return r;
		break;
	case S_IFCHR:
	case S_IFBLK:
		device_numbers(er);
		break;
	case S_IFIFO:
	case S_IFSOCK:
		break;
	default:
		return fail(er, 0, "entry '%s': inode %u has unknown type 0%o", er->path, ino,
			    in->i_mode & S_IFMT);
	}
	r = read_xattrs(er);
	if (r < 0)
		return r;
	if (S_ISDIR(in->i_mode) && !(er->prune && streq(er->path, er->prune))) {
		r = push_dir(er, ino);
		if (r < 0)
			return r;
	}
	return 1;
}

static void end_entry(struct ext4r *er)
{
	if (er->file)
		ext2fs_file_close(er->file);
	er->file = NULL;
	if (er->xh)
		ext2fs_xattrs_close(&er->xh);
	for (size_t i = 0; i < ELEMENTSOF(er->acls); i++) {
		if (er->acls[i])
			ext2fs_free_mem(&er->acls[i]);
	}
	free(er->target);
	er->target = NULL;
	er->data = false;
}

int ext4r_next(struct ext4r *er, const struct ext4r_entry **ret)
{
	int r;

	end_entry(er);
	if (!er->started) {
		er->started = true;
		er->path[0] = 0;
		r = read_entry(er, EXT2_ROOT_INO);
		if (r > 0)
			*ret = &er->e;
		return r;
	}
	while (er->depth) {
		struct level *l = &er->stack[er->depth - 1];
		const struct name *nm;

		if (l->i == l->n) {
			level_free(l);
			er->depth--;
			continue;
		}
		nm = &l->v[l->i++];
		er->path[l->len] = 0;
		/* Level N lists the entries of N components. */
		if (er->depth > MAX_DEPTH)
			return fail(er, 0, "entry '%s/%s': path is deeper than %d directories",
				    er->path, nm->name, MAX_DEPTH);
		if (er->depth == 1 && streq(nm->name, "lost+found"))
			continue;
		snprintf(er->path + l->len, sizeof(er->path) - l->len, "%s%s", l->len ? "/" : "",
			 nm->name);
		r = read_entry(er, nm->ino);
		if (r > 0)
			*ret = &er->e;
		return r;
	}
	return 0;
}

ssize_t ext4r_read(struct ext4r *er, void *buf, size_t len, uint64_t *offset)
{
	const struct ext4_region *g;
	unsigned got = 0;
	errcode_t e;

	if (!er->data)
		return 0;
	er->whole = (struct ext4_region){ 0, er->e.size };
	for (;; er->region++) {
		if (er->region >= (er->e.regions ? er->e.n_regions : 1))
			return 0;
		g = er->e.regions ? &er->e.regions[er->region] : &er->whole;
		er->pos = MAX(er->pos, g->offset);
		if (er->pos < g->offset + g->length)
			break;
	}
	if (!er->file) {
		e = ext2fs_file_open2(er->fs, er->ino, (struct ext2_inode *)&er->inode, 0,
				      &er->file);
		if (e)
			return fail(er, e, "cannot open the file");
	}
	len = (size_t)MIN((uint64_t)MIN(len, MAX_READ), g->offset + g->length - er->pos);
	e = ext2fs_file_llseek(er->file, er->pos, EXT2_SEEK_SET, NULL);
	if (!e)
		e = ext2fs_file_read(er->file, buf, (unsigned)len, &got);
	if (!e && got != len)
		e = EXT2_ET_SHORT_READ;
	if (e)
		return fail(er, e, "cannot read the file's data at offset %llu",
			    (unsigned long long)er->pos);
	*offset = er->pos;
	er->pos += got;
	return (ssize_t)got;
}

/* --- Opening ------------------------------------------------------------ */

int ext4r_open(int fd, uint64_t offset, uint64_t size, struct ext4r **ret)
{
	struct ext4r *er = xcalloc(1, sizeof(*er));
	char opt[64], name[16];
	errcode_t e;

	*ret = er;
	er->seen = pathmap_new();
	initialize_ext2_error_table();
	fd = fcntl(fd, F_DUPFD_CLOEXEC, 3); /* libext2fs closes the one it gets */
	if (fd < 0) {
		int r = -errno;

		snprintf(er->err, sizeof(er->err), "%s", strerror(-r));
		return r;
	}
	snprintf(name, sizeof(name), "%d", fd);
	snprintf(opt, sizeof(opt), "offset=%llu", (unsigned long long)offset);
	e = ext2fs_open2(name, opt, EXT2_FLAG_64BITS, 0, 0, unixfd_io_manager, &er->fs);
	if (e) {
		er->fs = NULL;
		snprintf(er->err, sizeof(er->err), "%s", error_message(e));
		return -EINVAL;
	}
	if (ext2fs_blocks_count(er->fs->super) * er->fs->blocksize > size) {
		snprintf(er->err, sizeof(er->err), "the filesystem is larger than its region");
		return -EFBIG;
	}
	return 0;
}

void ext4r_free(struct ext4r *er)
{
	if (!er)
		return;
	end_entry(er);
	while (er->depth)
		level_free(&er->stack[--er->depth]);
	if (er->fs)
		ext2fs_free(er->fs);
	for (size_t i = 0; i < er->n_links; i++)
		free(er->links[i]);
	free(er->links);
	pathmap_free(er->seen);
	free(er->regions);
	free(er->prune);
	free(er);
}
