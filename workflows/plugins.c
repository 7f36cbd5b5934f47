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
#include "workflows/restart.h"
#include "states/states.h"

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
