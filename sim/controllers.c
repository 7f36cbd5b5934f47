#include "sim/controllers.h"
#include "sim/configdata.h"

#include <math.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>

#include "common/log.h"
#include "common/util.h"
#include "common/json.h"
#include "sim/disruption.h"
#include "sim/endpoints.h"
#include "sim/podvalidation.h"
#include "sim/rbac.h"
#include "sim/es.h"
#include "sim/faults.h"
#include "sim/hostfs.h"
#include "sim/images.h"
#include "sim/podsecurity.h"
#include "sim/record.h"
#include "sim/selector.h"
#include "sim/simconf.h"
#include "sim/store.h"

static struct event_base *base;
static struct event *tick_ev, *kick_ev;
static bool kicked;
static unsigned pod_ip_seq;

/* Nodes that pods are bound to but that do not exist, since when (the pod
 * garbage collector's quarantine queue). */
struct quarantined {
	char *node;
	int64_t since_ms;
};
static struct quarantined *quarantine;
static size_t nquarantine;

static const struct store_kind *K(const char *plural)
{
	return store_kind_by_plural(plural);
}

static json_t *meta(const json_t *o)
{
	return json_object_get(o, "metadata");
}

static bool same(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
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

int64_t controllers_parse_timestamp(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	if (!end)
		return 0;
	return (int64_t)timegm(&tm) * 1000;
}

static void now_ts(char *buf, size_t len)
{
	store_timestamp(buf, len, now_wall_ms());
}

/* Write status (reference stolen) unless it is what o has. */
static void set_status(struct store_obj *o, json_t *status)
{
	if (json_equal(json_object_get(o->body, "status"), status)) {
		json_decref(status);
		return;
	}
	json_t *body = json_deep_copy(o->body);
	json_object_set_new(body, "status", status);
	store_update(o, body);
}

/* --- pods ------------------------------------------------------------------ */

void controllers_default_pod_spec(json_t *spec)
{
	static const struct {
		const char *key;
		const char *value;
	} strs[] = {
		{"restartPolicy", "Always"},
		{"dnsPolicy", "ClusterFirst"},
		{"schedulerName", "default-scheduler"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(strs); i++) {
		if (!json_object_get(spec, strs[i].key))
			json_object_set_new(spec, strs[i].key, json_string(strs[i].value));
	}
	if (!json_object_get(spec, "terminationGracePeriodSeconds"))
		json_object_set_new(spec, "terminationGracePeriodSeconds", json_integer(30));
	if (!json_object_get(spec, "securityContext"))
		json_object_set_new(spec, "securityContext", json_object());
	const char *lists[] = {"containers", "initContainers"};
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		size_t i;
		json_t *c;
		json_array_foreach (json_object_get(spec, lists[l]), i, c) {
			const char *image = json_str(c, "image");
			if (!json_object_get(c, "imagePullPolicy"))
				json_object_set_new(c, "imagePullPolicy",
						    json_string(images_default_pull_policy(
							    image ? image : "")));
			if (!json_object_get(c, "terminationMessagePath"))
				json_object_set_new(c, "terminationMessagePath",
						    json_string("/dev/termination-log"));
			if (!json_object_get(c, "terminationMessagePolicy"))
				json_object_set_new(c, "terminationMessagePolicy",
						    json_string("File"));
			if (!json_object_get(c, "resources"))
				json_object_set_new(c, "resources", json_object());
			size_t j;
			json_t *p;
			json_array_foreach (json_object_get(c, "ports"), j, p) {
				if (!json_object_get(p, "protocol"))
					json_object_set_new(p, "protocol", json_string("TCP"));
			}
			/* The ProcMountType feature is alpha and off in 1.29: the
			 * field is dropped on write (pkg/api/pod/util.go,
			 * dropDisabledFields), so Pod Security never sees it. */
			json_object_del(json_object_get(c, "securityContext"), "procMount");
		}
	}
}

void controllers_default_pod(json_t *spec)
{
	controllers_default_pod_spec(spec);
	/* A pod's (not a template's): requests default to the limits. */
	const char *lists[] = {"containers", "initContainers"};
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		size_t i;
		json_t *c;
		json_array_foreach (json_object_get(spec, lists[l]), i, c) {
			json_t *res = json_object_get(c, "resources");
			json_t *limits = json_object_get(res, "limits");
			const char *k;
			json_t *v;
			if (!json_is_object(res) || json_object_size(limits) == 0)
				continue;
			json_t *requests = child(res, "requests");
			json_object_foreach (limits, k, v) {
				if (!json_object_get(requests, k))
					json_object_set(requests, k, v);
			}
		}
	}
}

bool controllers_pod_ready(const json_t *pod)
{
	if (terminating(pod))
		return false;
	size_t i;
	json_t *c;
	json_array_foreach (json_object_get(json_object_get(pod, "status"), "conditions"), i, c) {
		if (!strcmp(json_str(c, "type"), "Ready"))
			return !strcmp(json_str(c, "status"), "True");
	}
	return false;
}

/*
 * The grace the API server stamps on a pod it deletes gracefully: the
 * DeleteOptions' gracePeriodSeconds when given (requested_ms >= 0), else
 * the pod's spec.terminationGracePeriodSeconds, 30 when unset
 * (pkg/registry/core/pod/strategy.go, CheckGracefulDelete).
 */
static int64_t stamped_grace_s(const json_t *pod, int64_t requested_ms)
{
	if (requested_ms >= 0)
		return (requested_ms + 999) / 1000;
	json_t *tg = json_object_get(json_object_get(pod, "spec"), "terminationGracePeriodSeconds");
	return json_is_integer(tg) && json_integer_value(tg) >= 0 ? json_integer_value(tg) : 30;
}

/*
 * deletionTimestamp is the time the pod may be killed at, the deletion's
 * time plus its grace, and deletionGracePeriodSeconds that grace; a later
 * delete only shortens them
 * (staging/src/k8s.io/apiserver/pkg/registry/rest/delete.go, BeforeDelete).
 */
static bool stamp_deletion(json_t *body, int64_t grace_s)
{
	json_t *m = child(body, "metadata");
	json_t *had = json_object_get(m, "deletionGracePeriodSeconds");
	if (json_is_integer(had) && json_integer_value(had) <= grace_s)
		return false;
	char ts[32];
	store_timestamp(ts, sizeof(ts), now_wall_ms() + grace_s * 1000);
	json_object_set_new(m, "deletionTimestamp", json_string(ts));
	json_object_set_new(m, "deletionGracePeriodSeconds", json_integer(grace_s));
	return true;
}

void controllers_delete_pod(struct store_obj *pod, int64_t grace_ms, const char *by)
{
	const struct simconf *conf = simconf_get();
	if (pod->gone)
		return;
	record_pod_deletion(pod->ns, pod->name, json_str(meta(pod->body), "uid"), by);
	int64_t grace_s = stamped_grace_s(pod->body, grace_ms);
	if (grace_ms < 0) {
		/* The containers exit on SIGTERM after pods.terminate_ms, or are
		 * killed at the pod's terminationGracePeriodSeconds, whichever
		 * comes first (pkg/kubelet/kuberuntime/kuberuntime_container.go,
		 * killContainer). */
		grace_ms = conf->pod_terminate_ms;
		if (grace_s * 1000 < grace_ms)
			grace_ms = grace_s * 1000;
	}
	if (grace_ms == 0) {
		log_debug("pod %s/%s deleted", pod->ns, pod->name);
		store_delete(pod);
		controllers_kick();
		return;
	}
	if (terminating(pod->body)) {
		if (now_mono_ms() + grace_ms < pod->gone_at_ms)
			pod->gone_at_ms = now_mono_ms() + grace_ms;
		json_t *body = json_deep_copy(pod->body);
		if (stamp_deletion(body, grace_s))
			store_update(pod, body);
		else
			json_decref(body);
		return;
	}
	/* Its conditions stay as they are: the kubelet goes on probing a
	 * terminating pod, and its Ready condition follows the probe (an
	 * application that stops listening on SIGTERM turns not Ready after
	 * failureThreshold failed probes); the endpoints mark it terminating
	 * at once (sim/endpoints.c).
	 * https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination */
	json_t *body = json_deep_copy(pod->body);
	(void)stamp_deletion(body, grace_s);
	pod->gone_at_ms = now_mono_ms() + grace_ms;
	store_update(pod, body);
	controllers_kick();
}

static bool owned_by(const json_t *obj, const char *uid)
{
	size_t i;
	json_t *r;
	json_array_foreach (json_object_get(meta(obj), "ownerReferences"), i, r) {
		const char *u = json_str(r, "uid");
		if (u && !strcmp(u, uid))
			return true;
	}
	return false;
}

/* Objects of a kind owned by owner (by uid), oldest first. */
static struct store_obj **owned_objects(const struct store_obj *owner,
					const struct store_kind *kind, size_t *n)
{
	size_t all, k = 0;
	struct store_obj **objs = store_list(kind, owner->ns, &all);
	const char *uid = json_str(meta(owner->body), "uid");
	for (size_t i = 0; i < all; i++) {
		if (owned_by(objs[i]->body, uid))
			objs[k++] = objs[i];
	}
	*n = k;
	return objs;
}

/* Pods owned by a workload: a StatefulSet or a ReplicaSet. */
static struct store_obj **owned_pods(const struct store_obj *owner, size_t *n)
{
	return owned_objects(owner, K("pods"), n);
}

/* A short stable hash of a pod template, as in controller-revision-hash. */
static void template_hash(const json_t *tmpl, char *buf, size_t len)
{
	char *s = json_dumps(tmpl, JSON_COMPACT | JSON_SORT_KEYS);
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = s; p && *p; p++) {
		h ^= (unsigned char)*p;
		h *= 1099511628211ULL;
	}
	free(s);
	static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
	size_t i;
	for (i = 0; i + 1 < len && i < 10; i++) {
		buf[i] = alphabet[h % 27];
		h /= 27;
	}
	buf[i] = '\0';
}

/*
 * A pod of owner's template, through quota admission: NULL when refused,
 * *error then saying why as the API server would ("pods \"x\" is forbidden:
 * exceeded quota: ..."; the caller frees it).  generate_name: the prefix a
 * ReplicaSet asks the server to complete, which is how its refusals name
 * the pod; NULL for a StatefulSet's pods, which have their names.
 */
static struct store_obj *create_pod(struct store_obj *owner, const char *name,
				    const char *generate_name, const char *owner_kind,
				    const char *owner_name, const char *owner_uid,
				    const char *hash_label, const char *hash, char **error)
{
	json_t *tmpl = json_object_get(json_object_get(owner->body, "spec"), "template");
	json_t *pod = json_object();
	json_t *m = json_object();
	json_t *labels = json_deep_copy(json_object_get(meta(tmpl), "labels"));
	if (!labels)
		labels = json_object();
	json_object_set_new(labels, hash_label, json_string(hash));
	if (generate_name)
		json_object_set_new(m, "generateName", json_string(generate_name));
	json_object_set_new(m, "name", json_string(name));
	json_object_set_new(m, "labels", labels);
	if (json_object_get(meta(tmpl), "annotations"))
		json_object_set(m, "annotations", json_object_get(meta(tmpl), "annotations"));
	json_object_set_new(m, "ownerReferences",
			    json_pack("[{s:s, s:s, s:s, s:s, s:b, s:b}]", "apiVersion", "apps/v1",
				      "kind", owner_kind, "name", owner_name, "uid", owner_uid,
				      "controller", 1, "blockOwnerDeletion", 1));
	json_object_set_new(pod, "metadata", m);
	json_t *spec = json_deep_copy(json_object_get(tmpl, "spec"));
	if (!spec)
		spec = json_object();
	controllers_default_pod(spec);
	json_object_set_new(pod, "spec", spec);
	json_object_set_new(pod, "status",
			    json_pack("{s:s, s:s}", "phase", "Pending", "qosClass", "BestEffort"));
	/* The pod the controller posts is validated: a StatefulSet's has a
	 * volume for each claim template (sts_pod_extras). */
	json_t *checked = json_deep_copy(spec);
	size_t ti;
	json_t *t;
	json_array_foreach (
		json_object_get(json_object_get(owner->body, "spec"), "volumeClaimTemplates"), ti,
		t) {
		const char *tname = json_str(meta(t), "name");
		json_t *vols = json_object_get(checked, "volumes");
		if (!json_is_array(vols)) {
			vols = json_array();
			json_object_set_new(checked, "volumes", vols);
		}
		if (tname)
			json_array_append_new(vols, json_pack("{s:s, s:{s:s}}", "name", tname,
							      "persistentVolumeClaim", "claimName",
							      "template"));
	}
	char *invalid = podvalidation_pod_refusal(name, checked);
	json_decref(checked);
	if (invalid) {
		*error = invalid;
		json_decref(pod);
		return NULL;
	}
	char *refusal = controllers_admit_pod(owner->ns, pod);
	if (refusal) {
		*error = xasprintf("pods \"%s\" is forbidden: %s",
				   generate_name ? generate_name : name, refusal);
		free(refusal);
		json_decref(pod);
		return NULL;
	}
	struct store_obj *o = store_create(K("pods"), owner->ns, pod);
	json_decref(pod);
	log_debug("pod %s/%s created", owner->ns, name);
	return o;
}

/* --- resource quotas ---------------------------------------------------------- */

/*
 * What kube-apiserver's ResourceQuota admission and kube-controller-manager's
 * quota controller do for pods: a new pod is counted against every quota of
 * its namespace (pods, cpu and memory requests and limits), refused with the
 * real messages when a quota would be exceeded or when it leaves out what a
 * quota constrains, and status.used of each quota follows the pods there.
 * Like the real admission it goes by status.hard, which the controller
 * copies from spec.hard: a quota no controller has seen yet restricts
 * nothing, and a raised one takes effect once seen.
 */

bool controllers_quantity_parse(const json_t *v, struct quantity *q)
{
	static const struct {
		const char *suffix;
		__int128 milli; /* thousandths of a unit per suffix */
		bool binary;
	} suffixes[] = {
		{"m", 1, false},
		{"", 1000, false},
		{"k", (__int128)1000 * 1000, false},
		{"M", (__int128)1000 * 1000 * 1000, false},
		{"G", (__int128)1000 * 1000 * 1000 * 1000, false},
		{"T", (__int128)1000 * 1000 * 1000 * 1000 * 1000, false},
		{"P", (__int128)1000 * 1000 * 1000 * 1000 * 1000 * 1000, false},
		{"E", (__int128)1000 * 1000 * 1000 * 1000 * 1000 * 1000 * 1000, false},
		{"Ki", (__int128)1000 << 10, true},
		{"Mi", (__int128)1000 << 20, true},
		{"Gi", (__int128)1000 << 30, true},
		{"Ti", (__int128)1000 << 40, true},
		{"Pi", (__int128)1000 << 50, true},
		{"Ei", (__int128)1000 << 60, true},
	};
	if (json_is_integer(v)) {
		json_int_t n = json_integer_value(v);
		if (n > INT64_MAX / 1000 || n < INT64_MIN / 1000)
			return false;
		*q = (struct quantity){n * 1000, false};
		return true;
	}
	const char *s = json_string_value(v);
	if (!s)
		return false;
	bool negative = *s == '-';
	if (*s == '-' || *s == '+')
		s++;
	__int128 mantissa = 0, scale = 1;
	int digits = 0;
	bool point = false;
	for (; (*s >= '0' && *s <= '9') || (*s == '.' && !point); s++) {
		if (*s == '.') {
			point = true;
			continue;
		}
		if (++digits > 18)
			return false;
		mantissa = mantissa * 10 + (*s - '0');
		if (point)
			scale *= 10;
	}
	if (digits == 0)
		return false;
	__int128 per = -1;
	bool binary = false;
	if ((*s == 'e' || *s == 'E') && s[1]) {
		/* A decimal exponent, "1e3". */
		int exp;
		if (!parse_int(s + 1, -3, 18, &exp))
			return false;
		per = 1000;
		for (; exp > 0; exp--)
			per *= 10;
		for (; exp < 0; exp++)
			scale *= 10;
	} else {
		for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
			if (!strcmp(s, suffixes[i].suffix)) {
				per = suffixes[i].milli;
				binary = suffixes[i].binary;
			}
		}
	}
	if (per < 0)
		return false;
	/* Rounded up to a thousandth, as MilliValue() rounds. */
	__int128 milli;
	if (__builtin_mul_overflow(mantissa, per, &milli))
		return false;
	milli = (milli + scale - 1) / scale;
	if (milli > INT64_MAX)
		return false;
	*q = (struct quantity){negative ? -(int64_t)milli : (int64_t)milli, binary};
	return true;
}

char *controllers_quantity_format(struct quantity q)
{
	static const char *const decimal[] = {"", "k", "M", "G", "T", "P", "E"};
	static const char *const binary[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
	if (q.milli % 1000 != 0)
		return xasprintf("%lldm", (long long)q.milli);
	int64_t v = q.milli / 1000;
	/* Below 1Ki, binary quantities print in decimal, as the API server's do. */
	bool bin = q.binary && (v >= 1024 || v <= -1024);
	int64_t per = bin ? 1024 : 1000;
	int i = 0;
	while (v != 0 && v % per == 0 && i < 6) {
		v /= per;
		i++;
	}
	return xasprintf("%lld%s", (long long)v, bin ? binary[i] : decimal[i]);
}

static void list_set(json_t *list, const char *key, struct quantity q)
{
	char *text = controllers_quantity_format(q);
	json_object_set_new(list, key, json_string(text));
	free(text);
}

/* list[key] += q, in the format of what list had first. */
static void list_add(json_t *list, const char *key, struct quantity q)
{
	struct quantity have;
	if (controllers_quantity_parse(json_object_get(list, key), &have)) {
		/* A sum keeps the format of what it adds to, unless that is
		 * zero (apimachinery/pkg/api/resource/quantity.go, Add). */
		bool binary = have.milli != 0 ? have.binary : q.binary;
		if (__builtin_add_overflow(have.milli, q.milli, &q.milli))
			q.milli = INT64_MAX;
		q.binary = binary;
	}
	list_set(list, key, q);
}

/* The keys of a quota that count pods (the pods evaluator's). */
static bool pod_quota_key(const char *key)
{
	static const char *const keys[] = {"pods",	 "count/pods",	 "cpu",
					   "memory",	 "requests.cpu", "requests.memory",
					   "limits.cpu", "limits.memory"};
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (!strcmp(key, keys[i]))
			return true;
	}
	return false;
}

/* cpu and memory of which ("requests" or "limits") of a pod spec: its
 * containers' sum, or an init container's when larger (they run before). */
static json_t *pod_resource_list(const json_t *spec, const char *which)
{
	static const char *const names[] = {"cpu", "memory"};
	json_t *sum = json_object();
	size_t i;
	json_t *c;
	json_array_foreach (json_object_get(spec, "containers"), i, c) {
		json_t *list = json_object_get(json_object_get(c, "resources"), which);
		for (size_t k = 0; k < ARRAY_SIZE(names); k++) {
			struct quantity q;
			if (controllers_quantity_parse(json_object_get(list, names[k]), &q))
				list_add(sum, names[k], q);
		}
	}
	json_array_foreach (json_object_get(spec, "initContainers"), i, c) {
		json_t *list = json_object_get(json_object_get(c, "resources"), which);
		for (size_t k = 0; k < ARRAY_SIZE(names); k++) {
			struct quantity q, have;
			if (!controllers_quantity_parse(json_object_get(list, names[k]), &q))
				continue;
			if (!controllers_quantity_parse(json_object_get(sum, names[k]), &have) ||
			    q.milli > have.milli)
				list_set(sum, names[k], q);
		}
	}
	return sum;
}

/*
 * Whether a pod counts for the compute resources of a quota at now_ms:
 * not once it has ended, nor once a deletion has outlived its grace
 * (deletionTimestamp, itself the deletion's time plus the grace, plus the
 * grace again: a pod stuck terminating on a lost node stops being charged)
 * (pkg/quota/v1/evaluator/core/pods.go, QuotaV1Pod).
 */
static bool pod_counts(const json_t *pod, int64_t now_ms)
{
	const char *phase = json_str(json_object_get(pod, "status"), "phase");
	if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
		return false;
	const char *at = json_str(meta(pod), "deletionTimestamp");
	json_t *grace = json_object_get(meta(pod), "deletionGracePeriodSeconds");
	if (at && json_is_integer(grace)) {
		int64_t deletion_ms = controllers_parse_timestamp(at);
		if (deletion_ms && now_ms > deletion_ms + json_integer_value(grace) * 1000)
			return false;
	}
	return true;
}

/* What a pod counts for in a quota; a pod that no longer counts
 * (pod_counts) does only as an object (count/pods). */
static json_t *pod_usage(const json_t *pod)
{
	json_t *u = json_pack("{s:s}", "count/pods", "1");
	if (!pod_counts(pod, now_wall_ms()))
		return u;
	json_object_set_new(u, "pods", json_string("1"));
	json_t *spec = json_object_get(pod, "spec");
	json_t *req = pod_resource_list(spec, "requests");
	json_t *lim = pod_resource_list(spec, "limits");
	if (json_object_get(req, "cpu")) {
		json_object_set(u, "cpu", json_object_get(req, "cpu"));
		json_object_set(u, "requests.cpu", json_object_get(req, "cpu"));
	}
	if (json_object_get(lim, "cpu"))
		json_object_set(u, "limits.cpu", json_object_get(lim, "cpu"));
	if (json_object_get(req, "memory")) {
		json_object_set(u, "memory", json_object_get(req, "memory"));
		json_object_set(u, "requests.memory", json_object_get(req, "memory"));
	}
	if (json_object_get(lim, "memory"))
		json_object_set(u, "limits.memory", json_object_get(lim, "memory"));
	json_decref(req);
	json_decref(lim);
	return u;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of obj, sorted, joined with ","; with values, "key=value". */
static char *joined_keys(const json_t *obj, bool values)
{
	size_t n = json_object_size(obj), i = 0;
	const char **keys = xcalloc(n + 1, sizeof(*keys));
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)obj, k, v)
		keys[i++] = k;
	qsort(keys, n, sizeof(*keys), cmp_str);
	char *out = xstrdup("");
	for (i = 0; i < n; i++) {
		const char *value = json_str(obj, keys[i]);
		char *next = values ? xasprintf("%s%s%s=%s", out, i ? "," : "", keys[i],
						value ? value : "")
				    : xasprintf("%s%s%s", out, i ? "," : "", keys[i]);
		free(out);
		out = next;
	}
	free(keys);
	return out;
}

/* The entries of list whose keys are in keys. */
static json_t *masked(const json_t *list, const json_t *keys)
{
	json_t *out = json_object();
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)keys, k, v) {
		if (json_object_get(list, k))
			json_object_set(out, k, json_object_get(list, k));
	}
	return out;
}

/* Does a container give what required (quota keys) asks of every one? The
 * missing keys go into missing. */
static void container_missing(const json_t *c, const json_t *required, json_t *missing)
{
	json_t *res = json_object_get(c, "resources");
	json_t *req = json_object_get(res, "requests");
	json_t *lim = json_object_get(res, "limits");
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)required, k, v) {
		bool has;
		if (!strcmp(k, "limits.cpu"))
			has = json_object_get(lim, "cpu") != NULL;
		else if (!strcmp(k, "limits.memory"))
			has = json_object_get(lim, "memory") != NULL;
		else if (strstr(k, "cpu"))
			has = json_object_get(req, "cpu") != NULL;
		else
			has = json_object_get(req, "memory") != NULL;
		if (!has)
			json_object_set_new(missing, k, json_true());
	}
}

/* Why a quota cannot take the pod (constraints, stale status), or NULL. */
static char *quota_precheck(const struct store_obj *quota, const json_t *pod, json_t *restricted)
{
	json_t *required = json_object();
	json_t *missing = json_object();
	const char *k;
	json_t *v;
	char *why = NULL;
	json_object_foreach (restricted, k, v) {
		if (strcmp(k, "pods") != 0 && strcmp(k, "count/pods") != 0)
			json_object_set_new(required, k, json_true());
	}
	json_t *spec = json_object_get(pod, "spec");
	const char *lists[] = {"containers", "initContainers"};
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		size_t i;
		json_t *c;
		json_array_foreach (json_object_get(spec, lists[l]), i, c)
			container_missing(c, required, missing);
	}
	if (json_object_size(missing) > 0) {
		char *keys = joined_keys(missing, false);
		why = xasprintf("failed quota: %s: must specify %s", quota->name, keys);
		free(keys);
	} else {
		json_t *used = json_object_get(json_object_get(quota->body, "status"), "used");
		json_object_foreach (restricted, k, v) {
			if (!json_object_get(used, k)) {
				char *keys = joined_keys(restricted, false);
				why = xasprintf("status unknown for quota: %s, resources: %s",
						quota->name, keys);
				free(keys);
				break;
			}
		}
	}
	json_decref(required);
	json_decref(missing);
	return why;
}

/* What the pod adds to a quota's status.used, when within status.hard;
 * else NULL and *why says what it exceeds. */
static json_t *quota_charge(const struct store_obj *quota, const json_t *usage, char **why)
{
	json_t *status = json_object_get(quota->body, "status");
	json_t *hard = json_object_get(status, "hard");
	json_t *used = json_object_get(status, "used");
	json_t *requested = masked(usage, hard);
	json_t *next = json_deep_copy(used);
	json_t *exceeded = json_object();
	const char *k;
	json_t *v;
	json_object_foreach (requested, k, v) {
		struct quantity q, limit, total;
		if (!controllers_quantity_parse(v, &q))
			continue;
		list_add(next, k, q);
		if (controllers_quantity_parse(json_object_get(next, k), &total) &&
		    controllers_quantity_parse(json_object_get(hard, k), &limit) &&
		    total.milli > limit.milli)
			json_object_set_new(exceeded, k, json_true());
	}
	if (json_object_size(exceeded) > 0) {
		json_t *r = masked(requested, exceeded), *u = masked(used, exceeded);
		json_t *h = masked(hard, exceeded);
		char *rs = joined_keys(r, true), *us = joined_keys(u, true),
		     *hs = joined_keys(h, true);
		*why = xasprintf("exceeded quota: %s, requested: %s, used: %s, limited: %s",
				 quota->name, rs, us, hs);
		free(rs);
		free(us);
		free(hs);
		json_decref(r);
		json_decref(u);
		json_decref(h);
		json_decref(next);
		next = NULL;
	}
	json_decref(requested);
	json_decref(exceeded);
	return next;
}

char *controllers_admit_pod(const char *ns, const json_t *pod)
{
	/* PodSecurity comes before ResourceQuota in the admission chain
	 * (pkg/kubeapiserver/options/plugins.go, AllOrderedPlugins). */
	char *insecure = podsecurity_admit_pod(ns, pod, NULL);
	if (insecure)
		return insecure;
	size_t n;
	struct store_obj **quotas = store_list(K("resourcequotas"), ns, &n);
	json_t **charged = xcalloc(n + 1, sizeof(*charged));
	json_t *usage = pod_usage(pod);
	char *why = NULL;
	for (size_t i = 0; i < n && !why; i++) {
		json_t *hard = json_object_get(json_object_get(quotas[i]->body, "status"), "hard");
		json_t *restricted = json_object();
		const char *k;
		json_t *v;
		json_object_foreach (hard, k, v) {
			if (pod_quota_key(k))
				json_object_set_new(restricted, k, json_true());
		}
		if (json_object_size(restricted) > 0) {
			why = quota_precheck(quotas[i], pod, restricted);
			if (!why)
				charged[i] = quota_charge(quotas[i], usage, &why);
		}
		json_decref(restricted);
	}
	/* Admitted: the quotas count it at once, as the real admission writes
	 * status.used before the pod is stored; the controller recounts later. */
	for (size_t i = 0; i < n; i++) {
		if (charged[i] && !why) {
			json_t *status = json_deep_copy(json_object_get(quotas[i]->body, "status"));
			json_object_set(status, "used", charged[i]);
			set_status(quotas[i], status);
		}
		json_decref(charged[i]);
	}
	json_decref(usage);
	free(charged);
	free(quotas);
	return why;
}

/*
 * The quota controller (pkg/controller/resourcequota/resource_quota_controller.go)
 * recounts a quota's status.used from the pods only when something asks
 * it to: a quota whose status.hard is not yet its spec.hard, or that
 * lacks the usage of something it constrains (addQuota, updateQuota); a
 * pod that stops counting or is deleted, which recounts the quotas of its
 * namespace (resource_quota_monitor.go: the pods' UpdateFunc compares
 * QuotaV1Pod of the old and the new object, DeleteFunc always); and every
 * quota once a resync period (--resource-quota-sync-period, 5m by
 * default; enqueueAll).  A new pod is no event: admission has charged it.
 * In between, status.used is what admission wrote, so a charge for a pod
 * that was then not stored (a name already taken) stays until a recount.
 */
#define QUOTA_RESYNC_MS (5 * 60 * 1000)

/* The monitor's view of the pods, as its informer cache holds them: uid ->
 * {"ns", "rv", "pod": what QuotaV1Pod reads of the last version seen}. */
static json_t *quota_pods_seen;
static int64_t quota_resynced_ms;

/* The part of a pod QuotaV1Pod reads. */
static json_t *pod_quota_view(const json_t *pod)
{
	json_t *m = json_object(), *view = json_pack("{s:o}", "metadata", m);
	json_t *v = json_object_get(meta(pod), "deletionTimestamp");
	if (v)
		json_object_set(m, "deletionTimestamp", v);
	v = json_object_get(meta(pod), "deletionGracePeriodSeconds");
	if (v)
		json_object_set(m, "deletionGracePeriodSeconds", v);
	const char *phase = json_str(json_object_get(pod, "status"), "phase");
	if (phase)
		json_object_set_new(view, "status", json_pack("{s:s}", "phase", phase));
	return view;
}

/* The namespaces whose quotas the pods' events since the last tick ask to
 * recount (an object of names). */
static json_t *quota_pod_events(void)
{
	json_t *recount = json_object();
	json_t *seen = json_object();
	int64_t now = now_wall_ms();
	size_t n;
	struct store_obj **pods = store_list(K("pods"), NULL, &n);
	if (!quota_pods_seen)
		quota_pods_seen = json_object();
	for (size_t i = 0; i < n; i++) {
		const char *uid = json_str(meta(pods[i]->body), "uid");
		const char *rv = json_str(meta(pods[i]->body), "resourceVersion");
		if (!uid || !rv)
			continue;
		json_t *had = json_object_get(quota_pods_seen, uid);
		if (had && strcmp(json_str(had, "rv"), rv) != 0 &&
		    pod_counts(json_object_get(had, "pod"), now) && !pod_counts(pods[i]->body, now))
			json_object_set_new(recount, pods[i]->ns, json_true());
		json_object_set_new(seen, uid,
				    json_pack("{s:s, s:s, s:o}", "ns", pods[i]->ns, "rv", rv, "pod",
					      pod_quota_view(pods[i]->body)));
	}
	free(pods);
	const char *uid;
	json_t *had;
	json_object_foreach (quota_pods_seen, uid, had) {
		if (!json_object_get(seen, uid))
			json_object_set_new(recount, json_str(had, "ns"), json_true());
	}
	json_decref(quota_pods_seen);
	quota_pods_seen = seen;
	return recount;
}

/* Does the controller see reason of its own to recount the quota? */
static bool quota_needs_usage(const struct store_obj *quota)
{
	json_t *spec_hard = json_object_get(json_object_get(quota->body, "spec"), "hard");
	json_t *status = json_object_get(quota->body, "status");
	json_t *hard = json_object_get(status, "hard");
	json_t *used = json_object_get(status, "used");
	if (!hard || !json_equal(spec_hard, hard))
		return true;
	const char *k;
	json_t *v;
	json_object_foreach (hard, k, v) {
		if (pod_quota_key(k) && !json_object_get(used, k))
			return true;
	}
	return false;
}

/* status.hard and status.used of a quota, from its spec and the pods of its
 * namespace (syncResourceQuota). */
static void quota_recount(struct store_obj *quota)
{
	json_t *hard =
		json_deep_copy(json_object_get(json_object_get(quota->body, "spec"), "hard"));
	json_t *used = json_object();
	if (!json_is_object(hard)) {
		json_decref(hard);
		hard = json_object();
	}
	size_t m;
	struct store_obj **pods = store_list(K("pods"), quota->ns, &m);
	for (size_t j = 0; j < m; j++) {
		json_t *usage = pod_usage(pods[j]->body);
		const char *k;
		json_t *v;
		json_object_foreach (usage, k, v) {
			struct quantity q;
			if (json_object_get(hard, k) && controllers_quantity_parse(v, &q))
				list_add(used, k, q);
		}
		json_decref(usage);
	}
	free(pods);
	const char *k;
	json_t *v;
	json_object_foreach (hard, k, v) {
		if (pod_quota_key(k) && !json_object_get(used, k))
			json_object_set_new(used, k, json_string("0"));
	}
	set_status(quota, json_pack("{s:o, s:o}", "hard", hard, "used", used));
}

static void update_quotas(void)
{
	json_t *recount = quota_pod_events();
	bool resync = now_mono_ms() - quota_resynced_ms >= QUOTA_RESYNC_MS;
	if (resync)
		quota_resynced_ms = now_mono_ms();
	size_t n;
	struct store_obj **quotas = store_list(K("resourcequotas"), NULL, &n);
	for (size_t i = 0; i < n; i++) {
		if (resync || json_object_get(recount, quotas[i]->ns) ||
		    quota_needs_usage(quotas[i]))
			quota_recount(quotas[i]);
	}
	free(quotas);
	json_decref(recount);
}

/* --- events ---------------------------------------------------------------------- */

/*
 * An event about an object (type Normal or Warning), as a controller's
 * event recorder writes one; the same one again counts up the event there
 * (at most once a second: the controllers here retry every tick, the real
 * ones back off).
 */
static void record_event(const char *type, const char *ns, const char *api_version,
			 const char *kind, const char *name, const char *uid, const char *component,
			 const char *reason, const char *message)
{
	static unsigned seq;
	char ts[32];
	now_ts(ts, sizeof(ts));
	size_t n;
	struct store_obj **events = store_list(K("events"), ns, &n);
	for (size_t i = 0; i < n; i++) {
		json_t *e = events[i]->body;
		json_t *about = json_object_get(e, "involvedObject");
		if (!same(json_str(about, "kind"), kind) || !same(json_str(about, "name"), name) ||
		    !same(json_str(e, "reason"), reason) || !same(json_str(e, "message"), message))
			continue;
		if (!same(json_str(e, "lastTimestamp"), ts)) {
			json_t *body = json_deep_copy(e);
			json_object_set_new(
				body, "count",
				json_integer(json_integer_value(json_object_get(e, "count")) + 1));
			json_object_set_new(body, "lastTimestamp", json_string(ts));
			store_update(events[i], body);
		}
		free(events);
		return;
	}
	free(events);
	char *ename =
		xasprintf("%s.%llx", name, (unsigned long long)now_wall_ms() * 1000000ULL + ++seq);
	json_t *about = json_pack("{s:s, s:s, s:s, s:s}", "kind", kind, "namespace", ns, "name",
				  name, "apiVersion", api_version);
	if (uid)
		json_object_set_new(about, "uid", json_string(uid));
	json_t *e = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o, s:s, s:s, s:{s:s}, s:s, s:s, s:i, "
			      "s:s, s:n, s:s, s:s}",
			      "apiVersion", "v1", "kind", "Event", "metadata", "name", ename,
			      "namespace", ns, "involvedObject", about, "reason", reason, "message",
			      message, "source", "component", component, "firstTimestamp", ts,
			      "lastTimestamp", ts, "count", 1, "type", type, "eventTime",
			      "reportingComponent", component, "reportingInstance", "");
	store_create(K("events"), ns, e);
	json_decref(e);
	free(ename);
}

static void record_warning(const char *ns, const char *api_version, const char *kind,
			   const char *name, const char *uid, const char *component,
			   const char *reason, const char *message)
{
	record_event("Warning", ns, api_version, kind, name, uid, component, reason, message);
}

/* --- StatefulSets ------------------------------------------------------------ */

static int ordinal_of(const char *sts, const char *pod)
{
	size_t n = strlen(sts);
	int ord;
	if (strncmp(pod, sts, n) != 0 || pod[n] != '-')
		return -1;
	if (!parse_int(pod + n + 1, 0, 1000000, &ord))
		return -1;
	return ord;
}

static const char *label(const json_t *obj, const char *key)
{
	return json_str(json_object_get(meta(obj), "labels"), key);
}

static int64_t int_at(const json_t *obj, const char *a, const char *b)
{
	return json_integer_value(json_object_get(json_object_get(obj, a), b));
}

/*
 * The claims of a StatefulSet's pod, one per volumeClaimTemplate, named
 * <template>-<statefulset>-<ordinal>, with the template's labels and the
 * StatefulSet's selector labels; created when missing, never deleted here:
 * persistentVolumeClaimRetentionPolicy defaults to Retain on deletion and
 * on scale-down
 * (https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/#persistentvolumeclaim-retention;
 * getPersistentVolumeClaims and createPersistentVolumeClaims in
 * pkg/controller/statefulset/stateful_set_utils.go).  The Delete policies
 * are not modelled.
 */
static void sts_claims(const struct store_obj *sts, int ordinal)
{
	json_t *spec = json_object_get(sts->body, "spec");
	size_t i;
	json_t *t;

	json_array_foreach (json_object_get(spec, "volumeClaimTemplates"), i, t) {
		const char *tname = json_str(meta(t), "name");
		if (!tname)
			continue;
		char *name = xasprintf("%s-%s-%d", tname, sts->name, ordinal);
		if (!store_get(K("persistentvolumeclaims"), sts->ns, name)) {
			json_t *claim =
				json_pack("{s:s, s:s, s:{s:s, s:s}, s:O?}", "apiVersion", "v1",
					  "kind", "PersistentVolumeClaim", "metadata", "name", name,
					  "namespace", sts->ns, "spec", json_object_get(t, "spec"));
			json_t *labels = json_deep_copy(json_object_get(meta(t), "labels"));
			const char *k;
			json_t *v;
			if (!labels)
				labels = json_object();
			json_object_foreach (
				json_object_get(json_object_get(spec, "selector"), "matchLabels"),
				k, v)
				json_object_set(labels, k, v);
			json_object_set_new(meta(claim), "labels", labels);
			if (!json_object_get(claim, "spec"))
				json_object_set_new(claim, "spec", json_object());
			json_object_set_new(claim, "status",
					    json_pack("{s:s}", "phase", "Pending"));
			store_create(K("persistentvolumeclaims"), sts->ns, claim);
			json_decref(claim);
			log_debug("claim %s/%s created", sts->ns, name);
		}
		free(name);
	}
}

static void sts_pod_extras(struct store_obj *pod, const struct store_obj *sts, const char *rev)
{
	json_t *body = json_deep_copy(pod->body);
	json_t *labels = child(child(body, "metadata"), "labels");
	json_object_set_new(labels, "statefulset.kubernetes.io/pod-name", json_string(pod->name));
	json_object_set_new(labels, "apps.kubernetes.io/pod-index",
			    json_string(strrchr(pod->name, '-') + 1));
	json_object_set_new(labels, "controller-revision-hash", json_string(rev));
	json_t *spec = child(body, "spec");
	json_object_set_new(spec, "hostname", json_string(pod->name));
	const char *svc = json_str(json_object_get(sts->body, "spec"), "serviceName");
	if (svc && *svc)
		json_object_set_new(spec, "subdomain", json_string(svc));
	/* Each claim template a volume of its name, over the pod's claim
	 * (updateStorage in stateful_set_utils.go). */
	size_t i;
	json_t *t;
	json_array_foreach (
		json_object_get(json_object_get(sts->body, "spec"), "volumeClaimTemplates"), i, t) {
		const char *tname = json_str(meta(t), "name");
		json_t *vols = json_object_get(spec, "volumes");
		size_t j;
		json_t *v;
		if (!tname)
			continue;
		if (!json_is_array(vols)) {
			vols = json_array();
			json_object_set_new(spec, "volumes", vols);
		}
		json_array_foreach (vols, j, v) {
			if (same(json_str(v, "name"), tname)) {
				json_array_remove(vols, j);
				break;
			}
		}
		char *claim = xasprintf("%s-%s-%s", tname, sts->name, strrchr(pod->name, '-') + 1);
		json_array_append_new(vols, json_pack("{s:s, s:{s:s}}", "name", tname,
						      "persistentVolumeClaim", "claimName", claim));
		free(claim);
	}
	store_update(pod, body);
}

static void reconcile_sts(struct store_obj *sts)
{
	json_t *spec = json_object_get(sts->body, "spec");
	int replicas = (int)json_integer_value(json_object_get(spec, "replicas"));
	const char *policy = json_str(spec, "podManagementPolicy");
	bool monotonic = !policy || strcmp(policy, "Parallel") != 0;
	const char *strategy = json_str(json_object_get(spec, "updateStrategy"), "type");
	bool rolling = !strategy || !strcmp(strategy, "RollingUpdate");
	int partition =
		(int)int_at(json_object_get(spec, "updateStrategy"), "rollingUpdate", "partition");
	char hash[16], rev[300];
	size_t n;
	struct store_obj **pods = owned_pods(sts, &n);
	int maxord = replicas;
	struct store_obj **by_ord;
	struct store_obj *first_unhealthy = NULL;
	bool blocked = false;

	template_hash(json_object_get(spec, "template"), hash, sizeof(hash));
	snprintf(rev, sizeof(rev), "%s-%s", sts->name, hash);
	for (size_t i = 0; i < n; i++) {
		int ord = ordinal_of(sts->name, pods[i]->name);
		if (ord + 1 > maxord)
			maxord = ord + 1;
	}
	by_ord = xcalloc((size_t)maxord + 1, sizeof(*by_ord));
	for (size_t i = 0; i < n; i++) {
		int ord = ordinal_of(sts->name, pods[i]->name);
		if (ord >= 0)
			by_ord[ord] = pods[i];
	}
	for (int i = 0; i < maxord && !first_unhealthy; i++) {
		if (by_ord[i] &&
		    (!controllers_pod_ready(by_ord[i]->body) || terminating(by_ord[i]->body)))
			first_unhealthy = by_ord[i];
	}
	/* The replicas, in order. */
	for (int i = 0; i < replicas && !blocked; i++) {
		struct store_obj *p = by_ord[i];
		if (!p) {
			char *name = xasprintf("%s-%d", sts->name, i);
			/* A pod of that name owned by something else blocks this ordinal. */
			if (!store_get(K("pods"), sts->ns, name)) {
				char *error = NULL;
				sts_claims(sts, i);
				p = create_pod(sts, name, NULL, "StatefulSet", sts->name,
					       json_str(meta(sts->body), "uid"),
					       "controller-revision-hash", rev, &error);
				if (p) {
					sts_pod_extras(p, sts, rev);
				} else {
					/* Tried again next time, as the real one retries. */
					char *msg = xasprintf(
						"create Pod %s in StatefulSet %s failed error: %s",
						name, sts->name, error);
					record_warning(sts->ns, "apps/v1", "StatefulSet", sts->name,
						       json_str(meta(sts->body), "uid"),
						       "statefulset-controller", "FailedCreate",
						       msg);
					free(msg);
				}
				free(error);
			}
			free(name);
			if (monotonic)
				blocked = true;
			continue;
		}
		if (terminating(p->body) || !controllers_pod_ready(p->body)) {
			if (monotonic)
				blocked = true;
		}
	}
	/* The condemned, highest ordinal first. */
	for (int i = maxord - 1; i >= replicas && !blocked; i--) {
		struct store_obj *p = by_ord[i];
		if (!p)
			continue;
		if (terminating(p->body)) {
			if (monotonic)
				blocked = true;
			continue;
		}
		if (monotonic && !controllers_pod_ready(p->body) && p != first_unhealthy) {
			blocked = true;
			continue;
		}
		controllers_delete_pod(p, -1, "statefulset");
		if (monotonic)
			blocked = true;
	}
	/* Rolling update from the highest ordinal down to the partition. */
	for (int i = replicas - 1; i >= partition && i >= 0 && rolling && !blocked; i--) {
		struct store_obj *p = by_ord[i];
		if (!p)
			break;
		const char *prev = label(p->body, "controller-revision-hash");
		if (prev && strcmp(prev, rev) != 0 && !terminating(p->body)) {
			controllers_delete_pod(p, -1, "statefulset");
			break;
		}
		if (!controllers_pod_ready(p->body))
			break;
	}

	/* Status. */
	free(pods);
	pods = owned_pods(sts, &n);
	int count = 0, ready = 0, updated = 0, current = 0;
	json_t *st = json_object_get(sts->body, "status");
	const char *cur_rev = json_str(st, "currentRevision");
	if (!cur_rev)
		cur_rev = rev;
	for (size_t i = 0; i < n; i++) {
		if (terminating(pods[i]->body))
			continue;
		count++;
		if (controllers_pod_ready(pods[i]->body))
			ready++;
		const char *r = label(pods[i]->body, "controller-revision-hash");
		if (r && !strcmp(r, rev))
			updated++;
		if (r && !strcmp(r, cur_rev))
			current++;
	}
	/* pkg/controller/statefulset/stateful_set_utils.go,
	 * completeRollingUpdate: currentRevision moves to updateRevision only
	 * under RollingUpdate; under OnDelete it stays where it was. */
	if (rolling && updated == replicas && ready == replicas && count == replicas) {
		cur_rev = rev;
		current = updated;
	}
	char *cur_copy = xstrdup(cur_rev);
	set_status(sts,
		   json_pack("{s:I, s:i, s:i, s:i, s:i, s:i, s:s, s:s, s:i}", "observedGeneration",
			     (json_int_t)json_integer_value(
				     json_object_get(meta(sts->body), "generation")),
			     "replicas", count, "readyReplicas", ready, "currentReplicas", current,
			     "updatedReplicas", updated, "availableReplicas", ready,
			     "currentRevision", cur_copy, "updateRevision", rev, "collisionCount",
			     0));
	free(cur_copy);
	free(pods);
	free(by_ord);
}

/* --- Deployments ------------------------------------------------------------- */

static int resolve_percent(const json_t *v, int total, bool round_up)
{
	if (json_is_integer(v))
		return (int)json_integer_value(v);
	const char *s = json_string_value(v);
	int pct;
	if (s && strlen(s) < 8 && s[strlen(s) - 1] == '%') {
		char buf[8];
		memcpy(buf, s, strlen(s) - 1);
		buf[strlen(s) - 1] = '\0';
		if (parse_int(buf, 0, 100, &pct))
			return round_up ? (total * pct + 99) / 100 : total * pct / 100;
	}
	return 0;
}

/*
 * Deployments and their ReplicaSets, as kube-controller-manager keeps them
 * (pkg/controller/deployment: sync.go, rolling.go, recreate.go,
 * progress.go; pkg/controller/replicaset/replica_set.go).  A Deployment
 * owns one ReplicaSet per pod template, named <deployment>-<hash> and
 * labelled pod-template-hash; the ReplicaSets own the pods.  A rollout
 * scales the new ReplicaSet up within maxSurge and the old ones down
 * within maxUnavailable, a step per sync; the Deployment's status is the
 * sum of its ReplicaSets', with the Available and Progressing conditions
 * and the progress deadline.
 */

#define REVISION_ANNOTATION "deployment.kubernetes.io/revision"

struct dep_rollout {
	struct store_obj *d;
	struct store_obj **rss; /* oldest first */
	size_t nrs;
	struct store_obj *new_rs; /* or NULL */
	int replicas, surge, unavail;
	bool recreate;
};

static int64_t rs_replicas(const struct store_obj *rs)
{
	return int_at(rs->body, "spec", "replicas");
}

static int64_t rs_available(const struct store_obj *rs)
{
	return int_at(rs->body, "status", "availableReplicas");
}

static int64_t revision_of(const struct store_obj *o)
{
	const char *s =
		json_str(json_object_get(meta(o->body), "annotations"), REVISION_ANNOTATION);
	int64_t v;
	return s && parse_int64(s, 0, INT64_MAX, &v) ? v : 0;
}

/* maxSurge and maxUnavailable of a RollingUpdate, both never 0 together
 * (pkg/controller/deployment/util/deployment_util.go, ResolveFenceposts). */
static void dep_fenceposts(struct dep_rollout *r)
{
	json_t *spec = json_object_get(r->d->body, "spec");
	json_t *strategy = json_object_get(spec, "strategy");
	r->replicas = (int)json_integer_value(json_object_get(spec, "replicas"));
	r->recreate = same(json_str(strategy, "type"), "Recreate");
	json_t *ru = json_object_get(strategy, "rollingUpdate");
	r->surge = r->recreate
			   ? 0
			   : resolve_percent(json_object_get(ru, "maxSurge"), r->replicas, true);
	r->unavail = r->recreate ? 0
				 : resolve_percent(json_object_get(ru, "maxUnavailable"),
						   r->replicas, false);
	if (!r->recreate && r->surge == 0 && r->unavail == 0)
		r->unavail = 1;
}

static void rs_scale(struct store_obj *rs, int64_t replicas, const struct store_obj *d)
{
	if (rs_replicas(rs) == replicas)
		return;
	json_t *body = json_deep_copy(rs->body);
	json_object_set_new(child(body, "spec"), "replicas", json_integer(replicas));
	json_t *ann = child(child(body, "metadata"), "annotations");
	json_object_set_new(ann, "deployment.kubernetes.io/desired-replicas",
			    json_sprintf("%d", (int)int_at(d->body, "spec", "replicas")));
	log_debug("replicaset %s/%s scaled to %lld", rs->ns, rs->name, (long long)replicas);
	store_update(rs, body);
}

/* The ReplicaSet of the current template, made with its replicas. */
static struct store_obj *rs_create(struct dep_rollout *r, const char *hash, int64_t replicas,
				   int64_t revision)
{
	json_t *spec = json_object_get(r->d->body, "spec");
	json_t *tmpl = json_deep_copy(json_object_get(spec, "template"));
	json_t *labels = child(child(tmpl, "metadata"), "labels");
	json_object_set_new(labels, "pod-template-hash", json_string(hash));
	json_t *selector = json_deep_copy(json_object_get(spec, "selector"));
	if (!selector)
		selector = json_object();
	json_object_set_new(child(selector, "matchLabels"), "pod-template-hash", json_string(hash));
	char *name = xasprintf("%s-%s", r->d->name, hash);
	json_t *rs = json_pack(
		"{s:s, s:s, s:{s:s, s:o, s:{s:o, s:o, s:o}, s:[{s:s, s:s, s:s, s:s, s:b, s:b}]}, "
		"s:{s:I, s:I, s:o, s:o}}",
		"apiVersion", "apps/v1", "kind", "ReplicaSet", "metadata", "name", name, "labels",
		json_deep_copy(labels), "annotations", "deployment.kubernetes.io/desired-replicas",
		json_sprintf("%d", r->replicas), "deployment.kubernetes.io/max-replicas",
		json_sprintf("%d", r->replicas + r->surge), REVISION_ANNOTATION,
		json_sprintf("%lld", (long long)revision), "ownerReferences", "apiVersion",
		"apps/v1", "kind", "Deployment", "name", r->d->name, "uid",
		json_str(meta(r->d->body), "uid"), "controller", 1, "blockOwnerDeletion", 1, "spec",
		"replicas", (json_int_t)replicas, "minReadySeconds",
		(json_int_t)json_integer_value(json_object_get(spec, "minReadySeconds")),
		"selector", selector, "template", tmpl);
	struct store_obj *o = store_create(K("replicasets"), r->d->ns, rs);
	json_decref(rs);
	log_debug("replicaset %s/%s created with %lld replicas", r->d->ns, name,
		  (long long)replicas);
	free(name);
	return o;
}

/* The new ReplicaSet's replicas in a rolling update (NewRSNewReplicas). */
static int64_t rolling_new_replicas(const struct dep_rollout *r, int64_t new_now)
{
	int64_t current = 0;
	for (size_t i = 0; i < r->nrs; i++)
		current += rs_replicas(r->rss[i]);
	int64_t max_total = r->replicas + r->surge;
	if (current >= max_total)
		return new_now;
	int64_t up = max_total - current;
	if (up > r->replicas - new_now)
		up = r->replicas - new_now;
	return new_now + up;
}

/* Old ReplicaSets scaled down within maxUnavailable, their unhealthy pods
 * first (reconcileOldReplicaSets, cleanupUnhealthyReplicas,
 * scaleDownOldReplicaSetsForRollingUpdate). */
static void rolling_scale_down_old(struct dep_rollout *r)
{
	int64_t old_count = 0, all = 0, available = 0;
	for (size_t i = 0; i < r->nrs; i++) {
		all += rs_replicas(r->rss[i]);
		available += rs_available(r->rss[i]);
		if (r->rss[i] != r->new_rs)
			old_count += rs_replicas(r->rss[i]);
	}
	if (old_count == 0)
		return;
	int64_t min_available = r->replicas - r->unavail;
	int64_t new_unavailable = r->new_rs ? rs_replicas(r->new_rs) - rs_available(r->new_rs) : 0;
	int64_t max_down = all - min_available - new_unavailable;
	if (max_down <= 0)
		return;
	int64_t done = 0;
	for (size_t i = 0; i < r->nrs && done < max_down; i++) {
		struct store_obj *rs = r->rss[i];
		int64_t unhealthy = rs_replicas(rs) - rs_available(rs);
		if (rs == r->new_rs || rs_replicas(rs) == 0 || unhealthy <= 0)
			continue;
		int64_t down = max_down - done < unhealthy ? max_down - done : unhealthy;
		rs_scale(rs, rs_replicas(rs) - down, r->d);
		done += down;
	}
	if (available <= min_available)
		return;
	int64_t total_down = available - min_available, taken = 0;
	for (size_t i = 0; i < r->nrs && taken < total_down; i++) {
		struct store_obj *rs = r->rss[i];
		if (rs == r->new_rs || rs_replicas(rs) == 0)
			continue;
		int64_t down =
			total_down - taken < rs_replicas(rs) ? total_down - taken : rs_replicas(rs);
		rs_scale(rs, rs_replicas(rs) - down, r->d);
		taken += down;
	}
}

/* Do the old ReplicaSets still have pods (oldPodsRunning, for Recreate)? */
static bool old_pods_left(const struct dep_rollout *r)
{
	for (size_t i = 0; i < r->nrs; i++) {
		if (r->rss[i] == r->new_rs)
			continue;
		size_t n;
		struct store_obj **pods = owned_pods(r->rss[i], &n);
		free(pods);
		if (n > 0)
			return true;
	}
	return false;
}

/* A condition in the Deployment's status as SetDeploymentCondition sets it:
 * the same status and reason leave it alone; the same status keeps its
 * lastTransitionTime; it goes to the end of the list. */
static void dep_condition(json_t *status, const char *type, bool ok, const char *reason,
			  const char *message, const char *keep_transition)
{
	json_t *conds = json_object_get(status, "conditions");
	if (!json_is_array(conds)) {
		conds = json_array();
		json_object_set_new(status, "conditions", conds);
	}
	const char *st = ok ? "True" : "False";
	char ts[32];
	now_ts(ts, sizeof(ts));
	char *since = xstrdup(keep_transition ? keep_transition : ts);
	size_t i;
	json_t *c;
	json_array_foreach (conds, i, c) {
		if (!same(json_str(c, "type"), type))
			continue;
		if (same(json_str(c, "status"), st) && same(json_str(c, "reason"), reason)) {
			free(since);
			return;
		}
		if (same(json_str(c, "status"), st)) {
			free(since);
			since = xstrdup(json_str(c, "lastTransitionTime"));
		}
		json_array_remove(conds, i);
		break;
	}
	json_array_append_new(conds, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", type,
					       "status", st, "reason", reason, "message", message,
					       "lastUpdateTime", ts, "lastTransitionTime", since));
	free(since);
}

static const json_t *condition_of(const json_t *status, const char *type)
{
	size_t i;
	json_t *c;
	json_array_foreach (json_object_get(status, "conditions"), i, c) {
		if (same(json_str(c, "type"), type))
			return c;
	}
	return NULL;
}

static void dep_remove_condition(json_t *status, const char *type)
{
	json_t *conds = json_object_get(status, "conditions");
	size_t i;
	json_t *c;
	json_array_foreach (conds, i, c) {
		if (same(json_str(c, "type"), type)) {
			json_array_remove(conds, i);
			return;
		}
	}
}

/* The Deployment's status from its ReplicaSets' (calculateStatus,
 * syncRolloutStatus). */
static void dep_status(struct dep_rollout *r, const char *created)
{
	json_t *old = json_object_get(r->d->body, "status");
	json_t *st = json_object();
	int64_t replicas = 0, ready = 0, available = 0;
	for (size_t i = 0; i < r->nrs; i++) {
		replicas += int_at(r->rss[i]->body, "status", "replicas");
		ready += int_at(r->rss[i]->body, "status", "readyReplicas");
		available += rs_available(r->rss[i]);
	}
	int64_t updated = r->new_rs ? int_at(r->new_rs->body, "status", "replicas") : 0;
	int64_t generation = json_integer_value(json_object_get(meta(r->d->body), "generation"));
	json_object_set_new(st, "observedGeneration", json_integer(generation));
	json_object_set_new(st, "replicas", json_integer(replicas));
	json_object_set_new(st, "updatedReplicas", json_integer(updated));
	json_object_set_new(st, "readyReplicas", json_integer(ready));
	json_object_set_new(st, "availableReplicas", json_integer(available));
	if (r->replicas - available > 0)
		json_object_set_new(st, "unavailableReplicas",
				    json_integer(r->replicas - available));
	/* omitempty */
	const char *omit[] = {"replicas", "updatedReplicas", "readyReplicas", "availableReplicas"};
	for (size_t i = 0; i < ARRAY_SIZE(omit); i++) {
		if (json_integer_value(json_object_get(st, omit[i])) == 0)
			json_object_del(st, omit[i]);
	}
	json_t *conds = json_deep_copy(json_object_get(old, "conditions"));
	json_object_set_new(st, "conditions", conds ? conds : json_array());
	int max_unavailable = r->unavail > r->replicas ? r->replicas : r->unavail;
	if (available >= r->replicas - max_unavailable)
		dep_condition(st, "Available", true, "MinimumReplicasAvailable",
			      "Deployment has minimum availability.", NULL);
	else
		dep_condition(st, "Available", false, "MinimumReplicasUnavailable",
			      "Deployment does not have minimum availability.", NULL);

	json_t *deadline =
		json_object_get(json_object_get(r->d->body, "spec"), "progressDeadlineSeconds");
	const char *rs_name = r->new_rs ? r->new_rs->name : NULL;
	if (!json_is_integer(deadline)) {
		dep_remove_condition(st, "Progressing");
	} else if (created) {
		char *msg = xasprintf("Created new replica set \"%s\"", created);
		dep_condition(st, "Progressing", true, "NewReplicaSetCreated", msg, NULL);
		free(msg);
	} else if (r->new_rs && !condition_of(st, "Progressing")) {
		char *msg = xasprintf("Found new replica set \"%s\"", rs_name);
		dep_condition(st, "Progressing", true, "FoundNewReplicaSet", msg, NULL);
		free(msg);
	}
	const json_t *cur = condition_of(old, "Progressing");
	bool complete_before = replicas == updated && cur &&
			       same(json_str(cur, "reason"), "NewReplicaSetAvailable");
	if (json_is_integer(deadline) && !complete_before && !created) {
		int64_t old_old = json_integer_value(json_object_get(old, "replicas")) -
				  json_integer_value(json_object_get(old, "updatedReplicas"));
		bool complete = updated == r->replicas && replicas == r->replicas &&
				available == r->replicas;
		bool progressing =
			updated > json_integer_value(json_object_get(old, "updatedReplicas")) ||
			replicas - updated < old_old ||
			ready > json_integer_value(json_object_get(old, "readyReplicas")) ||
			available > json_integer_value(json_object_get(old, "availableReplicas"));
		const json_t *now_cond = condition_of(st, "Progressing");
		if (complete) {
			char *msg =
				rs_name ? xasprintf(
						  "ReplicaSet \"%s\" has successfully progressed.",
						  rs_name)
					: xasprintf(
						  "Deployment \"%s\" has successfully progressed.",
						  r->d->name);
			dep_condition(st, "Progressing", true, "NewReplicaSetAvailable", msg, NULL);
			free(msg);
		} else if (progressing) {
			/* Progress moves lastUpdateTime even with the same reason. */
			char *since = now_cond && same(json_str(now_cond, "status"), "True")
					      ? xstrdup(json_str(now_cond, "lastTransitionTime"))
					      : NULL;
			dep_remove_condition(st, "Progressing");
			char *msg =
				rs_name ? xasprintf("ReplicaSet \"%s\" is progressing.", rs_name)
					: xasprintf("Deployment \"%s\" is progressing.",
						    r->d->name);
			dep_condition(st, "Progressing", true, "ReplicaSetUpdated", msg, since);
			free(msg);
			free(since);
		} else if (now_cond &&
			   !same(json_str(now_cond, "reason"), "NewReplicaSetAvailable")) {
			int64_t from =
				controllers_parse_timestamp(json_str(now_cond, "lastUpdateTime"));
			if (same(json_str(now_cond, "reason"), "ProgressDeadlineExceeded") ||
			    (from && from + json_integer_value(deadline) * 1000 < now_wall_ms())) {
				char *msg = rs_name ? xasprintf("ReplicaSet \"%s\" has timed out "
								"progressing.",
								rs_name)
						    : xasprintf("Deployment \"%s\" has timed out "
								"progressing.",
								r->d->name);
				dep_condition(st, "Progressing", false, "ProgressDeadlineExceeded",
					      msg, NULL);
				free(msg);
			}
		}
	}
	/* A ReplicaSet's failure to create pods, the new one's first
	 * (getReplicaFailures). */
	const json_t *failure = r->new_rs ? condition_of(json_object_get(r->new_rs->body, "status"),
							 "ReplicaFailure")
					  : NULL;
	for (size_t i = 0; i < r->nrs && !failure; i++)
		failure =
			condition_of(json_object_get(r->rss[i]->body, "status"), "ReplicaFailure");
	if (failure) {
		dep_remove_condition(st, "ReplicaFailure");
		json_array_append_new(
			json_object_get(st, "conditions"),
			json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", "ReplicaFailure",
				  "status", json_str(failure, "status"), "reason",
				  json_str(failure, "reason"), "message",
				  json_str(failure, "message"), "lastUpdateTime",
				  json_str(failure, "lastTransitionTime"), "lastTransitionTime",
				  json_str(failure, "lastTransitionTime")));
	} else {
		dep_remove_condition(st, "ReplicaFailure");
	}
	set_status(r->d, st);
}

/* Old ReplicaSets with no replicas beyond revisionHistoryLimit go
 * (cleanupDeployment), the oldest revisions first. */
static void dep_cleanup(struct dep_rollout *r)
{
	json_t *limit =
		json_object_get(json_object_get(r->d->body, "spec"), "revisionHistoryLimit");
	if (!json_is_integer(limit))
		return;
	size_t idle = 0;
	for (size_t i = 0; i < r->nrs; i++) {
		if (r->rss[i] != r->new_rs && rs_replicas(r->rss[i]) == 0 &&
		    int_at(r->rss[i]->body, "status", "replicas") == 0)
			idle++;
	}
	int64_t extra = (int64_t)idle - json_integer_value(limit);
	for (size_t i = 0; i < r->nrs && extra > 0; i++) {
		struct store_obj *rs = r->rss[i];
		if (rs == r->new_rs || rs_replicas(rs) != 0 ||
		    int_at(rs->body, "status", "replicas"))
			continue;
		store_delete(rs);
		extra--;
	}
}

static int cmp_revision(const void *a, const void *b)
{
	int64_t ra = revision_of(*(struct store_obj *const *)a);
	int64_t rb = revision_of(*(struct store_obj *const *)b);
	return ra < rb ? -1 : ra > rb;
}

static void reconcile_deployment(struct store_obj *d)
{
	struct dep_rollout r = {.d = d};
	char hash[16];
	const char *created = NULL;
	dep_fenceposts(&r);
	template_hash(json_object_get(json_object_get(d->body, "spec"), "template"), hash,
		      sizeof(hash));
	r.rss = owned_objects(d, K("replicasets"), &r.nrs);
	int64_t max_old = 0;
	for (size_t i = 0; i < r.nrs; i++) {
		if (same(label(r.rss[i]->body, "pod-template-hash"), hash))
			r.new_rs = r.rss[i];
		else if (revision_of(r.rss[i]) > max_old)
			max_old = revision_of(r.rss[i]);
	}
	/* The new ReplicaSet's revision is the latest (a template rolled
	 * back to takes the next number). */
	if (r.new_rs && revision_of(r.new_rs) <= max_old) {
		json_t *body = json_deep_copy(r.new_rs->body);
		json_object_set_new(child(child(body, "metadata"), "annotations"),
				    REVISION_ANNOTATION,
				    json_sprintf("%lld", (long long)(max_old + 1)));
		store_update(r.new_rs, body);
	}
	bool scaled = false;
	if (r.recreate) {
		for (size_t i = 0; i < r.nrs; i++) {
			if (r.rss[i] != r.new_rs && rs_replicas(r.rss[i]) > 0) {
				rs_scale(r.rss[i], 0, d);
				scaled = true;
			}
		}
		if (!scaled && !old_pods_left(&r)) {
			if (!r.new_rs) {
				r.new_rs = rs_create(&r, hash, r.replicas, max_old + 1);
				created = r.new_rs->name;
			} else {
				rs_scale(r.new_rs, r.replicas, d);
			}
		}
	} else {
		if (!r.new_rs) {
			r.new_rs = rs_create(&r, hash, rolling_new_replicas(&r, 0), max_old + 1);
			created = r.new_rs->name;
			scaled = true;
		} else if (rs_replicas(r.new_rs) > r.replicas) {
			rs_scale(r.new_rs, r.replicas, d);
			scaled = true;
		} else {
			int64_t want = rolling_new_replicas(&r, rs_replicas(r.new_rs));
			scaled = want != rs_replicas(r.new_rs);
			rs_scale(r.new_rs, want, d);
		}
		/* A scale-up is a sync of its own (rolloutRolling). */
		if (!scaled)
			rolling_scale_down_old(&r);
	}
	if (created) {
		free(r.rss);
		r.rss = owned_objects(d, K("replicasets"), &r.nrs);
	}
	/* The Deployment carries its new ReplicaSet's revision. */
	const char *rev = r.new_rs ? json_str(json_object_get(meta(r.new_rs->body), "annotations"),
					      REVISION_ANNOTATION)
				   : NULL;
	json_t *ann = json_object_get(meta(d->body), "annotations");
	if (rev && !same(json_str(ann, REVISION_ANNOTATION), rev)) {
		json_t *body = json_deep_copy(d->body);
		json_object_set_new(child(child(body, "metadata"), "annotations"),
				    REVISION_ANNOTATION, json_string(rev));
		store_update(d, body);
	}
	qsort(r.rss, r.nrs, sizeof(*r.rss), cmp_revision);
	dep_status(&r, created);
	dep_cleanup(&r);
	free(r.rss);
}

/* --- ReplicaSets --------------------------------------------------------------- */

/* Which of a ReplicaSet's pods go first on a scale-down (getPodsToDelete,
 * ActivePodsWithRanks): not yet on a node, then not ready, then the
 * youngest. */
static int cmp_pod_to_delete(const void *a, const void *b)
{
	const struct store_obj *pa = *(struct store_obj *const *)a;
	const struct store_obj *pb = *(struct store_obj *const *)b;
	bool sa = json_str(json_object_get(pa->body, "spec"), "nodeName") != NULL;
	bool sb = json_str(json_object_get(pb->body, "spec"), "nodeName") != NULL;
	if (sa != sb)
		return sa ? 1 : -1;
	bool ra = controllers_pod_ready(pa->body), rb = controllers_pod_ready(pb->body);
	if (ra != rb)
		return ra ? 1 : -1;
	const char *ca = json_str(meta(pa->body), "creationTimestamp");
	const char *cb = json_str(meta(pb->body), "creationTimestamp");
	int c = strcmp(cb ? cb : "", ca ? ca : "");
	return c ? c : strcmp(pb->name, pa->name);
}

/* Has the pod been Ready for minReadySeconds (podutil.IsPodAvailable)? */
static bool pod_available(const json_t *pod, int64_t min_ready_s)
{
	if (!controllers_pod_ready(pod))
		return false;
	if (min_ready_s <= 0)
		return true;
	const json_t *c = condition_of(json_object_get(pod, "status"), "Ready");
	int64_t since = c ? controllers_parse_timestamp(json_str(c, "lastTransitionTime")) : 0;
	return since && since + min_ready_s * 1000 <= now_wall_ms();
}

static void reconcile_replica_set(struct store_obj *rs)
{
	json_t *spec = json_object_get(rs->body, "spec");
	int64_t want = json_integer_value(json_object_get(spec, "replicas"));
	size_t n, active = 0;
	struct store_obj **pods = owned_pods(rs, &n);
	for (size_t i = 0; i < n; i++) {
		const char *phase = json_str(json_object_get(pods[i]->body, "status"), "phase");
		if (!terminating(pods[i]->body) && !same(phase, "Succeeded") &&
		    !same(phase, "Failed"))
			pods[active++] = pods[i];
	}
	char *failure = NULL;
	const char *hash = label(rs->body, "pod-template-hash");
	for (int64_t i = (int64_t)active; i < want; i++) {
		char suffix[11];
		rand_hex(suffix, 5);
		for (int j = 0; j < 5; j++)
			suffix[j] = "bcdfghjklmnpqrstvwxz2456789"[(unsigned char)suffix[j] % 27];
		suffix[5] = '\0';
		char *name = xasprintf("%s-%s", rs->name, suffix);
		char *prefix = xasprintf("%s-", rs->name);
		struct store_obj *p = create_pod(rs, name, prefix, "ReplicaSet", rs->name,
						 json_str(meta(rs->body), "uid"),
						 "pod-template-hash", hash ? hash : "", &failure);
		free(prefix);
		free(name);
		if (!p) {
			char *msg = xasprintf("Error creating: %s", failure);
			record_warning(rs->ns, "apps/v1", "ReplicaSet", rs->name, NULL,
				       "replicaset-controller", "FailedCreate", msg);
			free(msg);
			break;
		}
	}
	if ((int64_t)active > want) {
		qsort(pods, active, sizeof(*pods), cmp_pod_to_delete);
		for (size_t i = 0; i < active - (size_t)want; i++)
			controllers_delete_pod(pods[i], -1, "replicaset");
	}
	free(pods);

	/* Status (calculateStatus): the pods that count, after the changes
	 * above show in the next sync as they would. */
	pods = owned_pods(rs, &n);
	int64_t replicas = 0, ready = 0, available = 0, labelled = 0;
	int64_t min_ready = json_integer_value(json_object_get(spec, "minReadySeconds"));
	for (size_t i = 0; i < n; i++) {
		const char *phase = json_str(json_object_get(pods[i]->body, "status"), "phase");
		if (terminating(pods[i]->body) || same(phase, "Succeeded") || same(phase, "Failed"))
			continue;
		replicas++;
		labelled++;
		ready += controllers_pod_ready(pods[i]->body);
		available += pod_available(pods[i]->body, min_ready);
	}
	free(pods);
	json_t *old = json_object_get(rs->body, "status");
	json_t *st = json_pack(
		"{s:I, s:I}", "replicas", (json_int_t)replicas, "observedGeneration",
		(json_int_t)json_integer_value(json_object_get(meta(rs->body), "generation")));
	if (labelled)
		json_object_set_new(st, "fullyLabeledReplicas", json_integer(labelled));
	if (ready)
		json_object_set_new(st, "readyReplicas", json_integer(ready));
	if (available)
		json_object_set_new(st, "availableReplicas", json_integer(available));
	/* A failure to create pods stays as first written while creates
	 * fail, and goes with the first sync that makes them. */
	if (failure) {
		const json_t *had = condition_of(old, "ReplicaFailure");
		char ts[32];
		now_ts(ts, sizeof(ts));
		json_object_set_new(st, "conditions",
				    had ? json_pack("[O]", had)
					: json_pack("[{s:s, s:s, s:s, s:s, s:s}]", "type",
						    "ReplicaFailure", "status", "True", "reason",
						    "FailedCreate", "message", failure,
						    "lastTransitionTime", ts));
		free(failure);
	}
	set_status(rs, st);
}

/* --- scheduling -------------------------------------------------------------- */

struct reasons {
	char *text[8];
	int count[8];
	int n;
};

static void reason_add(struct reasons *r, const char *text)
{
	for (int i = 0; i < r->n; i++) {
		if (!strcmp(r->text[i], text)) {
			r->count[i]++;
			return;
		}
	}
	if (r->n < 8) {
		r->text[r->n] = xstrdup(text);
		r->count[r->n++] = 1;
	}
}

static int cmp_reason(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *reasons_message(struct reasons *r, int nodes)
{
	char *parts[8];
	for (int i = 0; i < r->n; i++)
		parts[i] = xasprintf("%d %s", r->count[i], r->text[i]);
	qsort(parts, (size_t)r->n, sizeof(char *), cmp_reason);
	char *msg = xasprintf("0/%d nodes are available: ", nodes);
	for (int i = 0; i < r->n; i++) {
		char *next = xasprintf("%s%s%s", msg, i ? ", " : "", parts[i]);
		free(msg);
		free(parts[i]);
		msg = next;
	}
	char *full = xasprintf("%s. preemption: 0/%d nodes are available: %d No preemption "
			       "victims found for incoming pod..",
			       msg, nodes, nodes);
	free(msg);
	for (int i = 0; i < r->n; i++)
		free(r->text[i]);
	return full;
}

static void pod_requests(const json_t *pod, int64_t *cpu, int64_t *mem)
{
	size_t i;
	json_t *c;
	*cpu = *mem = 0;
	json_array_foreach (json_object_get(json_object_get(pod, "spec"), "containers"), i, c) {
		json_t *res = json_object_get(c, "resources");
		json_t *req = json_object_get(res, "requests");
		if (!req)
			req = json_object_get(res, "limits");
		int64_t v;
		json_t *q = json_object_get(req, "cpu");
		if (json_is_string(q) && simconf_quantity_milli(json_string_value(q), &v))
			*cpu += v;
		else if (json_is_integer(q))
			*cpu += json_integer_value(q) * 1000;
		q = json_object_get(req, "memory");
		if (json_is_string(q) && simconf_quantity(json_string_value(q), &v))
			*mem += v;
		else if (json_is_integer(q))
			*mem += json_integer_value(q);
	}
}

/* What the scoring plugins count: a container with no request counts as
 * 100m of cpu and 200Mi of memory (pkg/scheduler/util/pod_resources.go,
 * GetNonzeroRequests). */
static void pod_nonzero_requests(const json_t *pod, int64_t *cpu, int64_t *mem)
{
	size_t i;
	json_t *c;
	*cpu = *mem = 0;
	json_array_foreach (json_object_get(json_object_get(pod, "spec"), "containers"), i, c) {
		json_t *one = json_pack("{s:{s:[O]}}", "spec", "containers", c);
		int64_t cc, cm;
		pod_requests(one, &cc, &cm);
		json_decref(one);
		*cpu += cc ? cc : 100;
		*mem += cm ? cm : 200LL * 1024 * 1024;
	}
}

/*
 * A feasible node's score in the default profile's resource plugins, each
 * 0-100 with weight 1: NodeResourcesFit's LeastAllocated (the mean of the
 * free share of cpu and memory once the pod is there) and
 * NodeResourcesBalancedAllocation (100 less the standard deviation of the
 * two shares, in percent).  pkg/scheduler/framework/plugins/noderesources,
 * least_allocated.go and balanced_allocation.go.
 */
static int64_t node_score(int64_t cpu, int64_t mem)
{
	const struct simconf *conf = simconf_get();
	int64_t cap_cpu = conf->node_cpu_milli, cap_mem = conf->node_memory;
	if (cap_cpu <= 0 || cap_mem <= 0)
		return 0;
	int64_t free_cpu = cpu > cap_cpu ? 0 : (cap_cpu - cpu) * 100 / cap_cpu;
	int64_t free_mem = mem > cap_mem ? 0 : (cap_mem - mem) * 100 / cap_mem;
	int64_t least = (free_cpu + free_mem) / 2;
	double fc = (double)cpu / (double)cap_cpu, fm = (double)mem / (double)cap_mem;
	fc = fc > 1 ? 1 : fc;
	fm = fm > 1 ? 1 : fm;
	double std = fc > fm ? (fc - fm) / 2 : (fm - fc) / 2;
	return least + (int64_t)((1 - std) * 100);
}

/* Does term (a PodAffinityTerm of owner, in owner_ns) select pod? */
static bool term_selects(const json_t *term, const char *owner_ns, const json_t *pod)
{
	json_t *nss = json_object_get(term, "namespaces");
	const char *pns = json_str(meta(pod), "namespace");
	bool ns_ok = false;
	if (json_array_size(nss) == 0 && !json_object_get(term, "namespaceSelector")) {
		ns_ok = !strcmp(pns, owner_ns);
	} else {
		size_t i;
		json_t *v;
		json_array_foreach (nss, i, v) {
			if (!strcmp(json_string_value(v), pns))
				ns_ok = true;
		}
		if (json_object_get(term, "namespaceSelector"))
			ns_ok = true;
	}
	if (!ns_ok)
		return false;
	struct selector sel;
	char *err = NULL;
	if (!selector_from_json(json_object_get(term, "labelSelector"), &sel, &err)) {
		free(err);
		return false;
	}
	bool m = selector_matches(&sel, json_object_get(meta(pod), "labels"));
	selector_free(&sel);
	return m;
}

static json_t *anti_terms(const json_t *pod)
{
	return json_object_get(
		json_object_get(json_object_get(json_object_get(pod, "spec"), "affinity"),
				"podAntiAffinity"),
		"requiredDuringSchedulingIgnoredDuringExecution");
}

static const char *node_label(struct store_obj *node, const char *key)
{
	return label(node->body, key);
}

static struct store_obj *node_by_name(struct store_obj **nodes, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (name && !strcmp(nodes[i]->name, name))
			return nodes[i];
	}
	return NULL;
}

static bool node_selector_ok(const json_t *pod, struct store_obj *node)
{
	const char *k;
	json_t *v;
	json_object_foreach (json_object_get(json_object_get(pod, "spec"), "nodeSelector"), k, v) {
		const char *have = node_label(node, k);
		if (!have || !json_is_string(v) || strcmp(have, json_string_value(v)) != 0)
			return false;
	}
	return true;
}

static void pod_conditions_unschedulable(struct store_obj *pod, const char *message)
{
	json_t *status = json_object_get(pod->body, "status");
	size_t i;
	json_t *c;
	json_array_foreach (json_object_get(status, "conditions"), i, c) {
		if (!strcmp(json_str(c, "type"), "PodScheduled") && json_str(c, "message") &&
		    !strcmp(json_str(c, "message"), message))
			return;
	}
	json_t *body = json_deep_copy(pod->body);
	char ts[32];
	now_ts(ts, sizeof(ts));
	json_object_set_new(child(body, "status"), "conditions",
			    json_pack("[{s:s, s:s, s:n, s:s, s:s, s:s}]", "type", "PodScheduled",
				      "status", "False", "lastProbeTime", "lastTransitionTime", ts,
				      "reason", "Unschedulable", "message", message));
	json_object_set_new(child(body, "status"), "phase", json_string("Pending"));
	store_update(pod, body);
}

/* --- volume binding ----------------------------------------------------------- */

/*
 * The scheduler's VolumeBinding plugin for statically provisioned
 * volumes (pkg/scheduler/framework/plugins/volumebinding;
 * https://kubernetes.io/docs/concepts/storage/storage-classes/#volume-binding-mode,
 * https://kubernetes.io/docs/concepts/storage/persistent-volumes/#node-affinity):
 * a bound claim's volume must allow the node by its node affinity; an
 * unbound claim of a WaitForFirstConsumer class is bound when its pod is
 * scheduled, to the smallest Available volume of its class that its
 * selector picks, with room for its request and its access modes, whose
 * node affinity allows the node.  Binding is done at once (the real
 * scheduler sets the volume's claimRef and the PV controller completes the
 * claim shortly after).  Dynamic provisioning is not modelled.
 */
#define MAX_CLAIMS 8

struct pod_claims {
	struct store_obj *claim[MAX_CLAIMS];
	struct store_obj *chosen[MAX_CLAIMS]; /* for unbound claims, on the node tried */
	int n;
};

static int64_t storage_bytes(const json_t *list)
{
	json_t *v = json_object_get(list, "storage");
	int64_t b = 0;
	if (json_is_string(v) && simconf_quantity(json_string_value(v), &b))
		return b;
	return json_is_integer(v) ? json_integer_value(v) : 0;
}

/* One NodeSelectorRequirement against a node: In, NotIn, Exists, DoesNotExist. */
static bool node_requirement_ok(const json_t *req, struct store_obj *node, bool field)
{
	const char *key = json_str(req, "key");
	const char *op = json_str(req, "operator");
	const char *have = !key	   ? NULL
			   : field ? (!strcmp(key, "metadata.name") ? node->name : NULL)
				   : label(node->body, key);
	bool in = false;
	size_t i;
	json_t *v;
	json_array_foreach (json_object_get(req, "values"), i, v) {
		if (have && json_is_string(v) && !strcmp(json_string_value(v), have))
			in = true;
	}
	if (same(op, "In"))
		return in;
	if (same(op, "NotIn"))
		return !in;
	if (same(op, "Exists"))
		return have != NULL;
	if (same(op, "DoesNotExist"))
		return have == NULL;
	return false;
}

/* spec.nodeAffinity.required of a volume: its terms ORed, each term's
 * requirements ANDed; no affinity allows every node. */
static bool volume_allows(const json_t *pv, struct store_obj *node)
{
	json_t *terms = json_object_get(
		json_object_get(json_object_get(json_object_get(pv, "spec"), "nodeAffinity"),
				"required"),
		"nodeSelectorTerms");
	size_t i, j;
	json_t *t, *r;
	if (!json_is_array(terms))
		return true;
	json_array_foreach (terms, i, t) {
		bool ok = true;
		json_array_foreach (json_object_get(t, "matchExpressions"), j, r)
			ok = ok && node_requirement_ok(r, node, false);
		json_array_foreach (json_object_get(t, "matchFields"), j, r)
			ok = ok && node_requirement_ok(r, node, true);
		if (ok)
			return true;
	}
	return false;
}

static const char *class_of(const json_t *o)
{
	const char *c = json_str(json_object_get(o, "spec"), "storageClassName");
	return c ? c : "";
}

static bool access_modes_ok(const json_t *claim, const json_t *pv)
{
	size_t i, j;
	json_t *want, *have;
	json_array_foreach (json_object_get(json_object_get(claim, "spec"), "accessModes"), i,
			    want) {
		bool found = false;
		json_array_foreach (json_object_get(json_object_get(pv, "spec"), "accessModes"), j,
				    have)
			found = found || json_equal(want, have);
		if (!found)
			return false;
	}
	return true;
}

static bool volume_fits_claim(const struct store_obj *pv, const struct store_obj *claim)
{
	json_t *ps = json_object_get(pv->body, "spec"), *cs = json_object_get(claim->body, "spec");
	struct selector sel;
	char *err = NULL;
	bool ok;

	if (json_object_get(ps, "claimRef") ||
	    !same(json_str(json_object_get(pv->body, "status"), "phase"), "Available") ||
	    strcmp(class_of(pv->body), class_of(claim->body)) != 0 ||
	    storage_bytes(json_object_get(ps, "capacity")) <
		    storage_bytes(json_object_get(json_object_get(cs, "resources"), "requests")) ||
	    !access_modes_ok(claim->body, pv->body))
		return false;
	if (!json_object_get(cs, "selector"))
		return true;
	if (!selector_from_json(json_object_get(cs, "selector"), &sel, &err)) {
		free(err);
		return false;
	}
	ok = selector_matches(&sel, json_object_get(meta(pv->body), "labels"));
	selector_free(&sel);
	return ok;
}

/* PreFilter: the pod's claims; NULL, or why no node is tried (the caller
 * frees it). */
static char *pod_claims(const struct store_obj *pod, struct pod_claims *pc)
{
	size_t i;
	json_t *v;
	memset(pc, 0, sizeof(*pc));
	json_array_foreach (json_object_get(json_object_get(pod->body, "spec"), "volumes"), i, v) {
		const char *name =
			json_str(json_object_get(v, "persistentVolumeClaim"), "claimName");
		struct store_obj *claim;
		if (!name || pc->n >= MAX_CLAIMS)
			continue;
		claim = store_get(K("persistentvolumeclaims"), pod->ns, name);
		if (!claim)
			return xasprintf("persistentvolumeclaim \"%s\" not found", name);
		if (!json_str(json_object_get(claim->body, "spec"), "volumeName")) {
			struct store_obj *sc =
				store_get(K("storageclasses"), "", class_of(claim->body));
			if (!sc ||
			    !same(json_str(sc->body, "volumeBindingMode"), "WaitForFirstConsumer"))
				return xstrdup("pod has unbound immediate PersistentVolumeClaims");
		}
		pc->claim[pc->n++] = claim;
	}
	return NULL;
}

/* Filter: NULL when the pod's volumes allow node (pc->chosen then holds a
 * volume for each unbound claim), else the reason, as the plugin words it. */
static const char *volumes_fit(struct pod_claims *pc, struct store_obj *node)
{
	size_t npv;
	struct store_obj **pvs = store_list(K("persistentvolumes"), NULL, &npv);
	const char *why = NULL;

	for (int i = 0; i < pc->n && !why; i++) {
		const char *vol =
			json_str(json_object_get(pc->claim[i]->body, "spec"), "volumeName");
		pc->chosen[i] = NULL;
		if (vol) {
			struct store_obj *pv = store_get(K("persistentvolumes"), "", vol);
			if (!pv)
				why = "node(s) unavailable due to one or more pvc(s) bound to "
				      "non-existent pv(s)";
			else if (!volume_allows(pv->body, node))
				why = "node(s) had volume node affinity conflict";
			continue;
		}
		for (size_t j = 0; j < npv; j++) {
			bool taken = false;
			for (int k = 0; k < i; k++)
				taken = taken || pc->chosen[k] == pvs[j];
			if (taken || !volume_fits_claim(pvs[j], pc->claim[i]) ||
			    !volume_allows(pvs[j]->body, node))
				continue;
			if (!pc->chosen[i] ||
			    storage_bytes(json_object_get(json_object_get(pvs[j]->body, "spec"),
							  "capacity")) <
				    storage_bytes(json_object_get(
					    json_object_get(pc->chosen[i]->body, "spec"),
					    "capacity")))
				pc->chosen[i] = pvs[j];
		}
		if (!pc->chosen[i])
			why = "node(s) didn't find available persistent volumes to bind";
	}
	free(pvs);
	return why;
}

/*
 * The two steps of binding a WaitForFirstConsumer claim to a volume that
 * exists.  The scheduler's VolumeBinding plugin, once it has chosen the
 * node, writes the claim's reference into each chosen volume (PreBind,
 * pkg/scheduler/framework/plugins/volumebinding/binder.go, bindAPIUpdate,
 * with the volume from GetBindVolumeToClaim: claimRef and
 * pv.kubernetes.io/bound-by-controller) and waits, polling every second
 * (checkBindings), until the PV controller has bound the claims; only then
 * is the pod bound to the node.  The selected-node annotation is for
 * claims to provision, which the simulator does not do.
 */
static void assume_volumes(struct pod_claims *pc)
{
	for (int i = 0; i < pc->n; i++) {
		struct store_obj *claim = pc->claim[i], *pv = pc->chosen[i];
		json_t *body;
		if (!pv)
			continue;
		body = json_deep_copy(pv->body);
		json_object_set_new(
			child(body, "spec"), "claimRef",
			json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "kind", "PersistentVolumeClaim",
				  "namespace", claim->ns, "name", claim->name, "uid",
				  json_str(meta(claim->body), "uid"), "apiVersion", "v1",
				  "resourceVersion",
				  json_str(meta(claim->body), "resourceVersion")
					  ? json_str(meta(claim->body), "resourceVersion")
					  : ""));
		json_object_set_new(child(child(body, "metadata"), "annotations"),
				    "pv.kubernetes.io/bound-by-controller", json_string("yes"));
		store_update(pv, body);
		log_debug("volume %s assumed for claim %s/%s", pv->name, claim->ns, claim->name);
	}
}

/* The PV controller's bind of a volume that names the claim in its
 * claimRef (pkg/controller/volume/persistentvolume/pv_controller.go,
 * syncVolume then bind: the volume Bound, the claim's volumeName with the
 * bind-completed and bound-by-controller annotations, then its status
 * Bound with the volume's access modes and capacity). */
static void pv_controller_bind(struct store_obj *pv, struct store_obj *claim)
{
	set_status(pv, json_pack("{s:s}", "phase", "Bound"));
	json_t *body = json_deep_copy(claim->body);
	json_object_set_new(child(body, "spec"), "volumeName", json_string(pv->name));
	json_t *ann = child(child(body, "metadata"), "annotations");
	json_object_set_new(ann, "pv.kubernetes.io/bind-completed", json_string("yes"));
	json_object_set_new(ann, "pv.kubernetes.io/bound-by-controller", json_string("yes"));
	json_object_set_new(
		body, "status",
		json_pack("{s:s, s:O?, s:O?}", "phase", "Bound", "accessModes",
			  json_object_get(json_object_get(pv->body, "spec"), "accessModes"),
			  "capacity",
			  json_object_get(json_object_get(pv->body, "spec"), "capacity")));
	store_update(claim, body);
	log_debug("claim %s/%s bound to %s", claim->ns, claim->name, pv->name);
}

/*
 * The PV controller's bookkeeping (pkg/controller/volume/persistentvolume):
 * a bound volume whose claim is gone (or is another object of its name) is
 * Released, and keeps its claimRef, so no other claim binds it until it is
 * deleted or recreated: reclaimPolicy Retain
 * (https://kubernetes.io/docs/concepts/storage/persistent-volumes/#retain).
 * A claim whose volume is gone is Lost.  Other reclaim policies are
 * treated as Retain.
 */
static void sync_volumes(void)
{
	size_t n;
	struct store_obj **list = store_list(K("persistentvolumes"), NULL, &n);
	for (size_t i = 0; i < n; i++) {
		json_t *ref = json_object_get(json_object_get(list[i]->body, "spec"), "claimRef");
		const char *phase = json_str(json_object_get(list[i]->body, "status"), "phase");
		struct store_obj *claim =
			ref ? store_get(K("persistentvolumeclaims"), json_str(ref, "namespace"),
					json_str(ref, "name") ? json_str(ref, "name") : "")
			    : NULL;
		if (ref && claim &&
		    same(json_str(meta(claim->body), "uid"), json_str(ref, "uid"))) {
			if (!same(phase, "Bound") &&
			    (!json_str(json_object_get(claim->body, "spec"), "volumeName") ||
			     same(json_str(json_object_get(claim->body, "spec"), "volumeName"),
				  list[i]->name)))
				pv_controller_bind(list[i], claim);
			continue;
		}
		if (!ref || same(phase, "Released"))
			continue;
		set_status(list[i], json_pack("{s:s}", "phase", "Released"));
	}
	free(list);
	list = store_list(K("persistentvolumeclaims"), NULL, &n);
	for (size_t i = 0; i < n; i++) {
		const char *vol = json_str(json_object_get(list[i]->body, "spec"), "volumeName");
		if (vol && !store_get(K("persistentvolumes"), "", vol) &&
		    !same(json_str(json_object_get(list[i]->body, "status"), "phase"), "Lost"))
			set_status(list[i], json_pack("{s:s}", "phase", "Lost"));
	}
	free(list);
}

/*
 * Pods in the scheduler's binding cycle, waiting for their volumes
 * (assume_volumes): "ns/name" -> {"uid", "node", "since"}.  The wait polls
 * every second and gives up after bindTimeoutSeconds (600), or as soon as
 * an assumed volume no longer names the claim; the pod then goes back to
 * the queue.
 */
static json_t *prebinding;
#define PREBIND_POLL_MS 1000
#define PREBIND_TIMEOUT_MS 600000

static void bind_pod(struct store_obj *pod, const char *node)
{
	json_t *body = json_deep_copy(pod->body);
	char ts[32];
	now_ts(ts, sizeof(ts));
	json_object_set_new(child(body, "spec"), "nodeName", json_string(node));
	json_object_set_new(child(body, "status"), "conditions",
			    json_pack("[{s:s, s:s, s:n, s:s}]", "type", "PodScheduled", "status",
				      "True", "lastProbeTime", "lastTransitionTime", ts));
	store_update(pod, body);
	log_debug("pod %s/%s scheduled on %s", pod->ns, pod->name, node);
}

/* True when the pod is in its binding cycle (bound now if its claims are). */
static bool prebind_wait(struct store_obj *pod, struct pod_claims *pc)
{
	char *key = xasprintf("%s/%s", pod->ns, pod->name);
	json_t *e = json_object_get(prebinding, key);
	int64_t now = now_mono_ms();
	bool waiting = false;

	if (e && same(json_str(e, "uid"), json_str(meta(pod->body), "uid"))) {
		int64_t since = json_integer_value(json_object_get(e, "since"));
		bool bound = true, lost = false;
		for (int i = 0; i < pc->n; i++) {
			const json_t *cl = pc->claim[i]->body;
			const char *vol = json_str(json_object_get(cl, "spec"), "volumeName");
			struct store_obj *pv =
				vol ? store_get(K("persistentvolumes"), "", vol) : NULL;
			if (!same(json_str(json_object_get(cl, "status"), "phase"), "Bound"))
				bound = false;
			if (vol && !pv)
				lost = true;
		}
		waiting = true;
		if (lost || now - since >= PREBIND_TIMEOUT_MS) {
			log_info("pod %s/%s: binding volumes failed; back to the queue", pod->ns,
				 pod->name);
			waiting = false;
		} else if (bound && (now - since) >= PREBIND_POLL_MS) {
			bind_pod(pod, json_str(e, "node"));
		} else {
			free(key);
			return true;
		}
	}
	json_object_del(prebinding, key);
	free(key);
	return waiting;
}

/* The node a pod is on, or assumed on by the scheduler's cache while its
 * volumes bind (the scheduler counts an assumed pod there). */
static const char *assumed_node(const struct store_obj *pod)
{
	const char *nn = json_str(json_object_get(pod->body, "spec"), "nodeName");
	if (nn || !prebinding)
		return nn;
	char *key = xasprintf("%s/%s", pod->ns, pod->name);
	json_t *e = json_object_get(prebinding, key);
	free(key);
	if (!e || !same(json_str(e, "uid"), json_str(meta(pod->body), "uid")))
		return NULL;
	return json_str(e, "node");
}

static void schedule(struct store_obj *pod, struct store_obj **nodes, size_t nnodes,
		     struct store_obj **all, size_t nall)
{
	struct pod_claims pc;
	char *prefilter = pod_claims(pod, &pc);

	if (!prefilter && prebind_wait(pod, &pc))
		return;

	if (prefilter) {
		char *msg = xasprintf("0/%zu nodes are available: %s. preemption: 0/%zu nodes are "
				      "available: %zu Preemption is not helpful for scheduling..",
				      nnodes, prefilter, nnodes, nnodes);
		pod_conditions_unschedulable(pod, msg);
		free(msg);
		free(prefilter);
		return;
	}

	struct reasons r;
	struct store_obj *best = NULL;
	int64_t best_score = -1;
	int nbest = 0;
	int64_t cpu, mem, nz_cpu, nz_mem;
	json_t *terms = anti_terms(pod->body);

	memset(&r, 0, sizeof(r));
	pod_requests(pod->body, &cpu, &mem);
	pod_nonzero_requests(pod->body, &nz_cpu, &nz_mem);
	for (size_t i = 0; i < nnodes; i++) {
		struct store_obj *node = nodes[i];
		if (faults_node_unschedulable(node->name) ||
		    json_is_true(json_object_get(json_object_get(node->body, "spec"),
						 "unschedulable"))) {
			reason_add(&r, "node(s) were unschedulable");
			continue;
		}
		if (!node_selector_ok(pod->body, node)) {
			reason_add(&r, "node(s) didn't match Pod's node affinity/selector");
			continue;
		}
		int64_t used_cpu = 0, used_mem = 0, nz_used_cpu = nz_cpu, nz_used_mem = nz_mem;
		size_t load = 0;
		for (size_t j = 0; j < nall; j++) {
			const char *nn = assumed_node(all[j]);
			if (!nn || strcmp(nn, node->name) != 0 || all[j] == pod)
				continue;
			int64_t c, m;
			pod_requests(all[j]->body, &c, &m);
			used_cpu += c;
			used_mem += m;
			pod_nonzero_requests(all[j]->body, &c, &m);
			nz_used_cpu += c;
			nz_used_mem += m;
			load++;
		}
		const struct simconf *conf = simconf_get();
		if ((int)load + 1 > conf->node_pods) {
			reason_add(&r, "Too many pods");
			continue;
		}
		bool short_cpu = used_cpu + cpu > conf->node_cpu_milli;
		bool short_mem = used_mem + mem > conf->node_memory;
		if (short_cpu || short_mem) {
			if (short_cpu)
				reason_add(&r, "Insufficient cpu");
			if (short_mem)
				reason_add(&r, "Insufficient memory");
			continue;
		}
		/* VolumeBinding runs after NodeResourcesFit and before
		 * InterPodAffinity in the default profile; a node's first failing
		 * filter is the one reported. */
		const char *volumes_why = volumes_fit(&pc, node);
		if (volumes_why) {
			reason_add(&r, volumes_why);
			continue;
		}
		bool anti = false, existing_anti = false;
		for (size_t j = 0; j < nall && !anti && !existing_anti; j++) {
			struct store_obj *other = all[j];
			if (other == pod)
				continue;
			struct store_obj *on = node_by_name(nodes, nnodes, assumed_node(other));
			if (!on)
				continue;
			size_t t;
			json_t *term;
			json_array_foreach (terms, t, term) {
				const char *key = json_str(term, "topologyKey");
				const char *here = key ? node_label(node, key) : NULL;
				const char *there = key ? node_label(on, key) : NULL;
				if (here && there && !strcmp(here, there) &&
				    term_selects(term, pod->ns, other->body))
					anti = true;
			}
			json_array_foreach (anti_terms(other->body), t, term) {
				const char *key = json_str(term, "topologyKey");
				const char *here = key ? node_label(node, key) : NULL;
				const char *there = key ? node_label(on, key) : NULL;
				if (here && there && !strcmp(here, there) &&
				    term_selects(term, other->ns, pod->body))
					existing_anti = true;
			}
		}
		if (anti) {
			reason_add(&r, "node(s) didn't match pod anti-affinity rules");
			continue;
		}
		if (existing_anti) {
			reason_add(&r, "node(s) didn't satisfy existing pods anti-affinity rules");
			continue;
		}
		/* pkg/scheduler/schedule_one.go, selectHost: the highest
		 * score wins, a tie is broken at random (reservoir sampling). */
		int64_t score = node_score(nz_used_cpu, nz_used_mem);
		if (score > best_score) {
			best = node;
			best_score = score;
			nbest = 1;
		} else if (score == best_score && rand_below((uint64_t)++nbest) == 0) {
			best = node;
		}
	}
	if (!best) {
		char *msg = nnodes ? reasons_message(&r, (int)nnodes)
				   : xstrdup("no nodes available to schedule pods");
		for (int i = 0; nnodes == 0 && i < r.n; i++)
			free(r.text[i]);
		pod_conditions_unschedulable(pod, msg);
		free(msg);
		return;
	}
	for (int i = 0; i < r.n; i++)
		free(r.text[i]);
	bool assumed = false;
	if (!volumes_fit(&pc, best)) {
		for (int i = 0; i < pc.n; i++)
			assumed = assumed || pc.chosen[i];
	}
	if (!assumed) {
		bind_pod(pod, best->name);
		return;
	}
	assume_volumes(&pc);
	if (!prebinding)
		prebinding = json_object();
	char *key = xasprintf("%s/%s", pod->ns, pod->name);
	json_object_set_new(prebinding, key,
			    json_pack("{s:s, s:s, s:I}", "uid", json_str(meta(pod->body), "uid"),
				      "node", best->name, "since", (json_int_t)now_mono_ms()));
	free(key);
}

/* --- the kubelet ----------------------------------------------------------------- */

static json_t *condition(const char *type, bool ok, const char *ts)
{
	return json_pack("{s:s, s:s, s:n, s:s}", "type", type, "status", ok ? "True" : "False",
			 "lastProbeTime", "lastTransitionTime", ts);
}

static json_t *container_statuses(const json_t *pod, bool ready, const char *started)
{
	json_t *out = json_array();
	size_t i;
	json_t *c;
	json_array_foreach (json_object_get(json_object_get(pod, "spec"), "containers"), i, c) {
		char id[65];
		rand_hex(id, 32);
		char *cid = xasprintf("containerd://%s", id);
		const char *image = json_str(c, "image");
		json_array_append_new(
			out,
			json_pack("{s:s, s:s, s:s, s:s, s:b, s:i, s:b, s:{s:{s:s}}, s:{}}", "name",
				  json_str(c, "name") ? json_str(c, "name") : "", "image",
				  image ? image : "", "imageID", image ? image : "", "containerID",
				  cid, "ready", ready, "restartCount", 0, "started", 1, "state",
				  "running", "startedAt", started, "lastState"));
		free(cid);
	}
	return out;
}

/* --- the kubelet: volumes on the node, init containers' chown, the container's user -------- */

/*
 * hostPath volumes of type DirectoryOrCreate, mounted when the pod starts:
 * the kubelet makes a missing folder root:root 0755 (sim/hostfs.c cites the
 * documentation).  Other types and missing folders are not modelled.
 */
static void kubelet_make_host_dirs(const json_t *pod, const char *node)
{
	size_t i;
	json_t *v;

	json_array_foreach (json_object_get(json_object_get(pod, "spec"), "volumes"), i, v) {
		json_t *hp = json_object_get(v, "hostPath");
		const char *claim =
			json_str(json_object_get(v, "persistentVolumeClaim"), "claimName");

		/* A claim's bound volume, when it is a hostPath one. */
		if (!hp && claim) {
			struct store_obj *c = store_get(K("persistentvolumeclaims"),
							json_str(meta(pod), "namespace"), claim);
			const char *vol =
				c ? json_str(json_object_get(c->body, "spec"), "volumeName") : NULL;
			struct store_obj *pv =
				vol ? store_get(K("persistentvolumes"), "", vol) : NULL;
			hp = pv ? json_object_get(json_object_get(pv->body, "spec"), "hostPath")
				: NULL;
		}
		if (hp && same(json_str(hp, "type"), "DirectoryOrCreate") && json_str(hp, "path"))
			hostfs_make(node, json_str(hp, "path"));
	}
}

/* Who a user or group name of the Elasticsearch images is: elasticsearch
 * is 1000 (and its login group 1000), root 0; -1 for anything else. */
static int image_id(const char *name, size_t len)
{
	int v;
	char buf[32];

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, name, len);
	buf[len] = '\0';
	if (!strcmp(buf, "elasticsearch"))
		return 1000;
	if (!strcmp(buf, "root"))
		return 0;
	return parse_int(buf, 0, 1 << 30, &v) ? v : -1;
}

/* The uid a container runs as: its securityContext's, the pod's, else the
 * image's user (1000 in the Elasticsearch images, root in others). */
static int64_t container_uid(const json_t *pod, const json_t *c)
{
	json_t *u = json_object_get(json_object_get(c, "securityContext"), "runAsUser");
	const char *image = json_str(c, "image");

	if (!json_is_integer(u))
		u = json_object_get(
			json_object_get(json_object_get(pod, "spec"), "securityContext"),
			"runAsUser");
	if (json_is_integer(u))
		return json_integer_value(u);
	return image && strstr(image, "elasticsearch") ? 1000 : 0;
}

/* One `chown [-R] owner path...` of an init container, applied to the
 * folders its mounts are on. */
static void apply_chown(const json_t *pod, const json_t *c, const char *node, char **tok, int n)
{
	int k = 1;

	while (k < n && tok[k][0] == '-')
		k++;
	if (k + 1 >= n)
		return;
	const char *owner = tok[k];
	const char *colon = strchr(owner, ':');
	int uid = image_id(owner, colon ? (size_t)(colon - owner) : strlen(owner));
	int gid = -2; /* unchanged */

	if (colon)
		gid = colon[1] ? image_id(colon + 1, strlen(colon + 1)) : uid;
	if (uid < 0 || gid == -1)
		return;
	for (k++; k < n; k++) {
		char *p = tok[k];
		size_t len = strlen(p);

		if (len >= 2 && (p[0] == '"' || p[0] == '\'') && p[len - 1] == p[0]) {
			p[len - 1] = '\0';
			p++;
			len -= 2;
		}
		while (len > 1 && p[len - 1] == '/')
			p[--len] = '\0';
		const char *host_path = hostfs_mount_path(pod, c, p);
		struct hostdir *d = host_path ? hostfs_make(node, host_path) : NULL;

		if (!d)
			continue;
		d->uid = uid;
		if (gid >= 0)
			d->gid = gid;
	}
}

/*
 * The init containers' effect on the folders' owners, read from their
 * commands: each `chown owner path` (statements split at newlines, ';',
 * '&&' and '||'; owner as uid[:gid] or the images' names) whose path is
 * where a volume is mounted gives that folder to the owner, when the
 * container runs as root (a non-root chown fails with EPERM).  Enough for
 * the scripts kube/render.c writes; a chown of a variable or in a loop is
 * not understood.  Init containers run once, when the pod starts.
 */
static void kubelet_run_init_chowns(const json_t *pod, const char *node)
{
	size_t i;
	json_t *c;

	json_array_foreach (json_object_get(json_object_get(pod, "spec"), "initContainers"), i, c) {
		if (container_uid(pod, c) != 0)
			continue;
		char *text = xstrdup("");
		size_t j;
		json_t *w;

		json_array_foreach (json_object_get(c, "command"), j, w) {
			char *more = xasprintf("%s %s", text, json_string_value(w));
			free(text);
			text = more;
		}
		json_array_foreach (json_object_get(c, "args"), j, w) {
			char *more = xasprintf("%s %s", text, json_string_value(w));
			free(text);
			text = more;
		}
		for (char *p = text; *p; p++) {
			if (*p == ';' || *p == '&' || *p == '|')
				*p = '\n';
		}
		char *save = NULL;
		for (char *line = strtok_r(text, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			char *tok[64], *s2 = NULL;
			int n = 0;

			for (char *t = strtok_r(line, " \t", &s2); t && n < 64;
			     t = strtok_r(NULL, " \t", &s2))
				tok[n++] = t;
			if (n > 0 && !strcmp(tok[0], "chown"))
				apply_chown(pod, c, node, tok, n);
		}
		free(text);
	}
}

/*
 * The Elasticsearch container: one that runs its image's entrypoint (no
 * command), an Elasticsearch image or any image that mounts the data path
 * (an image built on Elastic's keeps its user).  major is the version of
 * its tag; a tag that is no version counts as a current one.
 */
static const json_t *es_container(const json_t *pod, int *major)
{
	size_t i;
	json_t *c;

	json_array_foreach (json_object_get(json_object_get(pod, "spec"), "containers"), i, c) {
		const char *image = json_str(c, "image");
		const char *tag = image ? strrchr(image, ':') : NULL;
		bool data = false;
		size_t j;
		json_t *m;

		json_array_foreach (json_object_get(c, "volumeMounts"), j, m)
			data = data ||
			       same(json_str(m, "mountPath"), "/usr/share/elasticsearch/data");
		if (!image || !(strstr(image, "elasticsearch") || data) ||
		    json_object_get(c, "command"))
			continue;
		if (tag && strchr(tag, '/'))
			tag = NULL; /* a registry's port, no tag */
		*major = tag && isdigit((unsigned char)tag[1]) ? (int)strtol(tag + 1, NULL, 10) : 8;
		return c;
	}
	return NULL;
}

/*
 * Can the Elasticsearch process write its data path and logs (when
 * mounted)?  From 5.x on the images run it as uid 1000 (gid 0 from 7.x,
 * 1000 before), not as root: https://www.elastic.co/guide/en/elasticsearch/
 * reference/current/docker.html ("the container runs Elasticsearch as user
 * elasticsearch using uid:gid 1000:0 ... bind-mounted host directories
 * must be writable by this user"), elastic/elasticsearch-docker#187.  2.x's
 * entrypoint chowns the data path as root first, so 2.x always can.
 * NULL when it can, else the folder it cannot write (borrowed).
 */
static const char *es_unwritable(const json_t *pod, const char *node)
{
	static const char *const paths[] = {"/usr/share/elasticsearch/data",
					    "/usr/share/elasticsearch/logs"};
	int major = 0;
	const json_t *c = es_container(pod, &major);

	if (!c || major < 5)
		return NULL;
	/* Its securityContext's user, else the image's: 1000 for any image of
	 * Elasticsearch, Elastic's or one built on it. */
	int64_t uid = container_uid(pod, c);
	json_t *set = json_object_get(json_object_get(c, "securityContext"), "runAsUser");
	json_t *pod_set = json_object_get(
		json_object_get(json_object_get(pod, "spec"), "securityContext"), "runAsUser");

	if (!json_is_integer(set) && !json_is_integer(pod_set))
		uid = 1000;
	int64_t gid = major >= 7 ? 0 : 1000;

	if (uid == 0)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		const char *hp = hostfs_mount_path(pod, c, paths[i]);
		struct hostdir *d = hp ? hostfs_find(node, hp) : NULL;

		if (!d)
			continue;
		bool ok = (d->uid == uid && (d->mode & 0200)) ||
			  (d->gid == gid && (d->mode & 0020)) || (d->mode & 0002);
		if (!ok)
			return paths[i];
	}
	return NULL;
}

/* The Elasticsearch container, restarted after its back-off, stays up:
 * running again. */
static void kubelet_es_restarted(struct store_obj *pod)
{
	int major;
	const json_t *es = es_container(pod->body, &major);
	json_t *body = NULL;
	size_t i;
	json_t *c;
	char ts[32];

	if (!es)
		return;
	now_ts(ts, sizeof(ts));
	json_array_foreach (
		json_object_get(json_object_get(pod->body, "status"), "containerStatuses"), i, c) {
		if (!same(json_str(c, "name"), json_str(es, "name")) ||
		    !json_object_get(json_object_get(c, "state"), "waiting"))
			continue;
		body = json_deep_copy(pod->body);
		c = json_array_get(json_object_get(child(body, "status"), "containerStatuses"), i);
		json_object_set_new(c, "started", json_true());
		json_object_set_new(c, "state", json_pack("{s:{s:s}}", "running", "startedAt", ts));
		break;
	}
	if (body)
		store_update(pod, body);
}

/*
 * A container that exits is restarted after a back-off that starts at 10 s
 * and doubles up to 5 minutes, its status meanwhile waiting with reason
 * CrashLoopBackOff: pkg/kubelet/kubelet.go (backOffPeriod, MaxContainerBackOff),
 * https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-restarts.
 * The pod stays Running and never Ready.  Elasticsearch checks its data
 * path (the node lock) and its settings as it starts, before it binds HTTP,
 * so this is asked when the container starts and at each restart.  true
 * when the Elasticsearch container failed (now) instead of starting.
 */
static bool kubelet_es_crashes(struct store_obj *pod, const char *node, int64_t now)
{
	const char *path = es_unwritable(pod->body, node);
	int es_major = 0;
	char *refused = !path && es_container(pod->body, &es_major)
				? sim_es_config_refused(pod->body, es_major)
				: NULL;

	if (!path && !refused)
		return false;
	/* node and path may point into the pod's body, which the update frees. */
	char *where = xstrdup(node), *unwritable = path ? xstrdup(path) : NULL;
	json_t *body = json_deep_copy(pod->body);
	json_t *st = child(body, "status");
	char ts[32];
	int64_t restarts = 0, backoff_s = 10;
	size_t i;
	json_t *c;

	now_ts(ts, sizeof(ts));
	json_array_foreach (json_object_get(st, "containerStatuses"), i, c) {
		int major;
		const json_t *es = es_container(pod->body, &major);

		if (!same(json_str(c, "name"), json_str(es, "name")))
			continue;
		restarts = json_integer_value(json_object_get(c, "restartCount")) + 1;
		backoff_s = restarts >= 6 ? 300 : 10LL << (restarts - 1);
		char *msg = xasprintf("back-off %llds restarting failed container=%s pod=%s_%s(%s)",
				      (long long)backoff_s, json_str(c, "name"), pod->name, pod->ns,
				      json_str(meta(pod->body), "uid"));
		json_object_set_new(c, "restartCount", json_integer(restarts));
		json_object_set_new(c, "ready", json_false());
		json_object_set_new(c, "started", json_false());
		json_object_set_new(c, "lastState",
				    json_pack("{s:{s:i, s:s, s:s, s:s}}", "terminated", "exitCode",
					      1, "reason", "Error", "startedAt", ts, "finishedAt",
					      ts));
		json_object_set_new(c, "state",
				    json_pack("{s:{s:s, s:s}}", "waiting", "reason",
					      "CrashLoopBackOff", "message", msg));
		free(msg);
		pod->ready_at_ms = now + backoff_s * 1000;
	}
	store_update(pod, body);
	char *why = xasprintf("Back-off restarting failed container elasticsearch in pod %s_%s(%s)",
			      pod->name, pod->ns, json_str(meta(pod->body), "uid"));
	record_warning(pod->ns, "v1", "Pod", pod->name, json_str(meta(pod->body), "uid"), "kubelet",
		       "BackOff", why);
	/* What Elasticsearch says before it exits (7.x wording). */
	if (refused)
		log_info("pod %s/%s on %s: %s (restart %lld)", pod->ns, pod->name, where, refused,
			 (long long)restarts);
	else
		log_info("pod %s/%s on %s: failed to obtain node locks, tried [%s]; maybe these "
			 "locations are not writable (AccessDeniedException: %s) (restart %lld)",
			 pod->ns, pod->name, where, unwritable, unwritable, (long long)restarts);
	free(refused);
	free(where);
	free(unwritable);
	free(why);
	return true;
}

/* What a container's process may write: its uid and gid, whether it
 * holds CAP_DAC_OVERRIDE, whether the mount is read-only. */
struct writer {
	int64_t uid;
	int64_t gid;
	bool dac_override;
	bool read_only;
};

/* Permission to add or remove entries of d (path_resolution(7), without
 * supplementary groups): CAP_DAC_OVERRIDE passes, else the owner's, the
 * group's or the others' write bit for the process. */
static bool writer_may_write(const struct hostdir *d, void *arg)
{
	const struct writer *w = arg;
	if (w->read_only)
		return false;
	if (w->dac_override)
		return true;
	if (w->uid == d->uid)
		return (d->mode & 0200) != 0;
	if (w->gid == d->gid)
		return (d->mode & 0020) != 0;
	return (d->mode & 0002) != 0;
}

static bool cap_listed(const json_t *list, const char *cap)
{
	size_t i;
	json_t *v;
	json_array_foreach (list, i, v) {
		const char *s = json_string_value(v);
		if (s && (!strcmp(s, "ALL") || !strcmp(s, cap) ||
			  (!strncmp(s, "CAP_", 4) && !strcmp(s + 4, cap))))
			return true;
	}
	return false;
}

/* The process of container c: root holds CAP_DAC_OVERRIDE, which is in the
 * runtime's default set (containerd's and CRI-O's), unless the
 * securityContext drops it (or ALL) without adding it back, or is
 * privileged; a process of another uid has no effective capability. */
static struct writer container_writer(const json_t *pod, const json_t *c)
{
	const json_t *sc = json_object_get(c, "securityContext");
	const json_t *psc = json_object_get(json_object_get(pod, "spec"), "securityContext");
	const json_t *caps = json_object_get(sc, "capabilities");
	json_t *g = json_object_get(sc, "runAsGroup");
	struct writer w = {.uid = container_uid(pod, c)};

	if (!json_is_integer(g))
		g = json_object_get(psc, "runAsGroup");
	w.gid = json_is_integer(g) ? json_integer_value(g) : 0;
	w.dac_override =
		w.uid == 0 && (json_is_true(json_object_get(sc, "privileged")) ||
			       !cap_listed(json_object_get(caps, "drop"), "DAC_OVERRIDE") ||
			       cap_listed(json_object_get(caps, "add"), "DAC_OVERRIDE"));
	return w;
}

/*
 * A one-shot container whose command removes with `rm -rf` empties the
 * host folders it mounts (as render_wipe_pod()'s `find /target -mindepth 1
 * -exec rm -rf {} +` does): what was below them is gone, the folders stay.
 * rm removes what its process may (the owner, the mode, CAP_DAC_OVERRIDE,
 * a read-only mount) and goes on; anything it could not remove makes it,
 * and find after it, exit 1 (coreutils rm: "cannot remove ...: Permission
 * denied", "Read-only file system"; find -exec ... {} + returns the
 * command's failure), which `set -e` makes the script's.  The container's
 * exit code, 0 or 1; *why says what stayed (to free).
 */
static int kubelet_run_removals(const json_t *pod, const char *node, char **why)
{
	size_t i, j;
	json_t *c, *w, *m;
	int code = 0;

	*why = NULL;
	json_array_foreach (json_object_get(json_object_get(pod, "spec"), "containers"), i, c) {
		bool removes = false;
		int min_depth = 1;

		json_array_foreach (json_object_get(c, "command"), j, w) {
			const char *text = json_is_string(w) ? json_string_value(w) : NULL;
			const char *md = text ? strstr(text, "-mindepth ") : NULL;
			if (text && strstr(text, "rm -rf"))
				removes = true;
			if (md)
				min_depth = (int)strtol(md + strlen("-mindepth "), NULL, 10);
		}
		json_array_foreach (json_object_get(c, "volumeMounts"), j, m) {
			const char *at = json_str(m, "mountPath");
			const char *hp = removes && at ? hostfs_mount_path(pod, c, at) : NULL;
			struct writer wr = container_writer(pod, c);
			char *denied = NULL;

			if (!hp)
				continue;
			wr.read_only = json_is_true(json_object_get(m, "readOnly"));
			if (!hostfs_remove_below(node, hp, min_depth, writer_may_write, &wr,
						 &denied)) {
				code = 1;
				if (!*why)
					*why = xasprintf("rm: cannot remove '%s%s': %s", at,
							 denied + strlen(hp),
							 wr.read_only ? "Read-only file system"
								      : "Permission denied");
			}
			free(denied);
		}
	}
	return code;
}

/*
 * Init containers run one after the other before the containers; the pod
 * stays Pending meanwhile, Initialized False (pkg/kubelet/status/
 * generate.go, GeneratePodInitializedCondition: ContainersNotInitialized,
 * "containers with incomplete status: [...]"), its containers waiting
 * PodInitializing.  One that exits non-zero is restarted (restartPolicy
 * Always) after the containers' back-off, 10 s doubling up to 5 minutes:
 * terminated with reason Error first, then waiting CrashLoopBackOff, which
 * kubectl prints Init:Error and Init:CrashLoopBackOff
 * (pkg/printers/internalversion/printers.go, printPod).  The end of its log
 * is the terminated state's message under terminationMessagePolicy
 * FallbackToLogsOnError only (pkg/kubelet/kuberuntime/
 * kuberuntime_container.go, getTerminationMessage).  Of the init
 * containers, the simulator runs the plugin installs for real
 * (sim_es_plugin_installs) and the chowns (kubelet_run_init_chowns); the
 * others succeed.
 */
static json_t *init_container_status(const json_t *c, json_t *state, json_t *last, int64_t restarts)
{
	const char *image = json_str(c, "image") ? json_str(c, "image") : "";

	return json_pack("{s:s, s:s, s:s, s:b, s:I, s:b, s:o, s:o}", "name",
			 json_str(c, "name") ? json_str(c, "name") : "", "image", image, "imageID",
			 image, "ready", 0, "restartCount", (json_int_t)restarts, "started",
			 json_is_object(json_object_get(state, "running")), "state", state,
			 "lastState", last ? last : json_object());
}

static json_t *init_status_of(const json_t *pod, const char *name)
{
	size_t i;
	json_t *s;

	json_array_foreach (
		json_object_get(json_object_get(pod, "status"), "initContainerStatuses"), i, s) {
		if (same(json_str(s, "name"), name))
			return s;
	}
	return NULL;
}

/* The init container name runs (state RUNNING) or failed (FAILED, with what
 * it printed and its exit code): the pod's status says so. */
static void kubelet_init_status(struct store_obj *pod, const char *host_ip, const char *ip,
				enum sim_init state, const char *name, const char *message,
				int exit_code, int64_t now)
{
	const json_t *old = init_status_of(pod->body, name);
	json_t *old_state = json_object_get(old, "state");
	int64_t restarts = json_integer_value(json_object_get(old, "restartCount"));
	json_t *body, *st, *list, *c;
	char ts[32];
	size_t i;
	bool before = true;

	if (state == SIM_INIT_RUNNING && json_object_get(old_state, "running"))
		return;
	/* Its restart after the back-off: it ran before (a status written
	 * while its image was pulled is no run). */
	if (state == SIM_INIT_RUNNING &&
	    (json_object_get(old_state, "terminated") ||
	     json_object_get(json_object_get(old, "lastState"), "terminated")))
		restarts++;
	now_ts(ts, sizeof(ts));
	body = json_deep_copy(pod->body);
	st = child(body, "status");
	if (!json_str(st, "podIP")) {
		json_object_set_new(st, "podIP", json_string(ip));
		json_object_set_new(st, "podIPs", json_pack("[{s:s}]", "ip", ip));
		json_object_set_new(st, "hostIP", json_string(host_ip ? host_ip : ""));
		json_object_set_new(st, "hostIPs",
				    json_pack("[{s:s}]", "ip", host_ip ? host_ip : ""));
		json_object_set_new(st, "startTime", json_string(ts));
	}
	json_object_set_new(st, "phase", json_string("Pending"));
	char *incomplete = xasprintf("containers with incomplete status: [%s]", name);
	json_t *init = condition("Initialized", false, ts);
	json_object_set_new(init, "reason", json_string("ContainersNotInitialized"));
	json_object_set_new(init, "message", json_string(incomplete));
	free(incomplete);
	json_object_set_new(st, "conditions",
			    json_pack("[o,o,o,o]", init, condition("Ready", false, ts),
				      condition("ContainersReady", false, ts),
				      condition("PodScheduled", true, ts)));
	list = json_array();
	json_array_foreach (json_object_get(json_object_get(pod->body, "spec"), "initContainers"),
			    i, c) {
		bool me = same(json_str(c, "name"), name);
		json_t *s;

		if (me) {
			json_t *last = json_object_get(old, "lastState");
			json_t *now_state;

			if (state == SIM_INIT_RUNNING) {
				now_state = json_pack("{s:{s:s}}", "running", "startedAt", ts);
				if (json_object_get(old_state, "terminated"))
					last = json_pack("{s:O}", "terminated",
							 json_object_get(old_state, "terminated"));
				else
					json_incref(last);
			} else {
				json_t *t = json_pack("{s:i, s:s, s:s, s:s}", "exitCode", exit_code,
						      "reason", "Error", "startedAt", ts,
						      "finishedAt", ts);

				if (same(json_str(c, "terminationMessagePolicy"),
					 "FallbackToLogsOnError") &&
				    message)
					json_object_set_new(t, "message", json_string(message));
				now_state = json_pack("{s:o}", "terminated", t);
				json_incref(last);
			}
			s = init_container_status(c, now_state, last, restarts);
			before = false;
		} else if (before) {
			s = init_container_status(
				c,
				json_pack("{s:{s:i, s:s, s:s, s:s}}", "terminated", "exitCode", 0,
					  "reason", "Completed", "startedAt", ts, "finishedAt", ts),
				NULL, 0);
		} else {
			s = init_container_status(
				c, json_pack("{s:{s:s}}", "waiting", "reason", "PodInitializing"),
				NULL, 0);
		}
		json_array_append_new(list, s);
	}
	json_object_set_new(st, "initContainerStatuses", list);
	list = json_array();
	json_array_foreach (json_object_get(json_object_get(pod->body, "spec"), "containers"), i,
			    c) {
		const char *image = json_str(c, "image") ? json_str(c, "image") : "";

		json_array_append_new(
			list,
			json_pack("{s:s, s:s, s:s, s:b, s:i, s:b, s:{s:{s:s}}, s:{}}", "name",
				  json_str(c, "name") ? json_str(c, "name") : "", "image", image,
				  "imageID", "", "ready", 0, "restartCount", 0, "started", 0,
				  "state", "waiting", "reason", "PodInitializing", "lastState"));
	}
	json_object_set_new(st, "containerStatuses", list);
	if (state == SIM_INIT_FAILED) {
		int64_t backoff_s = restarts >= 5 ? 300 : 10LL << restarts;

		pod->ready_at_ms = now + backoff_s * 1000;
		log_info("pod %s/%s: init container %s exited with %d: %s", pod->ns, pod->name,
			 name, exit_code, message ? message : "");
	} else {
		pod->ready_at_ms = 0;
	}
	store_update(pod, body);
}

/* During an init container's back-off: Error becomes CrashLoopBackOff. */
static void kubelet_init_backoff(struct store_obj *pod)
{
	json_t *body = NULL;
	size_t i;
	json_t *s;

	json_array_foreach (
		json_object_get(json_object_get(pod->body, "status"), "initContainerStatuses"), i,
		s) {
		json_t *t = json_object_get(json_object_get(s, "state"), "terminated");

		if (!t || json_integer_value(json_object_get(t, "exitCode")) == 0)
			continue;
		body = json_deep_copy(pod->body);
		json_t *mine = json_array_get(
			json_object_get(json_object_get(body, "status"), "initContainerStatuses"),
			i);
		int64_t restarts = json_integer_value(json_object_get(s, "restartCount"));
		int64_t backoff_s = restarts >= 5 ? 300 : 10LL << restarts;
		char *msg = xasprintf("back-off %llds restarting failed container=%s pod=%s_%s(%s)",
				      (long long)backoff_s, json_str(s, "name"), pod->name, pod->ns,
				      json_str(meta(pod->body), "uid"));
		char *why = xasprintf("Back-off restarting failed container %s in pod %s_%s(%s)",
				      json_str(s, "name"), pod->name, pod->ns,
				      json_str(meta(pod->body), "uid"));

		json_object_set_new(mine, "lastState", json_pack("{s:O}", "terminated", t));
		json_object_set_new(mine, "state",
				    json_pack("{s:{s:s, s:s}}", "waiting", "reason",
					      "CrashLoopBackOff", "message", msg));
		record_warning(pod->ns, "v1", "Pod", pod->name, json_str(meta(pod->body), "uid"),
			       "kubelet", "BackOff", why);
		free(msg);
		free(why);
		break;
	}
	if (body)
		store_update(pod, body);
}

bool controllers_pod_running(const struct store_obj *pod)
{
	const char *phase = json_str(json_object_get(pod->body, "status"), "phase");

	return pod->running_ms && !terminating(pod->body) && phase && !strcmp(phase, "Running");
}

/* Elasticsearch's HTTP port: http.port, 9200 by default. */
#define ES_HTTP_PORT 9200

bool controllers_port_accepts(const struct store_obj *pod, int64_t port)
{
	const char *role = json_str(json_object_get(meta(pod->body), "labels"), "esaas.io/role");
	int major;

	if (!controllers_pod_running(pod))
		return false;
	/* Kibana answers once its Elasticsearch does. */
	if (role && !strcmp(role, "kibana"))
		return sim_es_available(pod->ns);
	/* Elasticsearch binds its HTTP port once it has joined a cluster or
	 * given up waiting (sim_es_probe_status). */
	if (port == ES_HTTP_PORT && es_container(pod->body, &major))
		return sim_es_probe_status(pod, NULL) != 0;
	return true;
}

/* A probe's port: a number, or the name of one of the pod's container
 * ports (pkg/kubelet/prober/prober.go, probe: FindPortByName). */
static int64_t probe_port(const json_t *pod, const json_t *port)
{
	size_t i, j;
	json_t *c, *p;

	if (json_is_integer(port))
		return json_integer_value(port);
	json_array_foreach (json_object_get(json_object_get(pod, "spec"), "containers"), i, c) {
		json_array_foreach (json_object_get(c, "ports"), j, p) {
			if (json_is_string(port) &&
			    same(json_str(p, "name"), json_string_value(port)))
				return json_integer_value(json_object_get(p, "containerPort"));
		}
	}
	return -1;
}

/* One probe: a tcpSocket probe passes when the port accepts the
 * connection (pkg/probe/tcp/tcp.go), an httpGet one on a status from 200
 * to 399 (pkg/probe/http/http.go); the simulated ports answer at once,
 * so timeoutSeconds never runs out.  exec and grpc probes are not
 * modelled: they pass. */
static bool probe_passes(const struct store_obj *pod, const json_t *probe)
{
	const json_t *tcp = json_object_get(probe, "tcpSocket");
	const json_t *http = json_object_get(probe, "httpGet");
	int major;

	if (tcp)
		return controllers_port_accepts(
			pod, probe_port(pod->body, json_object_get(tcp, "port")));
	if (http) {
		int64_t port = probe_port(pod->body, json_object_get(http, "port"));
		const char *path = json_str(http, "path");
		int status;

		if (!controllers_port_accepts(pod, port))
			return false;
		if (port != ES_HTTP_PORT || !es_container(pod->body, &major))
			return true;
		status = sim_es_probe_status(pod, path ? path : "/");
		return status >= 200 && status < 400;
	}
	return true;
}

static int probe_field(const json_t *probe, const char *key, int dflt)
{
	const json_t *v = json_object_get(probe, key);

	return json_is_integer(v) && json_integer_value(v) > 0 ? (int)json_integer_value(v) : dflt;
}

static void set_ready(struct store_obj *pod, bool ready)
{
	json_t *body = json_deep_copy(pod->body);
	json_t *st = child(body, "status");
	char ts[32];
	size_t i;
	json_t *c;

	now_ts(ts, sizeof(ts));
	json_array_foreach (json_object_get(st, "conditions"), i, c) {
		const char *type = json_str(c, "type");
		if (!strcmp(type, "Ready") || !strcmp(type, "ContainersReady")) {
			json_object_set_new(c, "status", json_string(ready ? "True" : "False"));
			json_object_set_new(c, "lastTransitionTime", json_string(ts));
		}
	}
	json_array_foreach (json_object_get(st, "containerStatuses"), i, c)
		json_object_set_new(c, "ready", json_boolean(ready));
	store_update(pod, body);
}

/*
 * The readiness probe worker of a running pod (pkg/kubelet/prober/worker.go):
 * it probes at once and then every periodSeconds (10 by default); a probe
 * before initialDelaySeconds since the container started gives no result;
 * the result flips after successThreshold successes (1) or
 * failureThreshold failures (3) in a row, and starts as a failure.  One
 * worker per pod: every container with a probe is probed in the same
 * round, on the first one's timing.  A pod without a probe is Ready while
 * its containers run (prober_manager.go, UpdatePodStatus).
 */
static void kubelet_probe(struct store_obj *pod, int64_t now)
{
	const json_t *probe = NULL;
	bool ok = true, any = false;
	size_t i;
	json_t *c;

	if (now < pod->next_probe_ms)
		return;
	json_array_foreach (json_object_get(json_object_get(pod->body, "spec"), "containers"), i,
			    c) {
		const json_t *p = json_object_get(c, "readinessProbe");

		if (!json_is_object(p))
			continue;
		if (!probe)
			probe = p;
		any = true;
		ok = ok && probe_passes(pod, p);
	}
	if (!any) {
		pod->next_probe_ms = INT64_MAX;
		if (!controllers_pod_ready(pod->body))
			set_ready(pod, true);
		return;
	}
	pod->next_probe_ms += (int64_t)probe_field(probe, "periodSeconds", 10) * 1000;
	if (now - pod->running_ms < (int64_t)probe_field(probe, "initialDelaySeconds", 0) * 1000)
		return;
	if (ok == pod->probe_ok) {
		pod->probe_run++;
	} else {
		pod->probe_run = 1;
		pod->probe_ok = ok;
	}
	bool ready = controllers_pod_ready(pod->body);
	if (ok && !ready && pod->probe_run >= probe_field(probe, "successThreshold", 1))
		set_ready(pod, true);
	else if (!ok && ready && pod->probe_run >= probe_field(probe, "failureThreshold", 3))
		set_ready(pod, false);
}

/*
 * The status of a pod the kubelet has not started yet: Pending, its
 * containers waiting (PodInitializing while it has init containers to
 * run, else ContainerCreating: pkg/kubelet/kubelet_pods.go,
 * convertToAPIContainerStatuses), its init containers Completed once
 * done; the container named failed waits with reason and message
 * instead.  No pod IP before its sandbox is made.
 */
static void kubelet_waiting_status(struct store_obj *pod, const char *host_ip, const char *ip,
				   const char *failed, const char *reason, const char *message)
{
	json_t *body = json_deep_copy(pod->body);
	json_t *st = child(body, "status");
	json_t *spec = json_object_get(pod->body, "spec");
	bool has_init = json_array_size(json_object_get(spec, "initContainers")) > 0;
	bool init_done = pod->initialized || !has_init;
	char ts[32];
	size_t i;
	json_t *c;

	now_ts(ts, sizeof(ts));
	json_object_set_new(st, "phase", json_string("Pending"));
	json_object_set_new(st, "hostIP", json_string(host_ip ? host_ip : ""));
	json_object_set_new(st, "hostIPs", json_pack("[{s:s}]", "ip", host_ip ? host_ip : ""));
	if (ip) {
		json_object_set_new(st, "podIP", json_string(ip));
		json_object_set_new(st, "podIPs", json_pack("[{s:s}]", "ip", ip));
	}
	if (!json_str(st, "startTime"))
		json_object_set_new(st, "startTime", json_string(ts));
	json_t *initialized = condition("Initialized", init_done, ts);
	if (!init_done) {
		char *names = xstrdup("");
		json_array_foreach (json_object_get(spec, "initContainers"), i, c) {
			char *more = xasprintf("%s%s%s", names, i ? " " : "", json_str(c, "name"));
			free(names);
			names = more;
		}
		char *msg = xasprintf("containers with incomplete status: [%s]", names);
		json_object_set_new(initialized, "reason", json_string("ContainersNotInitialized"));
		json_object_set_new(initialized, "message", json_string(msg));
		free(msg);
		free(names);
	}
	json_object_set_new(st, "conditions",
			    json_pack("[o,o,o,o]", initialized, condition("Ready", false, ts),
				      condition("ContainersReady", false, ts),
				      condition("PodScheduled", true, ts)));
	json_t *inits = json_array();
	json_array_foreach (json_object_get(spec, "initContainers"), i, c) {
		const char *name = json_str(c, "name") ? json_str(c, "name") : "";
		/* What an init container went through stays: its restarts. */
		const json_t *was = init_status_of(pod->body, name);
		json_t *last = json_object_get(was, "lastState");
		json_t *state =
			pod->initialized ? json_pack("{s:{s:i, s:s}}", "terminated", "exitCode", 0,
						     "reason", "Completed")
			: failed && !strcmp(failed, name)
				? json_pack("{s:{s:s, s:s}}", "waiting", "reason", reason,
					    "message", message ? message : "")
				: json_pack("{s:{s:s}}", "waiting", "reason", "PodInitializing");
		json_array_append_new(
			inits, init_container_status(
				       c, state, last ? json_deep_copy(last) : NULL,
				       json_integer_value(json_object_get(was, "restartCount"))));
	}
	if (has_init)
		json_object_set_new(st, "initContainerStatuses", inits);
	else
		json_decref(inits);
	json_t *list = json_array();
	json_array_foreach (json_object_get(spec, "containers"), i, c) {
		const char *name = json_str(c, "name") ? json_str(c, "name") : "";
		const char *image = json_str(c, "image") ? json_str(c, "image") : "";
		json_t *waiting = json_pack("{s:s}", "reason",
					    failed && !strcmp(failed, name) ? reason
					    : init_done			    ? "ContainerCreating"
									    : "PodInitializing");
		if (failed && !strcmp(failed, name) && message)
			json_object_set_new(waiting, "message", json_string(message));
		json_array_append_new(list,
				      json_pack("{s:s, s:s, s:s, s:b, s:i, s:b, s:{s:o}, s:{}}",
						"name", name, "image", image, "imageID", "",
						"ready", 0, "restartCount", 0, "started", 0,
						"state", "waiting", waiting, "lastState"));
	}
	json_object_set_new(st, "containerStatuses", list);
	store_update(pod, body);
}

/*
 * The volume manager mounts a pod's volumes before any of its containers
 * runs (pkg/kubelet/kubelet.go, SyncPod: WaitForAttachAndMount).  A
 * Secret or ConfigMap that is not there fails the mount with a FailedMount
 * event, and the reconciler tries again after a back-off from 500 ms,
 * doubling up to 2 min 2 s
 * (pkg/volume/util/nestedpendingoperations/nestedpendingoperations.go,
 * pkg/util/goroutinemap/exponentialbackoff): the pod starts that long at
 * most after the Secret appears.  Mounted once, a volume keeps its
 * content when its Secret goes.
 */
static bool kubelet_mount_volumes(struct store_obj *pod, const char *host_ip, int64_t now)
{
	if (pod->mounted)
		return true;
	if (now < pod->mount_retry_ms)
		return false;
	char *volume = NULL;
	char *why = configdata_missing_volume(pod->body, pod->ns, &volume);
	if (!why) {
		pod->mounted = true;
		pod->mount_retry_ms = pod->mount_backoff_ms = 0;
		return true;
	}
	char *msg = xasprintf("MountVolume.SetUp failed for volume \"%s\" : %s", volume, why);
	record_warning(pod->ns, "v1", "Pod", pod->name, json_str(meta(pod->body), "uid"), "kubelet",
		       "FailedMount", msg);
	if (!same(json_str(json_object_get(pod->body, "status"), "hostIP"), host_ip))
		kubelet_waiting_status(pod, host_ip, NULL, NULL, NULL, NULL);
	pod->mount_backoff_ms = pod->mount_backoff_ms == 0	     ? 500
				: pod->mount_backoff_ms * 2 > 122000 ? 122000
								     : pod->mount_backoff_ms * 2;
	pod->mount_retry_ms = now + pod->mount_backoff_ms;
	free(msg);
	free(why);
	free(volume);
	return false;
}

/* A duration as Go's time.Duration prints it, to the millisecond. */
static void go_duration(int64_t ms, char *buf, size_t len)
{
	char secs[32];
	int64_t s = ms / 1000 % 60, frac = ms % 1000;
	size_t n;

	if (ms == 0) {
		snprintf(buf, len, "0s");
		return;
	}
	if (ms < 1000) {
		snprintf(buf, len, "%lldms", (long long)ms);
		return;
	}
	snprintf(secs, sizeof(secs), "%lld.%03lld", (long long)s, (long long)frac);
	n = strlen(secs);
	while (secs[n - 1] == '0')
		secs[--n] = '\0';
	if (secs[n - 1] == '.')
		secs[--n] = '\0';
	if (ms >= 60000)
		snprintf(buf, len, "%lldm%ss", (long long)(ms / 60000), secs);
	else
		snprintf(buf, len, "%ss", secs);
}

/* After a failed sync the pod worker tries again in 10 s, give or take
 * half of it (pkg/kubelet/pod_workers.go: backOffPeriod with
 * workerBackOffPeriodJitterFactor 0.5). */
#define PLEG_RELIST_MS 1000 /* pkg/kubelet/kubelet.go, genericPlegRelistPeriod */

static int64_t pod_worker_backoff_ms(void)
{
	return 10000 + (int64_t)simconf_rand_below(5000);
}

/*
 * The image of each container of list ("initContainers", "containers"),
 * in order, before the container is made, as the image manager ensures it
 * (pkg/kubelet/images/image_manager.go, EnsureImageExists): already on the
 * node and not pulled Always, it is used ("already present on machine");
 * else it is pulled (Pulling, then Pulled "Successfully pulled image ...
 * in D (D including waiting)") and the node keeps it (sim/images.h).  A
 * pull the registry refuses is the Failed event with containerd's error,
 * the container waiting in ErrImagePull, and the back-off: at the pod
 * worker's next syncs the container waits in ImagePullBackOff ("Back-off
 * pulling image") until the back-off (10 s doubling to 5 min) has passed,
 * then the image is pulled again.  pullPolicy Never without the image is
 * ErrImageNeverPull; a reference that does not parse InvalidImageName; both
 * are tried again at every sync, as the kubelet does.  Each failure is
 * also the event Failed "Error: REASON"
 * (pkg/kubelet/kuberuntime/kuberuntime_container.go, startContainer).
 * True once every image of list is there; the pod's status says what it
 * waits for otherwise.
 */
static bool kubelet_pull_images(struct store_obj *pod, const char *node, const char *host_ip,
				const char *ip, const char *list, int64_t now)
{
	json_t *spec = json_object_get(pod->body, "spec");
	int first = strcmp(list, "containers") == 0
			    ? (int)json_array_size(json_object_get(spec, "initContainers"))
			    : 0;

	if (now < pod->pull_sync_ms)
		return false;
	/* Read again at each turn: a status written frees the body. */
	while (pod->pulled - first <
	       (int)json_array_size(json_object_get(json_object_get(pod->body, "spec"), list))) {
		json_t *c =
			json_array_get(json_object_get(json_object_get(pod->body, "spec"), list),
				       (size_t)(pod->pulled - first));
		const char *uid = json_str(meta(pod->body), "uid");
		const char *image = json_str(c, "image") ? json_str(c, "image") : "";
		const char *name = json_str(c, "name") ? json_str(c, "name") : "";
		const char *policy = json_str(c, "imagePullPolicy");
		const char *perr = NULL;
		char *ref = images_normalize(image, &perr);
		char *msg = NULL, *why = NULL, *reason = NULL;

		if (!policy)
			policy = images_default_pull_policy(image);
		if (pod->pull_done_ms) {
			if (now < pod->pull_done_ms) {
				free(ref);
				return false;
			}
			char took[32], waited[32];
			go_duration(pod->pull_took_ms, took, sizeof(took));
			go_duration(now - pod->pull_began_ms, waited, sizeof(waited));
			msg = xasprintf(
				"Successfully pulled image \"%s\" in %s (%s including waiting)",
				image, took, waited);
			record_event("Normal", pod->ns, "v1", "Pod", pod->name, uid, "kubelet",
				     "Pulled", msg);
			pod->pull_done_ms = pod->pull_began_ms = 0;
			pod->pulled++;
		} else if (!ref) {
			why = xasprintf("Failed to apply default image tag \"%s\": couldn't parse "
					"image reference \"%s\": %s",
					image, image, perr);
			record_warning(pod->ns, "v1", "Pod", pod->name, uid, "kubelet",
				       "InspectFailed", why);
			reason = "InvalidImageName";
		} else if (images_present(node, ref, now) && strcmp(policy, "Always") != 0) {
			msg = xasprintf("Container image \"%s\" already present on machine", image);
			record_event("Normal", pod->ns, "v1", "Pod", pod->name, uid, "kubelet",
				     "Pulled", msg);
			pod->pulled++;
		} else if (!strcmp(policy, "Never")) {
			why = xasprintf("Container image \"%s\" is not present with pull policy of "
					"Never",
					image);
			record_warning(pod->ns, "v1", "Pod", pod->name, uid, "kubelet",
				       "ErrImageNeverPull", why);
			reason = "ErrImageNeverPull";
		} else if (images_in_backoff(uid, image, now)) {
			why = xasprintf("Back-off pulling image \"%s\"", image);
			record_event("Normal", pod->ns, "v1", "Pod", pod->name, uid, "kubelet",
				     "BackOff", why);
			reason = "ImagePullBackOff";
		} else {
			char *err = NULL;
			msg = xasprintf("Pulling image \"%s\"", image);
			record_event("Normal", pod->ns, "v1", "Pod", pod->name, uid, "kubelet",
				     "Pulling", msg);
			if (!images_registry_has(ref, &err)) {
				char *failed =
					xasprintf("Failed to pull image \"%s\": %s", image, err);
				record_warning(pod->ns, "v1", "Pod", pod->name, uid, "kubelet",
					       "Failed", failed);
				images_backoff_next(uid, image, now);
				free(failed);
				why = err;
				reason = "ErrImagePull";
			} else {
				/* Pulled present images (Always) only check the
				 * registry: done at once. */
				pod->pull_began_ms = now;
				pod->pull_done_ms =
					images_present(node, ref, now)
						? now
						: images_pull(node, ref, now, &pod->pull_took_ms);
				if (pod->pull_done_ms == now)
					pod->pull_took_ms = 0;
				/* Seen done at the next tick: the caller's
				 * pointers into the body stay good. */
				bool shown = json_object_get(json_object_get(pod->body, "status"),
							     "containerStatuses") != NULL;
				free(msg);
				free(ref);
				if (!shown)
					kubelet_waiting_status(pod, host_ip, ip, NULL, NULL, NULL);
				return false;
			}
		}
		free(msg);
		free(ref);
		if (reason) {
			char *error = xasprintf("Error: %s", reason);
			record_warning(pod->ns, "v1", "Pod", pod->name, uid, "kubelet", "Failed",
				       error);
			kubelet_waiting_status(pod, host_ip, ip, name, reason, why);
			/* The first failure comes as the pod's sandbox is made,
			 * which the PLEG's next relist (every second) sees and
			 * syncs the pod for: the back-off then shows. */
			pod->pull_sync_ms =
				now +
				(pod->pull_sync_ms == 0 ? PLEG_RELIST_MS : pod_worker_backoff_ms());
			free(error);
			free(why);
			return false;
		}
	}
	return true;
}

/*
 * Before it creates a container, the kubelet makes its environment: a
 * Secret, ConfigMap or key it names that is not there (and not optional)
 * leaves the container waiting in CreateContainerConfigError, with a
 * Failed event "Error: ..." (pkg/kubelet/kuberuntime/
 * kuberuntime_container.go, startContainer), and the pod worker tries
 * again after its back-off of 10 s (pkg/kubelet/pod_workers.go).  Init
 * containers' references are checked with theirs, before the first runs.
 */
static bool kubelet_make_containers(struct store_obj *pod, const char *host_ip, const char *ip,
				    const char *list, int64_t now)
{
	if (now < pod->start_retry_ms)
		return false;
	char *container = NULL;
	char *why = configdata_missing_env(pod->body, pod->ns, list, &container);
	if (!why)
		return true;
	char *msg = xasprintf("Error: %s", why);
	record_warning(pod->ns, "v1", "Pod", pod->name, json_str(meta(pod->body), "uid"), "kubelet",
		       "Failed", msg);
	kubelet_waiting_status(pod, host_ip, ip, container, "CreateContainerConfigError", why);
	pod->start_retry_ms = now + 10000;
	free(msg);
	free(why);
	free(container);
	return false;
}

/*
 * A deleted pod whose containers have exited: the kubelet writes its
 * terminal phase (Failed when a container exited non-zero, as a JVM
 * ended by SIGTERM does with 143; Succeeded when all exited 0), its
 * containers terminated and not Ready, then deletes it for good
 * (pkg/kubelet/status/status_manager.go, since 1.27: "the kubelet
 * transitions deleted pods to a terminal phase before the deletion from
 * the API server", pod-lifecycle.md).
 */
static void kubelet_pod_ended(struct store_obj *pod)
{
	json_t *body = json_deep_copy(pod->body);
	json_t *st = child(body, "status");
	const char *phase = json_str(st, "phase");
	char ts[32];
	size_t i;
	json_t *c;
	bool failed = false;

	now_ts(ts, sizeof(ts));
	if (phase && !strcmp(phase, "Running")) {
		int major;
		const json_t *es_c = es_container(pod->body, &major);
		json_array_foreach (json_object_get(st, "containerStatuses"), i, c) {
			bool es = es_c && same(json_str(c, "name"), json_str(es_c, "name"));
			int code = es ? 143 : 0;
			failed = failed || code != 0;
			json_object_set_new(c, "ready", json_false());
			json_object_set_new(c, "started", json_false());
			json_object_set_new(c, "state",
					    json_pack("{s:{s:i, s:s, s:s, s:s}}", "terminated",
						      "exitCode", code, "reason",
						      code ? "Error" : "Completed", "startedAt", ts,
						      "finishedAt", ts));
		}
		json_array_foreach (json_object_get(st, "conditions"), i, c) {
			const char *type = json_str(c, "type");
			if (!strcmp(type, "Ready") || !strcmp(type, "ContainersReady")) {
				json_object_set_new(c, "status", json_string("False"));
				json_object_set_new(
					c, "reason",
					json_string(failed ? "PodFailed" : "PodCompleted"));
				json_object_set_new(c, "lastTransitionTime", json_string(ts));
			}
		}
		json_object_set_new(st, "phase", json_string(failed ? "Failed" : "Succeeded"));
		store_update(pod, body);
	} else {
		json_decref(body);
	}
	store_delete(pod);
}

static void kubelet(struct store_obj *pod, struct store_obj **nodes, size_t nnodes)
{
	const char *node = json_str(json_object_get(pod->body, "spec"), "nodeName");
	int64_t now = now_mono_ms();
	/* No kubelet runs a pod bound to a node that is not there (nodeName
	 * set by hand); the pod garbage collector deletes it. */
	if (!node || !node_by_name(nodes, nnodes, node))
		return;
	if (terminating(pod->body)) {
		if (pod->gone_at_ms && now >= pod->gone_at_ms)
			kubelet_pod_ended(pod);
		else if (pod->running_ms)
			kubelet_probe(pod, now);
		return;
	}
	json_t *status = json_object_get(pod->body, "status");
	const char *phase = json_str(status, "phase");
	if (phase && !strcmp(phase, "Pending")) {
		struct store_obj *n = node_by_name(nodes, nnodes, node);
		int idx = 0;
		for (size_t i = 0; i < nnodes; i++) {
			if (nodes[i] == n)
				idx = (int)i;
		}
		char ts[32], ip[32];
		now_ts(ts, sizeof(ts));
		if (json_str(status, "podIP")) {
			snprintf(ip, sizeof(ip), "%s", json_str(status, "podIP"));
		} else {
			pod_ip_seq++;
			snprintf(ip, sizeof(ip), "10.244.%d.%u", idx, pod_ip_seq % 250 + 2);
		}
		const char *host_ip = NULL;
		size_t i;
		json_t *a;
		json_array_foreach (
			json_object_get(json_object_get(n ? n->body : NULL, "status"), "addresses"),
			i, a) {
			if (!strcmp(json_str(a, "type"), "InternalIP"))
				host_ip = json_str(a, "address");
		}
		/* An init container in its back-off. */
		if (pod->ready_at_ms && now < pod->ready_at_ms) {
			kubelet_init_backoff(pod);
			return;
		}
		if (!kubelet_mount_volumes(pod, host_ip, now))
			return;
		kubelet_make_host_dirs(pod->body, node);
		if (!pod->initialized) {
			if (!kubelet_pull_images(pod, node, host_ip, ip, "initContainers", now) ||
			    !kubelet_make_containers(pod, host_ip, ip, "initContainers", now))
				return;
			char *init_name = NULL, *init_msg = NULL;
			int init_code = 0;
			enum sim_init init = sim_es_plugin_installs(pod->body, node, &init_name,
								    &init_msg, &init_code);
			if (init != SIM_INIT_DONE) {
				kubelet_init_status(pod, host_ip, ip, init,
						    init_name ? init_name : "", init_msg, init_code,
						    now);
				free(init_name);
				free(init_msg);
				return;
			}
			free(init_name);
			free(init_msg);
			kubelet_run_init_chowns(pod->body, node);
			pod->initialized = true;
		}
		if (!kubelet_pull_images(pod, node, host_ip, ip, "containers", now) ||
		    !kubelet_make_containers(pod, host_ip, ip, "containers", now))
			return;
		/* The runtime creates and starts the containers: the pod stays
		 * Pending, its containers waiting, until they run (the phase
		 * follows the containers' states: pkg/kubelet/kubelet_pods.go,
		 * getPhase). */
		if (!pod->start_at_ms) {
			pod->start_at_ms = now + simconf_get()->pod_ready_delay_ms;
			kubelet_waiting_status(pod, host_ip, ip, NULL, NULL, NULL);
			return;
		}
		if (now < pod->start_at_ms)
			return;
		json_t *body = json_deep_copy(pod->body);
		json_t *st = json_pack(
			"{s:s, s:[o,o,o,o], s:s, s:[{s:s}], s:s, s:[{s:s}], s:s, s:o, s:s}",
			"phase", "Running", "conditions", condition("Initialized", true, ts),
			condition("Ready", false, ts), condition("ContainersReady", false, ts),
			condition("PodScheduled", true, ts), "hostIP", host_ip ? host_ip : "",
			"hostIPs", "ip", host_ip ? host_ip : "", "podIP", ip, "podIPs", "ip", ip,
			"startTime", ts, "containerStatuses",
			container_statuses(pod->body, false, ts), "qosClass",
			json_str(status, "qosClass") ? json_str(status, "qosClass") : "BestEffort");
		json_t *inits = json_array();
		json_array_foreach (
			json_object_get(json_object_get(pod->body, "spec"), "initContainers"), i,
			a) {
			const json_t *was = init_status_of(pod->body, json_str(a, "name"));
			json_t *last = json_object_get(was, "lastState");

			json_array_append_new(
				inits,
				init_container_status(
					a,
					json_pack("{s:{s:i, s:s, s:s, s:s}}", "terminated",
						  "exitCode", 0, "reason", "Completed", "startedAt",
						  ts, "finishedAt", ts),
					last ? json_deep_copy(last) : NULL,
					json_integer_value(json_object_get(was, "restartCount"))));
		}
		if (json_array_size(inits) > 0)
			json_object_set_new(st, "initContainerStatuses", inits);
		else
			json_decref(inits);
		json_object_set_new(body, "status", st);
		pod->ready_at_ms = now;
		store_update(pod, body);
		/* The update freed the body phase and node pointed into. */
		phase = json_str(json_object_get(pod->body, "status"), "phase");
		node = json_str(json_object_get(pod->body, "spec"), "nodeName");
	}
	const char *restart = json_str(json_object_get(pod->body, "spec"), "restartPolicy");
	if (phase && !strcmp(phase, "Running") && pod->ready_at_ms && now >= pod->ready_at_ms &&
	    restart && strcmp(restart, "Always") != 0) {
		/* A one-shot pod (restartPolicy Never or OnFailure) runs its
		 * command and ends: Succeeded on exit 0; on another exit
		 * Failed under Never, and restarted after the back-off under
		 * OnFailure (pkg/kubelet/kuberuntime/kuberuntime_manager.go,
		 * computePodActions; pkg/kubelet/status/generate.go,
		 * getPhase: PodFailed, and the Ready condition's PodFailed). */
		char *why = NULL;
		int code = kubelet_run_removals(pod->body, node, &why);
		bool retry = code != 0 && !strcmp(restart, "OnFailure");
		json_t *body = json_deep_copy(pod->body);
		json_t *st = child(body, "status");
		char ts[32];
		now_ts(ts, sizeof(ts));
		if (why)
			log_info("pod %s/%s on %s: %s (exit %d)", pod->ns, pod->name, node, why,
				 code);
		free(why);
		if (!retry)
			json_object_set_new(st, "phase",
					    json_string(code ? "Failed" : "Succeeded"));
		size_t i;
		json_t *c;
		json_array_foreach (json_object_get(st, "conditions"), i, c) {
			const char *type = json_str(c, "type");
			if (!retry &&
			    (!strcmp(type, "Ready") || !strcmp(type, "ContainersReady"))) {
				json_object_set_new(c, "status", json_string("False"));
				json_object_set_new(
					c, "reason",
					json_string(code ? "PodFailed" : "PodCompleted"));
				json_object_set_new(c, "lastTransitionTime", json_string(ts));
			}
		}
		json_int_t restarts = 0;
		json_array_foreach (json_object_get(st, "containerStatuses"), i, c) {
			json_t *done =
				json_pack("{s:{s:i, s:s, s:s, s:s}}", "terminated", "exitCode",
					  code, "reason", code ? "Error" : "Completed", "startedAt",
					  ts, "finishedAt", ts);
			json_object_set_new(c, "ready", json_false());
			json_object_set_new(c, "started", json_false());
			if (retry) {
				restarts =
					json_integer_value(json_object_get(c, "restartCount")) + 1;
				json_object_set_new(c, "restartCount", json_integer(restarts));
				json_object_set_new(c, "lastState", done);
				json_object_set_new(c, "state",
						    json_pack("{s:{s:s}}", "waiting", "reason",
							      "CrashLoopBackOff"));
			} else {
				json_object_set_new(c, "state", done);
			}
		}
		/* The kubelet's back-off: 10 s doubling to 5 minutes. */
		pod->ready_at_ms =
			retry ? now + (restarts >= 6 ? 300000 : 10000LL << (restarts - 1)) : 0;
		store_update(pod, body);
		return;
	}
	if (phase && !strcmp(phase, "Running") && pod->ready_at_ms && now >= pod->ready_at_ms) {
		/* The containers start: Elasticsearch's may exit at once. */
		if (kubelet_es_crashes(pod, node, now))
			return;
		kubelet_es_restarted(pod);
		pod->ready_at_ms = 0;
		pod->running_ms = now;
		/* The probe worker probes at once, then every period
		 * (worker.go, run). */
		pod->next_probe_ms = now;
		pod->probe_run = 0;
		pod->probe_ok = false;
		pod->http_open = false;
		/* The update above freed the body phase pointed into. */
		phase = json_str(json_object_get(pod->body, "status"), "phase");
	}
	if (phase && !strcmp(phase, "Running") && pod->running_ms)
		kubelet_probe(pod, now);
}

/*
 * The endpoint controller's input: since when a pod serves (Ready, not
 * terminating, with an address) and until when.  The controller acts on
 * a pod's change after the pod informer's event and its own sync, and the
 * proxy sees the EndpointSlice after the API server's watch of it
 * (pkg/controller/endpointslice/endpointslice_controller.go, onPodUpdate,
 * syncService; reconciler.go): a pod that turns Ready, one that stops
 * being Ready and one that starts terminating are all seen ENDPOINTS_LAG_MS
 * later.
 */
#define ENDPOINTS_LAG_MS 1000

static void endpoints_track(struct store_obj *pod, int64_t now)
{
	const char *ip = json_str(json_object_get(pod->body, "status"), "podIP");
	bool serving = controllers_pod_ready(pod->body) && !terminating(pod->body) && ip && *ip;
	bool was = pod->serving_since_ms && !pod->serving_until_ms;

	if (serving && !was) {
		pod->serving_since_ms = now;
		pod->serving_until_ms = 0;
	} else if (!serving && was) {
		pod->serving_until_ms = now;
	}
}

bool controllers_pod_endpoint(const struct store_obj *pod)
{
	int64_t seen = now_mono_ms() - ENDPOINTS_LAG_MS;

	if (!pod->serving_since_ms || pod->serving_since_ms > seen)
		return false;
	return !pod->serving_until_ms || pod->serving_until_ms > seen;
}

/* --- nodes -------------------------------------------------------------------------- */

/* Node i, as its kubelet registers it: Ready, the hostname label, a rack. */
static char *create_node(int i)
{
	const struct simconf *conf = simconf_get();
	char *name = xasprintf("%s-%d", conf->hostname_prefix, i);
	char *cpu = xasprintf("%lldm", (long long)conf->node_cpu_milli);
	char *mem = xasprintf("%lldKi", (long long)(conf->node_memory / 1024));
	char *pods = xasprintf("%d", conf->node_pods);
	char *ip = xasprintf("172.18.%d.%d", (i + 2) / 250, (i + 2) % 250);
	char ts[32];
	now_ts(ts, sizeof(ts));
	json_t *labels =
		json_pack("{s:s, s:s, s:s, s:s, s:s}", "kubernetes.io/hostname", name,
			  "kubernetes.io/os", "linux", "kubernetes.io/arch", "amd64",
			  "beta.kubernetes.io/os", "linux", "beta.kubernetes.io/arch", "amd64");
	if (conf->nracks > 0)
		json_object_set_new(labels, conf->rack_label,
				    json_string(conf->racks[i % conf->nracks]));
	json_t *capacity = json_pack("{s:s, s:s, s:s}", "cpu", cpu, "memory", mem, "pods", pods);
	json_t *node = json_pack(
		"{s:{s:s, s:o}, s:{s:s}, s:{s:O, s:o, s:[{s:s, s:s}, {s:s, s:s}], s:[{s:s, "
		"s:s, s:s, s:s, s:s, s:s}], s:{s:s, s:s, s:s, s:s, s:s, s:s}}}",
		"metadata", "name", name, "labels", labels, "spec", "podCIDR", "10.244.0.0/24",
		"status", "capacity", capacity, "allocatable", json_deep_copy(capacity),
		"addresses", "type", "InternalIP", "address", ip, "type", "Hostname", "address",
		name, "conditions", "type", "Ready", "status", "True", "reason", "KubeletReady",
		"message", "kubelet is posting ready status", "lastHeartbeatTime", ts,
		"lastTransitionTime", ts, "nodeInfo", "kubeletVersion", "v1.29.0",
		"kubeProxyVersion", "v1.29.0", "operatingSystem", "linux", "architecture", "amd64",
		"containerRuntimeVersion", "containerd://1.7.11", "osImage",
		"Debian GNU/Linux 12 (bookworm)");
	json_decref(capacity);
	store_create(K("nodes"), "", node);
	json_decref(node);
	free(cpu);
	free(mem);
	free(pods);
	free(ip);
	return name;
}

static void create_nodes(void)
{
	for (int i = 0; i < simconf_get()->node_count; i++)
		free(create_node(i));
}

/*
 * A node joins after the start (POST /_sim/nodes): a new host whose kubelet
 * registers, as `kubectl get nodes` then shows it, Ready and schedulable
 * (https://kubernetes.io/docs/concepts/architecture/nodes/#self-registration-of-nodes).
 */
char *controllers_add_node(void)
{
	size_t n;
	struct store_obj **nodes = store_list(K("nodes"), NULL, &n);
	free(nodes);
	char *name = create_node((int)n);
	controllers_kick();
	return name;
}

/* The nodes an unschedulable fault cordoned: only those are uncordoned when
 * it ends, so that a cordon by hand (kubectl cordon, kubectl drain) stays. */
static json_t *fault_cordoned;

static void sync_node_faults(void)
{
	size_t n;
	struct store_obj **nodes = store_list(K("nodes"), NULL, &n);
	if (!fault_cordoned)
		fault_cordoned = json_object();
	for (size_t i = 0; i < n; i++) {
		bool want = faults_node_unschedulable(nodes[i]->name);
		bool ours = json_object_get(fault_cordoned, nodes[i]->name) != NULL;
		if (want == ours)
			continue;
		if (want)
			json_object_set_new(fault_cordoned, nodes[i]->name, json_true());
		else
			json_object_del(fault_cordoned, nodes[i]->name);
		json_t *body = json_deep_copy(nodes[i]->body);
		if (want) {
			json_object_set_new(child(body, "spec"), "unschedulable", json_true());
			json_object_set_new(child(body, "spec"), "taints",
					    json_pack("[{s:s, s:s}]", "key",
						      "node.kubernetes.io/unschedulable", "effect",
						      "NoSchedule"));
		} else {
			json_object_del(child(body, "spec"), "unschedulable");
			json_object_del(child(body, "spec"), "taints");
		}
		store_update(nodes[i], body);
	}
	free(nodes);
}

/* --- the tick ------------------------------------------------------------------------ */

/*
 * The namespace controller (pkg/controller/namespace/namespace_controller.go
 * and deletion/namespaced_resources_deleter.go) syncs a Terminating
 * namespace when the namespace changes (its own status writes included)
 * and when it said it would come back: with content left whose pods have
 * a grace, after estimate/2 + 1 seconds, the estimate being the longest
 * terminationGracePeriodSeconds of the pods not yet ended
 * (estimateGracefulTerminationForPods), or 15 s when only finalizers hold
 * content back (finalizerEstimateSeconds).  Each sync deletes the content,
 * counts what is left and writes the deleter's five conditions; with
 * nothing left it finalizes.
 */
#define NS_FINALIZER_ESTIMATE_S 15

/* name -> {"rv": the version last synced, "at": when to come back (mono ms)} */
static json_t *ns_queue;

static const char *const ns_condition_types[] = {
	"NamespaceDeletionDiscoveryFailure", "NamespaceDeletionGroupVersionParsingFailure",
	"NamespaceDeletionContentFailure", "NamespaceContentRemaining",
	"NamespaceFinalizersRemaining"};
static const char *const ns_ok_reasons[] = {"ResourcesDiscovered", "ParsedGroupVersions",
					    "ContentDeleted", "ContentRemoved",
					    "ContentHasNoFinalizers"};
static const char *const ns_ok_messages[] = {
	"All resources successfully discovered", "All legacy kube types successfully parsed",
	"All content successfully deleted, may be waiting on finalization",
	"All content successfully removed", "All content-preserving finalizers finished"};

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "a, b, c" of the strings, sorted; frees them. */
static char *joined_sorted(char **v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_cstr);
	size_t len = 1;
	for (size_t i = 0; i < n; i++)
		len += strlen(v[i]) + 2;
	char *out = xmalloc(len), *p = out;
	*p = '\0';
	for (size_t i = 0; i < n; i++) {
		p += snprintf(p, len - (size_t)(p - out), "%s%s", i ? ", " : "", v[i]);
		free(v[i]);
	}
	return out;
}

/* The conditions as updateConditions keeps them: each type once, in the
 * deleter's order when new; a changed status moves lastTransitionTime. */
static json_t *ns_conditions(const json_t *old, const char *remaining, const char *finalizers)
{
	json_t *conds = json_deep_copy(old);
	if (!json_is_array(conds)) {
		json_decref(conds);
		conds = json_array();
	}
	char ts[32];
	now_ts(ts, sizeof(ts));
	for (size_t t = 0; t < ARRAY_SIZE(ns_condition_types); t++) {
		const char *status = "False", *reason = ns_ok_reasons[t];
		char *message = xstrdup(ns_ok_messages[t]);
		if (t == 3 && remaining) {
			status = "True";
			reason = "SomeResourcesRemain";
			free(message);
			message = xasprintf("Some resources are remaining: %s", remaining);
		} else if (t == 4 && finalizers) {
			status = "True";
			reason = "SomeFinalizersRemain";
			free(message);
			message = xasprintf(
				"Some content in the namespace has finalizers remaining: %s",
				finalizers);
		}
		json_t *c = NULL;
		size_t i;
		json_t *oc;
		json_array_foreach (conds, i, oc) {
			if (same(json_str(oc, "type"), ns_condition_types[t]))
				c = oc;
		}
		if (!c) {
			json_array_append_new(conds,
					      json_pack("{s:s, s:s, s:s, s:s, s:s}", "type",
							ns_condition_types[t], "status", status,
							"lastTransitionTime", ts, "reason", reason,
							"message", message));
		} else {
			if (!same(json_str(c, "status"), status))
				json_object_set_new(c, "lastTransitionTime", json_string(ts));
			json_object_set_new(c, "status", json_string(status));
			json_object_set_new(c, "reason", json_string(reason));
			json_object_set_new(c, "message", json_string(message));
		}
		free(message);
	}
	return conds;
}

/* Delete what is in the namespace (deleteAllContent); the seconds to come
 * back after, 0 when nothing holds it back. */
static int64_t ns_delete_content(struct store_obj *ns)
{
	int64_t estimate = 0;
	size_t np;
	struct store_obj **pods = store_list(K("pods"), ns->name, &np);
	for (size_t i = 0; i < np; i++) {
		const char *phase = json_str(json_object_get(pods[i]->body, "status"), "phase");
		json_t *grace = json_object_get(json_object_get(pods[i]->body, "spec"),
						"terminationGracePeriodSeconds");
		if (!same(phase, "Succeeded") && !same(phase, "Failed") && json_is_integer(grace) &&
		    json_integer_value(grace) > estimate)
			estimate = json_integer_value(grace);
	}
	free(pods);

	char **remaining = NULL;
	size_t nremaining = 0;
	json_t *by_finalizer = json_object();
	for (size_t k = 0; store_kind_at(k); k++) {
		const struct store_kind *kind = store_kind_at(k);
		if (!kind->namespaced || kind->readonly)
			continue;
		bool is_pods = !strcmp(kind->plural, "pods");
		size_t m;
		struct store_obj **objs = store_list(kind, ns->name, &m);
		for (size_t j = 0; j < m; j++) {
			if (is_pods) {
				controllers_delete_pod(objs[j], -1, "namespace");
			} else if (json_array_size(json_object_get(meta(objs[j]->body),
								   "finalizers")) > 0) {
				/* Held by its finalizers, deleted once they go. */
				if (!terminating(objs[j]->body)) {
					json_t *body = json_deep_copy(objs[j]->body);
					char ts[32];
					now_ts(ts, sizeof(ts));
					json_object_set_new(child(body, "metadata"),
							    "deletionTimestamp", json_string(ts));
					json_object_set_new(child(body, "metadata"),
							    "deletionGracePeriodSeconds",
							    json_integer(0));
					store_update(objs[j], body);
				}
			} else {
				store_delete(objs[j]);
			}
		}
		free(objs);
		objs = store_list(kind, ns->name, &m);
		if (m > 0) {
			remaining = xrealloc(remaining, (nremaining + 1) * sizeof(*remaining));
			remaining[nremaining++] = xasprintf("%s.%s has %zu resource instances",
							    kind->plural, kind->group, m);
		}
		/* Finalizers are counted only where no grace is estimated. */
		bool held = false;
		for (size_t j = 0; j < m && !(is_pods && estimate > 0); j++) {
			size_t f;
			json_t *name;
			json_array_foreach (json_object_get(meta(objs[j]->body), "finalizers"), f,
					    name) {
				const char *fn = json_string_value(name);
				if (!fn)
					continue;
				json_object_set_new(by_finalizer, fn,
						    json_integer(json_integer_value(json_object_get(
									 by_finalizer, fn)) +
								 1));
				held = true;
			}
		}
		if (held && NS_FINALIZER_ESTIMATE_S > estimate)
			estimate = NS_FINALIZER_ESTIMATE_S;
		free(objs);
	}
	char **fins = xcalloc(json_object_size(by_finalizer) + 1, sizeof(*fins));
	size_t nfins = 0;
	const char *fn;
	json_t *count;
	json_object_foreach (by_finalizer, fn, count) {
		fins[nfins++] = xasprintf("%s in %lld resource instances", fn,
					  (long long)json_integer_value(count));
	}
	json_decref(by_finalizer);
	char *rem = nremaining ? joined_sorted(remaining, nremaining) : NULL;
	char *fin = nfins ? joined_sorted(fins, nfins) : NULL;
	free(remaining);
	free(fins);
	json_t *status = json_object_get(ns->body, "status");
	json_t *conds = ns_conditions(json_object_get(status, "conditions"), rem, fin);
	if (!json_equal(conds, json_object_get(status, "conditions"))) {
		json_t *st = json_deep_copy(status);
		if (!st)
			st = json_object();
		json_object_set_new(st, "conditions", conds);
		set_status(ns, st);
	} else {
		json_decref(conds);
	}
	free(rem);
	free(fin);
	/* Content left without a grace or a finalizer holding it is not
	 * waited for (deleteAllContentForGroupVersionResource). */
	return estimate;
}

static void terminate_namespaces(void)
{
	size_t n;
	if (!ns_queue)
		ns_queue = json_object();
	struct store_obj **nss = store_list(K("namespaces"), NULL, &n);
	for (size_t i = 0; i < n; i++) {
		struct store_obj *ns = nss[i];
		if (!terminating(ns->body))
			continue;
		const char *rv = json_str(meta(ns->body), "resourceVersion");
		json_t *q = json_object_get(ns_queue, ns->name);
		bool changed = !q || !same(json_str(q, "rv"), rv);
		bool due = q && json_integer_value(json_object_get(q, "at")) > 0 &&
			   now_mono_ms() >= json_integer_value(json_object_get(q, "at"));
		if (!changed && !due)
			continue;
		json_t *spec_fin = json_object_get(json_object_get(ns->body, "spec"), "finalizers");
		bool finalized = true;
		size_t f;
		json_t *name;
		json_array_foreach (spec_fin, f, name) {
			if (same(json_string_value(name), "kubernetes"))
				finalized = false;
		}
		/* The version this sync starts from: a write of its own is an
		 * update event, which brings the controller back at once. */
		char *synced = xstrdup(rv ? rv : "");
		int64_t at = 0;
		if (!finalized) {
			int64_t estimate = ns_delete_content(ns);
			if (estimate > 0) {
				/* AddAfter keeps the earlier of two times. */
				int64_t was = q && !due
						      ? json_integer_value(json_object_get(q, "at"))
						      : 0;
				at = now_mono_ms() + (estimate / 2 + 1) * 1000;
				if (was > 0 && was < at)
					at = was;
			}
		}
		json_object_set_new(ns_queue, ns->name,
				    json_pack("{s:s, s:I}", "rv", synced, "at", (json_int_t)at));
		free(synced);
		if (at > 0)
			continue;
		/* pkg/controller/namespace/deletion/namespaced_resources_deleter.go:
		 * with the content gone, Delete finalizes (takes "kubernetes" out
		 * of spec.finalizers), then deletes the namespace, which goes once
		 * metadata.finalizers is empty too.  The garbage collector takes
		 * foregroundDeletion or orphan off at once: nothing is owned by a
		 * namespace (pkg/controller/garbagecollector/garbagecollector.go,
		 * processDeletingDependentsItem).  A step per tick. */
		json_t *meta_fin = json_object_get(meta(ns->body), "finalizers");
		if (json_array_size(spec_fin) > 0 || json_array_size(meta_fin) > 0) {
			json_t *body = json_deep_copy(ns->body);
			if (json_array_size(spec_fin) > 0)
				json_object_set_new(child(body, "spec"), "finalizers",
						    json_array());
			else
				json_object_del(child(body, "metadata"), "finalizers");
			store_update(ns, body);
			continue;
		}
		log_info("namespace %s deleted", ns->name);
		json_object_del(ns_queue, ns->name);
		store_delete(ns);
	}
	free(nss);
}

/* --- the garbage collector ------------------------------------------------------- */

static bool has_finalizer(const json_t *o, const char *f)
{
	size_t i;
	json_t *v;
	json_array_foreach (json_object_get(meta(o), "finalizers"), i, v) {
		if (json_is_string(v) && !strcmp(json_string_value(v), f))
			return true;
	}
	return false;
}

static void drop_finalizer(struct store_obj *o, const char *f)
{
	json_t *body = json_deep_copy(o->body);
	json_t *fins = json_object_get(child(body, "metadata"), "finalizers");
	for (size_t i = json_array_size(fins); i-- > 0;) {
		const char *v = json_string_value(json_array_get(fins, i));
		if (v && !strcmp(v, f))
			json_array_remove(fins, i);
	}
	if (json_array_size(fins) == 0)
		json_object_del(child(body, "metadata"), "finalizers");
	store_update(o, body);
}

/* Every live object, sorted by uid: the collector's graph. */
struct gc_graph {
	struct store_obj **objs;
	size_t n;
};

static int cmp_uid(const void *a, const void *b)
{
	const char *ua = json_str(meta((*(struct store_obj *const *)a)->body), "uid");
	const char *ub = json_str(meta((*(struct store_obj *const *)b)->body), "uid");
	return strcmp(ua ? ua : "", ub ? ub : "");
}

/* The owner a reference names, or NULL when it is dangling: owners are
 * known by uid, so a reference whose uid no object has is dangling
 * whatever its name (garbagecollector.go, isDangling). */
static struct store_obj *owner_by_uid(const struct gc_graph *g, const char *uid)
{
	size_t lo = 0, hi = g->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *u = json_str(meta(g->objs[mid]->body), "uid");
		int c = strcmp(u ? u : "", uid);
		if (c == 0)
			return g->objs[mid]->gone ? NULL : g->objs[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static bool deleting_with(const json_t *o, const char *finalizer)
{
	return terminating(o) && has_finalizer(o, finalizer);
}

/* Delete a dependent as the collector does: Background unless its own
 * finalizers already ask otherwise; Foreground when an owner waits for it
 * and it has dependents of its own (attemptToDeleteItem). */
static void gc_delete(struct store_obj *o, bool foreground)
{
	if (!strcmp(o->kind->plural, "pods")) {
		controllers_delete_pod(o, -1, "garbage-collector");
		return;
	}
	if (terminating(o->body))
		return;
	if (!foreground) {
		log_debug("%s %s/%s deleted by the garbage collector", o->kind->singular, o->ns,
			  o->name);
		store_delete(o);
		return;
	}
	json_t *body = json_deep_copy(o->body);
	json_t *m = child(body, "metadata");
	char ts[32];
	now_ts(ts, sizeof(ts));
	json_object_set_new(m, "deletionTimestamp", json_string(ts));
	json_object_set_new(m, "deletionGracePeriodSeconds", json_integer(0));
	json_t *fins = json_object_get(m, "finalizers");
	if (!json_is_array(fins)) {
		fins = json_array();
		json_object_set_new(m, "finalizers", fins);
	}
	json_array_append_new(fins, json_string("foregroundDeletion"));
	store_update(o, body);
}

static bool has_dependents(const struct store_obj *o, struct store_obj **all, size_t n,
			   bool blocking_only)
{
	const char *uid = json_str(meta(o->body), "uid");
	for (size_t i = 0; i < n; i++) {
		size_t j;
		json_t *r;
		if (all[i]->gone)
			continue;
		json_array_foreach (json_object_get(meta(all[i]->body), "ownerReferences"), j, r) {
			const char *u = json_str(r, "uid");
			if (u && !strcmp(u, uid) &&
			    (!blocking_only ||
			     json_is_true(json_object_get(r, "blockOwnerDeletion"))))
				return true;
		}
	}
	return false;
}

/*
 * pkg/controller/garbagecollector/garbagecollector.go, for every object
 * with ownerReferences (attemptToDeleteItem, classifyReferences): owners
 * that are gone are dangling, owners deleted in the foreground wait for
 * their dependents, the others are solid.  With a solid owner left, the
 * dangling and waiting references are taken out; with none, the object is
 * deleted.  An owner deleted with "orphan" first has its references taken
 * out of its dependents, then loses the finalizer (orphanDependents); one
 * deleted with "foregroundDeletion" loses it once no dependent that
 * blocks owner deletion is left (processDeletingDependentsItem).  An
 * object whose deletionTimestamp is set goes with its last finalizer
 * (the registry's store, deleteWithoutFinalizers).  Pods and namespaces
 * have their own paths (the kubelet, the namespace controller).
 */
static void collect_garbage(void)
{
	size_t n = 0;
	struct store_obj **all = NULL;
	for (size_t k = 0; store_kind_at(k); k++) {
		size_t m;
		struct store_obj **objs = store_list(store_kind_at(k), NULL, &m);
		all = xrealloc(all, (n + m + 1) * sizeof(*all));
		memcpy(all + n, objs, m * sizeof(*objs));
		n += m;
		free(objs);
	}
	struct gc_graph g = {xmalloc((n + 1) * sizeof(*all)), n};
	memcpy(g.objs, all, n * sizeof(*all));
	qsort(g.objs, n, sizeof(*g.objs), cmp_uid);
	for (size_t i = 0; i < n; i++) {
		struct store_obj *o = all[i];
		json_t *refs = json_object_get(meta(o->body), "ownerReferences");
		if (o->gone || json_array_size(refs) == 0)
			continue;
		size_t solid = 0, keep = 0, j;
		bool waiting = false;
		json_t *r, *kept = json_array();
		json_array_foreach (refs, j, r) {
			const char *uid = json_str(r, "uid");
			struct store_obj *owner = uid ? owner_by_uid(&g, uid) : NULL;
			/* A namespaced dependent's owner is in its namespace or
			 * cluster-scoped. */
			if (!owner || (owner->kind->namespaced && strcmp(owner->ns, o->ns) != 0))
				continue;
			if (deleting_with(owner->body, "foregroundDeletion")) {
				waiting = true;
				continue;
			}
			if (deleting_with(owner->body, "orphan")) {
				/* orphanDependents: the owner lets go of it. */
				continue;
			}
			solid++;
			json_array_append(kept, r);
			keep++;
		}
		if (solid > 0 && keep < json_array_size(refs)) {
			json_t *body = json_deep_copy(o->body);
			json_object_set(child(body, "metadata"), "ownerReferences", kept);
			store_update(o, body);
		} else if (solid == 0) {
			/* Orphaned dependents only lose the references. */
			bool orphaned_only = !waiting;
			json_array_foreach (refs, j, r) {
				const char *uid = json_str(r, "uid");
				struct store_obj *owner = uid ? owner_by_uid(&g, uid) : NULL;
				if (!owner || !deleting_with(owner->body, "orphan"))
					orphaned_only = false;
			}
			if (orphaned_only) {
				json_t *body = json_deep_copy(o->body);
				json_object_del(child(body, "metadata"), "ownerReferences");
				store_update(o, body);
			} else {
				gc_delete(o, waiting && has_dependents(o, all, n, false));
			}
		}
		json_decref(kept);
	}
	for (size_t i = 0; i < n; i++) {
		struct store_obj *o = all[i];
		if (o->gone || !terminating(o->body) || !strcmp(o->kind->plural, "pods") ||
		    !strcmp(o->kind->plural, "namespaces"))
			continue;
		if (has_finalizer(o->body, "orphan") && !has_dependents(o, all, n, false))
			drop_finalizer(o, "orphan");
		if (has_finalizer(o->body, "foregroundDeletion") &&
		    !has_dependents(o, all, n, true))
			drop_finalizer(o, "foregroundDeletion");
		if (json_array_size(json_object_get(meta(o->body), "finalizers")) == 0) {
			log_debug("%s %s/%s deleted: no finalizer left", o->kind->singular, o->ns,
				  o->name);
			store_delete(o);
		}
	}
	free(g.objs);
	free(all);
}

/*
 * pkg/controller/podgc/gc_controller.go, gcOrphaned: a pod bound to a node
 * that does not exist puts the node in quarantine (quarantineTime); once
 * the node is still missing after it, each such pod is marked Failed with
 * a DisruptionTarget condition and deleted at once
 * (markFailedAndDeletePodWithCondition, grace period 0).
 */
static void gc_orphaned(struct store_obj **nodes, size_t nnodes, struct store_obj **pods,
			size_t npods)
{
	int64_t now = now_mono_ms();
	for (size_t q = 0; q < nquarantine;) {
		bool bound = false;
		for (size_t i = 0; i < npods && !bound; i++) {
			const char *nn =
				json_str(json_object_get(pods[i]->body, "spec"), "nodeName");
			bound = !pods[i]->gone && nn && !strcmp(nn, quarantine[q].node);
		}
		if (bound && !node_by_name(nodes, nnodes, quarantine[q].node)) {
			q++;
			continue;
		}
		free(quarantine[q].node);
		quarantine[q] = quarantine[--nquarantine];
	}
	for (size_t i = 0; i < npods; i++) {
		const char *nn = json_str(json_object_get(pods[i]->body, "spec"), "nodeName");
		if (pods[i]->gone || !nn || node_by_name(nodes, nnodes, nn))
			continue;
		size_t q = 0;
		while (q < nquarantine && strcmp(quarantine[q].node, nn) != 0)
			q++;
		if (q == nquarantine) {
			quarantine = xrealloc(quarantine, (nquarantine + 1) * sizeof(*quarantine));
			quarantine[nquarantine].node = xstrdup(nn);
			quarantine[nquarantine++].since_ms = now;
			log_debug("node %s of pod %s/%s is missing: quarantined", nn, pods[i]->ns,
				  pods[i]->name);
			continue;
		}
		if (now - quarantine[q].since_ms < simconf_get()->pod_gc_quarantine_ms)
			continue;
		json_t *body = json_deep_copy(pods[i]->body);
		json_t *st = child(body, "status");
		const char *phase = json_str(st, "phase");
		char ts[32];
		now_ts(ts, sizeof(ts));
		if (!phase || (strcmp(phase, "Succeeded") != 0 && strcmp(phase, "Failed") != 0))
			json_object_set_new(st, "phase", json_string("Failed"));
		json_t *conds = json_object_get(st, "conditions");
		if (!json_is_array(conds)) {
			conds = json_array();
			json_object_set_new(st, "conditions", conds);
		}
		json_array_append_new(conds, json_pack("{s:s, s:s, s:s, s:s, s:n, s:s}", "type",
						       "DisruptionTarget", "status", "True",
						       "reason", "DeletionByPodGC", "message",
						       "PodGC: node no longer exists",
						       "lastProbeTime", "lastTransitionTime", ts));
		/* nn points into the pod's body, which the update frees. */
		log_info("pod %s/%s on missing node %s: deleted by the pod garbage collector",
			 pods[i]->ns, pods[i]->name, nn);
		store_update(pods[i], body);
		controllers_delete_pod(pods[i], 0, "pod-garbage-collector");
	}
}

static void tick(void)
{
	size_t n, nnodes, nall;

	kicked = false;
	sync_node_faults();
	terminate_namespaces();
	sync_volumes();
	update_quotas();

	struct store_obj **list = store_list(K("statefulsets"), NULL, &n);
	for (size_t i = 0; i < n; i++) {
		/* A workload being deleted is left to the garbage collector
		 * (stateful_set.go, sync: DeletionTimestamp set). */
		if (!list[i]->gone && !terminating(list[i]->body))
			reconcile_sts(list[i]);
	}
	free(list);
	list = store_list(K("deployments"), NULL, &n);
	for (size_t i = 0; i < n; i++) {
		if (!list[i]->gone && !terminating(list[i]->body))
			reconcile_deployment(list[i]);
	}
	free(list);
	list = store_list(K("replicasets"), NULL, &n);
	for (size_t i = 0; i < n; i++) {
		if (!list[i]->gone && !terminating(list[i]->body))
			reconcile_replica_set(list[i]);
	}
	free(list);
	collect_garbage();

	struct store_obj **nodes = store_list(K("nodes"), NULL, &nnodes);
	struct store_obj **all = store_list(K("pods"), NULL, &nall);
	for (size_t i = 0; i < nall; i++) {
		json_t *spec = json_object_get(all[i]->body, "spec");
		if (!all[i]->gone && !json_str(spec, "nodeName") && !terminating(all[i]->body))
			schedule(all[i], nodes, nnodes, all, nall);
	}
	gc_orphaned(nodes, nnodes, all, nall);
	for (size_t i = 0; i < nall; i++) {
		if (!all[i]->gone)
			kubelet(all[i], nodes, nnodes);
	}
	for (size_t i = 0; i < nall; i++) {
		if (!all[i]->gone)
			endpoints_track(all[i], now_mono_ms());
	}
	for (size_t i = 0; i < nall; i++) {
		if (!all[i]->gone && terminating(all[i]->body) &&
		    !json_str(json_object_get(all[i]->body, "spec"), "nodeName") &&
		    all[i]->gone_at_ms && now_mono_ms() >= all[i]->gone_at_ms)
			store_delete(all[i]);
	}
	free(all);
	free(nodes);
	endpoints_sync();
	rbac_aggregate();
	disruption_sync();
	sim_es_tick();
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	tick();
}

void controllers_kick(void)
{
	if (kicked || !kick_ev)
		return;
	kicked = true;
	struct timeval tv = {0, 0};
	evtimer_add(kick_ev, &tv);
}

static void store_changed_cb(void *arg)
{
	controllers_kick();
}

void controllers_init(struct event_base *b)
{
	struct timeval tv;
	int ms = simconf_get()->tick_ms;
	base = b;
	create_nodes();
	static const char *system_ns[] = {"default", "kube-system", "kube-public",
					  "kube-node-lease"};
	for (size_t i = 0; i < ARRAY_SIZE(system_ns); i++) {
		json_t *ns = json_pack("{s:{s:s, s:{s:s}}, s:{s:[s]}, s:{s:s}}", "metadata", "name",
				       system_ns[i], "labels", "kubernetes.io/metadata.name",
				       system_ns[i], "spec", "finalizers", "kubernetes", "status",
				       "phase", "Active");
		store_create(K("namespaces"), "", ns);
		json_decref(ns);
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	tick_ev = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(tick_ev, &tv);
	kick_ev = evtimer_new(base, tick_cb, NULL);
	store_set_change_cb(store_changed_cb, NULL);
}

void controllers_free(void)
{
	images_free();
	store_set_change_cb(NULL, NULL);
	hostfs_free();
	json_decref(fault_cordoned);
	fault_cordoned = NULL;
	for (size_t q = 0; q < nquarantine; q++)
		free(quarantine[q].node);
	free(quarantine);
	quarantine = NULL;
	nquarantine = 0;
	json_decref(quota_pods_seen);
	quota_pods_seen = NULL;
	json_decref(ns_queue);
	ns_queue = NULL;
	json_decref(prebinding);
	prebinding = NULL;
	if (tick_ev)
		event_free(tick_ev);
	if (kick_ev)
		event_free(kick_ev);
	tick_ev = kick_ev = NULL;
}
