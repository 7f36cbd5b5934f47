/*
 * The job engine.
 *
 * A job this process holds is a job_run.  Its life is a loop:
 *
 *   claim ─► run the state's handler ─► outcome ─► write the transition ─┐
 *              ▲                                                          │
 *              └──────────── NEXT, lease kept ◄───────────────────────────┘
 *
 * WAIT and RETRY release the lease with a next run time, so any replica
 * may pick the job up again; the end of the workflow releases it for good.
 * Transitions are written by one writer that sends everything that
 * accumulated while the previous batch was in flight as one statement, so
 * one commit carries many jobs' transitions.  Each row of a batch is fenced
 * by lease owner, epoch and version: a row that no longer matches is a job
 * this process has lost, and it lets go of it.
 */
#include "config.h"
#include "engine/engine.h"
#include "engine/fsm.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"
#include "storage/db.h"
#include "storage/jobs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

#define CLAIM_MAX 256
#define BATCH_MAX 512
#define WRITE_RETRY_MS 500
#define CLAIM_RETRY_MS 1000
#define UNKNOWN_STATE_DELAY_MS 60000
/* After the grace period, how long to wait for the last writes. */
#define FINAL_WRITE_MS 10000

enum run_phase {
	RUN_HANDLER,
	RUN_WRITING
};

struct transition;

struct job_run {
	struct engine *e;
	struct job_run *prev, *next;
	int64_t id, epoch, version;
	char *tenant, *cluster, *kind;
	const struct workflow *wf;
	json_t *params, *context;
	struct fsm_job job; /* status, state, attempt, error, ... */
	bool cancel_requested;
	char *takeover_from;	  /* previous owner whose lease expired */
	int64_t state_elapsed_ms; /* time already spent in the state at claim */
	int64_t state_entered_mono;
	enum run_phase phase;
	/*
	 * Claimed again by this process while its transition was being written:
	 * the writer still refers to the run, so it is let go of, not
	 * continued, once the writer has the answer.
	 */
	bool superseded;
	int64_t lease_confirmed_mono; /* when a statement last extended the lease */
	struct step *step;	      /* the handler in flight */
	struct event *deadline_ev;
	int64_t started_wall_us, started_mono;
};

/*
 * What a handler holds.  It keeps its own references to everything the
 * handler can read, so that a handler abandoned by the engine (deadline,
 * lost lease) stays memory-safe until it reports; its outcome is then
 * ignored.
 */
struct step {
	struct job_run *run; /* NULL once abandoned */
	void (*abort_cb)(void *arg);
	void *abort_arg;
	struct event_base *base;
	struct httpc *http;
	void *env;
	int64_t id;
	int attempt, max_attempts;
	bool progressed; /* step_progress() was called */
	bool cleaning;
	char *kind, *cluster, *state, *observation, *tenant;
	json_t *params, *context;
};

struct transition {
	struct transition *next;
	struct job_run *run;
	bool release;	  /* give the lease back */
	int64_t delay_ms; /* next run time, from now */
	bool entered;	  /* a new state starts: reset its clock */
	bool cont;	  /* after commit, run the (new) state here */
	bool solo;	  /* write alone: its batch failed */
	char *ev_from;
	const char *ev_outcome;
	int ev_attempt;
	char *ev_detail;
	int64_t ev_started_us, ev_duration_ms;
};

struct engine {
	struct event_base *base;
	struct db_pool *db;
	const struct wf_registry *reg;
	struct engine_options opt;
	char owner[160];
	char *kinds;	 /* the registry's kinds as a text[] literal */
	char *deadlines; /* {"kind": {"state": ms}}, for the job gauges */
	struct db_listener *listener;

	struct job_run *runs;
	int nruns;

	bool claiming, claim_again;
	int claim_limit; /* rows asked for by the claim in flight */
	int64_t claim_sent_mono;
	struct event *wake_ev;
	int64_t wake_at_mono; /* 0: not armed */

	struct transition *pending, **pending_tail;
	int npending;
	bool writing;
	struct event *flush_ev;
	struct event *write_retry_ev;
	struct transition *retry_batch;

	struct event *heartbeat_ev;
	bool heartbeat_in_flight;

	struct engine_figure {
		struct engine *e;
		struct metric *family;
		int which;
	} figures[5];		 /* this replica's counts, for /metrics */
	struct event *gauges_ev; /* reads the job gauges from the database */
	bool gauges_in_flight;
	int queries; /* claim, wake-up and heartbeat statements in flight */

	bool stopping;
	bool grace_over;
	struct event *grace_ev;
	void (*done_cb)(void *arg);
	void *done_arg;
	bool done_called;

	struct engine_stats stats;
};

static void engine_poke(struct engine *e);
static void run_begin(struct job_run *run);
static void writer_schedule(struct engine *e);
static void arm_wake(struct engine *e, int64_t ms);
static void check_done(struct engine *e);
static void run_abandon_step(struct job_run *run);
static void transition_free(struct transition *t);
static void apply_outcome(struct job_run *run, enum outcome out, const char *next, int64_t delay_ms,
			  const char *msg);

static void set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = src ? xstrdup(src) : NULL;
}

static struct log_ctx run_ctx(const struct job_run *run)
{
	return (struct log_ctx){run->id, run->cluster, run->job.state, run->job.attempt,
				run->tenant};
}

/* --- runs ---------------------------------------------------------------------- */

static void run_free(struct job_run *run)
{
	struct engine *e = run->e;
	if (run->prev)
		run->prev->next = run->next;
	else
		e->runs = run->next;
	if (run->next)
		run->next->prev = run->prev;
	e->nruns--;
	run_abandon_step(run);
	if (run->deadline_ev)
		event_free(run->deadline_ev);
	json_decref(run->params);
	json_decref(run->context);
	free(run->tenant);
	free(run->cluster);
	free(run->kind);
	fsm_job_clear(&run->job);
	free(run->takeover_from);
	free(run);
	/* A slot is free: there may be work waiting for it. */
	engine_poke(e);
	check_done(e);
}

static struct step *step_new(struct job_run *run)
{
	struct step *s = xcalloc(1, sizeof(*s));
	s->run = run;
	s->base = run->e->base;
	s->http = run->e->opt.http;
	s->env = run->e->opt.env;
	s->tenant = xstrdup(run->tenant);
	s->id = run->id;
	s->attempt = run->job.attempt;
	const struct wf_state *st = workflow_state(run->wf, run->job.state);
	s->max_attempts =
		st && st->max_attempts > 0 ? st->max_attempts : run->e->opt.retry.max_attempts;
	s->cleaning = run->job.ending != NULL;
	s->kind = xstrdup(run->kind);
	s->cluster = xstrdup(run->cluster);
	s->state = xstrdup(run->job.state);
	s->observation = run->job.observation ? xstrdup(run->job.observation) : NULL;
	s->params = json_incref(run->params);
	s->context = json_incref(run->context);
	return s;
}

static void step_free(struct step *s)
{
	free(s->kind);
	free(s->tenant);
	free(s->cluster);
	free(s->state);
	free(s->observation);
	json_decref(s->params);
	json_decref(s->context);
	free(s);
}

/*
 * Detach the handler.  One that registered an abort callback stops there
 * and never reports, so the step goes now; one that did not may still
 * report, and its step lives until then, its outcome ignored.
 */
static void run_abandon_step(struct job_run *run)
{
	struct step *s = run->step;
	if (!s)
		return;
	run->step = NULL;
	s->run = NULL;
	if (s->abort_cb) {
		s->abort_cb(s->abort_arg);
		step_free(s);
	}
}

/* Stop a handler whose job is no longer (surely) ours. */
static void run_lost(struct job_run *run, const char *why)
{
	struct log_ctx ctx = run_ctx(run);
	jlog_warn(&ctx, "%s; abandoning the state, another worker will run it", why);
	run->e->stats.lost_leases++;
	run_free(run);
}

/* Take run's transition off the queue if it has not been sent yet. */
static bool pending_remove(struct engine *e, struct job_run *run)
{
	for (struct transition **pp = &e->pending; *pp; pp = &(*pp)->next) {
		struct transition *t = *pp;
		if (t->run != run)
			continue;
		*pp = t->next;
		if (!*pp)
			e->pending_tail = pp;
		e->npending--;
		transition_free(t);
		return true;
	}
	return false;
}

/*
 * This process has claimed the job of run once more, under a new epoch.
 * Either run's lease expired, or run handed the job back (WAIT, RETRY) and
 * the claim saw that commit before the writer had its answer (a NOTIFY for
 * a retry with no delay wakes the claim at once).  A transition not sent
 * yet would be fenced off by the new epoch: drop it.  One being written
 * still refers to run, which must outlive it: the writer lets go of the run
 * once the answer is in.
 */
static void run_claimed_again(struct job_run *run)
{
	struct engine *e = run->e;
	if (run->phase == RUN_WRITING && !pending_remove(e, run)) {
		struct log_ctx ctx = run_ctx(run);
		jlog_debug(&ctx, "claimed again while its transition was being written; "
				 "letting go of this run once it is");
		run->superseded = true;
		return;
	}
	run_lost(run, "claimed again after its lease expired");
}

/* --- metrics ------------------------------------------------------------------------ */

/*
 * What the engine counts as it goes: transitions, retries and the time
 * spent in each state, by workflow and state (both come from the
 * registry's tables, so their values are few), and this replica's claims,
 * takeovers and lost leases.  What it reads back from the database every
 * JOB_GAUGES_MS: the jobs not finished, by kind and status, and the queue
 * of jobs due that no worker holds, and the jobs whose current state has
 * lasted longer than its deadline (the engine fails such a job when it next
 * runs it: one that stays past its deadline is a job no worker advances).
 * Those cover the whole database, so every replica shows the same values
 * (aggregate them with max, not sum); only unfinished jobs are read,
 * through the claim's partial index, so the cost does not grow with the
 * history.
 */
#define JOB_GAUGES_MS 10000

static const char *const active_statuses[] = {"queued", "running", "waiting", "cancelling"};

/* From a few milliseconds to hours: waits for pods and shards are long. */
static const double state_buckets[] = {0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400};

static struct {
	struct metric *transitions, *retries, *state_duration, *jobs, *failed, *past_deadline;
	struct metric_series *queue_depth, *queue_oldest;
} em;

static const char JOB_GAUGES_SQL[] =
	"SELECT kind, status, count(*),"
	" count(*) FILTER (WHERE next_run_at <= now()"
	"  AND (lease_owner IS NULL OR lease_expires_at < now())),"
	" coalesce(extract(epoch FROM now() - min(next_run_at) FILTER (WHERE next_run_at <= now()"
	"  AND (lease_owner IS NULL OR lease_expires_at < now()))), 0),"
	" count(*) FILTER (WHERE state_entered_at"
	"  + ($1::jsonb -> kind ->> state)::float8 * interval '1 millisecond' < now())"
	" FROM jobs WHERE status IN ('queued', 'running', 'waiting', 'cancelling')"
	" GROUP BY kind, status";

static void figure_collect_cb(struct metrics_sink *sink, void *arg)
{
	const struct engine_figure *f = arg;
	const struct engine_stats *st = &f->e->stats;
	const double v[] = {(double)st->claimed, (double)st->takeovers, (double)st->lost_leases,
			    (double)st->batches, (double)f->e->nruns};

	metrics_sink_sample(sink, NULL, v[f->which]);
}

static void engine_metrics_setup(struct engine *e)
{
	static const char *const wso[] = {"workflow", "state", "outcome", NULL};
	static const char *const ws[] = {"workflow", "state", NULL};
	static const char *const ks[] = {"kind", "status", NULL};
	static const char *const kind[] = {"kind", NULL};
	static const struct {
		enum metric_type type;
		const char *name, *help;
	} figures[] = {
		{METRIC_COUNTER, "esaas_job_claims_total", "Jobs claimed by this replica."},
		{METRIC_COUNTER, "esaas_job_lease_takeovers_total",
		 "Jobs this replica claimed after another worker's lease on them expired."},
		{METRIC_COUNTER, "esaas_job_lost_leases_total",
		 "Jobs this replica let go of because their lease was lost or could not be "
		 "confirmed."},
		{METRIC_COUNTER, "esaas_job_transition_batches_total",
		 "Statements that committed transitions (each carries one or more)."},
		{METRIC_GAUGE, "esaas_jobs_running", "Jobs this replica holds now."},
	};
	struct metrics *m = metrics_default();

	em.transitions = metrics_counter(m, "esaas_job_transitions_total",
					 "Transitions committed, by workflow, the state left and "
					 "the outcome (next, wait, retry, fail, succeeded, ...).",
					 wso);
	em.retries = metrics_counter(m, "esaas_job_retries_total",
				     "RETRY outcomes committed, by workflow and state.", ws);
	em.state_duration = metrics_histogram(
		m, "esaas_job_state_duration_seconds",
		"Time a job spent in a state, from entering it to leaving it, waits and retries "
		"included.",
		ws, state_buckets, ARRAY_SIZE(state_buckets));
	em.jobs =
		metrics_gauge(m, "esaas_jobs",
			      "Jobs not finished, by kind and status, in the whole database.", ks);
	em.queue_depth = metrics_series(
		metrics_gauge(m, "esaas_job_queue_depth",
			      "Jobs due to run that no worker holds, in the whole database.", NULL),
		NULL);
	em.queue_oldest = metrics_series(
		metrics_gauge(m, "esaas_job_queue_oldest_age_seconds",
			      "How long the job longest due, and held by no worker, has waited "
			      "(0 when none waits).",
			      NULL),
		NULL);
	em.failed = metrics_counter(
		m, "esaas_jobs_failed_total",
		"Jobs that ended failed, by kind (after their cleanup, if any).", kind);
	em.past_deadline = metrics_gauge(
		m, "esaas_jobs_past_deadline",
		"Jobs not finished whose current state has lasted longer than its deadline, by "
		"kind, in the whole database.",
		kind);
	for (int i = 0; i < e->reg->count; i++) {
		const char *kv[] = {e->reg->items[i]->kind};

		for (size_t k = 0; k < ARRAY_SIZE(active_statuses); k++) {
			const char *v[] = {e->reg->items[i]->kind, active_statuses[k]};

			metrics_series(em.jobs, v);
		}
		metrics_series(em.failed, kv);
		metrics_series(em.past_deadline, kv);
	}
	for (size_t i = 0; i < ARRAY_SIZE(figures); i++) {
		e->figures[i].e = e;
		e->figures[i].which = (int)i;
		e->figures[i].family =
			metrics_collector(m, figures[i].type, figures[i].name, figures[i].help,
					  NULL, figure_collect_cb, &e->figures[i]);
	}
}

/* A committed transition, as the metrics count it. */
static void count_transition(const struct job_run *run, const struct transition *t)
{
	const char *state = t->ev_from ? t->ev_from : "";
	const char *wso[] = {run->kind, state, t->ev_outcome};
	const char *ws[] = {run->kind, state};
	const char *kind[] = {run->kind};
	bool ended = strcmp(run->job.status, "succeeded") == 0 ||
		     strcmp(run->job.status, "failed") == 0 ||
		     strcmp(run->job.status, "cancelled") == 0;

	metrics_inc(metrics_series(em.transitions, wso));
	if (strcmp(t->ev_outcome, "retry") == 0)
		metrics_inc(metrics_series(em.retries, ws));
	if (strcmp(run->job.status, "failed") == 0)
		metrics_inc(metrics_series(em.failed, kind));
	/* The state is left: a new one begins, or the job ends in it. */
	if (t->entered || ended) {
		int64_t ms = run->state_elapsed_ms + (now_mono_ms() - run->state_entered_mono);

		metrics_observe(metrics_series(em.state_duration, ws), (double)ms / 1000.0);
	}
}

static void gauges_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct engine *e = arg;
	int64_t depth = 0;
	double oldest = 0;

	e->queries--;
	e->gauges_in_flight = false;
	if (err) {
		log_debug("reading the job gauges failed: %s", err->message);
		check_done(e);
		return;
	}
	for (int i = 0; i < e->reg->count; i++) {
		const char *kv[] = {e->reg->items[i]->kind};

		for (size_t k = 0; k < ARRAY_SIZE(active_statuses); k++) {
			const char *v[] = {e->reg->items[i]->kind, active_statuses[k]};

			metrics_set(metrics_series(em.jobs, v), 0);
		}
		metrics_set(metrics_series(em.past_deadline, kv), 0);
	}
	for (int i = 0; i < PQntuples(res); i++) {
		const char *v[] = {PQgetvalue(res, i, 0), PQgetvalue(res, i, 1)};
		const char *kv[] = {v[0]};
		int64_t n = 0, due = 0, late = 0;

		if (!parse_int64(PQgetvalue(res, i, 2), 0, INT64_MAX, &n) ||
		    !parse_int64(PQgetvalue(res, i, 3), 0, INT64_MAX, &due) ||
		    !parse_int64(PQgetvalue(res, i, 5), 0, INT64_MAX, &late))
			continue;
		metrics_set(metrics_series(em.jobs, v), (double)n);
		if (late > 0)
			metrics_add(metrics_series(em.past_deadline, kv), (double)late);
		depth += due;
		double age = strtod(PQgetvalue(res, i, 4), NULL);
		if (age > oldest)
			oldest = age;
	}
	metrics_set(em.queue_depth, (double)depth);
	metrics_set(em.queue_oldest, oldest);
	check_done(e);
}

static void gauges_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine *e = arg;

	if (e->stopping || e->gauges_in_flight)
		return;
	e->gauges_in_flight = true;
	e->queries++;
	const char *params[] = {e->deadlines};

	db_query(e->db, JOB_GAUGES_SQL, 1, params, gauges_cb, e);
}

/* --- the writer ----------------------------------------------------------------- */

static void transition_free(struct transition *t)
{
	free(t->ev_from);
	free(t->ev_detail);
	free(t);
}

/*
 * Queue the run's current in-memory values as a transition.  The run's
 * fields already hold the new state; the event describes how it got there.
 */
static void queue_transition(struct job_run *run, const struct fsm_step_result *res,
			     const char *from, int attempt)
{
	struct engine *e = run->e;
	struct transition *t = xcalloc(1, sizeof(*t));
	t->run = run;
	t->release = res->release;
	t->delay_ms = res->delay_ms;
	t->entered = res->entered;
	t->cont = res->cont;
	t->ev_from = from ? xstrdup(from) : NULL;
	t->ev_outcome = res->outcome;
	t->ev_attempt = attempt;
	const char *detail = res->detail;
	if (run->takeover_from) {
		t->ev_detail = xasprintf("%s (after taking over from %s, whose lease expired)",
					 detail ? detail : res->outcome, run->takeover_from);
		set_str(&run->takeover_from, NULL);
	} else {
		t->ev_detail = detail ? xstrdup(detail) : NULL;
	}
	t->ev_started_us = run->started_wall_us;
	t->ev_duration_ms = now_mono_ms() - run->started_mono;
	run->phase = RUN_WRITING;
	*e->pending_tail = t;
	e->pending_tail = &t->next;
	e->npending++;
	writer_schedule(e);
}

/* A transition that is not a handler's outcome (cancel, release, refusal). */
static void queue_special(struct job_run *run, const struct fsm_step_result *res)
{
	queue_transition(run, res, run->job.state, run->job.attempt);
}

static json_t *transition_json(const struct transition *t)
{
	const struct job_run *r = t->run;
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(r->id));
	json_object_set_new(o, "epoch", json_integer(r->epoch));
	json_object_set_new(o, "version", json_integer(r->version));
	const struct fsm_job *j = &r->job;
	json_object_set_new(o, "status", json_string(j->status));
	json_object_set_new(o, "state", json_string(j->state));
	json_object_set_new(o, "attempt", json_integer(j->attempt));
	json_object_set(o, "context", r->context);
	json_object_set_new(o, "error", j->error ? json_string(j->error) : json_null());
	json_object_set_new(o, "observation",
			    j->observation ? json_string(j->observation) : json_null());
	json_object_set_new(o, "failed_state",
			    j->failed_state ? json_string(j->failed_state) : json_null());
	json_object_set_new(o, "ending", j->ending ? json_string(j->ending) : json_null());
	json_object_set_new(o, "delay_ms", json_integer(t->delay_ms));
	json_object_set_new(o, "release", json_boolean(t->release));
	json_object_set_new(o, "entered", json_boolean(t->entered));
	json_object_set_new(o, "ev_from", t->ev_from ? json_string(t->ev_from) : json_null());
	json_object_set_new(o, "ev_outcome", json_string(t->ev_outcome));
	json_object_set_new(o, "ev_attempt", json_integer(t->ev_attempt));
	json_object_set_new(o, "ev_detail", t->ev_detail ? json_string(t->ev_detail) : json_null());
	json_object_set_new(o, "ev_started_us", json_integer(t->ev_started_us));
	json_object_set_new(o, "ev_duration_ms", json_integer(t->ev_duration_ms));
	return o;
}

/*
 * One statement for the whole batch.  $1 owner, $2 the rows, $3 the lease
 * in seconds, extended by every transition that keeps it.
 *
 * A waiting job whose cancellation was requested while it ran is made
 * runnable as 'cancelling' right away, so that a long wait does not delay
 * the cancel.  A row already at version + 1 under the same claim is this
 * very transition, committed by an earlier send whose answer was lost: it
 * is reported as written, not written twice.  A job that ends with
 * context.observed records it on its cluster (and context.cluster_deleted
 * marks the cluster deleted), in the same commit.  NOTIFY wakes the other
 * replicas when a job ends (its cluster's next job may start) or is handed
 * back to run now.
 */
static const char TRANSITION_SQL[] =
	"WITH t AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS x("
	"  id bigint, epoch bigint, version bigint, status text, state text, attempt integer,"
	"  context jsonb, error text, observation text, failed_state text, ending text,"
	"  delay_ms bigint, release boolean, entered boolean, ev_from text, ev_outcome text,"
	"  ev_attempt integer, ev_detail text, ev_started_us bigint, ev_duration_ms bigint)),"
	" u AS (UPDATE jobs j SET"
	"  status = CASE WHEN t.status = 'waiting' AND j.cancel_requested AND t.ending IS NULL"
	"           THEN 'cancelling' ELSE t.status END,"
	"  state = t.state, attempt = t.attempt, context = t.context, error = t.error,"
	"  observation = t.observation, failed_state = t.failed_state, ending = t.ending,"
	"  next_run_at = CASE WHEN t.status = 'waiting' AND j.cancel_requested AND t.ending IS NULL"
	"           THEN now() ELSE now() + t.delay_ms * interval '1 millisecond' END,"
	"  state_entered_at = CASE WHEN t.entered THEN now() ELSE j.state_entered_at END,"
	"  lease_owner = CASE WHEN t.release THEN NULL ELSE j.lease_owner END,"
	"  lease_expires_at = CASE WHEN t.release THEN NULL"
	"           ELSE now() + $3 * interval '1 second' END,"
	"  finished_at = CASE WHEN t.status IN ('succeeded', 'failed', 'cancelled') THEN now() END,"
	"  version = j.version + 1, updated_at = now()"
	"  FROM t WHERE j.id = t.id AND j.lease_owner = $1 AND j.lease_epoch = t.epoch"
	"   AND j.version = t.version"
	"  RETURNING j.id, j.status, j.cancel_requested, t.release, t.delay_ms),"
	" done_before AS (SELECT j.id, j.cancel_requested FROM jobs j JOIN t ON j.id = t.id"
	"  WHERE j.version = t.version + 1 AND j.lease_epoch = t.epoch"
	"   AND (j.lease_owner = $1 OR j.lease_owner IS NULL)),"
	" e AS (INSERT INTO job_events (job_id, started_at, from_state, to_state, outcome, status,"
	"  attempt, actor, worker, detail, duration_ms)"
	"  SELECT t.id, to_timestamp(t.ev_started_us / 1000000.0), t.ev_from, t.state, "
	"t.ev_outcome,"
	"   u.status, t.ev_attempt, 'engine', $1, t.ev_detail, t.ev_duration_ms"
	"  FROM t JOIN u ON u.id = t.id ORDER BY t.id),"
	" cl AS (UPDATE clusters c SET observed = t.context->'observed', updated_at = now(),"
	"  spec = coalesce(t.context->'spec', c.spec),"
	"  deleted_at = CASE WHEN t.context->>'cluster_deleted' = 'true' THEN now()"
	"   ELSE c.deleted_at END"
	"  FROM t JOIN u ON u.id = t.id JOIN jobs j ON j.id = t.id"
	"  WHERE u.status IN ('succeeded', 'failed', 'cancelled') AND t.context ? 'observed'"
	"   AND c.tenant_id = j.tenant_id AND c.name = j.cluster AND c.deleted_at IS NULL),"
	" n AS (SELECT pg_notify('" JOBS_NOTIFY_CHANNEL "', '') WHERE EXISTS (SELECT 1 FROM u"
	"  WHERE u.status IN ('succeeded', 'failed', 'cancelled', 'cancelling')"
	"   OR (u.release AND u.delay_ms = 0)))"
	" SELECT u.id, u.cancel_requested, (SELECT count(*) FROM n) FROM u"
	" UNION ALL SELECT id, cancel_requested, 0 FROM done_before";

/* Errors after which the batch surely did not commit: send it again. */
static bool db_error_retryable(const struct db_error *err)
{
	if (err->kind != DB_ERR_QUERY)
		return true;
	const char *st = err->sqlstate;
	/* 40xxx serialization or deadlock, lock timeout, statement timeout, shutdown */
	return strncmp(st, "40", 2) == 0 || strcmp(st, "55P03") == 0 || strcmp(st, "57014") == 0 ||
	       strncmp(st, "57P", 3) == 0 || strncmp(st, "08", 2) == 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void writer_send(struct engine *e, struct transition *batch);

static void write_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine *e = arg;
	struct transition *batch = e->retry_batch;
	e->retry_batch = NULL;
	writer_send(e, batch);
}

struct committed {
	int64_t id;
	bool cancel_requested;
};

/* A committed end, for opt.on_job_end; finished_at is when the commit was seen. */
static void report_end(struct engine *e, const struct job_run *run)
{
	const struct fsm_job *j = &run->job;
	int64_t ms = now_wall_ms();
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	char at[96];

	if (!e->opt.on_job_end ||
	    (strcmp(j->status, "succeeded") != 0 && strcmp(j->status, "failed") != 0 &&
	     strcmp(j->status, "cancelled") != 0))
		return;
	gmtime_r(&secs, &tm);
	snprintf(at, sizeof(at), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	json_t *job =
		json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:s}", "id",
			  (json_int_t)run->id, "tenant", run->tenant, "cluster", run->cluster,
			  "kind", run->kind, "status", j->status, "state", j->state, "failed_state",
			  j->failed_state, "error", j->error, "finished_at", at);
	if (job) {
		e->opt.on_job_end(e->opt.on_job_end_arg, job);
		json_decref(job);
	} else {
		struct log_ctx ctx = run_ctx(run);

		jlog_warn(&ctx, "cannot report the job's end: its text is not valid UTF-8");
	}
}

static int cmp_committed(const void *a, const void *b)
{
	return cmp_i64(&((const struct committed *)a)->id, &((const struct committed *)b)->id);
}

/* After commit: continue, finish or let go of each job of the batch. */
static void writer_done(struct engine *e, struct transition *batch, PGresult *res,
			int64_t sent_mono)
{
	int n = PQntuples(res);
	struct committed *rows = xcalloc((size_t)n + 1, sizeof(*rows));
	for (int i = 0; i < n; i++) {
		if (!parse_int64(PQgetvalue(res, i, 0), 1, INT64_MAX, &rows[i].id))
			rows[i].id = 0;
		rows[i].cancel_requested = strcmp(PQgetvalue(res, i, 1), "t") == 0;
	}
	qsort(rows, (size_t)n, sizeof(*rows), cmp_committed);
	e->stats.batches++;
	while (batch) {
		struct transition *t = batch;
		batch = t->next;
		struct job_run *run = t->run;
		struct committed key = {.id = run->id};
		struct committed *row =
			bsearch(&key, rows, (size_t)n, sizeof(*rows), cmp_committed);
		struct log_ctx ctx = run_ctx(run);
		if (!row) {
			jlog_warn(&ctx,
				  "lost the lease before the %s transition was written; "
				  "another worker owns the job now",
				  t->ev_outcome);
			e->stats.lost_leases++;
			transition_free(t);
			run_free(run);
			continue;
		}
		e->stats.transitions++;
		count_transition(run, t);
		run->version++;
		if (!t->release && sent_mono > run->lease_confirmed_mono)
			run->lease_confirmed_mono = sent_mono;
		run->cancel_requested = row->cancel_requested;
		jlog_debug(&ctx, "%s from %s committed (status %s)", t->ev_outcome,
			   t->ev_from ? t->ev_from : "-", run->job.status);
		report_end(e, run);
		if (t->entered) {
			run->state_elapsed_ms = 0;
			run->state_entered_mono = now_mono_ms();
		}
		/* We may well be the one to run it again: be awake then. */
		if (t->release && t->delay_ms > 0 && !e->stopping)
			arm_wake(e, t->delay_ms);
		bool cont = t->cont && !t->release && !run->superseded;
		transition_free(t);
		if (cont)
			run_begin(run);
		else
			run_free(run);
	}
	free(rows);
}

struct write_ctx {
	struct engine *e;
	struct transition *batch;
	int64_t sent_mono;
};

static void give_up_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct engine *e = arg;
	e->queries--;
	if (err)
		log_error("could not hand back a job after a failed write: %s", err->message);
	check_done(e);
}

/*
 * This transition cannot be written.  Hand the job back, fenced, for a
 * later try, with the reason where on-call will see it, and let go of it.
 */
static void writer_give_up(struct engine *e, struct transition *t, const struct db_error *err)
{
	struct job_run *run = t->run;
	struct log_ctx ctx = run_ctx(run);
	jlog_error(&ctx, "cannot record the %s transition: %s; handing the job back", t->ev_outcome,
		   err->message);
	char id[24], epoch[24];
	snprintf(id, sizeof(id), "%lld", (long long)run->id);
	snprintf(epoch, sizeof(epoch), "%lld", (long long)run->epoch);
	char *why = utf8_scrub(err->message);
	char *obs = xasprintf("esaasd could not record the %s transition: %s", t->ev_outcome, why);
	const char *p[] = {id, e->owner, epoch, obs};
	e->queries++;
	db_query_wait(e->db,
		      "UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL,"
		      " status = CASE WHEN status = 'running' THEN 'waiting' ELSE status END,"
		      " next_run_at = now() + interval '60 seconds', observation = $4"
		      " WHERE id = $1 AND lease_owner = $2 AND lease_epoch = $3",
		      4, p, give_up_cb, e);
	free(obs);
	free(why);
	transition_free(t);
	e->stats.lost_leases++;
	run_free(run);
}

static void writer_result_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct write_ctx *w = arg;
	struct engine *e = w->e;
	struct transition *batch = w->batch;
	int64_t sent_mono = w->sent_mono;
	free(w);
	e->writing = false;
	if (err && db_error_retryable(err)) {
		/*
		 * It did not commit, or (connection lost) it may have: send it
		 * again.  Rows it already wrote are recognised by their version
		 * and reported as written, not written twice.
		 */
		log_warn("writing transitions failed%s%s: %s; retrying", *err->sqlstate ? " " : "",
			 err->sqlstate, err->message);
		e->writing = true;
		e->retry_batch = batch;
		struct timeval tv = {0, WRITE_RETRY_MS * 1000};
		evtimer_add(e->write_retry_ev, &tv);
		return;
	}
	if (err && batch->next) {
		/* One row spoils the statement: write each alone to find it. */
		log_error("writing transitions failed: %s; writing them one by one", err->message);
		struct transition *last = batch;
		for (struct transition *t = batch; t; t = t->next) {
			t->solo = true;
			last = t;
		}
		last->next = e->pending;
		if (!e->pending)
			e->pending_tail = &last->next;
		e->pending = batch;
	} else if (err) {
		writer_give_up(e, batch, err);
	} else {
		writer_done(e, batch, res, sent_mono);
	}
	writer_schedule(e);
}

static void writer_send(struct engine *e, struct transition *batch)
{
	json_t *arr = json_array();
	for (struct transition *t = batch; t; t = t->next)
		json_array_append_new(arr, transition_json(t));
	char *body = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	struct write_ctx *w = xmalloc(sizeof(*w));
	w->e = e;
	w->batch = batch;
	w->sent_mono = now_mono_ms();
	e->writing = true;
	char lease[16];
	snprintf(lease, sizeof(lease), "%d", e->opt.lease_s);
	const char *p[] = {e->owner, body, lease};
	db_query_wait(e->db, TRANSITION_SQL, 3, p, writer_result_cb, w);
	free(body);
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine *e = arg;
	if (e->writing || !e->pending)
		return;
	/* Take up to BATCH_MAX transitions off the queue; a solo one alone. */
	struct transition *batch = e->pending, *t = batch;
	int n = 1;
	while (!t->solo && t->next && !t->next->solo && n < BATCH_MAX) {
		t = t->next;
		n++;
	}
	e->pending = t->next;
	t->next = NULL;
	if (!e->pending)
		e->pending_tail = &e->pending;
	e->npending -= n;
	writer_send(e, batch);
}

/* Flush from the loop, after every outcome of this iteration has queued. */
static void writer_schedule(struct engine *e)
{
	if (!e->writing && e->pending)
		event_active(e->flush_ev, EV_TIMEOUT, 0);
}

/* --- outcomes ------------------------------------------------------------------- */

static void apply_outcome(struct job_run *run, enum outcome out, const char *next, int64_t delay_ms,
			  const char *msg)
{
	struct engine *e = run->e;
	char *from = xstrdup(run->job.state);
	int attempt = run->job.attempt;
	struct fsm_step_result res = {0};
	fsm_apply(run->wf, &e->opt.retry, e->stopping, &run->job, out, next, delay_ms, msg, &res);
	struct log_ctx ctx = {run->id, run->cluster, from, attempt, run->tenant};
	if (strcmp(res.outcome, "retry") == 0)
		jlog_warn(&ctx, "attempt %d failed, retrying in %lld ms: %s", attempt,
			  (long long)res.delay_ms, msg);
	else if (strcmp(res.outcome, "fail") == 0)
		jlog_error(&ctx, "failed: %s", res.detail);
	else if (res.release && !res.delay_ms)
		jlog_info(&ctx, "job %s", run->job.status);
	queue_transition(run, &res, from, attempt);
	fsm_result_clear(&res);
	free(from);
}

static void step_report(struct step *s, enum outcome out, const char *next, int64_t delay_ms,
			const char *msg)
{
	struct job_run *run = s->run;
	bool progressed = s->progressed;
	step_free(s);
	if (!run)
		return; /* abandoned: the engine has moved on */
	/* Failures before the progress are behind it: count from one again. */
	if (out == OUT_RETRY && progressed)
		run->job.attempt = 1;
	/* A message cut mid-character must not make the whole batch invalid JSON. */
	char *clean = msg ? utf8_scrub(msg) : NULL;
	msg = clean;
	run->step = NULL;
	if (run->deadline_ev)
		event_del(run->deadline_ev);
	apply_outcome(run, out, next, delay_ms, msg);
	free(clean);
}

/* A state's deadline here, in milliseconds, scaled by engine.deadline_percent. */
static int64_t deadline_ms(const struct engine *e, const struct wf_state *st)
{
	int pct = e->opt.deadline_percent > 0 ? e->opt.deadline_percent : 100;
	return (int64_t)st->deadline_s * 10 * pct;
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job_run *run = arg;
	const struct wf_state *st = workflow_state(run->wf, run->job.state);
	run_abandon_step(run);
	char *msg = xasprintf(
		"state %s did not finish within its deadline of %llds; last observation: %s",
		run->job.state, (long long)(deadline_ms(run->e, st) / 1000),
		run->job.observation ? run->job.observation : "none");
	apply_outcome(run, OUT_FAIL, NULL, 0, msg);
	free(msg);
}

/* Run the job's current state (after a claim, or after a committed NEXT). */
static void run_begin(struct job_run *run)
{
	struct engine *e = run->e;
	run->started_wall_us = now_wall_us();
	run->started_mono = now_mono_ms();
	if (e->stopping) {
		/* Shutting down: the state has not started; leave it to others. */
		struct fsm_step_result res = {0};
		fsm_release(&run->job, "esaasd shut down before the state started", &res);
		queue_special(run, &res);
		fsm_result_clear(&res);
		return;
	}
	if (run->cancel_requested && !run->job.ending) {
		struct fsm_step_result res = {0};
		char *from = xstrdup(run->job.state);
		int attempt = run->job.attempt;
		fsm_cancel(run->wf, e->stopping, &run->job, &res);
		struct log_ctx ctx = run_ctx(run);
		jlog_info(&ctx, "%s", res.detail);
		queue_transition(run, &res, from, attempt);
		fsm_result_clear(&res);
		free(from);
		return;
	}
	const struct wf_state *st = workflow_state(run->wf, run->job.state);
	if (!st) {
		/*
		 * A newer esaasd wrote a state this one does not know (a rollout
		 * in progress): leave it for a replica that does.
		 */
		char *why = xasprintf("state %s of workflow %s is unknown to this esaasd %s; "
				      "leaving it to another replica",
				      run->job.state, run->wf->kind, PACKAGE_VERSION);
		struct log_ctx ctx = run_ctx(run);
		jlog_warn(&ctx, "%s", why);
		set_str(&run->job.observation, why);
		struct fsm_step_result res = {0};
		fsm_release(&run->job, why, &res);
		res.delay_ms = UNKNOWN_STATE_DELAY_MS;
		queue_special(run, &res);
		fsm_result_clear(&res);
		free(why);
		return;
	}
	if (st->deadline_s > 0) {
		int64_t spent = run->state_elapsed_ms + (now_mono_ms() - run->state_entered_mono);
		int64_t left = deadline_ms(e, st) - spent;
		if (left <= 0) {
			char *msg = xasprintf(
				"state %s passed its deadline of %llds; last observation: %s",
				run->job.state, (long long)(deadline_ms(e, st) / 1000),
				run->job.observation ? run->job.observation : "none");
			apply_outcome(run, OUT_FAIL, NULL, 0, msg);
			free(msg);
			return;
		}
		if (!run->deadline_ev)
			run->deadline_ev = evtimer_new(e->base, deadline_cb, run);
		struct timeval tv = {left / 1000, (left % 1000) * 1000};
		evtimer_add(run->deadline_ev, &tv);
	}
	struct step *s = step_new(run);
	run->step = s;
	run->phase = RUN_HANDLER;
	struct log_ctx ctx = run_ctx(run);
	jlog_debug(&ctx, "running");
	st->run(s);
}

/* --- the step API ----------------------------------------------------------------- */

int64_t step_job_id(const struct step *s)
{
	return s->id;
}
const char *step_kind(const struct step *s)
{
	return s->kind;
}
const char *step_cluster(const struct step *s)
{
	return s->cluster;
}
const char *step_state(const struct step *s)
{
	return s->state;
}
int step_attempt(const struct step *s)
{
	return s->attempt;
}
int step_max_attempts(const struct step *s)
{
	return s->max_attempts;
}
json_t *step_params(const struct step *s)
{
	return s->params;
}
json_t *step_context(struct step *s)
{
	return s->context;
}
const char *step_last_observation(const struct step *s)
{
	return s->observation;
}
bool step_cleaning_up(const struct step *s)
{
	return s->cleaning;
}
struct event_base *step_base(const struct step *s)
{
	return s->base;
}
struct httpc *step_http(const struct step *s)
{
	return s->http;
}
void *step_env(const struct step *s)
{
	return s->env;
}
const char *step_tenant(const struct step *s)
{
	return s->tenant;
}

void step_on_abort(struct step *s, void (*abort_cb)(void *arg), void *arg)
{
	s->abort_cb = abort_cb;
	s->abort_arg = arg;
}

void step_progress(struct step *s)
{
	s->progressed = true;
}

void step_next(struct step *s)
{
	step_report(s, OUT_NEXT, NULL, 0, NULL);
}

void step_next_noting(struct step *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	step_report(s, OUT_NEXT, NULL, 0, msg);
	free(msg);
}

void step_branch(struct step *s, int way)
{
	const struct wf_state *st = s->run ? workflow_state(s->run->wf, s->run->job.state) : NULL;
	const struct wf_branch *br = wf_state_branch(st, way);

	if (s->run && !br) {
		/* Registration checks every row; reaching here is a handler's bug. */
		step_fail(s, "state %s took way %d, which its row in workflow %s does not declare",
			  s->run->job.state, way, s->run->wf->kind);
		return;
	}
	/* The history says which way: "next" with the way's label. */
	step_report(s, OUT_NEXT, br ? br->to : NULL, 0, br ? br->label : NULL);
}

void step_wait(struct step *s, int64_t delay_ms, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	step_report(s, OUT_WAIT, NULL, delay_ms, msg);
	free(msg);
}

void step_retry(struct step *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	step_report(s, OUT_RETRY, NULL, 0, msg);
	free(msg);
}

void step_fail(struct step *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	step_report(s, OUT_FAIL, NULL, 0, msg);
	free(msg);
}

/* --- claiming ---------------------------------------------------------------------- */

/*
 * started_at is the moment of the claim itself (clock_timestamp), not the
 * transaction's start (now): the claim is decided on a snapshot taken after
 * now(), and the history must not make a job seem to start before its
 * predecessor in the cluster had finished.
 */
static const char CLAIM_SQL[] =
	"WITH c AS (SELECT j.id, j.lease_owner AS prev_owner FROM jobs j"
	"  WHERE j.status IN ('queued', 'running', 'waiting', 'cancelling')"
	"   AND j.next_run_at <= now()"
	"   AND (j.lease_owner IS NULL OR j.lease_expires_at < now())"
	"   AND j.kind = ANY($4::text[])"
	"   AND NOT EXISTS (SELECT 1 FROM jobs p WHERE p.tenant_id = j.tenant_id"
	"    AND p.cluster = j.cluster AND p.id <> j.id"
	"    AND p.status IN ('running', 'waiting', 'cancelling'))"
	"   AND NOT (j.status = 'queued' AND EXISTS (SELECT 1 FROM jobs p"
	"    WHERE p.tenant_id = j.tenant_id AND p.cluster = j.cluster"
	"    AND p.status = 'queued' AND p.queue_seq < j.queue_seq))"
	"  ORDER BY j.next_run_at, j.queue_seq LIMIT $2 FOR UPDATE OF j SKIP LOCKED)"
	" UPDATE jobs j SET lease_owner = $1, lease_epoch = j.lease_epoch + 1,"
	"  lease_expires_at = now() + $3 * interval '1 second',"
	"  status = CASE WHEN j.status IN ('queued', 'waiting') THEN 'running' ELSE j.status END,"
	"  started_at = coalesce(j.started_at, clock_timestamp()),"
	"  state_entered_at = coalesce(j.state_entered_at, now()), updated_at = now()"
	" FROM c WHERE j.id = c.id"
	" RETURNING j.id, j.lease_epoch, j.version, j.tenant_id, j.cluster, j.kind, j.state,"
	"  j.status, j.attempt, j.params, j.context, j.error, j.failed_state, j.observation,"
	"  j.ending, j.cancel_requested,"
	"  (extract(epoch FROM now() - j.state_entered_at) * 1000)::bigint, c.prev_owner";

/* How long until something becomes runnable that is not runnable now. */
static const char NEXT_WAKE_SQL[] =
	"SELECT (extract(epoch FROM min(greatest(j.next_run_at,"
	"  coalesce(j.lease_expires_at, j.next_run_at))) - now()) * 1000)::bigint"
	" FROM jobs j WHERE j.status IN ('queued', 'running', 'waiting', 'cancelling')"
	"  AND NOT (j.lease_owner IS NOT NULL AND j.lease_owner = $1)"
	"  AND j.kind = ANY($2::text[])"
	"  AND NOT (j.status = 'queued' AND EXISTS (SELECT 1 FROM jobs p"
	"   WHERE p.tenant_id = j.tenant_id AND p.cluster = j.cluster AND p.id <> j.id"
	"   AND p.status IN ('running', 'waiting', 'cancelling')))"
	"  AND NOT (j.status = 'queued' AND EXISTS (SELECT 1 FROM jobs p"
	"   WHERE p.tenant_id = j.tenant_id AND p.cluster = j.cluster"
	"   AND p.status = 'queued' AND p.queue_seq < j.queue_seq))";

static void arm_wake(struct engine *e, int64_t ms)
{
	int64_t cap = (int64_t)e->opt.poll_s * 1000;
	if (ms > cap)
		ms = cap;
	if (ms < 0)
		ms = 0;
	int64_t at = now_mono_ms() + ms;
	if (e->wake_at_mono && e->wake_at_mono <= at && evtimer_pending(e->wake_ev, NULL))
		return;
	e->wake_at_mono = at;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(e->wake_ev, &tv);
}

static void next_wake_result(struct engine *e, PGresult *res, const struct db_error *err)
{
	if (e->stopping)
		return;
	int64_t ms = (int64_t)e->opt.poll_s * 1000;
	if (!err && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
		int64_t v;
		if (parse_int64(PQgetvalue(res, 0, 0), INT64_MIN, INT64_MAX, &v))
			ms = v < 0 ? 0 : v + 1;
	}
	arm_wake(e, ms);
}

static void next_wake_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct engine *e = arg;
	e->queries--;
	next_wake_result(e, res, err);
	check_done(e);
}

static struct job_run *run_from_row(struct engine *e, PGresult *res, int i)
{
	const char *kind = PQgetvalue(res, i, 5);
	const struct workflow *wf = wf_registry_find(e->reg, kind);
	struct job_run *run = xcalloc(1, sizeof(*run));
	run->e = e;
	bool ok = parse_int64(PQgetvalue(res, i, 0), 1, INT64_MAX, &run->id) &&
		  parse_int64(PQgetvalue(res, i, 1), 0, INT64_MAX, &run->epoch) &&
		  parse_int64(PQgetvalue(res, i, 2), 0, INT64_MAX, &run->version) &&
		  parse_int(PQgetvalue(res, i, 8), 1, INT32_MAX, &run->job.attempt);
	if (!parse_int64(PQgetvalue(res, i, 16), INT64_MIN, INT64_MAX, &run->state_elapsed_ms))
		run->state_elapsed_ms = 0;
	run->tenant = xstrdup(PQgetvalue(res, i, 3));
	run->cluster = xstrdup(PQgetvalue(res, i, 4));
	run->kind = xstrdup(kind);
	run->job.state = xstrdup(PQgetvalue(res, i, 6));
	run->job.status = xstrdup(PQgetvalue(res, i, 7));
	run->params = json_loads(PQgetvalue(res, i, 9), 0, NULL);
	run->context = json_loads(PQgetvalue(res, i, 10), 0, NULL);
	set_str(&run->job.error, db_value(res, i, 11));
	set_str(&run->job.failed_state, db_value(res, i, 12));
	set_str(&run->job.observation, db_value(res, i, 13));
	set_str(&run->job.ending, db_value(res, i, 14));
	run->cancel_requested = strcmp(PQgetvalue(res, i, 15), "t") == 0;
	set_str(&run->takeover_from, db_value(res, i, 17));
	run->state_entered_mono = now_mono_ms();
	run->lease_confirmed_mono = e->claim_sent_mono;
	run->wf = wf;
	if (!run->params)
		run->params = json_object();
	if (!run->context)
		run->context = json_object();
	run->next = e->runs;
	if (e->runs)
		e->runs->prev = run;
	e->runs = run;
	e->nruns++;
	if (!ok) {
		log_error("claimed a job row that does not parse; leaving it to its lease");
		run_free(run);
		return NULL;
	}
	return run;
}

static void claim_result(struct engine *e, PGresult *res, const struct db_error *err)
{
	e->claiming = false;
	if (err) {
		log_warn("claiming jobs failed: %s", err->message);
		if (!e->stopping)
			arm_wake(e, CLAIM_RETRY_MS);
		return;
	}
	int n = PQntuples(res);
	struct job_run **fresh = xcalloc((size_t)n + 1, sizeof(*fresh));
	for (int i = 0; i < n; i++) {
		struct job_run *run = run_from_row(e, res, i);
		if (!run)
			continue;
		e->stats.claimed++;
		/* Our own earlier run of this job is not ours any more. */
		for (struct job_run *old = e->runs; old; old = old->next)
			if (old != run && old->id == run->id && !old->superseded) {
				run_claimed_again(old);
				break;
			}
		struct log_ctx ctx = run_ctx(run);
		if (run->takeover_from) {
			e->stats.takeovers++;
			jlog_warn(&ctx, "took over from %s, whose lease expired",
				  run->takeover_from);
		} else {
			jlog_debug(&ctx, "claimed");
		}
		if (!run->wf) {
			char *msg = xasprintf("no workflow named %s in this esaasd", run->kind);
			jlog_error(&ctx, "%s", msg);
			set_str(&run->job.error, msg);
			set_str(&run->job.failed_state, run->job.state);
			set_str(&run->job.status, "failed");
			run->started_wall_us = now_wall_us();
			run->started_mono = now_mono_ms();
			struct fsm_step_result fr = {
				.outcome = "fail", .detail = msg, .release = true};
			queue_special(run, &fr);
			free(msg);
			continue;
		}
		fresh[i] = run;
	}
	/* Start them only now: a handler may finish inline and free a slot. */
	for (int i = 0; i < n; i++)
		if (fresh[i])
			run_begin(fresh[i]);
	free(fresh);
	/* A full claim means there may be more: claim again, skip the wake-up query. */
	if (e->claim_again || n == e->claim_limit) {
		e->claim_again = false;
		engine_poke(e);
	} else if (!e->stopping) {
		const char *p[] = {e->owner, e->kinds};
		e->queries++;
		db_query_wait(e->db, NEXT_WAKE_SQL, 2, p, next_wake_cb, e);
	}
}

static void claim_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct engine *e = arg;
	e->queries--;
	claim_result(e, res, err);
	check_done(e);
}

static void engine_poke(struct engine *e)
{
	if (e->stopping)
		return;
	if (e->claiming) {
		e->claim_again = true;
		return;
	}
	int free_slots = e->opt.workers - e->nruns;
	if (free_slots <= 0)
		return;
	int limit = free_slots < CLAIM_MAX ? free_slots : CLAIM_MAX;
	char lim[16], lease[16];
	snprintf(lim, sizeof(lim), "%d", limit);
	snprintf(lease, sizeof(lease), "%d", e->opt.lease_s);
	const char *p[] = {e->owner, lim, lease, e->kinds};
	e->claiming = true;
	e->claim_again = false;
	e->claim_limit = limit;
	e->claim_sent_mono = now_mono_ms();
	e->queries++;
	db_query_wait(e->db, CLAIM_SQL, 4, p, claim_cb, e);
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine *e = arg;
	e->wake_at_mono = 0;
	engine_poke(e);
	/* The safety poll: even with no news, look again after poll_s. */
	if (!e->stopping)
		arm_wake(e, (int64_t)e->opt.poll_s * 1000);
}

static void notified_cb(void *arg)
{
	engine_poke(arg);
}

/* --- heartbeat ------------------------------------------------------------------------ */

/*
 * Extend the leases of exactly the runs held now, by (id, epoch): a job
 * this process let go of must expire so that another worker rescues it.
 * Rows the writer has locked are skipped rather than waited for (the
 * writer extends what it keeps), so the two never deadlock.
 */
static const char HEARTBEAT_SQL[] =
	"WITH held AS (SELECT * FROM unnest($2::bigint[], $3::bigint[]) AS h(id, epoch)),"
	" lk AS (SELECT j.id FROM jobs j JOIN held h ON j.id = h.id"
	"  WHERE j.lease_owner = $1 AND j.lease_epoch = h.epoch FOR UPDATE OF j SKIP LOCKED),"
	" u AS (UPDATE jobs j SET lease_expires_at = now() + $4 * interval '1 second'"
	"  FROM lk WHERE j.id = lk.id RETURNING j.id)"
	" SELECT h.id, h.epoch, u.id IS NOT NULL,"
	"  coalesce(j.lease_owner = $1 AND j.lease_epoch = h.epoch, false)"
	" FROM held h LEFT JOIN u ON u.id = h.id LEFT JOIN jobs j ON j.id = h.id";

struct hb_ctx {
	struct engine *e;
	int64_t sent_mono;
};

static struct job_run *find_run(struct engine *e, int64_t id, int64_t epoch)
{
	for (struct job_run *run = e->runs; run; run = run->next)
		if (run->id == id && run->epoch == epoch)
			return run;
	return NULL;
}

static void heartbeat_result(struct engine *e, int64_t sent_mono, PGresult *res,
			     const struct db_error *err)
{
	if (err) {
		log_warn("heartbeat failed: %s", err->message);
		return;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		int64_t id, epoch;
		if (!parse_int64(PQgetvalue(res, i, 0), 1, INT64_MAX, &id) ||
		    !parse_int64(PQgetvalue(res, i, 1), 0, INT64_MAX, &epoch))
			continue;
		struct job_run *run = find_run(e, id, epoch);
		if (!run)
			continue;
		bool renewed = strcmp(PQgetvalue(res, i, 2), "t") == 0;
		bool ours = strcmp(PQgetvalue(res, i, 3), "t") == 0;
		if (renewed && sent_mono > run->lease_confirmed_mono)
			run->lease_confirmed_mono = sent_mono;
		else if (!ours && run->phase == RUN_HANDLER)
			run_lost(run, "lease lost while the state was running");
	}
}

static void heartbeat_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct hb_ctx *h = arg;
	struct engine *e = h->e;
	int64_t sent = h->sent_mono;
	free(h);
	e->heartbeat_in_flight = false;
	e->queries--;
	heartbeat_result(e, sent, res, err);
	check_done(e);
}

/*
 * A handler whose lease has not been confirmed for lease - heartbeat
 * (database unreachable, heartbeats failing) stops before the lease can
 * expire under it and another worker start the same state.
 */
static void abandon_unconfirmed(struct engine *e)
{
	int64_t now = now_mono_ms();
	int64_t limit = ((int64_t)e->opt.lease_s - e->opt.heartbeat_s) * 1000;
	struct job_run *run = e->runs;
	while (run) {
		struct job_run *next = run->next;
		if (run->phase == RUN_HANDLER && now - run->lease_confirmed_mono > limit) {
			char *why = xasprintf("lease not confirmed for %llds",
					      (long long)(now - run->lease_confirmed_mono) / 1000);
			run_lost(run, why);
			free(why);
		}
		run = next;
	}
}

static void heartbeat_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine *e = arg;
	abandon_unconfirmed(e);
	if (e->heartbeat_in_flight || e->nruns == 0)
		return;
	/* "{1,2,3}": the ids and epochs of every run held now. */
	size_t cap = (size_t)e->nruns * 21 + 3;
	char *ids = xmalloc(cap), *epochs = xmalloc(cap);
	size_t il = 0, el = 0;
	ids[il++] = '{';
	epochs[el++] = '{';
	for (struct job_run *run = e->runs; run; run = run->next) {
		il += (size_t)snprintf(ids + il, cap - il, "%s%lld", il > 1 ? "," : "",
				       (long long)run->id);
		el += (size_t)snprintf(epochs + el, cap - el, "%s%lld", el > 1 ? "," : "",
				       (long long)run->epoch);
	}
	ids[il++] = '}';
	ids[il] = '\0';
	epochs[el++] = '}';
	epochs[el] = '\0';
	struct hb_ctx *h = xmalloc(sizeof(*h));
	h->e = e;
	h->sent_mono = now_mono_ms();
	e->heartbeat_in_flight = true;
	e->queries++;
	char lease[16];
	snprintf(lease, sizeof(lease), "%d", e->opt.lease_s);
	const char *p[] = {e->owner, ids, epochs, lease};
	db_query_wait(e->db, HEARTBEAT_SQL, 4, p, heartbeat_cb, h);
	free(ids);
	free(epochs);
}

/* --- life cycle ------------------------------------------------------------------------ */

struct engine *engine_new(struct event_base *base, struct db_pool *db,
			  const struct wf_registry *reg, const struct engine_options *opt)
{
	struct engine *e = xcalloc(1, sizeof(*e));
	e->base = base;
	e->db = db;
	e->reg = reg;
	e->opt = *opt;
	if (e->opt.poll_s < 1)
		e->opt.poll_s = 1;
	char host[64] = "localhost", rnd[9];
	gethostname(host, sizeof(host) - 1);
	rand_hex(rnd, 4);
	snprintf(e->owner, sizeof(e->owner), "%s/%d/%s", host, (int)getpid(), rnd);
	e->pending_tail = &e->pending;
	/* Claim only what this binary can run: mixed versions during a rollout. */
	size_t cap = 3;
	for (int i = 0; i < reg->count; i++)
		cap += strlen(reg->items[i]->kind) + 3;
	e->kinds = xmalloc(cap);
	size_t kl = 0;
	e->kinds[kl++] = '{';
	for (int i = 0; i < reg->count; i++)
		kl += (size_t)snprintf(e->kinds + kl, cap - kl, "%s\"%s\"", i ? "," : "",
				       reg->items[i]->kind);
	snprintf(e->kinds + kl, cap - kl, "}");
	/* Each state's deadline as this engine applies it, for the job gauges. */
	json_t *deadlines = json_object();
	for (int i = 0; i < reg->count; i++) {
		const struct workflow *wf = reg->items[i];
		json_t *states = json_object();

		for (int k = 0; k < wf->nstates; k++)
			if (wf->states[k].deadline_s > 0)
				json_object_set_new(states, wf->states[k].name,
						    json_integer(deadline_ms(e, &wf->states[k])));
		json_object_set_new(deadlines, wf->kind, states);
	}
	e->deadlines = json_dumps(deadlines, JSON_COMPACT);
	json_decref(deadlines);
	e->wake_ev = evtimer_new(base, wake_cb, e);
	e->flush_ev = event_new(base, -1, 0, flush_cb, e);
	e->write_retry_ev = evtimer_new(base, write_retry_cb, e);
	e->heartbeat_ev = event_new(base, -1, EV_PERSIST, heartbeat_tick_cb, e);
	e->gauges_ev = event_new(base, -1, EV_PERSIST, gauges_tick_cb, e);
	engine_metrics_setup(e);
	return e;
}

static void db_connected_cb(void *arg)
{
	engine_poke(arg);
}

void engine_start(struct engine *e)
{
	log_info("engine %s: %d workers, lease %ds, heartbeat %ds", e->owner, e->opt.workers,
		 e->opt.lease_s, e->opt.heartbeat_s);
	e->listener =
		db_listener_new(e->base, e->opt.conninfo, JOBS_NOTIFY_CHANNEL, notified_cb, e);
	db_pool_on_connect(e->db, db_connected_cb, e);
	struct timeval hb = {e->opt.heartbeat_s, 0};
	event_add(e->heartbeat_ev, &hb);
	struct timeval gv = {JOB_GAUGES_MS / 1000, (JOB_GAUGES_MS % 1000) * 1000};
	event_add(e->gauges_ev, &gv);
	gauges_tick_cb(-1, 0, e);
	engine_poke(e);
	arm_wake(e, (int64_t)e->opt.poll_s * 1000);
}

static void check_done(struct engine *e)
{
	/* Done only when no callback of ours can still arrive. */
	if (!e->stopping || e->done_called || e->nruns > 0 || e->writing || e->pending ||
	    e->queries > 0)
		return;
	e->done_called = true;
	if (e->grace_ev)
		event_del(e->grace_ev);
	log_info("engine stopped: every lease released");
	if (e->done_cb)
		e->done_cb(e->done_arg);
}

/*
 * Grace is over: hand the states still running back to the queue.  If even
 * that cannot be written (database down), give up after FINAL_WRITE_MS: the
 * leases then expire and other workers take the jobs over.
 */
static void grace_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine *e = arg;
	if (e->grace_over) {
		log_error(
			"engine stopping with %d jobs whose last transition could not be written; "
			"their leases will expire",
			e->nruns);
		e->done_called = true;
		if (e->done_cb)
			e->done_cb(e->done_arg);
		return;
	}
	e->grace_over = true;
	struct timeval tv = {FINAL_WRITE_MS / 1000, (FINAL_WRITE_MS % 1000) * 1000};
	evtimer_add(e->grace_ev, &tv);
	for (struct job_run *run = e->runs; run; run = run->next) {
		if (run->phase != RUN_HANDLER)
			continue;
		struct log_ctx ctx = run_ctx(run);
		jlog_warn(&ctx, "still running at shutdown; releasing it to run again elsewhere");
		run_abandon_step(run);
		if (run->deadline_ev)
			event_del(run->deadline_ev);
		struct fsm_step_result res = {0};
		fsm_release(&run->job, "esaasd shut down while the state ran; it will run again",
			    &res);
		queue_special(run, &res);
		fsm_result_clear(&res);
	}
}

void engine_shutdown(struct engine *e, void (*done)(void *arg), void *arg)
{
	if (e->stopping)
		return;
	e->stopping = true;
	e->done_cb = done;
	e->done_arg = arg;
	log_info("engine stopping: no new claims; waiting up to %ds for %d running states",
		 e->opt.shutdown_grace_s, e->nruns);
	evtimer_del(e->wake_ev);
	db_listener_free(e->listener);
	e->listener = NULL;
	db_pool_on_connect(e->db, NULL, NULL);
	e->grace_ev = evtimer_new(e->base, grace_cb, e);
	struct timeval tv = {e->opt.shutdown_grace_s, 0};
	evtimer_add(e->grace_ev, &tv);
	check_done(e);
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	e->stopping = true;
	e->done_called = true;
	while (e->runs) {
		struct job_run *run = e->runs;
		run_abandon_step(run);
		run_free(run);
	}
	struct transition *lists[] = {e->pending, e->retry_batch};
	for (size_t i = 0; i < ARRAY_SIZE(lists); i++) {
		while (lists[i]) {
			struct transition *t = lists[i];
			lists[i] = t->next;
			transition_free(t);
		}
	}
	db_listener_free(e->listener);
	event_free(e->wake_ev);
	event_free(e->flush_ev);
	event_free(e->write_retry_ev);
	event_free(e->heartbeat_ev);
	event_free(e->gauges_ev);
	for (size_t i = 0; i < ARRAY_SIZE(e->figures); i++)
		metrics_unregister(e->figures[i].family);
	if (e->grace_ev)
		event_free(e->grace_ev);
	free(e->kinds);
	free(e->deadlines);
	free(e);
}

const char *engine_owner(const struct engine *e)
{
	return e->owner;
}

void engine_stats(const struct engine *e, struct engine_stats *out)
{
	*out = e->stats;
	out->running = e->nruns;
}
