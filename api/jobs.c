/*
 * The job endpoints: list, get, events, the on-call actions (cancel,
 * replay), the workflows as graphs and (test builds) a generic submit.
 * Each handler checks the request, starts a query and replies from its
 * callback; the callbacks touch only their request and what they were
 * given, never struct api, which may be gone by then.  The workflow
 * registry they may be given lives as long as the process's main().
 */
#include "api/auth.h"
#include "common/json.h"
#include "api/routes.h"
#include "common/log.h"
#include "common/util.h"
#include "engine/registry.h"
#include "kube/spec.h"
#include "storage/tenants.h"

#include <stdlib.h>
#include <string.h>

static const char *const job_statuses[] = {
	"queued",    "running", "waiting",   "cancelling", "paused",
	"succeeded", "failed",	"cancelled", NULL,
};

#define FILTER_DEFAULT_LIMIT 50
#define FILTER_MAX_LIMIT 500
/* A job's history comes in pages: a wait's repeated polls are one event. */
#define EVENTS_DEFAULT_LIMIT 100
#define EVENTS_MAX_LIMIT 1000
#define NAME_MAX_CHARS 63
#define REASON_MAX_CHARS 1000
#define STATE_NAME_MAX_CHARS 64
#define ACTOR_MAX_CHARS 128
#define IDEMPOTENCY_KEY_MAX_CHARS 255

/* --- Checks. --- */

bool api_parse_job_id(const char *s, int64_t *id)
{
	return s && s[0] >= '0' && s[0] <= '9' && parse_int64(s, 1, INT64_MAX, id);
}

static bool printable_ascii(const char *s, size_t min, size_t max)
{
	size_t len = strlen(s);

	if (len < min || len > max)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	}
	return true;
}

bool api_idempotency_key_valid(const char *s)
{
	return printable_ascii(s, 1, IDEMPOTENCY_KEY_MAX_CHARS);
}

bool api_check_idempotency_key(const char *key, struct http_error *err)
{
	if (!key || api_idempotency_key_valid(key))
		return true;
	return http_error_set(err, 422, "invalid", "Idempotency-Key",
			      "Idempotency-Key must be 1 to %d printable ASCII characters",
			      IDEMPOTENCY_KEY_MAX_CHARS);
}

bool api_actor(const char *header, const char *peer, char **actor, struct http_error *err)
{
	if (!header) {
		/* Until authentication exists, the address is all we know. */
		*actor = xasprintf("anonymous@%s", peer);
		return true;
	}
	if (!printable_ascii(header, 1, ACTOR_MAX_CHARS))
		return http_error_set(err, 422, "invalid", "X-Esaas-Actor",
				      "X-Esaas-Actor must be 1 to %d printable ASCII characters",
				      ACTOR_MAX_CHARS);
	*actor = xstrdup(header);
	return true;
}

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++) {
		if (strcmp(s, *list) == 0)
			return true;
	}
	return false;
}

static bool check_name(const char *value, const char *param, struct http_error *err)
{
	size_t len = strlen(value);

	if (len < 1 || len > NAME_MAX_CHARS)
		return http_error_set(err, 422, "invalid", param, "%s must be 1 to %d characters",
				      param, NAME_MAX_CHARS);
	return true;
}

bool api_jobs_parse_filter(const struct http_query *q, struct job_filter *f, struct http_error *err)
{
	static const char *const known[] = {"status", "kind",	"cluster", "limit",
					    "cursor", "tenant", NULL};
	const char *v;

	memset(f, 0, sizeof(*f));
	f->limit = FILTER_DEFAULT_LIMIT;
	if (!http_query_check(q, known, err))
		return false;

	if ((v = http_query_get(q, "status"))) {
		if (!in_list(v, job_statuses))
			return http_error_set(
				err, 422, "invalid", "status",
				"status \"%.64s\" is not one of queued, running, waiting, "
				"cancelling, paused, succeeded, failed, cancelled",
				v);
		f->status = v;
	}
	if ((v = http_query_get(q, "kind"))) {
		if (!check_name(v, "kind", err))
			return false;
		f->kind = v;
	}
	if ((v = http_query_get(q, "cluster"))) {
		if (!check_name(v, "cluster", err))
			return false;
		f->cluster = v;
	}
	if ((v = http_query_get(q, "limit"))) {
		if (!(v[0] >= '0' && v[0] <= '9') || !parse_int(v, 1, FILTER_MAX_LIMIT, &f->limit))
			return http_error_set(err, 422, "invalid", "limit",
					      "limit must be an integer from 1 to %d",
					      FILTER_MAX_LIMIT);
	}
	if ((v = http_query_get(q, "cursor"))) {
		if (!api_parse_job_id(v, &f->cursor))
			return http_error_set(err, 422, "invalid", "cursor",
					      "cursor must be a positive integer: the next_cursor "
					      "of the previous page");
	}
	return true;
}

/*
 * The body's path of the field a workflow's check complains about: it names
 * a member of params ("replicas"), or sometimes the path itself.
 */
static char *params_field(const char *field)
{
	if (!field)
		return xstrdup("params");
	if (strcmp(field, "params") == 0 || strncmp(field, "params.", 7) == 0)
		return xstrdup(field);
	return xasprintf("params.%s", field);
}

/* body's member key, a string; NULL with err set when missing or not one. */
static const char *required_string(json_t *body, const char *key, struct http_error *err)
{
	json_t *v = json_object_get(body, key);

	if (!v)
		http_error_set(err, 422, "invalid", key, "%s is required", key);
	else if (!json_is_string(v))
		http_error_set(err, 422, "invalid", key, "%s must be a string", key);
	return json_string_value(v);
}

bool api_jobs_check_submit(json_t *body, const struct wf_registry *reg, struct api_submit *out,
			   struct http_error *err)
{
	static const char *const fields[] = {"kind", "cluster", "params", NULL};
	json_t *params;

	memset(out, 0, sizeof(*out));
	if (!http_json_check_fields(body, fields, err))
		return false;

	if (!(out->kind = required_string(body, "kind", err)))
		return false;
	out->wf = reg ? wf_registry_find(reg, out->kind) : NULL;
	if (!out->wf) {
		char *known = api_known_kinds(reg);

		http_error_set(err, 422, "invalid", "kind",
			       "unknown kind \"%.64s\"; known kinds: %s", out->kind,
			       known[0] ? known : "none");
		free(known);
		return false;
	}

	if (!(out->cluster = required_string(body, "cluster", err)))
		return false;
	if (!spec_is_dns_label(out->cluster, SPEC_DNS_LABEL_MAX))
		return http_error_set(
			err, 422, "invalid", "cluster",
			"cluster \"%.64s\" is not a DNS-1123 label: 1 to 63 lowercase "
			"letters, digits or '-', starting and ending with a letter "
			"or digit",
			out->cluster);

	params = json_object_get(body, "params");
	if (!params || json_is_null(params)) {
		params = json_object();
		json_object_set_new(body, "params", params);
	}
	if (!json_is_object(params))
		return http_error_set(err, 422, "invalid", "params", "params must be an object");
	out->params = params;

	if (out->wf->nstates < 1)
		return http_error_set(err, 500, "internal", NULL, "workflow %s has no states",
				      out->kind);

	if (out->wf->validate) {
		const char *field = NULL;
		char msg[512] = "";

		if (!out->wf->validate(params, &field, msg, sizeof(msg))) {
			char *path = params_field(field);

			http_error_set(err, 422, "invalid", path, "%s",
				       msg[0] ? msg : "the params are not valid for this kind");
			free(path);
			return false;
		}
	}
	return true;
}

static bool blank(const char *s)
{
	for (; *s; s++) {
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			return false;
	}
	return true;
}

static bool utf8_valid(const char *s)
{
	char *clean = utf8_scrub(s);
	bool same = strcmp(clean, s) == 0;

	free(clean);
	return same;
}

/* Every on-call action says why: the reason goes into the job's history. */
static bool check_reason(json_t *body, const char **reason, struct http_error *err)
{
	json_t *r = json_object_get(body, "reason");
	const char *s;

	*reason = NULL;
	if (!r || json_is_null(r))
		return http_error_set(err, 422, "invalid", "reason",
				      "reason is required: say why, for the job's history");
	if (!json_is_string(r))
		return http_error_set(err, 422, "invalid", "reason", "reason must be a string");
	s = json_string_value(r);
	if (blank(s))
		return http_error_set(err, 422, "invalid", "reason", "reason must not be empty");
	if (!utf8_valid(s))
		return http_error_set(err, 422, "invalid", "reason", "reason must be valid UTF-8");
	if (http_utf8_length(s) > REASON_MAX_CHARS)
		return http_error_set(err, 422, "invalid", "reason",
				      "reason must be at most %d characters", REASON_MAX_CHARS);
	*reason = s;
	return true;
}

bool api_jobs_check_cancel(json_t *body, const char **reason, struct http_error *err)
{
	static const char *const fields[] = {"reason", NULL};

	*reason = NULL;
	if (!http_json_check_fields(body, fields, err))
		return false;
	return check_reason(body, reason, err);
}

bool api_jobs_check_replay(json_t *body, const char **from_state, const char **reason,
			   struct http_error *err)
{
	static const char *const fields[] = {"from_state", "reason", NULL};
	json_t *f;

	*from_state = NULL;
	*reason = NULL;
	if (!http_json_check_fields(body, fields, err))
		return false;
	f = json_object_get(body, "from_state");
	if (f && !json_is_null(f)) {
		size_t len;

		if (!json_is_string(f))
			return http_error_set(
				err, 422, "invalid", "from_state",
				"from_state must be a string: the state to replay from");
		len = http_utf8_length(json_string_value(f));
		if (len < 1 || len > STATE_NAME_MAX_CHARS)
			return http_error_set(
				err, 422, "invalid", "from_state",
				"from_state must be a state name of 1 to %d characters",
				STATE_NAME_MAX_CHARS);
		*from_state = json_string_value(f);
	}
	return check_reason(body, reason, err);
}

/* "a, b, c" of an array of strings; "none" when empty. */
static char *states_text(json_t *states)
{
	size_t len = 5, i;
	json_t *v;

	json_array_foreach (states, i, v)
		len += strlen(json_string_value(v)) + 2;

	char *out = xmalloc(len);
	size_t used = 0;

	out[0] = '\0';
	json_array_foreach (states, i, v)
		used += (size_t)snprintf(out + used, len - used, "%s%s", i ? ", " : "",
					 json_string_value(v));
	if (!used)
		snprintf(out, len, "none");
	return out;
}

/* --- Replies. --- */

void api_reply_db_error(struct http_req *req, const struct db_error *err)
{
	char msg[512], measure[32];

	if (storage_quota_refusal(err, msg, sizeof(msg), measure, sizeof(measure))) {
		http_reply_error(req, 429, "quota_exceeded", NULL, "%s", msg);
		return;
	}
	if (err->kind == DB_ERR_QUERY && strcmp(err->sqlstate, "23503") == 0 &&
	    strstr(err->message, "tenant")) {
		/* A tenant that an identity provider named, that no admin created. */
		http_reply_error(req, 403, "forbidden", NULL,
				 "the tenant does not exist yet: an admin creates it with "
				 "PUT /api/v1/tenants/{tenant}");
		return;
	}
	switch (err->kind) {
	case DB_ERR_UNAVAILABLE:
		log_warn("%s %s: database unavailable: %s", http_req_method(req),
			 http_req_path(req), err->message);
		http_reply_error(req, 503, "unavailable", NULL,
				 "the database is unavailable; try again later");
		return;
	case DB_ERR_BUSY:
		/* Shed, not queued: nothing ran.  Logged at debug, since a flood
		 * would otherwise write a line per request. */
		log_debug("%s %s from %s: %s", http_req_method(req), http_req_path(req),
			  http_req_peer(req), err->message);
		http_req_add_header(req, "Retry-After", "1");
		http_reply_error(req, 503, "unavailable", NULL,
				 "the API's database queue is full; try again in a second");
		return;
	case DB_ERR_CONNECTION:
		log_warn("%s %s: database connection lost: %s", http_req_method(req),
			 http_req_path(req), err->message);
		http_reply_error(req, 503, "unavailable", NULL,
				 "the database connection was lost during the request; it may or "
				 "may not have taken effect");
		return;
	case DB_OK:
	case DB_ERR_QUERY:
	default:
		log_error("%s %s: query failed: %s (SQLSTATE %s)", http_req_method(req),
			  http_req_path(req), err->message, err->sqlstate ? err->sqlstate : "");
		http_reply_error(req, 500, "internal", NULL,
				 "internal error; the details are in the server log");
		return;
	}
}

static int64_t job_id_of(json_t *job)
{
	return json_integer_value(json_object_get(job, "id"));
}

/* A mutation's answer: the job, and where to follow it. */
void api_reply_job_accepted(struct http_req *req, int status, json_t *job)
{
	char *location = xasprintf("/api/v1/jobs/%lld", (long long)job_id_of(job));

	http_req_add_header(req, "Location", location);
	free(location);
	http_reply_json(req, status, json_incref(job));
}

void api_reply_job_accepted_warning(struct http_req *req, int status, json_t *job, json_t *warnings)
{
	if (!json_array_size(warnings)) {
		api_reply_job_accepted(req, status, job);
		return;
	}
	json_t *answer = json_copy(job);
	json_object_set(answer, "warnings", warnings);
	api_reply_job_accepted(req, status, answer);
	json_decref(answer);
}

static void reply_not_found(struct http_req *req, int64_t id)
{
	http_reply_error(req, 404, "not_found", NULL, "job %lld not found", (long long)id);
}

/* Parse {id}; a malformed id names no job, so it is 404 like a missing one. */
static bool request_job_id(struct http_req *req, int64_t *id)
{
	const char *s = http_req_param(req, "id");

	if (api_parse_job_id(s, id))
		return true;
	http_reply_error(req, 404, "not_found", NULL, "job %.64s not found", s ? s : "");
	return false;
}

/* What a callback needs of its request. */
struct job_call {
	struct http_req *req;
	int64_t id;
	const struct wf_registry *reg; /* for the job's workflow; may be NULL */
};

static struct job_call *job_call_new(struct http_req *req, int64_t id)
{
	struct job_call *c = xcalloc(1, sizeof(*c));

	c->req = req;
	c->id = id;
	return c;
}

bool api_query_tenant_only(struct http_req *req)
{
	static const char *const known[] = {"tenant", NULL};
	struct http_error err = {0};

	if (http_query_check(http_req_query(req), known, &err))
		return true;
	http_reply_failure(req, &err);
	return false;
}

bool api_database_ok(const struct api *api, struct http_error *err)
{
	if (api->db)
		return true;
	return http_error_set(err, 503, "unavailable", NULL, "no database is configured");
}

bool api_have_database(struct http_req *req, const struct api *api)
{
	struct http_error err = {0};

	if (api_database_ok(api, &err))
		return true;
	http_reply_failure(req, &err);
	return false;
}

void api_reply_json_cb(void *arg, const struct db_error *err, json_t *json)
{
	struct http_req *req = arg;

	if (err)
		api_reply_db_error(req, err);
	else if (!json)
		http_reply_error(req, 500, "internal", NULL,
				 "internal error; the details are in the server log");
	else
		http_reply_json(req, 200, json_incref(json));
}

/* --- GET /api/v1/jobs --- */

static void jobs_list_cb(struct http_req *req, void *arg)
{
	struct api *api = arg;
	struct http_error err = {0};
	struct job_filter f;

	if (!api_jobs_parse_filter(http_req_query(req), &f, &err)) {
		http_reply_failure(req, &err);
		return;
	}
	f.tenant = api_tenant_filter(req);
	if (!api_have_database(req, api))
		return;
	storage_job_list(api->db, &f, api_reply_json_cb, req);
}

/* --- GET /api/v1/jobs/{id} --- */

static bool replayable_status(const char *status)
{
	return status && (strcmp(status, "failed") == 0 || strcmp(status, "cancelled") == 0);
}

static void get_done_cb(void *arg, const struct db_error *err, json_t *job)
{
	struct job_call *c = arg;

	if (err) {
		api_reply_db_error(c->req, err);
	} else if (!job) {
		reply_not_found(c->req, c->id);
	} else {
		/* Where on-call may replay from: what the viewer and esaasctl offer. */
		const char *kind = json_str(job, "kind");
		const struct workflow *wf = c->reg && kind ? wf_registry_find(c->reg, kind) : NULL;
		bool replayable = wf && replayable_status(json_str(job, "status"));
		json_t *out = json_copy(job);

		json_object_set_new(out, "replay_states",
				    replayable ? api_workflow_replay_states(wf) : json_array());
		http_reply_json(c->req, 200, out);
	}
	free(c);
}

/* A read of the job of the path's {id}: its call, or NULL after a reply. */
static struct job_call *job_read(struct http_req *req, const struct api *api)
{
	int64_t id;

	if (!request_job_id(req, &id) || !api_have_database(req, api))
		return NULL;
	return job_call_new(req, id);
}

static void jobs_get_cb(struct http_req *req, void *arg)
{
	struct api *api = arg;
	struct job_call *c = job_read(req, api);

	if (!c)
		return;
	c->reg = api->reg;
	storage_job_get(api->db, api_tenant_filter(req), c->id, get_done_cb, c);
}

/* --- GET /api/v1/jobs/{id}/events?after=&limit= --- */

bool api_events_parse_page(const struct http_query *q, int64_t *after, int *limit,
			   struct http_error *err)
{
	static const char *const known[] = {"after", "limit", "tenant", NULL};
	const char *v;

	*after = 0;
	*limit = EVENTS_DEFAULT_LIMIT;
	if (!http_query_check(q, known, err))
		return false;
	if ((v = http_query_get(q, "limit")) &&
	    (!(v[0] >= '0' && v[0] <= '9') || !parse_int(v, 1, EVENTS_MAX_LIMIT, limit)))
		return http_error_set(err, 422, "invalid", "limit",
				      "limit must be an integer from 1 to %d", EVENTS_MAX_LIMIT);
	if ((v = http_query_get(q, "after")) && !(v[0] == '0' && v[1] == '\0') &&
	    !api_parse_job_id(v, after))
		return http_error_set(err, 422, "invalid", "after",
				      "after must be an event id (0 or more): the next_after of "
				      "the previous page");
	return true;
}

struct events_call {
	struct http_req *req;
	int64_t id;
	int limit;
};

static void events_done_cb(void *arg, const struct db_error *err, json_t *page)
{
	struct events_call *c = arg;

	if (err) {
		api_reply_db_error(c->req, err);
	} else if (!page) {
		reply_not_found(c->req, c->id);
	} else {
		json_t *out = json_copy(page);
		json_t *after = json_object_get(page, "next_after");

		/* The next page's address, as the client would ask for it. */
		json_object_set_new(
			out, "next",
			json_is_integer(after)
				? json_sprintf("/api/v1/jobs/%lld/events?after=%lld&limit=%d",
					       (long long)c->id,
					       (long long)json_integer_value(after), c->limit)
				: json_null());
		http_reply_json(c->req, 200, out);
	}
	free(c);
}

static void jobs_events_cb(struct http_req *req, void *arg)
{
	struct api *api = arg;
	struct http_error err = {0};
	int64_t id, after;
	int limit;

	if (!request_job_id(req, &id))
		return;
	if (!api_events_parse_page(http_req_query(req), &after, &limit, &err)) {
		http_reply_failure(req, &err);
		return;
	}
	if (!api_have_database(req, api))
		return;
	struct events_call *c = xcalloc(1, sizeof(*c));
	c->req = req;
	c->id = id;
	c->limit = limit;
	storage_job_events(api->db, api_tenant_filter(req), id, after, limit, events_done_cb, c);
}

/* --- POST /api/v1/jobs/{id}/cancel --- */

static void cancel_done_cb(void *arg, const struct db_error *err, enum cancel_result result,
			   json_t *job)
{
	struct job_call *c = arg;
	const char *status = job ? json_str(job, "status") : NULL;

	if (err)
		api_reply_db_error(c->req, err);
	else if (result == CANCEL_DONE)
		api_reply_job_accepted(c->req, 200, job);
	else if (result == CANCEL_REQUESTED || result == CANCEL_ALREADY)
		/* Running jobs stop at their next state boundary: accepted, not done. */
		api_reply_job_accepted(c->req, 202, job);
	else if (result == CANCEL_REFUSED)
		http_reply_error(
			c->req, 409, "conflict", NULL,
			"job %lld is %s; only queued, running or waiting jobs can be cancelled",
			(long long)c->id, status ? status : "finished");
	else
		reply_not_found(c->req, c->id);
	free(c);
}

static void jobs_cancel_cb(struct http_req *req, void *arg)
{
	struct api *api = arg;
	struct http_error err = {0};
	const char *reason;
	char *actor = NULL;
	json_t *body = NULL;
	int64_t id;

	if (!request_job_id(req, &id))
		return;
	if (api_request_actor(req, &actor, &err) && (body = http_req_json(req, true, &err)) &&
	    api_jobs_check_cancel(body, &reason, &err) && api_database_ok(api, &err))
		storage_job_cancel(api->db, api_tenant_filter(req), id, actor, reason,
				   cancel_done_cb, job_call_new(req, id));
	else
		http_reply_failure(req, &err);
	free(actor);
	json_decref(body);
}

/* --- POST /api/v1/jobs/{id}/replay --- */

/*
 * Two steps: read the job to find its workflow (which states are its main
 * workflow, which may be replayed from), then replay it in one statement
 * that checks the status again under the row's lock.
 */
struct replay_call {
	struct http_req *req;
	int64_t id;
	struct db_pool *db;
	const struct wf_registry *reg;
	const struct workflow *wf; /* once the job is read */
	char *from_state;	   /* NULL: the default */
	char *actor;
	char *reason;
	char *tenant; /* the request's scope: NULL for every tenant */
};

static void replay_call_free(struct replay_call *c)
{
	char *owned[] = {c->tenant, c->from_state, c->actor, c->reason};

	for (size_t i = 0; i < ARRAY_SIZE(owned); i++)
		free(owned[i]);
	free(c);
}

static void reply_not_replayable(struct replay_call *c, const char *status)
{
	http_reply_error(c->req, 409, "conflict", NULL,
			 "job %lld is %s; only failed or cancelled jobs can be replayed",
			 (long long)c->id, status ? status : "in an unknown status");
}

/* 422 from_state, naming the states the workflow allows. */
static void reply_state_not_allowed(struct replay_call *c, const char *state, bool asked)
{
	json_t *allowed = api_workflow_replay_states(c->wf);
	char *list = states_text(allowed);

	if (json_array_size(allowed) == 0)
		http_reply_error(c->req, 422, "invalid", "from_state",
				 "workflow %s has no state a replay may start from", c->wf->kind);
	else if (asked)
		http_reply_error(
			c->req, 422, "invalid", "from_state",
			"from_state \"%s\" is not a state of workflow %s that a replay may "
			"start from; allowed: %s",
			state, c->wf->kind, list);
	else if (state)
		http_reply_error(
			c->req, 422, "invalid", "from_state",
			"job %lld stopped in %s, which is not a state of workflow %s that a "
			"replay may start from; give from_state, one of: %s",
			(long long)c->id, state, c->wf->kind, list);
	else
		http_reply_error(
			c->req, 422, "invalid", "from_state",
			"job %lld has no state to replay from by default; give from_state, "
			"one of: %s",
			(long long)c->id, list);
	free(list);
	json_decref(allowed);
}

static void replay_done_cb(void *arg, const struct db_error *err, enum replay_result result,
			   const char *from_state, json_t *job)
{
	struct replay_call *c = arg;

	if (err) {
		api_reply_db_error(c->req, err);
		goto out;
	}
	switch (result) {
	case REPLAY_DONE:
		api_reply_job_accepted(c->req, 202, job);
		break;
	case REPLAY_REFUSED:
		reply_not_replayable(c, json_str(job, "status"));
		break;
	case REPLAY_NOT_ALLOWED:
		reply_state_not_allowed(c, from_state, c->from_state != NULL);
		break;
	case REPLAY_CLUSTER_GONE:
		http_reply_error(c->req, 409, "conflict", NULL,
				 "job %lld acted on cluster %s, which has been deleted since: a "
				 "replay could act on the cluster that has its name now",
				 (long long)c->id,
				 json_str(job, "cluster") ? json_str(job, "cluster") : "?");
		break;
	case REPLAY_NOT_FOUND:
	default:
		reply_not_found(c->req, c->id);
		break;
	}
out:
	replay_call_free(c);
}

static void replay_read_cb(void *arg, const struct db_error *err, json_t *job)
{
	struct replay_call *c = arg;
	const char *status, *kind;

	if (err) {
		api_reply_db_error(c->req, err);
		goto failed;
	}
	if (!job) {
		reply_not_found(c->req, c->id);
		goto failed;
	}
	status = json_str(job, "status");
	kind = json_str(job, "kind");
	/* Answered here when it is plain; the replay itself checks again. */
	if (!replayable_status(status)) {
		reply_not_replayable(c, status);
		goto failed;
	}
	c->wf = kind ? wf_registry_find(c->reg, kind) : NULL;
	if (!c->wf) {
		http_reply_error(
			c->req, 409, "conflict", NULL,
			"job %lld is of kind %s, which this esaasd does not run; replay it "
			"through an esaasd that does",
			(long long)c->id, kind ? kind : "(none)");
		goto failed;
	}
	if (c->from_state && !workflow_replay_allowed(c->wf, c->from_state)) {
		reply_state_not_allowed(c, c->from_state, true);
		goto failed;
	}

	json_t *mains = api_workflow_main_states(c->wf);
	json_t *allowed = api_workflow_replay_states(c->wf);
	struct job_replay r = {
		.tenant = c->tenant,
		.id = c->id,
		.from_state = c->from_state,
		.main_states = mains,
		.allowed = allowed,
		.actor = c->actor,
		.reason = c->reason,
	};

	storage_job_replay(c->db, &r, replay_done_cb, c);
	json_decref(mains);
	json_decref(allowed);
	return;

failed:
	replay_call_free(c);
}

static void jobs_replay_cb(struct http_req *req, void *arg)
{
	struct api *api = arg;
	struct http_error err = {0};
	const char *from_state, *reason;
	char *actor = NULL;
	json_t *body = NULL;
	int64_t id;

	if (!request_job_id(req, &id))
		return;
	if (!api_request_actor(req, &actor, &err))
		goto failed;
	/* An empty body is a missing reason (422), not malformed JSON. */
	body = http_req_json(req, true, &err);
	if (!body || !api_jobs_check_replay(body, &from_state, &reason, &err))
		goto failed;
	if (!api_database_ok(api, &err))
		goto failed;
	if (!api->reg) {
		http_error_set(&err, 503, "unavailable", NULL, "no workflows are registered");
		goto failed;
	}

	struct replay_call *c = xcalloc(1, sizeof(*c));

	c->req = req;
	c->id = id;
	c->db = api->db;
	c->reg = api->reg;
	c->from_state = from_state ? xstrdup(from_state) : NULL;
	c->actor = actor;
	c->reason = xstrdup(reason);
	c->tenant = api_tenant_filter(req) ? xstrdup(api_tenant_filter(req)) : NULL;
	storage_job_get(api->db, c->tenant, id, replay_read_cb, c);
	json_decref(body);
	return;

failed:
	free(actor);
	json_decref(body);
	http_reply_failure(req, &err);
}

/* --- POST /api/v1/jobs (test builds) --- */

/* What the submit callback compares a stored job with. */
struct submit_call {
	struct http_req *req;
	char *kind;
	char *cluster;
	char *key;
	json_t *params;
};

static void submit_call_free(struct submit_call *c)
{
	free(c->kind);
	free(c->cluster);
	free(c->key);
	json_decref(c->params);
	free(c);
}

static bool same_submission(json_t *job, const struct submit_call *c)
{
	const char *kind = json_str(job, "kind");
	const char *cluster = json_str(job, "cluster");

	return kind && cluster && strcmp(kind, c->kind) == 0 && strcmp(cluster, c->cluster) == 0 &&
	       json_equal(json_object_get(job, "params"), c->params);
}

static void submit_done_cb(void *arg, const struct db_error *err, json_t *job, bool created)
{
	struct submit_call *c = arg;

	if (err) {
		api_reply_db_error(c->req, err);
	} else if (created || same_submission(job, c)) {
		/* A repeat gets the original answer: that is what the key is for. */
		api_reply_job_accepted(c->req, 202, job);
	} else {
		http_reply_error(
			c->req, 409, "idempotency_conflict", "Idempotency-Key",
			"Idempotency-Key \"%s\" was already used for job %lld with another "
			"kind, cluster or params",
			c->key ? c->key : "", (long long)job_id_of(job));
	}
	submit_call_free(c);
}

static void jobs_submit_cb(struct http_req *req, void *arg)
{
	struct api *api = arg;
	struct http_error err = {0};
	struct api_submit sub;
	const char *key = http_req_header(req, "Idempotency-Key");
	char *actor = NULL;
	json_t *body = NULL;

	if (!api_request_actor(req, &actor, &err))
		goto failed;
	if (!api_check_idempotency_key(key, &err))
		goto failed;
	body = http_req_json(req, false, &err);
	if (!body || !api_jobs_check_submit(body, api->reg, &sub, &err))
		goto failed;
	if (!api_database_ok(api, &err))
		goto failed;

	struct submit_call *c = xcalloc(1, sizeof(*c));
	c->req = req;
	c->kind = xstrdup(sub.kind);
	c->cluster = xstrdup(sub.cluster);
	c->key = key ? xstrdup(key) : NULL;
	c->params = json_incref(sub.params);

	struct job_submit js = {
		.tenant = api_tenant(req),
		.kind = sub.kind,
		.cluster = sub.cluster,
		.first_state = sub.wf->states[0].name,
		.params = sub.params,
		.actor = actor,
		.idempotency_key = key,
		/* Held to the windows as from the workflow's own endpoint. */
		.windowed = sub.wf->disruptive && sub.wf->disruptive(sub.params),
	};
	storage_job_submit(api->db, &js, submit_done_cb, c);
	goto out;

failed:
	http_reply_failure(req, &err);
out:
	free(actor);
	json_decref(body);
}

void api_jobs_add_routes(struct api *api)
{
	api_route(api, "GET", "/api/v1/jobs", ACCESS_READ, jobs_list_cb);
	if (api->generic_submit)
		api_route(api, "POST", "/api/v1/jobs", ACCESS_OPERATE, jobs_submit_cb);
	api_route(api, "GET", "/api/v1/jobs/{id}", ACCESS_READ, jobs_get_cb);
	api_route(api, "GET", "/api/v1/jobs/{id}/events", ACCESS_READ, jobs_events_cb);
	api_route(api, "POST", "/api/v1/jobs/{id}/cancel", ACCESS_CANCEL, jobs_cancel_cb);
	api_route(api, "POST", "/api/v1/jobs/{id}/replay", ACCESS_REPLAY, jobs_replay_cb);
	api_workflows_add_routes(api);
}
