/*
 * Snapshots end to end: POST /api/v1/clusters/{name}/snapshots takes one
 * into the cluster's repository on the tenant's NFS folder (the pods mount
 * it, path.repo lists it), GET lists it with its state and size; a cancel
 * aborts a running snapshot and removes it; kill -9 of esaasd while it runs
 * takes it once; a failed one is replayed; bad input is a 422 naming the
 * field, another tenant's cluster a 404, and without snapshots configured
 * the request is refused.  On S3 (the simulator's object store), the same
 * through each tenant's keys in the nodes' keystore: a snapshot restored
 * into a clone, another tenant's prefix refused, versions before 7.3
 * refused, an upgrade's snapshot first.  esaasd-test runs against esaas-sim
 * (which does the fs and s3 repositories as Elasticsearch does) and a
 * private PostgreSQL.
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
#include <sys/stat.h>
#include <unistd.h>
#include "common/util.h"
#include "tests/integration/harness.h"

static struct pg pg;

#define JOB_TIMEOUT_MS 120000

/* A small index with replicas, and one whose shard takes its snapshot
 * 10 s to write at the fs repository's 40mb a second. */
static const char SIM_CONFIG[] = "tick_ms: 20\n"
				 "nodes:\n  count: 4\n  racks: [rack-a, rack-b]\n"
				 "elasticsearch:\n  relocation_ms: 200\n  recovery_ms: 50\n  "
				 "no_master_wait_ms: 500\n  node_left_delay_ms: 2000\n"
				 "  indices:\n    - {name: logs, shards: 2, replicas: 1}\n"
				 "    - {name: big, shards: 1, replicas: 0, shard_size: 400mb}\n";

static const char SNAPSHOTS_YAML[] = "snapshots:\n  nfs_server: nfs.storage.svc\n"
				     "  nfs_path: /exports/esaas\n"
				     "  schedule_interval_seconds: 1\n";

#define CLUSTER(name)                                                                        \
	"{\"name\": \"" name "\", \"version\": \"7.17.10\", \"masters\": {\"replicas\": 1}," \
	" \"data\": {\"replicas\": 2}, \"clients\": {\"replicas\": 0}}"

struct fixture {
	char dburl[600];
	struct sim sim;
	struct esaasd d;
	struct esaasd_opts o;
	PGconn *sql;
	struct repo repo; /* the plugin repository, for repository-s3 (S3 only) */
	char keys[300];	  /* snapshots.s3_credentials_dir (S3 only) */
	char *extra_yaml; /* esaasd's snapshots section (S3 only) */
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

/* Clusters with no index of their own: a restore brings them. */
static const char EMPTY_SIM_CONFIG[] = "tick_ms: 20\n"
				       "nodes:\n  count: 4\n  racks: [rack-a, rack-b]\n"
				       "elasticsearch:\n  relocation_ms: 200\n  recovery_ms: 50\n  "
				       "no_master_wait_ms: 500\n  node_left_delay_ms: 2000\n";

static struct fixture *fixture_with(bool snapshots, const char *sim_config)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	assert_non_null(pg_new_database(&pg, f->dburl, sizeof(f->dburl)));
	assert_true(sim_start(&f->sim, pg.dir, sim_config));
	f->o = (struct esaasd_opts){.kubeconfig = f->sim.kubeconfig,
				    .retry_base_ms = 50,
				    .retry_cap_ms = 300,
				    .lease_s = 3,
				    .heartbeat_s = 1,
				    .extra_yaml = snapshots ? SNAPSHOTS_YAML : NULL};
	assert_true(esaasd_start(&f->d, pg.dir, f->dburl, &f->o));
	f->sql = sql_connect(f->dburl);
	return f;
}

static struct fixture *fixture_new(bool snapshots)
{
	return fixture_with(snapshots, SIM_CONFIG);
}

/*
 * Object storage: the simulator's store at minio.storage.svc:9000 with one
 * bucket, and a key pair per tenant limited to the tenant's prefix, as a
 * storage policy would; esaasd with the bucket, path-style access, and the
 * folder of the tenants' keys, the default tenant's only; the plugin
 * repository has repository-s3 for 7.17.10 (a plugin before 8.0).
 */
static const char S3_SIM_CONFIG[] =
	"tick_ms: 20\n"
	"nodes:\n  count: 4\n  racks: [rack-a, rack-b]\n"
	"elasticsearch:\n  relocation_ms: 200\n  recovery_ms: 50\n  "
	"no_master_wait_ms: 500\n  node_left_delay_ms: 2000\n"
	"object_store:\n  endpoint: minio.storage.svc:9000\n  buckets: [es-snapshots]\n"
	"  keys:\n"
	"    - {access_key: AKDEFAULT, secret_key: default-secret, bucket: es-snapshots, "
	"prefix: esaas/default}\n"
	"    - {access_key: AKOTHER, secret_key: other-secret, bucket: es-snapshots, "
	"prefix: esaas/other}\n";

static const char *const S3_PLUGIN_FILES[] = {"repository-s3-7.17.10.zip", NULL};

static void write_key(const char *dir, const char *name, const char *value)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "%s\n", value);
	assert_int_equal(fclose(fp), 0);
	free(path);
}

static struct fixture *fixture_s3_with(const char *const *plugin_files)
{
	static int counter;
	struct fixture *f = xcalloc(1, sizeof(*f));
	assert_non_null(pg_new_database(&pg, f->dburl, sizeof(f->dburl)));
	assert_true(sim_start(&f->sim, pg.dir, S3_SIM_CONFIG));
	assert_true(repo_start(&f->repo, pg.dir, plugin_files));
	snprintf(f->keys, sizeof(f->keys), "%s/s3-keys-%d", pg.dir, ++counter);
	assert_int_equal(mkdir(f->keys, 0700), 0);
	write_key(f->keys, "default.access_key", "AKDEFAULT");
	write_key(f->keys, "default.secret_key", "default-secret");
	f->extra_yaml = xasprintf("snapshots:\n  s3_bucket: es-snapshots\n"
				  "  s3_endpoint: http://minio.storage.svc:9000\n"
				  "  s3_path_style_access: true\n"
				  "  s3_credentials_dir: %s\n"
				  "  schedule_interval_seconds: 1\n",
				  f->keys);
	f->o = (struct esaasd_opts){.kubeconfig = f->sim.kubeconfig,
				    .retry_base_ms = 50,
				    .retry_cap_ms = 300,
				    .lease_s = 3,
				    .heartbeat_s = 1,
				    .plugin_repository = f->repo.url,
				    .extra_yaml = f->extra_yaml};
	assert_true(esaasd_start(&f->d, pg.dir, f->dburl, &f->o));
	f->sql = sql_connect(f->dburl);
	return f;
}

static struct fixture *fixture_s3(void)
{
	return fixture_s3_with(S3_PLUGIN_FILES);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	if (!f)
		return 0;
	int rc = f->d.pid > 0 ? esaasd_stop(&f->d, SIGTERM, true) : 0;
	int src = sim_stop(&f->sim);
	repo_stop(&f->repo);
	free(f->extra_yaml);
	if (rc != 0)
		fprintf(stderr, "esaasd exited with %d on SIGTERM; see %s\n", rc, f->d.log);
	if (src != 0)
		fprintf(stderr, "esaas-sim exited with %d on SIGTERM; see %s\n", src, f->sim.log);
	PQfinish(f->sql);
	free(f);
	return rc == 0 && src == 0 ? 0 : -1;
}

static void make_cluster(struct fixture *f, const char *spec)
{
	int64_t id = post_cluster(&f->d, spec);
	assert_true(id > 0);
	assert_true(job_succeeded(&f->d, id, JOB_TIMEOUT_MS));
}

/* A request's status, its answer in *out (decref it) when out. */
static long call(struct fixture *f, const char *method, const char *path, const char *body,
		 const char *const *headers, json_t **out)
{
	struct http_resp r;
	assert_true(http_call(&f->d, method, path, body, headers, &r));
	long st = r.status;
	if (out)
		*out = json_incref(r.body);
	http_resp_free(&r);
	return st;
}

static const char *error_field(json_t *body)
{
	return json_string_value(json_object_get(json_object_get(body, "error"), "field"));
}

/* POST .../snapshots: the job's id, with the answer's Location checked. */
static int64_t take(struct fixture *f, const char *cluster, const char *body)
{
	struct http_resp r;
	char *path = xasprintf("/api/v1/clusters/%s/snapshots", cluster);
	assert_true(http_call(&f->d, "POST", path, body, NULL, &r));
	free(path);
	if (r.status != 202)
		fail_msg("POST snapshots: %ld %s", r.status, r.raw ? r.raw : "");
	int64_t id = json_integer_value(json_object_get(r.body, "id"));
	char want[64];
	snprintf(want, sizeof(want), "/api/v1/jobs/%lld", (long long)id);
	assert_string_equal(r.location, want);
	http_resp_free(&r);
	assert_true(id > 0);
	return id;
}

static json_t *list(struct fixture *f, const char *cluster)
{
	json_t *body = NULL;
	char *path = xasprintf("/api/v1/clusters/%s/snapshots", cluster);
	assert_int_equal(call(f, "GET", path, NULL, NULL, &body), 200);
	free(path);
	json_t *l = json_incref(json_object_get(body, "snapshots"));
	json_decref(body);
	return l;
}

static json_t *find(json_t *l, const char *name)
{
	size_t i;
	json_t *s;
	json_array_foreach (l, i, s) {
		if (!strcmp(json_string_value(json_object_get(s, "name")), name))
			return s;
	}
	return NULL;
}

/* A request to the cluster's Elasticsearch through the sim's proxy: its status. */
static long es(struct fixture *f, const char *cluster, const char *method, const char *rest,
	       const char *body, json_t **out)
{
	char *path = xasprintf("/api/v1/namespaces/es-default-%s/services/es-http:9200/proxy%s",
			       cluster, rest);
	struct http_resp r;
	if (!sim_call(&f->sim, method, path, body, &r)) {
		sim_tell_why_silent(&f->sim);
		fail_msg("%s %s: no answer (%s)", method, rest, http_last_error());
	}
	free(path);
	long st = r.status;
	if (out)
		*out = json_incref(r.body);
	http_resp_free(&r);
	return st;
}

/* A request to the cluster's Elasticsearch that must be answered status,
 * with says in the answer. */
static void es_refuses(struct fixture *f, const char *cluster, const char *method, const char *rest,
		       const char *body, long status, const char *says)
{
	json_t *answer = NULL;
	assert_int_equal(es(f, cluster, method, rest, body, &answer), status);
	char *text = answer ? json_dumps(answer, 0) : NULL;
	if (!text || !strstr(text, says))
		fail_msg("%s %s: the answer %s does not say \"%s\"", method, rest,
			 text ? text : "(not JSON)", says);
	free(text);
	json_decref(answer);
}

/* The restore job id's verification says what it checked: n indices,
 * each with the snapshot's documents. */
static void expect_indices_verified(struct fixture *f, int64_t id, int n)
{
	char ids[24], like[128];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	snprintf(like, sizeof(like),
		 "%%%d indices restored, each with the documents the snapshot recorded%%", n);
	const char *q[] = {ids, like};
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM job_events WHERE job_id = $1 AND "
				 "from_state = 'restore_verify' AND detail LIKE $2",
				 2, q),
			 1);
}

static long long es_count(struct fixture *f, const char *cluster, const char *index)
{
	json_t *b = NULL;
	char *rest = xasprintf("/%s/_count", index);
	assert_int_equal(es(f, cluster, "GET", rest, NULL, &b), 200);
	free(rest);
	long long n = json_integer_value(json_object_get(b, "count"));
	json_decref(b);
	return n;
}

/* Index n documents into index of the cluster, through the sim's proxy. */
static void index_docs(struct fixture *f, const char *cluster, const char *index, int n)
{
	char *path =
		xasprintf("/api/v1/namespaces/es-default-%s/services/es-http:9200/proxy/%s/_doc",
			  cluster, index);
	for (int i = 0; i < n; i++) {
		struct http_resp r;
		assert_true(sim_call(&f->sim, "POST", path, "{\"n\": 1}", &r));
		assert_int_equal(r.status, 201);
		http_resp_free(&r);
	}
	free(path);
}

/* Poll the job's row until its state is states ('|'-separated) and it runs. */
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

/* Snapshot requests that reached the cluster's Elasticsearch (PUT of a
 * snapshot, not of the repository). */
static int snapshot_puts(struct fixture *f, const char *name)
{
	json_t *st = sim_record(&f->sim);
	assert_non_null(st);
	char *want = xasprintf("/_snapshot/esaas/%s", name);
	size_t i;
	json_t *r;
	int n = 0;
	json_array_foreach (json_object_get(st, "es_requests"), i, r) {
		const char *m = json_string_value(json_object_get(r, "method"));
		const char *p = json_string_value(json_object_get(r, "path"));
		if (m && p && !strcmp(m, "PUT") && !strcmp(p, want))
			n += (int)json_integer_value(json_object_get(r, "count"));
	}
	free(want);
	json_decref(st);
	return n;
}

/* --- tests --------------------------------------------------------------------------- */

/* A snapshot of every index, listed with its state, indices and size;
 * the pods mount the tenant's NFS folder and list it in path.repo. */
static void test_snapshot_is_taken_and_listed_with_its_size(void **state)
{
	struct fixture *f = *state = fixture_new(true);
	make_cluster(f, CLUSTER("snap"));
	index_docs(f, "snap", "logs", 3);

	json_t *l = list(f, "snap");
	assert_int_equal(json_array_size(l), 0);
	json_decref(l);

	int64_t id = take(f, "snap", "{\"name\": \"first\"}");
	assert_true(job_succeeded(&f->d, id, JOB_TIMEOUT_MS));
	l = list(f, "snap");
	json_t *s = find(l, "first");
	assert_non_null(s);
	assert_string_equal(json_string_value(json_object_get(s, "state")), "SUCCESS");
	assert_true(json_integer_value(json_object_get(s, "size_bytes")) > 0);
	assert_int_equal(json_array_size(json_object_get(s, "indices")), 2);
	assert_non_null(json_string_value(json_object_get(s, "start_time")));
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(s, "shards"), "failed")), 0);
	json_decref(l);

	/* Without a name: snapshot-<job id>. */
	id = take(f, "snap", NULL);
	assert_true(job_succeeded(&f->d, id, JOB_TIMEOUT_MS));
	char name[64];
	snprintf(name, sizeof(name), "snapshot-%lld", (long long)id);
	l = list(f, "snap");
	assert_int_equal(json_array_size(l), 2);
	assert_non_null(find(l, name));
	json_decref(l);

	/* The same name again: 409, no job. */
	json_t *body = NULL;
	assert_int_equal(call(f, "POST", "/api/v1/clusters/snap/snapshots", "{\"name\": \"first\"}",
			      NULL, &body),
			 409);
	assert_string_equal(error_field(body), "name");
	json_decref(body);

	/* The data pods mount the tenant's folder of the export. */
	struct http_resp r;
	assert_true(sim_call(&f->sim, "GET", "/api/v1/namespaces/es-default-snap/pods/es-data-0",
			     NULL, &r));
	assert_int_equal(r.status, 200);
	json_t *vols = json_object_get(json_object_get(r.body, "spec"), "volumes");
	bool nfs = false;
	size_t i;
	json_t *v;
	json_array_foreach (vols, i, v) {
		json_t *n = json_object_get(v, "nfs");
		if (n && !strcmp(json_string_value(json_object_get(n, "path")), "/exports/esaas"))
			nfs = true;
	}
	assert_true(nfs);
	http_resp_free(&r);
}

/* Bad input: 422 naming the field, and no job. */
static void test_snapshot_bad_input_is_422_naming_the_field(void **state)
{
	struct fixture *f = *state = fixture_new(true);
	make_cluster(f, CLUSTER("bad"));
	static const struct {
		const char *body, *field;
	} bad[] = {
		{"{\"name\": \"Upper\"}", "name"}, {"{\"name\": \"_all\"}", "name"},
		{"{\"name\": \"a,b\"}", "name"},   {"{\"name\": \"\"}", "name"},
		{"{\"name\": 7}", "name"},	   {"{\"nmae\": \"x\"}", "nmae"},
	};
	long long before = sql_int(f->sql, "SELECT count(*) FROM jobs", 0, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		json_t *body = NULL;
		long st =
			call(f, "POST", "/api/v1/clusters/bad/snapshots", bad[i].body, NULL, &body);
		if (st != 422)
			fail_msg("%s: %ld", bad[i].body, st);
		assert_string_equal(error_field(body), bad[i].field);
		json_decref(body);
	}
	assert_int_equal(sql_int(f->sql, "SELECT count(*) FROM jobs", 0, NULL), before);
	json_t *l = list(f, "bad");
	assert_int_equal(json_array_size(l), 0);
	json_decref(l);
}

/* Another tenant's cluster is not found, to take or to list. */
static void test_snapshot_of_another_tenants_cluster_is_404(void **state)
{
	struct fixture *f = *state = fixture_new(true);
	make_cluster(f, CLUSTER("mine"));
	json_t *t = NULL;
	assert_int_equal(call(f, "PUT", "/api/v1/tenants/other", NULL, NULL, NULL), 201);
	assert_int_equal(call(f, "POST", "/api/v1/tokens",
			      "{\"tenant\": \"other\", \"role\": \"member\"}", NULL, &t),
			 201);
	char *auth = xasprintf("Authorization: Bearer %s",
			       json_string_value(json_object_get(t, "token")));
	json_decref(t);
	const char *as_other[] = {auth, NULL};
	long long before = sql_int(f->sql, "SELECT count(*) FROM jobs", 0, NULL);
	assert_int_equal(call(f, "POST", "/api/v1/clusters/mine/snapshots", "{}", as_other, NULL),
			 404);
	assert_int_equal(call(f, "GET", "/api/v1/clusters/mine/snapshots", NULL, as_other, NULL),
			 404);
	assert_int_equal(call(f, "POST", "/api/v1/clusters/mine/snapshots?dry_run=true", "{}",
			      as_other, NULL),
			 404);
	assert_int_equal(sql_int(f->sql, "SELECT count(*) FROM jobs", 0, NULL), before);
	free(auth);
}

/* Without snapshots.nfs_* or snapshots.s3_bucket there is no repository to take one into. */
static void test_snapshot_refused_when_not_configured(void **state)
{
	struct fixture *f = *state = fixture_new(false);
	make_cluster(f, CLUSTER("plain"));
	json_t *body = NULL;
	assert_int_equal(call(f, "POST", "/api/v1/clusters/plain/snapshots", "{}", NULL, &body),
			 409);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(body, "error"), "code")),
		"not_configured");
	json_decref(body);
}

/* The preview names the states and queues nothing. */
static void test_snapshot_preview_queues_nothing(void **state)
{
	struct fixture *f = *state = fixture_new(true);
	make_cluster(f, CLUSTER("pv"));
	long long before = sql_int(f->sql, "SELECT count(*) FROM jobs", 0, NULL);
	json_t *plan = NULL;
	assert_int_equal(call(f, "POST", "/api/v1/clusters/pv/snapshots?dry_run=true",
			      "{\"name\": \"x\"}", NULL, &plan),
			 200);
	json_t *states = json_object_get(plan, "states");
	assert_int_equal(json_array_size(states), 4);
	assert_string_equal(json_string_value(json_array_get(states, 1)), "snapshot_take");
	assert_string_equal(json_string_value(json_array_get(states, 3)), "snapshot_prune");
	json_decref(plan);
	assert_int_equal(sql_int(f->sql, "SELECT count(*) FROM jobs", 0, NULL), before);
}

/* A cancel while the snapshot runs aborts it and removes it. */
static void test_snapshot_cancel_aborts_the_running_snapshot(void **state)
{
	struct fixture *f = *state = fixture_new(true);
	make_cluster(f, CLUSTER("cx"));
	int64_t id = take(f, "cx", "{\"name\": \"slow\"}");
	assert_true(wait_state(f, id, "snapshot_wait", JOB_TIMEOUT_MS));
	/* Running in the cluster, as the list says. */
	json_t *l = list(f, "cx");
	json_t *s = find(l, "slow");
	assert_non_null(s);
	assert_string_equal(json_string_value(json_object_get(s, "state")), "IN_PROGRESS");
	json_decref(l);
	char *path = xasprintf("/api/v1/jobs/%lld/cancel", (long long)id);
	long st = call(f, "POST", path, "{\"reason\": \"wrong moment\"}", NULL, NULL);
	free(path);
	assert_true(st == 202 || st == 200);
	json_t *job = wait_job_status(&f->d, id, "cancelled", JOB_TIMEOUT_MS);
	assert_non_null(job);
	json_decref(job);
	l = list(f, "cx");
	assert_null(find(l, "slow"));
	json_decref(l);
}

/* esaasd killed while the snapshot runs: another run takes the job over
 * and the snapshot is taken once, SUCCESS. */
static void test_snapshot_survives_kill9_while_it_runs(void **state)
{
	struct fixture *f = *state = fixture_new(true);
	make_cluster(f, CLUSTER("k9"));
	int64_t id = take(f, "k9", "{\"name\": \"k\"}");
	assert_true(wait_state(f, id, "snapshot_wait", JOB_TIMEOUT_MS));
	esaasd_stop(&f->d, SIGKILL, true);
	assert_true(esaasd_start(&f->d, pg.dir, f->dburl, &f->o));
	assert_true(job_succeeded(&f->d, id, JOB_TIMEOUT_MS));
	assert_int_equal(snapshot_puts(f, "k"), 1);
	json_t *l = list(f, "k9");
	assert_int_equal(json_array_size(l), 1);
	assert_string_equal(json_string_value(json_object_get(find(l, "k"), "state")), "SUCCESS");
	json_decref(l);
}

/* A snapshot that failed to start is replayed from snapshot_take. */
static void test_failed_snapshot_is_replayed(void **state)
{
	struct fixture *f = *state = fixture_new(true);
	make_cluster(f, CLUSTER("rp"));
	struct http_resp r;
	assert_true(sim_call(&f->sim, "POST", "/_sim/faults",
			     "{\"path\": \"/api/v1/namespaces/es-default-rp/services/es-http:9200/"
			     "proxy/_snapshot/esaas/again\", \"method\": \"PUT\", \"status\": 500}",
			     &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	int64_t id = take(f, "rp", "{\"name\": \"again\"}");
	json_t *job = wait_job_status(&f->d, id, "failed", JOB_TIMEOUT_MS);
	assert_non_null(job);
	json_decref(job);
	/* It failed in snapshot_take, which the replay starts from by default. */
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	const char *q[] = {ids};
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM jobs WHERE id = $1 AND failed_state = "
				 "'snapshot_take'",
				 1, q),
			 1);
	assert_true(sim_call(&f->sim, "DELETE", "/_sim/faults", NULL, &r));
	http_resp_free(&r);
	char *path = xasprintf("/api/v1/jobs/%lld/replay", (long long)id);
	long st = call(f, "POST", path,
		       "{\"from_state\": \"snapshot_take\", \"reason\": \"storage back\"}", NULL,
		       NULL);
	free(path);
	assert_true(st == 202 || st == 200);
	assert_true(job_succeeded(&f->d, id, JOB_TIMEOUT_MS));
	json_t *l = list(f, "rp");
	assert_string_equal(json_string_value(json_object_get(find(l, "again"), "state")),
			    "SUCCESS");
	json_decref(l);
}

/* A new cluster from another's snapshot: created, its indices restored,
 * green, each with the documents the snapshot recorded. */
static void test_restore_into_a_new_cluster_keeps_document_counts(void **state)
{
	struct fixture *f = *state = fixture_with(true, EMPTY_SIM_CONFIG);
	make_cluster(f, CLUSTER("src"));
	assert_int_equal(es(f, "src", "PUT", "/orders",
			    "{\"settings\": {\"number_of_shards\": 2, \"number_of_replicas\": 1}}",
			    NULL),
			 200);
	assert_int_equal(es(f, "src", "PUT", "/users", "{}", NULL), 200);
	index_docs(f, "src", "orders", 5);
	index_docs(f, "src", "users", 3);
	int64_t id = take(f, "src", "{\"name\": \"s1\"}");
	assert_true(job_succeeded(&f->d, id, JOB_TIMEOUT_MS));
	/* Written after the snapshot: not in the clone. */
	index_docs(f, "src", "orders", 2);

	id = post_cluster(&f->d, "{\"name\": \"clone\", \"version\": \"7.17.10\", "
				 "\"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 2}, "
				 "\"clients\": {\"replicas\": 0}, "
				 "\"restore\": {\"cluster\": \"src\", \"snapshot\": \"s1\"}}");
	assert_true(id > 0);
	assert_true(job_succeeded(&f->d, id, JOB_TIMEOUT_MS));
	assert_int_equal(es_count(f, "clone", "orders"), 5);
	assert_int_equal(es_count(f, "clone", "users"), 3);
	assert_int_equal(es_count(f, "src", "orders"), 7);
	json_t *health = NULL;
	assert_int_equal(es(f, "clone", "GET", "/_cluster/health", NULL, &health), 200);
	assert_string_equal(json_string_value(json_object_get(health, "status")), "green");
	json_decref(health);
	expect_indices_verified(f, id, 2);
}

/* A restore's source must be the tenant's cluster with that snapshot. */
static void test_restore_refusals_name_the_field(void **state)
{
	struct fixture *f = *state = fixture_with(true, EMPTY_SIM_CONFIG);
	make_cluster(f, CLUSTER("orig"));
	int64_t id = take(f, "orig", "{\"name\": \"s\"}");
	assert_true(job_succeeded(&f->d, id, JOB_TIMEOUT_MS));
	static const struct {
		const char *restore, *field;
		long status;
	} bad[] = {
		{"{\"cluster\": \"orig\"}", "restore.snapshot", 422},
		{"{\"snapshot\": \"s\"}", "restore.cluster", 422},
		{"{\"cluster\": \"orig\", \"snapshot\": \"s\", \"x\": 1}", "restore.x", 422},
		{"\"orig\"", "restore", 422},
		{"{\"cluster\": \"nowhere\", \"snapshot\": \"s\"}", "restore.cluster", 404},
		{"{\"cluster\": \"orig\", \"snapshot\": \"none\"}", "restore.snapshot", 404},
	};
	long long before = sql_int(f->sql, "SELECT count(*) FROM jobs", 0, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *spec = xasprintf("{\"name\": \"copy\", \"version\": \"7.17.10\", "
				       "\"restore\": %s}",
				       bad[i].restore);
		json_t *body = NULL;
		long st = call(f, "POST", "/api/v1/clusters", spec, NULL, &body);
		if (st != bad[i].status)
			fail_msg("%s: %ld, not %ld", bad[i].restore, st, bad[i].status);
		assert_string_equal(error_field(body), bad[i].field);
		json_decref(body);
		free(spec);
	}
	/* Another tenant's member cannot restore from it: as missing. */
	json_t *t = NULL;
	assert_int_equal(call(f, "PUT", "/api/v1/tenants/other", NULL, NULL, NULL), 201);
	assert_int_equal(call(f, "POST", "/api/v1/tokens",
			      "{\"tenant\": \"other\", \"role\": \"member\"}", NULL, &t),
			 201);
	char *auth = xasprintf("Authorization: Bearer %s",
			       json_string_value(json_object_get(t, "token")));
	json_decref(t);
	const char *as_other[] = {auth, NULL};
	json_t *body = NULL;
	assert_int_equal(call(f, "POST", "/api/v1/clusters",
			      "{\"name\": \"copy\", \"version\": \"7.17.10\", \"restore\": "
			      "{\"cluster\": \"orig\", \"snapshot\": \"s\"}}",
			      as_other, &body),
			 404);
	assert_string_equal(error_field(body), "restore.cluster");
	json_decref(body);
	free(auth);
	assert_int_equal(sql_int(f->sql, "SELECT count(*) FROM jobs", 0, NULL), before);
}

/* Into the cluster itself: the chosen indices under new names, checked
 * against the snapshot's counts; without a rename Elasticsearch refuses
 * the open index of the same name, and the job fails saying so. */
static void test_restore_into_the_same_cluster_renames_chosen_indices(void **state)
{
	struct fixture *f = *state = fixture_with(true, EMPTY_SIM_CONFIG);
	make_cluster(f, CLUSTER("same"));
	assert_int_equal(es(f, "same", "PUT", "/orders",
			    "{\"settings\": {\"number_of_shards\": 2, \"number_of_replicas\": 1}}",
			    NULL),
			 200);
	assert_int_equal(es(f, "same", "PUT", "/users", "{}", NULL), 200);
	index_docs(f, "same", "orders", 4);
	index_docs(f, "same", "users", 2);
	assert_true(job_succeeded(&f->d, take(f, "same", "{\"name\": \"s\"}"), JOB_TIMEOUT_MS));
	index_docs(f, "same", "orders", 3);

	/* Refusals: 422 naming the field, 404 for a snapshot not there. */
	static const struct {
		const char *body, *field;
		long status;
	} bad[] = {
		{"{}", "snapshot", 422},
		{"{\"snapshot\": \"s\", \"rename_pattern\": \"(.+)\"}", "rename_replacement", 422},
		{"{\"snapshot\": \"s\", \"indices\": [1]}", "indices", 422},
		{"{\"snapshot\": \"s\", \"indexes\": \"x\"}", "indexes", 422},
		{"{\"snapshot\": \"none\"}", "snapshot", 404},
	};
	long long before = sql_int(f->sql, "SELECT count(*) FROM jobs", 0, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		json_t *body = NULL;
		long st =
			call(f, "POST", "/api/v1/clusters/same/restore", bad[i].body, NULL, &body);
		if (st != bad[i].status)
			fail_msg("%s: %ld, not %ld", bad[i].body, st, bad[i].status);
		assert_string_equal(error_field(body), bad[i].field);
		json_decref(body);
	}
	const char *rename =
		"{\"snapshot\": \"s\", \"indices\": [\"orders\"], "
		"\"rename_pattern\": \"(.+)\", \"rename_replacement\": \"restored-$1\"}";
	json_t *plan = NULL;
	assert_int_equal(
		call(f, "POST", "/api/v1/clusters/same/restore?dry_run=true", rename, NULL, &plan),
		200);
	json_decref(plan);
	assert_int_equal(sql_int(f->sql, "SELECT count(*) FROM jobs", 0, NULL), before);

	int64_t id = api_op(&f->d, "POST", "/api/v1/clusters/same/restore", rename, NULL);
	assert_true(id > 0);
	assert_true(job_succeeded(&f->d, id, JOB_TIMEOUT_MS));
	assert_int_equal(es_count(f, "same", "restored-orders"), 4);
	assert_int_equal(es_count(f, "same", "orders"), 7);
	assert_int_equal(es(f, "same", "GET", "/restored-users/_count", NULL, NULL), 404);
	expect_indices_verified(f, id, 1);

	/* Over the open index of the same name: Elasticsearch's refusal. */
	id = api_op(&f->d, "POST", "/api/v1/clusters/same/restore",
		    "{\"snapshot\": \"s\", \"indices\": \"users\"}", NULL);
	assert_true(id > 0);
	json_t *job = wait_job_status(&f->d, id, "failed", JOB_TIMEOUT_MS);
	assert_non_null(job);
	const char *error = json_string_value(json_object_get(job, "error"));
	assert_non_null(error);
	assert_non_null(strstr(error, "cannot restore index [users] because an open index with "
				      "same name already exists"));
	json_decref(job);
	assert_int_equal(es_count(f, "same", "users"), 2);
}

/* The spec's schedule: a snapshot queued as soon as the cluster is ready
 * (none taken yet) and not again within its period; snapshots.keep: the
 * next snapshot's job deletes the oldest beyond it. */
static void test_schedule_queues_snapshots_and_keep_deletes_the_oldest(void **state)
{
	struct fixture *f = *state = fixture_new(true);
	make_cluster(f, "{\"name\": \"sched\", \"version\": \"7.17.10\", \"masters\": "
			"{\"replicas\": 1}, \"data\": {\"replicas\": 2}, \"clients\": "
			"{\"replicas\": 0}, \"snapshots\": {\"every\": \"1h\", \"keep\": 1}}");
	int64_t sched = 0;
	int64_t deadline = harness_now_ms() + JOB_TIMEOUT_MS;
	while (!sched && harness_now_ms() < deadline) {
		sched = sql_int(f->sql,
				"SELECT coalesce(max(id), 0) FROM jobs WHERE kind = 'snapshot' AND "
				"submitted_by = 'schedule' AND cluster = 'sched'",
				0, NULL);
		if (!sched)
			msleep(50);
	}
	assert_true(sched > 0);
	assert_true(job_succeeded(&f->d, sched, JOB_TIMEOUT_MS));
	char name[64];
	snprintf(name, sizeof(name), "snapshot-%lld", (long long)sched);
	json_t *l = list(f, "sched");
	assert_non_null(find(l, name));
	json_decref(l);

	int64_t id = take(f, "sched", "{\"name\": \"manual\"}");
	assert_true(job_succeeded(&f->d, id, JOB_TIMEOUT_MS));
	l = list(f, "sched");
	assert_int_equal(json_array_size(l), 1);
	assert_non_null(find(l, "manual"));
	assert_null(find(l, name));
	json_decref(l);
	/* The schedule ran every second meanwhile: the one snapshot of the hour. */
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM jobs WHERE kind = 'snapshot' AND "
				 "submitted_by = 'schedule'",
				 0, NULL),
			 1);
}

/* A schedule the spec cannot have: 422 naming the field, no cluster. */
static void test_schedule_bad_input_is_422_naming_the_field(void **state)
{
	struct fixture *f = *state = fixture_new(true);
	static const struct {
		const char *snapshots, *field;
	} bad[] = {
		{"{\"every\": \"6x\"}", "snapshots.every"},
		{"{\"every\": \"0h\"}", "snapshots.every"},
		{"{\"every\": \"366d\"}", "snapshots.every"},
		{"{\"every\": 6}", "snapshots.every"},
		{"{\"keep\": 0}", "snapshots.keep"},
		{"{\"keep\": \"28\"}", "snapshots.keep"},
		{"{\"every\": \"6h\", \"x\": 1}", "snapshots.x"},
		{"{}", "snapshots"},
		{"[]", "snapshots"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *spec = xasprintf("{\"name\": \"s%zu\", \"version\": \"7.17.10\", "
				       "\"snapshots\": %s}",
				       i, bad[i].snapshots);
		json_t *body = NULL;
		long st = call(f, "POST", "/api/v1/clusters", spec, NULL, &body);
		if (st != 422)
			fail_msg("%s: %ld", bad[i].snapshots, st);
		assert_string_equal(error_field(body), bad[i].field);
		json_decref(body);
		free(spec);
	}
	assert_int_equal(sql_int(f->sql, "SELECT count(*) FROM clusters", 0, NULL), 0);
}

/* --- object storage ------------------------------------------------------------------ */

/* A snapshot into the tenant's prefix of the bucket, restored into a new
 * cluster with the documents the snapshot recorded; the repository is an
 * s3 one through the keystore's client, the prefix the tenant's. */
static void test_s3_snapshot_restores_into_a_clone_with_its_documents(void **state)
{
	struct fixture *f = *state = fixture_s3();
	make_cluster(f, CLUSTER("src"));
	assert_int_equal(es(f, "src", "PUT", "/orders",
			    "{\"settings\": {\"number_of_shards\": 2, \"number_of_replicas\": 1}}",
			    NULL),
			 200);
	index_docs(f, "src", "orders", 5);
	assert_true(job_succeeded(&f->d, take(f, "src", "{\"name\": \"s1\"}"), JOB_TIMEOUT_MS));
	json_t *repo = NULL;
	assert_int_equal(es(f, "src", "GET", "/_snapshot/esaas", NULL, &repo), 200);
	json_t *r = json_object_get(repo, "esaas");
	assert_string_equal(json_string_value(json_object_get(r, "type")), "s3");
	json_t *st = json_object_get(r, "settings");
	assert_string_equal(json_string_value(json_object_get(st, "bucket")), "es-snapshots");
	assert_string_equal(json_string_value(json_object_get(st, "base_path")),
			    "esaas/default/es-default-src");
	assert_string_equal(json_string_value(json_object_get(st, "client")), "esaas");
	json_decref(repo);
	json_t *l = list(f, "src");
	assert_string_equal(json_string_value(json_object_get(find(l, "s1"), "state")), "SUCCESS");
	json_decref(l);
	index_docs(f, "src", "orders", 2);

	int64_t id =
		post_cluster(&f->d, "{\"name\": \"clone\", \"version\": \"7.17.10\", "
				    "\"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 2}, "
				    "\"clients\": {\"replicas\": 0}, "
				    "\"restore\": {\"cluster\": \"src\", \"snapshot\": \"s1\"}}");
	assert_true(id > 0);
	assert_true(job_succeeded(&f->d, id, JOB_TIMEOUT_MS));
	assert_int_equal(es_count(f, "clone", "orders"), 5);
	assert_int_equal(es_count(f, "src", "orders"), 7);
	expect_indices_verified(f, id, 1);

	/* The tenant's keys gone: the next snapshot is refused, naming them. */
	char *gone = xasprintf("%s/default.secret_key", f->keys);
	assert_int_equal(unlink(gone), 0);
	free(gone);
	json_t *body = NULL;
	assert_int_equal(call(f, "POST", "/api/v1/clusters/src/snapshots", "{}", NULL, &body), 409);
	const char *msg =
		json_string_value(json_object_get(json_object_get(body, "error"), "message"));
	assert_non_null(strstr(msg, "default.secret_key"));
	json_decref(body);
}

/* The tenant is its cluster's superuser: a repository of its own at
 * another tenant's prefix, with its cluster's client, is refused by the
 * store (AccessDenied), on registration and when read. */
static void test_s3_tenant_cannot_reach_another_tenants_prefix(void **state)
{
	struct fixture *f = *state = fixture_s3();
	/* repository-s3 listed too: installed once, and not to be removed. */
	make_cluster(f, "{\"name\": \"mine\", \"version\": \"7.17.10\", \"masters\": "
			"{\"replicas\": 1}, \"data\": {\"replicas\": 2}, \"clients\": "
			"{\"replicas\": 0}, \"plugins\": [\"repository-s3\"]}");
	json_t *refused = NULL;
	assert_int_equal(call(f, "DELETE", "/api/v1/clusters/mine/plugins/repository-s3", NULL,
			      NULL, &refused),
			 409);
	assert_string_equal(error_field(refused), "plugin");
	json_decref(refused);
	assert_true(job_succeeded(&f->d, take(f, "mine", "{\"name\": \"s1\"}"), JOB_TIMEOUT_MS));
	json_t *body = NULL;
	assert_int_equal(es(f, "mine", "PUT", "/_snapshot/theirs",
			    "{\"type\": \"s3\", \"settings\": {\"bucket\": \"es-snapshots\", "
			    "\"base_path\": \"esaas/other/es-other-logs\", \"client\": \"esaas\"}}",
			    &body),
			 500);
	json_t *error = json_object_get(body, "error");
	assert_string_equal(json_string_value(json_object_get(error, "type")),
			    "repository_verification_exception");
	char *text = json_dumps(error, 0);
	assert_non_null(strstr(text, "Error Code: AccessDenied"));
	free(text);
	json_decref(body);
	/* Read-only, unverified: registered, and every read refused. */
	assert_int_equal(es(f, "mine", "PUT", "/_snapshot/theirs-ro",
			    "{\"type\": \"s3\", \"settings\": {\"bucket\": \"es-snapshots\", "
			    "\"base_path\": \"esaas/other/es-other-logs\", \"client\": "
			    "\"esaas\", \"readonly\": true}}",
			    NULL),
			 200);
	es_refuses(f, "mine", "GET", "/_snapshot/theirs-ro/_all", NULL, 500,
		   "Error Code: AccessDenied");
	/* A bucket the store does not have, a client the nodes do not. */
	es_refuses(f, "mine", "PUT", "/_snapshot/nobucket",
		   "{\"type\": \"s3\", \"settings\": {\"bucket\": \"elsewhere\", "
		   "\"base_path\": \"esaas/default/x\", \"client\": \"esaas\"}}",
		   500, "Error Code: NoSuchBucket");
	es_refuses(f, "mine", "PUT", "/_snapshot/noclient",
		   "{\"type\": \"s3\", \"settings\": {\"bucket\": \"es-snapshots\", "
		   "\"base_path\": \"esaas/default/x\", \"client\": \"other\"}}",
		   500, "Unknown s3 client name [other]");
	/* Its own prefix, another folder of it: the tenant's to use. */
	assert_int_equal(es(f, "mine", "PUT", "/_snapshot/own",
			    "{\"type\": \"s3\", \"settings\": {\"bucket\": \"es-snapshots\", "
			    "\"base_path\": \"esaas/default/scratch\", \"client\": \"esaas\"}}",
			    NULL),
			 200);
}

/* An upgrade takes its snapshot into the bucket first; the upgraded 8.x
 * nodes (s3 a module there, their keystore made by the 8.x tool) take the
 * next ones into the same prefix. */
static void test_s3_upgrade_snapshots_first_and_8x_goes_on(void **state)
{
	struct fixture *f = *state = fixture_s3();
	make_cluster(f, CLUSTER("up"));
	index_docs(f, "up", "orders", 3);
	int64_t id = api_op(&f->d, "POST", "/api/v1/clusters/up/upgrade",
			    "{\"version\": \"8.17.0\"}", NULL);
	assert_true(id > 0);
	assert_true(job_succeeded(&f->d, id, JOB_TIMEOUT_MS));
	char *trail = job_trail(f->sql, id);
	assert_non_null(strstr(trail, "snapshot_repository snapshot_take snapshot_wait"));
	free(trail);
	assert_true(job_succeeded(&f->d, take(f, "up", "{\"name\": \"after\"}"), JOB_TIMEOUT_MS));
	json_t *l = list(f, "up");
	char *before = xasprintf("upgrade-%lld", (long long)id);
	assert_string_equal(json_string_value(json_object_get(find(l, before), "state")),
			    "SUCCESS");
	assert_string_equal(json_string_value(json_object_get(find(l, "after"), "state")),
			    "SUCCESS");
	assert_string_equal(json_string_value(json_object_get(find(l, "after"), "version")),
			    "8.17.0");
	free(before);
	json_decref(l);
}

/* Before 8.0 the target version's repository-s3 must be in the plugin
 * repository: its absence fails the upgrade before anything changes,
 * naming the file, and a replay goes on once it is there. */
static void test_s3_upgrade_checks_the_target_repository_s3_first(void **state)
{
	static const char *const files[] = {"repository-s3-7.16.3.zip", NULL};
	struct fixture *f = *state = fixture_s3_with(files);
	make_cluster(f, "{\"name\": \"up\", \"version\": \"7.16.3\", \"masters\": "
			"{\"replicas\": 1}, \"data\": {\"replicas\": 2}, \"clients\": "
			"{\"replicas\": 0}}");
	int64_t id = api_op(&f->d, "POST", "/api/v1/clusters/up/upgrade",
			    "{\"version\": \"7.17.10\"}", NULL);
	assert_true(id > 0);
	json_t *job = wait_job_status(&f->d, id, "failed", JOB_TIMEOUT_MS);
	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "failed_state")),
			    "upgrade_check_plugins");
	assert_non_null(strstr(json_string_value(json_object_get(job, "error")),
			       "repository-s3-7.17.10.zip"));
	json_decref(job);
	assert_true(repo_add(&f->repo, "repository-s3-7.17.10.zip"));
	char *replay = xasprintf("/api/v1/jobs/%lld/replay", (long long)id);
	assert_int_equal(
		call(f, "POST", replay, "{\"reason\": \"plugin file published\"}", NULL, NULL),
		202);
	free(replay);
	assert_true(job_succeeded(&f->d, id, JOB_TIMEOUT_MS));
	assert_true(job_succeeded(&f->d, take(f, "up", "{\"name\": \"after\"}"), JOB_TIMEOUT_MS));
}

/* Before 7.3 an s3 repository cannot take its client from the keystore
 * and settings esaas renders: the request is refused, naming the version. */
static void test_s3_refused_for_versions_before_7_3(void **state)
{
	struct fixture *f = *state = fixture_s3();
	make_cluster(f, "{\"name\": \"old\", \"version\": \"6.8.23\", \"masters\": "
			"{\"replicas\": 1}, \"data\": {\"replicas\": 1}, \"clients\": "
			"{\"replicas\": 0}}");
	json_t *body = NULL;
	assert_int_equal(call(f, "POST", "/api/v1/clusters/old/snapshots", "{}", NULL, &body), 409);
	json_t *error = json_object_get(body, "error");
	assert_string_equal(json_string_value(json_object_get(error, "code")), "not_configured");
	const char *msg = json_string_value(json_object_get(error, "message"));
	assert_non_null(strstr(msg, "7.3 or later"));
	assert_non_null(strstr(msg, "6.8.23"));
	json_decref(body);
	/* Nothing of the keystore was rendered for it. */
	es_refuses(f, "old", "PUT", "/_snapshot/try",
		   "{\"type\": \"s3\", \"settings\": {\"bucket\": \"es-snapshots\"}}", 500,
		   "repository type [s3] does not exist");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_snapshot_is_taken_and_listed_with_its_size,
					  teardown),
		cmocka_unit_test_teardown(test_snapshot_bad_input_is_422_naming_the_field,
					  teardown),
		cmocka_unit_test_teardown(test_snapshot_of_another_tenants_cluster_is_404,
					  teardown),
		cmocka_unit_test_teardown(test_snapshot_refused_when_not_configured, teardown),
		cmocka_unit_test_teardown(test_snapshot_preview_queues_nothing, teardown),
		cmocka_unit_test_teardown(test_snapshot_cancel_aborts_the_running_snapshot,
					  teardown),
		cmocka_unit_test_teardown(test_snapshot_survives_kill9_while_it_runs, teardown),
		cmocka_unit_test_teardown(test_failed_snapshot_is_replayed, teardown),
		cmocka_unit_test_teardown(test_restore_into_a_new_cluster_keeps_document_counts,
					  teardown),
		cmocka_unit_test_teardown(test_restore_refusals_name_the_field, teardown),
		cmocka_unit_test_teardown(test_restore_into_the_same_cluster_renames_chosen_indices,
					  teardown),
		cmocka_unit_test_teardown(
			test_schedule_queues_snapshots_and_keep_deletes_the_oldest, teardown),
		cmocka_unit_test_teardown(test_schedule_bad_input_is_422_naming_the_field,
					  teardown),
		cmocka_unit_test_teardown(test_s3_snapshot_restores_into_a_clone_with_its_documents,
					  teardown),
		cmocka_unit_test_teardown(test_s3_tenant_cannot_reach_another_tenants_prefix,
					  teardown),
		cmocka_unit_test_teardown(test_s3_refused_for_versions_before_7_3, teardown),
		cmocka_unit_test_teardown(test_s3_upgrade_snapshots_first_and_8x_goes_on, teardown),
		cmocka_unit_test_teardown(test_s3_upgrade_checks_the_target_repository_s3_first,
					  teardown),
	};
	if (getenv("ESAAS_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ESAAS_TEST_FILTER"));
	return harness_run_group(tests, group_setup, group_teardown);
}
