/*
 * What api/http.c and api/route.c share, and nothing outside them includes:
 * the two list helpers of their messages, and the TLS bufferevent of
 * api/http_tls.c.  The public contract is
 * api/http.h.
 */
#ifndef ESAAS_API_HTTP_INTERNAL_H
#define ESAAS_API_HTTP_INTERNAL_H

#include "api/http.h"

#include <stdbool.h>

bool http_in_list(const char *s, const char *const *list);
char *http_join_list(const char *const *list);

struct bufferevent;
struct event_base;
/* A server-side TLS bufferevent (handshake pending, no socket yet) for a
 * connection accepted with tls; NULL on failure. */
struct bufferevent *http_tls_bufferevent(struct http_tls *tls, struct event_base *base);

#endif
