/*
 * Maintenance windows end to end: a disruptive job submitted outside its
 * cluster's windows waits queued, then runs when one opens; a rolling
 * restart whose window closes stops at its next safe boundary (nothing
 * half-done) and goes on in the next window; urgent work runs at once and
 * is audited; other work is never held; cancel, kill -9 of esaasd and
 * replay of a held job; refusals of bad windows, each naming its field;
 * another tenant's cluster is not there.  esaasd-test against esaas-sim and
 * a private PostgreSQL.
 *
 * The windows are weekly, so the tests move the windows' clock
 * (esaas_window_clock_shift, 0013_windows.sql) to stand just before a
 * window opens or closes: every window computation of the production path
 * reads the time through it.  After a jump of the clock, a PUT of the same
 * windows gives the held jobs their due time again, as any change of the
 * windows does.
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

/* Three pods: a rolling restart has two boundaries between them. */
#define SMALL_CLUSTER(name)                                                                  \
	"{\"name\": \"" name "\", \"version\": \"7.17.10\", \"masters\": {\"replicas\": 1}," \
	" \"data\": {\"replicas\": 2}, \"clients\": {\"replicas\": 0}}"

/* Saturday 02:00 to 06:00 in Berlin. */
static const char WINDOWS[] = "{\"time_zone\": \"Europe/Berlin\", \"windows\":"
			      " [{\"day\": \"sat\", \"start\": \"02:00\", \"duration\": \"4h\"}]}";
/* The same moments as intervals from Monday 00:00 of a week. */
#define SAT_0200 "5 days 2 hours"
#define SAT_0600 "5 days 6 hours"

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
				    .heartbeat_s = lease_s ? (lease_s + 2) / 3 : 0};
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

/* A call with a body, as the admin (token NULL) or with token; its status,
 * its answer in *out (decref it) when out. */
static long call_as(struct fixture *f, const char *token, const char *method, const char *path,
		    const char *body, json_t **out)
{
	struct http_resp r;
	char auth[300];
	const char *h[] = {auth, NULL};
	if (token)
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	assert_true(http_call(&f->d, method, path, body, token ? h : NULL, &r));
	long st = r.status;
	if (out)
		*out = json_incref(r.body);
	http_resp_free(&r);
	return st;
}

static long call(struct fixture *f, const char *method, const char *path, const char *body,
		 json_t **out)
{
	return call_as(f, NULL, method, path, body, out);
}

static json_t *get(struct fixture *f, const char *path)
{
	json_t *b = NULL;
	assert_int_equal(call(f, "GET", path, NULL, &b), 200);
	return b;
}

static json_t *get_job(struct fixture *f, int64_t id)
{
	char *path = xasprintf("/api/v1/jobs/%lld", (long long)id);
	json_t *job = get(f, path);
	free(path);
	return job;
}

static long long job_sql(struct fixture *f, int64_t id, const char *sql)
{
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	const char *q[] = {ids};
	return sql_int(f->sql, sql, 1, q);
}

/*
 * Stand the windows' clock seconds before (after, when negative) the
 * moment at of the week weeks from this one, in Berlin: at is an interval
 * from Monday 00:00 (SAT_0200).
 */
static void set_clock(struct fixture *f, const char *at, int weeks, int seconds_before)
{
	char w[16], s[16];
	snprintf(w, sizeof(w), "%d", weeks);
	snprintf(s, sizeof(s), "%d", seconds_before);
	const char *q[] = {at, w, s};
	assert_int_equal(
		sql_int(f->sql,
			"WITH u AS (INSERT INTO esaas_window_clock_shift (shift)"
			" SELECT ((date_trunc('week', now() AT TIME ZONE 'Europe/Berlin')"
			"  + $1::interval + $2::int * interval '7 days'"
			"  - $3::int * interval '1 second') AT TIME ZONE 'Europe/Berlin') - now()"
			" ON CONFLICT (one) DO UPDATE SET shift = excluded.shift RETURNING 1)"
			" SELECT count(*) FROM u",
			3, q),
		1);
}

/* PUT the windows of cluster name: the answer (decref it). */
static json_t *put_windows(struct fixture *f, const char *name, const char *windows)
{
	char *path = xasprintf("/api/v1/clusters/%s/maintenance", name);
	json_t *a = NULL;
	long st = call(f, "PUT", path, windows, &a);
	if (st != 200)
		fail_msg("PUT %s: %ld %s", path, st, json_dumps(a, 0));
	free(path);
	return a;
}

/* A cluster with the Saturday window, and the clock where given. */
static void cluster_with_windows(struct fixture *f, const char *spec, const char *name)
{
	expect_ok(f, post_cluster(&f->d, spec));
	json_decref(put_windows(f, name, WINDOWS));
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

/* Poll until the job stopped at a boundary for its window. */
static bool wait_held(struct fixture *f, int64_t id, int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	while (harness_now_ms() < deadline) {
		if (job_sql(f, id,
			    "SELECT count(*) FROM jobs WHERE id = $1 AND window_held"
			    " AND status = 'waiting' AND lease_owner IS NULL") == 1)
			return true;
		msleep(20);
	}
	return false;
}

static size_t pod_deletions(struct fixture *f)
{
	json_t *st = sim_record(&f->sim);
	assert_non_null(st);
	size_t n = json_array_size(json_object_get(st, "pod_deletions"));
	json_decref(st);
	return n;
}

/* The job, queued or held, says it waits for the window opening at next_open. */
static void expect_waits_for_window(struct fixture *f, int64_t id, const char *status)
{
	json_t *job = get_job(f, id);
	json_t *w = json_object_get(job, "window");
	const char *obs = json_string_value(json_object_get(job, "observation"));
	assert_string_equal(json_string_value(json_object_get(job, "status")), status);
	assert_true(json_is_true(json_object_get(job, "windowed")));
	assert_true(json_is_false(json_object_get(w, "open")));
	assert_string_equal(json_string_value(json_object_get(w, "time_zone")), "Europe/Berlin");
	const char *next = json_string_value(json_object_get(w, "next_open"));
	assert_non_null(next);
	if (!obs || !strstr(obs, "waits for the maintenance window opening at") ||
	    !strstr(obs, next))
		fail_msg("job %lld does not say it waits for the window opening at %s: %s",
			 (long long)id, next, obs ? obs : "(none)");
	json_decref(job);
}

static void expect_ctl(struct fixture *f, const char *args, int status, const char *says)
{
	char *out = NULL;
	int st = harness_ctl(&f->d, pg.dir, args, &out);
	if (st != status || (says && !strstr(out, says)))
		fail_msg("esaasctl %s: exit %d, expected %d saying \"%s\":\n%s", args, st, status,
			 says ? says : "", out);
	free(out);
}

/* --- held at submission -------------------------------------------------------------- */

static void test_restart_outside_its_window_waits_queued_then_runs_when_it_opens(void **state)
{
	struct fixture *f = *state = fixture_new(0);
	cluster_with_windows(f, SMALL_CLUSTER("night"), "night");
	/* Ten seconds before Saturday 02:00 in Berlin. */
	set_clock(f, SAT_0200, 0, 10);
	json_t *c = get(f, "/api/v1/clusters/night");
	json_t *m = json_object_get(c, "maintenance");
	assert_true(json_is_false(json_object_get(m, "open")));
	assert_string_equal(json_string_value(json_object_get(m, "source")), "cluster");
	char *opens = xstrdup(json_string_value(json_object_get(m, "next_open")));
	json_decref(c);

	/* The preview names the window as a gate. */
	json_t *plan = NULL;
	assert_int_equal(
		call(f, "POST", "/api/v1/clusters/night/restart?dry_run=true", "{}", &plan), 200);
	char *text = json_dumps(json_object_get(plan, "gates"), 0);
	if (!strstr(text, "\"maintenance_window\"") || !strstr(text, opens))
		fail_msg("the preview's gates do not name the window opening at %s: %s", opens,
			 text);
	free(text);
	json_decref(plan);

	int64_t id = api_op(&f->d, "POST", "/api/v1/clusters/night/restart", "{}", NULL);
	assert_true(id > 0);
	expect_waits_for_window(f, id, "queued");
	expect_ok(f, id);
	/* It started once the window was open, not before. */
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	const char *q2[] = {ids, opens};
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM jobs WHERE id = $1"
				 " AND started_at >= $2::timestamptz",
				 2, q2),
			 1);
	assert_int_equal(
		job_sql(f, id,
			"SELECT count(*) FROM job_events WHERE job_id = $1"
			" AND outcome = 'submitted'"
			" AND detail LIKE 'waits for the maintenance window opening at %'"),
		1);
	sim_expect_settled(&f->sim, "night", 3);
	free(opens);
}

/* --- held at a boundary --------------------------------------------------------------- */

/* A rolling restart in the window, stopped between two pods by its end. */
static int64_t restart_held_at_boundary(struct fixture *f, const char *name, size_t *before)
{
	set_clock(f, SAT_0200, 0, -3600);
	*before = pod_deletions(f);
	char *path = xasprintf("/api/v1/clusters/%s/restart", name);
	int64_t id = api_op(&f->d, "POST", path, "{}", NULL);
	free(path);
	assert_true(id > 0);
	/* In the middle of a pod: allocation of replicas held, the pod on its way. */
	assert_true(wait_state(f, id, "restart_flush|restart_delete_pod|restart_wait_pod",
			       JOB_TIMEOUT_MS));
	/* The window closes: a second after Saturday 06:00. */
	set_clock(f, SAT_0600, 0, -1);
	assert_true(wait_held(f, id, JOB_TIMEOUT_MS));
	json_t *job = get_job(f, id);
	assert_string_equal(json_string_value(json_object_get(job, "state")), "restart_next");
	json_decref(job);
	expect_waits_for_window(f, id, "waiting");
	/* Nothing half-done: the pod in flight finished, allocation back, green. */
	sim_expect_settled(&f->sim, name, 3);
	size_t done = pod_deletions(f) - *before;
	assert_true(done >= 1 && done < 3);
	return id;
}

static void test_rolling_restart_stops_at_a_boundary_when_its_window_closes_and_goes_on_in_the_next(
	void **state)
{
	struct fixture *f = *state = fixture_new(0);
	cluster_with_windows(f, SMALL_CLUSTER("roll"), "roll");
	size_t before = 0;
	int64_t id = restart_held_at_boundary(f, "roll", &before);
	size_t at_hold = pod_deletions(f);

	/* A week later, three seconds before the next window; the windows
	 * PUT again give the held job its due time by the moved clock. */
	set_clock(f, SAT_0200, 1, 3);
	json_t *a = put_windows(f, "roll", WINDOWS);
	assert_int_equal(json_integer_value(json_object_get(a, "replanned")), 1);
	json_decref(a);
	/* Not a pod more before the window opens. */
	expect_waits_for_window(f, id, "waiting");
	assert_int_equal(pod_deletions(f), at_hold);
	expect_ok(f, id);
	sim_expect_settled(&f->sim, "roll", 3);

	/* Every pod restarted once, by the same job. */
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
	/* Its history: held once before restart_next, then on from there. */
	assert_int_equal(job_sql(f, id,
				 "SELECT count(*) FROM job_events p WHERE p.job_id = $1"
				 " AND p.outcome = 'window_closed' AND p.to_state = 'restart_next'"
				 " AND EXISTS (SELECT 1 FROM job_events n WHERE n.job_id = $1"
				 "  AND n.from_state = 'restart_next' AND n.id > p.id)"),
			 1);
}

static void test_cancel_of_a_job_held_at_a_boundary_runs_its_cleanup(void **state)
{
	struct fixture *f = *state = fixture_new(0);
	cluster_with_windows(f, SMALL_CLUSTER("stop"), "stop");
	size_t before = 0;
	int64_t id = restart_held_at_boundary(f, "stop", &before);
	char *path = xasprintf("/api/v1/jobs/%lld/cancel", (long long)id);
	long st = call(f, "POST", path, "{\"reason\": \"not this week\"}", NULL);
	free(path);
	assert_true(st == 200 || st == 202);
	json_t *job = wait_job_done(&f->d, id, JOB_TIMEOUT_MS);
	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "cancelled");
	json_decref(job);
	/* The cleanup ran though the window is closed: it undoes, it never restarts. */
	assert_int_equal(job_sql(f, id,
				 "SELECT count(*) FROM job_events WHERE job_id = $1"
				 " AND from_state = 'undo_allocation' AND outcome = 'cancelled'"),
			 1);
	sim_expect_settled(&f->sim, "stop", 3);
}

/* A pause and a window are separate holds: a resume does not open a closed window. */
static void test_resume_outside_the_window_leaves_the_job_held_for_it(void **state)
{
	struct fixture *f = *state = fixture_new(0);
	cluster_with_windows(f, SMALL_CLUSTER("both"), "both");
	set_clock(f, SAT_0200, 0, -3600);
	int64_t id = api_op(&f->d, "POST", "/api/v1/clusters/both/restart", "{}", NULL);
	assert_true(id > 0);
	assert_true(wait_state(f, id, "restart_flush|restart_delete_pod|restart_wait_pod",
			       JOB_TIMEOUT_MS));
	assert_int_equal(
		call(f, "POST", "/api/v1/clusters/both/pause", "{\"reason\": \"look\"}", NULL),
		202);
	json_t *job = wait_job_status(&f->d, id, "paused", JOB_TIMEOUT_MS);
	assert_non_null(job);
	json_decref(job);
	size_t at_pause = pod_deletions(f);
	/* The window closes while it is paused; the resume leaves it held. */
	set_clock(f, SAT_0600, 0, -60);
	assert_int_equal(
		call(f, "POST", "/api/v1/clusters/both/resume", "{\"reason\": \"seen\"}", NULL),
		202);
	assert_true(wait_held(f, id, JOB_TIMEOUT_MS));
	json_t *j = get_job(f, id);
	json_t *w = json_object_get(j, "window");
	assert_true(json_is_false(json_object_get(w, "open")));
	assert_string_equal(json_string_value(json_object_get(j, "state")), "restart_next");
	json_decref(j);
	assert_int_equal(pod_deletions(f), at_pause);
	sim_expect_settled(&f->sim, "both", 3);
	char *show = xasprintf("jobs show %lld", (long long)id);
	expect_ctl(f, show, 0, "waits for the maintenance window opening at");
	free(show);

	set_clock(f, SAT_0200, 1, 3);
	json_decref(put_windows(f, "both", WINDOWS));
	expect_ok(f, id);
	sim_expect_settled(&f->sim, "both", 3);
}

/* An upgrade restarts every node: it waits for the window as a restart does. */
static void test_upgrade_outside_its_window_waits_queued_then_runs(void **state)
{
	struct fixture *f = *state = fixture_new(0);
	expect_ok(f, post_cluster(&f->d,
				  "{\"name\": \"aged\", \"version\": \"7.16.3\","
				  " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 2},"
				  " \"clients\": {\"replicas\": 0}}"));
	json_decref(put_windows(f, "aged", WINDOWS));
	set_clock(f, SAT_0200, 0, 3600);
	json_t *plan = NULL;
	assert_int_equal(call(f, "POST", "/api/v1/clusters/aged/upgrade?dry_run=true",
			      "{\"version\": \"7.17.10\"}", &plan),
			 200);
	char *text = json_dumps(json_object_get(plan, "gates"), 0);
	if (!strstr(text, "\"maintenance_window\""))
		fail_msg("the upgrade's preview does not name the window: %s", text);
	free(text);
	json_decref(plan);
	int64_t id = api_op(&f->d, "POST", "/api/v1/clusters/aged/upgrade",
			    "{\"version\": \"7.17.10\"}", NULL);
	assert_true(id > 0);
	expect_waits_for_window(f, id, "queued");

	set_clock(f, SAT_0200, 0, 3);
	json_decref(put_windows(f, "aged", WINDOWS));
	expect_ok(f, id);
	json_t *c = get(f, "/api/v1/clusters/aged");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(c, "spec"), "version")),
		"7.17.10");
	json_decref(c);
}

/* --- urgent, and what is never held ------------------------------------------------------ */

static void expect_refused(struct fixture *f, const char *token, const char *method,
			   const char *path, const char *body, long status, const char *field)
{
	json_t *a = NULL;
	long st = call_as(f, token, method, path, body, &a);
	json_t *e = json_object_get(a, "error");
	const char *fl = json_string_value(json_object_get(e, "field"));
	if (st != status || (field && (!fl || strcmp(fl, field) != 0)))
		fail_msg("%s %s %s: %ld %s, expected %ld naming %s", method, path, body ? body : "",
			 st, a ? json_dumps(a, 0) : "", status, field ? field : "-");
	json_decref(a);
}

static void test_urgent_restart_runs_outside_the_window_and_is_audited(void **state)
{
	struct fixture *f = *state = fixture_new(0);
	cluster_with_windows(f, SMALL_CLUSTER("hot"), "hot");
	/* An hour before the window. */
	set_clock(f, SAT_0200, 0, 3600);
	const char *p = "/api/v1/clusters/hot/restart";
	expect_refused(f, NULL, "POST", p, "{\"urgent\": {}}", 422, "urgent.reason");
	expect_refused(f, NULL, "POST", p, "{\"urgent\": {\"reason\": \"  \"}}", 422,
		       "urgent.reason");
	expect_refused(f, NULL, "POST", p, "{\"urgent\": \"now\"}", 422, "urgent");
	expect_refused(f, NULL, "POST", "/api/v1/clusters/hot/scale",
		       "{\"role\": \"data\", \"replicas\": 3, \"urgent\": {\"reason\": \"x\"}}",
		       422, "urgent");
	/* Nothing was queued by the refusals. */
	assert_int_equal(
		sql_int(f->sql, "SELECT count(*) FROM jobs WHERE cluster = 'hot'", 0, NULL), 1);

	int64_t id = api_op(&f->d, "POST", p, "{\"urgent\": {\"reason\": \"CVE fix\"}}", NULL);
	expect_ok(f, id);
	json_t *job = get_job(f, id);
	assert_true(json_is_false(json_object_get(job, "windowed")));
	assert_string_equal(json_string_value(json_object_get(job, "urgent_reason")), "CVE fix");
	json_decref(job);
	assert_int_equal(job_sql(f, id,
				 "SELECT count(*) FROM job_events WHERE job_id = $1"
				 " AND outcome = 'urgent' AND reason = 'CVE fix'"
				 " AND actor LIKE 'token:%'"),
			 1);
	assert_int_equal(job_sql(f, id,
				 "SELECT count(*) FROM audit_log WHERE action = 'job.urgent'"
				 " AND (detail->>'job')::bigint = $1"
				 " AND detail->>'reason' = 'CVE fix'"),
			 1);
	/* esaasctl's --urgent, and the window still closed for the others. */
	expect_ctl(f, "restart hot --urgent \"second fix\" --wait", 0, "succeeded");
	sim_expect_settled(&f->sim, "hot", 3);
	expect_ctl(f, "clusters show hot", 0, "closed, next opens at");
}

static void test_scale_up_and_dynamic_settings_are_never_held(void **state)
{
	struct fixture *f = *state = fixture_new(0);
	cluster_with_windows(f, SMALL_CLUSTER("free"), "free");
	set_clock(f, SAT_0200, 0, 3600);
	int64_t scale = api_op(&f->d, "POST", "/api/v1/clusters/free/scale",
			       "{\"role\": \"data\", \"replicas\": 3}", NULL);
	expect_ok(f, scale);
	json_t *job = get_job(f, scale);
	assert_true(json_is_false(json_object_get(job, "windowed")));
	assert_true(json_is_null(json_object_get(job, "window")));
	json_decref(job);
	int64_t dyn = api_op(&f->d, "PATCH", "/api/v1/clusters/free/config",
			     "{\"settings\": {\"search.max_buckets\": 20000}}", NULL);
	expect_ok(f, dyn);

	/* A static setting restarts every node: it waits; a cancel ends it at once. */
	int64_t st =
		api_op(&f->d, "PATCH", "/api/v1/clusters/free/config",
		       "{\"settings\": {\"indices.query.bool.max_clause_count\": 2048}}", NULL);
	assert_true(st > 0);
	expect_waits_for_window(f, st, "queued");
	char *path = xasprintf("/api/v1/jobs/%lld/cancel", (long long)st);
	assert_int_equal(call(f, "POST", path, "{\"reason\": \"wrong week\"}", NULL), 200);
	free(path);
	job = get_job(f, st);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "cancelled");
	/* Cancelled where it waited: it never started. */
	assert_true(json_is_null(json_object_get(job, "started_at")));
	json_decref(job);
	sim_expect_settled(&f->sim, "free", 4);
}

/* --- kill -9 and replay ----------------------------------------------------------------- */

static void test_job_held_for_its_window_survives_kill9(void **state)
{
	struct fixture *f = *state = fixture_new(2);
	cluster_with_windows(f, SMALL_CLUSTER("hard"), "hard");
	set_clock(f, SAT_0200, 0, 3600);
	int64_t id = api_op(&f->d, "POST", "/api/v1/clusters/hard/restart", "{}", NULL);
	assert_true(id > 0);
	expect_waits_for_window(f, id, "queued");
	esaasd_stop(&f->d, SIGKILL, true);
	assert_true(esaasd_start(&f->d, pg.dir, f->dburl, &f->o));
	/* The new esaasd claims and runs another cluster's create meanwhile,
	 * and leaves the held job queued. */
	expect_ok(f, post_cluster(&f->d, SMALL_CLUSTER("busy")));
	expect_waits_for_window(f, id, "queued");
	assert_int_equal(
		job_sql(f, id, "SELECT count(*) FROM jobs WHERE id = $1 AND started_at IS NULL"),
		1);

	set_clock(f, SAT_0200, 0, 3);
	json_decref(put_windows(f, "hard", WINDOWS));
	expect_ok(f, id);
	sim_expect_settled(&f->sim, "hard", 3);
}

/* Killed in the middle of a pod, as its window closes: whoever takes the
 * job over finishes that pod and holds the job at the next boundary. */
static void test_job_whose_esaasd_is_killed_as_its_window_closes_stops_at_its_boundary(void **state)
{
	struct fixture *f = *state = fixture_new(2);
	cluster_with_windows(f, SMALL_CLUSTER("cut"), "cut");
	set_clock(f, SAT_0200, 0, -3600);
	size_t before = pod_deletions(f);
	int64_t id = api_op(&f->d, "POST", "/api/v1/clusters/cut/restart", "{}", NULL);
	assert_true(id > 0);
	assert_true(wait_state(f, id, "restart_flush|restart_delete_pod|restart_wait_pod",
			       JOB_TIMEOUT_MS));
	set_clock(f, SAT_0600, 0, -1);
	esaasd_stop(&f->d, SIGKILL, true);
	assert_true(esaasd_start(&f->d, pg.dir, f->dburl, &f->o));
	assert_true(wait_held(f, id, JOB_TIMEOUT_MS));
	expect_waits_for_window(f, id, "waiting");
	sim_expect_settled(&f->sim, "cut", 3);
	size_t done = pod_deletions(f) - before;
	assert_true(done >= 1 && done < 3);

	set_clock(f, SAT_0200, 1, 3);
	json_decref(put_windows(f, "cut", WINDOWS));
	expect_ok(f, id);
	sim_expect_settled(&f->sim, "cut", 3);
	assert_int_equal(pod_deletions(f) - before, 3);
}

static void test_replay_of_a_failed_job_waits_for_the_window(void **state)
{
	struct fixture *f = *state = fixture_new(0);
	cluster_with_windows(f, SMALL_CLUSTER("again"), "again");
	/* In the window: a restart of a pod that does not exist fails. */
	set_clock(f, SAT_0200, 0, -60);
	int64_t id = api_op(&f->d, "POST", "/api/v1/clusters/again/restart",
			    "{\"nodes\": [\"es-data-7\"]}", NULL);
	assert_true(id > 0);
	json_t *job = wait_job_done(&f->d, id, JOB_TIMEOUT_MS);
	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "failed");
	json_decref(job);

	/* Replayed outside the window, it waits for the next one. */
	set_clock(f, SAT_0200, 1, 3600);
	char *path = xasprintf("/api/v1/jobs/%lld/replay", (long long)id);
	long st = call(f, "POST", path, "{\"reason\": \"after the fix\"}", NULL);
	free(path);
	assert_true(st == 200 || st == 202);
	expect_waits_for_window(f, id, "queued");
	long long events = job_sql(f, id, "SELECT max(id) FROM job_events WHERE job_id = $1");

	set_clock(f, SAT_0200, 1, 3);
	json_decref(put_windows(f, "again", WINDOWS));
	job = wait_job_done(&f->d, id, JOB_TIMEOUT_MS);
	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "failed");
	json_decref(job);
	char ev[24];
	snprintf(ev, sizeof(ev), "%lld", events);
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	const char *q[] = {ids, ev};
	/* It ran again, once the window was open. */
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM job_events WHERE job_id = $1 AND id > $2"
				 " AND from_state = 'restart_plan'",
				 2, q),
			 1);
	sim_expect_settled(&f->sim, "again", 3);
}

/* --- refusals ----------------------------------------------------------------------------- */

static void test_bad_windows_are_refused_naming_the_field_and_change_nothing(void **state)
{
	struct fixture *f = *state = fixture_new(0);
	expect_ok(f, post_cluster(&f->d, SMALL_CLUSTER("strict")));
	const char *p = "/api/v1/clusters/strict/maintenance";
	static const struct {
		const char *body, *field;
	} bad[] = {
		{"{\"windows\": []}", "time_zone"},
		{"{\"time_zone\": \"Mars/Olympus\", \"windows\": []}", "time_zone"},
		{"{\"time_zone\": 7, \"windows\": []}", "time_zone"},
		{"{\"time_zone\": \"UTC\", \"windows\": {}}", "windows"},
		{"{\"time_zone\": \"UTC\"}", "windows"},
		{"{\"time_zone\": \"UTC\", \"windows\": [], \"zone\": 1}", "zone"},
		{"{\"time_zone\": \"UTC\", \"windows\": [7]}", "windows[0]"},
		{"{\"time_zone\": \"UTC\", \"windows\": [{\"day\": \"sunday\", \"start\": "
		 "\"02:00\","
		 " \"duration\": \"4h\"}]}",
		 "windows[0].day"},
		{"{\"time_zone\": \"UTC\", \"windows\": [{\"day\": \"sun\", \"start\": \"02:00\","
		 " \"duration\": \"4h\"}, {\"day\": \"mon\", \"start\": \"24:00\","
		 " \"duration\": \"4h\"}]}",
		 "windows[1].start"},
		{"{\"time_zone\": \"UTC\", \"windows\": [{\"day\": \"sun\", \"start\": \"2:00\","
		 " \"duration\": \"4h\"}]}",
		 "windows[0].start"},
		{"{\"time_zone\": \"UTC\", \"windows\": [{\"day\": \"sun\", \"start\": \"02:00\","
		 " \"duration\": \"10m\"}]}",
		 "windows[0].duration"},
		{"{\"time_zone\": \"UTC\", \"windows\": [{\"day\": \"sun\", \"start\": \"02:00\","
		 " \"duration\": \"25h\"}]}",
		 "windows[0].duration"},
		{"{\"time_zone\": \"UTC\", \"windows\": [{\"day\": \"sun\", \"start\": \"02:00\","
		 " \"duration\": \"4 hours\"}]}",
		 "windows[0].duration"},
		{"{\"time_zone\": \"UTC\", \"windows\": [{\"day\": \"sun\", \"start\": "
		 "\"02:00\"}]}",
		 "windows[0].duration"},
		{"{\"time_zone\": \"UTC\", \"windows\": [{\"day\": \"sun\", \"start\": \"02:00\","
		 " \"duration\": \"4h\", \"tz\": \"UTC\"}]}",
		 "windows[0]"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		expect_refused(f, NULL, "PUT", p, bad[i].body, 422, bad[i].field);
	/* Fifteen windows: one too many. */
	char many[2048] = "{\"time_zone\": \"UTC\", \"windows\": [";
	for (int i = 0; i < 15; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many),
			 "%s{\"day\": \"mon\", \"start\": \"01:00\", \"duration\": \"1h\"}",
			 i ? ", " : "");
	snprintf(many + strlen(many), sizeof(many) - strlen(many), "]}");
	expect_refused(f, NULL, "PUT", p, many, 422, "windows");
	json_t *c = get(f, "/api/v1/clusters/strict");
	assert_true(json_is_null(json_object_get(json_object_get(c, "maintenance"), "windows")));
	json_decref(c);
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM audit_log WHERE action LIKE '%.maintenance'",
				 0, NULL),
			 0);

	/* The tenant's default, then the cluster's own, which wins. */
	assert_int_equal(call(f, "PUT", "/api/v1/tenants/default/maintenance", WINDOWS, NULL), 200);
	c = get(f, "/api/v1/clusters/strict");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(c, "maintenance"), "source")),
		"tenant");
	json_decref(c);
	expect_ctl(f, "maintenance set strict --time-zone UTC --window \"sun 03:00 2h\"", 0,
		   "UTC: sun 03:00 for 2h");
	expect_ctl(f, "clusters show strict", 0, "UTC: sun 03:00 for 2h");
	expect_ctl(f, "maintenance set strict --time-zone UTC --window \"sun 3 2h\"", 1,
		   "windows[0].start");
	expect_ctl(f, "maintenance clear strict", 0, "the tenant's default");
	expect_ctl(f, "maintenance show strict", 0, "Europe/Berlin: sat 02:00 for 4h");

	/* Another tenant's member: the cluster is not there for it, and the
	 * tenant's default is the admin's. */
	struct http_resp hr;
	assert_true(http_call(&f->d, "PUT", "/api/v1/tenants/acme", NULL, NULL, &hr));
	assert_int_equal(hr.status, 201);
	http_resp_free(&hr);
	json_t *t = NULL;
	assert_int_equal(
		call(f, "POST", "/api/v1/tokens",
		     "{\"tenant\": \"acme\", \"role\": \"member\", \"description\": \"m\"}", &t),
		201);
	char *member = xstrdup(json_string_value(json_object_get(t, "token")));
	json_decref(t);
	expect_refused(f, member, "PUT", p, WINDOWS, 404, NULL);
	expect_refused(f, member, "PUT", "/api/v1/clusters/strict/maintenance?tenant=default",
		       WINDOWS, 404, NULL);
	expect_refused(f, member, "DELETE", p, NULL, 404, NULL);
	expect_refused(f, member, "PUT", "/api/v1/tenants/default/maintenance", WINDOWS, 403, NULL);
	expect_refused(f, member, "POST", "/api/v1/clusters/strict/restart",
		       "{\"urgent\": {\"reason\": \"not mine\"}}", 404, NULL);
	free(member);
	c = get(f, "/api/v1/clusters/strict");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(c, "maintenance"), "source")),
		"tenant");
	json_decref(c);
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM audit_log WHERE action LIKE '%.maintenance'"
				 " AND actor LIKE 'token:%'",
				 0, NULL),
			 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(
			test_restart_outside_its_window_waits_queued_then_runs_when_it_opens,
			teardown),
		cmocka_unit_test_teardown(
			test_rolling_restart_stops_at_a_boundary_when_its_window_closes_and_goes_on_in_the_next,
			teardown),
		cmocka_unit_test_teardown(test_cancel_of_a_job_held_at_a_boundary_runs_its_cleanup,
					  teardown),
		cmocka_unit_test_teardown(test_upgrade_outside_its_window_waits_queued_then_runs,
					  teardown),
		cmocka_unit_test_teardown(test_resume_outside_the_window_leaves_the_job_held_for_it,
					  teardown),
		cmocka_unit_test_teardown(
			test_urgent_restart_runs_outside_the_window_and_is_audited, teardown),
		cmocka_unit_test_teardown(test_scale_up_and_dynamic_settings_are_never_held,
					  teardown),
		cmocka_unit_test_teardown(test_job_held_for_its_window_survives_kill9, teardown),
		cmocka_unit_test_teardown(
			test_job_whose_esaasd_is_killed_as_its_window_closes_stops_at_its_boundary,
			teardown),
		cmocka_unit_test_teardown(test_replay_of_a_failed_job_waits_for_the_window,
					  teardown),
		cmocka_unit_test_teardown(
			test_bad_windows_are_refused_naming_the_field_and_change_nothing, teardown),
	};
	/* ESAAS_TEST_FILTER=test_name (a glob) runs some tests only. */
	if (getenv("ESAAS_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ESAAS_TEST_FILTER"));
	return harness_run_group(tests, group_setup, group_teardown);
}
