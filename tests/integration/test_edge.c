/*
 * esaasd's edge against strangers, end to end: refused credentials
 * answered 429 per client address, the platform's roles kept to the
 * platform's tenants, the API's bounded queue for the database, and a
 * flood of bogus credentials and /readyz that leaves a running job and its
 * lease alone.  The strangers come from other loopback addresses
 * (127.0.0.2 and up), so that the harness's own calls from 127.0.0.1 are
 * not counted with theirs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "common/util.h"
#include "tests/integration/harness.h"

static struct pg pg;

struct fixture {
	struct esaasd d;
	char dburl[600];
	PGconn *sql;
};

static int group_setup(void **state)
{
	return pg_start(&pg) ? 0 : -1;
}

static int group_teardown(void **state)
{
	pg_finish(&pg);
	return 0;
}

static struct fixture *fixture_new(const struct esaasd_opts *o)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	assert_non_null(pg_new_database(&pg, f->dburl, sizeof(f->dburl)));
	assert_true(esaasd_start(&f->d, pg.dir, f->dburl, o));
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

	if (f->sql)
		PQfinish(f->sql);
	free(f);
	return rc;
}

/* Does d's log hold needle? */
static bool log_contains(const struct esaasd *d, const char *needle)
{
	FILE *fp = fopen(d->log, "r");
	char line[4096];
	bool found = false;

	assert_non_null(fp);
	while (!found && fgets(line, sizeof(line), fp))
		found = strstr(line, needle) != NULL;
	fclose(fp);
	return found;
}

/* --- refused credentials ---------------------------------------------------------- */

static void test_refused_credentials_answered_429(void **state)
{
	struct esaasd_opts o = {
		.extra_yaml = "auth:\n  failures_max: 5\n  failures_window_seconds: 60\n"};
	struct fixture *f = *state = fixture_new(&o);
	char answer[8192];
	struct http_resp r;

	for (int i = 0; i < 5; i++)
		assert_int_equal(raw_call(&f->d, 2, "/api/v1/whoami", BOGUS_TOKEN, NULL, 0), 401);
	/* The sixth: 429 with Retry-After, before the token is looked up. */
	assert_int_equal(raw_call(&f->d, 2, "/api/v1/whoami", BOGUS_TOKEN, answer, sizeof(answer)),
			 429);
	const char *retry = strcasestr(answer, "\r\nRetry-After: ");

	assert_non_null(retry);
	long secs = strtol(retry + 15, NULL, 10);

	assert_true(secs >= 1 && secs <= 60);
	assert_non_null(strstr(answer, "\"too_many_requests\""));
	/* Whatever the address presents from now on, until the window ends. */
	assert_int_equal(raw_call(&f->d, 2, "/api/v1/whoami", harness_token(&f->d), NULL, 0), 429);
	/* No credential costs nothing and is answered as ever. */
	assert_int_equal(raw_call(&f->d, 2, "/api/v1/whoami", NULL, NULL, 0), 401);
	/* Another address is not concerned. */
	assert_int_equal(raw_call(&f->d, 3, "/api/v1/whoami", harness_token(&f->d), NULL, 0), 200);
	assert_true(http_call(&f->d, "GET", "/api/v1/whoami", NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
}

/* --- platform roles ------------------------------------------------------------------ */

/* esaasd --bootstrap-admin TENANT on d's configuration: the token it prints. */
static char *bootstrap_admin(const struct esaasd *d, const char *tenant)
{
	char cmd[1200], line[256] = "";

	snprintf(cmd, sizeof(cmd), "'%s/esaasd-test' -c '%s' --bootstrap-admin %s 2>/dev/null",
		 harness_builddir(), d->config, tenant);
	FILE *p = popen(cmd, "r");

	assert_non_null(p);
	if (!fgets(line, sizeof(line), p))
		line[0] = '\0';
	assert_int_equal(pclose(p), 0);
	line[strcspn(line, "\n")] = '\0';
	assert_true(strncmp(line, "esaas_", 6) == 0);
	return xstrdup(line);
}

static void test_platform_roles_only_for_platform_tenants(void **state)
{
	struct fixture *f = *state = fixture_new(NULL);
	struct http_resp r;

	assert_true(http_call(&f->d, "PUT", "/api/v1/tenants/acme", "{}", NULL, &r));
	assert_int_equal(r.status, 201);
	http_resp_free(&r);
	/* No admin or oncall token is made for acme. */
	const char *roles[] = {"admin", "oncall"};

	for (size_t i = 0; i < ARRAY_SIZE(roles); i++) {
		char *body = xasprintf("{\"tenant\": \"acme\", \"role\": \"%s\"}", roles[i]);

		assert_true(http_call(&f->d, "POST", "/api/v1/tokens", body, NULL, &r));
		assert_int_equal(r.status, 422);
		assert_string_equal(json_string_value(json_object_get(
					    json_object_get(r.body, "error"), "field")),
				    "role");
		http_resp_free(&r);
		free(body);
	}
	assert_true(http_call(&f->d, "POST", "/api/v1/tokens",
			      "{\"tenant\": \"acme\", \"role\": \"member\"}", NULL, &r));
	assert_int_equal(r.status, 201);
	http_resp_free(&r);

	/* One made otherwise (here by --bootstrap-admin, as one made before
	 * this rule would be) is refused at every request. */
	char *acme_admin = bootstrap_admin(&f->d, "acme");
	char auth[200];
	const char *headers[] = {auth, NULL};

	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", acme_admin);
	assert_true(http_call(&f->d, "GET", "/api/v1/tenants", NULL, headers, &r));
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(r.raw, "not a platform tenant"));
	http_resp_free(&r);
	assert_true(http_call(&f->d, "GET", "/api/v1/clusters?tenant=default", NULL, headers, &r));
	assert_int_equal(r.status, 403);
	http_resp_free(&r);
	free(acme_admin);

	/* The platform's tenant keeps its admin. */
	assert_true(http_call(&f->d, "GET", "/api/v1/tenants", NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
}

/* --- the API's queue for the database ------------------------------------------------- */

static void test_api_database_queue_bounded(void **state)
{
	struct esaasd_opts o = {.extra_yaml = "http:\n  db_queue_limit: 2\n"};
	struct fixture *f = *state = fixture_new(&o);
	enum {
		N = 12
	};
	struct raw raws[N];
	int busy = 0, answered = 0;
	PGresult *res;

	/* Token lookups wait on the lock: the API's two connections hold two,
	 * its queue two more, and the others are shed at once. */
	res = PQexec(f->sql, "BEGIN; LOCK TABLE api_tokens IN ACCESS EXCLUSIVE MODE");
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	for (int i = 0; i < N; i++)
		assert_true(raw_start(&raws[i], &f->d, 10 + i, "/api/v1/whoami", BOGUS_TOKEN));
	int64_t deadline = harness_now_ms() + 10000;

	while (busy < N - 4 && harness_now_ms() < deadline) {
		struct pollfd p[N];

		for (int i = 0; i < N; i++)
			p[i] = (struct pollfd){.fd = raws[i].done ? -1 : raws[i].fd,
					       .events = raw_events(&raws[i])};
		if (poll(p, N, 100) <= 0)
			continue;
		for (int i = 0; i < N; i++) {
			if (p[i].fd < 0 || !p[i].revents || !raw_step(&raws[i], p[i].revents))
				continue;
			assert_int_equal(raw_status(&raws[i]), 503);
			assert_non_null(strcasestr(raws[i].in, "\r\nRetry-After: 1\r\n"));
			assert_non_null(strstr(raws[i].in, "queue is full"));
			busy++;
		}
	}
	assert_int_equal(busy, N - 4);

	/* The lock goes: the four that waited are answered, as strangers. */
	res = PQexec(f->sql, "COMMIT");
	PQclear(res);
	deadline = harness_now_ms() + 10000;
	while (answered < 4 && harness_now_ms() < deadline) {
		struct pollfd p[N];

		for (int i = 0; i < N; i++)
			p[i] = (struct pollfd){.fd = raws[i].done ? -1 : raws[i].fd,
					       .events = raw_events(&raws[i])};
		if (poll(p, N, 100) <= 0)
			continue;
		for (int i = 0; i < N; i++) {
			if (p[i].fd < 0 || !p[i].revents || !raw_step(&raws[i], p[i].revents))
				continue;
			assert_int_equal(raw_status(&raws[i]), 401);
			answered++;
		}
	}
	assert_int_equal(answered, 4);
	for (int i = 0; i < N; i++)
		raw_close(&raws[i]);
	/* /readyz while nothing waits: ready. */
	assert_int_equal(raw_call(&f->d, 2, "/readyz", NULL, NULL, 0), 200);
}

/* --- a flood while a job runs -------------------------------------------------------- */

static void test_flood_leaves_jobs_and_leases(void **state)
{
	/* A short lease, so that a heartbeat stuck behind the flood would lose it. */
	struct esaasd_opts o = {.lease_s = 3, .heartbeat_s = 1};
	struct fixture *f = *state = fixture_new(&o);
	struct flood_counts c;
	struct flood *fl;

	/* Forty waits of 200 ms: a transition every 200 ms, heartbeats each second. */
	char plan[1024];
	size_t at = (size_t)snprintf(plan, sizeof(plan), "{\"plan\": {\"work\": [");

	for (int i = 0; i < 40; i++)
		at += (size_t)snprintf(plan + at, sizeof(plan) - at, "\"poll:200\", ");
	snprintf(plan + at, sizeof(plan) - at, "\"next\"]}}");
	int64_t id = submit_job(&f->d, "test", "logs", plan);

	assert_true(id > 0);
	fl = flood_start(&f->d, 10000, 400);
	assert_non_null(fl);
	json_t *job = wait_job_done(&f->d, id, 60000);

	assert_true(flood_finish(fl, &c));
	print_message("flood: %ld sent; %ld ready, %ld refused, %ld rate-limited, %ld shed, %ld "
		      "other\n",
		      c.sent, c.ok, c.unauthorized, c.limited, c.busy, c.other);
	assert_true(c.sent >= 2000);
	assert_true(c.limited > 0);
	assert_int_equal(c.other, 0);

	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "succeeded");
	json_decref(job);
	/* No lease lost, no state abandoned for another worker to run. */
	assert_false(log_contains(&f->d, "abandoning the state"));
	assert_false(log_contains(&f->d, "lease lost"));
	assert_true(log_contains(&f->d, "refused credentials in"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_refused_credentials_answered_429, teardown),
		cmocka_unit_test_teardown(test_platform_roles_only_for_platform_tenants, teardown),
		cmocka_unit_test_teardown(test_api_database_queue_bounded, teardown),
		cmocka_unit_test_teardown(test_flood_leaves_jobs_and_leases, teardown),
	};
	return cmocka_run_group_tests_name("edge", tests, group_setup, group_teardown);
}
