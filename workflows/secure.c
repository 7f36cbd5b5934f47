/*
 * secure: Elasticsearch security for a cluster created without it.
 *
 *   the cluster's CA, certificate and passwords (context es_security_next),
 *   in its Secret → its elasticsearch.yml with security and TLS, and the
 *   StatefulSets' templates with the certificates and the bootstrap
 *   password (OnDelete: no pod restarts by itself) → a full cluster
 *   restart: allocation of replicas paused, flush, every node stopped →
 *   esaasd calls the cluster with its credentials from here on (the
 *   switch) → every node started secured, the masters formed, every node
 *   joined, allocation back, green → Kibana's password and its
 *   configuration.
 *
 * TLS on the transport layer, which security needs, cannot be turned on
 * one node at a time: a node with it and a node without cannot talk
 * (https://www.elastic.co/guide/en/elasticsearch/reference/7.17/security-basic-setup.html,
 * "a full cluster restart").  So every node stops, and the cluster is
 * unavailable until they are back.
 *
 * A cluster secured before esaas had a user of its own (its security
 * record has no "esaas_user") gets only that user: secure_make branches to
 * secure_user_secret (esaas's password in the record and the Secret) and
 * set_kibana_password (the user), nothing restarts, and esaasd calls the
 * cluster as its own user from then on.
 *
 * A cancel or a failure before the stop puts the configuration and the
 * templates back and deletes the Secret: nothing restarted, nothing
 * changed.  Once the stop has begun, the nodes come back secured, so the
 * cluster keeps security: the cleanup makes the switch if it was not made,
 * lifts the allocation pause, and the job says so.
 */
#include "workflows/workflows.h"
#include "common/config.h"
#include "common/json.h"
#include "common/util.h"
#include "es/client.h"
#include "es/version.h"
#include "kube/client.h"
#include "kube/render.h"
#include "kube/spec.h"
#include "states/env.h"
#include "states/states.h"
#include "workflows/request.h"

#include <stdlib.h>
#include <string.h>

/* clang-format off */
static const struct wf_state secure_states[] = {
	{.name = "secure_make", .run = state_secure_make, .deadline_s = 120,
	 .next = "apply_config", .replay_safe = true,
	 WF_BRANCHES([SECURE_MAKE_USER_ONLY] = {"secured before esaas had its own user",
						"secure_user_secret"})},
	{.name = "secure_user_secret", .run = state_secure_user_secret, .deadline_s = 120,
	 .next = "set_kibana_password", .replay_safe = true},
	{.name = "apply_config", .run = state_apply_config, .deadline_s = 120,
	 .next = "apply_workloads", .replay_safe = true},
	{.name = "apply_workloads", .run = state_apply_workloads, .deadline_s = 120,
	 .next = "full_pause", .replay_safe = true},
	{.name = "full_pause", .run = state_restart_pause, .deadline_s = 120,
	 .next = "full_flush", .replay_safe = true},
	{.name = "full_flush", .run = state_restart_flush, .deadline_s = 300,
	 .next = "full_stop"},
	{.name = "full_stop", .run = state_upgrade_stop_all, .deadline_s = 300,
	 .next = "secure_switch", .replay_safe = true},
	{.name = "secure_switch", .run = state_secure_switch, .deadline_s = 60,
	 .next = "full_wait_started", .replay_safe = true},
	{.name = "full_wait_started", .run = state_upgrade_wait_started, .deadline_s = 900,
	 .next = "full_wait_formed", .replay_safe = true},
	{.name = "full_wait_formed", .run = state_wait_masters_formed, .deadline_s = 600,
	 .next = "full_wait_joined", .replay_safe = true},
	{.name = "full_wait_joined", .run = state_wait_joined, .deadline_s = 600,
	 .next = "full_resume_allocation", .replay_safe = true},
	{.name = "full_resume_allocation", .run = state_restart_resume_allocation,
	 .deadline_s = 120, .next = "full_wait_green", .replay_safe = true},
	{.name = "full_wait_green", .run = state_wait_green, .deadline_s = 1800,
	 .next = "set_kibana_password", .replay_safe = true},
	{.name = "set_kibana_password", .run = state_set_kibana_password, .deadline_s = 120,
	 .next = "apply_kibana", .replay_safe = true},
	{.name = "apply_kibana", .run = state_apply_kibana, .deadline_s = 120,
	 .next = "wait_kibana", .replay_safe = true},
	{.name = "wait_kibana", .run = state_wait_kibana, .deadline_s = 600,
	 .replay_safe = true},
	/* cleanup, after a failure or a cancel */
	{.name = "undo_allocation", .run = state_restart_resume_allocation, .deadline_s = 300,
	 .next = "secure_undo"},
	{.name = "secure_undo", .run = state_secure_undo, .deadline_s = 120,
	 .next = "secure_undo_config"},
	{.name = "secure_undo_config", .run = state_apply_config, .deadline_s = 120,
	 .next = "secure_undo_workloads"},
	{.name = "secure_undo_workloads", .run = state_apply_workloads, .deadline_s = 120},
};
/* clang-format on */

/* {"allow_yellow"?: bool}, or no body. */
static bool secure_request(const struct wf_request *rq, json_t **params, struct wf_refusal *why)
{
	static const char *const fields[] = {"allow_yellow", NULL};
	json_t *body = rq->body;

	if (body && (!wf_request_fields(body, fields, why) || !wf_request_allow_yellow(body, why)))
		return false;
	*params = json_pack("{s:b}", "allow_yellow",
			    json_is_true(json_object_get(body, "allow_yellow")));
	return true;
}

/* The versions whose free licence has security, 6.8 and later of the
 * default distribution (not an -oss image). */
static bool secure_prepare(json_t *record, json_t *params, struct wf_refusal *why)
{
	struct spec spec;
	char version[ES_VERSION_BUFSIZE];
	bool ok;

	(void)params;
	if (!wf_record_spec(record, &spec, why))
		return false;
	es_version_format(&spec.version, version, sizeof(version));
	ok = render_security_applies(&spec.version, spec.image ? spec.image : "");
	spec_free(&spec);
	if (!ok)
		return wf_refuse(why, 422, "invalid", "version",
				 "Elasticsearch %s has no security in its free licence (6.8 and "
				 "later, not the -oss images): upgrade the cluster first",
				 version);
	return true;
}

struct secure_check {
	void (*done)(void *arg, const struct wf_refusal *why);
	void *arg;
	struct kube_call *call;
};

static void secret_read_cb(void *arg, const struct kube_result *res)
{
	struct secure_check *p = arg;
	struct wf_refusal why = {0};

	/* A Secret without esaas's password is a cluster's secured before
	 * esaas had a user of its own: the job makes only that user. */
	if (res->klass == HTTPC_OK) {
		if (json_object_get(json_object_get(res->body, "data"), ES_ESAAS_USER))
			wf_refuse(&why, 409, "conflict", NULL,
				  "the cluster already has security (its Secret %s exists)",
				  RENDER_SECURITY_SECRET);
	} else if (res->status != 404)
		wf_refuse(&why, 503, "unavailable", NULL, "cannot read the cluster's Secret: %s",
			  res->message ? res->message : "no answer");
	p->done(p->arg, why.status ? &why : NULL);
	free(p);
}

/*
 * esaasd must be able to call a secured cluster (elasticsearch.security,
 * which needs elasticsearch.url), and the cluster must not have security
 * already: its Secret is there from the moment a create or a secure made
 * it, with esaas's password since esaas has a user of its own.
 */
static void secure_precheck(void *envp, const char *tenant, const char *ns, json_t *params,
			    void (*done)(void *arg, const struct wf_refusal *why), void *arg)
{
	struct wf_env *env = envp;
	struct wf_refusal why = {0};

	(void)tenant;
	(void)params;
	if (!env->cfg->es_security) {
		wf_refuse(&why, 409, "conflict", NULL,
			  "esaasd runs without Elasticsearch security (elasticsearch.security "
			  "false, or no elasticsearch.url): it could not call the cluster once "
			  "secured");
		done(arg, &why);
		return;
	}
	if (!env->kube || !ns) {
		wf_refuse(&why, 503, "unavailable", NULL, "no Kubernetes connection");
		done(arg, &why);
		return;
	}
	struct secure_check *p = xcalloc(1, sizeof(*p));
	p->done = done;
	p->arg = arg;
	char *coll = kube_collection_path("v1", "Secret", ns);
	char *path = xasprintf("%s/%s", coll, RENDER_SECURITY_SECRET);
	p->call = kube_get(env->kube, path, secret_read_cb, p);
	free(path);
	free(coll);
	if (!p->call) {
		free(p);
		wf_refuse(&why, 503, "unavailable", NULL, "cannot read the cluster's Secret");
		done(arg, &why);
	}
}

const struct workflow wf_secure = {
	.kind = "secure",
	.states = secure_states,
	.nstates = sizeof(secure_states) / sizeof(secure_states[0]),
	.cleanup = "undo_allocation",
	.request = secure_request,
	.prepare = secure_prepare,
	.precheck = secure_precheck,
	/* Every node stops: held to the cluster's maintenance windows. */
	.disruptive = wf_always_disruptive,
};
