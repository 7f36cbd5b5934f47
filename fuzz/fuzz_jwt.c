/*
 * The checks of an OpenID Connect token (common/jwt.c): jwt_verify() on
 * arbitrary tokens and on arbitrary claims and headers signed with a real
 * key, and jwt_keys_parse() on arbitrary key sets.
 *
 * Input layout.  The first byte picks what the rest is:
 *
 *   mode 0  a token, as a client sends it in "Authorization: Bearer"
 *   mode 1  a JWKS document, then the good token is checked against it
 *   mode 2  claims (JSON text, or anything), signed here with the EC key
 *           under a good header
 *   mode 3  a header, a NUL byte, then claims; signed here with the EC key,
 *           or the RSA key when bit 2 of the first byte is set
 *
 * The keys are made at start by the openssl command (tests/unit/jwt_keys.c)
 * and are not in any input, so a token the fuzzer writes itself can carry
 * no good signature.  Besides crashes and leaks, the contract:
 *   - mode 0: nothing is accepted (an accepted token would be a forgery);
 *   - modes 2 and 3: a token is accepted only when it is what the provider
 *     would issue: the header names the key's alg and kid and has no
 *     "crit", the claims are an object with the issuer, the audience, an
 *     exp not past, and the tenant the identity reports, and its role is
 *     the highest that the role map below gives the role claim's values
 *     (a string, or an array of strings): a value the map does not name,
 *     "viewer" and "oncall" among them, never grants a role;
 *   - every refusal says why in one line that holds no segment of the
 *     token (an error must never echo the token);
 *   - a key set that does not parse says why.
 */
#include "common/jwt.h"
#include "common/util.h"
#include "fuzz/support.h"
#include "tests/unit/jwt_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define NOW 1700000000LL
#define LEEWAY 30
#define ISS "https://idp.example.com/"
#define AUD "esaas"

static char dir[256];
static struct test_key ec, rsa;
static struct jwt_keys *keys;
static char *good_token;

/* oidc.role_map: groups, and two roles' names mapped to themselves. */
#define ROLE_MAP "esaas-sre=oncall, team-search=member, readers=viewer, admin=admin, member=member"

static const struct jwt_config cfg = {
	.issuer = ISS,
	.audience = AUD,
	.leeway_s = LEEWAY,
	.tenant_claim = "tenant",
	.role_claim = "role",
	.role_map = ROLE_MAP,
};

/* ROLE_MAP again, read apart from common/config.c's parser. */
static const struct {
	const char *value;
	enum token_role role;
} role_pairs[] = {
	{"esaas-sre", TOKEN_ROLE_ONCALL}, {"team-search", TOKEN_ROLE_MEMBER},
	{"readers", TOKEN_ROLE_VIEWER},	  {"admin", TOKEN_ROLE_ADMIN},
	{"member", TOKEN_ROLE_MEMBER},
};

static bool pair_role(json_t *v, enum token_role *out)
{
	for (size_t i = 0; json_is_string(v) && i < ARRAY_SIZE(role_pairs); i++) {
		if (strcmp(json_string_value(v), role_pairs[i].value) == 0) {
			*out = role_pairs[i].role;
			return true;
		}
	}
	return false;
}

/* The role a claim's value should grant: false when none. */
static bool expected_role(json_t *v, enum token_role *out)
{
	bool found = false;
	size_t i;
	json_t *e;
	enum token_role r;

	if (json_is_string(v))
		return pair_role(v, out);
	json_array_foreach (v, i, e) {
		if (pair_role(e, &r) && (!found || r > *out)) {
			*out = r;
			found = true;
		}
	}
	return found;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	support_init();
	if (!test_keys_dir(dir, sizeof(dir)) || !test_key_generate(&ec, dir, "ec-1", true, 0) ||
	    !test_key_generate(&rsa, dir, "rsa-1", false, 2048)) {
		fprintf(stderr, "fuzz_jwt: the openssl command could not make the keys\n");
		abort();
	}
	json_t *jwks = json_pack("{s:[o,o]}", "keys", test_key_jwk(&ec, NULL),
				 test_key_jwk(&rsa, "RS256"));
	char *text = json_dumps(jwks, 0);
	keys = jwt_keys_parse(text, strlen(text), err, sizeof(err));
	free(text);
	json_decref(jwks);
	if (!keys || jwt_keys_count(keys) != 2) {
		fprintf(stderr, "fuzz_jwt: the key set did not parse: %s\n", keys ? "count" : err);
		abort();
	}
	good_token = test_jwt_sign("{\"alg\":\"ES256\",\"kid\":\"ec-1\"}",
				   "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"alice\","
				   "\"exp\":1700000300,\"tenant\":\"acme\",\"role\":\"member\"}",
				   &ec);
	test_keys_cleanup(dir);
	return good_token ? 0 : -1;
}

static bool is_b64url(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

/*
 * A refusal: one non-empty line that does not hold a segment of the token.
 * Segments shorter than 24 characters, or found in the decoded header or
 * claims (whose values an error may quote), could be there by chance.
 */
static void expect_refusal(const char *token, const char *err, const char *plain)
{
	support_expect(err[0] != '\0', "a refusal without a reason");
	support_expect(!strchr(err, '\n'), "a refusal of more than one line: %s", err);
	for (const char *p = token; *p;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (n >= 24 && is_b64url(p, n)) {
			char *seg = xstrndup(p, n);
			support_expect(!strstr(err, seg) || (plain && strstr(plain, seg)),
				       "the error \"%s\" holds a segment of the token", err);
			free(seg);
		}
		p += n;
		if (*p == '.')
			p++;
	}
}

static bool audience_ok(json_t *aud)
{
	if (json_is_string(aud))
		return !strcmp(json_string_value(aud), AUD);
	size_t i;
	json_t *v;
	json_array_foreach (aud, i, v) {
		if (json_is_string(v) && !strcmp(json_string_value(v), AUD))
			return true;
	}
	return false;
}

/* What an accepted token's claims must hold, and the identity with them. */
static void expect_claims(const char *claims, size_t len, const struct jwt_identity *id)
{
	json_t *c = json_loadb(claims, len, JSON_DECODE_ANY, NULL);
	support_expect(json_is_object(c), "accepted claims that are not an object");
	if (!json_is_object(c))
		return;
	const char *iss = json_string_value(json_object_get(c, "iss"));
	support_expect(iss && !strcmp(iss, ISS), "accepted a token of another issuer");
	support_expect(audience_ok(json_object_get(c, "aud")),
		       "accepted a token for another audience");
	json_t *exp = json_object_get(c, "exp");
	support_expect(json_is_number(exp) && json_number_value(exp) > (double)(NOW - LEEWAY),
		       "accepted a token without exp, or past it");
	json_t *nbf = json_object_get(c, "nbf");
	support_expect(
		!nbf || (json_is_number(nbf) && json_number_value(nbf) <= (double)(NOW + LEEWAY)),
		"accepted a token before its nbf");
	const char *tenant = json_string_value(json_object_get(c, "tenant"));
	support_expect(tenant && id->tenant && !strcmp(tenant, id->tenant),
		       "the identity's tenant is not the token's");
	enum token_role want;
	bool mapped = expected_role(json_object_get(c, "role"), &want);
	support_expect(mapped, "accepted a token whose role claim the role map does not map");
	support_expect(!mapped || want == id->role,
		       "the identity's role %s is not the one the role map gives (%s)",
		       token_role_name(id->role), mapped ? token_role_name(want) : "none");
	json_decref(c);
}

static void expect_header(const char *header, size_t len, const char *alg, const char *kid)
{
	json_t *h = json_loadb(header, len, JSON_DECODE_ANY, NULL);
	support_expect(json_is_object(h), "accepted a header that is not an object");
	if (!json_is_object(h))
		return;
	const char *a = json_string_value(json_object_get(h, "alg"));
	const char *k = json_string_value(json_object_get(h, "kid"));
	support_expect(a && !strcmp(a, alg), "accepted alg %s for a %s key", a ? a : "(none)", alg);
	support_expect(k && !strcmp(k, kid), "accepted a kid that is not the signing key's");
	support_expect(!json_object_get(h, "crit"), "accepted a header with crit");
	json_decref(h);
}

static void check(const char *token, const char *plain, const char *header, size_t header_len,
		  const char *claims, size_t claims_len, const struct test_key *k)
{
	char err[512] = "";
	struct jwt_identity id = {0};
	enum jwt_status st = jwt_verify(keys, &cfg, token, NOW, &id, err, sizeof(err));

	support_expect(st == JWT_OK || st == JWT_REFUSED || st == JWT_UNKNOWN_KID,
		       "jwt_verify() answered %d", (int)st);
	if (st != JWT_OK) {
		support_expect(!id.tenant && !id.subject, "a refusal that filled the identity");
		expect_refusal(token, err, plain);
		return;
	}
	support_expect(k != NULL, "accepted a token that nobody signed: %.80s", token);
	if (k) {
		expect_header(header, header_len, k->ec ? "ES256" : "RS256", k->kid);
		expect_claims(claims, claims_len, &id);
	}
	jwt_identity_clear(&id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 8192)
		return 0;
	unsigned mode = data[0] & 3;
	bool use_rsa = data[0] & 4;
	const char *rest = (const char *)data + 1;
	size_t n = size - 1;

	if (mode == 0) {
		char *token = xstrndup(rest, n);
		check(token, NULL, NULL, 0, NULL, 0, NULL);
		free(token);
		return 0;
	}
	if (mode == 1) {
		char err[256] = "";
		struct jwt_keys *k = jwt_keys_parse(rest, n, err, sizeof(err));
		if (!k) {
			support_expect(err[0] != '\0', "a key set refused without a reason");
			return 0;
		}
		struct jwt_identity id = {0};
		if (jwt_verify(k, &cfg, good_token, NOW, &id, err, sizeof(err)) == JWT_OK)
			jwt_identity_clear(&id);
		jwt_keys_free(k);
		return 0;
	}

	const char *header = "{\"alg\":\"ES256\",\"kid\":\"ec-1\"}";
	size_t header_len = strlen(header);
	const char *claims = rest;
	size_t claims_len = n;
	const struct test_key *k = &ec;
	if (mode == 3) {
		const char *nul = memchr(rest, '\0', n);
		header = rest;
		header_len = nul ? (size_t)(nul - rest) : n;
		claims = nul ? nul + 1 : rest + n;
		claims_len = nul ? n - header_len - 1 : 0;
		if (use_rsa)
			k = &rsa;
	}
	/* The signing input is text: NUL bytes end it as they would a string. */
	char *h = xstrndup(header, header_len);
	char *c = xstrndup(claims, claims_len);
	char *token = test_jwt_sign(h, c, k);
	if (token) {
		char *plain = xasprintf("%s\n%s", h, c);
		check(token, plain, h, strlen(h), c, strlen(c), k);
		free(plain);
		free(token);
	}
	free(h);
	free(c);
	return 0;
}
