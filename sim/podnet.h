/*
 * The pod network as a client inside the cluster sees it: a Service's DNS
 * name and port (es-http.NAMESPACE.svc:9200) reach one of its ready pods,
 * as cluster DNS and kube-proxy make it.  The simulator serves it on one
 * local port (--pod-network); a client connects there and names the
 * Service in the Host header, and in TLS's server name when it speaks TLS
 * (curl --connect-to): a node's HTTP over TLS with the certificate its
 * elasticsearch.yml names (sim_es_http_tls()), or plain HTTP to a node
 * without TLS on HTTP.  Plain HTTP to a node with TLS is closed unanswered,
 * TLS to a node without it ends in the handshake, as a real node does.
 *
 * Who connects is said by the configuration, not guessed: the listener's
 * client is the pod of pod_network (esaasd's, by default), and each of
 * pod_network.others listens for a client of its own (sim/simconf.h).
 * Each connection meets the NetworkPolicies of the pod it reaches, as a
 * network plugin that enforces them makes it (sim/netpol.h): a dropped one
 * is never answered.
 */
#ifndef SIM_PODNET_H
#define SIM_PODNET_H

#include <stdbool.h>

#include "common/util.h"

struct event_base;

/* Listen on host:port (port 0: any free one, in *bound_port) for the
 * pod_network client, and on each of pod_network.others for theirs. */
bool podnet_start(struct event_base *base, const char *host, int port, int *bound_port,
		  char **err) MUST_CHECK;
void podnet_stop(void);

#endif
