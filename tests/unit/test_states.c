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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restart_order),
		cmocka_unit_test(test_scale_plan_way),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
