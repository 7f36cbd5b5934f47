/*
 * On-call's actions end to end: replay and cancel with a reason, and the
 * workflows as graphs.  Real PostgreSQL, real esaasd-test, driven over
 * HTTP and checked through the API and the job_events history.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <curl/curl.h>

#include "common/util.h"
#include "tests/integration/harness.h"

static struct pg pg;
/* Where the block files of test_progress jobs live. */
static char blockdir[64];

struct fixture {
	char dburl[600];
	struct esaasd d;
	PGconn *sql;
};

static int group_setup(void **state)
{
	snprintf(blockdir, sizeof(blockdir), "/tmp/esaas-oncall-XXXXXX");
	if (!mkdtemp(blockdir))
		return -1;
	return pg_start(&pg) ? 0 : -1;
}

static int group_teardown(void **state)
{
	rmdir(blockdir);
	pg_finish(&pg);
	return 0;
}

static struct fixture *fixture_new(void)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	assert_non_null(pg_new_database(&pg, f->dburl, sizeof(f->dburl)));
	assert_true(esaasd_start(&f->d, pg.dir, f->dburl, NULL));
	f->sql = sql_connect(f->dburl);
	assert_non_null(f->sql);
	return f;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	if (!f)
		return 0;
	/* A clean exit on SIGTERM also proves the sanitizers saw nothing. */
	int rc = f->d.pid > 0 ? esaasd_stop(&f->d, SIGTERM, true) : 0;
	if (rc != 0)
		fprintf(stderr, "esaasd exited with %d on SIGTERM; see %s\n", rc, f->d.log);
	PQfinish(f->sql);
	free(f);
	return rc == 0 ? 0 : -1;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "(null)";
}

/* "outcome:from>to" for each event, joined with spaces. */
static char *event_trail(const struct esaasd *d, int64_t id)
{
	char path[64];
	snprintf(path, sizeof(path), "/api/v1/jobs/%lld/events", (long long)id);
	struct http_resp r;
	assert_true(http_call(d, "GET", path, NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	json_t *events = json_object_get(r.body, "events");
	assert_true(json_is_array(events));
	size_t cap = 64, len = 0;
	char *s = xcalloc(1, cap);
	size_t i;
	json_t *ev;
	json_array_foreach (events, i, ev) {
		const char *from = json_string_value(json_object_get(ev, "from_state"));
		const char *to = json_string_value(json_object_get(ev, "to_state"));
		char *item = xasprintf("%s%s:%s>%s", len ? " " : "", jstr(ev, "outcome"),
				       from ? from : "-", to ? to : "-");
		size_t il = strlen(item);
		while (len + il + 1 > cap)
			s = xrealloc(s, cap *= 2);
		memcpy(s + len, item, il + 1);
		len += il;
		free(item);
	}
	http_resp_free(&r);
	return s;
}

/* The events of the job with this outcome (a new reference; an array). */
static json_t *events_with(const struct esaasd *d, int64_t id, const char *outcome)
{
	char path[64];
	snprintf(path, sizeof(path), "/api/v1/jobs/%lld/events", (long long)id);
	struct http_resp r;
	assert_true(http_call(d, "GET", path, NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	json_t *out = json_array();
	size_t i;
	json_t *ev;
	json_array_foreach (json_object_get(r.body, "events"), i, ev)
		if (strcmp(jstr(ev, "outcome"), outcome) == 0)
			json_array_append(out, ev);
	http_resp_free(&r);
	return out;
}

static json_t *get_job(const struct esaasd *d, int64_t id)
{
	char path[64];
	snprintf(path, sizeof(path), "/api/v1/jobs/%lld", (long long)id);
	struct http_resp r;
	assert_true(http_call(d, "GET", path, NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	json_t *job = json_incref(r.body);
	http_resp_free(&r);
	return job;
}

/* POST /api/v1/jobs/{id}/<action> with body, as actor (NULL: none). */
static void act(const struct esaasd *d, int64_t id, const char *action, const char *body,
		const char *actor, struct http_resp *r)
{
	char path[64], header[160];
	snprintf(path, sizeof(path), "/api/v1/jobs/%lld/%s", (long long)id, action);
	snprintf(header, sizeof(header), "X-Esaas-Actor: %s", actor ? actor : "");
	const char *h[] = {header, NULL};
	assert_true(http_call(d, "POST", path, body, actor ? h : NULL, r));
}

/* An error answer: status, code, field (NULL: none) and words of the message. */
static void assert_error(struct http_resp *r, long status, const char *code, const char *field,
			 const char *needle)
{
	if (r->status != status)
		fprintf(stderr, "expected %ld, got %ld: %s\n", status, r->status, r->raw);
	assert_int_equal(r->status, status);
	json_t *e = json_object_get(r->body, "error");
	assert_non_null(e);
	assert_string_equal(jstr(e, "code"), code);
	if (field)
		assert_string_equal(jstr(e, "field"), field);
	if (needle && !strstr(jstr(e, "message"), needle)) {
		fprintf(stderr, "\"%s\" not in \"%s\"\n", needle, jstr(e, "message"));
		fail();
	}
}

static char *array_text(json_t *a)
{
	return json_dumps(a, JSON_COMPACT);
}

static void assert_array(json_t *a, const char *expected)
{
	char *got = array_text(a);
	if (strcmp(got, expected) != 0)
		fprintf(stderr, "expected %s, got %s\n", expected, got);
	assert_string_equal(got, expected);
	free(got);
}

static long long count_events(struct fixture *f, int64_t id, const char *outcome)
{
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	const char *q[] = {ids, outcome};
	return sql_int(f->sql, "SELECT count(*) FROM job_events WHERE job_id = $1 AND outcome = $2",
		       2, q);
}

/* A block file: a test_progress job fails at its block_at item while it exists. */
static void block_file(char *path, size_t len, const char *name)
{
	snprintf(path, len, "%s/%s", blockdir, name);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
}

/* A test_progress job over a, b, c, d that stops at c while path exists. */
static int64_t submit_progress(struct fixture *f, const char *cluster, const char *path,
			       const char *plan)
{
	char *params = xasprintf("{\"items\": [\"a\", \"b\", \"c\", \"d\"], \"block_file\": \"%s\","
				 " \"block_at\": 2%s%s}",
				 path, plan ? ", \"plan\": " : "", plan ? plan : "");
	int64_t id = submit_job(&f->d, "test_progress", cluster, params);
	free(params);
	assert_true(id > 0);
	return id;
}

static json_t *wait_failed(struct fixture *f, int64_t id)
{
	json_t *job = wait_job_done(&f->d, id, 20000);
	assert_non_null(job);
	assert_string_equal(jstr(job, "status"), "failed");
	return job;
}

/*
 * The job stops half-way; once the cause is gone a replay from the state
 * that failed goes on with the items not yet done, and only those.
 */
static void test_replay_from_the_failed_state_keeps_the_context(void **state)
{
	struct fixture *f = *state = fixture_new();
	char path[128];
	block_file(path, sizeof(path), "disk-c");
	int64_t id = submit_progress(f, "logs", path, NULL);
	json_t *job = wait_failed(f, id);
	assert_string_equal(jstr(job, "failed_state"), "step");
	assert_string_equal(jstr(job, "state"), "undo");
	assert_array(json_object_get(json_object_get(job, "context"), "done"), "[\"a\",\"b\"]");
	json_decref(job);
	/* Only failed and cancelled jobs offer states to replay from. */
	job = get_job(&f->d, id);
	assert_array(json_object_get(job, "replay_states"), "[\"start\",\"step\"]");
	json_decref(job);

	assert_int_equal(unlink(path), 0);
	struct http_resp r;
	act(&f->d, id, "replay", "{\"reason\": \"disk c replaced\"}", "alice", &r);
	assert_int_equal(r.status, 202);
	char loc[64];
	snprintf(loc, sizeof(loc), "/api/v1/jobs/%lld", (long long)id);
	assert_string_equal(r.location, loc);
	assert_string_equal(jstr(r.body, "status"), "queued");
	assert_string_equal(jstr(r.body, "state"), "step");
	assert_int_equal(json_integer_value(json_object_get(r.body, "attempt")), 1);
	assert_true(json_is_null(json_object_get(r.body, "error")));
	assert_true(json_is_null(json_object_get(r.body, "failed_state")));
	assert_true(json_is_null(json_object_get(r.body, "finished_at")));
	assert_array(json_object_get(json_object_get(r.body, "context"), "done"), "[\"a\",\"b\"]");
	http_resp_free(&r);

	job = wait_job_done(&f->d, id, 20000);
	assert_non_null(job);
	assert_string_equal(jstr(job, "status"), "succeeded");
	assert_true(json_is_null(json_object_get(job, "error")));
	assert_array(json_object_get(job, "replay_states"), "[]");
	json_t *ctx = json_object_get(job, "context");
	assert_array(json_object_get(ctx, "done"), "[\"a\",\"b\",\"c\",\"d\"]");
	/* Every item once: a and b were not done again. */
	char *processed =
		json_dumps(json_object_get(ctx, "processed"), JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(processed, "{\"a\":1,\"b\":1,\"c\":1,\"d\":1}");
	free(processed);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(ctx, "runs"), "start")),
			 1);
	json_decref(job);

	char *trail = event_trail(&f->d, id);
	assert_string_equal(trail,
			    "submitted:->start next:start>step next:step>step next:step>step "
			    "fail:step>undo failed:undo>undo replay:step>step next:step>step "
			    "next:step>commit succeeded:commit>commit");
	free(trail);
	/* Who replayed, from where, and why. */
	json_t *ev = events_with(&f->d, id, "replay");
	assert_int_equal(json_array_size(ev), 1);
	json_t *e = json_array_get(ev, 0);
	assert_string_equal(jstr(e, "actor"), harness_actor(&f->d, "alice"));
	assert_string_equal(jstr(e, "reason"), "disk c replaced");
	assert_string_equal(jstr(e, "from_state"), "step");
	assert_string_equal(jstr(e, "to_state"), "step");
	assert_string_equal(jstr(e, "status"), "queued");
	assert_non_null(strstr(jstr(e, "detail"), "disk c replaced"));
	assert_non_null(strstr(jstr(e, "detail"), "item c is blocked"));
	json_decref(ev);
	/* The engine's own events carry no reason. */
	ev = events_with(&f->d, id, "fail");
	assert_true(json_is_null(json_object_get(json_array_get(ev, 0), "reason")));
	json_decref(ev);
}

/* An earlier safe state may be chosen; the context still holds what was done. */
static void test_replay_from_a_chosen_state(void **state)
{
	struct fixture *f = *state = fixture_new();
	char path[128];
	block_file(path, sizeof(path), "chosen");
	int64_t id = submit_progress(f, "logs", path, NULL);
	json_decref(wait_failed(f, id));
	assert_int_equal(unlink(path), 0);

	struct http_resp r;
	act(&f->d, id, "replay", "{\"from_state\": \"start\", \"reason\": \"from the top\"}", "bob",
	    &r);
	assert_int_equal(r.status, 202);
	assert_string_equal(jstr(r.body, "state"), "start");
	http_resp_free(&r);
	json_t *job = wait_job_done(&f->d, id, 20000);
	assert_non_null(job);
	assert_string_equal(jstr(job, "status"), "succeeded");
	json_t *ctx = json_object_get(job, "context");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(ctx, "runs"), "start")),
			 2);
	assert_array(json_object_get(ctx, "done"), "[\"a\",\"b\",\"c\",\"d\"]");
	json_decref(job);
	json_t *ev = events_with(&f->d, id, "replay");
	assert_int_equal(json_array_size(ev), 1);
	assert_string_equal(jstr(json_array_get(ev, 0), "from_state"), "start");
	assert_string_equal(jstr(json_array_get(ev, 0), "actor"), harness_actor(&f->d, "bob"));
	json_decref(ev);
}

/* A state that is not replay-safe is refused, naming the ones that are. */
static void test_replay_from_an_unsafe_state_is_refused(void **state)
{
	struct fixture *f = *state = fixture_new();
	/* commit fails once: the default (commit) is not safe to replay from. */
	int64_t id =
		submit_job(&f->d, "test_progress", "logs",
			   "{\"items\": [\"a\"], \"plan\": {\"commit\": [\"fail\", \"next\"]}}");
	assert_true(id > 0);
	json_t *job = wait_failed(f, id);
	assert_string_equal(jstr(job, "failed_state"), "commit");
	json_decref(job);

	struct http_resp r;
	act(&f->d, id, "replay", "{\"reason\": \"try again\"}", NULL, &r);
	assert_error(&r, 422, "invalid", "from_state", "start, step");
	assert_non_null(strstr(r.raw, "commit"));
	http_resp_free(&r);
	const char *bad[] = {"commit", "undo", "nowhere"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *body = xasprintf("{\"from_state\": \"%s\", \"reason\": \"try\"}", bad[i]);
		act(&f->d, id, "replay", body, NULL, &r);
		assert_error(&r, 422, "invalid", "from_state", "allowed: start, step");
		assert_non_null(strstr(r.raw, bad[i]));
		http_resp_free(&r);
		free(body);
	}
	/* Nothing changed. */
	job = get_job(&f->d, id);
	assert_string_equal(jstr(job, "status"), "failed");
	json_decref(job);
	assert_int_equal(count_events(f, id, "replay"), 0);

	act(&f->d, id, "replay", "{\"from_state\": \"step\", \"reason\": \"commit fixed\"}", NULL,
	    &r);
	assert_int_equal(r.status, 202);
	http_resp_free(&r);
	job = wait_job_done(&f->d, id, 20000);
	assert_non_null(job);
	assert_string_equal(jstr(job, "status"), "succeeded");
	json_decref(job);
}

/* A failed cleanup leaves the default where the job itself failed. */
static void test_replay_after_the_cleanup_failed(void **state)
{
	struct fixture *f = *state = fixture_new();
	char path[128];
	block_file(path, sizeof(path), "cleanup");
	int64_t id = submit_progress(f, "logs", path, "{\"undo\": [\"fail\", \"next\"]}");
	json_t *job = wait_failed(f, id);
	assert_string_equal(jstr(job, "state"), "undo");
	assert_string_equal(jstr(job, "failed_state"), "step");
	assert_non_null(strstr(jstr(job, "error"), "then cleanup state undo failed"));
	json_decref(job);
	assert_int_equal(unlink(path), 0);

	struct http_resp r;
	act(&f->d, id, "replay", "{\"reason\": \"cleaned up by hand\"}", NULL, &r);
	assert_int_equal(r.status, 202);
	assert_string_equal(jstr(r.body, "state"), "step");
	http_resp_free(&r);
	job = wait_job_done(&f->d, id, 20000);
	assert_non_null(job);
	assert_string_equal(jstr(job, "status"), "succeeded");
	assert_array(json_object_get(json_object_get(job, "context"), "done"),
		     "[\"a\",\"b\",\"c\",\"d\"]");
	json_decref(job);
}

/*
 * A cancelled job replays by default from the state it was in when the
 * cancel stopped it, whether its cleanup ended it cancelled, or failed.
 */
static void test_replay_a_cancelled_job(void **state)
{
	struct fixture *f = *state = fixture_new();
	int64_t a =
		submit_job(&f->d, "test", "logs", "{\"plan\": {\"prepare\": [\"sleep:1500\"]}}");
	int64_t b = submit_job(
		&f->d, "test", "other",
		"{\"plan\": {\"prepare\": [\"sleep:1500\"], \"undo\": [\"fail\", \"next\"]}}");
	json_decref(wait_job_status(&f->d, a, "running", 10000));
	json_decref(wait_job_status(&f->d, b, "running", 10000));
	struct http_resp r;
	act(&f->d, a, "cancel", "{\"reason\": \"wrong window\"}", "carol", &r);
	assert_int_equal(r.status, 202);
	http_resp_free(&r);
	act(&f->d, b, "cancel", "{\"reason\": \"wrong window\"}", "carol", &r);
	assert_int_equal(r.status, 202);
	http_resp_free(&r);

	json_t *job = wait_job_done(&f->d, a, 20000);
	assert_non_null(job);
	assert_string_equal(jstr(job, "status"), "cancelled");
	assert_string_equal(jstr(job, "state"), "undo");
	assert_array(json_object_get(job, "replay_states"), "[\"prepare\",\"work\",\"verify\"]");
	json_decref(job);
	job = wait_job_done(&f->d, b, 20000);
	assert_non_null(job);
	assert_string_equal(jstr(job, "status"), "failed");
	assert_true(json_is_null(json_object_get(job, "failed_state")));
	json_decref(job);

	int64_t ids[] = {a, b};
	for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
		char *trail = event_trail(&f->d, ids[i]);
		assert_non_null(strstr(trail, "cancel:work>undo"));
		free(trail);
		act(&f->d, ids[i], "replay", "{\"reason\": \"window open now\"}", "carol", &r);
		assert_int_equal(r.status, 202);
		assert_string_equal(jstr(r.body, "state"), "work");
		assert_false(json_is_true(json_object_get(r.body, "cancel_requested")));
		http_resp_free(&r);
		job = wait_job_done(&f->d, ids[i], 20000);
		assert_non_null(job);
		assert_string_equal(jstr(job, "status"), "succeeded");
		json_decref(job);
		trail = event_trail(&f->d, ids[i]);
		assert_non_null(
			strstr(trail, "replay:work>work next:work>verify succeeded:verify>verify"));
		free(trail);
	}
	/* prepare did not run again: prepare, undo, then work and verify. */
	job = get_job(&f->d, a);
	assert_array(json_object_get(json_object_get(job, "context"), "trace"),
		     "[\"prepare\",\"undo\",\"work\",\"verify\"]");
	json_decref(job);
}

/* A job cancelled before it ever ran replays from its first state. */
static void test_replay_a_job_cancelled_while_queued(void **state)
{
	struct fixture *f = *state = fixture_new();
	int64_t a =
		submit_job(&f->d, "test", "logs", "{\"plan\": {\"prepare\": [\"sleep:1500\"]}}");
	int64_t b = submit_job(&f->d, "test", "logs", NULL);
	json_decref(wait_job_status(&f->d, a, "running", 10000));
	struct http_resp r;
	act(&f->d, b, "cancel", "{\"reason\": \"duplicate\"}", NULL, &r);
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	act(&f->d, b, "replay", "{\"reason\": \"not a duplicate after all\"}", NULL, &r);
	assert_int_equal(r.status, 202);
	assert_string_equal(jstr(r.body, "state"), "prepare");
	http_resp_free(&r);
	json_t *job = wait_job_done(&f->d, b, 20000);
	assert_non_null(job);
	assert_string_equal(jstr(job, "status"), "succeeded");
	json_decref(job);
}

/* No reason, no action: each refusal names the field and changes nothing. */
static void test_reason_is_required(void **state)
{
	struct fixture *f = *state = fixture_new();
	int64_t id = submit_job(&f->d, "test", "logs", "{\"plan\": {\"prepare\": [\"fail\"]}}");
	json_decref(wait_failed(f, id));
	char *long_reason = xcalloc(1, 1002);
	memset(long_reason, 'r', 1001);
	char *too_long = xasprintf("{\"reason\": \"%s\"}", long_reason);
	const char *bodies[] = {
		NULL,
		"{}",
		"{\"reason\": null}",
		"{\"reason\": \"\"}",
		"{\"reason\": \" \\n\\t\"}",
		"{\"reason\": 5}",
		"{\"from_state\": \"prepare\"}",
		too_long,
	};
	struct http_resp r;
	for (size_t i = 0; i < ARRAY_SIZE(bodies); i++) {
		act(&f->d, id, "replay", bodies[i], NULL, &r);
		assert_error(&r, 422, "invalid", "reason", NULL);
		http_resp_free(&r);
	}
	act(&f->d, id, "replay", "{\"reason\": \"x\", \"force\": true}", NULL, &r);
	assert_error(&r, 422, "invalid", "force", NULL);
	http_resp_free(&r);
	act(&f->d, id, "replay", "{\"reason\": \"x\", \"from_state\": 3}", NULL, &r);
	assert_error(&r, 422, "invalid", "from_state", NULL);
	http_resp_free(&r);
	assert_int_equal(count_events(f, id, "replay"), 0);

	/* 1000 characters of two bytes each are within the bound. */
	char *wide = xcalloc(1, 2001);
	for (int i = 0; i < 1000; i++)
		memcpy(wide + 2 * i, "\xc3\xa9", 2);
	char *body = xasprintf("{\"reason\": \"%s\"}", wide);
	act(&f->d, id, "replay", body, NULL, &r);
	assert_int_equal(r.status, 202);
	http_resp_free(&r);
	json_t *ev = events_with(&f->d, id, "replay");
	assert_string_equal(jstr(json_array_get(ev, 0), "reason"), wide);
	json_decref(ev);
	free(body);
	free(wide);

	/* The same for a cancel. */
	int64_t w =
		submit_job(&f->d, "test", "other", "{\"plan\": {\"prepare\": [\"wait:60000\"]}}");
	json_decref(wait_job_status(&f->d, w, "waiting", 10000));
	for (size_t i = 0; i < 6; i++) {
		act(&f->d, w, "cancel", bodies[i], NULL, &r);
		assert_error(&r, 422, "invalid", "reason", NULL);
		http_resp_free(&r);
	}
	act(&f->d, w, "cancel", too_long, NULL, &r);
	assert_error(&r, 422, "invalid", "reason", "1000");
	http_resp_free(&r);
	json_t *job = get_job(&f->d, w);
	assert_string_equal(jstr(job, "status"), "waiting");
	assert_false(json_is_true(json_object_get(job, "cancel_requested")));
	json_decref(job);
	free(too_long);
	free(long_reason);
}

/* A job still queued, running or already succeeded cannot be replayed. */
static void test_replay_needs_a_failed_or_cancelled_job(void **state)
{
	struct fixture *f = *state = fixture_new();
	int64_t done = submit_job(&f->d, "test", "other", NULL);
	json_t *j = wait_job_done(&f->d, done, 20000);
	assert_non_null(j);
	json_decref(j);
	/* a holds the cluster (until shutdown aborts it); b queues behind it. */
	int64_t a = submit_job(&f->d, "test", "logs", "{\"plan\": {\"prepare\": [\"hang\"]}}");
	int64_t b = submit_job(&f->d, "test", "logs", NULL);
	int64_t w =
		submit_job(&f->d, "test", "third", "{\"plan\": {\"prepare\": [\"wait:60000\"]}}");
	json_decref(wait_job_status(&f->d, a, "running", 10000));
	json_decref(wait_job_status(&f->d, w, "waiting", 10000));

	struct http_resp r;
	struct {
		int64_t id;
		const char *status;
	} cases[] = {{a, "running"}, {b, "queued"}, {w, "waiting"}, {done, "succeeded"}};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		/* Even with a state that does not exist: the status comes first. */
		act(&f->d, cases[i].id, "replay",
		    "{\"from_state\": \"nowhere\", \"reason\": \"why not\"}", NULL, &r);
		char *msg =
			xasprintf("job %lld is %s; only failed or cancelled jobs can be replayed",
				  (long long)cases[i].id, cases[i].status);
		assert_error(&r, 409, "conflict", NULL, msg);
		free(msg);
		http_resp_free(&r);
		assert_int_equal(count_events(f, cases[i].id, "replay"), 0);
	}
	act(&f->d, 999999, "replay", "{\"reason\": \"ghost\"}", NULL, &r);
	assert_error(&r, 404, "not_found", NULL, "job 999999 not found");
	http_resp_free(&r);

	act(&f->d, done, "cancel", "{\"reason\": \"too late\"}", NULL, &r);
	char *msg = xasprintf("job %lld is succeeded; only queued, running or waiting jobs can be "
			      "cancelled",
			      (long long)done);
	assert_error(&r, 409, "conflict", NULL, msg);
	free(msg);
	http_resp_free(&r);
}

/* A cancel says who and why, in the job's history. */
static void test_cancel_records_actor_and_reason(void **state)
{
	struct fixture *f = *state = fixture_new();
	int64_t id =
		submit_job(&f->d, "test", "logs", "{\"plan\": {\"prepare\": [\"wait:60000\"]}}");
	json_decref(wait_job_status(&f->d, id, "waiting", 10000));
	struct http_resp r;
	act(&f->d, id, "cancel", "{\"reason\": \"maintenance window closed\"}", "dave", &r);
	assert_int_equal(r.status, 202);
	assert_true(json_is_true(json_object_get(r.body, "cancel_requested")));
	http_resp_free(&r);
	json_t *job = wait_job_done(&f->d, id, 10000);
	assert_non_null(job);
	assert_string_equal(jstr(job, "status"), "cancelled");
	json_decref(job);
	json_t *ev = events_with(&f->d, id, "cancel_requested");
	assert_int_equal(json_array_size(ev), 1);
	json_t *e = json_array_get(ev, 0);
	assert_string_equal(jstr(e, "actor"), harness_actor(&f->d, "dave"));
	assert_string_equal(jstr(e, "reason"), "maintenance window closed");
	assert_string_equal(jstr(e, "from_state"), "prepare");
	assert_non_null(strstr(jstr(e, "detail"), "maintenance window closed"));
	json_decref(ev);
	/* Once it is cancelled, another cancel is refused and records nothing. */
	act(&f->d, id, "cancel", "{\"reason\": \"again\"}", "dave", &r);
	assert_int_equal(r.status, 409);
	http_resp_free(&r);
	assert_int_equal(count_events(f, id, "cancel_requested"), 1);
}

static size_t discard_cb(char *p, size_t size, size_t n, void *arg)
{
	return size * n;
}

/* n identical POSTs sent at once; their statuses into out. */
static void parallel_posts(const struct esaasd *d, const char *path, const char *body, int n,
			   long *out)
{
	CURLM *m = curl_multi_init();
	CURL *e[16];
	char url[256];
	snprintf(url, sizeof(url), "%s%s", d->base, path);
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	char auth[160];
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", harness_token(d));
	h = curl_slist_append(h, auth);
	assert_true(n <= (int)ARRAY_SIZE(e));
	for (int i = 0; i < n; i++) {
		e[i] = curl_easy_init();
		curl_easy_setopt(e[i], CURLOPT_URL, url);
		curl_easy_setopt(e[i], CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(e[i], CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(e[i], CURLOPT_WRITEFUNCTION, discard_cb);
		curl_easy_setopt(e[i], CURLOPT_TIMEOUT_MS, 10000L);
		curl_easy_setopt(e[i], CURLOPT_NOSIGNAL, 1L);
		curl_multi_add_handle(m, e[i]);
	}
	int running = 1;
	while (running) {
		curl_multi_perform(m, &running);
		if (running)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	}
	for (int i = 0; i < n; i++) {
		out[i] = 0;
		curl_easy_getinfo(e[i], CURLINFO_RESPONSE_CODE, &out[i]);
		curl_multi_remove_handle(m, e[i]);
		curl_easy_cleanup(e[i]);
	}
	curl_slist_free_all(h);
	curl_multi_cleanup(m);
}

/* Replays of one job at the same moment: exactly one happens. */
static void test_concurrent_replays_one_wins(void **state)
{
	struct fixture *f = *state = fixture_new();
	enum {
		N = 8
	};
	for (int round = 0; round < 3; round++) {
		char cluster[16];
		snprintf(cluster, sizeof(cluster), "c%d", round);
		int64_t id = submit_job(&f->d, "test", cluster,
					"{\"plan\": {\"verify\": [\"fail\", \"next\"]}}");
		json_decref(wait_failed(f, id));
		char path[64];
		snprintf(path, sizeof(path), "/api/v1/jobs/%lld/replay", (long long)id);
		long st[N];
		parallel_posts(&f->d, path, "{\"reason\": \"all at once\"}", N, st);
		int accepted = 0, conflicts = 0;
		for (int i = 0; i < N; i++) {
			accepted += st[i] == 202;
			conflicts += st[i] == 409;
		}
		assert_int_equal(accepted, 1);
		assert_int_equal(conflicts, N - 1);
		assert_int_equal(count_events(f, id, "replay"), 1);
		json_t *job = wait_job_done(&f->d, id, 20000);
		assert_non_null(job);
		assert_string_equal(jstr(job, "status"), "succeeded");
		json_decref(job);
	}
}

/*
 * A replayed job takes a new place in its cluster's queue: it does not run
 * while another job of its cluster runs, and it runs after those queued
 * before the replay.
 */
static void test_replayed_job_waits_for_its_cluster(void **state)
{
	struct fixture *f = *state = fixture_new();
	char path[128];
	block_file(path, sizeof(path), "order");
	int64_t a = submit_progress(f, "logs", path, NULL);
	json_decref(wait_failed(f, a));
	assert_int_equal(unlink(path), 0);
	int64_t b =
		submit_job(&f->d, "test", "logs", "{\"plan\": {\"prepare\": [\"sleep:1500\"]}}");
	int64_t c = submit_job(&f->d, "test", "logs", NULL);
	json_decref(wait_job_status(&f->d, b, "running", 10000));

	struct http_resp r;
	act(&f->d, a, "replay", "{\"reason\": \"after the others\"}", NULL, &r);
	assert_int_equal(r.status, 202);
	http_resp_free(&r);
	json_t *ja = wait_job_done(&f->d, a, 20000);
	assert_non_null(ja);
	assert_string_equal(jstr(ja, "status"), "succeeded");
	json_decref(ja);
	json_decref(wait_job_done(&f->d, c, 20000));

	char sa[24], sb[24], sc[24];
	snprintf(sa, sizeof(sa), "%lld", (long long)a);
	snprintf(sb, sizeof(sb), "%lld", (long long)b);
	snprintf(sc, sizeof(sc), "%lld", (long long)c);
	const char *q[] = {sa, sb, sc};
	/* a ran again only after b and c had finished, and its queue place says so. */
	assert_int_equal(
		sql_int(f->sql,
			"SELECT count(*) FROM jobs a, jobs b, jobs c"
			" WHERE a.id = $1 AND b.id = $2 AND c.id = $3"
			" AND a.queue_seq > c.queue_seq AND c.queue_seq > b.queue_seq"
			" AND a.started_at >= b.finished_at AND a.started_at >= c.finished_at"
			" AND b.status = 'succeeded' AND c.status = 'succeeded'",
			3, q),
		1);
	/* And no state of its second run began before c had finished. */
	const char *q2[] = {sa, sc};
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM job_events e, jobs c WHERE e.job_id = $1"
				 " AND c.id = $2 AND e.worker IS NOT NULL"
				 " AND e.id > (SELECT id FROM job_events WHERE job_id = $1"
				 "  AND outcome = 'replay') AND e.started_at < c.finished_at",
				 2, q2),
			 0);
}

/* The state starts over: its attempts, and its deadline. */
static void test_replay_restarts_attempts_and_deadline(void **state)
{
	struct fixture *f = *state = fixture_new();
	/* No cleanup chain: the job ends with its attempt counter at the limit (5). */
	int64_t id = submit_job(&f->d, "test_noop", "logs", "{\"plan\": {\"s2\": [\"retry\"]}}");
	json_t *job = wait_failed(f, id);
	assert_non_null(strstr(jstr(job, "error"), "gave up after 5 attempts"));
	assert_int_equal(json_integer_value(json_object_get(job, "attempt")), 5);
	json_decref(job);
	assert_int_equal(count_events(f, id, "retry"), 4);
	struct http_resp r;
	act(&f->d, id, "replay", "{\"reason\": \"one more round\"}", NULL, &r);
	assert_int_equal(r.status, 202);
	assert_string_equal(jstr(r.body, "state"), "s2");
	assert_int_equal(json_integer_value(json_object_get(r.body, "attempt")), 1);
	http_resp_free(&r);
	job = wait_failed(f, id);
	assert_non_null(strstr(jstr(job, "error"), "gave up after 5 attempts"));
	json_decref(job);
	/* Five attempts again, not one: the counter started over. */
	assert_int_equal(count_events(f, id, "retry"), 8);

	/* slow has 2 seconds; after the replay it gets 2 seconds again. */
	int64_t d = submit_job(&f->d, "test_deadline", "other",
			       "{\"plan\": {\"slow\": [\"wait:200\"]}}");
	job = wait_failed(f, d);
	assert_non_null(strstr(jstr(job, "error"), "deadline of 2s"));
	json_decref(job);
	long long waits = count_events(f, d, "wait");
	act(&f->d, d, "replay", "{\"reason\": \"give it time\"}", NULL, &r);
	assert_int_equal(r.status, 202);
	http_resp_free(&r);
	job = wait_failed(f, d);
	/* It ran and waited again, rather than failing at once as past its deadline. */
	assert_non_null(strstr(jstr(job, "error"), "deadline of 2s"));
	json_decref(job);
	assert_true(count_events(f, d, "wait") > waits);
}

/* The workflows as graphs, for the viewer and esaasctl. */
static void test_workflow_graphs(void **state)
{
	struct fixture *f = *state = fixture_new();
	struct http_resp r;
	assert_true(http_call(&f->d, "GET", "/api/v1/workflows", NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	json_t *list = json_object_get(r.body, "workflows");
	const char *want[] = {"create", "scale", "restart",	 "config_update",
			      "delete", "test",	 "test_progress"};
	for (size_t k = 0; k < ARRAY_SIZE(want); k++) {
		bool found = false;
		size_t i;
		json_t *wf;
		json_array_foreach (list, i, wf)
			if (strcmp(jstr(wf, "kind"), want[k]) == 0) {
				found = true;
				assert_true(json_is_array(json_object_get(wf, "states")));
			}
		if (!found)
			fprintf(stderr, "workflow %s not listed\n", want[k]);
		assert_true(found);
	}
	http_resp_free(&r);

	assert_true(http_call(&f->d, "GET", "/api/v1/workflows/test_progress", NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	json_t *expected = json_loads(
		"{\"kind\": \"test_progress\", \"start\": \"start\", \"cleanup\": \"undo\", "
		"\"states\": ["
		"{\"name\": \"start\", \"next\": \"step\", \"branches\": [], \"deadline_s\": 60,"
		" \"max_attempts\": 0, \"replay_safe\": true, \"pause_safe\": false,"
		" \"cleanup\": false},"
		"{\"name\": \"step\", \"next\": \"commit\","
		" \"branches\": [{\"label\": \"more\", \"to\": \"step\"}], \"deadline_s\": 60,"
		" \"max_attempts\": 0, \"replay_safe\": true, \"pause_safe\": false,"
		" \"cleanup\": false},"
		"{\"name\": \"commit\", \"next\": null, \"branches\": [], \"deadline_s\": 60,"
		" \"max_attempts\": 0, \"replay_safe\": false, \"pause_safe\": false,"
		" \"cleanup\": false},"
		"{\"name\": \"undo\", \"next\": null, \"branches\": [], \"deadline_s\": 60,"
		" \"max_attempts\": 0, \"replay_safe\": false, \"pause_safe\": false,"
		" \"cleanup\": true}]}",
		0, NULL);
	assert_non_null(expected);
	if (!json_equal(expected, r.body))
		fprintf(stderr, "got %s\n", r.raw);
	assert_true(json_equal(expected, r.body));
	json_decref(expected);
	http_resp_free(&r);

	/* A shipped one: its cleanup chain is never a place to replay from. */
	assert_true(http_call(&f->d, "GET", "/api/v1/workflows/restart", NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.body, "start"), "restart_plan");
	assert_string_equal(jstr(r.body, "cleanup"), "undo_allocation");
	size_t i;
	json_t *st;
	int safe = 0;
	json_array_foreach (json_object_get(r.body, "states"), i, st) {
		bool cleanup = json_is_true(json_object_get(st, "cleanup"));
		assert_int_equal(cleanup, strcmp(jstr(st, "name"), "undo_allocation") == 0);
		if (cleanup)
			assert_false(json_is_true(json_object_get(st, "replay_safe")));
		safe += json_is_true(json_object_get(st, "replay_safe"));
		/* A pause stops it between two pods only. */
		assert_int_equal(json_is_true(json_object_get(st, "pause_safe")),
				 strcmp(jstr(st, "name"), "restart_next") == 0);
	}
	assert_true(safe > 0);
	http_resp_free(&r);

	/* scale's plan goes on only by its branches, each one drawn. */
	assert_true(http_call(&f->d, "GET", "/api/v1/workflows/scale", NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	json_t *plan = json_array_get(json_object_get(r.body, "states"), 0);
	assert_string_equal(jstr(plan, "name"), "plan");
	assert_true(json_is_null(json_object_get(plan, "next")));
	json_t *br = json_object_get(plan, "branches");
	assert_int_equal(json_array_size(br), 9);
	const char *targets[] = {"wait_green",	       "check_copies",	   "exclude_nodes",
				 "raise_quota",	       "http_to_data",	   "zen1_grow_config",
				 "zen1_shrink_config", "zen2_grow_config", "zen2_shrink_config"};
	for (size_t k = 0; k < ARRAY_SIZE(targets); k++)
		assert_string_equal(jstr(json_array_get(br, k), "to"), targets[k]);
	http_resp_free(&r);

	assert_true(http_call(&f->d, "GET", "/api/v1/workflows/teleport", NULL, NULL, &r));
	assert_error(&r, 404, "not_found", NULL, "no workflow named \"teleport\"");
	http_resp_free(&r);
	assert_true(http_call(&f->d, "POST", "/api/v1/workflows/test", "{}", NULL, &r));
	assert_int_equal(r.status, 405);
	http_resp_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_replay_from_the_failed_state_keeps_the_context,
					  teardown),
		cmocka_unit_test_teardown(test_replay_from_a_chosen_state, teardown),
		cmocka_unit_test_teardown(test_replay_from_an_unsafe_state_is_refused, teardown),
		cmocka_unit_test_teardown(test_replay_after_the_cleanup_failed, teardown),
		cmocka_unit_test_teardown(test_replay_a_cancelled_job, teardown),
		cmocka_unit_test_teardown(test_replay_a_job_cancelled_while_queued, teardown),
		cmocka_unit_test_teardown(test_reason_is_required, teardown),
		cmocka_unit_test_teardown(test_replay_needs_a_failed_or_cancelled_job, teardown),
		cmocka_unit_test_teardown(test_cancel_records_actor_and_reason, teardown),
		cmocka_unit_test_teardown(test_concurrent_replays_one_wins, teardown),
		cmocka_unit_test_teardown(test_replayed_job_waits_for_its_cluster, teardown),
		cmocka_unit_test_teardown(test_replay_restarts_attempts_and_deadline, teardown),
		cmocka_unit_test_teardown(test_workflow_graphs, teardown),
	};
	/* ESAAS_TEST_FILTER=test_replay_* runs a subset. */
	const char *filter = getenv("ESAAS_TEST_FILTER");
	if (filter && *filter)
		cmocka_set_test_filter(filter);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
