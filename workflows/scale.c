/*
 * scale: more or fewer masters, data or client nodes.
 *
 *   plan ─┬─ data down: check the remaining nodes can hold every shard copy
 *         │  (unless forced) → exclude the leaving nodes → wait until they
 *         │  hold no shard and nothing relocates ─┐
 *         ├─ clients down ───────────────────────┤
 *         ├─ data or clients up: quota raised ───┴→ scale the workload →
 *         │  wait for exactly that many ready pods → quota fitted to the
 *         │  new count → clear the exclusion
 *         ├─ masters: one of the four paths below ─┐
 *         └─ no change ────────────────────────────┴→ health green
 *   → the new spec recorded
 *
 * Masters keep an odd count, and their quorum safe at every moment:
 *   zen1 growing    elasticsearch.yml → quota raised → scale
 *                   → minimum_master_nodes raised
 *   zen1 shrinking  elasticsearch.yml → minimum_master_nodes lowered → scale
 *                   → quota lowered
 *   zen2 growing    elasticsearch.yml → quota raised → scale (new masters
 *                   vote by themselves)
 *   zen2 shrinking  elasticsearch.yml → voting exclusions for the leaving
 *                   masters → scale → quota lowered → exclusions cleared
 * Each path is spelled out in the table, one state per step.
 *
 * The namespace's quota (kube/render.h) is raised before new pods come and
 * lowered once the leaving ones have gone, so it never refuses a pod the
 * scale adds, and never allows more than the spec once the scale is done.
 *
 * What a scale changes in the cluster's settings (allocation exclusion,
 * voting exclusions) is recorded in the context before it is set, and the
 * cleanup chain undoes it on failure or cancel.
 */
#include "workflows/workflows.h"
#include "states/cluster.h"

static const struct wf_state scale_states[] = {
	/* name              handler                  deadline attempts next              replay */
	{"plan", state_scale_plan, 60, 0, "exclude_nodes", true},
	{"check_copies", state_check_copies, 120, 0, "exclude_nodes", true},
	{"exclude_nodes", state_exclude_nodes, 120, 0, "wait_drained", true},
	/* Not replay-safe: they need the exclusion the cleanup lifted (replay from
	 * plan); raise_quota, on the way up only, leads into scale_workload too. */
	{"wait_drained", state_wait_drained, 3600, 0, "scale_workload", false},
	{"raise_quota", state_scale_raise_quota, 120, 0, "scale_workload", false},
	{"scale_workload", state_scale_workload, 120, 0, "wait_scaled", false},
	{"wait_scaled", state_wait_scaled, 900, 0, "fit_quota", true},
	{"fit_quota", state_scale_fit_quota, 120, 0, "clear_exclusion", true},
	{"clear_exclusion", state_clear_exclusion, 120, 0, "wait_green", true},
	/* masters, zen1, growing: the masters come, then the quorum rises */
	{"zen1_grow_config", state_scale_config, 120, 0, "zen1_grow_quota", true},
	{"zen1_grow_quota", state_scale_raise_quota, 120, 0, "zen1_grow_scale", true},
	{"zen1_grow_scale", state_scale_workload, 120, 0, "zen1_grow_wait", true},
	{"zen1_grow_wait", state_wait_scaled, 900, 0, "zen1_grow_quorum", true},
	/* Not replay-safe: only after the wait has seen the new masters there. */
	{"zen1_grow_quorum", state_masters_quorum, 120, 0, "wait_green", false},
	/* masters, zen1, shrinking: the quorum falls, then the masters go */
	{"zen1_shrink_config", state_scale_config, 120, 0, "zen1_shrink_quorum", true},
	{"zen1_shrink_quorum", state_masters_quorum, 120, 0, "zen1_shrink_scale", true},
	{"zen1_shrink_scale", state_scale_workload, 120, 0, "zen1_shrink_wait", true},
	{"zen1_shrink_wait", state_wait_scaled, 900, 0, "zen1_shrink_quota", true},
	{"zen1_shrink_quota", state_scale_fit_quota, 120, 0, "wait_green", true},
	/* masters, zen2, growing: new masters join the voting configuration */
	{"zen2_grow_config", state_scale_config, 120, 0, "zen2_grow_quota", true},
	{"zen2_grow_quota", state_scale_raise_quota, 120, 0, "zen2_grow_scale", true},
	{"zen2_grow_scale", state_scale_workload, 120, 0, "zen2_grow_wait", true},
	{"zen2_grow_wait", state_wait_scaled, 900, 0, "wait_green", true},
	/* masters, zen2, shrinking: out of the voting configuration before they go */
	{"zen2_shrink_config", state_scale_config, 120, 0, "zen2_shrink_exclude", true},
	{"zen2_shrink_exclude", state_voting_exclude, 120, 0, "zen2_shrink_scale", true},
	/* Not replay-safe: it needs the voting exclusions the cleanup cleared. */
	{"zen2_shrink_scale", state_scale_workload, 120, 0, "zen2_shrink_wait", false},
	{"zen2_shrink_wait", state_wait_scaled, 900, 0, "zen2_shrink_quota", true},
	{"zen2_shrink_quota", state_scale_fit_quota, 120, 0, "zen2_shrink_clear", true},
	{"zen2_shrink_clear", state_voting_clear, 120, 0, "wait_green", true},
	/* every path */
	{"wait_green", state_wait_green, 900, 0, "record_scaled", true},
	{"record_scaled", state_record_scaled, 60, 0, NULL, true},
	/* cleanup, after a failure or a cancel */
	{"undo_exclusion", state_clear_exclusion, 300, 0, "undo_voting", false},
	{"undo_voting", state_voting_clear, 300, 0, NULL, false},
};

const struct workflow wf_scale = {
	.kind = "scale",
	.states = scale_states,
	.nstates = sizeof(scale_states) / sizeof(scale_states[0]),
	.cleanup = "undo_exclusion",
};
