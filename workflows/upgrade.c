/*
 * upgrade: the cluster to another version of Elasticsearch.
 *
 *   every plugin's file for the target version in the repository (HEAD)
 *   → the target's elasticsearch.yml (ConfigMaps: 6.x's discovery.zen.*
 *     become 7.x's discovery.seed_hosts) and the StatefulSets' templates
 *     with the target's image (OnDelete: no pod restarts by itself)
 *   ─┬─ rolling (within a major, 5.6→6.x, 6.8→7.x, 7.17→8.x, 8.19→9.x;
 *    │  8.18→9.0.x): the safe rolling restart, as restart does, of the
 *    │  pods not yet on the target: data nodes first, then clients,
 *    │  masters last, the elected master very last (newer nodes join an
 *    │  older master, not always the other way round)
 *    └─ full cluster restart (2.x→5.x): allocation of replicas paused,
 *       flush, every node stopped, every node started on the new version,
 *       the masters formed and every node joined, every primary back from
 *       the disks (yellow), allocation back, green
 *   → Kibana at the target version → the new version recorded
 *
 * The API has checked the path (a path Elasticsearch refuses names the
 * release to pass through), the indices the target could not read, the
 * health, the data nodes' room under the low disk watermark, and the
 * target's spec (params.spec: the version and the image).
 * The cluster's recorded version changes only at the end, once every node
 * runs the target.  A cancel or a failure lifts the allocation pause and
 * says which nodes run which version: the nodes already upgraded stay so
 * (none goes back: a node refuses a data path a newer version wrote), with
 * the target's configuration and templates, and the same upgrade asked
 * again goes on with the others; when no node runs the target yet, the
 * configuration and templates go back to the recorded version's.
 *
 * A snapshot of every index is taken after the plugin check, before
 * anything changes (snapshot_repository, snapshot_take, snapshot_wait:
 * states/snapshot.c, named upgrade-JOBID), unless the request said
 * "snapshot": false; where snapshots are not configured, only a request
 * that asked for one is refused, the others go on without and say so in
 * the 202.
 */
#include "workflows/workflows.h"
#include "common/json.h"
#include "workflows/restart.h"
#include "states/states.h"
#include "workflows/request.h"
#include "kube/render.h"
#include "kube/spec.h"
#include "common/config.h"
#include "states/env.h"

#include <stdlib.h>
#include <string.h>

/* clang-format off */
static const struct wf_state upgrade_states[] = {
	{.name = "upgrade_check_plugins", .run = state_upgrade_check_plugins, .deadline_s = 120,
	 .next = "upgrade_snapshot_route", .replay_safe = true},
	{.name = "upgrade_snapshot_route", .run = state_upgrade_snapshot_route, .deadline_s = 60,
	 .next = "apply_config", .replay_safe = true,
	 WF_BRANCHES([UPGRADE_SNAPSHOT_TAKE] = {"a snapshot first", "snapshot_repository"})},
	{.name = "snapshot_repository", .run = state_snapshot_repository, .deadline_s = 120,
	 .next = "snapshot_take", .replay_safe = true},
	{.name = "snapshot_take", .run = state_snapshot_take, .deadline_s = 600,
	 .next = "snapshot_wait", .replay_safe = true},
	{.name = "snapshot_wait", .run = state_snapshot_wait, .deadline_s = 86400,
	 .next = "apply_config", .replay_safe = true},
	{.name = "apply_config", .run = state_apply_config, .deadline_s = 120,
	 .next = "apply_workloads", .replay_safe = true},
	{.name = "apply_workloads", .run = state_apply_workloads, .deadline_s = 120,
	 .next = "upgrade_route", .replay_safe = true},
	{.name = "upgrade_route", .run = state_upgrade_route, .deadline_s = 60,
	 .next = "restart_plan", .replay_safe = true,
	 WF_BRANCHES([UPGRADE_ROUTE_FULL_RESTART] = {"a full cluster restart", "full_pause"})},
	WF_ROLLING_RESTART("apply_kibana"),
	{.name = "full_pause", .run = state_restart_pause, .deadline_s = 120,
	 .next = "full_flush", .replay_safe = true},
	{.name = "full_flush", .run = state_restart_flush, .deadline_s = 300,
	 .next = "full_stop"},
	{.name = "full_stop", .run = state_upgrade_stop_all, .deadline_s = 300,
	 .next = "full_wait_started", .replay_safe = true},
	{.name = "full_wait_started", .run = state_upgrade_wait_started, .deadline_s = 900,
	 .next = "full_wait_formed", .replay_safe = true},
	{.name = "full_wait_formed", .run = state_wait_masters_formed, .deadline_s = 600,
	 .next = "full_wait_joined", .replay_safe = true},
	{.name = "full_wait_joined", .run = state_wait_joined, .deadline_s = 600,
	 .next = "full_wait_primaries", .replay_safe = true},
	{.name = "full_wait_primaries", .run = state_upgrade_wait_primaries, .deadline_s = 1800,
	 .next = "full_resume_allocation", .replay_safe = true},
	{.name = "full_resume_allocation", .run = state_restart_resume_allocation,
	 .deadline_s = 120, .next = "full_wait_green", .replay_safe = true},
	{.name = "full_wait_green", .run = state_wait_green, .deadline_s = 1800,
	 .next = "apply_kibana", .replay_safe = true},
	{.name = "apply_kibana", .run = state_apply_kibana, .deadline_s = 120,
	 .next = "wait_kibana", .replay_safe = true},
	{.name = "wait_kibana", .run = state_wait_kibana, .deadline_s = 600,
	 .next = "record_spec", .replay_safe = true},
	{.name = "record_spec", .run = state_record_spec, .deadline_s = 60, .replay_safe = true},
	/* cleanup, after a failure or a cancel */
	{.name = "undo_allocation", .run = state_restart_resume_allocation, .deadline_s = 300,
	 .next = "upgrade_undo_config"},
	{.name = "upgrade_undo_config", .run = state_upgrade_undo_config, .deadline_s = 300,
	 .next = "upgrade_undo_workloads"},
	{.name = "upgrade_undo_workloads", .run = state_upgrade_undo_workloads, .deadline_s = 120,
	 .next = "upgrade_report"},
	{.name = "upgrade_report", .run = state_upgrade_report, .deadline_s = 120},
};
/* clang-format on */

/* --- the request ------------------------------------------------------------------ */

/* {"version": "7.17.10", "snapshot"?: bool, "allow_yellow"?: bool} */
static bool upgrade_request(const struct wf_request *rq, json_t **params, struct wf_refusal *why)
{
	static const char *const fields[] = {"version", "snapshot", "allow_yellow", NULL};
	json_t *body = rq->body;
	json_t *version = json_object_get(body, "version");
	json_t *snapshot = json_object_get(body, "snapshot");
	struct es_version v;
	char unsupported[160];

	if (!wf_request_fields(body, fields, why) || !wf_request_allow_yellow(body, why))
		return false;
	if (!json_is_string(version) || !es_version_parse(json_string_value(version), &v))
		return wf_refuse(why, 422, "invalid", "version",
				 "version must be a release such as \"7.17.10\"");
	if (!es_version_supported(&v, unsupported, sizeof(unsupported)))
		return wf_refuse(why, 422, "invalid", "version", "%s", unsupported);
	if (snapshot && !json_is_boolean(snapshot))
		return wf_refuse(why, 422, "invalid", "snapshot", "snapshot must be true or false");
	*params = json_pack("{s:O, s:b}", "version", version, "allow_yellow",
			    json_is_true(json_object_get(body, "allow_yellow")));
	/* Left out: decided by the precheck, from the configuration. */
	if (snapshot)
		json_object_set(*params, "snapshot", snapshot);
	return true;
}

/*
 * The path from the recorded version, as Elasticsearch allows it, and the
 * spec at the target: its version, no image of the old one (the target's
 * comes from kubernetes.allowed_images or the default), every plugin and
 * setting checked against the target.
 */
static bool upgrade_prepare(json_t *record, json_t *params, struct wf_refusal *why)
{
	struct spec spec;
	struct spec_error serr;
	struct es_version to;
	char via[ES_VERSION_BUFSIZE], reason[300], from[ES_VERSION_BUFSIZE];

	if (!wf_record_spec(record, &spec, why))
		return false;
	if (!es_version_parse(json_str(params, "version"), &to)) {
		spec_free(&spec);
		return wf_refuse(why, 422, "invalid", "version", "version is not a release");
	}
	es_version_format(&spec.version, from, sizeof(from));
	enum es_upgrade_way way = es_upgrade_way(&spec.version, &to, via, reason, sizeof(reason));
	spec_free(&spec);
	/* A path too long names the release between (via) in the reason. */
	if (way == ES_UPGRADE_REFUSED)
		return wf_refuse(why, 422, "invalid", "version", "%s", reason);
	json_t *next = json_deep_copy(record);
	json_object_set(next, "version", json_object_get(params, "version"));
	json_object_del(next, "image");
	if (!spec_parse(next, &spec, &serr)) {
		json_decref(next);
		return wf_refuse(why, 422, "invalid", "version",
				 "Elasticsearch %s refuses the spec: %s: %s",
				 json_str(params, "version"), serr.field, serr.message);
	}
	spec_free(&spec);
	json_object_set_new(params, "from", json_string(from));
	json_object_set_new(
		params, "way",
		json_string(way == ES_UPGRADE_FULL_RESTART ? "full_restart" : "rolling"));
	json_object_set(params, "previous_spec", record);
	json_object_set_new(params, "spec", next);
	return true;
}

/* --- the precheck ----------------------------------------------------------------- */

static void upgrade_warn_all(json_t *params, json_t *texts)
{
	size_t i;
	json_t *t;
	json_array_foreach (texts, i, t)
		wf_warnf(params, "%s", json_string_value(t));
}

/* One issue of the deprecation info API as a line: "where: message (details)". */
static char *issue_line(const char *where, json_t *issue)
{
	const char *details = json_str(issue, "details");
	return xasprintf("%s: %s%s%s%s", where,
			 json_str(issue, "message") ? json_str(issue, "message") : "?",
			 details ? " (" : "", details ? details : "", details ? ")" : "");
}

/* Each issue of one section (a list, or an object of lists by index) into
 * critical or warnings by its level. */
static void sort_issues(const char *section, json_t *v, json_t *critical, json_t *warnings)
{
	size_t i;
	json_t *issue;
	const char *key;
	json_t *list;

	if (json_is_object(v)) {
		json_object_foreach (v, key, list) {
			char *where = xasprintf("index %s", key);
			sort_issues(where, list, critical, warnings);
			free(where);
		}
		return;
	}
	json_array_foreach (v, i, issue) {
		const char *level = json_str(issue, "level");
		char *line = issue_line(section, issue);
		json_array_append_new(level && strcmp(level, "critical") == 0 ? critical : warnings,
				      json_string(line));
		free(line);
	}
}

/*
 * What Elasticsearch itself says must change before the next major (the
 * deprecation info API, where the version has it): a critical issue
 * refuses the upgrade, naming each; the others are warnings in the 202.
 * An answer that cannot be read is a warning too: the index check above
 * has already run.
 */
static void upgrade_deprecations_cb(void *arg, json_t *answer, const char *error)
{
	struct wf_precheck *p = arg;
	struct wf_refusal why = {0};
	json_t *critical = json_array(), *warnings = json_array();
	const char *section;
	json_t *v;

	if (!answer) {
		char *w = xasprintf("the deprecation info API could not be read (%s): nothing it "
				    "would report was checked",
				    error ? error : "no answer");
		json_array_append_new(warnings, json_string(w));
		free(w);
	} else {
		json_object_foreach (answer, section, v)
			sort_issues(section, v, critical, warnings);
	}
	if (json_array_size(critical) > 0) {
		char *all = wf_joined(critical);
		wf_refuse(&why, 422, "invalid", "version",
			  "the deprecation info API reports %zu critical issue%s to resolve before "
			  "Elasticsearch %s: %s",
			  json_array_size(critical), json_array_size(critical) == 1 ? "" : "s",
			  json_str(p->params, "version"), all);
		free(all);
	} else if (json_array_size(warnings) > 0) {
		upgrade_warn_all(p->params, warnings);
	}
	json_decref(critical);
	json_decref(warnings);
	wf_precheck_end(p, &why);
}

/* Across majors only: the API describes what the next major needs. */
static void upgrade_deprecations(struct wf_precheck *p)
{
	json_t *base = json_object_get(p->params, "previous_spec");
	struct es_version from, to;
	const char *path = NULL;

	if (es_version_parse(json_str(p->params, "from"), &from) &&
	    es_version_parse(json_str(p->params, "version"), &to) && to.major > from.major)
		path = es_deprecations_path(&from, json_str(base, "image"));
	if (!path) {
		wf_precheck_end(p, NULL);
		return;
	}
	states_read_deprecations(p->env, p->tenant, p->ns, base, path, upgrade_deprecations_cb, p);
}

/* Whether settings.index.A (.B when given) of an index of GET /_all is
 * true: "true" as Elasticsearch writes it, or a boolean. */
static bool index_setting_true(json_t *index, const char *a, const char *b)
{
	json_t *v =
		json_object_get(json_object_get(json_object_get(index, "settings"), "index"), a);
	if (b)
		v = json_object_get(v, b);
	return json_is_true(v) || (json_is_string(v) && strcmp(json_string_value(v), "true") == 0);
}

/* names += ", index" */
static void add_name(char **names, const char *index)
{
	char *more = xasprintf("%s%s%s", *names ? *names : "", *names ? ", " : "", index);
	free(*names);
	*names = more;
}

/*
 * Every index must be one the target reads: created by its major or the
 * one before (2.x for 5.x); from 9.x also one two majors back that 8.18+
 * marked read-only (es_index_readable).  The others are named, all of
 * them, since each must be reindexed (or deleted, or on 8.19 marked
 * read-only) first
 * (https://www.elastic.co/guide/en/elasticsearch/reference/8.17/migrating-8.0.html,
 * .../7.17/setup-upgrade.html,
 * https://www.elastic.co/docs/deploy-manage/upgrade/prepare-to-upgrade).
 */
static void upgrade_indices_cb(void *arg, json_t *indices, const char *error)
{
	struct wf_precheck *p = arg;
	struct wf_refusal why = {0};
	struct es_version to, created;
	const char *index;
	json_t *v;

	if (!indices) {
		wf_refuse(&why, 503, "unavailable", NULL,
			  "cannot read the cluster's indices to check that Elasticsearch %s reads "
			  "them: %s; retry",
			  json_str(p->params, "version"), error);
		wf_precheck_end(p, &why);
		return;
	}
	if (!es_version_parse(json_str(p->params, "version"), &to)) {
		wf_precheck_end(p, NULL);
		return;
	}
	char *names = NULL, *ro_names = NULL;
	int n = 0, nro = 0, worst = to.major;
	json_object_foreach (indices, index, v) {
		const char *id = json_str(
			json_object_get(json_object_get(json_object_get(v, "settings"), "index"),
					"version"),
			"created");
		if (!es_version_from_id(id, &created))
			continue;
		bool blocked = index_setting_true(v, "blocks", "write") ||
			       index_setting_true(v, "blocks", "read_only");
		bool verified = index_setting_true(v, "verified_read_only", NULL);
		if (es_index_readable(&to, created.major, blocked, verified))
			continue;
		if (created.major == es_read_only_major(&to)) {
			add_name(&ro_names, index);
			nro++;
			continue;
		}
		add_name(&names, index);
		n++;
		if (created.major < worst)
			worst = created.major;
	}
	if (n > 0)
		wf_refuse(&why, 422, "invalid", "version",
			  "Elasticsearch %s cannot read %s created by %d.x: %s; reindex %s on %d.x "
			  "(or delete %s) before upgrading",
			  json_str(p->params, "version"), n == 1 ? "an index" : "indices", worst,
			  names, n == 1 ? "it" : "them", to.major - 1, n == 1 ? "it" : "them");
	else if (nro > 0)
		wf_refuse(&why, 422, "invalid", "version",
			  "Elasticsearch %s reads %s created by %d.x only once marked read-only: "
			  "%s; mark %s read-only (PUT /<index>/_block/write), reindex %s on %d.x "
			  "or delete %s before upgrading",
			  json_str(p->params, "version"), nro == 1 ? "an index" : "indices",
			  es_read_only_major(&to), ro_names, nro == 1 ? "it" : "them",
			  nro == 1 ? "it" : "them", to.major - 1, nro == 1 ? "it" : "them");
	free(names);
	free(ro_names);
	if (why.status) {
		wf_precheck_end(p, &why);
		return;
	}
	upgrade_deprecations(p);
}

/*
 * Every data node restarts: none may be above the low disk watermark,
 * where its replicas would stay unassigned after its restart and the
 * rolling upgrade would wait for green for ever (wf_disk_headroom).
 */
static void upgrade_disk_cb(void *arg, json_t *report, const char *error)
{
	struct wf_precheck *p = arg;
	struct wf_refusal why = {0};

	if (!wf_disk_headroom(report, error, "the upgrade", "version", true, p->params, &why)) {
		wf_precheck_end(p, &why);
		return;
	}
	states_read_indices(p->env, p->tenant, p->ns, json_object_get(p->params, "previous_spec"),
			    upgrade_indices_cb, p);
}

/*
 * Not red: a primary unassigned is data out of reach, which no node should
 * restart over.  Yellow (replicas still recovering) is for the rolling
 * restart's own gate to wait out before the first node, saying so.
 */
static void upgrade_live_cb(void *arg, json_t *live)
{
	struct wf_precheck *p = arg;
	struct wf_refusal why = {0};
	json_t *health = json_object_get(live, "health");
	const char *status = json_str(health, "status");

	if (!status) {
		json_t *errors = json_object_get(live, "errors");
		wf_refuse(&why, 503, "unavailable", NULL,
			  "cannot read the cluster's health before the upgrade: %s; retry",
			  json_string_value(json_array_get(errors, 0))
				  ? json_string_value(json_array_get(errors, 0))
				  : "no answer");
		wf_precheck_end(p, &why);
		return;
	}
	if (strcmp(status, "red") == 0) {
		wf_refuse(&why, 422, "invalid", "version",
			  "the cluster is red (%lld unassigned shards, a primary among them): an "
			  "upgrade starts once every primary is assigned",
			  (long long)json_integer_value(
				  json_object_get(health, "unassigned_shards")));
		wf_precheck_end(p, &why);
		return;
	}
	states_read_disk(p->env, p->tenant, p->ns, json_object_get(p->params, "previous_spec"),
			 NULL, upgrade_disk_cb, p);
}

/* Before anything changes: the health, the data nodes' disk headroom, then
 * every index readable by the target. */
static void upgrade_precheck(void *env, const char *tenant, const char *ns, json_t *params,
			     void (*done)(void *arg, const struct wf_refusal *why), void *arg)
{
	const struct wf_env *e = env;
	json_t *snapshot = json_object_get(params, "snapshot");
	struct es_version v;
	const char *version = json_str(json_object_get(params, "previous_spec"), "version");
	bool have_version = version && es_version_parse(version, &v);
	char msg[768];
	if (!states_snapshots_ready(e ? e->cfg : NULL, tenant, have_version ? &v : NULL, msg,
				    sizeof(msg))) {
		if (json_is_true(snapshot)) {
			struct wf_refusal why = {0};
			wf_refuse(&why, 409, "not_configured", "snapshot",
				  "no snapshot can be taken first: %s; ask with \"snapshot\": "
				  "false to upgrade without one",
				  msg);
			done(arg, &why);
			return;
		}
		if (!snapshot)
			wf_warnf(params, "no snapshot is taken first: %s", msg);
		json_object_set_new(params, "snapshot", json_false());
	} else if (!snapshot) {
		json_object_set_new(params, "snapshot", json_true());
	}
	struct wf_precheck *p = wf_precheck_new(env, tenant, ns, params, done, arg);
	states_read_live(env, tenant, ns, json_object_get(params, "previous_spec"), upgrade_live_cb,
			 p);
}

/* --- the preview ------------------------------------------------------------------ */

struct upgrade_path {
	bool full;
	bool snapshot;
	int npods;
};

static int upgrade_choose(const struct wf_state *st, int visit, void *arg)
{
	const struct upgrade_path *p = arg;
	if (st->run == state_upgrade_route)
		return p->full ? UPGRADE_ROUTE_FULL_RESTART : -1;
	if (st->run == state_upgrade_snapshot_route)
		return p->snapshot ? UPGRADE_SNAPSHOT_TAKE : -1;
	return preview_rolling_choose(st, visit, p->npods);
}

/* The pods not yet on the target, in the order they go; the way. */
static void upgrade_preview(json_t *params, json_t *live, json_t *plan)
{
	bool full = strcmp(json_str(params, "way"), "full_restart") == 0;
	json_t *pods = preview_rolling_pods(params, live);
	struct upgrade_path path = {full, json_is_true(json_object_get(params, "snapshot")),
				    (int)json_array_size(pods)};

	json_object_set_new(plan, "states", wf_path(&wf_upgrade, upgrade_choose, &path));
	json_object_set_new(plan, "pods", preview_pod_actions(pods, full ? "stop" : "upgrade"));
	json_object_set_new(
		plan, "upgrade",
		json_pack("{s:O, s:O, s:O, s:s}", "from", json_object_get(params, "from"), "to",
			  json_object_get(params, "version"), "way", json_object_get(params, "way"),
			  "order",
			  full ? "a full cluster restart: every node stops, then every node starts "
				 "on the new version (no node of the old major talks to one of "
				 "the new)"
			       : "one node at a time: data nodes, then clients, then the masters, "
				 "the elected master last"));
	json_decref(pods);
}

const struct workflow wf_upgrade = {
	.kind = "upgrade",
	.states = upgrade_states,
	.nstates = sizeof(upgrade_states) / sizeof(upgrade_states[0]),
	.cleanup = "undo_allocation",
	.request = upgrade_request,
	.prepare = upgrade_prepare,
	.precheck = upgrade_precheck,
	.preview = upgrade_preview,
	.disruptive = wf_always_disruptive,
};
