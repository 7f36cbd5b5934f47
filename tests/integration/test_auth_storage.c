/*
 * storage/auth.c against a real PostgreSQL (the harness's private server),
 * migrated by migrate_run(): API tokens created, read for the check,
 * listed, revoked (at once), and the audit rows that go with them.
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

#include <event2/event.h>

#include "common/token.h"
#include "common/util.h"
#include "storage/auth.h"
#include "storage/db.h"
#include "storage/migrate.h"
#include "tests/integration/harness.h"

static struct pg pg;

/* One statement with its one parameter, on the test's own connection. */
static PGresult *sql_run(PGconn *c, const char *sql, const char *param)
{
	const char *p[] = {param};

	return PQexecParams(c, sql, 1, NULL, p, NULL, NULL, 0);
}

struct fixture {
	char dburl[600];
	struct event_base *base;
	struct db_pool *db;
	PGconn *sql;
};

/* What one storage call answered. */
struct result {
	bool done;
	char sqlstate[8];
	bool failed;
	json_t *json;
	bool found;
	struct auth_token_row row;
	char row_id[32], row_tenant[64];
	enum auth_revoke_result revoke;
};

static void record_err(struct result *r, const struct db_error *err)
{
	r->done = true;
	r->failed = err != NULL;
	if (err)
		snprintf(r->sqlstate, sizeof(r->sqlstate), "%s", err->sqlstate);
}

static void json_cb(void *arg, const struct db_error *err, json_t *json)
{
	struct result *r = arg;

	record_err(r, err);
	r->json = json ? json_incref(json) : NULL;
}

static void row_cb(void *arg, const struct db_error *err, const struct auth_token_row *row)
{
	struct result *r = arg;

	record_err(r, err);
	r->found = row != NULL;
	if (row) {
		r->row = *row;
		snprintf(r->row_id, sizeof(r->row_id), "%s", row->id);
		snprintf(r->row_tenant, sizeof(r->row_tenant), "%s", row->tenant);
		r->row.id = r->row_id;
		r->row.tenant = r->row_tenant;
	}
}

static void revoke_cb(void *arg, const struct db_error *err, enum auth_revoke_result result,
		      json_t *token)
{
	struct result *r = arg;

	record_err(r, err);
	r->revoke = result;
	r->json = token ? json_incref(token) : NULL;
}

static void result_reset(struct result *r)
{
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

/* Turn the loop until the call has answered (10 s at most). */
static void wait_done(struct fixture *f, struct result *r)
{
	int64_t deadline = harness_now_ms() + 10000;

	while (!r->done && harness_now_ms() < deadline) {
		struct timeval tv = {0, 50000};

		event_base_loopexit(f->base, &tv);
		event_base_dispatch(f->base);
	}
	assert_true(r->done);
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	char err[512];
	int64_t deadline;

	*state = f;
	if (!pg_new_database(&pg, f->dburl, sizeof(f->dburl)))
		return -1;
	if (!migrate_run(f->dburl, err, sizeof(err))) {
		fprintf(stderr, "migrate: %s\n", err);
		return -1;
	}
	f->sql = sql_connect(f->dburl);
	if (!f->sql)
		return -1;
	PQclear(sql_run(f->sql, "INSERT INTO tenants (id, created_by) VALUES ($1, 'test')",
			"acme"));
	f->base = event_base_new();
	f->db = db_pool_new(f->base, f->dburl, 2);
	deadline = harness_now_ms() + 10000;
	while (!db_pool_connected(f->db) && harness_now_ms() < deadline) {
		struct timeval tv = {0, 50000};

		event_base_loopexit(f->base, &tv);
		event_base_dispatch(f->base);
	}
	return db_pool_connected(f->db) ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	db_pool_free(f->db);
	event_base_free(f->base);
	PQfinish(f->sql);
	free(f);
	return 0;
}

static int group_setup(void **state)
{
	return pg_start(&pg) ? 0 : -1;
}

static int group_teardown(void **state)
{
	pg_finish(&pg);
	return 0;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "(null)";
}

/* Make a token and store it; returns the stored JSON (decref it). */
static json_t *create(struct fixture *f, struct token_new *t, const char *tenant,
		      enum token_role role, int64_t expires_at)
{
	struct result r = {0};
	struct auth_token_create req = {
		.hash = t->hash,
		.tenant = tenant,
		.role = role,
		.description = "ci deploys",
		.created_by = "alice@example.com",
		.expires_at = expires_at,
	};

	assert_true(token_create(t));
	req.id = t->id;
	storage_auth_token_create(f->db, &req, json_cb, &r);
	wait_done(f, &r);
	if (r.failed)
		fail_msg("create failed: %s", r.sqlstate);
	return r.json;
}

static void get(struct fixture *f, const char *id, struct result *r)
{
	memset(r, 0, sizeof(*r));
	storage_auth_token_get(f->db, id, row_cb, r);
	wait_done(f, r);
	assert_false(r->failed);
}

static long long count(struct fixture *f, const char *sql, const char *param)
{
	const char *p[] = {param};

	return sql_int(f->sql, sql, param ? 1 : 0, p);
}

static void test_create_and_check(void **state)
{
	struct fixture *f = *state;
	struct token_new t;
	struct result r;
	char id[TOKEN_ID_LEN + 1];
	const char *secret;
	size_t len;
	json_t *tok = create(f, &t, "acme", TOKEN_ROLE_ONCALL, 0);

	assert_string_equal(jstr(tok, "id"), t.id);
	assert_string_equal(jstr(tok, "tenant"), "acme");
	assert_string_equal(jstr(tok, "role"), "oncall");
	assert_string_equal(jstr(tok, "created_by"), "alice@example.com");
	assert_string_equal(jstr(tok, "description"), "ci deploys");
	assert_true(json_is_null(json_object_get(tok, "expires_at")));
	assert_true(json_is_null(json_object_get(tok, "revoked_at")));
	assert_null(json_object_get(tok, "secret_hash"));
	json_decref(tok);

	/* Only the hash is stored, never the secret. */
	assert_int_equal(count(f,
			       "SELECT count(*) FROM api_tokens WHERE secret_hash::text"
			       " LIKE '%' || $1 || '%' OR description = $1",
			       strchr(t.token + 6, '_') + 1),
			 0);
	assert_int_equal(count(f,
			       "SELECT count(*) FROM audit_log WHERE action = 'token.create'"
			       " AND tenant_id = 'acme' AND detail->>'token' = $1",
			       t.id),
			 1);

	/* The check: hash, role, tenant, expiry, revocation. */
	assert_true(token_parse(t.token, id, &secret, &len));
	get(f, id, &r);
	assert_true(r.found);
	assert_string_equal(r.row.id, t.id);
	assert_string_equal(r.row.tenant, "acme");
	assert_int_equal(r.row.role, TOKEN_ROLE_ONCALL);
	assert_int_equal(r.row.expires_at, 0);
	assert_false(r.row.revoked);
	assert_false(r.row.expired);
	assert_true(token_secret_matches(secret, len, r.row.hash, TOKEN_HASH_LEN));
	/* Reading it does not mark it used (the secret may be wrong)... */
	assert_int_equal(count(f,
			       "SELECT count(*) FROM api_tokens WHERE id = $1"
			       " AND last_used_at IS NULL",
			       t.id),
			 1);
	/* ...a touch once the secret matched does, at most once a minute. */
	storage_auth_token_touch(f->db, id);
	int64_t deadline = harness_now_ms() + 10000;
	while (count(f,
		     "SELECT count(*) FROM api_tokens WHERE id = $1 AND last_used_at IS NOT NULL",
		     t.id) == 0 &&
	       harness_now_ms() < deadline)
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(count(f,
			       "SELECT count(*) FROM api_tokens WHERE id = $1"
			       " AND last_used_at IS NOT NULL",
			       t.id),
			 1);
	const char *p[] = {t.id};
	long long first =
		sql_int(f->sql,
			"SELECT extract(epoch FROM last_used_at) * 1000000 FROM api_tokens"
			" WHERE id = $1",
			1, p);
	storage_auth_token_touch(f->db, id);
	struct db_stats st;
	deadline = harness_now_ms() + 10000;
	do {
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		db_pool_stats(f->db, &st);
	} while ((st.busy > 0 || st.queued > 0) && harness_now_ms() < deadline);
	assert_int_equal(st.busy + st.queued, 0);
	assert_int_equal(sql_int(f->sql,
				 "SELECT extract(epoch FROM last_used_at) * 1000000 FROM api_tokens"
				 " WHERE id = $1",
				 1, p),
			 first);

	/* No such token; and ids go in as parameters, whatever they hold. */
	get(f, "000000000000", &r);
	assert_false(r.found);
	get(f, "x' OR '1'='1", &r);
	assert_false(r.found);
	token_new_clear(&t);
}

static void test_create_refused(void **state)
{
	struct fixture *f = *state;
	struct token_new t, u;
	struct result r = {0};
	json_t *tok = create(f, &t, "default", TOKEN_ROLE_VIEWER, 0);
	struct auth_token_create req = {
		.id = t.id, /* taken */
		.hash = t.hash,
		.tenant = "default",
		.role = TOKEN_ROLE_ADMIN,
		.created_by = "bob",
	};

	json_decref(tok);
	storage_auth_token_create(f->db, &req, json_cb, &r);
	wait_done(f, &r);
	assert_true(r.failed);
	assert_string_equal(r.sqlstate, AUTH_SQLSTATE_ID_TAKEN);
	result_reset(&r);

	assert_true(token_create(&u));
	req.id = u.id;
	req.hash = u.hash;
	req.tenant = "nosuch";
	storage_auth_token_create(f->db, &req, json_cb, &r);
	wait_done(f, &r);
	assert_true(r.failed);
	assert_string_equal(r.sqlstate, AUTH_SQLSTATE_NO_TENANT);
	result_reset(&r);
	/* Nothing stored, nothing audited, by the failed ones. */
	assert_int_equal(count(f, "SELECT count(*) FROM api_tokens", NULL), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM audit_log", NULL), 1);
	token_new_clear(&t);
	token_new_clear(&u);
}

static void test_expiry(void **state)
{
	struct fixture *f = *state;
	struct token_new t, u;
	struct result r;
	int64_t later = (int64_t)time(NULL) + 3600;
	json_t *tok = create(f, &t, "acme", TOKEN_ROLE_MEMBER, later);

	assert_string_not_equal(jstr(tok, "expires_at"), "(null)");
	json_decref(tok);
	get(f, t.id, &r);
	assert_int_equal(r.row.expires_at, later);
	assert_false(r.row.expired);

	tok = create(f, &u, "acme", TOKEN_ROLE_MEMBER, (int64_t)time(NULL) - 60);
	json_decref(tok);
	get(f, u.id, &r);
	assert_true(r.found);
	assert_true(r.row.expired);
	/* An expired token is not marked used. */
	assert_int_equal(count(f,
			       "SELECT count(*) FROM api_tokens WHERE id = $1"
			       " AND last_used_at IS NULL",
			       u.id),
			 1);
	token_new_clear(&t);
	token_new_clear(&u);
}

static void test_list(void **state)
{
	struct fixture *f = *state;
	struct token_new a, b, c;
	struct result r = {0};
	json_t *list;

	json_decref(create(f, &a, "acme", TOKEN_ROLE_VIEWER, 0));
	json_decref(create(f, &b, "acme", TOKEN_ROLE_ADMIN, 0));
	json_decref(create(f, &c, "default", TOKEN_ROLE_ADMIN, 0));

	storage_auth_token_list(f->db, "acme", json_cb, &r);
	wait_done(f, &r);
	assert_false(r.failed);
	list = json_object_get(r.json, "tokens");
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(jstr(json_array_get(list, 0), "id"), a.id);
	assert_string_equal(jstr(json_array_get(list, 1), "id"), b.id);
	assert_string_equal(jstr(json_array_get(list, 1), "role"), "admin");
	for (size_t i = 0; i < 2; i++)
		assert_null(json_object_get(json_array_get(list, i), "secret_hash"));
	/* No hash in any form: neither hex nor the stored bytes' text. */
	char *text = json_dumps(r.json, 0);
	char hex[2 * TOKEN_HASH_LEN + 3];
	token_hash_to_text(a.hash, hex);
	assert_null(strstr(text, hex + 2));
	free(text);
	result_reset(&r);

	/* A tenant without tokens: an empty list. */
	PQclear(sql_run(f->sql, "INSERT INTO tenants (id, created_by) VALUES ($1, 'test')",
			"empty"));
	storage_auth_token_list(f->db, "empty", json_cb, &r);
	wait_done(f, &r);
	assert_int_equal(json_array_size(json_object_get(r.json, "tokens")), 0);
	result_reset(&r);
	token_new_clear(&a);
	token_new_clear(&b);
	token_new_clear(&c);
}

static void test_revoke(void **state)
{
	struct fixture *f = *state;
	struct token_new t;
	struct result r = {0}, g;

	json_decref(create(f, &t, "acme", TOKEN_ROLE_MEMBER, 0));

	/* Another tenant's token is not found. */
	storage_auth_token_revoke(f->db, "default", t.id, "mallory", revoke_cb, &r);
	wait_done(f, &r);
	assert_false(r.failed);
	assert_int_equal(r.revoke, AUTH_REVOKE_NOT_FOUND);
	assert_null(r.json);
	result_reset(&r);
	get(f, t.id, &g);
	assert_false(g.row.revoked);

	storage_auth_token_revoke(f->db, "acme", t.id, "alice@example.com", revoke_cb, &r);
	wait_done(f, &r);
	assert_int_equal(r.revoke, AUTH_REVOKE_DONE);
	assert_string_equal(jstr(r.json, "revoked_by"), "alice@example.com");
	assert_string_not_equal(jstr(r.json, "revoked_at"), "(null)");
	char *revoked_at = xstrdup(jstr(r.json, "revoked_at"));
	result_reset(&r);

	/* At once: the very next check sees it, and does not mark it used. */
	PQclear(sql_run(f->sql, "UPDATE api_tokens SET last_used_at = NULL WHERE tenant_id = $1",
			"acme"));
	get(f, t.id, &g);
	assert_true(g.found);
	assert_true(g.row.revoked);
	assert_int_equal(count(f,
			       "SELECT count(*) FROM api_tokens WHERE id = $1"
			       " AND last_used_at IS NULL",
			       t.id),
			 1);

	/* Again: nothing changes. */
	storage_auth_token_revoke(f->db, "acme", t.id, "bob", revoke_cb, &r);
	wait_done(f, &r);
	assert_int_equal(r.revoke, AUTH_REVOKE_ALREADY);
	assert_string_equal(jstr(r.json, "revoked_by"), "alice@example.com");
	assert_string_equal(jstr(r.json, "revoked_at"), revoked_at);
	result_reset(&r);
	free(revoked_at);

	assert_int_equal(count(f,
			       "SELECT count(*) FROM audit_log WHERE action = 'token.revoke'"
			       " AND actor = 'alice@example.com' AND detail->>'token' = $1",
			       t.id),
			 1);
	assert_int_equal(
		count(f, "SELECT count(*) FROM audit_log WHERE action = 'token.revoke'", NULL), 1);
	token_new_clear(&t);
}

/* The schema's own guards: roles, hash length, quotas. */
static void test_schema(void **state)
{
	struct fixture *f = *state;
	PGresult *res;

	res = sql_run(f->sql,
		      "INSERT INTO api_tokens (id, tenant_id, role, secret_hash, created_by)"
		      " VALUES ('0123456789ab', 'acme', $1, '\\x00', 'x')",
		      "root");
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	PQclear(res);
	res = sql_run(f->sql,
		      "INSERT INTO tenant_quotas (tenant_id, clusters, updated_by)"
		      " VALUES ($1, 3, 'admin')",
		      "acme");
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	/* NULL is unlimited. */
	assert_int_equal(count(f,
			       "SELECT count(*) FROM tenant_quotas WHERE tenant_id = $1"
			       " AND nodes IS NULL AND disk_bytes IS NULL",
			       "acme"),
			 1);
	res = sql_run(f->sql,
		      "INSERT INTO tenant_quotas (tenant_id, clusters, updated_by)"
		      " VALUES ($1, 3, 'admin')",
		      "nosuch");
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	PQclear(res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_and_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
