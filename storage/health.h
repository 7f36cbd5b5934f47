/*
 * Cluster health: the sweep's leases, the clusters it watches, the
 * observations it writes in batches, and the history the API reads.
 *
 * The sweep's work is cut into HEALTH_SHARDS shards (a cluster's shard is
 * its id modulo HEALTH_SHARDS), each leased by at most one esaasd replica
 * at a time.  A replica renews its leases, and claims or gives up shards
 * to hold its fair share among the live replicas, in one statement; every
 * observation it writes is fenced by its lease (owner and epoch), so a
 * replica that lost a shard cannot write over its successor.
 *
 * The API's shapes, built by PostgreSQL like the rest:
 *   a cluster's "health": {"status": "green", "nodes": 5,
 *     "unassigned_shards": 0, "observed_at": "...", "checked_at": "...",
 *     "error": null} | null (never observed)
 *   an entry of its history: {"at": "...", "status": "red",
 *     "previous": "green", "nodes": 4, "unassigned_shards": 2,
 *     "error": null, "detail": {...} | null, "observed_by": "..."}
 */
#ifndef ESAAS_STORAGE_HEALTH_H
#define ESAAS_STORAGE_HEALTH_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "storage/db.h"

/* As many as migration 0005 made rows of health_shards. */
#define HEALTH_SHARDS 64

/* The most of a change's detail (an allocation explanation) the history keeps. */
#define HEALTH_DETAIL_MAX_BYTES ((size_t)64 * 1024)

/* The "health" member of a cluster's JSON, over a row of clusters aliased c. */
#define CLUSTER_HEALTH_JSON(c)                                                               \
	"(SELECT jsonb_build_object('status', h.status, 'nodes', h.nodes,"                   \
	" 'unassigned_shards', h.unassigned_shards, 'observed_at', esaas_ts(h.observed_at)," \
	" 'checked_at', esaas_ts(h.checked_at), 'error', h.error)"                           \
	" FROM cluster_health h WHERE h.cluster_id = " c ".id)"

/* A shard this replica holds after a lease statement. */
struct health_shard {
	int shard;
	int64_t epoch;
	bool taken_over; /* claimed after another replica's lease expired */
};

typedef void (*storage_health_lease_cb)(void *arg, const struct db_error *err,
					const struct health_shard *held, int n);

/*
 * The heartbeat of replica owner: record it as alive, renew the leases it
 * holds for lease_s seconds, claim free or expired shards up to its fair
 * share (the shards divided by the live replicas, rounded up) and give up
 * those above it.  held: every shard it holds now.
 */
void storage_health_lease(struct db_pool *db, const char *owner, int lease_s,
			  storage_health_lease_cb cb, void *arg);

/* At shutdown: give every shard back and leave the live replicas. */
void storage_health_release(struct db_pool *db, const char *owner, db_result_cb cb, void *arg);

/* A ready cluster of a held shard, with what was last stored of its health. */
struct health_target {
	int64_t id;
	int shard;
	const char *tenant;
	const char *name;
	const char *ns;	      /* the namespace stored with the cluster */
	const char *status;   /* the stored status, or NULL: never observed */
	int nodes;	      /* -1: unknown */
	int unassigned;	      /* -1: unknown */
	int64_t observed_ms;  /* wall clock of the last successful read; 0: none */
	const char *spec;     /* the cluster's recorded spec, as JSON text */
	const char *job;      /* the kind of the job running on it, or NULL: none */
	const char *security; /* its Elasticsearch security (clusters.es_security), or NULL */
};

/* rows and their strings live for the duration of the call. */
typedef void (*storage_health_targets_cb)(void *arg, const struct db_error *err,
					  const struct health_target *rows, int n);

/* The live, ready clusters of shards (n of them). */
void storage_health_targets(struct db_pool *db, const int *shards, int n,
			    storage_health_targets_cb cb, void *arg);

/* One reading of one cluster. */
struct health_observation {
	int64_t cluster_id;
	int shard;
	int64_t epoch;	    /* of the shard's lease it was made under */
	const char *status; /* green, yellow, red, unreachable */
	bool ok;	    /* the read succeeded (status is not unreachable) */
	int nodes;	    /* -1: unknown */
	int unassigned;	    /* -1: unknown */
	const char *error;  /* NULL when ok */
	json_t *detail;	    /* for the history when the status changes; or NULL; stored
			     * cut to HEALTH_DETAIL_MAX_BYTES (json_bound()) */
};

/* written: observations stored; changes: history rows appended. */
typedef void (*storage_health_record_cb)(void *arg, const struct db_error *err, int written,
					 int changes);

/*
 * In one statement, for the observations whose shard owner still holds
 * under the same epoch (the others are dropped): store each as its
 * cluster's last observation, and append to the history those whose
 * status differs from the one stored.
 */
void storage_health_record(struct db_pool *db, const char *owner,
			   const struct health_observation *obs, int n, storage_health_record_cb cb,
			   void *arg);

/*
 * {"cluster": name, "history": [...]}, newest first, at most limit
 * entries; NULL when there is no such live cluster.  json is borrowed.
 */
typedef void (*storage_health_history_cb)(void *arg, const struct db_error *err, json_t *json);
void storage_health_history(struct db_pool *db, const char *tenant, const char *name, int limit,
			    storage_health_history_cb cb, void *arg);

#endif
