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
 * what each figure means.
 */
#include "common/util.h"
#include "storage/jobs.h"
#include "tests/integration/harness.h"

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

#define MAX_CONCURRENCY 16
#define POLL_MS 50
#define RUN_TIMEOUT_MS (10 * 60 * 1000)
#define PGBENCH_OWNER "bench/pgbench"

struct options {
	int conc[MAX_CONCURRENCY]; /* engine workers, and pgbench clients */
	int nconc;
	int jobs;	       /* per engine throughput run */
	int pgbench_s;	       /* how long pgbench runs */
	int samples;	       /* of the wake-up latency */
	int queued, in_flight; /* the memory case */
	bool throughput, wakeup, memory;
	bool keep; /* leave PostgreSQL running for inspection */
};

struct bench {
	struct options opt;
	struct pg pg;
	bool pg_started;
	struct esaasd d; /* the esaasd-test running now, if any */
	int ndaemons;
};

struct tp_result {
	double rate; /* transitions per second */
	long long transitions;
	double seconds;
	double per_commit; /* transitions per commit (the engine's) */
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = 1;
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

static bool sql_exec(PGconn *c, const char *sql, int nparams, const char *const *params)
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
	bool ok = sql_exec(c, "ALTER SYSTEM SET fsync = on", 0, NULL) &&
		  sql_exec(c, "ALTER SYSTEM SET full_page_writes = on", 0, NULL) &&
		  sql_exec(c, "ALTER SYSTEM SET synchronous_commit = on", 0, NULL);
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

static bool new_database(struct bench *b, char *url, size_t len)
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
static bool migrate(struct bench *b, const char *dburl)
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
	while (!interrupted && harness_now_ms() < deadline) {
		long long left = sql_int(c, sql, nparams, params);
		if (left == 0)
			return true;
		if (left < 0 || !daemon_alive(b))
			return false;
		msleep(interval_ms);
	}
	if (!interrupted)
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

/* --- the statement pgbench runs --------------------------------------------------- */

static char *read_whole_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return NULL;
	}
	size_t cap = 65536, len = 0, n;
	char *s = xmalloc(cap);
	while ((n = fread(s + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (len + 1 == cap)
			s = xrealloc(s, cap *= 2);
	}
	fclose(f);
	s[len] = '\0';
	return s;
}

/* Everything but white space, to compare two spellings of one statement. */
static char *squeeze(const char *s)
{
	char *out = xmalloc(strlen(s) + 1), *o = out;
	for (; *s; s++)
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			*o++ = *s;
	*o = '\0';
	return out;
}

/* Append n bytes to a growing string. */
static void append(char **s, size_t *len, size_t *cap, const char *p, size_t n)
{
	while (*len + n + 1 > *cap)
		*s = xrealloc(*s, *cap *= 2);
	memcpy(*s + *len, p, n);
	*len += n;
	(*s)[*len] = '\0';
}

/* TRANSITION_SQL as storage/jobrun.c spells it: its string literals, joined. */
static char *engine_transition_sql(void)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/storage/jobrun.c", harness_srcdir());
	char *src = read_whole_file(path);
	if (!src)
		return NULL;
	const char *p = strstr(src, "TRANSITION_SQL[] =");
	size_t cap = 4096, len = 0;
	char *sql = xcalloc(1, cap);
	bool ok = p != NULL;
	if (p)
		p += strlen("TRANSITION_SQL[] =");
	while (ok && *p && *p != ';') {
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				append(&sql, &len, &cap, p, 1);
			}
			ok = *p == '"';
			p++;
		} else if (strncmp(p, "JOBS_NOTIFY_CHANNEL", 19) == 0) {
			append(&sql, &len, &cap, JOBS_NOTIFY_CHANNEL, strlen(JOBS_NOTIFY_CHANNEL));
			p += 19;
		} else if (*p == ' ' || *p == '\t' || *p == '\n') {
			p++;
		} else {
			ok = false;
		}
	}
	if (!ok || len == 0) {
		fprintf(stderr, "bench_engine: could not read TRANSITION_SQL from %s\n", path);
		free(sql);
		sql = NULL;
	}
	free(src);
	return sql;
}

/* Replace every occurrence of from with to. */
static char *replace_all(const char *s, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), count = 0;
	for (const char *h = strstr(s, from); h; h = strstr(h + fl, from))
		count++;
	char *out = xmalloc(strlen(s) - count * fl + count * tl + 1), *o = out;
	const char *hit;
	while ((hit = strstr(s, from))) {
		memcpy(o, s, (size_t)(hit - s));
		o += hit - s;
		memcpy(o, to, tl);
		o += tl;
		s = hit + fl;
	}
	memcpy(o, s, strlen(s) + 1);
	return out;
}

/*
 * bench/transition.sql turned back into the engine's statement: the lease
 * owner into $1, the JSON batch into $2, the lease's length into $3.
 */
static char *script_transition_sql(const char *path)
{
	char *src = read_whole_file(path);
	if (!src)
		return NULL;
	size_t cap = 4096, len = 0;
	char *sql = xcalloc(1, cap);
	for (char *line = src; *line;) {
		char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		const char *t = line;
		while (*t == ' ' || *t == '\t')
			t++;
		if (*t != '\\' && strncmp(t, "--", 2) != 0) {
			append(&sql, &len, &cap, line, n);
			append(&sql, &len, &cap, "\n", 1);
		}
		line = nl ? nl + 1 : line + n;
	}
	free(src);
	char *semi = strrchr(sql, ';');
	if (semi)
		*semi = '\0';
	char *lease = replace_all(sql, ":lease_s", "$3");
	free(sql);
	char *owner = replace_all(lease, "'" PGBENCH_OWNER "'", "$1");
	free(lease);
	const char *lit = strstr(owner, "jsonb_to_recordset('");
	const char *end = lit ? strstr(lit, "'::jsonb") : NULL;
	char *out = NULL;
	if (end) {
		int head = (int)(lit - owner) + (int)strlen("jsonb_to_recordset(");
		out = xasprintf("%.*s$2%s", head, owner, end + 1);
	} else {
		fprintf(stderr, "bench_engine: %s has no jsonb_to_recordset('...'::jsonb)\n", path);
	}
	free(owner);
	return out;
}

/* Is the statement compiled into the esaasd-test that is measured? */
static bool binary_has(const char *sql)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/esaasd-test", harness_builddir());
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return false;
	}
	size_t cap = 1 << 20, len = 0, n;
	char *bin = xmalloc(cap);
	while ((n = fread(bin + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap)
			bin = xrealloc(bin, cap *= 2);
	}
	fclose(f);
	bool found = memmem(bin, len, sql, strlen(sql) + 1) != NULL;
	free(bin);
	if (!found)
		fprintf(stderr,
			"bench_engine: %s does not hold storage/jobrun.c's TRANSITION_SQL;"
			" rebuild it\n",
			path);
	return found;
}

/* pgbench must run what the engine runs, or the comparison means nothing. */
static bool check_script(const char *script)
{
	char *engine = engine_transition_sql();
	char *mine = script_transition_sql(script);
	bool ok = false;
	if (engine && mine && binary_has(engine)) {
		char *a = squeeze(engine), *b = squeeze(mine);
		size_t i = 0;
		while (a[i] && a[i] == b[i])
			i++;
		ok = a[i] == '\0' && b[i] == '\0';
		if (!ok) {
			size_t from = i > 40 ? i - 40 : 0;
			fprintf(stderr,
				"bench_engine: %s is out of step with TRANSITION_SQL in "
				"storage/jobrun.c\n"
				"  (white space aside) engine: ...%.80s\n"
				"                      script: ...%.80s\n"
				"  Copy the statement again, filling in its parameters as the"
				" script's header says.\n",
				script, a + from, b + from);
		}
		free(a);
		free(b);
	}
	free(engine);
	free(mine);
	return ok;
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
	if (!new_database(b, url, sizeof(url)) || !migrate(b, url))
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
	bool ok = sql_exec(c, NOOP_JOBS_SQL, 1, p) && sql_exec(c, "ANALYZE jobs", 0, NULL) &&
		  daemon_spawn(b, url, conc) &&
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

/* Run pgbench; returns the transactions it processed and its tps. */
static bool run_pgbench(struct bench *b, const char *url, const char *script, int conc,
			long long *processed, double *tps)
{
	const char *prog = getenv("PGBENCH");
	if (!prog || !*prog)
		prog = "pgbench";
	char clients[16], threads[16], secs[16], errlog[600];
	snprintf(clients, sizeof(clients), "%d", conc);
	snprintf(threads, sizeof(threads), "%d", conc < 2 ? conc : 2);
	snprintf(secs, sizeof(secs), "%d", b->opt.pgbench_s);
	snprintf(errlog, sizeof(errlog), "%s/pgbench.log", b->pg.dir);
	/* Each client counts its row's version in v, from 0 (see the script). */
	const char *argv[] = {
		prog, "-n", "-c",  clients, "-j",   threads, "-T",
		secs, "-D", "v=0", "-f",    script, url,     NULL,
	};
	int out[2];
	if (pipe(out) != 0) {
		perror("bench_engine: pipe");
		return false;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("bench_engine: fork");
		close(out[0]);
		close(out[1]);
		return false;
	}
	if (pid == 0) {
		int fd = open(errlog, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 2);
			close(fd);
		}
		dup2(out[1], 1);
		close(out[0]);
		close(out[1]);
		execvp(prog, (char *const *)argv);
		fprintf(stderr, "cannot run %s: %s\n", prog, strerror(errno));
		_exit(127);
	}
	close(out[1]);
	FILE *f = fdopen(out[0], "r");
	char line[256];
	*processed = -1;
	*tps = -1;
	while (f && fgets(line, sizeof(line), f)) {
		const char *k = "number of transactions actually processed:";
		if (strncmp(line, k, strlen(k)) == 0)
			*processed = strtoll(line + strlen(k), NULL, 10);
		else if (strncmp(line, "tps = ", 6) == 0)
			*tps = strtod(line + 6, NULL);
	}
	if (f)
		fclose(f);
	else
		close(out[0]);
	/* Interrupted: pgbench, our child, stops too. */
	if (interrupted)
		kill(pid, SIGINT);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || *processed <= 0 || *tps <= 0) {
		fprintf(stderr, "bench_engine: pgbench failed; see %s\n", errlog);
		return false;
	}
	return true;
}

/* One running job per pgbench client, leased to the owner the script names. */
static const char PGBENCH_JOBS_SQL[] =
	"INSERT INTO jobs (tenant_id, cluster, kind, status, state, submitted_by, lease_owner,"
	"  lease_expires_at, lease_epoch, started_at, state_entered_at)"
	" SELECT 'default', 'pgbench-' || g, 'test_noop', 'running', 's1', 'bench', $2,"
	"  now() + interval '1 day', 1, now(), now()"
	" FROM generate_series(1, $1::int) g";

/* Finished jobs after them, up to $2 in all. */
static const char PGBENCH_PADDING_SQL[] =
	"INSERT INTO jobs (tenant_id, cluster, kind, status, state, submitted_by, lease_epoch,"
	"  started_at, finished_at)"
	" SELECT 'default', 'pgbench-' || g, 'test_noop', 'succeeded', 's5', 'bench', 1,"
	"  now(), now()"
	" FROM generate_series($1::int + 1, $2::int) g";

static bool pgbench_throughput(struct bench *b, const char *script, int conc, struct tp_result *out)
{
	char url[600], n[16], total[16];
	if (!new_database(b, url, sizeof(url)) || !migrate(b, url))
		return false;
	PGconn *c = sql_connect(url);
	if (!c)
		return false;
	snprintf(n, sizeof(n), "%d", conc);
	snprintf(total, sizeof(total), "%d", b->opt.jobs > conc ? b->opt.jobs : conc);
	const char *p[] = {n, PGBENCH_OWNER}, *pad[] = {n, total}, *owner[] = {PGBENCH_OWNER};
	/*
	 * Client k moves job k + 1.  The table is as large as the engine's,
	 * since the planner picks its plans by the table's size.
	 */
	bool ok = sql_exec(c, PGBENCH_JOBS_SQL, 2, p) && sql_exec(c, PGBENCH_PADDING_SQL, 2, pad) &&
		  sql_exec(c, "ANALYZE jobs", 0, NULL);
	if (ok && sql_int(c, "SELECT max(id) FROM jobs WHERE lease_owner = $1", 1, owner) != conc) {
		fprintf(stderr, "bench_engine: the pgbench job rows are not numbered 1..%d\n",
			conc);
		ok = false;
	}
	long long processed = 0;
	double tps = 0;
	ok = ok && run_pgbench(b, url, script, conc, &processed, &tps);
	/* Every transaction must have passed the fence: one update, one event. */
	if (ok) {
		long long events = sql_int(c, "SELECT count(*) FROM job_events", 0, NULL);
		long long versions = sql_int(
			c, "SELECT sum(version) FROM jobs WHERE lease_owner = $1", 1, owner);
		if (events != processed || versions != processed) {
			fprintf(stderr,
				"bench_engine: pgbench ran %lld transactions but wrote %lld"
				" events and %lld versions: the script's fence did not match\n",
				processed, events, versions);
			ok = false;
		}
	}
	if (ok) {
		out->transitions = processed;
		out->rate = tps;
		out->seconds = (double)processed / tps;
		out->per_commit = 1;
	}
	PQfinish(c);
	return ok;
}

static bool throughput(struct bench *b)
{
	char script[512];
	snprintf(script, sizeof(script), "%s/bench/transition.sql", harness_srcdir());
	if (!check_script(script))
		return false;
	for (int i = 0; i < b->opt.nconc && !interrupted; i++) {
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
	return !interrupted;
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
	if (!new_database(b, url, sizeof(url)) || !daemon_start(b, url, 16))
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
	for (int i = 0; ok && i < samples && !interrupted; i++) {
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
	ok = ok && !interrupted;
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
	} else if (!interrupted) {
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
	if (!new_database(b, url, sizeof(url)) || !migrate(b, url))
		return false;
	PGconn *c = sql_connect(url);
	if (!c)
		return false;
	snprintf(nf, sizeof(nf), "%d", b->opt.in_flight);
	snprintf(nq, sizeof(nq), "%d", b->opt.queued);
	const char *p[] = {nf, nq};
	bool ok = sql_exec(c, IN_FLIGHT_JOBS_SQL, 1, p) && sql_exec(c, QUEUED_JOBS_SQL, 2, p) &&
		  sql_exec(c, "ANALYZE jobs", 0, NULL) && daemon_spawn(b, url, b->opt.in_flight) &&
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
		} else if (!ok && !interrupted) {
			pg_ctl(&b.pg, "stop");
			fprintf(stderr, "bench_engine: the logs are in %s\n", b.pg.dir);
		} else {
			pg_destroy(&b.pg);
		}
	}
	if (interrupted)
		fprintf(stderr, "bench_engine: interrupted\n");
	return ok ? 0 : 1;
}
