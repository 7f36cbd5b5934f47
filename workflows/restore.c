/*
 * restore: indices of one of the cluster's own snapshots restored into it,
 * chosen by name or pattern, under new names by a rename pattern.
 *
 *   the repository registered → the restore (Elasticsearch refuses an open
 *   index of the same name: a rename, or a closed or deleted index, is the
 *   way) → green → each restored index checked against the documents the
 *   snapshot recorded (which index became which, from the recovery API)
 *
 * A cancel leaves what was restored so far: the indices are new ones,
 * which the tenant may keep or delete.
 */
#include "workflows/workflows.h"
#include "workflows/request.h"
#include "states/states.h"
#include "common/json.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

/* clang-format off */
static const struct wf_state restore_states[] = {
	{.name = "restore_repository", .run = state_restore_repository, .deadline_s = 120,
	 .next = "restore_start", .replay_safe = true},
	{.name = "restore_start", .run = state_restore_start, .deadline_s = 300,
	 .next = "restore_wait_green", .replay_safe = true, .pause_safe = true},
	{.name = "restore_wait_green", .run = state_restore_wait_green, .deadline_s = 3600,
	 .next = "restore_verify", .replay_safe = true},
	{.name = "restore_verify", .run = state_restore_verify, .deadline_s = 300,
	 .replay_safe = true, .pause_safe = true},
};
/* clang-format on */

/* A list of index names or patterns: a non-empty array of non-empty
 * strings without commas, or one such string. */
static bool indices_ok(json_t *v, struct wf_refusal *why)
{
	size_t i;
	json_t *e;
	if (json_is_string(v) && json_string_length(v) > 0)
		return true;
	if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 1000)
		return wf_refuse(why, 422, "invalid", "indices",
				 "indices must be an index name or pattern, or a list of them");
	json_array_foreach (v, i, e) {
		if (!json_is_string(e) || json_string_length(e) == 0 ||
		    json_string_length(e) > 255 || strchr(json_string_value(e), ','))
			return wf_refuse(why, 422, "invalid", "indices",
					 "indices[%zu] must be an index name or pattern", i);
	}
	return true;
}

/* {"snapshot", "indices"?, "rename_pattern"?, "rename_replacement"?} */
static bool restore_request(const struct wf_request *rq, json_t **params, struct wf_refusal *why)
{
	static const char *const fields[] = {"snapshot", "indices", "rename_pattern",
					     "rename_replacement", NULL};
	json_t *b = rq->body;
	json_t *pattern = json_object_get(b, "rename_pattern");
	json_t *replacement = json_object_get(b, "rename_replacement");

	if (!wf_request_fields(b, fields, why))
		return false;
	if (!json_object_get(b, "snapshot"))
		return wf_refuse(why, 422, "invalid", "snapshot", "snapshot is required");
	if (!wf_snapshot_name_ok("snapshot", json_object_get(b, "snapshot"), why))
		return false;
	if (json_object_get(b, "indices") && !indices_ok(json_object_get(b, "indices"), why))
		return false;
	if (pattern && (!json_is_string(pattern) || json_string_length(pattern) == 0 ||
			json_string_length(pattern) > 255))
		return wf_refuse(why, 422, "invalid", "rename_pattern",
				 "rename_pattern must be a regular expression of 1 to 255 "
				 "characters");
	if (replacement && (!json_is_string(replacement) || json_string_length(replacement) == 0 ||
			    json_string_length(replacement) > 255))
		return wf_refuse(why, 422, "invalid", "rename_replacement",
				 "rename_replacement must be a string of 1 to 255 characters");
	if (!pattern != !replacement)
		return wf_refuse(why, 422, "invalid",
				 pattern ? "rename_replacement" : "rename_pattern",
				 "rename_pattern and rename_replacement go together");
	json_t *restore = json_pack("{s:O}", "snapshot", json_object_get(b, "snapshot"));
	static const char *const passed[] = {"indices", "rename_pattern", "rename_replacement"};
	for (size_t i = 0; i < sizeof(passed) / sizeof(passed[0]); i++)
		if (json_object_get(b, passed[i]))
			json_object_set(restore, passed[i], json_object_get(b, passed[i]));
	*params = json_pack("{s:o}", "restore", restore);
	return true;
}

struct restore_check {
	void (*done)(void *arg, const struct wf_refusal *why);
	void *arg;
	char *name;
};

static void restore_listed_cb(void *arg, json_t *list, const char *error)
{
	struct restore_check *c = arg;
	struct wf_refusal why = {0};
	const char *state = NULL;
	size_t i;
	json_t *snap;
	json_array_foreach (list, i, snap) {
		if (json_str(snap, "name") && !strcmp(json_str(snap, "name"), c->name))
			state = json_str(snap, "state") ? json_str(snap, "state") : "";
	}
	if (!list)
		wf_refuse(&why, 503, "unavailable", "", "cannot read the cluster's snapshots: %s",
			  error ? error : "no answer");
	else if (!state)
		wf_refuse(&why, 404, "not_found", "snapshot", "the cluster has no snapshot %s",
			  c->name);
	else if (strcmp(state, "SUCCESS") != 0)
		wf_refuse(&why, 409, "conflict", "snapshot", "snapshot %s is %s, not SUCCESS",
			  c->name, state);
	c->done(c->arg, why.status ? &why : NULL);
	free(c->name);
	free(c);
}

/* The snapshot is in the cluster's repository, SUCCESS. */
static void restore_precheck(void *env, const char *tenant, const char *ns, json_t *params,
			     void (*done)(void *arg, const struct wf_refusal *why), void *arg)
{
	struct restore_check *c = xcalloc(1, sizeof(*c));
	c->done = done;
	c->arg = arg;
	c->name = xstrdup(json_str(json_object_get(params, "restore"), "snapshot"));
	states_read_snapshots(env, tenant, ns, json_object_get(params, "spec"), restore_listed_cb,
			      c);
}

const struct workflow wf_restore = {
	.kind = "restore",
	.states = restore_states,
	.nstates = sizeof(restore_states) / sizeof(restore_states[0]),
	.request = restore_request,
	.precheck = restore_precheck,
};
