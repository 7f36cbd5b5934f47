/*
 * Tenant and quota queries: one statement each, JSON built by PostgreSQL.
 */
#include "storage/tenants.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/json.h"
#include "storage/jobs.h"

#define TENANT_JSON(t)                                                                 \
	"jsonb_build_object('id', " t ".id, 'created_at', esaas_ts(" t ".created_at)," \
	" 'created_by', " t ".created_by, 'quota', esaas_tenant_quota(" t ".id),"      \
	" 'usage', esaas_tenant_usage(" t ".id), 'maintenance', " t ".maintenance)"

static const struct db_error bad_shape = {DB_ERR_QUERY, "", "unexpected result shape"};

struct tenant_ctx {
	storage_tenant_cb cb;
	storage_tenant_put_cb put_cb;
	void *arg;
};

static struct tenant_ctx *ctx_new(storage_tenant_cb cb, storage_tenant_put_cb put_cb, void *arg)
{
	struct tenant_ctx *c = xcalloc(1, sizeof(*c));

	c->cb = cb;
	c->put_cb = put_cb;
	c->arg = arg;
	return c;
}

/* Zero rows: no such tenant; one: its JSON, and for a put whether it is new. */
static void tenant_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct tenant_ctx *c = arg;
	json_t *t = NULL;
	bool created = false;

	if (!err && PQntuples(res) > 0) {
		t = storage_json_value(res, 0, 0);
		if (!t)
			err = &bad_shape;
		else if (PQnfields(res) > 1)
			created = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	}
	if (c->put_cb)
		c->put_cb(c->arg, err, created, err ? NULL : t);
	else
		c->cb(c->arg, err, err ? NULL : t);
	json_decref(t);
	free(c);
}

void storage_tenant_put(struct db_pool *db, const char *id, const char *actor,
			storage_tenant_put_cb cb, void *arg)
{
	const char *p[] = {id, actor};

	db_query(db,
		 "WITH ins AS (INSERT INTO tenants (id, created_by) VALUES ($1, $2)"
		 "  ON CONFLICT (id) DO NOTHING RETURNING *),"
		 " au AS (INSERT INTO audit_log (actor, action, tenant_id)"
		 "  SELECT $2, 'tenant.create', id FROM ins)"
		 " SELECT " TENANT_JSON(
			 "t") ", true FROM ins t"
			      " UNION ALL"
			      " SELECT " TENANT_JSON(
				      "t") ", false FROM tenants t"
					   "  WHERE t.id = $1 AND NOT EXISTS (SELECT 1 FROM ins)",
		 2, p, tenant_cb, ctx_new(NULL, cb, arg));
}

void storage_tenant_get(struct db_pool *db, const char *id, storage_tenant_cb cb, void *arg)
{
	const char *p[] = {id};

	db_query(db, "SELECT " TENANT_JSON("t") " FROM tenants t WHERE t.id = $1", 1, p, tenant_cb,
		 ctx_new(cb, NULL, arg));
}

void storage_tenant_list(struct db_pool *db, storage_tenant_cb cb, void *arg)
{
	db_query(db,
		 "SELECT jsonb_build_object('tenants', coalesce(jsonb_agg(" TENANT_JSON(
			 "t") " ORDER BY t.id), '[]'::jsonb)) FROM tenants t",
		 0, NULL, tenant_cb, ctx_new(cb, NULL, arg));
}

static const char *limit_text(char *buf, size_t len, int64_t v)
{
	if (v < 0)
		return NULL;
	snprintf(buf, len, "%" PRId64, v);
	return buf;
}

void storage_tenant_set_quota(struct db_pool *db, const char *id, const struct tenant_quota *q,
			      const char *actor, storage_tenant_cb cb, void *arg)
{
	char b[5][24];
	const char *p[] = {
		id,
		limit_text(b[0], sizeof(b[0]), q->clusters),
		limit_text(b[1], sizeof(b[1]), q->nodes),
		limit_text(b[2], sizeof(b[2]), q->cpu_millis),
		limit_text(b[3], sizeof(b[3]), q->memory_bytes),
		limit_text(b[4], sizeof(b[4]), q->disk_bytes),
		actor,
	};

	db_query(db,
		 "WITH t AS (SELECT * FROM tenants WHERE id = $1),"
		 " up AS (INSERT INTO tenant_quotas (tenant_id, clusters, nodes, cpu_millis,"
		 "  memory_bytes, disk_bytes, updated_by)"
		 "  SELECT t.id, $2, $3, $4, $5, $6, $7 FROM t"
		 "  ON CONFLICT (tenant_id) DO UPDATE SET clusters = EXCLUDED.clusters,"
		 "   nodes = EXCLUDED.nodes, cpu_millis = EXCLUDED.cpu_millis,"
		 "   memory_bytes = EXCLUDED.memory_bytes, disk_bytes = EXCLUDED.disk_bytes,"
		 "   updated_at = now(), updated_by = EXCLUDED.updated_by"
		 "  RETURNING *),"
		 " au AS (INSERT INTO audit_log (actor, action, tenant_id, detail)"
		 "  SELECT $7, 'quota.set', tenant_id, jsonb_build_object('clusters', clusters,"
		 "   'nodes', nodes, 'cpu_millis', cpu_millis, 'memory_bytes', memory_bytes,"
		 "   'disk_bytes', disk_bytes) FROM up)"
		 /* The statement's snapshot predates its own insert: the quota
		  * comes from what was written, the usage from the tables. */
		 " SELECT jsonb_set(" TENANT_JSON(
			 "t") ", '{quota}', jsonb_build_object("
			      "  'clusters', up.clusters, 'nodes', up.nodes, 'cpu_millis', "
			      "up.cpu_millis,"
			      "  'memory_bytes', up.memory_bytes, 'disk_bytes', up.disk_bytes))"
			      " FROM t, up",
		 7, p, tenant_cb, ctx_new(cb, NULL, arg));
}

/* --- a refusal in words ----------------------------------------------------------------- */

/* v in the measure's unit, as a person reads it. */
static void amount_text(const char *measure, double v, char *buf, size_t len)
{
	static const char *const units[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi"};

	if (strcmp(measure, "cpu") == 0) {
		if (v == (double)(int64_t)(v / 1000) * 1000)
			snprintf(buf, len, "%.0f", v / 1000);
		else
			snprintf(buf, len, "%.0fm", v);
	} else if (strcmp(measure, "memory") == 0 || strcmp(measure, "disk") == 0) {
		size_t u = 0;

		while (u + 1 < ARRAY_SIZE(units) && v >= 1024 &&
		       v / 1024 == (double)(int64_t)(v / 1024))
			v /= 1024, u++;
		snprintf(buf, len, "%.0f%s", v, units[u]);
	} else {
		snprintf(buf, len, "%.0f", v);
	}
}

bool storage_quota_refusal(const struct db_error *err, char *msg, size_t msglen, char *measure,
			   size_t measurelen)
{
	static const struct {
		const char *column, *name;
	} names[] = {
		{"clusters", "clusters"},   {"nodes", "nodes"},	    {"cpu_millis", "cpu"},
		{"memory_bytes", "memory"}, {"disk_bytes", "disk"},
	};

	if (!err || err->kind != DB_ERR_QUERY || strcmp(err->sqlstate, QUOTA_SQLSTATE) != 0)
		return false;
	/* "ERROR:  {...}\n": the JSON that esaas_quota_check() raised. */
	const char *open = strchr(err->message, '{');
	json_t *j = open ? json_loads(open, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
	const char *column = json_str(j, "measure");
	const char *name = column;
	char usage[32], request[32], limit[32];

	for (size_t i = 0; column && i < ARRAY_SIZE(names); i++)
		if (strcmp(column, names[i].column) == 0)
			name = names[i].name;
	if (!name) {
		snprintf(msg, msglen, "quota exceeded");
		snprintf(measure, measurelen, "quota");
		json_decref(j);
		return true;
	}
	amount_text(name, json_number_value(json_object_get(j, "usage")), usage, sizeof(usage));
	amount_text(name, json_number_value(json_object_get(j, "request")), request,
		    sizeof(request));
	amount_text(name, json_number_value(json_object_get(j, "limit")), limit, sizeof(limit));
	snprintf(msg, msglen,
		 "quota exceeded: %s: the tenant's clusters take %s, this asks for %s more, "
		 "the limit is %s",
		 name, usage, request, limit);
	snprintf(measure, measurelen, "%s", name);
	json_decref(j);
	return true;
}
