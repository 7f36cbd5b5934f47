/*
 * Inside the API: the state its handlers share, the job routes, and the
 * checks of a request that need neither a database nor a socket (kept
 * apart so that unit tests can reach them).
 */
#ifndef ESAAS_API_ROUTES_H
#define ESAAS_API_ROUTES_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "api/http.h"
#include "storage/jobs.h"
#include "common/util.h"

struct workflow;

struct wf_registry;
struct wf_env;
struct workflow;
struct spec;

struct api_ui;
struct api_auth;
struct metric;
struct guard;

struct api {
	struct http_server *http;
	struct http_server *metrics_http; /* metrics.listen: GET /metrics alone */
	struct api_ui *ui;		  /* the job viewer's files under /ui */
	struct db_pool *db;
	struct db_pool *engine_db; /* api_options.engine_db */
	const struct wf_registry *reg;
	struct wf_env *env; /* for checks that read a cluster before queuing */
	bool generic_submit;
	bool draining;
	struct metric *ready_metric;		   /* esaas_ready, while the API lives */
	struct api_auth *auth;			   /* credentials (api/auth.h) */
	struct guard *guards;			   /* every route added by api_route() */
	const struct api_test_caller *test_caller; /* api_options.test_caller */
	const char *allowed_images;		   /* kubernetes.allowed_images, the config's */
};

/* Free what api_route() allocated. */
void api_guards_free(struct api *api);

/* GET/POST /api/v1/jobs... and GET /api/v1/workflows... on api->http. */
void api_jobs_add_routes(struct api *api);
/* GET/POST /api/v1/clusters... on api->http. */
void api_clusters_add_routes(struct api *api);
/* GET /api/v1/clusters/{name}/snapshots (api/snapshots.c). */
void api_snapshots_add_routes(struct api *api);
/* A create's "restore" ({"cluster", "snapshot"}): its fields, else 422
 * naming one. */
bool api_restore_fields_ok(json_t *restore, struct http_error *err);
/*
 * Then its source: a cluster of the request's tenant (404 naming
 * restore.cluster otherwise, as for another tenant's) that has the
 * snapshot, SUCCESS (404 or 409 naming restore.snapshot).  done(arg,
 * {"cluster", "namespace", "snapshot", "indices"}) for the create job's
 * params.restore (borrowed), or done(arg, NULL) after replying to req.
 */
typedef void (*api_restore_cb)(void *arg, json_t *restore);
void api_restore_resolve(struct api *api, struct http_req *req, json_t *restore,
			 api_restore_cb done, void *arg);
/* Maintenance windows of clusters and tenants (api/maintenance.c). */
void api_maintenance_add_routes(struct api *api);

/* At most this many windows in a set; each lasts from 30 minutes to a day. */
#define MAINTENANCE_WINDOWS_MAX 14
#define MAINTENANCE_MINUTES_MIN 30
#define MAINTENANCE_MINUTES_MAX (24 * 60)

/*
 * A set of maintenance windows, {"time_zone", "windows": [{"day", "start",
 * "duration"}]}: its shape, each fault 422 naming its field ("windows[1].
 * start"); the time zone's name is PostgreSQL's to check.
 */
bool api_maintenance_check(json_t *m, struct http_error *err) MUST_CHECK;

/*
 * "urgent": {"reason": "..."} in an operation's body: the reason (a new
 * string, NULL when the body has no "urgent"), taken out of body.  A
 * reason as a cancel's (api_jobs_check_cancel()), else 422 naming
 * "urgent.reason".
 */
bool api_take_urgent(json_t *body, char **reason, struct http_error *err) MUST_CHECK;

/*
 * ?dry_run=true, once every check of the request has passed: answer req
 * 200 with the plan of the job wf would run on cluster (api/preview.c),
 * from the live cluster and the jobs' history, writing nothing.  base is
 * the cluster's spec before the job (NULL for a create, which reads no
 * live cluster), ns its stored namespace, params the job's parameters
 * (with the precheck's "warnings"); none is taken.  windowed: the job
 * would wait for the cluster's maintenance windows (a "maintenance_window"
 * gate while they are closed).
 */
void api_preview(struct api *api, struct http_req *req, const struct workflow *wf,
		 const char *cluster, const char *ns, json_t *base, json_t *params, bool windowed);

/*
 * Database errors as the client sees them: 503 unavailable when the
 * database cannot be reached, 500 internal (details only in the log) when
 * it answered with an error.  Ends the request.
 */
void api_reply_db_error(struct http_req *req, const struct db_error *err);

/*
 * A storage callback for a plain read (arg is the request): 200 with the
 * JSON, the database error, or 500 when there is neither.  Ends the request.
 */
void api_reply_json_cb(void *arg, const struct db_error *err, json_t *json);

/* A mutation's answer: status (202, or 200 when already done), the job, and
 * a Location header where to follow it.  Ends the request. */
void api_reply_job_accepted(struct http_req *req, int status, json_t *job);
/* The same with the prechecks' warnings (an array of strings, or NULL) in
 * the answer's "warnings". */
void api_reply_job_accepted_warning(struct http_req *req, int status, json_t *job,
				    json_t *warnings);

/*
 * Checks first, then the database: without one, 503 as while it is down.
 * False when it has replied so.
 */
bool api_have_database(struct http_req *req, const struct api *api);
/* The same without the reply: false with err set (503). */
bool api_database_ok(const struct api *api, struct http_error *err);

/* A read that takes no query parameter but ?tenant=: false after a 422 for
 * any other. */
bool api_query_tenant_only(struct http_req *req);

/* --- Checks. --- */

/* A job id in a path: a positive int64. */
bool api_parse_job_id(const char *s, int64_t *id) MUST_CHECK;
/* Idempotency-Key: 1..255 printable ASCII characters. */
bool api_idempotency_key_valid(const char *s);
/* An Idempotency-Key header (NULL: none given): 422 invalid when malformed. */
bool api_check_idempotency_key(const char *key, struct http_error *err) MUST_CHECK;

/*
 * Who acts: the X-Esaas-Actor header (1..128 printable ASCII characters)
 * when given, else "anonymous@<peer>".  *actor is allocated.
 */
bool api_actor(const char *header, const char *peer, char **actor,
	       struct http_error *err) MUST_CHECK;

/*
 * GET /api/v1/jobs: fill f (but its tenant) from the query.  f's strings
 * point into q.  422 invalid, naming the parameter, when one is wrong.
 */
bool api_jobs_parse_filter(const struct http_query *q, struct job_filter *f,
			   struct http_error *err) MUST_CHECK;

/*
 * GET /api/v1/jobs/{id}/events: the page asked for, after (0: from the
 * first event) and limit (1 to 1000, 100 when not given).  422 invalid,
 * naming the parameter, when one is wrong.
 */
bool api_events_parse_page(const struct http_query *q, int64_t *after, int *limit,
			   struct http_error *err) MUST_CHECK;

/* POST /api/v1/jobs, checked; the strings and params are borrowed from the body. */
struct api_submit {
	const struct workflow *wf;
	const char *kind;
	const char *cluster;
	json_t *params; /* {} when the body has none */
};
bool api_jobs_check_submit(json_t *body, const struct wf_registry *reg, struct api_submit *out,
			   struct http_error *err) MUST_CHECK;

/*
 * POST /api/v1/clusters: body is a cluster spec.  422 invalid naming the
 * field when the spec is not valid, "image" when it names an image that
 * allowed_images (kubernetes.allowed_images) does not pin to its version;
 * 501 not_implemented when reg has no
 * create workflow.  On success *spec is parsed (spec_free() it) and *wf is
 * the create workflow; on failure *spec is left zeroed.
 */
bool api_clusters_check_create(json_t *body, const struct wf_registry *reg,
			       const char *allowed_images, struct spec *spec,
			       const struct workflow **wf, struct http_error *err) MUST_CHECK;

/*
 * POST /api/v1/jobs/{id}/cancel: {"reason": "..."}.  The reason is
 * required: 1 to 1000 characters of valid UTF-8, not only blanks (422
 * invalid naming "reason").  *reason is borrowed from body.
 */
bool api_jobs_check_cancel(json_t *body, const char **reason, struct http_error *err) MUST_CHECK;

/*
 * POST /api/v1/jobs/{id}/replay: {"from_state": "...", "reason": "..."}.
 * The reason as for a cancel; from_state optional (NULL: the default, see
 * storage_job_replay()), a name of 1 to 64 characters.  Whether the state
 * may be replayed depends on the job's workflow, checked later.  Both are
 * borrowed from body.
 */
bool api_jobs_check_replay(json_t *body, const char **from_state, const char **reason,
			   struct http_error *err) MUST_CHECK;

/*
 * A workflow as a graph, for GET /api/v1/workflows/{kind}:
 *   {"kind": "restart", "start": "<first state>", "cleanup": "<state>" | null,
 *    "states": [{"name", "next" (null at an end), "deadline_s",
 *                "max_attempts" (0: the engine's default), "replay_safe",
 *                "pause_safe" (a safe boundary for a pause),
 *                "cleanup" (in the cleanup chain), "branches": [{"label", "to"}]}, ...]}
 * in the table's order.  "replay_safe" is true only where a replay may
 * start (workflow_replay_allowed()).  A new reference.
 */
json_t *api_workflow_json(const struct workflow *wf);

/* The states a replay of a job of wf may start from, in the table's order. */
json_t *api_workflow_replay_states(const struct workflow *wf);
/* The states outside the cleanup chain, where a replay's default may lie. */
json_t *api_workflow_main_states(const struct workflow *wf);
/* "a, b, c" of the registry's kinds (to free); "" without any. */
char *api_known_kinds(const struct wf_registry *reg);
/* GET /api/v1/workflows and /api/v1/workflows/{kind} on api->http (api/workflows.c). */
void api_workflows_add_routes(struct api *api);

#endif
