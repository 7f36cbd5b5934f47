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
#include "workflows/request.h"
#include "kube/spec.h"

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

/* --- the request ------------------------------------------------------------------ */

/* {"replicas": N}: a Kibana next to the cluster (0 removes it). */
static bool kibana_request(const struct wf_request *rq, json_t **params, struct wf_refusal *why)
{
	static const char *const fields[] = {"replicas", NULL};
	json_t *replicas = json_object_get(rq->body, "replicas");

	if (!wf_request_fields(rq->body, fields, why))
		return false;
	if (!json_is_integer(replicas) || json_integer_value(replicas) < 0 ||
	    json_integer_value(replicas) > SPEC_KIBANA_REPLICAS_MAX)
		return wf_refuse(why, 422, "invalid", "replicas",
				 "replicas must be an integer from 0 to %d",
				 SPEC_KIBANA_REPLICAS_MAX);
	*params = json_pack("{s:O}", "replicas", replicas);
	return true;
}

/* The job gets the spec with the new kibana.replicas. */
static bool kibana_prepare(json_t *record, json_t *params, struct wf_refusal *why)
{
	json_t *next = json_deep_copy(record);
	json_int_t replicas = json_integer_value(json_object_get(params, "replicas"));
	struct spec spec;

	if (replicas > 0)
		json_object_set_new(next, "kibana", json_pack("{s:I}", "replicas", replicas));
	else
		json_object_del(next, "kibana");
	if (!wf_record_spec(next, &spec, why)) {
		json_decref(next);
		return false;
	}
	spec_free(&spec);
	json_object_set_new(params, "spec", next);
	return true;
}

const struct workflow wf_kibana = {
	.kind = "kibana",
	.states = kibana_states,
	.nstates = sizeof(kibana_states) / sizeof(kibana_states[0]),
	.request = kibana_request,
	.prepare = kibana_prepare,
};
