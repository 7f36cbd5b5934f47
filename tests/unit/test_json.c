/* common/json.c: the string getter. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/json.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

/* A string member is returned as is, borrowed from the object. */
static void test_json_str_string(void **state)
{
	json_t *o = json_pack("{s:s, s:s}", "name", "alpha", "empty", "");

	assert_string_equal(json_str(o, "name"), "alpha");
	assert_ptr_equal(json_str(o, "name"), json_string_value(json_object_get(o, "name")));
	assert_string_equal(json_str(o, "empty"), "");
	json_decref(o);
}

/* Missing members, other types, NULL and non-objects give NULL. */
static void test_json_str_null(void **state)
{
	json_t *o = json_pack("{s:i, s:n, s:b, s:[s], s:{s:s}}", "int", 1, "null", "bool", 1,
			      "array", "x", "object", "k", "v");
	json_t *a = json_pack("[s]", "name");
	json_t *s = json_string("name");

	assert_null(json_str(o, "missing"));
	assert_null(json_str(o, "int"));
	assert_null(json_str(o, "null"));
	assert_null(json_str(o, "bool"));
	assert_null(json_str(o, "array"));
	assert_null(json_str(o, "object"));
	assert_null(json_str(NULL, "name"));
	assert_null(json_str(a, "name"));
	assert_null(json_str(s, "name"));
	json_decref(o);
	json_decref(a);
	json_decref(s);
}

static char *filled(char c, size_t n)
{
	char *s = xmalloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* A long text is cut on a character, with its full length said. */
static void test_text_cut(void **state)
{
	char *s = json_text_cut("short", 64);
	assert_string_equal(s, "short");
	free(s);

	char *text = filled('a', 1000);
	s = json_text_cut(text, 100);
	assert_true(strlen(s) <= 100);
	assert_non_null(strstr(s, "...[cut: 1000 bytes in all]"));
	assert_int_equal(strncmp(s, "aaaa", 4), 0);
	free(s);
	free(text);

	/* "é" is two bytes: never split in the middle. */
	char *accents = xmalloc(2 * 200 + 1);
	for (int i = 0; i < 200; i++)
		memcpy(accents + 2 * i, "\xc3\xa9", 2);
	accents[400] = '\0';
	for (size_t max = 64; max < 100; max++) {
		s = json_text_cut(accents, max);
		assert_true(strlen(s) <= max);
		json_t *j = json_string(s); /* NULL unless valid UTF-8 */
		assert_non_null(j);
		json_decref(j);
		free(s);
	}
	free(accents);
}

/* A document too big keeps its shape: its longest strings are cut. */
static void test_bound_cuts_strings(void **state)
{
	char *big = filled('x', 50000), *mid = filled('y', 3000);
	json_t *doc = json_pack("{s:s, s:{s:s, s:[i, s]}, s:s}", "kind", "cluster_health_changed",
				"detail", "explain", big, "nodes", 3, mid, "status", "red");
	json_t *same = json_bound(doc, 100000);
	assert_ptr_equal(same, doc);
	json_decref(same);

	json_t *b = json_bound(doc, 2048);
	char *text = json_dumps(b, JSON_COMPACT);
	assert_true(strlen(text) <= 2048);
	assert_string_equal(json_str(b, "kind"), "cluster_health_changed");
	assert_string_equal(json_str(b, "status"), "red");
	const char *explain = json_str(json_object_get(b, "detail"), "explain");
	assert_non_null(strstr(explain, "[cut: 50000 bytes in all]"));
	assert_int_equal(json_integer_value(json_array_get(
				 json_object_get(json_object_get(b, "detail"), "nodes"), 0)),
			 3);
	/* The original is untouched. */
	assert_int_equal(strlen(json_str(json_object_get(doc, "detail"), "explain")), 50000);
	free(text);
	json_decref(b);
	json_decref(doc);
	free(big);
	free(mid);

	/* Short strings by the thousand cannot be cut: the text is, in a string. */
	doc = json_array();
	for (int i = 0; i < 2000; i++)
		json_array_append_new(doc, json_string("node"));
	b = json_bound(doc, 1024);
	text = json_dumps(b, JSON_COMPACT);
	assert_true(strlen(text) <= 1024);
	assert_non_null(strstr(json_str(b, "cut"), "[cut: "));
	free(text);
	json_decref(b);
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_str_string),
		cmocka_unit_test(test_json_str_null),
		cmocka_unit_test(test_text_cut),
		cmocka_unit_test(test_bound_cuts_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
