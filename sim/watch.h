/*
 * Watches, as the API server's watch cache serves them: GET on a
 * collection with ?watch=1 (or watch=true) answers a chunked stream of
 * {"type": "ADDED|MODIFIED|DELETED|BOOKMARK|ERROR", "object": ...} lines.
 *
 * Every write to the store is kept as an event of its kind, in a window
 * per kind as the cacher keeps one per resource
 * (staging/src/k8s.io/apiserver/pkg/storage/cacher/watch_cache.go): at
 * least the last 100 events, and every event younger than 75 s, up to
 * 102,400.  A watch from a resourceVersion the window no longer covers
 * gets one ERROR event with the 410 Expired Status "too old resource
 * version: N (M)" and the end of the stream, as cacher.go answers it
 * (newErrWatcher) once the request has passed authentication,
 * authorization and the parsing of its options.
 */
#ifndef SIM_WATCH_H
#define SIM_WATCH_H

#include <stdbool.h>
#include <jansson.h>

struct call;
struct event_base;
struct store_kind;

void watch_init(struct event_base *base);
/* Ends every open stream and forgets the events. */
void watch_free(void);

/*
 * A write to the store: type "ADDED", "MODIFIED" or "DELETED"; obj the
 * object after it (for DELETED its last state, at the deletion's
 * resourceVersion), old the object before it (NULL for ADDED).  Both
 * borrowed.
 */
void watch_record(const struct store_kind *k, const char *type, const json_t *obj,
		  const json_t *old, long long rv);

/* Serve c, a GET with ?watch on the collection of kind k in ns (NULL:
 * every namespace): takes c over. */
void watch_serve(struct call *c, const struct store_kind *k, const char *ns);

/*
 * What an API server restart does to its watchers: every open stream
 * ends.  With compact, every event retained is dropped too, as after an
 * etcd compaction, so that a watch from any earlier resourceVersion is
 * answered 410.  The number of streams ended.
 */
int watch_close_all(bool compact);

/* {"open": n, "served": n, "expired": n, "events_sent": n}. */
json_t *watch_state(void);

#endif
