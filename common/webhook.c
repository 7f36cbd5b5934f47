/*
 * Webhook delivery.
 *
 * Every event posted is a delivery: its body serialised once, then sent
 * as many times as it takes.  A delivery is in one of three places: ready
 * (waiting for a free slot), sending (its request out), or backing off
 * (its timer armed).  All of them are also on one list in the order they
 * were posted, which is the order the queue limit drops them in.
 */
#include "common/webhook.h"
#include "common/httpc.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"
#include "common/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <event2/event.h>

/* A receiver's answer is not read; a big one is cut short. */
#define RESPONSE_MAX_BYTES (64 * 1024)
/* Of a refusal's body, this much goes into the log line. */
#define REFUSAL_SHOWN 200
/* Drops past the first are summed up in one warning at most this often. */
#define DROP_WARN_MS 10000
#define EVENT_ID_BYTES 8

enum delivery_state {
	DELIVERY_READY,
	DELIVERY_SENDING,
	DELIVERY_BACKOFF,
};

struct delivery {
	struct webhook *wh;
	TAILQ_ENTRY(delivery) all;   /* every pending delivery, oldest first */
	TAILQ_ENTRY(delivery) ready; /* while DELIVERY_READY */
	enum delivery_state state;
	char *body;
	size_t body_len;
	char *kind, *event_id;
	char *about;  /* "job 42", "cluster acme/logs", or "" */
	int attempts; /* sent so far */
	int64_t posted_mono;
	struct httpc_call *call; /* while DELIVERY_SENDING */
	struct event *timer;	 /* the backoff */
};

TAILQ_HEAD(delivery_list, delivery);

struct webhook {
	struct event_base *base;
	struct httpc *http;
	char *url;
	char *url_shown;
	char *bearer_token;
	long timeout_ms;
	int max_attempts;
	size_t queue_limit;
	int64_t base_ms, cap_ms;
	size_t in_flight_max;
	size_t max_body;

	struct delivery_list all, ready;
	struct webhook_stats stats;

	size_t drops_unreported;
	int64_t drop_warned_mono; /* 0: never */
};

enum result {
	RESULT_OK,
	RESULT_RETRY,
	RESULT_FAILED,
	RESULT_DROPPED,
};

static const char *const result_names[] = {"ok", "retry", "failed", "dropped"};
static struct metric_series *result_series[ARRAY_SIZE(result_names)];

static void pump(struct webhook *wh);

/* --- pure parts ------------------------------------------------------------ */

int64_t webhook_backoff_ms(int64_t base_ms, int64_t cap_ms, int attempt, int64_t retry_after_ms,
			   uint64_t draw)
{
	int64_t ceiling = base_ms > 0 ? base_ms : 0;
	int64_t delay;

	if (cap_ms < 0)
		cap_ms = 0;
	/* Double without overflowing: stop as soon as the cap is reached. */
	for (int i = 1; i < attempt && ceiling > 0 && ceiling < cap_ms; i++)
		ceiling = ceiling > cap_ms / 2 ? cap_ms : ceiling * 2;
	if (ceiling > cap_ms)
		ceiling = cap_ms;
	delay = ceiling > 0 ? (int64_t)(draw % ((uint64_t)ceiling + 1)) : 0;
	if (retry_after_ms > WEBHOOK_RETRY_AFTER_MAX_MS)
		retry_after_ms = WEBHOOK_RETRY_AFTER_MAX_MS;
	return retry_after_ms > delay ? retry_after_ms : delay;
}

char *webhook_url_for_logs(const char *url)
{
	const char *sep = strstr(url, "://");
	const char *auth, *at;
	size_t n;

	if (!sep)
		return xstrdup("(not a URL)");
	auth = sep + 3;
	n = strcspn(auth, "/?#");
	at = memrchr(auth, '@', n);
	if (at) {
		n -= (size_t)(at + 1 - auth);
		auth = at + 1;
	}
	return xasprintf("%.*s%.*s", (int)(sep + 3 - url), url, (int)n, auth);
}

/* --- metrics --------------------------------------------------------------------- */

static void metrics_setup(void)
{
	static const char *const labels[] = {"result", NULL};
	struct metric *m = metrics_counter(
		metrics_default(), "esaas_webhook_deliveries_total",
		"Webhook events by how their attempts ended: ok (delivered), retry (an attempt "
		"failed, another follows), failed (given up: attempts exhausted or refused), "
		"dropped (never delivered: the queue was full, or esaasd stopped).",
		labels);

	for (size_t i = 0; i < ARRAY_SIZE(result_names); i++) {
		const char *v[] = {result_names[i]};

		result_series[i] = metrics_series(m, v);
	}
}

static void count(struct webhook *wh, enum result r)
{
	switch (r) {
	case RESULT_OK:
		wh->stats.ok++;
		break;
	case RESULT_RETRY:
		wh->stats.retry++;
		break;
	case RESULT_FAILED:
		wh->stats.failed++;
		break;
	case RESULT_DROPPED:
		wh->stats.dropped++;
		break;
	}
	metrics_inc(result_series[r]);
}

/* --- deliveries -------------------------------------------------------------------- */

static void delivery_free(struct delivery *d)
{
	struct webhook *wh = d->wh;

	switch (d->state) {
	case DELIVERY_READY:
		TAILQ_REMOVE(&wh->ready, d, ready);
		break;
	case DELIVERY_SENDING:
		httpc_cancel(d->call);
		wh->stats.in_flight--;
		break;
	case DELIVERY_BACKOFF:
		break;
	}
	TAILQ_REMOVE(&wh->all, d, all);
	wh->stats.pending--;
	event_free(d->timer);
	free(d->body);
	free(d->kind);
	free(d->event_id);
	free(d->about);
	free(d);
}

/* What an event is about, for log lines: its job, or its cluster. */
static char *event_about(const json_t *event)
{
	json_t *job = json_object_get(event, "job");
	const char *tenant = json_str(event, "tenant");
	const char *cluster = json_str(event, "cluster");

	if (json_is_integer(json_object_get(job, "id")))
		return xasprintf(" (job %lld)",
				 (long long)json_integer_value(json_object_get(job, "id")));
	if (tenant && cluster)
		return xasprintf(" (cluster %s/%s)", tenant, cluster);
	return xstrdup("");
}

/* One line on why an attempt failed, without the URL (it may hold a secret). */
static char *attempt_error(const struct httpc_response *resp)
{
	if (resp->curl_code == 0 && resp->status > 0) {
		char *shown, *msg;
		size_t n = resp->body_len < REFUSAL_SHOWN ? resp->body_len : REFUSAL_SHOWN;

		if (n == 0)
			return xasprintf("HTTP %ld", resp->status);
		shown = xstrndup(resp->body, n);
		for (char *p = shown; *p; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = ' ';
		}
		char *clean = utf8_scrub(shown);

		msg = xasprintf("HTTP %ld: %s%s", resp->status, clean,
				resp->body_len > n ? "..." : "");
		free(clean);
		free(shown);
		return msg;
	}
	/* httpc's message is "POST <url>: <what>"; the URL has no spaces. */
	if (resp->error) {
		const char *sp = strchr(resp->error, ' ');
		const char *what = sp ? strstr(sp, ": ") : NULL;

		if (what)
			return xstrdup(what + 2);
	}
	return xstrdup("request failed");
}

static void sent_cb(const struct httpc_response *resp, void *arg)
{
	struct delivery *d = arg;
	struct webhook *wh = d->wh;

	d->call = NULL;
	d->state = DELIVERY_BACKOFF; /* in no list until decided */
	wh->stats.in_flight--;

	/* The receiver answered 2xx: it has the event, whatever came after. */
	if (resp->status >= 200 && resp->status <= 299) {
		count(wh, RESULT_OK);
		log_debug("webhook: %s %s%s delivered to %s (attempt %d, %lld ms after it was "
			  "posted)",
			  d->kind, d->event_id, d->about, wh->url_shown, d->attempts,
			  (long long)(now_mono_ms() - d->posted_mono));
		delivery_free(d);
		pump(wh);
		return;
	}

	char *why = attempt_error(resp);

	if (resp->klass == HTTPC_TRANSIENT && d->attempts < wh->max_attempts) {
		int64_t delay = webhook_backoff_ms(wh->base_ms, wh->cap_ms, d->attempts,
						   resp->retry_after_ms, rand_below(UINT64_MAX));
		struct timeval tv = {delay / 1000, (delay % 1000) * 1000};

		count(wh, RESULT_RETRY);
		log_warn("webhook: %s %s%s: attempt %d of %d to %s failed: %s; retrying in %lld ms",
			 d->kind, d->event_id, d->about, d->attempts, wh->max_attempts,
			 wh->url_shown, why, (long long)delay);
		evtimer_add(d->timer, &tv);
	} else {
		count(wh, RESULT_FAILED);
		if (resp->klass == HTTPC_TRANSIENT)
			log_error("webhook: %s %s%s not delivered: giving up after %d attempts "
				  "to %s; the last: %s",
				  d->kind, d->event_id, d->about, d->attempts, wh->url_shown, why);
		else
			log_error("webhook: %s %s%s not delivered: %s refused it (%s); not retried",
				  d->kind, d->event_id, d->about, wh->url_shown, why);
		delivery_free(d);
	}
	free(why);
	pump(wh);
}

static void send_one(struct delivery *d)
{
	struct webhook *wh = d->wh;
	char *event = xasprintf("X-Esaas-Event: %s", d->kind);
	char *id = xasprintf("X-Esaas-Event-Id: %s", d->event_id);
	const char *headers[] = {"Content-Type: application/json", event, id, NULL};
	struct httpc_request req = {
		.method = "POST",
		.url = wh->url,
		.headers = headers,
		.body = d->body,
		.body_len = d->body_len,
		.bearer_token = wh->bearer_token,
		.timeout_ms = wh->timeout_ms,
		.max_body = RESPONSE_MAX_BYTES,
	};

	d->attempts++;
	d->state = DELIVERY_SENDING;
	wh->stats.in_flight++;
	d->call = httpc_send(wh->http, &req, sent_cb, d);
	free(event);
	free(id);
}

/* Start what is ready, as far as the slots allow. */
static void pump(struct webhook *wh)
{
	struct delivery *d;

	while (wh->stats.in_flight < wh->in_flight_max && (d = TAILQ_FIRST(&wh->ready)) != NULL) {
		TAILQ_REMOVE(&wh->ready, d, ready);
		send_one(d);
	}
}

static void backoff_cb(evutil_socket_t fd, short what, void *arg)
{
	struct delivery *d = arg;

	d->state = DELIVERY_READY;
	TAILQ_INSERT_TAIL(&d->wh->ready, d, ready);
	pump(d->wh);
}

/* Make room for one more by dropping the oldest, and say so (not too often). */
static void make_room(struct webhook *wh)
{
	struct delivery *last = NULL;
	char *last_desc = NULL;
	int64_t now;

	while (wh->stats.pending >= wh->queue_limit) {
		last = TAILQ_FIRST(&wh->all);
		free(last_desc);
		last_desc = xasprintf("%s %s%s", last->kind, last->event_id, last->about);
		count(wh, RESULT_DROPPED);
		wh->drops_unreported++;
		delivery_free(last);
	}
	if (!last)
		return;
	now = now_mono_ms();
	if (wh->drop_warned_mono == 0 || now - wh->drop_warned_mono >= DROP_WARN_MS) {
		log_warn("webhook: queue full (webhook.queue_limit: %zu events waiting for %s): "
			 "dropped the oldest %zu (the last %s); the receiver is down or too slow",
			 wh->queue_limit, wh->url_shown, wh->drops_unreported, last_desc);
		wh->drops_unreported = 0;
		wh->drop_warned_mono = now;
	}
	free(last_desc);
}

void webhook_post(struct webhook *wh, const json_t *event)
{
	const char *kind = json_str(event, "kind");
	const char *given = json_str(event, "event_id");
	char id[2 * EVENT_ID_BYTES + 1];
	json_t *copy;
	struct delivery *d;
	char *body;

	if (!json_is_object(event) || !kind) {
		log_error("webhook: an event without a kind was posted; ignored");
		return;
	}
	if (!given)
		rand_hex(id, EVENT_ID_BYTES);
	copy = json_copy((json_t *)event);
	if (!given)
		json_object_set_new(copy, "event_id", json_string(id));
	/* What the queue holds and sends stays small: long texts are cut, the JSON kept whole. */
	json_t *bounded = json_bound(copy, wh->max_body);

	json_decref(copy);
	body = json_dumps(bounded, JSON_COMPACT);
	json_decref(bounded);
	if (!body) {
		log_error("webhook: cannot serialise a %s event; dropped", kind);
		return;
	}

	make_room(wh);
	d = xcalloc(1, sizeof(*d));
	d->wh = wh;
	d->body = body;
	d->body_len = strlen(body);
	d->kind = xstrdup(kind);
	d->event_id = xstrdup(given ? given : id);
	d->about = event_about(event);
	d->posted_mono = now_mono_ms();
	d->timer = evtimer_new(wh->base, backoff_cb, d);
	d->state = DELIVERY_READY;
	TAILQ_INSERT_TAIL(&wh->all, d, all);
	TAILQ_INSERT_TAIL(&wh->ready, d, ready);
	wh->stats.pending++;
	log_debug("webhook: %s %s%s queued (%zu waiting)", d->kind, d->event_id, d->about,
		  wh->stats.pending);
	pump(wh);
}

/* --- the webhook ------------------------------------------------------------------- */

bool webhook_url_ok(const char *url)
{
	size_t skip;

	if (strncasecmp(url, "http://", 7) == 0)
		skip = 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		skip = 8;
	else
		return false;
	if (url[skip] == '\0' || strchr("/?#", url[skip]))
		return false;
	for (const char *p = url; *p; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return false;
	}
	return true;
}

struct webhook *webhook_new(struct event_base *base, struct httpc *http,
			    const struct webhook_options *opt, char *err, size_t errlen)
{
	struct webhook *wh;

	if (!opt->url || !webhook_url_ok(opt->url)) {
		char *shown = webhook_url_for_logs(opt->url ? opt->url : "");

		snprintf(err, errlen,
			 "webhook.url: expected an http:// or https:// URL with a host and no "
			 "spaces, got %s",
			 shown);
		free(shown);
		return NULL;
	}
	metrics_setup();
	wh = xcalloc(1, sizeof(*wh));
	wh->base = base;
	wh->http = http;
	wh->url = xstrdup(opt->url);
	wh->url_shown = webhook_url_for_logs(opt->url);
	wh->bearer_token = opt->bearer_token ? xstrdup(opt->bearer_token) : NULL;
	wh->timeout_ms = opt->timeout_ms;
	wh->max_attempts = opt->max_attempts > 0 ? opt->max_attempts : 1;
	wh->queue_limit = opt->queue_limit > 0 ? (size_t)opt->queue_limit : 1;
	wh->max_body = opt->max_body >= 1024 ? opt->max_body : WEBHOOK_DEFAULT_MAX_BODY;
	wh->base_ms = opt->backoff_base_ms;
	wh->cap_ms = opt->backoff_cap_ms;
	wh->in_flight_max = opt->in_flight > 0 ? (size_t)opt->in_flight : WEBHOOK_DEFAULT_IN_FLIGHT;
	TAILQ_INIT(&wh->all);
	TAILQ_INIT(&wh->ready);
	return wh;
}

void webhook_free(struct webhook *wh)
{
	struct delivery *d;
	size_t left;

	if (!wh)
		return;
	left = wh->stats.pending;
	while ((d = TAILQ_FIRST(&wh->all)) != NULL) {
		count(wh, RESULT_DROPPED);
		delivery_free(d);
	}
	if (left > 0)
		log_warn("webhook: stopping: dropped %zu undelivered event%s for %s", left,
			 left == 1 ? "" : "s", wh->url_shown);
	if (wh->drops_unreported > 0)
		log_warn("webhook: %zu more events were dropped from the full queue since the last "
			 "warning",
			 wh->drops_unreported);
	free(wh->url);
	free(wh->url_shown);
	free(wh->bearer_token);
	free(wh);
}

void webhook_stats(const struct webhook *wh, struct webhook_stats *out)
{
	*out = wh->stats;
}
