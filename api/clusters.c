/*
 * The cluster endpoints: create, list, get.  As for jobs, each handler
 * checks the request, starts one query and replies from its callback; the
 * callbacks touch only their request and what they were given.
 */
#include "api/auth.h"
#include "common/json.h"
#include "api/routes.h"
#include "common/config.h"
#include "common/httpc.h"
#include "common/log.h"
#include "common/util.h"
#include "engine/registry.h"
#include "es/client.h"
#include "kube/client.h"
#include "kube/render.h"
#include "kube/spec.h"
#include "states/env.h"
#include "common/config.h"
#include "storage/clusters.h"
#include "storage/health.h"
#include "storage/jobs.h"

#include <stdlib.h>
#include <string.h>

#define CREATE_KIND "create"

/* --- Checks. --- */

/* A workflow's field names a member of its params, {"spec": ...}; the body is the spec. */
static const char *spec_field(const char *field)
{
	if (!field || strcmp(field, "spec") == 0 || strcmp(field, "params") == 0)
		return NULL;
	if (strncmp(field, "spec.", 5) == 0)
		return field + 5;
	return field;
}

bool api_clusters_check_create(json_t *body, const struct wf_registry *reg,
			       const char *allowed_images, struct spec *spec,
			       const struct workflow **wf, struct http_error *err)
{
	struct spec_error serr;

	*wf = NULL;
	if (!spec_parse(body, spec, &serr)) {
		if (!serr.field[0])
			return http_error_set(err, 422, "invalid", NULL, "%s", serr.message);
		return http_error_set(err, 422, "invalid", serr.field, "%s: %s", serr.field,
				      serr.message);
	}
	/* Tenants choose a version; what runs it is the operator's choice. */
	if (!spec_check_image(spec, allowed_images, &serr)) {
		http_error_set(err, 422, "invalid", serr.field, "%s: %s", serr.field, serr.message);
		spec_free(spec);
		return false;
	}

	*wf = reg ? wf_registry_find(reg, CREATE_KIND) : NULL;
	if (!*wf || (*wf)->nstates < 1) {
		http_error_set(err, 501, "not_implemented", NULL,
			       "cluster operations are not available in this build: it has no "
			       "%s workflow",
			       CREATE_KIND);
		goto failed;
	}
	if ((*wf)->validate) {
		json_t *params = json_pack("{s:o}", "spec", spec_to_json(spec));
		const char *field = NULL;
		char msg[512] = "";
		bool ok = (*wf)->validate(params, &field, msg, sizeof(msg));

		if (!ok)
			http_error_set(err, 422, "invalid", spec_field(field), "%s",
				       msg[0] ? msg : "the cluster spec is not valid");
		json_decref(params);
		if (!ok)
			goto failed;
	}
	return true;

failed:
	*wf = NULL;
	spec_free(spec);
	return false;
}

/* ?dry_run=true: the plan, and nothing queued (api/preview.c).  False
 * after a reply. */
static bool read_dry_run(struct http_req *req, bool *dry_run)
{
	const char *v = http_query_get(http_req_query(req), "dry_run");

	*dry_run = v && strcmp(v, "true") == 0;
	if (!v || *dry_run || strcmp(v, "false") == 0)
		return true;
	http_reply_error(req, 422, "invalid", "dry_run", "dry_run must be true or false");
	return false;
}

/* --- POST /api/v1/clusters --- */

static void reply_refusal(struct http_req *req, const struct wf_refusal *why);

/* What the create callback compares a stored job with. */
struct create_call {
	struct http_req *req;
	struct api *api;
	char *name;
	char *key;
	char *actor;
	const struct workflow *wf;
	json_t *params;	  /* {"spec": the normalised spec} */
	json_t *warnings; /* the precheck's, for the answer */
	bool dry_run;
	json_t *restore; /* the request's "restore", or NULL */
};

static void create_call_free(struct create_call *c)
{
	json_decref(c->restore);
	free(c->name);
	free(c->key);
	free(c->actor);
	json_decref(c->params);
	json_decref(c->warnings);
	free(c);
}

static bool same_create(json_t *job, const struct create_call *c)
{
	const char *kind = json_str(job, "kind");
	const char *cluster = json_str(job, "cluster");

	return kind && cluster && strcmp(kind, CREATE_KIND) == 0 && strcmp(cluster, c->name) == 0 &&
	       json_equal(json_object_get(job, "params"), c->params);
}

static void create_done_cb(void *arg, const struct db_error *err, enum cluster_create_result result,
			   json_t *job, json_t *cluster)
{
	struct create_call *c = arg;

	if (err) {
		api_reply_db_error(c->req, err);
		goto out;
	}
	switch (result) {
	case CLUSTER_CREATED:
		api_reply_job_accepted_warning(c->req, 202, job, c->warnings);
		break;
	case CLUSTER_REPEATED:
		if (same_create(job, c)) {
			/* A repeat gets the original answer: that is what the key is for. */
			api_reply_job_accepted(c->req, 202, job);
			break;
		}
		http_reply_error(c->req, 409, "idempotency_conflict", "Idempotency-Key",
				 "Idempotency-Key \"%s\" was already used for job %lld, which "
				 "is not this create of cluster %s with this spec",
				 c->key ? c->key : "",
				 (long long)json_integer_value(json_object_get(job, "id")),
				 c->name);
		break;
	case CLUSTER_NAMESPACE_TAKEN:
		/* Never a takeover: the other cluster's objects, or its data kept
		 * on the hosts, are in that namespace. */
		http_reply_error(c->req, 409, "conflict", "name",
				 "the namespace of cluster %s, %s, is another cluster's, or was; "
				 "choose another name",
				 c->name, json_str(cluster, "namespace"));
		break;
	case CLUSTER_EXISTS:
	default:
		http_reply_error(c->req, 409, "conflict", "name",
				 "cluster %s already exists; choose another name, or delete it "
				 "first",
				 c->name);
		break;
	}
out:
	create_call_free(c);
}

/* Every check passed: the cluster and its create job, stored at once. */
static void create_store(struct create_call *c)
{
	const char *tenant = api_tenant(c->req);
	char *ns = render_namespace(tenant, c->name);

	json_t *extra =
		json_object_get(c->params, "restore")
			? json_pack("{s:O}", "restore", json_object_get(c->params, "restore"))
			: NULL;
	storage_cluster_create(c->api->db, tenant, c->name, json_object_get(c->params, "spec"),
			       extra, ns, c->actor, c->key, c->wf->states[0].name, create_done_cb,
			       c);
	json_decref(extra);
	free(ns);
}

/* A preview of a create: refused as the create would be when the name or
 * its namespace is taken (create_done_cb), else its plan. */
static void create_preview_cb(void *arg, const struct db_error *err, json_t *check)
{
	struct create_call *c = arg;

	if (err)
		api_reply_db_error(c->req, err);
	else if (json_is_true(json_object_get(check, "exists")))
		http_reply_error(c->req, 409, "conflict", "name",
				 "cluster %s already exists; choose another name, or delete it "
				 "first",
				 c->name);
	else if (json_is_true(json_object_get(check, "taken")))
		http_reply_error(c->req, 409, "conflict", "name",
				 "the namespace of cluster %s, %s, is another cluster's, or was; "
				 "choose another name",
				 c->name, json_str(check, "namespace"));
	else
		api_preview(c->api, c->req, c->wf, c->name, json_str(check, "namespace"), NULL,
			    c->warnings, false);
	create_call_free(c);
}

/* The precheck's answer for a create: warnings, or a refusal (a plugin's
 * file missing from the plugin repository). */
static void create_prechecked_cb(void *arg, const struct wf_refusal *why)
{
	struct create_call *c = arg;
	json_t *checked = c->warnings;

	if (why) {
		reply_refusal(c->req, why);
		create_call_free(c);
		return;
	}
	if (c->dry_run) {
		/* c->warnings: the params with the precheck's warnings. */
		char *ns = render_namespace(api_tenant(c->req), c->name);
		storage_cluster_create_check(c->api->db, api_tenant(c->req), c->name, ns,
					     create_preview_cb, c);
		free(ns);
		return;
	}
	c->warnings = json_incref(json_object_get(checked, "warnings"));
	json_decref(checked);
	create_store(c);
}

/* The request checked: the workflow's precheck, then the job. */
static void create_checked(struct create_call *c)
{
	if (c->wf->precheck || c->dry_run) {
		json_t *checked = json_deep_copy(c->params);
		c->warnings = checked; /* held until the precheck answers */
		if (c->wf->precheck)
			c->wf->precheck(c->api->env, api_tenant(c->req), NULL, checked,
					create_prechecked_cb, c);
		else
			create_prechecked_cb(c, NULL);
		return;
	}
	create_store(c);
}

/* The restore's source found (params.restore), or refused (answered). */
static void create_restore_cb(void *arg, json_t *restore)
{
	struct create_call *c = arg;
	if (!restore) {
		create_call_free(c);
		return;
	}
	json_object_set(c->params, "restore", restore);
	create_checked(c);
}

static void clusters_create_cb(struct http_req *req, void *arg)
{
	struct api *api = arg;
	struct http_error err = {0};
	const struct workflow *wf;
	const char *key = http_req_header(req, "Idempotency-Key");
	struct spec spec;
	char *actor = NULL;
	json_t *body = NULL;
	bool dry_run;

	memset(&spec, 0, sizeof(spec));
	if (!read_dry_run(req, &dry_run))
		return;
	if (!api_request_actor(req, &actor, &err))
		goto failed;
	if (!api_check_idempotency_key(key, &err))
		goto failed;
	body = http_req_json(req, false, &err);
	/* A restore is the create's, not the spec's: checked on its own. */
	json_t *restore = json_incref(json_object_get(body, "restore"));
	json_object_del(body, "restore");
	if (restore && !api_restore_fields_ok(restore, &err)) {
		json_decref(restore);
		goto failed;
	}
	if (!body ||
	    !api_clusters_check_create(body, api->reg, api->allowed_images, &spec, &wf, &err)) {
		json_decref(restore);
		goto failed;
	}
	if (!api_database_ok(api, &err)) {
		json_decref(restore);
		goto failed;
	}

	struct create_call *c = xcalloc(1, sizeof(*c));
	c->restore = restore;
	json_t *normalised = spec_to_json(&spec);

	c->req = req;
	c->api = api;
	c->wf = wf;
	c->name = xstrdup(spec.name);
	c->key = key ? xstrdup(key) : NULL;
	c->actor = actor;
	c->params = json_pack("{s:O}", "spec", normalised);
	c->dry_run = dry_run;
	json_decref(normalised);
	spec_free(&spec);
	json_decref(body);
	if (c->restore)
		api_restore_resolve(api, req, c->restore, create_restore_cb, c);
	else
		create_checked(c);
	return;

failed:
	spec_free(&spec);
	free(actor);
	json_decref(body);
	http_reply_failure(req, &err);
}

/* --- GET /api/v1/clusters --- */

static void clusters_list_cb(struct http_req *req, void *arg)
{
	struct api *api = arg;

	if (!api_query_tenant_only(req) || !api_have_database(req, api))
		return;
	storage_cluster_list(api->db, api_tenant_filter(req), api_reply_json_cb, req);
}

/* --- GET /api/v1/clusters/{name} --- */

struct cluster_call {
	struct http_req *req;
	char *name;
};

/* A name that could never be a cluster's names none: 404 like a missing
 * one.  False after that reply. */
static bool cluster_name_valid(struct http_req *req, const char *name)
{
	if (name && spec_is_dns_label(name, SPEC_DNS_LABEL_MAX))
		return true;
	http_reply_error(req, 404, "not_found", NULL, "cluster %.64s not found", name ? name : "");
	return false;
}

static struct cluster_call *cluster_call_new(struct http_req *req, const char *name)
{
	struct cluster_call *c = xcalloc(1, sizeof(*c));

	c->req = req;
	c->name = xstrdup(name);
	return c;
}

/* A read about one cluster answered: its JSON, or 404 when there is no such cluster. */
static void get_done_cb(void *arg, const struct db_error *err, json_t *cluster)
{
	struct cluster_call *c = arg;

	if (err)
		api_reply_db_error(c->req, err);
	else if (!cluster)
		http_reply_error(c->req, 404, "not_found", NULL, "cluster %s not found", c->name);
	else
		http_reply_json(c->req, 200, json_incref(cluster));
	free(c->name);
	free(c);
}

static void clusters_get_cb(struct http_req *req, void *arg)
{
	struct api *api = arg;
	const char *name = http_req_param(req, "name");

	if (!cluster_name_valid(req, name) || !api_have_database(req, api))
		return;
	storage_cluster_get(api->db, api_tenant(req), name, get_done_cb,
			    cluster_call_new(req, name));
}

/* --- GET /api/v1/clusters/{name}/credentials --- */

/*
 * How a member signs in to the cluster's own Elasticsearch: the elastic
 * user's password (the tenant's superuser; esaas's own user's is never
 * handed out) and the CA its certificate chains to.  Members and
 * admins only (ACCESS_OPERATE): a viewer reads the cluster, never its
 * data.  Each read is in the audit log.
 */
struct credentials_call {
	struct http_req *req;
	struct api *api;
	char *name;
};

static void credentials_done_cb(void *arg, const struct db_error *err, json_t *cred)
{
	struct credentials_call *c = arg;

	if (err) {
		api_reply_db_error(c->req, err);
	} else if (!cred) {
		http_reply_error(c->req, 404, "not_found", NULL, "cluster %s not found", c->name);
	} else if (!json_is_true(json_object_get(cred, "security"))) {
		http_reply_error(
			c->req, 409, "no_security", NULL,
			"cluster %s has no Elasticsearch security: created before it was "
			"turned on (elasticsearch.security), or a version without it in its "
			"free licence (before 6.8, -oss images)",
			c->name);
	} else {
		json_t *out = json_deep_copy(cred);
		const char *tmpl =
			c->api->env && c->api->env->cfg ? c->api->env->cfg->es_url_template : NULL;
		json_object_del(out, "security");
		if (tmpl) {
			char *url = es_expand_url(tmpl, json_str(cred, "namespace"),
						  RENDER_HTTP_SERVICE);
			char *https = !strncmp(url, "http://", 7) ? xasprintf("https://%s", url + 7)
								  : xstrdup(url);
			json_object_set_new(out, "url", json_string(https));
			free(https);
			free(url);
		}
		http_reply_json(c->req, 200, out);
	}
	free(c->name);
	free(c);
}

static void clusters_credentials_cb(struct http_req *req, void *arg)
{
	struct api *api = arg;
	const char *name = http_req_param(req, "name");
	struct http_error err = {0};
	char *actor = NULL;

	if (!cluster_name_valid(req, name) || !api_have_database(req, api))
		return;
	if (!api_request_actor(req, &actor, &err)) {
		http_reply_failure(req, &err);
		return;
	}
	struct credentials_call *c = xcalloc(1, sizeof(*c));
	c->req = req;
	c->api = api;
	c->name = xstrdup(name);
	storage_cluster_credentials(api->db, api_tenant(req), name, actor, credentials_done_cb, c);
	free(actor);
}

/* --- POST /api/v1/clusters/{name}/pause and /resume --- */

/*
 * A pause holds a cluster's work, not its health sweep: the job in
 * progress stops at its next safe boundary (engine/fsm.h, pause_safe) with
 * status "paused", and the jobs queued behind it wait, until a resume.
 * Both need a reason, both are audited (audit_log and the job's history),
 * and both take the role of the other cluster mutations (ACCESS_OPERATE).
 */
struct pause_call {
	struct http_req *req;
	char *name;
	bool resume;
};

/* "job 12 (restart, in restart_next)" */
static char *job_phrase(json_t *job)
{
	return xasprintf("job %lld (%s, in %s)",
			 (long long)json_integer_value(json_object_get(job, "id")),
			 json_str(job, "kind"), json_str(job, "state"));
}

static void pause_done_cb(void *arg, const struct db_error *err, json_t *answer)
{
	struct pause_call *c = arg;
	json_t *job = answer ? json_object_get(answer, "job") : NULL;
	json_t *pause = answer ? json_object_get(answer, "paused") : NULL;
	long long queued =
		answer ? (long long)json_integer_value(json_object_get(answer, "queued")) : 0;
	char *what = json_is_object(job) ? job_phrase(job) : NULL;
	char *msg = NULL;
	int status = 200;

	if (err) {
		api_reply_db_error(c->req, err);
		goto done;
	}
	if (!answer) {
		http_reply_error(c->req, 404, "not_found", NULL, "cluster %s not found", c->name);
		goto done;
	}
	if (!json_is_true(json_object_get(answer, "changed"))) {
		if (c->resume)
			http_reply_error(c->req, 409, "not_paused", NULL,
					 "cluster %s is not paused: there is nothing to resume",
					 c->name);
		else
			http_reply_error(c->req, 409, "already_paused", NULL,
					 "cluster %s is already paused, since %s by %s: %s; resume "
					 "it before pausing it again",
					 c->name, json_str(pause, "at"), json_str(pause, "by"),
					 json_str(pause, "reason"));
		goto done;
	}
	if (c->resume && what)
		msg = xasprintf("cluster %s resumed: %s goes on from where it stopped; %lld "
				"queued job(s) follow it",
				c->name, what, queued);
	else if (c->resume)
		msg = xasprintf("cluster %s resumed: no job was paused; %lld queued job(s) may "
				"start",
				c->name, queued);
	else if (what && json_is_string(json_object_get(job, "ending")))
		msg = xasprintf("cluster %s paused: %s is undoing its changes after a cancel or a "
				"failure and runs that to its end; %lld queued job(s) wait until "
				"the cluster is resumed",
				c->name, what, queued);
	else if (what)
		msg = xasprintf("cluster %s paused: %s stops at its next safe boundary with "
				"status paused; %lld queued job(s) wait until the cluster is "
				"resumed",
				c->name, what, queued);
	else
		msg = xasprintf("cluster %s paused: no job is in progress; the pause is "
				"recorded and %lld queued job(s) wait until the cluster is resumed",
				c->name, queued);
	json_t *out = json_deep_copy(answer);
	json_object_del(out, "changed");
	json_object_del(out, "notified");
	json_object_set_new(out, "message", json_string(msg));
	if (json_is_object(job)) {
		char *loc = xasprintf("/api/v1/jobs/%lld",
				      (long long)json_integer_value(json_object_get(job, "id")));
		http_req_add_header(c->req, "Location", loc);
		free(loc);
		status = 202;
	}
	http_reply_json(c->req, status, out);
done:
	free(msg);
	free(what);
	free(c->name);
	free(c);
}

static void pause_route(struct http_req *req, struct api *api, bool resume)
{
	const char *name = http_req_param(req, "name");
	struct http_error err = {0};
	const char *reason;
	char *actor = NULL;
	json_t *body = NULL;

	if (!cluster_name_valid(req, name))
		return;
	if (api_request_actor(req, &actor, &err) && (body = http_req_json(req, true, &err)) &&
	    api_jobs_check_cancel(body, &reason, &err) && api_database_ok(api, &err)) {
		struct pause_call *c = xcalloc(1, sizeof(*c));
		c->req = req;
		c->name = xstrdup(name);
		c->resume = resume;
		(resume ? storage_cluster_resume : storage_cluster_pause)(
			api->db, api_tenant(req), name, actor, reason, pause_done_cb, c);
	} else {
		http_reply_failure(req, &err);
	}
	free(actor);
	json_decref(body);
}

static void clusters_pause_cb(struct http_req *req, void *arg)
{
	pause_route(req, arg, false);
}

static void clusters_resume_cb(struct http_req *req, void *arg)
{
	pause_route(req, arg, true);
}

/* --- operations on an existing cluster ----------------------------------------- */

/*
 * Each route below is one workflow's.  The API reads the request (its JSON
 * body, the path's and the query's parameters) and hands it to the
 * workflow's own checks (engine/fsm.h: request, then prepare with the
 * cluster's stored spec, then precheck against the live cluster); only then
 * is the job queued.  The checks live with their workflows (workflows/).
 */
struct op_route {
	const char *kind;
	bool body_optional;
	const char *path_param;	 /* a path parameter besides {name}, in rq.path */
	const char *query_param; /* a query parameter besides ?tenant=, in rq.query */
};

static const struct op_route op_delete = {"delete", true, NULL, "wipe_data"};
static const struct op_route op_scale = {"scale", false, NULL, NULL};
static const struct op_route op_restart = {"restart", true, NULL, NULL};
static const struct op_route op_config = {"config_update", false, NULL, NULL};
static const struct op_route op_plugin_add = {"plugin_install", false, NULL, NULL};
static const struct op_route op_plugin_remove = {"plugin_remove", true, "plugin", NULL};
static const struct op_route op_kibana = {"kibana", false, NULL, NULL};
static const struct op_route op_upgrade = {"upgrade", false, NULL, NULL};
static const struct op_route op_secure = {"secure", true, NULL, NULL};
static const struct op_route op_snapshot = {"snapshot", true, NULL, NULL};
static const struct op_route op_restore = {"restore", false, NULL, NULL};

/* An operation's job carries the cluster's spec and the operation's own
 * parameters. */
struct op_call {
	struct http_req *req;
	struct api *api;
	char *name;
	char *actor;
	char *key;
	const struct workflow *wf;
	json_t *request;  /* the parameters as the request gave them */
	json_t *params;	  /* the job's parameters; "spec" is added */
	json_t *base;	  /* the spec params.spec was planned against */
	json_t *warnings; /* the precheck's, for the answer, not the job */
	int plans;	  /* how many times it was planned */
	bool dry_run;	  /* answer the plan, queue nothing */
	char *ns;	  /* the namespace stored with the cluster */
	char *urgent;	  /* why it may run outside the maintenance windows; NULL */
};

static void op_call_free(struct op_call *c)
{
	free(c->name);
	free(c->actor);
	free(c->key);
	free(c->ns);
	free(c->urgent);
	json_decref(c->request);
	json_decref(c->params);
	json_decref(c->base);
	json_decref(c->warnings);
	free(c);
}

static void reply_refusal(struct http_req *req, const struct wf_refusal *why)
{
	http_reply_error(req, why->status, why->code, why->field[0] ? why->field : NULL, "%s",
			 why->message);
}

static void op_found_cb(void *arg, const struct db_error *err, json_t *cluster);

/*
 * Another operation on the cluster was queued between reading the spec and
 * queueing this one: plan again on top of it (its change is kept, this one
 * follows it), a few times at most while others keep coming in between.
 */
#define OP_PLANS_MAX 3

static void op_plan(struct op_call *c)
{
	json_decref(c->params);
	json_decref(c->base);
	json_decref(c->warnings);
	c->params = json_deep_copy(c->request);
	c->base = NULL;
	c->warnings = NULL;
	c->plans++;
	storage_cluster_get(c->api->db, api_tenant(c->req), c->name, op_found_cb, c);
}

static void op_submitted_cb(void *arg, const struct db_error *err, json_t *job, bool created)
{
	struct op_call *c = arg;
	bool stale =
		err && err->kind == DB_ERR_QUERY && strcmp(err->sqlstate, SPEC_BASE_SQLSTATE) == 0;

	if (stale && c->plans < OP_PLANS_MAX && !http_req_gone(c->req)) {
		op_plan(c);
		return;
	}
	if (stale)
		http_reply_error(c->req, 409, "conflict", NULL,
				 "the cluster's spec kept changing while this request was planned "
				 "(%d times): read the cluster again and retry",
				 c->plans);
	else if (err)
		api_reply_db_error(c->req, err);
	else if (!created && (strcmp(json_str(job, "kind"), c->wf->kind) != 0 ||
			      strcmp(json_str(job, "cluster"), c->name) != 0))
		http_reply_error(c->req, 409, "idempotency_conflict", "Idempotency-Key",
				 "Idempotency-Key was first used for another request");
	else
		api_reply_job_accepted_warning(c->req, 202, job, created ? c->warnings : NULL);
	op_call_free(c);
}

/* Every check passed: queue the job. */
static void op_queue(struct op_call *c)
{
	c->warnings = json_incref(json_object_get(c->params, "warnings"));
	json_object_del(c->params, "warnings");
	json_object_del(c->params, "placement_warnings");
	struct job_submit js = {
		.tenant = api_tenant(c->req),
		.kind = c->wf->kind,
		.cluster = c->name,
		.first_state = c->wf->states[0].name,
		.params = c->params,
		.actor = c->actor,
		.idempotency_key = c->key,
		.base_spec = json_object_get(c->params, "spec") ? c->base : NULL,
		.windowed = !c->urgent && c->wf->disruptive && c->wf->disruptive(c->params),
		.urgent_reason = c->urgent,
	};
	storage_job_submit(c->api->db, &js, op_submitted_cb, c);
}

/* Every check passed: queue the job, or answer its plan. */
static void op_checked(struct op_call *c)
{
	bool disruptive = c->wf->disruptive && c->wf->disruptive(c->params);

	if (c->urgent && !disruptive) {
		http_reply_error(c->req, 422, "invalid", "urgent",
				 "urgent: this %s restarts no node, so no maintenance window holds "
				 "it; leave urgent out",
				 c->wf->kind);
		op_call_free(c);
		return;
	}
	if (!c->dry_run) {
		op_queue(c);
		return;
	}
	api_preview(c->api, c->req, c->wf, c->name, c->ns, c->base, c->params,
		    disruptive && !c->urgent);
	op_call_free(c);
}

static void op_prechecked_cb(void *arg, const struct wf_refusal *why)
{
	struct op_call *c = arg;

	if (why) {
		reply_refusal(c->req, why);
		op_call_free(c);
		return;
	}
	op_checked(c);
}

static void op_found_cb(void *arg, const struct db_error *err, json_t *cluster)
{
	struct op_call *c = arg;
	struct wf_refusal why = {0};

	if (err || !cluster) {
		if (err)
			api_reply_db_error(c->req, err);
		else
			http_reply_error(c->req, 404, "not_found", NULL, "cluster %s not found",
					 c->name);
		op_call_free(c);
		return;
	}
	/* After the jobs already queued: a scale of the masters queued behind a
	 * scale of the data nodes keeps the data nodes that one asked for. */
	json_t *base = json_object_get(cluster, "target_spec");
	if (!json_is_object(base))
		base = json_object_get(cluster, "spec");
	c->base = json_deep_copy(base);
	free(c->ns);
	c->ns = json_str(cluster, "namespace") ? xstrdup(json_str(cluster, "namespace")) : NULL;
	json_object_set_new(c->params, "spec", json_deep_copy(base));
	if (c->wf->prepare && !c->wf->prepare(base, c->params, &why)) {
		reply_refusal(c->req, &why);
		op_call_free(c);
		return;
	}
	if (c->wf->precheck) {
		c->wf->precheck(c->api->env, api_tenant(c->req), json_str(cluster, "namespace"),
				c->params, op_prechecked_cb, c);
		return;
	}
	op_checked(c);
}

/* The request, as the workflow's checks read it; NULL after a reply. */
static json_t *op_read(struct http_req *req, const struct op_route *route, struct wf_request *rq)
{
	struct http_error err = {0};
	const char *query[] = {"tenant", "dry_run", route->query_param, NULL};
	const struct http_query *q = http_req_query(req);
	json_t *body = http_req_json(req, route->body_optional, &err);

	if (!body || !http_query_check(q, query, &err)) {
		json_decref(body);
		http_reply_failure(req, &err);
		return NULL;
	}
	rq->body = body;
	rq->path = json_object();
	rq->query = json_object();
	if (route->path_param && http_req_param(req, route->path_param))
		json_object_set_new(rq->path, route->path_param,
				    json_string(http_req_param(req, route->path_param)));
	if (route->query_param && http_query_get(q, route->query_param))
		json_object_set_new(rq->query, route->query_param,
				    json_string(http_query_get(q, route->query_param)));
	return body;
}

/* POST, PATCH or DELETE on /api/v1/clusters/{name}[/...]: the route's workflow. */
static void op_route(struct http_req *req, struct api *api, const void *data)
{
	const struct op_route *route = data;
	const char *name = http_req_param(req, "name");
	const char *key = http_req_header(req, "Idempotency-Key");
	const struct workflow *wf = wf_registry_find(api->reg, route->kind);
	struct wf_request rq = {0};
	struct wf_refusal why = {0};
	struct http_error err = {0};
	json_t *params = NULL;
	char *actor = NULL, *urgent = NULL;
	bool dry_run;

	if (!read_dry_run(req, &dry_run) || !op_read(req, route, &rq))
		return;
	if (!api_take_urgent(rq.body, &urgent, &err)) {
		http_reply_failure(req, &err);
		json_decref(rq.body);
		json_decref(rq.path);
		json_decref(rq.query);
		return;
	}
	bool checked = !wf || !wf->request || wf->request(&rq, &params, &why);
	if (checked && !params)
		params = json_deep_copy(rq.body);
	json_decref(rq.body);
	json_decref(rq.path);
	json_decref(rq.query);
	if (!checked) {
		reply_refusal(req, &why);
		free(urgent);
		return;
	}
	if (!cluster_name_valid(req, name))
		goto failed;
	if (!api_request_actor(req, &actor, &err) || !api_check_idempotency_key(key, &err)) {
		http_reply_failure(req, &err);
		goto failed;
	}
	if (!wf) {
		http_reply_error(
			req, 501, "not_implemented", NULL,
			"cluster operations are not available in this build: it has no %s workflow",
			route->kind);
		goto failed;
	}
	if (!api_have_database(req, api))
		goto failed;
	struct op_call *c = xcalloc(1, sizeof(*c));
	c->req = req;
	c->api = api;
	c->name = xstrdup(name);
	c->actor = actor;
	c->key = key ? xstrdup(key) : NULL;
	c->wf = wf;
	c->request = params;
	c->dry_run = dry_run;
	c->urgent = urgent;
	op_plan(c);
	return;

failed:
	free(urgent);
	free(actor);
	json_decref(params);
}

/* --- GET /api/v1/clusters/{name}/health-history?limit=N --- */

#define HISTORY_LIMIT_DEFAULT 50
#define HISTORY_LIMIT_MAX 500

/* Its changes of health, newest first: {"cluster": name, "history": [...]}. */
static void clusters_health_history_cb(struct http_req *req, void *arg)
{
	static const char *const known[] = {"limit", "tenant", NULL};
	struct api *api = arg;
	const char *name = http_req_param(req, "name");
	const char *limit_text = http_query_get(http_req_query(req), "limit");
	int limit = HISTORY_LIMIT_DEFAULT;
	struct http_error err = {0};

	if (!cluster_name_valid(req, name))
		return;
	if (!http_query_check(http_req_query(req), known, &err)) {
		http_reply_failure(req, &err);
		return;
	}
	if (limit_text && !parse_int(limit_text, 1, HISTORY_LIMIT_MAX, &limit)) {
		http_reply_error(req, 422, "invalid", "limit",
				 "limit must be an integer from 1 to %d", HISTORY_LIMIT_MAX);
		return;
	}
	if (!api_have_database(req, api))
		return;
	storage_health_history(api->db, api_tenant(req), name, limit, get_done_cb,
			       cluster_call_new(req, name));
}

/*
 * GET /api/v1/clusters/{name}/nodes: the cluster's pods as Kubernetes has
 * them now, each with its role, the host (Kubernetes node) it runs on, its
 * phase and whether it is ready; Kibana's pods too.  The namespace is the
 * one stored with the cluster (observed.namespace), else the one it would
 * be given.
 */
struct nodes_call {
	struct http_req *req;
	struct api *api;
	char *name;
	char *tenant;
};

static void nodes_call_free(struct nodes_call *c)
{
	free(c->name);
	free(c->tenant);
	free(c);
}

static bool pod_ready(json_t *pod)
{
	size_t i;
	json_t *cond;

	json_array_foreach (json_object_get(json_object_get(pod, "status"), "conditions"), i,
			    cond) {
		const char *type = json_string_value(json_object_get(cond, "type"));
		const char *status = json_string_value(json_object_get(cond, "status"));

		if (type && status && strcmp(type, "Ready") == 0)
			return strcmp(status, "True") == 0;
	}
	return false;
}

static void nodes_listed_cb(void *arg, const struct kube_result *res)
{
	struct nodes_call *c = arg;
	json_t *nodes = json_array();
	size_t i;
	json_t *pod;

	if (res->klass != HTTPC_OK) {
		http_reply_error(c->req, 502, "upstream", NULL,
				 "cannot list the pods of cluster %s: %s", c->name,
				 res->message ? res->message : "no answer from Kubernetes");
		json_decref(nodes);
		nodes_call_free(c);
		return;
	}
	json_array_foreach (json_object_get(res->body, "items"), i, pod) {
		json_t *meta = json_object_get(pod, "metadata");
		const char *role = json_string_value(
			json_object_get(json_object_get(meta, "labels"), RENDER_LABEL_ROLE));
		const char *host = json_string_value(
			json_object_get(json_object_get(pod, "spec"), "nodeName"));
		const char *phase =
			json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));

		json_array_append_new(
			nodes,
			json_pack("{s:s?, s:s?, s:s?, s:s?, s:b, s:b}", "name",
				  json_string_value(json_object_get(meta, "name")), "role", role,
				  "host", host, "phase", phase, "ready", pod_ready(pod), "deleting",
				  json_object_get(meta, "deletionTimestamp") != NULL));
	}
	http_reply_json(c->req, 200, json_pack("{s:s, s:o}", "cluster", c->name, "nodes", nodes));
	nodes_call_free(c);
}

static void nodes_cluster_cb(void *arg, const struct db_error *err, json_t *cluster)
{
	struct nodes_call *c = arg;
	struct kube *kube = c->api->env ? c->api->env->kube : NULL;

	if (err || !cluster) {
		if (err)
			api_reply_db_error(c->req, err);
		else
			http_reply_error(c->req, 404, "not_found", NULL, "cluster %s not found",
					 c->name);
		nodes_call_free(c);
		return;
	}
	if (!kube) {
		http_reply_error(c->req, 503, "unavailable", NULL,
				 "this esaasd has no Kubernetes connection to ask for the pods");
		nodes_call_free(c);
		return;
	}
	const char *stored = json_string_value(
		json_object_get(json_object_get(cluster, "observed"), "namespace"));
	char *ns = stored ? xstrdup(stored) : render_namespace(c->tenant, c->name);
	char *path = kube_collection_path("v1", "Pod", ns);
	char *sel = xasprintf("%s=%s", RENDER_LABEL_CLUSTER, c->name);

	if (!kube_list(kube, path, sel, nodes_listed_cb, c)) {
		http_reply_error(c->req, 503, "unavailable", NULL,
				 "cannot ask Kubernetes for the pods of cluster %s", c->name);
		nodes_call_free(c);
	}
	free(sel);
	free(path);
	free(ns);
}

static void clusters_nodes_cb(struct http_req *req, void *arg)
{
	struct api *api = arg;
	const char *name = http_req_param(req, "name");
	struct nodes_call *c;

	if (!cluster_name_valid(req, name) || !api_have_database(req, api))
		return;
	c = xcalloc(1, sizeof(*c));
	c->req = req;
	c->api = api;
	c->name = xstrdup(name);
	c->tenant = xstrdup(api_tenant(req));
	storage_cluster_get(api->db, c->tenant, name, nodes_cluster_cb, c);
}

/*
 * GET /api/v1/versions: the Elasticsearch releases a cluster may ask for,
 * each with the plugins esaas installs on it, and the default.
 */
static void versions_cb(struct http_req *req, void *arg)
{
	json_t *list = json_array();

	(void)arg;
	for (size_t i = 0; i < es_offered_versions_count; i++) {
		struct es_version v;

		if (!es_version_parse(es_offered_versions[i], &v))
			continue;
		json_array_append_new(list,
				      json_pack("{s:s, s:o}", "version", es_offered_versions[i],
						"plugins", spec_plugins_of(&v)));
	}
	http_reply_json(req, 200,
			json_pack("{s:s, s:o}", "default", ES_VERSION_DEFAULT, "versions", list));
}

/*
 * GET /api/v1/versions/{version}/plugins: the plugins the plugin repository
 * holds for this version, of those esaas installs on it: a HEAD of each
 * one's file (es_plugin_url()), as the plugin jobs check before they touch
 * a cluster.  {"version", "repository", "plugins": [...], "missing": [...]};
 * without a repository every plugin is missing.
 */
struct repo_list {
	struct http_req *req;
	char version[ES_VERSION_BUFSIZE];
	char *repository;
	json_t *names;	   /* what esaas installs on the version */
	bool *present;	   /* per name */
	char *unreachable; /* the first transport error, if any */
	size_t pending;
};

struct repo_head {
	struct repo_list *list;
	size_t index;
};

static void repo_list_done(struct repo_list *l)
{
	if (--l->pending > 0)
		return;
	if (l->unreachable) {
		http_reply_error(l->req, 502, "upstream", NULL,
				 "cannot read the plugin repository %s: %s", l->repository,
				 l->unreachable);
	} else {
		json_t *plugins = json_array(), *missing = json_array();

		for (size_t i = 0; i < json_array_size(l->names); i++)
			json_array_append(l->present[i] ? plugins : missing,
					  json_array_get(l->names, i));
		http_reply_json(l->req, 200,
				json_pack("{s:s, s:s?, s:o, s:o}", "version", l->version,
					  "repository", l->repository, "plugins", plugins,
					  "missing", missing));
	}
	json_decref(l->names);
	free(l->present);
	free(l->repository);
	free(l->unreachable);
	free(l);
}

static void repo_head_cb(const struct httpc_response *resp, void *arg)
{
	struct repo_head *h = arg;
	struct repo_list *l = h->list;

	if (resp->klass == HTTPC_OK)
		l->present[h->index] = true;
	else if (resp->status != 404 && resp->status != 410 && !l->unreachable)
		l->unreachable = xstrdup(resp->error ? resp->error : "no answer");
	free(h);
	repo_list_done(l);
}

static void version_plugins_cb(struct http_req *req, void *arg)
{
	struct api *api = arg;
	const char *text = http_req_param(req, "version");
	const struct wf_env *env = api->env;
	const char *repo = env && env->cfg ? env->cfg->kube_plugin_repository : NULL;
	struct es_version v;
	char why[200];

	if (!text || !es_version_parse(text, &v)) {
		http_reply_error(req, 422, "invalid", "version",
				 "version: expected MAJOR.MINOR.PATCH such as \"7.17.10\"");
		return;
	}
	if (!es_version_supported(&v, why, sizeof(why))) {
		http_reply_error(req, 422, "invalid", "version", "version: %s", why);
		return;
	}
	struct repo_list *l = xcalloc(1, sizeof(*l));
	l->req = req;
	es_version_format(&v, l->version, sizeof(l->version));
	l->repository = repo && repo[0] ? xstrdup(repo) : NULL;
	l->names = spec_plugins_of(&v);
	l->present = xcalloc(json_array_size(l->names) + 1, sizeof(bool));
	/* One for this function, so that no answer replies before every HEAD is sent. */
	l->pending = 1;
	for (size_t i = 0; l->repository && env->http && i < json_array_size(l->names); i++) {
		struct repo_head *h = xcalloc(1, sizeof(*h));
		char *url = es_plugin_url(&v, l->repository,
					  json_string_value(json_array_get(l->names, i)));
		struct httpc_request hr = {.method = "HEAD", .url = url, .timeout_ms = 10000};

		h->list = l;
		h->index = i;
		l->pending++;
		httpc_send(env->http, &hr, repo_head_cb, h);
		free(url);
	}
	repo_list_done(l);
}

void api_clusters_add_routes(struct api *api)
{
	api_route(api, "GET", "/api/v1/versions", ACCESS_ANY, versions_cb);
	api_route(api, "GET", "/api/v1/versions/{version}/plugins", ACCESS_ANY, version_plugins_cb);
	api_route(api, "POST", "/api/v1/clusters", ACCESS_OPERATE, clusters_create_cb);
	api_route(api, "GET", "/api/v1/clusters", ACCESS_READ, clusters_list_cb);
	api_route(api, "GET", "/api/v1/clusters/{name}", ACCESS_READ, clusters_get_cb);
	api_route(api, "GET", "/api/v1/clusters/{name}/nodes", ACCESS_READ, clusters_nodes_cb);
	api_route(api, "GET", "/api/v1/clusters/{name}/credentials", ACCESS_OPERATE,
		  clusters_credentials_cb);
	api_route(api, "GET", "/api/v1/clusters/{name}/health-history", ACCESS_READ,
		  clusters_health_history_cb);
	api_route(api, "POST", "/api/v1/clusters/{name}/pause", ACCESS_OPERATE, clusters_pause_cb);
	api_route(api, "POST", "/api/v1/clusters/{name}/resume", ACCESS_OPERATE,
		  clusters_resume_cb);
	api_route_with(api, "DELETE", "/api/v1/clusters/{name}", ACCESS_OPERATE, op_route,
		       &op_delete);
	api_route_with(api, "POST", "/api/v1/clusters/{name}/scale", ACCESS_OPERATE, op_route,
		       &op_scale);
	api_route_with(api, "POST", "/api/v1/clusters/{name}/restart", ACCESS_OPERATE, op_route,
		       &op_restart);
	api_route_with(api, "POST", "/api/v1/clusters/{name}/upgrade", ACCESS_OPERATE, op_route,
		       &op_upgrade);
	api_route_with(api, "POST", "/api/v1/clusters/{name}/secure", ACCESS_OPERATE, op_route,
		       &op_secure);
	api_route_with(api, "PATCH", "/api/v1/clusters/{name}/config", ACCESS_OPERATE, op_route,
		       &op_config);
	api_route_with(api, "POST", "/api/v1/clusters/{name}/plugins", ACCESS_OPERATE, op_route,
		       &op_plugin_add);
	api_route_with(api, "DELETE", "/api/v1/clusters/{name}/plugins/{plugin}", ACCESS_OPERATE,
		       op_route, &op_plugin_remove);
	api_route_with(api, "POST", "/api/v1/clusters/{name}/kibana", ACCESS_OPERATE, op_route,
		       &op_kibana);
	api_route_with(api, "POST", "/api/v1/clusters/{name}/snapshots", ACCESS_OPERATE, op_route,
		       &op_snapshot);
	api_route_with(api, "POST", "/api/v1/clusters/{name}/restore", ACCESS_OPERATE, op_route,
		       &op_restore);
	api_snapshots_add_routes(api);
}
