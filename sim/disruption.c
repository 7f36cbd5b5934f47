/*
 * Voluntary disruptions, as Kubernetes 1.29 handles them.
 *
 * The disruption controller (pkg/controller/disruption/disruption.go)
 * keeps each PodDisruptionBudget's status: the pods its selector matches,
 * how many of them are healthy (Ready, not being deleted, not just
 * evicted), how many must be, and so how many may go now.  With
 * maxUnavailable, or a percentage, "expected" is the scale of the pods'
 * controllers (a StatefulSet's spec.replicas), not the pods that happen to
 * exist: a pod deleted and not yet back still counts as missing.
 *
 * The Eviction subresource (pkg/registry/core/pod/storage/eviction.go) is
 * a delete that asks the budget first: a pod that is not running (Pending,
 * finished, already being deleted) goes at once; else the one budget that
 * matches it must allow a disruption, which the eviction takes (the
 * status's disruptionsAllowed goes down, the pod is listed in
 * disruptedPods) before the pod is deleted with its grace period.  A
 * budget that allows none answers 429 with a DisruptionBudget cause, which
 * `kubectl drain` retries.
 */
#include "sim/disruption.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "sim/call.h"
#include "sim/controllers.h"
#include "sim/selector.h"
#include "sim/store.h"

/* An eviction the controller has not seen carried out is forgotten after
 * this long (disruption.go, DeletionTimeout). */
#define DISRUPTED_POD_TIMEOUT_MS (2 * 60 * 1000)

static const struct store_kind *K(const char *plural)
{
	return store_kind_by_plural(plural);
}

static json_t *meta(const json_t *o)
{
	return json_object_get(o, "metadata");
}

static json_t *child(json_t *parent, const char *key)
{
	json_t *v = json_object_get(parent, key);
	if (!json_is_object(v)) {
		v = json_object();
		json_object_set_new(parent, key, v);
	}
	return v;
}

static bool terminating(const json_t *o)
{
	return json_object_get(meta(o), "deletionTimestamp") != NULL;
}

/* intstr.GetScaledValueFromIntOrPercent, rounding up: 2, or "50%" of total. */
static int scaled_value(const json_t *v, int total)
{
	if (json_is_integer(v))
		return (int)json_integer_value(v);
	const char *s = json_string_value(v);
	size_t len = s ? strlen(s) : 0;
	int pct;
	if (len < 2 || len > 5 || s[len - 1] != '%')
		return 0;
	char buf[8];
	memcpy(buf, s, len - 1);
	buf[len - 1] = '\0';
	if (!parse_int(buf, 0, 100, &pct))
		return 0;
	return (total * pct + 99) / 100;
}

/* The controller a reference names, if it exists with that uid. */
static struct store_obj *controller_named(const json_t *ref, const char *ns, const char *plural)
{
	struct store_obj *o = store_get(K(plural), ns, json_str(ref, "name"));
	const char *uid = o ? json_str(meta(o->body), "uid") : NULL;
	return uid && !strcmp(uid, json_str(ref, "uid")) ? o : NULL;
}

static const json_t *controller_ref(const json_t *obj)
{
	size_t i;
	json_t *ref;
	json_array_foreach (json_object_get(meta(obj), "ownerReferences"), i, ref) {
		if (json_is_true(json_object_get(ref, "controller")))
			return ref;
	}
	return NULL;
}

/*
 * The scale of the pods' controllers, each counted once (getExpectedScale,
 * with its finders): a StatefulSet's spec.replicas (getPodStatefulSet); a
 * ReplicaSet's, unless a Deployment controls it (getPodReplicaSet); then
 * the Deployment's, found through the ReplicaSet (getPodDeployment), so
 * that the old and the new ReplicaSets of a rollout count it once.  Each
 * link must have the uid its reference names.  Pods without a controller
 * add nothing.
 */
static int expected_scale(struct store_obj **pods, size_t n)
{
	json_t *seen = json_object();	 /* the pods' controllers, by uid */
	json_t *counted = json_object(); /* the scales added, by uid */
	int total = 0;
	for (size_t i = 0; i < n; i++) {
		const json_t *ref = controller_ref(pods[i]->body);
		const char *kind = json_str(ref, "kind");
		if (!kind || !json_str(ref, "name") || !json_str(ref, "uid") ||
		    json_object_get(seen, json_str(ref, "uid")))
			continue;
		struct store_obj *owner = NULL;
		if (!strcmp(kind, "StatefulSet")) {
			owner = controller_named(ref, pods[i]->ns, "statefulsets");
		} else if (!strcmp(kind, "ReplicaSet")) {
			owner = controller_named(ref, pods[i]->ns, "replicasets");
			const json_t *up = owner ? controller_ref(owner->body) : NULL;
			const char *up_kind = json_str(up, "kind");
			if (up_kind && !strcmp(up_kind, "Deployment"))
				owner = json_str(up, "name") && json_str(up, "uid")
						? controller_named(up, pods[i]->ns, "deployments")
						: NULL;
		}
		if (!owner)
			continue;
		json_object_set_new(seen, json_str(ref, "uid"), json_true());
		const char *owner_uid = json_str(meta(owner->body), "uid");
		if (json_object_get(counted, owner_uid))
			continue;
		json_object_set_new(counted, owner_uid, json_true());
		json_t *replicas =
			json_object_get(json_object_get(owner->body, "spec"), "replicas");
		total += json_is_integer(replicas) ? (int)json_integer_value(replicas) : 0;
	}
	json_decref(seen);
	json_decref(counted);
	return total;
}

/* The DisruptionAllowed condition for the status (policy/util, UpdateDisruptionAllowedCondition). */
static void set_allowed_condition(json_t *status, const json_t *old_status)
{
	bool allowed = json_integer_value(json_object_get(status, "disruptionsAllowed")) > 0;
	const char *st = allowed ? "True" : "False";
	const char *since = NULL;
	size_t i;
	json_t *c;
	json_array_foreach (json_object_get(old_status, "conditions"), i, c) {
		const char *type = json_str(c, "type");
		const char *was = json_str(c, "status");
		if (type && !strcmp(type, "DisruptionAllowed") && was && !strcmp(was, st))
			since = json_str(c, "lastTransitionTime");
	}
	char ts[32];
	store_timestamp(ts, sizeof(ts), now_wall_ms());
	json_object_set_new(
		status, "conditions",
		json_pack(
			"[{s:s, s:s, s:s, s:s, s:s, s:I}]", "type", "DisruptionAllowed", "status",
			st, "reason", allowed ? "SufficientPods" : "InsufficientPods", "message",
			"", "lastTransitionTime", since ? since : ts, "observedGeneration",
			json_object_get(status, "observedGeneration")
				? json_integer_value(json_object_get(status, "observedGeneration"))
				: 0));
}

/* The pods the budget's selector matches in its namespace (allocated). */
static struct store_obj **budget_pods(const struct store_obj *pdb, size_t *n)
{
	struct selector sel;
	char *err = NULL;
	size_t all, k = 0;
	*n = 0;
	if (!selector_from_json(json_object_get(json_object_get(pdb->body, "spec"), "selector"),
				&sel, &err)) {
		free(err);
		return NULL;
	}
	struct store_obj **pods = store_list(K("pods"), pdb->ns, &all);
	for (size_t i = 0; i < all; i++)
		if (selector_matches(&sel, json_object_get(meta(pods[i]->body), "labels")))
			pods[k++] = pods[i];
	selector_free(&sel);
	*n = k;
	return pods;
}

static void sync_one(struct store_obj *pdb)
{
	json_t *spec = json_object_get(pdb->body, "spec");
	json_t *old = json_object_get(pdb->body, "status");
	size_t n;
	struct store_obj **pods = budget_pods(pdb, &n);
	int64_t now = now_wall_ms();

	/* Evictions not yet carried out count as disruptions for a while
	 * (buildDisruptedPodMap): dropped once the pod is being deleted, gone,
	 * or after the timeout. */
	json_t *disrupted = json_object();
	const char *pname;
	json_t *when;
	json_object_foreach (json_object_get(old, "disruptedPods"), pname, when) {
		struct store_obj *pod = store_get(K("pods"), pdb->ns, pname);
		int64_t at = controllers_parse_timestamp(json_string_value(when));
		if (pod && !terminating(pod->body) && at + DISRUPTED_POD_TIMEOUT_MS > now)
			json_object_set(disrupted, pname, when);
	}

	int expected = 0, desired = 0, healthy = 0;
	json_t *min = json_object_get(spec, "minAvailable");
	json_t *max = json_object_get(spec, "maxUnavailable");
	if (max) {
		expected = expected_scale(pods, n);
		desired = expected - scaled_value(max, expected);
	} else if (json_is_integer(min)) {
		expected = (int)n;
		desired = (int)json_integer_value(min);
	} else if (min) {
		expected = expected_scale(pods, n);
		desired = scaled_value(min, expected);
	}
	if (desired < 0)
		desired = 0;
	for (size_t i = 0; i < n; i++)
		if (controllers_pod_ready(pods[i]->body) &&
		    !json_object_get(disrupted, pods[i]->name))
			healthy++;
	free(pods);
	int allowed = healthy - desired;
	if (expected <= 0 || allowed < 0)
		allowed = 0;

	json_t *status = json_pack(
		"{s:I, s:i, s:i, s:i, s:i}", "observedGeneration",
		(json_int_t)json_integer_value(json_object_get(meta(pdb->body), "generation")),
		"disruptionsAllowed", allowed, "currentHealthy", healthy, "desiredHealthy", desired,
		"expectedPods", expected);
	if (json_object_size(disrupted) > 0)
		json_object_set(status, "disruptedPods", disrupted);
	json_decref(disrupted);
	set_allowed_condition(status, old);
	if (json_equal(old, status)) {
		json_decref(status);
		return;
	}
	json_t *body = json_deep_copy(pdb->body);
	json_object_set_new(body, "status", status);
	store_update(pdb, body);
}

void disruption_sync(void)
{
	size_t n;
	struct store_obj **pdbs = store_list(K("poddisruptionbudgets"), NULL, &n);
	for (size_t i = 0; i < n; i++)
		if (!pdbs[i]->gone)
			sync_one(pdbs[i]);
	free(pdbs);
}

/* --- the Eviction subresource ----------------------------------------------------------- */

/* A Status of failure, as the API server writes it (apimachinery's errors). */
static void reply_failure(struct call *c, int code, const char *reason, json_t *details,
			  const char *message)
{
	json_t *s = json_pack("{s:s, s:s, s:{}, s:s, s:s, s:o, s:i}", "kind", "Status",
			      "apiVersion", "v1", "metadata", "status", "Failure", "message",
			      message, "details", details ? details : json_object(), "code", code);
	if (reason)
		json_object_set_new(s, "reason", json_string(reason));
	call_reply_json(c, code, s);
}

/* 429 from the budget (createTooManyRequestsError, checkAndDecrement). */
static void reply_budget_refusal(struct call *c, int retry_after_s, const char *why)
{
	json_t *details = json_pack("{s:[{s:s, s:s}]}", "causes", "reason", "DisruptionBudget",
				    "message", why);
	if (retry_after_s > 0) {
		char v[16];
		snprintf(v, sizeof(v), "%d", retry_after_s);
		json_object_set_new(details, "retryAfterSeconds", json_integer(retry_after_s));
		call_add_header(c, "Retry-After", v);
	}
	reply_failure(c, 429, "TooManyRequests", details,
		      "Cannot evict pod as it would violate the pod's disruption budget.");
}

/* canIgnorePDB: a pod that is not running disrupts nothing by going. */
static bool budget_ignored(const json_t *pod)
{
	const char *phase = json_str(json_object_get(pod, "status"), "phase");
	return terminating(pod) || !phase || !strcmp(phase, "Pending") ||
	       !strcmp(phase, "Succeeded") || !strcmp(phase, "Failed");
}

/* The eviction's delete: the DisruptionTarget condition, then the delete
 * with the eviction's grace period (addConditionAndDeletePod). */
static void evict_pod(struct store_obj *pod, int64_t grace_ms)
{
	if (!terminating(pod->body)) {
		json_t *body = json_deep_copy(pod->body);
		json_t *conds = json_object_get(child(body, "status"), "conditions");
		char ts[32];
		store_timestamp(ts, sizeof(ts), now_wall_ms());
		if (!json_is_array(conds)) {
			conds = json_array();
			json_object_set_new(json_object_get(body, "status"), "conditions", conds);
		}
		json_array_append_new(conds, json_pack("{s:s, s:s, s:s, s:s, s:n, s:s}", "type",
						       "DisruptionTarget", "status", "True",
						       "reason", "EvictionByEvictionAPI", "message",
						       "Eviction API: evicting", "lastProbeTime",
						       "lastTransitionTime", ts));
		store_update(pod, body);
	}
	controllers_delete_pod(pod, grace_ms, "eviction");
}

static void reply_evicted(struct call *c)
{
	call_reply_json(c, 201,
			json_pack("{s:s, s:s, s:{}, s:s}", "kind", "Status", "apiVersion", "v1",
				  "metadata", "status", "Success"));
}

/* Appends to *acc (allocated, or NULL). */
static void append(char **acc, const char *text)
{
	char *next = xasprintf("%s%s", *acc ? *acc : "", text);
	free(*acc);
	*acc = next;
}

/* Go's %#v of a []string, as field errors print a list: []string{"a", "b"}. */
static char *go_string_slice(const json_t *list)
{
	char *out = xstrdup("[]string{");
	size_t i;
	json_t *v;
	json_array_foreach (list, i, v) {
		char *item = xasprintf("%s\"%s\"", i ? ", " : "",
				       json_is_string(v) ? json_string_value(v) : "");
		append(&out, item);
		free(item);
	}
	append(&out, "}");
	return out;
}

/* fmt's %v of a []string: [a b]. */
static char *go_plain_slice(const json_t *list)
{
	char *out = xstrdup("[");
	size_t i;
	json_t *v;
	json_array_foreach (list, i, v) {
		if (i)
			append(&out, " ");
		append(&out, json_is_string(v) ? json_string_value(v) : "");
	}
	append(&out, "]");
	return out;
}

/* ValidateDryRun (apimachinery/pkg/apis/meta/v1/validation): "All" only. */
static void check_dry_run(const json_t *list, json_t *causes)
{
	size_t i;
	json_t *v;
	json_array_foreach (list, i, v) {
		if (!json_is_string(v) || strcmp(json_string_value(v), "All") != 0) {
			char *got = go_string_slice(list);
			char *msg =
				xasprintf("Unsupported value: %s: supported values: \"All\"", got);
			json_array_append_new(causes, json_pack("{s:s, s:s, s:s}", "reason",
								"FieldValueNotSupported", "message",
								msg, "field", "dryRun"));
			free(msg);
			free(got);
			return;
		}
	}
}

/* 422 for options that fail their validation: `Kind.meta.k8s.io "" is
 * invalid: ...` (errors.NewInvalid with the field errors). */
static void reply_invalid_options(struct call *c, const char *kind, json_t *causes)
{
	size_t i;
	json_t *cs;
	char *msg = xasprintf("%s.meta.k8s.io \"\" is invalid: %s", kind,
			      json_array_size(causes) > 1 ? "[" : "");
	json_array_foreach (causes, i, cs) {
		char *item = xasprintf("%s%s: %s", i ? ", " : "", json_str(cs, "field"),
				       json_str(cs, "message"));
		append(&msg, item);
		free(item);
	}
	if (json_array_size(causes) > 1)
		append(&msg, "]");
	reply_failure(c, 422, "Invalid",
		      json_pack("{s:s, s:s, s:O}", "group", "meta.k8s.io", "kind", kind, "causes",
				causes),
		      msg);
	free(msg);
}

/* ValidateDeleteOptions, which the pod's delete runs (rest.BeforeDelete),
 * dry run or not; false with the 422 sent. */
static bool delete_options_ok(struct call *c, const json_t *opts)
{
	json_t *causes = json_array();
	const char *prop = json_str(opts, "propagationPolicy");
	if (json_object_get(opts, "orphanDependents") && prop) {
		char *msg = xasprintf("Invalid value: \"%s\": orphanDependents and "
				      "deletionPropagation cannot be both set",
				      prop);
		json_array_append_new(causes,
				      json_pack("{s:s, s:s, s:s}", "reason", "FieldValueInvalid",
						"message", msg, "field", "propagationPolicy"));
		free(msg);
	}
	if (prop && strcmp(prop, "Foreground") != 0 && strcmp(prop, "Background") != 0 &&
	    strcmp(prop, "Orphan") != 0) {
		char *msg = xasprintf("Unsupported value: \"%s\": supported values: "
				      "\"Foreground\", \"Background\", \"Orphan\", \"nil\"",
				      prop);
		json_array_append_new(causes, json_pack("{s:s, s:s, s:s}", "reason",
							"FieldValueNotSupported", "message", msg,
							"field", "propagationPolicy"));
		free(msg);
	}
	check_dry_run(json_object_get(opts, "dryRun"), causes);
	bool ok = json_array_size(causes) == 0;
	if (!ok)
		reply_invalid_options(c, "DeleteOptions", causes);
	json_decref(causes);
	return ok;
}

/* The pod's delete (store.Delete, dry run or not): its options' validation,
 * then the uid precondition; false with the refusal sent. */
static bool pod_delete_ok(struct call *c, const struct store_obj *pod, const json_t *opts,
			  const char *want_uid)
{
	if (!delete_options_ok(c, opts))
		return false;
	const char *uid = json_str(meta(pod->body), "uid");
	if (want_uid && uid && strcmp(want_uid, uid) != 0) {
		char *msg =
			xasprintf("Operation cannot be fulfilled on Pod \"%s\": the UID in the "
				  "precondition (%s) does not match the UID in record (%s). The "
				  "object might have been deleted and then recreated",
				  pod->name, want_uid, uid);
		reply_failure(c, 409, "Conflict",
			      json_pack("{s:s, s:s}", "name", pod->name, "kind", "Pod"), msg);
		free(msg);
		return false;
	}
	return true;
}

void disruption_evict(struct call *c, const char *ns, const char *name)
{
	json_error_t jerr;
	/* The create handler validates the request's options first
	 * (handlers/create.go, ValidateCreateOptions). */
	const char *query_dry = call_param(c, "dryRun");
	json_t *query_list = query_dry ? json_pack("[s]", query_dry) : json_array();
	json_t *causes = json_array();
	check_dry_run(query_list, causes);
	if (json_array_size(causes) > 0) {
		reply_invalid_options(c, "CreateOptions", causes);
		json_decref(causes);
		json_decref(query_list);
		return;
	}
	json_decref(causes);
	json_t *ev = c->body_len ? json_loadb(c->body, c->body_len, 0, &jerr) : NULL;
	if (!json_is_object(ev)) {
		json_decref(query_list);
		json_decref(ev);
		reply_failure(c, 400, "BadRequest", NULL,
			      "the body of the request is not a valid Eviction");
		return;
	}
	const char *kind = json_str(ev, "kind");
	const char *av = json_str(ev, "apiVersion");
	const char *ename = json_str(meta(ev), "name");
	json_t *opts = json_object_get(ev, "deleteOptions");
	json_t *body_dry = json_object_get(opts, "dryRun");
	if ((kind && strcmp(kind, "Eviction") != 0) ||
	    (av && strcmp(av, "policy/v1") != 0 && strcmp(av, "policy/v1beta1") != 0)) {
		reply_failure(c, 400, "BadRequest", NULL, "not a Eviction object");
		goto done;
	}
	if (!ename || strcmp(ename, name) != 0) {
		reply_failure(c, 400, "BadRequest", NULL,
			      "name in URL does not match name in Eviction object");
		goto done;
	}
	/* propagateDryRun: the request's dryRun goes into the eviction's
	 * delete options; two different lists are an error that is no API
	 * status, which the server answers as a 500 with no reason. */
	if (json_array_size(body_dry) > 0 && json_array_size(query_list) > 0 &&
	    !json_equal(body_dry, query_list)) {
		char *a = go_plain_slice(query_list), *b = go_plain_slice(body_dry);
		char *msg = xasprintf(
			"Non-matching dry-run options in request and content: %s and %s", a, b);
		reply_failure(c, 500, NULL, NULL, msg);
		free(msg);
		free(a);
		free(b);
		goto done;
	}
	opts = opts ? json_deep_copy(opts) : json_object();
	json_object_del(ev, "deleteOptions");
	json_object_set_new(ev, "deleteOptions", opts);
	if (json_array_size(body_dry) == 0 && json_array_size(query_list) > 0)
		json_object_set(opts, "dryRun", query_list);

	json_t *grace = json_object_get(opts, "gracePeriodSeconds");
	int64_t grace_ms = json_is_integer(grace) ? json_integer_value(grace) * 1000 : -1;
	const char *want_uid = json_str(json_object_get(opts, "preconditions"), "uid");
	/* dryrun.IsDryRun: any value; a bad one is refused by the delete. */
	bool dry_run = json_array_size(json_object_get(opts, "dryRun")) > 0;

	struct store_obj *pod = store_get(K("pods"), ns, name);
	if (!pod) {
		char *msg = xasprintf("pods \"%s\" not found", name);
		reply_failure(c, 404, "NotFound",
			      json_pack("{s:s, s:s}", "name", name, "kind", "pods"), msg);
		free(msg);
		goto done;
	}
	if (budget_ignored(pod->body)) {
		if (!pod_delete_ok(c, pod, opts, want_uid))
			goto done;
		if (!dry_run)
			evict_pod(pod, grace_ms);
		reply_evicted(c);
		goto done;
	}

	/* The budgets of the pod's namespace whose selector matches it. */
	size_t n, matched = 0;
	struct store_obj **pdbs = store_list(K("poddisruptionbudgets"), ns, &n);
	struct store_obj *pdb = NULL;
	for (size_t i = 0; i < n; i++) {
		struct selector sel;
		char *err = NULL;
		if (!selector_from_json(
			    json_object_get(json_object_get(pdbs[i]->body, "spec"), "selector"),
			    &sel, &err)) {
			free(err);
			continue;
		}
		if (selector_matches(&sel, json_object_get(meta(pod->body), "labels"))) {
			matched++;
			pdb = pdbs[i];
		}
		selector_free(&sel);
	}
	free(pdbs);
	if (matched > 1) {
		reply_failure(c, 500, NULL, NULL,
			      "This pod has more than one PodDisruptionBudget, which the eviction "
			      "subresource does not support.");
		goto done;
	}
	if (!pdb) {
		if (!pod_delete_ok(c, pod, opts, want_uid))
			goto done;
		if (!dry_run)
			evict_pod(pod, grace_ms);
		reply_evicted(c);
		goto done;
	}
	json_t *status = json_object_get(pdb->body, "status");
	json_int_t allowed = json_integer_value(json_object_get(status, "disruptionsAllowed"));
	json_int_t healthy = json_integer_value(json_object_get(status, "currentHealthy"));
	json_int_t desired = json_integer_value(json_object_get(status, "desiredHealthy"));
	/* An unready pod may go while the budget has its healthy pods, without
	 * taking a disruption (the IfHealthyBudget policy, the default). */
	if (!controllers_pod_ready(pod->body) && healthy >= desired && desired > 0) {
		if (!pod_delete_ok(c, pod, opts, want_uid))
			goto done;
		if (!dry_run)
			evict_pod(pod, grace_ms);
		reply_evicted(c);
		goto done;
	}
	if (json_integer_value(json_object_get(status, "observedGeneration")) <
	    json_integer_value(json_object_get(meta(pdb->body), "generation"))) {
		char *why = xasprintf("The disruption budget %s is still being processed by the "
				      "server.",
				      pdb->name);
		reply_budget_refusal(c, 10, why);
		free(why);
		goto done;
	}
	if (allowed <= 0) {
		char *why = xasprintf("The disruption budget %s needs %lld healthy pods and has "
				      "%lld currently",
				      pdb->name, (long long)desired, (long long)healthy);
		reply_budget_refusal(c, 0, why);
		free(why);
		goto done;
	}
	if (!dry_run) {
		/* The disruption taken, in the budget's status, before the pod
		 * goes (checkAndDecrement's UpdateStatus comes before the
		 * delete: a delete refused then leaves the disruption counted
		 * until the controller drops it). */
		json_t *pbody = json_deep_copy(pdb->body);
		json_t *st = child(pbody, "status");
		char ts[32];
		store_timestamp(ts, sizeof(ts), now_wall_ms());
		json_object_set_new(st, "disruptionsAllowed", json_integer(allowed - 1));
		json_object_set_new(child(st, "disruptedPods"), name, json_string(ts));
		if (allowed - 1 == 0)
			set_allowed_condition(st, status);
		store_update(pdb, pbody);
	}
	if (!pod_delete_ok(c, pod, opts, want_uid))
		goto done;
	if (!dry_run) {
		log_info("pod %s/%s evicted under the disruption budget %s", ns, name, pdb->name);
		evict_pod(pod, grace_ms);
	}
	reply_evicted(c);
done:
	json_decref(ev);
	json_decref(query_list);
}
