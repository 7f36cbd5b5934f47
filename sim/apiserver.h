/*
 * The HTTP face of the simulator: the Kubernetes API subset esaas uses,
 * the service proxy into the Elasticsearch clusters, and /_sim/ (state
 * and faults).  Every request but /healthz, /livez, /readyz and /version
 * needs a bearer token (sim/rbac.h), and the user it is must be allowed
 * what it asks by RBAC; /_sim/ is the cluster admin's only.
 */
#ifndef SIM_APISERVER_H
#define SIM_APISERVER_H

#include <stdbool.h>
#include <jansson.h>

#include "common/util.h"
#include "sim/netpol.h"

struct event_base;

/* Listen on host:port (port 0: any free port, written to *bound_port), over
 * TLS (sim/tls.h, set up first) unless tls is false. */
bool apiserver_start(struct event_base *base, const char *host, int port, bool tls, int *bound_port,
		     char **err) MUST_CHECK;
void apiserver_stop(void);
/* The pod behind Service svc of ns that a connection to its port reaches
 * (a ready endpoint, in turn, whose target port accepts), or NULL: what
 * kube-proxy does for a client inside the cluster.  The caller frees it.
 * *dropped: the pod's NetworkPolicies drop src's connection to that port
 * (sim/netpol.h), which the network plugin does past kube-proxy. */
char *apiserver_service_endpoint(const char *ns, const char *svc, int port,
				 const struct netpol_source *src, bool *dropped);
/* Whether the NetworkPolicies of Service svc's ready pod drop src's
 * connections to every port of the Service (false without a ready pod):
 * what a connection to its name alone, before any port is known, meets. */
bool apiserver_service_drops(const char *ns, const char *svc, const struct netpol_source *src);

/* Whether obj passes a fieldSelector (a=b, a==b, a!=b, comma-joined) on the
 * fields its kind can be selected by; *bad is set for a field it cannot. */
bool apiserver_field_matches(const json_t *obj, const char *sel, bool *bad);

/* A cause of a 422 Status (metav1.StatusCause): its reason, the field, and
 * the message made from fmt.  For every validation of the simulator. */
void apiserver_cause(json_t *causes, const char *reason, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
