/*
 * Validation of a pod spec as the API server does it, for the fields esaas
 * renders (volumes, containers' ports, mounts, resources, probes and
 * securityContext, init containers, anti-affinity).
 */
#ifndef SIM_PODVALIDATION_H
#define SIM_PODVALIDATION_H

#include <jansson.h>

/* Appends to causes a {reason, message, field} for each refusal; prefix is
 * the spec's path ("spec", "spec.template.spec"). */
void podvalidation_check(json_t *causes, const json_t *spec, const char *prefix);

/* A controller's pod refused by that validation: `Pod "name" is invalid:
 * ...` as the API server words it (to free), or NULL when valid. */
char *podvalidation_pod_refusal(const char *name, const json_t *spec);

#endif
