/*
 * Two esaasd replicas against one database, started the way
 * deploy/kubernetes/ starts them: the ConfigMap's esaasd.yaml as it is, the
 * Deployment's command line, the database URL in the environment variable
 * its Secret fills, and its probes.  They share the jobs and the health
 * sweep; when one is killed (kill -9, as the OOM killer or a lost node
 * would), the other finishes every job exactly once and sweeps every
 * cluster; a replacement, as the Deployment starts one, takes its share
 * back.
 *
 * What differs from a pod, each through the environment as a Deployment
 * would set it: the listen address (the replicas share 127.0.0.1 where pods
 * have an address each), the HTTPS certificate's files (made here, where a
 * pod mounts its Secret), the Kubernetes API (esaas-sim's kubeconfig in
 * KUBECONFIG, where a pod has its service account), the job viewer's files
 * (the source tree's, where the image has them installed), and shorter
 * leases and intervals, so that a takeover takes seconds, not a minute.
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
#include <sys/stat.h>

#include "common/util.h"
#include "common/yamljson.h"
#include "tests/integration/harness.h"

static struct pg pg;

static const char SIM_CONFIG[] = "tick_ms: 20\n"
				 "nodes:\n  count: 4\n"
				 "elasticsearch:\n  recovery_ms: 50\n";

static const char SMALL_CLUSTER[] =
	"{\"name\": \"%s\", \"version\": \"7.17.10\", \"masters\": {\"replicas\": 1},"
	" \"data\": {\"replicas\": 1}, \"clients\": {\"replicas\": 1}}";

/*
 * A test job that gives its lease back twice (the waits), so that the
 * replicas trade jobs, and holds it for a while in "work", so that the
 * replica killed holds some.
 */
static const char JOB_PLAN[] =
	"{\"plan\": {\"prepare\": [\"wait:100\", \"next\"],"
	" \"work\": [\"sleep:1500\"], \"verify\": [\"wait:100\", \"next\"]}}";

#define NCLUSTERS 3
#define NJOBS 40
#define NEXTRA 10
#define WAIT_MS 60000

/* What the manifests say, read from deploy/kubernetes/. */
struct manifests {
	char *config_text;    /* the ConfigMap's esaasd.yaml */
	char *config_arg;     /* the argument after -c in the Deployment's command */
	char *db_env;	      /* the variable the Secret fills: ESAAS_DATABASE_URL */
	const char *probe[3]; /* startup, liveness and readiness probes' paths */
	json_t *docs[2];      /* the ConfigMap and the Deployment, which own the strings */
};

struct fixture {
	struct manifests m;
	char dburl[600];
	char dir[300];
	char config[400];
	struct sim sim;
	struct esaasd d[3];
	int nd;
	PGconn *sql;
	/* The environment of every replica: NAME=value strings, owned. */
	char *env[16];
	char cert[600]; /* the HTTPS certificate, its own CA */
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

static json_t *load_manifest(const char *name)
{
	char path[600], *err = NULL;

	snprintf(path, sizeof(path), "%s/deploy/kubernetes/%s", harness_srcdir(), name);
	json_t *doc = yamljson_load_file(path, &err);

	if (!doc)
		fail_msg("%s: %s", path, err ? err : "cannot read");
	return doc;
}

static const char *probe_path(json_t *container, const char *probe)
{
	const char *path = json_string_value(json_object_get(
		json_object_get(json_object_get(container, probe), "httpGet"), "path"));

	if (!path)
		fail_msg("the Deployment's %s has no httpGet.path", probe);
	return path;
}

static void manifests_read(struct manifests *m)
{
	json_t *cm = m->docs[0] = load_manifest("configmap.yaml");
	json_t *dep = m->docs[1] = load_manifest("deployment.yaml");
	const char *cm_name =
		json_string_value(json_object_get(json_object_get(cm, "metadata"), "name"));
	const char *text =
		json_string_value(json_object_get(json_object_get(cm, "data"), "esaasd.yaml"));
	json_t *pod =
		json_object_get(json_object_get(json_object_get(dep, "spec"), "template"), "spec");
	json_t *container = json_array_get(json_object_get(pod, "containers"), 0);
	json_t *command = json_object_get(container, "command");
	size_t i;
	json_t *v;

	assert_non_null(cm_name);
	if (!text)
		fail_msg("the ConfigMap has no esaasd.yaml");
	m->config_text = xstrdup(text);

	/* esaasd -c FILE, FILE being the ConfigMap's esaasd.yaml where it is mounted. */
	const char *program = json_string_value(json_array_get(command, 0));
	assert_non_null(program);
	assert_non_null(strstr(program, "esaasd"));
	json_array_foreach (command, i, v) {
		if (i > 0 && strcmp(json_string_value(v), "-c") == 0)
			m->config_arg = xstrdup(json_string_value(json_array_get(command, i + 1)));
	}
	if (!m->config_arg || json_array_size(command) != 3)
		fail_msg("the Deployment's command is not esaasd -c FILE");
	const char *mount = NULL;
	json_array_foreach (json_object_get(pod, "volumes"), i, v) {
		const char *from =
			json_string_value(json_object_get(json_object_get(v, "configMap"), "name"));
		const char *vol = json_string_value(json_object_get(v, "name"));
		size_t j;
		json_t *mnt;

		if (!from || strcmp(from, cm_name) != 0)
			continue;
		json_array_foreach (json_object_get(container, "volumeMounts"), j, mnt) {
			if (strcmp(json_string_value(json_object_get(mnt, "name")), vol) == 0)
				mount = json_string_value(json_object_get(mnt, "mountPath"));
		}
	}
	assert_non_null(mount);
	char *expected = xasprintf("%s/esaasd.yaml", mount);
	assert_string_equal(m->config_arg, expected);
	free(expected);

	/* The database URL: the one variable that a Secret must fill (the
	 * others from Secrets are optional). */
	json_array_foreach (json_object_get(container, "env"), i, v) {
		json_t *ref = json_object_get(json_object_get(v, "valueFrom"), "secretKeyRef");

		if (!ref || json_is_true(json_object_get(ref, "optional")))
			continue;
		if (m->db_env)
			fail_msg("the Deployment needs more than one Secret");
		m->db_env = xstrdup(json_string_value(json_object_get(v, "name")));
	}
	if (!m->db_env || strncmp(m->db_env, "ESAAS_", 6) != 0)
		fail_msg("the Deployment passes no ESAAS_ variable from a Secret");

	m->probe[0] = probe_path(container, "startupProbe");
	m->probe[1] = probe_path(container, "livenessProbe");
	m->probe[2] = probe_path(container, "readinessProbe");
}

static void manifests_free(struct manifests *m)
{
	free(m->config_text);
	free(m->config_arg);
	free(m->db_env);
	json_decref(m->docs[0]);
	json_decref(m->docs[1]);
}

/* Probe as the kubelet does: an answer from 200 to 399 passes. */
static bool probe_passes(const struct esaasd *d, const char *path, long *status)
{
	struct http_resp r;
	bool ok = http_call(d, "GET", path, NULL, NULL, &r);

	*status = ok ? r.status : 0;
	http_resp_free(&r);
	return ok && *status >= 200 && *status < 400;
}

static void expect_probes_pass(const struct fixture *f, const struct esaasd *d)
{
	for (int i = 0; i < 3; i++) {
		long st;

		if (!probe_passes(d, f->m.probe[i], &st))
			fail_msg("%s %s answered %ld; see %s", d->base, f->m.probe[i], st, d->log);
	}
	/* The job viewer's page, from the files the configuration points at. */
	struct http_resp r;
	assert_true(http_call(d, "GET", "/ui/", NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.content_type, "text/html"));
	http_resp_free(&r);
}

/* Start replica d, as the Deployment starts a pod, and wait for its readiness. */
static void replica_start(struct fixture *f, struct esaasd *d)
{
	assert_true(esaasd_spawn_env(d, f->dir, f->config, (const char *const *)f->env));
	/* The ConfigMap serves HTTPS, with the certificate of the Secret. */
	snprintf(d->base, sizeof(d->base), "https://127.0.0.1:%d", d->port);
	harness_trust_ca(d->base, f->cert);
	f->nd++;
	assert_true(esaasd_wait_ready(d));
	expect_probes_pass(f, d);
}

static struct fixture *fixture_new(void)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	int n = 0;

	manifests_read(&f->m);
	assert_non_null(pg_new_database(&pg, f->dburl, sizeof(f->dburl)));
	assert_true(sim_start(&f->sim, pg.dir, SIM_CONFIG));

	/* The mounted ConfigMap: its file, word for word, at a folder of our own. */
	snprintf(f->dir, sizeof(f->dir), "%s/replicas-%d", pg.dir, (int)getpid());
	assert_int_equal(mkdir(f->dir, 0755), 0);
	snprintf(f->config, sizeof(f->config), "%s/esaasd.yaml", f->dir);
	FILE *cf = fopen(f->config, "w");
	assert_non_null(cf);
	fputs(f->m.config_text, cf);
	assert_int_equal(fclose(cf), 0);

	/* The Secret esaasd-tls (deploy/kubernetes/tls-secret.example.yaml), as
	 * an operator makes it: a certificate for the address the replicas
	 * serve, self-signed here, where a pod mounts it at the ConfigMap's
	 * path. */
	snprintf(f->cert, sizeof(f->cert), "%s/tls.crt", f->dir);
	char *key = xasprintf("%s/tls.key", f->dir);
	char *cmd = xasprintf("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
			      "-nodes -days 2 -subj /CN=esaasd -addext subjectAltName=IP:127.0.0.1 "
			      "-keyout %s -out %s 2>/dev/null",
			      key, f->cert);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	f->env[n++] = xasprintf("ESAAS_TLS_CERT_FILE=%s", f->cert);
	f->env[n++] = xasprintf("ESAAS_TLS_KEY_FILE=%s", key);
	free(key);
	f->env[n++] = xasprintf("%s=%s", f->m.db_env, f->dburl);
	f->env[n++] = xasprintf("KUBECONFIG=%s", f->sim.kubeconfig);
	/* The ConfigMap's elasticsearch.url, each cluster's Service as from
	 * esaasd's pod: here on the simulator's pod network. */
	f->env[n++] = xasprintf("ESAAS_ELASTICSEARCH_CONNECT_TO=127.0.0.1:%d", f->sim.podnet_port);
	f->env[n++] = xasprintf("ESAAS_HTTP_UI_DIR=%s/ui", harness_srcdir());
	f->env[n++] = xstrdup("ESAAS_ENGINE_LEASE_SECONDS=3");
	f->env[n++] = xstrdup("ESAAS_ENGINE_HEARTBEAT_SECONDS=1");
	f->env[n++] = xstrdup("ESAAS_ENGINE_WAIT_POLL_MS=100");
	f->env[n++] = xstrdup("ESAAS_MONITOR_INTERVAL_SECONDS=1");
	f->env[n++] = xstrdup("ESAAS_MONITOR_LEASE_SECONDS=3");
	f->env[n] = NULL;

	for (int i = 0; i < 2; i++)
		replica_start(f, &f->d[i]);
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
	if (sim_stop(&f->sim) != 0) {
		fprintf(stderr, "esaas-sim did not stop cleanly; see %s\n", f->sim.log);
		rc = -1;
	}
	PQfinish(f->sql);
	for (int i = 0; f->env[i]; i++)
		free(f->env[i]);
	manifests_free(&f->m);
	free(f);
	return rc;
}

/* --- what the replicas say about themselves ------------------------------------------- */

static char *metrics_text(const struct esaasd *d)
{
	struct http_resp r;
	char *text;

	assert_true(metrics_get(d, &r));
	assert_int_equal(r.status, 200);
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

static double metric_of(const struct esaasd *d, const char *prefix)
{
	char *text = metrics_text(d);
	double v = metric_value(text, prefix);

	free(text);
	return v;
}

/* The owner name a replica writes in jobs and leases: host/pid/random. */
static char *owner_of(PGconn *sql, const struct esaasd *d)
{
	char pattern[32];
	const char *p[] = {pattern};
	int64_t deadline = harness_now_ms() + WAIT_MS;
	char *owner = NULL;

	snprintf(pattern, sizeof(pattern), "%%/%d/%%", (int)d->pid);
	while (!owner && harness_now_ms() < deadline) {
		PGresult *r =
			PQexecParams(sql, "SELECT owner FROM health_sweepers WHERE owner LIKE $1",
				     1, NULL, p, NULL, NULL, 0);

		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
			owner = xstrdup(PQgetvalue(r, 0, 0));
		PQclear(r);
		if (!owner)
			msleep(50);
	}
	if (!owner)
		fail_msg("replica %d never joined the health sweep; see %s", (int)d->pid, d->log);
	return owner;
}

/*
 * Each cluster's series come from exactly one of the live replicas (the
 * one sweeping it), and every replica holds its share of the shards.
 */
static bool sweep_split(const struct fixture *f, const bool *alive, const char *const *names,
			double share, char *why, size_t whylen)
{
	char *texts[3] = {NULL, NULL, NULL};
	bool ok = true;

	for (int k = 0; k < f->nd; k++)
		texts[k] = alive[k] ? metrics_text(&f->d[k]) : NULL;
	for (int k = 0; k < f->nd && ok; k++) {
		double owned =
			texts[k] ? metric_value(texts[k], "esaas_health_shards_owned") : share;

		if (owned != share) {
			snprintf(why, whylen, "replica %d owns %g shards, not %g", k, owned, share);
			ok = false;
		}
	}
	for (int i = 0; i < NCLUSTERS && ok; i++) {
		char sample[160];
		int found = 0;

		snprintf(sample, sizeof(sample),
			 "esaas_cluster_nodes{tenant=\"default\",cluster=\"%s\"} ", names[i]);
		for (int k = 0; k < f->nd; k++)
			found += texts[k] && strstr(texts[k], sample) ? 1 : 0;
		if (found != 1) {
			snprintf(why, whylen, "cluster %s swept by %d replicas", names[i], found);
			ok = false;
		}
	}
	for (int k = 0; k < f->nd; k++)
		free(texts[k]);
	return ok;
}

static void wait_sweep_split(const struct fixture *f, const bool *alive, const char *const *names,
			     double share)
{
	int64_t deadline = harness_now_ms() + WAIT_MS;
	char why[200] = "";

	while (!sweep_split(f, alive, names, share, why, sizeof(why))) {
		if (harness_now_ms() > deadline)
			fail_msg("the sweep is not shared as it should be after %d ms: %s", WAIT_MS,
				 why);
		msleep(100);
	}
}

static long long sql_int1(PGconn *sql, const char *query, const char *param)
{
	const char *p[] = {param};

	return sql_int(sql, query, param ? 1 : 0, param ? p : NULL);
}

/* Wait until query (with param) counts at least min. */
static void wait_count(PGconn *sql, const char *query, const char *param, long long min,
		       const char *what)
{
	int64_t deadline = harness_now_ms() + WAIT_MS;
	long long n;

	while ((n = sql_int1(sql, query, param)) < min) {
		if (harness_now_ms() > deadline)
			fail_msg("%s: %lld after %d ms, expected at least %lld", what, n, WAIT_MS,
				 min);
		msleep(20);
	}
}

/* --- the test ----------------------------------------------------------------------------- */

static void test_two_replicas_share_and_survive(void **state)
{
	struct fixture *f = *state = fixture_new();
	static const char *const names[NCLUSTERS] = {"logs", "metrics", "traces"};
	bool alive[3] = {true, true, false};
	int64_t creates[NCLUSTERS], jobs[NJOBS + NEXTRA];
	char *owner[3];

	owner[0] = owner_of(f->sql, &f->d[0]);
	owner[1] = owner_of(f->sql, &f->d[1]);

	/* Clusters, created through either replica, and the sweep split between the two. */
	for (int i = 0; i < NCLUSTERS; i++) {
		char *spec = xasprintf(SMALL_CLUSTER, names[i]);

		creates[i] = post_cluster(&f->d[i % 2], spec);
		free(spec);
		assert_true(creates[i] > 0);
	}
	for (int i = 0; i < NCLUSTERS; i++)
		assert_true(job_succeeded(&f->d[(i + 1) % 2], creates[i], WAIT_MS));
	wait_sweep_split(f, alive, names, 32);
	assert_int_equal(sql_int1(f->sql, "SELECT count(*) FROM health_sweepers", NULL), 2);

	/* Many jobs, submitted to both; both replicas run some. */
	for (int i = 0; i < NJOBS; i++) {
		char cluster[32];

		snprintf(cluster, sizeof(cluster), "job-%02d", i);
		jobs[i] = submit_job(&f->d[i % 2], "test", cluster, JOB_PLAN);
		assert_true(jobs[i] > 0);
	}
	static const char ran_some[] =
		"SELECT count(*) FROM job_events e JOIN jobs j"
		" ON j.id = e.job_id WHERE j.kind = 'test' AND e.worker = $1";
	wait_count(f->sql, ran_some, owner[0], 1, "test job transitions by replica 0");
	wait_count(f->sql, ran_some, owner[1], 1, "test job transitions by replica 1");

	/* kill -9 replica 1 while it holds jobs in the middle of a state. */
	static const char held[] = "SELECT count(*) FROM jobs WHERE lease_owner = $1"
				   " AND kind = 'test' AND state = 'work' AND status = 'running'";
	wait_count(f->sql, held, owner[1], 1, "jobs replica 1 holds in work");
	assert_int_equal(esaasd_stop(&f->d[1], SIGKILL, true), -SIGKILL);
	alive[1] = false;
	assert_true(sql_int1(f->sql,
			     "SELECT count(*) FROM jobs WHERE status NOT IN"
			     " ('succeeded', 'failed', 'cancelled')",
			     NULL) > 0);
	/* What the kubelet sees, and why it starts another pod. */
	for (int i = 0; i < 3; i++) {
		long st;

		assert_false(probe_passes(&f->d[1], f->m.probe[i], &st));
	}

	/* Every job ends, succeeded, exactly once: each state left forward once, one end. */
	for (int i = 0; i < NJOBS; i++)
		assert_true(job_succeeded(&f->d[0], jobs[i], WAIT_MS));
	assert_int_equal(
		sql_int1(f->sql,
			 "SELECT count(*) FROM jobs j WHERE j.kind = 'test'"
			 " AND j.status = 'succeeded' AND j.lease_owner IS NULL"
			 " AND (SELECT string_agg(e.from_state, ' ' ORDER BY e.id)"
			 "  FROM job_events e WHERE e.job_id = j.id"
			 "  AND e.outcome IN ('next', 'succeeded')) = 'prepare work verify'"
			 " AND (SELECT count(*) FROM job_events e WHERE e.job_id = j.id"
			 "  AND e.status IN ('succeeded', 'failed', 'cancelled')) = 1",
			 NULL),
		NJOBS);
	/* The jobs replica 1 held were taken over once their leases ran out. */
	char *takeover = xasprintf("%%after taking over from %s,%%", owner[1]);
	const char *tp[] = {owner[0], takeover};
	assert_true(sql_int(f->sql,
			    "SELECT count(*) FROM job_events WHERE worker = $1 AND detail LIKE $2",
			    2, tp) >= 1);
	free(takeover);
	assert_true(metric_of(&f->d[0], "esaas_job_lease_takeovers_total") >= 1);

	/* The survivor sweeps every cluster: its shards and those of the dead one. */
	wait_sweep_split(f, alive, names, 64);
	assert_true(metric_of(&f->d[0], "esaas_health_shard_takeovers_total") >= 1);
	static const char fresh[] = "SELECT count(*) FROM cluster_health WHERE checked_by = $1"
				    " AND checked_at > now() - interval '2 seconds'";
	wait_count(f->sql, fresh, owner[0], NCLUSTERS, "clusters checked by the survivor");

	/* A replacement, as the Deployment starts one: the sweep is split again, jobs run. */
	replica_start(f, &f->d[2]);
	alive[2] = true;
	owner[2] = owner_of(f->sql, &f->d[2]);
	wait_sweep_split(f, alive, names, 32);
	for (int i = NJOBS; i < NJOBS + NEXTRA; i++) {
		char cluster[32];

		snprintf(cluster, sizeof(cluster), "job-%02d", i);
		jobs[i] = submit_job(&f->d[i % 2 ? 2 : 0], "test", cluster, JOB_PLAN);
		assert_true(jobs[i] > 0);
	}
	for (int i = NJOBS; i < NJOBS + NEXTRA; i++)
		assert_true(job_succeeded(&f->d[2], jobs[i], WAIT_MS));
	wait_count(f->sql, ran_some, owner[2], 1, "test job transitions by the replacement");

	/* Stopped as Kubernetes stops a pod: SIGTERM, exit 0, nothing left held. */
	assert_int_equal(esaasd_stop(&f->d[0], SIGTERM, true), 0);
	assert_int_equal(esaasd_stop(&f->d[2], SIGTERM, true), 0);
	assert_int_equal(
		sql_int1(f->sql, "SELECT count(*) FROM jobs WHERE lease_owner IS NOT NULL", NULL),
		0);
	assert_int_equal(
		sql_int1(f->sql, "SELECT count(*) FROM health_shards WHERE owner = $1", owner[0]),
		0);
	for (int i = 0; i < 3; i++)
		free(owner[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_two_replicas_share_and_survive, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
