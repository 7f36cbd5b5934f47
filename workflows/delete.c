/*
 * delete: remove a cluster's Kubernetes objects.
 *
 *   the namespace is this cluster's (with wipe_data: note the hosts its
 *   pods run on) → delete the StatefulSets and Kibana's Deployment →
 *   wait until no pod is left (so that the namespace goes at once) →
 *   without wipe_data ──────────────────────────────────────────┐
 *   with wipe_data: room in the namespace's quota for one wipe    │
 *   pod per host → one pod per host empties <root>/<namespace> → │
 *   wait until each has finished ────────────────────────────────┴→
 *   delete the namespace (foreground: its objects first) → wait until it
 *   is gone → delete the cluster's PersistentVolumes and StorageClass
 *   (cluster-scoped; Released once the claims went with the namespace)
 *   → the cluster is recorded deleted, and its name is free again
 *
 * Without wipe_data the data stays on the hosts' disks (hostPath), as the
 * design promises: a cluster created again with the same name on the same
 * hosts finds it.
 */
#include "workflows/workflows.h"
#include "common/json.h"
#include "states/states.h"
#include "workflows/request.h"
#include "kube/render.h"

#include <string.h>

/* clang-format off */
static const struct wf_state delete_states[] = {
	{.name = "delete_plan", .run = state_delete_plan, .deadline_s = 60,
	 .next = "stop_workloads", .replay_safe = true},
	{.name = "stop_workloads", .run = state_stop_workloads, .deadline_s = 120,
	 .next = "wait_pods_gone", .replay_safe = true},
	{.name = "wait_pods_gone", .run = state_wait_pods_gone, .deadline_s = 600,
	 .next = "wipe_route", .replay_safe = true},
	{.name = "wipe_route", .run = state_wipe_route, .deadline_s = 60,
	 .next = "wipe_quota", .replay_safe = true,
	 WF_BRANCHES([WIPE_ROUTE_KEEP_DATA] = {"data kept", "delete_namespace"})},
	{.name = "wipe_quota", .run = state_wipe_quota, .deadline_s = 120,
	 .next = "wipe_hosts", .replay_safe = true},
	{.name = "wipe_hosts", .run = state_wipe_hosts, .deadline_s = 120,
	 .next = "wait_wiped", .replay_safe = true},
	{.name = "wait_wiped", .run = state_wait_wiped, .deadline_s = 1800,
	 .next = "delete_namespace", .replay_safe = true},
	{.name = "delete_namespace", .run = state_delete_namespace, .deadline_s = 120,
	 .next = "wait_namespace_gone", .replay_safe = true},
	{.name = "wait_namespace_gone", .run = state_wait_namespace_gone, .deadline_s = 900,
	 .next = "delete_volumes", .replay_safe = true},
	{.name = "delete_volumes", .run = state_delete_volumes, .deadline_s = 120,
	 .next = "record_deleted", .replay_safe = true},
	{.name = "record_deleted", .run = state_record_deleted, .deadline_s = 60,
	 .replay_safe = true},
};
/* clang-format on */

/* --- the request ------------------------------------------------------------------ */

/*
 * ?wipe_data=true (or a body {"wipe_data": true}): the hosts' folders of
 * the cluster are emptied too; otherwise the data stays on the hosts.
 */
static bool delete_request(const struct wf_request *rq, json_t **params, struct wf_refusal *why)
{
	static const char *const fields[] = {"wipe_data", NULL};
	const char *qv = json_str(rq->query, "wipe_data");
	json_t *bv = json_object_get(rq->body, "wipe_data");

	if (!wf_request_fields(rq->body, fields, why))
		return false;
	if ((qv && strcmp(qv, "true") != 0 && strcmp(qv, "false") != 0) ||
	    (bv && !json_is_boolean(bv)))
		return wf_refuse(why, 422, "invalid", "wipe_data",
				 "wipe_data must be true or false");
	*params = json_pack("{s:b}", "wipe_data",
			    (qv && strcmp(qv, "true") == 0) || json_is_true(bv));
	return true;
}

/* --- the preview ------------------------------------------------------------------ */

static int delete_choose(const struct wf_state *st, int visit, void *arg)
{
	(void)visit;
	if (st->run == state_wipe_route)
		return json_is_true(json_object_get(arg, "wipe_data")) ? -1 : WIPE_ROUTE_KEEP_DATA;
	return -1;
}

/* Every pod of the cluster goes with its namespace. */
static void delete_preview(json_t *params, json_t *live, json_t *plan)
{
	json_t *pods = json_array();
	size_t i;
	json_t *pod;

	json_object_set_new(plan, "states", wf_path(&wf_delete, delete_choose, params));
	json_array_foreach (json_object_get(live, "pods"), i, pod) {
		json_t *meta = json_object_get(pod, "metadata");
		json_array_append_new(
			pods,
			json_pack("{s:s?, s:s?, s:s}", "name", json_str(meta, "name"), "role",
				  json_str(json_object_get(meta, "labels"), RENDER_LABEL_ROLE),
				  "action", "delete"));
	}
	json_object_set_new(plan, "pods", pods);
	json_object_set_new(plan, "after_spec", json_null());
}

const struct workflow wf_delete = {
	.kind = "delete",
	.states = delete_states,
	.nstates = sizeof(delete_states) / sizeof(delete_states[0]),
	.request = delete_request,
	.preview = delete_preview,
};
