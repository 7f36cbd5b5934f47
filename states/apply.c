/*
 * Applying the rendered objects of a cluster, kind by kind (and role by
 * role for the workloads), and the namespace's ResourceQuota.
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
#include "kube/watch.h"
#include "kube/render.h"
#include "kube/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An object as the progress names it: "Kind/name". */
static char *object_key(json_t *obj)
{
	json_t *meta = json_object_get(obj, "metadata");
	return xasprintf("%s/%s", json_str(obj, "kind"), json_str(meta, "name"));
}

/*
 * The objects this state has applied so far, in context.apply_progress, so
 * that a run after a transient failure takes up where the failed one
 * stopped: one state applies several objects, and each may meet the
 * failure; sending them all again would make every retry as likely to fail
 * as the first run.  A new entry into the state starts afresh.
 */
static json_t *apply_progress(struct step *s)
{
	json_t *ctx = step_context(s);
	json_t *p = json_object_get(ctx, "apply_progress");
	const char *state = json_str(p, "state");
	if (step_attempt(s) == 1 || !state || strcmp(state, step_state(s)) != 0 ||
	    !json_is_array(json_object_get(p, "objects"))) {
		p = json_pack("{s:s, s:[]}", "state", step_state(s), "objects");
		json_object_set_new(ctx, "apply_progress", p);
	}
	return json_object_get(p, "objects");
}

static bool applied_before(struct states_apply *a, json_t *obj)
{
	char *key = object_key(obj);
	bool found = false;
	size_t i;
	json_t *k;
	json_array_foreach (a->done, i, k)
		if (strcmp(json_string_value(k), key) == 0)
			found = true;
	free(key);
	return found;
}

void states_apply_finish(struct states_apply *a)
{
	states_rendered_free(a->r);
	free(a->warned);
	free(a);
}

/* Keep what the API server warned of about obj (kube/client.c logs it too),
 * for the step's event: an unknown field dropped, a pod security level
 * the pods would violate. */
static void note_warnings(struct states_apply *a, json_t *obj, const struct kube_result *res)
{
	for (size_t i = 0; res->warnings && res->warnings[i]; i++) {
		char *more = xasprintf("%s%s%s %s: %s", a->warned ? a->warned : "",
				       a->warned ? "; " : "", json_str(obj, "kind"),
				       json_str(json_object_get(obj, "metadata"), "name"),
				       res->warnings[i]);
		free(a->warned);
		a->warned = more;
	}
}

/* Every call of the apply still in flight, cancelled. */
static void apply_cancel_all(struct states_apply *a)
{
	kube_cancel(a->call);
	a->call = NULL;
	for (size_t i = 0; i < STATES_APPLY_WIDTH; i++) {
		kube_cancel(a->slots[i].call);
		a->slots[i].call = NULL;
	}
	a->in_flight = 0;
}

static void apply_abort_cb(void *arg)
{
	struct states_apply *a = arg;
	apply_cancel_all(a);
	states_apply_finish(a);
}

/* The apply ends on a failed call: retried when transient, else failed.
 * The others in flight are cancelled; those already applied are in the
 * progress, and a retry skips them. */
static void apply_failed(struct states_apply *a, const struct kube_result *res,
			 const char *fallback)
{
	struct step *s = a->step;
	char *msg = xstrdup(res->message ? res->message : fallback);
	bool transient = res->klass == HTTPC_TRANSIENT;

	apply_cancel_all(a);
	states_apply_finish(a);
	if (transient)
		step_retry(s, "%s", msg);
	else
		step_fail(s, "%s", msg);
	free(msg);
}

static void live_workload_cb(void *arg, const struct kube_result *res);
static void applied_cb(void *arg, const struct kube_result *res);

/* The apply of object idx started in a free slot; false if the client
 * cannot place it (unknown kind). */
static bool apply_start(struct states_apply *a, size_t idx)
{
	struct states_apply_slot *slot = NULL;
	for (size_t i = 0; i < STATES_APPLY_WIDTH && !slot; i++)
		if (!a->slots[i].call)
			slot = &a->slots[i];
	if (!slot)
		return false;
	slot->a = a;
	slot->idx = idx;
	slot->call = kube_apply(a->env->kube, json_array_get(a->r->objects, idx), applied_cb, slot);
	if (!slot->call)
		return false;
	a->in_flight++;
	return true;
}

/*
 * A StatefulSet rendered with claim templates is applied as the cluster
 * has it: volumeClaimTemplates cannot change on an existing StatefulSet
 * (the API server refuses any change of spec but replicas, ordinals,
 * template, updateStrategy, persistentVolumeClaimRetentionPolicy and
 * minReadySeconds: 422), so one created before the claims, without them,
 * keeps its hostPath data volume (render_opts.host_path_data), and with it
 * the limitation that its pods are not pinned to their hosts.  The live
 * StatefulSet is read first; true when that read was started.
 */
static bool check_live_workload(struct states_apply *a, json_t *obj)
{
	json_t *spec = json_object_get(obj, "spec");
	if (strcmp(json_str(obj, "kind"), "StatefulSet") != 0 ||
	    !json_object_get(spec, "volumeClaimTemplates"))
		return false;
	char *path = kube_object_path(obj);
	a->call = kube_get(a->env->kube, path, live_workload_cb, a);
	free(path);
	return a->call != NULL;
}

static void live_workload_cb(void *arg, const struct kube_result *res)
{
	struct states_apply *a = arg;
	a->call = NULL;
	json_t *obj = json_array_get(a->r->objects, a->next - 1);
	if (res->klass != HTTPC_OK && res->status != 404) {
		apply_failed(a, res, "reading the StatefulSet failed");
		return;
	}
	if (res->klass == HTTPC_OK &&
	    !json_object_get(json_object_get(res->body, "spec"), "volumeClaimTemplates")) {
		struct render_opts ro;
		struct render_security sec;
		json_t *old = NULL;
		char err[256];
		states_render_opts(a->step, a->env, &ro, &sec);
		ro.host_path_data = true;
		if (render_cluster(&a->r->spec, &ro, &old, err, sizeof(err))) {
			json_t *meta = json_object_get(obj, "metadata");
			json_t *same = render_find(old, "StatefulSet", json_str(meta, "name"));
			if (same)
				json_array_set(a->r->objects, a->next - 1, same);
			json_decref(old);
		}
		obj = json_array_get(a->r->objects, a->next - 1);
	}
	if (!apply_start(a, a->next - 1))
		apply_failed(a, &(struct kube_result){.message = "cannot apply the StatefulSet"},
			     "apply failed");
}

static void applied_cb(void *arg, const struct kube_result *res)
{
	struct states_apply_slot *slot = arg;
	struct states_apply *a = slot->a;
	slot->call = NULL;
	a->in_flight--;
	if (res->klass == HTTPC_OK) {
		json_t *obj = json_array_get(a->r->objects, slot->idx);
		note_warnings(a, obj, res);
		char *key = object_key(obj);
		json_array_append_new(a->done, json_string(key));
		free(key);
		step_progress(a->step);
		states_apply_more(a);
		return;
	}
	apply_failed(a, res, "apply failed");
}

/* The kind of the objects in flight; NULL when none is. */
static const char *kind_in_flight(const struct states_apply *a)
{
	for (size_t i = 0; i < STATES_APPLY_WIDTH; i++)
		if (a->slots[i].call)
			return json_str(json_array_get(a->r->objects, a->slots[i].idx), "kind");
	return NULL;
}

/*
 * Starts the applies that may go now: up to STATES_APPLY_WIDTH objects of
 * one kind at once; a StatefulSet with claim templates alone, after its
 * live read (check_live_workload()).  Once all are applied, the step goes
 * on.
 */
void states_apply_more(struct states_apply *a)
{
	if (!a->done)
		a->done = apply_progress(a->step);
	unsigned width = a->env->cfg && a->env->cfg->kube_apply_concurrency > 0
				 ? (unsigned)a->env->cfg->kube_apply_concurrency
				 : 1;
	if (width > STATES_APPLY_WIDTH)
		width = STATES_APPLY_WIDTH;
	while (a->next < json_array_size(a->r->objects) && a->in_flight < width) {
		json_t *obj = json_array_get(a->r->objects, a->next);
		const char *kind = json_str(obj, "kind");
		const char *name = json_string_value(
			json_object_get(json_object_get(obj, "metadata"), "name"));
		if ((a->kind && strcmp(kind, a->kind) != 0) ||
		    (a->name && strcmp(name, a->name) != 0) || applied_before(a, obj)) {
			a->next++;
			continue;
		}
		const char *flying = kind_in_flight(a);
		if (flying && strcmp(flying, kind) != 0)
			return; /* the next kind waits for this one's */
		if (strcmp(kind, "StatefulSet") == 0 && a->in_flight > 0)
			return;
		a->next++;
		if (check_live_workload(a, obj))
			return;
		if (apply_start(a, a->next - 1))
			continue;
		/* A rendered object the client cannot place is a bug: say which. */
		struct step *s = a->step;
		char *msg = xasprintf("cannot apply %s %s: unknown kind", kind, name);
		apply_cancel_all(a);
		states_apply_finish(a);
		step_fail(s, "%s", msg);
		free(msg);
		return;
	}
	if (a->in_flight > 0 || a->call)
		return;
	struct step *s = a->step;
	char *warned = a->warned;
	a->warned = NULL;
	states_apply_finish(a);
	json_object_del(step_context(s), "apply_progress");
	if (warned)
		step_next_noting(s, "Kubernetes warned: %s", warned);
	else
		step_next(s);
	free(warned);
}

/* An apply of spec_json's objects of kind (and name), for states_apply_more() to
 * start; NULL after failing the step. */
struct states_apply *states_apply_prepare(struct step *s, json_t *spec_json, const char *kind,
					  const char *name)
{
	struct wf_env *env;
	struct states_rendered *r = states_render_spec(s, spec_json, &env);
	if (!r)
		return NULL;
	struct states_apply *a = xcalloc(1, sizeof(*a));
	a->step = s;
	a->env = env;
	a->r = r;
	a->kind = kind;
	a->name = name;
	step_on_abort(s, apply_abort_cb, a);
	return a;
}

void states_apply_kind_of(struct step *s, json_t *spec_json, const char *kind, const char *name)
{
	struct states_apply *a = states_apply_prepare(s, spec_json, kind, name);
	if (a)
		states_apply_more(a);
}

void states_apply_kind(struct step *s, const char *kind, const char *name)
{
	states_apply_kind_of(s, json_object_get(step_params(s), "spec"), kind, name);
}

/*
 * The namespace is read before it is applied: apply is forced, so applying
 * to another cluster's namespace would take it over.  Absent, it is made;
 * the cluster's own, or one made before the id label for this cluster, it
 * is applied (with the id label: adopted); anything else fails the step
 * (render_namespace_owner()).
 */
static void namespace_read_cb(void *arg, const struct kube_result *res)
{
	struct states_apply *a = arg;
	struct step *s = a->step;
	char why[512];

	a->call = NULL;
	if (res->status != 404 && res->klass != HTTPC_OK) {
		apply_failed(a, res, "reading the namespace failed");
		return;
	}
	if (res->status != 404 &&
	    render_namespace_owner(res->body, step_tenant(s), a->r->spec.name, step_cluster_id(s),
				   why, sizeof(why)) == RENDER_NS_OTHER) {
		states_apply_finish(a);
		step_fail(s, "%s", why);
		return;
	}
	states_apply_more(a);
}

void state_apply_namespace(struct step *s)
{
	struct states_apply *a =
		states_apply_prepare(s, json_object_get(step_params(s), "spec"), "Namespace", NULL);
	if (!a)
		return;
	char *path = xasprintf("/api/v1/namespaces/%s", a->r->ns);
	a->call = kube_get(a->env->kube, path, namespace_read_cb, a);
	free(path);
	if (!a->call)
		apply_failed(a, &(struct kube_result){.message = "cannot read the namespace"},
			     "cannot read the namespace");
}

void state_apply_config(struct step *s)
{
	states_apply_kind(s, "ConfigMap", NULL);
}

void state_apply_services(struct step *s)
{
	struct states_apply *a =
		states_apply_prepare(s, json_object_get(step_params(s), "spec"), "Service", NULL);
	if (!a)
		return;
	/* The waits to come read the namespace's watch, whose Services'
	 * EndpointSlices are made with them: started now, it has what is
	 * there by the first wait (kube/watch.h). */
	if (a->env->watches)
		kube_watches_seq(a->env->watches, a->r->ns);
	states_apply_more(a);
}

void state_apply_masters(struct step *s)
{
	states_apply_kind(s, render_workload_kind(ES_ROLE_MASTER),
			  render_workload_name(ES_ROLE_MASTER));
}

void state_apply_data(struct step *s)
{
	states_apply_kind(s, render_workload_kind(ES_ROLE_DATA),
			  render_workload_name(ES_ROLE_DATA));
}

void state_apply_clients(struct step *s)
{
	states_apply_kind(s, render_workload_kind(ES_ROLE_CLIENT),
			  render_workload_name(ES_ROLE_CLIENT));
}

void state_apply_pdbs(struct step *s)
{
	states_apply_kind(s, "PodDisruptionBudget", NULL);
}

/* --- the namespace's quota ------------------------------------------------------ */

/*
 * The ResourceQuota holds the namespace to the spec (kube/render.h).  Before
 * the cluster grows, it is raised: to at least what the new spec needs,
 * never below what it allows now, since a workflow may not know the size
 * the cluster has (a Kibana job carries only the new spec).  Once the
 * cluster has shrunk, it is fitted: exactly the new spec's.
 */
void state_apply_quota(struct step *s)
{
	states_apply_kind(s, "ResourceQuota", RENDER_QUOTA_NAME);
}

void state_apply_network(struct step *s)
{
	states_apply_kind(s, "NetworkPolicy", NULL);
}

static void quota_read_cb(void *arg, const struct kube_result *res)
{
	struct states_apply *a = arg;
	a->call = NULL;
	if (res->klass == HTTPC_OK) {
		json_t *quota = render_find(a->r->objects, "ResourceQuota", RENDER_QUOTA_NAME);
		render_quota_at_least(quota,
				      json_object_get(json_object_get(res->body, "spec"), "hard"));
	} else if (res->status != 404) {
		apply_failed(a, res, "reading the quota failed");
		return;
	}
	/* Read, or none yet (a cluster from before quotas): now applied. */
	states_apply_more(a);
}

void states_raise_quota(struct step *s, json_t *spec_json)
{
	struct states_apply *a =
		states_apply_prepare(s, spec_json, "ResourceQuota", RENDER_QUOTA_NAME);
	if (!a)
		return;
	char *coll = kube_collection_path("v1", "ResourceQuota", a->r->ns);
	char *path = xasprintf("%s/%s", coll, RENDER_QUOTA_NAME);
	a->call = kube_get(a->env->kube, path, quota_read_cb, a);
	free(path);
	free(coll);
}

void state_raise_quota(struct step *s)
{
	states_raise_quota(s, json_object_get(step_params(s), "spec"));
}

/* --- the data volumes -------------------------------------------------------------- */

static void nodes_listed_cb(void *arg, const struct kube_result *res)
{
	struct states_apply *a = arg;
	a->call = NULL;
	if (res->klass != HTTPC_OK) {
		apply_failed(a, res, "listing the nodes failed");
		return;
	}
	json_t *items = json_object_get(res->body, "items");
	const char **hosts = xcalloc(json_array_size(items) + 1, sizeof(*hosts));
	size_t i, n = 0;
	json_t *node;
	json_array_foreach (items, i, node) {
		json_t *meta = json_object_get(node, "metadata");
		const char *host = json_str(json_object_get(meta, "labels"), RENDER_HOST_LABEL);
		hosts[n++] = host ? host : json_str(meta, "name");
	}
	struct render_opts ro;
	json_t *volumes = NULL;
	char err[256];
	states_render_opts(a->step, a->env, &ro, NULL);
	if (!render_volumes(&a->r->spec, &ro, hosts, &volumes, err, sizeof(err))) {
		struct step *s = a->step;
		free(hosts);
		states_apply_finish(a);
		step_fail(s, "cannot render the cluster's volumes: %s", err);
		return;
	}
	free(hosts);
	json_decref(a->r->objects);
	a->r->objects = volumes;
	states_apply_more(a);
}

/*
 * The cluster's StorageClass and a PersistentVolume per node and role that
 * keeps data (kube/render.c says why), before any pod needs one.  Every
 * node gets its volumes, cordoned ones too: an unbound volume costs
 * nothing (the folder is made when a pod first mounts it), and a pod may
 * only be placed where one is waiting.  A workflow that grows the cluster
 * runs this again, so that nodes added since get theirs.
 */
void state_apply_volumes(struct step *s)
{
	struct states_apply *a =
		states_apply_prepare(s, json_object_get(step_params(s), "spec"), NULL, NULL);
	if (!a)
		return;
	char *path = kube_collection_path("v1", "Node", NULL);
	a->call = kube_list(a->env->kube, path, NULL, nodes_listed_cb, a);
	free(path);
}
