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
#include "states/cluster.h"

static const struct wf_state config_states[] = {
	/* name                      handler                          deadline attempts next */
	{"apply_config", state_apply_config, 120, 0, "config_route", true},
	{"config_route", state_config_route, 60, 0, "apply_dynamic", true},
	{"apply_dynamic", state_apply_dynamic, 120, 0, "wait_green", true},
	{"wait_green", state_wait_green, 900, 0, "record_spec", true},
	WF_ROLLING_RESTART("record_spec"),
	{"record_spec", state_record_spec, 60, 0, NULL, true},
	/* cleanup, after a failure or a cancel */
	{"undo_allocation", state_restart_resume_allocation, 300, 0, NULL, false},
};

const struct workflow wf_config_update = {
	.kind = "config_update",
	.states = config_states,
	.nstates = sizeof(config_states) / sizeof(config_states[0]),
	.cleanup = "undo_allocation",
};
