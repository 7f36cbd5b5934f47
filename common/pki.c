#include "common/pki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static void pki_error(char *err, size_t errlen, const char *what)
{
	char buf[256] = "";
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	snprintf(err, errlen, "%s%s%s", what, e ? ": " : "", buf);
}

static EVP_PKEY *new_key(void)
{
	return EVP_EC_gen("P-256");
}

static char *key_pem(EVP_PKEY *key)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *out = NULL, *p;
	if (b && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) == 1) {
		long n = BIO_get_mem_data(b, &p);
		out = xstrndup(p, (size_t)n);
	}
	BIO_free(b);
	return out;
}

static char *cert_pem(X509 *cert)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *out = NULL, *p;
	if (b && PEM_write_bio_X509(b, cert) == 1) {
		long n = BIO_get_mem_data(b, &p);
		out = xstrndup(p, (size_t)n);
	}
	BIO_free(b);
	return out;
}

static X509 *read_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *cert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	return cert;
}

static EVP_PKEY *read_key(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	return key;
}

static bool add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ext)
		return false;
	bool ok = X509_add_ext(cert, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok;
}

/* The unsigned part: version 3, a random positive serial, valid from an
 * hour ago (clock skew between esaasd and the nodes) for days. */
static X509 *new_cert(EVP_PKEY *key, const char *cn, int days)
{
	X509 *cert = X509_new();
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	if (!cert || !X509_set_version(cert, 2) || RAND_bytes(serial, sizeof(serial)) != 1)
		goto failed;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) ||
	    !X509_gmtime_adj(X509_getm_notBefore(cert), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(cert), (long)days * 24 * 3600) ||
	    !X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_UTF8,
					(const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_pubkey(cert, key))
		goto failed;
	BN_free(bn);
	return cert;
failed:
	BN_free(bn);
	X509_free(cert);
	return NULL;
}

static bool finish(X509 *cert, EVP_PKEY *key, EVP_PKEY *signer, struct pki_pair *out)
{
	if (X509_sign(cert, signer, EVP_sha256()) <= 0)
		return false;
	out->cert_pem = cert_pem(cert);
	out->key_pem = key_pem(key);
	if (out->cert_pem && out->key_pem)
		return true;
	pki_pair_free(out);
	return false;
}

bool pki_make_ca(const char *cn, int days, struct pki_pair *out, char *err, size_t errlen)
{
	EVP_PKEY *key = new_key();
	X509 *cert = key ? new_cert(key, cn, days) : NULL;
	bool ok = false;
	memset(out, 0, sizeof(*out));
	if (!cert) {
		pki_error(err, errlen, "the CA's key or certificate could not be made");
		goto done;
	}
	if (!X509_set_issuer_name(cert, X509_get_subject_name(cert)) ||
	    !add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
	    !add_ext(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    !add_ext(cert, cert, NID_subject_key_identifier, "hash") ||
	    !finish(cert, key, key, out)) {
		pki_error(err, errlen, "the CA certificate could not be signed");
		goto done;
	}
	ok = true;
done:
	X509_free(cert);
	EVP_PKEY_free(key);
	return ok;
}

bool pki_make_cert(const struct pki_pair *ca, const char *cn, const char *const *dns, size_t ndns,
		   int days, struct pki_pair *out, char *err, size_t errlen)
{
	X509 *issuer = read_cert(ca->cert_pem);
	EVP_PKEY *signer = read_key(ca->key_pem);
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char *san = NULL;
	bool ok = false;
	memset(out, 0, sizeof(*out));
	if (!issuer || !signer) {
		pki_error(err, errlen, "the CA's certificate or key could not be read");
		goto done;
	}
	key = new_key();
	cert = key ? new_cert(key, cn, days) : NULL;
	if (!cert) {
		pki_error(err, errlen, "the key or certificate could not be made");
		goto done;
	}
	size_t len = 1;
	for (size_t i = 0; i < ndns; i++)
		len += strlen(dns[i]) + 5;
	san = xcalloc(1, len);
	for (size_t i = 0, at = 0; i < ndns; i++)
		at += (size_t)snprintf(san + at, len - at, "%sDNS:%s", i ? "," : "", dns[i]);
	if (!X509_set_issuer_name(cert, X509_get_subject_name(issuer)) ||
	    !add_ext(cert, issuer, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(cert, issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment") ||
	    !add_ext(cert, issuer, NID_ext_key_usage, "serverAuth,clientAuth") ||
	    !add_ext(cert, issuer, NID_subject_key_identifier, "hash") ||
	    !add_ext(cert, issuer, NID_authority_key_identifier, "keyid:always") ||
	    (ndns && !add_ext(cert, issuer, NID_subject_alt_name, san)) ||
	    !finish(cert, key, signer, out)) {
		pki_error(err, errlen, "the certificate could not be signed");
		goto done;
	}
	ok = true;
done:
	free(san);
	X509_free(cert);
	X509_free(issuer);
	EVP_PKEY_free(key);
	EVP_PKEY_free(signer);
	return ok;
}

bool pki_verify(const char *ca_pem, const char *cert_pem, const char *host, char *err,
		size_t errlen)
{
	X509 *ca = read_cert(ca_pem), *cert = read_cert(cert_pem);
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	bool ok = false;
	if (!ca || !cert || !store || !ctx) {
		pki_error(err, errlen, "the certificates could not be read");
		goto done;
	}
	if (X509_STORE_add_cert(store, ca) != 1 ||
	    X509_STORE_CTX_init(ctx, store, cert, NULL) != 1) {
		pki_error(err, errlen, "the trust store could not be set up");
		goto done;
	}
	if (host)
		X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), host, 0);
	if (X509_verify_cert(ctx) != 1) {
		snprintf(err, errlen, "%s",
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		goto done;
	}
	ok = true;
done:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(ca);
	X509_free(cert);
	return ok;
}

void pki_pair_free(struct pki_pair *p)
{
	free(p->cert_pem);
	free(p->key_pem);
	p->cert_pem = p->key_pem = NULL;
}
