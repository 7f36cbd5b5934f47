/* common/json.c: the string getter. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/json.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_str_string),
		cmocka_unit_test(test_json_str_null),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
