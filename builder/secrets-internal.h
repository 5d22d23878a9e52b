/* SPDX-License-Identifier: MIT */
/* The secrets directory's parts: reading and checking it (secrets.c), and
 * `secrets init` (secrets-init.c), which makes what is missing and then
 * reads it back as the build does. Helpers return -errno and keep the
 * first failure as a message in struct ctx; the command, or
 * secrets_load(), prints it once. */
#pragma once

#include "hash.h"
#include "secrets.h"

#include <openssl/evp.h>

#define TLS "k3s/tls/"

/* k3s's custom CAs, below its tls directory (secrets.c). */
struct ca {
	const char *crt, *key;
	const char *cn; /* k3s appends "@<unix time>" */
};
#define N_CAS 5
extern const struct ca sec_cas[N_CAS];

struct buf {
	uint8_t *p; /* NUL-terminated when read from a file */
	size_t n;
};

/* One run over the directory. */
struct ctx {
	const char *dir;
	int dfd;
	bool made_dir;
	char *err; /* the first failure */
	struct entry {
		char *path; /* relative to dir */
		bool created;
	} * entries;
	size_t n, cap;
};

/* Clears B's bytes and frees them. */
void sec_wipe(struct buf *b);
/* Keeps the first failure's message (%m: -R); returns R (-EIO if R >= 0). */
int sec_fail(struct ctx *s, int r, const char *fmt, ...) _printf_(3, 4);
/* OpenSSL's last error, for messages. */
const char *sec_ossl_error(void);
/* Syncs the directory that holds REL (relative to DFD). */
int sec_sync_parent(int dfd, const char *rel);
/* Opens s->dir (with CREATE, makes it and its subdirectories 0700) and
 * checks that it is ours alone. */
int sec_open_dir(struct ctx *s, bool create);
/* Reads REL, a regular file of ours that nobody else can read, into B
 * (NUL-terminated). */
int sec_read_file(struct ctx *s, const char *rel, struct buf *b);
/* The PEM private key in B, or NULL. */
EVP_PKEY *sec_parse_key(const struct buf *b);
/* The sha256 of B in hex. */
void sec_hash_hex(const struct buf *b, char out[SHA256_HEX_LEN]);
/* Reads and checks every secret of config C, as the build does. */
int sec_read(struct ctx *s, const struct config *c, struct secrets **ret);
/* Closes and frees what S holds. */
void sec_ctx_done(struct ctx *s);
