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
#include "storage/jobrun.h"
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
	const char **kinds; /* the registry's kinds */
	json_t *deadlines;  /* {"kind": {"state": ms}}, for the job gauges */
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

static void gauges_cb(void *arg, const struct db_error *err, const struct jobrun_gauge *rows, int n)
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
	for (int i = 0; i < n; i++) {
		const struct jobrun_gauge *g = &rows[i];
		const char *v[] = {g->kind, g->status};
		const char *kv[] = {g->kind};

		metrics_set(metrics_series(em.jobs, v), (double)g->jobs);
		if (g->past_deadline > 0)
			metrics_add(metrics_series(em.past_deadline, kv), (double)g->past_deadline);
		depth += g->due;
		if (g->oldest_due_s > oldest)
			oldest = g->oldest_due_s;
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
	storage_jobrun_gauges(e->db, e->deadlines, gauges_cb, e);
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

/*
 * The job's row after the transition, and the event that tells how it got
 * there, for storage_jobrun_transition(): borrowed from t and its run.
 */
static void transition_row(const struct transition *t, struct jobrun_transition *row)
{
	const struct job_run *r = t->run;
	const struct fsm_job *j = &r->job;

	*row = (struct jobrun_transition){
		.id = r->id,
		.epoch = r->epoch,
		.version = r->version,
		.status = j->status,
		.state = j->state,
		.attempt = j->attempt,
		.context = r->context,
		.error = j->error,
		.observation = j->observation,
		.failed_state = j->failed_state,
		.ending = j->ending,
		.delay_ms = t->delay_ms,
		.release = t->release,
		.entered = t->entered,
		.ev_from = t->ev_from,
		.ev_outcome = t->ev_outcome,
		.ev_attempt = t->ev_attempt,
		.ev_detail = t->ev_detail,
		.ev_started_us = t->ev_started_us,
		.ev_duration_ms = t->ev_duration_ms,
	};
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
	return cmp_i64(&((const struct jobrun_committed *)a)->id,
		       &((const struct jobrun_committed *)b)->id);
}

/*
 * After commit: continue, finish or let go of each job of the batch.  A job
 * missing from committed failed its fence: another worker owns it now.
 */
static void writer_done(struct engine *e, struct transition *batch,
			const struct jobrun_committed *committed, int n, int64_t sent_mono)
{
	struct jobrun_committed *rows = xcalloc((size_t)n + 1, sizeof(*rows));
	memcpy(rows, committed, (size_t)n * sizeof(*rows));
	qsort(rows, (size_t)n, sizeof(*rows), cmp_committed);
	e->stats.batches++;
	while (batch) {
		struct transition *t = batch;
		batch = t->next;
		struct job_run *run = t->run;
		struct jobrun_committed key = {.id = run->id};
		struct jobrun_committed *row =
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

static void give_up_cb(void *arg, const struct db_error *err)
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
	char *why = utf8_scrub(err->message);
	char *obs = xasprintf("esaasd could not record the %s transition: %s", t->ev_outcome, why);
	e->queries++;
	storage_jobrun_hand_back(e->db, run->id, e->owner, run->epoch, obs, give_up_cb, e);
	free(obs);
	free(why);
	transition_free(t);
	e->stats.lost_leases++;
	run_free(run);
}

static void writer_result_cb(void *arg, const struct db_error *err,
			     const struct jobrun_committed *rows, int n)
{
	struct write_ctx *w = arg;
	struct engine *e = w->e;
	struct transition *batch = w->batch;
	int64_t sent_mono = w->sent_mono;
	free(w);
	e->writing = false;
	if (err && storage_jobrun_retryable(err)) {
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
		writer_done(e, batch, rows, n, sent_mono);
	}
	writer_schedule(e);
}

static void writer_send(struct engine *e, struct transition *batch)
{
	int n = 0;
	for (struct transition *t = batch; t; t = t->next)
		n++;
	struct jobrun_transition *rows = xcalloc((size_t)n, sizeof(*rows));
	n = 0;
	for (struct transition *t = batch; t; t = t->next)
		transition_row(t, &rows[n++]);
	struct write_ctx *w = xmalloc(sizeof(*w));
	w->e = e;
	w->batch = batch;
	w->sent_mono = now_mono_ms();
	e->writing = true;
	storage_jobrun_transition(e->db, e->owner, e->opt.lease_s, rows, n, writer_result_cb, w);
	free(rows);
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

void step_goto(struct step *s, const char *state)
{
	step_report(s, OUT_NEXT, state, 0, NULL);
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

static void next_wake_cb(void *arg, const struct db_error *err, bool found, int64_t v)
{
	struct engine *e = arg;
	e->queries--;
	if (!e->stopping) {
		int64_t ms = (int64_t)e->opt.poll_s * 1000;
		if (!err && found)
			ms = v < 0 ? 0 : v + 1;
		arm_wake(e, ms);
	}
	check_done(e);
}

static struct job_run *run_from_row(struct engine *e, const struct jobrun_claimed *row)
{
	const struct workflow *wf = wf_registry_find(e->reg, row->kind);
	struct job_run *run = xcalloc(1, sizeof(*run));
	run->e = e;
	bool ok = row->valid;
	run->id = row->id;
	run->epoch = row->epoch;
	run->version = row->version;
	run->job.attempt = row->attempt;
	run->state_elapsed_ms = row->state_elapsed_ms;
	run->tenant = xstrdup(row->tenant);
	run->cluster = xstrdup(row->cluster);
	run->kind = xstrdup(row->kind);
	run->job.state = xstrdup(row->state);
	run->job.status = xstrdup(row->status);
	run->params = row->params ? json_incref(row->params) : NULL;
	run->context = row->context ? json_incref(row->context) : NULL;
	set_str(&run->job.error, row->error);
	set_str(&run->job.failed_state, row->failed_state);
	set_str(&run->job.observation, row->observation);
	set_str(&run->job.ending, row->ending);
	run->cancel_requested = row->cancel_requested;
	set_str(&run->takeover_from, row->prev_owner);
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

static void claim_result(struct engine *e, const struct db_error *err,
			 const struct jobrun_claimed *rows, int n)
{
	e->claiming = false;
	if (err) {
		log_warn("claiming jobs failed: %s", err->message);
		if (!e->stopping)
			arm_wake(e, CLAIM_RETRY_MS);
		return;
	}
	struct job_run **fresh = xcalloc((size_t)n + 1, sizeof(*fresh));
	for (int i = 0; i < n; i++) {
		struct job_run *run = run_from_row(e, &rows[i]);
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
		e->queries++;
		storage_jobrun_next_wake(e->db, e->owner, e->kinds, e->reg->count, next_wake_cb, e);
	}
}

static void claim_cb(void *arg, const struct db_error *err, const struct jobrun_claimed *rows,
		     int n)
{
	struct engine *e = arg;
	e->queries--;
	claim_result(e, err, rows, n);
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
	e->claiming = true;
	e->claim_again = false;
	e->claim_limit = limit;
	e->claim_sent_mono = now_mono_ms();
	e->queries++;
	storage_jobrun_claim(e->db, e->owner, limit, e->opt.lease_s, e->kinds, e->reg->count,
			     claim_cb, e);
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
 */
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

static void heartbeat_result(struct engine *e, int64_t sent_mono, const struct db_error *err,
			     const struct jobrun_lease_state *rows, int n)
{
	if (err) {
		log_warn("heartbeat failed: %s", err->message);
		return;
	}
	for (int i = 0; i < n; i++) {
		struct job_run *run = find_run(e, rows[i].id, rows[i].epoch);
		if (!run)
			continue;
		bool renewed = rows[i].renewed;
		bool ours = rows[i].ours;
		if (renewed && sent_mono > run->lease_confirmed_mono)
			run->lease_confirmed_mono = sent_mono;
		else if (!ours && run->phase == RUN_HANDLER)
			run_lost(run, "lease lost while the state was running");
	}
}

static void heartbeat_cb(void *arg, const struct db_error *err,
			 const struct jobrun_lease_state *rows, int n)
{
	struct hb_ctx *h = arg;
	struct engine *e = h->e;
	int64_t sent = h->sent_mono;
	free(h);
	e->heartbeat_in_flight = false;
	e->queries--;
	heartbeat_result(e, sent, err, rows, n);
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
	/* The ids and epochs of every run held now. */
	struct jobrun_lease *held = xcalloc((size_t)e->nruns, sizeof(*held));
	int n = 0;
	for (struct job_run *run = e->runs; run; run = run->next)
		held[n++] = (struct jobrun_lease){run->id, run->epoch};
	struct hb_ctx *h = xmalloc(sizeof(*h));
	h->e = e;
	h->sent_mono = now_mono_ms();
	e->heartbeat_in_flight = true;
	e->queries++;
	storage_jobrun_heartbeat(e->db, e->owner, e->opt.lease_s, held, n, heartbeat_cb, h);
	free(held);
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
	e->kinds = xcalloc((size_t)reg->count + 1, sizeof(*e->kinds));
	for (int i = 0; i < reg->count; i++)
		e->kinds[i] = reg->items[i]->kind;
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
	e->deadlines = deadlines;
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
	json_decref(e->deadlines);
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
