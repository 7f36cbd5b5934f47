/*
 * One watch per namespace and resource (kube/watch.h).
 *
 * Each resource is watched first without a resourceVersion, which the
 * API server answers with what is there as ADDED, then the changes (a
 * list and a watch in one request); when the server ends the stream, again
 * from the last resourceVersion seen; a 410 starts over without one; any
 * other failure waits its back-off and tries the same resourceVersion
 * again.  What matters of each object (a pod's readiness, deletion and
 * end; whether an EndpointSlice lists a ready endpoint of its Service) is
 * kept, so that an event which changes nothing a wait reads wakes no one,
 * and what a new start sends again as ADDED wakes no one either.  The
 * pods themselves are kept too, as last seen, for the waits that look
 * there before they ask the API server (kube_watches_pods()).
 */
#include "kube/watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "kube/client.h"

/* client-go's reflector asks for 5 to 10 minutes; one value is enough here. */
#define WATCH_TIMEOUT_S 300
/* Back-off of a failed watch (the reflector's is 800 ms to 30 s). */
#define RETRY_BASE_MS 250
#define RETRY_CAP_MS 30000
/* A namespace nobody has waited on for so long has its watches closed. */
#define IDLE_MS 60000

enum res_kind {
	RES_PODS,
	RES_ENDPOINTSLICES,
	RES_COUNT
};

static const char *const res_names[RES_COUNT] = {"pods", "endpointslices"};

/* The collection's path in ns; allocated. */
static char *collection(enum res_kind kind, const char *ns)
{
	return kind == RES_PODS ? kube_collection_path("v1", "Pod", ns)
				: kube_collection_path("discovery.k8s.io/v1", "EndpointSlice", ns);
}

/* The label an EndpointSlice names its Service by (discovery.k8s.io/v1,
 * pkg/controller/endpointslice/reconciler.go). */
#define SLICE_SERVICE_LABEL "kubernetes.io/service-name"

struct ns_watch;

struct res_watch {
	struct ns_watch *nw;
	enum res_kind kind;
	char *rv;		/* the last resourceVersion seen; NULL: from what is there */
	struct kube_call *call; /* the watch in flight */
	bool watching;		/* call is the watch */
	bool expired;		/* the stream said 410 */
	int64_t started_ms;	/* when the watch was sent */
	int failures;		/* in a row */
	struct event *retry_ev;
	json_t *seen; /* name -> what a wait reads of it */
	json_t *objs; /* name -> the object as last seen (pods only) */
};

struct ns_watch {
	struct kube_watches *w;
	char *ns;
	uint64_t seq;
	struct res_watch res[RES_COUNT];
	int64_t *waiters;
	size_t nwaiters, cap;
	int64_t last_used_ms;
	struct event *idle_ev;
	struct ns_watch *next;
};

struct kube_watches {
	struct event_base *base;
	struct kube *k;
	kube_watches_wake_fn wake;
	void *wake_arg;
	struct ns_watch *list;
	uint64_t seq; /* shared, so that a namespace watched again never repeats one */
	long long started, relists, events, wakes, failures;
};

static void res_start(struct res_watch *r);

/*
 * What a wait reads of an object; allocated.  Its first character says
 * whether the object counts for a wait on its own, seen for the first
 * time: a pod that is ready, has ended or is being deleted ('1'), not one
 * that has only been made ('0'), which changes no count of ready pods.
 */
static char *summary(enum res_kind kind, json_t *obj)
{
	json_t *meta = json_object_get(obj, "metadata");
	json_t *status = json_object_get(obj, "status");
	if (kind == RES_ENDPOINTSLICES) {
		/* Whether the service proxy may route to one of its endpoints
		 * (conditions.ready, which is true for every endpoint of a
		 * Service that publishes not-ready addresses), and its
		 * Service: a wait cares only for none or some. */
		bool ready = false;
		size_t i;
		json_t *e;
		json_array_foreach (json_object_get(obj, "endpoints"), i, e) {
			if (json_is_true(
				    json_object_get(json_object_get(e, "conditions"), "ready")))
				ready = true;
		}
		const char *svc = json_str(json_object_get(meta, "labels"), SLICE_SERVICE_LABEL);
		return xasprintf("%d %s", ready, svc ? svc : "");
	}
	bool ready = false;
	size_t i;
	json_t *c;
	json_array_foreach (json_object_get(status, "conditions"), i, c) {
		const char *type = json_str(c, "type");
		if (type && !strcmp(type, "Ready"))
			ready = !strcmp(json_str(c, "status") ? json_str(c, "status") : "", "True");
	}
	/* Running: its processes have started (Elasticsearch may answer
	 * before the pod is ready); Failed or Succeeded: it has ended. */
	const char *phase = json_str(status, "phase");
	bool started = phase && strcmp(phase, "Pending") != 0;
	bool deleting = json_object_get(meta, "deletionTimestamp") != NULL;
	return xasprintf("%d %s %s %s %s", started || ready || deleting,
			 json_str(meta, "uid") ? json_str(meta, "uid") : "", started ? phase : "",
			 ready ? "ready" : "not-ready", deleting ? "deleting" : "");
}

/* Something a wait reads changed: wake every job waiting there. */
static void ns_changed(struct ns_watch *nw)
{
	struct kube_watches *w = nw->w;
	nw->seq = ++w->seq;
	size_t n = nw->nwaiters;
	int64_t *ids = nw->waiters;
	nw->waiters = NULL;
	nw->nwaiters = nw->cap = 0;
	for (size_t i = 0; i < n; i++) {
		w->wakes++;
		if (w->wake)
			w->wake(w->wake_arg, ids[i]);
	}
	free(ids);
}

static bool res_held(const struct res_watch *r)
{
	return r->watching && r->failures == 0;
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	res_start(arg);
}

static void res_retry(struct res_watch *r, const char *why)
{
	struct kube_watches *w = r->nw->w;
	r->failures++;
	w->failures++;
	r->watching = false;
	int64_t ms = RETRY_BASE_MS;
	for (int i = 1; i < r->failures && ms < RETRY_CAP_MS; i++)
		ms *= 2;
	if (ms > RETRY_CAP_MS)
		ms = RETRY_CAP_MS;
	log_warn("kubernetes: watch of %s in %s: %s; the waits there poll until it is back, "
		 "next try in %lld ms",
		 res_names[r->kind], r->nw->ns, why, (long long)ms);
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(r->retry_ev, &tv);
}

static void set_rv(struct res_watch *r, const char *rv)
{
	if (!rv || !*rv)
		return;
	free(r->rv);
	r->rv = xstrdup(rv);
}

static void event_cb(void *arg, json_t *ev)
{
	struct res_watch *r = arg;
	struct ns_watch *nw = r->nw;
	const char *type = json_str(ev, "type");
	json_t *obj = json_object_get(ev, "object");
	json_t *meta = json_object_get(obj, "metadata");
	if (!type)
		return;
	if (!strcmp(type, "ERROR")) {
		/* The Status of a watch that cannot go on: 410 is a
		 * resourceVersion too old (storage/cacher/cacher.go). */
		if (json_integer_value(json_object_get(obj, "code")) == 410)
			r->expired = true;
		else
			log_warn("kubernetes: watch of %s in %s: %s", res_names[r->kind], nw->ns,
				 json_str(obj, "message") ? json_str(obj, "message") : "an error");
		return;
	}
	set_rv(r, json_str(meta, "resourceVersion"));
	r->failures = 0; /* held again */
	if (!strcmp(type, "BOOKMARK"))
		return;
	nw->w->events++;
	const char *name = json_str(meta, "name");
	if (!name)
		return;
	bool relevant;
	if (!strcmp(type, "DELETED")) {
		relevant = json_object_get(r->seen, name) != NULL;
		json_object_del(r->seen, name);
		if (r->objs)
			json_object_del(r->objs, name);
	} else {
		if (r->objs)
			json_object_set(r->objs, name, obj);
		char *now = summary(r->kind, obj);
		const char *was = json_str(r->seen, name);
		relevant = was ? strcmp(was, now) != 0 : now[0] == '1';
		json_object_set_new(r->seen, name, json_string(now));
		free(now);
	}
	if (relevant)
		ns_changed(nw);
}

static void watch_done_cb(void *arg, const struct kube_result *res)
{
	struct res_watch *r = arg;
	r->call = NULL;
	log_debug("kubernetes: watch of %s in %s ended: %ld%s%s", res_names[r->kind], r->nw->ns,
		  res->status, r->expired ? ", resourceVersion too old" : "",
		  res->message ? res->message : "");
	if (res->status == 410 || r->expired) {
		/* Too old: from what is there again (the reflector's relist). */
		r->expired = false;
		r->watching = false;
		free(r->rv);
		r->rv = NULL;
		/* What it kept may have gone meanwhile: the waits ask until
		 * the new start has sent what is there. */
		if (r->objs)
			json_object_clear(r->objs);
		r->nw->w->relists++;
		res_start(r);
		/* What went meanwhile sends no DELETED: the waits look again. */
		ns_changed(r->nw);
		return;
	}
	if (res->klass == HTTPC_OK) {
		r->failures = 0;
		/* The server's timeout, or its restart: on from where it was,
		 * after a pause if the stream ended as soon as it began. */
		if (now_mono_ms() - r->started_ms < 1000) {
			struct timeval tv = {0, RETRY_BASE_MS * 1000};
			evtimer_add(r->retry_ev, &tv);
		} else {
			res_start(r);
		}
		return;
	}
	res_retry(r, res->message ? res->message : "the watch failed");
}

static void watch_send(struct res_watch *r)
{
	struct kube_watches *w = r->nw->w;
	char *coll = collection(r->kind, r->nw->ns);
	/* Without a resourceVersion the server sends what is there as
	 * ADDED first (the list and the watch in one request): what `seen`
	 * already has the same changes nothing. */
	char *from = r->rv ? xasprintf("&resourceVersion=%s", r->rv) : xstrdup("");
	char *path = xasprintf("%s?watch=1%s&allowWatchBookmarks=true&timeoutSeconds=%d", coll,
			       from, WATCH_TIMEOUT_S);
	free(from);
	r->watching = true;
	r->expired = false;
	r->started_ms = now_mono_ms();
	w->started++;
	log_debug("kubernetes: watching %s in %s from %s%s", res_names[r->kind], r->nw->ns,
		  r->rv ? "resourceVersion " : "what is there", r->rv ? r->rv : "");
	r->call =
		kube_watch(w->k, path, (WATCH_TIMEOUT_S + 30) * 1000L, event_cb, watch_done_cb, r);
	free(path);
	free(coll);
}

static void res_start(struct res_watch *r)
{
	watch_send(r);
}

static void ns_free(struct ns_watch *nw)
{
	for (int i = 0; i < RES_COUNT; i++) {
		struct res_watch *r = &nw->res[i];
		kube_cancel(r->call);
		event_free(r->retry_ev);
		json_decref(r->seen);
		json_decref(r->objs);
		free(r->rv);
	}
	event_free(nw->idle_ev);
	free(nw->waiters);
	free(nw->ns);
	free(nw);
}

static void idle_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct ns_watch *nw = arg;
	struct kube_watches *w = nw->w;
	int64_t idle = now_mono_ms() - nw->last_used_ms;
	if (nw->nwaiters > 0 || idle < IDLE_MS) {
		int64_t ms = nw->nwaiters > 0 ? IDLE_MS : IDLE_MS - idle;
		struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
		evtimer_add(nw->idle_ev, &tv);
		return;
	}
	for (struct ns_watch **p = &w->list; *p; p = &(*p)->next) {
		if (*p == nw) {
			*p = nw->next;
			break;
		}
	}
	ns_free(nw);
}

static struct ns_watch *ns_find(struct kube_watches *w, const char *ns, bool create)
{
	for (struct ns_watch *nw = w->list; nw; nw = nw->next) {
		if (!strcmp(nw->ns, ns))
			return nw;
	}
	if (!create)
		return NULL;
	struct ns_watch *nw = xcalloc(1, sizeof(*nw));
	nw->w = w;
	nw->ns = xstrdup(ns);
	nw->seq = ++w->seq;
	nw->last_used_ms = now_mono_ms();
	nw->idle_ev = evtimer_new(w->base, idle_cb, nw);
	struct timeval tv = {IDLE_MS / 1000, 0};
	evtimer_add(nw->idle_ev, &tv);
	nw->next = w->list;
	w->list = nw;
	for (int i = 0; i < RES_COUNT; i++) {
		struct res_watch *r = &nw->res[i];
		r->nw = nw;
		r->kind = (enum res_kind)i;
		r->seen = json_object();
		r->objs = r->kind == RES_PODS ? json_object() : NULL;
		r->retry_ev = evtimer_new(w->base, retry_cb, r);
		res_start(r);
	}
	return nw;
}

struct kube_watches *kube_watches_new(struct event_base *base, struct kube *k)
{
	struct kube_watches *w = xcalloc(1, sizeof(*w));
	w->base = base;
	w->k = k;
	return w;
}

void kube_watches_set_wake(struct kube_watches *w, kube_watches_wake_fn fn, void *arg)
{
	w->wake = fn;
	w->wake_arg = arg;
}

void kube_watches_free(struct kube_watches *w)
{
	if (!w)
		return;
	while (w->list) {
		struct ns_watch *nw = w->list;
		w->list = nw->next;
		ns_free(nw);
	}
	free(w);
}

uint64_t kube_watches_seq(struct kube_watches *w, const char *ns)
{
	struct ns_watch *nw = ns_find(w, ns, true);
	nw->last_used_ms = now_mono_ms();
	return nw->seq;
}

enum kube_wait kube_watches_wait(struct kube_watches *w, const char *ns, uint64_t seq,
				 int64_t job_id)
{
	struct ns_watch *nw = ns_find(w, ns, true);
	nw->last_used_ms = now_mono_ms();
	if (nw->seq != seq)
		return KUBE_WAIT_CHANGED;
	for (int i = 0; i < RES_COUNT; i++) {
		if (!res_held(&nw->res[i]))
			return KUBE_WAIT_POLL;
	}
	for (size_t i = 0; i < nw->nwaiters; i++) {
		if (nw->waiters[i] == job_id)
			return KUBE_WAIT_WOKEN;
	}
	if (nw->nwaiters == nw->cap) {
		nw->cap = nw->cap ? nw->cap * 2 : 8;
		nw->waiters = xrealloc(nw->waiters, nw->cap * sizeof(*nw->waiters));
	}
	nw->waiters[nw->nwaiters++] = job_id;
	return KUBE_WAIT_WOKEN;
}

json_t *kube_watches_stats(const struct kube_watches *w)
{
	int n = 0;
	for (const struct ns_watch *nw = w->list; nw; nw = nw->next)
		n++;
	return json_pack("{s:i, s:I, s:I, s:I, s:I, s:I}", "namespaces", n, "watches_started",
			 (json_int_t)w->started, "relists", (json_int_t)w->relists, "events",
			 (json_int_t)w->events, "wakes", (json_int_t)w->wakes, "failures",
			 (json_int_t)w->failures);
}

json_t *kube_watches_pods(struct kube_watches *w, const char *ns)
{
	struct ns_watch *nw = ns_find(w, ns, false);
	if (!nw || !res_held(&nw->res[RES_PODS]))
		return NULL;
	nw->last_used_ms = now_mono_ms();
	return nw->res[RES_PODS].objs;
}

enum kube_endpoints kube_watches_endpoints(struct kube_watches *w, const char *ns,
					   const char *service)
{
	struct ns_watch *nw = ns_find(w, ns, false);
	if (!nw || !res_held(&nw->res[RES_ENDPOINTSLICES]))
		return KUBE_ENDPOINTS_UNKNOWN;
	nw->last_used_ms = now_mono_ms();
	enum kube_endpoints known = KUBE_ENDPOINTS_UNKNOWN;
	const char *name;
	json_t *v;
	json_object_foreach (nw->res[RES_ENDPOINTSLICES].seen, name, v) {
		/* "<any ready> <service>" (summary()). */
		const char *sum = json_string_value(v);
		const char *svc = sum ? strchr(sum, ' ') : NULL;
		if (!svc || strcmp(svc + 1, service) != 0)
			continue;
		if (sum[0] == '1')
			return KUBE_ENDPOINTS_READY;
		known = KUBE_ENDPOINTS_NONE;
	}
	return known;
}
