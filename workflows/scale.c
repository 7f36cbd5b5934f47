/*
 * scale: more or fewer masters, data or client nodes.
 *
 *   plan ─┬─ data down: check the remaining nodes can hold every shard copy
 *         │  (unless forced) → exclude the leaving nodes → wait until they
 *         │  hold no shard and nothing relocates → remove them one at a
 *         │  time, each gone before the next ─────────────────────┐
 *         ├─ clients down: to 0, es-http to the ┐                  │
 *         │  data nodes first                    │                  │
 *         ├─ data or clients up: quota raised,   │                  │
 *         │  volumes for every host ─────────────┴→ scale the       │
 *         │  workload → wait for exactly that many ready pods ──────┴→
 *         │  es-http back to the clients when they come back from 0
 *         │  → quota fitted to the new count → clear the exclusion
 *         ├─ masters: one of the four paths below ─┐
 *         └─ no change ────────────────────────────┴→ health green
 *   → the new spec recorded
 *
 * Masters end at an odd count, move one at a time (ECK's
 * downscale_invariants.go), and keep their quorum safe at every moment:
 *   zen1 growing    elasticsearch.yml → quota raised → volumes, then for
 *                   each new master: scale by one → joined
 *                   → minimum_master_nodes raised
 *   zen1 shrinking  elasticsearch.yml, then for each leaving master:
 *                   minimum_master_nodes lowered → scale by one → gone;
 *                   then the quota lowered
 *   zen2 growing    elasticsearch.yml → quota raised → volumes, then for
 *                   each new master: scale by one → joined (it votes by
 *                   itself)
 *   zen2 shrinking  elasticsearch.yml, then for each leaving master: its
 *                   voting exclusion → scale by one → gone, out of
 *                   _cat/nodes → exclusion cleared; then the quota lowered
 * Each path is spelled out in the table, one state per step, with a "next"
 * state that picks the step and leaves the loop when none is left.
 *
 * The namespace's quota (kube/render.h) is raised before new pods come and
 * lowered once the leaving ones have gone, so it never refuses a pod the
 * scale adds, and never allows more than the spec once the scale is done.
 *
 * What a scale changes in the cluster's settings (allocation exclusion,
 * voting exclusions) is recorded in the context before it is set, and the
 * cleanup chain undoes it on failure or cancel.
 *
 * A pause stops a scale only where a step has settled and nothing is held
 * (pause_safe): on its way into a masters path's "next" (each master
 * joined or gone, its quorum or voting exclusion settled) and into the
 * last wait_green (exclusion cleared, pods ready).  A data scale-down
 * never pauses while its nodes are excluded or draining.
 */
#include "workflows/workflows.h"
#include "common/json.h"
#include "workflows/request.h"
#include "states/states.h"
#include "common/util.h"
#include "es/client.h"
#include "es/disk.h"
#include "kube/render.h"
#include "kube/spec.h"

#include <stdlib.h>
#include <string.h>

/* clang-format off */
static const struct wf_state scale_states[] = {
	/* Every way on from the plan is a branch: which depends on the role,
	 * the direction, the coordination and "force". */
	{.name = "plan", .run = state_scale_plan, .deadline_s = 60, .replay_safe = true,
	 WF_BRANCHES([SCALE_PLAN_UNCHANGED] = {"unchanged", "wait_green"},
		     [SCALE_PLAN_DATA_DOWN] = {"data down", "check_copies"},
		     [SCALE_PLAN_DATA_DOWN_FORCED] = {"data down, forced", "exclude_nodes"},
		     [SCALE_PLAN_UP] = {"up", "raise_quota"},
		     [SCALE_PLAN_CLIENTS_DOWN] = {"clients down", "http_to_data"},
		     [SCALE_PLAN_ZEN1_GROW] = {"zen1 masters up", "zen1_grow_config"},
		     [SCALE_PLAN_ZEN1_SHRINK] = {"zen1 masters down", "zen1_shrink_config"},
		     [SCALE_PLAN_ZEN2_GROW] = {"zen2 masters up", "zen2_grow_config"},
		     [SCALE_PLAN_ZEN2_SHRINK] = {"zen2 masters down", "zen2_shrink_config"})},
	{.name = "check_copies", .run = state_check_copies, .deadline_s = 120,
	 .next = "exclude_nodes", .replay_safe = true},
	{.name = "exclude_nodes", .run = state_exclude_nodes, .deadline_s = 120,
	 .next = "wait_drained", .replay_safe = true},
	/* Not replay-safe: they need the exclusion the cleanup lifted (replay from
	 * plan); raise_quota, on the way up only, leads into scale_workload too. */
	{.name = "wait_drained", .run = state_wait_drained, .deadline_s = 3600,
	 .next = "data_down_next"},
	/* Drained data nodes leave one at a time, each gone from _cat/nodes
	 * before the next goes (state_masters_next picks it), so that a
	 * scale-down never takes two nodes at once, whatever left them there
	 * (a scale-up that failed or was cancelled keeps its Ready nodes). */
	{.name = "data_down_next", .run = state_masters_next, .deadline_s = 60,
	 .next = "data_down_scale",
	 WF_BRANCHES([MASTERS_NEXT_NONE_LEFT] = {"none left", "http_to_clients"})},
	{.name = "data_down_scale", .run = state_scale_workload, .deadline_s = 120,
	 .next = "data_down_wait"},
	{.name = "data_down_wait", .run = state_wait_scaled, .deadline_s = 900,
	 .next = "data_down_next"},
	{.name = "raise_quota", .run = state_scale_raise_quota, .deadline_s = 120,
	 .next = "grow_volumes"},
	/* Hosts added since the create get their volumes before a pod needs one. */
	{.name = "grow_volumes", .run = state_apply_volumes, .deadline_s = 120,
	 .next = "scale_workload"},
	/* Clients going to 0: es-http to the data nodes before they go. */
	{.name = "http_to_data", .run = state_http_to_data, .deadline_s = 120,
	 .next = "scale_workload", .replay_safe = true},
	{.name = "scale_workload", .run = state_scale_workload, .deadline_s = 120,
	 .next = "wait_scaled"},
	{.name = "wait_scaled", .run = state_wait_scaled, .deadline_s = 900,
	 .next = "http_to_clients", .replay_safe = true},
	/* Clients back from 0, Ready: es-http to them again. */
	{.name = "http_to_clients", .run = state_http_to_clients, .deadline_s = 120,
	 .next = "fit_quota", .replay_safe = true},
	{.name = "fit_quota", .run = state_scale_fit_quota, .deadline_s = 120,
	 .next = "clear_exclusion", .replay_safe = true},
	{.name = "clear_exclusion", .run = state_clear_exclusion, .deadline_s = 120,
	 .next = "wait_green", .replay_safe = true},
	/* Masters, one at a time (state_masters_next): each path's "next" picks
	 * the step, its states run for it and lead back to "next".  The config,
	 * the quota and the volumes are for the final count, set once. */
	/* masters, zen1, growing: a master comes, then the quorum rises */
	{.name = "zen1_grow_config", .run = state_scale_config, .deadline_s = 120,
	 .next = "zen1_grow_quota", .replay_safe = true},
	{.name = "zen1_grow_quota", .run = state_scale_raise_quota, .deadline_s = 120,
	 .next = "zen1_grow_volumes", .replay_safe = true},
	{.name = "zen1_grow_volumes", .run = state_apply_volumes, .deadline_s = 120,
	 .next = "zen1_grow_next", .replay_safe = true},
	{.name = "zen1_grow_next", .run = state_masters_next, .deadline_s = 60, .pause_safe = true,
	 .next = "zen1_grow_scale",
	 WF_BRANCHES([MASTERS_NEXT_NONE_LEFT] = {"none left", "wait_green"})},
	{.name = "zen1_grow_scale", .run = state_scale_workload, .deadline_s = 120,
	 .next = "zen1_grow_wait"},
	{.name = "zen1_grow_wait", .run = state_wait_scaled, .deadline_s = 900,
	 .next = "zen1_grow_quorum"},
	/* Only after the wait has seen the new master there. */
	{.name = "zen1_grow_quorum", .run = state_masters_quorum, .deadline_s = 120,
	 .next = "zen1_grow_next"},
	/* masters, zen1, shrinking: the quorum falls, then a master goes */
	{.name = "zen1_shrink_config", .run = state_scale_config, .deadline_s = 120,
	 .next = "zen1_shrink_next", .replay_safe = true},
	{.name = "zen1_shrink_next", .run = state_masters_next, .deadline_s = 60, .pause_safe = true,
	 .next = "zen1_shrink_quorum",
	 WF_BRANCHES([MASTERS_NEXT_NONE_LEFT] = {"none left", "zen1_shrink_quota"})},
	{.name = "zen1_shrink_quorum", .run = state_masters_quorum, .deadline_s = 120,
	 .next = "zen1_shrink_scale"},
	{.name = "zen1_shrink_scale", .run = state_scale_workload, .deadline_s = 120,
	 .next = "zen1_shrink_wait"},
	{.name = "zen1_shrink_wait", .run = state_wait_scaled, .deadline_s = 900,
	 .next = "zen1_shrink_next"},
	{.name = "zen1_shrink_quota", .run = state_scale_fit_quota, .deadline_s = 120,
	 .next = "wait_green", .replay_safe = true},
	/* masters, zen2, growing: a new master joins the voting configuration */
	{.name = "zen2_grow_config", .run = state_scale_config, .deadline_s = 120,
	 .next = "zen2_grow_quota", .replay_safe = true},
	{.name = "zen2_grow_quota", .run = state_scale_raise_quota, .deadline_s = 120,
	 .next = "zen2_grow_volumes", .replay_safe = true},
	{.name = "zen2_grow_volumes", .run = state_apply_volumes, .deadline_s = 120,
	 .next = "zen2_grow_next", .replay_safe = true},
	{.name = "zen2_grow_next", .run = state_masters_next, .deadline_s = 60, .pause_safe = true,
	 .next = "zen2_grow_scale",
	 WF_BRANCHES([MASTERS_NEXT_NONE_LEFT] = {"none left", "wait_green"})},
	{.name = "zen2_grow_scale", .run = state_scale_workload, .deadline_s = 120,
	 .next = "zen2_grow_wait"},
	{.name = "zen2_grow_wait", .run = state_wait_scaled, .deadline_s = 900,
	 .next = "zen2_grow_next"},
	/* masters, zen2, shrinking: out of the voting configuration, gone, and
	 * out of _cat/nodes before the exclusion is cleared */
	{.name = "zen2_shrink_config", .run = state_scale_config, .deadline_s = 120,
	 .next = "zen2_shrink_next", .replay_safe = true},
	{.name = "zen2_shrink_next", .run = state_masters_next, .deadline_s = 60, .pause_safe = true,
	 .next = "zen2_shrink_exclude",
	 WF_BRANCHES([MASTERS_NEXT_NONE_LEFT] = {"none left", "zen2_shrink_quota"})},
	{.name = "zen2_shrink_exclude", .run = state_voting_exclude, .deadline_s = 120,
	 .next = "zen2_shrink_scale"},
	{.name = "zen2_shrink_scale", .run = state_scale_workload, .deadline_s = 120,
	 .next = "zen2_shrink_wait"},
	{.name = "zen2_shrink_wait", .run = state_wait_scaled, .deadline_s = 900,
	 .next = "zen2_shrink_clear"},
	{.name = "zen2_shrink_clear", .run = state_voting_clear, .deadline_s = 120,
	 .next = "zen2_shrink_next"},
	{.name = "zen2_shrink_quota", .run = state_scale_fit_quota, .deadline_s = 120,
	 .next = "wait_green", .replay_safe = true},
	/* every path */
	{.name = "wait_green", .run = state_wait_green, .deadline_s = 900,
	 .next = "record_scaled", .replay_safe = true, .pause_safe = true},
	{.name = "record_scaled", .run = state_record_scaled, .deadline_s = 60,
	 .replay_safe = true},
	/* cleanup, after a failure or a cancel: a scale-up whose pods were not
	 * all ready goes back to the count it had, and its quota with it */
	{.name = "undo_scale", .run = state_scale_undo, .deadline_s = 300,
	 .next = "undo_quota"},
	{.name = "undo_quota", .run = state_scale_undo_quota, .deadline_s = 300,
	 .next = "undo_exclusion"},
	{.name = "undo_exclusion", .run = state_clear_exclusion, .deadline_s = 300,
	 .next = "undo_quorum"},
	{.name = "undo_quorum", .run = state_quorum_undo, .deadline_s = 300,
	 .next = "undo_voting"},
	{.name = "undo_voting", .run = state_voting_clear, .deadline_s = 300},
};
/* clang-format on */

/* --- the request ------------------------------------------------------------------ */

/*
 * {"role": "data" | "clients" | "masters", "replicas": N, "force"?: bool}.
 * Masters stay odd.  A data scale-down that would leave fewer data nodes
 * than some index has copies of a shard is refused, unless forced.
 */
static bool scale_request(const struct wf_request *rq, json_t **params, struct wf_refusal *why)
{
	static const char *const fields[] = {"role", "replicas", "force", NULL};
	json_t *body = rq->body;

	if (!wf_request_fields(body, fields, why))
		return false;
	const char *role = json_str(body, "role");
	json_t *replicas = json_object_get(body, "replicas");
	json_t *force = json_object_get(body, "force");
	enum es_role section;
	if (!spec_section_parse(role, &section))
		return wf_refuse(why, 422, "invalid", "role",
				 "role must be data, clients or masters");
	if (!json_is_integer(replicas))
		return wf_refuse(why, 422, "invalid", "replicas", "replicas must be an integer");
	if (force && !json_is_boolean(force))
		return wf_refuse(why, 422, "invalid", "force", "force must be true or false");
	struct spec_error serr;
	if (!spec_check_replicas(section, json_integer_value(replicas), "replicas", &serr))
		return wf_refuse(why, 422, "invalid", "replicas", "%s", serr.message);
	*params = json_pack("{s:s, s:O, s:b}", "role", role, "replicas", replicas, "force",
			    json_is_true(force));
	return true;
}

/* With the cluster's spec: how many nodes of the role it has now ("from"),
 * for the precheck. */
static bool scale_prepare(json_t *record, json_t *params, struct wf_refusal *why)
{
	enum es_role section;
	struct spec spec;

	if (!spec_section_parse(json_str(params, "role"), &section))
		return wf_refuse(why, 422, "invalid", "role",
				 "role must be data, clients or masters");
	if (!wf_record_spec(record, &spec, why))
		return false;
	json_object_set_new(params, "from", json_integer(spec.nodes[section].replicas));
	spec_free(&spec);
	return true;
}

struct scale_precheck {
	struct wf_precheck *pc;
	int from, to;
	char *cluster;
};

static void scale_precheck_end(struct scale_precheck *p, const struct wf_refusal *why)
{
	wf_precheck_end(p->pc, why);
	free(p->cluster);
	free(p);
}

static void scale_disk_cb(void *arg, json_t *report, const char *error)
{
	struct scale_precheck *p = arg;
	struct wf_refusal why = {0};
	json_t *drain = json_object_get(report, "drain");
	json_int_t moving = json_integer_value(json_object_get(drain, "moving"));
	json_int_t room = json_integer_value(json_object_get(drain, "room"));
	int leaving = p->from - p->to;

	if (!report)
		wf_warnf(p->pc->params,
			 "the data nodes' disk usage could not be read (%s): whether the nodes "
			 "left have room for the leaving nodes' shards is not checked",
			 error ? error : "no answer");
	else if (!drain && !json_object_get(report, "off"))
		wf_warnf(p->pc->params, "the high disk watermark could not be read: whether the "
					"nodes left have room for the leaving nodes' shards is not "
					"checked");
	else if (drain && json_integer_value(json_object_get(drain, "unreported")) > 0)
		wf_warnf(p->pc->params,
			 "Elasticsearch does not report the disk usage of every data "
			 "node yet: whether the nodes left have room for the leaving "
			 "nodes' shards is not checked");
	else if (drain && moving > room) {
		char mv[32], rm[32];
		int takers = (int)json_integer_value(json_object_get(drain, "takers"));
		int others = (int)json_integer_value(json_object_get(drain, "others"));
		char *names = xstrdup("");
		for (int i = p->to; i < p->from; i++) {
			char *more = xasprintf("%s%s%s-%d", names, i > p->to ? ", " : "",
					       render_workload_name(ES_ROLE_DATA), i);
			free(names);
			names = more;
		}
		es_disk_human(moving, mv, sizeof(mv));
		es_disk_human(room, rm, sizeof(rm));
		if (takers == 0)
			wf_refuse(
				&why, 422, "invalid", "replicas",
				"the scale-down would stall: %s hold%s %s of shards that must "
				"move, and none of the %d data node%s left is below the low disk "
				"watermark, where a node takes a moving shard; free disk space on "
				"them, or scale down by fewer nodes",
				names, leaving == 1 ? "s" : "", mv, others, others == 1 ? "" : "s");
		else
			wf_refuse(
				&why, 422, "invalid", "replicas",
				"the scale-down would stall: %s hold%s %s of shards that must "
				"move, and the %d data node%s left can take %s of it (%d below the "
				"low disk watermark, where a node takes a moving shard, and none "
				"may "
				"pass the high one: %s); free disk space on them, or scale down by "
				"fewer nodes",
				names, leaving == 1 ? "s" : "", mv, others, others == 1 ? "" : "s",
				rm, takers, json_str(drain, "high"));
		free(names);
	}
	scale_precheck_end(p, &why);
}

static void scale_copies_cb(void *arg, const struct es_shard_copies *worst, const char *error)
{
	struct scale_precheck *p = arg;
	struct wf_refusal why = {0};
	int to = p->to;

	if (!worst)
		wf_refuse(&why, 503, "unavailable", NULL,
			  "cannot check that %d data node%s can hold every shard copy of cluster "
			  "%s: %s; retry, or pass \"force\": true to scale down unchecked",
			  to, to == 1 ? "" : "s", p->cluster, error);
	else if (worst->copies > to)
		wf_refuse(&why, 422, "invalid", "replicas",
			  "index %s has %d replica%s, so %d copies of each shard, which %d data "
			  "node%s cannot hold: lower its number_of_replicas first, or pass "
			  "\"force\": true to accept unassigned copies",
			  worst->index, worst->copies - 1, worst->copies == 2 ? "" : "s",
			  worst->copies, to, to == 1 ? "" : "s");
	if (why.status) {
		scale_precheck_end(p, &why);
		return;
	}
	/* Then room for what moves: the leaving nodes are the StatefulSet's
	 * highest ordinals, node.name ${POD_NAME}-${NAMESPACE} (kube/render.c). */
	json_t *spec = json_object_get(p->pc->params, "spec");
	char *namespace = p->pc->ns ? xstrdup(p->pc->ns)
				    : render_namespace(p->pc->tenant, json_str(spec, "name"));
	json_t *leaving = json_array();
	for (int i = p->to; i < p->from; i++) {
		char *name =
			xasprintf("%s-%d-%s", render_workload_name(ES_ROLE_DATA), i, namespace);
		json_array_append_new(leaving, json_string(name));
		free(name);
	}
	free(namespace);
	states_read_disk(p->pc->env, p->pc->tenant, p->pc->ns, spec, leaving, scale_disk_cb, p);
	json_decref(leaving);
}

struct scale_places {
	void (*done)(void *arg, const struct wf_refusal *why);
	void *arg;
	json_t *params;
	json_t *target; /* the spec with the role at its new count */
};

static void scale_places_cb(void *arg, int places, const char *error)
{
	struct scale_places *p = arg;
	(void)error; /* unread, the nodes warn of nothing: the wait will say */
	wf_warn_places(p->params, p->target, json_str(p->params, "role"), places);
	p->done(p->arg, NULL);
	json_decref(p->target);
	json_decref(p->params);
	free(p);
}

/*
 * A scale-up: can the nodes place that many?  If not, the answer says so
 * at once (a warning), and the job still runs: nodes may be on their way.
 * A data scale-down, unless forced: can the nodes left hold every copy,
 * and have they the disk space for the shards that move to them?
 */
static void scale_precheck(void *env, const char *tenant, const char *ns, json_t *params,
			   void (*done)(void *arg, const struct wf_refusal *why), void *arg)
{
	const char *role = json_str(params, "role");
	int from = (int)json_integer_value(json_object_get(params, "from"));
	int to = (int)json_integer_value(json_object_get(params, "replicas"));

	json_object_del(params, "from");
	if (to > from) {
		struct scale_places *p = xcalloc(1, sizeof(*p));
		p->done = done;
		p->arg = arg;
		p->params = json_incref(params);
		p->target = json_deep_copy(json_object_get(params, "spec"));
		json_t *section = json_object_get(p->target, role);
		if (!json_is_object(section)) {
			section = json_object();
			json_object_set_new(p->target, role, section);
		}
		json_object_set_new(section, "replicas", json_integer(to));
		states_read_places(env, p->target, scale_places_cb, p);
		return;
	}
	if (strcmp(role, "data") != 0 || to >= from ||
	    json_is_true(json_object_get(params, "force"))) {
		done(arg, NULL);
		return;
	}
	struct scale_precheck *p = xcalloc(1, sizeof(*p));
	json_t *spec = json_object_get(params, "spec");
	p->pc = wf_precheck_new(env, tenant, ns, params, done, arg);
	p->from = from;
	p->to = to;
	const char *name = json_str(spec, "name");
	p->cluster = xstrdup(name ? name : "");
	states_read_shard_copies(env, tenant, ns, spec, scale_copies_cb, p);
}

/* --- the preview ------------------------------------------------------------------ */

struct scale_path {
	enum scale_plan_way way;
	int steps; /* one node at a time: how many rounds the "next" states make */
};

static int scale_choose(const struct wf_state *st, int visit, void *arg)
{
	const struct scale_path *p = arg;
	if (st->run == state_scale_plan)
		return (int)p->way;
	if (st->run == state_masters_next)
		return visit < p->steps ? -1 : MASTERS_NEXT_NONE_LEFT;
	return -1;
}

/*
 * The plan's branch from the live count of the role's pods (the plan reads
 * its workload's, which the pods follow), the pods that come or go, highest
 * ordinal first as state_masters_next() takes them, and for data nodes the
 * shard copies that move off the leaving ones.
 */
static void scale_preview(json_t *params, json_t *live, json_t *plan)
{
	json_t *spec_json = json_object_get(params, "spec");
	enum es_role role = ES_ROLE_DATA;
	struct spec spec;
	struct spec_error serr;

	(void)spec_section_parse(json_str(params, "role"), &role);
	if (!spec_parse(spec_json, &spec, &serr))
		return;
	int to = (int)json_integer_value(json_object_get(params, "replicas"));
	int from = json_object_get(live, "pods") ? preview_live_pods(live, es_role_name(role))
						 : spec.nodes[role].replicas;
	bool zen1 = es_coordination(&spec.version) == ES_ZEN1;
	spec_free(&spec);
	struct scale_path p = {
		.way = scale_plan_way(role, from, to, zen1,
				      json_is_true(json_object_get(params, "force"))),
		.steps = to > from ? to - from : from - to,
	};
	json_object_set_new(plan, "states", wf_path(&wf_scale, scale_choose, &p));

	json_t *pods = json_array();
	json_t *leaving = json_array();
	const char *ns = json_str(live, "namespace");
	for (int i = from - 1; i >= to; i--) {
		char *pod = xasprintf("%s-%d", render_workload_name(role), i);
		if (role == ES_ROLE_CLIENT)
			json_array_append_new(pods,
					      json_pack("{s:s, s:s}", "role", es_role_name(role),
							"action", "delete"));
		else
			json_array_append_new(pods,
					      json_pack("{s:s, s:s, s:s}", "name", pod, "role",
							es_role_name(role), "action", "delete"));
		if (ns) {
			char *node = render_node_name(pod, ns);
			json_array_append_new(leaving, json_string(node));
			free(node);
		}
		free(pod);
	}
	for (int i = from; i < to; i++) {
		char *pod = xasprintf("%s-%d", render_workload_name(role), i);
		if (role == ES_ROLE_CLIENT)
			json_array_append_new(pods,
					      json_pack("{s:s, s:s}", "role", es_role_name(role),
							"action", "create"));
		else
			json_array_append_new(pods,
					      json_pack("{s:s, s:s, s:s}", "name", pod, "role",
							es_role_name(role), "action", "create"));
		free(pod);
	}
	json_object_set_new(plan, "pods", pods);
	if (role == ES_ROLE_DATA && to < from && json_object_get(live, "shards")) {
		char worst[300];
		int copies =
			preview_most_copies(json_object_get(live, "shards"), worst, sizeof(worst));
		json_object_set_new(plan, "shards",
				    preview_shards_on(json_object_get(live, "shards"), leaving));
		/* Only a forced scale gets here with too few: the check refuses others. */
		if (copies > to) {
			char *why = xasprintf("shard %s has %d copies, which %d data node%s cannot "
					      "hold: some copies will stay unassigned",
					      worst, copies, to, to == 1 ? "" : "s");
			json_array_append_new(
				json_object_get(plan, "gates"),
				json_pack("{s:s, s:s}", "gate", "copies", "reason", why));
			free(why);
		}
	}
	json_decref(leaving);

	json_t *after = json_deep_copy(spec_json);
	json_t *section = json_object_get(after, spec_section_name(role));
	if (!json_is_object(section)) {
		section = json_object();
		json_object_set_new(after, spec_section_name(role), section);
	}
	json_object_set_new(section, "replicas", json_integer(to));
	json_object_set_new(plan, "after_spec", after);
}

const struct workflow wf_scale = {
	.kind = "scale",
	.states = scale_states,
	.nstates = sizeof(scale_states) / sizeof(scale_states[0]),
	.cleanup = "undo_scale",
	.request = scale_request,
	.prepare = scale_prepare,
	.precheck = scale_precheck,
	.preview = scale_preview,
};
