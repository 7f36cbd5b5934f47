/*
 * Tenants and their quotas in PostgreSQL (0001_init.sql, 0006_auth.sql,
 * 0007_quota.sql).  Changes write an audit_log row in the same statement.
 *
 * A tenant as JSON, built by PostgreSQL:
 *   {"id": "search", "created_at": "...", "created_by": "token:3f9a0c1d2e4b",
 *    "quota": {"clusters": 5, "nodes": 20, "cpu_millis": 40000,
 *              "memory_bytes": ..., "disk_bytes": ...},  (null: no limit)
 *    "usage": {"clusters": 2, "nodes": 9, ...}}
 * The usage counts every live cluster at the most that its spec or any of
 * its unfinished jobs takes (esaas_tenant_usage()).
 *
 * In every callback err is NULL on success; json is borrowed for the call.
 */
#ifndef ESAAS_STORAGE_TENANTS_H
#define ESAAS_STORAGE_TENANTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "storage/db.h"

/* The SQLSTATE of a submission that does not fit in its tenant's quota. */
#define QUOTA_SQLSTATE "EQ001"

/* tenant: the JSON above, NULL when there is no such tenant. */
typedef void (*storage_tenant_cb)(void *arg, const struct db_error *err, json_t *tenant);

/* Create tenant id (a DNS label of at most 40 characters) unless it exists;
 * *created says which. */
typedef void (*storage_tenant_put_cb)(void *arg, const struct db_error *err, bool created,
				      json_t *tenant);
void storage_tenant_put(struct db_pool *db, const char *id, const char *actor,
			storage_tenant_put_cb cb, void *arg);

void storage_tenant_get(struct db_pool *db, const char *id, storage_tenant_cb cb, void *arg);

/* {"tenants": [...]} by id. */
void storage_tenant_list(struct db_pool *db, storage_tenant_cb cb, void *arg);

/* A quota's five limits; a negative one is no limit. */
struct tenant_quota {
	int64_t clusters, nodes, cpu_millis, memory_bytes, disk_bytes;
};

/* Set the tenant's quota; tenant is NULL when there is no such tenant. */
void storage_tenant_set_quota(struct db_pool *db, const char *id, const struct tenant_quota *q,
			      const char *actor, storage_tenant_cb cb, void *arg);

/*
 * A submission refused by esaas_quota_check(): true, with what it says in
 * words in msg ("quota exceeded: memory: the tenant's clusters take 48Gi,
 * this asks for 16Gi more, the limit is 56Gi") and the measure ("memory")
 * in measure.  False for any other error.
 */
bool storage_quota_refusal(const struct db_error *err, char *msg, size_t msglen, char *measure,
			   size_t measurelen);

#endif
