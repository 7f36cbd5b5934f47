/*
 * GET /api/v1/clusters/{name}/snapshots: the cluster's snapshots as its
 * repository holds them, read from the live cluster (states/snapshot.c):
 * name, state, start and end, indices, shards and size.  Taking one is the
 * snapshot workflow's (POST, api/clusters.c).
 */
#include "api/auth.h"
#include "api/routes.h"
#include "common/json.h"
#include "common/util.h"
#include "kube/spec.h"
#include "states/states.h"
#include "storage/clusters.h"

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
