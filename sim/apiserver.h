/*
 * The HTTP face of the simulator: the Kubernetes API subset esaas uses,
 * the service proxy into the Elasticsearch clusters, and /_sim/ (state
 * and faults).  Every request but /healthz, /livez, /readyz and /version
 * needs the bearer token.
 */
#ifndef SIM_APISERVER_H
#define SIM_APISERVER_H

#include <stdbool.h>

#include "common/util.h"

struct event_base;

/* Listen on host:port (port 0: any free port, written to *bound_port). */
bool apiserver_start(struct event_base *base, const char *host, int port, const char *token,
		     int *bound_port, char **err) MUST_CHECK;
void apiserver_stop(void);

#endif
