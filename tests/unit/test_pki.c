/* common/pki.c: a cluster's CA and the certificate of its nodes, checked
 * with libcrypto's own chain verification. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/pki.h"
#include "common/util.h"

static const char *const names[] = {"es-http.es-acme-logs.svc", "*.es-acme-logs.svc",
				    "*.es.es-acme-logs.svc.cluster.local"};

static X509 *cert_of(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *cert = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(cert);
	return cert;
}

static EVP_PKEY *key_of(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(key);
	return key;
}

/* The node certificate chains to the CA and holds for the HTTP service
 * and for every pod of the namespace, not for another namespace. */
static void test_node_certificate_chains_to_the_cluster_ca(void **state)
{
	struct pki_pair ca, node;
	char err[256];
	assert_true(pki_make_ca("es-acme-logs CA", 3650, &ca, err, sizeof(err)));
	assert_true(pki_make_cert(&ca, "es-acme-logs", names, 3, 825, &node, err, sizeof(err)));

	assert_true(pki_verify(ca.cert_pem, node.cert_pem, NULL, err, sizeof(err)));
	assert_true(pki_verify(ca.cert_pem, node.cert_pem, "es-http.es-acme-logs.svc", err,
			       sizeof(err)));
	assert_true(pki_verify(ca.cert_pem, node.cert_pem,
			       "es-data-0.es.es-acme-logs.svc.cluster.local", err, sizeof(err)));
	assert_false(pki_verify(ca.cert_pem, node.cert_pem, "es-http.es-other-logs.svc", err,
				sizeof(err)));
	assert_string_equal(err, "hostname mismatch");
	/* The CA verifies itself; the node's certificate is no CA. */
	assert_true(pki_verify(ca.cert_pem, ca.cert_pem, NULL, err, sizeof(err)));
	X509 *c = cert_of(ca.cert_pem), *n = cert_of(node.cert_pem);
	assert_int_equal(X509_check_ca(c), 1);
	assert_int_equal(X509_check_ca(n), 0);
	assert_int_equal(X509_check_purpose(n, X509_PURPOSE_SSL_SERVER, 0), 1);
	assert_int_equal(X509_check_purpose(n, X509_PURPOSE_SSL_CLIENT, 0), 1);
	/* Each key is its certificate's, EC P-256 in PKCS#8. */
	EVP_PKEY *ck = key_of(ca.key_pem), *nk = key_of(node.key_pem);
	assert_int_equal(X509_check_private_key(c, ck), 1);
	assert_int_equal(X509_check_private_key(n, nk), 1);
	assert_int_equal(X509_check_private_key(n, ck), 0);
	assert_int_equal(EVP_PKEY_get_base_id(nk), EVP_PKEY_EC);
	assert_int_equal(strncmp(node.key_pem, "-----BEGIN PRIVATE KEY-----", 27), 0);
	EVP_PKEY_free(ck);
	EVP_PKEY_free(nk);
	X509_free(c);
	X509_free(n);
	pki_pair_free(&node);
	pki_pair_free(&ca);
}

/* Another cluster's CA does not vouch for this cluster's nodes, and a
 * node certificate cannot sign: what one cluster holds opens no other. */
static void test_another_cluster_ca_refuses_the_certificate(void **state)
{
	struct pki_pair ca, other, node, forged;
	char err[256];
	assert_true(pki_make_ca("a CA", 30, &ca, err, sizeof(err)));
	assert_true(pki_make_ca("b CA", 30, &other, err, sizeof(err)));
	assert_true(pki_make_cert(&ca, "a", names, 1, 30, &node, err, sizeof(err)));
	assert_false(pki_verify(other.cert_pem, node.cert_pem, NULL, err, sizeof(err)));
	assert_string_equal(err, "unable to get local issuer certificate");
	/* Signed by the node's key: not a CA, so no chain. */
	assert_true(pki_make_cert(&node, "x", names, 1, 30, &forged, err, sizeof(err)));
	assert_false(pki_verify(ca.cert_pem, forged.cert_pem, NULL, err, sizeof(err)));
	pki_pair_free(&forged);
	pki_pair_free(&node);
	pki_pair_free(&other);
	pki_pair_free(&ca);
}

/* Input that is no PEM is refused with a reason. */
static void test_bad_ca_is_refused(void **state)
{
	struct pki_pair bad = {.cert_pem = "not a certificate", .key_pem = "nor a key"};
	struct pki_pair out;
	char err[256];
	assert_false(pki_make_cert(&bad, "x", names, 1, 30, &out, err, sizeof(err)));
	assert_non_null(strstr(err, "the CA's certificate or key could not be read"));
	assert_null(out.cert_pem);
	assert_false(pki_verify("x", "y", NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "could not be read"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_node_certificate_chains_to_the_cluster_ca),
		cmocka_unit_test(test_another_cluster_ca_refuses_the_certificate),
		cmocka_unit_test(test_bad_ca_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
