/*
 * restart: a rolling restart, one pod at a time, safely.
 *
 *   plan the pods (one node, one role, or all; data first, masters last,
 *   the elected master very last)
 *   ┌→ next pod? no ─────────────────────────────→ restore allocation → done
 *   │  yes: wait green (or yellow, when allowed)
 *   │  → allocation of replicas paused ("primaries") → flush
 *   │  → delete the pod with its uid (never its replacement)
 *   │  → wait for the replacement to be ready, then joined → allocation back
 *   └─ wait green ←──────────────────────────────┘
 *
 * The plan and the pods already restarted live in the job's context, so a
 * replay goes on with the pods not yet restarted.  The pause is recorded
 * before it is set, and the cleanup chain lifts it after a failure or a
 * cancel: no cluster is left with allocation disabled.  The API refuses a
 * restart of data nodes while one of them is above the low disk
 * watermark (restart_precheck).
 */
#include "workflows/workflows.h"
#include "workflows/restart.h"
#include "states/states.h"
#include "workflows/request.h"
#include "kube/render.h"
#include "kube/spec.h"
#include "common/json.h"

#include <stdlib.h>

/* clang-format off */
static const struct wf_state restart_states[] = {
	WF_ROLLING_RESTART(NULL),
	/* cleanup, after a failure or a cancel */
	{.name = "undo_allocation", .run = state_restart_resume_allocation, .deadline_s = 300},
};
/* clang-format on */

/* --- the request ------------------------------------------------------------------ */

/* {} (every node), {"role": "data"|"masters"|"clients"} or {"nodes": ["pod", ...]},
 * and "allow_yellow". */
static bool restart_request(const struct wf_request *rq, json_t **params, struct wf_refusal *why)
{
	static const char *const fields[] = {"role", "nodes", "allow_yellow", NULL};
	json_t *body = rq->body;
	json_t *role = json_object_get(body, "role");
	json_t *nodes = json_object_get(body, "nodes");
	enum es_role r;

	if (!wf_request_fields(body, fields, why) || !wf_request_allow_yellow(body, why))
		return false;
	if (role && !spec_section_parse(json_string_value(role), &r))
		return wf_refuse(why, 422, "invalid", "role",
				 "role must be data, clients or masters");
	if (role && nodes)
		return wf_refuse(why, 422, "invalid", "nodes", "give a role or nodes, not both");
	if (nodes) {
		size_t i;
		json_t *n;
		if (!json_is_array(nodes) || json_array_size(nodes) == 0)
			return wf_refuse(why, 422, "invalid", "nodes",
					 "nodes must be a list of pod names");
		json_array_foreach (nodes, i, n)
			if (!json_is_string(n) || !spec_is_dns_label(json_string_value(n), 63))
				return wf_refuse(why, 422, "invalid", "nodes",
						 "nodes[%zu] is not a pod name", i);
	}
	*params = json_incref(body);
	return true;
}

/* --- the precheck ----------------------------------------------------------------- */

struct disk_check {
	struct wf_precheck *pc;
	const char *what;
	const char *field;
};

static void disk_check_cb(void *arg, json_t *report, const char *error)
{
	struct disk_check *p = arg;
	struct wf_refusal why = {0};

	/* A cluster Elasticsearch cannot answer for may be why it is
	 * restarted: then a warning, not a refusal. */
	(void)wf_disk_headroom(report, error, p->what, p->field, false, p->pc->params, &why);
	wf_precheck_end(p->pc, &why); /* a refusal only when why has its status */
	free(p);
}

void wf_rolling_disk_precheck(void *env, const char *tenant, const char *ns, json_t *params,
			      json_t *only, const char *what, const char *field,
			      void (*done)(void *arg, const struct wf_refusal *why), void *arg)
{
	struct disk_check *p = xcalloc(1, sizeof(*p));
	p->pc = wf_precheck_new(env, tenant, ns, params, done, arg);
	p->what = what;
	p->field = field;
	states_read_disk(env, tenant, ns, json_object_get(params, "spec"), only, disk_check_cb, p);
}

/*
 * The data nodes it restarts must not be above the low disk watermark
 * (wf_rolling_disk_precheck).  A restart of the masters or the clients
 * restarts no data node.
 */
static void restart_precheck(void *env, const char *tenant, const char *ns, json_t *params,
			     void (*done)(void *arg, const struct wf_refusal *why), void *arg)
{
	json_t *spec = json_object_get(params, "spec");
	const char *role = json_str(params, "role");
	json_t *pods = json_object_get(params, "nodes");
	enum es_role r;

	if (role && spec_section_parse(role, &r) && r != ES_ROLE_DATA) {
		done(arg, NULL);
		return;
	}
	json_t *only = NULL;
	if (json_is_array(pods)) {
		/* node.name is ${POD_NAME}-${NAMESPACE} (kube/render.c). */
		char *namespace =
			ns ? xstrdup(ns) : render_namespace(tenant, json_str(spec, "name"));
		size_t i;
		json_t *pod;
		only = json_array();
		json_array_foreach (pods, i, pod) {
			char *name = xasprintf("%s-%s", json_string_value(pod), namespace);
			json_array_append_new(only, json_string(name));
			free(name);
		}
		free(namespace);
	}
	const char *field = json_is_array(pods) ? "nodes" : role ? "role" : NULL;
	wf_rolling_disk_precheck(env, tenant, ns, params, only, "the restart", field, done, arg);
	json_decref(only);
}

/* --- the preview ------------------------------------------------------------------ */

static int restart_choose(const struct wf_state *st, int visit, void *arg)
{
	return preview_rolling_choose(st, visit, *(const int *)arg);
}

/* The pods restart_plan will list, in the order the loop takes them. */
static void restart_preview(json_t *params, json_t *live, json_t *plan)
{
	json_t *pods = preview_rolling_pods(params, live);
	int n = (int)json_array_size(pods);

	json_object_set_new(plan, "states", wf_path(&wf_restart, restart_choose, &n));
	json_object_set_new(plan, "pods", preview_pod_actions(pods, "restart"));
	json_decref(pods);
	if (n == 0 && json_object_get(live, "pods"))
		json_array_append_new(json_object_get(plan, "gates"),
				      json_pack("{s:s, s:s}", "gate", "no_pods", "reason",
						"no pod of this cluster matches the restart "
						"request: the job would fail at restart_plan"));
}

const struct workflow wf_restart = {
	.kind = "restart",
	.states = restart_states,
	.nstates = sizeof(restart_states) / sizeof(restart_states[0]),
	.cleanup = "undo_allocation",
	.request = restart_request,
	.precheck = restart_precheck,
	.preview = restart_preview,
	.disruptive = wf_always_disruptive,
};
