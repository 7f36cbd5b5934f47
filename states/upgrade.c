/*
 * upgrade: the way to the new version (rolling, or a full cluster
 * restart), the full restart's stop and start, and what the nodes run
 * once a cancel or a failure has ended it.
 */
#include "states/states.h"
#include "common/json.h"
#include "states/internal.h"
#include "states/env.h"
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
 * params: {"spec": the spec at the target version, "version": the target,
 * "from": the version recorded, "way": "rolling" | "full_restart"}.  The
 * full restart keeps the pods it stops in context.stopping ({name, uid,
 * role}) and how many it has deleted in context.stopped, so that a run
 * again never deletes a pod that has already come back.
 */
void state_upgrade_route(struct step *s)
{
	const char *way = json_str(step_params(s), "way");
	if (way && strcmp(way, "full_restart") == 0)
		step_branch(s, UPGRADE_ROUTE_FULL_RESTART);
	else
		step_next(s);
}

/* A snapshot before anything changes, unless the request said
 * "snapshot": false (or snapshots are not configured: the API said so). */
void state_upgrade_snapshot_route(struct step *s)
{
	if (json_is_true(json_object_get(step_params(s), "snapshot")))
		step_branch(s, UPGRADE_SNAPSHOT_TAKE);
	else
		step_next(s);
}

static void stop_next(struct state_call *l);

static void stopped_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	l->kcall = NULL;
	/* Gone already, or replaced already (uid differs): done either way. */
	if (res->klass != HTTPC_OK && res->status != 404 && res->status != 409) {
		states_call_report(l, false, res->klass == HTTPC_TRANSIENT, res->message);
		return;
	}
	json_t *ctx = step_context(l->step);
	json_object_set_new(ctx, "stopped",
			    json_integer(json_integer_value(json_object_get(ctx, "stopped")) + 1));
	step_progress(l->step);
	stop_next(l);
}

/* Delete the next pod of context.stopping, by its uid. */
static void stop_next(struct state_call *l)
{
	json_t *ctx = step_context(l->step);
	json_t *stopping = json_object_get(ctx, "stopping");
	size_t done = (size_t)json_integer_value(json_object_get(ctx, "stopped"));
	if (done >= json_array_size(stopping)) {
		states_call_report(l, true, false, NULL);
		return;
	}
	json_t *pod = json_array_get(stopping, done);
	char *path = xasprintf("/api/v1/namespaces/%s/pods/%s", l->r->ns, json_str(pod, "name"));
	l->kcall = kube_delete(l->env->kube, path, NULL, json_str(pod, "uid"), stopped_cb, l);
	free(path);
}

static void stop_listed_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	if (!states_call_kube_ok(l, res))
		return;
	l->kcall = NULL;
	/* Every node of the old version, recorded before the first goes. */
	json_t *pods = restart_plan_pods(step_params(l->step), json_object_get(res->body, "items"));
	json_object_set_new(step_context(l->step), "stopping", pods);
	json_object_set_new(step_context(l->step), "stopped", json_integer(0));
	stop_next(l);
}

/*
 * Every node stops: no node of the old major talks to one of the new
 * (https://www.elastic.co/guide/en/elasticsearch/reference/5.6/restart-upgrade.html:
 * shut down all nodes, upgrade them, start them).  The StatefulSets bring
 * each pod back from their templates, at the new version.
 */
void state_upgrade_stop_all(struct step *s)
{
	struct state_call *l = states_call_new(s);
	if (!l)
		return;
	if (json_is_array(json_object_get(step_context(s), "stopping")))
		stop_next(l);
	else
		states_list_pods(l, NULL, stop_listed_cb, l);
}

static bool stopping_uid(json_t *stopping, const char *uid)
{
	size_t i;
	json_t *p;
	json_array_foreach (stopping, i, p)
		if (uid && strcmp(json_str(p, "uid"), uid) == 0)
			return true;
	return false;
}

static void started_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	struct step *s = l->step;
	if (!states_call_kube_ok(l, res))
		return;
	json_t *stopping = json_object_get(step_context(s), "stopping");
	json_t *items = json_object_get(res->body, "items");
	json_t *fresh = json_array();
	int old = 0, want = 0;
	size_t i;
	json_t *pod;
	json_array_foreach (items, i, pod) {
		const char *role = json_string_value(
			json_object_get(json_object_get(json_object_get(pod, "metadata"), "labels"),
					RENDER_LABEL_ROLE));
		if (!role || strcmp(role, "kibana") == 0)
			continue;
		if (stopping_uid(stopping, json_str(json_object_get(pod, "metadata"), "uid")))
			old++;
		else
			json_array_append(fresh, pod);
	}
	for (int r = 0; r < ES_ROLE_COUNT; r++)
		want += l->r->spec.nodes[r].replicas;
	struct states_pod_tally t;
	states_tally_pods(fresh, true, NULL, &t);
	json_decref(fresh);
	int64_t wait_ms = states_wait_ms(l);
	states_call_finish(l);
	if (old > 0)
		step_wait(s, wait_ms, "%d of %zu pods of the old version still stopping", old,
			  json_array_size(stopping));
	else if (t.ready < want)
		step_wait(s, wait_ms, "%d of %d pods of the new version ready%s%s", t.ready, want,
			  t.first_missing[0] ? "; " : "", t.first_missing);
	else
		step_next(s);
}

/* Every old pod gone, and as many of the new version ready as the spec has. */
void state_upgrade_wait_started(struct step *s)
{
	struct state_call *l = states_call_new(s);
	if (!l)
		return;
	states_list_pods(l, NULL, started_cb, l);
}

static void primaries_back_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	bool answered = res->klass == HTTPC_OK || res->status == 408;
	const char *status = answered ? json_str(res->body, "status") : NULL;
	char *seen = xstrdup(status ? status : (res->message ? res->message : "no answer"));
	json_int_t unassigned = json_integer_value(json_object_get(res->body, "unassigned_shards"));
	/* Unreachable, its pods just Ready: the Service's endpoints lag. */
	int64_t wait_ms =
		!answered ? states_wait_endpoints_ms(l) : states_health_wait_ms(s, res->status);
	states_call_finish(l);
	if (status && strcmp(status, "red") != 0)
		step_next(s);
	else if (status)
		step_wait(s, wait_ms,
			  "health red (%lld unassigned shards): waiting for every primary to come "
			  "back from the nodes' disks before replicas are allocated again",
			  (long long)unassigned);
	else
		step_wait(s, wait_ms, "the cluster's HTTP service does not answer yet: %s", seen);
	free(seen);
}

/* After a full restart, every primary back from the disks (yellow), through
 * the cluster's HTTP service, before allocation of replicas resumes
 * (https://www.elastic.co/guide/en/elasticsearch/reference/5.6/restart-upgrade.html:
 * wait for yellow, then reenable allocation). */
void state_upgrade_wait_primaries(struct step *s)
{
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	l->ecall = es_health(l->es, "yellow", STATES_HEALTH_LONG_POLL, false, primaries_back_cb, l);
}

/*
 * The Elasticsearch pods of a pod list by the version they run (their
 * template's label): version -> count, and how many there are, none on its
 * way out.  false (and a wait) while fewer are there than the spec has: a
 * pod the job had just deleted comes back from its StatefulSet within
 * moments, at whichever version its template then says.
 */
static bool count_versions(struct state_call *l, json_t *items, json_t **versions, int *total,
			   const char *what)
{
	struct step *s = l->step;
	int want = 0;
	size_t i;
	json_t *pod;
	*versions = json_object();
	*total = 0;
	json_array_foreach (items, i, pod) {
		json_t *meta = json_object_get(pod, "metadata");
		json_t *labels = json_object_get(meta, "labels");
		const char *role = json_string_value(json_object_get(labels, RENDER_LABEL_ROLE));
		const char *v = json_string_value(json_object_get(labels, RENDER_LABEL_VERSION));
		if (!role || !v || strcmp(role, "kibana") == 0 ||
		    json_object_get(meta, "deletionTimestamp"))
			continue;
		json_object_set_new(
			*versions, v,
			json_integer(json_integer_value(json_object_get(*versions, v)) + 1));
		(*total)++;
	}
	for (int r = 0; r < ES_ROLE_COUNT; r++)
		want += l->r->spec.nodes[r].replicas;
	int64_t wait_ms = states_wait_ms(l);
	states_call_finish(l);
	if (*total >= want)
		return true;
	json_decref(*versions);
	*versions = NULL;
	step_wait(s, wait_ms,
		  "%d of %d Elasticsearch pods there: waiting for the ones being "
		  "replaced before %s",
		  *total, want, what);
	return false;
}

/*
 * After a cancel or a failure before any node runs the target, the
 * ConfigMaps and the StatefulSets go back to the recorded spec's: nothing
 * was upgraded, so nothing stays changed (a node restarting later reads
 * the configuration of the version it runs).  Once one node runs the
 * target, both stay the target's, which every node restarting from now on
 * comes back as.  context.templates_back says which.
 */
static void undo_listed_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	struct step *s = l->step;
	if (!states_call_kube_ok(l, res))
		return;
	json_t *versions;
	int total;
	if (!count_versions(l, json_object_get(res->body, "items"), &versions, &total,
			    "deciding whether the templates go back"))
		return;
	const char *to = json_str(step_params(s), "version");
	bool back = to && json_integer_value(json_object_get(versions, to)) == 0;
	json_decref(versions);
	json_object_set_new(step_context(s), "templates_back", json_boolean(back));
	json_t *previous = json_object_get(step_params(s), "previous_spec");
	if (back && json_is_object(previous))
		states_apply_kind_of(s, previous, "ConfigMap", NULL);
	else
		step_next(s);
}

void state_upgrade_undo_config(struct step *s)
{
	struct state_call *l = states_call_new(s);
	if (!l)
		return;
	states_list_pods(l, NULL, undo_listed_cb, l);
}

void state_upgrade_undo_workloads(struct step *s)
{
	json_t *previous = json_object_get(step_params(s), "previous_spec");
	if (json_is_true(json_object_get(step_context(s), "templates_back")) &&
	    json_is_object(previous))
		states_apply_workloads_of(s, previous);
	else
		step_next(s);
}

static void report_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	struct step *s = l->step;
	if (!states_call_kube_ok(l, res))
		return;
	json_t *p = step_params(s);
	const char *to = json_str(p, "version") ? json_str(p, "version") : "?";
	const char *from = json_str(p, "from") ? json_str(p, "from") : "?";
	json_t *versions;
	int total;
	if (!count_versions(l, json_object_get(res->body, "items"), &versions, &total,
			    "saying which version each runs"))
		return;
	json_object_set(step_context(s), "versions", versions);
	int on_target = (int)json_integer_value(json_object_get(versions, to));
	if (on_target == 0)
		step_next_noting(s,
				 "every one of the %d Elasticsearch nodes still runs %s, and its "
				 "configuration and StatefulSets are %s's again",
				 total, from, from);
	else if (on_target == total)
		step_next_noting(
			s,
			"all %d Elasticsearch nodes run %s; the cluster's recorded version "
			"stays %s until an upgrade to %s ends",
			total, to, from, to);
	else
		step_next_noting(
			s,
			"%d of %d Elasticsearch nodes run %s, %d still run %s: the upgraded "
			"nodes stay upgraded (no node goes back to an older version), "
			"allocation is restored, the cluster's recorded version stays %s; "
			"upgrade to %s again to finish",
			on_target, total, to, total - on_target, from, from, to);
	json_decref(versions);
}

/* After a cancel or a failure: which version each node runs, in the
 * context (context.versions: version -> nodes) and the job's history. */
void state_upgrade_report(struct step *s)
{
	struct state_call *l = states_call_new(s);
	if (!l)
		return;
	states_list_pods(l, NULL, report_cb, l);
}
