/*
 * common/webhook.c without a network: the backoff, the URL shown in logs,
 * the URLs accepted, and the queue limit (the loop never runs, so nothing
 * is sent: the requests started are cancelled as events are dropped).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/httpc.h"
#include "common/metrics.h"
#include "common/util.h"
#include "common/webhook.h"

static void test_backoff_ceiling_doubles_then_caps(void **state)
{
	/* The largest draw of each attempt's range is its ceiling. */
	assert_int_equal(webhook_backoff_ms(100, 1000, 1, -1, 100), 100);
	assert_int_equal(webhook_backoff_ms(100, 1000, 2, -1, 200), 200);
	assert_int_equal(webhook_backoff_ms(100, 1000, 3, -1, 400), 400);
	assert_int_equal(webhook_backoff_ms(100, 1000, 4, -1, 800), 800);
	assert_int_equal(webhook_backoff_ms(100, 1000, 5, -1, 1000), 1000);
	assert_int_equal(webhook_backoff_ms(100, 1000, 60, -1, 1000), 1000);
	/* One past the ceiling wraps to 0: the range is [0, ceiling]. */
	assert_int_equal(webhook_backoff_ms(100, 1000, 1, -1, 101), 0);
	assert_int_equal(webhook_backoff_ms(100, 1000, 5, -1, 1001), 0);
	/* An attempt below 1 is the first. */
	assert_int_equal(webhook_backoff_ms(100, 1000, 0, -1, 100), 100);
	assert_int_equal(webhook_backoff_ms(100, 1000, -5, -1, 101), 0);
}

static void test_backoff_is_full_jitter(void **state)
{
	int64_t lo = INT64_MAX, hi = -1;

	for (int i = 0; i < 5000; i++) {
		int64_t d = webhook_backoff_ms(100, 1000, 3, -1, rand_below(UINT64_MAX));

		assert_true(d >= 0 && d <= 400);
		if (d < lo)
			lo = d;
		if (d > hi)
			hi = d;
	}
	/* Full jitter uses the whole range, not a band near its top. */
	assert_true(lo < 40);
	assert_true(hi > 360);
}

static void test_backoff_no_overflow(void **state)
{
	int64_t cap = INT64_MAX / 2;
	int64_t d = webhook_backoff_ms(1, cap, 1000000, -1, UINT64_MAX - 1);

	assert_true(d >= 0 && d <= cap);
	assert_int_equal(webhook_backoff_ms(0, 1000, 1000000, -1, 12345), 0);
	assert_int_equal(webhook_backoff_ms(500, 200, 1, -1, 200), 200);
}

static void test_backoff_honours_retry_after(void **state)
{
	/* Longer than the jittered delay: the receiver's word wins. */
	assert_int_equal(webhook_backoff_ms(100, 1000, 1, 5000, 50), 5000);
	assert_int_equal(webhook_backoff_ms(100, 1000, 1, 0, 50), 50);
	/* Shorter: the jittered delay stands. */
	assert_int_equal(webhook_backoff_ms(100, 1000, 1, 20, 80), 80);
	/* Absurd values are bounded. */
	assert_int_equal(webhook_backoff_ms(100, 1000, 1, INT64_MAX, 0),
			 WEBHOOK_RETRY_AFTER_MAX_MS);
}

static void check_shown(const char *url, const char *want)
{
	char *got = webhook_url_for_logs(url);

	assert_string_equal(got, want);
	free(got);
}

static void test_url_for_logs(void **state)
{
	check_shown("https://hooks.example.com/services/T000/B000/XXXXSECRET",
		    "https://hooks.example.com");
	check_shown("https://user:pa55@hooks.example.com:8443/x?token=abc",
		    "https://hooks.example.com:8443");
	check_shown("http://127.0.0.1:9000", "http://127.0.0.1:9000");
	check_shown("http://[::1]:9000/hook#frag", "http://[::1]:9000");
	check_shown("http://a@b@host/p", "http://host");
	check_shown("hooks.example.com/path", "(not a URL)");
}

static void test_url_ok(void **state)
{
	assert_true(webhook_url_ok("https://hooks.example.com/services/T000"));
	assert_true(webhook_url_ok("http://127.0.0.1:8080"));
	assert_true(webhook_url_ok("HTTPS://hooks.example.com/"));
	assert_false(webhook_url_ok("ftp://hooks.example.com/"));
	assert_false(webhook_url_ok("hooks.example.com/x"));
	assert_false(webhook_url_ok("http://"));
	assert_false(webhook_url_ok("http:///path"));
	assert_false(webhook_url_ok("https://hooks.example.com/a b"));
	assert_false(webhook_url_ok("https://hooks.example.com/a\r\nX-Evil: 1"));
	assert_false(webhook_url_ok(""));
}

/* The sample of the deliveries counter with this result, from the exposition. */
static double deliveries(const char *result)
{
	char prefix[128];
	size_t len;
	char *text = metrics_expose(metrics_default(), &len);
	double v = -1;

	snprintf(prefix, sizeof(prefix), "esaas_webhook_deliveries_total{result=\"%s\"} ", result);
	const char *at = strstr(text, prefix);

	if (at)
		v = strtod(at + strlen(prefix), NULL);
	free(text);
	return v;
}

static json_t *job_event(int id)
{
	return json_pack("{s:s, s:{s:i, s:s}}", "kind", "job_failed", "job", "id", id, "error",
			 "boom");
}

static void test_queue_limit_drops_the_oldest(void **state)
{
	struct event_base *base = event_base_new();
	struct httpc *http = httpc_new(base);
	struct webhook_options o = {
		.url = "http://127.0.0.1:9/hook",
		.timeout_ms = 1000,
		.max_attempts = 3,
		.queue_limit = 3,
		.backoff_base_ms = 10,
		.backoff_cap_ms = 100,
		.in_flight = 2,
	};
	char err[256];
	struct webhook *wh = webhook_new(base, http, &o, err, sizeof(err));
	struct webhook_stats st;
	double dropped_before = deliveries("dropped");

	assert_non_null(wh);
	assert_true(dropped_before >= 0);
	for (int i = 1; i <= 10; i++) {
		json_t *e = job_event(i);

		webhook_post(wh, e);
		json_decref(e);
		webhook_stats(wh, &st);
		/* Never more than the limit, whatever comes in. */
		assert_true(st.pending <= 3);
		assert_true(st.in_flight <= 2);
	}
	webhook_stats(wh, &st);
	assert_int_equal(st.pending, 3);
	assert_int_equal(st.in_flight, 2);
	assert_int_equal(st.dropped, 7);
	assert_int_equal(st.ok + st.retry + st.failed, 0);
	assert_true(deliveries("dropped") == dropped_before + 7);
	/* The requests of the dropped ones were cancelled: only two are out. */
	assert_int_equal(httpc_pending(http), 2);

	/* At shutdown, what is left is dropped too, and counted. */
	webhook_free(wh);
	assert_true(deliveries("dropped") == dropped_before + 10);
	assert_int_equal(httpc_pending(http), 0);
	httpc_free(http);
	event_base_free(base);
}

static void test_event_without_kind_ignored(void **state)
{
	struct event_base *base = event_base_new();
	struct httpc *http = httpc_new(base);
	struct webhook_options o = {
		.url = "http://127.0.0.1:9/hook",
		.max_attempts = 1,
		.queue_limit = 10,
	};
	char err[256];
	struct webhook *wh = webhook_new(base, http, &o, err, sizeof(err));
	struct webhook_stats st;
	json_t *e = json_pack("{s:i}", "kind", 3);

	assert_non_null(wh);
	webhook_post(wh, e);
	webhook_post(wh, NULL);
	json_decref(e);
	webhook_stats(wh, &st);
	assert_int_equal(st.pending, 0);
	assert_int_equal(httpc_pending(http), 0);
	webhook_free(wh);
	httpc_free(http);
	event_base_free(base);
}

static void test_new_refuses_bad_url(void **state)
{
	struct event_base *base = event_base_new();
	struct httpc *http = httpc_new(base);
	struct webhook_options o = {
		.url = "ftp://user:secret@files.example.com/drop",
		.max_attempts = 1,
		.queue_limit = 10,
	};
	char err[256];

	assert_null(webhook_new(base, http, &o, err, sizeof(err)));
	assert_non_null(strstr(err, "webhook.url"));
	/* The message shows the host, not the secret. */
	assert_null(strstr(err, "secret"));
	assert_null(strstr(err, "drop"));
	httpc_free(http);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_ceiling_doubles_then_caps),
		cmocka_unit_test(test_backoff_is_full_jitter),
		cmocka_unit_test(test_backoff_no_overflow),
		cmocka_unit_test(test_backoff_honours_retry_after),
		cmocka_unit_test(test_url_for_logs),
		cmocka_unit_test(test_url_ok),
		cmocka_unit_test(test_queue_limit_drops_the_oldest),
		cmocka_unit_test(test_event_without_kind_ignored),
		cmocka_unit_test(test_new_refuses_bad_url),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	metrics_default_free();
	return rc;
}
