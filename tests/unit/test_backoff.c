#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/backoff.h"

static const struct backoff_policy policy = {.base_ms = 100, .cap_ms = 1000, .max_attempts = 5};

static void test_ceiling_doubles_then_caps(void **state)
{
	assert_int_equal(backoff_ceiling(&policy, 1), 100);
	assert_int_equal(backoff_ceiling(&policy, 2), 200);
	assert_int_equal(backoff_ceiling(&policy, 3), 400);
	assert_int_equal(backoff_ceiling(&policy, 4), 800);
	assert_int_equal(backoff_ceiling(&policy, 5), 1000);
	assert_int_equal(backoff_ceiling(&policy, 60), 1000);
}

static void test_ceiling_huge_attempt_does_not_overflow(void **state)
{
	struct backoff_policy p = {.base_ms = 1, .cap_ms = INT64_MAX / 2, .max_attempts = 1};
	int64_t c = backoff_ceiling(&p, 1000000);
	assert_true(c > 0);
	assert_true(c <= p.cap_ms);
}

static void test_ceiling_attempt_below_one(void **state)
{
	assert_int_equal(backoff_ceiling(&policy, 0), 100);
	assert_int_equal(backoff_ceiling(&policy, -3), 100);
}

/* Full jitter: every delay within [0, ceiling], and the range is used. */
static void test_delay_is_full_jitter(void **state)
{
	int64_t lo = INT64_MAX, hi = -1;
	for (int i = 0; i < 5000; i++) {
		int64_t d = backoff_delay(&policy, 3);
		assert_true(d >= 0);
		assert_true(d <= 400);
		if (d < lo)
			lo = d;
		if (d > hi)
			hi = d;
	}
	assert_true(lo < 40);
	assert_true(hi > 360);
}

static void test_delay_zero_base(void **state)
{
	struct backoff_policy p = {.base_ms = 0, .cap_ms = 0, .max_attempts = 1};
	assert_int_equal(backoff_delay(&p, 4), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ceiling_doubles_then_caps),
		cmocka_unit_test(test_ceiling_huge_attempt_does_not_overflow),
		cmocka_unit_test(test_ceiling_attempt_below_one),
		cmocka_unit_test(test_delay_is_full_jitter),
		cmocka_unit_test(test_delay_zero_base),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
