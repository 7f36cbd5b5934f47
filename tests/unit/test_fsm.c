/* The runner's decisions (engine/fsm.c) and the registry's checks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "engine/backoff.h"
#include "engine/fsm.h"
#include "engine/registry.h"

static void noop(struct step *s)
{
}

static const struct wf_state states[] = {
	{.name = "a", .run = noop, .deadline_s = 60, .next = "b", .replay_safe = true},
	{.name = "b",
	 .run = noop,
	 .deadline_s = 60,
	 .max_attempts = 2,
	 .next = "c",
	 .replay_safe = true},
	{.name = "c", .run = noop, .deadline_s = 60},
	{.name = "undo", .run = noop, .deadline_s = 60, .next = "undo2"},
	{.name = "undo2", .run = noop, .deadline_s = 60},
};
static const struct workflow wf = {.kind = "t", .states = states, .nstates = 5, .cleanup = "undo"};
static const struct workflow wf_plain = {.kind = "p", .states = states, .nstates = 3};
static const struct backoff_policy retry = {.base_ms = 100, .cap_ms = 1000, .max_attempts = 4};

static void job_at(struct fsm_job *j, const char *state)
{
	memset(j, 0, sizeof(*j));
	j->status = xstrdup("running");
	j->state = xstrdup(state);
	j->attempt = 1;
}

static void done(struct fsm_job *j, struct fsm_step_result *r)
{
	fsm_job_clear(j);
	fsm_result_clear(r);
}

static void test_next_follows_table_and_keeps_lease(void **st)
{
	struct fsm_job j;
	struct fsm_step_result r = {0};
	job_at(&j, "a");
	j.attempt = 2;
	j.observation = xstrdup("old");
	fsm_apply(&wf, &retry, false, &j, OUT_NEXT, NULL, 0, NULL, &r);
	assert_string_equal(j.state, "b");
	assert_string_equal(j.status, "running");
	assert_int_equal(j.attempt, 1);
	assert_null(j.observation);
	assert_string_equal(r.outcome, "next");
	assert_true(r.entered);
	assert_true(r.cont);
	assert_false(r.release);
	done(&j, &r);
}

static void test_goto_and_unknown_goto(void **st)
{
	struct fsm_job j;
	struct fsm_step_result r = {0};
	job_at(&j, "a");
	fsm_apply(&wf_plain, &retry, false, &j, OUT_NEXT, "c", 0, NULL, &r);
	assert_string_equal(j.state, "c");
	fsm_result_clear(&r);
	fsm_apply(&wf_plain, &retry, false, &j, OUT_NEXT, "nowhere", 0, NULL, &r);
	assert_string_equal(j.status, "failed");
	assert_string_equal(j.failed_state, "c");
	assert_non_null(strstr(j.error, "nowhere"));
	assert_true(r.release);
	done(&j, &r);
}

static void test_last_state_succeeds(void **st)
{
	struct fsm_job j;
	struct fsm_step_result r = {0};
	job_at(&j, "c");
	fsm_apply(&wf, &retry, false, &j, OUT_NEXT, NULL, 0, NULL, &r);
	assert_string_equal(j.status, "succeeded");
	assert_string_equal(r.outcome, "succeeded");
	assert_true(r.release);
	assert_false(r.cont);
	done(&j, &r);
}

static void test_wait_parks_with_observation(void **st)
{
	struct fsm_job j;
	struct fsm_step_result r = {0};
	job_at(&j, "b");
	fsm_apply(&wf, &retry, false, &j, OUT_WAIT, NULL, 750, "2 of 3 ready", &r);
	assert_string_equal(j.status, "waiting");
	assert_string_equal(j.state, "b");
	assert_int_equal(j.attempt, 1);
	assert_string_equal(j.observation, "2 of 3 ready");
	assert_string_equal(r.outcome, "wait");
	assert_int_equal(r.delay_ms, 750);
	assert_true(r.release);
	assert_false(r.entered);
	done(&j, &r);
}

static void test_wait_delay_is_clamped(void **st)
{
	struct fsm_job j;
	struct fsm_step_result r = {0};
	job_at(&j, "b");
	fsm_apply(&wf, &retry, false, &j, OUT_WAIT, NULL, INT64_MAX, "forever", &r);
	assert_int_equal(r.delay_ms, FSM_MAX_DELAY_MS);
	fsm_result_clear(&r);
	fsm_apply(&wf, &retry, false, &j, OUT_WAIT, NULL, -5, "negative", &r);
	assert_int_equal(r.delay_ms, 0);
	done(&j, &r);
}

static void test_retry_backs_off_then_gives_up(void **st)
{
	struct fsm_job j;
	struct fsm_step_result r = {0};
	job_at(&j, "b"); /* b allows 2 attempts */
	fsm_apply(&wf_plain, &retry, false, &j, OUT_RETRY, NULL, 0, "503 from apiserver", &r);
	assert_string_equal(r.outcome, "retry");
	assert_int_equal(j.attempt, 2);
	assert_string_equal(j.status, "waiting");
	assert_true(r.delay_ms >= 0 && r.delay_ms <= 100);
	assert_non_null(strstr(j.observation, "attempt 1 failed: 503"));
	fsm_result_clear(&r);
	fsm_apply(&wf_plain, &retry, false, &j, OUT_RETRY, NULL, 0, "503 again", &r);
	assert_string_equal(r.outcome, "fail");
	assert_string_equal(j.status, "failed");
	assert_string_equal(j.error, "gave up after 2 attempts: 503 again");
	done(&j, &r);
}

/* A wait between two failures: the state saw the system answer, so the
 * failures are not in a row, and the second starts the count again. */
static void test_wait_starts_the_attempts_again(void **st)
{
	struct fsm_job j;
	struct fsm_step_result r = {0};
	job_at(&j, "b"); /* b allows 2 attempts */
	fsm_apply(&wf_plain, &retry, false, &j, OUT_RETRY, NULL, 0, "429", &r);
	assert_int_equal(j.attempt, 2);
	fsm_result_clear(&r);
	fsm_apply(&wf_plain, &retry, false, &j, OUT_WAIT, NULL, 100, "namespace terminating", &r);
	assert_string_equal(r.outcome, "wait");
	assert_int_equal(j.attempt, 1);
	fsm_result_clear(&r);
	fsm_apply(&wf_plain, &retry, false, &j, OUT_RETRY, NULL, 0, "429 again", &r);
	assert_string_equal(r.outcome, "retry");
	assert_int_equal(j.attempt, 2);
	fsm_result_clear(&r);
	fsm_apply(&wf_plain, &retry, false, &j, OUT_RETRY, NULL, 0, "429 twice in a row", &r);
	assert_string_equal(r.outcome, "fail");
	assert_string_equal(j.error, "gave up after 2 attempts: 429 twice in a row");
	done(&j, &r);
}

static void test_retry_uses_default_limit(void **st)
{
	struct fsm_job j;
	struct fsm_step_result r = {0};
	job_at(&j, "a"); /* a: 0 means the policy's 4 */
	for (int i = 1; i < 4; i++) {
		fsm_apply(&wf_plain, &retry, false, &j, OUT_RETRY, NULL, 0, "x", &r);
		assert_string_equal(r.outcome, "retry");
		assert_true(r.delay_ms <= backoff_ceiling(&retry, i));
		fsm_result_clear(&r);
	}
	fsm_apply(&wf_plain, &retry, false, &j, OUT_RETRY, NULL, 0, "x", &r);
	assert_string_equal(r.outcome, "fail");
	done(&j, &r);
}

static void test_fail_runs_cleanup_then_ends_failed(void **st)
{
	struct fsm_job j;
	struct fsm_step_result r = {0};
	job_at(&j, "b");
	fsm_apply(&wf, &retry, false, &j, OUT_FAIL, NULL, 0, "quota exceeded", &r);
	assert_string_equal(r.outcome, "fail");
	assert_string_equal(j.state, "undo");
	assert_string_equal(j.status, "running");
	assert_string_equal(j.ending, "fail");
	assert_string_equal(j.failed_state, "b");
	assert_string_equal(j.error, "quota exceeded");
	assert_true(r.cont);
	fsm_result_clear(&r);
	fsm_apply(&wf, &retry, false, &j, OUT_NEXT, NULL, 0, NULL, &r);
	assert_string_equal(j.state, "undo2");
	fsm_result_clear(&r);
	fsm_apply(&wf, &retry, false, &j, OUT_NEXT, NULL, 0, NULL, &r);
	assert_string_equal(j.status, "failed");
	assert_string_equal(r.outcome, "failed");
	/* The original failure is what on-call needs to see and replay from. */
	assert_string_equal(j.failed_state, "b");
	assert_string_equal(j.error, "quota exceeded");
	done(&j, &r);
}

static void test_fail_without_cleanup(void **st)
{
	struct fsm_job j;
	struct fsm_step_result r = {0};
	job_at(&j, "a");
	fsm_apply(&wf_plain, &retry, false, &j, OUT_FAIL, NULL, 0, "bad spec", &r);
	assert_string_equal(j.status, "failed");
	assert_true(r.release);
	assert_false(r.cont);
	done(&j, &r);
}

static void test_cleanup_failure_ends_with_both_errors(void **st)
{
	struct fsm_job j;
	struct fsm_step_result r = {0};
	job_at(&j, "b");
	fsm_apply(&wf, &retry, false, &j, OUT_FAIL, NULL, 0, "first", &r);
	fsm_result_clear(&r);
	fsm_apply(&wf, &retry, false, &j, OUT_FAIL, NULL, 0, "second", &r);
	assert_string_equal(j.status, "failed");
	assert_string_equal(j.error, "first; then cleanup state undo failed: second");
	assert_true(r.release);
	done(&j, &r);
}

static void test_cancel_enters_cleanup_as_cancelling(void **st)
{
	struct fsm_job j;
	struct fsm_step_result r = {0};
	job_at(&j, "b");
	fsm_cancel(&wf, false, &j, &r);
	assert_string_equal(r.outcome, "cancel");
	assert_string_equal(j.state, "undo");
	assert_string_equal(j.status, "cancelling");
	assert_true(r.cont);
	fsm_result_clear(&r);
	/* A wait in the cleanup chain stays "cancelling". */
	fsm_apply(&wf, &retry, false, &j, OUT_WAIT, NULL, 10, "settling", &r);
	assert_string_equal(j.status, "cancelling");
	fsm_result_clear(&r);
	fsm_apply(&wf, &retry, false, &j, OUT_NEXT, NULL, 0, NULL, &r);
	fsm_result_clear(&r);
	fsm_apply(&wf, &retry, false, &j, OUT_NEXT, NULL, 0, NULL, &r);
	assert_string_equal(j.status, "cancelled");
	assert_string_equal(r.outcome, "cancelled");
	done(&j, &r);
}

static void test_cancel_without_cleanup_ends_now(void **st)
{
	struct fsm_job j;
	struct fsm_step_result r = {0};
	job_at(&j, "b");
	fsm_cancel(&wf_plain, false, &j, &r);
	assert_string_equal(j.status, "cancelled");
	assert_true(r.release);
	done(&j, &r);
}

static void test_draining_commits_but_releases(void **st)
{
	struct fsm_job j;
	struct fsm_step_result r = {0};
	job_at(&j, "a");
	fsm_apply(&wf, &retry, true, &j, OUT_NEXT, NULL, 0, NULL, &r);
	assert_string_equal(j.state, "b");
	assert_string_equal(j.status, "waiting");
	assert_true(r.release);
	assert_false(r.cont);
	assert_int_equal(r.delay_ms, 0);
	fsm_result_clear(&r);
	fsm_release(&j, "shutting down", &r);
	assert_string_equal(r.outcome, "released");
	assert_true(r.release);
	done(&j, &r);
}

static void test_unknown_current_state_fails(void **st)
{
	struct fsm_job j;
	struct fsm_step_result r = {0};
	job_at(&j, "vanished");
	fsm_apply(&wf_plain, &retry, false, &j, OUT_NEXT, NULL, 0, NULL, &r);
	assert_string_equal(j.status, "failed");
	assert_non_null(strstr(j.error, "has no state vanished"));
	done(&j, &r);
}

static void test_registry_rejects_bad_tables(void **st)
{
	struct wf_registry reg = {0};
	char err[256];
	static const struct wf_state dangling[] = {
		{.name = "a", .run = noop, .deadline_s = 1, .next = "zz"}};
	static const struct workflow bad_next = {.kind = "x", .states = dangling, .nstates = 1};
	assert_false(wf_registry_add(&reg, &bad_next, err, sizeof(err)));
	assert_non_null(strstr(err, "unknown state zz"));

	static const struct wf_state dup[] = {{.name = "a", .run = noop, .deadline_s = 1},
					      {.name = "a", .run = noop, .deadline_s = 1}};
	static const struct workflow bad_dup = {.kind = "y", .states = dup, .nstates = 2};
	assert_false(wf_registry_add(&reg, &bad_dup, err, sizeof(err)));
	assert_non_null(strstr(err, "twice"));

	static const struct wf_state no_deadline[] = {{.name = "a", .run = noop, .deadline_s = 0}};
	static const struct workflow bad_deadline = {
		.kind = "d", .states = no_deadline, .nstates = 1};
	assert_false(wf_registry_add(&reg, &bad_deadline, err, sizeof(err)));
	assert_non_null(strstr(err, "positive deadline"));

	static const struct workflow bad_cleanup = {
		.kind = "z", .states = states, .nstates = 3, .cleanup = "nope"};
	assert_false(wf_registry_add(&reg, &bad_cleanup, err, sizeof(err)));

	assert_true(wf_registry_add(&reg, &wf, err, sizeof(err)));
	assert_false(wf_registry_add(&reg, &wf, err, sizeof(err)));
	assert_ptr_equal(wf_registry_find(&reg, "t"), &wf);
	assert_null(wf_registry_find(&reg, "nope"));
	assert_int_equal(reg.count, 1);
}

/* --- pause: safe boundaries ------------------------------------------------------- */

static const struct wf_state pause_states[] = {
	{.name = "a", .run = noop, .deadline_s = 60, .next = "b"},
	{.name = "b", .run = noop, .deadline_s = 60, .next = "c", .pause_safe = true},
	{.name = "c", .run = noop, .deadline_s = 60},
	/* a cleanup state marked safe all the same: a cleanup never pauses */
	{.name = "undo", .run = noop, .deadline_s = 60, .pause_safe = true},
};
static const struct workflow wf_pause = {
	.kind = "p", .states = pause_states, .nstates = 4, .cleanup = "undo"};

static void test_pause_boundary_only_on_the_way_into_a_safe_state(void **st)
{
	struct fsm_job j;
	struct fsm_step_result r = {0};

	job_at(&j, "a");
	fsm_apply(&wf_pause, &retry, false, &j, OUT_NEXT, NULL, 0, NULL, &r);
	assert_string_equal(j.state, "b");
	assert_true(r.pausable);
	fsm_result_clear(&r);
	/* Out of it, into a state that is not safe: no. */
	fsm_apply(&wf_pause, &retry, false, &j, OUT_NEXT, NULL, 0, NULL, &r);
	assert_string_equal(j.state, "c");
	assert_false(r.pausable);
	done(&j, &r);

	/* A wait or a retry in a safe state is not a boundary: the state is half-way. */
	job_at(&j, "b");
	fsm_apply(&wf_pause, &retry, false, &j, OUT_WAIT, NULL, 100, "not yet", &r);
	assert_false(r.pausable);
	fsm_result_clear(&r);
	fsm_apply(&wf_pause, &retry, false, &j, OUT_RETRY, NULL, 0, "503", &r);
	assert_false(r.pausable);
	done(&j, &r);

	/* Draining still marks it: the job parks there, and a paused cluster keeps it. */
	job_at(&j, "a");
	fsm_apply(&wf_pause, &retry, true, &j, OUT_NEXT, NULL, 0, NULL, &r);
	assert_true(r.release);
	assert_true(r.pausable);
	done(&j, &r);
}

static void test_cleanup_never_pauses(void **st)
{
	struct fsm_job j;
	struct fsm_step_result r = {0};

	job_at(&j, "b");
	fsm_apply(&wf_pause, &retry, false, &j, OUT_FAIL, NULL, 0, "broken", &r);
	assert_string_equal(j.state, "undo");
	assert_false(r.pausable);
	assert_false(fsm_pause_boundary(&wf_pause, &j, "undo"));
	done(&j, &r);

	job_at(&j, "a");
	fsm_cancel(&wf_pause, false, &j, &r);
	assert_false(r.pausable);
	assert_false(fsm_pause_boundary(&wf_pause, &j, "b"));
	done(&j, &r);

	job_at(&j, "a");
	assert_true(fsm_pause_boundary(&wf_pause, &j, "b"));
	assert_false(fsm_pause_boundary(&wf_pause, &j, "a"));
	assert_false(fsm_pause_boundary(&wf_pause, &j, "nowhere"));
	done(&j, &r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_next_follows_table_and_keeps_lease),
		cmocka_unit_test(test_goto_and_unknown_goto),
		cmocka_unit_test(test_last_state_succeeds),
		cmocka_unit_test(test_wait_parks_with_observation),
		cmocka_unit_test(test_wait_delay_is_clamped),
		cmocka_unit_test(test_retry_backs_off_then_gives_up),
		cmocka_unit_test(test_wait_starts_the_attempts_again),
		cmocka_unit_test(test_retry_uses_default_limit),
		cmocka_unit_test(test_fail_runs_cleanup_then_ends_failed),
		cmocka_unit_test(test_fail_without_cleanup),
		cmocka_unit_test(test_cleanup_failure_ends_with_both_errors),
		cmocka_unit_test(test_cancel_enters_cleanup_as_cancelling),
		cmocka_unit_test(test_cancel_without_cleanup_ends_now),
		cmocka_unit_test(test_draining_commits_but_releases),
		cmocka_unit_test(test_unknown_current_state_fails),
		cmocka_unit_test(test_registry_rejects_bad_tables),
		cmocka_unit_test(test_pause_boundary_only_on_the_way_into_a_safe_state),
		cmocka_unit_test(test_cleanup_never_pauses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
