/*
 * The alerting rules of deploy/prometheus/ in a real Prometheus (Debian's
 * prometheus package) that scrapes esaasd-test every second: a cluster the
 * simulator turns red fires ClusterRed, which resolves once it is green
 * again; a failed job fires JobFailed and a job left waiting past its
 * deadline JobPastDeadline; PostgreSQL stopped fires EsaasdNotReady, and
 * esaasd stopped EsaasdDown and NoHealthSweeper.
 *
 * Prometheus loads a copy of the real rule file in which only the for:
 * durations change, minutes becoming seconds, so that the expressions
 * tested are the shipped ones.  Without /usr/bin/prometheus (or
 * $ESAAS_PROMETHEUS) the tests skip, or fail when ESAAS_TEST_PROMETHEUS=1.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "tests/integration/harness.h"

static struct pg pg;

static const char SIM_CONFIG[] =
	"tick_ms: 20\n"
	"nodes:\n  count: 4\n  racks: [rack-a, rack-b]\n"
	"elasticsearch:\n  relocation_ms: 200\n  recovery_ms: 50\n  no_master_wait_ms: 500\n"
	"  indices:\n    - {name: logs, shards: 2, replicas: 0}\n";

/* Each cluster read every second. */
static const char MONITOR_YAML[] = "monitor:\n  interval_seconds: 1\n  jitter_percent: 10\n"
				   "  concurrency: 8\n  timeout_ms: 1000\n  lease_seconds: 3\n";

static const char SMALL_CLUSTER[] =
	"{\"name\": \"alerts\", \"version\": \"7.17.10\", \"masters\": {\"replicas\": 1},"
	" \"data\": {\"replicas\": 1}, \"clients\": {\"replicas\": 1}}";

/* Scrapes and evaluations every second, for: a few seconds, gauges every 10 s. */
#define ALERT_WAIT_MS 60000

/* --- Prometheus ------------------------------------------------------------------- */

struct prom {
	pid_t pid;
	char dir[300];
	char log[340];
	char rules[340];
	struct esaasd api; /* only its base URL: http_call's target */
};

static const char *prometheus_bin(void)
{
	const char *bin = getenv("ESAAS_PROMETHEUS");

	return bin && *bin ? bin : "/usr/bin/prometheus";
}

/* Skip when there is no Prometheus here, unless it is required. */
static void need_prometheus(void)
{
	const char *required = getenv("ESAAS_TEST_PROMETHEUS");

	if (access(prometheus_bin(), X_OK) == 0)
		return;
	if (required && strcmp(required, "1") == 0)
		fail_msg("%s not found (apt-get install prometheus) and ESAAS_TEST_PROMETHEUS=1",
			 prometheus_bin());
	fprintf(stderr, "%s not found (apt-get install prometheus): skipped\n", prometheus_bin());
	skip();
}

/* Seconds in a Prometheus duration ("5m", "1h30m"), or -1. */
static long duration_s(const char *s)
{
	long total = 0;

	if (!*s)
		return -1;
	while (*s) {
		char *end;
		long n = strtol(s, &end, 10);

		if (end == s || n < 0)
			return -1;
		switch (*end) {
		case 's':
			total += n;
			break;
		case 'm':
			total += n * 60;
			break;
		case 'h':
			total += n * 3600;
			break;
		case 'd':
			total += n * 86400;
			break;
		default:
			return -1;
		}
		s = end + 1;
	}
	return total;
}

/*
 * Copy the rule file from to to, every "for: D" becoming D/60 seconds
 * (at least 1 but for 0): 5m waits 5 s.  Returns how many were rewritten, -1 on a
 * for: whose duration is not understood.
 */
static int rewrite_rules(const char *from, const char *to)
{
	FILE *in = fopen(from, "r"), *out = fopen(to, "w");
	char *line = NULL;
	size_t cap = 0;
	int n = 0;

	if (!in || !out) {
		fprintf(stderr, "cannot copy %s to %s\n", from, to);
		n = -1;
		goto done;
	}
	while (getline(&line, &cap, in) != -1) {
		size_t indent = strspn(line, " ");

		if (strncmp(line + indent, "for:", 4) != 0) {
			fputs(line, out);
			continue;
		}
		char value[64];
		const char *v = line + indent + 4;

		v += strspn(v, " \"'");
		snprintf(value, sizeof(value), "%.*s", (int)strcspn(v, " \"'\r\n#"), v);
		long s = duration_s(value);

		if (s < 0) {
			fprintf(stderr, "%s: cannot read the duration of %s", from, line);
			n = -1;
			goto done;
		}
		long short_s = s / 60;

		if (s > 0 && short_s == 0)
			short_s = 1;
		fprintf(out, "%.*sfor: %lds\n", (int)indent, line, short_s);
		n++;
	}
done:
	free(line);
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		n = -1;
	return n;
}

/* Start Prometheus scraping esaasd d as job "esaasd", with the rules' copy. */
static bool prom_start(struct prom *p, const struct esaasd *d)
{
	static int counter;
	char src[600], config[340], tsdb[340];
	char a_config[400], a_tsdb[400], a_listen[64];
	int port = harness_free_port();

	memset(p, 0, sizeof(*p));
	snprintf(p->dir, sizeof(p->dir), "%s/prometheus-%d", pg.dir, ++counter);
	snprintf(p->log, sizeof(p->log), "%s/prometheus.log", p->dir);
	snprintf(p->rules, sizeof(p->rules), "%s/alerts.yaml", p->dir);
	snprintf(config, sizeof(config), "%s/prometheus.yml", p->dir);
	snprintf(tsdb, sizeof(tsdb), "%s/data", p->dir);
	snprintf(src, sizeof(src), "%s/deploy/prometheus/alerts.yaml", harness_srcdir());
	if (port < 0 || mkdir(p->dir, 0755) != 0)
		return false;
	int rewritten = rewrite_rules(src, p->rules);

	if (rewritten <= 0) {
		fprintf(stderr, "%s: no for: duration rewritten\n", src);
		return false;
	}
	FILE *f = fopen(config, "w");

	if (!f)
		return false;
	fprintf(f,
		"global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
		"rule_files:\n  - %s\n"
		"scrape_configs:\n  - job_name: esaasd\n    static_configs:\n"
		"      - targets: ['127.0.0.1:%d']\n",
		p->rules, d->metrics_port);
	if (fclose(f) != 0)
		return false;
	snprintf(a_config, sizeof(a_config), "--config.file=%s", config);
	snprintf(a_tsdb, sizeof(a_tsdb), "--storage.tsdb.path=%s", tsdb);
	snprintf(a_listen, sizeof(a_listen), "--web.listen-address=127.0.0.1:%d", port);
	snprintf(p->api.base, sizeof(p->api.base), "http://127.0.0.1:%d", port);
	p->api.port = port;

	const char *bin = prometheus_bin();

	p->pid = fork();
	if (p->pid < 0)
		return false;
	if (p->pid == 0) {
		int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execl(bin, bin, a_config, a_tsdb, a_listen, (char *)NULL);
		_exit(127);
	}
	int64_t deadline = harness_now_ms() + 30000;

	while (harness_now_ms() < deadline) {
		struct http_resp r;

		if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
			fprintf(stderr, "%s exited during start-up; see %s\n", bin, p->log);
			p->pid = 0;
			return false;
		}
		if (http_call(&p->api, "GET", "/-/ready", NULL, NULL, &r)) {
			long st = r.status;

			http_resp_free(&r);
			if (st == 200)
				return true;
		}
		msleep(50);
	}
	fprintf(stderr, "%s not ready after 30 s; see %s\n", bin, p->log);
	return false;
}

/* SIGTERM, then SIGKILL if it has not exited after 20 s; 0 when it stopped. */
static int prom_stop(struct prom *p)
{
	int64_t deadline = harness_now_ms() + 20000;
	int rc = 0;

	if (p->pid <= 0)
		return 0;
	kill(p->pid, SIGTERM);
	while (waitpid(p->pid, NULL, WNOHANG) != p->pid) {
		if (harness_now_ms() > deadline) {
			fprintf(stderr, "prometheus did not stop on SIGTERM; killed; see %s\n",
				p->log);
			kill(p->pid, SIGKILL);
			waitpid(p->pid, NULL, 0);
			rc = -1;
			break;
		}
		msleep(20);
	}
	p->pid = 0;
	return rc;
}

/* A JSON string's text, or "" for anything else. */
static const char *text_of(const json_t *v)
{
	const char *s = json_string_value(v);

	return s ? s : "";
}

/* GET path: the answer's "data" member (a new reference) when its status is success. */
static json_t *prom_get(const struct prom *p, const char *path)
{
	struct http_resp r;
	json_t *data = NULL;

	if (http_call(&p->api, "GET", path, NULL, NULL, &r) && r.status == 200 &&
	    strcmp(text_of(json_object_get(r.body, "status")), "success") == 0)
		data = json_incref(json_object_get(r.body, "data"));
	http_resp_free(&r);
	return data;
}

/* How many series the instant query answers, or -1. */
static int prom_count(const struct prom *p, const char *promql)
{
	char path[1024] = "/api/v1/query?query=";
	size_t n = strlen(path);
	int count = -1;

	for (const unsigned char *c = (const unsigned char *)promql; *c && n + 4 < sizeof(path);
	     c++) {
		if (isalnum(*c) || strchr("-_.~", *c))
			path[n++] = (char)*c;
		else
			n += (size_t)snprintf(path + n, sizeof(path) - n, "%%%02X", *c);
	}
	path[n] = '\0';
	json_t *data = prom_get(p, path);
	json_t *result = json_object_get(data, "result");

	if (json_is_array(result))
		count = (int)json_array_size(result);
	json_decref(data);
	return count;
}

static void wait_query(const struct prom *p, const char *promql)
{
	int64_t deadline = harness_now_ms() + ALERT_WAIT_MS;

	while (harness_now_ms() < deadline) {
		if (prom_count(p, promql) > 0)
			return;
		msleep(200);
	}
	fail_msg("Prometheus: no series for %s after %d ms; see %s", promql, ALERT_WAIT_MS, p->log);
}

/* Every active alert, compact JSON (free it), for messages. */
static char *alerts_text(const struct prom *p)
{
	json_t *data = prom_get(p, "/api/v1/alerts");
	char *text = data ? json_dumps(json_object_get(data, "alerts"), JSON_COMPACT) : NULL;

	json_decref(data);
	return text ? text : xstrdup("(no answer)");
}

/*
 * The active alert name whose label has value (any alert of that name when
 * label is NULL): a new reference, or NULL.
 */
static json_t *prom_alert(const struct prom *p, const char *name, const char *label,
			  const char *value)
{
	json_t *data = prom_get(p, "/api/v1/alerts");
	json_t *alert, *found = NULL;
	size_t i;

	json_array_foreach (json_object_get(data, "alerts"), i, alert) {
		json_t *labels = json_object_get(alert, "labels");
		const char *n = json_string_value(json_object_get(labels, "alertname"));
		const char *v = label ? json_string_value(json_object_get(labels, label)) : NULL;

		if (n && strcmp(n, name) == 0 && (!label || (v && strcmp(v, value) == 0))) {
			found = json_incref(alert);
			break;
		}
	}
	json_decref(data);
	return found;
}

static const char *alert_state(const json_t *alert)
{
	return text_of(json_object_get(alert, "state"));
}

static const char *alert_label(const json_t *alert, const char *label)
{
	return text_of(json_object_get(json_object_get(alert, "labels"), label));
}

static const char *alert_annotation(const json_t *alert, const char *key)
{
	return text_of(json_object_get(json_object_get(alert, "annotations"), key));
}

/*
 * Wait until the alert fires (a new reference); *saw_pending, when given,
 * tells whether it was seen pending first.
 */
static json_t *wait_firing(const struct prom *p, const char *name, const char *label,
			   const char *value, bool *saw_pending)
{
	int64_t deadline = harness_now_ms() + ALERT_WAIT_MS;

	if (saw_pending)
		*saw_pending = false;
	while (harness_now_ms() < deadline) {
		json_t *a = prom_alert(p, name, label, value);

		if (a && strcmp(alert_state(a), "firing") == 0)
			return a;
		if (a && saw_pending && strcmp(alert_state(a), "pending") == 0)
			*saw_pending = true;
		json_decref(a);
		msleep(200);
	}
	char *all = alerts_text(p);

	fail_msg("%s{%s%s%s%s} not firing after %d ms; active alerts: %s; see %s", name,
		 label ? label : "", label ? "=\"" : "", label ? value : "", label ? "\"" : "",
		 ALERT_WAIT_MS, all, p->log);
	free(all);
	return NULL;
}

static void wait_resolved(const struct prom *p, const char *name, const char *label,
			  const char *value)
{
	int64_t deadline = harness_now_ms() + ALERT_WAIT_MS;

	while (harness_now_ms() < deadline) {
		json_t *a = prom_alert(p, name, label, value);

		if (!a)
			return;
		json_decref(a);
		msleep(200);
	}
	char *all = alerts_text(p);

	fail_msg("%s{%s%s%s%s} still active after %d ms; active alerts: %s", name,
		 label ? label : "", label ? "=\"" : "", label ? value : "", label ? "\"" : "",
		 ALERT_WAIT_MS, all);
	free(all);
}

/* The loaded alerting rule name, with its for: in seconds (-1 when not loaded). */
static long rule_for_s(const struct prom *p, const char *name)
{
	json_t *data = prom_get(p, "/api/v1/rules?type=alert");
	json_t *group, *rule;
	size_t i, k;
	long s = -1;

	json_array_foreach (json_object_get(data, "groups"), i, group) {
		json_array_foreach (json_object_get(group, "rules"), k, rule) {
			const char *n = json_string_value(json_object_get(rule, "name"));

			if (n && strcmp(n, name) == 0 && s < 0)
				s = (long)json_number_value(json_object_get(rule, "duration"));
		}
	}
	json_decref(data);
	return s;
}

/* --- the fixture ---------------------------------------------------------------- */

struct fixture {
	char dburl[600];
	struct sim sim;
	struct esaasd d;
	struct prom prom;
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
	struct esaasd_opts o = {
		.retry_base_ms = 100, .retry_cap_ms = 500, .extra_yaml = MONITOR_YAML};

	assert_non_null(pg_new_database(&pg, f->dburl, sizeof(f->dburl)));
	assert_true(sim_start(&f->sim, pg.dir, SIM_CONFIG));
	o.kubeconfig = f->sim.kubeconfig;
	assert_true(esaasd_start(&f->d, pg.dir, f->dburl, &o));
	assert_true(prom_start(&f->prom, &f->d));
	/* The real rules are loaded, with their for: shortened. */
	assert_int_equal(rule_for_s(&f->prom, "ClusterRed"), 5);
	assert_int_equal(rule_for_s(&f->prom, "JobFailed"), 0);
	return f;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int rc = 0;

	if (!f)
		return 0;
	if (prom_stop(&f->prom) != 0)
		rc = -1;
	int st = f->d.pid > 0 ? esaasd_stop(&f->d, SIGTERM, true) : 0;

	if (st != 0) {
		fprintf(stderr, "esaasd exited with %d on SIGTERM; see %s\n", st, f->d.log);
		rc = -1;
	}
	if (sim_stop(&f->sim) != 0) {
		fprintf(stderr, "esaas-sim did not stop cleanly; see %s\n", f->sim.log);
		rc = -1;
	}
	free(f);
	return rc;
}

static void sim_ok(const struct sim *s, const char *method, const char *path, const char *body)
{
	struct http_resp r;

	assert_true(sim_call(s, method, path, body, &r));
	if (r.status < 200 || r.status > 299)
		fail_msg("%s %s on the simulator: %ld %s", method, path, r.status, r.raw);
	http_resp_free(&r);
}

/* No alert fires (pending ones may, while a figure settles). */
static void assert_none_firing(const struct prom *p)
{
	json_t *data = prom_get(p, "/api/v1/alerts");
	json_t *alert;
	size_t i;

	assert_non_null(data);
	json_array_foreach (json_object_get(data, "alerts"), i, alert) {
		if (strcmp(alert_state(alert), "firing") == 0) {
			char *all = alerts_text(p);

			fail_msg("%s fires on a healthy esaas: %s", alert_label(alert, "alertname"),
				 all);
			free(all);
		}
	}
	json_decref(data);
}

/* --- the tests ------------------------------------------------------------------- */

static void test_cluster_red_fires_and_resolves(void **state)
{
	need_prometheus();
	struct fixture *f = *state = fixture_new();
	int64_t id = post_cluster(&f->d, SMALL_CLUSTER);

	assert_true(id > 0);
	assert_true(job_succeeded(&f->d, id, 90000));

	/* Prometheus sees it green, and has checked its rules since. */
	wait_query(&f->prom, "esaas_cluster_health_status{cluster=\"alerts\",status=\"green\"}"
			     " == 1");
	wait_query(&f->prom, "sum(esaas_health_shards_owned) == 64");
	wait_query(&f->prom, "count_over_time(esaas_ready[10s]) >= 5");
	assert_none_firing(&f->prom);

	/* Red: pending for the rule's for:, then firing. */
	sim_ok(&f->sim, "POST", "/_sim/faults", "{\"red_clusters\": [\"es-default-alerts\"]}");
	bool saw_pending;
	json_t *a = wait_firing(&f->prom, "ClusterRed", "cluster", "alerts", &saw_pending);

	assert_true(saw_pending);
	assert_string_equal(alert_label(a, "tenant"), "default");
	assert_string_equal(alert_label(a, "severity"), "page");
	assert_string_equal(alert_annotation(a, "runbook_url"),
			    "docs/operations.md#runbook-cluster-red");
	assert_non_null(strstr(alert_annotation(a, "summary"), "default/alerts"));
	assert_non_null(strstr(alert_annotation(a, "runbook"), "esaasctl clusters show alerts"));
	json_decref(a);
	/* Only that alert fires. */
	assert_null(prom_alert(&f->prom, "ClusterUnreachable", NULL, NULL));
	assert_null(prom_alert(&f->prom, "EsaasdDown", NULL, NULL));

	/* Green again: resolved. */
	sim_ok(&f->sim, "DELETE", "/_sim/faults", NULL);
	wait_resolved(&f->prom, "ClusterRed", "cluster", "alerts");
	wait_query(&f->prom, "esaas_cluster_health_status{cluster=\"alerts\",status=\"green\"}"
			     " == 1");
}

static void test_job_alerts(void **state)
{
	need_prometheus();
	struct fixture *f = *state = fixture_new();

	/* The counter is there at 0 before anything fails, so increase() sees the first. */
	wait_query(&f->prom, "esaas_jobs_failed_total{kind=\"test\"} == 0");
	assert_null(prom_alert(&f->prom, "JobFailed", NULL, NULL));

	/* A job that fails, after its cleanup. */
	int64_t id = submit_job(&f->d, "test", "c1", "{\"plan\": {\"work\": [\"fail\"]}}");
	assert_true(id > 0);
	json_t *job = wait_job_done(&f->d, id, 30000);
	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "failed");
	json_decref(job);
	json_t *a = wait_firing(&f->prom, "JobFailed", "kind", "test", NULL);

	assert_string_equal(alert_label(a, "severity"), "ticket");
	assert_string_equal(alert_annotation(a, "runbook_url"),
			    "docs/operations.md#runbook-job-failed");
	assert_non_null(strstr(alert_annotation(a, "summary"), "test job(s) failed"));
	json_decref(a);

	/*
	 * A job whose "slow" state (a 2-second deadline) waits for an hour: the
	 * engine would fail it only when it runs it again.  Until then it is
	 * past its deadline.
	 */
	id = submit_job(&f->d, "test_deadline", "c2", "{\"plan\": {\"slow\": [\"wait:3600000\"]}}");
	assert_true(id > 0);
	job = wait_job_status(&f->d, id, "waiting", 30000);
	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "state")), "slow");
	json_decref(job);
	a = wait_firing(&f->prom, "JobPastDeadline", "kind", "test_deadline", NULL);
	assert_string_equal(alert_annotation(a, "runbook_url"),
			    "docs/operations.md#runbook-job-past-deadline");
	json_decref(a);
	/* Only that job: the failed one is finished. */
	assert_null(prom_alert(&f->prom, "JobPastDeadline", "kind", "test"));

	/* Cancelled, it is no longer past anything. */
	char path[64];
	struct http_resp r;

	const char *actor[] = {"X-Esaas-Actor: on-call", NULL};

	snprintf(path, sizeof(path), "/api/v1/jobs/%lld/cancel", (long long)id);
	assert_true(http_call(&f->d, "POST", path, "{\"reason\": \"stuck past its deadline\"}",
			      actor, &r));
	/* It is running (past its deadline): accepted, not done at once. */
	if (r.status != 202)
		fail_msg("cancel: %ld %s", r.status, r.raw);
	http_resp_free(&r);
	job = wait_job_done(&f->d, id, 30000);
	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "cancelled");
	json_decref(job);
	wait_resolved(&f->prom, "JobPastDeadline", "kind", "test_deadline");
}

static void test_esaasd_not_ready_and_down(void **state)
{
	need_prometheus();
	struct fixture *f = *state = fixture_new();

	wait_query(&f->prom, "count_over_time(esaas_ready[10s]) >= 5 and esaas_ready == 1");
	assert_null(prom_alert(&f->prom, "EsaasdNotReady", NULL, NULL));

	/* The database goes away: up, but not ready. */
	assert_true(pg_ctl(&pg, "stop"));
	json_t *a = wait_firing(&f->prom, "EsaasdNotReady", NULL, NULL, NULL);

	assert_string_equal(alert_label(a, "severity"), "page");
	assert_string_equal(alert_annotation(a, "runbook_url"),
			    "docs/operations.md#runbook-esaasd-not-ready");
	json_decref(a);
	assert_true(pg_ctl(&pg, "start"));
	wait_resolved(&f->prom, "EsaasdNotReady", NULL, NULL);

	/* esaasd stops: nothing to scrape, and no one sweeps. */
	assert_int_equal(esaasd_stop(&f->d, SIGTERM, true), 0);
	a = wait_firing(&f->prom, "EsaasdDown", NULL, NULL, NULL);
	assert_string_equal(alert_label(a, "severity"), "page");
	assert_string_equal(alert_annotation(a, "runbook_url"),
			    "docs/operations.md#runbook-esaasd-down");
	json_decref(a);
	a = wait_firing(&f->prom, "NoHealthSweeper", NULL, NULL, NULL);
	assert_string_equal(alert_annotation(a, "runbook_url"),
			    "docs/operations.md#runbook-no-sweeper");
	json_decref(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_cluster_red_fires_and_resolves, teardown),
		cmocka_unit_test_teardown(test_job_alerts, teardown),
		cmocka_unit_test_teardown(test_esaasd_not_ready_and_down, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
