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
struct repo_check {
	struct step *step;
	struct httpc_call *call;
	json_t *urls; /* the files to find, in turn */
	size_t next;
};

static void repo_check_free(struct repo_check *c)
{
	json_decref(c->urls);
	free(c);
}

static void repo_abort_cb(void *arg)
{
	struct repo_check *c = arg;
	httpc_cancel(c->call);
	repo_check_free(c);
}

static void repo_answer_cb(const struct httpc_response *resp, void *arg);

/* HEAD the next file, or go on when every one is there. */
static void repo_check_next(struct repo_check *c)
{
	struct step *s = c->step;
	if (c->next >= json_array_size(c->urls)) {
		repo_check_free(c);
		step_next(s);
		return;
	}
	struct httpc_request req = {.method = "HEAD",
				    .url = json_string_value(json_array_get(c->urls, c->next)),
				    .timeout_ms = 30000};
	struct wf_env *env = step_env(s);
	c->call = httpc_send(env->http, &req, repo_answer_cb, c);
}

static void repo_answer_cb(const struct httpc_response *resp, void *arg)
{
	struct repo_check *c = arg;
	struct step *s = c->step;
	char *url = xstrdup(json_string_value(json_array_get(c->urls, c->next)));
	c->call = NULL;
	if (resp->klass == HTTPC_OK) {
		c->next++;
		free(url);
		repo_check_next(c);
		return;
	}
	repo_check_free(c);
	if (resp->status == 404 || resp->status == 410)
		step_fail(s,
			  "the plugin repository has no %s (HEAD answered %ld): put the plugin's "
			  "file there, then replay",
			  url, resp->status);
	else if (resp->klass == HTTPC_TRANSIENT)
		step_retry(s, "cannot reach the plugin repository: %s",
			   resp->error ? resp->error : url);
	else
		step_fail(s, "the plugin repository refused HEAD %s: %s", url,
			  resp->error ? resp->error : "error");
	free(url);
}

/* Each plugin's file (all of params.spec's, or only one) for the spec's
 * version is in the repository (HEAD), before anything changes in the
 * cluster. */
static void check_repository(struct step *s, const char *only)
{
	json_t *p = step_params(s);
	struct wf_env *env = step_env(s);
	const char *repo = env && env->cfg ? env->cfg->kube_plugin_repository : NULL;
	struct spec spec;
	struct spec_error serr;
	if (!spec_parse(json_object_get(p, "spec"), &spec, &serr)) {
		step_fail(s, "the job's spec is invalid: %s: %s", serr.field, serr.message);
		return;
	}
	/* What the cluster's snapshot repository needs besides (kube/render_s3.c:
	 * repository-s3 before 8.0, when the tenant has S3 keys), checked with
	 * the spec's own plugins. */
	const struct render_s3 *s3 =
		only ? NULL : states_s3_opts(env ? env->cfg : NULL, step_tenant(s));
	const char *implied = s3 && s3->access_key && render_s3_supported(&spec.version) &&
					      !es_version_at_least(&spec.version, 8, 0, 0)
				      ? "repository-s3"
				      : NULL;
	for (size_t i = 0; implied && i < spec.nplugins; i++)
		if (!strcmp(spec.plugins[i], implied))
			implied = NULL;
	if ((only || spec.nplugins > 0 || implied) && (!repo || !repo[0])) {
		spec_free(&spec);
		step_fail(s, "no plugin repository is configured (kubernetes.plugin_repository)");
		return;
	}
	struct repo_check *c = xcalloc(1, sizeof(*c));
	c->step = s;
	c->urls = json_array();
	for (size_t i = 0; i < (only ? 1 : spec.nplugins); i++) {
		char *url = es_plugin_url(&spec.version, repo, only ? only : spec.plugins[i]);
		json_array_append_new(c->urls, json_string(url));
		free(url);
	}
	if (implied) {
		char *url = es_plugin_url(&spec.version, repo, implied);
		json_array_append_new(c->urls, json_string(url));
		free(url);
	}
	spec_free(&spec);
	step_on_abort(s, repo_abort_cb, c);
	repo_check_next(c);
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
