#include "kube/client.h"
#include "kube/exec.h"
#include "kube/resources.h"
#include "common/log.h"
#include "common/util.h"
#include "common/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct kube {
	struct httpc *http;
	struct kube_conn conn; /* our own copy */
	int64_t token_read_ms; /* when conn.token was read from conn.token_file */
	int64_t token_reread_ms;
	/*
	 * With an exec plugin (conn.exec): the credential it gave (cred_gen
	 * counts them), the one run of it under way, and the calls waiting
	 * for its end, oldest first; each waits for the run numbered in it.
	 */
	struct kube_exec_cred cred;
	bool have_cred;
	uint64_t cred_gen;
	struct kube_exec_run *exec_run;
	uint64_t exec_runs; /* started so far: the number of the one under way */
	int64_t exec_timeout_ms;
	struct kube_call *waiting_head, *waiting_tail;
};

struct kube_call {
	struct kube *k;
	struct httpc_call *http;
	char *method, *url, *content_type, *body;
	size_t max_body;
	const char *max_body_for; /* static */
	bool retried;
	kube_done_cb cb;
	void *arg;
	uint64_t cred_gen;  /* of the credential it was sent with */
	uint64_t waits_for; /* the plugin run it waits for, 0: none */
	struct kube_call *next_waiting, *prev_waiting;
	/* A watch: its events, the line being read, the call's timeout. */
	kube_event_cb on_event;
	char *line;
	size_t line_len, line_cap;
	long timeout_ms;
};

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

struct kube *kube_new(struct httpc *h, const struct kube_conn *conn)
{
	struct kube *k = xcalloc(1, sizeof(*k));
	k->http = h;
	k->conn.server = dup_or_null(conn->server);
	k->conn.ca_pem = dup_or_null(conn->ca_pem);
	k->conn.client_cert_pem = dup_or_null(conn->client_cert_pem);
	k->conn.client_key_pem = dup_or_null(conn->client_key_pem);
	k->conn.token = dup_or_null(conn->token);
	k->conn.token_file = dup_or_null(conn->token_file);
	k->conn.insecure = conn->insecure;
	k->conn.tls_server_name = dup_or_null(conn->tls_server_name);
	k->conn.proxy_url = dup_or_null(conn->proxy_url);
	k->conn.namespace = dup_or_null(conn->namespace);
	k->conn.context = dup_or_null(conn->context);
	k->conn.exec = kube_exec_conf_dup(conn->exec);
	k->exec_timeout_ms = KUBE_EXEC_TIMEOUT_MS;
	k->conn.origin = dup_or_null(conn->origin);
	k->token_read_ms = now_mono_ms();
	k->token_reread_ms = KUBE_TOKEN_REREAD_MS;
	/* The server URL without a trailing slash: paths start with one. */
	size_t n = k->conn.server ? strlen(k->conn.server) : 0;
	while (n && k->conn.server[n - 1] == '/')
		k->conn.server[--n] = '\0';
	return k;
}

static void call_free(struct kube_call *c);

void kube_free(struct kube *k)
{
	if (!k)
		return;
	kube_exec_cancel(k->exec_run);
	while (k->waiting_head) {
		struct kube_call *c = k->waiting_head;

		k->waiting_head = c->next_waiting;
		call_free(c);
	}
	kube_exec_cred_free(&k->cred);
	kube_conn_free(&k->conn);
	free(k);
}

const char *kube_server(const struct kube *k)
{
	return k->conn.server;
}

void kube_set_token_reread_ms(struct kube *k, int64_t ms)
{
	k->token_reread_ms = ms;
}

void kube_set_exec_timeout_ms(struct kube *k, int64_t ms)
{
	k->exec_timeout_ms = ms;
}

/* Read the token file again; on failure the token held is kept. */
static bool reread_token(struct kube *k)
{
	char err[256];
	k->token_read_ms = now_mono_ms();
	if (kube_conn_reload_token(&k->conn, err, sizeof(err)))
		return true;
	log_warn("kubernetes: %s", err);
	return false;
}

/* One quoted-string of a header (RFC 7230 section 3.2.6), unescaped, into
 * out; *pp moves past it.  False when *pp does not start one. */
static bool quoted_string(const char **pp, char *out)
{
	const char *p = *pp;
	if (*p != '"')
		return false;
	for (p++; *p && *p != '"'; p++) {
		if (*p == '\\' && p[1])
			p++;
		*out++ = *p;
	}
	*out = '\0';
	if (*p != '"')
		return false;
	*pp = p + 1;
	return true;
}

char **kube_warnings_parse(const char *const *headers)
{
	size_t n = 0, bytes = 0;
	for (size_t i = 0; headers && headers[i]; i++) {
		if (!strncasecmp(headers[i], "Warning:", 8)) {
			n += 8; /* a generous bound on the texts in one header */
			bytes += strlen(headers[i]) + 1;
		}
	}
	if (n == 0)
		return NULL;
	/* The pointers, then the texts, in one block. */
	char **list = xcalloc(1, (n + 1) * sizeof(char *) + bytes);
	char *text = (char *)(list + n + 1);
	size_t got = 0;
	for (size_t i = 0; headers[i]; i++) {
		if (strncasecmp(headers[i], "Warning:", 8) != 0)
			continue;
		/* warn-code SP warn-agent SP warn-text [SP warn-date], comma-separated. */
		const char *p = headers[i] + 8;
		while (*p && got < n) {
			while (*p == ' ' || *p == ',')
				p++;
			while (*p >= '0' && *p <= '9')
				p++;
			while (*p == ' ')
				p++;
			while (*p && *p != ' ')
				p++;
			while (*p == ' ')
				p++;
			if (!quoted_string(&p, text))
				break;
			list[got++] = text;
			text += strlen(text) + 1;
			while (*p == ' ')
				p++;
			if (*p == '"') { /* a warn-date */
				char *scratch = xmalloc(strlen(p) + 1);
				bool ok = quoted_string(&p, scratch);
				free(scratch);
				if (!ok)
					break;
			}
		}
	}
	if (got == 0) {
		free(list);
		return NULL;
	}
	return list;
}

char *kube_collection_path(const char *api_version, const char *kind, const char *ns)
{
	const struct kube_resource *r = kube_resource_find(api_version, kind);
	if (!r)
		return NULL;
	if (r->namespaced && ns)
		return xasprintf("%s/%s/namespaces/%s/%s", kube_resource_prefix(r), r->api_version,
				 ns, r->plural);
	return xasprintf("%s/%s/%s", kube_resource_prefix(r), r->api_version, r->plural);
}

char *kube_object_path(json_t *obj)
{
	const char *av = json_str(obj, "apiVersion");
	const char *kind = json_str(obj, "kind");
	json_t *meta = json_object_get(obj, "metadata");
	const char *name = json_str(meta, "name");
	const char *ns = json_str(meta, "namespace");
	const struct kube_resource *r = kube_resource_find(av, kind);
	if (!r || !name || (r->namespaced && !ns))
		return NULL;
	char *coll = kube_collection_path(av, kind, r->namespaced ? ns : NULL);
	char *path = xasprintf("%s/%s", coll, name);
	free(coll);
	return path;
}

/* Percent-encode a query value (RFC 3986 unreserved characters pass). */
static char *query_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = xmalloc(strlen(s) * 3 + 1), *o = out;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

static void call_free(struct kube_call *c)
{
	free(c->line);
	free(c->method);
	free(c->url);
	free(c->content_type);
	free(c->body);
	free(c);
}

static void call_send(struct kube_call *c);

/* The first line of a text body, at most 200 characters (static). */
static const char *first_line(const char *body, size_t len)
{
	static char line[201];
	size_t n = 0;
	while (n < len && n < sizeof(line) - 1 && body[n] != '\n' && body[n] != '\r')
		n++;
	memcpy(line, body, n);
	line[n] = '\0';
	return line;
}

/* Status bodies explain failures; keep their words for the job's error. */
static void done_cb(const struct httpc_response *resp, void *arg)
{
	struct kube_call *c = arg;
	struct kube *k = c->k;
	c->http = NULL;
	if (resp->status == 401 && k->conn.exec && !c->retried) {
		/*
		 * The credential is refused: run the plugin again, unless
		 * another call's 401 already did, and send this call once more.
		 */
		if (c->cred_gen == k->cred_gen)
			k->have_cred = false;
		c->retried = true;
		call_send(c);
		return;
	}
	if (resp->status == 401 && k->conn.token_file && !c->retried) {
		/* A projected service-account token rotates: read it again, once. */
		if (reread_token(k)) {
			c->retried = true;
			call_send(c);
			return;
		}
	}
	char **warnings = kube_warnings_parse(resp->headers);
	/* Through the service proxy, a Warning header is the service's own
	 * (an Elasticsearch deprecation), passed on unchanged: said as its. */
	const char *from =
		strstr(c->url, "/proxy/") ? "the service behind the proxy" : "kubernetes";
	for (size_t i = 0; warnings && warnings[i]; i++)
		log_warn("kubernetes: %s %s: warning from %s: %s", c->method,
			 c->url + strlen(k->conn.server), from, warnings[i]);
	json_t *body = resp->body_len && !resp->too_large
			       ? json_loadb(resp->body, resp->body_len, 0, NULL)
			       : NULL;
	struct kube_result r = {
		.status = resp->status,
		.klass = resp->klass,
		.body = body,
		.message = NULL,
		.reason = "",
		.retry_after_ms = resp->retry_after_ms,
		.warnings = (const char *const *)warnings,
	};
	char *msg = NULL;
	if (resp->klass != HTTPC_OK) {
		const char *smsg = json_str(body, "message");
		const char *reason = json_str(body, "reason");
		if (reason)
			r.reason = reason;
		if (resp->too_large)
			msg = xstrdup(resp->error);
		else if (smsg)
			msg = xasprintf("%s %s: %ld %s", c->method, c->url + strlen(k->conn.server),
					resp->status, smsg);
		else if (!body && resp->body_len > 0 && resp->status > 0)
			/* Not a Status: the API server's filters answer some errors
			 * (429 from max-in-flight, say) in plain text. */
			msg = xasprintf("%s %s: %ld %s", c->method, c->url + strlen(k->conn.server),
					resp->status, first_line(resp->body, resp->body_len));
		else
			msg = xstrdup(resp->error ? resp->error : "request failed");
		r.message = msg;
	}
	c->cb(c->arg, &r);
	free(msg);
	free(warnings);
	json_decref(body);
	call_free(c);
}

/* --- exec credential plugins ------------------------------------------------------ */

static void waiting_unlink(struct kube *k, struct kube_call *c)
{
	if (c->prev_waiting)
		c->prev_waiting->next_waiting = c->next_waiting;
	else
		k->waiting_head = c->next_waiting;
	if (c->next_waiting)
		c->next_waiting->prev_waiting = c->prev_waiting;
	else
		k->waiting_tail = c->prev_waiting;
	c->next_waiting = c->prev_waiting = NULL;
	c->waits_for = 0;
}

static void http_send(struct kube_call *c);
static void exec_done_cb(void *arg, struct kube_exec_cred *cred, const char *err, bool permanent);

/*
 * c waits for the plugin's next credential: the run under way, or one
 * started now.  Every call waits for the same run, whatever their number
 * (client-go holds a mutex around its one run in the same way).
 */
static void exec_wait(struct kube_call *c)
{
	struct kube *k = c->k;

	if (!k->exec_run) {
		k->exec_runs++;
		k->exec_run = kube_exec_start(httpc_base(k->http), &k->conn, k->exec_timeout_ms,
					      exec_done_cb, k);
	}
	c->waits_for = k->exec_runs;
	c->prev_waiting = k->waiting_tail;
	c->next_waiting = NULL;
	if (k->waiting_tail)
		k->waiting_tail->next_waiting = c;
	else
		k->waiting_head = c;
	k->waiting_tail = c;
}

static void exec_done_cb(void *arg, struct kube_exec_cred *cred, const char *err, bool permanent)
{
	struct kube *k = arg;
	uint64_t run = k->exec_runs;
	struct kube_call *c;

	k->exec_run = NULL;
	if (cred) {
		kube_exec_cred_free(&k->cred);
		k->cred = *cred;
		free(cred);
		k->have_cred = true;
		k->cred_gen++;
		log_info("kubernetes: credential plugin %s gave a credential%s",
			 k->conn.exec->command,
			 k->cred.expires_wall_ms ? " until its expirationTimestamp" : "");
		/* Those that waited go with it, even one already past its expiry. */
		while ((c = k->waiting_head) && c->waits_for == run) {
			waiting_unlink(k, c);
			http_send(c);
		}
		return;
	}
	log_warn("kubernetes: %s (user \"%s\", %s)", err, k->conn.exec->user,
		 k->conn.origin ? k->conn.origin : "-");
	/* A callback may start calls (they wait for a new run) or cancel others. */
	while ((c = k->waiting_head) && c->waits_for == run) {
		struct kube_result r = {
			.status = 0,
			.klass = permanent ? HTTPC_PERMANENT : HTTPC_TRANSIENT,
			.message = err,
			.reason = "",
			.retry_after_ms = -1,
		};

		waiting_unlink(k, c);
		c->cb(c->arg, &r);
		call_free(c);
	}
}

static bool cred_fresh(const struct kube *k)
{
	return k->have_cred &&
	       (k->cred.expires_wall_ms == 0 || now_wall_ms() < k->cred.expires_wall_ms);
}

/* A watch's body: one JSON event a line (handlers/watch.go). */
static bool stream_cb(const char *data, size_t len, void *arg)
{
	struct kube_call *c = arg;
	for (size_t i = 0; i < len; i++) {
		if (data[i] != '\n') {
			if (c->line_len + 1 >= c->line_cap) {
				if (c->line_cap >= KUBE_MAX_OBJECT_BYTES) {
					log_warn("kubernetes: %s: a watch event longer than %zu "
						 "bytes; the watch is stopped",
						 c->url + strlen(c->k->conn.server),
						 (size_t)KUBE_MAX_OBJECT_BYTES);
					return false;
				}
				c->line_cap = c->line_cap ? c->line_cap * 2 : 4096;
				c->line = xrealloc(c->line, c->line_cap);
			}
			c->line[c->line_len++] = data[i];
			continue;
		}
		json_t *ev = c->line_len ? json_loadb(c->line, c->line_len, 0, NULL) : NULL;
		c->line_len = 0;
		if (ev)
			c->on_event(c->arg, ev);
		json_decref(ev);
	}
	return true;
}

static void call_send(struct kube_call *c)
{
	struct kube *k = c->k;
	if (k->conn.exec && !cred_fresh(k)) {
		exec_wait(c);
		return;
	}
	http_send(c);
}

static void http_send(struct kube_call *c)
{
	struct kube *k = c->k;
	char ctype[128];
	if (k->conn.token_file && now_mono_ms() - k->token_read_ms >= k->token_reread_ms)
		(void)reread_token(k);
	const char *headers[3] = {"Accept: application/json", NULL, NULL};
	if (c->content_type) {
		snprintf(ctype, sizeof(ctype), "Content-Type: %s", c->content_type);
		headers[1] = ctype;
	}
	struct httpc_request req = {
		.method = c->method,
		.url = c->url,
		.headers = headers,
		.body = c->body,
		.body_len = c->body ? strlen(c->body) : 0,
		.bearer_token = k->conn.exec ? k->cred.token : k->conn.token,
		.proxy = k->conn.proxy_url,
		.max_body = c->max_body,
		.max_body_for = c->max_body_for,
		/* Through a service's proxy it is the workload that answers (es/client.c). */
		.target = strstr(c->url, "/services/") && strstr(c->url, "/proxy")
				  ? HTTPC_TARGET_ES
				  : HTTPC_TARGET_KUBE,
	};
	if (c->on_event) {
		c->line_len = 0;
		req.stream = stream_cb;
		req.stream_arg = c;
		req.timeout_ms = c->timeout_ms;
	}
	kube_conn_to_tls(&k->conn, &req.tls);
	if (k->conn.exec) {
		req.tls.client_cert_pem = k->cred.client_cert_pem;
		req.tls.client_key_pem = k->cred.client_key_pem;
		c->cred_gen = k->cred_gen;
	}
	c->http = httpc_send(k->http, &req, done_cb, c);
}

struct kube_call *kube_request(struct kube *k, const char *method, const char *path,
			       const char *content_type, const char *body, kube_done_cb cb,
			       void *arg)
{
	return kube_request_capped(k, method, path, content_type, body, KUBE_MAX_OBJECT_BYTES,
				   "a Kubernetes object", cb, arg);
}

struct kube_call *kube_request_capped(struct kube *k, const char *method, const char *path,
				      const char *content_type, const char *body, size_t max_body,
				      const char *max_body_for, kube_done_cb cb, void *arg)
{
	struct kube_call *c = xcalloc(1, sizeof(*c));
	c->k = k;
	c->max_body = max_body;
	c->max_body_for = max_body_for;
	c->method = xstrdup(method);
	c->url = xasprintf("%s%s", k->conn.server, path);
	c->content_type = dup_or_null(content_type);
	c->body = dup_or_null(body);
	c->cb = cb;
	c->arg = arg;
	call_send(c);
	return c;
}

struct kube_call *kube_watch(struct kube *k, const char *path, long timeout_ms,
			     kube_event_cb on_event, kube_done_cb cb, void *arg)
{
	struct kube_call *c = xcalloc(1, sizeof(*c));
	c->k = k;
	c->max_body = KUBE_MAX_OBJECT_BYTES;
	c->max_body_for = "a Kubernetes Status";
	c->method = xstrdup("GET");
	c->url = xasprintf("%s%s", k->conn.server, path);
	c->cb = cb;
	c->arg = arg;
	c->on_event = on_event;
	c->timeout_ms = timeout_ms;
	call_send(c);
	return c;
}

void kube_cancel(struct kube_call *c)
{
	if (!c)
		return;
	if (c->waits_for)
		waiting_unlink(c->k, c);
	if (c->http)
		httpc_cancel(c->http);
	call_free(c);
}

struct kube_call *kube_apply(struct kube *k, json_t *obj, kube_done_cb cb, void *arg)
{
	char *path = kube_object_path(obj);
	if (!path)
		return NULL;
	char *full = xasprintf("%s?fieldManager=esaas&force=true", path);
	/* JSON is YAML: the apply content type takes it as it is. */
	char *body = json_dumps(obj, JSON_COMPACT);
	struct kube_call *c =
		kube_request(k, "PATCH", full, "application/apply-patch+yaml", body, cb, arg);
	free(body);
	free(full);
	free(path);
	return c;
}

struct kube_call *kube_get(struct kube *k, const char *path, kube_done_cb cb, void *arg)
{
	return kube_request(k, "GET", path, NULL, NULL, cb, arg);
}

struct kube_call *kube_list(struct kube *k, const char *path, const char *label_selector,
			    kube_done_cb cb, void *arg)
{
	if (!label_selector || !*label_selector)
		return kube_request_capped(k, "GET", path, NULL, NULL, KUBE_MAX_LIST_BYTES,
					   "a Kubernetes list", cb, arg);
	char *sel = query_escape(label_selector);
	char *full = xasprintf("%s?labelSelector=%s", path, sel);
	struct kube_call *c = kube_request_capped(k, "GET", full, NULL, NULL, KUBE_MAX_LIST_BYTES,
						  "a Kubernetes list", cb, arg);
	free(full);
	free(sel);
	return c;
}

struct kube_call *kube_delete(struct kube *k, const char *path, const char *propagation,
			      const char *uid, kube_done_cb cb, void *arg)
{
	json_t *opts = json_pack("{s:s, s:s}", "kind", "DeleteOptions", "apiVersion", "v1");
	if (propagation)
		json_object_set_new(opts, "propagationPolicy", json_string(propagation));
	if (uid)
		json_object_set_new(opts, "preconditions", json_pack("{s:s}", "uid", uid));
	char *body = json_dumps(opts, JSON_COMPACT);
	json_decref(opts);
	struct kube_call *c = kube_request(k, "DELETE", path, "application/json", body, cb, arg);
	free(body);
	return c;
}

struct kube_call *kube_scale(struct kube *k, const char *path, int replicas, kube_done_cb cb,
			     void *arg)
{
	char *full = xasprintf("%s/scale", path);
	char body[64];
	snprintf(body, sizeof(body), "{\"spec\":{\"replicas\":%d}}", replicas);
	struct kube_call *c =
		kube_request(k, "PATCH", full, "application/merge-patch+json", body, cb, arg);
	free(full);
	return c;
}
