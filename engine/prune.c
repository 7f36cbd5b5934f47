/*
 * The retention of the jobs' history: every events_prune_interval_s, the
 * events of jobs finished more than events_retention_days ago are removed,
 * events_prune_batch at a time.  Each batch is one short statement of its
 * own, so no lock is held for long and the engine's own statements run in
 * between; the next batch goes out only when the last came back full.
 * Replicas that prune at once skip the rows the other holds.  Beside it,
 * the clusters' schedules: every schedule_interval_s the jobs they ask
 * for (a snapshot every so often) are queued, by one statement.
 */
#include "engine/internal.h"
#include "storage/jobs.h"

#define PRUNE_INTERVAL_DEFAULT_S 3600
#define PRUNE_BATCH_DEFAULT 1000

static void prune_batch(struct engine *e);

static int batch_size(const struct engine *e)
{
	return e->opt.events_prune_batch > 0 ? e->opt.events_prune_batch : PRUNE_BATCH_DEFAULT;
}

static void prune_done_cb(void *arg, const struct db_error *err, int64_t removed)
{
	struct engine *e = arg;

	e->queries--;
	if (err) {
		log_warn("pruning finished jobs' events: %s; trying again at the next round",
			 err->message);
	} else {
		e->pruned += removed;
		if (removed >= batch_size(e) && !e->stopping) {
			prune_batch(e);
			return;
		}
	}
	if (e->pruned > 0)
		log_info("removed %lld events of jobs finished more than %d days ago",
			 (long long)e->pruned, e->opt.events_retention_days);
	e->pruning = false;
	engine_check_done(e);
}

static void prune_batch(struct engine *e)
{
	e->queries++;
	storage_job_events_prune(e->db, e->opt.events_retention_days, batch_size(e), prune_done_cb,
				 e);
}

static void prune_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine *e = arg;

	if (e->stopping || e->pruning)
		return;
	e->pruning = true;
	e->pruned = 0;
	prune_batch(e);
}

/* --- the clusters' schedules ---------------------------------------------------- */

static void schedule_done_cb(void *arg, const struct db_error *err, int64_t queued)
{
	struct engine *e = arg;

	e->queries--;
	e->scheduling = false;
	if (err)
		log_warn("queuing the scheduled jobs: %s; trying again at the next round",
			 err->message);
	else if (queued > 0)
		log_info("queued %lld scheduled job(s)", (long long)queued);
	engine_check_done(e);
}

static void schedule_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine *e = arg;

	if (e->stopping || e->scheduling)
		return;
	e->scheduling = true;
	e->queries++;
	storage_jobs_queue_scheduled(e->db, schedule_done_cb, e);
}

void engine_prune_start(struct engine *e)
{
	if (e->opt.schedule_interval_s > 0) {
		struct timeval every = {e->opt.schedule_interval_s, 0};
		e->schedule_ev = event_new(e->base, -1, EV_PERSIST, schedule_tick_cb, e);
		event_add(e->schedule_ev, &every);
	}
	int s = e->opt.events_prune_interval_s > 0 ? e->opt.events_prune_interval_s
						   : PRUNE_INTERVAL_DEFAULT_S;
	struct timeval tv = {s, 0};

	if (e->opt.events_retention_days <= 0)
		return;
	e->prune_ev = event_new(e->base, -1, EV_PERSIST, prune_tick_cb, e);
	event_add(e->prune_ev, &tv);
}

void engine_prune_stop(struct engine *e)
{
	if (e->schedule_ev)
		event_del(e->schedule_ev);
	if (e->prune_ev)
		event_del(e->prune_ev);
}

void engine_prune_free(struct engine *e)
{
	if (e->schedule_ev)
		event_free(e->schedule_ev);
	e->schedule_ev = NULL;
	if (e->prune_ev)
		event_free(e->prune_ev);
	e->prune_ev = NULL;
}
