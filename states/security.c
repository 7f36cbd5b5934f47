/*
 * A cluster's Elasticsearch security: made once by its create, for the
 * versions whose free licence has it, when esaasd is configured for it
 * (elasticsearch.security); then read by every job of the cluster to
 * render its pods and to call it (kube/render_security.c).
 */
#include "states/internal.h"
#include "states/states.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>

#include "common/base64.h"
#include "common/config.h"
#include "common/pki.h"
#include "common/util.h"
#include "common/json.h"
#include "engine/fsm.h"
#include "es/client.h"
#include "kube/client.h"
#include "kube/render.h"
#include "states/env.h"

#define CA_DAYS 3650
#define CERT_DAYS 3650
#define PASSWORD_BYTES 24 /* 32 characters of base64url */

static bool security_fields(json_t *j, struct render_security *sec)
{
	*sec = (struct render_security){
		.ca_crt = json_str(j, "ca_crt"),
		.tls_crt = json_str(j, "tls_crt"),
		.tls_key = json_str(j, "tls_key"),
		.elastic_password = json_str(j, "elastic"),
		.kibana_password = json_str(j, "kibana_system"),
		.esaas_password = json_str(j, ES_ESAAS_USER),
	};
	return sec->ca_crt && sec->tls_crt && sec->tls_key && sec->elastic_password &&
	       sec->kibana_password;
}

bool states_security_of(struct step *s, struct render_security *sec)
{
	return security_fields(step_security(s), sec);
}

/* What the nodes are to run with: a secure job's new material until its
 * switch (context es_security_next), else the cluster's own. */
bool states_security_rendered(struct step *s, struct render_security *sec)
{
	json_t *next = json_object_get(step_context(s), "es_security_next");
	return security_fields(next ? next : step_security(s), sec);
}

/* esaas's own user once the cluster records that it exists, elastic
 * before (es_security_credentials()). */
bool states_es_credentials(struct step *s, struct es_credentials *cred)
{
	struct render_security sec;

	if (!states_security_of(s, &sec))
		return false;
	return es_security_credentials(step_security(s), cred);
}

static char *new_password(void)
{
	unsigned char raw[PASSWORD_BYTES];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return NULL;
	return base64url_encode(raw, sizeof(raw));
}

/*
 * The CA and the one certificate of the cluster's nodes: its names are
 * every Service's of the namespace (es-http, the masters' headless one) and
 * every pod's through the headless one, short and fully qualified, so that
 * esaasd and Kibana can check the node they reach whichever it is.
 */
static json_t *make_security(const char *ns, char *err, size_t errlen)
{
	char *headless = render_headless_service(ns);
	char *names[] = {
		xasprintf("*.%s.svc", ns),
		xasprintf("*.%s.svc.cluster.local", ns),
		xasprintf("*.%s.%s.svc", headless, ns),
		xasprintf("*.%s.%s.svc.cluster.local", headless, ns),
		xstrdup(RENDER_HTTP_SERVICE),
	};
	char *cn = xasprintf("%s CA", ns);
	char *elastic = new_password(), *kibana = new_password(), *own = new_password();
	struct pki_pair ca = {0}, node = {0};
	json_t *out = NULL;

	if (!elastic || !kibana || !own) {
		snprintf(err, errlen, "no random bytes for the passwords");
		goto done;
	}
	if (!pki_make_ca(cn, CA_DAYS, &ca, err, errlen) ||
	    !pki_make_cert(&ca, ns, (const char *const *)names, ARRAY_SIZE(names), CERT_DAYS, &node,
			   err, errlen))
		goto done;
	out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "ca_crt", ca.cert_pem, "ca_key",
			ca.key_pem, "tls_crt", node.cert_pem, "tls_key", node.key_pem, "elastic",
			elastic, "kibana_system", kibana, ES_ESAAS_USER, own);
done:
	pki_pair_free(&ca);
	pki_pair_free(&node);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		free(names[i]);
	free(headless);
	free(cn);
	free(elastic);
	free(kibana);
	free(own);
	return out;
}

/* The security record the job goes on with: the context's, else a copy of
 * the cluster's put in the context (the transition keeps what it adds with
 * the cluster, storage/jobrun.c). */
static json_t *context_security(struct step *s)
{
	json_t *ctx = step_context(s);
	json_t *sec = json_object_get(ctx, "es_security");

	if (!sec) {
		sec = json_deep_copy(step_security(s));
		json_object_set_new(ctx, "es_security", sec);
	}
	return sec;
}

static void esaas_user_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	bool ok = res->klass == HTTPC_OK;
	char *msg = ok ? NULL
		       : xasprintf("creating esaas's user %s failed: %s", ES_ESAAS_USER,
				   res->message ? res->message : "no answer");
	l->ecall = NULL;
	/* From the next call on, esaasd calls the cluster as its own user. */
	if (ok)
		json_object_set_new(context_security(l->step), "esaas_user", json_true());
	states_call_report(l, ok, res->klass == HTTPC_TRANSIENT, msg);
	free(msg);
}

/*
 * esaas's own user, a superuser of the native realm, with the password of
 * the cluster's security record (secure_user_secret adds one to a record
 * from before esaas had a user; without one, nothing is made).  The API
 * creates the user or updates it
 * (https://www.elastic.co/guide/en/elasticsearch/reference/7.17/security-api-put-user.html;
 * /_xpack/security/user/ on 6.x,
 * https://www.elastic.co/guide/en/elasticsearch/reference/6.8/security-api-put-user.html),
 * so a replay sending the same again is harmless.
 */
static void create_esaas_user(struct state_call *l)
{
	json_t *sec = context_security(l->step);
	const char *password = json_str(sec, ES_ESAAS_USER);

	/* Material made before esaas had a user of its own (a create that an
	 * older esaasd began): the cluster stays as such clusters are, called
	 * as elastic until a secure job makes the user. */
	if (!password) {
		states_call_report(l, true, false, NULL);
		return;
	}
	const struct es_version *v = &l->r->spec.version;
	char *path = xasprintf("/%s/user/%s", v->major >= 7 ? "_security" : "_xpack/security",
			       ES_ESAAS_USER);
	json_t *body = json_pack("{s:s, s:[s], s:s}", "password", password, "roles", "superuser",
				 "full_name", "esaas (the service operating this cluster)");
	l->ecall = es_request(l->es, "PUT", path, body, esaas_user_cb, l);
	json_decref(body);
	free(path);
	if (!l->ecall)
		states_call_report(l, false, false, "cannot send the request");
}

static void kibana_password_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	if (res->klass == HTTPC_OK) {
		create_esaas_user(l);
		return;
	}
	char *msg = xasprintf("setting Kibana's password failed: %s",
			      res->message ? res->message : "no answer");
	states_call_report(l, false, res->klass == HTTPC_TRANSIENT, msg);
	free(msg);
}

/*
 * Kibana's built-in user has no password until one is set through the
 * API (https://www.elastic.co/guide/en/elasticsearch/reference/7.17/security-api-change-password.html):
 * elastic sets the one of the cluster's Secret, for kibana_system from
 * 7.8 (kibana before; the _xpack/ path on 6.x).  Then esaas's own user
 * (create_esaas_user()), which esaasd calls the cluster as from then on:
 * the tenant may change or disable elastic without locking esaas out.
 * Both are harmless again, so a replay may.  A cluster without security
 * has nothing to do.
 */
void state_set_kibana_password(struct step *s)
{
	struct render_security sec;

	if (!states_security_of(s, &sec)) {
		step_next(s);
		return;
	}
	struct state_call *l = states_call_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	const struct es_version *v = &l->r->spec.version;
	const char *user = es_version_at_least(v, 7, 8, 0) ? "kibana_system" : "kibana";
	char *path = xasprintf("/%s/user/%s/_password",
			       v->major >= 7 ? "_security" : "_xpack/security", user);
	json_t *body = json_pack("{s:s}", "password", sec.kibana_password);
	l->ecall = es_request(l->es, "POST", path, body, kibana_password_cb, l);
	json_decref(body);
	free(path);
	if (!l->ecall)
		states_call_report(l, false, false, "cannot send the request");
}

void state_apply_security(struct step *s)
{
	struct wf_env *env;
	struct states_rendered *r = states_render_job(s, &env);
	char err[256];

	if (!r)
		return;
	/* Made once: a replay, or a cluster that has it, keeps what it has. */
	if (!step_security(s) && env->cfg->es_security) {
		char *image = NULL;
		struct render_opts ro;
		states_render_opts(s, env, &ro, NULL);
		image = render_image(&r->spec, &ro, err, sizeof(err));
		if (image && render_security_applies(&r->spec.version, image)) {
			json_t *made = make_security(r->ns, err, sizeof(err));
			if (!made) {
				free(image);
				states_rendered_free(r);
				step_fail(s, "cannot make the cluster's certificates: %s", err);
				return;
			}
			json_object_set_new(step_context(s), "es_security", made);
		}
		free(image);
	}
	states_rendered_free(r);
	states_apply_kind(s, "Secret", NULL);
}

/* --- securing a cluster created without security (workflows/secure.c) ------------- */

/*
 * A cluster secured before esaas had a user of its own goes on to
 * secure_user_secret and set_kibana_password, which make that user
 * (SECURE_MAKE_USER_ONLY).
 * Else the cluster's CA, certificate and passwords, made once (a replay keeps
 * them) as context.es_security_next, which only the rendering reads
 * (states_security_rendered()): esaasd goes on calling the cluster as it
 * is, without credentials, until the switch.  Then its Secret.
 */
void state_secure_make(struct step *s)
{
	json_t *ctx = step_context(s);
	struct wf_env *env;
	struct states_rendered *r;
	char err[256];

	json_t *had = step_security(s);
	if (had && !json_is_true(json_object_get(had, "esaas_user"))) {
		step_branch(s, SECURE_MAKE_USER_ONLY);
		return;
	}
	if (had) {
		step_fail(s, "the cluster already has security");
		return;
	}
	if (!json_object_get(ctx, "es_security_next")) {
		r = states_render_job(s, &env);
		if (!r)
			return;
		struct render_opts ro;
		states_render_opts(s, env, &ro, NULL);
		char *image = render_image(&r->spec, &ro, err, sizeof(err));
		bool applies = image && render_security_applies(&r->spec.version, image);
		json_t *made = applies ? make_security(r->ns, err, sizeof(err)) : NULL;
		free(image);
		states_rendered_free(r);
		if (!applies) {
			step_fail(s, "the cluster's image has no security in its free licence");
			return;
		}
		if (!made) {
			step_fail(s, "cannot make the cluster's certificates: %s", err);
			return;
		}
		json_object_set_new(ctx, "es_security_next", made);
	}
	states_apply_kind(s, "Secret", NULL);
}

/*
 * A cluster secured before esaas had a user of its own: esaas's password
 * is added to its security record (made once: a replay keeps it) and to
 * its Secret, which set_kibana_password then makes the user with.
 */
void state_secure_user_secret(struct step *s)
{
	json_t *sec = context_security(s);

	if (!json_str(sec, ES_ESAAS_USER)) {
		char *made = new_password();
		if (!made) {
			step_fail(s, "no random bytes for esaas's password");
			return;
		}
		json_object_set_new(sec, ES_ESAAS_USER, json_string(made));
		free(made);
	}
	states_apply_kind(s, "Secret", NULL);
}

/* Every node has stopped: from here on esaasd calls the cluster with its
 * credentials, over https, and the cluster keeps them (the transition
 * records context.es_security with it, storage/jobrun.c). */
void state_secure_switch(struct step *s)
{
	json_t *ctx = step_context(s);
	json_t *next = json_object_get(ctx, "es_security_next");

	if (next) {
		json_object_set(ctx, "es_security", next);
		json_object_del(ctx, "es_security_next");
	}
	step_next(s);
}

static void secret_deleted_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	l->kcall = NULL;
	bool ok = res->klass == HTTPC_OK || res->status == 404;
	states_call_report(l, ok, res->klass == HTTPC_TRANSIENT,
			   ok ? NULL
			      : (res->message ? res->message : "deleting the Secret failed"));
}

/*
 * After a cancel or a failure.  Once the stop has begun (context.stopping),
 * the nodes come back with security: the cluster keeps it (the switch, if
 * it was not made).  Before, the material is dropped and the Secret
 * deleted; the next states apply the configuration and the templates
 * again, now without security: no node has restarted.
 */
void state_secure_undo(struct step *s)
{
	json_t *ctx = step_context(s);

	/* Secured before the job (SECURE_MAKE_USER_ONLY: no new material, no
	 * stop): the cluster keeps its security, and its Secret is what the
	 * cluster's record holds (esaas's password once the user was made,
	 * none before, so that another secure may make it). */
	if (!json_object_get(ctx, "es_security_next") && !json_object_get(ctx, "stopping") &&
	    step_security(s)) {
		json_t *sec = json_object_get(ctx, "es_security");
		if (!json_is_true(json_object_get(sec, "esaas_user")))
			json_object_del(ctx, "es_security");
		states_apply_kind(s, "Secret", NULL);
		return;
	}
	if (json_object_get(ctx, "es_security")) {
		step_next_noting(s, "the nodes restarted with security: the cluster keeps it");
		return;
	}
	if (json_object_get(ctx, "stopping")) {
		state_secure_switch(s);
		return;
	}
	json_object_del(ctx, "es_security_next");
	struct state_call *l = states_call_new(s);
	if (!l)
		return;
	char *coll = kube_collection_path("v1", "Secret", l->r->ns);
	char *path = xasprintf("%s/%s", coll, RENDER_SECURITY_SECRET);
	l->kcall = kube_delete(l->env->kube, path, NULL, NULL, secret_deleted_cb, l);
	free(path);
	free(coll);
	if (!l->kcall)
		states_call_report(l, false, false, "cannot delete the Secret");
}
