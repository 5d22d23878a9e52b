/* SPDX-License-Identifier: MIT */
/* Names for the FAT32 writer (fat.c), see fat-internal.h.
 *
 * Every name is kept as a VFAT long name (UCS-2) and gets an 8.3 name made
 * the Windows way. Only a name that is valid 8.3 in upper case is stored as
 * the 8.3 entry alone ("KERNEL8.IMG"); any other name gets long-name
 * entries (13 characters each, highest ordinal first, each carrying the
 * checksum of the 8.3 name) followed by its 8.3 entry, whose name is the
 * basis if that is exact and free ("config.txt" as CONFIG.TXT) or else an
 * alias with the smallest free numeric tail ("KERNEL~1.IMG"). That is what
 * Linux's vfat writes (shortname=mixed), so what Raspberry Pi OS's boot
 * partition has: Pi 5 bootloaders before 2024-01-05 sometimes took an 8.3
 * entry without a long name for one (rpi-eeprom issue 514) and then missed
 * the file, and lower-case 8.3 names recorded only in the NT case flags
 * would have been such entries. Aliases depend only on the names already
 * in the directory, so the layout is deterministic. */
#include "fat-internal.h"

#include <errno.h>
#include <string.h>

#include "util.h"

/* Names compare case-insensitively in ASCII only, as Linux vfat does with
 * iocharset=utf8. */
static uint16_t fold(uint16_t c) { return c >= 'a' && c <= 'z' ? c - 32 : c; }

/* Characters allowed in an 8.3 name besides A-Z and 0-9. */
static bool short_char_ok(uint16_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c > ' ' && c < 0x80 && strchr("$%'-_@~`!(){}^#&", c));
}

/* UTF-8 (BMP only, no overlongs or surrogates) to UCS-2, refusing what a
 * FAT long name cannot hold. */
int fat_utf8_to_ucs2(const char *s, size_t len, uint16_t *out, size_t *ret)
{
	size_t n = 0;

	for (size_t i = 0; i < len;) {
		uint8_t c = s[i++];
		/* sequence length - 1; 4-byte sequences are beyond the BMP */
		int k = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : -1;
		uint32_t cp, min;

		if (k < 0)
			return -EINVAL;
		cp = c & (0x7F >> k);
		min = k == 2 ? 0x800 : k == 1 ? 0x80 : 0; /* below: overlong */
		for (; k > 0; k--, i++) {
			if (i >= len || ((uint8_t)s[i] & 0xC0) != 0x80)
				return -EINVAL;
			cp = cp << 6 | ((uint8_t)s[i] & 0x3F);
		}
		if (cp < min || (cp >= 0xD800 && cp <= 0xDFFF))
			return -EINVAL;
		if (cp < 0x20 || cp == 0x7F || (cp < 0x80 && strchr("\"*/:<>?\\|", cp)))
			return -EINVAL;
		if (n == LFN_MAX)
			return -EINVAL;
		out[n++] = cp;
	}
	/* Empty, "." and "..", and trailing dots or spaces (which Windows and
	 * Linux strip) cannot be stored faithfully. */
	if (n == 0 || out[n - 1] == '.' || out[n - 1] == ' ')
		return -EINVAL;
	*ret = n;
	return 0;
}

/* Directories are searched linearly: they hold at most 65536 entries, and
 * a boot partition's a few hundred. */
struct fat_node *fat_find_child(const struct fat_node *d, const uint16_t *u, size_t ulen)
{
	for (size_t i = 0; i < d->nkids; i++) {
		const struct fat_node *k = d->kids[i];
		size_t j = 0;

		while (k->ulen == ulen && j < ulen && fold(k->uname[j]) == fold(u[j]))
			j++;
		if (k->ulen == ulen && j == ulen)
			return d->kids[i];
	}
	return NULL;
}

static bool short_taken(const struct fat_node *d, const uint8_t s[11])
{
	for (size_t i = 0; i < d->nkids; i++)
		if (memcmp(d->kids[i]->sname, s, 11) == 0)
			return true;
	return false;
}

/* The smallest N for which BASE~N.EXT is free in D, in one pass over D:
 * with at most nkids names taken, it is at most nkids + 1. */
static uint32_t free_tail(const struct fat_node *d, const uint8_t *base, size_t nb,
			  const uint8_t ext[3])
{
	_cleanup_free_ bool *used = xcalloc(d->nkids + 2, sizeof(bool));
	uint32_t tail = 1;

	for (size_t i = 0; i < d->nkids; i++) {
		const uint8_t *s = d->kids[i]->sname, *t = memrchr(s, '~', 8);
		size_t keep = t ? (size_t)(t - s) : 0, k = keep + 1;
		uint32_t v = 0;

		if (!t || memcmp(s + 8, ext, 3) != 0 || s[k] == '0')
			continue;
		for (; k < 8 && s[k] >= '0' && s[k] <= '9' && v <= d->nkids; k++)
			v = v * 10 + s[k] - '0';
		if (k == keep + 1 || (k < 8 && s[k] != ' ') || v > d->nkids + 1 ||
		    keep != MIN(nb, 8 - (k - keep)) || memcmp(s, base, keep) != 0)
			continue;
		used[v] = true;
	}
	while (used[tail])
		tail++;
	return tail;
}

/* The basis is made the Windows way: upper case, spaces and leading dots
 * dropped, other characters invalid in 8.3 as '_', base cut to 8 and
 * extension (after the last dot) to 3 characters. If nothing was lost and
 * the basis is free, it is used as is: without a long name when the name
 * has no lower case, else with one ("config.txt", "Config.txt"). Otherwise
 * the alias gets the smallest free numeric tail, "KERNEL~1.IMG". */
void fat_make_short_name(const struct fat_node *d, struct fat_node *n)
{
	uint8_t base[8], ext[3] = "   ";
	size_t nb = 0, ne = 0, start = 0, dot = n->ulen, keep;
	unsigned lower = 0;
	char t[8];
	bool lossy;

	while (start < n->ulen && (n->uname[start] == '.' || n->uname[start] == ' '))
		start++;
	lossy = start > 0;
	for (size_t i = start; i < n->ulen; i++)
		if (n->uname[i] == '.')
			dot = i;
	for (size_t i = start; i < n->ulen; i++) {
		uint16_t c = n->uname[i];
		bool in_ext = i > dot;

		if (i == dot)
			continue;
		if (c == ' ' || c == '.') {
			lossy = true;
			continue;
		}
		lower += c >= 'a' && c <= 'z';
		c = fold(c);
		if (!short_char_ok(c)) {
			c = '_';
			lossy = true;
		}
		if (in_ext ? ne == 3 : nb == 8)
			lossy = true;
		else if (in_ext)
			ext[ne++] = c;
		else
			base[nb++] = c;
	}
	if (nb == 0) {
		base[nb++] = '_';
		lossy = true;
	}

	n->nlfn = DIV_ROUND_UP(n->ulen, LFN_CHARS);
	memset(n->sname, ' ', 11);
	memcpy(n->sname + 8, ext, 3);
	if (!lossy) {
		memcpy(n->sname, base, nb);
		if (!short_taken(d, n->sname)) {
			if (!lower)
				n->nlfn = 0;
			return;
		}
	}
	snprintf(t, sizeof(t), "~%u", free_tail(d, base, nb, ext));
	keep = MIN(nb, 8 - strlen(t));
	memset(n->sname, ' ', 8);
	memcpy(n->sname, base, keep);
	memcpy(n->sname + keep, t, strlen(t));
}

uint8_t *fat_put_lfn(uint8_t *e, const struct fat_node *n)
{
	/* Byte offsets of the 13 characters inside a long-name entry. */
	static const uint8_t pos[LFN_CHARS] = { 1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30 };
	uint8_t sum = 0;

	for (int i = 0; i < 11; i++)
		sum = ((sum & 1) << 7) + (sum >> 1) + n->sname[i];
	for (unsigned i = n->nlfn; i > 0; i--, e += DIR_ENTRY) {
		e[0] = i | (i == n->nlfn ? 0x40 : 0); /* ordinal, 0x40 = last */
		e[11] = ATTR_LFN;
		e[13] = sum;
		for (unsigned j = 0; j < LFN_CHARS; j++) {
			size_t k = (i - 1) * LFN_CHARS + j;

			/* NUL-terminated unless full, then 0xFFFF padding */
			put16(e + pos[j], k < n->ulen ? n->uname[k] : k == n->ulen ? 0 : 0xFFFF);
		}
	}
	return e;
}

int fat_parse_label(const char *label, uint8_t out[11])
{
	size_t len = label ? strlen(label) : 0;

	memset(out, ' ', 11);
	if (len > 11 || (len && label[0] == ' '))
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		uint16_t c = fold((uint8_t)label[i]);

		if (c != ' ' && !short_char_ok(c))
			return -EINVAL;
		out[i] = c;
	}
	return 0;
}
