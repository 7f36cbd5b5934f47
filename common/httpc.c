/*
 * libcurl multi under libevent.
 *
 * libcurl says, through two callbacks, which sockets it wants watched for
 * what (sock_cb) and when it wants to be woken up (timer_cb); we keep one
 * libevent event per socket and one timer, and when either fires we hand
 * it back with curl_multi_socket_action() and collect finished transfers
 * with curl_multi_info_read().
 *
 * Finished calls are not reported there and then: they go onto a queue
 * that a zero-delay timer empties on a later turn of the loop.  So no done
 * callback ever runs inside libcurl, inside httpc_send() or inside another
 * call's callback, and a callback may send, cancel or free as it likes.
 */
#include "common/httpc.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <curl/curl.h>
#include <event2/event.h>

/* <> so that common/config.h, next to this file, is not the one found. */
#include <config.h>

/* Response headers kept per call; more is a broken or hostile server. */
#define MAX_HEADER_BYTES (256 * 1024)
#define MAX_METHOD_LEN 16

enum call_state {
	CALL_RUNNING,	 /* in h->running, its easy handle in the multi */
	CALL_DONE,	 /* in h->done, waiting for delivery */
	CALL_DELIVERING, /* in neither: its callback is running */
};

struct httpc_call {
	struct httpc *h;
	TAILQ_ENTRY(httpc_call) link;
	enum call_state state;
	httpc_done_cb cb;
	void *arg;

	CURL *easy;
	struct curl_slist *req_headers;
	struct curl_slist *connect_to; /* the request's connect_to, or NULL */
	char *method;
	char *url_shown; /* the URL without user:password@, for messages */
	enum httpc_target target;
	long timeout_ms;
	size_t max_body;
	char *max_body_for; /* NULL: not said */
	int64_t started_ms;
	char errbuf[CURL_ERROR_SIZE];

	bool (*stream)(const char *data, size_t len, void *arg);
	void *stream_arg;

	char *body; /* always NUL-terminated once the call is done */
	size_t body_len;
	size_t body_cap;
	bool body_too_large;

	char **headers; /* NULL-terminated once the call is done */
	size_t nheaders;
	size_t headers_cap;
	size_t header_bytes;
	bool headers_too_large;

	char *error;
	struct httpc_response resp;
};

TAILQ_HEAD(call_list, httpc_call);

/* A socket libcurl asked us to watch. */
struct sock {
	struct httpc *h;
	curl_socket_t fd;
	struct event *ev;
	LIST_ENTRY(sock) link;
};

struct httpc {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;   /* libcurl's own timeout */
	struct event *deliver; /* empties h->done */
	struct call_list running;
	struct call_list done;
	size_t npending; /* running + done */
	LIST_HEAD(, sock) socks;
	bool delivering;
	bool dying; /* freed from inside a callback: finish after it */
};

/* libcurl's global state, set up with the first client and torn down with the last. */
static unsigned curl_users;

/*
 * The metrics of every request that ends (a cancelled one is not counted):
 * by target and status class, and its latency by target.  The series are
 * made up front, so that every one is there at 0 from the start.
 */
static const char *const target_names[] = {"other", "kube", "es"};
static const char *const status_classes[] = {"error", "1xx", "2xx", "3xx", "4xx", "5xx"};
static struct {
	struct metric_series *requests[ARRAY_SIZE(target_names)][ARRAY_SIZE(status_classes)];
	struct metric_series *duration[ARRAY_SIZE(target_names)];
} http_metrics;

static void call_finish(struct httpc_call *c, int curl_code, long status);
static void schedule_delivery(struct httpc *h);

/* --- classification ----------------------------------------------------- */

enum httpc_class httpc_classify(long status, int curl_code)
{
	switch ((CURLcode)curl_code) {
	case CURLE_OK:
		break;
	/* A setup that is wrong stays wrong: retrying cannot help. */
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_UNKNOWN_OPTION:
	case CURLE_TOO_MANY_REDIRECTS:
	case CURLE_FILESIZE_EXCEEDED:
	case CURLE_WRITE_ERROR:
	case CURLE_LOGIN_DENIED:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
		return HTTPC_PERMANENT;
	/*
	 * Resolving, connecting, resets, timeouts, a handshake cut short, a
	 * server that went away mid-answer, and whatever else the network
	 * does: worth another try, within the caller's attempt limit.
	 */
	default:
		return HTTPC_TRANSIENT;
	}

	if (status >= 200 && status <= 299)
		return HTTPC_OK;
	switch (status) {
	case 408: /* Request Timeout */
	case 409: /* Conflict: a write raced another; read again and retry */
	case 425: /* Too Early */
	case 429: /* Too Many Requests: honour Retry-After */
		return HTTPC_TRANSIENT;
	case 501: /* Not Implemented */
	case 505: /* HTTP Version Not Supported */
		return HTTPC_PERMANENT;
	default:
		break;
	}
	if (status >= 500 && status <= 599)
		return HTTPC_TRANSIENT;
	/* 4xx, redirects (never followed), 1xx and nonsense. */
	return HTTPC_PERMANENT;
}

const char *httpc_class_name(enum httpc_class klass)
{
	switch (klass) {
	case HTTPC_OK:
		return "ok";
	case HTTPC_TRANSIENT:
		return "transient";
	case HTTPC_PERMANENT:
		return "permanent";
	}
	return "unknown";
}

bool httpc_parse_retry_after(const char *value, int64_t now_wall_ms, int64_t *out_ms)
{
	int64_t secs;
	char *s;
	size_t len;
	bool ok = false;

	if (!value)
		return false;
	/* Optional whitespace around the value is part of HTTP's grammar. */
	while (*value == ' ' || *value == '\t')
		value++;
	len = strlen(value);
	while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
		len--;
	if (len == 0)
		return false;
	s = xstrndup(value, len);
	if (isdigit((unsigned char)s[0])) {
		/* delay-seconds: digits only */
		if (parse_int64(s, 0, INT64_MAX / 1000, &secs)) {
			*out_ms = secs * 1000;
			ok = true;
		}
	} else {
		/* An HTTP-date, in any of the three forms HTTP/1.1 accepts. */
		time_t t = curl_getdate(s, NULL);

		if (t >= 0 && (int64_t)t <= INT64_MAX / 1000) {
			int64_t delta = (int64_t)t * 1000 - now_wall_ms;

			*out_ms = delta > 0 ? delta : 0;
			ok = true;
		}
	}
	free(s);
	return ok;
}

const char *httpc_response_header(const struct httpc_response *resp, const char *name)
{
	size_t n = strlen(name);

	if (!resp->headers)
		return NULL;
	for (const char *const *h = resp->headers; *h; h++) {
		if (strncasecmp(*h, name, n) == 0 && (*h)[n] == ':') {
			const char *v = *h + n + 1;

			while (*v == ' ' || *v == '\t')
				v++;
			return v;
		}
	}
	return NULL;
}

/* --- the calls ------------------------------------------------------------ */

static void call_free(struct httpc_call *c)
{
	if (c->easy)
		curl_easy_cleanup(c->easy);
	curl_slist_free_all(c->req_headers);
	curl_slist_free_all(c->connect_to);
	free(c->method);
	free(c->url_shown);
	free(c->max_body_for);
	free(c->body);
	for (size_t i = 0; i < c->nheaders; i++)
		free(c->headers[i]);
	free(c->headers);
	free(c->error);
	free(c);
}

/* A copy of s with control characters as '?': messages are one line. */
static char *printable(const char *s)
{
	char *p = xstrdup(s);

	for (char *q = p; *q; q++) {
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			*q = '?';
	}
	return p;
}

/* url without its userinfo: messages end up in logs and job errors. */
static char *url_for_humans(const char *url)
{
	const char *sep = strstr(url, "://");
	const char *auth, *at;
	char *cut, *shown;
	size_t n;

	if (!sep)
		return printable(url);
	auth = sep + 3;
	n = strcspn(auth, "/?#");
	at = memrchr(auth, '@', n);
	if (!at)
		return printable(url);
	cut = xasprintf("%.*s%s", (int)(auth - url), url, at + 1);
	shown = printable(cut);

	free(cut);
	return shown;
}

static bool has_ctl(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return true;
	}
	return false;
}

static bool header_is(const char *line, const char *name)
{
	size_t n = strlen(name);

	return strncasecmp(line, name, n) == 0 && line[n] == ':';
}

static char *bad_header(const char *line)
{
	char *shown = printable(line);
	char *msg = xasprintf("bad header \"%.64s\"", shown);

	free(shown);
	return msg;
}

/*
 * What is wrong with req before anything is sent, as a new string; NULL
 * if nothing.  Control characters are refused everywhere they could split
 * a header line.
 */
static char *request_problem(const struct httpc_request *req, const char *method)
{
	size_t mlen = strlen(method);

	for (size_t i = 0; i < mlen; i++) {
		if (method[i] < 'A' || method[i] > 'Z')
			mlen = 0;
	}
	if (mlen == 0 || mlen > MAX_METHOD_LEN) {
		char *shown = printable(method);
		char *msg = xasprintf("bad method \"%.32s\"", shown);

		free(shown);
		return msg;
	}
	if (!req->url || !req->url[0])
		return xstrdup("no URL");
	if (has_ctl(req->url) || strchr(req->url, ' '))
		return xstrdup("URL has spaces or control characters");
	if (!req->body && req->body_len > 0)
		return xstrdup("body_len without a body");
	if (req->timeout_ms < 0)
		return xasprintf("negative timeout %ld ms", req->timeout_ms);
	for (const char *const *hd = req->headers; hd && *hd; hd++) {
		const char *colon = strchr(*hd, ':');

		if (!colon || colon == *hd || has_ctl(*hd))
			return bad_header(*hd);
		for (const char *p = *hd; p < colon; p++) {
			if (!isgraph((unsigned char)*p))
				return bad_header(*hd);
		}
	}
	if (req->bearer_token && (!req->bearer_token[0] || has_ctl(req->bearer_token)))
		return xstrdup("bearer token is empty or has control characters");
	if (!req->tls.client_cert_pem != !req->tls.client_key_pem)
		return xstrdup("a client certificate needs its key, and a key its certificate");
	return NULL;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct httpc_call *c = arg;
	size_t n = size * nmemb;

	if (c->stream) {
		long status = 0;

		curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status < 300)
			return c->stream(data, n, c->stream_arg) ? n : 0;
	}
	if (n > c->max_body - c->body_len) {
		c->body_too_large = true;
		return 0; /* libcurl stops with CURLE_WRITE_ERROR */
	}
	if (c->body_len + n + 1 > c->body_cap) {
		size_t cap = c->body_cap ? c->body_cap : 4096;

		while (cap < c->body_len + n + 1)
			cap *= 2;
		c->body = xrealloc(c->body, cap);
		c->body_cap = cap;
	}
	memcpy(c->body + c->body_len, data, n);
	c->body_len += n;
	return n;
}

static void clear_headers(struct httpc_call *c)
{
	for (size_t i = 0; i < c->nheaders; i++)
		free(c->headers[i]);
	c->nheaders = 0;
}

/* One header line at a time, status lines included, CRLF still on. */
static size_t header_cb(char *data, size_t size, size_t nitems, void *arg)
{
	struct httpc_call *c = arg;
	size_t n = size * nitems;
	size_t len = n;

	c->header_bytes += n;
	if (c->header_bytes > MAX_HEADER_BYTES) {
		c->headers_too_large = true;
		return 0;
	}
	/* A status line starts a response: a 100 Continue's headers are not the answer's. */
	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		clear_headers(c);
		return n;
	}
	while (len > 0 && (data[len - 1] == '\r' || data[len - 1] == '\n'))
		len--;
	if (len == 0 || !memchr(data, ':', len))
		return n;
	if (c->nheaders + 2 > c->headers_cap) {
		c->headers_cap = c->headers_cap ? c->headers_cap * 2 : 16;
		c->headers = xrealloc(c->headers, c->headers_cap * sizeof(*c->headers));
	}
	c->headers[c->nheaders++] = xstrndup(data, len);
	return n;
}

/* curl_slist_append() that cannot fail, like xmalloc(). */
static void header_add(struct httpc_call *c, const char *line)
{
	struct curl_slist *l = curl_slist_append(c->req_headers, line);

	if (!l) {
		fprintf(stderr, "esaas: out of memory adding a request header\n");
		abort();
	}
	c->req_headers = l;
}

/* Set up c->easy for req; false with *why (static text) if libcurl refuses. */
static bool call_setup(struct httpc_call *c, const struct httpc_request *req, const char **why)
{
	CURL *e = c->easy;
	CURLcode rc = CURLE_OK;
	bool has_ctype = false;

#define SET(opt, val)                                       \
	do {                                                \
		if (rc == CURLE_OK)                         \
			rc = curl_easy_setopt(e, opt, val); \
	} while (0)

	SET(CURLOPT_PRIVATE, c);
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_ERRORBUFFER, c->errbuf);
	SET(CURLOPT_TIMEOUT_MS, c->timeout_ms);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_ACCEPT_ENCODING, "");
	SET(CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_body);
	SET(CURLOPT_WRITEFUNCTION, write_cb);
	SET(CURLOPT_WRITEDATA, c);
	SET(CURLOPT_HEADERFUNCTION, header_cb);
	SET(CURLOPT_HEADERDATA, c);
	if (req->proxy)
		SET(CURLOPT_PROXY, req->proxy);
	if (req->connect_to) {
		/* Any host and port of the URL: the URL still names the server
		 * (Host, TLS server name, the certificate's check). */
		char *entry = xasprintf("::%s", req->connect_to);
		c->connect_to = curl_slist_append(NULL, entry);
		free(entry);
		SET(CURLOPT_CONNECT_TO, c->connect_to);
	}
	if (rc != CURLE_OK) {
		*why = curl_easy_strerror(rc);
		return false;
	}

	if (req->body) {
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		SET(CURLOPT_COPYPOSTFIELDS, req->body);
		if (strcmp(c->method, "POST") != 0)
			SET(CURLOPT_CUSTOMREQUEST, c->method);
	} else if (strcmp(c->method, "GET") == 0) {
		SET(CURLOPT_HTTPGET, 1L);
	} else if (strcmp(c->method, "HEAD") == 0) {
		SET(CURLOPT_NOBODY, 1L);
	} else if (strcmp(c->method, "POST") == 0) {
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
		SET(CURLOPT_COPYPOSTFIELDS, "");
	} else {
		SET(CURLOPT_CUSTOMREQUEST, c->method);
	}
	if (rc != CURLE_OK) {
		*why = curl_easy_strerror(rc);
		return false;
	}

	for (const char *const *hd = req->headers; hd && *hd; hd++) {
		header_add(c, *hd);
		if (header_is(*hd, "Content-Type"))
			has_ctype = true;
	}
	if (req->body && !has_ctype)
		header_add(c, "Content-Type: application/json");
	header_add(c, "Expect:");
	if (req->bearer_token) {
		char *auth = xasprintf("Authorization: Bearer %s", req->bearer_token);

		header_add(c, auth);
		free(auth);
	}
	SET(CURLOPT_HTTPHEADER, c->req_headers);

	if (req->tls.insecure_skip_verify) {
		SET(CURLOPT_SSL_VERIFYPEER, 0L);
		SET(CURLOPT_SSL_VERIFYHOST, 0L);
	} else {
		SET(CURLOPT_SSL_VERIFYPEER, 1L);
		SET(CURLOPT_SSL_VERIFYHOST, 2L);
	}
	if (req->tls.ca_pem) {
		struct curl_blob blob = {
			.data = (void *)req->tls.ca_pem,
			.len = strlen(req->tls.ca_pem),
			.flags = CURL_BLOB_COPY,
		};

		SET(CURLOPT_CAINFO_BLOB, &blob);
		/* Only the given CA: not the system's directory as well. */
		SET(CURLOPT_CAPATH, (char *)NULL);
	} else if (req->tls.ca_file) {
		SET(CURLOPT_CAINFO, req->tls.ca_file);
		SET(CURLOPT_CAPATH, (char *)NULL);
	}
	if (req->tls.client_cert_pem) {
		struct curl_blob cert = {
			.data = (void *)req->tls.client_cert_pem,
			.len = strlen(req->tls.client_cert_pem),
			.flags = CURL_BLOB_COPY,
		};
		struct curl_blob key = {
			.data = (void *)req->tls.client_key_pem,
			.len = strlen(req->tls.client_key_pem),
			.flags = CURL_BLOB_COPY,
		};

		SET(CURLOPT_SSLCERT_BLOB, &cert);
		SET(CURLOPT_SSLCERTTYPE, "PEM");
		SET(CURLOPT_SSLKEY_BLOB, &key);
		SET(CURLOPT_SSLKEYTYPE, "PEM");
	}
#undef SET
	if (rc != CURLE_OK) {
		*why = curl_easy_strerror(rc);
		return false;
	}
	return true;
}

struct httpc_call *httpc_send(struct httpc *h, const struct httpc_request *req, httpc_done_cb cb,
			      void *arg)
{
	struct httpc_call *c = xcalloc(1, sizeof(*c));
	const char *method = req->method ? req->method : "GET";
	char *problem;
	const char *why = NULL;
	CURLMcode mrc;

	c->h = h;
	c->cb = cb;
	c->arg = arg;
	c->started_ms = now_mono_ms();
	c->method = printable(method);
	c->url_shown = url_for_humans(req->url ? req->url : "");
	c->target = req->target < ARRAY_SIZE(target_names) ? req->target : HTTPC_TARGET_OTHER;
	c->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : HTTPC_DEFAULT_TIMEOUT_MS;
	c->max_body = req->max_body > 0 ? req->max_body : HTTPC_DEFAULT_MAX_BODY;
	c->max_body_for = req->max_body_for ? xstrdup(req->max_body_for) : NULL;
	c->stream = req->stream;
	c->stream_arg = req->stream_arg;
	h->npending++;

	problem = request_problem(req, method);
	if (problem) {
		c->error = xasprintf("%s %s: refused before sending: %s", c->method, c->url_shown,
				     problem);
		free(problem);
		goto refused;
	}
	c->easy = curl_easy_init();
	if (!c->easy) {
		why = "cannot create a libcurl handle";
		goto failed;
	}
	if (!call_setup(c, req, &why))
		goto failed;
	mrc = curl_multi_add_handle(h->multi, c->easy);
	if (mrc != CURLM_OK) {
		why = curl_multi_strerror(mrc);
		goto failed;
	}
	c->state = CALL_RUNNING;
	TAILQ_INSERT_TAIL(&h->running, c, link);
	return c;

failed:
	c->error = xasprintf("%s %s: refused before sending: %s", c->method, c->url_shown, why);
refused:
	/* Through the queue like any other end: the callback never runs in here. */
	call_finish(c, CURLE_BAD_FUNCTION_ARGUMENT, 0);
	return c;
}

void httpc_cancel(struct httpc_call *c)
{
	struct httpc *h;

	if (!c)
		return;
	h = c->h;
	switch (c->state) {
	case CALL_RUNNING:
		TAILQ_REMOVE(&h->running, c, link);
		curl_multi_remove_handle(h->multi, c->easy);
		break;
	case CALL_DONE:
		TAILQ_REMOVE(&h->done, c, link);
		break;
	case CALL_DELIVERING:
		/* Its callback is running; the call is freed when it returns. */
		return;
	}
	h->npending--;
	call_free(c);
}

size_t httpc_pending(const struct httpc *h)
{
	return h->npending;
}

/* A short name for what went wrong, before libcurl's own words. */
static const char *failure_summary(CURLcode code)
{
	switch (code) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return "cannot resolve host";
	case CURLE_COULDNT_CONNECT:
		return "cannot connect";
	case CURLE_OPERATION_TIMEDOUT:
		return "timed out";
	case CURLE_PEER_FAILED_VERIFICATION:
		return "server certificate not trusted";
	case CURLE_SSL_CONNECT_ERROR:
		return "TLS handshake failed";
	case CURLE_SSL_CERTPROBLEM:
		return "client certificate or key unusable";
	case CURLE_SSL_CACERT_BADFILE:
		return "CA certificates unusable";
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return "connection lost";
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return "bad URL";
	default:
		return "request failed";
	}
}

/* "error" when no HTTP status came back (refused, network, timeout), else "2xx" and so on. */
static size_t status_class(long status)
{
	return status >= 100 && status <= 599 ? (size_t)(status / 100) : 0;
}

static void count_request(const struct httpc_call *c)
{
	if (!http_metrics.duration[c->target])
		return;
	metrics_inc(http_metrics.requests[c->target][status_class(c->resp.status)]);
	metrics_observe(http_metrics.duration[c->target], (double)c->resp.elapsed_ms / 1000.0);
}

/* Fill c->resp from what came back, and queue c for delivery. */
static void call_finish(struct httpc_call *c, int curl_code, long status)
{
	struct httpc *h = c->h;
	const char *ra;

	if (!c->body)
		c->body = xstrdup("");
	else
		c->body[c->body_len] = '\0';
	if (c->headers_cap == 0)
		c->headers = xcalloc(1, sizeof(*c->headers));
	c->headers[c->nheaders] = NULL;

	c->resp.status = status;
	c->resp.body = c->body;
	c->resp.body_len = c->body_len;
	c->resp.headers = (const char *const *)c->headers;
	c->resp.content_type = httpc_response_header(&c->resp, "Content-Type");
	c->resp.retry_after_ms = -1;
	ra = httpc_response_header(&c->resp, "Retry-After");
	if (ra && !httpc_parse_retry_after(ra, now_wall_ms(), &c->resp.retry_after_ms))
		c->resp.retry_after_ms = -1;
	c->resp.curl_code = curl_code;
	c->resp.klass = httpc_classify(status, curl_code);
	c->resp.elapsed_ms = now_mono_ms() - c->started_ms;

	if (c->error) {
		/* Refused before sending: the message is already written. */
	} else if (c->body_too_large || curl_code == CURLE_FILESIZE_EXCEEDED) {
		/* What was read is a fragment: nobody should parse it. */
		c->resp.too_large = true;
		c->body[0] = '\0';
		c->resp.body_len = 0;
		if (c->max_body_for)
			c->error =
				xasprintf("%s %s: response body larger than %zu bytes, the cap for "
					  "%s; not read further",
					  c->method, c->url_shown, c->max_body, c->max_body_for);
		else
			c->error = xasprintf("%s %s: response body larger than %zu bytes",
					     c->method, c->url_shown, c->max_body);
	} else if (c->headers_too_large) {
		c->error = xasprintf("%s %s: response headers larger than %d bytes", c->method,
				     c->url_shown, MAX_HEADER_BYTES);
	} else if (curl_code == CURLE_OPERATION_TIMEDOUT) {
		if (status)
			c->error = xasprintf("%s %s: timed out after %ld ms, during HTTP %ld",
					     c->method, c->url_shown, c->timeout_ms, status);
		else
			c->error = xasprintf("%s %s: timed out after %ld ms, no response",
					     c->method, c->url_shown, c->timeout_ms);
	} else if (curl_code != CURLE_OK) {
		c->error = xasprintf("%s %s: %s: %s", c->method, c->url_shown,
				     failure_summary((CURLcode)curl_code),
				     c->errbuf[0] ? c->errbuf
						  : curl_easy_strerror((CURLcode)curl_code));
	} else if (c->resp.klass != HTTPC_OK) {
		c->error = xasprintf("%s %s: HTTP %ld", c->method, c->url_shown, status);
	}
	c->resp.error = c->error;
	count_request(c);

	c->state = CALL_DONE;
	TAILQ_INSERT_TAIL(&h->done, c, link);
	schedule_delivery(h);
}

/* --- delivery --------------------------------------------------------- */

static void schedule_delivery(struct httpc *h)
{
	static const struct timeval now = {0, 0};

	if (!evtimer_pending(h->deliver, NULL))
		evtimer_add(h->deliver, &now);
}

static void destroy(struct httpc *h);

static void deliver_cb(evutil_socket_t fd, short what, void *arg)
{
	struct httpc *h = arg;
	struct httpc_call *c;
	size_t n = 0;

	/*
	 * Only what was done when this turn began: a callback that sends a
	 * request which fails at once gets its answer on a later turn, so the
	 * loop keeps polling in between.
	 */
	TAILQ_FOREACH (c, &h->done, link)
		n++;
	h->delivering = true;
	while (n-- > 0 && !h->dying && (c = TAILQ_FIRST(&h->done)) != NULL) {
		TAILQ_REMOVE(&h->done, c, link);
		h->npending--;
		c->state = CALL_DELIVERING;
		c->cb(&c->resp, c->arg);
		call_free(c);
	}
	h->delivering = false;
	if (h->dying) {
		destroy(h);
		return;
	}
	if (!TAILQ_EMPTY(&h->done))
		schedule_delivery(h);
}

/* Collect what libcurl has finished. */
static void check_multi_info(struct httpc *h)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
		struct httpc_call *c;
		char *priv = NULL;
		long status = 0;
		CURLcode code;

		if (msg->msg != CURLMSG_DONE)
			continue;
		/* msg belongs to libcurl and dies with the removal: read it first. */
		code = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
		c = (struct httpc_call *)priv;
		TAILQ_REMOVE(&h->running, c, link);
		curl_multi_remove_handle(h->multi, c->easy);
		call_finish(c, code, status);
	}
}

/* --- libcurl's sockets and timer ------------------------------------------ */

static void socket_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sock *sk = arg;
	struct httpc *h = sk->h; /* sk may be gone after the action */
	int flags = 0;
	int running;
	CURLMcode rc;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	rc = curl_multi_socket_action(h->multi, fd, flags, &running);
	if (rc != CURLM_OK)
		log_warn("httpc: socket action: %s", curl_multi_strerror(rc));
	check_multi_info(h);
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct httpc *h = arg;
	int running;
	CURLMcode rc;

	rc = curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	if (rc != CURLM_OK)
		log_warn("httpc: timeout action: %s", curl_multi_strerror(rc));
	check_multi_info(h);
}

static void sock_free(struct sock *sk)
{
	event_free(sk->ev);
	LIST_REMOVE(sk, link);
	free(sk);
}

/* CURLMOPT_SOCKETFUNCTION: watch s for what libcurl wants, or stop. */
static int sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct httpc *h = userp;
	struct sock *sk = socketp;
	short kind = EV_PERSIST;

	if (what == CURL_POLL_REMOVE) {
		if (sk)
			sock_free(sk);
		return 0;
	}
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (!sk) {
		sk = xcalloc(1, sizeof(*sk));
		sk->h = h;
		sk->fd = s;
		sk->ev = event_new(h->base, s, kind, socket_event_cb, sk);
		if (!sk->ev) {
			free(sk);
			return -1;
		}
		LIST_INSERT_HEAD(&h->socks, sk, link);
		curl_multi_assign(h->multi, s, sk);
	} else {
		event_del(sk->ev);
		event_assign(sk->ev, h->base, s, kind, socket_event_cb, sk);
	}
	event_add(sk->ev, NULL);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: one timer, moved wherever libcurl says. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct httpc *h = userp;
	struct timeval tv;

	if (timeout_ms < 0) {
		evtimer_del(h->timer);
		return 0;
	}
	/* Even 0 goes through the loop: libcurl must not be re-entered from here. */
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(h->timer, &tv);
	return 0;
}

/* --- the client ------------------------------------------------------------ */

static void metrics_setup(void)
{
	static const char *const labels[] = {"target", "class", NULL};
	static const char *const tlabels[] = {"target", NULL};
	struct metrics *reg = metrics_default();
	struct metric *requests = metrics_counter(
		reg, "esaas_http_client_requests_total",
		"Requests to Kubernetes (kube) and Elasticsearch (es) that ended, by status class "
		"(error: no HTTP status, as for a refused connection or a timeout).",
		labels);
	struct metric *duration =
		metrics_histogram(reg, "esaas_http_client_request_duration_seconds",
				  "Time from sending a request to its end, by target.", tlabels,
				  metrics_latency_buckets, metrics_latency_nbuckets);

	for (size_t t = 0; t < ARRAY_SIZE(target_names); t++) {
		const char *tv[] = {target_names[t]};

		for (size_t k = 0; k < ARRAY_SIZE(status_classes); k++) {
			const char *v[] = {target_names[t], status_classes[k]};

			http_metrics.requests[t][k] = metrics_series(requests, v);
		}
		http_metrics.duration[t] = metrics_series(duration, tv);
	}
}

struct event_base *httpc_base(const struct httpc *h)
{
	return h->base;
}

struct httpc *httpc_new(struct event_base *base)
{
	struct httpc *h;
	CURLcode rc;

	metrics_setup();

	if (curl_users == 0) {
		rc = curl_global_init(CURL_GLOBAL_DEFAULT);
		if (rc != CURLE_OK) {
			log_error("httpc: cannot set up libcurl: %s", curl_easy_strerror(rc));
			return NULL;
		}
	}
	curl_users++;

	h = xcalloc(1, sizeof(*h));
	h->base = base;
	TAILQ_INIT(&h->running);
	TAILQ_INIT(&h->done);
	LIST_INIT(&h->socks);
	h->multi = curl_multi_init();
	h->timer = evtimer_new(base, timeout_cb, h);
	h->deliver = evtimer_new(base, deliver_cb, h);
	if (!h->multi || !h->timer || !h->deliver) {
		log_error("httpc: cannot create the libcurl multi handle or its events");
		destroy(h);
		return NULL;
	}
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	return h;
}

/* Free h and whatever is left in it; no call may be running. */
static void destroy(struct httpc *h)
{
	struct sock *sk;

	/* Cleanup closes cached connections, which may still call sock_cb. */
	if (h->multi)
		curl_multi_cleanup(h->multi);
	while ((sk = LIST_FIRST(&h->socks)) != NULL)
		sock_free(sk);
	if (h->timer)
		event_free(h->timer);
	if (h->deliver)
		event_free(h->deliver);
	free(h);
	if (--curl_users == 0)
		curl_global_cleanup();
}

void httpc_free(struct httpc *h)
{
	struct httpc_call *c;

	if (!h)
		return;
	while ((c = TAILQ_FIRST(&h->running)) != NULL)
		httpc_cancel(c);
	while ((c = TAILQ_FIRST(&h->done)) != NULL)
		httpc_cancel(c);
	if (h->delivering) {
		/* Called from a done callback: deliver_cb finishes the job. */
		h->dying = true;
		return;
	}
	destroy(h);
}
