/*
 * The shipped workflows as graphs (workflows/, engine/registry.c): every
 * table registers, every state is on a path from the start or the cleanup,
 * every way out a handler has is declared by each row that runs it, and
 * the registry refuses tables that break any of that; and each
 * operation's own request checks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "engine/fsm.h"
#include "engine/registry.h"
#include "states/states.h"
#include "workflows/workflows.h"

static void noop(struct step *s)
{
}

static struct wf_registry reg;

static int setup(void **state)
{
	char err[512];

	memset(&reg, 0, sizeof(reg));
	if (!workflows_register_all(&reg, err, sizeof(err))) {
		print_error("%s\n", err);
		return -1;
	}
	return 0;
}

/* Walk the graph from name through .next and the branches. */
static void walk(const struct workflow *wf, const char *name, bool *seen)
{
	const struct wf_state *st = workflow_state(wf, name);
	if (!st || seen[st - wf->states])
		return;
	seen[st - wf->states] = true;
	walk(wf, st->next, seen);
	for (int b = 0; b < st->nbranches; b++)
		walk(wf, st->branches[b].to, seen);
}

static void test_every_state_reachable(void **state)
{
	assert_true(reg.count >= 8);
	for (int w = 0; w < reg.count; w++) {
		const struct workflow *wf = reg.items[w];
		bool *seen = xcalloc((size_t)wf->nstates, sizeof(*seen));

		walk(wf, wf->states[0].name, seen);
		walk(wf, wf->cleanup, seen);
		for (int i = 0; i < wf->nstates; i++)
			if (!seen[i])
				fail_msg("%s: state %s cannot be reached", wf->kind,
					 wf->states[i].name);
		free(seen);
	}
}

/* Every way of every handler leads to a state of the same workflow, and a
 * row maps exactly the ways its handler has. */
static void test_every_way_declared(void **state)
{
	int branching_rows = 0;

	for (int w = 0; w < reg.count; w++) {
		const struct workflow *wf = reg.items[w];
		for (int i = 0; i < wf->nstates; i++) {
			const struct wf_state *st = &wf->states[i];
			int ways = state_ways(st->run);

			if (st->nbranches != ways)
				fail_msg("%s: %s maps %d ways of %d", wf->kind, st->name,
					 st->nbranches, ways);
			for (int b = 0; b < ways; b++) {
				const struct wf_branch *br = wf_state_branch(st, b);
				assert_non_null(br);
				assert_non_null(workflow_state(wf, br->to));
			}
			assert_null(wf_state_branch(st, ways));
			assert_null(wf_state_branch(st, -1));
			branching_rows += ways > 0;
		}
	}
	/* scale's plan, its four masters_next and its data_down_next,
	 * config_update's route, delete's plan, upgrade's route and its
	 * snapshot route, restart_next in restart, config_update,
	 * plugin_install, plugin_remove and upgrade, and secure's make. */
	assert_int_equal(branching_rows, 16);
}

/* The dead edge is gone: the plan has no .next, only its ways. */
static void test_scale_plan_only_branches(void **state)
{
	const struct workflow *wf = wf_registry_find(&reg, "scale");
	assert_non_null(wf);
	const struct wf_state *plan = workflow_state(wf, "plan");
	assert_non_null(plan);
	assert_null(plan->next);
	assert_int_equal(plan->nbranches, SCALE_PLAN_WAYS);
	assert_string_equal(wf_state_branch(plan, SCALE_PLAN_DATA_DOWN)->to, "check_copies");
	assert_string_equal(wf_state_branch(plan, SCALE_PLAN_DATA_DOWN_FORCED)->to,
			    "exclude_nodes");
	assert_string_equal(wf_state_branch(plan, SCALE_PLAN_UNCHANGED)->to, "wait_green");
}

static bool refused(const struct workflow *wf, const char *expect)
{
	struct wf_registry r;
	char err[512] = "";

	memset(&r, 0, sizeof(r));
	if (wf_registry_add(&r, wf, err, sizeof(err)))
		return false;
	if (!strstr(err, expect))
		fail_msg("refused for another reason: %s (expected %s)", err, expect);
	return true;
}

/* Graphs the registry must refuse (or take). */
static const struct wf_state island[] = {
	{.name = "a", .run = noop, .deadline_s = 1},
	{.name = "b", .run = noop, .deadline_s = 1},
};
static const struct workflow w_island = {.kind = "i", .states = island, .nstates = 2};
static const struct wf_state by_branch[] = {
	{.name = "a", .run = noop, .deadline_s = 1, WF_BRANCHES({"x", "b"})},
	{.name = "b", .run = noop, .deadline_s = 1},
};
static const struct workflow w_by_branch = {.kind = "bb", .states = by_branch, .nstates = 2};
static const struct wf_state dangling[] = {
	{.name = "a", .run = noop, .deadline_s = 1, WF_BRANCHES({"x", "zz"})},
};
static const struct workflow w_dangling = {.kind = "d", .states = dangling, .nstates = 1};
static const struct wf_state gap[] = {
	{.name = "a", .run = noop, .deadline_s = 1, WF_BRANCHES([1] = {"y", "a"})},
};
static const struct workflow w_gap = {.kind = "g", .states = gap, .nstates = 1};

static void test_registry_refuses_broken_graphs(void **state)
{
	/* A state nothing leads to. */
	assert_true(refused(&w_island, "state b is reached neither"));
	/* Reached only through a branch: fine. */
	struct wf_registry r;
	char err[512];
	memset(&r, 0, sizeof(r));
	assert_true(wf_registry_add(&r, &w_by_branch, err, sizeof(err)));
	/* A branch to nowhere. */
	assert_true(refused(&w_dangling, "way x goes to unknown state zz"));
	/* A way skipped in the middle of the handler's enum. */
	assert_true(refused(&w_gap, "leaves way 0 of its handler undeclared"));
}

/* A workflow's own request check, on a body (and path and query). */
static bool request(const char *kind, const char *body, const char *path, const char *query,
		    json_t **params, struct wf_refusal *why)
{
	const struct workflow *wf = wf_registry_find(&reg, kind);
	assert_non_null(wf);
	assert_non_null(wf->request);
	struct wf_request rq = {
		.body = json_loads(body, 0, NULL),
		.path = json_loads(path ? path : "{}", 0, NULL),
		.query = json_loads(query ? query : "{}", 0, NULL),
	};
	assert_non_null(rq.body);
	memset(why, 0, sizeof(*why));
	*params = NULL;
	bool ok = wf->request(&rq, params, why);
	json_decref(rq.body);
	json_decref(rq.path);
	json_decref(rq.query);
	if (!ok)
		assert_null(*params);
	return ok;
}

static void expect_refused(const char *kind, const char *body, const char *path, const char *query,
			   int status, const char *field, const char *message)
{
	json_t *params;
	struct wf_refusal why;
	if (request(kind, body, path, query, &params, &why)) {
		json_decref(params);
		fail_msg("%s %s was taken", kind, body);
	}
	assert_int_equal(why.status, status);
	assert_string_equal(why.field, field);
	if (!strstr(why.message, message))
		fail_msg("%s: message %s lacks %s", kind, why.message, message);
}

/* Each operation checks its own request, naming the field at fault. */
static void test_requests_refused_with_their_field(void **state)
{
	expect_refused("scale", "{\"role\": \"kibana\", \"replicas\": 1}", NULL, NULL, 422, "role",
		       "role must be data, clients or masters");
	expect_refused("scale", "{\"role\": \"data\", \"replicas\": \"3\"}", NULL, NULL, 422,
		       "replicas", "must be an integer");
	expect_refused("scale", "{\"role\": \"masters\", \"replicas\": 4}", NULL, NULL, 422,
		       "replicas", "");
	expect_refused("scale", "{\"role\": \"data\", \"replicas\": 3, \"forse\": true}", NULL,
		       NULL, 422, "forse", "unknown field \"forse\"; known: role, replicas, force");
	expect_refused("config_update", "{\"settings\": {}}", NULL, NULL, 422, "settings",
		       "at least one setting");
	expect_refused("config_update", "{\"settings\": {\"a\": 1}, \"allow_yellow\": 1}", NULL,
		       NULL, 422, "allow_yellow", "true or false");
	expect_refused("restart", "{\"role\": \"data\", \"nodes\": [\"es-data-0\"]}", NULL, NULL,
		       422, "nodes", "not both");
	expect_refused("restart", "{\"nodes\": [\"es-data-0\", \"Bad_Name\"]}", NULL, NULL, 422,
		       "nodes", "nodes[1] is not a pod name");
	expect_refused("delete", "{}", NULL, "{\"wipe_data\": \"yes\"}", 422, "wipe_data",
		       "true or false");
	expect_refused("kibana", "{\"replicas\": 11}", NULL, NULL, 422, "replicas", "from 0 to 10");
	expect_refused("plugin_install", "{\"name\": \"\"}", NULL, NULL, 422, "name",
		       "a plugin name");
	expect_refused("plugin_remove", "{}", "{}", NULL, 404, "", "plugin not found");
}

/* What a taken request becomes: the job's parameters. */
static void test_requests_make_params(void **state)
{
	json_t *params;
	struct wf_refusal why;

	assert_true(request("scale", "{\"role\": \"data\", \"replicas\": 4}", NULL, NULL, &params,
			    &why));
	assert_true(json_is_false(json_object_get(params, "force")));
	assert_int_equal(json_integer_value(json_object_get(params, "replicas")), 4);
	json_decref(params);
	assert_true(request("delete", "{}", NULL, "{\"wipe_data\": \"true\"}", &params, &why));
	assert_true(json_is_true(json_object_get(params, "wipe_data")));
	json_decref(params);
	assert_true(request("plugin_remove", "{}", "{\"plugin\": \"analysis-icu\"}", NULL, &params,
			    &why));
	assert_string_equal(json_string_value(json_object_get(params, "plugin")), "analysis-icu");
	assert_string_equal(json_string_value(json_object_get(params, "action")), "remove");
	json_decref(params);
}

/* With the stored spec: a setting the version does not know, a plugin
 * listed twice, a spec that no longer parses. */
static void test_prepare_with_the_stored_spec(void **state)
{
	json_t *spec = json_loads("{\"name\": \"logs\", \"version\": \"7.17.10\","
				  " \"plugins\": [\"analysis-icu\"]}",
				  0, NULL);
	const struct workflow *wf = wf_registry_find(&reg, "plugin_install");
	struct wf_refusal why = {0};
	json_t *params = json_pack("{s:s, s:s}", "plugin", "analysis-icu", "action", "install");
	assert_false(wf->prepare(spec, params, &why));
	assert_int_equal(why.status, 409);
	assert_string_equal(why.field, "name");
	json_decref(params);

	wf = wf_registry_find(&reg, "config_update");
	params = json_pack("{s:{s:s}}", "settings", "thread_pool.write.queue_size", "1000");
	assert_true(wf->prepare(spec, params, &why));
	assert_true(json_is_true(json_object_get(params, "restart")));
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_object_get(params, "spec"), "config"),
				    "thread_pool.write.queue_size")),
			    "1000");
	json_decref(params);

	wf = wf_registry_find(&reg, "scale");
	json_t *bad = json_loads("{\"name\": \"logs\", \"version\": \"0.1\"}", 0, NULL);
	params = json_pack("{s:s, s:i}", "role", "data", "replicas", 2);
	assert_false(wf->prepare(bad, params, &why));
	assert_int_equal(why.status, 409);
	assert_non_null(strstr(why.message, "the stored spec is invalid"));
	json_decref(params);
	json_decref(bad);
	json_decref(spec);
}

/* An upgrade: the version and snapshot fields, then the path from the
 * stored version, a refused one naming the release to pass through. */
static void expect_upgrade_refused(const char *from, const char *to, const char *message)
{
	const struct workflow *wf = wf_registry_find(&reg, "upgrade");
	json_t *spec = json_pack("{s:s, s:s}", "name", "logs", "version", from);
	json_t *params = json_pack("{s:s}", "version", to);
	struct wf_refusal why = {0};
	assert_false(wf->prepare(spec, params, &why));
	assert_int_equal(why.status, 422);
	assert_string_equal(why.field, "version");
	if (!strstr(why.message, message))
		fail_msg("%s -> %s: message %s lacks %s", from, to, why.message, message);
	json_decref(params);
	json_decref(spec);
}

static void test_upgrade_request_and_paths(void **state)
{
	json_t *params;
	struct wf_refusal why;

	expect_refused("upgrade", "{}", NULL, NULL, 422, "version", "a release such as");
	expect_refused("upgrade", "{\"version\": \"7.x\"}", NULL, NULL, 422, "version",
		       "a release such as");
	expect_refused("upgrade", "{\"version\": \"3.0.0\"}", NULL, NULL, 422, "version",
		       "not supported");
	expect_refused("upgrade", "{\"version\": \"7.17.10\", \"snapshot\": \"no\"}", NULL, NULL,
		       422, "snapshot", "true or false");
	expect_refused("upgrade", "{\"version\": \"7.17.10\", \"versoin\": 1}", NULL, NULL, 422,
		       "versoin", "unknown field");
	assert_true(request("upgrade", "{\"version\": \"8.17.0\", \"snapshot\": false}", NULL, NULL,
			    &params, &why));
	assert_true(json_is_false(json_object_get(params, "snapshot")));

	json_t *spec =
		json_loads("{\"name\": \"logs\", \"version\": \"7.17.10\","
			   " \"image\": \"docker.elastic.co/elasticsearch/elasticsearch:7.17.10\"}",
			   0, NULL);
	const struct workflow *wf = wf_registry_find(&reg, "upgrade");
	assert_true(wf->prepare(spec, params, &why));
	json_t *next = json_object_get(params, "spec");
	assert_string_equal(json_string_value(json_object_get(next, "version")), "8.17.0");
	assert_null(json_object_get(next, "image"));
	assert_string_equal(json_string_value(json_object_get(params, "from")), "7.17.10");
	assert_string_equal(json_string_value(json_object_get(params, "way")), "rolling");
	json_decref(params);
	json_decref(spec);

	expect_upgrade_refused("6.8.23", "8.17.0", "upgrade to 7.17.10 first");
	expect_upgrade_refused("7.10.2", "8.17.0", "upgrade to 7.17.10 first");
	expect_upgrade_refused("2.4.6", "6.8.23", "upgrade to 5.6.16 first");
	expect_upgrade_refused("8.17.0", "9.5.2", "upgrade to 8.19.20 first");
	expect_upgrade_refused("7.17.10", "9.5.2", "upgrade to 8.19.20 first");
	expect_upgrade_refused("7.17.10", "7.16.3", "no downgrade");
	expect_upgrade_refused("7.17.10", "7.17.10", "already runs");
}

/* --- previews (wf_path() and each workflow's preview) ------------------------------------- */

static void branch_run(struct step *s)
{
}

/* A loop of two rounds, then out by the branch. */
static int two_rounds(const struct wf_state *st, int visit, void *arg)
{
	(void)arg;
	if (strcmp(st->name, "next") == 0)
		return visit < 2 ? -1 : 0;
	return -1;
}

static int always_branch(const struct wf_state *st, int visit, void *arg)
{
	return 0;
}

static char *joined(json_t *path)
{
	char *out = xstrdup("");
	size_t i;
	json_t *s;
	json_array_foreach (path, i, s) {
		char *more = xasprintf("%s%s%s", out, i ? " " : "", json_string_value(s));
		free(out);
		out = more;
	}
	return out;
}

static void test_wf_path_follows_the_choices(void **state)
{
	const struct wf_state loop[] = {
		{.name = "plan", .run = noop, .deadline_s = 1, .next = "next"},
		{.name = "next",
		 .run = branch_run,
		 .deadline_s = 1,
		 .next = "work",
		 WF_BRANCHES([0] = {"none left", "done"})},
		{.name = "work", .run = noop, .deadline_s = 1, .next = "next"},
		{.name = "done", .run = noop, .deadline_s = 1},
	};
	const struct workflow wf = {.kind = "loop", .states = loop, .nstates = 4};
	json_t *path = wf_path(&wf, two_rounds, NULL);
	char *got = joined(path);
	assert_string_equal(got, "plan next work next work next done");
	free(got);
	json_decref(path);
	/* Without a choice, .next all the way: a loop never ends. */
	assert_null(wf_path(&wf, NULL, NULL));
	/* A way the row does not declare: no path. */
	static const struct wf_state straight[] = {
		{.name = "a", .run = noop, .deadline_s = 1, .next = "b"},
		{.name = "b", .run = noop, .deadline_s = 1},
	};
	const struct workflow wf2 = {.kind = "straight", .states = straight, .nstates = 2};
	assert_null(wf_path(&wf2, always_branch, NULL));
	path = wf_path(&wf2, NULL, NULL);
	got = joined(path);
	assert_string_equal(got, "a b");
	free(got);
	json_decref(path);
}

/* A workflow's preview of live and params: its states, joined. */
static char *preview_states(const char *kind, json_t *params, json_t *live, json_t **plan_out)
{
	const struct workflow *wf = wf_registry_find(&reg, kind);
	json_t *plan = json_pack("{s:[]}", "gates");
	assert_non_null(wf);
	assert_non_null(wf->preview);
	wf->preview(params, live, plan);
	char *out = joined(json_object_get(plan, "states"));
	if (plan_out)
		*plan_out = plan;
	else
		json_decref(plan);
	return out;
}

static json_t *live_pods(const char *const *names, const char *const *roles)
{
	json_t *items = json_array();
	for (size_t i = 0; names[i]; i++)
		json_array_append_new(items, json_pack("{s:{s:s, s:s, s:{s:s}}}", "metadata",
						       "name", names[i], "uid", names[i], "labels",
						       "esaas.io/role", roles[i]));
	return json_pack("{s:s, s:o, s:[]}", "namespace", "es-t-pv", "pods", items, "nodes");
}

static const char ROLL[] = "restart_next restart_check restart_pause restart_flush "
			   "restart_delete_pod restart_wait_pod restart_wait_joined "
			   "restart_resume_allocation restart_wait_green";

/* An upgrade rolls only the pods not yet on the target, data first and
 * masters last; a full restart stops them all instead. */
static void test_upgrade_preview_skips_upgraded_pods(void **state)
{
	const char *names[] = {"es-master-0", "es-data-0", "es-data-1", NULL};
	const char *roles[] = {"master", "data", "data"};
	json_t *live = live_pods(names, roles);
	/* es-data-0 already runs the target. */
	json_t *first = json_array_get(json_object_get(live, "pods"), 1);
	json_object_set_new(json_object_get(json_object_get(first, "metadata"), "labels"),
			    "app.kubernetes.io/version", json_string("7.17.10"));
	json_t *params =
		json_pack("{s:{s:s, s:s}, s:s, s:s, s:s}", "spec", "name", "pv", "version",
			  "7.17.10", "version", "7.17.10", "from", "7.16.3", "way", "rolling");
	json_t *plan;
	char *got = preview_states("upgrade", params, live, &plan);
	char *want = xasprintf("upgrade_check_plugins upgrade_snapshot_route apply_config "
			       "apply_workloads upgrade_route "
			       "restart_plan %s %s restart_next restore_allocation apply_kibana "
			       "wait_kibana record_spec",
			       ROLL, ROLL);
	assert_string_equal(got, want);
	free(got);
	free(want);
	/* With a snapshot first: taken before anything changes. */
	json_t *snap = json_deep_copy(params);
	json_object_set_new(snap, "snapshot", json_true());
	json_t *snap_plan;
	got = preview_states("upgrade", snap, live, &snap_plan);
	assert_non_null(strstr(got,
			       "upgrade_check_plugins upgrade_snapshot_route "
			       "snapshot_repository snapshot_take snapshot_wait apply_config "));
	free(got);
	json_decref(snap_plan);
	json_decref(snap);
	json_t *pods = json_object_get(plan, "pods");
	assert_int_equal(json_array_size(pods), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(pods, 0), "name")),
			    "es-data-1");
	assert_string_equal(json_string_value(json_object_get(json_array_get(pods, 1), "name")),
			    "es-master-0");
	assert_string_equal(json_string_value(json_object_get(json_array_get(pods, 0), "action")),
			    "upgrade");
	json_decref(plan);

	json_object_set_new(params, "way", json_string("full_restart"));
	got = preview_states("upgrade", params, live, &plan);
	assert_non_null(strstr(got, "upgrade_route full_pause full_flush full_stop "
				    "full_wait_started full_wait_formed full_wait_joined "
				    "full_wait_primaries full_resume_allocation full_wait_green "
				    "apply_kibana"));
	assert_null(strstr(got, "restart_plan"));
	free(got);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(plan, "pods"), 0), "action")),
			    "stop");
	json_decref(plan);
	json_decref(params);
	json_decref(live);
}

static void test_previews_take_the_handlers_ways(void **state)
{
	const char *names[] = {"es-master-0", "es-data-0", "es-data-1", NULL};
	const char *roles[] = {"master", "data", "data"};
	json_t *live = live_pods(names, roles);
	json_t *spec = json_pack("{s:s, s:s, s:{s:i}, s:{s:i}}", "name", "pv", "version", "7.17.10",
				 "masters", "replicas", 1, "data", "replicas", 2);
	json_t *params = json_pack("{s:O}", "spec", spec);
	json_t *plan;

	/* restart: the loop once per pod, then out. */
	char *got = preview_states("restart", params, live, &plan);
	char *want = xasprintf("restart_plan %s %s %s restart_next restore_allocation", ROLL, ROLL,
			       ROLL);
	assert_string_equal(got, want);
	assert_int_equal(json_array_size(json_object_get(plan, "pods")), 3);
	free(got);
	free(want);
	json_decref(plan);

	/* config: dynamic only, or a static setting's rolling restart. */
	got = preview_states("config_update", params, live, NULL);
	assert_string_equal(got, "apply_dynamic apply_config config_route wait_green record_spec");
	free(got);
	json_object_set_new(params, "restart", json_true());
	got = preview_states("config_update", params, live, NULL);
	assert_non_null(strstr(got, "config_route restart_plan restart_next"));
	free(got);
	json_object_del(params, "restart");

	/* delete: the data kept skips the wipe. */
	json_object_set_new(params, "wipe_data", json_false());
	got = preview_states("delete", params, live, &plan);
	assert_string_equal(got,
			    "delete_plan stop_workloads wait_pods_gone wipe_route "
			    "delete_namespace wait_namespace_gone delete_volumes record_deleted");
	assert_int_equal(json_array_size(json_object_get(plan, "pods")), 3);
	free(got);
	json_decref(plan);
	json_object_set_new(params, "wipe_data", json_true());
	got = preview_states("delete", params, live, NULL);
	assert_non_null(strstr(got, "wait_pods_gone wipe_route wipe_quota wipe_hosts"));
	free(got);
	json_object_del(params, "wipe_data");

	/* scale: data down by one from the live two; the leaving pod. */
	json_object_set_new(params, "role", json_string("data"));
	json_object_set_new(params, "replicas", json_integer(1));
	got = preview_states("scale", params, live, &plan);
	assert_string_equal(got, "plan check_copies exclude_nodes wait_drained data_down_next "
				 "data_down_scale data_down_wait data_down_next http_to_clients "
				 "fit_quota clear_exclusion wait_green record_scaled");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(plan, "pods"), 0), "name")),
			    "es-data-1");
	assert_int_equal(
		json_integer_value(json_object_get(
			json_object_get(json_object_get(plan, "after_spec"), "data"), "replicas")),
		1);
	free(got);
	assert_int_equal(json_array_size(json_object_get(plan, "gates")), 0);
	json_decref(plan);
	/* Forced, with two copies of a shard for one node: a gate says so. */
	json_object_set_new(params, "force", json_true());
	json_object_set_new(live, "shards",
			    json_pack("[{s:s, s:s, s:s}, {s:s, s:s, s:s}]", "index", "logs",
				      "shard", "0", "node", "a", "index", "logs", "shard", "0",
				      "node", "b"));
	got = preview_states("scale", params, live, &plan);
	assert_non_null(strstr(got, "plan exclude_nodes wait_drained"));
	json_t *gate = json_array_get(json_object_get(plan, "gates"), 0);
	assert_string_equal(json_string_value(json_object_get(gate, "gate")), "copies");
	assert_non_null(strstr(json_string_value(json_object_get(gate, "reason")), "logs/0"));
	free(got);
	json_decref(plan);
	json_object_del(params, "force");
	json_object_del(live, "shards");
	/* masters 1 -> 3 on zen2: a round per new master. */
	json_object_set_new(params, "role", json_string("masters"));
	json_object_set_new(params, "replicas", json_integer(3));
	got = preview_states("scale", params, live, NULL);
	assert_string_equal(got, "plan zen2_grow_config zen2_grow_quota zen2_grow_volumes "
				 "zen2_grow_next zen2_grow_scale zen2_grow_wait zen2_grow_next "
				 "zen2_grow_scale zen2_grow_wait zen2_grow_next wait_green "
				 "record_scaled");
	free(got);

	json_decref(params);
	json_decref(spec);
	json_decref(live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_state_reachable),
		cmocka_unit_test(test_every_way_declared),
		cmocka_unit_test(test_scale_plan_only_branches),
		cmocka_unit_test(test_registry_refuses_broken_graphs),
		cmocka_unit_test(test_requests_refused_with_their_field),
		cmocka_unit_test(test_requests_make_params),
		cmocka_unit_test(test_prepare_with_the_stored_spec),
		cmocka_unit_test(test_upgrade_request_and_paths),
		cmocka_unit_test(test_upgrade_preview_skips_upgraded_pods),
		cmocka_unit_test(test_wf_path_follows_the_choices),
		cmocka_unit_test(test_previews_take_the_handlers_ways),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
