/*
 * config_update: the route (dynamic settings, or a rolling restart for a
 * static one), the dynamic settings, the new spec recorded; the cleanup
 * puts the dynamic settings and the ConfigMaps back.
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

/* params.restart: a static setting changed, so the nodes must restart. */
void state_config_route(struct step *s)
{
	if (json_is_true(json_object_get(step_params(s), "restart")))
		step_branch(s, CONFIG_ROUTE_STATIC);
	else
		step_next(s);
}

/*
 * The dynamic settings of the request (params.dynamic; a null resets one)
 * through the cluster settings API, in the version's scope; nothing to do
 * when the request has none.  A job from before params.dynamic had only
 * dynamic settings when it came here: params.settings.
 */
static json_t *dynamic_of(json_t *p)
{
	json_t *dynamic = json_object_get(p, "dynamic");
	if (!dynamic && !json_is_true(json_object_get(p, "restart")))
		dynamic = json_object_get(p, "settings");
	return dynamic;
}

/* A 200 applied the settings, all or (2.x ignoring some) in part: the
 * cleanup has something to undo.  A refusal (400) applied none. */
static void dynamic_put_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	if (res->status == 200)
		json_object_set_new(step_context(l->step), "dynamic_applied", json_true());
	states_settings_put_cb(arg, res);
}

/*
 * The values the dynamic settings have before the job, recorded in
 * context.dynamic_before (a null where one is unset) before the first PUT,
 * so that the cleanup can put them back.  A replay keeps the first record.
 */
static void dynamic_before_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	if (!states_call_es_ok(l, res, "reading the cluster settings"))
		return;
	struct step *s = l->step;
	json_t *persistent = json_object_get(res->body, es_settings_scope(&l->r->spec.version));
	json_t *before = json_object();
	const char *k;
	json_t *v;
	json_object_foreach (dynamic_of(step_params(s)), k, v) {
		json_t *was = json_object_get(persistent, k);
		json_object_set_new(before, k, was ? json_incref(was) : json_null());
	}
	json_object_set_new(step_context(s), "dynamic_before", before);
	l->clearing = false;
	l->ecall = es_put_settings(l->es, dynamic_of(step_params(s)), dynamic_put_cb, l);
}

void state_apply_dynamic(struct step *s)
{
	json_t *dynamic = dynamic_of(step_params(s));
	if (json_object_size(dynamic) == 0) {
		step_next(s);
		return;
	}
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	if (!json_is_object(json_object_get(step_context(s), "dynamic_before"))) {
		l->ecall = es_get_settings(l->es, dynamic_before_cb, l);
		return;
	}
	l->clearing = false;
	l->ecall = es_put_settings(l->es, dynamic, dynamic_put_cb, l);
}

/*
 * Cleanup: the dynamic settings back to their values from before the job
 * (context.dynamic_before), as the ConfigMaps are, once the PUT was
 * answered 200 (context.dynamic_applied) and a later step failed; a null resets one that was unset (5.0+; 2.x keeps the job's
 * value there, having no reset).  Acknowledged, the record is set false.
 */
void state_undo_dynamic(struct step *s)
{
	json_t *before = json_object_get(step_context(s), "dynamic_before");
	if (!json_is_true(json_object_get(step_context(s), "dynamic_applied")) ||
	    !json_is_object(before) || json_object_size(before) == 0) {
		step_next(s);
		return;
	}
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	json_t *put = json_deep_copy(before);
	if (l->r->spec.version.major < 5) {
		const char *k;
		json_t *v;
		void *tmp;
		json_object_foreach_safe (put, tmp, k, v)
			if (json_is_null(v))
				json_object_del(put, k);
	}
	if (json_object_size(put) == 0) {
		json_decref(put);
		states_call_finish(l);
		step_next(s);
		return;
	}
	l->clearing = true;
	l->clear_flag = "dynamic_before";
	l->ecall = es_put_settings(l->es, put, states_settings_put_cb, l);
	json_decref(put);
}

/* Cleanup: the ConfigMaps of the spec recorded before the job
 * (params.previous_spec), so that no later restart reads the job's. */
void state_undo_config(struct step *s)
{
	json_t *previous = json_object_get(step_params(s), "previous_spec");
	if (!json_is_object(previous)) {
		step_next(s);
		return;
	}
	states_apply_kind_of(s, previous, "ConfigMap", NULL);
}

/* params.spec is the new spec: it becomes the cluster's when the job ends. */
void state_record_spec(struct step *s)
{
	json_t *ctx = step_context(s);
	json_object_set(ctx, "spec", json_object_get(step_params(s), "spec"));
	json_object_set_new(ctx, "observed", json_pack("{s:s}", "phase", "ready"));
	step_next(s);
}
