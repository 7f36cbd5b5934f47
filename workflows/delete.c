/*
 * delete: remove a cluster's Kubernetes objects.
 *
 *   without wipe_data ─────────────────────────────────────────┐
 *   with wipe_data: note the hosts its pods run on → delete the │
 *   StatefulSets → wait until no Elasticsearch pod is left →     │
 *   room in the namespace's quota for one wipe pod per host →    │
 *   one pod per host empties <root>/<namespace> → wait until     │
 *   each has finished ──────────────────────────────────────────┴→
 *   delete the namespace (foreground: its objects first) → wait until it
 *   is gone → the cluster is recorded deleted, and its name is free again
 *
 * Without wipe_data the data stays on the hosts' disks (hostPath), as the
 * design promises: a cluster created again with the same name on the same
 * hosts finds it.
 */
#include "workflows/workflows.h"
#include "states/cluster.h"

static const struct wf_state delete_states[] = {
	/* name                  handler                     deadline attempts next         replay */
	{"delete_plan", state_delete_plan, 60, 0, "stop_workloads", true},
	{"stop_workloads", state_stop_workloads, 120, 0, "wait_pods_gone", true},
	{"wait_pods_gone", state_wait_pods_gone, 600, 0, "wipe_quota", true},
	{"wipe_quota", state_wipe_quota, 120, 0, "wipe_hosts", true},
	{"wipe_hosts", state_wipe_hosts, 120, 0, "wait_wiped", true},
	{"wait_wiped", state_wait_wiped, 1800, 0, "delete_namespace", true},
	{"delete_namespace", state_delete_namespace, 120, 0, "wait_namespace_gone", true},
	{"wait_namespace_gone", state_wait_namespace_gone, 900, 0, "record_deleted", true},
	{"record_deleted", state_record_deleted, 60, 0, NULL, true},
};

const struct workflow wf_delete = {
	.kind = "delete",
	.states = delete_states,
	.nstates = sizeof(delete_states) / sizeof(delete_states[0]),
};
