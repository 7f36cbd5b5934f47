/*
 * The health sweep's writing: the observations written in batches, one
 * statement in flight at a time, and the changes of health the database
 * recorded reported to opt.on_health_change.
 */
#include "monitor/sweep_internal.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"
#include "storage/health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>

/* --- writing -------------------------------------------------------------------------- */

void sweep_obs_clear(struct obs *ob)
{
	free((char *)ob->o.error);
	json_decref(ob->o.detail);
	free(ob->tenant);
	free(ob->name);
}

static json_t *int_or_null(int v)
{
	return v < 0 ? json_null() : json_integer(v);
}

/*
 * The changes of the batch just written, to opt.on_health_change.  The
 * statement says how many history rows it appended, not which: when that
 * is every change of the batch, each was recorded; otherwise an observation
 * was fenced out (its shard moved, its cluster was deleted), and rather
 * than announce a change the database may not hold, none is.
 */
static void report_changes(struct sweep *s, int changes)
{
	size_t expected = 0;

	if (!s->opt.on_health_change)
		return;
	for (size_t i = 0; i < s->nwriting; i++)
		expected += s->writing_batch[i].prev != s->writing_batch[i].health;
	if (expected == 0)
		return;
	if ((size_t)changes != expected) {
		log_info("health sweep: %d of %zu changes of health recorded (the others' shard "
			 "or cluster went); none reported, since which were is not known",
			 changes, expected);
		return;
	}
	for (size_t i = 0; i < s->nwriting; i++) {
		const struct obs *ob = &s->writing_batch[i];
		time_t secs = (time_t)(ob->at_ms / 1000);
		struct tm tm;
		char at[96];

		if (!ob->tenant)
			continue;
		gmtime_r(&secs, &tm);
		snprintf(at, sizeof(at), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (int)(ob->at_ms % 1000));
		json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "tenant", ob->tenant,
				      "cluster", ob->name, "previous", sweep_health_names[ob->prev],
				      "status", sweep_health_names[ob->health], "at", at, "nodes",
				      int_or_null(ob->o.nodes), "unassigned_shards",
				      int_or_null(ob->o.unassigned));

		if (!c)
			continue;
		if (ob->o.error) {
			/* Text from the network, as storage_health_record() takes it. */
			char *clean = utf8_scrub(ob->o.error);

			json_object_set_new(c, "error", json_string(clean));
			free(clean);
		}
		if (ob->o.detail)
			json_object_set(c, "detail", ob->o.detail);
		s->opt.on_health_change(s->opt.on_health_change_arg, c);
		json_decref(c);
	}
}

static void record_cb(void *arg, const struct db_error *err, int written, int changes)
{
	struct sweep *s = arg;

	s->queries--;
	s->writing = false;
	if (err) {
		log_warn("health sweep: writing %zu observations failed: %s", s->nwriting,
			 err->message);
		/* A change not stored must be seen, with its detail, at the next read. */
		for (size_t i = 0; i < s->nwriting; i++) {
			struct obs *ob = &s->writing_batch[i];
			struct target *t = sweep_target_find(s, ob->o.cluster_id);

			if (t && t->health == ob->health)
				t->health = ob->prev;
		}
	} else {
		metrics_add(s->changes, changes);
		if ((size_t)written < s->nwriting)
			log_debug("health sweep: %zu observations dropped: their shard or cluster "
				  "is not this replica's any more",
				  s->nwriting - (size_t)written);
		report_changes(s, changes);
	}
	for (size_t i = 0; i < s->nwriting; i++)
		sweep_obs_clear(&s->writing_batch[i]);
	free(s->writing_batch);
	s->writing_batch = NULL;
	s->nwriting = 0;
	if (s->npending >= BATCH_MAX || (s->npending > 0 && s->stopping))
		event_active(s->flush_ev, EV_TIMEOUT, 0);
	else if (s->npending > 0 && !evtimer_pending(s->flush_ev, NULL)) {
		struct timeval tv = sweep_tv_ms(FLUSH_MS);

		evtimer_add(s->flush_ev, &tv);
	}
	sweep_check_done(s);
}

void sweep_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sweep *s = arg;
	size_t n = s->npending < BATCH_MAX ? s->npending : BATCH_MAX;

	if (s->writing || n == 0)
		return;
	struct health_observation *batch = xcalloc(n, sizeof(*batch));

	s->writing_batch = xmalloc(n * sizeof(*s->writing_batch));
	memcpy(s->writing_batch, s->pending, n * sizeof(*s->pending));
	memmove(s->pending, s->pending + n, (s->npending - n) * sizeof(*s->pending));
	s->npending -= n;
	s->nwriting = n;
	for (size_t i = 0; i < n; i++)
		batch[i] = s->writing_batch[i].o;
	s->writing = true;
	s->queries++;
	storage_health_record(s->opt.db, s->owner, batch, (int)n, record_cb, s);
	free(batch);
}
