/*
 * The request's path and query side of api/http.h: percent-decoding, the
 * route table and its matching, and query strings.
 */
#include "api/http_internal.h"
#include "common/log.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct route {
	char *method;
	char *pattern;
	char **segs; /* "{name}" segments keep their braces */
	int nsegs;
	int nparams;
	http_handler_fn handler;
	void *arg;
};

struct http_router {
	struct route *routes;
	int count;
	int cap;
};

struct http_query {
	int count;
	char **keys;
	char **values;
};

/* --- Percent-decoding and paths. --- */

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decode len bytes of s; NULL on a bad escape or an escaped NUL, which
 * would silently cut the string short.
 */
static char *pct_decode(const char *s, size_t len, bool plus_is_space)
{
	char *out = xmalloc(len + 1);
	size_t j = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			int hi = i + 2 < len ? hex_value(s[i + 1]) : -1;
			int lo = i + 2 < len ? hex_value(s[i + 2]) : -1;

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				free(out);
				return NULL;
			}
			out[j++] = (char)(hi * 16 + lo);
			i += 2;
		} else if (s[i] == '+' && plus_is_space) {
			out[j++] = ' ';
		} else {
			out[j++] = s[i];
		}
	}
	out[j] = '\0';
	return out;
}

static void free_strings(char **v, int n)
{
	if (!v)
		return;
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * "/a/b/" is {"a", "b", ""}: every '/' starts a segment, so a trailing
 * slash is a segment of its own and never matches a pattern without one.
 */
static bool split_path(const char *path, bool decode, char ***segs_out, int *n_out)
{
	if (!path || path[0] != '/')
		return false;

	int n = 1;
	for (const char *p = path + 1; *p; p++) {
		if (*p == '/')
			n++;
	}

	char **segs = xcalloc((size_t)n, sizeof(*segs));
	const char *start = path + 1;
	for (int i = 0; i < n; i++) {
		const char *end = strchr(start, '/');
		size_t len = end ? (size_t)(end - start) : strlen(start);

		segs[i] = decode ? pct_decode(start, len, false) : xstrndup(start, len);
		if (!segs[i]) {
			free_strings(segs, i);
			return false;
		}
		start += len + 1;
	}
	*segs_out = segs;
	*n_out = n;
	return true;
}

/* --- Routing. --- */

static bool is_placeholder(const char *seg)
{
	size_t len = strlen(seg);

	return len > 2 && seg[0] == '{' && seg[len - 1] == '}';
}

static bool placeholder_name_ok(const char *seg)
{
	size_t len = strlen(seg);

	for (size_t i = 1; i + 1 < len; i++) {
		char c = seg[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

struct http_router *http_router_new(void)
{
	return xcalloc(1, sizeof(struct http_router));
}

void http_router_free(struct http_router *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->count; i++) {
		struct route *rt = &r->routes[i];

		free(rt->method);
		free(rt->pattern);
		free_strings(rt->segs, rt->nsegs);
	}
	free(r->routes);
	free(r);
}

static void bad_pattern(const char *method, const char *pattern, const char *why)
{
	log_error("route %s %s: %s", method, pattern, why);
	abort();
}

void http_router_add(struct http_router *r, const char *method, const char *pattern,
		     http_handler_fn handler, void *arg)
{
	struct route rt = {0};

	if (!method[0] || !handler)
		bad_pattern(method, pattern, "no method or no handler");
	if (!split_path(pattern, false, &rt.segs, &rt.nsegs))
		bad_pattern(method, pattern, "a pattern starts with '/'");
	for (int i = 0; i < rt.nsegs; i++) {
		const char *seg = rt.segs[i];

		if (is_placeholder(seg)) {
			if (!placeholder_name_ok(seg))
				bad_pattern(method, pattern, "a {name} is made of [a-z0-9_]");
			rt.nparams++;
		} else if (strchr(seg, '{') || strchr(seg, '}')) {
			bad_pattern(method, pattern, "a {name} takes a whole segment");
		}
	}
	if (rt.nparams > HTTP_MAX_PARAMS)
		bad_pattern(method, pattern, "too many {name} segments");

	rt.method = xstrdup(method);
	rt.pattern = xstrdup(pattern);
	rt.handler = handler;
	rt.arg = arg;
	if (r->count == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->routes = xrealloc(r->routes, (size_t)r->cap * sizeof(*r->routes));
	}
	r->routes[r->count++] = rt;
}

static bool route_matches_path(const struct route *rt, char **segs, int n)
{
	if (rt->nsegs != n)
		return false;
	for (int i = 0; i < n; i++) {
		if (is_placeholder(rt->segs[i])) {
			if (segs[i][0] == '\0')
				return false;
		} else if (strcmp(rt->segs[i], segs[i]) != 0) {
			return false;
		}
	}
	return true;
}

/* HEAD is GET without the body, so a GET route serves it. */
static bool route_serves(const struct route *rt, const char *method)
{
	return strcmp(rt->method, method) == 0 ||
	       (strcmp(method, "HEAD") == 0 && strcmp(rt->method, "GET") == 0);
}

static void allow_add(char *allow, size_t size, const char *method)
{
	size_t mlen = strlen(method);
	const char *p = allow;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == mlen && strncmp(p, method, mlen) == 0)
			return;
		p = end ? end + 2 : p + len;
	}

	size_t used = strlen(allow);
	snprintf(allow + used, size - used, "%s%s", used ? ", " : "", method);
}

enum http_route_result http_router_match(const struct http_router *r, const char *method,
					 const char *path, struct http_match *m)
{
	const struct route *best = NULL;
	bool path_known = false;
	char **segs;
	int n;

	memset(m, 0, sizeof(*m));
	if (!split_path(path, true, &segs, &n))
		return HTTP_ROUTE_NOT_FOUND;

	for (int i = 0; i < r->count; i++) {
		const struct route *rt = &r->routes[i];

		if (!route_matches_path(rt, segs, n))
			continue;
		path_known = true;
		allow_add(m->allow, sizeof(m->allow), rt->method);
		if (strcmp(rt->method, "GET") == 0)
			allow_add(m->allow, sizeof(m->allow), "HEAD");
		/* A literal segment beats a {name}: /clusters/new over /clusters/{name}. */
		if (route_serves(rt, method) && (!best || rt->nparams < best->nparams))
			best = rt;
	}

	enum http_route_result res = HTTP_ROUTE_NOT_FOUND;
	if (best) {
		m->handler = best->handler;
		m->arg = best->arg;
		for (int i = 0; i < n; i++) {
			const char *seg = best->segs[i];

			if (!is_placeholder(seg))
				continue;
			m->names[m->nparams] = xstrndup(seg + 1, strlen(seg) - 2);
			m->values[m->nparams] = xstrdup(segs[i]);
			m->nparams++;
		}
		res = HTTP_ROUTE_FOUND;
	} else if (path_known) {
		res = HTTP_ROUTE_BAD_METHOD;
	}
	free_strings(segs, n);
	return res;
}

void http_match_clear(struct http_match *m)
{
	for (int i = 0; i < m->nparams; i++) {
		free(m->names[i]);
		free(m->values[i]);
	}
	memset(m, 0, sizeof(*m));
}

const char *http_match_param(const struct http_match *m, const char *name)
{
	for (int i = 0; i < m->nparams; i++) {
		if (strcmp(m->names[i], name) == 0)
			return m->values[i];
	}
	return NULL;
}

/* --- Query strings. --- */

struct http_query *http_query_parse(const char *s, struct http_error *err)
{
	struct http_query *q = xcalloc(1, sizeof(*q));

	if (!s)
		return q;

	const char *p = s;
	while (*p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t klen = eq ? (size_t)(eq - p) : len;

		/* "a=1&&b=2" and a trailing '&' are harmless: skip empty pieces. */
		if (len > 0) {
			char *key = pct_decode(p, klen, true);
			char *value = eq ? pct_decode(eq + 1, len - klen - 1, true) : xstrdup("");

			if (!key || !value) {
				free(key);
				free(value);
				http_error_set(err, 400, "malformed_query", NULL,
					       "bad percent-encoding in the query string");
				goto failed;
			}
			if (key[0] == '\0') {
				free(key);
				free(value);
				http_error_set(err, 400, "malformed_query", NULL,
					       "a query parameter has no name");
				goto failed;
			}
			q->keys = xrealloc(q->keys, (size_t)(q->count + 1) * sizeof(char *));
			q->values = xrealloc(q->values, (size_t)(q->count + 1) * sizeof(char *));
			q->keys[q->count] = key;
			q->values[q->count] = value;
			q->count++;
		}
		p += len;
		if (*p == '&')
			p++;
	}
	return q;

failed:
	http_query_free(q);
	return NULL;
}

void http_query_free(struct http_query *q)
{
	if (!q)
		return;
	free_strings(q->keys, q->count);
	free_strings(q->values, q->count);
	free(q);
}

int http_query_count(const struct http_query *q)
{
	return q ? q->count : 0;
}

const char *http_query_key(const struct http_query *q, int i)
{
	return q->keys[i];
}

const char *http_query_value(const struct http_query *q, int i)
{
	return q->values[i];
}

const char *http_query_get(const struct http_query *q, const char *key)
{
	for (int i = 0; q && i < q->count; i++) {
		if (strcmp(q->keys[i], key) == 0)
			return q->values[i];
	}
	return NULL;
}

bool http_in_list(const char *s, const char *const *list)
{
	for (; *list; list++) {
		if (strcmp(s, *list) == 0)
			return true;
	}
	return false;
}

/* "a, b, c": for messages that say what would have been right. */
char *http_join_list(const char *const *list)
{
	size_t len = 1;
	for (const char *const *p = list; *p; p++)
		len += strlen(*p) + 2;

	char *out = xmalloc(len);
	out[0] = '\0';
	size_t used = 0;
	for (const char *const *p = list; *p; p++)
		used += (size_t)snprintf(out + used, len - used, "%s%s", p == list ? "" : ", ", *p);
	return out;
}

bool http_query_check(const struct http_query *q, const char *const *allowed,
		      struct http_error *err)
{
	for (int i = 0; i < http_query_count(q); i++) {
		const char *key = q->keys[i];

		if (!http_in_list(key, allowed)) {
			char *known = http_join_list(allowed);

			http_error_set(err, 422, "invalid", key,
				       "unknown query parameter \"%s\"; known: %s", key, known);
			free(known);
			return false;
		}
		for (int j = 0; j < i; j++) {
			if (strcmp(q->keys[j], key) == 0)
				return http_error_set(
					err, 422, "invalid", key,
					"query parameter \"%s\" is given more than once", key);
		}
	}
	return true;
}
