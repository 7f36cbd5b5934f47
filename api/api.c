#include "api/api.h"
#include "api/auth.h"
#include "api/http.h"
#include "api/routes.h"
#include "api/ui.h"
#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"
#include "storage/db.h"
#include "storage/jobs.h"
#include "storage/migrate.h"

#include <stdio.h>
#include <stdlib.h>

/* --- GET /healthz: the process is up and its loop turns. --- */

static void healthz_cb(struct http_req *req, void *arg)
{
	http_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

/*
 * --- GET /metrics: the process's metrics, in Prometheus's text format. ---
 *
 * Served on metrics.listen only, never on the API's listener: the samples
 * name every tenant and cluster, and an exporter's port is one that only
 * Prometheus is let through to.
 */

static void metrics_cb(struct http_req *req, void *arg)
{
	size_t len = 0;
	char *text = metrics_expose(metrics_default(), &len);

	http_req_add_header(req, "Cache-Control", "no-store");
	http_reply_body(req, 200, METRICS_CONTENT_TYPE, text, len);
	free(text);
}

/* --- GET /readyz: worth sending traffic to. --- */

struct readyz_call {
	struct http_req *req;
	struct db_pool *engine_db; /* api->engine_db, freed after the API's pool */
};

static void readyz_version_cb(void *arg, const struct db_error *err, int version)
{
	struct readyz_call *c = arg;
	struct http_req *req = c->req;
	struct db_pool *engine_db = c->engine_db;
	int latest = migrate_latest();

	free(c);

	if (err && err->kind == DB_ERR_BUSY) {
		/* Connected, and the API's queue full: shedding is this replica
		 * working as meant, not a reason to take it out of service. */
		http_reply_json(req, 200, json_pack("{s:s,s:b}", "status", "ready", "busy", 1));
	} else if (err) {
		/* libpq's text names hosts, users and why a login failed: the log's. */
		log_warn("GET /readyz: database unreachable: %s", err->message);
		http_reply_error(req, 503, "not_ready", NULL, "database unreachable");
	} else if (version != latest) {
		http_reply_error(req, 503, "not_ready", NULL,
				 "schema version %d, this esaasd needs %d", version, latest);
	} else if (engine_db && !db_pool_warmed(engine_db)) {
		http_reply_error(req, 503, "not_ready", NULL,
				 "the engine's database sessions are not ready yet");
	} else {
		http_reply_json(
			req, 200,
			json_pack("{s:s,s:i}", "status", "ready", "schema_version", version));
	}
}

static void readyz_cb(struct http_req *req, void *arg)
{
	struct api *api = arg;

	if (api->draining) {
		http_reply_error(req, 503, "not_ready", NULL, "shutting down");
		return;
	}
	if (!api->db) {
		http_reply_error(req, 503, "not_ready", NULL, "database unreachable");
		return;
	}
	struct readyz_call *c = xcalloc(1, sizeof(*c));
	c->req = req;
	c->engine_db = api->engine_db;
	storage_schema_version(api->db, readyz_version_cb, c);
}

/*
 * esaas_ready, for Prometheus: 1 while /readyz would answer 200 as far as
 * can be told without a query (not draining, a database connection up).
 */
static void ready_collect_cb(struct metrics_sink *sink, void *arg)
{
	const struct api *api = arg;
	bool ready = !api->draining && api->db && db_pool_connected(api->db);

	metrics_sink_sample(sink, NULL, ready ? 1 : 0);
}

bool api_tls_load(struct api *api, const struct config *cfg, char *err, size_t errlen)
{
	char why[512];
	struct http_tls *tls =
		http_tls_load(cfg->tls_cert_file, cfg->tls_key_file, why, sizeof(why));

	if (!tls) {
		/* "cert_file PATH: ..." or "key_file PATH: ..." under tls. */
		snprintf(err, errlen, "tls.%s", why);
		return false;
	}
	log_info("HTTPS certificate: %s (from %s)", http_tls_summary(tls), cfg->tls_cert_file);
	http_server_set_tls(api->http, tls);
	return true;
}

struct api *api_new(struct event_base *base, const struct api_options *opt, char *err,
		    size_t errlen)
{
	const struct config *cfg = opt->cfg;
	struct http_limits lim = {
		.max_body_bytes =
			cfg->http_max_body_bytes > 0 ? (size_t)cfg->http_max_body_bytes : 0,
		.max_header_bytes =
			cfg->http_max_header_bytes > 0 ? (size_t)cfg->http_max_header_bytes : 0,
		.timeout_s = cfg->http_timeout_s,
		.max_connections = cfg->http_max_connections,
	};
	/* Prometheus keeps one connection per target; a few more for people. */
	struct http_limits metrics_lim = lim;
	struct api *api = xcalloc(1, sizeof(*api));

	api->db = opt->db;
	api->engine_db = opt->engine_db;
	api->reg = opt->reg;
	api->env = opt->env;
	api->generic_submit = opt->generic_submit;
	api->test_caller = opt->test_caller;
	api->allowed_images = cfg->kube_allowed_images;
	api->http = http_server_new(base, &lim);
	if (!api->http) {
		snprintf(err, errlen, "cannot create the HTTP server");
		goto failed;
	}

	api->auth = api_auth_new(base, cfg, opt->http);
	api_route(api, "GET", "/healthz", ACCESS_PUBLIC, healthz_cb);
	api_route(api, "GET", "/readyz", ACCESS_PUBLIC, readyz_cb);
	api_auth_add_routes(api);
	api_jobs_add_routes(api);
	api_clusters_add_routes(api);
	api_maintenance_add_routes(api);
	api->ui = api_ui_new(api->http, cfg->http_ui_dir,
			     cfg->oidc_client_id && cfg->oidc_jwks_url && cfg->oidc_audience
				     ? cfg->oidc_issuer
				     : NULL);
	api->ready_metric = metrics_collector(
		metrics_default(), METRIC_GAUGE, "esaas_ready",
		"1 when this replica is ready (GET /readyz: not shutting down, the database "
		"reachable), else 0.",
		NULL, ready_collect_cb, api);

	if (cfg->tls_cert_file && !api_tls_load(api, cfg, err, errlen))
		goto failed;
	if (!http_server_listen(api->http, cfg->listen, err, errlen))
		goto failed;
	log_info("%s API listening on %s (port %d)", cfg->tls_cert_file ? "HTTPS" : "HTTP",
		 cfg->listen, http_server_port(api->http));

	if (!cfg->metrics_listen)
		return api;
	metrics_lim.max_connections = 64;
	api->metrics_http = http_server_new(base, &metrics_lim);
	if (!api->metrics_http) {
		snprintf(err, errlen, "cannot create the metrics server");
		goto failed;
	}
	http_server_route(api->metrics_http, "GET", "/metrics", metrics_cb, api);
	if (!http_server_listen(api->metrics_http, cfg->metrics_listen, err, errlen))
		goto failed;
	log_info("metrics served on %s (port %d), GET /metrics", cfg->metrics_listen,
		 http_server_port(api->metrics_http));
	return api;

failed:
	api_free(api);
	return NULL;
}

void api_set_draining(struct api *api)
{
	api->draining = true;
}

void api_free(struct api *api)
{
	if (!api)
		return;
	metrics_unregister(api->ready_metric);
	http_server_free(api->http);
	http_server_free(api->metrics_http);
	api_ui_free(api->ui);
	api_guards_free(api);
	api_auth_free(api->auth);
	free(api);
}
