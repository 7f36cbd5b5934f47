/*
 * scale: the plan, the copies check, the masters' configuration, quorum
 * and voting exclusions, the allocation exclusion and the drain, the
 * workload's replicas and the wait for them, the record.
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
#include <time.h>

/*
 * params: {"spec": the cluster's spec, "role": "data"|"clients"|"masters",
 * "replicas": N, "force"?: true}.  The plan lands in context: role, from,
 * to, and when nodes leave, the Elasticsearch names of those that leave
 * (the highest ordinals, as a StatefulSet removes them).  Masters take the
 * path of their coordination: zen1 moves minimum_master_nodes, zen2 votes.
 */

/* The role a scale is about ("masters", "data", "clients"; the request
 * has checked it), from params or context. */
static enum es_role role_of(const char *name)
{
	enum es_role role = ES_ROLE_DATA;
	(void)spec_section_parse(name, &role);
	return role;
}

/* The job's spec with the role at context.to replicas: what the cluster becomes. */
static json_t *target_spec(struct step *s)
{
	json_t *ctx = step_context(s);
	json_t *spec = json_deep_copy(json_object_get(step_params(s), "spec"));
	const char *role = json_str(ctx, "role");
	json_t *section = json_object_get(spec, role);
	if (!json_is_object(section)) {
		section = json_object();
		json_object_set_new(spec, role, section);
	}
	json_object_set(section, "replicas", json_object_get(ctx, "to"));
	return spec;
}

enum scale_plan_way scale_plan_way(enum es_role role, int from, int to, bool zen1, bool force)
{
	if (from == to)
		return SCALE_PLAN_UNCHANGED;
	if (role == ES_ROLE_MASTER)
		return zen1 ? (to > from ? SCALE_PLAN_ZEN1_GROW : SCALE_PLAN_ZEN1_SHRINK)
			    : (to > from ? SCALE_PLAN_ZEN2_GROW : SCALE_PLAN_ZEN2_SHRINK);
	if (to > from)
		return SCALE_PLAN_UP;
	if (role == ES_ROLE_DATA)
		return force ? SCALE_PLAN_DATA_DOWN_FORCED : SCALE_PLAN_DATA_DOWN;
	return SCALE_PLAN_CLIENTS_DOWN;
}

/* The path of the role's workload (its StatefulSet or Deployment) in ns. */
static char *workload_path(const char *ns, enum es_role role)
{
	char *coll = kube_collection_path("apps/v1", render_workload_kind(role), ns);
	char *path = xasprintf("%s/%s", coll, render_workload_name(role));
	free(coll);
	return path;
}

/*
 * The plan starts from the live workload, never from the recorded spec: a
 * scale-up that failed, or a hand's kubectl scale, leaves the two apart.
 * "from" is the replica count of the workload's /scale subresource; the
 * leaving nodes are every ordinal from "to" up to it.  The answer lands in
 * context.live_replicas, and the plan runs again with it.
 */
static void plan_scale_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	l->kcall = NULL;
	struct step *s = l->step;
	enum es_role role = role_of(json_str(step_params(s), "role"));
	int live = l->r->spec.nodes[role].replicas;
	if (res->klass == HTTPC_OK) {
		json_t *want = json_object_get(json_object_get(res->body, "spec"), "replicas");
		live = json_is_integer(want) ? (int)json_integer_value(want) : 0;
	} else if (res->status != 404) {
		states_call_report(l, false, true, res->message);
		return;
	} /* none yet (clients at 0 in a spec from before): the recorded count */
	states_call_finish(l);
	json_object_set_new(step_context(s), "live_replicas", json_integer(live));
	state_scale_plan(s);
}

void state_scale_plan(struct step *s)
{
	json_t *ctx = step_context(s);
	json_t *p = step_params(s);
	enum es_role role = role_of(json_str(p, "role"));
	if (!json_is_integer(json_object_get(ctx, "live_replicas"))) {
		struct state_call *l = states_call_new(s);
		if (!l)
			return;
		char *path = workload_path(l->r->ns, role);
		char *scale = xasprintf("%s/scale", path);
		l->kcall = kube_get(l->env->kube, scale, plan_scale_cb, l);
		free(scale);
		free(path);
		return;
	}
	int from = (int)json_integer_value(json_object_get(ctx, "live_replicas"));
	json_object_del(ctx, "live_replicas"); /* read again by any later plan */
	struct wf_env *env;
	struct states_rendered *r = states_render_job(s, &env);
	if (!r)
		return;
	int to = (int)json_integer_value(json_object_get(p, "replicas"));
	bool zen1 = es_coordination(&r->spec.version) == ES_ZEN1;
	json_object_set_new(ctx, "role", json_string(spec_section_name(role)));
	json_object_set_new(ctx, "from", json_integer(from));
	json_object_set_new(ctx, "to", json_integer(to));
	json_t *leaving = json_array();
	if (role != ES_ROLE_CLIENT)
		for (int i = to; i < from; i++) {
			char *pod = xasprintf("%s-%d", render_workload_name(role), i);
			char *node = render_node_name(pod, r->ns);
			json_array_append_new(leaving, json_string(node));
			free(node);
			free(pod);
		}
	json_object_set_new(ctx, "leaving", leaving);
	json_object_del(ctx, "masters_target"); /* a replay plans the steps anew */
	states_rendered_free(r);
	step_branch(
		s, scale_plan_way(role, from, to, zen1, json_is_true(json_object_get(p, "force"))));
}

static void copies_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	if (res->klass != HTTPC_OK) {
		char *msg = xstrdup(res->message ? res->message : "no answer");
		bool transient = res->klass == HTTPC_TRANSIENT || res->status == 0;
		states_call_finish(l);
		if (transient)
			step_retry(s, "cannot read the indices' replica counts: %s", msg);
		else
			step_fail(s, "cannot read the indices' replica counts: %s", msg);
		free(msg);
		return;
	}
	int to = (int)json_integer_value(json_object_get(step_context(s), "to"));
	struct es_shard_copies worst;
	es_shard_copies_worst(res->body, &worst);
	states_call_finish(l);
	if (worst.copies > to)
		step_fail(s,
			  "index %s has %d replicas, so %d copies of each shard, which %d data "
			  "node%s cannot hold; lower its number_of_replicas first, or scale with "
			  "force to accept unassigned copies",
			  worst.index, worst.copies - 1, worst.copies, to, to == 1 ? "" : "s");
	else
		step_next(s);
}

/* Before a data scale-down: the nodes that stay can hold every shard copy. */
void state_check_copies(struct step *s)
{
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	l->ecall = es_request(l->es, "GET", ES_SHARD_COPIES_PATH, NULL, copies_cb, l);
}

/*
 * Masters move one at a time, as ECK does
 * (pkg/controller/elasticsearch/driver/stateful/downscale_invariants.go; on
 * the way up, one master created at a time), and drained data nodes leave
 * one at a time: each step takes context.from and context.to one apart
 * (and context.leaving the one node that goes), and the path's states run
 * for it.  The first entry keeps the plan's
 * target in context.masters_target; each later one starts where the last
 * step ended (context.to).  None left: context.to is the target.
 */
void state_masters_next(struct step *s)
{
	json_t *ctx = step_context(s);
	if (!json_is_integer(json_object_get(ctx, "masters_target"))) {
		json_object_set(ctx, "masters_target", json_object_get(ctx, "to"));
		json_object_set(ctx, "to", json_object_get(ctx, "from"));
	}
	int target = (int)json_integer_value(json_object_get(ctx, "masters_target"));
	int at = (int)json_integer_value(json_object_get(ctx, "to"));
	if (at == target) {
		step_branch(s, MASTERS_NEXT_NONE_LEFT);
		return;
	}
	int next = target > at ? at + 1 : at - 1;
	json_t *leaving = json_array();
	if (next < at) {
		struct wf_env *env;
		struct states_rendered *r = states_render_job(s, &env);
		if (!r) {
			json_decref(leaving);
			return;
		}
		char *pod = xasprintf("%s-%d", render_workload_name(role_of(json_str(ctx, "role"))),
				      next);
		char *node = render_node_name(pod, r->ns);
		json_array_append_new(leaving, json_string(node));
		free(node);
		free(pod);
		states_rendered_free(r);
	}
	json_object_set_new(ctx, "from", json_integer(at));
	json_object_set_new(ctx, "to", json_integer(next));
	json_object_set_new(ctx, "leaving", leaving);
	step_next(s);
}

/* Every role's elasticsearch.yml for the new count of masters (zen1's
 * minimum_master_nodes, zen2's initial masters), before any node moves. */
void state_scale_config(struct step *s)
{
	json_t *spec = target_spec(s);
	states_apply_kind_of(s, spec, "ConfigMap", NULL);
	json_decref(spec);
}

/* The quota for context.to nodes of the role: raised before they come. */
void state_scale_raise_quota(struct step *s)
{
	json_t *spec = target_spec(s);
	/* Recorded before the change: the cleanup lowers it again. */
	json_object_set_new(step_context(s), "quota_raised", json_true());
	states_raise_quota(s, spec);
	json_decref(spec);
}

/* The quota for context.to nodes of the role: fitted once they are there,
 * or once the leaving ones have gone. */
void state_scale_fit_quota(struct step *s)
{
	json_t *spec = target_spec(s);
	states_apply_kind_of(s, spec, "ResourceQuota", RENDER_QUOTA_NAME);
	json_decref(spec);
}

/*
 * es-http is the cluster's endpoint, for its users and for esaas: the
 * clients when there are any, else the data nodes (kube/render.c).  A
 * clients scale that crosses 0 applies it again for the target spec.
 */
static void http_service_for(struct step *s, bool to_zero)
{
	json_t *ctx = step_context(s);
	int from = (int)json_integer_value(json_object_get(ctx, "from"));
	int to = (int)json_integer_value(json_object_get(ctx, "to"));
	bool crosses = to_zero ? to == 0 && from > 0 : from == 0 && to > 0;
	if (role_of(json_str(ctx, "role")) != ES_ROLE_CLIENT || !crosses) {
		step_next(s); /* the endpoint stays where it is */
		return;
	}
	json_t *spec = target_spec(s);
	states_apply_kind_of(s, spec, "Service", RENDER_HTTP_SERVICE);
	json_decref(spec);
}

void state_http_to_data(struct step *s)
{
	http_service_for(s, true);
}

void state_http_to_clients(struct step *s)
{
	http_service_for(s, false);
}

/* The master-eligible nodes in a _cat/nodes answer ("m" in node.role). */
static int masters_in(json_t *rows)
{
	int n = 0;
	size_t i;
	json_t *row;
	json_array_foreach (rows, i, row) {
		const char *roles = json_str(row, "node.role");
		if (roles && strchr(roles, 'm'))
			n++;
	}
	return n;
}

static void put_quorum(struct state_call *l, int quorum)
{
	json_t *settings = json_pack("{s:i}", ES_MINIMUM_MASTER_NODES_KEY, quorum);
	l->clearing = false;
	l->ecall = es_put_settings(l->es, settings, states_settings_put_cb, l);
	json_decref(settings);
}

static void quorum_nodes_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	struct step *s = l->step;
	if (!states_call_es_ok(l, res, "cannot list the nodes yet"))
		return;
	int to = (int)json_integer_value(json_object_get(step_context(s), "to"));
	int quorum = es_minimum_master_nodes(to);
	int masters = masters_in(res->body);
	if (masters < to) {
		int64_t wait_ms = states_wait_ms(l);
		states_call_finish(l);
		step_wait(s, wait_ms,
			  "%d master nodes in _cat/nodes; waiting for %d to have joined before "
			  "raising discovery.zen.minimum_master_nodes to %d",
			  masters, to, quorum);
		return;
	}
	put_quorum(l, quorum);
}

/*
 * zen1: discovery.zen.minimum_master_nodes for context.to masters.  Raised
 * once the new masters have joined (_cat/nodes: Ready pods are not yet
 * members, and Elasticsearch refuses a value above the masters it has),
 * lowered before masters leave: never more than the masters present, or
 * the elected one would step down.
 */
void state_masters_quorum(struct step *s)
{
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	json_t *ctx = step_context(s);
	int from = (int)json_integer_value(json_object_get(ctx, "from"));
	int to = (int)json_integer_value(json_object_get(ctx, "to"));
	if (to > from) {
		l->ecall = es_cat_nodes(l->es, quorum_nodes_cb, l);
		return;
	}
	/* Recorded before the change: the cleanup restores the quorum for the
	 * masters then present. */
	json_object_set_new(ctx, "quorum_lowered", json_true());
	put_quorum(l, es_minimum_master_nodes(to));
}

static void restore_quorum_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	if (!states_call_es_ok(l, res, "cannot list the nodes yet"))
		return;
	int masters = masters_in(res->body);
	l->clear_flag = "quorum_lowered";
	put_quorum(l, es_minimum_master_nodes(masters > 0 ? masters : 1));
}

/* Cleanup: a quorum lowered for masters that may not have left goes back
 * to the majority of the masters present (_cat/nodes). */
void state_quorum_undo(struct step *s)
{
	if (!json_is_true(json_object_get(step_context(s), "quorum_lowered"))) {
		step_next(s); /* nothing of ours to undo */
		return;
	}
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	l->ecall = es_cat_nodes(l->es, restore_quorum_cb, l);
}

static void voting_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	bool clearing = l->clearing;
	struct step *s = l->step;
	if (clearing && res->klass == HTTPC_OK)
		json_object_set_new(step_context(s), "voting_excluded", json_false());
	/* Before 7.8 the exclusion names node filters, which match members
	 * only (elastic/elasticsearch#47990): a leaving master that is away
	 * (crash-looping, its host down) cannot be excluded, and must not go
	 * unexcluded.  Waited for, until it is back or the deadline. */
	if (!clearing && res->status == 400 && res->message &&
	    strstr(res->message, "matched no master-eligible nodes")) {
		const char *leaving = json_string_value(
			json_array_get(json_object_get(step_context(s), "leaving"), 0));
		states_call_finish(l);
		step_wait(
			s, states_poll_ms(s),
			"%s is not a member of the cluster now, and this version excludes members "
			"only (elastic/elasticsearch#47990): waiting for it to rejoin before "
			"excluding it",
			leaving ? leaving : "the leaving master");
		return;
	}
	states_call_report(l, res->klass == HTTPC_OK,
			   res->klass == HTTPC_TRANSIENT || res->status == 0, res->message);
}

/* zen2: the leaving masters out of the voting configuration before they go
 * (Elasticsearch answers once the configuration no longer counts them). */
void state_voting_exclude(struct step *s)
{
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	json_t *ctx = step_context(s);
	json_t *leaving = json_object_get(ctx, "leaving");
	size_t n = json_array_size(leaving);
	const char **names = xcalloc(n + 1, sizeof(*names));
	for (size_t i = 0; i < n; i++)
		names[i] = json_string_value(json_array_get(leaving, i));
	/* Recorded before the change: a cleanup after a crash must find it. */
	json_object_set_new(ctx, "voting_excluded", json_true());
	l->clearing = false;
	l->ecall = es_voting_exclude(l->es, names, n, voting_cb, l);
	free(names);
	if (!l->ecall)
		states_call_report(l, false, false, "this version has no voting exclusions");
}

/*
 * zen2: clear the exclusions.  In the workflow the excluded masters are
 * gone, so Elasticsearch may wait for their removal; in the cleanup they
 * may still be members, and the exclusions go all the same.
 */
void state_voting_clear(struct step *s)
{
	json_t *ctx = step_context(s);
	if (!json_is_true(json_object_get(ctx, "voting_excluded"))) {
		step_next(s); /* nothing of ours to undo */
		return;
	}
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	l->clearing = true;
	if (step_cleaning_up(s))
		l->ecall = es_request(l->es, "DELETE",
				      "/_cluster/voting_config_exclusions?wait_for_removal=false",
				      NULL, voting_cb, l);
	else
		l->ecall = es_voting_clear(l->es, voting_cb, l);
	if (!l->ecall)
		states_call_report(l, false, false, "this version has no voting exclusions");
}

#define EXCLUDE_NAME_KEY "cluster.routing.allocation.exclude._name"

static bool is_leaving(json_t *leaving, const char *node);

/*
 * The exclusion to set: the operator's own (context.exclusion_before, as
 * it was before this job) with the leaving nodes added; cleared, exactly
 * the operator's again, or nothing (null) when there was none.
 */
static json_t *exclusion_value(json_t *ctx, bool clear)
{
	const char *before = json_str(ctx, "exclusion_before");
	if (clear)
		return before && *before ? json_string(before) : json_null();
	size_t i, len = (before ? strlen(before) : 0) + 2;
	json_t *n;
	json_array_foreach (json_object_get(ctx, "leaving"), i, n)
		len += strlen(json_string_value(n)) + 1;
	char *csv = xcalloc(1, len);
	if (before)
		str_copy_trunc(csv, before, len);
	json_array_foreach (json_object_get(ctx, "leaving"), i, n) {
		const char *name = json_string_value(n);
		char *padded = xasprintf(",%s,", csv), *item = xasprintf(",%s,", name);
		bool there = strstr(padded, item) != NULL;
		free(item);
		free(padded);
		if (there)
			continue;
		if (*csv)
			str_copy_trunc(csv + strlen(csv), ",", len - strlen(csv));
		str_copy_trunc(csv + strlen(csv), name, len - strlen(csv));
	}
	json_t *v = json_string(csv);
	free(csv);
	return v;
}

/* Set (or clear) cluster.routing.allocation.exclude._name. */
static void put_exclusion(struct step *s, bool clear)
{
	json_t *ctx = step_context(s);
	if (clear && !json_is_true(json_object_get(ctx, "excluded"))) {
		step_next(s); /* nothing of ours to undo */
		return;
	}
	struct state_call *l = states_call_new(s);
	if (!l)
		return;
	/* Recorded before the change: a cleanup after a crash must find it. */
	if (!clear)
		json_object_set_new(ctx, "excluded", json_true());
	l->clear_flag = clear ? "excluded" : NULL;
	states_call_connect(l, RENDER_HTTP_SERVICE);
	json_t *settings = json_object();
	/* Cleared: the operator's own value back exactly, or none (on 2.x, which
	 * resets nothing with null, the value from before). */
	json_t *v = exclusion_value(ctx, clear);
	if (clear && json_is_null(v)) {
		json_decref(v);
		v = states_undo_value(s, &l->r->spec, EXCLUDE_NAME_KEY);
	}
	json_object_set_new(settings, EXCLUDE_NAME_KEY, v);
	if (!clear)
		states_put_settings_over_transient(l, settings);
	else
		l->ecall = es_put_settings(l->es, settings, states_settings_put_cb, l);
	json_decref(settings);
}

/* The operator's own exclusion, kept before ours is added (once: a run
 * after a crash finds it recorded, and ours may be in the live value). */
static void exclude_settings_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	struct step *s = l->step;
	if (!states_call_es_ok(l, res, "cannot read the cluster settings yet"))
		return;
	json_t *ctx = step_context(s);
	if (!json_object_get(ctx, "exclusion_before")) {
		json_t *v =
			json_object_get(json_object_get(res->body, "transient"), EXCLUDE_NAME_KEY);
		if (!json_is_string(v))
			v = json_object_get(json_object_get(res->body, "persistent"),
					    EXCLUDE_NAME_KEY);
		json_object_set_new(ctx, "exclusion_before",
				    json_is_string(v) ? json_string(json_string_value(v))
						      : json_null());
	}
	states_call_finish(l);
	put_exclusion(s, false);
}

static void exclude_members_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	struct step *s = l->step;
	if (!states_call_es_ok(l, res, "cannot list the nodes yet"))
		return;
	json_t *leaving = json_object_get(step_context(s), "leaving");
	char missing[256] = "";
	int nmissing = 0;
	size_t i, j;
	json_t *name, *row;
	json_array_foreach (leaving, i, name) {
		bool member = false;
		json_array_foreach (res->body, j, row) {
			const char *n = json_str(row, "name");
			if (n && strcmp(n, json_string_value(name)) == 0)
				member = true;
		}
		if (!member && nmissing++ < 4)
			snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing),
				 "%s%s", nmissing > 1 ? ", " : "", json_string_value(name));
	}
	if (nmissing) {
		states_call_finish(l);
		step_wait(s, states_poll_ms(s),
			  "%d of the %zu leaving nodes not in _cat/nodes (%s); waiting for them to "
			  "be members, so that the drain moves their shards off",
			  nmissing, json_array_size(leaving), missing);
		return;
	}
	l->ecall = es_get_settings(l->es, exclude_settings_cb, l);
}

static void exclude_health_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	struct step *s = l->step;
	if (!states_call_es_ok(l, res, "cannot read the health yet"))
		return;
	const char *status = json_str(res->body, "status");
	if (!states_healthy_enough(s, status)) {
		char *seen = xasprintf(
			"health %s (%lld unassigned, %lld initializing, %lld relocating shards)",
			status ? status : "unknown",
			(long long)json_integer_value(
				json_object_get(res->body, "unassigned_shards")),
			(long long)json_integer_value(
				json_object_get(res->body, "initializing_shards")),
			(long long)json_integer_value(
				json_object_get(res->body, "relocating_shards")));
		states_call_finish(l);
		step_wait(s, states_poll_ms(s),
			  "%s; waiting for green before excluding the leaving nodes", seen);
		free(seen);
		return;
	}
	l->ecall = es_cat_nodes(l->es, exclude_members_cb, l);
}

/*
 * Before the exclusion: health green (yellow when forced), and every
 * leaving node a member.  A drain started while copies are missing would
 * count them nowhere, and one that excludes a node not yet joined would
 * find nothing to move and let its shards come later to a node that goes.
 */
void state_exclude_nodes(struct step *s)
{
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	l->ecall = es_health(l->es, NULL, NULL, false, exclude_health_cb, l);
}

static void cleared_members_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	struct step *s = l->step;
	if (!states_call_es_ok(l, res, "cannot list the nodes yet"))
		return;
	json_t *leaving = json_object_get(step_context(s), "leaving");
	const char *still = NULL;
	int nstill = 0;
	size_t i;
	json_t *row;
	json_array_foreach (res->body, i, row) {
		const char *n = json_str(row, "name");
		if (n && is_leaving(leaving, n) && nstill++ == 0)
			still = n;
	}
	char *first = xstrdup(still ? still : "");
	states_call_finish(l);
	if (nstill)
		step_wait(s, states_poll_ms(s),
			  "%d leaving node%s still in _cat/nodes (%s); waiting for them to be gone "
			  "before lifting the exclusion, or shards would come back to them",
			  nstill, nstill == 1 ? "" : "s", first);
	else
		put_exclusion(s, true);
	free(first);
}

/*
 * In the workflow, the exclusion is lifted once the leaving nodes have
 * left the cluster (_cat/nodes): pods on their way out are still members
 * for their grace period.  In the cleanup it goes at once.
 */
void state_clear_exclusion(struct step *s)
{
	json_t *ctx = step_context(s);
	if (step_cleaning_up(s) || !json_is_true(json_object_get(ctx, "excluded")) ||
	    json_array_size(json_object_get(ctx, "leaving")) == 0) {
		put_exclusion(s, true);
		return;
	}
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	l->ecall = es_cat_nodes(l->es, cleared_members_cb, l);
}

static bool is_leaving(json_t *leaving, const char *node)
{
	size_t i;
	json_t *n;
	json_array_foreach (leaving, i, n)
		if (node && strcmp(json_string_value(n), node) == 0)
			return true;
	return false;
}

static void shards_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	struct step *s = l->step;
	if (!states_call_es_ok(l, res, "shards not readable yet"))
		return;
	json_t *leaving = json_object_get(step_context(s), "leaving");
	bool force = json_is_true(json_object_get(step_params(s), "force"));
	int on_leaving = 0, relocating = 0;
	/* Forced: copies that have nowhere to go may stay, but no shard may
	 * keep its only started copies on the nodes that leave. */
	json_t *elsewhere = json_object(); /* "index/shard" -> a started copy stays */
	json_t *stranded = json_object();  /* "index/shard" -> a copy on a leaving node */
	size_t i;
	json_t *sh;
	json_array_foreach (res->body, i, sh) {
		const char *node = json_str(sh, "node");
		const char *state = json_str(sh, "state");
		char *key = xasprintf("%s/%s", json_str(sh, "index"), json_str(sh, "shard"));
		if (node && state && strcmp(state, "STARTED") == 0 && !is_leaving(leaving, node))
			json_object_set_new(elsewhere, key, json_true());
		else if (node && is_leaving(leaving, node))
			json_object_set_new(stranded, key, json_true());
		free(key);
	}
	int unsafe = 0;
	const char *key;
	json_t *v;
	json_object_foreach (stranded, key, v)
		if (!json_object_get(elsewhere, key))
			unsafe++;
	json_decref(elsewhere);
	json_decref(stranded);
	json_array_foreach (res->body, i, sh) {
		const char *node = json_str(sh, "node");
		const char *state = json_str(sh, "state");
		if (state && strcmp(state, "RELOCATING") == 0)
			relocating++;
		/* A relocating copy names "from -> ...": its source still holds it. */
		if (node) {
			const char *arrow = strstr(node, " -> ");
			char *src = arrow ? xstrndup(node, (size_t)(arrow - node)) : xstrdup(node);
			if (is_leaving(leaving, src))
				on_leaving++;
			free(src);
		}
	}
	int unassigned = 0, initializing = 0;
	json_array_foreach (res->body, i, sh) {
		const char *state = json_str(sh, "state");
		if (state && strcmp(state, "UNASSIGNED") == 0)
			unassigned++;
		else if (state && strcmp(state, "INITIALIZING") == 0)
			initializing++;
	}
	size_t copies = json_array_size(res->body);
	/* Not drained while a copy is missing or on its way: a node that left
	 * for a moment, a replica recovering, is not yet where it will stay.
	 * Forced, copies with nowhere to go may stay unassigned. */
	bool settled = relocating == 0 && initializing == 0 && (force || unassigned == 0);
	if (settled && (on_leaving == 0 || (force && unsafe == 0))) {
		states_call_finish(l);
		step_next(s);
	} else if (force) {
		states_drain_wait(l, xasprintf("of %zu shard copies: %d shards have their only "
					       "started copies on the nodes leaving, %d "
					       "relocating, %d initializing",
					       copies, unsafe, relocating, initializing));
	} else {
		states_drain_wait(l, xasprintf("of %zu shard copies: %d still on the nodes "
					       "leaving, %d relocating, %d initializing, %d "
					       "unassigned; waiting for none on the leaving nodes "
					       "and every copy started",
					       copies, on_leaving, relocating, initializing,
					       unassigned));
	}
}

void state_wait_drained(struct step *s)
{
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	l->ecall = es_cat_shards(l->es, shards_cb, l);
}

static void scaled_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	l->kcall = NULL;
	states_call_report(l, res->klass == HTTPC_OK, res->klass == HTTPC_TRANSIENT, res->message);
}

void state_scale_workload(struct step *s)
{
	struct state_call *l = states_call_new(s);
	if (!l)
		return;
	json_t *ctx = step_context(s);
	enum es_role role = role_of(json_str(ctx, "role"));
	int from = (int)json_integer_value(json_object_get(ctx, "from"));
	int to = (int)json_integer_value(json_object_get(ctx, "to"));
	/* Recorded before the change: a cleanup after a crash must find it.
	 * Not for zen2 masters: those that joined are in the voting
	 * configuration, and cannot all leave at once. */
	if (to > from && strcmp(step_state(s), "zen2_grow_scale") != 0)
		json_object_set_new(ctx, "scaled_up", json_true());
	char *path = workload_path(l->r->ns, role);
	l->kcall = kube_scale(l->env->kube, path, to, scaled_cb, l);
	free(path);
}

static void unscaled_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	l->kcall = NULL;
	if (res->klass == HTTPC_OK)
		json_object_set_new(step_context(l->step), "scaled_up", json_false());
	states_call_report(l, res->klass == HTTPC_OK, res->klass == HTTPC_TRANSIENT, res->message);
}

/* The ordinal of a pod of the role's workload ("es-data-3" -> 3), or -1. */
static int pod_ordinal(json_t *pod, enum es_role role)
{
	const char *name = json_str(json_object_get(pod, "metadata"), "name");
	const char *base = render_workload_name(role);
	size_t n = strlen(base);
	if (!name || strncmp(name, base, n) != 0 || name[n] != '-')
		return -1;
	char *end;
	long v = strtol(name + n + 1, &end, 10);
	return *end || v < 0 || v > 100000 ? -1 : (int)v;
}

static bool pod_is_ready(json_t *pod)
{
	size_t i;
	json_t *c;
	json_array_foreach (json_object_get(json_object_get(pod, "status"), "conditions"), i, c)
		if (strcmp(json_str(c, "type") ? json_str(c, "type") : "", "Ready") == 0)
			return strcmp(json_str(c, "status") ? json_str(c, "status") : "", "True") ==
			       0;
	return false;
}

static void undo_pods_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	struct step *s = l->step;
	if (!states_call_kube_ok(l, res))
		return;
	json_t *ctx = step_context(s);
	enum es_role role = role_of(json_str(ctx, "role"));
	int from = (int)json_integer_value(json_object_get(ctx, "from"));
	int to = (int)json_integer_value(json_object_get(ctx, "to"));
	/* Data nodes that did become Ready may have been given shards: those
	 * from "from" up, without a gap, stay (a later scale-down drains them,
	 * planned from the live count); the first that is not Ready, and every
	 * one above it, goes. */
	int back = from;
	bool more = role == ES_ROLE_DATA;
	while (more && back < to) {
		more = false;
		size_t i;
		json_t *pod;
		json_array_foreach (json_object_get(res->body, "items"), i, pod)
			if (pod_ordinal(pod, role) == back && pod_is_ready(pod))
				more = true;
		if (more)
			back++;
	}
	if (back > from) {
		/* Kept, so recorded: the cluster's spec says what runs when the job
		 * ends, failed or cancelled (storage_jobrun_transition()). */
		json_t *spec = json_deep_copy(json_object_get(step_params(s), "spec"));
		json_t *section = json_object_get(spec, spec_section_name(role));
		if (json_is_object(section)) {
			json_object_set_new(section, "replicas", json_integer(back));
			json_object_set_new(ctx, "spec", spec);
			if (!json_object_get(ctx, "observed"))
				json_object_set_new(ctx, "observed",
						    json_pack("{s:s}", "phase", "ready"));
		} else {
			json_decref(spec);
		}
	}
	char *path = workload_path(l->r->ns, role);
	json_object_set_new(ctx, "scaled_back_to", json_integer(back));
	l->kcall = kube_scale(l->env->kube, path, back, unscaled_cb, l);
	free(path);
}

/*
 * Cleanup: a scale-up that failed or was cancelled goes back to the count
 * the workload had.  Pods that never became Ready hold no data; data pods
 * that did are kept (see undo_pods_cb).
 */
void state_scale_undo(struct step *s)
{
	json_t *ctx = step_context(s);
	if (!json_is_true(json_object_get(ctx, "scaled_up"))) {
		step_next(s); /* nothing of ours to undo */
		return;
	}
	struct state_call *l = states_call_new(s);
	if (!l)
		return;
	enum es_role role = role_of(json_str(ctx, "role"));
	states_list_pods(l, es_role_name(role), undo_pods_cb, l);
}

/* Cleanup: a quota this job raised goes back to the recorded spec's. */
void state_scale_undo_quota(struct step *s)
{
	json_t *ctx = step_context(s);
	if (!json_is_true(json_object_get(ctx, "quota_raised"))) {
		step_next(s); /* nothing of ours to undo */
		return;
	}
	/* For the count the workload went back to: the recorded one, or more
	 * when Ready data nodes were kept. */
	json_t *back = json_object_get(ctx, "scaled_back_to");
	json_t *spec = json_deep_copy(json_object_get(step_params(s), "spec"));
	json_t *section = json_object_get(spec, json_str(ctx, "role"));
	if (json_is_integer(back) && json_is_object(section))
		json_object_set(section, "replicas", back);
	states_apply_kind_of(s, spec, "ResourceQuota", RENDER_QUOTA_NAME);
	json_decref(spec);
}

/* kubernetes.unschedulable_timeout_seconds */
static int unschedulable_limit_s(const struct wf_env *env)
{
	return env && env->cfg && env->cfg->kube_unschedulable_timeout_s > 0
		       ? env->cfg->kube_unschedulable_timeout_s
		       : 300;
}

/*
 * The first pod (not on its way out) that the scheduler could not place:
 * "<pod> unschedulable: <its PodScheduled=False condition's message>".
 */
static bool unschedulable_pod(json_t *items, char *out, size_t len)
{
	size_t i, j;
	json_t *pod, *c;
	json_array_foreach (items, i, pod) {
		json_t *meta = json_object_get(pod, "metadata");
		if (json_object_get(meta, "deletionTimestamp"))
			continue;
		json_array_foreach (json_object_get(json_object_get(pod, "status"), "conditions"),
				    j, c) {
			const char *type = json_str(c, "type");
			const char *st = json_str(c, "status");
			const char *reason = json_str(c, "reason");
			if (type && strcmp(type, "PodScheduled") == 0 && st &&
			    strcmp(st, "False") == 0 && reason &&
			    strcmp(reason, "Unschedulable") == 0) {
				const char *msg = json_str(c, "message");
				const char *name = json_str(meta, "name");
				snprintf(out, len, "%s unschedulable: %s", name ? name : "a pod",
					 msg ? msg : "no reason given");
				return true;
			}
		}
	}
	return false;
}

static void role_pods_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	struct step *s = l->step;
	/* Listing again is always worth it: retry whatever the error. */
	if (!states_call_kube_ok(l, res))
		return;
	json_t *ctx = step_context(s);
	int want = (int)json_integer_value(json_object_get(ctx, "to"));
	json_t *items = json_object_get(res->body, "items");
	struct states_pod_tally t;
	states_tally_pods(items, true, NULL, &t);
	char pending[512];
	int limit = unschedulable_limit_s(l->env);
	bool unschedulable = unschedulable_pod(items, pending, sizeof(pending));
	if (!unschedulable && t.pods < want) {
		/* Some were never made: the workload's events say why. */
		json_object_del(ctx, "unschedulable_since");
		char *observed = xasprintf("%d pods, %d ready, want %d%s%s", t.pods, t.ready, want,
					   t.first_missing[0] ? "; " : "", t.first_missing);
		states_explain_missing_pods(l, observed);
		free(observed);
		return;
	}
	int64_t wait_ms = states_wait_ms(l);
	states_call_finish(l);
	if (t.pods == want && t.ready == want) {
		/* Ready, they may hold shards now: no longer undone by scaling back. */
		json_object_del(ctx, "pods_wait_since");
		json_object_del(ctx, "unschedulable_since");
		json_object_set_new(ctx, "scaled_up", json_false());
		json_object_set_new(ctx, "quota_raised", json_false());
		states_wait_joined(s); /* and joined, not only ready */
		return;
	}
	if (!unschedulable) {
		json_object_del(ctx, "unschedulable_since");
		step_wait(s, wait_ms, "%d pods, %d ready, want %d%s%s", t.pods, t.ready, want,
			  t.first_missing[0] ? "; " : "", t.first_missing);
		return;
	}
	/* A pod the scheduler cannot place: waited on for a bounded time, with
	 * the scheduler's reason, then the job fails and its cleanup runs. */
	int64_t now = (int64_t)time(NULL);
	json_t *since = json_object_get(ctx, "unschedulable_since");
	if (!json_is_integer(since)) {
		json_object_set_new(ctx, "unschedulable_since", json_integer(now));
		since = json_object_get(ctx, "unschedulable_since");
	}
	int64_t waited = now - (int64_t)json_integer_value(since);
	if (waited >= limit)
		step_fail(s,
			  "%s for %llds (kubernetes.unschedulable_timeout_seconds: %d): %d pods, "
			  "%d ready, want %d",
			  pending, (long long)waited, limit, t.pods, t.ready, want);
	else
		step_wait(s, wait_ms, "%d pods, %d ready, want %d; %s for %llds, failing after %ds",
			  t.pods, t.ready, want, pending, (long long)waited, limit);
}

void state_wait_scaled(struct step *s)
{
	struct state_call *l = states_call_new(s);
	if (!l)
		return;
	enum es_role role = role_of(json_str(step_context(s), "role"));
	states_list_pods(l, es_role_name(role), role_pods_cb, l);
}

/* The new spec becomes the cluster's when the job ends. */
void state_record_scaled(struct step *s)
{
	json_t *ctx = step_context(s);
	json_object_set_new(ctx, "spec", target_spec(s));
	json_t *observed = json_object_get(ctx, "observed");
	if (!observed)
		json_object_set_new(ctx, "observed", json_pack("{s:s}", "phase", "ready"));
	step_next(s);
}
