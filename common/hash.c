/* SPDX-License-Identifier: MIT */
#include "fileio.h"
#include "hash.h"
#include "util.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <limits.h>

struct sha256_ctx {
	EVP_MD_CTX *md;
};

struct sha256_ctx *sha256_new(void)
{
	struct sha256_ctx *c = xmalloc(sizeof(*c));

	c->md = EVP_MD_CTX_new();
	if (!c->md || EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1)
		abort();
	return c;
}

void sha256_update(struct sha256_ctx *c, const void *data, size_t len)
{
	if (len && EVP_DigestUpdate(c->md, data, len) != 1)
		abort();
}

void sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_LEN])
{
	unsigned n = SHA256_LEN;

	if (EVP_DigestFinal_ex(c->md, out, &n) != 1)
		abort();
	sha256_free(c);
}

void sha256_free(struct sha256_ctx *c)
{
	if (!c)
		return;
	EVP_MD_CTX_free(c->md);
	free(c);
}

void sha256_buf(const void *data, size_t len, uint8_t out[SHA256_LEN])
{
	struct sha256_ctx *c = sha256_new();

	sha256_update(c, data, len);
	sha256_final(c, out);
}

void hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = 0;
}

int sha256_file(const char *path, char out[SHA256_HEX_LEN])
{
	_cleanup_close_ int fd = open_regular(AT_FDCWD, path, 0, false);
	uint8_t buf[1 << 16], digest[SHA256_LEN];
	struct sha256_ctx *c;
	ssize_t n;

	if (fd < 0)
		return fd;
	c = sha256_new();
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			sha256_free(c);
			return -errno;
		}
		sha256_update(c, buf, (size_t)n);
	}
	sha256_final(c, digest);
	hex_encode(digest, SHA256_LEN, out);
	return 0;
}

static void derive(const char *cluster, const char *node, const char *role, uint8_t out[SHA256_LEN])
{
	struct sha256_ctx *c = sha256_new();

	sha256_update(c, "farm", 5);
	sha256_update(c, cluster, strlen(cluster) + 1);
	sha256_update(c, node, strlen(node) + 1);
	sha256_update(c, role, strlen(role) + 1);
	sha256_final(c, out);
}

void uuid_derive(const char *cluster, const char *node, const char *role, uint8_t out[16])
{
	uint8_t d[SHA256_LEN];

	derive(cluster, node, role, d);
	memcpy(out, d, 16);
	out[6] = (out[6] & 0x0f) | 0x80; /* version 8 */
	out[8] = (out[8] & 0x3f) | 0x80; /* RFC 9562 variant */
}

uint32_t serial_derive(const char *cluster, const char *node, const char *role)
{
	uint8_t d[SHA256_LEN];

	derive(cluster, node, role, d);
	return (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
}

void uuid_format(const uint8_t u[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		 u[13], u[14], u[15]);
}

char *base64_encode(const void *in, size_t len)
{
	char *out = xmalloc(4 * ((len + 2) / 3) + 1);
	const unsigned char *p = in;
	size_t done = 0, o = 0;

	/* EVP_EncodeBlock takes an int: in slices that keep whole groups. */
	while (done < len) {
		size_t n = MIN(len - done, (size_t)(INT_MAX / 4 * 3));
		o += (size_t)EVP_EncodeBlock((unsigned char *)out + o, p + done, (int)n);
		done += n;
	}
	out[o] = 0;
	return out;
}
