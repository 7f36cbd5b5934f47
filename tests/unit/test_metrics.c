#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/metrics.h"

static char *expose(struct metrics *reg)
{
	size_t len = 0;
	char *text = metrics_expose(reg, &len);

	assert_int_equal(len, strlen(text));
	return text;
}

static void test_empty_registry_exposes_nothing(void **state)
{
	struct metrics *reg = metrics_new();
	char *text = expose(reg);

	assert_string_equal(text, "");
	free(text);
	metrics_free(reg);
}

/* A family without labels shows its one series at 0 before anything happens. */
static void test_counter_without_labels(void **state)
{
	struct metrics *reg = metrics_new();
	struct metric *m = metrics_counter(reg, "esaas_things_total", "Things done.", NULL);
	char *text = expose(reg);

	assert_string_equal(text, "# HELP esaas_things_total Things done.\n"
				  "# TYPE esaas_things_total counter\n"
				  "esaas_things_total 0\n");
	free(text);
	metrics_inc(metrics_series(m, NULL));
	metrics_add(metrics_series(m, NULL), 2.5);
	/* A counter never goes down. */
	metrics_add(metrics_series(m, NULL), -10);
	metrics_add(metrics_series(m, NULL), NAN);
	text = expose(reg);
	assert_string_equal(text, "# HELP esaas_things_total Things done.\n"
				  "# TYPE esaas_things_total counter\n"
				  "esaas_things_total 3.5\n");
	free(text);
	metrics_free(reg);
}

/* Series in creation order; the same values find the same series. */
static void test_labelled_counter_and_gauge(void **state)
{
	struct metrics *reg = metrics_new();
	const char *const labels[] = {"target", "class", NULL};
	struct metric *c = metrics_counter(reg, "esaas_requests_total", "Requests.", labels);
	const char *const gl[] = {"state", NULL};
	struct metric *g = metrics_gauge(reg, "esaas_pool_connections", "Connections.", gl);
	const char *const es2[] = {"es", "2xx", NULL};
	const char *const kube5[] = {"kube", "5xx", NULL};
	const char *const busy[] = {"busy"};

	metrics_inc(metrics_series(c, es2));
	metrics_inc(metrics_series(c, kube5));
	metrics_inc(metrics_series(c, es2));
	assert_ptr_equal(metrics_series(c, es2), metrics_series(c, es2));
	metrics_set(metrics_series(g, busy), 3);
	metrics_set(metrics_series(g, busy), -1.25);
	assert_true(metrics_value(metrics_series(g, busy)) == -1.25);
	char *text = expose(reg);

	assert_string_equal(text, "# HELP esaas_requests_total Requests.\n"
				  "# TYPE esaas_requests_total counter\n"
				  "esaas_requests_total{target=\"es\",class=\"2xx\"} 2\n"
				  "esaas_requests_total{target=\"kube\",class=\"5xx\"} 1\n"
				  "# HELP esaas_pool_connections Connections.\n"
				  "# TYPE esaas_pool_connections gauge\n"
				  "esaas_pool_connections{state=\"busy\"} -1.25\n");
	free(text);
	metrics_series_drop(metrics_series(c, es2));
	text = expose(reg);
	assert_non_null(strstr(text, "esaas_requests_total{target=\"kube\",class=\"5xx\"} 1\n"));
	assert_null(strstr(text, "target=\"es\""));
	free(text);
	metrics_free(reg);
}

/* Cumulative buckets, +Inf, _sum and _count; le next to the other labels. */
static void test_histogram(void **state)
{
	struct metrics *reg = metrics_new();
	const double bounds[] = {0.01, 0.1, 1};
	const char *const labels[] = {"target", NULL};
	struct metric *h = metrics_histogram(reg, "esaas_request_duration_seconds",
					     "Request latency.", labels, bounds, 3);
	const char *const es[] = {"es"};
	struct metric_series *s = metrics_series(h, es);

	metrics_observe(s, 0.005);
	metrics_observe(s, 0.01); /* a bound is in its bucket: le means <= */
	metrics_observe(s, 0.5);
	metrics_observe(s, 7);
	char *text = expose(reg);

	assert_string_equal(text,
			    "# HELP esaas_request_duration_seconds Request latency.\n"
			    "# TYPE esaas_request_duration_seconds histogram\n"
			    "esaas_request_duration_seconds_bucket{target=\"es\",le=\"0.01\"} 2\n"
			    "esaas_request_duration_seconds_bucket{target=\"es\",le=\"0.1\"} 2\n"
			    "esaas_request_duration_seconds_bucket{target=\"es\",le=\"1\"} 3\n"
			    "esaas_request_duration_seconds_bucket{target=\"es\",le=\"+Inf\"} 4\n"
			    "esaas_request_duration_seconds_sum{target=\"es\"} 7.515\n"
			    "esaas_request_duration_seconds_count{target=\"es\"} 4\n");
	free(text);
	metrics_free(reg);
}

static void test_histogram_without_labels(void **state)
{
	struct metrics *reg = metrics_new();
	const double bounds[] = {1, 2.5};
	struct metric *h = metrics_histogram(reg, "esaas_x_seconds", "X.", NULL, bounds, 2);

	metrics_observe(metrics_series(h, NULL), 3);
	char *text = expose(reg);

	assert_string_equal(text, "# HELP esaas_x_seconds X.\n"
				  "# TYPE esaas_x_seconds histogram\n"
				  "esaas_x_seconds_bucket{le=\"1\"} 0\n"
				  "esaas_x_seconds_bucket{le=\"2.5\"} 0\n"
				  "esaas_x_seconds_bucket{le=\"+Inf\"} 1\n"
				  "esaas_x_seconds_sum 3\n"
				  "esaas_x_seconds_count 1\n");
	free(text);
	metrics_free(reg);
}

/* Label values escape \, " and newline; help text \ and newline only. */
static void test_escaping(void **state)
{
	struct metrics *reg = metrics_new();
	const char *const labels[] = {"v", NULL};
	struct metric *g =
		metrics_gauge(reg, "esaas_escape", "A \\ and a \"quote\"\nand more.", labels);
	const char *const odd[] = {"a\\b\"c\nd"};

	metrics_set(metrics_series(g, odd), 1);
	char *text = expose(reg);

	assert_string_equal(text, "# HELP esaas_escape A \\\\ and a \"quote\"\\nand more.\n"
				  "# TYPE esaas_escape gauge\n"
				  "esaas_escape{v=\"a\\\\b\\\"c\\nd\"} 1\n");
	free(text);
	metrics_free(reg);
}

static void test_special_and_small_values(void **state)
{
	struct metrics *reg = metrics_new();
	const char *const labels[] = {"k", NULL};
	struct metric *g = metrics_gauge(reg, "esaas_values", "Values.", labels);
	const char *const k[][1] = {{"inf"}, {"ninf"}, {"nan"}, {"tenth"}, {"big"}, {"tiny"}};

	metrics_set(metrics_series(g, k[0]), INFINITY);
	metrics_set(metrics_series(g, k[1]), -INFINITY);
	metrics_set(metrics_series(g, k[2]), NAN);
	metrics_set(metrics_series(g, k[3]), 0.1);
	metrics_set(metrics_series(g, k[4]), 1e20);
	metrics_set(metrics_series(g, k[5]), 1.5e-7);
	char *text = expose(reg);

	assert_string_equal(text, "# HELP esaas_values Values.\n"
				  "# TYPE esaas_values gauge\n"
				  "esaas_values{k=\"inf\"} +Inf\n"
				  "esaas_values{k=\"ninf\"} -Inf\n"
				  "esaas_values{k=\"nan\"} NaN\n"
				  "esaas_values{k=\"tenth\"} 0.1\n"
				  "esaas_values{k=\"big\"} 1e+20\n"
				  "esaas_values{k=\"tiny\"} 1.5e-07\n");
	free(text);
	metrics_free(reg);
}

/* Many series: the hash table grows and every one is still found. */
static void test_many_series(void **state)
{
	struct metrics *reg = metrics_new();
	const char *const labels[] = {"cluster", NULL};
	struct metric *g = metrics_gauge(reg, "esaas_many", "Many.", labels);
	char name[32];

	for (int i = 0; i < 5000; i++) {
		const char *v[] = {name};

		snprintf(name, sizeof(name), "c%d", i);
		metrics_set(metrics_series(g, v), i);
	}
	for (int i = 0; i < 5000; i += 2) {
		const char *v[] = {name};

		snprintf(name, sizeof(name), "c%d", i);
		metrics_series_drop(metrics_series(g, v));
	}
	for (int i = 1; i < 5000; i += 2) {
		const char *v[] = {name};

		snprintf(name, sizeof(name), "c%d", i);
		assert_true(metrics_value(metrics_series(g, v)) == i);
	}
	char *text = expose(reg);

	assert_non_null(strstr(text, "esaas_many{cluster=\"c4999\"} 4999\n"));
	assert_null(strstr(text, "esaas_many{cluster=\"c4998\"}"));
	free(text);
	metrics_free(reg);
}

struct collected {
	int calls;
};

static void collect_cb(struct metrics_sink *sink, void *arg)
{
	const char *const a[] = {"default", "logs"};
	const char *const b[] = {"default", "metrics"};

	((struct collected *)arg)->calls++;
	metrics_sink_sample(sink, a, 2);
	metrics_sink_sample(sink, b, 0);
}

static void hook_cb(void *arg)
{
	metrics_set(arg, 42);
}

/* A collector writes its samples in its family's place; hooks run first. */
static void test_collector_and_hook(void **state)
{
	struct metrics *reg = metrics_new();
	struct collected got = {0};
	struct metric *g = metrics_gauge(reg, "esaas_first", "First.", NULL);
	const char *const labels[] = {"tenant", "cluster", NULL};
	struct metric *c = metrics_collector(reg, METRIC_GAUGE, "esaas_cluster_nodes", "Nodes.",
					     labels, collect_cb, &got);

	metrics_counter(reg, "esaas_last_total", "Last.", NULL);
	metrics_on_collect(reg, hook_cb, metrics_series(g, NULL));
	char *text = expose(reg);

	assert_int_equal(got.calls, 1);
	assert_string_equal(text, "# HELP esaas_first First.\n"
				  "# TYPE esaas_first gauge\n"
				  "esaas_first 42\n"
				  "# HELP esaas_cluster_nodes Nodes.\n"
				  "# TYPE esaas_cluster_nodes gauge\n"
				  "esaas_cluster_nodes{tenant=\"default\",cluster=\"logs\"} 2\n"
				  "esaas_cluster_nodes{tenant=\"default\",cluster=\"metrics\"} 0\n"
				  "# HELP esaas_last_total Last.\n"
				  "# TYPE esaas_last_total counter\n"
				  "esaas_last_total 0\n");
	free(text);
	metrics_unregister(c);
	metrics_on_collect_remove(reg, hook_cb, metrics_series(g, NULL));
	metrics_set(metrics_series(g, NULL), 1);
	text = expose(reg);
	assert_int_equal(got.calls, 1);
	assert_string_equal(text, "# HELP esaas_first First.\n"
				  "# TYPE esaas_first gauge\n"
				  "esaas_first 1\n"
				  "# HELP esaas_last_total Last.\n"
				  "# TYPE esaas_last_total counter\n"
				  "esaas_last_total 0\n");
	free(text);
	metrics_free(reg);
}

/* Registering again returns the same family, so modules may register on each start. */
static void test_register_twice(void **state)
{
	struct metrics *reg = metrics_new();
	const char *const labels[] = {"a", NULL};
	struct metric *one = metrics_counter(reg, "esaas_twice_total", "Twice.", labels);
	struct metric *two = metrics_counter(reg, "esaas_twice_total", "Twice.", labels);

	assert_ptr_equal(one, two);
	metrics_free(reg);
}

static void test_default_registry(void **state)
{
	struct metrics *reg = metrics_default();

	assert_ptr_equal(reg, metrics_default());
	metrics_default_free();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_registry_exposes_nothing),
		cmocka_unit_test(test_counter_without_labels),
		cmocka_unit_test(test_labelled_counter_and_gauge),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_histogram_without_labels),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_special_and_small_values),
		cmocka_unit_test(test_many_series),
		cmocka_unit_test(test_collector_and_hook),
		cmocka_unit_test(test_register_twice),
		cmocka_unit_test(test_default_registry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
