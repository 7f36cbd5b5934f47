/*
 * Authentication and authorisation of every API request (api/auth.h), and
 * the endpoints of tokens, tenants and quotas.
 */
#include "api/auth.h"
#include "common/json.h"
#include "api/api.h"
#include "api/routes.h"
#include "common/config.h"
#include "common/jwt.h"
#include "common/log.h"
#include "common/token.h"
#include "common/util.h"
#include "kube/spec.h"
#include "storage/auth.h"
#include "storage/tenants.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Refused credentials of one client address in its current window. */
struct failures {
	char peer[64];
	int64_t window_end_ms; /* monotonic */
	int count;
	bool logged; /* the block was logged */
	struct failures *next;
};

#define FAILURE_BUCKETS 1024
/* Addresses tracked at once; past it, new addresses are not counted. */
#define FAILURE_ENTRIES_MAX 65536

struct api_auth {
	struct jwks *jwks;	    /* NULL: no OpenID Connect provider configured */
	char *platform_tenants;	    /* auth.platform_tenants */
	int failures_max;	    /* auth.failures_max */
	int64_t failures_window_ms; /* auth.failures_window_seconds */
	struct failures *failures[FAILURE_BUCKETS];
	size_t failure_entries;
	char *portal_issuer;	/* oidc.issuer, when the portal signs in through it */
	char *portal_client_id; /* oidc.client_id */
};

/* One guarded route: what api_route() was given. */
struct guard {
	struct api *api;
	enum api_access access;
	http_handler_fn handler;	  /* or: */
	api_handler_with_fn handler_with; /* with data */
	const void *data;
	char *method;
	char *pattern;
	struct guard *next;
};

/* The request passed its guard: to the route's handler. */
static void guard_pass(const struct guard *g, struct http_req *req)
{
	if (g->handler_with)
		g->handler_with(req, g->api, g->data);
	else
		g->handler(req, g->api);
}

static const char *const access_names[ACCESS_COUNT] = {
	[ACCESS_PUBLIC] = "public",	[ACCESS_ANY] = "any",	    [ACCESS_READ] = "read",
	[ACCESS_OPERATE] = "operate",	[ACCESS_CANCEL] = "cancel", [ACCESS_REPLAY] = "replay",
	[ACCESS_READ_ALL] = "read_all", [ACCESS_ADMIN] = "admin",
};

/* What each role may do with each rule (api/auth.h). */
static const enum api_reach reach_table[4][ACCESS_COUNT] = {
	[TOKEN_ROLE_VIEWER] =
		{
			[ACCESS_PUBLIC] = REACH_ALL,
			[ACCESS_ANY] = REACH_ALL,
			[ACCESS_READ] = REACH_OWN,
		},
	[TOKEN_ROLE_MEMBER] =
		{
			[ACCESS_PUBLIC] = REACH_ALL,
			[ACCESS_ANY] = REACH_ALL,
			[ACCESS_READ] = REACH_OWN,
			[ACCESS_OPERATE] = REACH_OWN,
			[ACCESS_CANCEL] = REACH_OWN,
		},
	[TOKEN_ROLE_ONCALL] =
		{
			[ACCESS_PUBLIC] = REACH_ALL,
			[ACCESS_ANY] = REACH_ALL,
			[ACCESS_READ] = REACH_ALL,
			[ACCESS_CANCEL] = REACH_ALL,
			[ACCESS_REPLAY] = REACH_ALL,
			[ACCESS_READ_ALL] = REACH_ALL,
		},
	[TOKEN_ROLE_ADMIN] =
		{
			[ACCESS_PUBLIC] = REACH_ALL,
			[ACCESS_ANY] = REACH_ALL,
			[ACCESS_READ] = REACH_ALL,
			[ACCESS_OPERATE] = REACH_ALL,
			[ACCESS_CANCEL] = REACH_ALL,
			[ACCESS_REPLAY] = REACH_ALL,
			[ACCESS_READ_ALL] = REACH_ALL,
			[ACCESS_ADMIN] = REACH_ALL,
		},
};

/* What a refusal says the role may not do. */
static const char *const access_verbs[ACCESS_COUNT] = {
	[ACCESS_READ] = "read this",
	[ACCESS_OPERATE] = "submit operations",
	[ACCESS_CANCEL] = "cancel jobs",
	[ACCESS_REPLAY] = "replay jobs",
	[ACCESS_READ_ALL] = "read every tenant",
	[ACCESS_ADMIN] = "manage tenants, quotas and tokens",
};

const char *api_access_name(enum api_access access)
{
	return (unsigned)access < ACCESS_COUNT ? access_names[access] : "?";
}

bool api_role_is_platform(enum token_role role)
{
	return role == TOKEN_ROLE_ONCALL || role == TOKEN_ROLE_ADMIN;
}

enum api_reach api_role_reach(enum token_role role, enum api_access access)
{
	if ((unsigned)role > TOKEN_ROLE_ADMIN || (unsigned)access >= ACCESS_COUNT)
		return REACH_NONE;
	return reach_table[role][access];
}

/* --- the caller ------------------------------------------------------------------------ */

static void caller_free(void *p)
{
	struct api_caller *c = p;

	if (!c)
		return;
	free(c->actor);
	free(c->tenant);
	free(c->scope);
	free(c);
}

const struct api_caller *api_caller(const struct http_req *req)
{
	return http_req_context(req);
}

const char *api_tenant(const struct http_req *req)
{
	const struct api_caller *c = api_caller(req);

	/* No caller: a route that is public, or added without api_route().
	 * No tenant is called "": nothing is found, nothing can be created. */
	if (!c)
		return "";
	return c->scope ? c->scope : c->tenant;
}

const char *api_tenant_filter(const struct http_req *req)
{
	const struct api_caller *c = api_caller(req);

	return c ? c->scope : "";
}

bool api_request_actor(const struct http_req *req, char **actor, struct http_error *err)
{
	const struct api_caller *c = api_caller(req);
	const char *header = http_req_header(req, "X-Esaas-Actor");
	char *on_behalf = NULL;

	if (!c)
		return api_actor(header, http_req_peer(req), actor, err);
	*actor = NULL;
	if (header) {
		if (!api_actor(header, http_req_peer(req), &on_behalf, err))
			return false;
		*actor = xasprintf("%s (%s)", c->actor, on_behalf);
		free(on_behalf);
	} else {
		*actor = xstrdup(c->actor);
	}
	return true;
}

/* --- refused credentials per client address ----------------------------------------------- */

static size_t peer_hash(const char *peer)
{
	size_t h = 5381;

	for (; *peer; peer++)
		h = h * 33 + (unsigned char)*peer;
	return h % FAILURE_BUCKETS;
}

/* The entry of peer, or NULL; entries whose window has ended go on the way. */
static struct failures *failures_find(struct api_auth *auth, const char *peer, int64_t now)
{
	struct failures **p = &auth->failures[peer_hash(peer)];

	while (*p) {
		struct failures *f = *p;

		if (f->window_end_ms <= now) {
			*p = f->next;
			free(f);
			auth->failure_entries--;
			continue;
		}
		if (strcmp(f->peer, peer) == 0)
			return f;
		p = &f->next;
	}
	return NULL;
}

/* Milliseconds until peer may present credentials again; 0: it may now. */
static int64_t failures_blocked_ms(struct api_auth *auth, const char *peer)
{
	int64_t now = now_mono_ms();
	struct failures *f = failures_find(auth, peer, now);

	if (!f || f->count < auth->failures_max)
		return 0;
	return f->window_end_ms - now;
}

static void failures_count(struct api_auth *auth, const char *peer)
{
	int64_t now = now_mono_ms();
	struct failures *f = failures_find(auth, peer, now);

	if (!f) {
		if (auth->failure_entries >= FAILURE_ENTRIES_MAX)
			return;
		f = xcalloc(1, sizeof(*f));
		snprintf(f->peer, sizeof(f->peer), "%s", peer);
		f->window_end_ms = now + auth->failures_window_ms;
		f->next = auth->failures[peer_hash(peer)];
		auth->failures[peer_hash(peer)] = f;
		auth->failure_entries++;
	}
	f->count++;
}

static void failures_free(struct api_auth *auth)
{
	for (size_t i = 0; i < FAILURE_BUCKETS; i++) {
		while (auth->failures[i]) {
			struct failures *f = auth->failures[i];

			auth->failures[i] = f->next;
			free(f);
		}
	}
	auth->failure_entries = 0;
}

/*
 * 429 if the client's address is past its refused credentials, before
 * any work is done for the request; the block is logged once.
 */
static bool failures_refuse(struct api_auth *auth, struct http_req *req)
{
	int64_t ms = failures_blocked_ms(auth, http_req_peer(req));
	char retry[24];

	if (ms <= 0)
		return false;
	struct failures *f = failures_find(auth, http_req_peer(req), now_mono_ms());

	if (f && !f->logged) {
		f->logged = true;
		log_warn("%s: %d refused credentials in %llds; its credentials are answered "
			 "429 for %llds",
			 http_req_peer(req), f->count, (long long)(auth->failures_window_ms / 1000),
			 (long long)((ms + 999) / 1000));
	}
	snprintf(retry, sizeof(retry), "%lld", (long long)((ms + 999) / 1000));
	http_req_add_header(req, "Retry-After", retry);
	http_reply_error(req, 429, "too_many_requests", NULL,
			 "too many refused credentials from this address; try again in %ss", retry);
	return true;
}

/* --- refusals ----------------------------------------------------------------------------- */

/* 401: no credential, or one that does not hold.  why is about the token,
 * never the token.  A refused credential counts against the client's address. */
static void reply_unauthorized(struct http_req *req, struct api_auth *auth, bool presented,
			       const char *why)
{
	if (presented) {
		if (auth)
			failures_count(auth, http_req_peer(req));
		http_req_add_header(req, "WWW-Authenticate",
				    "Bearer realm=\"esaas\", error=\"invalid_token\"");
		log_info("%s %s from %s: credential refused: %s", http_req_method(req),
			 http_req_path(req), http_req_peer(req), why);
		http_reply_error(req, 401, "unauthorized", NULL,
				 "the bearer token is not valid: %s", why);
	} else {
		http_req_add_header(req, "WWW-Authenticate", "Bearer realm=\"esaas\"");
		http_reply_error(req, 401, "unauthorized", NULL,
				 "this request needs a credential: Authorization: Bearer <token> "
				 "(an esaas API token, or a token of the identity provider)");
	}
}

/* The rule holds for the caller: pick the tenant addressed, then the handler. */
static void authorize(struct http_req *req, const struct guard *g, struct api_caller *caller)
{
	enum api_reach reach = api_role_reach(caller->role, g->access);
	const char *named = http_req_param(req, "tenant");
	struct api_auth *auth = g->api->auth;

	if (api_role_is_platform(caller->role) && auth &&
	    !config_tenant_in_list(auth->platform_tenants, caller->tenant)) {
		log_warn("%s %s from %s: %s holds role %s of tenant %s, which is not a platform "
			 "tenant (auth.platform_tenants): refused",
			 http_req_method(req), http_req_path(req), http_req_peer(req),
			 caller->actor, token_role_name(caller->role), caller->tenant);
		http_reply_error(
			req, 403, "forbidden", NULL,
			"role %s is the platform's, and tenant %s is not a platform tenant",
			token_role_name(caller->role), caller->tenant);
		caller_free(caller);
		return;
	}

	if (!named)
		named = http_query_get(http_req_query(req), "tenant");
	if (reach == REACH_NONE) {
		http_reply_error(req, 403, "forbidden", NULL, "role %s may not %s",
				 token_role_name(caller->role), access_verbs[g->access]);
		caller_free(caller);
		return;
	}
	if (named && !spec_is_dns_label(named, 40)) {
		http_reply_error(req, 422, "invalid", "tenant",
				 "tenant: expected a DNS-1123 label of at most 40 characters");
		caller_free(caller);
		return;
	}
	if (named && reach == REACH_OWN && strcmp(named, caller->tenant) != 0) {
		/* The same answer as for a name that exists nowhere. */
		http_reply_error(req, 404, "not_found", NULL, "not found");
		caller_free(caller);
		return;
	}
	if (named)
		caller->scope = xstrdup(named);
	else if (reach == REACH_OWN)
		caller->scope = xstrdup(caller->tenant);
	http_req_set_context(req, caller, caller_free);
	guard_pass(g, req);
}

/* --- esaas API tokens ------------------------------------------------------------------- */

struct token_check {
	struct http_req *req;
	const struct guard *g;
	char id[TOKEN_ID_LEN + 1];
	char secret[TOKEN_SECRET_LEN + 1];
	size_t secret_len;
};

static void token_check_free(struct token_check *t)
{
	explicit_bzero(t->secret, sizeof(t->secret));
	free(t);
}

static void token_row_cb(void *arg, const struct db_error *err, const struct auth_token_row *row)
{
	struct token_check *t = arg;
	struct http_req *req = t->req;
	const char *why = NULL;

	if (err) {
		api_reply_db_error(req, err);
		token_check_free(t);
		return;
	}
	/* Hashed whether the id exists or not, so that the time taken does not
	 * tell; one answer for an unknown id and a wrong secret. */
	static const unsigned char no_hash[TOKEN_HASH_LEN];
	bool matches = token_secret_matches(t->secret, t->secret_len, row ? row->hash : no_hash,
					    TOKEN_HASH_LEN);
	if (!row || !matches)
		why = "unknown token";
	else if (row->revoked)
		why = "the token was revoked";
	else if (row->expired)
		why = "the token has expired";
	if (why) {
		reply_unauthorized(req, t->g->api->auth, true, why);
		token_check_free(t);
		return;
	}
	struct api_caller *caller = xcalloc(1, sizeof(*caller));

	storage_auth_token_touch(t->g->api->db, row->id);
	caller->actor = xasprintf("token:%s", row->id);
	caller->tenant = xstrdup(row->tenant);
	caller->role = row->role;
	authorize(req, t->g, caller);
	token_check_free(t);
}

/* --- OpenID Connect ------------------------------------------------------------------------ */

static bool printable(const char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			return false;
	return true;
}

struct jwt_check {
	struct http_req *req;
	const struct guard *g;
};

static void jwt_done_cb(void *arg, enum jwt_status status, const struct jwt_identity *id,
			const char *error)
{
	struct jwt_check *j = arg;
	struct http_req *req = j->req;
	const struct guard *g = j->g;

	free(j);
	if (status == JWT_UNAVAILABLE) {
		log_warn("the identity provider's keys cannot be had: %s", error ? error : "");
		http_reply_error(req, 503, "unavailable", NULL,
				 "the identity provider's keys cannot be fetched; try again later");
		return;
	}
	if (status != JWT_OK) {
		reply_unauthorized(req, g->api->auth, true, error ? error : "refused");
		return;
	}
	if (!spec_is_dns_label(id->tenant, 40)) {
		reply_unauthorized(req, g->api->auth, true,
				   "the tenant claim is not a tenant name");
		return;
	}
	/* The subject goes into the jobs' history: as short and as plain as an
	 * X-Esaas-Actor header. */
	if (id->subject && (strlen(id->subject) > 128 || !printable(id->subject))) {
		reply_unauthorized(req, g->api->auth, true,
				   "the sub claim is longer than 128 characters or "
				   "not printable ASCII");
		return;
	}
	struct api_caller *caller = xcalloc(1, sizeof(*caller));

	caller->actor = xasprintf("oidc:%s", id->subject ? id->subject : "(no subject)");
	caller->tenant = xstrdup(id->tenant);
	caller->role = id->role;
	authorize(req, g, caller);
}

/* --- the guard -------------------------------------------------------------------------------- */

static void guard_cb(struct http_req *req, void *arg)
{
	const struct guard *g = arg;
	struct api *api = g->api;
	const char *h = http_req_header(req, "Authorization");

	if (g->access == ACCESS_PUBLIC) {
		guard_pass(g, req);
		return;
	}
	if (!h && api->test_caller) {
		struct api_caller *caller = xcalloc(1, sizeof(*caller));

		caller->actor = xstrdup(api->test_caller->actor);
		caller->tenant = xstrdup(api->test_caller->tenant);
		caller->role = (enum token_role)api->test_caller->role;
		authorize(req, g, caller);
		return;
	}
	if (!h || !*h) {
		reply_unauthorized(req, NULL, false, NULL);
		return;
	}
	if (failures_refuse(api->auth, req))
		return;
	if (strncasecmp(h, "Bearer ", 7) != 0) {
		reply_unauthorized(req, api->auth, true, "expected the Bearer scheme");
		return;
	}
	const char *token = h + 7;

	while (*token == ' ')
		token++;
	if (strncmp(token, TOKEN_PREFIX, strlen(TOKEN_PREFIX)) == 0) {
		struct token_check *t = xcalloc(1, sizeof(*t));
		const char *secret;

		if (!token_parse(token, t->id, &secret, &t->secret_len) ||
		    t->secret_len > TOKEN_SECRET_LEN) {
			token_check_free(t);
			reply_unauthorized(req, api->auth, true, "malformed esaas token");
			return;
		}
		if (!api_have_database(req, api)) {
			token_check_free(t);
			return;
		}
		memcpy(t->secret, secret, t->secret_len);
		t->req = req;
		t->g = g;
		storage_auth_token_get(api->db, t->id, token_row_cb, t);
		return;
	}
	if (!api->auth || !api->auth->jwks) {
		reply_unauthorized(
			req, api->auth, true,
			"not an esaas API token, and no identity provider is configured");
		return;
	}
	struct jwt_check *j = xmalloc(sizeof(*j));

	j->req = req;
	j->g = g;
	/* The callback runs now or once the keys are fetched; it frees j. */
	(void)jwks_verify(api->auth->jwks, token, jwt_done_cb, j);
}

static void guard_add(struct api *api, const char *method, const char *pattern,
		      enum api_access access, struct guard *g)
{
	struct guard **tail = &api->guards;

	g->api = api;
	g->access = access;
	g->method = xstrdup(method);
	g->pattern = xstrdup(pattern);
	while (*tail)
		tail = &(*tail)->next;
	*tail = g;
	http_server_route(api->http, method, pattern, guard_cb, g);
}

void api_route(struct api *api, const char *method, const char *pattern, enum api_access access,
	       http_handler_fn handler)
{
	struct guard *g = xcalloc(1, sizeof(*g));

	g->handler = handler;
	guard_add(api, method, pattern, access, g);
}

void api_route_with(struct api *api, const char *method, const char *pattern,
		    enum api_access access, api_handler_with_fn handler, const void *data)
{
	struct guard *g = xcalloc(1, sizeof(*g));

	g->handler_with = handler;
	g->data = data;
	guard_add(api, method, pattern, access, g);
}

json_t *api_routes_json(const struct api *api)
{
	json_t *list = json_array();

	for (const struct guard *g = api->guards; g; g = g->next)
		json_array_append_new(list,
				      json_pack("{s:s, s:s, s:s}", "method", g->method, "path",
						g->pattern, "access", api_access_name(g->access)));
	return list;
}

void api_guards_free(struct api *api)
{
	struct guard *g = api->guards;

	while (g) {
		struct guard *next = g->next;

		free(g->method);
		free(g->pattern);
		free(g);
		g = next;
	}
	api->guards = NULL;
}

struct api_auth *api_auth_new(struct event_base *base, const struct config *cfg, struct httpc *http)
{
	struct api_auth *auth = xcalloc(1, sizeof(*auth));

	auth->platform_tenants =
		cfg->auth_platform_tenants ? xstrdup(cfg->auth_platform_tenants) : NULL;
	auth->failures_max = cfg->auth_failures_max;
	auth->failures_window_ms = (int64_t)cfg->auth_failures_window_s * 1000;

	if (cfg->oidc_issuer && cfg->oidc_audience && cfg->oidc_jwks_url && http) {
		struct jwt_config jc = {
			.issuer = cfg->oidc_issuer,
			.audience = cfg->oidc_audience,
			.leeway_s = cfg->oidc_leeway_s,
			.tenant_claim = cfg->oidc_tenant_claim,
			.role_claim = cfg->oidc_role_claim,
			.role_map = cfg->oidc_role_map,
			.jwks_url = cfg->oidc_jwks_url,
			.refresh_min_s = cfg->oidc_refresh_min_s,
			.base = base,
			.refresh_s = cfg->oidc_refresh_s,
		};

		auth->jwks = jwks_new(http, &jc);
		jwks_refresh(auth->jwks);
		log_info("OpenID Connect tokens of %s accepted", cfg->oidc_issuer);
		if (cfg->oidc_client_id) {
			auth->portal_issuer = xstrdup(cfg->oidc_issuer);
			auth->portal_client_id = xstrdup(cfg->oidc_client_id);
		}
	} else if (cfg->oidc_issuer || cfg->oidc_audience || cfg->oidc_jwks_url) {
		log_warn("oidc: issuer, audience and jwks_url are all needed; OpenID Connect "
			 "tokens are refused");
	}
	return auth;
}

void api_auth_free(struct api_auth *auth)
{
	if (!auth)
		return;
	jwks_free(auth->jwks);
	failures_free(auth);
	free(auth->platform_tenants);
	free(auth->portal_issuer);
	free(auth->portal_client_id);
	free(auth);
}

/* --- GET /api/v1 and /api/v1/whoami ----------------------------------------------------- */

static void index_cb(struct http_req *req, void *arg)
{
	struct api *api = arg;

	http_reply_json(req, 200, json_pack("{s:o}", "routes", api_routes_json(api)));
}

static void whoami_cb(struct http_req *req, void *arg)
{
	const struct api_caller *c = api_caller(req);

	(void)arg;
	http_reply_json(req, 200,
			json_pack("{s:s, s:s, s:s}", "actor", c->actor, "tenant", c->tenant, "role",
				  token_role_name(c->role)));
}

/*
 * GET /api/v1/auth, without a credential: how the portal may sign in.
 * {"oidc": {"issuer", "client_id"}} when OpenID Connect is on and
 * oidc.client_id names the portal's client, else {"oidc": null} (API
 * tokens only).
 */
static void auth_info_cb(struct http_req *req, void *arg)
{
	const struct api_auth *auth = ((struct api *)arg)->auth;
	json_t *oidc = json_null();

	if (auth && auth->portal_issuer)
		oidc = json_pack("{s:s, s:s}", "issuer", auth->portal_issuer, "client_id",
				 auth->portal_client_id);
	http_reply_json(req, 200, json_pack("{s:o}", "oidc", oidc));
}

/*
 * GET /api/v1/me: who the caller is and what its role may do, rule by rule
 * ("none", "own" tenant, "all" tenants), so that a page offers only the
 * actions that will not end in 403.
 */
static void me_cb(struct http_req *req, void *arg)
{
	static const char *const reach_names[] = {"none", "own", "all"};
	const struct api_caller *c = api_caller(req);
	json_t *may = json_object();

	(void)arg;
	for (int a = ACCESS_READ; a < ACCESS_COUNT; a++)
		json_object_set_new(may, access_names[a],
				    json_string(reach_names[api_role_reach(c->role, a)]));
	http_reply_json(req, 200,
			json_pack("{s:s, s:s, s:s, s:o}", "actor", c->actor, "tenant", c->tenant,
				  "role", token_role_name(c->role), "may", may));
}

/* --- tokens -------------------------------------------------------------------------------- */

#define TOKEN_EXPIRES_MAX_S (10LL * 366 * 24 * 3600)

struct token_call {
	struct http_req *req;
	struct api *api;
	struct token_new tok;
	int tries;
	struct auth_token_create create;
	char *tenant, *description, *actor;
};

static void token_call_free(struct token_call *c)
{
	token_new_clear(&c->tok);
	free(c->tenant);
	free(c->description);
	free(c->actor);
	free(c);
}

static void token_created_cb(void *arg, const struct db_error *err, json_t *token)
{
	struct token_call *c = arg;

	if (err && err->kind == DB_ERR_QUERY &&
	    strcmp(err->sqlstate, AUTH_SQLSTATE_ID_TAKEN) == 0 && ++c->tries < 3) {
		/* Twelve random hex digits met an existing id: draw again. */
		token_new_clear(&c->tok);
		if (token_create(&c->tok)) {
			c->create.id = c->tok.id;
			c->create.hash = c->tok.hash;
			storage_auth_token_create(c->api->db, &c->create, token_created_cb, c);
			return;
		}
	}
	if (err && err->kind == DB_ERR_QUERY &&
	    strcmp(err->sqlstate, AUTH_SQLSTATE_NO_TENANT) == 0) {
		http_reply_error(c->req, 422, "invalid", "tenant", "tenant: no tenant named %s",
				 c->tenant);
	} else if (err) {
		api_reply_db_error(c->req, err);
	} else {
		json_t *out = json_deep_copy(token);

		/* The only time the secret is shown. */
		json_object_set_new(out, "token", json_string(c->tok.token));
		log_info("token %s created for tenant %s, role %s, by %s", c->tok.id, c->tenant,
			 token_role_name(c->create.role), c->actor);
		http_reply_json(c->req, 201, out);
	}
	token_call_free(c);
}

static void tokens_create_cb(struct http_req *req, void *arg)
{
	static const char *const fields[] = {"tenant", "role", "description", "expires_in_seconds",
					     NULL};
	struct api *api = arg;
	struct http_error err = {0};
	json_t *body = http_req_json(req, false, &err);
	const char *tenant, *role, *description;
	json_t *expires;
	enum token_role r;
	char *actor = NULL;

	if (!body || !http_json_check_fields(body, fields, &err)) {
		json_decref(body);
		http_reply_failure(req, &err);
		return;
	}
	tenant = json_str(body, "tenant");
	role = json_str(body, "role");
	description = json_str(body, "description");
	expires = json_object_get(body, "expires_in_seconds");
	if (!tenant || !spec_is_dns_label(tenant, 40))
		http_error_set(&err, 422, "invalid", "tenant",
			       "tenant: expected a tenant's name (a DNS-1123 label of at most 40 "
			       "characters)");
	else if (!role || !token_role_parse(role, &r))
		http_error_set(&err, 422, "invalid", "role",
			       "role: expected viewer, member, oncall or admin");
	else if (api_role_is_platform(r) &&
		 !config_tenant_in_list(api->auth->platform_tenants, tenant))
		http_error_set(&err, 422, "invalid", "role",
			       "role: %s is a platform role, for the platform's tenants only "
			       "(auth.platform_tenants: %s); %s may have viewer or member",
			       role,
			       api->auth->platform_tenants ? api->auth->platform_tenants : "none",
			       tenant);
	else if (json_object_get(body, "description") &&
		 (!description || http_utf8_length(description) > 200))
		http_error_set(&err, 422, "invalid", "description",
			       "description: expected a string of at most 200 characters");
	else if (expires && !json_is_null(expires) &&
		 (!json_is_integer(expires) || json_integer_value(expires) < 60 ||
		  json_integer_value(expires) > TOKEN_EXPIRES_MAX_S))
		http_error_set(&err, 422, "invalid", "expires_in_seconds",
			       "expires_in_seconds: expected whole seconds from 60 to %lld (ten "
			       "years), or null for a token that does not expire",
			       TOKEN_EXPIRES_MAX_S);
	if (!err.status && !api_request_actor(req, &actor, &err))
		free(actor);
	if (err.status) {
		json_decref(body);
		http_reply_failure(req, &err);
		return;
	}
	struct token_call *c = xcalloc(1, sizeof(*c));

	if (!token_create(&c->tok)) {
		free(c);
		free(actor);
		json_decref(body);
		http_reply_error(req, 500, "internal", NULL,
				 "cannot draw a random token; the details are in the server log");
		return;
	}
	c->req = req;
	c->api = api;
	c->tenant = xstrdup(tenant);
	c->description = description ? xstrdup(description) : NULL;
	c->actor = actor;
	c->create = (struct auth_token_create){
		.id = c->tok.id,
		.hash = c->tok.hash,
		.tenant = c->tenant,
		.role = r,
		.description = c->description,
		.created_by = c->actor,
		.expires_at = expires && json_is_integer(expires)
				      ? (int64_t)time(NULL) + json_integer_value(expires)
				      : 0,
	};
	json_decref(body);
	storage_auth_token_create(api->db, &c->create, token_created_cb, c);
}

static void tokens_list_cb(struct http_req *req, void *arg)
{
	struct api *api = arg;

	if (!api_query_tenant_only(req))
		return;
	storage_auth_token_list(api->db, api_tenant_filter(req), api_reply_json_cb, req);
}

static void token_revoked_cb(void *arg, const struct db_error *err, enum auth_revoke_result result,
			     json_t *token)
{
	struct http_req *req = arg;

	if (err)
		api_reply_db_error(req, err);
	else if (result == AUTH_REVOKE_NOT_FOUND)
		http_reply_error(req, 404, "not_found", NULL, "no token %.32s",
				 http_req_param(req, "id"));
	else
		http_reply_json(req, 200, json_incref(token));
}

static void tokens_revoke_cb(struct http_req *req, void *arg)
{
	struct api *api = arg;
	const char *id = http_req_param(req, "id");
	struct http_error err = {0};
	char *actor = NULL;

	if (!id || strlen(id) != TOKEN_ID_LEN || strspn(id, "0123456789abcdef") != TOKEN_ID_LEN) {
		http_reply_error(req, 404, "not_found", NULL, "no token %.32s", id ? id : "");
		return;
	}
	if (!api_request_actor(req, &actor, &err)) {
		http_reply_failure(req, &err);
		return;
	}
	storage_auth_token_revoke(api->db, api_tenant_filter(req), id, actor, token_revoked_cb,
				  req);
	free(actor);
}

/* --- tenants and quotas ---------------------------------------------------------------------- */

static void tenant_reply_cb(void *arg, const struct db_error *err, json_t *tenant)
{
	struct http_req *req = arg;

	if (err)
		api_reply_db_error(req, err);
	else if (!tenant)
		http_reply_error(req, 404, "not_found", NULL, "no tenant %.64s",
				 http_req_param(req, "tenant"));
	else
		http_reply_json(req, 200, json_incref(tenant));
}

static void tenants_list_cb(struct http_req *req, void *arg)
{
	struct api *api = arg;

	storage_tenant_list(api->db, tenant_reply_cb, req);
}

static void tenants_get_cb(struct http_req *req, void *arg)
{
	struct api *api = arg;

	storage_tenant_get(api->db, http_req_param(req, "tenant"), tenant_reply_cb, req);
}

static void tenant_put_done_cb(void *arg, const struct db_error *err, bool created, json_t *tenant)
{
	struct http_req *req = arg;

	if (err)
		api_reply_db_error(req, err);
	else
		http_reply_json(req, created ? 201 : 200, json_incref(tenant));
}

static void tenants_put_cb(struct http_req *req, void *arg)
{
	struct api *api = arg;
	struct http_error err = {0};
	json_t *body = http_req_json(req, true, &err);
	static const char *const fields[] = {NULL};
	char *actor = NULL;

	if (!body || !http_json_check_fields(body, fields, &err) ||
	    !api_request_actor(req, &actor, &err)) {
		json_decref(body);
		http_reply_failure(req, &err);
		return;
	}
	json_decref(body);
	storage_tenant_put(api->db, http_req_param(req, "tenant"), actor, tenant_put_done_cb, req);
	free(actor);
}

/* One limit of a quota: null (no limit), a count, or a quantity. */
static bool quota_limit(json_t *body, const char *field, int kind, int64_t *out,
			struct http_error *err)
{
	json_t *v = json_object_get(body, field);
	const char *s = json_string_value(v);

	*out = -1;
	if (!v || json_is_null(v))
		return true;
	if (kind == 0) {
		if (json_is_integer(v) && json_integer_value(v) >= 0 &&
		    json_integer_value(v) <= 1000000) {
			*out = json_integer_value(v);
			return true;
		}
		return http_error_set(err, 422, "invalid", field,
				      "%s: expected a whole number from 0 to 1000000, or null for "
				      "no limit",
				      field);
	}
	if (s && (kind == 1 ? spec_parse_cpu(s, out) : spec_parse_bytes(s, out)))
		return true;
	*out = -1;
	return http_error_set(err, 422, "invalid", field,
			      "%s: expected a Kubernetes quantity such as %s, or null for no limit",
			      field, kind == 1 ? "\"64\" or \"500m\"" : "\"256Gi\"");
}

static void quota_put_cb(struct http_req *req, void *arg)
{
	static const char *const fields[] = {"clusters", "nodes", "cpu", "memory", "disk", NULL};
	struct api *api = arg;
	struct http_error err = {0};
	json_t *body = http_req_json(req, false, &err);
	struct tenant_quota q;
	char *actor = NULL;

	if (!body || !http_json_check_fields(body, fields, &err) ||
	    !quota_limit(body, "clusters", 0, &q.clusters, &err) ||
	    !quota_limit(body, "nodes", 0, &q.nodes, &err) ||
	    !quota_limit(body, "cpu", 1, &q.cpu_millis, &err) ||
	    !quota_limit(body, "memory", 2, &q.memory_bytes, &err) ||
	    !quota_limit(body, "disk", 2, &q.disk_bytes, &err) ||
	    !api_request_actor(req, &actor, &err)) {
		json_decref(body);
		http_reply_failure(req, &err);
		return;
	}
	json_decref(body);
	log_info("quota of tenant %s set by %s", http_req_param(req, "tenant"), actor);
	storage_tenant_set_quota(api->db, http_req_param(req, "tenant"), &q, actor, tenant_reply_cb,
				 req);
	free(actor);
}

void api_auth_add_routes(struct api *api)
{
	api_route(api, "GET", "/api/v1", ACCESS_ANY, index_cb);
	api_route(api, "GET", "/api/v1/whoami", ACCESS_ANY, whoami_cb);
	api_route(api, "GET", "/api/v1/me", ACCESS_ANY, me_cb);
	api_route(api, "GET", "/api/v1/auth", ACCESS_PUBLIC, auth_info_cb);
	api_route(api, "POST", "/api/v1/tokens", ACCESS_ADMIN, tokens_create_cb);
	api_route(api, "GET", "/api/v1/tokens", ACCESS_ADMIN, tokens_list_cb);
	api_route(api, "DELETE", "/api/v1/tokens/{id}", ACCESS_ADMIN, tokens_revoke_cb);
	api_route(api, "GET", "/api/v1/tenants", ACCESS_READ_ALL, tenants_list_cb);
	api_route(api, "PUT", "/api/v1/tenants/{tenant}", ACCESS_ADMIN, tenants_put_cb);
	api_route(api, "GET", "/api/v1/tenants/{tenant}", ACCESS_READ, tenants_get_cb);
	api_route(api, "GET", "/api/v1/tenants/{tenant}/usage", ACCESS_READ, tenants_get_cb);
	api_route(api, "PUT", "/api/v1/tenants/{tenant}/quota", ACCESS_ADMIN, quota_put_cb);
}
