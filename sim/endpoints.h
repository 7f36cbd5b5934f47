/*
 * The endpoint controllers: Endpoints and EndpointSlices (discovery.k8s.io/v1)
 * of every Service with a selector, from the pods as the controllers have
 * seen them.
 */
#ifndef SIM_ENDPOINTS_H
#define SIM_ENDPOINTS_H

/* One sync of every Service; writes only what changed. */
void endpoints_sync(void);

#endif
