/*
 * Checks the API makes on a live cluster before it queues a job.
 */
#include "states/states.h"
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

/* A request waits for this: a transient error is tried again at once, a
 * few times, before the API gives up with 503. */
#define COPIES_READ_ATTEMPTS 3

struct copies_read {
	struct es *es;
	states_copies_cb cb;
	void *arg;
	int attempts;
};

static void copies_read_cb(void *arg, const struct es_result *res)
{
	struct copies_read *c = arg;
	struct es_shard_copies worst;
	char *error = NULL;

	if (res->klass == HTTPC_TRANSIENT && ++c->attempts < COPIES_READ_ATTEMPTS &&
	    es_request(c->es, "GET", ES_SHARD_COPIES_PATH, NULL, copies_read_cb, c))
		return;
	if (res->klass == HTTPC_OK)
		es_shard_copies_worst(res->body, &worst);
	else
		error = xstrdup(res->message ? res->message : "no answer");
	c->cb(c->arg, error ? NULL : &worst, error);
	free(error);
	es_free(c->es);
	free(c);
}

void states_read_shard_copies(struct wf_env *env, const char *tenant, json_t *spec_json,
			      states_copies_cb cb, void *arg)
{
	struct spec spec;
	struct spec_error serr;

	if (!env || !env->kube) {
		cb(arg, NULL, "no Kubernetes connection is configured");
		return;
	}
	if (!spec_parse(spec_json, &spec, &serr)) {
		char *msg =
			xasprintf("the stored spec is invalid: %s: %s", serr.field, serr.message);
		cb(arg, NULL, msg);
		free(msg);
		return;
	}
	char *ns = render_namespace(tenant, spec.name);
	struct copies_read *c = xcalloc(1, sizeof(*c));
	c->cb = cb;
	c->arg = arg;
	c->es = es_new_for_cluster(env->kube, env->http, env->cfg->es_url_template, ns,
				   RENDER_HTTP_SERVICE);
	es_set_version(c->es, &spec.version);
	free(ns);
	spec_free(&spec);
	if (!es_request(c->es, "GET", ES_SHARD_COPIES_PATH, NULL, copies_read_cb, c)) {
		es_free(c->es);
		free(c);
		cb(arg, NULL, "cannot send the request");
	}
}
