/* SPDX-License-Identifier: MIT */
/* The power-cycle client certificates of the agents (power-identity.h).
 * Shaped as k3s shapes its own client certificates (deps.go,
 * createClientCertKey: dynamiclistener's NewSignedCert): an end-entity
 * certificate for client authentication only, a random serial. */
#include "power-identity.h"
#include "util.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define BACKDATE 3600 /* seconds: room for a node clock a little behind ours */

static int no_password(char *buf, int size, int rwflag, void *u) { return -1; }

static X509 *read_cert(const uint8_t *p, size_t n)
{
	BIO *b = BIO_new_mem_buf(p, (int)n);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, no_password, NULL) : NULL;

	BIO_free(b);
	return x;
}

static EVP_PKEY *read_key(const uint8_t *p, size_t n)
{
	BIO *b = BIO_new_mem_buf(p, (int)n);
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, no_password, NULL) : NULL;

	BIO_free(b);
	return k;
}

static bool add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, v3, nid, value);
	bool ok = e && X509_add_ext(x, e, -1);

	X509_EXTENSION_free(e);
	return ok;
}

int power_cert_sign(const uint8_t *ca_crt, size_t ca_crt_len, const uint8_t *ca_key,
		    size_t ca_key_len, const uint8_t *key, size_t key_len, const char *node,
		    time_t now, uint8_t **pem, size_t *len, const char **why)
{
	_cleanup_free_ char *cn = xasprintf(POWER_USER_PREFIX "%s", node);
	X509 *ca = read_cert(ca_crt, ca_crt_len), *x = NULL;
	EVP_PKEY *cak = read_key(ca_key, ca_key_len), *k = read_key(key, key_len);
	X509_NAME *name;
	BIGNUM *bn = NULL;
	BIO *out = NULL;
	BUF_MEM *m = NULL;
	uint8_t serial[16];
	X509V3_CTX v3;
	int r = -EIO;
	bool ok;

	*why = NULL;
	if (!ca || !cak)
		*why = "the client CA certificate or key does not parse";
	else if (!k)
		*why = "the node's key does not parse";
	else if (!(x = X509_new()) || RAND_bytes(serial, sizeof(serial)) != 1)
		*why = "out of memory or randomness";
	if (*why)
		goto out;
	serial[0] = (serial[0] & 0x7f) | 0x40; /* positive, full length */
	name = X509_get_subject_name(x);
	ok = (bn = BN_bin2bn(serial, sizeof(serial), NULL)) &&
	     BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) &&
	     X509_set_version(x, X509_VERSION_3) &&
	     X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
					(const unsigned char *)POWER_GROUP, -1, -1, 0) &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
					-1, 0) &&
	     X509_set_issuer_name(x, X509_get_subject_name(ca)) &&
	     X509_time_adj_ex(X509_getm_notBefore(x), 0, -BACKDATE, &now) &&
	     /* As long as the CA: a baked certificate cannot be renewed on
	      * the node, and a new client CA means new images anyway. */
	     X509_set1_notAfter(x, X509_get0_notAfter(ca)) && X509_set_pubkey(x, k);
	if (ok) {
		X509V3_set_ctx(&v3, ca, x, NULL, NULL, 0);
		ok = add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE") &&
		     add_ext(x, &v3, NID_key_usage, "critical,digitalSignature,keyEncipherment") &&
		     add_ext(x, &v3, NID_ext_key_usage, "clientAuth") &&
		     add_ext(x, &v3, NID_authority_key_identifier, "keyid:always");
	}
	ok = ok && X509_sign(x, cak, EVP_sha256()) > 0 && (out = BIO_new(BIO_s_mem())) &&
	     PEM_write_bio_X509(out, x) == 1 && BIO_get_mem_ptr(out, &m) == 1 && m && m->length;
	if (!ok) {
		*why = "OpenSSL could not make the certificate";
		goto out;
	}
	*pem = xmalloc(m->length);
	memcpy(*pem, m->data, m->length);
	*len = m->length;
	r = 0;
out:
	BIO_free(out);
	BN_free(bn);
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(cak);
	EVP_PKEY_free(k);
	ERR_clear_error();
	return r;
}

/* The text of the one entry NID of NAME, or NULL (points into NAME). */
static const char *name_entry(const X509_NAME *name, int nid)
{
	int i = X509_NAME_get_index_by_NID(name, nid, -1);
	const ASN1_STRING *s;

	if (i < 0 || X509_NAME_get_index_by_NID(name, nid, i) >= 0)
		return NULL;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	return s && ASN1_STRING_type(s) == V_ASN1_UTF8STRING
		       ? (const char *)ASN1_STRING_get0_data(s)
		       : NULL;
}

int power_cert_check(const uint8_t *ca_crt, size_t ca_crt_len, const uint8_t *key, size_t key_len,
		     const uint8_t *crt, size_t crt_len, const char *node, time_t now,
		     int *days_left, const char **why)
{
	_cleanup_free_ char *cn = xasprintf(POWER_USER_PREFIX "%s", node);
	X509 *ca = read_cert(ca_crt, ca_crt_len), *x = read_cert(crt, crt_len);
	EVP_PKEY *k = read_key(key, key_len), *capub = ca ? X509_get0_pubkey(ca) : NULL;
	const char *got_cn = x ? name_entry(X509_get_subject_name(x), NID_commonName) : NULL;
	const char *got_o = x ? name_entry(X509_get_subject_name(x), NID_organizationName) : NULL;
	ASN1_TIME *t = NULL;
	int days = 0, secs = 0;

	*why = NULL;
	*days_left = 0;
	if (!x)
		*why = "it is not a PEM certificate";
	else if (!k)
		*why = "its key is not a PEM private key";
	else if (!ca || !capub)
		*why = "the client CA certificate does not parse";
	else if (X509_check_private_key(x, k) != 1)
		*why = "it is not the certificate of the node's key";
	else if (X509_verify(x, capub) != 1 ||
		 X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(ca)) != 0)
		*why = "it was not signed by the cluster's client CA (k3s/tls/client-ca.crt)";
	else if (!got_cn || !streq(got_cn, cn) || !got_o || !streq(got_o, POWER_GROUP))
		*why = "its subject is not CN=" POWER_USER_PREFIX "<node>, O=" POWER_GROUP;
	else if (!(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT) || X509_check_ca(x) != 0)
		*why = "it is not a client certificate";
	else if (X509_cmp_time(X509_get0_notAfter(x), &now) <= 0)
		*why = "it has expired";
	else if (!(t = ASN1_TIME_set(NULL, now)) ||
		 ASN1_TIME_diff(&days, &secs, t, X509_get0_notAfter(x)) != 1)
		*why = "its expiry cannot be read";
	else
		*days_left = days;
	ASN1_TIME_free(t);
	X509_free(ca);
	X509_free(x);
	EVP_PKEY_free(k);
	ERR_clear_error();
	return *why ? -EINVAL : 0;
}
