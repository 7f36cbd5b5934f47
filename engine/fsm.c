/*
 * The runner's decisions: given a job and a handler's outcome, the job's new
 * status, state and attempt, and the event that records the change.  Pure:
 * the engine does the writing, this only decides, so it is tested alone.
 */
#include "engine/fsm.h"
#include "engine/backoff.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

static void set_str(char **dst, const char *src)
{
	char *copy = src ? xstrdup(src) : NULL;
	free(*dst);
	*dst = copy;
}

static void set_owned(char **dst, char *src)
{
	free(*dst);
	*dst = src;
}

static bool ending_is_cancel(const struct fsm_job *job)
{
	return job->ending && strcmp(job->ending, "cancel") == 0;
}

/* While a state runs. */
static const char *status_in_flight(const struct fsm_job *job)
{
	return ending_is_cancel(job) ? "cancelling" : "running";
}

/* Between runs, lease given back. */
static const char *status_parked(const struct fsm_job *job)
{
	return ending_is_cancel(job) ? "cancelling" : "waiting";
}

static void result(struct fsm_step_result *res, const char *outcome, const char *detail,
		   bool release, int64_t delay_ms, bool entered, bool cont)
{
	res->outcome = outcome;
	set_str(&res->detail, detail);
	res->release = release;
	/* A delay from a header or a bug must not overflow the database's interval. */
	res->delay_ms = delay_ms < 0		      ? 0
			: delay_ms > FSM_MAX_DELAY_MS ? FSM_MAX_DELAY_MS
						      : delay_ms;
	res->entered = entered;
	res->cont = cont;
	res->pausable = false;
}

/* Go to a new state: committed, then run here unless draining. */
static void enter(struct fsm_job *job, const char *state, bool draining, const char *outcome,
		  const char *detail, struct fsm_step_result *res)
{
	set_str(&job->state, state);
	job->attempt = 1;
	set_str(&job->observation, NULL);
	set_str(&job->status, draining ? status_parked(job) : status_in_flight(job));
	result(res, outcome, detail, draining, 0, true, !draining);
}

/* The workflow, or its cleanup chain, has run to its end. */
static void finish(struct fsm_job *job, const char *detail, struct fsm_step_result *res)
{
	const char *status = "succeeded";
	if (job->ending)
		status = ending_is_cancel(job) ? "cancelled" : "failed";
	set_str(&job->status, status);
	result(res, status, detail, true, 0, false, false);
}

static void fail(const struct workflow *wf, bool draining, struct fsm_job *job, const char *msg,
		 struct fsm_step_result *res)
{
	if (job->ending) {
		/* A cleanup state failed: stop there and say so. */
		char *err = job->error ? xasprintf("%s; then cleanup state %s failed: %s",
						   job->error, job->state, msg)
				       : xasprintf("cleanup state %s failed: %s", job->state, msg);
		set_owned(&job->error, err);
		set_str(&job->ending, "fail");
		finish(job, msg, res);
		res->outcome = "fail";
		return;
	}
	set_str(&job->failed_state, job->state);
	set_str(&job->error, msg);
	set_str(&job->ending, "fail");
	if (wf->cleanup) {
		char *detail = xasprintf("%s; cleanup starts at %s", msg, wf->cleanup);
		enter(job, wf->cleanup, draining, "fail", detail, res);
		free(detail);
	} else {
		set_str(&job->status, "failed");
		result(res, "fail", msg, true, 0, false, false);
	}
}

void fsm_apply(const struct workflow *wf, const struct backoff_policy *retry, bool draining,
	       struct fsm_job *job, enum outcome out, const char *next, int64_t delay_ms,
	       const char *msg, struct fsm_step_result *res)
{
	const struct wf_state *st = workflow_state(wf, job->state);
	if (!st) {
		char *m = xasprintf("workflow %s has no state %s", wf->kind, job->state);
		fail(wf, draining, job, m, res);
		free(m);
		return;
	}
	switch (out) {
	case OUT_NEXT: {
		if (next && !workflow_state(wf, next)) {
			char *m = xasprintf(
				"state %s asked to go to %s, which workflow %s does not have",
				job->state, next, wf->kind);
			fail(wf, draining, job, m, res);
			free(m);
			return;
		}
		const char *target = next ? next : st->next;
		if (!target) {
			finish(job, msg, res);
		} else {
			enter(job, target, draining, "next", msg, res);
			res->pausable = fsm_pause_boundary(wf, job, target);
		}
		return;
	}
	case OUT_WAIT:
		/*
		 * The state saw what it waits for, not there yet: whatever
		 * failed before has passed.  Attempts count failures in a row,
		 * so that a long wait (a namespace terminating for minutes)
		 * does not add up the odd transient failure of its many polls
		 * into giving up.
		 */
		job->attempt = 1;
		set_str(&job->observation, msg);
		set_str(&job->status, status_parked(job));
		result(res, "wait", msg, true, delay_ms, false, false);
		return;
	case OUT_RETRY: {
		int max = st->max_attempts > 0 ? st->max_attempts : retry->max_attempts;
		if (job->attempt >= max) {
			char *m = xasprintf("gave up after %d attempts: %s", job->attempt, msg);
			fail(wf, draining, job, m, res);
			free(m);
			return;
		}
		int64_t delay = backoff_delay(retry, job->attempt);
		set_owned(&job->observation, xasprintf("attempt %d failed: %s", job->attempt, msg));
		job->attempt++;
		set_str(&job->status, status_parked(job));
		result(res, "retry", msg, true, delay, false, false);
		return;
	}
	case OUT_FAIL:
		fail(wf, draining, job, msg, res);
		return;
	}
}

bool fsm_pause_boundary(const struct workflow *wf, const struct fsm_job *job, const char *state)
{
	const struct wf_state *st = workflow_state(wf, state);

	return st && st->pause_safe && !job->ending;
}

void fsm_cancel(const struct workflow *wf, bool draining, struct fsm_job *job,
		struct fsm_step_result *res)
{
	set_str(&job->ending, "cancel");
	if (wf->cleanup) {
		char *detail = xasprintf("cancel requested: cleanup starts at %s", wf->cleanup);
		enter(job, wf->cleanup, draining, "cancel", detail, res);
		free(detail);
	} else {
		finish(job, "cancel requested: nothing to clean up", res);
	}
}

void fsm_release(struct fsm_job *job, const char *why, struct fsm_step_result *res)
{
	set_str(&job->status, status_parked(job));
	result(res, "released", why, true, 0, false, false);
}

void fsm_job_clear(struct fsm_job *job)
{
	free(job->status);
	free(job->state);
	free(job->error);
	free(job->failed_state);
	free(job->observation);
	free(job->ending);
	memset(job, 0, sizeof(*job));
}

void fsm_result_clear(struct fsm_step_result *res)
{
	free(res->detail);
	memset(res, 0, sizeof(*res));
}
