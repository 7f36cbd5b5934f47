/*
 * One HTTP request to the simulator, from arrival to its one reply.
 *
 * A handler ends a call with exactly one call_reply_*(), now or later from
 * a timer; the reply frees the call.  A call whose answer is deferred (an
 * Elasticsearch wait, a hang fault) is "parked": if the client goes away,
 * evhttp frees the request, call->req becomes NULL, and the owner notices
 * (call_gone()) and ends it with call_free().
 */
#ifndef SIM_CALL_H
#define SIM_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <event2/http.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>

struct rbac_user;

struct call {
	struct evhttp_request *req; /* NULL once the client has gone */
	const char *method;	    /* "GET", ... (static) */
	char *path;		    /* as received, without the query */
	char *query_raw;	    /* may be NULL */
	char *proxy_path;	    /* the path behind the service proxy, or NULL */
	struct evkeyvalq query;
	char *body; /* NUL-terminated copy */
	size_t body_len;
	int64_t started_ms;
	struct event *timer; /* latency fault */
	bool parked;
	void *owner_data;	      /* for whoever parked it */
	const struct rbac_user *user; /* who made it (sim/rbac.h), NULL: anonymous */
	char **warnings;	      /* the Warning header values added, owned */
	size_t nwarnings;
};

struct call *call_new(struct evhttp_request *req);
void call_free(struct call *c);

/* The query parameter, or NULL. */
/* query's parameters into out, taking one without '=' as empty; 0. */
int call_parse_query(const char *query, struct evkeyvalq *out);
const char *call_param(struct call *c, const char *name);
/* "true"/"1"/"" (present without value) are true. */
bool call_param_bool(struct call *c, const char *name, bool def);
const char *call_header(struct call *c, const char *name);

/* Keep the call open past the handler: the client's disconnection then
 * only clears c->req. */
void call_park(struct call *c);
bool call_gone(const struct call *c);

void call_add_header(struct call *c, const char *name, const char *value);
/* The replies: each frees the call.  json is stolen. */
void call_reply_json(struct call *c, int code, json_t *json);
void call_reply_text(struct call *c, int code, const char *content_type, const char *text);

/* Elasticsearch-style duration ("30s", "500ms", "1m", "-1"); false if malformed. */
bool call_parse_duration_ms(const char *s, int64_t *ms);

#endif
