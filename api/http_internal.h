/*
 * What api/http.c and api/route.c share, and nothing outside them includes:
 * the two list helpers of their messages.  The public contract is
 * api/http.h.
 */
#ifndef ESAAS_API_HTTP_INTERNAL_H
#define ESAAS_API_HTTP_INTERNAL_H

#include "api/http.h"

#include <stdbool.h>

bool http_in_list(const char *s, const char *const *list);
char *http_join_list(const char *const *list);

#endif
