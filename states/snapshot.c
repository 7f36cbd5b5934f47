/*
 * Snapshots of a cluster into its repository: the repository registered
 * (an fs repository in the cluster's folder of the tenant's NFS export,
 * kube/render.h), the snapshot started, its end waited for; a cancelled or
 * failed job aborts and removes a snapshot it left running.  Any workflow
 * may take a snapshot with these states: the name is params.snapshot, or
 * "<kind>-<job id>", kept in context.snapshot_name.
 */
#include "states/states.h"
#include "common/json.h"
#include "states/internal.h"
#include "states/env.h"
#include "common/config.h"
#include "common/util.h"
#include "engine/fsm.h"
#include "es/client.h"
#include "kube/render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *states_snapshot_name(struct step *s)
{
	json_t *ctx = step_context(s);
	const char *name = json_str(ctx, "snapshot_name");
	if (name)
		return name;
	const char *asked = json_str(step_params(s), "snapshot");
	char *made = asked ? xstrdup(asked)
			   : xasprintf("%s-%lld", step_kind(s), (long long)step_job_id(s));
	json_object_set_new(ctx, "snapshot_name", json_string(made));
	free(made);
	return json_str(ctx, "snapshot_name");
}

/* Elasticsearch's reason of a failed answer, or the transport's. */
static const char *es_reason(const struct es_result *res)
{
	const char *reason = json_str(json_object_get(res->body, "error"), "reason");
	return reason ? reason : res->message ? res->message : "no answer";
}

static const char *es_error_type(const struct es_result *res)
{
	const char *type = json_str(json_object_get(res->body, "error"), "type");
	return type ? type : "";
}

/* The repository's settings: the cluster's folder, by its namespace, in
 * the tenant's folder (path.repo). */
static void repository_put_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	if (res->klass == HTTPC_OK) {
		states_call_finish(l);
		step_next(s);
		return;
	}
	/* A location outside path.repo, or a folder the nodes do not share,
	 * is the nodes' configuration: no retry mends it. */
	const char *type = es_error_type(res);
	bool config = !strcmp(type, "repository_exception") ||
		      !strcmp(type, "repository_verification_exception");
	char *msg = xasprintf("registering repository %s (folder %s of path.repo %s): %s",
			      RENDER_SNAPSHOT_REPO, l->r->ns, RENDER_SNAPSHOTS_DIR, es_reason(res));
	states_call_report(l, false, !config && res->klass == HTTPC_TRANSIENT, msg);
	free(msg);
}

/* Are the snapshots configured (snapshots.nfs_*)?  Else the step fails. */
static bool snapshots_configured(struct step *s)
{
	const struct wf_env *env = step_env(s);
	struct render_opts ro = {
		.snapshots_nfs_server = env && env->cfg ? env->cfg->snapshots_nfs_server : NULL,
		.snapshots_nfs_path = env && env->cfg ? env->cfg->snapshots_nfs_path : NULL,
	};
	if (render_snapshots_enabled(&ro))
		return true;
	step_fail(s, "snapshots are not configured: snapshots.nfs_server and snapshots.nfs_path "
		     "name the NFS export that holds the repositories");
	return false;
}

void state_snapshot_repository(struct step *s)
{
	if (!snapshots_configured(s))
		return;
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	json_t *body = json_pack("{s:s, s:{s:s}}", "type", "fs", "settings", "location", l->r->ns);
	l->ecall = es_request(l->es, "PUT", "/_snapshot/" RENDER_SNAPSHOT_REPO, body,
			      repository_put_cb, l);
	json_decref(body);
	if (!l->ecall)
		states_call_report(l, false, true, "cannot send the request");
}

static void snapshot_put_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	const char *reason = es_reason(res);
	if (res->klass == HTTPC_OK ||
	    (!strcmp(es_error_type(res), "invalid_snapshot_name_exception") &&
	     (strstr(reason, "already exists") || strstr(reason, "already in-progress")))) {
		/* The name is this job's: one there is its own, started by an
		 * earlier run of this state whose answer was lost. */
		json_object_set_new(step_context(s), "snapshot_started", json_true());
		states_call_finish(l);
		step_next(s);
		return;
	}
	if (!strcmp(es_error_type(res), "concurrent_snapshot_execution_exception")) {
		char *why = xstrdup(reason);
		states_call_finish(l);
		step_wait(s, states_poll_ms(s),
			  "another snapshot is running (Elasticsearch before 7.9 takes one at a "
			  "time): %s; waiting to start %s",
			  why, states_snapshot_name(s));
		free(why);
		return;
	}
	char *msg = xasprintf("starting snapshot %s: %s", states_snapshot_name(s), reason);
	states_call_report(l, false, res->klass == HTTPC_TRANSIENT && res->status != 500, msg);
	free(msg);
}

void state_snapshot_take(struct step *s)
{
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	char *path = xasprintf("/_snapshot/%s/%s?wait_for_completion=false", RENDER_SNAPSHOT_REPO,
			       states_snapshot_name(s));
	json_t *body = json_pack("{s:b}", "include_global_state", 0);
	l->ecall = es_request(l->es, "PUT", path, body, snapshot_put_cb, l);
	json_decref(body);
	free(path);
	if (!l->ecall)
		states_call_report(l, false, true, "cannot send the request");
}

/* "logs/0: node shutdown" of a snapshot's first failure, or "". */
static char *first_failure(json_t *info)
{
	json_t *f = json_array_get(json_object_get(info, "failures"), 0);
	if (!f)
		return xstrdup("");
	return xasprintf("; first: %s/%lld: %s", json_str(f, "index") ? json_str(f, "index") : "?",
			 (long long)json_integer_value(json_object_get(f, "shard_id")),
			 json_str(f, "reason") ? json_str(f, "reason") : "no reason");
}

static void snapshot_got_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	char *name = xstrdup(states_snapshot_name(s));
	if (res->status == 404) {
		char *msg = xasprintf("snapshot %s is not in repository %s: it was deleted while "
				      "it ran (%s)",
				      name, RENDER_SNAPSHOT_REPO, es_reason(res));
		states_call_report(l, false, false, msg);
		free(msg);
		free(name);
		return;
	}
	if (!states_call_es_ok(l, res, "reading the snapshot")) {
		free(name);
		return;
	}
	json_t *info = json_array_get(json_object_get(res->body, "snapshots"), 0);
	const char *state = json_str(info, "state");
	json_t *shards = json_object_get(info, "shards");
	long long total = (long long)json_integer_value(json_object_get(shards, "total"));
	long long failed = (long long)json_integer_value(json_object_get(shards, "failed"));
	size_t nindices = json_array_size(json_object_get(info, "indices"));
	char *failure = first_failure(info);
	json_incref(info);
	states_call_finish(l);
	if (state && !strcmp(state, "SUCCESS")) {
		json_object_set_new(step_context(s), "snapshot",
				    json_pack("{s:s, s:s, s:O?, s:O?, s:O?}", "name", name, "state",
					      state, "indices", json_object_get(info, "indices"),
					      "start_time", json_object_get(info, "start_time"),
					      "end_time", json_object_get(info, "end_time")));
		json_object_set_new(step_context(s), "snapshot_done", json_true());
		step_next_noting(s, "snapshot %s: SUCCESS, %zu indices, %lld shards", name,
				 nindices, total);
	} else if (state && (!strcmp(state, "IN_PROGRESS") || !strcmp(state, "STARTED"))) {
		step_wait(s, states_poll_ms(s),
			  "snapshot %s is %s (%zu indices); waiting for SUCCESS", name, state,
			  nindices);
	} else if (state && !strcmp(state, "PARTIAL")) {
		json_object_set_new(step_context(s), "snapshot_done", json_true());
		step_fail(s, "snapshot %s ended PARTIAL: %lld of %lld shards failed%s", name,
			  failed, total, failure);
	} else {
		json_object_set_new(step_context(s), "snapshot_done", json_true());
		step_fail(s, "snapshot %s ended %s%s%s%s", name, state ? state : "in no state",
			  json_str(info, "reason") ? ": " : "",
			  json_str(info, "reason") ? json_str(info, "reason") : "", failure);
	}
	json_decref(info);
	free(failure);
	free(name);
}

void state_snapshot_wait(struct step *s)
{
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	char *path = xasprintf("/_snapshot/%s/%s", RENDER_SNAPSHOT_REPO, states_snapshot_name(s));
	l->ecall = es_request(l->es, "GET", path, NULL, snapshot_got_cb, l);
	free(path);
	if (!l->ecall)
		states_call_report(l, false, true, "cannot send the request");
}

static void snapshot_deleted_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	bool gone = res->klass == HTTPC_OK || res->status == 404;
	char *msg = gone ? NULL : xasprintf("removing the unfinished snapshot: %s", es_reason(res));
	if (gone)
		json_object_set_new(step_context(l->step), "snapshot_started", json_false());
	states_call_report(l, gone, res->klass == HTTPC_TRANSIENT, msg);
	free(msg);
}

/* cleanup: a snapshot this job started and that has not ended is aborted
 * and removed (deleting a running snapshot aborts it). */
void state_snapshot_abort(struct step *s)
{
	json_t *ctx = step_context(s);
	if (!json_is_true(json_object_get(ctx, "snapshot_started")) ||
	    json_is_true(json_object_get(ctx, "snapshot_done"))) {
		step_next(s);
		return;
	}
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	char *path = xasprintf("/_snapshot/%s/%s", RENDER_SNAPSHOT_REPO, states_snapshot_name(s));
	l->ecall = es_request(l->es, "DELETE", path, NULL, snapshot_deleted_cb, l);
	free(path);
	if (!l->ecall)
		states_call_report(l, false, true, "cannot send the request");
}

/* --- the list, for the API ---------------------------------------------------------- */

struct snapshots_read {
	struct wf_env *env;
	char *tenant, *ns;
	json_t *spec;
	json_t *list; /* the snapshots, as the answer gives them */
	states_snapshots_cb cb;
	void *arg;
};

static void snapshots_read_end(struct snapshots_read *c, const char *error)
{
	c->cb(c->arg, error ? NULL : c->list, error);
	json_decref(c->list);
	json_decref(c->spec);
	free(c->tenant);
	free(c->ns);
	free(c);
}

/* The size of a snapshot in a _status answer: stats.total.size_in_bytes
 * from 7.4, stats.total_size_in_bytes before. */
static json_t *status_size(json_t *one)
{
	json_t *stats = json_object_get(one, "stats");
	json_t *v = json_object_get(json_object_get(stats, "total"), "size_in_bytes");
	if (!json_is_integer(v))
		v = json_object_get(stats, "total_size_in_bytes");
	return json_is_integer(v) ? json_incref(v) : json_null();
}

static void snapshots_status_cb(void *arg, long status, json_t *body, const char *error)
{
	struct snapshots_read *c = arg;
	(void)status;
	size_t i, k;
	json_t *one, *snap;
	/* Without the sizes, the list is still worth having. */
	json_array_foreach (json_object_get(body, "snapshots"), i, one) {
		json_array_foreach (c->list, k, snap) {
			if (json_str(snap, "name") && json_str(one, "snapshot") &&
			    !strcmp(json_str(snap, "name"), json_str(one, "snapshot")))
				json_object_set_new(snap, "size_bytes", status_size(one));
		}
	}
	(void)error;
	snapshots_read_end(c, NULL);
}

static void snapshots_listed_cb(void *arg, long status, json_t *body, const char *error)
{
	struct snapshots_read *c = arg;
	if (status == 404) {
		/* No repository yet: no snapshot taken. */
		snapshots_read_end(c, NULL);
		return;
	}
	if (!body) {
		snapshots_read_end(c, error ? error : "no answer");
		return;
	}
	size_t i;
	json_t *info;
	char *names = NULL;
	json_array_foreach (json_object_get(body, "snapshots"), i, info) {
		const char *name = json_str(info, "snapshot");
		const char *state = json_str(info, "state");
		if (!name)
			continue;
		json_t *shards = json_object_get(info, "shards");
		json_array_append_new(
			c->list,
			json_pack("{s:s, s:s?, s:O?, s:O?, s:O?, s:O?, s:O?, s:o, s:s?}", "name",
				  name, "state", state, "start_time",
				  json_object_get(info, "start_time"), "end_time",
				  json_object_get(info, "end_time"), "duration_ms",
				  json_object_get(info, "duration_in_millis"), "indices",
				  json_object_get(info, "indices"), "shards", shards, "size_bytes",
				  json_null(), "version", json_str(info, "version")));
		if (state && strcmp(state, "IN_PROGRESS") != 0) {
			char *more =
				xasprintf("%s%s%s", names ? names : "", names ? "," : "", name);
			free(names);
			names = more;
		}
	}
	if (!names) {
		snapshots_read_end(c, NULL);
		return;
	}
	char *path = xasprintf("/_snapshot/%s/%s/_status", RENDER_SNAPSHOT_REPO, names);
	free(names);
	states_read_es(c->env, c->tenant, c->ns, c->spec, path, snapshots_status_cb, c);
	free(path);
}

void states_read_snapshots(struct wf_env *env, const char *tenant, const char *ns,
			   json_t *spec_json, states_snapshots_cb cb, void *arg)
{
	struct snapshots_read *c = xcalloc(1, sizeof(*c));
	c->env = env;
	c->tenant = xstrdup(tenant);
	c->ns = ns ? xstrdup(ns) : NULL;
	c->spec = json_incref(spec_json);
	c->list = json_array();
	c->cb = cb;
	c->arg = arg;
	states_read_es(env, tenant, ns, spec_json, "/_snapshot/" RENDER_SNAPSHOT_REPO "/_all",
		       snapshots_listed_cb, c);
}
