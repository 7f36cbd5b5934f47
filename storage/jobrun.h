/*
 * The job runtime's statements: claim, wake-up, transitions, heartbeat,
 * hand-back and the job gauges, for engine/engine.c.
 *
 * Every job this process runs is held under a lease (owner, expiry,
 * epoch).  A claim takes a new lease and raises the epoch; every later
 * write about the job is fenced by owner and epoch (and, for transitions,
 * by the job's version), so a process that lost a job can no longer write
 * over its successor.  A row that fails the fence is simply absent from
 * the answer: the caller tells a lost job by its absence.
 *
 * In every callback, err is NULL on success, and then the rows are the
 * statement's answer; on error they are NULL and n is 0.  Rows, the
 * strings and the JSON they point to are borrowed for the duration of the
 * call (copy or json_incref to keep them).  Arguments are copied before
 * the function returns: the caller may free them at once.  The callback
 * always runs exactly once, from the event loop, never from inside the
 * call itself.
 */
#ifndef ESAAS_STORAGE_JOBRUN_H
#define ESAAS_STORAGE_JOBRUN_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "storage/db.h"

/* --- claim ------------------------------------------------------------------------ */

/* A job claimed by this process, under a new epoch. */
struct jobrun_claimed {
	/*
	 * False when the row does not parse (id, epoch, version, attempt):
	 * the caller leaves such a job to its lease.  The other fields are
	 * then whatever could be read.
	 */
	bool valid;
	int64_t id, epoch, version;
	const char *tenant, *cluster, *kind, *state, *status; /* never NULL */
	int attempt;
	json_t *params, *context;				 /* NULL when unparsable */
	const char *error, *failed_state, *observation, *ending; /* NULL: none */
	bool cancel_requested;
	int64_t state_elapsed_ms; /* time already spent in the state (0: unknown) */
	const char *prev_owner;	  /* owner whose lease expired (a takeover), or NULL */
	/* The job's cluster row and its namespace; 0 and NULL for a job
	 * without one (a test build's generic submission). */
	int64_t cluster_id;
	const char *ns;
	const char *es_security; /* the cluster's security (JSON), or NULL */
};

/*
 * Claim up to limit runnable jobs of the given kinds for owner, for lease_s
 * seconds (storage_jobrun_write() with no transitions): each gets a new lease epoch, and a queued or waiting job becomes
 * running.  A job is runnable when it is due, no live lease holds it, no
 * other job with the same tenant and cluster key is in progress, and no
 * job queued before it with that key is still queued; jobs are taken in
 * order of due time, then of queue position, skipping rows other claims
 * have locked.  Waits for a connection.
 *
 * rows: the claimed jobs, n of them (n == limit means there may be more).
 */
typedef void (*storage_jobrun_claim_cb)(void *arg, const struct db_error *err,
					const struct jobrun_claimed *rows, int n);
void storage_jobrun_claim(struct db_pool *db, const char *owner, int limit, int lease_s,
			  const char *const *kinds, int nkinds, storage_jobrun_claim_cb cb,
			  void *arg);

/*
 * How long until a job of the given kinds, not held by owner, becomes
 * runnable that is not runnable now (or its lease expires).  Waits for a
 * connection.  found is false when there is no such job; ms may be
 * negative (already due).
 */
typedef void (*storage_jobrun_wake_cb)(void *arg, const struct db_error *err, bool found,
				       int64_t ms);
void storage_jobrun_next_wake(struct db_pool *db, const char *owner, const char *const *kinds,
			      int nkinds, storage_jobrun_wake_cb cb, void *arg);

/*
 * Warm every session of db for the engine's hot statements (the write and
 * claim, the next wake, the heartbeat): each is prepared and run with
 * values that change nothing (no transition, a claim of none, no lease)
 * until PostgreSQL keeps its generic plan (db_pool_warm()), so that a
 * fresh esaasd's first jobs do not pay the planning.
 */
void storage_jobrun_warm(struct db_pool *db, const char *owner, int lease_s,
			 const char *const *kinds, int nkinds);

/*
 * Run job id now if it is waiting, held by no one, with its next run later
 * (what it waits for may have come).  found: it was.  Waits for a
 * connection.
 */
void storage_jobrun_wake_job(struct db_pool *db, int64_t id, storage_jobrun_wake_cb cb, void *arg);

/* --- transitions -------------------------------------------------------------------- */

/*
 * One job's transition: the job's new values (what the row becomes) and the
 * event that tells how it got there.
 */
struct jobrun_transition {
	/* the claim it is fenced by: the row must still be at this version */
	int64_t id, epoch, version;
	/* the job's new values */
	const char *status, *state;
	int attempt;
	json_t *context; /* object; see the job's end below */
	const char *error, *observation, *failed_state, *ending; /* NULL: none */
	int64_t delay_ms;					 /* the next run time, from now */
	bool release; /* give the lease back (else it is extended by lease_s) */
	bool entered; /* a new state starts: its clock restarts */
	/*
	 * The new state is a safe boundary: if the job's cluster is paused
	 * (clusters.paused_at) when this is written, and no cancel is
	 * requested, the job stops there instead: status 'paused', lease
	 * given back, observation the pause's reason, and a 'paused' event
	 * after the transition's own.  Nothing runs it until a resume.
	 *
	 * Likewise a windowed job (storage/jobs.h, job_submit.windowed) whose
	 * maintenance window is closed stops there: status 'waiting' with
	 * window_held, due at the next opening, and a 'window_closed' event.
	 */
	bool pause;
	/* the event */
	const char *ev_from; /* the state left; NULL: none */
	const char *ev_outcome;
	int ev_attempt;
	const char *ev_detail; /* NULL: none */
	int64_t ev_started_us, ev_duration_ms;
};

/* A transition that is committed (now or by an earlier send). */
struct jobrun_committed {
	int64_t id; /* 0 if the answer does not parse */
	bool cancel_requested;
	bool paused; /* the job stopped at this boundary: its cluster is paused */
	/* it stopped at this boundary: its maintenance window closed (status
	 * 'waiting', due when the next one opens) */
	bool window_held;
};

/*
 * Write n transitions of jobs leased by owner, in one statement and so one
 * transaction (group commit); storage_jobrun_write() with no claim.  Waits
 * for a connection.
 *
 * A row is written only while the job's lease owner, epoch and version
 * are those given; one that no longer matches is left alone and absent
 * from rows.  A row already at version + 1 under the same claim is this
 * very transition, committed by an earlier send whose answer was lost: it
 * is reported in rows as written, not written twice.  Each written row
 * gets a job event (actor "engine", worker owner), but a wait that
 * repeats the job's last event (the same state, status, attempt and
 * detail) is counted on that event instead (polls + 1, last_at now).  A
 * waiting job whose
 * cancellation was requested meanwhile becomes runnable as 'cancelling'
 * at once.  A job that ends (succeeded, failed, cancelled) or is handed
 * back to run now wakes the other replicas (NOTIFY on the jobs channel).
 *
 * The job's end and its cluster: this is the one place where a workflow's
 * result reaches the clusters table.  When a job ends and its context has
 * "observed", the live cluster row of the job's tenant and cluster gets,
 * in the same transaction: observed = context.observed; spec =
 * context.spec when there is one (else unchanged); deleted_at = now()
 * when context.cluster_deleted is true (the cluster is deleted and its
 * name free again).  A context without "observed" leaves the cluster row
 * alone.
 *
 * rows: the transitions committed, in no particular order.  On error, see
 * storage_jobrun_retryable().
 */
typedef void (*storage_jobrun_transition_cb)(void *arg, const struct db_error *err,
					     const struct jobrun_committed *rows, int n);
void storage_jobrun_transition(struct db_pool *db, const char *owner, int lease_s,
			       const struct jobrun_transition *t, int n,
			       storage_jobrun_transition_cb cb, void *arg);

/*
 * Write n transitions (as storage_jobrun_transition()) and claim up to
 * claim_limit jobs of the given kinds (as storage_jobrun_claim()), in one
 * statement: one round trip, one commit.  The claim reads the database as
 * it was before the transitions: it never takes a job of the batch, and a
 * job that becomes runnable because a job of the batch ends is left to the
 * next claim (the end's NOTIFY wakes it).  claim_limit 0 claims nothing.
 * Each connection prepares the statement once (db_query_prepared()).
 *
 * rows: the transitions committed; claimed: the jobs claimed (nclaimed ==
 * claim_limit means there may be more).  On error nothing was claimed and
 * see storage_jobrun_retryable() for the transitions: a resend claims
 * afresh, and a claim whose answer was lost leaves its jobs to their
 * lease.
 */
typedef void (*storage_jobrun_write_cb)(void *arg, const struct db_error *err,
					const struct jobrun_committed *rows, int n,
					const struct jobrun_claimed *claimed, int nclaimed);
void storage_jobrun_write(struct db_pool *db, const char *owner, int lease_s,
			  const struct jobrun_transition *t, int n, int claim_limit,
			  const char *const *kinds, int nkinds, storage_jobrun_write_cb cb,
			  void *arg);

/*
 * True when a failed transition statement is to be sent again as it was:
 * it surely did not commit (serialization failure, deadlock, lock or
 * statement timeout, server shutting down), or the connection was lost
 * and it may have, which the resend recognises (see above).  False when
 * the statement itself is refused: sending it again would fail again.
 */
bool storage_jobrun_retryable(const struct db_error *err);

/*
 * Hand a job whose transition cannot be written back to the queue, fenced
 * by owner and epoch: the lease is released, a running job becomes
 * waiting, it is due again in 60 seconds, and observation says why.
 * Waits for a connection.
 */
typedef void (*storage_jobrun_done_cb)(void *arg, const struct db_error *err);
void storage_jobrun_hand_back(struct db_pool *db, int64_t id, const char *owner, int64_t epoch,
			      const char *observation, storage_jobrun_done_cb cb, void *arg);

/* --- heartbeat ---------------------------------------------------------------------- */

struct jobrun_lease {
	int64_t id, epoch;
};

struct jobrun_lease_state {
	int64_t id, epoch;
	bool renewed; /* the lease was extended */
	bool ours;    /* the job is still leased by owner under epoch */
};

/*
 * Extend, by lease_s seconds, the leases owner holds on exactly the n jobs
 * of held, each under its epoch: a job the caller let go of must expire
 * so that another worker rescues it.  Rows a transition has locked are
 * skipped rather than waited for (the transition extends what it keeps):
 * such a row is ours but not renewed.  Waits for a connection.
 *
 * rows: one per job of held that parses back, in no particular order.
 */
typedef void (*storage_jobrun_heartbeat_cb)(void *arg, const struct db_error *err,
					    const struct jobrun_lease_state *rows, int n);
void storage_jobrun_heartbeat(struct db_pool *db, const char *owner, int lease_s,
			      const struct jobrun_lease *held, int n,
			      storage_jobrun_heartbeat_cb cb, void *arg);

/* --- gauges ------------------------------------------------------------------------- */

/* The jobs not finished, of one kind in one status, in the whole database. */
struct jobrun_gauge {
	const char *kind, *status;
	int64_t jobs;
	int64_t due;	       /* due to run, held by no live lease */
	double oldest_due_s;   /* how long the oldest of those has been due (0: none) */
	int64_t past_deadline; /* whose current state has lasted past its deadline */
};

/*
 * Count the jobs not finished, by kind and status.  deadlines is
 * {"kind": {"state": ms}}: each state's deadline as the caller applies it
 * (a state not in it has none).  Only unfinished jobs are read, so the
 * cost does not grow with the history.  Fails at once without a
 * connection (db_query()).  Rows that do not parse are left out.
 */
typedef void (*storage_jobrun_gauges_cb)(void *arg, const struct db_error *err,
					 const struct jobrun_gauge *rows, int n);
void storage_jobrun_gauges(struct db_pool *db, json_t *deadlines, storage_jobrun_gauges_cb cb,
			   void *arg);

#endif
