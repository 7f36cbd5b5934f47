/*
 * Job queries for the API.  Each is one statement; the JSON shapes are
 * built by PostgreSQL so that the API and the database agree by
 * construction.
 */
#include "storage/jobs.h"
#include "common/log.h"
#include "common/util.h"
#include "common/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVENT_JSON(e)                                                                          \
	"jsonb_build_object('id', " e ".id, 'job_id', " e ".job_id, 'at', esaas_ts(" e ".at)," \
	" 'started_at', esaas_ts(" e ".started_at), 'from_state', " e ".from_state,"           \
	" 'to_state', " e ".to_state, 'outcome', " e ".outcome, 'status', " e ".status,"       \
	" 'attempt', " e ".attempt, 'actor', " e ".actor, 'worker', " e ".worker,"             \
	" 'detail', " e ".detail, 'duration_ms', " e ".duration_ms, 'reason', " e ".reason,"   \
	" 'polls', " e ".polls, 'last_at', esaas_ts(" e ".last_at))"

/* A job id as text for a statement parameter. */
struct idbuf {
	char s[24];
};

static const char *id_text(struct idbuf *b, int64_t id)
{
	snprintf(b->s, sizeof(b->s), "%lld", (long long)id);
	return b->s;
}

json_t *storage_json_value(PGresult *res, int row, int col)
{
	const char *v = db_value(res, row, col);
	if (!v)
		return NULL;
	json_error_t jerr;
	json_t *j = json_loads(v, JSON_DECODE_ANY, &jerr);
	if (!j)
		log_error("database returned unparsable JSON: %s", jerr.text);
	return j;
}

static const struct db_error bad_shape = {DB_ERR_QUERY, "", "unexpected result shape"};

/* --- submit -------------------------------------------------------------------- */

/*
 * Submissions to one cluster take a lock first, so that queue order
 * (queue_seq, drawn at insert) is also commit order: a job can never appear
 * ahead of one that is already running.  A job that carries the cluster's
 * new spec is checked against the tenant's quota first (SQLSTATE EQ001 when
 * it would grow past it; see 0007_quota.sql).  The job belongs to the live
 * cluster of its name (cluster_id: the engine reads the namespace and the
 * id through it), when there is one.  A job planned against a base spec
 * ($8) is queued only if that is still the spec the cluster is to have
 * (SQLSTATE ES001 otherwise; see 0010_spec_base.sql): two operations read
 * at once cannot both build on it.
 *
 * A windowed job ($9) submitted while its cluster's maintenance windows are
 * closed is due at the next opening, and says so (the claim holds it until
 * a window is open: storage/jobrun.c).  An urgent one ($10, the reason) is
 * not windowed: an 'urgent' event and an audit_log row record who let it
 * run outside the windows and why.
 */
#define SUBMIT_SQL                                                                                 \
	"WITH lk AS (SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 0))),"         \
	" q AS (SELECT esaas_quota_check($1, $2, esaas_job_spec($4::jsonb)) FROM lk"               \
	"  WHERE $4::jsonb ? 'spec' AND NOT EXISTS (SELECT 1 FROM jobs WHERE $7::text IS NOT NULL" \
	"   AND tenant_id = $1 AND idempotency_key = $7)),"                                        \
	" b AS (SELECT esaas_spec_base_check($1, $2, $8::jsonb) FROM lk"                           \
	"  WHERE $8::jsonb IS NOT NULL AND NOT EXISTS (SELECT 1 FROM jobs WHERE $7::text IS NOT"   \
	"   NULL AND tenant_id = $1 AND idempotency_key = $7)),"                                   \
	" k AS (SELECT c.id, w.due, w.observation FROM clusters c"                                 \
	"  LEFT JOIN LATERAL esaas_window_wait(c.id) w ON $9::boolean"                             \
	"  WHERE c.tenant_id = $1 AND c.name = $2 AND c.deleted_at IS NULL),"                      \
	" ins AS ("                                                                                \
	" INSERT INTO jobs (tenant_id, cluster, cluster_id, kind, params, status, state,"          \
	"                   submitted_by, idempotency_key, windowed, urgent_reason, next_run_at,"  \
	"                   observation)"                                                          \
	" SELECT $1, $2, k.id, $3, $4::jsonb, 'queued', $5, $6, $7, $9::boolean, $10,"             \
	"  coalesce(k.due, now()), k.observation"                                                  \
	" FROM lk LEFT JOIN q ON true LEFT JOIN b ON true LEFT JOIN k ON true"                     \
	" ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING"   \
	" RETURNING *),"                                                                           \
	" ev AS (INSERT INTO job_events (job_id, to_state, outcome, status, attempt, actor, "      \
	"detail, reason)"                                                                          \
	" SELECT id, state, 'submitted', status, 1, $6, coalesce(observation, 'submitted'),"       \
	"  NULL FROM ins"                                                                          \
	" UNION ALL SELECT id, state, 'urgent', status, 1, $6, format('urgent: runs outside its"   \
	" maintenance windows, as %s asked: %s', $6::text, $10::text), $10 FROM ins"               \
	"  WHERE $10 IS NOT NULL),"                                                                \
	" au AS (INSERT INTO audit_log (actor, action, tenant_id, detail)"                         \
	"  SELECT $6, 'job.urgent', $1, jsonb_build_object('job', id, 'cluster', $2, 'kind', $3,"  \
	"   'reason', $10::text) FROM ins WHERE $10 IS NOT NULL),"                                 \
	" n AS (SELECT pg_notify('" JOBS_NOTIFY_CHANNEL "', '') FROM ins)"                         \
	" SELECT " JOB_JSON("ins") ", true, (SELECT count(*) FROM n) FROM ins"                     \
				   " UNION ALL"                                                    \
				   " SELECT " JOB_JSON(                                            \
					   "j") ", false, 0 FROM jobs j"                           \
						" WHERE $7::text IS NOT NULL AND j.tenant_id = "   \
						"$1 AND j.idempotency_key = $7"                    \
						"   AND NOT EXISTS (SELECT 1 FROM ins)"

struct submit_ctx {
	struct db_pool *db;
	char *params[10];
	bool retried;
	storage_submit_cb cb;
	void *arg;
};

static void submit_ctx_free(struct submit_ctx *c)
{
	for (size_t i = 0; i < ARRAY_SIZE(c->params); i++)
		free(c->params[i]);
	free(c);
}

static void submit_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct submit_ctx *c = arg;
	if (!err && PQntuples(res) == 0 && !c->retried) {
		/*
		 * Another request with the same key committed after this
		 * statement's snapshot was taken: the next statement sees it.
		 */
		c->retried = true;
		db_query(c->db, SUBMIT_SQL, 10, (const char *const *)c->params, submit_cb, c);
		return;
	}
	if (err) {
		c->cb(c->arg, err, NULL, false);
	} else {
		json_t *job = PQntuples(res) == 1 ? storage_json_value(res, 0, 0) : NULL;
		if (!job)
			c->cb(c->arg, &bad_shape, NULL, false);
		else
			c->cb(c->arg, NULL, job, strcmp(PQgetvalue(res, 0, 1), "t") == 0);
		json_decref(job);
	}
	submit_ctx_free(c);
}

void storage_job_submit(struct db_pool *db, const struct job_submit *req, storage_submit_cb cb,
			void *arg)
{
	struct submit_ctx *c = xcalloc(1, sizeof(*c));
	c->db = db;
	c->cb = cb;
	c->arg = arg;
	c->params[0] = xstrdup(req->tenant ? req->tenant : DEFAULT_TENANT);
	c->params[1] = xstrdup(req->cluster);
	c->params[2] = xstrdup(req->kind);
	c->params[3] = req->params ? json_dumps(req->params, JSON_COMPACT) : xstrdup("{}");
	c->params[4] = xstrdup(req->first_state);
	c->params[5] = xstrdup(req->actor);
	c->params[6] = req->idempotency_key ? xstrdup(req->idempotency_key) : NULL;
	c->params[7] = req->base_spec ? json_dumps(req->base_spec, JSON_COMPACT) : NULL;
	c->params[8] = xstrdup(req->windowed ? "true" : "false");
	c->params[9] = req->urgent_reason ? xstrdup(req->urgent_reason) : NULL;
	db_query(db, SUBMIT_SQL, 10, (const char *const *)c->params, submit_cb, c);
}

/* --- get ----------------------------------------------------------------------- */

struct job_ctx {
	storage_job_cb cb;
	void *arg;
};

static void get_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct job_ctx *c = arg;
	if (err) {
		c->cb(c->arg, err, NULL);
	} else if (PQntuples(res) == 0) {
		c->cb(c->arg, NULL, NULL);
	} else {
		json_t *job = storage_json_value(res, 0, 0);
		c->cb(c->arg, job ? NULL : &bad_shape, job);
		json_decref(job);
	}
	free(c);
}

void storage_job_get(struct db_pool *db, const char *tenant, int64_t id, storage_job_cb cb,
		     void *arg)
{
	struct job_ctx *c = xmalloc(sizeof(*c));
	c->cb = cb;
	c->arg = arg;
	struct idbuf b;
	const char *p[] = {tenant, id_text(&b, id)};
	db_query(db,
		 "SELECT " JOB_JSON("j") " FROM jobs j WHERE ($1::text IS NULL OR j.tenant_id = $1)"
					 " AND j.id = $2",
		 2, p, get_cb, c);
}

/* --- list ---------------------------------------------------------------------- */

struct page_ctx {
	int limit;
	storage_page_cb cb;
	void *arg;
};

static void list_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct page_ctx *c = arg;
	if (err) {
		c->cb(c->arg, err, NULL);
		free(c);
		return;
	}
	int n = PQntuples(res);
	bool more = n > c->limit;
	if (more)
		n = c->limit;
	json_t *jobs = json_array();
	json_int_t last = 0;
	for (int i = 0; i < n; i++) {
		json_t *job = storage_json_value(res, i, 0);
		if (!job)
			continue;
		last = json_integer_value(json_object_get(job, "id"));
		json_array_append_new(jobs, job);
	}
	json_t *page = json_pack("{s:o, s:o}", "jobs", jobs, "next_cursor",
				 more ? json_integer(last) : json_null());
	c->cb(c->arg, NULL, page);
	json_decref(page);
	free(c);
}

void storage_job_list(struct db_pool *db, const struct job_filter *f, storage_page_cb cb, void *arg)
{
	struct page_ctx *c = xmalloc(sizeof(*c));
	c->limit = f->limit;
	c->cb = cb;
	c->arg = arg;
	struct idbuf cursor, limit;
	const char *p[] = {
		f->tenant,
		f->status,
		f->kind,
		f->cluster,
		f->cursor > 0 ? id_text(&cursor, f->cursor) : NULL,
		id_text(&limit, (int64_t)f->limit + 1),
	};
	db_query(db,
		 "SELECT " JOB_JSON("j") " FROM jobs j WHERE ($1::text IS NULL OR j.tenant_id = $1)"
					 " AND ($2::text IS NULL OR j.status = $2)"
					 " AND ($3::text IS NULL OR j.kind = $3)"
					 " AND ($4::text IS NULL OR j.cluster = $4)"
					 " AND ($5::bigint IS NULL OR j.id < $5)"
					 " ORDER BY j.id DESC LIMIT $6",
		 6, p, list_cb, c);
}

/* --- events -------------------------------------------------------------------- */

struct events_ctx {
	storage_events_cb cb;
	void *arg;
};

static void events_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct events_ctx *c = arg;
	if (err) {
		c->cb(c->arg, err, NULL);
	} else if (PQntuples(res) == 0) {
		c->cb(c->arg, NULL, NULL);
	} else {
		json_t *events = storage_json_value(res, 0, 0);
		c->cb(c->arg, events ? NULL : &bad_shape, events);
		json_decref(events);
	}
	free(c);
}

/*
 * One page: the job's events after the cursor, one more than asked for to
 * tell whether another page follows.  No row at all when the job is not
 * the tenant's (or does not exist).
 */
#define EVENTS_PAGE_SQL                                                                           \
	"WITH j AS (SELECT id FROM jobs WHERE ($1::text IS NULL OR tenant_id = $1) AND id = $2)," \
	" p AS (SELECT e.* FROM job_events e JOIN j ON e.job_id = j.id WHERE e.id > $3"           \
	"  ORDER BY e.id LIMIT $4::int + 1),"                                                     \
	" pg AS (SELECT * FROM p ORDER BY id LIMIT $4)"                                           \
	" SELECT jsonb_build_object('events', coalesce((SELECT jsonb_agg(" EVENT_JSON(            \
		"pg") " ORDER BY pg.id) FROM pg), '[]'::jsonb),"                                  \
		      " 'next_after', CASE WHEN (SELECT count(*) FROM p) > $4"                    \
		      "  THEN (SELECT max(id) FROM pg) END)"                                      \
		      " FROM j"

void storage_job_events(struct db_pool *db, const char *tenant, int64_t id, int64_t after,
			int limit, storage_events_cb cb, void *arg)
{
	struct events_ctx *c = xmalloc(sizeof(*c));
	c->cb = cb;
	c->arg = arg;
	struct idbuf b, a, l;
	const char *p[] = {tenant, id_text(&b, id), id_text(&a, after), id_text(&l, limit)};
	db_query(db, EVENTS_PAGE_SQL, 4, p, events_cb, c);
}

/* --- retention -------------------------------------------------------------------- */

struct prune_ctx {
	storage_prune_cb cb;
	void *arg;
};

static void prune_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct prune_ctx *c = arg;
	int64_t n = 0;

	if (err)
		c->cb(c->arg, err, 0);
	else if (PQntuples(res) != 1 || !parse_int64(PQgetvalue(res, 0, 0), 0, INT64_MAX, &n))
		c->cb(c->arg, &bad_shape, 0);
	else
		c->cb(c->arg, NULL, n);
	free(c);
}

void storage_job_events_prune(struct db_pool *db, int keep_days, int batch, storage_prune_cb cb,
			      void *arg)
{
	struct prune_ctx *c = xmalloc(sizeof(*c));
	struct idbuf d, b;
	const char *p[] = {id_text(&d, keep_days), id_text(&b, batch)};

	c->cb = cb;
	c->arg = arg;
	db_query(db, "SELECT esaas_prune_job_events($1::int, $2::int)", 2, p, prune_cb, c);
}

void storage_jobs_queue_scheduled(struct db_pool *db, storage_prune_cb cb, void *arg)
{
	struct prune_ctx *c = xmalloc(sizeof(*c));

	c->cb = cb;
	c->arg = arg;
	db_query(db, "SELECT esaas_jobs_queue_scheduled()", 0, NULL, prune_cb, c);
}

/* --- cancel -------------------------------------------------------------------- */

/*
 * cur is the row as locked, its newest version, which a plain read of the
 * statement's snapshot might not be.
 *
 * A queued job that no worker has touched is cancelled at once.  A waiting
 * or paused job holds no lease: it becomes 'cancelling' and runnable now,
 * so a worker picks it up and runs the cleanup (a paused cluster's
 * cleanup runs: the pause holds back the work, never its undoing).  A running job only gets the flag: its
 * worker sees it when it commits the state it is in.
 */
#define CANCEL_SQL                                                                                \
	"WITH cur AS (SELECT * FROM jobs WHERE ($1::text IS NULL OR tenant_id = $1) AND id = $2"  \
	" FOR UPDATE),"                                                                           \
	" u AS (UPDATE jobs j SET cancel_requested = true,"                                       \
	"  status = CASE WHEN cur.status = 'queued' AND cur.lease_owner IS NULL"                  \
	"                 AND cur.started_at IS NULL THEN 'cancelled'"                            \
	"             WHEN cur.status IN ('waiting', 'paused') AND cur.lease_owner IS NULL"       \
	"              THEN 'cancelling'"                                                         \
	"             ELSE j.status END,"                                                         \
	"  finished_at = CASE WHEN cur.status = 'queued' AND cur.lease_owner IS NULL"             \
	"                 AND cur.started_at IS NULL THEN now() ELSE j.finished_at END,"          \
	"  next_run_at = CASE WHEN cur.status IN ('waiting', 'paused') AND cur.lease_owner IS "   \
	"NULL"                                                                                    \
	"                 THEN now() ELSE j.next_run_at END,"                                     \
	"  updated_at = now()"                                                                    \
	"  FROM cur WHERE j.id = cur.id AND NOT cur.cancel_requested"                             \
	"   AND cur.status IN ('queued', 'running', 'waiting', 'paused')"                         \
	"  RETURNING j.*),"                                                                       \
	" ev AS (INSERT INTO job_events (job_id, from_state, to_state, outcome, status, attempt," \
	"  actor, detail, reason)"                                                                \
	"  SELECT u.id, u.state, u.state,"                                                        \
	"   CASE WHEN u.status = 'cancelled' THEN 'cancelled' ELSE 'cancel_requested' END,"       \
	"   u.status, u.attempt, $3, $4, $5 FROM u),"                                             \
	" n AS (SELECT pg_notify('" JOBS_NOTIFY_CHANNEL "', '') FROM u"                           \
	"  WHERE u.status IN ('cancelled', 'cancelling'))"                                        \
	" SELECT cur.status, cur.cancel_requested, (SELECT count(*) FROM n),"                     \
	"  coalesce((SELECT " JOB_JSON("x") " FROM u x), " JOB_JSON("cur") ")"                    \
									   " FROM cur"

struct cancel_ctx {
	storage_cancel_cb cb;
	void *arg;
};

static void cancel_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct cancel_ctx *c = arg;
	if (err) {
		c->cb(c->arg, err, CANCEL_NOT_FOUND, NULL);
	} else if (PQntuples(res) == 0) {
		c->cb(c->arg, NULL, CANCEL_NOT_FOUND, NULL);
	} else {
		const char *before = PQgetvalue(res, 0, 0);
		bool requested = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
		json_t *job = storage_json_value(res, 0, 3);
		enum cancel_result r;
		if (strcmp(before, "succeeded") == 0 || strcmp(before, "failed") == 0 ||
		    strcmp(before, "cancelled") == 0)
			r = CANCEL_REFUSED;
		else if (requested || strcmp(before, "cancelling") == 0)
			r = CANCEL_ALREADY;
		else if (job && strcmp(json_str(job, "status"), "cancelled") == 0)
			r = CANCEL_DONE;
		else
			r = CANCEL_REQUESTED;
		c->cb(c->arg, job ? NULL : &bad_shape, r, job);
		json_decref(job);
	}
	free(c);
}

void storage_job_cancel(struct db_pool *db, const char *tenant, int64_t id, const char *actor,
			const char *reason, storage_cancel_cb cb, void *arg)
{
	struct cancel_ctx *c = xmalloc(sizeof(*c));
	c->cb = cb;
	c->arg = arg;
	struct idbuf b;
	char *detail = xasprintf("cancel: %s", reason && *reason ? reason : "no reason given");
	const char *p[] = {tenant, id_text(&b, id), actor, detail,
			   reason && *reason ? reason : NULL};
	db_query(db, CANCEL_SQL, 5, p, cancel_cb, c);
	free(detail);
}

/* --- replay -------------------------------------------------------------------- */

/*
 * $1 tenant, $2 id, $3 from_state or NULL, $4 the main states, $5 the
 * allowed states (JSON arrays), $6 actor, $7 reason.
 *
 * cur is the row as locked, its newest version: of two replays of one job
 * the second waits for the first and then finds it queued.  pick is the
 * state asked for, or the default (storage/jobs.h).  The cluster lock is
 * the one submissions take: the new queue_seq is drawn under it, so queue
 * order stays commit order.  started_at and state_entered_at go back to
 * NULL, so that the claim sets them anew: the state's deadline counts from
 * the claim, not from the failure.  A windowed job queued again outside
 * its cluster's maintenance windows is due at the next opening, and says
 * so, as at its submission.
 */
#define REPLAY_SQL                                                                                \
	"WITH cur AS (SELECT * FROM jobs WHERE ($1::text IS NULL OR tenant_id = $1) AND id = $2"  \
	" FOR UPDATE),"                                                                           \
	" pick AS (SELECT coalesce($3::text, cur.failed_state,"                                   \
	"   CASE WHEN $4::jsonb ? cur.state THEN cur.state END,"                                  \
	"   (SELECT e.from_state FROM job_events e WHERE e.job_id = cur.id"                       \
	"    AND $4::jsonb ? e.from_state ORDER BY e.id DESC LIMIT 1)) AS st FROM cur),"          \
	" ok AS (SELECT cur.id, pick.st FROM cur, pick"                                           \
	"  WHERE cur.status IN ('failed', 'cancelled') AND coalesce($5::jsonb ? pick.st, false)"  \
	"  AND NOT EXISTS (SELECT 1 FROM clusters k WHERE k.id = cur.cluster_id"                  \
	"   AND k.deleted_at IS NOT NULL)),"                                                      \
	" lk AS (SELECT pg_advisory_xact_lock("                                                   \
	"  hashtextextended(cur.tenant_id || '/' || cur.cluster, 0)) FROM cur, ok),"              \
	" q AS (SELECT esaas_quota_check(cur.tenant_id, cur.cluster, esaas_job_spec(cur.params))" \
	"  FROM cur, lk WHERE cur.params ? 'spec'),"                                              \
	" u AS (UPDATE jobs j SET status = 'queued', state = ok.st, attempt = 1,"                 \
	"  queue_seq = nextval('jobs_queue_seq'),"                                                \
	"  next_run_at = CASE WHEN j.windowed"                                                    \
	"   THEN (SELECT w.due FROM esaas_window_wait(j.cluster_id) w) ELSE now() END,"           \
	"  observation = CASE WHEN j.windowed"                                                    \
	"   THEN (SELECT w.observation FROM esaas_window_wait(j.cluster_id) w) END,"              \
	"  state_entered_at = NULL, started_at = NULL, finished_at = NULL, error = NULL,"         \
	"  failed_state = NULL, ending = NULL, cancel_requested = false, window_held = false,"    \
	"  lease_owner = NULL, lease_expires_at = NULL, version = j.version + 1,"                 \
	"  updated_at = now()"                                                                    \
	"  FROM ok, lk LEFT JOIN q ON true WHERE j.id = ok.id RETURNING j.*),"                    \
	" ev AS (INSERT INTO job_events (job_id, from_state, to_state, outcome, status,"          \
	"  attempt, actor, reason, detail)"                                                       \
	"  SELECT u.id, u.state, u.state, 'replay', u.status, u.attempt, $6, $7,"                 \
	"   format('replay from %s: %s (it had ended %s in %s%s)', u.state, $7::text,"            \
	"    cur.status, cur.state, coalesce(': ' || cur.error, ''))"                             \
	"  FROM u, cur),"                                                                         \
	" n AS (SELECT pg_notify('" JOBS_NOTIFY_CHANNEL "', '') FROM u)"                          \
	" SELECT cur.status, pick.st, (SELECT count(*) FROM u), (SELECT count(*) FROM n),"        \
	"  coalesce((SELECT " JOB_JSON("x") " FROM u x), " JOB_JSON(                              \
		"cur") "),"                                                                       \
		       "  EXISTS (SELECT 1 FROM clusters k WHERE k.id = cur.cluster_id"           \
		       "   AND k.deleted_at IS NOT NULL)"                                         \
		       " FROM cur, pick"

struct replay_ctx {
	storage_replay_cb cb;
	void *arg;
};

static void replay_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct replay_ctx *c = arg;

	if (err) {
		c->cb(c->arg, err, REPLAY_NOT_FOUND, NULL, NULL);
	} else if (PQntuples(res) == 0) {
		c->cb(c->arg, NULL, REPLAY_NOT_FOUND, NULL, NULL);
	} else {
		const char *before = PQgetvalue(res, 0, 0);
		const char *from = db_value(res, 0, 1);
		bool replayed = strcmp(PQgetvalue(res, 0, 2), "1") == 0;
		json_t *job = storage_json_value(res, 0, 4);
		enum replay_result r;

		if (replayed)
			r = REPLAY_DONE;
		else if (strcmp(before, "failed") != 0 && strcmp(before, "cancelled") != 0)
			r = REPLAY_REFUSED;
		else if (strcmp(PQgetvalue(res, 0, 5), "t") == 0)
			r = REPLAY_CLUSTER_GONE;
		else
			r = REPLAY_NOT_ALLOWED;
		c->cb(c->arg, job ? NULL : &bad_shape, r, from, job);
		json_decref(job);
	}
	free(c);
}

void storage_job_replay(struct db_pool *db, const struct job_replay *req, storage_replay_cb cb,
			void *arg)
{
	struct replay_ctx *c = xmalloc(sizeof(*c));
	struct idbuf b;

	c->cb = cb;
	c->arg = arg;
	char *main_states = json_dumps(req->main_states, JSON_COMPACT);
	char *allowed = json_dumps(req->allowed, JSON_COMPACT);
	const char *p[] = {
		req->tenant, id_text(&b, req->id), req->from_state, main_states,
		allowed,     req->actor,	   req->reason,
	};
	db_query(db, REPLAY_SQL, 7, p, replay_cb, c);
	free(main_states);
	free(allowed);
}

/* --- schema version ------------------------------------------------------------ */

struct version_ctx {
	storage_version_cb cb;
	void *arg;
};

static void version_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct version_ctx *c = arg;
	int v = 0;
	if (!err && (PQntuples(res) != 1 || !parse_int(PQgetvalue(res, 0, 0), 0, 1 << 30, &v)))
		err = &bad_shape;
	c->cb(c->arg, err, v);
	free(c);
}

void storage_schema_version(struct db_pool *db, storage_version_cb cb, void *arg)
{
	struct version_ctx *c = xmalloc(sizeof(*c));
	c->cb = cb;
	c->arg = arg;
	db_query(db, "SELECT coalesce(max(version), 0) FROM esaas_schema_migrations", 0, NULL,
		 version_cb, c);
}

/* --- a preview's facts ------------------------------------------------------------ */

struct preview_ctx {
	storage_preview_cb cb;
	void *arg;
};

static void preview_facts_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct preview_ctx *c = arg;
	json_t *facts = err || PQntuples(res) != 1 ? NULL : storage_json_value(res, 0, 0);

	c->cb(c->arg, err ? err : (facts ? NULL : &bad_shape), facts);
	json_decref(facts);
	free(c);
}

/* A spec's nodes in a job's params: every role's replicas that is a number. */
#define SPEC_REPLICAS(role)                                                           \
	"CASE WHEN jsonb_typeof(h.params->'spec'->'" role "'->'replicas') = 'number'" \
	" THEN (h.params->'spec'->'" role "'->'replicas')::numeric ELSE 0 END"

void storage_job_preview_facts(struct db_pool *db, const char *tenant, const char *cluster,
			       const char *kind, json_t *params, int nodes, int last,
			       storage_preview_cb cb, void *arg)
{
	struct preview_ctx *c = xmalloc(sizeof(*c));
	char nodes_text[16], last_text[16];
	char *params_text = json_dumps(params, JSON_COMPACT);

	c->cb = cb;
	c->arg = arg;
	snprintf(nodes_text, sizeof(nodes_text), "%d", nodes);
	snprintf(last_text, sizeof(last_text), "%d", last);
	const char *p[] = {tenant, cluster, kind, nodes_text, last_text, params_text};
	db_query(db,
		 "SELECT CASE WHEN esaas_quota_check($1, $2, esaas_job_spec($6::jsonb))"
		 " THEN jsonb_build_object("
		 " 'tenant_quota', jsonb_build_object('limit', esaas_tenant_quota($1),"
		 "   'before', esaas_tenant_usage($1),"
		 "   'after', esaas_tenant_usage($1, $2, esaas_job_spec($6::jsonb))),"
		 " 'window', (SELECT esaas_cluster_maintenance_json(k.id) FROM clusters k"
		 "   WHERE k.tenant_id = $1 AND k.name = $2 AND k.deleted_at IS NULL),"
		 " 'active', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', a.id,"
		 "   'kind', a.kind, 'status', a.status, 'state', a.state) ORDER BY a.id),"
		 "   '[]'::jsonb) FROM jobs a WHERE a.tenant_id = $1 AND a.cluster = $2"
		 "   AND a.status IN ('queued', 'running', 'waiting', 'cancelling', 'paused')),"
		 " 'history', (SELECT jsonb_build_object('jobs', count(*), 'median_seconds',"
		 "   percentile_cont(0.5) WITHIN GROUP (ORDER BY s.seconds))"
		 "   FROM (SELECT extract(epoch FROM h.finished_at - h.started_at) AS seconds"
		 "     FROM jobs h WHERE h.tenant_id = $1 AND h.kind = $3"
		 "     AND h.status = 'succeeded' AND h.started_at IS NOT NULL"
		 "     AND h.finished_at IS NOT NULL"
		 "     AND ($4::int = 0 OR (" SPEC_REPLICAS("masters") " + " SPEC_REPLICAS(
			 "data") " + " SPEC_REPLICAS("clients") ")"
								" BETWEEN $4::int / 2.0 AND "
								"$4::int * 2.0)"
								"     ORDER BY h.finished_at DESC "
								"LIMIT "
								"$5::int) s)) END",
		 6, p, preview_facts_cb, c);
	free(params_text);
}
