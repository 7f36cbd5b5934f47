#include "sim/store.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/base64.h"
#include "common/util.h"
#include "common/json.h"

static const struct store_kind kinds[] = {
	{"namespaces", "namespace", "Namespace", "", "v1", false, false, false, false,
	 STORE_NAME_LABEL, "ns"},
	{"nodes", "node", "Node", "", "v1", false, false, false, true, STORE_NAME_SUBDOMAIN, "no"},
	{"configmaps", "configmap", "ConfigMap", "", "v1", true, false, false, false,
	 STORE_NAME_SUBDOMAIN, "cm"},
	/* Secrets: data values are base64 on the wire and in storage
	 * (https://kubernetes.io/docs/concepts/configuration/secret/). */
	{"secrets", "secret", "Secret", "", "v1", true, false, false, false, STORE_NAME_SUBDOMAIN,
	 NULL},
	{"services", "service", "Service", "", "v1", true, false, false, false, STORE_NAME_DNS1035,
	 "svc"},
	{"pods", "pod", "Pod", "", "v1", true, false, false, false, STORE_NAME_SUBDOMAIN, "po"},
	{"resourcequotas", "resourcequota", "ResourceQuota", "", "v1", true, false, false, false,
	 STORE_NAME_SUBDOMAIN, "quota"},
	{"events", "event", "Event", "", "v1", true, false, false, false, STORE_NAME_SUBDOMAIN,
	 "ev"},
	{"statefulsets", "statefulset", "StatefulSet", "apps", "v1", true, true, true, false,
	 STORE_NAME_SUBDOMAIN, "sts"},
	{"deployments", "deployment", "Deployment", "apps", "v1", true, true, true, false,
	 STORE_NAME_SUBDOMAIN, "deploy"},
	{"replicasets", "replicaset", "ReplicaSet", "apps", "v1", true, true, false, false,
	 STORE_NAME_SUBDOMAIN, "rs"},
	{"poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", "policy", "v1", true,
	 true, false, false, STORE_NAME_SUBDOMAIN, "pdb"},
	/* Storage: PersistentVolumes and StorageClasses are cluster-scoped,
	 * claims live in a namespace
	 * (https://kubernetes.io/docs/concepts/storage/persistent-volumes/). */
	{"persistentvolumes", "persistentvolume", "PersistentVolume", "", "v1", false, false, false,
	 false, STORE_NAME_SUBDOMAIN, "pv"},
	{"persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", "", "v1", true,
	 false, false, false, STORE_NAME_SUBDOMAIN, "pvc"},
	{"storageclasses", "storageclass", "StorageClass", "storage.k8s.io", "v1", false, false,
	 false, false, STORE_NAME_SUBDOMAIN, "sc"},
	{"networkpolicies", "networkpolicy", "NetworkPolicy", "networking.k8s.io", "v1", true, true,
	 false, false, STORE_NAME_SUBDOMAIN, "netpol"},
	/* Written by the endpoint controllers (sim/endpoints.c). */
	{"endpoints", "endpoints", "Endpoints", "", "v1", true, false, false, false,
	 STORE_NAME_SUBDOMAIN, "ep"},
	{"endpointslices", "endpointslice", "EndpointSlice", "discovery.k8s.io", "v1", true, false,
	 false, false, STORE_NAME_SUBDOMAIN, NULL},
	/* RBAC (sim/rbac.c authorizes from these). */
	{"clusterroles", "clusterrole", "ClusterRole", "rbac.authorization.k8s.io", "v1", false,
	 false, false, false, STORE_NAME_PATH, NULL},
	{"clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding",
	 "rbac.authorization.k8s.io", "v1", false, false, false, false, STORE_NAME_PATH, NULL},
	{"roles", "role", "Role", "rbac.authorization.k8s.io", "v1", true, false, false, false,
	 STORE_NAME_PATH, NULL},
	{"rolebindings", "rolebinding", "RoleBinding", "rbac.authorization.k8s.io", "v1", true,
	 false, false, false, STORE_NAME_PATH, NULL},
};

static struct store_obj *head, *tail;
static struct store_obj *graveyard;
static int64_t resource_version = 1000;
static store_change_fn change_fn;
static void *change_arg;
static store_event_fn event_fn;

void store_init(void)
{
	head = tail = graveyard = NULL;
}

static void obj_free(struct store_obj *o)
{
	free(o->ns);
	free(o->name);
	json_decref(o->body);
	free(o);
}

void store_free(void)
{
	store_reap();
	while (head) {
		struct store_obj *next = head->next;
		obj_free(head);
		head = next;
	}
	tail = NULL;
}

void store_set_change_cb(store_change_fn fn, void *arg)
{
	change_fn = fn;
	change_arg = arg;
}

void store_set_event_cb(store_event_fn fn)
{
	event_fn = fn;
}

static void changed(void)
{
	if (change_fn)
		change_fn(change_arg);
}

const struct store_kind *store_kind_find(const char *group, const char *version, const char *plural)
{
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		if (!strcmp(kinds[i].group, group) && !strcmp(kinds[i].version, version) &&
		    !strcmp(kinds[i].plural, plural))
			return &kinds[i];
	}
	return NULL;
}

const struct store_kind *store_kind_by_plural(const char *plural)
{
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		if (!strcmp(kinds[i].plural, plural))
			return &kinds[i];
	}
	return NULL;
}

const struct store_kind *store_kind_at(size_t i)
{
	return i < ARRAY_SIZE(kinds) ? &kinds[i] : NULL;
}

const char *store_api_version(const struct store_kind *k)
{
	if (!strcmp(k->group, "apps"))
		return "apps/v1";
	if (!strcmp(k->group, "policy"))
		return "policy/v1";
	if (!strcmp(k->group, "storage.k8s.io"))
		return "storage.k8s.io/v1";
	if (!strcmp(k->group, "networking.k8s.io"))
		return "networking.k8s.io/v1";
	if (!strcmp(k->group, "discovery.k8s.io"))
		return "discovery.k8s.io/v1";
	if (!strcmp(k->group, "rbac.authorization.k8s.io"))
		return "rbac.authorization.k8s.io/v1";
	return "v1";
}

const char *store_qualified(const struct store_kind *k)
{
	if (!strcmp(k->group, "apps")) {
		if (!strcmp(k->plural, "statefulsets"))
			return "statefulsets.apps";
		if (!strcmp(k->plural, "replicasets"))
			return "replicasets.apps";
		return "deployments.apps";
	}
	if (!strcmp(k->group, "policy"))
		return "poddisruptionbudgets.policy";
	if (!strcmp(k->group, "storage.k8s.io"))
		return "storageclasses.storage.k8s.io";
	if (!strcmp(k->group, "networking.k8s.io"))
		return "networkpolicies.networking.k8s.io";
	if (!strcmp(k->group, "discovery.k8s.io"))
		return "endpointslices.discovery.k8s.io";
	if (!strcmp(k->plural, "clusterroles"))
		return "clusterroles.rbac.authorization.k8s.io";
	if (!strcmp(k->plural, "clusterrolebindings"))
		return "clusterrolebindings.rbac.authorization.k8s.io";
	if (!strcmp(k->plural, "roles"))
		return "roles.rbac.authorization.k8s.io";
	if (!strcmp(k->plural, "rolebindings"))
		return "rolebindings.rbac.authorization.k8s.io";
	return k->plural;
}

struct store_obj *store_get(const struct store_kind *k, const char *ns, const char *name)
{
	if (!k->namespaced)
		ns = "";
	for (struct store_obj *o = head; o; o = o->next) {
		if (o->kind == k && !strcmp(o->name, name) && !strcmp(o->ns, ns))
			return o;
	}
	return NULL;
}

struct store_obj **store_list(const struct store_kind *k, const char *ns, size_t *n)
{
	size_t count = 0, i = 0;
	for (struct store_obj *o = head; o; o = o->next) {
		if (o->kind == k && (!ns || !strcmp(o->ns, ns)))
			count++;
	}
	struct store_obj **arr = xcalloc(count + 1, sizeof(*arr));
	for (struct store_obj *o = head; o; o = o->next) {
		if (o->kind == k && (!ns || !strcmp(o->ns, ns)))
			arr[i++] = o;
	}
	*n = count;
	return arr;
}

int64_t store_resource_version(void)
{
	return resource_version;
}

void store_timestamp(char *buf, size_t len, int64_t wall_ms)
{
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void store_uuid(char *buf)
{
	char hex[33];
	rand_hex(hex, 16);
	hex[12] = '4';
	hex[16] = "89ab"[hex[16] % 4];
	snprintf(buf, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

static void set_rv(json_t *meta)
{
	char rv[32];
	snprintf(rv, sizeof(rv), "%lld", (long long)++resource_version);
	json_object_set_new(meta, "resourceVersion", json_string(rv));
}

static json_t *meta_of(json_t *body)
{
	json_t *meta = json_object_get(body, "metadata");
	if (!json_is_object(meta)) {
		meta = json_object();
		json_object_set_new(body, "metadata", meta);
	}
	return meta;
}

struct store_obj *store_create(const struct store_kind *k, const char *ns, json_t *body)
{
	struct store_obj *o = xcalloc(1, sizeof(*o));
	json_t *meta = meta_of(body);
	char uid[37], ts[32];

	o->kind = k;
	o->ns = xstrdup(k->namespaced ? ns : "");
	o->name = xstrdup(json_str(meta, "name"));
	o->body = json_incref(body);
	json_object_set_new(body, "kind", json_string(k->kind));
	json_object_set_new(body, "apiVersion", json_string(store_api_version(k)));
	if (k->namespaced)
		json_object_set_new(meta, "namespace", json_string(ns));
	else
		json_object_del(meta, "namespace");
	store_uuid(uid);
	json_object_set_new(meta, "uid", json_string(uid));
	store_timestamp(ts, sizeof(ts), now_wall_ms());
	json_object_set_new(meta, "creationTimestamp", json_string(ts));
	if (k->generation)
		json_object_set_new(meta, "generation", json_integer(1));
	else
		json_object_del(meta, "generation");
	set_rv(meta);
	if (event_fn)
		event_fn(k, "ADDED", body, NULL, (long long)resource_version);
	if (tail)
		tail->next = o;
	else
		head = o;
	tail = o;
	changed();
	return o;
}

void store_update(struct store_obj *o, json_t *body)
{
	json_t *old = o->body;
	json_t *meta = meta_of(body);
	json_t *oldmeta = meta_of(old);

	json_object_set_new(body, "kind", json_string(o->kind->kind));
	json_object_set_new(body, "apiVersion", json_string(store_api_version(o->kind)));
	json_object_set(meta, "name", json_object_get(oldmeta, "name"));
	if (o->kind->namespaced)
		json_object_set(meta, "namespace", json_object_get(oldmeta, "namespace"));
	json_object_set(meta, "uid", json_object_get(oldmeta, "uid"));
	json_object_set(meta, "creationTimestamp", json_object_get(oldmeta, "creationTimestamp"));
	if (o->kind->generation) {
		json_int_t gen = json_integer_value(json_object_get(oldmeta, "generation"));
		if (!json_equal(json_object_get(old, "spec"), json_object_get(body, "spec")))
			gen++;
		json_object_set_new(meta, "generation", json_integer(gen));
	}
	set_rv(meta);
	o->body = body;
	if (event_fn)
		event_fn(o->kind, "MODIFIED", body, old, (long long)resource_version);
	json_decref(old);
	changed();
}

void store_delete(struct store_obj *o)
{
	struct store_obj *prev = NULL;
	for (struct store_obj *p = head; p; prev = p, p = p->next) {
		if (p != o)
			continue;
		if (prev)
			prev->next = p->next;
		else
			head = p->next;
		if (tail == p)
			tail = prev;
		break;
	}
	resource_version++;
	if (event_fn) {
		/* The last state, at the deletion's resourceVersion (etcd3's
		 * watcher sends the previous object so). */
		json_t *last = json_deep_copy(o->body);
		char rv[32];
		snprintf(rv, sizeof(rv), "%lld", (long long)resource_version);
		json_object_set_new(meta_of(last), "resourceVersion", json_string(rv));
		event_fn(o->kind, "DELETED", last, o->body, (long long)resource_version);
		json_decref(last);
	}
	o->gone = true;
	o->next = graveyard;
	graveyard = o;
	changed();
}

void store_reap(void)
{
	while (graveyard) {
		struct store_obj *next = graveyard->next;
		obj_free(graveyard);
		graveyard = next;
	}
}

char *store_secret_value(const char *ns, const char *secret, const char *key)
{
	struct store_obj *o =
		ns && secret && key ? store_get(store_kind_by_plural("secrets"), ns, secret) : NULL;
	const char *b64 = o ? json_str(json_object_get(o->body, "data"), key) : NULL;
	unsigned char *raw = NULL;
	size_t len = 0;
	if (!b64 || !base64_decode(b64, strlen(b64), &raw, &len, NULL))
		return NULL;
	char *value = xstrndup((const char *)raw, len);
	free(raw);
	return value;
}
