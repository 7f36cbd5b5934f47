/*
 * The health sweep.
 *
 * Where it lives.  The sweep reads Elasticsearch (es/, through kube/'s
 * service proxy) and writes PostgreSQL (storage/), so it sits above both,
 * in monitor/, beside the engine: esaasd wires it next to the engine, which
 * knows nothing of it.  It is not a workflow step; api/ only reads what it
 * stores.
 *
 * The files.  This one: the shared helpers, the list of clusters, the
 * leases and the life cycle; targets.c: the clusters watched and the heap
 * of their due times; read.c: one read of one cluster's health; record.c:
 * the observations written; metrics.c: the figures exposed.  What they
 * share is in sweep_internal.h.
 *
 * Sharing the work.  The clusters are cut into HEALTH_SHARDS shards by id
 * and each shard is leased in PostgreSQL like a job: claimed with SKIP
 * LOCKED, renewed by a heartbeat, fenced by an epoch, taken over when its
 * lease expires.  Shards rather than a lease per cluster: renewing costs
 * one statement per replica whatever the number of clusters (a lease per
 * cluster is a row written per cluster per renewal, 10,000 of them), and
 * the fair share (the shards over the live replicas of the heartbeat
 * table) moves whole shards when a replica comes or goes.  Leases rather
 * than hashing over a membership table alone: two replicas whose views of
 * the membership differ for a moment would both sweep a cluster, or
 * neither would, while a lease row has one owner at a time and fences the
 * writes of a replica that lost it.
 *
 * Timing.  Each cluster has its own due time: a cluster new to this
 * replica is due at a random moment within the first interval (10,000
 * clusters must not start at once), then one interval, give or take the
 * jitter, after its last read started.  A binary heap orders them, the most
 * overdue first, and at most `concurrency` reads run at once.  The list of
 * clusters is read again every interval and whenever the shards held
 * change.
 *
 * Writing.  Observations are written in batches, one statement in flight
 * at a time, and that statement compares each with the stored status to
 * append the changes to the history.  A read that finds red where the last
 * status was not red reads the unassigned primaries and asks Elasticsearch
 * to explain one of them, for the history's detail; that costs nothing
 * while nothing changes.
 */
#include "monitor/sweep_internal.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"
#include "storage/health.h"

#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

/* At shutdown, how long to wait for the last writes and the release. */
#define STOP_WAIT_MS 5000

const char *const sweep_health_names[HEALTH_UNREACHABLE + 1] = {"", "green", "yellow", "red",
								"unreachable"};

static void request_refresh(struct sweep *s);

static int64_t lease_ms(const struct sweep *s)
{
	return (int64_t)s->opt.lease_s * 1000;
}

/* The heartbeat: a third of the lease, so that two may fail before it expires. */
static int64_t tick_ms(const struct sweep *s)
{
	int64_t ms = lease_ms(s) / 3;

	return ms < 500 ? 500 : ms;
}

struct timeval sweep_tv_ms(int64_t ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	return tv;
}

/* interval ± jitter, uniformly */
int64_t sweep_jittered_interval(const struct sweep *s)
{
	int64_t base = s->opt.interval_ms;
	int64_t span = base * s->opt.jitter_percent / 100;

	if (span <= 0)
		return base;
	return base - span + (int64_t)rand_below((uint64_t)(2 * span + 1));
}

enum health sweep_health_of(const char *s)
{
	for (size_t i = 1; s && i < ARRAY_SIZE(sweep_health_names); i++) {
		if (strcmp(s, sweep_health_names[i]) == 0)
			return (enum health)i;
	}
	return HEALTH_UNKNOWN;
}

/* --- the list of clusters --------------------------------------------------------------- */

static void targets_cb(void *arg, const struct db_error *err, const struct health_target *rows,
		       int n)
{
	struct sweep *s = arg;

	s->queries--;
	s->refresh_in_flight = false;
	if (s->stopping) {
		sweep_check_done(s);
		return;
	}
	if (err)
		log_warn("health sweep: reading the clusters to watch failed: %s", err->message);
	else
		sweep_merge_targets(s, rows, n);
	if (s->refresh_again) {
		s->refresh_again = false;
		request_refresh(s);
	}
	struct timeval tv = sweep_tv_ms(sweep_jittered_interval(s));

	evtimer_add(s->refresh_ev, &tv);
	sweep_dispatch(s);
}

static void request_refresh(struct sweep *s)
{
	int held[HEALTH_SHARDS], n = 0;

	if (s->stopping)
		return;
	if (s->refresh_in_flight) {
		s->refresh_again = true;
		return;
	}
	for (int i = 0; i < HEALTH_SHARDS; i++) {
		if (s->shards[i].held)
			held[n++] = i;
	}
	if (n == 0) {
		/* Nothing to watch: merging an empty list drops what is left. */
		sweep_merge_targets(s, NULL, 0);
		return;
	}
	s->refresh_in_flight = true;
	s->queries++;
	storage_health_targets(s->opt.db, held, n, targets_cb, s);
}

static void refresh_cb(evutil_socket_t fd, short what, void *arg)
{
	request_refresh(arg);
}

/* --- leases ----------------------------------------------------------------------------- */

/*
 * A shard whose lease has not been confirmed for a lease less a heartbeat
 * (the database unreachable) is left before the lease can expire under it
 * and another replica start on the same clusters.
 */
static void expire_unconfirmed(struct sweep *s)
{
	int64_t now = now_mono_ms();

	for (int i = 0; i < HEALTH_SHARDS; i++) {
		struct shard_lease *l = &s->shards[i];

		if (l->held && now - l->confirmed_mono > lease_ms(s) - tick_ms(s)) {
			log_warn("health sweep: lease of shard %d not confirmed for %llds; "
				 "leaving its clusters to another replica",
				 i, (long long)(now - l->confirmed_mono) / 1000);
			sweep_drop_shard(s, i);
		}
	}
}

static void lease_cb(void *arg, const struct db_error *err, const struct health_shard *held, int n)
{
	struct sweep *s = arg;
	bool now_held[HEALTH_SHARDS] = {false};
	bool changed = false;

	s->queries--;
	s->lease_in_flight = false;
	if (s->stopping) {
		sweep_check_done(s);
		return;
	}
	if (err) {
		log_warn("health sweep: renewing the leases failed: %s", err->message);
		expire_unconfirmed(s);
		return;
	}
	for (int i = 0; i < n; i++) {
		struct shard_lease *l = &s->shards[held[i].shard];

		now_held[held[i].shard] = true;
		if (!l->held || l->epoch != held[i].epoch) {
			/* Claimed anew: what was known of its clusters is stale. */
			if (l->held)
				sweep_drop_shard(s, held[i].shard);
			changed = true;
		}
		l->held = true;
		l->epoch = held[i].epoch;
		l->confirmed_mono = s->lease_sent_mono;
		if (held[i].taken_over) {
			metrics_inc(s->takeovers);
			log_info("health sweep: took shard %d over from a replica whose lease "
				 "expired",
				 held[i].shard);
		}
	}
	for (int i = 0; i < HEALTH_SHARDS; i++) {
		if (s->shards[i].held && !now_held[i]) {
			sweep_drop_shard(s, i);
			changed = true;
		}
	}
	if (changed) {
		log_debug("health sweep: %d shards held", n);
		request_refresh(s);
	}
}

static void lease_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sweep *s = arg;

	expire_unconfirmed(s);
	if (s->stopping || s->lease_in_flight)
		return;
	s->lease_in_flight = true;
	s->lease_sent_mono = now_mono_ms();
	s->queries++;
	storage_health_lease(s->opt.db, s->owner, s->opt.lease_s, lease_cb, s);
}

/* --- life cycle ------------------------------------------------------------------------------ */

struct sweep *sweep_new(struct event_base *base, const struct sweep_options *opt)
{
	struct sweep *s = xcalloc(1, sizeof(*s));

	s->base = base;
	s->opt = *opt;
	s->owner = xstrdup(opt->owner);
	s->opt.owner = s->owner;
	s->es_url_template = opt->es_url_template ? xstrdup(opt->es_url_template) : NULL;
	s->es_connect_to = opt->es_connect_to ? xstrdup(opt->es_connect_to) : NULL;
	if (s->opt.interval_ms < 1)
		s->opt.interval_ms = 1;
	if (s->opt.concurrency < 1)
		s->opt.concurrency = 1;
	s->lease_ev = event_new(base, -1, EV_PERSIST, lease_tick_cb, s);
	s->refresh_ev = evtimer_new(base, refresh_cb, s);
	s->dispatch_ev = evtimer_new(base, sweep_dispatch_cb, s);
	s->flush_ev = evtimer_new(base, sweep_flush_cb, s);
	sweep_metrics_setup(s);
	return s;
}

void sweep_start(struct sweep *s)
{
	struct timeval tv = sweep_tv_ms(tick_ms(s));

	log_info("health sweep %s: every %d ms (jitter %d%%), %d at once, timeout %d ms, "
		 "lease %ds",
		 s->owner, s->opt.interval_ms, s->opt.jitter_percent, s->opt.concurrency,
		 s->opt.timeout_ms, s->opt.lease_s);
	event_add(s->lease_ev, &tv);
	lease_tick_cb(-1, 0, s);
}

static void finish_stop(struct sweep *s)
{
	s->done_called = true;
	if (s->stop_ev)
		event_del(s->stop_ev);
	if (s->done)
		s->done(s->done_arg);
}

static void released_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct sweep *s = arg;

	s->queries--;
	if (err)
		log_warn("health sweep: giving the leases back failed (they will expire): %s",
			 err->message);
	else
		log_info("health sweep stopped: leases given back");
	sweep_check_done(s);
}

void sweep_check_done(struct sweep *s)
{
	if (!s->stopping || s->done_called)
		return;
	if (s->writing || s->npending > 0 || s->lease_in_flight || s->refresh_in_flight)
		return;
	if (!s->released) {
		s->released = true;
		s->queries++;
		storage_health_release(s->opt.db, s->owner, released_cb, s);
		return;
	}
	if (s->queries == 0)
		finish_stop(s);
}

static void stop_wait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sweep *s = arg;

	log_warn("health sweep: stopping without its last writes; the leases will expire");
	finish_stop(s);
}

void sweep_shutdown(struct sweep *s, void (*done)(void *arg), void *arg)
{
	struct timeval tv = sweep_tv_ms(STOP_WAIT_MS);

	if (s->stopping)
		return;
	s->stopping = true;
	s->done = done;
	s->done_arg = arg;
	event_del(s->lease_ev);
	evtimer_del(s->refresh_ev);
	evtimer_del(s->dispatch_ev);
	for (size_t i = 0; i < s->ntargets; i++) {
		if (s->targets[i]->read)
			sweep_read_cancel(s->targets[i]->read);
	}
	s->stop_ev = evtimer_new(s->base, stop_wait_cb, s);
	evtimer_add(s->stop_ev, &tv);
	if (s->npending > 0)
		event_active(s->flush_ev, EV_TIMEOUT, 0);
	sweep_check_done(s);
}

void sweep_free(struct sweep *s)
{
	if (!s)
		return;
	s->stopping = true;
	s->done_called = true;
	for (size_t i = 0; i < s->ntargets; i++)
		sweep_target_free(s, s->targets[i]);
	free(s->targets);
	free(s->heap);
	for (size_t i = 0; i < s->npending; i++)
		sweep_obs_clear(&s->pending[i]);
	free(s->pending);
	for (size_t i = 0; i < s->nwriting; i++)
		sweep_obs_clear(&s->writing_batch[i]);
	free(s->writing_batch);
	for (size_t i = 0; i < ARRAY_SIZE(s->collectors); i++)
		metrics_unregister(s->collectors[i]);
	event_free(s->lease_ev);
	event_free(s->refresh_ev);
	event_free(s->dispatch_ev);
	event_free(s->flush_ev);
	if (s->stop_ev)
		event_free(s->stop_ev);
	free(s->es_url_template);
	free(s->es_connect_to);
	free(s->owner);
	free(s);
}
