/*
 * Who may do what, against a real esaasd-test and PostgreSQL:
 *   - the matrix: every role x every route x own tenant, another tenant
 *     and no credential, from one table of the policy; a route that esaasd
 *     serves and the table does not know fails the test;
 *   - quotas: twenty creates racing for the last units of a tenant's
 *     quota, exactly as many as fit accepted, the usage their sum;
 *   - tokens: a revoked token refused at once, and no secret of the whole
 *     program in esaasd's log, its events or its audit trail;
 *   - OpenID Connect: tokens signed by keys made with the openssl command,
 *     served as a JWKS by nginx: valid RS256 and ES256, expired, wrong
 *     audience, wrong issuer, bad signature, alg none, and an unknown kid
 *     that appears after a key rotation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/token.h"
#include "common/util.h"
#include "kube/spec.h"
#include "tests/integration/harness.h"
#include "tests/unit/jwt_keys.h"

static struct pg pg;

struct fixture {
	char dburl[600];
	struct esaasd d;
	PGconn *sql;
	struct repo jwks; /* nginx serving jwks.json, for the OpenID Connect test */
	char keydir[256];
};

/* Every secret this program has seen: none may show in a log. */
static char *secrets[64];
static size_t nsecrets;

static void remember_secret(const char *s)
{
	if (s && nsecrets < ARRAY_SIZE(secrets))
		secrets[nsecrets++] = xstrdup(s);
}

static int group_setup(void **state)
{
	return pg_start(&pg) ? 0 : -1;
}

static int group_teardown(void **state)
{
	for (size_t i = 0; i < nsecrets; i++)
		free(secrets[i]);
	pg_finish(&pg);
	return 0;
}

static struct fixture *fixture_new(const char *extra_yaml)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct esaasd_opts o = {.extra_yaml = extra_yaml};

	assert_non_null(pg_new_database(&pg, f->dburl, sizeof(f->dburl)));
	assert_true(esaasd_start(&f->d, pg.dir, f->dburl, &o));
	remember_secret(harness_token(&f->d));
	f->sql = sql_connect(f->dburl);
	assert_non_null(f->sql);
	return f;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (!f)
		return 0;
	int rc = esaasd_stop_all(&f->d, 1);
	if (f->jwks.pid > 0)
		repo_stop(&f->jwks);
	if (f->keydir[0])
		test_keys_cleanup(f->keydir);
	PQfinish(f->sql);
	free(f);
	return rc;
}

/* A request with this token ("" for none at all). */
static long call_as(const struct fixture *f, const char *token, const char *method,
		    const char *path, const char *body, struct http_resp *r)
{
	char auth[8192];
	const char *h[] = {auth, NULL};

	if (*token)
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	else
		snprintf(auth, sizeof(auth), "Authorization:");
	if (!http_call(&f->d, method, path, body, h, r))
		fail_msg("%s %s: no answer", method, path);
	return r->status;
}

static long status_as(const struct fixture *f, const char *token, const char *method,
		      const char *path, const char *body)
{
	struct http_resp r;
	long st = call_as(f, token, method, path, body, &r);

	http_resp_free(&r);
	return st;
}

/* As the admin the harness made, expecting want; the answer's body (decref it). */
static json_t *admin(const struct fixture *f, const char *method, const char *path,
		     const char *body, long want)
{
	struct http_resp r;

	if (!http_call(&f->d, method, path, body, NULL, &r))
		fail_msg("%s %s: no answer", method, path);
	if (r.status != want)
		fail_msg("%s %s: expected %ld, got %ld: %s", method, path, want, r.status, r.raw);
	json_t *b = json_incref(r.body);
	http_resp_free(&r);
	return b;
}

/* A new token of tenant and role; its secret (free it), *id filled. */
static char *token_new(const struct fixture *f, const char *tenant, const char *role, char *id)
{
	char *body =
		xasprintf("{\"tenant\": \"%s\", \"role\": \"%s\", \"description\": \"%s of %s\"}",
			  tenant, role, role, tenant);
	json_t *t = admin(f, "POST", "/api/v1/tokens", body, 201);
	const char *secret = json_string_value(json_object_get(t, "token"));

	assert_non_null(secret);
	assert_non_null(strstr(secret, json_string_value(json_object_get(t, "id"))));
	assert_null(json_object_get(t, "secret_hash"));
	if (id)
		snprintf(id, TOKEN_ID_LEN + 1, "%s", json_string_value(json_object_get(t, "id")));
	char *out = xstrdup(secret);

	remember_secret(out);
	json_decref(t);
	free(body);
	return out;
}

/* --- the matrix ---------------------------------------------------------------------------- */

enum {
	VIEWER = 1,
	MEMBER = 2,
	ONCALL = 4,
	ADMIN = 8,
	PUBLIC = 16
};
#define ALL_ROLES (VIEWER | MEMBER | ONCALL | ADMIN)

/*
 * The policy, one line per route: who may, in their own tenant and in
 * another; and the request to make.  {name}, {id}, {tenant}, {plugin},
 * {kind} are filled in for each side.  A body is chosen so that a caller
 * who gets through meets the handler's own answer (2xx, 409 or a 422 of
 * its checks), never 401, 403 or 404.
 */
struct rule {
	const char *method;
	const char *pattern;
	int own;   /* roles that may, in their own tenant */
	int other; /* roles that may, in another tenant */
	const char *body;
};

static const struct rule policy[] = {
	{"GET", "/healthz", PUBLIC, PUBLIC, NULL},
	{"GET", "/readyz", PUBLIC, PUBLIC, NULL},
	{"GET", "/api/v1", ALL_ROLES, ALL_ROLES, NULL},
	{"GET", "/api/v1/whoami", ALL_ROLES, ALL_ROLES, NULL},
	{"GET", "/api/v1/me", ALL_ROLES, ALL_ROLES, NULL},
	{"GET", "/api/v1/auth", PUBLIC, PUBLIC, NULL},
	{"GET", "/api/v1/versions", ALL_ROLES, ALL_ROLES, NULL},
	{"GET", "/api/v1/versions/{version}/plugins", ALL_ROLES, ALL_ROLES, NULL},
	{"GET", "/api/v1/workflows", ALL_ROLES, ALL_ROLES, NULL},
	{"GET", "/api/v1/workflows/{kind}", ALL_ROLES, ALL_ROLES, NULL},
	{"POST", "/api/v1/tokens", ADMIN, ADMIN, "{\"tenant\": \"{tenant}\", \"role\": \"chief\"}"},
	{"GET", "/api/v1/tokens", ADMIN, ADMIN, NULL},
	{"DELETE", "/api/v1/tokens/{id}", ADMIN, ADMIN, NULL},
	{"GET", "/api/v1/tenants", ONCALL | ADMIN, ONCALL | ADMIN, NULL},
	{"PUT", "/api/v1/tenants/{tenant}", ADMIN, ADMIN, "{}"},
	{"GET", "/api/v1/tenants/{tenant}", ALL_ROLES, ONCALL | ADMIN, NULL},
	{"GET", "/api/v1/tenants/{tenant}/usage", ALL_ROLES, ONCALL | ADMIN, NULL},
	{"PUT", "/api/v1/tenants/{tenant}/quota", ADMIN, ADMIN, "{\"nodes\": -1}"},
	{"GET", "/api/v1/jobs", ALL_ROLES, ONCALL | ADMIN, NULL},
	{"POST", "/api/v1/jobs", MEMBER | ADMIN, ADMIN, "{\"kind\": \"no-such-kind\"}"},
	{"GET", "/api/v1/jobs/{id}", ALL_ROLES, ONCALL | ADMIN, NULL},
	{"GET", "/api/v1/jobs/{id}/events", ALL_ROLES, ONCALL | ADMIN, NULL},
	{"POST", "/api/v1/jobs/{id}/cancel", MEMBER | ONCALL | ADMIN, ONCALL | ADMIN,
	 "{\"reason\": \"the matrix\"}"},
	{"POST", "/api/v1/jobs/{id}/replay", ONCALL | ADMIN, ONCALL | ADMIN,
	 "{\"reason\": \"the matrix\"}"},
	{"POST", "/api/v1/clusters", MEMBER | ADMIN, ADMIN, "{\"name\": \"Not A Name\"}"},
	{"GET", "/api/v1/clusters", ALL_ROLES, ONCALL | ADMIN, NULL},
	{"GET", "/api/v1/clusters/{name}", ALL_ROLES, ONCALL | ADMIN, NULL},
	{"GET", "/api/v1/clusters/{name}/health-history", ALL_ROLES, ONCALL | ADMIN, NULL},
	{"GET", "/api/v1/clusters/{name}/nodes", ALL_ROLES, ONCALL | ADMIN, NULL},
	{"GET", "/api/v1/clusters/{name}/snapshots", ALL_ROLES, ONCALL | ADMIN, NULL},
	{"POST", "/api/v1/clusters/{name}/snapshots", MEMBER | ADMIN, ADMIN, "{\"name\": 5}"},
	{"POST", "/api/v1/clusters/{name}/restore", MEMBER | ADMIN, ADMIN, "{\"snapshot\": 5}"},
	{"GET", "/api/v1/clusters/{name}/credentials", MEMBER | ADMIN, ADMIN, NULL},
	{"DELETE", "/api/v1/clusters/{name}", MEMBER | ADMIN, ADMIN, "{\"wipe_data\": \"yes\"}"},
	{"POST", "/api/v1/clusters/{name}/scale", MEMBER | ADMIN, ADMIN, "{\"role\": \"chiefs\"}"},
	{"POST", "/api/v1/clusters/{name}/restart", MEMBER | ADMIN, ADMIN,
	 "{\"role\": \"chiefs\"}"},
	{"POST", "/api/v1/clusters/{name}/upgrade", MEMBER | ADMIN, ADMIN, "{\"version\": 5}"},
	{"POST", "/api/v1/clusters/{name}/secure", MEMBER | ADMIN, ADMIN, "{\"allow_yellow\": 5}"},
	{"PATCH", "/api/v1/clusters/{name}/config", MEMBER | ADMIN, ADMIN, "{\"settings\": 5}"},
	{"POST", "/api/v1/clusters/{name}/plugins", MEMBER | ADMIN, ADMIN, "{\"name\": 5}"},
	{"DELETE", "/api/v1/clusters/{name}/plugins/{plugin}", MEMBER | ADMIN, ADMIN,
	 "{\"allow_yellow\": 5}"},
	{"POST", "/api/v1/clusters/{name}/kibana", MEMBER | ADMIN, ADMIN, "{\"replicas\": \"x\"}"},
	{"POST", "/api/v1/clusters/{name}/pause", MEMBER | ADMIN, ADMIN, "{\"reason\": 5}"},
	{"POST", "/api/v1/clusters/{name}/resume", MEMBER | ADMIN, ADMIN, "{\"reason\": 5}"},
	{"PUT", "/api/v1/clusters/{name}/maintenance", MEMBER | ADMIN, ADMIN, "{\"time_zone\": 5}"},
	{"DELETE", "/api/v1/clusters/{name}/maintenance", MEMBER | ADMIN, ADMIN, "{\"x\": 5}"},
	{"PUT", "/api/v1/tenants/{tenant}/maintenance", ADMIN, ADMIN, "{\"time_zone\": 5}"},
	{"DELETE", "/api/v1/tenants/{tenant}/maintenance", ADMIN, ADMIN, "{\"x\": 5}"},
};

/* What one tenant has, for the requests that name it. */
struct side {
	const char *tenant;
	const char *cluster;
	char job[32];
	char token[TOKEN_ID_LEN + 1]; /* a token to revoke */
};

static char *fill(const char *pattern, const struct side *s, bool query_tenant)
{
	if (strcmp(pattern, "/api/v1/tokens/{id}") == 0)
		return xasprintf("/api/v1/tokens/%s", s->token);
	if (strcmp(pattern, "/api/v1/versions/{version}/plugins") == 0)
		return xstrdup("/api/v1/versions/7.17.10/plugins");
	static const struct {
		const char *from, *field;
	} slots[] = {{"{name}", "cluster"},
		     {"{id}", "job"},
		     {"{tenant}", "tenant"},
		     {"{kind}", NULL},
		     {"{plugin}", NULL}};
	char *out = xstrdup(pattern);

	for (size_t i = 0; i < ARRAY_SIZE(slots); i++) {
		char *at = strstr(out, slots[i].from);

		if (!at)
			continue;
		const char *v = !slots[i].field ? (i == 3 ? "create" : "analysis-icu")
				: strcmp(slots[i].field, "cluster") == 0 ? s->cluster
				: strcmp(slots[i].field, "job") == 0	 ? s->job
									 : s->tenant;
		*at = '\0';
		char *next = xasprintf("%s%s%s", out, v, at + strlen(slots[i].from));

		free(out);
		out = next;
	}
	if (query_tenant && !strstr(pattern, "{tenant}") && !strstr(pattern, "{id}") &&
	    strncmp(pattern, "/api/", 5) == 0) {
		char *next = xasprintf("%s?tenant=%s", out, s->tenant);

		free(out);
		out = next;
	}
	return out;
}

static const char *role_names[] = {"viewer", "member", "oncall", "admin"};

static void test_matrix(void **state)
{
	/* alpha holds every role, oncall and admin included: a platform tenant. */
	struct fixture *f = *state = fixture_new("auth:\n  platform_tenants: default, alpha\n");
	struct side own = {.tenant = "alpha", .cluster = "logs"};
	struct side other = {.tenant = "beta", .cluster = "metrics"};
	char *tokens[4];
	json_t *j;

	/* Two tenants, each with a cluster (whose create fails here, there
	 * being no Kubernetes) and a job parked for long. */
	json_decref(admin(f, "PUT", "/api/v1/tenants/alpha", NULL, 201));
	json_decref(admin(f, "PUT", "/api/v1/tenants/beta", NULL, 201));
	json_decref(admin(f, "PUT", "/api/v1/tenants/beta", NULL, 200));
	json_decref(admin(f, "POST", "/api/v1/clusters?tenant=alpha", "{\"name\": \"logs\"}", 202));
	json_decref(
		admin(f, "POST", "/api/v1/clusters?tenant=beta", "{\"name\": \"metrics\"}", 202));
	struct side *sides[] = {&own, &other};
	for (int i = 0; i < 2; i++) {
		char *path = xasprintf("/api/v1/jobs?tenant=%s", sides[i]->tenant);
		char *body =
			xasprintf("{\"kind\": \"test\", \"cluster\": \"%s\", \"params\": {\"plan\":"
				  " {\"work\": [\"wait:600000\"]}}}",
				  sides[i]->cluster);

		j = admin(f, "POST", path, body, 202);
		snprintf(sides[i]->job, sizeof(sides[i]->job), "%lld",
			 (long long)json_integer_value(json_object_get(j, "id")));
		json_decref(j);
		free(path);
		free(body);
		free(token_new(f, sides[i]->tenant, "viewer", sides[i]->token));
	}
	for (int r = 0; r < 4; r++)
		tokens[r] = token_new(f, "alpha", role_names[r], NULL);

	/* Every route esaasd serves has a line in the policy, and every line a route. */
	j = admin(f, "GET", "/api/v1", NULL, 200);
	json_t *routes = json_object_get(j, "routes");
	size_t i, k;
	json_t *route;
	json_array_foreach (routes, i, route) {
		const char *m = json_string_value(json_object_get(route, "method"));
		const char *p = json_string_value(json_object_get(route, "path"));
		bool known = false;

		for (k = 0; k < ARRAY_SIZE(policy); k++)
			known |= strcmp(policy[k].method, m) == 0 &&
				 strcmp(policy[k].pattern, p) == 0;
		if (!known)
			fail_msg("%s %s has no line in the policy of this test", m, p);
	}
	for (k = 0; k < ARRAY_SIZE(policy); k++) {
		bool served = false;

		json_array_foreach (routes, i, route)
			served |= strcmp(json_string_value(json_object_get(route, "method")),
					 policy[k].method) == 0 &&
				  strcmp(json_string_value(json_object_get(route, "path")),
					 policy[k].pattern) == 0;
		if (!served)
			fail_msg("%s %s is in the policy but not served", policy[k].method,
				 policy[k].pattern);
	}
	json_decref(j);

	int cells = 0;
	for (k = 0; k < ARRAY_SIZE(policy); k++) {
		const struct rule *ru = &policy[k];

		for (int side = 0; side < 2; side++) {
			const struct side *s = side ? &other : &own;
			char *path = fill(ru->pattern, s, side == 1);
			char *body = ru->body ? fill(ru->body, s, false) : NULL;
			int allowed = side ? ru->other : ru->own;

			/* No credential. */
			long st = status_as(f, "", ru->method, path, body);
			long want = allowed & PUBLIC ? st : 401;
			if ((allowed & PUBLIC && (st == 401 || st == 403)) || st != want)
				fail_msg("%s %s without a credential: %ld", ru->method, path, st);
			cells++;
			for (int r = 0; r < 4; r++) {
				int bit = 1 << r;
				struct http_resp resp;

				st = call_as(f, tokens[r], ru->method, path, body, &resp);
				if (allowed & (bit | PUBLIC)) {
					if (st == 401 || st == 403 || st == 404)
						fail_msg("%s %s as %s (%s tenant): %ld, expected "
							 "to get "
							 "through: %s",
							 ru->method, path, role_names[r],
							 side ? "another" : "its own", st,
							 resp.raw);
				} else {
					/* Not at all: 403; here but not there: 404. */
					want = (ru->own & bit) ? 404 : 403;
					if (st != want)
						fail_msg("%s %s as %s (%s tenant): %ld, expected "
							 "%ld: %s",
							 ru->method, path, role_names[r],
							 side ? "another" : "its own", st, want,
							 resp.raw);
				}
				http_resp_free(&resp);
				cells++;
			}
			free(path);
			free(body);
		}
	}
	/* Every route x 2 sides x (no credential + 4 roles). */
	assert_int_equal(cells, (int)ARRAY_SIZE(policy) * 2 * 5);

	/* A member's lists hold its tenant only, and another tenant's cluster is
	 * answered exactly as a name that exists nowhere. */
	struct http_resp a, b;
	call_as(f, tokens[1], "GET", "/api/v1/clusters/metrics", NULL, &a);
	call_as(f, tokens[1], "GET", "/api/v1/clusters/nowhere", NULL, &b);
	assert_int_equal(a.status, 404);
	assert_int_equal(b.status, 404);
	http_resp_free(&a);
	http_resp_free(&b);
	call_as(f, tokens[1], "GET", "/api/v1/jobs", NULL, &a);
	json_t *job;
	json_array_foreach (json_object_get(a.body, "jobs"), i, job)
		assert_string_equal(json_string_value(json_object_get(job, "tenant")), "alpha");
	assert_true(json_array_size(json_object_get(a.body, "jobs")) > 0);
	http_resp_free(&a);
	call_as(f, tokens[2], "GET", "/api/v1/jobs", NULL, &a);
	bool saw_beta = false;
	json_array_foreach (json_object_get(a.body, "jobs"), i, job)
		saw_beta |= strcmp(json_string_value(json_object_get(job, "tenant")), "beta") == 0;
	assert_true(saw_beta);
	http_resp_free(&a);

	/* The actor of a job is the token, never its secret. */
	call_as(f, tokens[1], "POST", "/api/v1/jobs",
		"{\"kind\": \"test\", \"cluster\": \"logs\", \"params\": {}}", &a);
	assert_int_equal(a.status, 202);
	const char *by = json_string_value(json_object_get(a.body, "submitted_by"));
	assert_non_null(by);
	assert_int_equal(strncmp(by, "token:", 6), 0);
	http_resp_free(&a);
	for (int r = 0; r < 4; r++)
		free(tokens[r]);
}

/* --- quotas ------------------------------------------------------------------------------------ */

#define RACERS 20

static void test_quota_race(void **state)
{
	struct fixture *f = *state = fixture_new(NULL);
	long statuses[RACERS];
	int fds[RACERS][2];
	pid_t pids[RACERS];
	json_t *t;

	json_decref(admin(f, "PUT", "/api/v1/tenants/gamma", NULL, 201));
	/* Each cluster below is 1 master, 2 data nodes and 1 client: 4 nodes, of
	 * which 10 fit, so 2 clusters (8 nodes) and not a third.  Memory limits
	 * nothing: 64Gi is well above. */
	t = admin(f, "PUT", "/api/v1/tenants/gamma/quota",
		  "{\"nodes\": 10, \"memory\": \"640Gi\", \"clusters\": null}", 200);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(t, "quota"), "nodes")),
			 10);
	assert_true(json_is_null(json_object_get(json_object_get(t, "quota"), "clusters")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(t, "usage"), "nodes")),
			 0);
	json_decref(t);

	for (int i = 0; i < RACERS; i++) {
		assert_int_equal(pipe(fds[i]), 0);
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			char body[200];
			struct http_resp r;
			long out = 0;

			snprintf(body, sizeof(body),
				 "{\"name\": \"c%d\", \"masters\": {\"replicas\": 1},"
				 " \"data\": {\"replicas\": 2}, \"clients\": {\"replicas\": 1}}",
				 i);
			if (http_call(&f->d, "POST", "/api/v1/clusters?tenant=gamma", body, NULL,
				      &r)) {
				out = r.status;
				if (r.status == 429 &&
				    (!strstr(r.raw, "\"quota_exceeded\"") ||
				     !strstr(r.raw, "nodes") || !strstr(r.raw, "the limit is 10")))
					out = -429;
			}
			_exit(write(fds[i][1], &out, sizeof(out)) == sizeof(out) ? 0 : 1);
		}
		close(fds[i][1]);
	}
	int accepted = 0, refused = 0;
	for (int i = 0; i < RACERS; i++) {
		int st;

		assert_int_equal(read(fds[i][0], &statuses[i], sizeof(statuses[i])),
				 sizeof(statuses[i]));
		close(fds[i][0]);
		assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
		if (statuses[i] == 202)
			accepted++;
		else if (statuses[i] == 429)
			refused++;
		else
			fail_msg("client %d answered %ld", i, statuses[i]);
	}
	assert_int_equal(accepted, 2);
	assert_int_equal(refused, RACERS - 2);

	/* The usage is the sum of the accepted specs, read back one by one. */
	json_t *list = admin(f, "GET", "/api/v1/clusters?tenant=gamma", NULL, 200);
	json_t *c;
	size_t i;
	int64_t nodes = 0, memory = 0, disk = 0, cpu = 0;
	char first[16];
	assert_int_equal(json_array_size(json_object_get(list, "clusters")), 2);
	snprintf(first, sizeof(first), "%s",
		 json_string_value(json_object_get(
			 json_array_get(json_object_get(list, "clusters"), 0), "name")));
	json_array_foreach (json_object_get(list, "clusters"), i, c) {
		static const char *const roles[] = {"masters", "data", "clients"};
		json_t *spec = json_object_get(c, "spec");

		for (int r = 0; r < 3; r++) {
			json_t *role = json_object_get(spec, roles[r]);
			int64_t n = json_integer_value(json_object_get(role, "replicas")), v;

			nodes += n;
			assert_true(spec_parse_bytes(
				json_string_value(json_object_get(role, "memory")), &v));
			memory += n * v;
			assert_true(spec_parse_cpu(json_string_value(json_object_get(role, "cpu")),
						   &v));
			cpu += n * v;
			if (r == 1) {
				assert_true(spec_parse_bytes(
					json_string_value(json_object_get(role, "disk")), &v));
				disk += n * v;
			}
		}
	}
	json_decref(list);
	t = admin(f, "GET", "/api/v1/tenants/gamma/usage", NULL, 200);
	json_t *u = json_object_get(t, "usage");
	assert_int_equal(json_integer_value(json_object_get(u, "clusters")), 2);
	assert_int_equal(json_integer_value(json_object_get(u, "nodes")), nodes);
	assert_int_equal(nodes, 8);
	assert_int_equal((int64_t)json_number_value(json_object_get(u, "memory_bytes")), memory);
	assert_int_equal((int64_t)json_number_value(json_object_get(u, "cpu_millis")), cpu);
	assert_int_equal((int64_t)json_number_value(json_object_get(u, "disk_bytes")), disk);
	json_decref(t);

	/* A scale-up past the quota is refused too, and nothing is queued. */
	long long before = sql_int(f->sql, "SELECT count(*) FROM jobs", 0, NULL);
	struct http_resp r;
	char *scale = xasprintf("/api/v1/clusters/%s/scale?tenant=gamma", first);
	assert_true(
		http_call(&f->d, "POST", scale, "{\"role\": \"data\", \"replicas\": 5}", NULL, &r));
	if (r.status != 429 || !strstr(r.raw, "\"quota_exceeded\""))
		fail_msg("scale past the quota: %ld %s", r.status, r.raw);
	assert_non_null(strstr(r.raw, "this asks for 3 more"));
	http_resp_free(&r);
	assert_int_equal(sql_int(f->sql, "SELECT count(*) FROM jobs", 0, NULL), before);
	/* One that fits is not. */
	assert_true(
		http_call(&f->d, "POST", scale, "{\"role\": \"data\", \"replicas\": 3}", NULL, &r));
	assert_int_equal(r.status, 202);
	http_resp_free(&r);
	free(scale);
	t = admin(f, "GET", "/api/v1/tenants/gamma/usage", NULL, 200);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(t, "usage"), "nodes")),
			 9);
	json_decref(t);
	/* The change of quota is in the audit trail, with its actor. */
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM audit_log WHERE action = 'quota.set'"
				 " AND actor LIKE 'token:%' AND tenant_id = 'gamma'",
				 0, NULL),
			 1);
}

/*
 * A member reads the credentials of its cluster's Elasticsearch (the
 * elastic user's password and the CA, never a key), and each read is in
 * the audit log with who made it; a viewer, or a member of another tenant,
 * is refused and nothing is recorded.  A cluster without security says so;
 * a job's JSON never shows what its create made.
 */
static void test_credentials_for_members_audited_never_for_viewers(void **state)
{
	struct fixture *f = *state = fixture_new(NULL);
	struct http_resp r;
	static const char security[] =
		"{\"ca_crt\": \"CA PEM\", \"ca_key\": \"CA KEY\", \"tls_crt\": \"NODE PEM\","
		" \"tls_key\": \"NODE KEY\", \"elastic\": \"elastic-pw-123\","
		" \"kibana_system\": \"kibana-pw\"}";
	const char *p[] = {security};
	const char *path = "/api/v1/clusters/secure/credentials";

	json_decref(admin(f, "PUT", "/api/v1/tenants/delta", NULL, 201));
	json_decref(admin(f, "PUT", "/api/v1/tenants/omega", NULL, 201));
	json_t *j =
		admin(f, "POST", "/api/v1/clusters?tenant=delta", "{\"name\": \"secure\"}", 202);
	char *job = xasprintf("/api/v1/jobs/%lld",
			      (long long)json_integer_value(json_object_get(j, "id")));
	json_decref(j);
	json_decref(
		admin(f, "POST", "/api/v1/clusters?tenant=delta", "{\"name\": \"plain\"}", 202));
	PGresult *res = PQexecParams(f->sql,
				     "UPDATE clusters SET es_security = $1::jsonb WHERE tenant_id ="
				     " 'delta' AND name = 'secure'",
				     1, NULL, p, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	res = PQexecParams(f->sql,
			   "UPDATE jobs SET context = context || jsonb_build_object('es_security',"
			   " $1::jsonb) WHERE tenant_id = 'delta' AND cluster = 'secure'",
			   1, NULL, p, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	char *viewer = token_new(f, "delta", "viewer", NULL);
	char *member = token_new(f, "delta", "member", NULL);
	char *stranger = token_new(f, "omega", "member", NULL);
	const char *count_sql = "SELECT count(*) FROM audit_log WHERE action ="
				" 'cluster.credentials.read'";

	assert_int_equal(status_as(f, viewer, "GET", path, NULL), 403);
	/* Another tenant's member reads in its own tenant, where there is no
	 * such cluster. */
	assert_int_equal(status_as(f, stranger, "GET",
				   "/api/v1/clusters/secure/credentials?tenant=delta", NULL),
			 404);
	assert_int_equal(sql_int(f->sql, count_sql, 0, NULL), 0);

	assert_int_equal(call_as(f, member, "GET", path, NULL, &r), 200);
	assert_string_equal(json_string_value(json_object_get(r.body, "username")), "elastic");
	assert_string_equal(json_string_value(json_object_get(r.body, "password")),
			    "elastic-pw-123");
	assert_string_equal(json_string_value(json_object_get(r.body, "ca_crt")), "CA PEM");
	assert_null(strstr(r.raw, "KEY"));
	assert_null(strstr(r.raw, "kibana-pw"));
	http_resp_free(&r);
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM audit_log WHERE action ="
				 " 'cluster.credentials.read' AND actor LIKE 'token:%'"
				 " AND tenant_id = 'delta' AND detail->>'cluster' = 'secure'",
				 0, NULL),
			 1);

	/* Without security: said, and not recorded. */
	assert_int_equal(call_as(f, member, "GET", "/api/v1/clusters/plain/credentials", NULL, &r),
			 409);
	assert_non_null(strstr(r.raw, "has no Elasticsearch security"));
	http_resp_free(&r);
	assert_int_equal(status_as(f, member, "GET", "/api/v1/clusters/none/credentials", NULL),
			 404);
	assert_int_equal(sql_int(f->sql, count_sql, 0, NULL), 1);

	/* The create's job shows its context, without the security it made. */
	assert_int_equal(call_as(f, member, "GET", job, NULL, &r), 200);
	assert_non_null(json_object_get(r.body, "context"));
	assert_null(strstr(r.raw, "elastic-pw-123"));
	assert_null(strstr(r.raw, "es_security"));
	http_resp_free(&r);
	free(job);
	free(viewer);
	free(member);
	free(stranger);
}

/* The quota's SQL reads quantities as kube/spec.c does, and counts Kibana. */
static void test_usage_sql_agrees_with_spec(void **state)
{
	struct fixture *f = *state = fixture_new(NULL);
	static const char *const quantities[] = {
		"1",   "500m",	"0.5",	 "2.25",  "100m", "1e3", "1k", "1M",	"1G",
		"2Gi", "512Mi", "1.5Gi", "100Gi", "3Ti",  "7Ki", "1E", "12e-1", "999999999",
	};

	for (size_t i = 0; i < ARRAY_SIZE(quantities); i++) {
		const char *p[] = {quantities[i]};
		int64_t cpu, bytes;

		if (spec_parse_cpu(quantities[i], &cpu))
			assert_int_equal(sql_int(f->sql,
						 "SELECT ceil(esaas_quantity($1) * 1000)::bigint",
						 1, p),
					 cpu);
		if (spec_parse_bytes(quantities[i], &bytes) && bytes < (1LL << 62))
			assert_int_equal(
				sql_int(f->sql, "SELECT ceil(esaas_quantity($1))::bigint", 1, p),
				bytes);
	}
	/* 3 masters of 1 CPU and 2Gi, 4 data of 2 CPU, 8Gi and 100Gi, no client,
	 * and 2 Kibana (1 CPU, 1Gi each, not nodes). */
	const char *spec[] = {
		"{\"masters\": {\"replicas\": 3, \"cpu\": \"1\", \"memory\": \"2Gi\"},"
		" \"data\": {\"replicas\": 4, \"cpu\": \"2\", \"memory\": \"8Gi\", \"disk\": "
		"\"100Gi\"},"
		" \"clients\": {\"replicas\": 0, \"cpu\": \"1\", \"memory\": \"2Gi\"},"
		" \"kibana\": {\"replicas\": 2}}"};
	assert_int_equal(
		sql_int(f->sql, "SELECT (esaas_spec_usage($1::jsonb)->>'nodes')::bigint", 1, spec),
		7);
	assert_int_equal(sql_int(f->sql,
				 "SELECT (esaas_spec_usage($1::jsonb)->>'cpu_millis')::bigint", 1,
				 spec),
			 3000 + 8000 + 2000);
	assert_int_equal(
		sql_int(f->sql,
			"SELECT (esaas_spec_usage($1::jsonb)->>'memory_bytes')::bigint >> 30", 1,
			spec),
		6 + 32 + 2);
	assert_int_equal(
		sql_int(f->sql, "SELECT (esaas_spec_usage($1::jsonb)->>'disk_bytes')::bigint >> 30",
			1, spec),
		400);
	/* A scale's target: its spec with the replicas it asks for. */
	const char *scale[] = {
		"{\"role\": \"data\", \"replicas\": 9, \"spec\": {\"data\": {\"replicas\": 2}}}"};
	assert_int_equal(sql_int(f->sql,
				 "SELECT (esaas_job_spec($1::jsonb)->'data'->>'replicas')::int", 1,
				 scale),
			 9);
}

/* --- tokens --------------------------------------------------------------------------------------- */

static void test_revoked_token_and_no_secret_in_logs(void **state)
{
	struct fixture *f = *state = fixture_new(NULL);
	char id[TOKEN_ID_LEN + 1];
	struct http_resp r;

	json_decref(admin(f, "PUT", "/api/v1/tenants/delta", NULL, 201));
	char *member = token_new(f, "delta", "member", id);
	assert_int_equal(call_as(f, member, "GET", "/api/v1/whoami", NULL, &r), 200);
	assert_string_equal(json_string_value(json_object_get(r.body, "tenant")), "delta");
	assert_string_equal(json_string_value(json_object_get(r.body, "role")), "member");
	char *actor = xasprintf("token:%s", id);
	assert_string_equal(json_string_value(json_object_get(r.body, "actor")), actor);
	free(actor);
	http_resp_free(&r);

	/* The list never shows a secret. */
	json_t *list = admin(f, "GET", "/api/v1/tokens?tenant=delta", NULL, 200);
	char *text = json_dumps(list, 0);
	assert_null(strstr(text, member + 19));
	assert_int_equal(json_array_size(json_object_get(list, "tokens")), 1);
	free(text);
	json_decref(list);

	char *path = xasprintf("/api/v1/tokens/%s", id);
	json_t *t = admin(f, "DELETE", path, NULL, 200);
	assert_non_null(json_string_value(json_object_get(t, "revoked_at")));
	json_decref(t);
	/* At once: the very next request. */
	assert_int_equal(call_as(f, member, "GET", "/api/v1/whoami", NULL, &r), 401);
	assert_non_null(strstr(r.raw, "revoked"));
	assert_null(strstr(r.raw, member + 19));
	http_resp_free(&r);
	json_decref(admin(f, "DELETE", path, NULL, 200));
	free(path);

	/* Credentials that are not: a made-up one, a known id with a wrong
	 * secret, another scheme, an empty one; each 401 with WWW-Authenticate. */
	char forged[128];
	snprintf(forged, sizeof(forged), "esaas_%s_%s", id,
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	const char *bad[] = {"esaas_000000000000_AAAA", forged, "not-a-token"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		remember_secret(bad[i]);
		assert_int_equal(call_as(f, bad[i], "GET", "/api/v1/clusters", NULL, &r), 401);
		assert_non_null(strstr(r.raw, "\"unauthorized\""));
		http_resp_free(&r);
	}
	const char *basic[] = {"Authorization: Basic dXNlcjpwYXNz", NULL};
	assert_true(http_call(&f->d, "GET", "/api/v1/clusters", NULL, basic, &r));
	assert_int_equal(r.status, 401);
	http_resp_free(&r);

	/* Bootstrap again: a second admin, the first still valid. */
	assert_int_equal(status_as(f, harness_token(&f->d), "GET", "/api/v1/whoami", NULL), 200);

	/* No secret anywhere it could leak: the logs of every esaasd this
	 * program ran (they are all in pg.dir), PostgreSQL's log, the
	 * events and the audit trail. */
	esaasd_stop(&f->d, SIGTERM, true);
	char *all = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&all, &len);
	char cmd[600];
	snprintf(cmd, sizeof(cmd),
		 "find '%s' -path '%s/data' -prune -o -type f -name '*.log' -print", pg.dir,
		 pg.dir);
	FILE *names = popen(cmd, "r");
	char name[800], buf[4096];
	int files = 0;
	assert_non_null(names);
	while (fgets(name, sizeof(name), names)) {
		name[strcspn(name, "\n")] = '\0';
		FILE *log = fopen(name, "r");
		size_t n;

		if (!log)
			continue;
		files++;
		while ((n = fread(buf, 1, sizeof(buf), log)) > 0)
			fwrite(buf, 1, n, mem);
		fclose(log);
	}
	pclose(names);
	fclose(mem);
	/* At least this test's esaasd and one other, and PostgreSQL's. */
	assert_true(files >= 3);
	assert_true(len > 0);
	assert_non_null(strstr(all, "credential refused"));
	for (size_t i = 0; i < nsecrets; i++) {
		/* Of an esaas token, the part after the id (the id is public). */
		const char *secret =
			strncmp(secrets[i], "esaas_", 6) == 0 && strlen(secrets[i]) > 19
				? secrets[i] + 19
				: secrets[i];

		if (strlen(secret) >= 8 && strstr(all, secret))
			fail_msg("a token's secret is in a log under %s", pg.dir);
		const char *p[] = {secret};
		assert_int_equal(sql_int(f->sql,
					 "SELECT (SELECT count(*) FROM job_events WHERE "
					 "strpos(detail::text, $1) > 0"
					 " OR strpos(actor, $1) > 0)"
					 " + (SELECT count(*) FROM audit_log WHERE "
					 "strpos(detail::text, $1) > 0"
					 " OR strpos(actor, $1) > 0)",
					 1, p),
				 0);
	}
	free(all);
	free(member);
}

/* --- OpenID Connect --------------------------------------------------------------------------------- */

#define ISS "https://idp.example.com/"
#define AUD "esaas"

static void serve_jwks(struct fixture *f, const struct test_key *a, const struct test_key *b)
{
	json_t *keys = json_array();
	char path[400], tmp[420];

	json_array_append_new(keys, test_key_jwk(a, NULL));
	if (b)
		json_array_append_new(keys, test_key_jwk(b, NULL));
	json_t *doc = json_pack("{s:o}", "keys", keys);
	snprintf(path, sizeof(path), "%s/files/jwks.json", f->jwks.dir);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	assert_int_equal(json_dump_file(doc, tmp, 0), 0);
	assert_int_equal(rename(tmp, path), 0);
	json_decref(doc);
}

/* The groups of the next tokens: "admin" is a group's name, which oidc.role_map does not map. */
static const char *jwt_groups = "[\"search-readers\", \"search-team\", \"admin\"]";

static char *jwt(const struct test_key *k, const char *alg, const char *iss, const char *aud,
		 long long exp_offset, const char *sub)
{
	char header[200], claims[600];
	long long now = (long long)time(NULL);

	snprintf(header, sizeof(header), "{\"alg\": \"%s\", \"typ\": \"JWT\", \"kid\": \"%s\"}",
		 alg, k ? k->kid : "none");
	snprintf(claims, sizeof(claims),
		 "{\"iss\": \"%s\", \"aud\": \"%s\", \"sub\": \"%s\", \"iat\": %lld, \"nbf\": %lld,"
		 " \"exp\": %lld, \"esaas\": {\"tenant\": \"search\"}, \"groups_role\": %s}",
		 iss, aud, sub, now - 10, now - 10, now + exp_offset, jwt_groups);
	char *t = test_jwt_sign(header, claims, strcmp(alg, "none") == 0 ? NULL : k);

	remember_secret(t);
	return t;
}

static void test_openid_connect(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct test_key rsa1 = {0}, rsa2 = {0}, ec1 = {0};
	struct http_resp r;

	*state = f;
	assert_true(test_keys_dir(f->keydir, sizeof(f->keydir)));
	assert_true(test_key_generate(&rsa1, f->keydir, "rsa-1", false, 2048));
	assert_true(test_key_generate(&rsa2, f->keydir, "rsa-2", false, 2048));
	assert_true(test_key_generate(&ec1, f->keydir, "ec-1", true, 0));
	assert_true(repo_start(&f->jwks, pg.dir, NULL));
	serve_jwks(f, &rsa1, &ec1);

	char *yaml = xasprintf("oidc:\n  issuer: \"%s\"\n  audience: \"%s\"\n"
			       "  jwks_url: \"%s/jwks.json\"\n  tenant_claim: esaas.tenant\n"
			       "  role_claim: groups_role\n  leeway_seconds: 5\n"
			       "  refresh_min_seconds: 1\n  allow_insecure_jwks: true\n"
			       "  role_map: \"search-readers=viewer, search-team=member, "
			       "search-admins=admin\"\n"
			       /* The rotation below is awaited by asking again and again. */
			       "auth:\n  failures_max: 1000000\n",
			       ISS, AUD, f->jwks.url);
	struct esaasd_opts o = {.extra_yaml = yaml};
	assert_non_null(pg_new_database(&pg, f->dburl, sizeof(f->dburl)));
	assert_true(esaasd_start(&f->d, pg.dir, f->dburl, &o));
	free(yaml);
	f->sql = sql_connect(f->dburl);
	json_decref(admin(f, "PUT", "/api/v1/tenants/search", NULL, 201));

	/* Valid, RS256 and ES256: the claims give tenant and role (the highest
	 * of an array), the subject is the actor. */
	char *ok_rs = jwt(&rsa1, "RS256", ISS, AUD, 300, "alice@example.com");
	assert_int_equal(call_as(f, ok_rs, "GET", "/api/v1/whoami", NULL, &r), 200);
	assert_string_equal(json_string_value(json_object_get(r.body, "tenant")), "search");
	assert_string_equal(json_string_value(json_object_get(r.body, "role")), "member");
	assert_string_equal(json_string_value(json_object_get(r.body, "actor")),
			    "oidc:alice@example.com");
	http_resp_free(&r);
	char *ok_es = jwt(&ec1, "ES256", ISS, AUD, 300, "bob@example.com");
	assert_int_equal(call_as(f, ok_es, "GET", "/api/v1/clusters", NULL, &r), 200);
	http_resp_free(&r);
	/* A member of search may submit there, and the job says who. */
	assert_int_equal(call_as(f, ok_es, "POST", "/api/v1/jobs",
				 "{\"kind\": \"test\", \"cluster\": \"idx\", \"params\": {}}", &r),
			 202);
	assert_string_equal(json_string_value(json_object_get(r.body, "submitted_by")),
			    "oidc:bob@example.com");
	http_resp_free(&r);

	/*
	 * IdP groups count through oidc.role_map only: the group called
	 * "admin" above gave nothing, and search-admins, mapped to admin, is
	 * refused, since search is not one of the platform's tenants.
	 */
	jwt_groups = "[\"search-admins\"]";
	char *tenant_admin = jwt(&rsa1, "RS256", ISS, AUD, 300, "dave@example.com");
	assert_int_equal(call_as(f, tenant_admin, "GET", "/api/v1/tenants", NULL, &r), 403);
	assert_non_null(strstr(r.raw, "not a platform tenant"));
	http_resp_free(&r);
	jwt_groups = "[\"admin\", \"oncall\"]";
	char *named_admin = jwt(&rsa1, "RS256", ISS, AUD, 300, "eve@example.com");
	assert_int_equal(call_as(f, named_admin, "GET", "/api/v1/whoami", NULL, &r), 401);
	assert_non_null(strstr(r.raw, "oidc.role_map"));
	http_resp_free(&r);
	/* A single string counts through the map too: a group it maps gives its
	 * role, and a role's own name, which it does not map, gives nothing. */
	jwt_groups = "\"search-team\"";
	char *one_group = jwt(&rsa1, "RS256", ISS, AUD, 300, "frank@example.com");
	assert_int_equal(call_as(f, one_group, "GET", "/api/v1/whoami", NULL, &r), 200);
	assert_string_equal(json_string_value(json_object_get(r.body, "role")), "member");
	http_resp_free(&r);
	jwt_groups = "\"viewer\"";
	char *role_name = jwt(&rsa1, "RS256", ISS, AUD, 300, "grace@example.com");
	assert_int_equal(call_as(f, role_name, "GET", "/api/v1/whoami", NULL, &r), 401);
	assert_non_null(strstr(r.raw, "oidc.role_map"));
	http_resp_free(&r);
	jwt_groups = "[\"search-readers\", \"search-team\", \"admin\"]";
	free(tenant_admin);
	free(named_admin);
	free(one_group);
	free(role_name);

	/* Refused, each with 401 and WWW-Authenticate. */
	char *bad[] = {
		jwt(&rsa1, "RS256", ISS, AUD, -3600, "expired"),
		jwt(&rsa1, "RS256", ISS, "someone-else", 300, "wrong-audience"),
		jwt(&rsa1, "RS256", "https://evil.example.com/", AUD, 300, "wrong-issuer"),
		jwt(&rsa1, "none", ISS, AUD, 300, "alg-none"),
		jwt(&rsa2, "RS256", ISS, AUD, 300, "unknown-kid"),
		NULL,
	};
	/* Bad signature: rsa1's kid, signed by rsa2. */
	struct test_key impostor = rsa2;
	snprintf(impostor.kid, sizeof(impostor.kid), "%s", rsa1.kid);
	bad[5] = jwt(&impostor, "RS256", ISS, AUD, 300, "bad-signature");
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(call_as(f, bad[i], "GET", "/api/v1/whoami", NULL, &r), 401);
		assert_non_null(strstr(r.raw, "\"unauthorized\""));
		http_resp_free(&r);
	}

	/* The provider rotates: rsa-2 appears in the JWKS.  A token of the
	 * kid it did not know makes esaasd fetch the keys again, once
	 * refresh_min_seconds (1) has passed since the fetch that the unknown
	 * kid above caused; until then it is refused without a fetch. */
	serve_jwks(f, &rsa2, &ec1);
	char *rotated = jwt(&rsa2, "RS256", ISS, AUD, 300, "carol@example.com");
	int64_t deadline = harness_now_ms() + 10000;
	while (call_as(f, rotated, "GET", "/api/v1/whoami", NULL, &r) == 401 &&
	       harness_now_ms() < deadline)
		http_resp_free(&r);
	if (r.status != 200)
		fail_msg("after the rotation: %ld %s", r.status, r.raw);
	assert_string_equal(json_string_value(json_object_get(r.body, "actor")),
			    "oidc:carol@example.com");
	http_resp_free(&r);

	free(ok_rs);
	free(ok_es);
	free(rotated);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		free(bad[i]);
	test_key_free(&rsa1);
	test_key_free(&rsa2);
	test_key_free(&ec1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_matrix, teardown),
		cmocka_unit_test_teardown(test_credentials_for_members_audited_never_for_viewers,
					  teardown),
		cmocka_unit_test_teardown(test_quota_race, teardown),
		cmocka_unit_test_teardown(test_usage_sql_agrees_with_spec, teardown),
		cmocka_unit_test_teardown(test_openid_connect, teardown),
		/* Last: it reads every secret the others made. */
		cmocka_unit_test_teardown(test_revoked_token_and_no_secret_in_logs, teardown),
	};
	return cmocka_run_group_tests_name("auth", tests, group_setup, group_teardown);
}
