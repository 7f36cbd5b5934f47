#include "sim/call.h"

#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "common/util.h"
#include "api/http.h"

struct call *call_new(struct evhttp_request *req)
{
	struct call *c = xcalloc(1, sizeof(*c));
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);

	c->req = req;
	/* libevent parses only the methods it names. */
	c->method = http_method_name(evhttp_request_get_command(req));
	if (!c->method)
		c->method = "GET";
	c->path = xstrdup(path && *path ? path : "/");
	c->query_raw = query ? xstrdup(query) : NULL;
	TAILQ_INIT(&c->query);
	if (query)
		call_parse_query(query, &c->query);
	c->body_len = evbuffer_get_length(in);
	c->body = xmalloc(c->body_len + 1);
	evbuffer_copyout(in, c->body, c->body_len);
	c->body[c->body_len] = '\0';
	c->started_ms = now_mono_ms();
	return c;
}

static void closed_cb(struct evhttp_connection *conn, void *arg)
{
	struct call *c = arg;
	c->req = NULL;
}

void call_park(struct call *c)
{
	c->parked = true;
	if (c->req)
		evhttp_connection_set_closecb(evhttp_request_get_connection(c->req), closed_cb, c);
}

bool call_gone(const struct call *c)
{
	return c->req == NULL;
}

void call_free(struct call *c)
{
	if (!c)
		return;
	if (c->parked && c->req) {
		struct evhttp_connection *conn = evhttp_request_get_connection(c->req);
		if (conn)
			evhttp_connection_set_closecb(conn, NULL, NULL);
	}
	if (c->timer)
		event_free(c->timer);
	evhttp_clear_headers(&c->query);
	free(c->path);
	free(c->proxy_path);
	free(c->query_raw);
	free(c->body);
	for (size_t i = 0; i < c->nwarnings; i++)
		free(c->warnings[i]);
	free(c->warnings);
	free(c);
}

/*
 * A query string's parameters, decoded ('+' as a space).  libevent's parser
 * refuses a parameter without '=' ("?v", "?pretty") and drops the whole
 * query; the servers simulated here take it, as an empty value
 * (Elasticsearch's RestRequest.paramAsBoolean: the parameter's presence
 * turns it on).  Queries libevent parses are parsed by it, unchanged.
 */
int call_parse_query(const char *query, struct evkeyvalq *out)
{
	if (evhttp_parse_query_str(query, out) == 0)
		return 0;
	evhttp_clear_headers(out);
	char *copy = xstrdup(query);
	char *next = copy;
	while (next) {
		char *arg = next;
		next = strchr(arg, '&');
		if (next)
			*next++ = '\0';
		if (!*arg)
			continue;
		char *eq = strchr(arg, '=');
		if (eq)
			*eq = '\0';
		char *key = evhttp_uridecode(arg, 1, NULL);
		char *value = evhttp_uridecode(eq ? eq + 1 : "", 1, NULL);
		if (key && value && *key)
			evhttp_add_header(out, key, value);
		free(key);
		free(value);
	}
	free(copy);
	return 0;
}

const char *call_param(struct call *c, const char *name)
{
	return evhttp_find_header(&c->query, name);
}

bool call_param_bool(struct call *c, const char *name, bool def)
{
	const char *v = call_param(c, name);
	if (!v)
		return def;
	return !strcmp(v, "") || !strcmp(v, "true") || !strcmp(v, "1");
}

const char *call_header(struct call *c, const char *name)
{
	if (!c->req)
		return NULL;
	return evhttp_find_header(evhttp_request_get_input_headers(c->req), name);
}

void call_add_header(struct call *c, const char *name, const char *value)
{
	if (c->req)
		evhttp_add_header(evhttp_request_get_output_headers(c->req), name, value);
}

static const char *reason_phrase(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 415:
		return "Unsupported Media Type";
	case 422:
		return "Unprocessable Entity";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Status";
	}
}

void call_reply_text(struct call *c, int code, const char *content_type, const char *text)
{
	if (c->req) {
		struct evbuffer *out = evbuffer_new();
		if (content_type)
			call_add_header(c, "Content-Type", content_type);
		evbuffer_add(out, text, strlen(text));
		evhttp_send_reply(c->req, code, reason_phrase(code), out);
		evbuffer_free(out);
	}
	/* The reply is sent: a later disconnection is evhttp's own business. */
	if (c->parked && c->req) {
		struct evhttp_connection *conn = evhttp_request_get_connection(c->req);
		if (conn)
			evhttp_connection_set_closecb(conn, NULL, NULL);
	}
	c->parked = false;
	c->req = NULL;
	call_free(c);
}

void call_reply_json(struct call *c, int code, json_t *json)
{
	char *text = json_dumps(json, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(json);
	call_reply_text(c, code, "application/json", text ? text : "null");
	free(text);
}

bool call_parse_duration_ms(const char *s, int64_t *ms)
{
	static const struct {
		const char *suffix;
		int64_t mult_num, mult_den;
	} units[] = {
		{"nanos", 1, 1000000}, {"micros", 1, 1000}, {"ms", 1, 1},	{"s", 1000, 1},
		{"m", 60000, 1},       {"h", 3600000, 1},   {"d", 86400000, 1},
	};
	if (!s)
		return false;
	if (!strcmp(s, "-1")) {
		*ms = -1;
		return true;
	}
	size_t digits = strspn(s, "0123456789");
	if (digits == 0 || digits > 15)
		return false;
	const char *suffix = s + digits;
	char num[16];
	memcpy(num, s, digits);
	num[digits] = '\0';
	int64_t v;
	if (!parse_int64(num, 0, INT64_MAX / 100000, &v))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (!strcmp(suffix, units[i].suffix)) {
			*ms = v * units[i].mult_num / units[i].mult_den;
			return true;
		}
	}
	return false;
}
