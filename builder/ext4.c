/* SPDX-License-Identifier: MIT */
/* Creating the filesystem and writing entries into it (see ext4.h); the cut
 * to the content's size is in ext4-shrink.c. */
#include "ext4-internal.h"

#include <stdarg.h>
#include <sys/stat.h>

#define INODE_SIZE  256
#define INODE_RATIO 8192 /* bytes per inode: 16384 inodes per 128 MiB group */

int ext4_fail(struct ext4_writer *w, errcode_t e, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(w->err, sizeof(w->err), fmt, ap);
	va_end(ap);
	n = strlen(w->err);
	if (e)
		snprintf(w->err + n, sizeof(w->err) - n, ": %s", error_message(e));
	/* libext2fs says "full" with its own codes: a plain errno comes from
	 * writing the image file. */
	if (e == ENOSPC || e == EDQUOT)
		w->host_error = -(int)e;
	if (e == EXT2_ET_BLOCK_ALLOC_FAIL || e == EXT2_ET_INODE_ALLOC_FAIL ||
	    e == EXT2_ET_DIR_NO_SPACE)
		return -ENOSPC;
	if (e > 0 && e < 256)
		return -(int)e;
	return -EIO;
}

/* Every failed write of the image, whichever libext2fs call did it (the
 * last ones happen inside ext2fs_close2(), which cannot report them). */
static errcode_t on_write_error(io_channel io, unsigned long block, int count, const void *data,
				size_t size, int actual, errcode_t e)
{
	ext2_filsys fs = io->app_data;
	struct ext4_writer *w = fs ? fs->priv_data : NULL;

	(void)block, (void)count, (void)data, (void)size, (void)actual;
	if (w && !w->write_error)
		w->write_error = e ? e : EXT2_ET_SHORT_WRITE;
	return e;
}

const char *ext4_last_error(const struct ext4_writer *w) { return w->err; }
int ext4_host_error(const struct ext4_writer *w) { return w ? w->host_error : 0; }

static uint64_t pack(ext2_ino_t ino, uint32_t mode) { return (uint64_t)ino << 16 | (mode >> 12); }

int ext4_lookup(struct ext4_writer *w, const char *path, uint32_t *mode)
{
	uint64_t v;

	if (!pathmap_get(w->paths, path, &v))
		return -ENOENT;
	if (mode)
		*mode = (uint32_t)(v & 0xffff) << 12;
	return 0;
}

ext2_ino_t ext4_lookup_ino(struct ext4_writer *w, const char *path)
{
	uint64_t v;

	return pathmap_get(w->paths, path, &v) ? (ext2_ino_t)(v >> 16) : 0;
}

/* Splits PATH into the parent's inode (which must be a directory) and the
 * last component. */
static int parent_of(struct ext4_writer *w, const char *path, ext2_ino_t *parent, const char **name)
{
	const char *slash = strrchr(path, '/');
	uint64_t v;

	if (!slash) {
		*parent = EXT2_ROOT_INO;
		*name = path;
		return 0;
	}
	{
		_cleanup_free_ char *dir = strndup(path, (size_t)(slash - path));
		if (!dir)
			return -ENOMEM;
		if (!pathmap_get(w->paths, dir, &v))
			return ext4_fail(w, 0, "parent directory '%s' does not exist", dir),
			       -ENOENT;
		if (((v & 0xffff) << 12) != S_IFDIR)
			return ext4_fail(w, 0, "parent '%s' is not a directory", dir), -ENOTDIR;
	}
	*parent = (ext2_ino_t)(v >> 16);
	*name = slash + 1;
	return 0;
}

/* As parent_of(), for a new name: PATH must not exist yet. */
static int parent_of_new(struct ext4_writer *w, const char *path, ext2_ino_t *parent,
			 const char **name)
{
	int r = parent_of(w, path, parent, name);

	if (r < 0)
		return r;
	if (ext4_lookup_ino(w, path))
		return ext4_fail(w, 0, "%s already exists", path), -EEXIST;
	return 0;
}

static int file_type(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return EXT2_FT_REG_FILE;
	case S_IFDIR:
		return EXT2_FT_DIR;
	case S_IFLNK:
		return EXT2_FT_SYMLINK;
	case S_IFCHR:
		return EXT2_FT_CHRDEV;
	case S_IFBLK:
		return EXT2_FT_BLKDEV;
	case S_IFIFO:
		return EXT2_FT_FIFO;
	case S_IFSOCK:
		return EXT2_FT_SOCK;
	}
	return EXT2_FT_UNKNOWN;
}

/* Applies owner, mode, times and (for devices) numbers to an inode, and
 * writes it as a full 256-byte inode, so nothing depends on the clock. */
errcode_t ext4_set_meta(struct ext4_writer *w, ext2_ino_t ino, const struct ext4_meta *m,
			bool keep_type)
{
	union {
		struct ext2_inode_large l;
		char buf[INODE_SIZE];
	} u;
	struct ext2_inode_large *in = &u.l;
	uint32_t t = (uint32_t)m->mtime;
	errcode_t e;

	e = ext2fs_read_inode_full(w->fs, ino, (struct ext2_inode *)in, INODE_SIZE);
	if (e)
		return e;
	if (keep_type)
		in->i_mode = (uint16_t)((in->i_mode & S_IFMT) | (m->mode & 07777));
	else
		in->i_mode = (uint16_t)m->mode;
	in->i_uid = (uint16_t)m->uid;
	ext2fs_set_i_uid_high(*in, m->uid >> 16);
	in->i_gid = (uint16_t)m->gid;
	ext2fs_set_i_gid_high(*in, m->gid >> 16);
	in->i_atime = in->i_ctime = in->i_mtime = t;
	in->i_extra_isize = sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
	in->i_crtime = t;
	in->i_atime_extra = in->i_ctime_extra = in->i_mtime_extra = in->i_crtime_extra = 0;
	if (S_ISCHR(m->mode) || S_ISBLK(m->mode)) {
		if (m->rdev_major < 256 && m->rdev_minor < 256) {
			in->i_block[0] = m->rdev_major * 256 + m->rdev_minor;
			in->i_block[1] = 0;
		} else {
			in->i_block[0] = 0;
			in->i_block[1] = (m->rdev_minor & 0xff) | (m->rdev_major << 8) |
					 ((m->rdev_minor & ~0xffu) << 12);
		}
	}
	return ext2fs_write_inode_full(w->fs, ino, (struct ext2_inode *)in, INODE_SIZE);
}

int ext4_set_xattrs(struct ext4_writer *w, ext2_ino_t ino, const char *path,
		    const struct ext4_meta *m)
{
	struct ext2_xattr_handle *h = NULL;
	errcode_t e;

	if (!m->n_xattrs)
		return 0;
	e = ext2fs_xattrs_open(w->fs, ino, &h);
	if (!e)
		e = ext2fs_xattrs_read(h);
	for (size_t i = 0; !e && i < m->n_xattrs; i++) {
		e = ext2fs_xattr_set(h, m->xattrs[i].name, m->xattrs[i].value, m->xattrs[i].size);
		if (e) {
			ext2fs_xattrs_close(&h);
			return ext4_fail(w, e, "setting xattr %s on %s", m->xattrs[i].name, path);
		}
	}
	if (h) {
		errcode_t e2 = ext2fs_xattrs_close(&h);
		if (!e)
			e = e2;
	}
	return e ? ext4_fail(w, e, "writing the xattrs of %s", path) : 0;
}

/* A new inode of any type except directories and symlinks, linked at PATH. */
int ext4_new_inode(struct ext4_writer *w, const char *path, const struct ext4_meta *m,
		   ext2_ino_t *ret)
{
	struct ext2_inode_large in = { 0 };
	ext2_ino_t parent, ino;
	const char *name;
	errcode_t e;
	int r;

	r = parent_of_new(w, path, &parent, &name);
	if (r < 0)
		return r;
	e = ext2fs_new_inode(w->fs, parent, (int)m->mode, NULL, &ino);
	if (e)
		return ext4_fail(w, e, "allocating an inode for %s", path);
	e = ext4_dir_link(w, parent, name, ino, file_type(m->mode));
	if (e)
		return ext4_fail(w, e, "linking %s", path);
	ext2fs_inode_alloc_stats2(w->fs, ino, +1, 0);
	in.i_mode = (uint16_t)m->mode;
	in.i_links_count = 1;
	in.i_extra_isize = sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
	e = ext2fs_write_inode_full(w->fs, ino, (struct ext2_inode *)&in, sizeof(in));
	if (!e)
		e = ext4_set_meta(w, ino, m, false);
	if (e)
		return ext4_fail(w, e, "writing the inode of %s", path);
	pathmap_put(w->paths, path, pack(ino, m->mode));
	*ret = ino;
	return 0;
}

int ext4_mkdir(struct ext4_writer *w, const char *path, const struct ext4_meta *m)
{
	ext2_ino_t parent, ino = ext4_lookup_ino(w, path);
	const char *name;
	uint32_t mode;
	errcode_t e;
	int r;

	if (ino) {
		ext4_lookup(w, path, &mode);
		if (!S_ISDIR(mode))
			return ext4_fail(w, 0, "%s exists and is not a directory", path), -EEXIST;
	} else {
		r = parent_of(w, path, &parent, &name);
		if (r < 0)
			return r;
		/* Made unnamed, then linked: ext2fs_mkdir() would look the
		 * name up first, a scan of the whole parent. */
		e = ext2fs_new_inode(w->fs, parent, LINUX_S_IFDIR | 0755, NULL, &ino);
		if (!e)
			e = ext2fs_mkdir(w->fs, parent, ino, NULL);
		if (!e)
			e = ext4_dir_link(w, parent, name, ino, EXT2_FT_DIR);
		if (e)
			return ext4_fail(w, e, "creating directory %s", path);
		pathmap_put(w->paths, path, pack(ino, S_IFDIR));
	}
	e = ext4_set_meta(w, ino, m, true);
	if (e)
		return ext4_fail(w, e, "writing the inode of %s", path);
	return ext4_set_xattrs(w, ino, path, m);
}

int ext4_mkdir_parents(struct ext4_writer *w, const char *path, time_t mtime, char **where,
		       uint32_t *mode)
{
	_cleanup_free_ char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	struct ext4_meta m = { .mode = S_IFDIR | 0755, .mtime = mtime };
	int r;

	if (!slash)
		return 0;
	*slash = 0;
	if (ext4_lookup(w, dir, mode) == 0) {
		if (S_ISDIR(*mode))
			return 0;
		*where = TAKE_PTR(dir);
		return -ENOTDIR;
	}
	r = ext4_mkdir_parents(w, dir, mtime, where, mode);
	if (r < 0)
		return r;
	r = ext4_mkdir(w, dir, &m);
	if (r < 0) {
		*where = TAKE_PTR(dir);
		*mode = 0;
	}
	return r;
}

int ext4_symlink(struct ext4_writer *w, const char *path, const char *target,
		 const struct ext4_meta *m)
{
	ext2_ino_t parent, ino;
	const char *name;
	errcode_t e;
	int r;

	r = parent_of_new(w, path, &parent, &name);
	if (r < 0)
		return r;
	if (strlen(target) >= BLOCK_SIZE)
		return ext4_fail(w, 0, "symlink target of %s is too long", path), -ENAMETOOLONG;
	e = ext2fs_new_inode(w->fs, parent, LINUX_S_IFLNK | 0777, NULL, &ino);
	if (!e)
		e = ext2fs_symlink(w->fs, parent, ino, NULL, target);
	if (!e)
		e = ext4_dir_link(w, parent, name, ino, EXT2_FT_SYMLINK);
	if (e)
		return ext4_fail(w, e, "creating symlink %s", path);
	e = ext4_set_meta(w, ino, m, true);
	if (e)
		return ext4_fail(w, e, "writing the inode of %s", path);
	pathmap_put(w->paths, path, pack(ino, S_IFLNK));
	return ext4_set_xattrs(w, ino, path, m);
}

int ext4_mknod(struct ext4_writer *w, const char *path, const struct ext4_meta *m)
{
	ext2_ino_t ino;
	int r = ext4_new_inode(w, path, m, &ino);

	return r < 0 ? r : ext4_set_xattrs(w, ino, path, m);
}

int ext4_hardlink(struct ext4_writer *w, const char *path, const char *target)
{
	struct ext2_inode in;
	ext2_ino_t parent, ino = ext4_lookup_ino(w, target);
	const char *name;
	uint32_t mode = 0;
	errcode_t e;
	int r;

	if (!ino)
		return ext4_fail(w, 0, "hardlink target %s does not exist", target), -ENOENT;
	ext4_lookup(w, target, &mode);
	if (!S_ISREG(mode))
		return ext4_fail(w, 0, "hardlink target %s is not a regular file", target), -EPERM;
	r = parent_of_new(w, path, &parent, &name);
	if (r < 0)
		return r;
	e = ext4_dir_link(w, parent, name, ino, EXT2_FT_REG_FILE);
	if (!e)
		e = ext2fs_read_inode(w->fs, ino, &in);
	if (!e) {
		if (in.i_links_count >= 65000)
			return ext4_fail(w, 0, "too many links to %s", target), -EMLINK;
		in.i_links_count++;
		e = ext2fs_write_inode(w->fs, ino, &in);
	}
	if (e)
		return ext4_fail(w, e, "linking %s to %s", path, target);
	pathmap_put(w->paths, path, pack(ino, S_IFREG));
	return 0;
}

uint64_t ext4_used_bytes(const struct ext4_writer *w)
{
	return (ext2fs_blocks_count(w->fs->super) - ext2fs_free_blocks_count(w->fs->super)) *
	       BLOCK_SIZE;
}

uint64_t ext4_capacity(const struct ext4_writer *w)
{
	return ext2fs_blocks_count(w->fs->super) * BLOCK_SIZE;
}

uint32_t ext4_inodes(const struct ext4_writer *w, uint32_t *free)
{
	*free = w->fs->super->s_free_inodes_count;
	return w->fs->super->s_inodes_count;
}

static errcode_t create_basics(struct ext4_writer *w)
{
	struct ext4_meta root = { .mode = S_IFDIR | 0755, .mtime = w->epoch };
	struct ext4_meta lpf = { .mode = S_IFDIR | 0700, .mtime = w->epoch };
	char zero[INODE_SIZE] = { 0 };
	ext2_filsys fs = w->fs;
	ext2_ino_t ino;
	errcode_t e;

	/* Reserved inodes written out as zeroed 256-byte inodes, as mke2fs does. */
	((struct ext2_inode_large *)zero)->i_extra_isize =
		sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
	for (ext2_ino_t i = 1; i < EXT2_FIRST_INODE(fs->super); i++) {
		e = ext2fs_write_inode_full(fs, i, (struct ext2_inode *)zero, INODE_SIZE);
		if (e)
			return e;
	}
	e = ext2fs_mkdir(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, 0);
	if (e)
		return e;
	pathmap_put(w->paths, "", pack(EXT2_ROOT_INO, S_IFDIR));
	e = ext4_set_meta(w, EXT2_ROOT_INO, &root, true);
	if (e)
		return e;
	e = ext2fs_mkdir(fs, EXT2_ROOT_INO, 0, "lost+found");
	if (!e)
		e = ext2fs_lookup(fs, EXT2_ROOT_INO, "lost+found", 10, NULL, &ino);
	if (e)
		return e;
	/* e2fsck wants room in lost+found without allocating: 16 KiB. */
	for (int i = 1; i < 4; i++) {
		e = ext2fs_expand_dir(fs, ino);
		if (e)
			return e;
	}
	pathmap_put(w->paths, "lost+found", pack(ino, S_IFDIR));
	e = ext4_set_meta(w, ino, &lpf, true);
	if (e)
		return e;
	for (ext2_ino_t i = EXT2_ROOT_INO + 1; i < EXT2_FIRST_INODE(fs->super); i++)
		ext2fs_inode_alloc_stats2(fs, i, +1, 0);
	ext2fs_mark_ib_dirty(fs);
	ext2fs_mark_inode_bitmap2(fs->inode_map, EXT2_BAD_INO);
	ext2fs_inode_alloc_stats2(fs, EXT2_BAD_INO, +1, 0);
	return ext2fs_update_bb_inode(fs, NULL);
}

int ext4_new(const struct ext4_params *p, struct ext4_writer **ret)
{
	struct ext2_super_block param = { 0 };
	struct ext4_writer *w = xcalloc(1, sizeof(*w));
	char opt[64];
	blk64_t blocks = p->size / BLOCK_SIZE;
	errcode_t e;
	int r;

	static bool error_table;

	if (!error_table) {
		/* So that error_message() names libext2fs's errors. */
		initialize_ext2_error_table();
		error_table = true;
	}
	*ret = w;
	w->fd = p->fd;
	w->offset = p->offset;
	w->shrink = p->shrink;
	w->epoch = p->epoch;
	w->paths = pathmap_new();

	if (p->shrink && p->size > EXT4_MAX_PROVISIONAL)
		return ext4_fail(w, 0, "provisional size above 16 GiB"), -EINVAL;
	if (blocks < 8192)
		return ext4_fail(w, 0, "a root filesystem needs at least 32 MiB"), -EINVAL;

	ext2fs_blocks_count_set(&param, blocks);
	param.s_log_block_size = 2; /* 4 KiB */
	param.s_rev_level = EXT2_DYNAMIC_REV;
	param.s_inode_size = INODE_SIZE;
	param.s_inodes_count = (uint32_t)MIN(p->size / INODE_RATIO, (uint64_t)UINT32_MAX - 1);
	param.s_log_groups_per_flex = 4;
	param.s_min_extra_isize = param.s_want_extra_isize =
		sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
	param.s_feature_compat = EXT2_FEATURE_COMPAT_EXT_ATTR | EXT2_FEATURE_COMPAT_DIR_INDEX;
	param.s_feature_incompat = EXT2_FEATURE_INCOMPAT_FILETYPE | EXT3_FEATURE_INCOMPAT_EXTENTS |
				   EXT4_FEATURE_INCOMPAT_FLEX_BG;
	param.s_feature_ro_compat =
		EXT2_FEATURE_RO_COMPAT_SPARSE_SUPER | EXT2_FEATURE_RO_COMPAT_LARGE_FILE |
		EXT4_FEATURE_RO_COMPAT_HUGE_FILE | EXT4_FEATURE_RO_COMPAT_DIR_NLINK |
		EXT4_FEATURE_RO_COMPAT_EXTRA_ISIZE | EXT4_FEATURE_RO_COMPAT_METADATA_CSUM;
	param.s_default_mount_opts = EXT2_DEFM_XATTR_USER | EXT2_DEFM_ACL;

	e = ext2fs_initialize(p->path, EXT2_FLAG_RW | EXT2_FLAG_64BITS, &param, unix_io_manager,
			      &w->fs);
	if (e)
		return ext4_fail(w, e, "initializing the filesystem");
	w->fs->now = p->epoch;
	/* Every block libext2fs reads back is one it wrote in this build:
	 * checking its checksum again (a software crc32c over each directory
	 * block, on every link) is work, not safety. It still sets them all. */
	w->fs->flags |= EXT2_FLAG_IGNORE_CSUM_ERRORS;
	snprintf(opt, sizeof(opt), "offset=%llu", (unsigned long long)p->offset);
	e = io_channel_set_options(w->fs->io, opt);
	if (e)
		return ext4_fail(w, e, "setting the filesystem offset");
	w->fs->priv_data = w;
	w->fs->io->write_error = on_write_error;

	{
		struct ext2_super_block *s = w->fs->super;
		memcpy(s->s_uuid, p->uuid, 16);
		memcpy(s->s_hash_seed, p->hash_seed, 16);
		s->s_def_hash_version = EXT2_HASH_HALF_MD4;
		s->s_flags |= EXT2_FLAGS_SIGNED_HASH;
		s->s_mkfs_time = s->s_lastcheck = s->s_wtime = s->s_mtime = (uint32_t)p->epoch;
		s->s_max_mnt_count = (uint16_t)-1;
		s->s_checkinterval = 0;
		s->s_errors = EXT2_ERRORS_RO;
		s->s_checksum_type = EXT2_CRC32C_CHKSUM;
		memset(s->s_volume_name, 0, sizeof(s->s_volume_name));
		strncpy((char *)s->s_volume_name, p->label, sizeof(s->s_volume_name));
		ext2fs_r_blocks_count_set(s, 0);
		ext2fs_init_csum_seed(w->fs);
	}

	e = ext2fs_allocate_tables(w->fs);
	if (!e)
		e = ext2fs_convert_subcluster_bitmap(w->fs, &w->fs->block_map);
	if (e)
		return ext4_fail(w, e, "allocating the group tables");
	e = create_basics(w);
	if (e)
		return ext4_fail(w, e, "creating the root directory");
	r = 0;
	return r;
}

int ext4_finish(struct ext4_writer *w, uint64_t headroom, uint64_t *size)
{
	ext2_filsys fs = w->fs;
	struct ext2fs_journal_params jp;
	errcode_t e;
	int r = ext4_file_flush(w);

	if (r < 0)
		return r;
	if (w->shrink) {
		r = ext4_shrink_to_content(w, headroom);
		if (r < 0)
			return r;
	}

	e = ext4_dir_scrub(w);
	if (e)
		return ext4_fail(w, e, "clearing the directories' padding");
	ext2fs_get_journal_params(&jp, fs);
	e = ext2fs_add_journal_inode3(fs, &jp, ~0ULL,
				      EXT2_MKJOURNAL_NO_MNT_CHECK | EXT2_MKJOURNAL_LAZYINIT);
	if (e)
		return ext4_fail(w, e, "creating the journal");
	fs->super->s_wtime = fs->super->s_mtime = (uint32_t)w->epoch;
	*size = ext2fs_blocks_count(fs->super) * BLOCK_SIZE;
	/* Without libext2fs's fsync: the image is synced once, with the
	 * other outputs, when they are committed. */
	e = ext2fs_close2(fs, EXT2_FLAG_FLUSH_NO_SYNC);
	if (e)
		ext2fs_free(fs);
	w->fs = NULL;
	if (!e)
		e = w->write_error;
	if (e)
		return ext4_fail(w, e, "writing the filesystem metadata");
	return 0;
}

void ext4_free(struct ext4_writer *w)
{
	if (!w)
		return;
	if (w->fs)
		ext2fs_free(w->fs); /* abandon: nothing more is written */
	pathmap_free(w->paths);
	free(w->indexed);
	ext4_file_free(w);
	free(w);
}
