/*
 * Benchmarks of the engine, against a private PostgreSQL with fsync on:
 *
 *   throughput  jobs of test_noop (five no-op states) through esaasd-test,
 *               then pgbench running bench/transition.sql, the statement one
 *               transition issues, at the same concurrency;
 *   wakeup      from submission to the start of the first state, one job at
 *               a time into an idle engine;
 *   memory      the RSS of esaasd-test holding jobs in flight with a queue
 *               behind them.
 *
 * The figures come from the database's own timestamps wherever they can, so
 * the polling done here to notice the end of a run adds nothing to them.
 * Run it with bench/run, which builds what it needs; bench/README.md says
 * what each figure means.  The pgbench side of the throughput comparison is
 * in bench_engine_pgbench.c; what the two share in bench_engine.h.
 */
#include "bench/bench_engine.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#define POLL_MS 50
#define RUN_TIMEOUT_MS (10 * 60 * 1000)

volatile sig_atomic_t bench_interrupted;

static void on_signal(int sig)
{
	bench_interrupted = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_engine [-c CONC[,CONC...]] [-n JOBS] [-T SECONDS] [-s SAMPLES]\n"
		   "                    [-q QUEUED] [-f IN_FLIGHT] [-p PHASE[,PHASE...]] [-k]\n"
		   "  -c  concurrency: engine workers and pgbench clients, 1 to 150\n"
		   "      (default 8,16,64)\n"
		   "  -n  test_noop jobs per engine run, five transitions each (default 3000)\n"
		   "  -T  pgbench duration in seconds (default 10)\n"
		   "  -s  wake-up samples (default 200)\n"
		   "  -q  queued jobs for the memory case (default 10000)\n"
		   "  -f  jobs in flight for the memory case (default 1000)\n"
		   "  -p  phases among throughput, wakeup, memory (default all)\n"
		   "  -k  keep the PostgreSQL folder afterwards\n"
		   "ESAAS_SRCDIR and ESAAS_BUILDDIR locate the tree and esaasd-test;\n"
		   "PGBENCH names the pgbench program (default: pgbench from PATH).\n");
}

static bool parse_list(const char *s, int min, int max, int *out, int cap, int *n)
{
	char *copy = xstrdup(s);
	bool ok = true;
	*n = 0;
	for (char *p = copy; ok && *p;) {
		char *comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		ok = *n < cap && parse_int(p, min, max, &out[*n]);
		(*n)++;
		p = comma ? comma + 1 : p + strlen(p);
	}
	free(copy);
	return ok && *n > 0;
}

static bool parse_phases(const char *s, struct options *o)
{
	o->throughput = o->wakeup = o->memory = false;
	char *copy = xstrdup(s);
	bool ok = true;
	for (char *p = copy; ok && *p;) {
		char *comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		if (strcmp(p, "throughput") == 0)
			o->throughput = true;
		else if (strcmp(p, "wakeup") == 0)
			o->wakeup = true;
		else if (strcmp(p, "memory") == 0)
			o->memory = true;
		else
			ok = false;
		p = comma ? comma + 1 : p + strlen(p);
	}
	free(copy);
	return ok && (o->throughput || o->wakeup || o->memory);
}

static bool parse_options(int argc, char **argv, struct options *o)
{
	*o = (struct options){
		.conc = {8, 16, 64},
		.nconc = 3,
		.jobs = 3000,
		.pgbench_s = 10,
		.samples = 200,
		.queued = 10000,
		.in_flight = 1000,
		.throughput = true,
		.wakeup = true,
		.memory = true,
	};
	int c;
	while ((c = getopt(argc, argv, "c:n:T:s:q:f:p:kh")) != -1) {
		bool ok = true;
		switch (c) {
		case 'c':
			/* pgbench's clients share the test server's 200 connections. */
			ok = parse_list(optarg, 1, 150, o->conc, MAX_CONCURRENCY, &o->nconc);
			break;
		case 'n':
			ok = parse_int(optarg, 1, 1000000, &o->jobs);
			break;
		case 'T':
			ok = parse_int(optarg, 1, 3600, &o->pgbench_s);
			break;
		case 's':
			ok = parse_int(optarg, 1, 100000, &o->samples);
			break;
		case 'q':
			ok = parse_int(optarg, 0, 10000000, &o->queued);
			break;
		case 'f':
			ok = parse_int(optarg, 1, 10000, &o->in_flight);
			break;
		case 'p':
			ok = parse_phases(optarg, o);
			break;
		case 'k':
			o->keep = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			ok = false;
		}
		if (!ok) {
			if (c != '?')
				fprintf(stderr, "bench_engine: bad value for -%c: %s\n", c, optarg);
			usage(stderr);
			return false;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return false;
	}
	return true;
}

/* --- SQL ------------------------------------------------------------------------- */

bool bench_sql_exec(PGconn *c, const char *sql, int nparams, const char *const *params)
{
	PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
	if (!ok)
		fprintf(stderr, "bench_engine: %.60s...: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	return ok;
}

/* The first column of the first row as text; NULL on error or SQL NULL. */
static char *sql_text(PGconn *c, const char *sql, int nparams, const char *const *params)
{
	PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
	char *v = NULL;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
		v = xstrdup(PQgetvalue(r, 0, 0));
	else if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fprintf(stderr, "bench_engine: %.60s...: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	return v;
}

static bool sql_double(PGconn *c, const char *sql, int nparams, const char *const *params,
		       double *out)
{
	char *v = sql_text(c, sql, nparams, params);
	char *end = NULL;
	if (v)
		*out = strtod(v, &end);
	bool ok = v && end != v && *end == '\0';
	free(v);
	return ok;
}

/* All of a query's first column as numbers, sorted; returns the count or -1. */
static int sql_sorted_doubles(PGconn *c, const char *sql, double **out)
{
	PGresult *r = PQexecParams(c, sql, 0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "bench_engine: %.60s...: %s", sql, PQresultErrorMessage(r));
		PQclear(r);
		return -1;
	}
	int n = PQntuples(r), k = 0;
	*out = xcalloc((size_t)n + 1, sizeof(double));
	for (int i = 0; i < n; i++)
		if (!PQgetisnull(r, i, 0))
			(*out)[k++] = strtod(PQgetvalue(r, i, 0), NULL);
	PQclear(r);
	return k;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest value with at least p of the values at or below it. */
static double percentile(const double *sorted, int n, double p)
{
	int rank = (int)ceil(p * n);
	if (rank < 1)
		rank = 1;
	return sorted[rank - 1];
}

/* --- the private PostgreSQL ---------------------------------------------------- */

/*
 * tests/pg.sh trades durability for speed (fsync off).  A benchmark of
 * commits must pay for them as production does, so turn it back on.
 */
static bool pg_start_durable(struct bench *b)
{
	str_copy_trunc(b->pg.dir, "/tmp/esaas-bench-XXXXXX", sizeof(b->pg.dir));
	if (!mkdtemp(b->pg.dir)) {
		perror("bench_engine: mkdtemp");
		return false;
	}
	if (!pg_ctl(&b->pg, "start")) {
		fprintf(stderr, "bench_engine: PostgreSQL did not start in %s\n", b->pg.dir);
		return false;
	}
	b->pg_started = true;
	PGconn *c = sql_connect(b->pg.url);
	if (!c)
		return false;
	bool ok = bench_sql_exec(c, "ALTER SYSTEM SET fsync = on", 0, NULL) &&
		  bench_sql_exec(c, "ALTER SYSTEM SET full_page_writes = on", 0, NULL) &&
		  bench_sql_exec(c, "ALTER SYSTEM SET synchronous_commit = on", 0, NULL);
	PQfinish(c);
	if (!ok || !pg_ctl(&b->pg, "restart"))
		return false;
	c = sql_connect(b->pg.url);
	if (!c)
		return false;
	char *fsync = sql_text(c, "SELECT current_setting('fsync')", 0, NULL);
	ok = fsync && strcmp(fsync, "on") == 0;
	if (!ok)
		fprintf(stderr, "bench_engine: fsync is %s after the restart\n",
			fsync ? fsync : "?");
	free(fsync);
	PQfinish(c);
	return ok;
}

bool bench_new_database(struct bench *b, char *url, size_t len)
{
	if (!pg_new_database(&b->pg, url, len)) {
		fprintf(stderr, "bench_engine: could not create a database\n");
		return false;
	}
	return true;
}

/* Configured as in production: logging at info (debug writes several
 * lines per transition) and the daemon's defaults for leases. */
static bool daemon_spawn(struct bench *b, const char *dburl, int workers)
{
	struct esaasd_opts o = {.workers = workers, .log_level = "info"};
	return esaasd_spawn(&b->d, b->pg.dir, dburl, &o);
}

static bool daemon_start(struct bench *b, const char *dburl, int workers)
{
	return daemon_spawn(b, dburl, workers) && esaasd_wait_ready(&b->d);
}

/* SIGTERM: a graceful stop, which must succeed; SIGKILL: just gone. */
static bool daemon_stop(struct bench *b, int sig)
{
	if (b->d.pid <= 0)
		return true;
	int rc = esaasd_stop(&b->d, sig, true);
	if (sig == SIGTERM && rc != 0) {
		fprintf(stderr, "bench_engine: esaasd-test exited with %d; see %s\n", rc, b->d.log);
		return false;
	}
	return true;
}

/* Apply the schema: the daemon migrates its database when it starts. */
bool bench_migrate(struct bench *b, const char *dburl)
{
	return daemon_start(b, dburl, 1) && daemon_stop(b, SIGTERM);
}

static bool daemon_alive(struct bench *b)
{
	if (esaasd_poll_exit(&b->d) == -1)
		return true;
	fprintf(stderr, "bench_engine: esaasd-test exited; see %s\n", b->d.log);
	return false;
}

/* Poll sql (a count) until it is zero. */
static bool wait_zero(struct bench *b, PGconn *c, const char *sql, int nparams,
		      const char *const *params, int timeout_ms, int interval_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	while (!bench_interrupted && harness_now_ms() < deadline) {
		long long left = sql_int(c, sql, nparams, params);
		if (left == 0)
			return true;
		if (left < 0 || !daemon_alive(b))
			return false;
		msleep(interval_ms);
	}
	if (!bench_interrupted)
		fprintf(stderr, "bench_engine: still waiting after %d ms for: %s\n", timeout_ms,
			sql);
	return false;
}

/* VmRSS and VmHWM of a process, in KiB. */
static bool proc_memory(pid_t pid, long long *rss_kib, long long *hwm_kib)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return false;
	}
	*rss_kib = *hwm_kib = -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "VmRSS:", 6) == 0)
			*rss_kib = strtoll(line + 6, NULL, 10);
		else if (strncmp(line, "VmHWM:", 6) == 0)
			*hwm_kib = strtoll(line + 6, NULL, 10);
	}
	fclose(f);
	return *rss_kib > 0 && *hwm_kib > 0;
}

/* --- throughput ----------------------------------------------------------------- */

/* Queued test_noop jobs on distinct clusters, so that every one may run at once. */
static const char NOOP_JOBS_SQL[] =
	"INSERT INTO jobs (tenant_id, cluster, kind, status, state, submitted_by)"
	" SELECT 'default', 'bench-' || g, 'test_noop', 'queued', 's1', 'bench'"
	" FROM generate_series(1, $1::int) g";

/* From the first claim to the last finish: the engine's start-up is not counted. */
static const char RUN_SECONDS_SQL[] =
	"SELECT extract(epoch FROM max(finished_at) - min(started_at)) FROM jobs";

static bool engine_throughput(struct bench *b, int conc, struct tp_result *out)
{
	char url[600], n[16];
	if (!bench_new_database(b, url, sizeof(url)) || !bench_migrate(b, url))
		return false;
	PGconn *c = sql_connect(url);
	if (!c)
		return false;
	snprintf(n, sizeof(n), "%d", b->opt.jobs);
	const char *p[] = {n};
	/*
	 * ANALYZE: the claim is planned from statistics, and a table that has
	 * never been analyzed gets plans that a running system does not see.
	 */
	bool ok = bench_sql_exec(c, NOOP_JOBS_SQL, 1, p) &&
		  bench_sql_exec(c, "ANALYZE jobs", 0, NULL) && daemon_spawn(b, url, conc) &&
		  wait_zero(b, c, "SELECT count(*) FROM jobs WHERE finished_at IS NULL", 0, NULL,
			    RUN_TIMEOUT_MS, POLL_MS) &&
		  daemon_stop(b, SIGTERM);
	if (ok && sql_int(c, "SELECT count(*) FROM jobs WHERE status <> 'succeeded'", 0, NULL)) {
		fprintf(stderr, "bench_engine: some test_noop jobs did not succeed; see %s\n",
			b->d.log);
		ok = false;
	}
	double batches = 0;
	if (ok) {
		out->transitions = sql_int(c, "SELECT count(*) FROM job_events", 0, NULL);
		/* A batch is one transaction: its events share now(). */
		batches = (double)sql_int(c, "SELECT count(DISTINCT at) FROM job_events", 0, NULL);
		ok = out->transitions > 0 && batches > 0 &&
		     sql_double(c, RUN_SECONDS_SQL, 0, NULL, &out->seconds) && out->seconds > 0;
	}
	if (ok) {
		out->rate = (double)out->transitions / out->seconds;
		out->per_commit = (double)out->transitions / batches;
	}
	PQfinish(c);
	return ok;
}

static bool throughput(struct bench *b)
{
	char script[512];
	snprintf(script, sizeof(script), "%s/bench/transition.sql", harness_srcdir());
	if (!pgbench_check_script(script))
		return false;
	for (int i = 0; i < b->opt.nconc && !bench_interrupted; i++) {
		int conc = b->opt.conc[i];
		struct tp_result eng = {0}, pgb = {0};
		if (!engine_throughput(b, conc, &eng) || !pgbench_throughput(b, script, conc, &pgb))
			return false;
		printf("transitions/s concurrency=%d engine=%.0f pgbench=%.0f ratio=%.2f\n", conc,
		       eng.rate, pgb.rate, eng.rate / pgb.rate);
		printf("  engine: %lld transitions of %d jobs in %.2f s, %.1f per commit;"
		       " pgbench: %lld in %.2f s\n",
		       eng.transitions, b->opt.jobs, eng.seconds, eng.per_commit, pgb.transitions,
		       pgb.seconds);
		fflush(stdout);
	}
	return !bench_interrupted;
}

/* --- wake-up latency ------------------------------------------------------------------- */

/* Each job's first state started at its first event's started_at; in ms. */
static const char WAKEUP_SQL[] =
	"SELECT extract(epoch FROM first.at - j.created_at) * 1000 FROM jobs j,"
	" LATERAL (SELECT min(e.started_at) AS at FROM job_events e"
	"  WHERE e.job_id = j.id AND e.outcome <> 'submitted') first"
	" ORDER BY 1";

/* The same moment for one job, in microseconds since the epoch. */
static const char FIRST_START_SQL[] =
	"SELECT extract(epoch FROM min(started_at)) * 1000000 FROM job_events"
	" WHERE job_id = $1 AND outcome <> 'submitted'";

static const char UNFINISHED_SQL[] =
	"SELECT count(*) FROM jobs WHERE id = $1 AND finished_at IS NULL";

static bool wakeup(struct bench *b, long long *idle_rss_kib)
{
	char url[600];
	if (!bench_new_database(b, url, sizeof(url)) || !daemon_start(b, url, 16))
		return false;
	PGconn *c = sql_connect(url);
	if (!c)
		return false;
	/* Let the start-up claims and polls pass: the engine is to be idle. */
	msleep(1000);
	long long hwm;
	bool ok = proc_memory(b->d.pid, idle_rss_kib, &hwm);
	int samples = b->opt.samples;
	int64_t *sent_us = xcalloc((size_t)samples, sizeof(*sent_us));
	int64_t *ids = xcalloc((size_t)samples, sizeof(*ids));
	for (int i = 0; ok && i < samples && !bench_interrupted; i++) {
		char cluster[32], id[24];
		snprintf(cluster, sizeof(cluster), "wake-%d", i + 1);
		sent_us[i] = now_wall_us();
		ids[i] = submit_job(&b->d, "test_noop", cluster, NULL);
		snprintf(id, sizeof(id), "%lld", (long long)ids[i]);
		const char *p[] = {id};
		/* Finished, so that the next one finds the engine idle again. */
		ok = ids[i] > 0 && wait_zero(b, c, UNFINISHED_SQL, 1, p, 10000, 2);
		msleep(20);
	}
	ok = ok && !bench_interrupted;
	double *db = NULL, *http = xcalloc((size_t)samples, sizeof(double));
	int n = ok ? sql_sorted_doubles(c, WAKEUP_SQL, &db) : 0;
	ok = ok && n == samples;
	for (int i = 0; ok && i < n; i++) {
		char id[24];
		snprintf(id, sizeof(id), "%lld", (long long)ids[i]);
		const char *p[] = {id};
		double started_us;
		ok = sql_double(c, FIRST_START_SQL, 1, p, &started_us);
		http[i] = (started_us - (double)sent_us[i]) / 1000.0;
	}
	if (ok) {
		qsort(http, (size_t)n, sizeof(double), cmp_double);
		printf("wakeup_ms median=%.2f p99=%.2f max=%.2f (n=%d, from created_at)\n",
		       percentile(db, n, 0.5), percentile(db, n, 0.99), db[n - 1], n);
		printf("  from sending the HTTP request: median=%.2f p99=%.2f max=%.2f\n",
		       percentile(http, n, 0.5), percentile(http, n, 0.99), http[n - 1]);
	} else if (!bench_interrupted) {
		fprintf(stderr, "bench_engine: the wake-up samples are incomplete; see %s\n",
			b->d.log);
	}
	free(db);
	free(http);
	free(sent_us);
	free(ids);
	PQfinish(c);
	return daemon_stop(b, SIGTERM) && ok;
}

/* --- memory ---------------------------------------------------------------------------- */

/*
 * In flight: a state whose handler has not answered, as one waiting on a
 * slow HTTP call; the engine holds the job, its lease and the handler's
 * context.
 */
static const char IN_FLIGHT_JOBS_SQL[] =
	"INSERT INTO jobs (tenant_id, cluster, kind, params, status, state, submitted_by)"
	" SELECT 'default', 'mem-' || g, 'test', '{\"plan\": {\"prepare\": [\"hang\"]}}',"
	"  'queued', 'prepare', 'bench'"
	" FROM generate_series(1, $1::int) g";

/* Queued behind them in the same clusters: in the database, and in the claim's way. */
static const char QUEUED_JOBS_SQL[] =
	"INSERT INTO jobs (tenant_id, cluster, kind, status, state, submitted_by)"
	" SELECT 'default', 'mem-' || ((g - 1) % $1::int + 1), 'test_noop', 'queued', 's1',"
	"  'bench'"
	" FROM generate_series(1, $2::int) g";

static bool memory(struct bench *b, long long idle_rss_kib)
{
	char url[600], nf[16], nq[16];
	if (!bench_new_database(b, url, sizeof(url)) || !bench_migrate(b, url))
		return false;
	PGconn *c = sql_connect(url);
	if (!c)
		return false;
	snprintf(nf, sizeof(nf), "%d", b->opt.in_flight);
	snprintf(nq, sizeof(nq), "%d", b->opt.queued);
	const char *p[] = {nf, nq};
	bool ok = bench_sql_exec(c, IN_FLIGHT_JOBS_SQL, 1, p) &&
		  bench_sql_exec(c, QUEUED_JOBS_SQL, 2, p) &&
		  bench_sql_exec(c, "ANALYZE jobs", 0, NULL) &&
		  daemon_spawn(b, url, b->opt.in_flight) &&
		  wait_zero(b, c,
			    "SELECT $1::int - count(*) FROM jobs"
			    " WHERE status = 'running' AND lease_owner IS NOT NULL",
			    1, p, 60000, POLL_MS);
	/* Let the claims' buffers go and a heartbeat pass. */
	if (ok)
		msleep(3000);
	long long queued = -1, running = -1, rss = 0, hwm = 0;
	if (ok) {
		queued = sql_int(c, "SELECT count(*) FROM jobs WHERE status = 'queued'", 0, NULL);
		running = sql_int(c, "SELECT count(*) FROM jobs WHERE status = 'running'", 0, NULL);
	}
	ok = ok && daemon_alive(b) && proc_memory(b->d.pid, &rss, &hwm);
	if (ok && (queued != b->opt.queued || running != b->opt.in_flight)) {
		fprintf(stderr,
			"bench_engine: expected %d queued and %d running, found %lld, %lld\n",
			b->opt.queued, b->opt.in_flight, queued, running);
		ok = false;
	}
	if (ok) {
		printf("rss_mib queued=%d in_flight=%d rss=%.1f hwm=%.1f", b->opt.queued,
		       b->opt.in_flight, rss / 1024.0, hwm / 1024.0);
		if (idle_rss_kib > 0)
			printf(" (idle: %.1f)", idle_rss_kib / 1024.0);
		printf("\n");
	}
	PQfinish(c);
	/* The in-flight states never answer: a graceful stop would wait them out. */
	daemon_stop(b, SIGKILL);
	return ok;
}

/* --- main ------------------------------------------------------------------------------ */

/* Other work on the machine skews every figure: say how much there was before. */
static double load_average(void)
{
	double load = -1;
	FILE *f = fopen("/proc/loadavg", "r");
	if (f && fscanf(f, "%lf", &load) != 1)
		load = -1;
	if (f)
		fclose(f);
	return load;
}

static void print_machine(struct bench *b)
{
	char model[128] = "?", line[256];
	long long mem_kib = 0;
	FILE *f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (strncmp(line, "model name", 10) == 0 && colon) {
			snprintf(model, sizeof(model), "%s", colon + 2);
			model[strcspn(model, "\n")] = '\0';
			break;
		}
	}
	if (f)
		fclose(f);
	f = fopen("/proc/meminfo", "r");
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "MemTotal:", 9) == 0)
			mem_kib = strtoll(line + 9, NULL, 10);
	if (f)
		fclose(f);
	struct utsname u;
	if (uname(&u) != 0)
		snprintf(u.release, sizeof(u.release), "?");
	PGconn *c = sql_connect(b->pg.url);
	char *version = c ? sql_text(c, "SELECT current_setting('server_version')", 0, NULL) : NULL;
	char *settings =
		c ? sql_text(c,
			     "SELECT format('fsync=%s synchronous_commit=%s full_page_writes=%s"
			     " shared_buffers=%s', current_setting('fsync'),"
			     " current_setting('synchronous_commit'),"
			     " current_setting('full_page_writes'),"
			     " current_setting('shared_buffers'))",
			     0, NULL)
		  : NULL;
	PQfinish(c);
	printf("machine: %ld CPU (%s), %.1f GiB, Linux %s, load average %.2f\n",
	       sysconf(_SC_NPROCESSORS_ONLN), model, mem_kib / 1048576.0, u.release,
	       load_average());
	printf("postgresql: %s, %s\n", version ? version : "?", settings ? settings : "?");
	fflush(stdout);
	free(version);
	free(settings);
}

int main(int argc, char **argv)
{
	struct bench b = {0};
	if (!parse_options(argc, argv, &b.opt))
		return 2;
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);

	bool ok = pg_start_durable(&b);
	if (ok)
		print_machine(&b);
	ok = ok && (!b.opt.throughput || throughput(&b));
	long long idle_rss = 0;
	ok = ok && (!b.opt.wakeup || wakeup(&b, &idle_rss));
	ok = ok && (!b.opt.memory || memory(&b, idle_rss));

	if (b.d.pid > 0)
		esaasd_stop(&b.d, SIGKILL, true);
	if (b.pg_started) {
		if (b.opt.keep) {
			fprintf(stderr,
				"bench_engine: PostgreSQL is still running in %s"
				" (tests/pg.sh destroy %s stops and removes it)\n",
				b.pg.dir, b.pg.dir);
		} else if (!ok && !bench_interrupted) {
			pg_ctl(&b.pg, "stop");
			fprintf(stderr, "bench_engine: the logs are in %s\n", b.pg.dir);
		} else {
			pg_destroy(&b.pg);
		}
	}
	if (bench_interrupted)
		fprintf(stderr, "bench_engine: bench_interrupted\n");
	return ok ? 0 : 1;
}
