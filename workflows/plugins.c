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
#include "states/cluster.h"

#define PLUGIN_STATES                                                                           \
	/* name                      handler                          deadline attempts next */ \
	{"check_repository", state_plugin_check_repository, 120, 0, "apply_workloads", true},   \
		{"apply_workloads", state_apply_workloads, 120, 0, "restart_plan", true},       \
		WF_ROLLING_RESTART("verify_plugins"),                                           \
		{"verify_plugins", state_plugin_verify, 600, 0, "record_spec", true},           \
		{"record_spec", state_record_spec, 60, 0, NULL, true},                          \
	/* cleanup, after a failure or a cancel */                                              \
	{                                                                                       \
		"undo_allocation", state_restart_resume_allocation, 300, 0, NULL, false         \
	}

static const struct wf_state install_states[] = {PLUGIN_STATES};
static const struct wf_state remove_states[] = {PLUGIN_STATES};

const struct workflow wf_plugin_install = {
	.kind = "plugin_install",
	.states = install_states,
	.nstates = sizeof(install_states) / sizeof(install_states[0]),
	.cleanup = "undo_allocation",
};

const struct workflow wf_plugin_remove = {
	.kind = "plugin_remove",
	.states = remove_states,
	.nstates = sizeof(remove_states) / sizeof(remove_states[0]),
	.cleanup = "undo_allocation",
};
