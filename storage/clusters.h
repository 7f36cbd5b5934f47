/*
 * Cluster queries: create (the cluster row and its create job, together),
 * read and list.
 *
 * After its creation, a cluster row changes in one place only: when a job
 * of the cluster ends, its transition records the workflow's result (the
 * observed status, the new spec, the deletion) from the job's context, in
 * the same transaction.  That rule is storage_jobrun_transition()'s, in
 * storage/jobrun.h.
 *
 * As for jobs (storage/jobs.h), the JSON is built by PostgreSQL.  A cluster:
 *   {"name": "logs", "tenant": "default", "namespace": "es-default-logs",
 *    "spec": {...}, "observed": {...},
 *    "created_by": "...", "created_at": "...", "updated_at": "...",
 *    "health": {...} | null (the health sweep's last observation: storage/health.h),
 *    "paused": {"reason", "by", "at"} | null (storage_cluster_pause()),
 *    "active_job": {"id": 42, "kind": "scale", "status": "running",
 *                   "state": "wait_green"} | null,
 *    "recent_jobs": [{"id", "kind", "status", "state", "created_at"}, ...],
 *    "target_spec": {...} | null}
 * active_job is the job in progress, else the next one queued; recent_jobs
 * are the newest five, newest first; target_spec is the spec the cluster
 * will have once its unfinished jobs are done (null when there are none).
 * All count only the jobs submitted since the cluster was created, not
 * those of an earlier, deleted cluster of the same name.  The list leaves
 * recent_jobs and target_spec out.
 *
 * In every callback, err is NULL on success; json values are borrowed for
 * the duration of the call (json_incref to keep them).
 */
#ifndef ESAAS_STORAGE_CLUSTERS_H
#define ESAAS_STORAGE_CLUSTERS_H

#include <jansson.h>
#include "storage/db.h"

/* What the cluster row's observed status is until a job's end says more. */
#define CLUSTER_PHASE_CREATING "creating"

enum cluster_create_result {
	CLUSTER_CREATED,  /* the cluster and its create job are stored */
	CLUSTER_REPEATED, /* the idempotency key was used before: job is that job */
	CLUSTER_EXISTS,	  /* a live cluster of that name exists: nothing stored */
	/* another cluster (of another tenant or name) has or had the
	 * namespace: nothing stored */
	CLUSTER_NAMESPACE_TAKEN,
};

/*
 * CLUSTER_CREATED: job is the new create job, cluster the new cluster.
 * CLUSTER_REPEATED: job is the earlier job with the same key, whatever its
 * kind (the caller compares kind, cluster and params to tell a repeat from
 * a conflicting reuse); cluster is its cluster when that one is live, else
 * NULL.  CLUSTER_EXISTS: both NULL.  CLUSTER_NAMESPACE_TAKEN: job NULL,
 * cluster {"namespace": the namespace refused}.
 */
typedef void (*storage_cluster_create_cb)(void *arg, const struct db_error *err,
					  enum cluster_create_result result, json_t *job,
					  json_t *cluster);

/*
 * In one statement, under the cluster's submission lock (the one
 * storage_job_submit() takes): store the cluster with spec as its desired
 * state and {"phase": "creating"} as observed, and queue its create job
 * (params {"spec": spec}, in first_state), with the job's first event and a
 * wake-up for the workers.  spec is the normalised spec (spec_to_json()).
 * ns is the namespace of a new cluster (render_namespace()); one created
 * again after a delete keeps its predecessor's.  idempotency_key may be
 * NULL.  extra_params (NULL: none) joins the job's params, beside "spec"
 * (a create's "restore").
 */
/*
 * Warm every session of db for the create's statement: its plan is made
 * once (EXPLAIN, which runs nothing), so that the catalogs it reads are in
 * the session's caches before the first create, which would otherwise pay
 * for loading them (db_pool_warm()).
 */
void storage_clusters_warm(struct db_pool *db);

void storage_cluster_create(struct db_pool *db, const char *tenant, const char *name, json_t *spec,
			    json_t *extra_params, const char *ns, const char *actor,
			    const char *idempotency_key, const char *first_state,
			    storage_cluster_create_cb cb, void *arg);

/* cluster is NULL when there is no such live cluster. */
typedef void (*storage_cluster_cb)(void *arg, const struct db_error *err, json_t *cluster);

/* The cluster's Elasticsearch credentials, as {"cluster", "tenant",
 * "namespace", "security", "username", "password", "ca_crt", "audit_id"}
 * (NULL: no such cluster; "security" false: it has none), the read
 * recorded in audit_log under actor. */
void storage_cluster_credentials(struct db_pool *db, const char *tenant, const char *name,
				 const char *actor, storage_cluster_cb cb, void *arg);

/* The live cluster called name, with its active and recent jobs. */
/*
 * What a create of cluster name would meet, read only (for a preview, as
 * CREATE_SQL checks it): {"exists": a live cluster has the name,
 * "namespace": the namespace it would get (its predecessor's, or
 * ns_default), "taken": another cluster has or had that namespace}.
 */
void storage_cluster_create_check(struct db_pool *db, const char *tenant, const char *name,
				  const char *ns_default, storage_cluster_cb cb, void *arg);
void storage_cluster_get(struct db_pool *db, const char *tenant, const char *name,
			 storage_cluster_cb cb, void *arg);

/*
 * Pause the live cluster called name (NULL: no such cluster): in one
 * statement, record the pause (who, why, when) unless it is paused
 * already, give the job in progress a 'pause_requested' event (it stops
 * at its next safe boundary, storage/jobrun.h), and write an audit_log
 * row.  From then on its queued jobs wait.  The answer:
 *   {"cluster", "tenant", "changed": false when it was paused already,
 *    "paused": {"reason", "by", "at"} (the pause in force),
 *    "job": {"id", "kind", "status", "state", "ending"} | null (in progress),
 *    "queued": jobs waiting behind it, "audit_id"}
 */
void storage_cluster_pause(struct db_pool *db, const char *tenant, const char *name,
			   const char *actor, const char *reason, storage_cluster_cb cb, void *arg);
/*
 * Resume it: lift the pause ("changed": false when there was none), wake
 * its paused job (status 'waiting', due now; it goes on from the state
 * where it stopped), a 'resumed' event on that job (or on the job still
 * on its way to a boundary), an audit_log row, and the workers woken.
 * The answer as for a pause, "paused" null and "job" the job resumed.
 */
void storage_cluster_resume(struct db_pool *db, const char *tenant, const char *name,
			    const char *actor, const char *reason, storage_cluster_cb cb,
			    void *arg);

/* {"clusters": [...]}: the tenant's live clusters by name, without recent_jobs;
 * with tenant NULL, every tenant's, by tenant and name. */
void storage_cluster_list(struct db_pool *db, const char *tenant, storage_cluster_cb cb, void *arg);

#endif
