/*
 * plugin_install, plugin_remove: one plugin more or less on every node.
 *
 *   the plugin's file in the repository (HEAD; install only)
 *   → every StatefulSet's template with the new plugin list (OnDelete: no
 *     pod restarts by itself)
 *   → the safe rolling restart, as restart does: each node's init
 *     container installs what is listed and removes what is not
 *   → _cat/plugins: every node lists the plugin (or none does any more)
 *   → the new spec recorded
 *
 * The API has checked the plugin against the version and put the new list
 * in the spec the job carries (params.spec).  A job that fails part-way
 * leaves the templates as they are: a replay goes on with the nodes not yet
 * restarted, and the cluster's recorded spec changes only at the end.
 */
#include "workflows/workflows.h"
#include "common/json.h"
#include "workflows/restart.h"
#include "states/states.h"
#include "workflows/request.h"
#include "kube/spec.h"

#include <string.h>

/* clang-format off */
#define PLUGIN_STATES                                                                              \
	{.name = "check_repository", .run = state_plugin_check_repository, .deadline_s = 120,      \
	 .next = "apply_workloads", .replay_safe = true},                                          \
	{.name = "apply_workloads", .run = state_apply_workloads, .deadline_s = 120,               \
	 .next = "restart_plan", .replay_safe = true},                                             \
	WF_ROLLING_RESTART("verify_plugins"),                                                      \
	{.name = "verify_plugins", .run = state_plugin_verify, .deadline_s = 600,                  \
	 .next = "record_spec", .replay_safe = true},                                              \
	{.name = "record_spec", .run = state_record_spec, .deadline_s = 60, .replay_safe = true},  \
	/* cleanup, after a failure or a cancel */                                                 \
	{.name = "undo_allocation", .run = state_restart_resume_allocation, .deadline_s = 300}
/* clang-format on */

static const struct wf_state install_states[] = {PLUGIN_STATES};
static const struct wf_state remove_states[] = {PLUGIN_STATES};

/* --- the request ------------------------------------------------------------------ */

/* {"name": "analysis-icu", "allow_yellow"?: bool} */
static bool install_request(const struct wf_request *rq, json_t **params, struct wf_refusal *why)
{
	static const char *const fields[] = {"name", "allow_yellow", NULL};
	const char *name = json_str(rq->body, "name");

	if (!wf_request_fields(rq->body, fields, why) || !wf_request_allow_yellow(rq->body, why))
		return false;
	if (!name || !name[0] || strlen(name) > 64)
		return wf_refuse(why, 422, "invalid", "name",
				 "name must be a plugin name such as \"analysis-icu\"");
	*params = json_pack("{s:s, s:s, s:b}", "plugin", name, "action", "install", "allow_yellow",
			    json_is_true(json_object_get(rq->body, "allow_yellow")));
	return true;
}

/* DELETE .../plugins/{plugin}; a body is optional ({"allow_yellow": bool}). */
static bool remove_request(const struct wf_request *rq, json_t **params, struct wf_refusal *why)
{
	static const char *const fields[] = {"allow_yellow", NULL};
	const char *plugin = json_str(rq->path, "plugin");

	if (!wf_request_fields(rq->body, fields, why) || !wf_request_allow_yellow(rq->body, why))
		return false;
	if (!plugin || !plugin[0] || strlen(plugin) > 64)
		return wf_refuse(why, 404, "not_found", NULL, "plugin not found");
	*params = json_pack("{s:s, s:s, s:b}", "plugin", plugin, "action", "remove", "allow_yellow",
			    json_is_true(json_object_get(rq->body, "allow_yellow")));
	return true;
}

/*
 * A plugin added to (or removed from) the stored spec: checked against the
 * cluster's version, and the job gets the new spec.  Installing one that is
 * listed already is a conflict; removing one that is not listed, not found.
 */
static bool plugin_prepare(json_t *record, json_t *params, struct wf_refusal *why)
{
	const char *plugin = json_str(params, "plugin");
	bool install = strcmp(json_str(params, "action"), "install") == 0;
	struct spec spec;
	struct spec_error serr;

	if (!wf_record_spec(record, &spec, why))
		return false;
	bool ok = !install || spec_check_plugin(plugin, &spec.version, "name", &serr);
	bool listed = false;
	for (size_t i = 0; i < spec.nplugins; i++)
		if (strcmp(spec.plugins[i], plugin) == 0)
			listed = true;
	spec_free(&spec);
	if (!ok)
		return wf_refuse(why, 422, "invalid", "name", "%s", serr.message);
	if (install && listed)
		return wf_refuse(why, 409, "conflict", "name", "plugin %s is already installed",
				 plugin);
	if (!install && !listed)
		return wf_refuse(why, 404, "not_found", NULL, "plugin %s is not installed", plugin);
	json_t *next = json_deep_copy(record);
	json_t *list = json_object_get(next, "plugins");
	if (!json_is_array(list)) {
		list = json_array();
		json_object_set_new(next, "plugins", list);
	}
	if (install) {
		json_array_append_new(list, json_string(plugin));
	} else {
		for (size_t i = json_array_size(list); i-- > 0;)
			if (strcmp(json_string_value(json_array_get(list, i)), plugin) == 0)
				json_array_remove(list, i);
	}
	json_object_set_new(params, "spec", next);
	return true;
}

const struct workflow wf_plugin_install = {
	.kind = "plugin_install",
	.states = install_states,
	.nstates = sizeof(install_states) / sizeof(install_states[0]),
	.cleanup = "undo_allocation",
	.request = install_request,
	.prepare = plugin_prepare,
};

const struct workflow wf_plugin_remove = {
	.kind = "plugin_remove",
	.states = remove_states,
	.nstates = sizeof(remove_states) / sizeof(remove_states[0]),
	.cleanup = "undo_allocation",
	.request = remove_request,
	.prepare = plugin_prepare,
};
