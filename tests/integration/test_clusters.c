/*
 * The cluster API against a real PostgreSQL and a real esaasd-test: what
 * POST /api/v1/clusters stores (the cluster and its create job, together,
 * or nothing at all), the reads, and how a job's end is recorded on its
 * cluster (storage_jobrun_transition()).
 *
 * esaasd-test registers the shipped workflows, so its create is there.
 * Without one the API answers 501: checked on api_clusters_check_create()
 * directly, since no daemon here lacks it.
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

#include <event2/event.h>

#include "api/routes.h"
#include "common/json.h"
#include "common/util.h"
#include "engine/registry.h"
#include "kube/spec.h"
#include "storage/clusters.h"
#include "storage/db.h"
#include "storage/jobrun.h"
#include "storage/migrate.h"
#include "tests/integration/harness.h"
#include "workflows/workflows.h"

static struct pg pg;

struct fixture {
	char dburl[600];
	struct esaasd d;
	PGconn *sql;
};

static const char SPEC_LOGS[] = "{\"name\": \"logs\", \"version\": \"7.17.10\","
				" \"data\": {\"replicas\": 2}}";
static const char *const ACTOR[] = {"X-Esaas-Actor: alice@example.com", NULL};

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
	assert_true(esaasd_start(&f->d, pg.dir, f->dburl, NULL));
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
	if (rc != 0)
		fprintf(stderr, "esaasd exited with %d on SIGTERM; see %s\n", rc, f->d.log);
	PQfinish(f->sql);
	free(f);
	return rc == 0 ? 0 : -1;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "(null)";
}

static long long count_rows(PGconn *c, const char *table_sql)
{
	return sql_int(c, table_sql, 0, NULL);
}

/* The error shape, exactly: status, code and field (NULL: no field). */
static void assert_error(const struct http_resp *r, long status, const char *code,
			 const char *field)
{
	if (r->status != status)
		fail_msg("expected %ld %s, got %ld: %s", status, code, r->status,
			 r->raw ? r->raw : "");
	json_t *e = json_object_get(r->body, "error");
	assert_true(json_is_object(e));
	assert_string_equal(jstr(e, "code"), code);
	if (field)
		assert_string_equal(jstr(e, "field"), field);
	else
		assert_null(json_object_get(e, "field"));
}

static void assert_empty_list(const struct http_resp *r)
{
	assert_int_equal(r->status, 200);
	assert_int_equal(json_object_size(r->body), 1);
	json_t *list = json_object_get(r->body, "clusters");
	assert_true(json_is_array(list));
	assert_int_equal(json_array_size(list), 0);
}

static const char *error_message(const struct http_resp *r)
{
	return jstr(json_object_get(r->body, "error"), "message");
}

/* What the API stores as the spec: the request with every default written out. */
static json_t *normalised(const char *spec_text)
{
	json_t *in = json_loads(spec_text, 0, NULL);
	struct spec s;
	struct spec_error err;
	assert_non_null(in);
	if (!spec_parse(in, &s, &err))
		fail_msg("test spec refused: %s: %s", err.field, err.message);
	json_t *out = spec_to_json(&s);
	spec_free(&s);
	json_decref(in);
	return out;
}

static int64_t job_id(const struct http_resp *r)
{
	return json_integer_value(json_object_get(r->body, "id"));
}

/* POST the spec, expect 202, return the job id. */
static int64_t create_ok(const struct fixture *f, const char *spec, const char *const *headers)
{
	struct http_resp r;
	assert_true(http_call(&f->d, "POST", "/api/v1/clusters", spec, headers, &r));
	if (r.status != 202)
		fail_msg("create answered %ld: %s", r.status, r.raw ? r.raw : "");
	int64_t id = job_id(&r);
	assert_true(id > 0);
	http_resp_free(&r);
	return id;
}

/* --- without a create workflow (no daemon) ------------------------------------- */

static bool refuse_data_replicas(json_t *params, const char **field, char *msg, size_t msglen)
{
	if (json_integer_value(json_object_get(
		    json_object_get(json_object_get(params, "spec"), "data"), "replicas")) > 2) {
		*field = "spec.data.replicas";
		str_copy_trunc(msg, "data.replicas: at most 2 in this test", msglen);
		return false;
	}
	return true;
}

static void noop_state(struct step *s)
{
	step_next(s);
}

static const struct wf_state fake_states[] = {
	{.name = "first_of_create", .run = noop_state, .deadline_s = 60, .replay_safe = true},
};

static const struct workflow fake_create = {
	.kind = "create",
	.states = fake_states,
	.nstates = 1,
	.validate = refuse_data_replicas,
};

static void test_check_create_needs_a_create_workflow(void **state)
{
	struct wf_registry empty = {0}, reg = {0};
	struct http_error err = {0};
	const struct workflow *wf = NULL;
	struct spec spec;
	char msg[256];
	json_t *body = json_loads(SPEC_LOGS, 0, NULL);

	/* No create workflow: 501, and nothing parsed is left behind. */
	assert_false(api_clusters_check_create(body, &empty, NULL, &spec, &wf, &err));
	assert_int_equal(err.status, 501);
	assert_string_equal(err.code, "not_implemented");
	assert_null(err.field);
	assert_string_equal(err.message, "cluster operations are not available in this build: "
					 "it has no create workflow");
	assert_null(wf);
	assert_null(spec.name);
	http_error_clear(&err);
	assert_false(api_clusters_check_create(body, NULL, NULL, &spec, &wf, &err));
	assert_int_equal(err.status, 501);
	http_error_clear(&err);

	/* A spec that is wrong is the client's error whatever the build. */
	json_t *bad = json_loads("{\"name\": \"logs\", \"masters\": {\"replicas\": 2}}", 0, NULL);
	assert_false(api_clusters_check_create(bad, &empty, NULL, &spec, &wf, &err));
	assert_int_equal(err.status, 422);
	assert_string_equal(err.field, "masters.replicas");
	http_error_clear(&err);
	json_decref(bad);

	/* With one: its first state, and its own check, whose field names the body's. */
	assert_true(wf_registry_add(&reg, &fake_create, msg, sizeof(msg)));
	assert_true(api_clusters_check_create(body, &reg, NULL, &spec, &wf, &err));
	assert_ptr_equal(wf, &fake_create);
	assert_string_equal(spec.name, "logs");
	spec_free(&spec);
	json_t *big = json_loads("{\"name\": \"logs\", \"data\": {\"replicas\": 3}}", 0, NULL);
	assert_false(api_clusters_check_create(big, &reg, NULL, &spec, &wf, &err));
	assert_int_equal(err.status, 422);
	assert_string_equal(err.field, "data.replicas");
	assert_string_equal(err.message, "data.replicas: at most 2 in this test");
	assert_null(spec.name);
	http_error_clear(&err);
	json_decref(big);

	/* An image of the tenant's choosing is refused, naming the field,
	 * unless the operator's allow-list pins that very image to the version. */
	json_t *own = json_loads("{\"name\": \"logs\", \"version\": \"7.17.10\","
				 " \"image\": \"evil/es:1\"}",
				 0, NULL);
	assert_false(api_clusters_check_create(own, &reg, NULL, &spec, &wf, &err));
	assert_int_equal(err.status, 422);
	assert_string_equal(err.field, "image");
	assert_non_null(strstr(err.message, "kubernetes.allowed_images"));
	assert_null(spec.name);
	http_error_clear(&err);
	assert_false(api_clusters_check_create(own, &reg, "7.17.10=mirror/es:7.17.10", &spec, &wf,
					       &err));
	assert_string_equal(err.field, "image");
	http_error_clear(&err);
	json_decref(own);
	json_t *pinned =
		json_loads("{\"name\": \"logs\", \"version\": \"7.17.10\","
			   " \"data\": {\"replicas\": 2}, \"image\": \"mirror/es:7.17.10\"}",
			   0, NULL);
	assert_true(api_clusters_check_create(pinned, &reg,
					      "6.8.23=mirror/es:6.8.23, "
					      "7.17.10=mirror/es:7.17.10",
					      &spec, &wf, &err));
	assert_string_equal(spec.image, "mirror/es:7.17.10");
	spec_free(&spec);
	json_decref(pinned);
	json_decref(body);
}

/* --- POST /api/v1/clusters ------------------------------------------------------ */

struct bad_spec {
	const char *body;
	const char *field;
	const char *message; /* a part of it */
};

static const struct bad_spec bad_specs[] = {
	{"{}", "name", "name: is required"},
	{"{\"name\": \"Logs\"}", "name", "DNS-1123"},
	{"{\"name\": \"a234567890123456789012345678901234567890x\"}", "name", "at most 40"},
	{"{\"name\": \"logs\", \"colour\": \"blue\"}", "colour", "unknown field"},
	{"{\"name\": \"logs\", \"version\": \"3.0.0\"}", "version", "is not supported"},
	{"{\"name\": \"logs\", \"masters\": {\"replicas\": 2}}", "masters.replicas",
	 "masters.replicas: must be odd so that a quorum exists (got 2)"},
	{"{\"name\": \"logs\", \"masters\": {\"replicas\": 0}}", "masters.replicas", "at least 1"},
	{"{\"name\": \"logs\", \"data\": {\"replicas\": 0}}", "data.replicas", "at least 1"},
	{"{\"name\": \"logs\", \"clients\": {\"replicas\": -1}}", "clients.replicas", "at least 0"},
	{"{\"name\": \"logs\", \"masters\": {\"cpu\": \"1x\"}}", "masters.cpu", "\"1x\""},
	{"{\"name\": \"logs\", \"data\": {\"memory\": \"8GB\"}}", "data.memory", "\"8GB\""},
	{"{\"name\": \"logs\", \"data\": {\"disk\": \"lots\"}}", "data.disk", "\"lots\""},
	{"{\"name\": \"logs\", \"data\": {\"memory\": \"8Gi\", \"heap\": \"5g\"}}", "data.heap",
	 "must not exceed half the memory"},
	{"{\"name\": \"logs\", \"plugins\": [\"analysis-icu\", \"nope\"]}", "plugins[1]",
	 "not a plugin esaas knows"},
	{"{\"name\": \"logs\", \"config\": {\"foo.bar\": 1}}", "config.foo.bar",
	 "not a setting esaas knows"},
	{"{\"name\": \"logs\", \"config\": {\"cluster.name\": \"x\"}}", "config.cluster.name",
	 "managed by esaas"},
	{"{\"name\": \"logs\", \"config\": {\"http.cors.allow-origin\": \"*\"}}",
	 "config.http.cors.allow-origin", "opens the cluster to the outside"},
	{"{\"name\": \"logs\", \"config\": {\"cluster.remote.peer.seeds\": \"es-x:9300\"}}",
	 "config.cluster.remote.peer.seeds", "opens the cluster to the outside"},
	{"{\"name\": \"logs\", \"placement\": {\"spread\": \"moon\"}}", "placement.spread",
	 "\"host\" or \"rack\""},
};

static void test_create_refuses_invalid_specs_before_storing(void **state)
{
	struct fixture *f = *state = fixture_new();
	struct http_resp r;

	for (size_t i = 0; i < ARRAY_SIZE(bad_specs); i++) {
		const struct bad_spec *b = &bad_specs[i];
		assert_true(http_call(&f->d, "POST", "/api/v1/clusters", b->body, NULL, &r));
		if (r.status != 422 || !strstr(error_message(&r), b->message))
			fail_msg("%s: expected 422 on %s with \"%s\", got %ld: %s", b->body,
				 b->field, b->message, r.status, r.raw ? r.raw : "");
		assert_error(&r, 422, "invalid", b->field);
		http_resp_free(&r);
	}

	/* Not a spec at all. */
	assert_true(http_call(&f->d, "POST", "/api/v1/clusters", "[1]", NULL, &r));
	assert_error(&r, 400, "malformed_json", NULL);
	http_resp_free(&r);
	assert_true(http_call(&f->d, "POST", "/api/v1/clusters", "{\"name\": ", NULL, &r));
	assert_error(&r, 400, "malformed_json", NULL);
	http_resp_free(&r);

	/* Headers are checked like the job API's. */
	char longkey[300];
	snprintf(longkey, sizeof(longkey), "Idempotency-Key: %0256d", 7);
	const char *const hk[] = {longkey, NULL};
	assert_true(http_call(&f->d, "POST", "/api/v1/clusters", SPEC_LOGS, hk, &r));
	assert_error(&r, 422, "invalid", "Idempotency-Key");
	http_resp_free(&r);
	char longactor[200];
	snprintf(longactor, sizeof(longactor), "X-Esaas-Actor: %0129d", 7);
	const char *const ha[] = {longactor, NULL};
	assert_true(http_call(&f->d, "POST", "/api/v1/clusters", SPEC_LOGS, ha, &r));
	assert_error(&r, 422, "invalid", "X-Esaas-Actor");
	http_resp_free(&r);

	/* Nothing was stored, not even in part. */
	assert_int_equal(count_rows(f->sql, "SELECT count(*) FROM clusters"), 0);
	assert_int_equal(count_rows(f->sql, "SELECT count(*) FROM jobs"), 0);
	assert_int_equal(count_rows(f->sql, "SELECT count(*) FROM job_events"), 0);
}

static void test_create_stores_the_cluster_and_queues_its_job(void **state)
{
	struct fixture *f = *state = fixture_new();
	json_t *spec = normalised(SPEC_LOGS);
	struct http_resp r;

	assert_true(http_call(&f->d, "POST", "/api/v1/clusters", SPEC_LOGS, ACTOR, &r));
	if (r.status != 202)
		fail_msg("create answered %ld: %s", r.status, r.raw ? r.raw : "");
	int64_t id = job_id(&r);
	char location[64];
	snprintf(location, sizeof(location), "/api/v1/jobs/%lld", (long long)id);
	assert_string_equal(r.location, location);

	/* The job as it was queued: the create of logs, in its workflow's first state. */
	assert_string_equal(jstr(r.body, "kind"), "create");
	assert_string_equal(jstr(r.body, "cluster"), "logs");
	assert_string_equal(jstr(r.body, "tenant"), "default");
	assert_string_equal(jstr(r.body, "status"), "queued");
	assert_string_equal(jstr(r.body, "state"), wf_create.states[0].name);
	const char *alice = harness_actor(&f->d, "alice@example.com");
	assert_string_equal(jstr(r.body, "submitted_by"), alice);
	json_t *params = json_object_get(r.body, "params");
	assert_int_equal(json_object_size(params), 1);
	assert_true(json_equal(json_object_get(params, "spec"), spec));
	http_resp_free(&r);

	/* The cluster row holds the same spec and says it is being created. */
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	const char *q[] = {ids, alice};
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM clusters c JOIN jobs j ON j.cluster = c.name"
				 " AND j.tenant_id = c.tenant_id WHERE j.id = $1"
				 " AND c.spec = j.params->'spec'"
				 " AND c.observed = '{\"phase\": \"creating\"}'"
				 " AND c.created_by = $2 AND c.deleted_at IS NULL",
				 2, q),
			 1);
	/* Its history starts with the submission, by the same actor. */
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM job_events WHERE job_id = $1"
				 " AND outcome = 'submitted' AND status = 'queued'"
				 " AND actor = $2",
				 2, q),
			 1);
	assert_int_equal(count_rows(f->sql, "SELECT count(*) FROM clusters"), 1);
	assert_int_equal(count_rows(f->sql, "SELECT count(*) FROM jobs"), 1);
	json_decref(spec);
}

static void test_create_conflict_on_a_taken_name(void **state)
{
	struct fixture *f = *state = fixture_new();
	struct http_resp r;

	create_ok(f, SPEC_LOGS, NULL);
	/* Another spec under the same name, and the very same again: both refused. */
	const char *const again[] = {
		"{\"name\": \"logs\", \"version\": \"6.8.23\"}",
		SPEC_LOGS,
	};
	for (size_t i = 0; i < ARRAY_SIZE(again); i++) {
		assert_true(http_call(&f->d, "POST", "/api/v1/clusters", again[i], NULL, &r));
		assert_error(&r, 409, "conflict", "name");
		assert_string_equal(error_message(&r),
				    "cluster logs already exists; choose another name, or delete "
				    "it first");
		http_resp_free(&r);
	}
	assert_int_equal(count_rows(f->sql, "SELECT count(*) FROM clusters"), 1);
	assert_int_equal(count_rows(f->sql, "SELECT count(*) FROM jobs"), 1);
	assert_int_equal(count_rows(f->sql, "SELECT count(*) FROM clusters"
					    " WHERE spec->>'version' = '7.17.10'"),
			 1);
}

/*
 * A cluster's namespace is stored with it, and its jobs know its row.  A
 * namespace that a cluster of another tenant or name has, or had (its data
 * may still be on the hosts), is refused with a 409 naming the field, and
 * nothing is stored; a cluster created again after a delete keeps its
 * predecessor's.
 */
static void test_create_refuses_a_namespace_another_cluster_has_or_had(void **state)
{
	struct fixture *f = *state = fixture_new();
	struct http_resp r;

	int64_t job = create_ok(f, SPEC_LOGS, NULL);
	assert_true(http_call(&f->d, "GET", "/api/v1/clusters/logs", NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.body, "namespace"), "es-default-logs");
	http_resp_free(&r);
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)job);
	const char *q[] = {ids};
	assert_int_equal(
		sql_int(f->sql,
			"SELECT count(*) FROM jobs j JOIN clusters c ON c.id = j.cluster_id"
			" WHERE j.id = $1 AND c.name = 'logs'",
			1, q),
		1);

	/* Another tenant's cluster that had the namespace; then has it. */
	assert_int_equal(
		sql_int(f->sql,
			"WITH t AS (INSERT INTO tenants (id, created_by) VALUES ('other', 't'))"
			" INSERT INTO clusters (tenant_id, name, namespace, created_by, deleted_at)"
			" VALUES ('other', 'x', 'es-default-metrics', 't', now()) RETURNING 1",
			0, NULL),
		1);
	for (int live = 0; live < 2; live++) {
		if (live)
			assert_int_equal(sql_int(f->sql,
						 "UPDATE clusters SET deleted_at = NULL"
						 " WHERE tenant_id = 'other' RETURNING 1",
						 0, NULL),
					 1);
		assert_true(http_call(&f->d, "POST", "/api/v1/clusters",
				      "{\"name\": \"metrics\", \"version\": \"7.17.10\"}", NULL,
				      &r));
		assert_error(&r, 409, "conflict", "name");
		assert_string_equal(
			error_message(&r),
			"the namespace of cluster metrics, es-default-metrics, is another "
			"cluster's, or was; choose another name");
		http_resp_free(&r);
		/* Its preview is refused the same way. */
		assert_true(http_call(&f->d, "POST", "/api/v1/clusters?dry_run=true",
				      "{\"name\": \"metrics\", \"version\": \"7.17.10\"}", NULL,
				      &r));
		assert_error(&r, 409, "conflict", "name");
		assert_string_equal(
			error_message(&r),
			"the namespace of cluster metrics, es-default-metrics, is another "
			"cluster's, or was; choose another name");
		http_resp_free(&r);
		assert_int_equal(count_rows(f->sql,
					    "SELECT count(*) FROM clusters"
					    " WHERE tenant_id = 'default' AND name = 'metrics'"),
				 0);
		assert_int_equal(count_rows(f->sql, "SELECT count(*) FROM jobs"), 1);
	}

	/* A cluster of the form before 0009, deleted with its data kept: made
	 * again, it finds its namespace (and the data in it). */
	assert_int_equal(
		sql_int(f->sql,
			"UPDATE clusters SET namespace = 'es-kept-before', deleted_at = now()"
			" WHERE name = 'logs' RETURNING 1",
			0, NULL),
		1);
	create_ok(f, SPEC_LOGS, NULL);
	assert_true(http_call(&f->d, "GET", "/api/v1/clusters/logs", NULL, NULL, &r));
	assert_string_equal(jstr(r.body, "namespace"), "es-kept-before");
	http_resp_free(&r);
}

static void test_create_idempotency_key(void **state)
{
	struct fixture *f = *state = fixture_new();
	const char *const key[] = {"Idempotency-Key: create-logs-1", NULL};
	struct http_resp r;

	int64_t id = create_ok(f, SPEC_LOGS, key);
	/* The same request again: the same job, not a conflict with its own cluster. */
	assert_true(http_call(&f->d, "POST", "/api/v1/clusters", SPEC_LOGS, key, &r));
	assert_int_equal(r.status, 202);
	assert_int_equal(job_id(&r), id);
	assert_non_null(strstr(r.location, "/api/v1/jobs/"));
	http_resp_free(&r);
	/* The same spec written another way (a default spelled out) is the same request. */
	assert_true(http_call(&f->d, "POST", "/api/v1/clusters",
			      "{\"data\": {\"replicas\": 2}, \"version\": \"7.17.10\","
			      " \"name\": \"logs\", \"placement\": {\"spread\": \"host\"}}",
			      key, &r));
	assert_int_equal(r.status, 202);
	assert_int_equal(job_id(&r), id);
	http_resp_free(&r);

	/* The key reused for another spec, or for another cluster: refused, nothing stored. */
	assert_true(http_call(&f->d, "POST", "/api/v1/clusters",
			      "{\"name\": \"logs\", \"version\": \"6.8.23\"}", key, &r));
	assert_error(&r, 409, "idempotency_conflict", "Idempotency-Key");
	http_resp_free(&r);
	assert_true(
		http_call(&f->d, "POST", "/api/v1/clusters", "{\"name\": \"metrics\"}", key, &r));
	assert_error(&r, 409, "idempotency_conflict", "Idempotency-Key");
	http_resp_free(&r);

	/* A key first used by another kind of job: no cluster is left behind either. */
	const char *const key2[] = {"Idempotency-Key: test-job-1", NULL};
	assert_true(http_call(&f->d, "POST", "/api/v1/jobs",
			      "{\"kind\": \"test\", \"cluster\": \"search\"}", key2, &r));
	assert_int_equal(r.status, 202);
	http_resp_free(&r);
	assert_true(
		http_call(&f->d, "POST", "/api/v1/clusters", "{\"name\": \"search\"}", key2, &r));
	assert_error(&r, 409, "idempotency_conflict", "Idempotency-Key");
	http_resp_free(&r);

	assert_int_equal(count_rows(f->sql, "SELECT count(*) FROM clusters"), 1);
	assert_int_equal(count_rows(f->sql, "SELECT count(*) FROM jobs"), 2);
	assert_int_equal(count_rows(f->sql, "SELECT count(*) FROM jobs WHERE kind = 'create'"), 1);
}

/*
 * n clients POST body at once (each with header, may be NULL); statuses[i]
 * and ids[i] are what client i was answered.
 */
#define RACERS 8

static void race_creates(const struct fixture *f, const char *body, const char *header,
			 long statuses[RACERS], int64_t ids[RACERS])
{
	int fds[RACERS][2];
	pid_t pids[RACERS];

	for (int i = 0; i < RACERS; i++) {
		assert_int_equal(pipe(fds[i]), 0);
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			const char *const h[] = {header, NULL};
			struct http_resp r;
			long long out[2] = {0, 0};
			if (http_call(&f->d, "POST", "/api/v1/clusters", body, header ? h : NULL,
				      &r)) {
				out[0] = r.status;
				out[1] = job_id(&r);
			}
			_exit(write(fds[i][1], out, sizeof(out)) == sizeof(out) ? 0 : 1);
		}
		close(fds[i][1]);
	}
	for (int i = 0; i < RACERS; i++) {
		long long in[2] = {0, 0};
		int status;
		assert_int_equal(read(fds[i][0], in, sizeof(in)), sizeof(in));
		close(fds[i][0]);
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		statuses[i] = (long)in[0];
		ids[i] = (int64_t)in[1];
	}
}

static void test_concurrent_creates(void **state)
{
	struct fixture *f = *state = fixture_new();
	long statuses[RACERS];
	int64_t ids[RACERS];

	/* One name, many clients: exactly one wins, the others are told it exists. */
	race_creates(f, SPEC_LOGS, NULL, statuses, ids);
	int won = 0;
	for (int i = 0; i < RACERS; i++) {
		if (statuses[i] != 202 && statuses[i] != 409)
			fail_msg("client %d answered %ld", i, statuses[i]);
		won += statuses[i] == 202;
	}
	assert_int_equal(won, 1);

	/* One key, many clients: every one gets the same job. */
	race_creates(f, "{\"name\": \"metrics\"}", "Idempotency-Key: metrics-1", statuses, ids);
	for (int i = 0; i < RACERS; i++) {
		assert_int_equal(statuses[i], 202);
		assert_int_equal(ids[i], ids[0]);
	}
	assert_int_equal(count_rows(f->sql, "SELECT count(*) FROM clusters"), 2);
	assert_int_equal(count_rows(f->sql, "SELECT count(*) FROM jobs"), 2);
	assert_int_equal(count_rows(f->sql, "SELECT count(*) FROM job_events"
					    " WHERE outcome = 'submitted'"),
			 2);
}

/* --- GET /api/v1/clusters, /api/v1/clusters/{name} ------------------------------- */

static void test_get_and_list(void **state)
{
	struct fixture *f = *state = fixture_new();
	struct http_resp r;

	assert_true(http_call(&f->d, "GET", "/api/v1/clusters", NULL, NULL, &r));
	assert_empty_list(&r);
	http_resp_free(&r);
	assert_true(http_call(&f->d, "GET", "/api/v1/clusters?limit=5", NULL, NULL, &r));
	assert_error(&r, 422, "invalid", "limit");
	http_resp_free(&r);

	assert_true(http_call(&f->d, "GET", "/api/v1/clusters/logs", NULL, NULL, &r));
	assert_error(&r, 404, "not_found", NULL);
	assert_string_equal(error_message(&r), "cluster logs not found");
	http_resp_free(&r);
	/* A name that cannot be a cluster's is not found either, not a 4xx of its own. */
	assert_true(http_call(&f->d, "GET", "/api/v1/clusters/Not_A_Name", NULL, NULL, &r));
	assert_error(&r, 404, "not_found", NULL);
	http_resp_free(&r);

	int64_t create = create_ok(f, SPEC_LOGS, ACTOR);
	/* A second job of logs, parked in "work" for long, once the create is done. */
	const char *const parked_body = "{\"kind\": \"test\", \"cluster\": \"logs\","
					" \"params\": {\"plan\": {\"work\": [\"wait:600000\"]}}}";
	assert_true(http_call(&f->d, "POST", "/api/v1/jobs", parked_body, NULL, &r));
	assert_int_equal(r.status, 202);
	int64_t parked = job_id(&r);
	http_resp_free(&r);
	json_t *j = wait_job_status(&f->d, parked, "waiting", 20000);
	assert_non_null(j);
	json_decref(j);

	assert_true(http_call(&f->d, "GET", "/api/v1/clusters/logs", NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	json_t *c = r.body;
	json_t *spec = normalised(SPEC_LOGS);
	assert_string_equal(jstr(c, "name"), "logs");
	assert_string_equal(jstr(c, "tenant"), "default");
	assert_string_equal(jstr(c, "created_by"), harness_actor(&f->d, "alice@example.com"));
	assert_true(json_equal(json_object_get(c, "spec"), spec));
	assert_true(json_is_object(json_object_get(c, "observed")));
	assert_non_null(strchr(jstr(c, "created_at"), 'T'));
	assert_non_null(strchr(jstr(c, "updated_at"), 'T'));
	json_t *active = json_object_get(c, "active_job");
	assert_int_equal(json_integer_value(json_object_get(active, "id")), parked);
	assert_string_equal(jstr(active, "kind"), "test");
	assert_string_equal(jstr(active, "status"), "waiting");
	assert_string_equal(jstr(active, "state"), "work");
	json_t *recent = json_object_get(c, "recent_jobs");
	assert_int_equal(json_array_size(recent), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(recent, 0), "id")),
			 parked);
	json_t *first = json_array_get(recent, 1);
	assert_int_equal(json_integer_value(json_object_get(first, "id")), create);
	assert_string_equal(jstr(first, "kind"), "create");
	assert_non_null(strchr(jstr(first, "created_at"), 'T'));
	http_resp_free(&r);

	/* The list: the same cluster, without its history. */
	create_ok(f, "{\"name\": \"metrics\"}", NULL);
	assert_true(http_call(&f->d, "GET", "/api/v1/clusters", NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	json_t *list = json_object_get(r.body, "clusters");
	assert_int_equal(json_array_size(list), 2);
	json_t *logs = json_array_get(list, 0);
	assert_string_equal(jstr(logs, "name"), "logs");
	assert_string_equal(jstr(json_array_get(list, 1), "name"), "metrics");
	assert_true(json_equal(json_object_get(logs, "spec"), spec));
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(logs, "active_job"), "id")),
		parked);
	assert_null(json_object_get(logs, "recent_jobs"));
	http_resp_free(&r);
	json_decref(spec);

	/* Only five of the newest jobs. */
	for (int i = 0; i < 5; i++) {
		int64_t id = submit_job(&f->d, "test_noop", "metrics", NULL);
		assert_true(id > 0);
	}
	assert_true(http_call(&f->d, "GET", "/api/v1/clusters/metrics", NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	recent = json_object_get(r.body, "recent_jobs");
	assert_int_equal(json_array_size(recent), 5);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(jstr(json_array_get(recent, i), "kind"), "test_noop");
	assert_true(json_integer_value(json_object_get(json_array_get(recent, 0), "id")) >
		    json_integer_value(json_object_get(json_array_get(recent, 4), "id")));
	http_resp_free(&r);
}

/* A finished delete, played by setting deleted_at (the delete workflow is tested in test_create). */
static void test_a_deleted_cluster_frees_its_name(void **state)
{
	struct fixture *f = *state = fixture_new();
	struct http_resp r;

	int64_t old = create_ok(f, SPEC_LOGS, NULL);
	PGresult *res =
		PQexecParams(f->sql, "UPDATE clusters SET deleted_at = now() WHERE name = 'logs'",
			     0, NULL, NULL, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);

	assert_true(http_call(&f->d, "GET", "/api/v1/clusters/logs", NULL, NULL, &r));
	assert_error(&r, 404, "not_found", NULL);
	http_resp_free(&r);
	assert_true(http_call(&f->d, "GET", "/api/v1/clusters", NULL, NULL, &r));
	assert_empty_list(&r);
	http_resp_free(&r);

	int64_t now = create_ok(f, "{\"name\": \"logs\", \"version\": \"8.17.0\"}", NULL);
	assert_true(now != old);
	assert_true(http_call(&f->d, "GET", "/api/v1/clusters/logs", NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(json_object_get(r.body, "spec"), "version"), "8.17.0");
	/* The old cluster's jobs are not this one's. */
	json_t *recent = json_object_get(r.body, "recent_jobs");
	assert_int_equal(json_array_size(recent), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(recent, 0), "id")), now);
	http_resp_free(&r);
	assert_int_equal(count_rows(f->sql, "SELECT count(*) FROM clusters WHERE name = 'logs'"),
			 2);
}

/* --- a job's end, recorded on its cluster (storage_jobrun_transition()) ----------- */

#define OWNER "test-owner"

struct transition_wait {
	struct event_base *base;
	bool done;
	bool failed;
	int committed;
};

static void transition_cb(void *arg, const struct db_error *err,
			  const struct jobrun_committed *rows, int n)
{
	struct transition_wait *w = arg;
	w->done = true;
	w->failed = err != NULL;
	if (err)
		fprintf(stderr, "transition: %s\n", err->message);
	w->committed = n;
	event_base_loopbreak(w->base);
}

/* Turn the loop for up to 100 ms. */
static void turn_loop(struct event_base *base)
{
	struct timeval tv = {0, 100000};
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/*
 * A job of cluster name that this test holds under OWNER, epoch 1, of a
 * kind no esaasd runs (so the daemon never claims it).
 */
static long long held_job(PGconn *sql, const char *name)
{
	const char *p[] = {name};
	return sql_int(sql,
		       "INSERT INTO jobs (tenant_id, cluster, kind, status, state, submitted_by,"
		       " lease_owner, lease_expires_at, lease_epoch)"
		       " VALUES ('default', $1, 'recorder', 'running', 'work', 'test', '" OWNER "',"
		       " now() + interval '1 hour', 1) RETURNING id",
		       1, p);
}

/* Write one transition of job id (at version) to status, with context. */
static int transition(struct event_base *base, struct db_pool *db, long long id, int64_t version,
		      const char *status, const char *context)
{
	struct transition_wait w = {.base = base};
	json_t *ctx = json_loads(context, 0, NULL);
	assert_non_null(ctx);
	bool ends = strcmp(status, "running") != 0;
	struct jobrun_transition t = {
		.id = id,
		.epoch = 1,
		.version = version,
		.status = status,
		.state = "work",
		.attempt = 1,
		.context = ctx,
		.release = ends,
		.ev_from = "work",
		.ev_outcome = ends ? status : "next",
		.ev_attempt = 1,
	};
	int64_t deadline = harness_now_ms() + 10000;

	storage_jobrun_transition(db, OWNER, 60, &t, 1, transition_cb, &w);
	json_decref(ctx);
	while (!w.done && harness_now_ms() < deadline)
		turn_loop(base);
	assert_true(w.done);
	assert_false(w.failed);
	return w.committed;
}

static long long cluster_rows(PGconn *sql, const char *where)
{
	char *q = xasprintf("SELECT count(*) FROM clusters c WHERE %s", where);
	long long n = sql_int(sql, q, 0, NULL);
	free(q);
	return n;
}

static void test_a_job_end_is_recorded_on_its_cluster(void **state)
{
	struct fixture *f = *state = fixture_new();
	struct event_base *base = event_base_new();
	struct db_pool *db = db_pool_new(base, f->dburl, 1);
	struct http_resp r;

	assert_int_equal(sql_int(f->sql,
				 "INSERT INTO clusters (tenant_id, name, namespace, spec, "
				 "observed, created_by,"
				 " created_at, updated_at) VALUES"
				 " ('default', 'logs', 'es-default-logs', '{\"v\": 1}',"
				 "  '{\"phase\": \"creating\"}', 't',"
				 "  now() - interval '1 minute', now() - interval '1 minute'),"
				 " ('default', 'metrics', 'es-default-metrics', '{\"v\": 1}',"
				 "  '{\"phase\": \"ready\"}', 't',"
				 "  now() - interval '1 minute', now() - interval '1 minute')"
				 " RETURNING 1",
				 0, NULL),
			 1);
	long long job = held_job(f->sql, "logs");

	/* A job that goes on leaves its cluster alone, whatever its context says. */
	assert_int_equal(
		transition(base, db, job, 0, "running", "{\"observed\": {\"phase\": \"halfway\"}}"),
		1);
	assert_int_equal(cluster_rows(f->sql,
				      "c.name = 'logs' AND c.observed ->> 'phase' ="
				      " 'creating' AND c.updated_at < now() - interval '30s'"),
			 1);

	/* One that ends records observed and spec, in the same commit. */
	assert_int_equal(transition(base, db, job, 1, "succeeded",
				    "{\"observed\": {\"phase\": \"ready\", \"health\": \"green\"},"
				    " \"spec\": {\"v\": 2}, \"other\": 1}"),
			 1);
	assert_int_equal(
		cluster_rows(
			f->sql,
			"c.name = 'logs' AND c.deleted_at IS NULL"
			" AND c.observed = '{\"phase\": \"ready\", \"health\": \"green\"}'"
			" AND c.spec = '{\"v\": 2}' AND c.updated_at > now() - interval '30s'"),
		1);
	/* The API shows what was recorded. */
	assert_true(http_call(&f->d, "GET", "/api/v1/clusters/logs", NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(json_object_get(r.body, "observed"), "phase"), "ready");
	http_resp_free(&r);

	/* Fenced: the same claim's version is gone, nothing is written again. */
	assert_int_equal(
		transition(base, db, job, 0, "failed", "{\"observed\": {\"phase\": \"broken\"}}"),
		0);
	assert_int_equal(
		cluster_rows(f->sql, "c.name = 'logs' AND c.observed ->> 'phase' = 'ready'"), 1);

	/* An end without observed leaves the cluster alone. */
	long long other = held_job(f->sql, "metrics");
	assert_int_equal(transition(base, db, other, 0, "failed", "{\"spec\": {\"v\": 3}}"), 1);
	assert_int_equal(cluster_rows(f->sql, "c.name = 'metrics' AND c.spec = '{\"v\": 1}'"
					      " AND c.updated_at < now() - interval '30s'"),
			 1);

	/* cluster_deleted marks the cluster deleted: its name is free again. */
	long long del = held_job(f->sql, "logs");
	assert_int_equal(
		transition(base, db, del, 0, "succeeded",
			   "{\"observed\": {\"phase\": \"deleted\"}, \"cluster_deleted\": true}"),
		1);
	assert_int_equal(cluster_rows(f->sql, "c.name = 'logs' AND c.deleted_at IS NOT NULL"
					      " AND c.observed ->> 'phase' = 'deleted'"),
			 1);
	assert_true(http_call(&f->d, "GET", "/api/v1/clusters/logs", NULL, NULL, &r));
	assert_error(&r, 404, "not_found", NULL);
	http_resp_free(&r);

	db_pool_free(db);
	event_base_free(base);
}

/* --- concurrent operations on one cluster ------------------------------------------ */

/*
 * Operations that change a cluster's spec, sent at once: the API plans
 * each against the spec the cluster is to have once the jobs queued before
 * it are done.  Each one queued keeps the changes of every one queued
 * before it (it was planned again when one came in between), or it is
 * refused with 409: never a job whose spec drops an accepted change.
 */
#define SPEC_RACERS 6

static const struct {
	const char *method, *path, *body;
	const char *key; /* the change, a path in the spec */
	const char *value;
} spec_ops[SPEC_RACERS] = {
	{"POST", "/api/v1/clusters/race/scale", "{\"role\": \"data\", \"replicas\": 4}",
	 "data.replicas", "4"},
	{"PATCH", "/api/v1/clusters/race/config", "{\"settings\": {\"search.max_buckets\": 20001}}",
	 "config.search.max_buckets", "20001"},
	{"PATCH", "/api/v1/clusters/race/config",
	 "{\"settings\": {\"cluster.max_shards_per_node\": 1001}}",
	 "config.cluster.max_shards_per_node", "1001"},
	{"PATCH", "/api/v1/clusters/race/config",
	 "{\"settings\": {\"action.destructive_requires_name\": true}}",
	 "config.action.destructive_requires_name", "true"},
	{"PATCH", "/api/v1/clusters/race/config",
	 "{\"settings\": {\"search.default_search_timeout\": \"30s\"}}",
	 "config.search.default_search_timeout", "\"30s\""},
	{"PATCH", "/api/v1/clusters/race/config",
	 "{\"settings\": {\"cluster.info.update.interval\": \"45s\"}}",
	 "config.cluster.info.update.interval", "\"45s\""},
};

/* The value at a dotted path whose last part may hold dots itself (a
 * setting's key under "config"), as compact JSON; NULL when absent. */
static char *spec_value(json_t *spec, const char *key)
{
	const char *dot = strchr(key, '.');
	char *section = xstrndup(key, (size_t)(dot - key));
	json_t *v = json_object_get(json_object_get(spec, section), dot + 1);
	free(section);
	return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

static bool spec_has(json_t *spec, int op)
{
	char *v = spec_value(spec, spec_ops[op].key);
	bool ok = v && strcmp(v, spec_ops[op].value) == 0;
	free(v);
	return ok;
}

static void test_concurrent_spec_changes_keep_every_accepted_change(void **state)
{
	struct fixture *f = *state = fixture_new();
	int fds[SPEC_RACERS][2];
	pid_t pids[SPEC_RACERS];
	long statuses[SPEC_RACERS];
	int64_t ids[SPEC_RACERS];

	assert_int_equal(
		sql_int(f->sql,
			"INSERT INTO clusters (tenant_id, name, namespace, spec, observed,"
			" created_by, created_at) VALUES ('default', 'race', 'es-default-race',"
			" '{\"name\": \"race\", \"version\": \"7.17.10\","
			"   \"data\": {\"replicas\": 2}}',"
			" '{\"phase\": \"ready\"}', 't', now() - interval '1 minute')"
			" RETURNING 1",
			0, NULL),
		1);
	/* A job of the cluster runs (held here): the operations stay queued
	 * behind it, as they would behind a long rolling restart. */
	held_job(f->sql, "race");

	for (int i = 0; i < SPEC_RACERS; i++) {
		assert_int_equal(pipe(fds[i]), 0);
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct http_resp r;
			long long out[2] = {0, 0};
			if (http_call(&f->d, spec_ops[i].method, spec_ops[i].path, spec_ops[i].body,
				      NULL, &r)) {
				out[0] = r.status;
				out[1] = job_id(&r);
				if (r.status == 409 &&
				    strcmp(json_str(json_object_get(r.body, "error"), "code"),
					   "conflict") != 0)
					out[0] = -409;
			}
			_exit(write(fds[i][1], out, sizeof(out)) == sizeof(out) ? 0 : 1);
		}
		close(fds[i][1]);
	}
	int accepted = 0;
	for (int i = 0; i < SPEC_RACERS; i++) {
		long long in[2] = {0, 0};
		int status;
		assert_int_equal(read(fds[i][0], in, sizeof(in)), sizeof(in));
		close(fds[i][0]);
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		statuses[i] = (long)in[0];
		ids[i] = (int64_t)in[1];
		if (statuses[i] != 202 && statuses[i] != 409)
			fail_msg("%s %s answered %ld", spec_ops[i].method, spec_ops[i].path,
				 statuses[i]);
		if (statuses[i] == 202) {
			assert_true(ids[i] > 0);
			accepted++;
		}
	}
	assert_true(accepted > 0);

	/* In queue order, each job's spec has its own change and those of the
	 * jobs queued before it. */
	PGresult *res = PQexec(f->sql, "SELECT id, esaas_job_spec(params) FROM jobs"
				       " WHERE cluster = 'race' AND params ? 'spec'"
				       " ORDER BY queue_seq");
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(res), accepted);
	bool before[SPEC_RACERS] = {false};
	for (int row = 0; row < PQntuples(res); row++) {
		int64_t id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
		json_t *spec = json_loads(PQgetvalue(res, row, 1), 0, NULL);
		int op = -1;
		for (int i = 0; i < SPEC_RACERS; i++)
			if (statuses[i] == 202 && ids[i] == id)
				op = i;
		assert_true(op >= 0);
		before[op] = true;
		for (int i = 0; i < SPEC_RACERS; i++)
			if (before[i] && !spec_has(spec, i))
				fail_msg("job %lld (%s) lost %s = %s, of a job queued before it",
					 (long long)id, spec_ops[op].key, spec_ops[i].key,
					 spec_ops[i].value);
		json_decref(spec);
	}
	PQclear(res);

	/* What the cluster is to have: every accepted change, none refused. */
	struct http_resp r;
	assert_true(http_call(&f->d, "GET", "/api/v1/clusters/race", NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	json_t *target = json_object_get(r.body, "target_spec");
	for (int i = 0; i < SPEC_RACERS; i++)
		if (spec_has(target, i) != (statuses[i] == 202))
			fail_msg("%s is %s in the target spec, and it was answered %ld",
				 spec_ops[i].key, spec_has(target, i) ? "" : "not", statuses[i]);
	http_resp_free(&r);
}

/* --- the migration of existing clusters (0009_namespace.sql) ------------------------- */

/* The version of the migration that stores namespaces. */
static int namespace_migration(void)
{
	for (int i = 0; i < migrations_count; i++)
		if (strcmp(migrations[i].name, "namespace") == 0)
			return migrations[i].version;
	fail_msg("no migration is called \"namespace\"");
	return 0;
}

/* A database at the schema version before the namespace migration, as
 * esaasd left it, without an esaasd; the fixture's connection is to it. */
static struct fixture *fixture_before_namespaces(void)
{
	int before = namespace_migration() - 1;
	struct fixture *f = xcalloc(1, sizeof(*f));
	assert_non_null(pg_new_database(&pg, f->dburl, sizeof(f->dburl)));
	f->sql = sql_connect(f->dburl);
	assert_non_null(f->sql);
	PGresult *res = PQexec(f->sql, "CREATE TABLE esaas_schema_migrations ("
				       " version integer PRIMARY KEY, name text NOT NULL,"
				       " applied_at timestamptz NOT NULL DEFAULT now())");
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	for (int i = 0; i < migrations_count && migrations[i].version <= before; i++) {
		/* The simple protocol takes a file's statements at once. */
		res = PQexec(f->sql, migrations[i].sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			fail_msg("migration %d: %s", migrations[i].version,
				 PQresultErrorMessage(res));
		PQclear(res);
		char v[16];
		snprintf(v, sizeof(v), "%d", migrations[i].version);
		const char *p[] = {v, migrations[i].name};
		assert_int_equal(sql_int(f->sql,
					 "INSERT INTO esaas_schema_migrations (version, name)"
					 " VALUES ($1, $2) RETURNING 1",
					 2, p),
				 1);
	}
	assert_int_equal(
		sql_int(f->sql, "SELECT max(version) FROM esaas_schema_migrations", 0, NULL),
		before);
	return f;
}

static void sql_ok(PGconn *c, const char *sql)
{
	PGresult *res = PQexec(c, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
}

/*
 * Clusters made before 0009 keep the namespace they have, es-<tenant>-<cluster>,
 * and their jobs (also those in flight) learn their cluster's row: the
 * newest cluster of the name created before the job.
 */
static void test_migration_keeps_the_namespaces_of_existing_clusters(void **state)
{
	struct fixture *f = *state = fixture_before_namespaces();
	char err[1024];

	sql_ok(f->sql, "INSERT INTO tenants (id, created_by) VALUES ('a-b', 't')");
	sql_ok(f->sql,
	       "INSERT INTO clusters (tenant_id, name, created_by, created_at, deleted_at) VALUES"
	       " ('default', 'logs', 't', now() - interval '2 hours', NULL),"
	       " ('default', 'old', 't', now() - interval '3 hours', now() - interval '2 hours'),"
	       " ('default', 'old', 't', now() - interval '1 hour', NULL),"
	       " ('a-b', 'c', 't', now() - interval '1 hour', NULL)");
	sql_ok(f->sql, "INSERT INTO jobs (tenant_id, cluster, kind, status, state, submitted_by,"
		       " created_at) VALUES"
		       " ('default', 'logs', 'create', 'succeeded', 'record_ready', 't',"
		       "  now() - interval '2 hours'),"
		       " ('default', 'old', 'delete', 'succeeded', 'record_deleted', 't',"
		       "  now() - interval '150 minutes'),"
		       " ('default', 'old', 'scale', 'running', 'wait_scaled', 't',"
		       "  now() - interval '30 minutes'),"
		       " ('a-b', 'c', 'restart', 'queued', 'plan', 't', now()),"
		       " ('default', 'ghost', 'restart', 'failed', 'plan', 't', now())");

	if (!migrate_run(f->dburl, err, sizeof(err)))
		fail_msg("migration failed: %s", err);
	assert_int_equal(
		sql_int(f->sql, "SELECT max(version) FROM esaas_schema_migrations", 0, NULL),
		migrate_latest());
	assert_int_equal(count_rows(f->sql, "SELECT count(*) FROM clusters"
					    " WHERE namespace = 'es-' || tenant_id || '-' || name"),
			 4);
	/* Each job's cluster: the deleted "old" for its delete, the live one for
	 * the scale in flight; none for a job whose cluster never existed. */
	assert_int_equal(
		count_rows(f->sql,
			   "SELECT count(*) FROM jobs j JOIN clusters c ON c.id = j.cluster_id"
			   " WHERE (j.kind, c.tenant_id, c.name, c.deleted_at IS NULL) IN"
			   " (('create', 'default', 'logs', true), ('delete', 'default', 'old', "
			   "false),"
			   "  ('scale', 'default', 'old', true), ('restart', 'a-b', 'c', true))"),
		4);
	assert_int_equal(count_rows(f->sql, "SELECT count(*) FROM jobs"
					    " WHERE cluster = 'ghost' AND cluster_id IS NULL"),
			 1);
	/* A live namespace is unique from now on. */
	PGresult *res =
		PQexec(f->sql, "INSERT INTO clusters (tenant_id, name, namespace, created_by)"
			       " VALUES ('default', 'c', 'es-a-b-c', 't')");
	assert_string_equal(PQresultErrorField(res, PG_DIAG_SQLSTATE), "23505");
	PQclear(res);
}

/* Two live clusters that already share a namespace: the migration stops,
 * naming both and the namespace, and changes nothing. */
static void test_migration_stops_on_live_clusters_sharing_a_namespace(void **state)
{
	struct fixture *f = *state = fixture_before_namespaces();
	char err[1024];

	sql_ok(f->sql, "INSERT INTO tenants (id, created_by) VALUES ('a', 't'), ('a-b', 't')");
	sql_ok(f->sql, "INSERT INTO clusters (tenant_id, name, created_by) VALUES"
		       " ('a', 'b-c', 't'), ('a-b', 'c', 't')");
	assert_false(migrate_run(f->dburl, err, sizeof(err)));
	if (!strstr(err, "live clusters a/b-c (id 1), a-b/c (id 2) share the namespace es-a-b-c"))
		fail_msg("the migration failed with: %s", err);
	assert_int_equal(
		sql_int(f->sql, "SELECT max(version) FROM esaas_schema_migrations", 0, NULL),
		namespace_migration() - 1);
	assert_int_equal(count_rows(f->sql,
				    "SELECT count(*) FROM information_schema.columns"
				    " WHERE table_name = 'clusters' AND column_name = 'namespace'"),
			 0);
}

int main(void)
{
	const struct CMUnitTest direct[] = {
		cmocka_unit_test(test_check_create_needs_a_create_workflow),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_create_refuses_invalid_specs_before_storing,
					  teardown),
		cmocka_unit_test_teardown(test_create_stores_the_cluster_and_queues_its_job,
					  teardown),
		cmocka_unit_test_teardown(test_create_conflict_on_a_taken_name, teardown),
		cmocka_unit_test_teardown(
			test_create_refuses_a_namespace_another_cluster_has_or_had, teardown),
		cmocka_unit_test_teardown(test_create_idempotency_key, teardown),
		cmocka_unit_test_teardown(test_concurrent_creates, teardown),
		cmocka_unit_test_teardown(test_get_and_list, teardown),
		cmocka_unit_test_teardown(test_a_deleted_cluster_frees_its_name, teardown),
		cmocka_unit_test_teardown(test_a_job_end_is_recorded_on_its_cluster, teardown),
		cmocka_unit_test_teardown(test_concurrent_spec_changes_keep_every_accepted_change,
					  teardown),
		cmocka_unit_test_teardown(test_migration_keeps_the_namespaces_of_existing_clusters,
					  teardown),
		cmocka_unit_test_teardown(test_migration_stops_on_live_clusters_sharing_a_namespace,
					  teardown),
	};
	int rc = cmocka_run_group_tests_name("clusters without a daemon", direct, NULL, NULL);
	return rc | cmocka_run_group_tests_name("clusters", tests, group_setup, group_teardown);
}
