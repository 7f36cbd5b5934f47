/*
 * The operations end to end, past the happy path: masters scaled on zen1
 * and zen2, plugins from a real plugin repository (nginx), scale-downs that
 * would lose shard copies, a rolling restart under kill -9 of esaasd, a
 * cluster stuck red, a cancel in the middle of a drain, two operations at
 * once, and faults in a fifth of the requests.  esaasd-test runs against
 * esaas-sim and a private PostgreSQL; the simulator's record says what
 * happened to pods and shards.
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
#include "common/json.h"
#include "tests/integration/harness.h"

static struct pg pg;

#define JOB_TIMEOUT_MS 120000

static const char SIM_CONFIG[] = "tick_ms: 20\n"
				 "nodes:\n  count: 6\n  racks: [rack-a, rack-b]\n"
				 "elasticsearch:\n  relocation_ms: 200\n  recovery_ms: 50\n  "
				 "no_master_wait_ms: 500\n  node_left_delay_ms: 2000\n"
				 "  indices:\n    - {name: logs, shards: 2, replicas: 1}\n";

/* Relocations slow enough to cancel a drain in the middle of it. */
static const char SLOW_SIM_CONFIG[] = "tick_ms: 20\n"
				      "nodes:\n  count: 6\n  racks: [rack-a, rack-b]\n"
				      "elasticsearch:\n  relocation_ms: 30000\n  recovery_ms: 50\n "
				      " no_master_wait_ms: 500\n  node_left_delay_ms: 2000\n"
				      "  indices:\n    - {name: logs, shards: 3, replicas: 1}\n";

/* Relocations that take a few seconds, and a node that leaves is waited
 * for a while before its copies are placed elsewhere. */
static const char DRAIN_SIM_CONFIG[] = "tick_ms: 20\n"
				       "nodes:\n  count: 6\n  racks: [rack-a, rack-b]\n"
				       "elasticsearch:\n  relocation_ms: 3000\n  recovery_ms: 50\n"
				       "  no_master_wait_ms: 500\n  node_left_delay_ms: 60000\n"
				       "  indices:\n    - {name: logs, shards: 3, replicas: 1}\n";

/* Three copies of each shard: three data nodes can hold them, two cannot. */
static const char THREE_COPIES_SIM_CONFIG[] =
	"tick_ms: 20\n"
	"nodes:\n  count: 6\n  racks: [rack-a, rack-b]\n"
	"elasticsearch:\n  relocation_ms: 200\n  recovery_ms: 50\n  no_master_wait_ms: 500\n  "
	"node_left_delay_ms: 2000\n"
	"  indices:\n    - {name: logs, shards: 2, replicas: 2}\n";

/* The plugin repository's archives: a plugin a test installs must be
 * there, or its pods' init container fails, as on a real cluster. */
static const char *const REPO_FILES[] = {"analysis-icu-6.8.23.zip", "analysis-icu-7.17.10.zip",
					 "analysis-icu-8.17.0.zip", "mapper-size-7.17.10.zip",
					 "mapper-size-8.17.0.zip",  NULL};

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

static long long job_events_count(struct fixture *f, int64_t id, const char *where);

static struct fixture *fixture_start(const char *sim_config, int deadline_percent, int lease_s,
				     int unschedulable_s)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	assert_non_null(pg_new_database(&pg, f->dburl, sizeof(f->dburl)));
	/* Deadlines cut to a few percent: the image pulls as fast, else a
	 * fresh node's pulls alone outlast a wait. */
	char *config = deadline_percent ? xasprintf("%simages:\n  pull_ms: %d\n", sim_config,
						    5000 * deadline_percent / 100)
					: xstrdup(sim_config);
	assert_true(sim_start(&f->sim, pg.dir, config));
	free(config);
	assert_true(repo_start(&f->repo, pg.dir, REPO_FILES));
	f->o = (struct esaasd_opts){.kubeconfig = f->sim.kubeconfig,
				    .plugin_repository = f->repo.url,
				    .retry_base_ms = 50,
				    .retry_cap_ms = 300,
				    .deadline_percent = deadline_percent,
				    .lease_s = lease_s,
				    .heartbeat_s = lease_s ? (lease_s + 2) / 3 : 0,
				    .unschedulable_timeout_s = unschedulable_s};
	assert_true(esaasd_start(&f->d, pg.dir, f->dburl, &f->o));
	f->sql = sql_connect(f->dburl);
	return f;
}

static struct fixture *fixture_new(const char *sim_config, int deadline_percent, int lease_s)
{
	return fixture_start(sim_config, deadline_percent, lease_s, 0);
}

/* The health sweep every second, as the budget tests need it. */
static const char WATCHED_YAML[] = "monitor:\n  interval_seconds: 1\n  jitter_percent: 10\n";

static struct fixture *fixture_watched(const char *sim_config)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	assert_non_null(pg_new_database(&pg, f->dburl, sizeof(f->dburl)));
	assert_true(sim_start(&f->sim, pg.dir, sim_config));
	assert_true(repo_start(&f->repo, pg.dir, REPO_FILES));
	f->o = (struct esaasd_opts){.kubeconfig = f->sim.kubeconfig,
				    .plugin_repository = f->repo.url,
				    .retry_base_ms = 50,
				    .retry_cap_ms = 300,
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

static void expect_ok(struct fixture *f, int64_t id)
{
	assert_true(id > 0);
	assert_true(job_succeeded(&f->d, id, JOB_TIMEOUT_MS));
}

static void expect_trail(struct fixture *f, int64_t id, const char *want)
{
	char *trail = job_trail(f->sql, id);
	if (strcmp(trail, want) != 0)
		fail_msg("job %lld went\n  %s\nnot\n  %s", (long long)id, trail, want);
	free(trail);
}

/* A GET on the cluster's Elasticsearch through the simulator's service proxy. */
static json_t *es_get(struct fixture *f, const char *cluster, const char *path)
{
	char *url = xasprintf("/api/v1/namespaces/es-default-%s/services/es-http:9200/proxy%s",
			      cluster, path);
	struct http_resp r;
	json_t *body = NULL;
	if (sim_call(&f->sim, "GET", url, NULL, &r) && r.status == 200)
		body = json_incref(r.body);
	http_resp_free(&r);
	free(url);
	return body;
}

/* A persistent or transient cluster setting (flat), or NULL when unset. */
static char *cluster_setting(struct fixture *f, const char *cluster, const char *key)
{
	json_t *s = es_get(f, cluster, "/_cluster/settings?flat_settings=true");
	assert_non_null(s);
	json_t *v = json_object_get(json_object_get(s, "transient"), key);
	if (!v)
		v = json_object_get(json_object_get(s, "persistent"), key);
	char *out = NULL;
	if (json_is_string(v))
		out = xstrdup(json_string_value(v));
	else if (v && !json_is_null(v))
		out = json_dumps(v, JSON_ENCODE_ANY);
	json_decref(s);
	return out;
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t lost_shards(struct fixture *f)
{
	json_t *st = sim_record(&f->sim);
	assert_non_null(st);
	size_t n = json_array_size(json_object_get(st, "lost_shards"));
	json_decref(st);
	return n;
}

static int folders_with_a_node(struct fixture *f, const char *cluster, const char *host);

/* Requests the simulator recorded whose method and path contain what. */
static int recorded(struct fixture *f, const char *method, const char *what)
{
	json_t *st = sim_record(&f->sim);
	assert_non_null(st);
	int n = 0;
	size_t i;
	json_t *r;
	json_array_foreach (json_object_get(st, "requests"), i, r) {
		const char *m = json_string_value(json_object_get(r, "verb"));
		const char *p = json_string_value(json_object_get(r, "path"));
		const char *q = json_string_value(json_object_get(r, "query"));
		char *all = xasprintf("%s?%s", p ? p : "", q ? q : "");
		if (m && strcmp(m, method) == 0 && strstr(all, what))
			n++;
		free(all);
	}
	json_decref(st);
	return n;
}

/* The cluster namespace's quota, spec.hard: pods, requests.cpu, limits.cpu,
 * requests.memory, limits.memory. */
static void expect_quota_of(struct fixture *f, const char *cluster, const char *pods,
			    const char *cpu_requests, const char *cpu_limits,
			    const char *memory_requests, const char *memory_limits)
{
	char *path =
		xasprintf("/api/v1/namespaces/es-default-%s/resourcequotas/esaas-quota", cluster);
	struct http_resp r;
	assert_true(sim_call(&f->sim, "GET", path, NULL, &r));
	assert_int_equal(r.status, 200);
	json_t *hard = json_object_get(json_object_get(r.body, "spec"), "hard");
	char *seen = xasprintf("%s %s %s %s %s", json_string_value(json_object_get(hard, "pods")),
			       json_string_value(json_object_get(hard, "requests.cpu")),
			       json_string_value(json_object_get(hard, "limits.cpu")),
			       json_string_value(json_object_get(hard, "requests.memory")),
			       json_string_value(json_object_get(hard, "limits.memory")));
	char *want = xasprintf("%s %s %s %s %s", pods, cpu_requests, cpu_limits, memory_requests,
			       memory_limits);
	if (strcmp(seen, want) != 0)
		fail_msg("%s: quota %s, not %s", cluster, seen, want);
	free(want);
	free(seen);
	http_resp_free(&r);
	free(path);
}

/* The same, for pods whose requests and limits are equal. */
static void expect_quota(struct fixture *f, const char *cluster, const char *pods, const char *cpu,
			 const char *memory)
{
	expect_quota_of(f, cluster, pods, cpu, cpu, memory, memory);
}

static json_t *get_cluster(struct fixture *f, const char *name)
{
	char *path = xasprintf("/api/v1/clusters/%s", name);
	struct http_resp r;
	assert_true(http_call(&f->d, "GET", path, NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	json_t *c = json_incref(r.body);
	http_resp_free(&r);
	free(path);
	return c;
}

static json_int_t spec_replicas(struct fixture *f, const char *name, const char *role)
{
	json_t *c = get_cluster(f, name);
	json_int_t n = json_integer_value(
		json_object_get(json_object_get(json_object_get(c, "spec"), role), "replicas"));
	json_decref(c);
	return n;
}

static bool spec_has_plugin(struct fixture *f, const char *name, const char *plugin)
{
	json_t *c = get_cluster(f, name);
	bool has = false;
	size_t i;
	json_t *p;
	json_array_foreach (json_object_get(json_object_get(c, "spec"), "plugins"), i, p)
		if (strcmp(json_string_value(p), plugin) == 0)
			has = true;
	json_decref(c);
	return has;
}

/* Poll the job's row until its state is one of the '|'-separated list. */
static bool wait_state(struct fixture *f, int64_t id, const char *states, int timeout_ms)
{
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	const char *q[] = {ids, states};
	int64_t deadline = harness_now_ms() + timeout_ms;
	while (harness_now_ms() < deadline) {
		if (sql_int(f->sql,
			    "SELECT count(*) FROM jobs WHERE id = $1"
			    " AND state = ANY (string_to_array($2, '|'))",
			    2, q) == 1)
			return true;
		msleep(20);
	}
	return false;
}

static int64_t scale(struct fixture *f, const char *name, const char *body, long *status)
{
	char *path = xasprintf("/api/v1/clusters/%s/scale", name);
	int64_t id = api_op(&f->d, "POST", path, body, status);
	free(path);
	return id;
}

/* --- masters and plugins, zen1 and zen2 ------------------------------------------- */

static void masters_and_plugins(struct fixture *f, const char *name, const char *version, bool zen1)
{
	char *spec =
		xasprintf("{\"name\": \"%s\", \"version\": \"%s\", \"masters\": {\"replicas\": 3},"
			  " \"data\": {\"replicas\": 2}, \"clients\": {\"replicas\": 1}}",
			  name, version);
	expect_ok(f, post_cluster(&f->d, spec));
	free(spec);
	assert_int_equal(lost_shards(f), 0);

	/* Masters 3 -> 5 -> 3, each path in its quorum-safe order. */
	int64_t up = scale(f, name, "{\"role\": \"masters\", \"replicas\": 5}", NULL);
	expect_ok(f, up);
	expect_trail(
		f, up,
		zen1 ? "plan zen1_grow_config zen1_grow_quota zen1_grow_volumes zen1_grow_next "
		       "zen1_grow_scale zen1_grow_wait zen1_grow_quorum zen1_grow_next "
		       "zen1_grow_scale zen1_grow_wait zen1_grow_quorum zen1_grow_next "
		       "wait_green record_scaled"
		     : "plan zen2_grow_config zen2_grow_quota zen2_grow_volumes zen2_grow_next "
		       "zen2_grow_scale zen2_grow_wait zen2_grow_next zen2_grow_scale "
		       "zen2_grow_wait zen2_grow_next wait_green record_scaled");
	/* One master at a time: the StatefulSet went 3 -> 4 -> 5. */
	assert_int_equal(recorded(f, "PATCH", "statefulsets/es-master/scale"), 2);
	/* The quota grew with the masters (1 CPU, 2Gi each): 5 + 2 data (2, 8Gi)
	 * + 1 client (1, 2Gi). */
	expect_quota(f, name, "8", "10", "28Gi");
	assert_int_equal(spec_replicas(f, name, "masters"), 5);
	int64_t down = scale(f, name, "{\"role\": \"masters\", \"replicas\": 3}", NULL);
	expect_ok(f, down);
	expect_trail(
		f, down,
		zen1 ? "plan zen1_shrink_config zen1_shrink_next zen1_shrink_quorum "
		       "zen1_shrink_scale zen1_shrink_wait zen1_shrink_next zen1_shrink_quorum "
		       "zen1_shrink_scale zen1_shrink_wait zen1_shrink_next zen1_shrink_quota "
		       "wait_green record_scaled"
		     : "plan zen2_shrink_config zen2_shrink_next zen2_shrink_exclude "
		       "zen2_shrink_scale zen2_shrink_wait zen2_shrink_clear zen2_shrink_next "
		       "zen2_shrink_exclude zen2_shrink_scale zen2_shrink_wait zen2_shrink_clear "
		       "zen2_shrink_next zen2_shrink_quota wait_green record_scaled");
	/* One master at a time (ECK, downscale_invariants.go): 5 -> 4 -> 3. */
	assert_int_equal(recorded(f, "PATCH", "statefulsets/es-master/scale"), 4);
	expect_quota(f, name, "6", "8", "24Gi");
	assert_int_equal(spec_replicas(f, name, "masters"), 3);
	json_t *nodes = es_get(f, name, "/_cat/nodes?format=json&h=name,master");
	assert_int_equal(json_array_size(nodes), 3 + 2 + 1);
	json_decref(nodes);
	if (zen1) {
		char *q = cluster_setting(f, name, "discovery.zen.minimum_master_nodes");
		assert_non_null(q);
		assert_string_equal(q, "2");
		free(q);
		assert_int_equal(recorded(f, "POST", "voting_config_exclusions"), 0);
	} else {
		/* Each leaving master excluded by name on its own, its exclusion
		 * cleared once it had gone. */
		assert_int_equal(recorded(f, "POST", "voting_config_exclusions?node_names="), 2);
		for (int m = 3; m <= 4; m++) {
			char *alone =
				xasprintf("voting_config_exclusions?node_names=es-master-%d-es-"
					  "default-%s",
					  m, name);
			if (recorded(f, "POST", alone) != 1)
				fail_msg("es-master-%d was not excluded once on its own", m);
			free(alone);
		}
		assert_int_equal(recorded(f, "DELETE", "voting_config_exclusions"), 2);
	}

	/* A plugin in, then out: every node restarted once each time. */
	char *path = xasprintf("/api/v1/clusters/%s/plugins", name);
	int64_t in = api_op(&f->d, "POST", path, "{\"name\": \"analysis-icu\"}", NULL);
	expect_ok(f, in);
	assert_true(spec_has_plugin(f, name, "analysis-icu"));
	json_t *plugins = es_get(f, name, "/_cat/plugins?format=json");
	assert_int_equal(json_array_size(plugins), 3 + 2 + 1);
	json_decref(plugins);
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)in);
	const char *q[] = {ids};
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM job_events WHERE job_id = $1"
				 " AND from_state = 'restart_delete_pod' AND outcome = 'next'",
				 1, q),
			 6);
	/* The repository was asked for the file of this version. */
	FILE *log = fopen(f->repo.access_log, "r");
	char line[1024];
	char *want = xasprintf("\"HEAD /es-plugins/analysis-icu-%s.zip", version);
	bool asked = false;
	while (log && fgets(line, sizeof(line), log))
		if (strstr(line, want))
			asked = true;
	if (log)
		fclose(log);
	free(want);
	assert_true(asked);
	/* Twice is a conflict; an unknown plugin is refused, naming the field. */
	long status;
	assert_int_equal(api_op(&f->d, "POST", path, "{\"name\": \"analysis-icu\"}", &status), 0);
	assert_int_equal(status, 409);
	assert_int_equal(api_op(&f->d, "POST", path, "{\"name\": \"no-such-plugin\"}", &status), 0);
	assert_int_equal(status, 422);
	char *del = xasprintf("/api/v1/clusters/%s/plugins/analysis-icu", name);
	int64_t out = api_op(&f->d, "DELETE", del, NULL, NULL);
	expect_ok(f, out);
	assert_false(spec_has_plugin(f, name, "analysis-icu"));
	plugins = es_get(f, name, "/_cat/plugins?format=json");
	assert_int_equal(json_array_size(plugins), 0);
	json_decref(plugins);
	assert_int_equal(api_op(&f->d, "DELETE", del, NULL, &status), 0);
	assert_int_equal(status, 404);
	free(del);
	free(path);
	assert_int_equal(lost_shards(f), 0);
	char *alloc = cluster_setting(f, name, "cluster.routing.allocation.enable");
	assert_null(alloc);

	/* Delete: zen2's cluster with its data wiped, one pod per host. */
	char *gone = xasprintf("/api/v1/clusters/%s%s", name, zen1 ? "" : "?wipe_data=true");
	int64_t del_id = api_op(&f->d, "DELETE", gone, NULL, NULL);
	expect_ok(f, del_id);
	free(gone);
	if (zen1) {
		expect_trail(
			f, del_id,
			"delete_plan stop_workloads wait_pods_gone wipe_route delete_namespace "
			"wait_namespace_gone delete_volumes "
			"record_deleted");
		assert_int_equal(recorded(f, "POST", "/pods"), 0);
	} else {
		expect_trail(f, del_id,
			     "delete_plan stop_workloads wait_pods_gone wipe_route wipe_quota "
			     "wipe_hosts "
			     "wait_wiped delete_namespace wait_namespace_gone delete_volumes "
			     "record_deleted");
		/* Six nodes, on six hosts (one per host for each role, three
		 * roles): at least one wipe pod per role's host set. */
		snprintf(ids, sizeof(ids), "%lld", (long long)del_id);
		int hosts = (int)sql_int(f->sql,
					 "SELECT jsonb_array_length(context->'hosts') FROM jobs"
					 " WHERE id = $1",
					 1, q);
		assert_true(hosts >= 3);
		assert_int_equal(recorded(f, "POST", "/pods"), hosts);
	}
}

static void test_zen1_masters_and_plugins(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG, 0, 0);
	masters_and_plugins(f, "six", "6.8.23", true);
}

static void test_zen2_masters_and_plugins(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG, 0, 0);
	masters_and_plugins(f, "seven", "7.17.10", false);
}

/* A request's answer: its status, the body into *out. */
static long call_body(struct fixture *f, const char *method, const char *path, const char *body,
		      json_t **out)
{
	struct http_resp r;
	assert_true(http_call(&f->d, method, path, body, NULL, &r));
	long st = r.status;
	*out = json_incref(r.body);
	http_resp_free(&r);
	return st;
}

/*
 * A plugin whose file is not in the repository: refused at once, naming
 * the file, nothing queued.  A file that goes between the request and the
 * job (the job queued behind another) fails the job's own check before it
 * touches the cluster; once the file is there it works.
 */
static void test_plugin_missing_from_repository(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG, 0, 0);
	expect_ok(f, post_cluster(&f->d,
				  "{\"name\": \"kuro\", \"version\": \"7.17.10\","
				  " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 2},"
				  " \"clients\": {\"replicas\": 0}}"));
	json_t *before = sim_record(&f->sim);
	size_t deletions = json_array_size(json_object_get(before, "pod_deletions"));
	json_decref(before);
	long long jobs = sql_int(f->sql, "SELECT count(*) FROM jobs", 0, NULL);
	json_t *b = NULL;
	assert_int_equal(call_body(f, "POST", "/api/v1/clusters/kuro/plugins",
				   "{\"name\": \"analysis-kuromoji\"}", &b),
			 422);
	json_t *err = json_object_get(b, "error");
	assert_string_equal(json_str(err, "field"), "name");
	assert_non_null(strstr(json_str(err, "message"), "analysis-kuromoji-7.17.10.zip"));
	json_decref(b);
	assert_int_equal(sql_int(f->sql, "SELECT count(*) FROM jobs", 0, NULL), jobs);

	/* There when asked, gone when the job runs: a restart of the masters
	 * runs first, the installation waits behind it. */
	assert_true(repo_add(&f->repo, "analysis-kuromoji-7.17.10.zip"));
	int64_t first = api_op(&f->d, "POST", "/api/v1/clusters/kuro/restart",
			       "{\"role\": \"masters\"}", NULL);
	assert_true(first > 0);
	int64_t id = api_op(&f->d, "POST", "/api/v1/clusters/kuro/plugins",
			    "{\"name\": \"analysis-kuromoji\"}", NULL);
	assert_true(id > 0);
	assert_true(repo_remove(&f->repo, "analysis-kuromoji-7.17.10.zip"));
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	const char *q[] = {ids};
	/* Still queued once the file is gone: the test proves the job's check. */
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM job_events WHERE job_id = $1"
				 " AND from_state = 'check_repository'",
				 1, q),
			 0);
	expect_ok(f, first);
	json_t *job = wait_job_done(&f->d, id, JOB_TIMEOUT_MS);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "failed");
	assert_string_equal(json_string_value(json_object_get(job, "failed_state")),
			    "check_repository");
	assert_non_null(strstr(json_string_value(json_object_get(job, "error")),
			       "analysis-kuromoji-7.17.10.zip"));
	json_decref(job);
	json_t *after = sim_record(&f->sim);
	/* The masters' restart deleted its one pod; the failed job none. */
	assert_int_equal(json_array_size(json_object_get(after, "pod_deletions")), deletions + 1);
	json_decref(after);
	assert_false(spec_has_plugin(f, "kuro", "analysis-kuromoji"));

	assert_true(repo_add(&f->repo, "analysis-kuromoji-7.17.10.zip"));
	expect_ok(f, api_op(&f->d, "POST", "/api/v1/clusters/kuro/plugins",
			    "{\"name\": \"analysis-kuromoji\"}", NULL));
	assert_true(spec_has_plugin(f, "kuro", "analysis-kuromoji"));
}

/* --- Kibana --------------------------------------------------------------------------- */

static void test_kibana_with_the_cluster_and_later(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG, 0, 0);
	int64_t id = post_cluster(
		&f->d, "{\"name\": \"kib\", \"version\": \"8.17.0\","
		       " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 2},"
		       " \"clients\": {\"replicas\": 0}, \"kibana\": {\"replicas\": 1}}");
	expect_ok(f, id);
	expect_trail(
		f, id,
		"apply_namespace apply_quota apply_network apply_security apply_config "
		"apply_services "
		"apply_volumes "
		"apply_masters wait_masters_formed apply_config_formed apply_data apply_clients "
		"wait_pods_ready wait_joined wait_green "
		"restore_repository restore_start restore_wait_green restore_verify "
		"set_kibana_password apply_pdbs apply_kibana wait_kibana record_ready");
	/* Kibana's pod in the quota: 500m and 1Gi asked, 1 CPU allowed. */
	expect_quota_of(f, "kib", "4", "5500m", "6", "19Gi", "19Gi");
	json_t *c = get_cluster(f, "kib");
	assert_int_equal(
		json_integer_value(json_object_get(
			json_object_get(json_object_get(c, "spec"), "kibana"), "replicas")),
		1);
	json_decref(c);
	/* Its pod is ready, and is no Elasticsearch node. */
	struct http_resp r;
	assert_true(sim_call(&f->sim, "GET",
			     "/apis/apps/v1/namespaces/es-default-kib/deployments/kibana", NULL,
			     &r));
	assert_int_equal(r.status, 200);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r.body, "status"),
							    "readyReplicas")),
			 1);
	http_resp_free(&r);
	json_t *nodes = es_get(f, "kib", "/_cat/nodes?format=json");
	assert_int_equal(json_array_size(nodes), 3);
	json_decref(nodes);

	/* Refused beyond the limit, naming the field; then removed. */
	long status;
	assert_int_equal(
		api_op(&f->d, "POST", "/api/v1/clusters/kib/kibana", "{\"replicas\": 11}", &status),
		0);
	assert_int_equal(status, 422);
	int64_t off =
		api_op(&f->d, "POST", "/api/v1/clusters/kib/kibana", "{\"replicas\": 0}", NULL);
	expect_ok(f, off);
	/* Removed is gone, not terminating: no Kibana pod left at all. */
	assert_true(sim_call(
		&f->sim, "GET",
		"/api/v1/namespaces/es-default-kib/pods?labelSelector=esaas.io%2Frole%3Dkibana",
		NULL, &r));
	assert_int_equal(json_array_size(json_object_get(r.body, "items")), 0);
	http_resp_free(&r);
	expect_trail(f, off, "raise_quota apply_kibana wait_kibana fit_quota record_spec");
	expect_quota(f, "kib", "3", "5", "18Gi");
	/* Its pods gone, the Deployment goes too (the garbage collector
	 * finishes its foreground deletion a moment later). */
	int64_t gc_deadline = harness_now_ms() + 5000;
	for (;;) {
		assert_true(sim_call(&f->sim, "GET",
				     "/apis/apps/v1/namespaces/es-default-kib/deployments/kibana",
				     NULL, &r));
		if (r.status == 404 || harness_now_ms() > gc_deadline)
			break;
		http_resp_free(&r);
		msleep(50);
	}
	assert_int_equal(r.status, 404);
	http_resp_free(&r);
	c = get_cluster(f, "kib");
	assert_null(json_object_get(json_object_get(c, "spec"), "kibana"));
	json_decref(c);
	/* And back, alone: no Elasticsearch node restarts. */
	json_t *st = sim_record(&f->sim);
	size_t deletions = json_array_size(json_object_get(st, "pod_deletions"));
	json_decref(st);
	expect_ok(f,
		  api_op(&f->d, "POST", "/api/v1/clusters/kib/kibana", "{\"replicas\": 1}", NULL));
	st = sim_record(&f->sim);
	assert_int_equal(json_array_size(json_object_get(st, "pod_deletions")), deletions);
	json_decref(st);
	expect_quota_of(f, "kib", "4", "5500m", "6", "19Gi", "19Gi");
	/* Wiping with Kibana still there: room for a wipe pod on each host. */
	expect_ok(f, api_op(&f->d, "DELETE", "/api/v1/clusters/kib?wipe_data=true", NULL, NULL));
}

/* --- scale-downs that would lose shard copies --------------------------------------- */

static void test_data_scale_down_that_cannot_hold_the_copies(void **state)
{
	struct fixture *f = *state = fixture_new(THREE_COPIES_SIM_CONFIG, 0, 0);
	expect_ok(f, post_cluster(&f->d,
				  "{\"name\": \"copies\", \"version\": \"7.17.10\","
				  " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 3},"
				  " \"clients\": {\"replicas\": 0}}"));
	long long jobs = sql_int(f->sql, "SELECT count(*) FROM jobs", 0, NULL);
	struct http_resp r;
	assert_true(http_call(&f->d, "POST", "/api/v1/clusters/copies/scale",
			      "{\"role\": \"data\", \"replicas\": 2}", NULL, &r));
	assert_int_equal(r.status, 422);
	json_t *err = json_object_get(r.body, "error");
	assert_string_equal(json_string_value(json_object_get(err, "field")), "replicas");
	const char *msg = json_string_value(json_object_get(err, "message"));
	assert_non_null(strstr(msg, "index logs has 2 replicas"));
	assert_non_null(strstr(msg, "force"));
	http_resp_free(&r);
	/* Nothing was queued. */
	assert_int_equal(sql_int(f->sql, "SELECT count(*) FROM jobs", 0, NULL), jobs);

	/* Forced: the leaving node keeps the copies that have nowhere to go,
	 * and goes once every shard has a started copy elsewhere. */
	int64_t id =
		scale(f, "copies", "{\"role\": \"data\", \"replicas\": 2, \"force\": true}", NULL);
	expect_ok(f, id);
	assert_int_equal(spec_replicas(f, "copies", "data"), 2);
	assert_int_equal(lost_shards(f), 0);
	char *excl = cluster_setting(f, "copies", "cluster.routing.allocation.exclude._name");
	assert_null(excl);
}

/* --- a rolling restart under kill -9 ---------------------------------------------- */

/*
 * Kill esaasd with SIGKILL as the job reaches each moment (a '|'-separated
 * list of states), a little after at random, and start another at once:
 * the lease lapses and the new one takes the job over.  Returns the kills;
 * a moment the job has passed by the time it is looked for ends the series
 * (the caller says how many it needs).
 */
/* wait_state(), but false at once when the job has ended. */
static bool wait_state_while_running(struct fixture *f, int64_t id, const char *states,
				     int timeout_ms)
{
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	const char *q[] = {ids, states};
	int64_t deadline = harness_now_ms() + timeout_ms;
	while (harness_now_ms() < deadline) {
		long long n = sql_int(f->sql,
				      "SELECT CASE WHEN state = ANY (string_to_array($2, '|'))"
				      " AND status IN ('running', 'waiting') THEN 1"
				      " WHEN status IN ('queued', 'running', 'waiting') THEN 0"
				      " ELSE -1 END"
				      " FROM jobs WHERE id = $1",
				      2, q);
		if (n != 0)
			return n == 1;
		msleep(20);
	}
	return false;
}

static int kill_at_moments(struct fixture *f, int64_t id, const char *const *moments, size_t n,
			   unsigned *seed)
{
	int kills = 0;
	fprintf(stderr, "kill -9 moments of job %lld drawn with seed %u\n", (long long)id, *seed);
	for (size_t i = 0; i < n; i++) {
		if (!wait_state_while_running(f, id, moments[i], 60000))
			break;
		msleep((int)(rand_r(seed) % 150));
		esaasd_stop(&f->d, SIGKILL, true);
		kills++;
		assert_true(esaasd_start(&f->d, pg.dir, f->dburl, &f->o));
	}
	fprintf(stderr, "esaasd killed %d times of %zu under job %lld\n", kills, n, (long long)id);
	return kills;
}

static void test_restart_survives_kill9(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG, 0, 2);
	expect_ok(f, post_cluster(&f->d,
				  "{\"name\": \"hard\", \"version\": \"7.17.10\","
				  " \"masters\": {\"replicas\": 3}, \"data\": {\"replicas\": 3},"
				  " \"clients\": {\"replicas\": 1}}"));
	json_t *st = sim_record(&f->sim);
	size_t before = json_array_size(json_object_get(st, "pod_deletions"));
	json_decref(st);
	/* The pause, the flush and the allocation's return each take a few
	 * milliseconds: held half a second at Elasticsearch's door, each moment
	 * lasts long enough to be seen by a poll, however busy the machine. */
	struct http_resp r;
	assert_true(sim_call(&f->sim, "POST", "/_sim/faults",
			     "{\"rules\": ["
			     "{\"path\": \"*/proxy/_flush*\", \"latency_ms\": 500},"
			     "{\"path\": \"*/proxy/_cluster/settings\", \"method\": \"PUT\","
			     " \"latency_ms\": 500}]}",
			     &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	int64_t id = api_op(&f->d, "POST", "/api/v1/clusters/hard/restart", "{}", NULL);
	assert_true(id > 0);
	/* Kill esaasd at moments that matter, each time at a new one, and
	 * start another: the lease lapses and the new one takes over. */
	const char *moments[] = {
		"restart_pause|restart_flush", "restart_delete_pod|restart_wait_pod",
		"restart_wait_joined|restart_resume_allocation", "restart_wait_green|restart_check",
		"restart_delete_pod|restart_wait_pod"};
	unsigned seed = (unsigned)harness_now_ms();
	int kills = kill_at_moments(f, id, moments, ARRAY_SIZE(moments), &seed);
	expect_ok(f, id);
	/* The test proves something only if esaasd died under the job. */
	if (kills < 3)
		fail_msg("esaasd was killed %d times, not at least 3 (seed %u)", kills, seed);
	/* Every pod deleted exactly once in this pass, by its uid. */
	st = sim_record(&f->sim);
	json_t *dels = json_object_get(st, "pod_deletions");
	if (json_array_size(dels) - before != 7) {
		char *dump = json_dumps(dels, JSON_COMPACT);
		fail_msg("%zu pod deletions, not 7 (seed %u): %s", json_array_size(dels) - before,
			 seed, dump);
	}
	for (size_t i = before; i < json_array_size(dels); i++)
		for (size_t j = i + 1; j < json_array_size(dels); j++)
			assert_string_not_equal(
				json_string_value(json_object_get(json_array_get(dels, i), "name")),
				json_string_value(
					json_object_get(json_array_get(dels, j), "name")));
	assert_int_equal(json_array_size(json_object_get(st, "lost_shards")), 0);
	json_decref(st);
	assert_null(cluster_setting(f, "hard", "cluster.routing.allocation.enable"));
	json_t *h = es_get(f, "hard", "/_cluster/health");
	assert_string_equal(json_string_value(json_object_get(h, "status")), "green");
	json_decref(h);
	/* The elected master went last. */
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	const char *q[] = {ids};
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM jobs WHERE id = $1"
				 " AND context->'restarted'->6->>'role' = 'master'",
				 1, q),
			 1);
}

/*
 * A create, a scale down, a scale up and a delete with its wipe, each with
 * esaasd killed in its waits and its changes: every job ends as it would
 * have, no pod is deleted that the operation does not remove, no shard is
 * lost, no exclusion is left, and the delete leaves nothing behind.  Each
 * moment holds a wait that lasts seconds, so each is seen.
 */
static void test_create_scale_and_delete_survive_kill9(void **state)
{
	struct fixture *f = *state = fixture_new(DRAIN_SIM_CONFIG, 0, 2);
	unsigned seed = (unsigned)harness_now_ms();
	int64_t id =
		post_cluster(&f->d, "{\"name\": \"tough\", \"version\": \"7.17.10\","
				    " \"masters\": {\"replicas\": 3}, \"data\": {\"replicas\": 3},"
				    " \"clients\": {\"replicas\": 1}}");
	assert_true(id > 0);
	const char *create[] = {"apply_masters|wait_masters_formed",
				"apply_data|apply_clients|wait_pods_ready",
				"wait_joined|wait_green"};
	int kills = kill_at_moments(f, id, create, ARRAY_SIZE(create), &seed);
	expect_ok(f, id);
	if (kills < 2)
		fail_msg("create: esaasd was killed %d times, not at least 2 (seed %u)", kills,
			 seed);
	json_t *st = sim_record(&f->sim);
	assert_int_equal(json_array_size(json_object_get(st, "pod_deletions")), 0);
	json_decref(st);
	json_t *h = es_get(f, "tough", "/_cat/nodes?format=json");
	assert_int_equal(json_array_size(h), 7);
	json_decref(h);

	/* Down: es-data-2's copies move off it, seconds each. */
	id = scale(f, "tough", "{\"role\": \"data\", \"replicas\": 2}", NULL);
	const char *down[] = {"check_copies|exclude_nodes|wait_drained"};
	kills = kill_at_moments(f, id, down, ARRAY_SIZE(down), &seed);
	expect_ok(f, id);
	if (kills < 1)
		fail_msg("scale down: esaasd was never killed (seed %u)", seed);
	assert_int_equal(spec_replicas(f, "tough", "data"), 2);
	assert_int_equal(lost_shards(f), 0);
	assert_null(cluster_setting(f, "tough", "cluster.routing.allocation.exclude._name"));
	/* The one pod deleted is the one that left. */
	st = sim_record(&f->sim);
	json_t *dels = json_object_get(st, "pod_deletions");
	assert_int_equal(json_array_size(dels), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(dels, 0), "name")),
			    "es-data-2");
	json_decref(st);

	/* And up again: the pod takes seconds to be ready and to join. */
	id = scale(f, "tough", "{\"role\": \"data\", \"replicas\": 3}", NULL);
	const char *up[] = {"raise_quota|grow_volumes|scale_workload|wait_scaled", "wait_scaled"};
	kills = kill_at_moments(f, id, up, ARRAY_SIZE(up), &seed);
	expect_ok(f, id);
	if (kills < 1)
		fail_msg("scale up: esaasd was never killed (seed %u)", seed);
	assert_int_equal(spec_replicas(f, "tough", "data"), 3);
	h = es_get(f, "tough", "/_cluster/health");
	assert_string_equal(json_string_value(json_object_get(h, "status")), "green");
	json_decref(h);

	id = api_op(&f->d, "DELETE", "/api/v1/clusters/tough?wipe_data=true", NULL, NULL);
	assert_true(id > 0);
	const char *del[] = {"stop_workloads|wait_pods_gone", "wipe_hosts|wait_wiped",
			     "delete_namespace|wait_namespace_gone"};
	kills = kill_at_moments(f, id, del, ARRAY_SIZE(del), &seed);
	expect_ok(f, id);
	if (kills < 2)
		fail_msg("delete: esaasd was killed %d times, not at least 2 (seed %u)", kills,
			 seed);
	struct http_resp r;
	assert_true(sim_call(&f->sim, "GET", "/api/v1/namespaces/es-default-tough", NULL, &r));
	assert_int_equal(r.status, 404);
	http_resp_free(&r);
	assert_true(http_call(&f->d, "GET", "/api/v1/clusters/tough", NULL, NULL, &r));
	assert_int_equal(r.status, 404);
	http_resp_free(&r);
	assert_int_equal(folders_with_a_node(f, "tough", NULL), 0);
}

/* --- data that follows its host -------------------------------------------------------- */

/* "pod=host pod=host ..." of the cluster's Elasticsearch pods, by name. */
static char *pod_hosts(struct fixture *f, const char *cluster)
{
	char *path = xasprintf("/api/v1/namespaces/es-default-%s/pods", cluster);
	struct http_resp r;
	assert_true(sim_call(&f->sim, "GET", path, NULL, &r));
	assert_int_equal(r.status, 200);
	json_t *items = json_object_get(r.body, "items");
	size_t n = json_array_size(items);
	char **lines = xcalloc(n + 1, sizeof(*lines));
	for (size_t i = 0; i < n; i++) {
		json_t *p = json_array_get(items, i);
		const char *host =
			json_string_value(json_object_get(json_object_get(p, "spec"), "nodeName"));
		lines[i] = xasprintf(
			"%s=%s",
			json_string_value(json_object_get(json_object_get(p, "metadata"), "name")),
			host ? host : "-");
	}
	qsort(lines, n, sizeof(*lines), cmp_strp);
	char *out = xstrdup("");
	for (size_t i = 0; i < n; i++) {
		char *more = xasprintf("%s%s%s", out, i ? " " : "", lines[i]);
		free(out);
		free(lines[i]);
		out = more;
	}
	free(lines);
	http_resp_free(&r);
	free(path);
	return out;
}

/* The host of one pod: its nodeName, "-" when not scheduled, NULL when
 * there is no such pod; the caller frees it. */
/* A pod's uid, or NULL while there is none of that name. */
static char *pod_uid(struct fixture *f, const char *cluster, const char *pod)
{
	char *path = xasprintf("/api/v1/namespaces/es-default-%s/pods/%s", cluster, pod);
	struct http_resp r;
	char *uid = NULL;
	assert_true(sim_call(&f->sim, "GET", path, NULL, &r));
	if (r.status == 200) {
		const char *u = json_string_value(
			json_object_get(json_object_get(r.body, "metadata"), "uid"));
		uid = u ? xstrdup(u) : NULL;
	}
	http_resp_free(&r);
	free(path);
	return uid;
}

static char *host_of(struct fixture *f, const char *cluster, const char *pod)
{
	char *path = xasprintf("/api/v1/namespaces/es-default-%s/pods/%s", cluster, pod);
	struct http_resp r;
	char *host = NULL;
	assert_true(sim_call(&f->sim, "GET", path, NULL, &r));
	if (r.status == 200) {
		const char *h = json_string_value(
			json_object_get(json_object_get(r.body, "spec"), "nodeName"));
		host = xstrdup(h ? h : "-");
	}
	http_resp_free(&r);
	free(path);
	return host;
}

/* The simulator's node host made unschedulable (a fault, until DELETE /_sim/faults). */
static void cordon(struct fixture *f, const char *host)
{
	json_t *fault = json_pack("{s:[s]}", "unschedulable_nodes", host);
	char *body = json_dumps(fault, JSON_COMPACT);
	struct http_resp r;
	assert_true(sim_call(&f->sim, "POST", "/_sim/faults", body, &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	free(body);
	json_decref(fault);
}

/*
 * A node's data lives in the folder on its host (esaas-sim: the node id,
 * the cluster UUID and the shard copies go with the folder): a pod that
 * comes back on another host finds an empty folder, a new node whose
 * copies must come over the network.  A rolling restart must put every
 * pod back where its data is, so that nothing is copied.
 */
static void test_rolling_restart_keeps_every_pod_on_its_host(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG, 0, 0);
	expect_ok(f, post_cluster(&f->d,
				  "{\"name\": \"home\", \"version\": \"7.17.10\","
				  " \"masters\": {\"replicas\": 3}, \"data\": {\"replicas\": 2},"
				  " \"clients\": {\"replicas\": 0}}"));
	char *before = pod_hosts(f, "home");
	struct http_resp r;
	assert_true(sim_call(&f->sim, "DELETE", "/_sim/state", NULL, &r));
	http_resp_free(&r);

	/* Twice: the second pass finds every pod where the first left it.  In
	 * the first, es-data-0's host is cordoned for a while (a host being
	 * drained for maintenance, say): its pod must wait for it. */
	for (int pass = 0; pass < 2; pass++) {
		char *host = pass == 0 ? host_of(f, "home", "es-data-0") : NULL;
		if (host) {
			cordon(f, host);
		}
		int64_t id = api_op(&f->d, "POST", "/api/v1/clusters/home/restart", "{}", NULL);
		assert_true(id > 0);
		if (host) {
			/* Until es-data-0 was deleted and its successor waited a
			 * second, or the job is over. */
			int64_t deadline = harness_now_ms() + 30000;
			bool waited = false;
			char ids[24];
			snprintf(ids, sizeof(ids), "%lld", (long long)id);
			const char *q[] = {ids};
			while (!waited && harness_now_ms() < deadline &&
			       sql_int(f->sql,
				       "SELECT count(*) FROM jobs WHERE id = $1 AND status IN"
				       " ('succeeded', 'failed', 'cancelled')",
				       1, q) == 0) {
				char *now = host_of(f, "home", "es-data-0");
				waited = !now || !strcmp(now, "-");
				free(now);
				msleep(50);
			}
			if (waited)
				msleep(1000);
			assert_true(sim_call(&f->sim, "DELETE", "/_sim/faults", NULL, &r));
			http_resp_free(&r);
			free(host);
		}
		expect_ok(f, id);
		char *after = pod_hosts(f, "home");
		if (strcmp(before, after) != 0)
			fail_msg("pass %d: pods were on\n  %s\nand are now on\n  %s", pass, before,
				 after);
		free(after);
	}
	json_t *st = sim_record(&f->sim);
	assert_int_equal(json_array_size(json_object_get(st, "pod_deletions")), 10);
	json_t *rec = json_object_get(st, "peer_recoveries");
	if (json_array_size(rec) != 0) {
		char *text = json_dumps(rec, JSON_COMPACT);
		fail_msg("shard copies went over the network: %s", text);
	}
	assert_int_equal(json_array_size(json_object_get(st, "lost_shards")), 0);
	json_decref(st);
	free(before);
}

/*
 * Before 7.8 a voting exclusion names node filters, resolved against the
 * members of the moment (elastic/elasticsearch#47990): a leaving master
 * that is away cannot be excluded.  The scale waits for it, one master at
 * a time, and goes on once it is back.
 */
static void test_zen2_shrink_waits_for_an_absent_leaving_master_before_7_8(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG, 0, 0);
	expect_ok(f, post_cluster(&f->d,
				  "{\"name\": \"old\", \"version\": \"7.5.2\","
				  " \"masters\": {\"replicas\": 5}, \"data\": {\"replicas\": 2},"
				  " \"clients\": {\"replicas\": 0}}"));
	/* es-master-4 away: its host cordoned, its pod deleted (Pending). */
	char *host = host_of(f, "old", "es-master-4");
	assert_non_null(host);
	struct http_resp r;
	cordon(f, host);
	free(host);
	assert_true(sim_call(&f->sim, "DELETE",
			     "/api/v1/namespaces/es-default-old/pods/es-master-4", NULL, &r));
	http_resp_free(&r);
	int64_t id = scale(f, "old", "{\"role\": \"masters\", \"replicas\": 3}", NULL);
	assert_true(id > 0);
	/* Waiting at the exclusion, saying why. */
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	const char *q[] = {ids};
	int64_t deadline = harness_now_ms() + 60000;
	bool waiting = false;
	while (!waiting && harness_now_ms() < deadline) {
		waiting = sql_int(f->sql,
				  "SELECT count(*) FROM jobs WHERE id = $1 AND state ="
				  " 'zen2_shrink_exclude' AND observation LIKE '%47990%'",
				  1, q) == 1;
		if (!waiting && sql_int(f->sql,
					"SELECT count(*) FROM jobs WHERE id = $1 AND status IN"
					" ('succeeded', 'failed', 'cancelled')",
					1, q) == 1)
			break;
		msleep(50);
	}
	if (!waiting) {
		json_t *job = wait_job_done(&f->d, id, 1000);
		char *text = job ? json_dumps(job, JSON_COMPACT) : NULL;
		fail_msg("the scale did not wait for es-master-4: %s", text ? text : "?");
	}
	assert_true(sim_call(&f->sim, "DELETE", "/_sim/faults", NULL, &r));
	http_resp_free(&r);
	expect_ok(f, id);
	assert_true(recorded(f, "POST", "voting_config_exclusions/es-master-4-") >= 2);
	assert_int_equal(recorded(f, "POST", "voting_config_exclusions/es-master-3-"), 1);
	json_t *nodes = es_get(f, "old", "/_cat/nodes?format=json&h=name,master");
	assert_int_equal(json_array_size(nodes), 3 + 2);
	json_decref(nodes);
}

/* --- a restart in yellow ------------------------------------------------------------ */

/* Copies that take a while to recover on a node that comes back (a peer
 * recovery from the primary is never instant). */
static const char SLOW_RECOVERY_SIM_CONFIG[] =
	"tick_ms: 20\n"
	"nodes:\n  count: 6\n  racks: [rack-a, rack-b]\n"
	"elasticsearch:\n  relocation_ms: 200\n  recovery_ms: 3000\n  no_master_wait_ms: 500\n  "
	"node_left_delay_ms: 2000\n"
	"  indices:\n    - {name: logs, shards: 2, replicas: 1}\n";

/*
 * Yellow allowed, as ECK does it (upgrade_predicates.go): a pod is deleted
 * only when nothing initializes or relocates and every primary it holds has
 * a started copy elsewhere.  esaas-sim records both at each deletion.
 */
static void test_yellow_restart_waits_for_recoveries_and_started_copies(void **state)
{
	struct fixture *f = *state = fixture_new(SLOW_RECOVERY_SIM_CONFIG, 0, 0);
	expect_ok(f, post_cluster(&f->d,
				  "{\"name\": \"amber\", \"version\": \"7.17.10\","
				  " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 2},"
				  " \"clients\": {\"replicas\": 0}}"));
	struct http_resp r;
	assert_true(sim_call(&f->sim, "DELETE", "/_sim/state", NULL, &r));
	http_resp_free(&r);
	expect_ok(f, api_op(&f->d, "POST", "/api/v1/clusters/amber/restart",
			    "{\"role\": \"data\", \"allow_yellow\": true}", NULL));
	json_t *st = sim_record(&f->sim);
	json_t *dels = json_object_get(st, "pod_deletions");
	assert_int_equal(json_array_size(dels), 2);
	size_t i;
	json_t *d;
	json_array_foreach (dels, i, d) {
		json_t *es = json_object_get(d, "es");
		assert_non_null(es);
		long long init = json_integer_value(json_object_get(es, "initializing"));
		long long reloc = json_integer_value(json_object_get(es, "relocating"));
		json_t *sole = json_object_get(es, "sole_primaries");
		if (init || reloc || json_array_size(sole)) {
			char *text = json_dumps(sole, JSON_COMPACT);
			fail_msg("%s deleted with %lld copies initializing, %lld relocating, and "
				 "the only started copy of %s",
				 json_string_value(json_object_get(d, "name")), init, reloc, text);
		}
	}
	json_decref(st);
}

/* --- a cluster stuck red in the middle of a restart --------------------------------- */

static void test_red_during_restart_fails_and_restores_allocation(void **state)
{
	/* Deadlines at 2 %: the restart's health wait gives up after 36 s. */
	struct fixture *f = *state = fixture_new(SIM_CONFIG, 2, 0);
	expect_ok(f, post_cluster(&f->d,
				  "{\"name\": \"stuck\", \"version\": \"7.17.10\","
				  " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 2},"
				  " \"clients\": {\"replicas\": 0}}"));
	int64_t id = api_op(&f->d, "POST", "/api/v1/clusters/stuck/restart", "{\"role\": \"data\"}",
			    NULL);
	assert_true(id > 0);
	assert_true(wait_state(f, id, "restart_flush|restart_delete_pod|restart_wait_pod", 60000));
	struct http_resp r;
	assert_true(sim_call(&f->sim, "POST", "/_sim/faults",
			     "{\"red_clusters\": [\"es-default-stuck\"]}", &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	json_t *job = wait_job_done(&f->d, id, JOB_TIMEOUT_MS);
	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "failed");
	const char *err = json_string_value(json_object_get(job, "error"));
	assert_non_null(strstr(err, "restart_wait_green"));
	assert_non_null(strstr(err, "health red"));
	json_decref(job);
	/* Cleanup lifted the pause. */
	assert_null(cluster_setting(f, "stuck", "cluster.routing.allocation.enable"));
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	const char *q[] = {ids};
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM job_events WHERE job_id = $1"
				 " AND from_state = 'undo_allocation'",
				 1, q),
			 1);
	assert_true(sim_call(&f->sim, "DELETE", "/_sim/faults", NULL, &r));
	http_resp_free(&r);
}

/* --- disk headroom ------------------------------------------------------------------ */

/* Fill the disk of the host of a cluster's pod (other files than its shards). */
static void fill_disk_of(struct fixture *f, const char *cluster, const char *pod, const char *bytes)
{
	char *host = host_of(f, cluster, pod);
	assert_true(sim_other_files(&f->sim, host, bytes));
	free(host);
}

/* A restart request's answer: its status, the body into *out. */
static long restart_call(struct fixture *f, const char *query, const char *body, json_t **out)
{
	char *path = xasprintf("/api/v1/clusters/disk/restart%s", query);
	struct http_resp r;
	assert_true(http_call(&f->d, "POST", path, body, NULL, &r));
	long st = r.status;
	*out = json_incref(r.body);
	http_resp_free(&r);
	free(path);
	return st;
}

/*
 * A data node above the low disk watermark would get none of its replicas
 * back after its restart: a restart that takes it is refused, naming the
 * node and its usage, the field of the request that chose it too; one
 * that restarts other nodes goes on.  So are the other changes that roll
 * every node: a static setting, a plugin in or out; a dynamic setting
 * restarts nothing and goes on.
 */
static void
test_restart_refused_while_a_data_node_it_restarts_is_above_the_low_watermark(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG, 0, 0);
	expect_ok(f, post_cluster(
			     &f->d,
			     "{\"name\": \"disk\", \"version\": \"8.17.0\","
			     " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 2},"
			     " \"clients\": {\"replicas\": 0}, \"plugins\": [\"analysis-icu\"]}"));
	/* 90% of 100Gi used: above the low watermark, 85% (its 200gb
	 * max_headroom asks for less than 15% of this disk). */
	fill_disk_of(f, "disk", "es-data-0", "90gb");
	const char *said = "es-data-0-es-default-disk: 90.0% used, 10gb free of 100gb";
	json_t *b = NULL;

	assert_int_equal(restart_call(f, "", "{\"nodes\": [\"es-data-0\"]}", &b), 422);
	assert_string_equal(json_str(json_object_get(b, "error"), "field"), "nodes");
	assert_non_null(strstr(json_str(json_object_get(b, "error"), "message"), said));
	assert_non_null(strstr(json_str(json_object_get(b, "error"), "message"),
			       "the restart would stall"));
	json_decref(b);
	assert_int_equal(restart_call(f, "", "{\"role\": \"data\"}", &b), 422);
	assert_string_equal(json_str(json_object_get(b, "error"), "field"), "role");
	json_decref(b);
	assert_int_equal(restart_call(f, "?dry_run=true", "{}", &b), 422);
	assert_non_null(strstr(json_str(json_object_get(b, "error"), "message"), said));
	json_decref(b);
	/* The other data node, and the masters, restart without it. */
	assert_int_equal(restart_call(f, "?dry_run=true", "{\"nodes\": [\"es-data-1\"]}", &b), 200);
	json_decref(b);
	assert_int_equal(restart_call(f, "?dry_run=true", "{\"role\": \"masters\"}", &b), 200);
	json_decref(b);
	assert_int_equal(
		sql_int(f->sql, "SELECT count(*) FROM jobs WHERE kind = 'restart'", 0, NULL), 0);

	static const struct {
		const char *method, *path, *body, *field;
	} rolls[] = {
		{"PATCH", "/api/v1/clusters/disk/config",
		 "{\"settings\": {\"thread_pool.write.queue_size\": 500}}", "settings"},
		{"POST", "/api/v1/clusters/disk/plugins", "{\"name\": \"mapper-size\"}", "name"},
		{"DELETE", "/api/v1/clusters/disk/plugins/analysis-icu", NULL, "plugin"},
	};
	long long jobs = sql_int(f->sql, "SELECT count(*) FROM jobs", 0, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(rolls); i++) {
		long st = call_body(f, rolls[i].method, rolls[i].path, rolls[i].body, &b);
		if (st != 422)
			fail_msg("%s %s: %ld, not 422", rolls[i].method, rolls[i].path, st);
		json_t *err = json_object_get(b, "error");
		assert_string_equal(json_str(err, "field"), rolls[i].field);
		if (!strstr(json_str(err, "message"), said))
			fail_msg("%s %s: %s", rolls[i].method, rolls[i].path,
				 json_str(err, "message"));
		assert_non_null(strstr(json_str(err, "message"), "would stall"));
		json_decref(b);
	}
	assert_int_equal(sql_int(f->sql, "SELECT count(*) FROM jobs", 0, NULL), jobs);
	/* A dynamic setting restarts no node. */
	assert_int_equal(call_body(f, "PATCH", "/api/v1/clusters/disk/config?dry_run=true",
				   "{\"settings\": {\"search.max_buckets\": 20000}}", &b),
			 200);
	json_decref(b);
}

/*
 * A data scale-down moves the leaving node's shards to the nodes left;
 * one above the low disk watermark takes none (DiskThresholdDecider), so
 * with every node left above it the drain would wait for ever: refused,
 * naming replicas, nothing queued.  With one node left below it, the
 * shards have somewhere to go; forced, nothing is checked.
 */
static void test_data_scale_down_refused_while_the_nodes_left_have_no_room(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG, 0, 0);
	expect_ok(f, post_cluster(&f->d,
				  "{\"name\": \"full\", \"version\": \"8.17.0\","
				  " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 3},"
				  " \"clients\": {\"replicas\": 0}}"));
	/* 90% of 100Gi: above the low watermark, 85%. */
	fill_disk_of(f, "full", "es-data-0", "90gb");
	fill_disk_of(f, "full", "es-data-1", "90gb");
	long long jobs = sql_int(f->sql, "SELECT count(*) FROM jobs", 0, NULL);
	json_t *b = NULL;
	assert_int_equal(call_body(f, "POST", "/api/v1/clusters/full/scale",
				   "{\"role\": \"data\", \"replicas\": 2}", &b),
			 422);
	json_t *err = json_object_get(b, "error");
	assert_string_equal(json_str(err, "field"), "replicas");
	const char *msg = json_str(err, "message");
	assert_non_null(strstr(msg, "the scale-down would stall"));
	assert_non_null(strstr(msg, "es-data-2 holds"));
	assert_non_null(strstr(msg, "none of the 2 data nodes left is below the low disk"));
	json_decref(b);
	assert_int_equal(sql_int(f->sql, "SELECT count(*) FROM jobs", 0, NULL), jobs);
	/* Forced: unchecked. */
	assert_int_equal(call_body(f, "POST", "/api/v1/clusters/full/scale?dry_run=true",
				   "{\"role\": \"data\", \"replicas\": 2, \"force\": true}", &b),
			 200);
	json_decref(b);
	/* Room on both: the shards can go there, wherever their other
	 * copies are (a node holds one copy of a shard). */
	fill_disk_of(f, "full", "es-data-0", "0b");
	fill_disk_of(f, "full", "es-data-1", "0b");
	assert_int_equal(call_body(f, "POST", "/api/v1/clusters/full/scale?dry_run=true",
				   "{\"role\": \"data\", \"replicas\": 2}", &b),
			 200);
	json_decref(b);
	expect_ok(f, scale(f, "full", "{\"role\": \"data\", \"replicas\": 2}", NULL));
	assert_int_equal(spec_replicas(f, "full", "data"), 2);
	assert_int_equal(lost_shards(f), 0);
}

/* --- cancel in the middle of a drain ------------------------------------------------ */

static void test_cancel_during_scale_down(void **state)
{
	struct fixture *f = *state = fixture_new(SLOW_SIM_CONFIG, 0, 0);
	expect_ok(f, post_cluster(&f->d,
				  "{\"name\": \"drain\", \"version\": \"7.17.10\","
				  " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 3},"
				  " \"clients\": {\"replicas\": 0}}"));
	int64_t id = scale(f, "drain", "{\"role\": \"data\", \"replicas\": 2}", NULL);
	assert_true(id > 0);
	assert_true(wait_state(f, id, "wait_drained", 60000));
	char *excl = cluster_setting(f, "drain", "cluster.routing.allocation.exclude._name");
	assert_non_null(excl);
	assert_string_equal(excl, "es-data-2-es-default-drain");
	free(excl);
	char *path = xasprintf("/api/v1/jobs/%lld/cancel", (long long)id);
	struct http_resp r;
	assert_true(http_call(&f->d, "POST", path, "{\"reason\": \"wrong cluster\"}", NULL, &r));
	/* A running job stops at its next boundary, after its cleanup: 202. */
	assert_int_equal(r.status, 202);
	http_resp_free(&r);
	free(path);
	json_t *job = wait_job_done(&f->d, id, JOB_TIMEOUT_MS);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "cancelled");
	json_decref(job);
	assert_null(cluster_setting(f, "drain", "cluster.routing.allocation.exclude._name"));
	assert_int_equal(spec_replicas(f, "drain", "data"), 3);
	/* Green again, and nothing lost. */
	int64_t deadline = harness_now_ms() + 60000;
	bool green = false;
	while (!green && harness_now_ms() < deadline) {
		json_t *h = es_get(f, "drain", "/_cluster/health");
		green = h && strcmp(json_string_value(json_object_get(h, "status")), "green") == 0;
		json_decref(h);
		if (!green)
			msleep(50);
	}
	assert_true(green);
	assert_int_equal(lost_shards(f), 0);
}

/* --- a scale-up the nodes cannot place ---------------------------------------------- */

/* Three nodes: three data nodes fit (one host each), a fourth does not. */
static const char THREE_NODES_SIM_CONFIG[] =
	"tick_ms: 20\n"
	"nodes:\n  count: 3\n"
	"elasticsearch:\n  relocation_ms: 200\n  recovery_ms: 50\n  no_master_wait_ms: 500\n  "
	"node_left_delay_ms: 2000\n"
	"  indices:\n    - {name: logs, shards: 2, replicas: 1}\n";

static json_t *sim_get(struct fixture *f, const char *path)
{
	struct http_resp r;
	json_t *body = NULL;
	if (sim_call(&f->sim, "GET", path, NULL, &r) && r.status == 200)
		body = json_incref(r.body);
	http_resp_free(&r);
	return body;
}

/* The StatefulSet's spec.replicas, and its pods (those not on their way out). */
static void expect_data_workload(struct fixture *f, const char *cluster, int replicas)
{
	char *path =
		xasprintf("/apis/apps/v1/namespaces/es-default-%s/statefulsets/es-data", cluster);
	json_t *sts = sim_get(f, path);
	assert_non_null(sts);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(sts, "spec"), "replicas")),
		replicas);
	json_decref(sts);
	free(path);
	path = xasprintf("/api/v1/namespaces/es-default-%s/"
			 "pods?labelSelector=app.kubernetes.io%%2Fcomponent%%3Ddata",
			 cluster);
	int64_t deadline = harness_now_ms() + 30000;
	size_t n = 0;
	do {
		json_t *pods = sim_get(f, path);
		n = json_array_size(json_object_get(pods, "items"));
		json_decref(pods);
		if (n != (size_t)replicas)
			msleep(50);
	} while (n != (size_t)replicas && harness_now_ms() < deadline);
	assert_int_equal(n, replicas);
	free(path);
}

/* Two hosts: a third data node needs a host that comes later. */
static const char TWO_HOSTS_SIM_CONFIG[] =
	"tick_ms: 20\n"
	"nodes:\n  count: 2\n"
	"elasticsearch:\n  relocation_ms: 200\n  recovery_ms: 50\n  no_master_wait_ms: 500\n  "
	"node_left_delay_ms: 2000\n"
	"  indices:\n    - {name: logs, shards: 2, replicas: 1}\n";

/*
 * A data pod is bound to a local PersistentVolume on its host: a host that
 * joined Kubernetes after the cluster was created has none until a scale
 * makes it one, and a pod that can only go there stays Pending ("didn't
 * find available persistent volumes to bind").
 */
static void test_scale_up_onto_a_new_host_gets_its_volume(void **state)
{
	struct fixture *f = *state = fixture_new(TWO_HOSTS_SIM_CONFIG, 0, 0);
	expect_ok(f, post_cluster(&f->d,
				  "{\"name\": \"grow\", \"version\": \"7.17.10\","
				  " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 2},"
				  " \"clients\": {\"replicas\": 0}}"));
	struct http_resp r;
	assert_true(sim_call(&f->sim, "POST", "/_sim/nodes", NULL, &r));
	assert_int_equal(r.status, 201);
	http_resp_free(&r);
	int64_t id = api_op(&f->d, "POST", "/api/v1/clusters/grow/scale",
			    "{\"role\": \"data\", \"replicas\": 3}", NULL);
	expect_ok(f, id);
	expect_data_workload(f, "grow", 3);
	char *host = host_of(f, "grow", "es-data-2");
	assert_non_null(host);
	assert_string_equal(host, "node-2");
	free(host);
}

static json_t *quota_hard(struct fixture *f, const char *cluster)
{
	char *path =
		xasprintf("/api/v1/namespaces/es-default-%s/resourcequotas/esaas-quota", cluster);
	json_t *q = sim_get(f, path);
	free(path);
	assert_non_null(q);
	json_t *hard = json_incref(json_object_get(json_object_get(q, "spec"), "hard"));
	json_decref(q);
	return hard;
}

/* The scheduler's reason ends the wait after kubernetes.unschedulable_timeout_seconds;
 * the cleanup puts the StatefulSet and the quota back where they were. */
static void test_unschedulable_scale_up_fails_with_the_reason_and_scales_back(void **state)
{
	struct fixture *f = *state = fixture_start(THREE_NODES_SIM_CONFIG, 0, 0, 2);
	expect_ok(f, post_cluster(&f->d,
				  "{\"name\": \"full\", \"version\": \"7.17.10\","
				  " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 3},"
				  " \"clients\": {\"replicas\": 0}}"));
	json_t *quota = quota_hard(f, "full");
	/* The answer says at once what the nodes cannot do. */
	struct http_resp r;
	assert_true(http_call(&f->d, "POST", "/api/v1/clusters/full/scale",
			      "{\"role\": \"data\", \"replicas\": 4}", NULL, &r));
	assert_int_equal(r.status, 202);
	json_t *warnings = json_object_get(r.body, "warnings");
	assert_int_equal(json_array_size(warnings), 1);
	assert_string_equal(json_string_value(json_array_get(warnings, 0)),
			    "data nodes need one host each: 3 schedulable nodes, 4 asked");
	int64_t id = json_integer_value(json_object_get(r.body, "id"));
	http_resp_free(&r);
	assert_true(id > 0);
	json_t *job = wait_job_done(&f->d, id, JOB_TIMEOUT_MS);
	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "failed");
	const char *err = json_string_value(json_object_get(job, "error"));
	/* Each host's data volume is bound already: the scheduler checks volumes
	 * before anti-affinity, and says so (its VolumeBinding plugin). */
	if (!strstr(err, "es-data-3 unschedulable: 0/3 nodes are available: 3 node(s) didn't "
			 "find available persistent volumes to bind") ||
	    !strstr(err, "unschedulable_timeout_seconds: 2"))
		fail_msg("job error: %s", err);
	json_decref(job);
	expect_trail(
		f, id,
		"plan raise_quota grow_volumes scale_workload undo_scale undo_quota undo_exclusion "
		"undo_quorum");
	expect_data_workload(f, "full", 3);
	json_t *after = quota_hard(f, "full");
	if (!json_equal(quota, after)) {
		char *a = json_dumps(quota, JSON_SORT_KEYS), *b = json_dumps(after, JSON_SORT_KEYS);
		fail_msg("quota %s, not %s as before the scale", b, a);
	}
	json_decref(after);
	json_decref(quota);
	assert_int_equal(spec_replicas(f, "full", "data"), 3);
}

/*
 * A cancel of a scale-up once one new data node is Ready (it may hold
 * copies) and the next cannot be placed: the Ready one stays, the other
 * goes, and the cluster's recorded spec says what runs: nothing is left
 * beyond it.
 */
static void test_cancelled_scale_up_records_the_nodes_it_kept(void **state)
{
	struct fixture *f = *state = fixture_new(THREE_NODES_SIM_CONFIG, 0, 0);
	expect_ok(f, post_cluster(&f->d,
				  "{\"name\": \"part\", \"version\": \"7.17.10\","
				  " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 2},"
				  " \"clients\": {\"replicas\": 0}}"));
	int64_t id = scale(f, "part", "{\"role\": \"data\", \"replicas\": 4}", NULL);
	assert_true(id > 0);
	char *path = xasprintf("/api/v1/jobs/%lld", (long long)id);
	struct http_resp r;
	int64_t deadline = harness_now_ms() + 60000;
	bool seen = false;
	while (!seen && harness_now_ms() < deadline) {
		assert_true(http_call(&f->d, "GET", path, NULL, NULL, &r));
		const char *obs = json_string_value(json_object_get(r.body, "observation"));
		seen = obs && strstr(obs, "4 pods, 3 ready") && strstr(obs, "unschedulable");
		http_resp_free(&r);
		if (!seen)
			msleep(50);
	}
	free(path);
	assert_true(seen);
	path = xasprintf("/api/v1/jobs/%lld/cancel", (long long)id);
	assert_true(http_call(&f->d, "POST", path, "{\"reason\": \"no room\"}", NULL, &r));
	assert_int_equal(r.status, 202);
	http_resp_free(&r);
	free(path);
	json_t *job = wait_job_done(&f->d, id, JOB_TIMEOUT_MS);
	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "cancelled");
	json_decref(job);
	expect_data_workload(f, "part", 3);
	assert_int_equal(spec_replicas(f, "part", "data"), 3);
}

/* A cancel of a scale-up waiting on a Pending pod: back to the count it had. */
static void test_cancelled_scale_up_returns_the_workload(void **state)
{
	struct fixture *f = *state = fixture_new(THREE_NODES_SIM_CONFIG, 0, 0);
	expect_ok(f, post_cluster(&f->d,
				  "{\"name\": \"full\", \"version\": \"7.17.10\","
				  " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 3},"
				  " \"clients\": {\"replicas\": 0}}"));
	json_t *quota = quota_hard(f, "full");
	int64_t id = scale(f, "full", "{\"role\": \"data\", \"replicas\": 4}", NULL);
	assert_true(id > 0);
	assert_true(wait_state(f, id, "wait_scaled", 60000));
	char *path = xasprintf("/api/v1/jobs/%lld/cancel", (long long)id);
	struct http_resp r;
	assert_true(http_call(&f->d, "POST", path, "{\"reason\": \"no room\"}", NULL, &r));
	assert_int_equal(r.status, 202);
	http_resp_free(&r);
	free(path);
	json_t *job = wait_job_done(&f->d, id, JOB_TIMEOUT_MS);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "cancelled");
	json_decref(job);
	expect_data_workload(f, "full", 3);
	json_t *after = quota_hard(f, "full");
	assert_true(json_equal(quota, after));
	json_decref(after);
	json_decref(quota);
	assert_int_equal(spec_replicas(f, "full", "data"), 3);

	/* A create answers the same; one that fits has no warnings. */
	assert_true(http_call(&f->d, "POST", "/api/v1/clusters",
			      "{\"name\": \"big\", \"version\": \"7.17.10\","
			      " \"masters\": {\"replicas\": 5}, \"data\": {\"replicas\": 4},"
			      " \"clients\": {\"replicas\": 1}}",
			      NULL, &r));
	assert_int_equal(r.status, 202);
	json_t *warnings = json_object_get(r.body, "warnings");
	assert_int_equal(json_array_size(warnings), 2);
	assert_string_equal(json_string_value(json_array_get(warnings, 0)),
			    "masters need one host each: 3 schedulable nodes, 5 asked");
	assert_string_equal(json_string_value(json_array_get(warnings, 1)),
			    "data nodes need one host each: 3 schedulable nodes, 4 asked");
	id = json_integer_value(json_object_get(r.body, "id"));
	http_resp_free(&r);
	path = xasprintf("/api/v1/jobs/%lld/cancel", (long long)id);
	assert_true(http_call(&f->d, "POST", path, "{}", NULL, &r));
	http_resp_free(&r);
	free(path);
	assert_true(http_call(&f->d, "POST", "/api/v1/clusters",
			      "{\"name\": \"small\", \"version\": \"7.17.10\","
			      " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 1},"
			      " \"clients\": {\"replicas\": 0}}",
			      NULL, &r));
	assert_int_equal(r.status, 202);
	assert_null(json_object_get(r.body, "warnings"));
	http_resp_free(&r);
}

/* --- the plan starts from the live workload ------------------------------------------ */

/* kubectl scale, as a hand would: a merge patch of the /scale subresource. */
static void scale_by_hand(struct fixture *f, const char *cluster, int replicas)
{
	char *path = xasprintf("/apis/apps/v1/namespaces/es-default-%s/statefulsets/es-data/scale",
			       cluster);
	char *body = xasprintf("{\"spec\": {\"replicas\": %d}}", replicas);
	char auth[300];
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", f->sim.token);
	const char *h[] = {auth, "Content-Type: application/merge-patch+json", NULL};
	struct http_resp r;
	assert_true(http_request(f->sim.server, "PATCH", path, body, h, 0, &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	free(body);
	free(path);
}

/* The nodes Elasticsearch sees, by _cat/nodes. */
static size_t es_nodes(struct fixture *f, const char *cluster)
{
	json_t *nodes = es_get(f, cluster, "/_cat/nodes?format=json");
	size_t n = json_array_size(nodes);
	json_decref(nodes);
	return n;
}

static void test_scale_plans_from_the_live_replica_count(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG, 0, 0);
	expect_ok(f, post_cluster(&f->d,
				  "{\"name\": \"live\", \"version\": \"7.17.10\","
				  " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 3},"
				  " \"clients\": {\"replicas\": 0}}"));
	/* The workload at 4 while the record says 3, as a scale-up that failed
	 * before its cleanup existed, or a kubectl scale (the quota out of the
	 * way), leaves it. */
	struct http_resp r;
	assert_true(sim_call(&f->sim, "DELETE",
			     "/api/v1/namespaces/es-default-live/resourcequotas/esaas-quota", NULL,
			     &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	scale_by_hand(f, "live", 4);
	int64_t deadline = harness_now_ms() + 60000;
	while (es_nodes(f, "live") != 5 && harness_now_ms() < deadline)
		msleep(50);
	assert_int_equal(es_nodes(f, "live"), 5);
	/* Back to 3: the fourth is drained and removed, not left standing. */
	int64_t id = scale(f, "live", "{\"role\": \"data\", \"replicas\": 3}", NULL);
	expect_ok(f, id);
	expect_trail(f, id,
		     "plan check_copies exclude_nodes wait_drained data_down_next data_down_scale "
		     "data_down_wait data_down_next "
		     "http_to_clients fit_quota clear_exclusion wait_green record_scaled");
	expect_data_workload(f, "live", 3);
	assert_int_equal(spec_replicas(f, "live", "data"), 3);
	assert_int_equal(lost_shards(f), 0);
	/* The quota is back, for the three. */
	json_t *hard = quota_hard(f, "live");
	assert_string_equal(json_string_value(json_object_get(hard, "pods")), "4");
	json_decref(hard);
}

/* --- the drain starts from a whole cluster --------------------------------------------- */

/* A data node that leaves for a moment leaves its copies UNASSIGNED
 * (index.unassigned.node_left.delayed_timeout): the exclusion waits for
 * green, and says so, before it moves anything. */
static void test_drain_waits_for_unassigned_shards(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG, 0, 0);
	expect_ok(f, post_cluster(&f->d,
				  "{\"name\": \"gap\", \"version\": \"7.17.10\","
				  " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 3},"
				  " \"clients\": {\"replicas\": 0}}"));
	struct http_resp r;
	assert_true(sim_call(&f->sim, "DELETE", "/api/v1/namespaces/es-default-gap/pods/es-data-0",
			     NULL, &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	int64_t deadline = harness_now_ms() + 30000;
	bool yellow = false;
	while (!yellow && harness_now_ms() < deadline) {
		json_t *h = es_get(f, "gap", "/_cluster/health");
		yellow = h && strcmp(json_string_value(json_object_get(h, "status")), "green") != 0;
		json_decref(h);
		if (!yellow)
			msleep(20);
	}
	assert_true(yellow);
	int64_t id = scale(f, "gap", "{\"role\": \"data\", \"replicas\": 2}", NULL);
	expect_ok(f, id);
	expect_trail(f, id,
		     "plan check_copies exclude_nodes wait_drained data_down_next data_down_scale "
		     "data_down_wait data_down_next "
		     "http_to_clients fit_quota clear_exclusion wait_green record_scaled");
	assert_true(job_events_count(f, id,
				     "from_state = 'exclude_nodes' AND detail LIKE 'health yellow%"
				     "waiting for green before excluding the leaving nodes'") >= 1);
	assert_int_equal(lost_shards(f), 0);
	expect_data_workload(f, "gap", 2);
}

/* A drain that waits says what it saw: its count of the copies, the
 * health counters, and why a copy stays unassigned
 * (_cluster/allocation/explain).  A data node that stays loses its pod in
 * the middle of the drain, and its host is cordoned until the drain has
 * said so: its copies are unassigned, delayed, until it is back. */
static void test_drain_observation_names_counters_and_why_a_copy_is_unassigned(void **state)
{
	struct fixture *f = *state = fixture_new(DRAIN_SIM_CONFIG, 0, 0);
	expect_ok(f, post_cluster(&f->d,
				  "{\"name\": \"why\", \"version\": \"7.17.10\","
				  " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 3},"
				  " \"clients\": {\"replicas\": 0}}"));
	int64_t id = scale(f, "why", "{\"role\": \"data\", \"replicas\": 2}", NULL);
	assert_true(id > 0);
	assert_true(wait_state(f, id, "wait_drained", 60000));
	char *host = host_of(f, "why", "es-data-0");
	assert_non_null(host);
	struct http_resp r;
	cordon(f, host);
	free(host);
	assert_true(sim_call(&f->sim, "DELETE", "/api/v1/namespaces/es-default-why/pods/es-data-0",
			     NULL, &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	/* Until the drain has written both, however long its polls take. */
	static const char *const said[] = {
		"from_state = 'wait_drained' AND detail LIKE '%; health yellow: "
		"relocating_shards %, initializing_shards %, unassigned_shards %'",
		"from_state = 'wait_drained' AND detail LIKE "
		"'%allocation/explain: [logs][_] % unassigned (NODE_LEFT): can_allocate %'",
	};
	int64_t deadline = harness_now_ms() + 120000;
	for (size_t i = 0; i < sizeof(said) / sizeof(said[0]); i++) {
		while (job_events_count(f, id, said[i]) < 1) {
			if (harness_now_ms() > deadline)
				fail_msg("the drain never said: %s", said[i]);
			msleep(100);
		}
	}
	assert_true(sim_call(&f->sim, "DELETE", "/_sim/faults", NULL, &r));
	http_resp_free(&r);
	expect_ok(f, id);
	assert_int_equal(lost_shards(f), 0);
	expect_data_workload(f, "why", 2);
}

/* An operator's own exclusion stays through the drain, and is what is left after. */
static void test_drain_keeps_the_operators_exclusion(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG, 0, 0);
	expect_ok(f, post_cluster(&f->d,
				  "{\"name\": \"kept\", \"version\": \"7.17.10\","
				  " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 3},"
				  " \"clients\": {\"replicas\": 0}}"));
	struct http_resp r;
	assert_true(sim_call(&f->sim, "PUT",
			     "/api/v1/namespaces/es-default-kept/services/es-http:9200/proxy"
			     "/_cluster/settings",
			     "{\"persistent\": {\"cluster.routing.allocation.exclude._name\":"
			     " \"retired-1\"}}",
			     &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	int64_t id = scale(f, "kept", "{\"role\": \"data\", \"replicas\": 2}", NULL);
	expect_ok(f, id);
	char *excl = cluster_setting(f, "kept", "cluster.routing.allocation.exclude._name");
	assert_non_null(excl);
	assert_string_equal(excl, "retired-1");
	free(excl);
	/* While it drained, both were excluded. */
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	const char *q[] = {ids};
	PGresult *res = PQexecParams(f->sql, "SELECT context::text FROM jobs WHERE id = $1", 1,
				     NULL, q, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_non_null(strstr(PQgetvalue(res, 0, 0), "\"exclusion_before\": \"retired-1\""));
	PQclear(res);
	expect_data_workload(f, "kept", 2);
	assert_int_equal(lost_shards(f), 0);
}

/* --- clients to 0 and back: the cluster keeps its endpoint ---------------------------- */

/* es-http's selector: which role's pods take the cluster's HTTP traffic. */
static char *http_role(struct fixture *f, const char *cluster)
{
	char *path = xasprintf("/api/v1/namespaces/es-default-%s/services/es-http", cluster);
	json_t *svc = sim_get(f, path);
	free(path);
	assert_non_null(svc);
	const char *role = json_string_value(json_object_get(
		json_object_get(json_object_get(svc, "spec"), "selector"), "esaas.io/role"));
	char *copy = xstrdup(role ? role : "");
	json_decref(svc);
	return copy;
}

static void expect_green(struct fixture *f, const char *cluster)
{
	json_t *h = es_get(f, cluster, "/_cluster/health");
	assert_non_null(h);
	assert_string_equal(json_string_value(json_object_get(h, "status")), "green");
	json_decref(h);
}

static void test_clients_to_zero_and_back_keep_the_endpoint(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG, 0, 0);
	expect_ok(f, post_cluster(&f->d,
				  "{\"name\": \"edge\", \"version\": \"7.17.10\","
				  " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 2},"
				  " \"clients\": {\"replicas\": 1}}"));
	char *role = http_role(f, "edge");
	assert_string_equal(role, "client");
	free(role);
	/* To 0: es-http moves to the data nodes before the client goes. */
	int64_t id = scale(f, "edge", "{\"role\": \"clients\", \"replicas\": 0}", NULL);
	expect_ok(f, id);
	expect_trail(f, id,
		     "plan http_to_data scale_workload wait_scaled http_to_clients fit_quota "
		     "clear_exclusion wait_green record_scaled");
	role = http_role(f, "edge");
	assert_string_equal(role, "data");
	free(role);
	expect_green(f, "edge");
	/* Back to 1: es-http to the client once it is Ready. */
	id = scale(f, "edge", "{\"role\": \"clients\", \"replicas\": 1}", NULL);
	expect_ok(f, id);
	expect_trail(f, id,
		     "plan raise_quota grow_volumes scale_workload wait_scaled http_to_clients "
		     "fit_quota "
		     "clear_exclusion wait_green record_scaled");
	role = http_role(f, "edge");
	assert_string_equal(role, "client");
	free(role);
	expect_green(f, "edge");
	assert_int_equal(spec_replicas(f, "edge", "clients"), 1);
}

/* --- two operations at once on one cluster ------------------------------------------- */

static void test_two_operations_run_one_after_the_other(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG, 0, 0);
	expect_ok(f, post_cluster(&f->d,
				  "{\"name\": \"busy\", \"version\": \"7.17.10\","
				  " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 2},"
				  " \"clients\": {\"replicas\": 1}}"));
	int64_t a = api_op(&f->d, "POST", "/api/v1/clusters/busy/restart", "{\"role\": \"data\"}",
			   NULL);
	int64_t b = scale(f, "busy", "{\"role\": \"clients\", \"replicas\": 2}", NULL);
	expect_ok(f, a);
	expect_ok(f, b);
	char as[24], bs[24];
	snprintf(as, sizeof(as), "%lld", (long long)a);
	snprintf(bs, sizeof(bs), "%lld", (long long)b);
	const char *q[] = {as, bs};
	/* b's first event comes after a's last. */
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM job_events e"
				 " WHERE e.job_id = $2 AND e.at < (SELECT max(at) FROM job_events"
				 " WHERE job_id = $1) AND e.outcome IS NOT NULL"
				 " AND e.outcome NOT IN ('submitted', 'queued')",
				 2, q),
			 0);
	assert_int_equal(spec_replicas(f, "busy", "clients"), 2);
}

/* --- retries that take up where they stopped ------------------------------------------ */

static long long job_events_count(struct fixture *f, int64_t id, const char *where)
{
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	const char *q[] = {ids};
	char *sql = xasprintf("SELECT count(*) FROM job_events WHERE job_id = $1 AND %s", where);
	long long n = sql_int(f->sql, sql, 1, q);
	free(sql);
	return n;
}

/*
 * apply_config applies one ConfigMap per role in a run: after a failure
 * the next run takes up with the one that failed, and counts its attempts
 * from there.  Sending every ConfigMap again, five runs would not get past
 * two that each fail four times.  A flush that keeps failing costs the
 * restart time to recover, not the restart.
 */
static void test_retries_take_up_where_they_stopped(void **state)
{
	/* One object at a time, so that the two ConfigMaps' failures come in
	 * turn (with more at once, one run sends both and uses a fault of
	 * each). */
	setenv("ESAAS_KUBERNETES_APPLY_CONCURRENCY", "1", 1);
	struct fixture *f = *state = fixture_new(SIM_CONFIG, 0, 0);
	unsetenv("ESAAS_KUBERNETES_APPLY_CONCURRENCY");
	struct http_resp r;
	assert_true(sim_call(&f->sim, "POST", "/_sim/faults",
			     "{\"rules\": ["
			     "{\"path\": \"*/configmaps/es-data-config\", \"method\": \"PATCH\","
			     " \"status\": 500, \"count\": 4},"
			     "{\"path\": \"*/configmaps/es-master-config\", \"method\": \"PATCH\","
			     " \"status\": 500, \"count\": 4},"
			     "{\"path\": \"*/proxy/_flush*\", \"status\": 500}"
			     "]}",
			     &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	int64_t create =
		post_cluster(&f->d, "{\"name\": \"stubborn\", \"version\": \"7.17.10\","
				    " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 2},"
				    " \"clients\": {\"replicas\": 1}}");
	expect_ok(f, create);
	assert_int_equal(
		job_events_count(f, create, "from_state = 'apply_config' AND outcome = 'retry'"),
		8);
	int64_t restart = api_op(&f->d, "POST", "/api/v1/clusters/stubborn/restart",
				 "{\"role\": \"data\"}", NULL);
	expect_ok(f, restart);
	assert_int_equal(
		job_events_count(
			f, restart,
			"from_state = 'restart_flush' AND outcome = 'next'"
			" AND detail LIKE 'restarting es-data-_ unflushed after 5 attempts%'"),
		2);
	assert_int_equal(lost_shards(f), 0);
}

/* --- faults in a fifth of the requests ------------------------------------------------ */

static void test_every_workflow_through_faults(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG, 0, 0);
	struct http_resp r;
	/*
	 * The API server fails 15% of its requests (23% under /apis), the
	 * Elasticsearch behind its proxy 15%.  Matching rules add up, so the
	 * API server's spare the proxied requests: met by both, 27% of them
	 * would fail.  A state's attempt may send several requests (a wait
	 * reads the pods, the workload and the namespace's events, then asks
	 * Elasticsearch): with five, an attempt fails 60% of the time, so
	 * twelve attempts all fail about once in 500 such attempts, often
	 * enough in a run of many waits.  This test gives each state forty
	 * (once in eight hundred million), since what it proves is that every
	 * workflow gets through faults by retrying, not how many retries the
	 * default allows.
	 */
	esaasd_stop(&f->d, SIGTERM, true);
	f->o.retry_max_attempts = 40;
	assert_true(esaasd_start(&f->d, pg.dir, f->dburl, &f->o));
	assert_true(sim_call(
		&f->sim, "POST", "/_sim/faults",
		"{\"rules\": ["
		"{\"path\": \"/api*\", \"except\": \"*/proxy/*\", \"rate\": 0.1,"
		" \"status\": 500},"
		"{\"path\": \"/api*\", \"except\": \"*/proxy/*\", \"rate\": 0.05,"
		" \"status\": 429, \"retry_after\": 0},"
		"{\"path\": \"/apis*\", \"rate\": 0.1, \"status\": 503},"
		"{\"path\": \"*/proxy/*\", \"rate\": 0.1, \"status\": 500},"
		"{\"path\": \"*/proxy/*\", \"rate\": 0.05, \"status\": 429},"
		"{\"path\": \"*/proxy/_cluster/health*\", \"rate\": 0.05, \"latency_ms\": 300}"
		"]}",
		&r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	int64_t ids[7];
	size_t n = 0;
	ids[n] = post_cluster(&f->d, "{\"name\": \"rough\", \"version\": \"7.17.10\","
				     " \"masters\": {\"replicas\": 3}, \"data\": {\"replicas\": 3},"
				     " \"clients\": {\"replicas\": 1}}");
	expect_ok(f, ids[n++]);
	ids[n] = scale(f, "rough", "{\"role\": \"data\", \"replicas\": 2}", NULL);
	expect_ok(f, ids[n++]);
	ids[n] = scale(f, "rough", "{\"role\": \"masters\", \"replicas\": 1}", NULL);
	expect_ok(f, ids[n++]);
	ids[n] = api_op(&f->d, "POST", "/api/v1/clusters/rough/restart", "{\"role\": \"data\"}",
			NULL);
	expect_ok(f, ids[n++]);
	ids[n] = api_op(&f->d, "PATCH", "/api/v1/clusters/rough/config",
			"{\"settings\": {\"search.max_buckets\": 12345}}", NULL);
	expect_ok(f, ids[n++]);
	ids[n] = api_op(&f->d, "POST", "/api/v1/clusters/rough/plugins",
			"{\"name\": \"analysis-icu\"}", NULL);
	expect_ok(f, ids[n++]);
	/* No shard lost on the way; the delete then drops them all (its
	 * pods leave one by one as they terminate). */
	assert_int_equal(lost_shards(f), 0);
	ids[n] = api_op(&f->d, "DELETE", "/api/v1/clusters/rough", NULL, NULL);
	expect_ok(f, ids[n++]);
	/* The faults were met, and retried, and the events say so. */
	assert_true(sql_int(f->sql, "SELECT count(*) FROM job_events WHERE outcome = 'retry'", 0,
			    NULL) > 0);
	assert_true(sim_call(&f->sim, "GET", "/_sim/faults", NULL, &r));
	json_t *rule;
	size_t i;
	json_int_t hits = 0;
	json_array_foreach (json_object_get(r.body, "rules"), i, rule)
		hits += json_integer_value(json_object_get(rule, "hits"));
	http_resp_free(&r);
	assert_true(hits > 0);
}

/* --- config updates ------------------------------------------------------------------ */

/* The elasticsearch.yml of a role's ConfigMap (caller frees). */
static char *config_yml(struct fixture *f, const char *cluster, const char *role)
{
	char *path = xasprintf("/api/v1/namespaces/es-default-%s/configmaps/es-%s-config", cluster,
			       role);
	struct http_resp r;
	assert_true(sim_call(&f->sim, "GET", path, NULL, &r));
	assert_int_equal(r.status, 200);
	char *yml = xstrdup(json_string_value(
		json_object_get(json_object_get(r.body, "data"), "elasticsearch.yml")));
	http_resp_free(&r);
	free(path);
	return yml;
}

static void create_small(struct fixture *f, const char *name)
{
	char *spec = xasprintf("{\"name\": \"%s\", \"version\": \"7.17.10\", \"masters\": "
			       "{\"replicas\": 1}, \"data\": {\"replicas\": 2}}",
			       name);
	expect_ok(f, post_cluster(&f->d, spec));
	free(spec);
}

/*
 * A request with a static and a dynamic setting: the static one needs the
 * rolling restart, and the dynamic one still goes through the settings
 * API, since a persistent value set there earlier wins over
 * elasticsearch.yml (transient > persistent > elasticsearch.yml,
 * https://www.elastic.co/guide/en/elasticsearch/reference/7.17/cluster-update-settings.html).
 */
static void test_config_mixed_request_puts_the_dynamic_settings(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG, 0, 0);
	create_small(f, "mixed");
	struct http_resp r;
	assert_true(sim_call(&f->sim, "PUT",
			     "/api/v1/namespaces/es-default-mixed/services/es-http:9200/proxy"
			     "/_cluster/settings",
			     "{\"persistent\": {\"search.max_buckets\": 100,"
			     " \"search.default_search_timeout\": \"5s\"}}",
			     &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	int64_t id = api_op(&f->d, "PATCH", "/api/v1/clusters/mixed/config",
			    "{\"settings\": {\"search.max_buckets\": 20000,"
			    " \"search.default_search_timeout\": null,"
			    " \"http.max_content_length\": \"200mb\"}}",
			    NULL);
	expect_ok(f, id);
	char *v = cluster_setting(f, "mixed", "search.max_buckets");
	if (!v || strcmp(v, "20000") != 0)
		fail_msg("search.max_buckets is %s after the update, not 20000", v ? v : "unset");
	free(v);
	v = cluster_setting(f, "mixed", "search.default_search_timeout");
	if (v)
		fail_msg("search.default_search_timeout is still %s after a null", v);
	char *yml = config_yml(f, "mixed", "data");
	assert_non_null(strstr(yml, "http.max_content_length"));
	free(yml);
}

/*
 * A dynamic setting Elasticsearch refuses (400) fails the job before any
 * ConfigMap is written or any pod restarted, even with a static setting
 * in the same request.
 */
static void test_config_refused_dynamic_setting_changes_nothing(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG, 0, 0);
	create_small(f, "refused");
	char *before = config_yml(f, "refused", "data");
	json_t *rec = sim_record(&f->sim);
	size_t deletions = json_array_size(json_object_get(rec, "pod_deletions"));
	json_decref(rec);
	int64_t id = api_op(&f->d, "PATCH", "/api/v1/clusters/refused/config",
			    "{\"settings\": {\"action.destructive_requires_name\": \"banana\","
			    " \"http.max_content_length\": \"200mb\"}}",
			    NULL);
	assert_true(id > 0);
	json_t *job = wait_job_done(&f->d, id, JOB_TIMEOUT_MS);
	assert_non_null(job);
	const char *status = json_string_value(json_object_get(job, "status"));
	if (strcmp(status, "failed") != 0)
		fail_msg("the job %s: Elasticsearch refuses action.destructive_requires_name: "
			 "banana",
			 status);
	const char *err = json_string_value(json_object_get(job, "error"));
	assert_non_null(strstr(err, "only [true] or [false]"));
	json_decref(job);
	char *after = config_yml(f, "refused", "data");
	assert_string_equal(after, before);
	free(after);
	free(before);
	rec = sim_record(&f->sim);
	assert_int_equal(json_array_size(json_object_get(rec, "pod_deletions")), deletions);
	json_decref(rec);
	json_t *c = get_cluster(f, "refused");
	assert_null(json_object_get(json_object_get(json_object_get(c, "spec"), "config"),
				    "http.max_content_length"));
	json_decref(c);
}

/* The nodes of the cluster's Elasticsearch, or -1 when it does not answer. */
static int es_node_count(struct fixture *f, const char *cluster)
{
	json_t *h = es_get(f, cluster, "/_cluster/health");
	int n = h ? (int)json_integer_value(json_object_get(h, "number_of_nodes")) : -1;
	json_decref(h);
	return n;
}

/*
 * A static value the restarted node refuses (it exits at start: "failed to
 * parse setting [http.max_content_length] with value [banana]") fails the
 * job, and the cleanup writes the ConfigMaps of the recorded spec back, so
 * that the node starts again and no later restart reads the bad file.
 */
static void test_config_bad_static_value_restores_the_config(void **state)
{
	/* Deadlines at 2 %: the wait for the restarted pod gives up after 18 s. */
	struct fixture *f = *state = fixture_new(SIM_CONFIG, 2, 0);
	create_small(f, "badstatic");
	char *before = config_yml(f, "badstatic", "data");
	int nodes = es_node_count(f, "badstatic");
	int64_t id = api_op(&f->d, "PATCH", "/api/v1/clusters/badstatic/config",
			    "{\"settings\": {\"http.max_content_length\": \"banana\"}}", NULL);
	assert_true(id > 0);
	json_t *job = wait_job_done(&f->d, id, JOB_TIMEOUT_MS);
	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "failed");
	json_decref(job);
	char *after = config_yml(f, "badstatic", "data");
	if (strcmp(after, before) != 0)
		fail_msg("the data ConfigMap after the failed job:\n%s\nnot\n%s", after, before);
	free(after);
	free(before);
	after = config_yml(f, "badstatic", "master");
	assert_null(strstr(after, "banana"));
	free(after);
	/* The crashed node starts on the restored file, after its back-off. */
	int64_t deadline = harness_now_ms() + 90000;
	while (es_node_count(f, "badstatic") != nodes && harness_now_ms() < deadline)
		msleep(200);
	assert_int_equal(es_node_count(f, "badstatic"), nodes);
}

/*
 * F12: a config_update whose static part fails (a bad value stops the
 * first restarted node) puts its dynamic settings back as they were before
 * the job: a value set earlier is back, one that was unset is unset again.
 */
static void test_config_failure_puts_the_dynamic_settings_back(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG, 2, 0);
	create_small(f, "undodyn");
	expect_ok(f, api_op(&f->d, "PATCH", "/api/v1/clusters/undodyn/config",
			    "{\"settings\": {\"indices.recovery.max_bytes_per_sec\": \"50mb\"}}",
			    NULL));
	int64_t id = api_op(&f->d, "PATCH", "/api/v1/clusters/undodyn/config",
			    "{\"settings\": {\"indices.recovery.max_bytes_per_sec\": \"100mb\","
			    " \"search.default_search_timeout\": \"30s\","
			    " \"http.max_content_length\": \"banana\"}}",
			    NULL);
	assert_true(id > 0);
	json_t *job = wait_job_done(&f->d, id, JOB_TIMEOUT_MS);
	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "failed");
	json_decref(job);
	json_t *settings = es_get(f, "undodyn", "/_cluster/settings?flat_settings=true");
	assert_non_null(settings);
	json_t *persistent = json_object_get(settings, "persistent");
	const char *rate = json_string_value(
		json_object_get(persistent, "indices.recovery.max_bytes_per_sec"));
	if (!rate || strcmp(rate, "50mb") != 0 ||
	    json_object_get(persistent, "search.default_search_timeout")) {
		char *text = json_dumps(settings, 0);
		fail_msg("the persistent settings after the failed job: %s", text);
	}
	json_decref(settings);
}

/*
 * Settings a wildcard would admit but the version no longer has are
 * refused with 422 naming the key: a 5.x+ node does not start with a
 * setting it does not know.
 */
static void test_config_removed_settings_are_refused(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG, 0, 0);
	create_small(f, "removed");
	static const char *const bodies[][2] = {
		{"{\"settings\": {\"thread_pool.bulk.queue_size\": 500}}", "thread_pool.bulk"},
		{"{\"settings\": {\"thread_pool.index.size\": 4}}", "thread_pool.index"},
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct http_resp r;
		assert_true(http_call(&f->d, "PATCH", "/api/v1/clusters/removed/config",
				      bodies[i][0], NULL, &r));
		if (r.status != 422)
			fail_msg("%s: %ld, not 422", bodies[i][0], r.status);
		char *text = json_dumps(r.body, 0);
		assert_non_null(strstr(text, bodies[i][1]));
		free(text);
		http_resp_free(&r);
	}
}

/* --- removing a plugin that an index uses ----------------------------------------- */

/* An index whose analyzer uses analysis-icu's tokenizer. */
static const char ICU_SIM_CONFIG[] =
	"tick_ms: 20\n"
	"nodes:\n  count: 6\n  racks: [rack-a, rack-b]\n"
	"elasticsearch:\n  relocation_ms: 200\n  recovery_ms: 50\n  no_master_wait_ms: 500\n  "
	"node_left_delay_ms: 2000\n"
	"  indices:\n    - {name: logs, shards: 2, replicas: 1}\n"
	"    - {name: words, shards: 1, replicas: 1, analysis: {analyzer: {folded: {type: custom,"
	" tokenizer: icu_tokenizer, filter: [lowercase]}}}}\n";

/*
 * Each node's init container deletes the plugins no longer listed, and a
 * node without analysis-icu cannot open an index whose analyzer uses
 * icu_tokenizer: its shards fail to allocate.  The removal is refused
 * (409) naming the index and the component, and nothing changes.
 */
static void test_plugin_remove_refused_while_an_index_uses_it(void **state)
{
	struct fixture *f = *state = fixture_new(ICU_SIM_CONFIG, 0, 0);
	expect_ok(f, post_cluster(&f->d,
				  "{\"name\": \"icu\", \"version\": \"7.17.10\","
				  " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 2},"
				  " \"plugins\": [\"analysis-icu\"]}"));
	json_t *h = es_get(f, "icu", "/_cluster/health");
	assert_string_equal(json_string_value(json_object_get(h, "status")), "green");
	json_decref(h);
	json_t *rec = sim_record(&f->sim);
	size_t deletions = json_array_size(json_object_get(rec, "pod_deletions"));
	json_decref(rec);
	struct http_resp r;
	assert_true(http_call(&f->d, "DELETE", "/api/v1/clusters/icu/plugins/analysis-icu", NULL,
			      NULL, &r));
	char *text = r.body ? json_dumps(r.body, 0) : xstrdup(r.raw ? r.raw : "");
	if (r.status != 409 || !strstr(text, "words") || !strstr(text, "icu_tokenizer"))
		fail_msg("removing analysis-icu while index words uses icu_tokenizer: %ld %s",
			 r.status, text);
	free(text);
	http_resp_free(&r);
	assert_true(spec_has_plugin(f, "icu", "analysis-icu"));
	rec = sim_record(&f->sim);
	assert_int_equal(json_array_size(json_object_get(rec, "pod_deletions")), deletions);
	json_decref(rec);
	assert_int_equal(
		sql_int(f->sql, "SELECT count(*) FROM jobs WHERE kind = 'plugin_remove'", 0, NULL),
		0);
	/* Once the index is gone, the plugin goes. */
	assert_true(sim_call(&f->sim, "DELETE",
			     "/api/v1/namespaces/es-default-icu/services/es-http:9200/proxy/words",
			     NULL, &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	expect_ok(f,
		  api_op(&f->d, "DELETE", "/api/v1/clusters/icu/plugins/analysis-icu", NULL, NULL));
	assert_false(spec_has_plugin(f, "icu", "analysis-icu"));
}

static const char MAPPINGS_SIM_CONFIG[] =
	"tick_ms: 20\n"
	"nodes:\n  count: 6\n  racks: [rack-a, rack-b]\n"
	"elasticsearch:\n  relocation_ms: 200\n  recovery_ms: 50\n  no_master_wait_ms: 500\n  "
	"node_left_delay_ms: 2000\n"
	"  indices:\n"
	"    - {name: titles, shards: 1, replicas: 1, mappings: {properties: {title: {type: text,"
	" analyzer: icu_analyzer}}}}\n"
	"    - {name: sized, shards: 1, replicas: 1, mappings: {_size: {enabled: true}}}\n";

/*
 * An index may use a plugin through its mappings alone: a field whose
 * analyzer is one the analysis plugin brings (icu_analyzer), or
 * mapper-size's _size field enabled.  A node without the plugin cannot
 * parse those mappings, so the removal is refused (409) naming the index,
 * what it uses and where, until the index is gone.
 */
static void test_plugin_remove_refused_while_mappings_use_it(void **state)
{
	static const struct {
		const char *plugin, *index, *uses, *where;
	} cases[] = {
		{"analysis-icu", "titles", "icu_analyzer", "properties.title.analyzer"},
		{"mapper-size", "sized", "_size", "(_size)"},
	};
	struct fixture *f = *state = fixture_new(MAPPINGS_SIM_CONFIG, 0, 0);
	expect_ok(f, post_cluster(&f->d,
				  "{\"name\": \"maps\", \"version\": \"7.17.10\","
				  " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 2},"
				  " \"plugins\": [\"analysis-icu\", \"mapper-size\"]}"));
	json_t *h = es_get(f, "maps", "/_cluster/health");
	assert_string_equal(json_string_value(json_object_get(h, "status")), "green");
	json_decref(h);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct http_resp r;
		char *path = xasprintf("/api/v1/clusters/maps/plugins/%s", cases[i].plugin);
		assert_true(http_call(&f->d, "DELETE", path, NULL, NULL, &r));
		char *text = r.body ? json_dumps(r.body, 0) : xstrdup(r.raw ? r.raw : "");
		if (r.status != 409 || !strstr(text, cases[i].index) ||
		    !strstr(text, cases[i].uses) || !strstr(text, cases[i].where))
			fail_msg("removing %s while index %s uses %s in its mappings: %ld %s",
				 cases[i].plugin, cases[i].index, cases[i].uses, r.status, text);
		free(text);
		http_resp_free(&r);
		assert_true(spec_has_plugin(f, "maps", cases[i].plugin));
		/* Once the index is gone, the plugin goes. */
		char *index = xasprintf(
			"/api/v1/namespaces/es-default-maps/services/es-http:9200/proxy/%s",
			cases[i].index);
		assert_true(sim_call(&f->sim, "DELETE", index, NULL, &r));
		assert_int_equal(r.status, 200);
		http_resp_free(&r);
		free(index);
		expect_ok(f, api_op(&f->d, "DELETE", path, NULL, NULL));
		assert_false(spec_has_plugin(f, "maps", cases[i].plugin));
		free(path);
	}
	assert_int_equal(
		sql_int(f->sql, "SELECT count(*) FROM jobs WHERE kind = 'plugin_remove'", 0, NULL),
		2);
}

/* --- disruption budgets ------------------------------------------------------------- */

/* The PDB of a role: "maxUnavailable disruptionsAllowed" as the API server has it. */
static char *budget_of(struct fixture *f, const char *cluster, const char *workload)
{
	char *path = xasprintf("/apis/policy/v1/namespaces/es-default-%s/poddisruptionbudgets/%s",
			       cluster, workload);
	struct http_resp r;
	assert_true(sim_call(&f->sim, "GET", path, NULL, &r));
	assert_int_equal(r.status, 200);
	char *out = xasprintf("%lld %lld",
			      (long long)json_integer_value(json_object_get(
				      json_object_get(r.body, "spec"), "maxUnavailable")),
			      (long long)json_integer_value(json_object_get(
				      json_object_get(r.body, "status"), "disruptionsAllowed")));
	http_resp_free(&r);
	free(path);
	return out;
}

/*
 * A drain may evict one pod of a role at a time, and none of a role with a
 * single node: evicting the only master stops the cluster (ECK's default
 * budget allows no disruption with a single master or data node).
 */
static void test_single_master_allows_no_disruption(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG, 0, 0);
	create_small(f, "lonely");
	char *master = budget_of(f, "lonely", "es-master");
	char *data = budget_of(f, "lonely", "es-data");
	if (strcmp(master, "0 0") != 0 || strcmp(data, "1 1") != 0)
		fail_msg("maxUnavailable and disruptionsAllowed: masters (1) %s, data (2) %s; "
			 "want 0 0 and 1 1",
			 master, data);
	free(master);
	free(data);
}

static void create_three_data(struct fixture *f, const char *name)
{
	char *spec = xasprintf("{\"name\": \"%s\", \"version\": \"7.17.10\", \"masters\": "
			       "{\"replicas\": 1}, \"data\": {\"replicas\": 3},"
			       " \"clients\": {\"replicas\": 0}}",
			       name);
	expect_ok(f, post_cluster(&f->d, spec));
	free(spec);
}

/* Four hosts: a data scale-up to five leaves one Pending. */
static const char FOUR_HOSTS_SIM_CONFIG[] =
	"tick_ms: 20\n"
	"nodes:\n  count: 4\n"
	"elasticsearch:\n  relocation_ms: 200\n  recovery_ms: 50\n  no_master_wait_ms: 500\n  "
	"node_left_delay_ms: 2000\n"
	"  indices:\n    - {name: logs, shards: 2, replicas: 1}\n";

/*
 * A scale-up that fails keeps the data nodes that became Ready (they may
 * hold copies); a later scale-down drains them and removes them one at a
 * time, each gone before the next: the StatefulSet goes 4 -> 3 -> 2, and
 * no copy is lost.
 */
static void test_leftover_data_nodes_drained_and_removed_one_at_a_time(void **state)
{
	/* The fifth pod stays Pending long enough for the third and fourth to
	 * pass their readiness probes (10 s): the failed scale-up keeps them. */
	struct fixture *f = *state = fixture_start(FOUR_HOSTS_SIM_CONFIG, 0, 0, 30);
	expect_ok(f, post_cluster(&f->d,
				  "{\"name\": \"left\", \"version\": \"7.17.10\","
				  " \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 2},"
				  " \"clients\": {\"replicas\": 0}}"));
	int64_t up = scale(f, "left", "{\"role\": \"data\", \"replicas\": 5}", NULL);
	assert_true(up > 0);
	json_t *job = wait_job_done(&f->d, up, JOB_TIMEOUT_MS);
	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "failed");
	json_decref(job);
	expect_data_workload(f, "left", 4);
	assert_int_equal(spec_replicas(f, "left", "data"), 4);
	/* An index spread over the four: the two left over hold copies. */
	struct http_resp r;
	assert_true(sim_call(
		&f->sim, "PUT",
		"/api/v1/namespaces/es-default-left/services/es-http:9200/proxy/spread",
		"{\"settings\": {\"number_of_shards\": 4, \"number_of_replicas\": 1}}", &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	int on_leftovers = 0;
	int64_t deadline = harness_now_ms() + 30000;
	while (on_leftovers == 0 && harness_now_ms() < deadline) {
		json_t *shards = es_get(f, "left", "/_cat/shards?format=json");
		size_t i;
		json_t *row;
		json_array_foreach (shards, i, row) {
			const char *node = json_string_value(json_object_get(row, "node"));
			if (node && (strstr(node, "es-data-2-") || strstr(node, "es-data-3-")))
				on_leftovers++;
		}
		json_decref(shards);
		if (on_leftovers == 0)
			msleep(100);
	}
	assert_true(on_leftovers > 0);
	int scales = recorded(f, "PATCH", "statefulsets/es-data/scale");
	int64_t down = scale(f, "left", "{\"role\": \"data\", \"replicas\": 2}", NULL);
	expect_ok(f, down);
	expect_trail(f, down,
		     "plan check_copies exclude_nodes wait_drained data_down_next data_down_scale "
		     "data_down_wait data_down_next data_down_scale data_down_wait data_down_next "
		     "http_to_clients fit_quota clear_exclusion wait_green record_scaled");
	/* One node at a time: two scales of one each. */
	assert_int_equal(recorded(f, "PATCH", "statefulsets/es-data/scale") - scales, 2);
	expect_data_workload(f, "left", 2);
	assert_int_equal(spec_replicas(f, "left", "data"), 2);
	assert_int_equal(lost_shards(f), 0);
	/* es-data-3 was gone before es-data-2 went. */
	json_t *st = sim_record(&f->sim);
	int order = 0;
	size_t i;
	json_t *d;
	json_array_foreach (json_object_get(st, "pod_deletions"), i, d) {
		const char *name = json_string_value(json_object_get(d, "name"));
		if (name && strcmp(name, "es-data-3") == 0 && order == 0)
			order = 3;
		else if (name && strcmp(name, "es-data-2") == 0 && order == 0)
			order = 2;
	}
	json_decref(st);
	assert_int_equal(order, 3);
}

/* --- the wipe ----------------------------------------------------------------------------- */

/* Folders on host, under the cluster's namespace, that still hold an
 * Elasticsearch node's identity. */
static int folders_with_a_node(struct fixture *f, const char *cluster, const char *host)
{
	json_t *st = sim_record(&f->sim);
	assert_non_null(st);
	char *under = xasprintf("/es-default-%s/", cluster);
	int n = 0;
	size_t i;
	json_t *d;
	json_array_foreach (json_object_get(st, "host_paths"), i, d) {
		const char *h = json_string_value(json_object_get(d, "host"));
		const char *path = json_string_value(json_object_get(d, "path"));
		if (h && path && (!host || strcmp(h, host) == 0) && strstr(path, under) &&
		    json_is_string(json_object_get(d, "node_id")))
			n++;
	}
	free(under);
	json_decref(st);
	return n;
}

/*
 * A scaled-down data node's folder stays on its host with its volume, no
 * pod of the cluster there any more: a wipe must empty it too, or a
 * cluster of the same name finds the old node's identity and cluster UUID
 * there (elastic/elasticsearch#37775).
 */
static void test_wipe_empties_every_host_that_held_the_data(void **state)
{
	struct fixture *f = *state = fixture_new(SIM_CONFIG, 0, 0);
	create_three_data(f, "gone");
	char *host = host_of(f, "gone", "es-data-2");
	assert_non_null(host);
	expect_ok(f, scale(f, "gone", "{\"role\": \"data\", \"replicas\": 2}", NULL));
	expect_data_workload(f, "gone", 2);
	char *hosts = pod_hosts(f, "gone");
	char *at = xasprintf("=%s", host);
	if (strstr(hosts, at))
		fail_msg("a pod still runs on %s: %s", host, hosts);
	free(at);
	free(hosts);
	assert_true(folders_with_a_node(f, "gone", host) > 0);
	int64_t id = api_op(&f->d, "DELETE", "/api/v1/clusters/gone?wipe_data=true", NULL, NULL);
	expect_ok(f, id);
	if (folders_with_a_node(f, "gone", host) != 0)
		fail_msg("the wipe left es-data-2's folder on %s", host);
	assert_int_equal(folders_with_a_node(f, "gone", NULL), 0);
	free(host);
}

/* POST .../pods/<pod>/eviction, as kubectl drain sends it: the answer's status. */
static long evict(struct fixture *f, const char *cluster, const char *pod, struct http_resp *r)
{
	char *path = xasprintf("/api/v1/namespaces/es-default-%s/pods/%s/eviction", cluster, pod);
	char *body =
		xasprintf("{\"apiVersion\": \"policy/v1\", \"kind\": \"Eviction\","
			  " \"metadata\": {\"name\": \"%s\", \"namespace\": \"es-default-%s\"}}",
			  pod, cluster);
	assert_true(sim_call(&f->sim, "POST", path, body, r));
	free(body);
	free(path);
	return r->status;
}

/*
 * Wait until the role's budget has maxUnavailable max and the disruption
 * controller has seen that spec (observedGeneration), so that an eviction
 * is answered by it.
 */
static bool budget_becomes(struct fixture *f, const char *cluster, const char *workload, int max,
			   int timeout_ms)
{
	char *path = xasprintf("/apis/policy/v1/namespaces/es-default-%s/poddisruptionbudgets/%s",
			       cluster, workload);
	int64_t deadline = harness_now_ms() + timeout_ms;
	bool there = false;
	while (!there && harness_now_ms() < deadline) {
		json_t *pdb = sim_get(f, path);
		json_t *spec_max = json_object_get(json_object_get(pdb, "spec"), "maxUnavailable");
		json_t *gen = json_object_get(json_object_get(pdb, "metadata"), "generation");
		json_t *seen =
			json_object_get(json_object_get(pdb, "status"), "observedGeneration");
		there = json_is_integer(spec_max) && json_integer_value(spec_max) == max &&
			json_is_integer(seen) &&
			json_integer_value(seen) == json_integer_value(gen);
		json_decref(pdb);
		if (!there)
			msleep(50);
	}
	free(path);
	return there;
}

static void expect_budget_refusal(struct fixture *f, const char *cluster, const char *pod)
{
	struct http_resp r;
	long status = evict(f, cluster, pod, &r);
	if (status != 429)
		fail_msg("eviction of %s answered %ld, not 429: %s", pod, status, r.raw);
	assert_string_equal(json_string_value(json_object_get(r.body, "message")),
			    "Cannot evict pod as it would violate the pod's disruption budget.");
	json_t *cause =
		json_array_get(json_object_get(json_object_get(r.body, "details"), "causes"), 0);
	assert_string_equal(json_string_value(json_object_get(cause, "reason")),
			    "DisruptionBudget");
	http_resp_free(&r);
	/* Nothing happened to the pod. */
	char *path = xasprintf("/api/v1/namespaces/es-default-%s/pods/%s", cluster, pod);
	json_t *p = sim_get(f, path);
	assert_non_null(p);
	assert_null(json_object_get(json_object_get(p, "metadata"), "deletionTimestamp"));
	json_decref(p);
	free(path);
}

static char *health_of(struct fixture *f, const char *cluster)
{
	json_t *h = es_get(f, cluster, "/_cluster/health");
	char *status = xstrdup(h ? json_string_value(json_object_get(h, "status")) : "none");
	json_decref(h);
	return status;
}

/*
 * A data node evicted while a replica is unassigned may hold the last
 * started copy of a shard: while the cluster is yellow, every role's budget
 * allows no disruption (ECK's default budget, reconcile_default.go), and
 * the normal one comes back once it is green.
 */
static void test_eviction_of_a_data_pod_refused_while_yellow(void **state)
{
	struct fixture *f = *state = fixture_watched(SIM_CONFIG);
	create_three_data(f, "held");
	/* Four copies of a shard on three data nodes: one stays unassigned. */
	struct http_resp r;
	assert_true(sim_call(&f->sim, "PUT",
			     "/api/v1/namespaces/es-default-held/services/es-http:9200/proxy/wide",
			     "{\"settings\": {\"number_of_shards\": 1, \"number_of_replicas\": 3}}",
			     &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	char *health = health_of(f, "held");
	assert_string_equal(health, "yellow");
	free(health);
	if (!budget_becomes(f, "held", "es-data", 0, 20000))
		fail_msg("the data nodes' budget still allows a disruption while the cluster is "
			 "yellow");
	expect_budget_refusal(f, "held", "es-data-0");
	assert_true(budget_becomes(f, "held", "es-master", 0, 1000));

	/* Green again: one data node at a time may go. */
	assert_true(sim_call(&f->sim, "DELETE",
			     "/api/v1/namespaces/es-default-held/services/es-http:9200/proxy/wide",
			     NULL, &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	if (!budget_becomes(f, "held", "es-data", 1, 20000))
		fail_msg("the data nodes' budget was not given back once green");
	assert_int_equal(lost_shards(f), 0);
}

/*
 * A restart has a node down, or about to be: a drain must not take another
 * one beside it, of any role, even while the cluster is green.  The
 * restart's pod deletion is held back for a while, the cluster green.
 */
static void test_eviction_of_a_data_pod_refused_while_a_restart_runs(void **state)
{
	struct fixture *f = *state = fixture_watched(SIM_CONFIG);
	create_three_data(f, "busy");
	assert_true(budget_becomes(f, "busy", "es-data", 1, 5000));
	struct http_resp r;
	assert_true(sim_call(&f->sim, "POST", "/_sim/faults",
			     "{\"path\": \"/api/v1/namespaces/es-default-busy/pods/es-data-*\","
			     " \"method\": \"DELETE\", \"latency_ms\": 8000, \"count\": 1}",
			     &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	int64_t id = api_op(&f->d, "POST", "/api/v1/clusters/busy/restart", "{\"role\": \"data\"}",
			    NULL);
	assert_true(id > 0);
	assert_true(wait_state(f, id, "restart_delete_pod", 60000));
	char *health = health_of(f, "busy");
	assert_string_equal(health, "green");
	free(health);
	if (!budget_becomes(f, "busy", "es-data", 0, 5000))
		fail_msg("the data nodes' budget still allows a disruption while a restart runs");
	/* The pod the restart is deleting, or another: none may be evicted now. */
	expect_budget_refusal(f, "busy", "es-data-2");
	expect_budget_refusal(f, "busy", "es-data-1");
	json_t *job = wait_job_done(&f->d, id, JOB_TIMEOUT_MS);
	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "succeeded");
	json_decref(job);
	/* Green and idle: the budget back. */
	if (!budget_becomes(f, "busy", "es-data", 1, 20000))
		fail_msg("the data nodes' budget was not given back after the restart");
	assert_int_equal(lost_shards(f), 0);
}

/*
 * Green and idle, the drain may take one data node: the eviction deletes
 * the pod, which comes back under its name on its host, and the cluster
 * is green again.
 */
static void test_eviction_of_a_data_pod_allowed_when_green_and_idle(void **state)
{
	struct fixture *f = *state = fixture_watched(SIM_CONFIG);
	create_three_data(f, "calm");
	/* The sweep has read it green since the create ended. */
	char *q_name[] = {"calm"};
	int64_t deadline = harness_now_ms() + 10000;
	while (sql_int(f->sql,
		       "SELECT count(*) FROM cluster_health h JOIN clusters c ON c.id = "
		       "h.cluster_id"
		       " WHERE c.name = $1 AND h.status = 'green'",
		       1, (const char *const *)q_name) != 1 &&
	       harness_now_ms() < deadline)
		msleep(50);
	assert_true(budget_becomes(f, "calm", "es-data", 1, 5000));
	char *host = host_of(f, "calm", "es-data-1");
	char *uid = pod_uid(f, "calm", "es-data-1");
	assert_non_null(uid);
	struct http_resp r;
	assert_int_equal(evict(f, "calm", "es-data-1", &r), 201);
	assert_string_equal(json_string_value(json_object_get(r.body, "status")), "Success");
	http_resp_free(&r);
	json_t *st = sim_record(&f->sim);
	bool by_eviction = false;
	size_t i;
	json_t *d;
	json_array_foreach (json_object_get(st, "pod_deletions"), i, d) {
		const char *name = json_string_value(json_object_get(d, "name"));
		const char *by = json_string_value(json_object_get(d, "by"));
		if (name && by && strcmp(name, "es-data-1") == 0 && strcmp(by, "eviction") == 0)
			by_eviction = true;
	}
	json_decref(st);
	assert_true(by_eviction);
	/* A new pod under its name (the eviction's pod takes its grace to
	 * go), back on its host, and the cluster green again with every node. */
	deadline = harness_now_ms() + 60000;
	char *health = NULL, *now_uid = NULL;
	size_t nodes = 0;
	do {
		free(health);
		free(now_uid);
		msleep(100);
		now_uid = pod_uid(f, "calm", "es-data-1");
		health = health_of(f, "calm");
		nodes = es_nodes(f, "calm");
	} while ((!now_uid || strcmp(now_uid, uid) == 0 || strcmp(health, "green") != 0 ||
		  nodes != 4) &&
		 harness_now_ms() < deadline);
	assert_non_null(now_uid);
	if (strcmp(now_uid, uid) == 0)
		fail_msg("es-data-1 was not replaced after its eviction");
	assert_string_equal(health, "green");
	assert_int_equal(nodes, 4);
	free(health);
	free(now_uid);
	free(uid);
	char *again = host_of(f, "calm", "es-data-1");
	assert_non_null(again);
	assert_string_equal(again, host);
	free(again);
	free(host);
	assert_int_equal(lost_shards(f), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_zen1_masters_and_plugins, teardown),
		cmocka_unit_test_teardown(test_zen2_masters_and_plugins, teardown),
		cmocka_unit_test_teardown(
			test_zen2_shrink_waits_for_an_absent_leaving_master_before_7_8, teardown),
		cmocka_unit_test_teardown(test_plugin_missing_from_repository, teardown),
		cmocka_unit_test_teardown(test_kibana_with_the_cluster_and_later, teardown),
		cmocka_unit_test_teardown(test_data_scale_down_that_cannot_hold_the_copies,
					  teardown),
		cmocka_unit_test_teardown(test_restart_survives_kill9, teardown),
		cmocka_unit_test_teardown(
			test_restart_refused_while_a_data_node_it_restarts_is_above_the_low_watermark,
			teardown),
		cmocka_unit_test_teardown(
			test_data_scale_down_refused_while_the_nodes_left_have_no_room, teardown),
		cmocka_unit_test_teardown(test_create_scale_and_delete_survive_kill9, teardown),
		cmocka_unit_test_teardown(test_rolling_restart_keeps_every_pod_on_its_host,
					  teardown),
		cmocka_unit_test_teardown(
			test_yellow_restart_waits_for_recoveries_and_started_copies, teardown),
		cmocka_unit_test_teardown(test_red_during_restart_fails_and_restores_allocation,
					  teardown),
		cmocka_unit_test_teardown(test_cancel_during_scale_down, teardown),
		cmocka_unit_test_teardown(
			test_unschedulable_scale_up_fails_with_the_reason_and_scales_back,
			teardown),
		cmocka_unit_test_teardown(test_cancelled_scale_up_returns_the_workload, teardown),
		cmocka_unit_test_teardown(test_cancelled_scale_up_records_the_nodes_it_kept,
					  teardown),
		cmocka_unit_test_teardown(test_scale_plans_from_the_live_replica_count, teardown),
		cmocka_unit_test_teardown(test_scale_up_onto_a_new_host_gets_its_volume, teardown),
		cmocka_unit_test_teardown(test_drain_waits_for_unassigned_shards, teardown),
		cmocka_unit_test_teardown(
			test_drain_observation_names_counters_and_why_a_copy_is_unassigned,
			teardown),
		cmocka_unit_test_teardown(test_drain_keeps_the_operators_exclusion, teardown),
		cmocka_unit_test_teardown(test_clients_to_zero_and_back_keep_the_endpoint,
					  teardown),
		cmocka_unit_test_teardown(test_two_operations_run_one_after_the_other, teardown),
		cmocka_unit_test_teardown(test_retries_take_up_where_they_stopped, teardown),
		cmocka_unit_test_teardown(test_every_workflow_through_faults, teardown),
		cmocka_unit_test_teardown(test_config_mixed_request_puts_the_dynamic_settings,
					  teardown),
		cmocka_unit_test_teardown(test_config_refused_dynamic_setting_changes_nothing,
					  teardown),
		cmocka_unit_test_teardown(test_config_removed_settings_are_refused, teardown),
		cmocka_unit_test_teardown(test_config_bad_static_value_restores_the_config,
					  teardown),
		cmocka_unit_test_teardown(test_config_failure_puts_the_dynamic_settings_back,
					  teardown),
		cmocka_unit_test_teardown(test_plugin_remove_refused_while_mappings_use_it,
					  teardown),
		cmocka_unit_test_teardown(test_plugin_remove_refused_while_an_index_uses_it,
					  teardown),
		cmocka_unit_test_teardown(test_single_master_allows_no_disruption, teardown),
		cmocka_unit_test_teardown(
			test_leftover_data_nodes_drained_and_removed_one_at_a_time, teardown),
		cmocka_unit_test_teardown(test_wipe_empties_every_host_that_held_the_data,
					  teardown),
		cmocka_unit_test_teardown(test_eviction_of_a_data_pod_refused_while_yellow,
					  teardown),
		cmocka_unit_test_teardown(test_eviction_of_a_data_pod_refused_while_a_restart_runs,
					  teardown),
		cmocka_unit_test_teardown(test_eviction_of_a_data_pod_allowed_when_green_and_idle,
					  teardown),
	};
	/* ESAAS_TEST_FILTER=test_name (a glob) runs some tests only. */
	if (getenv("ESAAS_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ESAAS_TEST_FILTER"));
	return harness_run_group(tests, group_setup, group_teardown);
}
