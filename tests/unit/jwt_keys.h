/*
 * Keys and JWTs for the tests of common/jwt.c: keys made by the openssl
 * command, their public JWKs built with libcrypto, and tokens signed with
 * EVP_DigestSign as an identity provider signs them.
 */
#ifndef ESAAS_TEST_JWT_KEYS_H
#define ESAAS_TEST_JWT_KEYS_H

#include <stdbool.h>
#include <jansson.h>
#include <openssl/evp.h>

struct test_key {
	EVP_PKEY *pkey;
	bool ec;
	char kid[64];
};

/* A temporary folder for keys (removed by test_keys_cleanup). */
bool test_keys_dir(char *dir, size_t len);
void test_keys_cleanup(const char *dir);

/*
 * `openssl genpkey` into dir/kid.pem: RSA of bits bits, or (ec) a P-256
 * key; then loaded.  False, with the reason printed, if that fails.
 */
bool test_key_generate(struct test_key *k, const char *dir, const char *kid, bool ec, int bits);
void test_key_free(struct test_key *k);

/* The public JWK of k, with kid (and alg, when alg is not NULL). */
json_t *test_key_jwk(const struct test_key *k, const char *alg);

/*
 * base64url(header).base64url(claims).signature: signed by k (ES256 as raw
 * r||s), or, when k is NULL, with an empty signature.
 */
char *test_jwt_sign(const char *header_json, const char *claims_json, const struct test_key *k);
/* The same, signed with HMAC-SHA256 under secret. */
char *test_jwt_hmac(const char *header_json, const char *claims_json, const char *secret);

#endif
