/* SPDX-License-Identifier: MIT */
/* Regular file data (see ext4.h): blocks are allocated as data arrives, in
 * logical order, each run right after the file's previous one and from the
 * start of the filesystem, never near the block's logical offset as
 * ext2fs_fallocate() places it (a sparse file with one block at 15 GiB would
 * otherwise pin the root to 15 GiB: the cut to content cannot move it).
 * A 4 KiB block that holds only zeros stays a hole, as cp --sparse=always and
 * tar --sparse leave it: an archive of a few MB that expands to GBs of zeros
 * writes nothing for them. Data is written with pwrite() to its blocks; a
 * block that arrives in pieces is assembled in a buffer first, and data for
 * consecutive blocks is gathered into one write of up to GATHER_MAX: most
 * files are a block or a few, and the host's page cache takes a few larger
 * writes at a fraction of the cost of many small ones. Larger than 256 KiB
 * was slower: the gathered data no longer stays in the CPU's cache. */
#include "ext4-internal.h"

#include <sys/stat.h>

/* The longest initialized extent ext4 has. */
#define MAX_EXTENT_LEN 32768
#define GATHER_MAX     (256 * KiB)

static bool zero_block(const uint8_t *p) { return mem_is_zero(p, BLOCK_SIZE); }

static int write_failed(struct ext4_writer *w, int r)
{
	return ext4_fail(w, (errcode_t)-r, "writing file data to the image"), r;
}

int ext4_file_flush(struct ext4_writer *w)
{
	int r;

	if (!w->gather_len)
		return 0;
	r = pwrite_full(w->fd, w->gather, w->gather_len, w->gather_at);
	w->gather_len = 0;
	return r < 0 ? write_failed(w, r) : 0;
}

/* LEN bytes of file data for image offset AT. Data that does not continue
 * what is gathered is written after it, never before. */
static int write_data(struct ext4_writer *w, const uint8_t *data, size_t len, uint64_t at)
{
	int r;

	if (w->gather_len && at != w->gather_at + w->gather_len) {
		r = ext4_file_flush(w);
		if (r < 0)
			return r;
	}
	if (!w->gather_len && len >= GATHER_MAX)
		return (r = pwrite_full(w->fd, data, len, at)) < 0 ? write_failed(w, r) : 0;
	if (!w->gather)
		w->gather = xmalloc(GATHER_MAX);
	while (len) {
		size_t n = MIN(len, GATHER_MAX - w->gather_len);
		if (!w->gather_len)
			w->gather_at = at;
		memcpy(w->gather + w->gather_len, data, n);
		w->gather_len += n;
		data += n;
		at += n;
		len -= n;
		if (w->gather_len == GATHER_MAX) {
			r = ext4_file_flush(w);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Maps logical blocks [LBLK, LBLK+N) of the current file to blocks it takes
 * from the goal on, and writes DATA (N blocks) there. */
static int map_and_write(struct ext4_writer *w, blk64_t lblk, const uint8_t *data, blk64_t n)
{
	ext2_filsys fs = w->fs;
	struct ext2fs_extent *last = &w->cur_last;
	errcode_t e;

	while (n > 0) {
		blk64_t pblk, len;
		int r;

		e = ext2fs_new_range(fs, 0, w->cur_goal, MIN(n, (blk64_t)MAX_EXTENT_LEN), NULL,
				     &pblk, &len);
		if (e)
			return ext4_fail(w, e, "allocating %llu blocks for %s",
					 (unsigned long long)n, w->cur_path);
		ext2fs_block_alloc_stats_range(fs, pblk, (unsigned)len, +1);
		ext2fs_iblk_add_blocks(fs, &w->cur_in, len);

		/* Files are written in logical order, so the new blocks always
		 * go after the last extent: extend it when they continue it
		 * physically, else append a new one. */
		if (w->cur_has_last && last->e_lblk + last->e_len == lblk &&
		    last->e_pblk + last->e_len == pblk && last->e_len + len <= MAX_EXTENT_LEN) {
			e = ext2fs_extent_goto2(w->cur_h, 0, last->e_lblk);
			if (!e) {
				last->e_len += (uint32_t)len;
				e = ext2fs_extent_replace(w->cur_h, 0, last);
			}
		} else {
			struct ext2fs_extent ex = { .e_pblk = pblk,
						    .e_lblk = lblk,
						    .e_len = (uint32_t)len };
			int flags = 0;
			e = 0;
			if (w->cur_has_last) {
				e = ext2fs_extent_goto2(w->cur_h, 0, last->e_lblk);
				flags = EXT2_EXTENT_INSERT_AFTER;
			}
			if (!e)
				e = ext2fs_extent_insert(w->cur_h, flags, &ex);
			*last = ex;
			w->cur_has_last = true;
		}
		if (e)
			return ext4_fail(w, e, "mapping the blocks of %s", w->cur_path);
		r = write_data(w, data, len * BLOCK_SIZE, w->offset + pblk * BLOCK_SIZE);
		if (r < 0)
			return r;
		w->cur_goal = pblk + len;
		lblk += len;
		data += len * BLOCK_SIZE;
		n -= len;
	}
	return 0;
}

/* Writes N whole blocks from LBLK on, leaving out the ones that are all
 * zeros. */
static int write_blocks(struct ext4_writer *w, blk64_t lblk, const uint8_t *p, blk64_t n)
{
	blk64_t i = 0;

	while (i < n) {
		blk64_t j;
		int r;

		while (i < n && zero_block(p + i * BLOCK_SIZE))
			i++;
		for (j = i; j < n && !zero_block(p + j * BLOCK_SIZE); j++)
			;
		if (j > i) {
			r = map_and_write(w, lblk + i, p + i * BLOCK_SIZE, j - i);
			if (r < 0)
				return r;
		}
		i = j;
	}
	return 0;
}

static int flush_pending(struct ext4_writer *w)
{
	if (!w->pend_valid)
		return 0;
	w->pend_valid = false;
	return write_blocks(w, w->pend_lblk, w->pend, 1);
}

static void file_reset(struct ext4_writer *w)
{
	if (w->cur_h)
		ext2fs_extent_free(w->cur_h);
	w->cur_h = NULL;
	w->cur_ino = 0;
	w->cur_has_last = false;
	w->pend_valid = false;
	free(w->cur_path);
	w->cur_path = NULL;
	free(w->cur_regions);
	w->cur_regions = NULL;
	w->cur_n_regions = 0;
}

/* Starts writing the data of inode INO, whose inode has no blocks (a new
 * file, or one whose blocks were just given back), at SIZE bytes. */
static int data_begin(struct ext4_writer *w, ext2_ino_t ino, const char *path, uint64_t size,
		      const struct ext4_region *regions, size_t n_regions)
{
	errcode_t e;

	file_reset(w);
	w->cur_ino = ino;
	w->cur_path = xstrdup(path);
	w->cur_size = size;
	w->cur_pos = 0;
	w->cur_region = 0;
	if (regions && n_regions) {
		w->cur_regions = xmalloc(n_regions * sizeof(*regions));
		memcpy(w->cur_regions, regions, n_regions * sizeof(*regions));
		w->cur_n_regions = n_regions;
	}
	if (!w->pend)
		w->pend = xmalloc(BLOCK_SIZE);

	e = ext2fs_read_inode(w->fs, ino, &w->cur_in);
	if (!e)
		e = ext2fs_inode_size_set(w->fs, &w->cur_in, size);
	if (e)
		return ext4_fail(w, e, "reading the inode of %s", path);
	/* An empty extent tree in the inode (and the extents flag). */
	e = ext2fs_extent_open2(w->fs, ino, &w->cur_in, &w->cur_h);
	if (!e)
		e = ext2fs_write_inode(w->fs, ino, &w->cur_in);
	if (e)
		return ext4_fail(w, e, "creating the extent tree of %s", path);
	w->cur_goal = ext2fs_find_inode_goal(w->fs, ino, &w->cur_in, 0);
	return 0;
}

int ext4_file_begin(struct ext4_writer *w, const char *path, const struct ext4_meta *m,
		    uint64_t size, const struct ext4_region *regions, size_t n_regions)
{
	ext2_ino_t ino;
	int r;

	file_reset(w);
	r = ext4_new_inode(w, path, m, &ino);
	if (r < 0)
		return r;
	r = data_begin(w, ino, path, size, regions, n_regions);
	if (r < 0)
		return r;
	w->cur_meta = m;
	return 0;
}

int ext4_file_rewrite(struct ext4_writer *w, const char *path, const struct ext4_meta *m,
		      uint64_t size, const struct ext4_region *regions, size_t n_regions)
{
	ext2_ino_t ino = ext4_lookup_ino(w, path);
	struct ext2_inode in;
	uint32_t mode = 0;
	errcode_t e;
	int r;

	file_reset(w);
	ext4_lookup(w, path, &mode);
	if (!ino || !S_ISREG(mode))
		return ext4_fail(w, 0, "%s is not a regular file", path), -EINVAL;
	/* As open(O_TRUNC): what the file held is given back, once what is
	 * gathered for its blocks is written (another file may take them). */
	r = ext4_file_flush(w);
	if (r < 0)
		return r;
	e = ext2fs_read_inode(w->fs, ino, &in);
	if (!e)
		e = ext2fs_punch(w->fs, ino, &in, NULL, 0, ~0ULL);
	if (!e)
		e = ext2fs_write_inode(w->fs, ino, &in);
	if (!e)
		e = ext4_set_meta(w, ino, m, true);
	if (e)
		return ext4_fail(w, e, "truncating %s", path);
	r = data_begin(w, ino, path, size, regions, n_regions);
	if (r < 0)
		return r;
	w->cur_meta = m;
	return 0;
}

int ext4_file_write(struct ext4_writer *w, uint64_t offset, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	int r;

	if (offset < w->cur_pos || offset + len > w->cur_size || offset + len < offset)
		return ext4_fail(w, 0, "data at offset %llu is outside the file",
				 (unsigned long long)offset),
		       -EINVAL;
	if (w->cur_n_regions && len) {
		const struct ext4_region *g;
		while (w->cur_region < w->cur_n_regions &&
		       w->cur_regions[w->cur_region].offset +
				       w->cur_regions[w->cur_region].length <=
			       offset)
			w->cur_region++;
		g = &w->cur_regions[w->cur_region];
		if (w->cur_region == w->cur_n_regions || g->offset > offset ||
		    offset + len > g->offset + g->length)
			return ext4_fail(w, 0,
					 "data at offset %llu is outside the file's data "
					 "regions",
					 (unsigned long long)offset),
			       -EINVAL;
	}
	while (len > 0) {
		blk64_t lblk = offset / BLOCK_SIZE;
		size_t within = offset % BLOCK_SIZE, n;

		if (w->pend_valid && w->pend_lblk != lblk) {
			r = flush_pending(w);
			if (r < 0)
				return r;
		}
		if (within || len < BLOCK_SIZE) {
			/* Part of a block: assembled in the buffer. */
			if (!w->pend_valid) {
				memset(w->pend, 0, BLOCK_SIZE);
				w->pend_lblk = lblk;
				w->pend_valid = true;
			}
			n = MIN(len, BLOCK_SIZE - within);
			memcpy(w->pend + within, p, n);
			if (within + n == BLOCK_SIZE) {
				r = flush_pending(w);
				if (r < 0)
					return r;
			}
		} else {
			n = len / BLOCK_SIZE * BLOCK_SIZE;
			r = write_blocks(w, lblk, p, n / BLOCK_SIZE);
			if (r < 0)
				return r;
		}
		p += n;
		len -= n;
		offset += n;
	}
	w->cur_pos = offset;
	return 0;
}

int ext4_file_end(struct ext4_writer *w)
{
	const struct ext4_meta *m = w->cur_meta;
	ext2_ino_t ino = w->cur_ino;
	errcode_t e;
	int r;

	if (!ino)
		return 0;
	r = flush_pending(w);
	if (r < 0)
		goto out;
	e = ext2fs_write_inode(w->fs, ino, &w->cur_in);
	if (e) {
		r = ext4_fail(w, e, "writing the inode of %s", w->cur_path);
		goto out;
	}
	/* After the data, so that an xattr block lands behind it. */
	if (m)
		r = ext4_set_xattrs(w, ino, w->cur_path, m);
out:
	w->cur_meta = NULL;
	file_reset(w);
	return r;
}

void ext4_file_free(struct ext4_writer *w)
{
	file_reset(w);
	free(w->pend);
	w->pend = NULL;
	free(w->gather);
	w->gather = NULL;
	w->gather_len = 0;
}
