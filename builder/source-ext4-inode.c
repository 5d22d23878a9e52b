/* SPDX-License-Identifier: MIT */
/* What one inode of the ext4 reader holds besides its names (see
 * source-ext4.h; the walk is source-ext4.c): the data regions of a regular
 * file and the reading of its data, a symlink's target, the extended
 * attributes with their POSIX ACLs, a device's numbers.
 *
 * A regular file's data is read through the data regions found from its
 * extent map (or block map): unwritten extents and gaps are holes. */
#include "source-ext4-internal.h"

#define MAX_SYMLINK 4095
#define MAX_READ    ((size_t)GiB)

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
		return ext4r_fail(er, e, "entry '%s': cannot read its extent map", er->path);
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
			return ext4r_fail(er, 0, "entry '%s': its extents overlap", er->path);
		}
		next = ex.e_lblk + (uint64_t)ex.e_len;
		off = ex.e_lblk * bs;
		if (off >= size)
			break;
		if (!(ex.e_flags & EXT2_EXTENT_FLAGS_UNINIT))
			add_region(er, n, off, MIN((uint64_t)ex.e_len * bs, size - off));
	}
	ext2fs_extent_free(h);
	return e ? ext4r_fail(er, e, "entry '%s': cannot read its extent map", er->path) : 0;
}

struct blockmap {
	struct ext4r *er;
	size_t n;
	uint64_t size;
};

static int map_block(ext2_filsys fs, blk64_t *blk, e2_blkcnt_t cnt, blk64_t ref_blk, int ref_offset,
		     void *data)
{
	struct blockmap *bm = data;
	uint64_t off = (uint64_t)cnt * fs->blocksize;

	if (cnt >= 0 && off < bm->size)
		add_region(bm->er, &bm->n, off, MIN((uint64_t)fs->blocksize, bm->size - off));
	return 0;
}

/* The current file's data regions, so that holes stay holes: from the
 * extent map, or the block map of a file without extents. */
int ext4r_map_file(struct ext4r *er, uint64_t size)
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
			return ext4r_fail(er, e, "entry '%s': cannot read its block map", er->path);
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

int ext4r_read_symlink(struct ext4r *er)
{
	uint64_t size = EXT2_I_SIZE(&er->inode);
	unsigned got = 0;
	errcode_t e;

	if (!size || size > MAX_SYMLINK)
		return ext4r_fail(er, 0, "entry '%s': symlink target of %llu bytes", er->path,
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
			return ext4r_fail(er, e, "entry '%s': cannot read the symlink target",
					  er->path);
	} else if (size < sizeof(er->inode.i_block)) {
		memcpy(er->target, er->inode.i_block, size); /* a fast symlink */
	} else {
		return ext4r_fail(er, 0, "entry '%s': a fast symlink longer than the inode",
				  er->path);
	}
	er->target[size] = 0;
	if (strlen(er->target) != size)
		return ext4r_fail(er, 0, "entry '%s': symlink target holds a NUL byte", er->path);
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
int ext4r_read_xattrs(struct ext4r *er)
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
		return ext4r_fail(er, e, "entry '%s': cannot read its extended attributes",
				  er->path);
	if (er->e.n_xattrs == MAX_XATTRS)
		return ext4r_fail(er, 0, "entry '%s': more than %d extended attributes", er->path,
				  MAX_XATTRS - 1);
	for (size_t i = 0; i < er->e.n_xattrs; i++) {
		struct ext4_xattr *x = &er->xattrs[i];
		void *v = NULL;
		size_t len = 0;

		if (!is_acl(x->name))
			continue;
		if (n_acls == ELEMENTSOF(er->acls) || !acl_disk_ok(x->value, x->size))
			return ext4r_fail(er, 0, "entry '%s': its %s is not a valid ext4 ACL",
					  er->path, x->name);
		e = ext2fs_xattr_get(er->xh, x->name, &v, &len);
		if (e)
			return ext4r_fail(er, e, "entry '%s': cannot read its %s", er->path,
					  x->name);
		er->acls[n_acls++] = v;
		x->value = v;
		x->size = len;
	}
	er->e.xattrs = er->xattrs;
	return 0;
}

void ext4r_device_numbers(struct ext4r *er)
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
			return ext4r_fail(er, e, "cannot open the file");
	}
	len = (size_t)MIN((uint64_t)MIN(len, MAX_READ), g->offset + g->length - er->pos);
	e = ext2fs_file_llseek(er->file, er->pos, EXT2_SEEK_SET, NULL);
	if (!e)
		e = ext2fs_file_read(er->file, buf, (unsigned)len, &got);
	if (!e && got != len)
		e = EXT2_ET_SHORT_READ;
	if (e)
		return ext4r_fail(er, e, "cannot read the file's data at offset %llu",
				  (unsigned long long)er->pos);
	*offset = er->pos;
	er->pos += got;
	return (ssize_t)got;
}
