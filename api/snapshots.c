/*
 * GET /api/v1/clusters/{name}/snapshots: the cluster's snapshots as its
 * repository holds them, read from the live cluster (states/snapshot.c):
 * name, state, start and end, indices, shards and size.  Taking one is the
 * snapshot workflow's (POST, api/clusters.c).  And a create's "restore":
 * its source, a cluster of the same tenant, and the snapshot there.
 */
#include "api/auth.h"
#include "api/routes.h"
#include "common/json.h"
#include "common/util.h"
#include "kube/spec.h"
#include "states/states.h"
#include "storage/clusters.h"
#include "workflows/request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct snapshots_call {
	struct http_req *req;
	struct api *api;
	char *name;
};

static void snapshots_call_free(struct snapshots_call *c)
{
	free(c->name);
	free(c);
}

static void snapshots_read_cb(void *arg, json_t *list, const char *error)
{
	struct snapshots_call *c = arg;
	if (!list)
		http_reply_error(c->req, 502, "upstream", NULL,
				 "cannot read the snapshots of cluster %s: %s", c->name,
				 error ? error : "no answer");
	else
		http_reply_json(c->req, 200,
				json_pack("{s:s, s:O}", "cluster", c->name, "snapshots", list));
	snapshots_call_free(c);
}

static void snapshots_cluster_cb(void *arg, const struct db_error *err, json_t *cluster)
{
	struct snapshots_call *c = arg;
	if (err || !cluster) {
		if (err)
			api_reply_db_error(c->req, err);
		else
			http_reply_error(c->req, 404, "not_found", NULL, "cluster %s not found",
					 c->name);
		snapshots_call_free(c);
		return;
	}
	states_read_snapshots(c->api->env, api_tenant(c->req), json_str(cluster, "namespace"),
			      json_object_get(cluster, "spec"), snapshots_read_cb, c);
}

static void snapshots_list_cb(struct http_req *req, void *arg)
{
	struct api *api = arg;
	const char *name = http_req_param(req, "name");

	/* A name that could never be a cluster's is as missing as another's. */
	if (!name || !spec_is_dns_label(name, SPEC_DNS_LABEL_MAX)) {
		http_reply_error(req, 404, "not_found", NULL, "cluster %.64s not found",
				 name ? name : "");
		return;
	}
	if (!api_have_database(req, api))
		return;
	struct snapshots_call *c = xcalloc(1, sizeof(*c));
	c->req = req;
	c->api = api;
	c->name = xstrdup(name);
	storage_cluster_get(api->db, api_tenant(req), name, snapshots_cluster_cb, c);
}

void api_snapshots_add_routes(struct api *api)
{
	api_route(api, "GET", "/api/v1/clusters/{name}/snapshots", ACCESS_READ, snapshots_list_cb);
}

/* --- a create's restore ------------------------------------------------------------ */

bool api_restore_fields_ok(json_t *restore, struct http_error *err)
{
	struct wf_refusal why = {0};
	const char *key;
	json_t *v;

	if (!json_is_object(restore))
		return http_error_set(err, 422, "invalid", "restore",
				      "restore must be an object: {\"cluster\", \"snapshot\"}");
	json_object_foreach (restore, key, v) {
		if (strcmp(key, "cluster") != 0 && strcmp(key, "snapshot") != 0) {
			char field[160];
			snprintf(field, sizeof(field), "restore.%.100s", key);
			return http_error_set(err, 422, "invalid", field,
					      "%s: unknown field (known: cluster, snapshot)",
					      field);
		}
	}
	const char *cluster = json_str(restore, "cluster");
	if (!cluster || !spec_is_dns_label(cluster, SPEC_DNS_LABEL_MAX))
		return http_error_set(err, 422, "invalid", "restore.cluster",
				      "restore.cluster must name a cluster (a DNS label)");
	if (!wf_snapshot_name_ok("restore.snapshot", json_object_get(restore, "snapshot"), &why))
		return http_error_set(err, why.status, why.code, why.field, "%s", why.message);
	return true;
}

struct restore_call {
	struct api *api;
	struct http_req *req;
	char *cluster, *snapshot, *ns;
	api_restore_cb done;
	void *arg;
};

static void restore_call_end(struct restore_call *c, json_t *params)
{
	c->done(c->arg, params);
	json_decref(params);
	free(c->cluster);
	free(c->snapshot);
	free(c->ns);
	free(c);
}

static void restore_listed_cb(void *arg, json_t *list, const char *error)
{
	struct restore_call *c = arg;
	json_t *found = NULL;
	size_t i;
	json_t *s;

	if (!list) {
		http_reply_error(c->req, 502, "upstream", "restore.cluster",
				 "cannot read the snapshots of cluster %s: %s", c->cluster,
				 error ? error : "no answer");
		restore_call_end(c, NULL);
		return;
	}
	json_array_foreach (list, i, s) {
		if (json_str(s, "name") && !strcmp(json_str(s, "name"), c->snapshot))
			found = s;
	}
	if (!found) {
		http_reply_error(c->req, 404, "not_found", "restore.snapshot",
				 "restore.snapshot: cluster %s has no snapshot %s", c->cluster,
				 c->snapshot);
		restore_call_end(c, NULL);
		return;
	}
	const char *state = json_str(found, "state");
	if (!state || strcmp(state, "SUCCESS") != 0) {
		http_reply_error(c->req, 409, "conflict", "restore.snapshot",
				 "restore.snapshot: snapshot %s of cluster %s is %s, not SUCCESS",
				 c->snapshot, c->cluster, state ? state : "in no state");
		restore_call_end(c, NULL);
		return;
	}
	restore_call_end(c, json_pack("{s:s, s:s, s:s, s:O}", "cluster", c->cluster, "namespace",
				      c->ns, "snapshot", c->snapshot, "indices",
				      json_object_get(found, "indices")));
}

static void restore_source_cb(void *arg, const struct db_error *err, json_t *cluster)
{
	struct restore_call *c = arg;

	if (err || !cluster) {
		if (err)
			api_reply_db_error(c->req, err);
		else
			http_reply_error(c->req, 404, "not_found", "restore.cluster",
					 "restore.cluster: cluster %s not found", c->cluster);
		restore_call_end(c, NULL);
		return;
	}
	const char *ns = json_str(cluster, "namespace");
	c->ns = ns ? xstrdup(ns) : NULL;
	if (!c->ns) {
		http_reply_error(c->req, 409, "conflict", "restore.cluster",
				 "restore.cluster: cluster %s has no namespace yet", c->cluster);
		restore_call_end(c, NULL);
		return;
	}
	states_read_snapshots(c->api->env, api_tenant(c->req), c->ns,
			      json_object_get(cluster, "spec"), restore_listed_cb, c);
}

void api_restore_resolve(struct api *api, struct http_req *req, json_t *restore,
			 api_restore_cb done, void *arg)
{
	struct restore_call *c = xcalloc(1, sizeof(*c));
	c->api = api;
	c->req = req;
	c->cluster = xstrdup(json_str(restore, "cluster"));
	c->snapshot = xstrdup(json_str(restore, "snapshot"));
	c->done = done;
	c->arg = arg;
	/* The tenant's own clusters only: another's is as missing. */
	storage_cluster_get(api->db, api_tenant(req), c->cluster, restore_source_cb, c);
}
