/*
 * Who is asking, and what they may do: every route of the API is added
 * with an access rule, and a request reaches its handler only once its
 * bearer credential is checked against that rule.
 *
 * Credentials (Authorization: Bearer ...):
 *   - esaas's own API tokens (common/token.h), checked against their
 *     stored hash on every request, so a revocation holds at once;
 *   - OpenID Connect JWTs from the identity provider of oidc.* in the
 *     configuration (common/jwt.h), their claims mapped to tenant and role.
 * A missing or bad credential is 401 with a WWW-Authenticate header; the
 * credential itself never reaches a log line, an event or an error.
 *
 * Roles, in increasing order:
 *   viewer  reads its tenant
 *   member  also submits operations on its tenant's clusters and cancels
 *           its tenant's jobs
 *   oncall  reads every tenant, cancels and replays any job
 *   admin   everything, including tenants, quotas and tokens
 * oncall and admin are the platform's roles: only a credential of one of
 * the platform's tenants (auth.platform_tenants) may hold them.  Any other
 * tenant's credential with one of them is refused (403), and no such
 * token is made (422): whoever administers tenant "acme" in the identity
 * provider does not thereby administer every tenant.
 *
 * Refused credentials are counted per client address: past
 * auth.failures_max in auth.failures_window_seconds, a request that
 * presents a credential is answered 429 with Retry-After until the window
 * ends, before any work is done for it.
 *
 * A request addresses one tenant: ?tenant=T, else the caller's own.  For
 * a viewer or a member, another tenant does not exist: anything there is
 * 404, as for a name that is nowhere.  A role that may not do something
 * at all is told 403 before anything is looked up, so that answer says
 * nothing about what exists either.
 */
#ifndef ESAAS_API_AUTH_H
#define ESAAS_API_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "api/http.h"
#include "common/token.h"
#include "common/util.h"

struct api;

enum api_access {
	ACCESS_PUBLIC,	 /* no credential: probes, metrics, the viewer's files */
	ACCESS_ANY,	 /* any valid credential, whatever its tenant */
	ACCESS_READ,	 /* a tenant's things: its viewers and members; oncall, admin */
	ACCESS_OPERATE,	 /* submit an operation: the tenant's members; admin */
	ACCESS_CANCEL,	 /* cancel a job: the tenant's members; oncall, admin */
	ACCESS_REPLAY,	 /* replay a job: oncall, admin */
	ACCESS_READ_ALL, /* every tenant at once: oncall, admin */
	ACCESS_ADMIN,	 /* tenants, quotas, tokens: admin */
	ACCESS_COUNT
};

/* "public", "any", "read", ... as GET /api/v1 lists them. */
const char *api_access_name(enum api_access access);

/*
 * What a role may do with an access rule: not at all, in its own tenant
 * only, or in every tenant.
 */
enum api_reach {
	REACH_NONE,
	REACH_OWN,
	REACH_ALL,
};
enum api_reach api_role_reach(enum token_role role, enum api_access access);
/* oncall and admin: roles that only the platform's tenants may hold. */
bool api_role_is_platform(enum token_role role);

/* The caller of a request that passed its rule. */
struct api_caller {
	char *actor;  /* "token:3f9a0c1d2e4b" or "oidc:<subject>": no secret */
	char *tenant; /* the credential's tenant */
	enum token_role role;
	/* The tenant the request addresses (?tenant=, else the caller's);
	 * NULL when the caller reads across tenants and named none. */
	char *scope;
};

/* Add a route guarded by access; handler gets api as its argument. */
void api_route(struct api *api, const char *method, const char *pattern, enum api_access access,
	       http_handler_fn handler);
/* The same for routes that share one handler: it gets api and the route's
 * own data (borrowed; it must outlive api). */
typedef void (*api_handler_with_fn)(struct http_req *req, struct api *api, const void *data);
void api_route_with(struct api *api, const char *method, const char *pattern,
		    enum api_access access, api_handler_with_fn handler, const void *data);

/* The routes added so far, for GET /api/v1: [{"method", "path", "access"}]. */
json_t *api_routes_json(const struct api *api);

/* The caller of a guarded request (NULL for a public one). */
const struct api_caller *api_caller(const struct http_req *req);

/*
 * The tenant a named cluster is looked up, created or changed in: the
 * request's scope, else the caller's own tenant.
 */
const char *api_tenant(const struct http_req *req);

/* For lists and jobs by id: the scope, NULL for every tenant. */
const char *api_tenant_filter(const struct http_req *req);

/*
 * Who acts, for the job's history: the caller, and in parentheses what an
 * X-Esaas-Actor header adds (a person behind a shared token).  *actor is
 * allocated; a malformed header is 422 invalid.
 */
bool api_request_actor(const struct http_req *req, char **actor, struct http_error *err) MUST_CHECK;

/* The state of authentication: freed with the API. */
struct api_auth;
struct httpc;
struct config;
struct event_base;
struct api_auth *api_auth_new(struct event_base *base, const struct config *cfg,
			      struct httpc *http);
void api_auth_free(struct api_auth *auth);

/* Tokens, tenants, quotas: /api/v1/tokens..., /api/v1/tenants..., /api/v1/whoami. */
void api_auth_add_routes(struct api *api);

#endif
