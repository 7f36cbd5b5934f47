/*
 * The create workflow end to end: esaasd-test with esaas-sim as its
 * Kubernetes, a cluster spec in, a ready cluster out, and a history that
 * says what happened.
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
#include "common/json.h"

static struct pg pg;

static const char SIM_CONFIG[] =
	"tick_ms: 20\n"
	"nodes:\n  count: 4\n  racks: [rack-a, rack-b]\n"
	"elasticsearch:\n  relocation_ms: 200\n  recovery_ms: 50\n  no_master_wait_ms: 500\n"
	"  indices:\n    - {name: logs, shards: 2, replicas: 1}\n";

struct fixture {
	char dburl[600];
	struct sim sim;
	struct repo repo; /* the plugin repository, when a test starts one */
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

/* With plugin_files, a plugin repository serving them (NULL-terminated
 * names): the pods' init containers download what a spec lists from it. */
static struct fixture *fixture_with_plugins(const char *sim_config, const char *const *plugin_files)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	assert_non_null(pg_new_database(&pg, f->dburl, sizeof(f->dburl)));
	assert_true(sim_start(&f->sim, pg.dir, sim_config));
	struct esaasd_opts o = {
		.kubeconfig = f->sim.kubeconfig, .retry_base_ms = 100, .retry_cap_ms = 500};
	if (plugin_files) {
		assert_true(repo_start(&f->repo, pg.dir, plugin_files));
		o.plugin_repository = f->repo.url;
	}
	assert_true(esaasd_start(&f->d, pg.dir, f->dburl, &o));
	f->sql = sql_connect(f->dburl);
	return f;
}

static struct fixture *fixture_new(const char *sim_config)
{
	return fixture_with_plugins(sim_config, NULL);
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

static int64_t submit_create(const struct esaasd *d, const char *spec)
{
	char *params = xasprintf("{\"spec\": %s}", spec);
	json_t *s = json_loads(spec, 0, NULL);
	int64_t id = submit_job(d, "create", json_string_value(json_object_get(s, "name")), params);
	json_decref(s);
	free(params);
	return id;
}

/* Pods turn Ready through the readiness probe esaas renders (10 s before
 * the first probe that counts): a rolling restart of nine pods takes about
 * two minutes. */
static void expect_succeeded(const struct esaasd *d, int64_t id)
{
	assert_true(job_succeeded(d, id, 240000));
}

#define QUOTA_PATH "/api/v1/namespaces/es-default-logs/resourcequotas/esaas-quota"

/* The namespace's quota: spec.hard as "pods cpu memory", each of requests
 * and limits the same (Elasticsearch pods ask what they may use). */
static void expect_quota(struct sim *sim, const char *pods, const char *cpu, const char *memory)
{
	struct http_resp r;
	assert_true(sim_call(sim, "GET", QUOTA_PATH, NULL, &r));
	assert_int_equal(r.status, 200);
	json_t *hard = json_object_get(json_object_get(r.body, "spec"), "hard");
	char *seen = xasprintf("%s %s %s %s %s", json_string_value(json_object_get(hard, "pods")),
			       json_string_value(json_object_get(hard, "requests.cpu")),
			       json_string_value(json_object_get(hard, "limits.cpu")),
			       json_string_value(json_object_get(hard, "requests.memory")),
			       json_string_value(json_object_get(hard, "limits.memory")));
	char *want = xasprintf("%s %s %s %s %s", pods, cpu, cpu, memory, memory);
	if (strcmp(seen, want) != 0)
		fail_msg("quota %s, not %s", seen, want);
	free(want);
	free(seen);
	http_resp_free(&r);
}

/* A FailedCreate event of the namespace whose message has what. */
static bool failed_create(struct sim *sim, const char *what)
{
	struct http_resp r;
	bool found = false;
	size_t i;
	json_t *e;
	if (!sim_call(sim, "GET", "/api/v1/namespaces/es-default-logs/events", NULL, &r))
		return false;
	json_array_foreach (json_object_get(r.body, "items"), i, e) {
		const char *reason = json_string_value(json_object_get(e, "reason"));
		const char *msg = json_string_value(json_object_get(e, "message"));
		if (reason && msg && strcmp(reason, "FailedCreate") == 0 && strstr(msg, what))
			found = true;
	}
	http_resp_free(&r);
	return found;
}

static void sim_scale_data(struct sim *sim, int replicas)
{
	struct http_resp r;
	char *body =
		xasprintf("{\"apiVersion\": \"autoscaling/v1\", \"kind\": \"Scale\","
			  " \"metadata\": {\"name\": \"es-data\"}, \"spec\": {\"replicas\": %d}}",
			  replicas);
	assert_true(sim_call(sim, "PUT",
			     "/apis/apps/v1/namespaces/es-default-logs/statefulsets/es-data/scale",
			     body, &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	free(body);
}

static void test_create_builds_a_green_cluster_then_delete(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG);
	int64_t id =
		post_cluster(&f->d, "{\"name\": \"logs\", \"version\": \"7.17.10\","
				    " \"masters\": {\"replicas\": 3}, \"data\": {\"replicas\": 3},"
				    " \"clients\": {\"replicas\": 1}}");
	assert_true(id > 0);
	expect_succeeded(&f->d, id);
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	const char *q[] = {ids};
	/* Every state ran, in the table's order. */
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(DISTINCT from_state) FROM job_events"
				 " WHERE job_id = $1 AND outcome IN ('next', 'succeeded')",
				 1, q),
			 24);
	/* The cluster says so, with its endpoint. */
	struct http_resp r;
	assert_true(http_call(&f->d, "GET", "/api/v1/clusters/logs", NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	json_t *observed = json_object_get(r.body, "observed");
	assert_string_equal(json_string_value(json_object_get(observed, "phase")), "ready");
	assert_string_equal(json_string_value(json_object_get(json_object_get(observed, "endpoint"),
							      "service")),
			    "es-http");
	http_resp_free(&r);
	/* The simulator saw each object applied, and no pod deleted. */
	json_t *st = sim_record(&f->sim);
	char *dump = json_dumps(st, JSON_COMPACT);
	assert_non_null(strstr(dump, "statefulsets/es-data"));
	assert_non_null(strstr(dump, "poddisruptionbudgets"));
	assert_non_null(strstr(dump, "storageclasses/es-default-logs"));
	assert_non_null(strstr(dump, "persistentvolumes/es-default-logs-data-"));
	assert_int_equal(json_array_size(json_object_get(st, "pod_deletions")), 0);
	free(dump);
	json_decref(st);
	/* The namespace's quota is the spec's pods summed: 3 masters and 3 data
	 * nodes of the defaults (1 CPU, 2Gi; 2 CPUs, 8Gi), 1 client (1, 2Gi). */
	expect_quota(&f->sim, "7", "10", "32Gi");
	/* A workload cannot grow past it behind esaas's back. */
	sim_scale_data(&f->sim, 4);
	int64_t until = harness_now_ms() + 10000;
	while (!failed_create(&f->sim,
			      "create Pod es-data-3 in StatefulSet es-data failed error: "
			      "pods \"es-data-3\" is forbidden: exceeded quota: esaas-quota") &&
	       harness_now_ms() < until)
		msleep(50);
	assert_true(failed_create(&f->sim, "pods \"es-data-3\" is forbidden: exceeded quota"));
	sim_scale_data(&f->sim, 3);
	assert_true(sim_call(&f->sim, "GET", "/api/v1/namespaces/es-default-logs/pods/es-data-3",
			     NULL, &r));
	assert_int_equal(r.status, 404);
	http_resp_free(&r);

	/* Scale data down 3 -> 2: drained first, nothing lost, exclusion cleared,
	 * and the quota lowered once the node has gone. */
	assert_true(http_call(&f->d, "POST", "/api/v1/clusters/logs/scale",
			      "{\"role\": \"data\", \"replicas\": 2}", NULL, &r));
	assert_int_equal(r.status, 202);
	int64_t down = json_integer_value(json_object_get(r.body, "id"));
	http_resp_free(&r);
	expect_succeeded(&f->d, down);
	snprintf(ids, sizeof(ids), "%lld", (long long)down);
	char *trail = job_trail(f->sql, down);
	assert_string_equal(
		trail, "plan check_copies exclude_nodes wait_drained data_down_next data_down_scale"
		       " data_down_wait data_down_next"
		       " http_to_clients fit_quota clear_exclusion wait_green record_scaled");
	free(trail);
	expect_quota(&f->sim, "6", "8", "24Gi");
	st = sim_record(&f->sim);
	assert_int_equal(json_array_size(json_object_get(st, "lost_shards")), 0);
	/* The exclusion was set, then cleared: two writes of the settings, and
	 * none of it left in the cluster. */
	int settings_puts = 0;
	size_t k;
	json_t *rq;
	json_array_foreach (json_object_get(st, "requests"), k, rq)
		settings_puts += strcmp(json_str(rq, "verb"), "PUT") == 0 &&
				 strstr(json_str(rq, "path"), "/_cluster/settings") != NULL;
	assert_true(settings_puts >= 2);
	json_decref(st);
	assert_true(sim_call(&f->sim, "GET",
			     "/api/v1/namespaces/es-default-logs/services/es-http:9200/proxy"
			     "/_cluster/settings?flat_settings=true",
			     NULL, &r));
	assert_int_equal(r.status, 200);
	assert_null(strstr(r.raw, "cluster.routing.allocation.exclude._name"));
	http_resp_free(&r);
	assert_true(http_call(&f->d, "GET", "/api/v1/clusters/logs", NULL, NULL, &r));
	assert_int_equal(
		json_integer_value(json_object_get(
			json_object_get(json_object_get(r.body, "spec"), "data"), "replicas")),
		2);
	http_resp_free(&r);

	/* Clients up 1 -> 2; an even count of masters is refused, naming the field. */
	assert_true(http_call(&f->d, "POST", "/api/v1/clusters/logs/scale",
			      "{\"role\": \"clients\", \"replicas\": 2}", NULL, &r));
	assert_int_equal(r.status, 202);
	int64_t up = json_integer_value(json_object_get(r.body, "id"));
	http_resp_free(&r);
	expect_succeeded(&f->d, up);
	expect_quota(&f->sim, "7", "9", "26Gi");
	/* Data up 2 -> 3: the quota raised before the StatefulSet grows (the
	 * new pod would be refused otherwise, and the scale time out). */
	assert_true(http_call(&f->d, "POST", "/api/v1/clusters/logs/scale",
			      "{\"role\": \"data\", \"replicas\": 3}", NULL, &r));
	assert_int_equal(r.status, 202);
	int64_t data_up = json_integer_value(json_object_get(r.body, "id"));
	http_resp_free(&r);
	expect_succeeded(&f->d, data_up);
	trail = job_trail(f->sql, data_up);
	assert_string_equal(trail, "plan raise_quota grow_volumes scale_workload wait_scaled"
				   " http_to_clients"
				   " fit_quota clear_exclusion wait_green record_scaled");
	free(trail);
	expect_quota(&f->sim, "8", "11", "34Gi");
	assert_true(http_call(&f->d, "POST", "/api/v1/clusters/logs/scale",
			      "{\"role\": \"masters\", \"replicas\": 4}", NULL, &r));
	assert_int_equal(r.status, 422);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(r.body, "error"), "field")),
		"replicas");
	http_resp_free(&r);
	assert_true(http_call(&f->d, "POST", "/api/v1/clusters/logs/scale",
			      "{\"role\": \"data\", \"replicas\": 0}", NULL, &r));
	assert_int_equal(r.status, 422);
	http_resp_free(&r);

	/* Restart the data nodes, one at a time, safely. */
	st = sim_record(&f->sim);
	size_t deleted_before = json_array_size(json_object_get(st, "pod_deletions"));
	json_decref(st);
	assert_true(http_call(&f->d, "POST", "/api/v1/clusters/logs/restart",
			      "{\"role\": \"data\"}", NULL, &r));
	assert_int_equal(r.status, 202);
	int64_t rs = json_integer_value(json_object_get(r.body, "id"));
	http_resp_free(&r);
	expect_succeeded(&f->d, rs);
	snprintf(ids, sizeof(ids), "%lld", (long long)rs);
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM job_events WHERE job_id = $1"
				 " AND from_state = 'restart_delete_pod' AND outcome = 'next'",
				 1, q),
			 3);
	assert_int_equal(
		sql_int(f->sql,
			"SELECT jsonb_array_length(context->'restarted') FROM jobs WHERE id = $1",
			1, q),
		3);
	st = sim_record(&f->sim);
	/* Each pod went before its replacement came: the quota, exactly the
	 * spec's, was never in the way. */
	assert_int_equal(json_array_size(json_object_get(st, "pod_deletions")), deleted_before + 3);
	assert_int_equal(json_array_size(json_object_get(st, "lost_shards")), 0);
	json_decref(st);
	/* Allocation was paused for each pod, and is not left paused. */
	assert_int_equal(
		sql_int(f->sql,
			"SELECT count(*) FROM job_events WHERE job_id = $1"
			" AND from_state = 'restart_resume_allocation' AND outcome = 'next'",
			1, q),
		3);
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM jobs WHERE id = $1"
				 " AND context->>'allocation_paused' = 'false'",
				 1, q),
			 1);
	assert_true(http_call(&f->d, "POST", "/api/v1/clusters/logs/restart",
			      "{\"role\": \"data\", \"nodes\": [\"es-data-0\"]}", NULL, &r));
	assert_int_equal(r.status, 422);
	http_resp_free(&r);

	/* A dynamic setting: the settings API, no restart. */
	assert_true(http_call(&f->d, "PATCH", "/api/v1/clusters/logs/config",
			      "{\"settings\": {\"search.max_buckets\": 20000}}", NULL, &r));
	assert_int_equal(r.status, 202);
	int64_t dyn = json_integer_value(json_object_get(r.body, "id"));
	http_resp_free(&r);
	expect_succeeded(&f->d, dyn);
	snprintf(ids, sizeof(ids), "%lld", (long long)dyn);
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM job_events WHERE job_id = $1"
				 " AND from_state = 'apply_dynamic' AND outcome = 'next'",
				 1, q),
			 1);
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM job_events WHERE job_id = $1"
				 " AND from_state = 'restart_delete_pod'",
				 1, q),
			 0);
	/* A static one: every pod restarted, one at a time. */
	assert_true(http_call(&f->d, "PATCH", "/api/v1/clusters/logs/config",
			      "{\"settings\": {\"indices.query.bool.max_clause_count\": 4096}}",
			      NULL, &r));
	assert_int_equal(r.status, 202);
	int64_t stat = json_integer_value(json_object_get(r.body, "id"));
	http_resp_free(&r);
	expect_succeeded(&f->d, stat);
	snprintf(ids, sizeof(ids), "%lld", (long long)stat);
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM job_events WHERE job_id = $1"
				 " AND from_state = 'restart_delete_pod' AND outcome = 'next'",
				 1, q),
			 8);
	assert_true(http_call(&f->d, "GET", "/api/v1/clusters/logs", NULL, NULL, &r));
	json_t *config = json_object_get(json_object_get(r.body, "spec"), "config");
	assert_int_equal(json_integer_value(json_object_get(config, "search.max_buckets")), 20000);
	assert_int_equal(
		json_integer_value(json_object_get(config, "indices.query.bool.max_clause_count")),
		4096);
	http_resp_free(&r);
	/* A key esaas owns is refused, naming it, and nothing is queued. */
	long long jobs_before = sql_int(f->sql, "SELECT count(*) FROM jobs", 0, NULL);
	assert_true(http_call(&f->d, "PATCH", "/api/v1/clusters/logs/config",
			      "{\"settings\": {\"cluster.name\": \"mine\"}}", NULL, &r));
	assert_int_equal(r.status, 422);
	assert_non_null(strstr(r.raw, "cluster.name"));
	http_resp_free(&r);
	assert_int_equal(sql_int(f->sql, "SELECT count(*) FROM jobs", 0, NULL), jobs_before);
	st = sim_record(&f->sim);
	assert_int_equal(json_array_size(json_object_get(st, "lost_shards")), 0);
	json_decref(st);

	/* Delete: the namespace goes, the name is free again. */
	assert_true(http_call(&f->d, "DELETE", "/api/v1/clusters/logs", NULL, NULL, &r));
	assert_int_equal(r.status, 202);
	int64_t del = json_integer_value(json_object_get(r.body, "id"));
	assert_string_equal(json_string_value(json_object_get(r.body, "kind")), "delete");
	http_resp_free(&r);
	expect_succeeded(&f->d, del);
	assert_true(http_call(&f->d, "GET", "/api/v1/clusters/logs", NULL, NULL, &r));
	assert_int_equal(r.status, 404);
	http_resp_free(&r);
	assert_true(http_call(&f->d, "DELETE", "/api/v1/clusters/logs", NULL, NULL, &r));
	assert_int_equal(r.status, 404);
	http_resp_free(&r);
	/* The namespace, and with it every object of the cluster, is gone. */
	assert_true(sim_call(&f->sim, "GET", "/api/v1/namespaces/es-default-logs", NULL, &r));
	assert_int_equal(r.status, 404);
	http_resp_free(&r);
	/* And its cluster-scoped volumes and class: none left to bind. */
	assert_true(sim_call(&f->sim, "GET",
			     "/api/v1/persistentvolumes?labelSelector=esaas.io%2Fcluster%3Dlogs",
			     NULL, &r));
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(json_object_get(r.body, "items")), 0);
	http_resp_free(&r);
	assert_true(sim_call(&f->sim, "GET",
			     "/apis/storage.k8s.io/v1/storageclasses/es-default-logs", NULL, &r));
	assert_int_equal(r.status, 404);
	http_resp_free(&r);
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM clusters WHERE name = 'logs'"
				 " AND deleted_at IS NOT NULL AND observed->>'phase' = 'deleted'",
				 0, NULL),
			 1);
}

/* The simulator's own timings (pods Ready a second after they start, gone a
 * couple of seconds after they are deleted), as a real cluster has them. */
static const char SIM_CONFIG_REALISTIC[] =
	"nodes:\n  count: 3\n"
	"elasticsearch:\n  indices:\n    - {name: logs, shards: 1, replicas: 1}\n";

/* Someone deleted the namespace already: while it is Terminating, the
 * delete's own DELETE is a 409, which means it is on its way: the job goes
 * on to wait for it, no retry. */
static void test_delete_while_the_namespace_terminates_goes_on_to_wait(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG_REALISTIC);
	int64_t id = post_cluster(&f->d,
				  "{\"name\": \"slow\", \"masters\": {\"replicas\": 1},"
				  " \"data\": {\"replicas\": 2}, \"clients\": {\"replicas\": 0}}");
	expect_succeeded(&f->d, id);
	struct http_resp r;
	assert_true(sim_call(&f->sim, "DELETE", "/api/v1/namespaces/es-default-slow", NULL, &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	assert_true(http_call(&f->d, "DELETE", "/api/v1/clusters/slow", NULL, NULL, &r));
	assert_int_equal(r.status, 202);
	int64_t del = json_integer_value(json_object_get(r.body, "id"));
	http_resp_free(&r);
	expect_succeeded(&f->d, del);
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)del);
	const char *q[] = {ids};
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM job_events WHERE job_id = $1"
				 " AND from_state = 'delete_namespace' AND outcome <> 'next'",
				 1, q),
			 0);
	assert_true(sim_call(&f->sim, "GET", "/api/v1/namespaces/es-default-slow", NULL, &r));
	assert_int_equal(r.status, 404);
	http_resp_free(&r);
}

/* Pods that cannot be placed: the job fails at the wait's deadline, saying why. */
static void test_unschedulable_pods_are_explained(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG);
	/* Five data nodes, four hosts, one per host: one stays Pending.  Its
	 * claim finds no data volume left on any host (the scheduler's
	 * VolumeBinding filter runs before InterPodAffinity, and a node's
	 * first failing filter is the one reported). */
	int64_t id = submit_create(&f->d,
				   "{\"name\": \"big\", \"masters\": {\"replicas\": 1},"
				   " \"data\": {\"replicas\": 5}, \"clients\": {\"replicas\": 0}}");
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	const char *q[] = {ids};
	int64_t deadline = harness_now_ms() + 60000;
	while (sql_int(f->sql,
		       "SELECT count(*) FROM jobs WHERE id = $1 AND state = 'wait_pods_ready'"
		       " AND observation LIKE '% of 6 pods ready; es-data-% Pending: "
		       "%didn''t find available persistent volumes to bind%'",
		       1, q) != 1 &&
	       harness_now_ms() < deadline)
		msleep(20);
	assert_int_equal(
		sql_int(f->sql,
			"SELECT count(*) FROM jobs WHERE id = $1 AND state = 'wait_pods_ready'"
			" AND observation LIKE '% of 6 pods ready; es-data-% Pending: "
			"%didn''t find available persistent volumes to bind%'",
			1, q),
		1);
	char path[64];
	snprintf(path, sizeof(path), "/api/v1/jobs/%lld/cancel", (long long)id);
	struct http_resp r;
	assert_true(http_call(&f->d, "POST", path, "{\"reason\": \"too big for this fleet\"}", NULL,
			      &r));
	http_resp_free(&r);
	json_t *job = wait_job_done(&f->d, id, 20000);
	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "cancelled");
	json_decref(job);
}

/*
 * A job of a cluster deleted since is replayed no more: the name, and the
 * namespace, may be another cluster's by then, which the old job's states
 * would act on.
 */
static void test_no_replay_of_a_deleted_clusters_job(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG);
	/* Five data nodes on four hosts: it never gets ready. */
	int64_t id = post_cluster(&f->d,
				  "{\"name\": \"gone\", \"masters\": {\"replicas\": 1},"
				  " \"data\": {\"replicas\": 5}, \"clients\": {\"replicas\": 0}}");
	assert_true(id > 0);
	char path[64];
	snprintf(path, sizeof(path), "/api/v1/jobs/%lld/cancel", (long long)id);
	struct http_resp r;
	assert_true(http_call(&f->d, "POST", path, "{\"reason\": \"too big\"}", NULL, &r));
	http_resp_free(&r);
	json_t *job = wait_job_done(&f->d, id, 60000);
	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "cancelled");
	json_decref(job);
	long st = 0;
	int64_t del = api_op(&f->d, "DELETE", "/api/v1/clusters/gone", NULL, &st);
	assert_true(del > 0);
	expect_succeeded(&f->d, del);
	/* Made again under the same name: the old create stays ended. */
	int64_t again = post_cluster(
		&f->d, "{\"name\": \"gone\", \"masters\": {\"replicas\": 1},"
		       " \"data\": {\"replicas\": 2}, \"clients\": {\"replicas\": 0}}");
	assert_true(again > 0);
	snprintf(path, sizeof(path), "/api/v1/jobs/%lld/replay", (long long)id);
	assert_true(http_call(&f->d, "POST", path, "{\"reason\": \"try again\"}", NULL, &r));
	assert_int_equal(r.status, 409);
	const char *msg =
		json_string_value(json_object_get(json_object_get(r.body, "error"), "message"));
	assert_non_null(msg);
	assert_non_null(strstr(msg, "acted on cluster gone, which has been deleted since"));
	http_resp_free(&r);
	expect_succeeded(&f->d, again);
}

/* The pods of the namespace es-default-<cluster> (GET pods); the caller
 * frees it. */
static json_t *cluster_pods(struct sim *sim, const char *cluster)
{
	char *path = xasprintf("/api/v1/namespaces/es-default-%s/pods", cluster);
	struct http_resp r;
	json_t *items = NULL;
	assert_true(sim_call(sim, "GET", path, NULL, &r));
	if (r.status == 200)
		items = json_incref(json_object_get(r.body, "items"));
	http_resp_free(&r);
	free(path);
	return items;
}

/*
 * The simulated kubelet makes a DirectoryOrCreate hostPath root:root 0755
 * and the images run Elasticsearch as uid 1000: a node that cannot write
 * its data path crash-loops.  Masters keep their cluster state there too,
 * so their folder must be theirs (tests/unit/test_render.c checks the
 * same on hosts tuned in advance, which esaasd's configuration cannot ask
 * for).
 */
static void masters_write_their_data_path(struct fixture *f, const char *name, const char *version)
{
	char *spec = xasprintf("{\"name\": \"%s\", \"version\": \"%s\", \"masters\": "
			       "{\"replicas\": 3}, \"data\": {\"replicas\": 2}, \"clients\": "
			       "{\"replicas\": 0}}",
			       name, version);
	int64_t id = submit_create(&f->d, spec);
	free(spec);
	assert_true(id > 0);
	assert_true(job_succeeded(&f->d, id, 30000));

	/* No container restarted, and every data folder is uid 1000's. */
	json_t *pods = cluster_pods(&f->sim, name);
	size_t i, j;
	json_t *p, *c;
	assert_int_equal(json_array_size(pods), 5);
	json_array_foreach (pods, i, p) {
		json_array_foreach (
			json_object_get(json_object_get(p, "status"), "containerStatuses"), j, c)
			assert_int_equal(json_integer_value(json_object_get(c, "restartCount")), 0);
	}
	json_decref(pods);
	json_t *st = sim_record(&f->sim);
	char *ns = xasprintf("es-default-%s/", name);
	int folders = 0;
	json_array_foreach (json_object_get(st, "host_paths"), i, p) {
		const char *path = json_string_value(json_object_get(p, "path"));
		size_t n = strlen(path);
		if (!strstr(path, ns) || n < 5 || strcmp(path + n - 5, "/data") != 0)
			continue;
		folders++;
		if (strncmp(json_string_value(json_object_get(p, "owner")), "1000:", 5) != 0)
			fail_msg("%s on %s is owned by %s", path,
				 json_string_value(json_object_get(p, "host")),
				 json_string_value(json_object_get(p, "owner")));
	}
	assert_int_equal(folders, 5);
	free(ns);
	json_decref(st);
}

static void test_masters_can_write_their_data_path(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG);
	masters_write_their_data_path(f, "eight", "8.17.0");
	masters_write_their_data_path(f, "seven", "7.17.10");
}

/* 9.x's image runs as 8.x's does (uid 1000, its data path its own). */
static void test_masters_can_write_their_data_path_on_9x(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG);
	masters_write_their_data_path(f, "nine", "9.5.2");
}

/* --- namespaces: one per cluster, and esaas's only when its own --------------------- */

/* The simulator's answer to GET path, 200 expected; the caller frees it. */
static json_t *sim_get(struct sim *sim, const char *path)
{
	struct http_resp r;
	assert_true(sim_call(sim, "GET", path, NULL, &r));
	if (r.status != 200)
		fail_msg("GET %s: %ld %s", path, r.status, r.raw ? r.raw : "");
	json_t *body = json_incref(r.body);
	http_resp_free(&r);
	return body;
}

static const char *label_of(json_t *obj, const char *key)
{
	const char *v = json_string_value(
		json_object_get(json_object_get(json_object_get(obj, "metadata"), "labels"), key));
	return v ? v : "(none)";
}

/* The id of tenant's live cluster name, as the database has it, as text. */
static char *cluster_id_text(PGconn *sql, const char *tenant, const char *name)
{
	const char *p[] = {tenant, name};
	return xasprintf("%lld",
			 sql_int(sql,
				 "SELECT id FROM clusters WHERE tenant_id = $1 AND name = $2"
				 " AND deleted_at IS NULL",
				 2, p));
}

/* The API's record of tenant's cluster; the caller frees it. */
static json_t *api_cluster(const struct esaasd *d, const char *tenant, const char *name)
{
	char *path = xasprintf("/api/v1/clusters/%s?tenant=%s", name, tenant);
	struct http_resp r;
	assert_true(http_call(d, "GET", path, NULL, NULL, &r));
	if (r.status != 200)
		fail_msg("GET %s: %ld %s", path, r.status, r.raw ? r.raw : "");
	json_t *c = json_incref(r.body);
	http_resp_free(&r);
	free(path);
	return c;
}

/* Everything in namespace ns is tenant's cluster's: the namespace itself and
 * its workloads carry the cluster's id, and every object and pod its tenant
 * and cluster labels. */
static void expect_only_cluster_in(struct sim *sim, const char *ns, const char *tenant,
				   const char *cluster, const char *id)
{
	static const char *const collections[][2] = {{"/api/v1", "configmaps"},
						     {"/api/v1", "services"},
						     {"/apis/apps/v1", "statefulsets"},
						     {"/api/v1", "pods"}};
	char *path = xasprintf("/api/v1/namespaces/%s", ns);
	json_t *obj = sim_get(sim, path);
	free(path);
	assert_string_equal(label_of(obj, "esaas.io/cluster-id"), id);
	assert_string_equal(label_of(obj, "esaas.io/tenant"), tenant);
	assert_string_equal(label_of(obj, "esaas.io/cluster"), cluster);
	json_decref(obj);
	for (size_t c = 0; c < ARRAY_SIZE(collections); c++) {
		path = xasprintf("%s/namespaces/%s/%s", collections[c][0], ns, collections[c][1]);
		json_t *list = sim_get(sim, path);
		size_t i;
		json_t *item;
		assert_true(json_array_size(json_object_get(list, "items")) > 0);
		json_array_foreach (json_object_get(list, "items"), i, item) {
			const char *name = json_str(json_object_get(item, "metadata"), "name");
			if (strcmp(label_of(item, "esaas.io/tenant"), tenant) != 0 ||
			    strcmp(label_of(item, "esaas.io/cluster"), cluster) != 0)
				fail_msg("%s %s in %s is %s/%s's, not %s/%s's", path, name, ns,
					 label_of(item, "esaas.io/tenant"),
					 label_of(item, "esaas.io/cluster"), tenant, cluster);
			if (strstr(path, "statefulsets") &&
			    strcmp(label_of(item, "esaas.io/cluster-id"), id) != 0)
				fail_msg("StatefulSet %s in %s has cluster id %s, not %s", name, ns,
					 label_of(item, "esaas.io/cluster-id"), id);
		}
		json_decref(list);
		free(path);
	}
}

/*
 * Tenant "a" with cluster "b-c" and tenant "a-b" with cluster "c" once
 * shared the namespace es-a-b-c, and the second create took over the
 * first's cluster (apply is forced).  Each now has a namespace of its own,
 * shown by the API, and holds nothing of the other.
 */
static void test_tenants_whose_names_met_get_namespaces_of_their_own(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG);
	static const char *const pair[][2] = {{"a", "b-c"}, {"a-b", "c"}};
	int64_t jobs[2];
	char *ns[2];

	for (int i = 0; i < 2; i++) {
		char *path = xasprintf("/api/v1/tenants/%s", pair[i][0]);
		long status = 0;
		api_op(&f->d, "PUT", path, "{}", &status);
		assert_int_equal(status, 201);
		free(path);
		path = xasprintf("/api/v1/clusters?tenant=%s", pair[i][0]);
		char *spec =
			xasprintf("{\"name\": \"%s\", \"masters\": {\"replicas\": 1},"
				  " \"data\": {\"replicas\": 2}, \"clients\": {\"replicas\": 0}}",
				  pair[i][1]);
		jobs[i] = api_op(&f->d, "POST", path, spec, NULL);
		assert_true(jobs[i] > 0);
		free(spec);
		free(path);
	}
	for (int i = 0; i < 2; i++) {
		expect_succeeded(&f->d, jobs[i]);
		json_t *c = api_cluster(&f->d, pair[i][0], pair[i][1]);
		ns[i] = xstrdup(json_str(c, "namespace"));
		/* The endpoint is in the namespace stored with the cluster. */
		assert_string_equal(
			json_str(json_object_get(json_object_get(c, "observed"), "endpoint"),
				 "namespace"),
			ns[i]);
		json_decref(c);
	}
	assert_string_equal(ns[0], "es-a-b-c");
	assert_string_not_equal(ns[0], ns[1]);
	for (int i = 0; i < 2; i++) {
		char *id = cluster_id_text(f->sql, pair[i][0], pair[i][1]);
		expect_only_cluster_in(&f->sim, ns[i], pair[i][0], pair[i][1], id);
		free(id);
		free(ns[i]);
	}
}

/* Requests after the first skip of the simulator's record that change
 * something in namespace ns (anything but a GET). */
static int writes_to(struct sim *sim, const char *ns, size_t skip)
{
	json_t *st = sim_record(sim);
	char *part = xasprintf("/namespaces/%s", ns);
	int n = 0;
	size_t i;
	json_t *rq;
	json_array_foreach (json_object_get(st, "requests"), i, rq)
		n += i >= skip && strcmp(json_str(rq, "verb"), "GET") != 0 &&
		     strstr(json_str(rq, "path"), part) != NULL;
	free(part);
	json_decref(st);
	return n;
}

static size_t requests_so_far(struct sim *sim)
{
	json_t *st = sim_record(sim);
	size_t n = json_array_size(json_object_get(st, "requests"));
	json_decref(st);
	return n;
}

/* Set or remove (id NULL) the namespace's cluster id label, as someone with
 * kubectl would. */
static void relabel_namespace(struct sim *sim, const char *ns, const char *id)
{
	char *path = xasprintf("/api/v1/namespaces/%s", ns);
	json_t *obj = sim_get(sim, path);
	json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
	if (id)
		json_object_set_new(labels, "esaas.io/cluster-id", json_string(id));
	else
		json_object_del(labels, "esaas.io/cluster-id");
	char *body = json_dumps(obj, JSON_COMPACT);
	struct http_resp r;
	assert_true(sim_call(sim, "PUT", path, body, &r));
	if (r.status != 200)
		fail_msg("PUT %s: %ld %s", path, r.status, r.raw ? r.raw : "");
	http_resp_free(&r);
	free(body);
	json_decref(obj);
	free(path);
}

static void expect_failed_saying(const struct esaasd *d, int64_t id, const char *state,
				 const char *what)
{
	json_t *job = wait_job_done(d, id, 60000);
	assert_non_null(job);
	assert_string_equal(json_str(job, "status"), "failed");
	assert_string_equal(json_str(job, "failed_state"), state);
	const char *error = json_str(job, "error");
	if (!error || !strstr(error, what))
		fail_msg("job %lld failed with \"%s\", not \"%s\"", (long long)id,
			 error ? error : "", what);
	json_decref(job);
}

/*
 * A namespace that another cluster holds is never applied to or deleted:
 * the job fails naming it and its owner label, and nothing in it changes.
 * One made for this very cluster before the id label existed is adopted.
 */
static void test_a_namespace_of_another_cluster_is_left_alone(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG);
	static const char ns[] = "es-default-taken";
	struct http_resp r;

	assert_true(sim_call(&f->sim, "POST", "/api/v1/namespaces",
			     "{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\":"
			     " {\"name\": \"es-default-taken\", \"labels\":"
			     " {\"app.kubernetes.io/managed-by\": \"esaas\","
			     " \"esaas.io/tenant\": \"default\", \"esaas.io/cluster\": \"taken\","
			     " \"esaas.io/cluster-id\": \"999\"}}}",
			     &r));
	assert_int_equal(r.status, 201);
	http_resp_free(&r);
	assert_true(sim_call(&f->sim, "POST", "/api/v1/namespaces/es-default-taken/configmaps",
			     "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\":"
			     " {\"name\": \"es-master-config\"}, \"data\": {\"elasticsearch.yml\":"
			     " \"theirs\"}}",
			     &r));
	assert_int_equal(r.status, 201);
	http_resp_free(&r);
	size_t before = requests_so_far(&f->sim);

	int64_t id = post_cluster(&f->d,
				  "{\"name\": \"taken\", \"masters\": {\"replicas\": 1},"
				  " \"data\": {\"replicas\": 2}, \"clients\": {\"replicas\": 0}}");
	assert_true(id > 0);
	expect_failed_saying(&f->d, id, "apply_namespace",
			     "namespace es-default-taken belongs to another cluster"
			     " (esaas.io/cluster-id=999");
	assert_int_equal(writes_to(&f->sim, ns, before), 0);
	json_t *obj = sim_get(&f->sim, "/api/v1/namespaces/es-default-taken");
	assert_string_equal(label_of(obj, "esaas.io/cluster-id"), "999");
	json_decref(obj);
	obj = sim_get(&f->sim, "/api/v1/namespaces/es-default-taken/configmaps/es-master-config");
	assert_string_equal(json_str(json_object_get(obj, "data"), "elasticsearch.yml"), "theirs");
	json_decref(obj);

	/* Without the id, esaas's labels of this tenant and cluster: made for
	 * it before the label existed, so the replay adopts it. */
	relabel_namespace(&f->sim, ns, NULL);
	char *path = xasprintf("/api/v1/jobs/%lld/replay", (long long)id);
	long status = 0;
	api_op(&f->d, "POST", path,
	       "{\"from_state\": \"apply_namespace\", \"reason\": \"the namespace is this "
	       "cluster's\"}",
	       &status);
	assert_int_equal(status, 202);
	free(path);
	expect_succeeded(&f->d, id);
	char *mine = cluster_id_text(f->sql, "default", "taken");
	expect_only_cluster_in(&f->sim, ns, "default", "taken", mine);

	/* Taken by another cluster since: the delete deletes nothing. */
	relabel_namespace(&f->sim, ns, "999");
	before = requests_so_far(&f->sim);
	int64_t del = api_op(&f->d, "DELETE", "/api/v1/clusters/taken", NULL, NULL);
	assert_true(del > 0);
	expect_failed_saying(&f->d, del, "delete_plan",
			     "namespace es-default-taken belongs to another cluster"
			     " (esaas.io/cluster-id=999, this cluster's is ");
	assert_int_equal(writes_to(&f->sim, ns, before), 0);
	obj = sim_get(&f->sim, "/api/v1/namespaces/es-default-taken");
	assert_null(json_object_get(json_object_get(obj, "metadata"), "deletionTimestamp"));
	json_decref(obj);
	free(mine);
}

/*
 * Everything a create writes fits the API's schemas and the namespace's
 * pod security level: the API server warns of nothing (an unknown field
 * would be dropped with a warning; an apply would be refused outright).
 */
static void test_create_draws_no_warning_from_kubernetes(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG);
	int64_t id =
		post_cluster(&f->d, "{\"name\": \"logs\", \"version\": \"8.17.0\","
				    " \"masters\": {\"replicas\": 3}, \"data\": {\"replicas\": 2},"
				    " \"clients\": {\"replicas\": 1}}");
	assert_true(id > 0);
	expect_succeeded(&f->d, id);
	json_t *st = sim_record(&f->sim);
	json_t *warnings = json_object_get(st, "warnings");
	/* The simulator lists what it warned of (an empty list, not none). */
	assert_true(json_is_array(warnings));
	if (json_array_size(warnings) > 0) {
		char *dump = json_dumps(warnings, JSON_INDENT(2));
		fail_msg("the API server warned: %s", dump);
	}
	/* And the record had room for them: every object was written. */
	char *dump = json_dumps(json_object_get(st, "requests"), JSON_COMPACT);
	assert_non_null(strstr(dump, "statefulsets/es-data"));
	free(dump);
	json_decref(st);
}

/*
 * A cluster whose Pod Security default is restricted: the namespace esaas
 * makes says baseline, the level its pods need, and the create goes
 * through (without the label no pod of it would be made).
 */
static void test_create_passes_pod_security_with_its_namespace_label(void **state)
{
	char *config = xasprintf("%spod_security:\n  default_enforce: restricted\n", SIM_CONFIG);
	struct fixture *f = *state = fixture_new(config);
	free(config);
	int64_t id = post_cluster(
		&f->d, "{\"name\": \"logs\", \"version\": \"7.17.10\","
		       " \"masters\": {\"replicas\": 3}, \"data\": {\"replicas\": 2},"
		       " \"clients\": {\"replicas\": 1}, \"kibana\": {\"replicas\": 1}}");
	assert_true(id > 0);
	expect_succeeded(&f->d, id);
	struct http_resp r;
	assert_true(sim_call(&f->sim, "GET", "/api/v1/namespaces/es-default-logs", NULL, &r));
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_object_get(r.body, "metadata"), "labels"),
				    "pod-security.kubernetes.io/enforce")),
			    "baseline");
	http_resp_free(&r);
	/* The default holds where no label says otherwise. */
	assert_true(sim_call(&f->sim, "POST", "/api/v1/namespaces/default/pods",
			     "{\"metadata\": {\"name\": \"loose\"}, \"spec\": {\"containers\":"
			     " [{\"name\": \"c\", \"image\": \"x:1\"}]}}",
			     &r));
	assert_int_equal(r.status, 403);
	http_resp_free(&r);
}

/*
 * A cluster whose own policy holds every namespace to restricted (a
 * mutating policy, say) refuses the pods esaas renders, whose "prepare"
 * init container is root: the StatefulSets make none, and the wait fails
 * at once with the admission's reason, where it would have waited out its
 * 600 s saying only that the masters were not reachable.
 */
static void test_pod_security_refusal_fails_the_wait_with_its_reason(void **state)
{
	char *config = xasprintf("%spod_security:\n  force_enforce: restricted\n", SIM_CONFIG);
	struct fixture *f = *state = fixture_new(config);
	free(config);
	int64_t started = harness_now_ms();
	int64_t id = submit_create(&f->d,
				   "{\"name\": \"logs\", \"version\": \"7.17.10\","
				   " \"masters\": {\"replicas\": 3}, \"data\": {\"replicas\": 2}}");
	assert_true(id > 0);
	json_t *job = wait_job_done(&f->d, id, 60000);
	assert_non_null(job);
	assert_true(harness_now_ms() - started < 60000);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "failed");
	/* The masters' wait is the first to miss them. */
	assert_string_equal(json_string_value(json_object_get(job, "failed_state")),
			    "wait_masters_formed");
	const char *error = json_string_value(json_object_get(job, "error"));
	assert_non_null(error);
	if (!strstr(error, "masters not reachable yet: ") ||
	    !strstr(error, "0 of 3 master pods made; ") ||
	    !strstr(error, " FailedCreate: create Pod es-") ||
	    !strstr(error, "is forbidden: violates PodSecurity \"restricted:latest\": ") ||
	    !strstr(error, "runAsNonRoot != true (container \"prepare\""))
		fail_msg("the job's error does not say why: %s", error);
	json_decref(job);
	/* The namespace was labelled baseline by esaas, and the policy won. */
	struct http_resp r;
	assert_true(sim_call(&f->sim, "GET", "/api/v1/namespaces/es-default-logs", NULL, &r));
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_object_get(r.body, "metadata"), "labels"),
				    "pod-security.kubernetes.io/enforce")),
			    "restricted");
	http_resp_free(&r);
}

/*
 * The image esaas is told to run is not in the registry (a tag nobody
 * pushed): the kubelet's pulls fail, the master pods' first container of
 * that image (the plugins' init container) waits in ErrImagePull and
 * ImagePullBackOff, and the create's wait says so with the kubelet's
 * words while the kubelet retries, then fails once
 * kubernetes.image_pull_timeout_seconds have passed, well before the
 * wait's deadline.
 */
static void test_create_whose_image_the_registry_lacks_fails_with_the_kubelets_reason(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	*state = f;
	assert_non_null(pg_new_database(&pg, f->dburl, sizeof(f->dburl)));
	assert_true(sim_start(&f->sim, pg.dir, SIM_CONFIG));
	struct esaasd_opts o = {
		.kubeconfig = f->sim.kubeconfig,
		.retry_base_ms = 100,
		.retry_cap_ms = 500,
		.kube_yaml = "  allowed_images: \"7.17.10=docker.elastic.co/elasticsearch/"
			     "elasticsearch:7.17.10-nightly\"\n"
			     "  image_pull_timeout_seconds: 20\n"};
	assert_true(esaasd_start(&f->d, pg.dir, f->dburl, &o));
	f->sql = sql_connect(f->dburl);
	int64_t started = harness_now_ms();
	int64_t id = submit_create(&f->d,
				   "{\"name\": \"logs\", \"version\": \"7.17.10\","
				   " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 1}}");
	assert_true(id > 0);

	/* While the kubelet retries, the wait says what it saw. */
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	const char *q[] = {ids};
	int64_t until = harness_now_ms() + 60000;
	while (sql_int(f->sql,
		       "SELECT count(*) FROM jobs WHERE id = $1 AND observation LIKE"
		       " '%es-master-0 Pending: container install-plugins waiting: %ImagePull%'",
		       1, q) < 1 &&
	       harness_now_ms() < until)
		msleep(200);
	if (harness_now_ms() >= until) {
		PGresult *res = PQexecParams(f->sql,
					     "SELECT state || ': ' || coalesce(observation, '')"
					     " FROM jobs WHERE id = $1",
					     1, NULL, q, NULL, NULL, 0);
		fail_msg("the wait never said the image was not pulled: %s",
			 PQntuples(res) ? PQgetvalue(res, 0, 0) : "no job");
	}

	json_t *job = wait_job_done(&f->d, id, 120000);
	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "failed");
	assert_string_equal(json_string_value(json_object_get(job, "failed_state")),
			    "wait_masters_formed");
	const char *error = json_string_value(json_object_get(job, "error"));
	assert_non_null(error);
	if (!strstr(error, "es-master-0 Pending: container install-plugins waiting: ") ||
	    !strstr(error, "docker.elastic.co/elasticsearch/elasticsearch:7.17.10-nightly") ||
	    !strstr(error, "(kubernetes.image_pull_timeout_seconds: 20)"))
		fail_msg("the job's error does not say why: %s", error);
	json_decref(job);
	/* Failed by the bound, not by the wait's 600 s deadline. */
	assert_true(harness_now_ms() - started < 120000);
	/* The kubelet's own account, in the namespace's events. */
	struct http_resp r;
	assert_true(
		sim_call(&f->sim, "GET", "/api/v1/namespaces/es-default-logs/events", NULL, &r));
	assert_non_null(strstr(r.raw,
			       "Failed to pull image \\\"docker.elastic.co/elasticsearch/"
			       "elasticsearch:7.17.10-nightly\\\": rpc error: code = NotFound"));
	http_resp_free(&r);
}

/*
 * No tenant code runs privileged: a cluster whose policy holds every
 * namespace to baseline (no privileged container, no hostPath volume)
 * still gets every pod, plugins and Kibana included, since esaas's pods
 * need no more; the Elasticsearch containers run as uid 1000 and can write
 * their data paths, and nothing of the tenant's image runs as root.  An
 * image of the tenant's choosing is refused before anything is queued.
 */
static void test_create_passes_with_its_namespace_at_baseline(void **state)
{
	static const char *const plugin_files[] = {"analysis-icu-7.17.10.zip", NULL};
	char *config = xasprintf("%spod_security:\n  force_enforce: baseline\n", SIM_CONFIG);
	struct fixture *f = *state = fixture_with_plugins(config, plugin_files);
	free(config);
	struct http_resp r;
	assert_true(http_call(&f->d, "POST", "/api/v1/clusters",
			      "{\"name\": \"logs\", \"version\": \"7.17.10\","
			      " \"image\": \"evil/es:1\"}",
			      NULL, &r));
	assert_int_equal(r.status, 422);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(r.body, "error"), "field")),
		"image");
	http_resp_free(&r);

	int64_t id = post_cluster(&f->d,
				  "{\"name\": \"logs\", \"version\": \"7.17.10\","
				  " \"masters\": {\"replicas\": 3}, \"data\": {\"replicas\": 2},"
				  " \"clients\": {\"replicas\": 1}, \"kibana\": {\"replicas\": 1},"
				  " \"plugins\": [\"analysis-icu\"]}");
	assert_true(id > 0);
	expect_succeeded(&f->d, id);

	size_t i;
	json_t *pod;
	int pods = 0;
	assert_true(sim_call(&f->sim, "GET", "/api/v1/namespaces/es-default-logs/pods", NULL, &r));
	json_array_foreach (json_object_get(r.body, "items"), i, pod) {
		static const char *const lists[] = {"initContainers", "containers"};
		json_t *spec = json_object_get(pod, "spec");
		for (size_t l = 0; l < 2; l++) {
			size_t j;
			json_t *c;
			json_array_foreach (json_object_get(spec, lists[l]), j, c) {
				json_t *sc = json_object_get(c, "securityContext");
				const char *image = json_string_value(json_object_get(c, "image"));
				json_t *uid = json_object_get(sc, "runAsUser");
				assert_false(json_is_true(json_object_get(sc, "privileged")));
				if (strstr(image, "elasticsearch") || strstr(image, "kibana")) {
					assert_true(json_is_integer(uid));
					assert_int_equal(json_integer_value(uid), 1000);
				}
			}
		}
		pods++;
	}
	assert_int_equal(pods, 3 + 2 + 1 + 1);
	http_resp_free(&r);
}

/*
 * A plugin whose file the plugin repository lacks could not be installed
 * by any node's init container: the create is refused at once, naming the
 * plugin's place in the request and the file, and nothing is made.  The
 * same create without it passes the check (a preview, which queues
 * nothing).
 */
static void test_create_with_a_plugin_the_repository_lacks_is_refused_at_once(void **state)
{
	static const char *const files[] = {"analysis-icu-7.17.10.zip", NULL};
	struct fixture *f = *state = fixture_with_plugins(SIM_CONFIG, files);
	struct http_resp r;
	assert_true(http_call(&f->d, "POST", "/api/v1/clusters",
			      "{\"name\": \"logs\", \"version\": \"7.17.10\","
			      " \"plugins\": [\"analysis-icu\", \"mapper-size\"]}",
			      NULL, &r));
	assert_int_equal(r.status, 422);
	json_t *err = json_object_get(r.body, "error");
	assert_string_equal(json_string_value(json_object_get(err, "field")), "plugins[1]");
	const char *msg = json_string_value(json_object_get(err, "message"));
	assert_non_null(strstr(msg, "mapper-size-7.17.10.zip"));
	assert_non_null(strstr(msg, "404"));
	http_resp_free(&r);
	assert_int_equal(sql_int(f->sql, "SELECT count(*) FROM jobs", 0, NULL), 0);
	assert_int_equal(sql_int(f->sql, "SELECT count(*) FROM clusters", 0, NULL), 0);
	assert_true(sim_call(&f->sim, "GET", "/api/v1/namespaces/es-default-logs", NULL, &r));
	assert_int_equal(r.status, 404);
	http_resp_free(&r);

	assert_true(http_call(&f->d, "POST", "/api/v1/clusters?dry_run=true",
			      "{\"name\": \"logs\", \"version\": \"7.17.10\","
			      " \"plugins\": [\"analysis-icu\"]}",
			      NULL, &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	assert_int_equal(sql_int(f->sql, "SELECT count(*) FROM jobs", 0, NULL), 0);
}

/*
 * esaasd on a bound service-account token that lives 300 ms, which the
 * simulator rewrites in its file at 80% of its life and refuses once past:
 * a create goes through every rotation as on a cluster that does not
 * extend its tokens.
 */
static void test_create_keeps_working_through_token_rotation(void **state)
{
	/* Tokens of two seconds, rotated after 1.6 s as the kubelet does at
	 * 80% of their life: a token read from the file has at least 400 ms
	 * left, more than a request takes even under the sanitizers (real
	 * tokens live ten minutes at least, two of them left after rotation). */
	char *config = xasprintf("%sserviceaccounts:\n  token_life_ms: 2000\n", SIM_CONFIG);
	struct fixture *f = *state = fixture_new(config);
	free(config);
	assert_true(f->sim.sa_token_file[0] != '\0');
	int64_t started = harness_now_ms();
	int64_t id = post_cluster(&f->d,
				  "{\"name\": \"logs\", \"version\": \"7.17.10\","
				  " \"masters\": {\"replicas\": 3}, \"data\": {\"replicas\": 2}}");
	assert_true(id > 0);
	expect_succeeded(&f->d, id);
	json_t *st = sim_record(&f->sim);
	json_t *tokens = json_object_get(st, "service_account_tokens");
	json_int_t rotations = json_integer_value(json_object_get(tokens, "rotations"));
	/* The job outlived several tokens. */
	assert_true(harness_now_ms() - started > 3 * 2000);
	assert_true(rotations >= 3);
	json_decref(st);
}

/* Without Kubernetes, the job fails at once and says what is missing. */
static void test_no_kubernetes_fails_clearly(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	*state = f;
	assert_non_null(pg_new_database(&pg, f->dburl, sizeof(f->dburl)));
	struct esaasd_opts o = {.kubeconfig = "/nonexistent/kubeconfig"};
	assert_true(esaasd_start(&f->d, pg.dir, f->dburl, &o));
	int64_t id = submit_create(&f->d, "{\"name\": \"logs\"}");
	json_t *job = wait_job_done(&f->d, id, 20000);
	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "failed");
	assert_non_null(strstr(json_string_value(json_object_get(job, "error")),
			       "no Kubernetes connection"));
	json_decref(job);
}

/* The lines of a file (0 when it does not exist). */
static int count_lines(const char *path)
{
	FILE *fp = fopen(path, "r");
	int n = 0, ch;
	if (!fp)
		return 0;
	while ((ch = fgetc(fp)) != EOF)
		n += ch == '\n';
	fclose(fp);
	return n;
}

/*
 * Start esaasd for f (its simulator running) authenticating with the
 * exec credential plugin tests/integration/exec-plugins/SCRIPT, given
 * env_yaml (the lines of exec's env list), as with the kubeconfigs of
 * EKS, GKE and AKS.
 */
static void start_with_exec(struct fixture *f, const char *script, const char *env_yaml,
			    int retry_max_attempts)
{
	char *kubeconfig = xasprintf("%s/exec-kubeconfig", f->sim.dir);
	FILE *kc = fopen(kubeconfig, "w");
	assert_non_null(kc);
	fprintf(kc,
		"apiVersion: v1\n"
		"kind: Config\n"
		"clusters:\n"
		"- name: sim\n"
		"  cluster:\n"
		"    server: \"%s\"\n"
		"    certificate-authority: \"%s\"\n"
		"users:\n"
		"- name: esaas\n"
		"  user:\n"
		"    exec:\n"
		"      apiVersion: client.authentication.k8s.io/v1\n"
		"      command: \"%s/tests/integration/exec-plugins/%s\"\n"
		"      env:\n"
		"%s"
		"      installHint: the tests' plugins are in the source tree\n"
		"      provideClusterInfo: true\n"
		"      interactiveMode: Never\n"
		"contexts:\n"
		"- name: esaas\n"
		"  context: {cluster: sim, user: esaas}\n"
		"current-context: esaas\n",
		f->sim.server, f->sim.ca, harness_srcdir(), script, env_yaml);
	assert_int_equal(fclose(kc), 0);
	struct esaasd_opts o = {.kubeconfig = kubeconfig,
				.retry_base_ms = 100,
				.retry_cap_ms = 500,
				.retry_max_attempts = retry_max_attempts};
	assert_true(esaasd_start(&f->d, pg.dir, f->dburl, &o));
	f->sql = sql_connect(f->dburl);
	free(kubeconfig);
}

/*
 * esaasd authenticates with an exec credential plugin that prints the
 * simulator's rotating service-account token with an expirationTimestamp
 * shorter than the create, so the credential is fetched again and again
 * while it runs.
 */
static void test_create_through_an_exec_credential_plugin(void **state)
{
	char *config = xasprintf("%sserviceaccounts:\n  token_life_ms: 1500\n", SIM_CONFIG);
	struct fixture *f = *state = xcalloc(1, sizeof(*f));
	assert_non_null(pg_new_database(&pg, f->dburl, sizeof(f->dburl)));
	assert_true(sim_start(&f->sim, pg.dir, config));
	free(config);
	assert_true(f->sim.sa_token_file[0] != '\0');
	char *runs = xasprintf("%s/plugin-runs", f->sim.dir);
	char *env = xasprintf("      - {name: PLUGIN_TOKEN_FILE, value: \"%s\"}\n"
			      "      - {name: PLUGIN_LIFE_MS, value: \"200\"}\n"
			      "      - {name: PLUGIN_RUNS, value: \"%s\"}\n",
			      f->sim.sa_token_file, runs);
	start_with_exec(f, "credential.sh", env, 0);
	free(env);

	int64_t id = post_cluster(&f->d,
				  "{\"name\": \"logs\", \"version\": \"7.17.10\","
				  " \"masters\": {\"replicas\": 3}, \"data\": {\"replicas\": 2}}");
	assert_true(id > 0);
	expect_succeeded(&f->d, id);
	/* The job outlived several credentials, each fetched by a run of the plugin. */
	assert_true(count_lines(runs) >= 3);
	free(runs);
}

/* A plugin that fails: the job fails with its name, exit status and stderr's first line. */
static void test_create_fails_naming_its_failing_credential_plugin(void **state)
{
	struct fixture *f = *state = xcalloc(1, sizeof(*f));
	assert_non_null(pg_new_database(&pg, f->dburl, sizeof(f->dburl)));
	assert_true(sim_start(&f->sim, pg.dir, SIM_CONFIG));
	start_with_exec(f, "failing.sh", "      - {name: AWS_PROFILE, value: prod}\n", 2);

	int64_t id = submit_create(&f->d, "{\"name\": \"logs\", \"version\": \"7.17.10\"}");
	json_t *job = wait_job_done(&f->d, id, 60000);
	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "failed");
	const char *error = json_string_value(json_object_get(job, "error"));
	assert_non_null(error);
	if (!strstr(error, "exec-plugins/failing.sh: exit status 3: error: profile prod: the "
			   "SSO session has expired"))
		fail_msg("the job's error does not say what the plugin said: %s", error);
	json_decref(job);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_create_builds_a_green_cluster_then_delete, teardown),
		cmocka_unit_test_teardown(
			test_delete_while_the_namespace_terminates_goes_on_to_wait, teardown),
		cmocka_unit_test_teardown(test_unschedulable_pods_are_explained, teardown),
		cmocka_unit_test_teardown(
			test_create_with_a_plugin_the_repository_lacks_is_refused_at_once,
			teardown),
		cmocka_unit_test_teardown(test_masters_can_write_their_data_path, teardown),
		cmocka_unit_test_teardown(test_masters_can_write_their_data_path_on_9x, teardown),
		cmocka_unit_test_teardown(test_no_kubernetes_fails_clearly, teardown),
		cmocka_unit_test_teardown(test_tenants_whose_names_met_get_namespaces_of_their_own,
					  teardown),
		cmocka_unit_test_teardown(test_a_namespace_of_another_cluster_is_left_alone,
					  teardown),
		cmocka_unit_test_teardown(test_no_replay_of_a_deleted_clusters_job, teardown),
		cmocka_unit_test_teardown(test_create_keeps_working_through_token_rotation,
					  teardown),
		cmocka_unit_test_teardown(test_create_through_an_exec_credential_plugin, teardown),
		cmocka_unit_test_teardown(test_create_fails_naming_its_failing_credential_plugin,
					  teardown),
		cmocka_unit_test_teardown(test_create_draws_no_warning_from_kubernetes, teardown),
		cmocka_unit_test_teardown(test_create_passes_with_its_namespace_at_baseline,
					  teardown),
		cmocka_unit_test_teardown(test_pod_security_refusal_fails_the_wait_with_its_reason,
					  teardown),
		cmocka_unit_test_teardown(
			test_create_whose_image_the_registry_lacks_fails_with_the_kubelets_reason,
			teardown),
		cmocka_unit_test_teardown(test_create_passes_pod_security_with_its_namespace_label,
					  teardown),
	};
	/* ESAAS_TEST_FILTER=test_name (a glob) runs some tests only. */
	if (getenv("ESAAS_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ESAAS_TEST_FILTER"));
	return harness_run_group(tests, group_setup, group_teardown);
}
