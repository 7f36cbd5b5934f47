/*
 * The health sweep and /metrics, end to end: esaasd-test with esaas-sim as
 * its Kubernetes, clusters created through the API, their health followed
 * as the simulator turns them red, unreachable and green again, and two
 * replicas sharing the sweep until one of them is killed.
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
#include <unistd.h>
#include <sys/wait.h>

#include "common/util.h"
#include "tests/integration/harness.h"

static struct pg pg;

/*
 * One data node and indices without replicas: a data node that leaves
 * takes primaries with it, and the cluster is red until it comes back
 * (to its host, where its data is).
 */
static const char SIM_CONFIG[] =
	"tick_ms: 20\n"
	"nodes:\n  count: 4\n  racks: [rack-a, rack-b]\n"
	"elasticsearch:\n  relocation_ms: 200\n  recovery_ms: 50\n  no_master_wait_ms: 500\n"
	"  indices:\n    - {name: logs, shards: 2, replicas: 0}\n";

/* Each cluster read every second; a replica's hold on its shards lasts 3 s. */
static const char MONITOR_YAML[] = "monitor:\n  interval_seconds: 1\n  jitter_percent: 10\n"
				   "  concurrency: 8\n  timeout_ms: 1000\n  lease_seconds: 3\n";

/* A client node answers es-http, so the cluster stays reachable without its data node. */
static const char SMALL_CLUSTER[] =
	"{\"name\": \"%s\", \"version\": \"7.17.10\", \"masters\": {\"replicas\": 1},"
	" \"data\": {\"replicas\": 1}, \"clients\": {\"replicas\": 1}}";

#define WAIT_MS 30000

struct fixture {
	char dburl[600];
	struct sim sim;
	struct esaasd d[2];
	int nd;
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

static struct fixture *fixture_new(int replicas)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct esaasd_opts o = {
		.retry_base_ms = 100, .retry_cap_ms = 500, .extra_yaml = MONITOR_YAML};

	assert_non_null(pg_new_database(&pg, f->dburl, sizeof(f->dburl)));
	assert_true(sim_start(&f->sim, pg.dir, SIM_CONFIG));
	o.kubeconfig = f->sim.kubeconfig;
	for (int i = 0; i < replicas; i++) {
		assert_true(esaasd_start(&f->d[i], pg.dir, f->dburl, &o));
		f->nd++;
	}
	f->sql = sql_connect(f->dburl);
	assert_non_null(f->sql);
	return f;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (!f)
		return 0;
	int rc = esaasd_stop_all(f->d, f->nd);
	if (!sim_es_requests_in_spec(&f->sim)) {
		fprintf(stderr,
			"esaasd sent Elasticsearch a request its version does not "
			"accept (above); the simulator's record is in %s\n",
			f->sim.dir);
		rc = -1;
	}
	if (sim_stop(&f->sim) != 0) {
		fprintf(stderr, "esaas-sim did not stop cleanly; see %s\n", f->sim.log);
		rc = -1;
	}
	PQfinish(f->sql);
	free(f);
	return rc;
}

static void create_cluster(const struct esaasd *d, const char *name)
{
	char *spec = xasprintf(SMALL_CLUSTER, name);
	int64_t id = post_cluster(d, spec);

	free(spec);
	assert_true(id > 0);
	assert_true(job_succeeded(d, id, 90000));
}

/* GET /api/v1/clusters/{name}: the "health" member (a new reference), or NULL. */
static json_t *cluster_health(const struct esaasd *d, const char *name)
{
	char path[128];
	struct http_resp r;
	json_t *h = NULL;

	snprintf(path, sizeof(path), "/api/v1/clusters/%s", name);
	if (http_call(d, "GET", path, NULL, NULL, &r) && r.status == 200)
		h = json_incref(json_object_get(r.body, "health"));
	http_resp_free(&r);
	if (json_is_null(h)) {
		json_decref(h);
		h = NULL;
	}
	return h;
}

static json_t *wait_health(const struct esaasd *d, const char *name, const char *status)
{
	int64_t deadline = harness_now_ms() + WAIT_MS;
	json_t *h = NULL;

	while (harness_now_ms() < deadline) {
		json_decref(h);
		h = cluster_health(d, name);
		if (h && strcmp(json_string_value(json_object_get(h, "status")), status) == 0)
			return h;
		msleep(50);
	}
	char *dump = h ? json_dumps(h, JSON_COMPACT) : NULL;

	fail_msg("cluster %s not %s after %d ms; health: %s", name, status, WAIT_MS,
		 dump ? dump : "none");
	return NULL;
}

/* The newest entry of the history (a new reference) once it has this status. */
static json_t *wait_history(const struct esaasd *d, const char *name, const char *status)
{
	char path[160];
	int64_t deadline = harness_now_ms() + WAIT_MS;
	char *last = NULL;

	snprintf(path, sizeof(path), "/api/v1/clusters/%s/health-history?limit=5", name);
	while (harness_now_ms() < deadline) {
		struct http_resp r;

		if (http_call(d, "GET", path, NULL, NULL, &r) && r.status == 200) {
			json_t *newest = json_array_get(json_object_get(r.body, "history"), 0);
			const char *st = json_string_value(json_object_get(newest, "status"));

			free(last);
			last = xstrdup(r.raw);
			if (st && strcmp(st, status) == 0) {
				json_t *e = json_incref(newest);

				http_resp_free(&r);
				free(last);
				return e;
			}
		}
		http_resp_free(&r);
		msleep(50);
	}
	fail_msg("history of %s has no newest %s entry after %d ms: %s", name, status, WAIT_MS,
		 last ? last : "nothing");
	return NULL;
}

static void sim_ok(const struct sim *s, const char *method, const char *path, const char *body)
{
	struct http_resp r;

	assert_true(sim_call(s, method, path, body, &r));
	if (r.status < 200 || r.status > 299)
		fail_msg("%s %s on the simulator: %ld %s", method, path, r.status, r.raw);
	http_resp_free(&r);
}

/* The simulator's GET of a Kubernetes path (a new reference). */
static json_t *sim_get(const struct sim *s, const char *path)
{
	struct http_resp r;
	json_t *body;

	assert_true(sim_call(s, "GET", path, NULL, &r));
	assert_int_equal(r.status, 200);
	body = json_incref(r.body);
	http_resp_free(&r);
	return body;
}

static char *metrics_text(const struct esaasd *d)
{
	struct http_resp r;
	char *text;

	assert_true(metrics_get(d, &r));
	assert_int_equal(r.status, 200);
	assert_string_equal(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
	text = xstrdup(r.raw);
	http_resp_free(&r);
	return text;
}

/* The value of the sample that starts with prefix (name and labels), or -1. */
static double metric_value(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);

	for (const char *line = text; line && *line;) {
		if (strncmp(line, prefix, n) == 0 && line[n] == ' ')
			return strtod(line + n + 1, NULL);
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return -1;
}

static void check_metric(const char *text, const char *prefix, double min, double max)
{
	double v = metric_value(text, prefix);

	if (v < min || v > max)
		fail_msg("/metrics: %s is %g, not between %g and %g:\n%s", prefix, v, min, max,
			 text);
}

/* promtool, from Debian's prometheus package, checks the exposition. */
static void promtool_check(const char *text)
{
	char path[300], cmd[700], out[2048] = "";
	FILE *f, *p;
	int st;

	if (system("command -v promtool >/dev/null 2>&1") != 0) {
		fprintf(stderr, "promtool not found (apt-get install prometheus): "
				"the exposition is not checked by a Prometheus parser\n");
		return;
	}
	snprintf(path, sizeof(path), "%s/metrics-%d.txt", pg.dir, (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s' 2>&1", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	size_t got = fread(out, 1, sizeof(out) - 1, p);

	out[got] = '\0';
	st = pclose(p);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("promtool check metrics (status %d) on %s:\n%s", st, path, out);
}

static void test_health_follows_the_cluster(void **state)
{
	struct fixture *f = *state = fixture_new(1);
	const char *ns = "es-default-logs";

	create_cluster(&f->d[0], "logs");

	/* Green, with its figures, and the first entry of its history. */
	json_t *h = wait_health(&f->d[0], "logs", "green");
	assert_int_equal(json_integer_value(json_object_get(h, "nodes")), 3);
	assert_int_equal(json_integer_value(json_object_get(h, "unassigned_shards")), 0);
	assert_true(json_is_string(json_object_get(h, "observed_at")));
	assert_true(json_is_null(json_object_get(h, "error")));
	json_decref(h);
	json_t *e = wait_history(&f->d[0], "logs", "green");
	assert_true(json_is_null(json_object_get(e, "previous")));
	json_decref(e);

	/*
	 * Red: no host may take a pod, and the data pod goes.  Its primaries
	 * have no other copy: they stay unassigned until it is back.
	 */
	json_t *pod = sim_get(&f->sim, "/api/v1/namespaces/es-default-logs/pods/es-data-0");
	char *host = xstrdup(
		json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName")));
	json_decref(pod);
	json_t *nodes = sim_get(&f->sim, "/api/v1/nodes");
	json_t *all = json_array(), *others = json_array();
	size_t i;
	json_t *node;

	json_array_foreach (json_object_get(nodes, "items"), i, node) {
		const char *name = json_string_value(
			json_object_get(json_object_get(node, "metadata"), "name"));

		json_array_append_new(all, json_string(name));
		if (strcmp(name, host) != 0)
			json_array_append_new(others, json_string(name));
	}
	json_decref(nodes);
	json_t *fault = json_pack("{s:O}", "unschedulable_nodes", all);
	char *body = json_dumps(fault, JSON_COMPACT);

	sim_ok(&f->sim, "POST", "/_sim/faults", body);
	free(body);
	json_decref(fault);
	sim_ok(&f->sim, "DELETE", "/api/v1/namespaces/es-default-logs/pods/es-data-0", NULL);

	e = wait_history(&f->d[0], "logs", "red");
	assert_string_equal(json_string_value(json_object_get(e, "previous")), "green");
	json_t *detail = json_object_get(e, "detail");
	json_t *primaries = json_object_get(detail, "unassigned_primaries");
	assert_true(json_array_size(primaries) >= 1);
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(primaries, 0), "index")), "logs");
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(primaries, 0), "reason")),
		"NODE_LEFT");
	json_t *explain = json_object_get(detail, "allocation_explain");
	assert_string_equal(json_string_value(json_object_get(explain, "index")), "logs");
	assert_true(json_is_true(json_object_get(explain, "primary")));
	assert_string_equal(json_string_value(json_object_get(explain, "current_state")),
			    "unassigned");
	assert_string_equal(json_string_value(json_object_get(explain, "can_allocate")),
			    "no_valid_shard_copy");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(explain, "unassigned_info"), "reason")),
			    "NODE_LEFT");
	json_decref(e);
	h = wait_health(&f->d[0], "logs", "red");
	assert_int_equal(json_integer_value(json_object_get(h, "unassigned_shards")), 2);
	assert_int_equal(json_integer_value(json_object_get(h, "nodes")), 2);
	json_decref(h);

	/* Back on its own host, with its data: green again. */
	sim_ok(&f->sim, "DELETE", "/_sim/faults", NULL);
	fault = json_pack("{s:O}", "unschedulable_nodes", others);
	body = json_dumps(fault, JSON_COMPACT);
	sim_ok(&f->sim, "POST", "/_sim/faults", body);
	free(body);
	json_decref(fault);
	e = wait_history(&f->d[0], "logs", "green");
	assert_string_equal(json_string_value(json_object_get(e, "previous")), "red");
	json_decref(e);
	sim_ok(&f->sim, "DELETE", "/_sim/faults", NULL);
	json_decref(all);
	json_decref(others);
	free(host);

	/* Unreachable: its health request fails; the last good figures stay. */
	char *rule =
		xasprintf("{\"path\": \"/api/v1/namespaces/%s/services/*/proxy/_cluster/health\","
			  " \"status\": 503}",
			  ns);
	sim_ok(&f->sim, "POST", "/_sim/faults", rule);
	free(rule);
	e = wait_history(&f->d[0], "logs", "unreachable");
	assert_string_equal(json_string_value(json_object_get(e, "previous")), "green");
	assert_non_null(strstr(json_string_value(json_object_get(e, "error")), "503"));
	json_decref(e);
	h = wait_health(&f->d[0], "logs", "unreachable");
	assert_non_null(json_string_value(json_object_get(h, "error")));
	assert_true(json_is_string(json_object_get(h, "observed_at")));
	assert_int_equal(json_integer_value(json_object_get(h, "nodes")), 3);
	json_decref(h);
	sim_ok(&f->sim, "DELETE", "/_sim/faults", NULL);
	json_decref(wait_history(&f->d[0], "logs", "green"));

	/* The simulator explains an assigned shard, and refuses to pick one when none is unassigned. */
	static const char explain_path[] = "/api/v1/namespaces/es-default-logs/services/"
					   "es-http:9200/proxy/_cluster/allocation/explain";
	struct http_resp x;
	assert_true(sim_call(&f->sim, "POST", explain_path,
			     "{\"index\": \"logs\", \"shard\": 1, \"primary\": true}", &x));
	assert_int_equal(x.status, 200);
	assert_string_equal(json_string_value(json_object_get(x.body, "current_state")), "started");
	assert_int_equal(json_integer_value(json_object_get(x.body, "shard")), 1);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(x.body, "current_node"), "name")),
		"es-data-0-es-default-logs");
	http_resp_free(&x);
	assert_true(sim_call(&f->sim, "GET", explain_path, NULL, &x));
	assert_int_equal(x.status, 400);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(x.body, "error"), "type")),
		"illegal_argument_exception");
	http_resp_free(&x);

	/* Newest first, and a limit is a limit. */
	struct http_resp r;
	assert_true(http_call(&f->d[0], "GET", "/api/v1/clusters/logs/health-history?limit=2", NULL,
			      NULL, &r));
	assert_int_equal(r.status, 200);
	json_t *hist = json_object_get(r.body, "history");
	assert_int_equal(json_array_size(hist), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(hist, 0), "status")),
			    "green");
	assert_string_equal(json_string_value(json_object_get(json_array_get(hist, 1), "status")),
			    "unreachable");
	http_resp_free(&r);
	assert_true(http_call(&f->d[0], "GET", "/api/v1/clusters/logs/health-history?limit=0", NULL,
			      NULL, &r));
	assert_int_equal(r.status, 422);
	http_resp_free(&r);
	assert_true(http_call(&f->d[0], "GET", "/api/v1/clusters/nosuch/health-history", NULL, NULL,
			      &r));
	assert_int_equal(r.status, 404);
	http_resp_free(&r);
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM cluster_health_history h JOIN clusters c"
				 " ON c.id = h.cluster_id WHERE c.name = 'logs'",
				 0, NULL),
			 5);

	/* The metrics: the families of every layer, and a parser's approval.
	 * The job gauges are read every JOB_GAUGES_MS (10 s): the last read
	 * may still count the create as it was; the next one counts none. */
	char *text = metrics_text(&f->d[0]);
	for (int64_t until = harness_now_ms() + 30000;
	     !strstr(text, "\nesaas_job_queue_depth 0\n") && harness_now_ms() < until;) {
		free(text);
		msleep(200);
		text = metrics_text(&f->d[0]);
	}
	static const char *const samples[] = {
		"esaas_cluster_health_status{tenant=\"default\",cluster=\"logs\",status=\"green\"} "
		"1",
		"esaas_cluster_health_status{tenant=\"default\",cluster=\"logs\",status=\"red\"} 0",
		"esaas_cluster_nodes{tenant=\"default\",cluster=\"logs\"} 3",
		"esaas_cluster_unassigned_shards{tenant=\"default\",cluster=\"logs\"} 0",
		"esaas_cluster_health_read_age_seconds{tenant=\"default\",cluster=\"logs\"} ",
		"esaas_health_sweeping 1",
		"esaas_health_shards_owned 64",
		"esaas_health_clusters_watched 1",
		"esaas_health_reads_total{result=\"unreachable\"} ",
		"esaas_http_client_requests_total{target=\"es\",class=\"5xx\"} ",
		"esaas_http_client_request_duration_seconds_bucket{target=\"kube\",le=\"+Inf\"} ",
		"esaas_db_query_duration_seconds_count ",
		"esaas_db_pool_connections{state=\"idle\"} ",
		"esaas_db_queries_total ",
		"esaas_job_transitions_total{workflow=\"create\",state=\"apply_namespace\","
		"outcome=\"next\"} 1",
		"esaas_job_state_duration_seconds_count{workflow=\"create\",state=\"apply_"
		"namespace\"} 1",
		"esaas_jobs{kind=\"create\",status=\"queued\"} 0",
		"esaas_job_queue_depth 0",
		"esaas_job_queue_oldest_age_seconds 0",
		"esaas_job_claims_total ",
		"esaas_job_lease_takeovers_total 0",
	};
	for (size_t k = 0; k < ARRAY_SIZE(samples); k++) {
		if (!strstr(text, samples[k]))
			fail_msg("/metrics has no \"%s\":\n%s", samples[k], text);
	}
	check_metric(text, "esaas_health_reads_total{result=\"ok\"}", 4, 1e9);
	check_metric(text, "esaas_health_changes_total", 5, 5);
	check_metric(text, "esaas_http_client_requests_total{target=\"es\",class=\"2xx\"}", 1, 1e9);
	check_metric(text, "esaas_http_client_requests_total{target=\"kube\",class=\"2xx\"}", 1,
		     1e9);
	check_metric(text,
		     "esaas_cluster_health_read_age_seconds{tenant=\"default\",cluster=\"logs\"}",
		     0, 10);
	promtool_check(text);
	free(text);
}

/* The owner name a replica writes in the lease tables: host/pid/random. */
static char *owner_of(PGconn *sql, const struct esaasd *d)
{
	char pattern[32];
	const char *p[] = {pattern};
	PGresult *r;
	char *owner = NULL;

	snprintf(pattern, sizeof(pattern), "%%/%d/%%", (int)d->pid);
	r = PQexecParams(sql, "SELECT owner FROM health_sweepers WHERE owner LIKE $1", 1, NULL, p,
			 NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		owner = xstrdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return owner;
}

/* The sim's count of health reads of each cluster's namespace, in order. */
static void health_reads(const struct sim *s, const char *const *names, size_t n, long *out)
{
	json_t *st = sim_record(s);
	json_t *es = json_object_get(st, "clusters");

	assert_non_null(st);
	for (size_t i = 0; i < n; i++) {
		char ns[64];

		snprintf(ns, sizeof(ns), "es-default-%s", names[i]);
		json_t *cl = json_object_get(es, ns);

		if (!cl)
			fail_msg("the simulator's record has no cluster %s", ns);
		out[i] = (long)json_integer_value(json_object_get(cl, "health_reads"));
	}
	json_decref(st);
}

/*
 * Over a window of `seconds`, each cluster is read about once a second: by
 * one replica, not two.  Two sweeping replicas would read it twice as
 * often; a slow machine reads it less often, never more, so the bound is
 * wide below and tight enough above to tell one replica from two.
 */
static void expect_read_once_per_interval(const struct sim *s, const char *const *names, size_t n,
					  int seconds)
{
	long before[8], after[8];
	int64_t end = harness_now_ms() + (int64_t)seconds * 1000;

	health_reads(s, names, n, before);
	/* A window of time to count in, not a wait for something to happen. */
	while (harness_now_ms() < end)
		msleep(50);
	health_reads(s, names, n, after);
	for (size_t i = 0; i < n; i++) {
		long reads = after[i] - before[i];

		if (reads < 1 || reads > seconds + seconds / 2)
			fail_msg("cluster %s read %ld times in %d s, at one read a second by one "
				 "replica",
				 names[i], reads, seconds);
	}
}

/* Every cluster's series come from exactly one replica, and all from the live ones. */
static bool each_swept_once(const struct fixture *f, const bool *alive, const char *const *names,
			    size_t n, int *sweeper)
{
	char *texts[2] = {NULL, NULL};
	bool ok = true;

	for (int k = 0; k < f->nd; k++)
		texts[k] = alive[k] ? metrics_text(&f->d[k]) : NULL;
	for (size_t i = 0; i < n && ok; i++) {
		char sample[160];
		int found = 0;

		snprintf(sample, sizeof(sample),
			 "esaas_cluster_nodes{tenant=\"default\",cluster=\"%s\"} ", names[i]);
		for (int k = 0; k < f->nd; k++) {
			if (texts[k] && strstr(texts[k], sample)) {
				found++;
				sweeper[i] = k;
			}
		}
		ok = found == 1;
	}
	for (int k = 0; k < f->nd; k++)
		free(texts[k]);
	return ok;
}

static void test_replicas_share_and_take_over(void **state)
{
	struct fixture *f = *state = fixture_new(2);
	static const char *const names[] = {"c1", "c2", "c3"};
	const size_t n = ARRAY_SIZE(names);
	bool alive[2] = {true, true};
	int sweeper[3] = {-1, -1, -1};
	int64_t deadline;

	for (size_t i = 0; i < n; i++) {
		char *spec = xasprintf(SMALL_CLUSTER, names[i]);

		assert_true(post_cluster(&f->d[0], spec) > 0);
		free(spec);
	}
	for (size_t i = 0; i < n; i++)
		json_decref(wait_health(&f->d[i % 2], names[i], "green"));

	/* The shards split between the two, half each, and no cluster is swept twice. */
	deadline = harness_now_ms() + WAIT_MS;
	for (;;) {
		char *a = metrics_text(&f->d[0]), *b = metrics_text(&f->d[1]);
		double sa = metric_value(a, "esaas_health_shards_owned");
		double sb = metric_value(b, "esaas_health_shards_owned");

		free(a);
		free(b);
		if (sa == 32 && sb == 32 && each_swept_once(f, alive, names, n, sweeper))
			break;
		if (harness_now_ms() > deadline)
			fail_msg("shards owned: %g and %g, not 32 each, or a cluster swept by "
				 "both or neither",
				 sa, sb);
		msleep(100);
	}
	expect_read_once_per_interval(&f->sim, names, n, 5);
	assert_true(each_swept_once(f, alive, names, n, sweeper));
	/* The database agrees: each cluster last checked by its shard's owner. */
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM cluster_health h JOIN health_shards s"
				 " ON s.shard = h.cluster_id % 64 WHERE h.checked_by = s.owner",
				 0, NULL),
			 3);

	/* kill -9 the replica sweeping c1: the other takes its shards over. */
	int victim = sweeper[0], survivor = 1 - victim;
	char *owner = owner_of(f->sql, &f->d[survivor]);

	assert_non_null(owner);
	assert_int_equal(esaasd_stop(&f->d[victim], SIGKILL, true), -SIGKILL);
	alive[victim] = false;
	deadline = harness_now_ms() + WAIT_MS;
	for (;;) {
		char *t = metrics_text(&f->d[survivor]);
		double owned = metric_value(t, "esaas_health_shards_owned");
		double taken = metric_value(t, "esaas_health_shard_takeovers_total");

		free(t);
		if (owned == 64 && taken >= 1 && each_swept_once(f, alive, names, n, sweeper))
			break;
		if (harness_now_ms() > deadline)
			fail_msg("after the kill, the survivor owns %g shards (took over %g)",
				 owned, taken);
		msleep(100);
	}
	const char *p[] = {owner};
	deadline = harness_now_ms() + WAIT_MS;
	while (sql_int(f->sql,
		       "SELECT count(*) FROM cluster_health WHERE checked_by = $1"
		       " AND checked_at > now() - interval '2 seconds'",
		       1, p) != 3 &&
	       harness_now_ms() < deadline)
		msleep(100);
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM cluster_health WHERE checked_by = $1"
				 " AND checked_at > now() - interval '2 seconds'",
				 1, p),
			 3);
	expect_read_once_per_interval(&f->sim, names, n, 4);

	/* A replica that stops cleanly gives its leases back and leaves. */
	assert_int_equal(esaasd_stop(&f->d[survivor], SIGTERM, true), 0);
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM health_shards WHERE owner IS NOT NULL", 0,
				 NULL),
			 0);
	assert_int_equal(
		sql_int(f->sql, "SELECT count(*) FROM health_sweepers WHERE owner = $1", 1, p), 0);
	free(owner);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_health_follows_the_cluster, teardown),
		cmocka_unit_test_teardown(test_replicas_share_and_take_over, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
