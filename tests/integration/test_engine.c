/*
 * The engine end to end: real PostgreSQL, real esaasd-test processes, driven
 * over HTTP, checked through the API and the job_events history.
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
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "common/util.h"
#include "tests/integration/harness.h"

static struct pg pg;

struct fixture {
	char dburl[600];
	struct esaasd d;
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
	/* A clean exit on SIGTERM also proves the sanitizers saw nothing. */
	int rc = f->d.pid > 0 ? esaasd_stop(&f->d, SIGTERM, true) : 0;
	if (rc != 0)
		fprintf(stderr, "esaasd exited with %d on SIGTERM; see %s\n", rc, f->d.log);
	PQfinish(f->sql);
	free(f);
	return rc == 0 ? 0 : -1;
}

/* "outcome:from>to" for each event, joined with spaces. */
static char *event_trail(const struct esaasd *d, int64_t id)
{
	char path[64];
	snprintf(path, sizeof(path), "/api/v1/jobs/%lld/events", (long long)id);
	struct http_resp r;
	assert_true(http_call(d, "GET", path, NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	json_t *events = json_object_get(r.body, "events");
	assert_true(json_is_array(events));
	size_t cap = 64, len = 0;
	char *s = xcalloc(1, cap);
	size_t i;
	json_t *ev;
	json_array_foreach (events, i, ev) {
		const char *from = json_string_value(json_object_get(ev, "from_state"));
		const char *to = json_string_value(json_object_get(ev, "to_state"));
		char *item = xasprintf("%s%s:%s>%s", len ? " " : "",
				       json_string_value(json_object_get(ev, "outcome")),
				       from ? from : "-", to ? to : "-");
		size_t il = strlen(item);
		while (len + il + 1 > cap)
			s = xrealloc(s, cap *= 2);
		memcpy(s + len, item, il + 1);
		len += il;
		free(item);
	}
	http_resp_free(&r);
	return s;
}

/* Print the rows of a query that should be empty, to explain a failure. */
static void dump_rows(PGconn *c, const char *sql)
{
	PGresult *r = PQexecParams(c, sql, 0, NULL, NULL, NULL, NULL, 0);
	for (int i = 0; i < PQntuples(r); i++) {
		for (int k = 0; k < PQnfields(r); k++)
			fprintf(stderr, "%s%s", k ? " | " : "  ", PQgetvalue(r, i, k));
		fprintf(stderr, "\n");
	}
	PQclear(r);
}

static const char *jstr(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "(null)";
}

static void test_job_runs_every_state_in_order(void **state)
{
	struct fixture *f = *state = fixture_new(NULL);
	int64_t id = submit_job(&f->d, "test", "logs", NULL);
	assert_true(id > 0);
	json_t *job = wait_job_done(&f->d, id, 20000);
	assert_non_null(job);
	assert_string_equal(jstr(job, "status"), "succeeded");
	assert_string_equal(jstr(job, "state"), "verify");
	json_t *trace = json_object_get(json_object_get(job, "context"), "trace");
	assert_int_equal(json_array_size(trace), 3);
	json_decref(job);
	char *trail = event_trail(&f->d, id);
	assert_string_equal(trail, "submitted:->prepare next:prepare>work next:work>verify "
				   "succeeded:verify>verify");
	free(trail);
}

static void test_transient_failures_are_retried(void **state)
{
	struct fixture *f = *state = fixture_new(NULL);
	int64_t id = submit_job(&f->d, "test", "logs",
				"{\"plan\": {\"work\": [\"retry\", \"retry\", \"next\"]}}");
	json_t *job = wait_job_done(&f->d, id, 20000);
	assert_non_null(job);
	assert_string_equal(jstr(job, "status"), "succeeded");
	json_decref(job);
	char *trail = event_trail(&f->d, id);
	assert_string_equal(trail, "submitted:->prepare next:prepare>work retry:work>work "
				   "retry:work>work next:work>verify succeeded:verify>verify");
	free(trail);
	/* The attempts are numbered and each retry says why. */
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	const char *q[] = {ids};
	assert_int_equal(
		sql_int(f->sql,
			"SELECT count(*) FROM job_events WHERE job_id = $1 AND outcome = 'retry'"
			" AND detail LIKE 'work: simulated transient error%'",
			1, q),
		2);
	assert_int_equal(
		sql_int(f->sql,
			"SELECT attempt FROM job_events WHERE job_id = $1 AND outcome = 'next'"
			" AND from_state = 'work'",
			1, q),
		3);
}

static void test_attempts_exhausted_fails_and_cleans_up(void **state)
{
	struct fixture *f = *state = fixture_new(NULL);
	int64_t id = submit_job(&f->d, "test", "logs", "{\"plan\": {\"work\": [\"retry\"]}}");
	json_t *job = wait_job_done(&f->d, id, 20000);
	assert_non_null(job);
	assert_string_equal(jstr(job, "status"), "failed");
	assert_string_equal(jstr(job, "failed_state"), "work");
	assert_non_null(strstr(jstr(job, "error"), "gave up after 3 attempts"));
	assert_true(json_is_true(json_object_get(json_object_get(job, "context"), "cleaned")));
	json_decref(job);
	char *trail = event_trail(&f->d, id);
	assert_string_equal(trail, "submitted:->prepare next:prepare>work retry:work>work "
				   "retry:work>work fail:work>undo failed:undo>undo");
	free(trail);
}

static void test_permanent_failure(void **state)
{
	struct fixture *f = *state = fixture_new(NULL);
	int64_t id = submit_job(&f->d, "test", "logs", "{\"plan\": {\"prepare\": [\"fail\"]}}");
	json_t *job = wait_job_done(&f->d, id, 20000);
	assert_non_null(job);
	assert_string_equal(jstr(job, "status"), "failed");
	assert_string_equal(jstr(job, "failed_state"), "prepare");
	assert_string_equal(jstr(job, "error"), "prepare: simulated permanent error");
	json_decref(job);
}

static void test_deadline_fails_with_last_observation(void **state)
{
	struct fixture *f = *state = fixture_new(NULL);
	int64_t id = submit_job(&f->d, "test_deadline", "logs",
				"{\"plan\": {\"slow\": [\"wait:200\"]}}");
	json_t *job = wait_job_done(&f->d, id, 20000);
	assert_non_null(job);
	assert_string_equal(jstr(job, "status"), "failed");
	const char *err = jstr(job, "error");
	assert_non_null(strstr(err, "deadline of 2s"));
	assert_non_null(strstr(err, "last observation: slow: waiting"));
	json_decref(job);
}

static void test_deadline_aborts_a_hung_handler(void **state)
{
	struct fixture *f = *state = fixture_new(NULL);
	int64_t id =
		submit_job(&f->d, "test_deadline", "logs", "{\"plan\": {\"slow\": [\"hang\"]}}");
	int64_t t0 = harness_now_ms();
	json_t *job = wait_job_done(&f->d, id, 20000);
	assert_non_null(job);
	assert_string_equal(jstr(job, "status"), "failed");
	assert_non_null(strstr(jstr(job, "error"), "did not finish within its deadline of 2s"));
	/* It was the state's timer, not a lease expiry (30s), that ended it. */
	assert_true(harness_now_ms() - t0 < 15000);
	json_decref(job);
}

static void test_cancel_queued_and_running(void **state)
{
	struct fixture *f = *state = fixture_new(NULL);
	/* a holds the cluster; b queues behind it. */
	int64_t a =
		submit_job(&f->d, "test", "logs", "{\"plan\": {\"prepare\": [\"sleep:1500\"]}}");
	int64_t b = submit_job(&f->d, "test", "logs", NULL);
	json_t *ja = wait_job_status(&f->d, a, "running", 10000);
	assert_non_null(ja);
	json_decref(ja);

	char path[64];
	struct http_resp r;
	snprintf(path, sizeof(path), "/api/v1/jobs/%lld/cancel", (long long)b);
	assert_true(http_call(&f->d, "POST", path, "{\"reason\": \"not needed\"}", NULL, &r));
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.body, "status"), "cancelled");
	http_resp_free(&r);
	char *trail = event_trail(&f->d, b);
	assert_string_equal(trail, "submitted:->prepare cancelled:prepare>prepare");
	free(trail);

	snprintf(path, sizeof(path), "/api/v1/jobs/%lld/cancel", (long long)a);
	assert_true(http_call(&f->d, "POST", path, "{\"reason\": \"changed my mind\"}", NULL, &r));
	assert_int_equal(r.status, 202);
	assert_true(json_is_true(json_object_get(r.body, "cancel_requested")));
	http_resp_free(&r);
	json_t *job = wait_job_done(&f->d, a, 20000);
	assert_non_null(job);
	assert_string_equal(jstr(job, "status"), "cancelled");
	assert_true(json_is_true(json_object_get(json_object_get(job, "context"), "cleaned")));
	json_decref(job);
	trail = event_trail(&f->d, a);
	/* prepare finished, then the boundary turned into the cleanup chain. */
	assert_string_equal(trail, "submitted:->prepare cancel_requested:prepare>prepare "
				   "next:prepare>work cancel:work>undo cancelled:undo>undo");
	free(trail);

	/* Cancelling a finished job is refused with its status. */
	assert_true(http_call(&f->d, "POST", path, "{\"reason\": \"twice\"}", NULL, &r));
	assert_int_equal(r.status, 409);
	assert_non_null(strstr(r.raw, "cancelled"));
	http_resp_free(&r);
}

static void test_cancel_waiting_job_does_not_wait_out_the_delay(void **state)
{
	struct fixture *f = *state = fixture_new(NULL);
	int64_t id =
		submit_job(&f->d, "test", "logs", "{\"plan\": {\"prepare\": [\"wait:60000\"]}}");
	json_t *j = wait_job_status(&f->d, id, "waiting", 10000);
	assert_non_null(j);
	json_decref(j);
	char path[64];
	snprintf(path, sizeof(path), "/api/v1/jobs/%lld/cancel", (long long)id);
	struct http_resp r;
	assert_true(http_call(&f->d, "POST", path, "{\"reason\": \"no time to wait\"}", NULL, &r));
	assert_int_equal(r.status, 202);
	http_resp_free(&r);
	json_t *job = wait_job_done(&f->d, id, 10000);
	assert_non_null(job);
	assert_string_equal(jstr(job, "status"), "cancelled");
	json_decref(job);
}

static void test_jobs_of_one_cluster_run_in_order(void **state)
{
	struct fixture *f = *state = fixture_new(NULL);
	int64_t ids[4];
	for (int i = 0; i < 4; i++)
		ids[i] = submit_job(&f->d, "test", "orders",
				    "{\"plan\": {\"work\": [\"sleep:50\"]}}");
	int64_t other =
		submit_job(&f->d, "test", "other", "{\"plan\": {\"work\": [\"sleep:50\"]}}");
	for (int i = 0; i < 4; i++) {
		json_t *j = wait_job_done(&f->d, ids[i], 20000);
		assert_non_null(j);
		json_decref(j);
	}
	json_t *j = wait_job_done(&f->d, other, 20000);
	assert_non_null(j);
	json_decref(j);
	/* Each job of "orders" started after the previous one finished. */
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM jobs a JOIN jobs b ON a.cluster = b.cluster"
				 " AND a.queue_seq < b.queue_seq WHERE a.cluster = 'orders'"
				 " AND b.started_at < a.finished_at",
				 0, NULL),
			 0);
	assert_int_equal(
		sql_int(f->sql, "SELECT count(*) FROM jobs WHERE status = 'succeeded'", 0, NULL),
		5);
}

static void test_idempotency_key(void **state)
{
	struct fixture *f = *state = fixture_new(NULL);
	const char *h[] = {"Idempotency-Key: abc-123", NULL};
	const char *body = "{\"kind\": \"test\", \"cluster\": \"logs\", \"params\": {}}";
	struct http_resp r1, r2, r3;
	assert_true(http_call(&f->d, "POST", "/api/v1/jobs", body, h, &r1));
	assert_int_equal(r1.status, 202);
	assert_non_null(strstr(r1.location, "/api/v1/jobs/"));
	assert_true(http_call(&f->d, "POST", "/api/v1/jobs", body, h, &r2));
	assert_int_equal(r2.status, 202);
	assert_int_equal(json_integer_value(json_object_get(r1.body, "id")),
			 json_integer_value(json_object_get(r2.body, "id")));
	assert_true(http_call(&f->d, "POST", "/api/v1/jobs",
			      "{\"kind\": \"test\", \"cluster\": \"other\", \"params\": {}}", h,
			      &r3));
	assert_int_equal(r3.status, 409);
	assert_int_equal(sql_int(f->sql, "SELECT count(*) FROM jobs", 0, NULL), 1);
	http_resp_free(&r1);
	http_resp_free(&r2);
	http_resp_free(&r3);
}

static void test_api_reads_and_errors(void **state)
{
	struct fixture *f = *state = fixture_new(NULL);
	int64_t ids[5];
	for (int i = 0; i < 5; i++) {
		ids[i] = submit_job(&f->d, i % 2 ? "test_noop" : "test", "logs", NULL);
		json_t *j = wait_job_done(&f->d, ids[i], 20000);
		assert_non_null(j);
		json_decref(j);
	}
	struct http_resp r;
	/* Newest first, two at a time, following the cursor. */
	assert_true(http_call(&f->d, "GET", "/api/v1/jobs?limit=2", NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	json_t *jobs = json_object_get(r.body, "jobs");
	assert_int_equal(json_array_size(jobs), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(jobs, 0), "id")),
			 ids[4]);
	json_int_t cursor = json_integer_value(json_object_get(r.body, "next_cursor"));
	assert_int_equal(cursor, ids[3]);
	http_resp_free(&r);
	char path[128];
	snprintf(path, sizeof(path), "/api/v1/jobs?limit=2&cursor=%lld", (long long)cursor);
	assert_true(http_call(&f->d, "GET", path, NULL, NULL, &r));
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(json_object_get(r.body, "jobs"), 0), "id")),
			 ids[2]);
	http_resp_free(&r);
	assert_true(http_call(&f->d, "GET", "/api/v1/jobs?kind=test_noop", NULL, NULL, &r));
	assert_int_equal(json_array_size(json_object_get(r.body, "jobs")), 2);
	assert_true(json_is_null(json_object_get(r.body, "next_cursor")));
	http_resp_free(&r);

	assert_true(http_call(&f->d, "GET", "/api/v1/jobs?status=bogus", NULL, NULL, &r));
	assert_int_equal(r.status, 422);
	assert_string_equal(jstr(json_object_get(r.body, "error"), "field"), "status");
	http_resp_free(&r);
	assert_true(http_call(&f->d, "GET", "/api/v1/jobs/999999", NULL, NULL, &r));
	assert_int_equal(r.status, 404);
	assert_non_null(json_object_get(r.body, "error"));
	http_resp_free(&r);
	assert_true(http_call(&f->d, "GET", "/api/v1/jobs/999999/events", NULL, NULL, &r));
	assert_int_equal(r.status, 404);
	http_resp_free(&r);
	assert_true(http_call(&f->d, "DELETE", "/api/v1/jobs", NULL, NULL, &r));
	assert_int_equal(r.status, 405);
	assert_non_null(strstr(r.allow, "GET"));
	http_resp_free(&r);
	assert_true(http_call(&f->d, "POST", "/api/v1/jobs",
			      "{\"kind\": \"nope\", \"cluster\": \"x\"}", NULL, &r));
	assert_int_equal(r.status, 422);
	assert_string_equal(jstr(json_object_get(r.body, "error"), "field"), "kind");
	http_resp_free(&r);
	assert_true(http_call(&f->d, "POST", "/api/v1/jobs",
			      "{\"kind\": \"test\", \"cluster\": \"Bad_Name\"}", NULL, &r));
	assert_int_equal(r.status, 422);
	assert_string_equal(jstr(json_object_get(r.body, "error"), "field"), "cluster");
	http_resp_free(&r);
	assert_true(http_call(&f->d, "POST", "/api/v1/jobs", "{\"kind\": ", NULL, &r));
	assert_int_equal(r.status, 400);
	http_resp_free(&r);
	/* Nothing invalid was stored. */
	assert_int_equal(sql_int(f->sql, "SELECT count(*) FROM jobs", 0, NULL), 5);
}

/* kill -9 in the middle: a new process finishes every job, exactly once. */
static void test_kill_9_then_restart_finishes_each_job_once(void **state)
{
	struct esaasd_opts o = {.lease_s = 2, .heartbeat_s = 1, .poll_s = 1};
	struct fixture *f = *state = fixture_new(&o);
	enum {
		N = 20
	};
	int64_t ids[N];
	for (int i = 0; i < N; i++) {
		char cluster[32];
		snprintf(cluster, sizeof(cluster), "c%d", i);
		ids[i] = submit_job(
			&f->d, "test", cluster,
			"{\"plan\": {\"prepare\": [\"sleep:200\"], \"work\": [\"sleep:400\"]}}");
		assert_true(ids[i] > 0);
	}
	/* Wait until some states have committed, then kill in the middle. */
	int64_t deadline = harness_now_ms() + 10000;
	while (sql_int(f->sql, "SELECT count(*) FROM job_events WHERE outcome = 'next'", 0, NULL) <
		       5 &&
	       harness_now_ms() < deadline)
		msleep(5);
	/* The moment came: the test acts in the middle, not after it. */
	assert_true(sql_int(f->sql, "SELECT count(*) FROM job_events WHERE outcome = 'next'", 0,
			    NULL) >= 5);
	assert_int_equal(esaasd_stop(&f->d, SIGKILL, true), -SIGKILL);
	long long done_before =
		sql_int(f->sql, "SELECT count(*) FROM jobs WHERE status = 'succeeded'", 0, NULL);
	assert_true(done_before < N);
	assert_true(esaasd_start(&f->d, pg.dir, f->dburl, &o));
	for (int i = 0; i < N; i++) {
		json_t *j = wait_job_done(&f->d, ids[i], 30000);
		assert_non_null(j);
		assert_string_equal(jstr(j, "status"), "succeeded");
		json_decref(j);
	}
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM (SELECT job_id FROM job_events"
				 " WHERE outcome IN ('succeeded', 'failed', 'cancelled')"
				 " GROUP BY job_id HAVING count(*) = 1) x",
				 0, NULL),
			 N);
	assert_true(
		sql_int(f->sql,
			"SELECT count(*) FROM job_events WHERE detail LIKE '%after taking over%'",
			0, NULL) > 0);
	assert_int_equal(
		sql_int(f->sql, "SELECT count(*) FROM jobs WHERE lease_owner IS NOT NULL", 0, NULL),
		0);
}

/* Two processes on one database: never the same job in both at once. */
static void test_two_daemons_never_run_a_state_twice_at_once(void **state)
{
	struct esaasd_opts o = {.lease_s = 5, .heartbeat_s = 1, .poll_s = 1, .workers = 8};
	struct fixture *f = *state = fixture_new(&o);
	struct esaasd second;
	assert_true(esaasd_start(&second, pg.dir, f->dburl, &o));
	enum {
		N = 40
	};
	int64_t ids[N];
	for (int i = 0; i < N; i++) {
		char cluster[32];
		snprintf(cluster, sizeof(cluster), "c%d", i % 10);
		ids[i] = submit_job(i % 2 ? &second : &f->d, "test", cluster,
				    "{\"plan\": {\"prepare\": [\"wait:30\", \"next\"],"
				    " \"work\": [\"sleep:20\"]}}");
	}
	for (int i = 0; i < N; i++) {
		json_t *j = wait_job_done(&f->d, ids[i], 60000);
		assert_non_null(j);
		assert_string_equal(jstr(j, "status"), "succeeded");
		json_decref(j);
	}
	assert_int_equal(esaasd_stop(&second, SIGTERM, true), 0);
	/* Both took part. */
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(DISTINCT split_part(worker, '/', 2)) FROM job_events"
				 " WHERE worker IS NOT NULL",
				 0, NULL),
			 2);
	/* No two runs of one job overlap in time: [started_at, at) are disjoint. */
	dump_rows(f->sql, "SELECT a.job_id, a.id, a.outcome, a.worker, a.started_at, a.at, b.id, "
			  "b.outcome, b.worker, b.started_at, b.at"
			  " FROM job_events a JOIN job_events b"
			  " ON a.job_id = b.job_id AND a.id < b.id"
			  " WHERE a.started_at IS NOT NULL AND b.started_at IS NOT NULL"
			  " AND a.started_at < b.at AND b.started_at < a.at");
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM job_events a JOIN job_events b"
				 " ON a.job_id = b.job_id AND a.id < b.id"
				 " WHERE a.started_at IS NOT NULL AND b.started_at IS NOT NULL"
				 " AND a.started_at < b.at AND b.started_at < a.at",
				 0, NULL),
			 0);
	/* Nor two jobs of one cluster. */
	dump_rows(f->sql, "SELECT a.id, a.queue_seq, a.started_at, a.finished_at, b.id, "
			  "b.queue_seq, b.started_at, b.finished_at"
			  " FROM jobs a JOIN jobs b ON a.cluster = b.cluster"
			  " AND a.id < b.id WHERE a.started_at < b.finished_at"
			  " AND b.started_at < a.finished_at");
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM jobs a JOIN jobs b ON a.cluster = b.cluster"
				 " AND a.id < b.id WHERE a.started_at < b.finished_at"
				 " AND b.started_at < a.finished_at",
				 0, NULL),
			 0);
}

/* PostgreSQL restarts under load: nothing lost, nothing done twice. */
static void test_postgres_restart_under_load(void **state)
{
	struct esaasd_opts o = {.lease_s = 3, .heartbeat_s = 1, .poll_s = 1};
	struct fixture *f = *state = fixture_new(&o);
	enum {
		N = 30
	};
	int64_t ids[N];
	for (int i = 0; i < N; i++) {
		char cluster[32];
		snprintf(cluster, sizeof(cluster), "c%d", i);
		ids[i] = submit_job(&f->d, "test", cluster,
				    "{\"plan\": {\"prepare\": [\"sleep:100\"], \"work\": "
				    "[\"wait:100\", \"next\"],"
				    " \"verify\": [\"sleep:300\"]}}");
	}
	int64_t deadline = harness_now_ms() + 10000;
	while (sql_int(f->sql, "SELECT count(*) FROM job_events WHERE outcome = 'next'", 0, NULL) <
		       10 &&
	       harness_now_ms() < deadline)
		msleep(5);
	/* The moment came: the test acts in the middle, not after it. */
	assert_true(sql_int(f->sql, "SELECT count(*) FROM job_events WHERE outcome = 'next'", 0,
			    NULL) >= 10);
	PQfinish(f->sql);
	assert_true(pg_ctl(&pg, "restart"));
	f->sql = sql_connect(f->dburl);
	assert_non_null(f->sql);
	for (int i = 0; i < N; i++) {
		json_t *j = wait_job_done(&f->d, ids[i], 60000);
		assert_non_null(j);
		assert_string_equal(jstr(j, "status"), "succeeded");
		json_decref(j);
	}
	assert_int_equal(
		sql_int(f->sql,
			"SELECT count(*) FROM (SELECT job_id FROM job_events"
			" WHERE outcome = 'succeeded' GROUP BY job_id HAVING count(*) = 1) x",
			0, NULL),
		N);
	struct http_resp r;
	assert_true(http_call(&f->d, "GET", "/readyz", NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
}

/* SIGTERM drains: the running state finishes or is handed back; exit 0. */
static void test_sigterm_drains_and_releases(void **state)
{
	struct esaasd_opts o = {.grace_s = 1, .lease_s = 30};
	struct fixture *f = *state = fixture_new(&o);
	int64_t id =
		submit_job(&f->d, "test", "logs", "{\"plan\": {\"work\": [\"hang\", \"next\"]}}");
	json_t *j = wait_job_status(&f->d, id, "running", 10000);
	json_decref(j);
	int64_t deadline = harness_now_ms() + 10000;
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	const char *q[] = {ids};
	while (sql_int(f->sql, "SELECT count(*) FROM jobs WHERE id = $1 AND state = 'work'", 1, q) <
		       1 &&
	       harness_now_ms() < deadline)
		msleep(5);
	assert_int_equal(
		sql_int(f->sql, "SELECT count(*) FROM jobs WHERE id = $1 AND state = 'work'", 1, q),
		1);
	assert_int_equal(esaasd_stop(&f->d, SIGTERM, true), 0);
	/* Released, not left to a 30-second lease. */
	assert_int_equal(
		sql_int(f->sql, "SELECT count(*) FROM jobs WHERE lease_owner IS NOT NULL", 0, NULL),
		0);
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM job_events WHERE job_id = $1 AND outcome = "
				 "'released'",
				 1, q),
			 1);
	assert_true(esaasd_start(&f->d, pg.dir, f->dburl, &o));
	json_t *job = wait_job_done(&f->d, id, 20000);
	assert_non_null(job);
	assert_string_equal(jstr(job, "status"), "succeeded");
	json_decref(job);
}

static void test_schema_newer_than_binary_is_refused(void **state)
{
	struct fixture *f = *state = fixture_new(NULL);
	assert_int_equal(esaasd_stop(&f->d, SIGTERM, true), 0);
	PGresult *r = PQexecParams(
		f->sql,
		"INSERT INTO esaas_schema_migrations (version, name) VALUES (9999, 'future')", 0,
		NULL, NULL, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	struct esaasd d2;
	assert_false(esaasd_start(&d2, pg.dir, f->dburl, NULL));
	FILE *log = fopen(d2.log, "r");
	assert_non_null(log);
	char line[1024];
	bool found = false;
	while (fgets(line, sizeof(line), log))
		if (strstr(line, "schema is at version 9999"))
			found = true;
	fclose(log);
	assert_true(found);
}

static void test_two_daemons_migrate_one_database_at_once(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	*state = f;
	assert_non_null(pg_new_database(&pg, f->dburl, sizeof(f->dburl)));
	struct esaasd a, b;
	/* Start both before waiting for either. */
	assert_true(esaasd_spawn(&a, pg.dir, f->dburl, NULL));
	assert_true(esaasd_spawn(&b, pg.dir, f->dburl, NULL));
	assert_true(esaasd_wait_ready(&a));
	assert_true(esaasd_wait_ready(&b));
	f->sql = sql_connect(f->dburl);
	assert_int_equal(
		sql_int(f->sql, "SELECT count(*) FROM esaas_schema_migrations", 0, NULL),
		sql_int(f->sql, "SELECT max(version) FROM esaas_schema_migrations", 0, NULL));
	assert_int_equal(esaasd_stop(&a, SIGTERM, true), 0);
	assert_int_equal(esaasd_stop(&b, SIGTERM, true), 0);
}

/* While PostgreSQL is down: alive, not ready; ready again once it is back. */
static void test_readyz_follows_the_database(void **state)
{
	struct esaasd_opts o = {.poll_s = 1};
	struct fixture *f = *state = fixture_new(&o);
	PQfinish(f->sql);
	f->sql = NULL;
	assert_true(pg_ctl(&pg, "stop"));
	struct http_resp r;
	long ready = 0;
	int64_t deadline = harness_now_ms() + 15000;
	while (harness_now_ms() < deadline) {
		assert_true(http_call(&f->d, "GET", "/readyz", NULL, NULL, &r));
		ready = r.status;
		http_resp_free(&r);
		if (ready == 503)
			break;
		msleep(20);
	}
	assert_int_equal(ready, 503);
	/* A stranger learns that much and no more: libpq's text (the socket, the
	 * host, the user) is in the log only. */
	assert_true(http_call(&f->d, "GET", "/readyz", NULL, NULL, &r));
	assert_int_equal(r.status, 503);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(r.body, "error"), "message")),
		"database unreachable");
	assert_null(strstr(r.raw, "connect"));
	assert_null(strstr(r.raw, "5432"));
	http_resp_free(&r);
	assert_true(http_call(&f->d, "GET", "/healthz", NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	/* A read fails cleanly, in the one error shape. */
	assert_true(http_call(&f->d, "GET", "/api/v1/jobs", NULL, NULL, &r));
	assert_int_equal(r.status, 503);
	assert_non_null(json_object_get(json_object_get(r.body, "error"), "code"));
	http_resp_free(&r);

	assert_true(pg_ctl(&pg, "start"));
	deadline = harness_now_ms() + 20000;
	while (harness_now_ms() < deadline) {
		assert_true(http_call(&f->d, "GET", "/readyz", NULL, NULL, &r));
		ready = r.status;
		http_resp_free(&r);
		if (ready == 200)
			break;
		msleep(20);
	}
	assert_int_equal(ready, 200);
	/* And the engine works again. */
	int64_t id = submit_job(&f->d, "test", "logs", NULL);
	json_t *job = wait_job_done(&f->d, id, 20000);
	assert_non_null(job);
	assert_string_equal(jstr(job, "status"), "succeeded");
	json_decref(job);
	f->sql = sql_connect(f->dburl);
}

/* log.format json: every line is a JSON object; job lines carry the job. */
static void test_json_logs(void **state)
{
	struct esaasd_opts o = {.json_logs = true};
	struct fixture *f = *state = fixture_new(&o);
	int64_t id = submit_job(&f->d, "test", "logs", NULL);
	json_t *job = wait_job_done(&f->d, id, 20000);
	json_decref(job);
	assert_int_equal(esaasd_stop(&f->d, SIGTERM, true), 0);
	FILE *log = fopen(f->d.log, "r");
	assert_non_null(log);
	char line[4096];
	int lines = 0, job_lines = 0;
	while (fgets(line, sizeof(line), log)) {
		json_error_t jerr;
		json_t *o2 = json_loads(line, 0, &jerr);
		if (!o2)
			fail_msg("not JSON: %s", line);
		assert_non_null(json_object_get(o2, "time"));
		assert_non_null(json_object_get(o2, "level"));
		assert_non_null(json_object_get(o2, "msg"));
		if (json_integer_value(json_object_get(o2, "job")) == id) {
			job_lines++;
			assert_string_equal(jstr(o2, "cluster"), "logs");
			assert_string_equal(jstr(o2, "tenant"), "default");
			assert_non_null(json_object_get(o2, "state"));
		}
		json_decref(o2);
		lines++;
	}
	fclose(log);
	assert_true(lines > 5);
	assert_true(job_lines >= 3);
}

/* The command line: help, version, and configuration errors that name the place. */
static void test_command_line(void **state)
{
	char cmd[1024], out[512];
	FILE *p;
	snprintf(cmd, sizeof(cmd), "%s/esaasd --version 2>&1", harness_builddir());
	p = popen(cmd, "r");
	assert_non_null(fgets(out, sizeof(out), p));
	assert_int_equal(pclose(p), 0);
	assert_non_null(strstr(out, "esaasd "));

	snprintf(cmd, sizeof(cmd), "%s/esaasd --help 2>&1", harness_builddir());
	p = popen(cmd, "r");
	assert_non_null(fgets(out, sizeof(out), p));
	while (fgets(cmd, sizeof(cmd), p))
		;
	assert_int_equal(pclose(p), 0);
	assert_non_null(strstr(out, "Usage: esaasd"));

	char path[512];
	snprintf(path, sizeof(path), "%s/bad.yaml", pg.dir);
	FILE *f = fopen(path, "w");
	fputs("listen: 127.0.0.1:8080\nengine:\n  workers: lots\n", f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s/esaasd -c %s 2>&1", harness_builddir(), path);
	p = popen(cmd, "r");
	assert_non_null(fgets(out, sizeof(out), p));
	int st = pclose(p);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	char want[600];
	snprintf(want, sizeof(want), "%s:3:12: engine.workers:", path);
	assert_non_null(strstr(out, want));

	/* esaasctl render: the objects of a spec, or the field that is wrong. */
	snprintf(path, sizeof(path), "%s/spec.json", pg.dir);
	f = fopen(path, "w");
	fputs("{\"name\": \"logs\", \"version\": \"7.17.10\"}\n", f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s/esaasctl render %s", harness_builddir(), path);
	p = popen(cmd, "r");
	int statefulsets = 0;
	while (fgets(out, sizeof(out), p))
		statefulsets += strcmp(out, "kind: StatefulSet\n") == 0;
	assert_int_equal(pclose(p), 0);
	/* masters, data and clients */
	assert_int_equal(statefulsets, 3);
	f = fopen(path, "w");
	fputs("{\"name\": \"logs\", \"masters\": {\"replicas\": 2}}\n", f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s/esaasctl render %s 2>&1", harness_builddir(), path);
	p = popen(cmd, "r");
	assert_non_null(fgets(out, sizeof(out), p));
	st = pclose(p);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	assert_non_null(strstr(out, ": masters.replicas: "));

	snprintf(cmd, sizeof(cmd), "%s/esaasd -c %s/missing.yaml 2>&1", harness_builddir(), pg.dir);
	p = popen(cmd, "r");
	assert_non_null(fgets(out, sizeof(out), p));
	st = pclose(p);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	assert_non_null(strstr(out, "missing.yaml: cannot open"));
}

/* A message that is not valid UTF-8 is stored, scrubbed, not lost. */
static void test_invalid_utf8_message_is_scrubbed(void **state)
{
	struct fixture *f = *state = fixture_new(NULL);
	int64_t id = submit_job(&f->d, "test", "logs", "{\"plan\": {\"work\": [\"badutf8\"]}}");
	json_t *job = wait_job_done(&f->d, id, 20000);
	assert_non_null(job);
	assert_string_equal(jstr(job, "status"), "failed");
	assert_string_equal(jstr(job, "error"), "work: cut ??");
	json_decref(job);
}

/*
 * A transition the database refuses spoils only its own job: the batch is
 * written again row by row, and the refused job is handed back with the
 * reason, not left leased for ever.
 */
static void test_refused_transition_is_isolated_and_handed_back(void **state)
{
	struct esaasd_opts o = {.workers = 16};
	struct fixture *f = *state = fixture_new(&o);
	PGresult *r = PQexecParams(f->sql,
				   "ALTER TABLE jobs ADD CONSTRAINT poison"
				   " CHECK (cluster <> 'poison' OR state <> 'verify') NOT VALID",
				   0, NULL, NULL, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	enum {
		N = 8
	};
	int64_t ids[N];
	int64_t bad = submit_job(&f->d, "test", "poison", NULL);
	for (int i = 0; i < N; i++) {
		char cluster[16];
		snprintf(cluster, sizeof(cluster), "ok%d", i);
		ids[i] = submit_job(&f->d, "test", cluster, NULL);
	}
	for (int i = 0; i < N; i++) {
		json_t *j = wait_job_done(&f->d, ids[i], 20000);
		assert_non_null(j);
		assert_string_equal(jstr(j, "status"), "succeeded");
		json_decref(j);
	}
	char bid[24];
	snprintf(bid, sizeof(bid), "%lld", (long long)bad);
	const char *q[] = {bid};
	int64_t deadline = harness_now_ms() + 20000;
	while (sql_int(f->sql,
		       "SELECT count(*) FROM jobs WHERE id = $1 AND lease_owner IS NULL"
		       " AND observation LIKE 'esaasd could not record%poison%'",
		       1, q) != 1 &&
	       harness_now_ms() < deadline)
		msleep(10);
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM jobs WHERE id = $1 AND lease_owner IS NULL"
				 " AND observation LIKE 'esaasd could not record%poison%'",
				 1, q),
			 1);
	assert_int_equal(
		sql_int(f->sql, "SELECT count(*) FROM jobs WHERE id = $1 AND state = 'work'", 1, q),
		1);
}

/*
 * A job of a cluster must not start while another job of that cluster is
 * in progress, even one queued ahead of it that committed late.
 */
static void test_started_job_blocks_its_cluster(void **state)
{
	struct fixture *f = *state = fixture_new(NULL);
	PGconn *tx = sql_connect(f->dburl);
	PGresult *r = PQexecParams(tx, "BEGIN", 0, NULL, NULL, NULL, NULL, 0);
	PQclear(r);
	/* Takes its queue number now, commits later. */
	r = PQexecParams(
		tx,
		"INSERT INTO jobs (tenant_id, cluster, kind, params, status, state, submitted_by)"
		" VALUES ('default', 'c3', 'test', '{}', 'queued', 'prepare', 'test')"
		" RETURNING id",
		0, NULL, NULL, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	char early[24];
	snprintf(early, sizeof(early), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	int64_t later = submit_job(&f->d, "test", "c3", "{\"plan\": {\"work\": [\"sleep:800\"]}}");
	json_t *j = wait_job_status(&f->d, later, "running", 10000);
	assert_non_null(j);
	json_decref(j);
	r = PQexecParams(tx, "COMMIT", 0, NULL, NULL, NULL, NULL, 0);
	PQclear(r);
	PQfinish(tx);
	json_t *a = wait_job_done(&f->d, later, 20000);
	int64_t early_id = strtoll(early, NULL, 10);
	json_t *b = wait_job_done(&f->d, early_id, 20000);
	assert_non_null(a);
	assert_non_null(b);
	json_decref(a);
	json_decref(b);
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM jobs a JOIN jobs b ON a.cluster = b.cluster"
				 " AND a.id < b.id WHERE a.started_at < b.finished_at"
				 " AND b.started_at < a.finished_at",
				 0, NULL),
			 0);
}

/* A kind this esaasd does not know (a newer replica's) is left alone. */
static void test_unknown_kind_is_not_claimed(void **state)
{
	struct fixture *f = *state = fixture_new(NULL);
	PGresult *r = PQexecParams(
		f->sql,
		"INSERT INTO jobs (tenant_id, cluster, kind, params, status, state,"
		" submitted_by) VALUES ('default', 'x', 'from_the_future', '{}', 'queued',"
		" 'start', 'test')",
		0, NULL, NULL, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	int64_t id = submit_job(&f->d, "test", "y", NULL);
	json_t *j = wait_job_done(&f->d, id, 20000);
	/* The engine works: the job it knows ran to its end. */
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "succeeded");
	json_decref(j);
	assert_int_equal(
		sql_int(f->sql,
			"SELECT count(*) FROM jobs WHERE kind = 'from_the_future'"
			" AND status = 'queued' AND lease_owner IS NULL AND started_at IS NULL",
			0, NULL),
		1);
}

static bool file_contains(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	char line[4096];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

/* SIGHUP reopens log.file, so rotation by rename works. */
static void test_sighup_reopens_the_log_file(void **state)
{
	char path[512], rotated[512];
	snprintf(path, sizeof(path), "%s/rotating.log", pg.dir);
	snprintf(rotated, sizeof(rotated), "%s/rotating.log.1", pg.dir);
	struct esaasd_opts o = {.log_file = path};
	struct fixture *f = *state = fixture_new(&o);
	assert_true(file_contains(path, "listening on"));
	assert_int_equal(rename(path, rotated), 0);
	kill(f->d.pid, SIGHUP);
	int64_t deadline = harness_now_ms() + 10000;
	while (!file_contains(path, "log reopened") && harness_now_ms() < deadline)
		msleep(10);
	assert_true(file_contains(path, "log reopened"));
	int64_t id = submit_job(&f->d, "test", "logs", NULL);
	json_t *j = wait_job_done(&f->d, id, 20000);
	assert_non_null(j);
	json_decref(j);
	char needle[64];
	snprintf(needle, sizeof(needle), "job=%lld ", (long long)id);
	assert_true(file_contains(path, needle));
	assert_false(file_contains(rotated, needle));
}

/*
 * A state whose HTTP request hangs holds its own job only: other jobs run
 * to the end and the API answers meanwhile.  The server here accepts
 * connections (the kernel's backlog does) and never answers.
 */
static void test_hung_request_stalls_nothing_else(void **state)
{
	struct fixture *f = *state = fixture_new(NULL);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	char params[256];
	snprintf(params, sizeof(params),
		 "{\"plan\": {\"work\": [\"fetch\"]}, \"url\": \"http://127.0.0.1:%d/\","
		 " \"timeout_ms\": 60000}",
		 ntohs(a.sin_port));
	int64_t hung = submit_job(&f->d, "test", "stuck", params);
	char hid[24];
	snprintf(hid, sizeof(hid), "%lld", (long long)hung);
	const char *q[] = {hid};
	int64_t deadline = harness_now_ms() + 10000;
	while (sql_int(f->sql, "SELECT count(*) FROM jobs WHERE id = $1 AND state = 'work'", 1,
		       q) != 1 &&
	       harness_now_ms() < deadline)
		msleep(5);
	assert_int_equal(
		sql_int(f->sql, "SELECT count(*) FROM jobs WHERE id = $1 AND state = 'work'", 1, q),
		1);
	enum {
		N = 10
	};
	int64_t ids[N];
	for (int i = 0; i < N; i++) {
		char cluster[16];
		snprintf(cluster, sizeof(cluster), "free%d", i);
		ids[i] = submit_job(&f->d, "test_noop", cluster, NULL);
	}
	for (int i = 0; i < N; i++) {
		json_t *j = wait_job_done(&f->d, ids[i], 10000);
		assert_non_null(j);
		assert_string_equal(jstr(j, "status"), "succeeded");
		json_decref(j);
	}
	struct http_resp r;
	assert_true(http_call(&f->d, "GET", "/healthz", NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	/* And the hung one is still where it was, running. */
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM jobs WHERE id = $1 AND state = 'work'"
				 " AND status = 'running'",
				 1, q),
			 1);
	/* Shutdown aborts the request: the teardown's clean exit proves it. */
	close(fd);
}

/* A plan of n times action, then next: {"plan": {"work": [...]}}. */
static char *repeated_plan(const char *action, int n)
{
	size_t cap = 64 + (size_t)n * (strlen(action) + 4), len = 0;
	char *s = xmalloc(cap);

	len += (size_t)snprintf(s, cap, "{\"plan\": {\"work\": [");
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "\"%s\", ", action);
	snprintf(s + len, cap - len, "\"next\"]}}");
	return s;
}

/*
 * A wait that sees nothing new (the same detail, poll after poll) is one
 * event that counts its polls, with the first and the last time; a wait
 * that sees something new is an event of its own, as before.
 */
static void test_wait_that_sees_nothing_new_writes_one_event(void **state)
{
	struct fixture *f = *state = fixture_new(NULL);
	int64_t id = submit_job(&f->d, "test", "logs",
				"{\"plan\": {\"work\": [\"poll:20\", \"poll:20\", \"poll:20\","
				" \"poll:20\", \"poll:20\", \"poll:20\", \"poll:20\", \"poll:20\","
				" \"wait:20\", \"wait:20\", \"next\"]}}");
	assert_true(id > 0);
	json_t *job = wait_job_done(&f->d, id, 20000);
	assert_non_null(job);
	assert_string_equal(jstr(job, "status"), "succeeded");
	json_decref(job);

	char *trail = event_trail(&f->d, id);
	assert_string_equal(trail, "submitted:->prepare next:prepare>work wait:work>work "
				   "wait:work>work wait:work>work next:work>verify "
				   "succeeded:verify>verify");
	free(trail);

	char path[64];
	struct http_resp r;
	snprintf(path, sizeof(path), "/api/v1/jobs/%lld/events", (long long)id);
	assert_true(http_call(&f->d, "GET", path, NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	json_t *events = json_object_get(r.body, "events");
	json_t *polled = json_array_get(events, 2);
	assert_string_equal(jstr(polled, "detail"), "work: 2 of 3 ready");
	assert_int_equal(json_integer_value(json_object_get(polled, "polls")), 8);
	/* The first and the last observation are both kept. */
	assert_true(json_is_string(json_object_get(polled, "last_at")));
	assert_true(strcmp(jstr(polled, "last_at"), jstr(polled, "at")) >= 0);
	for (size_t i = 3; i <= 4; i++) {
		json_t *ev = json_array_get(events, i);
		char want[64];

		snprintf(want, sizeof(want), "work: waiting (run %zu)", i + 6);
		assert_string_equal(jstr(ev, "detail"), want);
		assert_int_equal(json_integer_value(json_object_get(ev, "polls")), 1);
		assert_true(json_is_null(json_object_get(ev, "last_at")));
	}
	http_resp_free(&r);
}

/* "id,id,..." of every event of the job, page after page of limit each. */
static char *event_ids_by_pages(const struct esaasd *d, int64_t id, int limit, int *pages)
{
	char *ids = xstrdup(""),
	     *next = xasprintf("/api/v1/jobs/%lld/events?limit=%d", (long long)id, limit);

	*pages = 0;
	while (next) {
		struct http_resp r;

		assert_true(http_call(d, "GET", next, NULL, NULL, &r));
		assert_int_equal(r.status, 200);
		(*pages)++;
		assert_true(*pages < 100);
		free(next);
		json_t *events = json_object_get(r.body, "events");
		json_t *after = json_object_get(r.body, "next_after");
		json_t *link = json_object_get(r.body, "next");
		size_t i;
		json_t *ev;

		assert_true(json_array_size(events) <= (size_t)limit);
		json_array_foreach (events, i, ev) {
			char *more =
				xasprintf("%s%s%lld", ids, *ids ? "," : "",
					  (long long)json_integer_value(json_object_get(ev, "id")));
			free(ids);
			ids = more;
		}
		if (json_is_null(after)) {
			assert_true(json_is_null(link));
			next = NULL;
		} else {
			/* The cursor is the page's last event, and the link asks for what follows. */
			assert_int_equal(json_array_size(events), limit);
			assert_int_equal(json_integer_value(after),
					 json_integer_value(json_object_get(
						 json_array_get(events, (size_t)limit - 1), "id")));
			next = xstrdup(json_string_value(link));
			char want[96];
			snprintf(want, sizeof(want), "/api/v1/jobs/%lld/events?after=%lld&limit=%d",
				 (long long)id, (long long)json_integer_value(after), limit);
			assert_string_equal(next, want);
		}
		http_resp_free(&r);
	}
	return ids;
}

/* /events comes in pages, each with the cursor of the next; the limit has a maximum. */
static void test_events_come_in_pages(void **state)
{
	struct fixture *f = *state = fixture_new(NULL);
	char *plan = repeated_plan("wait:5", 24);
	int64_t id = submit_job(&f->d, "test", "logs", plan);
	free(plan);
	json_t *job = wait_job_done(&f->d, id, 30000);
	assert_non_null(job);
	assert_string_equal(jstr(job, "status"), "succeeded");
	json_decref(job);

	/* 24 waits that each saw something new, and the job's other 4 events. */
	int pages;
	char *all = event_ids_by_pages(&f->d, id, 1000, &pages);
	assert_int_equal(pages, 1);
	char *paged = event_ids_by_pages(&f->d, id, 7, &pages);
	assert_int_equal(pages, 4);
	assert_string_equal(paged, all);
	free(paged);
	paged = event_ids_by_pages(&f->d, id, 1, &pages);
	assert_int_equal(pages, 28);
	assert_string_equal(paged, all);
	free(paged);
	free(all);

	/* Without a limit: the first 100. */
	char path[96];
	struct http_resp r;
	snprintf(path, sizeof(path), "/api/v1/jobs/%lld/events", (long long)id);
	assert_true(http_call(&f->d, "GET", path, NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(json_object_get(r.body, "events")), 28);
	assert_true(json_is_null(json_object_get(r.body, "next_after")));
	http_resp_free(&r);

	static const char *const bad[][2] = {
		{"limit=1001", "limit"},
		{"limit=0", "limit"},
		{"after=-1", "after"},
		{"page=2", "page"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(path, sizeof(path), "/api/v1/jobs/%lld/events?%s", (long long)id,
			 bad[i][0]);
		assert_true(http_call(&f->d, "GET", path, NULL, NULL, &r));
		assert_int_equal(r.status, 422);
		assert_string_equal(json_string_value(json_object_get(
					    json_object_get(r.body, "error"), "field")),
				    bad[i][1]);
		http_resp_free(&r);
	}
	/* A page after the last event is empty, and the job's absence is still 404. */
	snprintf(path, sizeof(path), "/api/v1/jobs/%lld/events?after=9223372036854775807",
		 (long long)id);
	assert_true(http_call(&f->d, "GET", path, NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(json_object_get(r.body, "events")), 0);
	http_resp_free(&r);
	assert_true(http_call(&f->d, "GET", "/api/v1/jobs/999999/events?limit=5", NULL, NULL, &r));
	assert_int_equal(r.status, 404);
	http_resp_free(&r);
}

static bool sql_ok(PGconn *c, const char *sql, const char *param)
{
	const char *p[] = {param};
	PGresult *r = PQexecParams(c, sql, param ? 1 : 0, NULL, p, NULL, NULL, 0);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

	PQclear(r);
	return ok;
}

/*
 * Finished jobs' events go once they are older than the retention, in
 * batches; a job still running and a job finished lately keep theirs, and
 * nothing else may remove or rewrite the history.
 */
static void test_finished_jobs_events_are_pruned_in_batches(void **state)
{
	struct esaasd_opts o = {.engine_yaml = "  events_retention_days: 7\n"
					       "  events_prune_interval_seconds: 1\n"
					       "  events_prune_batch: 10\n"};
	struct fixture *f = *state = fixture_new(&o);
	char *plan = repeated_plan("wait:5", 30);
	int64_t old = submit_job(&f->d, "test", "old", plan);
	free(plan);
	int64_t recent = submit_job(&f->d, "test", "recent", NULL);
	int64_t running =
		submit_job(&f->d, "test", "running", "{\"plan\": {\"work\": [\"wait:60000\"]}}");
	json_t *j = wait_job_done(&f->d, old, 30000);
	assert_string_equal(jstr(j, "status"), "succeeded");
	json_decref(j);
	j = wait_job_done(&f->d, recent, 30000);
	json_decref(j);
	j = wait_job_status(&f->d, running, "waiting", 10000);
	json_decref(j);

	char oid[24], rid[24], wid[24];
	snprintf(oid, sizeof(oid), "%lld", (long long)old);
	snprintf(rid, sizeof(rid), "%lld", (long long)recent);
	snprintf(wid, sizeof(wid), "%lld", (long long)running);
	const char *po[] = {oid}, *pr[] = {rid}, *pw[] = {wid};
	const char *count = "SELECT count(*) FROM job_events WHERE job_id = $1";
	long long recent_events = sql_int(f->sql, count, 1, pr);
	long long running_events = sql_int(f->sql, count, 1, pw);
	assert_int_equal(sql_int(f->sql, count, 1, po), 34);
	assert_true(recent_events >= 4 && running_events >= 3);

	/* The history stays append-only for everything but the retention. */
	assert_false(sql_ok(f->sql, "DELETE FROM job_events WHERE job_id = $1", rid));
	assert_false(sql_ok(f->sql, "UPDATE job_events SET detail = 'x' WHERE job_id = $1", rid));
	assert_false(sql_ok(f->sql,
			    "UPDATE job_events SET polls = polls + 1 WHERE job_id = $1"
			    " AND detail IS NOT NULL AND last_at IS NULL",
			    rid));

	/* The old job finished eight days ago, as far as the retention knows. */
	assert_true(sql_ok(f->sql,
			   "UPDATE jobs SET finished_at = now() - interval '8 days' WHERE id = $1",
			   oid));
	assert_true(sql_ok(f->sql,
			   "UPDATE jobs SET created_at = now() - interval '9 days' WHERE id = $1",
			   wid));
	int64_t deadline = harness_now_ms() + 15000;
	while (sql_int(f->sql, count, 1, po) > 0 && harness_now_ms() < deadline)
		msleep(100);
	assert_int_equal(sql_int(f->sql, count, 1, po), 0);
	assert_int_equal(sql_int(f->sql, count, 1, pr), recent_events);
	assert_true(sql_int(f->sql, count, 1, pw) >= running_events);
	/* The job itself stays, with its outcome. */
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM jobs WHERE id = $1 AND status = 'succeeded'",
				 1, po),
			 1);
}

/*
 * What a state reports may be huge (an allocation explanation, a Status
 * with every object of a list): the job's error and its events keep
 * engine.detail_max_bytes of it, with a note of its full length.
 */
/* The value of the metric sample named (with its labels) prefix, or -1. */
static double metric_now(const struct esaasd *d, const char *prefix)
{
	struct http_resp r;
	assert_true(metrics_get(d, &r));
	assert_int_equal(r.status, 200);
	double v = -1;
	size_t n = strlen(prefix);
	for (const char *line = r.raw; line && *line;) {
		if (strncmp(line, prefix, n) == 0 && line[n] == ' ') {
			v = strtod(line + n + 1, NULL);
			break;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	http_resp_free(&r);
	return v;
}

/*
 * The hot statements are prepared once per connection; a connection the
 * server dropped comes back as a new session, which knows none of them:
 * it prepares them again before their first use, and jobs go on.
 */
static void test_reconnected_sessions_prepare_their_statements_again(void **state)
{
	struct fixture *f = *state = fixture_new(NULL);
	int64_t a = submit_job(&f->d, "test", "before", NULL);
	assert_true(a > 0);
	json_t *job = wait_job_done(&f->d, a, 20000);
	assert_non_null(job);
	assert_string_equal(jstr(job, "status"), "succeeded");
	json_decref(job);
	double prepared = metric_now(&f->d, "esaas_db_statements_prepared_total");
	double connects = metric_now(&f->d, "esaas_db_connects_total");
	assert_true(prepared >= 1);
	assert_true(connects >= 1);

	/* Every session of esaasd's ends, and with it what it had prepared. */
	long long killed = sql_int(f->sql,
				   "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
				   " WHERE datname = current_database() AND pid <> pg_backend_pid()"
				   "  AND application_name = 'esaasd'",
				   0, NULL);
	assert_true(killed >= 1);
	int64_t deadline = harness_now_ms() + 20000;
	while (metric_now(&f->d, "esaas_db_connects_total") <= connects &&
	       harness_now_ms() < deadline)
		msleep(20);
	assert_true(metric_now(&f->d, "esaas_db_connects_total") > connects);

	/* The API's own connections come back too; until then it answers 503
	 * (a client retries, as its Retry-After says). */
	int64_t b = -1;
	deadline = harness_now_ms() + 20000;
	while ((b = submit_job(&f->d, "test", "after", NULL)) <= 0 && harness_now_ms() < deadline)
		msleep(100);
	assert_true(b > 0);
	job = wait_job_done(&f->d, b, 20000);
	assert_non_null(job);
	assert_string_equal(jstr(job, "status"), "succeeded");
	json_decref(job);
	char *trail = event_trail(&f->d, b);
	assert_string_equal(trail, "submitted:->prepare next:prepare>work next:work>verify "
				   "succeeded:verify>verify");
	free(trail);
	assert_true(metric_now(&f->d, "esaas_db_statements_prepared_total") > prepared);
}

/*
 * Each session of the engine prepares its three hot statements (the
 * write and claim, the next wake, the heartbeat) and runs them until
 * PostgreSQL keeps their plans, before it takes any work; esaasd is ready
 * only once every session it has is done.  Before any job: a job's own
 * statements would prepare at most two of them (the claim and the next
 * wake, no heartbeat without a job held).
 */
static void test_ready_only_once_the_sessions_are_warm(void **state)
{
	struct fixture *f = *state = fixture_new(NULL);
	assert_true(metric_now(&f->d, "esaas_db_statements_prepared_total") >= 3);
	/* Every session of the pool (database.pool_size 4) warms: 3 each. */
	int64_t deadline = harness_now_ms() + 20000;
	while (metric_now(&f->d, "esaas_db_statements_prepared_total") < 12 &&
	       harness_now_ms() < deadline)
		msleep(20);
	assert_int_equal(metric_now(&f->d, "esaas_db_statements_prepared_total"), 12);
}

/*
 * A job's end and the claim of the job waiting for its slot are one
 * statement, so one transaction: the claimed job's state starts at the
 * very now() of the end's event.
 */
static void test_a_jobs_end_claims_the_next_job_in_the_same_commit(void **state)
{
	struct esaasd_opts o = {.workers = 1};
	struct fixture *f = *state = fixture_new(&o);
	int64_t a =
		submit_job(&f->d, "test", "first", "{\"plan\": {\"prepare\": [\"sleep:1000\"]}}");
	assert_true(a > 0);
	char aid[24], bid[24];
	snprintf(aid, sizeof(aid), "%lld", (long long)a);
	const char *pa[] = {aid};
	int64_t deadline = harness_now_ms() + 10000;
	while (sql_int(f->sql, "SELECT count(*) FROM jobs WHERE id = $1 AND status = 'running'", 1,
		       pa) != 1 &&
	       harness_now_ms() < deadline)
		msleep(5);
	/* The only worker is busy: the next job waits for the slot. */
	int64_t b = submit_job(&f->d, "test", "second", "{\"plan\": {\"prepare\": [\"hang\"]}}");
	assert_true(b > 0);
	snprintf(bid, sizeof(bid), "%lld", (long long)b);
	const char *pb[] = {bid};
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM jobs WHERE id = $1 AND status = 'queued'", 1,
				 pb),
			 1);
	json_t *job = wait_job_done(&f->d, a, 20000);
	assert_non_null(job);
	assert_string_equal(jstr(job, "status"), "succeeded");
	json_decref(job);
	deadline = harness_now_ms() + 10000;
	while (sql_int(f->sql, "SELECT count(*) FROM jobs WHERE id = $1 AND status = 'running'", 1,
		       pb) != 1 &&
	       harness_now_ms() < deadline)
		msleep(5);
	const char *pab[] = {aid, bid};
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM jobs b, job_events e"
				 " WHERE b.id = $2 AND b.status = 'running' AND e.job_id = $1"
				 "  AND e.outcome = 'succeeded' AND b.state_entered_at = e.at",
				 2, pab),
			 1);
}

static void test_long_observations_are_cut_with_a_note(void **state)
{
	struct esaasd_opts o = {.engine_yaml = "  detail_max_bytes: 1024\n"};
	struct fixture *f = *state = fixture_new(&o);
	int64_t id =
		submit_job(&f->d, "test", "logs", "{\"plan\": {\"work\": [\"bigfail:200000\"]}}");
	json_t *job = wait_job_done(&f->d, id, 20000);
	assert_non_null(job);
	assert_string_equal(jstr(job, "status"), "failed");
	const char *err = jstr(job, "error");
	assert_true(strlen(err) <= 1024);
	assert_non_null(strstr(err, "work: abcdefghabcdefgh"));
	assert_non_null(strstr(err, "...[cut: "));
	json_decref(job);

	char qid[24];
	snprintf(qid, sizeof(qid), "%lld", (long long)id);
	const char *q[] = {qid};
	assert_int_equal(sql_int(f->sql, "SELECT count(*) FROM job_events WHERE job_id = $1", 1, q),
			 sql_int(f->sql,
				 "SELECT count(*) FROM job_events WHERE job_id = $1"
				 " AND (detail IS NULL OR octet_length(detail) <= 1024)",
				 1, q));
	assert_true(sql_int(f->sql,
			    "SELECT count(*) FROM job_events WHERE job_id = $1"
			    " AND detail LIKE '%...[cut: 2000__ bytes in all]'",
			    1, q) >= 1);
	assert_int_equal(sql_int(f->sql,
				 "SELECT max(octet_length(coalesce(observation, ''))"
				 " + octet_length(coalesce(error, ''))) FROM jobs WHERE id = $1",
				 1, q) <= 2048,
			 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_job_runs_every_state_in_order, teardown),
		cmocka_unit_test_teardown(test_transient_failures_are_retried, teardown),
		cmocka_unit_test_teardown(test_attempts_exhausted_fails_and_cleans_up, teardown),
		cmocka_unit_test_teardown(test_permanent_failure, teardown),
		cmocka_unit_test_teardown(test_deadline_fails_with_last_observation, teardown),
		cmocka_unit_test_teardown(test_deadline_aborts_a_hung_handler, teardown),
		cmocka_unit_test_teardown(test_cancel_queued_and_running, teardown),
		cmocka_unit_test_teardown(test_cancel_waiting_job_does_not_wait_out_the_delay,
					  teardown),
		cmocka_unit_test_teardown(test_jobs_of_one_cluster_run_in_order, teardown),
		cmocka_unit_test_teardown(test_idempotency_key, teardown),
		cmocka_unit_test_teardown(test_api_reads_and_errors, teardown),
		cmocka_unit_test_teardown(test_kill_9_then_restart_finishes_each_job_once,
					  teardown),
		cmocka_unit_test_teardown(test_two_daemons_never_run_a_state_twice_at_once,
					  teardown),
		cmocka_unit_test_teardown(test_postgres_restart_under_load, teardown),
		cmocka_unit_test_teardown(test_sigterm_drains_and_releases, teardown),
		cmocka_unit_test_teardown(test_schema_newer_than_binary_is_refused, teardown),
		cmocka_unit_test_teardown(test_two_daemons_migrate_one_database_at_once, teardown),
		cmocka_unit_test_teardown(test_readyz_follows_the_database, teardown),
		cmocka_unit_test_teardown(test_json_logs, teardown),
		cmocka_unit_test(test_command_line),
		cmocka_unit_test_teardown(test_sighup_reopens_the_log_file, teardown),
		cmocka_unit_test_teardown(test_invalid_utf8_message_is_scrubbed, teardown),
		cmocka_unit_test_teardown(test_refused_transition_is_isolated_and_handed_back,
					  teardown),
		cmocka_unit_test_teardown(test_started_job_blocks_its_cluster, teardown),
		cmocka_unit_test_teardown(test_unknown_kind_is_not_claimed, teardown),
		cmocka_unit_test_teardown(test_hung_request_stalls_nothing_else, teardown),
		cmocka_unit_test_teardown(test_wait_that_sees_nothing_new_writes_one_event,
					  teardown),
		cmocka_unit_test_teardown(test_events_come_in_pages, teardown),
		cmocka_unit_test_teardown(test_long_observations_are_cut_with_a_note, teardown),
		cmocka_unit_test_teardown(test_ready_only_once_the_sessions_are_warm, teardown),
		cmocka_unit_test_teardown(test_reconnected_sessions_prepare_their_statements_again,
					  teardown),
		cmocka_unit_test_teardown(test_a_jobs_end_claims_the_next_job_in_the_same_commit,
					  teardown),
		cmocka_unit_test_teardown(test_finished_jobs_events_are_pruned_in_batches,
					  teardown),
	};
	/* ESAAS_TEST_FILTER=test_kill_* runs a subset. */
	const char *filter = getenv("ESAAS_TEST_FILTER");
	if (filter && *filter)
		cmocka_set_test_filter(filter);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
