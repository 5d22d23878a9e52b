/* SPDX-License-Identifier: MIT */
/* `farm-image secrets init`: makes what the secrets directory lacks, as k3s
 * makes it (secrets.c says from which k3s sources), keeps what it has, and
 * then checks everything as the build will. */
#include "secrets-internal.h"
#include "fileio.h"
#include "power-identity.h"
#include "log.h"
#include "usage.h"

#include <fcntl.h>
#include <getopt.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define SECRET_HEX  (2 * 32 + 1) /* 32 random bytes: token secret, node passwords */
#define CA_DAYS	    3650
#define CA_BACKDATE 3600 /* seconds: room for a node clock a little behind ours */

/* Creates REL with its final mode in one step under a temporary name in the
 * same directory, writes and syncs it, then links it into place, which never
 * replaces anything, and syncs the directory. */
static int write_secret(int dfd, const char *rel, const struct buf *b)
{
	const char *slash = strrchr(rel, '/');
	uint8_t rnd[8];
	char hex[2 * sizeof(rnd) + 1];
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -EIO;
	hex_encode(rnd, sizeof(rnd), hex);
	tmp = xasprintf("%.*s.%s.%s", slash ? (int)(slash - rel + 1) : 0, rel,
			slash ? slash + 1 : rel, hex);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = write_full(fd, b->p, b->n);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && linkat(dfd, tmp, dfd, rel, 0) < 0)
		r = -errno;
	(void)unlinkat(dfd, tmp, 0);
	return r < 0 ? r : sec_sync_parent(dfd, rel);
}

/* 1 when REL exists, 0 when it does not, or -errno. */
static int exists(struct ctx *s, const char *rel)
{
	struct stat st;

	if (fstatat(s->dfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT ? 0 : sec_fail(s, -errno, "Cannot access %s/%s: %m", s->dir, rel);
}

typedef int (*make_fn)(struct ctx *s, const char *rel, const void *arg, struct buf *out);

/* Keeps REL if it exists, else makes it. */
static int ensure(struct ctx *s, const char *rel, make_fn make, const void *arg)
{
	struct buf b = { 0 };
	int r = exists(s, rel);

	if (r == 0) {
		r = make(s, rel, arg, &b);
		if (r >= 0 && (r = write_secret(s->dfd, rel, &b)) < 0)
			sec_fail(s, r, "Cannot create %s/%s: %m", s->dir, rel);
		sec_wipe(&b);
	}
	if (r >= 0)
		ARRAY_PUSH(s->entries, s->n, s->cap, ((struct entry){ xstrdup(rel), r == 0 }));
	return MIN(r, 0);
}

/* Takes what B holds when OK; frees B. */
static int bio_take(BIO *b, int ok, struct buf *out)
{
	BUF_MEM *m = NULL;

	if (ok == 1 && BIO_get_mem_ptr(b, &m) == 1 && m && m->length) {
		out->p = xmalloc(m->length);
		out->n = m->length;
		memcpy(out->p, m->data, m->length);
	}
	BIO_free(b);
	return out->p ? 0 : -EIO;
}

/* ARG: "EC" (P-256, the CAs) or "RSA" (2048, service.key), in the
 * traditional PEM forms k3s writes. */
static int make_key(struct ctx *s, const char *rel, const void *arg, struct buf *out)
{
	EVP_PKEY *k = streq(arg, "RSA") ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
					: EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	BIO *b = k ? BIO_new(BIO_s_secmem()) : NULL;
	int r = b ? bio_take(b,
			     PEM_write_bio_PrivateKey_traditional(b, k, NULL, NULL, 0, NULL, NULL),
			     out)
		  : -EIO;

	EVP_PKEY_free(k);
	if (r < 0)
		r = sec_fail(s, r, "Cannot make the key %s/%s: %s", s->dir, rel, sec_ossl_error());
	ERR_clear_error();
	return r;
}

/* A self-signed CA certificate as k3s makes it, with a random serial. */
static X509 *new_ca_cert(EVP_PKEY *key, const char *cn_prefix, time_t now)
{
	static const struct {
		int nid;
		const char *value;
	} exts[] = {
		{ NID_basic_constraints, "critical,CA:TRUE" },
		{ NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign" },
		{ NID_subject_key_identifier, "hash" },
	};
	X509 *x = X509_new();
	X509_NAME *name = x ? X509_get_subject_name(x) : NULL;
	uint8_t serial[16];
	BIGNUM *bn = NULL;
	X509V3_CTX v3;
	char cn[64];
	bool ok = x && RAND_bytes(serial, sizeof(serial)) == 1;

	snprintf(cn, sizeof(cn), "%s@%lld", cn_prefix, (long long)now);
	if (ok)
		serial[0] = (serial[0] & 0x7f) | 0x40; /* positive, full length */
	ok = ok && (bn = BN_bin2bn(serial, sizeof(serial), NULL)) &&
	     BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) &&
	     X509_set_version(x, X509_VERSION_3) &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (unsigned char *)cn, -1, -1,
					0) &&
	     X509_set_issuer_name(x, name) &&
	     X509_time_adj_ex(X509_getm_notBefore(x), 0, -CA_BACKDATE, &now) &&
	     X509_time_adj_ex(X509_getm_notAfter(x), CA_DAYS, 0, &now) && X509_set_pubkey(x, key);
	if (ok)
		X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	for (size_t i = 0; ok && i < ELEMENTSOF(exts); i++) {
		X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, &v3, exts[i].nid, exts[i].value);
		ok = e && X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	ok = ok && X509_sign(x, key, EVP_sha256()) > 0;
	BN_free(bn);
	if (!ok)
		X509_free(x);
	return ok ? x : NULL;
}

/* Certifies the key as it is on disk (so that a power cut between the key
 * and its certificate only leaves a key that the next run certifies). */
static int make_cert(struct ctx *s, const char *rel, const void *arg, struct buf *out)
{
	const struct ca *ca = arg;
	_cleanup_free_ char *key_rel = xasprintf(TLS "%s", ca->key);
	struct buf kb = { 0 };
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	BIO *b = NULL;
	int r = sec_read_file(s, key_rel, &kb);

	if (r < 0)
		return r;
	k = sec_parse_key(&kb);
	sec_wipe(&kb);
	if (!k)
		r = sec_fail(s, -EINVAL, "%s/%s is not a PEM private key (%s)", s->dir, key_rel,
			     sec_ossl_error());
	else if (!(x = new_ca_cert(k, ca->cn, time(NULL))) || !(b = BIO_new(BIO_s_mem())) ||
		 bio_take(b, PEM_write_bio_X509(b, x), out) < 0)
		r = sec_fail(s, -EIO, "Cannot make the certificate %s/%s: %s", s->dir, rel,
			     sec_ossl_error());
	X509_free(x);
	EVP_PKEY_free(k);
	ERR_clear_error();
	return r;
}

static int ensure_ca(struct ctx *s, const struct ca *ca)
{
	_cleanup_free_ char *crt = xasprintf(TLS "%s", ca->crt),
			    *key = xasprintf(TLS "%s", ca->key);
	int have_crt = exists(s, crt), have_key = have_crt > 0 ? exists(s, key) : 1, r;

	if (have_crt < 0 || have_key < 0)
		return MIN(have_crt, have_key);
	if (!have_key)
		return sec_fail(s, -ENOENT,
				"%s/%s is missing, but its certificate %s is there: "
				"restore the key from your backup (a new CA means a new join token "
				"and reimaging every node)",
				s->dir, key, crt);
	r = ensure(s, key, make_key, "EC");
	return r < 0 ? r : ensure(s, crt, make_cert, ca);
}

/* "<prefix><32 random bytes in hex>\n", with ARG the prefix. */
static int make_random(struct ctx *s, const char *rel, const void *arg, struct buf *out)
{
	uint8_t b[(SECRET_HEX - 1) / 2];
	char hex[SECRET_HEX];

	if (RAND_priv_bytes(b, sizeof(b)) != 1)
		return sec_fail(s, -EIO, "Cannot make %s/%s: %s", s->dir, rel, sec_ossl_error());
	hex_encode(b, sizeof(b), hex);
	out->p = (uint8_t *)xasprintf("%s%s\n", (const char *)arg, hex);
	out->n = strlen((char *)out->p);
	OPENSSL_cleanse(b, sizeof(b));
	OPENSSL_cleanse(hex, sizeof(hex));
	return 0;
}

/* K10<sha256 of server-ca.crt as /cacerts serves it>::<ARG>:<secret>, ARG
 * the user k3s authenticates: "server" (the server token) or "node" (the
 * agent token, which cannot join a server). */
static int make_token(struct ctx *s, const char *rel, const void *arg, struct buf *out)
{
	struct buf ca = { 0 };
	char hash[SHA256_HEX_LEN];
	_cleanup_free_ char *prefix = NULL;
	int r = sec_read_file(s, TLS "server-ca.crt", &ca);

	if (r < 0)
		return r;
	sec_hash_hex(&ca, hash);
	sec_wipe(&ca);
	prefix = xasprintf("K10%s::%s:", hash, (const char *)arg);
	return make_random(s, rel, prefix, out);
}

/* An agent's power-cycle certificate (power-identity.h), for its key as it
 * is on disk; ARG is the node. */
static int make_power_cert(struct ctx *s, const char *rel, const void *arg, struct buf *out)
{
	_cleanup_free_ char *key_rel = xasprintf("nodes/%s.power.key", (const char *)arg);
	struct buf crt = { 0 }, key = { 0 }, k = { 0 };
	const char *why = NULL;
	int r = sec_read_file(s, TLS "client-ca.crt", &crt);

	if (r >= 0)
		r = sec_read_file(s, TLS "client-ca.key", &key);
	if (r >= 0)
		r = sec_read_file(s, key_rel, &k);
	if (r >= 0 && (r = power_cert_sign(crt.p, crt.n, key.p, key.n, k.p, k.n, arg, time(NULL),
					   &out->p, &out->n, &why)) < 0)
		r = sec_fail(s, r, "Cannot make %s/%s: %s", s->dir, rel, why);
	sec_wipe(&crt);
	sec_wipe(&key);
	sec_wipe(&k);
	return r;
}

/* Creates what is missing, then checks everything as the build will. */
static int init(struct ctx *s, const struct config *c)
{
	struct secrets *check = NULL;
	int r = sec_open_dir(s, true);

	for (size_t i = 0; i < N_CAS && r >= 0; i++)
		r = ensure_ca(s, &sec_cas[i]);
	if (r >= 0)
		r = ensure(s, TLS "service.key", make_key, "RSA");
	if (r >= 0)
		r = ensure(s, "token", make_token, "server");
	if (r >= 0)
		r = ensure(s, "agent-token", make_token, "node");
	for (size_t i = 0; i < c->nodes.n && r >= 0; i++) {
		_cleanup_free_ char *rel =
			xasprintf("nodes/%s.password", config_node_at(c, i)->name.v);
		r = ensure(s, rel, make_random, "");
	}
	/* Each agent's own client certificate for the power cycle. */
	for (size_t i = 0; i < c->nodes.n && r >= 0; i++) {
		const struct config_node *n = config_node_at(c, i);
		_cleanup_free_ char *key = xasprintf("nodes/%s.power.key", n->name.v);
		_cleanup_free_ char *crt = xasprintf("nodes/%s.power.crt", n->name.v);
		if (n->role.i == ROLE_SERVER)
			continue;
		r = ensure(s, key, make_key, "EC");
		if (r >= 0)
			r = ensure(s, crt, make_power_cert, n->name.v);
	}
	if (r >= 0)
		r = sec_read(s, c, &check);
	secrets_free(check);
	return r;
}

int cmd_secrets(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config = DEFAULT_CONFIG;
	_cleanup_free_ char *dir = NULL;
	struct ctx s = { .dfd = -1 };
	struct config c;
	size_t created = 0;
	int o, r;

	while ((o = getopt_long(argc, argv, ":d:c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'd':
			free(dir);
			dir = xstrdup(optarg);
			for (size_t n = strlen(dir); n > 1 && dir[n - 1] == '/'; n--)
				dir[n - 1] = 0; /* "DIR/" is DIR, in messages too */
			break;
		case 'c':
			config = optarg;
			break;
		case 'h':
			printf("Usage: farm-image " SECRETS_USAGE "\n\n" SECRETS_SUMMARY "\n");
			return 0;
		default:
			return usage_option_error("secrets", o, argv, opts);
		}
	}
	if (optind >= argc)
		return usage_error("secrets", "missing command 'init'", NULL);
	if (!streq(argv[optind], "init"))
		return usage_error("secrets", "unknown command", argv[optind]);
	if (optind + 1 < argc)
		return usage_error("secrets", "unexpected argument", argv[optind + 1]);
	if (dir && !*dir)
		return usage_error("secrets", "--dir is empty", NULL);
	if (config_load(config, &c) < 0) {
		config_free(&c);
		return 1;
	}
	if (!dir)
		dir = secrets_default_dir(&c);
	s.dir = dir;
	r = dir ? init(&s, &c)
		: sec_fail(&s, -ENOENT, "No HOME to keep the secrets in: pass --dir");
	if (s.n > 0 || r >= 0)
		log_print(stdout, "Secrets of cluster '%s' in %s%s:\n", c.cluster.name.v, dir,
			  s.made_dir ? " (directory created)" : "");
	for (size_t i = 0; i < s.n; i++) {
		log_print(stdout, "  %-8s %s\n", s.entries[i].created ? "created" : "kept",
			  s.entries[i].path);
		created += s.entries[i].created;
	}
	if (r >= 0)
		printf("%zu created, %zu kept.%s\n", created, s.n - created,
		       created ? " Back this directory up: a lost CA key or token means "
				 "reimaging every node."
			       : "");
	fflush(stdout);
	if (r < 0)
		log_error_errno(r, "%s", s.err ? s.err : "Cannot create the secrets");
	sec_ctx_done(&s);
	config_free(&c);
	return r < 0 ? 1 : 0;
}
