/* SPDX-License-Identifier: MIT */
/* Directory entries (see ext4.h). libext2fs inserts into a linear directory
 * by scanning every block for room, so N names in one directory cost
 * O(N^2) (80,000: 100 s); into an htree-indexed one it goes through the
 * index (dx_link, libext2fs 1.46 and later), O(log N). So a directory
 * stays linear while it fits in one block, and when that block is full it
 * is turned into an htree, as the kernel does when a directory outgrows its
 * first block (make_indexed_dir in fs/ext4/namei.c): block 0 becomes the
 * index root ("." and ".." and the dx_root, laid out as e2fsck -D's
 * set_root_node() does), the names move to a new leaf, and libext2fs splits
 * leaves and grows the index from there on. The names are known not to be
 * there (the path table says so), so nothing looks them up in the
 * directory either. */
#include "ext4-internal.h"

#define DX_ROOT_INFO_OFF  24
#define DX_ROOT_LIMIT_OFF 32

/* Turns the one-block linear directory DIR into an htree: block 0 the
 * root, block 1 the leaf with every name but "." and "..". */
static errcode_t make_indexed(ext2_filsys fs, ext2_ino_t dir)
{
	_cleanup_free_ char *root = xcalloc(1, fs->blocksize);
	_cleanup_free_ char *leaf = xcalloc(1, fs->blocksize);
	unsigned csum = ext2fs_has_feature_metadata_csum(fs->super) ? 1 : 0;
	unsigned tail = csum ? sizeof(struct ext2_dir_entry_tail) : 0;
	struct ext2_dir_entry *de, *last = NULL;
	struct ext2_dx_root_info *info;
	struct ext2_dx_countlimit *limits;
	struct ext2_dx_entry *entries;
	struct ext2_inode inode;
	ext2_ino_t parent = 0;
	blk64_t pblk0, pblk1;
	unsigned off, rec_len, used = 0;
	errcode_t e;

	e = ext2fs_read_inode(fs, dir, &inode);
	if (e)
		return e;
	if (inode.i_flags & EXT2_INDEX_FL || EXT2_I_SIZE(&inode) != fs->blocksize)
		return EXT2_ET_DIR_NO_SPACE;
	e = ext2fs_bmap2(fs, dir, &inode, NULL, 0, 0, NULL, &pblk0);
	if (!e)
		e = ext2fs_read_dir_block4(fs, pblk0, root, 0, dir);
	if (e)
		return e;

	/* Every live entry after "." and ".." goes to the leaf, packed. */
	for (off = 0; off < fs->blocksize - tail; off += rec_len) {
		unsigned len;
		de = (struct ext2_dir_entry *)(root + off);
		e = ext2fs_get_rec_len(fs, de, &rec_len);
		if (e)
			return e;
		if (rec_len < 8 || off + rec_len > fs->blocksize)
			return EXT2_ET_DIR_CORRUPTED;
		len = ext2fs_dirent_name_len(de);
		if (!de->inode)
			continue;
		if (off < DX_ROOT_INFO_OFF &&
		    ((len == 1 && de->name[0] == '.') ||
		     (len == 2 && de->name[0] == '.' && de->name[1] == '.'))) {
			if (len == 2)
				parent = de->inode;
			continue;
		}
		last = (struct ext2_dir_entry *)(leaf + used);
		memcpy(last, de, EXT2_DIR_REC_LEN(len));
		e = ext2fs_set_rec_len(fs, EXT2_DIR_REC_LEN(len), last);
		if (e)
			return e;
		used += EXT2_DIR_REC_LEN(len);
	}
	if (!parent || !last)
		return EXT2_ET_DIR_CORRUPTED;
	e = ext2fs_set_rec_len(fs,
			       fs->blocksize - tail -
				       (used - EXT2_DIR_REC_LEN(ext2fs_dirent_name_len(last))),
			       last);
	if (e)
		return e;
	if (csum)
		ext2fs_initialize_dirent_tail(fs, EXT2_DIRENT_TAIL(leaf, fs->blocksize));

	/* The root, as e2fsck's set_root_node() writes it. */
	memset(root, 0, fs->blocksize);
	de = (struct ext2_dir_entry *)root;
	de->inode = dir;
	de->name[0] = '.';
	ext2fs_dirent_set_name_len(de, 1);
	ext2fs_dirent_set_file_type(de, EXT2_FT_DIR);
	de->rec_len = 12;
	de = (struct ext2_dir_entry *)(root + 12);
	de->inode = parent;
	de->name[0] = de->name[1] = '.';
	ext2fs_dirent_set_name_len(de, 2);
	ext2fs_dirent_set_file_type(de, EXT2_FT_DIR);
	e = ext2fs_set_rec_len(fs, fs->blocksize - 12, de);
	if (e)
		return e;
	info = (struct ext2_dx_root_info *)(root + DX_ROOT_INFO_OFF);
	info->hash_version = fs->super->s_def_hash_version;
	info->info_length = 8;
	limits = (struct ext2_dx_countlimit *)(root + DX_ROOT_LIMIT_OFF);
	limits->limit = ext2fs_cpu_to_le16(
		(fs->blocksize - (DX_ROOT_LIMIT_OFF + (csum ? sizeof(struct ext2_dx_tail) : 0))) /
		sizeof(struct ext2_dx_entry));
	limits->count = ext2fs_cpu_to_le16(1);
	entries = (struct ext2_dx_entry *)limits;
	entries[0].block = ext2fs_cpu_to_le32(1);

	/* The leaf's block, as libext2fs's dx_grow_tree() takes one. */
	e = ext2fs_inode_size_set(fs, &inode, 2 * fs->blocksize);
	if (!e)
		e = ext2fs_fallocate(fs, EXT2_FALLOCATE_FORCE_INIT | EXT2_FALLOCATE_ZERO_BLOCKS,
				     dir, &inode, 0, 1, 1);
	if (!e)
		e = ext2fs_bmap2(fs, dir, &inode, NULL, 0, 1, NULL, &pblk1);
	if (e)
		return e;
	inode.i_flags |= EXT2_INDEX_FL;
	e = ext2fs_write_inode(fs, dir, &inode);
	if (!e)
		e = ext2fs_write_dir_block4(fs, pblk1, leaf, 0, dir);
	if (!e)
		e = ext2fs_write_dir_block4(fs, pblk0, root, 0, dir);
	return e;
}

errcode_t ext4_dir_link(struct ext4_writer *w, ext2_ino_t dir, const char *name, ext2_ino_t ino,
			int file_type)
{
	errcode_t e = ext2fs_link(w->fs, dir, name, ino, file_type);
	struct ext2_inode inode;

	if (e != EXT2_ET_DIR_NO_SPACE)
		return e;
	e = ext2fs_read_inode(w->fs, dir, &inode);
	if (e)
		return e;
	if (inode.i_flags & EXT2_INDEX_FL)
		return EXT2_ET_DIR_NO_SPACE; /* the index is as deep as it goes */
	if (EXT2_I_SIZE(&inode) == w->fs->blocksize) {
		e = make_indexed(w->fs, dir);
		if (!e)
			ARRAY_PUSH(w->indexed, w->n_indexed, w->cap_indexed, dir);
	} else
		e = ext2fs_expand_dir(w->fs, dir); /* lost+found: linear, 4 blocks */
	return e ? e : ext2fs_link(w->fs, dir, name, ino, file_type);
}

/* Live entries only: "." and ".." of an htree hold the index root after
 * their names, and the index blocks show as empty entries. */
static int scrub_entry(ext2_ino_t dir, int entry, struct ext2_dir_entry *de, int offset,
		       int blocksize, char *buf, void *priv)
{
	ext2_filsys fs = priv;
	unsigned len = ext2fs_dirent_name_len(de), rec_len;
	char *p = de->name + len, *end;
	bool dirty = false;

	(void)dir, (void)buf;
	if (entry == DIRENT_DOT_FILE || entry == DIRENT_DOT_DOT_FILE || !de->inode ||
	    ext2fs_get_rec_len(fs, de, &rec_len) || rec_len < 8 + len ||
	    (unsigned)offset + rec_len > (unsigned)blocksize)
		return 0;
	for (end = (char *)de + rec_len; p < end; p++)
		if (*p) {
			*p = 0;
			dirty = true;
		}
	return dirty ? DIRENT_CHANGED : 0;
}

errcode_t ext4_dir_scrub(struct ext4_writer *w)
{
	for (size_t i = 0; i < w->n_indexed; i++) {
		errcode_t e =
			ext2fs_dir_iterate2(w->fs, w->indexed[i], 0, NULL, scrub_entry, w->fs);
		if (e)
			return e;
	}
	return 0;
}
