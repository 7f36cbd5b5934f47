/*
 * Checks the API makes on a live cluster before it queues a job.
 */
#include "states/states.h"
#include "common/base64.h"
#include "common/json.h"
#include "states/internal.h"
#include "states/env.h"
#include "common/config.h"
#include "common/util.h"
#include "engine/fsm.h"
#include "es/client.h"
#include "es/disk.h"
#include "kube/client.h"
#include "kube/render.h"
#include "kube/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A request waits for this: a transient error is tried again at once, a
 * few times, before the API gives up with 503. */
#define LIVE_READ_ATTEMPTS 3

#define INDICES_PATH "/_all"

/* One GET on a live cluster, for a check the API makes before queuing. */
struct live_read {
	struct es *es;
	char *path;
	bool want_object; /* an answer that is not a JSON object is an error */
	states_indices_cb done;
	states_read_cb raw; /* instead of done: every answer, with its status */
	void *arg;
	int attempts;
	/* elastic's password and the CA, while the read goes as esaas's own
	 * user: a 401 (the user not made yet) is tried again as elastic */
	char *elastic_password, *ca;
};

static void live_read_free(struct live_read *c)
{
	es_free(c->es);
	free(c->path);
	free(c->elastic_password);
	free(c->ca);
	free(c);
}

/* Tell of a read that could not be sent. */
static void live_read_unsent(struct live_read *c)
{
	states_indices_cb done = c->done;
	states_read_cb raw = c->raw;
	void *done_arg = c->arg;
	live_read_free(c);
	if (raw)
		raw(done_arg, 0, NULL, "cannot send the request");
	else
		done(done_arg, NULL, "cannot send the request");
}

static void live_read_cb(void *arg, const struct es_result *res)
{
	struct live_read *c = arg;

	if (res->klass == HTTPC_TRANSIENT && ++c->attempts < LIVE_READ_ATTEMPTS &&
	    es_request(c->es, "GET", c->path, NULL, live_read_cb, c))
		return;
	if (res->status == 401 && c->elastic_password) {
		struct es_credentials cred = {
			.user = "elastic", .password = c->elastic_password, .ca_pem = c->ca};
		es_use_credentials(c->es, &cred);
		free(c->elastic_password);
		c->elastic_password = NULL;
		if (es_request(c->es, "GET", c->path, NULL, live_read_cb, c))
			return;
	}
	if (c->raw)
		c->raw(c->arg, res->status, res->klass == HTTPC_OK ? res->body : NULL,
		       res->message ? res->message : "no answer");
	else if (res->klass == HTTPC_OK && (!c->want_object || json_is_object(res->body)))
		c->done(c->arg, res->body, NULL);
	else
		c->done(c->arg, NULL, res->message ? res->message : "no answer");
	live_read_free(c);
}

/* A Secret's key, decoded; NULL if absent.  The caller frees it. */
static char *secret_value(json_t *secret, const char *key)
{
	const char *b64 = json_str(json_object_get(secret, "data"), key);
	unsigned char *raw = NULL;
	size_t len = 0;

	if (!b64 || !base64_decode(b64, strlen(b64), &raw, &len, NULL))
		return NULL;
	return (char *)raw;
}

struct kube_call *states_get_security_secret(struct wf_env *env, const char *ns,
					     void (*cb)(void *arg, const struct kube_result *res),
					     void *arg)
{
	char *path = xasprintf("/api/v1/namespaces/%s/secrets/%s", ns, RENDER_SECURITY_SECRET);
	struct kube_call *k = kube_get(env->kube, path, cb, arg);
	free(path);
	return k;
}

char *states_es_secret_credentials(struct es *es, json_t *secret, char **ca_out)
{
	char *password = secret ? secret_value(secret, "elastic") : NULL;
	char *own = secret ? secret_value(secret, ES_ESAAS_USER) : NULL;
	char *ca = secret ? secret_value(secret, "ca.crt") : NULL;
	char *fallback = NULL;

	if (password && ca && own) {
		struct es_credentials cred = {.user = ES_ESAAS_USER, .password = own, .ca_pem = ca};
		es_use_credentials(es, &cred);
		fallback = password;
		password = NULL;
	} else if (password && ca) {
		struct es_credentials cred = {
			.user = "elastic", .password = password, .ca_pem = ca};
		es_use_credentials(es, &cred);
	}
	free(own);
	free(password);
	*ca_out = ca;
	return fallback;
}

static void secret_read_cb(void *arg, const struct kube_result *res)
{
	struct live_read *c = arg;

	/* As esaas's own user where the Secret has its password (elastic
	 * should that user not be made yet), else as elastic. */
	c->elastic_password = states_es_secret_credentials(
		c->es, res->klass == HTTPC_OK ? res->body : NULL, &c->ca);
	if (!es_request(c->es, "GET", c->path, NULL, live_read_cb, c))
		live_read_unsent(c);
}

/* GET path on the cluster of spec_json (tenant's, in namespace ns), through
 * its HTTP service; done(arg, body, NULL) or done(arg, NULL, why). */
static void live_read_with(struct wf_env *env, const char *tenant, const char *ns_stored,
			   json_t *spec_json, const char *path, bool want_object,
			   states_indices_cb done, states_read_cb raw, void *arg)
{
	struct spec spec;
	struct spec_error serr;
	const char *why = NULL;
	char *msg = NULL;

	if (!env || !env->kube)
		why = "no Kubernetes connection is configured";
	else if (!spec_parse(spec_json, &spec, &serr))
		why = msg =
			xasprintf("the stored spec is invalid: %s: %s", serr.field, serr.message);
	if (why) {
		if (raw)
			raw(arg, 0, NULL, why);
		else
			done(arg, NULL, why);
		free(msg);
		return;
	}
	char *ns = ns_stored ? xstrdup(ns_stored) : render_namespace(tenant, spec.name);
	struct live_read *c = xcalloc(1, sizeof(*c));
	c->path = xstrdup(path);
	c->want_object = want_object;
	c->done = done;
	c->raw = raw;
	c->arg = arg;
	c->es = es_new_for_cluster(env->kube, env->http, env->cfg->es_url_template, ns,
				   RENDER_HTTP_SERVICE);
	es_direct_connect_to(c->es, env->cfg->es_connect_to);
	es_set_version(c->es, &spec.version);
	spec_free(&spec);
	/* A secured cluster's credentials are those its pods have: its
	 * Secret's (absent: no security). */
	bool sent = states_get_security_secret(env, ns, secret_read_cb, c) != NULL;
	free(ns);
	if (!sent)
		live_read_unsent(c);
}

static void live_read(struct wf_env *env, const char *tenant, const char *ns, json_t *spec_json,
		      const char *path, bool want_object, states_indices_cb done, void *arg)
{
	live_read_with(env, tenant, ns, spec_json, path, want_object, done, NULL, arg);
}

void states_read_es(struct wf_env *env, const char *tenant, const char *ns, json_t *spec_json,
		    const char *path, states_read_cb cb, void *arg)
{
	live_read_with(env, tenant, ns, spec_json, path, false, NULL, cb, arg);
}

/* --- the shard copies the worst index needs --------------------------------------- */

struct copies_read {
	states_copies_cb cb;
	void *arg;
};

static void copies_read_cb(void *arg, json_t *rows, const char *error)
{
	struct copies_read *c = arg;
	struct es_shard_copies worst;

	if (rows)
		es_shard_copies_worst(rows, &worst);
	c->cb(c->arg, rows ? &worst : NULL, error);
	free(c);
}

void states_read_shard_copies(struct wf_env *env, const char *tenant, const char *ns,
			      json_t *spec_json, states_copies_cb cb, void *arg)
{
	struct copies_read *c = xcalloc(1, sizeof(*c));

	c->cb = cb;
	c->arg = arg;
	live_read(env, tenant, ns, spec_json, ES_SHARD_COPIES_PATH, false, copies_read_cb, c);
}

/* --- every index: its settings and mappings ------------------------------------------ */

void states_read_indices(struct wf_env *env, const char *tenant, const char *ns, json_t *spec_json,
			 states_indices_cb cb, void *arg)
{
	live_read(env, tenant, ns, spec_json, INDICES_PATH, true, cb, arg);
}

/* --- the data nodes' disk headroom ------------------------------------------------ */

struct disk_read {
	struct wf_env *env;
	char *tenant;
	char *ns;
	json_t *spec;
	json_t *only;
	json_t *settings;
	struct es_version version;
	states_disk_cb cb;
	void *arg;
};

static void disk_read_end(struct disk_read *c, json_t *report, const char *error)
{
	c->cb(c->arg, report, error);
	json_decref(report);
	free(c->tenant);
	free(c->ns);
	json_decref(c->spec);
	json_decref(c->only);
	json_decref(c->settings);
	free(c);
}

static void disk_allocation_cb(void *arg, json_t *rows, const char *error)
{
	struct disk_read *c = arg;
	struct es_disk_watermark w;
	char why[300];

	if (!rows || !json_is_array(rows)) {
		char *msg = xasprintf("_cat/allocation: %s", error ? error : "not a list");
		disk_read_end(c, NULL, msg);
		free(msg);
		return;
	}
	if (!es_disk_watermark(&c->version, c->settings, es_disk_data_nodes(rows), &w, why,
			       sizeof(why))) {
		disk_read_end(c, NULL, why);
		return;
	}
	json_t *above, *near, *unreported;
	es_disk_check(&w, rows, c->only, &above, &near, &unreported);
	json_t *report = json_pack("{s:o, s:o, s:o}", "above", above, "near", near, "unreported",
				   unreported);
	struct es_disk_watermark high;
	if (c->only && w.enabled &&
	    es_disk_watermark_high(&c->version, c->settings, es_disk_data_nodes(rows), &high, why,
				   sizeof(why))) {
		struct es_disk_drain d;
		char mark[200];
		es_disk_drain(&w, &high, rows, c->only, &d);
		es_disk_describe(&high, d.example_total, mark, sizeof(mark));
		json_object_set_new(report, "drain",
				    json_pack("{s:I, s:I, s:i, s:i, s:i, s:s}", "moving",
					      (json_int_t)d.moving, "room", (json_int_t)d.room,
					      "takers", d.takers, "others", d.others, "unreported",
					      d.unreported, "high", mark));
	}
	if (!w.enabled) {
		/* Nothing stops a replica: none is above, whatever its disk. */
		json_array_clear(above);
		json_array_clear(near);
		json_object_set_new(report, "off", json_string(w.why_off));
	}
	disk_read_end(c, report, NULL);
}

static void disk_settings_cb(void *arg, json_t *settings, const char *error)
{
	struct disk_read *c = arg;

	if (!settings) {
		char *msg = xasprintf("_cluster/settings: %s", error ? error : "no answer");
		disk_read_end(c, NULL, msg);
		free(msg);
		return;
	}
	c->settings = json_incref(settings);
	live_read(c->env, c->tenant, c->ns, c->spec, ES_DISK_ALLOCATION_PATH, false,
		  disk_allocation_cb, c);
}

void states_read_disk(struct wf_env *env, const char *tenant, const char *ns, json_t *spec_json,
		      json_t *only, states_disk_cb cb, void *arg)
{
	struct disk_read *c = xcalloc(1, sizeof(*c));

	c->env = env;
	c->tenant = xstrdup(tenant);
	c->ns = ns ? xstrdup(ns) : NULL;
	c->spec = json_incref(spec_json);
	c->only = json_incref(only);
	c->cb = cb;
	c->arg = arg;
	if (!es_version_parse(json_str(spec_json, "version"), &c->version)) {
		disk_read_end(c, NULL, "the stored spec has no version");
		return;
	}
	live_read(env, tenant, ns, spec_json, es_disk_settings_path(&c->version), true,
		  disk_settings_cb, c);
}

/* --- what must change before the next major --------------------------------------- */

void states_read_deprecations(struct wf_env *env, const char *tenant, const char *ns,
			      json_t *spec_json, const char *path, states_indices_cb cb, void *arg)
{
	live_read(env, tenant, ns, spec_json, path, true, cb, arg);
}

/* --- where the nodes of a role can go ----------------------------------------- */

struct places_read {
	states_places_cb cb;
	void *arg;
	char *rack_label; /* NULL: one host each */
};

/* A node the scheduler may use: Ready, not cordoned, no NoSchedule or
 * NoExecute taint (those are what our pods would need to tolerate). */
static bool node_schedulable(json_t *node)
{
	json_t *spec = json_object_get(node, "spec");
	size_t i;
	json_t *v;
	if (json_is_true(json_object_get(spec, "unschedulable")))
		return false;
	json_array_foreach (json_object_get(spec, "taints"), i, v) {
		const char *effect = json_str(v, "effect");
		if (effect &&
		    (strcmp(effect, "NoSchedule") == 0 || strcmp(effect, "NoExecute") == 0))
			return false;
	}
	json_array_foreach (json_object_get(json_object_get(node, "status"), "conditions"), i, v) {
		const char *type = json_str(v, "type");
		if (type && strcmp(type, "Ready") == 0)
			return strcmp(json_str(v, "status") ? json_str(v, "status") : "", "True") ==
			       0;
	}
	return false;
}

static void places_read_cb(void *arg, const struct kube_result *res)
{
	struct places_read *c = arg;
	int places = 0;
	if (res->klass == HTTPC_OK) {
		json_t *racks = json_object();
		size_t i;
		json_t *node;
		json_array_foreach (json_object_get(res->body, "items"), i, node) {
			if (!node_schedulable(node))
				continue;
			if (!c->rack_label) {
				places++;
				continue;
			}
			const char *rack = json_str(
				json_object_get(json_object_get(node, "metadata"), "labels"),
				c->rack_label);
			if (rack)
				json_object_set_new(racks, rack, json_true());
		}
		if (c->rack_label)
			places = (int)json_object_size(racks);
		json_decref(racks);
	}
	c->cb(c->arg, res->klass == HTTPC_OK ? places : -1,
	      res->klass == HTTPC_OK ? NULL : (res->message ? res->message : "no answer"));
	free(c->rack_label);
	free(c);
}

void states_read_places(struct wf_env *env, json_t *spec_json, states_places_cb cb, void *arg)
{
	struct spec spec;
	struct spec_error serr;

	if (!env || !env->kube) {
		cb(arg, -1, "no Kubernetes connection is configured");
		return;
	}
	if (!spec_parse(spec_json, &spec, &serr)) {
		cb(arg, -1, "the spec is invalid");
		return;
	}
	struct places_read *c = xcalloc(1, sizeof(*c));
	c->cb = cb;
	c->arg = arg;
	if (spec.spread == SPEC_SPREAD_RACK)
		c->rack_label =
			xstrdup(env->cfg && env->cfg->kube_rack_label ? env->cfg->kube_rack_label
								      : RENDER_RACK_LABEL_DEFAULT);
	spec_free(&spec);
	if (!kube_list(env->kube, "/api/v1/nodes", NULL, places_read_cb, c)) {
		free(c->rack_label);
		free(c);
		cb(arg, -1, "cannot send the request");
	}
}
