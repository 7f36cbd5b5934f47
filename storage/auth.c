/*
 * API token queries.  One statement each; create and revoke write their
 * audit row through a CTE, so the change and its record commit together.
 */
#include "storage/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "storage/jobs.h"

#define TOKEN_JSON(t)                                                                       \
	"jsonb_build_object('id', " t ".id, 'tenant', " t ".tenant_id, 'role', " t ".role," \
	" 'description', " t ".description, 'created_at', esaas_ts(" t ".created_at),"      \
	" 'created_by', " t ".created_by, 'expires_at', esaas_ts(" t ".expires_at),"        \
	" 'revoked_at', esaas_ts(" t ".revoked_at), 'revoked_by', " t ".revoked_by,"        \
	" 'last_used_at', esaas_ts(" t ".last_used_at))"

static const struct db_error bad_shape = {DB_ERR_QUERY, "", "unexpected result shape"};

/* --- create -------------------------------------------------------------------- */

#define CREATE_SQL                                                                            \
	"WITH ins AS ("                                                                       \
	" INSERT INTO api_tokens (id, tenant_id, role, secret_hash, description, created_by," \
	"                         expires_at)"                                                \
	" VALUES ($1, $2, $3, $4::bytea, $5, $6,"                                             \
	"         CASE WHEN $7::bigint IS NULL THEN NULL ELSE to_timestamp($7::bigint) END)"  \
	" RETURNING *),"                                                                      \
	" au AS (INSERT INTO audit_log (actor, action, tenant_id, detail)"                    \
	" SELECT created_by, 'token.create', tenant_id,"                                      \
	"  jsonb_build_object('token', id, 'role', role, 'expires_at', esaas_ts(expires_at))" \
	" FROM ins)"                                                                          \
	" SELECT " TOKEN_JSON("ins") " FROM ins"

struct token_ctx {
	storage_auth_token_cb cb;
	void *arg;
};

static void token_json_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct token_ctx *c = arg;

	if (err) {
		c->cb(c->arg, err, NULL);
	} else {
		json_t *t = PQntuples(res) == 1 ? storage_json_value(res, 0, 0) : NULL;

		c->cb(c->arg, t ? NULL : &bad_shape, t);
		json_decref(t);
	}
	free(c);
}

void storage_auth_token_create(struct db_pool *db, const struct auth_token_create *req,
			       storage_auth_token_cb cb, void *arg)
{
	struct token_ctx *c = xmalloc(sizeof(*c));
	char hash[2 * TOKEN_HASH_LEN + 3];
	char expires[24];
	const char *p[7];

	c->cb = cb;
	c->arg = arg;
	token_hash_to_text(req->hash, hash);
	snprintf(expires, sizeof(expires), "%lld", (long long)req->expires_at);
	p[0] = req->id;
	p[1] = req->tenant;
	p[2] = token_role_name(req->role);
	p[3] = hash;
	p[4] = req->description;
	p[5] = req->created_by;
	p[6] = req->expires_at > 0 ? expires : NULL;
	db_query(db, CREATE_SQL, 7, p, token_json_cb, c);
}

/* --- get, for the check -------------------------------------------------------- */

/*
 * The row as it was before the touch: last_used_at moves only for a token
 * that may still be used, and a check reads revoked_at as committed now.
 */
#define GET_SQL                                                          \
	"SELECT id, tenant_id, role, secret_hash,"                       \
	"  coalesce(extract(epoch FROM expires_at)::bigint, 0),"         \
	"  revoked_at IS NOT NULL, coalesce(expires_at <= now(), false)" \
	" FROM api_tokens WHERE id = $1"

struct row_ctx {
	storage_auth_row_cb cb;
	void *arg;
};

static void row_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct row_ctx *c = arg;
	struct auth_token_row row;
	int64_t exp = 0;

	if (err) {
		c->cb(c->arg, err, NULL);
		goto done;
	}
	if (PQntuples(res) == 0) {
		c->cb(c->arg, NULL, NULL);
		goto done;
	}
	memset(&row, 0, sizeof(row));
	row.id = PQgetvalue(res, 0, 0);
	row.tenant = PQgetvalue(res, 0, 1);
	if (PQnfields(res) != 7 || !token_role_parse(PQgetvalue(res, 0, 2), &row.role) ||
	    !token_hash_from_text(PQgetvalue(res, 0, 3), row.hash) ||
	    !parse_int64(PQgetvalue(res, 0, 4), 0, INT64_MAX, &exp)) {
		c->cb(c->arg, &bad_shape, NULL);
		goto done;
	}
	row.expires_at = exp;
	row.revoked = strcmp(PQgetvalue(res, 0, 5), "t") == 0;
	row.expired = strcmp(PQgetvalue(res, 0, 6), "t") == 0;
	c->cb(c->arg, NULL, &row);
done:
	free(c);
}

void storage_auth_token_get(struct db_pool *db, const char *id, storage_auth_row_cb cb, void *arg)
{
	struct row_ctx *c = xmalloc(sizeof(*c));
	const char *p[] = {id};

	c->cb = cb;
	c->arg = arg;
	db_query(db, GET_SQL, 1, p, row_cb, c);
}

/* --- used --------------------------------------------------------------------------- */

static void touch_cb(void *arg, PGresult *res, const struct db_error *err)
{
	(void)arg;
	(void)res;
	if (err)
		log_debug("token last use not recorded: %s", err->message);
}

void storage_auth_token_touch(struct db_pool *db, const char *id)
{
	const char *p[] = {id};

	db_query(db,
		 "UPDATE api_tokens SET last_used_at = now() WHERE id = $1"
		 " AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
		 1, p, touch_cb, NULL);
}

/* --- list ---------------------------------------------------------------------- */

void storage_auth_token_list(struct db_pool *db, const char *tenant, storage_auth_token_cb cb,
			     void *arg)
{
	struct token_ctx *c = xmalloc(sizeof(*c));
	const char *p[] = {tenant};

	c->cb = cb;
	c->arg = arg;
	db_query(db,
		 "SELECT jsonb_build_object('tokens', coalesce(jsonb_agg(" TOKEN_JSON(
			 "t") " ORDER BY t.created_at, t.id), '[]'::jsonb))"
			      " FROM api_tokens t WHERE ($1::text IS NULL OR t.tenant_id = $1)",
		 1, p, token_json_cb, c);
}

/* --- revoke -------------------------------------------------------------------- */

/* The row locked, so that of two revocations one is DONE and one ALREADY. */
#define REVOKE_SQL                                                                                \
	"WITH cur AS (SELECT * FROM api_tokens WHERE id = $2 AND ($1::text IS NULL OR tenant_id " \
	"= $1)"                                                                                   \
	" FOR UPDATE),"                                                                           \
	" upd AS (UPDATE api_tokens a SET revoked_at = now(), revoked_by = $3 FROM cur"           \
	"  WHERE a.id = cur.id AND cur.revoked_at IS NULL RETURNING a.*),"                        \
	" au AS (INSERT INTO audit_log (actor, action, tenant_id, detail)"                        \
	"  SELECT $3, 'token.revoke', tenant_id, jsonb_build_object('token', id) FROM upd)"       \
	" SELECT " TOKEN_JSON(                                                                    \
		"upd") ", true FROM upd"                                                          \
		       " UNION ALL"                                                               \
		       " SELECT " TOKEN_JSON(                                                     \
			       "cur") ", false FROM cur WHERE NOT EXISTS (SELECT 1 FROM upd)"

struct revoke_ctx {
	storage_auth_revoke_cb cb;
	void *arg;
};

static void revoke_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct revoke_ctx *c = arg;

	if (err) {
		c->cb(c->arg, err, AUTH_REVOKE_NOT_FOUND, NULL);
	} else if (PQntuples(res) == 0) {
		c->cb(c->arg, NULL, AUTH_REVOKE_NOT_FOUND, NULL);
	} else {
		json_t *t = storage_json_value(res, 0, 0);
		bool now = strcmp(PQgetvalue(res, 0, 1), "t") == 0;

		if (!t)
			c->cb(c->arg, &bad_shape, AUTH_REVOKE_NOT_FOUND, NULL);
		else
			c->cb(c->arg, NULL, now ? AUTH_REVOKE_DONE : AUTH_REVOKE_ALREADY, t);
		json_decref(t);
	}
	free(c);
}

void storage_auth_token_revoke(struct db_pool *db, const char *tenant, const char *id,
			       const char *actor, storage_auth_revoke_cb cb, void *arg)
{
	struct revoke_ctx *c = xmalloc(sizeof(*c));
	const char *p[] = {tenant, id, actor};

	c->cb = cb;
	c->arg = arg;
	db_query(db, REVOKE_SQL, 3, p, revoke_cb, c);
}

/* --- the first admin token ------------------------------------------------------- */

bool storage_auth_bootstrap(const char *conninfo, const char *tenant, const struct token_new *tok,
			    char *err, size_t errlen)
{
	char hash[2 * TOKEN_HASH_LEN + 3];
	const char *p[] = {tok->id, tenant, NULL};
	PGconn *pg = PQconnectdb(conninfo);
	bool ok = false;

	token_hash_to_text(tok->hash, hash);
	p[2] = hash;
	if (PQstatus(pg) != CONNECTION_OK) {
		snprintf(err, errlen, "cannot connect to the database: %s", PQerrorMessage(pg));
		PQfinish(pg);
		return false;
	}
	PGresult *res = PQexecParams(
		pg,
		"WITH t AS (INSERT INTO tenants (id, created_by) VALUES ($2, 'bootstrap')"
		"  ON CONFLICT (id) DO NOTHING),"
		" ins AS (INSERT INTO api_tokens (id, tenant_id, role, secret_hash, description,"
		"  created_by) VALUES ($1, $2, 'admin', $3::bytea, 'esaasd --bootstrap-admin',"
		"  'bootstrap') RETURNING id, tenant_id),"
		" au AS (INSERT INTO audit_log (actor, action, tenant_id, detail)"
		"  SELECT 'bootstrap', 'token.create', tenant_id,"
		"   jsonb_build_object('token', id, 'role', 'admin') FROM ins)"
		" SELECT id FROM ins",
		3, NULL, p, NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		snprintf(err, errlen, "cannot create the token: %s", PQresultErrorMessage(res));
	else
		ok = true;
	PQclear(res);
	PQfinish(pg);
	return ok;
}
