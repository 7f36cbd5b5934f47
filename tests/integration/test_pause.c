/*
 * Pause and resume end to end: a cluster's pause stops its job at the next
 * safe boundary with status paused (a rolling restart between two pods,
 * allocation back and green), holds its queued jobs while the health
 * sweep goes on, survives kill -9 of esaasd (before and after the
 * boundary), lets a cancel run its cleanup, and is refused clearly.
 * esaasd-test runs against esaas-sim and a private PostgreSQL.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>
#include "common/util.h"
#include "tests/integration/harness.h"

static struct pg pg;

#define JOB_TIMEOUT_MS 120000

static const char SIM_CONFIG[] = "tick_ms: 20\n"
				 "nodes:\n  count: 4\n  racks: [rack-a, rack-b]\n"
				 "elasticsearch:\n  relocation_ms: 200\n  recovery_ms: 50\n  "
				 "no_master_wait_ms: 500\n  node_left_delay_ms: 2000\n"
				 "  indices:\n    - {name: logs, shards: 2, replicas: 1}\n";

/* The health sweep every second: it must go on while a cluster is paused. */
static const char WATCHED_YAML[] = "monitor:\n  interval_seconds: 1\n  jitter_percent: 10\n";

/* Three pods: a rolling restart has two boundaries between them. */
#define SMALL_CLUSTER(name)                                                                  \
	"{\"name\": \"" name "\", \"version\": \"7.17.10\", \"masters\": {\"replicas\": 1}," \
	" \"data\": {\"replicas\": 2}, \"clients\": {\"replicas\": 0}}"

struct fixture {
	char dburl[600];
	struct sim sim;
	struct esaasd d;
	struct esaasd_opts o;
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

static struct fixture *fixture_new(int lease_s)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	assert_non_null(pg_new_database(&pg, f->dburl, sizeof(f->dburl)));
	assert_true(sim_start(&f->sim, pg.dir, SIM_CONFIG));
	f->o = (struct esaasd_opts){.kubeconfig = f->sim.kubeconfig,
				    .retry_base_ms = 50,
				    .retry_cap_ms = 300,
				    .lease_s = lease_s,
				    .heartbeat_s = lease_s ? (lease_s + 2) / 3 : 0,
				    .extra_yaml = WATCHED_YAML};
	assert_true(esaasd_start(&f->d, pg.dir, f->dburl, &f->o));
	f->sql = sql_connect(f->dburl);
	return f;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	if (!f)
		return 0;
	int rc = f->d.pid > 0 ? esaasd_stop(&f->d, SIGTERM, true) : 0;
	bool in_spec = sim_es_requests_in_spec(&f->sim);
	int src = sim_stop(&f->sim);
	if (rc != 0)
		fprintf(stderr, "esaasd exited with %d on SIGTERM; see %s\n", rc, f->d.log);
	if (src != 0)
		fprintf(stderr, "esaas-sim exited with %d on SIGTERM; see %s\n", src, f->sim.log);
	PQfinish(f->sql);
	free(f);
	return rc == 0 && src == 0 && in_spec ? 0 : -1;
}

static void expect_ok(struct fixture *f, int64_t id)
{
	assert_true(id > 0);
	assert_true(job_succeeded(&f->d, id, JOB_TIMEOUT_MS));
}

/* A POST with a body; its status, and its answer in *out (decref it) when out. */
static long post(struct fixture *f, const char *path, const char *body, json_t **out)
{
	struct http_resp r;
	assert_true(http_call(&f->d, "POST", path, body, NULL, &r));
	long st = r.status;
	if (out)
		*out = json_incref(r.body);
	http_resp_free(&r);
	return st;
}

static json_t *get(struct fixture *f, const char *path)
{
	struct http_resp r;
	assert_true(http_call(&f->d, "GET", path, NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	json_t *b = json_incref(r.body);
	http_resp_free(&r);
	return b;
}

static long long job_sql(struct fixture *f, int64_t id, const char *sql)
{
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	const char *q[] = {ids};
	return sql_int(f->sql, sql, 1, q);
}

/* Poll the job's row until its state is one of the '|'-separated list and it still runs. */
static bool wait_state(struct fixture *f, int64_t id, const char *states, int timeout_ms)
{
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	const char *q[] = {ids, states};
	int64_t deadline = harness_now_ms() + timeout_ms;
	while (harness_now_ms() < deadline) {
		if (sql_int(f->sql,
			    "SELECT count(*) FROM jobs WHERE id = $1"
			    " AND state = ANY (string_to_array($2, '|'))"
			    " AND status IN ('running', 'waiting')",
			    2, q) == 1)
			return true;
		msleep(20);
	}
	return false;
}

/* Pods deleted by esaasd so far (the simulator's record). */
static size_t pod_deletions(struct fixture *f)
{
	json_t *st = sim_record(&f->sim);
	assert_non_null(st);
	size_t n = json_array_size(json_object_get(st, "pod_deletions"));
	json_decref(st);
	return n;
}

/* The job, paused before restart_next with the pause's reason, held by no one. */
static void expect_paused(struct fixture *f, int64_t id, const char *reason)
{
	json_t *job = wait_job_status(&f->d, id, "paused", JOB_TIMEOUT_MS);
	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "state")), "restart_next");
	const char *obs = json_string_value(json_object_get(job, "observation"));
	if (!obs || !strstr(obs, reason))
		fail_msg("the paused job's observation does not give the reason: %s",
			 obs ? obs : "(none)");
	json_decref(job);
	assert_int_equal(job_sql(f, id,
				 "SELECT count(*) FROM jobs WHERE id = $1 AND status = 'paused'"
				 " AND lease_owner IS NULL"),
			 1);
}

/* --- esaasctl --------------------------------------------------------------------------- */

static void expect_ctl(struct fixture *f, const char *args, int status, const char *says)
{
	char *out = NULL;
	int st = harness_ctl(&f->d, pg.dir, args, &out);
	if (st != status || (says && !strstr(out, says)))
		fail_msg("esaasctl %s: exit %d, expected %d saying \"%s\":\n%s", args, st, status,
			 says ? says : "", out);
	free(out);
}

/* --- a rolling restart paused between two pods --------------------------------------- */

static void test_pause_stops_a_rolling_restart_between_nodes_and_resume_finishes_it(void **state)
{
	struct fixture *f = *state = fixture_new(0);
	expect_ok(f, post_cluster(&f->d, SMALL_CLUSTER("calm")));
	size_t before = pod_deletions(f);
	int64_t id = api_op(&f->d, "POST", "/api/v1/clusters/calm/restart", "{}", NULL);
	assert_true(id > 0);
	/* In the middle of a pod: allocation of replicas paused, the pod on its way. */
	assert_true(wait_state(f, id, "restart_flush|restart_delete_pod|restart_wait_pod",
			       JOB_TIMEOUT_MS));
	json_t *a = NULL;
	assert_int_equal(post(f, "/api/v1/clusters/calm/pause",
			      "{\"reason\": \"latency under investigation\"}", &a),
			 202);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "job"), "id")), id);
	assert_non_null(
		strstr(json_string_value(json_object_get(a, "message")), "next safe boundary"));
	json_decref(a);

	expect_paused(f, id, "latency under investigation");
	/* Nothing half-done: the pod in flight finished, allocation back, green. */
	sim_expect_settled(&f->sim, "calm", 3);
	size_t at_pause = pod_deletions(f) - before;
	assert_true(at_pause >= 1 && at_pause < 3);
	json_t *c = get(f, "/api/v1/clusters/calm");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(c, "paused"), "reason")),
		"latency under investigation");
	json_decref(c);

	assert_int_equal(
		post(f, "/api/v1/clusters/calm/resume", "{\"reason\": \"latency explained\"}", &a),
		202);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "job"), "id")), id);
	json_decref(a);
	expect_ok(f, id);
	sim_expect_settled(&f->sim, "calm", 3);

	/* Every pod restarted once, by the same job; its history goes on where it stopped. */
	json_t *st = sim_record(&f->sim);
	json_t *dels = json_object_get(st, "pod_deletions");
	assert_int_equal(json_array_size(dels) - before, 3);
	for (size_t i = before; i < json_array_size(dels); i++)
		for (size_t j = i + 1; j < json_array_size(dels); j++)
			assert_string_not_equal(
				json_string_value(json_object_get(json_array_get(dels, i), "name")),
				json_string_value(
					json_object_get(json_array_get(dels, j), "name")));
	json_decref(st);
	assert_int_equal(job_sql(f, id,
				 "SELECT count(*) FROM job_events WHERE job_id = $1"
				 " AND outcome = 'paused'"),
			 1);
	assert_int_equal(job_sql(f, id,
				 "SELECT count(*) FROM job_events q, job_events p, job_events r"
				 " WHERE q.job_id = $1 AND q.outcome = 'pause_requested'"
				 "  AND q.reason = 'latency under investigation'"
				 "  AND p.job_id = $1 AND p.outcome = 'paused'"
				 "  AND p.to_state = 'restart_next' AND p.status = 'paused'"
				 "  AND p.id > q.id AND r.job_id = $1 AND r.outcome = 'resumed'"
				 "  AND r.id > p.id AND r.reason = 'latency explained'"
				 "  AND EXISTS (SELECT 1 FROM job_events n WHERE n.job_id = $1"
				 "   AND n.from_state = 'restart_next' AND n.id > r.id)"),
			 1);
	/* Both in the audit log, by the caller. */
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM audit_log WHERE action IN ('cluster.pause',"
				 " 'cluster.resume') AND detail->>'cluster' = 'calm'"
				 " AND actor LIKE 'token:%'",
				 0, NULL),
			 2);
}

/* --- queued jobs wait ------------------------------------------------------------------ */

static void test_queued_job_waits_while_paused(void **state)
{
	struct fixture *f = *state = fixture_new(0);
	expect_ok(f, post_cluster(&f->d, SMALL_CLUSTER("held")));
	json_t *a = NULL;
	/* No job in progress: the pause is recorded all the same, and said so. */
	assert_int_equal(post(f, "/api/v1/clusters/held/pause", "{\"reason\": \"freeze\"}", &a),
			 200);
	assert_true(json_is_null(json_object_get(a, "job")));
	assert_non_null(
		strstr(json_string_value(json_object_get(a, "message")), "no job is in progress"));
	json_decref(a);
	int64_t scale = api_op(&f->d, "POST", "/api/v1/clusters/held/scale",
			       "{\"role\": \"data\", \"replicas\": 3}", NULL);
	assert_true(scale > 0);
	/* Another cluster's jobs run meanwhile: the engine claims and runs, and
	 * still leaves the paused cluster's job queued, though it came first. */
	expect_ok(f, post_cluster(&f->d, SMALL_CLUSTER("other")));
	assert_int_equal(job_sql(f, scale,
				 "SELECT count(*) FROM jobs WHERE id = $1 AND status = 'queued'"
				 " AND started_at IS NULL"),
			 1);
	/* The health sweep goes on for the paused cluster. */
	int64_t deadline = harness_now_ms() + 30000;
	long long swept = 0;
	while (!swept && harness_now_ms() < deadline) {
		swept = sql_int(f->sql,
				"SELECT count(*) FROM cluster_health h JOIN clusters c"
				" ON c.id = h.cluster_id WHERE c.name = 'held'"
				" AND c.deleted_at IS NULL AND h.checked_at > c.paused_at",
				0, NULL);
		if (!swept)
			msleep(100);
	}
	assert_true(swept == 1);
	assert_int_equal(job_sql(f, scale,
				 "SELECT count(*) FROM jobs WHERE id = $1"
				 " AND status = 'queued'"),
			 1);

	assert_int_equal(post(f, "/api/v1/clusters/held/resume", "{\"reason\": \"thaw\"}", &a),
			 200);
	assert_non_null(strstr(json_string_value(json_object_get(a, "message")), "queued"));
	json_decref(a);
	expect_ok(f, scale);
	sim_expect_settled(&f->sim, "held", 4);
}

/* --- kill -9 --------------------------------------------------------------------------- */

static void restart_esaasd(struct fixture *f)
{
	esaasd_stop(&f->d, SIGKILL, true);
	assert_true(esaasd_start(&f->d, pg.dir, f->dburl, &f->o));
}

static void test_paused_job_survives_kill9(void **state)
{
	struct fixture *f = *state = fixture_new(2);
	expect_ok(f, post_cluster(&f->d, SMALL_CLUSTER("hard")));
	int64_t id = api_op(&f->d, "POST", "/api/v1/clusters/hard/restart", "{}", NULL);
	assert_true(id > 0);
	assert_true(wait_state(f, id, "restart_flush|restart_delete_pod|restart_wait_pod",
			       JOB_TIMEOUT_MS));
	/* Killed between the request and the boundary: the pause is the
	 * cluster's, so whoever takes the job over stops it there. */
	assert_int_equal(
		post(f, "/api/v1/clusters/hard/pause", "{\"reason\": \"kill test\"}", NULL), 202);
	restart_esaasd(f);
	expect_paused(f, id, "kill test");
	sim_expect_settled(&f->sim, "hard", 3);

	/* Killed while paused: paused it stays. */
	restart_esaasd(f);
	/* The new esaasd claims and runs another cluster's create meanwhile. */
	expect_ok(f, post_cluster(&f->d, SMALL_CLUSTER("busy")));
	expect_paused(f, id, "kill test");

	assert_int_equal(post(f, "/api/v1/clusters/hard/resume", "{\"reason\": \"go on\"}", NULL),
			 202);
	expect_ok(f, id);
	sim_expect_settled(&f->sim, "hard", 3);
	assert_int_equal(job_sql(f, id,
				 "SELECT count(*) FROM job_events WHERE job_id = $1"
				 " AND outcome = 'paused'"),
			 1);
}

/* --- cancel ---------------------------------------------------------------------------- */

static void test_cancel_of_a_paused_job_cleans_up(void **state)
{
	struct fixture *f = *state = fixture_new(0);
	expect_ok(f, post_cluster(&f->d, SMALL_CLUSTER("gone")));
	int64_t id = api_op(&f->d, "POST", "/api/v1/clusters/gone/restart", "{}", NULL);
	assert_true(id > 0);
	assert_true(wait_state(f, id, "restart_flush|restart_delete_pod|restart_wait_pod",
			       JOB_TIMEOUT_MS));
	expect_ctl(f, "pause gone --reason hold", 0, "next safe boundary");
	expect_paused(f, id, "hold");
	char *idtext = xasprintf("%lld", (long long)id);
	expect_ctl(f, "jobs list --status paused", 0, idtext);
	expect_ctl(f, "jobs list --cluster gone", 0, "paused");
	expect_ctl(f, "clusters show gone", 0, "Paused:");
	free(idtext);

	char *path = xasprintf("/api/v1/jobs/%lld/cancel", (long long)id);
	long st = post(f, path, "{\"reason\": \"not needed after all\"}", NULL);
	free(path);
	assert_true(st == 200 || st == 202);
	json_t *job = wait_job_done(&f->d, id, JOB_TIMEOUT_MS);
	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "cancelled");
	json_decref(job);
	/* The cleanup ran, though the cluster is still paused. */
	assert_int_equal(job_sql(f, id,
				 "SELECT count(*) FROM job_events WHERE job_id = $1"
				 " AND to_state = 'undo_allocation' AND outcome = 'cancel'"),
			 1);
	assert_int_equal(job_sql(f, id,
				 "SELECT count(*) FROM job_events WHERE job_id = $1"
				 " AND from_state = 'undo_allocation' AND outcome = 'cancelled'"),
			 1);
	sim_expect_settled(&f->sim, "gone", 3);
	json_t *c = get(f, "/api/v1/clusters/gone");
	assert_true(json_is_object(json_object_get(c, "paused")));
	json_decref(c);
	expect_ctl(f, "resume gone", 2, "--reason is required");
	expect_ctl(f, "resume gone --reason done", 0, "no job was paused");
	expect_ctl(f, "resume gone --reason again", 1, "is not paused");
}

/* --- a create ---------------------------------------------------------------------- */

/* A create holds nothing it must undo: it stops between two of its steps. */
static void test_pause_stops_a_create_between_steps(void **state)
{
	struct fixture *f = *state = fixture_new(0);
	int64_t id = post_cluster(&f->d, SMALL_CLUSTER("young"));
	assert_true(id > 0);
	/* Under way (a create still queued would only wait: 200). */
	json_t *under_way = wait_job_status(&f->d, id, "running|waiting", JOB_TIMEOUT_MS);
	assert_non_null(under_way);
	json_decref(under_way);
	assert_int_equal(post(f, "/api/v1/clusters/young/pause", "{\"reason\": \"not yet\"}", NULL),
			 202);
	json_t *job = wait_job_status(&f->d, id, "paused|succeeded", JOB_TIMEOUT_MS);
	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "paused");
	assert_string_not_equal(json_string_value(json_object_get(job, "state")),
				"apply_namespace");
	json_decref(job);
	json_t *c = get(f, "/api/v1/clusters/young");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(c, "observed"), "phase")),
		"creating");
	json_decref(c);
	assert_int_equal(post(f, "/api/v1/clusters/young/resume", "{\"reason\": \"now\"}", NULL),
			 202);
	expect_ok(f, id);
	sim_expect_settled(&f->sim, "young", 3);
}

/* --- refusals -------------------------------------------------------------------------- */

static void expect_error(struct fixture *f, const char *token, const char *path, const char *body,
			 long status, const char *code, const char *field, const char *says)
{
	struct http_resp r;
	char auth[300];
	const char *h[] = {auth, NULL};
	if (token)
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	assert_true(http_call(&f->d, "POST", path, body, token ? h : NULL, &r));
	json_t *e = json_object_get(r.body, "error");
	const char *c = json_string_value(json_object_get(e, "code"));
	const char *fl = json_string_value(json_object_get(e, "field"));
	const char *m = json_string_value(json_object_get(e, "message"));
	if (r.status != status || !c || strcmp(c, code) != 0 ||
	    (field && (!fl || strcmp(fl, field) != 0)) || !m || (says && !strstr(m, says)))
		fail_msg("POST %s %s: %ld %s, expected %ld %s (%s, \"%s\")", path, body ? body : "",
			 r.status, r.raw ? r.raw : "", status, code, field ? field : "-",
			 says ? says : "");
	http_resp_free(&r);
}

static void test_pause_refusals_name_the_reason(void **state)
{
	struct fixture *f = *state = fixture_new(0);
	expect_ok(f, post_cluster(&f->d, SMALL_CLUSTER("firm")));
	const char *p = "/api/v1/clusters/firm/pause", *r = "/api/v1/clusters/firm/resume";

	expect_error(f, NULL, p, NULL, 422, "invalid", "reason", NULL);
	expect_error(f, NULL, p, "{\"reason\": \"  \"}", 422, "invalid", "reason", NULL);
	expect_error(f, NULL, p, "{\"reason\": \"x\", \"why\": 1}", 422, "invalid", "why", NULL);
	expect_error(f, NULL, r, "{}", 422, "invalid", "reason", NULL);
	expect_error(f, NULL, r, "{\"reason\": \"nothing\"}", 409, "not_paused", NULL,
		     "is not paused");
	assert_int_equal(post(f, p, "{\"reason\": \"first\"}", NULL), 200);
	expect_error(f, NULL, p, "{\"reason\": \"second\"}", 409, "already_paused", NULL, "first");
	expect_error(f, NULL, "/api/v1/clusters/nowhere/pause", "{\"reason\": \"x\"}", 404,
		     "not_found", NULL, "nowhere");

	/* Another tenant's member: the cluster is not there for it. */
	json_t *t = NULL;
	struct http_resp hr;
	assert_true(http_call(&f->d, "PUT", "/api/v1/tenants/acme", NULL, NULL, &hr));
	assert_int_equal(hr.status, 201);
	http_resp_free(&hr);
	assert_int_equal(
		post(f, "/api/v1/tokens",
		     "{\"tenant\": \"acme\", \"role\": \"member\", \"description\": \"m\"}", &t),
		201);
	char *member = xstrdup(json_string_value(json_object_get(t, "token")));
	json_decref(t);
	expect_error(f, member, r, "{\"reason\": \"not mine\"}", 404, "not_found", NULL, NULL);
	expect_error(f, member, "/api/v1/clusters/firm/resume?tenant=default",
		     "{\"reason\": \"not mine\"}", 404, "not_found", NULL, NULL);
	expect_error(f, member, p, "{\"reason\": \"not mine\"}", 404, "not_found", NULL, NULL);
	free(member);
	/* Still paused, by the first. */
	json_t *c = get(f, "/api/v1/clusters/firm");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(c, "paused"), "reason")),
		"first");
	json_decref(c);
	assert_int_equal(post(f, r, "{\"reason\": \"over\"}", NULL), 200);
	expect_error(f, NULL, r, "{\"reason\": \"again\"}", 409, "not_paused", NULL, NULL);
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM audit_log WHERE action IN ('cluster.pause',"
				 " 'cluster.resume') AND detail->>'cluster' = 'firm'",
				 0, NULL),
			 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(
			test_pause_stops_a_rolling_restart_between_nodes_and_resume_finishes_it,
			teardown),
		cmocka_unit_test_teardown(test_paused_job_survives_kill9, teardown),
		cmocka_unit_test_teardown(test_queued_job_waits_while_paused, teardown),
		cmocka_unit_test_teardown(test_cancel_of_a_paused_job_cleans_up, teardown),
		cmocka_unit_test_teardown(test_pause_refusals_name_the_reason, teardown),
		cmocka_unit_test_teardown(test_pause_stops_a_create_between_steps, teardown),
	};
	/* ESAAS_TEST_FILTER=test_name (a glob) runs some tests only. */
	if (getenv("ESAAS_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ESAAS_TEST_FILTER"));
	return harness_run_group(tests, group_setup, group_teardown);
}
