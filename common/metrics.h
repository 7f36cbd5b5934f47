/*
 * Prometheus metrics: counters, gauges and histograms, and their text
 * exposition (format 0.0.4, what GET /metrics serves).
 *
 * A family is registered once, at start-up, with its name, its help text
 * and its label names.  Its series are the combinations of label values
 * met since; metrics_series() finds or makes one, and a caller on a hot
 * path keeps the pointer, so that counting is an addition in memory.
 * Nothing locks: esaasd runs one event loop in one thread, and a registry
 * belongs to that thread.
 *
 * Families whose series are many and already held elsewhere (a gauge per
 * cluster) are collectors instead: a function that writes the samples
 * straight into the exposition when it is asked for, so nothing is kept
 * twice.  Hooks registered with metrics_on_collect() run before every
 * exposition, to bring gauges up to date from where their values live.
 *
 * Modules that are handed no registry (the HTTP client, the database pool,
 * the engine) register in the process's default one, which is the one
 * /metrics exposes.
 *
 * Names follow Prometheus's conventions and are checked at registration:
 * a malformed name, a name registered twice with another type or other
 * labels, or label values in the wrong number are bugs, and abort.
 */
#ifndef ESAAS_METRICS_H
#define ESAAS_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum metric_type {
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM,
};

struct metrics;	      /* a registry */
struct metric;	      /* a family: name, help, type, label names */
struct metric_series; /* one combination of label values */
struct metrics_sink;  /* where a collector writes its samples */

struct metrics *metrics_new(void);
void metrics_free(struct metrics *reg);

/*
 * The process's registry, made on first use.  metrics_default_free() is
 * for the very end of main(): the series pointers that modules keep die
 * with it.
 */
struct metrics *metrics_default(void);
void metrics_default_free(void);

/*
 * labels: the label names, NULL-terminated; NULL for none.  A family
 * without labels has its one series from the start, at 0.  Registering
 * the same name again with the same type and labels returns the family
 * registered first.
 */
struct metric *metrics_counter(struct metrics *reg, const char *name, const char *help,
			       const char *const *labels);
struct metric *metrics_gauge(struct metrics *reg, const char *name, const char *help,
			     const char *const *labels);
/* bounds: the buckets' upper bounds, increasing; +Inf is always added. */
struct metric *metrics_histogram(struct metrics *reg, const char *name, const char *help,
				 const char *const *labels, const double *bounds, size_t nbounds);

/* Bucket bounds in seconds for request and query latencies, 1 ms to 10 s. */
extern const double metrics_latency_buckets[];
extern const size_t metrics_latency_nbuckets;

/*
 * The series of family m with these label values (as many as its label
 * names; NULL for a family without labels), made at 0 when new.  The
 * pointer stays valid until the series is dropped or the registry freed.
 */
struct metric_series *metrics_series(struct metric *m, const char *const *values);
/* Forget a series (a cluster deleted, a label value gone for good). */
void metrics_series_drop(struct metric_series *s);

/* Counters and gauges; a counter only goes up (v >= 0). */
void metrics_inc(struct metric_series *s);
void metrics_add(struct metric_series *s, double v);
/* Gauges only. */
void metrics_set(struct metric_series *s, double v);
double metrics_value(const struct metric_series *s);
/* Histograms only. */
void metrics_observe(struct metric_series *s, double v);

/*
 * A family whose samples fn writes when the exposition is made, with
 * metrics_sink_sample(), one per series (counters and gauges only).
 * metrics_unregister() removes it, for owners that go away before the
 * registry does.
 */
typedef void (*metrics_collect_fn)(struct metrics_sink *sink, void *arg);
struct metric *metrics_collector(struct metrics *reg, enum metric_type type, const char *name,
				 const char *help, const char *const *labels, metrics_collect_fn fn,
				 void *arg);
void metrics_sink_sample(struct metrics_sink *sink, const char *const *values, double v);
void metrics_unregister(struct metric *m);

/* fn(arg) runs before every exposition; remove it with the same pair. */
void metrics_on_collect(struct metrics *reg, void (*fn)(void *arg), void *arg);
void metrics_on_collect_remove(struct metrics *reg, void (*fn)(void *arg), void *arg);

/*
 * The exposition of every family, in registration order: HELP and TYPE
 * lines, then the samples.  A new string the caller frees; *len its length.
 */
char *metrics_expose(struct metrics *reg, size_t *len);

#endif
