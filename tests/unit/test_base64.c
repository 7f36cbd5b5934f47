/* common/base64.c: the strict decoder and the encoder. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/util.h"

static void assert_decodes(const char *in, const char *want, size_t want_len)
{
	unsigned char *out = NULL;
	size_t len = 99;

	if (!base64_decode(in, strlen(in), &out, &len, NULL))
		fail_msg("\"%s\" did not decode", in);
	assert_int_equal(len, want_len);
	assert_memory_equal(out, want, want_len);
	/* Always terminated, so text can be used as a C string. */
	assert_int_equal(out[len], '\0');
	free(out);
}

/* The test vectors of RFC 4648, section 10. */
static void test_rfc4648_vectors(void **state)
{
	static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const coded[] = {"",		"Zg==",	    "Zm8=",    "Zm9v",
					    "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};

	for (size_t i = 0; i < ARRAY_SIZE(plain); i++) {
		char *enc = base64_encode(plain[i], strlen(plain[i]));

		assert_string_equal(enc, coded[i]);
		free(enc);
		assert_decodes(coded[i], plain[i], strlen(plain[i]));
	}
}

static void test_binary_round_trip(void **state)
{
	unsigned char all[256];
	unsigned char *out;
	size_t len;

	for (size_t i = 0; i < sizeof(all); i++)
		all[i] = (unsigned char)(255 - i);
	for (size_t n = 0; n <= sizeof(all); n++) {
		char *enc = base64_encode(all, n);

		assert_true(base64_decode(enc, strlen(enc), &out, &len, NULL));
		assert_int_equal(len, n);
		assert_memory_equal(out, all, n);
		free(out);
		free(enc);
	}
}

/* The values in the kubeconfig fixtures. */
static void test_kubeconfig_values(void **state)
{
	assert_decodes("Q0FEQVRB", "CADATA", 6);
	assert_decodes("Q0FEQVRBMg==", "CADATA2", 7);
	assert_decodes("VVNFUl9DQURBVEE=", "USER_CADATA", 11);
	assert_decodes("Q0FEQVRA", "CADAT@", 6);
	assert_decodes("+/+/", "\xfb\xff\xbf", 3);
}

/* CR and LF are skipped anywhere, as kubectl does: a folded PEM still decodes. */
static void test_line_breaks_skipped(void **state)
{
	assert_decodes("Zm9v\nYmFy", "foobar", 6);
	assert_decodes("Zm9v\r\nYmFy\r\n", "foobar", 6);
	assert_decodes("\nZ\nm\n9\nv\n", "foo", 3);
	assert_decodes("Zm8=\n", "fo", 2);
	assert_decodes("Zg=\n=", "f", 1);
}

struct bad {
	const char *in;
	size_t pos; /* where the fault is reported */
};

static void test_rejects(void **state)
{
	static const struct bad bad[] = {
		{"Zg", 2},	  /* unpadded */
		{"Zm9", 3},	  /* unpadded */
		{"Z", 1},	  /* a lone character */
		{"Zg=", 3},	  /* half the padding */
		{"Z===", 1},	  /* padding after one character */
		{"====", 0},	  /* only padding */
		{"Zg==Zg==", 4},  /* data after the padding */
		{"Zm8=Zm8=", 4},  /* data after the padding */
		{"Zg==\nx", 5},	  /* data after the padding, past a newline */
		{"Zm9v ", 4},	  /* a space */
		{" Zm9v", 0},	  /* a space */
		{"Zm 9v", 2},	  /* a space */
		{"Zm9v\t", 4},	  /* a tab */
		{"Zm9-", 3},	  /* URL-safe alphabet */
		{"Zm9_", 3},	  /* URL-safe alphabet */
		{"Zm9v!", 4},	  /* not in the alphabet */
		{"Zh==", 1},	  /* non-zero bits after the last byte */
		{"Zm9=", 2},	  /* non-zero bits after the last byte */
		{"Zg=a", 3},	  /* padding then data */
		{"Zm9vYg=", 7},	  /* half the padding */
		{"Zm9vYmFy=", 8}, /* padding with nothing to pad */
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		unsigned char *out = (unsigned char *)"untouched";
		size_t len = 42, pos = 999;

		if (base64_decode(bad[i].in, strlen(bad[i].in), &out, &len, &pos))
			fail_msg("accepted \"%s\"", bad[i].in);
		if (pos != bad[i].pos)
			fail_msg("\"%s\": fault at %zu, expected %zu", bad[i].in, pos, bad[i].pos);
		/* Outputs are left alone on failure. */
		assert_string_equal((const char *)out, "untouched");
		assert_int_equal(len, 42);
	}
}

/* The length given counts, not a terminator: an embedded NUL is a bad byte. */
static void test_length_bounds(void **state)
{
	unsigned char *out;
	size_t len, pos;

	assert_true(base64_decode("Zm9vYmFy", 4, &out, &len, NULL));
	assert_int_equal(len, 3);
	assert_memory_equal(out, "foo", 3);
	free(out);
	assert_false(base64_decode("Zm9v\0mFy", 8, &out, &len, &pos));
	assert_int_equal(pos, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_binary_round_trip),
		cmocka_unit_test(test_kubeconfig_values),
		cmocka_unit_test(test_line_breaks_skipped),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_length_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
