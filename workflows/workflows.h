/* The operations esaasd ships, registered in one place. */
#ifndef ESAAS_WORKFLOWS_H
#define ESAAS_WORKFLOWS_H

#include <stdbool.h>
#include <stddef.h>
#include "engine/registry.h"

extern const struct workflow wf_create;
extern const struct workflow wf_delete;
extern const struct workflow wf_scale;
extern const struct workflow wf_restart;
extern const struct workflow wf_config_update;
extern const struct workflow wf_plugin_install;
extern const struct workflow wf_plugin_remove;
extern const struct workflow wf_kibana;

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
 * unsafely, or count one that never restarted.  Through restart_next a pod
 * already replaced is found gone (its uid no longer matches), not deleted
 * twice.
 */
#define WF_ROLLING_RESTART(then)                                                                     \
	{"restart_plan", state_restart_plan, 60, 0, "restart_next", true},                           \
		{"restart_next", state_restart_next, 120, 0, "restart_check", true},                 \
		{"restart_check", state_restart_check, 1800, 0, "restart_pause", true},              \
		{"restart_pause", state_restart_pause, 120, 0, "restart_flush", false},              \
		{"restart_flush", state_restart_flush, 300, 0, "restart_delete_pod", false},         \
		{"restart_delete_pod", state_restart_delete_pod, 120, 0, "restart_wait_pod", false}, \
		{"restart_wait_pod", state_restart_wait_pod, 900, 0, "restart_wait_joined", false},  \
		{"restart_wait_joined",                                                              \
		 state_restart_wait_joined,                                                          \
		 600,                                                                                \
		 0,                                                                                  \
		 "restart_resume_allocation",                                                        \
		 false},                                                                             \
		{"restart_resume_allocation",                                                        \
		 state_restart_resume_allocation,                                                    \
		 120,                                                                                \
		 0,                                                                                  \
		 "restart_wait_green",                                                               \
		 false},                                                                             \
		{"restart_wait_green", state_restart_wait_green, 1800, 0, "restart_next", false},    \
	{                                                                                            \
		"restore_allocation", state_restart_resume_allocation, 120, 0, then, true            \
	}

bool workflows_register_all(struct wf_registry *reg, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
