/*
 * The server side of api/http.h: the one JSON error shape, JSON bodies,
 * the evhttp server and its requests, and the replies.  The routing and
 * the query strings are in route.c.
 */
#include "api/http_internal.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>

/*
 * One open connection.  libevent 2.1 has no cap on connections and no hook
 * at accept but the one that makes a connection's bufferevent
 * (evhttp_set_bevcb), which runs before the evhttp_connection exists.  So a
 * connection is counted there, and its close callback is set a moment
 * later (hookup_cb), once evhttp has made the connection object and named
 * it as the bufferevent's callback argument; nothing of the connection runs
 * in between, since its socket is first polled after the callbacks that
 * are active now.  Its close callback is the connection's, not a request's:
 * it tells the request waiting for a reply, if any, that it has nowhere to
 * go.
 */
struct http_conn {
	struct http_server *srv;
	struct bufferevent *bev;
	struct evhttp_connection *evcon; /* NULL until hooked up */
	struct http_req *req;		 /* dispatched and waiting for its reply */
	struct http_conn *prev, *next;	 /* in srv->conns or srv->unhooked */
};

struct http_server {
	struct event_base *base;
	struct evhttp *evhttp;
	struct http_router *router;
	struct http_limits lim;
	struct http_req *pending; /* dispatched, not yet replied */
	int port;
	struct http_conn *conns;    /* hooked up */
	struct http_conn *unhooked; /* counted, their close callback not set yet */
	int nconns;		    /* both lists */
	struct event *hookup;
	/*
	 * At max_connections, evhttp's listener is disabled and refuser, on
	 * the same socket, takes each new connection and closes it at once.
	 */
	struct evconnlistener *accepter; /* evhttp's */
	struct evconnlistener *refuser;
	bool refusing;
	unsigned long long refused;
	struct http_tls *tls; /* NULL: plain HTTP */
};

struct http_req {
	struct evhttp_request *evreq; /* NULL once the client or the server is gone */
	struct http_server *srv;      /* NULL once the server is freed */
	struct http_conn *conn;	      /* while waiting for the reply on it */
	struct http_req *prev, *next; /* in srv->pending */
	const char *method;
	char *path;
	char *peer;
	struct http_match match;
	struct http_query *query;
	int64_t started_ms;
	void *context; /* http_req_set_context() */
	void (*context_free)(void *);
};

/* --- Errors. --- */

bool http_error_set(struct http_error *err, int status, const char *code, const char *field,
		    const char *fmt, ...)
{
	va_list ap;

	http_error_clear(err);
	err->status = status;
	err->code = code;
	err->field = field ? xstrdup(field) : NULL;
	va_start(ap, fmt);
	err->message = xvasprintf(fmt, ap);
	va_end(ap);
	return false;
}

void http_error_clear(struct http_error *err)
{
	free(err->field);
	free(err->message);
	err->status = 0;
	err->code = NULL;
	err->field = NULL;
	err->message = NULL;
}

json_t *http_error_json(const char *code, const char *message, const char *field)
{
	json_t *inner = json_object();

	/* Messages quote what the client sent, which need not be UTF-8. */
	char *m = utf8_scrub(message ? message : "");
	json_object_set_new(inner, "code", json_string(code));
	json_object_set_new(inner, "message", json_string(m));
	free(m);
	if (field) {
		char *f = utf8_scrub(field);
		json_object_set_new(inner, "field", json_string(f));
		free(f);
	}
	return json_pack("{s:o}", "error", inner);
}

/* --- JSON bodies. --- */

static bool media_type_is_json(const char *ct)
{
	static const char json_type[] = "application/json";

	ct += strspn(ct, " \t");
	if (strncasecmp(ct, json_type, sizeof(json_type) - 1) != 0)
		return false;
	ct += sizeof(json_type) - 1;
	ct += strspn(ct, " \t");
	return *ct == '\0' || *ct == ';';
}

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
	default:
		return "null";
	}
}

json_t *http_json_parse_body(const char *content_type, const char *data, size_t len, bool optional,
			     struct http_error *err)
{
	json_error_t jerr;
	json_t *body;

	if (len == 0) {
		if (optional)
			return json_object();
		http_error_set(err, 400, "malformed_json", NULL,
			       "the request body is empty; a JSON object is expected");
		return NULL;
	}
	if (content_type && !media_type_is_json(content_type)) {
		http_error_set(err, 415, "unsupported_media_type", NULL,
			       "Content-Type \"%.100s\" is not accepted; send application/json",
			       content_type);
		return NULL;
	}
	/* Duplicate keys would make one of the two values silently win. */
	body = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!body) {
		http_error_set(err, 400, "malformed_json", NULL,
			       "malformed JSON at line %d, column %d: %s", jerr.line, jerr.column,
			       jerr.text);
		return NULL;
	}
	if (!json_is_object(body)) {
		http_error_set(err, 400, "malformed_json", NULL,
			       "the request body must be a JSON object, not %s", json_kind(body));
		json_decref(body);
		return NULL;
	}
	return body;
}

bool http_json_check_fields(json_t *obj, const char *const *allowed, struct http_error *err)
{
	const char *key;
	json_t *value;

	json_object_foreach (obj, key, value) {
		if (!http_in_list(key, allowed)) {
			char *known = http_join_list(allowed);

			http_error_set(err, 422, "invalid", key, "unknown field \"%s\"; known: %s",
				       key, known);
			free(known);
			return false;
		}
	}
	return true;
}

size_t http_utf8_length(const char *s)
{
	size_t n = 0;

	for (; *s; s++) {
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	}
	return n;
}

/* --- The server. --- */

bool http_parse_listen(const char *address, char **host, int *port, char *err, size_t errlen)
{
	const char *colon;
	char *h;

	if (address[0] == '[') {
		const char *close = strchr(address, ']');

		if (!close || close == address + 1 || close[1] != ':')
			goto bad;
		h = xstrndup(address + 1, (size_t)(close - address - 1));
		colon = close + 1;
	} else {
		colon = strchr(address, ':');
		/* Several colons: an IPv6 address without its brackets. */
		if (!colon || colon == address || strchr(colon + 1, ':'))
			goto bad;
		h = xstrndup(address, (size_t)(colon - address));
	}
	if (!parse_int(colon + 1, 0, 65535, port)) {
		snprintf(err, errlen, "listen address \"%s\": the port must be 0..65535", address);
		free(h);
		return false;
	}
	*host = h;
	return true;

bad:
	snprintf(err, errlen,
		 "listen address \"%s\": expected host:port, or [address]:port for IPv6", address);
	return false;
}

const char *http_method_name(int cmd)
{
	switch ((enum evhttp_cmd_type)cmd) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_TRACE:
		return "TRACE";
	case EVHTTP_REQ_CONNECT:
		return "CONNECT";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	}
	return NULL;
}

/* libevent 2.1 only knows the phrases of RFC 2616. */
static const char *reason_phrase(int status)
{
	switch (status) {
	case 413:
		return "Content Too Large";
	case 415:
		return "Unsupported Media Type";
	case 422:
		return "Unprocessable Content";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	default:
		return NULL; /* libevent's own */
	}
}

static void dispatch_cb(struct evhttp_request *evreq, void *arg);

/* --- connections and their cap --- */

static void conn_list_add(struct http_conn **list, struct http_conn *c)
{
	c->prev = NULL;
	c->next = *list;
	if (*list)
		(*list)->prev = c;
	*list = c;
}

static void conn_list_remove(struct http_conn **list, struct http_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		*list = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

/* Refuse new connections from the listener at the cap, take them again below it. */
static void set_refusing(struct http_server *srv, bool refusing)
{
	if (!srv->accepter || !srv->refuser || srv->refusing == refusing)
		return;
	srv->refusing = refusing;
	if (refusing) {
		evconnlistener_disable(srv->accepter);
		evconnlistener_enable(srv->refuser);
		log_warn("HTTP port %d: %d connections open, the most allowed "
			 "(http.max_connections); new ones are closed at once",
			 srv->port, srv->nconns);
	} else {
		evconnlistener_disable(srv->refuser);
		evconnlistener_enable(srv->accepter);
		log_info("HTTP port %d: below %d connections again; %llu were refused", srv->port,
			 srv->lim.max_connections, srv->refused);
	}
}

static void refuse_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
		      void *arg)
{
	struct http_server *srv = arg;

	srv->refused++;
	evutil_closesocket(fd);
}

/*
 * The connection is going away: the request waiting on it (if any) has
 * nowhere to reply to.  libevent frees that evhttp_request with the
 * connection unless it detached it first (evhttp_request_get_connection()
 * is then NULL) and left it to us.
 */
static void conn_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct http_conn *c = arg;
	struct http_server *srv = c->srv;
	struct http_req *req = c->req;

	if (req) {
		if (req->evreq && !evhttp_request_get_connection(req->evreq))
			evhttp_request_free(req->evreq);
		req->evreq = NULL;
		req->conn = NULL;
	}
	conn_list_remove(&srv->conns, c);
	free(c);
	srv->nconns--;
	if (srv->lim.max_connections > 0 && srv->nconns < srv->lim.max_connections)
		set_refusing(srv, false);
}

/* A connection was accepted: its bufferevent, and one more counted. */
static struct bufferevent *bev_cb(struct event_base *base, void *arg)
{
	struct http_server *srv = arg;
	struct http_conn *c = xcalloc(1, sizeof(*c));

	/* As evhttp makes its own: evhttp closes the socket (TLS: the bev does). */
	c->bev = srv->tls ? http_tls_bufferevent(srv->tls, base)
			  : bufferevent_socket_new(base, -1, 0);
	if (!c->bev) {
		free(c);
		return NULL;
	}
	c->srv = srv;
	conn_list_add(&srv->unhooked, c);
	srv->nconns++;
	event_active(srv->hookup, EV_TIMEOUT, 0);
	if (srv->lim.max_connections > 0 && srv->nconns >= srv->lim.max_connections)
		set_refusing(srv, true);
	return c->bev;
}

/* The connections accepted since last time have their evhttp_connection now. */
static void hookup_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_server *srv = arg;

	while (srv->unhooked) {
		struct http_conn *c = srv->unhooked;
		void *evcon = NULL;

		conn_list_remove(&srv->unhooked, c);
		bufferevent_getcb(c->bev, NULL, NULL, NULL, &evcon);
		c->evcon = evcon;
		conn_list_add(&srv->conns, c);
		evhttp_connection_set_closecb(c->evcon, conn_close_cb, c);
	}
}

/* The connection of evcon (linear: connections are capped, and this is per request). */
static struct http_conn *conn_find(struct http_server *srv, struct evhttp_connection *evcon)
{
	if (srv->unhooked)
		hookup_cb(-1, 0, srv);
	for (struct http_conn *c = srv->conns; c; c = c->next)
		if (c->evcon == evcon)
			return c;
	return NULL;
}

int http_server_connections(const struct http_server *srv)
{
	return srv->nconns;
}

unsigned long long http_server_refused(const struct http_server *srv)
{
	return srv->refused;
}

/* Our limit plus a margin of at least min_margin (see http_server_new). */
static ev_ssize_t evhttp_limit(size_t ours, size_t min_margin)
{
	size_t margin = ours > min_margin ? ours : min_margin;

	if (ours > (size_t)EV_SSIZE_MAX - margin)
		return EV_SSIZE_MAX;
	return (ev_ssize_t)(ours + margin);
}

struct http_server *http_server_new(struct event_base *base, const struct http_limits *lim)
{
	struct http_server *srv = xcalloc(1, sizeof(*srv));

	srv->lim = *lim;
	srv->port = -1;
	srv->router = http_router_new();
	srv->evhttp = evhttp_new(base);
	if (!srv->evhttp) {
		http_router_free(srv->router);
		free(srv);
		return NULL;
	}
	srv->base = base;
	srv->hookup = event_new(base, -1, 0, hookup_cb, srv);
	evhttp_set_bevcb(srv->evhttp, bev_cb, srv);
	evhttp_set_gencb(srv->evhttp, dispatch_cb, srv);
	/* Let every method reach the router, which answers 405 with Allow. */
	evhttp_set_allowed_methods(srv->evhttp, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
							EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
							EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);

	/*
	 * libevent 2.1 has no hook between the headers and the body of an
	 * incoming request, and answers a request over its own limits with
	 * an HTML page.  So its limits sit above ours: requests up to that
	 * margin reach dispatch_cb, which answers in our shape; beyond it
	 * evhttp still answers by itself (413 for a body, after draining it
	 * so that the client reads the answer rather than a reset; 400 for
	 * headers).
	 */
	evhttp_set_max_headers_size(srv->evhttp, evhttp_limit(lim->max_header_bytes, 16384));
	evhttp_set_max_body_size(srv->evhttp, evhttp_limit(lim->max_body_bytes, 65536));
	evhttp_set_flags(srv->evhttp, EVHTTP_SERVER_LINGERING_CLOSE);
	if (lim->timeout_s > 0)
		evhttp_set_timeout(srv->evhttp, lim->timeout_s);
	return srv;
}

void http_server_route(struct http_server *srv, const char *method, const char *pattern,
		       http_handler_fn handler, void *arg)
{
	http_router_add(srv->router, method, pattern, handler, arg);
}

static int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

bool http_server_listen(struct http_server *srv, const char *address, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	char *host = NULL;
	char portstr[8];
	int port, rc, fd = -1, saved = 0;
	bool ok = false;

	if (!http_parse_listen(address, &host, &port, err, errlen))
		return false;
	snprintf(portstr, sizeof(portstr), "%d", port);

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", address, gai_strerror(rc));
		goto out;
	}

	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int one = 1;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		/* A restarted daemon must not wait for TIME_WAIT to pass. */
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", address,
			 saved ? strerror(saved) : "no usable address");
		goto out;
	}
	/* From here on evhttp owns fd and closes it in evhttp_free(). */
	struct evhttp_bound_socket *bound = evhttp_accept_socket_with_handle(srv->evhttp, fd);

	if (!bound) {
		snprintf(err, errlen, "cannot listen on %s: evhttp refused the socket", address);
		close(fd);
		goto out;
	}
	srv->port = bound_port(fd);
	if (srv->lim.max_connections > 0 && !srv->refuser) {
		/* Backlog 0: the socket listens already; not closed on free: evhttp's. */
		srv->accepter = evhttp_bound_socket_get_listener(bound);
		srv->refuser = evconnlistener_new(srv->base, refuse_cb, srv,
						  LEV_OPT_DISABLED | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
		if (!srv->refuser) {
			snprintf(err, errlen, "cannot listen on %s: no listener for refusals",
				 address);
			goto out;
		}
	}
	ok = true;

out:
	if (res)
		freeaddrinfo(res);
	free(host);
	return ok;
}

void http_server_set_tls(struct http_server *srv, struct http_tls *tls)
{
	http_tls_free(srv->tls);
	srv->tls = tls;
}

int http_server_port(const struct http_server *srv)
{
	return srv->port;
}

void http_server_free(struct http_server *srv)
{
	if (!srv)
		return;
	/*
	 * evhttp_free() frees every connection, and with them the
	 * evhttp_requests still waiting for a reply (conn_close_cb saw each
	 * go); their http_req live on until their handlers reply.
	 */
	/* The refuser first: evhttp_free() closes the socket they share. */
	if (srv->refuser)
		evconnlistener_free(srv->refuser);
	evhttp_free(srv->evhttp);
	for (struct http_req *req = srv->pending, *next; req; req = next) {
		next = req->next;
		req->evreq = NULL;
		req->srv = NULL;
		req->conn = NULL;
		req->prev = req->next = NULL;
	}
	/* Hooked-up connections went through conn_close_cb; these never will. */
	while (srv->unhooked) {
		struct http_conn *c = srv->unhooked;

		conn_list_remove(&srv->unhooked, c);
		free(c);
	}
	event_free(srv->hookup);
	http_router_free(srv->router);
	http_tls_free(srv->tls);
	free(srv);
}

/* --- Requests. --- */

static struct http_req *req_new(struct http_server *srv, struct evhttp_request *evreq)
{
	struct http_req *req = xcalloc(1, sizeof(*req));
	struct evhttp_connection *evcon = evhttp_request_get_connection(evreq);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(evreq);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	char *addr = NULL;
	ev_uint16_t port = 0;

	req->evreq = evreq;
	req->srv = srv;
	req->started_ms = now_mono_ms();
	req->method = http_method_name(evhttp_request_get_command(evreq));
	if (!req->method)
		req->method = "UNKNOWN";
	req->path = xstrdup(path ? path : "");
	evhttp_connection_get_peer(evcon, &addr, &port);
	req->peer = xstrdup(addr ? addr : "unknown");

	req->next = srv->pending;
	if (srv->pending)
		srv->pending->prev = req;
	srv->pending = req;
	req->conn = conn_find(srv, evcon);
	if (req->conn)
		req->conn->req = req;
	return req;
}

static void req_free(struct http_req *req)
{
	if (req->conn)
		req->conn->req = NULL;
	if (req->srv) {
		if (req->prev)
			req->prev->next = req->next;
		else
			req->srv->pending = req->next;
		if (req->next)
			req->next->prev = req->prev;
	}
	if (req->context_free)
		req->context_free(req->context);
	http_match_clear(&req->match);
	http_query_free(req->query);
	free(req->path);
	free(req->peer);
	free(req);
}

void http_req_set_context(struct http_req *req, void *context, void (*free_fn)(void *))
{
	if (req->context_free)
		req->context_free(req->context);
	req->context = context;
	req->context_free = free_fn;
}

void *http_req_context(const struct http_req *req)
{
	return req->context;
}

/* The request line and headers as they came, give or take whitespace. */
static size_t head_size(struct evhttp_request *evreq)
{
	const char *uri = evhttp_request_get_uri(evreq);
	struct evkeyval *h;
	size_t n = strlen("OPTIONS  HTTP/1.1\r\n") + (uri ? strlen(uri) : 0);

	TAILQ_FOREACH (h, evhttp_request_get_input_headers(evreq), next)
		n += strlen(h->key) + strlen(h->value) + 4;
	return n;
}

static void dispatch_cb(struct evhttp_request *evreq, void *arg)
{
	struct http_server *srv = arg;
	struct http_req *req = req_new(srv, evreq);
	struct http_error err = {0};
	size_t body_len = evbuffer_get_length(evhttp_request_get_input_buffer(evreq));
	size_t head_len = head_size(evreq);

	if (head_len > srv->lim.max_header_bytes) {
		http_reply_error(
			req, 431, "too_large", NULL,
			"the request line and headers are %zu bytes; the limit is %zu bytes",
			head_len, srv->lim.max_header_bytes);
		return;
	}
	if (body_len > srv->lim.max_body_bytes) {
		http_reply_error(req, 413, "too_large", NULL,
				 "the request body is %zu bytes; the limit is %zu bytes", body_len,
				 srv->lim.max_body_bytes);
		return;
	}

	switch (http_router_match(srv->router, req->method, req->path, &req->match)) {
	case HTTP_ROUTE_FOUND:
		break;
	case HTTP_ROUTE_NOT_FOUND:
		http_reply_error(req, 404, "not_found", NULL, "no such path: %.200s", req->path);
		return;
	case HTTP_ROUTE_BAD_METHOD:
		http_req_add_header(req, "Allow", req->match.allow);
		http_reply_error(req, 405, "method_not_allowed", NULL,
				 "%s is not allowed on %.200s; allowed: %s", req->method, req->path,
				 req->match.allow);
		return;
	}

	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(evreq);
	req->query = http_query_parse(uri ? evhttp_uri_get_query(uri) : NULL, &err);
	if (!req->query) {
		http_reply_failure(req, &err);
		return;
	}
	req->match.handler(req, req->match.arg);
}

const char *http_req_method(const struct http_req *req)
{
	return req->method;
}

const char *http_req_path(const struct http_req *req)
{
	return req->path;
}

const char *http_req_peer(const struct http_req *req)
{
	return req->peer;
}

const char *http_req_param(const struct http_req *req, const char *name)
{
	return http_match_param(&req->match, name);
}

const struct http_query *http_req_query(const struct http_req *req)
{
	return req->query;
}

const char *http_req_header(const struct http_req *req, const char *name)
{
	if (!req->evreq)
		return NULL;
	return evhttp_find_header(evhttp_request_get_input_headers(req->evreq), name);
}

json_t *http_req_json(struct http_req *req, bool optional, struct http_error *err)
{
	const char *data = "";
	size_t len = 0;

	if (req->evreq) {
		struct evbuffer *in = evhttp_request_get_input_buffer(req->evreq);

		len = evbuffer_get_length(in);
		if (len > 0)
			data = (const char *)evbuffer_pullup(in, -1);
		if (!data) {
			http_error_set(err, 500, "internal", NULL,
				       "out of memory reading the body");
			return NULL;
		}
	}
	return http_json_parse_body(http_req_header(req, "Content-Type"), data, len, optional, err);
}

bool http_req_gone(const struct http_req *req)
{
	return req->evreq == NULL;
}

void http_req_add_header(struct http_req *req, const char *name, const char *value)
{
	if (!req->evreq)
		return;
	evhttp_add_header(evhttp_request_get_output_headers(req->evreq), name, value);
}

/*
 * Send the reply and hand the request over to libevent.  content_type NULL
 * means a reply without a body (304).  The caller has added any other
 * header, Cache-Control included.
 */
static void send_body(struct http_req *req, int status, const char *content_type, const void *data,
		      size_t len)
{
	struct evhttp_request *evreq = req->evreq;
	struct evkeyvalq *headers = evhttp_request_get_output_headers(evreq);

	if (content_type) {
		evhttp_remove_header(headers, "Content-Type");
		evhttp_add_header(headers, "Content-Type", content_type);
	}
	/*
	 * evhttp frames no reply to a pre-1.0 request, yet may keep its
	 * connection open for more: close it, so the reply is unambiguous.
	 */
	if (evreq->major != 1)
		evhttp_add_header(headers, "Connection", "close");
	if (evhttp_request_get_command(evreq) == EVHTTP_REQ_HEAD) {
		/* evhttp would send the body of a HEAD reply: leave it out, keep its length. */
		char clen[24];

		snprintf(clen, sizeof(clen), "%zu", len);
		if (content_type)
			evhttp_add_header(headers, "Content-Length", clen);
	} else if (len > 0) {
		evbuffer_add(evhttp_request_get_output_buffer(evreq), data, len);
	}

	/*
	 * From here libevent owns the request and may free it with its
	 * connection at any time; the connection's close callback must not
	 * touch it.
	 */
	if (req->conn) {
		req->conn->req = NULL;
		req->conn = NULL;
	}
	evhttp_send_reply(evreq, status, reason_phrase(status), NULL);
	req->evreq = NULL;
}

static void send_json(struct http_req *req, int status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);

	if (!text) {
		status = 500;
		text = xstrdup("{\"error\":{\"code\":\"internal\","
			       "\"message\":\"the reply could not be encoded\"}}");
	}
	size_t len = strlen(text);
	char *line = xmalloc(len + 1);

	/* One line: the body ends with a newline, as a terminal likes it. */
	memcpy(line, text, len);
	line[len] = '\n';
	free(text);
	http_req_add_header(req, "Cache-Control", "no-store");
	send_body(req, status, "application/json", line, len + 1);
	free(line);
}

void http_reply_json(struct http_req *req, int status, json_t *body)
{
	bool gone = req->evreq == NULL;

	if (!gone)
		send_json(req, status, body);
	log_debug("%s %s %d %lldms%s", req->method, req->path, status,
		  (long long)(now_mono_ms() - req->started_ms), gone ? " (client gone)" : "");
	json_decref(body);
	req_free(req);
}

void http_reply_body(struct http_req *req, int status, const char *content_type, const void *body,
		     size_t len)
{
	bool gone = req->evreq == NULL;

	if (!gone)
		send_body(req, status, content_type, body, len);
	log_debug("%s %s %d %lldms%s", req->method, req->path, status,
		  (long long)(now_mono_ms() - req->started_ms), gone ? " (client gone)" : "");
	req_free(req);
}

static void reply_errorv(struct http_req *req, int status, const char *code, const char *field,
			 const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

static void reply_errorv(struct http_req *req, int status, const char *code, const char *field,
			 const char *fmt, va_list ap)
{
	char *message = xvasprintf(fmt, ap);

	http_reply_json(req, status, http_error_json(code, message, field));
	free(message);
}

void http_reply_error(struct http_req *req, int status, const char *code, const char *field,
		      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_errorv(req, status, code, field, fmt, ap);
	va_end(ap);
}

void http_reply_failure(struct http_req *req, struct http_error *err)
{
	http_reply_json(req, err->status ? err->status : 500,
			http_error_json(err->code ? err->code : "internal",
					err->message ? err->message : "internal error",
					err->field));
	http_error_clear(err);
}
