/* SPDX-License-Identifier: MIT */
/* `farm-image secrets init` and the reader the image build uses.
 *
 * What k3s expects, from its source:
 * - k3s-io/docs docs/cli/certificate.md, "Using Custom CA Certificates": CA
 *   files found in /var/lib/rancher/k3s/server/tls at the first start of the
 *   first server replace the generated ones: server-ca, client-ca,
 *   request-header-ca, etcd/peer-ca, etcd/server-ca (.crt and .key each;
 *   etcd's even without embedded etcd) and service.key.
 * - pkg/daemons/control/deps/deps.go: createSigningCertKey() names a CA
 *   "<prefix>-ca@<unix time>" (prefixes k3s-server, k3s-client,
 *   k3s-request-header, etcd-peer, etcd-server), with an ECDSA P-256 key
 *   ("EC PRIVATE KEY") and a self-signed certificate valid 3650 days
 *   (dynamiclistener cert.NewSelfSignedCACert); genServiceAccount() makes
 *   service.key as RSA 2048 ("RSA PRIVATE KEY").
 * - pkg/server/handlers/handlers.go CACerts(): /cacerts serves the bytes of
 *   server-ca.crt; pkg/clientaccess/token.go hashCA(): for a bundle of one
 *   certificate, the token's CA hash is the sha256 of those bytes.
 * - pkg/daemons/control/deps/deps.go genUsers(): the server's "node" user
 *   (role k3s:agent) gets the agent-token's password, the "server" user the
 *   token's; pkg/passwd/passwd.go EnsureUser() strips a full token's
 *   "K10<hash>::<user>:" prefix. So the agent token has the full form with
 *   user "node": agents verify the CA with it and cannot join as servers.
 *
 * Helpers return -errno and keep the first failure as a message in struct
 * ctx; the command, or secrets_load(), prints it once. */
#include "fileio.h"
#include "power-identity.h"
#include "secrets.h"
#include "hash.h"
#include "log.h"
#include "usage.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define TLS "k3s/tls/"
#define SECRET_MAX (1 << 20)
#define SECRET_HEX (2 * 32 + 1) /* 32 random bytes: token secret, node passwords */
#define CA_DAYS 3650
#define CA_BACKDATE 3600 /* seconds: room for a node clock a little behind ours */

static const struct ca {
	const char *crt, *key; /* below k3s's tls directory */
	const char *cn;        /* k3s appends "@<unix time>" */
} cas[] = {
	{ "server-ca.crt", "server-ca.key", "k3s-server-ca" },
	{ "client-ca.crt", "client-ca.key", "k3s-client-ca" },
	{ "request-header-ca.crt", "request-header-ca.key", "k3s-request-header-ca" },
	{ "etcd/peer-ca.crt", "etcd/peer-ca.key", "etcd-peer-ca" },
	{ "etcd/server-ca.crt", "etcd/server-ca.key", "etcd-server-ca" },
};
#define N_FILES (2 * ELEMENTSOF(cas) + 1) /* and service.key */
static const char *const subdirs[] = { "k3s", "k3s/tls", "k3s/tls/etcd", "nodes" };

struct buf {
	uint8_t *p; /* NUL-terminated when read from a file */
	size_t n;
};

struct secrets {
	struct secret_file files[N_FILES]; /* cas[0].crt, cas[0].key, ..., service.key */
	struct buf token, agent_token;
	size_t n_nodes;
	char **nodes;
	struct buf *passwords;
	struct buf *power_keys, *power_certs; /* agents only (power-identity.h) */
};

struct ctx {
	const char *dir;
	int dfd;
	bool made_dir;
	char *err; /* the first failure */
	struct entry {
		char *path; /* relative to dir */
		bool created;
	} *entries;
	size_t n, cap;
};

static void buf_wipe(struct buf *b)
{
	if (b->p)
		OPENSSL_cleanse(b->p, b->n);
	free(b->p);
	*b = (struct buf){ 0 };
}

static _printf_(3, 4) int fail(struct ctx *s, int r, const char *fmt, ...)
{
	va_list ap;

	if (r >= 0)
		r = -EIO;
	if (!s->err) {
		errno = -r;
		va_start(ap, fmt);
		if (vasprintf(&s->err, fmt, ap) < 0)
			abort();
		va_end(ap);
	}
	return r;
}

static const char *ossl_error(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	return r ? r : "unknown error";
}

static const char *file_name(size_t i)
{
	return i == N_FILES - 1 ? "service.key" : i % 2 ? cas[i / 2].key : cas[i / 2].crt;
}

static int sync_parent(int dfd, const char *rel)
{
	const char *slash = strrchr(rel, '/');
	_cleanup_free_ char *dir = slash ? strndup(rel, (size_t)(slash - rel)) : xstrdup(".");
	_cleanup_close_ int fd = -1;

	if (!dir)
		return -ENOMEM;
	fd = openat(dfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 || fsync(fd) < 0 ? -errno : 0;
}

/* Opens DIR (creating it, its parents and its subdirectories 0700 when
 * CREATE) and checks that it is ours alone. Inside it, which nobody else can
 * write, O_NOFOLLOW on each file is enough to stay off symlinks. */
static int open_dir(struct ctx *s, bool create)
{
	_cleanup_free_ char *p = xstrdup(s->dir);
	struct stat st;

	for (char *q = create && *p ? strchr(p + 1, '/') : NULL; q; q = strchr(q + 1, '/')) {
		*q = 0;
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return fail(s, -errno, "Cannot create %s: %m", p);
		*q = '/';
	}
	if (create && mkdir(p, 0700) == 0)
		s->made_dir = true;
	else if (create && errno != EEXIST)
		return fail(s, -errno, "Cannot create the secrets directory %s: %m", p);
	s->dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dfd < 0 && errno == ENOENT)
		return fail(s, -ENOENT, "The secrets directory %s does not exist: run "
			    "'farm-image secrets init' to create it", s->dir);
	if (s->dfd < 0 || fstat(s->dfd, &st) < 0)
		return fail(s, -errno, "Cannot open the secrets directory %s: %m", s->dir);
	if (s->made_dir && (fchmod(s->dfd, 0700) < 0 || fstat(s->dfd, &st) < 0))
		return fail(s, -errno, "Cannot make %s 0700: %m", s->dir);
	if (st.st_uid != geteuid())
		return fail(s, -EPERM, "The secrets directory %s belongs to uid %u, not to you "
			    "(uid %u): pass a directory of your own with --dir", s->dir,
			    (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & 077)
		return fail(s, -EPERM, "The secrets directory %s has mode %04o, so others may "
			    "read it: it must be 0700; check who could have, then run "
			    "'chmod 700 %s'", s->dir, (unsigned)(st.st_mode & 07777), s->dir);
	/* Each new directory's entry is synced in its parent. */
	if (s->made_dir) {
		_cleanup_free_ char *up = xasprintf("%s/..", s->dir);
		_cleanup_close_ int fd = open(up, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) < 0)
			return fail(s, -errno, "Cannot sync %s: %m", up);
	}
	for (size_t i = 0; create && i < ELEMENTSOF(subdirs); i++) {
		_cleanup_close_ int fd = -1;
		int r = mkdirat(s->dfd, subdirs[i], 0700) == 0 ? sync_parent(s->dfd, subdirs[i])
			: errno == EEXIST			  ? 0
								  : -errno;
		if (r == 0 && (fd = openat(s->dfd, subdirs[i], O_RDONLY | O_DIRECTORY |
						 O_NOFOLLOW | O_CLOEXEC)) < 0)
			r = -errno;
		if (r < 0)
			return fail(s, r, "Cannot create %s/%s: %m", s->dir, subdirs[i]);
	}
	return 0;
}

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
	return r < 0 ? r : sync_parent(dfd, rel);
}

/* Reads REL after checking that it is a regular file of ours that nobody
 * else can read; the data is NUL-terminated. */
static int load_file(struct ctx *s, const char *rel, struct buf *b)
{
	int r = open_regular(s->dfd, rel, O_NOFOLLOW, false);
	_cleanup_close_ int fd = r;
	struct stat st;

	if (r >= 0)
		r = fstat(fd, &st) < 0 ? -errno : 0;

	/* A new node's password is expected to be missing, and so is the agent
	 * token of a directory made before farm had one; the rest are lost. */
	if (r == -ENOENT)
		return fail(s, r, "%s/%s is missing: %s", s->dir, rel,
			    startswith(rel, "nodes/") || streq(rel, "agent-token")
			    ? "run 'farm-image secrets init' to create it"
			    : "restore it from your backup (for a cluster that never ran, "
			      "'farm-image secrets init' makes a new one)");
	if (r < 0)
		return fail(s, r, "Cannot read %s/%s: %s", s->dir, rel,
			    r == -ELOOP ? "it is a symlink; put the file itself there"
					: open_error(r));
	if (st.st_uid != geteuid())
		return fail(s, -EPERM, "%s/%s belongs to uid %u, not to you: run 'chown %u %s/%s'",
			    s->dir, rel, (unsigned)st.st_uid, (unsigned)geteuid(), s->dir, rel);
	if (st.st_mode & 077)
		return fail(s, -EPERM, "%s/%s has mode %04o, so others may read it: a secret "
			    "must be 0600; run 'chmod 600 %s/%s'", s->dir, rel,
			    (unsigned)(st.st_mode & 07777), s->dir, rel);
	if (st.st_size > SECRET_MAX)
		return fail(s, -EFBIG, "%s/%s is too large to be a secret", s->dir, rel);
	b->n = (size_t)st.st_size;
	b->p = xmalloc(b->n + 1);
	b->p[b->n] = 0;
	r = pread_full(fd, b->p, b->n, 0);
	if (r < 0) {
		buf_wipe(b);
		return fail(s, r, "Cannot read %s/%s: %m", s->dir, rel);
	}
	return 0;
}

/* 1 when REL exists, 0 when it does not, or -errno. */
static int exists(struct ctx *s, const char *rel)
{
	struct stat st;

	if (fstatat(s->dfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT ? 0 : fail(s, -errno, "Cannot access %s/%s: %m", s->dir, rel);
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
			fail(s, r, "Cannot create %s/%s: %m", s->dir, rel);
		buf_wipe(&b);
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

static int no_password(char *buf, int size, int rwflag, void *u) { return -1; }

static EVP_PKEY *parse_key(const struct buf *b)
{
	BIO *bio = BIO_new_mem_buf(b->p, (int)b->n);
	EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL) : NULL;

	BIO_free(bio);
	return k;
}

/* ARG: "EC" (P-256, the CAs) or "RSA" (2048, service.key), in the
 * traditional PEM forms k3s writes. */
static int make_key(struct ctx *s, const char *rel, const void *arg, struct buf *out)
{
	EVP_PKEY *k = streq(arg, "RSA") ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
					: EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	BIO *b = k ? BIO_new(BIO_s_secmem()) : NULL;
	int r = b ? bio_take(b, PEM_write_bio_PrivateKey_traditional(b, k, NULL, NULL, 0, NULL,
								      NULL), out)
		  : -EIO;

	EVP_PKEY_free(k);
	if (r < 0)
		r = fail(s, r, "Cannot make the key %s/%s: %s", s->dir, rel, ossl_error());
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
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (unsigned char *)cn, -1, -1, 0) &&
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
	int r = load_file(s, key_rel, &kb);

	if (r < 0)
		return r;
	k = parse_key(&kb);
	buf_wipe(&kb);
	if (!k)
		r = fail(s, -EINVAL, "%s/%s is not a PEM private key (%s)", s->dir, key_rel,
			 ossl_error());
	else if (!(x = new_ca_cert(k, ca->cn, time(NULL))) || !(b = BIO_new(BIO_s_mem())) ||
		 bio_take(b, PEM_write_bio_X509(b, x), out) < 0)
		r = fail(s, -EIO, "Cannot make the certificate %s/%s: %s", s->dir, rel,
			 ossl_error());
	X509_free(x);
	EVP_PKEY_free(k);
	ERR_clear_error();
	return r;
}

static int ensure_ca(struct ctx *s, const struct ca *ca)
{
	_cleanup_free_ char *crt = xasprintf(TLS "%s", ca->crt), *key = xasprintf(TLS "%s", ca->key);
	int have_crt = exists(s, crt), have_key = have_crt > 0 ? exists(s, key) : 1, r;

	if (have_crt < 0 || have_key < 0)
		return MIN(have_crt, have_key);
	if (!have_key)
		return fail(s, -ENOENT, "%s/%s is missing, but its certificate %s is there: "
			    "restore the key from your backup (a new CA means a new join token "
			    "and reimaging every node)", s->dir, key, crt);
	r = ensure(s, key, make_key, "EC");
	return r < 0 ? r : ensure(s, crt, make_cert, ca);
}

static void hash_hex(const struct buf *b, char out[SHA256_HEX_LEN])
{
	uint8_t d[SHA256_LEN];

	sha256_buf(b->p, b->n, d);
	hex_encode(d, sizeof(d), out);
}

/* "<prefix><32 random bytes in hex>\n", with ARG the prefix. */
static int make_random(struct ctx *s, const char *rel, const void *arg, struct buf *out)
{
	uint8_t b[(SECRET_HEX - 1) / 2];
	char hex[SECRET_HEX];

	if (RAND_priv_bytes(b, sizeof(b)) != 1)
		return fail(s, -EIO, "Cannot make %s/%s: %s", s->dir, rel, ossl_error());
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
	int r = load_file(s, TLS "server-ca.crt", &ca);

	if (r < 0)
		return r;
	hash_hex(&ca, hash);
	buf_wipe(&ca);
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
	int r = load_file(s, TLS "client-ca.crt", &crt);

	if (r >= 0)
		r = load_file(s, TLS "client-ca.key", &key);
	if (r >= 0)
		r = load_file(s, key_rel, &k);
	if (r >= 0 && (r = power_cert_sign(crt.p, crt.n, key.p, key.n, k.p, k.n, arg, time(NULL),
					   &out->p, &out->n, &why)) < 0)
		r = fail(s, r, "Cannot make %s/%s: %s", s->dir, rel, why);
	buf_wipe(&crt);
	buf_wipe(&key);
	buf_wipe(&k);
	return r;
}

/* A line of printable ASCII without spaces; drops one trailing newline. */
static bool take_line(struct buf *b)
{
	if (b->n && b->p[b->n - 1] == '\n')
		b->p[--b->n] = 0;
	for (size_t i = 0; i < b->n; i++)
		if (b->p[i] <= ' ' || b->p[i] > '~')
			return false;
	return b->n > 0;
}

static int check_ca(struct ctx *s, const struct ca *ca, const struct buf *crt,
		    const struct buf *key)
{
	BIO *b = BIO_new_mem_buf(crt->p, (int)crt->n);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, no_password, NULL) : NULL;
	EVP_PKEY *k = NULL;
	int r = 0;

	BIO_free(b);
	if (!x || X509_check_ca(x) < 1)
		r = fail(s, -EINVAL, "%s/" TLS "%s is not a PEM CA certificate: restore it from "
			 "your backup", s->dir, ca->crt);
	else if (!(k = parse_key(key)))
		r = fail(s, -EINVAL, "%s/" TLS "%s is not a PEM private key (%s)", s->dir, ca->key,
			 ossl_error());
	else if (X509_check_private_key(x, k) != 1)
		r = fail(s, -EINVAL, "%s/" TLS "%s is not the key of %s/" TLS "%s: restore both "
			 "from your backup", s->dir, ca->key, s->dir, ca->crt);
	X509_free(x);
	EVP_PKEY_free(k);
	ERR_clear_error();
	return r;
}

/* REL holds K10<hash of the server CA>::USER:<secret>. */
static int check_token(struct ctx *s, const char *rel, const char *user, struct buf *t,
		       const struct buf *server_ca)
{
	const char *p = (const char *)t->p;
	_cleanup_free_ char *sep = xasprintf("::%s:", user);
	char hash[SHA256_HEX_LEN];
	bool ok = take_line(t) && startswith(p, "K10");
	size_t h = 0;

	while (ok && h < 2 * SHA256_LEN && p[3 + h] && strchr("0123456789abcdef", p[3 + h]))
		h++;
	if (!ok || h != 2 * SHA256_LEN || !startswith(p + 3 + h, sep) || !p[3 + h + strlen(sep)])
		return fail(s, -EINVAL, "%s/%s is not a full k3s token (K10<CA hash>%s<secret>): "
			    "remove it and run 'farm-image secrets init'", s->dir, rel, sep);
	hash_hex(server_ca, hash);
	if (memcmp(p + 3, hash, 2 * SHA256_LEN) != 0)
		return fail(s, -EINVAL, "%s/%s does not hold the hash of %s/" TLS "server-ca.crt"
			    ": restore both from your backup, or remove the tokens, run 'farm-image "
			    "secrets init' and rebuild every node", s->dir, rel, s->dir);
	return 0;
}

/* An agent's power-cycle key and certificate, checked against the client
 * CA certificate CA. */
static int load_power(struct ctx *s, const char *node, const struct buf *ca, struct buf *key,
		      struct buf *crt)
{
	_cleanup_free_ char *krel = xasprintf("nodes/%s.power.key", node);
	_cleanup_free_ char *crel = xasprintf("nodes/%s.power.crt", node);
	const char *why;
	int days, r = load_file(s, krel, key);

	if (r >= 0)
		r = load_file(s, crel, crt);
	if (r >= 0 && power_cert_check(ca->p, ca->n, key->p, key->n, crt->p, crt->n, node,
				       time(NULL), &days, &why) < 0)
		r = fail(s, -EINVAL, "%s/%s: %s: remove it, run 'farm-image secrets init' to make "
			 "a new one and rebuild node %s", s->dir, crel, why, node);
	else if (r >= 0 && days < 30)
		log_warning("%s/%s expires in %d days: then node %s cannot power itself off "
			    "gracefully; remove it, run 'farm-image secrets init' and rebuild the "
			    "node", s->dir, crel, days, node);
	return r;
}

static int load(struct ctx *s, const struct config *c, struct secrets **ret)
{
	struct secrets *x = xcalloc(1, sizeof(*x));
	struct buf b[N_FILES] = { { 0 } };
	int r = 0;

	for (size_t i = 0; i < N_FILES && r >= 0; i++) {
		_cleanup_free_ char *rel = xasprintf(TLS "%s", file_name(i));
		r = load_file(s, rel, &b[i]);
	}
	for (size_t i = 0; i < ELEMENTSOF(cas) && r >= 0; i++)
		r = check_ca(s, &cas[i], &b[2 * i], &b[2 * i + 1]);
	if (r >= 0) {
		EVP_PKEY *k = parse_key(&b[N_FILES - 1]);
		if (!k)
			r = fail(s, -EINVAL, "%s/" TLS "service.key is not a PEM private key (%s)",
				 s->dir, ossl_error());
		EVP_PKEY_free(k);
		ERR_clear_error();
	}
	for (size_t i = 0; i < N_FILES; i++)
		x->files[i] = (struct secret_file){ file_name(i), b[i].p, b[i].n };
	if (r >= 0 && (r = load_file(s, "token", &x->token)) >= 0)
		r = check_token(s, "token", "server", &x->token, &b[0]);
	if (r >= 0 && (r = load_file(s, "agent-token", &x->agent_token)) >= 0)
		r = check_token(s, "agent-token", "node", &x->agent_token, &b[0]);
	x->nodes = xcalloc(c->nodes.n, sizeof(*x->nodes));
	x->passwords = xcalloc(c->nodes.n, sizeof(*x->passwords));
	x->power_keys = xcalloc(c->nodes.n, sizeof(*x->power_keys));
	x->power_certs = xcalloc(c->nodes.n, sizeof(*x->power_certs));
	for (size_t i = 0; i < c->nodes.n && r >= 0; i++) {
		const char *node = config_node_at(c, i)->name.v;
		_cleanup_free_ char *rel = xasprintf("nodes/%s.password", node);

		r = load_file(s, rel, &x->passwords[i]);
		x->nodes[x->n_nodes++] = xstrdup(node);
		if (r >= 0 && !take_line(&x->passwords[i]))
			r = fail(s, -EINVAL, "%s/%s is not a password (one line, no spaces): remove "
				 "it and run 'farm-image secrets init'", s->dir, rel);
		if (r >= 0 && config_node_at(c, i)->role.i != ROLE_SERVER)
			r = load_power(s, node, &b[2], &x->power_keys[i], &x->power_certs[i]);
	}
	if (r < 0) {
		secrets_free(x);
		x = NULL;
	}
	*ret = x;
	return MIN(r, 0);
}

static void ctx_done(struct ctx *s)
{
	if (s->dfd >= 0)
		close(s->dfd);
	for (size_t i = 0; i < s->n; i++)
		free(s->entries[i].path);
	free(s->entries);
	free(s->err);
}

char *secrets_default_dir(const struct config *c)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

	/* The XDG base directory spec ignores relative paths. */
	if (xdg && xdg[0] == '/')
		return xasprintf("%s/farm/%s", xdg, c->cluster.name.v);
	if (home && home[0] == '/')
		return xasprintf("%s/.config/farm/%s", home, c->cluster.name.v);
	return NULL;
}

int secrets_load(const char *dir, const struct config *c, struct secrets **ret)
{
	struct ctx s = { .dir = dir, .dfd = -1 };
	int r = open_dir(&s, false);

	*ret = NULL;
	if (r >= 0)
		r = load(&s, c, ret);
	if (r < 0)
		log_error_errno(r, "%s", s.err ? s.err : "Cannot load the secrets");
	ctx_done(&s);
	return r;
}

const char *secrets_token(const struct secrets *s) { return (const char *)s->token.p; }

const char *secrets_agent_token(const struct secrets *s)
{
	return (const char *)s->agent_token.p;
}

const char *secrets_node_password(const struct secrets *s, const char *node)
{
	for (size_t i = 0; i < s->n_nodes; i++)
		if (streq(s->nodes[i], node))
			return (const char *)s->passwords[i].p;
	return NULL;
}

int secrets_power_identity(const struct secrets *s, const char *node, struct secret_file *key,
			   struct secret_file *crt)
{
	for (size_t i = 0; i < s->n_nodes; i++)
		if (streq(s->nodes[i], node) && s->power_keys[i].p) {
			*key = (struct secret_file){ "power.key", s->power_keys[i].p,
						     s->power_keys[i].n };
			*crt = (struct secret_file){ "power.crt", s->power_certs[i].p,
						     s->power_certs[i].n };
			return 0;
		}
	return -ENOENT;
}

size_t secrets_ca_files(const struct secrets *s, const struct secret_file **files)
{
	*files = s->files;
	return N_FILES;
}

void secrets_free(struct secrets *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < N_FILES; i++)
		buf_wipe(&(struct buf){ (uint8_t *)s->files[i].data, s->files[i].size });
	buf_wipe(&s->token);
	buf_wipe(&s->agent_token);
	for (size_t i = 0; i < s->n_nodes; i++) {
		free(s->nodes[i]);
		buf_wipe(&s->passwords[i]);
		buf_wipe(&s->power_keys[i]);
		buf_wipe(&s->power_certs[i]);
	}
	free(s->nodes);
	free(s->passwords);
	free(s->power_keys);
	free(s->power_certs);
	free(s);
}

/* Creates what is missing, then checks everything as the build will. */
static int init(struct ctx *s, const struct config *c)
{
	struct secrets *check = NULL;
	int r = open_dir(s, true);

	for (size_t i = 0; i < ELEMENTSOF(cas) && r >= 0; i++)
		r = ensure_ca(s, &cas[i]);
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
		r = load(s, c, &check);
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
	r = dir ? init(&s, &c) : fail(&s, -ENOENT, "No HOME to keep the secrets in: pass --dir");
	if (s.n > 0 || r >= 0)
		log_print(stdout, "Secrets of cluster '%s' in %s%s:\n", c.cluster.name.v, dir,
		       s.made_dir ? " (directory created)" : "");
	for (size_t i = 0; i < s.n; i++) {
		log_print(stdout, "  %-8s %s\n", s.entries[i].created ? "created" : "kept", s.entries[i].path);
		created += s.entries[i].created;
	}
	if (r >= 0)
		printf("%zu created, %zu kept.%s\n", created, s.n - created,
		       created ? " Back this directory up: a lost CA key or token means "
				 "reimaging every node." : "");
	fflush(stdout);
	if (r < 0)
		log_error_errno(r, "%s", s.err ? s.err : "Cannot create the secrets");
	ctx_done(&s);
	config_free(&c);
	return r < 0 ? 1 : 0;
}
