/*
 * The controllers and the scheduler of the simulated cluster: StatefulSets
 * and Deployments make pods, the scheduler places them on the simulated
 * nodes (honouring required pod anti-affinity and resource requests), the
 * "kubelet" makes them ready after a delay, namespaces finish terminating,
 * the garbage collector removes orphans, ResourceQuotas count the pods of
 * their namespace and admit new ones (a refused pod is a FailedCreate
 * event, and on a Deployment a ReplicaFailure condition).  Everything moves
 * on one periodic tick, woken early after each write.
 */
#ifndef SIM_CONTROLLERS_H
#define SIM_CONTROLLERS_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

struct event_base;
struct store_obj;

void controllers_init(struct event_base *base);
void controllers_free(void);
/* Run a reconciliation soon (after the current callback). */
void controllers_kick(void);
/* A new node registers, Ready (POST /_sim/nodes): its name, to free. */
char *controllers_add_node(void);

/* Delete a pod as the kubelet would: at once when grace_ms is 0, else it
 * turns Terminating (not ready) and goes after grace_ms.  grace_ms < 0
 * takes the configured default.  by names the deleter for the record. */
void controllers_delete_pod(struct store_obj *pod, int64_t grace_ms, const char *by);
bool controllers_pod_ready(const json_t *pod);
/* The pod's containers run (started, not terminating). */
bool controllers_pod_running(const struct store_obj *pod);
/* A connection to the pod's port is accepted (what a tcpSocket probe and
 * the service proxy's dial find). */
bool controllers_port_accepts(const struct store_obj *pod, int64_t port);
/* The pod is a ready endpoint of its Services, as the endpoint controller
 * has seen it so far. */
bool controllers_pod_endpoint(const struct store_obj *pod);
/* Fill the defaults of a pod spec (restartPolicy, dnsPolicy, ...). */
void controllers_default_pod_spec(json_t *spec);
/* Those of a pod's own spec: the above, and requests that default to the
 * limits (a template keeps them as written). */
void controllers_default_pod(json_t *spec);

/*
 * Admission of a new pod in ns, PodSecurity's enforce level (sim/podsecurity.h)
 * then ResourceQuota: NULL when every quota there
 * takes it (their status.used counts it from now), else why not, as the
 * API server says it after "pods \"x\" is forbidden: " ("exceeded quota:
 * q, requested: ..., used: ..., limited: ...", "failed quota: q: must
 * specify limits.cpu,..."); the caller frees it.
 */
char *controllers_admit_pod(const char *ns, const json_t *pod);

/* A resource quantity ("500m", "2Gi", 3) in thousandths of its unit, and
 * whether it was written with a binary suffix, which its sums keep. */
struct quantity {
	int64_t milli;
	bool binary;
};

bool controllers_quantity_parse(const json_t *v, struct quantity *q);
/* As the API server writes quantities back ("1500m", "34Gi", "2k"); the
 * caller frees it. */
char *controllers_quantity_format(struct quantity q);

#endif
