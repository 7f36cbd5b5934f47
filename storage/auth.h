/*
 * API tokens in PostgreSQL (storage/migrations/0006_auth.sql): create,
 * look up for the check of a presented token, list, revoke.  Creating and
 * revoking write an audit_log row in the same statement.
 *
 * The secret never comes here: the caller makes the token (token_create()
 * in common/token.h) and hands over its id and hash.  The JSON of a token,
 * built by PostgreSQL as elsewhere in storage/, never has the hash:
 *   {"id": "3f9a0c1d2e4b", "tenant": "default", "role": "member",
 *    "description": "..." | null, "created_at": "...", "created_by": "...",
 *    "expires_at": "..." | null, "revoked_at": "..." | null,
 *    "revoked_by": "..." | null, "last_used_at": "..." | null}
 *
 * Nothing is cached: every check reads the row, so a revocation holds
 * from the moment its statement commits.
 *
 * In every callback err is NULL on success; json values are borrowed for
 * the duration of the call (json_incref to keep them).
 */
#ifndef ESAAS_STORAGE_AUTH_H
#define ESAAS_STORAGE_AUTH_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "common/token.h"
#include "common/util.h"
#include "storage/db.h"

/* The SQLSTATEs a create may fail with, for the caller to tell apart. */
#define AUTH_SQLSTATE_NO_TENANT "23503" /* foreign key: no such tenant */
#define AUTH_SQLSTATE_ID_TAKEN "23505"	/* the random id exists: make another token */

struct auth_token_create {
	const char *id;		   /* token_new.id */
	const unsigned char *hash; /* token_new.hash, TOKEN_HASH_LEN bytes */
	const char *tenant;
	enum token_role role;
	const char *description; /* or NULL */
	const char *created_by;
	int64_t expires_at; /* seconds since the epoch; 0: never */
};

/* token: the JSON above. */
typedef void (*storage_auth_token_cb)(void *arg, const struct db_error *err, json_t *token);

void storage_auth_token_create(struct db_pool *db, const struct auth_token_create *req,
			       storage_auth_token_cb cb, void *arg);

/* What a check needs to know of a token. */
struct auth_token_row {
	const char *id;
	const char *tenant;
	enum token_role role;
	unsigned char hash[TOKEN_HASH_LEN];
	int64_t expires_at; /* seconds since the epoch; 0: never */
	bool revoked;
	bool expired; /* by the database's clock, when the row was read */
};

/* row is NULL when there is no token of that id; valid during the call only. */
typedef void (*storage_auth_row_cb)(void *arg, const struct db_error *err,
				    const struct auth_token_row *row);

/*
 * The token called id, for checking a presented secret against (with
 * token_secret_matches()) and its expiry and revocation.  Reads only: a
 * wrong secret must not mark the token used.
 */
void storage_auth_token_get(struct db_pool *db, const char *id, storage_auth_row_cb cb, void *arg);

/* The token was presented with its secret: set last_used_at, at most once
 * a minute (a busy token is not a row written on every request).  Errors
 * are logged at debug, nothing else. */
void storage_auth_token_touch(struct db_pool *db, const char *id);

/* list: {"tokens": [...]}, the tenant's tokens (every tenant's when NULL) oldest
 * first, revoked ones too. */
void storage_auth_token_list(struct db_pool *db, const char *tenant, storage_auth_token_cb cb,
			     void *arg);

enum auth_revoke_result {
	AUTH_REVOKE_NOT_FOUND, /* no token of that id in that tenant */
	AUTH_REVOKE_DONE,      /* revoked now */
	AUTH_REVOKE_ALREADY,   /* revoked before: nothing changed */
};
typedef void (*storage_auth_revoke_cb)(void *arg, const struct db_error *err,
				       enum auth_revoke_result result, json_t *token);

/* Revoke the tenant's token id (any tenant's when tenant is NULL); token is the
 * token after the change (NULL if not found). */
void storage_auth_token_revoke(struct db_pool *db, const char *tenant, const char *id,
			       const char *actor, storage_auth_revoke_cb cb, void *arg);

/*
 * The first admin token, straight through libpq (esaasd --bootstrap-admin,
 * before any event loop): tenant is created if it does not exist, and the
 * token tok (from token_create()) is stored as an admin of it.  The audit
 * log records the actor "bootstrap".
 */
bool storage_auth_bootstrap(const char *conninfo, const char *tenant, const struct token_new *tok,
			    char *err, size_t errlen) MUST_CHECK;

#endif
