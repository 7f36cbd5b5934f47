/*
 * The shipped workflows as graphs (workflows/, engine/registry.c): every
 * table registers, every state is on a path from the start or the cleanup,
 * every way out a handler has is declared by each row that runs it, and
 * the registry refuses tables that break any of that.  Also the scale
 * plan's choice (states/), a pure function.
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
	/* scale's plan, config_update's route, delete's plan, and restart_next
	 * in restart, config_update, plugin_install and plugin_remove. */
	assert_int_equal(branching_rows, 7);
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

/* The plan's choice for each role, direction and coordination. */
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
		cmocka_unit_test(test_every_state_reachable),
		cmocka_unit_test(test_every_way_declared),
		cmocka_unit_test(test_scale_plan_only_branches),
		cmocka_unit_test(test_registry_refuses_broken_graphs),
		cmocka_unit_test(test_scale_plan_way),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
