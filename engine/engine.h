/*
 * The job engine: claims jobs from PostgreSQL, runs their states, and
 * writes every transition back, all on one event loop.
 *
 * Jobs are claimed with FOR UPDATE SKIP LOCKED under a lease (owner,
 * expiry, epoch); a heartbeat extends the leases this process holds; every
 * write is fenced by owner and epoch.  Transitions that finish in the same
 * loop iteration, or while an earlier batch is being written, are committed
 * together in one statement (group commit).
 */
#ifndef ESAAS_ENGINE_H
#define ESAAS_ENGINE_H

#include <stdbool.h>
#include "engine/backoff.h"
#include "engine/registry.h"

struct event_base;
struct db_pool;
struct engine;

struct httpc;

struct engine_options {
	struct httpc *http;   /* handed to handlers (step_http) */
	void *env;	      /* what the workflows need (step_env): opaque here */
	const char *conninfo; /* for the LISTEN connection */
	int workers;	      /* jobs run at once */
	int lease_s;
	int heartbeat_s;
	int poll_s; /* safety poll for lost notifications */
	int shutdown_grace_s;
	/* Every state's deadline in percent of the workflow's (0: 100), for a
	 * fleet slower than the workflows assume, or a test faster. */
	int deadline_percent;
	struct backoff_policy retry;
	/*
	 * Called once a job's end (succeeded, failed or cancelled) is
	 * committed, never before, by the replica that committed it; job is
	 * {"id", "tenant", "cluster", "kind", "status", "state", "failed_state",
	 * "error", "finished_at"}, borrowed for the call.  It runs inside the
	 * engine's own callback: it must not free the engine.  NULL: none.
	 */
	void (*on_job_end)(void *arg, const json_t *job);
	void *on_job_end_arg;
	/*
	 * The history's bounds.  Finished jobs' events are removed after
	 * events_retention_days (0: kept for ever), every
	 * events_prune_interval_s, events_prune_batch at a time.  A job's
	 * error, observation and events' details are cut to detail_max_bytes
	 * (0: ENGINE_DETAIL_MAX_BYTES), with a note that says so.
	 */
	int events_retention_days;
	int events_prune_interval_s; /* 0: 3600 */
	int events_prune_batch;	     /* 0: 1000 */
	/* How often the jobs the clusters' schedules ask for are queued
	 * (storage_jobs_queue_scheduled); 0: never. */
	int schedule_interval_s;
	int detail_max_bytes;
};

#define ENGINE_DETAIL_MAX_BYTES 8192

struct engine_stats {
	unsigned long long claimed, transitions, batches, takeovers, lost_leases;
	int running;
};

struct engine *engine_new(struct event_base *base, struct db_pool *db,
			  const struct wf_registry *reg, const struct engine_options *opt);
void engine_start(struct engine *e);
/*
 * Stop claiming, give running states up to shutdown_grace_s to finish, write
 * their outcomes, release the leases still held, then call done.
 */
void engine_shutdown(struct engine *e, void (*done)(void *arg), void *arg);
void engine_free(struct engine *e);
const char *engine_owner(const struct engine *e);
/*
 * What waiting job id waits for may have come: run it now rather than at
 * its next poll.  A job this process runs or is writing runs again as soon
 * as its wait is written; one that is parked, now, unless it is no longer
 * waiting or someone holds it.
 */
void engine_wake_job(struct engine *e, int64_t id);
void engine_stats(const struct engine *e, struct engine_stats *out);

#endif
