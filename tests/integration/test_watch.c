/*
 * Waits that wake on change: esaasd watches the pods and EndpointSlices of
 * a cluster's namespace (kube/watch.h), and a create's waits run again as
 * soon as something they read changes, not at their next poll; a health
 * wait asks Elasticsearch only once its Service has an endpoint; a watch
 * the server says is too old (410) lists again; a watch that cannot be
 * held leaves the waits to their polls.
 *
 * The waits' poll interval is made long (engine.wait_poll_ms 60 s) so that
 * a wait woken by its watch and one that waited out its poll cannot be
 * told apart by luck: each wait's next run is read from the job's events
 * (when the wait was parked, when the job ran again).
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

#include "common/json.h"
#include "common/util.h"
#include "tests/integration/harness.h"

#define LONG_POLL_MS 60000

static struct pg pg;

static const char SIM_CONFIG[] = "tick_ms: 20\n"
				 "nodes:\n  count: 4\n  racks: [rack-a, rack-b]\n"
				 "elasticsearch:\n  relocation_ms: 200\n  recovery_ms: 50\n"
				 "  no_master_wait_ms: 500\n";

static const char SPEC[] = "{\"name\": \"%s\", \"version\": \"7.17.10\","
			   " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 2},"
			   " \"clients\": {\"replicas\": 0}}";

struct fixture {
	char dburl[600];
	struct sim sim;
	struct esaasd d;
	PGconn *sql;
};

static int group_setup(void **state)
{
	(void)state;
	return pg_start(&pg) ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	pg_finish(&pg);
	return 0;
}

/* Pods whose containers take 8 s to start: a create still waits on its
 * pods for seconds after its namespace's watches began. */
static const char SLOW_PODS_CONFIG[] = "tick_ms: 20\n"
				       "nodes:\n  count: 4\n  racks: [rack-a, rack-b]\n"
				       "pods:\n  ready_delay_ms: 8000\n"
				       "elasticsearch:\n  relocation_ms: 200\n  recovery_ms: 50\n"
				       "  no_master_wait_ms: 500\n";

static struct fixture *fixture_with(int wait_poll_ms, const char *sim_config)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	assert_non_null(pg_new_database(&pg, f->dburl, sizeof(f->dburl)));
	assert_true(sim_start(&f->sim, pg.dir, sim_config));
	struct esaasd_opts o = {.kubeconfig = f->sim.kubeconfig,
				.wait_poll_ms = wait_poll_ms,
				.retry_base_ms = 100,
				.retry_cap_ms = 500};
	assert_true(esaasd_start(&f->d, pg.dir, f->dburl, &o));
	f->sql = sql_connect(f->dburl);
	return f;
}

static struct fixture *fixture_new(int wait_poll_ms)
{
	return fixture_with(wait_poll_ms, SIM_CONFIG);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	if (!f)
		return 0;
	int rc = f->d.pid > 0 ? esaasd_stop(&f->d, SIGTERM, true) : 0;
	int src = sim_stop(&f->sim);
	if (rc != 0)
		fprintf(stderr, "esaasd exited with %d on SIGTERM; see %s\n", rc, f->d.log);
	if (src != 0)
		fprintf(stderr, "esaas-sim exited with %d on SIGTERM; see %s\n", src, f->sim.log);
	PQfinish(f->sql);
	free(f);
	return rc == 0 && src == 0 ? 0 : -1;
}

static int64_t create(struct fixture *f, const char *name)
{
	char *spec = xasprintf(SPEC, name);
	int64_t id = post_cluster(&f->d, spec);
	free(spec);
	assert_true(id > 0);
	return id;
}

/* The simulator's count at path in GET /_sim/state ("watches.open"). */
static long long sim_count(struct fixture *f, const char *section, const char *key)
{
	struct http_resp r;
	assert_true(sim_call(&f->sim, "GET", "/_sim/state", NULL, &r));
	assert_int_equal(r.status, 200);
	long long n = json_integer_value(json_object_get(json_object_get(r.body, section), key));
	http_resp_free(&r);
	return n;
}

/* Until the simulator's count reaches at least want; false after 60 s. */
static bool sim_count_reaches_within(struct fixture *f, const char *section, const char *key,
				     long long want, int timeout_ms)
{
	for (int64_t until = harness_now_ms() + timeout_ms; harness_now_ms() < until;) {
		if (sim_count(f, section, key) >= want)
			return true;
		msleep(20);
	}
	return sim_count(f, section, key) >= want;
}

static bool sim_count_reaches(struct fixture *f, const char *section, const char *key,
			      long long want)
{
	return sim_count_reaches_within(f, section, key, want, 60000);
}

/*
 * Every wait of job id was run again well before its poll: from when the
 * wait was parked (its event's last poll) to the next run's start, less
 * than half of LONG_POLL_MS.  At least min_waits waits happened, so that
 * there was something to wake.  from_id: only the events after it.
 */
static void expect_waits_woken(struct fixture *f, int64_t id, long long from_id, int min_waits)
{
	char ids[32], from[32];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	snprintf(from, sizeof(from), "%lld", from_id);
	const char *p[] = {ids, from};
	PGresult *res = PQexecParams(
		f->sql,
		"SELECT e.to_state, e.polls,"
		" (extract(epoch FROM n.started_at - coalesce(e.last_at, e.at)) * 1000)::bigint"
		" FROM job_events e CROSS JOIN LATERAL (SELECT x.started_at FROM job_events x"
		"  WHERE x.job_id = e.job_id AND x.id > e.id ORDER BY x.id LIMIT 1) n"
		" WHERE e.job_id = $1 AND e.id > $2 AND e.outcome = 'wait' ORDER BY e.id",
		2, NULL, p, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	int n = PQntuples(res);
	long long worst = 0;
	const char *worst_state = "";
	for (int i = 0; i < n; i++) {
		long long ms = strtoll(PQgetvalue(res, i, 2), NULL, 10);
		fprintf(stderr, "  %s: %s polls, next run %lld ms after the wait was parked\n",
			PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), ms);
		if (ms > worst) {
			worst = ms;
			worst_state = PQgetvalue(res, i, 0);
		}
	}
	if (n < min_waits)
		fail_msg("%d waits, at least %d expected", n, min_waits);
	if (worst >= LONG_POLL_MS / 2)
		fail_msg("%s ran again %lld ms after it was parked: its poll, not a wake",
			 worst_state, worst);
	PQclear(res);
}

/*
 * The create's waits on its pods (the masters formed, every pod ready,
 * every node joined) wake on the namespace's watch: with a poll of 60 s,
 * each runs again as soon as the pods it waits for change.
 */
static void test_create_waits_wake_on_the_pods_turning_ready(void **state)
{
	struct fixture *f = fixture_new(LONG_POLL_MS);
	*state = f;
	int64_t id = create(f, "woken");
	assert_true(job_succeeded(&f->d, id, 180000));
	expect_waits_woken(f, id, 0, 2);
	/* One watch of pods and one of EndpointSlices, for the namespace. */
	assert_true(sim_count(f, "watches", "served") >= 2);
}

/*
 * The health wait of a create asks Elasticsearch through the HTTP Service
 * only once the namespace's watch has seen a ready endpoint of it: the
 * service proxy never answers one of its requests with its own 503 ("no
 * endpoints available for service"), which it did while the endpoint
 * controller had not caught up with the pods' readiness (1 s in the
 * simulator, K35).  At esaasd's default poll.
 */
static void test_create_asks_for_health_only_once_the_service_has_an_endpoint(void **state)
{
	struct fixture *f = fixture_new(2000);
	*state = f;
	int64_t id = create(f, "endpoint");
	assert_true(job_succeeded(&f->d, id, 180000));
	struct http_resp r;
	assert_true(sim_call(&f->sim, "GET", "/_sim/state", NULL, &r));
	assert_int_equal(r.status, 200);
	int asked = 0, refused = 0;
	size_t i;
	json_t *e;
	json_array_foreach (json_object_get(r.body, "es_requests"), i, e) {
		if (strstr(json_str(e, "path"), "_cluster/health"))
			asked += (int)json_integer_value(json_object_get(e, "count"));
	}
	json_array_foreach (json_object_get(r.body, "proxy_errors"), i, e) {
		const char *path = json_str(e, "path");
		if (strstr(path, "/services/es-http") && strstr(path, "_cluster/health")) {
			fprintf(stderr, "  %s %s: %s\n", json_str(e, "time"), path,
				json_str(e, "message"));
			refused++;
		}
	}
	http_resp_free(&r);
	assert_true(asked >= 1);
	assert_int_equal(refused, 0);
}

/*
 * A watch whose resourceVersion the API server no longer has (the
 * simulator's watch window compacted and its streams ended, as after an
 * API server restart): the stream answers the 410 Expired Status, esaasd
 * lists again and watches from the new resourceVersion, and the waits go
 * on being woken.
 */
static void test_expired_watch_lists_again(void **state)
{
	/* Its pods slow to start: the job still waits when the windows go. */
	struct fixture *f = fixture_with(LONG_POLL_MS, SLOW_PODS_CONFIG);
	*state = f;
	int64_t id = create(f, "expired");
	if (!sim_count_reaches(f, "watches", "open", 2))
		fail_msg("esaasd never watched the namespace");
	long long last = sql_int(f->sql, "SELECT coalesce(max(id), 0) FROM job_events", 0, NULL);
	/* A write after what esaasd has seen, then the compaction: its
	 * resourceVersion is now older than any the server keeps.  A watch
	 * that esaasd had just let go (no wait there at that moment) starts
	 * afresh, with no resourceVersion to refuse: then again, once its
	 * watches are open. */
	struct http_resp r;
	bool expired = false;
	for (int attempt = 0; attempt < 3 && !expired; attempt++) {
		if (!sim_count_reaches(f, "watches", "open", 2))
			fail_msg("esaasd does not watch the namespace");
		char *ns = xasprintf("{\"apiVersion\": \"v1\", \"kind\": \"Namespace\","
				     " \"metadata\": {\"name\": \"later-%d\"}}",
				     attempt);
		assert_true(sim_call(&f->sim, "POST", "/api/v1/namespaces", ns, &r));
		free(ns);
		assert_int_equal(r.status, 201);
		http_resp_free(&r);
		assert_true(
			sim_call(&f->sim, "POST", "/_sim/watches/close?compact=true", "{}", &r));
		assert_int_equal(r.status, 200);
		http_resp_free(&r);
		expired = sim_count_reaches_within(f, "watches", "expired", 1, 20000);
	}
	if (!expired)
		fail_msg("esaasd did not watch again from its resourceVersion");
	if (!sim_count_reaches(f, "watches", "open", 2))
		fail_msg("esaasd did not list and watch again after the 410");
	assert_true(job_succeeded(&f->d, id, 180000));
	expect_waits_woken(f, id, last, 1);
}

/*
 * The watches cannot be held (every watch request answers 500 once the
 * first ones are dropped): esaasd tries again with a back-off, and the
 * waits poll meanwhile, so the create still completes.
 */
static void test_dropped_watch_falls_back_to_polling(void **state)
{
	struct fixture *f = fixture_new(300);
	*state = f;
	int64_t id = create(f, "dropped");
	if (!sim_count_reaches(f, "watches", "open", 2))
		fail_msg("esaasd never watched the namespace");
	struct http_resp r;
	assert_true(sim_call(&f->sim, "POST", "/_sim/faults",
			     "{\"path\": \"*\", \"query\": \"*watch=1*\", \"status\": 500}", &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	long long asked = sim_count(f, "api_requests", "watches");
	assert_true(sim_call(&f->sim, "POST", "/_sim/watches/close", "{}", &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	/* esaasd asks again (and is refused) while its waits poll. */
	if (!sim_count_reaches(f, "api_requests", "watches", asked + 2))
		fail_msg("esaasd did not try to watch again");
	assert_true(job_succeeded(&f->d, id, 180000));
	assert_int_equal(sim_count(f, "watches", "open"), 0);
	char ids[32];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	const char *p[] = {ids};
	assert_true(sql_int(f->sql,
			    "SELECT coalesce(sum(polls), 0) FROM job_events WHERE job_id = $1"
			    " AND outcome = 'wait'",
			    1, p) >= 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_create_waits_wake_on_the_pods_turning_ready,
					  teardown),
		cmocka_unit_test_teardown(
			test_create_asks_for_health_only_once_the_service_has_an_endpoint,
			teardown),
		cmocka_unit_test_teardown(test_expired_watch_lists_again, teardown),
		cmocka_unit_test_teardown(test_dropped_watch_falls_back_to_polling, teardown),
	};
	/* ESAAS_TEST_FILTER=test_name (a glob) runs some tests only. */
	if (getenv("ESAAS_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ESAAS_TEST_FILTER"));
	return harness_run_group(tests, group_setup, group_teardown);
}
