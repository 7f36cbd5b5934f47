/*
 * common/httpc.c against real servers: an evhttp server on the same event
 * loop (answers, errors, slow and hung requests), and `openssl s_server`
 * children for TLS (skipped where the openssl command is missing).
 *
 * Nothing here sleeps: every wait drives event_base_loop() until a
 * condition holds or a deadline passes, so a test that passes proves the
 * loop kept turning while requests were outstanding.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/httpc.h"
#include "common/util.h"
#include "tests/fakehttp.h"

/* --- the loop and its heartbeat --------------------------------------------------- */

static struct event_base *base;

/* A 10 ms timer: if anything stalled the loop, the gap between ticks shows it. */
struct ticker {
	struct event *ev;
	int64_t last;
	int64_t max_gap;
	int ticks;
};

static struct ticker ticker;

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	int64_t now = now_mono_ms();

	if (ticker.last && now - ticker.last > ticker.max_gap)
		ticker.max_gap = now - ticker.last;
	ticker.last = now;
	ticker.ticks++;
}

static void ticker_reset(void)
{
	ticker.last = 0;
	ticker.max_gap = 0;
	ticker.ticks = 0;
}

/* Turn the loop until *done or ms pass; the ticker keeps it from ever idling. */
static bool run_until(const bool *done, int64_t ms)
{
	int64_t deadline = now_mono_ms() + ms;

	while (!(done && *done) && now_mono_ms() < deadline)
		event_base_loop(base, EVLOOP_ONCE);
	return done && *done;
}

static void run_for(int64_t ms)
{
	run_until(NULL, ms);
}

/* --- the evhttp server ------------------------------------------------------------ */

static struct fakehttp *server;
static int port;
static int hung; /* /hang requests received */

/* A reply due later; dropped if the client goes away first. */
struct later {
	struct evhttp_request *req;
	struct event *ev;
};

static void later_gone_cb(struct evhttp_connection *conn, void *arg)
{
	struct later *l = arg;

	l->req = NULL;
}

static void later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct later *l = arg;

	if (l->req) {
		struct evbuffer *b = evbuffer_new();

		evhttp_connection_set_closecb(evhttp_request_get_connection(l->req), NULL, NULL);
		evbuffer_add_printf(b, "slow");
		evhttp_send_reply(l->req, 200, "OK", b);
		evbuffer_free(b);
	}
	event_free(l->ev);
	free(l);
}

static void serve_echo(struct evhttp_request *req, int index, struct evbuffer *out)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evbuffer *body = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(body);
	const char *auth = evhttp_find_header(in, "Authorization");
	const char *ctype = evhttp_find_header(in, "Content-Type");
	const char *xtest = evhttp_find_header(in, "X-Test");
	const char *expect = evhttp_find_header(in, "Expect");

	evbuffer_add_printf(out, "method=%s\nbody=%.*s\nauth=%s\nctype=%s\nxtest=%s\nexpect=%s\n",
			    fakehttp_hit(server, index)->method, (int)len,
			    (const char *)evbuffer_pullup(body, -1), auth ? auth : "-",
			    ctype ? ctype : "-", xtest ? xtest : "-", expect ? expect : "-");
}

static void serve_cb(struct evhttp_request *req, int index, void *arg)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = evhttp_uri_get_path(uri);
	const char *query = evhttp_uri_get_query(uri);
	struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
	struct evbuffer *out = evbuffer_new();
	int status;

	if (!strcmp(path, "/ok")) {
		evhttp_add_header(headers, "Content-Type", "text/plain");
		evhttp_add_header(headers, "X-Served-By", "test");
		evbuffer_add_printf(out, "hello");
		evhttp_send_reply(req, 200, "OK", out);
	} else if (!strncmp(path, "/status/", 8) && parse_int(path + 8, 100, 599, &status)) {
		if (status == 429) {
			evhttp_add_header(headers, "Retry-After", "2");
		} else if (status == 503) {
			/* An HTTP-date three seconds ahead. */
			char date[64];
			time_t t = time(NULL) + 3;
			struct tm tm;

			strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT",
				 gmtime_r(&t, &tm));
			evhttp_add_header(headers, "Retry-After", date);
		}
		evbuffer_add_printf(out, "{\"status\": %d}", status);
		evhttp_send_reply(req, status, "Whatever", out);
	} else if (!strcmp(path, "/slow")) {
		struct later *l = xcalloc(1, sizeof(*l));
		int ms = 50;
		struct timeval tv;

		if (query && !strncmp(query, "ms=", 3) && !parse_int(query + 3, 0, 60000, &ms))
			ms = 50;
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		l->req = req;
		l->ev = evtimer_new(base, later_cb, l);
		evhttp_connection_set_closecb(evhttp_request_get_connection(req), later_gone_cb, l);
		evtimer_add(l->ev, &tv);
	} else if (!strcmp(path, "/hang")) {
		/* Never answered; evhttp frees it when the client hangs up. */
		hung++;
	} else if (!strcmp(path, "/echo")) {
		serve_echo(req, index, out);
		evhttp_send_reply(req, 200, "OK", out);
	} else if (!strcmp(path, "/big")) {
		/* 2 MiB with a Content-Length. */
		for (int i = 0; i < 2048; i++)
			evbuffer_add_printf(out, "%01024d", 0);
		evhttp_send_reply(req, 200, "OK", out);
	} else if (!strcmp(path, "/big-chunked")) {
		/* 2 MiB without one: only counting the bytes can stop it. */
		evhttp_send_reply_start(req, 200, "OK");
		for (int i = 0; i < 32; i++) {
			struct evbuffer *chunk = evbuffer_new();

			for (int j = 0; j < 64; j++)
				evbuffer_add_printf(chunk, "%01024d", 0);
			evhttp_send_reply_chunk(req, chunk);
			evbuffer_free(chunk);
		}
		evhttp_send_reply_end(req);
	} else {
		evhttp_send_reply(req, 404, "Not Found", out);
	}
	evbuffer_free(out);
}

static int bound_port(evutil_socket_t fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	if (getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
		return -1;
	return ntohs(sin.sin_port);
}

/* A port nothing listens on (bound, then released). */
static int free_port(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int p;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	p = bound_port(fd);
	close(fd);
	return p;
}

static char *url(const char *path)
{
	return xasprintf("http://127.0.0.1:%d%s", port, path);
}

/* --- calls and what came back -------------------------------------------------------- */

struct got {
	bool done;
	int calls;
	long status;
	enum httpc_class klass;
	int curl_code;
	int64_t retry_after_ms;
	int64_t elapsed_ms;
	char *body;
	char *content_type;
	char *served_by;
	char *error;
};

static void got_clear(struct got *g)
{
	free(g->body);
	free(g->content_type);
	free(g->served_by);
	free(g->error);
	memset(g, 0, sizeof(*g));
}

static void got_cb(const struct httpc_response *r, void *arg)
{
	struct got *g = arg;
	const char *by = httpc_response_header(r, "X-Served-By");

	g->calls++;
	g->done = true;
	g->status = r->status;
	g->klass = r->klass;
	g->curl_code = r->curl_code;
	g->retry_after_ms = r->retry_after_ms;
	g->elapsed_ms = r->elapsed_ms;
	assert_non_null(r->body);
	assert_int_equal(strlen(r->body), r->body_len);
	g->body = xstrdup(r->body);
	g->content_type = r->content_type ? xstrdup(r->content_type) : NULL;
	g->served_by = by ? xstrdup(by) : NULL;
	g->error = r->error ? xstrdup(r->error) : NULL;
	/* An error exactly when the outcome is not OK. */
	assert_true((r->klass == HTTPC_OK) == (r->error == NULL));
}

static struct httpc *client;

/* GET path on our server with a timeout; waits for the answer. */
static void fetch(const char *path, long timeout_ms, struct got *g)
{
	char *u = url(path);
	struct httpc_request req = {.url = u, .timeout_ms = timeout_ms};

	httpc_send(client, &req, got_cb, g);
	free(u);
	/* Never inline. */
	assert_false(g->done);
	if (!run_until(&g->done, 20000))
		fail_msg("%s: no answer in 20 s", path);
	assert_int_equal(g->calls, 1);
}

static int group_setup(void **state)
{
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	server = fakehttp_start(base, serve_cb, NULL);
	if (!server)
		return -1;
	evhttp_set_allowed_methods(fakehttp_evhttp(server),
				   EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
					   EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH);
	port = fakehttp_port(server);
	client = httpc_new(base);
	if (!client)
		return -1;
	ticker.ev = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	struct timeval tv = {0, 10 * 1000};
	event_add(ticker.ev, &tv);
	return 0;
}

static int group_teardown(void **state)
{
	httpc_free(client);
	fakehttp_stop(server);
	event_free(ticker.ev);
	event_base_free(base);
	return 0;
}

/* --- plain HTTP ------------------------------------------------------------------------- */

static void test_ok(void **state)
{
	struct got g = {0};

	fetch("/ok", 0, &g);
	assert_int_equal(g.status, 200);
	assert_int_equal(g.klass, HTTPC_OK);
	assert_int_equal(g.curl_code, 0);
	assert_string_equal(g.body, "hello");
	assert_string_equal(g.content_type, "text/plain");
	assert_string_equal(g.served_by, "test");
	assert_int_equal(g.retry_after_ms, -1);
	assert_null(g.error);
	assert_int_equal(httpc_pending(client), 0);
	got_clear(&g);
}

static void test_status_classes(void **state)
{
	struct {
		int status;
		enum httpc_class klass;
	} cases[] = {
		{503, HTTPC_TRANSIENT}, {429, HTTPC_TRANSIENT}, {409, HTTPC_TRANSIENT},
		{500, HTTPC_TRANSIENT}, {404, HTTPC_PERMANENT}, {422, HTTPC_PERMANENT},
		{400, HTTPC_PERMANENT}, {403, HTTPC_PERMANENT}, {201, HTTPC_OK},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char path[32];
		struct got g = {0};

		snprintf(path, sizeof(path), "/status/%d", cases[i].status);
		fetch(path, 0, &g);
		assert_int_equal(g.status, cases[i].status);
		if (g.klass != cases[i].klass)
			fail_msg("%d: %s", cases[i].status, httpc_class_name(g.klass));
		/* The body of an error is there for the caller to read (a Kubernetes Status). */
		char *want = xasprintf("{\"status\": %d}", cases[i].status);
		assert_string_equal(g.body, want);
		free(want);
		if (cases[i].klass != HTTPC_OK) {
			char *u = url(path);
			char *msg = xasprintf("GET %s: HTTP %d", u, cases[i].status);

			assert_string_equal(g.error, msg);
			free(msg);
			free(u);
		}
		if (cases[i].status == 429)
			assert_int_equal(g.retry_after_ms, 2000);
		else if (cases[i].status == 503)
			/* A date three seconds ahead, to the second. */
			assert_in_range(g.retry_after_ms, 1000, 4000);
		else
			assert_int_equal(g.retry_after_ms, -1);
		got_clear(&g);
	}
}

static void test_methods_headers_body(void **state)
{
	static const char *const headers[] = {"X-Test: yes",
					      "Content-Type: application/apply-patch+yaml", NULL};
	char *u = url("/echo");
	struct httpc_request req = {
		.method = "PATCH",
		.url = u,
		.headers = headers,
		.body = "kind: Pod\n",
		.body_len = 10,
		.bearer_token = "s3cr3t",
	};
	struct got g = {0};

	httpc_send(client, &req, got_cb, &g);
	assert_true(run_until(&g.done, 10000));
	assert_string_equal(g.body, "method=PATCH\nbody=kind: Pod\n\nauth=Bearer s3cr3t\n"
				    "ctype=application/apply-patch+yaml\nxtest=yes\nexpect=-\n");
	got_clear(&g);

	/* A body without a Content-Type goes out as JSON; no Expect, even when big. */
	char *big = xmalloc(2 * 1024 * 1024 + 1);
	memset(big, 'a', 2 * 1024 * 1024);
	big[2 * 1024 * 1024] = '\0';
	struct httpc_request post = {
		.method = "POST", .url = u, .body = big, .body_len = strlen(big)};
	httpc_send(client, &post, got_cb, &g);
	/* The request was copied: the caller's buffer may go at once. */
	memset(big, 'b', 10);
	free(big);
	assert_true(run_until(&g.done, 10000));
	assert_int_equal(g.status, 200);
	assert_non_null(strstr(g.body, "method=POST\nbody=aaaaaaaaaa"));
	assert_non_null(strstr(g.body, "ctype=application/json\n"));
	assert_non_null(strstr(g.body, "expect=-\n"));
	got_clear(&g);

	/* DELETE with a body: Kubernetes' DeleteOptions with preconditions. */
	struct httpc_request del = {
		.method = "DELETE", .url = u, .body = "{\"x\":1}", .body_len = 7};
	httpc_send(client, &del, got_cb, &g);
	assert_true(run_until(&g.done, 10000));
	assert_string_equal(g.body,
			    "method=DELETE\nbody={\"x\":1}\nauth=-\nctype=application/json\n"
			    "xtest=-\nexpect=-\n");
	got_clear(&g);

	/* PUT and POST without a body, and HEAD. */
	struct httpc_request put = {.method = "PUT", .url = u};
	httpc_send(client, &put, got_cb, &g);
	assert_true(run_until(&g.done, 10000));
	assert_non_null(strstr(g.body, "method=PUT\nbody=\n"));
	got_clear(&g);
	struct httpc_request empty_post = {.method = "POST", .url = u};
	httpc_send(client, &empty_post, got_cb, &g);
	assert_true(run_until(&g.done, 10000));
	assert_non_null(strstr(g.body, "method=POST\nbody=\n"));
	got_clear(&g);
	struct httpc_request head = {.method = "HEAD", .url = u};
	httpc_send(client, &head, got_cb, &g);
	assert_true(run_until(&g.done, 10000));
	assert_int_equal(g.status, 200);
	assert_string_equal(g.body, "");
	got_clear(&g);
	free(u);
}

static void test_timeout(void **state)
{
	struct got g = {0};
	char *u = url("/hang");
	char *want = xasprintf("GET %s: timed out after 300 ms, no response", u);
	int before = hung;

	fetch("/hang", 300, &g);
	assert_int_equal(hung, before + 1);
	assert_int_equal(g.status, 0);
	assert_int_equal(g.klass, HTTPC_TRANSIENT);
	assert_int_equal(g.curl_code, CURLE_OPERATION_TIMEDOUT);
	assert_string_equal(g.error, want);
	assert_in_range(g.elapsed_ms, 290, 5000);
	got_clear(&g);
	free(want);
	free(u);
}

static void test_connection_refused(void **state)
{
	char *u = xasprintf("http://127.0.0.1:%d/x", free_port());
	struct httpc_request req = {.url = u};
	struct got g = {0};

	httpc_send(client, &req, got_cb, &g);
	assert_true(run_until(&g.done, 10000));
	assert_int_equal(g.klass, HTTPC_TRANSIENT);
	assert_int_equal(g.curl_code, CURLE_COULDNT_CONNECT);
	char *prefix = xasprintf("GET %s: cannot connect: ", u);
	if (strncmp(g.error, prefix, strlen(prefix)) != 0)
		fail_msg("%s", g.error);
	free(prefix);
	got_clear(&g);
	free(u);
}

static void test_body_limit(void **state)
{
	static const char *const paths[] = {"/big", "/big-chunked"};

	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		char *u = url(paths[i]);
		struct httpc_request req = {.url = u, .max_body = 1024 * 1024};
		char *want = xasprintf("GET %s: response body larger than 1048576 bytes", u);
		struct got g = {0};

		httpc_send(client, &req, got_cb, &g);
		assert_true(run_until(&g.done, 10000));
		assert_int_equal(g.klass, HTTPC_PERMANENT);
		assert_string_equal(g.error, want);
		got_clear(&g);

		/* Within the default limit it is fine. */
		req.max_body = 0;
		httpc_send(client, &req, got_cb, &g);
		assert_true(run_until(&g.done, 10000));
		assert_int_equal(g.klass, HTTPC_OK);
		assert_int_equal(strlen(g.body), 2 * 1024 * 1024);
		got_clear(&g);
		free(want);
		free(u);
	}
}

/*
 * The point of the module: one request hangs, and meanwhile 20 others
 * complete and a 10 ms timer keeps firing on time.
 */
static void test_hang_does_not_stall_loop(void **state)
{
	enum {
		N = 20
	};
	char *hang_url = url("/hang");
	char *slow_url = url("/slow?ms=50");
	char *ok_url = url("/ok");
	struct httpc_request hang = {.url = hang_url, .timeout_ms = 60000};
	struct got hang_got = {0};
	struct got g[N];
	struct httpc_call *hang_call;
	int64_t start;
	bool all = false;

	memset(g, 0, sizeof(g));
	hang_call = httpc_send(client, &hang, got_cb, &hang_got);
	ticker_reset();
	start = now_mono_ms();
	for (int i = 0; i < N; i++) {
		struct httpc_request req = {.url = i % 2 ? slow_url : ok_url};

		httpc_send(client, &req, got_cb, &g[i]);
	}
	assert_int_equal(httpc_pending(client), N + 1);
	while (!all && now_mono_ms() - start < 20000) {
		event_base_loop(base, EVLOOP_ONCE);
		all = true;
		for (int i = 0; i < N; i++)
			all = all && g[i].done;
	}
	int64_t took = now_mono_ms() - start;
	assert_true(all);
	for (int i = 0; i < N; i++) {
		assert_int_equal(g[i].status, 200);
		assert_string_equal(g[i].body, i % 2 ? "slow" : "hello");
		got_clear(&g[i]);
	}
	/* And the loop went on turning for a while with the hang still there. */
	run_for(200);
	assert_false(hang_got.done);
	assert_int_equal(httpc_pending(client), 1);
	print_message("20 requests in %lld ms beside a hung one; %d ticks, longest gap %lld ms\n",
		      (long long)took, ticker.ticks, (long long)ticker.max_gap);
	assert_true(ticker.ticks >= 10);
	assert_true(ticker.max_gap < 500);

	httpc_cancel(hang_call);
	assert_int_equal(httpc_pending(client), 0);
	run_for(50);
	assert_false(hang_got.done);
	free(hang_url);
	free(slow_url);
	free(ok_url);
}

static void test_cancel(void **state)
{
	char *slow_url = url("/slow?ms=100");
	char *hang_url = url("/hang");
	struct httpc_request slow = {.url = slow_url};
	struct httpc_request hang = {.url = hang_url};
	struct got a = {0}, b = {0}, c = {0};

	httpc_cancel(httpc_send(client, &slow, got_cb, &a));
	struct httpc_call *bc = httpc_send(client, &hang, got_cb, &b);
	/* After it went out. */
	run_for(50);
	httpc_cancel(bc);
	run_for(300);
	assert_int_equal(a.calls, 0);
	assert_int_equal(b.calls, 0);
	assert_int_equal(httpc_pending(client), 0);

	/* A cancelled call leaves the client as it was. */
	fetch("/ok", 0, &c);
	assert_int_equal(c.status, 200);
	got_clear(&c);
	free(slow_url);
	free(hang_url);
}

/* From a callback: cancel a call, send another. */
struct chain {
	struct httpc *h;
	struct httpc_call *victim;
	char *next_url;
	struct got *next;
	int calls;
};

static void chain_cb(const struct httpc_response *r, void *arg)
{
	struct chain *ch = arg;
	struct httpc_request req = {.url = ch->next_url};

	ch->calls++;
	httpc_cancel(ch->victim);
	httpc_send(ch->h, &req, got_cb, ch->next);
}

static void test_cancel_and_send_from_callback(void **state)
{
	char *ok_url = url("/ok");
	char *hang_url = url("/hang");
	struct got victim = {0}, next = {0};
	struct chain ch = {.h = client, .next_url = ok_url, .next = &next};
	struct httpc_request ok = {.url = ok_url};
	struct httpc_request hang = {.url = hang_url};

	ch.victim = httpc_send(client, &hang, got_cb, &victim);
	httpc_send(client, &ok, chain_cb, &ch);
	assert_true(run_until(&next.done, 10000));
	assert_int_equal(ch.calls, 1);
	assert_int_equal(next.status, 200);
	run_for(50);
	assert_int_equal(victim.calls, 0);
	assert_int_equal(httpc_pending(client), 0);
	got_clear(&next);
	free(ok_url);
	free(hang_url);
}

/* Freeing the client from one of its callbacks cancels the rest. */
struct killer {
	struct httpc *h;
	int calls;
};

static void free_client_cb(const struct httpc_response *r, void *arg)
{
	struct killer *k = arg;

	k->calls++;
	httpc_free(k->h);
}

static void test_free_from_callback(void **state)
{
	struct httpc *h = httpc_new(base);
	char *ok_url = url("/ok");
	char *hang_url = url("/hang");
	struct httpc_request ok = {.url = ok_url};
	struct httpc_request hang = {.url = hang_url};
	struct killer k = {.h = h};
	struct got others[3];

	memset(others, 0, sizeof(others));
	httpc_send(h, &hang, got_cb, &others[0]);
	httpc_send(h, &ok, free_client_cb, &k);
	/* Two answers that may be queued together with the killer's. */
	httpc_send(h, &ok, got_cb, &others[1]);
	httpc_send(h, &ok, got_cb, &others[2]);
	run_for(500);
	assert_int_equal(k.calls, 1);
	/* Whatever had not run when the client was freed never runs. */
	assert_int_equal(others[0].calls, 0);
	for (int i = 0; i < 3; i++)
		got_clear(&others[i]);
	free(ok_url);
	free(hang_url);
}

/* Freeing a client with calls in flight: no callback, nothing leaked. */
static void test_free_with_calls_in_flight(void **state)
{
	struct httpc *h = httpc_new(base);
	char *slow_url = url("/slow?ms=50");
	char *hang_url = url("/hang");
	struct httpc_request slow = {.url = slow_url};
	struct httpc_request hang = {.url = hang_url};
	struct httpc_request bad = {.method = "bad", .url = hang_url};
	struct got a = {0}, b = {0}, c = {0};

	httpc_send(h, &slow, got_cb, &a);
	httpc_send(h, &hang, got_cb, &b);
	run_for(20);
	httpc_send(h, &bad, got_cb, &c); /* refused, queued for delivery */
	httpc_free(h);
	run_for(200);
	assert_int_equal(a.calls + b.calls + c.calls, 0);
	free(slow_url);
	free(hang_url);
}

/* --- TLS against openssl s_server ------------------------------------------------------- */

struct tls_server {
	pid_t pid;
	int out; /* its stdout, drained by the loop */
	struct event *drain;
	int port;
};

static char *tls_dir;
static bool have_openssl;
static struct tls_server plain_tls;  /* server certificate only */
static struct tls_server mutual_tls; /* asks for a client certificate */
static char *ca_pem;		     /* the server's self-signed certificate */
static char *client_cert_pem;
static char *client_key_pem;

/* Run argv with its output in tls_dir/log; true if it exits 0. */
static bool run(char *const argv[])
{
	char *log = xasprintf("%s/log", tls_dir);
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	free(log);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static char *slurp(const char *name)
{
	char *path = xasprintf("%s/%s", tls_dir, name);
	FILE *f = fopen(path, "r");
	char *buf = xcalloc(1, 65536);
	size_t n;

	free(path);
	if (!f) {
		free(buf);
		return NULL;
	}
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static bool make_cert(const char *name, const char *subject, const char *san)
{
	char *key = xasprintf("%s/%s.key", tls_dir, name);
	char *crt = xasprintf("%s/%s.crt", tls_dir, name);
	char *ext = xasprintf("subjectAltName=%s", san);
	char *argv[] = {"openssl",
			"req",
			"-x509",
			"-newkey",
			"ec",
			"-pkeyopt",
			"ec_paramgen_curve:prime256v1",
			"-nodes",
			"-keyout",
			key,
			"-out",
			crt,
			"-days",
			"2",
			"-subj",
			(char *)subject,
			"-addext",
			ext,
			NULL};
	bool ok = run(argv);

	free(key);
	free(crt);
	free(ext);
	return ok;
}

static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* Start s_server on a free port and wait (poll, with a deadline) for its "ACCEPT". */
static bool tls_server_start(struct tls_server *s, bool mutual)
{
	char *crt = xasprintf("%s/server.crt", tls_dir);
	char *key = xasprintf("%s/server.key", tls_dir);
	char *client_ca = xasprintf("%s/client.crt", tls_dir);
	char accept_arg[32];
	int pipefd[2];
	char seen[4096];
	size_t len = 0;
	bool ready = false;
	int64_t deadline = now_mono_ms() + 10000;

	s->port = free_port();
	snprintf(accept_arg, sizeof(accept_arg), "127.0.0.1:%d", s->port);
	/* Without mutual, the NULL in the middle ends the list there. */
	char *argv[] = {"openssl", "s_server", "-accept", accept_arg, "-cert",
			crt,	   "-key",     key,	  "-www",     mutual ? "-Verify" : NULL,
			"1",	   "-CAfile",  client_ca, NULL};

	if (pipe2(pipefd, O_CLOEXEC) != 0)
		return false;
	s->pid = fork();
	if (s->pid == 0) {
		dup2(pipefd[1], 1);
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	s->out = pipefd[0];
	free(crt);
	free(key);
	free(client_ca);
	while (!ready && now_mono_ms() < deadline) {
		struct pollfd pfd = {.fd = s->out, .events = POLLIN};
		ssize_t n;

		if (poll(&pfd, 1, 200) <= 0)
			continue;
		n = read(s->out, seen + len, sizeof(seen) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		seen[len] = '\0';
		ready = strstr(seen, "ACCEPT") != NULL;
	}
	if (!ready)
		return false;
	/* From now on the loop reads (and drops) whatever it prints. */
	evutil_make_socket_nonblocking(s->out);
	s->drain = event_new(base, s->out, EV_READ | EV_PERSIST, drain_cb, NULL);
	event_add(s->drain, NULL);
	return true;
}

static void tls_server_stop(struct tls_server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
	if (s->drain)
		event_free(s->drain);
	s->drain = NULL;
	if (s->out > 0)
		close(s->out);
	s->out = 0;
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int tls_setup(void **state)
{
	char *version[] = {"openssl", "version", NULL};

	tls_dir = xstrdup("/tmp/esaas-httpc-tls-XXXXXX");
	if (!mkdtemp(tls_dir))
		return -1;
	have_openssl = run(version);
	if (!have_openssl) {
		print_message("the openssl command is missing: TLS tests are skipped\n");
		return 0;
	}
	if (!make_cert("server", "/CN=localhost", "IP:127.0.0.1,DNS:localhost") ||
	    !make_cert("client", "/CN=esaas-test-client", "DNS:esaas-test-client"))
		return -1;
	ca_pem = slurp("server.crt");
	client_cert_pem = slurp("client.crt");
	client_key_pem = slurp("client.key");
	if (!ca_pem || !client_cert_pem || !client_key_pem)
		return -1;
	if (!tls_server_start(&plain_tls, false) || !tls_server_start(&mutual_tls, true))
		return -1;
	return 0;
}

static int tls_teardown(void **state)
{
	tls_server_stop(&plain_tls);
	tls_server_stop(&mutual_tls);
	free(ca_pem);
	free(client_cert_pem);
	free(client_key_pem);
	if (tls_dir) {
		nftw(tls_dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
		free(tls_dir);
	}
	return 0;
}

static void tls_fetch(const struct tls_server *s, const struct httpc_tls *tls, struct got *g)
{
	char *u = xasprintf("https://127.0.0.1:%d/", s->port);
	struct httpc_request req = {.url = u, .tls = *tls, .timeout_ms = 15000};

	httpc_send(client, &req, got_cb, g);
	free(u);
	if (!run_until(&g->done, 20000))
		fail_msg("no answer from s_server in 20 s");
}

static void test_tls_verified_by_default(void **state)
{
	struct httpc_tls tls = {0};
	struct got g = {0};

	if (!have_openssl)
		skip();
	tls_fetch(&plain_tls, &tls, &g);
	assert_int_equal(g.klass, HTTPC_PERMANENT);
	assert_int_equal(g.curl_code, CURLE_PEER_FAILED_VERIFICATION);
	assert_non_null(strstr(g.error, "server certificate not trusted"));
	got_clear(&g);
}

static void test_tls_with_ca(void **state)
{
	char *ca_file = xasprintf("%s/server.crt", tls_dir);
	struct httpc_tls by_pem = {.ca_pem = ca_pem};
	struct httpc_tls by_file = {.ca_file = ca_file};
	struct httpc_tls wrong = {.ca_pem = client_cert_pem};
	struct httpc_tls insecure = {.insecure_skip_verify = true};
	struct got g = {0};

	if (!have_openssl) {
		free(ca_file);
		skip();
	}
	tls_fetch(&plain_tls, &by_pem, &g);
	assert_int_equal(g.status, 200);
	assert_int_equal(g.klass, HTTPC_OK);
	assert_non_null(strstr(g.body, "s_server"));
	got_clear(&g);

	tls_fetch(&plain_tls, &by_file, &g);
	assert_int_equal(g.status, 200);
	got_clear(&g);

	/* Only the given CA is trusted. */
	tls_fetch(&plain_tls, &wrong, &g);
	assert_int_equal(g.klass, HTTPC_PERMANENT);
	assert_int_equal(g.curl_code, CURLE_PEER_FAILED_VERIFICATION);
	got_clear(&g);

	tls_fetch(&plain_tls, &insecure, &g);
	assert_int_equal(g.status, 200);
	got_clear(&g);
	free(ca_file);
}

static void test_tls_client_certificate(void **state)
{
	struct httpc_tls with = {
		.ca_pem = ca_pem,
		.client_cert_pem = client_cert_pem,
		.client_key_pem = client_key_pem,
	};
	struct httpc_tls without = {.ca_pem = ca_pem};
	struct httpc_tls bad_key = {
		.ca_pem = ca_pem,
		.client_cert_pem = client_cert_pem,
		.client_key_pem =
			"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n",
	};
	struct got g = {0};

	if (!have_openssl)
		skip();
	tls_fetch(&mutual_tls, &with, &g);
	assert_int_equal(g.status, 200);
	assert_int_equal(g.klass, HTTPC_OK);
	got_clear(&g);

	tls_fetch(&mutual_tls, &without, &g);
	assert_int_not_equal(g.klass, HTTPC_OK);
	assert_non_null(g.error);
	got_clear(&g);

	tls_fetch(&mutual_tls, &bad_key, &g);
	assert_int_equal(g.klass, HTTPC_PERMANENT);
	assert_non_null(strstr(g.error, "client certificate or key unusable"));
	got_clear(&g);
}

int main(void)
{
	const struct CMUnitTest http_tests[] = {
		cmocka_unit_test(test_ok),
		cmocka_unit_test(test_status_classes),
		cmocka_unit_test(test_methods_headers_body),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_connection_refused),
		cmocka_unit_test(test_body_limit),
		cmocka_unit_test(test_hang_does_not_stall_loop),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_cancel_and_send_from_callback),
		cmocka_unit_test(test_free_from_callback),
		cmocka_unit_test(test_free_with_calls_in_flight),
	};
	const struct CMUnitTest tls_tests[] = {
		cmocka_unit_test(test_tls_verified_by_default),
		cmocka_unit_test(test_tls_with_ca),
		cmocka_unit_test(test_tls_client_certificate),
	};
	int failed;

	if (group_setup(NULL) != 0) {
		fprintf(stderr, "cannot start the test server\n");
		return 1;
	}
	failed = cmocka_run_group_tests_name("http", http_tests, NULL, NULL);
	failed |= cmocka_run_group_tests_name("tls", tls_tests, tls_setup, tls_teardown);
	group_teardown(NULL);
	return failed;
}
