/*
 * The object store of the simulated API server: every object as the JSON
 * the API returns, with the bookkeeping the real server does (uid set
 * once, a global resourceVersion bumped on every write, generation bumped
 * when spec changes, creationTimestamp).
 *
 * Lifetime: store_delete() unlinks an object at once (lookups no longer
 * see it) but frees it only in store_reap(), which the loop runs after the
 * current callback, so a pointer taken earlier in the same callback stays
 * valid.
 */
#ifndef SIM_STORE_H
#define SIM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

enum store_name_rule {
	STORE_NAME_SUBDOMAIN, /* RFC 1123 subdomain */
	STORE_NAME_LABEL,     /* RFC 1123 label */
	STORE_NAME_DNS1035,   /* RFC 1035 label (Services) */
	STORE_NAME_PATH,      /* a path segment (RBAC objects: "system:basic-user") */
};

struct store_kind {
	const char *plural;
	const char *singular;
	const char *kind;
	const char *group; /* "" for the core group */
	const char *version;
	bool namespaced;
	bool generation; /* metadata.generation tracks spec */
	bool scale;	 /* has the scale subresource */
	bool readonly;	 /* served, but only patched over the API (nodes: a cordon) */
	enum store_name_rule name_rule;
	const char *short_name; /* NULL if none */
};

struct store_obj {
	const struct store_kind *kind;
	char *ns; /* "" when cluster-scoped */
	char *name;
	json_t *body; /* the object, owned */
	bool gone;
	/* Timing kept by the controllers (pods): when the containers start
	 * (their process runs), when a terminating pod is gone; 0 when not
	 * set. */
	int64_t ready_at_ms;
	int64_t gone_at_ms;
	/* The kubelet's view of a started pod: since when its containers
	 * run (0: not running), its readiness probe worker (the next probe,
	 * the last result and how many times in a row it came). */
	int64_t running_ms;
	int64_t next_probe_ms;
	int probe_run;
	bool probe_ok;
	/* Elasticsearch in this pod has opened its HTTP port (es.c). */
	bool http_open;
	/* The kubelet's start of a pod: its volumes are mounted (else the
	 * next try and the back-off), its init containers are done, and when
	 * it tries again to create a container whose configuration it could
	 * not make. */
	bool mounted, initialized;
	int64_t mount_retry_ms, mount_backoff_ms;
	int64_t start_retry_ms;
	/* The kubelet's image pulls: how many of the pod's containers (init
	 * containers first) have their image, when the pull in flight ends
	 * and when it began (0: none) and how long the pull itself takes, when the pod worker syncs again after
	 * a failed pull, and when its containers start, their images there. */
	int pulled;
	int64_t pull_done_ms, pull_began_ms, pull_took_ms, pull_sync_ms;
	int64_t start_at_ms;
	/* The endpoint controller's input: serving (Ready, not terminating)
	 * since, and until (0 while it still is). */
	int64_t serving_since_ms;
	int64_t serving_until_ms;
	struct store_obj *next;
};

typedef void (*store_change_fn)(void *arg);
/* One write, for the watches (sim/watch.h): "ADDED", "MODIFIED" or
 * "DELETED", the object after and before (NULL for ADDED), the write's
 * resourceVersion. */
typedef void (*store_event_fn)(const struct store_kind *k, const char *type, const json_t *obj,
			       const json_t *old, long long rv);

void store_init(void);
void store_free(void);
/* Called after every write (to wake the controllers). */
void store_set_change_cb(store_change_fn fn, void *arg);
void store_set_event_cb(store_event_fn fn);

const struct store_kind *store_kind_find(const char *group, const char *version,
					 const char *plural);
const struct store_kind *store_kind_by_plural(const char *plural);
const struct store_kind *store_kind_at(size_t i); /* NULL past the end */
/* "apps/v1" or "v1" */
const char *store_api_version(const struct store_kind *k);
/* "statefulsets.apps" or "pods": how error messages name a resource */
const char *store_qualified(const struct store_kind *k);

struct store_obj *store_get(const struct store_kind *k, const char *ns, const char *name);
/* The value of key in Secret ns/secret, base64-decoded (newly allocated);
 * NULL when there is none. */
char *store_secret_value(const char *ns, const char *secret, const char *key);
/* Live objects of a kind, in one namespace or all (ns NULL), oldest first.
 * The array is allocated (free it); *n gets its length. */
struct store_obj **store_list(const struct store_kind *k, const char *ns, size_t *n);

/* Takes a reference to body; fills metadata (uid, resourceVersion,
 * generation, creationTimestamp, namespace). */
struct store_obj *store_create(const struct store_kind *k, const char *ns, json_t *body);
/* Replaces the body (steals the reference); keeps uid and creation time,
 * bumps resourceVersion, and generation when spec changed. */
void store_update(struct store_obj *o, json_t *body);
void store_delete(struct store_obj *o);
void store_reap(void);

int64_t store_resource_version(void);
/* RFC 3339 UTC, second precision, for timestamps; buf of 32 bytes. */
void store_timestamp(char *buf, size_t len, int64_t wall_ms);
/* A random RFC 4122 version 4 UUID; buf of 37 bytes. */
void store_uuid(char *buf);

#endif
