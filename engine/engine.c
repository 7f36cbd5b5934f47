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
 * one commit carries many jobs' transitions, and the same statement claims
 * jobs for the slots the batch frees (engine/writer.c); a claim goes alone
 * only when no batch is about to go.  Each row of a batch is fenced by
 * lease owner, epoch and version: a row that no longer matches is a job
 * this process has lost, and it lets go of it.
 *
 * This file holds the runs, the claims, the heartbeat and the life cycle;
 * engine/writer.c the transitions and their writer; engine/step.c the
 * handlers' side; engine/stats.c the metrics (engine/internal.h).  Every
 * statement is storage's (storage/jobrun.h).
 */
#include "config.h"
#include "engine/internal.h"
#include "common/metrics.h"
#include "storage/db.h"
#include "storage/jobrun.h"
#include "storage/jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

#define CLAIM_MAX 256
#define CLAIM_RETRY_MS 1000
#define UNKNOWN_STATE_DELAY_MS 60000
/* After the grace period, how long to wait for the last writes. */
#define FINAL_WRITE_MS 10000

static void run_abandon_step(struct job_run *run);

/* --- runs ---------------------------------------------------------------------- */

void engine_run_free(struct job_run *run)
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
	free(run->ns);
	json_decref(run->security);
	free(run->kind);
	fsm_job_clear(&run->job);
	free(run->takeover_from);
	free(run);
	/* A slot is free: there may be work waiting for it. */
	engine_poke(e);
	engine_check_done(e);
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
		engine_step_free(s);
	}
}

/* Stop a handler whose job is no longer (surely) ours. */
static void run_lost(struct job_run *run, const char *why)
{
	struct log_ctx ctx = run_ctx(run);
	jlog_warn(&ctx, "%s; abandoning the state, another worker will run it", why);
	run->e->stats.lost_leases++;
	engine_run_free(run);
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
		engine_transition_free(t);
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

/* --- outcomes ------------------------------------------------------------------- */

void engine_apply_outcome(struct job_run *run, enum outcome out, const char *next, int64_t delay_ms,
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
	engine_queue_transition(run, &res, from, attempt);
	fsm_result_clear(&res);
	free(from);
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
	engine_apply_outcome(run, OUT_FAIL, NULL, 0, msg);
	free(msg);
}

/* Run the job's current state (after a claim, or after a committed NEXT). */
void engine_run_begin(struct job_run *run)
{
	struct engine *e = run->e;
	run->started_wall_us = now_wall_us();
	run->started_mono = now_mono_ms();
	if (e->stopping) {
		/* Shutting down: the state has not started; leave it to others. */
		struct fsm_step_result res = {0};
		fsm_release(&run->job, "esaasd shut down before the state started", &res);
		engine_queue_special(run, &res);
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
		engine_queue_transition(run, &res, from, attempt);
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
		engine_queue_special(run, &res);
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
			engine_apply_outcome(run, OUT_FAIL, NULL, 0, msg);
			free(msg);
			return;
		}
		if (!run->deadline_ev)
			run->deadline_ev = evtimer_new(e->base, deadline_cb, run);
		struct timeval tv = {left / 1000, (left % 1000) * 1000};
		evtimer_add(run->deadline_ev, &tv);
	}
	struct step *s = engine_step_new(run);
	run->step = s;
	run->phase = RUN_HANDLER;
	/* The look that starts now sees what a wake before it was for. */
	run->woken = false;
	struct log_ctx ctx = run_ctx(run);
	jlog_debug(&ctx, "running");
	st->run(s);
}

/* --- claiming ---------------------------------------------------------------------- */

void engine_arm_wake(struct engine *e, int64_t ms)
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

static void job_woken_cb(void *arg, const struct db_error *err, bool found, int64_t v)
{
	struct engine *e = arg;
	(void)v;
	e->queries--;
	if (err)
		log_warn("engine: cannot wake a waiting job: %s", err->message);
	else if (found && !e->stopping)
		engine_arm_wake(e, 0);
	engine_check_done(e);
}

void engine_wake_parked(struct engine *e, int64_t id)
{
	e->queries++;
	storage_jobrun_wake_job(e->db, id, job_woken_cb, e);
}

void engine_wake_job(struct engine *e, int64_t id)
{
	if (e->stopping)
		return;
	for (struct job_run *run = e->runs; run; run = run->next) {
		if (run->id == id) {
			/* Still ours: its wait is woken once it is written. */
			run->woken = true;
			return;
		}
	}
	engine_wake_parked(e, id);
}

static void next_wake_cb(void *arg, const struct db_error *err, bool found, int64_t v)
{
	struct engine *e = arg;
	e->queries--;
	if (!e->stopping) {
		int64_t ms = (int64_t)e->opt.poll_s * 1000;
		if (!err && found)
			ms = v < 0 ? 0 : v + 1;
		engine_arm_wake(e, ms);
	}
	engine_check_done(e);
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
	run->cluster_id = row->cluster_id;
	set_str(&run->ns, row->ns);
	json_decref(run->security);
	run->security = row->es_security ? json_loads(row->es_security, 0, NULL) : NULL;
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
		engine_run_free(run);
		return NULL;
	}
	return run;
}

/* The answer to a claim, alone or carried by the writer's statement. */
void engine_claim_result(struct engine *e, const struct db_error *err,
			 const struct jobrun_claimed *rows, int n)
{
	e->claiming = false;
	if (err) {
		log_warn("claiming jobs failed: %s", err->message);
		if (!e->stopping)
			engine_arm_wake(e, CLAIM_RETRY_MS);
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
			engine_queue_special(run, &fr);
			free(msg);
			continue;
		}
		fresh[i] = run;
	}
	/* Start them only now: a handler may finish inline and free a slot. */
	for (int i = 0; i < n; i++)
		if (fresh[i])
			engine_run_begin(fresh[i]);
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
	engine_claim_result(e, err, rows, n);
	engine_check_done(e);
}

/*
 * How many jobs the writer's next statement, about to be sent with a batch
 * that frees freed slots once it commits, is to claim: 0 for none.  A
 * claim rides along when the batch frees slots or a poke asked for one,
 * and no other claim is in flight.
 */
int engine_claim_ride(struct engine *e, int freed)
{
	int slots = e->opt.workers - e->nruns + freed;
	if (e->stopping || e->claiming || slots <= 0 || (!freed && !e->claim_wanted))
		return 0;
	int limit = slots < CLAIM_MAX ? slots : CLAIM_MAX;
	e->claiming = true;
	e->claim_again = false;
	e->claim_wanted = false;
	e->claim_limit = limit;
	e->claim_sent_mono = now_mono_ms();
	return limit;
}

void engine_poke(struct engine *e)
{
	if (e->stopping || e->settling)
		return;
	if (e->claiming) {
		e->claim_again = true;
		return;
	}
	int free_slots = e->opt.workers - e->nruns;
	if (free_slots <= 0)
		return;
	if (!e->writing && e->pending) {
		/* The batch queued this turn is about to go: it claims too. */
		e->claim_wanted = true;
		event_active(e->flush_ev, EV_TIMEOUT, 0);
		return;
	}
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
		engine_arm_wake(e, (int64_t)e->opt.poll_s * 1000);
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
	engine_check_done(e);
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
	e->flush_ev = event_new(base, -1, 0, engine_flush_cb, e);
	e->write_retry_ev = evtimer_new(base, engine_write_retry_cb, e);
	e->heartbeat_ev = event_new(base, -1, EV_PERSIST, heartbeat_tick_cb, e);
	e->gauges_ev = event_new(base, -1, EV_PERSIST, engine_gauges_tick_cb, e);
	engine_metrics_setup(e);
	return e;
}

static void db_connected_cb(void *arg)
{
	engine_poke(arg);
}

void engine_start(struct engine *e)
{
	log_info("engine %s: %d workers, lease %ds, heartbeat %ds, events of finished jobs kept "
		 "%s%d "
		 "days",
		 e->owner, e->opt.workers, e->opt.lease_s, e->opt.heartbeat_s,
		 e->opt.events_retention_days > 0 ? "" : "for ever, not ",
		 e->opt.events_retention_days);
	e->listener =
		db_listener_new(e->base, e->opt.conninfo, JOBS_NOTIFY_CHANNEL, notified_cb, e);
	db_pool_on_connect(e->db, db_connected_cb, e);
	storage_jobrun_warm(e->db, e->owner, e->opt.lease_s, e->kinds, e->reg->count);
	struct timeval hb = {e->opt.heartbeat_s, 0};
	event_add(e->heartbeat_ev, &hb);
	struct timeval gv = {JOB_GAUGES_MS / 1000, (JOB_GAUGES_MS % 1000) * 1000};
	event_add(e->gauges_ev, &gv);
	engine_gauges_tick_cb(-1, 0, e);
	engine_prune_start(e);
	engine_poke(e);
	engine_arm_wake(e, (int64_t)e->opt.poll_s * 1000);
}

void engine_check_done(struct engine *e)
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
		engine_queue_special(run, &res);
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
	engine_prune_stop(e);
	db_listener_free(e->listener);
	e->listener = NULL;
	db_pool_on_connect(e->db, NULL, NULL);
	e->grace_ev = evtimer_new(e->base, grace_cb, e);
	struct timeval tv = {e->opt.shutdown_grace_s, 0};
	evtimer_add(e->grace_ev, &tv);
	engine_check_done(e);
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
		engine_run_free(run);
	}
	struct transition *lists[] = {e->pending, e->retry_batch};
	for (size_t i = 0; i < ARRAY_SIZE(lists); i++) {
		while (lists[i]) {
			struct transition *t = lists[i];
			lists[i] = t->next;
			engine_transition_free(t);
		}
	}
	db_listener_free(e->listener);
	event_free(e->wake_ev);
	event_free(e->flush_ev);
	event_free(e->write_retry_ev);
	event_free(e->heartbeat_ev);
	event_free(e->gauges_ev);
	engine_prune_free(e);
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
