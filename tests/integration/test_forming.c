/*
 * Forming, joining and restarting, version by version, end to end:
 * esaasd-test against esaas-sim and a private PostgreSQL.  The simulator
 * behaves as Elasticsearch does by default (sim/es.c says where each
 * behaviour comes from); each test shows one behaviour esaas must live
 * with: new zen2 masters that would bootstrap a cluster of their own,
 * nodes that are ready but not members, 2.x's and 5.x's ways of saying
 * that a cluster has formed, a transient setting left over by someone
 * else, replicas that recover after a node comes back.
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

static struct pg pg;

#define JOB_TIMEOUT_MS 120000

static const char SIM_CONFIG[] = "tick_ms: 20\n"
				 "nodes:\n  count: 6\n  racks: [rack-a, rack-b]\n"
				 "elasticsearch:\n  relocation_ms: 200\n  recovery_ms: 50\n  "
				 "no_master_wait_ms: 500\n  node_left_delay_ms: 2000\n"
				 "  indices:\n    - {name: logs, shards: 2, replicas: 1}\n";

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

static struct fixture *fixture_new(const char *sim_config)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	assert_non_null(pg_new_database(&pg, f->dburl, sizeof(f->dburl)));
	assert_true(sim_start(&f->sim, pg.dir, sim_config));
	f->o = (struct esaasd_opts){
		.kubeconfig = f->sim.kubeconfig, .retry_base_ms = 50, .retry_cap_ms = 300};
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
	if (!in_spec)
		fprintf(stderr,
			"esaasd sent Elasticsearch a request its version does not "
			"accept (above); the simulator's record is in %s\n",
			f->sim.dir);
	PQfinish(f->sql);
	free(f);
	return rc == 0 && src == 0 && in_spec ? 0 : -1;
}

static void expect_ok(struct fixture *f, int64_t id)
{
	assert_true(id > 0);
	if (!job_succeeded(&f->d, id, JOB_TIMEOUT_MS)) {
		char *trail = job_trail(f->sql, id);
		fail_msg("job %lld did not succeed; it went %s", (long long)id, trail);
	}
}

static void expect_trail(struct fixture *f, int64_t id, const char *want)
{
	char *trail = job_trail(f->sql, id);
	if (strcmp(trail, want) != 0)
		fail_msg("job %lld went\n  %s\nnot\n  %s", (long long)id, trail, want);
	free(trail);
}

/* The simulator's view of one cluster's Elasticsearch (GET /_sim/state). */
static json_t *sim_cluster(struct fixture *f, const char *name)
{
	json_t *st = sim_record(&f->sim);
	assert_non_null(st);
	char *ns = xasprintf("es-default-%s", name);
	json_t *cl = json_incref(json_object_get(json_object_get(st, "clusters"), ns));
	free(ns);
	json_decref(st);
	assert_non_null(cl);
	return cl;
}

static bool has_string(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach (arr, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

/* Applies (PATCH) the simulator recorded on a path containing what. */
static int recorded_apply(struct fixture *f, const char *what)
{
	json_t *st = sim_record(&f->sim);
	assert_non_null(st);
	int n = 0;
	size_t i;
	json_t *rq;
	json_array_foreach (json_object_get(st, "requests"), i, rq) {
		const char *m = json_str(rq, "verb");
		const char *p = json_str(rq, "path");
		if (m && p && strcmp(m, "PATCH") == 0 && strstr(p, what))
			n++;
	}
	json_decref(st);
	return n;
}

static int64_t job_op(struct fixture *f, const char *name, const char *op, const char *body)
{
	char *path = xasprintf("/api/v1/clusters/%s/%s", name, op);
	int64_t id = api_op(&f->d, "POST", path, body, NULL);
	free(path);
	return id;
}

/* A request to the cluster's Elasticsearch through the simulator's proxy. */
static json_t *es_call(struct fixture *f, const char *name, const char *method, const char *path,
		       const char *body)
{
	char *url = xasprintf("/api/v1/namespaces/es-default-%s/services/es-http:9200/proxy%s",
			      name, path);
	struct http_resp r;
	json_t *out = NULL;
	if (sim_call(&f->sim, method, url, body, &r) && r.status == 200)
		out = json_incref(r.body);
	http_resp_free(&r);
	free(url);
	return out;
}

/* --- F2: cluster.initial_master_nodes, for the first formation only ---------------- */

/*
 * zen2 masters 1 -> 3: the two new masters must join the cluster, not
 * bootstrap one of their own from a cluster.initial_master_nodes that
 * names them as a majority.
 */
static void test_masters_grow_no_second_cluster(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG);
	expect_ok(f, post_cluster(&f->d, "{\"name\": \"grow\", \"version\": \"7.17.10\","
					 " \"masters\": {\"replicas\": 1},"
					 " \"data\": {\"replicas\": 2}}"));
	json_t *cl = sim_cluster(f, "grow");
	const char *uuid = json_str(cl, "cluster_uuid");
	assert_non_null(uuid);
	char *first_uuid = xstrdup(uuid);
	json_decref(cl);
	/* The create told the masters to bootstrap, then took it back. */
	struct http_resp r;
	assert_true(sim_call(&f->sim, "GET",
			     "/api/v1/namespaces/es-default-grow/configmaps/es-master-config", NULL,
			     &r));
	assert_int_equal(r.status, 200);
	assert_null(strstr(r.raw, "initial_master_nodes"));
	http_resp_free(&r);
	assert_true(recorded_apply(f, "configmaps/es-master-config") >= 2);

	expect_ok(f, job_op(f, "grow", "scale", "{\"role\": \"masters\", \"replicas\": 3}"));
	cl = sim_cluster(f, "grow");
	if (!json_is_null(json_object_get(cl, "alongside"))) {
		char *dump = json_dumps(json_object_get(cl, "alongside"), JSON_COMPACT);
		fail_msg("a second cluster formed alongside: %s", dump);
	}
	assert_string_equal(json_str(cl, "cluster_uuid"), first_uuid);
	for (int m = 0; m < 3; m++) {
		char *node = xasprintf("es-master-%d-es-default-grow", m);
		if (!has_string(json_object_get(cl, "nodes"), node))
			fail_msg("%s is not a member of the cluster", node);
		free(node);
	}
	assert_int_equal(json_array_size(json_object_get(cl, "voting_config")), 3);
	json_decref(cl);
	free(first_uuid);
}

/* --- F11: a transient setting that shadows esaas's persistent ones ---------------- */

/*
 * A transient "cluster.routing.allocation.enable": "none" left from a
 * manual maintenance would win over the restart's persistent pause and
 * over its undo: the restarted node's copies would never be allocated
 * again.  The restart finds it, records it, clears it.
 */
static void test_restart_clears_leftover_transient_enable_none(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG);
	expect_ok(f, post_cluster(&f->d, "{\"name\": \"left\", \"version\": \"7.17.10\","
					 " \"masters\": {\"replicas\": 1},"
					 " \"data\": {\"replicas\": 2}}"));
	json_t *put = es_call(f, "left", "PUT", "/_cluster/settings",
			      "{\"transient\": {\"cluster.routing.allocation.enable\": \"none\"}}");
	assert_non_null(put);
	json_decref(put);

	int64_t id = job_op(f, "left", "restart", "{\"role\": \"data\"}");
	expect_ok(f, id);
	/* The value was recorded in the job's context before it was cleared. */
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	const char *q[] = {ids};
	assert_int_equal(
		sql_int(f->sql,
			"SELECT count(*) FROM jobs WHERE id = $1 AND context->"
			"'transient_cleared'->>'cluster.routing.allocation.enable' = 'none'",
			1, q),
		1);
	json_t *cl = sim_cluster(f, "left");
	assert_null(json_object_get(json_object_get(cl, "transient"),
				    "cluster.routing.allocation.enable"));
	assert_string_equal(json_str(cl, "status"), "green");
	json_decref(cl);
}

/* --- F7: 2.x and 5.x ------------------------------------------------------------------ */

/*
 * A 2.x cluster forms without a cluster_uuid in GET / (it came in 5.0),
 * and takes no null to reset a setting (that came in 5.0 too): the
 * restart's pause is undone by writing the value from before it.  A 5.x
 * cluster forms and restarts as well.
 */
static void create_and_restart(struct fixture *f, const char *name, const char *version)
{
	char *spec = xasprintf("{\"name\": \"%s\", \"version\": \"%s\","
			       " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 2},"
			       " \"clients\": {\"replicas\": 0}}",
			       name, version);
	int64_t id = post_cluster(&f->d, spec);
	free(spec);
	expect_ok(f, id);
	expect_trail(f, id,
		     "apply_namespace apply_quota apply_network apply_security apply_config "
		     "apply_services "
		     "apply_volumes "
		     "apply_masters "
		     "wait_masters_formed apply_config_formed apply_data apply_clients "
		     "wait_pods_ready wait_joined wait_green restore_repository restore_start "
		     "restore_wait_green restore_verify set_kibana_password apply_pdbs "
		     "apply_kibana "
		     "wait_kibana "
		     "record_ready");
	expect_ok(f, job_op(f, name, "restart", "{}"));
	json_t *cl = sim_cluster(f, name);
	assert_string_equal(json_str(cl, "status"), "green");
	/* Allocation is back as it was: unset, or "all" where null resets nothing. */
	const char *enable =
		json_str(json_object_get(cl, "persistent"), "cluster.routing.allocation.enable");
	if (enable)
		assert_string_equal(enable, "all");
	assert_int_equal(json_array_size(json_object_get(cl, "nodes")), 3);
	json_decref(cl);
}

static void test_2x_forms_without_cluster_uuid_and_restarts(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG);
	create_and_restart(f, "two", "2.4.6");
}

static void test_5x_forms_and_restarts(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG);
	create_and_restart(f, "five", "5.6.16");
}

/*
 * F19: before 7.9 each role is a boolean that is true by default, and the
 * default distribution adds node.ml (6.3+), node.remote_cluster_client and
 * node.transform (7.7+).  Dedicated masters, data nodes and clients have
 * the roles esaas gives them from 7.9 with node.roles, and no other:
 * masters "m", data nodes "di", clients "i" in _cat/nodes.
 */
static void expect_dedicated_roles(struct fixture *f, const char *name, const char *version)
{
	char *spec = xasprintf("{\"name\": \"%s\", \"version\": \"%s\","
			       " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 2},"
			       " \"clients\": {\"replicas\": 1}}",
			       name, version);
	expect_ok(f, post_cluster(&f->d, spec));
	free(spec);
	json_t *rows = es_call(f, name, "GET", "/_cat/nodes?format=json&h=name,node.role", NULL);
	assert_non_null(rows);
	assert_int_equal(json_array_size(rows), 4);
	size_t i;
	json_t *row;
	json_array_foreach (rows, i, row) {
		const char *node = json_str(row, "name"), *roles = json_str(row, "node.role");
		const char *want = !strncmp(node, "es-master-", 10) ? "m"
				   : !strncmp(node, "es-data-", 8)  ? "di"
								    : "i";
		assert_non_null(roles);
		if (strcmp(roles, want) != 0)
			fail_msg("%s %s has roles \"%s\", not \"%s\"", version, node, roles, want);
	}
	json_decref(rows);
}

static void test_dedicated_roles_before_7_9(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG);
	expect_dedicated_roles(f, "six", "6.8.23");
	expect_dedicated_roles(f, "seven", "7.8.1");
}

/*
 * F20: 2.x acknowledges a PUT _cluster/settings with a setting it cannot
 * update dynamically (here one it does not have: the flood stage came in
 * 6.0) and leaves it out of the echoed persistent settings.  The
 * config_update fails, naming the setting, instead of recording a change
 * that never happened.
 */
static void test_2x_ignored_setting_fails_the_config_update(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG);
	expect_ok(f, post_cluster(&f->d,
				  "{\"name\": \"ign\", \"version\": \"2.4.6\","
				  " \"masters\": {\"replicas\": 1},"
				  " \"data\": {\"replicas\": 2}, \"clients\": {\"replicas\": 0}}"));
	int64_t id = api_op(&f->d, "PATCH", "/api/v1/clusters/ign/config",
			    "{\"settings\": {\"cluster.routing.allocation.disk.watermark."
			    "flood_stage\": \"95%\"}}",
			    NULL);
	assert_true(id > 0);
	json_t *job = wait_job_done(&f->d, id, JOB_TIMEOUT_MS);
	assert_non_null(job);
	char *text = json_dumps(job, 0);
	json_decref(job);
	if (!strstr(text, "\"failed\"") ||
	    !strstr(text, "left cluster.routing.allocation.disk.watermark.flood_stage out"))
		fail_msg("the job did not fail naming the ignored setting: %s", text);
	free(text);
	json_t *cl = sim_cluster(f, "ign");
	assert_null(json_object_get(json_object_get(cl, "persistent"),
				    "cluster.routing.allocation.disk.watermark.flood_stage"));
	json_decref(cl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_2x_forms_without_cluster_uuid_and_restarts,
					  teardown),
		cmocka_unit_test_teardown(test_5x_forms_and_restarts, teardown),
		cmocka_unit_test_teardown(test_dedicated_roles_before_7_9, teardown),
		cmocka_unit_test_teardown(test_2x_ignored_setting_fails_the_config_update,
					  teardown),
		cmocka_unit_test_teardown(test_masters_grow_no_second_cluster, teardown),
		cmocka_unit_test_teardown(test_restart_clears_leftover_transient_enable_none,
					  teardown),
	};
	/* ESAAS_TEST_FILTER=test_name (a glob) runs some tests only. */
	if (getenv("ESAAS_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ESAAS_TEST_FILTER"));
	return harness_run_group(tests, group_setup, group_teardown);
}
