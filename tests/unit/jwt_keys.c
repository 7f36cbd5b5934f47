#include "tests/unit/jwt_keys.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "common/base64.h"
#include "common/util.h"

bool test_keys_dir(char *dir, size_t len)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, len, "%s/esaas-jwt-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	return mkdtemp(dir) != NULL;
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

void test_keys_cleanup(const char *dir)
{
	if (dir[0])
		nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

bool test_key_generate(struct test_key *k, const char *dir, const char *kid, bool ec, int bits)
{
	char path[512];
	char *cmd;
	FILE *f;
	int rc;

	memset(k, 0, sizeof(*k));
	snprintf(k->kid, sizeof(k->kid), "%s", kid);
	k->ec = ec;
	snprintf(path, sizeof(path), "%s/%s.pem", dir, kid);
	if (ec)
		cmd = xasprintf(
			"openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1"
			" -out '%s' >/dev/null 2>&1",
			path);
	else
		cmd = xasprintf("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:%d"
				" -out '%s' >/dev/null 2>&1",
				bits, path);
	rc = system(cmd);
	if (rc != 0) {
		fprintf(stderr, "failed (%d): %s\n", rc, cmd);
		free(cmd);
		return false;
	}
	free(cmd);
	f = fopen(path, "r");
	if (!f)
		return false;
	k->pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!k->pkey)
		fprintf(stderr, "cannot read %s\n", path);
	return k->pkey != NULL;
}

void test_key_free(struct test_key *k)
{
	EVP_PKEY_free(k->pkey);
	k->pkey = NULL;
}

static json_t *b64url_bn(const BIGNUM *bn, int pad)
{
	int n = pad ? pad : BN_num_bytes(bn);
	unsigned char *buf = xmalloc((size_t)n + 1);
	char *s;
	json_t *j;

	BN_bn2binpad(bn, buf, n);
	s = base64url_encode(buf, (size_t)n);
	j = json_string(s);
	free(s);
	free(buf);
	return j;
}

json_t *test_key_jwk(const struct test_key *k, const char *alg)
{
	json_t *jwk = json_object();

	json_object_set_new(jwk, "kid", json_string(k->kid));
	json_object_set_new(jwk, "use", json_string("sig"));
	if (alg)
		json_object_set_new(jwk, "alg", json_string(alg));
	if (k->ec) {
		BIGNUM *x = NULL, *y = NULL;

		EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x);
		EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y);
		json_object_set_new(jwk, "kty", json_string("EC"));
		json_object_set_new(jwk, "crv", json_string("P-256"));
		json_object_set_new(jwk, "x", b64url_bn(x, 32));
		json_object_set_new(jwk, "y", b64url_bn(y, 32));
		BN_free(x);
		BN_free(y);
	} else {
		BIGNUM *n = NULL, *e = NULL;

		EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_N, &n);
		EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_E, &e);
		json_object_set_new(jwk, "kty", json_string("RSA"));
		json_object_set_new(jwk, "n", b64url_bn(n, 0));
		json_object_set_new(jwk, "e", b64url_bn(e, 0));
		BN_free(n);
		BN_free(e);
	}
	return jwk;
}

static char *signing_input(const char *header_json, const char *claims_json)
{
	char *h = base64url_encode(header_json, strlen(header_json));
	char *c = base64url_encode(claims_json, strlen(claims_json));
	char *s = xasprintf("%s.%s", h, c);

	free(h);
	free(c);
	return s;
}

static char *with_signature(char *input, const unsigned char *sig, size_t len)
{
	char *enc = base64url_encode(sig, len);
	char *s = xasprintf("%s.%s", input, enc);

	free(enc);
	free(input);
	return s;
}

char *test_jwt_sign(const char *header_json, const char *claims_json, const struct test_key *k)
{
	char *input = signing_input(header_json, claims_json);
	unsigned char der[1024];
	unsigned char raw[64];
	size_t len = sizeof(der);
	EVP_MD_CTX *md;

	if (!k)
		return with_signature(input, NULL, 0);
	md = EVP_MD_CTX_new();
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k->pkey) != 1 ||
	    EVP_DigestSign(md, der, &len, (const unsigned char *)input, strlen(input)) != 1) {
		EVP_MD_CTX_free(md);
		free(input);
		return NULL;
	}
	EVP_MD_CTX_free(md);
	if (k->ec) {
		const unsigned char *p = der;
		ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);

		BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32);
		BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32);
		ECDSA_SIG_free(sig);
		return with_signature(input, raw, sizeof(raw));
	}
	return with_signature(input, der, len);
}

char *test_jwt_hmac(const char *header_json, const char *claims_json, const char *secret)
{
	char *input = signing_input(header_json, claims_json);
	unsigned char mac[64];
	size_t len = 0;

	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, strlen(secret),
		       (const unsigned char *)input, strlen(input), mac, sizeof(mac), &len)) {
		free(input);
		return NULL;
	}
	return with_signature(input, mac, len);
}
