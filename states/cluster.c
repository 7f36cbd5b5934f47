#include "states/cluster.h"
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

/* How often a wait looks again (engine.wait_poll_ms). */
#define WAIT_POLL_MS wait_poll_ms(s)

static int64_t wait_poll_ms(struct step *s)
{
	struct wf_env *env = step_env(s);
	return env && env->cfg && env->cfg->wait_poll_ms > 0 ? env->cfg->wait_poll_ms : 2000;
}

/* The spec and its rendered objects, for one run of a state. */
struct rendered {
	struct spec spec;
	json_t *objects;
	char *ns;
};

static void rendered_free(struct rendered *r)
{
	spec_free(&r->spec);
	json_decref(r->objects);
	free(r->ns);
	free(r);
}

/* How esaasd renders: its configuration, the job's tenant. */
static void render_opts_for(struct step *s, const struct wf_env *env, struct render_opts *ro)
{
	*ro = (struct render_opts){
		.tenant = step_tenant(s),
		.image_registry = env->cfg->kube_image_registry,
		.plugin_repo_url = env->cfg->kube_plugin_repository,
		.rack_label = env->cfg->kube_rack_label,
	};
}

/* The objects of spec_json (a spec in JSON); NULL after failing the step
 * with the reason. */
static struct rendered *render_spec(struct step *s, json_t *spec_json, struct wf_env **envp)
{
	struct wf_env *env = step_env(s);
	if (!env || !env->kube) {
		step_fail(s, "no Kubernetes connection is configured (kubernetes.kubeconfig)");
		return NULL;
	}
	struct rendered *r = xcalloc(1, sizeof(*r));
	struct spec_error serr;
	if (!spec_parse(spec_json, &r->spec, &serr)) {
		step_fail(s, "the job's spec is invalid: %s: %s", serr.field, serr.message);
		free(r);
		return NULL;
	}
	struct render_opts ro;
	render_opts_for(s, env, &ro);
	char err[256];
	if (!render_cluster(&r->spec, &ro, &r->objects, err, sizeof(err))) {
		step_fail(s, "cannot render the cluster: %s", err);
		spec_free(&r->spec);
		free(r);
		return NULL;
	}
	r->ns = render_namespace(step_tenant(s), r->spec.name);
	*envp = env;
	return r;
}

/* The objects of the job's spec (params.spec). */
static struct rendered *render_for(struct step *s, struct wf_env **envp)
{
	return render_spec(s, json_object_get(step_params(s), "spec"), envp);
}

/* --- apply ---------------------------------------------------------------------- */

struct apply {
	struct step *step;
	struct wf_env *env;
	struct rendered *r;
	const char *kind; /* NULL: every kind */
	const char *name; /* NULL: every object of the kind */
	size_t next;
	struct kube_call *call;
	json_t *done; /* applied in this state so far (apply_progress), borrowed */
};

static void apply_more(struct apply *a);

/* An object as the progress names it: "Kind/name". */
static char *object_key(json_t *obj)
{
	json_t *meta = json_object_get(obj, "metadata");
	return xasprintf("%s/%s", json_string_value(json_object_get(obj, "kind")),
			 json_string_value(json_object_get(meta, "name")));
}

/*
 * The objects this state has applied so far, in context.apply_progress, so
 * that a run after a transient failure takes up where the failed one
 * stopped: one state applies several objects, and each may meet the
 * failure; sending them all again would make every retry as likely to fail
 * as the first run.  A new entry into the state starts afresh.
 */
static json_t *apply_progress(struct step *s)
{
	json_t *ctx = step_context(s);
	json_t *p = json_object_get(ctx, "apply_progress");
	const char *state = json_string_value(json_object_get(p, "state"));
	if (step_attempt(s) == 1 || !state || strcmp(state, step_state(s)) != 0 ||
	    !json_is_array(json_object_get(p, "objects"))) {
		p = json_pack("{s:s, s:[]}", "state", step_state(s), "objects");
		json_object_set_new(ctx, "apply_progress", p);
	}
	return json_object_get(p, "objects");
}

static bool applied_before(struct apply *a, json_t *obj)
{
	char *key = object_key(obj);
	bool found = false;
	size_t i;
	json_t *k;
	json_array_foreach (a->done, i, k)
		if (strcmp(json_string_value(k), key) == 0)
			found = true;
	free(key);
	return found;
}

static void apply_finish(struct apply *a)
{
	rendered_free(a->r);
	free(a);
}

static void apply_abort_cb(void *arg)
{
	struct apply *a = arg;
	kube_cancel(a->call);
	apply_finish(a);
}

static void applied_cb(void *arg, const struct kube_result *res)
{
	struct apply *a = arg;
	a->call = NULL;
	struct step *s = a->step;
	if (res->klass == HTTPC_OK) {
		char *key = object_key(json_array_get(a->r->objects, a->next - 1));
		json_array_append_new(a->done, json_string(key));
		free(key);
		step_progress(s);
		apply_more(a);
		return;
	}
	char *msg = xstrdup(res->message ? res->message : "apply failed");
	bool transient = res->klass == HTTPC_TRANSIENT;
	apply_finish(a);
	if (transient)
		step_retry(s, "%s", msg);
	else
		step_fail(s, "%s", msg);
	free(msg);
}

static void apply_more(struct apply *a)
{
	if (!a->done)
		a->done = apply_progress(a->step);
	while (a->next < json_array_size(a->r->objects)) {
		json_t *obj = json_array_get(a->r->objects, a->next++);
		const char *kind = json_string_value(json_object_get(obj, "kind"));
		const char *name = json_string_value(
			json_object_get(json_object_get(obj, "metadata"), "name"));
		if ((a->kind && strcmp(kind, a->kind) != 0) ||
		    (a->name && strcmp(name, a->name) != 0) || applied_before(a, obj))
			continue;
		a->call = kube_apply(a->env->kube, obj, applied_cb, a);
		if (a->call)
			return;
		/* A rendered object the client cannot place is a bug: say which. */
		struct step *s = a->step;
		char *msg = xasprintf("cannot apply %s %s: unknown kind", kind, name);
		apply_finish(a);
		step_fail(s, "%s", msg);
		free(msg);
		return;
	}
	struct step *s = a->step;
	apply_finish(a);
	json_object_del(step_context(s), "apply_progress");
	step_next(s);
}

/* An apply of spec_json's objects of kind (and name), for apply_more() to
 * start; NULL after failing the step. */
static struct apply *apply_prepare(struct step *s, json_t *spec_json, const char *kind,
				   const char *name)
{
	struct wf_env *env;
	struct rendered *r = render_spec(s, spec_json, &env);
	if (!r)
		return NULL;
	struct apply *a = xcalloc(1, sizeof(*a));
	a->step = s;
	a->env = env;
	a->r = r;
	a->kind = kind;
	a->name = name;
	step_on_abort(s, apply_abort_cb, a);
	return a;
}

static void apply_kind_of(struct step *s, json_t *spec_json, const char *kind, const char *name)
{
	struct apply *a = apply_prepare(s, spec_json, kind, name);
	if (a)
		apply_more(a);
}

static void apply_kind(struct step *s, const char *kind, const char *name)
{
	apply_kind_of(s, json_object_get(step_params(s), "spec"), kind, name);
}

void state_apply_namespace(struct step *s)
{
	apply_kind(s, "Namespace", NULL);
}

void state_apply_config(struct step *s)
{
	apply_kind(s, "ConfigMap", NULL);
}

void state_apply_services(struct step *s)
{
	apply_kind(s, "Service", NULL);
}

void state_apply_masters(struct step *s)
{
	apply_kind(s, render_workload_kind(ES_ROLE_MASTER), render_workload_name(ES_ROLE_MASTER));
}

void state_apply_data(struct step *s)
{
	apply_kind(s, render_workload_kind(ES_ROLE_DATA), render_workload_name(ES_ROLE_DATA));
}

void state_apply_clients(struct step *s)
{
	apply_kind(s, render_workload_kind(ES_ROLE_CLIENT), render_workload_name(ES_ROLE_CLIENT));
}

void state_apply_pdbs(struct step *s)
{
	apply_kind(s, "PodDisruptionBudget", NULL);
}

/* --- the namespace's quota ------------------------------------------------------ */

/*
 * The ResourceQuota holds the namespace to the spec (kube/render.h).  Before
 * the cluster grows, it is raised: to at least what the new spec needs,
 * never below what it allows now, since a workflow may not know the size
 * the cluster has (a Kibana job carries only the new spec).  Once the
 * cluster has shrunk, it is fitted: exactly the new spec's.
 */
void state_apply_quota(struct step *s)
{
	apply_kind(s, "ResourceQuota", RENDER_QUOTA_NAME);
}

static void quota_read_cb(void *arg, const struct kube_result *res)
{
	struct apply *a = arg;
	a->call = NULL;
	if (res->klass == HTTPC_OK) {
		json_t *quota = render_find(a->r->objects, "ResourceQuota", RENDER_QUOTA_NAME);
		render_quota_at_least(quota,
				      json_object_get(json_object_get(res->body, "spec"), "hard"));
	} else if (res->status != 404) {
		struct step *s = a->step;
		char *msg = xstrdup(res->message ? res->message : "reading the quota failed");
		bool transient = res->klass == HTTPC_TRANSIENT;
		apply_finish(a);
		if (transient)
			step_retry(s, "%s", msg);
		else
			step_fail(s, "%s", msg);
		free(msg);
		return;
	}
	/* Read, or none yet (a cluster from before quotas): now applied. */
	apply_more(a);
}

static void raise_quota(struct step *s, json_t *spec_json)
{
	struct apply *a = apply_prepare(s, spec_json, "ResourceQuota", RENDER_QUOTA_NAME);
	if (!a)
		return;
	char *coll = kube_collection_path("v1", "ResourceQuota", a->r->ns);
	char *path = xasprintf("%s/%s", coll, RENDER_QUOTA_NAME);
	a->call = kube_get(a->env->kube, path, quota_read_cb, a);
	free(path);
	free(coll);
}

void state_raise_quota(struct step *s)
{
	raise_quota(s, json_object_get(step_params(s), "spec"));
}

/* --- waits ----------------------------------------------------------------------- */

struct look {
	struct step *step;
	struct wf_env *env;
	struct rendered *r;
	struct kube_call *kcall;
	struct es_call *ecall;
	struct es *es;
	bool clearing;		/* undoing a change of ours */
	const char *clear_flag; /* the context flag an acknowledged undo sets false */
	json_t *nodes;		/* a first answer kept for a second request */
};

static void look_finish(struct look *l)
{
	json_decref(l->nodes);
	es_free(l->es);
	rendered_free(l->r);
	free(l);
}

static void look_abort_cb(void *arg)
{
	struct look *l = arg;
	kube_cancel(l->kcall);
	es_cancel(l->ecall);
	look_finish(l);
}

static struct look *look_new(struct step *s)
{
	struct wf_env *env;
	struct rendered *r = render_for(s, &env);
	if (!r)
		return NULL;
	struct look *l = xcalloc(1, sizeof(*l));
	l->step = s;
	l->env = env;
	l->r = r;
	step_on_abort(s, look_abort_cb, l);
	return l;
}

/* An Elasticsearch client for one of the cluster's services, speaking the
 * spec's version (paths and bodies differ between versions). */
static void look_connect(struct look *l, const char *service)
{
	l->es = es_new_for_cluster(l->env->kube, l->env->http, l->env->cfg->es_url_template,
				   l->r->ns, service);
	es_set_version(l->es, &l->r->spec.version);
}

/* look_new, with an Elasticsearch client for the cluster's service. */
static struct look *look_es(struct step *s, const char *service)
{
	struct look *l = look_new(s);
	if (l)
		look_connect(l, service);
	return l;
}

/* End the look and report: next, retry (transient) or fail, with msg. */
static void look_report(struct look *l, bool ok, bool transient, const char *msg)
{
	struct step *s = l->step;
	char *copy = xstrdup(msg ? msg : "");
	look_finish(l);
	if (ok)
		step_next(s);
	else if (transient)
		step_retry(s, "%s", copy);
	else
		step_fail(s, "%s", copy);
	free(copy);
}

/* Is the pod Ready; if not, why not (its condition's message), into why. */
static bool pod_ready(json_t *pod, char *why, size_t len)
{
	json_t *status = json_object_get(pod, "status");
	size_t i;
	json_t *c;
	const char *name =
		json_string_value(json_object_get(json_object_get(pod, "metadata"), "name"));
	const char *phase = json_string_value(json_object_get(status, "phase"));
	snprintf(why, len, "%s %s", name ? name : "?", phase ? phase : "unknown");
	json_array_foreach (json_object_get(status, "conditions"), i, c) {
		const char *type = json_string_value(json_object_get(c, "type"));
		const char *st = json_string_value(json_object_get(c, "status"));
		const char *msg = json_string_value(json_object_get(c, "message"));
		if (type && strcmp(type, "Ready") == 0 && st && strcmp(st, "True") == 0)
			return true;
		if (type && strcmp(type, "PodScheduled") == 0 && st && strcmp(st, "False") == 0 &&
		    msg)
			snprintf(why, len, "%s Pending: %s", name ? name : "?", msg);
	}
	return false;
}

struct pod_tally {
	int pods, ready;
	bool old_present;	 /* the pod of skip_uid is still there */
	char first_missing[512]; /* why the first pod not ready is not */
};

/*
 * Count a pod list.  skip_deleting: pods on their way out do not count;
 * skip_uid: nor does that pod (a restarted one), only noted as present.
 */
static void tally_pods(json_t *items, bool skip_deleting, const char *skip_uid, struct pod_tally *t)
{
	memset(t, 0, sizeof(*t));
	size_t i;
	json_t *pod;
	json_array_foreach (items, i, pod) {
		json_t *meta = json_object_get(pod, "metadata");
		const char *uid = json_string_value(json_object_get(meta, "uid"));
		if (skip_uid && uid && strcmp(uid, skip_uid) == 0) {
			t->old_present = true;
			continue;
		}
		if (skip_deleting && json_object_get(meta, "deletionTimestamp"))
			continue;
		char why[512];
		t->pods++;
		if (pod_ready(pod, why, sizeof(why)))
			t->ready++;
		else if (!t->first_missing[0])
			snprintf(t->first_missing, sizeof(t->first_missing), "%s", why);
	}
}

static int expected_pods(const struct spec *spec)
{
	int n = 0;
	for (int r = 0; r < ES_ROLE_COUNT; r++)
		n += spec->nodes[r].replicas;
	return n;
}

static void pods_listed_cb(void *arg, const struct kube_result *res)
{
	struct look *l = arg;
	l->kcall = NULL;
	struct step *s = l->step;
	if (res->klass != HTTPC_OK) {
		look_report(l, false, res->klass == HTTPC_TRANSIENT,
			    res->message ? res->message : "listing pods failed");
		return;
	}
	int want = expected_pods(&l->r->spec);
	struct pod_tally t;
	tally_pods(json_object_get(res->body, "items"), false, NULL, &t);
	look_finish(l);
	if (t.ready >= want)
		step_next(s);
	else
		step_wait(s, WAIT_POLL_MS, "%d of %d pods ready%s%s", t.ready, want,
			  t.first_missing[0] ? "; " : "", t.first_missing);
}

void state_wait_pods_ready(struct step *s)
{
	struct look *l = look_new(s);
	if (!l)
		return;
	char *path = kube_collection_path("v1", "Pod", l->r->ns);
	char *sel = xasprintf("%s=%s", RENDER_LABEL_CLUSTER, l->r->spec.name);
	l->kcall = kube_list(l->env->kube, path, sel, pods_listed_cb, l);
	free(sel);
	free(path);
}

static void masters_cb(void *arg, const struct es_result *res)
{
	struct look *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	const char *uuid = json_string_value(json_object_get(res->body, "cluster_uuid"));
	char *msg = res->message ? xstrdup(res->message) : NULL;
	bool ok = res->klass == HTTPC_OK;
	bool formed = ok && uuid && strcmp(uuid, "_na_") != 0;
	look_finish(l);
	if (formed)
		step_next(s);
	else if (ok)
		step_wait(s, WAIT_POLL_MS, "the masters answer but have not elected a master yet");
	else
		/* Not reachable yet is what this state waits out, not an error. */
		step_wait(s, WAIT_POLL_MS, "masters not reachable yet: %s",
			  msg ? msg : "no answer");
	free(msg);
}

void state_wait_masters_formed(struct step *s)
{
	struct look *l = look_new(s);
	if (!l)
		return;
	char *svc = render_headless_service(l->r->ns);
	look_connect(l, svc);
	free(svc);
	l->ecall = es_info(l->es, masters_cb, l);
}

static bool healthy_enough(struct step *s, const char *status);

static void health_cb(void *arg, const struct es_result *res)
{
	struct look *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	const char *status = json_string_value(json_object_get(res->body, "status"));
	json_int_t unassigned = json_integer_value(json_object_get(res->body, "unassigned_shards"));
	json_int_t nodes = json_integer_value(json_object_get(res->body, "number_of_nodes"));
	char *msg = res->message ? xstrdup(res->message) : NULL;
	bool green = healthy_enough(s, status);
	char *seen = xstrdup(status ? status : "");
	look_finish(l);
	if (green)
		step_next(s);
	else if (seen[0])
		step_wait(s, WAIT_POLL_MS, "health %s: %lld nodes, %lld unassigned shards", seen,
			  (long long)nodes, (long long)unassigned);
	else
		step_wait(s, WAIT_POLL_MS, "health not readable yet: %s", msg ? msg : "no answer");
	free(seen);
	free(msg);
}

void state_wait_green(struct step *s)
{
	struct look *l = look_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	l->ecall = es_health(l->es, NULL, NULL, false, health_cb, l);
}

/* --- the record of the cluster --------------------------------------------------- */

/* What the job leaves in context.observed is written on the cluster when the
 * job ends, in the same commit (storage_jobrun_transition(), storage/jobrun.h). */
void state_record_ready(struct step *s)
{
	struct wf_env *env;
	struct rendered *r = render_for(s, &env);
	if (!r)
		return;
	json_t *observed = json_pack("{s:s, s:s, s:{s:s, s:s, s:i}}", "phase", "ready", "namespace",
				     r->ns, "endpoint", "service", RENDER_HTTP_SERVICE, "namespace",
				     r->ns, "port", 9200);
	json_object_set_new(step_context(s), "observed", observed);
	rendered_free(r);
	step_next(s);
}

static void namespace_deleted_cb(void *arg, const struct kube_result *res)
{
	struct look *l = arg;
	l->kcall = NULL;
	struct step *s = l->step;
	/* Already gone is as good as deleted: the state may run twice. */
	bool done = res->klass == HTTPC_OK || res->status == 404;
	bool transient = res->klass == HTTPC_TRANSIENT && res->status != 409;
	char *msg = xstrdup(res->message ? res->message : "");
	look_finish(l);
	if (done)
		step_next(s);
	else if (transient || res->status == 409)
		step_retry(s, "%s", msg);
	else
		step_fail(s, "%s", msg);
	free(msg);
}

void state_delete_namespace(struct step *s)
{
	struct look *l = look_new(s);
	if (!l)
		return;
	char *path = xasprintf("/api/v1/namespaces/%s", l->r->ns);
	l->kcall = kube_delete(l->env->kube, path, "Foreground", NULL, namespace_deleted_cb, l);
	free(path);
}

static void namespace_looked_cb(void *arg, const struct kube_result *res)
{
	struct look *l = arg;
	l->kcall = NULL;
	struct step *s = l->step;
	char *ns = xstrdup(l->r->ns);
	const char *phase =
		json_string_value(json_object_get(json_object_get(res->body, "status"), "phase"));
	char *seen = xstrdup(phase ? phase : "");
	long status = res->status;
	bool transient = res->klass == HTTPC_TRANSIENT;
	char *msg = xstrdup(res->message ? res->message : "");
	look_finish(l);
	if (status == 404)
		step_next(s);
	else if (status == 200)
		step_wait(s, WAIT_POLL_MS, "namespace %s is still there (%s)", ns,
			  seen[0] ? seen : "no phase");
	else if (transient)
		step_retry(s, "%s", msg);
	else
		step_fail(s, "%s", msg);
	free(ns);
	free(seen);
	free(msg);
}

void state_wait_namespace_gone(struct step *s)
{
	struct look *l = look_new(s);
	if (!l)
		return;
	char *path = xasprintf("/api/v1/namespaces/%s", l->r->ns);
	l->kcall = kube_get(l->env->kube, path, namespace_looked_cb, l);
	free(path);
}

void state_record_deleted(struct step *s)
{
	json_object_set_new(step_context(s), "observed", json_pack("{s:s}", "phase", "deleted"));
	json_object_set_new(step_context(s), "cluster_deleted", json_true());
	step_next(s);
}

/* --- scale ------------------------------------------------------------------------ */

/*
 * params: {"spec": the cluster's spec, "role": "data"|"clients"|"masters",
 * "replicas": N, "force"?: true}.  The plan lands in context: role, from,
 * to, and when nodes leave, the Elasticsearch names of those that leave
 * (the highest ordinals, as a StatefulSet removes them).  Masters take the
 * path of their coordination: zen1 moves minimum_master_nodes, zen2 votes.
 */
static void settings_put_cb(void *arg, const struct es_result *res);

static enum es_role role_of(const char *name)
{
	if (name && strcmp(name, "clients") == 0)
		return ES_ROLE_CLIENT;
	if (name && strcmp(name, "masters") == 0)
		return ES_ROLE_MASTER;
	return ES_ROLE_DATA;
}

/* The spec's key of a role: "masters", "data", "clients". */
static const char *role_key(enum es_role role)
{
	return role == ES_ROLE_MASTER ? "masters" : role == ES_ROLE_CLIENT ? "clients" : "data";
}

/* The job's spec with the role at context.to replicas: what the cluster becomes. */
static json_t *target_spec(struct step *s)
{
	json_t *ctx = step_context(s);
	json_t *spec = json_deep_copy(json_object_get(step_params(s), "spec"));
	const char *role = json_string_value(json_object_get(ctx, "role"));
	json_t *section = json_object_get(spec, role);
	if (!json_is_object(section)) {
		section = json_object();
		json_object_set_new(spec, role, section);
	}
	json_object_set(section, "replicas", json_object_get(ctx, "to"));
	return spec;
}

void state_scale_plan(struct step *s)
{
	struct wf_env *env;
	struct rendered *r = render_for(s, &env);
	if (!r)
		return;
	json_t *p = step_params(s);
	enum es_role role = role_of(json_string_value(json_object_get(p, "role")));
	int from = r->spec.nodes[role].replicas;
	int to = (int)json_integer_value(json_object_get(p, "replicas"));
	bool zen1 = es_coordination(&r->spec.version) == ES_ZEN1;
	json_t *ctx = step_context(s);
	json_object_set_new(ctx, "role", json_string(role_key(role)));
	json_object_set_new(ctx, "from", json_integer(from));
	json_object_set_new(ctx, "to", json_integer(to));
	json_t *leaving = json_array();
	if (role != ES_ROLE_CLIENT)
		for (int i = to; i < from; i++) {
			char *pod = xasprintf("%s-%d", render_workload_name(role), i);
			char *node = render_node_name(pod, r->ns);
			json_array_append_new(leaving, json_string(node));
			free(node);
			free(pod);
		}
	json_object_set_new(ctx, "leaving", leaving);
	rendered_free(r);
	const char *next;
	if (from == to)
		next = "wait_green"; /* nothing to change: check and record */
	else if (role == ES_ROLE_MASTER)
		next = zen1 ? (to > from ? "zen1_grow_config" : "zen1_shrink_config")
			    : (to > from ? "zen2_grow_config" : "zen2_shrink_config");
	else if (role == ES_ROLE_DATA && to < from)
		next = json_is_true(json_object_get(p, "force")) ? "exclude_nodes" : "check_copies";
	else if (to > from)
		next = "raise_quota";
	else
		next = "scale_workload"; /* clients leave: they hold no shard */
	step_goto(s, next);
}

static void copies_cb(void *arg, const struct es_result *res)
{
	struct look *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	if (res->klass != HTTPC_OK) {
		char *msg = xstrdup(res->message ? res->message : "no answer");
		bool transient = res->klass == HTTPC_TRANSIENT || res->status == 0;
		look_finish(l);
		if (transient)
			step_retry(s, "cannot read the indices' replica counts: %s", msg);
		else
			step_fail(s, "cannot read the indices' replica counts: %s", msg);
		free(msg);
		return;
	}
	int to = (int)json_integer_value(json_object_get(step_context(s), "to"));
	struct es_shard_copies worst;
	es_shard_copies_worst(res->body, &worst);
	look_finish(l);
	if (worst.copies > to)
		step_fail(s,
			  "index %s has %d replicas, so %d copies of each shard, which %d data "
			  "node%s cannot hold; lower its number_of_replicas first, or scale with "
			  "force to accept unassigned copies",
			  worst.index, worst.copies - 1, worst.copies, to, to == 1 ? "" : "s");
	else
		step_next(s);
}

/* Before a data scale-down: the nodes that stay can hold every shard copy. */
void state_check_copies(struct step *s)
{
	struct look *l = look_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	l->ecall = es_request(l->es, "GET", ES_SHARD_COPIES_PATH, NULL, copies_cb, l);
}

/* Every role's elasticsearch.yml for the new count of masters (zen1's
 * minimum_master_nodes, zen2's initial masters), before any node moves. */
void state_scale_config(struct step *s)
{
	json_t *spec = target_spec(s);
	apply_kind_of(s, spec, "ConfigMap", NULL);
	json_decref(spec);
}

/* The quota for context.to nodes of the role: raised before they come. */
void state_scale_raise_quota(struct step *s)
{
	json_t *spec = target_spec(s);
	raise_quota(s, spec);
	json_decref(spec);
}

/* The quota for context.to nodes of the role: fitted once they are there,
 * or once the leaving ones have gone. */
void state_scale_fit_quota(struct step *s)
{
	json_t *spec = target_spec(s);
	apply_kind_of(s, spec, "ResourceQuota", RENDER_QUOTA_NAME);
	json_decref(spec);
}

/* zen1: discovery.zen.minimum_master_nodes for context.to masters.  Raised
 * once the new masters are there, lowered before masters leave: never more
 * than the masters present, or the elected one would step down. */
void state_masters_quorum(struct step *s)
{
	struct look *l = look_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	int to = (int)json_integer_value(json_object_get(step_context(s), "to"));
	json_t *settings =
		json_pack("{s:i}", ES_MINIMUM_MASTER_NODES_KEY, es_minimum_master_nodes(to));
	l->clearing = false;
	l->ecall = es_put_settings(l->es, settings, settings_put_cb, l);
	json_decref(settings);
}

static void voting_cb(void *arg, const struct es_result *res)
{
	struct look *l = arg;
	l->ecall = NULL;
	bool clearing = l->clearing;
	struct step *s = l->step;
	if (clearing && res->klass == HTTPC_OK)
		json_object_set_new(step_context(s), "voting_excluded", json_false());
	look_report(l, res->klass == HTTPC_OK, res->klass == HTTPC_TRANSIENT || res->status == 0,
		    res->message);
}

/* zen2: the leaving masters out of the voting configuration before they go
 * (Elasticsearch answers once the configuration no longer counts them). */
void state_voting_exclude(struct step *s)
{
	struct look *l = look_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	json_t *ctx = step_context(s);
	json_t *leaving = json_object_get(ctx, "leaving");
	size_t n = json_array_size(leaving);
	const char **names = xcalloc(n + 1, sizeof(*names));
	for (size_t i = 0; i < n; i++)
		names[i] = json_string_value(json_array_get(leaving, i));
	/* Recorded before the change: a cleanup after a crash must find it. */
	json_object_set_new(ctx, "voting_excluded", json_true());
	l->clearing = false;
	l->ecall = es_voting_exclude(l->es, names, n, voting_cb, l);
	free(names);
	if (!l->ecall)
		look_report(l, false, false, "this version has no voting exclusions");
}

/*
 * zen2: clear the exclusions.  In the workflow the excluded masters are
 * gone, so Elasticsearch may wait for their removal; in the cleanup they
 * may still be members, and the exclusions go all the same.
 */
void state_voting_clear(struct step *s)
{
	json_t *ctx = step_context(s);
	if (!json_is_true(json_object_get(ctx, "voting_excluded"))) {
		step_next(s); /* nothing of ours to undo */
		return;
	}
	struct look *l = look_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	l->clearing = true;
	if (step_cleaning_up(s))
		l->ecall = es_request(l->es, "DELETE",
				      "/_cluster/voting_config_exclusions?wait_for_removal=false",
				      NULL, voting_cb, l);
	else
		l->ecall = es_voting_clear(l->es, voting_cb, l);
	if (!l->ecall)
		look_report(l, false, false, "this version has no voting exclusions");
}

/* "a,b,c" of context.leaving, or NULL to clear the setting. */
static json_t *exclusion_value(json_t *ctx, bool clear)
{
	if (clear)
		return json_null();
	size_t i, len = 1;
	json_t *n;
	json_array_foreach (json_object_get(ctx, "leaving"), i, n)
		len += strlen(json_string_value(n)) + 1;
	char *csv = xcalloc(1, len);
	json_array_foreach (json_object_get(ctx, "leaving"), i, n) {
		if (i)
			strlcpy_s(csv + strlen(csv), ",", len - strlen(csv));
		strlcpy_s(csv + strlen(csv), json_string_value(n), len - strlen(csv));
	}
	json_t *v = json_string(csv);
	free(csv);
	return v;
}

static void settings_put_cb(void *arg, const struct es_result *res)
{
	struct look *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	bool ok = res->klass == HTTPC_OK;
	bool transient = res->klass == HTTPC_TRANSIENT || res->status == 0;
	/* Only an acknowledged undo is recorded: a retry must send it again. */
	const char *flag = ok ? l->clear_flag : NULL;
	char *msg = xstrdup(res->message ? res->message : "");
	look_finish(l);
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

/* Set (or clear) cluster.routing.allocation.exclude._name. */
static void put_exclusion(struct step *s, bool clear)
{
	json_t *ctx = step_context(s);
	if (clear && !json_is_true(json_object_get(ctx, "excluded"))) {
		step_next(s); /* nothing of ours to undo */
		return;
	}
	struct look *l = look_new(s);
	if (!l)
		return;
	/* Recorded before the change: a cleanup after a crash must find it. */
	if (!clear)
		json_object_set_new(ctx, "excluded", json_true());
	l->clear_flag = clear ? "excluded" : NULL;
	look_connect(l, RENDER_HTTP_SERVICE);
	json_t *settings = json_object();
	json_object_set_new(settings, "cluster.routing.allocation.exclude._name",
			    exclusion_value(ctx, clear));
	l->ecall = es_put_settings(l->es, settings, settings_put_cb, l);
	json_decref(settings);
}

void state_exclude_nodes(struct step *s)
{
	put_exclusion(s, false);
}

void state_clear_exclusion(struct step *s)
{
	put_exclusion(s, true);
}

static bool is_leaving(json_t *leaving, const char *node)
{
	size_t i;
	json_t *n;
	json_array_foreach (leaving, i, n)
		if (node && strcmp(json_string_value(n), node) == 0)
			return true;
	return false;
}

static void shards_cb(void *arg, const struct es_result *res)
{
	struct look *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	if (res->klass != HTTPC_OK) {
		char *msg = xstrdup(res->message ? res->message : "");
		look_finish(l);
		step_wait(s, WAIT_POLL_MS, "shards not readable yet: %s", msg);
		free(msg);
		return;
	}
	json_t *leaving = json_object_get(step_context(s), "leaving");
	bool force = json_is_true(json_object_get(step_params(s), "force"));
	int on_leaving = 0, relocating = 0;
	/* Forced: copies that have nowhere to go may stay, but no shard may
	 * keep its only started copies on the nodes that leave. */
	json_t *elsewhere = json_object(); /* "index/shard" -> a started copy stays */
	json_t *stranded = json_object();  /* "index/shard" -> a copy on a leaving node */
	size_t i;
	json_t *sh;
	json_array_foreach (res->body, i, sh) {
		const char *node = json_string_value(json_object_get(sh, "node"));
		const char *state = json_string_value(json_object_get(sh, "state"));
		char *key = xasprintf("%s/%s", json_string_value(json_object_get(sh, "index")),
				      json_string_value(json_object_get(sh, "shard")));
		if (node && state && strcmp(state, "STARTED") == 0 && !is_leaving(leaving, node))
			json_object_set_new(elsewhere, key, json_true());
		else if (node && is_leaving(leaving, node))
			json_object_set_new(stranded, key, json_true());
		free(key);
	}
	int unsafe = 0;
	const char *key;
	json_t *v;
	json_object_foreach (stranded, key, v)
		if (!json_object_get(elsewhere, key))
			unsafe++;
	json_decref(elsewhere);
	json_decref(stranded);
	json_array_foreach (res->body, i, sh) {
		const char *node = json_string_value(json_object_get(sh, "node"));
		const char *state = json_string_value(json_object_get(sh, "state"));
		if (state && strcmp(state, "RELOCATING") == 0)
			relocating++;
		/* A relocating copy names "from -> ...": its source still holds it. */
		if (node) {
			const char *arrow = strstr(node, " -> ");
			char *src = arrow ? xstrndup(node, (size_t)(arrow - node)) : xstrdup(node);
			if (is_leaving(leaving, src))
				on_leaving++;
			free(src);
		}
	}
	look_finish(l);
	if (relocating == 0 && (on_leaving == 0 || (force && unsafe == 0)))
		step_next(s);
	else if (force)
		step_wait(s, WAIT_POLL_MS,
			  "%d shards have their only started copies on the nodes leaving, %d "
			  "relocating",
			  unsafe, relocating);
	else
		step_wait(s, WAIT_POLL_MS,
			  "%d shard copies still on the nodes leaving, %d relocating", on_leaving,
			  relocating);
}

void state_wait_drained(struct step *s)
{
	struct look *l = look_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	l->ecall = es_cat_shards(l->es, shards_cb, l);
}

static void scaled_cb(void *arg, const struct kube_result *res)
{
	struct look *l = arg;
	l->kcall = NULL;
	look_report(l, res->klass == HTTPC_OK, res->klass == HTTPC_TRANSIENT, res->message);
}

void state_scale_workload(struct step *s)
{
	struct look *l = look_new(s);
	if (!l)
		return;
	json_t *ctx = step_context(s);
	enum es_role role = role_of(json_string_value(json_object_get(ctx, "role")));
	char *coll = kube_collection_path("apps/v1", render_workload_kind(role), l->r->ns);
	char *path = xasprintf("%s/%s", coll, render_workload_name(role));
	l->kcall = kube_scale(l->env->kube, path,
			      (int)json_integer_value(json_object_get(ctx, "to")), scaled_cb, l);
	free(path);
	free(coll);
}

static void role_pods_cb(void *arg, const struct kube_result *res)
{
	struct look *l = arg;
	l->kcall = NULL;
	struct step *s = l->step;
	/* Listing again is always worth it: retry whatever the error. */
	if (res->klass != HTTPC_OK) {
		look_report(l, false, true, res->message);
		return;
	}
	int want = (int)json_integer_value(json_object_get(step_context(s), "to"));
	struct pod_tally t;
	tally_pods(json_object_get(res->body, "items"), true, NULL, &t);
	look_finish(l);
	if (t.pods == want && t.ready == want)
		step_next(s);
	else
		step_wait(s, WAIT_POLL_MS, "%d pods, %d ready, want %d%s%s", t.pods, t.ready, want,
			  t.first_missing[0] ? "; " : "", t.first_missing);
}

void state_wait_scaled(struct step *s)
{
	struct look *l = look_new(s);
	if (!l)
		return;
	enum es_role role = role_of(json_string_value(json_object_get(step_context(s), "role")));
	char *path = kube_collection_path("v1", "Pod", l->r->ns);
	char *sel = render_selector(l->r->spec.name, role);
	l->kcall = kube_list(l->env->kube, path, sel, role_pods_cb, l);
	free(sel);
	free(path);
}

/* The new spec becomes the cluster's when the job ends. */
void state_record_scaled(struct step *s)
{
	json_t *ctx = step_context(s);
	json_object_set_new(ctx, "spec", target_spec(s));
	json_t *observed = json_object_get(ctx, "observed");
	if (!observed)
		json_object_set_new(ctx, "observed", json_pack("{s:s}", "phase", "ready"));
	step_next(s);
}

/* --- safe restart ------------------------------------------------------------------ */

/*
 * params: {"spec", "role"?: "data"|"masters"|"clients", "nodes"?: [pod names]}.
 * context.pending holds the pods still to restart ({name, uid, role}), in
 * order, and context.restarted those done: a replay goes on with the pods
 * not yet restarted.  One pod at a time: allocation of replicas paused,
 * flush, delete with its uid (never its replacement), wait for the
 * replacement, allocation back, wait green.
 */
static int role_rank(const char *role)
{
	/* Data first, clients, masters last: the master changes once at the end. */
	if (role && strcmp(role, "data") == 0)
		return 0;
	if (role && strcmp(role, "client") == 0)
		return 1;
	return 2;
}

static int pod_order(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int rx = role_rank(json_string_value(json_object_get(x, "role")));
	int ry = role_rank(json_string_value(json_object_get(y, "role")));
	if (rx != ry)
		return rx - ry;
	return strcmp(json_string_value(json_object_get(x, "name")),
		      json_string_value(json_object_get(y, "name")));
}

static bool wanted_pod(json_t *params, const char *name, const char *role)
{
	const char *want_role = json_string_value(json_object_get(params, "role"));
	json_t *nodes = json_object_get(params, "nodes");
	if (want_role) {
		/* The API says "clients"; the pods' label says "client". */
		const char *label = strcmp(want_role, "clients") == 0	? "client"
				    : strcmp(want_role, "masters") == 0 ? "master"
									: want_role;
		if (!role || strcmp(role, label) != 0)
			return false;
	}
	if (json_is_array(nodes)) {
		size_t i;
		json_t *n;
		json_array_foreach (nodes, i, n)
			if (strcmp(json_string_value(n), name) == 0)
				return true;
		return false;
	}
	return true;
}

static void plan_pods_cb(void *arg, const struct kube_result *res)
{
	struct look *l = arg;
	l->kcall = NULL;
	struct step *s = l->step;
	/* Listing again is always worth it: retry whatever the error. */
	if (res->klass != HTTPC_OK) {
		look_report(l, false, true, res->message);
		return;
	}
	json_t *params = step_params(s);
	size_t n = json_array_size(json_object_get(res->body, "items"));
	json_t **pods = xcalloc(n + 1, sizeof(*pods));
	size_t k = 0, i;
	json_t *pod;
	json_array_foreach (json_object_get(res->body, "items"), i, pod) {
		json_t *meta = json_object_get(pod, "metadata");
		const char *name = json_string_value(json_object_get(meta, "name"));
		const char *uid = json_string_value(json_object_get(meta, "uid"));
		const char *role = json_string_value(
			json_object_get(json_object_get(meta, "labels"), RENDER_LABEL_ROLE));
		/* Elasticsearch's nodes only: Kibana rolls by itself. */
		if (!name || !uid || json_object_get(meta, "deletionTimestamp") || !role ||
		    (strcmp(role, "master") != 0 && strcmp(role, "data") != 0 &&
		     strcmp(role, "client") != 0) ||
		    !wanted_pod(params, name, role))
			continue;
		pods[k++] = json_pack("{s:s, s:s, s:s}", "name", name, "uid", uid, "role",
				      role ? role : "");
	}
	qsort(pods, k, sizeof(*pods), pod_order);
	json_t *pending = json_array();
	for (i = 0; i < k; i++)
		json_array_append_new(pending, pods[i]);
	free(pods);
	look_finish(l);
	if (json_array_size(pending) == 0) {
		json_decref(pending);
		step_fail(s, "no pod of this cluster matches the restart request");
		return;
	}
	json_object_set_new(step_context(s), "pending", pending);
	json_object_set_new(step_context(s), "restarted", json_array());
	step_next(s);
}

void state_restart_plan(struct step *s)
{
	/* A replay keeps its plan: the pods already restarted stay done. */
	if (json_is_array(json_object_get(step_context(s), "pending"))) {
		step_next(s);
		return;
	}
	struct look *l = look_new(s);
	if (!l)
		return;
	char *path = kube_collection_path("v1", "Pod", l->r->ns);
	char *sel = xasprintf("%s=%s", RENDER_LABEL_CLUSTER, l->r->spec.name);
	l->kcall = kube_list(l->env->kube, path, sel, plan_pods_cb, l);
	free(sel);
	free(path);
}

static void put_allocation_cb(void *arg, const struct es_result *res)
{
	settings_put_cb(arg, res);
}

/* cluster.routing.allocation.enable: "primaries" while a node is away, then back. */
static void put_allocation(struct step *s, bool pause)
{
	json_t *ctx = step_context(s);
	if (!pause && !json_is_true(json_object_get(ctx, "allocation_paused"))) {
		step_next(s);
		return;
	}
	struct look *l = look_new(s);
	if (!l)
		return;
	if (pause)
		json_object_set_new(ctx, "allocation_paused", json_true());
	look_connect(l, RENDER_HTTP_SERVICE);
	json_t *settings = json_object();
	json_object_set_new(settings, "cluster.routing.allocation.enable",
			    pause ? json_string("primaries") : json_null());
	l->clear_flag = pause ? NULL : "allocation_paused";
	l->ecall = es_put_settings(l->es, settings, put_allocation_cb, l);
	json_decref(settings);
}

void state_restart_next(struct step *s)
{
	if (json_array_size(json_object_get(step_context(s), "pending")) == 0) {
		step_goto(s, "restore_allocation");
		return;
	}
	step_next(s);
}

/* Green, or yellow when the job allows it (params.allow_yellow), or when a
 * forced scale-down accepted copies that cannot be placed (params.force). */
static bool healthy_enough(struct step *s, const char *status)
{
	json_t *p = step_params(s);
	if (!status)
		return false;
	if (strcmp(status, "green") == 0)
		return true;
	return strcmp(status, "yellow") == 0 && (json_is_true(json_object_get(p, "allow_yellow")) ||
						 json_is_true(json_object_get(p, "force")));
}

static const char *pod_role_label(json_t *pod_entry)
{
	const char *role = json_string_value(json_object_get(pod_entry, "role"));
	return role ? role : "";
}

static void elected_cb(void *arg, const struct es_result *res)
{
	struct look *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	if (res->klass != HTTPC_OK) {
		char *msg = xstrdup(res->message ? res->message : "no answer");
		look_finish(l);
		step_wait(s, WAIT_POLL_MS, "cannot tell which master is elected: %s", msg);
		free(msg);
		return;
	}
	json_t *pending = json_object_get(step_context(s), "pending");
	json_t *cur = json_array_get(pending, 0);
	char *node = render_node_name(json_string_value(json_object_get(cur, "name")), l->r->ns);
	bool elected = false;
	size_t i;
	json_t *n;
	json_array_foreach (res->body, i, n) {
		const char *name = json_string_value(json_object_get(n, "name"));
		const char *star = json_string_value(json_object_get(n, "master"));
		if (name && star && strcmp(star, "*") == 0 && strcmp(name, node) == 0)
			elected = true;
	}
	free(node);
	look_finish(l);
	/* The elected master goes very last: the others restart under it,
	 * and the cluster elects anew only once. */
	if (elected) {
		json_array_append(pending, cur);
		json_array_remove(pending, 0);
	}
	step_next(s);
}

static void restart_ready_cb(void *arg, const struct es_result *res)
{
	struct look *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	const char *status = json_string_value(json_object_get(res->body, "status"));
	json_t *pending = json_object_get(step_context(s), "pending");
	const char *next = json_string_value(json_object_get(json_array_get(pending, 0), "name"));
	if (!healthy_enough(s, status)) {
		char *seen = xstrdup(status ? status : (res->message ? res->message : "no answer"));
		json_int_t unassigned =
			json_integer_value(json_object_get(res->body, "unassigned_shards"));
		look_finish(l);
		step_wait(s, WAIT_POLL_MS,
			  "health %s (%lld unassigned shards): waiting for %s before restarting %s",
			  seen, (long long)unassigned,
			  json_is_true(json_object_get(step_params(s), "allow_yellow"))
				  ? "yellow or green"
				  : "green",
			  next ? next : "the next pod");
		free(seen);
		return;
	}
	int masters = 0;
	size_t i;
	json_t *p;
	json_array_foreach (pending, i, p)
		if (strcmp(pod_role_label(p), "master") == 0)
			masters++;
	if (strcmp(pod_role_label(json_array_get(pending, 0)), "master") == 0 && masters > 1) {
		l->ecall = es_cat_nodes(l->es, elected_cb, l);
		return;
	}
	look_finish(l);
	step_next(s);
}

/* Before each pod: the cluster healthy, and the elected master kept for last. */
void state_restart_check(struct step *s)
{
	struct look *l = look_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	l->ecall = es_health(l->es, NULL, NULL, false, restart_ready_cb, l);
}

void state_restart_pause(struct step *s)
{
	put_allocation(s, true);
}

static void flushed_cb(void *arg, const struct es_result *res)
{
	struct look *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	bool ok = res->klass == HTTPC_OK;
	bool again = res->klass == HTTPC_TRANSIENT && step_attempt(s) < step_max_attempts(s);
	char *msg = xstrdup(res->message ? res->message : "");
	look_finish(l);
	/* A flush that fails costs recovery time, not data: tried again while
	 * attempts remain, then the restart goes on without it, and says so. */
	const char *pod = json_string_value(json_object_get(
		json_array_get(json_object_get(step_context(s), "pending"), 0), "name"));
	if (ok)
		step_next(s);
	else if (again)
		step_retry(s, "flush before the restart failed: %s", msg);
	else
		step_next_noting(s,
				 "restarting %s unflushed after %d attempt%s (its shards recover "
				 "from the translog, more slowly): %s",
				 pod ? pod : "the pod", step_attempt(s),
				 step_attempt(s) > 1 ? "s" : "", msg);
	free(msg);
}

void state_restart_flush(struct step *s)
{
	struct look *l = look_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	l->ecall = es_flush(l->es, flushed_cb, l);
}

static void pod_deleted_cb(void *arg, const struct kube_result *res)
{
	struct look *l = arg;
	l->kcall = NULL;
	struct step *s = l->step;
	/* Gone already, or replaced already (uid differs): done either way. */
	bool done = res->klass == HTTPC_OK || res->status == 404 || res->status == 409;
	bool transient = res->klass == HTTPC_TRANSIENT;
	char *msg = xstrdup(res->message ? res->message : "");
	look_finish(l);
	if (done)
		step_next(s);
	else if (transient)
		step_retry(s, "%s", msg);
	else
		step_fail(s, "%s", msg);
	free(msg);
}

void state_restart_delete_pod(struct step *s)
{
	json_t *cur = json_array_get(json_object_get(step_context(s), "pending"), 0);
	struct look *l = look_new(s);
	if (!l)
		return;
	char *path = xasprintf("/api/v1/namespaces/%s/pods/%s", l->r->ns,
			       json_string_value(json_object_get(cur, "name")));
	l->kcall = kube_delete(l->env->kube, path, NULL,
			       json_string_value(json_object_get(cur, "uid")), pod_deleted_cb, l);
	free(path);
}

static void replacement_cb(void *arg, const struct kube_result *res)
{
	struct look *l = arg;
	l->kcall = NULL;
	struct step *s = l->step;
	/* Listing again is always worth it: retry whatever the error. */
	if (res->klass != HTTPC_OK) {
		look_report(l, false, true, res->message);
		return;
	}
	json_t *cur = json_array_get(json_object_get(step_context(s), "pending"), 0);
	const char *old_name = json_string_value(json_object_get(cur, "name"));
	const char *old_uid = json_string_value(json_object_get(cur, "uid"));
	const char *role = json_string_value(json_object_get(cur, "role"));
	enum es_role r = strcmp(role, "master") == 0   ? ES_ROLE_MASTER
			 : strcmp(role, "client") == 0 ? ES_ROLE_CLIENT
						       : ES_ROLE_DATA;
	int want = l->r->spec.nodes[r].replicas;
	struct pod_tally t;
	tally_pods(json_object_get(res->body, "items"), true, old_uid, &t);
	look_finish(l);
	/* old_name and role point into the context, which the step keeps. */
	if (!t.old_present && t.ready >= want)
		step_next(s);
	else if (t.old_present)
		step_wait(s, WAIT_POLL_MS, "%s is still terminating", old_name);
	else
		step_wait(s, WAIT_POLL_MS, "%s not replaced yet: %d of %d %s pods ready%s%s",
			  old_name, t.ready, want, role, t.first_missing[0] ? "; " : "",
			  t.first_missing);
}

void state_restart_wait_pod(struct step *s)
{
	json_t *cur = json_array_get(json_object_get(step_context(s), "pending"), 0);
	struct look *l = look_new(s);
	if (!l)
		return;
	const char *role = json_string_value(json_object_get(cur, "role"));
	char *path = kube_collection_path("v1", "Pod", l->r->ns);
	char *sel = xasprintf("%s=%s,%s=%s", RENDER_LABEL_CLUSTER, l->r->spec.name,
			      RENDER_LABEL_ROLE, role);
	l->kcall = kube_list(l->env->kube, path, sel, replacement_cb, l);
	free(sel);
	free(path);
}

static void joined_cb(void *arg, const struct es_result *res)
{
	struct look *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	json_t *cur = json_array_get(json_object_get(step_context(s), "pending"), 0);
	char *node = render_node_name(json_string_value(json_object_get(cur, "name")), l->r->ns);
	bool joined = false;
	size_t i;
	json_t *n;
	if (res->klass == HTTPC_OK)
		json_array_foreach (res->body, i, n) {
			const char *name = json_string_value(json_object_get(n, "name"));
			if (name && strcmp(name, node) == 0)
				joined = true;
		}
	char *msg =
		xstrdup(res->klass == HTTPC_OK ? "" : (res->message ? res->message : "no answer"));
	look_finish(l);
	if (joined)
		step_next(s);
	else if (msg[0])
		step_wait(s, WAIT_POLL_MS, "cannot list the cluster's nodes yet: %s", msg);
	else
		step_wait(s, WAIT_POLL_MS, "%s is ready but has not joined the cluster yet", node);
	free(msg);
	free(node);
}

/* The replacement is ready (it listens); it must also be a member again. */
void state_restart_wait_joined(struct step *s)
{
	struct look *l = look_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	l->ecall = es_cat_nodes(l->es, joined_cb, l);
}

void state_restart_resume_allocation(struct step *s)
{
	put_allocation(s, false);
}

static void restart_green_cb(void *arg, const struct es_result *res)
{
	struct look *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	const char *status = json_string_value(json_object_get(res->body, "status"));
	bool green = res->klass == HTTPC_OK && healthy_enough(s, status);
	char *seen = xstrdup(status ? status : (res->message ? res->message : "no answer"));
	json_int_t unassigned = json_integer_value(json_object_get(res->body, "unassigned_shards"));
	look_finish(l);
	if (!green) {
		step_wait(s, WAIT_POLL_MS,
			  "waiting for %s after the restart: health %s, %lld unassigned shards",
			  json_is_true(json_object_get(step_params(s), "allow_yellow"))
				  ? "yellow or green"
				  : "green",
			  seen, (long long)unassigned);
		free(seen);
		return;
	}
	free(seen);
	/* This pod is done: move it, then the next one. */
	json_t *ctx = step_context(s);
	json_t *pending = json_object_get(ctx, "pending");
	json_array_append(json_object_get(ctx, "restarted"), json_array_get(pending, 0));
	json_array_remove(pending, 0);
	step_goto(s, "restart_next");
}

void state_restart_wait_green(struct step *s)
{
	struct look *l = look_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	l->ecall = es_health(l->es, NULL, NULL, false, restart_green_cb, l);
}

/* --- configuration update ---------------------------------------------------------- */

/* params.restart: a static setting changed, so the nodes must restart. */
void state_config_route(struct step *s)
{
	step_goto(s, json_is_true(json_object_get(step_params(s), "restart")) ? "restart_plan"
									      : "apply_dynamic");
}

/* Dynamic settings through the cluster settings API, in the version's scope. */
void state_apply_dynamic(struct step *s)
{
	struct look *l = look_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	l->clearing = false;
	l->ecall = es_put_settings(l->es, json_object_get(step_params(s), "settings"),
				   settings_put_cb, l);
}

/* params.spec is the new spec: it becomes the cluster's when the job ends. */
void state_record_spec(struct step *s)
{
	json_t *ctx = step_context(s);
	json_object_set(ctx, "spec", json_object_get(step_params(s), "spec"));
	json_object_set_new(ctx, "observed", json_pack("{s:s}", "phase", "ready"));
	step_next(s);
}

/* --- delete, wiping the data --------------------------------------------------------- */

/*
 * params.wipe_data: the hosts' folders of the cluster go too.  The hosts are
 * those the cluster's pods run on (context.hosts, kept for a replay); the
 * workloads go first, the quota makes room for the wipe pods, then one pod
 * per host empties <root>/<namespace>, then the namespace goes.
 */
static void hosts_listed_cb(void *arg, const struct kube_result *res);

void state_delete_plan(struct step *s)
{
	if (!json_is_true(json_object_get(step_params(s), "wipe_data"))) {
		step_goto(s, "delete_namespace");
		return;
	}
	if (json_is_array(json_object_get(step_context(s), "hosts"))) {
		step_next(s); /* planned already: a replay */
		return;
	}
	struct look *l = look_new(s);
	if (!l)
		return;
	char *path = kube_collection_path("v1", "Pod", l->r->ns);
	char *sel = xasprintf("%s=%s", RENDER_LABEL_CLUSTER, l->r->spec.name);
	l->kcall = kube_list(l->env->kube, path, sel, hosts_listed_cb, l);
	free(sel);
	free(path);
}

static void hosts_listed_cb(void *arg, const struct kube_result *res)
{
	struct look *l = arg;
	l->kcall = NULL;
	struct step *s = l->step;
	if (res->klass != HTTPC_OK && res->status != 404) {
		look_report(l, false, true, res->message);
		return;
	}
	json_t *hosts = json_array();
	size_t i, k;
	json_t *pod, *h;
	json_array_foreach (json_object_get(res->body, "items"), i, pod) {
		const char *host = json_string_value(
			json_object_get(json_object_get(pod, "spec"), "nodeName"));
		bool seen = false;
		if (!host)
			continue;
		json_array_foreach (hosts, k, h)
			if (strcmp(json_string_value(h), host) == 0)
				seen = true;
		if (!seen)
			json_array_append_new(hosts, json_string(host));
	}
	json_object_set_new(step_context(s), "hosts", hosts);
	look_finish(l);
	step_next(s);
}

struct workload_delete {
	struct look *l;
	int role;
};

static void workload_deleted_cb(void *arg, const struct kube_result *res);

static void delete_next_workload(struct workload_delete *w)
{
	struct look *l = w->l;
	if (w->role >= ES_ROLE_COUNT) {
		free(w);
		look_report(l, true, false, NULL);
		return;
	}
	char *coll = kube_collection_path("apps/v1", render_workload_kind(w->role), l->r->ns);
	char *path = xasprintf("%s/%s", coll, render_workload_name(w->role));
	w->role++;
	l->kcall = kube_delete(l->env->kube, path, "Foreground", NULL, workload_deleted_cb, w);
	free(path);
	free(coll);
}

static void workload_deleted_cb(void *arg, const struct kube_result *res)
{
	struct workload_delete *w = arg;
	w->l->kcall = NULL;
	if (res->klass == HTTPC_OK || res->status == 404) {
		delete_next_workload(w);
		return;
	}
	struct look *l = w->l;
	free(w);
	look_report(l, false, res->klass == HTTPC_TRANSIENT, res->message);
}

/* The StatefulSets go, so that no node writes while its folder is emptied. */
void state_stop_workloads(struct step *s)
{
	struct look *l = look_new(s);
	if (!l)
		return;
	struct workload_delete *w = xcalloc(1, sizeof(*w));
	w->l = l;
	delete_next_workload(w);
}

static void es_pods_gone_cb(void *arg, const struct kube_result *res)
{
	struct look *l = arg;
	l->kcall = NULL;
	struct step *s = l->step;
	if (res->klass != HTTPC_OK) {
		look_report(l, false, true, res->message);
		return;
	}
	int left = 0;
	size_t i;
	json_t *pod;
	json_array_foreach (json_object_get(res->body, "items"), i, pod) {
		const char *role = json_string_value(
			json_object_get(json_object_get(json_object_get(pod, "metadata"), "labels"),
					RENDER_LABEL_ROLE));
		/* Elasticsearch's own: Kibana keeps nothing on the hosts. */
		if (role && (strcmp(role, "master") == 0 || strcmp(role, "data") == 0 ||
			     strcmp(role, "client") == 0))
			left++;
	}
	look_finish(l);
	if (left == 0)
		step_next(s);
	else
		step_wait(s, WAIT_POLL_MS, "%d Elasticsearch pods still running", left);
}

void state_wait_pods_gone(struct step *s)
{
	struct look *l = look_new(s);
	if (!l)
		return;
	char *path = kube_collection_path("v1", "Pod", l->r->ns);
	char *sel = xasprintf("%s=%s", RENDER_LABEL_CLUSTER, l->r->spec.name);
	l->kcall = kube_list(l->env->kube, path, sel, es_pods_gone_cb, l);
	free(sel);
	free(path);
}

struct wipe_start {
	struct look *l;
	size_t next;
};

static void wipe_created_cb(void *arg, const struct kube_result *res);

static void wipe_next_host(struct wipe_start *w)
{
	struct look *l = w->l;
	struct step *s = l->step;
	json_t *hosts = json_object_get(step_context(s), "hosts");
	if (w->next >= json_array_size(hosts)) {
		free(w);
		look_report(l, true, false, NULL);
		return;
	}
	struct render_opts ro;
	render_opts_for(s, l->env, &ro);
	size_t i = w->next++;
	json_t *pod = render_wipe_pod(&l->r->spec, &ro, json_string_value(json_array_get(hosts, i)),
				      (int)i);
	char *path = kube_collection_path("v1", "Pod", l->r->ns);
	char *body = json_dumps(pod, JSON_COMPACT);
	l->kcall = kube_request(l->env->kube, "POST", path, "application/json", body,
				wipe_created_cb, w);
	free(body);
	free(path);
	json_decref(pod);
}

static void wipe_created_cb(void *arg, const struct kube_result *res)
{
	struct wipe_start *w = arg;
	w->l->kcall = NULL;
	/* 409: created by an earlier run of this state. */
	if (res->klass == HTTPC_OK || res->status == 409) {
		wipe_next_host(w);
		return;
	}
	struct look *l = w->l;
	free(w);
	/* The quota's room for the wipe pods counts once the quota controller
	 * has seen it (wipe_quota): until then admission refuses them. */
	bool not_yet = res->status == 403 && res->message && strstr(res->message, "exceeded quota");
	look_report(l, false, res->klass == HTTPC_TRANSIENT || not_yet, res->message);
}

/*
 * Room in the quota for the wipe pods, next to what the spec has: Kibana's
 * pods are still there while the hosts are wiped.  One pod per host, and
 * one more: a run after a failure creates again a pod that may exist, and
 * admission counts it before the API server finds it there (409).
 */
void state_wipe_quota(struct step *s)
{
	struct apply *a = apply_prepare(s, json_object_get(step_params(s), "spec"), "ResourceQuota",
					RENDER_QUOTA_NAME);
	if (!a)
		return;
	struct render_opts ro;
	render_opts_for(s, a->env, &ro);
	int hosts = (int)json_array_size(json_object_get(step_context(s), "hosts"));
	json_t *roomy = render_quota(&a->r->spec, &ro, hosts + 1);
	json_t *quota = render_find(a->r->objects, "ResourceQuota", RENDER_QUOTA_NAME);
	json_object_set(quota, "spec", json_object_get(roomy, "spec"));
	json_decref(roomy);
	apply_more(a);
}

void state_wipe_hosts(struct step *s)
{
	struct look *l = look_new(s);
	if (!l)
		return;
	struct wipe_start *w = xcalloc(1, sizeof(*w));
	w->l = l;
	wipe_next_host(w);
}

static void wiped_cb(void *arg, const struct kube_result *res)
{
	struct look *l = arg;
	l->kcall = NULL;
	struct step *s = l->step;
	if (res->klass != HTTPC_OK) {
		look_report(l, false, true, res->message);
		return;
	}
	int done = 0, failed = 0, pods = 0;
	char failed_host[128] = "";
	size_t i;
	json_t *pod;
	json_array_foreach (json_object_get(res->body, "items"), i, pod) {
		const char *phase =
			json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
		pods++;
		if (phase && strcmp(phase, "Succeeded") == 0)
			done++;
		else if (phase && strcmp(phase, "Failed") == 0) {
			failed++;
			snprintf(failed_host, sizeof(failed_host), "%s",
				 json_string_value(json_object_get(json_object_get(pod, "spec"),
								   "nodeName")));
		}
	}
	int want = (int)json_array_size(json_object_get(step_context(s), "hosts"));
	look_finish(l);
	if (failed > 0)
		step_fail(s,
			  "wiping the data failed on %s (%d of %d hosts): see the logs of its "
			  "esaas-wipe pod",
			  failed_host, failed, want);
	else if (done >= want)
		step_next(s);
	else
		step_wait(s, WAIT_POLL_MS, "%d of %d hosts wiped (%d wipe pods)", done, want, pods);
}

void state_wait_wiped(struct step *s)
{
	struct look *l = look_new(s);
	if (!l)
		return;
	char *path = kube_collection_path("v1", "Pod", l->r->ns);
	char *sel = xasprintf("%s=%s,%s=wipe", RENDER_LABEL_CLUSTER, l->r->spec.name,
			      RENDER_LABEL_ROLE);
	l->kcall = kube_list(l->env->kube, path, sel, wiped_cb, l);
	free(sel);
	free(path);
}

/* --- Kibana ----------------------------------------------------------------------- */

/*
 * The spec's kibana.replicas: its Service and Deployment applied, or with
 * 0 removed; then its pods ready (or gone).
 */
struct kibana_delete {
	struct look *l;
	int step;
};

static void kibana_deleted_cb(void *arg, const struct kube_result *res);

static void kibana_delete_next(struct kibana_delete *k)
{
	struct look *l = k->l;
	static const char *const kinds[][2] = {{"apps/v1", "Deployment"}, {"v1", "Service"}};
	if (k->step >= 2) {
		free(k);
		look_report(l, true, false, NULL);
		return;
	}
	char *coll = kube_collection_path(kinds[k->step][0], kinds[k->step][1], l->r->ns);
	char *path = xasprintf("%s/%s", coll, RENDER_KIBANA_NAME);
	k->step++;
	l->kcall = kube_delete(l->env->kube, path, "Foreground", NULL, kibana_deleted_cb, k);
	free(path);
	free(coll);
}

static void kibana_deleted_cb(void *arg, const struct kube_result *res)
{
	struct kibana_delete *k = arg;
	k->l->kcall = NULL;
	if (res->klass == HTTPC_OK || res->status == 404) {
		kibana_delete_next(k);
		return;
	}
	struct look *l = k->l;
	free(k);
	look_report(l, false, res->klass == HTTPC_TRANSIENT, res->message);
}

void state_apply_kibana(struct step *s)
{
	struct wf_env *env;
	struct rendered *r = render_for(s, &env);
	if (!r)
		return;
	bool wanted = r->spec.kibana_replicas > 0;
	rendered_free(r);
	if (wanted) {
		apply_kind(s, NULL, RENDER_KIBANA_NAME);
		return;
	}
	struct look *l = look_new(s);
	if (!l)
		return;
	struct kibana_delete *k = xcalloc(1, sizeof(*k));
	k->l = l;
	kibana_delete_next(k);
}

static void kibana_pods_cb(void *arg, const struct kube_result *res)
{
	struct look *l = arg;
	l->kcall = NULL;
	struct step *s = l->step;
	if (res->klass != HTTPC_OK) {
		look_report(l, false, true, res->message);
		return;
	}
	int want = l->r->spec.kibana_replicas;
	struct pod_tally t;
	tally_pods(json_object_get(res->body, "items"), true, NULL, &t);
	look_finish(l);
	if (t.pods == want && t.ready == want)
		step_next(s);
	else if (want == 0)
		step_wait(s, WAIT_POLL_MS, "%d Kibana pods still running", t.pods);
	else
		step_wait(s, WAIT_POLL_MS, "%d of %d Kibana pods ready%s%s", t.ready, want,
			  t.first_missing[0] ? "; " : "", t.first_missing);
}

void state_wait_kibana(struct step *s)
{
	struct look *l = look_new(s);
	if (!l)
		return;
	char *path = kube_collection_path("v1", "Pod", l->r->ns);
	char *sel = xasprintf("%s=%s,%s=%s", RENDER_LABEL_CLUSTER, l->r->spec.name,
			      RENDER_LABEL_ROLE, RENDER_KIBANA_ROLE);
	l->kcall = kube_list(l->env->kube, path, sel, kibana_pods_cb, l);
	free(sel);
	free(path);
}

/* --- plugins ---------------------------------------------------------------------- */

/*
 * params: {"spec": the spec with the plugin list as it will be, "plugin":
 * name, "action": "install"|"remove"}.  The plugin list lives in the pod
 * templates of the StatefulSets, which are OnDelete: applying them restarts
 * nothing, and the rolling restart then brings each node up with the list.
 */
struct repo_check {
	struct step *step;
	struct httpc_call *call;
	char *url;
};

static void repo_check_free(struct repo_check *c)
{
	free(c->url);
	free(c);
}

static void repo_abort_cb(void *arg)
{
	struct repo_check *c = arg;
	httpc_cancel(c->call);
	repo_check_free(c);
}

static void repo_answer_cb(const struct httpc_response *resp, void *arg)
{
	struct repo_check *c = arg;
	struct step *s = c->step;
	char *url = c->url;
	c->call = NULL;
	c->url = NULL;
	repo_check_free(c);
	if (resp->klass == HTTPC_OK)
		step_next(s);
	else if (resp->status == 404 || resp->status == 410)
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

/* The plugin's file for this version is in the repository (HEAD), before
 * anything changes in the cluster. */
void state_plugin_check_repository(struct step *s)
{
	json_t *p = step_params(s);
	struct wf_env *env = step_env(s);
	if (strcmp(json_string_value(json_object_get(p, "action")), "install") != 0) {
		step_next(s); /* removing needs no file */
		return;
	}
	const char *repo = env && env->cfg ? env->cfg->kube_plugin_repository : NULL;
	if (!repo || !repo[0]) {
		step_fail(s, "no plugin repository is configured (kubernetes.plugin_repository)");
		return;
	}
	struct spec spec;
	struct spec_error serr;
	if (!spec_parse(json_object_get(p, "spec"), &spec, &serr)) {
		step_fail(s, "the job's spec is invalid: %s: %s", serr.field, serr.message);
		return;
	}
	struct repo_check *c = xcalloc(1, sizeof(*c));
	c->step = s;
	c->url =
		es_plugin_url(&spec.version, repo, json_string_value(json_object_get(p, "plugin")));
	spec_free(&spec);
	struct httpc_request req = {.method = "HEAD", .url = c->url, .timeout_ms = 30000};
	step_on_abort(s, repo_abort_cb, c);
	c->call = httpc_send(env->http, &req, repo_answer_cb, c);
}

/* Every role's StatefulSet with the new plugin list; no pod restarts yet. */
void state_apply_workloads(struct step *s)
{
	apply_kind(s, "StatefulSet", NULL);
}

static void plugins_listed_cb(void *arg, const struct es_result *res);

static void plugin_nodes_cb(void *arg, const struct es_result *res)
{
	struct look *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	if (res->klass != HTTPC_OK) {
		char *msg = xstrdup(res->message ? res->message : "no answer");
		look_finish(l);
		step_wait(s, WAIT_POLL_MS, "cannot list the nodes yet: %s", msg);
		free(msg);
		return;
	}
	l->nodes = json_incref(res->body);
	l->ecall = es_cat_plugins(l->es, plugins_listed_cb, l);
}

static void plugins_listed_cb(void *arg, const struct es_result *res)
{
	struct look *l = arg;
	l->ecall = NULL;
	struct step *s = l->step;
	json_t *p = step_params(s);
	const char *plugin = json_string_value(json_object_get(p, "plugin"));
	bool install = strcmp(json_string_value(json_object_get(p, "action")), "install") == 0;
	if (res->klass != HTTPC_OK) {
		char *msg = xstrdup(res->message ? res->message : "no answer");
		look_finish(l);
		step_wait(s, WAIT_POLL_MS, "cannot list the plugins yet: %s", msg);
		free(msg);
		return;
	}
	/* Each node of _cat/nodes must list the plugin (install) or not (remove). */
	char *wrong = NULL;
	int nwrong = 0, nodes = 0;
	size_t i, k;
	json_t *n, *row;
	json_array_foreach (l->nodes, i, n) {
		const char *name = json_string_value(json_object_get(n, "name"));
		bool has = false;
		if (!name)
			continue;
		nodes++;
		json_array_foreach (res->body, k, row) {
			const char *node = json_string_value(json_object_get(row, "name"));
			const char *component =
				json_string_value(json_object_get(row, "component"));
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
	look_finish(l);
	if (nodes > 0 && nwrong == 0)
		step_next(s);
	else if (nodes == 0)
		step_wait(s, WAIT_POLL_MS, "no node listed yet");
	else
		step_wait(s, WAIT_POLL_MS, "%d of %d nodes %s %s (first: %s)", nwrong, nodes,
			  install ? "do not list" : "still list", plugin, wrong);
	free(wrong);
}

/* GET _cat/plugins: every node has the plugin, or none has it any more. */
void state_plugin_verify(struct step *s)
{
	struct look *l = look_es(s, RENDER_HTTP_SERVICE);
	if (!l)
		return;
	l->ecall = es_cat_nodes(l->es, plugin_nodes_cb, l);
}

/* --- checks for the API, before a job is queued ---------------------------------- */

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
