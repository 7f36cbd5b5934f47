/*
 * What the engine counts for /metrics, and the job gauges it reads back
 * from the database.
 */
#include "engine/internal.h"
#include "common/metrics.h"
#include "storage/jobrun.h"

#include <string.h>

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
static const char *const active_statuses[] = {"queued", "running", "waiting", "cancelling",
					      "paused"};

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

void engine_metrics_setup(struct engine *e)
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
void engine_count_transition(const struct job_run *run, const struct transition *t)
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
		engine_check_done(e);
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
	engine_check_done(e);
}

void engine_gauges_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine *e = arg;

	if (e->stopping || e->gauges_in_flight)
		return;
	e->gauges_in_flight = true;
	e->queries++;
	storage_jobrun_gauges(e->db, e->deadlines, gauges_cb, e);
}
