/*
 * The health sweep's disruption budgets.
 *
 * A node drain (kubectl drain, the cluster autoscaler, a node upgrade)
 * evicts pods through the Eviction API, which asks each pod's
 * PodDisruptionBudget.  The budget a create applies allows one disruption
 * per role (none for a role of one node), which is right for a green
 * cluster left alone, and wrong while copies are missing (an evicted node
 * may hold the last started copy of a shard) or while an esaas job has a
 * node down (the drain would take a second one beside it, of another
 * role).  So after each read the sweep holds every role's budget at
 * maxUnavailable 0 while the cluster is not green (yellow, red, or
 * unreachable) or a job that restarts or removes nodes runs on it, and
 * gives the normal budget back once it is green and idle, as ECK's default
 * budget allows no disruption unless the cluster is green
 * (pkg/controller/elasticsearch/pdb/reconcile_default.go).
 *
 * What was applied is remembered per cluster, so that a cluster whose
 * state stays the same costs no request; a cluster new to this replica
 * (or whose last apply failed) has its budgets listed once, and only those
 * that differ are applied.  A create applies the budgets itself and a
 * delete takes them away: neither is touched while it runs.
 */
#include "monitor/sweep_internal.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "kube/client.h"
#include "kube/render.h"
#include "kube/spec.h"

#include <stdlib.h>
#include <string.h>

/* An apply of a target's budgets, in flight. */
struct budget {
	struct sweep *s;
	struct target *t;
	struct kube_call *call;
	json_t *pdbs;		      /* the three rendered, by role */
	char want[ES_ROLE_COUNT + 1]; /* maxUnavailable by role, "011" */
	char live[ES_ROLE_COUNT + 1]; /* as they are, "?" when not known */
	int next;		      /* the role to look at next */
	bool hold;
};

static void budget_free(struct budget *b)
{
	if (b->call)
		kube_cancel(b->call);
	json_decref(b->pdbs);
	if (b->t)
		b->t->budget = NULL;
	free(b);
}

void sweep_budget_cancel(struct budget *b)
{
	b->t = NULL; /* the target is going: nothing to remember */
	budget_free(b);
}

/* Jobs that run beside a cluster without taking any of its nodes down. */
static bool job_disrupts(const char *kind)
{
	return kind && strcmp(kind, "kibana") != 0;
}

static void apply_next(struct budget *b);

static void applied_cb(void *arg, const struct kube_result *res)
{
	struct budget *b = arg;
	b->call = NULL;
	if (res->klass != HTTPC_OK) {
		log_warn("health sweep: cluster %s/%s: applying the disruption budget %s failed "
			 "(tried again at the next read): %s",
			 b->t->tenant, b->t->name,
			 render_workload_name((enum es_role)(b->next - 1)),
			 res->message ? res->message : "no answer");
		b->t->budgets[0] = '\0'; /* listed again next time */
		budget_free(b);
		return;
	}
	apply_next(b);
}

/* Apply, one at a time, the budgets whose live value differs from the wanted one. */
static void apply_next(struct budget *b)
{
	while (b->next < ES_ROLE_COUNT && b->live[b->next] == b->want[b->next])
		b->next++;
	if (b->next >= ES_ROLE_COUNT) {
		struct target *t = b->t;
		bool changed = strcmp(t->budgets, b->want) != 0;
		memcpy(t->budgets, b->want, sizeof(t->budgets));
		if (changed && b->hold)
			log_info(
				"health sweep: cluster %s/%s: disruption budgets held at 0 (health "
				"%s%s%s)",
				t->tenant, t->name, sweep_health_names[t->health],
				t->job ? ", a job running: " : "", t->job ? t->job : "");
		else if (changed)
			log_info("health sweep: cluster %s/%s: green and idle, disruption budgets "
				 "back to %s (master, data, client)",
				 t->tenant, t->name, b->want);
		budget_free(b);
		return;
	}
	json_t *pdb = json_array_get(b->pdbs, (size_t)b->next);
	b->next++;
	b->call = kube_apply(b->s->opt.kube, pdb, applied_cb, b);
	if (!b->call) {
		b->t->budgets[0] = '\0';
		budget_free(b);
	}
}

static void listed_cb(void *arg, const struct kube_result *res)
{
	struct budget *b = arg;
	b->call = NULL;
	if (res->klass != HTTPC_OK) {
		log_warn("health sweep: cluster %s/%s: listing the disruption budgets failed: %s",
			 b->t->tenant, b->t->name, res->message ? res->message : "no answer");
		budget_free(b);
		return;
	}
	size_t i;
	json_t *item;
	json_array_foreach (json_object_get(res->body, "items"), i, item) {
		const char *name = json_str(json_object_get(item, "metadata"), "name");
		json_t *max = json_object_get(json_object_get(item, "spec"), "maxUnavailable");
		for (int r = 0; r < ES_ROLE_COUNT; r++)
			if (name && strcmp(name, render_workload_name((enum es_role)r)) == 0 &&
			    json_is_integer(max) && json_integer_value(max) >= 0 &&
			    json_integer_value(max) <= 9)
				b->live[r] = (char)('0' + json_integer_value(max));
	}
	apply_next(b);
}

void sweep_budget_check(struct sweep *s, struct target *t)
{
	if (!s->opt.kube || t->budget || !t->spec || s->stopping)
		return;
	if (t->job && (strcmp(t->job, "create") == 0 || strcmp(t->job, "delete") == 0))
		return;
	bool hold = t->health != HEALTH_GREEN || job_disrupts(t->job);
	json_error_t jerr;
	json_t *doc = json_loads(t->spec, 0, &jerr);
	struct spec spec;
	struct spec_error serr;
	if (!doc || !spec_parse(doc, &spec, &serr)) {
		json_decref(doc);
		log_debug("health sweep: cluster %s/%s: its recorded spec does not parse; "
			  "disruption budgets left as they are",
			  t->tenant, t->name);
		return;
	}
	json_decref(doc);
	struct render_opts ro = {
		.tenant = t->tenant, .ns = *t->ns ? t->ns : NULL, .cluster_id = t->id};
	struct budget *b = xcalloc(1, sizeof(*b));
	b->s = s;
	b->t = t;
	b->hold = hold;
	b->pdbs = json_array();
	for (int r = 0; r < ES_ROLE_COUNT; r++) {
		json_t *pdb = render_disruption_budget(&spec, &ro, (enum es_role)r, hold);
		json_int_t max = json_integer_value(
			json_object_get(json_object_get(pdb, "spec"), "maxUnavailable"));
		b->want[r] = (char)('0' + (max > 9 ? 9 : max));
		json_array_append_new(b->pdbs, pdb);
	}
	if (strcmp(b->want, t->budgets) == 0) {
		spec_free(&spec);
		b->t = NULL;
		budget_free(b);
		return;
	}
	t->budget = b;
	if (t->budgets[0]) {
		memcpy(b->live, t->budgets, sizeof(b->live));
		spec_free(&spec);
		apply_next(b);
		return;
	}
	memset(b->live, '?', ES_ROLE_COUNT);
	char *ns = *t->ns ? xstrdup(t->ns) : render_namespace(t->tenant, spec.name);
	char *path = kube_collection_path("policy/v1", "PodDisruptionBudget", ns);
	char *sel = xasprintf("%s=%s", RENDER_LABEL_CLUSTER, spec.name);
	spec_free(&spec);
	b->call = kube_list(s->opt.kube, path, sel, listed_cb, b);
	free(sel);
	free(path);
	free(ns);
	if (!b->call)
		budget_free(b);
}
