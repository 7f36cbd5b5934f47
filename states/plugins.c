/*
 * plugins: the file in the repository, the workloads with the new list,
 * and _cat/plugins on every node once they have restarted.
 */
#include "states/states.h"
#include "common/json.h"
#include "states/internal.h"
#include "states/env.h"
#include "common/config.h"
#include "common/util.h"
#include "engine/fsm.h"
#include "es/client.h"
#include "kube/client.h"
#include "kube/render.h"
#include "kube/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * params: {"spec": the spec with the plugin list as it will be, "plugin":
 * name, "action": "install"|"remove"}.  The plugin list lives in the pod
 * templates of the StatefulSets, which are OnDelete: applying them restarts
 * nothing, and the rolling restart then brings each node up with the list.
 */
struct states_repo_check {
	struct wf_env *env;
	struct httpc_call *call;
	json_t *urls;	 /* the files to find, in turn */
	json_t *plugins; /* the plugin of each */
	size_t next;
	long timeout_ms;
	states_repo_cb cb;
	void *arg;
};

static void repo_check_free(struct states_repo_check *c)
{
	json_decref(c->urls);
	json_decref(c->plugins);
	free(c);
}

void states_repo_check_cancel(struct states_repo_check *c)
{
	if (!c)
		return;
	httpc_cancel(c->call);
	repo_check_free(c);
}

static void repo_answer_cb(const struct httpc_response *resp, void *arg);

/* HEAD the next file, or the answer when every one is there. */
static void repo_check_next(struct states_repo_check *c)
{
	if (c->next >= json_array_size(c->urls)) {
		struct states_repo_answer a = {0};
		states_repo_cb cb = c->cb;
		void *arg = c->arg;
		repo_check_free(c);
		cb(arg, &a);
		return;
	}
	struct httpc_request req = {.method = "HEAD",
				    .url = json_string_value(json_array_get(c->urls, c->next)),
				    .timeout_ms = c->timeout_ms};
	c->call = httpc_send(c->env->http, &req, repo_answer_cb, c);
}

static void repo_answer_cb(const struct httpc_response *resp, void *arg)
{
	struct states_repo_check *c = arg;
	c->call = NULL;
	if (resp->klass == HTTPC_OK) {
		c->next++;
		repo_check_next(c);
		return;
	}
	char *url = xstrdup(json_string_value(json_array_get(c->urls, c->next)));
	char *plugin = xstrdup(json_string_value(json_array_get(c->plugins, c->next)));
	struct states_repo_answer a = {.url = url,
				       .plugin = plugin,
				       .status = resp->status,
				       .transient = resp->klass == HTTPC_TRANSIENT,
				       .error = resp->error};
	states_repo_cb cb = c->cb;
	void *cbarg = c->arg;
	repo_check_free(c);
	cb(cbarg, &a);
	free(url);
	free(plugin);
}

struct states_repo_check *states_check_plugin_files(struct wf_env *env, const char *tenant,
						    json_t *spec_json, const char *only,
						    long timeout_ms, states_repo_cb cb, void *arg)
{
	const char *repo = env && env->cfg ? env->cfg->kube_plugin_repository : NULL;
	struct states_repo_answer a = {0};
	struct spec spec;
	struct spec_error serr;
	char why[512];
	if (!spec_parse(spec_json, &spec, &serr)) {
		snprintf(why, sizeof(why), "the spec is invalid: %s: %s", serr.field, serr.message);
		a.error = why;
		cb(arg, &a);
		return NULL;
	}
	/* What the cluster's snapshot repository needs besides (kube/render_s3.c:
	 * repository-s3 before 8.0, when the tenant has S3 keys), checked with
	 * the spec's own plugins. */
	const struct render_s3 *s3 = only ? NULL : states_s3_opts(env ? env->cfg : NULL, tenant);
	const char *implied = s3 && s3->access_key && render_s3_supported(&spec.version) &&
					      !es_version_at_least(&spec.version, 8, 0, 0)
				      ? "repository-s3"
				      : NULL;
	for (size_t i = 0; implied && i < spec.nplugins; i++)
		if (!strcmp(spec.plugins[i], implied))
			implied = NULL;
	if (!only && spec.nplugins == 0 && !implied) {
		spec_free(&spec);
		cb(arg, &a);
		return NULL;
	}
	if (!repo || !repo[0]) {
		spec_free(&spec);
		a.error = "no plugin repository is configured (kubernetes.plugin_repository)";
		cb(arg, &a);
		return NULL;
	}
	if (!env->http) {
		spec_free(&spec);
		a.url = repo;
		a.transient = true;
		a.error = "no HTTP client";
		cb(arg, &a);
		return NULL;
	}
	struct states_repo_check *c = xcalloc(1, sizeof(*c));
	c->env = env;
	c->timeout_ms = timeout_ms;
	c->cb = cb;
	c->arg = arg;
	c->urls = json_array();
	c->plugins = json_array();
	for (size_t i = 0; i < (only ? 1 : spec.nplugins) + (implied ? 1 : 0); i++) {
		const char *name = only ? only : i < spec.nplugins ? spec.plugins[i] : implied;
		char *url = es_plugin_url(&spec.version, repo, name);
		json_array_append_new(c->urls, json_string(url));
		json_array_append_new(c->plugins, json_string(name));
		free(url);
	}
	spec_free(&spec);
	repo_check_next(c); /* its answer comes from the loop, never from here */
	return c;
}

/* The repository check of a job's step: the step goes on, retries or fails. */
struct repo_step {
	struct step *step;
	struct states_repo_check *check;
};

static void repo_step_abort_cb(void *arg)
{
	struct repo_step *r = arg;
	states_repo_check_cancel(r->check);
	free(r);
}

static void repo_step_cb(void *arg, const struct states_repo_answer *a)
{
	struct repo_step *r = arg;
	struct step *s = r->step;
	free(r);
	if (!a->url && !a->error)
		step_next(s);
	else if (!a->url)
		step_fail(s, "%s", a->error);
	else if (a->status == 404 || a->status == 410)
		step_fail(s,
			  "the plugin repository has no %s (HEAD answered %ld): put the plugin's "
			  "file there, then replay",
			  a->url, a->status);
	else if (a->transient)
		step_retry(s, "cannot reach the plugin repository: %s",
			   a->error ? a->error : a->url);
	else
		step_fail(s, "the plugin repository refused HEAD %s: %s", a->url,
			  a->error ? a->error : "error");
}

/* Each plugin's file (all of params.spec's, or only one) for the spec's
 * version is in the repository (HEAD), before anything changes in the
 * cluster. */
static void check_repository(struct step *s, const char *only)
{
	struct repo_step *r = xcalloc(1, sizeof(*r));
	r->step = s;
	struct states_repo_check *c = states_check_plugin_files(
		step_env(s), step_tenant(s), json_object_get(step_params(s), "spec"), only, 30000,
		repo_step_cb, r);
	/* NULL: answered already, r freed; else the answer is still to come. */
	if (c) {
		r->check = c;
		step_on_abort(s, repo_step_abort_cb, r);
	}
}

void state_plugin_check_repository(struct step *s)
{
	json_t *p = step_params(s);
	if (strcmp(json_str(p, "action"), "install") != 0) {
		step_next(s); /* removing needs no file */
		return;
	}
	check_repository(s, json_str(p, "plugin"));
}

void state_upgrade_check_plugins(struct step *s)
{
	check_repository(s, NULL);
}

static void live_sets_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	struct step *s = l->step;
	if (!states_call_kube_ok(l, res))
		return;
	json_t *live = json_object(); /* name -> its live spec.replicas */
	size_t i;
	json_t *set;
	json_array_foreach (json_object_get(res->body, "items"), i, set) {
		const char *name = json_str(json_object_get(set, "metadata"), "name");
		json_t *n = json_object_get(json_object_get(set, "spec"), "replicas");
		if (name && json_is_integer(n))
			json_object_set(live, name, n);
	}
	json_t *spec = l->spec_json ? l->spec_json : json_object_get(step_params(s), "spec");
	states_call_finish(l);
	struct states_apply *a = states_apply_prepare(s, spec, "StatefulSet", NULL);
	if (a)
		json_array_foreach (a->r->objects, i, set) {
			const char *name = json_str(json_object_get(set, "metadata"), "name");
			json_t *n = name ? json_object_get(live, name) : NULL;
			if (n && strcmp(json_str(set, "kind"), "StatefulSet") == 0)
				json_object_set(json_object_get(set, "spec"), "replicas", n);
		}
	json_decref(live);
	if (a)
		states_apply_more(a);
}

/*
 * Every role's StatefulSet with the new plugin list; no pod restarts yet.
 * Each keeps its live spec.replicas: the recorded spec may be behind the
 * workload (a scale-up that failed before its record), and an apply with
 * the recorded count would add or remove pods behind the scale's back.
 */
void states_apply_workloads_of(struct step *s, json_t *spec_json)
{
	struct state_call *l = states_call_new(s);
	if (!l)
		return;
	l->spec_json = spec_json;
	char *path = kube_collection_path("apps/v1", "StatefulSet", l->r->ns);
	l->kcall = kube_list(l->env->kube, path, NULL, live_sets_cb, l);
	free(path);
}

void state_apply_workloads(struct step *s)
{
	states_apply_workloads_of(s, json_object_get(step_params(s), "spec"));
}

static void plugins_listed_cb(void *arg, const struct es_result *res);

static void plugin_nodes_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	if (!states_call_es_ok(l, res, "cannot list the nodes yet"))
		return;
	l->nodes = json_incref(res->body);
	l->ecall = es_cat_plugins(l->es, plugins_listed_cb, l);
}

static void plugins_listed_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	json_t *p = step_params(s);
	const char *plugin = json_str(p, "plugin");
	bool install = strcmp(json_str(p, "action"), "install") == 0;
	if (res->klass != HTTPC_OK) {
		char *msg = xstrdup(res->message ? res->message : "no answer");
		states_call_finish(l);
		step_wait(s, states_poll_ms(s), "cannot list the plugins yet: %s", msg);
		free(msg);
		return;
	}
	/* Each node of _cat/nodes must list the plugin (install) or not (remove). */
	char *wrong = NULL;
	int nwrong = 0, nodes = 0;
	size_t i, k;
	json_t *n, *row;
	json_array_foreach (l->nodes, i, n) {
		const char *name = json_str(n, "name");
		bool has = false;
		if (!name)
			continue;
		nodes++;
		json_array_foreach (res->body, k, row) {
			const char *node = json_str(row, "name");
			const char *component = json_str(row, "component");
			if (node && component && strcmp(node, name) == 0 &&
			    strcmp(component, plugin) == 0)
				has = true;
		}
		if (has != install) {
			if (!wrong)
				wrong = xstrdup(name);
			nwrong++;
		}
	}
	states_call_finish(l);
	if (nodes > 0 && nwrong == 0)
		step_next(s);
	else if (nodes == 0)
		step_wait(s, states_poll_ms(s), "no node listed yet");
	else
		step_wait(s, states_poll_ms(s), "%d of %d nodes %s %s (first: %s)", nwrong, nodes,
			  install ? "do not list" : "still list", plugin, wrong);
	free(wrong);
}

/* GET _cat/plugins: every node has the plugin, or none has it any more. */
void state_plugin_verify(struct step *s)
{
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	l->ecall = es_cat_nodes(l->es, plugin_nodes_cb, l);
}
