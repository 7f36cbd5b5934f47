/*
 * The handlers' side of the engine: what a state's handler reads of its
 * job, and how it reports its outcome (the step API of engine/fsm.h).
 */
#include "engine/internal.h"

#include <stdarg.h>

struct step *engine_step_new(struct job_run *run)
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
	s->cluster_id = run->cluster_id;
	s->ns = run->ns ? xstrdup(run->ns) : NULL;
	s->security = json_incref(run->security);
	s->state = xstrdup(run->job.state);
	s->observation = run->job.observation ? xstrdup(run->job.observation) : NULL;
	s->params = json_incref(run->params);
	s->context = json_incref(run->context);
	return s;
}

void engine_step_free(struct step *s)
{
	free(s->kind);
	free(s->tenant);
	free(s->cluster);
	free(s->ns);
	json_decref(s->security);
	free(s->state);
	free(s->observation);
	json_decref(s->params);
	json_decref(s->context);
	free(s);
}

static void step_report(struct step *s, enum outcome out, const char *next, int64_t delay_ms,
			const char *msg)
{
	struct job_run *run = s->run;
	bool progressed = s->progressed;
	engine_step_free(s);
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
	engine_apply_outcome(run, out, next, delay_ms, msg);
	free(clean);
}

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
const char *step_namespace(const struct step *s)
{
	return s->ns;
}
int64_t step_cluster_id(const struct step *s)
{
	return s->cluster_id;
}

json_t *step_security(const struct step *s)
{
	json_t *made = json_object_get(s->context, "es_security");
	return made ? made : s->security;
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
