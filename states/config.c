/*
 * config_update: the route (dynamic settings, or a rolling restart for a
 * static one), the dynamic settings, the new spec recorded.
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
void state_apply_dynamic(struct step *s)
{
	json_t *p = step_params(s);
	json_t *dynamic = json_object_get(p, "dynamic");
	if (!dynamic && !json_is_true(json_object_get(p, "restart")))
		dynamic = json_object_get(p, "settings");
	if (json_object_size(dynamic) == 0) {
		step_next(s);
		return;
	}
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	l->clearing = false;
	l->ecall = es_put_settings(l->es, dynamic, states_settings_put_cb, l);
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
