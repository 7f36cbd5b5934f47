/*
 * The real HTTP server, in-process: the API as esaasd-test builds it
 * (api_new() with the generic submit and the test workflows) listening on
 * 127.0.0.1 with a free port.  Each input is the raw bytes a client sends
 * on a fresh connection: anything from one clean request to a pipeline of
 * broken ones.  The client writes it, reads whatever comes back, closes its
 * side, and the loop turns until the server has let the connection go.
 *
 * The database.  By default the API gets a real db_pool whose server does
 * not exist (a socket directory that is not there): what esaasd has while
 * PostgreSQL is down.  Requests that pass their checks then reach the pool
 * and must be answered 503.  FUZZ_SERVER_DB=null passes no pool at all, as
 * the unit tests do; a request that passes its checks then reaches
 * storage_*() with NULL.
 *
 * With the pool down, every API handler answers in the loop turn that
 * read the request.  One route is added for the server's own lifetime
 * rules: GET /fuzz/later/{turns} answers 0 to 3 turns later, as a handler
 * waiting on a live database does, so the client can be gone by then.
 *
 * An input whose last byte is 0x04 (^D) is sent without that byte, and the
 * client hangs up at once, without waiting for the answer, which then goes
 * to a closed socket.  (libevent 2.1 stops reading while a request awaits
 * its reply, so it only learns of the hang-up when it writes; the close
 * callback of a pending request is left to the unit tests.)
 *
 * Besides crashes and leaks, the first answer is checked (support.h): an
 * HTTP status line, and for our JSON errors the {"error": {"code",
 * "message"[, "field"]}} shape, with a field for every 422.
 */
#include "api/api.h"
#include "api/http.h"
#include "api/routes.h"
#include "common/config.h"
#include "common/log.h"
#include "common/util.h"
#include "engine/registry.h"
#include "fuzz/support.h"
#include "storage/db.h"
#include "tests/testwf/testwf.h"

static const struct api_test_caller fuzz_admin = {"fuzz", "default", 3};

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

/* A conninfo that fails at once, without DNS or a timeout. */
#define DOWN_CONNINFO "host=/nonexistent/esaas-fuzz port=5432 connect_timeout=1"
/* Loop turns without news after which the exchange is taken as over. */
#define IDLE_TURNS 6
#define MAX_TURNS 512
/* The last byte of an input that hangs up without reading the answer. */
#define HANG_UP 0x04
/* Only the start of the answer is kept for the checks. */
#define KEEP_BYTES 65536

struct client {
	int fd;
	bool eof;
	char *in; /* what the server sent, NUL-terminated, at most KEEP_BYTES */
	size_t in_len;
};

static struct event_base *base;
static struct config cfg;
static struct wf_registry reg;
static struct db_pool *db;
static struct api *api;
static int port;
static bool echo; /* FUZZ_SERVER_ECHO=1: print what the server answered */

/* --- GET /fuzz/later/{turns} --- */

#define LATER_MAX_TURNS 3

struct later {
	struct http_req *req;
	int turns;
};

static void later_cb(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval now = {0, 0};
	struct later *l = arg;

	if (l->turns-- > 0) {
		event_base_once(base, -1, EV_TIMEOUT, later_cb, l, &now);
		return;
	}
	/* The reply is due whether or not anyone still listens: it frees req. */
	http_reply_json(l->req, 200, json_pack("{s:b}", "gone", http_req_gone(l->req)));
	free(l);
}

static void later_route_cb(struct http_req *req, void *arg)
{
	const char *s = http_req_param(req, "turns");
	struct later *l;
	int turns;

	if (!parse_int(s, 0, LATER_MAX_TURNS, &turns)) {
		http_reply_error(req, 404, "not_found", NULL, "turns must be 0 to %d",
				 LATER_MAX_TURNS);
		return;
	}
	l = xcalloc(1, sizeof(*l));
	l->req = req;
	l->turns = turns;
	later_cb(-1, 0, l);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *mode = getenv("FUZZ_SERVER_DB");
	const char *log_file = getenv("FUZZ_LOG_FILE");
	struct api_options opt;
	char err[256];

	support_init();
	echo = getenv("FUZZ_SERVER_ECHO") != NULL;
	signal(SIGPIPE, SIG_IGN);
	/* Debug level, so that every request's log line is written too. */
	if (!log_setup(LOG_DEBUG, LOG_FORMAT_JSON, log_file ? log_file : "/dev/null"))
		abort();

	config_defaults(&cfg);
	free(cfg.listen);
	cfg.listen = xstrdup("127.0.0.1:0");
	/* The API's port only: /metrics is on a listener of its own. */
	free(cfg.metrics_listen);
	cfg.metrics_listen = NULL;
	/* The smallest limits config.c allows, so that short inputs reach them. */
	cfg.http_max_body_bytes = 1024;
	cfg.http_max_header_bytes = 1024;
	cfg.http_timeout_s = 5;

	if (!testwf_register(&reg, err, sizeof(err))) {
		fprintf(stderr, "registry: %s\n", err);
		abort();
	}
	base = event_base_new();
	if (!base)
		abort();
	if (!mode || strcmp(mode, "null") != 0)
		db = db_pool_new(base, DOWN_CONNINFO, 1);

	memset(&opt, 0, sizeof(opt));
	opt.cfg = &cfg;
	opt.db = db;
	opt.reg = &reg;
	opt.generic_submit = true;
	/* Without an Authorization header, an admin: the handlers are reached.
	 * With one, the credential is checked (and refused, or 503 with the
	 * database down), so the guard is fuzzed too. */
	opt.test_caller = &fuzz_admin;
	api = api_new(base, &opt, err, sizeof(err));
	if (!api) {
		fprintf(stderr, "api_new: %s\n", err);
		abort();
	}
	http_server_route(api->http, "GET", "/fuzz/later/{turns}", later_route_cb, NULL);
	port = http_server_port(api->http);
	if (port <= 0)
		abort();
	return 0;
}

static void turn(void)
{
	event_base_loop(base, EVLOOP_NONBLOCK);
}

static void client_connect(struct client *c)
{
	struct sockaddr_in sa;

	memset(c, 0, sizeof(*c));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* Blocking: on loopback the kernel completes it before the server accepts. */
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc = c->fd < 0 ? -1 : connect(c->fd, (struct sockaddr *)&sa, sizeof(sa));
	/*
	 * A signal (libFuzzer's timers) may interrupt the blocking connect; it
	 * then completes on its own: wait until the socket is writable.
	 */
	if (rc != 0 && errno == EINTR) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
		int err = 0;
		socklen_t len = sizeof(err);
		while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
			;
		rc = getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0 ? 0 : -1;
	}
	if (rc != 0) {
		perror("connect to the server under test");
		abort();
	}
	if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) != 0)
		abort();
	c->in = xmalloc(KEEP_BYTES + 1);
	c->in[0] = '\0';
}

/* Take what the server sent; true when anything came, the end included. */
static bool client_read(struct client *c)
{
	char buf[16384];
	bool got = false;

	while (!c->eof) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

		if (n > 0) {
			size_t keep = KEEP_BYTES - c->in_len;

			if (keep > (size_t)n)
				keep = (size_t)n;
			memcpy(c->in + c->in_len, buf, keep);
			c->in_len += keep;
			c->in[c->in_len] = '\0';
			got = true;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			break;
		} else {
			c->eof = true; /* closed, or reset */
			got = true;
		}
	}
	return got;
}

static void client_send(struct client *c, const uint8_t *data, size_t size)
{
	size_t sent = 0;
	int stalls = 0;

	while (sent < size && !c->eof && stalls < MAX_TURNS) {
		ssize_t n = send(c->fd, data + sent, size - sent, MSG_NOSIGNAL);

		if (n > 0) {
			sent += (size_t)n;
			stalls = 0;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			turn();
			client_read(c);
			stalls++;
		} else {
			break; /* the server closed on us */
		}
	}
}

/* Turn the loop until neither side has had news for a while. */
static void settle(struct client *c)
{
	int idle = 0;

	for (int i = 0; i < MAX_TURNS && idle < IDLE_TURNS; i++) {
		turn();
		if (c && client_read(c))
			idle = 0;
		else
			idle++;
	}
}

static void client_free(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->in);
}

/* The value of header name in head (up to end), or NULL; allocated. */
static char *header_value(const char *head, const char *end, const char *name)
{
	size_t nlen = strlen(name);

	for (const char *p = strstr(head, "\r\n"); p && p < end; p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2;

		if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
			const char *v = line + nlen + 1;
			const char *eol = strstr(v, "\r\n");

			v += strspn(v, " \t");
			return eol ? xstrndup(v, (size_t)(eol - v)) : xstrdup(v);
		}
	}
	return NULL;
}

static void check_error_body(int status, const char *body, size_t len)
{
	json_error_t jerr;
	json_t *doc = json_loadb(body, len, 0, &jerr);
	json_t *e = json_object_get(doc, "error");

	support_expect(doc != NULL, "%d: the body is not JSON (%s): %.*s", status, jerr.text,
		       (int)len, body);
	support_expect(json_is_object(e), "%d: no \"error\" object: %.*s", status, (int)len, body);
	support_expect(json_is_string(json_object_get(e, "code")), "%d: no code: %.*s", status,
		       (int)len, body);
	support_expect(json_is_string(json_object_get(e, "message")), "%d: no message: %.*s",
		       status, (int)len, body);
	support_expect(status != 422 || json_is_string(json_object_get(e, "field")),
		       "422 without a field: %.*s", (int)len, body);
	json_decref(doc);
}

/* The first answer on the connection; evhttp's own (HTML) ones only need a status line. */
static void check_answer(const struct client *c, const uint8_t *data, size_t size)
{
	const char *in = c->in;
	const char *end;
	char *ctype, *clen;
	int64_t want;
	int status = 0;

	if (c->in_len == 0)
		return; /* closed without a word: an incomplete request */
	/* evhttp answers in the version it was asked in, even "HTTP/0.1". */
	support_expect(sscanf(in, "HTTP/%*d.%*d %d", &status) == 1,
		       "the answer has no status line: %.80s", in);
	end = strstr(in, "\r\n\r\n");
	if (!end || status < 400)
		return;
	/* A HEAD answer has no body: what follows belongs to the next request. */
	if (size >= 4 && memcmp(data, "HEAD", 4) == 0)
		return;

	ctype = header_value(in, end, "Content-Type");
	clen = header_value(in, end, "Content-Length");
	if (ctype && strcmp(ctype, "application/json") == 0) {
		const char *body = end + 4;
		size_t have = c->in_len - (size_t)(body - in);

		/* Without a Content-Length (HTTP/0.x) the body ends with the connection. */
		if (!clen)
			want = c->eof && c->in_len < KEEP_BYTES ? (int64_t)have : -1;
		else if (!parse_int64(clen, 0, INT64_MAX, &want))
			want = -1;
		support_expect(!clen || want >= 0, "%d with Content-Length \"%s\"", status, clen);
		if (want >= 0 && (size_t)want <= have)
			check_error_body(status, body, (size_t)want);
	}
	free(ctype);
	free(clen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct client c;

	if (size > 0 && data[size - 1] == HANG_UP) {
		client_connect(&c);
		client_send(&c, data, size - 1);
		client_free(&c);
		settle(NULL);
		return 0;
	}

	client_connect(&c);
	client_send(&c, data, size);
	settle(&c);
	/* The end of the request: the server answers what it has, then lets go. */
	shutdown(c.fd, SHUT_WR);
	settle(&c);
	if (echo)
		fprintf(stderr, "--- %zu bytes answered%s\n%s\n", c.in_len,
			c.eof ? ", then closed" : "", c.in);
	check_answer(&c, data, size);
	client_free(&c);
	settle(NULL);
	return 0;
}
