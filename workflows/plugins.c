/*
 * plugin_install, plugin_remove: one plugin more or less on every node.
 *
 *   the plugin's file in the repository (HEAD; install only)
 *   → every StatefulSet's template with the new plugin list (OnDelete: no
 *     pod restarts by itself)
 *   → the safe rolling restart, as restart does: each node's init
 *     container installs what is listed and removes what is not
 *   → _cat/plugins: every node lists the plugin (or none does any more)
 *   → the new spec recorded
 *
 * The API has checked the plugin against the version and put the new list
 * in the spec the job carries (params.spec).  A job that fails part-way
 * leaves the templates as they are: a replay goes on with the nodes not yet
 * restarted, and the cluster's recorded spec changes only at the end.
 */
#include "workflows/workflows.h"
#include "common/json.h"
#include "workflows/restart.h"
#include "states/states.h"
#include "workflows/request.h"
#include "kube/spec.h"
#include "common/config.h"
#include "states/env.h"

#include <stdlib.h>
#include <string.h>

/* clang-format off */
#define PLUGIN_STATES                                                                              \
	{.name = "check_repository", .run = state_plugin_check_repository, .deadline_s = 120,      \
	 .next = "apply_workloads", .replay_safe = true},                                          \
	{.name = "apply_workloads", .run = state_apply_workloads, .deadline_s = 120,               \
	 .next = "restart_plan", .replay_safe = true},                                             \
	WF_ROLLING_RESTART("verify_plugins"),                                                      \
	{.name = "verify_plugins", .run = state_plugin_verify, .deadline_s = 600,                  \
	 .next = "record_spec", .replay_safe = true},                                              \
	{.name = "record_spec", .run = state_record_spec, .deadline_s = 60, .replay_safe = true},  \
	/* cleanup, after a failure or a cancel */                                                 \
	{.name = "undo_allocation", .run = state_restart_resume_allocation, .deadline_s = 300}
/* clang-format on */

static const struct wf_state install_states[] = {PLUGIN_STATES};
static const struct wf_state remove_states[] = {PLUGIN_STATES};

/* --- the request ------------------------------------------------------------------ */

/* {"name": "analysis-icu", "allow_yellow"?: bool} */
static bool install_request(const struct wf_request *rq, json_t **params, struct wf_refusal *why)
{
	static const char *const fields[] = {"name", "allow_yellow", NULL};
	const char *name = json_str(rq->body, "name");

	if (!wf_request_fields(rq->body, fields, why) || !wf_request_allow_yellow(rq->body, why))
		return false;
	if (!name || !name[0] || strlen(name) > 64)
		return wf_refuse(why, 422, "invalid", "name",
				 "name must be a plugin name such as \"analysis-icu\"");
	*params = json_pack("{s:s, s:s, s:b}", "plugin", name, "action", "install", "allow_yellow",
			    json_is_true(json_object_get(rq->body, "allow_yellow")));
	return true;
}

/* DELETE .../plugins/{plugin}; a body is optional ({"allow_yellow": bool}). */
static bool remove_request(const struct wf_request *rq, json_t **params, struct wf_refusal *why)
{
	static const char *const fields[] = {"allow_yellow", NULL};
	const char *plugin = json_str(rq->path, "plugin");

	if (!wf_request_fields(rq->body, fields, why) || !wf_request_allow_yellow(rq->body, why))
		return false;
	if (!plugin || !plugin[0] || strlen(plugin) > 64)
		return wf_refuse(why, 404, "not_found", NULL, "plugin not found");
	*params = json_pack("{s:s, s:s, s:b}", "plugin", plugin, "action", "remove", "allow_yellow",
			    json_is_true(json_object_get(rq->body, "allow_yellow")));
	return true;
}

/*
 * A plugin added to (or removed from) the stored spec: checked against the
 * cluster's version, and the job gets the new spec.  Installing one that is
 * listed already is a conflict; removing one that is not listed, not found.
 */
static bool plugin_prepare(json_t *record, json_t *params, struct wf_refusal *why)
{
	const char *plugin = json_str(params, "plugin");
	bool install = strcmp(json_str(params, "action"), "install") == 0;
	struct spec spec;
	struct spec_error serr;

	if (!wf_record_spec(record, &spec, why))
		return false;
	bool ok = !install || spec_check_plugin(plugin, &spec.version, "name", &serr);
	bool listed = false;
	for (size_t i = 0; i < spec.nplugins; i++)
		if (strcmp(spec.plugins[i], plugin) == 0)
			listed = true;
	spec_free(&spec);
	if (!ok)
		return wf_refuse(why, 422, "invalid", "name", "%s", serr.message);
	if (install && listed)
		return wf_refuse(why, 409, "conflict", "name", "plugin %s is already installed",
				 plugin);
	if (!install && !listed)
		return wf_refuse(why, 404, "not_found", NULL, "plugin %s is not installed", plugin);
	json_t *next = json_deep_copy(record);
	json_t *list = json_object_get(next, "plugins");
	if (!json_is_array(list)) {
		list = json_array();
		json_object_set_new(next, "plugins", list);
	}
	if (install) {
		json_array_append_new(list, json_string(plugin));
	} else {
		for (size_t i = json_array_size(list); i-- > 0;)
			if (strcmp(json_string_value(json_array_get(list, i)), plugin) == 0)
				json_array_remove(list, i);
	}
	json_object_set_new(params, "spec", next);
	return true;
}

/* --- what uses a plugin ------------------------------------------------------------ */

/*
 * What a plugin brings that an index or the node settings may use: every
 * node's init container deletes the plugins no longer listed, and then a
 * node cannot build an analyzer that names a missing component ("failed to
 * find tokenizer under name [icu_tokenizer]": the index's shards fail) nor
 * start with a client setting of a missing repository or discovery plugin
 * ("unknown setting"), nor parse mappings with a field type or a metadata
 * field of a missing mapper plugin, or an analyzer of a missing analysis
 * plugin ("No handler for type [murmur3] declared on field [h]").  The
 * names from each plugin's page:
 * https://www.elastic.co/guide/en/elasticsearch/plugins/7.17/analysis.html,
 * repository-s3-client.html, repository-azure-usage.html,
 * repository-gcs-client.html, discovery-ec2-usage.html,
 * discovery-gce-usage.html, mapper-size-usage.html, mapper-murmur3-usage.html,
 * mapper-annotated-text-usage.html.
 */
static const struct {
	const char *plugin;
	const char *components[12]; /* analysis names, NULL-terminated */
	const char *settings[3];    /* node setting prefixes */
	const char *field_type;	    /* a mapping field type, or NULL */
	const char *meta_field;	    /* a mapping metadata field it enables, or NULL */
} plugin_uses[] = {
	{"analysis-icu",
	 {"icu_tokenizer", "icu_normalizer", "icu_folding", "icu_collation", "icu_transform",
	  "icu_analyzer", NULL},
	 {NULL},
	 NULL,
	 NULL},
	{"analysis-kuromoji",
	 {"kuromoji", "kuromoji_tokenizer", "kuromoji_baseform", "kuromoji_part_of_speech",
	  "kuromoji_readingform", "kuromoji_stemmer", "ja_stop", "kuromoji_iteration_mark",
	  "kuromoji_number", "kuromoji_completion", NULL},
	 {NULL},
	 NULL,
	 NULL},
	{"analysis-nori",
	 {"nori", "nori_tokenizer", "nori_part_of_speech", "nori_readingform", "nori_number", NULL},
	 {NULL},
	 NULL,
	 NULL},
	{"analysis-smartcn",
	 {"smartcn", "smartcn_tokenizer", "smartcn_stop", NULL},
	 {NULL},
	 NULL,
	 NULL},
	{"analysis-stempel", {"polish", "polish_stem", "polish_stop", NULL}, {NULL}, NULL, NULL},
	{"analysis-ukrainian", {"ukrainian", NULL}, {NULL}, NULL, NULL},
	{"analysis-phonetic", {"phonetic", NULL}, {NULL}, NULL, NULL},
	{"analysis-beider-morse", {"beider_morse", NULL}, {NULL}, NULL, NULL},
	{"repository-s3", {NULL}, {"s3.", NULL}, NULL, NULL},
	{"repository-azure", {NULL}, {"azure.", NULL}, NULL, NULL},
	{"repository-gcs", {NULL}, {"gcs.", NULL}, NULL, NULL},
	{"discovery-ec2", {NULL}, {"discovery.ec2.", "cloud.aws.", NULL}, NULL, NULL},
	{"discovery-gce", {NULL}, {"discovery.gce.", "cloud.gce.", NULL}, NULL, NULL},
	{"discovery-azure-classic", {NULL}, {"discovery.azure.", "cloud.azure.", NULL}, NULL, NULL},
	{"mapper-size", {NULL}, {NULL}, NULL, "_size"},
	{"mapper-murmur3", {NULL}, {NULL}, "murmur3", NULL},
	{"mapper-annotated-text", {NULL}, {NULL}, "annotated_text", NULL},
};

static int plugin_use_index(const char *plugin)
{
	for (size_t i = 0; i < sizeof(plugin_uses) / sizeof(plugin_uses[0]); i++)
		if (strcmp(plugin_uses[i].plugin, plugin) == 0)
			return (int)i;
	return -1;
}

/* The first string in v (objects and lists walked) that names one of the
 * plugin's components, or NULL. */
static const char *component_in(json_t *v, int p)
{
	const char *key;
	json_t *sub;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach (v, key, sub) {
			const char *c = component_in(sub, p);
			if (c)
				return c;
		}
		return NULL;
	}
	if (json_is_array(v)) {
		json_array_foreach (v, i, sub) {
			const char *c = component_in(sub, p);
			if (c)
				return c;
		}
		return NULL;
	}
	for (size_t k = 0; json_is_string(v) && plugin_uses[p].components[k]; k++)
		if (strcmp(json_string_value(v), plugin_uses[p].components[k]) == 0)
			return plugin_uses[p].components[k];
	return NULL;
}

/*
 * Where the mappings m (objects and lists walked) use plugin p: a field of
 * its type, its metadata field enabled, or one of its analysis components
 * as a field's analyzer or normalizer.  The path of the use
 * ("properties.title.analyzer") and what it uses, in *what; NULL when
 * none.
 */
static char *mapping_use(json_t *m, int p, const char *at, const char **what)
{
	static const char *const analyzer_keys[] = {"analyzer", "search_analyzer",
						    "search_quote_analyzer", "normalizer"};
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_array(m)) {
		json_array_foreach (m, i, v) {
			char *sub = xasprintf("%s[%zu]", at, i);
			char *found = mapping_use(v, p, sub, what);
			free(sub);
			if (found)
				return found;
		}
		return NULL;
	}
	json_object_foreach (m, key, v) {
		char *here = at[0] ? xasprintf("%s.%s", at, key) : xstrdup(key);
		const char *c = NULL;
		if (plugin_uses[p].meta_field && strcmp(key, plugin_uses[p].meta_field) == 0 &&
		    json_is_true(json_object_get(v, "enabled")))
			c = plugin_uses[p].meta_field;
		if (plugin_uses[p].field_type && strcmp(key, "type") == 0 && json_is_string(v) &&
		    strcmp(json_string_value(v), plugin_uses[p].field_type) == 0)
			c = plugin_uses[p].field_type;
		for (size_t k = 0; !c && json_is_string(v) && k < ARRAY_SIZE(analyzer_keys); k++)
			if (strcmp(key, analyzer_keys[k]) == 0)
				c = component_in(v, p);
		if (c) {
			*what = c;
			return here;
		}
		char *found = json_is_object(v) || json_is_array(v) ? mapping_use(v, p, here, what)
								    : NULL;
		free(here);
		if (found)
			return found;
	}
	return NULL;
}

struct remove_check {
	void (*done)(void *arg, const struct wf_refusal *why);
	void *arg;
	char *plugin;
	int use;
};

static void remove_indices_cb(void *arg, json_t *indices, const char *error)
{
	struct remove_check *p = arg;
	struct wf_refusal why = {0};
	const char *index;
	json_t *v;

	if (!indices)
		wf_refuse(&why, 503, "unavailable", NULL,
			  "cannot check that no index uses plugin %s: %s; retry", p->plugin, error);
	else
		json_object_foreach (indices, index, v) {
			json_t *analysis = json_object_get(
				json_object_get(json_object_get(v, "settings"), "index"),
				"analysis");
			const char *c = component_in(analysis, p->use);
			if (c) {
				wf_refuse(&why, 409, "conflict", "plugin",
					  "index %s uses %s of plugin %s in its analysis settings: "
					  "its shards cannot open on a node without the plugin; "
					  "delete or reindex it first",
					  index, c, p->plugin);
				break;
			}
			char *where = mapping_use(json_object_get(v, "mappings"), p->use, "", &c);
			if (where) {
				wf_refuse(&why, 409, "conflict", "plugin",
					  "index %s uses %s of plugin %s in its mappings (%s): its "
					  "shards cannot open on a node without the plugin; delete "
					  "or reindex it first",
					  index, c, p->plugin, where);
				free(where);
				break;
			}
		}
	p->done(p->arg, why.status ? &why : NULL);
	free(p->plugin);
	free(p);
}

/*
 * Before a plugin is removed: no node setting of the spec may belong to
 * it, and no index may use it, in its analysis settings or its mappings
 * (GET /_all, the get index API).
 */
static void remove_uses_check(void *env, const char *tenant, const char *ns, json_t *params,
			      void (*done)(void *arg, const struct wf_refusal *why), void *arg)
{
	const char *plugin = json_str(params, "plugin");
	int use = plugin ? plugin_use_index(plugin) : -1;
	json_t *spec = json_object_get(params, "spec");
	const char *key;
	json_t *v;

	/* The snapshot repository's own plugin on S3 (kube/render_s3.c): esaas
	 * installs it whatever the spec lists. */
	const struct wf_env *e = env;
	const char *version = json_str(spec, "version");
	struct es_version ver;
	char msg[768];
	if (plugin && !strcmp(plugin, "repository-s3") && e && e->cfg &&
	    e->cfg->snapshots_s3_bucket && version && es_version_parse(version, &ver) &&
	    !es_version_at_least(&ver, 8, 0, 0) &&
	    states_snapshots_ready(e->cfg, tenant, &ver, msg, sizeof(msg))) {
		struct wf_refusal why = {0};
		wf_refuse(&why, 409, "conflict", "plugin",
			  "plugin repository-s3 holds the cluster's snapshot repository on S3 "
			  "(snapshots.s3_bucket): esaas keeps it installed");
		done(arg, &why);
		return;
	}
	if (use < 0) {
		done(arg, NULL);
		return;
	}
	json_object_foreach (json_object_get(spec, "config"), key, v) {
		for (size_t k = 0; plugin_uses[use].settings[k]; k++) {
			const char *prefix = plugin_uses[use].settings[k];
			if (strncmp(key, prefix, strlen(prefix)) != 0)
				continue;
			struct wf_refusal why = {0};
			wf_refuse(&why, 409, "conflict", "plugin",
				  "setting %s of the cluster's config belongs to plugin %s: a node "
				  "without the plugin does not start with it; remove the setting "
				  "first",
				  key, plugin);
			done(arg, &why);
			return;
		}
	}
	if (!plugin_uses[use].components[0] && !plugin_uses[use].field_type &&
	    !plugin_uses[use].meta_field) {
		done(arg, NULL);
		return;
	}
	struct remove_check *p = xcalloc(1, sizeof(*p));
	p->done = done;
	p->arg = arg;
	p->plugin = xstrdup(plugin);
	p->use = use;
	states_read_indices(env, tenant, ns, spec, remove_indices_cb, p);
}

/* --- the plugin's file, before any pod needs it ------------------------------------- */

struct files_check {
	struct wf_precheck *pc;
	char *field;
};

/* Where the spec lists plugin: "plugins[i]"; NULL when it does not. */
static char *plugin_field(json_t *spec, const char *plugin)
{
	size_t i;
	json_t *v;
	json_array_foreach (json_object_get(spec, "plugins"), i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), plugin))
			return xasprintf("plugins[%zu]", i);
	return NULL;
}

static void files_checked(void *arg, const struct states_repo_answer *a)
{
	struct files_check *p = arg;
	struct wf_refusal why = {0};
	bool missing = a->url && (a->status == 404 || a->status == 410);
	/* The request's field: an install's "name", or the plugin's place in
	 * the create's list; none for what esaas adds itself (repository-s3
	 * for the snapshot repository). */
	char *field = p->field	  ? xstrdup(p->field)
		      : a->plugin ? plugin_field(json_object_get(p->pc->params, "spec"), a->plugin)
				  : NULL;
	const char *plugin = a->plugin ? a->plugin : "";

	if (!a->url && a->error)
		/* No repository configured, or a spec that does not parse
		 * (the request's checks have parsed it: not expected). */
		wf_refuse(&why, 409, "not_configured", field, "%s%s%s", a->error,
			  field ? "" : ": esaas installs repository-s3 for the cluster's snapshot ",
			  field ? "" : "repository on S3");
	else if (missing && field)
		wf_refuse(&why, 422, "invalid", field,
			  "plugin %s: the plugin repository has no %s (HEAD answered %ld), so no "
			  "node could install it",
			  plugin, a->url, a->status);
	else if (missing)
		wf_refuse(&why, 409, "not_configured", NULL,
			  "the plugin repository has no %s (HEAD answered %ld), which esaas "
			  "installs for the cluster's snapshot repository on S3: the operator "
			  "must put it there",
			  a->url, a->status);
	else if (a->url && !a->transient)
		wf_refuse(&why, 502, "upstream", field,
			  "the plugin repository refused HEAD %s: %s; no node could download "
			  "plugin %s from it",
			  a->url, a->error ? a->error : "error", plugin);
	else if (a->url)
		wf_warnf(p->pc->params, "the plugin repository could not be asked for %s (%s): %s",
			 a->url, a->error ? a->error : "no answer",
			 p->field ? "the job asks again before it changes anything"
				  : "should it still lack the file, the node's pod waits in "
				    "Init:CrashLoopBackOff and the create's wait says so");
	wf_precheck_end(p->pc, &why);
	free(field);
	free(p->field);
	free(p);
}

void wf_plugin_files_precheck(void *env, const char *tenant, json_t *params, const char *only,
			      const char *field,
			      void (*done)(void *arg, const struct wf_refusal *why), void *arg)
{
	struct files_check *p = xcalloc(1, sizeof(*p));
	p->pc = wf_precheck_new(env, tenant, NULL, params, done, arg);
	p->field = field ? xstrdup(field) : NULL;
	/* A precheck holds the request's answer: a few seconds at most. */
	(void)states_check_plugin_files(env, tenant, json_object_get(params, "spec"), only, 5000,
					files_checked, p);
}

/* --- the prechecks ------------------------------------------------------------------ */

/* After a first check: its refusal, or the disks of the nodes a rolling
 * restart takes (wf_rolling_disk_precheck). */
static void precheck_then_disks(struct wf_precheck *p, const struct wf_refusal *why,
				const char *what, const char *field)
{
	if (why) {
		wf_precheck_end(p, why);
		return;
	}
	wf_rolling_disk_precheck(p->env, p->tenant, p->ns, p->params, NULL, what, field, p->done,
				 p->arg);
	wf_precheck_free(p);
}

static void install_file_checked(void *arg, const struct wf_refusal *why)
{
	precheck_then_disks(arg, why, "the rolling restart that installs the plugin", "name");
}

/*
 * An installation: the plugin's file is in the repository
 * (wf_plugin_files_precheck); then, since it rolls every node, no data
 * node may be above the low disk watermark.
 */
static void plugin_install_precheck(void *env, const char *tenant, const char *ns, json_t *params,
				    void (*done)(void *arg, const struct wf_refusal *why),
				    void *arg)
{
	struct wf_precheck *p = wf_precheck_new(env, tenant, ns, params, done, arg);
	wf_plugin_files_precheck(env, tenant, params, json_str(params, "plugin"), "name",
				 install_file_checked, p);
}

static void remove_uses_checked(void *arg, const struct wf_refusal *why)
{
	precheck_then_disks(arg, why, "the rolling restart that removes the plugin", "plugin");
}

/* A removal: the plugin's own checks (remove_uses_check), then the disks,
 * as for an installation. */
static void plugin_remove_precheck(void *env, const char *tenant, const char *ns, json_t *params,
				   void (*done)(void *arg, const struct wf_refusal *why), void *arg)
{
	struct wf_precheck *p = wf_precheck_new(env, tenant, ns, params, done, arg);
	remove_uses_check(env, tenant, ns, params, remove_uses_checked, p);
}

/* --- the preview ------------------------------------------------------------------ */

static int plugin_choose(const struct wf_state *st, int visit, void *arg)
{
	return preview_rolling_choose(st, visit, *(const int *)arg);
}

/* Every node rolls, as restart does, with the new plugin list. */
static void plugin_preview(const struct workflow *wf, json_t *params, json_t *live, json_t *plan)
{
	json_t *all = json_pack("{s:O}", "spec", json_object_get(params, "spec"));
	json_t *pods = preview_rolling_pods(all, live);
	int n = (int)json_array_size(pods);

	json_object_set_new(plan, "states", wf_path(wf, plugin_choose, &n));
	json_object_set_new(plan, "pods", preview_pod_actions(pods, "restart"));
	json_decref(pods);
	json_decref(all);
}

static void plugin_install_preview(json_t *params, json_t *live, json_t *plan)
{
	plugin_preview(&wf_plugin_install, params, live, plan);
}

static void plugin_remove_preview(json_t *params, json_t *live, json_t *plan)
{
	plugin_preview(&wf_plugin_remove, params, live, plan);
}

const struct workflow wf_plugin_install = {
	.kind = "plugin_install",
	.states = install_states,
	.nstates = sizeof(install_states) / sizeof(install_states[0]),
	.cleanup = "undo_allocation",
	.request = install_request,
	.prepare = plugin_prepare,
	.precheck = plugin_install_precheck,
	.preview = plugin_install_preview,
	.disruptive = wf_always_disruptive,
};

const struct workflow wf_plugin_remove = {
	.kind = "plugin_remove",
	.states = remove_states,
	.nstates = sizeof(remove_states) / sizeof(remove_states[0]),
	.cleanup = "undo_allocation",
	.request = remove_request,
	.prepare = plugin_prepare,
	.precheck = plugin_remove_precheck,
	.preview = plugin_remove_preview,
	.disruptive = wf_always_disruptive,
};
