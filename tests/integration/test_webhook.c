/*
 * Webhooks, against a receiver in this process: an evhttp server on its
 * own thread that answers from a script (500 first, then 200, ...) and
 * keeps what it was sent.
 *
 * First common/webhook.c on its own, on this thread's event loop: a 429's
 * Retry-After honoured, a 404 not retried, a 503 given up on after
 * max_attempts, a receiver that is down.  Then esaasd-test for real: a
 * failed job posted exactly once after a retry and a succeeded one not at
 * all, a receiver that hangs or is down while /healthz answers at once,
 * and, with esaas-sim, a cluster turned red.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>

#include "common/httpc.h"
#include "common/metrics.h"
#include "common/util.h"
#include "common/webhook.h"
#include "tests/fakehttp.h"
#include "tests/integration/harness.h"

#define TOKEN "wh-token-5f3a9c1e"
#define WAIT_MS 30000
#define MAX_HITS 64

static struct pg pg;

/* --- the receiver --------------------------------------------------------------- */

struct hit {
	const char *body;
	const char *authorization, *content_type, *event, *event_id;
	int answered;
	int64_t at_ms;
};

struct receiver {
	struct fakehttp *server;
	char url[96];
	int script[8]; /* statuses in order; the last repeats */
	int nscript;
	int retry_after;	   /* seconds, sent with a 429; 0: none */
	struct hit hits[MAX_HITS]; /* what the server recorded, as far as read */
	int nhits;
};

static int status_for(const struct receiver *r, int index)
{
	return r->script[index < r->nscript ? index : r->nscript - 1];
}

static void receiver_cb(struct evhttp_request *req, int index, void *arg)
{
	struct receiver *r = arg;
	int status = status_for(r, index);
	int retry_after = __atomic_load_n(&r->retry_after, __ATOMIC_SEQ_CST);
	char body[32];

	if (status == 429 && retry_after > 0) {
		char v[16];

		snprintf(v, sizeof(v), "%d", retry_after);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", v);
	}
	snprintf(body, sizeof(body), "{\"answer\": %d}", status);
	fakehttp_reply(req, status, NULL, body);
}

/* A receiver answering with the statuses of script (0-terminated), the last repeating. */
static struct receiver *receiver_start(const int *script)
{
	struct receiver *r = xcalloc(1, sizeof(*r));

	for (; *script && r->nscript < (int)ARRAY_SIZE(r->script); script++)
		r->script[r->nscript++] = *script;
	r->server = fakehttp_start_thread(receiver_cb, r);
	assert_non_null(r->server);
	snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%d/hooks/T0/B0/secret-path",
		 fakehttp_port(r->server));
	return r;
}

static void receiver_stop(struct receiver *r)
{
	if (!r)
		return;
	fakehttp_stop(r->server);
	free(r);
}

/* Read what the server recorded since last time into r->hits. */
static int receiver_read(struct receiver *r)
{
	int n = fakehttp_count(r->server);

	for (; r->nhits < n && r->nhits < MAX_HITS; r->nhits++) {
		const struct fakehttp_hit *h = fakehttp_hit(r->server, r->nhits);
		struct hit *hit = &r->hits[r->nhits];

		hit->body = h->body;
		hit->authorization = fakehttp_header(h, "Authorization");
		hit->content_type = fakehttp_header(h, "Content-Type");
		hit->event = fakehttp_header(h, "X-Esaas-Event");
		hit->event_id = fakehttp_header(h, "X-Esaas-Event-Id");
		hit->answered = status_for(r, r->nhits);
		hit->at_ms = h->at_ms;
	}
	return n;
}

static int receiver_count(struct receiver *r)
{
	return receiver_read(r);
}

/* Wait until n requests came in; false after timeout_ms. */
static bool receiver_wait(struct receiver *r, int n, int timeout_ms)
{
	bool ok = fakehttp_wait(r->server, n, timeout_ms);

	receiver_read(r);
	return ok;
}

/* The body of request i as JSON (a new reference); hits before nhits are never written again. */
static json_t *hit_json(struct receiver *r, int i)
{
	json_error_t e;
	json_t *j;

	assert_true(i < receiver_count(r));
	j = json_loads(r->hits[i].body, 0, &e);
	if (!j)
		fail_msg("request %d to the receiver is not JSON (%s): %s", i, e.text,
			 r->hits[i].body);
	return j;
}

/* A loopback port nothing listens on. */
static int closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	int port;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* A socket that listens and never accepts: connections are made and never answered. */
static int hanging_listener(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Accept one connection within timeout_ms (and keep it, unanswered): its fd, or -1. */
static int accept_within(int lfd, int timeout_ms)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};

	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	return accept(lfd, NULL, NULL);
}

/* --- common/webhook.c on this thread's loop ------------------------------------------- */

struct loop {
	struct event_base *base;
	struct httpc *http;
	struct webhook *wh;
};

static void loop_open(struct loop *l, const char *url, int max_attempts, int base_ms)
{
	struct webhook_options o = {
		.url = url,
		.bearer_token = TOKEN,
		.timeout_ms = 2000,
		.max_attempts = max_attempts,
		.queue_limit = 100,
		.backoff_base_ms = base_ms,
		.backoff_cap_ms = base_ms * 4,
	};
	char err[256];

	l->base = event_base_new();
	l->http = httpc_new(l->base);
	l->wh = webhook_new(l->base, l->http, &o, err, sizeof(err));
	if (!l->wh)
		fail_msg("webhook_new: %s", err);
}

static void loop_close(struct loop *l)
{
	webhook_free(l->wh);
	httpc_free(l->http);
	event_base_free(l->base);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
}

/* Run the loop until the webhook has ended (delivered or given up on) n events. */
static void loop_until_ended(struct loop *l, unsigned long long n)
{
	struct timeval tv = {0, 50 * 1000};
	struct event *tick = event_new(l->base, -1, EV_PERSIST, tick_cb, NULL);
	int64_t deadline = harness_now_ms() + WAIT_MS;
	struct webhook_stats st;

	event_add(tick, &tv);
	for (;;) {
		webhook_stats(l->wh, &st);
		if (st.ok + st.failed >= n)
			break;
		if (harness_now_ms() > deadline)
			fail_msg("webhook: %llu of %llu events ended after %d ms",
				 st.ok + st.failed, n, WAIT_MS);
		event_base_loop(l->base, EVLOOP_ONCE);
	}
	event_free(tick);
}

static void post_test_event(struct webhook *wh, int job_id)
{
	json_t *e = json_pack("{s:s, s:{s:i, s:s}}", "kind", "job_failed", "job", "id", job_id,
			      "error", "work: simulated permanent error");

	webhook_post(wh, e);
	json_decref(e);
}

static void test_module_retry_after_honoured(void **state)
{
	static const int script[] = {429, 200, 0};
	struct receiver *r = receiver_start(script);
	struct loop l;
	struct webhook_stats st;

	__atomic_store_n(&r->retry_after, 1, __ATOMIC_SEQ_CST);
	loop_open(&l, r->url, 5, 10);
	post_test_event(l.wh, 7);
	loop_until_ended(&l, 1);
	webhook_stats(l.wh, &st);
	assert_int_equal(st.ok, 1);
	assert_int_equal(st.retry, 1);
	assert_int_equal(st.pending, 0);
	assert_int_equal(receiver_count(r), 2);
	/* Not the jitter's few milliseconds: the second of Retry-After. */
	int64_t gap = r->hits[1].at_ms - r->hits[0].at_ms;

	if (gap < 950)
		fail_msg("retried %lld ms after a 429 with Retry-After: 1", (long long)gap);
	/* The same event both times, with its id in the body and the header. */
	assert_string_equal(r->hits[0].body, r->hits[1].body);
	json_t *body = hit_json(r, 1);

	assert_string_equal(json_string_value(json_object_get(body, "kind")), "job_failed");
	assert_string_equal(json_string_value(json_object_get(body, "event_id")),
			    r->hits[1].event_id);
	assert_int_equal(strlen(r->hits[1].event_id), 16);
	assert_string_equal(r->hits[1].event, "job_failed");
	assert_string_equal(r->hits[1].content_type, "application/json");
	assert_string_equal(r->hits[1].authorization, "Bearer " TOKEN);
	json_decref(body);
	loop_close(&l);
	receiver_stop(r);
}

/*
 * An event that says too much (a red cluster's allocation explanation) is
 * held and posted cut to the webhook's max_body: its long strings end with
 * a note, and the JSON stays whole, with its other members as they were.
 */
static void test_module_long_event_is_cut_with_a_note(void **state)
{
	static const int script[] = {200, 0};
	struct receiver *r = receiver_start(script);
	struct loop l;
	char *explain = xmalloc(300001);

	memset(explain, 'e', 300000);
	explain[300000] = '\0';
	loop_open(&l, r->url, 5, 10);
	json_t *e =
		json_pack("{s:s, s:s, s:s, s:{s:s}}", "kind", "cluster_health_changed", "cluster",
			  "logs", "status", "red", "detail", "allocation_explain", explain);
	webhook_post(l.wh, e);
	json_decref(e);
	free(explain);
	loop_until_ended(&l, 1);
	assert_true(receiver_wait(r, 1, WAIT_MS));
	assert_true(strlen(r->hits[0].body) <= WEBHOOK_DEFAULT_MAX_BODY);
	json_t *body = hit_json(r, 0);
	assert_string_equal(json_string_value(json_object_get(body, "status")), "red");
	assert_string_equal(json_string_value(json_object_get(body, "cluster")), "logs");
	const char *cut = json_string_value(
		json_object_get(json_object_get(body, "detail"), "allocation_explain"));
	assert_non_null(cut);
	assert_non_null(strstr(cut, "...[cut: 300000 bytes in all]"));
	json_decref(body);
	loop_close(&l);
	receiver_stop(r);
}

static void test_module_refusal_not_retried(void **state)
{
	static const int script[] = {404, 200, 0};
	struct receiver *r = receiver_start(script);
	struct loop l;
	struct webhook_stats st;

	loop_open(&l, r->url, 5, 10);
	post_test_event(l.wh, 8);
	loop_until_ended(&l, 1);
	webhook_stats(l.wh, &st);
	/* Given up for good at once: the event is gone, nothing can send it again. */
	assert_int_equal(st.failed, 1);
	assert_int_equal(st.retry, 0);
	assert_int_equal(st.ok, 0);
	assert_int_equal(st.pending, 0);
	assert_int_equal(receiver_count(r), 1);
	loop_close(&l);
	receiver_stop(r);
}

static void test_module_gives_up_after_max_attempts(void **state)
{
	static const int script[] = {503, 0};
	struct receiver *r = receiver_start(script);
	struct loop l;
	struct webhook_stats st;

	loop_open(&l, r->url, 3, 5);
	post_test_event(l.wh, 9);
	post_test_event(l.wh, 10);
	loop_until_ended(&l, 2);
	webhook_stats(l.wh, &st);
	assert_int_equal(st.failed, 2);
	assert_int_equal(st.retry, 4);
	assert_int_equal(st.ok, 0);
	assert_int_equal(receiver_count(r), 6);
	loop_close(&l);
	receiver_stop(r);
}

static void test_module_receiver_down(void **state)
{
	char url[64];
	struct loop l;
	struct webhook_stats st;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", closed_port());
	loop_open(&l, url, 4, 5);
	post_test_event(l.wh, 11);
	loop_until_ended(&l, 1);
	webhook_stats(l.wh, &st);
	assert_int_equal(st.failed, 1);
	assert_int_equal(st.retry, 3);
	assert_int_equal(st.pending, 0);
	loop_close(&l);
}

/* --- esaasd-test ---------------------------------------------------------------------- */

struct fixture {
	char dburl[600];
	struct esaasd d;
	struct receiver *r;
	struct sim sim;
	bool with_sim;
	int hang_fd;
	int held[8]; /* connections accepted from the hanging listener */
	int nheld;
};

static int group_setup(void **state)
{
	return pg_start(&pg) ? 0 : -1;
}

static int group_teardown(void **state)
{
	pg_finish(&pg);
	return 0;
}

/* esaasd-test posting to url, with webhook settings yaml (after "webhook:\n  url: ...\n"). */
static void start_esaasd(struct fixture *f, const char *url, const char *webhook_yaml,
			 const char *more_yaml)
{
	char *yaml = xasprintf("webhook:\n  url: \"%s\"\n  bearer_token: %s\n%s%s", url, TOKEN,
			       webhook_yaml, more_yaml ? more_yaml : "");
	struct esaasd_opts o = {.extra_yaml = yaml};

	assert_non_null(pg_new_database(&pg, f->dburl, sizeof(f->dburl)));
	if (f->with_sim)
		o.kubeconfig = f->sim.kubeconfig;
	assert_true(esaasd_start(&f->d, pg.dir, f->dburl, &o));
	free(yaml);
}

static struct fixture *fixture_new(void)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	f->hang_fd = -1;
	return f;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int rc = 0;

	if (!f)
		return 0;
	if (f->d.pid > 0) {
		int st = esaasd_stop(&f->d, SIGTERM, true);

		if (st != 0) {
			fprintf(stderr, "esaasd exited with %d on SIGTERM; see %s\n", st, f->d.log);
			rc = -1;
		}
	}
	if (f->with_sim && sim_stop(&f->sim) != 0) {
		fprintf(stderr, "esaas-sim did not stop cleanly; see %s\n", f->sim.log);
		rc = -1;
	}
	receiver_stop(f->r);
	for (int i = 0; i < f->nheld; i++)
		close(f->held[i]);
	if (f->hang_fd >= 0)
		close(f->hang_fd);
	free(f);
	return rc;
}

/* esaas_webhook_deliveries_total{result="..."} of esaasd's /metrics, or -1. */
static double deliveries(const struct esaasd *d, const char *result)
{
	char prefix[128];
	struct http_resp r;
	double v = -1;

	snprintf(prefix, sizeof(prefix), "esaas_webhook_deliveries_total{result=\"%s\"} ", result);
	assert_true(metrics_get(d, &r));
	assert_int_equal(r.status, 200);
	const char *at = strstr(r.raw, prefix);

	if (at)
		v = strtod(at + strlen(prefix), NULL);
	http_resp_free(&r);
	return v;
}

/* Wait until esaasd's counter of result reaches n. */
static void wait_deliveries(const struct esaasd *d, const char *result, double n)
{
	int64_t deadline = harness_now_ms() + WAIT_MS;
	double v;

	while ((v = deliveries(d, result)) < n) {
		if (harness_now_ms() > deadline)
			fail_msg("esaas_webhook_deliveries_total{result=\"%s\"} is %g after %d ms, "
				 "not %g; see %s",
				 result, v, WAIT_MS, n, d->log);
		msleep(20);
	}
}

/* GET /healthz answers 200, and within max_ms. */
/* A blocked loop would hold /healthz for the receiver's whole 1.5 s
 * timeout or more; max_ms leaves room for a slow, sanitized build. */
static void healthz_quick(const struct esaasd *d, int max_ms)
{
	struct http_resp r;
	int64_t t0 = harness_now_ms();

	assert_true(http_call(d, "GET", "/healthz", NULL, NULL, &r));
	int64_t took = harness_now_ms() - t0;

	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	if (took > max_ms)
		fail_msg("/healthz took %lld ms while the webhook's receiver was stuck",
			 (long long)took);
}

static bool file_contains(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	bool found = false;

	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

static int64_t failing_job(const struct esaasd *d)
{
	int64_t id = submit_job(d, "test", "logs", "{\"plan\": {\"work\": [\"fail\"]}}");
	json_t *job;

	assert_true(id > 0);
	job = wait_job_done(d, id, WAIT_MS);
	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "failed");
	json_decref(job);
	return id;
}

static void test_job_failed_posted_once_after_a_retry(void **state)
{
	static const int script[] = {500, 200, 0};
	struct fixture *f = *state = fixture_new();

	f->r = receiver_start(script);
	start_esaasd(f, f->r->url,
		     "  esaasd_url: https://esaas.example.com/\n  backoff_base_ms: 50\n"
		     "  backoff_cap_ms: 200\n  max_attempts: 5\n",
		     NULL);

	/* A job that succeeds, then one that fails: only the failure is posted. */
	int64_t ok_id = submit_job(&f->d, "test", "logs", NULL);

	assert_true(ok_id > 0);
	json_t *job = wait_job_done(&f->d, ok_id, WAIT_MS);

	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "succeeded");
	json_decref(job);
	int64_t id = failing_job(&f->d);

	/* The receiver answers 500, then 200: two requests, one event. */
	if (!receiver_wait(f->r, 2, WAIT_MS))
		fail_msg("the receiver got %d requests, not 2; see %s", receiver_count(f->r),
			 f->d.log);
	wait_deliveries(&f->d, "ok", 1);
	assert_true(deliveries(&f->d, "retry") == 1);
	assert_true(deliveries(&f->d, "failed") == 0);
	assert_true(deliveries(&f->d, "dropped") == 0);
	/* Delivered, and so no longer pending anywhere: nothing more can come. */
	assert_int_equal(receiver_count(f->r), 2);
	assert_int_equal(f->r->hits[0].answered, 500);
	assert_int_equal(f->r->hits[1].answered, 200);
	assert_string_equal(f->r->hits[0].body, f->r->hits[1].body);

	json_t *body = hit_json(f->r, 1);
	json_t *j = json_object_get(body, "job");
	char url[96];

	assert_string_equal(json_string_value(json_object_get(body, "kind")), "job_failed");
	assert_int_equal(json_integer_value(json_object_get(j, "id")), id);
	assert_string_equal(json_string_value(json_object_get(j, "kind")), "test");
	assert_string_equal(json_string_value(json_object_get(j, "cluster")), "logs");
	assert_string_equal(json_string_value(json_object_get(j, "tenant")), "default");
	assert_string_equal(json_string_value(json_object_get(j, "status")), "failed");
	assert_string_equal(json_string_value(json_object_get(j, "failed_state")), "work");
	assert_non_null(strstr(json_string_value(json_object_get(j, "error")),
			       "work: simulated permanent error"));
	assert_true(json_is_string(json_object_get(j, "finished_at")));
	snprintf(url, sizeof(url), "https://esaas.example.com/ui/#/jobs/%lld", (long long)id);
	assert_string_equal(json_string_value(json_object_get(body, "url")), url);
	assert_string_equal(json_string_value(json_object_get(body, "event_id")),
			    f->r->hits[1].event_id);
	assert_string_equal(f->r->hits[1].authorization, "Bearer " TOKEN);
	assert_string_equal(f->r->hits[1].content_type, "application/json");
	json_decref(body);

	/* The job API says the same as the event. */
	char path[64];
	struct http_resp r;

	snprintf(path, sizeof(path), "/api/v1/jobs/%lld", (long long)id);
	assert_true(http_call(&f->d, "GET", path, NULL, NULL, &r));
	body = hit_json(f->r, 1);
	j = json_object_get(body, "job");
	assert_string_equal(json_string_value(json_object_get(r.body, "error")),
			    json_string_value(json_object_get(j, "error")));
	json_decref(body);
	http_resp_free(&r);

	/* The log says what happened, and neither the token nor the URL's path. */
	assert_true(file_contains(f->d.log, "attempt 1 of 5"));
	assert_false(file_contains(f->d.log, TOKEN));
	assert_false(file_contains(f->d.log, "secret-path"));
}

static void test_hanging_receiver_blocks_nothing(void **state)
{
	struct fixture *f = *state = fixture_new();
	int port;
	char url[64];

	f->hang_fd = hanging_listener(&port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", port);
	start_esaasd(f, url, "  timeout_ms: 1500\n  max_attempts: 2\n  backoff_base_ms: 50\n",
		     NULL);
	int64_t id = failing_job(&f->d);

	/* Each attempt is a connection that gets no answer. */
	for (int attempt = 1; attempt <= 2; attempt++) {
		int fd = accept_within(f->hang_fd, WAIT_MS);

		if (fd < 0)
			fail_msg("attempt %d of the webhook for job %lld never came; see %s",
				 attempt, (long long)id, f->d.log);
		f->held[f->nheld++] = fd;
		/* While it hangs, esaasd answers, and works. */
		for (int i = 0; i < 5; i++)
			healthz_quick(&f->d, 1000);
		if (attempt == 1)
			failing_job(&f->d);
	}
	/* Two jobs failed, each tried twice: given up on, after timeouts. */
	wait_deliveries(&f->d, "failed", 2);
	assert_true(deliveries(&f->d, "retry") == 2);
	assert_true(deliveries(&f->d, "ok") == 0);
	assert_true(file_contains(f->d.log, "giving up after 2 attempts"));
	assert_true(file_contains(f->d.log, "timed out after 1500 ms"));
	healthz_quick(&f->d, 1000);

	/* Stopped with an attempt out: the event is dropped, said so, and esaasd exits cleanly. */
	failing_job(&f->d);
	int fd = accept_within(f->hang_fd, WAIT_MS);

	assert_true(fd >= 0);
	f->held[f->nheld++] = fd;
	assert_int_equal(esaasd_stop(&f->d, SIGTERM, true), 0);
	assert_true(file_contains(f->d.log, "stopping: dropped 1 undelivered event for"));
}

static void test_receiver_down(void **state)
{
	struct fixture *f = *state = fixture_new();
	char url[64];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", closed_port());
	start_esaasd(f, url, "  max_attempts: 3\n  backoff_base_ms: 100\n", NULL);
	failing_job(&f->d);
	healthz_quick(&f->d, 1000);
	wait_deliveries(&f->d, "failed", 1);
	assert_true(deliveries(&f->d, "retry") == 2);
	assert_true(deliveries(&f->d, "ok") == 0);
	assert_true(file_contains(f->d.log, "giving up after 3 attempts"));
	assert_true(file_contains(f->d.log, "cannot connect"));
	healthz_quick(&f->d, 1000);
}

/* As test_monitor.c: one data node, indices without replicas, reads every second. */
static const char SIM_CONFIG[] =
	"tick_ms: 20\n"
	"nodes:\n  count: 4\n  racks: [rack-a, rack-b]\n"
	"elasticsearch:\n  relocation_ms: 200\n  recovery_ms: 50\n  no_master_wait_ms: 500\n"
	"  indices:\n    - {name: logs, shards: 2, replicas: 0}\n";
static const char MONITOR_YAML[] = "monitor:\n  interval_seconds: 1\n  jitter_percent: 10\n"
				   "  concurrency: 8\n  timeout_ms: 1000\n  lease_seconds: 3\n";
static const char SMALL_CLUSTER[] =
	"{\"name\": \"hooked\", \"version\": \"7.17.10\", \"masters\": {\"replicas\": 1},"
	" \"data\": {\"replicas\": 1}, \"clients\": {\"replicas\": 1}}";

/* The first request from index from on whose body has this status; its index. */
static int wait_health_event(struct receiver *r, int from, const char *status)
{
	int64_t deadline = harness_now_ms() + WAIT_MS;

	for (int i = from;; i++) {
		int left = (int)(deadline - harness_now_ms());

		if (left <= 0 || !receiver_wait(r, i + 1, left))
			fail_msg("no cluster_health_changed event with status %s after %d ms",
				 status, WAIT_MS);
		json_t *b = hit_json(r, i);
		bool match = strcmp(json_string_value(json_object_get(b, "kind")),
				    "cluster_health_changed") == 0 &&
			     strcmp(json_string_value(json_object_get(b, "status")), status) == 0;

		json_decref(b);
		if (match)
			return i;
	}
}

static void test_health_change_posted(void **state)
{
	static const int script[] = {200, 0};
	struct fixture *f = *state = fixture_new();

	f->r = receiver_start(script);
	assert_true(sim_start(&f->sim, pg.dir, SIM_CONFIG));
	f->with_sim = true;
	/* Failed jobs are not asked for here. */
	start_esaasd(f, f->r->url, "  job_failed: false\n", MONITOR_YAML);

	int64_t id = post_cluster(&f->d, SMALL_CLUSTER);

	assert_true(id > 0);
	assert_true(job_succeeded(&f->d, id, 90000));
	/* Its first reading is green: the history's first entry, not a change. */
	int64_t deadline = harness_now_ms() + WAIT_MS;
	struct http_resp r;
	bool green = false;

	while (!green && harness_now_ms() < deadline) {
		assert_true(http_call(&f->d, "GET", "/api/v1/clusters/hooked", NULL, NULL, &r));
		json_t *h = json_object_get(r.body, "health");

		green = json_is_object(h) &&
			strcmp(json_string_value(json_object_get(h, "status")), "green") == 0;
		http_resp_free(&r);
		if (!green)
			msleep(50);
	}
	assert_true(green);

	assert_true(sim_call(&f->sim, "POST", "/_sim/faults",
			     "{\"red_clusters\": [\"es-default-hooked\"]}", &r));
	assert_true(r.status >= 200 && r.status < 300);
	http_resp_free(&r);
	int red = wait_health_event(f->r, 0, "red");
	json_t *b = hit_json(f->r, red);

	assert_string_equal(json_string_value(json_object_get(b, "tenant")), "default");
	assert_string_equal(json_string_value(json_object_get(b, "cluster")), "hooked");
	assert_string_equal(json_string_value(json_object_get(b, "previous")), "green");
	assert_true(json_is_string(json_object_get(b, "at")));
	assert_true(json_is_integer(json_object_get(b, "nodes")));
	assert_true(json_is_integer(json_object_get(b, "unassigned_shards")));
	/* Newly red: which primaries are missing, as the history has it. */
	assert_true(json_is_object(json_object_get(b, "detail")));
	assert_true(json_is_array(
		json_object_get(json_object_get(b, "detail"), "unassigned_primaries")));
	assert_string_equal(f->r->hits[red].event, "cluster_health_changed");
	json_decref(b);

	/* Green again: one more event, back from red. */
	assert_true(sim_call(&f->sim, "DELETE", "/_sim/faults", NULL, &r));
	assert_true(r.status >= 200 && r.status < 300);
	http_resp_free(&r);
	int back = wait_health_event(f->r, red + 1, "green");

	b = hit_json(f->r, back);
	assert_string_equal(json_string_value(json_object_get(b, "previous")), "red");
	json_decref(b);
	/* Nothing was posted that was not a change: no first reading, no job. */
	for (int i = 0; i <= back; i++) {
		b = hit_json(f->r, i);
		assert_string_equal(json_string_value(json_object_get(b, "kind")),
				    "cluster_health_changed");
		assert_true(json_is_string(json_object_get(b, "previous")));
		json_decref(b);
	}
}

int main(void)
{
	const struct CMUnitTest module[] = {
		cmocka_unit_test(test_module_retry_after_honoured),
		cmocka_unit_test(test_module_long_event_is_cut_with_a_note),
		cmocka_unit_test(test_module_refusal_not_retried),
		cmocka_unit_test(test_module_gives_up_after_max_attempts),
		cmocka_unit_test(test_module_receiver_down),
	};
	const struct CMUnitTest daemon[] = {
		cmocka_unit_test_teardown(test_job_failed_posted_once_after_a_retry, teardown),
		cmocka_unit_test_teardown(test_hanging_receiver_blocks_nothing, teardown),
		cmocka_unit_test_teardown(test_receiver_down, teardown),
		cmocka_unit_test_teardown(test_health_change_posted, teardown),
	};
	int rc;

	/* The receivers run their loops on threads of their own. */
	evthread_use_pthreads();
	signal(SIGPIPE, SIG_IGN);
	rc = cmocka_run_group_tests_name("webhook module", module, NULL, NULL);
	rc |= cmocka_run_group_tests_name("webhooks of esaasd", daemon, group_setup,
					  group_teardown);
	metrics_default_free();
	libevent_global_shutdown();
	return rc;
}
