/* SPDX-License-Identifier: MIT */
/* builder/zst.c: the frame it writes, with the middle of long runs of
 * zeros as RLE blocks of its own between libzstd's, decoded by libzstd
 * (which checks the content checksum) and compared with the content, for
 * runs at the start, in the middle and at the end, around the length at
 * which a run is cut, and a content over 4 GiB (the header's 8-byte
 * size). */
#include "unit.h"
#include "util.h"
#include "zst.h"

#include <zstd.h>

/* What zst.c feeds libzstd of a run before the rest becomes RLE blocks:
 * its window (2^19) and a block (2^17). */
#define EDGE ((uint64_t)(1 << 19) + (1 << 17))

struct seg {
	bool zeros;
	uint64_t len;
	unsigned seed; /* of the data; equal seeds, equal data; 0: zeros given as data */
};

struct buf {
	uint8_t *p;
	size_t n, cap;
	int fail_at; /* the sink's call that fails, 0 for none */
	int calls;
};

static int sink(void *opaque, const void *data, size_t len)
{
	struct buf *b = opaque;

	if (++b->calls == b->fail_at)
		return -EIO;
	if (b->n + len > b->cap) {
		b->cap = MAX(b->cap * 2, b->n + len);
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, data, len);
	b->n += len;
	return 0;
}

/* Data that compresses a little, and repeats itself for a given seed, so
 * that libzstd would refer back across a run if it could. */
static void fill(uint8_t *p, size_t len, unsigned seed, uint64_t at)
{
	if (!seed) {
		memset(p, 0, len);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		uint64_t x = (at + i) / 8 * 0x9E3779B97F4A7C15ull + seed * 0xBF58476D1CE4E5B9ull;
		p[i] = (uint8_t)((x >> 29) & 0x3f);
	}
}

/* What libzstd should be given: the data, and of each run of zeros (holes
 * and zeros given as data alike) its first EDGE bytes. */
static uint64_t expect_compressed(const struct seg *s, size_t n)
{
	uint64_t bytes = 0;
	for (size_t i = 0; i < n;) {
		uint64_t run = 0;
		if (!s[i].zeros && s[i].seed) {
			bytes += s[i++].len;
			continue;
		}
		while (i < n && (s[i].zeros || !s[i].seed))
			run += s[i++].len;
		bytes += MIN(run, EDGE);
	}
	return bytes;
}

static uint64_t total(const struct seg *s, size_t n)
{
	uint64_t t = 0;
	for (size_t i = 0; i < n; i++)
		t += s[i].len;
	return t;
}

static uint64_t compressed; /* by the last encode() */

static int encode(const struct seg *s, size_t n, uint64_t size, struct buf *out)
{
	struct zst *z = NULL;
	static uint8_t chunk[1 << 20];
	int r = zst_new("test", size, sink, out, &z);

	for (size_t i = 0; r >= 0 && i < n; i++) {
		if (s[i].zeros) {
			r = zst_zeros(z, s[i].len);
			continue;
		}
		for (uint64_t at = 0; r >= 0 && at < s[i].len; at += sizeof(chunk)) {
			size_t k = (size_t)MIN(s[i].len - at, (uint64_t)sizeof(chunk));
			fill(chunk, k, s[i].seed, at);
			r = zst_data(z, chunk, k);
		}
	}
	if (r >= 0)
		r = zst_end(z);
	compressed = z ? zst_compressed(z) : 0;
	zst_free(z);
	return r;
}

/* Decodes OUT with libzstd and compares it with the segments: "" when
 * they agree, else what differs. */
static const char *decode(const struct buf *in, const struct seg *s, size_t n)
{
	static char why[160];
	static uint8_t got[1 << 17], want[1 << 17];
	ZSTD_DCtx *d = ZSTD_createDCtx();
	ZSTD_inBuffer ib = { in->p, in->n, 0 };
	size_t seg = 0, rem = 1;
	uint64_t in_seg = 0, pos = 0;

	why[0] = 0;
	while (!why[0] && (ib.pos < ib.size || rem != 0)) {
		ZSTD_outBuffer ob = { got, sizeof(got), 0 };
		rem = ZSTD_decompressStream(d, &ob, &ib);
		if (ZSTD_isError(rem)) {
			snprintf(why, sizeof(why), "libzstd: %s at %llu", ZSTD_getErrorName(rem),
				 (unsigned long long)pos);
			break;
		}
		for (size_t i = 0; i < ob.pos;) {
			size_t k;
			while (seg < n && in_seg == s[seg].len)
				seg++, in_seg = 0;
			if (seg == n) {
				snprintf(why, sizeof(why), "content past the end at %llu",
					 (unsigned long long)pos);
				break;
			}
			k = (size_t)MIN((uint64_t)(ob.pos - i), s[seg].len - in_seg);
			if (s[seg].zeros)
				memset(want, 0, k);
			else
				fill(want, k, s[seg].seed, in_seg);
			if (memcmp(got + i, want, k) != 0) {
				snprintf(why, sizeof(why), "content differs near %llu",
					 (unsigned long long)pos);
				break;
			}
			i += k, in_seg += k, pos += k;
		}
		if (!ob.pos && ib.pos == ib.size && rem != 0) {
			snprintf(why, sizeof(why), "the frame ends early, at %llu",
				 (unsigned long long)pos);
			break;
		}
	}
	if (!why[0] && pos != total(s, n))
		snprintf(why, sizeof(why), "%llu bytes decoded of %llu", (unsigned long long)pos,
			 (unsigned long long)total(s, n));
	ZSTD_freeDCtx(d);
	return why;
}

static void check_case(const char *name, const struct seg *s, size_t n)
{
	struct buf out = { 0 }, again = { 0 };
	uint64_t size = total(s, n);
	char what[200];
	int r = encode(s, n, size, &out);

	snprintf(what, sizeof(what), "%s: encoded", name);
	CHECK(what, r == 0);
	if (r == 0) {
		snprintf(what, sizeof(what), "%s: one frame, the whole file", name);
		CHECK(what, ZSTD_findFrameCompressedSize(out.p, out.n) == out.n);
		snprintf(what, sizeof(what), "%s: the content's size in the header", name);
		CHECK(what, ZSTD_getFrameContentSize(out.p, out.n) == size);
		snprintf(what, sizeof(what), "%s: libzstd decodes the content", name);
		CHECK_STR(what, "", decode(&out, s, n));
		snprintf(what, sizeof(what),
			 "%s: libzstd given the data and each run's first bytes", name);
		CHECK(what, compressed == expect_compressed(s, n));
		r = encode(s, n, size, &again);
		snprintf(what, sizeof(what), "%s: the same bytes twice", name);
		CHECK(what, r == 0 && again.n == out.n && memcmp(again.p, out.p, out.n) == 0);
	}
	free(out.p);
	free(again.p);
}

int main(void)
{
	const struct seg tiny[] = { { false, 100, 1 } };
	const struct seg middle[] = { { false, 300000, 1 },
				      { true, 3 << 20, 0 },
				      { false, 300000, 1 } };
	const struct seg first[] = { { true, 10 << 20, 0 }, { false, 70000, 2 } };
	const struct seg last[] = { { false, 70000, 2 }, { true, 10 << 20, 0 } };
	const struct seg only[] = { { true, 20 << 20, 0 } };
	const struct seg at_cut[] = { { false, 4096, 3 }, { true, EDGE, 0 },
				      { false, 4096, 3 }, { true, EDGE + 1, 0 },
				      { false, 1, 4 },	  { true, EDGE + 4097, 0 },
				      { false, 1, 4 },	  { true, 1, 0 },
				      { false, 12345, 5 } };
	/* the same short data on both sides of runs just long enough to be
	 * cut: a reference back across one would decode to zeros */
	const struct seg across[] = { { false, 100000, 6 },
				      { true, EDGE + 1, 0 },
				      { false, 100000, 6 },
				      { true, EDGE + 777, 0 },
				      { false, 100000, 6 } };
	/* zeros given as data join the runs around them */
	const struct seg explicit[] = { { false, 5000, 8 },   { false, 3 << 20, 0 },
					{ true, 1 << 20, 0 }, { false, 1 << 20, 0 },
					{ false, 5000, 8 },   { false, 4096, 0 } };
	const struct seg big[] = { { false, 5000, 7 },
				   { true, (4ull << 30) + 12345, 0 },
				   { false, 5000, 7 } };

	check_case("a content smaller than a block", tiny, ELEMENTSOF(tiny));
	check_case("a run in the middle", middle, ELEMENTSOF(middle));
	check_case("a run first", first, ELEMENTSOF(first));
	check_case("a run last", last, ELEMENTSOF(last));
	check_case("only zeros", only, ELEMENTSOF(only));
	check_case("runs around the length that is cut", at_cut, ELEMENTSOF(at_cut));
	check_case("the same data across runs", across, ELEMENTSOF(across));
	check_case("zeros given as data", explicit, ELEMENTSOF(explicit));
	check_case("over 4 GiB", big, ELEMENTSOF(big));

	{
		struct buf out = { 0 };
		struct seg s[] = { { false, 1000, 1 } };
		CHECK("less content than the size: refused", encode(s, 1, 1001, &out) < 0);
		free(out.p);
		out = (struct buf){ 0 };
		CHECK("more content than the size: refused", encode(s, 1, 999, &out) < 0);
		free(out.p);
		out = (struct buf){ 0 };
		CHECK("an empty image: refused", encode(s, 0, 0, &out) < 0);
		free(out.p);
		out = (struct buf){ .fail_at = 1 };
		CHECK("a failed write of the header: its error",
		      encode(middle, ELEMENTSOF(middle), total(middle, ELEMENTSOF(middle)), &out) ==
			      -EIO);
		free(out.p);
		out = (struct buf){ .fail_at = 2 };
		CHECK("a failed write: its error",
		      encode(middle, ELEMENTSOF(middle), total(middle, ELEMENTSOF(middle)), &out) ==
			      -EIO);
		free(out.p);
	}
	{
		struct buf out = { 0 };
		uint64_t size = total(middle, ELEMENTSOF(middle));
		CHECK("a corrupted checksum: encoded",
		      encode(middle, ELEMENTSOF(middle), size, &out) == 0);
		out.p[out.n - 1] ^= 1;
		CHECK("a corrupted checksum: libzstd refuses it",
		      strstr(decode(&out, middle, ELEMENTSOF(middle)), "checksum") != NULL);
		free(out.p);
	}
	return UNIT_EXIT();
}
