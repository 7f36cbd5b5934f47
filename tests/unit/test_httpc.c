/*
 * common/httpc.c without a network: the classification of outcomes,
 * Retry-After, header lookup, and requests refused before they go out
 * (which must still be answered from the loop, never inline).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "common/httpc.h"
#include "common/util.h"

struct class_case {
	long status;
	int curl_code;
	enum httpc_class want;
};

static void test_classify_status(void **state)
{
	static const struct class_case cases[] = {
		{200, CURLE_OK, HTTPC_OK},
		{201, CURLE_OK, HTTPC_OK},
		{202, CURLE_OK, HTTPC_OK},
		{204, CURLE_OK, HTTPC_OK},
		{299, CURLE_OK, HTTPC_OK},
		/* Transient: the server is busy, failing, or raced. */
		{408, CURLE_OK, HTTPC_TRANSIENT},
		{409, CURLE_OK, HTTPC_TRANSIENT},
		{425, CURLE_OK, HTTPC_TRANSIENT},
		{429, CURLE_OK, HTTPC_TRANSIENT},
		{500, CURLE_OK, HTTPC_TRANSIENT},
		{502, CURLE_OK, HTTPC_TRANSIENT},
		{503, CURLE_OK, HTTPC_TRANSIENT},
		{504, CURLE_OK, HTTPC_TRANSIENT},
		{599, CURLE_OK, HTTPC_TRANSIENT},
		/* Permanent: asking again gets the same answer. */
		{400, CURLE_OK, HTTPC_PERMANENT},
		{401, CURLE_OK, HTTPC_PERMANENT},
		{403, CURLE_OK, HTTPC_PERMANENT},
		{404, CURLE_OK, HTTPC_PERMANENT},
		{405, CURLE_OK, HTTPC_PERMANENT},
		{410, CURLE_OK, HTTPC_PERMANENT},
		{413, CURLE_OK, HTTPC_PERMANENT},
		{415, CURLE_OK, HTTPC_PERMANENT},
		{422, CURLE_OK, HTTPC_PERMANENT},
		{501, CURLE_OK, HTTPC_PERMANENT},
		{505, CURLE_OK, HTTPC_PERMANENT},
		/* Redirects are not followed; 1xx and nonsense are not answers. */
		{301, CURLE_OK, HTTPC_PERMANENT},
		{304, CURLE_OK, HTTPC_PERMANENT},
		{100, CURLE_OK, HTTPC_PERMANENT},
		{0, CURLE_OK, HTTPC_PERMANENT},
		{600, CURLE_OK, HTTPC_PERMANENT},
		{-1, CURLE_OK, HTTPC_PERMANENT},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		enum httpc_class got = httpc_classify(cases[i].status, cases[i].curl_code);

		if (got != cases[i].want)
			fail_msg("status %ld: %s, expected %s", cases[i].status,
				 httpc_class_name(got), httpc_class_name(cases[i].want));
	}
}

static void test_classify_network(void **state)
{
	static const struct class_case cases[] = {
		/* The network: worth another try. */
		{0, CURLE_COULDNT_CONNECT, HTTPC_TRANSIENT},
		{0, CURLE_COULDNT_RESOLVE_HOST, HTTPC_TRANSIENT},
		{0, CURLE_COULDNT_RESOLVE_PROXY, HTTPC_TRANSIENT},
		{0, CURLE_OPERATION_TIMEDOUT, HTTPC_TRANSIENT},
		{0, CURLE_RECV_ERROR, HTTPC_TRANSIENT},
		{0, CURLE_SEND_ERROR, HTTPC_TRANSIENT},
		{0, CURLE_GOT_NOTHING, HTTPC_TRANSIENT},
		{0, CURLE_PARTIAL_FILE, HTTPC_TRANSIENT},
		{0, CURLE_SSL_CONNECT_ERROR, HTTPC_TRANSIENT},
		{0, CURLE_HTTP2, HTTPC_TRANSIENT},
		{0, CURLE_HTTP2_STREAM, HTTPC_TRANSIENT},
		/* A timeout after the headers came is still a timeout. */
		{200, CURLE_OPERATION_TIMEDOUT, HTTPC_TRANSIENT},
		{200, CURLE_PARTIAL_FILE, HTTPC_TRANSIENT},
		/* Configuration and trust: a human has to act. */
		{0, CURLE_PEER_FAILED_VERIFICATION, HTTPC_PERMANENT},
		{0, CURLE_SSL_CACERT_BADFILE, HTTPC_PERMANENT},
		{0, CURLE_SSL_CERTPROBLEM, HTTPC_PERMANENT},
		{0, CURLE_URL_MALFORMAT, HTTPC_PERMANENT},
		{0, CURLE_UNSUPPORTED_PROTOCOL, HTTPC_PERMANENT},
		{0, CURLE_BAD_FUNCTION_ARGUMENT, HTTPC_PERMANENT},
		/* A body over the limit is as big next time. */
		{200, CURLE_WRITE_ERROR, HTTPC_PERMANENT},
		{200, CURLE_FILESIZE_EXCEEDED, HTTPC_PERMANENT},
		/* A libcurl error says more than the status of a half response. */
		{503, CURLE_PEER_FAILED_VERIFICATION, HTTPC_PERMANENT},
		{404, CURLE_RECV_ERROR, HTTPC_TRANSIENT},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		enum httpc_class got = httpc_classify(cases[i].status, cases[i].curl_code);

		if (got != cases[i].want)
			fail_msg("status %ld, %s: %s, expected %s", cases[i].status,
				 curl_easy_strerror((CURLcode)cases[i].curl_code),
				 httpc_class_name(got), httpc_class_name(cases[i].want));
	}
}

static void test_class_names(void **state)
{
	assert_string_equal(httpc_class_name(HTTPC_OK), "ok");
	assert_string_equal(httpc_class_name(HTTPC_TRANSIENT), "transient");
	assert_string_equal(httpc_class_name(HTTPC_PERMANENT), "permanent");
}

/* Sun, 06 Nov 1994 08:49:37 GMT, the example date of RFC 9110. */
#define EXAMPLE_S 784111777LL

static void test_retry_after_seconds(void **state)
{
	int64_t ms = 7;

	assert_true(httpc_parse_retry_after("120", 0, &ms));
	assert_int_equal(ms, 120000);
	assert_true(httpc_parse_retry_after("0", 0, &ms));
	assert_int_equal(ms, 0);
	/* Whitespace around the value is allowed by the header grammar. */
	assert_true(httpc_parse_retry_after(" 3\t", 0, &ms));
	assert_int_equal(ms, 3000);
	/* The clock does not matter for seconds. */
	assert_true(httpc_parse_retry_after("2", EXAMPLE_S * 1000, &ms));
	assert_int_equal(ms, 2000);
}

static void test_retry_after_dates(void **state)
{
	int64_t now = EXAMPLE_S * 1000 - 5000; /* five seconds before */
	int64_t ms = 7;

	/* IMF-fixdate, RFC 850 and asctime: HTTP/1.1 recipients accept all three. */
	assert_true(httpc_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now, &ms));
	assert_int_equal(ms, 5000);
	assert_true(httpc_parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now, &ms));
	assert_int_equal(ms, 5000);
	assert_true(httpc_parse_retry_after("Sun Nov  6 08:49:37 1994", now, &ms));
	assert_int_equal(ms, 5000);
	/* A date in the past means now. */
	assert_true(httpc_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now + 60000, &ms));
	assert_int_equal(ms, 0);
}

static void test_retry_after_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		" ",
		"-1",
		"+5",
		"1.5",
		"5s",
		"0x10",
		"soon",
		"99999999999999999999",
		"9223372036854775807", /* seconds that overflow as milliseconds */
	};
	int64_t ms = 7;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (httpc_parse_retry_after(bad[i], 0, &ms))
			fail_msg("accepted \"%s\" as %lld ms", bad[i], (long long)ms);
	}
	assert_false(httpc_parse_retry_after(NULL, 0, &ms));
	assert_int_equal(ms, 7);
}

static void test_response_header(void **state)
{
	static const char *const headers[] = {
		"Content-Type: application/json",
		"retry-after:  7",
		"X-Empty:",
		"Content-Typo: no",
		NULL,
	};
	struct httpc_response r = {.headers = headers};
	struct httpc_response none = {0};

	assert_string_equal(httpc_response_header(&r, "content-type"), "application/json");
	assert_string_equal(httpc_response_header(&r, "Retry-After"), "7");
	assert_string_equal(httpc_response_header(&r, "X-Empty"), "");
	assert_null(httpc_response_header(&r, "Content"));
	assert_null(httpc_response_header(&r, "Missing"));
	assert_null(httpc_response_header(&none, "Content-Type"));
}

/* --- refused before sending ----------------------------------------------------- */

struct outcome {
	int calls;
	long status;
	enum httpc_class klass;
	int curl_code;
	char *error;
};

static void record_cb(const struct httpc_response *resp, void *arg)
{
	struct outcome *o = arg;

	o->calls++;
	o->status = resp->status;
	o->klass = resp->klass;
	o->curl_code = resp->curl_code;
	free(o->error);
	o->error = resp->error ? xstrdup(resp->error) : NULL;
	assert_non_null(resp->body);
	assert_non_null(resp->headers);
}

static void run_until_answered(struct event_base *base, struct httpc *h, struct outcome *o)
{
	int64_t deadline = now_mono_ms() + 5000;

	while (o->calls == 0 && now_mono_ms() < deadline)
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(httpc_pending(h), 0);
}

struct refusal {
	struct httpc_request req;
	const char *expect; /* in the error */
};

static void test_refused_requests(void **state)
{
	static const char *const crlf[] = {"X-Ok: 1", "X-Bad: a\r\nX-Injected: 1", NULL};
	static const char *const nocolon[] = {"NoColon", NULL};
	static const char *const spacename[] = {"Bad Name: 1", NULL};
	const struct refusal cases[] = {
		{{.method = "get", .url = "http://127.0.0.1:1/"}, "bad method \"get\""},
		{{.method = "GET /x HTTP/1.1\r\n", .url = "http://127.0.0.1:1/"}, "bad method"},
		{{.method = "", .url = "http://127.0.0.1:1/"}, "bad method"},
		{{.url = NULL}, "no URL"},
		{{.url = "http://127.0.0.1:1/a b"}, "spaces or control characters"},
		{{.url = "http://127.0.0.1:1/", .headers = crlf}, "bad header \"X-Bad"},
		{{.url = "http://127.0.0.1:1/", .headers = nocolon}, "bad header \"NoColon\""},
		{{.url = "http://127.0.0.1:1/", .headers = spacename}, "bad header"},
		{{.url = "http://127.0.0.1:1/", .body_len = 3}, "body_len without a body"},
		{{.url = "http://127.0.0.1:1/", .timeout_ms = -5}, "negative timeout"},
		{{.url = "http://127.0.0.1:1/", .bearer_token = "a\nb"}, "bearer token"},
		{{.url = "http://127.0.0.1:1/", .tls.client_key_pem = "KEY"}, "client certificate"},
	};
	struct event_base *base = event_base_new();
	struct httpc *h = httpc_new(base);

	assert_non_null(h);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct outcome o = {0};
		struct httpc_call *call = httpc_send(h, &cases[i].req, record_cb, &o);

		assert_non_null(call);
		/* Never inline, even when nothing went out. */
		assert_int_equal(o.calls, 0);
		assert_int_equal(httpc_pending(h), 1);
		run_until_answered(base, h, &o);
		assert_int_equal(o.calls, 1);
		assert_int_equal(o.klass, HTTPC_PERMANENT);
		assert_int_equal(o.status, 0);
		assert_non_null(o.error);
		if (!strstr(o.error, cases[i].expect) || !strstr(o.error, "refused before sending"))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, o.error, cases[i].expect);
		/* One line, whatever the caller passed. */
		assert_null(strpbrk(o.error, "\r\n"));
		free(o.error);
	}
	httpc_free(h);
	event_base_free(base);
}

/* Only http and https go out; libcurl's other protocols are switched off. */
static void test_other_schemes_refused(void **state)
{
	static const char *const urls[] = {"ftp://127.0.0.1/x", "file:///etc/passwd",
					   "gopher://127.0.0.1/", "http://[::1"};
	struct event_base *base = event_base_new();
	struct httpc *h = httpc_new(base);

	for (size_t i = 0; i < ARRAY_SIZE(urls); i++) {
		struct httpc_request req = {.url = urls[i]};
		struct outcome o = {0};

		httpc_send(h, &req, record_cb, &o);
		assert_int_equal(o.calls, 0);
		run_until_answered(base, h, &o);
		assert_int_equal(o.calls, 1);
		assert_int_equal(o.klass, HTTPC_PERMANENT);
		if (!o.error || !strstr(o.error, "bad URL"))
			fail_msg("%s: \"%s\"", urls[i], o.error ? o.error : "(no error)");
		free(o.error);
	}
	httpc_free(h);
	event_base_free(base);
}

/* A refused call cancelled before the loop runs is never answered. */
static void test_cancel_refused(void **state)
{
	struct event_base *base = event_base_new();
	struct httpc *h = httpc_new(base);
	struct httpc_request req = {.method = "bad"};
	struct outcome o = {0};

	httpc_cancel(httpc_send(h, &req, record_cb, &o));
	assert_int_equal(httpc_pending(h), 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(o.calls, 0);
	httpc_cancel(NULL);
	httpc_free(h);
	httpc_free(NULL);
	event_base_free(base);
}

/* Passwords in URLs stay out of messages. */
static void test_error_hides_password(void **state)
{
	struct event_base *base = event_base_new();
	struct httpc *h = httpc_new(base);
	struct httpc_request req = {.method = "x",
				    .url = "https://elastic:s3cret@es.local:9200/_c"};
	struct outcome o = {0};

	httpc_send(h, &req, record_cb, &o);
	run_until_answered(base, h, &o);
	assert_non_null(o.error);
	assert_null(strstr(o.error, "s3cret"));
	assert_non_null(strstr(o.error, "https://es.local:9200/_c"));
	free(o.error);
	httpc_free(h);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify_status),
		cmocka_unit_test(test_classify_network),
		cmocka_unit_test(test_class_names),
		cmocka_unit_test(test_retry_after_seconds),
		cmocka_unit_test(test_retry_after_dates),
		cmocka_unit_test(test_retry_after_rejects),
		cmocka_unit_test(test_response_header),
		cmocka_unit_test(test_refused_requests),
		cmocka_unit_test(test_other_schemes_refused),
		cmocka_unit_test(test_cancel_refused),
		cmocka_unit_test(test_error_hides_password),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
