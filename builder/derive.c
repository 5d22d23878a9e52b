/* SPDX-License-Identifier: MIT */
#include "derive.h"
#include "log.h"

#include <zstd.h>

#define BMAP_BLOCK 4096
#define CHUNK (1 << 20)
/* Level 1, not zstd's default 3: compression is the largest part of a
 * build, and with level 1 a build of the x86 base takes about 30% less CPU
 * time for a 5% larger .zst (267 MiB instead of 254), and peaks at 56 MiB
 * of memory instead of 134. */
#define ZSTD_LEVEL 1
#define WRITEBACK_STEP (32 * MiB) /* of .zst, then its writeback starts */

struct range {
	uint64_t first, last; /* blocks, inclusive */
	char sha[SHA256_HEX_LEN];
};

struct deriver {
	const struct outputs *o;
	const char *name;
	int img_fd, zst_fd;
	ZSTD_CCtx *cctx;
	uint8_t *out;
	size_t out_size;
	struct sha256_ctx *zst_sha;
	uint64_t zst_size, zst_flushed;
};

static int zst_feed(struct deriver *d, const void *buf, size_t len, bool end)
{
	ZSTD_inBuffer in = { buf, len, 0 };
	size_t rem;

	do {
		ZSTD_outBuffer o = { d->out, d->out_size, 0 };
		rem = ZSTD_compressStream2(d->cctx, &o, &in, end ? ZSTD_e_end : ZSTD_e_continue);
		if (ZSTD_isError(rem))
			return log_error("%s.zst: compression failed: %s", d->name,
					 ZSTD_getErrorName(rem));
		if (o.pos) {
			int r = write_full(d->zst_fd, d->out, o.pos);
			if (r < 0)
				return outputs_write_failed(d->o, OUT_ZST, r);
			sha256_update(d->zst_sha, d->out, o.pos);
			d->zst_size += o.pos;
			if (d->zst_size >= d->zst_flushed + WRITEBACK_STEP) {
				outputs_writeback(d->o, OUT_ZST);
				d->zst_flushed = d->zst_size;
			}
		}
	} while (end ? rem != 0 : in.pos < in.size);
	return 0;
}

/* The data extents of the file, at block granularity. */
static int next_data(int fd, uint64_t from, uint64_t size, uint64_t *start, uint64_t *end)
{
	off_t d = lseek(fd, (off_t)from, SEEK_DATA), h;

	if (d < 0)
		return errno == ENXIO ? 0 : -errno;
	h = lseek(fd, d, SEEK_HOLE);
	if (h < 0)
		return -errno;
	*start = (uint64_t)d / BMAP_BLOCK * BMAP_BLOCK;
	*end = MIN(ALIGN_UP((uint64_t)h, BMAP_BLOCK), size);
	return 1;
}

static int write_bmap(const struct outputs *o, const char *name, uint64_t size,
		      const struct range *ranges, size_t n, uint64_t mapped)
{
	char *text = NULL, *p;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	uint8_t digest[SHA256_LEN];
	char hex[SHA256_HEX_LEN], zeros[SHA256_HEX_LEN];
	int r;

	if (!f)
		return log_error_errno(errno, "%s.bmap: %m", name);
	memset(zeros, '0', SHA256_HEX_LEN - 1);
	zeros[SHA256_HEX_LEN - 1] = 0;
	/* The comment names neither the image nor an option: an XML comment
	 * cannot hold "--", which a node's name may (xn--...), and a map that
	 * is not XML is refused whole by bmaptool (ElementTree) and farm-image
	 * flash (expat). The file's name says whose map it is. */
	fprintf(f,
		"<?xml version=\"1.0\" ?>\n"
		"<!-- Block map of a node's disk image, written by farm-image: the blocks\n"
		"     that hold data. Flash it with farm-image's flash command; bmaptool\n"
		"     copy reads it too. -->\n"
		"<bmap version=\"2.0\">\n"
		"    <ImageSize> %llu </ImageSize>\n"
		"    <BlockSize> %u </BlockSize>\n"
		"    <BlocksCount> %llu </BlocksCount>\n"
		"    <MappedBlocksCount> %llu </MappedBlocksCount>\n"
		"    <ChecksumType> sha256 </ChecksumType>\n"
		"    <BmapFileChecksum> %s </BmapFileChecksum>\n"
		"    <BlockMap>\n",
		(unsigned long long)size, BMAP_BLOCK,
		(unsigned long long)DIV_ROUND_UP(size, BMAP_BLOCK),
		(unsigned long long)(mapped / BMAP_BLOCK), zeros);
	for (size_t i = 0; i < n; i++) {
		if (ranges[i].first == ranges[i].last)
			fprintf(f, "        <Range chksum=\"%s\"> %llu </Range>\n", ranges[i].sha,
				(unsigned long long)ranges[i].first);
		else
			fprintf(f, "        <Range chksum=\"%s\"> %llu-%llu </Range>\n",
				ranges[i].sha, (unsigned long long)ranges[i].first,
				(unsigned long long)ranges[i].last);
	}
	fprintf(f, "    </BlockMap>\n</bmap>\n");
	if (fclose(f) != 0)
		return log_error_errno(errno, "%s.bmap: %m", name);
	/* The file's own checksum is taken with the field all zeros. */
	sha256_buf(text, len, digest);
	hex_encode(digest, SHA256_LEN, hex);
	p = strstr(text, zeros);
	memcpy(p, hex, SHA256_HEX_LEN - 1);
	r = write_full(outputs_fd(o, OUT_BMAP), text, len);
	free(text);
	return r < 0 ? outputs_write_failed(o, OUT_BMAP, r) : 0;
}

int derive_outputs(const struct outputs *o, const char *name, uint64_t img_size,
		   volatile sig_atomic_t *interrupted, struct progress *progress,
		   struct derive_result *res)
{
	static const uint8_t zero_block[CHUNK];
	int img_fd = outputs_fd(o, OUT_IMG);
	struct deriver d = { .o = o, .name = name, .img_fd = img_fd,
			     .zst_fd = outputs_fd(o, OUT_ZST) };
	_cleanup_free_ uint8_t *buf = xmalloc(CHUNK);
	_cleanup_free_ struct range *ranges = NULL;
	size_t n_ranges = 0, cap = 0;
	uint64_t pos = 0, mapped = 0;
	uint8_t digest[SHA256_LEN];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int r = 0;

	d.cctx = ZSTD_createCCtx();
	d.out_size = ZSTD_CStreamOutSize();
	d.out = xmalloc(d.out_size);
	d.zst_sha = sha256_new();
	if (!d.cctx) {
		r = log_error("%s.zst: cannot create a zstd context", name);
		goto out;
	}
	/* nbWorkers >= 1 in all cases: zstd's output then does not depend on
	 * the number of workers, so the .zst is reproducible across machines. */
	ZSTD_CCtx_setParameter(d.cctx, ZSTD_c_compressionLevel, ZSTD_LEVEL);
	ZSTD_CCtx_setParameter(d.cctx, ZSTD_c_checksumFlag, 1);
	ZSTD_CCtx_setParameter(d.cctx, ZSTD_c_nbWorkers, (int)MAX(1, MIN(cpus, 8)));
	ZSTD_CCtx_setPledgedSrcSize(d.cctx, img_size);

	while (pos < img_size) {
		uint64_t ds = 0, de = 0;
		r = next_data(img_fd, pos, img_size, &ds, &de);
		if (r < 0) {
			r = log_error_errno(r, "%s: cannot map the image's data: %m", name);
			goto out;
		}
		if (r == 0)
			ds = de = img_size;
		/* The hole before the data: zeros, not read. */
		while (pos < ds) {
			size_t n = (size_t)MIN((uint64_t)CHUNK, ds - pos);
			r = zst_feed(&d, zero_block, n, false);
			if (r < 0)
				goto out;
			pos += n;
		}
		if (ds >= de)
			continue;
		{
			struct sha256_ctx *rs = sha256_new();
			struct range rg = { ds / BMAP_BLOCK, (de - 1) / BMAP_BLOCK, "" };
			while (pos < de) {
				size_t n = (size_t)MIN((uint64_t)CHUNK, de - pos);
				r = pread_full(img_fd, buf, n, pos);
				if (r < 0) {
					sha256_free(rs);
					r = log_error_errno(r, "%s: read failed: %m", name);
					goto out;
				}
				sha256_update(rs, buf, n);
				r = zst_feed(&d, buf, n, false);
				if (r < 0) {
					sha256_free(rs);
					goto out;
				}
				pos += n;
				if (interrupted && *interrupted) {
					sha256_free(rs);
					r = -EINTR;
					goto out;
				}
				if (progress)
					progress_update(progress, pos, img_size, 0, d.zst_size);
			}
			sha256_final(rs, digest);
			hex_encode(digest, SHA256_LEN, rg.sha);
			ARRAY_PUSH(ranges, n_ranges, cap, rg);
			mapped += de - ds;
		}
	}
	r = zst_feed(&d, NULL, 0, true);
	if (r < 0)
		goto out;
	r = write_bmap(o, name, img_size, ranges, n_ranges, mapped);
	if (r < 0)
		goto out;
	sha256_final(d.zst_sha, digest);
	d.zst_sha = NULL;
	hex_encode(digest, SHA256_LEN, res->zst_sha256);
	res->mapped_bytes = mapped;
	res->zst_size = d.zst_size;
out:
	if (progress)
		progress_done(progress);
	ZSTD_freeCCtx(d.cctx);
	free(d.out);
	sha256_free(d.zst_sha);
	return r;
}
