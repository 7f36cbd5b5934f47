/*
 * The record of the cluster: ready with its endpoint; its namespace
 * deleted and gone; deleted.
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

/* What the job leaves in context.observed is written on the cluster when the
 * job ends, in the same commit (storage_jobrun_transition(), storage/jobrun.h). */
void state_record_ready(struct step *s)
{
	struct wf_env *env;
	struct states_rendered *r = states_render_job(s, &env);
	if (!r)
		return;
	json_t *observed = json_pack("{s:s, s:s, s:{s:s, s:s, s:i}}", "phase", "ready", "namespace",
				     r->ns, "endpoint", "service", RENDER_HTTP_SERVICE, "namespace",
				     r->ns, "port", 9200);
	json_object_set_new(step_context(s), "observed", observed);
	states_rendered_free(r);
	step_next(s);
}

static void namespace_deleted_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	l->kcall = NULL;
	struct step *s = l->step;
	/* Already gone is as good as deleted, and so is already Terminating:
	 * the API server answers a DELETE of a namespace whose content is
	 * still being removed with 409 Conflict
	 * (pkg/registry/core/namespace/storage/storage.go), so the state may
	 * run twice. */
	bool done = res->klass == HTTPC_OK || res->status == 404 ||
		    (res->status == 409 && res->message &&
		     strstr(res->message, "ensuring all content is removed from this namespace"));
	bool transient = res->klass == HTTPC_TRANSIENT && res->status != 409;
	char *msg = xstrdup(res->message ? res->message : "");
	states_call_finish(l);
	if (done)
		step_next(s);
	else if (transient || res->status == 409)
		step_retry(s, "%s", msg);
	else
		step_fail(s, "%s", msg);
	free(msg);
}

static void delete_owned_namespace(struct state_call *l, bool present)
{
	if (!present) {
		states_call_report(l, true, false, NULL);
		return;
	}
	char *path = xasprintf("/api/v1/namespaces/%s", l->r->ns);
	/* Background: the namespace controller removes the content whatever
	 * the policy; Foreground would only add a finalizer for the garbage
	 * collector to take off, one more thing to wait for. */
	l->kcall = kube_delete(l->env->kube, path, "Background", NULL, namespace_deleted_cb, l);
	free(path);
}

/* Only the cluster's own namespace is deleted (states_check_owner()). */
void state_delete_namespace(struct step *s)
{
	struct state_call *l = states_call_new(s);
	if (l)
		states_check_owner(l, delete_owned_namespace);
}

static void namespace_looked_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	l->kcall = NULL;
	struct step *s = l->step;
	char *ns = xstrdup(l->r->ns);
	const char *phase = json_str(json_object_get(res->body, "status"), "phase");
	char *seen = xstrdup(phase ? phase : "");
	long status = res->status;
	bool transient = res->klass == HTTPC_TRANSIENT;
	char *msg = xstrdup(res->message ? res->message : "");
	states_call_finish(l);
	if (status == 404)
		step_next(s);
	else if (status == 200)
		step_wait(s, states_poll_ms(s), "namespace %s is still there (%s)", ns,
			  seen[0] ? seen : "no phase");
	else if (transient)
		step_retry(s, "%s", msg);
	else
		step_fail(s, "%s", msg);
	free(ns);
	free(seen);
	free(msg);
}

void state_wait_namespace_gone(struct step *s)
{
	struct state_call *l = states_call_new(s);
	if (!l)
		return;
	char *path = xasprintf("/api/v1/namespaces/%s", l->r->ns);
	l->kcall = kube_get(l->env->kube, path, namespace_looked_cb, l);
	free(path);
}

void state_record_deleted(struct step *s)
{
	json_object_set_new(step_context(s), "observed", json_pack("{s:s}", "phase", "deleted"));
	json_object_set_new(step_context(s), "cluster_deleted", json_true());
	step_next(s);
}
