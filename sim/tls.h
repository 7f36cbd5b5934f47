/*
 * The simulator's HTTPS: a CA of its own, made at start, and a server
 * certificate it signs for the addresses the simulator answers on.  The
 * real API server speaks only HTTPS, and real clients (kubectl, client-go)
 * send no bearer token over plain HTTP; the CA goes into the kubeconfig
 * the simulator writes (certificate-authority-data), as a cluster's does.
 */
#ifndef SIM_TLS_H
#define SIM_TLS_H

#include <stdbool.h>
#include <event2/http.h>

#include "common/util.h"

/*
 * Make the CA and a server certificate valid for localhost, 127.0.0.1,
 * ::1 and host (the --listen address).  *ca_pem: the CA's certificate,
 * PEM (free it).  On failure *err is set.
 */
bool sim_tls_init(const char *host, char **ca_pem, char **err) MUST_CHECK;
/* Serve http over TLS with that certificate. */
void sim_tls_serve(struct evhttp *http);
void sim_tls_free(void);

#endif
