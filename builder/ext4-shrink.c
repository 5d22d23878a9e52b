/* SPDX-License-Identifier: MIT */
/* Cutting an ext4 filesystem down to its content (see ext4.h): created at a
 * provisional capacity whose group descriptor table is one block, filled
 * from the start by libext2fs's allocators, then truncated at the last
 * block in use plus headroom. Nothing moves: the groups past the cut go,
 * their tables are given back, the bitmaps and counts are redone. */
#include "ext4-internal.h"

/* Group metadata: bitmaps and inode table of group G. */
static void group_tables(ext2_filsys fs, dgrp_t g, blk64_t out[3], blk64_t *itable_len)
{
	out[0] = ext2fs_block_bitmap_loc(fs, g);
	out[1] = ext2fs_inode_bitmap_loc(fs, g);
	out[2] = ext2fs_inode_table_loc(fs, g);
	*itable_len = fs->inode_blocks_per_group;
}

/* The last block in use by content (files, directories, extent blocks):
 * all used blocks minus every group's own metadata. */
static int content_end(struct ext4_writer *w, blk64_t *end)
{
	ext2_filsys fs = w->fs;
	blk64_t n = ext2fs_blocks_count(fs->super), t[3], len;
	ext2fs_block_bitmap copy;
	_cleanup_free_ uint8_t *bits = NULL;
	errcode_t e;

	e = ext2fs_copy_bitmap(fs->block_map, &copy);
	if (e)
		return ext4_fail(w, e, "copying the block bitmap");
	for (dgrp_t g = 0; g < fs->group_desc_count; g++) {
		blk64_t super, old_desc, new_desc;
		blk_t used;
		group_tables(fs, g, t, &len);
		ext2fs_unmark_block_bitmap2(copy, t[0]);
		ext2fs_unmark_block_bitmap2(copy, t[1]);
		ext2fs_unmark_block_bitmap_range2(copy, t[2], (unsigned)len);
		ext2fs_super_and_bgd_loc2(fs, g, &super, &old_desc, &new_desc, &used);
		if (ext2fs_bg_has_super(fs, g))
			ext2fs_unmark_block_bitmap_range2(copy, super, (unsigned)used);
	}
	bits = xcalloc(1, n / 8 + 1);
	e = ext2fs_get_block_bitmap_range2(copy, 0, n, bits);
	ext2fs_free_block_bitmap(copy);
	if (e)
		return ext4_fail(w, e, "reading the block bitmap");
	for (blk64_t i = n / 8 + 1; i-- > 0;)
		if (bits[i]) {
			for (int b = 7; b >= 0; b--)
				if (bits[i] & (1 << b)) {
					*end = i * 8 + (blk64_t)b + 1;
					return 0;
				}
		}
	*end = 0;
	return 0;
}

/* Cuts the filesystem to NEW_BLOCKS; see ext4.h for why nothing moves. */
static int shrink_to(struct ext4_writer *w, blk64_t new_blocks)
{
	ext2_filsys fs = w->fs;
	blk64_t old_blocks = ext2fs_blocks_count(fs->super), t[3], len, found;
	dgrp_t old_groups = fs->group_desc_count;
	blk_t bpg = fs->super->s_blocks_per_group;
	dgrp_t new_groups = (dgrp_t)DIV_ROUND_UP(new_blocks, bpg);
	ext2_ino_t ipg = fs->super->s_inodes_per_group, new_inodes = new_groups * ipg;
	ext2_ino_t found_ino;
	uint64_t free_blocks = 0, free_inodes = 0;
	errcode_t e;

	if (new_blocks >= old_blocks)
		return 0;
	/* Give back the tables of the groups that go away. */
	for (dgrp_t g = new_groups; g < old_groups; g++) {
		blk64_t super, old_desc, new_desc;
		blk_t used;
		group_tables(fs, g, t, &len);
		for (blk64_t b = 0; b < 2 + len; b++) {
			blk64_t blk = b < 2 ? t[b] : t[2] + b - 2;
			if (blk < new_blocks)
				ext2fs_block_alloc_stats2(fs, blk, -1);
			else
				ext2fs_unmark_block_bitmap2(fs->block_map, blk);
		}
		ext2fs_super_and_bgd_loc2(fs, g, &super, &old_desc, &new_desc, &used);
		if (ext2fs_bg_has_super(fs, g))
			ext2fs_unmark_block_bitmap_range2(fs->block_map, super, (unsigned)used);
	}
	if (ext2fs_find_first_set_block_bitmap2(fs->block_map, new_blocks, old_blocks - 1,
						&found) == 0)
		return ext4_fail(w, 0, "block %llu is in use beyond the cut at %llu",
				 (unsigned long long)found, (unsigned long long)new_blocks),
		       -ENOSPC;
	if (ext2fs_find_first_set_inode_bitmap2(fs->inode_map, new_inodes + 1,
						fs->super->s_inodes_count, &found_ino) == 0)
		return ext4_fail(w, 0, "inode %u is in use beyond the cut", found_ino), -ENOSPC;

	e = ext2fs_resize_block_bitmap2(new_blocks - 1, (blk64_t)new_groups * bpg - 1,
					fs->block_map);
	if (!e)
		e = ext2fs_resize_inode_bitmap2(new_inodes, new_inodes, fs->inode_map);
	if (e)
		return ext4_fail(w, e, "resizing the bitmaps");
	ext2fs_blocks_count_set(fs->super, new_blocks);
	fs->super->s_inodes_count = new_inodes;
	fs->group_desc_count = new_groups;
	fs->desc_blocks = (blk_t)DIV_ROUND_UP(new_groups, EXT2_DESC_PER_BLOCK(fs->super));

	/* Recount every group from the bitmaps. */
	for (dgrp_t g = 0; g < new_groups; g++) {
		blk64_t first = ext2fs_group_first_block2(fs, g),
			last = ext2fs_group_last_block2(fs, g);
		uint32_t fb = 0, fi = 0;
		for (blk64_t b = first; b <= last; b++)
			fb += !ext2fs_test_block_bitmap2(fs->block_map, b);
		for (ext2_ino_t i = g * ipg + 1; i <= (g + 1) * ipg; i++)
			fi += !ext2fs_test_inode_bitmap2(fs->inode_map, i);
		ext2fs_bg_free_blocks_count_set(fs, g, fb);
		ext2fs_bg_free_inodes_count_set(fs, g, fi);
		free_blocks += fb;
		free_inodes += fi;
	}
	ext2fs_bg_flags_clear(fs, new_groups - 1, EXT2_BG_BLOCK_UNINIT);
	ext2fs_free_blocks_count_set(fs->super, free_blocks);
	fs->super->s_free_inodes_count = (uint32_t)free_inodes;
	for (dgrp_t g = 0; g < new_groups; g++)
		ext2fs_group_desc_csum_set(fs, g);
	ext2fs_mark_super_dirty(fs);
	ext2fs_mark_bb_dirty(fs);
	ext2fs_mark_ib_dirty(fs);
	return 0;
}

int ext4_shrink_to_content(struct ext4_writer *w, uint64_t headroom)
{
	ext2_filsys fs = w->fs;
	blk_t bpg = fs->super->s_blocks_per_group;
	ext2_ino_t ipg = fs->super->s_inodes_per_group, last_ino = 0;
	blk64_t end, target, t[3], len, meta_end = 0;
	dgrp_t groups;
	int r;

	r = content_end(w, &end);
	if (r < 0)
		return r;
	/* Room for the journal and the headroom. */
	target = end + DIV_ROUND_UP(headroom, BLOCK_SIZE) + 64 * MiB / BLOCK_SIZE;
	/* Enough groups for the inodes in use, with 10% to spare. */
	if (ext2fs_find_first_zero_inode_bitmap2(fs->inode_map, 1, fs->super->s_inodes_count,
						 &last_ino) == 0) {
		ext2_ino_t used = fs->super->s_inodes_count - fs->super->s_free_inodes_count;
		target = MAX(target, (blk64_t)(DIV_ROUND_UP(used + used / 10, ipg) - 1) * bpg + 1);
	}
	/* The retained groups' tables must stay inside. */
	groups = (dgrp_t)DIV_ROUND_UP(target, bpg);
	for (dgrp_t g = 0; g < groups; g++) {
		group_tables(fs, g, t, &len);
		meta_end = MAX(meta_end, MAX(MAX(t[0], t[1]) + 1, t[2] + len));
	}
	target = MAX(target, meta_end + 256);
	/* A partial last group of at least 1 MiB; whole MiB overall. */
	if (target % bpg && target % bpg < 256)
		target += 256;
	target = ALIGN_UP(target, 256);
	target = MIN(target, ext2fs_blocks_count(fs->super));
	return shrink_to(w, target);
}
