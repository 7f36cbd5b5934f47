/*
 * Asynchronous PostgreSQL for the event loop.
 *
 * A pool of libpq connections, each with at most one statement in flight,
 * driven by one-shot events on PQsocket().  Callers queue parameterised
 * statements; a statement runs on the first idle connection and its result
 * is handed to the callback.  Lost connections are re-established with
 * capped exponential backoff; a statement that was in flight on a lost
 * connection fails with DB_ERR_CONNECTION (it may or may not have committed:
 * callers write statements that are safe to repeat or can tell).
 *
 * Every statement is a single command sent with PQsendQueryParams (or, for
 * the hot ones, prepared once per connection and executed by name), so it is
 * its own transaction: multi-row changes are written as one statement with
 * CTEs, which is how the engine gets group commit.
 */
#ifndef ESAAS_DB_H
#define ESAAS_DB_H

#include <stdbool.h>
#include <libpq-fe.h>

struct event_base;
struct db_pool;

enum db_err_kind {
	DB_OK = 0,
	DB_ERR_UNAVAILABLE, /* no connection could take it (database down) */
	DB_ERR_CONNECTION,  /* connection lost with the statement in flight */
	DB_ERR_QUERY,	    /* the server answered with an error */
	DB_ERR_BUSY,	    /* the pool's queue was full (db_pool_set_queue_limit) */
};

struct db_error {
	enum db_err_kind kind;
	const char *sqlstate; /* for DB_ERR_QUERY, e.g. "23505"; else "" */
	const char *message;  /* human-readable, never NULL */
};

/*
 * res is the statement's result (PGRES_TUPLES_OK or PGRES_COMMAND_OK) when
 * err is NULL, and NULL otherwise.  Both are valid during the call only.
 */
typedef void (*db_result_cb)(void *arg, PGresult *res, const struct db_error *err);

struct db_pool *db_pool_new(struct event_base *base, const char *conninfo, int size);
/* Close every connection; queued statements are failed with DB_ERR_UNAVAILABLE. */
void db_pool_free(struct db_pool *pool);

/*
 * Queue sql with text parameters (copied; a NULL entry is SQL NULL).  The
 * callback always runs exactly once, never from inside db_query() itself.
 * If no connection is up, the statement fails at once with
 * DB_ERR_UNAVAILABLE instead of waiting.
 */
void db_query(struct db_pool *pool, const char *sql, int nparams, const char *const *params,
	      db_result_cb cb, void *arg);

/* Like db_query, but waits for a connection (for the engine's own work). */
void db_query_wait(struct db_pool *pool, const char *sql, int nparams, const char *const *params,
		   db_result_cb cb, void *arg);

/*
 * Like db_query_wait, for a statement run often: each connection prepares
 * sql once under name (PQprepare) and from then on only executes it
 * (PQsendQueryPrepared), so the server parses it once per session and may
 * keep its plan.  A new session (after a reconnect) prepares it again
 * before its first use.  name is the statement's alone: one name, one sql.
 */
void db_query_prepared(struct db_pool *pool, const char *name, const char *sql, int nparams,
		       const char *const *params, db_result_cb cb, void *arg);

/*
 * Every session of the pool, once connected, prepares sql under name (the
 * name db_query_prepared() uses for it) and executes it times times with
 * params before it takes any other work, and so does every session already
 * up, between its statements; name NULL: sql is sent whole, unprepared.  PostgreSQL plans a prepared statement
 * afresh for each of its first five executions (custom plans) and only
 * then settles on the generic plan it keeps: a large statement costs
 * milliseconds each of those times, and a new session loads the catalogs
 * it reads on first use.  Warming moves that cost to the session's start,
 * off the first jobs.  params must make the statement change nothing; an
 * error is logged at debug level and ignored.
 */
void db_pool_warm(struct db_pool *pool, const char *name, const char *sql, int nparams,
		  const char *const *params, int times);
/*
 * True when at least one connection is established and every established
 * one is done warming: a session still warming takes the database's time
 * from the work of the others.
 */
bool db_pool_warmed(const struct db_pool *pool);

/*
 * At most limit statements wait for a connection (0: no limit); past it a
 * statement fails at once with DB_ERR_BUSY, and nothing was run.  For a
 * pool that serves requests from outside, which must not pile up.
 */
void db_pool_set_queue_limit(struct db_pool *pool, int limit);

/* True when at least one connection is established. */
bool db_pool_connected(const struct db_pool *pool);

/* Called whenever a connection is (re-)established: a place to re-check. */
void db_pool_on_connect(struct db_pool *pool, void (*cb)(void *arg), void *arg);

/* Statistics for /metrics and benchmarks. */
struct db_stats {
	unsigned long long queries, errors, reconnects;
	unsigned long long prepares; /* statements prepared, over all sessions */
	int connected, busy, queued;
};
void db_pool_stats(const struct db_pool *pool, struct db_stats *out);

/*
 * A dedicated connection that LISTENs on channel and calls cb once per
 * burst of notifications, and once after every (re)connect, since
 * notifications sent while it was down are lost.
 */
struct db_listener;
struct db_listener *db_listener_new(struct event_base *base, const char *conninfo,
				    const char *channel, void (*cb)(void *arg), void *arg);
void db_listener_free(struct db_listener *l);

/* Helpers for reading results. */
const char *db_value(PGresult *res, int row, int col); /* NULL if SQL NULL */
bool db_is_null(PGresult *res, int row, int col);

#endif
