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

/* Dynamic settings through the cluster settings API, in the version's scope. */
void state_apply_dynamic(struct step *s)
{
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	l->clearing = false;
	l->ecall = es_put_settings(l->es, json_object_get(step_params(s), "settings"),
				   states_settings_put_cb, l);
}

/* params.spec is the new spec: it becomes the cluster's when the job ends. */
void state_record_spec(struct step *s)
{
	json_t *ctx = step_context(s);
	json_object_set(ctx, "spec", json_object_get(step_params(s), "spec"));
	json_object_set_new(ctx, "observed", json_pack("{s:s}", "phase", "ready"));
	step_next(s);
}
