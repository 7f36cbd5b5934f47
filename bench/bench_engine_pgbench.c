/*
 * The pgbench side of bench_engine's throughput: the statement pgbench
 * runs (bench/transition.sql, checked against storage/jobrun.c's
 * TRANSITION_SQL), and pgbench running it against job rows laid out as the
 * engine's, at the same concurrency.
 */
#include "bench/bench_engine.h"
#include "common/util.h"
#include "storage/jobs.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#define PGBENCH_OWNER "bench/pgbench"

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
 * owner into $1, the JSON batch into $2, the lease's length into $3, the
 * kinds into $4 and the number of jobs to claim into $5.
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
	char *claim = replace_all(sql, ":claim", "$5");
	free(sql);
	char *kinds = replace_all(claim, "'{test_noop}'", "$4");
	free(claim);
	char *lease = replace_all(kinds, ":lease_s", "$3");
	free(kinds);
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
bool pgbench_check_script(const char *script)
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
	if (bench_interrupted)
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

bool pgbench_throughput(struct bench *b, const char *script, int conc, struct tp_result *out)
{
	char url[600], n[16], total[16];
	if (!bench_new_database(b, url, sizeof(url)) || !bench_migrate(b, url))
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
	bool ok = bench_sql_exec(c, PGBENCH_JOBS_SQL, 2, p) &&
		  bench_sql_exec(c, PGBENCH_PADDING_SQL, 2, pad) &&
		  bench_sql_exec(c, "ANALYZE jobs", 0, NULL);
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
