/*
 * The health sweep: every ready cluster's _cluster/health, read at an
 * interval with jitter and bounded concurrency on the event loop, its last
 * observation stored on the cluster, its changes of health appended to the
 * cluster's history, and its figures exposed as metrics.  esaasd replicas
 * share the clusters through leases on shards of them (storage/health.h),
 * so that each cluster is watched by one live replica at a time.
 */
#ifndef ESAAS_MONITOR_SWEEP_H
#define ESAAS_MONITOR_SWEEP_H

#include <jansson.h>

struct event_base;
struct db_pool;
struct httpc;
struct kube;
struct sweep;

struct sweep_options {
	struct db_pool *db;
	struct httpc *http;
	struct kube *kube;	     /* through the service proxy; NULL with es_url_template */
	const char *es_url_template; /* elasticsearch.url, or NULL */
	const char *es_connect_to;   /* elasticsearch.connect_to, or NULL */
	const char *owner;	     /* this replica's name, as its leases say it */
	int interval_ms;	     /* each cluster is read once per interval... */
	int jitter_percent;	     /* ...give or take this much of it */
	int concurrency;	     /* reads at once */
	int timeout_ms;		     /* for one read (each of its requests) */
	int lease_s;		     /* of a shard; renewed every third of it */
	/*
	 * Called once a change of a cluster's health is committed to its
	 * history (not its first observation), by the replica that wrote it;
	 * change is {"tenant", "cluster", "previous", "status", "at", "nodes",
	 * "unassigned_shards", "error"?, "detail"?}, borrowed for the call.
	 * NULL: none.
	 */
	void (*on_health_change)(void *arg, const json_t *change);
	void *on_health_change_arg;
};

/* Copies what it needs from opt (owner too). */
struct sweep *sweep_new(struct event_base *base, const struct sweep_options *opt);
void sweep_start(struct sweep *s);
/*
 * Stop reading, write what was read, give the leases back (so that another
 * replica takes over at once, not after a lease), then call done.
 */
void sweep_shutdown(struct sweep *s, void (*done)(void *arg), void *arg);
/* After the database pool is freed: its last callbacks may still come here. */
void sweep_free(struct sweep *s);

#endif
