/*
 * Fault injection, from the configuration's "faults" list or at run time
 * (POST /_sim/faults, DELETE /_sim/faults).  A body is one rule, a list of
 * rules, or {"rules": [...], "unschedulable_nodes": [...],
 * "red_clusters": [...]}.  A rule:
 *
 *   {"path": "/api/v1/namespaces/[a-z]*", "except": "/api/v1/namespaces/kube-*",
 *    "method": "GET", "rate": 0.5, "status": 503, "latency_ms": 200,
 *    "hang": false, "retry_after": 2, "count": 3}
 *
 * path is an fnmatch(3) pattern on the request path ('*' crosses '/');
 * except, another, leaves out the paths it matches (the API server's own
 * faults, say, without the requests it proxies to a service); query, a
 * pattern on the query string ("*watch=1*": the watches alone); rate
 * (default 1) is the chance that a matching request is hit; status 0 with
 * latency_ms only delays; hang never answers; count limits how many
 * requests the rule hits.  Every rule that matches may hit: their rates
 * add up.
 */
#ifndef SIM_FAULTS_H
#define SIM_FAULTS_H

#include <stdbool.h>
#include <jansson.h>

#include "common/util.h"

struct faults_hit {
	int status; /* 0: no error */
	int latency_ms;
	bool hang;
	int retry_after; /* seconds; 0: no header */
	char *message;	 /* NULL or allocated */
};

void faults_init(void);
void faults_free(void);
/* Add from JSON; false with *err on a malformed body. */
bool faults_add(const json_t *body, char **err) MUST_CHECK;
void faults_clear(void);
json_t *faults_json(void);

/* What happens to this request; clear hit->message with free(). */
void faults_check(const char *method, const char *path, const char *query, struct faults_hit *hit);
bool faults_node_unschedulable(const char *node);
bool faults_cluster_red(const char *ns);

#endif
