/*
 * The preview of a mutation (?dry_run=true): once every check the real
 * request makes has passed, the plan of the job it would queue, from the
 * live cluster (Kubernetes and Elasticsearch reads only) and the jobs
 * table (reads only), answered 200.  Nothing is queued, stored or changed.
 *
 * The plan (docs/operations.md, "Previewing a change"):
 *   {"dry_run": true, "kind", "cluster",
 *    "states": [the states the job goes through, in order],
 *    "pods": [{"name", "role", "action": "restart"|"create"|"delete"}, ...],
 *    "shards": {"count", "bytes", "copies"} | null,
 *    "quota": {"before", "after"},
 *    "gates": [{"gate", "reason"}, ...],
 *    "warnings": [what the 202 would warn of, besides the gates],
 *    "estimate_seconds": x | null, "estimate": {"jobs", "reason"?}}
 */
#include "api/auth.h"
#include "api/routes.h"
#include "common/json.h"
#include "common/util.h"
#include "engine/registry.h"
#include "kube/spec.h"
#include "states/states.h"
#include "storage/jobs.h"

#include <stdlib.h>
#include <string.h>

/* How many of the last similar jobs the estimate is the median of. */
#define PREVIEW_HISTORY 20

struct preview_call {
	struct http_req *req;
	struct api *api;
	const struct workflow *wf;
	char *tenant;
	char *cluster;
	char *ns;
	json_t *base;	/* the spec before the job; NULL for a create */
	json_t *params; /* the job's parameters, as they would be queued */
	json_t *plan;
	bool windowed; /* the job would wait for the maintenance windows */
};

static void preview_free(struct preview_call *c)
{
	free(c->tenant);
	free(c->cluster);
	free(c->ns);
	json_decref(c->base);
	json_decref(c->params);
	json_decref(c->plan);
	free(c);
}

static void add_gate(json_t *plan, const char *gate, char *reason)
{
	json_array_append_new(json_object_get(plan, "gates"),
			      json_pack("{s:s, s:s}", "gate", gate, "reason", reason));
	free(reason);
}

/* The nodes of a spec, for "roughly the same size". */
static int spec_nodes(json_t *spec)
{
	static const char *const roles[] = {"masters", "data", "clients"};
	int n = 0;
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		n += (int)json_integer_value(
			json_object_get(json_object_get(spec, roles[i]), "replicas"));
	return n;
}

static void facts_cb(void *arg, const struct db_error *err, json_t *facts)
{
	struct preview_call *c = arg;
	json_t *plan = c->plan;
	size_t i;
	json_t *j;

	if (err) {
		api_reply_db_error(c->req, err);
		preview_free(c);
		return;
	}
	json_object_set(json_object_get(plan, "quota"), "tenant",
			json_object_get(facts, "tenant_quota"));
	json_array_foreach (json_object_get(facts, "active"), i, j)
		add_gate(plan, "job_active",
			 xasprintf("job %lld (%s) is %s on cluster %s, in state %s: this one would "
				   "wait for it",
				   (long long)json_integer_value(json_object_get(j, "id")),
				   json_str(j, "kind"), json_str(j, "status"), c->cluster,
				   json_str(j, "state")));
	json_t *window = json_object_get(facts, "window");
	if (c->windowed && json_is_false(json_object_get(window, "open")))
		add_gate(plan, "maintenance_window",
			 xasprintf("cluster %s is outside its maintenance windows (%s): this job "
				   "would wait for the one opening at %s, unless it is urgent",
				   c->cluster,
				   json_str(json_object_get(window, "windows"), "time_zone"),
				   json_str(window, "next_open")));
	json_t *history = json_object_get(facts, "history");
	json_int_t jobs = json_integer_value(json_object_get(history, "jobs"));
	json_t *median = json_object_get(history, "median_seconds");
	if (json_is_number(median)) {
		json_object_set_new(plan, "estimate_seconds",
				    json_integer((json_int_t)(json_number_value(median) + 0.5)));
		json_object_set_new(plan, "estimate",
				    json_pack("{s:I, s:s}", "jobs", jobs, "basis",
					      "median duration of the last similar jobs that "
					      "succeeded"));
	} else {
		char *why = xasprintf("no %s job of a cluster of this size has succeeded yet",
				      c->wf->kind);
		json_object_set_new(plan, "estimate_seconds", json_null());
		json_object_set_new(plan, "estimate",
				    json_pack("{s:I, s:s}", "jobs", jobs, "reason", why));
		free(why);
	}
	http_reply_json(c->req, 200, json_incref(plan));
	preview_free(c);
}

/* Health the job's waits would stop at, now. */
static void health_gate(struct preview_call *c, json_t *live)
{
	const char *status = json_str(json_object_get(live, "health"), "status");
	bool yellow_ok = json_is_true(json_object_get(c->params, "allow_yellow"));

	if (!status || strcmp(status, "green") == 0 || strcmp(c->wf->kind, "delete") == 0)
		return;
	if (strcmp(status, "yellow") == 0 && yellow_ok)
		return;
	add_gate(c->plan, "health",
		 xasprintf("cluster health is %s: the job waits for %s before it changes a node",
			   status, yellow_ok ? "yellow or green" : "green"));
}

static void finish_plan(struct preview_call *c, json_t *live)
{
	json_t *plan = c->plan;
	size_t i;
	json_t *w;

	if (c->wf->preview)
		c->wf->preview(c->params, live, plan);
	if (!json_object_get(plan, "states"))
		json_object_set_new(plan, "states", wf_path(c->wf, NULL, NULL));
	if (!json_object_get(plan, "states"))
		json_object_set_new(plan, "states", json_null());
	json_t *after = json_object_get(plan, "after_spec");
	if (!after)
		after = json_object_get(c->params, "spec");
	json_object_set_new(
		plan, "quota",
		json_pack("{s:o}", "namespace",
			  states_preview_quota(c->api->env, c->tenant, c->ns, c->base, after)));
	json_object_del(plan, "after_spec");
	if (live) {
		health_gate(c, live);
		json_array_foreach (json_object_get(live, "errors"), i, w)
			add_gate(plan, "unread",
				 xasprintf("cannot read the live cluster: %s",
					   json_string_value(w)));
	}
	/* The precheck's warnings, which the real request answers in its 202:
	 * the pods the nodes cannot place (params.placement_warnings: pods that would
	 * stay Pending, a gate); the others (an upgrade's deprecations, a
	 * snapshot not taken, disks or a plugin repository that could not be
	 * read) are warnings of the plan. */
	json_t *placement = json_object_get(c->params, "placement_warnings");
	json_array_foreach (json_object_get(c->params, "warnings"), i, w) {
		bool gate = false;
		size_t k;
		json_t *p;
		json_array_foreach (placement, k, p)
			gate = gate || json_equal(p, w);
		if (gate)
			add_gate(plan, "placement", xstrdup(json_string_value(w)));
		else
			json_array_append(json_object_get(plan, "warnings"), w);
	}
	json_t *queued = json_deep_copy(c->params);
	json_object_del(queued, "warnings");
	json_object_del(queued, "placement_warnings");
	storage_job_preview_facts(c->api->db, c->tenant, c->cluster, c->wf->kind, queued,
				  spec_nodes(json_object_get(c->params, "spec")), PREVIEW_HISTORY,
				  facts_cb, c);
	json_decref(queued);
}

static void live_cb(void *arg, json_t *live)
{
	finish_plan(arg, live);
}

void api_preview(struct api *api, struct http_req *req, const struct workflow *wf,
		 const char *cluster, const char *ns, json_t *base, json_t *params, bool windowed)
{
	struct preview_call *c = xcalloc(1, sizeof(*c));

	c->req = req;
	c->api = api;
	c->wf = wf;
	c->tenant = xstrdup(api_tenant(req));
	c->cluster = xstrdup(cluster);
	c->ns = ns ? xstrdup(ns) : NULL;
	c->base = json_incref(base);
	c->params = json_incref(params);
	c->windowed = windowed;
	c->plan = json_pack("{s:b, s:s, s:s, s:[], s:n, s:[], s:[]}", "dry_run", 1, "kind",
			    wf->kind, "cluster", cluster, "pods", "shards", "gates", "warnings");
	if (!base) {
		/* A create: no cluster to read yet. */
		finish_plan(c, NULL);
		return;
	}
	states_read_live(api->env, c->tenant, ns, json_object_get(params, "spec"), live_cb, c);
}
