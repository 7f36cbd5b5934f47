/*
 * Voluntary disruptions: the disruption controller's status of each
 * PodDisruptionBudget, and the Eviction subresource of pods that honours
 * it, as `kubectl drain` and the cluster autoscaler use it.
 */
#ifndef SIM_DISRUPTION_H
#define SIM_DISRUPTION_H

struct call;

/* The controller's pass over every PodDisruptionBudget (on each tick). */
void disruption_sync(void);

/* POST /api/v1/namespaces/{ns}/pods/{name}/eviction (policy/v1 Eviction). */
void disruption_evict(struct call *c, const char *ns, const char *name);

#endif
