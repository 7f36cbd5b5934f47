/*
 * kibana: add, resize or remove the cluster's Kibana.
 *
 *   the namespace's quota raised for the new count (never lowered here)
 *   → its Service and Deployment applied (or, with 0 replicas, removed)
 *   → its pods ready (or gone) → the quota fitted to the new spec
 *   → the new spec recorded
 *
 * The API has put the new kibana.replicas in the spec the job carries
 * (params.spec); the count before is the live quota's to know, so the
 * quota is raised to at least the new spec's first, and fitted to it once
 * the pods are there or gone.  Kibana keeps nothing: its Deployment rolls
 * by itself, and no Elasticsearch node restarts.
 */
#include "workflows/workflows.h"
#include "states/states.h"

/* clang-format off */
static const struct wf_state kibana_states[] = {
	{.name = "raise_quota", .run = state_raise_quota, .deadline_s = 120,
	 .next = "apply_kibana", .replay_safe = true},
	{.name = "apply_kibana", .run = state_apply_kibana, .deadline_s = 120,
	 .next = "wait_kibana", .replay_safe = true},
	{.name = "wait_kibana", .run = state_wait_kibana, .deadline_s = 600,
	 .next = "fit_quota", .replay_safe = true},
	{.name = "fit_quota", .run = state_apply_quota, .deadline_s = 120,
	 .next = "record_spec", .replay_safe = true},
	{.name = "record_spec", .run = state_record_spec, .deadline_s = 60, .replay_safe = true},
};
/* clang-format on */

const struct workflow wf_kibana = {
	.kind = "kibana",
	.states = kibana_states,
	.nstates = sizeof(kibana_states) / sizeof(kibana_states[0]),
};
