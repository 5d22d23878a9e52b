/* SPDX-License-Identifier: MIT */
/* FAT32 writer, see fat.h.
 *
 * On-disk layout, in 512-byte sectors from params->offset (F = sectors per
 * FAT, rounded so that the data area starts on a cluster boundary):
 *
 *   0             boot sector: BPB + FAT32 extension, zero boot code, 0x55AA
 *   1             FSInfo: free cluster count and next-free hint
 *   2..5          zero
 *   6             backup boot sector
 *   7             backup FSInfo
 *   8..31         zero (32 reserved sectors in all)
 *   32            FAT #1: one little-endian 32-bit entry per cluster
 *   32+F          FAT #2, identical
 *   32+2F         data area; its first cluster is cluster number 2
 *
 * Clusters are handed out in increasing order, each object getting one
 * contiguous run: cluster 2 for the root directory (fat_new), then file
 * data in fat_file_open() order, then in fat_finish() the directories: the
 * rest of the root directory (chained from cluster 2), then depth first each
 * directory's subdirectories, in insertion order. The FAT is therefore just
 * this list of runs, generated on the fly when written. Space for the
 * directories is reserved as entries are added, so fat_finish() cannot run
 * out of space.
 *
 * A directory holds 32-byte entries: "." and ".." (not in the root), the
 * volume label (root only), then per child in insertion order its VFAT
 * long-name entries (highest ordinal first) followed by its 8.3 entry.
 * The names, the 8.3 aliases and the long-name entries are made by
 * fat-names.c. */
#include "fat-internal.h"

#include <errno.h>
#include <string.h>

#include "util.h"

#define SECTOR		   512u
#define RESERVED_SECTORS   32u
#define NUM_FATS	   2u
#define BACKUP_BOOT_SECTOR 6u
#define MEDIA		   0xF8u
#define ROOT_CLUSTER	   2u
#define MAX_CLUSTER_BYTES  4096u
/* Linux and fsck.fat call a volume FAT32 from 65525 clusters on; keep a
 * margin so that no tool that counts slightly differently sees a FAT16. */
#define FAT32_MIN_CLUSTERS (65525u + 64u)
#define FAT32_MAX_CLUSTERS 0x0FFFFFF5u
#define FAT_EOC		   0x0FFFFFFFu
#define DIR_MAX_ENTRIES	   65536u /* FAT limit on 32-byte entries per directory */
#define IO_CHUNK	   ((size_t)MiB)
#define FAT_TIME_MIN	   INT64_C(315532800)  /* 1980-01-01 00:00:00 UTC */
#define FAT_TIME_MAX	   INT64_C(4354819199) /* 2107-12-31 23:59:59 UTC */

/* A contiguous run of clusters; the last one links to NEXT (or EOC). */
struct run {
	uint32_t start, len, next;
};

struct fat_writer {
	int fd;
	uint64_t offset;
	uint32_t total_sectors, fat_sectors, data_sector;
	uint32_t spc, cluster_bytes, clusters; /* clusters: in the data area */
	uint32_t serial;
	uint8_t label[11];
	bool has_label, finished;
	time_t mtime;
	uint32_t next_free;   /* first unallocated cluster */
	uint32_t dir_reserve; /* clusters still owed to directories */
	unsigned open_files;
	struct run *runs; /* sorted by start: allocation is monotonic */
	size_t nruns, capruns;
	struct fat_node *root;
};

struct fat_file {
	struct fat_writer *w;
	struct fat_node *n;
	uint64_t pos;
	bool bad;
};

static const uint8_t zeros[MAX_CLUSTER_BYTES];

/* FAT date and time in UTC, clamped to the representable range
 * 1980-01-01..2107-12-31. CS: creation time in 10 ms units, which carries
 * the odd second that the 2-second time field cannot. */
static void fat_time(time_t t, uint16_t *date, uint16_t *time, uint8_t *cs)
{
	int64_t clamped = MIN(MAX((int64_t)t, FAT_TIME_MIN), FAT_TIME_MAX);
	struct tm tm;

	t = clamped;
	gmtime_r(&t, &tm);
	*date = (tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday;
	*time = tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2;
	*cs = (tm.tm_sec & 1) * 100;
}

/* A 32-byte 8.3 directory entry. */
static void put_dirent(uint8_t *e, const uint8_t name[11], uint8_t attr, uint32_t cluster,
		       uint32_t size, time_t mtime)
{
	uint16_t date, time;
	uint8_t cs;

	fat_time(mtime, &date, &time, &cs);
	memcpy(e, name, 11);
	e[11] = attr;
	e[12] = 0;	     /* no NT case flags: lower case has a long name */
	e[13] = cs;	     /* creation time, 10 ms units */
	put16(e + 14, time); /* creation time */
	put16(e + 16, date); /* creation date */
	put16(e + 18, date); /* access date */
	put16(e + 20, cluster >> 16);
	put16(e + 22, time); /* write time */
	put16(e + 24, date); /* write date */
	put16(e + 26, cluster & 0xFFFF);
	put32(e + 28, size);
}

/* Clusters a directory with ENTRIES 32-byte entries takes. */
static uint32_t dir_clusters(const struct fat_writer *w, uint32_t entries)
{
	return MAX(1u, DIV_ROUND_UP(entries * DIR_ENTRY, w->cluster_bytes));
}

static uint32_t avail_clusters(const struct fat_writer *w)
{
	return w->clusters - (w->next_free - ROOT_CLUSTER) - w->dir_reserve;
}

static uint32_t alloc_run(struct fat_writer *w, uint32_t len)
{
	uint32_t start = w->next_free;

	ARRAY_PUSH(w->runs, w->nruns, w->capruns, ((struct run){ start, len, FAT_EOC }));
	w->next_free += len;
	return start;
}

static void node_free(struct fat_node *n)
{
	for (size_t i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->uname);
	free(n);
}

/* Adds child U to D, reserving its clusters: its data if a file, its first
 * cluster if a directory, and D's growth. */
static int add_child(struct fat_writer *w, struct fat_node *d, const uint16_t *u, size_t ulen,
		     bool is_dir, uint64_t size, time_t mtime, struct fat_node **ret)
{
	struct fat_node *n;
	uint32_t data, grow, entries;

	if (size > UINT32_MAX)
		return -EFBIG;
	if (fat_find_child(d, u, ulen))
		return -EEXIST;
	n = xcalloc(1, sizeof(*n));
	n->uname = xmalloc(ulen * sizeof(*u));
	memcpy(n->uname, u, ulen * sizeof(*u));
	n->ulen = ulen;
	fat_make_short_name(d, n);
	entries = d->entries + 1 + n->nlfn;
	data = DIV_ROUND_UP(size, w->cluster_bytes);
	grow = dir_clusters(w, entries) - dir_clusters(w, d->entries) + is_dir;
	if (entries > DIR_MAX_ENTRIES || (uint64_t)data + grow > avail_clusters(w)) {
		node_free(n);
		return entries > DIR_MAX_ENTRIES ? -EMLINK : -ENOSPC;
	}

	n->parent = d;
	n->dir = is_dir;
	n->size = size;
	n->mtime = mtime;
	n->entries = 2; /* "." and ".." */
	if (data)
		n->cluster = alloc_run(w, data);
	w->dir_reserve += grow;
	d->entries = entries;
	ARRAY_PUSH(d->kids, d->nkids, d->capkids, n);
	*ret = n;
	return 0;
}

/* Finds or creates the directories of the first LEN bytes of PATH
 * ('/'-separated, empty components ignored). */
static int walk(struct fat_writer *w, const char *path, size_t len, time_t mtime,
		struct fat_node **ret)
{
	struct fat_node *d = w->root, *c;
	uint16_t u[LFN_MAX];
	size_t ulen;
	int r;

	if (w->finished)
		return -EINVAL;
	for (size_t i = 0, n; i < len; i += n + 1) {
		n = strcspn(path + i, "/");
		if (n == 0)
			continue;
		r = fat_utf8_to_ucs2(path + i, n, u, &ulen);
		if (r < 0)
			return r;
		c = fat_find_child(d, u, ulen);
		if (!c) {
			r = add_child(w, d, u, ulen, true, 0, mtime, &c);
			if (r < 0)
				return r;
		} else if (!c->dir)
			return -ENOTDIR;
		d = c;
	}
	*ret = d;
	return 0;
}

int fat_mkdir(struct fat_writer *w, const char *path, time_t mtime)
{
	struct fat_node *d;

	return walk(w, path, strlen(path), mtime, &d);
}

int fat_file_open(struct fat_writer *w, const char *path, uint64_t size, time_t mtime,
		  struct fat_file **ret)
{
	const char *leaf = strrchr(path, '/');
	size_t dir_len = leaf ? (size_t)(leaf - path) : 0, ulen = 0;
	struct fat_node *d, *n = NULL;
	uint16_t u[LFN_MAX];
	int r;

	leaf = leaf ? leaf + 1 : path;
	r = walk(w, path, dir_len, mtime, &d);
	if (r >= 0)
		r = fat_utf8_to_ucs2(leaf, strlen(leaf), u, &ulen);
	if (r >= 0)
		r = add_child(w, d, u, ulen, false, size, mtime, &n);
	if (r < 0)
		return r;
	*ret = xmalloc(sizeof(**ret));
	**ret = (struct fat_file){ .w = w, .n = n };
	w->open_files++;
	return 0;
}

static uint64_t cluster_offset(const struct fat_writer *w, uint32_t cluster)
{
	return w->offset + (uint64_t)w->data_sector * SECTOR +
	       (uint64_t)(cluster - ROOT_CLUSTER) * w->cluster_bytes;
}

int fat_file_write(struct fat_file *f, const void *buf, size_t len)
{
	struct fat_writer *w = f->w;
	uint64_t off = cluster_offset(w, f->n->cluster) + f->pos;
	size_t tail;
	int r;

	if (f->bad || len > f->n->size - f->pos) {
		f->bad = true;
		return -EIO;
	}
	r = len ? pwrite_full(w->fd, buf, len, off) : 0;
	f->pos += len;
	/* Complete: zero the rest of the last cluster explicitly. */
	tail = f->pos % w->cluster_bytes;
	if (r >= 0 && len && f->pos == f->n->size && tail)
		r = pwrite_full(w->fd, zeros, w->cluster_bytes - tail, off + len);
	if (r < 0)
		f->bad = true;
	return r;
}

int fat_file_close(struct fat_file *f)
{
	int r = f->bad || f->pos != f->n->size ? -EIO : 0;

	f->w->open_files--;
	free(f);
	return r;
}

int fat_add_file(struct fat_writer *w, const char *path, const void *data, uint64_t size,
		 time_t mtime)
{
	struct fat_file *f;
	int r, q;

	if (size > SIZE_MAX)
		return -EFBIG;
	r = fat_file_open(w, path, size, mtime, &f);
	if (r < 0)
		return r;
	r = fat_file_write(f, data, size);
	q = fat_file_close(f);
	return r < 0 ? r : q;
}

uint64_t fat_free_bytes(const struct fat_writer *w)
{
	return (uint64_t)avail_clusters(w) * w->cluster_bytes;
}

/* Long-name entries for N, last part first, then its 8.3 entry. */
static uint8_t *put_child(uint8_t *e, const struct fat_node *n)
{
	e = fat_put_lfn(e, n);
	put_dirent(e, n->sname, n->dir ? ATTR_DIR : ATTR_ARCHIVE, n->cluster, n->dir ? 0 : n->size,
		   n->mtime);
	return e + DIR_ENTRY;
}

/* Allocates the clusters of D's subdirectories, writes D (N clusters,
 * already allocated), then recurses into the subdirectories. The order
 * depends only on the tree, so the layout is deterministic. */
static int write_dir(struct fat_writer *w, const struct fat_node *d, uint32_t n)
{
	_cleanup_free_ uint8_t *buf = xcalloc(n, w->cluster_bytes);
	const struct fat_node *p = d->parent;
	uint8_t *e = buf;
	int r;

	for (size_t i = 0; i < d->nkids; i++)
		if (d->kids[i]->dir) {
			uint32_t c = dir_clusters(w, d->kids[i]->entries);

			d->kids[i]->cluster = alloc_run(w, c);
			w->dir_reserve -= c;
		}
	if (!p && w->has_label)
		put_dirent(e, w->label, ATTR_VOLUME, 0, 0, w->mtime);
	if (p) {
		put_dirent(e, (const uint8_t *)".          ", ATTR_DIR, d->cluster, 0, d->mtime);
		/* ".." of a child of the root points to cluster 0 */
		put_dirent(e + DIR_ENTRY, (const uint8_t *)"..         ", ATTR_DIR,
			   p->parent ? p->cluster : 0, 0, p->mtime);
	}
	e += (p ? 2 : w->has_label) * DIR_ENTRY;
	for (size_t i = 0; i < d->nkids; i++)
		e = put_child(e, d->kids[i]);

	/* The root's first cluster is 2, the rest follows its chain. */
	r = pwrite_full(w->fd, buf, p ? (size_t)n * w->cluster_bytes : w->cluster_bytes,
			cluster_offset(w, d->cluster));
	if (r >= 0 && !p && n > 1)
		r = pwrite_full(w->fd, buf + w->cluster_bytes, (size_t)(n - 1) * w->cluster_bytes,
				cluster_offset(w, w->runs[0].next));
	for (size_t i = 0; r >= 0 && i < d->nkids; i++)
		if (d->kids[i]->dir)
			r = write_dir(w, d->kids[i], dir_clusters(w, d->kids[i]->entries));
	return r;
}

/* Both FAT copies, every sector, generated from the runs 1 MiB at a time. */
static int write_fats(struct fat_writer *w)
{
	_cleanup_free_ uint8_t *buf = xmalloc(IO_CHUNK);
	uint64_t fat_bytes = (uint64_t)w->fat_sectors * SECTOR;
	uint32_t c = 0;
	size_t ri = 0;

	for (uint64_t done = 0; done < fat_bytes;) {
		size_t len = MIN(IO_CHUNK, fat_bytes - done);
		int r;

		for (size_t i = 0; i < len; i += 4, c++) {
			uint32_t v = 0;

			while (ri < w->nruns && c >= w->runs[ri].start + w->runs[ri].len)
				ri++;
			if (c == 0)
				v = 0x0FFFFF00 | MEDIA;
			else if (c == 1)
				v = FAT_EOC; /* clean, no I/O errors */
			else if (ri < w->nruns && c >= w->runs[ri].start)
				v = c + 1 == w->runs[ri].start + w->runs[ri].len ? w->runs[ri].next
										 : c + 1;
			put32(buf + i, v);
		}
		for (uint32_t k = 0; k < NUM_FATS; k++) {
			r = pwrite_full(w->fd, buf, len,
					w->offset +
						(RESERVED_SECTORS + (uint64_t)k * w->fat_sectors) *
							SECTOR +
						done);
			if (r < 0)
				return r;
		}
		done += len;
	}
	return 0;
}

/* Boot sector and FSInfo (sectors 0 and 1), and their backups (6 and 7). */
static void put_reserved(const struct fat_writer *w, uint8_t *res)
{
	uint32_t used = w->next_free - ROOT_CLUSTER;

	for (unsigned copy = 0; copy < 2; copy++) {
		uint8_t *b = res + copy * BACKUP_BOOT_SECTOR * SECTOR, *fsi = b + SECTOR;

		memcpy(b,
		       "\xEB\x58\x90"
		       "farm    ",
		       11); /* jump over the BPB, OEM name */
		put16(b + 11, SECTOR);
		b[13] = w->spc;
		put16(b + 14, RESERVED_SECTORS);
		b[16] = NUM_FATS;
		/* 17: root entries, 19: 16-bit sector count, 22: 16-bit FAT size: 0 */
		b[21] = MEDIA;
		put16(b + 24, 32);		   /* sectors per track */
		put16(b + 26, 64);		   /* heads */
		put32(b + 28, w->offset / SECTOR); /* hidden sectors */
		put32(b + 32, w->total_sectors);
		put32(b + 36, w->fat_sectors);
		/* 40: flags 0 = FATs mirrored, 42: version 0.0 */
		put32(b + 44, ROOT_CLUSTER);
		put16(b + 48, 1); /* FSInfo sector */
		put16(b + 50, BACKUP_BOOT_SECTOR);
		b[64] = 0x80; /* drive number */
		b[66] = 0x29; /* extended boot signature */
		put32(b + 67, w->serial);
		memcpy(b + 71, w->label, 11);
		memcpy(b + 82, "FAT32   ", 8);
		put16(b + 510, 0xAA55);

		put32(fsi, 0x41615252);
		put32(fsi + 484, 0x61417272);
		put32(fsi + 488, w->clusters - used); /* free clusters */
		put32(fsi + 492, used < w->clusters ? w->next_free : 0xFFFFFFFF);
		put32(fsi + 508, 0xAA550000);
	}
}

int fat_finish(struct fat_writer *w)
{
	uint32_t n = dir_clusters(w, w->root->entries);
	_cleanup_free_ uint8_t *res = NULL;
	int r;

	if (w->finished || w->open_files)
		return w->finished ? -EINVAL : -EBUSY;
	w->finished = true;

	if (n > 1) {
		w->runs[0].next = alloc_run(w, n - 1);
		w->dir_reserve -= n - 1;
	}
	r = write_dir(w, w->root, n);
	if (r >= 0)
		r = write_fats(w);
	if (r < 0)
		return r;

	/* The reserved sectors last, so that an interrupted run does not
	 * leave something that looks like a filesystem. */
	res = xcalloc(RESERVED_SECTORS, SECTOR);
	put_reserved(w, res);
	return pwrite_full(w->fd, res, RESERVED_SECTORS * SECTOR, w->offset);
}

/* FAT size and cluster count for SECTORS with SPC sectors per cluster. The
 * FAT covers clusters + 2 entries and is rounded so that the data area
 * starts on a cluster boundary. Returns false if nothing fits. */
static bool geometry(uint32_t sectors, uint32_t spc, uint32_t *fat_sectors, uint32_t *clusters)
{
	uint32_t fat = 0;

	for (;;) {
		uint64_t used = RESERVED_SECTORS + (uint64_t)NUM_FATS * fat, need;

		if (used >= sectors)
			return false;
		*clusters = (sectors - used) / spc;
		need = DIV_ROUND_UP(((uint64_t)*clusters + 2) * 4, SECTOR);
		/* 32 + 2 * need sectors must be a multiple of spc */
		need = ALIGN_UP(need, MAX(spc / 2, 1u));
		if (need <= fat)
			break;
		fat = need;
	}
	*fat_sectors = fat;
	return true;
}

int fat_new(int fd, const struct fat_params *params, struct fat_writer **ret)
{
	uint64_t sectors = params->size / SECTOR;
	uint32_t spc, fat_sectors = 0, clusters = 0;
	struct fat_writer *w;
	uint8_t label[11];

	if (fd < 0 || params->offset % SECTOR || params->offset / SECTOR > UINT32_MAX ||
	    sectors > UINT32_MAX || fat_parse_label(params->label, label) < 0)
		return -EINVAL;
	/* Largest cluster up to 4 KiB that still gives a FAT32 cluster count. */
	for (spc = MAX_CLUSTER_BYTES / SECTOR; spc > 0; spc /= 2)
		if (geometry(sectors, spc, &fat_sectors, &clusters) &&
		    clusters >= FAT32_MIN_CLUSTERS && clusters <= FAT32_MAX_CLUSTERS)
			break;
	if (spc == 0)
		return -EINVAL;

	w = xcalloc(1, sizeof(*w));
	*w = (struct fat_writer){
		.fd = fd,
		.offset = params->offset,
		.total_sectors = sectors,
		.fat_sectors = fat_sectors,
		.data_sector = RESERVED_SECTORS + NUM_FATS * fat_sectors,
		.spc = spc,
		.cluster_bytes = spc * SECTOR,
		.clusters = clusters,
		.serial = params->serial,
		.has_label = params->label && *params->label,
		.mtime = params->mtime,
		.next_free = ROOT_CLUSTER,
	};
	memcpy(w->label, w->has_label ? label : (const uint8_t *)"NO NAME    ", 11);
	w->root = xcalloc(1, sizeof(*w->root));
	w->root->dir = true;
	w->root->mtime = params->mtime;
	w->root->entries = w->has_label;
	w->root->cluster = alloc_run(w, 1);
	*ret = w;
	return 0;
}

void fat_free(struct fat_writer *w)
{
	if (!w)
		return;
	node_free(w->root);
	free(w->runs);
	free(w);
}
