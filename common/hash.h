/* SPDX-License-Identifier: MIT */
/* SHA-256 (OpenSSL libcrypto) and the identifiers farm derives from it:
 * every UUID and serial in an image is a function of cluster, node and role,
 * so that a rebuild is byte-identical and a reimaged node keeps its ids. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN     32
#define SHA256_HEX_LEN 65

struct sha256_ctx;

struct sha256_ctx *sha256_new(void);
void sha256_update(struct sha256_ctx *c, const void *data, size_t len);
/* Finishes and frees the context. */
void sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_LEN]);
void sha256_free(struct sha256_ctx *c);
void sha256_buf(const void *data, size_t len, uint8_t out[SHA256_LEN]);
void hex_encode(const uint8_t *in, size_t len, char *out);
/* Base64 (RFC 4648, with padding, no line breaks) of IN, malloc'ed. */
char *base64_encode(const void *in, size_t len);
/* sha256 of a whole file, as hex. Returns 0 or -errno. */
int sha256_file(const char *path, char out[SHA256_HEX_LEN]);

/* A UUID (RFC 9562 version 8, "custom") from sha256 of
 * "farm\0<cluster>\0<node>\0<role>". */
void uuid_derive(const char *cluster, const char *node, const char *role, uint8_t out[16]);
/* 32-bit serial derived the same way (FAT volume id). */
uint32_t serial_derive(const char *cluster, const char *node, const char *role);
/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", lower case. */
void uuid_format(const uint8_t uuid[16], char out[37]);
