/*
 * The HTTP API (evhttp): routing, the one JSON error shape, limits, and the
 * handlers for jobs, health and readiness.
 *
 * Every error is {"error": {"code": "...", "message": "...", "field": "..."}}
 * ("field" only when one field is at fault).  Unknown paths are 404, known
 * paths with a wrong method 405 with an Allow header.
 */
#ifndef ESAAS_API_H
#define ESAAS_API_H

#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"

struct event_base;
struct db_pool;
struct wf_registry;
struct wf_env;
struct config;
struct api;
struct httpc;

struct api_options {
	/* listen, http.* limits, auth.*, oidc.*; metrics.listen NULL: no /metrics */
	const struct config *cfg;
	struct db_pool *db;
	/*
	 * The engine's connections: /readyz answers 503 while one of them is
	 * still warming the engine's statements (db_pool_warm()), so that the
	 * first jobs sent to a new replica do not pay for it.  NULL: not
	 * checked.
	 */
	struct db_pool *engine_db;
	const struct wf_registry *reg;
	/* What the workflows work with (states/env.h); some checks read a
	 * cluster through it before queuing.  May be filled in later. */
	struct wf_env *env;
	/*
	 * Route POST /api/v1/jobs ({"kind", "cluster", "params"}) straight to
	 * the registry.  Only the test build turns this on: the shipped API
	 * submits jobs through the cluster operations.
	 */
	bool generic_submit;
	/* For fetching the identity provider's keys (oidc.*); NULL: none. */
	struct httpc *http;
	/*
	 * In-process tests only (unit tests, fuzzers), never esaasd: a request
	 * without an Authorization header is taken as coming from this
	 * caller, so that handlers can be reached without a database.  A
	 * request with the header is checked as always.  NULL: off.
	 */
	const struct api_test_caller *test_caller;
};

struct api_test_caller {
	const char *actor;
	const char *tenant;
	int role; /* enum token_role */
};

/* Bind and start serving; NULL with err filled when the address is unusable. */
struct api *api_new(struct event_base *base, const struct api_options *opt, char *err,
		    size_t errlen);
/*
 * Read tls.cert_file and tls.key_file and serve the API's new connections
 * with them; the open ones finish with the pair they began with.  On
 * failure the pair served so far stays, and err names the key and the
 * file ("tls.key_file PATH: ...").  api_new() calls it when tls.cert_file
 * is set; esaasd again on SIGHUP.
 */
bool api_tls_load(struct api *api, const struct config *cfg, char *err, size_t errlen) MUST_CHECK;
/* From now on /readyz answers 503 (shutting down). */
void api_set_draining(struct api *api);
void api_free(struct api *api);

#endif
