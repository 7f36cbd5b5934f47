/*
 * The endpoint controllers of kube-controller-manager: for every Service
 * with a selector, an Endpoints object of the Service's name and an
 * EndpointSlice per set of ports, written from what the controllers have
 * seen of the pods (controllers_pod_endpoint(), the lag of their informer
 * and sync), only when something changed.
 *
 * Endpoints (pkg/controller/endpoint/endpoints_controller.go, syncService):
 * a pod with an address and not in a terminal phase is in `addresses` when
 * it is ready (or the Service publishes not-ready addresses), else in
 * `notReadyAddresses`; a terminating pod is left out unless the Service
 * publishes not-ready addresses (endpointslice/util ShouldPodBeInEndpoints).
 *
 * EndpointSlices (pkg/controller/endpointslice/reconciler.go, utils.go
 * podToEndpoint): terminating pods are kept, with `ready` only for a
 * serving pod that is not terminating (or every pod when the Service
 * publishes not-ready addresses), `serving` the pod's Ready condition,
 * `terminating` its deletionTimestamp; labelled with the Service's name and
 * the managing controller, owned by the Service.
 */
#include "sim/endpoints.h"

#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "sim/controllers.h"
#include "sim/store.h"

#define SLICE_MANAGER "endpointslice-controller.k8s.io"

static const struct store_kind *K(const char *plural)
{
	return store_kind_by_plural(plural);
}

static json_t *meta(const json_t *o)
{
	return json_object_get(o, "metadata");
}

static bool terminating(const json_t *o)
{
	return json_object_get(meta(o), "deletionTimestamp") != NULL;
}

static bool namespace_terminating(const char *ns)
{
	struct store_obj *o = store_get(K("namespaces"), "", ns);
	return !o || terminating(o->body);
}

static bool selects(const json_t *selector, const json_t *pod)
{
	const char *k;
	json_t *v;
	json_t *labels = json_object_get(meta(pod), "labels");
	json_object_foreach ((json_t *)selector, k, v) {
		if (!json_equal(json_object_get(labels, k), v))
			return false;
	}
	return true;
}

/* A Service port's targetPort on pod: a number, or the name of one of its
 * container ports (FindPort, pkg/api/v1/pod/util.go); false when the pod has
 * no port of that name, and the pod is then left out of that port. */
static bool resolve_port(const json_t *svc_port, const json_t *pod, json_int_t *out)
{
	json_t *tp = json_object_get(svc_port, "targetPort");
	if (json_is_integer(tp)) {
		*out = json_integer_value(tp);
		return true;
	}
	if (!json_is_string(tp)) {
		*out = json_integer_value(json_object_get(svc_port, "port"));
		return true;
	}
	size_t i, j;
	json_t *c, *cp;
	json_array_foreach (json_object_get(json_object_get(pod, "spec"), "containers"), i, c) {
		json_array_foreach (json_object_get(c, "ports"), j, cp) {
			const char *n = json_str(cp, "name");
			if (n && !strcmp(n, json_string_value(tp))) {
				*out = json_integer_value(json_object_get(cp, "containerPort"));
				return true;
			}
		}
	}
	return false;
}

/* The ports of the Service as resolved on pod, in the Service's order. */
static json_t *pod_ports(const json_t *svc, const json_t *pod)
{
	json_t *ports = json_array();
	size_t i;
	json_t *p;
	json_array_foreach (json_object_get(json_object_get(svc, "spec"), "ports"), i, p) {
		json_int_t num;
		if (!resolve_port(p, pod, &num))
			continue;
		const char *proto = json_str(p, "protocol");
		json_t *ep = json_object();
		json_object_set_new(ep, "name",
				    json_string(json_str(p, "name") ? json_str(p, "name") : ""));
		json_object_set_new(ep, "port", json_integer(num));
		json_object_set_new(ep, "protocol", json_string(proto ? proto : "TCP"));
		if (json_str(p, "appProtocol"))
			json_object_set(ep, "appProtocol", json_object_get(p, "appProtocol"));
		json_array_append_new(ports, ep);
	}
	return ports;
}

static json_t *target_ref(const struct store_obj *pod)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "kind", "Pod", "namespace", pod->ns, "name",
			 pod->name, "uid", json_str(meta(pod->body), "uid"));
}

static const char *node_zone(const char *node)
{
	struct store_obj *n = node ? store_get(K("nodes"), "", node) : NULL;
	if (!n)
		return NULL;
	return json_str(json_object_get(meta(n->body), "labels"), "topology.kubernetes.io/zone");
}

/* The group in groups (an array of objects with "ports") whose ports equal
 * ports, made when missing. */
static json_t *group_for(json_t *groups, json_t *ports)
{
	size_t i;
	json_t *g;
	json_array_foreach (groups, i, g) {
		if (json_equal(json_object_get(g, "ports"), ports))
			return g;
	}
	g = json_pack("{s:O, s:[], s:[], s:[]}", "ports", ports, "addresses", "notReadyAddresses",
		      "endpoints");
	json_array_append_new(groups, g);
	return g;
}

/* What the controllers compute for svc: one group per set of resolved
 * ports, with the Endpoints' addresses and the slice's endpoints. */
static json_t *desired_groups(const struct store_obj *svc)
{
	json_t *spec = json_object_get(svc->body, "spec");
	bool publish = json_is_true(json_object_get(spec, "publishNotReadyAddresses"));
	json_t *groups = json_array();
	size_t n;
	struct store_obj **pods = store_list(K("pods"), svc->ns, &n);
	for (size_t i = 0; i < n; i++) {
		const json_t *pod = pods[i]->body;
		const json_t *st = json_object_get(pod, "status");
		const char *ip = json_str(st, "podIP");
		const char *phase = json_str(st, "phase");
		if (pods[i]->gone || !ip || !*ip ||
		    !selects(json_object_get(spec, "selector"), pod))
			continue;
		if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
			continue;
		/* As the controllers have seen the pod so far: while the lag
		 * runs after it turned ready, stopped or started terminating,
		 * they still show it as it was. */
		bool seen_serving = controllers_pod_endpoint(pods[i]);
		bool seen_terminating = terminating(pod) && !seen_serving;
		bool serving = seen_serving || (seen_terminating && controllers_pod_ready(pod));
		const char *node = json_str(json_object_get(pod, "spec"), "nodeName");

		json_t *ports = pod_ports(svc->body, pod);
		json_t *g = group_for(groups, ports);
		json_decref(ports);

		json_t *addr = json_pack("{s:s, s:o}", "ip", ip, "targetRef", target_ref(pods[i]));
		if (node)
			json_object_set_new(addr, "nodeName", json_string(node));
		const char *hostname = json_str(json_object_get(pod, "spec"), "hostname");
		const char *subdomain = json_str(json_object_get(pod, "spec"), "subdomain");
		if (hostname && subdomain && !strcmp(subdomain, svc->name))
			json_object_set_new(addr, "hostname", json_string(hostname));
		if (seen_serving || publish)
			json_array_append(json_object_get(g, "addresses"), addr);
		else if (!seen_terminating)
			json_array_append(json_object_get(g, "notReadyAddresses"), addr);
		json_decref(addr);

		json_t *ep =
			json_pack("{s:[s], s:{s:b, s:b, s:b}, s:o}", "addresses", ip, "conditions",
				  "ready", publish || (seen_serving && !seen_terminating),
				  "serving", serving || publish, "terminating", seen_terminating,
				  "targetRef", target_ref(pods[i]));
		if (hostname && subdomain && !strcmp(subdomain, svc->name))
			json_object_set_new(ep, "hostname", json_string(hostname));
		if (node)
			json_object_set_new(ep, "nodeName", json_string(node));
		if (node_zone(node))
			json_object_set_new(ep, "zone", json_string(node_zone(node)));
		json_array_append_new(json_object_get(g, "endpoints"), ep);
	}
	free(pods);
	return groups;
}

/* The Endpoints' labels: the Service's, and the headless mark
 * (endpoints_controller.go, syncService). */
static json_t *endpoints_labels(const struct store_obj *svc)
{
	json_t *labels = json_deep_copy(json_object_get(meta(svc->body), "labels"));
	if (!labels)
		labels = json_object();
	const char *cip = json_str(json_object_get(svc->body, "spec"), "clusterIP");
	if (cip && !strcmp(cip, "None"))
		json_object_set_new(labels, "service.kubernetes.io/headless", json_string(""));
	return labels;
}

static void sync_endpoints(const struct store_obj *svc, const json_t *groups)
{
	json_t *subsets = json_array();
	size_t i;
	json_t *g;
	json_array_foreach (groups, i, g) {
		json_t *addrs = json_object_get(g, "addresses");
		json_t *nr = json_object_get(g, "notReadyAddresses");
		if (!json_array_size(addrs) && !json_array_size(nr))
			continue;
		json_t *s = json_object();
		if (json_array_size(addrs))
			json_object_set(s, "addresses", addrs);
		if (json_array_size(nr))
			json_object_set(s, "notReadyAddresses", nr);
		json_object_set(s, "ports", json_object_get(g, "ports"));
		json_array_append_new(subsets, s);
	}
	json_t *labels = endpoints_labels(svc);
	struct store_obj *o = store_get(K("endpoints"), svc->ns, svc->name);
	if (!o) {
		json_t *body =
			json_pack("{s:s, s:s, s:{s:s, s:o}}", "apiVersion", "v1", "kind",
				  "Endpoints", "metadata", "name", svc->name, "labels", labels);
		/* Subsets is omitempty: a Service with no pod has none. */
		if (json_array_size(subsets))
			json_object_set(body, "subsets", subsets);
		store_create(K("endpoints"), svc->ns, body);
		json_decref(body);
	} else {
		json_t *old = json_object_get(o->body, "subsets");
		bool same_subsets = json_array_size(subsets) ? json_equal(old, subsets) : !old;
		if (!same_subsets ||
		    !json_equal(json_object_get(meta(o->body), "labels"), labels)) {
			json_t *body = json_deep_copy(o->body);
			json_object_set(meta(body), "labels", labels);
			if (json_array_size(subsets))
				json_object_set(body, "subsets", subsets);
			else
				json_object_del(body, "subsets");
			store_update(o, body);
		}
		json_decref(labels);
	}
	json_decref(subsets);
}

static bool slice_of(const struct store_obj *slice, const char *svc)
{
	json_t *labels = json_object_get(meta(slice->body), "labels");
	const char *name = json_str(labels, "kubernetes.io/service-name");
	const char *by = json_str(labels, "endpointslice.kubernetes.io/managed-by");
	return name && by && !strcmp(name, svc) && !strcmp(by, SLICE_MANAGER);
}

/* generateName's suffix: five of the characters the API server draws from
 * (staging/src/k8s.io/apiserver/pkg/storage/names/generate.go). */
static char *slice_name(const char *svc)
{
	static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
	char suffix[6];
	for (int i = 0; i < 5; i++)
		suffix[i] = alphabet[(size_t)random() % (sizeof(alphabet) - 1)];
	suffix[5] = '\0';
	return xasprintf("%s-%s", svc, suffix);
}

static json_t *slice_labels(const struct store_obj *svc)
{
	json_t *labels = endpoints_labels(svc);
	json_object_set_new(labels, "kubernetes.io/service-name", json_string(svc->name));
	json_object_set_new(labels, "endpointslice.kubernetes.io/managed-by",
			    json_string(SLICE_MANAGER));
	return labels;
}

static void slice_write(struct store_obj *o, const struct store_obj *svc, const json_t *g)
{
	json_t *labels = slice_labels(svc);
	json_t *eps = json_object_get(g, "endpoints");
	/* Endpoints has no omitempty: an empty slice says null. */
	json_t *want_eps = json_array_size(eps) ? json_incref(eps) : json_null();
	if (o && json_equal(json_object_get(o->body, "endpoints"), want_eps) &&
	    json_equal(json_object_get(o->body, "ports"), json_object_get(g, "ports")) &&
	    json_equal(json_object_get(meta(o->body), "labels"), labels)) {
		json_decref(labels);
		json_decref(want_eps);
		return;
	}
	json_t *body;
	if (o) {
		body = json_deep_copy(o->body);
		json_object_set_new(meta(body), "labels", labels);
	} else {
		char *name = slice_name(svc->name);
		char *gen = xasprintf("%s-", svc->name);
		body = json_pack(
			"{s:s, s:s, s:{s:s, s:s, s:o, s:[{s:s, s:s, s:s, s:s, s:b, s:b}]}, "
			"s:s}",
			"apiVersion", "discovery.k8s.io/v1", "kind", "EndpointSlice", "metadata",
			"name", name, "generateName", gen, "labels", labels, "ownerReferences",
			"apiVersion", "v1", "kind", "Service", "name", svc->name, "uid",
			json_str(meta(svc->body), "uid"), "controller", 1, "blockOwnerDeletion", 1,
			"addressType", "IPv4");
		free(gen);
		free(name);
	}
	json_object_set_new(body, "endpoints", want_eps);
	json_object_set(body, "ports", json_object_get(g, "ports"));
	if (o) {
		store_update(o, body);
	} else {
		store_create(K("endpointslices"), svc->ns, body);
		json_decref(body);
	}
}

static void sync_slices(const struct store_obj *svc, const json_t *groups)
{
	size_t n;
	struct store_obj **slices = store_list(K("endpointslices"), svc->ns, &n);
	bool *used = xcalloc(n ? n : 1, sizeof(*used));
	size_t i;
	json_t *g;
	json_array_foreach (groups, i, g) {
		struct store_obj *match = NULL;
		for (size_t j = 0; j < n && !match; j++) {
			if (!used[j] && slice_of(slices[j], svc->name) &&
			    json_equal(json_object_get(slices[j]->body, "ports"),
				       json_object_get(g, "ports"))) {
				used[j] = true;
				match = slices[j];
			}
		}
		slice_write(match, svc, g);
	}
	/* With no pod at all the controller keeps one empty slice (the
	 * placeholder, reconciler.go) with the Service's ports. */
	if (json_array_size(groups) == 0) {
		struct store_obj *keep = NULL;
		for (size_t j = 0; j < n && !keep; j++) {
			if (slice_of(slices[j], svc->name)) {
				used[j] = true;
				keep = slices[j];
			}
		}
		json_t *placeholder = json_pack("{s:[], s:[]}", "ports", "endpoints");
		slice_write(keep, svc, placeholder);
		json_decref(placeholder);
	}
	for (size_t j = 0; j < n; j++) {
		if (!used[j] && slice_of(slices[j], svc->name))
			store_delete(slices[j]);
	}
	free(used);
	free(slices);
}

/* Objects the controllers made for a Service that is gone. */
static void drop_orphans(void)
{
	size_t n;
	struct store_obj **eps = store_list(K("endpoints"), NULL, &n);
	for (size_t i = 0; i < n; i++) {
		if (!store_get(K("services"), eps[i]->ns, eps[i]->name))
			store_delete(eps[i]);
	}
	free(eps);
	struct store_obj **slices = store_list(K("endpointslices"), NULL, &n);
	for (size_t i = 0; i < n; i++) {
		const char *svc = json_str(json_object_get(meta(slices[i]->body), "labels"),
					   "kubernetes.io/service-name");
		const char *by = json_str(json_object_get(meta(slices[i]->body), "labels"),
					  "endpointslice.kubernetes.io/managed-by");
		if (svc && by && !strcmp(by, SLICE_MANAGER) &&
		    !store_get(K("services"), slices[i]->ns, svc))
			store_delete(slices[i]);
	}
	free(slices);
}

void endpoints_sync(void)
{
	size_t n;
	struct store_obj **svcs = store_list(K("services"), NULL, &n);
	for (size_t i = 0; i < n; i++) {
		json_t *sel = json_object_get(json_object_get(svcs[i]->body, "spec"), "selector");
		/* A Service without a selector has its endpoints written by
		 * someone else; one being deleted, or in a terminating
		 * namespace, is left alone. */
		if (svcs[i]->gone || json_object_size(sel) == 0 || terminating(svcs[i]->body) ||
		    namespace_terminating(svcs[i]->ns))
			continue;
		json_t *groups = desired_groups(svcs[i]);
		sync_endpoints(svcs[i], groups);
		sync_slices(svcs[i], groups);
		json_decref(groups);
	}
	free(svcs);
	drop_orphans();
}
