/*
 * The one HTTP client: libcurl's multi interface driven by the libevent
 * loop.  Nothing here blocks: connecting, TLS, sending and receiving all
 * happen as the loop hands sockets and timers to libcurl, so one request
 * that hangs holds up nothing but itself (and ends at its timeout).
 *
 * Lifetime of a call.  httpc_send() copies everything it needs from the
 * request (the caller may free or reuse it at once) and returns a handle.
 * The done callback then runs exactly once, always from the event loop and
 * never from inside httpc_send(), even for a request refused before it
 * went out (a malformed header, an unsupported scheme).  The handle is
 * valid until the callback starts; after that the call is freed and the
 * handle must not be used.  httpc_cancel() before that point stops the
 * call: the callback never runs.  httpc_free() cancels every call still
 * pending, silently.
 *
 * From inside a done callback it is fine to send new requests, cancel
 * other calls, and free the client (the calls still pending are then
 * cancelled; nothing may use the client afterwards).
 *
 * What goes out: no redirects are followed; only http and https; gzip and
 * the other encodings libcurl knows are accepted; "Expect: 100-continue" is
 * never sent; a body without a Content-Type header goes out as
 * application/json.  Proxies: req->proxy, or libcurl's usual environment
 * variables (https_proxy, no_proxy, ...) when it is NULL.
 *
 * TLS: the server's certificate is verified unless insecure_skip_verify
 * says otherwise.  With ca_pem or ca_file, only those certificates are
 * trusted (as kubectl does with a cluster's CA); without, the system's.
 *
 * Writing to a peer that has gone raises SIGPIPE: the process must ignore
 * it (signal(SIGPIPE, SIG_IGN)).  One client per event loop; the module is
 * not meant to be used from several threads.
 */
#ifndef ESAAS_HTTPC_H
#define ESAAS_HTTPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

struct event_base;
struct httpc;
struct httpc_call;

#define HTTPC_DEFAULT_TIMEOUT_MS 30000L
#define HTTPC_DEFAULT_MAX_BODY ((size_t)64 * 1024 * 1024)

/* Every pointer is borrowed for the duration of httpc_send() only. */
struct httpc_tls {
	const char *ca_pem;	     /* PEM certificates to trust; wins over ca_file */
	const char *ca_file;	     /* a PEM file of certificates to trust */
	const char *client_cert_pem; /* client certificate (with its key below) */
	const char *client_key_pem;
	bool insecure_skip_verify; /* no verification of the server at all */
};

/*
 * Whom a request is for, as the metrics count it (request totals by status
 * class, latency histograms).  A fixed set keeps the label's values few;
 * the zero value is "other", so untagged requests are counted too.
 */
enum httpc_target {
	HTTPC_TARGET_OTHER,
	HTTPC_TARGET_KUBE,
	HTTPC_TARGET_ES,
};

struct httpc_request {
	const char *method;	    /* "GET", "PATCH", ...: NULL means GET */
	const char *url;	    /* http:// or https:// */
	const char *const *headers; /* "Name: value" strings, NULL-terminated; or NULL */
	const char *body;	    /* NULL: no body */
	size_t body_len;
	const char *bearer_token; /* sent as "Authorization: Bearer ..."; or NULL */
	long timeout_ms;	  /* the whole request; 0: HTTPC_DEFAULT_TIMEOUT_MS */
	size_t max_body;	  /* a bigger response is an error; 0: HTTPC_DEFAULT_MAX_BODY */
	const char
		*max_body_for; /* what the cap is for, in its error ("a cluster health"); or NULL */
	const char *proxy;     /* "http://host:port", "socks5://..."; NULL: environment */
	const char
		*connect_to; /* "HOST:PORT" to connect to instead of the URL's; NULL: the URL's */
	struct httpc_tls tls;
	enum httpc_target target; /* for the metrics only */
	/*
	 * A stream (a Kubernetes watch): each piece of a 2xx answer's body is
	 * handed to stream as it arrives and not kept, so the done callback
	 * gets an empty body; other answers are kept whole as usual.  From
	 * inside stream nothing may cancel this call or free the client;
	 * returning false stops the call (it ends as a failed write).
	 */
	bool (*stream)(const char *data, size_t len, void *arg);
	void *stream_arg;
};

/*
 * What a caller should do about an outcome.  httpc_classify() decides it
 * once for everybody; a caller with its own reading of a status looks at
 * resp->status before resp->klass (a delete that answers 404 is done, a
 * create that answers 409 is a conflict to read, not to retry).
 */
enum httpc_class {
	HTTPC_OK,	 /* 2xx */
	HTTPC_TRANSIENT, /* worth retrying: network, timeout, 408, 409, 425, 429, 5xx */
	HTTPC_PERMANENT, /* retrying will not help: other 4xx, TLS trust, bad request */
};

/*
 * Handed to the done callback; everything in it lives until the callback
 * returns: copy what is needed beyond.
 */
struct httpc_response {
	long status;	  /* HTTP status, 0 if none was received */
	const char *body; /* never NULL; NUL-terminated (body_len excludes it) */
	size_t body_len;
	const char *const *headers; /* of the final response, "Name: value", NULL-terminated */
	const char *content_type;   /* the Content-Type value, or NULL */
	int64_t retry_after_ms;	    /* from Retry-After; -1 when absent or unreadable */
	enum httpc_class klass;
	/*
	 * NULL when klass is HTTPC_OK; otherwise one line for a human:
	 * "GET https://10.0.0.1:6443/api: cannot connect: Failed to connect ..."
	 * or "GET https://...: HTTP 503".
	 */
	const char *error;
	/*
	 * The response went past max_body: it was not read further, body is
	 * empty, and error names the cap.
	 */
	bool too_large;
	int curl_code;	    /* 0, or libcurl's CURLcode (for logs and tests) */
	int64_t elapsed_ms; /* from httpc_send() to the end */
};

typedef void (*httpc_done_cb)(const struct httpc_response *resp, void *arg);

/* A client on base; NULL (logged) if libcurl cannot be set up. */
struct httpc *httpc_new(struct event_base *base);

/* The loop h runs on (for what works beside its calls). */
struct event_base *httpc_base(const struct httpc *h);

/* Cancel every pending call (no callback runs) and free the client.  NULL is fine. */
void httpc_free(struct httpc *h);

/*
 * Start req.  Never returns NULL and never calls cb before returning: see
 * "Lifetime of a call" above.
 */
struct httpc_call *httpc_send(struct httpc *h, const struct httpc_request *req, httpc_done_cb cb,
			      void *arg);

/* Stop a call whose callback has not started; it never runs.  NULL is fine. */
void httpc_cancel(struct httpc_call *call);

/* Calls sent and neither finished, delivered nor cancelled. */
size_t httpc_pending(const struct httpc *h);

/* The value of the first header called name (any case) in resp, or NULL. */
const char *httpc_response_header(const struct httpc_response *resp, const char *name);

/* The class of an outcome: status is the HTTP status (0: none), curl_code a CURLcode. */
enum httpc_class httpc_classify(long status, int curl_code);
const char *httpc_class_name(enum httpc_class klass);

/*
 * A Retry-After value, delay-seconds or an HTTP-date, as milliseconds from
 * now_wall_ms (a date in the past is 0).  False for anything else.
 */
bool httpc_parse_retry_after(const char *value, int64_t now_wall_ms, int64_t *out_ms) MUST_CHECK;

#endif
