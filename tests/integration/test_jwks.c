/*
 * The JWKS cache of common/jwt.c against a key server on the test's own
 * event loop (evhttp): keys fetched when a token names an unknown kid,
 * once for all who wait; rotation; the rate limit on refreshes; a
 * provider that fails; cancelled waits.  Keys are made by the openssl
 * command.  Nothing sleeps: the loop turns until a condition holds or a
 * deadline passes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>

#include "common/httpc.h"
#include "common/jwt.h"
#include "common/util.h"
#include "tests/fakehttp.h"
#include "tests/unit/jwt_keys.h"

#define ISS "https://idp.example.com/"
#define AUD "esaas"

static struct event_base *base;
static struct event *tick;
static struct httpc *client;
static struct fakehttp *server;
static int port;
static char dir[256];
static struct test_key rsa1, rsa2, ec1;

/* --- the key server ------------------------------------------------------------- */

static char *served; /* the body of the next answers */
static int served_status = 200;
static int requests; /* GET /jwks received */

static void serve_cb(struct evhttp_request *req, int index, void *arg)
{
	if (strcmp(evhttp_request_get_uri(req), "/jwks") != 0) {
		fakehttp_reply(req, 404, NULL, NULL);
		return;
	}
	requests++;
	fakehttp_reply(req, served_status, "application/json", served);
}

/* Serve these keys (NULL-terminated) from now on. */
static void serve_keys(const struct test_key *k, ...)
{
	json_t *list = json_array();
	json_t *doc;
	va_list ap;

	va_start(ap, k);
	for (; k; k = va_arg(ap, const struct test_key *))
		json_array_append_new(list, test_key_jwk(k, NULL));
	va_end(ap);
	doc = json_pack("{s:o}", "keys", list);
	free(served);
	served = json_dumps(doc, 0);
	json_decref(doc);
	served_status = 200;
}

static void serve_text(int status, const char *body)
{
	free(served);
	served = xstrdup(body);
	served_status = status;
}

/* --- the loop ------------------------------------------------------------------- */

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
}

static bool run_until(const int *counter, int want, int64_t ms)
{
	int64_t deadline = now_mono_ms() + ms;

	while (!(counter && *counter >= want) && now_mono_ms() < deadline)
		event_base_loop(base, EVLOOP_ONCE);
	return counter && *counter >= want;
}

/* --- verifications and their answers -------------------------------------------- */

struct answer {
	int calls;
	enum jwt_status status;
	char tenant[64];
	enum token_role role;
	char error[512];
};

static void answer_cb(void *arg, enum jwt_status status, const struct jwt_identity *id,
		      const char *error)
{
	struct answer *a = arg;

	a->calls++;
	a->status = status;
	if (id) {
		snprintf(a->tenant, sizeof(a->tenant), "%s", id->tenant);
		a->role = id->role;
	}
	snprintf(a->error, sizeof(a->error), "%s", error ? error : "");
}

static char *token_for(const struct test_key *k)
{
	char *h = xasprintf("{\"alg\":\"%s\",\"kid\":\"%s\"}", k->ec ? "ES256" : "RS256", k->kid);
	char *c = xasprintf("{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld,\"tenant\":\"acme\","
			    "\"role\":\"admin\"}",
			    ISS, AUD, (long long)time(NULL) + 600);
	char *t = test_jwt_sign(h, c, k);

	free(h);
	free(c);
	assert_non_null(t);
	return t;
}

static struct jwks *cache_new_scheduled(int refresh_min_s, int refresh_s)
{
	char *u = xasprintf("http://127.0.0.1:%d/jwks", port);
	struct jwt_config cfg = {
		.issuer = ISS,
		.audience = AUD,
		.tenant_claim = "tenant",
		.role_claim = "role",
		.role_map = "admin=admin",
		.jwks_url = u,
		.refresh_min_s = refresh_min_s,
		.timeout_ms = 5000,
		.base = refresh_s > 0 ? base : NULL,
		.refresh_s = refresh_s,
	};
	struct jwks *c = jwks_new(client, &cfg);

	free(u);
	requests = 0;
	return c;
}

static struct jwks *cache_new(int refresh_min_s)
{
	return cache_new_scheduled(refresh_min_s, 0);
}

/* Verify and expect the answer at once, before jwks_verify() returns. */
static void verify_now(struct jwks *c, const char *token, struct answer *a)
{
	memset(a, 0, sizeof(*a));
	assert_null(jwks_verify(c, token, answer_cb, a));
	assert_int_equal(a->calls, 1);
}

/* Verify and expect to wait for a fetch. */
static struct jwks_wait *verify_later(struct jwks *c, const char *token, struct answer *a)
{
	struct jwks_wait *w;

	memset(a, 0, sizeof(*a));
	w = jwks_verify(c, token, answer_cb, a);
	assert_non_null(w);
	assert_int_equal(a->calls, 0);
	return w;
}

static void wait_answer(struct answer *a)
{
	if (!run_until(&a->calls, 1, 10000))
		fail_msg("no answer in 10 s");
	assert_int_equal(a->calls, 1);
}

/* --- tests ---------------------------------------------------------------------- */

/* The first tokens find no keys: one fetch serves both, later ones verify at once. */
static void test_unknown_kid_fetches_once(void **state)
{
	struct jwks *c = cache_new(3600);
	char *t1 = token_for(&rsa1);
	char *t2 = token_for(&ec1);
	struct answer a1, a2, a3;

	serve_keys(&rsa1, &ec1, NULL);
	verify_later(c, t1, &a1);
	verify_later(c, t2, &a2);
	wait_answer(&a1);
	wait_answer(&a2);
	assert_int_equal(a1.status, JWT_OK);
	assert_string_equal(a1.tenant, "acme");
	assert_int_equal(a1.role, TOKEN_ROLE_ADMIN);
	assert_int_equal(a2.status, JWT_OK);
	assert_int_equal(requests, 1);
	assert_int_equal(jwks_fetches(c), 1);
	assert_int_equal(jwks_key_count(c), 2);

	/* Known now: no fetch. */
	verify_now(c, t2, &a3);
	assert_int_equal(a3.status, JWT_OK);
	assert_int_equal(requests, 1);

	/* A bad token with a known kid is refused at once, without a fetch either. */
	t1[strlen(t1) - 3] = t1[strlen(t1) - 3] == 'A' ? 'B' : 'A';
	verify_now(c, t1, &a3);
	assert_int_equal(a3.status, JWT_REFUSED);
	assert_int_equal(requests, 1);
	free(t1);
	free(t2);
	jwks_free(c);
}

/*
 * The provider withdraws a key: the scheduled fetch drops it, though no
 * token ever named an unknown kid; a set without a usable key then leaves
 * the held keys in place.
 */
static void test_withdrawn_key_dropped_on_schedule(void **state)
{
	struct jwks *c = cache_new_scheduled(3600, 1);
	char *t1 = token_for(&rsa1);
	char *t2 = token_for(&rsa2);
	struct answer a;

	serve_keys(&rsa1, &rsa2, NULL);
	verify_later(c, t1, &a);
	wait_answer(&a);
	assert_int_equal(a.status, JWT_OK);
	assert_int_equal(requests, 1);

	serve_keys(&rsa2, NULL);
	assert_true(run_until(&requests, 2, 5000));
	/* Past the fetch's answer too. */
	run_until(NULL, 0, 200);
	assert_int_equal(jwks_key_count(c), 1);
	/* rsa-1 is an unknown kid now, within refresh_min_s: refused, no fetch. */
	verify_now(c, t1, &a);
	assert_int_equal(a.status, JWT_REFUSED);
	assert_int_equal(requests, 2);

	serve_text(200, "{\"keys\": []}");
	assert_true(run_until(&requests, 3, 5000));
	run_until(NULL, 0, 200);
	assert_int_equal(jwks_key_count(c), 1);
	verify_now(c, t2, &a);
	assert_int_equal(a.status, JWT_OK);
	free(t1);
	free(t2);
	jwks_free(c);
}

/* The provider rotates: a new kid within the interval is refused without a fetch. */
static void test_rotation_rate_limited(void **state)
{
	struct jwks *c = cache_new(3600);
	char *t1 = token_for(&rsa1);
	char *t2 = token_for(&rsa2);
	struct answer a;

	serve_keys(&rsa1, NULL);
	jwks_refresh(c);
	verify_later(c, t1, &a); /* waits for the fetch in flight; starts none */
	wait_answer(&a);
	assert_int_equal(a.status, JWT_OK);
	assert_int_equal(requests, 1);

	serve_keys(&rsa2, NULL);
	verify_now(c, t2, &a);
	assert_int_equal(a.status, JWT_REFUSED);
	assert_non_null(strstr(a.error, "rsa-2"));
	assert_int_equal(requests, 1);
	assert_int_equal(jwks_fetches(c), 1);

	/* An explicit refresh is not rate-limited; the old key is gone after it. */
	jwks_refresh(c);
	verify_later(c, t2, &a);
	wait_answer(&a);
	assert_int_equal(a.status, JWT_OK);
	assert_int_equal(requests, 2);
	verify_now(c, t1, &a);
	assert_int_equal(a.status, JWT_REFUSED);
	assert_int_equal(requests, 2);
	free(t1);
	free(t2);
	jwks_free(c);
}

/* Once the interval has passed, an unknown kid fetches again. */
static void test_refresh_after_interval(void **state)
{
	struct jwks *c = cache_new(1);
	char *t1 = token_for(&rsa1);
	char *t2 = token_for(&rsa2);
	struct answer a;
	int64_t first;

	serve_keys(&rsa1, NULL);
	first = now_mono_ms();
	verify_later(c, t1, &a);
	wait_answer(&a);
	assert_int_equal(a.status, JWT_OK);

	serve_keys(&rsa1, &rsa2, NULL);
	verify_now(c, t2, &a);
	assert_int_equal(a.status, JWT_REFUSED);
	assert_int_equal(requests, 1);

	/* The loop turns (on its tick) until the second has passed. */
	while (now_mono_ms() - first <= 1000)
		event_base_loop(base, EVLOOP_ONCE);
	verify_later(c, t2, &a);
	wait_answer(&a);
	assert_int_equal(a.status, JWT_OK);
	assert_int_equal(requests, 2);
	free(t1);
	free(t2);
	jwks_free(c);
}

/* A provider that fails: unavailable, not refused, and the keys held are kept. */
static void test_fetch_failure(void **state)
{
	struct jwks *c = cache_new(3600);
	char *t1 = token_for(&rsa1);
	char *t2 = token_for(&ec1);
	struct answer a;

	serve_text(500, "{\"error\": \"down\"}");
	verify_later(c, t1, &a);
	wait_answer(&a);
	assert_int_equal(a.status, JWT_UNAVAILABLE);
	assert_non_null(strstr(a.error, "cannot fetch"));
	assert_null(strstr(a.error, strchr(t1, '.') + 1));
	/* Within the interval, with no keys at all: still unavailable, no new fetch. */
	verify_now(c, t1, &a);
	assert_int_equal(a.status, JWT_UNAVAILABLE);
	assert_int_equal(requests, 1);

	serve_keys(&rsa1, NULL);
	jwks_refresh(c);
	verify_later(c, t1, &a);
	wait_answer(&a);
	assert_int_equal(a.status, JWT_OK);

	/* Not a JWKS: the keys held stay. */
	serve_text(200, "<html>maintenance</html>");
	jwks_refresh(c);
	verify_later(c, t2, &a);
	wait_answer(&a);
	assert_int_equal(a.status, JWT_UNAVAILABLE);
	assert_non_null(strstr(a.error, "not JSON"));
	assert_int_equal(jwks_key_count(c), 1);
	verify_now(c, t1, &a);
	assert_int_equal(a.status, JWT_OK);
	assert_int_equal(requests, 3);
	free(t1);
	free(t2);
	jwks_free(c);
}

/* A cancelled wait is never answered; jwks_free() drops the ones still waiting. */
static void test_cancel(void **state)
{
	struct jwks *c = cache_new(3600);
	char *t1 = token_for(&rsa1);
	struct answer cancelled, kept, dropped;
	struct jwks_wait *w;

	serve_keys(&rsa1, NULL);
	w = verify_later(c, t1, &cancelled);
	verify_later(c, t1, &kept);
	jwks_wait_cancel(w);
	wait_answer(&kept);
	assert_int_equal(kept.status, JWT_OK);
	assert_int_equal(cancelled.calls, 0);

	/* A wait pending when the cache goes. */
	jwks_refresh(c);
	serve_keys(&rsa2, NULL);
	char *t2 = token_for(&ec1);
	verify_later(c, t2, &dropped);
	jwks_free(c);
	int before = requests;
	/* The request may still reach the server; no answer may follow. */
	run_until(&requests, before + 1, 300);
	assert_int_equal(dropped.calls, 0);
	free(t1);
	free(t2);
}

static int group_setup(void **state)
{
	struct timeval tv = {0, 20 * 1000};

	signal(SIGPIPE, SIG_IGN);
	if (!test_keys_dir(dir, sizeof(dir)) ||
	    !test_key_generate(&rsa1, dir, "rsa-1", false, 2048) ||
	    !test_key_generate(&rsa2, dir, "rsa-2", false, 2048) ||
	    !test_key_generate(&ec1, dir, "ec-1", true, 0))
		return -1;
	base = event_base_new();
	server = fakehttp_start(base, serve_cb, NULL);
	if (!server)
		return -1;
	port = fakehttp_port(server);
	client = httpc_new(base);
	if (!client)
		return -1;
	/* A tick, so that a loop turn never waits past a deadline. */
	tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(tick, &tv);
	serve_text(200, "{\"keys\": []}");
	return 0;
}

static int group_teardown(void **state)
{
	httpc_free(client);
	fakehttp_stop(server);
	event_free(tick);
	event_base_free(base);
	free(served);
	test_key_free(&rsa1);
	test_key_free(&rsa2);
	test_key_free(&ec1);
	test_keys_cleanup(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_kid_fetches_once),
		cmocka_unit_test(test_withdrawn_key_dropped_on_schedule),
		cmocka_unit_test(test_rotation_rate_limited),
		cmocka_unit_test(test_refresh_after_interval),
		cmocka_unit_test(test_fetch_failure),
		cmocka_unit_test(test_cancel),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
