#include "sim/tls.h"

#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static SSL_CTX *ctx;

static char *ssl_error(const char *what)
{
	char buf[256];
	unsigned long e = ERR_get_error();
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return xasprintf("%s: %s", what, e ? buf : "failed");
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

/* A certificate for key, signed by issuer_key (issuer NULL: self-signed). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
		       const char *const *exts)
{
	X509 *cert = X509_new();
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	if (!cert || !X509_set_version(cert, 2) || RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f; /* a positive serial number */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)))
		goto fail;
	/* Valid from an hour ago (clock skew) for a year. */
	if (!X509_gmtime_adj(X509_getm_notBefore(cert), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(cert), 365L * 24 * 3600))
		goto fail;
	X509_NAME *name = X509_get_subject_name(cert);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
					0) ||
	    !X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name) ||
	    !X509_set_pubkey(cert, key))
		goto fail;
	for (size_t i = 0; exts[i]; i += 2) {
		int nid = OBJ_sn2nid(exts[i]);
		if (nid == NID_undef || !add_ext(cert, issuer ? issuer : cert, nid, exts[i + 1]))
			goto fail;
	}
	if (!X509_sign(cert, issuer_key, EVP_sha256()))
		goto fail;
	BN_free(bn);
	return cert;
fail:
	BN_free(bn);
	X509_free(cert);
	return NULL;
}

static char *pem_of(X509 *cert)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *out = NULL;
	if (b && PEM_write_bio_X509(b, cert) == 1) {
		char *p;
		long n = BIO_get_mem_data(b, &p);
		out = xstrndup(p, (size_t)n);
	}
	BIO_free(b);
	return out;
}

bool sim_tls_init(const char *host, char **ca_pem, char **err)
{
	EVP_PKEY *ca_key = EVP_EC_gen("P-256");
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *ca = NULL, *cert = NULL;
	char *san = NULL;
	bool ok = false;

	*ca_pem = NULL;
	*err = NULL;
	if (!ca_key || !key) {
		*err = ssl_error("cannot make a key");
		goto out;
	}
	static const char *const ca_exts[] = {"basicConstraints",
					      "critical,CA:TRUE",
					      "keyUsage",
					      "critical,keyCertSign,cRLSign,digitalSignature",
					      "subjectKeyIdentifier",
					      "hash",
					      NULL};
	ca = make_cert(ca_key, "esaas-sim-ca", NULL, ca_key, ca_exts);
	if (!ca) {
		*err = ssl_error("cannot make the CA certificate");
		goto out;
	}
	/* The names a kube-apiserver's certificate carries for a local client
	 * (kubeadm: localhost is not among them, the advertise address is). */
	unsigned char addr[16];
	bool is_ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
	bool extra = *host && strcmp(host, "127.0.0.1") != 0 && strcmp(host, "::1") != 0 &&
		     strcmp(host, "localhost") != 0 && strcmp(host, "0.0.0.0") != 0 &&
		     strcmp(host, "::") != 0;
	san = xasprintf("DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,"
			"DNS:kubernetes.default.svc,IP:127.0.0.1,IP:::1%s%s%s",
			extra ? "," : "", extra ? (is_ip ? "IP:" : "DNS:") : "", extra ? host : "");
	const char *const exts[] = {"basicConstraints",
				    "critical,CA:FALSE",
				    "keyUsage",
				    "critical,digitalSignature,keyEncipherment",
				    "extendedKeyUsage",
				    "serverAuth",
				    "authorityKeyIdentifier",
				    "keyid:always",
				    "subjectAltName",
				    san,
				    NULL};
	cert = make_cert(key, "kube-apiserver", ca, ca_key, exts);
	if (!cert) {
		*err = ssl_error("cannot make the server certificate");
		goto out;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		*err = ssl_error("cannot set up TLS");
		goto out;
	}
	*ca_pem = pem_of(ca);
	if (!*ca_pem) {
		*err = ssl_error("cannot write the CA certificate");
		goto out;
	}
	ok = true;
out:
	if (!ok) {
		SSL_CTX_free(ctx);
		ctx = NULL;
	}
	free(san);
	X509_free(ca);
	X509_free(cert);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	return ok;
}

/* Each accepted connection: a TLS server session over the socket. */
static struct bufferevent *bev_cb(struct event_base *base, void *arg)
{
	(void)arg;
	SSL *ssl = SSL_new(ctx);
	if (!ssl)
		return NULL;
	struct bufferevent *bev = bufferevent_openssl_socket_new(
		base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev)
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

void sim_tls_serve(struct evhttp *http)
{
	evhttp_set_bevcb(http, bev_cb, NULL);
}

void sim_tls_free(void)
{
	SSL_CTX_free(ctx);
	ctx = NULL;
}
