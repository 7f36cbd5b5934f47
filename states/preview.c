/*
 * The preview of a job (?dry_run=true): what the live cluster answers, read
 * without changing anything, and the pure parts of a plan the workflows
 * share (the rolling restart's order, the shard copies on leaving nodes,
 * the quota before and after).
 */
#include "states/states.h"
#include "common/json.h"
#include "states/internal.h"
#include "states/env.h"
#include "common/config.h"
#include "common/util.h"
#include "es/client.h"
#include "kube/client.h"
#include "kube/render.h"
#include "kube/spec.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- reading the live cluster ------------------------------------------------------ */

/* The reads, one after the other: the cluster's security Secret (its
 * credentials, as every call esaas makes on it uses them), pods, then
 * _cat/nodes, _cluster/health and _cat/shards; each one that fails is
 * noted and the next goes on. */
enum live_step {
	LIVE_SECRET,
	LIVE_PODS,
	LIVE_NODES,
	LIVE_HEALTH,
	LIVE_SHARDS,
	LIVE_DONE
};

struct live_call {
	struct wf_env *env;
	struct es *es;
	char *ns;
	char *cluster;
	json_t *live;
	enum live_step at;
	states_live_cb cb;
	void *arg;
};

static const char *const live_keys[] = {"secret", "pods", "nodes", "health", "shards"};

static void live_next(struct live_call *c);

static void live_note(struct live_call *c, const char *what, const char *msg)
{
	json_t *errors = json_object_get(c->live, "errors");
	char *text = xasprintf("%s: %s", what, msg ? msg : "no answer");
	json_array_append_new(errors, json_string(text));
	free(text);
}

/* A cluster without security has no such Secret: nothing to note. */
static void live_secret_cb(void *arg, const struct kube_result *res)
{
	struct live_call *c = arg;
	char *ca = NULL;
	free(states_es_secret_credentials(c->es, res->klass == HTTPC_OK ? res->body : NULL, &ca));
	free(ca);
	if (res->klass != HTTPC_OK && res->status != 404)
		live_note(c, "credentials", res->message);
	c->at = LIVE_PODS;
	live_next(c);
}

static void live_pods_cb(void *arg, const struct kube_result *res)
{
	struct live_call *c = arg;
	if (res->klass == HTTPC_OK)
		json_object_set(c->live, "pods", json_object_get(res->body, "items"));
	else
		live_note(c, "pods", res->message);
	c->at = LIVE_NODES;
	live_next(c);
}

static void live_es_cb(void *arg, const struct es_result *res)
{
	struct live_call *c = arg;
	if (res->klass == HTTPC_OK && res->body)
		json_object_set(c->live, live_keys[c->at], res->body);
	else
		live_note(c, live_keys[c->at], res->message);
	c->at++;
	live_next(c);
}

static void live_finish(struct live_call *c)
{
	c->cb(c->arg, c->live);
	json_decref(c->live);
	es_free(c->es);
	free(c->ns);
	free(c->cluster);
	free(c);
}

static void live_next(struct live_call *c)
{
	struct es_call *sent = NULL;
	switch (c->at) {
	case LIVE_SECRET: {
		if (states_get_security_secret(c->env, c->ns, live_secret_cb, c))
			return;
		live_note(c, "credentials", "cannot send the request");
		c->at = LIVE_PODS;
		live_next(c);
		return;
	}
	case LIVE_PODS: {
		char *path = kube_collection_path("v1", "Pod", c->ns);
		char *sel = xasprintf("%s=%s", RENDER_LABEL_CLUSTER, c->cluster);
		struct kube_call *k = kube_list(c->env->kube, path, sel, live_pods_cb, c);
		free(sel);
		free(path);
		if (k)
			return;
		live_note(c, "pods", "cannot send the request");
		c->at = LIVE_NODES;
		live_next(c);
		return;
	}
	case LIVE_NODES:
		sent = es_cat_nodes(c->es, live_es_cb, c);
		break;
	case LIVE_HEALTH:
		sent = es_request(c->es, "GET", "/_cluster/health", NULL, live_es_cb, c);
		break;
	case LIVE_SHARDS:
		sent = es_cat_shards(c->es, live_es_cb, c);
		break;
	case LIVE_DONE:
		live_finish(c);
		return;
	}
	if (sent)
		return;
	live_note(c, live_keys[c->at], "cannot send the request");
	c->at++;
	live_next(c);
}

void states_read_live(struct wf_env *env, const char *tenant, const char *ns_stored,
		      json_t *spec_json, states_live_cb cb, void *arg)
{
	struct spec spec;
	struct spec_error serr;
	json_t *live = json_pack("{s:[]}", "errors");

	if (!env || !env->kube || !spec_parse(spec_json, &spec, &serr)) {
		json_array_append_new(
			json_object_get(live, "errors"),
			json_string(env && env->kube ? "the stored spec is invalid"
						     : "no Kubernetes connection is configured"));
		cb(arg, live);
		json_decref(live);
		return;
	}
	struct live_call *c = xcalloc(1, sizeof(*c));
	c->env = env;
	c->ns = ns_stored ? xstrdup(ns_stored) : render_namespace(tenant, spec.name);
	c->cluster = xstrdup(spec.name);
	c->live = live;
	c->cb = cb;
	c->arg = arg;
	json_object_set_new(live, "namespace", json_string(c->ns));
	c->es = es_new_for_cluster(env->kube, env->http, env->cfg->es_url_template, c->ns,
				   RENDER_HTTP_SERVICE);
	es_direct_connect_to(c->es, env->cfg->es_connect_to);
	es_set_version(c->es, &spec.version);
	spec_free(&spec);
	c->at = LIVE_SECRET;
	live_next(c);
}

/* --- the rolling restart's order ------------------------------------------------------ */

json_t *preview_rolling_pods(json_t *params, json_t *live)
{
	json_t *pods = restart_plan_pods(params, json_object_get(live, "pods"));
	const char *ns = json_str(live, "namespace");
	size_t i, masters = 0;
	json_t *p, *n;

	json_array_foreach (pods, i, p)
		if (strcmp(json_str(p, "role"), "master") == 0)
			masters++;
	if (masters < 2 || !ns)
		return pods;
	/* The elected master very last, as state_restart_check() puts it. */
	json_array_foreach (pods, i, p) {
		char *node = render_node_name(json_str(p, "name"), ns);
		bool elected = false;
		size_t k;
		json_array_foreach (json_object_get(live, "nodes"), k, n) {
			const char *star = json_str(n, "master");
			if (json_str(n, "name") && star && strcmp(star, "*") == 0 &&
			    strcmp(json_str(n, "name"), node) == 0)
				elected = true;
		}
		free(node);
		if (elected) {
			json_array_append(pods, p);
			json_array_remove(pods, i);
			break;
		}
	}
	return pods;
}

json_t *preview_pod_actions(json_t *pods, const char *action)
{
	json_t *out = json_array();
	size_t i;
	json_t *p;

	json_array_foreach (pods, i, p)
		json_array_append_new(out,
				      json_pack("{s:s?, s:s?, s:s}", "name", json_str(p, "name"),
						"role", json_str(p, "role"), "action", action));
	return out;
}

int preview_live_pods(json_t *live, const char *role)
{
	size_t i;
	json_t *pod;
	int n = 0;

	json_array_foreach (json_object_get(live, "pods"), i, pod) {
		json_t *meta = json_object_get(pod, "metadata");
		const char *r = json_str(json_object_get(meta, "labels"), RENDER_LABEL_ROLE);
		if (r && strcmp(r, role) == 0 && !json_object_get(meta, "deletionTimestamp"))
			n++;
	}
	return n;
}

/* The rolling restart's loop: once round per pod, then out. */
int preview_rolling_choose(const struct wf_state *st, int visit, int npods)
{
	if (st->run == state_restart_next)
		return visit < npods ? -1 : RESTART_NEXT_NONE_LEFT;
	return -1;
}

/* --- shard copies ------------------------------------------------------------------- */

int64_t preview_store_bytes(const char *text)
{
	static const struct {
		const char *unit;
		double factor;
	} units[] = {{"pb", 1125899906842624.0}, {"tb", 1099511627776.0}, {"gb", 1073741824.0},
		     {"mb", 1048576.0},		 {"kb", 1024.0},	  {"b", 1.0}};
	char *end = NULL;

	if (!text || !*text || (!isdigit((unsigned char)text[0]) && text[0] != '.'))
		return -1;
	double v = strtod(text, &end);
	if (end == text || v < 0 || !isfinite(v))
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(end, units[i].unit) == 0)
			return (int64_t)llround(v * units[i].factor);
	return *end ? -1 : (int64_t)llround(v);
}

int preview_most_copies(json_t *rows, char *worst, size_t len)
{
	json_t *per = json_object();
	size_t i;
	json_t *r;
	int most = 0;

	if (len)
		worst[0] = '\0';
	json_array_foreach (rows, i, r) {
		char *key = xasprintf("%s/%s", json_str(r, "index") ? json_str(r, "index") : "?",
				      json_str(r, "shard") ? json_str(r, "shard") : "?");
		int n = (int)json_integer_value(json_object_get(per, key)) + 1;
		json_object_set_new(per, key, json_integer(n));
		if (n > most) {
			most = n;
			snprintf(worst, len, "%s", key);
		}
		free(key);
	}
	json_decref(per);
	return most;
}

json_t *preview_shards_on(json_t *rows, json_t *nodes)
{
	int64_t count = 0, bytes = 0;
	size_t i, k;
	json_t *r, *n;
	json_t *list = json_array();

	json_array_foreach (rows, i, r) {
		const char *node = json_str(r, "node");
		bool on = false;
		json_array_foreach (nodes, k, n)
			if (node && json_string_value(n) && strcmp(node, json_string_value(n)) == 0)
				on = true;
		if (!on)
			continue;
		int64_t b = preview_store_bytes(json_str(r, "store"));
		count++;
		if (b > 0)
			bytes += b;
		char *copy =
			xasprintf("%s/%s%s", json_str(r, "index") ? json_str(r, "index") : "?",
				  json_str(r, "shard") ? json_str(r, "shard") : "?",
				  json_str(r, "prirep") && strcmp(json_str(r, "prirep"), "p") == 0
					  ? " (primary)"
					  : "");
		json_array_append_new(list, json_string(copy));
		free(copy);
	}
	return json_pack("{s:I, s:I, s:o}", "count", (json_int_t)count, "bytes", (json_int_t)bytes,
			 "copies", list);
}

/* --- quota ----------------------------------------------------------------------------- */

static json_t *quota_of(struct wf_env *env, const char *tenant, const char *ns, json_t *spec_json)
{
	struct spec spec;
	struct spec_error serr;

	if (!json_is_object(spec_json))
		return json_null();
	if (!spec_parse(spec_json, &spec, &serr))
		return json_null();
	struct render_opts ro = {
		.tenant = tenant,
		.ns = ns,
		.image_registry = env && env->cfg ? env->cfg->kube_image_registry : NULL,
		.plugin_repo_url = env && env->cfg ? env->cfg->kube_plugin_repository : NULL,
		.rack_label = env && env->cfg ? env->cfg->kube_rack_label : NULL,
		.allowed_images = env && env->cfg ? env->cfg->kube_allowed_images : NULL,
		.utility_image = env && env->cfg ? env->cfg->kube_utility_image : NULL,
		.tune_hosts = env && env->cfg ? env->cfg->kube_tune_hosts : false,
	};
	json_t *q = render_quota(&spec, &ro, 0);
	spec_free(&spec);
	json_t *hard = json_incref(json_object_get(json_object_get(q, "spec"), "hard"));
	json_decref(q);
	return hard ? hard : json_null();
}

json_t *states_preview_quota(void *env, const char *tenant, const char *ns, json_t *before,
			     json_t *after)
{
	return json_pack("{s:o, s:o}", "before", quota_of(env, tenant, ns, before), "after",
			 quota_of(env, tenant, ns, after));
}
