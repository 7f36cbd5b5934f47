/*
 * Kibana next to a cluster: applied, or removed with 0 replicas; its pods
 * ready or gone.
 */
#include "states/states.h"
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
 * The spec's kibana.replicas: its Service and Deployment applied, or with
 * 0 removed; then its pods ready (or gone).
 */
struct kibana_delete {
	struct state_call *l;
	int step;
};

static void kibana_deleted_cb(void *arg, const struct kube_result *res);

static void kibana_delete_next(struct kibana_delete *k)
{
	struct state_call *l = k->l;
	static const char *const kinds[][2] = {{"apps/v1", "Deployment"}, {"v1", "Service"}};
	if (k->step >= 2) {
		free(k);
		states_call_report(l, true, false, NULL);
		return;
	}
	char *coll = kube_collection_path(kinds[k->step][0], kinds[k->step][1], l->r->ns);
	char *path = xasprintf("%s/%s", coll, RENDER_KIBANA_NAME);
	k->step++;
	l->kcall = kube_delete(l->env->kube, path, "Foreground", NULL, kibana_deleted_cb, k);
	free(path);
	free(coll);
}

static void kibana_deleted_cb(void *arg, const struct kube_result *res)
{
	struct kibana_delete *k = arg;
	k->l->kcall = NULL;
	if (res->klass == HTTPC_OK || res->status == 404) {
		kibana_delete_next(k);
		return;
	}
	struct state_call *l = k->l;
	free(k);
	states_call_report(l, false, res->klass == HTTPC_TRANSIENT, res->message);
}

/* A create whose spec wants no Kibana made none (its spec is the job's,
 * fixed), and its namespace is the cluster's own (apply_namespace): there
 * is nothing to remove, nor to wait for. */
static bool kibana_never_made(struct step *s, const struct spec *spec)
{
	const char *kind = step_kind(s);
	return spec->kibana_replicas == 0 && kind && !strcmp(kind, "create");
}

void state_apply_kibana(struct step *s)
{
	struct wf_env *env;
	struct states_rendered *r = states_render_job(s, &env);
	if (!r)
		return;
	bool wanted = r->spec.kibana_replicas > 0;
	bool never = kibana_never_made(s, &r->spec);
	states_rendered_free(r);
	if (wanted) {
		states_apply_kind(s, NULL, RENDER_KIBANA_NAME);
		return;
	}
	if (never) {
		step_next(s);
		return;
	}
	struct state_call *l = states_call_new(s);
	if (!l)
		return;
	struct kibana_delete *k = xcalloc(1, sizeof(*k));
	k->l = l;
	kibana_delete_next(k);
}

static void kibana_pods_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	struct step *s = l->step;
	if (!states_call_kube_ok(l, res))
		return;
	int want = l->r->spec.kibana_replicas;
	struct states_pod_tally t;
	/* Removed means gone: a terminating pod still runs (and still counts
	 * against the quota, pkg/quota/v1/evaluator/core/pods.go QuotaV1Pod)
	 * until it has exited. */
	states_tally_pods(json_object_get(res->body, "items"), want > 0, NULL, &t);
	if (want > 0 && t.pods < want) {
		/* Some were never made: the ReplicaSet's events say why. */
		char *observed = xasprintf("%d of %d Kibana pods ready%s%s", t.ready, want,
					   t.first_missing[0] ? "; " : "", t.first_missing);
		states_explain_missing_pods(l, observed);
		free(observed);
		return;
	}
	int64_t wait_ms = states_wait_ms(l);
	struct wf_env *env = l->env;
	states_call_finish(l);
	if (t.pods == want && t.ready == want) {
		json_object_del(step_context(s), "pods_wait_since");
		step_next(s);
	} else if (want == 0) {
		step_wait(s, wait_ms, "%d Kibana pods still running", t.pods);
	} else {
		char *observed = xasprintf("%d of %d Kibana pods ready%s%s", t.ready, want,
					   t.first_missing[0] ? "; " : "", t.first_missing);
		if (!states_fail_unstartable(s, env, &t, observed))
			step_wait(s, wait_ms, "%s", observed);
		free(observed);
	}
}

void state_wait_kibana(struct step *s)
{
	struct state_call *l = states_call_new(s);
	if (!l)
		return;
	if (kibana_never_made(s, &l->r->spec)) {
		states_call_finish(l);
		step_next(s);
		return;
	}
	states_list_pods(l, RENDER_KIBANA_ROLE, kibana_pods_cb, l);
}
