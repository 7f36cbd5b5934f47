/*
 * The safe rolling restart, shared by every workflow that restarts nodes
 * one at a time (restart, config_update, plugins).  Before each pod: the
 * cluster green (or yellow with params.allow_yellow) and the elected master
 * kept for last; then replica allocation paused, flush, the pod deleted by
 * uid, its replacement ready and joined, allocation back, green again.
 * After the last pod it goes on to then (NULL: the job ends).  Each user
 * needs "undo_allocation" in its cleanup chain.  The plan and the pods done
 * live in the job's context, so a replay goes on with the pods not yet
 * restarted; it enters the loop at restart_plan, restart_next or
 * restart_check only.  The states after the check need the health seen
 * just before and the pause the cleanup has lifted, and restart_wait_green
 * counts the pod as restarted: entered directly they could restart a pod
 * unsafely, or count one that never restarted.  A pause stops it on its
 * way into restart_next only: between two pods, allocation back and the
 * cluster green again, or before the first.  Through restart_next a pod
 * already replaced is found gone (its uid no longer matches), not deleted
 * twice.
 */
#ifndef ESAAS_WORKFLOWS_RESTART_H
#define ESAAS_WORKFLOWS_RESTART_H

#include "engine/fsm.h"
#include "states/states.h"

/*
 * Before a rolling restart of the data nodes (only: their node names, NULL
 * for every one): none may be above the low disk watermark, where
 * Elasticsearch allocates no replica, not even the ones the node holds, so
 * that after its restart the cluster would stay yellow and the restart wait
 * for green for ever.  done(arg, NULL) to go on (with a warning in
 * params.warnings when the usage cannot be read or a node is near the
 * watermark), or the 422 naming what (e.g. "the restart") and field.
 */
void wf_rolling_disk_precheck(void *env, const char *tenant, const char *ns, json_t *params,
			      json_t *only, const char *what, const char *field,
			      void (*done)(void *arg, const struct wf_refusal *why), void *arg);

/* clang-format off */
#define WF_ROLLING_RESTART(then)                                                                   \
	{.name = "restart_plan", .run = state_restart_plan, .deadline_s = 60,                      \
	 .next = "restart_next", .replay_safe = true},                                             \
	{.name = "restart_next", .run = state_restart_next, .deadline_s = 120,                     \
	 .next = "restart_check", .replay_safe = true, .pause_safe = true,                         \
	 WF_BRANCHES([RESTART_NEXT_NONE_LEFT] = {"none left", "restore_allocation"})},             \
	{.name = "restart_check", .run = state_restart_check, .deadline_s = 1800,                  \
	 .next = "restart_pause", .replay_safe = true},                                            \
	{.name = "restart_pause", .run = state_restart_pause, .deadline_s = 120,                   \
	 .next = "restart_flush"},                                                                 \
	{.name = "restart_flush", .run = state_restart_flush, .deadline_s = 300,                   \
	 .next = "restart_delete_pod"},                                                            \
	{.name = "restart_delete_pod", .run = state_restart_delete_pod, .deadline_s = 120,         \
	 .next = "restart_wait_pod"},                                                              \
	{.name = "restart_wait_pod", .run = state_restart_wait_pod, .deadline_s = 900,             \
	 .next = "restart_wait_joined"},                                                           \
	{.name = "restart_wait_joined", .run = state_restart_wait_joined, .deadline_s = 600,       \
	 .next = "restart_resume_allocation"},                                                     \
	{.name = "restart_resume_allocation", .run = state_restart_resume_allocation,              \
	 .deadline_s = 120, .next = "restart_wait_green"},                                         \
	{.name = "restart_wait_green", .run = state_restart_wait_green, .deadline_s = 1800,        \
	 .next = "restart_next"},                                                                  \
	{.name = "restore_allocation", .run = state_restart_resume_allocation, .deadline_s = 120,  \
	 .next = (then), .replay_safe = true}
/* clang-format on */

#endif
