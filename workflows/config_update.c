/*
 * config_update: change Elasticsearch settings.
 *
 *   the dynamic settings (a null too) through the cluster settings API,
 *   which validates them → write the new elasticsearch.yml (ConfigMaps)
 *   ─┬─ only dynamic settings: wait green
 *    └─ a static one: a rolling restart, one pod at a time, as restart does
 *   → the new spec recorded
 *
 * The dynamic settings go through the API even when a static one needs a
 * restart: a persistent value set there earlier wins over elasticsearch.yml
 * (transient > persistent > elasticsearch.yml,
 * https://www.elastic.co/guide/en/elasticsearch/reference/7.17/cluster-update-settings.html).
 * They go first, so that a value Elasticsearch refuses (400) fails the job
 * before any ConfigMap changes.  On a failure after that, the cleanup
 * puts the dynamic settings back to the values recorded before the PUT
 * (context.dynamic_before) and writes the ConfigMaps of the recorded spec
 * (params.previous_spec) back, so that neither the cluster nor a later
 * restart keeps what the job did not finish with.
 *
 * The API has checked every key against the cluster's version and merged
 * them into the spec the job carries (params.spec), so every state renders
 * the desired configuration.
 */
#include "workflows/workflows.h"
#include "workflows/restart.h"
#include "states/states.h"
#include "workflows/request.h"
#include "kube/spec.h"

/* clang-format off */
static const struct wf_state config_states[] = {
	{.name = "apply_dynamic", .run = state_apply_dynamic, .deadline_s = 120,
	 .next = "apply_config", .replay_safe = true},
	{.name = "apply_config", .run = state_apply_config, .deadline_s = 120,
	 .next = "config_route", .replay_safe = true},
	{.name = "config_route", .run = state_config_route, .deadline_s = 60,
	 .next = "wait_green", .replay_safe = true,
	 WF_BRANCHES([CONFIG_ROUTE_STATIC] = {"a static setting", "restart_plan"})},
	{.name = "wait_green", .run = state_wait_green, .deadline_s = 900,
	 .next = "record_spec", .replay_safe = true},
	WF_ROLLING_RESTART("record_spec"),
	{.name = "record_spec", .run = state_record_spec, .deadline_s = 60, .replay_safe = true},
	/* cleanup, after a failure or a cancel */
	{.name = "undo_dynamic", .run = state_undo_dynamic, .deadline_s = 120,
	 .next = "undo_config"},
	{.name = "undo_config", .run = state_undo_config, .deadline_s = 120,
	 .next = "undo_allocation"},
	{.name = "undo_allocation", .run = state_restart_resume_allocation, .deadline_s = 300},
};
/* clang-format on */

/* --- the request ------------------------------------------------------------------ */

/* {"settings": {"key": value | null}, "allow_yellow"?: bool} */
static bool config_request(const struct wf_request *rq, json_t **params, struct wf_refusal *why)
{
	static const char *const fields[] = {"settings", "allow_yellow", NULL};
	json_t *settings = json_object_get(rq->body, "settings");

	if (!wf_request_fields(rq->body, fields, why) || !wf_request_allow_yellow(rq->body, why))
		return false;
	if (!json_is_object(settings) || json_object_size(settings) == 0)
		return wf_refuse(why, 422, "invalid", "settings",
				 "settings must be an object of at least one setting");
	*params = json_incref(rq->body);
	return true;
}

/*
 * The settings against the cluster's version; the job gets the new spec
 * (its config merged, null removing a key) and whether any setting is
 * static, which needs a rolling restart.
 */
static bool config_prepare(json_t *record, json_t *params, struct wf_refusal *why)
{
	struct spec spec;
	struct spec_error serr;

	if (!wf_record_spec(record, &spec, why))
		return false;
	json_t *settings = json_object_get(params, "settings");
	bool ok = spec_check_settings(settings, &spec.version, "settings", true, &serr);
	spec_free(&spec);
	if (!ok)
		return wf_refuse(why, 422, "invalid", serr.field, "%s", serr.message);
	json_t *next = json_deep_copy(record);
	json_t *config = json_object_get(next, "config");
	if (!json_is_object(config)) {
		config = json_object();
		json_object_set_new(next, "config", config);
	}
	bool needs_restart = false;
	json_t *dynamic = json_object();
	const char *key;
	json_t *value;
	json_object_foreach (settings, key, value) {
		if (spec_setting_kind(key) == SPEC_SETTING_STATIC)
			needs_restart = true;
		else
			json_object_set(dynamic, key, value);
		if (json_is_null(value))
			json_object_del(config, key);
		else
			json_object_set(config, key, value);
	}
	json_object_set(params, "previous_spec", record);
	json_object_set_new(params, "spec", next);
	json_object_set_new(params, "dynamic", dynamic);
	json_object_set_new(params, "restart", json_boolean(needs_restart));
	return true;
}

/* A static setting restarts every data node: none may be above the low
 * disk watermark (wf_rolling_disk_precheck).  Dynamic ones restart none. */
static void config_precheck(void *env, const char *tenant, const char *ns, json_t *params,
			    void (*done)(void *arg, const struct wf_refusal *why), void *arg)
{
	if (!json_is_true(json_object_get(params, "restart"))) {
		done(arg, NULL);
		return;
	}
	wf_rolling_disk_precheck(env, tenant, ns, params, NULL,
				 "the rolling restart this static setting needs", "settings", done,
				 arg);
}

/* --- the preview ------------------------------------------------------------------ */

struct config_path {
	bool restart;
	int npods;
};

static int config_choose(const struct wf_state *st, int visit, void *arg)
{
	const struct config_path *p = arg;
	if (st->run == state_config_route)
		return p->restart ? CONFIG_ROUTE_STATIC : -1;
	return preview_rolling_choose(st, visit, p->npods);
}

/* A static setting rolls every node, as restart does; dynamic ones none. */
static void config_preview(json_t *params, json_t *live, json_t *plan)
{
	struct config_path p = {.restart = json_is_true(json_object_get(params, "restart"))};
	json_t *pods = p.restart ? preview_rolling_pods(params, live) : json_array();

	p.npods = (int)json_array_size(pods);
	json_object_set_new(plan, "states", wf_path(&wf_config_update, config_choose, &p));
	json_object_set_new(plan, "pods", preview_pod_actions(pods, "restart"));
	json_decref(pods);
}

/* Only a static setting restarts the nodes (config_prepare's "restart"). */
static bool config_disruptive(const json_t *params)
{
	return json_is_true(json_object_get(params, "restart"));
}

const struct workflow wf_config_update = {
	.kind = "config_update",
	.states = config_states,
	.nstates = sizeof(config_states) / sizeof(config_states[0]),
	.cleanup = "undo_dynamic",
	.request = config_request,
	.prepare = config_prepare,
	.precheck = config_precheck,
	.preview = config_preview,
	.disruptive = config_disruptive,
};
