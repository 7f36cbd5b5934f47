/*
 * restart: a rolling restart, one pod at a time, safely.
 *
 *   plan the pods (one node, one role, or all; data first, masters last)
 *   ┌→ next pod? no ─────────────────────────────→ restore allocation → done
 *   │  yes: allocation of replicas paused ("primaries") → flush
 *   │  → delete the pod with its uid (never its replacement)
 *   │  → wait for the replacement to be ready → allocation back
 *   └─ wait green ←──────────────────────────────┘
 *
 * The plan and the pods already restarted live in the job's context, so a
 * replay goes on with the pods not yet restarted.  The pause is recorded
 * before it is set, and the cleanup chain lifts it after a failure or a
 * cancel: no cluster is left with allocation disabled.
 */
#include "workflows/workflows.h"
#include "states/cluster.h"

static const struct wf_state restart_states[] = {
	/* name                      handler                          deadline attempts next */
	{"restart_plan", state_restart_plan, 60, 0, "restart_next", true},
	{"restart_next", state_restart_next, 120, 0, "restart_flush", true},
	{"restart_flush", state_restart_flush, 300, 0, "restart_delete_pod", true},
	{"restart_delete_pod", state_restart_delete_pod, 120, 0, "restart_wait_pod", true},
	{"restart_wait_pod", state_restart_wait_pod, 900, 0, "restart_resume_allocation", true},
	{"restart_resume_allocation", state_restart_resume_allocation, 120, 0, "restart_wait_green", true},
	{"restart_wait_green", state_restart_wait_green, 1800, 0, "restart_next", true},
	{"restore_allocation", state_restart_resume_allocation, 120, 0, NULL, true},
	/* cleanup, after a failure or a cancel */
	{"undo_allocation", state_restart_resume_allocation, 300, 0, NULL, false},
};

const struct workflow wf_restart = {
	.kind = "restart",
	.states = restart_states,
	.nstates = sizeof(restart_states) / sizeof(restart_states[0]),
	.cleanup = "undo_allocation",
};
