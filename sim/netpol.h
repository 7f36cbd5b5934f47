/*
 * NetworkPolicy ingress (networking.k8s.io/v1) for the connections the
 * simulator makes: which sources may open a TCP connection to a pod.
 *
 * A pod that no policy with the Ingress type selects takes every
 * connection; one that some do takes only what a rule of one of them
 * admits: a peer (podSelector, namespaceSelector, both, or an ipBlock with
 * its exceptions) and a port (number, named container port, endPort).
 * https://kubernetes.io/docs/concepts/services-networking/network-policies/
 */
#ifndef SIM_NETPOL_H
#define SIM_NETPOL_H

#include <stdbool.h>
#include <jansson.h>

/* Where a connection comes from: a pod (ns and labels set) or an address
 * outside the pod network (ns NULL), such as the control plane's. */
struct netpol_source {
	const char *ip;
	const char *ns;
	const json_t *labels;
};

/* Whether the policies of pod's namespace admit a TCP connection from src
 * to pod (a Pod object) on port. */
bool netpol_admits(const json_t *pod, const struct netpol_source *src, int port);

/* The API server's validation of a NetworkPolicy: causes ({reason,
 * message, field}) appended to causes. */
void netpol_validate(const json_t *obj, json_t *causes);

#endif
