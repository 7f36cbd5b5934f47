/*
 * The authorization.k8s.io API of the simulated API server: the
 * SelfSubjectAccessReview and SelfSubjectRulesReview that `kubectl auth
 * can-i` asks, answered from the RBAC objects of the store (sim/rbac.h).
 */
#ifndef SIM_AUTHZ_H
#define SIM_AUTHZ_H

#include <stdbool.h>
#include <jansson.h>

struct call;

/* /apis/authorization.k8s.io/v1's APIResourceList, new reference. */
json_t *authz_resource_list(void);
/* Serves the request when its path (segs) is one of the reviews. */
bool authz_serve(struct call *c, char **segs, int nsegs);

#endif
