/*
 * config_update: change Elasticsearch settings.
 *
 *   write the new elasticsearch.yml (ConfigMaps) ─┬─ only dynamic settings:
 *                                                 │  the cluster settings API
 *                                                 │  → wait green
 *                                                 └─ a static one: a rolling
 *                                                    restart, one pod at a
 *                                                    time, as restart does
 *   → the new spec recorded
 *
 * The API has checked every key against the cluster's version and merged
 * them into the spec the job carries (params.spec), so every state renders
 * the desired configuration.
 */
#include "workflows/workflows.h"
#include "workflows/restart.h"
#include "states/states.h"

/* clang-format off */
static const struct wf_state config_states[] = {
	{.name = "apply_config", .run = state_apply_config, .deadline_s = 120,
	 .next = "config_route", .replay_safe = true},
	{.name = "config_route", .run = state_config_route, .deadline_s = 60,
	 .next = "apply_dynamic", .replay_safe = true,
	 WF_BRANCHES([CONFIG_ROUTE_STATIC] = {"a static setting", "restart_plan"})},
	{.name = "apply_dynamic", .run = state_apply_dynamic, .deadline_s = 120,
	 .next = "wait_green", .replay_safe = true},
	{.name = "wait_green", .run = state_wait_green, .deadline_s = 900,
	 .next = "record_spec", .replay_safe = true},
	WF_ROLLING_RESTART("record_spec"),
	{.name = "record_spec", .run = state_record_spec, .deadline_s = 60, .replay_safe = true},
	/* cleanup, after a failure or a cancel */
	{.name = "undo_allocation", .run = state_restart_resume_allocation, .deadline_s = 300},
};
/* clang-format on */

const struct workflow wf_config_update = {
	.kind = "config_update",
	.states = config_states,
	.nstates = sizeof(config_states) / sizeof(config_states[0]),
	.cleanup = "undo_allocation",
};
