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
	free(a);
}

static void apply_abort_cb(void *arg)
{
	struct states_apply *a = arg;
	kube_cancel(a->call);
	states_apply_finish(a);
}

/* The apply ends on a failed call: retried when transient, else failed. */
static void apply_failed(struct states_apply *a, const struct kube_result *res,
			 const char *fallback)
{
	struct step *s = a->step;
	char *msg = xstrdup(res->message ? res->message : fallback);
	bool transient = res->klass == HTTPC_TRANSIENT;

	states_apply_finish(a);
	if (transient)
		step_retry(s, "%s", msg);
	else
		step_fail(s, "%s", msg);
	free(msg);
}

static void applied_cb(void *arg, const struct kube_result *res)
{
	struct states_apply *a = arg;
	a->call = NULL;
	struct step *s = a->step;
	if (res->klass == HTTPC_OK) {
		char *key = object_key(json_array_get(a->r->objects, a->next - 1));
		json_array_append_new(a->done, json_string(key));
		free(key);
		step_progress(s);
		states_apply_more(a);
		return;
	}
	apply_failed(a, res, "apply failed");
}

void states_apply_more(struct states_apply *a)
{
	if (!a->done)
		a->done = apply_progress(a->step);
	while (a->next < json_array_size(a->r->objects)) {
		json_t *obj = json_array_get(a->r->objects, a->next++);
		const char *kind = json_str(obj, "kind");
		const char *name = json_string_value(
			json_object_get(json_object_get(obj, "metadata"), "name"));
		if ((a->kind && strcmp(kind, a->kind) != 0) ||
		    (a->name && strcmp(name, a->name) != 0) || applied_before(a, obj))
			continue;
		a->call = kube_apply(a->env->kube, obj, applied_cb, a);
		if (a->call)
			return;
		/* A rendered object the client cannot place is a bug: say which. */
		struct step *s = a->step;
		char *msg = xasprintf("cannot apply %s %s: unknown kind", kind, name);
		states_apply_finish(a);
		step_fail(s, "%s", msg);
		free(msg);
		return;
	}
	struct step *s = a->step;
	states_apply_finish(a);
	json_object_del(step_context(s), "apply_progress");
	step_next(s);
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

void state_apply_namespace(struct step *s)
{
	states_apply_kind(s, "Namespace", NULL);
}

void state_apply_config(struct step *s)
{
	states_apply_kind(s, "ConfigMap", NULL);
}

void state_apply_services(struct step *s)
{
	states_apply_kind(s, "Service", NULL);
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
