/*
 * HTTPS for api/http.c: a certificate chain and its private key, read from
 * PEM files into an OpenSSL context, and the TLS bufferevent of each
 * connection accepted with it.
 *
 * A context in use is never changed: a new pair (SIGHUP) is a new context,
 * and the server hands it to the connections accepted after.  Each
 * connection's SSL holds a reference to the context it began with, so
 * freeing the old one leaves the connections open on it as they are.
 */
#include "api/http.h"
#include "api/http_internal.h"
#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

struct http_tls {
	SSL_CTX *ctx;
	char *summary; /* the certificate's subject and end of validity */
};

/* The oldest error OpenSSL queued (the first cause), and the queue emptied. */
static void ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_peek_error();

	if (e)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "no further detail");
	ERR_clear_error();
}

/* An encrypted key is refused rather than prompted for on the terminal. */
static int no_passphrase_cb(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)arg;
	return 0;
}

static bool readable(const char *name, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");

	if (!f) {
		snprintf(err, errlen, "%s %s: cannot read it: %s", name, path, strerror(errno));
		return false;
	}
	fclose(f);
	return true;
}

static char *summary_of(SSL_CTX *ctx)
{
	X509 *cert = SSL_CTX_get0_certificate(ctx);
	BIO *b = BIO_new(BIO_s_mem());
	char *out = NULL;

	if (cert && b) {
		X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, XN_FLAG_ONELINE);
		BIO_puts(b, ", valid until ");
		ASN1_TIME_print(b, X509_get0_notAfter(cert));
		char *p;
		long n = BIO_get_mem_data(b, &p);
		out = xstrndup(p, (size_t)n);
	}
	BIO_free(b);
	return out ? out : xstrdup("a certificate");
}

struct http_tls *http_tls_load(const char *cert_file, const char *key_file, char *err,
			       size_t errlen)
{
	char why[256];
	SSL_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;

	ERR_clear_error();
	if (!readable("cert_file", cert_file, err, errlen) ||
	    !readable("key_file", key_file, err, errlen))
		return NULL;
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		ssl_reason(why, sizeof(why));
		snprintf(err, errlen, "cannot set up TLS: %s", why);
		goto fail;
	}
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase_cb);
	/* The server's certificate first, then the intermediates, as sent. */
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		ssl_reason(why, sizeof(why));
		snprintf(err, errlen,
			 "cert_file %s: expected a PEM certificate, then its chain (%s)", cert_file,
			 why);
		goto fail;
	}
	/* Read apart from the certificate, so that a key of another one is
	 * told as such, not as an unreadable key. */
	FILE *f = fopen(key_file, "r");
	key = f ? PEM_read_PrivateKey(f, NULL, no_passphrase_cb, NULL) : NULL;
	if (f)
		fclose(f);
	if (!key) {
		ssl_reason(why, sizeof(why));
		snprintf(err, errlen, "key_file %s: expected an unencrypted PEM private key (%s)",
			 key_file, why);
		goto fail;
	}
	if (X509_check_private_key(SSL_CTX_get0_certificate(ctx), key) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "key_file %s: not the key of the certificate in cert_file %s",
			 key_file, cert_file);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		ssl_reason(why, sizeof(why));
		snprintf(err, errlen, "key_file %s: cannot use it (%s)", key_file, why);
		goto fail;
	}
	EVP_PKEY_free(key);
	struct http_tls *tls = xcalloc(1, sizeof(*tls));
	tls->ctx = ctx;
	tls->summary = summary_of(ctx);
	return tls;

fail:
	EVP_PKEY_free(key);
	SSL_CTX_free(ctx);
	return NULL;
}

const char *http_tls_summary(const struct http_tls *tls)
{
	return tls->summary;
}

void http_tls_free(struct http_tls *tls)
{
	if (!tls)
		return;
	SSL_CTX_free(tls->ctx);
	free(tls->summary);
	free(tls);
}

struct bufferevent *http_tls_bufferevent(struct http_tls *tls, struct event_base *base)
{
	SSL *ssl = SSL_new(tls->ctx);

	if (!ssl)
		return NULL;
	/* Freeing it frees the SSL and closes the socket (evhttp then does not). */
	struct bufferevent *bev = bufferevent_openssl_socket_new(
		base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		SSL_free(ssl);
		return NULL;
	}
	/* A client that closes without close_notify is over, not in error. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}
