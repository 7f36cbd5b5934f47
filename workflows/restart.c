/*
 * restart: a rolling restart, one pod at a time, safely.
 *
 *   plan the pods (one node, one role, or all; data first, masters last,
 *   the elected master very last)
 *   ┌→ next pod? no ─────────────────────────────→ restore allocation → done
 *   │  yes: wait green (or yellow, when allowed)
 *   │  → allocation of replicas paused ("primaries") → flush
 *   │  → delete the pod with its uid (never its replacement)
 *   │  → wait for the replacement to be ready, then joined → allocation back
 *   └─ wait green ←──────────────────────────────┘
 *
 * The plan and the pods already restarted live in the job's context, so a
 * replay goes on with the pods not yet restarted.  The pause is recorded
 * before it is set, and the cleanup chain lifts it after a failure or a
 * cancel: no cluster is left with allocation disabled.
 */
#include "workflows/workflows.h"
#include "workflows/restart.h"
#include "states/states.h"

/* clang-format off */
static const struct wf_state restart_states[] = {
	WF_ROLLING_RESTART(NULL),
	/* cleanup, after a failure or a cancel */
	{.name = "undo_allocation", .run = state_restart_resume_allocation, .deadline_s = 300},
};
/* clang-format on */

const struct workflow wf_restart = {
	.kind = "restart",
	.states = restart_states,
	.nstates = sizeof(restart_states) / sizeof(restart_states[0]),
	.cleanup = "undo_allocation",
};
