/* SPDX-License-Identifier: MIT */
/* ext4 reader, see source-ext4.h: the walk over the tree (what one inode
 * holds is source-ext4-inode.c).
 *
 * The walk keeps a stack of directories, each listed and sorted when it is
 * entered, and the path of the current entry in one buffer. Directories
 * are remembered by inode, so that a second name for one (a loop) is
 * refused; regular files with more than one name are remembered with their
 * first name, which later names link to. */
#include "source-ext4-internal.h"

#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

#define MAX_DIR_ENTRIES (1u << 20)

int ext4r_fail(struct ext4r *er, errcode_t e, const char *fmt, ...)
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

static int list_one(ext2_ino_t dir, int entry, struct ext2_dir_entry *d, int offset, int blocksize,
		    char *buf, void *data)
{
	struct listing *ls = data;
	size_t len = (size_t)ext2fs_dirent_name_len(d);
	char *name;

	if (entry != DIRENT_OTHER_FILE || (len == 1 && d->name[0] == '.') ||
	    (len == 2 && d->name[0] == '.' && d->name[1] == '.'))
		return 0;
	if (!len || memchr(d->name, '/', len) || memchr(d->name, 0, len)) {
		ls->r = ext4r_fail(ls->er, 0, "directory '%s' holds an entry with an invalid name",
				   ls->er->path);
		return DIRENT_ABORT;
	}
	if (ls->l->n == MAX_DIR_ENTRIES) {
		ls->r = ext4r_fail(ls->er, 0, "directory '%s' holds more than %u entries",
				   ls->er->path, MAX_DIR_ENTRIES);
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
		return ls.r < 0 ? ls.r : ext4r_fail(er, e, "cannot read directory '%s'", er->path);
	}
	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), by_name);
	er->depth++;
	return 0;
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
		return ext4r_fail(er, 0, "entry '%s': inode number %u is out of range", er->path,
				  ino);
	memset(in, 0, sizeof(*in));
	e = ext2fs_read_inode_full(fs, ino, (struct ext2_inode *)in, sizeof(*in));
	if (e)
		return ext4r_fail(er, e, "entry '%s': cannot read inode %u", er->path, ino);
	if (!in->i_links_count)
		return ext4r_fail(er, 0, "entry '%s': inode %u is not in use", er->path, ino);
	if (in->i_flags & EXT4_ENCRYPT_FL)
		return ext4r_fail(er, 0, "entry '%s': the file is encrypted", er->path);
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
	    in->i_extra_isize >=
		    offsetof(struct ext2_inode_large, i_mtime_extra) + 4 - EXT2_GOOD_OLD_INODE_SIZE)
		er->e.mtime += (int64_t)(in->i_mtime_extra & 3) << 32;

	switch (in->i_mode & S_IFMT) {
	case S_IFDIR:
		snprintf(key, sizeof(key), "d%u", ino);
		if (pathmap_get(er->seen, key, NULL))
			return ext4r_fail(er, 0,
					  "entry '%s': directory inode %u has a second name (the "
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
		r = ext4r_map_file(er, er->e.size);
		if (r < 0)
			return r;
		er->data = true;
		er->region = 0;
		er->pos = 0;
		break;
	case S_IFLNK:
		r = ext4r_read_symlink(er);
		if (r < 0)
			return r;
		break;
	case S_IFCHR:
	case S_IFBLK:
		ext4r_device_numbers(er);
		break;
	case S_IFIFO:
	case S_IFSOCK:
		break;
	default:
		return ext4r_fail(er, 0, "entry '%s': inode %u has unknown type 0%o", er->path, ino,
				  in->i_mode & S_IFMT);
	}
	r = ext4r_read_xattrs(er);
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
			return ext4r_fail(er, 0,
					  "entry '%s/%s': path is deeper than %d directories",
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
