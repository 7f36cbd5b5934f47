/*
 * The controllers and the scheduler of the simulated cluster: StatefulSets
 * and Deployments make pods, the scheduler places them on the simulated
 * nodes (honouring required pod anti-affinity and resource requests), the
 * "kubelet" makes them ready after a delay, namespaces finish terminating,
 * the garbage collector removes orphans.  Everything moves on one periodic
 * tick, woken early after each write.
 */
#ifndef SIM_CONTROLLERS_H
#define SIM_CONTROLLERS_H

#include <stdbool.h>
#include <jansson.h>

struct event_base;
struct store_obj;

void controllers_init(struct event_base *base);
void controllers_free(void);
/* Run a reconciliation soon (after the current callback). */
void controllers_kick(void);

/* Delete a pod as the kubelet would: at once when grace_ms is 0, else it
 * turns Terminating (not ready) and goes after grace_ms.  grace_ms < 0
 * takes the configured default.  by names the deleter for the record. */
void controllers_delete_pod(struct store_obj *pod, int64_t grace_ms, const char *by);
bool controllers_pod_ready(const json_t *pod);
/* Fill the defaults of a pod spec (restartPolicy, dnsPolicy, ...). */
void controllers_default_pod_spec(json_t *spec);

#endif
