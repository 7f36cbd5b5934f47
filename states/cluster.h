/*
 * Steps on a cluster's Kubernetes objects and its Elasticsearch, one FSM
 * state's action each.  They read the cluster spec from the job's params
 * ("spec"), render its objects, and are safe to run twice: objects are
 * written with server-side apply, and waits only look.
 */
#ifndef ESAAS_STATES_CLUSTER_H
#define ESAAS_STATES_CLUSTER_H

struct step;

/* Apply the rendered objects of one kind (and role, for workloads). */
void state_apply_namespace(struct step *s);
void state_apply_config(struct step *s);
void state_apply_services(struct step *s);
void state_apply_masters(struct step *s);
void state_apply_data(struct step *s);
void state_apply_clients(struct step *s);
void state_apply_pdbs(struct step *s);

/* Wait until the masters answer with a cluster uuid (they have elected). */
void state_wait_masters_formed(struct step *s);
/* Wait until every pod of every role is ready. */
void state_wait_pods_ready(struct step *s);
/* Wait until cluster health is green. */
void state_wait_green(struct step *s);

/* Record the cluster as ready, with its endpoint, when the job ends. */
void state_record_ready(struct step *s);

/* Delete the cluster's namespace (and so every object in it); the data on
 * the hosts' disks stays. */
void state_delete_namespace(struct step *s);
/* Wait until the namespace is gone. */
void state_wait_namespace_gone(struct step *s);
/* Record the cluster as deleted when the job ends. */
void state_record_deleted(struct step *s);

/* scale: plan (context: role, from, to, leaving nodes), exclude the leaving
 * data nodes from allocation, wait until they hold no shard, scale the
 * workload, wait for its pods, clear the exclusion, record the new spec. */
void state_scale_plan(struct step *s);
void state_exclude_nodes(struct step *s);
void state_wait_drained(struct step *s);
void state_scale_workload(struct step *s);
void state_wait_scaled(struct step *s);
void state_clear_exclusion(struct step *s);
void state_record_scaled(struct step *s);

/* restart, one pod at a time (context.pending / context.restarted). */
void state_restart_plan(struct step *s);
void state_restart_next(struct step *s);
void state_restart_flush(struct step *s);
void state_restart_delete_pod(struct step *s);
void state_restart_wait_pod(struct step *s);
void state_restart_resume_allocation(struct step *s);
void state_restart_wait_green(struct step *s);

/* config_update: route (dynamic settings, or a rolling restart for static
 * ones), apply the dynamic ones, record the new spec. */
void state_config_route(struct step *s);
void state_apply_dynamic(struct step *s);
void state_record_spec(struct step *s);

#endif
