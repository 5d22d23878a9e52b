/* SPDX-License-Identifier: MIT */
/* FAT reader, see source-fat.h.
 *
 * Layout, in sectors from the start of the filesystem: the reserved sectors
 * (boot sector first), NFATS copies of the FAT, the root directory (FAT12
 * and FAT16 only, a fixed region), then the data area, whose first cluster
 * is number 2. Whether the FAT is FAT12, FAT16 or FAT32 follows from the
 * number of clusters alone, as Microsoft's specification says.
 *
 * A chain that loops never ends: a chain is followed at most as many steps
 * as the filesystem has clusters, and one that is longer must loop. */
#include "source-fat.h"
#include "util.h"

#include <stdarg.h>

#define DIR_ENTRY	32u
#define DIR_MAX_BYTES	(65536u * DIR_ENTRY) /* FAT limit: 65536 entries a directory */
#define LFN_CHARS	13u		     /* UCS-2 characters per long-name entry */
#define LFN_MAX_SLOTS	20u		     /* 255 characters */
#define ATTR_VOLUME	0x08u
#define ATTR_DIR	0x10u
#define ATTR_LFN	0x0Fu
#define CASE_LOWER_BASE 0x08u
#define CASE_LOWER_EXT	0x10u
#define MAX_CLUSTER	(64 * 1024u)
#define FAT_EPOCH	INT64_C(315532800) /* 1980-01-01, for dates that are not dates */
#define WINDOW		4096u

struct fatr {
	int fd;
	uint64_t offset;
	unsigned bits;
	uint32_t cluster_bytes, clusters; /* clusters in the data area: 2..clusters+1 */
	uint64_t fat_off, fat_bytes;	  /* the FAT in use, relative to offset */
	uint64_t root_off;		  /* FAT12/16: the root directory region */
	uint32_t root_bytes, root_cluster;
	uint64_t data_off;
	uint8_t window[WINDOW + 4]; /* cached part of the FAT */
	uint64_t window_off, window_len;
	char err[256];
};

static int fail(struct fatr *f, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(struct fatr *f, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->err, sizeof(f->err), fmt, ap);
	va_end(ap);
	return r;
}

const char *fatr_last_error(const struct fatr *f) { return f->err; }
unsigned fatr_bits(const struct fatr *f) { return f->bits; }
uint32_t fatr_root_cluster(const struct fatr *f) { return f->bits == 32 ? f->root_cluster : 0; }

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return get16(p) | (uint32_t)get16(p + 2) << 16; }

static bool is_cluster(const struct fatr *f, uint32_t c) { return c >= 2 && c <= f->clusters + 1; }

/* The cluster after C in its chain, or 0 at the end of the chain. */
static int next_cluster(struct fatr *f, uint32_t c, uint32_t *next)
{
	uint64_t off = f->bits == 12 ? (uint64_t)c + c / 2 : (uint64_t)c * (f->bits / 8);
	uint32_t v, eoc;
	int r;

	if (!f->window_len || off < f->window_off || off + 4 > f->window_off + f->window_len) {
		f->window_off = off & ~(uint64_t)(WINDOW - 1);
		f->window_len = MIN((uint64_t)sizeof(f->window), f->fat_bytes - f->window_off);
		r = pread_full(f->fd, f->window, f->window_len,
			       f->offset + f->fat_off + f->window_off);
		if (r < 0) {
			f->window_len = 0;
			return fail(f, r, "cannot read the FAT: %s", strerror(-r));
		}
	}
	off -= f->window_off;
	if (f->bits == 12) {
		v = get16(f->window + off);
		v = c & 1 ? v >> 4 : v & 0xFFF;
		eoc = 0xFF8;
	} else if (f->bits == 16) {
		v = get16(f->window + off);
		eoc = 0xFFF8;
	} else {
		v = get32(f->window + off) & 0x0FFFFFFF;
		eoc = 0x0FFFFFF8;
	}
	if (v >= eoc) {
		*next = 0;
		return 0;
	}
	if (v == eoc - 1)
		return fail(f, -EIO, "cluster %u links to a cluster marked bad", c);
	if (v < 2)
		return fail(f, -EIO, "cluster %u links to %s cluster %u", c,
			    v ? "reserved" : "free", v);
	if (v > f->clusters + 1)
		return fail(f, -EIO,
			    "cluster %u links to cluster %u, past the end of the data area", c, v);
	*next = v;
	return 0;
}

/* Follows the whole chain from START: its length in clusters. */
static int chain_length(struct fatr *f, uint32_t start, uint32_t *len)
{
	uint32_t c = start, n = 0;
	int r;

	if (!is_cluster(f, start))
		return fail(f, -EIO, "first cluster %u is outside the data area", start);
	while (c) {
		if (n++ == f->clusters)
			return fail(f, -ELOOP, "the cluster chain from cluster %u loops", start);
		r = next_cluster(f, c, &c);
		if (r < 0)
			return r;
	}
	*len = n;
	return 0;
}

static uint64_t cluster_pos(const struct fatr *f, uint32_t c)
{
	return f->offset + f->data_off + (uint64_t)(c - 2) * f->cluster_bytes;
}

int fatr_open(int fd, uint64_t offset, uint64_t size, struct fatr **ret)
{
	struct fatr *f = xcalloc(1, sizeof(*f));
	uint32_t bps, spc, reserved, nfats, root_entries, total, fat_sectors, fat_index = 0;
	uint64_t data_sector, need;
	uint8_t b[512];
	int r;

	*ret = f;
	f->fd = fd;
	f->offset = offset;
	r = pread_full(fd, b, sizeof(b), offset);
	if (r < 0)
		return fail(f, r == -EIO ? -EINVAL : r, "cannot read the boot sector");
	if (get16(b + 510) != 0xAA55)
		return fail(f, -EINVAL, "the boot sector has no 55 AA signature");
	bps = get16(b + 11);
	spc = b[13];
	reserved = get16(b + 14);
	nfats = b[16];
	root_entries = get16(b + 17);
	total = get16(b + 19) ? get16(b + 19) : get32(b + 32);
	fat_sectors = get16(b + 22) ? get16(b + 22) : get32(b + 36);
	if (bps < 512 || bps > 4096 || (bps & (bps - 1)))
		return fail(f, -EINVAL, "bad sector size %u", bps);
	if (!spc || (spc & (spc - 1)) || bps * spc > MAX_CLUSTER)
		return fail(f, -EINVAL, "bad cluster size (%u sectors)", spc);
	if (!reserved || !nfats || nfats > 4 || !total || !fat_sectors)
		return fail(f, -EINVAL, "the boot sector's geometry is not that of a FAT");
	if (b[21] != 0xF0 && b[21] < 0xF8)
		return fail(f, -EINVAL, "bad media byte 0x%02X", b[21]);
	if ((uint64_t)total * bps > size)
		return fail(f, -EINVAL,
			    "the filesystem (%llu bytes) is larger than its partition "
			    "(%llu bytes)",
			    (unsigned long long)total * bps, (unsigned long long)size);
	f->root_bytes = root_entries * DIR_ENTRY;
	data_sector = reserved + (uint64_t)nfats * fat_sectors + DIV_ROUND_UP(f->root_bytes, bps);
	if (data_sector >= total)
		return fail(f, -EINVAL, "the FAT leaves no room for a data area");
	f->clusters = (uint32_t)((total - data_sector) / spc);
	f->bits = f->clusters < 4085 ? 12 : f->clusters < 65525 ? 16 : 32;
	if (f->bits == 32) {
		if (get16(b + 22) || root_entries || get16(b + 42) || f->clusters > 0x0FFFFFF5)
			return fail(f, -EINVAL, "inconsistent FAT32 boot sector");
		if (get16(b + 40) & 0x80) /* mirroring off: one active FAT */
			fat_index = get16(b + 40) & 0x0F;
		f->root_cluster = get32(b + 44);
		if (fat_index >= nfats || !is_cluster(f, f->root_cluster))
			return fail(f, -EINVAL, "bad FAT32 root cluster or active FAT");
	} else if (!root_entries || !get16(b + 22)) {
		return fail(f, -EINVAL, "inconsistent FAT%u boot sector", f->bits);
	}
	need = f->bits == 12 ? DIV_ROUND_UP(((uint64_t)f->clusters + 2) * 3, 2)
			     : ((uint64_t)f->clusters + 2) * (f->bits / 8);
	f->fat_bytes = (uint64_t)fat_sectors * bps;
	if (need > f->fat_bytes)
		return fail(f, -EINVAL, "the FAT is too small for %u clusters", f->clusters);
	f->fat_off = (reserved + (uint64_t)fat_index * fat_sectors) * bps;
	f->root_off = (reserved + (uint64_t)nfats * fat_sectors) * bps;
	f->data_off = data_sector * bps;
	f->cluster_bytes = bps * spc;
	return 0;
}

void fatr_free(struct fatr *f) { free(f); }

void fatr_entries_free(struct fatr_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(e[i].name);
	free(e);
}

static void put_utf8(char **p, uint32_t cp)
{
	uint8_t *o = (uint8_t *)*p;

	if (cp < 0x80) {
		*o++ = (uint8_t)cp;
	} else if (cp < 0x800) {
		*o++ = (uint8_t)(0xC0 | cp >> 6);
		*o++ = (uint8_t)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		*o++ = (uint8_t)(0xE0 | cp >> 12);
		*o++ = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
		*o++ = (uint8_t)(0x80 | (cp & 0x3F));
	} else {
		*o++ = (uint8_t)(0xF0 | cp >> 18);
		*o++ = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
		*o++ = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
		*o++ = (uint8_t)(0x80 | (cp & 0x3F));
	}
	*p = (char *)o;
}

/* A long name (UTF-16, up to its NUL) as UTF-8; NULL if it is not a name. */
static char *lfn_name(const uint16_t *u, size_t max)
{
	char *name = xmalloc(max * 3 + 1), *p = name;

	for (size_t i = 0; i < max && u[i]; i++) {
		uint32_t cp = u[i];

		if (cp >= 0xD800 && cp < 0xDC00 && i + 1 < max && u[i + 1] >= 0xDC00 &&
		    u[i + 1] < 0xE000)
			cp = 0x10000 + ((cp - 0xD800) << 10) + (u[++i] - 0xDC00);
		else if (cp >= 0xD800 && cp < 0xE000)
			goto bad;
		if (cp < 0x20 || cp == '/' || cp == 0x7F)
			goto bad;
		put_utf8(&p, cp);
	}
	*p = 0;
	if (!*name || streq(name, ".") || streq(name, ".."))
		goto bad;
	return name;
bad:
	free(name);
	return NULL;
}

/* The 8.3 name of entry E with the NT lowercase flags; NULL if it is not a
 * name (8.3 names are ASCII here: no code page is guessed). */
static char *short_name(const uint8_t *e)
{
	char name[13], *p = name;
	size_t nb = 8, ne = 3;

	while (nb && e[nb - 1] == ' ')
		nb--;
	while (ne && e[8 + ne - 1] == ' ')
		ne--;
	if (!nb)
		return NULL;
	for (size_t i = 0; i < nb + ne; i++) {
		size_t k = i < nb ? i : 8 + i - nb;
		uint8_t c = k == 0 && e[0] == 0x05 ? 0xE5 : e[k];
		bool lower = e[12] & (i < nb ? CASE_LOWER_BASE : CASE_LOWER_EXT);

		if (c < 0x20 || c >= 0x7F || c == '/')
			return NULL;
		if (i == nb)
			*p++ = '.';
		*p++ = (char)(lower && c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	*p = 0;
	return xstrdup(name);
}

static int64_t fat_mtime(uint16_t date, uint16_t time)
{
	unsigned y = 1980 + (date >> 9), m = (date >> 5) & 15, d = date & 31;
	unsigned hh = time >> 11, mm = (time >> 5) & 63, ss = (time & 31) * 2;
	unsigned yy = y - (m <= 2), doy, doe;

	if (m < 1 || m > 12 || d < 1 || hh > 23 || mm > 59 || ss > 59)
		return FAT_EPOCH;
	/* Days from 0000-03-01 (Howard Hinnant's days_from_civil). */
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = (yy % 400) * 365 + (yy % 400) / 4 - (yy % 400) / 100 + doy;
	return ((int64_t)(yy / 400) * 146097 + doe - 719468) * 86400 + hh * 3600 + mm * 60 + ss;
}

/* Parses LEN bytes of directory entries. */
static int parse_dir(struct fatr *f, const uint8_t *buf, size_t len, struct fatr_entry **ret,
		     size_t *n)
{
	uint16_t lfn[LFN_MAX_SLOTS * LFN_CHARS];
	static const uint8_t pos[LFN_CHARS] = { 1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30 };
	unsigned slots = 0, expect = 0;
	uint8_t sum = 0;
	size_t cap = 0;

	*ret = NULL;
	*n = 0;
	for (const uint8_t *e = buf; e + DIR_ENTRY <= buf + len && e[0]; e += DIR_ENTRY) {
		struct fatr_entry x;
		uint8_t check = 0;
		unsigned ord = e[0] & 0x1F;

		if (e[0] == 0xE5) {
			slots = 0;
			continue;
		}
		if ((e[11] & 0x3F) == ATTR_LFN) {
			if (e[0] & 0x40) {
				slots = expect = ord <= LFN_MAX_SLOTS ? ord : 0;
				sum = e[13];
			}
			if (!slots || ord != expect || !ord || e[13] != sum) {
				slots = 0;
				continue;
			}
			for (unsigned j = 0; j < LFN_CHARS; j++)
				lfn[(ord - 1) * LFN_CHARS + j] = get16(e + pos[j]);
			expect--;
			continue;
		}
		for (int i = 0; i < 11; i++)
			check = (uint8_t)(((check & 1) << 7) + (check >> 1) + e[i]);
		if ((e[11] & ATTR_VOLUME) || (e[0] == '.' && (e[1] == ' ' || e[1] == '.'))) {
			slots = 0;
			continue;
		}
		x = (struct fatr_entry){
			.dir = e[11] & ATTR_DIR,
			.cluster =
				get16(e + 26) | (f->bits == 32 ? (uint32_t)get16(e + 20) << 16 : 0),
			.size = e[11] & ATTR_DIR ? 0 : get32(e + 28),
			.mtime = fat_mtime(get16(e + 24), get16(e + 22)),
		};
		if (slots && !expect && check == sum)
			x.name = lfn_name(lfn, slots * LFN_CHARS);
		else
			x.name = short_name(e);
		slots = 0;
		if (!x.name) {
			fatr_entries_free(*ret, *n);
			*ret = NULL;
			*n = 0;
			return fail(f, -EILSEQ, "entry %zu has an invalid name",
				    (size_t)(e - buf) / DIR_ENTRY);
		}
		ARRAY_PUSH(*ret, *n, cap, x);
	}
	return 0;
}

int fatr_readdir(struct fatr *f, const struct fatr_entry *dir, struct fatr_entry **ret, size_t *n)
{
	_cleanup_free_ uint8_t *buf = NULL;
	uint32_t start, len, c;
	int r;

	*ret = NULL;
	*n = 0;
	if (dir && !dir->dir)
		return fail(f, -ENOTDIR, "not a directory");
	if (!dir && f->bits != 32) {
		buf = xmalloc(f->root_bytes);
		r = pread_full(f->fd, buf, f->root_bytes, f->offset + f->root_off);
		if (r < 0)
			return fail(f, r, "cannot read the root directory: %s", strerror(-r));
		return parse_dir(f, buf, f->root_bytes, ret, n);
	}
	start = dir ? dir->cluster : f->root_cluster;
	r = chain_length(f, start, &len);
	if (r < 0)
		return r;
	if ((uint64_t)len * f->cluster_bytes > DIR_MAX_BYTES)
		return fail(f, -EFBIG, "the directory is larger than FAT allows (%u clusters)",
			    len);
	buf = xmalloc((size_t)len * f->cluster_bytes);
	c = start;
	for (uint32_t i = 0; i < len; i++) {
		r = pread_full(f->fd, buf + (size_t)i * f->cluster_bytes, f->cluster_bytes,
			       cluster_pos(f, c));
		if (r < 0)
			return fail(f, r, "cannot read directory cluster %u: %s", c, strerror(-r));
		r = next_cluster(f, c, &c);
		if (r < 0)
			return r;
	}
	return parse_dir(f, buf, (size_t)len * f->cluster_bytes, ret, n);
}

int fatr_file_open(struct fatr *f, const struct fatr_entry *e, struct fatr_file *ff)
{
	uint32_t len;
	int r;

	*ff = (struct fatr_file){ .f = f, .size = e->size };
	if (e->dir)
		return fail(f, -EISDIR, "is a directory");
	if (!e->size)
		return 0;
	r = chain_length(f, e->cluster, &len);
	if (r < 0)
		return r;
	/* Exactly as long as the size needs: so that files cannot share a
	 * long chain, and reading them all costs what their sizes say. */
	if (len != DIV_ROUND_UP(e->size, f->cluster_bytes))
		return fail(f, -EIO,
			    "its cluster chain (%u clusters) does not match its size "
			    "(%u bytes)",
			    len, e->size);
	ff->cluster = e->cluster;
	return 0;
}

ssize_t fatr_file_read(struct fatr_file *ff, void *buf, size_t len)
{
	struct fatr *f = ff->f;
	uint32_t cs = f->cluster_bytes, within = ff->pos % cs, last = ff->cluster, next;
	size_t want = MIN(len, (size_t)(ff->size - ff->pos)), n;
	int r;

	if (!want)
		return 0;
	/* Read across clusters that follow each other on disk in one go. */
	n = MIN(want, (size_t)(cs - within));
	while (n < want) {
		r = next_cluster(f, last, &next);
		if (r < 0)
			return r;
		if (next != last + 1)
			break;
		last = next;
		n += MIN((size_t)cs, want - n);
	}
	r = pread_full(f->fd, buf, n, cluster_pos(f, ff->cluster) + within);
	if (r < 0)
		return fail(f, r, "cannot read cluster %u: %s", ff->cluster, strerror(-r));
	ff->pos += (uint32_t)n;
	ff->cluster = last;
	if (ff->pos < ff->size && ff->pos % cs == 0) {
		r = next_cluster(f, last, &ff->cluster);
		if (r < 0)
			return r;
		if (!ff->cluster)
			return fail(f, -EIO, "the cluster chain ends before the file does");
	}
	return (ssize_t)n;
}
