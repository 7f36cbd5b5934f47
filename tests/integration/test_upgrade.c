/*
 * Version upgrades end to end, through the HTTP API against esaas-sim and
 * a private PostgreSQL: a rolling upgrade within 7.x (data nodes first,
 * the masters last, Kibana after them, the version recorded at the end),
 * 6.8 to 7.17 (the discovery settings change; zen2 takes over from zen1)
 * and then to 8.x once the 6.x index is gone, the paths Elasticsearch
 * refuses (naming the release between) and other refusals, across
 * tenants too, a cancel mid-way (upgraded nodes stay, allocation back,
 * the versions reported, the same upgrade asked again finishing it),
 * kill -9 of esaasd during one, the replay of one that failed on a
 * missing plugin file, 2.x to 5.x by a full cluster restart, and 9.x:
 * from 8.19 only (8.17 refused naming 8.19.20), once the 7.x indices are
 * marked read-only, and a 9.x cluster created.
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
#include <libpq-fe.h>
#include "common/util.h"
#include "common/json.h"
#include "tests/integration/harness.h"

static struct pg pg;

#define JOB_TIMEOUT_MS 180000

static const char SIM_CONFIG[] = "tick_ms: 20\n"
				 "nodes:\n  count: 4\n  racks: [rack-a, rack-b]\n"
				 "elasticsearch:\n  relocation_ms: 200\n  recovery_ms: 50\n  "
				 "no_master_wait_ms: 500\n  node_left_delay_ms: 2000\n"
				 "  initial_state_timeout_ms: 3000\n"
				 "  indices:\n    - {name: logs, shards: 2, replicas: 1}\n";

static const char *const REPO_FILES[] = {"analysis-icu-7.16.3.zip", NULL};

struct fixture {
	char dburl[600];
	struct sim sim;
	struct repo repo;
	struct esaasd d;
	struct esaasd_opts o;
	PGconn *sql;
	/* Snapshots taken: tests/reference/es-api has no specification of
	 * the snapshot APIs, so the requests are not checked against one (as
	 * in test_snapshots). */
	bool snapshots;
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

/* snapshots: the snapshots section of esaasd's configuration, or NULL. */
static struct fixture *fixture_with(int lease_s, const char *snapshots)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	assert_non_null(pg_new_database(&pg, f->dburl, sizeof(f->dburl)));
	assert_true(sim_start(&f->sim, pg.dir, SIM_CONFIG));
	assert_true(repo_start(&f->repo, pg.dir, REPO_FILES));
	f->o = (struct esaasd_opts){.kubeconfig = f->sim.kubeconfig,
				    .retry_base_ms = 50,
				    .retry_cap_ms = 300,
				    .lease_s = lease_s,
				    .heartbeat_s = lease_s ? (lease_s + 2) / 3 : 0,
				    .plugin_repository = f->repo.url,
				    .extra_yaml = snapshots};
	assert_true(esaasd_start(&f->d, pg.dir, f->dburl, &f->o));
	f->sql = sql_connect(f->dburl);
	return f;
}

static struct fixture *fixture_new(int lease_s)
{
	return fixture_with(lease_s, NULL);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	if (!f)
		return 0;
	int rc = f->d.pid > 0 ? esaasd_stop(&f->d, SIGTERM, true) : 0;
	bool in_spec = f->snapshots || sim_es_requests_in_spec(&f->sim);
	int src = sim_stop(&f->sim);
	repo_stop(&f->repo);
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
	if (!job_succeeded(&f->d, id, JOB_TIMEOUT_MS)) {
		char *trail = job_trail(f->sql, id);
		fail_msg("job %lld did not succeed: %s", (long long)id, trail ? trail : "?");
	}
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

static long es_call(struct fixture *f, const char *method, const char *cluster, const char *path,
		    const char *body)
{
	char *url = xasprintf("/api/v1/namespaces/es-default-%s/services/es-http:9200/proxy%s",
			      cluster, path);
	struct http_resp r;
	assert_true(sim_call(&f->sim, method, url, body, &r));
	long st = r.status;
	http_resp_free(&r);
	free(url);
	return st;
}

static const char *recorded_version(struct fixture *f, const char *cluster, char *buf, size_t n)
{
	char *path = xasprintf("/api/v1/clusters/%s", cluster);
	json_t *c = get(f, path);
	snprintf(buf, n, "%s",
		 json_string_value(json_object_get(json_object_get(c, "spec"), "version")));
	json_decref(c);
	free(path);
	return buf;
}

/* The cluster's Elasticsearch pods (by their role label) whose version
 * label is version; NULL counts them all. */
static int pods_on(struct fixture *f, const char *cluster, const char *version)
{
	char *url = xasprintf("/api/v1/namespaces/es-default-%s/pods", cluster);
	struct http_resp r;
	assert_true(sim_call(&f->sim, "GET", url, NULL, &r));
	assert_int_equal(r.status, 200);
	int n = 0;
	size_t i;
	json_t *pod;
	json_array_foreach (json_object_get(r.body, "items"), i, pod) {
		json_t *meta = json_object_get(pod, "metadata");
		json_t *labels = json_object_get(meta, "labels");
		const char *role = json_string_value(json_object_get(labels, "esaas.io/role"));
		const char *v =
			json_string_value(json_object_get(labels, "app.kubernetes.io/version"));
		const char *image = json_string_value(json_object_get(
			json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"),
				       0),
			"image"));
		if (!role || strcmp(role, "kibana") == 0 ||
		    json_object_get(meta, "deletionTimestamp"))
			continue;
		/* The label says what the image is. */
		if (v && image)
			assert_non_null(strstr(image, v));
		if (!version || (v && strcmp(v, version) == 0))
			n++;
	}
	http_resp_free(&r);
	free(url);
	return n;
}

/* Every node's own GET / says version. */
static int nodes_answering(struct fixture *f, const char *cluster, const char *version)
{
	json_t *nodes = es_get(f, cluster, "/_nodes");
	assert_non_null(nodes);
	int n = 0;
	const char *id;
	json_t *node;
	json_object_foreach (json_object_get(nodes, "nodes"), id, node)
		if (strcmp(json_string_value(json_object_get(node, "version")), version) == 0)
			n++;
	json_decref(nodes);
	return n;
}

/*
 * esaasctl with args (a shell word list of fixed text), as on-call runs
 * it: ESAAS_URL and ESAAS_TOKEN this esaasd's; its exit status, and what
 * it printed (both streams) in *out (free it).
 */
static int ctl(struct fixture *f, const char *args, char **out)
{
	char *cmd = xasprintf("ESAAS_URL='%s' ESAAS_TOKEN='%s' '%s/esaasctl' %s 2>&1", f->d.base,
			      harness_token(&f->d), harness_builddir(), args);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t len = 0, cap = 4096;
	char *buf = xmalloc(cap);
	size_t n;
	while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
		len += n;
		if (cap - len < 2) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
	}
	buf[len] = '\0';
	int status = pclose(p);
	free(cmd);
	*out = buf;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *cluster_setting(struct fixture *f, const char *cluster, const char *key)
{
	json_t *s = es_get(f, cluster, "/_cluster/settings?flat_settings=true");
	assert_non_null(s);
	json_t *v = json_object_get(json_object_get(s, "transient"), key);
	if (!v)
		v = json_object_get(json_object_get(s, "persistent"), key);
	char *out = json_is_string(v) ? xstrdup(json_string_value(v)) : NULL;
	json_decref(s);
	return out;
}

static void expect_green(struct fixture *f, const char *cluster)
{
	json_t *h = es_get(f, cluster, "/_cluster/health");
	assert_non_null(h);
	assert_string_equal(json_string_value(json_object_get(h, "status")), "green");
	json_decref(h);
}

static size_t lost_shards(struct fixture *f)
{
	json_t *st = sim_record(&f->sim);
	size_t n = json_array_size(json_object_get(st, "lost_shards"));
	json_decref(st);
	return n;
}

/* Shards that went with their nodes and never came back from a disk. */
static size_t unrecovered_shards(struct fixture *f)
{
	json_t *st = sim_record(&f->sim);
	size_t n = 0, i;
	json_t *e;
	json_array_foreach (json_object_get(st, "lost_shards"), i, e)
		n += !json_is_true(json_object_get(e, "recovered"));
	json_decref(st);
	return n;
}

static size_t pod_deletions(struct fixture *f)
{
	json_t *st = sim_record(&f->sim);
	size_t n = json_array_size(json_object_get(st, "pod_deletions"));
	json_decref(st);
	return n;
}

/* A request's answer: its status, its body into *out when out. */
static long call(struct fixture *f, const char *method, const char *path, const char *body,
		 json_t **out)
{
	struct http_resp r;
	assert_true(http_call(&f->d, method, path, body, NULL, &r));
	long st = r.status;
	if (out)
		*out = json_incref(r.body);
	http_resp_free(&r);
	return st;
}

/* A refusal: its status, the field it names and a part of its message. */
static void expect_refused(struct fixture *f, const char *path, const char *body, long status,
			   const char *field, const char *message)
{
	json_t *b = NULL;
	long st = call(f, "POST", path, body, &b);
	json_t *e = json_object_get(b, "error");
	const char *msg = json_string_value(json_object_get(e, "message"));
	if (st != status || !msg || !strstr(msg, message)) {
		char *dump = json_dumps(b, JSON_COMPACT);
		fail_msg("%s %s: %ld %s, not %ld with \"%s\"", path, body, st, dump, status,
			 message);
	}
	if (field)
		assert_string_equal(json_string_value(json_object_get(e, "field")), field);
	json_decref(b);
}

/* Poll the job's row until its state is one of the '|'-separated list and it
 * still runs; false at once when it has ended. */
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

static long long job_int(struct fixture *f, int64_t id, const char *sql)
{
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	const char *q[] = {ids};
	return sql_int(f->sql, sql, 1, q);
}

#define CLUSTER(name, version, masters, data, more)                                      \
	"{\"name\": \"" name "\", \"version\": \"" version                               \
	"\", \"masters\": {\"replicas\": " #masters "}, \"data\": {\"replicas\": " #data \
	"}, \"clients\": {\"replicas\": 0}" more "}"

/* --- a rolling upgrade within a major ---------------------------------------------- */

static void test_upgrade_rolls_data_nodes_before_masters_then_kibana(void **state)
{
	struct fixture *f = *state = fixture_new(0);
	char v[32];
	expect_ok(f, post_cluster(&f->d, CLUSTER("roll", "7.16.3", 3, 2,
						 ", \"kibana\": {\"replicas\": 1}")));
	size_t before = pod_deletions(f);

	/* The preview lists the pods in the order they go, and queues nothing. */
	json_t *plan = NULL;
	assert_int_equal(call(f, "POST", "/api/v1/clusters/roll/upgrade?dry_run=true",
			      "{\"version\": \"7.17.10\"}", &plan),
			 200);
	json_t *pods = json_object_get(plan, "pods");
	assert_int_equal(json_array_size(pods), 5);
	assert_string_equal(json_string_value(json_object_get(json_array_get(pods, 0), "role")),
			    "data");
	assert_string_equal(json_string_value(json_object_get(json_array_get(pods, 4), "role")),
			    "master");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(plan, "upgrade"), "way")),
		"rolling");
	/* No repository here: the plan warns that no snapshot comes first, as
	 * the 202 would, and holds nothing up for it. */
	json_t *warned = json_array_get(json_object_get(plan, "warnings"), 0);
	assert_non_null(strstr(json_string_value(warned), "no snapshot is taken first"));
	assert_int_equal(json_array_size(json_object_get(plan, "gates")), 0);
	json_decref(plan);
	assert_int_equal(
		sql_int(f->sql, "SELECT count(*) FROM jobs WHERE kind = 'upgrade'", 0, NULL), 0);

	int64_t id = api_op(&f->d, "POST", "/api/v1/clusters/roll/upgrade",
			    "{\"version\": \"7.17.10\"}", NULL);
	assert_true(id > 0);
	/* Mid-way, the cluster still records the version it had (a pod's
	 * wait for its replacement lasts seconds, so it is seen). */
	assert_true(wait_state_while_running(
		f, id, "restart_wait_pod|restart_wait_joined|restart_wait_green", 60000));
	assert_string_equal(recorded_version(f, "roll", v, sizeof(v)), "7.16.3");
	expect_ok(f, id);

	assert_string_equal(recorded_version(f, "roll", v, sizeof(v)), "7.17.10");
	assert_int_equal(pods_on(f, "roll", "7.17.10"), 5);
	assert_int_equal(nodes_answering(f, "roll", "7.17.10"), 5);
	/* Data nodes first, the masters last, the elected master very last
	 * (Kibana's old pod goes with its Deployment's rollout). */
	json_t *st = sim_record(&f->sim);
	json_t *dels = json_object_get(st, "pod_deletions");
	int es = 0;
	for (size_t i = before; i < json_array_size(dels); i++) {
		const char *name =
			json_string_value(json_object_get(json_array_get(dels, i), "name"));
		if (strncmp(name, "es-", 3) != 0)
			continue;
		assert_non_null(strstr(name, es < 2 ? "data" : "master"));
		es++;
	}
	assert_int_equal(es, 5);
	json_decref(st);
	assert_int_equal(job_int(f, id,
				 "SELECT count(*) FROM jobs WHERE id = $1"
				 " AND context->'restarted'->4->>'role' = 'master'"),
			 1);
	assert_null(cluster_setting(f, "roll", "cluster.routing.allocation.enable"));
	expect_green(f, "roll");
	assert_int_equal(lost_shards(f), 0);
	/* Kibana follows, after the nodes. */
	struct http_resp r;
	assert_true(sim_call(&f->sim, "GET",
			     "/apis/apps/v1/namespaces/es-default-roll/deployments/kibana", NULL,
			     &r));
	assert_int_equal(r.status, 200);
	const char *image = json_string_value(json_object_get(
		json_array_get(
			json_object_get(
				json_object_get(json_object_get(json_object_get(r.body, "spec"),
								"template"),
						"spec"),
				"containers"),
			0),
		"image"));
	assert_non_null(image);
	assert_non_null(strstr(image, ":7.17.10"));
	http_resp_free(&r);
}

/* --- 6.8 to 7.17 to 8.x -------------------------------------------------------------- */

static void test_upgrade_6_to_7_changes_discovery_and_6x_index_blocks_8_until_gone(void **state)
{
	struct fixture *f = *state = fixture_new(0);
	char v[32];
	expect_ok(f, post_cluster(&f->d, CLUSTER("zen", "6.8.23", 3, 2, "")));
	/* 6.8 to 8.x directly: refused, naming 7.17 as the way. */
	expect_refused(f, "/api/v1/clusters/zen/upgrade", "{\"version\": \"8.17.0\"}", 422,
		       "version", "upgrade to 7.17.10 first");

	expect_ok(f, api_op(&f->d, "POST", "/api/v1/clusters/zen/upgrade",
			    "{\"version\": \"7.17.10\"}", NULL));
	assert_string_equal(recorded_version(f, "zen", v, sizeof(v)), "7.17.10");
	assert_int_equal(nodes_answering(f, "zen", "7.17.10"), 5);
	/* 7.x's discovery settings, and a master elected by zen2. */
	struct http_resp r;
	assert_true(sim_call(&f->sim, "GET",
			     "/api/v1/namespaces/es-default-zen/configmaps/es-master-config", NULL,
			     &r));
	assert_int_equal(r.status, 200);
	const char *yml = json_string_value(
		json_object_get(json_object_get(r.body, "data"), "elasticsearch.yml"));
	assert_non_null(yml);
	assert_non_null(strstr(yml, "discovery.seed_hosts"));
	assert_null(strstr(yml, "discovery.zen."));
	http_resp_free(&r);
	json_t *master = es_get(f, "zen", "/_cat/master?format=json");
	assert_non_null(master);
	assert_int_equal(json_array_size(master), 1);
	json_decref(master);
	expect_green(f, "zen");
	assert_int_equal(lost_shards(f), 0);

	/* The index 6.8 created: 8.x cannot read it, and says which. */
	expect_refused(f, "/api/v1/clusters/zen/upgrade", "{\"version\": \"8.17.0\"}", 422,
		       "version", "cannot read an index created by 6.x: logs");
	expect_refused(f, "/api/v1/clusters/zen/upgrade?dry_run=true", "{\"version\": \"8.17.0\"}",
		       422, "version", "logs");
	assert_int_equal(pods_on(f, "zen", "7.17.10"), 5);

	/* Gone (reindexed elsewhere), the upgrade to 8.x goes. */
	assert_int_equal(es_call(f, "DELETE", "zen", "/logs", NULL), 200);
	assert_int_equal(
		es_call(f, "PUT", "zen", "/fresh",
			"{\"settings\": {\"number_of_shards\": 1, \"number_of_replicas\": 1}}"),
		200);
	expect_ok(f, api_op(&f->d, "POST", "/api/v1/clusters/zen/upgrade",
			    "{\"version\": \"8.17.0\"}", NULL));
	assert_string_equal(recorded_version(f, "zen", v, sizeof(v)), "8.17.0");
	assert_int_equal(nodes_answering(f, "zen", "8.17.0"), 5);
	/* Before it went, the deprecation info API was asked what 8.x needs. */
	json_t *st = sim_record(&f->sim);
	int asked = 0;
	size_t i;
	json_t *q;
	json_array_foreach (json_object_get(st, "es_requests"), i, q)
		asked += json_string_value(json_object_get(q, "path")) &&
			 strstr(json_string_value(json_object_get(q, "path")),
				"_migration/deprecations") != NULL;
	json_decref(st);
	assert_true(asked >= 1);
	expect_green(f, "zen");
	assert_int_equal(lost_shards(f), 0);
}

/* --- refusals -------------------------------------------------------------------------- */

static void test_upgrade_refusals_name_the_field_and_change_nothing(void **state)
{
	struct fixture *f = *state = fixture_new(0);
	expect_ok(f, post_cluster(&f->d, CLUSTER("old", "7.10.2", 1, 2, "")));
	size_t before = pod_deletions(f);
	const char *path = "/api/v1/clusters/old/upgrade";

	expect_refused(f, path, "{\"version\": \"8.17.0\"}", 422, "version",
		       "upgrade to 7.17.10 first");
	expect_refused(f, path, "{\"version\": \"7.9.3\"}", 422, "version", "no downgrade");
	expect_refused(f, path, "{\"version\": \"7.10.2\"}", 422, "version", "already runs");
	expect_refused(f, path, "{\"version\": \"7.17\"}", 422, "version", "a release such as");
	expect_refused(f, path, "{\"version\": \"10.0.0\"}", 422, "version", "not supported");
	/* No snapshot repository here: one asked for cannot be taken. */
	expect_refused(f, path, "{\"version\": \"7.17.10\", \"snapshot\": true}", 409, "snapshot",
		       "snapshots are not configured");
	expect_refused(f, path, "{\"version\": \"7.17.10\", \"snapshot\": \"no\"}", 422, "snapshot",
		       "true or false");
	expect_refused(f, path, "{\"version\": \"7.17.10\", \"shapshot\": false}", 422, "shapshot",
		       "unknown field");
	expect_refused(f, "/api/v1/clusters/nosuch/upgrade", "{\"version\": \"7.17.10\"}", 404,
		       NULL, "not found");
	/* esaasctl says the same, and exits 1; its --dry-run prints the plan. */
	char *out;
	assert_int_equal(ctl(f, "upgrade old --version 8.17.0", &out), 1);
	assert_non_null(strstr(out, "upgrade to 7.17.10 first"));
	free(out);
	assert_int_equal(ctl(f, "upgrade old", &out), 2);
	assert_non_null(strstr(out, "--version"));
	free(out);
	assert_int_equal(ctl(f, "upgrade old --version 7.17.10 --dry-run -o json", &out), 0);
	json_t *plan = json_loads(out, 0, NULL);
	free(out);
	assert_non_null(plan);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(plan, "upgrade"), "to")),
		"7.17.10");
	assert_int_equal(json_array_size(json_object_get(plan, "pods")), 3);
	json_decref(plan);

	/* Another tenant's member sees no such cluster. */
	assert_int_equal(call(f, "PUT", "/api/v1/tenants/other", NULL, NULL), 201);
	json_t *t = NULL;
	assert_int_equal(call(f, "POST", "/api/v1/tokens",
			      "{\"tenant\": \"other\", \"role\": \"member\"}", &t),
			 201);
	char *auth = xasprintf("Authorization: Bearer %s",
			       json_string_value(json_object_get(t, "token")));
	json_decref(t);
	const char *headers[] = {auth, NULL};
	struct http_resp r;
	assert_true(http_call(&f->d, "POST", path, "{\"version\": \"7.17.10\"}", headers, &r));
	assert_int_equal(r.status, 404);
	http_resp_free(&r);
	free(auth);

	assert_int_equal(
		sql_int(f->sql, "SELECT count(*) FROM jobs WHERE kind = 'upgrade'", 0, NULL), 0);
	assert_int_equal(pod_deletions(f), before);
	assert_int_equal(pods_on(f, "old", "7.10.2"), 3);
}

/* --- cancel ------------------------------------------------------------------------------ */

static void test_upgrade_cancelled_midway_keeps_upgraded_nodes_and_says_so(void **state)
{
	struct fixture *f = *state = fixture_new(0);
	char v[32];
	expect_ok(f, post_cluster(&f->d, CLUSTER("half", "7.16.3", 1, 3, "")));
	int64_t id = api_op(&f->d, "POST", "/api/v1/clusters/half/upgrade",
			    "{\"version\": \"7.17.10\"}", NULL);
	assert_true(id > 0);
	/* After the first node, before the second goes. */
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	const char *q[] = {ids};
	int64_t deadline = harness_now_ms() + 60000;
	while (harness_now_ms() < deadline &&
	       sql_int(f->sql,
		       "SELECT count(*) FROM jobs WHERE id = $1"
		       " AND jsonb_array_length(context->'restarted') >= 1",
		       1, q) == 0)
		msleep(20);
	char *cancel = xasprintf("/api/v1/jobs/%lld/cancel", (long long)id);
	long st = call(f, "POST", cancel, "{\"reason\": \"stop halfway\"}", NULL);
	free(cancel);
	assert_true(st == 202 || st == 200);
	json_t *job = wait_job_status(&f->d, id, "cancelled", JOB_TIMEOUT_MS);
	assert_non_null(job);
	json_decref(job);

	int upgraded = pods_on(f, "half", "7.17.10");
	int old = pods_on(f, "half", "7.16.3");
	assert_true(upgraded >= 1);
	assert_true(old >= 1);
	assert_int_equal(upgraded + old, 4);
	/* The job says so, the cluster works, nothing is left paused. */
	assert_int_equal(job_int(f, id,
				 "SELECT (context->'versions'->>'7.17.10')::int FROM jobs"
				 " WHERE id = $1"),
			 upgraded);
	assert_int_equal(job_int(f, id,
				 "SELECT count(*) FROM job_events WHERE job_id = $1"
				 " AND detail LIKE '%still run 7.16.3%'"),
			 1);
	assert_string_equal(recorded_version(f, "half", v, sizeof(v)), "7.16.3");
	/* The templates stay the target's: a data pod that restarts now
	 * comes back upgraded, never older than it was. */
	struct http_resp r;
	assert_true(sim_call(&f->sim, "GET",
			     "/apis/apps/v1/namespaces/es-default-half/statefulsets/es-data", NULL,
			     &r));
	assert_int_equal(r.status, 200);
	char *set = json_dumps(r.body, JSON_COMPACT);
	assert_non_null(strstr(set, "elasticsearch:7.17.10\""));
	free(set);
	http_resp_free(&r);
	assert_null(cluster_setting(f, "half", "cluster.routing.allocation.enable"));
	assert_int_equal(es_call(f, "PUT", "half", "/after", "{}"), 200);
	assert_int_equal(lost_shards(f), 0);

	/* Asked again, the upgrade goes on with the nodes not yet upgraded. */
	size_t before = pod_deletions(f);
	char *out;
	int rc = ctl(f, "upgrade half --version 7.17.10 --wait", &out);
	if (rc != 0)
		fail_msg("esaasctl upgrade --wait exited %d: %s", rc, out);
	free(out);
	assert_int_equal(pod_deletions(f) - before, (size_t)old);
	assert_int_equal(pods_on(f, "half", "7.17.10"), 4);
	assert_string_equal(recorded_version(f, "half", v, sizeof(v)), "7.17.10");
	expect_green(f, "half");
}

/*
 * Paused before its first node (on its way into restart_next, after the
 * new configuration and templates were written), then cancelled: no node
 * runs the target, so the ConfigMaps and StatefulSets go back.
 */
static void test_upgrade_cancelled_before_any_node_puts_the_templates_back(void **state)
{
	struct fixture *f = *state = fixture_new(0);
	char v[32];
	struct http_resp r;
	expect_ok(f, post_cluster(&f->d, CLUSTER("early", "6.8.23", 1, 2, "")));
	size_t before = pod_deletions(f);
	/* A slow write of the data nodes' StatefulSet: the pause lands first. */
	assert_true(sim_call(&f->sim, "POST", "/_sim/faults",
			     "{\"rules\": [{\"path\": \"*/statefulsets/es-data\", \"method\": "
			     "\"PATCH\", \"latency_ms\": 3000, \"count\": 1}]}",
			     &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	int64_t id = api_op(&f->d, "POST", "/api/v1/clusters/early/upgrade",
			    "{\"version\": \"7.17.10\"}", NULL);
	assert_true(id > 0);
	/* Running, short of its first node: a pause sent while it is still
	 * queued would keep it queued instead. */
	assert_true(wait_state_while_running(f, id,
					     "upgrade_check_plugins|upgrade_snapshot_route|"
					     "apply_config|apply_workloads",
					     JOB_TIMEOUT_MS));
	long st =
		call(f, "POST", "/api/v1/clusters/early/pause", "{\"reason\": \"hold it\"}", NULL);
	assert_true(st == 202 || st == 200);
	json_t *job = wait_job_status(&f->d, id, "paused", JOB_TIMEOUT_MS);
	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "state")), "restart_next");
	json_decref(job);
	/* The target's templates are written: what the cancel must undo. */
	assert_true(sim_call(&f->sim, "GET",
			     "/apis/apps/v1/namespaces/es-default-early/statefulsets/es-data", NULL,
			     &r));
	char *set = json_dumps(r.body, JSON_COMPACT);
	assert_non_null(strstr(set, "elasticsearch:7.17.10\""));
	free(set);
	http_resp_free(&r);

	char *cancel = xasprintf("/api/v1/jobs/%lld/cancel", (long long)id);
	st = call(f, "POST", cancel, "{\"reason\": \"not now\"}", NULL);
	free(cancel);
	assert_true(st == 202 || st == 200);
	job = wait_job_status(&f->d, id, "cancelled", JOB_TIMEOUT_MS);
	assert_non_null(job);
	json_decref(job);
	st = call(f, "POST", "/api/v1/clusters/early/resume", "{\"reason\": \"done\"}", NULL);
	assert_true(st == 200 || st == 202);

	assert_int_equal(pod_deletions(f), before);
	assert_int_equal(pods_on(f, "early", "6.8.23"), 3);
	assert_string_equal(recorded_version(f, "early", v, sizeof(v)), "6.8.23");
	assert_true(sim_call(&f->sim, "GET",
			     "/apis/apps/v1/namespaces/es-default-early/statefulsets/es-data", NULL,
			     &r));
	set = json_dumps(r.body, JSON_COMPACT);
	assert_non_null(strstr(set, "elasticsearch:6.8.23\""));
	assert_null(strstr(set, "7.17.10"));
	free(set);
	http_resp_free(&r);
	assert_true(sim_call(&f->sim, "GET",
			     "/api/v1/namespaces/es-default-early/configmaps/es-master-config",
			     NULL, &r));
	const char *yml = json_string_value(
		json_object_get(json_object_get(r.body, "data"), "elasticsearch.yml"));
	assert_non_null(yml);
	assert_non_null(strstr(yml, "discovery.zen.ping.unicast.hosts"));
	assert_null(strstr(yml, "discovery.seed_hosts"));
	http_resp_free(&r);
	assert_int_equal(job_int(f, id,
				 "SELECT count(*) FROM job_events WHERE job_id = $1"
				 " AND detail LIKE '%still runs 6.8.23, and its configuration and "
				 "StatefulSets are 6.8.23''s again%'"),
			 1);
	assert_null(cluster_setting(f, "early", "cluster.routing.allocation.enable"));
}

/* --- kill -9 ------------------------------------------------------------------------------ */

static void test_upgrade_survives_kill9(void **state)
{
	struct fixture *f = *state = fixture_new(2);
	char v[32];
	expect_ok(f, post_cluster(&f->d, CLUSTER("hard", "7.16.3", 3, 2, "")));
	size_t before = pod_deletions(f);
	int64_t id = api_op(&f->d, "POST", "/api/v1/clusters/hard/upgrade",
			    "{\"version\": \"7.17.10\"}", NULL);
	assert_true(id > 0);
	/* Any moment of a pod's roll, each kill at whichever the job is in
	 * then (the states come back with every pod; a job the kill sent back
	 * to its lease is in one of them again as soon as it runs). */
	const char *moments = "restart_pause|restart_flush|restart_delete_pod|restart_wait_pod|"
			      "restart_wait_joined|restart_resume_allocation|restart_wait_green|"
			      "restart_check";
	unsigned seed = (unsigned)harness_now_ms();
	int kills = 0;
	/* Steps written, a wait that saw nothing new counted on its event. */
	const char *events = "SELECT count(*) + coalesce(sum(polls), 0) FROM job_events"
			     " WHERE job_id = $1";
	while (kills < 4) {
		if (!wait_state_while_running(f, id, moments, 60000))
			break;
		msleep((int)(rand_r(&seed) % 150));
		long long seen = job_int(f, id, events);
		esaasd_stop(&f->d, SIGKILL, true);
		kills++;
		assert_true(esaasd_start(&f->d, pg.dir, f->dburl, &f->o));
		/* The next kill once the new esaasd has taken the job up (its
		 * lease has lapsed and it wrote a step), not before. */
		int64_t until = harness_now_ms() + 60000;
		while (job_int(f, id, events) <= seen && harness_now_ms() < until)
			msleep(20);
	}
	expect_ok(f, id);
	if (kills < 3)
		fail_msg("esaasd was killed %d times, not at least 3 (seed %u)", kills, seed);
	/* Every pod replaced once, none twice. */
	json_t *st = sim_record(&f->sim);
	json_t *dels = json_object_get(st, "pod_deletions");
	assert_int_equal(json_array_size(dels) - before, 5);
	for (size_t i = before; i < json_array_size(dels); i++)
		for (size_t j = i + 1; j < json_array_size(dels); j++)
			assert_string_not_equal(
				json_string_value(json_object_get(json_array_get(dels, i), "name")),
				json_string_value(
					json_object_get(json_array_get(dels, j), "name")));
	json_decref(st);
	assert_string_equal(recorded_version(f, "hard", v, sizeof(v)), "7.17.10");
	assert_int_equal(pods_on(f, "hard", "7.17.10"), 5);
	assert_null(cluster_setting(f, "hard", "cluster.routing.allocation.enable"));
	expect_green(f, "hard");
	assert_int_equal(lost_shards(f), 0);
}

/* --- replay -------------------------------------------------------------------------------- */

static void test_upgrade_failed_on_missing_plugin_file_replays_once_it_is_there(void **state)
{
	struct fixture *f = *state = fixture_new(0);
	char v[32];
	expect_ok(f, post_cluster(&f->d, CLUSTER("icu", "7.16.3", 1, 2,
						 ", \"plugins\": [\"analysis-icu\"]")));
	size_t before = pod_deletions(f);
	int64_t id = api_op(&f->d, "POST", "/api/v1/clusters/icu/upgrade",
			    "{\"version\": \"7.17.10\"}", NULL);
	assert_true(id > 0);
	json_t *job = wait_job_status(&f->d, id, "failed", JOB_TIMEOUT_MS);
	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "failed_state")),
			    "upgrade_check_plugins");
	assert_non_null(strstr(json_string_value(json_object_get(job, "error")),
			       "analysis-icu-7.17.10.zip"));
	json_decref(job);
	/* Nothing changed: no pod went, the cluster keeps its version. */
	assert_int_equal(pod_deletions(f), before);
	assert_int_equal(pods_on(f, "icu", "7.16.3"), 3);
	assert_int_equal(
		job_int(f, id,
			"SELECT count(*) FROM job_events WHERE job_id = $1"
			" AND detail LIKE '%every one of the 3 Elasticsearch nodes still runs "
			"7.16.3%'"),
		1);

	assert_true(repo_add(&f->repo, "analysis-icu-7.17.10.zip"));
	char *replay = xasprintf("/api/v1/jobs/%lld/replay", (long long)id);
	assert_int_equal(call(f, "POST", replay, "{\"reason\": \"plugin file published\"}", NULL),
			 202);
	free(replay);
	expect_ok(f, id);
	assert_string_equal(recorded_version(f, "icu", v, sizeof(v)), "7.17.10");
	assert_int_equal(pods_on(f, "icu", "7.17.10"), 3);
	json_t *plugins = es_get(f, "icu", "/_cat/plugins?format=json");
	assert_non_null(plugins);
	assert_int_equal(json_array_size(plugins), 3);
	json_decref(plugins);
}

/* --- 2.x to 5.x ------------------------------------------------------------------------------ */

static void test_upgrade_2_to_5_is_a_full_cluster_restart(void **state)
{
	struct fixture *f = *state = fixture_new(0);
	char v[32];
	expect_ok(f, post_cluster(&f->d, CLUSTER("ancient", "2.4.6", 1, 2, "")));
	json_t *plan = NULL;
	assert_int_equal(call(f, "POST", "/api/v1/clusters/ancient/upgrade?dry_run=true",
			      "{\"version\": \"5.6.16\"}", &plan),
			 200);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(plan, "upgrade"), "way")),
		"full_restart");
	char *states = json_dumps(json_object_get(plan, "states"), JSON_COMPACT);
	assert_non_null(strstr(states, "\"full_stop\""));
	assert_null(strstr(states, "\"restart_delete_pod\""));
	free(states);
	json_decref(plan);

	size_t before = pod_deletions(f);
	expect_ok(f, api_op(&f->d, "POST", "/api/v1/clusters/ancient/upgrade",
			    "{\"version\": \"5.6.16\"}", NULL));
	assert_int_equal(pod_deletions(f) - before, 3);
	assert_string_equal(recorded_version(f, "ancient", v, sizeof(v)), "5.6.16");
	assert_int_equal(nodes_answering(f, "ancient", "5.6.16"), 3);
	expect_green(f, "ancient");
	/* Every copy went with its node; every primary came back from its disk. */
	assert_int_equal(unrecovered_shards(f), 0);
	assert_null(cluster_setting(f, "ancient", "cluster.routing.allocation.enable"));
}

/* --- to 9.x ------------------------------------------------------------------------------ */

/* An index's settings.index, as GET /<index>/_settings answers. */
static json_t *index_settings_of(struct fixture *f, const char *cluster, const char *index)
{
	char *path = xasprintf("/%s/_settings", index);
	json_t *s = es_get(f, cluster, path);
	free(path);
	assert_non_null(s);
	json_t *out = json_incref(
		json_object_get(json_object_get(json_object_get(s, index), "settings"), "index"));
	json_decref(s);
	return out;
}

/*
 * 7.17 to 9.x goes through 8.19: refused naming 8.19.20, then 7.17 to 8.19
 * rolling; the index 7.17 created keeps 9.x back, named, until 8.19's add
 * index block API marks it read-only (a block and the verified mark); then
 * the rolling upgrade to 9.5.2, every node on it, the index still there.
 */
static void test_upgrade_8_19_to_9_rolls_once_7x_indices_are_read_only(void **state)
{
	struct fixture *f = *state = fixture_new(0);
	char v[32];
	const char *path = "/api/v1/clusters/nine/upgrade";
	expect_ok(f, post_cluster(&f->d, CLUSTER("nine", "7.17.10", 1, 2, "")));
	expect_refused(f, path, "{\"version\": \"9.5.2\"}", 422, "version",
		       "upgrade to 8.19.20 first, then to 9.5.2");

	expect_ok(f, api_op(&f->d, "POST", path, "{\"version\": \"8.19.20\"}", NULL));
	assert_string_equal(recorded_version(f, "nine", v, sizeof(v)), "8.19.20");
	assert_int_equal(nodes_answering(f, "nine", "8.19.20"), 3);

	/* The 7.x index, named; the dry run says the same; nothing moves. */
	size_t before = pod_deletions(f);
	expect_refused(f, path, "{\"version\": \"9.5.2\"}", 422, "version",
		       "reads an index created by 7.x only once marked read-only: logs");
	expect_refused(f, "/api/v1/clusters/nine/upgrade?dry_run=true", "{\"version\": \"9.5.2\"}",
		       422, "version", "_block/write");
	assert_int_equal(pod_deletions(f), before);
	assert_int_equal(pods_on(f, "nine", "8.19.20"), 3);

	/* No mark before the block; the add index block API sets both. */
	json_t *ix = index_settings_of(f, "nine", "logs");
	assert_null(json_object_get(ix, "verified_read_only"));
	json_decref(ix);
	assert_int_equal(es_call(f, "PUT", "nine", "/logs/_block/write", NULL), 200);
	ix = index_settings_of(f, "nine", "logs");
	assert_string_equal(json_string_value(json_object_get(ix, "verified_read_only")), "true");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(ix, "blocks"), "write")), "true");
	json_decref(ix);
	/* An index 8.19 created needs nothing. */
	assert_int_equal(
		es_call(f, "PUT", "nine", "/fresh",
			"{\"settings\": {\"number_of_shards\": 1, \"number_of_replicas\": 1}}"),
		200);

	expect_ok(f, api_op(&f->d, "POST", path, "{\"version\": \"9.5.2\"}", NULL));
	assert_string_equal(recorded_version(f, "nine", v, sizeof(v)), "9.5.2");
	assert_int_equal(nodes_answering(f, "nine", "9.5.2"), 3);
	assert_int_equal(pods_on(f, "nine", "9.5.2"), 3);
	json_t *root = es_get(f, "nine", "/");
	assert_non_null(root);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(root, "version"),
						  "minimum_wire_compatibility_version")),
		"8.18.0");
	json_decref(root);
	ix = index_settings_of(f, "nine", "logs");
	assert_string_equal(json_string_value(json_object_get(ix, "verified_read_only")), "true");
	json_decref(ix);
	/* On 9.x the deprecation info API has nothing to say of it. */
	json_t *dep = es_get(f, "nine", "/_migration/deprecations");
	assert_non_null(dep);
	assert_int_equal(json_object_size(json_object_get(dep, "index_settings")), 0);
	json_decref(dep);
	expect_green(f, "nine");
	assert_int_equal(lost_shards(f), 0);
}

/*
 * 8.17 to 9.x is refused naming 8.19.20 (a 422 on the field, no job, no
 * pod touched, esaasctl the same), and a 9.x cluster is created as it is.
 */
static void test_upgrade_8_17_to_9_refused_and_9x_created(void **state)
{
	struct fixture *f = *state = fixture_new(0);
	char v[32];
	expect_ok(f, post_cluster(&f->d, CLUSTER("eight", "8.17.0", 1, 2, "")));
	size_t before = pod_deletions(f);
	expect_refused(f, "/api/v1/clusters/eight/upgrade", "{\"version\": \"9.5.2\"}", 422,
		       "version", "upgrade to 8.19.20 first, then to 9.5.2");
	expect_refused(f, "/api/v1/clusters/eight/upgrade?dry_run=true", "{\"version\": \"9.5.2\"}",
		       422, "version", "upgrade to 8.19.20 first");
	char *out;
	assert_int_equal(ctl(f, "upgrade eight --version 9.5.2", &out), 1);
	assert_non_null(strstr(out, "upgrade to 8.19.20 first"));
	free(out);
	assert_int_equal(
		sql_int(f->sql, "SELECT count(*) FROM jobs WHERE kind = 'upgrade'", 0, NULL), 0);
	assert_int_equal(pod_deletions(f), before);
	assert_int_equal(pods_on(f, "eight", "8.17.0"), 3);

	/* The versions list offers 9.5.2 and 8.19.20, no longer 8.17.0. */
	json_t *list = get(f, "/api/v1/versions");
	char *dump = json_dumps(list, JSON_COMPACT);
	assert_non_null(strstr(dump, "\"9.5.2\""));
	assert_non_null(strstr(dump, "\"8.19.20\""));
	assert_null(strstr(dump, "\"8.17.0\""));
	free(dump);
	json_decref(list);

	expect_ok(f, post_cluster(&f->d, CLUSTER("new", "9.5.2", 1, 2, "")));
	assert_string_equal(recorded_version(f, "new", v, sizeof(v)), "9.5.2");
	assert_int_equal(nodes_answering(f, "new", "9.5.2"), 3);
	assert_int_equal(pods_on(f, "new", "9.5.2"), 3);
	expect_green(f, "new");
}

/*
 * With a snapshot repository, an upgrade takes a snapshot of every index
 * before anything changes (after the plugin check), which the cluster's
 * snapshots list then shows; without one (the other tests), it goes on
 * without and the 202 says so.
 */
static void test_upgrade_takes_a_snapshot_first(void **state)
{
	struct fixture *f = *state = fixture_with(0, "snapshots:\n  nfs_server: nfs.storage.svc\n"
						     "  nfs_path: /exports/esaas\n");
	f->snapshots = true;
	expect_ok(f, post_cluster(&f->d, CLUSTER("snap", "7.16.3", 1, 2, "")));
	json_t *answer = NULL;
	assert_int_equal(call(f, "POST", "/api/v1/clusters/snap/upgrade",
			      "{\"version\": \"7.17.10\"}", &answer),
			 202);
	int64_t id = json_integer_value(json_object_get(answer, "id"));
	/* A snapshot is taken: no warning that it is not. */
	char *dump = json_dumps(answer, JSON_COMPACT);
	assert_null(strstr(dump, "no snapshot"));
	free(dump);
	json_decref(answer);
	expect_ok(f, id);
	char *trail = job_trail(f->sql, id);
	assert_non_null(strstr(trail,
			       "upgrade_check_plugins upgrade_snapshot_route "
			       "snapshot_repository snapshot_take snapshot_wait apply_config"));
	free(trail);
	json_t *list = get(f, "/api/v1/clusters/snap/snapshots");
	char *name = xasprintf("upgrade-%lld", (long long)id);
	bool found = false;
	size_t i;
	json_t *s;
	json_array_foreach (json_object_get(list, "snapshots"), i, s) {
		if (!strcmp(json_str(s, "name"), name)) {
			found = true;
			assert_string_equal(json_str(s, "state"), "SUCCESS");
		}
	}
	assert_true(found);
	free(name);
	json_decref(list);

	/* Asked not to, it takes none. */
	expect_ok(f, post_cluster(&f->d, CLUSTER("nosnap", "7.16.3", 1, 2, "")));
	id = api_op(&f->d, "POST", "/api/v1/clusters/nosnap/upgrade",
		    "{\"version\": \"7.17.10\", \"snapshot\": false}", NULL);
	expect_ok(f, id);
	trail = job_trail(f->sql, id);
	assert_null(strstr(trail, "snapshot_take"));
	free(trail);
}

/* --- disk headroom ------------------------------------------------------------------------ */

/* The Kubernetes node pod of cluster runs on (newly allocated). */
static char *pod_host(struct fixture *f, const char *cluster, const char *pod)
{
	char *url = xasprintf("/api/v1/namespaces/es-default-%s/pods/%s", cluster, pod);
	struct http_resp r;
	assert_true(sim_call(&f->sim, "GET", url, NULL, &r));
	assert_int_equal(r.status, 200);
	char *host = xstrdup(
		json_string_value(json_object_get(json_object_get(r.body, "spec"), "nodeName")));
	http_resp_free(&r);
	free(url);
	return host;
}

/* Whether one of the answer's warnings holds text. */
static bool warned(json_t *answer, const char *text)
{
	size_t i;
	json_t *w;
	json_array_foreach (json_object_get(answer, "warnings"), i, w)
		if (strstr(json_string_value(w), text))
			return true;
	return false;
}

/*
 * A data node above the low disk watermark gets none of its replicas back
 * after its restart, and a rolling upgrade would wait for green for ever:
 * the upgrade (and its preview) is refused before anything changes,
 * naming the node and its usage.  A node near the watermark is a warning;
 * with room again the upgrade goes through.
 */
static void test_upgrade_refused_while_a_data_node_is_above_the_low_watermark(void **state)
{
	struct fixture *f = *state = fixture_new(0);
	expect_ok(f, post_cluster(&f->d, CLUSTER("full", "7.16.3", 1, 2, "")));
	size_t before = pod_deletions(f);
	const char *path = "/api/v1/clusters/full/upgrade";
	char *host = pod_host(f, "full", "es-data-1");

	/* 88% used, the low watermark 85% by default. */
	assert_true(sim_other_files(&f->sim, host, "88gb"));
	expect_refused(f, path, "{\"version\": \"7.17.10\"}", 422, "version",
		       "es-data-1-es-default-full: 88.0% used, 12gb free of 100gb (the low "
		       "watermark: cluster.routing.allocation.disk.watermark.low=85%, 15gb free "
		       "at least)");
	expect_refused(f, "/api/v1/clusters/full/upgrade?dry_run=true",
		       "{\"version\": \"7.17.10\"}", 422, "version",
		       "the upgrade would stall: 1 data node is above the low disk watermark");
	/* A watermark raised by the cluster's settings is the one in force. */
	assert_int_equal(es_call(f, "PUT", "full", "/_cluster/settings",
				 "{\"persistent\": {\"cluster.routing.allocation.disk.watermark."
				 "low\": \"90%\", \"cluster.routing.allocation.disk.watermark."
				 "high\": \"93%\", \"cluster.routing.allocation.disk.watermark."
				 "flood_stage\": \"95%\"}}"),
			 200);
	json_t *plan = NULL;
	assert_int_equal(call(f, "POST", "/api/v1/clusters/full/upgrade?dry_run=true",
			      "{\"version\": \"7.17.10\"}", &plan),
			 200);
	assert_true(warned(plan, "es-data-1-es-default-full: 88.0% used"));
	assert_true(warned(plan, "within 5% of its disk of the low disk watermark"));
	json_decref(plan);
	assert_int_equal(
		sql_int(f->sql, "SELECT count(*) FROM jobs WHERE kind = 'upgrade'", 0, NULL), 0);
	assert_int_equal(pod_deletions(f), before);
	assert_int_equal(pods_on(f, "full", "7.16.3"), 3);

	/* Room again: the upgrade goes through. */
	assert_true(sim_other_files(&f->sim, host, "0"));
	expect_ok(f, api_op(&f->d, "POST", path, "{\"version\": \"7.17.10\"}", NULL));
	assert_int_equal(pods_on(f, "full", "7.17.10"), 3);
	free(host);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_upgrade_rolls_data_nodes_before_masters_then_kibana,
					  teardown),
		cmocka_unit_test_teardown(
			test_upgrade_6_to_7_changes_discovery_and_6x_index_blocks_8_until_gone,
			teardown),
		cmocka_unit_test_teardown(test_upgrade_refusals_name_the_field_and_change_nothing,
					  teardown),
		cmocka_unit_test_teardown(
			test_upgrade_cancelled_midway_keeps_upgraded_nodes_and_says_so, teardown),
		cmocka_unit_test_teardown(
			test_upgrade_cancelled_before_any_node_puts_the_templates_back, teardown),
		cmocka_unit_test_teardown(test_upgrade_survives_kill9, teardown),
		cmocka_unit_test_teardown(
			test_upgrade_failed_on_missing_plugin_file_replays_once_it_is_there,
			teardown),
		cmocka_unit_test_teardown(test_upgrade_2_to_5_is_a_full_cluster_restart, teardown),
		cmocka_unit_test_teardown(test_upgrade_takes_a_snapshot_first, teardown),
		cmocka_unit_test_teardown(
			test_upgrade_8_19_to_9_rolls_once_7x_indices_are_read_only, teardown),
		cmocka_unit_test_teardown(test_upgrade_8_17_to_9_refused_and_9x_created, teardown),
		cmocka_unit_test_teardown(
			test_upgrade_refused_while_a_data_node_is_above_the_low_watermark,
			teardown),
	};
	/* ESAAS_TEST_FILTER=test_name (a glob) runs some tests only. */
	if (getenv("ESAAS_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ESAAS_TEST_FILTER"));
	return harness_run_group(tests, group_setup, group_teardown);
}
