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
#include "states/cluster.h"

static const struct wf_state kibana_states[] = {
	/* name              handler              deadline attempts next        replay */
	{"raise_quota", state_raise_quota, 120, 0, "apply_kibana", true},
	{"apply_kibana", state_apply_kibana, 120, 0, "wait_kibana", true},
	{"wait_kibana", state_wait_kibana, 600, 0, "fit_quota", true},
	{"fit_quota", state_apply_quota, 120, 0, "record_spec", true},
	{"record_spec", state_record_spec, 60, 0, NULL, true},
};

const struct workflow wf_kibana = {
	.kind = "kibana",
	.states = kibana_states,
	.nstates = sizeof(kibana_states) / sizeof(kibana_states[0]),
};
