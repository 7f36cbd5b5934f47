/*
 * common/jwt.c: JWKS parsing and the checks of a compact JWS, with keys
 * made by the openssl command at start and tokens signed here.  Also the
 * base64url variant of common/base64.c that JWS needs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/base64.h"
#include "common/jwt.h"
#include "common/util.h"
#include "tests/unit/jwt_keys.h"

#define NOW 1700000000LL
#define ISS "https://idp.example.com/"
#define AUD "esaas"

static char dir[256];
static struct test_key rsa, ec, rsa_small, rsa_other;
static struct jwt_keys *keys;

static const struct jwt_config cfg = {
	.issuer = ISS,
	.audience = AUD,
	.leeway_s = 30,
	.tenant_claim = "esaas.tenant",
	.role_claim = "https://esaas.example.com/role",
	/* A provider that sends the roles' names: written as pairs all the same. */
	.role_map = "viewer=viewer, member=member, oncall=oncall, admin=admin",
};

static int group_setup(void **state)
{
	char err[256];
	json_t *jwks;
	char *text;

	if (!test_keys_dir(dir, sizeof(dir)) ||
	    !test_key_generate(&rsa, dir, "rsa-1", false, 2048) ||
	    !test_key_generate(&ec, dir, "ec-1", true, 0) ||
	    !test_key_generate(&rsa_small, dir, "rsa-small", false, 1024) ||
	    !test_key_generate(&rsa_other, dir, "rsa-other", false, 2048))
		return -1;
	jwks = json_pack("{s:[o,o]}", "keys", test_key_jwk(&rsa, "RS256"), test_key_jwk(&ec, NULL));
	text = json_dumps(jwks, 0);
	keys = jwt_keys_parse(text, strlen(text), err, sizeof(err));
	free(text);
	json_decref(jwks);
	if (!keys || jwt_keys_count(keys) != 2) {
		fprintf(stderr, "the test JWKS did not parse: %s\n", keys ? "count" : err);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	jwt_keys_free(keys);
	test_key_free(&rsa);
	test_key_free(&ec);
	test_key_free(&rsa_small);
	test_key_free(&rsa_other);
	test_keys_cleanup(dir);
	return 0;
}

/* Claims that pass, with one member replaced or removed (value NULL). */
static char *claims_with(const char *key, json_t *value)
{
	json_t *c = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:{s:s}, s:s}", "iss", ISS, "aud",
			      AUD, "sub", "alice", "iat", (json_int_t)NOW - 10, "nbf",
			      (json_int_t)NOW - 10, "exp", (json_int_t)NOW + 300, "esaas", "tenant",
			      "acme", "https://esaas.example.com/role", "member");
	char *s;

	if (key && value)
		json_object_set_new(c, key, value);
	else if (key)
		json_object_del(c, key);
	s = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(c);
	return s;
}

static char *header(const char *alg, const char *kid)
{
	return xasprintf("{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", alg, kid);
}

static char *sign(const char *alg, const char *kid, const char *claims, const struct test_key *k)
{
	char *h = header(alg, kid);
	char *t = test_jwt_sign(h, claims, k);

	free(h);
	assert_non_null(t);
	return t;
}

/* The error never carries any part of the token. */
static void assert_no_token_in(const char *err, const char *token)
{
	const char *p = token;

	while (*p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		/* Short pieces could match by chance; every real segment is long. */
		if (n >= 8) {
			char *seg = xstrndup(p, n);

			if (strstr(err, seg))
				fail_msg("error \"%s\" contains a token segment", err);
			free(seg);
		}
		p += n;
		if (*p == '.')
			p++;
	}
}

static void expect_refused(const char *token, const char *why)
{
	struct jwt_identity id;
	char err[512] = "";
	enum jwt_status st = jwt_verify(keys, &cfg, token, NOW, &id, err, sizeof(err));

	if (st != JWT_REFUSED)
		fail_msg("expected refusal (%s), got status %d: %s", why, st, err);
	if (!strstr(err, why))
		fail_msg("expected an error with \"%s\", got \"%s\"", why, err);
	assert_null(id.tenant);
	assert_no_token_in(err, token);
}

static void expect_ok(const char *token, struct jwt_identity *id)
{
	char err[512] = "";
	enum jwt_status st = jwt_verify(keys, &cfg, token, NOW, id, err, sizeof(err));

	if (st != JWT_OK)
		fail_msg("expected a verified token, got status %d: %s", st, err);
}

/* --- base64url ------------------------------------------------------------------ */

static void test_base64url(void **state)
{
	static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const coded[] = {"",	      "Zg",	 "Zm8",	    "Zm9v",
					    "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
	unsigned char *out;
	size_t len, pos = 99;

	for (size_t i = 0; i < ARRAY_SIZE(plain); i++) {
		char *enc = base64url_encode(plain[i], strlen(plain[i]));

		assert_string_equal(enc, coded[i]);
		free(enc);
		assert_true(base64url_decode(coded[i], strlen(coded[i]), &out, &len, NULL));
		assert_int_equal(len, strlen(plain[i]));
		assert_memory_equal(out, plain[i], len);
		assert_int_equal(out[len], '\0');
		free(out);
	}
	/* The URL-safe characters, both ways. */
	char *enc = base64url_encode("\xfb\xff\xbf", 3);
	assert_string_equal(enc, "-_-_");
	free(enc);
	assert_true(base64url_decode("-_-_", 4, &out, &len, NULL));
	assert_memory_equal(out, "\xfb\xff\xbf", 3);
	free(out);
	/* Refused: the standard alphabet's + and /, padding, line breaks, stray bits. */
	assert_false(base64url_decode("+/+/", 4, &out, &len, &pos));
	assert_int_equal(pos, 0);
	assert_false(base64url_decode("Zg==", 4, &out, &len, &pos));
	assert_int_equal(pos, 2);
	assert_false(base64url_decode("Zm9v\nYmF", 8, &out, &len, &pos));
	assert_int_equal(pos, 4);
	assert_false(base64url_decode("Zh", 2, &out, &len, &pos));
	assert_int_equal(pos, 1);
	assert_false(base64url_decode("Zm9vY", 5, &out, &len, &pos));
	assert_int_equal(pos, 5);
}

/* --- the key set ---------------------------------------------------------------- */

static struct jwt_keys *parse(json_t *jwks)
{
	char err[256] = "";
	char *text = json_dumps(jwks, 0);
	struct jwt_keys *k = jwt_keys_parse(text, strlen(text), err, sizeof(err));

	free(text);
	json_decref(jwks);
	if (!k)
		fail_msg("JWKS refused: %s", err);
	return k;
}

static void test_jwks_parse(void **state)
{
	char err[256];
	struct jwt_keys *k;

	assert_true(jwt_keys_find(keys, "rsa-1"));
	assert_true(jwt_keys_find(keys, "ec-1"));
	assert_false(jwt_keys_find(keys, "rsa-2"));
	assert_false(jwt_keys_find(NULL, "rsa-1"));

	assert_null(jwt_keys_parse("{", 1, err, sizeof(err)));
	assert_non_null(strstr(err, "not JSON"));
	assert_null(jwt_keys_parse("{\"keys\": {}}", 12, err, sizeof(err)));
	assert_non_null(strstr(err, "\"keys\""));

	/* Unusable keys are skipped, the others kept. */
	json_t *bad_alg = test_key_jwk(&rsa_other, "RS512");
	json_t *enc = test_key_jwk(&rsa_other, NULL);
	json_object_set_new(enc, "use", json_string("enc"));
	json_t *no_kid = test_key_jwk(&rsa_other, NULL);
	json_object_del(no_kid, "kid");
	json_t *oct = json_pack("{s:s, s:s, s:s}", "kty", "oct", "kid", "hmac", "k", "c2VjcmV0");
	json_t *p384 = test_key_jwk(&ec, NULL);
	json_object_set_new(p384, "kid", json_string("p384"));
	json_object_set_new(p384, "crv", json_string("P-384"));
	json_t *off_curve = test_key_jwk(&ec, NULL);
	json_object_set_new(off_curve, "kid", json_string("off-curve"));
	json_object_set_new(off_curve, "y",
			    json_string("AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA"));
	json_t *dup = test_key_jwk(&rsa_other, NULL);
	json_object_set_new(dup, "kid", json_string("rsa-1"));
	k = parse(json_pack("{s:[o,o,o,o,o,o,o,o,O,o]}", "keys", test_key_jwk(&rsa, NULL),
			    test_key_jwk(&rsa_small, NULL), bad_alg, enc, no_kid, oct, p384,
			    off_curve, dup, test_key_jwk(&ec, "ES256")));
	assert_int_equal(jwt_keys_count(k), 2);
	assert_true(jwt_keys_find(k, "rsa-1"));
	assert_true(jwt_keys_find(k, "ec-1"));
	assert_false(jwt_keys_find(k, "rsa-small"));
	assert_false(jwt_keys_find(k, "rsa-other"));
	assert_false(jwt_keys_find(k, "off-curve"));
	jwt_keys_free(k);

	/* The duplicate is refused, not swapped in: rsa-1 is still rsa's. */
	k = parse(json_pack("{s:[o,o]}", "keys", test_key_jwk(&rsa, NULL), json_incref(dup)));
	char *claims = claims_with(NULL, NULL);
	char *t = sign("RS256", "rsa-1", claims, &rsa);
	struct jwt_identity id;
	assert_int_equal(jwt_verify(k, &cfg, t, NOW, &id, err, sizeof(err)), JWT_OK);
	jwt_identity_clear(&id);
	free(t);
	free(claims);
	json_decref(dup);
	jwt_keys_free(k);

	/* An empty set is a set. */
	k = jwt_keys_parse("{\"keys\": []}", 12, err, sizeof(err));
	assert_non_null(k);
	assert_int_equal(jwt_keys_count(k), 0);
	jwt_keys_free(k);
}

/* --- valid tokens --------------------------------------------------------------- */

static void test_valid_rs256(void **state)
{
	struct jwt_identity id;
	char *claims = claims_with(NULL, NULL);
	char *t = sign("RS256", "rsa-1", claims, &rsa);

	expect_ok(t, &id);
	assert_string_equal(id.subject, "alice");
	assert_string_equal(id.tenant, "acme");
	assert_int_equal(id.role, TOKEN_ROLE_MEMBER);
	assert_int_equal(id.expires_at, NOW + 300);
	jwt_identity_clear(&id);
	assert_null(id.tenant);
	free(t);
	free(claims);
}

static void test_valid_es256(void **state)
{
	struct jwt_identity id;
	char *claims = claims_with("https://esaas.example.com/role", json_string("oncall"));
	char *t = sign("ES256", "ec-1", claims, &ec);

	expect_ok(t, &id);
	assert_string_equal(id.tenant, "acme");
	assert_int_equal(id.role, TOKEN_ROLE_ONCALL);
	jwt_identity_clear(&id);
	free(t);
	free(claims);
}

/* --- time ----------------------------------------------------------------------- */

static void test_expired(void **state)
{
	struct jwt_identity id;
	char *claims = claims_with("exp", json_integer(NOW - 31));
	char *t = sign("RS256", "rsa-1", claims, &rsa);

	expect_refused(t, "expired");
	free(t);
	free(claims);

	/* Within the leeway it still passes. */
	claims = claims_with("exp", json_integer(NOW - 29));
	t = sign("ES256", "ec-1", claims, &ec);
	expect_ok(t, &id);
	jwt_identity_clear(&id);
	free(t);
	free(claims);

	/* exp is required. */
	claims = claims_with("exp", NULL);
	t = sign("RS256", "rsa-1", claims, &rsa);
	expect_refused(t, "no exp");
	free(t);
	free(claims);

	claims = claims_with("exp", json_string("tomorrow"));
	t = sign("RS256", "rsa-1", claims, &rsa);
	expect_refused(t, "no exp");
	free(t);
	free(claims);

	/* An exp no int64_t holds (found by fuzz_jwt) is refused, not cast. */
	claims = claims_with("exp", json_real(1e300));
	t = sign("RS256", "rsa-1", claims, &rsa);
	expect_refused(t, "past the year 9999");
	free(t);
	free(claims);
}

static void test_not_yet_valid(void **state)
{
	struct jwt_identity id;
	char *claims = claims_with("nbf", json_integer(NOW + 31));
	char *t = sign("RS256", "rsa-1", claims, &rsa);

	expect_refused(t, "not valid for another");
	free(t);
	free(claims);

	claims = claims_with("nbf", json_integer(NOW + 29));
	t = sign("RS256", "rsa-1", claims, &rsa);
	expect_ok(t, &id);
	jwt_identity_clear(&id);
	free(t);
	free(claims);

	/* nbf is optional. */
	claims = claims_with("nbf", NULL);
	t = sign("RS256", "rsa-1", claims, &rsa);
	expect_ok(t, &id);
	jwt_identity_clear(&id);
	free(t);
	free(claims);
}

/* --- issuer and audience -------------------------------------------------------- */

static void test_audience(void **state)
{
	struct jwt_identity id;
	char *claims = claims_with("aud", json_string("someone-else"));
	char *t = sign("RS256", "rsa-1", claims, &rsa);

	expect_refused(t, "audience");
	free(t);
	free(claims);

	claims = claims_with("aud", json_pack("[s, s]", "a", "b"));
	t = sign("RS256", "rsa-1", claims, &rsa);
	expect_refused(t, "audience");
	free(t);
	free(claims);

	claims = claims_with("aud", NULL);
	t = sign("RS256", "rsa-1", claims, &rsa);
	expect_refused(t, "audience");
	free(t);
	free(claims);

	/* An array that holds it is fine. */
	claims = claims_with("aud", json_pack("[s, s]", "other", AUD));
	t = sign("RS256", "rsa-1", claims, &rsa);
	expect_ok(t, &id);
	jwt_identity_clear(&id);
	free(t);
	free(claims);
}

static void test_issuer(void **state)
{
	char *claims = claims_with("iss", json_string("https://evil.example.com/"));
	char *t = sign("RS256", "rsa-1", claims, &rsa);

	expect_refused(t, "issuer");
	free(t);
	free(claims);

	claims = claims_with("iss", NULL);
	t = sign("ES256", "ec-1", claims, &ec);
	expect_refused(t, "issuer");
	free(t);
	free(claims);
}

/* --- signatures and algorithms -------------------------------------------------- */

/* Change one character of the signature (or, with at < 0, of the payload). */
static void flip(char *t, int at)
{
	char *p = at >= 0 ? strrchr(t, '.') + 1 + at : strchr(t, '.') + 1 + (-at);

	*p = *p == 'A' ? 'B' : 'A';
}

static void test_bad_signature(void **state)
{
	char *claims = claims_with(NULL, NULL);
	char *t = sign("RS256", "rsa-1", claims, &rsa);

	flip(t, 10);
	expect_refused(t, "signature does not verify");
	free(t);

	t = sign("ES256", "ec-1", claims, &ec);
	flip(t, 10);
	expect_refused(t, "signature does not verify");
	free(t);

	/* The payload changed under a good signature. */
	t = sign("ES256", "ec-1", claims, &ec);
	flip(t, -5);
	expect_refused(t, "signature does not verify");
	free(t);

	/* Signed by a key that is not the one the kid names. */
	t = sign("RS256", "rsa-1", claims, &rsa_other);
	expect_refused(t, "signature does not verify");
	free(t);

	/* An ES256 signature must be r||s, 64 bytes: DER is refused. */
	char *h = header("ES256", "ec-1");
	char *good = test_jwt_sign(h, claims, &ec);
	char *raw_sig = strrchr(good, '.') + 1;
	unsigned char *sig;
	size_t siglen;
	assert_true(base64url_decode(raw_sig, strlen(raw_sig), &sig, &siglen, NULL));
	assert_int_equal(siglen, 64);
	free(sig);
	*strrchr(good, '.') = '\0';
	char *short_sig = xasprintf("%s.%s", good, "AAAA");
	expect_refused(short_sig, "not 64");
	free(short_sig);
	free(good);
	free(h);
	free(claims);
}

static void test_alg_none(void **state)
{
	char *claims = claims_with(NULL, NULL);
	char *h = header("none", "rsa-1");
	char *t = test_jwt_sign(h, claims, NULL);

	/* "header.payload." has no signature at all. */
	expect_refused(t, "not a compact JWS");
	free(t);
	/* With something where the signature goes, the alg itself is refused. */
	t = test_jwt_hmac(h, claims, "x");
	expect_refused(t, "alg none");
	free(t);
	free(h);

	h = xasprintf("{\"typ\":\"JWT\",\"kid\":\"rsa-1\"}");
	t = test_jwt_hmac(h, claims, "x");
	expect_refused(t, "no alg");
	free(t);
	free(h);

	t = sign("RS512", "rsa-1", claims, &rsa);
	expect_refused(t, "not RS256 or ES256");
	free(t);
	free(claims);
}

/* The classic forgery: HMAC keyed with the public key's own text. */
static void test_hs256(void **state)
{
	char *claims = claims_with(NULL, NULL);
	json_t *jwk = test_key_jwk(&rsa, NULL);
	char *h = header("HS256", "rsa-1");
	char *t = test_jwt_hmac(h, claims, json_string_value(json_object_get(jwk, "n")));

	expect_refused(t, "HMAC");
	free(t);
	free(h);
	h = header("HS512", "rsa-1");
	t = test_jwt_hmac(h, claims, "secret");
	expect_refused(t, "HMAC");
	free(t);
	free(h);
	json_decref(jwk);
	free(claims);
}

static void test_unknown_kid(void **state)
{
	struct jwt_identity id;
	char err[512];
	char *claims = claims_with(NULL, NULL);
	char *t = sign("RS256", "rsa-2", claims, &rsa_other);

	assert_int_equal(jwt_verify(keys, &cfg, t, NOW, &id, err, sizeof(err)), JWT_UNKNOWN_KID);
	assert_non_null(strstr(err, "rsa-2"));
	assert_no_token_in(err, t);
	free(t);
	/* A kid with control characters comes out printable. */
	t = sign("RS256", "a\\nb\\u001bc", claims, &rsa);
	assert_int_equal(jwt_verify(keys, &cfg, t, NOW, &id, err, sizeof(err)), JWT_UNKNOWN_KID);
	assert_non_null(strstr(err, "a?b?c"));
	/* No keys yet is the same answer. */
	assert_int_equal(jwt_verify(NULL, &cfg, t, NOW, &id, err, sizeof(err)), JWT_UNKNOWN_KID);
	free(t);

	char *h = xasprintf("{\"alg\":\"RS256\"}");
	t = test_jwt_sign(h, claims, &rsa);
	expect_refused(t, "no kid");
	free(t);
	free(h);
	free(claims);
}

static void test_alg_key_mismatch(void **state)
{
	char *claims = claims_with(NULL, NULL);
	/* The EC key's kid, alg RS256, signed with an RSA key. */
	char *t = sign("RS256", "ec-1", claims, &rsa);

	expect_refused(t, "does not match key ec-1");
	free(t);
	t = sign("ES256", "rsa-1", claims, &ec);
	expect_refused(t, "does not match key rsa-1");
	free(t);
	free(claims);
}

static void test_malformed(void **state)
{
	static const char *const shapes[] = {
		"", "abc", "a.b", "a.b.c.d", "..", "a..c", ".b.c", "a.b.", "e30.e30.e30.",
	};
	struct jwt_identity id;
	char err[512];

	for (size_t i = 0; i < ARRAY_SIZE(shapes); i++) {
		if (jwt_verify(keys, &cfg, shapes[i], NOW, &id, err, sizeof(err)) != JWT_REFUSED)
			fail_msg("\"%s\" was not refused", shapes[i]);
	}
	assert_int_equal(jwt_verify(keys, &cfg, NULL, NOW, &id, err, sizeof(err)), JWT_REFUSED);

	expect_refused("not*base64.e30.AAAA", "header is not");
	char *hdr = base64url_encode("[1,2]", 5);
	char *t = xasprintf("%s.e30.AAAA", hdr);
	expect_refused(t, "header is not");
	free(t);
	free(hdr);
	hdr = base64url_encode("{\"alg\":", 7);
	t = xasprintf("%s.e30.AAAA", hdr);
	expect_refused(t, "header is not");
	free(t);
	free(hdr);

	/* Too long to read at all. */
	char *huge = xmalloc(JWT_MAX_LEN + 2);
	memset(huge, 'a', JWT_MAX_LEN + 1);
	huge[10] = '.';
	huge[20] = '.';
	huge[JWT_MAX_LEN + 1] = '\0';
	expect_refused(huge, "longer than");
	free(huge);

	/* A signed payload that is not an object. */
	char *h = header("RS256", "rsa-1");
	t = test_jwt_sign(h, "[\"iss\"]", &rsa);
	expect_refused(t, "payload is not");
	free(t);
	/* crit extensions are not understood, so refused. */
	free(h);
	char *claims = claims_with(NULL, NULL);
	h = xasprintf("{\"alg\":\"RS256\",\"kid\":\"rsa-1\",\"crit\":[\"exp\"]}");
	t = test_jwt_sign(h, claims, &rsa);
	expect_refused(t, "crit");
	free(t);
	free(h);
	free(claims);
}

/* --- claims to tenant and role -------------------------------------------------- */

/* Groups through oidc.role_map: only the pairs the operator wrote count. */
static void test_role_map(void **state)
{
	struct jwt_config mapped = cfg;
	struct jwt_identity id;
	char err[512];
	char *claims, *t;

	mapped.role_map = "esaas-sre=oncall, esaas-users=member, readers=viewer";
	/* The highest role the map gives; "admin", a group's name, gives nothing. */
	claims = claims_with("https://esaas.example.com/role",
			     json_pack("[s, s, s]", "esaas-users", "admin", "esaas-sre"));
	t = sign("RS256", "rsa-1", claims, &rsa);
	assert_int_equal(jwt_verify(keys, &mapped, t, NOW, &id, err, sizeof(err)), JWT_OK);
	assert_int_equal(id.role, TOKEN_ROLE_ONCALL);
	jwt_identity_clear(&id);
	free(t);
	free(claims);

	claims = claims_with("https://esaas.example.com/role", json_string("readers"));
	t = sign("RS256", "rsa-1", claims, &rsa);
	assert_int_equal(jwt_verify(keys, &mapped, t, NOW, &id, err, sizeof(err)), JWT_OK);
	assert_int_equal(id.role, TOKEN_ROLE_VIEWER);
	jwt_identity_clear(&id);
	free(t);
	free(claims);

	/* A role's own name is only a group's name once there is a map. */
	claims = claims_with("https://esaas.example.com/role", json_pack("[s, s]", "admin", "x"));
	t = sign("RS256", "rsa-1", claims, &rsa);
	assert_int_equal(jwt_verify(keys, &mapped, t, NOW, &id, err, sizeof(err)), JWT_REFUSED);
	assert_non_null(strstr(err, "holds no value that oidc.role_map maps"));
	free(t);
	free(claims);
}

/*
 * No value is a role by its name: without oidc.role_map nothing is
 * granted, not even a single string "admin", nor a list holding role names.
 */
static void test_no_role_map_grants_nothing(void **state)
{
	struct jwt_config unmapped = cfg;
	struct jwt_identity id = {0};
	char err[512];
	json_t *const values[] = {
		json_string("admin"),
		json_string("viewer"),
		json_pack("[s, s]", "member", "oncall"),
	};

	unmapped.role_map = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(values); i++) {
		char *claims = claims_with("https://esaas.example.com/role", values[i]);
		char *t = sign("RS256", "rsa-1", claims, &rsa);

		assert_int_equal(jwt_verify(keys, &unmapped, t, NOW, &id, err, sizeof(err)),
				 JWT_REFUSED);
		assert_null(id.tenant);
		assert_non_null(strstr(err, "grants no role: oidc.role_map is not set"));
		/* The same token, with the explicit pairs: granted. */
		assert_int_equal(jwt_verify(keys, &cfg, t, NOW, &id, err, sizeof(err)), JWT_OK);
		jwt_identity_clear(&id);
		free(t);
		free(claims);
	}
}

static void test_claim_mapping(void **state)
{
	struct jwt_identity id;
	char *claims;
	char *t;

	/* Values the map does not name grant nothing, whatever their case. */
	claims = claims_with("https://esaas.example.com/role", json_string("superuser"));
	t = sign("RS256", "rsa-1", claims, &rsa);
	expect_refused(t, "holds no value that oidc.role_map maps");
	free(t);
	free(claims);

	claims = claims_with("https://esaas.example.com/role", json_string("Admin"));
	t = sign("RS256", "rsa-1", claims, &rsa);
	expect_refused(t, "holds no value that oidc.role_map maps");
	free(t);
	free(claims);

	claims = claims_with("https://esaas.example.com/role", json_pack("[s]", "root"));
	t = sign("RS256", "rsa-1", claims, &rsa);
	expect_refused(t, "holds no value that oidc.role_map maps");
	free(t);
	free(claims);

	claims = claims_with("https://esaas.example.com/role", NULL);
	t = sign("RS256", "rsa-1", claims, &rsa);
	expect_refused(t, "no claim https://esaas.example.com/role");
	free(t);
	free(claims);

	claims = claims_with("esaas", json_pack("{s:s}", "tenant", "Not_A_Tenant"));
	t = sign("RS256", "rsa-1", claims, &rsa);
	expect_refused(t, "not a valid tenant id");
	free(t);
	free(claims);

	claims = claims_with("esaas", json_pack("{s:i}", "tenant", 7));
	t = sign("RS256", "rsa-1", claims, &rsa);
	expect_refused(t, "no string claim esaas.tenant");
	free(t);
	free(claims);

	claims = claims_with("esaas", json_string("acme"));
	t = sign("RS256", "rsa-1", claims, &rsa);
	expect_refused(t, "no string claim esaas.tenant");
	free(t);
	free(claims);

	/* Plain names, and a name with dots that the claims hold as one. */
	struct jwt_config flat = cfg;
	flat.tenant_claim = "org";
	flat.role_claim = "esaas.role";
	claims = claims_with("org", json_string("default"));
	json_t *c = json_loads(claims, 0, NULL);
	json_object_set_new(c, "esaas.role", json_string("viewer"));
	free(claims);
	claims = json_dumps(c, JSON_COMPACT);
	json_decref(c);
	t = sign("ES256", "ec-1", claims, &ec);
	char err[512];
	assert_int_equal(jwt_verify(keys, &flat, t, NOW, &id, err, sizeof(err)), JWT_OK);
	assert_string_equal(id.tenant, "default");
	assert_int_equal(id.role, TOKEN_ROLE_VIEWER);
	jwt_identity_clear(&id);
	free(t);
	free(claims);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64url),
		cmocka_unit_test(test_jwks_parse),
		cmocka_unit_test(test_valid_rs256),
		cmocka_unit_test(test_valid_es256),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_not_yet_valid),
		cmocka_unit_test(test_audience),
		cmocka_unit_test(test_issuer),
		cmocka_unit_test(test_bad_signature),
		cmocka_unit_test(test_alg_none),
		cmocka_unit_test(test_hs256),
		cmocka_unit_test(test_unknown_kid),
		cmocka_unit_test(test_alg_key_mismatch),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_claim_mapping),
		cmocka_unit_test(test_role_map),
		cmocka_unit_test(test_no_role_map_grants_nothing),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
