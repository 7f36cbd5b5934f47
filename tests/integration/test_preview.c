/*
 * The preview of a mutation (?dry_run=true) end to end: each endpoint's
 * plan is compared with what the real job then does (its states with the
 * job's trail, its pods with the simulator's record of pod deletions, its
 * shard copies with _cat/shards), nothing is written by a preview (rows
 * counted before and after), bad input gets the same refusal as the real
 * request, and a viewer is refused a preview as it is the mutation.
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

#include "common/util.h"
#include "tests/integration/harness.h"

static struct pg pg;

#define JOB_TIMEOUT_MS 120000

static const char SIM_CONFIG[] = "tick_ms: 20\n"
				 "nodes:\n  count: 6\n  racks: [rack-a, rack-b]\n"
				 "elasticsearch:\n  relocation_ms: 200\n  recovery_ms: 50\n  "
				 "no_master_wait_ms: 500\n  node_left_delay_ms: 2000\n"
				 "  indices:\n    - {name: logs, shards: 3, replicas: 1}\n";

static const char *const REPO_FILES[] = {"analysis-icu-7.17.10.zip", NULL};

struct fixture {
	char dburl[600];
	struct sim sim;
	struct repo repo;
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

static struct fixture *fixture_new(void)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	assert_non_null(pg_new_database(&pg, f->dburl, sizeof(f->dburl)));
	assert_true(sim_start(&f->sim, pg.dir, SIM_CONFIG));
	assert_true(repo_start(&f->repo, pg.dir, REPO_FILES));
	f->o = (struct esaasd_opts){.kubeconfig = f->sim.kubeconfig,
				    .plugin_repository = f->repo.url,
				    .retry_base_ms = 50,
				    .retry_cap_ms = 300};
	assert_true(esaasd_start(&f->d, pg.dir, f->dburl, &f->o));
	f->sql = sql_connect(f->dburl);
	assert_non_null(f->sql);
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
	repo_stop(&f->repo);
	if (rc != 0)
		fprintf(stderr, "esaasd exited with %d on SIGTERM; see %s\n", rc, f->d.log);
	if (!in_spec)
		fprintf(stderr,
			"esaasd sent Elasticsearch a request its version does not accept\n");
	PQfinish(f->sql);
	free(f);
	return rc == 0 && src == 0 && in_spec ? 0 : -1;
}

static void expect_ok(struct fixture *f, int64_t id)
{
	assert_true(id > 0);
	assert_true(job_succeeded(&f->d, id, JOB_TIMEOUT_MS));
}

/* Every row a request could write: clusters, jobs, the history's events
 * that requests write (those with no worker: submissions, cancels,
 * replays; the engine's own go on for the jobs already there), the audit
 * log. */
static char *rows(struct fixture *f)
{
	return xasprintf(
		"clusters %lld jobs %lld requests' events %lld audit %lld",
		sql_int(f->sql, "SELECT count(*) FROM clusters", 0, NULL),
		sql_int(f->sql, "SELECT count(*) FROM jobs", 0, NULL),
		sql_int(f->sql, "SELECT count(*) FROM job_events WHERE worker IS NULL", 0, NULL),
		sql_int(f->sql, "SELECT count(*) FROM audit_log", 0, NULL));
}

/*
 * The preview of method path with body: 200 and its plan, the same rows
 * before and after, and no pod deleted meanwhile.
 */
static json_t *preview(struct fixture *f, const char *method, const char *path, const char *body)
{
	char *before = rows(f);
	json_t *st = sim_record(&f->sim);
	size_t deletions = json_array_size(json_object_get(st, "pod_deletions"));
	json_decref(st);
	char *url = xasprintf("%s%sdry_run=true", path, strchr(path, '?') ? "&" : "?");
	struct http_resp r;
	assert_true(http_call(&f->d, method, url, body, NULL, &r));
	if (r.status != 200)
		fail_msg("%s %s: %ld %s", method, url, r.status, r.raw ? r.raw : "");
	json_t *plan = json_incref(r.body);
	http_resp_free(&r);
	free(url);
	assert_true(json_is_true(json_object_get(plan, "dry_run")));
	char *after = rows(f);
	assert_string_equal(after, before);
	st = sim_record(&f->sim);
	assert_int_equal(json_array_size(json_object_get(st, "pod_deletions")), deletions);
	json_decref(st);
	free(before);
	free(after);
	return plan;
}

/* The plan's states, space-separated, as job_trail() has a job's. */
static char *plan_states(json_t *plan)
{
	json_t *states = json_object_get(plan, "states");
	size_t i, len = 1;
	json_t *s;
	assert_true(json_is_array(states));
	json_array_foreach (states, i, s)
		len += strlen(json_string_value(s)) + 1;
	char *out = xcalloc(1, len);
	size_t used = 0;
	json_array_foreach (states, i, s)
		used += (size_t)snprintf(out + used, len - used, "%s%s", i ? " " : "",
					 json_string_value(s));
	return out;
}

static void expect_trail_is_plan(struct fixture *f, int64_t id, json_t *plan)
{
	char *want = plan_states(plan);
	char *trail = job_trail(f->sql, id);
	if (strcmp(trail, want) != 0)
		fail_msg("job %lld went\n  %s\nthe preview said\n  %s", (long long)id, trail, want);
	free(trail);
	free(want);
}

static size_t pod_deletions(struct fixture *f)
{
	json_t *st = sim_record(&f->sim);
	size_t n = json_array_size(json_object_get(st, "pod_deletions"));
	json_decref(st);
	return n;
}

/* The pods deleted since index from, in order, against the plan's pods
 * with action (in the plan's order). */
static void expect_deletions_are_plan(struct fixture *f, size_t from, json_t *plan,
				      const char *action)
{
	json_t *st = sim_record(&f->sim);
	json_t *dels = json_object_get(st, "pod_deletions");
	json_t *pods = json_object_get(plan, "pods");
	size_t k = from, i;
	json_t *p;
	json_array_foreach (pods, i, p) {
		if (strcmp(json_string_value(json_object_get(p, "action")), action) != 0)
			continue;
		const char *want = json_string_value(json_object_get(p, "name"));
		const char *got =
			json_string_value(json_object_get(json_array_get(dels, k), "name"));
		if (!got || !want || strcmp(got, want) != 0) {
			char *d = json_dumps(dels, JSON_COMPACT);
			char *w = json_dumps(pods, JSON_COMPACT);
			fail_msg("deletion %zu was %s, the preview said %s\n  deleted: %s\n  "
				 "planned: %s",
				 k - from, got ? got : "(none)", want ? want : "(none)", d, w);
		}
		k++;
	}
	assert_int_equal(json_array_size(dels), k);
	json_decref(st);
}

static bool has_gate(json_t *plan, const char *gate)
{
	size_t i;
	json_t *g;
	json_array_foreach (json_object_get(plan, "gates"), i, g)
		if (strcmp(json_string_value(json_object_get(g, "gate")), gate) == 0)
			return true;
	return false;
}

static const char SPEC[] = "{\"name\": \"pv\", \"version\": \"7.17.10\","
			   " \"masters\": {\"replicas\": 3}, \"data\": {\"replicas\": 3},"
			   " \"clients\": {\"replicas\": 1}}";

/* --- restart ----------------------------------------------------------------------- */

/*
 * A rolling restart's preview: every pod, data first and the elected
 * master last, and the states of the loop once per pod; the restart then
 * goes exactly that way.  A second preview has an estimate from it.
 */
static void test_preview_restart_is_what_the_restart_does(void **state)
{
	struct fixture *f = *state = fixture_new();
	json_t *plan = preview(f, "POST", "/api/v1/clusters", SPEC);
	assert_int_equal(json_array_size(json_object_get(plan, "pods")), 7);
	assert_true(json_is_null(json_object_get(
		json_object_get(json_object_get(plan, "quota"), "namespace"), "before")));
	int64_t create = post_cluster(&f->d, SPEC);
	expect_ok(f, create);
	expect_trail_is_plan(f, create, plan);
	json_decref(plan);

	plan = preview(f, "POST", "/api/v1/clusters/pv/restart", "{}");
	json_t *pods = json_object_get(plan, "pods");
	assert_int_equal(json_array_size(pods), 7);
	assert_string_equal(json_string_value(json_object_get(json_array_get(pods, 0), "role")),
			    "data");
	assert_string_equal(json_string_value(json_object_get(json_array_get(pods, 6), "role")),
			    "master");
	assert_true(json_is_null(json_object_get(plan, "estimate_seconds")));
	assert_non_null(json_object_get(json_object_get(plan, "estimate"), "reason"));
	assert_false(has_gate(plan, "health"));
	assert_false(has_gate(plan, "job_active"));

	size_t before = pod_deletions(f);
	int64_t id = api_op(&f->d, "POST", "/api/v1/clusters/pv/restart", "{}", NULL);
	expect_ok(f, id);
	expect_trail_is_plan(f, id, plan);
	expect_deletions_are_plan(f, before, plan, "restart");
	json_decref(plan);

	/* One role only: that role's pods, and the history gives an estimate. */
	plan = preview(f, "POST", "/api/v1/clusters/pv/restart", "{\"role\": \"data\"}");
	assert_int_equal(json_array_size(json_object_get(plan, "pods")), 3);
	assert_true(json_is_integer(json_object_get(plan, "estimate_seconds")));
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(plan, "estimate"), "jobs")), 1);
	before = pod_deletions(f);
	id = api_op(&f->d, "POST", "/api/v1/clusters/pv/restart", "{\"role\": \"data\"}", NULL);
	expect_ok(f, id);
	expect_trail_is_plan(f, id, plan);
	expect_deletions_are_plan(f, before, plan, "restart");
	json_decref(plan);
}

/* --- scale --------------------------------------------------------------------------- */

/*
 * A data scale-down's preview names the node that leaves and the shard
 * copies on it (as _cat/shards has them), the quota before and after; the
 * scale then goes its way.  Then up again, and a zen2 masters scale.
 */
static void test_preview_scale_is_what_the_scale_does(void **state)
{
	struct fixture *f = *state = fixture_new();
	expect_ok(f, post_cluster(&f->d, SPEC));

	/* More data nodes than hosts: a placement gate (the 202 warns). */
	json_t *plan = preview(f, "POST", "/api/v1/clusters/pv/scale",
			       "{\"role\": \"data\", \"replicas\": 7}");
	assert_true(has_gate(plan, "placement"));
	assert_int_equal(json_array_size(json_object_get(plan, "warnings")), 0);
	json_decref(plan);
	/* Disks that cannot be read before a scale-down: a warning of the
	 * plan, holding nothing up. */
	struct http_resp r;
	assert_true(sim_call(&f->sim, "POST", "/_sim/faults",
			     "{\"path\": \"*/proxy/_cat/allocation*\", \"status\": 500}", &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	plan = preview(f, "POST", "/api/v1/clusters/pv/scale",
		       "{\"role\": \"data\", \"replicas\": 2}");
	assert_false(has_gate(plan, "placement"));
	assert_non_null(
		strstr(json_string_value(json_array_get(json_object_get(plan, "warnings"), 0)),
		       "disk usage could not be read"));
	json_decref(plan);
	assert_true(sim_call(&f->sim, "DELETE", "/_sim/faults", NULL, &r));
	http_resp_free(&r);

	plan = preview(f, "POST", "/api/v1/clusters/pv/scale",
		       "{\"role\": \"data\", \"replicas\": 2}");
	json_t *shards = json_object_get(plan, "shards");
	assert_true(json_is_object(shards));
	/* What _cat/shards has on the leaving node now. */
	assert_true(sim_call(&f->sim, "GET",
			     "/api/v1/namespaces/es-default-pv/services/es-http:9200/proxy"
			     "/_cat/shards?format=json",
			     NULL, &r));
	size_t i, on = 0;
	json_t *row;
	json_array_foreach (r.body, i, row) {
		const char *node = json_string_value(json_object_get(row, "node"));
		if (node && strstr(node, "es-data-2"))
			on++;
	}
	http_resp_free(&r);
	assert_true(on > 0);
	assert_int_equal(json_integer_value(json_object_get(shards, "count")), on);
	assert_true(json_integer_value(json_object_get(shards, "bytes")) > 0);
	json_t *quota = json_object_get(json_object_get(plan, "quota"), "namespace");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(quota, "before"), "pods")), "7");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(quota, "after"), "pods")), "6");
	size_t before = pod_deletions(f);
	int64_t id = api_op(&f->d, "POST", "/api/v1/clusters/pv/scale",
			    "{\"role\": \"data\", \"replicas\": 2}", NULL);
	expect_ok(f, id);
	expect_trail_is_plan(f, id, plan);
	expect_deletions_are_plan(f, before, plan, "delete");
	json_decref(plan);

	plan = preview(f, "POST", "/api/v1/clusters/pv/scale",
		       "{\"role\": \"data\", \"replicas\": 3}");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(plan, "pods"), 0), "name")),
			    "es-data-2");
	id = api_op(&f->d, "POST", "/api/v1/clusters/pv/scale",
		    "{\"role\": \"data\", \"replicas\": 3}", NULL);
	expect_ok(f, id);
	expect_trail_is_plan(f, id, plan);
	json_decref(plan);

	plan = preview(f, "POST", "/api/v1/clusters/pv/scale",
		       "{\"role\": \"masters\", \"replicas\": 1}");
	before = pod_deletions(f);
	id = api_op(&f->d, "POST", "/api/v1/clusters/pv/scale",
		    "{\"role\": \"masters\", \"replicas\": 1}", NULL);
	expect_ok(f, id);
	expect_trail_is_plan(f, id, plan);
	expect_deletions_are_plan(f, before, plan, "delete");
	json_decref(plan);
}

/* --- config, plugins, kibana, delete ---------------------------------------------------- */

static void test_preview_config_plugins_kibana_delete_are_what_they_do(void **state)
{
	struct fixture *f = *state = fixture_new();
	static const char small[] = "{\"name\": \"pv\", \"version\": \"7.17.10\","
				    " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 2}}";
	expect_ok(f, post_cluster(&f->d, small));
	static const struct {
		const char *method, *path, *body, *action;
	} ops[] = {
		{"PATCH", "/api/v1/clusters/pv/config",
		 "{\"settings\": {\"search.max_buckets\": 20000}}", NULL},
		{"PATCH", "/api/v1/clusters/pv/config",
		 "{\"settings\": {\"indices.query.bool.max_clause_count\": 4096}}", "restart"},
		{"POST", "/api/v1/clusters/pv/plugins", "{\"name\": \"analysis-icu\"}", "restart"},
		{"DELETE", "/api/v1/clusters/pv/plugins/analysis-icu", NULL, "restart"},
		{"POST", "/api/v1/clusters/pv/kibana", "{\"replicas\": 1}", NULL},
		{"DELETE", "/api/v1/clusters/pv", NULL, NULL},
	};
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		json_t *plan = preview(f, ops[i].method, ops[i].path, ops[i].body);
		size_t before = pod_deletions(f);
		int64_t id = api_op(&f->d, ops[i].method, ops[i].path, ops[i].body, NULL);
		expect_ok(f, id);
		expect_trail_is_plan(f, id, plan);
		if (ops[i].action)
			expect_deletions_are_plan(f, before, plan, ops[i].action);
		else if (strcmp(ops[i].method, "PATCH") == 0)
			assert_int_equal(json_array_size(json_object_get(plan, "pods")), 0);
		json_decref(plan);
	}
}

/* --- refusals and gates ------------------------------------------------------------------ */

/* The same value, or missing from both. */
static bool same_member(json_t *a, json_t *b, const char *key)
{
	json_t *x = json_object_get(a, key), *y = json_object_get(b, key);
	return (!x && !y) || (x && y && json_equal(x, y));
}

/* The same refusal as the real request; and nothing written either way. */
static void expect_same_refusal(struct fixture *f, const char *method, const char *path,
				const char *body, const char *const *headers, long status,
				const char *field)
{
	char *before = rows(f);
	char *url = xasprintf("%s%sdry_run=true", path, strchr(path, '?') ? "&" : "?");
	struct http_resp dry, real;
	assert_true(http_call(&f->d, method, url, body, headers, &dry));
	assert_true(http_call(&f->d, method, path, body, headers, &real));
	if (dry.status != status || real.status != status)
		fail_msg("%s %s: the preview answered %ld, the request %ld, not %ld: %s", method,
			 path, dry.status, real.status, status, dry.raw ? dry.raw : "");
	json_t *de = json_object_get(dry.body, "error");
	json_t *re = json_object_get(real.body, "error");
	assert_true(same_member(de, re, "code"));
	assert_true(same_member(de, re, "field"));
	assert_true(same_member(de, re, "message"));
	if (field)
		assert_string_equal(json_string_value(json_object_get(de, "field")), field);
	http_resp_free(&dry);
	http_resp_free(&real);
	free(url);
	char *after = rows(f);
	if (status >= 400)
		assert_string_equal(after, before);
	free(before);
	free(after);
}

static void test_preview_refuses_what_the_request_refuses(void **state)
{
	struct fixture *f = *state = fixture_new();
	int64_t create = post_cluster(&f->d, SPEC);
	assert_true(create > 0);

	/* While the create runs: the scale would wait behind it. */
	json_t *plan = preview(f, "POST", "/api/v1/clusters/pv/scale",
			       "{\"role\": \"data\", \"replicas\": 4}");
	assert_true(has_gate(plan, "job_active"));
	json_decref(plan);
	expect_ok(f, create);

	expect_same_refusal(f, "POST", "/api/v1/clusters", "{\"name\": \"pv\", \"version\": 7}",
			    NULL, 422, "version");
	expect_same_refusal(f, "POST", "/api/v1/clusters", SPEC, NULL, 409, "name");
	expect_same_refusal(f, "POST", "/api/v1/clusters/pv/scale",
			    "{\"role\": \"kibana\", \"replicas\": 1}", NULL, 422, "role");
	expect_same_refusal(f, "POST", "/api/v1/clusters/pv/scale",
			    "{\"role\": \"masters\", \"replicas\": 2}", NULL, 422, "replicas");
	expect_same_refusal(f, "POST", "/api/v1/clusters/pv/restart", "{\"nodes\": [\"A B\"]}",
			    NULL, 422, "nodes");
	expect_same_refusal(f, "PATCH", "/api/v1/clusters/pv/config",
			    "{\"settings\": {\"cluster.name\": \"mine\"}}", NULL, 422, NULL);
	expect_same_refusal(f, "POST", "/api/v1/clusters/nope/restart", "{}", NULL, 404, NULL);
	expect_same_refusal(f, "DELETE", "/api/v1/clusters/pv?wipe_data=maybe", NULL, NULL, 422,
			    "wipe_data");
	expect_same_refusal(f, "POST", "/api/v1/clusters/pv/kibana", "{\"replicas\": 11}", NULL,
			    422, NULL);

	/* dry_run itself: true or false. */
	struct http_resp r;
	assert_true(http_call(&f->d, "POST", "/api/v1/clusters/pv/restart?dry_run=yes", "{}", NULL,
			      &r));
	assert_int_equal(r.status, 422);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(r.body, "error"), "field")),
		"dry_run");
	http_resp_free(&r);

	/* A viewer may not preview a mutation: the same 403. */
	struct http_resp t;
	assert_true(http_call(&f->d, "POST", "/api/v1/tokens",
			      "{\"tenant\": \"default\", \"role\": \"viewer\","
			      " \"description\": \"reads\"}",
			      NULL, &t));
	assert_int_equal(t.status, 201);
	char *auth = xasprintf("Authorization: Bearer %s",
			       json_string_value(json_object_get(t.body, "token")));
	http_resp_free(&t);
	const char *viewer[] = {auth, NULL};
	expect_same_refusal(f, "POST", "/api/v1/clusters/pv/restart", "{}", viewer, 403, NULL);
	expect_same_refusal(f, "POST", "/api/v1/clusters", SPEC, viewer, 403, NULL);
	expect_same_refusal(f, "DELETE", "/api/v1/clusters/pv", NULL, viewer, 403, NULL);
	free(auth);

	/* The tenant's quota: the plan has its usage before and after; past
	 * its limit the preview is refused as the scale is. */
	plan = preview(f, "POST", "/api/v1/clusters/pv/scale",
		       "{\"role\": \"data\", \"replicas\": 4}");
	json_t *tenant = json_object_get(json_object_get(plan, "quota"), "tenant");
	assert_true(json_number_value(
			    json_object_get(json_object_get(tenant, "before"), "nodes")) == 7.0);
	assert_true(json_number_value(json_object_get(json_object_get(tenant, "after"), "nodes")) ==
		    8.0);
	json_decref(plan);
	assert_true(http_call(&f->d, "PUT", "/api/v1/tenants/default/quota", "{\"nodes\": 7}", NULL,
			      &t));
	assert_int_equal(t.status / 100, 2);
	http_resp_free(&t);
	expect_same_refusal(f, "POST", "/api/v1/clusters/pv/scale",
			    "{\"role\": \"data\", \"replicas\": 4}", NULL, 429, NULL);

	/* Yellow: an index with more replicas than data nodes.  A restart
	 * would wait for green, unless yellow is allowed. */
	assert_true(sim_call(
		&f->sim, "PUT", "/api/v1/namespaces/es-default-pv/services/es-http:9200/proxy/wide",
		"{\"settings\": {\"number_of_shards\": 1, \"number_of_replicas\": 5}}", &t));
	assert_int_equal(t.status, 200);
	http_resp_free(&t);
	plan = preview(f, "POST", "/api/v1/clusters/pv/restart", "{}");
	assert_true(has_gate(plan, "health"));
	json_decref(plan);
	plan = preview(f, "POST", "/api/v1/clusters/pv/restart", "{\"allow_yellow\": true}");
	assert_false(has_gate(plan, "health"));
	json_decref(plan);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_preview_restart_is_what_the_restart_does, teardown),
		cmocka_unit_test_teardown(test_preview_scale_is_what_the_scale_does, teardown),
		cmocka_unit_test_teardown(
			test_preview_config_plugins_kibana_delete_are_what_they_do, teardown),
		cmocka_unit_test_teardown(test_preview_refuses_what_the_request_refuses, teardown),
	};
	/* ESAAS_TEST_FILTER=test_name (a glob) runs some tests only. */
	if (getenv("ESAAS_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ESAAS_TEST_FILTER"));
	return harness_run_group(tests, group_setup, group_teardown);
}
