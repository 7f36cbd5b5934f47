/*
 * The HTTP layer and the job API's checks: routing, query strings, JSON
 * bodies, the error shape, filter and body validation; then a real evhttp
 * server on 127.0.0.1 (port 0) driven from this thread's event loop, for
 * the answers that need no database and for the reply-lifetime rules.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "api/api.h"
#include "api/http.h"
#include "api/routes.h"
#include "common/config.h"
#include "common/log.h"
#include "common/util.h"
#include "engine/registry.h"
#include "kube/spec.h"

/* --- A registry of two workflows, one with its own params check. --- */

static void noop_run(struct step *s)
{
}

static bool create_validate(json_t *params, const char **field, char *msg, size_t msglen)
{
	json_t *r = json_object_get(params, "replicas");

	/* Some workflows name the field from the body's root already. */
	if (json_object_get(params, "zone")) {
		*field = "params.zone";
		snprintf(msg, msglen, "zone is not supported");
		return false;
	}

	if (!json_is_integer(r) || json_integer_value(r) < 1) {
		*field = "replicas";
		snprintf(msg, msglen, "replicas must be a positive integer");
		return false;
	}
	return true;
}

static const struct wf_state create_states[] = {
	{.name = "apply", .run = noop_run, .deadline_s = 60, .next = "wait"},
	{.name = "wait", .run = noop_run, .deadline_s = 60},
};
static const struct wf_state scale_states[] = {
	{.name = "resize", .run = noop_run, .deadline_s = 60},
};
static const struct workflow wf_create = {
	.kind = "create",
	.states = create_states,
	.nstates = 2,
	.validate = create_validate,
};
static const struct workflow wf_scale = {
	.kind = "scale",
	.states = scale_states,
	.nstates = 1,
};
static struct wf_registry test_reg = {.items = {&wf_create, &wf_scale}, .count = 2};

static char *repeat(char c, size_t n)
{
	char *s = xmalloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* --- Errors. --- */

static void test_error_json_with_field(void **state)
{
	json_t *j = http_error_json("invalid", "limit must be 1..500", "limit");
	json_t *e = json_object_get(j, "error");

	assert_int_equal(json_object_size(j), 1);
	assert_non_null(e);
	assert_int_equal(json_object_size(e), 3);
	assert_string_equal(json_string_value(json_object_get(e, "code")), "invalid");
	assert_string_equal(json_string_value(json_object_get(e, "message")),
			    "limit must be 1..500");
	assert_string_equal(json_string_value(json_object_get(e, "field")), "limit");
	json_decref(j);
}

static void test_error_json_without_field(void **state)
{
	json_t *j = http_error_json("not_found", "job 42 not found", NULL);
	json_t *e = json_object_get(j, "error");

	assert_int_equal(json_object_size(e), 2);
	assert_null(json_object_get(e, "field"));
	assert_string_equal(json_string_value(json_object_get(e, "code")), "not_found");
	json_decref(j);
}

static void test_error_set_replaces(void **state)
{
	struct http_error err = {0};

	assert_false(http_error_set(&err, 422, "invalid", "a", "first %d", 1));
	assert_false(http_error_set(&err, 409, "conflict", NULL, "second"));
	assert_int_equal(err.status, 409);
	assert_string_equal(err.code, "conflict");
	assert_null(err.field);
	assert_string_equal(err.message, "second");
	http_error_clear(&err);
	assert_null(err.message);
	assert_int_equal(err.status, 0);
}

/* --- Routing. --- */

static void h_list(struct http_req *req, void *arg)
{
}
static void h_submit(struct http_req *req, void *arg)
{
}
static void h_get(struct http_req *req, void *arg)
{
}
static void h_events(struct http_req *req, void *arg)
{
}
static void h_cancel(struct http_req *req, void *arg)
{
}
static void h_new(struct http_req *req, void *arg)
{
}
static void h_plugin(struct http_req *req, void *arg)
{
}

static struct http_router *job_router(void)
{
	struct http_router *r = http_router_new();
	static int marker;

	http_router_add(r, "GET", "/api/v1/jobs", h_list, &marker);
	http_router_add(r, "POST", "/api/v1/jobs", h_submit, NULL);
	http_router_add(r, "GET", "/api/v1/jobs/{id}", h_get, NULL);
	http_router_add(r, "GET", "/api/v1/jobs/{id}/events", h_events, NULL);
	http_router_add(r, "POST", "/api/v1/jobs/{id}/cancel", h_cancel, NULL);
	return r;
}

static void test_route_exact(void **state)
{
	struct http_router *r = job_router();
	struct http_match m;

	assert_int_equal(http_router_match(r, "GET", "/api/v1/jobs", &m), HTTP_ROUTE_FOUND);
	assert_ptr_equal(m.handler, h_list);
	assert_non_null(m.arg);
	assert_int_equal(m.nparams, 0);
	http_match_clear(&m);

	assert_int_equal(http_router_match(r, "POST", "/api/v1/jobs", &m), HTTP_ROUTE_FOUND);
	assert_ptr_equal(m.handler, h_submit);
	http_match_clear(&m);

	assert_int_equal(http_router_match(r, "GET", "/api/v1/jobs/42/events", &m),
			 HTTP_ROUTE_FOUND);
	assert_ptr_equal(m.handler, h_events);
	assert_string_equal(http_match_param(&m, "id"), "42");
	assert_null(http_match_param(&m, "name"));
	http_match_clear(&m);
	http_router_free(r);
}

static void test_route_params_decoded(void **state)
{
	struct http_router *r = job_router();
	struct http_match m;

	assert_int_equal(http_router_match(r, "GET", "/api/v1/jobs/a%20b", &m), HTTP_ROUTE_FOUND);
	assert_ptr_equal(m.handler, h_get);
	assert_string_equal(http_match_param(&m, "id"), "a b");
	http_match_clear(&m);
	/* An escaped slash stays inside its segment. */
	assert_int_equal(http_router_match(r, "GET", "/api/v1/jobs/1%2F2", &m), HTTP_ROUTE_FOUND);
	assert_string_equal(http_match_param(&m, "id"), "1/2");
	http_match_clear(&m);
	http_router_free(r);
}

static void test_route_not_found(void **state)
{
	static const char *const paths[] = {
		"/api/v1/jobs/", /* trailing slash: not tolerated */
		"/api/v1/job",
		"/api/v1/jobs/42/",
		"/api/v1/jobs//events", /* {id} needs a non-empty segment */
		"/api/v1/jobs/%zz",	/* bad escape */
		"/api/v1/jobs/%4",	/* truncated escape */
		"/api/v1/jobs/a%00b",	/* escaped NUL */
		"/API/v1/jobs",		/* case matters */
		"api/v1/jobs",
		"",
		"/",
	};
	struct http_router *r = job_router();
	struct http_match m;

	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		enum http_route_result res = http_router_match(r, "GET", paths[i], &m);

		if (res != HTTP_ROUTE_NOT_FOUND)
			fail_msg("%s: expected not found, got %d", paths[i], res);
		assert_null(m.handler);
		assert_string_equal(m.allow, "");
		http_match_clear(&m);
	}
	http_router_free(r);
}

static void test_route_bad_method_allow(void **state)
{
	struct http_router *r = job_router();
	struct http_match m;

	assert_int_equal(http_router_match(r, "DELETE", "/api/v1/jobs", &m), HTTP_ROUTE_BAD_METHOD);
	assert_null(m.handler);
	assert_string_equal(m.allow, "GET, HEAD, POST");
	http_match_clear(&m);

	assert_int_equal(http_router_match(r, "POST", "/api/v1/jobs/7", &m), HTTP_ROUTE_BAD_METHOD);
	assert_string_equal(m.allow, "GET, HEAD");
	http_match_clear(&m);

	assert_int_equal(http_router_match(r, "GET", "/api/v1/jobs/7/cancel", &m),
			 HTTP_ROUTE_BAD_METHOD);
	assert_string_equal(m.allow, "POST");
	http_match_clear(&m);
	http_router_free(r);
}

static void test_route_head_is_get(void **state)
{
	struct http_router *r = job_router();
	struct http_match m;

	assert_int_equal(http_router_match(r, "HEAD", "/api/v1/jobs/9", &m), HTTP_ROUTE_FOUND);
	assert_ptr_equal(m.handler, h_get);
	assert_string_equal(http_match_param(&m, "id"), "9");
	http_match_clear(&m);
	/* ...but not a POST route. */
	assert_int_equal(http_router_match(r, "HEAD", "/api/v1/jobs/9/cancel", &m),
			 HTTP_ROUTE_BAD_METHOD);
	http_match_clear(&m);
	http_router_free(r);
}

static void test_route_literal_beats_param(void **state)
{
	struct http_router *r = http_router_new();
	struct http_match m;

	/* The {name} route comes first: the literal must still win. */
	http_router_add(r, "GET", "/c/{name}", h_get, NULL);
	http_router_add(r, "GET", "/c/new", h_new, NULL);
	http_router_add(r, "DELETE", "/c/{name}/plugins/{plugin}", h_plugin, NULL);

	assert_int_equal(http_router_match(r, "GET", "/c/new", &m), HTTP_ROUTE_FOUND);
	assert_ptr_equal(m.handler, h_new);
	http_match_clear(&m);
	assert_int_equal(http_router_match(r, "GET", "/c/logs", &m), HTTP_ROUTE_FOUND);
	assert_ptr_equal(m.handler, h_get);
	assert_string_equal(http_match_param(&m, "name"), "logs");
	http_match_clear(&m);

	assert_int_equal(http_router_match(r, "DELETE", "/c/logs/plugins/analysis-icu", &m),
			 HTTP_ROUTE_FOUND);
	assert_int_equal(m.nparams, 2);
	assert_string_equal(http_match_param(&m, "name"), "logs");
	assert_string_equal(http_match_param(&m, "plugin"), "analysis-icu");
	http_match_clear(&m);
	http_router_free(r);
}

/* --- Query strings. --- */

static void test_query_parse(void **state)
{
	struct http_error err = {0};
	struct http_query *q = http_query_parse("a=1&b=x%20y&c=+z+&flag&&d=%C3%A9&", &err);

	assert_non_null(q);
	assert_int_equal(http_query_count(q), 5);
	assert_string_equal(http_query_get(q, "a"), "1");
	assert_string_equal(http_query_get(q, "b"), "x y");
	assert_string_equal(http_query_get(q, "c"), " z ");
	assert_string_equal(http_query_get(q, "flag"), "");
	assert_string_equal(http_query_get(q, "d"), "\xc3\xa9");
	assert_null(http_query_get(q, "e"));
	assert_string_equal(http_query_key(q, 3), "flag");
	assert_string_equal(http_query_value(q, 0), "1");
	http_query_free(q);

	q = http_query_parse(NULL, &err);
	assert_non_null(q);
	assert_int_equal(http_query_count(q), 0);
	http_query_free(q);
	assert_null(err.message);
}

static void test_query_malformed(void **state)
{
	static const char *const bad[] = {"a=%zz", "a=%4", "a=%00", "=x", "a=1&=2", "%zz=1"};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct http_error err = {0};

		if (http_query_parse(bad[i], &err))
			fail_msg("%s: parsed", bad[i]);
		assert_int_equal(err.status, 400);
		assert_string_equal(err.code, "malformed_query");
		assert_null(err.field);
		http_error_clear(&err);
	}
}

static void test_query_check(void **state)
{
	static const char *const allowed[] = {"status", "limit", NULL};
	struct http_error err = {0};
	struct http_query *q;

	q = http_query_parse("status=running&limit=5", &err);
	assert_true(http_query_check(q, allowed, &err));
	http_query_free(q);

	q = http_query_parse("status=running&colour=blue", &err);
	assert_false(http_query_check(q, allowed, &err));
	assert_int_equal(err.status, 422);
	assert_string_equal(err.field, "colour");
	assert_non_null(strstr(err.message, "colour"));
	assert_non_null(strstr(err.message, "status, limit"));
	http_query_free(q);
	http_error_clear(&err);

	q = http_query_parse("limit=1&status=x&limit=2", &err);
	assert_false(http_query_check(q, allowed, &err));
	assert_string_equal(err.field, "limit");
	assert_non_null(strstr(err.message, "more than once"));
	http_query_free(q);
	http_error_clear(&err);
}

/* --- GET /api/v1/jobs filter. --- */

static bool parse_filter(const char *query, struct job_filter *f, struct http_error *err,
			 struct http_query **keep)
{
	*keep = http_query_parse(query, err);
	assert_non_null(*keep);
	return api_jobs_parse_filter(*keep, f, err);
}

static void test_filter_defaults(void **state)
{
	struct http_error err = {0};
	struct http_query *q;
	struct job_filter f;

	assert_true(parse_filter("", &f, &err, &q));
	assert_int_equal(f.limit, 50);
	assert_int_equal(f.cursor, 0);
	assert_null(f.status);
	assert_null(f.kind);
	assert_null(f.cluster);
	http_query_free(q);
}

/* A job's events come in pages: a cursor and a bounded limit. */
static void test_events_page(void **state)
{
	struct http_error err = {0};
	struct http_query *q;
	int64_t after;
	int limit;

	q = http_query_parse("", &err);
	assert_true(api_events_parse_page(q, &after, &limit, &err));
	assert_int_equal(after, 0);
	assert_int_equal(limit, 100);
	http_query_free(q);

	q = http_query_parse("after=41&limit=1000&tenant=acme", &err);
	assert_true(api_events_parse_page(q, &after, &limit, &err));
	assert_int_equal(after, 41);
	assert_int_equal(limit, 1000);
	http_query_free(q);

	q = http_query_parse("after=0", &err);
	assert_true(api_events_parse_page(q, &after, &limit, &err));
	assert_int_equal(after, 0);
	http_query_free(q);

	static const char *const bad[][2] = {
		{"limit=1001", "limit"}, {"limit=0", "limit"},	       {"limit=-1", "limit"},
		{"after=-3", "after"},	 {"after=x", "after"},	       {"after=00", "after"},
		{"cursor=5", "cursor"},	 {"after=1&after=2", "after"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		q = http_query_parse(bad[i][0], &err);
		assert_non_null(q);
		assert_false(api_events_parse_page(q, &after, &limit, &err));
		assert_int_equal(err.status, 422);
		assert_string_equal(err.field, bad[i][1]);
		http_query_free(q);
		http_error_clear(&err);
	}
}

static void test_filter_all(void **state)
{
	struct http_error err = {0};
	struct http_query *q;
	struct job_filter f;
	char *query;
	char *name63 = repeat('a', 63);

	query = xasprintf("status=cancelling&kind=%s&cluster=logs-1&limit=500&cursor=17", name63);
	assert_true(parse_filter(query, &f, &err, &q));
	assert_string_equal(f.status, "cancelling");
	assert_string_equal(f.kind, name63);
	assert_string_equal(f.cluster, "logs-1");
	assert_int_equal(f.limit, 500);
	assert_int_equal(f.cursor, 17);
	http_query_free(q);
	free(query);

	assert_true(parse_filter("limit=1&cursor=9223372036854775807", &f, &err, &q));
	assert_int_equal(f.limit, 1);
	assert_true(f.cursor == INT64_MAX);
	http_query_free(q);
	free(name63);
}

static void test_filter_statuses(void **state)
{
	static const char *const ok[] = {"queued",    "running", "waiting",  "cancelling",
					 "succeeded", "failed",	 "cancelled"};

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		struct http_error err = {0};
		struct http_query *q;
		struct job_filter f;
		char *query = xasprintf("status=%s", ok[i]);

		assert_true(parse_filter(query, &f, &err, &q));
		assert_string_equal(f.status, ok[i]);
		http_query_free(q);
		free(query);
	}
}

static void test_filter_invalid(void **state)
{
	char *long64 = repeat('k', 64);
	char *kind64 = xasprintf("kind=%s", long64);
	char *cluster64 = xasprintf("cluster=%s", long64);
	const struct {
		const char *query;
		const char *field;
	} cases[] = {
		{"status=done", "status"},
		{"status=", "status"},
		{"status=RUNNING", "status"},
		{"limit=0", "limit"},
		{"limit=501", "limit"},
		{"limit=abc", "limit"},
		{"limit=-5", "limit"},
		{"limit=+5", "limit"},
		{"limit=", "limit"},
		{"limit=1.5", "limit"},
		{"cursor=0", "cursor"},
		{"cursor=-1", "cursor"},
		{"cursor=x", "cursor"},
		{"cursor=9223372036854775808", "cursor"},
		{kind64, "kind"},
		{"kind=", "kind"},
		{cluster64, "cluster"},
		{"cluster=", "cluster"},
		{"bogus=1", "bogus"},
		{"limit=1&limit=2", "limit"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct http_error err = {0};
		struct http_query *q;
		struct job_filter f;

		if (parse_filter(cases[i].query, &f, &err, &q))
			fail_msg("%s: accepted", cases[i].query);
		assert_int_equal(err.status, 422);
		assert_string_equal(err.code, "invalid");
		if (!err.field || strcmp(err.field, cases[i].field) != 0)
			fail_msg("%s: field %s, expected %s", cases[i].query,
				 err.field ? err.field : "(none)", cases[i].field);
		http_query_free(q);
		http_error_clear(&err);
	}
	free(long64);
	free(kind64);
	free(cluster64);
}

/* --- POST /api/v1/jobs body. --- */

static void expect_submit_error(const char *body_text, const struct wf_registry *reg,
				const char *field, const char *in_message)
{
	struct http_error err = {0};
	struct api_submit sub;
	json_t *body = json_loads(body_text, 0, NULL);

	assert_non_null(body);
	if (api_jobs_check_submit(body, reg, &sub, &err))
		fail_msg("%s: accepted", body_text);
	assert_int_equal(err.status, 422);
	assert_string_equal(err.code, "invalid");
	if (!err.field || strcmp(err.field, field) != 0)
		fail_msg("%s: field %s, expected %s", body_text, err.field ? err.field : "(none)",
			 field);
	if (in_message && !strstr(err.message, in_message))
		fail_msg("%s: message \"%s\" lacks \"%s\"", body_text, err.message, in_message);
	http_error_clear(&err);
	json_decref(body);
}

static void test_submit_valid(void **state)
{
	struct http_error err = {0};
	struct api_submit sub;
	json_t *body = json_pack("{s:s,s:s,s:{s:i}}", "kind", "create", "cluster", "logs", "params",
				 "replicas", 3);

	assert_true(api_jobs_check_submit(body, &test_reg, &sub, &err));
	assert_ptr_equal(sub.wf, &wf_create);
	assert_string_equal(sub.wf->states[0].name, "apply");
	assert_string_equal(sub.kind, "create");
	assert_string_equal(sub.cluster, "logs");
	assert_int_equal(json_integer_value(json_object_get(sub.params, "replicas")), 3);
	json_decref(body);
}

static void test_submit_params_default(void **state)
{
	static const char *const bodies[] = {
		"{\"kind\": \"scale\", \"cluster\": \"a\"}",
		"{\"kind\": \"scale\", \"cluster\": \"a\", \"params\": null}",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bodies); i++) {
		struct http_error err = {0};
		struct api_submit sub;
		json_t *body = json_loads(bodies[i], 0, NULL);
		json_t *empty = json_object();

		assert_true(api_jobs_check_submit(body, &test_reg, &sub, &err));
		assert_ptr_equal(sub.wf, &wf_scale);
		assert_true(json_equal(sub.params, empty));
		assert_ptr_equal(sub.params, json_object_get(body, "params"));
		json_decref(empty);
		json_decref(body);
	}
}

static void test_submit_invalid(void **state)
{
	expect_submit_error("{\"kind\":\"scale\",\"cluster\":\"a\",\"priority\":1}", &test_reg,
			    "priority", "unknown field");
	expect_submit_error("{\"cluster\":\"a\"}", &test_reg, "kind", "required");
	expect_submit_error("{\"kind\":5,\"cluster\":\"a\"}", &test_reg, "kind", "string");
	expect_submit_error("{\"kind\":\"upgrade\",\"cluster\":\"a\"}", &test_reg, "kind",
			    "known kinds: create, scale");
	expect_submit_error("{\"kind\":\"scale\",\"cluster\":\"a\"}", NULL, "kind",
			    "known kinds: none");
	expect_submit_error("{\"kind\":\"scale\"}", &test_reg, "cluster", "required");
	expect_submit_error("{\"kind\":\"scale\",\"cluster\":[]}", &test_reg, "cluster", "string");
	expect_submit_error("{\"kind\":\"scale\",\"cluster\":\"Logs\"}", &test_reg, "cluster",
			    "DNS-1123");
	expect_submit_error("{\"kind\":\"scale\",\"cluster\":\"-a\"}", &test_reg, "cluster", NULL);
	expect_submit_error("{\"kind\":\"scale\",\"cluster\":\"a\",\"params\":[]}", &test_reg,
			    "params", "object");
	expect_submit_error("{\"kind\":\"scale\",\"cluster\":\"a\",\"params\":\"x\"}", &test_reg,
			    "params", "object");
	/* The workflow's own check, its field placed under params. */
	expect_submit_error("{\"kind\":\"create\",\"cluster\":\"a\",\"params\":{\"replicas\":0}}",
			    &test_reg, "params.replicas", "replicas must be a positive integer");
	expect_submit_error("{\"kind\":\"create\",\"cluster\":\"a\",\"params\":{\"zone\":\"b\"}}",
			    &test_reg, "params.zone", "zone is not supported");
}

/* --- POST /api/v1/jobs/{id}/cancel body. --- */

static void test_cancel_body_valid(void **state)
{
	struct http_error err = {0};
	const char *reason = "unset";
	json_t *body;

	body = json_pack("{s:s}", "reason", "wrong cluster");
	assert_true(api_jobs_check_cancel(body, &reason, &err));
	assert_string_equal(reason, "wrong cluster");
	json_decref(body);

	/* 1000 characters of two bytes each: the limit counts characters. */
	char *s = xmalloc(2001);
	for (int i = 0; i < 1000; i++)
		memcpy(s + 2 * i, "\xc3\xa9", 2);
	s[2000] = '\0';
	body = json_pack("{s:s}", "reason", s);
	assert_true(api_jobs_check_cancel(body, &reason, &err));
	json_decref(body);
	free(s);
}

static void test_cancel_body_invalid(void **state)
{
	char *long_reason = repeat('r', 1001);
	json_t *bodies[] = {
		json_pack("{s:s}", "reason", long_reason),
		json_pack("{s:i}", "reason", 5),
		json_pack("{s:[]}", "reason"),
		json_pack("{s:s,s:s}", "reason", "x", "force", "yes"),
		/* Every on-call action says why. */
		json_object(),
		json_pack("{s:n}", "reason"),
		json_pack("{s:s}", "reason", ""),
		json_pack("{s:s}", "reason", " \t\n"),
	};
	const char *fields[] = {"reason", "reason", "reason", "force",
				"reason", "reason", "reason", "reason"};

	for (size_t i = 0; i < ARRAY_SIZE(bodies); i++) {
		struct http_error err = {0};
		const char *reason;

		assert_false(api_jobs_check_cancel(bodies[i], &reason, &err));
		assert_int_equal(err.status, 422);
		assert_string_equal(err.code, "invalid");
		assert_string_equal(err.field, fields[i]);
		http_error_clear(&err);
		json_decref(bodies[i]);
	}
	free(long_reason);
}

/* --- Names, keys, actors, ids. --- */

static void test_dns_label(void **state)
{
	char *l63 = repeat('a', 63);
	char *l64 = repeat('a', 64);
	const struct {
		const char *s;
		bool ok;
	} cases[] = {
		{"a", true},	 {"0", true},	      {"logs", true}, {"logs-2", true},
		{"a-b-c", true}, {"9lives", true},    {"a--b", true}, {l63, true},
		{"", false},	 {l64, false},	      {"-a", false},  {"a-", false},
		{"-", false},	 {"Logs", false},     {"a_b", false}, {"a.b", false},
		{"a b", false},	 {"\xc3\xa9", false},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		if (spec_is_dns_label(cases[i].s, SPEC_DNS_LABEL_MAX) != cases[i].ok)
			fail_msg("\"%s\": expected %s", cases[i].s,
				 cases[i].ok ? "valid" : "invalid");
	}
	free(l63);
	free(l64);
}

static void test_idempotency_key(void **state)
{
	char *k255 = repeat('k', 255);
	char *k256 = repeat('k', 256);
	const struct {
		const char *s;
		bool ok;
	} cases[] = {
		{"a", true},	  {"create-logs-2024-01-01", true},
		{"a b", true},	  {"~!@#$%^&*()", true},
		{k255, true},	  {"", false},
		{k256, false},	  {"a\tb", false},
		{"a\x7f", false}, {"\xc3\xa9", false},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		if (api_idempotency_key_valid(cases[i].s) != cases[i].ok)
			fail_msg("case %zu: expected %s", i, cases[i].ok ? "valid" : "invalid");
	}
	free(k255);
	free(k256);
}

static void test_actor(void **state)
{
	struct http_error err = {0};
	char *actor = NULL;
	char *a128 = repeat('a', 128);
	char *a129 = repeat('a', 129);

	assert_true(api_actor(NULL, "10.0.0.7", &actor, &err));
	assert_string_equal(actor, "anonymous@10.0.0.7");
	free(actor);
	assert_true(api_actor("alice@example.com", "10.0.0.7", &actor, &err));
	assert_string_equal(actor, "alice@example.com");
	free(actor);
	assert_true(api_actor(a128, "::1", &actor, &err));
	free(actor);

	const char *bad[] = {"", a129, "bob\x01", "\xc3\xa9"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		actor = NULL;
		assert_false(api_actor(bad[i], "::1", &actor, &err));
		assert_null(actor);
		assert_int_equal(err.status, 422);
		assert_string_equal(err.field, "X-Esaas-Actor");
		http_error_clear(&err);
	}
	free(a128);
	free(a129);
}

static void test_job_id(void **state)
{
	int64_t id = 0;

	assert_true(api_parse_job_id("42", &id));
	assert_int_equal(id, 42);
	assert_true(api_parse_job_id("9223372036854775807", &id));
	assert_true(id == INT64_MAX);

	const char *bad[] = {"0",  "-1", "+1", " 1", "1 ", "abc", "4x", "", "9223372036854775808",
			     "1e3"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (api_parse_job_id(bad[i], &id))
			fail_msg("\"%s\" accepted", bad[i]);
	}
	assert_false(api_parse_job_id(NULL, &id));
}

/* --- JSON bodies. --- */

static json_t *parse_body(const char *ct, const char *text, bool optional, struct http_error *err)
{
	return http_json_parse_body(ct, text, strlen(text), optional, err);
}

static void test_body_valid(void **state)
{
	struct http_error err = {0};
	static const char *const types[] = {
		"application/json",
		"application/json; charset=utf-8",
		"Application/JSON",
		" application/json ;charset=UTF-8",
		NULL,
	};

	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		json_t *j = parse_body(types[i], "{\"a\": 1}", false, &err);

		if (!j)
			fail_msg("Content-Type %s refused: %s", types[i] ? types[i] : "(none)",
				 err.message);
		assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);
		json_decref(j);
	}

	json_t *empty = parse_body("text/plain", "", true, &err);
	assert_non_null(empty);
	assert_true(json_is_object(empty));
	assert_int_equal(json_object_size(empty), 0);
	json_decref(empty);
	assert_null(err.message);
}

static void expect_body_error(const char *ct, const char *text, bool optional, int status,
			      const char *code, const char *in_message)
{
	struct http_error err = {0};
	json_t *j = parse_body(ct, text, optional, &err);

	if (j)
		fail_msg("%s: accepted", text);
	assert_int_equal(err.status, status);
	assert_string_equal(err.code, code);
	assert_null(err.field);
	if (in_message && !strstr(err.message, in_message))
		fail_msg("%s: message \"%s\" lacks \"%s\"", text, err.message, in_message);
	http_error_clear(&err);
}

static void test_body_invalid(void **state)
{
	expect_body_error("application/json", "{\n  \"a\": }", false, 400, "malformed_json",
			  "line 2, column");
	expect_body_error(NULL, "{\"a\": 1", true, 400, "malformed_json", "line 1");
	expect_body_error("application/json", "{\"a\": 1} x", false, 400, "malformed_json", NULL);
	expect_body_error("application/json", "{\"a\": 1, \"a\": 2}", false, 400, "malformed_json",
			  "duplicate");
	expect_body_error("application/json", "[1, 2]", false, 400, "malformed_json",
			  "not an array");
	expect_body_error("application/json", "\"x\"", true, 400, "malformed_json", "a string");
	expect_body_error("application/json", "", false, 400, "malformed_json", "empty");
	expect_body_error("text/plain", "{}", false, 415, "unsupported_media_type", "text/plain");
	expect_body_error("application/jsonx", "{}", false, 415, "unsupported_media_type", NULL);
	expect_body_error("application/x-www-form-urlencoded", "a=1", true, 415,
			  "unsupported_media_type", NULL);
	expect_body_error("application/json", "{\"a\": \"\xff\"}", false, 400, "malformed_json",
			  NULL);
}

static void test_check_fields(void **state)
{
	static const char *const allowed[] = {"kind", "cluster", NULL};
	struct http_error err = {0};
	json_t *ok = json_pack("{s:s}", "kind", "x");
	json_t *bad = json_pack("{s:s,s:s}", "kind", "x", "colour", "red");

	assert_true(http_json_check_fields(ok, allowed, &err));
	assert_false(http_json_check_fields(bad, allowed, &err));
	assert_int_equal(err.status, 422);
	assert_string_equal(err.field, "colour");
	assert_non_null(strstr(err.message, "kind, cluster"));
	http_error_clear(&err);
	json_decref(ok);
	json_decref(bad);
}

static void test_utf8_length(void **state)
{
	assert_int_equal(http_utf8_length(""), 0);
	assert_int_equal(http_utf8_length("abc"), 3);
	assert_int_equal(http_utf8_length("\xc3\xa9t\xc3\xa9"), 3);
	assert_int_equal(http_utf8_length("\xf0\x9f\x94\x8d"), 1);
}

static void test_parse_listen(void **state)
{
	const struct {
		const char *in;
		const char *host;
		int port;
	} good[] = {
		{"127.0.0.1:8080", "127.0.0.1", 8080},
		{"0.0.0.0:0", "0.0.0.0", 0},
		{"localhost:65535", "localhost", 65535},
		{"[::1]:80", "::1", 80},
		{"[::]:9200", "::", 9200},
	};
	static const char *const bad[] = {
		"127.0.0.1", "127.0.0.1:", ":8080",   "::1:80",	  "[::1]",    "[::1]80",
		"[]:80",     "host:65536", "host:-1", "host:80x", "host: 80", "",
	};
	char err[256];

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		char *host = NULL;
		int port = -1;

		if (!http_parse_listen(good[i].in, &host, &port, err, sizeof(err)))
			fail_msg("%s: %s", good[i].in, err);
		assert_string_equal(host, good[i].host);
		assert_int_equal(port, good[i].port);
		free(host);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *host = NULL;
		int port;

		err[0] = '\0';
		if (http_parse_listen(bad[i], &host, &port, err, sizeof(err)))
			fail_msg("%s: accepted", bad[i]);
		assert_null(host);
		assert_non_null(strstr(err, "listen address"));
	}
}

/* ====================================================================== */
/* A real server on 127.0.0.1, and a client on the same event loop. */

struct client {
	struct event_base *base;
	int fd;
	struct event *rev, *wev;
	char *out;
	size_t out_len, out_off;
	char *in;
	size_t in_len, in_cap;
	bool eof;
};

struct response {
	int status;
	char *head;
	char *body;
};

static void client_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	for (;;) {
		if (c->in_cap - c->in_len < 4096) {
			c->in_cap = c->in_cap * 2 + 8192;
			c->in = xrealloc(c->in, c->in_cap);
		}
		ssize_t n = recv(fd, c->in + c->in_len, c->in_cap - c->in_len - 1, 0);
		if (n > 0) {
			c->in_len += (size_t)n;
			c->in[c->in_len] = '\0';
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		c->eof = true;
		event_del(c->rev);
		return;
	}
}

static void client_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	while (c->out_off < c->out_len) {
		ssize_t n = send(fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		break; /* the server closed: stop writing, read its answer */
	}
	event_del(c->wev);
}

static struct client *client_connect(struct event_base *base, int port)
{
	struct client *c = xcalloc(1, sizeof(*c));
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->base = base;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(c->fd >= 0);
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) != 0)
		assert_int_equal(errno, EINPROGRESS);
	c->rev = event_new(base, c->fd, EV_READ | EV_PERSIST, client_read_cb, c);
	c->wev = event_new(base, c->fd, EV_WRITE | EV_PERSIST, client_write_cb, c);
	event_add(c->rev, NULL);
	return c;
}

static void client_send(struct client *c, const char *data, size_t len)
{
	free(c->out);
	c->out = xmalloc(len);
	memcpy(c->out, data, len);
	c->out_len = len;
	c->out_off = 0;
	c->in_len = 0;
	if (c->in)
		c->in[0] = '\0';
	event_add(c->wev, NULL);
}

static void client_close(struct client *c)
{
	event_free(c->rev);
	event_free(c->wev);
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	free(c->in);
	free(c);
}

static char *header_value(const char *head, const char *name)
{
	size_t nlen = strlen(name);

	for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2;

		if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
			const char *v = line + nlen + 1;
			const char *end = strstr(v, "\r\n");

			v += strspn(v, " ");
			return end ? xstrndup(v, (size_t)(end - v)) : xstrdup(v);
		}
	}
	return NULL;
}

/* Complete when the server closed, or when Content-Length bytes of body are in. */
static bool response_complete(const struct client *c, bool head_only)
{
	const char *end;
	char *head, *clen;
	int64_t want;
	bool done;

	if (c->eof)
		return true;
	if (!c->in || !(end = strstr(c->in, "\r\n\r\n")))
		return false;
	if (head_only)
		return true;
	head = xstrndup(c->in, (size_t)(end - c->in));
	clen = header_value(head, "Content-Length");
	done = clen && parse_int64(clen, 0, INT64_MAX, &want) &&
	       c->in_len >= (size_t)(end + 4 - c->in) + (size_t)want;
	free(clen);
	free(head);
	return done;
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	*(bool *)arg = true;
}

/* Turn the loop until the client has its answer; the deadline only guards a hang. */
static void wait_response(struct client *c, bool head_only)
{
	bool expired = false;
	struct event *deadline = evtimer_new(c->base, deadline_cb, &expired);
	struct timeval tv = {10, 0};

	evtimer_add(deadline, &tv);
	while (!response_complete(c, head_only) && !expired)
		event_base_loop(c->base, EVLOOP_ONCE);
	event_free(deadline);
	assert_false(expired);
}

static void take_response(struct client *c, struct response *r)
{
	const char *end = strstr(c->in ? c->in : "", "\r\n\r\n");

	assert_non_null(end);
	r->head = xstrndup(c->in, (size_t)(end - c->in));
	r->body = xstrdup(end + 4);
	r->status = 0;
	assert_int_equal(sscanf(c->in, "HTTP/1.%*d %d", &r->status), 1);
	c->in_len = 0;
	c->in[0] = '\0';
}

static void response_free(struct response *r)
{
	free(r->head);
	free(r->body);
}

/* One request on a fresh connection that the server closes afterwards. */
static void exchange(struct event_base *base, int port, const char *request, size_t len,
		     struct response *r)
{
	struct client *c = client_connect(base, port);

	client_send(c, request, len);
	wait_response(c, false);
	take_response(c, r);
	client_close(c);
}

static void simple(struct event_base *base, int port, const char *method, const char *path,
		   const char *headers, const char *body, struct response *r)
{
	char *req = xasprintf("%s %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n%s"
			      "Content-Length: %zu\r\n\r\n%s",
			      method, path, headers ? headers : "", body ? strlen(body) : 0,
			      body ? body : "");

	exchange(base, port, req, strlen(req), r);
	free(req);
}

/* The error object of r, checked for shape; borrowed from *doc. */
static json_t *error_of(const struct response *r, json_t **doc)
{
	char *ct = header_value(r->head, "Content-Type");
	json_t *e;

	assert_non_null(ct);
	assert_string_equal(ct, "application/json");
	free(ct);
	*doc = json_loads(r->body, 0, NULL);
	assert_non_null(*doc);
	assert_int_equal(json_object_size(*doc), 1);
	e = json_object_get(*doc, "error");
	assert_true(json_is_object(e));
	assert_true(json_is_string(json_object_get(e, "code")));
	assert_true(json_is_string(json_object_get(e, "message")));
	return e;
}

static void assert_error(const struct response *r, int status, const char *code, const char *field,
			 const char *in_message)
{
	json_t *doc;
	json_t *e;

	if (r->status != status)
		fail_msg("status %d, expected %d: %s", r->status, status, r->body);
	e = error_of(r, &doc);
	assert_string_equal(json_string_value(json_object_get(e, "code")), code);
	if (field)
		assert_string_equal(json_string_value(json_object_get(e, "field")), field);
	else
		assert_null(json_object_get(e, "field"));
	if (in_message && !strstr(json_string_value(json_object_get(e, "message")), in_message))
		fail_msg("message \"%s\" lacks \"%s\"",
			 json_string_value(json_object_get(e, "message")), in_message);
	json_decref(doc);
}

/* --- The API itself, without a database. --- */

#define TEST_MAX_BODY 1024
#define TEST_MAX_HEADERS 4096

struct api_fixture {
	struct event_base *base;
	struct config cfg;
	struct api *api;
	int port;
};

/* Requests without credentials act as an admin of "default" (api/api.h). */
static const struct api_test_caller test_admin = {"test", "default", 3};

static int api_setup_with(void **state, int max_connections)
{
	struct api_fixture *f = xcalloc(1, sizeof(*f));
	struct api_options opt;
	char err[256];

	f->base = event_base_new();
	config_defaults(&f->cfg);
	free(f->cfg.listen);
	f->cfg.listen = xstrdup("127.0.0.1:0");
	free(f->cfg.metrics_listen);
	f->cfg.metrics_listen = xstrdup("127.0.0.1:0");
	f->cfg.http_max_body_bytes = TEST_MAX_BODY;
	f->cfg.http_max_header_bytes = TEST_MAX_HEADERS;
	f->cfg.http_timeout_s = 10;
	if (max_connections > 0)
		f->cfg.http_max_connections = max_connections;
	memset(&opt, 0, sizeof(opt));
	opt.cfg = &f->cfg;
	opt.db = NULL;
	opt.reg = &test_reg;
	opt.generic_submit = true;
	opt.test_caller = &test_admin;
	f->api = api_new(f->base, &opt, err, sizeof(err));
	if (!f->api) {
		fprintf(stderr, "api_new: %s\n", err);
		return -1;
	}
	f->port = http_server_port(f->api->http);
	if (f->port <= 0)
		return -1;
	*state = f;
	return 0;
}

static int api_setup(void **state)
{
	return api_setup_with(state, 0);
}

static int api_setup_three_connections(void **state)
{
	return api_setup_with(state, 3);
}

static int api_teardown(void **state)
{
	struct api_fixture *f = *state;

	api_free(f->api);
	event_base_free(f->base);
	config_free(&f->cfg);
	free(f);
	return 0;
}

static void test_server_healthz(void **state)
{
	struct api_fixture *f = *state;
	struct response r;
	char *v;

	simple(f->base, f->port, "GET", "/healthz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	v = header_value(r.head, "Content-Type");
	assert_string_equal(v, "application/json");
	free(v);
	v = header_value(r.head, "Cache-Control");
	assert_string_equal(v, "no-store");
	free(v);
	assert_string_equal(r.body, "{\"status\":\"ok\"}\n");
	response_free(&r);
}

static void test_server_head(void **state)
{
	struct api_fixture *f = *state;
	struct response r;
	char *v;

	simple(f->base, f->port, "HEAD", "/healthz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "");
	v = header_value(r.head, "Content-Length");
	assert_string_equal(v, "16");
	free(v);
	response_free(&r);
}

static void test_server_not_found(void **state)
{
	struct api_fixture *f = *state;
	struct response r;

	simple(f->base, f->port, "GET", "/nope", NULL, NULL, &r);
	assert_error(&r, 404, "not_found", NULL, "/nope");
	response_free(&r);
	simple(f->base, f->port, "GET", "/healthz/", NULL, NULL, &r);
	assert_error(&r, 404, "not_found", NULL, NULL);
	response_free(&r);
}

static void test_server_method_not_allowed(void **state)
{
	struct api_fixture *f = *state;
	struct response r;
	char *allow;

	simple(f->base, f->port, "POST", "/healthz", NULL, "", &r);
	assert_error(&r, 405, "method_not_allowed", NULL, "POST");
	allow = header_value(r.head, "Allow");
	assert_string_equal(allow, "GET, HEAD");
	free(allow);
	response_free(&r);

	simple(f->base, f->port, "DELETE", "/api/v1/jobs", NULL, NULL, &r);
	assert_error(&r, 405, "method_not_allowed", NULL, NULL);
	allow = header_value(r.head, "Allow");
	assert_string_equal(allow, "GET, HEAD, POST");
	free(allow);
	response_free(&r);

	/* PATCH reaches the router too (evhttp's default would answer 501). */
	simple(f->base, f->port, "PATCH", "/api/v1/jobs/1", NULL, "{}", &r);
	assert_error(&r, 405, "method_not_allowed", NULL, NULL);
	response_free(&r);
}

static void test_server_too_large_json(void **state)
{
	struct api_fixture *f = *state;
	char *body = repeat(' ', TEST_MAX_BODY + 500);
	struct response r;

	body[0] = '{';
	body[TEST_MAX_BODY + 499] = '}';
	simple(f->base, f->port, "POST", "/api/v1/jobs/1/cancel",
	       "Content-Type: application/json\r\n", body, &r);
	assert_error(&r, 413, "too_large", NULL, "1024");
	response_free(&r);
	free(body);
}

static void test_server_too_large_beyond_margin(void **state)
{
	struct api_fixture *f = *state;
	char *body = repeat('x', 200000);
	struct response r;

	/* Past the margin evhttp answers by itself: the status is still right. */
	simple(f->base, f->port, "POST", "/api/v1/jobs/1/cancel",
	       "Content-Type: application/json\r\n", body, &r);
	assert_int_equal(r.status, 413);
	response_free(&r);
	free(body);
}

static void test_server_headers_too_large(void **state)
{
	struct api_fixture *f = *state;
	char *big = repeat('h', TEST_MAX_HEADERS);
	char *headers = xasprintf("X-Big: %s\r\n", big);
	char *huge = repeat('h', 4 * TEST_MAX_HEADERS + 16384);
	char *huge_headers = xasprintf("X-Huge: %s\r\n", huge);
	struct response r;

	simple(f->base, f->port, "GET", "/healthz", headers, NULL, &r);
	assert_error(&r, 431, "too_large", NULL, "4096");
	response_free(&r);
	/* Past the margin evhttp answers by itself: still an error status. */
	simple(f->base, f->port, "GET", "/healthz", huge_headers, NULL, &r);
	assert_int_equal(r.status, 400);
	response_free(&r);
	free(headers);
	free(big);
	free(huge_headers);
	free(huge);
}

static void test_server_malformed_json(void **state)
{
	struct api_fixture *f = *state;
	struct response r;

	simple(f->base, f->port, "POST", "/api/v1/jobs/1/cancel",
	       "Content-Type: application/json\r\n", "{\"reason\": }", &r);
	assert_error(&r, 400, "malformed_json", NULL, "line 1, column");
	response_free(&r);

	simple(f->base, f->port, "POST", "/api/v1/jobs/1/cancel", "Content-Type: text/plain\r\n",
	       "stop it", &r);
	assert_error(&r, 415, "unsupported_media_type", NULL, NULL);
	response_free(&r);

	simple(f->base, f->port, "POST", "/api/v1/jobs/1/cancel",
	       "Content-Type: application/json\r\n", "{\"reson\": \"typo\"}", &r);
	assert_error(&r, 422, "invalid", "reson", NULL);
	response_free(&r);
}

static void test_server_readyz(void **state)
{
	struct api_fixture *f = *state;
	struct response r;

	simple(f->base, f->port, "GET", "/readyz", NULL, NULL, &r);
	assert_error(&r, 503, "not_ready", NULL, "database unreachable");
	response_free(&r);

	api_set_draining(f->api);
	simple(f->base, f->port, "GET", "/readyz", NULL, NULL, &r);
	assert_error(&r, 503, "not_ready", NULL, "shutting down");
	response_free(&r);
}

/* /metrics names tenants and clusters: on metrics.listen only, never on the API's port. */
static void test_server_metrics_own_listener(void **state)
{
	struct api_fixture *f = *state;
	int metrics_port = http_server_port(f->api->metrics_http);
	struct response r;

	assert_true(metrics_port > 0 && metrics_port != f->port);
	simple(f->base, f->port, "GET", "/metrics", NULL, NULL, &r);
	assert_error(&r, 404, "not_found", NULL, "no such path: /metrics");
	response_free(&r);

	simple(f->base, metrics_port, "GET", "/metrics", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "esaas_ready 0"));
	response_free(&r);

	/* And nothing else there. */
	simple(f->base, metrics_port, "GET", "/healthz", NULL, NULL, &r);
	assert_int_equal(r.status, 404);
	response_free(&r);
}

/* Turn the loop until the API has n connections open, or 5 s went by. */
static bool connections_become(struct api_fixture *f, int n)
{
	int64_t deadline = now_mono_ms() + 5000;

	while (http_server_connections(f->api->http) != n && now_mono_ms() < deadline) {
		struct timeval tv = {0, 10000};

		event_base_loopexit(f->base, &tv);
		event_base_loop(f->base, EVLOOP_ONCE);
	}
	return http_server_connections(f->api->http) == n;
}

/*
 * http.max_connections: past the cap a new connection is closed at once,
 * without a byte read or written; below it again, connections are served.
 */
static void test_server_connections_capped(void **state)
{
	struct api_fixture *f = *state;
	struct client *idle[3];
	struct response r;

	for (int i = 0; i < 3; i++)
		idle[i] = client_connect(f->base, f->port);
	assert_true(connections_become(f, 3));

	struct client *extra = client_connect(f->base, f->port);
	const char get[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

	client_send(extra, get, strlen(get));
	wait_response(extra, false);
	assert_true(extra->eof);
	assert_int_equal(extra->in_len, 0);
	assert_int_equal(http_server_refused(f->api->http), 1);
	assert_int_equal(http_server_connections(f->api->http), 3);
	client_close(extra);

	/* One goes: room for one more, served as ever. */
	client_close(idle[0]);
	assert_true(connections_become(f, 2));
	simple(f->base, f->port, "GET", "/healthz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	response_free(&r);
	assert_int_equal(http_server_refused(f->api->http), 1);
	client_close(idle[1]);
	client_close(idle[2]);
}

static void test_server_job_requests_checked_first(void **state)
{
	struct api_fixture *f = *state;
	char *a129 = repeat('a', 129);
	char *k256 = repeat('k', 256);
	char *h;
	struct response r;

	simple(f->base, f->port, "GET", "/api/v1/jobs?limit=0", NULL, NULL, &r);
	assert_error(&r, 422, "invalid", "limit", NULL);
	response_free(&r);
	simple(f->base, f->port, "GET", "/api/v1/jobs?state=running", NULL, NULL, &r);
	assert_error(&r, 422, "invalid", "state", NULL);
	response_free(&r);
	simple(f->base, f->port, "GET", "/api/v1/jobs?limit=%zz", NULL, NULL, &r);
	assert_error(&r, 400, "malformed_query", NULL, NULL);
	response_free(&r);

	simple(f->base, f->port, "GET", "/api/v1/jobs/abc", NULL, NULL, &r);
	assert_error(&r, 404, "not_found", NULL, "job abc not found");
	response_free(&r);
	simple(f->base, f->port, "GET", "/api/v1/jobs/0/events", NULL, NULL, &r);
	assert_error(&r, 404, "not_found", NULL, NULL);
	response_free(&r);

	h = xasprintf("X-Esaas-Actor: %s\r\n", a129);
	simple(f->base, f->port, "POST", "/api/v1/jobs/1/cancel", h, NULL, &r);
	assert_error(&r, 422, "invalid", "X-Esaas-Actor", NULL);
	response_free(&r);
	free(h);

	h = xasprintf("Content-Type: application/json\r\nIdempotency-Key: %s\r\n", k256);
	simple(f->base, f->port, "POST", "/api/v1/jobs", h,
	       "{\"kind\": \"scale\", \"cluster\": \"logs\"}", &r);
	assert_error(&r, 422, "invalid", "Idempotency-Key", NULL);
	response_free(&r);
	free(h);

	simple(f->base, f->port, "POST", "/api/v1/jobs", "Content-Type: application/json\r\n",
	       "{\"kind\": \"upgrade\", \"cluster\": \"logs\"}", &r);
	assert_error(&r, 422, "invalid", "kind", "create, scale");
	response_free(&r);

	simple(f->base, f->port, "POST", "/api/v1/jobs", NULL, NULL, &r);
	assert_error(&r, 400, "malformed_json", NULL, "empty");
	response_free(&r);
	free(a129);
	free(k256);
}

/* --- The reply-lifetime rules, on a bare server. --- */

struct bare {
	struct event_base *base;
	struct http_server *srv;
	int port;
	struct http_req *held;
	int calls;
};

static void hold_cb(struct http_req *req, void *arg)
{
	struct bare *b = arg;

	b->held = req;
	b->calls++;
}

static void deferred_reply_cb(evutil_socket_t fd, short what, void *arg)
{
	http_reply_json(arg, 200, json_pack("{s:b}", "deferred", 1));
}

static void defer_cb(struct http_req *req, void *arg)
{
	struct bare *b = arg;
	struct timeval now = {0, 0};

	b->calls++;
	event_base_once(b->base, -1, EV_TIMEOUT, deferred_reply_cb, req, &now);
}

static void echo_cb(struct http_req *req, void *arg)
{
	http_reply_json(req, 200, json_pack("{s:s}", "id", http_req_param(req, "id")));
}

static int bare_setup(void **state)
{
	struct bare *b = xcalloc(1, sizeof(*b));
	struct http_limits lim = {
		.max_body_bytes = 1024, .max_header_bytes = 8192, .timeout_s = 10};
	char err[256];

	b->base = event_base_new();
	b->srv = http_server_new(b->base, &lim);
	if (!b->srv)
		return -1;
	http_server_route(b->srv, "GET", "/hold", hold_cb, b);
	http_server_route(b->srv, "GET", "/defer", defer_cb, b);
	http_server_route(b->srv, "GET", "/echo/{id}", echo_cb, b);
	if (!http_server_listen(b->srv, "127.0.0.1:0", err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	b->port = http_server_port(b->srv);
	*state = b;
	return 0;
}

static int bare_teardown(void **state)
{
	struct bare *b = *state;

	http_server_free(b->srv);
	event_base_free(b->base);
	free(b);
	return 0;
}

static void run_until_called(struct bare *b, int calls)
{
	bool expired = false;
	struct event *deadline = evtimer_new(b->base, deadline_cb, &expired);
	struct timeval tv = {10, 0};

	evtimer_add(deadline, &tv);
	while (b->calls < calls && !expired)
		event_base_loop(b->base, EVLOOP_ONCE);
	event_free(deadline);
	assert_false(expired);
}

static void test_async_reply_keepalive(void **state)
{
	static const char req1[] = "GET /defer HTTP/1.1\r\nHost: t\r\n\r\n";
	static const char req2[] = "GET /echo/a%2Fb HTTP/1.1\r\nHost: t\r\n\r\n";
	struct bare *b = *state;
	struct client *c = client_connect(b->base, b->port);
	struct response r;

	/* The reply comes from a later loop iteration... */
	client_send(c, req1, sizeof(req1) - 1);
	wait_response(c, false);
	take_response(c, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"deferred\":true}\n");
	response_free(&r);

	/* ...and the kept-alive connection serves the next request. */
	client_send(c, req2, sizeof(req2) - 1);
	wait_response(c, false);
	take_response(c, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"id\":\"a/b\"}\n");
	response_free(&r);
	client_close(c);
}

static void test_reply_after_client_left(void **state)
{
	static const char req[] = "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n";
	struct bare *b = *state;
	struct client *c = client_connect(b->base, b->port);

	client_send(c, req, sizeof(req) - 1);
	run_until_called(b, 1);
	assert_non_null(b->held);
	client_close(c);
	for (int i = 0; i < 4; i++)
		event_base_loop(b->base, EVLOOP_NONBLOCK);

	/* The reply goes to a closed socket: libevent frees what it must, once. */
	http_reply_json(b->held, 200, json_pack("{s:s}", "late", "yes"));
	b->held = NULL;
	for (int i = 0; i < 4; i++)
		event_base_loop(b->base, EVLOOP_NONBLOCK);

	/* And the server still serves. */
	struct response r;
	simple(b->base, b->port, "GET", "/echo/7", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	response_free(&r);
}

static void test_reply_after_server_freed(void **state)
{
	static const char req[] = "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n";
	struct bare *b = *state;
	struct client *c = client_connect(b->base, b->port);

	client_send(c, req, sizeof(req) - 1);
	run_until_called(b, 1);
	assert_false(http_req_gone(b->held));

	http_server_free(b->srv);
	b->srv = NULL;
	assert_true(http_req_gone(b->held));
	assert_string_equal(http_req_path(b->held), "/hold");
	assert_null(http_req_header(b->held, "Host"));
	http_req_add_header(b->held, "X-Ignored", "1");
	http_reply_json(b->held, 200, json_pack("{s:s}", "late", "yes"));
	b->held = NULL;

	/* The client sees its connection closed without an answer. */
	wait_response(c, false);
	assert_true(c->eof);
	assert_int_equal(c->in_len, 0);
	client_close(c);
}

static void test_listen_errors(void **state)
{
	struct bare *b = *state;
	struct http_limits lim = {
		.max_body_bytes = 1024, .max_header_bytes = 8192, .timeout_s = 10};
	struct http_server *other = http_server_new(b->base, &lim);
	char addr[64];
	char err[256];

	assert_false(http_server_listen(other, "localhost", err, sizeof(err)));
	assert_non_null(strstr(err, "host:port"));
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", b->port);
	assert_false(http_server_listen(other, addr, err, sizeof(err)));
	assert_non_null(strstr(err, "in use"));
	assert_int_equal(http_server_port(other), -1);
	http_server_free(other);
}

int main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_error_json_with_field),
		cmocka_unit_test(test_error_json_without_field),
		cmocka_unit_test(test_error_set_replaces),
		cmocka_unit_test(test_route_exact),
		cmocka_unit_test(test_route_params_decoded),
		cmocka_unit_test(test_route_not_found),
		cmocka_unit_test(test_route_bad_method_allow),
		cmocka_unit_test(test_route_head_is_get),
		cmocka_unit_test(test_route_literal_beats_param),
		cmocka_unit_test(test_query_parse),
		cmocka_unit_test(test_query_malformed),
		cmocka_unit_test(test_query_check),
		cmocka_unit_test(test_filter_defaults),
		cmocka_unit_test(test_filter_all),
		cmocka_unit_test(test_events_page),
		cmocka_unit_test(test_filter_statuses),
		cmocka_unit_test(test_filter_invalid),
		cmocka_unit_test(test_submit_valid),
		cmocka_unit_test(test_submit_params_default),
		cmocka_unit_test(test_submit_invalid),
		cmocka_unit_test(test_cancel_body_valid),
		cmocka_unit_test(test_cancel_body_invalid),
		cmocka_unit_test(test_dns_label),
		cmocka_unit_test(test_idempotency_key),
		cmocka_unit_test(test_actor),
		cmocka_unit_test(test_job_id),
		cmocka_unit_test(test_body_valid),
		cmocka_unit_test(test_body_invalid),
		cmocka_unit_test(test_check_fields),
		cmocka_unit_test(test_utf8_length),
		cmocka_unit_test(test_parse_listen),
	};
	const struct CMUnitTest server[] = {
		cmocka_unit_test_setup_teardown(test_server_healthz, api_setup, api_teardown),
		cmocka_unit_test_setup_teardown(test_server_head, api_setup, api_teardown),
		cmocka_unit_test_setup_teardown(test_server_not_found, api_setup, api_teardown),
		cmocka_unit_test_setup_teardown(test_server_method_not_allowed, api_setup,
						api_teardown),
		cmocka_unit_test_setup_teardown(test_server_too_large_json, api_setup,
						api_teardown),
		cmocka_unit_test_setup_teardown(test_server_too_large_beyond_margin, api_setup,
						api_teardown),
		cmocka_unit_test_setup_teardown(test_server_headers_too_large, api_setup,
						api_teardown),
		cmocka_unit_test_setup_teardown(test_server_malformed_json, api_setup,
						api_teardown),
		cmocka_unit_test_setup_teardown(test_server_metrics_own_listener, api_setup,
						api_teardown),
		cmocka_unit_test_setup_teardown(test_server_connections_capped,
						api_setup_three_connections, api_teardown),
		cmocka_unit_test_setup_teardown(test_server_readyz, api_setup, api_teardown),
		cmocka_unit_test_setup_teardown(test_server_job_requests_checked_first, api_setup,
						api_teardown),
		cmocka_unit_test_setup_teardown(test_async_reply_keepalive, bare_setup,
						bare_teardown),
		cmocka_unit_test_setup_teardown(test_reply_after_client_left, bare_setup,
						bare_teardown),
		cmocka_unit_test_setup_teardown(test_reply_after_server_freed, bare_setup,
						bare_teardown),
		cmocka_unit_test_setup_teardown(test_listen_errors, bare_setup, bare_teardown),
	};
	int failed;

	/* A reply to a client that has gone must not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	if (!log_setup(LOG_ERROR, LOG_FORMAT_TEXT, NULL))
		return 1;
	failed = cmocka_run_group_tests_name("http pure", pure, NULL, NULL);
	failed += cmocka_run_group_tests_name("http server", server, NULL, NULL);
	libevent_global_shutdown();
	return failed ? 1 : 0;
}
