/*
 * The request checks of the API, without sockets: route matching on raw
 * paths, query strings and the job filter, JSON bodies for submit and
 * cancel, the Idempotency-Key and the actor.
 *
 * Input layout.  The first byte holds flags; the rest is split at NUL
 * bytes into fields, a missing field being empty:
 *
 *   flags \0-separated: method, path, query, content-type, idempotency-key,
 *   actor, then the body (the rest of the input, NUL bytes included)
 *
 *   flags bit 0: Content-Type present (else NULL: no header)
 *         bit 1: Idempotency-Key present
 *         bit 2: X-Esaas-Actor present
 *         bit 3: query present (else NULL: no '?' in the URI)
 *
 * Besides crashes and leaks, every error must carry a status, a code and a
 * message, a 422 must name its field, and the JSON sent to the client must
 * still hold the message and the field (see support.h for FUZZ_CONTRACT).
 */
#include "api/http.h"
#include "api/routes.h"
#include "common/log.h"
#include "common/util.h"
#include "engine/registry.h"
#include "fuzz/support.h"
#include "tests/testwf/testwf.h"
#include "kube/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	FIELD_METHOD,
	FIELD_PATH,
	FIELD_QUERY,
	FIELD_CONTENT_TYPE,
	FIELD_KEY,
	FIELD_ACTOR,
	FIELD_BODY,
	NFIELDS
};

#define FLAG_CONTENT_TYPE 0x01
#define FLAG_KEY 0x02
#define FLAG_ACTOR 0x04
#define FLAG_QUERY 0x08

struct input {
	char *field[NFIELDS]; /* owned, NUL-terminated */
	size_t body_len;      /* the body may hold NUL bytes */
	unsigned flags;
};

static struct http_router *router;
static struct wf_registry reg;

/* --- A workflow whose check names its field in each way jobs.c handles. --- */

static void noop_run(struct step *s)
{
}

static bool fields_validate(json_t *params, const char **field, char *msg, size_t msglen)
{
	json_t *r = json_object_get(params, "replicas");

	if (json_object_get(params, "silent"))
		return false; /* neither field nor message */
	if (json_object_get(params, "whole")) {
		*field = "params";
		snprintf(msg, msglen, "params are refused as a whole");
		return false;
	}
	if (r && !json_is_integer(r)) {
		*field = "replicas";
		snprintf(msg, msglen, "replicas must be an integer");
		return false;
	}
	return true;
}

static const struct wf_state fields_states[] = {
	{.name = "only", .run = noop_run, .deadline_s = 60},
};

static const struct workflow fields_wf = {
	.kind = "fields",
	.states = fields_states,
	.nstates = 1,
	.validate = fields_validate,
};

/* --- The route table of api.c and jobs.c, and two patterns of the kind to come. --- */

static void route_cb(struct http_req *req, void *arg)
{
}

static void add_routes(struct http_router *r)
{
	static const char *const routes[][2] = {
		{"GET", "/healthz"},
		{"GET", "/readyz"},
		{"GET", "/api/v1/jobs"},
		{"POST", "/api/v1/jobs"},
		{"GET", "/api/v1/jobs/{id}"},
		{"GET", "/api/v1/jobs/{id}/events"},
		{"POST", "/api/v1/jobs/{id}/cancel"},
		{"GET", "/api/v1/clusters/new"},
		{"GET", "/api/v1/clusters/{name}"},
		{"DELETE", "/api/v1/clusters/{name}/nodes/{node}"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(routes); i++)
		http_router_add(r, routes[i][0], routes[i][1], route_cb, NULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	support_init();
	if (!log_setup(LOG_ERROR, LOG_FORMAT_TEXT, NULL))
		abort();
	router = http_router_new();
	add_routes(router);
	if (!testwf_register(&reg, err, sizeof(err)) ||
	    !wf_registry_add(&reg, &fields_wf, err, sizeof(err))) {
		fprintf(stderr, "registry: %s\n", err);
		abort();
	}
	return 0;
}

static void split_input(const uint8_t *data, size_t size, struct input *in)
{
	size_t pos = 1;

	memset(in, 0, sizeof(*in));
	in->flags = size ? data[0] : 0;
	for (int f = 0; f < NFIELDS; f++) {
		size_t end = size > pos ? size : pos;

		if (f < FIELD_BODY && pos < size) {
			const uint8_t *nul = memchr(data + pos, '\0', size - pos);

			end = nul ? (size_t)(nul - data) : size;
		}
		size_t len = pos < size ? end - pos : 0;

		in->field[f] = xmalloc(len + 1);
		if (len)
			memcpy(in->field[f], data + pos, len);
		in->field[f][len] = '\0';
		if (f == FIELD_BODY)
			in->body_len = len;
		pos = end + 1;
	}
}

static void free_input(struct input *in)
{
	for (int f = 0; f < NFIELDS; f++)
		free(in->field[f]);
}

/* An error as the client will see it: the JSON shape must keep all it says. */
static void check_error(const struct http_error *err, const char *where)
{
	support_expect(err->status >= 400 && err->status <= 599, "%s: status %d", where,
		       err->status);
	support_expect(err->code && err->code[0], "%s: no code", where);
	support_expect(err->message && err->message[0], "%s: no message", where);
	support_expect(err->status != 422 || err->field, "%s: 422 without a field: %s", where,
		       err->message ? err->message : "");
	if (!err->code || !err->message)
		return;

	json_t *doc = http_error_json(err->code, err->message, err->field);
	json_t *e = json_object_get(doc, "error");

	support_expect(json_is_string(json_object_get(e, "message")),
		       "%s: the reply lost its message (not UTF-8?): \"%s\"", where, err->message);
	support_expect(!err->field || json_is_string(json_object_get(e, "field")),
		       "%s: the reply lost its field (not UTF-8?): \"%s\"", where, err->field);
	char *text = json_dumps(doc, JSON_COMPACT);
	support_expect(text != NULL, "%s: the reply cannot be encoded", where);
	free(text);
	json_decref(doc);
}

static void fuzz_route(const char *method, const char *path)
{
	struct http_match m;
	enum http_route_result res = http_router_match(router, method, path, &m);

	switch (res) {
	case HTTP_ROUTE_FOUND: {
		const char *id = http_match_param(&m, "id");
		int64_t job;

		support_expect(m.handler == route_cb, "found without a handler");
		for (int i = 0; i < m.nparams; i++)
			support_expect(m.values[i][0] != '\0', "empty {%s} matched", m.names[i]);
		if (id && api_parse_job_id(id, &job))
			support_expect(job > 0, "job id %lld from \"%s\"", (long long)job, id);
		break;
	}
	case HTTP_ROUTE_BAD_METHOD:
		support_expect(m.allow[0] != '\0', "405 without Allow");
		support_expect(strlen(m.allow) < sizeof(m.allow), "Allow overflows");
		break;
	case HTTP_ROUTE_NOT_FOUND:
		support_expect(m.nparams == 0, "not found with parameters");
		break;
	}
	http_match_clear(&m);
}

static void fuzz_query(const char *s)
{
	struct http_error err = {0};
	struct http_query *q = http_query_parse(s, &err);
	struct job_filter f;

	if (!q) {
		check_error(&err, "query");
		support_expect(err.status == 400, "bad query gave %d", err.status);
		http_error_clear(&err);
		return;
	}
	for (int i = 0; i < http_query_count(q); i++) {
		const char *key = http_query_key(q, i);

		support_expect(key[0] != '\0', "query parameter without a name");
		support_expect(http_query_get(q, key) != NULL, "query parameter %s not found", key);
		(void)http_query_value(q, i);
	}
	if (api_jobs_parse_filter(q, &f, &err)) {
		support_expect(f.limit >= 1 && f.limit <= 500, "limit %d", f.limit);
		support_expect(f.cursor >= 0, "cursor %lld", (long long)f.cursor);
		support_expect(!f.kind || (f.kind[0] && strlen(f.kind) <= 63), "kind \"%s\"",
			       f.kind);
		support_expect(!f.cluster || (f.cluster[0] && strlen(f.cluster) <= 63),
			       "cluster \"%s\"", f.cluster);
	} else {
		check_error(&err, "job filter");
		support_expect(err.status == 422 && err.field, "filter error %d without a field",
			       err.status);
	}
	http_error_clear(&err);
	int64_t after;
	int limit;

	if (api_events_parse_page(q, &after, &limit, &err)) {
		support_expect(limit >= 1 && limit <= 1000, "events limit %d", limit);
		support_expect(after >= 0, "events after %lld", (long long)after);
	} else {
		check_error(&err, "events page");
		support_expect(err.status == 422 && err.field, "page error %d without a field",
			       err.status);
	}
	http_error_clear(&err);
	http_query_free(q);
}

static void fuzz_submit(json_t *body)
{
	json_t *copy = json_deep_copy(body); /* the check adds "params": {} */
	struct http_error err = {0};
	struct api_submit sub;

	if (api_jobs_check_submit(copy, &reg, &sub, &err)) {
		support_expect(sub.wf && strcmp(sub.wf->kind, sub.kind) == 0, "kind %s", sub.kind);
		support_expect(spec_is_dns_label(sub.cluster, SPEC_DNS_LABEL_MAX), "cluster \"%s\"",
			       sub.cluster);
		support_expect(json_is_object(sub.params), "params not an object");
	} else {
		check_error(&err, "submit");
	}
	http_error_clear(&err);
	json_decref(copy);
}

static void fuzz_cancel(json_t *body)
{
	struct http_error err = {0};
	const char *reason;

	if (api_jobs_check_cancel(body, &reason, &err))
		support_expect(!reason || (reason[0] && http_utf8_length(reason) <= 1000),
			       "reason of %zu characters", reason ? http_utf8_length(reason) : 0);
	else
		check_error(&err, "cancel");
	http_error_clear(&err);
}

static void fuzz_body(const char *content_type, const char *body, size_t len)
{
	static const bool optional[] = {false, true};

	/* POST /api/v1/jobs requires a body, POST .../cancel does not. */
	for (size_t i = 0; i < ARRAY_SIZE(optional); i++) {
		struct http_error err = {0};
		json_t *doc = http_json_parse_body(content_type, body, len, optional[i], &err);

		if (!doc) {
			check_error(&err, "body");
			http_error_clear(&err);
			continue;
		}
		support_expect(json_is_object(doc), "body is not an object");
		if (optional[i])
			fuzz_cancel(doc);
		else
			fuzz_submit(doc);
		json_decref(doc);
	}
}

static void fuzz_headers(const struct input *in)
{
	const char *key = in->flags & FLAG_KEY ? in->field[FIELD_KEY] : NULL;
	const char *actor = in->flags & FLAG_ACTOR ? in->field[FIELD_ACTOR] : NULL;
	struct http_error err = {0};
	char *who = NULL;

	if (key && api_idempotency_key_valid(key))
		support_expect(key[0] && strlen(key) <= 255, "key of %zu bytes", strlen(key));
	if (api_actor(actor, "127.0.0.1", &who, &err)) {
		support_expect(who && who[0], "empty actor");
		free(who);
	} else {
		check_error(&err, "actor");
	}
	http_error_clear(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in;
	char *host = NULL;
	char msg[256];
	int port;

	split_input(data, size, &in);

	fuzz_route(in.field[FIELD_METHOD], in.field[FIELD_PATH]);
	fuzz_query(in.flags & FLAG_QUERY ? in.field[FIELD_QUERY] : NULL);
	fuzz_body(in.flags & FLAG_CONTENT_TYPE ? in.field[FIELD_CONTENT_TYPE] : NULL,
		  in.field[FIELD_BODY], in.body_len);
	fuzz_headers(&in);

	/* Names in paths, and the listen address, for good measure. */
	(void)spec_is_dns_label(in.field[FIELD_PATH], SPEC_DNS_LABEL_MAX);
	if (http_parse_listen(in.field[FIELD_PATH], &host, &port, msg, sizeof(msg))) {
		support_expect(port >= 0 && port <= 65535, "port %d", port);
		free(host);
	}

	free_input(&in);
	return 0;
}
