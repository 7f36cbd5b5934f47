/*
 * What the files of monitor/ share, and nothing outside monitor/ includes:
 * the sweep's state (the clusters watched, their reads, the observations on
 * their way to the database, the leases), and the functions one file calls
 * in another.  The public contract is monitor/sweep.h.
 */
#ifndef ESAAS_MONITOR_SWEEP_INTERNAL_H
#define ESAAS_MONITOR_SWEEP_INTERNAL_H

#include "monitor/sweep.h"
#include "es/version.h"
#include "storage/health.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>
#include <event2/util.h>
#include <jansson.h>

#define BATCH_MAX 256
#define FLUSH_MS 200
#define HEAP_NONE ((size_t)-1)

struct es;
struct es_call;
struct event;
struct metric;
struct metric_series;

enum health {
	HEALTH_UNKNOWN,
	HEALTH_GREEN,
	HEALTH_YELLOW,
	HEALTH_RED,
	HEALTH_UNREACHABLE
};

/* By enum health; "" for HEALTH_UNKNOWN. */
extern const char *const sweep_health_names[HEALTH_UNREACHABLE + 1];

enum read_phase {
	READ_HEALTH,
	READ_SHARDS,
	READ_EXPLAIN
};

struct read;
struct budget;

/* A cluster this replica watches. */
struct target {
	int64_t id;
	int shard;
	char *tenant, *name, *ns;
	enum health health;  /* as last written (or read from the database) */
	int nodes;	     /* -1: unknown */
	int unassigned;	     /* -1: unknown */
	int64_t observed_ms; /* wall clock of the last successful read; 0: none */
	int64_t due_mono;
	size_t heap_at; /* HEAP_NONE while not queued (a read in flight) */
	struct read *read;
	char *spec;	/* its recorded spec, JSON text */
	char *job;	/* the kind of the job running on it, or NULL */
	char *security; /* its Elasticsearch security, JSON text, or NULL */
	/* The maxUnavailable of each role's budget as last applied or seen
	 * ("011"), "" when not known; and the apply in flight, or NULL. */
	char budgets[ES_ROLE_COUNT + 1];
	struct budget *budget;
};

/* One read of one cluster: its health, then for a new red, the detail. */
struct read {
	struct sweep *s;
	struct target *t;
	struct es *es;
	struct es_call *call;
	struct event *timer;
	enum read_phase phase;
	int64_t started_mono;
	enum health health;
	int nodes, unassigned;
	json_t *detail;
	json_t *primary; /* the unassigned primary to explain */
};

/* An observation on its way to the database. */
struct obs {
	struct health_observation o; /* o.error and o.detail owned */
	enum health health, prev;
	int64_t at_ms;	     /* wall clock at the end of the read */
	char *tenant, *name; /* for a change to report; else NULL */
};

struct shard_lease {
	bool held;
	int64_t epoch;
	int64_t confirmed_mono; /* when the statement that renewed it was sent */
};

struct sweep {
	struct event_base *base;
	struct sweep_options opt;
	char *owner;
	char *es_url_template;
	char *es_connect_to;

	struct target **targets; /* by id */
	size_t ntargets;
	struct target **heap; /* by due time */
	size_t nheap, heap_cap;
	int reads;

	struct shard_lease shards[HEALTH_SHARDS];
	bool lease_in_flight;
	int64_t lease_sent_mono;
	bool refresh_in_flight, refresh_again;

	struct obs *pending, *writing_batch;
	size_t npending, pending_cap, nwriting;
	bool writing;

	struct event *lease_ev, *refresh_ev, *dispatch_ev, *flush_ev, *stop_ev;
	int queries; /* statements in flight */

	bool stopping, released, done_called;
	void (*done)(void *arg);
	void *done_arg;

	struct metric *collectors[9];
	struct metric_series *reads_ok, *reads_failed, *changes, *takeovers;
};

/* sweep.c: the helpers, and the end of a shutdown. */
struct timeval sweep_tv_ms(int64_t ms);
int64_t sweep_jittered_interval(const struct sweep *s);
enum health sweep_health_of(const char *s);
void sweep_check_done(struct sweep *s);

/* targets.c: the heap of due times, and the targets. */
void sweep_heap_push(struct sweep *s, struct target *t);
void sweep_heap_remove(struct sweep *s, struct target *t);
struct target *sweep_heap_pop(struct sweep *s);
void sweep_target_free(struct sweep *s, struct target *t);
struct target *sweep_target_find(const struct sweep *s, int64_t id);
void sweep_drop_shard(struct sweep *s, int shard);
void sweep_merge_targets(struct sweep *s, const struct health_target *rows, int n);

/* read.c: the reads. */
void sweep_read_cancel(struct read *r);
void sweep_dispatch_cb(evutil_socket_t fd, short what, void *arg);
void sweep_dispatch(struct sweep *s);

/* record.c: the writing. */
void sweep_obs_clear(struct obs *ob);
void sweep_flush_cb(evutil_socket_t fd, short what, void *arg);

/* budget.c: the disruption budgets held or given back after a read. */
void sweep_budget_check(struct sweep *s, struct target *t);
void sweep_budget_cancel(struct budget *b);

/* metrics.c */
void sweep_metrics_setup(struct sweep *s);

#endif
