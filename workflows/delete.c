/*
 * delete: remove a cluster's Kubernetes objects.
 *
 *   delete the namespace (foreground: its objects first) → wait until it
 *   is gone → the cluster is recorded deleted, and its name is free again
 *
 * The data stays on the hosts' disks (hostPath), as the design promises:
 * a cluster created again with the same name on the same hosts finds it.
 */
#include "workflows/workflows.h"
#include "states/cluster.h"

static const struct wf_state delete_states[] = {
	/* name                  handler                     deadline attempts next         replay */
	{"delete_namespace", state_delete_namespace, 120, 0, "wait_namespace_gone", true},
	{"wait_namespace_gone", state_wait_namespace_gone, 900, 0, "record_deleted", true},
	{"record_deleted", state_record_deleted, 60, 0, NULL, true},
};

const struct workflow wf_delete = {
	.kind = "delete",
	.states = delete_states,
	.nstates = sizeof(delete_states) / sizeof(delete_states[0]),
};
