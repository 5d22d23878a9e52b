/* SPDX-License-Identifier: MIT */
#include "bmap.h"
#include "fileio.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <expat.h>
#include <inttypes.h>
#include <stdarg.h>
#include <strings.h>

#define BMAP_MAX_FILE (64 * MiB)

enum field {
	F_NONE,
	F_IMAGE_SIZE,
	F_BLOCK_SIZE,
	F_BLOCKS_COUNT,
	F_MAPPED_COUNT,
	F_CHECKSUM_TYPE,
	F_FILE_CHECKSUM,
	F_RANGE,
};

static const struct {
	const char *name;
	enum field field;
} fields[] = {
	{ "ImageSize", F_IMAGE_SIZE },
	{ "BlockSize", F_BLOCK_SIZE },
	{ "BlocksCount", F_BLOCKS_COUNT },
	{ "MappedBlocksCount", F_MAPPED_COUNT },
	{ "ChecksumType", F_CHECKSUM_TYPE },
	{ "BmapFileChecksum", F_FILE_CHECKSUM },
	{ "Range", F_RANGE },
};

struct parse {
	XML_Parser xp;
	const char *path;
	struct bmap *b;
	size_t cap;
	int depth;
	bool root_seen;
	enum field field;
	char text[256];
	size_t text_len;
	bool text_long;
	char range_sha[SHA256_HEX_LEN];
	bool have[F_RANGE];
	uint64_t blocks_count, mapped_count, mapped_blocks;
	char checksum_type[16], file_checksum[SHA256_HEX_LEN];
	char error[512];
};

static void fail(struct parse *p, const char *fmt, ...) _printf_(2, 3);
static void fail(struct parse *p, const char *fmt, ...)
{
	va_list ap;

	if (p->error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(p->error, sizeof(p->error), fmt, ap);
	va_end(ap);
	XML_StopParser(p->xp, XML_FALSE);
}

static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno == 0 && end != s && *end == 0;
}

static bool parse_hex(const char *s, uint8_t out[SHA256_LEN])
{
	if (strlen(s) != 2 * SHA256_LEN)
		return false;
	for (size_t i = 0; i < SHA256_LEN; i++) {
		unsigned v;
		if (!isxdigit((unsigned char)s[2 * i]) || !isxdigit((unsigned char)s[2 * i + 1]) ||
		    sscanf(s + 2 * i, "%2x", &v) != 1)
			return false;
		out[i] = (uint8_t)v;
	}
	return true;
}

/* S without the white space around it (in place). */
static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = 0;
	return s;
}

static void XMLCALL on_start(void *data, const XML_Char *name, const XML_Char **attrs)
{
	struct parse *p = data;

	p->depth++;
	p->field = F_NONE;
	if (p->depth == 1) {
		const char *version = NULL;
		if (!streq(name, "bmap"))
			return fail(p, "the document is a <%s>, not a <bmap>", name);
		for (size_t i = 0; attrs[i]; i += 2)
			if (streq(attrs[i], "version"))
				version = attrs[i + 1];
		/* 1.4 was a misnumbered 2.0 (bmaptool's BmapCopy.py says so);
		 * 1.0-1.3 are SHA-1 only and name their fields differently. */
		if (!version || !(startswith(version, "2.") || streq(version, "1.4")))
			return fail(p, "bmap format version %s is not supported (farm reads 2.x)",
				    version ? version : "(none)");
		p->root_seen = true;
		return;
	}
	for (size_t i = 0; i < ELEMENTSOF(fields); i++)
		if (streq(name, fields[i].name))
			p->field = fields[i].field;
	if (p->field == F_RANGE) {
		const char *sha = NULL;
		for (size_t i = 0; attrs[i]; i += 2)
			if (streq(attrs[i], "chksum"))
				sha = attrs[i + 1];
		if (!sha || strlen(sha) != 2 * SHA256_LEN)
			return fail(p, "a <Range> without a sha256 chksum attribute");
		snprintf(p->range_sha, sizeof(p->range_sha), "%s", sha);
	}
	p->text_len = 0;
	p->text_long = false;
}

static void XMLCALL on_text(void *data, const XML_Char *s, int len)
{
	struct parse *p = data;

	if (p->field == F_NONE)
		return;
	if (p->text_len + (size_t)len >= sizeof(p->text)) {
		p->text_long = true;
		return;
	}
	memcpy(p->text + p->text_len, s, (size_t)len);
	p->text_len += (size_t)len;
}

static void add_range(struct parse *p, const char *s)
{
	struct bmap *b = p->b;
	uint64_t first, last;
	char a[32] = "", c[32] = "";
	struct bmap_range r = { 0 };
	const char *dash = strchr(s, '-');

	if (!b->block_size)
		return fail(p, "a <Range> before <BlockSize>");
	if (dash) {
		snprintf(a, sizeof(a), "%.*s", (int)(dash - s), s);
		snprintf(c, sizeof(c), "%s", dash + 1);
	} else
		snprintf(a, sizeof(a), "%s", s);
	if (!parse_u64(trim(a), &first) || !parse_u64(dash ? trim(c) : a, &last) || last < first)
		return fail(p, "range '%s' is not FIRST-LAST or BLOCK", s);
	if (!parse_hex(p->range_sha, r.sha256))
		return fail(p, "range '%s': chksum '%s' is not a sha256", s, p->range_sha);
	if (last >= DIV_ROUND_UP(b->image_size, b->block_size))
		return fail(p, "range '%s' ends past the image (%" PRIu64 " bytes)", s,
			    b->image_size);
	r.start = first * b->block_size;
	r.end = MIN((last + 1) * b->block_size, b->image_size);
	if (b->n_ranges && r.start < b->ranges[b->n_ranges - 1].end)
		return fail(p, "range '%s' overlaps or precedes the one before it", s);
	ARRAY_PUSH(b->ranges, b->n_ranges, p->cap, r);
	b->mapped_bytes += r.end - r.start;
	p->mapped_blocks += last - first + 1;
}

static void XMLCALL on_end(void *data, const XML_Char *name)
{
	struct parse *p = data;
	enum field f = p->field;
	char *s;
	uint64_t v = 0;

	p->depth--;
	p->field = F_NONE;
	if (f == F_NONE)
		return;
	if (p->text_long)
		return fail(p, "<%s> is too long", name);
	p->text[p->text_len] = 0;
	s = trim(p->text);
	if (f != F_RANGE && p->have[f])
		return fail(p, "<%s> is given twice", name);
	if (f != F_RANGE)
		p->have[f] = true;
	switch (f) {
	case F_IMAGE_SIZE:
	case F_BLOCK_SIZE:
	case F_BLOCKS_COUNT:
	case F_MAPPED_COUNT:
		if (!parse_u64(s, &v))
			return fail(p, "<%s> '%s' is not a number", name, s);
		if (f == F_IMAGE_SIZE)
			p->b->image_size = v;
		else if (f == F_BLOCK_SIZE) {
			if (v < 512 || v > 1 * MiB || (v & (v - 1)))
				return fail(p,
					    "<BlockSize> %" PRIu64 " is not a power of two "
					    "from 512 to 1 MiB",
					    v);
			p->b->block_size = (uint32_t)v;
		} else if (f == F_BLOCKS_COUNT)
			p->blocks_count = v;
		else
			p->mapped_count = v;
		break;
	case F_CHECKSUM_TYPE:
		snprintf(p->checksum_type, sizeof(p->checksum_type), "%s", s);
		if (!streq(s, "sha256"))
			return fail(p, "checksum type '%s' is not supported (farm reads sha256)",
				    s);
		break;
	case F_FILE_CHECKSUM:
		if (strlen(s) != 2 * SHA256_LEN)
			return fail(p, "<BmapFileChecksum> '%s' is not a sha256", s);
		snprintf(p->file_checksum, sizeof(p->file_checksum), "%s", s);
		break;
	case F_RANGE:
		if (!p->have[F_IMAGE_SIZE])
			return fail(p, "a <Range> before <ImageSize>");
		add_range(p, s);
		break;
	default:
		break;
	}
}

/* bmaptool's rule: the sha256 of the file with the checksum's hex digits
 * replaced by zeros. */
static bool file_checksum_ok(char *text, size_t len, const char *want)
{
	char *at = strstr(text, want);
	uint8_t d[SHA256_LEN];
	char hex[SHA256_HEX_LEN];

	if (!at)
		return false;
	memset(at, '0', 2 * SHA256_LEN);
	sha256_buf(text, len, d);
	memcpy(at, want, 2 * SHA256_LEN);
	hex_encode(d, SHA256_LEN, hex);
	return strcasecmp(hex, want) == 0;
}

int bmap_load(const char *path, struct bmap *b)
{
	_cleanup_free_ char *text = NULL;
	struct parse p = { .path = path, .b = b };
	size_t len = 0;
	int r;

	*b = (struct bmap){ 0 };
	r = read_file(path, &text, &len, BMAP_MAX_FILE);
	if (r < 0)
		return log_error_errno(r, "Cannot read the block map %s: %m", path);
	p.xp = XML_ParserCreate(NULL);
	if (!p.xp)
		return log_error_errno(ENOMEM, "Out of memory");
	XML_SetUserData(p.xp, &p);
	XML_SetElementHandler(p.xp, on_start, on_end);
	XML_SetCharacterDataHandler(p.xp, on_text);
	if (XML_Parse(p.xp, text, (int)len, XML_TRUE) == XML_STATUS_ERROR && !p.error[0])
		snprintf(p.error, sizeof(p.error), "%s", XML_ErrorString(XML_GetErrorCode(p.xp)));
	if (p.error[0]) {
		r = log_error("%s:%lu: %s", path, (unsigned long)XML_GetCurrentLineNumber(p.xp),
			      p.error);
		XML_ParserFree(p.xp);
		bmap_free(b);
		return r;
	}
	XML_ParserFree(p.xp);

	if (!p.root_seen || !p.have[F_IMAGE_SIZE] || !p.have[F_BLOCK_SIZE] ||
	    !p.have[F_BLOCKS_COUNT] || !p.have[F_CHECKSUM_TYPE] || !p.have[F_FILE_CHECKSUM])
		r = log_error("%s: not a complete block map (it needs <ImageSize>, <BlockSize>, "
			      "<BlocksCount>, <ChecksumType> and <BmapFileChecksum>)",
			      path);
	else if (p.blocks_count != DIV_ROUND_UP(b->image_size, b->block_size))
		r = log_error("%s: <BlocksCount> %" PRIu64 " does not match <ImageSize> %" PRIu64
			      " in blocks of %u bytes",
			      path, p.blocks_count, b->image_size, b->block_size);
	else if (p.have[F_MAPPED_COUNT] && p.mapped_count != p.mapped_blocks)
		r = log_error("%s: <MappedBlocksCount> %" PRIu64
			      " does not match its ranges (%" PRIu64 " blocks)",
			      path, p.mapped_count, p.mapped_blocks);
	else if (!file_checksum_ok(text, len, p.file_checksum))
		r = log_error("%s: the file's checksum does not match its content: the block map "
			      "was changed or damaged after it was written; rebuild the image",
			      path);
	if (r < 0)
		bmap_free(b);
	return r;
}

void bmap_free(struct bmap *b)
{
	free(b->ranges);
	*b = (struct bmap){ 0 };
}
