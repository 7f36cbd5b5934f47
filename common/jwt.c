#include "common/jwt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "common/base64.h"
#include "common/config.h"
#include "common/httpc.h"
#include "common/log.h"
#include "common/json.h"

enum jwt_alg {
	ALG_RS256,
	ALG_ES256
};

struct jwt_key {
	char *kid;
	enum jwt_alg alg; /* what the key type can verify */
	EVP_PKEY *pkey;
};

struct jwt_keys {
	struct jwt_key *v;
	size_t n;
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void crypto_error(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (e)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "unknown libcrypto error");
	ERR_clear_error();
}

/* --- keys ---------------------------------------------------------------------- */

/* A base64url member of a JWK, decoded; NULL if missing or malformed. */
static unsigned char *jwk_bytes(json_t *jwk, const char *name, size_t *len)
{
	const char *s = json_str(jwk, name);
	unsigned char *out;

	if (!s || !*s || !base64url_decode(s, strlen(s), &out, len, NULL))
		return NULL;
	return out;
}

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld, char *why, size_t whylen)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *pkey = NULL;

	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		crypto_error(why, whylen);
		pkey = NULL;
	}
	OSSL_PARAM_free(params);
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

static EVP_PKEY *rsa_key(json_t *jwk, char *why, size_t whylen)
{
	size_t nlen = 0, elen = 0;
	unsigned char *n = jwk_bytes(jwk, "n", &nlen);
	unsigned char *e = jwk_bytes(jwk, "e", &elen);
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *pkey = NULL;

	if (!n || !e) {
		snprintf(why, whylen, "n or e missing or not base64url");
		goto done;
	}
	bn_n = BN_bin2bn(n, (int)nlen, NULL);
	bn_e = BN_bin2bn(e, (int)elen, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (!bn_n || !bn_e || !bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e)) {
		crypto_error(why, whylen);
		goto done;
	}
	pkey = pkey_from_params("RSA", bld, why, whylen);
	if (pkey && EVP_PKEY_get_bits(pkey) < 2048) {
		snprintf(why, whylen, "RSA key of %d bits; at least 2048 are needed",
			 EVP_PKEY_get_bits(pkey));
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
done:
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	free(n);
	free(e);
	return pkey;
}

static EVP_PKEY *ec_key(json_t *jwk, char *why, size_t whylen)
{
	const char *crv = json_str(jwk, "crv");
	size_t xlen = 0, ylen = 0;
	unsigned char *x = NULL, *y = NULL;
	unsigned char point[65];
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *check = NULL;

	if (!crv || strcmp(crv, "P-256") != 0) {
		snprintf(why, whylen, "curve %s is not supported (only P-256)",
			 crv ? "other than P-256" : "missing");
		goto done;
	}
	x = jwk_bytes(jwk, "x", &xlen);
	y = jwk_bytes(jwk, "y", &ylen);
	if (!x || !y || xlen != 32 || ylen != 32) {
		snprintf(why, whylen, "x and y must be 32 bytes of base64url each");
		goto done;
	}
	/* The uncompressed point of SEC 1: 0x04 || x || y. */
	point[0] = 0x04;
	memcpy(point + 1, x, 32);
	memcpy(point + 33, y, 32);
	bld = OSSL_PARAM_BLD_new();
	if (!bld ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point))) {
		crypto_error(why, whylen);
		goto done;
	}
	pkey = pkey_from_params("EC", bld, why, whylen);
	if (!pkey)
		goto done;
	/* A point off the curve is an attack on ECDSA, not a key. */
	check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (!check || EVP_PKEY_public_check(check) != 1) {
		snprintf(why, whylen, "the point is not on P-256");
		ERR_clear_error();
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
done:
	EVP_PKEY_CTX_free(check);
	OSSL_PARAM_BLD_free(bld);
	free(x);
	free(y);
	return pkey;
}

static const struct jwt_key *keys_get(const struct jwt_keys *keys, const char *kid)
{
	if (!keys || !kid)
		return NULL;
	for (size_t i = 0; i < keys->n; i++) {
		if (strcmp(keys->v[i].kid, kid) == 0)
			return &keys->v[i];
	}
	return NULL;
}

/* Add the key of jwk, or say in why (for the debug log) why not. */
static bool keys_add(struct jwt_keys *keys, json_t *jwk, char *why, size_t whylen)
{
	const char *kid = json_str(jwk, "kid");
	const char *kty = json_str(jwk, "kty");
	const char *use = json_str(jwk, "use");
	const char *alg = json_str(jwk, "alg");
	enum jwt_alg a;
	EVP_PKEY *pkey;

	if (!kid || !*kid) {
		snprintf(why, whylen, "no kid");
		return false;
	}
	if (keys_get(keys, kid)) {
		snprintf(why, whylen, "kid seen before in the set");
		return false;
	}
	if (use && strcmp(use, "sig") != 0) {
		snprintf(why, whylen, "use is not \"sig\"");
		return false;
	}
	if (kty && strcmp(kty, "RSA") == 0) {
		a = ALG_RS256;
	} else if (kty && strcmp(kty, "EC") == 0) {
		a = ALG_ES256;
	} else {
		snprintf(why, whylen, "kty is not RSA or EC");
		return false;
	}
	if (alg && strcmp(alg, a == ALG_RS256 ? "RS256" : "ES256") != 0) {
		snprintf(why, whylen, "alg is not %s", a == ALG_RS256 ? "RS256" : "ES256");
		return false;
	}
	pkey = a == ALG_RS256 ? rsa_key(jwk, why, whylen) : ec_key(jwk, why, whylen);
	if (!pkey)
		return false;
	keys->v = xrealloc(keys->v, (keys->n + 1) * sizeof(*keys->v));
	keys->v[keys->n].kid = xstrdup(kid);
	keys->v[keys->n].alg = a;
	keys->v[keys->n].pkey = pkey;
	keys->n++;
	return true;
}

struct jwt_keys *jwt_keys_parse(const char *json, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *doc = json_loadb(json, len, 0, &jerr);
	json_t *list = json_object_get(doc, "keys");
	struct jwt_keys *keys;
	size_t i;
	json_t *jwk;

	if (!doc) {
		seterr(err, errlen, "JWKS is not JSON: %s (line %d)", jerr.text, jerr.line);
		return NULL;
	}
	if (!json_is_array(list)) {
		seterr(err, errlen, "JWKS has no \"keys\" array");
		json_decref(doc);
		return NULL;
	}
	keys = xcalloc(1, sizeof(*keys));
	json_array_foreach (list, i, jwk) {
		char why[256] = "";
		const char *kid = json_str(jwk, "kid");

		if (!json_is_object(jwk))
			snprintf(why, sizeof(why), "not an object");
		else if (keys_add(keys, jwk, why, sizeof(why)))
			continue;
		log_debug("JWKS key %zu (kid %s) skipped: %s", i, kid ? kid : "none", why);
	}
	json_decref(doc);
	return keys;
}

void jwt_keys_free(struct jwt_keys *keys)
{
	if (!keys)
		return;
	for (size_t i = 0; i < keys->n; i++) {
		free(keys->v[i].kid);
		EVP_PKEY_free(keys->v[i].pkey);
	}
	free(keys->v);
	free(keys);
}

size_t jwt_keys_count(const struct jwt_keys *keys)
{
	return keys ? keys->n : 0;
}

bool jwt_keys_find(const struct jwt_keys *keys, const char *kid)
{
	return keys_get(keys, kid) != NULL;
}

/* --- verification -------------------------------------------------------------- */

void jwt_identity_clear(struct jwt_identity *id)
{
	free(id->subject);
	free(id->tenant);
	memset(id, 0, sizeof(*id));
}

/* s cut to fit out, with every byte outside printable ASCII as '?'. */
static void printable(char *out, size_t len, const char *s)
{
	size_t n = 0;

	for (; s[n] && n + 1 < len; n++)
		out[n] = s[n] >= 0x20 && s[n] < 0x7f ? s[n] : '?';
	out[n] = '\0';
}

/* A segment of the token, base64url-decoded and parsed as a JSON object. */
static json_t *segment_json(const char *s, size_t len)
{
	unsigned char *raw;
	size_t rawlen;
	json_t *j;

	if (!base64url_decode(s, len, &raw, &rawlen, NULL))
		return NULL;
	j = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, NULL);
	free(raw);
	if (j && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* ES256 signatures are r || s, 32 bytes each; EVP wants DER. */
static unsigned char *ecdsa_der(const unsigned char *raw, size_t rawlen, size_t *derlen)
{
	ECDSA_SIG *sig = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *der = NULL;
	int n;

	if (rawlen != 64)
		return NULL;
	sig = ECDSA_SIG_new();
	r = BN_bin2bn(raw, 32, NULL);
	s = BN_bin2bn(raw + 32, 32, NULL);
	if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		goto done;
	}
	n = i2d_ECDSA_SIG(sig, &der);
	if (n <= 0) {
		der = NULL;
		goto done;
	}
	*derlen = (size_t)n;
done:
	ECDSA_SIG_free(sig);
	ERR_clear_error();
	return der;
}

static bool signature_ok(const struct jwt_key *key, const char *input, size_t inlen,
			 const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *der = NULL;
	size_t derlen = 0;
	bool ok = false;

	if (key->alg == ALG_ES256) {
		der = ecdsa_der(sig, siglen, &derlen);
		if (!der)
			goto done;
		sig = der;
		siglen = derlen;
	}
	ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key->pkey) == 1 &&
	     EVP_DigestVerify(md, sig, siglen, (const unsigned char *)input, inlen) == 1;
done:
	ERR_clear_error();
	OPENSSL_free(der);
	EVP_MD_CTX_free(md);
	return ok;
}

/* The claim called path, or else the one at its dotted path. */
static json_t *claim_get(json_t *claims, const char *path)
{
	json_t *v = json_object_get(claims, path);
	const char *p = path;

	if (v || !strchr(path, '.'))
		return v;
	v = claims;
	while (v && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		char *name;

		if (!json_is_object(v) || n == 0)
			return NULL;
		name = xstrndup(p, n);
		v = json_object_get(v, name);
		free(name);
		p += n;
		if (*p == '.')
			p++;
	}
	return v;
}

/* The tenant ids that tenants.id accepts (0001_init.sql). */
static bool tenant_id_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 40)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && (c != '-' || i == 0 || i == n - 1))
			return false;
	}
	return true;
}

/*
 * The role a claim grants.  Each value of the claim, a string or an array
 * of strings such as IdP groups, counts only through the role map
 * (oidc.role_map), and the highest role mapped wins: the operator wrote
 * every pair.  A value is never taken for a role by its name alone (a
 * group that happens to be called "admin" must not make its members
 * admins), so without a map nothing is granted; an operator whose provider
 * sends role names writes them as pairs ("admin=admin").
 */
static bool map_role(json_t *v, const char *role_map, enum token_role *out)
{
	size_t i;
	json_t *e;
	bool found = false;

	if (!role_map)
		return false;
	if (json_is_string(v)) {
		int r = config_role_map_lookup(role_map, json_string_value(v));

		*out = (enum token_role)r;
		return r >= 0;
	}
	if (!json_is_array(v))
		return false;
	json_array_foreach (v, i, e) {
		int r = json_is_string(e) ? config_role_map_lookup(role_map, json_string_value(e))
					  : -1;

		if (r >= 0 && (!found || (enum token_role)r > *out)) {
			*out = (enum token_role)r;
			found = true;
		}
	}
	return found;
}

static bool audience_ok(json_t *aud, const char *want)
{
	size_t i;
	json_t *e;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	json_array_foreach (aud, i, e) {
		if (json_is_string(e) && strcmp(json_string_value(e), want) == 0)
			return true;
	}
	return false;
}

static enum jwt_status check_claims(json_t *claims, const struct jwt_config *cfg, int64_t now_s,
				    struct jwt_identity *out, char *err, size_t errlen)
{
	const char *iss = json_str(claims, "iss");
	json_t *exp = json_object_get(claims, "exp");
	json_t *nbf = json_object_get(claims, "nbf");
	json_t *tenant;
	json_t *role;
	const char *sub;
	enum token_role r;

	if (!iss || !cfg->issuer || strcmp(iss, cfg->issuer) != 0) {
		seterr(err, errlen, "token issuer is not %s", cfg->issuer ? cfg->issuer : "set");
		return JWT_REFUSED;
	}
	if (!cfg->audience || !audience_ok(json_object_get(claims, "aud"), cfg->audience)) {
		seterr(err, errlen, "token audience does not include %s",
		       cfg->audience ? cfg->audience : "the configured one");
		return JWT_REFUSED;
	}
	if (!json_is_number(exp)) {
		seterr(err, errlen, "token has no exp claim");
		return JWT_REFUSED;
	}
	if ((double)now_s >= json_number_value(exp) + cfg->leeway_s) {
		seterr(err, errlen, "token expired %.0f s ago",
		       (double)now_s - json_number_value(exp));
		return JWT_REFUSED;
	}
	/* A NumericDate past the year 9999 is no expiry anyone meant, and
	 * beyond what the identity's int64_t seconds hold. */
	if (json_number_value(exp) > JWT_MAX_EXP) {
		seterr(err, errlen, "token exp claim is past the year 9999");
		return JWT_REFUSED;
	}
	if (nbf && !json_is_number(nbf)) {
		seterr(err, errlen, "token nbf claim is not a number");
		return JWT_REFUSED;
	}
	if (nbf && (double)now_s + cfg->leeway_s < json_number_value(nbf)) {
		seterr(err, errlen, "token not valid for another %.0f s",
		       json_number_value(nbf) - (double)now_s);
		return JWT_REFUSED;
	}
	tenant = cfg->tenant_claim ? claim_get(claims, cfg->tenant_claim) : NULL;
	if (!json_is_string(tenant)) {
		seterr(err, errlen, "token has no string claim %s for the tenant",
		       cfg->tenant_claim ? cfg->tenant_claim : "(none configured)");
		return JWT_REFUSED;
	}
	if (!tenant_id_valid(json_string_value(tenant))) {
		seterr(err, errlen, "token claim %s is not a valid tenant id", cfg->tenant_claim);
		return JWT_REFUSED;
	}
	role = cfg->role_claim ? claim_get(claims, cfg->role_claim) : NULL;
	if (!role) {
		seterr(err, errlen, "token has no claim %s for the role",
		       cfg->role_claim ? cfg->role_claim : "(none configured)");
		return JWT_REFUSED;
	}
	if (!map_role(role, cfg->role_map, &r)) {
		if (cfg->role_map)
			seterr(err, errlen, "token claim %s holds no value that oidc.role_map maps",
			       cfg->role_claim);
		else
			seterr(err, errlen,
			       "token claim %s grants no role: oidc.role_map is not set, and a "
			       "value is never taken for a role by its name",
			       cfg->role_claim);
		return JWT_REFUSED;
	}
	sub = json_str(claims, "sub");
	out->subject = sub ? xstrdup(sub) : NULL;
	out->tenant = xstrdup(json_string_value(tenant));
	out->role = r;
	out->expires_at = (int64_t)json_number_value(exp);
	return JWT_OK;
}

enum jwt_status jwt_verify(const struct jwt_keys *keys, const struct jwt_config *cfg,
			   const char *token, int64_t now_s, struct jwt_identity *out, char *err,
			   size_t errlen)
{
	const char *dot1, *dot2;
	size_t len;
	json_t *header = NULL, *claims = NULL;
	const char *alg, *kid;
	enum jwt_alg a;
	const struct jwt_key *key;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	enum jwt_status st = JWT_REFUSED;
	char kidtext[68];

	memset(out, 0, sizeof(*out));
	len = token ? strnlen(token, JWT_MAX_LEN + 1) : 0;
	if (len == 0 || len > JWT_MAX_LEN) {
		seterr(err, errlen, len ? "token longer than %d bytes" : "token is empty",
		       JWT_MAX_LEN);
		return JWT_REFUSED;
	}
	dot1 = strchr(token, '.');
	dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	if (!dot2 || strchr(dot2 + 1, '.') || dot1 == token || dot2 == dot1 + 1 ||
	    dot2[1] == '\0') {
		seterr(err, errlen, "token is not a compact JWS (header.payload.signature)");
		return JWT_REFUSED;
	}
	header = segment_json(token, (size_t)(dot1 - token));
	if (!header) {
		seterr(err, errlen, "token header is not base64url JSON object");
		goto done;
	}
	alg = json_str(header, "alg");
	if (!alg) {
		seterr(err, errlen, "token header has no alg");
		goto done;
	}
	if (strcmp(alg, "RS256") == 0) {
		a = ALG_RS256;
	} else if (strcmp(alg, "ES256") == 0) {
		a = ALG_ES256;
	} else if (strcmp(alg, "none") == 0 || strcmp(alg, "None") == 0 ||
		   strcmp(alg, "NONE") == 0) {
		seterr(err, errlen, "unsigned tokens (alg none) are refused");
		goto done;
	} else if (strncmp(alg, "HS", 2) == 0) {
		seterr(err, errlen, "HMAC tokens (alg HS*) are refused");
		goto done;
	} else {
		seterr(err, errlen, "token alg is not RS256 or ES256");
		goto done;
	}
	if (json_object_get(header, "crit")) {
		seterr(err, errlen, "token header has crit extensions, which are not supported");
		goto done;
	}
	kid = json_str(header, "kid");
	if (!kid || !*kid) {
		seterr(err, errlen, "token header has no kid");
		goto done;
	}
	key = keys_get(keys, kid);
	/* The kid is the sender's text: printable ASCII only in errors and logs. */
	printable(kidtext, sizeof(kidtext), kid);
	if (!key) {
		seterr(err, errlen, "token key id %s is not in the identity provider's keys",
		       kidtext);
		st = JWT_UNKNOWN_KID;
		goto done;
	}
	if (key->alg != a) {
		seterr(err, errlen, "token alg %s does not match key %s, a %s key", alg, kidtext,
		       key->alg == ALG_RS256 ? "RSA" : "EC");
		goto done;
	}
	if (!base64url_decode(dot2 + 1, strlen(dot2 + 1), &sig, &siglen, NULL)) {
		seterr(err, errlen, "token signature is not base64url");
		goto done;
	}
	if (a == ALG_ES256 && siglen != 64) {
		seterr(err, errlen, "ES256 signature is %zu bytes, not 64", siglen);
		goto done;
	}
	if (!signature_ok(key, token, (size_t)(dot2 - token), sig, siglen)) {
		seterr(err, errlen, "token signature does not verify with key %s", kidtext);
		goto done;
	}
	/* Only a signed payload is read. */
	claims = segment_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	if (!claims) {
		seterr(err, errlen, "token payload is not base64url JSON object");
		goto done;
	}
	st = check_claims(claims, cfg, now_s, out, err, errlen);
done:
	free(sig);
	json_decref(header);
	json_decref(claims);
	return st;
}

/* --- the cache ----------------------------------------------------------------- */

struct jwks_wait {
	struct jwks *cache;
	char *token;
	jwks_verify_cb cb;
	void *arg;
	struct jwks_wait *next;
};

struct jwks {
	struct httpc *http;
	struct jwt_config cfg; /* its strings are owned copies */
	struct jwt_keys *keys;
	struct httpc_call *call; /* the fetch in flight, or NULL */
	int64_t fetched_at_ms;	 /* monotonic start of the last fetch; 0: never */
	unsigned fetches;
	struct jwks_wait *waiting;    /* for the fetch in flight */
	struct jwks_wait *delivering; /* being answered now */
	struct event *timer;	      /* the next scheduled fetch; NULL: none */
};

static void fetch(struct jwks *c);

static void refresh_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct jwks *c = arg;

	if (!c->call)
		fetch(c);
}

/*
 * The next scheduled fetch: refresh_s after a good one, give or take a
 * tenth so that replicas do not all ask at once; refresh_min_s after a
 * failed one.  A key the provider withdrew is dropped at the latest then,
 * whether or not anyone sends a token with an unknown kid.
 */
static void schedule_refresh(struct jwks *c, bool ok)
{
	int64_t ms;

	if (!c->timer)
		return;
	if (ok) {
		ms = (int64_t)c->cfg.refresh_s * 1000;
		ms += (int64_t)rand_below((uint64_t)(ms / 5) + 1) - ms / 10;
	} else {
		ms = (int64_t)c->cfg.refresh_min_s * 1000;
	}
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	evtimer_add(c->timer, &tv);
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

struct jwks *jwks_new(struct httpc *http, const struct jwt_config *cfg)
{
	struct jwks *c = xcalloc(1, sizeof(*c));

	c->http = http;
	c->cfg = *cfg;
	c->cfg.issuer = dup_or_null(cfg->issuer);
	c->cfg.audience = dup_or_null(cfg->audience);
	c->cfg.tenant_claim = dup_or_null(cfg->tenant_claim);
	c->cfg.role_claim = dup_or_null(cfg->role_claim);
	c->cfg.jwks_url = dup_or_null(cfg->jwks_url);
	c->cfg.role_map = dup_or_null(cfg->role_map);
	if (c->cfg.refresh_min_s <= 0)
		c->cfg.refresh_min_s = 60;
	if (cfg->base && cfg->refresh_s > 0 && c->cfg.jwks_url)
		c->timer = evtimer_new(cfg->base, refresh_timer_cb, c);
	if (c->cfg.timeout_ms <= 0)
		c->cfg.timeout_ms = 10000;
	return c;
}

static void wait_free(struct jwks_wait *w)
{
	OPENSSL_cleanse(w->token, strlen(w->token));
	free(w->token);
	free(w);
}

static void waits_free(struct jwks_wait *list)
{
	while (list) {
		struct jwks_wait *w = list;

		list = w->next;
		wait_free(w);
	}
}

/* Take w out of list; false if it is not there. */
static bool waits_remove(struct jwks_wait **list, struct jwks_wait *w)
{
	for (struct jwks_wait **p = list; *p; p = &(*p)->next) {
		if (*p == w) {
			*p = w->next;
			return true;
		}
	}
	return false;
}

void jwks_free(struct jwks *c)
{
	if (!c)
		return;
	httpc_cancel(c->call);
	if (c->timer)
		event_free(c->timer);
	waits_free(c->waiting);
	waits_free(c->delivering);
	jwt_keys_free(c->keys);
	free((char *)c->cfg.issuer);
	free((char *)c->cfg.audience);
	free((char *)c->cfg.tenant_claim);
	free((char *)c->cfg.role_claim);
	free((char *)c->cfg.jwks_url);
	free((char *)c->cfg.role_map);
	free(c);
}

unsigned jwks_fetches(const struct jwks *c)
{
	return c->fetches;
}

size_t jwks_key_count(const struct jwks *c)
{
	return jwt_keys_count(c->keys);
}

/* Check token against the keys held now and answer; unknown kids are refused. */
static void answer(struct jwks *c, const char *token, jwks_verify_cb cb, void *arg,
		   const char *fetch_error)
{
	struct jwt_identity id;
	char err[512];
	enum jwt_status st =
		jwt_verify(c->keys, &c->cfg, token, (int64_t)time(NULL), &id, err, sizeof(err));

	if (st == JWT_UNKNOWN_KID && fetch_error) {
		cb(arg, JWT_UNAVAILABLE, NULL, fetch_error);
		return;
	}
	if (st == JWT_UNKNOWN_KID)
		st = JWT_REFUSED;
	cb(arg, st, st == JWT_OK ? &id : NULL, st == JWT_OK ? NULL : err);
	if (st == JWT_OK)
		jwt_identity_clear(&id);
}

static void fetch_done_cb(const struct httpc_response *resp, void *arg)
{
	struct jwks *c = arg;
	char err[512] = "";
	struct jwt_keys *keys = NULL;

	c->call = NULL;
	if (resp->klass != HTTPC_OK) {
		snprintf(err, sizeof(err), "cannot fetch the identity provider's keys: %s",
			 resp->error);
	} else {
		char why[256];

		keys = jwt_keys_parse(resp->body, resp->body_len, why, sizeof(why));
		if (!keys)
			snprintf(err, sizeof(err), "the identity provider's keys at %s: %s",
				 c->cfg.jwks_url, why);
	}
	if (keys && keys->n == 0 && c->keys && c->keys->n > 0) {
		/* An empty set is more likely a provider's mistake than the end of
		 * every key: keep those held, which expire with their tokens. */
		log_warn("JWKS from %s has no usable key; the %zu held are kept", c->cfg.jwks_url,
			 c->keys->n);
		jwt_keys_free(keys);
	} else if (keys) {
		jwt_keys_free(c->keys);
		c->keys = keys;
		log_info("JWKS from %s: %zu usable keys", c->cfg.jwks_url, keys->n);
	} else {
		log_warn("%s", err);
	}
	schedule_refresh(c, keys != NULL);
	/*
	 * Answer those who waited for this fetch.  A callback may verify again
	 * (and start a new fetch, whose waiters wait for it) or cancel others.
	 */
	c->delivering = c->waiting;
	c->waiting = NULL;
	while (c->delivering) {
		struct jwks_wait *w = c->delivering;

		c->delivering = w->next;
		answer(c, w->token, w->cb, w->arg, keys ? NULL : err);
		wait_free(w);
	}
}

static void fetch(struct jwks *c)
{
	struct httpc_request req = {
		.url = c->cfg.jwks_url,
		.timeout_ms = c->cfg.timeout_ms,
		.max_body = 1024 * 1024,
	};
	static const char *const headers[] = {"Accept: application/json", NULL};

	req.headers = headers;
	c->fetched_at_ms = now_mono_ms();
	c->fetches++;
	if (c->timer)
		evtimer_del(c->timer);
	c->call = httpc_send(c->http, &req, fetch_done_cb, c);
}

void jwks_refresh(struct jwks *c)
{
	if (!c->call && c->cfg.jwks_url)
		fetch(c);
}

struct jwks_wait *jwks_verify(struct jwks *c, const char *token, jwks_verify_cb cb, void *arg)
{
	struct jwt_identity id;
	char err[512];
	enum jwt_status st =
		jwt_verify(c->keys, &c->cfg, token, (int64_t)time(NULL), &id, err, sizeof(err));
	struct jwks_wait *w;

	if (st != JWT_UNKNOWN_KID) {
		cb(arg, st, st == JWT_OK ? &id : NULL, st == JWT_OK ? NULL : err);
		if (st == JWT_OK)
			jwt_identity_clear(&id);
		return NULL;
	}
	if (!c->cfg.jwks_url) {
		cb(arg, JWT_REFUSED, NULL, err);
		return NULL;
	}
	if (!c->call && c->fetched_at_ms &&
	    now_mono_ms() - c->fetched_at_ms < (int64_t)c->cfg.refresh_min_s * 1000) {
		/* No keys at all is the provider's fault, not the caller's. */
		if (!c->keys)
			cb(arg, JWT_UNAVAILABLE, NULL,
			   "the identity provider's keys could not be fetched; retrying later");
		else
			cb(arg, JWT_REFUSED, NULL, err);
		return NULL;
	}
	w = xcalloc(1, sizeof(*w));
	w->cache = c;
	w->token = xstrdup(token);
	w->cb = cb;
	w->arg = arg;
	/* Answered in the order asked. */
	struct jwks_wait **tail = &c->waiting;
	while (*tail)
		tail = &(*tail)->next;
	*tail = w;
	if (!c->call)
		fetch(c);
	return w;
}

void jwks_wait_cancel(struct jwks_wait *w)
{
	struct jwks *c;

	if (!w)
		return;
	c = w->cache;
	if (waits_remove(&c->waiting, w) || waits_remove(&c->delivering, w))
		wait_free(w);
}
