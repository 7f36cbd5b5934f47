/*
 * The simulator's configuration (--config sim.yaml).  HTTPS and RBAC are
 * set on the command line (esaas-sim --help): it serves HTTPS with a CA of
 * its own unless --plain-http, and authorizes requests with the RBAC
 * objects of each --rbac FILE.  Every key is optional:
 *
 *   log: {level: info}
 *   tick_ms: 50                    # how often controllers and shards move
 *   nodes:
 *     count: 3
 *     hostname_prefix: node        # node-0, node-1, ...
 *     rack_label: topology.kubernetes.io/zone
 *     racks: [rack-a, rack-b]      # node i is in racks[i % len]
 *     cpu: "8"                     # allocatable per node
 *     memory: 32Gi
 *     disk: 100Gi                  # the filesystem the data paths of its hostPath
 *                                  # folders are on (Elasticsearch's disk usage,
 *                                  # sim/esdisk.h)
 *     pods: 110
 *   pods:
 *     ready_delay_ms: 1000         # its images on the node to its containers running (the
 *                                  # runtime's start); Ready then follows the
 *                                  # readiness probe, or at once without one
 *     terminate_ms: 2000           # deleted to gone (SIGTERM to exit, capped by
 *                                  # the pod's terminationGracePeriodSeconds)
 *     gc_quarantine_ms: 40000      # a pod bound to a node that does not exist
 *                                  # is deleted once the node stays missing so long
 *   images:
 *     pull_ms: 5000                # one image's pull onto a node, once per node
 *                                  # (the node keeps it); a node pulls one image
 *                                  # at a time
 *     extra: [registry.example.com/es:7.17.10]  # images the registry has besides
 *                                  # the official Elasticsearch, Kibana, busybox
 *                                  # and nginx ones (sim/images.h)
 *   network:
 *     control_plane_ip: 172.18.0.2 # where the service proxy dials pods from
 *     proxy_dial_timeout_ms: 30000 # a dial that NetworkPolicy drops ends so
 *   pod_network:                   # who connects on the pod network (--pod-network):
 *     namespace: esaas-system      # a pod of this namespace, with these labels and
 *     labels: {app.kubernetes.io/name: esaasd, app.kubernetes.io/component: api}
 *     ip: 10.244.255.2             # address (esaasd as deploy/kubernetes runs it)
 *     others:                      # more listeners, each for a client of its own:
 *       - {listen: "127.0.0.1:15000", namespace: apps, labels: {app: web}, ip: 10.244.255.3}
 *       - {listen: "127.0.0.1:15001", ip: 192.168.7.9}  # no namespace: an address
 *                                  # outside the pod network
 *   serviceaccounts:
 *     token_life_ms: 0             # 0: long-lived tokens, written into the kubeconfig;
 *                                  # else bound tokens of that life, in files the
 *                                  # kubeconfig names (tokenFile), rewritten at 80%
 *                                  # of their life as the kubelet does
 *   pod_security:
 *     default_enforce: restricted  # the admission configuration's default level
 *                                  # for namespaces without the enforce label
 *                                  # (privileged when unset)
 *     force_enforce: baseline      # the cluster's policy sets every namespace's
 *                                  # pod-security.kubernetes.io/enforce label to
 *                                  # this level, whatever the writer asked
 *   elasticsearch:
 *     relocation_ms: 2000          # the default shard_size, as time at 40mb/s
 *     recovery_ms: 500             # a copy initialising
 *     node_left_delay_ms: 60000    # index.unassigned.node_left.delayed_timeout
 *     no_master_wait_ms: 30000     # cap on waiting for a master that is not there
 *     initial_state_timeout_ms: 30000 # discovery.initial_state_timeout: a node
 *                                  # without a master opens HTTP after it
 *     indices:                     # created in every cluster once it forms
 *       - {name: logs, shards: 2, replicas: 1, shard_size: 400mb}
 *                                  # shard_size: a copy's files, which recoveries
 *                                  # copy at indices.recovery.max_bytes_per_sec;
 *                                  # by default what relocation_ms takes at 40mb/s
 *       - {name: words, analysis: {analyzer: {a: {tokenizer: icu_tokenizer}}}}
 *       - {name: sized, mappings: {_size: {enabled: true}}}
 *   object_store:                  # S3 as the nodes' s3 repositories reach it (sim/s3.h)
 *     endpoint: s3.storage.svc:9000  # host[:port] a client's endpoint names
 *                                  # (s3.amazonaws.com: a client without one)
 *     buckets: [snapshots]
 *     keys:                        # each key may read and write under its prefix only
 *       - {access_key: AKACME, secret_key: s3cr3t, bucket: snapshots, prefix: esaas/acme}
 *   faults: [...]                  # as POST /_sim/faults takes them
 *   seed: 42                       # of the faults' rates and the simulated ids;
 *                                  # drawn at start (and logged) when absent
 */
#ifndef SIM_SIMCONF_H
#define SIM_SIMCONF_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "common/util.h"

struct simconf {
	char *log_level;
	int tick_ms;
	int node_count;
	char *hostname_prefix;
	char *rack_label;
	char **racks;
	int nracks;
	int64_t node_cpu_milli;
	int64_t node_memory;
	int64_t node_disk; /* bytes */
	int node_pods;
	int pod_ready_delay_ms;
	int pod_terminate_ms;
	int pod_gc_quarantine_ms;
	int image_pull_ms;
	json_t *images_extra; /* array of image references */
	char *control_plane_ip;
	int proxy_dial_timeout_ms;
	int64_t token_life_ms;
	char *pod_security_default_enforce; /* or NULL: privileged */
	char *pod_security_force_enforce;   /* or NULL */
	int relocation_ms;
	int recovery_ms;
	int node_left_delay_ms;
	int no_master_wait_ms;
	int initial_state_timeout_ms;
	/* {namespace?, labels, ip, others: [{listen, namespace?, labels, ip}]},
	 * checked and completed with the defaults */
	json_t *pod_network;
	json_t *indices;      /* array of {name, shards, replicas, analysis?, mappings?} */
	json_t *faults;	      /* array, or NULL */
	json_t *object_store; /* {endpoint, buckets, keys}, checked (sim/s3.c), or NULL */
	uint64_t seed;	      /* given, or drawn from the OS by simconf_load */
	bool seed_given;
};

/* Defaults, then the file if path is not NULL.  On failure *err is set. */
bool simconf_load(const char *path, char **err) MUST_CHECK;
const struct simconf *simconf_get(void);
void simconf_free(void);

/*
 * The simulator's random numbers (which requests a rate-based fault hits,
 * node ids and cluster UUIDs): one sequence from the configuration's seed,
 * so that a run that failed can be repeated with the seed it logged.
 * Uniform in [0, n); 0 when n is 0.
 */
uint64_t simconf_rand_below(uint64_t n);

/* "HOST:PORT" (or "[V6]:PORT"): its parts; false when it is not so. */
bool simconf_split_listen(const char *s, char **host, int *port) MUST_CHECK;

/* Kubernetes quantities: "500m", "2" (milli-units) and "2Gi", "1G", "512" (units). */
bool simconf_quantity_milli(const char *s, int64_t *out) MUST_CHECK;
bool simconf_quantity(const char *s, int64_t *out) MUST_CHECK;
/* Elasticsearch byte sizes (ByteSizeValue): "40mb", "1.5gb", "512b", "-1", "0";
 * units in powers of 1024, in any case. */
bool simconf_bytes(const char *s, int64_t *out) MUST_CHECK;

#endif
