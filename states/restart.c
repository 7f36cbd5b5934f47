/*
 * The safe rolling restart, one pod at a time (workflows/restart.h).
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

/*
 * params: {"spec", "role"?: "data"|"masters"|"clients", "nodes"?: [pod names],
 *   "version"?: an upgrade's target, whose pods are passed over}.
 * context.pending holds the pods still to restart ({name, uid, role}), in
 * order, and context.restarted those done: a replay goes on with the pods
 * not yet restarted.  One pod at a time: allocation of replicas paused,
 * flush, delete with its uid (never its replacement), wait for the
 * replacement, allocation back, wait green.
 */
static int role_rank(const char *role)
{
	/* Data first, clients, masters last: the master changes once at the end. */
	if (role && strcmp(role, "data") == 0)
		return 0;
	if (role && strcmp(role, "client") == 0)
		return 1;
	return 2;
}

static int pod_order(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int rx = role_rank(json_str(x, "role"));
	int ry = role_rank(json_str(y, "role"));
	if (rx != ry)
		return rx - ry;
	return strcmp(json_str(x, "name"), json_str(y, "name"));
}

static bool wanted_pod(json_t *params, const char *name, const char *role)
{
	const char *want_role = json_str(params, "role");
	json_t *nodes = json_object_get(params, "nodes");
	if (want_role) {
		/* The API says "clients"; the pods' label says "client". */
		enum es_role r;
		if (!spec_section_parse(want_role, &r) || !role ||
		    strcmp(role, es_role_name(r)) != 0)
			return false;
	}
	if (json_is_array(nodes)) {
		size_t i;
		json_t *n;
		json_array_foreach (nodes, i, n)
			if (strcmp(json_string_value(n), name) == 0)
				return true;
		return false;
	}
	return true;
}

/* An upgrade (params.version) passes over the pods that already run the
 * target: a replay, or an upgrade asked again after a cancel, goes on
 * with the others. */
static bool runs_version(json_t *params, json_t *meta)
{
	const char *target = json_str(params, "version");
	const char *has = json_string_value(
		json_object_get(json_object_get(meta, "labels"), RENDER_LABEL_VERSION));
	return target && has && strcmp(target, has) == 0;
}

json_t *restart_plan_pods(json_t *params, json_t *items)
{
	size_t n = json_array_size(items);
	json_t **pods = xcalloc(n + 1, sizeof(*pods));
	size_t k = 0, i;
	json_t *pod;
	json_array_foreach (items, i, pod) {
		json_t *meta = json_object_get(pod, "metadata");
		const char *name = json_str(meta, "name");
		const char *uid = json_str(meta, "uid");
		const char *role = json_string_value(
			json_object_get(json_object_get(meta, "labels"), RENDER_LABEL_ROLE));
		/* Elasticsearch's nodes only: Kibana rolls by itself. */
		if (!name || !uid || json_object_get(meta, "deletionTimestamp") || !role ||
		    (strcmp(role, "master") != 0 && strcmp(role, "data") != 0 &&
		     strcmp(role, "client") != 0) ||
		    !wanted_pod(params, name, role) || runs_version(params, meta))
			continue;
		pods[k++] = json_pack("{s:s, s:s, s:s}", "name", name, "uid", uid, "role", role);
	}
	qsort(pods, k, sizeof(*pods), pod_order);
	json_t *pending = json_array();
	for (i = 0; i < k; i++)
		json_array_append_new(pending, pods[i]);
	free(pods);
	return pending;
}

static void plan_pods_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	struct step *s = l->step;
	/* Listing again is always worth it: retry whatever the error. */
	if (!states_call_kube_ok(l, res))
		return;
	json_t *pending = restart_plan_pods(step_params(s), json_object_get(res->body, "items"));
	states_call_finish(l);
	if (json_array_size(pending) == 0) {
		json_decref(pending);
		step_fail(s, "no pod of this cluster matches the restart request");
		return;
	}
	json_object_set_new(step_context(s), "pending", pending);
	json_object_set_new(step_context(s), "restarted", json_array());
	step_next(s);
}

void state_restart_plan(struct step *s)
{
	/* A replay keeps its plan: the pods already restarted stay done. */
	if (json_is_array(json_object_get(step_context(s), "pending"))) {
		step_next(s);
		return;
	}
	struct state_call *l = states_call_new(s);
	if (!l)
		return;
	states_list_pods(l, NULL, plan_pods_cb, l);
}

static void put_allocation_cb(void *arg, const struct es_result *res)
{
	states_settings_put_cb(arg, res);
}

/* cluster.routing.allocation.enable: "primaries" while a node is away, then back. */
static void put_allocation(struct step *s, bool pause)
{
	json_t *ctx = step_context(s);
	if (!pause && !json_is_true(json_object_get(ctx, "allocation_paused"))) {
		step_next(s);
		return;
	}
	struct state_call *l = states_call_new(s);
	if (!l)
		return;
	if (pause)
		json_object_set_new(ctx, "allocation_paused", json_true());
	states_call_connect(l, RENDER_HTTP_SERVICE);
	json_t *settings = json_object();
	json_object_set_new(
		settings, "cluster.routing.allocation.enable",
		pause ? json_string("primaries")
		      : states_undo_value(s, &l->r->spec, "cluster.routing.allocation.enable"));
	l->clear_flag = pause ? NULL : "allocation_paused";
	if (pause)
		states_put_settings_over_transient(l, settings);
	else
		l->ecall = es_put_settings(l->es, settings, put_allocation_cb, l);
	json_decref(settings);
}

void state_restart_next(struct step *s)
{
	if (json_array_size(json_object_get(step_context(s), "pending")) == 0) {
		step_branch(s, RESTART_NEXT_NONE_LEFT);
		return;
	}
	step_next(s);
}

static const char *pod_role_label(json_t *pod_entry)
{
	const char *role = json_str(pod_entry, "role");
	return role ? role : "";
}

static void elected_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	struct step *s = l->step;
	if (!states_call_es_ok(l, res, "cannot tell which master is elected"))
		return;
	json_t *pending = json_object_get(step_context(s), "pending");
	json_t *cur = json_array_get(pending, 0);
	char *node = render_node_name(json_str(cur, "name"), l->r->ns);
	bool elected = false;
	size_t i;
	json_t *n;
	json_array_foreach (res->body, i, n) {
		const char *name = json_str(n, "name");
		const char *star = json_str(n, "master");
		if (name && star && strcmp(star, "*") == 0 && strcmp(name, node) == 0)
			elected = true;
	}
	free(node);
	states_call_finish(l);
	/* The elected master goes very last: the others restart under it,
	 * and the cluster elects anew only once. */
	if (elected) {
		json_array_append(pending, cur);
		json_array_remove(pending, 0);
	}
	step_next(s);
}

/* The elected master goes very last: asked only when it matters. */
static void check_elected(struct state_call *l)
{
	struct step *s = l->step;
	json_t *pending = json_object_get(step_context(s), "pending");
	int masters = 0;
	size_t i;
	json_t *p;
	json_array_foreach (pending, i, p)
		if (strcmp(pod_role_label(p), "master") == 0)
			masters++;
	if (strcmp(pod_role_label(json_array_get(pending, 0)), "master") == 0 && masters > 1) {
		l->ecall = es_cat_nodes(l->es, elected_cb, l);
		return;
	}
	states_call_finish(l);
	step_next(s);
}

static bool same(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/*
 * In yellow, a primary on the next node whose every other copy is not
 * STARTED would leave the shard red (ECK, upgrade_predicates.go:
 * require_started_replica): its "index/shard" into buf, or false.
 */
static bool sole_started_primary(json_t *rows, const char *node, char *buf, size_t len)
{
	size_t i, j;
	json_t *r, *o;
	json_array_foreach (rows, i, r) {
		if (!same(json_str(r, "node"), node) || !same(json_str(r, "prirep"), "p"))
			continue;
		bool other = false;
		json_array_foreach (rows, j, o) {
			const char *on = json_str(o, "node");
			if (o != r && on && !same(on, node) &&
			    same(json_str(o, "index"), json_str(r, "index")) &&
			    same(json_str(o, "shard"), json_str(r, "shard")) &&
			    same(json_str(o, "state"), "STARTED"))
				other = true;
		}
		if (!other) {
			snprintf(buf, len, "%s/%s",
				 json_str(r, "index") ? json_str(r, "index") : "?",
				 json_str(r, "shard") ? json_str(r, "shard") : "?");
			return true;
		}
	}
	return false;
}

static void restart_copies_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	struct step *s = l->step;
	if (!states_call_es_ok(l, res, "cannot list the shard copies"))
		return;
	const char *pod =
		json_str(json_array_get(json_object_get(step_context(s), "pending"), 0), "name");
	char *node = render_node_name(pod, l->r->ns);
	char shard[300];
	bool sole = sole_started_primary(res->body, node, shard, sizeof(shard));
	free(node);
	if (sole) {
		states_call_finish(l);
		step_wait(s, states_poll_ms(s),
			  "health yellow and the primary of %s on %s has no started copy "
			  "elsewhere: waiting for one before restarting %s",
			  shard, pod, pod);
		return;
	}
	check_elected(l);
}

static void restart_ready_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	const char *status = json_str(res->body, "status");
	json_t *pending = json_object_get(step_context(s), "pending");
	const char *next = json_str(json_array_get(pending, 0), "name");
	json_int_t init = json_integer_value(json_object_get(res->body, "initializing_shards"));
	json_int_t reloc = json_integer_value(json_object_get(res->body, "relocating_shards"));
	if (!states_healthy_enough(s, status)) {
		char *seen = xstrdup(status ? status : (res->message ? res->message : "no answer"));
		json_int_t unassigned =
			json_integer_value(json_object_get(res->body, "unassigned_shards"));
		int64_t wait_ms = states_health_wait_ms(s, res->status);
		states_call_finish(l);
		step_wait(s, wait_ms,
			  "health %s (%lld unassigned shards): waiting for %s before restarting %s",
			  seen, (long long)unassigned,
			  json_is_true(json_object_get(step_params(s), "allow_yellow"))
				  ? "yellow or green"
				  : "green",
			  next ? next : "the next pod");
		free(seen);
		return;
	}
	if (strcmp(status, "yellow") != 0) {
		check_elected(l);
		return;
	}
	/* Yellow, as ECK allows it (upgrade_predicates.go): nothing recovering,
	 * and every primary of the next node started elsewhere too. */
	if (init || reloc) {
		states_call_finish(l);
		step_wait(s, states_poll_ms(s),
			  "health yellow with %lld shards initializing and %lld relocating: "
			  "waiting for none before restarting %s",
			  (long long)init, (long long)reloc, next ? next : "the next pod");
		return;
	}
	l->ecall = es_cat_shards(l->es, restart_copies_cb, l);
}

/* Before each pod: the cluster healthy, and the elected master kept for last. */
void state_restart_check(struct step *s)
{
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	l->ecall = es_health(l->es, states_health_wanted(s), STATES_HEALTH_LONG_POLL, false,
			     restart_ready_cb, l);
}

void state_restart_pause(struct step *s)
{
	put_allocation(s, true);
}

static void flushed_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	bool ok = res->klass == HTTPC_OK;
	bool again = res->klass == HTTPC_TRANSIENT && step_attempt(s) < step_max_attempts(s);
	char *msg = xstrdup(res->message ? res->message : "");
	states_call_finish(l);
	/* A flush that fails costs recovery time, not data: tried again while
	 * attempts remain, then the restart goes on without it, and says so. */
	const char *pod =
		json_str(json_array_get(json_object_get(step_context(s), "pending"), 0), "name");
	if (ok)
		step_next(s);
	else if (again)
		step_retry(s, "flush before the restart failed: %s", msg);
	else
		step_next_noting(s,
				 "restarting %s unflushed after %d attempt%s (its shards recover "
				 "from the translog, more slowly): %s",
				 pod ? pod : "the pod", step_attempt(s),
				 step_attempt(s) > 1 ? "s" : "", msg);
	free(msg);
}

void state_restart_flush(struct step *s)
{
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	l->ecall = es_flush(l->es, flushed_cb, l);
}

static void pod_deleted_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	l->kcall = NULL;
	/* Gone already, or replaced already (uid differs): done either way. */
	bool done = res->klass == HTTPC_OK || res->status == 404 || res->status == 409;
	states_call_report(l, done, res->klass == HTTPC_TRANSIENT, res->message);
}

/*
 * The pod as it is now: deleted only when it is still the one planned
 * (its uid) and not terminating already.  A job taken over after esaasd
 * died between its DELETE and the step's outcome runs this state again:
 * the API server would take a second DELETE of the terminating pod (it
 * only ever shortens the grace), but the pod is deleted once.
 */
static void pod_before_delete_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	struct step *s = l->step;
	l->kcall = NULL;
	json_t *cur = json_array_get(json_object_get(step_context(s), "pending"), 0);
	const char *uid = json_str(cur, "uid");
	json_t *m = json_object_get(res->body, "metadata");
	if (res->status == 404 || (res->klass == HTTPC_OK && uid && json_str(m, "uid") &&
				   strcmp(json_str(m, "uid"), uid) != 0)) {
		states_call_finish(l);
		step_next_noting(s, "%s is gone or replaced already", json_str(cur, "name"));
		return;
	}
	if (res->klass == HTTPC_OK && json_str(m, "deletionTimestamp")) {
		states_call_finish(l);
		step_next_noting(s, "%s is terminating already", json_str(cur, "name"));
		return;
	}
	if (res->klass != HTTPC_OK) {
		states_call_report(l, false, res->klass == HTTPC_TRANSIENT, res->message);
		return;
	}
	char *path = xasprintf("/api/v1/namespaces/%s/pods/%s", l->r->ns, json_str(cur, "name"));
	l->kcall = kube_delete(l->env->kube, path, NULL, uid, pod_deleted_cb, l);
	free(path);
}

void state_restart_delete_pod(struct step *s)
{
	json_t *cur = json_array_get(json_object_get(step_context(s), "pending"), 0);
	struct state_call *l = states_call_new(s);
	if (!l)
		return;
	char *path = xasprintf("/api/v1/namespaces/%s/pods/%s", l->r->ns, json_str(cur, "name"));
	l->kcall = kube_get(l->env->kube, path, pod_before_delete_cb, l);
	free(path);
}

static void replacement_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	struct step *s = l->step;
	/* Listing again is always worth it: retry whatever the error. */
	if (!states_call_kube_ok(l, res))
		return;
	json_t *cur = json_array_get(json_object_get(step_context(s), "pending"), 0);
	const char *old_name = json_str(cur, "name");
	const char *old_uid = json_str(cur, "uid");
	const char *role = json_str(cur, "role");
	enum es_role r = strcmp(role, "master") == 0   ? ES_ROLE_MASTER
			 : strcmp(role, "client") == 0 ? ES_ROLE_CLIENT
						       : ES_ROLE_DATA;
	int want = l->r->spec.nodes[r].replicas;
	struct states_pod_tally t;
	states_tally_pods(json_object_get(res->body, "items"), true, old_uid, &t);
	int64_t wait_ms = states_wait_ms(l);
	states_call_finish(l);
	/* old_name and role point into the context, which the step keeps. */
	if (!t.old_present && t.ready >= want)
		step_next(s);
	else if (t.old_present)
		step_wait(s, wait_ms, "%s is still terminating", old_name);
	else
		step_wait(s, wait_ms, "%s not replaced yet: %d of %d %s pods ready%s%s", old_name,
			  t.ready, want, role, t.first_missing[0] ? "; " : "", t.first_missing);
}

void state_restart_wait_pod(struct step *s)
{
	json_t *cur = json_array_get(json_object_get(step_context(s), "pending"), 0);
	struct state_call *l = states_call_new(s);
	if (!l)
		return;
	const char *role = json_str(cur, "role");
	states_list_pods(l, role, replacement_cb, l);
}

static void joined_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	json_t *cur = json_array_get(json_object_get(step_context(s), "pending"), 0);
	char *node = render_node_name(json_str(cur, "name"), l->r->ns);
	bool joined = false;
	size_t i;
	json_t *n;
	if (res->klass == HTTPC_OK)
		json_array_foreach (res->body, i, n) {
			const char *name = json_str(n, "name");
			if (name && strcmp(name, node) == 0)
				joined = true;
		}
	char *msg =
		xstrdup(res->klass == HTTPC_OK ? "" : (res->message ? res->message : "no answer"));
	/* Its pod is ready (the wait before): unreachable, its endpoints lag. */
	int64_t wait_ms = msg[0] ? states_wait_endpoints_ms(l) : states_wait_ms(l);
	states_call_finish(l);
	if (joined)
		step_next(s);
	else if (msg[0])
		step_wait(s, wait_ms, "cannot list the cluster's nodes yet: %s", msg);
	else
		step_wait(s, wait_ms, "%s is ready but has not joined the cluster yet", node);
	free(msg);
	free(node);
}

/* The replacement is ready (it listens); it must also be a member again. */
void state_restart_wait_joined(struct step *s)
{
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	l->ecall = es_cat_nodes(l->es, joined_cb, l);
}

void state_restart_resume_allocation(struct step *s)
{
	put_allocation(s, false);
}

static void restart_green_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	const char *status = json_str(res->body, "status");
	json_int_t init = json_integer_value(json_object_get(res->body, "initializing_shards"));
	json_int_t reloc = json_integer_value(json_object_get(res->body, "relocating_shards"));
	/* Yellow is enough only once the copies of the node have stopped
	 * recovering (ECK waits for no initializing or relocating shard). */
	bool green = res->klass == HTTPC_OK && states_healthy_enough(s, status) &&
		     (strcmp(status, "green") == 0 || (init == 0 && reloc == 0));
	char *seen = xstrdup(status ? status : (res->message ? res->message : "no answer"));
	json_int_t unassigned = json_integer_value(json_object_get(res->body, "unassigned_shards"));
	int64_t wait_ms = states_health_wait_ms(s, res->status);
	states_call_finish(l);
	if (!green) {
		step_wait(s, wait_ms,
			  "waiting for %s after the restart: health %s, %lld unassigned, "
			  "%lld initializing, %lld relocating shards",
			  json_is_true(json_object_get(step_params(s), "allow_yellow"))
				  ? "green, or yellow with none initializing or relocating"
				  : "green",
			  seen, (long long)unassigned, (long long)init, (long long)reloc);
		free(seen);
		return;
	}
	free(seen);
	/* This pod is done: move it, then the next one. */
	json_t *ctx = step_context(s);
	json_t *pending = json_object_get(ctx, "pending");
	json_array_append(json_object_get(ctx, "restarted"), json_array_get(pending, 0));
	json_array_remove(pending, 0);
	step_next(s);
}

void state_restart_wait_green(struct step *s)
{
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	/* Yellow only once nothing recovers: Elasticsearch waits for that too. */
	const char *want = states_health_wanted(s);
	bool yellow = strcmp(want, "yellow") == 0;
	struct es_health_wait w = {.status = want,
				   .no_relocating = yellow,
				   .no_initializing = yellow,
				   .timeout = STATES_HEALTH_LONG_POLL};
	l->ecall = es_health_wait(l->es, &w, restart_green_cb, l);
}
