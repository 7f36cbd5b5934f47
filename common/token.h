/*
 * API tokens, and the roles that tokens and OpenID Connect identities carry.
 *
 * A token is "esaas_<id>_<secret>": id is TOKEN_ID_LEN lowercase hex
 * characters, a public name for the token (listed, logged, revoked by);
 * secret is TOKEN_SECRET_BYTES random bytes from RAND_bytes(), unpadded
 * base64url.  The id has a fixed length, so the '_' and '-' that the
 * secret may contain never make the split ambiguous.
 *
 * Only the SHA-256 of the secret's text is stored; the whole token is
 * shown once, when it is made, and never logged.  A presented token is
 * checked by hashing its secret and comparing in constant time.
 */
#ifndef ESAAS_TOKEN_H
#define ESAAS_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"

#define TOKEN_PREFIX "esaas_"
#define TOKEN_ID_LEN 12
#define TOKEN_SECRET_BYTES 32
#define TOKEN_SECRET_LEN 43 /* base64url of 32 bytes, unpadded */
#define TOKEN_HASH_LEN 32   /* SHA-256 */
#define TOKEN_LEN (sizeof(TOKEN_PREFIX) - 1 + TOKEN_ID_LEN + 1 + TOKEN_SECRET_LEN)

/* In increasing order of what they may do. */
enum token_role {
	TOKEN_ROLE_VIEWER,
	TOKEN_ROLE_MEMBER,
	TOKEN_ROLE_ONCALL,
	TOKEN_ROLE_ADMIN,
};

/* "viewer", "member", "oncall", "admin". */
const char *token_role_name(enum token_role role);
/* Exactly one of those names (case matters); false for anything else. */
bool token_role_parse(const char *s, enum token_role *out) MUST_CHECK;

/* A token just made.  token is the only copy of the secret: show it once. */
struct token_new {
	char id[TOKEN_ID_LEN + 1];
	char token[TOKEN_LEN + 1];
	unsigned char hash[TOKEN_HASH_LEN];
};

/* Make a token; false (logged) if the random generator fails. */
bool token_create(struct token_new *out) MUST_CHECK;
/* Wipe out, so the secret does not linger in memory. */
void token_new_clear(struct token_new *t);

/*
 * Split a presented token.  On success id holds its id and *secret points
 * at the secret inside token (*secret_len bytes).  False for anything not
 * of the shape above; nothing is logged, since the input may be a secret.
 */
bool token_parse(const char *token, char id[TOKEN_ID_LEN + 1], const char **secret,
		 size_t *secret_len) MUST_CHECK;

/* SHA-256 of len bytes of secret; false (logged) if libcrypto fails. */
bool token_hash(const char *secret, size_t len, unsigned char out[TOKEN_HASH_LEN]) MUST_CHECK;

/*
 * Does the secret hash to stored (stored_len bytes, as read from the
 * database)?  Compared in constant time; a stored hash of the wrong
 * length never matches.
 */
bool token_secret_matches(const char *secret, size_t len, const unsigned char *stored,
			  size_t stored_len) MUST_CHECK;

/*
 * The hash as PostgreSQL's bytea hex text ("\x" and 64 hex digits), for a
 * statement parameter; and back.  token_hash_from_text() is false for
 * anything but that shape.
 */
void token_hash_to_text(const unsigned char hash[TOKEN_HASH_LEN], char out[2 * TOKEN_HASH_LEN + 3]);
bool token_hash_from_text(const char *text, unsigned char out[TOKEN_HASH_LEN]) MUST_CHECK;

#endif
