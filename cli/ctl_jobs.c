/*
 * The jobs commands: list, show, events, watch, replay, cancel; and
 * following a job to its end, which every command with --wait shares.
 *
 * Following polls the job's events and prints each one once, by its id:
 * the history only grows, so "every event after the last one printed" is
 * exactly what is new.  It stops when the newest event leaves the job
 * succeeded, failed or cancelled and the job itself says so (a replay in
 * between starts it again, and the watch goes on).
 */
#include "cli/ctl.h"
#include "common/json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Polling: quick while things move, slower while a state waits. */
#define POLL_MIN_MS 200
#define POLL_MAX_MS 1000
/* Events asked for at once (the API's most). */
#define EVENTS_PAGE 1000
/* How long a watch rides out esaasd being away (a restart, a rollout). */
#define OUTAGE_MAX_MS 60000
#define ERROR_COLUMN_MAX 60

enum follow_print {
	FOLLOW_LINES,	   /* one line per transition and a last line, for people */
	FOLLOW_JSON_LINES, /* each event as one line of JSON */
	FOLLOW_QUIET,	   /* nothing: the caller prints the job at the end */
};

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static long long num(json_t *obj, const char *key)
{
	return (long long)json_integer_value(json_object_get(obj, key));
}

static bool terminal(const char *status)
{
	return status && (strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0 ||
			  strcmp(status, "cancelled") == 0);
}

bool ctl_parse_job_id(const char *s, int64_t *id)
{
	return s[0] >= '0' && s[0] <= '9' && parse_int64(s, 1, INT64_MAX, id);
}

static bool job_id_arg(struct ctl *ctl, const char *s, int64_t *id)
{
	if (ctl_parse_job_id(s, id))
		return true;
	ctl_usage_error(ctl, "\"%s\" is not a job id: job ids are whole numbers, as in jobs list",
			s);
	return false;
}

/* GET path; the reply when it is 200, else the error shown and false. */
static bool get_ok(struct ctl *ctl, const char *path, struct ctl_reply *r, int *rc)
{
	if (!ctl_http_call(ctl->http, "GET", path, NULL, r)) {
		*rc = CTL_EXIT_API;
		return false;
	}
	if (r->status != 200 || !r->body) {
		*rc = ctl_report_error(r);
		ctl_reply_free(r);
		return false;
	}
	return true;
}

/*
 * A job's events whose id is above after, every page of them (the API
 * gives at most EVENTS_PAGE at a time): a new array, or NULL with *rc set.
 */
static json_t *events_after(struct ctl *ctl, int64_t id, int64_t after, int *rc)
{
	json_t *all = json_array();

	for (;;) {
		char *path = xasprintf("/api/v1/jobs/%lld/events?after=%lld&limit=%d",
				       (long long)id, (long long)after, EVENTS_PAGE);
		struct ctl_reply r;
		bool ok = get_ok(ctl, path, &r, rc);

		free(path);
		if (!ok) {
			json_decref(all);
			return NULL;
		}
		json_t *events = json_object_get(r.body, "events");
		json_t *next = json_object_get(r.body, "next_after");

		if (!json_is_array(events)) {
			fprintf(stderr, "esaasctl: the job's events are not a list\n");
			*rc = CTL_EXIT_API;
			ctl_reply_free(&r);
			json_decref(all);
			return NULL;
		}
		json_array_extend(all, events);
		/* A cursor that does not move on would loop for ever: stop there. */
		bool more = json_is_integer(next) && json_integer_value(next) > after;

		if (more)
			after = json_integer_value(next);
		ctl_reply_free(&r);
		if (!more)
			return all;
	}
}

/* "create of logs" and the like. */
static char *job_title(json_t *job)
{
	char *kind = ctl_printable(json_str(job, "kind"));
	char *cluster = ctl_printable(json_str(job, "cluster"));
	char *t = xasprintf("%s of %s", kind, cluster);

	free(kind);
	free(cluster);
	return t;
}

/* --- following a job ------------------------------------------------------ */

/* The state that ran, and where it led when it moved on: "a -> b". */
static char *transition_state(json_t *ev)
{
	const char *from = json_str(ev, "from_state");
	const char *to = json_str(ev, "to_state");
	char *s;

	if (from && to && strcmp(from, to) != 0)
		s = xasprintf("%s -> %s", from, to);
	else if (from)
		s = xstrdup(from);
	else
		s = xasprintf("-> %s", to ? to : "?");
	char *shown = ctl_printable(s);

	free(s);
	return shown;
}

/*
 * The event's detail for people; a wait that saw the same thing several
 * times says how many and until when (UTC, to the second).
 */
static char *event_detail(json_t *ev)
{
	char *detail = ctl_printable(json_str(ev, "detail"));
	long long polls = num(ev, "polls");
	const char *last = json_str(ev, "last_at");

	if (polls <= 1)
		return detail;
	char *s = xasprintf("%s%s(%lld polls, the last at %.8s)", detail, *detail ? " " : "", polls,
			    last && strlen(last) >= 19 ? last + 11 : "--:--:--");
	free(detail);
	return s;
}

static void print_transition(json_t *ev)
{
	const char *at = json_str(ev, "at");
	const char *outcome = json_str(ev, "outcome");
	char *state = transition_state(ev);
	char *detail = event_detail(ev);
	char *raw = xasprintf("%.40s/%lld", outcome ? outcome : "?", num(ev, "attempt"));
	char *o = ctl_printable(raw);
	char *line;
	size_t len;

	/* Times are UTC, to the second; jobs events has the dates. */
	line = xasprintf("%.8s  %-36s  %-14s  %s", at && strlen(at) >= 19 ? at + 11 : "--:--:--",
			 state, o, detail);
	free(raw);
	free(o);
	/* A transition without a message ends without blanks. */
	len = strlen(line);
	while (len > 0 && line[len - 1] == ' ')
		line[--len] = '\0';
	printf("%s\n", line);
	fflush(stdout);
	free(line);
	free(state);
	free(detail);
}

/*
 * A wait that saw what the wait before it saw ("2 of 3 pods ready", again
 * and again) is one line for people: only a change is printed.  prev holds
 * the last wait's state and message (free it); other outcomes reset it.
 */
static bool repeated_wait(json_t *ev, char **prev)
{
	const char *outcome = json_str(ev, "outcome");
	char *key;

	if (!outcome || strcmp(outcome, "wait") != 0) {
		free(*prev);
		*prev = NULL;
		return false;
	}
	key = xasprintf("%s\037%s", json_str(ev, "to_state") ? json_str(ev, "to_state") : "",
			json_str(ev, "detail") ? json_str(ev, "detail") : "");
	if (*prev && strcmp(*prev, key) == 0) {
		free(key);
		return true;
	}
	free(*prev);
	*prev = key;
	return false;
}

static void print_event_json(json_t *ev)
{
	char *s = json_dumps(ev, JSON_COMPACT);

	if (s)
		printf("%s\n", s);
	fflush(stdout);
	free(s);
}

static void print_ending(json_t *job)
{
	const char *status = json_str(job, "status");
	char *title = job_title(job);
	int64_t started, finished;
	char took[32] = "";

	if (ctl_parse_time(json_str(job, "started_at"), &started) &&
	    ctl_parse_time(json_str(job, "finished_at"), &finished)) {
		char d[24];

		ctl_format_age(finished - started, d, sizeof(d));
		snprintf(took, sizeof(took), " in %s", d);
	}
	if (status && strcmp(status, "failed") == 0) {
		char *state = ctl_printable(json_str(job, "failed_state"));
		char *error = ctl_printable(json_str(job, "error"));

		printf("job %lld (%s) failed%s at %s: %s\n", num(job, "id"), title, took,
		       *state ? state : "?", *error ? error : "no error recorded");
		free(state);
		free(error);
	} else {
		char *s = ctl_printable(status);

		printf("job %lld (%s) %s%s\n", num(job, "id"), title, s, took);
		free(s);
	}
	free(title);
	fflush(stdout);
}

/*
 * Ride out a short absence of esaasd: false once it has lasted too long.
 * *since is when the trouble started, 0 while all is well.
 */
static bool outage_tolerable(int64_t *since, const char *why)
{
	int64_t now = now_mono_ms();

	if (*since == 0) {
		*since = now;
		fprintf(stderr, "esaasctl: lost esaasd (%s); trying again for %ds\n", why,
			OUTAGE_MAX_MS / 1000);
	}
	return now - *since < OUTAGE_MAX_MS;
}

static int follow(struct ctl *ctl, int64_t id, int64_t after_id, enum follow_print print,
		  json_t **final)
{
	char *job_path = xasprintf("/api/v1/jobs/%lld", (long long)id);
	int64_t last = after_id, outage_since = 0;
	int delay = POLL_MIN_MS, rc = CTL_EXIT_API;
	char *prev_wait = NULL;

	for (;;) {
		struct ctl_reply r;
		char *why = NULL;
		bool moved = false;
		const char *newest_status = NULL;
		size_t i;
		json_t *ev, *events;
		/* Only what is new: a page after the last event printed. */
		char *events_path = xasprintf("/api/v1/jobs/%lld/events?after=%lld&limit=%d",
					      (long long)id, (long long)last, EVENTS_PAGE);
		bool answered = ctl_http_try(ctl->http, "GET", events_path, NULL, &r, &why);

		free(events_path);
		if (!answered) {
			bool go_on = outage_tolerable(&outage_since, why);

			if (!go_on)
				ctl_http_report_unreachable(ctl->http, why);
			free(why);
			if (!go_on)
				goto out;
			sleep_ms(POLL_MAX_MS);
			continue;
		}
		if (r.status == 502 || r.status == 503 || r.status == 504) {
			/* esaasd without its database, or a proxy without esaasd: later. */
			char *s = xasprintf("HTTP %ld", r.status);
			bool go_on = outage_tolerable(&outage_since, s);

			free(s);
			if (!go_on) {
				rc = ctl_report_error(&r);
				ctl_reply_free(&r);
				goto out;
			}
			ctl_reply_free(&r);
			sleep_ms(POLL_MAX_MS);
			continue;
		}
		if (r.status != 200 || !json_is_array(events = json_object_get(r.body, "events"))) {
			rc = ctl_report_error(&r);
			ctl_reply_free(&r);
			goto out;
		}
		if (outage_since)
			fprintf(stderr, "esaasctl: esaasd is back\n");
		outage_since = 0;
		json_array_foreach (events, i, ev) {
			int64_t eid = json_integer_value(json_object_get(ev, "id"));

			newest_status = json_str(ev, "status");
			if (eid <= last)
				continue;
			last = eid;
			moved = true;
			if (print == FOLLOW_LINES && !repeated_wait(ev, &prev_wait))
				print_transition(ev);
			else if (print == FOLLOW_JSON_LINES)
				print_event_json(ev);
		}
		/* A full page: more follow at once. */
		if (json_is_integer(json_object_get(r.body, "next_after")))
			moved = true;
		bool ended = terminal(newest_status);

		ctl_reply_free(&r);
		if (ended) {
			struct ctl_reply jr;

			if (!get_ok(ctl, job_path, &jr, &rc))
				goto out;
			const char *status = json_str(jr.body, "status");

			if (terminal(status)) {
				rc = strcmp(status, "succeeded") == 0 ? CTL_EXIT_OK
								      : CTL_EXIT_JOB_FAILED;
				if (print == FOLLOW_LINES)
					print_ending(jr.body);
				if (final)
					*final = json_incref(jr.body);
				ctl_reply_free(&jr);
				goto out;
			}
			/* Replayed since the event was read: follow the new run. */
			ctl_reply_free(&jr);
			moved = true;
		}
		delay = moved ? POLL_MIN_MS : delay * 3 / 2;
		if (delay > POLL_MAX_MS)
			delay = POLL_MAX_MS;
		sleep_ms(delay);
	}
out:
	free(prev_wait);
	free(job_path);
	return rc;
}

int ctl_jobs_follow(struct ctl *ctl, int64_t id, int64_t after_id)
{
	return follow(ctl, id, after_id,
		      ctl->output == CTL_OUTPUT_JSON ? FOLLOW_JSON_LINES : FOLLOW_LINES, NULL);
}

int ctl_jobs_accepted(struct ctl *ctl, const struct ctl_reply *r, bool wait, int64_t after_id)
{
	json_t *job = r->body;
	int64_t id = json_integer_value(json_object_get(job, "id"));

	if (r->status < 200 || r->status > 299)
		return ctl_report_error(r);
	if (id <= 0) {
		fprintf(stderr, "esaasctl: %ld: the answer has no job id\n", r->status);
		return CTL_EXIT_API;
	}
	/* What esaasd foresees (nodes that cannot place the request): said at
	 * once, on standard error, whatever the output format. */
	size_t i;
	json_t *w;
	json_array_foreach (json_object_get(job, "warnings"), i, w) {
		char *text = ctl_printable(json_string_value(w));
		fprintf(stderr, "esaasctl: warning: %s\n", text);
		free(text);
	}
	if (ctl->output == CTL_OUTPUT_JSON) {
		json_t *final = NULL;
		int rc = CTL_EXIT_OK;

		if (wait)
			rc = follow(ctl, id, after_id, FOLLOW_QUIET, &final);
		if (!wait || final)
			ctl_print_json(final ? final : job);
		json_decref(final);
		return rc;
	}
	char *title = job_title(job);
	char *status = ctl_printable(json_str(job, "status"));

	printf("job %lld: %s, %s\n", (long long)id, title, status);
	free(title);
	free(status);
	if (!wait) {
		printf("follow it with: esaasctl jobs watch %lld\n", (long long)id);
		return CTL_EXIT_OK;
	}
	fflush(stdout);
	return follow(ctl, id, after_id, FOLLOW_LINES, NULL);
}

/* --- jobs list -------------------------------------------------------------- */

static void add_query(char **q, const char *key, const char *value)
{
	char *v, *next;

	if (!value)
		return;
	v = ctl_http_escape(value);
	next = xasprintf("%s%c%s=%s", *q, strchr(*q, '?') ? '&' : '?', key, v);
	free(v);
	free(*q);
	*q = next;
}

static int jobs_list(struct ctl *ctl, const struct ctl_args *a)
{
	static const char *const headers[] = {"ID",	 "KIND", "CLUSTER", "STATUS", "STATE",
					      "ATTEMPT", "AGE",	 "ERROR",   NULL};
	char *path = xstrdup("/api/v1/jobs");
	struct ctl_reply r;
	int rc;

	add_query(&path, "status", ctl_args_get(a, "status"));
	add_query(&path, "cluster", ctl_args_get(a, "cluster"));
	add_query(&path, "kind", ctl_args_get(a, "kind"));
	add_query(&path, "limit", ctl_args_get(a, "limit"));
	add_query(&path, "cursor", ctl_args_get(a, "cursor"));
	bool ok = get_ok(ctl, path, &r, &rc);

	free(path);
	if (!ok)
		return rc;
	if (ctl->output == CTL_OUTPUT_JSON) {
		rc = ctl_print_json(r.body);
		ctl_reply_free(&r);
		return rc;
	}
	struct ctl_table *t = ctl_table_new(8, headers);
	int64_t now = now_wall_ms();
	size_t i;
	json_t *job;

	json_array_foreach (json_object_get(r.body, "jobs"), i, job) {
		int64_t created;
		char age[32] = "";
		char *error = ctl_abbrev(json_str(job, "error"), ERROR_COLUMN_MAX);

		if (ctl_parse_time(json_str(job, "created_at"), &created))
			ctl_format_age(now - created, age, sizeof(age));
		ctl_table_row(t);
		ctl_table_cellf(t, "%lld", num(job, "id"));
		ctl_table_cell(t, json_str(job, "kind"));
		ctl_table_cell(t, json_str(job, "cluster"));
		ctl_table_cell(t, json_str(job, "status"));
		ctl_table_cell(t, json_str(job, "state"));
		ctl_table_cellf(t, "%lld", num(job, "attempt"));
		ctl_table_cell(t, age);
		ctl_table_cell(t, error);
		free(error);
	}
	if (json_array_size(json_object_get(r.body, "jobs")) == 0)
		fprintf(stderr, "no jobs\n");
	else
		ctl_table_print(t, stdout);
	ctl_table_free(t);
	json_t *next = json_object_get(r.body, "next_cursor");

	if (json_is_integer(next))
		fprintf(stderr, "more: add --cursor %lld\n", (long long)json_integer_value(next));
	ctl_reply_free(&r);
	return CTL_EXIT_OK;
}

/* --- jobs show ------------------------------------------------------------------ */

static void kv(struct ctl_table *t, const char *key, const char *value)
{
	ctl_table_row(t);
	ctl_table_cell(t, key);
	ctl_table_cell(t, value);
}

static void kv_when(struct ctl_table *t, const char *key, const char *ts, int64_t now)
{
	char buf[96];

	ctl_format_when(ts, now, buf, sizeof(buf));
	kv(t, key, buf);
}

static int jobs_show(struct ctl *ctl, const struct ctl_args *a)
{
	struct ctl_reply r;
	int64_t id, now = now_wall_ms(), started, finished;
	int rc;

	if (!job_id_arg(ctl, a->pos[0], &id))
		return CTL_EXIT_USAGE;
	char *path = xasprintf("/api/v1/jobs/%lld", (long long)id);
	bool ok = get_ok(ctl, path, &r, &rc);

	free(path);
	if (!ok)
		return rc;
	if (ctl->output == CTL_OUTPUT_JSON) {
		rc = ctl_print_json(r.body);
		ctl_reply_free(&r);
		return rc;
	}
	json_t *job = r.body;
	const char *status = json_str(job, "status");
	struct ctl_table *t = ctl_table_new(2, NULL);
	char buf[64];

	snprintf(buf, sizeof(buf), "%lld", num(job, "id"));
	kv(t, "Job:", buf);
	kv(t, "Kind:", json_str(job, "kind"));
	kv(t, "Cluster:", json_str(job, "cluster"));
	kv(t, "Status:", status);
	kv(t, "State:", json_str(job, "state"));
	snprintf(buf, sizeof(buf), "%lld", num(job, "attempt"));
	kv(t, "Attempt:", buf);
	if (json_str(job, "failed_state"))
		kv(t, "Failed state:", json_str(job, "failed_state"));
	if (json_str(job, "error"))
		kv(t, "Error:", json_str(job, "error"));
	if (json_str(job, "observation"))
		kv(t, "Observation:", json_str(job, "observation"));
	if (json_is_true(json_object_get(job, "cancel_requested")))
		kv(t, "Cancel requested:", "yes");
	json_t *window = json_object_get(job, "window");
	if (json_is_false(json_object_get(window, "open"))) {
		char *w = xasprintf("waits for the maintenance window opening at %s (%s)",
				    json_str(window, "next_open"), json_str(window, "time_zone"));
		kv(t, "Window:", w);
		free(w);
	}
	if (json_str(job, "urgent_reason"))
		kv(t, "Urgent:", json_str(job, "urgent_reason"));
	kv(t, "Submitted by:", json_str(job, "submitted_by"));
	kv_when(t, "Created:", json_str(job, "created_at"), now);
	kv_when(t, "Started:", json_str(job, "started_at"), now);
	kv_when(t, "Finished:", json_str(job, "finished_at"), now);
	if (ctl_parse_time(json_str(job, "started_at"), &started) &&
	    ctl_parse_time(json_str(job, "finished_at"), &finished)) {
		ctl_format_age(finished - started, buf, sizeof(buf));
		kv(t, "Took:", buf);
	}
	/* The spec an operation carries is the cluster's: clusters show has it. */
	json_t *params = json_deep_copy(json_object_get(job, "params"));

	json_object_del(params, "spec");
	if (json_object_size(params) > 0) {
		char *p = json_dumps(params, JSON_COMPACT);

		kv(t, "Params:", p);
		free(p);
	}
	json_decref(params);
	ctl_table_print(t, stdout);
	ctl_table_free(t);
	printf("\nhistory: esaasctl jobs events %lld\n", num(job, "id"));
	if (status && (strcmp(status, "failed") == 0 || strcmp(status, "cancelled") == 0))
		printf("replay:  esaasctl jobs replay %lld [--from STATE] --reason TEXT\n",
		       num(job, "id"));
	ctl_reply_free(&r);
	return CTL_EXIT_OK;
}

/* --- jobs events ------------------------------------------------------------------ */

static int jobs_events(struct ctl *ctl, const struct ctl_args *a)
{
	static const char *const headers[] = {"ID",	"TIME",	    "STATE", "OUTCOME", "ATTEMPT",
					      "STATUS", "DURATION", "ACTOR", "DETAIL",	NULL};
	int64_t id;
	int rc;

	if (!job_id_arg(ctl, a->pos[0], &id))
		return CTL_EXIT_USAGE;
	json_t *events = events_after(ctl, id, 0, &rc);

	if (!events)
		return rc;
	if (ctl->output == CTL_OUTPUT_JSON) {
		json_t *all = json_pack("{s:o}", "events", events);

		rc = ctl_print_json(all);
		json_decref(all);
		return rc;
	}
	struct ctl_table *t = ctl_table_new(9, headers);
	size_t i;
	json_t *ev;

	json_array_foreach (events, i, ev) {
		const char *at = json_str(ev, "at");
		json_t *ms = json_object_get(ev, "duration_ms");
		char *state = transition_state(ev);
		char dur[32] = "";

		if (json_is_integer(ms))
			ctl_format_duration(json_integer_value(ms), dur, sizeof(dur));
		ctl_table_row(t);
		ctl_table_cellf(t, "%lld", num(ev, "id"));
		ctl_table_cellf(t, "%.19sZ", at ? at : "");
		ctl_table_cell(t, state);
		free(state);
		ctl_table_cell(t, json_str(ev, "outcome"));
		ctl_table_cellf(t, "%lld", num(ev, "attempt"));
		ctl_table_cell(t, json_str(ev, "status"));
		ctl_table_cell(t, dur);
		ctl_table_cell(t, json_str(ev, "actor"));
		char *detail = event_detail(ev);

		ctl_table_cell(t, detail);
		free(detail);
	}
	ctl_table_print(t, stdout);
	ctl_table_free(t);
	json_decref(events);
	return CTL_EXIT_OK;
}

/* --- jobs watch ------------------------------------------------------------------ */

static int jobs_watch(struct ctl *ctl, const struct ctl_args *a)
{
	int64_t id;

	if (!job_id_arg(ctl, a->pos[0], &id))
		return CTL_EXIT_USAGE;
	return ctl_jobs_follow(ctl, id, 0);
}

/* --- jobs replay, jobs cancel ------------------------------------------------------ */

/* The newest event's id, so that --wait shows only what the action causes. */
static bool newest_event(struct ctl *ctl, int64_t id, int64_t *newest, int *rc)
{
	json_t *events = events_after(ctl, id, 0, rc);
	size_t i;
	json_t *ev;

	if (!events)
		return false;
	*newest = 0;
	json_array_foreach (events, i, ev) {
		if (json_integer_value(json_object_get(ev, "id")) > *newest)
			*newest = json_integer_value(json_object_get(ev, "id"));
	}
	json_decref(events);
	return true;
}

static int job_action(struct ctl *ctl, const struct ctl_args *a, const char *action, json_t *body)
{
	bool wait = ctl_args_has(a, "wait");
	int64_t id, newest = 0;
	struct ctl_reply r;
	int rc;

	if (!job_id_arg(ctl, a->pos[0], &id)) {
		json_decref(body);
		return CTL_EXIT_USAGE;
	}
	if (wait && !newest_event(ctl, id, &newest, &rc)) {
		json_decref(body);
		return rc;
	}
	char *path = xasprintf("/api/v1/jobs/%lld/%s", (long long)id, action);
	bool ok = ctl_http_call(ctl->http, "POST", path, body, &r);

	free(path);
	json_decref(body);
	if (!ok)
		return CTL_EXIT_API;
	rc = ctl_jobs_accepted(ctl, &r, wait, newest);
	ctl_reply_free(&r);
	return rc;
}

static const char *reason_arg(struct ctl *ctl, const struct ctl_args *a)
{
	const char *reason = ctl_args_get(a, "reason");

	if (!reason || !*reason) {
		ctl_usage_error(ctl, "--reason is required: the job's history records why");
		return NULL;
	}
	return reason;
}

static int jobs_replay(struct ctl *ctl, const struct ctl_args *a)
{
	const char *reason = reason_arg(ctl, a);
	const char *from = ctl_args_get(a, "from");

	if (!reason)
		return CTL_EXIT_USAGE;
	json_t *body = json_pack("{s:s}", "reason", reason);

	if (from)
		json_object_set_new(body, "from_state", json_string(from));
	return job_action(ctl, a, "replay", body);
}

static int jobs_cancel(struct ctl *ctl, const struct ctl_args *a)
{
	const char *reason = reason_arg(ctl, a);

	if (!reason)
		return CTL_EXIT_USAGE;
	return job_action(ctl, a, "cancel", json_pack("{s:s}", "reason", reason));
}

/* --- the table ---------------------------------------------------------------------- */

static const struct ctl_flag list_flags[] = {
	{"status", 0, "STATUS",
	 "only jobs in this status: queued, running, waiting, cancelling, paused, succeeded, "
	 "failed, cancelled"},
	{"cluster", 0, "NAME", "only the jobs of this cluster"},
	{"kind", 0, "KIND", "only jobs of this kind: create, scale, restart, ..."},
	{"limit", 0, "N", "at most N jobs (default 50, at most 500)"},
	{"cursor", 0, "CURSOR", "the page after the one that said \"more: add --cursor CURSOR\""},
	{NULL, 0, NULL, NULL},
};

static const struct ctl_flag no_flags[] = {
	{NULL, 0, NULL, NULL},
};

static const struct ctl_flag replay_flags[] = {
	{"from", 0, "STATE",
	 "start at this state (default: the one that failed); it must be a safe re-entry point"},
	{"reason", 0, "TEXT", "why, for the job's history (required)"},
	{"wait", 0, NULL, "follow the job until it ends, as jobs watch does"},
	{NULL, 0, NULL, NULL},
};

static const struct ctl_flag cancel_flags[] = {
	{"reason", 0, "TEXT", "why, for the job's history (required)"},
	{"wait", 0, NULL,
	 "follow the job until its cleanup is done; like any waited-for job that does not "
	 "succeed, it exits 3"},
	{NULL, 0, NULL, NULL},
};

const struct ctl_command ctl_jobs_commands[] = {
	{"jobs list", "[--status STATUS] [--cluster NAME] [--kind KIND]", "list jobs, newest first",
	 NULL, list_flags, 0, 0, jobs_list},
	{"jobs show", "ID", "a job: its status, state, error and times",
	 "A failed job shows the state it failed in and its error.\n", no_flags, 1, 1, jobs_show},
	{"jobs events", "ID", "a job's history, oldest first",
	 "Every transition: which state ran, its outcome and attempt, who or which worker\n"
	 "acted, how long it took, and what was observed.  Times are UTC.\n",
	 no_flags, 1, 1, jobs_events},
	{"jobs watch", "ID", "follow a job until it ends, one line per transition",
	 "Each line: the time (UTC), the state (and where it led), the outcome and attempt,\n"
	 "and the message; a wait that saw just what the wait before it saw is not printed\n"
	 "again.  The watch ends when the job has succeeded (exit 0), failed or been\n"
	 "cancelled (exit 3).  With -o json each event is one line of JSON, every one.\n",
	 no_flags, 1, 1, jobs_watch},
	{"jobs replay", "ID [--from STATE] --reason TEXT [--wait]",
	 "run a failed or cancelled job again from its failed state",
	 "The job keeps its context, so a half-done rolling restart goes on where it\n"
	 "stopped.  Fix the cause first: jobs show says what it was.\n",
	 replay_flags, 1, 1, jobs_replay},
	{"jobs cancel", "ID --reason TEXT [--wait]", "cancel a job",
	 "A queued job is cancelled at once; a running one stops at its next state\n"
	 "boundary and runs its cleanup first.\n",
	 cancel_flags, 1, 1, jobs_cancel},
	{NULL, NULL, NULL, NULL, NULL, 0, 0, NULL},
};
