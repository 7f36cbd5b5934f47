#include "es/client.h"

#include "common/base64.h"
#include "kube/client.h"
#include "common/log.h"
#include "common/util.h"
#include "common/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct es {
	struct kube *kube;  /* proxy mode */
	char *proxy_prefix; /* /api/v1/namespaces/ns/services/svc:9200/proxy */
	struct httpc *http; /* direct mode */
	char *base_url;
	char *token;
	char *ca_pem;	  /* NULL: the system's CAs */
	char *basic;	  /* "Authorization: Basic ..." of a secured cluster, or NULL */
	char *connect_to; /* direct mode: HOST:PORT to connect to, or NULL */
	struct es_version version;
	bool version_known;
};

struct es_call {
	struct es *es;
	struct kube_call *kcall;
	struct httpc_call *hcall;
	bool is_info;
	bool conflict_ok;    /* a 409 answer means done (synced flush) */
	char *method, *path; /* for error messages */
	json_t *put;	     /* a settings PUT: the settings sent, to find in the echo */
	const char *scope;   /* "persistent" or "transient" (static) */
	es_done_cb cb;
	void *arg;
};

/*
 * How much of an answer each kind of call may read: a health or settings
 * reply is kilobytes, listings grow with the cluster's nodes and shards.
 * A reply past its cap fails the call (HTTPC_PERMANENT) with an error
 * that names the cap, and is never held whole: the reading stops there.
 * The first prefix of the path that matches wins.
 */
static const struct es_cap {
	const char *prefix;
	size_t bytes;
	const char *what;
} es_caps[] = {
	{"/_cluster/health", 64 * 1024, "an Elasticsearch cluster health"},
	{"/_cluster/allocation/explain", 256 * 1024, "an Elasticsearch allocation explanation"},
	{"/_cluster/voting_config_exclusions", 64 * 1024, "an Elasticsearch voting exclusion"},
	{"/_cluster/settings", 1024 * 1024, "Elasticsearch cluster settings"},
	{"/_cat/", 4 * 1024 * 1024, "an Elasticsearch _cat listing"},
	{"/_nodes", 4 * 1024 * 1024, "an Elasticsearch nodes listing"},
	{"/_all/_settings", 4 * 1024 * 1024, "Elasticsearch index settings"},
};
#define ES_CAP_ROOT_BYTES (64 * 1024)
#define ES_CAP_DEFAULT_BYTES (1024 * 1024)

const char *es_response_cap(const char *path, size_t *bytes)
{
	for (size_t i = 0; i < ARRAY_SIZE(es_caps); i++) {
		if (strncmp(path, es_caps[i].prefix, strlen(es_caps[i].prefix)) == 0) {
			*bytes = es_caps[i].bytes;
			return es_caps[i].what;
		}
	}
	if (path[0] == '/' && (path[1] == '\0' || path[1] == '?')) {
		*bytes = ES_CAP_ROOT_BYTES;
		return "an Elasticsearch root endpoint";
	}
	*bytes = ES_CAP_DEFAULT_BYTES;
	return "an Elasticsearch reply";
}

struct es *es_new_proxy(struct kube *k, const char *ns, const char *service)
{
	struct es *es = xcalloc(1, sizeof(*es));
	es->kube = k;
	es->proxy_prefix = xasprintf("/api/v1/namespaces/%s/services/%s:9200/proxy", ns, service);
	return es;
}

struct es *es_new_direct(struct httpc *h, const char *base_url, const char *bearer_token)
{
	struct es *es = xcalloc(1, sizeof(*es));
	es->http = h;
	es->base_url = xstrdup(base_url);
	es->token = bearer_token ? xstrdup(bearer_token) : NULL;
	size_t n = strlen(es->base_url);
	while (n && es->base_url[n - 1] == '/')
		es->base_url[--n] = '\0';
	return es;
}

void es_direct_trust(struct es *es, const char *ca_pem)
{
	free(es->ca_pem);
	es->ca_pem = ca_pem ? xstrdup(ca_pem) : NULL;
}

void es_use_credentials(struct es *es, const struct es_credentials *cred)
{
	if (!cred || !es->http)
		return;
	char *pair = xasprintf("%s:%s", cred->user, cred->password);
	char *b64 = base64_encode(pair, strlen(pair));
	free(es->basic);
	es->basic = xasprintf("Authorization: Basic %s", b64);
	free(b64);
	free(pair);
	es_direct_trust(es, cred->ca_pem);
	/* A secured cluster's HTTP is TLS, at the address of the template. */
	if (!strncmp(es->base_url, "http://", 7)) {
		char *https = xasprintf("https://%s", es->base_url + 7);
		free(es->base_url);
		es->base_url = https;
	}
}

bool es_security_credentials(const json_t *sec, struct es_credentials *cred)
{
	const char *ca = json_str(sec, "ca_crt"), *elastic = json_str(sec, "elastic");
	const char *own = json_str(sec, ES_ESAAS_USER);

	if (!ca || !elastic)
		return false;
	if (own && json_is_true(json_object_get(sec, "esaas_user")))
		*cred = (struct es_credentials){
			.user = ES_ESAAS_USER, .password = own, .ca_pem = ca};
	else
		*cred = (struct es_credentials){
			.user = "elastic", .password = elastic, .ca_pem = ca};
	return true;
}

void es_direct_connect_to(struct es *es, const char *host_port)
{
	free(es->connect_to);
	es->connect_to = host_port && *host_port && es->http ? xstrdup(host_port) : NULL;
}

char *es_expand_url(const char *url_template, const char *ns, const char *service)
{
	size_t cap = strlen(url_template) + 1, n = 0;
	for (const char *p = url_template; (p = strchr(p, '{')); p++)
		cap += strlen(ns) + strlen(service);
	char *out = xmalloc(cap);
	for (const char *p = url_template; *p;) {
		const char *with = NULL;
		size_t skip = 0;
		if (strncmp(p, "{namespace}", 11) == 0)
			with = ns, skip = 11;
		else if (strncmp(p, "{service}", 9) == 0)
			with = service, skip = 9;
		if (with) {
			memcpy(out + n, with, strlen(with));
			n += strlen(with);
			p += skip;
		} else {
			out[n++] = *p++;
		}
	}
	out[n] = '\0';
	return out;
}

struct es *es_new_for_cluster(struct kube *k, struct httpc *h, const char *url_template,
			      const char *ns, const char *service)
{
	if (!url_template || !*url_template)
		return es_new_proxy(k, ns, service);
	char *url = es_expand_url(url_template, ns, service);
	struct es *es = es_new_direct(h, url, NULL);
	free(url);
	return es;
}

void es_free(struct es *es)
{
	if (!es)
		return;
	free(es->proxy_prefix);
	free(es->base_url);
	free(es->token);
	free(es->ca_pem);
	free(es->basic);
	free(es->connect_to);
	free(es);
}

const struct es_version *es_known_version(const struct es *es)
{
	return es->version_known ? &es->version : NULL;
}

void es_set_version(struct es *es, const struct es_version *v)
{
	es->version = *v;
	es->version_known = true;
}

/* Elasticsearch explains itself in error.reason (or error, on 2.x). */
static char *error_message(const char *method, const char *path, long status, json_t *body,
			   const char *transport)
{
	json_t *err = json_object_get(body, "error");
	const char *reason = json_str(err, "reason");
	if (!reason)
		reason = json_string_value(err);
	if (!reason)
		reason = json_str(body, "message"); /* a proxy Status */
	if (reason)
		return xasprintf("%s %s: %ld %s", method, path, status, reason);
	return xstrdup(transport ? transport : "request failed");
}

static void call_free(struct es_call *c)
{
	json_decref(c->put);
	free(c->method);
	free(c->path);
	free(c);
}

/*
 * A settings PUT is acknowledged with the settings applied echoed in their
 * scope.  2.x answers 200 but leaves out, and ignores, a setting that is
 * not dynamically updatable ("ignoring persistent setting [...], not
 * dynamically updateable"; 5.0 made that a 400): the first value sent that
 * the echo lacks, as an error message, or NULL.  A null (a reset) is not
 * echoed.
 */
static char *ignored_setting(struct es_call *c, json_t *body)
{
	json_t *echo = json_object_get(body, c->scope);
	const char *k;
	json_t *v;
	json_object_foreach (c->put, k, v) {
		if (!json_is_null(v) && !json_object_get(echo, k))
			return xasprintf("%s %s: Elasticsearch acknowledged the settings but left "
					 "%s out of the %s ones it applied: it ignored it (not "
					 "dynamically updatable on this version; a static setting "
					 "belongs in elasticsearch.yml)",
					 c->method, c->path, k, c->scope);
	}
	return NULL;
}

static void finish(struct es_call *c, long status, enum httpc_class klass, json_t *body,
		   const char *transport, int64_t retry_after_ms)
{
	if (c->conflict_ok && status == 409)
		klass = HTTPC_OK;
	if (c->is_info && klass == HTTPC_OK) {
		const char *num = json_str(json_object_get(body, "version"), "number");
		struct es_version v;
		if (num && es_version_parse(num, &v))
			es_set_version(c->es, &v);
	}
	char *msg = klass == HTTPC_OK ? NULL
				      : error_message(c->method, c->path, status, body, transport);
	if (klass == HTTPC_OK && c->put) {
		msg = ignored_setting(c, body);
		if (msg)
			klass = HTTPC_PERMANENT;
	}
	struct es_result r = {status, klass, body, msg, retry_after_ms};
	c->cb(c->arg, &r);
	free(msg);
	call_free(c);
}

static void proxy_done_cb(void *arg, const struct kube_result *kr)
{
	/* The proxy's own failures arrive as a Status; the cluster's as its error body. */
	finish(arg, kr->status, kr->klass, kr->body, kr->message, kr->retry_after_ms);
}

static void direct_done_cb(const struct httpc_response *resp, void *arg)
{
	json_t *body = resp->body_len && !resp->too_large
			       ? json_loadb(resp->body, resp->body_len, 0, NULL)
			       : NULL;
	finish(arg, resp->status, resp->klass, body, resp->error, resp->retry_after_ms);
	json_decref(body);
}

static struct es_call *send_call(struct es *es, const char *method, const char *path, json_t *body,
				 bool is_info, bool conflict_ok, es_done_cb cb, void *arg)
{
	struct es_call *c = xcalloc(1, sizeof(*c));
	c->es = es;
	c->is_info = is_info;
	c->conflict_ok = conflict_ok;
	c->cb = cb;
	c->arg = arg;
	c->method = xstrdup(method);
	c->path = xstrdup(path);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	size_t cap;
	const char *cap_for = es_response_cap(path, &cap);
	if (es->kube) {
		char *full = xasprintf("%s%s", es->proxy_prefix, path);
		c->kcall = kube_request_capped(es->kube, method, full,
					       text ? "application/json" : NULL, text, cap, cap_for,
					       proxy_done_cb, c);
		free(full);
	} else {
		char *url = xasprintf("%s%s", es->base_url, path);
		const char *headers[4] = {"Accept: application/json"};
		size_t nh = 1;
		if (text)
			headers[nh++] = "Content-Type: application/json";
		if (es->basic)
			headers[nh++] = es->basic;
		struct httpc_request req = {
			.method = method,
			.url = url,
			.headers = headers,
			.body = text,
			.body_len = text ? strlen(text) : 0,
			.bearer_token = es->token,
			.max_body = cap,
			.max_body_for = cap_for,
			.target = HTTPC_TARGET_ES,
			.tls = {.ca_pem = es->ca_pem},
			.connect_to = es->connect_to,
		};
		c->hcall = httpc_send(es->http, &req, direct_done_cb, c);
		free(url);
	}
	free(text);
	return c;
}

struct es_call *es_request(struct es *es, const char *method, const char *path, json_t *body,
			   es_done_cb cb, void *arg)
{
	return send_call(es, method, path, body, false, false, cb, arg);
}

void es_cancel(struct es_call *c)
{
	if (!c)
		return;
	if (c->kcall)
		kube_cancel(c->kcall);
	if (c->hcall)
		httpc_cancel(c->hcall);
	call_free(c);
}

struct es_call *es_info(struct es *es, es_done_cb cb, void *arg)
{
	return send_call(es, "GET", "/", NULL, true, false, cb, arg);
}

struct es_call *es_health(struct es *es, const char *wait_for_status, const char *timeout,
			  bool wait_for_events, es_done_cb cb, void *arg)
{
	char path[256];
	int n = snprintf(path, sizeof(path), "/_cluster/health?");
	if (wait_for_status)
		n += snprintf(path + n, sizeof(path) - (size_t)n, "wait_for_status=%s&",
			      wait_for_status);
	if (timeout)
		n += snprintf(path + n, sizeof(path) - (size_t)n, "timeout=%s&", timeout);
	if (wait_for_events)
		n += snprintf(path + n, sizeof(path) - (size_t)n, "wait_for_events=languid&");
	path[n - 1] = '\0'; /* the last '&' or the '?' */
	return send_call(es, "GET", path, NULL, false, false, cb, arg);
}

static const struct es_version *version_or_default(struct es *es, struct es_version *tmp);

struct es_call *es_health_wait(struct es *es, const struct es_health_wait *w, es_done_cb cb,
			       void *arg)
{
	struct es_version tmp;
	const struct es_version *v = version_or_default(es, &tmp);
	char path[256];
	int n = snprintf(path, sizeof(path), "/_cluster/health?");
	if (w->status)
		n += snprintf(path + n, sizeof(path) - (size_t)n, "wait_for_status=%s&", w->status);
	if (w->no_relocating && es_health_waits_for_no_relocating(v))
		n += snprintf(path + n, sizeof(path) - (size_t)n,
			      "wait_for_no_relocating_shards=true&");
	if (w->no_initializing && es_health_waits_for_no_initializing(v))
		n += snprintf(path + n, sizeof(path) - (size_t)n,
			      "wait_for_no_initializing_shards=true&");
	if (w->timeout)
		n += snprintf(path + n, sizeof(path) - (size_t)n, "timeout=%s&", w->timeout);
	path[n - 1] = '\0'; /* the last '&' or the '?' */
	return send_call(es, "GET", path, NULL, false, false, cb, arg);
}

struct es_call *es_get_settings(struct es *es, es_done_cb cb, void *arg)
{
	return send_call(es, "GET", "/_cluster/settings?flat_settings=true", NULL, false, false, cb,
			 arg);
}

static const struct es_version *version_or_default(struct es *es, struct es_version *tmp)
{
	if (es->version_known)
		return &es->version;
	if (!es_version_parse(ES_VERSION_DEFAULT, tmp))
		memset(tmp, 0, sizeof(*tmp));
	return tmp;
}

struct es_call *es_put_settings(struct es *es, json_t *settings, es_done_cb cb, void *arg)
{
	struct es_version tmp;
	const char *scope = es_settings_scope(version_or_default(es, &tmp));
	json_t *body = json_pack("{s:O}", scope, settings);
	struct es_call *c = send_call(es, "PUT", "/_cluster/settings?flat_settings=true", body,
				      false, false, cb, arg);
	json_decref(body);
	c->put = json_incref(settings);
	c->scope = scope;
	return c;
}

struct es_call *es_flush(struct es *es, es_done_cb cb, void *arg)
{
	struct es_version tmp;
	const struct es_version *v = version_or_default(es, &tmp);
	return send_call(es, "POST", es_flush_path(v), NULL, false, es_flush_conflict_ok(v), cb,
			 arg);
}

struct es_call *es_cat_nodes(struct es *es, es_done_cb cb, void *arg)
{
	return send_call(es, "GET",
			 "/_cat/nodes?format=json&h=name,ip,node.role,master,heap.percent", NULL,
			 false, false, cb, arg);
}

struct es_call *es_cat_shards(struct es *es, es_done_cb cb, void *arg)
{
	return send_call(es, "GET", "/_cat/shards?format=json", NULL, false, false, cb, arg);
}

struct es_call *es_cat_plugins(struct es *es, es_done_cb cb, void *arg)
{
	return send_call(es, "GET", "/_cat/plugins?format=json", NULL, false, false, cb, arg);
}

struct es_call *es_nodes_info(struct es *es, es_done_cb cb, void *arg)
{
	return send_call(es, "GET", "/_nodes", NULL, false, false, cb, arg);
}

struct es_call *es_voting_exclude(struct es *es, const char *const *names, size_t n, es_done_cb cb,
				  void *arg)
{
	struct es_version tmp;
	char *path = es_voting_exclusions_path(version_or_default(es, &tmp), names, n);
	if (!path)
		return NULL;
	struct es_call *c = send_call(es, "POST", path, NULL, false, false, cb, arg);
	free(path);
	return c;
}

struct es_call *es_voting_clear(struct es *es, es_done_cb cb, void *arg)
{
	struct es_version tmp;
	const char *path = es_voting_exclusions_clear_path(version_or_default(es, &tmp));
	return path ? send_call(es, "DELETE", path, NULL, false, false, cb, arg) : NULL;
}

struct es_call *es_shutdown_put(struct es *es, const char *node_id, const char *type,
				const char *reason, es_done_cb cb, void *arg)
{
	struct es_version tmp;
	if (!es_has_node_shutdown(version_or_default(es, &tmp)))
		return NULL;
	char *path = xasprintf("/_nodes/%s/shutdown", node_id);
	json_t *body = json_pack("{s:s, s:s}", "type", type, "reason", reason ? reason : "esaas");
	struct es_call *c = send_call(es, "PUT", path, body, false, false, cb, arg);
	json_decref(body);
	free(path);
	return c;
}

struct es_call *es_shutdown_delete(struct es *es, const char *node_id, es_done_cb cb, void *arg)
{
	struct es_version tmp;
	if (!es_has_node_shutdown(version_or_default(es, &tmp)))
		return NULL;
	char *path = xasprintf("/_nodes/%s/shutdown", node_id);
	struct es_call *c = send_call(es, "DELETE", path, NULL, false, false, cb, arg);
	free(path);
	return c;
}

void es_shard_copies_worst(json_t *rows, struct es_shard_copies *out)
{
	size_t i;
	json_t *row;

	memset(out, 0, sizeof(*out));
	json_array_foreach (rows, i, row) {
		json_t *rep = json_object_get(row, "rep");
		const char *index = json_str(row, "index");
		int64_t replicas = -1;

		/* The cat APIs give numbers as strings. */
		if (json_is_integer(rep))
			replicas = json_integer_value(rep);
		else if (json_is_string(rep) &&
			 !parse_int64(json_string_value(rep), 0, 1000, &replicas))
			replicas = -1;
		if (!index || replicas < 0 || replicas > 1000)
			continue;
		if (replicas + 1 > out->copies) {
			out->copies = (int)replicas + 1;
			snprintf(out->index, sizeof(out->index), "%s", index);
		}
	}
}
