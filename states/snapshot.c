/*
 * Snapshots of a cluster into its repository: the repository registered
 * (an fs repository in the cluster's folder of the tenant's NFS export, or
 * an s3 one in the cluster's folder of the tenant's prefix of the bucket,
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

#include <stdint.h>
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

/* Where the repository being registered is, for its errors: the folder of
 * path.repo, or the bucket and prefix; the caller frees it. */
static char *repository_where(struct state_call *l, const char *ns)
{
	const struct wf_env *env = step_env(l->step);
	const struct render_s3 *s3 = states_s3_opts(env ? env->cfg : NULL, step_tenant(l->step));
	if (!s3)
		return xasprintf("folder %s of path.repo %s", ns, RENDER_SNAPSHOTS_DIR);
	char *base = render_s3_base_path(s3, step_tenant(l->step), ns);
	char *where = xasprintf("bucket %s, base_path %s", s3->bucket, base);
	free(base);
	return where;
}

/* The repository's settings: the cluster's folder, by its namespace, in
 * the tenant's folder (path.repo), or its prefix of the bucket. */
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
	const char *source = json_str(json_object_get(step_params(s), "restore"), "namespace");
	char *where = repository_where(l, source ? source : l->r->ns);
	char *msg = xasprintf("registering repository %s (%s): %s",
			      source ? RENDER_RESTORE_REPO : RENDER_SNAPSHOT_REPO, where,
			      es_reason(res));
	states_call_report(l, false, !config && res->klass == HTTPC_TRANSIENT, msg);
	free(where);
	free(msg);
}

bool states_snapshots_ready(const struct config *cfg, const char *tenant,
			    const struct es_version *v, char *why, size_t whylen)
{
	struct render_opts ro = {
		.snapshots_nfs_server = cfg ? cfg->snapshots_nfs_server : NULL,
		.snapshots_nfs_path = cfg ? cfg->snapshots_nfs_path : NULL,
	};
	if (render_snapshots_enabled(&ro))
		return true;
	if (!cfg || !cfg->snapshots_s3_bucket) {
		snprintf(why, whylen,
			 "snapshots are not configured on this esaas: snapshots.nfs_server and "
			 "snapshots.nfs_path name an NFS export, or snapshots.s3_bucket a bucket, "
			 "that holds the repositories");
		return false;
	}
	if (v && !render_s3_supported(v)) {
		char version[ES_VERSION_BUFSIZE];
		es_version_format(v, version, sizeof(version));
		snprintf(why, whylen,
			 "snapshots on object storage (snapshots.s3_bucket) need Elasticsearch "
			 "7.3 or later, whose s3 repositories take their client's endpoint and "
			 "keys from the node's settings and keystore: this cluster runs %s",
			 version);
		return false;
	}
	char *access_key, *secret_key;
	if (!config_s3_keys(cfg, tenant, &access_key, &secret_key, why, whylen))
		return false;
	free(access_key);
	free(secret_key);
	return true;
}

/* Can this cluster have snapshots?  Else the step fails, saying why. */
static bool snapshots_configured(struct step *s, const struct es_version *v)
{
	const struct wf_env *env = step_env(s);
	char why[768];
	if (states_snapshots_ready(env ? env->cfg : NULL, step_tenant(s), v, why, sizeof(why)))
		return true;
	step_fail(s, "%s", why);
	return false;
}

/* The repository's body: an fs one in the tenant's NFS folder, or an s3
 * one in the tenant's prefix of the bucket. */
static json_t *repository_body(struct state_call *l, const char *ns, bool readonly)
{
	const struct wf_env *env = step_env(l->step);
	const struct render_s3 *s3 = states_s3_opts(env ? env->cfg : NULL, step_tenant(l->step));
	if (s3)
		return render_s3_repository(s3, step_tenant(l->step), ns, readonly);
	json_t *body = json_pack("{s:s, s:{s:s}}", "type", "fs", "settings", "location", ns);
	if (readonly)
		json_object_set_new(json_object_get(body, "settings"), "readonly", json_true());
	return body;
}

void state_snapshot_repository(struct step *s)
{
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	if (!snapshots_configured(s, &l->r->spec.version)) {
		states_call_finish(l);
		return;
	}
	json_t *body = repository_body(l, l->r->ns, false);
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

/* The snapshot's request: every index, no global state; from 7.3 with the
 * documents of each index as _cat/indices counted them just before
 * (metadata.esaas_doc_counts), which a restore checks its indices against. */
static void snapshot_put(struct state_call *l, json_t *counts)
{
	struct step *s = l->step;
	char *path = xasprintf("/_snapshot/%s/%s?wait_for_completion=false", RENDER_SNAPSHOT_REPO,
			       states_snapshot_name(s));
	json_t *body = json_pack("{s:b}", "include_global_state", 0);
	if (counts)
		json_object_set_new(body, "metadata",
				    json_pack("{s:O, s:I}", "esaas_doc_counts", counts, "esaas_job",
					      (json_int_t)step_job_id(s)));
	l->ecall = es_request(l->es, "PUT", path, body, snapshot_put_cb, l);
	json_decref(body);
	free(path);
	if (!l->ecall)
		states_call_report(l, false, true, "cannot send the request");
}

static void snapshot_counted_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	if (!states_call_es_ok(l, res, "counting the documents before the snapshot"))
		return;
	json_t *counts = json_object();
	size_t i;
	json_t *row;
	json_array_foreach (res->body, i, row) {
		const char *index = json_str(row, "index");
		const char *docs = json_str(row, "docs.count");
		int64_t n;
		if (index && docs && parse_int64(docs, 0, INT64_MAX, &n))
			json_object_set_new(counts, index, json_integer(n));
	}
	snapshot_put(l, counts);
	json_decref(counts);
}

void state_snapshot_take(struct step *s)
{
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	const struct es_version *v = &l->r->spec.version;
	if (v->major > 7 || (v->major == 7 && v->minor >= 3)) {
		l->ecall = es_request(l->es, "GET", "/_cat/indices?format=json&h=index,docs.count",
				      NULL, snapshot_counted_cb, l);
		if (!l->ecall)
			states_call_report(l, false, true, "cannot send the request");
		return;
	}
	snapshot_put(l, NULL);
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

/* --- retention ------------------------------------------------------------------------ */

static void prune_deleted_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	char *name = xstrdup(json_str(l->nodes, "deleting"));
	json_int_t beyond = json_integer_value(json_object_get(l->nodes, "beyond"));
	if (res->klass != HTTPC_OK && res->status != 404) {
		char *msg = xasprintf("deleting snapshot %s, beyond the %d kept: %s", name,
				      l->r->spec.snapshots_keep, es_reason(res));
		states_call_report(l, false, res->klass == HTTPC_TRANSIENT, msg);
		free(msg);
		free(name);
		return;
	}
	int keep = l->r->spec.snapshots_keep;
	states_call_finish(l);
	/* Look again at once: the next oldest, until only keep are left. */
	step_wait(s, 0, "deleted snapshot %s, the oldest of %lld beyond the %d kept", name,
		  (long long)beyond, keep);
	free(name);
}

static void prune_listed_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	if (!states_call_es_ok(l, res, "listing the snapshots to keep"))
		return;
	/* Oldest first, as Elasticsearch lists them; one still running is
	 * not counted, nor deleted. */
	json_t *ended = json_array();
	size_t i;
	json_t *info;
	json_array_foreach (json_object_get(res->body, "snapshots"), i, info) {
		const char *state = json_str(info, "state");
		if (state && strcmp(state, "IN_PROGRESS") != 0 && json_str(info, "snapshot"))
			json_array_append(ended, json_object_get(info, "snapshot"));
	}
	int keep = l->r->spec.snapshots_keep;
	if ((int)json_array_size(ended) <= keep) {
		size_t n = json_array_size(ended);
		json_decref(ended);
		states_call_finish(l);
		step_next_noting(s, "%zu snapshots in the repository, %d kept", n, keep);
		return;
	}
	const char *oldest = json_string_value(json_array_get(ended, 0));
	l->nodes = json_pack("{s:s, s:I}", "deleting", oldest, "beyond",
			     (json_int_t)json_array_size(ended) - keep);
	json_decref(ended);
	char *path =
		xasprintf("/_snapshot/%s/%s", RENDER_SNAPSHOT_REPO, json_str(l->nodes, "deleting"));
	l->ecall = es_request(l->es, "DELETE", path, NULL, prune_deleted_cb, l);
	free(path);
	if (!l->ecall)
		states_call_report(l, false, true, "cannot send the request");
}

/* The spec's snapshots.keep: the oldest beyond it deleted, one at a time;
 * without it, every snapshot stays. */
void state_snapshot_prune(struct step *s)
{
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	if (l->r->spec.snapshots_keep <= 0) {
		states_call_finish(l);
		step_next_noting(s, "no snapshots.keep in the spec: every snapshot stays");
		return;
	}
	l->ecall = es_request(l->es, "GET", "/_snapshot/" RENDER_SNAPSHOT_REPO "/_all", NULL,
			      prune_listed_cb, l);
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

/* --- a create's restore (params.restore) ---------------------------------------------- */

/* The create's restore, or NULL (the step goes on). */
static json_t *restore_of(struct step *s)
{
	json_t *r = json_object_get(step_params(s), "restore");
	if (!json_is_object(r))
		step_next(s);
	return json_is_object(r) ? r : NULL;
}

/* The repository a restore reads: another cluster's folder, read-only
 * (this cluster never writes there), or the cluster's own. */
static const char *restore_repo(json_t *restore)
{
	return json_str(restore, "namespace") ? RENDER_RESTORE_REPO : RENDER_SNAPSHOT_REPO;
}

void state_restore_repository(struct step *s)
{
	json_t *restore = restore_of(s);
	if (!restore)
		return;
	if (!json_str(restore, "namespace")) {
		state_snapshot_repository(s);
		return;
	}
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	if (!snapshots_configured(s, &l->r->spec.version)) {
		states_call_finish(l);
		return;
	}
	json_t *body = repository_body(l, json_str(restore, "namespace"), true);
	l->ecall = es_request(l->es, "PUT", "/_snapshot/" RENDER_RESTORE_REPO, body,
			      repository_put_cb, l);
	json_decref(body);
	if (!l->ecall)
		states_call_report(l, false, true, "cannot send the request");
}

static void restore_started_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	const char *reason = es_reason(res);
	/* A new cluster holds only what this job restored: an index of the
	 * same name is one an earlier run of this state started.  (In a
	 * cluster of its own, it is the tenant's: refused.) */
	const char *kind = step_kind(s);
	bool again = kind && !strcmp(kind, "create") &&
		     strstr(reason, "because an open index with same name already exists") != NULL;
	if (res->klass == HTTPC_OK || again) {
		states_call_finish(l);
		step_next_noting(s, "%s",
				 again ? "restore already started by an earlier run"
				       : "restore started");
		return;
	}
	const char *type = es_error_type(res);
	bool refused = !strcmp(type, "snapshot_restore_exception") ||
		       !strcmp(type, "illegal_state_exception") ||
		       !strcmp(type, "snapshot_missing_exception");
	json_t *restore = json_object_get(step_params(s), "restore");
	char *msg =
		xasprintf("restoring snapshot %s%s%s: %s", json_str(restore, "snapshot"),
			  json_str(restore, "cluster") ? " of cluster " : "",
			  json_str(restore, "cluster") ? json_str(restore, "cluster") : "", reason);
	states_call_report(l, false, !refused && res->klass == HTTPC_TRANSIENT, msg);
	free(msg);
}

void state_restore_start(struct step *s)
{
	json_t *restore = restore_of(s);
	if (!restore)
		return;
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	char *path = xasprintf("/_snapshot/%s/%s/_restore", restore_repo(restore),
			       json_str(restore, "snapshot"));
	json_t *body = json_pack("{s:b}", "include_global_state", 0);
	static const char *const passed[] = {"indices", "rename_pattern", "rename_replacement"};
	for (size_t i = 0; i < sizeof(passed) / sizeof(passed[0]); i++)
		if (json_object_get(restore, passed[i]))
			json_object_set(body, passed[i], json_object_get(restore, passed[i]));
	l->ecall = es_request(l->es, "POST", path, body, restore_started_cb, l);
	json_decref(body);
	free(path);
	if (!l->ecall)
		states_call_report(l, false, true, "cannot send the request");
}

/* The restored shards recovered: green (a create without a restore goes on). */
void state_restore_wait_green(struct step *s)
{
	if (restore_of(s))
		state_wait_green(s);
}

/* Every index of the snapshot is here, with the documents the snapshot
 * recorded (metadata.esaas_doc_counts, from 7.3). */
static void restore_counted_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	if (!states_call_es_ok(l, res, "counting the restored documents"))
		return;
	json_t *recorded =
		json_object_get(json_object_get(l->nodes, "metadata"), "esaas_doc_counts");
	json_t *names = json_object_get(l->nodes, "names");
	json_t *here = json_object();
	size_t i;
	json_t *row, *name;
	json_array_foreach (res->body, i, row) {
		int64_t n;
		const char *docs = json_str(row, "docs.count");
		if (json_str(row, "index"))
			json_object_set_new(here, json_str(row, "index"),
					    docs && parse_int64(docs, 0, INT64_MAX, &n)
						    ? json_integer(n)
						    : json_null());
	}
	char *wrong = NULL;
	size_t checked = 0;
	const char *from;
	json_object_foreach (names, from, name) {
		const char *index = json_string_value(name);
		json_t *got = json_object_get(here, index);
		json_t *want = json_object_get(recorded, from);
		if (!got)
			wrong = xasprintf("index %s (%s in the snapshot) is not in the cluster",
					  index, from);
		else if (json_is_integer(want) &&
			 (!json_is_integer(got) ||
			  json_integer_value(got) != json_integer_value(want)))
			wrong = xasprintf("index %s has %lld documents, the snapshot %lld (as %s)",
					  index, (long long)json_integer_value(got),
					  (long long)json_integer_value(want), from);
		else if (json_is_integer(want))
			checked++;
		if (wrong)
			break;
	}
	size_t total = json_object_size(names);
	bool had_counts = recorded != NULL;
	if (!wrong && total == 0)
		wrong = xasprintf("no index of the cluster came from snapshot %s (the recovery "
				  "API names none)",
				  json_str(json_object_get(step_params(s), "restore"), "snapshot"));
	json_decref(here);
	states_call_finish(l);
	if (wrong)
		step_fail(s, "the restore is not what the snapshot holds: %s", wrong);
	else if (had_counts)
		step_next_noting(s,
				 "%zu indices restored, each with the documents the snapshot "
				 "recorded",
				 checked);
	else
		step_next_noting(
			s,
			"%zu indices restored and green; the snapshot recorded no document "
			"counts (taken before 7.3, or not by esaas) to check them against",
			total);
	free(wrong);
}

/* Which index of the cluster each index of the snapshot became: the
 * recovery API names the snapshot and index a restored primary came from
 * (indices-recovery.html, "source"). */
static void restore_recoveries_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	if (!states_call_es_ok(l, res, "reading the restored shards' recoveries"))
		return;
	json_t *restore = json_object_get(step_params(l->step), "restore");
	json_t *names = json_object_get(l->nodes, "names");
	const char *index;
	json_t *rec;
	json_object_foreach (res->body, index, rec) {
		size_t i;
		json_t *sh;
		json_array_foreach (json_object_get(rec, "shards"), i, sh) {
			json_t *src = json_object_get(sh, "source");
			const char *type = json_str(sh, "type");
			const char *snap = json_str(src, "snapshot");
			const char *repo = json_str(src, "repository");
			if (type && !strcmp(type, "SNAPSHOT") && snap &&
			    !strcmp(snap, json_str(restore, "snapshot")) && repo &&
			    !strcmp(repo, restore_repo(restore)) && json_str(src, "index"))
				json_object_set_new(names, json_str(src, "index"),
						    json_string(index));
		}
	}
	l->ecall = es_request(l->es, "GET", "/_cat/indices?format=json&h=index,docs.count", NULL,
			      restore_counted_cb, l);
	if (!l->ecall)
		states_call_report(l, false, true, "cannot send the request");
}

static void restore_snapshot_read_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	if (!states_call_es_ok(l, res, "reading the snapshot's record"))
		return;
	json_t *info = json_array_get(json_object_get(res->body, "snapshots"), 0);
	json_t *restore = json_object_get(step_params(l->step), "restore");
	/* Every index under its own name, or those the recoveries name (a
	 * choice of indices, a rename). */
	json_t *names = json_object();
	bool chosen =
		json_object_get(restore, "rename_pattern") || json_object_get(restore, "indices");
	size_t i;
	json_t *v;
	json_array_foreach (chosen ? NULL : json_object_get(info, "indices"), i, v)
		json_object_set(names, json_string_value(v), v);
	l->nodes = json_pack("{s:O?, s:o}", "metadata", json_object_get(info, "metadata"), "names",
			     names);
	l->ecall =
		es_request(l->es, "GET",
			   chosen ? "/_recovery" : "/_cat/indices?format=json&h=index,docs.count",
			   NULL, chosen ? restore_recoveries_cb : restore_counted_cb, l);
	if (!l->ecall)
		states_call_report(l, false, true, "cannot send the request");
}

void state_restore_verify(struct step *s)
{
	json_t *restore = restore_of(s);
	if (!restore)
		return;
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	char *path =
		xasprintf("/_snapshot/%s/%s", restore_repo(restore), json_str(restore, "snapshot"));
	l->ecall = es_request(l->es, "GET", path, NULL, restore_snapshot_read_cb, l);
	free(path);
	if (!l->ecall)
		states_call_report(l, false, true, "cannot send the request");
}
