/*
 * OpenID Connect ID tokens and access tokens that are JWTs: a compact JWS
 * (RFC 7515) signed with RS256 or ES256, checked against the identity
 * provider's JSON Web Key Set (RFC 7517), and its claims mapped to a
 * tenant and a role.
 *
 * What is refused: any alg but RS256 and ES256 ("none" and HMAC above
 * all, since an HMAC "verified" with a public key is the classic
 * forgery); a key whose type or declared alg does not match the token's
 * alg; a "crit" header; a token without kid, exp, or the configured
 * tenant and role claims; a role that is not one of the four.
 *
 * Error strings are for a log line and an HTTP 401 body: they say what was
 * wrong with the token, never what the token is.
 *
 * Two layers.  jwt_keys_*() and jwt_verify() are synchronous and pure: a
 * key set parsed from JWKS text, and a check against it at a given time.
 * struct jwks is the cache that esaasd keeps: the key set fetched from the
 * provider over httpc, refreshed on a schedule (refresh_s) and when a
 * token names a kid it does not know (at most once per refresh_min_s),
 * with jwks_verify() as the one entry point.
 */
#ifndef ESAAS_JWT_H
#define ESAAS_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/token.h"
#include "common/util.h"

struct event_base;
struct httpc;
struct jwt_keys;

#define JWT_MAX_LEN 16384	   /* a longer token is refused unread */
#define JWT_MAX_EXP 253402300799.0 /* 9999-12-31T23:59:59Z: a later exp is refused */

/* What the provider is, and how its claims map onto esaas. */
struct jwt_config {
	const char *issuer;   /* "iss" must equal it */
	const char *audience; /* "aud" must be it, or an array holding it */
	int leeway_s;	      /* clock skew allowed on exp and nbf */
	/*
	 * Where tenant and role are: a claim's name ("https://example.com/tenant"
	 * is one name, dots and all, when the claims have it), else a dotted
	 * path into nested objects ("esaas.tenant").  The role claim is a
	 * string or an array of strings (groups), each mapped through
	 * role_map only, of which the highest role mapped counts; without
	 * role_map no token has a role, and every one is refused.
	 */
	const char *tenant_claim;
	const char *role_claim;
	const char *role_map; /* "group=role, ..." (common/config.h), or NULL */
	/* For struct jwks only. */
	const char *jwks_url; /* NULL: no fetching; unknown kids are refused */
	int refresh_min_s;    /* unknown kids refresh the keys at most this often; 0: 60 */
	/* With base, the keys are fetched again every refresh_s (give or take
	 * a tenth) after a good fetch, refresh_min_s after a failed one. */
	struct event_base *base;
	int refresh_s;	 /* 0: no scheduled fetch */
	long timeout_ms; /* of a fetch; 0: 10000 */
};

enum jwt_status {
	JWT_OK,
	JWT_REFUSED,	 /* the token is not acceptable: 401 */
	JWT_UNKNOWN_KID, /* jwt_verify() only: no key of that kid in the set */
	JWT_UNAVAILABLE, /* the keys cannot be had (fetch failed): 503, not 401 */
};

/* Who a verified token says the caller is. */
struct jwt_identity {
	char *subject; /* "sub", or NULL */
	char *tenant;
	enum token_role role;
	int64_t expires_at; /* "exp", seconds since the epoch */
};

void jwt_identity_clear(struct jwt_identity *id);

/*
 * Parse a JWKS document ({"keys": [...]}).  Keys that cannot be used are
 * skipped (logged at debug): no kid, a kid seen before, "use" other than
 * "sig", kty other than RSA and EC, a curve other than P-256, RSA shorter
 * than 2048 bits, a point not on the curve.  NULL with err set when the
 * text is not a JWKS at all; a set with no usable key is not an error.
 */
struct jwt_keys *jwt_keys_parse(const char *json, size_t len, char *err, size_t errlen);
void jwt_keys_free(struct jwt_keys *keys);
size_t jwt_keys_count(const struct jwt_keys *keys);
/* Is there a key called kid?  keys may be NULL. */
bool jwt_keys_find(const struct jwt_keys *keys, const char *kid);

/*
 * Check token against keys and cfg at now_s (seconds since the epoch).
 * JWT_OK fills out (clear it with jwt_identity_clear()); anything else
 * leaves out empty and says why in err.  keys may be NULL (no keys yet).
 */
enum jwt_status jwt_verify(const struct jwt_keys *keys, const struct jwt_config *cfg,
			   const char *token, int64_t now_s, struct jwt_identity *out, char *err,
			   size_t errlen);

/* --- the cache of the provider's keys ------------------------------------------ */

struct jwks;
struct jwks_wait;

/*
 * The outcome of jwks_verify(): id is set for JWT_OK only, error (one line,
 * never the token) otherwise.  Both are valid during the call only.
 */
typedef void (*jwks_verify_cb)(void *arg, enum jwt_status status, const struct jwt_identity *id,
			       const char *error);

/* A cache for cfg (copied).  It starts empty: jwks_refresh() to fill it early. */
struct jwks *jwks_new(struct httpc *http, const struct jwt_config *cfg);
/*
 * Cancel pending verifications (their callbacks never run) and free.  NULL
 * is fine.  Not from inside a jwks_verify_cb.
 */
void jwks_free(struct jwks *c);

/*
 * Fetch the keys now, unless a fetch is in flight.  Not rate-limited: for
 * start-up, and for an operator who knows the provider rotated.
 */
void jwks_refresh(struct jwks *c);

/*
 * Verify token.  When the answer is known at once (the kid is in the
 * cache, the token is malformed, or the kid is unknown and the keys were
 * fetched less than refresh_min_s ago) cb runs before jwks_verify()
 * returns, and the return is NULL.  Otherwise the keys are being fetched:
 * the return is a handle, and cb runs once the fetch ends, with the token
 * checked against the new keys.  jwks_wait_cancel() before that stops it.
 */
struct jwks_wait *jwks_verify(struct jwks *c, const char *token, jwks_verify_cb cb, void *arg);
void jwks_wait_cancel(struct jwks_wait *w);

/* Fetches started and keys held, for tests and metrics. */
unsigned jwks_fetches(const struct jwks *c);
size_t jwks_key_count(const struct jwks *c);

#endif
