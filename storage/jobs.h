/*
 * Job queries for the API: submit, read, list, events, cancel, replay.
 *
 * Results come back as jansson objects built by PostgreSQL itself
 * (jsonb_build_object), so the shapes below are the API's shapes.  A job:
 *   {"id": 42, "kind": "create", "cluster": "logs", "tenant": "default",
 *    "status": "running", "state": "wait_green", "attempt": 2,
 *    "params": {...}, "context": {...}, "error": null, "failed_state": null,
 *    "observation": "...", "submitted_by": "...", "idempotency_key": null,
 *    "cancel_requested": false, "created_at": "...", "updated_at": "...",
 *    "started_at": "...", "finished_at": null, "next_run_at": "..."}
 * An event:
 *   {"id": 7, "job_id": 42, "at": "...", "started_at": "...",
 *    "from_state": "a", "to_state": "b", "outcome": "next", "status": "running",
 *    "attempt": 1, "actor": "...", "worker": "...", "detail": "...",
 *    "duration_ms": 12, "reason": null}
 * ("reason" is what on-call gave for a cancel or a replay; null for the
 * engine's own events.)
 *
 * In every callback, err is NULL on success; json values are borrowed for
 * the duration of the call (json_incref to keep them).
 */
#ifndef ESAAS_STORAGE_JOBS_H
#define ESAAS_STORAGE_JOBS_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "storage/db.h"

#define DEFAULT_TENANT "default"
#define JOBS_NOTIFY_CHANNEL "esaas_jobs"

/*
 * The job's JSON above, as a SQL expression over a row of jobs aliased j;
 * every query that hands out a job builds it with this.  The security a
 * create makes (context.es_security: keys and passwords; es_security_next
 * while a secure job runs) is never handed out: a member reads elastic's
 * password through the credentials endpoint, and esaas's own is for esaasd
 * alone.
 */
#define JOB_JSON(j)                                                                               \
	"jsonb_build_object('id', " j ".id, 'tenant', " j ".tenant_id, 'cluster', " j ".cluster," \
	" 'kind', " j ".kind, 'status', " j ".status, 'state', " j ".state,"                      \
	" 'attempt', " j ".attempt, 'params', " j ".params,"                                      \
	" 'context', " j ".context - 'es_security' - 'es_security_next',"                         \
	" 'error', " j ".error, 'failed_state', " j ".failed_state,"                              \
	" 'observation', " j ".observation, 'cancel_requested', " j ".cancel_requested,"          \
	" 'submitted_by', " j ".submitted_by, 'idempotency_key', " j ".idempotency_key,"          \
	" 'lease_owner', " j ".lease_owner,"                                                      \
	" 'created_at', esaas_ts(" j ".created_at), 'updated_at', esaas_ts(" j ".updated_at),"    \
	" 'started_at', esaas_ts(" j ".started_at), 'finished_at', esaas_ts(" j ".finished_at),"  \
	" 'next_run_at', esaas_ts(" j ".next_run_at), 'windowed', " j ".windowed,"                \
	" 'urgent_reason', " j ".urgent_reason, 'window_held', " j ".window_held,"                \
	" 'window', CASE WHEN " j ".windowed AND (" j ".status = 'queued' OR " j ".window_held)"  \
	"  THEN esaas_job_window(" j ".cluster_id) END)"

/* A cell holding JSON as a new reference; NULL when SQL NULL or unparsable. */
json_t *storage_json_value(PGresult *res, int row, int col);

struct job_submit {
	const char *tenant;
	const char *kind;
	const char *cluster;
	const char *first_state;
	json_t *params; /* object */
	const char *actor;
	const char *idempotency_key; /* NULL: none */
	/* The spec params.spec was planned against (the cluster's target_spec
	 * when it was read), or NULL for no check.  When the cluster is to have
	 * another spec by the time the submission holds the cluster's lock,
	 * nothing is queued and err carries SPEC_BASE_SQLSTATE. */
	const json_t *base_spec;
	/* Held to the cluster's maintenance windows (a disruptive job that is
	 * not urgent): queued until a window is open, and stopped at a safe
	 * boundary when its window closes. */
	bool windowed;
	/* Urgent: let run outside the windows, for this reason (audited);
	 * NULL: not urgent. */
	const char *urgent_reason;
};

/* The submission's base_spec is no longer the spec its cluster is to have
 * (esaas_spec_base_check(), 0010_spec_base.sql). */
#define SPEC_BASE_SQLSTATE "ES001"

/*
 * job: the stored job.  created is false when an earlier job with the same
 * idempotency key was found instead (the caller compares kind, cluster and
 * params to tell a repeat from a conflicting reuse).
 */
typedef void (*storage_submit_cb)(void *arg, const struct db_error *err, json_t *job, bool created);
void storage_job_submit(struct db_pool *db, const struct job_submit *req, storage_submit_cb cb,
			void *arg);

/*
 * In the job functions below, a NULL tenant is every tenant (for the roles
 * that see them all); otherwise a job of another tenant is not found.
 */

/* job is NULL when there is no such job in the tenant. */
typedef void (*storage_job_cb)(void *arg, const struct db_error *err, json_t *job);
void storage_job_get(struct db_pool *db, const char *tenant, int64_t id, storage_job_cb cb,
		     void *arg);

struct job_filter {
	const char *tenant;  /* NULL: every tenant */
	const char *status;  /* NULL: any */
	const char *kind;    /* NULL: any */
	const char *cluster; /* NULL: any */
	int limit;	     /* 1..500 */
	int64_t cursor;	     /* 0: from the newest; else jobs with id < cursor */
};
/* page: {"jobs": [...], "next_cursor": 123 | null}, newest first. */
typedef void (*storage_page_cb)(void *arg, const struct db_error *err, json_t *page);
void storage_job_list(struct db_pool *db, const struct job_filter *f, storage_page_cb cb,
		      void *arg);

/*
 * A page of a job's history, oldest first: at most limit events whose id
 * is above after (0: from the first).  page is {"events": [...],
 * "next_after": id | null}, next_after the cursor of the page that
 * follows; NULL when the job does not exist.  A wait that repeated its
 * job's last event is counted on it ("polls", "last_at"), so the last
 * event of a page may have grown when it is read again.
 */
typedef void (*storage_events_cb)(void *arg, const struct db_error *err, json_t *page);
void storage_job_events(struct db_pool *db, const char *tenant, int64_t id, int64_t after,
			int limit, storage_events_cb cb, void *arg);

/*
 * The retention of the history: remove at most batch events of jobs that
 * finished more than keep_days days ago (0008_bounded_events.sql's
 * esaas_prune_job_events()), in one short statement.  removed is how many
 * went: a batch that comes back full means more are due.
 */
typedef void (*storage_prune_cb)(void *arg, const struct db_error *err, int64_t removed);
/* Queue the jobs the clusters' schedules ask for now (a snapshot every so
 * often, storage/migrations/0014_snapshots.sql); cb gets how many. */
void storage_jobs_queue_scheduled(struct db_pool *db, storage_prune_cb cb, void *arg);
void storage_job_events_prune(struct db_pool *db, int keep_days, int batch, storage_prune_cb cb,
			      void *arg);

enum cancel_result {
	CANCEL_NOT_FOUND,
	CANCEL_DONE,	  /* was queued and never started: cancelled now */
	CANCEL_REQUESTED, /* running or waiting: stops at the next state boundary */
	CANCEL_ALREADY,	  /* cancellation already requested */
	CANCEL_REFUSED,	  /* status does not allow it (succeeded, failed, cancelled) */
};
/* job is the job after the change (or as it is, when refused). */
typedef void (*storage_cancel_cb)(void *arg, const struct db_error *err, enum cancel_result result,
				  json_t *job);
void storage_job_cancel(struct db_pool *db, const char *tenant, int64_t id, const char *actor,
			const char *reason, storage_cancel_cb cb, void *arg);

/*
 * Replay a failed or cancelled job: it is queued again at from_state, in
 * one statement that locks the row, so that of two replays of one job
 * exactly one happens.  Its context is kept; the attempt counter, the
 * error, the failed state, the ending and the finish time are cleared;
 * the state's deadline clock starts again when a worker claims it (and so
 * does started_at, which always tells when the current run began).  It
 * takes a new place at the end of its cluster's queue, under the lock
 * that submissions take, so it never runs while another job of its
 * cluster runs, and it runs after the jobs queued before the replay.  An
 * event "replay" (from_state and to_state both the state it starts from)
 * records the actor, the reason and how the job had ended.
 *
 * Without from_state the default is the state the job failed in (its
 * failed_state, a state of the main workflow even when the cleanup chain
 * ran or failed after it), or, for a job that did not fail in the main
 * workflow (cancelled, or failed in the cleanup that followed a cancel),
 * the main-workflow state it was in when it stopped: its current state if
 * that is one, else the state its last event from the main workflow left
 * (where the cancel found it before the cleanup chain ran).
 */
enum replay_result {
	REPLAY_NOT_FOUND,
	REPLAY_DONE,	    /* queued again at from_state */
	REPLAY_REFUSED,	    /* status does not allow it (only failed, cancelled) */
	REPLAY_NOT_ALLOWED, /* from_state (given, or the default) is not in allowed */
	/* its cluster has been deleted since: its name (and namespace) may be
	 * another cluster's now */
	REPLAY_CLUSTER_GONE,
};
struct job_replay {
	const char *tenant;
	int64_t id;
	const char *from_state; /* NULL: the default above */
	json_t *main_states;	/* array: the workflow's states outside its cleanup chain */
	json_t *allowed;	/* array: the states a replay may start from */
	const char *actor;
	const char *reason;
};
/*
 * from_state: the state asked for or the default (NULL when there is no
 * default); job: after the change, or as it is when not replayed.
 */
typedef void (*storage_replay_cb)(void *arg, const struct db_error *err, enum replay_result result,
				  const char *from_state, json_t *job);
void storage_job_replay(struct db_pool *db, const struct job_replay *req, storage_replay_cb cb,
			void *arg);

/*
 * What a preview (?dry_run=true) reads of the jobs, writing nothing:
 *   {"active": [{"id", "kind", "status", "state"}, ...]: the jobs queued or
 *      running on the cluster, oldest first,
 *    "history": {"jobs": n, "median_seconds": x | null}: of the last
 *      `last` jobs of the kind in the tenant that succeeded with a spec of
 *      roughly this size (nodes: half to twice as many; 0: any size), from
 *      their start to their end,
 *    "tenant_quota": {"limit", "before", "after"}: the tenant's quota and
 *      its usage without and with a job of params (esaas_tenant_usage())}.
 * The submission's quota check runs as the real one does, holding its lock
 * for the statement only: a job that would not fit fails with its error
 * (SQLSTATE QUOTA_SQLSTATE, storage/tenants.h).
 */
typedef void (*storage_preview_cb)(void *arg, const struct db_error *err, json_t *facts);
void storage_job_preview_facts(struct db_pool *db, const char *tenant, const char *cluster,
			       const char *kind, json_t *params, int nodes, int last,
			       storage_preview_cb cb, void *arg);

/* The schema version in the database, for /readyz. */
typedef void (*storage_version_cb)(void *arg, const struct db_error *err, int version);
void storage_schema_version(struct db_pool *db, storage_version_cb cb, void *arg);

#endif
