/*
 * What the states share: the job's spec rendered, a call to Kubernetes or
 * Elasticsearch on behalf of a step and its report, the pods' tally, the
 * health a step accepts, and the table of the handlers' ways out.
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
#include "kube/watch.h"
#include "kube/render.h"
#include "kube/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How often a wait looks again (engine.wait_poll_ms). */
#define states_poll_ms(s) states_poll_ms(s)

int64_t states_poll_ms(struct step *s)
{
	struct wf_env *env = step_env(s);
	return env && env->cfg && env->cfg->wait_poll_ms > 0 ? env->cfg->wait_poll_ms : 2000;
}

void states_rendered_free(struct states_rendered *r)
{
	spec_free(&r->spec);
	json_decref(r->objects);
	free(r->ns);
	free(r);
}

/*
 * Object storage's settings and the tenant's key pair, read again at every
 * render so that a key changed in snapshots.s3_credentials_dir reaches the
 * cluster's Secret at its next apply.  One copy for the process: what
 * states_render_opts() hands out is good until its next call, and every
 * caller renders at once, in the one loop.
 */
static struct {
	struct render_s3 s3;
	char *access_key, *secret_key;
} s3_now;

const struct render_s3 *states_s3_opts(const struct config *cfg, const char *tenant)
{
	char why[512];
	const char *protocol = NULL;

	if (!cfg || !cfg->snapshots_s3_bucket)
		return NULL;
	free(s3_now.access_key);
	free(s3_now.secret_key);
	if (!config_s3_keys(cfg, tenant, &s3_now.access_key, &s3_now.secret_key, why, sizeof(why)))
		s3_now.access_key = s3_now.secret_key = NULL;
	const char *host = config_s3_endpoint_host(cfg->snapshots_s3_endpoint, &protocol);
	s3_now.s3 = (struct render_s3){
		.bucket = cfg->snapshots_s3_bucket,
		.endpoint = host,
		.protocol = host ? protocol : NULL,
		.path_style_access = cfg->snapshots_s3_path_style,
		.base_path = cfg->snapshots_s3_base_path,
		.access_key = s3_now.access_key,
		.secret_key = s3_now.secret_key,
	};
	return &s3_now.s3;
}

/* How esaasd renders: its configuration, the job's tenant, its cluster's
 * namespace and id as stored. */
void states_render_opts(struct step *s, const struct wf_env *env, struct render_opts *ro,
			struct render_security *sec)
{
	*ro = (struct render_opts){
		.tenant = step_tenant(s),
		.ns = step_namespace(s),
		.cluster_id = step_cluster_id(s),
		.image_registry = env->cfg->kube_image_registry,
		.plugin_repo_url = env->cfg->kube_plugin_repository,
		.rack_label = env->cfg->kube_rack_label,
		.allowed_images = env->cfg->kube_allowed_images,
		.utility_image = env->cfg->kube_utility_image,
		.tune_hosts = env->cfg->kube_tune_hosts,
		.api_server_cidrs = env->cfg->kube_api_server_cidrs,
		.esaasd_namespace = env->cfg->kube_esaasd_namespace,
		.snapshots_nfs_server = env->cfg->snapshots_nfs_server,
		.snapshots_nfs_path = env->cfg->snapshots_nfs_path,
		.s3 = states_s3_opts(env->cfg, step_tenant(s)),
	};
	if (sec && states_security_rendered(s, sec))
		ro->security = sec;
}

/*
 * cluster.initial_master_nodes is for the very first formation only
 * (https://www.elastic.co/guide/en/elasticsearch/reference/current/modules-discovery-bootstrap-cluster.html):
 * a create renders it, naming its masters, until they have formed a
 * cluster (context.cluster_uuid, state_wait_masters_formed); then the
 * masters' ConfigMap is applied again without it, and no other job ever
 * renders it: new masters with it, and empty data folders, that are a
 * majority of the list would bootstrap a second cluster.
 */
char **states_initial_masters(struct step *s, const struct spec *spec)
{
	const char *kind = step_kind(s);
	if (!kind || strcmp(kind, "create") != 0 || es_coordination(&spec->version) != ES_ZEN2 ||
	    json_object_get(step_context(s), "cluster_uuid"))
		return NULL;
	int n = spec->nodes[ES_ROLE_MASTER].replicas;
	char **names = xcalloc((size_t)n + 1, sizeof(*names));
	struct render_opts ro = {.tenant = step_tenant(s), .ns = step_namespace(s)};
	char *ns = render_cluster_namespace(spec, &ro);
	for (int i = 0; i < n; i++) {
		char *pod = xasprintf("%s-%d", render_workload_name(ES_ROLE_MASTER), i);
		names[i] = render_node_name(pod, ns);
		free(pod);
	}
	free(ns);
	return names;
}

/* The objects of spec_json (a spec in JSON); NULL after failing the step
 * with the reason. */
struct states_rendered *states_render_spec(struct step *s, json_t *spec_json, struct wf_env **envp)
{
	struct wf_env *env = step_env(s);
	if (!env || !env->kube) {
		step_fail(s, "no Kubernetes connection is configured (kubernetes.kubeconfig)");
		return NULL;
	}
	struct states_rendered *r = xcalloc(1, sizeof(*r));
	struct spec_error serr;
	if (!spec_parse(spec_json, &r->spec, &serr)) {
		step_fail(s, "the job's spec is invalid: %s: %s", serr.field, serr.message);
		free(r);
		return NULL;
	}
	struct render_opts ro;
	struct render_security sec;
	states_render_opts(s, env, &ro, &sec);
	char **boot = states_initial_masters(s, &r->spec);
	ro.initial_master_nodes = (const char *const *)boot;
	char err[256];
	bool ok = render_cluster(&r->spec, &ro, &r->objects, err, sizeof(err));
	for (char **b = boot; b && *b; b++)
		free(*b);
	free(boot);
	if (!ok) {
		step_fail(s, "cannot render the cluster: %s", err);
		spec_free(&r->spec);
		free(r);
		return NULL;
	}
	r->ns = render_cluster_namespace(&r->spec, &ro);
	*envp = env;
	return r;
}

/* The objects of the job's spec (params.spec). */
struct states_rendered *states_render_job(struct step *s, struct wf_env **envp)
{
	return states_render_spec(s, json_object_get(step_params(s), "spec"), envp);
}

void states_call_finish(struct state_call *l)
{
	json_decref(l->nodes);
	es_free(l->es);
	states_rendered_free(l->r);
	free(l);
}

int64_t states_wait_ms(struct state_call *l)
{
	struct step *s = l->step;
	if (!l->env->watches)
		return states_poll_ms(s);
	switch (kube_watches_wait(l->env->watches, l->r->ns, l->watch_seq, step_job_id(s))) {
	case KUBE_WAIT_CHANGED:
		return 0;
	case KUBE_WAIT_WOKEN:
		/* Woken by the watch; the poll stays at its interval, for
		 * what Elasticsearch does between two changes of its pods
		 * (a longer one left waits that no pod's change ends, such
		 * as the masters' election, to wait it out). */
	case KUBE_WAIT_POLL:
		break;
	}
	return states_poll_ms(s);
}

int64_t states_wait_endpoints_ms(struct state_call *l)
{
	int64_t ms = states_wait_ms(l);
	return l->env->watches && ms > STATES_ENDPOINTS_RETRY_MS ? STATES_ENDPOINTS_RETRY_MS : ms;
}

static void states_call_abort_cb(void *arg)
{
	struct state_call *l = arg;
	kube_cancel(l->kcall);
	es_cancel(l->ecall);
	states_call_finish(l);
}

struct state_call *states_call_new(struct step *s)
{
	struct wf_env *env;
	struct states_rendered *r = states_render_job(s, &env);
	if (!r)
		return NULL;
	struct state_call *l = xcalloc(1, sizeof(*l));
	l->step = s;
	l->env = env;
	l->r = r;
	if (env->watches)
		l->watch_seq = kube_watches_seq(env->watches, r->ns);
	step_on_abort(s, states_call_abort_cb, l);
	return l;
}

/* An Elasticsearch client for one of the cluster's services, speaking the
 * spec's version (paths and bodies differ between versions). */
void states_call_connect(struct state_call *l, const char *service)
{
	struct es_credentials cred;
	l->es = es_new_for_cluster(l->env->kube, l->env->http, l->env->cfg->es_url_template,
				   l->r->ns, service);
	es_direct_connect_to(l->es, l->env->cfg->es_connect_to);
	if (states_es_credentials(l->step, &cred))
		es_use_credentials(l->es, &cred);
	es_set_version(l->es, &l->r->spec.version);
}

/* states_call_new, with an Elasticsearch client for the cluster's service. */
struct state_call *states_call_es(struct step *s, const char *service)
{
	struct state_call *l = states_call_new(s);
	if (l)
		states_call_connect(l, service);
	return l;
}

static void owner_read_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	char why[512];

	l->kcall = NULL;
	if (res->status == 404) {
		l->owned(l, false);
		return;
	}
	if (!states_call_kube_ok(l, res))
		return;
	if (render_namespace_owner(res->body, step_tenant(l->step), l->r->spec.name,
				   step_cluster_id(l->step), why, sizeof(why)) == RENDER_NS_OTHER) {
		states_call_report(l, false, false, why);
		return;
	}
	l->owned(l, true);
}

void states_check_owner(struct state_call *l, void (*owned)(struct state_call *l, bool present))
{
	char *path = xasprintf("/api/v1/namespaces/%s", l->r->ns);

	l->owned = owned;
	l->kcall = kube_get(l->env->kube, path, owner_read_cb, l);
	free(path);
	if (!l->kcall)
		states_call_report(l, false, false, "cannot read the namespace");
}

/*
 * The context key of how long a state may go on reading the namespace's
 * watch instead of asking: {"state": its name, "ms": since it began or
 * last asked, "began": since it began}.
 */
#define WATCH_TRUSTED "watch_trusted"

/* The record of s's state, or NULL when it is another state's. */
static json_t *watch_record(struct step *s)
{
	json_t *t = json_object_get(step_context(s), WATCH_TRUSTED);
	const char *state = json_str(t, "state");
	return state && step_state(s) && !strcmp(state, step_state(s)) ? t : NULL;
}

/* The state's record, asked (or begun) at now. */
static void watch_record_set(struct step *s, int64_t now)
{
	json_t *t = watch_record(s);
	json_int_t began = t ? json_integer_value(json_object_get(t, "began")) : (json_int_t)now;
	json_object_set_new(step_context(s), WATCH_TRUSTED,
			    json_pack("{s:s?, s:I, s:I}", "state", step_state(s), "ms",
				      (json_int_t)now, "began", began));
}

bool states_watch_trusted(struct state_call *l)
{
	struct step *s = l->step;
	if (!l->env->watches)
		return false;
	json_t *t = watch_record(s);
	int64_t now = now_wall_ms();
	if (!t) {
		watch_record_set(s, now);
		return true;
	}
	return now - json_integer_value(json_object_get(t, "ms")) < STATES_WATCH_TRUSTED_MS;
}

bool states_watch_settling(struct state_call *l)
{
	json_t *t = l->env->watches ? watch_record(l->step) : NULL;
	return t && now_wall_ms() - json_integer_value(json_object_get(t, "began")) <
			    STATES_WATCH_SETTLE_MS;
}

void states_asked(struct state_call *l)
{
	if (l->env->watches)
		watch_record_set(l->step, now_wall_ms());
}

void states_watch_done(struct step *s)
{
	json_object_del(step_context(s), WATCH_TRUSTED);
}

json_t *states_watched_pods(struct state_call *l, const char *role)
{
	if (!states_watch_trusted(l))
		return NULL;
	json_t *pods = kube_watches_pods(l->env->watches, l->r->ns);
	if (!pods)
		return NULL;
	json_t *items = json_array();
	const char *name;
	json_t *pod;
	json_object_foreach (pods, name, pod) {
		json_t *labels = json_object_get(json_object_get(pod, "metadata"), "labels");
		const char *cluster = json_str(labels, RENDER_LABEL_CLUSTER);
		const char *r = json_str(labels, RENDER_LABEL_ROLE);
		if (cluster && !strcmp(cluster, l->r->spec.name) &&
		    (!role || (r && !strcmp(r, role))))
			json_array_append(items, pod);
	}
	return items;
}

bool states_no_endpoint_yet(struct state_call *l, const char *service)
{
	return states_watch_trusted(l) &&
	       kube_watches_endpoints(l->env->watches, l->r->ns, service) == KUBE_ENDPOINTS_NONE;
}

void states_list_pods(struct state_call *l, const char *role,
		      void (*cb)(void *arg, const struct kube_result *res), void *arg)
{
	char *path = kube_collection_path("v1", "Pod", l->r->ns);
	char *sel = role ? xasprintf("%s=%s,%s=%s", RENDER_LABEL_CLUSTER, l->r->spec.name,
				     RENDER_LABEL_ROLE, role)
			 : xasprintf("%s=%s", RENDER_LABEL_CLUSTER, l->r->spec.name);
	l->kcall = kube_list(l->env->kube, path, sel, cb, arg);
	free(sel);
	free(path);
}

/* The context key of when a wait for pods began, as event times are
 * written ("2026-01-02T03:04:05Z"). */
#define MISSING_SINCE "pods_wait_since"

static const char *wait_since(struct step *s)
{
	json_t *ctx = step_context(s);
	if (!json_str(ctx, MISSING_SINCE)) {
		/* The workloads were applied before the wait: their first
		 * refusals may be a little older. */
		time_t t = (time_t)(now_wall_ms() / 1000) - 30;
		struct tm tm;
		char buf[32];
		gmtime_r(&t, &tm);
		strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_object_set_new(ctx, MISSING_SINCE, json_string(buf));
	}
	return json_str(ctx, MISSING_SINCE);
}

static void failed_create_cb(void *arg, const struct kube_result *res)
{
	struct state_call *l = arg;
	l->kcall = NULL;
	struct step *s = l->step;
	char *observed = xstrdup(json_str(l->nodes, "observed"));
	const char *since = wait_since(s);
	json_t *newest = NULL;
	size_t i;
	json_t *e;
	json_array_foreach (json_object_get(res->klass == HTTPC_OK ? res->body : NULL, "items"), i,
			    e) {
		const char *at = json_str(e, "lastTimestamp");
		const char *reason = json_str(e, "reason");
		if (!at || !reason || strcmp(reason, "FailedCreate") != 0 || strcmp(at, since) < 0)
			continue;
		if (!newest || strcmp(at, json_str(newest, "lastTimestamp")) >= 0)
			newest = e;
	}
	char *why = newest ? xasprintf("%s; %s FailedCreate: %s", observed,
				       json_str(json_object_get(newest, "involvedObject"), "name"),
				       json_str(newest, "message"))
			   : xstrdup(observed);
	bool refused = newest && strstr(json_str(newest, "message"), "violates PodSecurity");
	int64_t wait_ms = refused ? 0 : states_wait_ms(l);
	states_call_finish(l);
	if (refused) {
		/* A replay after the level is fixed starts a new wait. */
		json_object_del(step_context(s), MISSING_SINCE);
		step_fail(s, "%s", why);
	} else {
		step_wait(s, wait_ms, "%s", why);
	}
	free(why);
	free(observed);
}

void states_explain_missing_pods(struct state_call *l, const char *observed)
{
	char *coll = kube_collection_path("v1", "Event", l->r->ns);
	char *path = xasprintf("%s?fieldSelector=reason%%3DFailedCreate", coll);
	(void)wait_since(l->step);
	json_decref(l->nodes);
	l->nodes = json_pack("{s:s}", "observed", observed);
	l->kcall = kube_get(l->env->kube, path, failed_create_cb, l);
	free(path);
	free(coll);
}

bool states_call_kube_ok(struct state_call *l, const struct kube_result *res)
{
	l->kcall = NULL;
	if (res->klass == HTTPC_OK)
		return true;
	states_call_report(l, false, true, res->message);
	return false;
}

/* End the look and report: next, retry (transient) or fail, with msg. */
bool states_call_es_ok(struct state_call *l, const struct es_result *res, const char *what)
{
	struct step *s = l->step;

	l->ecall = NULL;
	if (res->klass == HTTPC_OK)
		return true;
	char *msg = xstrdup(res->message ? res->message : "no answer");
	/* Elasticsearch answers once its pods do: their changes wake it. */
	int64_t wait_ms = states_wait_ms(l);
	states_call_finish(l);
	step_wait(s, wait_ms, "%s: %s", what, msg);
	free(msg);
	return false;
}

void states_call_report(struct state_call *l, bool ok, bool transient, const char *msg)
{
	struct step *s = l->step;
	char *copy = xstrdup(msg ? msg : "");
	states_call_finish(l);
	if (ok)
		step_next(s);
	else if (transient)
		step_retry(s, "%s", copy);
	else
		step_fail(s, "%s", copy);
	free(copy);
}

/* What a container waits for, as far as a wait on it cares. */
enum trouble {
	TROUBLE_NONE,	     /* its turn, or nothing */
	TROUBLE_OTHER,	     /* something the kubelet retries (a crash, a missing Secret) */
	TROUBLE_PULL,	     /* its image: the registry refused it, the kubelet tries again */
	TROUBLE_UNSTARTABLE, /* something no retry gets past */
};

/*
 * The first container of the pod (init containers first) that waits for
 * something other than its turn: its name and the kubelet's reason and
 * message (CreateContainerConfigError, ImagePullBackOff,
 * CrashLoopBackOff, ...), into why after the pod's name and phase.
 * InvalidImageName (a reference that does not parse) and ErrImageNeverPull
 * (pull policy Never, the image not on the node) stay until the pod
 * changes: pkg/kubelet/images/image_manager.go answers them the same way
 * at every sync.
 */
static enum trouble container_trouble(json_t *status, const char *name, const char *phase,
				      char *why, size_t len)
{
	static const char *const lists[] = {"initContainerStatuses", "containerStatuses"};
	for (size_t l = 0; l < 2; l++) {
		size_t i;
		json_t *c;
		json_array_foreach (json_object_get(status, lists[l]), i, c) {
			json_t *w = json_object_get(json_object_get(c, "state"), "waiting");
			const char *reason = json_str(w, "reason");
			const char *msg = json_str(w, "message");
			if (!reason || !strcmp(reason, "ContainerCreating") ||
			    !strcmp(reason, "PodInitializing"))
				continue;
			snprintf(why, len, "%s %s: container %s waiting: %s%s%s", name, phase,
				 json_str(c, "name") ? json_str(c, "name") : "?", reason,
				 msg ? ": " : "", msg ? msg : "");
			if (!strcmp(reason, "InvalidImageName") ||
			    !strcmp(reason, "ErrImageNeverPull"))
				return TROUBLE_UNSTARTABLE;
			if (!strcmp(reason, "ErrImagePull") || !strcmp(reason, "ImagePullBackOff"))
				return TROUBLE_PULL;
			return TROUBLE_OTHER;
		}
	}
	return TROUBLE_NONE;
}

/* Is the pod Ready; if not, why not (its condition's message, or what a
 * container waits for), into why, and *trouble what that is. */
static bool pod_ready(json_t *pod, char *why, size_t len, enum trouble *trouble)
{
	json_t *status = json_object_get(pod, "status");
	size_t i;
	json_t *c;
	const char *name = json_str(json_object_get(pod, "metadata"), "name");
	const char *phase = json_str(status, "phase");
	snprintf(why, len, "%s %s", name ? name : "?", phase ? phase : "unknown");
	*trouble =
		container_trouble(status, name ? name : "?", phase ? phase : "unknown", why, len);
	json_array_foreach (json_object_get(status, "conditions"), i, c) {
		const char *type = json_str(c, "type");
		const char *st = json_str(c, "status");
		const char *msg = json_str(c, "message");
		if (type && strcmp(type, "Ready") == 0 && st && strcmp(st, "True") == 0)
			return true;
		if (type && strcmp(type, "PodScheduled") == 0 && st && strcmp(st, "False") == 0 &&
		    msg)
			snprintf(why, len, "%s Pending: %s", name ? name : "?", msg);
	}
	return false;
}

/* The context key of when a wait first saw a pod's image refused (s). */
#define PULL_REFUSED_SINCE "image_pull_refused_since"

bool states_fail_unstartable(struct step *s, const struct wf_env *env,
			     const struct states_pod_tally *t, const char *observed)
{
	json_t *ctx = step_context(s);
	int limit = env && env->cfg && env->cfg->kube_image_pull_timeout_s > 0
			    ? env->cfg->kube_image_pull_timeout_s
			    : 300;

	/* The pod's own words, unless the observation has them already. */
	const char *pod = t->unstartable[0] ? t->unstartable : t->pull_refused;
	bool said = strstr(observed, pod) != NULL;

	if (t->unstartable[0]) {
		step_fail(s, "%s%s%s; the kubelet does not get past this by retrying", observed,
			  said ? "" : "; ", said ? "" : pod);
		return true;
	}
	if (!t->pull_refused[0]) {
		json_object_del(ctx, PULL_REFUSED_SINCE);
		return false;
	}
	int64_t now = now_wall_ms() / 1000;
	json_t *since = json_object_get(ctx, PULL_REFUSED_SINCE);
	if (!json_is_integer(since)) {
		json_object_set_new(ctx, PULL_REFUSED_SINCE, json_integer(now));
		return false;
	}
	int64_t waited = now - (int64_t)json_integer_value(since);
	if (waited < limit)
		return false;
	json_object_del(ctx, PULL_REFUSED_SINCE);
	step_fail(s,
		  "%s%s%s; the image not pulled for %llds (kubernetes.image_pull_timeout_seconds: "
		  "%d)",
		  observed, said ? "" : "; ", said ? "" : pod, (long long)waited, limit);
	return true;
}

/*
 * Count a pod list.  skip_deleting: pods on their way out do not count;
 * skip_uid: nor does that pod (a restarted one), only noted as present.
 */
void states_tally_pods(json_t *items, bool skip_deleting, const char *skip_uid,
		       struct states_pod_tally *t)
{
	memset(t, 0, sizeof(*t));
	size_t i;
	json_t *pod;
	json_array_foreach (items, i, pod) {
		json_t *meta = json_object_get(pod, "metadata");
		const char *uid = json_str(meta, "uid");
		if (skip_uid && uid && strcmp(uid, skip_uid) == 0) {
			t->old_present = true;
			continue;
		}
		if (skip_deleting && json_object_get(meta, "deletionTimestamp"))
			continue;
		char why[512];
		enum trouble trouble;
		t->pods++;
		if (pod_ready(pod, why, sizeof(why), &trouble)) {
			t->ready++;
			continue;
		}
		if (!t->first_missing[0])
			snprintf(t->first_missing, sizeof(t->first_missing), "%s", why);
		if (trouble == TROUBLE_UNSTARTABLE && !t->unstartable[0])
			snprintf(t->unstartable, sizeof(t->unstartable), "%s", why);
		if (trouble == TROUBLE_PULL && !t->pull_refused[0])
			snprintf(t->pull_refused, sizeof(t->pull_refused), "%s", why);
	}
}

void states_settings_put_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	bool ok = res->klass == HTTPC_OK;
	bool transient = res->klass == HTTPC_TRANSIENT || res->status == 0;
	/* Only an acknowledged undo is recorded: a retry must send it again. */
	const char *flag = ok ? l->clear_flag : NULL;
	char *msg = xstrdup(res->message ? res->message : "");
	states_call_finish(l);
	if (flag)
		json_object_set_new(step_context(s), flag, json_false());
	if (ok)
		step_next(s);
	else if (transient)
		step_retry(s, "%s", msg);
	else
		step_fail(s, "%s", msg);
	free(msg);
}

/* Green, or yellow when the job allows it (params.allow_yellow), or when a
 * forced scale-down accepted copies that cannot be placed (params.force). */
const char *states_health_wanted(struct step *s)
{
	json_t *p = step_params(s);
	return json_is_true(json_object_get(p, "allow_yellow")) ||
			       json_is_true(json_object_get(p, "force"))
		       ? "yellow"
		       : "green";
}

int64_t states_health_wait_ms(struct step *s, long status)
{
	return status == 408 ? 0 : states_poll_ms(s);
}

bool states_healthy_enough(struct step *s, const char *status)
{
	json_t *p = step_params(s);
	if (!status)
		return false;
	if (strcmp(status, "green") == 0)
		return true;
	return strcmp(status, "yellow") == 0 && (json_is_true(json_object_get(p, "allow_yellow")) ||
						 json_is_true(json_object_get(p, "force")));
}

/* --- the handlers' ways out ------------------------------------------------------- */

int state_ways(state_run_fn run)
{
	static const struct {
		state_run_fn run;
		int ways;
	} branching[] = {
		/* One a line, for tests/style/ways.sh. */
		/* clang-format off */
		{state_scale_plan, SCALE_PLAN_WAYS},
		{state_restart_next, RESTART_NEXT_WAYS},
		{state_masters_next, MASTERS_NEXT_WAYS},
		{state_config_route, CONFIG_ROUTE_WAYS},
		{state_wipe_route, WIPE_ROUTE_WAYS},
		{state_upgrade_route, UPGRADE_ROUTE_WAYS},
		{state_upgrade_snapshot_route, UPGRADE_SNAPSHOT_WAYS},
		{state_secure_make, SECURE_MAKE_WAYS},
		/* clang-format on */
	};
	for (size_t i = 0; i < sizeof(branching) / sizeof(branching[0]); i++)
		if (branching[i].run == run)
			return branching[i].ways;
	return 0;
}

/* --- a transient setting that would shadow ours ------------------------------------ */

/*
 * Elasticsearch applies a transient setting over a persistent one, and
 * either over elasticsearch.yml
 * (https://www.elastic.co/guide/en/elasticsearch/reference/7.17/cluster-update-settings.html,
 * "Order of precedence").  esaas writes persistent settings
 * (es_settings_scope): a transient value of the same key left by someone
 * else (a "cluster.routing.allocation.enable": "none" from a manual
 * maintenance) would silently win over the pause, and over its undo.  So
 * before writing, such a value is recorded in context.transient_cleared
 * (the first value seen for each key) and cleared; it is not put back: it
 * would undo what the job needs and leaves.  2.x takes no null to reset a
 * setting (elastic/elasticsearch#17996, from 5.0): there the transient
 * value becomes the setting's default.
 */
static const char *transient_default(const char *key)
{
	return strcmp(key, "cluster.routing.allocation.enable") == 0 ? "all" : "";
}

static void transient_cleared_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	if (!states_call_es_ok(l, res, "clearing a transient setting that shadows esaas's"))
		return;
	json_t *settings = l->nodes;
	l->nodes = NULL;
	l->ecall = es_put_settings(l->es, settings, states_settings_put_cb, l);
	json_decref(settings);
}

static void transient_read_cb(void *arg, const struct es_result *res)
{
	struct state_call *l = arg;
	l->ecall = NULL;
	if (!states_call_es_ok(l, res, "reading the cluster settings"))
		return;
	struct step *s = l->step;
	bool null_resets = l->r->spec.version.major >= 5;
	json_t *transient = json_object_get(res->body, "transient");
	json_t *persistent = json_object_get(res->body, "persistent");
	json_t *ctx = step_context(s);
	json_t *clear = json_object();
	const char *k;
	json_t *v;
	json_t *before = json_object_get(ctx, "settings_before");
	if (!json_is_object(before)) {
		before = json_object();
		json_object_set_new(ctx, "settings_before", before);
	}
	json_object_foreach (l->nodes, k, v) {
		/* What the undo puts back where null resets nothing (2.x). */
		if (!json_object_get(before, k)) {
			json_t *p = json_object_get(persistent, k);
			json_object_set_new(before, k,
					    json_is_string(p) ? json_incref(p) : json_null());
		}
	}
	json_object_foreach (l->nodes, k, v) {
		json_t *t = json_object_get(transient, k);
		if (!t || json_is_null(t))
			continue;
		json_t *rec = json_object_get(ctx, "transient_cleared");
		if (!json_is_object(rec)) {
			rec = json_object();
			json_object_set_new(ctx, "transient_cleared", rec);
		}
		if (!json_object_get(rec, k))
			json_object_set(rec, k, t);
		json_object_set_new(clear, k,
				    null_resets ? json_null() : json_string(transient_default(k)));
	}
	if (json_object_size(clear) == 0) {
		json_decref(clear);
		json_t *settings = l->nodes;
		l->nodes = NULL;
		l->ecall = es_put_settings(l->es, settings, states_settings_put_cb, l);
		json_decref(settings);
		return;
	}
	step_progress(s);
	json_t *body = json_pack("{s:o}", "transient", clear);
	l->ecall = es_request(l->es, "PUT", "/_cluster/settings?flat_settings=true", body,
			      transient_cleared_cb, l);
	json_decref(body);
}

void states_put_settings_over_transient(struct state_call *l, json_t *settings)
{
	json_decref(l->nodes);
	l->nodes = json_incref(settings);
	l->ecall = es_get_settings(l->es, transient_read_cb, l);
}

json_t *states_undo_value(struct step *s, const struct spec *spec, const char *key)
{
	if (spec->version.major >= 5)
		return json_null();
	json_t *was = json_object_get(json_object_get(step_context(s), "settings_before"), key);
	return json_string(json_is_string(was) ? json_string_value(was) : transient_default(key));
}
