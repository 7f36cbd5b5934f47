/*
 * scale: more or fewer data or client nodes.
 *
 *   plan ─┬─ data down: exclude the leaving nodes → wait until they hold
 *         │  no shard and nothing relocates ─┐
 *         └─ otherwise ──────────────────────┴→ scale the workload → wait
 *   for exactly that many ready pods → clear the exclusion → health green
 *   → the new spec recorded
 *
 * The exclusion is recorded in the context before it is set, and the
 * cleanup chain clears it on failure or cancel: no cluster is left with
 * nodes excluded from allocation.
 */
#include "workflows/workflows.h"
#include "states/cluster.h"

static const struct wf_state scale_states[] = {
	/* name              handler                  deadline attempts next              replay */
	{"plan", state_scale_plan, 60, 0, "exclude_nodes", true},
	{"exclude_nodes", state_exclude_nodes, 120, 0, "wait_drained", true},
	{"wait_drained", state_wait_drained, 3600, 0, "scale_workload", true},
	{"scale_workload", state_scale_workload, 120, 0, "wait_scaled", true},
	{"wait_scaled", state_wait_scaled, 900, 0, "clear_exclusion", true},
	{"clear_exclusion", state_clear_exclusion, 120, 0, "wait_green", true},
	{"wait_green", state_wait_green, 900, 0, "record_scaled", true},
	{"record_scaled", state_record_scaled, 60, 0, NULL, true},
	/* cleanup, after a failure or a cancel */
	{"undo_exclusion", state_clear_exclusion, 300, 0, NULL, false},
};

const struct workflow wf_scale = {
	.kind = "scale",
	.states = scale_states,
	.nstates = sizeof(scale_states) / sizeof(scale_states[0]),
	.cleanup = "undo_exclusion",
};
