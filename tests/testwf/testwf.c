#include "tests/testwf/testwf.h"
#include "common/httpc.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

struct pending {
	struct step *step;
	struct event *ev;
	bool done;
};

static void sleep_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;
	struct step *s = p->step;
	event_free(p->ev);
	free(p);
	step_next(s);
}

static void sleep_abort_cb(void *arg)
{
	struct pending *p = arg;
	event_free(p->ev);
	free(p);
}

static void hang_abort_cb(void *arg)
{
}

/* fetch: GET params.url with params.timeout_ms, as a state calling an API would. */
static void fetch_done_cb(const struct httpc_response *resp, void *arg)
{
	struct step *s = arg;
	if (resp->klass == HTTPC_OK)
		step_next(s);
	else if (resp->klass == HTTPC_TRANSIENT)
		step_retry(s, "%s", resp->error);
	else
		step_fail(s, "%s", resp->error);
}

static void fetch_abort_cb(void *arg)
{
	httpc_cancel(arg);
}

static void fetch(struct step *s)
{
	json_t *p = step_params(s);
	const char *url = json_string_value(json_object_get(p, "url"));
	if (!url || !step_http(s)) {
		step_fail(s, "fetch needs params.url and an HTTP client");
		return;
	}
	struct httpc_request req = {
		.url = url,
		.timeout_ms = (long)json_integer_value(json_object_get(p, "timeout_ms")),
	};
	struct httpc_call *call = httpc_send(step_http(s), &req, fetch_done_cb, s);
	step_on_abort(s, fetch_abort_cb, call);
}

/* The action for this run of the state, from params.plan. */
static const char *planned_action(struct step *s, int run)
{
	json_t *list = json_object_get(json_object_get(step_params(s), "plan"), step_state(s));
	if (!json_is_array(list) || json_array_size(list) == 0)
		return "next";
	size_t i = (size_t)run < json_array_size(list) ? (size_t)run : json_array_size(list) - 1;
	const char *a = json_string_value(json_array_get(list, i));
	return a ? a : "next";
}

/* Count this run in context.runs and context.trace; the runs before it. */
static int record_run(struct step *s)
{
	json_t *ctx = step_context(s);
	json_t *runs = json_object_get(ctx, "runs");
	if (!json_is_object(runs)) {
		runs = json_object();
		json_object_set_new(ctx, "runs", runs);
	}
	json_t *trace = json_object_get(ctx, "trace");
	if (!json_is_array(trace)) {
		trace = json_array();
		json_object_set_new(ctx, "trace", trace);
	}
	int n = (int)json_integer_value(json_object_get(runs, step_state(s)));
	json_object_set_new(runs, step_state(s), json_integer(n + 1));
	json_array_append_new(trace, json_string(step_state(s)));
	if (step_cleaning_up(s))
		json_object_set_new(ctx, "cleaned", json_true());
	return n;
}

static void testwf_run(struct step *s)
{
	int n = record_run(s);
	const char *a = planned_action(s, n);
	int64_t ms;
	if (strcmp(a, "next") == 0) {
		step_next(s);
	} else if (strncmp(a, "wait:", 5) == 0 && parse_int64(a + 5, 0, 3600000, &ms)) {
		step_wait(s, ms, "%s: waiting (run %d)", step_state(s), n + 1);
	} else if (strncmp(a, "poll:", 5) == 0 && parse_int64(a + 5, 0, 3600000, &ms)) {
		step_wait(s, ms, "%s: 2 of 3 ready", step_state(s));
	} else if (strncmp(a, "bigfail:", 8) == 0 && parse_int64(a + 8, 1, 16777216, &ms)) {
		/* A failure that says far too much, as an allocation explanation can. */
		char *words = xmalloc((size_t)ms + 1);

		for (int64_t i = 0; i < ms; i++)
			words[i] = "abcdefgh"[i % 8];
		words[ms] = '\0';
		step_fail(s, "%s: %s", step_state(s), words);
		free(words);
	} else if (strcmp(a, "retry") == 0) {
		step_retry(s, "%s: simulated transient error (run %d)", step_state(s), n + 1);
	} else if (strcmp(a, "badutf8") == 0) {
		/* A message cut in the middle of a character, as a careless %.Ns would. */
		step_fail(s, "%s: cut \xe2\x82", step_state(s));
	} else if (strcmp(a, "fail") == 0) {
		step_fail(s, "%s: simulated permanent error", step_state(s));
	} else if (strncmp(a, "sleep:", 6) == 0 && parse_int64(a + 6, 0, 3600000, &ms)) {
		struct pending *p = xcalloc(1, sizeof(*p));
		p->step = s;
		p->ev = evtimer_new(step_base(s), sleep_done_cb, p);
		struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
		evtimer_add(p->ev, &tv);
		step_on_abort(s, sleep_abort_cb, p);
	} else if (strcmp(a, "fetch") == 0) {
		fetch(s);
	} else if (strcmp(a, "hang") == 0) {
		step_on_abort(s, hang_abort_cb, NULL);
	} else {
		step_fail(s, "unknown test action %s", a);
	}
}

/*
 * One item of params.items per run, recorded in context.done (and counted
 * in context.processed) as it is done, the way a rolling restart records
 * its pods.  While the file params.block_file exists, the item at index
 * params.block_at fails the job, as a node that will not come back would.
 */
static void testwf_progress(struct step *s)
{
	record_run(s);
	json_t *p = step_params(s), *ctx = step_context(s);
	json_t *items = json_object_get(p, "items");
	json_t *done = json_object_get(ctx, "done");
	if (!json_is_array(done)) {
		done = json_array();
		json_object_set_new(ctx, "done", done);
	}
	json_t *processed = json_object_get(ctx, "processed");
	if (!json_is_object(processed)) {
		processed = json_object();
		json_object_set_new(ctx, "processed", processed);
	}
	size_t i = json_array_size(done);
	if (i >= json_array_size(items)) {
		step_next(s);
		return;
	}
	const char *item = json_string_value(json_array_get(items, i));
	const char *block = json_string_value(json_object_get(p, "block_file"));
	json_t *at = json_object_get(p, "block_at");
	if (block && json_is_integer(at) && json_integer_value(at) == (json_int_t)i &&
	    access(block, F_OK) == 0) {
		step_fail(s, "item %s is blocked while %s exists", item, block);
		return;
	}
	json_object_set_new(processed, item,
			    json_integer(json_integer_value(json_object_get(processed, item)) + 1));
	json_array_append_new(done, json_string(item));
	if (i + 1 < json_array_size(items))
		step_branch(s, 0); /* "more": step again */
	else
		step_next(s);
}

static bool testwf_validate(json_t *params, const char **field, char *msg, size_t msglen)
{
	json_t *plan = json_object_get(params, "plan");
	if (plan && !json_is_object(plan)) {
		*field = "params.plan";
		str_copy_trunc(msg, "must be an object of state name to list of actions", msglen);
		return false;
	}
	json_t *items = json_object_get(params, "items");
	size_t i;
	json_t *v;
	json_array_foreach (items, i, v) {
		if (!json_is_string(v)) {
			*field = "params.items";
			str_copy_trunc(msg, "must be a list of strings", msglen);
			return false;
		}
	}
	return true;
}

/* prepare → work → verify, with a cleanup chain. */
static const struct wf_state test_states[] = {
	{.name = "prepare",
	 .run = testwf_run,
	 .deadline_s = 60,
	 .next = "work",
	 .replay_safe = true},
	{.name = "work",
	 .run = testwf_run,
	 .deadline_s = 60,
	 .max_attempts = 3,
	 .next = "verify",
	 .replay_safe = true},
	{.name = "verify", .run = testwf_run, .deadline_s = 60, .replay_safe = true},
	{.name = "undo", .run = testwf_run, .deadline_s = 60},
};

static const struct workflow test_wf = {
	.kind = "test",
	.states = test_states,
	.nstates = sizeof(test_states) / sizeof(test_states[0]),
	.cleanup = "undo",
	.validate = testwf_validate,
};

/* A state with a 2-second deadline, for the deadline tests. */
static const struct wf_state deadline_states[] = {
	{.name = "start", .run = testwf_run, .deadline_s = 60, .next = "slow", .replay_safe = true},
	{.name = "slow", .run = testwf_run, .deadline_s = 2, .replay_safe = true},
};

static const struct workflow deadline_wf = {
	.kind = "test_deadline",
	.states = deadline_states,
	.nstates = 2,
	.validate = testwf_validate,
};

/* Five states that do nothing: the engine's own cost, for benchmarks. */
static const struct wf_state noop_states[] = {
	{.name = "s1", .run = testwf_run, .deadline_s = 60, .next = "s2", .replay_safe = true},
	{.name = "s2", .run = testwf_run, .deadline_s = 60, .next = "s3", .replay_safe = true},
	{.name = "s3", .run = testwf_run, .deadline_s = 60, .next = "s4", .replay_safe = true},
	{.name = "s4", .run = testwf_run, .deadline_s = 60, .next = "s5", .replay_safe = true},
	{.name = "s5", .run = testwf_run, .deadline_s = 60, .replay_safe = true},
};

static const struct workflow noop_wf = {
	.kind = "test_noop",
	.states = noop_states,
	.nstates = 5,
	.validate = testwf_validate,
};

/*
 * start → step (once per item) → commit, with a cleanup chain: a job that
 * fails part-way and must go on where it stopped after a replay.
 */
static const struct wf_state progress_states[] = {
	{.name = "start", .run = testwf_run, .deadline_s = 60, .next = "step", .replay_safe = true},
	{.name = "step",
	 .run = testwf_progress,
	 .deadline_s = 60,
	 .next = "commit",
	 .replay_safe = true,
	 WF_BRANCHES({"more", "step"})},
	/* commit stands for a state that only its predecessor may lead to. */
	{.name = "commit", .run = testwf_run, .deadline_s = 60},
	{.name = "undo", .run = testwf_run, .deadline_s = 60},
};

static const struct workflow progress_wf = {
	.kind = "test_progress",
	.states = progress_states,
	.nstates = sizeof(progress_states) / sizeof(progress_states[0]),
	.cleanup = "undo",
	.validate = testwf_validate,
};

/*
 * test_gate, for the job viewer's tests: "gate" fails while the file named
 * by params.gate_file exists and follows its plan once it is gone; then
 * "settle" follows its plan (a few waits, say), so that a replayed job is
 * seen running before it succeeds.
 */
static void testwf_gate(struct step *s)
{
	const char *path = json_string_value(json_object_get(step_params(s), "gate_file"));

	if (path && access(path, F_OK) == 0) {
		step_fail(s, "gate: %s is still there; remove it, then replay from gate", path);
		return;
	}
	testwf_run(s);
}

static const struct wf_state gate_states[] = {
	{.name = "prepare",
	 .run = testwf_run,
	 .deadline_s = 60,
	 .next = "gate",
	 .replay_safe = true},
	{.name = "gate",
	 .run = testwf_gate,
	 .deadline_s = 60,
	 .next = "settle",
	 .replay_safe = true},
	{.name = "settle", .run = testwf_run, .deadline_s = 60},
	{.name = "unwind", .run = testwf_run, .deadline_s = 60},
};

static const struct workflow gate_wf = {
	.kind = "test_gate",
	.states = gate_states,
	.nstates = sizeof(gate_states) / sizeof(gate_states[0]),
	.cleanup = "unwind",
	.validate = testwf_validate,
};

bool testwf_register(struct wf_registry *reg, char *err, size_t errlen)
{
	return wf_registry_add(reg, &test_wf, err, errlen) &&
	       wf_registry_add(reg, &deadline_wf, err, errlen) &&
	       wf_registry_add(reg, &noop_wf, err, errlen) &&
	       wf_registry_add(reg, &progress_wf, err, errlen) &&
	       wf_registry_add(reg, &gate_wf, err, errlen);
}
