/*
 * esaasd serving HTTPS itself (tls.cert_file, tls.key_file), end to end:
 * a test CA and two server certificates made here with libcrypto, the API
 * verified against that CA, a plain-HTTP request refused, /metrics still
 * plain on its own listener, a SIGHUP that serves a renewed certificate to
 * new connections while an open one finishes on the old, a bad new pair
 * that keeps the old one, the same renewal with no signal at all when the
 * files change as a Secret volume's do (the kubelet's swap of its ..data
 * symlink), and a start with an unreadable file that stops with the key and
 * the file named.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/util.h"
#include "tests/integration/harness.h"

static struct pg pg;

/* --- certificates ---------------------------------------------------------------- */

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(cert, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/* A certificate of key named cn, signed by issuer (NULL: self-signed, a CA). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key)
{
	X509 *cert = X509_new();
	unsigned char serial[16];

	assert_non_null(cert);
	assert_int_equal(X509_set_version(cert, 2), 1);
	assert_int_equal(RAND_bytes(serial, sizeof(serial)), 1);
	serial[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
	assert_non_null(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)));
	BN_free(bn);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(cert), -3600));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600));
	X509_NAME *name = X509_get_subject_name(cert);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
						    (const unsigned char *)cn, -1, -1, 0),
			 1);
	assert_int_equal(X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name),
			 1);
	assert_int_equal(X509_set_pubkey(cert, key), 1);
	if (issuer) {
		add_ext(cert, issuer, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(cert, issuer, NID_ext_key_usage, "serverAuth");
		add_ext(cert, issuer, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
	} else {
		add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign");
	}
	assert_true(X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
	return cert;
}

/* certs (NULL-terminated) in PEM into path, or key when not NULL. */
static void write_pem(const char *path, X509 *const *certs, EVP_PKEY *key)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (size_t i = 0; certs && certs[i]; i++)
		assert_int_equal(PEM_write_X509(f, certs[i]), 1);
	if (key)
		assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
	assert_int_equal(fclose(f), 0);
}

struct pki {
	char dir[300];
	char ca[400];	      /* the CA's certificate */
	char cert[2][400];    /* "one" and "two": each server certificate, then the CA */
	char key[2][400];     /* their keys */
	char serve_cert[400]; /* what esaasd is configured with */
	char serve_key[400];
};

static void pki_make(struct pki *p)
{
	EVP_PKEY *ca_key = EVP_EC_gen("P-256");
	assert_non_null(ca_key);
	X509 *ca = make_cert(ca_key, "esaas-test-ca", NULL, NULL);
	static const char *const names[] = {"esaasd-one", "esaasd-two"};

	snprintf(p->dir, sizeof(p->dir), "%s/tls-XXXXXX", pg.dir);
	assert_non_null(mkdtemp(p->dir));
	snprintf(p->ca, sizeof(p->ca), "%s/ca.crt", p->dir);
	X509 *const ca_only[] = {ca, NULL};
	write_pem(p->ca, ca_only, NULL);
	for (int i = 0; i < 2; i++) {
		EVP_PKEY *key = EVP_EC_gen("P-256");
		assert_non_null(key);
		X509 *cert = make_cert(key, names[i], ca, ca_key);
		X509 *const chain[] = {cert, ca, NULL};
		snprintf(p->cert[i], sizeof(p->cert[i]), "%s/%s.crt", p->dir, names[i]);
		snprintf(p->key[i], sizeof(p->key[i]), "%s/%s.key", p->dir, names[i]);
		write_pem(p->cert[i], chain, NULL);
		write_pem(p->key[i], NULL, key);
		X509_free(cert);
		EVP_PKEY_free(key);
	}
	snprintf(p->serve_cert, sizeof(p->serve_cert), "%s/tls.crt", p->dir);
	snprintf(p->serve_key, sizeof(p->serve_key), "%s/tls.key", p->dir);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
}

/* Put src in place of dst, as a renewed Secret's files appear: whole. */
static void install(const char *src, const char *dst)
{
	char tmp[512];
	snprintf(tmp, sizeof(tmp), "%s.new", dst);
	FILE *in = fopen(src, "r"), *out = fopen(tmp, "w");
	char buf[4096];
	size_t n;
	assert_non_null(in);
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
	assert_int_equal(rename(tmp, dst), 0);
}

/* --- a TLS client of its own: which certificate, and one connection kept open ---- */

struct tls_conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	char cn[128]; /* the server certificate's common name */
};

static bool tls_connect(struct tls_conn *c, int port, const char *ca)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct timeval tv = {.tv_sec = 10};

	memset(c, 0, sizeof(*c));
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0)
		return false;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ctx || connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    SSL_CTX_load_verify_locations(c->ctx, ca, NULL) != 1)
		return false;
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	c->ssl = SSL_new(c->ctx);
	if (!c->ssl || X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), "127.0.0.1") != 1 ||
	    SSL_set_fd(c->ssl, c->fd) != 1 || SSL_connect(c->ssl) != 1) {
		ERR_clear_error();
		return false;
	}
	X509 *peer = SSL_get1_peer_certificate(c->ssl);
	if (!peer)
		return false;
	X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, c->cn,
				  sizeof(c->cn));
	X509_free(peer);
	return true;
}

/* GET path on the connection; the status of the answer, 0 for none. */
static int tls_get(struct tls_conn *c, const char *path)
{
	char req[256], answer[4096];
	size_t len = 0;
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);

	if (SSL_write(c->ssl, req, n) != n)
		return 0;
	while (len < sizeof(answer) - 1) {
		int got = SSL_read(c->ssl, answer + len, (int)(sizeof(answer) - 1 - len));
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	answer[len] = '\0';
	ERR_clear_error();
	int status = 0;
	if (sscanf(answer, "HTTP/1.1 %d", &status) != 1)
		return 0;
	return status;
}

static void tls_close(struct tls_conn *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* The common name a new connection is served, "" when none could be made. */
static void served_cn(const struct esaasd *d, const struct pki *p, char *cn, size_t len)
{
	struct tls_conn c;
	bool ok = tls_connect(&c, d->port, p->ca);
	snprintf(cn, len, "%s", ok ? c.cn : "");
	tls_close(&c);
}

/* The whole of a text file, or NULL. */
static char *file_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *out = NULL;
	size_t len = 0;
	if (!f)
		return NULL;
	FILE *m = open_memstream(&out, &len);
	char buf[4096];
	size_t n;
	while (m && (n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, m);
	if (m)
		fclose(m);
	fclose(f);
	return out;
}

/* Does d's log have needle yet?  Waits up to ms for it. */
static bool log_has(const struct esaasd *d, const char *needle, int ms)
{
	int64_t deadline = harness_now_ms() + ms;
	do {
		char *text = file_text(d->log);
		bool found = text && strstr(text, needle);
		free(text);
		if (found)
			return true;
		msleep(50);
	} while (harness_now_ms() < deadline);
	return false;
}

/* --- the tests ------------------------------------------------------------------- */

static int group_setup(void **state)
{
	return pg_start(&pg) ? 0 : -1;
}

static int group_teardown(void **state)
{
	pg_finish(&pg);
	return 0;
}

/* check_s: tls.reload_check_seconds (0: the files are read on SIGHUP only). */
static char *tls_yaml(const struct pki *p, int check_s)
{
	return xasprintf("tls:\n  cert_file: %s\n  key_file: %s\n  reload_check_seconds: %d\n",
			 p->serve_cert, p->serve_key, check_s);
}

/* esaasctl's exit status against d, with its output (both streams) in out. */
static int run_ctl(const struct esaasd *d, const char *ca, char *out, size_t len)
{
	char *cmd = xasprintf("env -u ESAAS_URL -u ESAAS_TOKEN -u ESAAS_CA_FILE"
			      " XDG_CONFIG_HOME=/nonexistent HOME=/nonexistent"
			      " %s/esaasctl --url %s --token %s%s%s clusters list 2>&1",
			      harness_builddir(), d->base, harness_token(d),
			      ca ? " --ca-file " : "", ca ? ca : "");
	FILE *f = popen(cmd, "r");
	size_t n = 0;
	free(cmd);
	assert_non_null(f);
	while (n + 1 < len && fgets(out + n, (int)(len - n), f))
		n = strlen(out);
	out[n] = '\0';
	int st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_https_api_and_sighup_renewal(void **state)
{
	struct pki p;
	char dburl[600], cn[128];
	struct esaasd d;
	struct http_resp r;

	pki_make(&p);
	install(p.cert[0], p.serve_cert);
	install(p.key[0], p.serve_key);
	char *yaml = tls_yaml(&p, 0); /* the signal alone reloads */
	struct esaasd_opts o = {.extra_yaml = yaml};
	assert_non_null(pg_new_database(&pg, dburl, sizeof(dburl)));
	assert_true(esaasd_spawn(&d, pg.dir, dburl, &o));
	snprintf(d.base, sizeof(d.base), "https://127.0.0.1:%d", d.port);
	harness_trust_ca(d.base, p.ca);
	assert_true(esaasd_wait_ready(&d));

	/* The API over HTTPS, verified against the CA, with a token. */
	assert_true(http_call(&d, "GET", "/api/v1/jobs", NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	served_cn(&d, &p, cn, sizeof(cn));
	assert_string_equal(cn, "esaasd-one");

	/* esaasctl trusts the private CA when told to, and refuses it otherwise. */
	char out[4096];
	if (run_ctl(&d, p.ca, out, sizeof(out)) != 0)
		fail_msg("esaasctl --ca-file failed: %s", out);
	if (run_ctl(&d, NULL, out, sizeof(out)) != 1 || !strstr(out, "certificate"))
		fail_msg("esaasctl without the CA did not refuse the certificate: %s", out);

	/* Plain HTTP on the same port gets no answer: its bytes are no handshake. */
	char plain[64];
	snprintf(plain, sizeof(plain), "http://127.0.0.1:%d", d.port);
	bool answered = http_request(plain, "GET", "/readyz", NULL, NULL, 3000, &r);
	if (answered) {
		long st = r.status;
		http_resp_free(&r);
		fail_msg("a plain-HTTP request was answered %ld", st);
	}

	/* /metrics stays plain HTTP, on its own (loopback) listener. */
	assert_true(metrics_get(&d, &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);

	/* A connection opened before the renewal... */
	struct tls_conn old;
	assert_true(tls_connect(&old, d.port, p.ca));
	assert_string_equal(old.cn, "esaasd-one");

	/* ...then the files renewed and SIGHUP: new connections get the new one. */
	install(p.cert[1], p.serve_cert);
	install(p.key[1], p.serve_key);
	assert_int_equal(kill(d.pid, SIGHUP), 0);
	assert_true(log_has(&d, "HTTPS certificate reloaded", 10000));
	served_cn(&d, &p, cn, sizeof(cn));
	assert_string_equal(cn, "esaasd-two");
	/* The old connection was not dropped: it is answered, on the old certificate. */
	assert_int_equal(tls_get(&old, "/readyz"), 200);
	tls_close(&old);

	/* A bad pair (the key of another certificate) keeps the one served, and says why. */
	install(p.cert[0], p.serve_cert);
	assert_int_equal(kill(d.pid, SIGHUP), 0);
	assert_true(log_has(&d, "HTTPS certificate not reloaded", 10000));
	char *why = xasprintf("tls.key_file %s: not the key of the certificate", p.serve_key);
	assert_true(log_has(&d, why, 0));
	free(why);
	served_cn(&d, &p, cn, sizeof(cn));
	assert_string_equal(cn, "esaasd-two");
	assert_true(http_call(&d, "GET", "/readyz", NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);

	assert_int_equal(esaasd_stop(&d, SIGTERM, true), 0);
	free(yaml);
}

/*
 * A Secret volume as the kubelet writes it: the files of each version in a
 * folder of their own, a ..data symlink to the current one, and tls.crt
 * and tls.key symlinks through ..data.  A new version is a new folder, then
 * ..data swapped to it by a rename of a new symlink over it.
 */
static void secret_version(const char *vol, int n, const char *cert, const char *key)
{
	char dir[512], path[600], tmp[600];

	snprintf(dir, sizeof(dir), "%s/..v%d", vol, n);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/tls.crt", dir);
	install(cert, path);
	snprintf(path, sizeof(path), "%s/tls.key", dir);
	install(key, path);
	snprintf(tmp, sizeof(tmp), "%s/..data_tmp", vol);
	snprintf(path, sizeof(path), "..v%d", n);
	assert_int_equal(symlink(path, tmp), 0);
	snprintf(path, sizeof(path), "%s/..data", vol);
	assert_int_equal(rename(tmp, path), 0);
}

/* Waits up to ms for new connections to be served the certificate named want. */
static bool serves(const struct esaasd *d, const struct pki *p, const char *want, int ms)
{
	char cn[128];
	int64_t deadline = harness_now_ms() + ms;
	do {
		served_cn(d, p, cn, sizeof(cn));
		if (strcmp(cn, want) == 0)
			return true;
		msleep(100);
	} while (harness_now_ms() < deadline);
	return false;
}

static void test_secret_volume_renewal_without_a_signal(void **state)
{
	struct pki p;
	char dburl[600], vol[360], cn[128];
	struct esaasd d;
	struct http_resp r;

	pki_make(&p);
	snprintf(vol, sizeof(vol), "%s/secret", p.dir);
	assert_int_equal(mkdir(vol, 0755), 0);
	secret_version(vol, 1, p.cert[0], p.key[0]);
	snprintf(p.serve_cert, sizeof(p.serve_cert), "%s/tls.crt", vol);
	assert_int_equal(symlink("..data/tls.crt", p.serve_cert), 0);
	snprintf(p.serve_key, sizeof(p.serve_key), "%s/tls.key", vol);
	assert_int_equal(symlink("..data/tls.key", p.serve_key), 0);

	char *yaml = tls_yaml(&p, 1);
	struct esaasd_opts o = {.extra_yaml = yaml};
	assert_non_null(pg_new_database(&pg, dburl, sizeof(dburl)));
	assert_true(esaasd_spawn(&d, pg.dir, dburl, &o));
	snprintf(d.base, sizeof(d.base), "https://127.0.0.1:%d", d.port);
	harness_trust_ca(d.base, p.ca);
	assert_true(esaasd_wait_ready(&d));
	served_cn(&d, &p, cn, sizeof(cn));
	assert_string_equal(cn, "esaasd-one");

	/* The renewed Secret: no signal, and the new certificate is served. */
	secret_version(vol, 2, p.cert[1], p.key[1]);
	if (!serves(&d, &p, "esaasd-two", 30000))
		fail_msg("the renewed certificate was not served within 30 s; see %s", d.log);
	assert_true(log_has(&d, "HTTPS certificate reloaded (its files changed)", 0));

	/* A bad pair the same way (the key of another certificate): refused, logged,
	 * and the certificate served stays. */
	secret_version(vol, 3, p.cert[0], p.key[1]);
	assert_true(log_has(&d, "HTTPS certificate not reloaded (its files changed)", 30000));
	char *why = xasprintf("tls.key_file %s: not the key of the certificate", p.serve_key);
	assert_true(log_has(&d, why, 0));
	free(why);
	served_cn(&d, &p, cn, sizeof(cn));
	assert_string_equal(cn, "esaasd-two");
	assert_true(http_call(&d, "GET", "/readyz", NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);

	/* The good pair again: the refused one did not stop the looking. */
	secret_version(vol, 4, p.cert[0], p.key[0]);
	if (!serves(&d, &p, "esaasd-one", 30000))
		fail_msg("the certificate after a refused pair was not served; see %s", d.log);

	assert_int_equal(esaasd_stop(&d, SIGTERM, true), 0);
	free(yaml);
}

/* A file that cannot be read stops esaasd at start, naming the key and the file. */
static void test_unreadable_certificate_stops_the_start(void **state)
{
	struct pki p;
	char dburl[600];
	struct esaasd d;

	pki_make(&p);
	install(p.cert[0], p.serve_cert);
	char *yaml = tls_yaml(&p, 60); /* no key file installed */
	struct esaasd_opts o = {.extra_yaml = yaml};
	assert_non_null(pg_new_database(&pg, dburl, sizeof(dburl)));
	assert_true(esaasd_spawn(&d, pg.dir, dburl, &o));
	int64_t deadline = harness_now_ms() + 30000;
	int st;
	while ((st = esaasd_poll_exit(&d)) == -1 && harness_now_ms() < deadline)
		msleep(50);
	assert_true(st != -1 && st != 0);
	char *why = xasprintf("tls.key_file %s: cannot read it: No such file or directory",
			      p.serve_key);
	if (!log_has(&d, why, 0))
		fail_msg("no \"%s\" in %s", why, d.log);
	free(why);
	free(yaml);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_https_api_and_sighup_renewal),
		cmocka_unit_test(test_secret_volume_renewal_without_a_signal),
		cmocka_unit_test(test_unreadable_certificate_stops_the_start),
	};
	return cmocka_run_group_tests_name("tls", tests, group_setup, group_teardown);
}
