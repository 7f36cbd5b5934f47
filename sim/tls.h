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
/*
 * A client certificate for cn with orgs as its O entries (the groups),
 * signed by the CA: the PEM certificate, and *key_pem its key (free both);
 * NULL on failure.
 */
char *sim_tls_client_cert(const char *cn, const char *const *orgs, char **key_pem);
/*
 * The client certificate of req's connection: false when none was sent.
 * When one was, *cn and *orgs (NULL-terminated; free each and the array)
 * are its subject's, or both NULL when the CA did not issue it for client
 * authentication (expired, another CA's, no clientAuth usage) or it has
 * no common name.
 */
bool sim_tls_peer(struct evhttp_request *req, char **cn, char ***orgs);

#endif
