/*
 * The states' pure planners, apart from any call: which pods a restart
 * takes and in what order (states/restart.c), and where a scale goes
 * (states/scale.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/render.h"
#include "states/states.h"
#include "states/internal.h"

/* A pod list as the API server answers it, from "name:role" and flags. */
static json_t *pod_items(const char *const *pods)
{
	json_t *items = json_array();
	for (size_t i = 0; pods[i]; i++) {
		char name[64], role[32] = "";
		const char *colon = strchr(pods[i], ':');
		size_t n = colon ? (size_t)(colon - pods[i]) : strlen(pods[i]);
		snprintf(name, sizeof(name), "%.*s", (int)n, pods[i]);
		if (colon)
			snprintf(role, sizeof(role), "%s", colon + 1);
		bool leaving = strstr(role, "!") != NULL;
		if (leaving)
			*strchr(role, '!') = '\0';
		json_t *meta = json_pack("{s:s, s:s}", "name", name, "uid", name);
		if (role[0])
			json_object_set_new(meta, "labels",
					    json_pack("{s:s}", RENDER_LABEL_ROLE, role));
		if (leaving)
			json_object_set_new(meta, "deletionTimestamp",
					    json_string("2026-01-01T00:00:00Z"));
		json_array_append_new(items, json_pack("{s:o}", "metadata", meta));
	}
	return items;
}

/* The plan's pod names, space-separated. */
static char *plan(const char *params, const char *const *pods)
{
	json_t *p = json_loads(params, 0, NULL);
	json_t *items = pod_items(pods);
	json_t *pending = restart_plan_pods(p, items);
	char *out = calloc(1, 1024);
	size_t i, used = 0;
	json_t *pod;
	json_array_foreach (pending, i, pod)
		used += (size_t)snprintf(out + used, 1024 - used, "%s%s", i ? " " : "",
					 json_string_value(json_object_get(pod, "name")));
	json_decref(pending);
	json_decref(items);
	json_decref(p);
	return out;
}

static const char *const cluster[] = {
	"es-master-1:master", "es-master-0:master", "es-client-0:client", "es-data-1:data",
	"es-data-0:data",     "kibana-abc",	    "es-data-2:data!",	  NULL};

static void expect_plan(const char *params, const char *want)
{
	char *got = plan(params, cluster);
	if (strcmp(got, want) != 0)
		fail_msg("plan of %s: %s, not %s", params, got, want);
	free(got);
}

/* Data first, clients, masters last; by name within a role; Kibana and
 * pods on their way out never. */
static void test_restart_order(void **state)
{
	expect_plan("{}", "es-data-0 es-data-1 es-client-0 es-master-0 es-master-1");
	expect_plan("{\"role\": \"masters\"}", "es-master-0 es-master-1");
	expect_plan("{\"role\": \"clients\"}", "es-client-0");
	expect_plan("{\"role\": \"data\"}", "es-data-0 es-data-1");
	expect_plan("{\"nodes\": [\"es-master-1\", \"es-data-1\"]}", "es-data-1 es-master-1");
	expect_plan("{\"nodes\": [\"kibana-abc\", \"es-data-2\"]}", "");
	expect_plan("{\"role\": \"kibana\"}", "");
}

/* The scale plan's choice for each role, direction and coordination. */
static void test_scale_plan_way(void **state)
{
	assert_int_equal(scale_plan_way(ES_ROLE_DATA, 3, 3, false, false), SCALE_PLAN_UNCHANGED);
	assert_int_equal(scale_plan_way(ES_ROLE_MASTER, 3, 3, true, false), SCALE_PLAN_UNCHANGED);
	assert_int_equal(scale_plan_way(ES_ROLE_DATA, 3, 4, false, false), SCALE_PLAN_UP);
	assert_int_equal(scale_plan_way(ES_ROLE_CLIENT, 0, 2, false, false), SCALE_PLAN_UP);
	assert_int_equal(scale_plan_way(ES_ROLE_DATA, 4, 3, false, false), SCALE_PLAN_DATA_DOWN);
	assert_int_equal(scale_plan_way(ES_ROLE_DATA, 4, 3, false, true),
			 SCALE_PLAN_DATA_DOWN_FORCED);
	assert_int_equal(scale_plan_way(ES_ROLE_CLIENT, 2, 1, false, false),
			 SCALE_PLAN_CLIENTS_DOWN);
	/* force means nothing to clients: they hold no shard */
	assert_int_equal(scale_plan_way(ES_ROLE_CLIENT, 2, 1, false, true),
			 SCALE_PLAN_CLIENTS_DOWN);
	assert_int_equal(scale_plan_way(ES_ROLE_MASTER, 3, 5, true, false), SCALE_PLAN_ZEN1_GROW);
	assert_int_equal(scale_plan_way(ES_ROLE_MASTER, 5, 3, true, false), SCALE_PLAN_ZEN1_SHRINK);
	assert_int_equal(scale_plan_way(ES_ROLE_MASTER, 1, 3, false, false), SCALE_PLAN_ZEN2_GROW);
	assert_int_equal(scale_plan_way(ES_ROLE_MASTER, 3, 1, false, true), SCALE_PLAN_ZEN2_SHRINK);
}

/* A preview's rolling order: the restart's, the elected master moved last. */
static void test_preview_rolling_pods_elected_master_last(void **state)
{
	json_t *live = json_pack("{s:s, s:o, s:[{s:s, s:s}, {s:s, s:s}]}", "namespace", "es-t-pv",
				 "pods", pod_items(cluster), "nodes", "name", "es-master-0.es-t-pv",
				 "master", "*", "name", "es-master-1.es-t-pv", "master", "-");
	char *node = render_node_name("es-master-0", "es-t-pv");
	json_object_set_new(json_array_get(json_object_get(live, "nodes"), 0), "name",
			    json_string(node));
	free(node);
	node = render_node_name("es-master-1", "es-t-pv");
	json_object_set_new(json_array_get(json_object_get(live, "nodes"), 1), "name",
			    json_string(node));
	free(node);
	json_t *params = json_object();
	json_t *pods = preview_rolling_pods(params, live);
	const char *want[] = {"es-data-0", "es-data-1", "es-client-0", "es-master-1",
			      "es-master-0"};
	assert_int_equal(json_array_size(pods), 5);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(
			json_string_value(json_object_get(json_array_get(pods, i), "name")),
			want[i]);
	json_t *actions = preview_pod_actions(pods, "restart");
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(actions, 4), "action")),
		"restart");
	assert_null(json_object_get(json_array_get(actions, 4), "uid"));
	/* None elected that we know of: the restart's order as it is. */
	json_object_set_new(live, "nodes", json_array());
	json_decref(pods);
	pods = preview_rolling_pods(params, live);
	assert_string_equal(json_string_value(json_object_get(json_array_get(pods, 4), "name")),
			    "es-master-1");
	assert_int_equal(preview_live_pods(live, "data"), 2); /* es-data-2 is on its way out */
	assert_int_equal(preview_live_pods(live, "master"), 2);
	json_decref(actions);
	json_decref(pods);
	json_decref(params);
	json_decref(live);
}

/* _cat/shards' sizes, as Elasticsearch prints them without ?bytes. */
static void test_preview_store_bytes(void **state)
{
	assert_int_equal(preview_store_bytes("225b"), 225);
	assert_int_equal(preview_store_bytes("1.5kb"), 1536);
	assert_int_equal(preview_store_bytes("2gb"), 2147483648LL);
	assert_int_equal(preview_store_bytes("42"), 42);
	assert_int_equal(preview_store_bytes(NULL), -1);
	assert_int_equal(preview_store_bytes(""), -1);
	assert_int_equal(preview_store_bytes("-1b"), -1);
	assert_int_equal(preview_store_bytes("3 apples"), -1);
	assert_int_equal(preview_store_bytes("kb"), -1);
}

/* The copies on the leaving nodes, counted and summed; a relocation's
 * "from -> to" names no node of those. */
static void test_preview_shards_on(void **state)
{
	json_t *rows = json_pack(
		"[{s:s, s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s, s:s},"
		" {s:s, s:s, s:s, s:n, s:n}]",
		"index", "logs", "shard", "0", "prirep", "p", "store", "1kb", "node", "n2", "index",
		"logs", "shard", "1", "prirep", "r", "store", "100b", "node", "n2", "index", "logs",
		"shard", "1", "prirep", "p", "store", "100b", "node", "n1", "index", "logs",
		"shard", "2", "prirep", "r", "store", "node");
	json_t *nodes = json_pack("[s]", "n2");
	char worst[64];
	assert_int_equal(preview_most_copies(rows, worst, sizeof(worst)), 2);
	assert_string_equal(worst, "logs/1");
	json_t *s = preview_shards_on(rows, nodes);
	assert_int_equal(json_integer_value(json_object_get(s, "count")), 2);
	assert_int_equal(json_integer_value(json_object_get(s, "bytes")), 1124);
	assert_string_equal(json_string_value(json_array_get(json_object_get(s, "copies"), 0)),
			    "logs/0 (primary)");
	assert_string_equal(json_string_value(json_array_get(json_object_get(s, "copies"), 1)),
			    "logs/1");
	json_decref(s);
	json_decref(nodes);
	json_decref(rows);
}

/* The tally of one pod (JSON) and why it is not ready. */
static const char *tally_one(const char *pod_json, struct states_pod_tally *t)
{
	json_error_t err;
	json_t *items = json_loads(pod_json, 0, &err);
	assert_non_null(items);
	states_tally_pods(items, false, NULL, t);
	json_decref(items);
	return t->first_missing;
}

/* A pod that is not ready says what its containers wait for, as the
 * kubelet wrote it; waiting for its turn is no news. */
static void test_pod_not_ready_says_what_its_containers_wait_for(void **state)
{
	(void)state;
	struct states_pod_tally t;
	assert_string_equal(
		tally_one(
			"[{\"metadata\":{\"name\":\"es-data-0\"},\"status\":{\"phase\":\"Pending\","
			"\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}],"
			"\"initContainerStatuses\":[{\"name\":\"prepare\",\"state\":{"
			"\"terminated\":{\"exitCode\":0}}}],\"containerStatuses\":[{\"name\":"
			"\"elasticsearch\",\"state\":{\"waiting\":{\"reason\":"
			"\"CreateContainerConfigError\",\"message\":\"couldn't find key password "
			"in Secret es-x/es-security\"}}}]}}]",
			&t),
		"es-data-0 Pending: container elasticsearch waiting: CreateContainerConfigError: "
		"couldn't find key password in Secret es-x/es-security");
	assert_int_equal(t.ready, 0);
	assert_string_equal(
		tally_one(
			"[{\"metadata\":{\"name\":\"es-data-1\"},\"status\":{\"phase\":\"Pending\","
			"\"initContainerStatuses\":[{\"name\":\"install-plugins\",\"state\":{"
			"\"waiting\":{\"reason\":\"ImagePullBackOff\",\"message\":\"Back-off "
			"pulling image \\\"x:1\\\"\"}}}],\"containerStatuses\":[{\"name\":"
			"\"elasticsearch\",\"state\":{\"waiting\":{\"reason\":"
			"\"PodInitializing\"}}}]}}]",
			&t),
		"es-data-1 Pending: container install-plugins waiting: ImagePullBackOff: Back-off "
		"pulling image \"x:1\"");
	assert_string_equal(
		tally_one(
			"[{\"metadata\":{\"name\":\"es-data-2\"},\"status\":{\"phase\":\"Pending\","
			"\"containerStatuses\":[{\"name\":\"elasticsearch\",\"state\":{\"waiting\":"
			"{\"reason\":\"ContainerCreating\"}}}]}}]",
			&t),
		"es-data-2 Pending");
	assert_string_equal(
		tally_one(
			"[{\"metadata\":{\"name\":\"es-data-3\"},\"status\":{\"phase\":\"Pending\","
			"\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"False\","
			"\"message\":\"0/3 nodes are available\"}]}}]",
			&t),
		"es-data-3 Pending: 0/3 nodes are available");
	tally_one("[{\"metadata\":{\"name\":\"es-data-4\"},\"status\":{\"phase\":\"Running\","
		  "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}]",
		  &t);
	assert_int_equal(t.ready, 1);
	assert_string_equal(t.first_missing, "");
}

/* A pod that waits for what no retry of the kubelet's gets past, and one
 * whose image the registry refused, are told apart from the others: the
 * waits fail on the first at once, on the second after a bounded time. */
static void test_unstartable_and_refused_pulls_are_told_apart(void **state)
{
	(void)state;
	struct states_pod_tally t;
	static const char pods[] =
		"[{\"metadata\":{\"name\":\"es-data-0\"},\"status\":{\"phase\":\"Pending\","
		"\"containerStatuses\":[{\"name\":\"elasticsearch\",\"state\":{\"waiting\":{"
		"\"reason\":\"CrashLoopBackOff\"}}}]}},"
		"{\"metadata\":{\"name\":\"es-data-1\"},\"status\":{\"phase\":\"Pending\","
		"\"initContainerStatuses\":[{\"name\":\"prepare\",\"state\":{\"waiting\":{"
		"\"reason\":\"ImagePullBackOff\",\"message\":\"Back-off pulling image "
		"\\\"busybox:0\\\"\"}}}]}},"
		"{\"metadata\":{\"name\":\"es-data-2\"},\"status\":{\"phase\":\"Pending\","
		"\"containerStatuses\":[{\"name\":\"elasticsearch\",\"state\":{\"waiting\":{"
		"\"reason\":\"ErrImageNeverPull\",\"message\":\"Container image \\\"x\\\" is "
		"not present with pull policy of Never\"}}}]}}]";
	assert_string_equal(tally_one(pods, &t),
			    "es-data-0 Pending: container elasticsearch waiting: CrashLoopBackOff");
	assert_string_equal(t.pull_refused,
			    "es-data-1 Pending: container prepare waiting: "
			    "ImagePullBackOff: Back-off pulling image \"busybox:0\"");
	assert_string_equal(
		t.unstartable,
		"es-data-2 Pending: container elasticsearch waiting: ErrImageNeverPull: "
		"Container image \"x\" is not present with pull policy of Never");
	assert_string_equal(tally_one("[{\"metadata\":{\"name\":\"es-data-0\"},\"status\":{"
				      "\"containerStatuses\":[{\"name\":\"c\",\"state\":{"
				      "\"waiting\":{\"reason\":\"InvalidImageName\"}}}]}}]",
				      &t),
			    "es-data-0 unknown: container c waiting: InvalidImageName");
	assert_string_equal(t.unstartable, t.first_missing);
	assert_string_equal(t.pull_refused, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restart_order),
		cmocka_unit_test(test_scale_plan_way),
		cmocka_unit_test(test_preview_rolling_pods_elected_master_last),
		cmocka_unit_test(test_preview_store_bytes),
		cmocka_unit_test(test_preview_shards_on),
		cmocka_unit_test(test_pod_not_ready_says_what_its_containers_wait_for),
		cmocka_unit_test(test_unstartable_and_refused_pulls_are_told_apart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
