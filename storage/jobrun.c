/*
 * The job runtime's statements (storage/jobrun.h).  Each is one statement,
 * its own transaction; the callers' values travel as parameters only.
 */
#include "storage/jobrun.h"
#include "storage/jobs.h"
#include "common/log.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An integer as text for a statement parameter. */
struct numbuf {
	char s[24];
};

static const char *num_text(struct numbuf *b, int64_t v)
{
	snprintf(b->s, sizeof(b->s), "%lld", (long long)v);
	return b->s;
}

/* kinds as a text[] literal: {"a","b"}. */
static char *text_array(const char *const *items, int n)
{
	size_t cap = 3;
	for (int i = 0; i < n; i++)
		cap += 2 * strlen(items[i]) + 3;
	char *s = xmalloc(cap);
	size_t l = 0;
	s[l++] = '{';
	for (int i = 0; i < n; i++) {
		if (i)
			s[l++] = ',';
		s[l++] = '"';
		for (const char *c = items[i]; *c; c++) {
			if (*c == '"' || *c == '\\')
				s[l++] = '\\';
			s[l++] = *c;
		}
		s[l++] = '"';
	}
	s[l++] = '}';
	s[l] = '\0';
	return s;
}

static bool is_true(PGresult *res, int row, int col)
{
	return strcmp(PQgetvalue(res, row, col), "t") == 0;
}

/* A statement's callback, with its argument. */
struct call {
	void (*done)(struct call *c, PGresult *res, const struct db_error *err);
	union {
		storage_jobrun_claim_cb claim;
		storage_jobrun_write_cb write;
		storage_jobrun_wake_cb wake;
		storage_jobrun_transition_cb transition;
		storage_jobrun_done_cb done;
		storage_jobrun_heartbeat_cb heartbeat;
		storage_jobrun_gauges_cb gauges;
	} cb;
	bool claim_only; /* write_done: cb.claim, else cb.write */
	void *arg;
};

static struct call *call_new(void (*done)(struct call *, PGresult *, const struct db_error *),
			     void *arg)
{
	struct call *c = xcalloc(1, sizeof(*c));
	c->done = done;
	c->arg = arg;
	return c;
}

static void call_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct call *c = arg;
	c->done(c, res, err);
	free(c);
}

/*
 * $1 owner, $2 kinds.  A windowed job that its window holds (queued, or
 * stopped at a boundary) is due at the next opening, whatever its
 * next_run_at says: the claim leaves it until then.
 */
static const char NEXT_WAKE_SQL[] =
	"SELECT (extract(epoch FROM min(greatest(j.next_run_at,"
	"  coalesce(j.lease_expires_at, j.next_run_at),"
	"  CASE WHEN j.windowed AND (j.status = 'queued'"
	"    OR (j.status = 'waiting' AND j.window_held))"
	"   THEN (SELECT w.due FROM esaas_window_wait(j.cluster_id) w) END))"
	"  - now()) * 1000)::bigint"
	" FROM jobs j WHERE j.status IN ('queued', 'running', 'waiting', 'cancelling')"
	"  AND NOT (j.lease_owner IS NOT NULL AND j.lease_owner = $1)"
	"  AND j.kind = ANY($2::text[])"
	"  AND NOT (j.status = 'queued' AND EXISTS (SELECT 1 FROM jobs p"
	"   WHERE p.tenant_id = j.tenant_id AND p.cluster = j.cluster AND p.id <> j.id"
	"   AND p.status IN ('running', 'waiting', 'cancelling')))"
	"  AND NOT (j.status = 'queued' AND EXISTS (SELECT 1 FROM jobs p"
	"   WHERE p.cluster_id = j.cluster_id AND p.status = 'paused'))"
	"  AND NOT (j.status = 'queued' AND EXISTS (SELECT 1 FROM jobs p"
	"   WHERE p.tenant_id = j.tenant_id AND p.cluster = j.cluster"
	"   AND p.status = 'queued' AND p.queue_seq < j.queue_seq))"
	"  AND NOT ((j.status = 'queued' OR (j.status = 'waiting' AND j.window_held))"
	"   AND EXISTS (SELECT 1 FROM clusters k"
	"   WHERE k.id = j.cluster_id AND k.paused_at IS NOT NULL))";

static void next_wake_done(struct call *c, PGresult *res, const struct db_error *err)
{
	storage_jobrun_wake_cb cb = c->cb.wake;
	int64_t ms = 0;
	bool found = !err && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) &&
		     parse_int64(PQgetvalue(res, 0, 0), INT64_MIN, INT64_MAX, &ms);

	cb(c->arg, err, found, found ? ms : 0);
}

void storage_jobrun_next_wake(struct db_pool *db, const char *owner, const char *const *kinds,
			      int nkinds, storage_jobrun_wake_cb cb, void *arg)
{
	char *k = text_array(kinds, nkinds);
	const char *p[] = {owner, k};

	struct call *c = call_new(next_wake_done, arg);
	c->cb.wake = cb;
	db_query_prepared(db, "esaas_jobrun_next_wake", NEXT_WAKE_SQL, 2, p, call_cb, c);
	free(k);
}

/*
 * $1 the job.  A waiting job whose next run is later, held by no one, runs
 * now: what it waits for may have come (a watch event).  Not one that waits
 * for its maintenance window: nothing it watches opens that.
 */
static const char WAKE_JOB_SQL[] = "UPDATE jobs SET next_run_at = now()"
				   " WHERE id = $1 AND status = 'waiting' AND lease_owner IS NULL"
				   "  AND next_run_at > now() AND NOT window_held RETURNING id";

static void wake_job_done(struct call *c, PGresult *res, const struct db_error *err)
{
	storage_jobrun_wake_cb cb = c->cb.wake;
	cb(c->arg, err, !err && PQntuples(res) > 0, 0);
}

void storage_jobrun_wake_job(struct db_pool *db, int64_t id, storage_jobrun_wake_cb cb, void *arg)
{
	struct numbuf i;
	const char *p[] = {num_text(&i, id)};

	struct call *c = call_new(wake_job_done, arg);
	c->cb.wake = cb;
	db_query_wait(db, WAKE_JOB_SQL, 1, p, call_cb, c);
}

/* --- transitions and claims ------------------------------------------------------ */

/* A job made esaas's own user of a cluster whose record did not say so
 * yet (states/security.c): the transition adds the flag and its password
 * ("esaas") to the cluster's record, the same CA's, and nothing else. */
#define ESAAS_USER_MADE                                                                   \
	"(c.es_security IS NOT NULL AND t.context->'es_security'->>'esaas_user' = 'true'" \
	" AND c.es_security->>'esaas_user' IS DISTINCT FROM 'true'"                       \
	" AND t.context->'es_security'->>'ca_crt' = c.es_security->>'ca_crt')"

/*
 * One statement writes a batch of transitions and claims the next jobs, in
 * one round trip and one commit.  $1 owner, $2 the rows (a JSON array of
 * struct jobrun_transition), $3 the lease in seconds, extended by every
 * transition that keeps it and given to every claimed job, $4 the kinds
 * to claim, $5 how many jobs to claim at most (0: none; a claim alone is
 * an empty batch).
 *
 * u writes the rows that pass the fence; done_before finds those an earlier
 * send already wrote; rep finds the waits that repeat their job's last
 * event (the same state, status, attempt and detail: nothing new was
 * seen), which ru counts on that event (polls, last_at) instead of e
 * appending a row per poll; e records the other events; cl records the end of a job on
 * its cluster (storage/jobrun.h), and keeps with the cluster the security a
 * create made (context es_security, never replaced once kept, dropped with
 * the cluster when it is deleted), adding to it only esaas's own user once
 * a job has made it (ESAAS_USER_MADE); n wakes the other replicas when a job
 * ends (the next job with its cluster key may start) or is handed back to
 * run now.
 *
 * c chooses the jobs to claim and cl_u takes their leases, finding them by
 * their ids (the ANY): a plan made for any limit (the prepared statement's
 * generic plan) would otherwise expect a tenth of the table and read all
 * of it.  Every part of
 * one statement reads the same snapshot, taken before the batch is
 * written: a job of the batch is never claimed by it (no row is changed
 * twice), and a job whose predecessor with its cluster key ends in this
 * batch waits for the next claim, which the NOTIFY of that end wakes.
 * started_at is the moment of the claim itself (clock_timestamp), not the
 * transaction's start (now): the claim is decided on a snapshot taken after
 * now(), and the history must not make a job seem to start before its
 * predecessor with the same cluster key had finished.
 *
 * pz finds the jobs of the batch that reach a safe boundary (t.pause) of a
 * paused cluster: u stops them there, unless a cancel was requested
 * meanwhile (the cancel goes first) ('paused', lease given back, the
 * pause's reason as observation) and e adds a 'paused' event after the
 * transition's own.  It reads the cluster row FOR SHARE: a resume holds it
 * FOR UPDATE, so a job is never paused by a pause that a committed resume
 * has lifted.  rz, in a statement that claims, wakes any paused job whose
 * cluster is no longer paused all the same (a resume whose snapshot missed
 * a pause written meanwhile): it is claimed by the next claim, which n
 * wakes.
 *
 * wz finds the windowed jobs of the batch that reach a safe boundary while
 * their cluster's maintenance windows are closed and no pause stops them
 * first: unless a cancel was requested meanwhile, u stops such a job there
 * (status 'waiting' with window_held, lease given back, due at the next
 * opening, its state's clock reset) and e adds a 'window_closed' event
 * after the transition's own.  c leaves a windowed job that is queued or
 * held while its windows are closed, and a held one while its cluster is
 * paused (it stopped at a boundary already: it stays there until the
 * resume); cl_u clears window_held when it is claimed.
 *
 * The answer: 'w' rows, each a transition committed (id, status, whether
 * the window held it in the observation's column, cancel_requested and, in
 * the last column, whether n ran), then 'c' rows, each a claimed
 * job (the columns of struct jobrun_claimed, in claimed_row()'s order).
 */
static const char TRANSITION_SQL[] =
	"WITH t AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS x("
	"  id bigint, epoch bigint, version bigint, status text, state text, attempt integer,"
	"  context jsonb, error text, observation text, failed_state text, ending text,"
	"  delay_ms bigint, release boolean, entered boolean, pause boolean, ev_from text,"
	"  ev_outcome text, ev_attempt integer, ev_detail text, ev_started_us bigint,"
	"  ev_duration_ms bigint)),"
	" pz AS (SELECT t.id, k.paused_by, k.paused_reason FROM t JOIN jobs j ON j.id = t.id"
	"  JOIN clusters k ON k.id = j.cluster_id"
	"  WHERE t.pause AND k.paused_at IS NOT NULL FOR SHARE OF k),"
	" wz AS (SELECT x.id, x.next_open FROM (SELECT t.id,"
	"   esaas_window_held_until(j.cluster_id) AS next_open"
	"   FROM t JOIN jobs j ON j.id = t.id WHERE t.pause AND j.windowed"
	"   AND NOT EXISTS (SELECT 1 FROM pz WHERE pz.id = t.id)) x"
	"  WHERE x.next_open IS NOT NULL),"
	" u AS (UPDATE jobs j SET"
	"  status = CASE WHEN pz.id IS NOT NULL AND NOT j.cancel_requested THEN 'paused'"
	"           WHEN wz.id IS NOT NULL AND NOT j.cancel_requested THEN 'waiting'"
	"           WHEN t.status = 'waiting' AND j.cancel_requested AND t.ending IS NULL"
	"           THEN 'cancelling' ELSE t.status END,"
	"  state = t.state, attempt = t.attempt, context = t.context, error = t.error,"
	"  observation = CASE WHEN pz.id IS NOT NULL AND NOT j.cancel_requested"
	"           THEN format('paused before %s, as %s asked: %s', t.state, pz.paused_by,"
	"           pz.paused_reason)"
	"           WHEN wz.id IS NOT NULL AND NOT j.cancel_requested"
	"           THEN format('waits for the maintenance window opening at %s: its window"
	" closed, so it stopped at a safe boundary, before %s',"
	"           esaas_window_opening_text(j.cluster_id, wz.next_open), t.state)"
	"           ELSE t.observation END,"
	"  window_held = wz.id IS NOT NULL AND NOT j.cancel_requested,"
	"  failed_state = t.failed_state, ending = t.ending,"
	"  next_run_at = CASE WHEN t.status = 'waiting' AND j.cancel_requested AND t.ending IS NULL"
	"           THEN now() WHEN wz.id IS NOT NULL AND NOT j.cancel_requested THEN wz.next_open"
	"           ELSE now() + t.delay_ms * interval '1 millisecond' END,"
	"  state_entered_at = CASE WHEN wz.id IS NOT NULL AND NOT j.cancel_requested THEN NULL"
	"           WHEN t.entered THEN now() ELSE j.state_entered_at END,"
	"  lease_owner = CASE WHEN t.release OR (pz.id IS NOT NULL AND NOT j.cancel_requested)"
	"           OR (wz.id IS NOT NULL AND NOT j.cancel_requested) THEN NULL"
	"           ELSE j.lease_owner END,"
	"  lease_expires_at = CASE WHEN t.release"
	"           OR (pz.id IS NOT NULL AND NOT j.cancel_requested)"
	"           OR (wz.id IS NOT NULL AND NOT j.cancel_requested) THEN NULL"
	"           ELSE now() + $3 * interval '1 second' END,"
	"  finished_at = CASE WHEN t.status IN ('succeeded', 'failed', 'cancelled') THEN now() END,"
	"  version = j.version + 1, updated_at = now()"
	"  FROM t LEFT JOIN pz ON pz.id = t.id LEFT JOIN wz ON wz.id = t.id"
	"  WHERE j.id = t.id AND j.lease_owner = $1 AND j.lease_epoch = t.epoch"
	"   AND j.version = t.version"
	"  RETURNING j.id, j.status, j.cancel_requested, t.release, t.delay_ms,"
	"   j.status = 'paused' AS paused, pz.paused_by, pz.paused_reason,"
	"   j.window_held AS held, wz.next_open, j.cluster_id),"
	" done_before AS (SELECT j.id, j.status, j.cancel_requested, j.window_held"
	"  FROM jobs j JOIN t ON j.id = t.id"
	"  WHERE j.version = t.version + 1 AND j.lease_epoch = t.epoch"
	"   AND (j.lease_owner = $1 OR j.lease_owner IS NULL)),"
	" rep AS (SELECT t.id AS job_id, l.id AS ev_id FROM t JOIN u ON u.id = t.id"
	"  CROSS JOIN LATERAL (SELECT x.* FROM job_events x WHERE x.job_id = t.id"
	"   ORDER BY x.id DESC LIMIT 1) l"
	"  WHERE t.ev_outcome = 'wait' AND l.outcome = 'wait' AND l.actor = 'engine'"
	"   AND l.from_state IS NOT DISTINCT FROM t.ev_from AND l.to_state = t.state"
	"   AND l.status = u.status AND l.attempt = t.ev_attempt"
	"   AND l.detail IS NOT DISTINCT FROM t.ev_detail),"
	" ru AS (UPDATE job_events x SET polls = x.polls + 1, last_at = now()"
	"  FROM rep WHERE x.id = rep.ev_id RETURNING x.id),"
	" e AS (INSERT INTO job_events (job_id, started_at, from_state, to_state, outcome, status,"
	"  attempt, actor, worker, detail, duration_ms, reason)"
	"  SELECT x.job_id, x.started_at, x.from_state, x.to_state, x.outcome, x.status,"
	"   x.attempt, 'engine', $1, x.detail, x.duration_ms, x.reason FROM ("
	"   SELECT t.id AS job_id, to_timestamp(t.ev_started_us / 1000000.0) AS started_at,"
	"    t.ev_from AS from_state, t.state AS to_state, t.ev_outcome AS outcome,"
	"    CASE WHEN u.paused OR u.held THEN t.status ELSE u.status END AS status,"
	"    t.ev_attempt AS attempt, t.ev_detail AS detail, t.ev_duration_ms AS duration_ms,"
	"    NULL::text AS reason, 0 AS ord"
	"   FROM t JOIN u ON u.id = t.id"
	"   WHERE NOT EXISTS (SELECT 1 FROM rep WHERE rep.job_id = t.id)"
	"   UNION ALL SELECT t.id, now(), t.state, t.state, 'paused', 'paused', 1,"
	"    format('paused at a safe boundary, before %s, as %s asked: %s; resume goes on"
	" from there', t.state, u.paused_by, u.paused_reason), 0, u.paused_reason, 1"
	"   FROM t JOIN u ON u.id = t.id WHERE u.paused"
	"   UNION ALL SELECT t.id, now(), t.state, t.state, 'window_closed', 'waiting', 1,"
	"    format('its maintenance window closed: stopped at a safe boundary, before %s;"
	" it goes on when the next window opens, at %s', t.state,"
	"    esaas_window_opening_text(u.cluster_id, u.next_open)),"
	"    0, NULL, 1"
	"   FROM t JOIN u ON u.id = t.id WHERE u.held) x ORDER BY x.job_id, x.ord),"
	" cl AS (UPDATE clusters c SET"
	"  observed = CASE WHEN f.fin THEN t.context->'observed' ELSE c.observed END,"
	"  updated_at = now(),"
	"  spec = CASE WHEN f.fin THEN coalesce(t.context->'spec', c.spec) ELSE c.spec END,"
	"  deleted_at = CASE WHEN f.fin AND t.context->>'cluster_deleted' = 'true' THEN now()"
	"   ELSE c.deleted_at END,"
	"  es_security = CASE WHEN f.fin AND t.context->>'cluster_deleted' = 'true' THEN NULL"
	"   WHEN c.es_security IS NULL THEN t.context->'es_security'"
	"   WHEN " ESAAS_USER_MADE " THEN c.es_security || jsonb_build_object('esaas_user', true,"
	"    'esaas', t.context->'es_security'->'esaas')"
	"   ELSE c.es_security END"
	"  FROM t JOIN u ON u.id = t.id JOIN jobs j ON j.id = t.id"
	"  CROSS JOIN LATERAL (SELECT u.status IN ('succeeded', 'failed', 'cancelled')"
	"   AND t.context ? 'observed' AS fin) f"
	"  WHERE (f.fin OR (t.context ? 'es_security' AND c.es_security IS NULL) "
	"OR " ESAAS_USER_MADE ")"
	"   AND c.tenant_id = j.tenant_id AND c.name = j.cluster AND c.deleted_at IS NULL),"
	" rz AS (UPDATE jobs j SET status = 'waiting', next_run_at = now(), state_entered_at = "
	"NULL,"
	"  observation = NULL, version = j.version + 1, updated_at = now(),"
	"  window_held = j.windowed AND NOT esaas_cluster_window_open(j.cluster_id)"
	"  FROM clusters k WHERE j.status = 'paused' AND k.id = j.cluster_id"
	"   AND k.paused_at IS NULL AND j.kind = ANY($4::text[]) AND $5::int > 0"
	"   AND NOT EXISTS (SELECT 1 FROM t WHERE t.id = j.id) RETURNING j.id),"
	" n AS (SELECT pg_notify('" JOBS_NOTIFY_CHANNEL "', '') WHERE EXISTS (SELECT 1 FROM u"
	"  WHERE u.status IN ('succeeded', 'failed', 'cancelled', 'cancelling')"
	"   OR (u.release AND u.delay_ms = 0)) OR EXISTS (SELECT 1 FROM rz)),"
	" c AS (SELECT j.id, j.lease_owner AS prev_owner FROM jobs j"
	"  WHERE j.status IN ('queued', 'running', 'waiting', 'cancelling')"
	"   AND j.next_run_at <= now()"
	"   AND (j.lease_owner IS NULL OR j.lease_expires_at < now())"
	"   AND j.kind = ANY($4::text[])"
	"   AND NOT EXISTS (SELECT 1 FROM t WHERE t.id = j.id)"
	"   AND NOT EXISTS (SELECT 1 FROM jobs p WHERE p.tenant_id = j.tenant_id"
	"    AND p.cluster = j.cluster AND p.id <> j.id"
	"    AND p.status IN ('running', 'waiting', 'cancelling'))"
	"   AND NOT EXISTS (SELECT 1 FROM jobs p WHERE p.cluster_id = j.cluster_id"
	"    AND p.id <> j.id AND p.status = 'paused')"
	"   AND NOT (j.status = 'queued' AND EXISTS (SELECT 1 FROM jobs p"
	"    WHERE p.tenant_id = j.tenant_id AND p.cluster = j.cluster"
	"    AND p.status = 'queued' AND p.queue_seq < j.queue_seq))"
	"   AND NOT (j.status = 'queued' AND EXISTS (SELECT 1 FROM clusters k"
	"    WHERE k.id = j.cluster_id AND k.paused_at IS NOT NULL))"
	"   AND NOT (j.windowed AND (j.status = 'queued'"
	"    OR (j.status = 'waiting' AND j.window_held))"
	"    AND NOT esaas_cluster_window_open(j.cluster_id))"
	"   AND NOT (j.window_held AND j.status = 'waiting' AND EXISTS (SELECT 1 FROM clusters k"
	"    WHERE k.id = j.cluster_id AND k.paused_at IS NOT NULL))"
	"  ORDER BY j.next_run_at, j.queue_seq LIMIT $5 FOR UPDATE OF j SKIP LOCKED),"
	" cl_u AS (UPDATE jobs j SET lease_owner = $1, lease_epoch = j.lease_epoch + 1,"
	"  lease_expires_at = now() + $3 * interval '1 second',"
	"  status = CASE WHEN j.status IN ('queued', 'waiting') THEN 'running' ELSE j.status END,"
	"  started_at = coalesce(j.started_at, clock_timestamp()),"
	"  state_entered_at = coalesce(j.state_entered_at, now()), window_held = false,"
	"  updated_at = now()"
	"  FROM c WHERE j.id = c.id AND j.id = ANY (ARRAY(SELECT id FROM c))"
	"  RETURNING j.id, j.lease_epoch, j.version, j.tenant_id, j.cluster, j.kind, j.state,"
	"   j.status, j.attempt, j.params, j.context, j.error, j.failed_state, j.observation,"
	"   j.ending, j.cancel_requested,"
	"   (extract(epoch FROM now() - j.state_entered_at) * 1000)::bigint AS elapsed_ms,"
	"   c.prev_owner, j.cluster_id,"
	"   (SELECT k.namespace FROM clusters k WHERE k.id = j.cluster_id) AS namespace,"
	"   (SELECT k.es_security FROM clusters k WHERE k.id = j.cluster_id) AS es_security)"
	" SELECT 'c', cl_u.*, 0::bigint FROM cl_u"
	" UNION ALL SELECT 'w', u.id, NULL, NULL, NULL, NULL, NULL, NULL, u.status, NULL, NULL,"
	"  NULL, NULL, NULL, CASE WHEN u.held THEN 't' END, NULL, u.cancel_requested,"
	"  NULL, NULL, NULL, NULL, NULL, (SELECT count(*) FROM n) FROM u"
	" UNION ALL SELECT 'w', id, NULL, NULL, NULL, NULL, NULL, NULL, status, NULL, NULL, NULL,"
	"  NULL, NULL, CASE WHEN window_held THEN 't' END, NULL, cancel_requested,"
	"  NULL, NULL, NULL, NULL, NULL, 0"
	"  FROM done_before";

/* The columns of a claimed job in TRANSITION_SQL's answer, from its second. */
static void claimed_row(PGresult *res, int i, struct jobrun_claimed *r)
{
	r->valid = parse_int64(PQgetvalue(res, i, 1), 1, INT64_MAX, &r->id) &&
		   parse_int64(PQgetvalue(res, i, 2), 0, INT64_MAX, &r->epoch) &&
		   parse_int64(PQgetvalue(res, i, 3), 0, INT64_MAX, &r->version) &&
		   parse_int(PQgetvalue(res, i, 9), 1, INT32_MAX, &r->attempt);
	if (!parse_int64(PQgetvalue(res, i, 17), INT64_MIN, INT64_MAX, &r->state_elapsed_ms))
		r->state_elapsed_ms = 0;
	r->tenant = PQgetvalue(res, i, 4);
	r->cluster = PQgetvalue(res, i, 5);
	r->kind = PQgetvalue(res, i, 6);
	r->state = PQgetvalue(res, i, 7);
	r->status = PQgetvalue(res, i, 8);
	r->params = json_loads(PQgetvalue(res, i, 10), 0, NULL);
	r->context = json_loads(PQgetvalue(res, i, 11), 0, NULL);
	r->error = db_value(res, i, 12);
	r->failed_state = db_value(res, i, 13);
	r->observation = db_value(res, i, 14);
	r->ending = db_value(res, i, 15);
	r->cancel_requested = is_true(res, i, 16);
	r->prev_owner = db_value(res, i, 18);
	if (PQgetisnull(res, i, 19) ||
	    !parse_int64(PQgetvalue(res, i, 19), 1, INT64_MAX, &r->cluster_id))
		r->cluster_id = 0;
	r->ns = db_value(res, i, 20);
	r->es_security = db_value(res, i, 21);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *transition_json(const struct jobrun_transition *t)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(t->id));
	json_object_set_new(o, "epoch", json_integer(t->epoch));
	json_object_set_new(o, "version", json_integer(t->version));
	json_object_set_new(o, "status", json_string(t->status));
	json_object_set_new(o, "state", json_string(t->state));
	json_object_set_new(o, "attempt", json_integer(t->attempt));
	json_object_set(o, "context", t->context);
	json_object_set_new(o, "error", str_or_null(t->error));
	json_object_set_new(o, "observation", str_or_null(t->observation));
	json_object_set_new(o, "failed_state", str_or_null(t->failed_state));
	json_object_set_new(o, "ending", str_or_null(t->ending));
	json_object_set_new(o, "delay_ms", json_integer(t->delay_ms));
	json_object_set_new(o, "release", json_boolean(t->release));
	json_object_set_new(o, "entered", json_boolean(t->entered));
	json_object_set_new(o, "pause", json_boolean(t->pause));
	json_object_set_new(o, "ev_from", str_or_null(t->ev_from));
	json_object_set_new(o, "ev_outcome", json_string(t->ev_outcome));
	json_object_set_new(o, "ev_attempt", json_integer(t->ev_attempt));
	json_object_set_new(o, "ev_detail", str_or_null(t->ev_detail));
	json_object_set_new(o, "ev_started_us", json_integer(t->ev_started_us));
	json_object_set_new(o, "ev_duration_ms", json_integer(t->ev_duration_ms));
	return o;
}

static void write_done(struct call *c, PGresult *res, const struct db_error *err)
{
	if (err) {
		if (!c->claim_only)
			c->cb.write(c->arg, err, NULL, 0, NULL, 0);
		else
			c->cb.claim(c->arg, err, NULL, 0);
		return;
	}
	int rows_n = PQntuples(res), nw = 0, nc = 0;
	struct jobrun_committed *written = xcalloc((size_t)rows_n + 1, sizeof(*written));
	struct jobrun_claimed *claimed = xcalloc((size_t)rows_n + 1, sizeof(*claimed));
	for (int i = 0; i < rows_n; i++) {
		if (strcmp(PQgetvalue(res, i, 0), "c") == 0) {
			claimed_row(res, i, &claimed[nc++]);
			continue;
		}
		struct jobrun_committed *w = &written[nw++];
		if (!parse_int64(PQgetvalue(res, i, 1), 1, INT64_MAX, &w->id))
			w->id = 0;
		w->cancel_requested = is_true(res, i, 16);
		w->paused = strcmp(PQgetvalue(res, i, 8), "paused") == 0;
		w->window_held = is_true(res, i, 14);
	}
	if (!c->claim_only)
		c->cb.write(c->arg, NULL, written, nw, claimed, nc);
	else
		c->cb.claim(c->arg, NULL, claimed, nc);
	for (int i = 0; i < nc; i++) {
		json_decref(claimed[i].params);
		json_decref(claimed[i].context);
	}
	free(claimed);
	free(written);
}

static void write_send(struct db_pool *db, const char *owner, int lease_s,
		       const struct jobrun_transition *t, int n, int claim_limit,
		       const char *const *kinds, int nkinds, struct call *c)
{
	json_t *arr = json_array();
	for (int i = 0; i < n; i++)
		json_array_append_new(arr, transition_json(&t[i]));
	char *body = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	char *k = text_array(kinds, nkinds);
	struct numbuf lease, lim;
	const char *p[] = {owner, body, num_text(&lease, lease_s), k,
			   num_text(&lim, claim_limit > 0 ? claim_limit : 0)};

	db_query_prepared(db, "esaas_jobrun_transition", TRANSITION_SQL, 5, p, call_cb, c);
	free(k);
	free(body);
}

void storage_jobrun_write(struct db_pool *db, const char *owner, int lease_s,
			  const struct jobrun_transition *t, int n, int claim_limit,
			  const char *const *kinds, int nkinds, storage_jobrun_write_cb cb,
			  void *arg)
{
	struct call *c = call_new(write_done, arg);
	c->cb.write = cb;
	write_send(db, owner, lease_s, t, n, claim_limit, kinds, nkinds, c);
}

/* The transitions alone, for whoever does not claim. */
struct transition_only {
	storage_jobrun_transition_cb cb;
	void *arg;
};

static void transition_only_cb(void *arg, const struct db_error *err,
			       const struct jobrun_committed *rows, int n,
			       const struct jobrun_claimed *claimed, int nclaimed)
{
	struct transition_only *o = arg;
	(void)claimed;
	(void)nclaimed;
	o->cb(o->arg, err, rows, n);
	free(o);
}

void storage_jobrun_transition(struct db_pool *db, const char *owner, int lease_s,
			       const struct jobrun_transition *t, int n,
			       storage_jobrun_transition_cb cb, void *arg)
{
	struct transition_only *o = xmalloc(sizeof(*o));
	o->cb = cb;
	o->arg = arg;
	storage_jobrun_write(db, owner, lease_s, t, n, 0, NULL, 0, transition_only_cb, o);
}

void storage_jobrun_claim(struct db_pool *db, const char *owner, int limit, int lease_s,
			  const char *const *kinds, int nkinds, storage_jobrun_claim_cb cb,
			  void *arg)
{
	struct call *c = call_new(write_done, arg);
	c->cb.claim = cb;
	c->claim_only = true;
	write_send(db, owner, lease_s, NULL, 0, limit, kinds, nkinds, c);
}

bool storage_jobrun_retryable(const struct db_error *err)
{
	if (err->kind != DB_ERR_QUERY)
		return true;
	const char *st = err->sqlstate;
	/* 40xxx serialization or deadlock, lock timeout, statement timeout, shutdown */
	return strncmp(st, "40", 2) == 0 || strcmp(st, "55P03") == 0 || strcmp(st, "57014") == 0 ||
	       strncmp(st, "57P", 3) == 0 || strncmp(st, "08", 2) == 0;
}

/* $1 id, $2 owner, $3 epoch, $4 observation. */
static const char HAND_BACK_SQL[] =
	"UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL,"
	" status = CASE WHEN status = 'running' THEN 'waiting' ELSE status END,"
	" next_run_at = now() + interval '60 seconds', observation = $4"
	" WHERE id = $1 AND lease_owner = $2 AND lease_epoch = $3";

static void hand_back_done(struct call *c, PGresult *res, const struct db_error *err)
{
	storage_jobrun_done_cb cb = c->cb.done;
	(void)res;
	cb(c->arg, err);
}

void storage_jobrun_hand_back(struct db_pool *db, int64_t id, const char *owner, int64_t epoch,
			      const char *observation, storage_jobrun_done_cb cb, void *arg)
{
	struct numbuf i, e;
	const char *p[] = {num_text(&i, id), owner, num_text(&e, epoch), observation};

	struct call *c = call_new(hand_back_done, arg);
	c->cb.done = cb;
	db_query_wait(db, HAND_BACK_SQL, 4, p, call_cb, c);
}

/* --- heartbeat ---------------------------------------------------------------------- */

/* $1 owner, $2 ids, $3 their epochs, $4 the lease in seconds. */
static const char HEARTBEAT_SQL[] =
	"WITH held AS (SELECT * FROM unnest($2::bigint[], $3::bigint[]) AS h(id, epoch)),"
	" lk AS (SELECT j.id FROM jobs j JOIN held h ON j.id = h.id"
	"  WHERE j.lease_owner = $1 AND j.lease_epoch = h.epoch FOR UPDATE OF j SKIP LOCKED),"
	" u AS (UPDATE jobs j SET lease_expires_at = now() + $4 * interval '1 second'"
	"  FROM lk WHERE j.id = lk.id RETURNING j.id)"
	" SELECT h.id, h.epoch, u.id IS NOT NULL,"
	"  coalesce(j.lease_owner = $1 AND j.lease_epoch = h.epoch, false)"
	" FROM held h LEFT JOIN u ON u.id = h.id LEFT JOIN jobs j ON j.id = h.id";

static void heartbeat_done(struct call *c, PGresult *res, const struct db_error *err)
{
	storage_jobrun_heartbeat_cb cb = c->cb.heartbeat;
	if (err) {
		cb(c->arg, err, NULL, 0);
		return;
	}
	int n = 0, rows_n = PQntuples(res);
	struct jobrun_lease_state *rows = xcalloc((size_t)rows_n + 1, sizeof(*rows));
	for (int i = 0; i < rows_n; i++) {
		struct jobrun_lease_state *r = &rows[n];
		if (!parse_int64(PQgetvalue(res, i, 0), 1, INT64_MAX, &r->id) ||
		    !parse_int64(PQgetvalue(res, i, 1), 0, INT64_MAX, &r->epoch))
			continue;
		r->renewed = is_true(res, i, 2);
		r->ours = is_true(res, i, 3);
		n++;
	}
	cb(c->arg, NULL, rows, n);
	free(rows);
}

void storage_jobrun_heartbeat(struct db_pool *db, const char *owner, int lease_s,
			      const struct jobrun_lease *held, int n,
			      storage_jobrun_heartbeat_cb cb, void *arg)
{
	/* "{1,2,3}": the ids and their epochs. */
	size_t cap = (size_t)n * 21 + 3;
	char *ids = xmalloc(cap), *epochs = xmalloc(cap);
	size_t il = 0, el = 0;
	ids[il++] = '{';
	epochs[el++] = '{';
	for (int i = 0; i < n; i++) {
		il += (size_t)snprintf(ids + il, cap - il, "%s%lld", i ? "," : "",
				       (long long)held[i].id);
		el += (size_t)snprintf(epochs + el, cap - el, "%s%lld", i ? "," : "",
				       (long long)held[i].epoch);
	}
	ids[il++] = '}';
	ids[il] = '\0';
	epochs[el++] = '}';
	epochs[el] = '\0';
	struct numbuf lease;
	const char *p[] = {owner, ids, epochs, num_text(&lease, lease_s)};

	struct call *c = call_new(heartbeat_done, arg);
	c->cb.heartbeat = cb;
	db_query_prepared(db, "esaas_jobrun_heartbeat", HEARTBEAT_SQL, 4, p, call_cb, c);
	free(ids);
	free(epochs);
}

/* --- warming --------------------------------------------------------------------- */

/* Five custom plans, then the one that makes and keeps the generic plan. */
#define WARM_TIMES 6

void storage_jobrun_warm(struct db_pool *db, const char *owner, int lease_s,
			 const char *const *kinds, int nkinds)
{
	char *k = text_array(kinds, nkinds);
	struct numbuf lease;
	const char *lease_text = num_text(&lease, lease_s);
	/* An empty batch and a claim of 0: nothing written, nothing claimed. */
	const char *write[] = {owner, "[]", lease_text, k, "0"};
	const char *wake[] = {owner, k};
	/* No job held: no lease renewed. */
	const char *beat[] = {owner, "{}", "{}", lease_text};

	db_pool_warm(db, "esaas_jobrun_transition", TRANSITION_SQL, 5, write, WARM_TIMES);
	db_pool_warm(db, "esaas_jobrun_next_wake", NEXT_WAKE_SQL, 2, wake, WARM_TIMES);
	db_pool_warm(db, "esaas_jobrun_heartbeat", HEARTBEAT_SQL, 4, beat, WARM_TIMES);
	free(k);
}

/* --- gauges ------------------------------------------------------------------------- */

/* $1 the deadlines, {"kind": {"state": ms}}. */
static const char GAUGES_SQL[] =
	"SELECT kind, status, count(*),"
	" count(*) FILTER (WHERE next_run_at <= now() AND status <> 'paused'"
	"  AND (lease_owner IS NULL OR lease_expires_at < now())),"
	" coalesce(extract(epoch FROM now() - min(next_run_at) FILTER (WHERE next_run_at <= now()"
	"  AND status <> 'paused' AND (lease_owner IS NULL OR lease_expires_at < now()))), 0),"
	" count(*) FILTER (WHERE status <> 'paused' AND state_entered_at"
	"  + ($1::jsonb -> kind ->> state)::float8 * interval '1 millisecond' < now())"
	/* Through the claim's partial index and the paused jobs' own: a
	 * list of five statuses would imply neither predicate, and scan the
	 * whole history. */
	" FROM (SELECT * FROM jobs WHERE status IN ('queued', 'running', 'waiting', 'cancelling')"
	"  UNION ALL SELECT * FROM jobs WHERE status = 'paused') jobs"
	" GROUP BY kind, status";

static void gauges_done(struct call *c, PGresult *res, const struct db_error *err)
{
	storage_jobrun_gauges_cb cb = c->cb.gauges;
	if (err) {
		cb(c->arg, err, NULL, 0);
		return;
	}
	int n = 0, rows_n = PQntuples(res);
	struct jobrun_gauge *rows = xcalloc((size_t)rows_n + 1, sizeof(*rows));
	for (int i = 0; i < rows_n; i++) {
		struct jobrun_gauge *g = &rows[n];
		if (!parse_int64(PQgetvalue(res, i, 2), 0, INT64_MAX, &g->jobs) ||
		    !parse_int64(PQgetvalue(res, i, 3), 0, INT64_MAX, &g->due) ||
		    !parse_int64(PQgetvalue(res, i, 5), 0, INT64_MAX, &g->past_deadline))
			continue;
		g->kind = PQgetvalue(res, i, 0);
		g->status = PQgetvalue(res, i, 1);
		g->oldest_due_s = strtod(PQgetvalue(res, i, 4), NULL);
		n++;
	}
	cb(c->arg, NULL, rows, n);
	free(rows);
}

void storage_jobrun_gauges(struct db_pool *db, json_t *deadlines, storage_jobrun_gauges_cb cb,
			   void *arg)
{
	char *text = json_dumps(deadlines, JSON_COMPACT);
	const char *p[] = {text};

	struct call *c = call_new(gauges_done, arg);
	c->cb.gauges = cb;
	db_query(db, GAUGES_SQL, 1, p, call_cb, c);
	free(text);
}
