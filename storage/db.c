/*
 * Asynchronous libpq under libevent.
 *
 * Each connection is a small state machine: DOWN → CONNECTING (driven by
 * PQconnectPoll) → IDLE ⇄ BUSY.  A BUSY connection has exactly one statement
 * in flight; its socket event is one-shot and re-armed after every step, for
 * reading, or for writing while PQflush() still has output queued.  Results
 * are delivered from the connection's own callback after the whole result
 * has been read, so a callback may queue further statements freely.
 *
 * The LISTEN connection reuses the same machinery with a different role:
 * once connected it issues LISTEN, then only reads notifications.
 */
#include "storage/db.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#define RECONNECT_MIN_MS 100
#define RECONNECT_MAX_MS 5000

struct db_req {
	struct db_req *next;
	char *sql;
	/*
	 * A statement prepared once per connection under this name, then only
	 * executed (db_query_prepared()); NULL: sent whole every time.
	 */
	char *name;
	bool preparing;	 /* its PQsendPrepare is in flight */
	bool reprepared; /* prepared again after the server forgot it */
	int nparams;
	char **params;
	db_result_cb cb;
	void *arg;
	bool wait;
	int64_t sent_mono; /* for the latency histogram */
	/* For a request failed before it ran: delivered later, never inline. */
	enum db_err_kind fail_kind;
	char *fail_msg;
};

enum conn_state {
	CONN_DOWN,
	CONN_CONNECTING,
	CONN_LISTEN_SETUP,
	CONN_IDLE,
	CONN_BUSY
};

struct db_conn {
	struct event_base *base;
	const char *conninfo;
	PGconn *pg;
	enum conn_state state;
	struct event *io;    /* one-shot socket event */
	struct event *retry; /* reconnect timer */
	int backoff_ms;
	struct db_req *req; /* in flight when BUSY */
	PGresult *res;	    /* first result of the statement in flight */
	/* The statements prepared on this session; a new session has none. */
	char **prepared;
	int nprepared;
	/* This session's warm-up (db_pool_warm()), sent before the pool's work. */
	struct db_req *own, *own_tail;
	int warm_left; /* its statements not answered yet, in flight or queued */
	/* owner: exactly one of these is set */
	struct db_pool *pool;
	struct db_listener *listener;
};

struct db_pool {
	struct event_base *base;
	char *conninfo;
	int size;
	struct db_conn *conns;
	struct db_req *head, *tail;		  /* waiting for a connection */
	struct db_req *failed_head, *failed_tail; /* failed before running */
	struct event *deliver;			  /* delivers the failed list */
	void (*on_connect)(void *arg);
	void *on_connect_arg;
	struct db_warm *warm; /* what every new session runs first */
	unsigned long long queries, errors, reconnects, prepares;
	int queue_limit;	   /* statements waiting at most; 0: no limit */
	struct db_pool *next_pool; /* every pool, for the metrics */
};

/* A statement every session of a pool prepares and runs first (db_pool_warm()). */
struct db_warm {
	struct db_warm *next;
	char *name, *sql;
	int nparams;
	char **params;
	int times;
};

struct db_listener {
	struct db_conn conn;
	char *conninfo;
	char *channel;
	void (*cb)(void *arg);
	void *arg;
	struct event *fire; /* debounced: one call per burst */
};

static void conn_start(struct db_conn *c);
static void conn_lost(struct db_conn *c, const char *why);
static void conn_arm(struct db_conn *c, short what);
static void conn_io_cb(evutil_socket_t fd, short what, void *arg);
static void pool_dispatch(struct db_pool *p);
static void listener_connected(struct db_listener *l);
static void conn_send(struct db_conn *c, struct db_req *r);

/*
 * The metrics: the pools' own statistics, read when the exposition is
 * made (summed over the pools, though esaasd has one), and the latency of
 * every statement from sending it to its whole result.
 */
enum pool_figure {
	FIG_SIZE,
	FIG_CONNECTIONS,
	FIG_QUEUED,
	FIG_QUERIES,
	FIG_ERRORS,
	FIG_CONNECTS,
	FIG_PREPARES
};

static struct db_pool *all_pools;
static struct metric_series *query_duration;

static void pool_collect_cb(struct metrics_sink *sink, void *arg)
{
	enum pool_figure fig = (enum pool_figure)(intptr_t)arg;
	double busy = 0, idle = 0, total = 0;

	for (struct db_pool *p = all_pools; p; p = p->next_pool) {
		struct db_stats st;

		db_pool_stats(p, &st);
		busy += st.busy;
		idle += st.connected - st.busy;
		switch (fig) {
		case FIG_SIZE:
			total += p->size;
			break;
		case FIG_QUEUED:
			total += st.queued;
			break;
		case FIG_QUERIES:
			total += (double)st.queries;
			break;
		case FIG_ERRORS:
			total += (double)st.errors;
			break;
		case FIG_CONNECTS:
			total += (double)st.reconnects;
			break;
		case FIG_PREPARES:
			total += (double)st.prepares;
			break;
		default:
			break;
		}
	}
	if (fig == FIG_CONNECTIONS) {
		const char *const idle_v[] = {"idle"}, *const busy_v[] = {"busy"};

		metrics_sink_sample(sink, idle_v, idle);
		metrics_sink_sample(sink, busy_v, busy);
	} else {
		metrics_sink_sample(sink, NULL, total);
	}
}

static void metrics_setup(void)
{
	static const char *const state[] = {"state", NULL};
	static const struct {
		enum metric_type type;
		const char *name, *help;
		const char *const *labels;
		enum pool_figure fig;
	} figures[] = {
		{METRIC_GAUGE, "esaas_db_pool_size", "Connections the pool is configured to hold.",
		 NULL, FIG_SIZE},
		{METRIC_GAUGE, "esaas_db_pool_connections",
		 "Established connections, idle or busy with a statement.", state, FIG_CONNECTIONS},
		{METRIC_GAUGE, "esaas_db_pool_queued_statements",
		 "Statements waiting for a free connection.", NULL, FIG_QUEUED},
		{METRIC_COUNTER, "esaas_db_queries_total", "Statements sent to PostgreSQL.", NULL,
		 FIG_QUERIES},
		{METRIC_COUNTER, "esaas_db_query_errors_total",
		 "Statements that failed: an error answer, a lost connection, or no connection.",
		 NULL, FIG_ERRORS},
		{METRIC_COUNTER, "esaas_db_connects_total",
		 "Connections established, the first ones and every reconnection.", NULL,
		 FIG_CONNECTS},
		{METRIC_COUNTER, "esaas_db_statements_prepared_total",
		 "Statements prepared on a connection: once per connection and statement, again "
		 "after a reconnection.",
		 NULL, FIG_PREPARES},
	};
	struct metrics *reg = metrics_default();

	if (query_duration)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(figures); i++)
		metrics_collector(reg, figures[i].type, figures[i].name, figures[i].help,
				  figures[i].labels, pool_collect_cb,
				  (void *)(intptr_t)figures[i].fig);
	query_duration = metrics_series(
		metrics_histogram(reg, "esaas_db_query_duration_seconds",
				  "Time from sending a statement to having its whole result.", NULL,
				  metrics_latency_buckets, metrics_latency_nbuckets),
		NULL);
}

static const char SESSION_SETUP_SQL[] =
	"SELECT set_config('statement_timeout', '60s', false),"
	" set_config('lock_timeout', '10s', false),"
	" set_config('idle_in_transaction_session_timeout', '60s', false)";

static void session_setup_cb(void *arg, PGresult *res, const struct db_error *err)
{
	if (err)
		log_warn("database session setup failed: %s", err->message);
}

/* --- requests ------------------------------------------------------------ */

static struct db_req *req_new(const char *sql, int nparams, const char *const *params,
			      db_result_cb cb, void *arg, bool wait)
{
	struct db_req *r = xcalloc(1, sizeof(*r));
	r->sql = xstrdup(sql);
	r->nparams = nparams;
	if (nparams > 0) {
		r->params = xcalloc((size_t)nparams, sizeof(char *));
		for (int i = 0; i < nparams; i++)
			r->params[i] = params[i] ? xstrdup(params[i]) : NULL;
	}
	r->cb = cb;
	r->arg = arg;
	r->wait = wait;
	return r;
}

static void req_free(struct db_req *r)
{
	for (int i = 0; i < r->nparams; i++)
		free(r->params[i]);
	free(r->params);
	free(r->sql);
	free(r->name);
	free(r->fail_msg);
	free(r);
}

static void req_fail_now(struct db_req *r, enum db_err_kind kind, const char *msg)
{
	struct db_error err = {.kind = kind, .sqlstate = "", .message = msg};
	r->cb(r->arg, NULL, &err);
	req_free(r);
}

static void warm_cb(void *arg, PGresult *res, const struct db_error *err)
{
	struct db_conn *c = arg;
	(void)res;
	/* Nothing depends on it: the statement's first real use prepares it. */
	if (err)
		log_debug("warming a statement on a new database session failed: %s", err->message);
	/* 0 already when the session ended with it in flight. */
	if (c->warm_left > 0)
		c->warm_left--;
}

/* w's runs queued on c, ahead of anything from the pool's queue. */
static void conn_queue_warm(struct db_conn *c, const struct db_warm *w)
{
	for (int i = 0; i < w->times; i++) {
		struct db_req *r = req_new(w->sql, w->nparams, (const char *const *)w->params,
					   warm_cb, c, true);
		r->name = w->name ? xstrdup(w->name) : NULL;
		c->warm_left++;
		if (c->own_tail)
			c->own_tail->next = r;
		else
			c->own = r;
		c->own_tail = r;
	}
}

/* Queue r to fail from the event loop: callers of db_query never see their
 * callback run before db_query has returned. */
static void pool_fail_later(struct db_pool *p, struct db_req *r, enum db_err_kind kind,
			    const char *msg)
{
	r->fail_kind = kind;
	r->fail_msg = xstrdup(msg);
	r->next = NULL;
	if (p->failed_tail)
		p->failed_tail->next = r;
	else
		p->failed_head = r;
	p->failed_tail = r;
	event_active(p->deliver, EV_TIMEOUT, 0);
}

static void pool_deliver_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db_pool *p = arg;
	struct db_req *r = p->failed_head;
	p->failed_head = p->failed_tail = NULL;
	while (r) {
		struct db_req *next = r->next;
		p->errors++;
		char *msg = r->fail_msg;
		r->fail_msg = NULL;
		req_fail_now(r, r->fail_kind, msg);
		free(msg);
		r = next;
	}
}

/* --- one connection -------------------------------------------------------- */

static void conn_forget_prepared(struct db_conn *c)
{
	for (int i = 0; i < c->nprepared; i++)
		free(c->prepared[i]);
	free(c->prepared);
	c->prepared = NULL;
	c->nprepared = 0;
}

static bool conn_has_prepared(const struct db_conn *c, const char *name)
{
	for (int i = 0; i < c->nprepared; i++)
		if (strcmp(c->prepared[i], name) == 0)
			return true;
	return false;
}

static void conn_drop_prepared(struct db_conn *c, const char *name)
{
	for (int i = 0; i < c->nprepared; i++) {
		if (strcmp(c->prepared[i], name) == 0) {
			free(c->prepared[i]);
			c->prepared[i] = c->prepared[--c->nprepared];
			return;
		}
	}
}

static void req_free(struct db_req *r);

/* The warm-up not sent yet: a new session starts it again. */
static void conn_drop_own(struct db_conn *c)
{
	while (c->own) {
		struct db_req *r = c->own;
		c->own = r->next;
		req_free(r);
	}
	c->own_tail = NULL;
	c->warm_left = 0;
}

static void conn_close(struct db_conn *c)
{
	if (c->io) {
		event_free(c->io);
		c->io = NULL;
	}
	if (c->res) {
		PQclear(c->res);
		c->res = NULL;
	}
	if (c->pg) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	/* Prepared statements live and die with their session. */
	conn_forget_prepared(c);
	conn_drop_own(c);
	c->state = CONN_DOWN;
}

static void conn_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_start(arg);
}

static void conn_schedule_retry(struct db_conn *c)
{
	if (!c->retry)
		c->retry = evtimer_new(c->base, conn_retry_cb, c);
	/* Half fixed, half jitter, so replicas do not reconnect in lockstep. */
	int ms = c->backoff_ms / 2 + (int)rand_below((uint64_t)c->backoff_ms / 2 + 1);
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(c->retry, &tv);
	c->backoff_ms = c->backoff_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : c->backoff_ms * 2;
}

static bool pool_any_connected(const struct db_pool *p)
{
	for (int i = 0; i < p->size; i++)
		if (p->conns[i].state == CONN_IDLE || p->conns[i].state == CONN_BUSY)
			return true;
	return false;
}

static void pool_fail_unwaiting(struct db_pool *p, const char *why)
{
	struct db_req **pp = &p->head;
	p->tail = NULL;
	while (*pp) {
		struct db_req *r = *pp;
		if (!r->wait) {
			*pp = r->next;
			char *msg = xasprintf("database unavailable: %s", why);
			pool_fail_later(p, r, DB_ERR_UNAVAILABLE, msg);
			free(msg);
		} else {
			p->tail = r;
			pp = &r->next;
		}
	}
}

/* The connection died: fail what was in flight, and come back later. */
static void conn_lost(struct db_conn *c, const char *why)
{
	char *msg = xstrdup(why && *why ? why : "connection lost");
	/* libpq messages end in a newline; logs and errors are one line. */
	for (char *q = msg + strlen(msg); q > msg && (q[-1] == '\n' || q[-1] == ' '); q--)
		q[-1] = '\0';
	for (char *q = msg; *q; q++)
		if (*q == '\n')
			*q = ' ';
	bool was_up =
		c->state == CONN_IDLE || c->state == CONN_BUSY || c->state == CONN_LISTEN_SETUP;
	struct db_req *r = c->req;
	c->req = NULL;
	conn_close(c);
	if (was_up)
		log_warn("database connection lost: %s", msg);
	else
		log_debug("database connection failed: %s", msg);
	if (r) {
		if (c->pool)
			c->pool->errors++;
		req_fail_now(r, DB_ERR_CONNECTION, msg);
	}
	if (c->pool && !pool_any_connected(c->pool))
		pool_fail_unwaiting(c->pool, msg);
	free(msg);
	conn_schedule_retry(c);
}

static void conn_arm(struct db_conn *c, short what)
{
	if (c->io)
		event_free(c->io);
	c->io = event_new(c->base, PQsocket(c->pg), what, conn_io_cb, c);
	event_add(c->io, NULL);
}

/*
 * TCP keepalives and a user timeout find a dead server in seconds rather
 * than minutes; the caller's conninfo (expanded from dbname) is read first
 * and wins for anything it sets that is not listed here.
 */
static PGconn *connect_start(const char *conninfo)
{
	static const char *const keys[] = {
		"dbname",	    "fallback_application_name", "connect_timeout",
		"keepalives",	    "keepalives_idle",		 "keepalives_interval",
		"keepalives_count", "tcp_user_timeout",		 NULL,
	};
	const char *const values[] = {
		conninfo, "esaasd", "10", "1", "30", "10", "3", "30000", NULL,
	};
	return PQconnectStartParams(keys, values, 1);
}

static void conn_start(struct db_conn *c)
{
	c->pg = connect_start(c->conninfo);
	if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
		conn_lost(c, c->pg ? PQerrorMessage(c->pg) : "out of memory");
		return;
	}
	c->state = CONN_CONNECTING;
	/* PQconnectStart behaves as if the last poll said "writing". */
	conn_arm(c, EV_WRITE);
}

static void conn_became_ready(struct db_conn *c)
{
	PQsetnonblocking(c->pg, 1);
	c->backoff_ms = RECONNECT_MIN_MS;
	if (c->pool) {
		struct db_pool *p = c->pool;
		p->reconnects++;
		log_debug("database connection established");
		/*
		 * Bound every statement: a row lock held by someone's open
		 * transaction must not stall the engine's writer for ever.
		 */
		conn_send(c, req_new(SESSION_SETUP_SQL, 0, NULL, session_setup_cb, p, true));
		for (const struct db_warm *w = p->warm; w; w = w->next)
			conn_queue_warm(c, w);
		if (p->on_connect)
			p->on_connect(p->on_connect_arg);
	} else {
		listener_connected(c->listener);
	}
}

static void conn_poll_connect(struct db_conn *c)
{
	switch (PQconnectPoll(c->pg)) {
	case PGRES_POLLING_READING:
		conn_arm(c, EV_READ);
		break;
	case PGRES_POLLING_WRITING:
		conn_arm(c, EV_WRITE);
		break;
	case PGRES_POLLING_OK:
		conn_became_ready(c);
		break;
	default:
		conn_lost(c, PQerrorMessage(c->pg));
		break;
	}
}

/*
 * Send r: whole, or, for a named statement, executed by name, after
 * preparing it first if this session has not yet (one round trip more, once
 * per session: after a reconnect the new session prepares it again).
 */
static void conn_send(struct db_conn *c, struct db_req *r)
{
	int f = -1, ok;
	r->preparing = r->name && !conn_has_prepared(c, r->name);
	if (r->preparing)
		ok = PQsendPrepare(c->pg, r->name, r->sql, r->nparams, NULL);
	else if (r->name)
		ok = PQsendQueryPrepared(c->pg, r->name, r->nparams, (const char *const *)r->params,
					 NULL, NULL, 0);
	else
		ok = PQsendQueryParams(c->pg, r->sql, r->nparams, NULL,
				       (const char *const *)r->params, NULL, NULL, 0);
	if (ok)
		f = PQflush(c->pg);
	if (f < 0) {
		/* We may be inside db_query(): fail through the loop, not inline. */
		pool_fail_later(c->pool, r, DB_ERR_CONNECTION, PQerrorMessage(c->pg));
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	c->req = r;
	c->state = CONN_BUSY;
	if (!r->sent_mono)
		r->sent_mono = now_mono_ms();
	conn_arm(c, f == 1 ? EV_READ | EV_WRITE : EV_READ);
}

/*
 * The answer to a PQsendPrepare: on success the statement is this
 * session's, and r is executed at once; true when r is sent (or failed
 * with the connection), false when the preparation failed and r is to be
 * answered with that error.
 */
static bool conn_prepared(struct db_conn *c, struct db_req *r, PGresult *res)
{
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
		return false;
	PQclear(res);
	c->res = NULL;
	c->req = NULL;
	c->prepared = xrealloc(c->prepared, (size_t)(c->nprepared + 1) * sizeof(*c->prepared));
	c->prepared[c->nprepared++] = xstrdup(r->name);
	if (c->pool)
		c->pool->prepares++;
	conn_send(c, r);
	return true;
}

/*
 * The server does not know a statement this session prepared (someone ran
 * DEALLOCATE or DISCARD on it): forget it here and prepare it again, once.
 * Nothing was executed, so sending it again is safe.
 */
static bool conn_reprepare(struct db_conn *c, struct db_req *r, PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (!r->name || r->reprepared || !state || strcmp(state, "26000") != 0)
		return false;
	log_warn("prepared statement %s was gone from its session; preparing it again", r->name);
	PQclear(res);
	c->res = NULL;
	c->req = NULL;
	r->reprepared = true;
	conn_drop_prepared(c, r->name);
	conn_send(c, r);
	return true;
}

/* False when the request went on instead (executed after its preparation). */
static bool conn_finish_request(struct db_conn *c)
{
	struct db_req *r = c->req;
	PGresult *res = c->res;
	if (r->preparing ? conn_prepared(c, r, res) : conn_reprepare(c, r, res))
		return false;
	c->req = NULL;
	c->res = NULL;
	c->state = CONN_IDLE;
	/* Armed before the callback, which may send the next statement here. */
	conn_arm(c, EV_READ);
	if (c->pool && query_duration)
		metrics_observe(query_duration, (double)(now_mono_ms() - r->sent_mono) / 1000.0);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		r->cb(r->arg, res, NULL);
	} else {
		const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		const char *msg = res ? PQresultErrorMessage(res) : "no result";
		struct db_error err = {.kind = DB_ERR_QUERY,
				       .sqlstate = state ? state : "",
				       .message = msg && *msg ? msg : "query failed"};
		if (c->pool)
			c->pool->errors++;
		r->cb(r->arg, NULL, &err);
	}
	if (res)
		PQclear(res);
	req_free(r);
	return true;
}

enum read_status {
	READ_LOST,
	READ_PENDING,
	READ_SENT, /* the request went on: its next part is sent and armed for */
	READ_DONE
};

/* Read what has arrived for the statement in flight. */
static enum read_status conn_read_results(struct db_conn *c)
{
	if (!PQconsumeInput(c->pg)) {
		conn_lost(c, PQerrorMessage(c->pg));
		return READ_LOST;
	}
	while (!PQisBusy(c->pg)) {
		PGresult *res = PQgetResult(c->pg);
		if (!res) {
			if (PQstatus(c->pg) == CONNECTION_BAD) {
				conn_lost(c, PQerrorMessage(c->pg));
				return READ_LOST;
			}
			if (conn_finish_request(c))
				return READ_DONE;
			return c->state == CONN_DOWN ? READ_LOST : READ_SENT;
		}
		/* One command per statement: keep the first result, drop any other. */
		if (!c->res)
			c->res = res;
		else
			PQclear(res);
	}
	return READ_PENDING;
}

static void pool_conn_io(struct db_conn *c, short what)
{
	if (c->state == CONN_IDLE) {
		/* Nothing in flight: the server spoke on its own (notice, or closing). */
		if (!PQconsumeInput(c->pg) || PQstatus(c->pg) == CONNECTION_BAD) {
			conn_lost(c, PQerrorMessage(c->pg));
			return;
		}
		PGnotify *n;
		while ((n = PQnotifies(c->pg)))
			PQfreemem(n);
		conn_arm(c, EV_READ);
		return;
	}
	if (what & EV_WRITE) {
		int f = PQflush(c->pg);
		if (f < 0) {
			conn_lost(c, PQerrorMessage(c->pg));
			return;
		}
		if (f == 1) {
			conn_arm(c, EV_READ | EV_WRITE);
			return;
		}
	}
	switch (conn_read_results(c)) {
	case READ_LOST:
	case READ_SENT:
		break;
	case READ_PENDING: {
		/* libpq may still hold output that reading made room for. */
		int f = PQflush(c->pg);
		if (f < 0)
			conn_lost(c, PQerrorMessage(c->pg));
		else
			conn_arm(c, f == 1 ? EV_READ | EV_WRITE : EV_READ);
		break;
	}
	case READ_DONE:
		pool_dispatch(c->pool);
		break;
	}
}

static void listener_io(struct db_conn *c)
{
	struct db_listener *l = c->listener;
	if (!PQconsumeInput(c->pg) || PQstatus(c->pg) == CONNECTION_BAD) {
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	while (c->state == CONN_LISTEN_SETUP && !PQisBusy(c->pg)) {
		PGresult *res = PQgetResult(c->pg);
		if (!res) {
			c->state = CONN_IDLE;
			log_debug("listening on %s", l->channel);
			/* Anything sent while we were away is lost: look now. */
			event_active(l->fire, EV_TIMEOUT, 0);
			break;
		}
		bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
		if (!ok)
			log_error("LISTEN %s failed: %s", l->channel, PQresultErrorMessage(res));
		PQclear(res);
		if (!ok) {
			conn_lost(c, "LISTEN failed");
			return;
		}
	}
	bool any = false;
	PGnotify *n;
	while ((n = PQnotifies(c->pg))) {
		any = true;
		PQfreemem(n);
	}
	if (any)
		event_active(l->fire, EV_TIMEOUT, 0);
	conn_arm(c, EV_READ);
}

static void conn_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db_conn *c = arg;
	if (c->state == CONN_CONNECTING)
		conn_poll_connect(c);
	else if (c->pool)
		pool_conn_io(c, what);
	else
		listener_io(c);
}

/* --- the pool ---------------------------------------------------------------- */

static void pool_dispatch(struct db_pool *p)
{
	for (int i = 0; i < p->size; i++) {
		struct db_conn *c = &p->conns[i];
		if (c->state != CONN_IDLE)
			continue;
		if (c->own) {
			/* Its warm-up first: the pool's work goes to warm sessions. */
			struct db_req *r = c->own;
			c->own = r->next;
			if (!c->own)
				c->own_tail = NULL;
			r->next = NULL;
			conn_send(c, r);
			continue;
		}
		if (!p->head)
			continue;
		struct db_req *r = p->head;
		p->head = r->next;
		if (!p->head)
			p->tail = NULL;
		r->next = NULL;
		p->queries++;
		conn_send(c, r);
	}
}

struct db_pool *db_pool_new(struct event_base *base, const char *conninfo, int size)
{
	struct db_pool *p = xcalloc(1, sizeof(*p));
	metrics_setup();
	p->next_pool = all_pools;
	all_pools = p;
	p->base = base;
	p->conninfo = xstrdup(conninfo);
	p->size = size < 1 ? 1 : size;
	p->conns = xcalloc((size_t)p->size, sizeof(struct db_conn));
	p->deliver = event_new(base, -1, 0, pool_deliver_cb, p);
	for (int i = 0; i < p->size; i++) {
		struct db_conn *c = &p->conns[i];
		c->base = base;
		c->conninfo = p->conninfo;
		c->pool = p;
		c->backoff_ms = RECONNECT_MIN_MS;
		conn_start(c);
	}
	return p;
}

void db_pool_free(struct db_pool *p)
{
	if (!p)
		return;
	for (struct db_pool **pp = &all_pools; *pp; pp = &(*pp)->next_pool) {
		if (*pp == p) {
			*pp = p->next_pool;
			break;
		}
	}
	for (int i = 0; i < p->size; i++) {
		struct db_conn *c = &p->conns[i];
		struct db_req *r = c->req;
		c->req = NULL;
		conn_close(c);
		if (c->retry)
			event_free(c->retry);
		if (r)
			req_fail_now(r, DB_ERR_UNAVAILABLE, "database pool closed");
	}
	while (p->head) {
		struct db_req *r = p->head;
		p->head = r->next;
		req_fail_now(r, DB_ERR_UNAVAILABLE, "database pool closed");
	}
	pool_deliver_cb(-1, 0, p);
	event_free(p->deliver);
	while (p->warm) {
		struct db_warm *w = p->warm;
		p->warm = w->next;
		for (int i = 0; i < w->nparams; i++)
			free(w->params[i]);
		free(w->params);
		free(w->name);
		free(w->sql);
		free(w);
	}
	free(p->conns);
	free(p->conninfo);
	free(p);
}

/* Are queue_limit statements waiting already?  The walk stops at the limit. */
static bool pool_queue_full(const struct db_pool *p)
{
	int n = 0;

	if (p->queue_limit <= 0)
		return false;
	for (const struct db_req *q = p->head; q && n < p->queue_limit; q = q->next)
		n++;
	return n >= p->queue_limit;
}

static void pool_enqueue(struct db_pool *p, struct db_req *r)
{
	if (!r->wait && !pool_any_connected(p)) {
		pool_fail_later(p, r, DB_ERR_UNAVAILABLE, "database unavailable: no connection");
		return;
	}
	if (pool_queue_full(p)) {
		pool_fail_later(p, r, DB_ERR_BUSY,
				"database busy: the queue of statements is full");
		return;
	}
	if (p->tail)
		p->tail->next = r;
	else
		p->head = r;
	p->tail = r;
	pool_dispatch(p);
}

void db_query(struct db_pool *p, const char *sql, int nparams, const char *const *params,
	      db_result_cb cb, void *arg)
{
	pool_enqueue(p, req_new(sql, nparams, params, cb, arg, false));
}

void db_query_wait(struct db_pool *p, const char *sql, int nparams, const char *const *params,
		   db_result_cb cb, void *arg)
{
	pool_enqueue(p, req_new(sql, nparams, params, cb, arg, true));
}

void db_query_prepared(struct db_pool *p, const char *name, const char *sql, int nparams,
		       const char *const *params, db_result_cb cb, void *arg)
{
	struct db_req *r = req_new(sql, nparams, params, cb, arg, true);
	r->name = xstrdup(name);
	pool_enqueue(p, r);
}

void db_pool_set_queue_limit(struct db_pool *p, int limit)
{
	p->queue_limit = limit > 0 ? limit : 0;
}

bool db_pool_connected(const struct db_pool *p)
{
	return pool_any_connected(p);
}

void db_pool_on_connect(struct db_pool *p, void (*cb)(void *arg), void *arg)
{
	p->on_connect = cb;
	p->on_connect_arg = arg;
}

void db_pool_warm(struct db_pool *p, const char *name, const char *sql, int nparams,
		  const char *const *params, int times)
{
	struct db_warm *w = xcalloc(1, sizeof(*w));
	w->name = name ? xstrdup(name) : NULL;
	w->sql = xstrdup(sql);
	w->nparams = nparams;
	w->times = times;
	if (nparams > 0) {
		w->params = xcalloc((size_t)nparams, sizeof(char *));
		for (int i = 0; i < nparams; i++)
			w->params[i] = params[i] ? xstrdup(params[i]) : NULL;
	}
	struct db_warm **pp = &p->warm;
	while (*pp)
		pp = &(*pp)->next;
	*pp = w;
	/* The sessions already up warm too, between the statements they run. */
	for (int i = 0; i < p->size; i++)
		if (p->conns[i].state == CONN_IDLE || p->conns[i].state == CONN_BUSY)
			conn_queue_warm(&p->conns[i], w);
	pool_dispatch(p);
}

bool db_pool_warmed(const struct db_pool *p)
{
	bool any = false;
	for (int i = 0; i < p->size; i++) {
		const struct db_conn *c = &p->conns[i];
		if (c->state != CONN_IDLE && c->state != CONN_BUSY)
			continue;
		if (c->warm_left > 0)
			return false;
		any = true;
	}
	return any;
}

void db_pool_stats(const struct db_pool *p, struct db_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->queries = p->queries;
	out->errors = p->errors;
	out->reconnects = p->reconnects;
	out->prepares = p->prepares;
	for (int i = 0; i < p->size; i++) {
		if (p->conns[i].state == CONN_IDLE)
			out->connected++;
		else if (p->conns[i].state == CONN_BUSY)
			out->connected++, out->busy++;
	}
	for (const struct db_req *r = p->head; r; r = r->next)
		out->queued++;
}

/* --- LISTEN ------------------------------------------------------------------ */

static void listener_fire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db_listener *l = arg;
	l->cb(l->arg);
}

static void listener_connected(struct db_listener *l)
{
	struct db_conn *c = &l->conn;
	/* The channel is ours and constant, but quote it as an identifier anyway. */
	char *ident = PQescapeIdentifier(c->pg, l->channel, strlen(l->channel));
	if (!ident) {
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	char *sql = xasprintf("LISTEN %s", ident);
	PQfreemem(ident);
	int ok = PQsendQueryParams(c->pg, sql, 0, NULL, NULL, NULL, NULL, 0);
	free(sql);
	if (!ok || PQflush(c->pg) < 0) {
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	c->state = CONN_LISTEN_SETUP;
	conn_arm(c, EV_READ);
}

struct db_listener *db_listener_new(struct event_base *base, const char *conninfo,
				    const char *channel, void (*cb)(void *arg), void *arg)
{
	struct db_listener *l = xcalloc(1, sizeof(*l));
	l->conninfo = xstrdup(conninfo);
	l->channel = xstrdup(channel);
	l->cb = cb;
	l->arg = arg;
	l->fire = event_new(base, -1, 0, listener_fire_cb, l);
	l->conn.base = base;
	l->conn.conninfo = l->conninfo;
	l->conn.listener = l;
	l->conn.backoff_ms = RECONNECT_MIN_MS;
	conn_start(&l->conn);
	return l;
}

void db_listener_free(struct db_listener *l)
{
	if (!l)
		return;
	conn_close(&l->conn);
	if (l->conn.retry)
		event_free(l->conn.retry);
	event_free(l->fire);
	free(l->conninfo);
	free(l->channel);
	free(l);
}

/* --- results ----------------------------------------------------------------- */

const char *db_value(PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return PQgetvalue(res, row, col);
}

bool db_is_null(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) != 0;
}
