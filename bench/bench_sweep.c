/*
 * The health sweep at scale: one esaasd-test sweeping 10,000 ready clusters
 * every 10 s against a private PostgreSQL with fsync on.
 *
 * The clusters are rows inserted straight into the database, marked ready.
 * A cluster's namespace is stored with it and unique among live clusters
 * (storage/migrations/0008_namespace.sql), so the rows no longer all name
 * the one real Elasticsearch cluster of esaas-sim made first through the
 * API: their reads get the service proxy's answer for a namespace without
 * the Service, and the figures measure that path until the simulator can
 * serve many clusters' health cheaply.
 *
 * Each run measures, over a window of whole intervals once every cluster is
 * watched: the read rate (esaas_health_reads_total), how many clusters were
 * read at least once in the window (cluster_health.checked_at), the sweep's
 * lag (esaas_health_sweep_lag_seconds, at the end), esaasd's CPU from
 * /proc/PID/stat, its RSS (the largest VmRSS sampled every second, and
 * VmHWM), and the simulator's CPU for context.  The baselines, in the same
 * invocation: the same esaasd with the sweep off, and the sweep at
 * concurrency 1.  Run it with `make bench-sweep`; bench/README.md has the
 * figures.
 */
#include "common/util.h"
#include "tests/integration/harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_RUNS 8

struct options {
	int clusters;
	int interval_s;
	int windows;	    /* intervals per measuring window */
	int conc[MAX_RUNS]; /* one run per concurrency */
	int nconc;
	int latency_ms; /* added by the simulator to every health read */
	bool keep;
};

struct run {
	const char *label;
	int concurrency; /* 0: the sweep off */
	double reads_per_s;
	long long clusters_read;
	double lag_s;
	double cpu_percent;
	double cpu_us_per_read;
	long long rss_kib, hwm_kib;
	double sim_cpu_percent;
	size_t scrape_bytes;
	int64_t scrape_ms;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_sweep [-n CLUSTERS] [-i INTERVAL_S] [-w INTERVALS]\n"
		   "                   [-c CONC[,CONC...]] [-l LATENCY_MS] [-k]\n"
		   "  -n  ready clusters inserted in the database (default 10000)\n"
		   "  -i  monitor.interval_seconds (default 10)\n"
		   "  -w  intervals in each measuring window (default 3)\n"
		   "  -c  monitor.concurrency of each sweeping run (default 64,1)\n"
		   "  -l  latency the simulator adds to each health read, in ms (default 0)\n"
		   "  -k  keep the PostgreSQL folder afterwards\n"
		   "ESAAS_SRCDIR and ESAAS_BUILDDIR locate the tree, esaasd-test and esaas-sim.\n");
}

static bool parse_options(int argc, char **argv, struct options *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->clusters = 10000;
	o->interval_s = 10;
	o->windows = 3;
	o->conc[0] = 64;
	o->conc[1] = 1;
	o->nconc = 2;
	while ((c = getopt(argc, argv, "n:i:w:c:l:kh")) != -1) {
		switch (c) {
		case 'n':
			if (!parse_int(optarg, 1, 1000000, &o->clusters))
				return false;
			break;
		case 'i':
			if (!parse_int(optarg, 1, 3600, &o->interval_s))
				return false;
			break;
		case 'w':
			if (!parse_int(optarg, 1, 100, &o->windows))
				return false;
			break;
		case 'c': {
			char *copy = xstrdup(optarg), *save = NULL;

			o->nconc = 0;
			for (char *t = strtok_r(copy, ",", &save); t;
			     t = strtok_r(NULL, ",", &save)) {
				if (o->nconc >= MAX_RUNS ||
				    !parse_int(t, 1, 10000, &o->conc[o->nconc])) {
					free(copy);
					return false;
				}
				o->nconc++;
			}
			free(copy);
			if (o->nconc == 0)
				return false;
			break;
		}
		case 'l':
			if (!parse_int(optarg, 0, 60000, &o->latency_ms))
				return false;
			break;
		case 'k':
			o->keep = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return false;
		}
	}
	return optind == argc;
}

/* --- PostgreSQL ------------------------------------------------------------------- */

static bool sql_exec(PGconn *c, const char *sql, int nparams, const char *const *params)
{
	PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

	if (!ok)
		fprintf(stderr, "bench_sweep: %.60s...: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	return ok;
}

/* tests/pg.sh runs without fsync; the sweep's writes pay for it here as in production. */
static bool pg_start_durable(struct pg *pg)
{
	PGconn *c;
	bool ok;

	str_copy_trunc(pg->dir, "/tmp/esaas-bench-XXXXXX", sizeof(pg->dir));
	if (!mkdtemp(pg->dir) || !pg_ctl(pg, "start"))
		return false;
	c = sql_connect(pg->url);
	if (!c)
		return false;
	ok = sql_exec(c, "ALTER SYSTEM SET fsync = on", 0, NULL) &&
	     sql_exec(c, "ALTER SYSTEM SET full_page_writes = on", 0, NULL) &&
	     sql_exec(c, "ALTER SYSTEM SET synchronous_commit = on", 0, NULL);
	PQfinish(c);
	return ok && pg_ctl(pg, "restart");
}

/* --- processes ------------------------------------------------------------------------ */

/* utime + stime of a process, in clock ticks; -1 if unreadable. */
static long long proc_cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	FILE *f;
	size_t n;
	unsigned long long utime, stime;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command may hold spaces and parentheses: fields count from the last ')'. */
	char *p = strrchr(buf, ')');

	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
			 &stime) != 2)
		return -1;
	return (long long)(utime + stime);
}

static void proc_memory(pid_t pid, long long *rss_kib, long long *hwm_kib)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	*rss_kib = *hwm_kib = -1;
	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "VmRSS:", 6) == 0)
			*rss_kib = strtoll(line + 6, NULL, 10);
		else if (strncmp(line, "VmHWM:", 6) == 0)
			*hwm_kib = strtoll(line + 6, NULL, 10);
	}
	if (f)
		fclose(f);
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

static char *scrape(const struct esaasd *d, size_t *bytes, int64_t *ms)
{
	struct http_resp r;
	int64_t t0 = harness_now_ms();
	char *text = NULL;

	if (metrics_get(d, &r) && r.status == 200)
		text = xstrdup(r.raw);
	if (ms)
		*ms = harness_now_ms() - t0;
	if (bytes)
		*bytes = text ? strlen(text) : 0;
	http_resp_free(&r);
	return text;
}

static double reads_total(const char *text)
{
	return metric_value(text, "esaas_health_reads_total{result=\"ok\"}") +
	       metric_value(text, "esaas_health_reads_total{result=\"unreachable\"}");
}

/* --- the cluster every row points at ------------------------------------------------------ */

static bool make_real_cluster(struct pg *pg, const char *dburl, const struct sim *sim)
{
	struct esaasd d;
	struct esaasd_opts o = {.log_level = "info", .kubeconfig = sim->kubeconfig};
	struct http_resp r;
	int64_t id = 0;
	bool ok = false;

	if (!esaasd_start(&d, pg->dir, dburl, &o))
		return false;
	if (http_call(&d, "POST", "/api/v1/clusters",
		      "{\"name\": \"bench\", \"version\": \"7.17.10\", \"masters\": {\"replicas\": "
		      "1},"
		      " \"data\": {\"replicas\": 2}, \"clients\": {\"replicas\": 1}}",
		      NULL, &r) &&
	    r.status == 202)
		id = json_integer_value(json_object_get(r.body, "id"));
	http_resp_free(&r);
	if (id > 0) {
		json_t *job = wait_job_done(&d, id, 120000);
		const char *st = json_string_value(json_object_get(job, "status"));

		ok = st && strcmp(st, "succeeded") == 0;
		if (!ok)
			fprintf(stderr, "bench_sweep: the cluster's create ended %s; see %s\n",
				st ? st : "never", d.log);
		json_decref(job);
	}
	return esaasd_stop(&d, SIGTERM, true) == 0 && ok;
}

/* --- one run ------------------------------------------------------------------------------ */

static bool measure(struct pg *pg, const char *dburl, const struct sim *sim,
		    const struct options *o, PGconn *sql, struct run *run)
{
	char yaml[256];
	struct esaasd d;
	struct esaasd_opts eo = {
		.log_level = "info", .kubeconfig = sim->kubeconfig, .extra_yaml = yaml};
	int64_t window_ms = (int64_t)o->windows * o->interval_s * 1000;
	long ticks = sysconf(_SC_CLK_TCK);
	bool ok = false;
	char *before = NULL, *after = NULL;

	if (run->concurrency > 0)
		snprintf(yaml, sizeof(yaml),
			 "monitor:\n  interval_seconds: %d\n  concurrency: %d\n", o->interval_s,
			 run->concurrency);
	else
		snprintf(yaml, sizeof(yaml), "monitor:\n  enabled: false\n");
	if (!esaasd_start(&d, pg->dir, dburl, &eo))
		return false;

	/* Settle: every cluster watched and one whole interval of reads behind us. */
	int64_t deadline = harness_now_ms() + 120000;
	for (;;) {
		char *t = scrape(&d, NULL, NULL);
		double watched = t ? metric_value(t, "esaas_health_clusters_watched") : -1;

		free(t);
		if (run->concurrency == 0 || watched == o->clusters + 1)
			break;
		if (interrupted || harness_now_ms() > deadline) {
			fprintf(stderr,
				"bench_sweep: the sweep watches %.0f clusters, not %d; see %s\n",
				watched, o->clusters + 1, d.log);
			goto out;
		}
		msleep(200);
	}
	int64_t settle = harness_now_ms() + (int64_t)o->interval_s * 1000;

	while (!interrupted && harness_now_ms() < settle)
		msleep(100);

	/* The window. */
	PGresult *res = PQexecParams(sql, "SELECT now()", 0, NULL, NULL, NULL, NULL, 0);
	char *t0 = xstrdup(PQresultStatus(res) == PGRES_TUPLES_OK ? PQgetvalue(res, 0, 0) : "now");

	PQclear(res);
	before = scrape(&d, NULL, NULL);
	long long cpu0 = proc_cpu_ticks(d.pid), sim0 = proc_cpu_ticks(sim->pid);
	int64_t start = harness_now_ms(), end = start + window_ms;

	run->rss_kib = 0;
	while (!interrupted && harness_now_ms() < end) {
		long long rss, hwm;

		proc_memory(d.pid, &rss, &hwm);
		if (rss > run->rss_kib)
			run->rss_kib = rss;
		msleep(1000);
	}
	long long cpu1 = proc_cpu_ticks(d.pid), sim1 = proc_cpu_ticks(sim->pid);
	double secs = (double)(harness_now_ms() - start) / 1000.0;
	long long rss_now;

	proc_memory(d.pid, &rss_now, &run->hwm_kib);
	after = scrape(&d, &run->scrape_bytes, &run->scrape_ms);
	if (interrupted || !before || !after || cpu0 < 0 || cpu1 < 0) {
		free(t0);
		goto out;
	}
	const char *p[] = {t0};

	run->cpu_percent = 100.0 * (double)(cpu1 - cpu0) / (double)ticks / secs;
	run->sim_cpu_percent = 100.0 * (double)(sim1 - sim0) / (double)ticks / secs;
	if (run->concurrency > 0) {
		double reads = reads_total(after) - reads_total(before);

		run->reads_per_s = reads / secs;
		run->cpu_us_per_read =
			reads > 0 ? 1e6 * (double)(cpu1 - cpu0) / (double)ticks / reads : 0;
		run->lag_s = metric_value(after, "esaas_health_sweep_lag_seconds");
		run->clusters_read = sql_int(sql,
					     "SELECT count(*) FROM cluster_health"
					     " WHERE checked_at >= $1::timestamptz",
					     1, p);
	}
	free(t0);
	ok = true;
out:
	free(before);
	free(after);
	if (esaasd_stop(&d, SIGTERM, true) != 0) {
		fprintf(stderr, "bench_sweep: esaasd-test did not stop cleanly; see %s\n", d.log);
		ok = false;
	}
	return ok;
}

static void print_runs(const struct options *o, const struct run *runs, int n)
{
	double expected = (double)(o->clusters + 1) / o->interval_s;

	printf("\n%d clusters (%d rows and the one they point at), interval %d s, jitter 10%%,"
	       " window %d s, %d ms added to each health read\n",
	       o->clusters + 1, o->clusters, o->interval_s, o->windows * o->interval_s,
	       o->latency_ms);
	printf("%-16s %9s %9s %15s %8s %11s %10s %15s %8s %s\n", "run", "reads/s", "expected",
	       "clusters read", "lag", "esaasd CPU", "CPU/read", "RSS max (HWM)", "sim CPU",
	       "/metrics");
	for (int i = 0; i < n; i++) {
		const struct run *r = &runs[i];
		char read[32] = "-", rate[16] = "-", exp[16] = "-", lag[16] = "-", per[16] = "-",
		     mem[40], scrape_info[40];

		if (r->concurrency > 0) {
			snprintf(rate, sizeof(rate), "%.1f", r->reads_per_s);
			snprintf(exp, sizeof(exp), "%.1f", expected);
			snprintf(read, sizeof(read), "%lld/%d", r->clusters_read, o->clusters + 1);
			snprintf(lag, sizeof(lag), "%.2f s", r->lag_s);
			snprintf(per, sizeof(per), "%.0f us", r->cpu_us_per_read);
		}
		snprintf(mem, sizeof(mem), "%.1f (%.1f) MiB", (double)r->rss_kib / 1024.0,
			 (double)r->hwm_kib / 1024.0);
		snprintf(scrape_info, sizeof(scrape_info), "%.1f MiB in %lld ms",
			 (double)r->scrape_bytes / (1024.0 * 1024.0), (long long)r->scrape_ms);
		printf("%-16s %9s %9s %15s %8s %10.1f%% %10s %15s %7.1f%% %s\n", r->label, rate,
		       exp, read, lag, r->cpu_percent, per, mem, r->sim_cpu_percent, scrape_info);
	}
}

int main(int argc, char **argv)
{
	struct options o;
	struct pg pg = {0};
	struct sim sim = {0};
	struct run runs[MAX_RUNS + 1];
	char dburl[600], labels[MAX_RUNS][32];
	PGconn *sql = NULL;
	int nruns = 0, rc = 1;

	memset(runs, 0, sizeof(runs));
	if (!parse_options(argc, argv, &o)) {
		usage(stderr);
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (!pg_start_durable(&pg) || !pg_new_database(&pg, dburl, sizeof(dburl))) {
		fprintf(stderr, "bench_sweep: PostgreSQL did not start in %s\n", pg.dir);
		goto out;
	}
	if (!sim_start(&sim, pg.dir,
		       "tick_ms: 50\nnodes:\n  count: 4\npods:\n  ready_delay_ms: 100\n"
		       "elasticsearch:\n  indices:\n    - {name: logs, shards: 3, replicas: 1}\n"))
		goto out;
	fprintf(stderr, "bench_sweep: making the cluster the rows point at\n");
	if (!make_real_cluster(&pg, dburl, &sim))
		goto out;
	sql = sql_connect(dburl);
	if (!sql)
		goto out;
	char count[16];
	const char *p[] = {count};

	snprintf(count, sizeof(count), "%d", o.clusters);
	fprintf(stderr, "bench_sweep: inserting %d ready clusters\n", o.clusters);
	if (!sql_exec(
		    sql,
		    "INSERT INTO clusters (tenant_id, name, namespace, spec, observed, created_by)"
		    " SELECT 'default', 'bench-' || i, 'es-default-bench-' || i, '{}',"
		    "  jsonb_build_object('phase', 'ready', 'namespace', 'es-default-bench-' || i),"
		    "  'bench_sweep' FROM generate_series(1, $1::integer) AS i",
		    1, p) ||
	    !sql_exec(sql, "ANALYZE clusters", 0, NULL))
		goto out;

	if (o.latency_ms > 0) {
		/* What a real cluster behind the API server's proxy takes to answer. */
		char *rule = xasprintf(
			"{\"path\": \"/api/v1/namespaces/*/services/*/proxy/_cluster/health\","
			" \"latency_ms\": %d}",
			o.latency_ms);
		struct http_resp r;
		bool ok = sim_call(&sim, "POST", "/_sim/faults", rule, &r) && r.status == 200;

		http_resp_free(&r);
		free(rule);
		if (!ok) {
			fprintf(stderr, "bench_sweep: the simulator refused the latency fault\n");
			goto out;
		}
	}
	runs[nruns].label = "sweep off";
	runs[nruns].concurrency = 0;
	fprintf(stderr, "bench_sweep: esaasd with the sweep off\n");
	if (!measure(&pg, dburl, &sim, &o, sql, &runs[nruns++]))
		goto out;
	for (int i = 0; i < o.nconc && !interrupted; i++) {
		snprintf(labels[i], sizeof(labels[i]), "concurrency %d", o.conc[i]);
		runs[nruns].label = labels[i];
		runs[nruns].concurrency = o.conc[i];
		fprintf(stderr, "bench_sweep: the sweep at concurrency %d\n", o.conc[i]);
		if (!measure(&pg, dburl, &sim, &o, sql, &runs[nruns++]))
			goto out;
	}
	print_runs(&o, runs, nruns);
	rc = 0;
out:
	if (interrupted)
		fprintf(stderr, "bench_sweep: interrupted\n");
	PQfinish(sql);
	sim_stop(&sim);
	if (pg.dir[0]) {
		if (o.keep) {
			pg_ctl(&pg, "stop");
			fprintf(stderr, "bench_sweep: kept %s\n", pg.dir);
		} else {
			pg_destroy(&pg);
		}
	}
	return rc;
}
