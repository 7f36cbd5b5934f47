/*
 * create: a new Elasticsearch cluster, in the order a person would build it.
 *
 *   namespace → its quota (what the spec's pods need) → config → services
 *   → masters → the masters elect
 *   → data nodes → clients → every pod ready → health green
 *   → disruption budgets → Kibana, when asked for, and its pods ready
 *   → the cluster is recorded ready, with its endpoint
 *
 * Each apply is server-side apply, so any state can run again; each wait
 * has a deadline and says what it last saw ("2 of 7 pods ready; es-data-2
 * Pending: 0/4 nodes are available: ...").
 */
#include "workflows/workflows.h"
#include "states/cluster.h"

static const struct wf_state create_states[] = {
	/* name                  handler                     deadline attempts next         replay */
	{"apply_namespace", state_apply_namespace, 120, 0, "apply_quota", true},
	{"apply_quota", state_apply_quota, 120, 0, "apply_config", true},
	{"apply_config", state_apply_config, 120, 0, "apply_services", true},
	{"apply_services", state_apply_services, 120, 0, "apply_masters", true},
	{"apply_masters", state_apply_masters, 120, 0, "wait_masters_formed", true},
	{"wait_masters_formed", state_wait_masters_formed, 600, 0, "apply_data", true},
	{"apply_data", state_apply_data, 120, 0, "apply_clients", true},
	{"apply_clients", state_apply_clients, 120, 0, "wait_pods_ready", true},
	{"wait_pods_ready", state_wait_pods_ready, 900, 0, "wait_green", true},
	{"wait_green", state_wait_green, 900, 0, "apply_pdbs", true},
	{"apply_pdbs", state_apply_pdbs, 120, 0, "apply_kibana", true},
	{"apply_kibana", state_apply_kibana, 120, 0, "wait_kibana", true},
	{"wait_kibana", state_wait_kibana, 600, 0, "record_ready", true},
	{"record_ready", state_record_ready, 60, 0, NULL, true},
};

const struct workflow wf_create = {
	.kind = "create",
	.states = create_states,
	.nstates = sizeof(create_states) / sizeof(create_states[0]),
};
