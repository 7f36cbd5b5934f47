/*
 * What tests want to prove afterwards: every mutating request received,
 * every pod deletion, every lost shard.  Served at GET /_sim/state with
 * each cluster's current health.
 */
#ifndef SIM_RECORD_H
#define SIM_RECORD_H

#include <jansson.h>

void record_init(void);
void record_free(void);
void record_clear(void);

void record_request(const char *method, const char *path, const char *query);
/*
 * A request served by a simulated Elasticsearch node: who sent it (the
 * Kubernetes user of the service proxy), to a cluster of which version,
 * the method, the path behind the proxy and its query.  Kept once per
 * distinct request, with a count: tests check them against the REST
 * specification of that version (tests/sim/es_spec.py).
 */
void record_es_request(const char *user, const char *version, const char *method, const char *path,
		       const char *query);
/* A Warning header sent to a client (its text, unquoted). */
void record_api_warning(const char *method, const char *path, const char *text);
/*
 * An answer the service proxy gave itself, without reaching a pod: 503
 * "no endpoints available for service", a dial refused or timed out.
 * Tests count them: a client that asks before the Service has an
 * endpoint shows here.
 */
void record_proxy_error(const char *method, const char *path, const char *query, int status,
			const char *message);
/* by: "api", "statefulset", "deployment", "namespace", "garbage-collector",
 * "pod-garbage-collector" */
void record_pod_deletion(const char *ns, const char *name, const char *uid, const char *by);
void record_lost_shard(const char *ns, const char *index, int shard, const char *node);
/* A lost primary came back from a node's disk. */
void record_shard_recovered(const char *ns, const char *index, int shard, const char *node);

/*
 * A shard copy built by copying files from another node over the network
 * (Elasticsearch's peer recovery): a replica made from its primary (type
 * "replica") or a copy relocating (type "relocation").  A copy that starts
 * from what its node's disk holds is no peer recovery.
 */
void record_peer_recovery(const char *ns, const char *index, int shard, const char *source,
			  const char *target, const char *type);

/* {"requests": [...], "pod_deletions": [...], "lost_shards": [...],
 * "peer_recoveries": [...], "es_requests": [...], "host_paths": [...]
 * (sim/hostfs.h), "warnings": [{verb, path, text, time, time_ms}],
 * "proxy_errors": [{verb, path, query, status, message, time, time_ms}]};
 * new reference. */
json_t *record_json(void);

#endif
