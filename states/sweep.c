/*
 * The health sweep.
 *
 * Where it lives.  The sweep reads Elasticsearch (es/, through kube/'s
 * service proxy) and writes PostgreSQL (storage/), so it sits above both:
 * states/ is the lowest layer that sees kube, es and what is under the
 * engine, and esaasd wires it next to the engine, which knows nothing of
 * it.  It is not a workflow step; api/ only reads what it stores.
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
#include "states/sweep.h"
#include "common/json.h"
#include "common/httpc.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"
#include "es/client.h"
#include "kube/render.h"
#include "storage/health.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>

#define BATCH_MAX 256
#define FLUSH_MS 200
#define DETAIL_PRIMARIES_MAX 20
/* At shutdown, how long to wait for the last writes and the release. */
#define STOP_WAIT_MS 5000
#define HEAP_NONE ((size_t)-1)
#define TEXT_OF(x) #x
#define TEXT(x) TEXT_OF(x)
#define SHARDS_TEXT TEXT(HEALTH_SHARDS)

enum health {
	HEALTH_UNKNOWN,
	HEALTH_GREEN,
	HEALTH_YELLOW,
	HEALTH_RED,
	HEALTH_UNREACHABLE
};

static const char *const health_names[] = {"", "green", "yellow", "red", "unreachable"};

enum read_phase {
	READ_HEALTH,
	READ_SHARDS,
	READ_EXPLAIN
};

struct read;

/* A cluster this replica watches. */
struct target {
	int64_t id;
	int shard;
	char *tenant, *name, *ns;
	enum health health;  /* as last written (or read from the database) */
	int nodes;	     /* -1: unknown */
	int unassigned;	     /* -1: unknown */
	int64_t observed_ms; /* wall clock of the last successful read; 0: none */
	int64_t due_mono;
	size_t heap_at; /* HEAP_NONE while not queued (a read in flight) */
	struct read *read;
};

/* One read of one cluster: its health, then for a new red, the detail. */
struct read {
	struct sweep *s;
	struct target *t;
	struct es *es;
	struct es_call *call;
	struct event *timer;
	enum read_phase phase;
	int64_t started_mono;
	enum health health;
	int nodes, unassigned;
	json_t *detail;
	json_t *primary; /* the unassigned primary to explain */
};

/* An observation on its way to the database. */
struct obs {
	struct health_observation o; /* o.error and o.detail owned */
	enum health health, prev;
	int64_t at_ms;	     /* wall clock at the end of the read */
	char *tenant, *name; /* for a change to report; else NULL */
};

struct shard_lease {
	bool held;
	int64_t epoch;
	int64_t confirmed_mono; /* when the statement that renewed it was sent */
};

struct sweep {
	struct event_base *base;
	struct sweep_options opt;
	char *owner;
	char *es_url_template;

	struct target **targets; /* by id */
	size_t ntargets;
	struct target **heap; /* by due time */
	size_t nheap, heap_cap;
	int reads;

	struct shard_lease shards[HEALTH_SHARDS];
	bool lease_in_flight;
	int64_t lease_sent_mono;
	bool refresh_in_flight, refresh_again;

	struct obs *pending, *writing_batch;
	size_t npending, pending_cap, nwriting;
	bool writing;

	struct event *lease_ev, *refresh_ev, *dispatch_ev, *flush_ev, *stop_ev;
	int queries; /* statements in flight */

	bool stopping, released, done_called;
	void (*done)(void *arg);
	void *done_arg;

	struct metric *collectors[9];
	struct metric_series *reads_ok, *reads_failed, *changes, *takeovers;
};

static void dispatch(struct sweep *s);
static void request_refresh(struct sweep *s);
static void check_done(struct sweep *s);
static void read_cancel(struct read *r);

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

static struct timeval tv_ms(int64_t ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	return tv;
}

/* interval ± jitter, uniformly */
static int64_t jittered_interval(const struct sweep *s)
{
	int64_t base = s->opt.interval_ms;
	int64_t span = base * s->opt.jitter_percent / 100;

	if (span <= 0)
		return base;
	return base - span + (int64_t)rand_below((uint64_t)(2 * span + 1));
}

static enum health health_of(const char *s)
{
	for (size_t i = 1; s && i < ARRAY_SIZE(health_names); i++) {
		if (strcmp(s, health_names[i]) == 0)
			return (enum health)i;
	}
	return HEALTH_UNKNOWN;
}

/* --- the heap of due times ------------------------------------------------------- */

static void heap_set(struct sweep *s, size_t i, struct target *t)
{
	s->heap[i] = t;
	t->heap_at = i;
}

static void heap_up(struct sweep *s, size_t i)
{
	struct target *t = s->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (s->heap[parent]->due_mono <= t->due_mono)
			break;
		heap_set(s, i, s->heap[parent]);
		i = parent;
	}
	heap_set(s, i, t);
}

static void heap_down(struct sweep *s, size_t i)
{
	struct target *t = s->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= s->nheap)
			break;
		if (child + 1 < s->nheap && s->heap[child + 1]->due_mono < s->heap[child]->due_mono)
			child++;
		if (t->due_mono <= s->heap[child]->due_mono)
			break;
		heap_set(s, i, s->heap[child]);
		i = child;
	}
	heap_set(s, i, t);
}

static void heap_push(struct sweep *s, struct target *t)
{
	if (s->nheap == s->heap_cap) {
		s->heap_cap = s->heap_cap ? s->heap_cap * 2 : 64;
		s->heap = xrealloc(s->heap, s->heap_cap * sizeof(*s->heap));
	}
	s->heap[s->nheap] = t;
	t->heap_at = s->nheap++;
	heap_up(s, t->heap_at);
}

static void heap_remove(struct sweep *s, struct target *t)
{
	size_t i = t->heap_at;

	if (i == HEAP_NONE)
		return;
	t->heap_at = HEAP_NONE;
	if (--s->nheap == i)
		return;
	struct target *last = s->heap[s->nheap];

	heap_set(s, i, last);
	heap_down(s, i);
	heap_up(s, last->heap_at);
}

static struct target *heap_pop(struct sweep *s)
{
	struct target *t = s->heap[0];

	heap_remove(s, t);
	return t;
}

/* --- targets ------------------------------------------------------------------------ */

static void target_free(struct sweep *s, struct target *t)
{
	if (t->read)
		read_cancel(t->read);
	heap_remove(s, t);
	free(t->tenant);
	free(t->name);
	free(t->ns);
	free(t);
}

static struct target *target_find(const struct sweep *s, int64_t id)
{
	size_t lo = 0, hi = s->ntargets;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->targets[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->ntargets && s->targets[lo]->id == id ? s->targets[lo] : NULL;
}

/* Stop watching the clusters of a shard this replica no longer holds. */
static void drop_shard(struct sweep *s, int shard)
{
	size_t k = 0;

	s->shards[shard].held = false;
	for (size_t i = 0; i < s->ntargets; i++) {
		if (s->targets[i]->shard == shard)
			target_free(s, s->targets[i]);
		else
			s->targets[k++] = s->targets[i];
	}
	s->ntargets = k;
}

static void set_str(char **dst, const char *src)
{
	if (*dst && strcmp(*dst, src) == 0)
		return;
	free(*dst);
	*dst = xstrdup(src);
}

/*
 * The clusters of the shards held, by id, merged into the targets (also by
 * id): new ones are queued, gone ones dropped, the others keep their place
 * in the heap and what they know.
 */
static void merge_targets(struct sweep *s, const struct health_target *rows, int n)
{
	struct target **merged = xcalloc(s->ntargets + (size_t)n + 1, sizeof(*merged));
	size_t i = 0, k = 0, added = 0;
	int j = 0;
	int64_t now = now_mono_ms();

	while (i < s->ntargets || j < n) {
		const struct health_target *row = j < n ? &rows[j] : NULL;
		struct target *t = i < s->ntargets ? s->targets[i] : NULL;

		if (row && !s->shards[row->shard].held) {
			/* Its shard was given up while the list was read. */
			j++;
			continue;
		}
		if (t && (!row || t->id < row->id)) {
			target_free(s, t);
			i++;
			continue;
		}
		if (t && t->id == row->id) {
			set_str(&t->tenant, row->tenant);
			set_str(&t->name, row->name);
			set_str(&t->ns, row->ns);
			merged[k++] = t;
			i++;
			j++;
			continue;
		}
		t = xcalloc(1, sizeof(*t));
		t->id = row->id;
		t->shard = row->shard;
		t->tenant = xstrdup(row->tenant);
		t->name = xstrdup(row->name);
		t->ns = xstrdup(row->ns);
		t->health = health_of(row->status);
		t->nodes = row->nodes;
		t->unassigned = row->unassigned;
		t->observed_ms = row->observed_ms;
		t->due_mono = now + (int64_t)rand_below((uint64_t)s->opt.interval_ms);
		t->heap_at = HEAP_NONE;
		heap_push(s, t);
		merged[k++] = t;
		added++;
		j++;
	}
	free(s->targets);
	s->targets = merged;
	s->ntargets = k;
	if (added)
		log_debug("health sweep: %zu clusters new to this replica, %zu watched", added, k);
}

/* --- reads -------------------------------------------------------------------------- */

static void read_free(struct read *r)
{
	if (r->call)
		es_cancel(r->call);
	if (r->timer)
		event_free(r->timer);
	es_free(r->es);
	json_decref(r->detail);
	json_decref(r->primary);
	r->s->reads--;
	if (r->t)
		r->t->read = NULL;
	free(r);
}

/* The target is going away: the read ends unrecorded. */
static void read_cancel(struct read *r)
{
	read_free(r);
}

static void read_arm(struct read *r)
{
	struct timeval tv = tv_ms(r->s->opt.timeout_ms);

	evtimer_add(r->timer, &tv);
}

/* Queue the observation, schedule the next read, and let the next one start. */
static void read_finish(struct read *r, enum health health, const char *error)
{
	struct sweep *s = r->s;
	struct target *t = r->t;
	bool ok = health != HEALTH_UNREACHABLE;

	if (s->npending == s->pending_cap) {
		s->pending_cap = s->pending_cap ? s->pending_cap * 2 : 64;
		s->pending = xrealloc(s->pending, s->pending_cap * sizeof(*s->pending));
	}
	struct obs *ob = &s->pending[s->npending++];

	memset(ob, 0, sizeof(*ob));
	ob->o.cluster_id = t->id;
	ob->o.shard = t->shard;
	ob->o.epoch = s->shards[t->shard].epoch;
	ob->o.status = health_names[health];
	ob->o.ok = ok;
	ob->o.nodes = ok ? r->nodes : -1;
	ob->o.unassigned = ok ? r->unassigned : -1;
	ob->o.error = error ? xstrdup(error) : NULL;
	ob->o.detail = json_incref(r->detail);
	ob->health = health;
	ob->prev = t->health;
	ob->at_ms = now_wall_ms();
	if (t->health != HEALTH_UNKNOWN && t->health != health) {
		ob->tenant = xstrdup(t->tenant);
		ob->name = xstrdup(t->name);
	}

	t->health = health;
	if (ok) {
		t->nodes = r->nodes;
		t->unassigned = r->unassigned;
		t->observed_ms = now_wall_ms();
	}
	metrics_inc(ok ? s->reads_ok : s->reads_failed);
	if (s->npending >= BATCH_MAX)
		event_active(s->flush_ev, EV_TIMEOUT, 0);
	else if (!evtimer_pending(s->flush_ev, NULL)) {
		struct timeval tv = tv_ms(FLUSH_MS);

		evtimer_add(s->flush_ev, &tv);
	}

	t->due_mono = r->started_mono + jittered_interval(s);
	read_free(r);
	heap_push(s, t);
	dispatch(s);
}

static void explain_done_cb(void *arg, const struct es_result *res)
{
	struct read *r = arg;

	r->call = NULL;
	evtimer_del(r->timer);
	if (res->klass == HTTPC_OK && res->body)
		json_object_set(r->detail, "allocation_explain", res->body);
	else
		json_object_set_new(r->detail, "allocation_explain_error",
				    json_string(res->message ? res->message : "no answer"));
	read_finish(r, HEALTH_RED, NULL);
}

/* _cat/shards: the unassigned primaries, then the explanation of the first. */
static void shards_done_cb(void *arg, const struct es_result *res)
{
	struct read *r = arg;
	json_t *primaries = json_array();
	size_t i, total = 0;
	json_t *row;

	r->call = NULL;
	evtimer_del(r->timer);
	json_object_set_new(r->detail, "unassigned_primaries", primaries);
	if (res->klass != HTTPC_OK || !json_is_array(res->body)) {
		json_object_set_new(r->detail, "unassigned_primaries_error",
				    json_string(res->message ? res->message : "unexpected answer"));
		read_finish(r, HEALTH_RED, NULL);
		return;
	}
	json_array_foreach (res->body, i, row) {
		const char *prirep = json_str(row, "prirep");
		const char *state = json_str(row, "state");
		const char *index = json_str(row, "index");
		int shard;

		if (!prirep || !state || !index || strcmp(prirep, "p") != 0 ||
		    strcmp(state, "UNASSIGNED") != 0 ||
		    !parse_int(json_str(row, "shard"), 0, INT32_MAX, &shard))
			continue;
		total++;
		if (json_array_size(primaries) >= DETAIL_PRIMARIES_MAX)
			continue;
		json_t *p = json_pack("{s:s, s:i}", "index", index, "shard", shard);
		const char *reason = json_str(row, "unassigned.reason");

		if (reason)
			json_object_set_new(p, "reason", json_string(reason));
		json_array_append_new(primaries, p);
	}
	json_object_set_new(r->detail, "unassigned_primaries_total",
			    json_integer((json_int_t)total));
	if (total == 0) {
		read_finish(r, HEALTH_RED, NULL);
		return;
	}
	json_t *first = json_array_get(primaries, 0);
	json_t *body = json_pack("{s:O, s:O, s:b}", "index", json_object_get(first, "index"),
				 "shard", json_object_get(first, "shard"), "primary", 1);

	r->phase = READ_EXPLAIN;
	r->call =
		es_request(r->es, "POST", "/_cluster/allocation/explain", body, explain_done_cb, r);
	json_decref(body);
	read_arm(r);
}

static void health_done_cb(void *arg, const struct es_result *res)
{
	struct read *r = arg;
	json_t *nodes, *unassigned;
	enum health h;

	r->call = NULL;
	evtimer_del(r->timer);
	if (res->klass != HTTPC_OK) {
		read_finish(r, HEALTH_UNREACHABLE, res->message ? res->message : "request failed");
		return;
	}
	h = health_of(json_str(res->body, "status"));
	nodes = json_object_get(res->body, "number_of_nodes");
	unassigned = json_object_get(res->body, "unassigned_shards");
	if (h == HEALTH_UNKNOWN || h == HEALTH_UNREACHABLE || !json_is_integer(nodes) ||
	    !json_is_integer(unassigned)) {
		read_finish(r, HEALTH_UNREACHABLE,
			    "GET /_cluster/health: the answer has no status, number_of_nodes and "
			    "unassigned_shards");
		return;
	}
	r->health = h;
	r->nodes = (int)json_integer_value(nodes);
	r->unassigned = (int)json_integer_value(unassigned);
	if (h != HEALTH_RED || r->t->health == HEALTH_RED) {
		read_finish(r, h, NULL);
		return;
	}
	/* Newly red: say which primaries are missing, and why, for the history. */
	r->detail = json_object();
	r->phase = READ_SHARDS;
	r->call =
		es_request(r->es, "GET",
			   "/_cat/shards?format=json&h=index,shard,prirep,state,unassigned.reason",
			   NULL, shards_done_cb, r);
	read_arm(r);
}

static void read_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct read *r = arg;
	struct sweep *s = r->s;

	es_cancel(r->call);
	r->call = NULL;
	if (r->phase == READ_HEALTH) {
		char *msg = xasprintf("GET /_cluster/health: no answer within %d ms",
				      s->opt.timeout_ms);

		read_finish(r, HEALTH_UNREACHABLE, msg);
		free(msg);
		return;
	}
	json_object_set_new(r->detail,
			    r->phase == READ_SHARDS ? "unassigned_primaries_error"
						    : "allocation_explain_error",
			    json_string("no answer in time"));
	read_finish(r, HEALTH_RED, NULL);
}

static void read_start(struct sweep *s, struct target *t)
{
	struct read *r = xcalloc(1, sizeof(*r));
	char *ns = *t->ns ? xstrdup(t->ns) : render_namespace(t->tenant, t->name);

	r->s = s;
	r->t = t;
	r->phase = READ_HEALTH;
	r->started_mono = now_mono_ms();
	r->es = es_new_for_cluster(s->opt.kube, s->opt.http, s->es_url_template, ns,
				   RENDER_HTTP_SERVICE);
	r->timer = evtimer_new(s->base, read_timeout_cb, r);
	t->read = r;
	s->reads++;
	r->call = es_health(r->es, NULL, NULL, false, health_done_cb, r);
	read_arm(r);
	free(ns);
}

static void dispatch_cb(evutil_socket_t fd, short what, void *arg)
{
	dispatch(arg);
}

/* Start what is due, as far as the concurrency allows; wake up for the next. */
static void dispatch(struct sweep *s)
{
	int64_t now = now_mono_ms();

	if (s->stopping)
		return;
	while (s->reads < s->opt.concurrency && s->nheap > 0 && s->heap[0]->due_mono <= now)
		read_start(s, heap_pop(s));
	evtimer_del(s->dispatch_ev);
	if (s->reads < s->opt.concurrency && s->nheap > 0) {
		struct timeval tv = tv_ms(s->heap[0]->due_mono - now);

		evtimer_add(s->dispatch_ev, &tv);
	}
}

/* --- writing -------------------------------------------------------------------------- */

static void obs_clear(struct obs *ob)
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
				      "cluster", ob->name, "previous", health_names[ob->prev],
				      "status", health_names[ob->health], "at", at, "nodes",
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
			struct target *t = target_find(s, ob->o.cluster_id);

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
		obs_clear(&s->writing_batch[i]);
	free(s->writing_batch);
	s->writing_batch = NULL;
	s->nwriting = 0;
	if (s->npending >= BATCH_MAX || (s->npending > 0 && s->stopping))
		event_active(s->flush_ev, EV_TIMEOUT, 0);
	else if (s->npending > 0 && !evtimer_pending(s->flush_ev, NULL)) {
		struct timeval tv = tv_ms(FLUSH_MS);

		evtimer_add(s->flush_ev, &tv);
	}
	check_done(s);
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
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

/* --- the list of clusters --------------------------------------------------------------- */

static void targets_cb(void *arg, const struct db_error *err, const struct health_target *rows,
		       int n)
{
	struct sweep *s = arg;

	s->queries--;
	s->refresh_in_flight = false;
	if (s->stopping) {
		check_done(s);
		return;
	}
	if (err)
		log_warn("health sweep: reading the clusters to watch failed: %s", err->message);
	else
		merge_targets(s, rows, n);
	if (s->refresh_again) {
		s->refresh_again = false;
		request_refresh(s);
	}
	struct timeval tv = tv_ms(jittered_interval(s));

	evtimer_add(s->refresh_ev, &tv);
	dispatch(s);
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
		merge_targets(s, NULL, 0);
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
			drop_shard(s, i);
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
		check_done(s);
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
				drop_shard(s, held[i].shard);
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
			drop_shard(s, i);
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

/* --- metrics ------------------------------------------------------------------------------ */

enum figure {
	FIG_STATUS,
	FIG_NODES,
	FIG_UNASSIGNED,
	FIG_AGE,
	FIG_WATCHED,
	FIG_SHARDS,
	FIG_SWEEPING,
	FIG_LAG,
	FIG_READS,
};

/* The collectors' argument: the sweep and which figure. */
struct figure_arg {
	struct sweep *s;
	enum figure fig;
};

static struct figure_arg figure_args[FIG_READS + 1];

static void cluster_figure(struct metrics_sink *sink, const struct sweep *s, enum figure fig)
{
	int64_t now = now_wall_ms();

	for (size_t i = 0; i < s->ntargets; i++) {
		const struct target *t = s->targets[i];
		const char *v[] = {t->tenant, t->name, NULL};

		switch (fig) {
		case FIG_STATUS:
			if (t->health == HEALTH_UNKNOWN)
				break;
			for (size_t h = HEALTH_GREEN; h < ARRAY_SIZE(health_names); h++) {
				v[2] = health_names[h];
				metrics_sink_sample(sink, v, t->health == (enum health)h ? 1 : 0);
			}
			break;
		case FIG_NODES:
			if (t->nodes >= 0)
				metrics_sink_sample(sink, v, t->nodes);
			break;
		case FIG_UNASSIGNED:
			if (t->unassigned >= 0)
				metrics_sink_sample(sink, v, t->unassigned);
			break;
		default:
			metrics_sink_sample(sink, v,
					    t->observed_ms ? (double)(now - t->observed_ms) / 1000.0
							   : INFINITY);
			break;
		}
	}
}

static void figure_cb(struct metrics_sink *sink, void *arg)
{
	const struct figure_arg *a = arg;
	const struct sweep *s = a->s;
	int held = 0;
	double v = 0;

	for (int i = 0; i < HEALTH_SHARDS; i++)
		held += s->shards[i].held;
	switch (a->fig) {
	case FIG_STATUS:
	case FIG_NODES:
	case FIG_UNASSIGNED:
	case FIG_AGE:
		cluster_figure(sink, s, a->fig);
		return;
	case FIG_WATCHED:
		v = (double)s->ntargets;
		break;
	case FIG_SHARDS:
		v = held;
		break;
	case FIG_SWEEPING:
		v = held > 0 && !s->stopping;
		break;
	case FIG_LAG:
		if (s->nheap > 0 && s->heap[0]->due_mono < now_mono_ms())
			v = (double)(now_mono_ms() - s->heap[0]->due_mono) / 1000.0;
		break;
	case FIG_READS:
		v = s->reads;
		break;
	}
	metrics_sink_sample(sink, NULL, v);
}

/*
 * A cluster's health is one series per status, 1 for the current one and
 * 0 for the others (the convention of kube-state-metrics and of the
 * Elasticsearch exporter), so that a query selects a status by label
 * rather than by a number with a meaning to remember.  A cluster's series
 * come from the replica that sweeps it.
 */
static void sweep_metrics_setup(struct sweep *s)
{
	static const char *const tcs[] = {"tenant", "cluster", "status", NULL};
	static const char *const tc[] = {"tenant", "cluster", NULL};
	static const char *const result[] = {"result", NULL};
	static const struct {
		const char *name, *help;
		const char *const *labels;
	} figures[] = {
		[FIG_STATUS] = {"esaas_cluster_health_status",
				"A cluster's health at its last check: 1 for the status it has "
				"(green, yellow, red or unreachable), 0 for the others.",
				tcs},
		[FIG_NODES] = {"esaas_cluster_nodes",
			       "Nodes in the cluster at its last successful health read.", tc},
		[FIG_UNASSIGNED] =
			{"esaas_cluster_unassigned_shards",
			 "Unassigned shards at the cluster's last successful health read.", tc},
		[FIG_AGE] = {"esaas_cluster_health_read_age_seconds",
			     "Seconds since the cluster's last successful health read (+Inf: "
			     "never).",
			     tc},
		[FIG_WATCHED] = {"esaas_health_clusters_watched", "Clusters this replica sweeps.",
				 NULL},
		[FIG_SHARDS] =
			{"esaas_health_shards_owned",
			 "Shards of the clusters whose lease this replica holds; every shard "
			 "is swept when the replicas hold " SHARDS_TEXT " together.",
			 NULL},
		[FIG_SWEEPING] = {"esaas_health_sweeping",
				  "1 while this replica sweeps at least one shard of the clusters.",
				  NULL},
		[FIG_LAG] = {"esaas_health_sweep_lag_seconds",
			     "How far behind its due time the most overdue health read is.", NULL},
		[FIG_READS] = {"esaas_health_reads_in_flight", "Health reads running now.", NULL},
	};
	struct metrics *reg = metrics_default();

	for (size_t i = 0; i < ARRAY_SIZE(figures); i++) {
		figure_args[i].s = s;
		figure_args[i].fig = (enum figure)i;
		s->collectors[i] =
			metrics_collector(reg, METRIC_GAUGE, figures[i].name, figures[i].help,
					  figures[i].labels, figure_cb, &figure_args[i]);
	}
	struct metric *reads = metrics_counter(reg, "esaas_health_reads_total",
					       "Cluster health reads ended, by result (ok, or "
					       "unreachable: no usable answer).",
					       result);
	const char *ok[] = {"ok"}, *failed[] = {"unreachable"};

	s->reads_ok = metrics_series(reads, ok);
	s->reads_failed = metrics_series(reads, failed);
	s->changes = metrics_series(
		metrics_counter(reg, "esaas_health_changes_total",
				"Changes of cluster health appended to the history.", NULL),
		NULL);
	s->takeovers = metrics_series(
		metrics_counter(reg, "esaas_health_shard_takeovers_total",
				"Shards this replica claimed after another replica's lease on "
				"them expired.",
				NULL),
		NULL);
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
	if (s->opt.interval_ms < 1)
		s->opt.interval_ms = 1;
	if (s->opt.concurrency < 1)
		s->opt.concurrency = 1;
	s->lease_ev = event_new(base, -1, EV_PERSIST, lease_tick_cb, s);
	s->refresh_ev = evtimer_new(base, refresh_cb, s);
	s->dispatch_ev = evtimer_new(base, dispatch_cb, s);
	s->flush_ev = evtimer_new(base, flush_cb, s);
	sweep_metrics_setup(s);
	return s;
}

void sweep_start(struct sweep *s)
{
	struct timeval tv = tv_ms(tick_ms(s));

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
	check_done(s);
}

static void check_done(struct sweep *s)
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
	struct timeval tv = tv_ms(STOP_WAIT_MS);

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
			read_cancel(s->targets[i]->read);
	}
	s->stop_ev = evtimer_new(s->base, stop_wait_cb, s);
	evtimer_add(s->stop_ev, &tv);
	if (s->npending > 0)
		event_active(s->flush_ev, EV_TIMEOUT, 0);
	check_done(s);
}

void sweep_free(struct sweep *s)
{
	if (!s)
		return;
	s->stopping = true;
	s->done_called = true;
	for (size_t i = 0; i < s->ntargets; i++)
		target_free(s, s->targets[i]);
	free(s->targets);
	free(s->heap);
	for (size_t i = 0; i < s->npending; i++)
		obs_clear(&s->pending[i]);
	free(s->pending);
	for (size_t i = 0; i < s->nwriting; i++)
		obs_clear(&s->writing_batch[i]);
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
	free(s->owner);
	free(s);
}
