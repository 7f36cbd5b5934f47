/*
 * The engine's parts, and what they share: engine.c (runs, claims,
 * heartbeat, life cycle), writer.c (the transitions and their writer),
 * step.c (the handlers' side: the step API of engine/fsm.h) and stats.c
 * (what the engine counts for /metrics).  Private to engine/.
 */
#ifndef ESAAS_ENGINE_INTERNAL_H
#define ESAAS_ENGINE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <jansson.h>
#include <event2/event.h>
#include "engine/engine.h"
#include "engine/fsm.h"
#include "common/log.h"
#include "common/util.h"
#include "storage/jobrun.h"

struct db_listener;
struct metric;

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
	int64_t cluster_id; /* the cluster's row; 0: none */
	char *ns;	    /* its namespace, or NULL */
	json_t *security;   /* its Elasticsearch security (clusters.es_security), or NULL */
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
	/* What its wait waits for may have come (engine_wake_job) while it
	 * ran or was being written: it runs again at once. */
	bool woken;
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
	int64_t cluster_id;
	char *ns;
	json_t *security;
	json_t *params, *context;
};

struct transition {
	struct transition *next;
	struct job_run *run;
	bool release;	  /* give the lease back */
	int64_t delay_ms; /* next run time, from now */
	bool entered;	  /* a new state starts: reset its clock */
	bool cont;	  /* after commit, run the (new) state here */
	bool pausable;	  /* the new state is a safe boundary: a paused cluster stops it */
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
	/*
	 * Slots may be free and nobody has looked: the next batch of
	 * transitions claims for them (its flush is due this turn).
	 */
	bool claim_wanted;
	/*
	 * The writer's answer is being applied, and its claim counted the
	 * slots the batch frees: freeing them asks for no claim of its own.
	 */
	bool settling;
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
	int queries; /* claim, wake-up, heartbeat and prune statements in flight */

	struct event *prune_ev; /* the history's retention (engine/prune.c); or NULL */
	bool pruning;		/* a round of batches is under way */
	int64_t pruned;		/* events removed by this round */

	struct event *schedule_ev; /* the clusters' schedules (engine/prune.c); or NULL */
	bool scheduling;	   /* a call is under way */

	bool stopping;
	bool grace_over;
	struct event *grace_ev;
	void (*done_cb)(void *arg);
	void *done_arg;
	bool done_called;

	struct engine_stats stats;
};

/* --- prune.c --------------------------------------------------------------------- */

void engine_prune_start(struct engine *e);
void engine_prune_stop(struct engine *e);
void engine_prune_free(struct engine *e);

/* --- engine.c --------------------------------------------------------------------- */

void engine_poke(struct engine *e);
int engine_claim_ride(struct engine *e, int freed);
void engine_claim_result(struct engine *e, const struct db_error *err,
			 const struct jobrun_claimed *rows, int n);
void engine_run_begin(struct job_run *run);
void engine_run_free(struct job_run *run);
void engine_arm_wake(struct engine *e, int64_t ms);
/* Job id is parked waiting: run it now (engine_wake_job). */
void engine_wake_parked(struct engine *e, int64_t id);
void engine_check_done(struct engine *e);
void engine_apply_outcome(struct job_run *run, enum outcome out, const char *next, int64_t delay_ms,
			  const char *msg);

static inline void set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = src ? xstrdup(src) : NULL;
}

static inline struct log_ctx run_ctx(const struct job_run *run)
{
	return (struct log_ctx){run->id, run->cluster, run->job.state, run->job.attempt,
				run->tenant};
}

/* --- writer.c --------------------------------------------------------------------- */

void engine_queue_transition(struct job_run *run, const struct fsm_step_result *res,
			     const char *from, int attempt);
void engine_queue_special(struct job_run *run, const struct fsm_step_result *res);
void engine_transition_free(struct transition *t);
void engine_flush_cb(evutil_socket_t fd, short what, void *arg);
void engine_write_retry_cb(evutil_socket_t fd, short what, void *arg);

/* --- step.c ----------------------------------------------------------------------- */

struct step *engine_step_new(struct job_run *run);
void engine_step_free(struct step *s);

/* --- stats.c ---------------------------------------------------------------------- */

/* How often the job gauges are read from the database. */
#define JOB_GAUGES_MS 10000

void engine_metrics_setup(struct engine *e);
void engine_count_transition(const struct job_run *run, const struct transition *t);
void engine_gauges_tick_cb(evutil_socket_t fd, short what, void *arg);

#endif
