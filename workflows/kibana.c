/*
 * kibana: add, resize or remove the cluster's Kibana.
 *
 *   its Service and Deployment applied (or, with 0 replicas, removed)
 *   → its pods ready (or gone) → the new spec recorded
 *
 * The API has put the new kibana.replicas in the spec the job carries
 * (params.spec).  Kibana keeps nothing: its Deployment rolls by itself,
 * and no Elasticsearch node restarts.
 */
#include "workflows/workflows.h"
#include "states/cluster.h"

static const struct wf_state kibana_states[] = {
	/* name              handler              deadline attempts next        replay */
	{"apply_kibana", state_apply_kibana, 120, 0, "wait_kibana", true},
	{"wait_kibana", state_wait_kibana, 600, 0, "record_spec", true},
	{"record_spec", state_record_spec, 60, 0, NULL, true},
};

const struct workflow wf_kibana = {
	.kind = "kibana",
	.states = kibana_states,
	.nstates = sizeof(kibana_states) / sizeof(kibana_states[0]),
};
