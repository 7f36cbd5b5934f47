/*
 * The cluster endpoints: create, list, get.  As for jobs, each handler
 * checks the request, starts one query and replies from its callback; the
 * callbacks touch only their request and what they were given.
 */
#include "api/auth.h"
#include "api/routes.h"
#include "common/log.h"
#include "common/util.h"
#include "engine/registry.h"
#include "es/client.h"
#include "kube/spec.h"
#include "states/states.h"
#include "storage/clusters.h"
#include "storage/health.h"

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

bool api_clusters_check_create(json_t *body, const struct wf_registry *reg, struct spec *spec,
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

/* --- POST /api/v1/clusters --- */

/* What the create callback compares a stored job with. */
struct create_call {
	struct http_req *req;
	char *name;
	char *key;
	json_t *params; /* {"spec": the normalised spec} */
};

static void create_call_free(struct create_call *c)
{
	free(c->name);
	free(c->key);
	json_decref(c->params);
	free(c);
}

static bool same_create(json_t *job, const struct create_call *c)
{
	const char *kind = json_string_value(json_object_get(job, "kind"));
	const char *cluster = json_string_value(json_object_get(job, "cluster"));

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
		api_reply_job_accepted(c->req, 202, job);
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

static void clusters_create_cb(struct http_req *req, void *arg)
{
	struct api *api = arg;
	struct http_error err = {0};
	const struct workflow *wf;
	const char *key = http_req_header(req, "Idempotency-Key");
	struct spec spec;
	char *actor = NULL;
	json_t *body = NULL;

	memset(&spec, 0, sizeof(spec));
	if (!api_request_actor(req, &actor, &err))
		goto failed;
	if (!api_check_idempotency_key(key, &err))
		goto failed;
	body = http_req_json(req, false, &err);
	if (!body || !api_clusters_check_create(body, api->reg, &spec, &wf, &err))
		goto failed;
	if (!api->db) {
		http_error_set(&err, 503, "unavailable", NULL, "no database is configured");
		goto failed;
	}

	struct create_call *c = xcalloc(1, sizeof(*c));
	json_t *normalised = spec_to_json(&spec);

	c->req = req;
	c->name = xstrdup(spec.name);
	c->key = key ? xstrdup(key) : NULL;
	c->params = json_pack("{s:O}", "spec", normalised);
	storage_cluster_create(api->db, api_tenant(req), spec.name, normalised, actor, key,
			       wf->states[0].name, create_done_cb, c);
	json_decref(normalised);
	spec_free(&spec);
	free(actor);
	json_decref(body);
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
	static const char *const known[] = {"tenant", NULL};
	struct api *api = arg;
	struct http_error err = {0};

	if (!http_query_check(http_req_query(req), known, &err)) {
		http_reply_failure(req, &err);
		return;
	}
	if (!api_have_database(req, api))
		return;
	storage_cluster_list(api->db, api_tenant_filter(req), api_reply_json_cb, req);
}

/* --- GET /api/v1/clusters/{name} --- */

struct cluster_call {
	struct http_req *req;
	char *name;
};

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

	/* A name that could never be a cluster's names none: 404 like a missing one. */
	if (!name || !api_dns_label_valid(name)) {
		http_reply_error(req, 404, "not_found", NULL, "cluster %.64s not found",
				 name ? name : "");
		return;
	}
	if (!api_have_database(req, api))
		return;

	struct cluster_call *c = xcalloc(1, sizeof(*c));

	c->req = req;
	c->name = xstrdup(name);
	storage_cluster_get(api->db, api_tenant(req), name, get_done_cb, c);
}

/* --- operations on an existing cluster: DELETE, POST .../scale --- */

/*
 * An operation's job carries the cluster's spec (from which its states find
 * the objects) and the operation's own parameters.
 */
struct op_call {
	struct http_req *req;
	struct api *api;
	char *name;
	char *actor;
	char *key;
	const struct workflow *wf;
	json_t *params; /* the operation's parameters; "spec" is added */
	/* Checks that need the cluster's spec; may rewrite params. */
	bool (*prepare)(json_t *spec, json_t *params, struct http_error *err);
	/* Checks that need the cluster itself, after prepare: they end with
	 * op_queue() or a reply.  NULL: none. */
	void (*precheck)(struct op_call *c, json_t *params);
	json_t *checked; /* params, while precheck runs */
};

static void op_call_free(struct op_call *c)
{
	free(c->name);
	free(c->actor);
	free(c->key);
	json_decref(c->params);
	json_decref(c->checked);
	free(c);
}

static void op_submitted_cb(void *arg, const struct db_error *err, json_t *job, bool created)
{
	struct op_call *c = arg;

	if (err)
		api_reply_db_error(c->req, err);
	else if (!created &&
		 (strcmp(json_string_value(json_object_get(job, "kind")), c->wf->kind) != 0 ||
		  strcmp(json_string_value(json_object_get(job, "cluster")), c->name) != 0))
		http_reply_error(c->req, 409, "idempotency_conflict", "Idempotency-Key",
				 "Idempotency-Key was first used for another request");
	else
		api_reply_job_accepted(c->req, 202, job);
	op_call_free(c);
}

static void op_queue(struct op_call *c, json_t *params);

static void op_found_cb(void *arg, const struct db_error *err, json_t *cluster)
{
	struct op_call *c = arg;

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
	json_t *params = json_deep_copy(c->params);
	json_object_set(params, "spec", base);
	struct http_error perr = {0};
	if (c->prepare && !c->prepare(base, params, &perr)) {
		json_decref(params);
		http_reply_failure(c->req, &perr);
		op_call_free(c);
		return;
	}
	if (c->precheck) {
		c->checked = params;
		c->precheck(c, params);
		return;
	}
	op_queue(c, params);
	json_decref(params);
}

/* Every check passed: queue the job. */
static void op_queue(struct op_call *c, json_t *params)
{
	struct job_submit js = {
		.tenant = api_tenant(c->req),
		.kind = c->wf->kind,
		.cluster = c->name,
		.first_state = c->wf->states[0].name,
		.params = params,
		.actor = c->actor,
		.idempotency_key = c->key,
	};
	storage_job_submit(c->api->db, &js, op_submitted_cb, c);
}

/* Checks common to every operation, then the cluster's spec, then the job.
 * Takes params. */
static void op_submit_checked(struct http_req *req, struct api *api, const char *kind,
			      json_t *params,
			      bool (*prepare)(json_t *spec, json_t *params, struct http_error *err),
			      void (*precheck)(struct op_call *c, json_t *params))
{
	const char *name = http_req_param(req, "name");
	const char *key = http_req_header(req, "Idempotency-Key");
	struct http_error err = {0};
	char *actor = NULL;

	if (!name || !api_dns_label_valid(name)) {
		json_decref(params);
		http_reply_error(req, 404, "not_found", NULL, "cluster %.64s not found",
				 name ? name : "");
		return;
	}
	if (!api_request_actor(req, &actor, &err) || !api_check_idempotency_key(key, &err)) {
		free(actor);
		json_decref(params);
		http_reply_failure(req, &err);
		return;
	}
	const struct workflow *wf = wf_registry_find(api->reg, kind);
	if (!wf) {
		free(actor);
		json_decref(params);
		http_reply_error(
			req, 501, "not_implemented", NULL,
			"cluster operations are not available in this build: it has no %s workflow",
			kind);
		return;
	}
	if (!api_have_database(req, api)) {
		free(actor);
		json_decref(params);
		return;
	}
	struct op_call *c = xcalloc(1, sizeof(*c));
	c->req = req;
	c->api = api;
	c->name = xstrdup(name);
	c->actor = actor;
	c->key = key ? xstrdup(key) : NULL;
	c->wf = wf;
	c->params = params;
	c->prepare = prepare;
	c->precheck = precheck;
	storage_cluster_get(api->db, api_tenant(req), name, op_found_cb, c);
}

static void
op_submit_prepared(struct http_req *req, struct api *api, const char *kind, json_t *params,
		   bool (*prepare)(json_t *spec, json_t *params, struct http_error *err))
{
	op_submit_checked(req, api, kind, params, prepare, NULL);
}

static void op_submit(struct http_req *req, struct api *api, const char *kind, json_t *params)
{
	op_submit_prepared(req, api, kind, params, NULL);
}

/*
 * The settings against the cluster's version; the job gets the new spec
 * (its config merged, null removing a key) and whether any setting is
 * static, which needs a rolling restart.
 */
static bool config_prepare(json_t *spec_json, json_t *params, struct http_error *err)
{
	struct spec spec;
	struct spec_error serr;
	if (!spec_parse(spec_json, &spec, &serr))
		return http_error_set(err, 409, "conflict", NULL,
				      "the stored spec is invalid: %s: %s", serr.field,
				      serr.message);
	json_t *settings = json_object_get(params, "settings");
	bool ok = spec_check_settings(settings, &spec.version, "settings", true, &serr);
	spec_free(&spec);
	if (!ok)
		return http_error_set(err, 422, "invalid", serr.field, "%s", serr.message);
	json_t *next = json_deep_copy(spec_json);
	json_t *config = json_object_get(next, "config");
	if (!json_is_object(config)) {
		config = json_object();
		json_object_set_new(next, "config", config);
	}
	bool needs_restart = false;
	const char *key;
	json_t *value;
	json_object_foreach (settings, key, value) {
		if (spec_setting_kind(key) == SPEC_SETTING_STATIC)
			needs_restart = true;
		if (json_is_null(value))
			json_object_del(config, key);
		else
			json_object_set(config, key, value);
	}
	json_object_set_new(params, "spec", next);
	json_object_set_new(params, "restart", json_boolean(needs_restart));
	return true;
}

/* allow_yellow, where a job restarts nodes: go on while the cluster is yellow. */
static bool check_allow_yellow(json_t *body, struct http_error *err)
{
	json_t *v = json_object_get(body, "allow_yellow");
	if (v && !json_is_boolean(v))
		return http_error_set(err, 422, "invalid", "allow_yellow",
				      "allow_yellow must be true or false");
	return true;
}

/* {"settings": {"key": value | null}, "allow_yellow"?: bool} */
static void clusters_config_cb(struct http_req *req, void *arg)
{
	struct http_error err = {0};
	json_t *body = http_req_json(req, false, &err);
	static const char *const fields[] = {"settings", "allow_yellow", NULL};
	if (!body || !http_json_check_fields(body, fields, &err) ||
	    !check_allow_yellow(body, &err)) {
		json_decref(body);
		http_reply_failure(req, &err);
		return;
	}
	json_t *settings = json_object_get(body, "settings");
	if (!json_is_object(settings) || json_object_size(settings) == 0) {
		json_decref(body);
		http_error_set(&err, 422, "invalid", "settings",
			       "settings must be an object of at least one setting");
		http_reply_failure(req, &err);
		return;
	}
	op_submit_prepared(req, arg, "config_update", body, config_prepare);
}

/*
 * ?wipe_data=true (or a body {"wipe_data": true}): the hosts' folders of
 * the cluster are emptied too; otherwise the data stays on the hosts.
 */
static void clusters_delete_cb(struct http_req *req, void *arg)
{
	struct http_error err = {0};
	static const char *const params[] = {"wipe_data", "tenant", NULL};
	static const char *const fields[] = {"wipe_data", NULL};
	const struct http_query *q = http_req_query(req);
	json_t *body = http_req_json(req, true, &err);
	if (!body || !http_query_check(q, params, &err) ||
	    !http_json_check_fields(body, fields, &err)) {
		json_decref(body);
		http_reply_failure(req, &err);
		return;
	}
	const char *qv = http_query_get(q, "wipe_data");
	json_t *bv = json_object_get(body, "wipe_data");
	bool wipe = false;
	if (qv && strcmp(qv, "true") != 0 && strcmp(qv, "false") != 0)
		http_error_set(&err, 422, "invalid", "wipe_data",
			       "wipe_data must be true or false");
	else if (bv && !json_is_boolean(bv))
		http_error_set(&err, 422, "invalid", "wipe_data",
			       "wipe_data must be true or false");
	else
		wipe = (qv && strcmp(qv, "true") == 0) || json_is_true(bv);
	json_decref(body);
	if (err.status) {
		http_reply_failure(req, &err);
		return;
	}
	op_submit(req, arg, "delete", json_pack("{s:b}", "wipe_data", wipe));
}

/* The replicas a role has in a stored spec (its default when left out). */
static int spec_replicas(json_t *spec_json, enum es_role role, bool *ok)
{
	struct spec spec;
	struct spec_error serr;
	*ok = spec_parse(spec_json, &spec, &serr);
	int n = *ok ? spec.nodes[role].replicas : 0;
	if (*ok)
		spec_free(&spec);
	return n;
}

static enum es_role scale_role(const char *role)
{
	return strcmp(role, "clients") == 0   ? ES_ROLE_CLIENT
	       : strcmp(role, "masters") == 0 ? ES_ROLE_MASTER
					      : ES_ROLE_DATA;
}

/* With the cluster's spec: a scale-down of data nodes is checked against
 * its indices (scale_precheck), unless forced. */
static bool scale_prepare(json_t *spec_json, json_t *params, struct http_error *err)
{
	const char *role = json_string_value(json_object_get(params, "role"));
	bool ok;
	int from = spec_replicas(spec_json, scale_role(role), &ok);
	if (!ok)
		return http_error_set(err, 409, "conflict", NULL, "the stored spec is invalid");
	json_object_set_new(params, "from", json_integer(from));
	return true;
}

static void scale_copies_cb(void *arg, const struct es_shard_copies *worst, const char *error)
{
	struct op_call *c = arg;
	json_t *params = c->checked;
	int to = (int)json_integer_value(json_object_get(params, "replicas"));

	if (!worst) {
		http_reply_error(
			c->req, 503, "unavailable", NULL,
			"cannot check that %d data node%s can hold every shard copy of cluster "
			"%s: %s; retry, or pass \"force\": true to scale down unchecked",
			to, to == 1 ? "" : "s", c->name, error);
		op_call_free(c);
		return;
	}
	if (worst->copies > to) {
		http_reply_error(
			c->req, 422, "invalid", "replicas",
			"index %s has %d replica%s, so %d copies of each shard, which %d data "
			"node%s cannot hold: lower its number_of_replicas first, or pass "
			"\"force\": true to accept unassigned copies",
			worst->index, worst->copies - 1, worst->copies == 2 ? "" : "s",
			worst->copies, to, to == 1 ? "" : "s");
		op_call_free(c);
		return;
	}
	c->checked = NULL;
	op_queue(c, params);
	json_decref(params);
}

static void scale_precheck(struct op_call *c, json_t *params)
{
	const char *role = json_string_value(json_object_get(params, "role"));
	int from = (int)json_integer_value(json_object_get(params, "from"));
	int to = (int)json_integer_value(json_object_get(params, "replicas"));
	json_object_del(params, "from");
	if (strcmp(role, "data") != 0 || to >= from ||
	    json_is_true(json_object_get(params, "force"))) {
		c->checked = NULL;
		op_queue(c, params);
		json_decref(params);
		return;
	}
	states_read_shard_copies(c->api->env, api_tenant(c->req), json_object_get(params, "spec"),
				 scale_copies_cb, c);
}

/*
 * {"role": "data" | "clients" | "masters", "replicas": N, "force"?: bool}.
 * Masters stay odd.  A data scale-down that would leave fewer data nodes
 * than some index has copies of a shard is refused, unless forced.
 */
static void clusters_scale_cb(struct http_req *req, void *arg)
{
	struct http_error err = {0};
	json_t *body = http_req_json(req, false, &err);
	static const char *const fields[] = {"role", "replicas", "force", NULL};
	if (!body || !http_json_check_fields(body, fields, &err)) {
		json_decref(body);
		http_reply_failure(req, &err);
		return;
	}
	const char *role = json_string_value(json_object_get(body, "role"));
	json_t *replicas = json_object_get(body, "replicas");
	json_t *force = json_object_get(body, "force");
	if (!role || (strcmp(role, "data") != 0 && strcmp(role, "clients") != 0 &&
		      strcmp(role, "masters") != 0)) {
		http_error_set(&err, 422, "invalid", "role",
			       "role must be data, clients or masters");
	} else if (!json_is_integer(replicas)) {
		http_error_set(&err, 422, "invalid", "replicas", "replicas must be an integer");
	} else if (force && !json_is_boolean(force)) {
		http_error_set(&err, 422, "invalid", "force", "force must be true or false");
	} else {
		struct spec_error serr;
		if (!spec_check_replicas(scale_role(role), json_integer_value(replicas), "replicas",
					 &serr))
			http_error_set(&err, 422, "invalid", "replicas", "%s", serr.message);
	}
	if (err.status) {
		json_decref(body);
		http_reply_failure(req, &err);
		return;
	}
	json_t *params = json_pack("{s:s, s:O, s:b}", "role", role, "replicas", replicas, "force",
				   json_is_true(force));
	json_decref(body);
	op_submit_checked(req, arg, "scale", params, scale_prepare, scale_precheck);
}

/*
 * A plugin added to (or removed from) the stored spec: checked against the
 * cluster's version, and the job gets the new spec.  Installing one that is
 * listed already is a conflict; removing one that is not listed, not found.
 */
static bool plugin_prepare(json_t *spec_json, json_t *params, struct http_error *err)
{
	const char *plugin = json_string_value(json_object_get(params, "plugin"));
	bool install = strcmp(json_string_value(json_object_get(params, "action")), "install") == 0;
	struct spec spec;
	struct spec_error serr;
	if (!spec_parse(spec_json, &spec, &serr))
		return http_error_set(err, 409, "conflict", NULL,
				      "the stored spec is invalid: %s: %s", serr.field,
				      serr.message);
	bool ok = !install || spec_check_plugin(plugin, &spec.version, "name", &serr);
	bool listed = false;
	for (size_t i = 0; i < spec.nplugins; i++)
		if (strcmp(spec.plugins[i], plugin) == 0)
			listed = true;
	spec_free(&spec);
	if (!ok)
		return http_error_set(err, 422, "invalid", "name", "%s", serr.message);
	if (install && listed)
		return http_error_set(err, 409, "conflict", "name",
				      "plugin %s is already installed", plugin);
	if (!install && !listed)
		return http_error_set(err, 404, "not_found", NULL, "plugin %s is not installed",
				      plugin);
	json_t *next = json_deep_copy(spec_json);
	json_t *list = json_object_get(next, "plugins");
	if (!json_is_array(list)) {
		list = json_array();
		json_object_set_new(next, "plugins", list);
	}
	if (install) {
		json_array_append_new(list, json_string(plugin));
	} else {
		for (size_t i = json_array_size(list); i-- > 0;)
			if (strcmp(json_string_value(json_array_get(list, i)), plugin) == 0)
				json_array_remove(list, i);
	}
	json_object_set_new(params, "spec", next);
	return true;
}

/* {"name": "analysis-icu", "allow_yellow"?: bool} */
static void clusters_plugin_add_cb(struct http_req *req, void *arg)
{
	struct http_error err = {0};
	json_t *body = http_req_json(req, false, &err);
	static const char *const fields[] = {"name", "allow_yellow", NULL};
	if (!body || !http_json_check_fields(body, fields, &err) ||
	    !check_allow_yellow(body, &err)) {
		json_decref(body);
		http_reply_failure(req, &err);
		return;
	}
	const char *name = json_string_value(json_object_get(body, "name"));
	if (!name || !name[0] || strlen(name) > 64) {
		json_decref(body);
		http_error_set(&err, 422, "invalid", "name",
			       "name must be a plugin name such as \"analysis-icu\"");
		http_reply_failure(req, &err);
		return;
	}
	json_t *params =
		json_pack("{s:s, s:s, s:b}", "plugin", name, "action", "install", "allow_yellow",
			  json_is_true(json_object_get(body, "allow_yellow")));
	json_decref(body);
	op_submit_prepared(req, arg, "plugin_install", params, plugin_prepare);
}

/* DELETE .../plugins/{plugin}; a body is optional ({"allow_yellow": bool}). */
static void clusters_plugin_remove_cb(struct http_req *req, void *arg)
{
	struct http_error err = {0};
	json_t *body = http_req_json(req, true, &err);
	static const char *const fields[] = {"allow_yellow", NULL};
	if (!body || !http_json_check_fields(body, fields, &err) ||
	    !check_allow_yellow(body, &err)) {
		json_decref(body);
		http_reply_failure(req, &err);
		return;
	}
	const char *plugin = http_req_param(req, "plugin");
	if (!plugin || !plugin[0] || strlen(plugin) > 64) {
		json_decref(body);
		http_reply_error(req, 404, "not_found", NULL, "plugin not found");
		return;
	}
	json_t *params =
		json_pack("{s:s, s:s, s:b}", "plugin", plugin, "action", "remove", "allow_yellow",
			  json_is_true(json_object_get(body, "allow_yellow")));
	json_decref(body);
	op_submit_prepared(req, arg, "plugin_remove", params, plugin_prepare);
}

/* The job gets the spec with the new kibana.replicas. */
static bool kibana_prepare(json_t *spec_json, json_t *params, struct http_error *err)
{
	json_t *next = json_deep_copy(spec_json);
	json_int_t replicas = json_integer_value(json_object_get(params, "replicas"));
	if (replicas > 0)
		json_object_set_new(next, "kibana", json_pack("{s:I}", "replicas", replicas));
	else
		json_object_del(next, "kibana");
	struct spec spec;
	struct spec_error serr;
	if (!spec_parse(next, &spec, &serr)) {
		json_decref(next);
		return http_error_set(err, 409, "conflict", NULL,
				      "the stored spec is invalid: %s: %s", serr.field,
				      serr.message);
	}
	spec_free(&spec);
	json_object_set_new(params, "spec", next);
	return true;
}

/* {"replicas": N}: a Kibana next to the cluster (0 removes it). */
static void clusters_kibana_cb(struct http_req *req, void *arg)
{
	struct http_error err = {0};
	json_t *body = http_req_json(req, false, &err);
	static const char *const fields[] = {"replicas", NULL};
	if (!body || !http_json_check_fields(body, fields, &err)) {
		json_decref(body);
		http_reply_failure(req, &err);
		return;
	}
	json_t *replicas = json_object_get(body, "replicas");
	if (!json_is_integer(replicas) || json_integer_value(replicas) < 0 ||
	    json_integer_value(replicas) > SPEC_KIBANA_REPLICAS_MAX) {
		json_decref(body);
		http_error_set(&err, 422, "invalid", "replicas",
			       "replicas must be an integer from 0 to %d",
			       SPEC_KIBANA_REPLICAS_MAX);
		http_reply_failure(req, &err);
		return;
	}
	json_t *params = json_pack("{s:O}", "replicas", replicas);
	json_decref(body);
	op_submit_prepared(req, arg, "kibana", params, kibana_prepare);
}

/* {} (every node), {"role": "data"|"masters"|"clients"} or {"nodes": ["pod", ...]}. */
static void clusters_restart_cb(struct http_req *req, void *arg)
{
	struct http_error err = {0};
	json_t *body = http_req_json(req, true, &err);
	static const char *const fields[] = {"role", "nodes", "allow_yellow", NULL};
	if (!body || !http_json_check_fields(body, fields, &err)) {
		json_decref(body);
		http_reply_failure(req, &err);
		return;
	}
	json_t *allow_yellow = json_object_get(body, "allow_yellow");
	if (allow_yellow && !json_is_boolean(allow_yellow)) {
		json_decref(body);
		http_error_set(&err, 422, "invalid", "allow_yellow",
			       "allow_yellow must be true or false");
		http_reply_failure(req, &err);
		return;
	}
	json_t *role = json_object_get(body, "role");
	json_t *nodes = json_object_get(body, "nodes");
	const char *r = json_string_value(role);
	if (role && (!r || (strcmp(r, "data") != 0 && strcmp(r, "clients") != 0 &&
			    strcmp(r, "masters") != 0))) {
		http_error_set(&err, 422, "invalid", "role",
			       "role must be data, clients or masters");
	} else if (role && nodes) {
		http_error_set(&err, 422, "invalid", "nodes", "give a role or nodes, not both");
	} else if (nodes) {
		size_t i;
		json_t *n;
		if (!json_is_array(nodes) || json_array_size(nodes) == 0)
			http_error_set(&err, 422, "invalid", "nodes",
				       "nodes must be a list of pod names");
		json_array_foreach (nodes, i, n)
			if (!err.status &&
			    (!json_is_string(n) || !api_dns_label_valid(json_string_value(n))))
				http_error_set(&err, 422, "invalid", "nodes",
					       "nodes[%zu] is not a pod name", i);
	}
	if (err.status) {
		json_decref(body);
		http_reply_failure(req, &err);
		return;
	}
	op_submit(req, arg, "restart", body);
}

/* --- GET /api/v1/clusters/{name}/health-history?limit=N --- */

#define HISTORY_LIMIT_DEFAULT 50
#define HISTORY_LIMIT_MAX 500

static void history_done_cb(void *arg, const struct db_error *err, json_t *json)
{
	struct cluster_call *c = arg;

	if (err)
		api_reply_db_error(c->req, err);
	else if (!json)
		http_reply_error(c->req, 404, "not_found", NULL, "cluster %s not found", c->name);
	else
		http_reply_json(c->req, 200, json_incref(json));
	free(c->name);
	free(c);
}

/* Its changes of health, newest first: {"cluster": name, "history": [...]}. */
static void clusters_health_history_cb(struct http_req *req, void *arg)
{
	static const char *const known[] = {"limit", "tenant", NULL};
	struct api *api = arg;
	const char *name = http_req_param(req, "name");
	const char *limit_text = http_query_get(http_req_query(req), "limit");
	int limit = HISTORY_LIMIT_DEFAULT;
	struct http_error err = {0};

	if (!name || !api_dns_label_valid(name)) {
		http_reply_error(req, 404, "not_found", NULL, "cluster %.64s not found",
				 name ? name : "");
		return;
	}
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

	struct cluster_call *c = xcalloc(1, sizeof(*c));

	c->req = req;
	c->name = xstrdup(name);
	storage_health_history(api->db, api_tenant(req), name, limit, history_done_cb, c);
}

void api_clusters_add_routes(struct api *api)
{
	api_route(api, "POST", "/api/v1/clusters", ACCESS_OPERATE, clusters_create_cb);
	api_route(api, "GET", "/api/v1/clusters", ACCESS_READ, clusters_list_cb);
	api_route(api, "GET", "/api/v1/clusters/{name}", ACCESS_READ, clusters_get_cb);
	api_route(api, "GET", "/api/v1/clusters/{name}/health-history", ACCESS_READ,
		  clusters_health_history_cb);
	api_route(api, "DELETE", "/api/v1/clusters/{name}", ACCESS_OPERATE, clusters_delete_cb);
	api_route(api, "POST", "/api/v1/clusters/{name}/scale", ACCESS_OPERATE, clusters_scale_cb);
	api_route(api, "POST", "/api/v1/clusters/{name}/restart", ACCESS_OPERATE,
		  clusters_restart_cb);
	api_route(api, "PATCH", "/api/v1/clusters/{name}/config", ACCESS_OPERATE,
		  clusters_config_cb);
	api_route(api, "POST", "/api/v1/clusters/{name}/plugins", ACCESS_OPERATE,
		  clusters_plugin_add_cb);
	api_route(api, "DELETE", "/api/v1/clusters/{name}/plugins/{plugin}", ACCESS_OPERATE,
		  clusters_plugin_remove_cb);
	api_route(api, "POST", "/api/v1/clusters/{name}/kibana", ACCESS_OPERATE,
		  clusters_kibana_cb);
}
