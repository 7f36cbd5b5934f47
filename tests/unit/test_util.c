/* common/util.c: strict integer parsing, randomness, string helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* Anything but the whole string, digits with an optional '-', is refused. */
static void test_parse_int64_rejects(void **state)
{
	static const char *const bad[] = {
		"",    "+1",   " 1",  "1 ",  "1x",    "x1",  "-",   "+",
		"--1", "0x10", "1e3", "1.0", "1_000", "\t1", "1\n",
	};
	int64_t v = 42;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (parse_int64(bad[i], INT64_MIN, INT64_MAX, &v))
			fail_msg("parse_int64 accepted \"%s\"", bad[i]);
	}
	assert_false(parse_int64(NULL, INT64_MIN, INT64_MAX, &v));
	/* A refused string leaves the output alone. */
	assert_int_equal(v, 42);
}

static void test_parse_int64_accepts(void **state)
{
	int64_t v = 0;

	assert_true(parse_int64("0", INT64_MIN, INT64_MAX, &v));
	assert_int_equal(v, 0);
	assert_true(parse_int64("-17", INT64_MIN, INT64_MAX, &v));
	assert_int_equal(v, -17);
	assert_true(parse_int64("123456789012", INT64_MIN, INT64_MAX, &v));
	assert_int_equal(v, 123456789012LL);
	/* Leading zeros are decimal, never octal. */
	assert_true(parse_int64("010", INT64_MIN, INT64_MAX, &v));
	assert_int_equal(v, 10);
}

static void test_parse_int64_overflow(void **state)
{
	int64_t v = 7;

	assert_true(parse_int64("9223372036854775807", INT64_MIN, INT64_MAX, &v));
	assert_true(v == INT64_MAX);
	assert_true(parse_int64("-9223372036854775808", INT64_MIN, INT64_MAX, &v));
	assert_true(v == INT64_MIN);
	v = 7;
	assert_false(parse_int64("9223372036854775808", INT64_MIN, INT64_MAX, &v));
	assert_false(parse_int64("-9223372036854775809", INT64_MIN, INT64_MAX, &v));
	assert_false(parse_int64("99999999999999999999999", INT64_MIN, INT64_MAX, &v));
	assert_int_equal(v, 7);
}

/* Bounds are inclusive at both ends. */
static void test_parse_int64_bounds(void **state)
{
	int64_t v = 0;

	assert_true(parse_int64("1", 1, 5, &v));
	assert_int_equal(v, 1);
	assert_true(parse_int64("5", 1, 5, &v));
	assert_int_equal(v, 5);
	assert_false(parse_int64("0", 1, 5, &v));
	assert_false(parse_int64("6", 1, 5, &v));
	assert_false(parse_int64("-1", 0, 10, &v));
	assert_true(parse_int64("-3", -3, -1, &v));
	assert_int_equal(v, -3);
	assert_false(parse_int64("-4", -3, -1, &v));
	assert_true(parse_int64("7", 7, 7, &v));
	assert_int_equal(v, 7);
}

static void test_parse_int(void **state)
{
	int v = 99;

	assert_true(parse_int("2147483647", INT_MIN, INT_MAX, &v));
	assert_int_equal(v, INT_MAX);
	assert_true(parse_int("-2147483648", INT_MIN, INT_MAX, &v));
	assert_int_equal(v, INT_MIN);
	v = 99;
	/* Fits in 64 bits but not in an int: refused, not truncated. */
	assert_false(parse_int("2147483648", INT_MIN, INT_MAX, &v));
	assert_false(parse_int("-2147483649", INT_MIN, INT_MAX, &v));
	assert_false(parse_int("4294967296", INT_MIN, INT_MAX, &v));
	assert_false(parse_int("", 0, 10, &v));
	assert_false(parse_int("+1", 0, 10, &v));
	assert_false(parse_int(" 1", 0, 10, &v));
	assert_false(parse_int("1x", 0, 10, &v));
	assert_false(parse_int("11", 0, 10, &v));
	assert_int_equal(v, 99);
	assert_true(parse_int("10", 0, 10, &v));
	assert_int_equal(v, 10);
}

static void test_rand_below_range(void **state)
{
	assert_int_equal(rand_below(0), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(rand_below(1), 0);
	for (int i = 0; i < 1000; i++) {
		assert_true(rand_below(3) < 3);
		assert_true(rand_below(1000) < 1000);
		assert_true(rand_below(UINT64_MAX) < UINT64_MAX);
	}
}

/* Every value of a small range shows up, and none far more than the others. */
static void test_rand_below_covers(void **state)
{
	unsigned seen[7] = {0};

	for (int i = 0; i < 7000; i++) {
		uint64_t r = rand_below(ARRAY_SIZE(seen));
		assert_true(r < ARRAY_SIZE(seen));
		seen[r]++;
	}
	/* Expected 1000 each, standard deviation 29: these bounds never flake. */
	for (size_t v = 0; v < ARRAY_SIZE(seen); v++) {
		if (seen[v] < 700 || seen[v] > 1300)
			fail_msg("value %zu drawn %u times out of 7000", v, seen[v]);
	}

	/* Large n: values should spread over the high half too. */
	bool high = false;
	for (int i = 0; i < 64 && !high; i++)
		high = rand_below(UINT64_MAX) > UINT64_MAX / 2;
	assert_true(high);
}

static void assert_hex(const char *s, size_t len)
{
	assert_int_equal(strlen(s), len);
	for (size_t i = 0; i < len; i++) {
		if (!strchr("0123456789abcdef", s[i]) || s[i] == '\0')
			fail_msg("'%c' at %zu of \"%s\" is not lower-case hex", s[i], i, s);
	}
}

static void test_rand_hex(void **state)
{
	char a[2 * 16 + 2], b[2 * 16 + 2];

	memset(a, 'Z', sizeof(a));
	rand_hex(a, 16);
	assert_hex(a, 32);
	/* Nothing written past the terminator. */
	assert_int_equal(a[33], 'Z');

	rand_hex(b, 16);
	assert_hex(b, 32);
	/* 128 random bits twice the same means there is no randomness at all. */
	assert_string_not_equal(a, b);

	rand_hex(a, 1);
	assert_hex(a, 2);
	rand_hex(a, 0);
	assert_string_equal(a, "");
}

/* Over many calls every hex digit turns up: no character is stuck. */
static void test_rand_hex_charset(void **state)
{
	char buf[2 * 32 + 1];
	bool seen[16] = {false};

	for (int i = 0; i < 20; i++) {
		rand_hex(buf, 32);
		assert_hex(buf, 64);
		for (size_t j = 0; j < 64; j++)
			seen[strchr("0123456789abcdef", buf[j]) - "0123456789abcdef"] = true;
	}
	for (int d = 0; d < 16; d++) {
		if (!seen[d])
			fail_msg("hex digit %x never produced", d);
	}
}

static void test_str_copy_trunc(void **state)
{
	char buf[8];

	/* Truncated, terminated, and the full length returned to detect it. */
	memset(buf, 'Z', sizeof(buf));
	assert_int_equal(str_copy_trunc(buf, "hello", 4), 5);
	assert_string_equal(buf, "hel");
	assert_int_equal(buf[4], 'Z');

	assert_int_equal(str_copy_trunc(buf, "hello", 6), 5);
	assert_string_equal(buf, "hello");

	assert_int_equal(str_copy_trunc(buf, "1234567", sizeof(buf)), 7);
	assert_string_equal(buf, "1234567");
	assert_int_equal(str_copy_trunc(buf, "12345678", sizeof(buf)), 8);
	assert_string_equal(buf, "1234567");

	assert_int_equal(str_copy_trunc(buf, "", sizeof(buf)), 0);
	assert_string_equal(buf, "");

	/* Size 1 leaves room for the terminator only. */
	assert_int_equal(str_copy_trunc(buf, "abc", 1), 3);
	assert_string_equal(buf, "");

	/* Size 0 writes nothing at all. */
	memset(buf, 'Z', sizeof(buf));
	assert_int_equal(str_copy_trunc(buf, "abc", 0), 3);
	assert_int_equal(buf[0], 'Z');
}

static void test_xasprintf(void **state)
{
	char *s = xasprintf("%d-%s-%03u", 42, "x", 7u);
	assert_string_equal(s, "42-x-007");
	free(s);

	s = xasprintf("%s", "");
	assert_string_equal(s, "");
	free(s);

	/* Longer than any fixed first guess a formatter might make. */
	char *big = xmalloc(10001);
	memset(big, 'a', 10000);
	big[10000] = '\0';
	s = xasprintf("[%s]", big);
	assert_int_equal(strlen(s), 10002);
	assert_int_equal(s[0], '[');
	assert_int_equal(s[10001], ']');
	free(s);
	free(big);
}

static void test_xstrdup(void **state)
{
	char *s = xstrdup("abc");
	assert_string_equal(s, "abc");
	free(s);

	s = xstrndup("abcdef", 3);
	assert_string_equal(s, "abc");
	free(s);

	/* n beyond the string stops at its end. */
	s = xstrndup("ab", 10);
	assert_string_equal(s, "ab");
	free(s);
}

static void test_xcalloc_zeroed(void **state)
{
	unsigned char *p = xcalloc(64, 4);

	for (size_t i = 0; i < 256; i++)
		assert_int_equal(p[i], 0);
	p = xrealloc(p, 1024);
	p[1023] = 1;
	free(p);
}

static void test_clocks(void **state)
{
	int64_t a = now_mono_ms(), b = now_mono_ms();

	assert_true(b >= a);
	/* Wall clock is after 2020-01-01, in milliseconds, not seconds. */
	assert_true(now_wall_ms() > 1577836800000LL);
}

static void test_utf8_scrub(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"plain ascii", "plain ascii"},
		{"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		 "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
		{"cut \xe2\x82", "cut ??"},   /* a character cut short */
		{"\xff\xfe x", "?? x"},	      /* never valid */
		{"\xc0\xaf", "??"},	      /* overlong '/' */
		{"\xed\xa0\x80", "???"},      /* a UTF-16 surrogate */
		{"\xf4\x90\x80\x80", "????"}, /* past U+10FFFF */
		{"", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = utf8_scrub(cases[i].in);
		assert_string_equal(s, cases[i].out);
		free(s);
	}
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_int64_rejects),
		cmocka_unit_test(test_parse_int64_accepts),
		cmocka_unit_test(test_parse_int64_overflow),
		cmocka_unit_test(test_parse_int64_bounds),
		cmocka_unit_test(test_parse_int),
		cmocka_unit_test(test_rand_below_range),
		cmocka_unit_test(test_rand_below_covers),
		cmocka_unit_test(test_rand_hex),
		cmocka_unit_test(test_rand_hex_charset),
		cmocka_unit_test(test_str_copy_trunc),
		cmocka_unit_test(test_xasprintf),
		cmocka_unit_test(test_xstrdup),
		cmocka_unit_test(test_xcalloc_zeroed),
		cmocka_unit_test(test_clocks),
		cmocka_unit_test(test_utf8_scrub),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
