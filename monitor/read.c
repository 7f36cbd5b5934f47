/*
 * The health sweep's reads: one cluster's _cluster/health, and for a
 * cluster newly red, its unassigned primaries and the explanation of one;
 * and the dispatch of the reads that are due, as far as the concurrency
 * allows.
 */
#include "monitor/sweep_internal.h"
#include "common/json.h"
#include "common/httpc.h"
#include "common/metrics.h"
#include "common/util.h"
#include "es/client.h"
#include "kube/render.h"

#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#define DETAIL_PRIMARIES_MAX 20

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
void sweep_read_cancel(struct read *r)
{
	read_free(r);
}

static void read_arm(struct read *r)
{
	struct timeval tv = sweep_tv_ms(r->s->opt.timeout_ms);

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
	ob->o.status = sweep_health_names[health];
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
		struct timeval tv = sweep_tv_ms(FLUSH_MS);

		evtimer_add(s->flush_ev, &tv);
	}

	t->due_mono = r->started_mono + sweep_jittered_interval(s);
	read_free(r);
	sweep_heap_push(s, t);
	sweep_budget_check(s, t);
	sweep_dispatch(s);
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
	h = sweep_health_of(json_str(res->body, "status"));
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
	char *ns = xstrdup(t->ns);

	r->s = s;
	r->t = t;
	r->phase = READ_HEALTH;
	r->started_mono = now_mono_ms();
	r->es = es_new_for_cluster(s->opt.kube, s->opt.http, s->es_url_template, ns,
				   RENDER_HTTP_SERVICE);
	es_direct_connect_to(r->es, s->es_connect_to);
	/* A secured cluster is read as esaas's own user (elastic until it
	 * exists), its certificate checked against its CA. */
	json_t *sec = t->security ? json_loads(t->security, 0, NULL) : NULL;
	struct es_credentials cred;
	if (es_security_credentials(sec, &cred))
		es_use_credentials(r->es, &cred);
	json_decref(sec);
	r->timer = evtimer_new(s->base, read_timeout_cb, r);
	t->read = r;
	s->reads++;
	r->call = es_health(r->es, NULL, NULL, false, health_done_cb, r);
	read_arm(r);
	free(ns);
}

void sweep_dispatch_cb(evutil_socket_t fd, short what, void *arg)
{
	sweep_dispatch(arg);
}

/* Start what is due, as far as the concurrency allows; wake up for the next. */
void sweep_dispatch(struct sweep *s)
{
	int64_t now = now_mono_ms();

	if (s->stopping)
		return;
	while (s->reads < s->opt.concurrency && s->nheap > 0 && s->heap[0]->due_mono <= now)
		read_start(s, sweep_heap_pop(s));
	evtimer_del(s->dispatch_ev);
	if (s->reads < s->opt.concurrency && s->nheap > 0) {
		struct timeval tv = sweep_tv_ms(s->heap[0]->due_mono - now);

		evtimer_add(s->dispatch_ev, &tv);
	}
}
