/*
 * Waits that wake on change: one watch per namespace on its pods and its
 * EndpointSlices, shared by every job that waits there.
 *
 * A wait looks (lists the pods, asks Elasticsearch through a Service),
 * and when what it wants is not there yet, it asks to be woken: the next
 * event of its namespace that may change its answer (a pod added,
 * deleted, turning ready or not, changing phase; a Service getting its
 * first ready endpoint or losing its last) wakes
 * it, through the callback set with kube_watches_set_wake(), instead of
 * its next poll.  The poll stays: a namespace whose watch cannot be held
 * (refused, dropped and not yet back) says so, and its waits poll as
 * before.
 *
 * The watches follow client-go's reflector, with the list folded into the
 * watch (?watch=1 without a resourceVersion answers what is there as
 * ADDED, then the changes): bookmarks and a server-side timeout, resumed
 * from the last resourceVersion seen when the server ends the stream; a
 * 410 (an ERROR event with the Expired Status, or the answer itself)
 * starts over from what is there; any other failure retries with a
 * back-off.
 * A namespace no wait has asked about for a while has its watches closed.
 */
#ifndef ESAAS_KUBE_WATCH_H
#define ESAAS_KUBE_WATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

struct event_base;
struct kube;
struct kube_watches;

/* Job id's wait may be satisfied now. */
typedef void (*kube_watches_wake_fn)(void *arg, int64_t job_id);

struct kube_watches *kube_watches_new(struct event_base *base, struct kube *k);
void kube_watches_set_wake(struct kube_watches *w, kube_watches_wake_fn fn, void *arg);
void kube_watches_free(struct kube_watches *w);

/*
 * Where the namespace's changes are: taken before a wait looks, given back
 * to kube_watches_wait() after.  Starts the namespace's watches if need be.
 */
uint64_t kube_watches_seq(struct kube_watches *w, const char *ns);

enum kube_wait {
	KUBE_WAIT_WOKEN,   /* the job will be woken by the next change */
	KUBE_WAIT_CHANGED, /* something changed since seq: look again now */
	KUBE_WAIT_POLL,	   /* no watch is held there: poll */
};

/* Job id waits on ns's pods or Services' endpoints, having looked at seq. */
enum kube_wait kube_watches_wait(struct kube_watches *w, const char *ns, uint64_t seq,
				 int64_t job_id);

/*
 * The namespace's pods as its watch last saw them (name -> object),
 * borrowed until the loop runs again; NULL while no watch of the pods is
 * held there.  Only as fresh as the stream: a reader that acts on it
 * must say why that is safe.
 */
json_t *kube_watches_pods(struct kube_watches *w, const char *ns);

enum kube_endpoints {
	KUBE_ENDPOINTS_UNKNOWN, /* no watch held, or no EndpointSlice of it seen */
	KUBE_ENDPOINTS_NONE,	/* its EndpointSlices list no ready endpoint */
	KUBE_ENDPOINTS_READY,	/* one at least the service proxy may route to */
};

/* What the namespace's watch of EndpointSlices says of service. */
enum kube_endpoints kube_watches_endpoints(struct kube_watches *w, const char *ns,
					   const char *service);

/* Counts, for tests and logs: {"namespaces", "watches_started", "relists",
 * "events", "wakes", "failures"}. */
json_t *kube_watches_stats(const struct kube_watches *w);

#endif
