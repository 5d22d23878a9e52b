/* SPDX-License-Identifier: MIT */
/* Why the RLE blocks between libzstd's are sound (RFC 8878): a compressed
 * block refers only to content within the window behind it (3.1.1.1.2,
 * 3.1.1.5), and libzstd sees the first window's worth of a long run of
 * zeros, and a block more, before the rest of the run becomes RLE blocks.
 * Behind the next block lie zeros as far as any offset reaches, both in
 * what libzstd saw and in what the decoder has decoded; the repeat offsets
 * and entropy tables a later block may reuse belong to compressed blocks
 * only, which an RLE block leaves alone (3.1.1.2, 3.1.1.3.1.1, 3.1.1.5).
 * ZSTD_e_flush ends libzstd's block (and, multithreaded, its job) where
 * the RLE blocks begin; its frame ends with a last block of its own, empty
 * if the content ends in a run. */
#include "zst.h"
#include "log.h"
#include "util.h"

#include <endian.h>
#include <xxhash.h>
#include <zstd.h>

/* Level 1, not zstd's default 3: compression is the largest part of a
 * build, and with level 1 a build of the x86 base takes about 30% less CPU
 * time for a 5% larger .zst (267 MiB instead of 254), and peaks at 56 MiB
 * of memory instead of 134. Its window (set, so that it is known here) is
 * the one libzstd gives level 1 for inputs of unknown size. */
#define ZSTD_LEVEL	1
#define ZSTD_WINDOW_LOG 19
/* What libzstd is given of a run of zeros it does not see whole: a window
 * and one block more. */
#define RUN_EDGE  ((uint64_t)(1 << ZSTD_WINDOW_LOG) + ZSTD_BLOCKSIZE_MAX)
#define CHUNK	  (1 << 20)
#define RLE_BATCH 1024

/* RFC 8878 3.1.1: the frame's magic number, and its header's descriptor
 * bits; 3.1.1.2: a block's header. */
#define FRAME_MAGIC	  0xFD2FB528u
#define FHD_FCS_4	  (2u << 6) /* Frame_Content_Size in 4 bytes */
#define FHD_FCS_8	  (3u << 6) /* ... in 8 */
#define FHD_CHECKSUM	  (1u << 2)
#define BLOCK_RLE	  (1u << 1) /* Block_Type 1 */
#define LIBZSTD_HEADER	  6	    /* magic, descriptor 0, Window_Descriptor */
#define WINDOW_DESCRIPTOR ((ZSTD_WINDOW_LOG - 10) << 3)

struct zst {
	const char *name;
	uint64_t size, given;
	zst_sink sink;
	void *opaque;
	ZSTD_CCtx *cctx;
	XXH64_state_t *xxh;
	uint8_t *out;
	size_t out_size;
	uint8_t header[LIBZSTD_HEADER];
	size_t header_seen;  /* of libzstd's header, which is replaced */
	uint64_t run;	     /* zeros given and not yet compressed */
	uint64_t compressed; /* content given to libzstd */
};

static const uint8_t zeros[CHUNK];

/* libzstd's header says only that its frame has no size and no checksum,
 * and what its window is: the frame's own says the same window, the size
 * and that a checksum ends it. */
static int write_header(struct zst *z)
{
	uint8_t h[4 + 1 + 1 + 8];
	uint32_t magic = htole32(FRAME_MAGIC);
	size_t n = 4;

	if (memcmp(z->header, &magic, 4) != 0 || z->header[4] != 0 ||
	    z->header[5] != WINDOW_DESCRIPTOR)
		return log_error("%s.zst: libzstd %s began its frame with a header farm-image does "
				 "not know (%02x %02x): report this",
				 z->name, ZSTD_versionString(), z->header[4], z->header[5]);
	memcpy(h, &magic, 4);
	if (z->size <= UINT32_MAX) {
		uint32_t s = htole32((uint32_t)z->size);
		h[n++] = FHD_FCS_4 | FHD_CHECKSUM;
		h[n++] = WINDOW_DESCRIPTOR;
		memcpy(h + n, &s, 4);
		n += 4;
	} else {
		uint64_t s = htole64(z->size);
		h[n++] = FHD_FCS_8 | FHD_CHECKSUM;
		h[n++] = WINDOW_DESCRIPTOR;
		memcpy(h + n, &s, 8);
		n += 8;
	}
	return z->sink(z->opaque, h, n);
}

/* libzstd's output, its header replaced. */
static int emit(struct zst *z, const uint8_t *p, size_t len)
{
	if (z->header_seen < LIBZSTD_HEADER) {
		size_t n = MIN(len, LIBZSTD_HEADER - z->header_seen);
		int r;
		memcpy(z->header + z->header_seen, p, n);
		z->header_seen += n;
		p += n;
		len -= n;
		if (z->header_seen < LIBZSTD_HEADER)
			return 0;
		r = write_header(z);
		if (r < 0)
			return r;
	}
	return len ? z->sink(z->opaque, p, len) : 0;
}

static int compress(struct zst *z, const void *buf, size_t len, ZSTD_EndDirective op)
{
	ZSTD_inBuffer in = { buf, len, 0 };
	size_t rem;

	z->compressed += len;
	do {
		ZSTD_outBuffer o = { z->out, z->out_size, 0 };
		rem = ZSTD_compressStream2(z->cctx, &o, &in, op);
		if (ZSTD_isError(rem))
			return log_error("%s.zst: compression failed: %s", z->name,
					 ZSTD_getErrorName(rem));
		if (o.pos) {
			int r = emit(z, z->out, o.pos);
			if (r < 0)
				return r;
		}
	} while (op == ZSTD_e_continue ? in.pos < in.size : rem != 0);
	return 0;
}

static int too_much(struct zst *z, uint64_t len)
{
	if (len <= z->size - z->given)
		return 0;
	return log_error("%s.zst: %llu bytes of content past the image's %llu", z->name,
			 (unsigned long long)(z->given + len), (unsigned long long)z->size);
}

static int run_end(struct zst *z);

int zst_data(struct zst *z, const void *buf, size_t len)
{
	int r = too_much(z, len);

	if (r < 0 || !len)
		return r;
	if (mem_is_zero(buf, len))
		return zst_zeros(z, len);
	r = run_end(z);
	if (r < 0)
		return r;
	XXH64_update(z->xxh, buf, len);
	z->given += len;
	return compress(z, buf, len, ZSTD_e_continue);
}

static int compress_zeros(struct zst *z, uint64_t len)
{
	while (len) {
		size_t n = (size_t)MIN(len, (uint64_t)CHUNK);
		int r = compress(z, zeros, n, ZSTD_e_continue);
		if (r < 0)
			return r;
		len -= n;
	}
	return 0;
}

/* Zeros are counted, and go into the frame when what follows is not zeros
 * (explicit zeros in the image's data join the holes around them). */
int zst_zeros(struct zst *z, uint64_t len)
{
	int r = too_much(z, len);

	if (r < 0)
		return r;
	z->given += len;
	z->run += len;
	for (uint64_t left = len; left;) {
		size_t n = (size_t)MIN(left, (uint64_t)CHUNK);
		XXH64_update(z->xxh, zeros, n);
		left -= n;
	}
	return 0;
}

/* libzstd gets the run's first RUN_EDGE bytes; what is left of a longer
 * run becomes RLE blocks, after a flush. */
static int run_end(struct zst *z)
{
	uint64_t rest = z->run > RUN_EDGE ? z->run - RUN_EDGE : 0;
	int r = compress_zeros(z, z->run - rest);

	z->run = 0;
	if (r < 0 || !rest)
		return r;
	r = compress(z, NULL, 0, ZSTD_e_flush);
	/* The RLE blocks follow the frame's header and libzstd's first block. */
	if (r >= 0 && z->header_seen < LIBZSTD_HEADER)
		r = log_error("%s.zst: libzstd flushed no frame header", z->name);
	/* 4 bytes a block, written RLE_BATCH blocks at a time. */
	while (r >= 0 && rest) {
		uint8_t blocks[4 * RLE_BATCH];
		size_t k = 0;
		for (; k < RLE_BATCH && rest; k++) {
			uint32_t n = (uint32_t)MIN(rest, (uint64_t)ZSTD_BLOCKSIZE_MAX);
			uint32_t bh = htole32(n << 3 | BLOCK_RLE); /* not the last block */
			memcpy(blocks + 4 * k, &bh, 3);
			blocks[4 * k + 3] = 0; /* the byte repeated */
			rest -= n;
		}
		r = z->sink(z->opaque, blocks, 4 * k);
	}
	return r;
}

int zst_end(struct zst *z)
{
	uint32_t sum;
	int r;

	if (z->given != z->size)
		return log_error("%s.zst: %llu bytes of content, not the image's %llu", z->name,
				 (unsigned long long)z->given, (unsigned long long)z->size);
	r = run_end(z);
	if (r >= 0)
		r = compress(z, NULL, 0, ZSTD_e_end);
	if (r < 0)
		return r;
	if (z->header_seen < LIBZSTD_HEADER)
		return log_error("%s.zst: libzstd wrote no frame header", z->name);
	/* RFC 8878 3.1.1: the low 4 bytes of the content's XXH64, seed 0. */
	sum = htole32((uint32_t)XXH64_digest(z->xxh));
	return z->sink(z->opaque, &sum, 4);
}

int zst_new(const char *name, uint64_t size, zst_sink sink, void *opaque, struct zst **ret)
{
	struct zst *z = xcalloc(1, sizeof(*z));
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	/* nbWorkers >= 1 in all cases: zstd's output then does not depend on
	 * the number of workers, so the .zst is reproducible across machines.
	 * No size and no checksum: libzstd sees only part of the content. */
	const struct {
		ZSTD_cParameter p;
		int value;
	} params[] = {
		{ ZSTD_c_compressionLevel, ZSTD_LEVEL },
		{ ZSTD_c_windowLog, ZSTD_WINDOW_LOG },
		{ ZSTD_c_checksumFlag, 0 },
		{ ZSTD_c_contentSizeFlag, 0 },
		{ ZSTD_c_dictIDFlag, 0 },
		{ ZSTD_c_nbWorkers, (int)MAX(1, MIN(cpus, 8)) },
	};

	if (!size) {
		free(z);
		return log_error("%s.zst: the image is empty", name);
	}
	z->name = name;
	z->size = size;
	z->sink = sink;
	z->opaque = opaque;
	z->cctx = ZSTD_createCCtx();
	z->xxh = XXH64_createState();
	if (!z->cctx || !z->xxh) {
		zst_free(z);
		return log_error("%s.zst: cannot create a zstd context", name);
	}
	XXH64_reset(z->xxh, 0);
	z->out_size = ZSTD_CStreamOutSize();
	z->out = xmalloc(z->out_size);
	for (size_t i = 0; i < ELEMENTSOF(params); i++) {
		size_t e = ZSTD_CCtx_setParameter(z->cctx, params[i].p, params[i].value);
		if (ZSTD_isError(e)) {
			zst_free(z);
			return log_error("%s.zst: libzstd %s refused a parameter (%d = %d): %s",
					 name, ZSTD_versionString(), (int)params[i].p,
					 params[i].value, ZSTD_getErrorName(e));
		}
	}
	*ret = z;
	return 0;
}

uint64_t zst_compressed(const struct zst *z) { return z->compressed; }

void zst_free(struct zst *z)
{
	if (!z)
		return;
	ZSTD_freeCCtx(z->cctx);
	XXH64_freeState(z->xxh);
	free(z->out);
	free(z);
}
