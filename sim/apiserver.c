/*
 * The simulated Kubernetes API server: discovery, the resources esaas
 * uses, server-side apply, merge patches, the scale subresource, deletes
 * with preconditions and propagation, the service proxy, and Status bodies
 * shaped like the real server's.
 */
#include "sim/apiserver.h"
#include "sim/configdata.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/base64.h"
#include "common/util.h"
#include "sim/call.h"
#include "sim/controllers.h"
#include "sim/disruption.h"
#include "sim/es.h"
#include "sim/esdisk.h"
#include "sim/faults.h"
#include "sim/netpol.h"
#include "sim/podsecurity.h"
#include "sim/podvalidation.h"
#include "sim/authz.h"
#include "sim/rbac.h"
#include "sim/record.h"
#include "sim/schema.h"
#include "sim/selector.h"
#include "sim/simconf.h"
#include "sim/store.h"
#include "sim/managed.h"
#include "sim/tls.h"
#include "sim/watch.h"
#include "common/yamljson.h"
#include "common/json.h"

#define APISERVER_MAX_BODY (3 * 1024 * 1024)

static struct event_base *base;
static struct evhttp *http;
static struct call *hung[1024]; /* calls parked by a hang fault */
/* Requests to the API (not /_sim/), the watches among them, and their
 * count by RBAC verb and resource ("list pods": n). */
static long long api_requests, api_watches;
static json_t *api_by_verb;

/* --- Status bodies -------------------------------------------------------- */

static json_t *status_json(int code, const char *reason, const char *message, json_t *details)
{
	json_t *s = json_pack("{s:s, s:s, s:{}, s:s, s:s}", "kind", "Status", "apiVersion", "v1",
			      "metadata", "status", "Failure", "message", message);
	if (reason)
		json_object_set_new(s, "reason", json_string(reason));
	json_object_set_new(s, "details", details ? details : json_object());
	json_object_set_new(s, "code", json_integer(code));
	return s;
}

static void reply_status(struct call *c, int code, const char *reason, json_t *details,
			 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void reply_status(struct call *c, int code, const char *reason, json_t *details,
			 const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	call_reply_json(c, code, status_json(code, reason, msg, details));
	free(msg);
}

/* The service proxy's own 503 (upgradeaware.go's error responder, or
 * ResourceLocation's "no endpoints available"), recorded for the tests
 * (record_proxy_error()). */
static void reply_proxy_unavailable(struct call *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void reply_proxy_unavailable(struct call *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	record_proxy_error(c->method, c->path, c->query_raw, 503, msg);
	reply_status(c, 503, "ServiceUnavailable", NULL, "%s", msg);
	free(msg);
}

static json_t *details_for(const struct store_kind *k, const char *name)
{
	json_t *d = json_object();
	if (name)
		json_object_set_new(d, "name", json_string(name));
	if (*k->group)
		json_object_set_new(d, "group", json_string(k->group));
	json_object_set_new(d, "kind", json_string(k->plural));
	return d;
}

static void reply_not_found(struct call *c, const struct store_kind *k, const char *name)
{
	reply_status(c, 404, "NotFound", details_for(k, name), "%s \"%s\" not found",
		     store_qualified(k), name);
}

static void reply_no_resource(struct call *c)
{
	reply_status(c, 404, "NotFound", NULL, "the server could not find the requested resource");
}

static void reply_bad_request(struct call *c, const char *msg)
{
	reply_status(c, 400, "BadRequest", NULL, "%s", msg);
}

static void reply_conflict(struct call *c, const struct store_kind *k, const char *name,
			   const char *why)
{
	reply_status(c, 409, "Conflict", details_for(k, name),
		     "Operation cannot be fulfilled on %s \"%s\": %s", store_qualified(k), name,
		     why);
}

static void reply_method_not_allowed(struct call *c)
{
	reply_status(c, 405, "MethodNotAllowed", NULL,
		     "the server does not allow this method on the requested resource");
}

struct rbac_attrs;
static void reply_forbidden(struct call *c, const struct rbac_attrs *a, const char *reason);

/* --- validation ----------------------------------------------------------- */

static const char MSG_SUBDOMAIN[] =
	"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
	"or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
	"regex used for validation is "
	"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
static const char MSG_LABEL[] =
	"a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
	"must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
	"used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
static const char MSG_DNS1035[] =
	"a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
	"alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
	"'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

static bool is_lower_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

static bool valid_label(const char *s, size_t len)
{
	if (len == 0 || len > 63 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return false;
	}
	return true;
}

static bool valid_subdomain(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > 253)
		return false;
	const char *p = s;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (!valid_label(p, n))
			return false;
		if (!dot)
			return true;
		p = dot + 1;
	}
}

static bool valid_name(enum store_name_rule rule, const char *name, const char **why)
{
	switch (rule) {
	case STORE_NAME_SUBDOMAIN:
		*why = MSG_SUBDOMAIN;
		return valid_subdomain(name);
	case STORE_NAME_LABEL:
		*why = MSG_LABEL;
		return valid_label(name, strlen(name));
	case STORE_NAME_DNS1035:
		*why = MSG_DNS1035;
		return valid_label(name, strlen(name)) && name[0] >= 'a' && name[0] <= 'z';
	case STORE_NAME_PATH:
		/* path.IsValidPathSegmentName (ValidateRBACName). */
		if (!strcmp(name, ".") || !strcmp(name, "..")) {
			*why = !strcmp(name, ".") ? "may not be '.'" : "may not be '..'";
			return false;
		}
		*why = strchr(name, '/') ? "may not contain '/'" : "may not contain '%'";
		return !strchr(name, '/') && !strchr(name, '%');
	}
	return false;
}

/* Label values: empty, or up to 63 of [A-Za-z0-9_.-] starting and ending alphanumeric. */
static bool valid_label_value(const char *v)
{
	size_t len = strlen(v);
	if (len == 0)
		return true;
	if (len > 63)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = v[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			     (ch >= '0' && ch <= '9');
		if (!alnum && ch != '-' && ch != '_' && ch != '.')
			return false;
		if ((i == 0 || i == len - 1) && !alnum)
			return false;
	}
	return true;
}

void apiserver_cause(json_t *causes, const char *reason, const char *field, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	json_array_append_new(causes, json_pack("{s:s, s:s, s:s}", "reason", reason, "message", msg,
						"field", field));
	free(msg);
}

static void check_labels(json_t *causes, const json_t *labels, const char *field)
{
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)labels, k, v) {
		char *f = xasprintf("%s", field);
		if (!json_is_string(v) || !valid_label_value(json_string_value(v)))
			apiserver_cause(
				causes, "FieldValueInvalid", f,
				"Invalid value: \"%s\": a valid label must be an empty string or "
				"consist "
				"of alphanumeric characters, '-', '_' or '.', and must start and "
				"end "
				"with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  "
				"or "
				"'12345', regex used for validation is "
				"'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
				json_is_string(v) ? json_string_value(v) : "");
		free(f);
	}
}

static void check_containers(json_t *causes, const json_t *podspec, const char *prefix)
{
	json_t *cs = json_object_get(podspec, "containers");
	char *f;
	if (!json_is_array(cs) || json_array_size(cs) == 0) {
		f = xasprintf("%s.containers", prefix);
		apiserver_cause(causes, "FieldValueRequired", f, "Required value");
		free(f);
		return;
	}
	size_t i;
	json_t *ct;
	json_array_foreach (cs, i, ct) {
		const char *name = json_str(ct, "name");
		if (!name || !*name) {
			f = xasprintf("%s.containers[%zu].name", prefix, i);
			apiserver_cause(causes, "FieldValueRequired", f, "Required value");
			free(f);
		} else if (!valid_label(name, strlen(name))) {
			f = xasprintf("%s.containers[%zu].name", prefix, i);
			apiserver_cause(causes, "FieldValueInvalid", f, "Invalid value: \"%s\": %s",
					name, MSG_LABEL);
			free(f);
		}
		const char *image = json_str(ct, "image");
		if (!image || !*image) {
			f = xasprintf("%s.containers[%zu].image", prefix, i);
			apiserver_cause(causes, "FieldValueRequired", f, "Required value");
			free(f);
		}
	}
}

static void check_workload(json_t *causes, const json_t *obj)
{
	json_t *spec = json_object_get(obj, "spec");
	json_t *sel = json_object_get(spec, "selector");
	json_t *tmpl = json_object_get(spec, "template");
	json_t *replicas = json_object_get(spec, "replicas");
	if (replicas && (!json_is_integer(replicas) || json_integer_value(replicas) < 0))
		apiserver_cause(causes, "FieldValueInvalid", "spec.replicas",
				"Invalid value: %lld: must be greater than or equal to 0",
				(long long)json_integer_value(replicas));
	if (!json_is_object(sel) ||
	    (json_object_size(json_object_get(sel, "matchLabels")) == 0 &&
	     json_array_size(json_object_get(sel, "matchExpressions")) == 0)) {
		apiserver_cause(causes, "FieldValueRequired", "spec.selector", "Required value");
	} else {
		struct selector s;
		char *err = NULL;
		json_t *labels = json_object_get(json_object_get(tmpl, "metadata"), "labels");
		if (!selector_from_json(sel, &s, &err)) {
			apiserver_cause(causes, "FieldValueInvalid", "spec.selector",
					"Invalid value: %s", err);
			free(err);
		} else {
			if (!selector_matches(&s, labels))
				apiserver_cause(causes, "FieldValueInvalid",
						"spec.template.metadata.labels",
						"Invalid value: map[string]string{...}: `selector` "
						"does not "
						"match "
						"template `labels`");
			selector_free(&s);
		}
	}
	check_labels(causes, json_object_get(json_object_get(tmpl, "metadata"), "labels"),
		     "spec.template.metadata.labels");
	check_containers(causes, json_object_get(tmpl, "spec"), "spec.template.spec");
}

static void check_service(json_t *causes, const json_t *obj)
{
	json_t *spec = json_object_get(obj, "spec");
	json_t *ports = json_object_get(spec, "ports");
	const char *cip = json_str(spec, "clusterIP");
	bool headless = cip && !strcmp(cip, "None");
	if (!headless && json_array_size(ports) == 0)
		apiserver_cause(causes, "FieldValueRequired", "spec.ports", "Required value");
	size_t i;
	json_t *p;
	json_array_foreach (ports, i, p) {
		json_t *port = json_object_get(p, "port");
		if (!json_is_integer(port) || json_integer_value(port) < 1 ||
		    json_integer_value(port) > 65535) {
			char *f = xasprintf("spec.ports[%zu].port", i);
			apiserver_cause(
				causes, "FieldValueInvalid", f,
				"Invalid value: %lld: must be between 1 and 65535, inclusive",
				(long long)json_integer_value(port));
			free(f);
		}
		if (json_array_size(ports) > 1 && !json_is_string(json_object_get(p, "name"))) {
			char *f = xasprintf("spec.ports[%zu].name", i);
			apiserver_cause(causes, "FieldValueRequired", f, "Required value");
			free(f);
		}
	}
}

static void check_quota(json_t *causes, const json_t *obj)
{
	const char *key;
	json_t *v;
	json_object_foreach (json_object_get(json_object_get(obj, "spec"), "hard"), key, v) {
		struct quantity q;
		char *f = xasprintf("spec.hard[%s]", key);
		const char *text = json_is_string(v) ? json_string_value(v) : "";
		if (!controllers_quantity_parse(v, &q))
			apiserver_cause(causes, "FieldValueInvalid", f,
					"Invalid value: \"%s\": quantities must match the regular "
					"expression "
					"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
					text);
		else if (q.milli < 0)
			apiserver_cause(causes, "FieldValueInvalid", f,
					"Invalid value: \"%s\": must be greater than or equal to 0",
					text);
		else if (q.milli % 1000 != 0 &&
			 (!strcmp(key, "pods") || !strncmp(key, "count/", 6)))
			apiserver_cause(causes, "FieldValueInvalid", f,
					"Invalid value: \"%s\": must be an integer", text);
		free(f);
	}
}

/*
 * PersistentVolumes, claims and StorageClasses, as far as esaas writes
 * them (k8s.io/kubernetes pkg/apis/core/validation ValidatePersistentVolume,
 * ValidatePersistentVolumeClaim; pkg/apis/storage/validation
 * ValidateStorageClass): a volume has a capacity, access modes and exactly
 * one source; a claim access modes and a storage request; a class a
 * provisioner and a known binding mode.
 */
static void check_storage(json_t *causes, const struct store_kind *k, const json_t *obj)
{
	json_t *spec = json_object_get(obj, "spec");

	if (!strcmp(k->plural, "storageclasses")) {
		const char *mode = json_str(obj, "volumeBindingMode");
		if (!json_str(obj, "provisioner") || !*json_str(obj, "provisioner"))
			apiserver_cause(causes, "FieldValueRequired", "provisioner",
					"Required value");
		if (mode && strcmp(mode, "Immediate") != 0 && strcmp(mode, "WaitForFirstConsumer"))
			apiserver_cause(
				causes, "FieldValueNotSupported", "volumeBindingMode",
				"Unsupported value: \"%s\": supported values: \"Immediate\", "
				"\"WaitForFirstConsumer\"",
				mode);
		return;
	}
	if (json_array_size(json_object_get(spec, "accessModes")) == 0)
		apiserver_cause(causes, "FieldValueRequired", "spec.accessModes",
				"Required value: at least 1 access mode is required");
	if (!strcmp(k->plural, "persistentvolumeclaims")) {
		if (!json_object_get(
			    json_object_get(json_object_get(spec, "resources"), "requests"),
			    "storage"))
			apiserver_cause(causes, "FieldValueRequired", "spec.resources[storage]",
					"Required value");
		return;
	}
	if (!json_object_get(json_object_get(spec, "capacity"), "storage"))
		apiserver_cause(causes, "FieldValueRequired", "spec.capacity", "Required value");
	int sources = !!json_object_get(spec, "hostPath") + !!json_object_get(spec, "local");
	if (sources == 0)
		apiserver_cause(causes, "FieldValueRequired", "spec",
				"Required value: must specify a volume type");
	if (json_object_get(spec, "local") && !json_object_get(spec, "nodeAffinity"))
		apiserver_cause(causes, "FieldValueRequired", "spec.nodeAffinity",
				"Required value: Local volume requires node affinity");
}

/* What cannot change: a volume's source and node affinity, a claim's spec
 * but for a larger request and the volume it binds to, a class's
 * provisioner, parameters, reclaim policy and binding mode. */
static void check_storage_update(json_t *causes, const struct store_kind *k, const json_t *old,
				 const json_t *obj)
{
	json_t *os = json_object_get(old, "spec"), *ns = json_object_get(obj, "spec");

	if (!strcmp(k->plural, "storageclasses")) {
		if (!json_equal(json_object_get(old, "parameters"),
				json_object_get(obj, "parameters")) &&
		    (json_object_get(old, "parameters") || json_object_get(obj, "parameters")))
			apiserver_cause(causes, "FieldValueForbidden", "parameters",
					"Forbidden: updates to parameters are forbidden.");
		static const char *const fixed[] = {"provisioner", "reclaimPolicy",
						    "volumeBindingMode"};
		for (size_t i = 0; i < ARRAY_SIZE(fixed); i++) {
			json_t *a = json_object_get(old, fixed[i]),
			       *b = json_object_get(obj, fixed[i]);
			if (a && b && !json_equal(a, b))
				apiserver_cause(causes, "FieldValueInvalid", fixed[i],
						"Invalid value: \"%s\": field is immutable",
						json_is_string(b) ? json_string_value(b) : "");
		}
		return;
	}
	if (!strcmp(k->plural, "persistentvolumes")) {
		/* json_equal(NULL, NULL) is false: an absent source is unchanged. */
		json_t *oh = json_object_get(os, "hostPath"), *nh = json_object_get(ns, "hostPath");
		json_t *ol = json_object_get(os, "local"), *nl = json_object_get(ns, "local");
		if (((oh || nh) && !json_equal(oh, nh)) || ((ol || nl) && !json_equal(ol, nl)))
			apiserver_cause(causes, "FieldValueForbidden",
					"spec.persistentvolumesource",
					"Forbidden: spec.persistentvolumesource is immutable after "
					"creation");
		if (json_object_get(os, "nodeAffinity") &&
		    !json_equal(json_object_get(os, "nodeAffinity"),
				json_object_get(ns, "nodeAffinity")))
			apiserver_cause(
				causes, "FieldValueInvalid", "nodeAffinity",
				"Invalid value: core.VolumeNodeAffinity{...}: field is immutable");
		return;
	}
	json_t *a = json_deep_copy(os), *b = json_deep_copy(ns);
	json_object_del(json_object_get(a, "resources"), "requests");
	json_object_del(json_object_get(b, "resources"), "requests");
	if (!json_str(os, "volumeName")) {
		json_object_del(a, "volumeName");
		json_object_del(b, "volumeName");
	}
	if (!json_equal(a, b))
		apiserver_cause(
			causes, "FieldValueForbidden", "spec",
			"Forbidden: spec is immutable after creation except resources.requests "
			"and volumeAttributesClassName for bound claims");
	json_decref(a);
	json_decref(b);
}

/* Kind-specific checks of a whole object; causes is filled. */
static const json_t *template_spec(const json_t *obj)
{
	return json_object_get(json_object_get(json_object_get(obj, "spec"), "template"), "spec");
}

static void check_pod(json_t *causes, const json_t *spec)
{
	check_containers(causes, spec, "spec");
	podvalidation_check(causes, spec, "spec");
}

static void validate(const struct store_kind *k, const json_t *obj, json_t *causes)
{
	json_t *meta = json_object_get(obj, "metadata");
	const char *name = json_str(meta, "name");
	const char *why = "";

	if (!name || !*name)
		apiserver_cause(causes, "FieldValueRequired", "metadata.name",
				"Required value: name or generateName is required");
	else if (!valid_name(k->name_rule, name, &why))
		apiserver_cause(causes, "FieldValueInvalid", "metadata.name",
				"Invalid value: \"%s\": %s", name, why);
	check_labels(causes, json_object_get(meta, "labels"), "metadata.labels");

	/* A Deployment's template is validated as a pod spec
	 * (ValidatePodTemplateSpecForReplicaSet); a StatefulSet's is not
	 * (ValidatePodTemplateSpecForStatefulSet leaves it to the pods, whose
	 * volumes include the claim templates'). */
	if (!strcmp(k->plural, "deployments"))
		podvalidation_check(causes, template_spec(obj), "spec.template.spec");
	if (!strcmp(k->plural, "statefulsets") || !strcmp(k->plural, "deployments"))
		check_workload(causes, obj);
	else if (!strcmp(k->plural, "pods"))
		check_pod(causes, json_object_get(obj, "spec"));
	else if (!strcmp(k->plural, "services"))
		check_service(causes, obj);
	else if (!strcmp(k->plural, "networkpolicies"))
		netpol_validate(obj, causes);
	else if (!strcmp(k->plural, "poddisruptionbudgets")) {
		json_t *spec = json_object_get(obj, "spec");
		if (json_object_get(spec, "minAvailable") &&
		    json_object_get(spec, "maxUnavailable"))
			apiserver_cause(
				causes, "FieldValueInvalid", "spec",
				"Invalid value: policy.PodDisruptionBudgetSpec{...}: minAvailable "
				"and "
				"maxUnavailable cannot be both set");
	} else if (!strcmp(k->plural, "resourcequotas")) {
		check_quota(causes, obj);
	} else if (!strcmp(k->plural, "persistentvolumes") ||
		   !strcmp(k->plural, "persistentvolumeclaims") ||
		   !strcmp(k->plural, "storageclasses")) {
		check_storage(causes, k, obj);
	} else if (!strcmp(k->plural, "secrets") || !strcmp(k->plural, "configmaps")) {
		configdata_validate(k->plural, obj, causes);
	}
}

/* Update-only rules: what the real server refuses to change. */
static void validate_update(const struct store_kind *k, const json_t *old, const json_t *obj,
			    json_t *causes)
{
	json_t *os = json_object_get(old, "spec"), *ns = json_object_get(obj, "spec");
	if (!strcmp(k->plural, "persistentvolumes") ||
	    !strcmp(k->plural, "persistentvolumeclaims") || !strcmp(k->plural, "storageclasses")) {
		check_storage_update(causes, k, old, obj);
	} else if (!strcmp(k->plural, "secrets") || !strcmp(k->plural, "configmaps")) {
		configdata_validate_update(k->plural, old, obj, causes);
	} else if (!strcmp(k->plural, "statefulsets")) {
		static const char *mutable[] = {"replicas",
						"ordinals",
						"template",
						"updateStrategy",
						"persistentVolumeClaimRetentionPolicy",
						"minReadySeconds"};
		json_t *a = json_deep_copy(os), *b = json_deep_copy(ns);
		for (size_t i = 0; i < ARRAY_SIZE(mutable); i++) {
			json_object_del(a, mutable[i]);
			json_object_del(b, mutable[i]);
		}
		if (!json_equal(a, b))
			apiserver_cause(
				causes, "FieldValueForbidden", "spec",
				"Forbidden: updates to statefulset spec for fields other than "
				"'replicas', 'ordinals', 'template', 'updateStrategy', "
				"'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
				"forbidden");
		json_decref(a);
		json_decref(b);
	} else if (!strcmp(k->plural, "deployments")) {
		if (!json_equal(json_object_get(os, "selector"), json_object_get(ns, "selector")))
			apiserver_cause(causes, "FieldValueInvalid", "spec.selector",
					"Invalid value: v1.LabelSelector{...}: field is immutable");
	} else if (!strcmp(k->plural, "services")) {
		json_t *a = json_object_get(os, "clusterIP"), *b = json_object_get(ns, "clusterIP");
		if (a && b && !json_equal(a, b))
			apiserver_cause(causes, "FieldValueInvalid", "spec.clusterIPs[0]",
					"Invalid value: []string{...}: may not change once set");
	} else if (!strcmp(k->plural, "pods")) {
		/* Only container images may change in a running pod. */
		json_t *a = json_deep_copy(os), *b = json_deep_copy(ns);
		size_t i;
		json_t *ct;
		json_array_foreach (json_object_get(a, "containers"), i, ct)
			json_object_del(ct, "image");
		json_array_foreach (json_object_get(b, "containers"), i, ct)
			json_object_del(ct, "image");
		json_object_del(a, "nodeName");
		json_object_del(b, "nodeName");
		if (!json_equal(a, b))
			apiserver_cause(
				causes, "FieldValueForbidden", "spec",
				"Forbidden: pod updates may not change fields other than "
				"`spec.containers[*].image`,`spec.initContainers[*].image`,"
				"`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions "
				"to "
				"existing tolerations),`spec.terminationGracePeriodSeconds` (allow "
				"it "
				"to be set to 1 if it was previously negative)");
		json_decref(a);
		json_decref(b);
	}
}

/* 422 with the causes; returns true when there were any (and replied). */
static bool reply_if_invalid(struct call *c, const struct store_kind *k, const char *name,
			     json_t *causes)
{
	if (json_array_size(causes) == 0) {
		json_decref(causes);
		return false;
	}
	char *list = xstrdup("");
	size_t i;
	json_t *e;
	json_array_foreach (causes, i, e) {
		char *next = xasprintf("%s%s%s: %s", list, i ? ", " : "", json_str(e, "field"),
				       json_str(e, "message"));
		free(list);
		list = next;
	}
	json_t *d = json_object();
	json_object_set_new(d, "name", json_string(name ? name : ""));
	if (*k->group)
		json_object_set_new(d, "group", json_string(k->group));
	json_object_set_new(d, "kind", json_string(k->kind));
	json_object_set_new(d, "causes", causes);
	if (json_array_size(causes) > 1)
		reply_status(c, 422, "Invalid", d, "%s%s%s \"%s\" is invalid: [%s]", k->kind,
			     *k->group ? "." : "", k->group, name ? name : "", list);
	else
		reply_status(c, 422, "Invalid", d, "%s%s%s \"%s\" is invalid: %s", k->kind,
			     *k->group ? "." : "", k->group, name ? name : "", list);
	free(list);
	return true;
}

/* RBAC's escalation check on a role or binding written (the policybased
 * storages): 403 naming what would be granted without being held. */
static bool reply_if_escalating(struct call *c, const struct store_kind *k, const char *ns,
				const char *name, const json_t *obj)
{
	char *why = rbac_escalation(c->user, k->plural, ns, obj);
	if (!why)
		return false;
	reply_status(c, 403, "Forbidden",
		     json_pack("{s:s, s:s, s:s}", "name", name ? name : "", "group", k->group,
			       "kind", k->plural),
		     "%s \"%s\" is forbidden: %s", store_qualified(k), name ? name : "", why);
	free(why);
	return true;
}

/* --- defaults -------------------------------------------------------------- */

static json_t *obj_child(json_t *parent, const char *key)
{
	json_t *v = json_object_get(parent, key);
	if (!json_is_object(v)) {
		v = json_object();
		json_object_set_new(parent, key, v);
	}
	return v;
}

static void set_default(json_t *obj, const char *key, json_t *value)
{
	if (!json_object_get(obj, key) || json_is_null(json_object_get(obj, key)))
		json_object_set_new(obj, key, value);
	else
		json_decref(value);
}

static void next_cluster_ip(char *buf, size_t len)
{
	static unsigned n = 10;
	n++;
	snprintf(buf, len, "10.96.%u.%u", (n / 250) % 250, n % 250 + 1);
}

/*
 * NodePorts: one range for the whole cluster (30000-32767 by default), a
 * port used by any Service in any namespace is taken
 * (pkg/registry/core/service/portallocator/allocator.go).  A free port is
 * drawn at random, from the upper band first: the lowest
 * min(max(16, size/32), 128) ports are kept for those asked for by number
 * (calculateRangeOffset, allocateDynamic).
 */
#define NODE_PORT_BASE 30000
#define NODE_PORT_SIZE 2768

static bool node_port_type(const json_t *spec)
{
	const char *type = json_str(spec, "type");
	return type && (!strcmp(type, "NodePort") || !strcmp(type, "LoadBalancer"));
}

/* Whether port is taken by a Service other than self (the stored version
 * of the one being written, NULL on create) or by another of obj's ports. */
static bool node_port_taken(json_int_t port, const json_t *self, const json_t *obj, size_t except)
{
	size_t n, i;
	json_t *p;
	json_array_foreach (json_object_get(json_object_get(obj, "spec"), "ports"), i, p) {
		if (i != except && json_integer_value(json_object_get(p, "nodePort")) == port)
			return true;
	}
	struct store_obj **svcs = store_list(store_kind_by_plural("services"), NULL, &n);
	bool taken = false;
	for (size_t j = 0; j < n && !taken; j++) {
		if (svcs[j]->body == self)
			continue;
		json_array_foreach (
			json_object_get(json_object_get(svcs[j]->body, "spec"), "ports"), i, p) {
			if (json_integer_value(json_object_get(p, "nodePort")) == port)
				taken = true;
		}
	}
	free(svcs);
	return taken;
}

static json_int_t next_node_port(const json_t *self, const json_t *obj)
{
	int offset = NODE_PORT_SIZE / 32;
	offset = offset < 16 ? 16 : offset > 128 ? 128 : offset;
	int lo[2] = {offset, 0}, hi[2] = {NODE_PORT_SIZE, offset};
	for (int band = 0; band < 2; band++) {
		int size = hi[band] - lo[band];
		int start = (int)rand_below((uint64_t)size);
		for (int k = 0; k < size; k++) {
			json_int_t port = NODE_PORT_BASE + lo[band] + (start + k) % size;
			if (!node_port_taken(port, self, obj, SIZE_MAX))
				return port;
		}
	}
	return 0;
}

/* 422 causes for nodePorts asked for by number that are outside the range
 * or taken (pkg/registry/core/service/storage/alloc.go, allocNodePorts). */
static void check_node_ports(const json_t *obj, const json_t *old, json_t *causes)
{
	json_t *spec = json_object_get(obj, "spec");
	size_t i;
	json_t *p;
	if (!node_port_type(spec))
		return;
	json_array_foreach (json_object_get(spec, "ports"), i, p) {
		json_int_t np = json_integer_value(json_object_get(p, "nodePort"));
		char *f = xasprintf("spec.ports[%zu].nodePort", i);
		if (np == 0)
			apiserver_cause(causes, "FieldValueInvalid", f,
					"Invalid value: 0: range is full");
		else if (np < NODE_PORT_BASE || np >= NODE_PORT_BASE + NODE_PORT_SIZE)
			apiserver_cause(
				causes, "FieldValueInvalid", f,
				"Invalid value: %lld: provided port is not in the valid range. The "
				"range of valid ports is %d-%d",
				(long long)np, NODE_PORT_BASE, NODE_PORT_BASE + NODE_PORT_SIZE - 1);
		else if (node_port_taken(np, old, obj, i))
			apiserver_cause(causes, "FieldValueInvalid", f,
					"Invalid value: %lld: provided port is already allocated",
					(long long)np);
		free(f);
	}
}

static void default_service(json_t *obj, const json_t *old)
{
	json_t *spec = obj_child(obj, "spec");
	const json_t *ospec = json_object_get(old, "spec");
	set_default(spec, "type", json_string("ClusterIP"));
	set_default(spec, "sessionAffinity", json_string("None"));
	if (!json_object_get(spec, "clusterIP")) {
		json_t *oip = json_object_get(ospec, "clusterIP");
		char ip[32];
		if (oip) {
			json_object_set(spec, "clusterIP", oip);
		} else {
			next_cluster_ip(ip, sizeof(ip));
			json_object_set_new(spec, "clusterIP", json_string(ip));
		}
	}
	json_object_set_new(spec, "clusterIPs",
			    json_pack("[O]", json_object_get(spec, "clusterIP")));
	set_default(spec, "ipFamilies", json_pack("[s]", "IPv4"));
	set_default(spec, "ipFamilyPolicy", json_string("SingleStack"));
	set_default(spec, "internalTrafficPolicy", json_string("Cluster"));
	bool nodeport = node_port_type(spec);
	if (nodeport)
		set_default(spec, "externalTrafficPolicy", json_string("Cluster"));
	size_t i, j;
	json_t *p, *op;
	json_array_foreach (json_object_get(spec, "ports"), i, p) {
		set_default(p, "protocol", json_string("TCP"));
		if (json_object_get(p, "port"))
			set_default(p, "targetPort", json_incref(json_object_get(p, "port")));
	}
	if (!json_object_get(obj, "status"))
		json_object_set_new(obj, "status", json_pack("{s:{}}", "loadBalancer"));
	if (!nodeport)
		return;
	/* pkg/registry/core/service/storage/storage.go, patchAllocatedValues:
	 * a port sent without its nodePort keeps the one the old port of the
	 * same name had, unless another port of the new spec already has it. */
	json_array_foreach (json_object_get(spec, "ports"), i, p) {
		if (json_integer_value(json_object_get(p, "nodePort")) != 0 ||
		    !node_port_type(ospec))
			continue;
		const char *name = json_str(p, "name");
		json_array_foreach (json_object_get(ospec, "ports"), j, op) {
			const char *oname = json_str(op, "name");
			json_int_t onp = json_integer_value(json_object_get(op, "nodePort"));
			if (strcmp(name ? name : "", oname ? oname : "") != 0 || onp == 0)
				continue;
			bool used = false;
			size_t k;
			json_t *q;
			json_array_foreach (json_object_get(spec, "ports"), k, q) {
				if (json_integer_value(json_object_get(q, "nodePort")) == onp)
					used = true;
			}
			if (!used)
				json_object_set_new(p, "nodePort", json_integer(onp));
		}
	}
	json_array_foreach (json_object_get(spec, "ports"), i, p) {
		if (json_integer_value(json_object_get(p, "nodePort")) == 0)
			json_object_set_new(p, "nodePort", json_integer(next_node_port(old, obj)));
	}
}

static void default_template(json_t *spec)
{
	json_t *tmpl = obj_child(spec, "template");
	obj_child(tmpl, "metadata");
	controllers_default_pod_spec(obj_child(tmpl, "spec"));
}

static void apply_defaults(const struct store_kind *k, json_t *obj, const json_t *old)
{
	json_t *meta = obj_child(obj, "metadata");
	if (!strcmp(k->plural, "secrets"))
		configdata_secret_defaults(obj);
	if (!strcmp(k->plural, "namespaces")) {
		json_t *labels = obj_child(meta, "labels");
		json_object_set(labels, "kubernetes.io/metadata.name",
				json_object_get(meta, "name"));
		/* The cluster's own policy on namespaces' pod security, when it
		 * has one (pod_security.force_enforce): set on every write, as a
		 * mutating policy (Kyverno's, say) or a platform's label
		 * synchroniser does, whatever the writer asked. */
		const char *forced = simconf_get()->pod_security_force_enforce;
		if (forced && *forced)
			json_object_set_new(labels, "pod-security.kubernetes.io/enforce",
					    json_string(forced));
		json_object_set_new(obj_child(obj, "spec"), "finalizers",
				    json_pack("[s]", "kubernetes"));
	} else if (!strcmp(k->plural, "statefulsets")) {
		json_t *spec = obj_child(obj, "spec");
		set_default(spec, "replicas", json_integer(1));
		set_default(spec, "podManagementPolicy", json_string("OrderedReady"));
		set_default(spec, "revisionHistoryLimit", json_integer(10));
		set_default(spec, "updateStrategy",
			    json_pack("{s:s, s:{s:i}}", "type", "RollingUpdate", "rollingUpdate",
				      "partition", 0));
		set_default(
			spec, "persistentVolumeClaimRetentionPolicy",
			json_pack("{s:s, s:s}", "whenDeleted", "Retain", "whenScaled", "Retain"));
		default_template(spec);
	} else if (!strcmp(k->plural, "deployments")) {
		json_t *spec = obj_child(obj, "spec");
		set_default(spec, "replicas", json_integer(1));
		set_default(spec, "revisionHistoryLimit", json_integer(10));
		set_default(spec, "progressDeadlineSeconds", json_integer(600));
		set_default(spec, "strategy",
			    json_pack("{s:s, s:{s:s, s:s}}", "type", "RollingUpdate",
				      "rollingUpdate", "maxUnavailable", "25%", "maxSurge", "25%"));
		default_template(spec);
	} else if (!strcmp(k->plural, "services")) {
		default_service(obj, old);
	} else if (!strcmp(k->plural, "pods")) {
		controllers_default_pod(obj_child(obj, "spec"));
	} else if (!strcmp(k->plural, "resourcequotas")) {
		/* Quantities read back in their canonical form ("2048Mi" is "2Gi"). */
		json_t *hard = json_object_get(json_object_get(obj, "spec"), "hard");
		const char *key;
		json_t *v;
		void *tmp;
		json_object_foreach_safe (hard, tmp, key, v) {
			struct quantity q;
			if (controllers_quantity_parse(v, &q)) {
				char *text = controllers_quantity_format(q);
				json_object_set_new(hard, key, json_string(text));
				free(text);
			}
		}
	}
}

/* --- warnings and unknown fields ------------------------------------------- */

/*
 * A warning for the client: a "Warning: 299 - \"text\"" header
 * (staging/src/k8s.io/apiserver/pkg/endpoints/filters/warning.go, the
 * recorder, which drops a repeated text; apimachinery/pkg/util/net,
 * NewWarningHeader: code 299, agent "-", the text quoted as Go's
 * strconv.Quote does).  The record keeps each one sent.
 */
static void warn(struct call *c, const char *text)
{
	size_t n = strlen(text);
	char *quoted = xmalloc(n * 4 + 3), *q = quoted;
	*q++ = '"';
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p == '"' || *p == '\\') {
			*q++ = '\\';
			*q++ = (char)*p;
		} else if (*p < 0x20 || *p == 0x7f) {
			q += snprintf(q, 5, "\\x%02x", *p);
		} else {
			*q++ = (char)*p;
		}
	}
	*q++ = '"';
	*q = '\0';
	char *value = xasprintf("299 - %s", quoted);
	free(quoted);
	for (size_t i = 0; i < c->nwarnings; i++) {
		if (!strcmp(c->warnings[i], value)) {
			free(value);
			return;
		}
	}
	c->warnings = xrealloc(c->warnings, (c->nwarnings + 1) * sizeof(char *));
	c->warnings[c->nwarnings++] = value;
	call_add_header(c, "Warning", value);
	record_api_warning(c->method, c->path, text);
}

enum field_validation {
	FV_IGNORE,
	FV_WARN,
	FV_STRICT
};

/*
 * The fieldValidation parameter: Warn when absent, else exactly Ignore,
 * Warn or Strict; anything else is refused with the options' 422
 * (staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/validation,
 * ValidateFieldValidation).  options: "CreateOptions", "UpdateOptions" or
 * "PatchOptions".
 */
static bool field_validation(struct call *c, const char *options, enum field_validation *fv)
{
	const char *v = call_param(c, "fieldValidation");
	if (!v || !*v || !strcmp(v, "Warn")) {
		*fv = FV_WARN;
		return true;
	}
	if (!strcmp(v, "Ignore")) {
		*fv = FV_IGNORE;
		return true;
	}
	if (!strcmp(v, "Strict")) {
		*fv = FV_STRICT;
		return true;
	}
	char *msg = xasprintf("Unsupported value: \"%s\": supported values: \"\", \"Ignore\", "
			      "\"Strict\", \"Warn\"",
			      v);
	json_t *d = json_pack("{s:s, s:s, s:s, s:[{s:s, s:s, s:s}]}", "name", "", "group",
			      "meta.k8s.io", "kind", options, "causes", "reason",
			      "FieldValueNotSupported", "message", msg, "field", "fieldValidation");
	reply_status(c, 422, "Invalid", d, "%s.meta.k8s.io \"\" is invalid: fieldValidation: %s",
		     options, msg);
	free(msg);
	return false;
}

/* "unknown field \"a\", unknown field \"b\"": strict decoding's list. */
static char *unknown_list(json_t *paths)
{
	char *out = xstrdup("");
	size_t i;
	json_t *p;
	json_array_foreach (paths, i, p) {
		char *next = xasprintf("%s%sunknown field \"%s\"", out, i ? ", " : "",
				       json_string_value(p));
		free(out);
		out = next;
	}
	return out;
}

/*
 * A JSON body (create, update) is decoded strictly: its unknown fields
 * are dropped from obj; under Warn each is a warning, under Strict the
 * request is a 400 (handlers/create.go and update.go, the strict decoding
 * error through transformDecodeError).  False when refused (replied).
 */
static bool decode_fields(struct call *c, const struct store_kind *k, json_t *obj,
			  enum field_validation fv)
{
	json_t *unknown =
		schema_unknown_fields(k->group, k->version, k->kind, obj, SCHEMA_PATHS_JSON, true);
	bool ok = true;
	if (json_array_size(unknown) > 0 && fv == FV_STRICT) {
		char *list = unknown_list(unknown);
		char *msg = xasprintf("%s in version \"%s\" cannot be handled as a %s: strict "
				      "decoding error: %s",
				      k->kind, k->version, k->kind, list);
		reply_bad_request(c, msg);
		free(msg);
		free(list);
		ok = false;
	} else if (fv == FV_WARN) {
		size_t i;
		json_t *p;
		json_array_foreach (unknown, i, p) {
			char *text = xasprintf("unknown field \"%s\"", json_string_value(p));
			warn(c, text);
			free(text);
		}
	}
	json_decref(unknown);
	return ok;
}

/*
 * A server-side apply body becomes a typed value of the kind's schema,
 * which has no room for an unknown field, whatever fieldValidation says:
 * the error is not a Status, so the answer is a 500 with no reason
 * (staging/src/k8s.io/apimachinery/pkg/util/managedfields/internal/
 * structuredmerge.go, Apply: "failed to create typed patch object";
 * structured-merge-diff's "field not declared in schema"; handlers/
 * responsewriters, ErrorToAPIStatus).  False when refused (replied).
 */
static bool typed_patch(struct call *c, const struct store_kind *k, json_t *obj)
{
	json_t *unknown =
		schema_unknown_fields(k->group, k->version, k->kind, obj, SCHEMA_PATHS_SMD, false);
	size_t n = json_array_size(unknown);
	if (n == 0) {
		json_decref(unknown);
		return true;
	}
	char *list = xstrdup(n > 1 ? "errors:" : "");
	size_t i;
	json_t *p;
	json_array_foreach (unknown, i, p) {
		char *next = xasprintf("%s%s%s: field not declared in schema", list,
				       n > 1 ? "\n  " : "", json_string_value(p));
		free(list);
		list = next;
	}
	json_t *meta = json_object_get(obj, "metadata");
	const char *ns = json_str(meta, "namespace");
	const char *name = json_str(meta, "name");
	reply_status(c, 500, NULL, NULL,
		     "failed to create typed patch object (%s/%s; %s/%s, Kind=%s): %s",
		     ns ? ns : "", name ? name : "<unknown>", k->group, k->version, k->kind, list);
	free(list);
	json_decref(unknown);
	return false;
}

/* --- request bodies and merges -------------------------------------------- */

static json_t *parse_body(struct call *c, bool yaml)
{
	json_error_t jerr;
	json_t *v;
	if (yaml) {
		char *err = NULL;
		v = yamljson_parse(c->body, c->body_len, &err);
		if (!v) {
			char *msg = xasprintf("error decoding YAML: %s", err);
			reply_bad_request(c, msg);
			free(msg);
			free(err);
			return NULL;
		}
	} else {
		v = json_loadb(c->body, c->body_len, JSON_DECODE_ANY, &jerr);
		if (!v) {
			char *msg = xasprintf("couldn't get version/kind; json parse error: %s",
					      jerr.text);
			reply_bad_request(c, msg);
			free(msg);
			return NULL;
		}
	}
	if (!json_is_object(v)) {
		json_decref(v);
		reply_bad_request(c, "the body of the request must be an object");
		return NULL;
	}
	return v;
}

/* Check the body's apiVersion and kind against the URL's resource. */
static bool check_type(struct call *c, const struct store_kind *k, json_t *obj, bool required)
{
	const char *av = json_str(obj, "apiVersion");
	const char *kind = json_str(obj, "kind");
	char *msg = NULL;
	if (required && (!av || !kind)) {
		msg = xasprintf("%s is required in the object", !av ? "apiVersion" : "kind");
	} else if (av && strcmp(av, store_api_version(k)) != 0) {
		msg = xasprintf("the API version in the data (%s) does not match the expected API "
				"version (%s)",
				av, store_api_version(k));
	} else if (kind && strcmp(kind, k->kind) != 0) {
		msg = xasprintf("the kind in the data (%s) does not match the expected kind (%s)",
				kind, k->kind);
	}
	if (msg) {
		reply_bad_request(c, msg);
		free(msg);
		return false;
	}
	return true;
}

/* RFC 7386 JSON merge patch, in place. */
static void merge_patch(json_t *target, const json_t *patch)
{
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)patch, k, v) {
		if (json_is_null(v)) {
			json_object_del(target, k);
		} else if (json_is_object(v)) {
			json_t *t = json_object_get(target, k);
			if (!json_is_object(t)) {
				t = json_object();
				json_object_set_new(target, k, t);
			}
			merge_patch(t, v);
		} else {
			json_object_set_new(target, k, json_deep_copy(v));
		}
	}
}

static void strip_system_meta(json_t *obj)
{
	json_t *meta = json_object_get(obj, "metadata");
	static const char *keys[] = {"uid",
				     "resourceVersion",
				     "generation",
				     "creationTimestamp",
				     "deletionTimestamp",
				     "deletionGracePeriodSeconds",
				     "managedFields",
				     "selfLink"};
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		json_object_del(meta, keys[i]);
}

/* --- resource paths --------------------------------------------------------- */

struct target {
	const struct store_kind *kind;
	const char *ns;	  /* NULL: all namespaces or cluster-scoped */
	const char *name; /* NULL: the collection */
	const char *sub;  /* "scale", "status", "proxy" or NULL */
	char **segs;	  /* owned */
	int nsegs;
	int rest; /* index of the first segment after proxy */
};

static void target_free(struct target *t)
{
	for (int i = 0; i < t->nsegs; i++)
		free(t->segs[i]);
	free(t->segs);
}

static void split_path(const char *path, struct target *t)
{
	const char *p = path;
	t->segs = NULL;
	t->nsegs = 0;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char *raw = xstrndup(p, n);
		char *dec = evhttp_uridecode(raw, 0, NULL);
		free(raw);
		t->segs = xrealloc(t->segs, (size_t)(t->nsegs + 1) * sizeof(char *));
		t->segs[t->nsegs++] = dec ? dec : xstrdup("");
		p += n;
	}
}

/* Resolve segments after the group/version prefix (at index i). */
static bool resolve(struct target *t, const char *group, const char *version, int i)
{
	char **s = t->segs;
	int n = t->nsegs - i;
	if (n >= 3 && !strcmp(s[i], "namespaces")) {
		t->ns = s[i + 1];
		t->kind = store_kind_find(group, version, s[i + 2]);
		if (!t->kind || !t->kind->namespaced)
			return false;
		if (n >= 4)
			t->name = s[i + 3];
		if (n >= 5)
			t->sub = s[i + 4];
		t->rest = i + 5;
		if (n > 5 && !(t->sub && !strcmp(t->sub, "proxy")))
			return false;
		return true;
	}
	if (n >= 1) {
		t->kind = store_kind_find(group, version, s[i]);
		if (!t->kind)
			return false;
		if (n >= 2) {
			if (t->kind->namespaced)
				return false;
			t->name = s[i + 1];
		}
		if (n >= 3)
			t->sub = s[i + 2];
		return n <= 3;
	}
	return false;
}

/* --- discovery ------------------------------------------------------------- */

static json_t *resource_list(const char *group, const char *version)
{
	json_t *list = json_array();
	for (size_t i = 0; store_kind_at(i); i++) {
		const struct store_kind *k = store_kind_at(i);
		if (strcmp(k->group, group) != 0 || strcmp(k->version, version) != 0)
			continue;
		json_t *verbs = k->readonly
					? json_pack("[s,s,s,s]", "get", "list", "patch", "watch")
					: json_pack("[s,s,s,s,s,s,s,s]", "create", "delete",
						    "deletecollection", "get", "list", "patch",
						    "update", "watch");
		json_t *r = json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", k->plural,
				      "singularName", k->singular, "namespaced", k->namespaced,
				      "kind", k->kind, "verbs", verbs);
		if (k->short_name)
			json_object_set_new(r, "shortNames", json_pack("[s]", k->short_name));
		json_array_append_new(list, r);
		if (k->scale)
			json_array_append_new(
				list, json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, s:[s,s,s]}", "name",
						k->plural, "singularName", "", "namespaced", 1,
						"group", "autoscaling", "version", "v1", "kind",
						"Scale", "verbs", "get", "patch", "update"));
		if (k->scale) {
			json_t *last = json_array_get(list, json_array_size(list) - 1);
			char *n = xasprintf("%s/scale", k->plural);
			json_object_set_new(last, "name", json_string(n));
			free(n);
		}
		if (strcmp(k->plural, "pods") == 0 || strcmp(k->plural, "resourcequotas") == 0 ||
		    k->scale) {
			char *n = xasprintf("%s/status", k->plural);
			json_array_append_new(list, json_pack("{s:s, s:s, s:b, s:s, s:[s,s,s]}",
							      "name", n, "singularName", "",
							      "namespaced", 1, "kind", k->kind,
							      "verbs", "get", "patch", "update"));
			free(n);
		}
		/* kubectl drain evicts when discovery lists pods/eviction of policy/v1
		 * (staging/src/k8s.io/kubectl/pkg/drain/drain.go, CheckEvictionSupport). */
		if (!strcmp(k->plural, "pods"))
			json_array_append_new(
				list, json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, s:[s]}", "name",
						"pods/eviction", "singularName", "", "namespaced",
						1, "group", "policy", "version", "v1", "kind",
						"Eviction", "verbs", "create"));
		if (!strcmp(k->plural, "services")) {
			json_array_append_new(
				list,
				json_pack("{s:s, s:s, s:b, s:s, s:[s,s,s,s,s,s,s]}", "name",
					  "services/proxy", "singularName", "", "namespaced", 1,
					  "kind", "ServiceProxyOptions", "verbs", "create",
					  "delete", "get", "head", "options", "patch", "update"));
		}
	}
	char *gv = *group ? xasprintf("%s/%s", group, version) : xstrdup("v1");
	json_t *out = json_pack("{s:s, s:s, s:s, s:o}", "kind", "APIResourceList", "apiVersion",
				"v1", "groupVersion", gv, "resources", list);
	free(gv);
	return out;
}

static json_t *api_group(const char *name)
{
	char *gv = xasprintf("%s/v1", name);
	json_t *g = json_pack("{s:s, s:[{s:s, s:s}], s:{s:s, s:s}}", "name", name, "versions",
			      "groupVersion", gv, "version", "v1", "preferredVersion",
			      "groupVersion", gv, "version", "v1");
	free(gv);
	return g;
}

static bool served_group(const char *g)
{
	return !strcmp(g, "apps") || !strcmp(g, "policy") || !strcmp(g, "storage.k8s.io") ||
	       !strcmp(g, "networking.k8s.io") || !strcmp(g, "discovery.k8s.io") ||
	       !strcmp(g, "rbac.authorization.k8s.io") || !strcmp(g, "authorization.k8s.io");
}

static bool serve_discovery(struct call *c, struct target *t)
{
	char **s = t->segs;
	int n = t->nsegs;
	if (n == 1 && !strcmp(s[0], "version")) {
		call_reply_json(c, 200,
				json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "major",
					  "1", "minor", "29", "gitVersion", "v1.29.0", "gitCommit",
					  "3f7a50f38688eb332e2a1b013678c6435d539ae6",
					  "gitTreeState", "clean", "buildDate",
					  "2023-12-13T08:45:03Z", "goVersion", "go1.21.5",
					  "compiler", "gc", "platform", "linux/amd64"));
		return true;
	}
	if (n == 1 && !strcmp(s[0], "api")) {
		call_reply_json(c, 200,
				json_pack("{s:s, s:[s], s:[{s:s, s:s}]}", "kind", "APIVersions",
					  "versions", "v1", "serverAddressByClientCIDRs",
					  "clientCIDR", "0.0.0.0/0", "serverAddress", "127.0.0.1"));
		return true;
	}
	if (n == 2 && !strcmp(s[0], "api") && !strcmp(s[1], "v1")) {
		call_reply_json(c, 200, resource_list("", "v1"));
		return true;
	}
	if (n == 1 && !strcmp(s[0], "apis")) {
		call_reply_json(c, 200,
				json_pack("{s:s, s:s, s:[o,o,o,o,o,o,o]}", "kind", "APIGroupList",
					  "apiVersion", "v1", "groups", api_group("apps"),
					  api_group("policy"), api_group("storage.k8s.io"),
					  api_group("networking.k8s.io"),
					  api_group("discovery.k8s.io"),
					  api_group("rbac.authorization.k8s.io"),
					  api_group("authorization.k8s.io")));
		return true;
	}
	if (n == 2 && !strcmp(s[0], "apis") && served_group(s[1])) {
		json_t *g = api_group(s[1]);
		json_object_set_new(g, "kind", json_string("APIGroup"));
		json_object_set_new(g, "apiVersion", json_string("v1"));
		call_reply_json(c, 200, g);
		return true;
	}
	if (n == 3 && !strcmp(s[0], "apis") && !strcmp(s[2], "v1") && served_group(s[1])) {
		call_reply_json(c, 200,
				!strcmp(s[1], "authorization.k8s.io") ? authz_resource_list()
								      : resource_list(s[1], "v1"));
		return true;
	}
	if (n == 1 &&
	    (!strcmp(s[0], "healthz") || !strcmp(s[0], "livez") || !strcmp(s[0], "readyz"))) {
		call_reply_text(c, 200, "text/plain; charset=utf-8", "ok");
		return true;
	}
	return false;
}

/* --- reads --------------------------------------------------------------------- */

static json_t *for_list(const json_t *obj)
{
	json_t *copy = json_deep_copy(obj);
	json_object_del(copy, "kind");
	json_object_del(copy, "apiVersion");
	return copy;
}

static int cmp_obj(const void *a, const void *b)
{
	const struct store_obj *x = *(struct store_obj *const *)a;
	const struct store_obj *y = *(struct store_obj *const *)b;
	int r = strcmp(x->ns, y->ns);
	return r ? r : strcmp(x->name, y->name);
}

static const char *field_value(const json_t *obj, const char *path)
{
	if (!strcmp(path, "metadata.name"))
		return json_str(json_object_get(obj, "metadata"), "name");
	if (!strcmp(path, "metadata.namespace"))
		return json_str(json_object_get(obj, "metadata"), "namespace");
	if (!strcmp(path, "spec.nodeName"))
		return json_str(json_object_get(obj, "spec"), "nodeName");
	if (!strcmp(path, "status.phase"))
		return json_str(json_object_get(obj, "status"), "phase");
	if (!strncmp(path, "involvedObject.", 15))
		return json_str(json_object_get(obj, "involvedObject"), path + 15);
	if (!strcmp(path, "source"))
		return json_str(json_object_get(obj, "source"), "component");
	if (!strcmp(path, "reason") || !strcmp(path, "type") || !strcmp(path, "reportingComponent"))
		return json_str(obj, path);
	return NULL;
}

/* The fields a kind can be selected by: the metadata's, the pods' and the
 * events' own (pkg/registry/core/pod/strategy.go and
 * pkg/registry/core/event/strategy.go, ToSelectableFields). */
static bool field_supported(const json_t *obj, const char *path)
{
	static const char *const event_fields[] = {"involvedObject.kind",
						   "involvedObject.namespace",
						   "involvedObject.name",
						   "involvedObject.uid",
						   "involvedObject.apiVersion",
						   "involvedObject.resourceVersion",
						   "involvedObject.fieldPath",
						   "reason",
						   "reportingComponent",
						   "source",
						   "type"};
	if (!strcmp(path, "metadata.name") || !strcmp(path, "metadata.namespace") ||
	    !strcmp(path, "spec.nodeName") || !strcmp(path, "status.phase"))
		return true;
	const char *kind = json_str(obj, "kind");
	for (size_t i = 0; kind && !strcmp(kind, "Event") && i < ARRAY_SIZE(event_fields); i++) {
		if (!strcmp(path, event_fields[i]))
			return true;
	}
	return false;
}

/* fieldSelector: comma-joined a=b, a==b, a!=b on the few fields served. */
bool apiserver_field_matches(const json_t *obj, const char *sel, bool *bad)
{
	char *copy = xstrdup(sel);
	bool ok = true;
	char *tok = copy;
	while (tok && ok) {
		char *comma = strchr(tok, ',');
		if (comma)
			*comma = '\0';
		char *op = strstr(tok, "!=");
		bool neg = op != NULL;
		size_t oplen = 2;
		if (!op) {
			op = strstr(tok, "==");
			if (!op) {
				op = strchr(tok, '=');
				oplen = 1;
			}
		}
		if (!op) {
			*bad = true;
			break;
		}
		*op = '\0';
		const char *want = op + oplen;
		if (!field_supported(obj, tok)) {
			*bad = true;
			break;
		}
		const char *have = field_value(obj, tok);
		bool eq = have ? !strcmp(have, want) : !*want;
		ok = neg ? !eq : eq;
		tok = comma ? comma + 1 : NULL;
	}
	free(copy);
	return ok;
}

static void serve_list(struct call *c, struct target *t)
{
	const char *ls = call_param(c, "labelSelector");
	const char *fs = call_param(c, "fieldSelector");
	struct selector sel;
	char *err = NULL;
	size_t n;

	if (!selector_parse(ls ? ls : "", &sel, &err)) {
		reply_bad_request(c, err);
		free(err);
		return;
	}
	struct store_obj **objs = store_list(t->kind, t->ns, &n);
	qsort(objs, n, sizeof(*objs), cmp_obj);
	json_t *items = json_array();
	bool bad = false;
	for (size_t i = 0; i < n; i++) {
		json_t *labels =
			json_object_get(json_object_get(objs[i]->body, "metadata"), "labels");
		if (!selector_matches(&sel, labels))
			continue;
		if (fs && !apiserver_field_matches(objs[i]->body, fs, &bad))
			continue;
		if (bad)
			break;
		json_array_append_new(items, for_list(objs[i]->body));
	}
	free(objs);
	selector_free(&sel);
	if (bad) {
		json_decref(items);
		reply_bad_request(c, "field label not supported");
		return;
	}
	char *kind = xasprintf("%sList", t->kind->kind);
	char rv[32];
	snprintf(rv, sizeof(rv), "%lld", (long long)store_resource_version());
	call_reply_json(c, 200,
			json_pack("{s:s, s:s, s:{s:s}, s:o}", "kind", kind, "apiVersion",
				  store_api_version(t->kind), "metadata", "resourceVersion", rv,
				  "items", items));
	free(kind);
}

/* --- writes ---------------------------------------------------------------------- */

static bool namespace_usable(struct call *c, const struct store_kind *k, const char *ns,
			     const char *name)
{
	if (!k->namespaced)
		return true;
	struct store_obj *nso = store_get(store_kind_by_plural("namespaces"), "", ns);
	if (!nso) {
		reply_not_found(c, store_kind_by_plural("namespaces"), ns);
		return false;
	}
	if (json_object_get(json_object_get(nso->body, "metadata"), "deletionTimestamp")) {
		json_t *d = details_for(k, name);
		json_object_set_new(d, "causes",
				    json_pack("[{s:s, s:s, s:s}]", "reason", "NamespaceTerminating",
					      "message", "namespace is being terminated", "field",
					      "metadata.namespace"));
		reply_status(c, 403, "Forbidden", d,
			     "%s \"%s\" is forbidden: unable to create new content in namespace %s "
			     "because it is being terminated",
			     store_qualified(k), name, ns);
		return false;
	}
	return true;
}

static bool check_namespace_field(struct call *c, const struct store_kind *k, json_t *obj,
				  const char *ns)
{
	json_t *meta = json_object_get(obj, "metadata");
	const char *bns = json_str(meta, "namespace");
	if (k->namespaced && bns && *bns && strcmp(bns, ns) != 0) {
		reply_bad_request(c, "the namespace of the provided object does not match the "
				     "namespace sent on the request");
		return false;
	}
	return true;
}

static void fresh_status(const struct store_kind *k, json_t *obj)
{
	json_object_del(obj, "status");
	if (!strcmp(k->plural, "namespaces"))
		json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Active"));
	else if (!strcmp(k->plural, "pods"))
		json_object_set_new(
			obj, "status",
			json_pack("{s:s, s:s}", "phase", "Pending", "qosClass", "BestEffort"));
	else if (!strcmp(k->plural, "statefulsets") || !strcmp(k->plural, "deployments"))
		json_object_set_new(obj, "status", json_pack("{s:i}", "replicas", 0));
	else if (!strcmp(k->plural, "persistentvolumes"))
		json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Available"));
	else if (!strcmp(k->plural, "persistentvolumeclaims"))
		json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Pending"));
}

static bool may_create(struct call *c, const struct store_kind *k, const char *ns,
		       const char *name);

/*
 * Pod Security's warnings on an admitted write: a pod, or a workload's
 * template, that would violate the namespace's warn level
 * (staging/src/k8s.io/pod-security-admission/admission/admission.go,
 * ValidatePod and ValidatePodController; the pod's enforce level was
 * checked with the quota, controllers_admit_pod).
 */
static void pod_security_warnings(struct call *c, const struct store_kind *k, const char *ns,
				  const json_t *obj)
{
	char *w = NULL;
	if (!strcmp(k->plural, "pods")) {
		char *refusal = podsecurity_admit_pod(ns, obj, &w);
		free(refusal);
	} else if (!strcmp(k->plural, "statefulsets") || !strcmp(k->plural, "deployments")) {
		w = podsecurity_workload_warning(ns, obj);
	}
	if (w)
		warn(c, w);
	free(w);
}

/*
 * The manager of a write that is no apply: fieldManager, else what the
 * client's User-Agent has before its first '/'
 * (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/rest.go,
 * prefixFromUserAgent).
 */
static char *update_manager(struct call *c)
{
	const char *m = call_param(c, "fieldManager");
	if (m && *m)
		return xstrdup(m);
	const char *ua = call_header(c, "User-Agent");
	if (!ua)
		return xstrdup("");
	const char *slash = strchr(ua, '/');
	return xstrndup(ua, slash ? (size_t)(slash - ua) : strlen(ua));
}

/* Take obj's managedFields out before strip_system_meta(), to put back. */
static json_t *keep_managed_fields(json_t *obj)
{
	json_t *mf = json_object_get(json_object_get(obj, "metadata"), "managedFields");
	return mf ? json_incref(mf) : NULL;
}

static void put_managed_fields(json_t *obj, json_t *mf)
{
	if (mf)
		json_object_set_new(obj_child(obj, "metadata"), "managedFields", mf);
}

/* Create obj (reference stolen); replies.  by_apply: a server-side apply
 * creating it, which needs the create verb besides patch, and whose
 * managedFields obj has already. */
static void do_create(struct call *c, const struct store_kind *k, const char *ns, json_t *obj,
		      bool by_apply)
{
	json_t *meta = obj_child(obj, "metadata");
	const char *name = json_str(meta, "name");
	const char *gen = json_str(meta, "generateName");
	bool generated = (!name || !*name) && gen && *gen;
	if (generated) {
		char suffix[11];
		rand_hex(suffix, 5);
		for (int i = 0; i < 5; i++)
			suffix[i] = "bcdfghjklmnpqrstvwxz2456789"[(unsigned char)suffix[i] % 27];
		suffix[5] = '\0';
		char *n = xasprintf("%s%s", gen, suffix);
		json_object_set_new(meta, "name", json_string(n));
		free(n);
		name = json_str(meta, "name");
	}
	json_t *applied_fields = by_apply ? keep_managed_fields(obj) : NULL;
	strip_system_meta(obj);
	put_managed_fields(obj, applied_fields);
	fresh_status(k, obj);
	apply_defaults(k, obj, NULL);
	if (!by_apply) {
		char *manager = update_manager(c);
		managed_update(NULL, obj, manager, store_api_version(k), NULL);
		free(manager);
	}
	json_t *causes = json_array();
	validate(k, obj, causes);
	if (!strcmp(k->plural, "services") && json_array_size(causes) == 0)
		check_node_ports(obj, NULL, causes);
	if (reply_if_invalid(c, k, name, causes) || reply_if_escalating(c, k, ns, name, obj)) {
		json_decref(obj);
		return;
	}
	if (!namespace_usable(c, k, ns, name)) {
		json_decref(obj);
		return;
	}
	if (by_apply && !may_create(c, k, ns, name)) {
		json_decref(obj);
		return;
	}
	if (!strcmp(k->plural, "pods")) {
		/* Admission comes before storage: a full quota refuses even a
		 * name that exists.  A generated name is not known to it yet. */
		char *refusal = controllers_admit_pod(ns, obj);
		if (refusal) {
			const char *shown = generated ? gen : name;
			reply_status(c, 403, "Forbidden", details_for(k, shown),
				     "%s \"%s\" is forbidden: %s", store_qualified(k), shown,
				     refusal);
			free(refusal);
			json_decref(obj);
			return;
		}
	}
	if (store_get(k, ns, name)) {
		reply_status(c, 409, "AlreadyExists", details_for(k, name),
			     "%s \"%s\" already exists", store_qualified(k), name);
		json_decref(obj);
		return;
	}
	pod_security_warnings(c, k, ns, obj);
	struct store_obj *o = store_create(k, ns, obj);
	json_decref(obj);
	call_reply_json(c, 201, json_deep_copy(o->body));
}

/*
 * A patch that creates (server-side apply of a missing object) is also
 * authorized as a create of that object
 * (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go,
 * PatchResource: createAuthorizerAttributes with Verb "create" wraps
 * createValidation; update.go, withAuthorization).  The check comes after
 * validation and admission (registry/generic/registry/store.go, Update:
 * BeforeCreate, then createValidation).  A refusal is NewForbidden with
 * the authorizer's reason, which RBAC leaves empty when no rule matched
 * (plugin/pkg/auth/authorizer/rbac/rbac.go, Authorize).
 */
static bool may_create(struct call *c, const struct store_kind *k, const char *ns, const char *name)
{
	if (!c->user)
		return true; /* only the public paths are anonymous */
	struct rbac_attrs a = {.verb = "create",
			       .resource_request = true,
			       .path = c->path,
			       .group = k->group,
			       .resource = k->plural,
			       .subresource = "",
			       .ns = k->namespaced ? ns : "",
			       .name = name};
	if (rbac_allows(c->user, &a))
		return true;
	reply_forbidden(c, &a, "");
	return false;
}

static bool rv_conflict(const json_t *obj, const struct store_obj *o)
{
	const char *want = json_str(json_object_get(obj, "metadata"), "resourceVersion");
	const char *have = json_str(json_object_get(o->body, "metadata"), "resourceVersion");
	return want && *want && have && strcmp(want, have) != 0;
}

/* Equal but for what the store maintains itself? */
static bool unchanged(const struct store_obj *o, const json_t *obj)
{
	static const char *sys[] = {"uid", "resourceVersion", "generation", "creationTimestamp",
				    "namespace"};
	json_t *a = json_deep_copy(o->body), *b = json_deep_copy(obj);
	json_t *am = obj_child(a, "metadata"), *bm = obj_child(b, "metadata");
	for (size_t i = 0; i < ARRAY_SIZE(sys); i++) {
		json_object_del(am, sys[i]);
		json_object_del(bm, sys[i]);
	}
	/* A change of owners is a change; their times alone are not
	 * (managedfields/internal/managedfieldsupdater.go). */
	json_t *mf[] = {json_object_get(am, "managedFields"), json_object_get(bm, "managedFields")};
	for (size_t i = 0; i < ARRAY_SIZE(mf); i++) {
		size_t j;
		json_t *e;
		json_array_foreach (mf[i], j, e)
			json_object_del(e, "time");
	}
	bool owners_same = json_equal(mf[0], mf[1]) || (!mf[0] && !mf[1]);
	json_object_del(a, "kind");
	json_object_del(b, "kind");
	json_object_del(a, "apiVersion");
	json_object_del(b, "apiVersion");
	for (size_t i = 0; i < ARRAY_SIZE(mf); i++)
		json_object_del(i ? bm : am, "managedFields");
	bool eq = owners_same && json_equal(a, b);
	json_decref(a);
	json_decref(b);
	return eq;
}

/* Write a new version of o (reference to obj stolen); replies.  by_apply:
 * obj has the managedFields of the apply, else the write is recorded as
 * an update by its manager. */
static void do_update(struct call *c, struct store_obj *o, json_t *obj, int code, bool by_apply)
{
	const struct store_kind *k = o->kind;
	json_t *meta = obj_child(obj, "metadata");
	json_t *ometa = json_object_get(o->body, "metadata");
	json_t *applied_fields = by_apply ? keep_managed_fields(obj) : NULL;
	strip_system_meta(obj);
	put_managed_fields(obj, applied_fields);
	/* The main resource does not change status; deletion marks stay. */
	json_object_del(obj, "status");
	if (json_object_get(o->body, "status"))
		json_object_set(obj, "status", json_object_get(o->body, "status"));
	if (json_object_get(ometa, "deletionTimestamp")) {
		json_object_set(meta, "deletionTimestamp",
				json_object_get(ometa, "deletionTimestamp"));
		json_object_set(meta, "deletionGracePeriodSeconds",
				json_object_get(ometa, "deletionGracePeriodSeconds"));
	}
	if (!strcmp(k->plural, "pods") &&
	    json_object_get(json_object_get(o->body, "spec"), "nodeName"))
		json_object_set(obj_child(obj, "spec"), "nodeName",
				json_object_get(json_object_get(o->body, "spec"), "nodeName"));
	json_object_set(meta, "name", json_object_get(ometa, "name"));
	apply_defaults(k, obj, o->body);
	if (!by_apply) {
		char *manager = update_manager(c);
		managed_update(o->body, obj, manager, store_api_version(k), NULL);
		free(manager);
	}
	json_t *causes = json_array();
	validate(k, obj, causes);
	if (json_array_size(causes) == 0)
		validate_update(k, o->body, obj, causes);
	if (!strcmp(k->plural, "services") && json_array_size(causes) == 0)
		check_node_ports(obj, o->body, causes);
	if (reply_if_invalid(c, k, o->name, causes) ||
	    reply_if_escalating(c, k, o->ns, o->name, obj)) {
		json_decref(obj);
		return;
	}
	pod_security_warnings(c, k, o->ns, obj);
	if (!strcmp(k->plural, "namespaces")) {
		char **ws = podsecurity_namespace_warnings(
			o->name, json_object_get(json_object_get(o->body, "metadata"), "labels"),
			json_object_get(json_object_get(obj, "metadata"), "labels"));
		for (size_t i = 0; ws && ws[i]; i++) {
			warn(c, ws[i]);
			free(ws[i]);
		}
		free(ws);
	}
	if (unchanged(o, obj)) {
		/* No change: the real server does not write (resourceVersion stays). */
		json_decref(obj);
		call_reply_json(c, 200, json_deep_copy(o->body));
		return;
	}
	store_update(o, obj);
	call_reply_json(c, code, json_deep_copy(o->body));
}

static void serve_put(struct call *c, struct target *t)
{
	enum field_validation fv;
	if (!field_validation(c, "UpdateOptions", &fv))
		return;
	json_t *obj = parse_body(c, false);
	if (!obj)
		return;
	if (!decode_fields(c, t->kind, obj, fv) || !check_type(c, t->kind, obj, false) ||
	    !check_namespace_field(c, t->kind, obj, t->ns)) {
		json_decref(obj);
		return;
	}
	const char *bname = json_str(json_object_get(obj, "metadata"), "name");
	if (!bname || strcmp(bname, t->name) != 0) {
		json_decref(obj);
		reply_bad_request(c, "the name of the object does not match the name on the URL");
		return;
	}
	struct store_obj *o = store_get(t->kind, t->ns, t->name);
	if (!o) {
		json_decref(obj);
		reply_not_found(c, t->kind, t->name);
		return;
	}
	if (rv_conflict(obj, o)) {
		json_decref(obj);
		reply_conflict(c, t->kind, t->name,
			       "the object has been modified; please apply your changes to the "
			       "latest version and try again");
		return;
	}
	do_update(c, o, obj, 200, false);
}

static void serve_post(struct call *c, struct target *t)
{
	enum field_validation fv;
	if (!field_validation(c, "CreateOptions", &fv))
		return;
	json_t *obj = parse_body(c, false);
	if (!obj)
		return;
	if (!decode_fields(c, t->kind, obj, fv) || !check_type(c, t->kind, obj, false) ||
	    !check_namespace_field(c, t->kind, obj, t->ns ? t->ns : "")) {
		json_decref(obj);
		return;
	}
	do_create(c, t->kind, t->ns ? t->ns : "", obj, false);
}

/* 409 for an apply that would change other managers' fields
 * (managedfields/internal/conflict.go, NewConflictError; errors.go,
 * NewApplyConflict). */
static void reply_apply_conflict(struct call *c, const json_t *conflicts)
{
	json_t *causes = json_array();
	size_t i;
	json_t *x;
	json_array_foreach (conflicts, i, x) {
		char *msg = xasprintf("conflict with %s", json_str(x, "manager"));
		json_array_append_new(causes,
				      json_pack("{s:s, s:s, s:s}", "reason", "FieldManagerConflict",
						"message", msg, "field", json_str(x, "field")));
		free(msg);
	}
	char *msg = managed_conflict_message(conflicts);
	reply_status(c, 409, "Conflict", json_pack("{s:o}", "causes", causes), "%s", msg);
	free(msg);
}

static void serve_apply(struct call *c, struct target *t, struct store_obj *o)
{
	const char *manager = call_param(c, "fieldManager");
	json_t *obj;
	enum field_validation fv;
	if (!field_validation(c, "PatchOptions", &fv))
		return;
	if (!manager || !*manager) {
		json_t *d = json_pack(
			"{s:s, s:s, s:s, s:[{s:s, s:s, s:s}]}", "name", "", "group", "meta.k8s.io",
			"kind", "PatchOptions", "causes", "reason", "FieldValueRequired", "message",
			"Required value: is required for apply patch", "field", "fieldManager");
		reply_status(c, 422, "Invalid", d,
			     "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required "
			     "value: is required for apply patch");
		return;
	}
	obj = parse_body(c, true);
	if (!obj)
		return;
	const char *av = json_str(obj, "apiVersion");
	if (av && strcmp(av, store_api_version(t->kind)) != 0) {
		char *msg = xasprintf("Incorrect version specified in apply patch. Specified patch "
				      "version: %s, expected: %s",
				      av, store_api_version(t->kind));
		reply_bad_request(c, msg);
		free(msg);
		json_decref(obj);
		return;
	}
	if (!check_type(c, t->kind, obj, true) ||
	    !check_namespace_field(c, t->kind, obj, t->ns ? t->ns : "")) {
		json_decref(obj);
		return;
	}
	json_t *meta = json_object_get(obj, "metadata");
	const char *bname = json_str(meta, "name");
	if (bname && strcmp(bname, t->name) != 0) {
		json_decref(obj);
		reply_bad_request(c, "the name of the object does not match the name on the URL");
		return;
	}
	if (json_object_get(meta, "managedFields")) {
		json_decref(obj);
		reply_bad_request(c, "metadata.managedFields must be nil");
		return;
	}
	if (!typed_patch(c, t->kind, obj)) {
		json_decref(obj);
		return;
	}
	json_object_set_new(obj_child(obj, "metadata"), "name", json_string(t->name));
	/* The main resource's apply leaves the status alone. */
	json_object_del(obj, "status");
	bool force = call_param_bool(c, "force", false);
	const char *av_want = store_api_version(t->kind);
	json_t *conflicts = NULL;
	if (!o) {
		if (!namespace_usable(c, t->kind, t->ns ? t->ns : "", t->name)) {
			json_decref(obj);
			return;
		}
		json_t *created = managed_apply(NULL, obj, manager, av_want, force, &conflicts);
		json_decref(obj);
		do_create(c, t->kind, t->ns ? t->ns : "", created, true);
		return;
	}
	if (rv_conflict(obj, o)) {
		json_decref(obj);
		reply_conflict(c, t->kind, t->name,
			       "the object has been modified; please apply your changes to the "
			       "latest version and try again");
		return;
	}
	json_t *merged = managed_apply(o->body, obj, manager, av_want, force, &conflicts);
	json_decref(obj);
	if (!merged) {
		reply_apply_conflict(c, conflicts);
		json_decref(conflicts);
		return;
	}
	do_update(c, o, merged, 200, true);
}

static bool has_prefix(const char *s, const char *prefix)
{
	return s && !strncmp(s, prefix, strlen(prefix));
}

static void serve_patch(struct call *c, struct target *t)
{
	const char *ct = call_header(c, "Content-Type");
	struct store_obj *o = store_get(t->kind, t->ns ? t->ns : "", t->name);
	if (has_prefix(ct, "application/apply-patch+yaml")) {
		serve_apply(c, t, o);
		return;
	}
	bool merge = has_prefix(ct, "application/merge-patch+json");
	bool strategic = has_prefix(ct, "application/strategic-merge-patch+json");
	enum field_validation fv;
	if ((merge || strategic) && !field_validation(c, "PatchOptions", &fv))
		return;
	if (!merge && !strategic) {
		reply_status(c, 415, "UnsupportedMediaType", NULL,
			     "the body of the request was in an unknown format - accepted media "
			     "types include: application/json-patch+json, "
			     "application/merge-patch+json, application/apply-patch+yaml, "
			     "application/strategic-merge-patch+json");
		return;
	}
	if (!o) {
		reply_not_found(c, t->kind, t->name);
		return;
	}
	json_t *patch = parse_body(c, false);
	if (!patch)
		return;
	if (rv_conflict(patch, o)) {
		json_decref(patch);
		reply_conflict(c, t->kind, t->name,
			       "the object has been modified; please apply your changes to the "
			       "latest version and try again");
		return;
	}
	json_t *merged = json_deep_copy(o->body);
	merge_patch(merged, patch);
	json_decref(patch);
	/* The patched object is decoded strictly (handlers/patch.go,
	 * jsonPatcher and smpPatcher): unknown fields are dropped, with a
	 * warning under Warn, and refused under Strict with a 422 whose value
	 * is the patched object. */
	json_t *unknown = schema_unknown_fields(t->kind->group, t->kind->version, t->kind->kind,
						merged, SCHEMA_PATHS_JSON, fv != FV_STRICT);
	if (json_array_size(unknown) > 0 && fv == FV_STRICT) {
		char *list = unknown_list(unknown);
		char *value = json_dumps(merged, JSON_COMPACT);
		json_t *d =
			json_pack("{s:[{s:s, s:s, s:s}]}", "causes", "reason", "FieldValueInvalid",
				  "message", "Invalid value", "field", "patch");
		reply_status(
			c, 422, "Invalid", d,
			" \"\" is invalid: patch: Invalid value: \"%s\": strict decoding error: "
			"%s",
			value, list);
		free(value);
		free(list);
		json_decref(unknown);
		json_decref(merged);
		return;
	}
	if (fv == FV_WARN) {
		size_t i;
		json_t *p;
		json_array_foreach (unknown, i, p) {
			char *text = xasprintf("unknown field \"%s\"", json_string_value(p));
			warn(c, text);
			free(text);
		}
	}
	json_decref(unknown);
	do_update(c, o, merged, 200, false);
}

/* --- scale ------------------------------------------------------------------------ */

static json_t *scale_of(const struct store_obj *o)
{
	json_t *meta = json_object_get(o->body, "metadata");
	json_t *spec = json_object_get(o->body, "spec");
	char *sel =
		selector_string(json_object_get(json_object_get(spec, "selector"), "matchLabels"));
	json_t *s =
		json_pack("{s:s, s:s, s:{s:O, s:O, s:O, s:O, s:O}, s:{s:O}, s:{s:I, s:s}}", "kind",
			  "Scale", "apiVersion", "autoscaling/v1", "metadata", "name",
			  json_object_get(meta, "name"), "namespace",
			  json_object_get(meta, "namespace"), "uid", json_object_get(meta, "uid"),
			  "resourceVersion", json_object_get(meta, "resourceVersion"),
			  "creationTimestamp", json_object_get(meta, "creationTimestamp"), "spec",
			  "replicas", json_object_get(spec, "replicas"), "status", "replicas",
			  (json_int_t)json_integer_value(
				  json_object_get(json_object_get(o->body, "status"), "replicas")),
			  "selector", sel);
	free(sel);
	return s;
}

static void serve_scale(struct call *c, struct target *t)
{
	struct store_obj *o = store_get(t->kind, t->ns, t->name);
	if (!o) {
		reply_not_found(c, t->kind, t->name);
		return;
	}
	if (!strcmp(c->method, "GET")) {
		call_reply_json(c, 200, scale_of(o));
		return;
	}
	json_t *body;
	json_t *current = scale_of(o);
	if (!strcmp(c->method, "PUT")) {
		body = parse_body(c, false);
	} else if (!strcmp(c->method, "PATCH")) {
		const char *ct = call_header(c, "Content-Type");
		bool apply = has_prefix(ct, "application/apply-patch+yaml");
		body = parse_body(c, apply);
		if (body) {
			json_t *merged = json_deep_copy(current);
			merge_patch(merged, body);
			json_decref(body);
			body = merged;
		}
	} else {
		json_decref(current);
		reply_method_not_allowed(c);
		return;
	}
	json_decref(current);
	if (!body)
		return;
	if (rv_conflict(body, o)) {
		json_decref(body);
		reply_conflict(c, t->kind, t->name,
			       "the object has been modified; please apply your changes to the "
			       "latest version and try again");
		return;
	}
	json_t *replicas = json_object_get(json_object_get(body, "spec"), "replicas");
	if (!json_is_integer(replicas) || json_integer_value(replicas) < 0) {
		json_t *causes = json_array();
		apiserver_cause(causes, "FieldValueInvalid", "spec.replicas",
				"Invalid value: %lld: must be greater than or equal to 0",
				(long long)json_integer_value(replicas));
		json_decref(body);
		json_t *d = json_pack("{s:s, s:s, s:s, s:o}", "name", t->name, "group",
				      "autoscaling", "kind", "Scale", "causes", causes);
		reply_status(c, 422, "Invalid", d,
			     "Scale.autoscaling \"%s\" is invalid: spec.replicas: Invalid value: "
			     "%lld: must be greater than or equal to 0",
			     t->name, (long long)json_integer_value(replicas));
		return;
	}
	json_t *next = json_deep_copy(o->body);
	json_object_set(obj_child(next, "spec"), "replicas", replicas);
	json_decref(body);
	if (!json_equal(next, o->body)) {
		char *manager = update_manager(c);
		managed_update(o->body, next, manager, store_api_version(t->kind), "scale");
		free(manager);
		store_update(o, next);
	} else
		json_decref(next);
	call_reply_json(c, 200, scale_of(o));
}

/* --- delete ----------------------------------------------------------------------- */

static json_t *success_status(const struct store_obj *o)
{
	json_t *d = details_for(o->kind, o->name);
	json_object_set(d, "uid", json_object_get(json_object_get(o->body, "metadata"), "uid"));
	return json_pack("{s:s, s:s, s:{}, s:s, s:o}", "kind", "Status", "apiVersion", "v1",
			 "metadata", "status", "Success", "details", d);
}

static void mark_deleting(struct store_obj *o, const char *finalizer)
{
	json_t *body = json_deep_copy(o->body);
	json_t *meta = obj_child(body, "metadata");
	char ts[32];
	store_timestamp(ts, sizeof(ts), now_wall_ms());
	if (!json_object_get(meta, "deletionTimestamp")) {
		json_object_set_new(meta, "deletionTimestamp", json_string(ts));
		json_object_set_new(meta, "deletionGracePeriodSeconds", json_integer(0));
	}
	if (finalizer) {
		json_t *f = json_object_get(meta, "finalizers");
		if (!json_is_array(f)) {
			f = json_array();
			json_object_set_new(meta, "finalizers", f);
		}
		json_array_append_new(f, json_string(finalizer));
	}
	store_update(o, body);
}

static void serve_delete(struct call *c, struct target *t)
{
	json_t *opts = NULL;
	struct store_obj *o = store_get(t->kind, t->ns ? t->ns : "", t->name);
	if (c->body_len > 0) {
		json_error_t jerr;
		opts = json_loadb(c->body, c->body_len, 0, &jerr);
		if (!json_is_object(opts)) {
			json_decref(opts);
			reply_bad_request(c,
					  "the body of the request is not a valid DeleteOptions");
			return;
		}
	}
	if (!o) {
		json_decref(opts);
		reply_not_found(c, t->kind, t->name);
		return;
	}
	json_t *pre = json_object_get(opts, "preconditions");
	const char *puid = json_str(pre, "uid");
	const char *prv = json_str(pre, "resourceVersion");
	json_t *meta = json_object_get(o->body, "metadata");
	const char *uid = json_str(meta, "uid");
	const char *rv = json_str(meta, "resourceVersion");
	if (puid && strcmp(puid, uid) != 0) {
		char *why = xasprintf("Precondition failed: UID in precondition: %s, UID in object "
				      "meta: %s",
				      puid, uid);
		reply_conflict(c, t->kind, t->name, why);
		free(why);
		json_decref(opts);
		return;
	}
	if (prv && strcmp(prv, rv) != 0) {
		char *why = xasprintf("Precondition failed: ResourceVersion in precondition: %s, "
				      "ResourceVersion in object meta: %s",
				      prv, rv);
		reply_conflict(c, t->kind, t->name, why);
		free(why);
		json_decref(opts);
		return;
	}
	const char *policy = json_str(opts, "propagationPolicy");
	if (!policy)
		policy = call_param(c, "propagationPolicy");
	if (policy && strcmp(policy, "Foreground") && strcmp(policy, "Background") &&
	    strcmp(policy, "Orphan")) {
		json_decref(opts);
		json_t *d = json_pack("{s:s, s:s, s:s, s:[{s:s, s:s, s:s}]}", "name", "", "group",
				      "meta.k8s.io", "kind", "DeleteOptions", "causes", "reason",
				      "FieldValueNotSupported", "message",
				      "Unsupported value: ...: supported values: \"Foreground\", "
				      "\"Background\", \"Orphan\", \"nil\"",
				      "field", "propagationPolicy");
		reply_status(c, 422, "Invalid", d,
			     "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: "
			     "Unsupported value: \"%s\": supported values: \"Foreground\", "
			     "\"Background\", \"Orphan\", \"nil\"",
			     policy);
		return;
	}
	/* Copied: opts goes before the policy is used. */
	char policy_buf[16] = "";
	if (policy)
		str_copy_trunc(policy_buf, policy, sizeof(policy_buf));
	policy = policy ? policy_buf : NULL;
	json_t *grace = json_object_get(opts, "gracePeriodSeconds");
	const char *gq = call_param(c, "gracePeriodSeconds");
	int64_t grace_ms = -1, gs;
	if (json_is_integer(grace))
		grace_ms = json_integer_value(grace) * 1000;
	else if (gq && parse_int64(gq, 0, 86400, &gs))
		grace_ms = gs * 1000;
	json_decref(opts);

	const char *plural = t->kind->plural;
	if (!strcmp(plural, "pods")) {
		controllers_delete_pod(o, grace_ms, "api");
		if (o->gone) {
			json_t *body = json_deep_copy(o->body);
			call_reply_json(c, 200, body);
		} else {
			call_reply_json(c, 200, json_deep_copy(o->body));
		}
		return;
	}
	if (!strcmp(plural, "namespaces")) {
		/* pkg/registry/core/namespace/storage/storage.go, REST.Delete: the
		 * first DELETE sets deletionTimestamp and phase Terminating (and the
		 * orphan or foregroundDeletion finalizer the policy asks for) and
		 * answers the namespace; while spec.finalizers still holds
		 * "kubernetes" (the namespace controller has not emptied it yet) a
		 * DELETE is a 409; once finalized, the object goes. */
		if (!json_object_get(meta, "deletionTimestamp")) {
			const char *fin = NULL;
			if (policy && !strcmp(policy, "Foreground"))
				fin = "foregroundDeletion";
			else if (policy && !strcmp(policy, "Orphan"))
				fin = "orphan";
			mark_deleting(o, fin);
			json_t *body = json_deep_copy(o->body);
			json_object_set_new(obj_child(body, "status"), "phase",
					    json_string("Terminating"));
			store_update(o, body);
			controllers_kick();
			call_reply_json(c, 200, json_deep_copy(o->body));
			return;
		}
		if (json_array_size(
			    json_object_get(json_object_get(o->body, "spec"), "finalizers")) > 0) {
			reply_conflict(c, t->kind, t->name,
				       "The system is ensuring all content is removed from this "
				       "namespace.  Upon completion, this namespace will "
				       "automatically be purged by the system.");
			return;
		}
		if (json_array_size(json_object_get(meta, "finalizers")) > 0) {
			call_reply_json(c, 200, json_deep_copy(o->body));
			return;
		}
	}
	/* staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go,
	 * Delete: an object already being deleted is answered as it is;
	 * Foreground and Orphan put their finalizer (foregroundDeletion,
	 * orphan) on it with its deletionTimestamp and answer the object, the
	 * garbage collector takes the finalizer off once the dependents are
	 * gone or let go (sim/controllers.c); Background, the default of the
	 * kinds served here, deletes it at once and the collector deletes the
	 * dependents after. */
	if (json_object_get(meta, "deletionTimestamp")) {
		call_reply_json(c, 200, json_deep_copy(o->body));
		return;
	}
	if (policy && (!strcmp(policy, "Foreground") || !strcmp(policy, "Orphan"))) {
		mark_deleting(o, !strcmp(policy, "Foreground") ? "foregroundDeletion" : "orphan");
		controllers_kick();
		call_reply_json(c, 200, json_deep_copy(o->body));
		return;
	}
	json_t *st = success_status(o);
	store_delete(o);
	controllers_kick();
	call_reply_json(c, 200, st);
}

/* --- the service proxy ------------------------------------------------------------- */

static const char *pod_ip(const json_t *pod)
{
	const char *ip = json_str(json_object_get(pod, "status"), "podIP");
	return ip && *ip ? ip : NULL;
}

/* A ready pod is an endpoint of its Services as the endpoint controller
 * has seen it (controllers_pod_endpoint: a moment after it turned Ready,
 * and as long after it stopped being Ready or started terminating); the
 * service proxy answers from the endpoints
 * (pkg/registry/core/service/storage/storage.go, ResourceLocation). */
static bool endpoint_ready(const struct store_obj *pod)
{
	return pod_ip(pod->body) && controllers_pod_endpoint(pod);
}

/* A dial that NetworkPolicy drops: no answer, no refusal, until the
 * dialer's timeout. */
struct dial_timeout {
	struct call *c;
	char *target; /* "ip:port" */
};

static void dial_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dial_timeout *d = arg;
	struct call *c = d->c;
	event_free(c->timer);
	c->timer = NULL;
	if (call_gone(c)) {
		call_free(c);
	} else {
		c->parked = false;
		if (c->req)
			evhttp_connection_set_closecb(evhttp_request_get_connection(c->req), NULL,
						      NULL);
		/* upgradeaware.go's error responder on the transport's error:
		 * a net.Dialer that gave up is "i/o timeout". */
		reply_proxy_unavailable(
			c, "error trying to reach service: dial tcp %s: i/o timeout", d->target);
	}
	free(d->target);
	free(d);
}

/* The port the proxy dials on pod for the Service port p: its targetPort,
 * a number or the name of a container port (ResourceLocation resolves it
 * through the endpoints), else the port itself. */
static int64_t target_port(const json_t *p, const json_t *pod)
{
	json_t *tp = json_object_get(p, "targetPort");
	if (json_is_integer(tp))
		return json_integer_value(tp);
	if (json_is_string(tp)) {
		size_t i, j;
		json_t *ct, *cp;
		json_array_foreach (json_object_get(json_object_get(pod, "spec"), "containers"), i,
				    ct) {
			json_array_foreach (json_object_get(ct, "ports"), j, cp) {
				const char *n = json_str(cp, "name");
				if (n && !strcmp(n, json_string_value(tp)))
					return json_integer_value(
						json_object_get(cp, "containerPort"));
			}
		}
	}
	return json_integer_value(json_object_get(p, "port"));
}

char *apiserver_service_endpoint(const char *ns, const char *svcname, int port,
				 const struct netpol_source *src, bool *dropped)
{
	struct store_obj *svc = store_get(store_kind_by_plural("services"), ns, svcname);
	json_t *spec = svc ? json_object_get(svc->body, "spec") : NULL;
	json_t *sel = json_object_get(spec, "selector");
	json_t *svc_port = NULL, *p;
	size_t i, n;
	json_array_foreach (json_object_get(spec, "ports"), i, p)
		if (json_integer_value(json_object_get(p, "port")) == port)
			svc_port = p;
	if (!svc_port || json_object_size(sel) == 0)
		return NULL;
	struct store_obj **pods = store_list(store_kind_by_plural("pods"), ns, &n);
	size_t nready = 0;
	static unsigned rr;
	for (size_t j = 0; j < n; j++) {
		const char *k;
		json_t *v;
		bool match = true;
		json_t *labels =
			json_object_get(json_object_get(pods[j]->body, "metadata"), "labels");
		json_object_foreach (sel, k, v)
			if (!json_equal(json_object_get(labels, k), v))
				match = false;
		if (match && endpoint_ready(pods[j]) &&
		    controllers_port_accepts(pods[j], target_port(svc_port, pods[j]->body)))
			pods[nready++] = pods[j];
	}
	struct store_obj *chosen = nready ? pods[rr++ % nready] : NULL;
	char *pod = chosen ? xstrdup(chosen->name) : NULL;
	*dropped = chosen &&
		   !netpol_admits(chosen->body, src, (int)target_port(svc_port, chosen->body));
	free(pods);
	return pod;
}

bool apiserver_service_drops(const char *ns, const char *svcname, const struct netpol_source *src)
{
	struct store_obj *svc = store_get(store_kind_by_plural("services"), ns, svcname);
	json_t *spec = svc ? json_object_get(svc->body, "spec") : NULL;
	json_t *sel = json_object_get(spec, "selector");
	struct store_obj *pod = NULL;
	size_t i, n;
	json_t *p;
	if (json_object_size(sel) == 0)
		return false;
	struct store_obj **pods = store_list(store_kind_by_plural("pods"), ns, &n);
	for (size_t j = 0; j < n && !pod; j++) {
		const char *k;
		json_t *v;
		bool match = true;
		json_t *labels =
			json_object_get(json_object_get(pods[j]->body, "metadata"), "labels");
		json_object_foreach (sel, k, v)
			if (!json_equal(json_object_get(labels, k), v))
				match = false;
		if (match && endpoint_ready(pods[j]))
			pod = pods[j];
	}
	free(pods);
	if (!pod)
		return false;
	json_array_foreach (json_object_get(spec, "ports"), i, p)
		if (netpol_admits(pod->body, src, (int)target_port(p, pod->body)))
			return false;
	return true;
}

static void serve_proxy(struct call *c, struct target *t)
{
	/* [scheme:]name[:port] (pkg/registry/core/service/storage/storage.go,
	 * ResourceLocation: net.SplitSchemeNamePort); the scheme the proxy
	 * speaks to the pod, http by default. */
	bool https = !strncmp(t->name, "https:", 6);
	char *svcname = xstrdup(t->name + (https ? 6 : !strncmp(t->name, "http:", 5) ? 5 : 0));
	char *colon = strchr(svcname, ':');
	const char *port = NULL;
	if (colon) {
		*colon = '\0';
		port = colon + 1;
	}
	const struct store_kind *svck = store_kind_by_plural("services");
	struct store_obj *svc = store_get(svck, t->ns, svcname);
	if (!svc) {
		reply_not_found(c, svck, svcname);
		free(svcname);
		return;
	}
	json_t *spec = json_object_get(svc->body, "spec");
	bool port_ok = !port || !*port;
	size_t i;
	json_t *p, *svc_port = json_array_get(json_object_get(spec, "ports"), 0);
	json_array_foreach (json_object_get(spec, "ports"), i, p) {
		const char *pname = json_str(p, "name");
		char num[16];
		snprintf(num, sizeof(num), "%lld",
			 (long long)json_integer_value(json_object_get(p, "port")));
		if (port && ((pname && !strcmp(pname, port)) || !strcmp(num, port))) {
			port_ok = true;
			svc_port = p;
		}
	}
	/* The endpoints behind the Service: its ready pods, and with
	 * publishNotReadyAddresses its not-ready ones too. */
	char *endpoint = NULL;
	char refused[128] = "", dropped[128] = "";
	json_t *sel = json_object_get(spec, "selector");
	bool not_ready_too = json_is_true(json_object_get(spec, "publishNotReadyAddresses"));
	if (port_ok && json_object_size(sel) > 0) {
		size_t n;
		struct store_obj **pods = store_list(store_kind_by_plural("pods"), t->ns, &n);
		static unsigned rr;
		size_t nready = 0;
		for (size_t j = 0; j < n; j++) {
			const char *k;
			json_t *v;
			bool match = true;
			json_t *labels = json_object_get(json_object_get(pods[j]->body, "metadata"),
							 "labels");
			json_object_foreach (sel, k, v) {
				if (!json_equal(json_object_get(labels, k), v))
					match = false;
			}
			if (match &&
			    (endpoint_ready(pods[j]) || (not_ready_too && pod_ip(pods[j]->body))))
				pods[nready++] = pods[j];
		}
		if (nready > 0) {
			struct store_obj *pod = pods[rr++ % nready];
			int64_t tp = svc_port ? target_port(svc_port, pod->body) : 9200;
			/* The proxy dials the pod from the control plane: a pod
			 * that an ingress NetworkPolicy isolates and no rule of
			 * which admits that address never answers the SYN. */
			struct netpol_source cp = {.ip = simconf_get()->control_plane_ip};
			endpoint = xstrdup(pod->name);
			if (!netpol_admits(pod->body, &cp, (int)tp))
				snprintf(dropped, sizeof(dropped), "%s:%lld", pod_ip(pod->body),
					 (long long)tp);
			/* A port nothing listens on (Elasticsearch binds 9200
			 * once it has joined or given up waiting; a terminating
			 * pod has stopped): the proxy's dial is refused. */
			else if (!controllers_port_accepts(pod, tp))
				snprintf(refused, sizeof(refused), "%s:%lld", pod_ip(pod->body),
					 (long long)tp);
		}
		free(pods);
	}
	if (!endpoint) {
		reply_proxy_unavailable(c, "no endpoints available for service \"%s\"", svcname);
		free(svcname);
		return;
	}
	if (dropped[0]) {
		/* net.Dialer's Timeout (simconf network.proxy_dial_timeout_ms). */
		int ms = simconf_get()->proxy_dial_timeout_ms;
		struct dial_timeout *d = xmalloc(sizeof(*d));
		struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
		d->c = c;
		d->target = xstrdup(dropped);
		call_park(c);
		c->timer = evtimer_new(base, dial_timeout_cb, d);
		evtimer_add(c->timer, &tv);
		free(endpoint);
		free(svcname);
		return;
	}
	if (refused[0]) {
		/* The apiserver's proxy transport failing to dial, answered by
		 * its error responder as a 503 Status
		 * (staging/src/k8s.io/apimachinery/pkg/util/proxy/upgradeaware.go). */
		reply_proxy_unavailable(c,
					"error trying to reach service: dial tcp %s: connect: "
					"connection refused",
					refused);
		free(endpoint);
		free(svcname);
		return;
	}
	/* The rest of the path as received (still percent-encoded). */
	const char *raw = strstr(c->path, "/proxy");
	const char *rest = raw ? raw + strlen("/proxy") : "";
	char *path = xstrdup(*rest ? rest : "/");
	sim_es_proxy(c, t->ns, endpoint, path, https);
	free(endpoint);
	free(path);
	free(svcname);
}

/* --- the simulator's own endpoints ---------------------------------------------------- */

/*
 * POST /_sim/connect {"from": {"namespace", "pod"}, "to": {"namespace",
 * "service", "port"}}: what a TCP connection from a running pod to a
 * Service comes to, as `kubectl exec POD -- curl` would find it: to the
 * cluster IP, kube-proxy sends it to one of the Service's endpoints (on
 * their targetPort); a headless Service's name is its endpoints' addresses,
 * any port; a Service port or endpoint that is not there is refused at
 * once (kube-proxy's REJECT rule, pkg/proxy/iptables/proxier.go), and a
 * pod that an ingress NetworkPolicy isolates drops what no rule admits
 * from the pod's address, namespace and labels (sim/netpol.c), which the
 * client sees as Go's "i/o timeout" after its own timeout.  Answered at
 * once: {"connected": true, "pod": ...} or {"connected": false, "error":
 * ...}; the timeout is not waited for.
 */
static void serve_sim_connect(struct call *c)
{
	json_error_t jerr;
	json_t *body = json_loadb(c->body, c->body_len, 0, &jerr);
	json_t *from = json_object_get(body, "from"), *to = json_object_get(body, "to");
	const char *fns = json_str(from, "namespace"), *fpod = json_str(from, "pod");
	const char *tns = json_str(to, "namespace"), *tsvc = json_str(to, "service");
	json_int_t port = json_integer_value(json_object_get(to, "port"));
	if (!fns || !fpod || !tns || !tsvc || port <= 0) {
		reply_bad_request(c, "expected {\"from\": {\"namespace\", \"pod\"}, \"to\": "
				     "{\"namespace\", \"service\", \"port\"}}");
		json_decref(body);
		return;
	}
	const struct store_kind *podk = store_kind_by_plural("pods");
	const struct store_kind *svck = store_kind_by_plural("services");
	struct store_obj *src = store_get(podk, fns, fpod);
	struct store_obj *svc = store_get(svck, tns, tsvc);
	if (!src || !pod_ip(src->body)) {
		reply_bad_request(c, "the source pod does not exist or has no IP yet");
		json_decref(body);
		return;
	}
	if (!svc) {
		/* The cluster DNS has no such name. */
		call_reply_json(c, 200,
				json_pack("{s:b, s:s++++}", "connected", 0, "error",
					  "dial tcp: lookup ", tsvc, ".", tns,
					  ".svc.cluster.local: no such host"));
		json_decref(body);
		return;
	}
	json_t *spec = json_object_get(svc->body, "spec");
	const char *cip = json_str(spec, "clusterIP");
	/* A headless Service's name resolves to its endpoints' addresses,
	 * which the client dials on any port it likes. */
	bool headless = !cip || !strcmp(cip, "None");
	char dest[96];
	snprintf(dest, sizeof(dest), "%s:%lld", headless ? "?" : cip, (long long)port);
	size_t i;
	json_t *p, *svc_port = NULL;
	json_array_foreach (json_object_get(spec, "ports"), i, p) {
		if (json_integer_value(json_object_get(p, "port")) == port)
			svc_port = p;
	}
	struct store_obj *endpoint = NULL;
	json_t *sel = json_object_get(spec, "selector");
	if ((svc_port || headless) && json_object_size(sel) > 0) {
		size_t n;
		struct store_obj **pods = store_list(podk, tns, &n);
		for (size_t j = 0; j < n && !endpoint; j++) {
			const char *k;
			json_t *v;
			bool match = true;
			json_t *labels = json_object_get(json_object_get(pods[j]->body, "metadata"),
							 "labels");
			json_object_foreach (sel, k, v) {
				if (!json_equal(json_object_get(labels, k), v))
					match = false;
			}
			if (match && endpoint_ready(pods[j]))
				endpoint = pods[j];
		}
		free(pods);
	}
	json_t *answer;
	if (!endpoint) {
		answer = json_pack("{s:b, s:s++}", "connected", 0, "error", "dial tcp ", dest,
				   ": connect: connection refused");
	} else {
		int64_t tp = headless ? port : target_port(svc_port, endpoint->body);
		if (headless)
			snprintf(dest, sizeof(dest), "%s:%lld", pod_ip(endpoint->body),
				 (long long)port);
		struct netpol_source sp = {
			.ip = pod_ip(src->body),
			.ns = fns,
			.labels = json_object_get(json_object_get(src->body, "metadata"), "labels"),
		};
		if (!netpol_admits(endpoint->body, &sp, (int)tp))
			answer = json_pack("{s:b, s:s, s:s++}", "connected", 0, "pod",
					   endpoint->name, "error", "dial tcp ", dest,
					   ": i/o timeout");
		else if (!controllers_port_accepts(endpoint, tp))
			answer = json_pack("{s:b, s:s, s:s++}", "connected", 0, "pod",
					   endpoint->name, "error", "dial tcp ", dest,
					   ": connect: connection refused");
		else
			answer = json_pack("{s:b, s:s}", "connected", 1, "pod", endpoint->name);
	}
	call_reply_json(c, 200, answer);
	json_decref(body);
}

/*
 * PUT /_sim/nodes/{name}/disk {"other_bytes"?, "total_bytes"?}: the files
 * on a node's filesystem besides the shard copies Elasticsearch keeps
 * there, and its size (sim/esdisk.h); each a number of bytes or a size
 * ("90gb").  GET answers the node's settings.
 */
static bool disk_size(json_t *body, const char *key, int64_t *out, char **err)
{
	json_t *v = json_object_get(body, key);
	*out = -1;
	if (!v)
		return true;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = json_integer_value(v);
		return true;
	}
	if (json_is_string(v) && simconf_bytes(json_string_value(v), out) && *out >= 0)
		return true;
	*err = xasprintf("%s: a number of bytes or a size such as \"90gb\" is expected", key);
	return false;
}

static void serve_sim_disk(struct call *c, const char *node)
{
	if (!store_get(store_kind_by_plural("nodes"), "", node)) {
		reply_not_found(c, store_kind_by_plural("nodes"), node);
		return;
	}
	if (!strcmp(c->method, "PUT")) {
		json_error_t jerr;
		char *err = NULL;
		int64_t other, total;
		json_t *body = json_loadb(c->body, c->body_len, 0, &jerr);
		if (!json_is_object(body)) {
			reply_bad_request(c, body ? "an object is expected" : jerr.text);
			json_decref(body);
			return;
		}
		bool ok = disk_size(body, "other_bytes", &other, &err) &&
			  disk_size(body, "total_bytes", &total, &err) &&
			  esdisk_set_host(node, other, total, &err);
		json_decref(body);
		if (!ok) {
			reply_bad_request(c, err);
			free(err);
			return;
		}
		controllers_kick();
	} else if (strcmp(c->method, "GET") != 0) {
		reply_method_not_allowed(c);
		return;
	}
	call_reply_json(c, 200,
			json_pack("{s:s, s:I, s:I}", "node", node, "total_bytes",
				  (json_int_t)esdisk_total(node), "other_bytes",
				  (json_int_t)esdisk_other(node)));
}

static void serve_sim(struct call *c, struct target *t)
{
	if (t->nsegs >= 5 && !strcmp(t->segs[1], "pods") && !strcmp(t->segs[4], "es")) {
		/* A request to the node's HTTP port as from a pod beside it, which
		 * the simulator has no network for: the path after .../es, the
		 * node's own Authorization header in X-Es-Authorization (the
		 * simulator's own takes the bearer token). */
		const char *raw = c->path;
		for (int i = 0; i < 5 && raw; i++)
			raw = strchr(raw + 1, '/');
		sim_es_direct(c, t->segs[2], t->segs[3], raw ? raw : "/",
			      call_header(c, "X-Es-Authorization"));
		return;
	}
	if (t->nsegs == 2 && !strcmp(t->segs[1], "state")) {
		if (!strcmp(c->method, "GET")) {
			json_t *st = record_json();
			json_object_set_new(st, "clusters", sim_es_state());
			json_object_set_new(st, "faults", faults_json());
			json_object_set_new(st, "disks", esdisk_json());
			json_object_set_new(st, "service_account_tokens", rbac_tokens_json());
			json_object_set_new(st, "api_requests",
					    json_pack("{s:I, s:I, s:o}", "total",
						      (json_int_t)api_requests, "watches",
						      (json_int_t)api_watches, "by_verb",
						      api_by_verb ? json_deep_copy(api_by_verb)
								  : json_object()));
			json_object_set_new(st, "watches", watch_state());
			call_reply_json(c, 200, st);
		} else if (!strcmp(c->method, "DELETE")) {
			record_clear();
			api_requests = api_watches = 0;
			json_object_clear(api_by_verb);
			call_reply_json(c, 200, json_pack("{s:b}", "acknowledged", 1));
		} else {
			reply_method_not_allowed(c);
		}
		return;
	}
	if (t->nsegs == 3 && !strcmp(t->segs[1], "watches") && !strcmp(t->segs[2], "close")) {
		/* What a restart of the API server does to its watchers; with
		 * ?compact=true an etcd compaction too (sim/watch.h). */
		if (!strcmp(c->method, "POST")) {
			int n = watch_close_all(call_param_bool(c, "compact", false));
			call_reply_json(c, 200, json_pack("{s:i}", "closed", n));
		} else {
			reply_method_not_allowed(c);
		}
		return;
	}
	if (t->nsegs == 2 && !strcmp(t->segs[1], "faults")) {
		if (!strcmp(c->method, "GET")) {
			call_reply_json(c, 200, faults_json());
		} else if (!strcmp(c->method, "POST")) {
			json_error_t jerr;
			char *err = NULL;
			json_t *body = json_loadb(c->body, c->body_len, JSON_DECODE_ANY, &jerr);
			if (!body) {
				reply_bad_request(c, jerr.text);
				return;
			}
			if (!faults_add(body, &err)) {
				reply_bad_request(c, err);
				free(err);
			} else {
				controllers_kick();
				call_reply_json(c, 200, faults_json());
			}
			json_decref(body);
		} else if (!strcmp(c->method, "DELETE")) {
			faults_clear();
			controllers_kick();
			call_reply_json(c, 200, faults_json());
		} else {
			reply_method_not_allowed(c);
		}
		return;
	}
	if (t->nsegs == 2 && !strcmp(t->segs[1], "connect")) {
		if (!strcmp(c->method, "POST"))
			serve_sim_connect(c);
		else
			reply_method_not_allowed(c);
		return;
	}
	if (t->nsegs == 4 && !strcmp(t->segs[1], "nodes") && !strcmp(t->segs[3], "disk")) {
		serve_sim_disk(c, t->segs[2]);
		return;
	}
	if (t->nsegs == 2 && !strcmp(t->segs[1], "nodes")) {
		if (!strcmp(c->method, "POST")) {
			char *name = controllers_add_node();
			call_reply_json(c, 201, json_pack("{s:s}", "name", name));
			free(name);
		} else {
			reply_method_not_allowed(c);
		}
		return;
	}
	reply_no_resource(c);
}

/* --- eviction ------------------------------------------------------------------------ */

/* Pods' eviction subresource takes a POST (create) only (sim/disruption.c). */
static void serve_eviction(struct call *c, struct target *t)
{
	if (strcmp(c->method, "POST") != 0) {
		reply_method_not_allowed(c);
		return;
	}
	disruption_evict(c, t->ns, t->name);
}

/* --- dispatch ------------------------------------------------------------------------ */

static void route(struct call *c)
{
	struct target t;
	memset(&t, 0, sizeof(t));
	split_path(c->path, &t);
	if (t.nsegs >= 1 && !strcmp(t.segs[0], "_sim")) {
		serve_sim(c, &t);
		goto done;
	}
	if (serve_discovery(c, &t) || authz_serve(c, t.segs, t.nsegs))
		goto done;
	bool ok = false;
	if (t.nsegs >= 3 && !strcmp(t.segs[0], "api") && !strcmp(t.segs[1], "v1"))
		ok = resolve(&t, "", "v1", 2);
	else if (t.nsegs >= 4 && !strcmp(t.segs[0], "apis"))
		ok = resolve(&t, t.segs[1], t.segs[2], 3);
	if (!ok) {
		reply_no_resource(c);
		goto done;
	}
	if (t.sub) {
		if (!strcmp(t.sub, "proxy") && !strcmp(t.kind->plural, "services"))
			serve_proxy(c, &t);
		else if (!strcmp(t.sub, "scale") && t.kind->scale)
			serve_scale(c, &t);
		else if (!strcmp(t.sub, "eviction") && !strcmp(t.kind->plural, "pods") && t.ns)
			serve_eviction(c, &t);
		else
			reply_no_resource(c);
		goto done;
	}
	if (!t.name) {
		if (!strcmp(c->method, "GET") && call_param_bool(c, "watch", false))
			watch_serve(c, t.kind, t.ns);
		else if (!strcmp(c->method, "GET"))
			serve_list(c, &t);
		else if (!strcmp(c->method, "POST") && !t.kind->readonly &&
			 (t.ns || !t.kind->namespaced))
			serve_post(c, &t);
		else
			reply_method_not_allowed(c);
		goto done;
	}
	if (!strcmp(c->method, "GET")) {
		struct store_obj *o = store_get(t.kind, t.ns ? t.ns : "", t.name);
		if (o)
			call_reply_json(c, 200, json_deep_copy(o->body));
		else
			reply_not_found(c, t.kind, t.name);
	} else if (t.kind->readonly && strcmp(c->method, "PATCH") != 0) {
		reply_method_not_allowed(c);
	} else if (!strcmp(c->method, "PUT")) {
		serve_put(c, &t);
	} else if (!strcmp(c->method, "PATCH")) {
		serve_patch(c, &t);
	} else if (!strcmp(c->method, "DELETE")) {
		serve_delete(c, &t);
	} else {
		reply_method_not_allowed(c);
	}
done:
	target_free(&t);
}

static bool is_proxy_path(const char *path)
{
	return strstr(path, "/proxy") != NULL && !strncmp(path, "/api/v1/namespaces/", 19);
}

static void reply_fault(struct call *c, const struct faults_hit *hit)
{
	if (hit->status == 429 && !is_proxy_path(c->path)) {
		/* The API server's own 429 (max-in-flight or priority and
		 * fairness): staging/src/k8s.io/apiserver/pkg/server/filters/
		 * maxinflight.go, tooManyRequests: Retry-After 1 and http.Error's
		 * plain text, no Status. */
		char buf[16];
		snprintf(buf, sizeof(buf), "%d", hit->retry_after > 0 ? hit->retry_after : 1);
		call_add_header(c, "Retry-After", buf);
		call_add_header(c, "X-Content-Type-Options", "nosniff");
		call_reply_text(c, 429, "text/plain; charset=utf-8",
				"Too many requests, please try again later.\n");
		return;
	}
	if (hit->retry_after > 0) {
		char buf[16];
		snprintf(buf, sizeof(buf), "%d", hit->retry_after);
		call_add_header(c, "Retry-After", buf);
	}
	const char *msg = hit->message ? hit->message : "injected fault";
	if (is_proxy_path(c->path)) {
		/* What Elasticsearch says when it cannot serve. */
		const char *type = hit->status == 429 ? "es_rejected_execution_exception"
						      : "cluster_block_exception";
		call_reply_json(c, hit->status,
				json_pack("{s:{s:[{s:s, s:s}], s:s, s:s}, s:i}", "error",
					  "root_cause", "type", type, "reason", msg, "type", type,
					  "reason", msg, "status", hit->status));
		return;
	}
	const char *reason = "InternalError";
	switch (hit->status) {
	case 400:
		reason = "BadRequest";
		break;
	case 401:
		reason = "Unauthorized";
		break;
	case 403:
		reason = "Forbidden";
		break;
	case 404:
		reason = "NotFound";
		break;
	case 409:
		reason = "Conflict";
		break;
	case 429:
		reason = "TooManyRequests";
		break;
	case 503:
		reason = "ServiceUnavailable";
		break;
	case 504:
		reason = "Timeout";
		break;
	}
	json_t *d = NULL;
	if (hit->status == 429 && hit->retry_after > 0)
		d = json_pack("{s:i}", "retryAfterSeconds", hit->retry_after);
	reply_status(c, hit->status, reason, d, "%s", msg);
}

static void go_on(struct call *c, struct faults_hit *hit)
{
	if (hit->status)
		reply_fault(c, hit);
	else
		route(c);
	free(hit->message);
	hit->message = NULL;
}

struct delayed {
	struct call *c;
	struct faults_hit hit;
};

static void delayed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct delayed *d = arg;
	struct call *c = d->c;
	event_free(c->timer);
	c->timer = NULL;
	if (call_gone(c)) {
		free(d->hit.message);
		call_free(c);
	} else {
		c->parked = false;
		if (c->req)
			evhttp_connection_set_closecb(evhttp_request_get_connection(c->req), NULL,
						      NULL);
		go_on(c, &d->hit);
	}
	free(d);
}

/* --- authentication and authorization ------------------------------------------- */

/*
 * The user of the request; *bad when credentials were given that are no
 * one's.  A client certificate the CA issued comes first, as the x509
 * authenticator precedes the token ones in the API server's union
 * (pkg/kubeapiserver/authenticator/config.go); a certificate that does
 * not verify leaves the decision to the bearer token, and with none it is
 * a 401 (staging/src/k8s.io/apiserver/pkg/authentication/request/union).
 */
static const struct rbac_user *authenticate(struct call *c, bool *bad)
{
	const char *h = call_header(c, "Authorization");
	char *cn, **orgs;
	*bad = false;
	if (sim_tls_peer(c->req, &cn, &orgs)) {
		const struct rbac_user *u =
			cn ? rbac_cert_user(cn, (const char *const *)orgs) : NULL;
		free(cn);
		for (size_t i = 0; orgs && orgs[i]; i++)
			free(orgs[i]);
		free(orgs);
		if (u)
			return u;
		*bad = !h;
	}
	if (!h)
		return NULL;
	const struct rbac_user *u = strncmp(h, "Bearer ", 7) == 0 ? rbac_authenticate(h + 7) : NULL;
	*bad = u == NULL;
	return u;
}

static const char *lower_method(const char *m)
{
	static const char *const map[][2] = {
		{"GET", "get"},	    {"HEAD", "head"},	  {"POST", "post"},	  {"PUT", "put"},
		{"PATCH", "patch"}, {"DELETE", "delete"}, {"OPTIONS", "options"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
		if (!strcmp(m, map[i][0]))
			return map[i][1];
	}
	return "";
}

/* metadata.name=NAME (or ==) as the whole field selector: the name it asks for. */
static const char *selector_name(struct call *c)
{
	const char *fs = call_param(c, "fieldSelector");
	if (!fs)
		return NULL;
	if (!strncmp(fs, "metadata.name==", 15))
		fs += 15;
	else if (!strncmp(fs, "metadata.name=", 14))
		fs += 14;
	else
		return NULL;
	return *fs && !strchr(fs, ',') && !strchr(fs, '/') ? fs : NULL;
}

/*
 * What the request asks, as the API server reads it from the method and
 * the path (staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go,
 * RequestInfoFactory.NewRequestInfo): /api/v1/... and /apis/GROUP/VERSION/...
 * with at least one segment after the version are resource requests, the
 * rest are non-resource (verb: the method in lower case).  POST create, GET
 * and HEAD get (list, or watch with ?watch=1, without a name), PUT update,
 * PATCH patch, DELETE delete (deletecollection without a name).  Segments
 * are resource/name/subresource after namespaces/NS (which is itself the
 * resource namespaces when nothing but status or finalize follows).
 * The strings point into segs.
 */
static void request_attrs(struct call *c, char **segs, int nsegs, struct rbac_attrs *a)
{
	memset(a, 0, sizeof(*a));
	a->path = c->path;
	a->verb = lower_method(c->method);
	int i;
	if (nsegs >= 3 && !strcmp(segs[0], "api")) {
		a->group = "";
		i = 2;
	} else if (nsegs >= 4 && !strcmp(segs[0], "apis")) {
		a->group = segs[1];
		i = 3;
	} else {
		return;
	}
	a->resource_request = true;
	a->ns = "";
	a->name = "";
	a->subresource = "";
	a->resource = "";
	bool proxy_verb = false;
	if (!strcmp(segs[i], "proxy") || !strcmp(segs[i], "watch")) {
		/* The deprecated /api/v1/watch/... and /api/v1/proxy/... forms. */
		a->verb = segs[i];
		proxy_verb = !strcmp(segs[i], "proxy");
		i++;
	} else if (!strcmp(c->method, "POST")) {
		a->verb = "create";
	} else if (!strcmp(c->method, "GET") || !strcmp(c->method, "HEAD")) {
		a->verb = "get";
	} else if (!strcmp(c->method, "PUT")) {
		a->verb = "update";
	} else if (!strcmp(c->method, "PATCH")) {
		a->verb = "patch";
	} else if (!strcmp(c->method, "DELETE")) {
		a->verb = "delete";
	} else {
		a->verb = "";
	}
	if (i < nsegs && !strcmp(segs[i], "namespaces") && i + 1 < nsegs) {
		a->ns = segs[i + 1];
		if (i + 2 < nsegs && strcmp(segs[i + 2], "status") != 0 &&
		    strcmp(segs[i + 2], "finalize") != 0)
			i += 2;
	}
	int parts = nsegs - i;
	if (parts >= 3 && !proxy_verb)
		a->subresource = segs[i + 2];
	if (parts >= 2)
		a->name = segs[i + 1];
	if (parts >= 1)
		a->resource = segs[i];
	if (!*a->name && !strcmp(a->verb, "get")) {
		a->verb = call_param_bool(c, "watch", false) ? "watch" : "list";
		const char *n = selector_name(c);
		if (n)
			a->name = n;
	}
	if (!*a->name && !strcmp(a->verb, "delete"))
		a->verb = "deletecollection";
}

/*
 * The 403 of the authorization filter
 * (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go,
 * Forbidden): a Forbidden Status for the group and resource (without the
 * subresource) and the name, the message saying who cannot do what.
 */
static void reply_forbidden(struct call *c, const struct rbac_attrs *a, const char *reason)
{
	json_t *d = json_object();
	if (a->name && *a->name)
		json_object_set_new(d, "name", json_string(a->name));
	if (a->group && *a->group)
		json_object_set_new(d, "group", json_string(a->group));
	if (a->resource_request)
		json_object_set_new(d, "kind", json_string(a->resource));
	char *qualified = a->group && *a->group ? xasprintf("%s.%s", a->resource, a->group)
						: xstrdup(a->resource_request ? a->resource : "");
	char *named = a->name && *a->name ? xasprintf("%s \"%s\"", qualified, a->name)
					  : xstrdup(qualified);
	/* apimachinery/pkg/api/errors, NewForbidden: "<resource> \"<name>\" is forbidden: <err>". */
	if (reason)
		reply_status(c, 403, "Forbidden", d, "%s is forbidden: %s", named, reason);
	else {
		char *msg = rbac_forbidden_message(c->user, a);
		if (*named)
			reply_status(c, 403, "Forbidden", d, "%s is forbidden: %s", named, msg);
		else
			reply_status(c, 403, "Forbidden", d, "forbidden: %s", msg);
		free(msg);
	}
	free(named);
	free(qualified);
}

static bool public_path(const char *path)
{
	return !strcmp(path, "/healthz") || !strcmp(path, "/livez") || !strcmp(path, "/readyz") ||
	       !strcmp(path, "/version");
}

static void request_cb(struct evhttp_request *req, void *arg)
{
	struct call *c = call_new(req);
	struct faults_hit hit;

	log_debug("%s %s%s%s", c->method, c->path, c->query_raw ? "?" : "",
		  c->query_raw ? c->query_raw : "");
	/*
	 * Authentication, then authorization, before anything else
	 * (staging/src/k8s.io/apiserver/pkg/server/config.go,
	 * DefaultBuildHandlerChain: WithAuthorization inside WithAuthentication).
	 * A token that is no one's is a 401 everywhere; no token is a 401 too
	 * but on the paths that system:public-info-viewer opens to everyone.
	 */
	bool bad;
	c->user = authenticate(c, &bad);
	if (bad || (!c->user && !public_path(c->path))) {
		reply_status(c, 401, "Unauthorized", NULL, "Unauthorized");
		return;
	}
	if (c->user) {
		struct target t;
		struct rbac_attrs a;
		memset(&t, 0, sizeof(t));
		split_path(c->path, &t);
		request_attrs(c, t.segs, t.nsegs, &a);
		if (a.resource_request && strncmp(c->path, "/_sim/", 6) != 0) {
			char *key = xasprintf("%s %s%s%s", a.verb, a.resource,
					      a.subresource && *a.subresource ? "/" : "",
					      a.subresource ? a.subresource : "");
			if (!api_by_verb)
				api_by_verb = json_object();
			json_object_set_new(
				api_by_verb, key,
				json_integer(json_integer_value(json_object_get(api_by_verb, key)) +
					     1));
			free(key);
		}
		if (!rbac_allows(c->user, &a)) {
			reply_forbidden(c, &a, NULL);
			target_free(&t);
			return;
		}
		target_free(&t);
	}
	if (strcmp(c->method, "GET") != 0 && strcmp(c->method, "HEAD") != 0 &&
	    strncmp(c->path, "/_sim/", 6) != 0)
		record_request(c->method, c->path, c->query_raw);
	if (!strncmp(c->path, "/_sim/", 6)) {
		route(c);
		return;
	}
	api_requests++;
	if (call_param_bool(c, "watch", false))
		api_watches++;
	faults_check(c->method, c->path, c->query_raw, &hit);
	if (hit.hang) {
		free(hit.message);
		for (size_t i = 0; i < ARRAY_SIZE(hung); i++) {
			if (!hung[i] || call_gone(hung[i])) {
				if (hung[i])
					call_free(hung[i]);
				hung[i] = c;
				call_park(c);
				return;
			}
		}
		/* Too many hung already: this one hangs until the client gives up too. */
		call_park(c);
		call_free(c);
		return;
	}
	if (hit.latency_ms > 0) {
		struct delayed *d = xmalloc(sizeof(*d));
		struct timeval tv = {hit.latency_ms / 1000, (hit.latency_ms % 1000) * 1000};
		d->c = c;
		d->hit = hit;
		call_park(c);
		c->timer = evtimer_new(base, delayed_cb, d);
		evtimer_add(c->timer, &tv);
		return;
	}
	go_on(c, &hit);
}

bool apiserver_start(struct event_base *b, const char *host, int port, bool tls, int *bound_port,
		     char **err)
{
	struct evhttp_bound_socket *sock;
	base = b;
	http = evhttp_new(base);
	if (tls)
		sim_tls_serve(http);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
						 EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						 EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
	evhttp_set_max_body_size(http, APISERVER_MAX_BODY);
	evhttp_set_gencb(http, request_cb, NULL);
	sock = evhttp_bind_socket_with_handle(http, host, (ev_uint16_t)port);
	if (!sock) {
		*err = xasprintf("cannot listen on %s:%d", host, port);
		return false;
	}
	/* TLS writes a reply as several records: without this, Nagle's algorithm
	 * and the client's delayed ACK hold the last one back some 40 ms.
	 * Accepted sockets inherit it from the listening one (Linux). */
	int one = 1;
	setsockopt(evhttp_bound_socket_get_fd(sock), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct sockaddr_storage ss;
	ev_socklen_t len = sizeof(ss);
	if (getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET)
			*bound_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else
			*bound_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	} else {
		*bound_port = port;
	}
	return true;
}

void apiserver_stop(void)
{
	json_decref(api_by_verb);
	api_by_verb = NULL;
	if (http)
		evhttp_free(http);
	http = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(hung); i++) {
		if (hung[i])
			call_free(hung[i]);
		hung[i] = NULL;
	}
}
