/*
 * Webhooks: events (a job failed, a cluster's health changed) posted as
 * JSON to one configured URL, on the event loop, with retries.
 *
 * webhook_post() copies the event into a queue and returns at once; the
 * queue is delivered through the HTTP client (common/httpc.h), a few
 * requests at a time, each attempt bounded by its timeout, so a receiver
 * that is slow, down or hanging holds up nothing but its own events.
 *
 * An attempt that fails in a way worth retrying (the network, a timeout,
 * 408, 429, 5xx...: httpc_classify()) is tried again after a delay drawn
 * with full jitter from an exponential ceiling, or after the receiver's
 * Retry-After when that is longer, up to max_attempts attempts in all; a
 * permanent refusal (another 4xx) is not retried.  Either end is logged
 * with the event's kind, its event_id and what it is about.  Delivery is at
 * least once: an attempt whose answer is lost is sent again, so receivers
 * should recognise the event_id (also sent as the X-Esaas-Event-Id header).
 *
 * The queue is bounded: past queue_limit events not yet delivered, the
 * oldest are dropped, counted and logged.  webhook_free() drops whatever is
 * still pending and says how many.
 *
 * Every event gets an "event_id" (16 hex characters) unless it has one.
 * The URL may carry a secret (many receivers put one in the path): logs
 * show only its scheme, host and port; the bearer token is never logged.
 *
 * Metrics (the process's default registry):
 *   esaas_webhook_deliveries_total{result="ok"}       delivered (2xx)
 *   esaas_webhook_deliveries_total{result="retry"}    an attempt failed, another follows
 *   esaas_webhook_deliveries_total{result="failed"}   given up: attempts exhausted, or refused
 *   esaas_webhook_deliveries_total{result="dropped"}  never delivered: queue full, or shutdown
 */
#ifndef ESAAS_WEBHOOK_H
#define ESAAS_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct event_base;
struct httpc;
struct webhook;

#define WEBHOOK_DEFAULT_IN_FLIGHT 4
#define WEBHOOK_DEFAULT_MAX_BODY ((size_t)64 * 1024)
/* A Retry-After longer than this is read as this: an hour is already long. */
#define WEBHOOK_RETRY_AFTER_MAX_MS (3600 * 1000LL)

/* Every pointer is borrowed for the duration of webhook_new() only. */
struct webhook_options {
	const char *url;	  /* http:// or https:// */
	const char *bearer_token; /* "Authorization: Bearer ..."; NULL: none */
	long timeout_ms;	  /* of one attempt */
	int max_attempts;	  /* attempts in all, the first included; >= 1 */
	int queue_limit;	  /* events not yet delivered; >= 1 */
	int64_t backoff_base_ms;  /* the ceiling of the first retry's delay */
	int64_t backoff_cap_ms;	  /* the ceiling never grows past this */
	int in_flight;		  /* requests at once; 0: WEBHOOK_DEFAULT_IN_FLIGHT */
	/* The largest body posted: longer strings of an event are cut, each
	 * with a note (json_bound()); below 1024: WEBHOOK_DEFAULT_MAX_BODY. */
	size_t max_body;
};

/* This webhook's counts since webhook_new(), the same as its metrics. */
struct webhook_stats {
	unsigned long long ok, retry, failed, dropped;
	size_t pending;	  /* posted and neither delivered, given up nor dropped */
	size_t in_flight; /* of them, with a request out now */
};

/*
 * A webhook posting to opt->url through http (which must outlive it).
 * NULL, with one line in err, when the options are unusable (a URL that is
 * not http or https, or with spaces in it).
 */
struct webhook *webhook_new(struct event_base *base, struct httpc *http,
			    const struct webhook_options *opt, char *err, size_t errlen);

/*
 * Queue event (borrowed: it is copied), an object with a string "kind".
 * Returns at once; never runs a callback.  Safe from any callback on the
 * loop, and after the loop has ended (the event is then dropped by
 * webhook_free()).
 */
void webhook_post(struct webhook *wh, const json_t *event);

/* Stop: cancel what is in flight, drop and count what is pending.  NULL is fine. */
void webhook_free(struct webhook *wh);

void webhook_stats(const struct webhook *wh, struct webhook_stats *out);

/*
 * The delay before attempt + 1, after attempt (1-based) failed: drawn with
 * full jitter from [0, min(cap, base * 2^(attempt-1))] (draw is a uniform
 * random number, reduced modulo the range), or retry_after_ms when that is
 * longer (negative: the receiver gave none; at most
 * WEBHOOK_RETRY_AFTER_MAX_MS).
 */
int64_t webhook_backoff_ms(int64_t base_ms, int64_t cap_ms, int attempt, int64_t retry_after_ms,
			   uint64_t draw);

/* Is url one webhook_new() takes: http or https, with a host, without spaces? */
bool webhook_url_ok(const char *url);

/* scheme://host[:port] of url without its userinfo, path and query, for logs (free it). */
char *webhook_url_for_logs(const char *url);

#endif
