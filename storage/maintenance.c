/*
 * Maintenance windows' statements (storage/maintenance.h); the windows are
 * computed by PostgreSQL (0013_windows.sql).
 */
#include "storage/maintenance.h"
#include "storage/jobs.h"
#include "common/util.h"

#include <stdlib.h>

static const struct db_error bad_shape = {DB_ERR_QUERY, "", "unexpected result shape"};

struct maintenance_ctx {
	storage_maintenance_cb cb;
	void *arg;
};

static void set_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct maintenance_ctx *c = arg;
	json_t *answer = NULL;

	if (!err && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
		answer = storage_json_value(res, 0, 0);
		if (!answer)
			err = &bad_shape;
	}
	c->cb(c->arg, err, answer);
	json_decref(answer);
	free(c);
}

void storage_maintenance_set(struct db_pool *db, const char *tenant, const char *cluster,
			     const char *actor, json_t *m, storage_maintenance_cb cb, void *arg)
{
	struct maintenance_ctx *c = xmalloc(sizeof(*c));
	char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
	const char *p[] = {tenant, cluster, actor, text};

	c->cb = cb;
	c->arg = arg;
	db_query(db, "SELECT esaas_maintenance_set($1, $2, $3, $4::jsonb)", 4, p, set_cb, c);
	free(text);
}
