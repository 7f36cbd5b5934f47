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
#include "states/states.h"

/* clang-format off */
static const struct wf_state scale_states[] = {
	/* Every way on from the plan is a branch: which depends on the role,
	 * the direction, the coordination and "force". */
	{.name = "plan", .run = state_scale_plan, .deadline_s = 60, .replay_safe = true,
	 WF_BRANCHES([SCALE_PLAN_UNCHANGED] = {"unchanged", "wait_green"},
		     [SCALE_PLAN_DATA_DOWN] = {"data down", "check_copies"},
		     [SCALE_PLAN_DATA_DOWN_FORCED] = {"data down, forced", "exclude_nodes"},
		     [SCALE_PLAN_UP] = {"up", "raise_quota"},
		     [SCALE_PLAN_CLIENTS_DOWN] = {"clients down", "scale_workload"},
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
	 .next = "scale_workload"},
	{.name = "raise_quota", .run = state_scale_raise_quota, .deadline_s = 120,
	 .next = "scale_workload"},
	{.name = "scale_workload", .run = state_scale_workload, .deadline_s = 120,
	 .next = "wait_scaled"},
	{.name = "wait_scaled", .run = state_wait_scaled, .deadline_s = 900,
	 .next = "fit_quota", .replay_safe = true},
	{.name = "fit_quota", .run = state_scale_fit_quota, .deadline_s = 120,
	 .next = "clear_exclusion", .replay_safe = true},
	{.name = "clear_exclusion", .run = state_clear_exclusion, .deadline_s = 120,
	 .next = "wait_green", .replay_safe = true},
	/* masters, zen1, growing: the masters come, then the quorum rises */
	{.name = "zen1_grow_config", .run = state_scale_config, .deadline_s = 120,
	 .next = "zen1_grow_quota", .replay_safe = true},
	{.name = "zen1_grow_quota", .run = state_scale_raise_quota, .deadline_s = 120,
	 .next = "zen1_grow_scale", .replay_safe = true},
	{.name = "zen1_grow_scale", .run = state_scale_workload, .deadline_s = 120,
	 .next = "zen1_grow_wait", .replay_safe = true},
	{.name = "zen1_grow_wait", .run = state_wait_scaled, .deadline_s = 900,
	 .next = "zen1_grow_quorum", .replay_safe = true},
	/* Not replay-safe: only after the wait has seen the new masters there. */
	{.name = "zen1_grow_quorum", .run = state_masters_quorum, .deadline_s = 120,
	 .next = "wait_green"},
	/* masters, zen1, shrinking: the quorum falls, then the masters go */
	{.name = "zen1_shrink_config", .run = state_scale_config, .deadline_s = 120,
	 .next = "zen1_shrink_quorum", .replay_safe = true},
	{.name = "zen1_shrink_quorum", .run = state_masters_quorum, .deadline_s = 120,
	 .next = "zen1_shrink_scale", .replay_safe = true},
	{.name = "zen1_shrink_scale", .run = state_scale_workload, .deadline_s = 120,
	 .next = "zen1_shrink_wait", .replay_safe = true},
	{.name = "zen1_shrink_wait", .run = state_wait_scaled, .deadline_s = 900,
	 .next = "zen1_shrink_quota", .replay_safe = true},
	{.name = "zen1_shrink_quota", .run = state_scale_fit_quota, .deadline_s = 120,
	 .next = "wait_green", .replay_safe = true},
	/* masters, zen2, growing: new masters join the voting configuration */
	{.name = "zen2_grow_config", .run = state_scale_config, .deadline_s = 120,
	 .next = "zen2_grow_quota", .replay_safe = true},
	{.name = "zen2_grow_quota", .run = state_scale_raise_quota, .deadline_s = 120,
	 .next = "zen2_grow_scale", .replay_safe = true},
	{.name = "zen2_grow_scale", .run = state_scale_workload, .deadline_s = 120,
	 .next = "zen2_grow_wait", .replay_safe = true},
	{.name = "zen2_grow_wait", .run = state_wait_scaled, .deadline_s = 900,
	 .next = "wait_green", .replay_safe = true},
	/* masters, zen2, shrinking: out of the voting configuration before they go */
	{.name = "zen2_shrink_config", .run = state_scale_config, .deadline_s = 120,
	 .next = "zen2_shrink_exclude", .replay_safe = true},
	{.name = "zen2_shrink_exclude", .run = state_voting_exclude, .deadline_s = 120,
	 .next = "zen2_shrink_scale", .replay_safe = true},
	/* Not replay-safe: it needs the voting exclusions the cleanup cleared. */
	{.name = "zen2_shrink_scale", .run = state_scale_workload, .deadline_s = 120,
	 .next = "zen2_shrink_wait"},
	{.name = "zen2_shrink_wait", .run = state_wait_scaled, .deadline_s = 900,
	 .next = "zen2_shrink_quota", .replay_safe = true},
	{.name = "zen2_shrink_quota", .run = state_scale_fit_quota, .deadline_s = 120,
	 .next = "zen2_shrink_clear", .replay_safe = true},
	{.name = "zen2_shrink_clear", .run = state_voting_clear, .deadline_s = 120,
	 .next = "wait_green", .replay_safe = true},
	/* every path */
	{.name = "wait_green", .run = state_wait_green, .deadline_s = 900,
	 .next = "record_scaled", .replay_safe = true},
	{.name = "record_scaled", .run = state_record_scaled, .deadline_s = 60,
	 .replay_safe = true},
	/* cleanup, after a failure or a cancel */
	{.name = "undo_exclusion", .run = state_clear_exclusion, .deadline_s = 300,
	 .next = "undo_voting"},
	{.name = "undo_voting", .run = state_voting_clear, .deadline_s = 300},
};
/* clang-format on */

const struct workflow wf_scale = {
	.kind = "scale",
	.states = scale_states,
	.nstates = sizeof(scale_states) / sizeof(scale_states[0]),
	.cleanup = "undo_exclusion",
};
