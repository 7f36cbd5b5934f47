/*
 * Cluster queries.  Each is one statement and its JSON is built by
 * PostgreSQL, as for jobs.
 */
#include "storage/clusters.h"
#include "storage/health.h"
#include "storage/jobs.h"
#include "common/log.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

/* The jobs of cluster row c: those submitted since it was created. */
#define CLUSTER_JOBS(c)                                                               \
	" FROM jobs a WHERE a.tenant_id = " c ".tenant_id AND a.cluster = " c ".name" \
	" AND a.created_at >= " c ".created_at"

#define JOB_BRIEF(j)                                                                     \
	"jsonb_build_object('id', " j ".id, 'kind', " j ".kind, 'status', " j ".status," \
	" 'state', " j ".state)"

#define ACTIVE_STATUS "a.status IN ('queued', 'running', 'waiting', 'cancelling', 'paused')"

/* In progress first: at most one of a cluster's jobs is, and it goes before the queue. */
#define ACTIVE_JOB(c)                                 \
	"(SELECT " JOB_BRIEF("a")                     \
		CLUSTER_JOBS(c) " AND " ACTIVE_STATUS \
				" ORDER BY a.status = 'queued', a.queue_seq LIMIT 1)"

#define RECENT_JOB(j)                                                                    \
	"jsonb_build_object('id', " j ".id, 'kind', " j ".kind, 'status', " j ".status," \
	" 'state', " j ".state, 'created_at', esaas_ts(" j ".created_at))"

#define RECENT_JOBS(c)                                                            \
	"(SELECT coalesce(jsonb_agg(r.job ORDER BY r.id DESC), '[]'::jsonb) FROM" \
	" (SELECT a.id, " RECENT_JOB("a") " AS job" CLUSTER_JOBS(                 \
		c) "  ORDER BY a.id DESC LIMIT 5) r)"

/* The cluster's pause, or null. */
#define CLUSTER_PAUSE(c)                                                             \
	"CASE WHEN " c ".paused_at IS NOT NULL THEN jsonb_build_object('reason', " c \
	".paused_reason, 'by', " c ".paused_by, 'at', esaas_ts(" c ".paused_at)) END"

#define CLUSTER_FIELDS(c)                                                                      \
	"'name', " c ".name, 'tenant', " c ".tenant_id, 'namespace', " c ".namespace,"         \
	" 'spec', " c ".spec,"                                                                 \
	" 'observed', " c ".observed, 'created_by', " c ".created_by,"                         \
	" 'created_at', esaas_ts(" c ".created_at), 'updated_at', esaas_ts(" c ".updated_at)," \
	" 'health', " CLUSTER_HEALTH_JSON(c) ", 'paused', " CLUSTER_PAUSE(                     \
		c) ", 'maintenance', esaas_cluster_maintenance_json(" c ".id)"

/* The spec the cluster will have once its unfinished jobs are done: the
 * newest one's (null when none is unfinished).  Operations submitted now
 * build on it, not on the spec of the last finished job. */
#define TARGET_SPEC(c)                                   \
	"(SELECT esaas_job_spec(a.params)" CLUSTER_JOBS( \
		c) " AND " ACTIVE_STATUS                 \
		   " AND a.params ? 'spec' ORDER BY a.queue_seq DESC LIMIT 1)"

#define CLUSTER_JSON(c)                                                        \
	"jsonb_build_object(" CLUSTER_FIELDS(c) ", 'active_job', " ACTIVE_JOB( \
		c) ", 'recent_jobs', " RECENT_JOBS(c) ", 'target_spec', " TARGET_SPEC(c) ")"

#define CLUSTER_ITEM_JSON(c) \
	"jsonb_build_object(" CLUSTER_FIELDS(c) ", 'active_job', " ACTIVE_JOB(c) ")"

static const struct db_error bad_shape = {DB_ERR_QUERY, "", "unexpected result shape"};

/* --- create -------------------------------------------------------------------- */

/*
 * $1 tenant, $2 name, $3 spec, $4 actor, $5 first state, $6 idempotency key,
 * $7 the namespace of a new cluster.
 *
 * The statement's snapshot is taken before the lock is granted, so what it
 * reads may miss a submission that committed while it waited.  Writes do
 * not: the cluster insert meets the committed row in the unique index of
 * live names (and does nothing) or of live namespaces (23505), and the job
 * insert fails on a key taken meanwhile (23505), which rolls back the
 * cluster row with it.  The caller repeats the statement once in these
 * cases, with a snapshot that sees the other submission.  A key used
 * before wins over the name check: a repeated create must find its own
 * job, not a conflict with its own cluster.  A new cluster is checked
 * against the tenant's quota (esaas_quota_check(), in 0007_quota.sql),
 * which fails the statement with SQLSTATE EQ001 when it does not fit.
 *
 * A cluster created again after a delete gets its predecessor's namespace,
 * where the data kept on the hosts is (a cluster made before 0009 had
 * another form of name).  A namespace that a cluster of another tenant or
 * name has, or had, is refused ('namespace_taken'): its data may be on the
 * hosts still.
 */
#define CREATE_SQL                                                                                 \
	"WITH lk AS (SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 0))),"         \
	" prior AS (SELECT * FROM jobs WHERE $6::text IS NOT NULL AND tenant_id = $1"              \
	"  AND idempotency_key = $6),"                                                             \
	" ns AS (SELECT coalesce((SELECT x.namespace FROM clusters x WHERE x.tenant_id = $1"       \
	"  AND x.name = $2 AND x.deleted_at IS NOT NULL ORDER BY x.id DESC LIMIT 1), $7) AS "      \
	"name),"                                                                                   \
	" taken AS (SELECT 1 FROM clusters x, ns WHERE x.namespace = ns.name"                      \
	"  AND NOT (x.tenant_id = $1 AND x.name = $2) AND NOT EXISTS (SELECT 1 FROM prior)),"      \
	" q AS (SELECT esaas_quota_check($1, $2, $3::jsonb) FROM lk"                               \
	"  WHERE NOT EXISTS (SELECT 1 FROM prior) AND NOT EXISTS (SELECT 1 FROM taken)"            \
	"  AND NOT EXISTS (SELECT 1 FROM clusters x"                                               \
	"   WHERE x.tenant_id = $1 AND x.name = $2 AND x.deleted_at IS NULL)),"                    \
	" c AS (INSERT INTO clusters (tenant_id, name, namespace, spec, observed, created_by)"     \
	"  SELECT $1, $2, ns.name, $3::jsonb,"                                                     \
	"   jsonb_build_object('phase', '" CLUSTER_PHASE_CREATING "'), $4"                         \
	"  FROM lk CROSS JOIN ns LEFT JOIN q ON true WHERE NOT EXISTS (SELECT 1 FROM prior)"       \
	"   AND NOT EXISTS (SELECT 1 FROM taken)"                                                  \
	"  ON CONFLICT (tenant_id, name) WHERE deleted_at IS NULL DO NOTHING"                      \
	"  RETURNING *),"                                                                          \
	" ins AS (INSERT INTO jobs (tenant_id, cluster, cluster_id, kind, params, status, state,"  \
	"  submitted_by, idempotency_key)"                                                         \
	"  SELECT c.tenant_id, c.name, c.id, 'create',"                                            \
	"   jsonb_build_object('spec', c.spec) || coalesce($8::jsonb, '{}'::jsonb),"               \
	"   'queued', $5, $4, $6 FROM c"                                                           \
	"  RETURNING *),"                                                                          \
	" ev AS (INSERT INTO job_events (job_id, to_state, outcome, status, attempt, actor, "      \
	"detail)"                                                                                  \
	"  SELECT id, state, 'submitted', status, 1, $4, 'submitted' FROM ins),"                   \
	" n AS (SELECT pg_notify('" JOBS_NOTIFY_CHANNEL "', '') FROM ins)"                         \
	" SELECT 'created', " JOB_JSON(                                                            \
		"j") ","                                                                           \
		     "  jsonb_build_object(" CLUSTER_FIELDS("c") ", 'active_job', " JOB_BRIEF(     \
			     "j") ","                                                              \
				  "   'recent_jobs', jsonb_build_array(" RECENT_JOB(               \
					  "j") ")),"                                               \
					       "  (SELECT count(*) FROM n)"                        \
					       " FROM ins j, c"                                    \
					       " UNION ALL"                                        \
					       " SELECT 'repeated', " JOB_JSON(                    \
						       "j") ","                                    \
							    "  (SELECT " CLUSTER_JSON(             \
								    "x") " FROM clusters x WHERE " \
									 "x.tenant_id = "          \
									 "j.tenant_id"             \
									 "   AND x.name = "        \
									 "j.cluster AND "          \
									 "x.deleted_at IS NULL), " \
									 "0"                       \
									 " FROM prior j"           \
									 " UNION ALL"              \
									 " SELECT "                \
									 "'namespace_taken', "     \
									 "NULL, jsonb_build_"      \
									 "object('namespace', "    \
									 "ns.name), 0 FROM ns"     \
									 " WHERE EXISTS (SELECT "  \
									 "1 FROM taken)"           \
									 " UNION ALL"              \
									 " SELECT 'exists', "      \
									 "NULL, NULL, 0"           \
									 " WHERE NOT EXISTS "      \
									 "(SELECT 1 FROM prior) "  \
									 "AND NOT EXISTS (SELECT " \
									 "1 FROM c) AND NOT "      \
									 "EXISTS (SELECT 1 FROM "  \
									 "taken)"

#define SQLSTATE_UNIQUE_VIOLATION "23505"

struct create_ctx {
	struct db_pool *db;
	char *params[8];
	bool retried;
	storage_cluster_create_cb cb;
	void *arg;
};

static void create_ctx_free(struct create_ctx *c)
{
	for (size_t i = 0; i < ARRAY_SIZE(c->params); i++)
		free(c->params[i]);
	free(c);
}

static bool create_result_of(const char *s, enum cluster_create_result *r)
{
	if (strcmp(s, "created") == 0)
		*r = CLUSTER_CREATED;
	else if (strcmp(s, "repeated") == 0)
		*r = CLUSTER_REPEATED;
	else if (strcmp(s, "exists") == 0)
		*r = CLUSTER_EXISTS;
	else if (strcmp(s, "namespace_taken") == 0)
		*r = CLUSTER_NAMESPACE_TAKEN;
	else
		return false;
	return true;
}

static void create_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct create_ctx *c = arg;
	bool has_key = c->params[5] != NULL;
	enum cluster_create_result r = CLUSTER_EXISTS;
	json_t *job = NULL, *cluster = NULL;

	if (!err && (PQntuples(res) != 1 || !create_result_of(PQgetvalue(res, 0, 0), &r)))
		err = &bad_shape;

	/* See CREATE_SQL: another submission committed while this one waited. */
	bool key_race = err && err->kind == DB_ERR_QUERY &&
			strcmp(err->sqlstate, SQLSTATE_UNIQUE_VIOLATION) == 0;
	bool name_race = !err && r == CLUSTER_EXISTS && has_key;
	if ((key_race || name_race) && !c->retried) {
		c->retried = true;
		db_query(c->db, CREATE_SQL, 8, (const char *const *)c->params, create_cb, c);
		return;
	}

	if (!err && r != CLUSTER_EXISTS) {
		job = storage_json_value(res, 0, 1);
		cluster = storage_json_value(res, 0, 2);
		if (r == CLUSTER_NAMESPACE_TAKEN ? !cluster
						 : !job || (r == CLUSTER_CREATED && !cluster))
			err = &bad_shape;
	}
	if (err)
		c->cb(c->arg, err, CLUSTER_EXISTS, NULL, NULL);
	else
		c->cb(c->arg, NULL, r, job, cluster);
	json_decref(job);
	json_decref(cluster);
	create_ctx_free(c);
}

void storage_clusters_warm(struct db_pool *db)
{
	/* Planned, never run: EXPLAIN writes nothing. */
	const char *p[] = {DEFAULT_TENANT, "-", "{}", "-", "-", NULL, "-", NULL};
	db_pool_warm(db, NULL, "EXPLAIN " CREATE_SQL, 8, p, 1);
}

void storage_cluster_create(struct db_pool *db, const char *tenant, const char *name, json_t *spec,
			    json_t *extra_params, const char *ns, const char *actor,
			    const char *idempotency_key, const char *first_state,
			    storage_cluster_create_cb cb, void *arg)
{
	struct create_ctx *c = xcalloc(1, sizeof(*c));

	c->db = db;
	c->cb = cb;
	c->arg = arg;
	c->params[0] = xstrdup(tenant ? tenant : DEFAULT_TENANT);
	c->params[1] = xstrdup(name);
	c->params[2] = json_dumps(spec, JSON_COMPACT);
	c->params[3] = xstrdup(actor);
	c->params[4] = xstrdup(first_state);
	c->params[5] = idempotency_key ? xstrdup(idempotency_key) : NULL;
	c->params[6] = xstrdup(ns);
	c->params[7] = extra_params ? json_dumps(extra_params, JSON_COMPACT) : NULL;
	db_query(db, CREATE_SQL, 8, (const char *const *)c->params, create_cb, c);
}

/* --- get, list ------------------------------------------------------- */

struct cluster_ctx {
	storage_cluster_cb cb;
	void *arg;
};

static struct cluster_ctx *cluster_ctx_new(storage_cluster_cb cb, void *arg)
{
	struct cluster_ctx *c = xmalloc(sizeof(*c));

	c->cb = cb;
	c->arg = arg;
	return c;
}

/* Zero rows: no such cluster; one row: its JSON in the first column. */
static void cluster_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct cluster_ctx *c = arg;

	if (err) {
		c->cb(c->arg, err, NULL);
	} else if (PQntuples(res) == 0) {
		c->cb(c->arg, NULL, NULL);
	} else {
		json_t *cluster = storage_json_value(res, 0, 0);

		c->cb(c->arg, cluster ? NULL : &bad_shape, cluster);
		json_decref(cluster);
	}
	free(c);
}

void storage_cluster_get(struct db_pool *db, const char *tenant, const char *name,
			 storage_cluster_cb cb, void *arg)
{
	const char *p[] = {tenant, name};

	db_query(db,
		 "SELECT " CLUSTER_JSON(
			 "c") " FROM clusters c"
			      " WHERE c.tenant_id = $1 AND c.name = $2 AND c.deleted_at IS NULL",
		 2, p, cluster_cb, cluster_ctx_new(cb, arg));
}

void storage_cluster_create_check(struct db_pool *db, const char *tenant, const char *name,
				  const char *ns_default, storage_cluster_cb cb, void *arg)
{
	const char *p[] = {tenant, name, ns_default};

	db_query(db,
		 "WITH ns AS (SELECT coalesce((SELECT x.namespace FROM clusters x"
		 "  WHERE x.tenant_id = $1 AND x.name = $2 AND x.deleted_at IS NOT NULL"
		 "  ORDER BY x.id DESC LIMIT 1), $3) AS name)"
		 " SELECT jsonb_build_object('namespace', ns.name,"
		 "  'exists', EXISTS (SELECT 1 FROM clusters x WHERE x.tenant_id = $1"
		 "   AND x.name = $2 AND x.deleted_at IS NULL),"
		 "  'taken', EXISTS (SELECT 1 FROM clusters x WHERE x.namespace = ns.name"
		 "   AND NOT (x.tenant_id = $1 AND x.name = $2)))"
		 " FROM ns",
		 3, p, cluster_cb, cluster_ctx_new(cb, arg));
}

/*
 * The credentials of a cluster's Elasticsearch (clusters.es_security): the
 * elastic user's password and the CA, never the keys nor esaas's own
 * user's password.  Every read of a
 * secured cluster's credentials writes an audit_log row in the same
 * statement, with who read them.
 */
#define CREDENTIALS_SQL                                                                \
	"WITH c AS (SELECT * FROM clusters WHERE tenant_id = $1 AND name = $2"         \
	"  AND deleted_at IS NULL),"                                                   \
	" au AS (INSERT INTO audit_log (actor, action, tenant_id, detail)"             \
	"  SELECT $3, 'cluster.credentials.read', c.tenant_id,"                        \
	"   jsonb_build_object('cluster', c.name, 'namespace', c.namespace)"           \
	"  FROM c WHERE c.es_security IS NOT NULL RETURNING id)"                       \
	" SELECT jsonb_build_object('cluster', c.name, 'tenant', c.tenant_id,"         \
	"  'namespace', c.namespace, 'security', c.es_security IS NOT NULL,"           \
	"  'username', CASE WHEN c.es_security IS NOT NULL THEN 'elastic' END,"        \
	"  'password', c.es_security->>'elastic', 'ca_crt', c.es_security->>'ca_crt'," \
	"  'audit_id', (SELECT max(id) FROM au))"                                      \
	" FROM c"

void storage_cluster_credentials(struct db_pool *db, const char *tenant, const char *name,
				 const char *actor, storage_cluster_cb cb, void *arg)
{
	const char *p[] = {tenant, name, actor};

	db_query(db, CREDENTIALS_SQL, 3, p, cluster_cb, cluster_ctx_new(cb, arg));
}

void storage_cluster_list(struct db_pool *db, const char *tenant, storage_cluster_cb cb, void *arg)
{
	const char *p[] = {tenant};

	db_query(db,
		 "SELECT jsonb_build_object('clusters', coalesce(jsonb_agg(" CLUSTER_ITEM_JSON(
			 "c") " ORDER BY c.tenant_id, c.name), '[]'::jsonb))"
			      " FROM clusters c WHERE ($1::text IS NULL OR c.tenant_id = $1)"
			      " AND c.deleted_at IS NULL",
		 1, p, cluster_cb, cluster_ctx_new(cb, arg));
}

/* --- pause and resume ------------------------------------------------------------ */

/* The cluster's jobs waiting in its queue. */
#define QUEUED_COUNT(c) \
	"(SELECT count(*) FROM jobs q WHERE q.cluster_id = " c ".id AND q.status = 'queued')"

/*
 * $1 tenant, $2 name, $3 actor, $4 reason.  c is the cluster row as
 * locked, its newest version (a resume holds the same lock).  u records
 * the pause unless there is one already; a is the job in progress, which
 * gets a 'pause_requested' event: it stops at its next safe boundary (the
 * transition that reaches it reads the pause: storage/jobrun.c).
 */
#define PAUSE_SQL                                                                                 \
	"WITH c AS (SELECT * FROM clusters WHERE tenant_id = $1 AND name = $2"                    \
	"  AND deleted_at IS NULL FOR UPDATE),"                                                   \
	" u AS (UPDATE clusters k SET paused_at = now(), paused_by = $3, paused_reason = $4,"     \
	"  updated_at = now() FROM c WHERE k.id = c.id AND c.paused_at IS NULL RETURNING k.*),"   \
	" a AS (SELECT j.* FROM jobs j, c WHERE j.cluster_id = c.id"                              \
	"  AND j.status IN ('running', 'waiting', 'cancelling', 'paused')"                        \
	"  ORDER BY j.queue_seq LIMIT 1),"                                                        \
	" ev AS (INSERT INTO job_events (job_id, from_state, to_state, outcome, status, attempt," \
	"  actor, detail, reason)"                                                                \
	"  SELECT a.id, a.state, a.state, 'pause_requested', a.status, a.attempt, $3,"            \
	"   CASE WHEN a.ending IS NOT NULL THEN format('pause of cluster %s requested: %s;"       \
	" the job is undoing its changes and runs that to its end', u.name, $4::text)"            \
	"   ELSE format('pause of cluster %s requested: %s; the job stops at its next safe"       \
	" boundary', u.name, $4::text) END"                                                       \
	"  , $4 FROM a, u RETURNING id),"                                                         \
	" au AS (INSERT INTO audit_log (actor, action, tenant_id, detail)"                        \
	"  SELECT $3, 'cluster.pause', u.tenant_id, jsonb_build_object('cluster', u.name,"        \
	"   'reason', $4::text, 'job', (SELECT a.id FROM a)) FROM u RETURNING id)"                \
	" SELECT jsonb_build_object('cluster', c.name, 'tenant', c.tenant_id,"                    \
	"  'changed', EXISTS (SELECT 1 FROM u),"                                                  \
	"  'paused', coalesce((SELECT " CLUSTER_PAUSE("x") " FROM u x), " CLUSTER_PAUSE(          \
		"c") "),"                                                                         \
		     "  'job', (SELECT " JOB_BRIEF(                                               \
			     "a") " || jsonb_build_object('ending', a.ending) FROM a),"           \
				  "  'queued', " QUEUED_COUNT(                                    \
					  "c") ", 'audit_id', (SELECT max(id) FROM au))"          \
					       " FROM c"

void storage_cluster_pause(struct db_pool *db, const char *tenant, const char *name,
			   const char *actor, const char *reason, storage_cluster_cb cb, void *arg)
{
	const char *p[] = {tenant, name, actor, reason};

	db_query(db, PAUSE_SQL, 4, p, cluster_cb, cluster_ctx_new(cb, arg));
}

/*
 * $1 tenant, $2 name, $3 actor, $4 reason.  u lifts the pause; r wakes the
 * paused job (status 'waiting', due now, its state's clock reset by the
 * claim, so that the time paused never counts against the state's
 * deadline; a windowed job whose maintenance window is closed waits for it
 * there, held at its boundary as a window's end holds it); a is a job
 * still on its way to a boundary, which then simply goes on.  n wakes the
 * workers.  A job that a transition pauses while this waits for the
 * cluster's lock is woken by the claim instead (storage/jobrun.c, rz).
 */
#define RESUME_SQL                                                                                 \
	"WITH c AS (SELECT * FROM clusters WHERE tenant_id = $1 AND name = $2"                     \
	"  AND deleted_at IS NULL FOR UPDATE),"                                                    \
	" u AS (UPDATE clusters k SET paused_at = NULL, paused_by = NULL, paused_reason = NULL,"   \
	"  updated_at = now() FROM c WHERE k.id = c.id AND c.paused_at IS NOT NULL"                \
	"  RETURNING k.id, k.tenant_id, k.name),"                                                  \
	" r AS (UPDATE jobs j SET status = 'waiting', next_run_at = now(),"                        \
	"  state_entered_at = NULL, observation = NULL, version = j.version + 1,"                  \
	"  window_held = j.windowed AND NOT esaas_cluster_window_open(j.cluster_id),"              \
	"  updated_at = now() FROM u WHERE j.cluster_id = u.id AND j.status = 'paused'"            \
	"  RETURNING j.*),"                                                                        \
	" a AS (SELECT j.* FROM jobs j, u WHERE j.cluster_id = u.id"                               \
	"  AND j.status IN ('running', 'waiting', 'cancelling') ORDER BY j.queue_seq LIMIT 1),"    \
	" ev AS (INSERT INTO job_events (job_id, from_state, to_state, outcome, status, attempt,"  \
	"  actor, detail, reason)"                                                                 \
	"  SELECT x.id, x.state, x.state, 'resumed', x.status, x.attempt, $3,"                     \
	"   format('cluster %s resumed: %s; the job goes on from %s', u.name, $4::text, x.state)," \
	"   $4 FROM (SELECT id, state, status, attempt FROM r UNION ALL"                           \
	"    SELECT id, state, status, attempt FROM a) x, u RETURNING id),"                        \
	" au AS (INSERT INTO audit_log (actor, action, tenant_id, detail)"                         \
	"  SELECT $3, 'cluster.resume', u.tenant_id, jsonb_build_object('cluster', u.name,"        \
	"   'reason', $4::text, 'job', coalesce((SELECT max(r.id) FROM r), (SELECT a.id FROM a)))" \
	"  FROM u RETURNING id),"                                                                  \
	" n AS (SELECT pg_notify('" JOBS_NOTIFY_CHANNEL "', '') FROM u)"                           \
	" SELECT jsonb_build_object('cluster', c.name, 'tenant', c.tenant_id,"                     \
	"  'changed', EXISTS (SELECT 1 FROM u), 'paused', NULL::jsonb,"                            \
	"  'job', coalesce((SELECT " JOB_BRIEF(                                                    \
		"r") " FROM r LIMIT 1),"                                                           \
		     "   (SELECT " JOB_BRIEF(                                                      \
			     "a") " FROM a)),"                                                     \
				  "  'queued', " QUEUED_COUNT(                                     \
					  "c") ", 'audit_id', (SELECT max(id) FROM au),"           \
					       "  'notified', (SELECT count(*) FROM n))"           \
					       " FROM c"

void storage_cluster_resume(struct db_pool *db, const char *tenant, const char *name,
			    const char *actor, const char *reason, storage_cluster_cb cb, void *arg)
{
	const char *p[] = {tenant, name, actor, reason};

	db_query(db, RESUME_SQL, 4, p, cluster_cb, cluster_ctx_new(cb, arg));
}
