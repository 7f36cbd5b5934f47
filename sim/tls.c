#include "sim/tls.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
/* Kept to sign client certificates (sim_tls_client_cert). */
static X509 *ca;
static EVP_PKEY *ca_key;

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

/* A certificate for key, signed by issuer_key (issuer NULL: self-signed);
 * orgs (NULL-terminated, or NULL) are the subject's O entries. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *const *orgs, X509 *issuer,
		       EVP_PKEY *issuer_key, const char *const *exts)
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
	for (size_t i = 0; orgs && orgs[i]; i++) {
		if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
						(const unsigned char *)orgs[i], -1, -1, 0))
			goto fail;
	}
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

/*
 * Client certificates as the API server takes them with --client-ca-file:
 * asked for but not required (Go's tls.RequestClientCert), the CA's name
 * sent as the acceptable one (client-go then offers only a certificate
 * that CA issued), and verified after the handshake by the x509
 * authenticator, which lets a request with a bad certificate go on to the
 * token authenticators (staging/src/k8s.io/apiserver/pkg/authentication/
 * request/x509/x509.go; the union in .../request/union/union.go).  The one
 * CA signs both the server's and the clients' certificates, as kubeadm's
 * does.
 */
static int accept_any_cb(int ok, X509_STORE_CTX *store)
{
	(void)ok;
	(void)store;
	return 1; /* judged per request: SSL_get_verify_result() */
}

static bool ask_client_certs(SSL_CTX *c)
{
	STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
	X509_NAME *name = X509_NAME_dup(X509_get_subject_name(ca));
	if (!names || !name || !sk_X509_NAME_push(names, name)) {
		X509_NAME_free(name);
		sk_X509_NAME_pop_free(names, X509_NAME_free);
		return false;
	}
	SSL_CTX_set_client_CA_list(c, names);
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER, accept_any_cb);
	/* Sessions resume with their client certificate: OpenSSL refuses a
	 * resumption under SSL_VERIFY_PEER without a session id context. */
	static const unsigned char sid_ctx[] = "esaas-sim";
	if (SSL_CTX_set_session_id_context(c, sid_ctx, sizeof(sid_ctx) - 1) != 1)
		return false;
	/* The x509 authenticator asks for the clientAuth usage. */
	return X509_STORE_add_cert(SSL_CTX_get_cert_store(c), ca) == 1 &&
	       SSL_CTX_set_purpose(c, X509_PURPOSE_SSL_CLIENT) == 1;
}

/*
 * Plain HTTP to the HTTPS port: Go's HTTP server looks at the first
 * record's five bytes and, when they read as the start of an HTTP request,
 * answers this and closes (net/http/server.go, conn.serve and
 * tlsRecordHeaderLooksLikeHTTP).  OpenSSL shows the header to the message
 * callback before it fails the handshake on it.
 */
static const char PLAIN_HTTP_REPLY[] =
	"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

static bool looks_like_http(const unsigned char *p)
{
	static const char *const starts[] = {"GET /", "HEAD ", "POST ", "PUT /", "OPTIO"};
	for (size_t i = 0; i < ARRAY_SIZE(starts); i++) {
		if (!memcmp(p, starts[i], 5))
			return true;
	}
	return false;
}

static void first_record_cb(int write_p, int version, int content_type, const void *buf, size_t len,
			    SSL *ssl, void *arg)
{
	(void)version;
	(void)arg;
	if (write_p || content_type != SSL3_RT_HEADER || len < 5 ||
	    SSL_get_state(ssl) != TLS_ST_BEFORE || !looks_like_http(buf))
		return;
	int fd = SSL_get_fd(ssl);
	if (fd < 0)
		return;
	if (send(fd, PLAIN_HTTP_REPLY, sizeof(PLAIN_HTTP_REPLY) - 1, MSG_NOSIGNAL) < 0)
		return;
	/* The reply and the end of it go out before the rest of the request
	 * is read; reading that rest keeps the close from resetting the
	 * connection under the client's feet. */
	shutdown(fd, SHUT_WR);
	char drain[4096];
	while (recv(fd, drain, sizeof(drain), MSG_DONTWAIT) > 0)
		;
}

bool sim_tls_init(const char *host, char **ca_pem, char **err)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = NULL;
	char *san = NULL;
	bool ok = false;

	*ca_pem = NULL;
	*err = NULL;
	ca_key = EVP_EC_gen("P-256");
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
	ca = make_cert(ca_key, "esaas-sim-ca", NULL, NULL, ca_key, ca_exts);
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
	cert = make_cert(key, "kube-apiserver", NULL, ca, ca_key, exts);
	if (!cert) {
		*err = ssl_error("cannot make the server certificate");
		goto out;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1 || !ask_client_certs(ctx)) {
		*err = ssl_error("cannot set up TLS");
		goto out;
	}
	SSL_CTX_set_msg_callback(ctx, first_record_cb);
	*ca_pem = pem_of(ca);
	if (!*ca_pem) {
		*err = ssl_error("cannot write the CA certificate");
		goto out;
	}
	ok = true;
out:
	if (!ok)
		sim_tls_free();
	free(san);
	X509_free(cert);
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
	X509_free(ca);
	ca = NULL;
	EVP_PKEY_free(ca_key);
	ca_key = NULL;
}

char *sim_tls_client_cert(const char *cn, const char *const *orgs, char **key_pem)
{
	static const char *const exts[] = {"basicConstraints",
					   "critical,CA:FALSE",
					   "keyUsage",
					   "critical,digitalSignature,keyEncipherment",
					   "extendedKeyUsage",
					   "clientAuth",
					   "authorityKeyIdentifier",
					   "keyid:always",
					   NULL};
	EVP_PKEY *key = ca ? EVP_EC_gen("P-256") : NULL;
	X509 *cert = key ? make_cert(key, cn, orgs, ca, ca_key, exts) : NULL;
	char *pem = cert ? pem_of(cert) : NULL;
	*key_pem = NULL;
	if (pem) {
		BIO *b = BIO_new(BIO_s_mem());
		if (b && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) == 1) {
			char *p;
			long n = BIO_get_mem_data(b, &p);
			*key_pem = xstrndup(p, (size_t)n);
		}
		BIO_free(b);
	}
	if (!*key_pem) {
		free(pem);
		pem = NULL;
	}
	X509_free(cert);
	EVP_PKEY_free(key);
	return pem;
}

/* One O value of the subject per group, as the x509 authenticator's
 * CommonNameUserConversion reads them. */
static char *name_entry(X509_NAME *name, int i)
{
	unsigned char *utf8 = NULL;
	int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
	if (n < 0)
		return NULL;
	char *out = xstrndup((const char *)utf8, (size_t)n);
	OPENSSL_free(utf8);
	return out;
}

bool sim_tls_peer(struct evhttp_request *req, char **cn, char ***orgs)
{
	*cn = NULL;
	*orgs = NULL;
	struct evhttp_connection *conn = req ? evhttp_request_get_connection(req) : NULL;
	struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
	SSL *ssl = bev && ctx ? bufferevent_openssl_get_ssl(bev) : NULL;
	X509 *peer = ssl ? SSL_get1_peer_certificate(ssl) : NULL;
	if (!peer)
		return false;
	bool ok = SSL_get_verify_result(ssl) == X509_V_OK;
	X509_NAME *name = X509_get_subject_name(peer);
	if (ok) {
		int at = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
		*cn = at >= 0 ? name_entry(name, at) : NULL;
		/* No user without a common name: the next authenticator decides. */
		ok = *cn && **cn;
	}
	if (ok) {
		size_t n = 0;
		*orgs = xmalloc(sizeof(char *));
		for (int at = -1;
		     (at = X509_NAME_get_index_by_NID(name, NID_organizationName, at)) >= 0;) {
			*orgs = xrealloc(*orgs, (n + 2) * sizeof(char *));
			char *o = name_entry(name, at);
			if (o)
				(*orgs)[n++] = o;
		}
		(*orgs)[n] = NULL;
	} else {
		free(*cn);
		*cn = NULL;
	}
	X509_free(peer);
	return true;
}
