/*
 * A private certificate authority per Elasticsearch cluster: its CA, and
 * the certificate its nodes present on the transport and HTTP layers,
 * made with libcrypto.  Keys are EC P-256, written as unencrypted PKCS#8
 * PEM, which Elasticsearch reads from 6.x
 * (https://www.elastic.co/guide/en/elasticsearch/reference/7.17/security-settings.html#ssl-tls-settings).
 */
#ifndef ESAAS_PKI_H
#define ESAAS_PKI_H

#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"

/* A certificate and its private key, both PEM; owned by the struct. */
struct pki_pair {
	char *cert_pem;
	char *key_pem;
};

/* A self-signed CA named cn, valid for days.  err names what failed. */
bool pki_make_ca(const char *cn, int days, struct pki_pair *out, char *err,
		 size_t errlen) MUST_CHECK;

/*
 * A certificate for servers and clients (TLS on both ends of the
 * transport layer) named cn, with the DNS names dns[0..ndns) as its
 * subject alternative names (a leading "*." is a wildcard), signed by ca
 * and valid for days.
 */
bool pki_make_cert(const struct pki_pair *ca, const char *cn, const char *const *dns, size_t ndns,
		   int days, struct pki_pair *out, char *err, size_t errlen) MUST_CHECK;

/* Whether cert_pem chains to ca_pem and, when host is not NULL, is valid
 * for host; err says why not. */
bool pki_verify(const char *ca_pem, const char *cert_pem, const char *host, char *err,
		size_t errlen) MUST_CHECK;

void pki_pair_free(struct pki_pair *p);

#endif
