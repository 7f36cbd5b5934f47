/*
 * The shape of a workflow: a table of states the engine runs.
 *
 * A workflow reads top to bottom: each state names its handler, how long
 * the job may stay in it (deadline), how many attempts a transient failure
 * gets, where it goes next, any other ways out (branches), and whether
 * on-call may replay from it.  The engine owns persistence, leases, retries
 * and deadlines; a handler only does its one thing and reports one outcome
 * through the step_*() calls.
 *
 * The table is the whole graph: a handler never names a state.  It ends in
 * .next (step_next) or in one of its own numbered ways out
 * (step_branch(s, WAY)), and the row that runs it says where each way
 * leads.  A handler with ways out declares them as an enum beside it
 * (states/), and the workflows check at registration that every row running
 * it maps every one of them.
 */
#ifndef ESAAS_FSM_H
#define ESAAS_FSM_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

struct event_base;
struct httpc;
struct step;

enum outcome {
	OUT_NEXT,  /* done here: commit and go to the next state */
	OUT_WAIT,  /* condition not met yet: run this state again later */
	OUT_RETRY, /* transient failure: back off and try again */
	OUT_FAIL,  /* permanent failure: the job fails (after cleanup) */
};

typedef void (*state_run_fn)(struct step *step);

/* A way out of a state other than .next: where the handler's way WAY leads. */
struct wf_branch {
	const char *label; /* what the way means, for the history and the graph */
	const char *to;	   /* the state it leads to */
};

struct wf_state {
	const char *name;
	state_run_fn run;
	int deadline_s;	  /* time allowed in this state, from first entry; > 0 */
	int max_attempts; /* RETRY outcomes allowed; 0: the engine default */
	const char *next; /* default next state; NULL ends the workflow */
	bool replay_safe; /* on-call may replay from here */
	/*
	 * A safe boundary: a job of a paused cluster stops on its way into
	 * this state (status "paused") and resumes by running it.  Only where
	 * nothing the workflow changed is still held when it gets here: no
	 * allocation paused, no exclusion set, no step half-way, the cluster
	 * settled (docs/operations.md, "Pause and resume").
	 */
	bool pause_safe;
	/* The handler's ways out, indexed by its enum; nbranches of them. */
	const struct wf_branch *branches;
	int nbranches;
};

/*
 * A row's ways out, by the handler's enum:
 *   WF_BRANCHES([SCALE_PLAN_UP] = {"up", "raise_quota"}, ...)
 * A way left out of the middle has no label and fails registration; one
 * left off the end makes nbranches smaller than the handler's count, which
 * the workflows' registration refuses too.
 */
#define WF_BRANCHES(...)                                     \
	.branches = (const struct wf_branch[]){__VA_ARGS__}, \
	.nbranches =                                         \
		(int)(sizeof((const struct wf_branch[]){__VA_ARGS__}) / sizeof(struct wf_branch))

/* A request for a job as its endpoint received it, for the workflow's checks. */
struct wf_request {
	json_t *body;  /* the JSON body: an object ({} when none came) */
	json_t *path;  /* the path's parameters besides the subject's name */
	json_t *query; /* the query's parameters, each a string */
};

/*
 * Why a request is refused, as the API answers it: status 422 (invalid),
 * 404 (not found) or 409 (conflict) with its code, the request's field at
 * fault ("" for none) and the message.
 */
struct wf_refusal {
	int status;
	const char *code; /* static: "invalid", "not_found", "conflict", ... */
	char field[128];
	char message[512];
};

/* Fill why; returns false, so that a check can end with "return wf_refuse(...)". */
bool wf_refuse(struct wf_refusal *why, int status, const char *code, const char *field,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

struct workflow {
	const char *kind;
	const struct wf_state *states;
	int nstates;
	/*
	 * First state of the cleanup chain, run after a cancel or a failure to
	 * undo what the workflow changed; NULL when there is nothing to undo.
	 * Cleanup states follow their own .next and end the job when it is NULL.
	 */
	const char *cleanup;
	/* Check the submitted parameters; on error fill field and message. */
	bool (*validate)(json_t *params, const char **field, char *msg, size_t msglen);
	/*
	 * A request for this workflow from its own endpoint, checked by the
	 * workflow (the API only routes it here).  Each hook may be NULL.
	 * request: the request alone; *params gets the job's parameters (a
	 *   new reference), or stays NULL after a refusal.
	 * prepare: then with the stored record of the job's subject (a
	 *   cluster's spec, which the engine never reads): may add to or
	 *   rewrite params.
	 * precheck: then against the live subject, asynchronously: done(arg,
	 *   NULL) to queue the job, or done(arg, why).  env is the workflows'
	 *   environment (step_env), tenant the job's, ns the namespace stored
	 *   with the subject (NULL for a create).  It may leave an array
	 *   of strings in params.warnings: the API answers them with the 202
	 *   and keeps them out of the job's parameters.
	 */
	bool (*request)(const struct wf_request *rq, json_t **params, struct wf_refusal *why);
	bool (*prepare)(json_t *record, json_t *params, struct wf_refusal *why);
	void (*precheck)(void *env, const char *tenant, const char *ns, json_t *params,
			 void (*done)(void *arg, const struct wf_refusal *why), void *arg);
	/*
	 * The plan of a job with these params (after the checks above), from
	 * what the live cluster answered (live: {"namespace", "pods": the pod
	 * list's items, "nodes": _cat/nodes rows, "health": _cluster/health,
	 * "shards": _cat/shards rows}, each missing when it could not be
	 * read), without any I/O: it sets plan's "states" (wf_path() with the
	 * branches the job's own handlers would take), and may set "pods",
	 * "shards" and add to "gates" (an array).  NULL: the table's path
	 * through every .next.
	 */
	void (*preview)(json_t *params, json_t *live, json_t *plan);
	/*
	 * Whether a job with these params (after prepare) disrupts the
	 * cluster (restarts its nodes), and so waits for the cluster's
	 * maintenance windows: queued until one is open, stopped at a safe
	 * boundary (pause_safe) when it closes, unless it is urgent
	 * (docs/operations.md, "Maintenance windows").  NULL: never.
	 */
	bool (*disruptive)(const json_t *params);
};

/*
 * Which way a state goes in a preview: -1 for .next, or one of its
 * handler's ways (step_branch); visit is how many times the path has been
 * through the state before.
 */
typedef int (*wf_choose_fn)(const struct wf_state *st, int visit, void *arg);

/*
 * The states a job goes through, in order, from the first state: each
 * state's way as choose decides it (NULL: always .next), until a state
 * has no next.  An array of state names; NULL when the path names a state
 * the table lacks or does not end within WF_PATH_MAX states.
 */
#define WF_PATH_MAX 4096
json_t *wf_path(const struct workflow *wf, wf_choose_fn choose, void *arg);

const struct wf_state *workflow_state(const struct workflow *wf, const char *name);
/* Where way WAY of state st leads, or NULL when its row does not declare it. */
const struct wf_branch *wf_state_branch(const struct wf_state *st, int way);

/* --- What a handler sees of its job. --- */
int64_t step_job_id(const struct step *s);
const char *step_kind(const struct step *s);
const char *step_cluster(const struct step *s);
const char *step_state(const struct step *s);
int step_attempt(const struct step *s); /* 1 for the first run */
/* Runs the state gets: a RETRY from the run whose step_attempt() equals
 * this fails the job. */
int step_max_attempts(const struct step *s);
json_t *step_params(const struct step *s); /* borrowed, read-only */
json_t *step_context(struct step *s);	   /* borrowed; changes are saved with the outcome */
const char *step_last_observation(const struct step *s); /* from the last WAIT, or NULL */
bool step_cleaning_up(const struct step *s);		 /* running a cleanup chain */
struct event_base *step_base(const struct step *s);
/* The process's HTTP client, for handlers that call Kubernetes or Elasticsearch. */
struct httpc *step_http(const struct step *s);
/* The workflows' environment (states/env.h), opaque to the engine. */
void *step_env(const struct step *s);
const char *step_tenant(const struct step *s);
/* The namespace stored with the job's cluster, and the cluster's id; NULL
 * and 0 for a job that has no cluster row (a test build's generic
 * submission). */
const char *step_namespace(const struct step *s);
int64_t step_cluster_id(const struct step *s);
/* The cluster's Elasticsearch security ({"ca_crt", "ca_key", "tls_crt",
 * "tls_key", "elastic", "kibana_system"}): as this job made it (its
 * context's es_security, which the engine then keeps with the cluster),
 * else as the cluster has it; NULL: none.  Borrowed. */
json_t *step_security(const struct step *s);

/*
 * Called if the engine must abandon the state while the handler is still
 * working (deadline passed, lease lost, shutdown).  abort_cb must cancel
 * what is outstanding and never report an outcome: the step is freed as
 * soon as it returns.  A handler that registers nothing may still report
 * later; that outcome is ignored.
 */
void step_on_abort(struct step *s, void (*abort_cb)(void *arg), void *arg);

/*
 * This run got further than the runs before it, and saved how far in the
 * context: a RETRY it reports now counts as the first failure from there,
 * not as one more of the same.  For a state that sends several requests in
 * turn and takes up where a failed run stopped.
 */
void step_progress(struct step *s);

/* --- Outcomes: exactly one per run.  They may be called from inside the
 * handler or later from a callback. --- */
void step_next(struct step *s); /* the table's .next */
/* The same, with a note for the job's history: what was skipped on the way. */
void step_next_noting(struct step *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Way WAY out of this state (the handler's enum), where the table's row
 * sends it; a way the row does not declare fails the job. */
void step_branch(struct step *s, int way);
void step_wait(struct step *s, int64_t delay_ms, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void step_retry(struct step *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void step_fail(struct step *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- The runner's decisions, apart from any I/O (engine/fsm.c). --- */

/* The part of a job that transitions change. Strings are owned (malloc). */
struct fsm_job {
	char *status;
	char *state;
	int attempt;
	char *error;
	char *failed_state;
	char *observation;
	char *ending; /* NULL, "cancel" or "fail" */
};

/* What to write and what to do after the write. */
struct fsm_step_result {
	const char *outcome; /* the event: next, wait, retry, fail, cancel, succeeded, ... */
	char *detail;	     /* owned; may be NULL */
	bool release;	     /* give the lease back */
	int64_t delay_ms;    /* runnable again after this long */
	bool entered;	     /* a new state begins */
	bool cont;	     /* run the new state right away, lease kept */
	/* The new state is a safe boundary (fsm_pause_boundary()): the job
	 * stops there instead if its cluster is paused when it is written. */
	bool pausable;
};

struct backoff_policy;

/* The longest a job can be parked by one WAIT or RETRY: a week. */
#define FSM_MAX_DELAY_MS (7LL * 24 * 3600 * 1000)

/*
 * Apply a handler's outcome to job.  draining: the process is shutting
 * down, so a new state is committed but left for another worker.
 */
void fsm_apply(const struct workflow *wf, const struct backoff_policy *retry, bool draining,
	       struct fsm_job *job, enum outcome out, const char *next, int64_t delay_ms,
	       const char *msg, struct fsm_step_result *res);
/*
 * Whether a job on its way into state may stop there for a pause: state is
 * one of wf's safe boundaries (wf_state.pause_safe) and the job is not
 * ending (a cleanup chain always runs to its end).
 */
bool fsm_pause_boundary(const struct workflow *wf, const struct fsm_job *job, const char *state);
/* A cancel was requested: enter the cleanup chain, or end. */
void fsm_cancel(const struct workflow *wf, bool draining, struct fsm_job *job,
		struct fsm_step_result *res);
/* Give the job back without running its state (shutdown). */
void fsm_release(struct fsm_job *job, const char *why, struct fsm_step_result *res);
void fsm_job_clear(struct fsm_job *job);
void fsm_result_clear(struct fsm_step_result *res);

#endif
