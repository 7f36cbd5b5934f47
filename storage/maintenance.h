/*
 * Maintenance windows (0013_windows.sql): when the disruptive jobs of a
 * cluster may run.  A cluster's own windows win over its tenant's default.
 */
#ifndef ESAAS_STORAGE_MAINTENANCE_H
#define ESAAS_STORAGE_MAINTENANCE_H

#include <jansson.h>
#include "storage/db.h"

/* The time zone is not one PostgreSQL knows (esaas_maintenance_check()). */
#define MAINTENANCE_TZ_SQLSTATE "EW001"

/*
 * answer: {"tenant", "cluster" (null for the tenant's default),
 * "replanned": the held and queued jobs given their due time again,
 * "maintenance": {"windows", "source", "open", "closes_at", "next_open"}}
 * (a tenant's default: {"windows"} only); NULL when there is no such live
 * cluster or tenant.
 */
typedef void (*storage_maintenance_cb)(void *arg, const struct db_error *err, json_t *answer);

/*
 * Set the windows m (already checked but for the time zone; NULL clears
 * them) of the live cluster called cluster of tenant, or with cluster NULL
 * the tenant's default; audited, and the workers woken.
 */
void storage_maintenance_set(struct db_pool *db, const char *tenant, const char *cluster,
			     const char *actor, json_t *m, storage_maintenance_cb cb, void *arg);

#endif
