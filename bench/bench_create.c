/*
 * How long a create takes, and how much of it is esaas's own.
 *
 * One cluster of 3 masters, 3 data and 2 client nodes, from POST
 * /api/v1/clusters to its job's success, against esaas-sim:
 *
 *   zero      pods ready at once, no relocation delay: what is left is the
 *             engine, the database and the HTTP round trips;
 *   realistic pods ready 2 s after they start.
 *
 * The simulated critical path is the two groups of pods the create waits
 * for one after the other.  The masters: the scheduler binds a pod with a
 * volume claim after its binding cycle's check (1 s, sim/controllers.c
 * PREBIND_POLL_MS), their containers start after the runtime's delay, and
 * they elect at once.  Then the data nodes (claims too) and the clients
 * (none) together: bound, started, Ready at the readiness probe's second
 * round (the first, at the start, finds Elasticsearch not yet listening;
 * periodSeconds RENDER_PROBE_PERIOD_S, no initial delay, kube/render.c),
 * and the clients behind the HTTP Service a moment after (the simulator's
 * endpoints lag, 1 s).  So (1 s + R) + max(1 s + R + 2 s, R + 2 s + 1 s)
 * with R the runtime's delay: 8 s, and 4 s with pods ready at once.  The
 * overhead is the rest, reported as a fraction of that path.
 *
 * Both at esaasd's default engine.wait_poll_ms (2000) and at 100 ms, since
 * how often a waiting state looks again is most of the overhead, each with
 * the waits polling alone (kubernetes.watch: false, the way before the
 * watches: the baseline) and woken by the namespace's watch, reading it
 * before they ask (the default); with the number of requests the API
 * server got from esaasd for the create (the waits' looks, the watches,
 * and Elasticsearch's requests through the service proxy; counted by
 * esaas-sim from esaasd's start to the job's success).  Then 200
 * clusters (1 master, 1 data node each) created at once with zero delays:
 * the total time and the transitions written per second.  The baseline in
 * the same invocation is the zero-delay single create.  Run it with
 * `make bench-create`; bench/README.md has the figures.
 */
#include "common/util.h"
#include "kube/render.h"
#include "tests/integration/harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MANY 200
/* A real API server's write: etcd's commit and the admission chain. */
#define WRITE_MS 10

static const char SPEC[] = "{\"name\": \"%s\", \"version\": \"7.17.10\","
			   " \"masters\": {\"replicas\": 3}, \"data\": {\"replicas\": 3},"
			   " \"clients\": {\"replicas\": 2}}";

static const char SMALL_SPEC[] =
	"{\"name\": \"%s\", \"version\": \"7.17.10\","
	" \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": 1},"
	" \"clients\": {\"replicas\": 0}, \"placement\": {\"spread\": \"rack\"}}";

struct stack {
	struct pg *pg;
	char dburl[600];
	struct sim sim;
	struct esaasd d;
	PGconn *sql;
};

/* What one run varies beyond the pods' readiness and the polling. */
struct run_opts {
	bool watch;
	int write_ms;	       /* every write to the API server takes this long; 0: none */
	int apply_concurrency; /* kubernetes.apply_concurrency; 0: the default */
};

static bool stack_start(struct stack *st, struct pg *pg, int ready_ms, int poll_ms, int workers,
			const struct run_opts *ro)
{
	/* A real API server answers a write once etcd has it: milliseconds,
	 * not the simulator's microseconds (a latency fault on PATCH). */
	char *faults = ro->write_ms > 0 ? xasprintf("faults:\n  - {path: \"/api*\", method: PATCH, "
						    "latency_ms: %d}\n",
						    ro->write_ms)
					: xstrdup("");
	char *conf = xasprintf("tick_ms: 10\n"
			       "nodes:\n  count: 12\n  pods: 500\n  cpu: \"64\"\n  memory: 256Gi\n"
			       "  racks: [rack-a, rack-b, rack-c]\n"
			       "pods:\n  ready_delay_ms: %d\n  terminate_ms: 0\n"
			       "elasticsearch:\n  relocation_ms: 0\n  recovery_ms: 0\n"
			       "  no_master_wait_ms: 100\n"
			       /* The images already on every node, as on a fleet
				* that has run these versions before: no pull in
				* the critical path. */
			       "images:\n  pull_ms: 0\n%s",
			       ready_ms, faults);
	free(faults);
	/* In the environment esaasd inherits: the harness writes the
	 * configuration's kubernetes section. */
	char width[16];
	snprintf(width, sizeof(width), "%d", ro->apply_concurrency);
	if (ro->apply_concurrency > 0)
		setenv("ESAAS_KUBERNETES_APPLY_CONCURRENCY", width, 1);
	else
		unsetenv("ESAAS_KUBERNETES_APPLY_CONCURRENCY");
	memset(st, 0, sizeof(*st));
	st->pg = pg;
	bool ok = pg_new_database(pg, st->dburl, sizeof(st->dburl)) &&
		  sim_start(&st->sim, pg->dir, conf);
	free(conf);
	if (!ok)
		return false;
	struct esaasd_opts o = {.kubeconfig = st->sim.kubeconfig,
				.wait_poll_ms = poll_ms,
				.workers = workers,
				.log_level = "warn",
				.retry_base_ms = 50,
				.retry_cap_ms = 500,
				.no_watch = !ro->watch};
	if (!esaasd_start(&st->d, pg->dir, st->dburl, &o))
		return false;
	st->sql = sql_connect(st->dburl);
	return st->sql != NULL;
}

static void stack_stop(struct stack *st)
{
	if (st->d.pid > 0)
		esaasd_stop(&st->d, SIGTERM, true);
	sim_stop(&st->sim);
	PQfinish(st->sql);
}

/* The API requests esaas-sim has had (GET /_sim/state); -1 if unreadable. */
static long long api_requests(struct stack *st)
{
	struct http_resp r;
	long long n = -1;
	if (sim_call(&st->sim, "GET", "/_sim/state", NULL, &r) && r.status == 200) {
		json_t *a = json_object_get(r.body, "api_requests");
		n = json_integer_value(json_object_get(a, "total"));
		/* By verb and resource, for a reader who wants to know which. */
		if (getenv("ESAAS_BENCH_VERBOSE")) {
			char *by = json_dumps(json_object_get(a, "by_verb"), JSON_SORT_KEYS);
			fprintf(stderr, "  requests: %s\n", by ? by : "{}");
			free(by);
		}
	}
	http_resp_free(&r);
	return n;
}

/* Where the create's time went, state by state: each step's time from its
 * start to its end (duration_ms), and the gap before it (from the previous
 * step's end: the writer's commit, the wake-up, the claim). */
static void print_states(struct stack *st, int64_t id)
{
	char idbuf[32];
	snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id);
	const char *params[] = {idbuf};
	PGresult *r =
		PQexecParams(st->sql,
			     "SELECT coalesce(from_state, ''), outcome, duration_ms, "
			     "extract(epoch FROM started_at - lag(at) OVER (ORDER BY id)) * 1000 "
			     "FROM job_events WHERE job_id = $1 ORDER BY id",
			     1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		for (int i = 0; i < PQntuples(r); i++)
			fprintf(stderr, "  %-24s %-10s %6s ms, %8.8s ms before\n",
				PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
				PQgetvalue(r, i, 3));
	PQclear(r);
}

/*
 * Where the client's time went, on one clock (the wall's: the database's
 * timestamps are on it): the POST sent at 0; its answer; the job's
 * created_at (the submitting transaction's now()); the first state's start;
 * the last commit (finished_at); the moment the client saw the success.
 */
static void print_timeline(struct stack *st, int64_t id, int64_t sent_us, int64_t answered_us,
			   int64_t seen_us)
{
	char idbuf[32], sent[32];
	snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id);
	snprintf(sent, sizeof(sent), "%.6f", (double)sent_us / 1e6);
	const char *params[] = {idbuf, sent};
	PGresult *r = PQexecParams(
		st->sql,
		"SELECT extract(epoch FROM j.created_at - to_timestamp($2::float8)) * 1000,"
		" extract(epoch FROM (SELECT min(e.started_at) FROM job_events e"
		"  WHERE e.job_id = j.id AND e.from_state IS NOT NULL)"
		"  - to_timestamp($2::float8)) * 1000,"
		" extract(epoch FROM j.finished_at - to_timestamp($2::float8)) * 1000,"
		" (SELECT sum(e.duration_ms) FROM job_events e WHERE e.job_id = j.id)"
		" FROM jobs j WHERE j.id = $1",
		2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		fprintf(stderr,
			"  timeline (ms from the POST): answered %.1f, created_at %.1f, "
			"first state %.1f, finished_at %.1f, seen %.1f; states ran %s ms\n",
			(double)(answered_us - sent_us) / 1e3, atof(PQgetvalue(r, 0, 0)),
			atof(PQgetvalue(r, 0, 1)), atof(PQgetvalue(r, 0, 2)),
			(double)(seen_us - sent_us) / 1e3, PQgetvalue(r, 0, 3));
	PQclear(r);
}

/*
 * The create's last states, after every pod is ready: a few round trips
 * each, tens of milliseconds in all.  Once the job is in one, the client
 * looks every 2 ms instead of every 10.
 */
static const char *const TAIL_STATES[] = {
	"wait_joined",	      "wait_green",	"restore_repository",  "restore_start",
	"restore_wait_green", "restore_verify", "set_kibana_password", "apply_pdbs",
	"apply_kibana",	      "wait_kibana",	"record_ready",
};

static bool in_tail(const char *state)
{
	for (size_t i = 0; state && i < sizeof(TAIL_STATES) / sizeof(TAIL_STATES[0]); i++)
		if (strcmp(state, TAIL_STATES[i]) == 0)
			return true;
	return false;
}

/*
 * The job's success as the API reports it, to the client that polls GET
 * /api/v1/jobs/{id}: every 10 ms, as the tests' helper does, then every
 * 2 ms in the last states, so that the time between the commit and the
 * answer that shows it is mostly the API's, not the client's sleep.  False
 * (and why, on stderr) if the job ended otherwise or not in time.
 */
static bool wait_succeeded(struct stack *st, int64_t id, int timeout_ms)
{
	char path[64];
	snprintf(path, sizeof(path), "/api/v1/jobs/%lld", (long long)id);
	int64_t deadline = harness_now_ms() + timeout_ms;
	while (harness_now_ms() < deadline) {
		struct http_resp r;
		bool tail = false;
		if (http_call(&st->d, "GET", path, NULL, NULL, &r) && r.status == 200) {
			const char *status = json_string_value(json_object_get(r.body, "status"));
			const char *state = json_string_value(json_object_get(r.body, "state"));
			if (status &&
			    (strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0 ||
			     strcmp(status, "cancelled") == 0)) {
				bool ok = strcmp(status, "succeeded") == 0;
				if (!ok)
					fprintf(stderr, "job %lld: %s: %s\n", (long long)id, status,
						json_string_value(
							json_object_get(r.body, "error")));
				http_resp_free(&r);
				return ok;
			}
			tail = in_tail(state);
		}
		http_resp_free(&r);
		msleep(tail ? 2 : 10);
	}
	fprintf(stderr, "job %lld did not end in %d ms\n", (long long)id, timeout_ms);
	return false;
}

struct create_result {
	double ms;	    /* from the POST to the job's success; -1 if it failed */
	long long requests; /* the API server's, until then */
};

static struct create_result create_one(struct stack *st, const char *name)
{
	struct create_result res = {-1, -1};
	char *spec = xasprintf(SPEC, name);
	int64_t t0 = harness_now_ms(), sent_us = now_wall_us();
	int64_t id = post_cluster(&st->d, spec);
	int64_t answered_us = now_wall_us();
	free(spec);
	if (id <= 0 || !wait_succeeded(st, id, 300000))
		return res;
	res.ms = (double)(harness_now_ms() - t0);
	int64_t seen_us = now_wall_us();
	res.requests = api_requests(st);
	if (getenv("ESAAS_BENCH_VERBOSE")) {
		print_states(st, id);
		print_timeline(st, id, sent_us, answered_us, seen_us);
	}
	return res;
}

static struct create_result create_run(struct pg *pg, int ready_ms, int poll_ms,
				       const struct run_opts *ro)
{
	struct stack st;
	struct create_result res = {-1, -1};
	if (stack_start(&st, pg, ready_ms, poll_ms, 64, ro))
		res = create_one(&st, "bench");
	stack_stop(&st);
	return res;
}

/*
 * The simulated critical path with pods started ready_ms after they are
 * bound (see the top): the scheduler's binding cycle for a pod with claims
 * (sim/controllers.c, PREBIND_POLL_MS), the readiness probe's period
 * (RENDER_PROBE_PERIOD_S), the simulator's endpoints lag
 * (sim/controllers.c, ENDPOINTS_LAG_MS).
 */
static double critical_path_ms(double ready_ms)
{
	const double bind_ms = 1000, probe_ms = RENDER_PROBE_PERIOD_S * 1000.0, endpoints_ms = 1000;
	double masters = bind_ms + ready_ms;
	double data = bind_ms + ready_ms + probe_ms;
	double clients = ready_ms + probe_ms + endpoints_ms;
	return masters + (data > clients ? data : clients);
}

int main(int argc, char **argv)
{
	struct pg pg;
	/* --defaults: the single creates at esaasd's defaults only. */
	bool single = argc > 1 && strcmp(argv[1], "--defaults") == 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!pg_start(&pg)) {
		fprintf(stderr, "bench_create: cannot start PostgreSQL\n");
		return 1;
	}
	const int ready_ms = 2000;
	const double critical_ms = critical_path_ms(ready_ms);
	const double critical_zero_ms = critical_path_ms(0);
	int polls[] = {2000, 100};
	printf("create of 3 masters, 3 data, 2 clients (simulated critical path %.0f ms, "
	       "%.0f ms with pods ready at once)\n",
	       critical_ms, critical_zero_ms);
	/* At the defaults: before (polling) and after (watched), per create. */
	long long before[2] = {-1, -1}, after[2] = {-1, -1};
	printf("%-14s %-8s %-10s %10s %12s %9s %9s\n", "wait_poll_ms", "watch", "pods", "total ms",
	       "overhead ms", "overhead", "requests");
	for (size_t i = 0; i < (single ? 1 : sizeof(polls) / sizeof(polls[0])); i++) {
		for (int watch = 0; watch <= 1; watch++) {
			struct run_opts ro = {.watch = watch};
			struct create_result zero = create_run(&pg, 0, polls[i], &ro);
			struct create_result real = create_run(&pg, ready_ms, polls[i], &ro);
			const char *w = watch ? "on" : "off";
			printf("%-14d %-8s %-10s %10.0f %12.0f %8.1f%% %9lld\n", polls[i], w,
			       "at once", zero.ms, zero.ms - critical_zero_ms,
			       100.0 * (zero.ms - critical_zero_ms) / critical_zero_ms,
			       zero.requests);
			printf("%-14d %-8s %-10s %10.0f %12.0f %8.1f%% %9lld\n", polls[i], w,
			       "after 2 s", real.ms, real.ms - critical_ms,
			       100.0 * (real.ms - critical_ms) / critical_ms, real.requests);
			if (i == 0) {
				long long *into = watch ? after : before;
				into[0] = zero.requests;
				into[1] = real.requests;
			}
		}
	}
	printf("requests per create at the defaults, before (polling) -> after (watched): "
	       "%lld -> %lld at once, %lld -> %lld after 2 s\n",
	       before[0], after[0], before[1], after[1]);

	/* The applies of one kind one at a time (before) and at the default
	 * width (after), with writes that take as long as a real API
	 * server's. */
	printf("\nwith every write to the API server taking %d ms, pods ready after 2 s, "
	       "watched:\n",
	       WRITE_MS);
	printf("%-18s %10s %12s %9s\n", "apply_concurrency", "total ms", "overhead ms", "overhead");
	int widths[] = {1, 0};
	for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
		struct run_opts ro = {
			.watch = true, .write_ms = WRITE_MS, .apply_concurrency = widths[i]};
		struct create_result r = create_run(&pg, ready_ms, 2000, &ro);
		char label[32];
		snprintf(label, sizeof(label), widths[i] ? "%d" : "default (%d)",
			 widths[i] ? widths[i] : 8);
		printf("%-18s %10.0f %12.0f %8.1f%%\n", label, r.ms, r.ms - critical_ms,
		       100.0 * (r.ms - critical_ms) / critical_ms);
	}

	if (single) {
		pg_finish(&pg);
		return 0;
	}
	/* Many at once. */
	struct stack st;
	if (!stack_start(&st, &pg, 0, 100, 256, &(struct run_opts){.watch = true})) {
		fprintf(stderr, "bench_create: cannot start the stack\n");
		stack_stop(&st);
		pg_finish(&pg);
		return 1;
	}
	int64_t ids[MANY];
	int64_t t0 = harness_now_ms();
	for (int i = 0; i < MANY; i++) {
		char name[32];
		snprintf(name, sizeof(name), "c%03d", i);
		char *spec = xasprintf(SMALL_SPEC, name);
		ids[i] = post_cluster(&st.d, spec);
		free(spec);
	}
	int64_t submitted = harness_now_ms();
	int ok = 0;
	for (int i = 0; i < MANY; i++)
		ok += ids[i] > 0 && job_succeeded(&st.d, ids[i], 600000);
	int64_t done = harness_now_ms();
	long long transitions = sql_int(st.sql, "SELECT count(*) FROM job_events", 0, NULL);
	double secs = (double)(done - t0) / 1000.0;
	printf("\n%d clusters (1 master, 1 data) at once, pods ready at once\n", MANY);
	printf("  submitted in %lld ms; all %d succeeded after %.1f s\n",
	       (long long)(submitted - t0), ok, secs);
	printf("  %lld job events, %.0f per second\n", transitions, (double)transitions / secs);
	stack_stop(&st);
	pg_finish(&pg);
	return ok == MANY ? 0 : 1;
}
