/*
 * The writer: transitions queue up, and everything that accumulated while
 * the previous batch was in flight is sent as one statement
 * (storage_jobrun_write()), so one commit carries many jobs' transitions.
 * The same statement claims jobs for the slots the batch frees and for any
 * others free (engine_claim_ride()), so that a job's end and its
 * successor's claim cost one round trip and one commit together.  After
 * the commit each job of the batch continues, finishes or, fenced off, is
 * let go of; then the claimed jobs start.
 */
#include "engine/internal.h"
#include "common/json.h"
#include "storage/jobrun.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define BATCH_MAX 512
#define WRITE_RETRY_MS 500

static void writer_schedule(struct engine *e);

void engine_transition_free(struct transition *t)
{
	free(t->ev_from);
	free(t->ev_detail);
	free(t);
}

/* What Kubernetes or Elasticsearch said may be long: keep max bytes of it, with a note. */
static void cut_text(char **s, size_t max)
{
	if (*s && strlen(*s) > max) {
		char *cut = json_text_cut(*s, max);

		free(*s);
		*s = cut;
	}
}

/*
 * Queue the run's current in-memory values as a transition.  The run's
 * fields already hold the new state; the event describes how it got there.
 */
void engine_queue_transition(struct job_run *run, const struct fsm_step_result *res,
			     const char *from, int attempt)
{
	struct engine *e = run->e;
	struct transition *t = xcalloc(1, sizeof(*t));
	t->run = run;
	t->release = res->release;
	t->delay_ms = res->delay_ms;
	t->entered = res->entered;
	t->cont = res->cont;
	t->pausable = res->pausable;
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
	size_t max = e->opt.detail_max_bytes > 0 ? (size_t)e->opt.detail_max_bytes
						 : ENGINE_DETAIL_MAX_BYTES;
	cut_text(&t->ev_detail, max);
	cut_text(&run->job.error, max);
	cut_text(&run->job.observation, max);
	t->ev_started_us = run->started_wall_us;
	t->ev_duration_ms = now_mono_ms() - run->started_mono;
	run->phase = RUN_WRITING;
	*e->pending_tail = t;
	e->pending_tail = &t->next;
	e->npending++;
	writer_schedule(e);
}

/* A transition that is not a handler's outcome (cancel, release, refusal). */
void engine_queue_special(struct job_run *run, const struct fsm_step_result *res)
{
	engine_queue_transition(run, res, run->job.state, run->job.attempt);
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
		.pause = t->pausable,
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

void engine_write_retry_cb(evutil_socket_t fd, short what, void *arg)
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
			engine_transition_free(t);
			engine_run_free(run);
			continue;
		}
		e->stats.transitions++;
		engine_count_transition(run, t);
		run->version++;
		if (!t->release && sent_mono > run->lease_confirmed_mono)
			run->lease_confirmed_mono = sent_mono;
		run->cancel_requested = row->cancel_requested;
		if (row->paused) {
			/* Its cluster is paused: it stopped at this boundary, its
			 * lease given back, until a resume. */
			set_str(&run->job.status, "paused");
			jlog_info(&ctx, "paused before %s: its cluster is paused", run->job.state);
		}
		if (row->window_held) {
			/* Its maintenance window closed: it stopped at this
			 * boundary, lease given back, until the next opening. */
			set_str(&run->job.status, "waiting");
			jlog_info(&ctx, "held before %s: its maintenance window closed",
				  run->job.state);
		}
		jlog_debug(&ctx, "%s from %s committed (status %s)", t->ev_outcome,
			   t->ev_from ? t->ev_from : "-", run->job.status);
		report_end(e, run);
		if (t->entered) {
			run->state_elapsed_ms = 0;
			run->state_entered_mono = now_mono_ms();
		}
		/* We may well be the one to run it again: be awake then.  A
		 * wait woken while it was being written runs now. */
		if (t->release && t->delay_ms > 0 && !e->stopping && run->woken)
			engine_wake_parked(e, run->id);
		else if (t->release && t->delay_ms > 0 && !e->stopping)
			engine_arm_wake(e, t->delay_ms);
		bool cont = t->cont && !t->release && !run->superseded && !row->paused &&
			    !row->window_held;
		engine_transition_free(t);
		if (cont)
			engine_run_begin(run);
		else
			engine_run_free(run);
	}
	free(rows);
}

struct write_ctx {
	struct engine *e;
	struct transition *batch;
	int64_t sent_mono;
	int claim_limit; /* jobs the statement claims; 0: none */
};

static void give_up_cb(void *arg, const struct db_error *err)
{
	struct engine *e = arg;
	e->queries--;
	if (err)
		log_error("could not hand back a job after a failed write: %s", err->message);
	engine_check_done(e);
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
	engine_transition_free(t);
	e->stats.lost_leases++;
	engine_run_free(run);
}

static void writer_result_cb(void *arg, const struct db_error *err,
			     const struct jobrun_committed *rows, int n,
			     const struct jobrun_claimed *claimed, int nclaimed)
{
	struct write_ctx *w = arg;
	struct engine *e = w->e;
	struct transition *batch = w->batch;
	int64_t sent_mono = w->sent_mono;
	bool claimed_too = w->claim_limit > 0;
	free(w);
	e->writing = false;
	if (claimed_too && err)
		engine_claim_result(e, err, NULL, 0);
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
		/* The slots the batch frees were claimed for already. */
		e->settling = claimed_too;
		writer_done(e, batch, rows, n, sent_mono);
		e->settling = false;
		if (claimed_too)
			engine_claim_result(e, NULL, claimed, nclaimed);
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
	/* The runs that end with the batch, whose slots its claim may fill. */
	int freed = 0;
	for (struct transition *t = batch; t; t = t->next)
		if (!t->cont || t->release || t->run->superseded)
			freed++;
	struct write_ctx *w = xmalloc(sizeof(*w));
	w->e = e;
	w->batch = batch;
	w->sent_mono = now_mono_ms();
	w->claim_limit = engine_claim_ride(e, freed);
	e->writing = true;
	storage_jobrun_write(e->db, e->owner, e->opt.lease_s, rows, n, w->claim_limit, e->kinds,
			     e->reg->count, writer_result_cb, w);
	free(rows);
}

void engine_flush_cb(evutil_socket_t fd, short what, void *arg)
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
