/*
 * The shape of a set of maintenance windows and of "urgent" (api/
 * maintenance.c): what passes, and for what fails, the field it names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "api/http.h"
#include "api/routes.h"

/* The verdict on body: NULL when it passes, else the field named (422). */
static char *verdict(const char *body)
{
	json_error_t jerr;
	json_t *m = json_loads(body, 0, &jerr);
	struct http_error err = {0};
	char *field = NULL;

	assert_non_null(m);
	if (!api_maintenance_check(m, &err)) {
		assert_int_equal(err.status, 422);
		field = strdup(err.field ? err.field : "");
	}
	http_error_clear(&err);
	json_decref(m);
	return field;
}

static void expect_field(const char *body, const char *field)
{
	char *got = verdict(body);

	if (!field && got)
		fail_msg("%s: refused, naming %s", body, got);
	if (field && (!got || strcmp(got, field) != 0))
		fail_msg("%s: expected a refusal naming %s, got %s", body, field,
			 got ? got : "none");
	free(got);
}

#define ONE(day, start, duration)                                           \
	"{\"time_zone\": \"Europe/Berlin\", \"windows\": [{\"day\": \"" day \
	"\", \"start\": \"" start "\", \"duration\": \"" duration "\"}]}"

static void test_windows_that_pass(void **state)
{
	(void)state;
	expect_field("{\"time_zone\": \"UTC\", \"windows\": []}", NULL);
	expect_field(ONE("mon", "00:00", "30m"), NULL);
	expect_field(ONE("sun", "23:59", "24h"), NULL);
	expect_field(ONE("sat", "02:00", "1h30m"), NULL);
	expect_field(ONE("wed", "12:30", "90m"), NULL);
}

static void test_each_fault_names_its_field(void **state)
{
	(void)state;
	expect_field("[]", "");
	expect_field("{\"windows\": []}", "time_zone");
	expect_field("{\"time_zone\": \"\", \"windows\": []}", "time_zone");
	expect_field("{\"time_zone\": \"UTC\"}", "windows");
	expect_field("{\"time_zone\": \"UTC\", \"windows\": [], \"x\": 1}", "x");
	expect_field("{\"time_zone\": \"UTC\", \"windows\": [null]}", "windows[0]");
	expect_field(ONE("Sat", "02:00", "4h"), "windows[0].day");
	expect_field(ONE("", "02:00", "4h"), "windows[0].day");
	expect_field(ONE("sat", "24:00", "4h"), "windows[0].start");
	expect_field(ONE("sat", "12:60", "4h"), "windows[0].start");
	expect_field(ONE("sat", "2:00", "4h"), "windows[0].start");
	expect_field(ONE("sat", "02:00:00", "4h"), "windows[0].start");
	expect_field(ONE("sat", "02:00", "29m"), "windows[0].duration");
	expect_field(ONE("sat", "02:00", "24h1m"), "windows[0].duration");
	expect_field(ONE("sat", "02:00", "1m1h"), "windows[0].duration");
	expect_field(ONE("sat", "02:00", "h"), "windows[0].duration");
	expect_field(ONE("sat", "02:00", "4"), "windows[0].duration");
	expect_field(ONE("sat", "02:00", "4h "), "windows[0].duration");
	expect_field(ONE("sat", "02:00", "999999h"), "windows[0].duration");
	expect_field(ONE("sat", "02:00", "-4h"), "windows[0].duration");
}

static void test_urgent_needs_a_reason(void **state)
{
	static const struct {
		const char *body, *field, *reason;
	} cases[] = {
		{"{\"role\": \"data\"}", NULL, NULL},
		{"{\"urgent\": {\"reason\": \"CVE fix\"}}", NULL, "CVE fix"},
		{"{\"urgent\": {}}", "urgent.reason", NULL},
		{"{\"urgent\": {\"reason\": \" \"}}", "urgent.reason", NULL},
		{"{\"urgent\": {\"reason\": 5}}", "urgent.reason", NULL},
		{"{\"urgent\": \"now\"}", "urgent", NULL},
		{"{\"urgent\": {\"reason\": \"r\", \"by\": \"me\"}}", "urgent.by", NULL},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *body = json_loads(cases[i].body, 0, NULL);
		struct http_error err = {0};
		char *reason = NULL;
		bool ok = api_take_urgent(body, &reason, &err);

		assert_int_equal(ok, cases[i].field == NULL);
		if (ok && cases[i].reason) {
			assert_string_equal(reason, cases[i].reason);
			assert_null(json_object_get(body, "urgent"));
		} else if (ok) {
			assert_null(reason);
		} else {
			assert_int_equal(err.status, 422);
			assert_string_equal(err.field, cases[i].field);
		}
		free(reason);
		http_error_clear(&err);
		json_decref(body);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_windows_that_pass),
		cmocka_unit_test(test_each_fault_names_its_field),
		cmocka_unit_test(test_urgent_needs_a_reason),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
