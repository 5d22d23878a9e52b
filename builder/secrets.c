/* SPDX-License-Identifier: MIT */
/* The secrets directory, as the image build reads and checks it (and
 * `farm-image secrets init`, secrets-init.c, once it has made what was
 * missing).
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
 * Helpers return -errno and keep the first failure as a message
 * (secrets-internal.h). */
#include "secrets-internal.h"
#include "fileio.h"
#include "power-identity.h"
#include "log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define SECRET_MAX (1 << 20)

const struct ca sec_cas[N_CAS] = {
	{ "server-ca.crt", "server-ca.key", "k3s-server-ca" },
	{ "client-ca.crt", "client-ca.key", "k3s-client-ca" },
	{ "request-header-ca.crt", "request-header-ca.key", "k3s-request-header-ca" },
	{ "etcd/peer-ca.crt", "etcd/peer-ca.key", "etcd-peer-ca" },
	{ "etcd/server-ca.crt", "etcd/server-ca.key", "etcd-server-ca" },
};
#define N_FILES (2 * N_CAS + 1) /* and service.key */
static const char *const subdirs[] = { "k3s", "k3s/tls", "k3s/tls/etcd", "nodes" };

struct secrets {
	struct secret_file files[N_FILES]; /* sec_cas[0].crt, sec_cas[0].key, ..., service.key */
	struct buf token, agent_token;
	size_t n_nodes;
	char **nodes;
	struct buf *passwords;
	struct buf *power_keys, *power_certs; /* agents only (power-identity.h) */
};

void sec_wipe(struct buf *b)
{
	if (b->p)
		OPENSSL_cleanse(b->p, b->n);
	free(b->p);
	*b = (struct buf){ 0 };
}

int sec_fail(struct ctx *s, int r, const char *fmt, ...)
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

const char *sec_ossl_error(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	return r ? r : "unknown error";
}

static const char *file_name(size_t i)
{
	return i == N_FILES - 1 ? "service.key" : i % 2 ? sec_cas[i / 2].key : sec_cas[i / 2].crt;
}

int sec_sync_parent(int dfd, const char *rel)
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
int sec_open_dir(struct ctx *s, bool create)
{
	_cleanup_free_ char *p = xstrdup(s->dir);
	struct stat st;

	for (char *q = create && *p ? strchr(p + 1, '/') : NULL; q; q = strchr(q + 1, '/')) {
		*q = 0;
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return sec_fail(s, -errno, "Cannot create %s: %m", p);
		*q = '/';
	}
	if (create && mkdir(p, 0700) == 0)
		s->made_dir = true;
	else if (create && errno != EEXIST)
		return sec_fail(s, -errno, "Cannot create the secrets directory %s: %m", p);
	s->dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dfd < 0 && errno == ENOENT)
		return sec_fail(s, -ENOENT,
				"The secrets directory %s does not exist: run "
				"'farm-image secrets init' to create it",
				s->dir);
	if (s->dfd < 0 || fstat(s->dfd, &st) < 0)
		return sec_fail(s, -errno, "Cannot open the secrets directory %s: %m", s->dir);
	if (s->made_dir && (fchmod(s->dfd, 0700) < 0 || fstat(s->dfd, &st) < 0))
		return sec_fail(s, -errno, "Cannot make %s 0700: %m", s->dir);
	if (st.st_uid != geteuid())
		return sec_fail(s, -EPERM,
				"The secrets directory %s belongs to uid %u, not to you "
				"(uid %u): pass a directory of your own with --dir",
				s->dir, (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & 077)
		return sec_fail(s, -EPERM,
				"The secrets directory %s has mode %04o, so others may "
				"read it: it must be 0700; check who could have, then run "
				"'chmod 700 %s'",
				s->dir, (unsigned)(st.st_mode & 07777), s->dir);
	/* Each new directory's entry is synced in its parent. */
	if (s->made_dir) {
		_cleanup_free_ char *up = xasprintf("%s/..", s->dir);
		_cleanup_close_ int fd = open(up, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) < 0)
			return sec_fail(s, -errno, "Cannot sync %s: %m", up);
	}
	for (size_t i = 0; create && i < ELEMENTSOF(subdirs); i++) {
		_cleanup_close_ int fd = -1;
		int r = mkdirat(s->dfd, subdirs[i], 0700) == 0 ? sec_sync_parent(s->dfd, subdirs[i])
			: errno == EEXIST		       ? 0
							       : -errno;
		if (r == 0 && (fd = openat(s->dfd, subdirs[i],
					   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
			r = -errno;
		if (r < 0)
			return sec_fail(s, r, "Cannot create %s/%s: %m", s->dir, subdirs[i]);
	}
	return 0;
}

/* Reads REL after checking that it is a regular file of ours that nobody
 * else can read; the data is NUL-terminated. */
int sec_read_file(struct ctx *s, const char *rel, struct buf *b)
{
	int r = open_regular(s->dfd, rel, O_NOFOLLOW, false);
	_cleanup_close_ int fd = r;
	struct stat st;

	if (r >= 0)
		r = fstat(fd, &st) < 0 ? -errno : 0;

	/* A new node's password is expected to be missing, and so is the agent
	 * token of a directory made before farm had one; the rest are lost. */
	if (r == -ENOENT)
		return sec_fail(s, r, "%s/%s is missing: %s", s->dir, rel,
				startswith(rel, "nodes/") || streq(rel, "agent-token")
					? "run 'farm-image secrets init' to create it"
					: "restore it from your backup (for a cluster that never ran, "
					  "'farm-image secrets init' makes a new one)");
	if (r < 0)
		return sec_fail(s, r, "Cannot read %s/%s: %s", s->dir, rel,
				r == -ELOOP ? "it is a symlink; put the file itself there"
					    : open_error(r));
	if (st.st_uid != geteuid())
		return sec_fail(s, -EPERM,
				"%s/%s belongs to uid %u, not to you: run 'chown %u %s/%s'", s->dir,
				rel, (unsigned)st.st_uid, (unsigned)geteuid(), s->dir, rel);
	if (st.st_mode & 077)
		return sec_fail(s, -EPERM,
				"%s/%s has mode %04o, so others may read it: a secret "
				"must be 0600; run 'chmod 600 %s/%s'",
				s->dir, rel, (unsigned)(st.st_mode & 07777), s->dir, rel);
	if (st.st_size > SECRET_MAX)
		return sec_fail(s, -EFBIG, "%s/%s is too large to be a secret", s->dir, rel);
	b->n = (size_t)st.st_size;
	b->p = xmalloc(b->n + 1);
	b->p[b->n] = 0;
	r = pread_full(fd, b->p, b->n, 0);
	if (r < 0) {
		sec_wipe(b);
		return sec_fail(s, r, "Cannot read %s/%s: %m", s->dir, rel);
	}
	return 0;
}

static int no_password(char *buf, int size, int rwflag, void *u) { return -1; }

EVP_PKEY *sec_parse_key(const struct buf *b)
{
	BIO *bio = BIO_new_mem_buf(b->p, (int)b->n);
	EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL) : NULL;

	BIO_free(bio);
	return k;
}

void sec_hash_hex(const struct buf *b, char out[SHA256_HEX_LEN])
{
	uint8_t d[SHA256_LEN];

	sha256_buf(b->p, b->n, d);
	hex_encode(d, sizeof(d), out);
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
		r = sec_fail(s, -EINVAL,
			     "%s/" TLS "%s is not a PEM CA certificate: restore it from "
			     "your backup",
			     s->dir, ca->crt);
	else if (!(k = sec_parse_key(key)))
		r = sec_fail(s, -EINVAL, "%s/" TLS "%s is not a PEM private key (%s)", s->dir,
			     ca->key, sec_ossl_error());
	else if (X509_check_private_key(x, k) != 1)
		r = sec_fail(s, -EINVAL,
			     "%s/" TLS "%s is not the key of %s/" TLS "%s: restore both "
			     "from your backup",
			     s->dir, ca->key, s->dir, ca->crt);
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
		return sec_fail(s, -EINVAL,
				"%s/%s is not a full k3s token (K10<CA hash>%s<secret>): "
				"remove it and run 'farm-image secrets init'",
				s->dir, rel, sep);
	sec_hash_hex(server_ca, hash);
	if (memcmp(p + 3, hash, 2 * SHA256_LEN) != 0)
		return sec_fail(s, -EINVAL,
				"%s/%s does not hold the hash of %s/" TLS "server-ca.crt"
				": restore both from your backup, or remove the tokens, run 'farm-image "
				"secrets init' and rebuild every node",
				s->dir, rel, s->dir);
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
	int days, r = sec_read_file(s, krel, key);

	if (r >= 0)
		r = sec_read_file(s, crel, crt);
	if (r >= 0 && power_cert_check(ca->p, ca->n, key->p, key->n, crt->p, crt->n, node,
				       time(NULL), &days, &why) < 0)
		r = sec_fail(s, -EINVAL,
			     "%s/%s: %s: remove it, run 'farm-image secrets init' to make "
			     "a new one and rebuild node %s",
			     s->dir, crel, why, node);
	else if (r >= 0 && days < 30)
		log_warning("%s/%s expires in %d days: then node %s cannot power itself off "
			    "gracefully; remove it, run 'farm-image secrets init' and rebuild the "
			    "node",
			    s->dir, crel, days, node);
	return r;
}

int sec_read(struct ctx *s, const struct config *c, struct secrets **ret)
{
	struct secrets *x = xcalloc(1, sizeof(*x));
	struct buf b[N_FILES] = { { 0 } };
	int r = 0;

	for (size_t i = 0; i < N_FILES && r >= 0; i++) {
		_cleanup_free_ char *rel = xasprintf(TLS "%s", file_name(i));
		r = sec_read_file(s, rel, &b[i]);
	}
	for (size_t i = 0; i < N_CAS && r >= 0; i++)
		r = check_ca(s, &sec_cas[i], &b[2 * i], &b[2 * i + 1]);
	if (r >= 0) {
		EVP_PKEY *k = sec_parse_key(&b[N_FILES - 1]);
		if (!k)
			r = sec_fail(s, -EINVAL,
				     "%s/" TLS "service.key is not a PEM private key (%s)", s->dir,
				     sec_ossl_error());
		EVP_PKEY_free(k);
		ERR_clear_error();
	}
	for (size_t i = 0; i < N_FILES; i++)
		x->files[i] = (struct secret_file){ file_name(i), b[i].p, b[i].n };
	if (r >= 0 && (r = sec_read_file(s, "token", &x->token)) >= 0)
		r = check_token(s, "token", "server", &x->token, &b[0]);
	if (r >= 0 && (r = sec_read_file(s, "agent-token", &x->agent_token)) >= 0)
		r = check_token(s, "agent-token", "node", &x->agent_token, &b[0]);
	x->nodes = xcalloc(c->nodes.n, sizeof(*x->nodes));
	x->passwords = xcalloc(c->nodes.n, sizeof(*x->passwords));
	x->power_keys = xcalloc(c->nodes.n, sizeof(*x->power_keys));
	x->power_certs = xcalloc(c->nodes.n, sizeof(*x->power_certs));
	for (size_t i = 0; i < c->nodes.n && r >= 0; i++) {
		const char *node = config_node_at(c, i)->name.v;
		_cleanup_free_ char *rel = xasprintf("nodes/%s.password", node);

		r = sec_read_file(s, rel, &x->passwords[i]);
		x->nodes[x->n_nodes++] = xstrdup(node);
		if (r >= 0 && !take_line(&x->passwords[i]))
			r = sec_fail(s, -EINVAL,
				     "%s/%s is not a password (one line, no spaces): remove "
				     "it and run 'farm-image secrets init'",
				     s->dir, rel);
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

void sec_ctx_done(struct ctx *s)
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
	int r = sec_open_dir(&s, false);

	*ret = NULL;
	if (r >= 0)
		r = sec_read(&s, c, ret);
	if (r < 0)
		log_error_errno(r, "%s", s.err ? s.err : "Cannot load the secrets");
	sec_ctx_done(&s);
	return r;
}

const char *secrets_token(const struct secrets *s) { return (const char *)s->token.p; }

const char *secrets_agent_token(const struct secrets *s) { return (const char *)s->agent_token.p; }

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
		sec_wipe(&(struct buf){ (uint8_t *)s->files[i].data, s->files[i].size });
	sec_wipe(&s->token);
	sec_wipe(&s->agent_token);
	for (size_t i = 0; i < s->n_nodes; i++) {
		free(s->nodes[i]);
		sec_wipe(&s->passwords[i]);
		sec_wipe(&s->power_keys[i]);
		sec_wipe(&s->power_certs[i]);
	}
	free(s->nodes);
	free(s->passwords);
	free(s->power_keys);
	free(s->power_certs);
	free(s);
}
