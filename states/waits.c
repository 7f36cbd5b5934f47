/*
 * The create's waits: every pod ready, the masters formed, health green.
 */
#include "states/states.h"
#include "common/json.h"
#include "states/internal.h"
#include "states/env.h"
#include "common/config.h"
#include "common/util.h"
#include "engine/fsm.h"
#include "es/client.h"
#include "kube/client.h"
#include "kube/render.h"
#include "kube/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int expected_pods(const struct spec *spec)
{
	int n = 0;
	for (int r = 0; r < ES_ROLE_COUNT; r++)
		n += spec->nodes[r].replicas;
	return n;
}

static void pods_listed_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	l->kcall = NULL;
	struct step *s = l->step;
	if (res->klass != HTTPC_OK) {
		states_call_report(l, false, res->klass == HTTPC_TRANSIENT,
				   res->message ? res->message : "listing pods failed");
		return;
	}
	int want = expected_pods(&l->r->spec);
	struct states_pod_tally t;
	states_tally_pods(json_object_get(res->body, "items"), false, NULL, &t);
	if (t.ready >= want) {
		states_call_finish(l);
		json_object_del(step_context(s), "pods_wait_since");
		states_watch_done(s);
		step_next(s);
		return;
	}
	char *observed = xasprintf("%d of %d pods ready%s%s", t.ready, want,
				   t.first_missing[0] ? "; " : "", t.first_missing);
	if (t.pods < want) {
		/* Some were never made: the workloads' events say why. */
		states_explain_missing_pods(l, observed);
	} else {
		/* Every master pod ready and still no answer: their endpoints. */
		int64_t wait_ms = res->klass == HTTPC_OK && t.ready >= want
					  ? states_wait_endpoints_ms(l)
					  : states_wait_ms(l);
		struct wf_env *env = l->env;
		states_call_finish(l);
		if (!states_fail_unstartable(s, env, &t, observed))
			step_wait(s, wait_ms, "%s", observed);
	}
	free(observed);
}

void state_wait_pods_ready(struct step *s)
{
	struct state_call *l = states_call_new(s);
	if (!l)
		return;
	/* Every pod made and some not ready, as the watch saw them: a list
	 * would say no more, and the change that ends the wait wakes it.
	 * Pods missing (a workload's events say why) and pods all ready
	 * (the wait moves on) are asked of the API server. */
	json_t *watched = states_watched_pods(l, NULL);
	if (watched) {
		int want = expected_pods(&l->r->spec);
		struct states_pod_tally t;
		states_tally_pods(watched, false, NULL, &t);
		json_decref(watched);
		bool settling = t.pods < want && states_watch_settling(l);
		if ((t.pods >= want && t.ready < want) || settling) {
			int64_t wait_ms = settling ? STATES_WATCH_SETTLE_MS : states_wait_ms(l);
			struct wf_env *env = l->env;
			char *observed = xasprintf("%d of %d pods ready%s%s", t.ready, want,
						   t.first_missing[0] ? "; " : "", t.first_missing);
			states_call_finish(l);
			if (!states_fail_unstartable(s, env, &t, observed))
				step_wait(s, wait_ms, "%s", observed);
			free(observed);
			return;
		}
	}
	states_asked(l);
	states_list_pods(l, NULL, pods_listed_cb, l);
}

/* The masters do not answer, their pods all made (tallied in t): the wait
 * goes on, saying what keeps a master pod from being ready, unless that
 * is what waiting does not end (states_fail_unstartable). */
static void masters_wait(struct state_call *l, const struct states_pod_tally *t,
			 const char *observed)
{
	struct step *s = l->step;
	struct wf_env *env = l->env;
	int64_t wait_ms = states_wait_ms(l);
	char *text =
		xasprintf("%s%s%s", observed, t->first_missing[0] ? "; " : "", t->first_missing);
	states_call_finish(l);
	if (!states_fail_unstartable(s, env, t, text))
		step_wait(s, wait_ms, "%s", text);
	free(text);
}

static void master_pods_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	l->kcall = NULL;
	char *observed = xstrdup(json_str(l->nodes, "observed"));
	int want = l->r->spec.nodes[ES_ROLE_MASTER].replicas;
	struct states_pod_tally t = {0};
	if (res->klass == HTTPC_OK)
		states_tally_pods(json_object_get(res->body, "items"), false, NULL, &t);
	if (res->klass == HTTPC_OK && t.pods < want) {
		char *more = xasprintf("%s; %d of %d master pods made", observed, t.pods, want);
		states_explain_missing_pods(l, more);
		free(more);
	} else {
		masters_wait(l, &t, observed);
	}
	free(observed);
}

/* The masters do not answer: waited out, unless their pods were never
 * made (then the workload's events say why, states_explain_missing_pods). */
static void masters_unreachable(struct state_call *l, const char *observed)
{
	json_decref(l->nodes);
	l->nodes = json_pack("{s:s}", "observed", observed);
	/* Every master pod made, as the watch saw them: nothing for the
	 * events to explain, and the wait goes on either way. */
	json_t *watched = states_watched_pods(l, es_role_name(ES_ROLE_MASTER));
	bool known = watched != NULL;
	int made = (int)json_array_size(watched);
	struct states_pod_tally t = {0};
	if (known)
		states_tally_pods(watched, false, NULL, &t);
	json_decref(watched);
	bool settling = known && states_watch_settling(l);
	if (known && made >= l->r->spec.nodes[ES_ROLE_MASTER].replicas) {
		masters_wait(l, &t, observed);
		return;
	}
	if (settling) {
		struct step *s = l->step;
		char *text = xstrdup(observed);
		states_call_finish(l);
		step_wait(s, STATES_WATCH_SETTLE_MS, "%s", text);
		free(text);
		return;
	}
	states_list_pods(l, es_role_name(ES_ROLE_MASTER), master_pods_cb, l);
}

static void masters_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	const char *uuid = json_str(res->body, "cluster_uuid");
	char *msg = res->message ? xstrdup(res->message) : NULL;
	bool ok = res->klass == HTTPC_OK;
	bool formed = ok && uuid && strcmp(uuid, "_na_") != 0;
	if (formed) {
		/* The cluster has formed: from now on nothing renders
		 * cluster.initial_master_nodes (states_initial_masters). */
		json_object_set_new(step_context(s), "cluster_uuid", json_string(uuid));
		json_object_del(step_context(s), "pods_wait_since");
		states_watch_done(s);
	}
	if (!ok) {
		/* Not reachable yet is what this state waits out, not an error. */
		char *observed =
			xasprintf("masters not reachable yet: %s", msg ? msg : "no answer");
		masters_unreachable(l, observed);
		free(observed);
		free(msg);
		return;
	}
	int64_t wait_ms = states_wait_ms(l);
	states_call_finish(l);
	if (formed)
		step_next(s);
	else
		step_wait(s, wait_ms,
			  "the masters answer but have not elected a master yet (cluster_uuid %s); "
			  "waiting for a cluster uuid",
			  uuid ? uuid : "absent");
	free(msg);
}

/* 2.x has no cluster_uuid in GET / (added in 5.0, elastic/elasticsearch#20503):
 * formed is _cat/master naming an elected master. */
static void cat_master_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	const char *node = json_str(json_array_get(res->body, 0), "node");
	char *msg = res->message ? xstrdup(res->message) : NULL;
	bool ok = res->klass == HTTPC_OK;
	bool formed = ok && node && node[0];
	if (formed) {
		json_object_set_new(step_context(s), "elected_master", json_string(node));
		json_object_del(step_context(s), "pods_wait_since");
		states_watch_done(s);
	}
	if (!ok) {
		char *observed = xasprintf("masters not reachable or no master elected yet: %s; "
					   "waiting for _cat/master to name one",
					   msg ? msg : "no answer");
		masters_unreachable(l, observed);
		free(observed);
		free(msg);
		return;
	}
	int64_t wait_ms = states_wait_ms(l);
	states_call_finish(l);
	if (formed)
		step_next(s);
	else
		step_wait(s, wait_ms,
			  "the masters answer but _cat/master names no master yet; waiting for "
			  "an elected master");
	free(msg);
}

void state_wait_masters_formed(struct step *s)
{
	struct state_call *l = states_call_new(s);
	if (!l)
		return;
	char *svc = render_headless_service(l->r->ns);
	states_call_connect(l, svc);
	/* No master has an address behind the Service yet, as the watch
	 * saw its EndpointSlices: the proxy would answer 503 at once. */
	if (states_no_endpoint_yet(l, svc)) {
		char *observed = xasprintf("masters not reachable yet: the Service %s has no "
					   "endpoint yet",
					   svc);
		free(svc);
		masters_unreachable(l, observed);
		free(observed);
		return;
	}
	free(svc);
	states_asked(l);
	if (l->r->spec.version.major < 5)
		l->ecall = es_request(l->es, "GET", "/_cat/master?format=json", NULL, cat_master_cb,
				      l);
	else
		l->ecall = es_info(l->es, masters_cb, l);
}

/*
 * Joined, not only ready: a pod is ready once it listens on 9200, which
 * Elasticsearch does after discovery.initial_state_timeout even without
 * having joined (it may not reach a master, or belong to another
 * cluster).  Every node name expected must be in _cat/nodes: a scale's
 * (context.role and context.to) context.to nodes of its role, else every
 * node of the spec.
 */
static void joined_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	if (res->klass != HTTPC_OK) {
		char *msg = xstrdup(res->message ? res->message : "no answer");
		int64_t wait_ms = states_wait_ms(l);
		states_call_finish(l);
		step_wait(s, wait_ms,
			  "cannot list the cluster's nodes yet: %s; waiting for _cat/nodes", msg);
		free(msg);
		return;
	}
	const struct spec *spec = &l->r->spec;
	json_t *ctx = step_context(s);
	enum es_role only;
	bool one = json_is_integer(json_object_get(ctx, "to")) &&
		   spec_section_parse(json_str(ctx, "role"), &only);
	int want = 0, missing = 0;
	char first[512] = "";
	for (int r = 0; r < ES_ROLE_COUNT; r++) {
		if (one && r != (int)only)
			continue;
		int count = one ? (int)json_integer_value(json_object_get(ctx, "to"))
				: spec->nodes[r].replicas;
		for (int i = 0; i < count; i++) {
			char *pod = xasprintf("%s-%d", render_workload_name((enum es_role)r), i);
			char *node = render_node_name(pod, l->r->ns);
			bool in = false;
			size_t k;
			json_t *n;
			json_array_foreach (res->body, k, n) {
				const char *name = json_str(n, "name");
				if (name && strcmp(name, node) == 0)
					in = true;
			}
			want++;
			if (!in && missing++ == 0)
				snprintf(first, sizeof(first), "%s", node);
			free(node);
			free(pod);
		}
	}
	/* A scale's leaving nodes must be out of _cat/nodes too: a pod gone is
	 * not yet a node the cluster has let go. */
	const char *stays = NULL;
	size_t k, j;
	json_t *n, *gone;
	json_array_foreach (one ? json_object_get(ctx, "leaving") : NULL, j, gone)
		json_array_foreach (res->body, k, n) {
			const char *name = json_str(n, "name");
			if (!stays && name && strcmp(name, json_string_value(gone)) == 0)
				stays = json_string_value(gone);
		}
	size_t listed = json_array_size(res->body);
	int64_t wait_ms = states_wait_ms(l);
	states_call_finish(l);
	if (missing == 0 && stays)
		step_wait(s, wait_ms,
			  "%s has left its pod but is still in _cat/nodes; waiting for the "
			  "cluster to remove it",
			  stays);
	else if (missing == 0)
		step_next(s);
	else
		step_wait(s, wait_ms,
			  "%d of %d expected nodes in _cat/nodes (%zu listed), %s not; waiting for "
			  "every node to join (a ready node that is not listed cannot reach a "
			  "master or belongs to another cluster)",
			  want - missing, want, listed, first);
}

/*
 * Asked of the masters through their headless Service, which has every
 * master as its endpoint, ready or not: the HTTP Service has a node only
 * a moment after it turns ready (the endpoint controller).
 */
void states_wait_joined(struct step *s)
{
	struct state_call *l = states_call_new(s);
	if (!l)
		return;
	char *svc = render_headless_service(l->r->ns);
	states_call_connect(l, svc);
	free(svc);
	l->ecall = es_cat_nodes(l->es, joined_cb, l);
}

void state_wait_joined(struct step *s)
{
	states_wait_joined(s);
}

static void health_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	/* Elasticsearch's answer, or its long-poll's 408 (the proxy's own
	 * errors are Kubernetes Status bodies, whose "status" is another). */
	bool answered = res->klass == HTTPC_OK || res->status == 408;
	const char *status = answered ? json_str(res->body, "status") : NULL;
	json_int_t unassigned = json_integer_value(json_object_get(res->body, "unassigned_shards"));
	json_int_t nodes = json_integer_value(json_object_get(res->body, "number_of_nodes"));
	char *msg = res->message ? xstrdup(res->message) : NULL;
	bool green = states_healthy_enough(s, status);
	if (green)
		states_watch_done(s);
	char *seen = xstrdup(status ? status : "");
	/* Not readable: the HTTP Service's endpoints follow its pods,
	 * ready by now (the waits before), within moments. */
	int64_t wait_ms =
		seen[0] ? states_health_wait_ms(s, res->status) : states_wait_endpoints_ms(l);
	states_call_finish(l);
	if (green)
		step_next(s);
	else if (seen[0])
		step_wait(s, wait_ms, "health %s: %lld nodes, %lld unassigned shards", seen,
			  (long long)nodes, (long long)unassigned);
	else
		step_wait(s, wait_ms, "health not readable yet: %s", msg ? msg : "no answer");
	free(seen);
	free(msg);
}

void state_wait_green(struct step *s)
{
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	/* Its pods are ready (the waits before), but the HTTP Service has
	 * no endpoint yet as the watch saw its EndpointSlices (the endpoint
	 * controller follows readiness within moments): the proxy would
	 * answer 503 at once, and the EndpointSlice's change wakes the wait. */
	if (states_no_endpoint_yet(l, RENDER_HTTP_SERVICE)) {
		int64_t wait_ms = states_wait_ms(l);
		states_call_finish(l);
		step_wait(s, wait_ms,
			  "health not readable yet: the Service %s has no ready endpoint",
			  RENDER_HTTP_SERVICE);
		return;
	}
	states_asked(l);
	l->ecall = es_health(l->es, states_health_wanted(s), STATES_HEALTH_LONG_POLL, false,
			     health_cb, l);
}

/* --- what a drain wait saw --------------------------------------------------------- */

/*
 * A drain that waits says what it counted (l->nodes: {"seen": text}),
 * the cluster's health counters as _cluster/health gives them, and when a
 * copy is unassigned why, from _cluster/allocation/explain (5.0+; an
 * answer it cannot give, as on 2.x, leaves it out).
 */
static void drain_wait_now(struct state_call *l, const char *explain)
{
	struct step *s = l->step;
	char *text =
		xasprintf("%s; %s%s%s", json_str(l->nodes, "seen"), json_str(l->nodes, "health"),
			  explain ? "; " : "", explain ? explain : "");
	states_call_finish(l);
	step_wait(s, states_poll_ms(s), "%s", text);
	free(text);
}

/* "[logs][0] replica unassigned (NODE_LEFT): can_allocate no: <why>; <the
 * first node's first decider>", from an explain answer; allocated. */
static char *explain_summary(json_t *b)
{
	const char *why = json_str(b, "allocate_explanation");
	const char *decider = NULL;
	size_t i;
	json_t *n;
	json_array_foreach (json_object_get(b, "node_allocation_decisions"), i, n) {
		json_t *d = json_array_get(json_object_get(n, "deciders"), 0);
		if (!decider && d)
			decider = json_str(d, "explanation");
	}
	const char *reason = json_str(json_object_get(b, "unassigned_info"), "reason");
	return xasprintf(
		"allocation/explain: [%s][%lld] %s unassigned (%s): can_allocate %s%s%s%s%s",
		json_str(b, "index") ? json_str(b, "index") : "?",
		(long long)json_integer_value(json_object_get(b, "shard")),
		json_is_true(json_object_get(b, "primary")) ? "primary" : "replica",
		reason ? reason : "unknown",
		json_str(b, "can_allocate") ? json_str(b, "can_allocate") : "unknown",
		why ? ": " : "", why ? why : "", decider ? "; " : "", decider ? decider : "");
}

static void drain_explain_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	char *why = res->klass == HTTPC_OK && json_is_object(res->body) ? explain_summary(res->body)
									: NULL;
	drain_wait_now(l, why);
	free(why);
}

static void drain_health_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	if (res->klass != HTTPC_OK || !json_is_object(res->body)) {
		json_object_set_new(l->nodes, "health",
				    json_sprintf("health not readable: %s",
						 res->message ? res->message : "no answer"));
		drain_wait_now(l, NULL);
		return;
	}
	json_t *b = res->body;
	json_int_t unassigned = json_integer_value(json_object_get(b, "unassigned_shards"));
	json_object_set_new(
		l->nodes, "health",
		json_sprintf(
			"health %s: relocating_shards %lld, initializing_shards %lld, "
			"unassigned_shards %lld",
			json_str(b, "status") ? json_str(b, "status") : "unknown",
			(long long)json_integer_value(json_object_get(b, "relocating_shards")),
			(long long)json_integer_value(json_object_get(b, "initializing_shards")),
			(long long)unassigned));
	if (unassigned > 0)
		l->ecall = es_request(l->es, "POST", "/_cluster/allocation/explain", NULL,
				      drain_explain_cb, l);
	else
		drain_wait_now(l, NULL);
}

void states_drain_wait(struct state_call *l, char *seen)
{
	json_decref(l->nodes);
	l->nodes = json_pack("{s:s}", "seen", seen);
	free(seen);
	l->ecall = es_health(l->es, NULL, NULL, false, drain_health_cb, l);
}
