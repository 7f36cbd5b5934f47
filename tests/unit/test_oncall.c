/*
 * On-call's checks: the cleanup chain and replay-safe states of a
 * workflow, a workflow as a graph, the replay body, and the shipped
 * workflows' replay flags.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "api/routes.h"
#include "common/util.h"
#include "engine/fsm.h"
#include "engine/registry.h"
#include "workflows/workflows.h"

static void noop(struct step *s)
{
}

/* Replay-safe flags on purpose in the wrong place: undo says true. */
static const struct wf_state states[] = {
	{.name = "a", .run = noop, .deadline_s = 60, .next = "b", .replay_safe = true},
	{.name = "b",
	 .run = noop,
	 .deadline_s = 30,
	 .max_attempts = 2,
	 .next = "c",
	 .replay_safe = true},
	{.name = "c", .run = noop, .deadline_s = 60},
	{.name = "undo", .run = noop, .deadline_s = 60, .next = "undo2", .replay_safe = true},
	{.name = "undo2", .run = noop, .deadline_s = 60},
};
static const struct workflow wf = {.kind = "t", .states = states, .nstates = 5, .cleanup = "undo"};
static const struct workflow wf_plain = {.kind = "p", .states = states, .nstates = 3};

/* A cleanup chain that loops back on itself must still be answered. */
static const struct wf_state loop_states[] = {
	{.name = "a", .run = noop, .deadline_s = 60, .replay_safe = true},
	{.name = "x", .run = noop, .deadline_s = 60, .next = "y"},
	{.name = "y", .run = noop, .deadline_s = 60, .next = "x"},
};
static const struct workflow wf_loop = {
	.kind = "l", .states = loop_states, .nstates = 3, .cleanup = "x"};

static void assert_json_text(json_t *j, const char *expected)
{
	char *got = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_t *want = json_loads(expected, 0, NULL);
	char *want_text = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(got, want_text);
	free(got);
	free(want_text);
	json_decref(want);
}

static void test_cleanup_chain(void **st)
{
	assert_false(workflow_in_cleanup(&wf, "a"));
	assert_false(workflow_in_cleanup(&wf, "c"));
	assert_true(workflow_in_cleanup(&wf, "undo"));
	assert_true(workflow_in_cleanup(&wf, "undo2"));
	assert_false(workflow_in_cleanup(&wf, "nope"));
	assert_false(workflow_in_cleanup(&wf, NULL));
	/* Without a cleanup chain, everything is the main workflow. */
	assert_false(workflow_in_cleanup(&wf_plain, "a"));
	assert_true(workflow_in_cleanup(&wf_loop, "x"));
	assert_true(workflow_in_cleanup(&wf_loop, "y"));
	assert_false(workflow_in_cleanup(&wf_loop, "a"));
}

static void test_replay_allowed(void **st)
{
	assert_true(workflow_replay_allowed(&wf, "a"));
	assert_true(workflow_replay_allowed(&wf, "b"));
	/* Not marked. */
	assert_false(workflow_replay_allowed(&wf, "c"));
	/* Marked, but a cleanup state: a replay starts in the main workflow. */
	assert_false(workflow_replay_allowed(&wf, "undo"));
	assert_false(workflow_replay_allowed(&wf, "undo2"));
	assert_false(workflow_replay_allowed(&wf, "nope"));
	assert_false(workflow_replay_allowed(&wf, NULL));

	json_t *s = api_workflow_replay_states(&wf);
	assert_json_text(s, "[\"a\", \"b\"]");
	json_decref(s);
}

static void test_workflow_graph(void **st)
{
	json_t *g = api_workflow_json(&wf);
	assert_json_text(g,
			 "{\"kind\": \"t\", \"start\": \"a\", \"cleanup\": \"undo\", \"states\": ["
			 "{\"name\": \"a\", \"branches\": [], \"next\": \"b\", \"deadline_s\": 60, "
			 "\"max_attempts\": 0,"
			 " \"replay_safe\": true, \"pause_safe\": false, \"cleanup\": false},"
			 "{\"name\": \"b\", \"branches\": [], \"next\": \"c\", \"deadline_s\": 30, "
			 "\"max_attempts\": 2,"
			 " \"replay_safe\": true, \"pause_safe\": false, \"cleanup\": false},"
			 "{\"name\": \"c\", \"branches\": [], \"next\": null, \"deadline_s\": 60, "
			 "\"max_attempts\": 0,"
			 " \"replay_safe\": false, \"pause_safe\": false, \"cleanup\": false},"
			 "{\"name\": \"undo\", \"branches\": [], \"next\": \"undo2\", "
			 "\"deadline_s\": 60, \"max_attempts\": 0,"
			 " \"replay_safe\": false, \"pause_safe\": false, \"cleanup\": true},"
			 "{\"name\": \"undo2\", \"branches\": [], \"next\": null, \"deadline_s\": "
			 "60, \"max_attempts\": 0,"
			 " \"replay_safe\": false, \"pause_safe\": false, \"cleanup\": true}]}");
	json_decref(g);

	g = api_workflow_json(&wf_plain);
	assert_true(json_is_null(json_object_get(g, "cleanup")));
	assert_int_equal(json_array_size(json_object_get(g, "states")), 3);
	json_decref(g);
}

static void test_replay_body_valid(void **st)
{
	struct http_error err = {0};
	const char *from, *reason;
	json_t *body;

	body = json_pack("{s:s}", "reason", "disk replaced");
	assert_true(api_jobs_check_replay(body, &from, &reason, &err));
	assert_null(from);
	assert_string_equal(reason, "disk replaced");
	json_decref(body);

	body = json_pack("{s:s, s:s}", "from_state", "wait_green", "reason", "fixed");
	assert_true(api_jobs_check_replay(body, &from, &reason, &err));
	assert_string_equal(from, "wait_green");
	json_decref(body);

	body = json_pack("{s:n, s:s}", "from_state", "reason", "fixed");
	assert_true(api_jobs_check_replay(body, &from, &reason, &err));
	assert_null(from);
	json_decref(body);

	/* 1000 characters of two bytes each: the limit counts characters. */
	char *s = xmalloc(2001);
	for (int i = 0; i < 1000; i++)
		memcpy(s + 2 * i, "\xc3\xa9", 2);
	s[2000] = '\0';
	body = json_pack("{s:s}", "reason", s);
	assert_true(api_jobs_check_replay(body, &from, &reason, &err));
	json_decref(body);
	free(s);
}

static void test_replay_body_invalid(void **st)
{
	char *long_reason = xcalloc(1, 1002);
	memset(long_reason, 'r', 1001);
	char *long_state = xcalloc(1, 66);
	memset(long_state, 's', 65);
	json_t *bad_utf8 = json_object();
	/* What no parser lets through; the check does not rely on it. */
	json_object_set_new(bad_utf8, "reason", json_stringn_nocheck("cut \xe2\x82", 6));
	json_t *bodies[] = {
		json_object(),
		json_pack("{s:n}", "reason"),
		json_pack("{s:s}", "reason", ""),
		json_pack("{s:s}", "reason", "  \r\n"),
		json_pack("{s:i}", "reason", 1),
		json_pack("{s:s}", "reason", long_reason),
		bad_utf8,
		json_pack("{s:s}", "from_state", "a"),
		json_pack("{s:i, s:s}", "from_state", 1, "reason", "x"),
		json_pack("{s:s, s:s}", "from_state", "", "reason", "x"),
		json_pack("{s:s, s:s}", "from_state", long_state, "reason", "x"),
		json_pack("{s:s, s:b}", "reason", "x", "force", 1),
	};
	const char *fields[] = {"reason",     "reason",	    "reason",	  "reason",
				"reason",     "reason",	    "reason",	  "reason",
				"from_state", "from_state", "from_state", "force"};

	for (size_t i = 0; i < ARRAY_SIZE(bodies); i++) {
		struct http_error err = {0};
		const char *from = "unset", *reason = "unset";

		assert_false(api_jobs_check_replay(bodies[i], &from, &reason, &err));
		assert_int_equal(err.status, 422);
		assert_string_equal(err.code, "invalid");
		assert_string_equal(err.field, fields[i]);
		assert_null(reason);
		http_error_clear(&err);
		json_decref(bodies[i]);
	}
	free(long_reason);
	free(long_state);
}

/*
 * The shipped tables: a replay can always start over (the first state is
 * safe), no cleanup state claims to be a place to start, and the states
 * that need what the cleanup undid stay closed.
 */
static void test_shipped_workflows(void **st)
{
	struct wf_registry reg = {0};
	char err[256];
	assert_true(workflows_register_all(&reg, err, sizeof(err)));
	assert_true(reg.count > 0);
	for (int i = 0; i < reg.count; i++) {
		const struct workflow *w = reg.items[i];
		assert_true(workflow_replay_allowed(w, w->states[0].name));
		for (int k = 0; k < w->nstates; k++)
			if (workflow_in_cleanup(w, w->states[k].name))
				assert_false(w->states[k].replay_safe);
	}
	const struct {
		const char *kind, *state;
		bool safe;
	} pinned[] = {
		{"restart", "restart_plan", true},
		{"restart", "restart_pause", false},
		{"restart", "restart_flush", false},
		{"restart", "restart_delete_pod", false},
		{"restart", "restart_wait_green", false},
		{"config_update", "restart_flush", false},
		{"config_update", "apply_dynamic", true},
		{"scale", "plan", true},
		{"scale", "wait_drained", false},
		{"scale", "scale_workload", false},
		/* It leads into scale_workload: a scale-down must replay from plan. */
		{"scale", "raise_quota", false},
		{"scale", "fit_quota", true},
		{"create", "apply_data", true},
		{"create", "apply_quota", true},
		{"kibana", "raise_quota", true},
		{"delete", "wipe_quota", true},
		{"delete", "wait_namespace_gone", true},
	};
	for (size_t i = 0; i < ARRAY_SIZE(pinned); i++) {
		const struct workflow *w = wf_registry_find(&reg, pinned[i].kind);
		assert_non_null(w);
		assert_non_null(workflow_state(w, pinned[i].state));
		if (workflow_replay_allowed(w, pinned[i].state) != pinned[i].safe)
			fail_msg("%s.%s replay_safe should be %d", pinned[i].kind, pinned[i].state,
				 pinned[i].safe);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cleanup_chain),
		cmocka_unit_test(test_replay_allowed),
		cmocka_unit_test(test_workflow_graph),
		cmocka_unit_test(test_replay_body_valid),
		cmocka_unit_test(test_replay_body_invalid),
		cmocka_unit_test(test_shipped_workflows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
