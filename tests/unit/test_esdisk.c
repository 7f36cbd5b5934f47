/* es/disk.c: the low watermark in force and the data nodes against it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "es/disk.h"

#define GB (1LL << 30)

static struct es_version v(const char *s)
{
	struct es_version out = {-1, -1, -1};

	if (!es_version_parse(s, &out))
		fail_msg("es_version_parse refused \"%s\"", s);
	return out;
}

/* The low (or high) watermark of these settings (JSON text) on version
 * ver, n data nodes. */
static struct es_disk_watermark mark_of(bool high, const char *ver, const char *settings, int n)
{
	struct es_disk_watermark w;
	struct es_version x = v(ver);
	char why[200];
	json_t *s = json_loads(settings, 0, NULL);

	assert_non_null(s);
	bool ok = high ? es_disk_watermark_high(&x, s, n, &w, why, sizeof(why))
		       : es_disk_watermark(&x, s, n, &w, why, sizeof(why));
	if (!ok)
		fail_msg("the %s watermark of %s refused: %s", high ? "high" : "low", settings,
			 why);
	json_decref(s);
	return w;
}

static struct es_disk_watermark mark(const char *ver, const char *settings, int n)
{
	return mark_of(false, ver, settings, n);
}

static void test_percentages_and_ratios(void **state)
{
	struct es_disk_watermark w;
	(void)state;

	/* The default, 85% used at most: 15gb free of 100gb. */
	w = mark("7.17.10", "{\"persistent\": {}, \"transient\": {}}", 3);
	assert_true(w.enabled);
	assert_false(w.absolute);
	assert_int_equal(es_disk_free_needed(&w, 100 * GB), 15 * GB);
	/* A ratio is a percentage. */
	w = mark("7.17.10",
		 "{\"persistent\": {\"cluster.routing.allocation.disk.watermark.low\": "
		 "\"0.9\"}}",
		 3);
	assert_int_equal(es_disk_free_needed(&w, 100 * GB), 10 * GB);
	/* Transient over persistent over the defaults. */
	w = mark("6.8.23",
		 "{\"transient\": {\"cluster.routing.allocation.disk.watermark.low\": \"70%\"},"
		 " \"persistent\": {\"cluster.routing.allocation.disk.watermark.low\": \"80%\"},"
		 " \"defaults\": {\"cluster.routing.allocation.disk.watermark.low\": \"60%\"}}",
		 3);
	assert_int_equal(es_disk_free_needed(&w, 100 * GB), 30 * GB);
	w = mark("6.8.23",
		 "{\"defaults\": {\"cluster.routing.allocation.disk.watermark.low\": \"60%\"}}", 3);
	assert_int_equal(es_disk_free_needed(&w, 100 * GB), 40 * GB);
	/* Used bytes round up: 85% of 1001 bytes is 851 used, 150 free. */
	w = mark("7.17.10", "{}", 3);
	assert_int_equal(es_disk_free_needed(&w, 1001), 150);
}

static void test_bytes_free(void **state)
{
	struct es_disk_watermark w;
	(void)state;

	w = mark("7.17.10",
		 "{\"persistent\": {\"cluster.routing.allocation.disk.watermark.low\": \"20gb\"}}",
		 3);
	assert_true(w.absolute);
	assert_int_equal(es_disk_free_needed(&w, 100 * GB), 20 * GB);
	assert_int_equal(es_disk_free_needed(&w, 1000 * GB), 20 * GB);
	assert_true(es_disk_watermark_parse("512mb", &w));
	assert_int_equal(w.bytes, 512LL << 20);
	assert_true(es_disk_watermark_parse("1.5GB", &w));
	assert_int_equal(w.bytes, 3 * GB / 2);
	assert_false(es_disk_watermark_parse("lots", &w));
	assert_false(es_disk_watermark_parse("120%", &w));
	assert_false(es_disk_watermark_parse("", &w));
	/* A bare number other than 0 and -1 is no size (ByteSizeValue). */
	assert_false(es_disk_watermark_parse("1024", &w));
}

static void test_max_headroom(void **state)
{
	struct es_disk_watermark w;
	(void)state;

	/* 8.5+, nothing set: 85% capped at 200gb free. */
	w = mark("8.17.0", "{}", 3);
	assert_int_equal(w.headroom, 200 * GB);
	assert_int_equal(es_disk_free_needed(&w, 100 * GB), 15 * GB);
	assert_int_equal(es_disk_free_needed(&w, 10000 * GB), 200 * GB);
	/* Before 8.5 no cap: 15% of 10tb. */
	w = mark("8.4.3", "{}", 3);
	assert_int_equal(w.headroom, -1);
	assert_int_equal(es_disk_free_needed(&w, 10000 * GB), 1500 * GB);
	/* A watermark set by the API takes the default cap away, whatever the
	 * defaults of the answering node say. */
	w = mark("8.17.0",
		 "{\"persistent\": {\"cluster.routing.allocation.disk.watermark.high\": \"92%\"},"
		 " \"defaults\": {\"cluster.routing.allocation.disk.watermark.low.max_headroom\":"
		 " \"200GB\"}}",
		 3);
	assert_int_equal(w.headroom, -1);
	assert_int_equal(es_disk_free_needed(&w, 10000 * GB), 1500 * GB);
	/* The cap set by the API stays. */
	w = mark("8.17.0",
		 "{\"persistent\": {\"cluster.routing.allocation.disk.watermark.low\": \"90%\","
		 " \"cluster.routing.allocation.disk.watermark.low.max_headroom\": \"50gb\"}}",
		 3);
	assert_int_equal(es_disk_free_needed(&w, 10000 * GB), 50 * GB);
	assert_int_equal(es_disk_free_needed(&w, 100 * GB), 10 * GB);
	/* The defaults' -1 (a watermark in elasticsearch.yml) is no cap. */
	w = mark("8.17.0",
		 "{\"defaults\": {\"cluster.routing.allocation.disk.watermark.low.max_headroom\":"
		 " \"-1\"}}",
		 3);
	assert_int_equal(w.headroom, -1);
	char text[200];
	w = mark("8.17.0", "{}", 3);
	es_disk_describe(&w, 10000 * GB, text, sizeof(text));
	assert_string_equal(text, "cluster.routing.allocation.disk.watermark.low=85% capped by "
				  "max_headroom=200gb, 200gb free at least");
}

static void test_when_the_decider_does_not_decide(void **state)
{
	struct es_disk_watermark w;
	(void)state;

	w = mark("7.17.10",
		 "{\"persistent\": {\"cluster.routing.allocation.disk.threshold_enabled\": "
		 "\"false\"}}",
		 3);
	assert_false(w.enabled);
	assert_non_null(w.why_off);
	/* One data node before 8.0: left alone, unless 7.x asks. */
	assert_false(mark("6.8.23", "{}", 1).enabled);
	assert_false(mark("7.17.10", "{}", 1).enabled);
	assert_true(mark("7.17.10",
			 "{\"persistent\": {\"cluster.routing.allocation.disk.watermark."
			 "enable_for_single_data_node\": \"true\"}}",
			 1)
			    .enabled);
	assert_true(mark("8.17.0", "{}", 1).enabled);
	/* A value in force that is no watermark is said. */
	struct es_disk_watermark out;
	struct es_version x = v("7.17.10");
	char why[200];
	json_t *s = json_loads(
		"{\"persistent\": {\"cluster.routing.allocation.disk.watermark.low\": \"lots\"}}",
		0, NULL);
	assert_false(es_disk_watermark(&x, s, 3, &out, why, sizeof(why)));
	assert_non_null(strstr(why, "lots"));
	json_decref(s);
}

static void test_check_names_nodes_above_and_near(void **state)
{
	struct es_disk_watermark w = mark("7.17.10", "{}", 3);
	json_t *above, *near, *unreported;
	(void)state;

	json_t *rows =
		json_loads("[{\"node\": \"a\", \"disk.used\": \"94489280512\", \"disk.avail\": "
			   "\"12884901888\", \"disk.total\": \"107374182400\"},"
			   " {\"node\": \"b\", \"disk.used\": \"87000000000\", \"disk.avail\": "
			   "\"20374182400\", \"disk.total\": \"107374182400\"},"
			   " {\"node\": \"c\", \"disk.used\": \"1073741824\", \"disk.avail\": "
			   "\"106300440576\", \"disk.total\": \"107374182400\"},"
			   " {\"node\": \"d\", \"disk.used\": null, \"disk.avail\": null, "
			   "\"disk.total\": null},"
			   " {\"node\": \"UNASSIGNED\", \"disk.used\": null}]",
			   0, NULL);
	assert_non_null(rows);
	assert_int_equal(es_disk_data_nodes(rows), 4);
	es_disk_check(&w, rows, NULL, &above, &near, &unreported);
	assert_int_equal(json_array_size(above), 1);
	assert_string_equal(
		json_string_value(json_array_get(above, 0)),
		"a: 88.0% used, 12gb free of 100gb (the low watermark: "
		"cluster.routing.allocation.disk.watermark.low=85%, 15gb free at least)");
	assert_int_equal(json_array_size(near), 1);
	assert_non_null(strstr(json_string_value(json_array_get(near, 0)), "b: "));
	assert_int_equal(json_array_size(unreported), 1);
	assert_string_equal(json_string_value(json_array_get(unreported, 0)), "d");
	json_decref(above);
	json_decref(near);
	json_decref(unreported);
	/* Only the nodes asked about. */
	json_t *only = json_pack("[s]", "c");
	es_disk_check(&w, rows, only, &above, &near, &unreported);
	assert_int_equal(json_array_size(above) + json_array_size(near), 0);
	json_decref(above);
	json_decref(near);
	json_decref(unreported);
	json_decref(only);
	json_decref(rows);
}

static void test_version_rows(void **state)
{
	struct es_version x;
	(void)state;

	x = v("2.4.6");
	assert_false(es_has_settings_defaults(&x));
	assert_string_equal(es_disk_settings_path(&x), "/_cluster/settings?flat_settings=true");
	assert_int_equal(es_disk_single_node(&x), ES_DISK_SINGLE_NODE_NEVER);
	x = v("5.6.16");
	assert_true(es_has_settings_defaults(&x));
	assert_int_equal(es_disk_single_node(&x), ES_DISK_SINGLE_NODE_NEVER);
	x = v("7.17.10");
	assert_int_equal(es_disk_single_node(&x), ES_DISK_SINGLE_NODE_IF_ENABLED);
	assert_false(es_has_disk_max_headroom(&x));
	x = v("8.4.3");
	assert_int_equal(es_disk_single_node(&x), ES_DISK_SINGLE_NODE_ALWAYS);
	assert_false(es_has_disk_max_headroom(&x));
	x = v("8.5.0");
	assert_true(es_has_disk_max_headroom(&x));
	x = v("9.5.2");
	assert_true(es_has_disk_max_headroom(&x));
	assert_string_equal(es_disk_settings_path(&x),
			    "/_cluster/settings?include_defaults=true&flat_settings=true");
}

static struct es_disk_watermark mark_high(const char *ver, const char *settings, int n)
{
	return mark_of(true, ver, settings, n);
}

static void test_high_watermark(void **state)
{
	struct es_disk_watermark w;
	char text[200];
	(void)state;

	/* 90% by default; from 8.5 capped at 150gb free while none is set. */
	w = mark_high("7.17.10", "{}", 3);
	assert_int_equal(es_disk_free_needed(&w, 100 * GB), 10 * GB);
	assert_int_equal(es_disk_free_needed(&w, 10000 * GB), 1000 * GB);
	w = mark_high("8.17.0", "{}", 3);
	assert_int_equal(es_disk_free_needed(&w, 10000 * GB), 150 * GB);
	es_disk_describe(&w, 100 * GB, text, sizeof(text));
	assert_string_equal(text, "cluster.routing.allocation.disk.watermark.high=90%, 10gb free "
				  "at least");
	/* Set by the API, transient over persistent; the cap goes with it. */
	w = mark_high("8.17.0",
		      "{\"persistent\": {\"cluster.routing.allocation.disk.watermark.high\":"
		      " \"95%\"}, \"transient\": {\"cluster.routing.allocation.disk.watermark."
		      "high\": \"20gb\"}}",
		      3);
	assert_true(w.absolute);
	assert_int_equal(es_disk_free_needed(&w, 10000 * GB), 20 * GB);
	/* A low one set takes the high one's default cap away too. */
	w = mark_high(
		"8.17.0",
		"{\"persistent\": {\"cluster.routing.allocation.disk.watermark.low\": \"80%\"}}",
		3);
	assert_int_equal(w.headroom, -1);
	assert_int_equal(es_disk_free_needed(&w, 10000 * GB), 1000 * GB);
}

/* Two nodes leave: their shards against what the two left can take. */
static void test_drain_room(void **state)
{
	struct es_disk_watermark low = mark("7.17.10", "{}", 4);
	struct es_disk_watermark high = mark_high("7.17.10", "{}", 4);
	struct es_disk_drain d;
	(void)state;

	/* Disks of 100gb: "stay" has 30gb free (below low: takes up to 20gb,
	 * to 10gb free), "full" 12gb (above low: takes nothing). */
	json_t *rows = json_loads(
		"[{\"node\": \"stay\", \"disk.indices\": \"10737418240\", \"disk.avail\":"
		" \"32212254720\", \"disk.total\": \"107374182400\"},"
		" {\"node\": \"full\", \"disk.indices\": \"1073741824\", \"disk.avail\":"
		" \"12884901888\", \"disk.total\": \"107374182400\"},"
		" {\"node\": \"go-1\", \"disk.indices\": \"16106127360\", \"disk.avail\":"
		" \"53687091200\", \"disk.total\": \"107374182400\"},"
		" {\"node\": \"go-2\", \"disk.indices\": 5368709120, \"disk.avail\":"
		" \"53687091200\", \"disk.total\": \"107374182400\"},"
		" {\"node\": \"UNASSIGNED\", \"disk.indices\": null}]",
		0, NULL);
	assert_non_null(rows);
	json_t *leaving = json_pack("[s, s]", "go-1", "go-2");
	es_disk_drain(&low, &high, rows, leaving, &d);
	assert_int_equal(d.moving, 20 * GB);
	assert_int_equal(d.room, 20 * GB);
	assert_int_equal(d.takers, 1);
	assert_int_equal(d.others, 2);
	assert_int_equal(d.unreported, 0);
	assert_int_equal(d.example_total, 100 * GB);
	/* A leaving node whose shards Elasticsearch does not size yet. */
	json_object_set_new(json_array_get(rows, 3), "disk.indices", json_null());
	es_disk_drain(&low, &high, rows, leaving, &d);
	assert_int_equal(d.moving, 15 * GB);
	assert_int_equal(d.unreported, 1);
	json_decref(leaving);
	json_decref(rows);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_percentages_and_ratios),
		cmocka_unit_test(test_bytes_free),
		cmocka_unit_test(test_max_headroom),
		cmocka_unit_test(test_when_the_decider_does_not_decide),
		cmocka_unit_test(test_check_names_nodes_above_and_near),
		cmocka_unit_test(test_version_rows),
		cmocka_unit_test(test_high_watermark),
		cmocka_unit_test(test_drain_room),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
