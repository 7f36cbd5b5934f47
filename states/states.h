/*
 * Steps on a cluster's Kubernetes objects and its Elasticsearch, one FSM
 * state's action each.  They read the cluster spec from the job's params
 * ("spec"), render its objects, and are safe to run twice: objects are
 * written with server-side apply, and waits only look.
 */
#ifndef ESAAS_STATES_STATES_H
#define ESAAS_STATES_STATES_H

#include <jansson.h>

#include "engine/fsm.h"
#include "es/version.h"

struct step;
struct config;
struct render_s3;
struct es_version;

/*
 * How many ways out (step_branch) a handler has: its enum's count, 0 for a
 * handler that only goes to .next.  The workflows check every row against
 * it when they register.
 */
int state_ways(state_run_fn run);

/* Apply the rendered objects of one kind (and role, for workloads). */
void state_apply_namespace(struct step *s);
void state_apply_config(struct step *s);
/* A create's security (6.8+ with elasticsearch.security): made once, kept
 * in the job's context (and so with the cluster), its Secret applied. */
void state_apply_security(struct step *s);
/* kibana_system's password (kibana before 7.8) set in Elasticsearch, as
 * elastic, from the cluster's security; nothing without security. */
void state_set_kibana_password(struct step *s);
void state_apply_services(struct step *s);
void state_apply_masters(struct step *s);
void state_apply_data(struct step *s);
void state_apply_clients(struct step *s);
void state_apply_pdbs(struct step *s);

/* The namespace's ResourceQuota (kube/render.h): exactly the spec's
 * (params.spec), or raised to at least the spec's, never lowered, before
 * the cluster grows. */
void state_apply_quota(struct step *s);
/* The namespace's NetworkPolicies (kube/render_netpol.c), before any pod. */
void state_apply_network(struct step *s);
void state_apply_volumes(struct step *s);
void state_raise_quota(struct step *s);

/* Wait until the masters answer with a cluster uuid (they have elected). */
void state_wait_masters_formed(struct step *s);
/* Wait until every pod of every role is ready. */
void state_wait_pods_ready(struct step *s);
/* Wait until every node the spec expects (a scale's: context.to of
 * context.role) is in _cat/nodes: joined, not only ready. */
void state_wait_joined(struct step *s);
/* Wait until cluster health is green. */
void state_wait_green(struct step *s);

/* Record the cluster as ready, with its endpoint, when the job ends. */
void state_record_ready(struct step *s);

/* Delete the cluster's namespace (and so every object in it); the data on
 * the hosts' disks stays. */
void state_delete_namespace(struct step *s);
/* Wait until the namespace is gone. */
void state_wait_namespace_gone(struct step *s);
void state_delete_volumes(struct step *s);
/* Record the cluster as deleted when the job ends. */
void state_record_deleted(struct step *s);

/* scale: plan (context: role, from, to, leaving nodes); for data nodes
 * check the copies, exclude the leaving nodes from allocation, wait until
 * they hold no shard; for masters the new elasticsearch.yml, zen1's quorum
 * or zen2's voting exclusions; the quota raised for context.to nodes
 * before they come, or fitted to them once the others have gone; scale the
 * workload, wait for its pods, clear what was set, record the new spec. */
void state_scale_plan(struct step *s);
/* Where the plan leads: every way is a branch, none is .next. */
enum scale_plan_way {
	SCALE_PLAN_UNCHANGED,	     /* from == to: check health, record */
	SCALE_PLAN_DATA_DOWN,	     /* check the copies fit first */
	SCALE_PLAN_DATA_DOWN_FORCED, /* "force": straight to the exclusion */
	SCALE_PLAN_UP,		     /* data or clients up: quota first */
	SCALE_PLAN_CLIENTS_DOWN,     /* they hold no shard: scale at once */
	SCALE_PLAN_ZEN1_GROW,
	SCALE_PLAN_ZEN1_SHRINK,
	SCALE_PLAN_ZEN2_GROW,
	SCALE_PLAN_ZEN2_SHRINK,
	SCALE_PLAN_WAYS
};
/* The plan's choice, from the live count (from), the asked one (to), the
 * cluster's coordination and the request's "force". */
enum scale_plan_way scale_plan_way(enum es_role role, int from, int to, bool zen1, bool force);
void state_check_copies(struct step *s);
/* Masters, one at a time: the next step's context.from, context.to and
 * context.leaving, one master apart; or none left. */
void state_masters_next(struct step *s);
enum masters_next_way {
	MASTERS_NEXT_NONE_LEFT,
	MASTERS_NEXT_WAYS
};
void state_scale_config(struct step *s);
void state_masters_quorum(struct step *s);
void state_voting_exclude(struct step *s);
void state_voting_clear(struct step *s);
void state_exclude_nodes(struct step *s);
void state_wait_drained(struct step *s);
void state_scale_raise_quota(struct step *s);
void state_scale_fit_quota(struct step *s);
/* The es-http Service when clients cross 0: to the data nodes before the
 * last client goes, to the clients once they are back and Ready. */
void state_http_to_data(struct step *s);
void state_http_to_clients(struct step *s);
/* cleanup: a scale-up back to the count it started from, and its quota */
void state_scale_undo(struct step *s);
void state_scale_undo_quota(struct step *s);
/* cleanup: zen1's minimum_master_nodes back to a majority of the masters present */
void state_quorum_undo(struct step *s);
void state_scale_workload(struct step *s);
void state_wait_scaled(struct step *s);
void state_clear_exclusion(struct step *s);
void state_record_scaled(struct step *s);

/* restart, one pod at a time (context.pending / context.restarted). */
void state_restart_plan(struct step *s);
/*
 * The plan: of a pod list's items, the cluster's Elasticsearch pods that
 * params ask for ({"role": "data"|"clients"|"masters"} or {"nodes": [...]};
 * neither: all), none on its way out, as [{"name", "uid", "role"}]: data
 * first, then clients, masters last, each role by name.  (The elected
 * master goes last of all: restart_check finds it at its turn.)
 */
json_t *restart_plan_pods(json_t *params, json_t *items);
void state_restart_next(struct step *s);
/* .next: the next pod's turn; or no pod is left. */
enum restart_next_way {
	RESTART_NEXT_NONE_LEFT,
	RESTART_NEXT_WAYS
};
void state_restart_check(struct step *s);
void state_restart_pause(struct step *s);
void state_restart_wait_joined(struct step *s);
void state_restart_flush(struct step *s);
void state_restart_delete_pod(struct step *s);
void state_restart_wait_pod(struct step *s);
void state_restart_resume_allocation(struct step *s);
void state_restart_wait_green(struct step *s);

/* config_update: the dynamic settings first, route (a rolling restart for
 * a static one), record the new spec; the cleanup writes the recorded
 * spec's ConfigMaps back. */
void state_config_route(struct step *s);
/* .next: only dynamic settings; or a static one needs a rolling restart. */
enum config_route_way {
	CONFIG_ROUTE_STATIC,
	CONFIG_ROUTE_WAYS
};
void state_apply_dynamic(struct step *s);
void state_record_spec(struct step *s);
void state_undo_config(struct step *s);
void state_undo_dynamic(struct step *s);

/* delete: the namespace is the cluster's; with params.wipe_data, the
 * hosts that may hold its data.  Then the workloads stopped; with
 * wipe_data, room in the quota for the wipe pods and one pod per host
 * empties the cluster's folder; then the namespace. */
void state_delete_plan(struct step *s);
void state_stop_workloads(struct step *s);
void state_wait_pods_gone(struct step *s);
void state_wipe_route(struct step *s);
/* .next: the data is wiped; or it is kept, and the namespace goes. */
enum wipe_route_way {
	WIPE_ROUTE_KEEP_DATA,
	WIPE_ROUTE_WAYS
};
void state_wipe_quota(struct step *s);
void state_wipe_hosts(struct step *s);
void state_wait_wiped(struct step *s);

/* Kibana (spec.kibana.replicas): applied, or removed with 0; its pods ready
 * or gone. */
void state_apply_kibana(struct step *s);
void state_wait_kibana(struct step *s);

/* plugins: the file in the repository (install), the StatefulSets with the
 * new list, a rolling restart, then _cat/plugins on every node. */
void state_plugin_check_repository(struct step *s);
void state_apply_workloads(struct step *s);
void state_plugin_verify(struct step *s);

/* upgrade: every plugin of params.spec in the repository for the target
 * version; the way (rolling or a full cluster restart); the full
 * restart's stop of every old node and the wait for the new ones; after a
 * cancel or a failure, the configuration and StatefulSets back when no node
 * runs the target yet, and which version each node runs (context.versions). */
void state_upgrade_check_plugins(struct step *s);
void state_upgrade_route(struct step *s);
/* .next: rolling, one node at a time; or every node stopped, then started. */
enum upgrade_route_way {
	UPGRADE_ROUTE_FULL_RESTART,
	UPGRADE_ROUTE_WAYS
};
void state_upgrade_snapshot_route(struct step *s);
/* .next: no snapshot (params.snapshot false); or one taken first. */
enum upgrade_snapshot_way {
	UPGRADE_SNAPSHOT_TAKE,
	UPGRADE_SNAPSHOT_WAYS
};
void state_upgrade_stop_all(struct step *s);
/* secure (workflows/secure.c) */
void state_secure_make(struct step *s);
/* .next: the cluster had no security; or it has it from before esaas had
 * a user of its own, which is all that is made (secure_user_secret, then
 * set_kibana_password). */
enum secure_make_way {
	SECURE_MAKE_USER_ONLY,
	SECURE_MAKE_WAYS
};
void state_secure_switch(struct step *s);
void state_secure_user_secret(struct step *s);
void state_secure_undo(struct step *s);
void state_upgrade_wait_started(struct step *s);
void state_upgrade_wait_primaries(struct step *s);
void state_upgrade_undo_config(struct step *s);
void state_upgrade_undo_workloads(struct step *s);
void state_upgrade_report(struct step *s);

/*
 * For the API, before a data scale-down is queued: the shard copies the
 * worst index of the cluster needs (es/client.h), read from the cluster.
 * cb gets worst, or NULL and why it could not be read.  Asynchronous.
 */
struct wf_env;
struct es_shard_copies;
typedef void (*states_copies_cb)(void *arg, const struct es_shard_copies *worst, const char *error);
void states_read_shard_copies(struct wf_env *env, const char *tenant, const char *ns,
			      json_t *spec_json, states_copies_cb cb, void *arg);
/* GET /_all (the get index API) of the cluster in spec_json ({"index":
 * {"aliases": {...}, "mappings": {...}, "settings": {"index": {...}}}},
 * borrowed), or NULL and why, for a precheck.  Both
 * reads go to namespace ns, the one stored with the cluster (NULL: the
 * tenant's new namespace for the spec's name, render_namespace()). */
typedef void (*states_indices_cb)(void *arg, json_t *indices, const char *error);
void states_read_indices(struct wf_env *env, const char *tenant, const char *ns, json_t *spec_json,
			 states_indices_cb cb, void *arg);
/* GET path (es_deprecations_path()) of the cluster, as states_read_indices. */
void states_read_deprecations(struct wf_env *env, const char *tenant, const char *ns,
			      json_t *spec_json, const char *path, states_indices_cb cb, void *arg);
/*
 * The disk headroom of the cluster's data nodes against the low watermark
 * in force (es/disk.h), as states_read_indices reads: cb(arg, report,
 * NULL) with report {"above": [a line per node above it], "near": [a line
 * per node within ES_DISK_MARGIN_PERCENT of it], "unreported": [nodes
 * whose usage Elasticsearch does not know], "off"?: why the watermark
 * holds no replica back} (borrowed), of the nodes named in only (node
 * names; NULL: every data node); or NULL and why.  With only, and the
 * decider on, also "drain": {"moving", "room" (bytes), "takers", "others",
 * "unreported", "high": the high watermark described}: what the other
 * data nodes could take of the shards of only's nodes (es_disk_drain).
 */
typedef void (*states_disk_cb)(void *arg, json_t *report, const char *error);
void states_read_disk(struct wf_env *env, const char *tenant, const char *ns, json_t *spec_json,
		      json_t *only, states_disk_cb cb, void *arg);
/*
 * How many nodes of one role the cluster's nodes can place, as the pods'
 * required anti-affinity allows: the schedulable nodes (spread: host), or
 * their racks (spread: rack); -1 and the error when they cannot be read.
 */
typedef void (*states_places_cb)(void *arg, int places, const char *error);
void states_read_places(struct wf_env *env, json_t *spec_json, states_places_cb cb, void *arg);

/*
 * GET path on the live cluster of spec_json (as states_read_indices):
 * cb(arg, status, body, NULL) with the answer's status, body NULL unless
 * it is a success; status 0 and why when it could not be asked.
 */
typedef void (*states_read_cb)(void *arg, long status, json_t *body, const char *error);
void states_read_es(struct wf_env *env, const char *tenant, const char *ns, json_t *spec_json,
		    const char *path, states_read_cb cb, void *arg);

/* --- the plugin repository (states/plugins.c) --- */

/* What states_check_plugin_files found: url and error NULL when every file
 * is there; else the first file that is not (url, with the repository's
 * status, or the transport's error, transient when worth another try), or
 * no url and why none could be looked for (no repository configured). */
struct states_repo_answer {
	const char *url;
	const char *plugin; /* url's */
	long status;
	bool transient;
	const char *error;
};
typedef void (*states_repo_cb)(void *arg, const struct states_repo_answer *a);
struct states_repo_check;
/*
 * HEAD each plugin file of spec_json's version in the plugin repository
 * (kubernetes.plugin_repository): only's, or every plugin of the spec and
 * the one the tenant's snapshot repository needs; each HEAD within
 * timeout_ms.  NULL when cb has run already; else the check, whose cb runs
 * later from the loop, unless states_repo_check_cancel() stops it first.
 */
struct states_repo_check *states_check_plugin_files(struct wf_env *env, const char *tenant,
						    json_t *spec_json, const char *only,
						    long timeout_ms, states_repo_cb cb, void *arg);
void states_repo_check_cancel(struct states_repo_check *c);

/* --- snapshots (states/snapshot.c) --- */

/* Register the cluster's repository (RENDER_SNAPSHOT_REPO, kube/render.h),
 * take the snapshot (states_snapshot_name), wait until it has ended;
 * cleanup: abort and remove a snapshot the job left running. */
void state_snapshot_repository(struct step *s);
void state_snapshot_take(struct step *s);
void state_snapshot_wait(struct step *s);
void state_snapshot_abort(struct step *s);
/* The spec's snapshots.keep: the oldest beyond it deleted. */
void state_snapshot_prune(struct step *s);
/* A create's restore (params.restore: {"cluster", "namespace", "snapshot",
 * "indices"}; each goes straight on without it): the source's folder
 * registered read-only (RENDER_RESTORE_REPO), the snapshot restored, then
 * each index checked against the document counts the snapshot recorded. */
void state_restore_repository(struct step *s);
void state_restore_start(struct step *s);
void state_restore_wait_green(struct step *s);
void state_restore_verify(struct step *s);
/* snapshots.s3_* and tenant's keys as render_opts.s3 has them, or NULL
 * without object storage; good until the next call (of this or
 * states_render_opts()). */
const struct render_s3 *states_s3_opts(const struct config *cfg, const char *tenant);
/*
 * Can the tenant's cluster of version v (NULL: any) have snapshots from
 * this configuration?  Else false, with why: what is not configured, or
 * which version object storage needs, or which keys the tenant lacks.
 */
bool states_snapshots_ready(const struct config *cfg, const char *tenant,
			    const struct es_version *v, char *why, size_t whylen);
/* The job's snapshot: params.snapshot, or "<kind>-<job id>"; kept in
 * context.snapshot_name (borrowed from the context). */
const char *states_snapshot_name(struct step *s);
/*
 * The cluster's snapshots in its repository, oldest first: [{"name",
 * "state", "start_time", "end_time", "duration_ms", "indices", "shards",
 * "size_bytes", "version"}] (borrowed), an empty list without a
 * repository; or NULL and why.
 */
typedef void (*states_snapshots_cb)(void *arg, json_t *list, const char *error);
void states_read_snapshots(struct wf_env *env, const char *tenant, const char *ns,
			   json_t *spec_json, states_snapshots_cb cb, void *arg);

/* --- a job's preview (?dry_run=true, states/preview.c) --- */

/*
 * Read the live cluster of spec_json (tenant's, in namespace ns) without
 * changing anything: live is {"namespace", "pods": the cluster's pods (the
 * list's items), "nodes": _cat/nodes rows, "health": _cluster/health,
 * "shards": _cat/shards rows, "errors": [what could not be read, and
 * why]}, each key but errors missing when it could not be read; borrowed.
 */
typedef void (*states_live_cb)(void *arg, json_t *live);
void states_read_live(struct wf_env *env, const char *tenant, const char *ns, json_t *spec_json,
		      states_live_cb cb, void *arg);
/* The pods a rolling restart of params takes, in its order
 * (restart_plan_pods()), the elected master moved last as
 * state_restart_check() does; a new array. */
json_t *preview_rolling_pods(json_t *params, json_t *live);
/* The way a state of the rolling restart goes in a preview of npods pods
 * (wf_choose_fn's answer). */
int preview_rolling_choose(const struct wf_state *st, int visit, int npods);
/* [{"name", "role", "action"}] of restart_plan_pods()'s entries; a new array. */
json_t *preview_pod_actions(json_t *pods, const char *action);
/* The live pods of role ("master", "data", "client"), none on its way out. */
int preview_live_pods(json_t *live, const char *role);
/* _cat/shards' human size ("225b", "1.5kb", "3gb") in bytes; -1 when unreadable. */
int64_t preview_store_bytes(const char *text);
/* Of _cat/shards rows, the most copies one shard has ("index/shard" into
 * worst); 0 for none. */
int preview_most_copies(json_t *rows, char *worst, size_t len);
/* The copies on the named nodes: {"count", "bytes", "copies": ["index/shard", ...]}. */
json_t *preview_shards_on(json_t *rows, json_t *nodes);
/* The namespace's quota (spec.hard, kube/render.h) for the spec before and
 * after the job: {"before", "after"}, each null for no cluster. */
json_t *states_preview_quota(void *env, const char *tenant, const char *ns, json_t *before,
			     json_t *after);

#endif
