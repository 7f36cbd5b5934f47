/*
 * Watches (sim/watch.h): the events of each kind in a window, and the open
 * streams that follow them.
 *
 * The stream is what staging/src/k8s.io/apiserver/pkg/endpoints/handlers/
 * watch.go writes: a 200 with Transfer-Encoding chunked, one JSON object
 * per line, the object in full with its kind and apiVersion; it ends
 * cleanly at the server's timeout (timeoutSeconds, else a random time
 * between the minimum request timeout, 1800 s, and twice it).  The events
 * are chosen as storage/cacher/cache_watcher.go chooses them: an object
 * that starts matching the selectors is ADDED, one that stops matching is
 * DELETED, and with allowWatchBookmarks a BOOKMARK (the kind and the
 * current resourceVersion only) every minute and 2 s before the deadline
 * (nextBookmarkTime).
 */
#include "sim/watch.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "sim/apiserver.h"
#include "sim/call.h"
#include "sim/selector.h"
#include "sim/simconf.h"
#include "sim/store.h"

/* storage/cacher/watch_cache.go: defaultLowerBoundCapacity,
 * defaultUpperBoundCapacity, eventFreshDuration. */
#define WINDOW_LOWER 100
#define WINDOW_UPPER (100 * 1024)
#define EVENT_FRESH_MS 75000
/* cacher.go: bookmarkFrequency; the server's --min-request-timeout. */
#define BOOKMARK_FREQUENCY_MS 60000
#define MIN_REQUEST_TIMEOUT_MS 1800000

struct event_rec {
	long long rv;
	int64_t at_ms;
	const char *type; /* static */
	json_t *obj, *old;
};

struct window {
	const struct store_kind *kind;
	struct event_rec *ev;
	size_t first, n, cap;
	long long floor; /* a watch from below it is too old */
};

struct watcher {
	struct call *c;
	struct evhttp_connection *conn;
	const struct store_kind *kind;
	char *ns; /* NULL: every namespace */
	struct selector sel;
	char *fields; /* the fieldSelector, or NULL */
	bool bookmarks;
	int64_t deadline_ms;
	struct event *timeout_ev, *bookmark_ev;
	struct watcher *next;
};

static struct event_base *base;
static struct window *windows;
static size_t nwindows;
static struct watcher *watchers;
static long long served, expired, events_sent;

/* The window of kind k; a new one covers what follows floor. */
static struct window *window_of(const struct store_kind *k, long long floor)
{
	for (size_t i = 0; i < nwindows; i++) {
		if (windows[i].kind == k)
			return &windows[i];
	}
	windows = xrealloc(windows, (nwindows + 1) * sizeof(*windows));
	windows[nwindows] = (struct window){.kind = k, .floor = floor};
	return &windows[nwindows++];
}

static struct event_rec *window_at(struct window *w, size_t i)
{
	return &w->ev[(w->first + i) % w->cap];
}

static void window_drop_first(struct window *w)
{
	struct event_rec *e = window_at(w, 0);
	w->floor = e->rv;
	json_decref(e->obj);
	json_decref(e->old);
	w->first = (w->first + 1) % w->cap;
	w->n--;
	if (w->n > 0)
		w->floor = window_at(w, 0)->rv - 1;
}

static void window_add(struct window *w, const char *type, const json_t *obj, const json_t *old,
		       long long rv)
{
	int64_t now = now_mono_ms();
	while (w->n > 0 &&
	       (w->n >= WINDOW_UPPER ||
		(w->n >= WINDOW_LOWER && now - window_at(w, 0)->at_ms > EVENT_FRESH_MS)))
		window_drop_first(w);
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		struct event_rec *ev = xcalloc(cap, sizeof(*ev));
		for (size_t i = 0; i < w->n; i++)
			ev[i] = *window_at(w, i);
		free(w->ev);
		w->ev = ev;
		w->first = 0;
		w->cap = cap;
	}
	*window_at(w, w->n) = (struct event_rec){
		.rv = rv,
		.at_ms = now,
		.type = type,
		.obj = json_deep_copy(obj),
		.old = old ? json_deep_copy(old) : NULL,
	};
	w->n++;
}

/* --- one stream ------------------------------------------------------------------ */

static void watcher_free(struct watcher *wt)
{
	for (struct watcher **p = &watchers; *p; p = &(*p)->next) {
		if (*p == wt) {
			*p = wt->next;
			break;
		}
	}
	if (wt->timeout_ev)
		event_free(wt->timeout_ev);
	if (wt->bookmark_ev)
		event_free(wt->bookmark_ev);
	selector_free(&wt->sel);
	free(wt->fields);
	free(wt->ns);
	/* The request is evhttp's (ended, or freed with its connection). */
	wt->c->req = NULL;
	wt->c->parked = false;
	call_free(wt->c);
	free(wt);
}

/*
 * The client went away.  evhttp has detached the request of a reply under
 * way from its connection (evhttp_connection_incoming_fail) and leaves it
 * to its user: ending it frees it, as a request without a connection.
 */
static void closed_cb(struct evhttp_connection *conn, void *arg)
{
	struct watcher *wt = arg;
	(void)conn;
	if (wt->c->req && !evhttp_request_get_connection(wt->c->req))
		evhttp_send_reply_end(wt->c->req);
	watcher_free(wt);
}

/* The end of the stream: the last chunk, the connection kept for more. */
static void watcher_end(struct watcher *wt)
{
	evhttp_connection_set_closecb(wt->conn, NULL, NULL);
	evhttp_send_reply_end(wt->c->req);
	watcher_free(wt);
}

static void send_line(struct watcher *wt, const char *type, json_t *obj)
{
	json_t *ev = json_pack("{s:s, s:o}", "type", type, "object", obj);
	char *text = json_dumps(ev, JSON_COMPACT);
	json_decref(ev);
	struct evbuffer *buf = evbuffer_new();
	evbuffer_add(buf, text, strlen(text));
	evbuffer_add(buf, "\n", 1);
	evhttp_send_reply_chunk(wt->c->req, buf);
	evbuffer_free(buf);
	free(text);
	events_sent++;
}

static bool selected(const struct watcher *wt, const json_t *obj)
{
	if (!obj)
		return false;
	const json_t *meta = json_object_get(obj, "metadata");
	if (wt->ns &&
	    strcmp(wt->ns, json_str(meta, "namespace") ? json_str(meta, "namespace") : ""))
		return false;
	if (!selector_matches(&wt->sel, json_object_get(meta, "labels")))
		return false;
	bool bad = false;
	return !wt->fields || apiserver_field_matches(obj, wt->fields, &bad);
}

/* cache_watcher.go, convertToWatchEvent: what this watcher sees of an event. */
static void watcher_send_event(struct watcher *wt, const struct event_rec *e)
{
	bool now = selected(wt, e->obj);
	bool before = selected(wt, e->old);
	if (!strcmp(e->type, "DELETED")) {
		if (now)
			send_line(wt, "DELETED", json_deep_copy(e->obj));
	} else if (now && before) {
		send_line(wt, "MODIFIED", json_deep_copy(e->obj));
	} else if (now) {
		send_line(wt, "ADDED", json_deep_copy(e->obj));
	} else if (before) {
		/* The previous state, at the event's resourceVersion. */
		json_t *gone = json_deep_copy(e->old);
		char rv[32];
		snprintf(rv, sizeof(rv), "%lld", e->rv);
		json_object_set_new(json_object_get(gone, "metadata"), "resourceVersion",
				    json_string(rv));
		send_line(wt, "DELETED", gone);
	}
}

static void bookmark_arm(struct watcher *wt);

static void bookmark_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct watcher *wt = arg;
	char rv[32];
	snprintf(rv, sizeof(rv), "%lld", (long long)store_resource_version());
	send_line(wt, "BOOKMARK",
		  json_pack("{s:s, s:s, s:{s:s, s:n}}", "kind", wt->kind->kind, "apiVersion",
			    store_api_version(wt->kind), "metadata", "resourceVersion", rv,
			    "creationTimestamp"));
	/* The one before the deadline is the last (a timer may run a
	 * millisecond early). */
	if (now_mono_ms() < wt->deadline_ms - 2000 - 50)
		bookmark_arm(wt);
}

/* cache_watcher.go, nextBookmarkTime: every minute, and 2 s before the
 * deadline; none once that is past. */
static void bookmark_arm(struct watcher *wt)
{
	int64_t now = now_mono_ms();
	int64_t at = now + BOOKMARK_FREQUENCY_MS;
	if (wt->deadline_ms - 2000 < at)
		at = wt->deadline_ms - 2000;
	if (at <= now)
		return;
	struct timeval tv = {(at - now) / 1000, ((at - now) % 1000) * 1000};
	evtimer_add(wt->bookmark_ev, &tv);
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	watcher_end(arg);
}

/* --- the module ------------------------------------------------------------------- */

void watch_init(struct event_base *b)
{
	base = b;
}

void watch_free(void)
{
	(void)watch_close_all(true);
	for (size_t i = 0; i < nwindows; i++)
		free(windows[i].ev);
	free(windows);
	windows = NULL;
	nwindows = 0;
}

void watch_record(const struct store_kind *k, const char *type, const json_t *obj,
		  const json_t *old, long long rv)
{
	struct window *w = window_of(k, rv - 1);
	window_add(w, type, obj, old, rv);
	const struct event_rec *e = window_at(w, w->n - 1);
	for (struct watcher *wt = watchers; wt; wt = wt->next) {
		if (wt->kind == k)
			watcher_send_event(wt, e);
	}
}

int watch_close_all(bool compact)
{
	int n = 0;
	while (watchers) {
		watcher_end(watchers);
		n++;
	}
	for (size_t i = 0; compact && i < nwindows; i++) {
		while (windows[i].n > 0)
			window_drop_first(&windows[i]);
		windows[i].floor = store_resource_version();
	}
	return n;
}

json_t *watch_state(void)
{
	int open = 0;
	for (struct watcher *wt = watchers; wt; wt = wt->next)
		open++;
	return json_pack("{s:i, s:I, s:I, s:I}", "open", open, "served", (json_int_t)served,
			 "expired", (json_int_t)expired, "events_sent", (json_int_t)events_sent);
}

static void reply_400(struct call *c, const char *msg)
{
	call_reply_json(c, 400,
			json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status",
				  "apiVersion", "v1", "metadata", "status", "Failure", "message",
				  msg, "reason", "BadRequest", "code", 400));
}

void watch_serve(struct call *c, const struct store_kind *k, const char *ns)
{
	const char *ls = call_param(c, "labelSelector");
	const char *fs = call_param(c, "fieldSelector");
	const char *rvs = call_param(c, "resourceVersion");
	const char *ts = call_param(c, "timeoutSeconds");
	struct selector sel;
	char *err = NULL;
	int64_t rv = 0, timeout_s = 0;

	if (!selector_parse(ls ? ls : "", &sel, &err)) {
		reply_400(c, err);
		free(err);
		return;
	}
	json_t *probe = json_pack("{s:s}", "kind", k->kind);
	bool bad = false;
	if (fs && *fs)
		(void)apiserver_field_matches(probe, fs, &bad);
	json_decref(probe);
	const char *problem = NULL;
	if (bad)
		problem = "field label not supported";
	else if (rvs && *rvs && !parse_int64(rvs, 0, INT64_MAX, &rv))
		problem = "resourceVersion: Invalid value: not a resource version";
	else if (ts && !parse_int64(ts, 0, INT64_MAX / 1000, &timeout_s))
		problem = "timeoutSeconds: Invalid value: not a number of seconds";
	if (problem) {
		selector_free(&sel);
		reply_400(c, problem);
		return;
	}

	struct watcher *wt = xcalloc(1, sizeof(*wt));
	wt->c = c;
	wt->conn = evhttp_request_get_connection(c->req);
	wt->kind = k;
	wt->ns = ns ? xstrdup(ns) : NULL;
	wt->sel = sel;
	wt->fields = fs && *fs ? xstrdup(fs) : NULL;
	wt->bookmarks = call_param_bool(c, "allowWatchBookmarks", false);
	int64_t timeout_ms = timeout_s > 0
				     ? timeout_s * 1000
				     : MIN_REQUEST_TIMEOUT_MS +
					       (int64_t)simconf_rand_below(MIN_REQUEST_TIMEOUT_MS);
	wt->deadline_ms = now_mono_ms() + timeout_ms;
	wt->next = watchers;
	watchers = wt;
	served++;

	evhttp_connection_set_closecb(wt->conn, closed_cb, wt);
	call_add_header(c, "Content-Type", "application/json");
	evhttp_send_reply_start(c->req, 200, "OK");

	struct window *w = window_of(k, (long long)store_resource_version());
	if (!rvs || !*rvs || rv == 0) {
		/* No resourceVersion, or "0": the state as it is, as ADDED. */
		size_t n;
		struct store_obj **objs = store_list(k, ns, &n);
		for (size_t i = 0; i < n; i++) {
			if (selected(wt, objs[i]->body))
				send_line(wt, "ADDED", json_deep_copy(objs[i]->body));
		}
		free(objs);
	} else if (rv < w->floor) {
		/* cacher.go: after the request's checks the error is an event. */
		char *msg =
			xasprintf("too old resource version: %lld (%lld)", (long long)rv, w->floor);
		send_line(wt, "ERROR",
			  json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status",
				    "apiVersion", "v1", "metadata", "status", "Failure", "message",
				    msg, "reason", "Expired", "code", 410));
		free(msg);
		expired++;
		watcher_end(wt);
		return;
	} else {
		for (size_t i = 0; i < w->n; i++) {
			const struct event_rec *e = window_at(w, i);
			if (e->rv > rv)
				watcher_send_event(wt, e);
		}
	}
	wt->timeout_ev = evtimer_new(base, timeout_cb, wt);
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	evtimer_add(wt->timeout_ev, &tv);
	wt->bookmark_ev = evtimer_new(base, bookmark_cb, wt);
	if (wt->bookmarks)
		bookmark_arm(wt);
}
