/*
 * create: a new Elasticsearch cluster, in the order a person would build it.
 *
 *   namespace → its quota (what the spec's pods need) → its network
 *     policies (default-deny, then the cluster's pods, esaas and the
 *     tenant's sources) → config → services
 *   → the data volumes (a StorageClass, a PersistentVolume per node and
 *     role that keeps data) → masters, told to bootstrap → the masters
 *     elect (a cluster uuid) → the masters' config without
 *     cluster.initial_master_nodes (for the first formation only; no
 *     restart: it is read at a node's start, and ignored once the node has
 *     joined) → data nodes → clients → every pod ready → every node joined
 *   → health green
 *   → with "restore" (a snapshot of another cluster of the tenant): its
 *     folder registered read-only, the snapshot restored, green again,
 *     each index's documents checked against what the snapshot recorded
 *   → disruption budgets → Kibana, when asked for, and its pods ready
 *   → the cluster is recorded ready, with its endpoint
 *
 * Each apply is server-side apply, so any state can run again; each wait
 * has a deadline and says what it last saw ("2 of 7 pods ready; es-data-2
 * Pending: 0/4 nodes are available: ...").
 *
 * A create changes no setting it must undo, so every step but the first
 * is a safe boundary for a pause (pause_safe): the cluster waits, half
 * built, with nothing held, and goes on from the next step on resume.
 */
#include "workflows/workflows.h"
#include "workflows/request.h"
#include "states/states.h"
#include "kube/render.h"
#include "kube/spec.h"
#include "common/util.h"
#include "common/json.h"
#include "states/env.h"

#include <stdlib.h>

/* clang-format off */
static const struct wf_state create_states[] = {
	{.name = "apply_namespace", .run = state_apply_namespace, .deadline_s = 120,
	 .next = "apply_quota", .replay_safe = true},
	{.name = "apply_quota", .run = state_apply_quota, .deadline_s = 120,
	 .next = "apply_network", .replay_safe = true, .pause_safe = true},
	{.name = "apply_network", .run = state_apply_network, .deadline_s = 120,
	 .next = "apply_security", .replay_safe = true, .pause_safe = true},
	{.name = "apply_security", .run = state_apply_security, .deadline_s = 120,
	 .next = "apply_config", .replay_safe = true, .pause_safe = true},
	{.name = "apply_config", .run = state_apply_config, .deadline_s = 120,
	 .next = "apply_services", .replay_safe = true, .pause_safe = true},
	{.name = "apply_services", .run = state_apply_services, .deadline_s = 120,
	 .next = "apply_volumes", .replay_safe = true, .pause_safe = true},
	{.name = "apply_volumes", .run = state_apply_volumes, .deadline_s = 120,
	 .next = "apply_masters", .replay_safe = true, .pause_safe = true},
	{.name = "apply_masters", .run = state_apply_masters, .deadline_s = 120,
	 .next = "wait_masters_formed", .replay_safe = true, .pause_safe = true},
	{.name = "wait_masters_formed", .run = state_wait_masters_formed, .deadline_s = 600,
	 .next = "apply_config_formed", .replay_safe = true, .pause_safe = true},
	{.name = "apply_config_formed", .run = state_apply_config, .deadline_s = 120,
	 .next = "apply_data", .replay_safe = true, .pause_safe = true},
	{.name = "apply_data", .run = state_apply_data, .deadline_s = 120,
	 .next = "apply_clients", .replay_safe = true, .pause_safe = true},
	{.name = "apply_clients", .run = state_apply_clients, .deadline_s = 120,
	 .next = "wait_pods_ready", .replay_safe = true, .pause_safe = true},
	{.name = "wait_pods_ready", .run = state_wait_pods_ready, .deadline_s = 900,
	 .next = "wait_joined", .replay_safe = true, .pause_safe = true},
	{.name = "wait_joined", .run = state_wait_joined, .deadline_s = 600,
	 .next = "wait_green", .replay_safe = true, .pause_safe = true},
	{.name = "wait_green", .run = state_wait_green, .deadline_s = 900,
	 .next = "restore_repository", .replay_safe = true, .pause_safe = true},
	/* With "restore": the source's snapshot into the new cluster. */
	{.name = "restore_repository", .run = state_restore_repository, .deadline_s = 120,
	 .next = "restore_start", .replay_safe = true, .pause_safe = true},
	{.name = "restore_start", .run = state_restore_start, .deadline_s = 300,
	 .next = "restore_wait_green", .replay_safe = true, .pause_safe = true},
	{.name = "restore_wait_green", .run = state_restore_wait_green, .deadline_s = 3600,
	 .next = "restore_verify", .replay_safe = true},
	{.name = "restore_verify", .run = state_restore_verify, .deadline_s = 300,
	 .next = "set_kibana_password", .replay_safe = true, .pause_safe = true},
	{.name = "set_kibana_password", .run = state_set_kibana_password, .deadline_s = 120,
	 .next = "apply_pdbs", .replay_safe = true, .pause_safe = true},
	{.name = "apply_pdbs", .run = state_apply_pdbs, .deadline_s = 120,
	 .next = "apply_kibana", .replay_safe = true, .pause_safe = true},
	{.name = "apply_kibana", .run = state_apply_kibana, .deadline_s = 120,
	 .next = "wait_kibana", .replay_safe = true, .pause_safe = true},
	{.name = "wait_kibana", .run = state_wait_kibana, .deadline_s = 600,
	 .next = "record_ready", .replay_safe = true, .pause_safe = true},
	{.name = "record_ready", .run = state_record_ready, .deadline_s = 60, .replay_safe = true,
	 .pause_safe = true},
};
/* clang-format on */

static void create_places_cb(void *arg, int places, const char *error)
{
	struct wf_precheck *p = arg;
	(void)error; /* unread, the nodes warn of nothing: the waits will say */
	wf_warn_places(p->params, json_object_get(p->params, "spec"), NULL, places);
	wf_plugin_files_precheck(p->env, p->tenant, p->params, NULL, NULL, p->done, p->arg);
	wf_precheck_free(p);
}

/* Can the nodes place every role's pods?  If not, the answer says so at
 * once (a warning); the create goes on, and its wait says what is Pending.
 * Has the plugin repository every plugin's file?  If not, 422 naming the
 * plugin (wf_plugin_files_precheck): no pod would get past its install. */
static void create_precheck(void *env, const char *tenant, const char *ns, json_t *params,
			    void (*done)(void *arg, const struct wf_refusal *why), void *arg)
{
	/* A restore registers the source's repository in the new cluster:
	 * the same storage rules as a snapshot's. */
	struct wf_env *e = env;
	struct es_version v;
	const char *version = json_str(json_object_get(params, "spec"), "version");
	char msg[768];
	if (json_object_get(params, "restore") && version && es_version_parse(version, &v) &&
	    !states_snapshots_ready(e ? e->cfg : NULL, tenant, &v, msg, sizeof(msg))) {
		struct wf_refusal why = {0};
		wf_refuse(&why, 409, "not_configured", "restore", "%s", msg);
		done(arg, &why);
		return;
	}
	struct wf_precheck *p = wf_precheck_new(env, tenant, ns, params, done, arg);
	states_read_places(env, json_object_get(params, "spec"), create_places_cb, p);
}

/* Every pod of the spec is created: masters first, then data, then clients. */
static void create_preview(json_t *params, json_t *live, json_t *plan)
{
	static const enum es_role order[] = {ES_ROLE_MASTER, ES_ROLE_DATA, ES_ROLE_CLIENT};
	struct spec spec;
	struct spec_error serr;
	json_t *pods = json_array();

	(void)live;
	if (spec_parse(json_object_get(params, "spec"), &spec, &serr)) {
		for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
			for (int i = 0; i < spec.nodes[order[k]].replicas; i++) {
				/* The clients' Deployment names its pods itself. */
				char *pod = order[k] == ES_ROLE_CLIENT
						    ? NULL
						    : xasprintf("%s-%d",
								render_workload_name(order[k]), i);
				json_array_append_new(pods,
						      json_pack("{s:s?, s:s, s:s}", "name", pod,
								"role", es_role_name(order[k]),
								"action", "create"));
				free(pod);
			}
		spec_free(&spec);
	}
	json_object_set_new(plan, "pods", pods);
}

const struct workflow wf_create = {
	.kind = "create",
	.states = create_states,
	.nstates = sizeof(create_states) / sizeof(create_states[0]),
	.precheck = create_precheck,
	.preview = create_preview,
};
