/*
 * delete with the data wiped: the hosts, the workloads stopped, room in
 * the quota, one pod per host emptying the cluster's folder.
 */
#include "states/states.h"
#include "common/json.h"
#include "states/internal.h"
#include "states/env.h"
#include "common/config.h"
#include "common/util.h"
#include "engine/fsm.h"
#include "es/client.h"
#include "kube/client.h"
#include "kube/render.h"
#include "kube/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * params.wipe_data: the hosts' folders of the cluster go too.  The hosts
 * are every one that may hold its data (context.hosts, kept for a replay):
 * those its pods run on, and those of its PersistentVolumes that were ever
 * bound, since a volume keeps its folder on its host after its pod has
 * gone (a scale-down, a pod moved while its host was away).  The workloads
 * go first, the quota makes room for the wipe pods, then one pod per host
 * empties <root>/<namespace>, then the namespace goes.
 */
static void hosts_listed_cb(void *arg, const struct kube_result *res);

/* A wipe empties <root>/<namespace>: of the cluster's own namespace only. */
static bool wiping(struct step *s)
{
	return json_is_true(json_object_get(step_params(s), "wipe_data"));
}

static void plan_owned(struct state_call *l, bool present)
{
	struct step *s = l->step;

	(void)present;
	if (!wiping(s) || json_is_array(json_object_get(step_context(s), "hosts"))) {
		/* Nothing to plan, or planned already: a replay. */
		states_call_report(l, true, false, NULL);
		return;
	}
	states_list_pods(l, NULL, hosts_listed_cb, l);
}

/* Whatever becomes of the data, nothing is stopped in a namespace that
 * another cluster holds. */
void state_delete_plan(struct step *s)
{
	struct state_call *l = states_call_new(s);
	if (l)
		states_check_owner(l, plan_owned);
}

void state_wipe_route(struct step *s)
{
	if (wiping(s))
		step_next(s);
	else
		step_branch(s, WIPE_ROUTE_KEEP_DATA);
}

static void add_host(json_t *hosts, const char *host)
{
	size_t k;
	json_t *h;
	if (!host || !*host)
		return;
	json_array_foreach (hosts, k, h)
		if (strcmp(json_string_value(h), host) == 0)
			return;
	json_array_append_new(hosts, json_string(host));
}

/* The nodes: a volume names its host by the kubernetes.io/hostname label,
 * a wipe pod by the node's name, which may differ. */
static void wipe_nodes_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	struct step *s = l->step;
	if (!states_call_kube_ok(l, res))
		return;
	json_t *hosts = json_object_get(l->nodes, "pods");
	size_t i, j;
	json_t *label, *node;
	json_array_foreach (json_object_get(l->nodes, "volumes"), i, label) {
		const char *name = json_string_value(label);
		json_array_foreach (json_object_get(res->body, "items"), j, node) {
			json_t *meta = json_object_get(node, "metadata");
			const char *hostname =
				json_str(json_object_get(meta, "labels"), RENDER_HOST_LABEL);
			if (hostname && strcmp(hostname, json_string_value(label)) == 0)
				name = json_str(meta, "name");
		}
		add_host(hosts, name);
	}
	json_object_set(step_context(s), "hosts", hosts);
	states_call_finish(l);
	step_next(s);
}

/* The hosts of the cluster's volumes that were ever bound (a claimRef):
 * their folders may hold its data, whether a pod runs there or not. */
static void wipe_volumes_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	l->kcall = NULL;
	if (res->klass != HTTPC_OK && res->status != 404) {
		states_call_report(l, false, res->klass == HTTPC_TRANSIENT, res->message);
		return;
	}
	json_t *labels = json_array();
	size_t i, t, e;
	json_t *pv, *term, *expr;
	json_array_foreach (json_object_get(res->body, "items"), i, pv) {
		json_t *spec = json_object_get(pv, "spec");
		if (!json_object_get(spec, "claimRef"))
			continue;
		json_t *terms = json_object_get(
			json_object_get(json_object_get(spec, "nodeAffinity"), "required"),
			"nodeSelectorTerms");
		json_array_foreach (terms, t, term)
			json_array_foreach (json_object_get(term, "matchExpressions"), e, expr) {
				const char *key = json_str(expr, "key");
				const char *op = json_str(expr, "operator");
				json_t *values = json_object_get(expr, "values");
				if (key && op && strcmp(key, RENDER_HOST_LABEL) == 0 &&
				    strcmp(op, "In") == 0 && json_array_size(values) == 1)
					add_host(labels,
						 json_string_value(json_array_get(values, 0)));
			}
	}
	json_object_set_new(l->nodes, "volumes", labels);
	char *path = kube_collection_path("v1", "Node", NULL);
	l->kcall = kube_list(l->env->kube, path, NULL, wipe_nodes_cb, l);
	free(path);
}

static void hosts_listed_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	l->kcall = NULL;
	struct step *s = l->step;
	if (res->klass != HTTPC_OK && res->status != 404) {
		states_call_report(l, false, true, res->message);
		return;
	}
	json_t *hosts = json_array();
	size_t i;
	json_t *pod;
	json_array_foreach (json_object_get(res->body, "items"), i, pod)
		add_host(hosts, json_string_value(
					json_object_get(json_object_get(pod, "spec"), "nodeName")));
	l->nodes = json_pack("{s:o}", "pods", hosts);
	char *path = kube_collection_path("v1", "PersistentVolume", NULL);
	char *sel = xasprintf("%s=%s,%s=%s", RENDER_LABEL_TENANT, step_tenant(s),
			      RENDER_LABEL_CLUSTER, l->r->spec.name);
	l->kcall = kube_list(l->env->kube, path, sel, wipe_volumes_cb, l);
	free(sel);
	free(path);
}

struct workload_delete {
	struct state_call *l;
	int role;
};

static void workload_deleted_cb(void *arg, const struct kube_result *res);

static void delete_next_workload(struct workload_delete *w)
{
	struct state_call *l = w->l;
	if (w->role > ES_ROLE_COUNT) {
		free(w);
		states_call_report(l, true, false, NULL);
		return;
	}
	/* Elasticsearch's StatefulSets, then Kibana's Deployment. */
	bool kibana = w->role == ES_ROLE_COUNT;
	char *coll = kube_collection_path(
		"apps/v1", kibana ? "Deployment" : render_workload_kind(w->role), l->r->ns);
	char *path = xasprintf("%s/%s", coll,
			       kibana ? RENDER_KIBANA_NAME : render_workload_name(w->role));
	w->role++;
	l->kcall = kube_delete(l->env->kube, path, "Foreground", NULL, workload_deleted_cb, w);
	free(path);
	free(coll);
}

static void workload_deleted_cb(void *arg, const struct kube_result *res)
{
	struct workload_delete *w = arg;
	w->l->kcall = NULL;
	if (res->klass == HTTPC_OK || res->status == 404) {
		delete_next_workload(w);
		return;
	}
	struct state_call *l = w->l;
	free(w);
	states_call_report(l, false, res->klass == HTTPC_TRANSIENT, res->message);
}

/*
 * The workloads go first, so that no node writes while its folder is
 * emptied, and so that the namespace goes at once: the namespace
 * controller, finding pods still there, looks again only after half their
 * termination grace plus a second
 * (pkg/controller/namespace/deletion/namespaced_resources_deleter.go,
 * estimateGracefulTerminationForPods; namespace_controller.go), a minute
 * for Elasticsearch's 120 s.
 */
void state_stop_workloads(struct step *s)
{
	struct state_call *l = states_call_new(s);
	if (!l)
		return;
	struct workload_delete *w = xcalloc(1, sizeof(*w));
	w->l = l;
	delete_next_workload(w);
}

static void es_pods_gone_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	struct step *s = l->step;
	if (!states_call_kube_ok(l, res))
		return;
	int left = 0, kibana = 0;
	size_t i;
	json_t *pod;
	json_array_foreach (json_object_get(res->body, "items"), i, pod) {
		const char *role = json_string_value(
			json_object_get(json_object_get(json_object_get(pod, "metadata"), "labels"),
					RENDER_LABEL_ROLE));
		const char *phase = json_str(json_object_get(pod, "status"), "phase");
		/* A pod that has ended (a wipe pod of an earlier run) holds
		 * nothing and delays nothing. */
		if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
			continue;
		if (role && (strcmp(role, "master") == 0 || strcmp(role, "data") == 0 ||
			     strcmp(role, "client") == 0))
			left++;
		else if (role && strcmp(role, RENDER_KIBANA_ROLE) == 0)
			kibana++;
	}
	int64_t wait_ms = states_wait_ms(l);
	states_call_finish(l);
	if (left == 0 && kibana == 0)
		step_next(s);
	else if (left > 0)
		step_wait(s, wait_ms, "%d Elasticsearch pods still running", left);
	else
		step_wait(s, wait_ms, "%d Kibana pods still running", kibana);
}

void state_wait_pods_gone(struct step *s)
{
	struct state_call *l = states_call_new(s);
	if (!l)
		return;
	states_list_pods(l, NULL, es_pods_gone_cb, l);
}

struct wipe_start {
	struct state_call *l;
	size_t next;
};

static void wipe_created_cb(void *arg, const struct kube_result *res);

static void wipe_next_host(struct wipe_start *w)
{
	struct state_call *l = w->l;
	struct step *s = l->step;
	json_t *hosts = json_object_get(step_context(s), "hosts");
	if (w->next >= json_array_size(hosts)) {
		free(w);
		states_call_report(l, true, false, NULL);
		return;
	}
	struct render_opts ro;
	states_render_opts(s, l->env, &ro, NULL);
	size_t i = w->next++;
	json_t *pod = render_wipe_pod(&l->r->spec, &ro, json_string_value(json_array_get(hosts, i)),
				      (int)i);
	char *path = kube_collection_path("v1", "Pod", l->r->ns);
	char *body = json_dumps(pod, JSON_COMPACT);
	l->kcall = kube_request(l->env->kube, "POST", path, "application/json", body,
				wipe_created_cb, w);
	free(body);
	free(path);
	json_decref(pod);
}

static void wipe_created_cb(void *arg, const struct kube_result *res)
{
	struct wipe_start *w = arg;
	w->l->kcall = NULL;
	/* 409: created by an earlier run of this state. */
	if (res->klass == HTTPC_OK || res->status == 409) {
		wipe_next_host(w);
		return;
	}
	struct state_call *l = w->l;
	free(w);
	/* The quota's room for the wipe pods counts once the quota controller
	 * has seen it (wipe_quota): until then admission refuses them. */
	bool not_yet = res->status == 403 && res->message && strstr(res->message, "exceeded quota");
	states_call_report(l, false, res->klass == HTTPC_TRANSIENT || not_yet, res->message);
}

/*
 * Room in the quota for the wipe pods, next to what the spec has: Kibana's
 * pods are still there while the hosts are wiped.  One pod per host, and
 * one more: a run after a failure creates again a pod that may exist, and
 * admission counts it before the API server finds it there (409).
 */
void state_wipe_quota(struct step *s)
{
	struct states_apply *a =
		states_apply_prepare(s, json_object_get(step_params(s), "spec"), NULL, NULL);
	if (!a)
		return;
	struct render_opts ro;
	states_render_opts(s, a->env, &ro, NULL);
	ro.wiping = true;
	int hosts = (int)json_array_size(json_object_get(step_context(s), "hosts"));
	json_t *roomy = render_quota(&a->r->spec, &ro, hosts + 1);
	json_t *quota = json_incref(render_find(a->r->objects, "ResourceQuota", RENDER_QUOTA_NAME));
	json_t *ns = json_incref(render_find(a->r->objects, "Namespace", a->r->ns));
	json_object_set(quota, "spec", json_object_get(roomy, "spec"));
	json_decref(roomy);
	/*
	 * The wipe pods mount the hosts' folders, which only the privileged
	 * Pod Security level admits (render_namespace_level()): the namespace
	 * says so from here on.  Its nodes have stopped, and the wipe pods
	 * are esaas's utility image, the only pods made in it until it goes.
	 */
	json_object_set_new(json_object_get(json_object_get(ns, "metadata"), "labels"),
			    "pod-security.kubernetes.io/enforce",
			    json_string(render_namespace_level(&ro)));
	json_array_clear(a->r->objects);
	json_array_append_new(a->r->objects, ns);
	json_array_append_new(a->r->objects, quota);
	states_apply_more(a);
}

void state_wipe_hosts(struct step *s)
{
	struct state_call *l = states_call_new(s);
	if (!l)
		return;
	struct wipe_start *w = xcalloc(1, sizeof(*w));
	w->l = l;
	wipe_next_host(w);
}

static void wiped_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	struct step *s = l->step;
	if (!states_call_kube_ok(l, res))
		return;
	int done = 0, failed = 0, pods = 0;
	char failed_host[128] = "";
	size_t i;
	json_t *pod;
	json_array_foreach (json_object_get(res->body, "items"), i, pod) {
		const char *phase = json_str(json_object_get(pod, "status"), "phase");
		pods++;
		if (phase && strcmp(phase, "Succeeded") == 0)
			done++;
		else if (phase && strcmp(phase, "Failed") == 0) {
			failed++;
			snprintf(failed_host, sizeof(failed_host), "%s",
				 json_str(json_object_get(pod, "spec"), "nodeName"));
		}
	}
	int want = (int)json_array_size(json_object_get(step_context(s), "hosts"));
	states_call_finish(l);
	if (failed > 0)
		step_fail(s,
			  "wiping the data failed on %s (%d of %d hosts): see the logs of its "
			  "esaas-wipe pod",
			  failed_host, failed, want);
	else if (done >= want)
		step_next(s);
	else
		step_wait(s, states_poll_ms(s), "%d of %d hosts wiped (%d wipe pods)", done, want,
			  pods);
}

void state_wait_wiped(struct step *s)
{
	struct state_call *l = states_call_new(s);
	if (!l)
		return;
	states_list_pods(l, "wipe", wiped_cb, l);
}

/* --- the cluster's volumes ------------------------------------------------------------ */

/*
 * The cluster's PersistentVolumes and StorageClass are cluster-scoped, so
 * the namespace takes only the claims with it.  Once it is gone, the
 * volumes are Released (reclaimPolicy Retain: their folders and what is in
 * them stay) and would never bind again: they are deleted, and with them
 * the class, so that a later cluster of the same name gets fresh ones over
 * the same folders.  Those of the cluster are those labelled with its
 * tenant and name.
 */
struct volume_delete {
	struct state_call *l;
	json_t *paths; /* what is left to delete, the class last */
};

static void volume_deleted_cb(void *arg, const struct kube_result *res);

static void delete_next_volume(struct volume_delete *v)
{
	struct state_call *l = v->l;
	if (json_array_size(v->paths) == 0) {
		json_decref(v->paths);
		free(v);
		states_call_report(l, true, false, NULL);
		return;
	}
	char *path = xstrdup(json_string_value(json_array_get(v->paths, 0)));
	json_array_remove(v->paths, 0);
	l->kcall = kube_delete(l->env->kube, path, NULL, NULL, volume_deleted_cb, v);
	free(path);
}

static void volume_deleted_cb(void *arg, const struct kube_result *res)
{
	struct volume_delete *v = arg;
	v->l->kcall = NULL;
	if (res->klass == HTTPC_OK || res->status == 404) {
		delete_next_volume(v);
		return;
	}
	struct state_call *l = v->l;
	json_decref(v->paths);
	free(v);
	states_call_report(l, false, res->klass == HTTPC_TRANSIENT, res->message);
}

static void volumes_listed_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	l->kcall = NULL;
	if (res->klass != HTTPC_OK && res->status != 404) {
		states_call_report(l, false, res->klass == HTTPC_TRANSIENT, res->message);
		return;
	}
	struct volume_delete *v = xcalloc(1, sizeof(*v));
	size_t i;
	json_t *pv;
	v->l = l;
	v->paths = json_array();
	json_array_foreach (json_object_get(res->body, "items"), i, pv) {
		char *coll = kube_collection_path("v1", "PersistentVolume", NULL);
		json_array_append_new(
			v->paths, json_sprintf("%s/%s", coll,
					       json_str(json_object_get(pv, "metadata"), "name")));
		free(coll);
	}
	char *coll = kube_collection_path("storage.k8s.io/v1", "StorageClass", NULL);
	json_array_append_new(v->paths, json_sprintf("%s/%s", coll, l->r->ns));
	free(coll);
	delete_next_volume(v);
}

void state_delete_volumes(struct step *s)
{
	struct state_call *l = states_call_new(s);
	if (!l)
		return;
	char *path = kube_collection_path("v1", "PersistentVolume", NULL);
	char *sel = xasprintf("%s=%s,%s=%s", RENDER_LABEL_TENANT, step_tenant(s),
			      RENDER_LABEL_CLUSTER, l->r->spec.name);
	l->kcall = kube_list(l->env->kube, path, sel, volumes_listed_cb, l);
	free(sel);
	free(path);
}
