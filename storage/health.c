/*
 * Cluster health queries.  Each is one statement; the sweep's writes take
 * a batch of observations as one JSON parameter, so that a thousand
 * readings cost a handful of commits.
 */
#include "storage/health.h"
#include "common/json.h"
#include "storage/jobs.h"
#include "common/log.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct db_error bad_shape = {DB_ERR_QUERY, "", "unexpected result shape"};

/* --- leases --------------------------------------------------------------------- */

/*
 * $1 owner, $2 lease in seconds.
 *
 * The fair share is the shards divided by the live replicas (this one and
 * those seen within a lease), rounded up.  A replica keeps its lowest
 * shards up to its share and gives the rest back; it claims free or
 * expired shards up to its share, skipping those another replica is
 * claiming at this moment.  So a replica that joins gets its share within
 * two heartbeats (the others give up theirs, it claims them), and the
 * shards of one that died are claimed once their leases expire.  The
 * three updates touch disjoint rows: held shards are unexpired, claimable
 * ones are not.  Replicas gone for ten leases are forgotten.
 */
#define LEASE_SQL                                                                                  \
	"WITH me AS (INSERT INTO health_sweepers (owner, seen_at) VALUES ($1, now())"              \
	"  ON CONFLICT (owner) DO UPDATE SET seen_at = excluded.seen_at RETURNING owner),"         \
	" gone AS (DELETE FROM health_sweepers"                                                    \
	"  WHERE seen_at < now() - 10 * $2 * interval '1 second' AND owner <> $1),"                \
	" live AS (SELECT count(*) + 1 AS n FROM health_sweepers"                                  \
	"  WHERE owner <> $1 AND seen_at > now() - $2 * interval '1 second'),"                     \
	" share AS (SELECT ((SELECT count(*) FROM health_shards) + n - 1) / n AS k FROM live),"    \
	" held AS (SELECT shard FROM health_shards WHERE owner = $1 AND lease_expires_at > now()"  \
	"  FOR UPDATE),"                                                                           \
	" keep AS (SELECT shard FROM held ORDER BY shard LIMIT (SELECT k FROM share)),"            \
	" free AS (SELECT shard, owner AS prev FROM health_shards"                                 \
	"  WHERE owner IS NULL OR lease_expires_at <= now() ORDER BY shard"                        \
	"  LIMIT greatest(0, (SELECT k FROM share) - (SELECT count(*) FROM keep))"                 \
	"  FOR UPDATE SKIP LOCKED),"                                                               \
	" renewed AS (UPDATE health_shards s"                                                      \
	"  SET lease_expires_at = now() + $2 * interval '1 second'"                                \
	"  FROM keep WHERE s.shard = keep.shard RETURNING s.shard, s.epoch, false AS taken_over)," \
	" claimed AS (UPDATE health_shards s SET owner = $1, epoch = s.epoch + 1,"                 \
	"  lease_expires_at = now() + $2 * interval '1 second'"                                    \
	"  FROM free WHERE s.shard = free.shard"                                                   \
	"  RETURNING s.shard, s.epoch, coalesce(free.prev <> $1, false) AS taken_over),"           \
	" released AS (UPDATE health_shards s SET owner = NULL, lease_expires_at = NULL"           \
	"  FROM held WHERE s.shard = held.shard AND s.shard NOT IN (SELECT shard FROM keep)"       \
	"  RETURNING s.shard)"                                                                     \
	" SELECT shard, epoch, taken_over FROM renewed"                                            \
	" UNION ALL SELECT shard, epoch, taken_over FROM claimed"                                  \
	" ORDER BY 1"

struct lease_ctx {
	storage_health_lease_cb cb;
	void *arg;
};

static void lease_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct lease_ctx *c = arg;
	struct health_shard *held = NULL;
	int n = 0;

	if (!err) {
		held = xcalloc((size_t)PQntuples(res) + 1, sizeof(*held));
		for (int i = 0; i < PQntuples(res); i++) {
			struct health_shard *h = &held[n];

			if (!parse_int(PQgetvalue(res, i, 0), 0, HEALTH_SHARDS - 1, &h->shard) ||
			    !parse_int64(PQgetvalue(res, i, 1), 0, INT64_MAX, &h->epoch)) {
				err = &bad_shape;
				break;
			}
			h->taken_over = strcmp(PQgetvalue(res, i, 2), "t") == 0;
			n++;
		}
	}
	if (err)
		c->cb(c->arg, err, NULL, 0);
	else
		c->cb(c->arg, NULL, held, n);
	free(held);
	free(c);
}

void storage_health_lease(struct db_pool *db, const char *owner, int lease_s,
			  storage_health_lease_cb cb, void *arg)
{
	struct lease_ctx *c = xmalloc(sizeof(*c));
	char lease[16];
	const char *p[] = {owner, lease};

	c->cb = cb;
	c->arg = arg;
	snprintf(lease, sizeof(lease), "%d", lease_s);
	/* Queued while the database is away: the replica's shards expire meanwhile. */
	db_query_wait(db, LEASE_SQL, 2, p, lease_cb, c);
}

void storage_health_release(struct db_pool *db, const char *owner, db_result_cb cb, void *arg)
{
	const char *p[] = {owner};

	db_query(db,
		 "WITH r AS (UPDATE health_shards SET owner = NULL, lease_expires_at = NULL"
		 "  WHERE owner = $1)"
		 " DELETE FROM health_sweepers WHERE owner = $1",
		 1, p, cb, arg);
}

/* --- the clusters to watch -------------------------------------------------------- */

struct targets_ctx {
	storage_health_targets_cb cb;
	void *arg;
};

static void targets_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct targets_ctx *c = arg;
	struct health_target *rows = NULL;
	int n = 0;

	if (!err) {
		rows = xcalloc((size_t)PQntuples(res) + 1, sizeof(*rows));
		for (int i = 0; i < PQntuples(res); i++) {
			struct health_target *t = &rows[n];

			if (!parse_int64(PQgetvalue(res, i, 0), 1, INT64_MAX, &t->id) ||
			    !parse_int(PQgetvalue(res, i, 1), 0, HEALTH_SHARDS - 1, &t->shard))
				continue;
			t->tenant = PQgetvalue(res, i, 2);
			t->name = PQgetvalue(res, i, 3);
			t->ns = PQgetvalue(res, i, 4);
			t->status = db_value(res, i, 5);
			if (db_is_null(res, i, 6) ||
			    !parse_int(PQgetvalue(res, i, 6), 0, INT32_MAX, &t->nodes))
				t->nodes = -1;
			if (db_is_null(res, i, 7) ||
			    !parse_int(PQgetvalue(res, i, 7), 0, INT32_MAX, &t->unassigned))
				t->unassigned = -1;
			if (db_is_null(res, i, 8) ||
			    !parse_int64(PQgetvalue(res, i, 8), 0, INT64_MAX, &t->observed_ms))
				t->observed_ms = 0;
			t->spec = PQgetvalue(res, i, 9);
			t->job = db_value(res, i, 10);
			t->security = db_value(res, i, 11);
			n++;
		}
	}
	if (err)
		c->cb(c->arg, err, NULL, 0);
	else
		c->cb(c->arg, NULL, rows, n);
	free(rows);
	free(c);
}

void storage_health_targets(struct db_pool *db, const int *shards, int n,
			    storage_health_targets_cb cb, void *arg)
{
	struct targets_ctx *c = xmalloc(sizeof(*c));
	size_t cap = (size_t)n * 12 + 3, len = 0;
	char *list = xmalloc(cap);
	char nshards[16];
	const char *p[] = {list, nshards};

	c->cb = cb;
	c->arg = arg;
	/* "{1,2,3}": the shards as an int[] literal. */
	list[len++] = '{';
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(list + len, cap - len, "%s%d", i ? "," : "", shards[i]);
	snprintf(list + len, cap - len, "}");
	snprintf(nshards, sizeof(nshards), "%d", HEALTH_SHARDS);
	db_query(db,
		 "SELECT c.id, c.id % $2, c.tenant_id, c.name,"
		 "  c.namespace, h.status, h.nodes, h.unassigned_shards,"
		 "  (extract(epoch FROM h.observed_at) * 1000)::bigint, c.spec::text,"
		 /* A paused job is no job here: it stopped where the cluster is
		  * green with nothing held, so the budgets open again. */
		 "  (SELECT j.kind FROM jobs j WHERE j.tenant_id = c.tenant_id"
		 "    AND j.cluster = c.name AND j.status IN ('running', 'waiting', 'cancelling')"
		 "    ORDER BY j.queue_seq LIMIT 1),"
		 "  c.es_security::text"
		 " FROM clusters c LEFT JOIN cluster_health h ON h.cluster_id = c.id"
		 " WHERE c.deleted_at IS NULL AND c.observed->>'phase' = 'ready'"
		 "  AND (c.id % $2)::integer = ANY($1::integer[])",
		 2, p, targets_cb, c);
	free(list);
}

/* --- observations ------------------------------------------------------------------- */

/*
 * $1 owner, $2 the observations.
 *
 * The lease rows are locked in share mode, so that a replica claiming one
 * of these shards waits for this commit, and this statement, if the claim
 * came first, sees the new owner and writes nothing.  The stored status
 * is read from the statement's snapshot, before the upsert: a row whose
 * status differs from it is a change for the history.  A failed read
 * keeps the nodes, unassigned shards and observed_at of the last good one.
 */
#define RECORD_SQL                                                                                \
	"WITH o AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(id bigint, shard integer,"   \
	"  epoch bigint, status text, ok boolean, nodes integer, unassigned integer,"             \
	"  error text, detail jsonb)),"                                                           \
	" f AS (SELECT o.* FROM o JOIN health_shards s ON s.shard = o.shard"                      \
	"  JOIN clusters c ON c.id = o.id"                                                        \
	"  WHERE s.owner = $1 AND s.epoch = o.epoch AND c.deleted_at IS NULL FOR SHARE OF s),"    \
	" prev AS (SELECT h.cluster_id, h.status FROM cluster_health h"                           \
	"  JOIN f ON f.id = h.cluster_id),"                                                       \
	" up AS (INSERT INTO cluster_health AS h (cluster_id, status, nodes, unassigned_shards,"  \
	"  observed_at, checked_at, error, changed_at, checked_by)"                               \
	"  SELECT f.id, f.status, f.nodes, f.unassigned, CASE WHEN f.ok THEN now() END, now(),"   \
	"   f.error, now(), $1 FROM f"                                                            \
	"  ON CONFLICT (cluster_id) DO UPDATE SET status = excluded.status,"                      \
	"   nodes = CASE WHEN excluded.observed_at IS NULL THEN h.nodes ELSE excluded.nodes END," \
	"   unassigned_shards = CASE WHEN excluded.observed_at IS NULL THEN h.unassigned_shards"  \
	"    ELSE excluded.unassigned_shards END,"                                                \
	"   observed_at = coalesce(excluded.observed_at, h.observed_at),"                         \
	"   checked_at = excluded.checked_at, error = excluded.error,"                            \
	"   changed_at = CASE WHEN h.status = excluded.status THEN h.changed_at"                  \
	"    ELSE excluded.changed_at END,"                                                       \
	"   checked_by = excluded.checked_by"                                                     \
	"  RETURNING h.cluster_id),"                                                              \
	" hist AS (INSERT INTO cluster_health_history (cluster_id, status, previous, nodes,"      \
	"  unassigned_shards, error, detail, observed_by)"                                        \
	"  SELECT f.id, f.status, prev.status, f.nodes, f.unassigned, f.error, f.detail, $1"      \
	"  FROM f LEFT JOIN prev ON prev.cluster_id = f.id"                                       \
	"  WHERE prev.status IS DISTINCT FROM f.status ORDER BY f.id RETURNING 1)"                \
	" SELECT (SELECT count(*) FROM up), (SELECT count(*) FROM hist)"

struct record_ctx {
	storage_health_record_cb cb;
	void *arg;
};

static void record_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct record_ctx *c = arg;
	int written = 0, changes = 0;

	if (!err &&
	    (PQntuples(res) != 1 || !parse_int(PQgetvalue(res, 0, 0), 0, INT32_MAX, &written) ||
	     !parse_int(PQgetvalue(res, 0, 1), 0, INT32_MAX, &changes)))
		err = &bad_shape;
	c->cb(c->arg, err, written, changes);
	free(c);
}

static json_t *int_or_null(int v)
{
	return v < 0 ? json_null() : json_integer(v);
}

void storage_health_record(struct db_pool *db, const char *owner,
			   const struct health_observation *obs, int n, storage_health_record_cb cb,
			   void *arg)
{
	struct record_ctx *c = xmalloc(sizeof(*c));
	json_t *rows = json_array();

	c->cb = cb;
	c->arg = arg;
	for (int i = 0; i < n; i++) {
		const struct health_observation *o = &obs[i];
		json_t *row = json_object();

		json_object_set_new(row, "id", json_integer(o->cluster_id));
		json_object_set_new(row, "shard", json_integer(o->shard));
		json_object_set_new(row, "epoch", json_integer(o->epoch));
		json_object_set_new(row, "status", json_string(o->status));
		json_object_set_new(row, "ok", json_boolean(o->ok));
		json_object_set_new(row, "nodes", int_or_null(o->nodes));
		json_object_set_new(row, "unassigned", int_or_null(o->unassigned));
		if (o->error) {
			/* Text from the network: one byte that is not UTF-8 spoils the batch. */
			char *clean = utf8_scrub(o->error);

			json_object_set_new(row, "error", json_string(clean));
			free(clean);
		}
		if (o->detail)
			/* An explanation stays readable, and the history's rows small. */
			json_object_set_new(row, "detail",
					    json_bound(o->detail, HEALTH_DETAIL_MAX_BYTES));
		json_array_append_new(rows, row);
	}
	char *text = json_dumps(rows, JSON_COMPACT);
	const char *p[] = {owner, text};

	json_decref(rows);
	db_query(db, RECORD_SQL, 2, p, record_cb, c);
	free(text);
}

/* --- the history, for the API ---------------------------------------------------------- */

#define HISTORY_JSON(e)                                                        \
	"jsonb_build_object('at', esaas_ts(" e ".at), 'status', " e ".status," \
	" 'previous', " e ".previous, 'nodes', " e ".nodes,"                   \
	" 'unassigned_shards', " e ".unassigned_shards, 'error', " e ".error," \
	" 'detail', " e ".detail, 'observed_by', " e ".observed_by)"

struct history_ctx {
	storage_health_history_cb cb;
	void *arg;
};

static void history_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct history_ctx *c = arg;

	if (err) {
		c->cb(c->arg, err, NULL);
	} else if (PQntuples(res) == 0) {
		c->cb(c->arg, NULL, NULL);
	} else {
		json_t *j = storage_json_value(res, 0, 0);

		c->cb(c->arg, j ? NULL : &bad_shape, j);
		json_decref(j);
	}
	free(c);
}

void storage_health_history(struct db_pool *db, const char *tenant, const char *name, int limit,
			    storage_health_history_cb cb, void *arg)
{
	struct history_ctx *c = xmalloc(sizeof(*c));
	char lim[16];
	const char *p[] = {tenant, name, lim};

	c->cb = cb;
	c->arg = arg;
	snprintf(lim, sizeof(lim), "%d", limit);
	db_query(db,
		 "SELECT jsonb_build_object('cluster', c.name, 'history',"
		 "  (SELECT coalesce(jsonb_agg(" HISTORY_JSON(
			 "e") " ORDER BY e.id DESC),"
			      "   '[]'::jsonb)"
			      "   FROM (SELECT * FROM cluster_health_history x WHERE x.cluster_id "
			      "= c.id"
			      "    ORDER BY x.id DESC LIMIT $3) e))"
			      " FROM clusters c WHERE c.tenant_id = $1 AND c.name = $2 AND "
			      "c.deleted_at IS NULL",
		 3, p, history_cb, c);
}
