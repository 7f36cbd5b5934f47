/*
 * What bench/bench_engine.c and bench/bench_engine_pgbench.c share: the
 * options, the benchmark's state, a throughput result, and the functions
 * one calls in the other.
 */
#ifndef ESAAS_BENCH_BENCH_ENGINE_H
#define ESAAS_BENCH_BENCH_ENGINE_H

#include "tests/integration/harness.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#define MAX_CONCURRENCY 16

struct options {
	int conc[MAX_CONCURRENCY]; /* engine workers, and pgbench clients */
	int nconc;
	int jobs;	       /* per engine throughput run */
	int pgbench_s;	       /* how long pgbench runs */
	int samples;	       /* of the wake-up latency */
	int queued, in_flight; /* the memory case */
	bool throughput, wakeup, memory;
	bool keep; /* leave PostgreSQL running for inspection */
};

struct bench {
	struct options opt;
	struct pg pg;
	bool pg_started;
	struct esaasd d; /* the esaasd-test running now, if any */
	int ndaemons;
};

struct tp_result {
	double rate; /* transitions per second */
	long long transitions;
	double seconds;
	double per_commit; /* transitions per commit (the engine's) */
};

/* Set by SIGINT and SIGTERM: stop at the next chance. */
extern volatile sig_atomic_t bench_interrupted;

/* bench_engine.c */
bool bench_sql_exec(PGconn *c, const char *sql, int nparams, const char *const *params);
bool bench_new_database(struct bench *b, char *url, size_t len);
bool bench_migrate(struct bench *b, const char *dburl);

/* bench_engine_pgbench.c */
bool pgbench_check_script(const char *script);
bool pgbench_throughput(struct bench *b, const char *script, int conc, struct tp_result *out);

#endif
