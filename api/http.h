/*
 * A small layer over evhttp: a route table, the one JSON error shape, JSON
 * bodies in and out, query strings and the request limits.
 *
 * Routes are a method and a path pattern whose segments are literal or a
 * {name} placeholder that matches one non-empty segment.  Matching is
 * exact: "/api/v1/jobs/" is not "/api/v1/jobs" (404).  A path that matches
 * no pattern is 404 not_found; a path that matches with another method is
 * 405 method_not_allowed with an Allow header.  HEAD is served by the GET
 * route (evhttp leaves the body out).
 *
 * Lifetime of a request.  For every request it dispatches, the server
 * creates a struct http_req and hands it to the route's handler.  The
 * handler ends it with exactly one http_reply_*() call, before it returns
 * or later from a callback (a database answer, a timer); the reply frees
 * the struct http_req and nothing may touch it afterwards.  Until then the
 * struct http_req stays valid whatever happens to the connection: if the
 * client went away, or the server was freed, the reply is dropped and only
 * the struct is freed.  So a handler that starts asynchronous work simply
 * passes the struct http_req along and replies when the work is done;
 * http_req_gone() tells it whether anyone is still listening.
 *
 * Writing to a client that has gone raises SIGPIPE: the process must
 * ignore it (signal(SIGPIPE, SIG_IGN)) before serving.
 */
#ifndef ESAAS_HTTP_H
#define ESAAS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "common/util.h"

struct event_base;
struct http_server;
struct http_router;
struct http_query;
struct http_req;

#define HTTP_MAX_PARAMS 4 /* {name} segments in one pattern */

/*
 * An error on its way to the client: the status and the three members of
 * {"error": {"code", "message", "field"}}.  field is NULL when no single
 * field is at fault.  Start from {0} (no error); the strings are owned and
 * http_error_clear() frees them.
 */
struct http_error {
	int status;
	const char *code; /* static: "invalid", "not_found", ... */
	char *field;
	char *message;
};

/*
 * Fill err (replacing what it held).  Returns false, so that a check can
 * end with "return http_error_set(...)".
 */
/* The name of a libevent request command (enum evhttp_cmd_type: "GET",
 * "PATCH", ...), or NULL for one it does not know.  The simulator and the
 * tests' fake server name their requests with it too. */
const char *http_method_name(int cmd);

bool http_error_set(struct http_error *err, int status, const char *code, const char *field,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void http_error_clear(struct http_error *err);

/* {"error": {"code": code, "message": message[, "field": field]}} */
json_t *http_error_json(const char *code, const char *message, const char *field);

/* --- Routing (no sockets involved; the server uses it, tests too). --- */

typedef void (*http_handler_fn)(struct http_req *req, void *arg);

enum http_route_result {
	HTTP_ROUTE_FOUND,
	HTTP_ROUTE_NOT_FOUND,
	HTTP_ROUTE_BAD_METHOD,
};

struct http_match {
	http_handler_fn handler;
	void *arg;
	int nparams;
	char *names[HTTP_MAX_PARAMS];  /* "id" for {id}; owned */
	char *values[HTTP_MAX_PARAMS]; /* percent-decoded segment; owned */
	char allow[64];		       /* for BAD_METHOD: "GET, HEAD, POST" */
};

struct http_router *http_router_new(void);
void http_router_free(struct http_router *r);
/* pattern must be well formed ("/a/{b}/c"); a malformed one is a bug and aborts. */
void http_router_add(struct http_router *r, const char *method, const char *pattern,
		     http_handler_fn handler, void *arg);
/*
 * Match method and the raw (still percent-encoded) path.  m is filled in
 * every case; release it with http_match_clear().
 */
enum http_route_result http_router_match(const struct http_router *r, const char *method,
					 const char *path, struct http_match *m);
void http_match_clear(struct http_match *m);
const char *http_match_param(const struct http_match *m, const char *name);

/* --- Query strings. --- */

/*
 * Parse "a=1&b=x%20y" ("+" is a space).  NULL or "" gives an empty query.
 * A bad escape, a %00 or an empty name is 400 malformed_query.
 */
struct http_query *http_query_parse(const char *s, struct http_error *err);
void http_query_free(struct http_query *q);
int http_query_count(const struct http_query *q);
const char *http_query_key(const struct http_query *q, int i);
const char *http_query_value(const struct http_query *q, int i);
/* The value of the first parameter named key, or NULL. */
const char *http_query_get(const struct http_query *q, const char *key);
/*
 * 422 invalid, naming the parameter, for the first parameter that is not
 * in allowed (NULL-terminated) or that is given more than once.
 */
bool http_query_check(const struct http_query *q, const char *const *allowed,
		      struct http_error *err) MUST_CHECK;

/* --- JSON bodies. --- */

/*
 * Parse a request body that must be a JSON object.  An empty body gives
 * {} when optional is true and is 400 malformed_json otherwise.  A
 * content_type other than application/json (parameters allowed) is 415
 * unsupported_media_type; NULL content_type is accepted.  Syntax errors are
 * 400 malformed_json with jansson's line and column.  Returns a new
 * reference, or NULL with err filled.
 */
json_t *http_json_parse_body(const char *content_type, const char *data, size_t len, bool optional,
			     struct http_error *err);
/* 422 invalid naming the first member of obj that is not in allowed (NULL-terminated). */
bool http_json_check_fields(json_t *obj, const char *const *allowed,
			    struct http_error *err) MUST_CHECK;
/* Length of a UTF-8 string in code points. */
size_t http_utf8_length(const char *s);

/* --- The server. --- */

/*
 * A body over max_body_bytes is 413 too_large, a request line and headers
 * over max_header_bytes 431 too_large, both in the JSON shape.  libevent
 * 2.1 offers no hook before it reads a body, so it gets limits of its own
 * above ours (at least twice ours): a request past those is answered by
 * evhttp itself, 413 for a body and 400 for headers, as an HTML page.
 * timeout_s bounds reading a request and writing its reply.
 */
struct http_limits {
	size_t max_body_bytes;
	size_t max_header_bytes;
	int timeout_s;
	/* Open connections at most; past it a new one is closed at once,
	 * before anything is read from it.  0: no cap. */
	int max_connections;
};

/* Split "host:port" or "[v6addr]:port" (port 0..65535).  *host is allocated. */
bool http_parse_listen(const char *address, char **host, int *port, char *err,
		       size_t errlen) MUST_CHECK;

struct http_server *http_server_new(struct event_base *base, const struct http_limits *lim);
/* Routes may be added before or after listening. */
void http_server_route(struct http_server *srv, const char *method, const char *pattern,
		       http_handler_fn handler, void *arg);
bool http_server_listen(struct http_server *srv, const char *address, char *err,
			size_t errlen) MUST_CHECK;
/* Connections open now, and those closed at once for the cap since the start. */
int http_server_connections(const struct http_server *srv);
unsigned long long http_server_refused(const struct http_server *srv);
/* The port actually bound (useful after listening on port 0), or -1. */
int http_server_port(const struct http_server *srv);
/*
 * HTTPS.  http_tls_load() reads a certificate (the server's first, then its
 * chain) and its unencrypted private key, both PEM; NULL with err naming
 * the file at fault ("cert_file PATH: ...", "key_file PATH: ..."), also
 * when the key is not the certificate's.
 */
struct http_tls;
struct http_tls *http_tls_load(const char *cert_file, const char *key_file, char *err,
			       size_t errlen);
/* "CN = ..., valid until ...", for the log. */
const char *http_tls_summary(const struct http_tls *tls);
void http_tls_free(struct http_tls *tls);
/*
 * Serve TLS with tls on srv's listener: srv takes tls, and frees the pair
 * it served before.  The connections accepted from now on use the new
 * pair; those already open go on with the one they began with.  Call it
 * before http_server_listen() for every connection to be TLS; a
 * plain-HTTP request on such a listener fails its handshake and is closed.
 */
void http_server_set_tls(struct http_server *srv, struct http_tls *tls);

/*
 * Close the listener and every connection.  Requests still waiting for
 * their reply stay valid (see above); their replies are dropped.
 */
void http_server_free(struct http_server *srv);

/* --- A request being handled. --- */

const char *http_req_method(const struct http_req *req); /* "GET", "POST", ... */
const char *http_req_path(const struct http_req *req);	 /* raw path, no query */
const char *http_req_peer(const struct http_req *req);	 /* numeric client address */
/* A {name} of the route's pattern, percent-decoded. */
const char *http_req_param(const struct http_req *req, const char *name);
const struct http_query *http_req_query(const struct http_req *req);
/* A request header (case-insensitive), or NULL (also once the client is gone). */
const char *http_req_header(const struct http_req *req, const char *name);
/* The body as a JSON object; see http_json_parse_body(). */
json_t *http_req_json(struct http_req *req, bool optional, struct http_error *err);
/* True once the client has gone or the server was freed: the reply will be dropped. */
bool http_req_gone(const struct http_req *req);

/* Add a response header; call before the reply. */
void http_req_add_header(struct http_req *req, const char *name, const char *value);

/*
 * Something of the caller's that lives as long as the request (who is
 * asking, once authenticated): free_fn(context) runs when the request is
 * freed, or when another context replaces it.
 */
void http_req_set_context(struct http_req *req, void *context, void (*free_fn)(void *));
void *http_req_context(const struct http_req *req);

/*
 * The replies.  Each ends the request and frees req.  Every body is JSON
 * (Content-Type: application/json, Cache-Control: no-store) but that of
 * http_reply_body().
 */
void http_reply_json(struct http_req *req, int status, json_t *body); /* steals body */
void http_reply_error(struct http_req *req, int status, const char *code, const char *field,
		      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Send err and clear it. */
void http_reply_failure(struct http_req *req, struct http_error *err);
/*
 * A body that is not JSON (the job viewer's files), len bytes of
 * content_type.  No Cache-Control is added: set one with
 * http_req_add_header().  content_type NULL sends no body at all (304 Not
 * Modified).  For HEAD, only the length is sent.
 */
void http_reply_body(struct http_req *req, int status, const char *content_type, const void *body,
		     size_t len);

#endif
