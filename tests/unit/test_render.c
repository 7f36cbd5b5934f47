/* kube/render.c: the objects of a cluster, and their YAML. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "es/client.h"
#include "kube/render.h"
#include "kube/spec.h"

#define NS "es-acme-logs"

static const char *const order[][2] = {
	{"Namespace", NS},
	{"ResourceQuota", RENDER_QUOTA_NAME},
	{"NetworkPolicy", RENDER_NETPOL_DENY},
	{"NetworkPolicy", RENDER_NETPOL_CLUSTER},
	{"NetworkPolicy", RENDER_NETPOL_CONTROL},
	{"ConfigMap", "es-master-config"},
	{"ConfigMap", "es-data-config"},
	{"ConfigMap", "es-client-config"},
	{"Service", "es-" NS},
	{"Service", "es-http"},
	{"StatefulSet", "es-master"},
	{"StatefulSet", "es-data"},
	{"StatefulSet", "es-client"},
	{"PodDisruptionBudget", "es-master"},
	{"PodDisruptionBudget", "es-data"},
	{"PodDisruptionBudget", "es-client"},
};

/* Render a spec written as JSON, with the given options (tenant "acme"
 * and a plugin repository unless set). */
static json_t *render(const char *spec_json, struct render_opts *opts)
{
	struct render_opts defaults = {0};
	struct spec spec;
	struct spec_error serr;
	json_error_t jerr;
	json_t *doc = json_loads(spec_json, 0, &jerr);
	json_t *out = NULL;
	char err[256];

	if (!opts)
		opts = &defaults;
	if (!opts->tenant)
		opts->tenant = "acme";
	if (!opts->plugin_repo_url)
		opts->plugin_repo_url = "http://plugins.local/es";
	if (!doc)
		fail_msg("bad test JSON: %s", jerr.text);
	if (!spec_parse(doc, &spec, &serr))
		fail_msg("spec refused: %s: %s", serr.field, serr.message);
	if (!render_cluster(&spec, opts, &out, err, sizeof(err)))
		fail_msg("render failed: %s", err);
	spec_free(&spec);
	json_decref(doc);
	return out;
}

/* Walk a path of object keys and array indexes ("spec.ports.0.port");
 * keys holding dots (labels) are looked up with json_object_get. */
static json_t *at(json_t *j, const char *path)
{
	const char *p = path;

	while (j && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		char *part = xstrndup(p, n);

		if (json_is_array(j)) {
			int64_t i;
			if (!parse_int64(part, 0, 1000, &i))
				fail_msg("bad index %s in %s", part, path);
			j = json_array_get(j, (size_t)i);
		} else {
			j = json_object_get(j, part);
		}
		free(part);
		p += n + (dot ? 1 : 0);
	}
	return j;
}

static const char *str_at(json_t *j, const char *path)
{
	json_t *v = at(j, path);

	if (!json_is_string(v))
		fail_msg("%s is not a string", path);
	return json_string_value(v);
}

static json_t *find(json_t *objects, const char *kind, const char *name)
{
	json_t *o = render_find(objects, kind, name);

	if (!o)
		fail_msg("no %s %s", kind, name);
	return o;
}

static const char *yml_of(json_t *objects, enum es_role role)
{
	json_t *data = at(find(objects, "ConfigMap", render_config_name(role)), "data");

	return json_string_value(json_object_get(data, "elasticsearch.yml"));
}

/* Every label of sel is on labels, with the same value. */
static bool selects(json_t *sel, json_t *labels)
{
	const char *key;
	json_t *value;

	if (!json_is_object(sel) || json_object_size(sel) == 0)
		return false;
	json_object_foreach (sel, key, value) {
		if (!json_equal(value, json_object_get(labels, key)))
			return false;
	}
	return true;
}

static json_t *pod_spec(json_t *objects, enum es_role role)
{
	return at(find(objects, render_workload_kind(role), render_workload_name(role)),
		  "spec.template.spec");
}

static json_t *container(json_t *objects, enum es_role role, const char *list, const char *name)
{
	size_t i;
	json_t *c;

	json_array_foreach (json_object_get(pod_spec(objects, role), list), i, c) {
		if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
			return c;
	}
	return NULL;
}

static const char *env_value(json_t *c, const char *name)
{
	size_t i;
	json_t *e;

	json_array_foreach (json_object_get(c, "env"), i, e) {
		if (strcmp(json_string_value(json_object_get(e, "name")), name) == 0) {
			json_t *v = json_object_get(e, "value");
			if (v)
				return json_string_value(v);
			return str_at(e, "valueFrom.fieldRef.fieldPath");
		}
	}
	return NULL;
}

static const char *host_path(json_t *objects, enum es_role role, const char *volume)
{
	size_t i;
	json_t *v;

	json_array_foreach (json_object_get(pod_spec(objects, role), "volumes"), i, v) {
		if (strcmp(json_string_value(json_object_get(v, "name")), volume) == 0)
			return json_string_value(at(v, "hostPath.path"));
	}
	return NULL;
}

/* --- tests ---------------------------------------------------------------- */

static const char base_spec[] =
	"{\"name\": \"logs\", \"version\": \"7.17.10\", \"plugins\": [\"analysis-icu\"],"
	" \"config\": {\"indices.query.bool.max_clause_count\": \"4096\"}}";

static void test_objects_in_order(void **state)
{
	json_t *objs = render(base_spec, NULL);
	size_t i;
	json_t *o;

	assert_int_equal(json_array_size(objs), ARRAY_SIZE(order));
	json_array_foreach (objs, i, o) {
		assert_string_equal(str_at(o, "kind"), order[i][0]);
		assert_string_equal(str_at(o, "metadata.name"), order[i][1]);
		if (i > 0)
			assert_string_equal(str_at(o, "metadata.namespace"), NS);
		else
			assert_null(at(o, "metadata.namespace"));
	}
	json_decref(objs);
}

static void test_labels_everywhere(void **state)
{
	json_t *objs = render(base_spec, NULL);
	size_t i;
	json_t *o;

	json_array_foreach (objs, i, o) {
		json_t *l = at(o, "metadata.labels");

		assert_string_equal(json_string_value(json_object_get(l, RENDER_LABEL_CLUSTER)),
				    "logs");
		assert_string_equal(json_string_value(json_object_get(l, RENDER_LABEL_TENANT)),
				    "acme");
		assert_string_equal(
			json_string_value(json_object_get(l, "app.kubernetes.io/managed-by")),
			"esaas");
		assert_string_equal(json_string_value(json_object_get(l, "app.kubernetes.io/name")),
				    "elasticsearch");
		/* The namespace asks the level its pods pass (see namespace_object()). */
		if (strcmp(str_at(o, "kind"), "Namespace") == 0) {
			assert_string_equal(json_string_value(json_object_get(
						    l, "pod-security.kubernetes.io/enforce")),
					    "baseline");
			assert_string_equal(
				json_string_value(json_object_get(
					l, "pod-security.kubernetes.io/enforce-version")),
				"latest");
		}
		/* Cluster-wide objects have no role. */
		if (strcmp(str_at(o, "kind"), "Namespace") != 0 &&
		    strcmp(str_at(o, "kind"), "ResourceQuota") != 0 &&
		    strcmp(str_at(o, "kind"), "NetworkPolicy") != 0)
			assert_non_null(json_object_get(l, RENDER_LABEL_ROLE));
	}
	json_decref(objs);
}

/* Selectors of workloads, Services, budgets and anti-affinity all pick the
 * pods of their own role, and only those. */
static void test_selectors_match_template_labels(void **state)
{
	json_t *objs = render(base_spec, NULL);

	for (int r = 0; r < ES_ROLE_COUNT; r++) {
		json_t *w = find(objs, render_workload_kind(r), render_workload_name(r));
		json_t *labels = at(w, "spec.template.metadata.labels");
		json_t *pdb = find(objs, "PodDisruptionBudget", render_workload_name(r));
		json_t *aa = at(w, "spec.template.spec.affinity.podAntiAffinity."
				   "requiredDuringSchedulingIgnoredDuringExecution.0");

		assert_string_equal(json_string_value(json_object_get(labels, RENDER_LABEL_ROLE)),
				    es_role_name(r));
		assert_true(selects(at(w, "spec.selector.matchLabels"), labels));
		assert_true(selects(at(pdb, "spec.selector.matchLabels"), labels));
		assert_true(selects(at(aa, "labelSelector.matchLabels"), labels));
		assert_int_equal(json_integer_value(at(pdb, "spec.maxUnavailable")), 1);
		/* No selector picks another role's pods. */
		for (int other = 0; other < ES_ROLE_COUNT; other++) {
			json_t *ow = find(objs, render_workload_kind(other),
					  render_workload_name(other));
			if (other != r)
				assert_false(selects(at(w, "spec.selector.matchLabels"),
						     at(ow, "spec.template.metadata.labels")));
		}
		/* The version may change; a selector cannot, so it is not in one. */
		assert_null(json_object_get(at(w, "spec.selector.matchLabels"),
					    "app.kubernetes.io/version"));
		assert_string_equal(
			json_string_value(json_object_get(labels, "app.kubernetes.io/version")),
			"7.17.10");
	}
	/* The headless Service selects the masters, the HTTP one the clients. */
	assert_true(selects(
		at(find(objs, "Service", "es-" NS), "spec.selector"),
		at(find(objs, "StatefulSet", "es-master"), "spec.template.metadata.labels")));
	assert_true(selects(
		at(find(objs, "Service", "es-http"), "spec.selector"),
		at(find(objs, "StatefulSet", "es-client"), "spec.template.metadata.labels")));
	json_decref(objs);
}

static void test_services(void **state)
{
	json_t *objs = render(base_spec, NULL);
	json_t *headless = find(objs, "Service", "es-" NS);
	json_t *http = find(objs, "Service", RENDER_HTTP_SERVICE);
	json_t *sts = find(objs, "StatefulSet", "es-data");

	assert_string_equal(str_at(headless, "spec.clusterIP"), "None");
	assert_true(json_is_true(at(headless, "spec.publishNotReadyAddresses")));
	assert_int_equal(json_integer_value(at(headless, "spec.ports.0.port")), 9300);
	assert_string_equal(str_at(headless, "spec.ports.0.name"), "transport");
	assert_int_equal(json_integer_value(at(headless, "spec.ports.1.port")), 9200);
	/* No node port unless the spec asks for one (test_node_port_on_request). */
	assert_string_equal(str_at(http, "spec.type"), "ClusterIP");
	assert_int_equal(json_integer_value(at(http, "spec.ports.0.port")), 9200);
	assert_string_equal(str_at(sts, "spec.serviceName"), "es-" NS);
	assert_string_equal(str_at(sts, "spec.updateStrategy.type"), "OnDelete");
	assert_int_equal(json_integer_value(at(sts, "spec.replicas")), 3);
	/* No role rolls a changed template by itself. */
	assert_string_equal(
		str_at(find(objs, "StatefulSet", "es-master"), "spec.updateStrategy.type"),
		"OnDelete");
	assert_string_equal(
		str_at(find(objs, "StatefulSet", "es-client"), "spec.updateStrategy.type"),
		"OnDelete");
	assert_string_equal(
		str_at(find(objs, "StatefulSet", "es-master"), "spec.podManagementPolicy"),
		"Parallel");
	assert_int_equal(
		json_integer_value(at(find(objs, "StatefulSet", "es-client"), "spec.replicas")), 2);
	json_decref(objs);
}

/* --- network isolation ---------------------------------------------------- */

/* Whether a rendered NetworkPolicy's podSelector picks a pod of labels. */
static bool policy_selects(json_t *np, json_t *labels)
{
	json_t *ml = at(np, "spec.podSelector.matchLabels");

	return !ml || selects(ml, labels);
}

/* The ingress rule of a policy (the first), its peers and ports. */
static bool rule_has_port(json_t *np, int port)
{
	size_t i;
	json_t *p;

	json_array_foreach (at(np, "spec.ingress.0.ports"), i, p) {
		if (json_integer_value(json_object_get(p, "port")) == port &&
		    strcmp(json_string_value(json_object_get(p, "protocol")), "TCP") == 0)
			return true;
	}
	return false;
}

static void test_namespace_is_default_deny(void **state)
{
	json_t *objs = render(base_spec, NULL);
	json_t *deny = find(objs, "NetworkPolicy", RENDER_NETPOL_DENY);
	json_t *own = find(objs, "NetworkPolicy", RENDER_NETPOL_CLUSTER);
	json_t *labels = at(find(objs, "StatefulSet", "es-data"), "spec.template.metadata.labels");

	assert_non_null(deny);
	/* Every pod, ingress, no rule. */
	assert_int_equal(json_object_size(at(deny, "spec.podSelector")), 0);
	assert_string_equal(str_at(deny, "spec.policyTypes.0"), "Ingress");
	assert_int_equal(json_array_size(at(deny, "spec.policyTypes")), 1);
	assert_null(at(deny, "spec.ingress"));
	assert_string_equal(str_at(deny, "apiVersion"), "networking.k8s.io/v1");
	assert_string_equal(str_at(deny, "metadata.namespace"), NS);
	/* The cluster's pods reach each other on 9200 and 9300, by their
	 * cluster label, in this namespace only (no namespaceSelector). */
	assert_true(policy_selects(own, labels));
	assert_true(selects(at(own, "spec.ingress.0.from.0.podSelector.matchLabels"), labels));
	assert_null(at(own, "spec.ingress.0.from.0.namespaceSelector"));
	assert_true(rule_has_port(own, 9200));
	assert_true(rule_has_port(own, 9300));
	/* Kibana's pods are the cluster's too. */
	json_decref(objs);
	objs = render("{\"name\": \"logs\", \"kibana\": {\"replicas\": 1}}", NULL);
	own = find(objs, "NetworkPolicy", RENDER_NETPOL_CLUSTER);
	labels = at(find(objs, "Deployment", RENDER_KIBANA_NAME), "spec.template.metadata.labels");
	assert_true(selects(at(own, "spec.ingress.0.from.0.podSelector.matchLabels"), labels));
	/* No tenant sources, no tenant policy. */
	assert_null(render_find(objs, "NetworkPolicy", RENDER_NETPOL_TENANT));
	json_decref(objs);
}

/* esaas reaches the HTTP ports from the API server's addresses (the
 * service proxy) or its own namespace; never the transport port. */
static void test_control_policy_admits_what_esaas_calls_from(void **state)
{
	struct render_opts o = {.api_server_cidrs = "172.18.0.2/32, 10.0.0.0/28",
				.esaasd_namespace = "esaas-system"};
	json_t *objs = render(base_spec, &o);
	json_t *np = find(objs, "NetworkPolicy", RENDER_NETPOL_CONTROL);

	assert_string_equal(str_at(np, "spec.ingress.0.from.0.ipBlock.cidr"), "172.18.0.2/32");
	assert_string_equal(str_at(np, "spec.ingress.0.from.1.ipBlock.cidr"), "10.0.0.0/28");
	assert_string_equal(json_string_value(json_object_get(
				    at(np, "spec.ingress.0.from.2.namespaceSelector.matchLabels"),
				    "kubernetes.io/metadata.name")),
			    "esaas-system");
	assert_int_equal(json_array_size(at(np, "spec.ingress.0.from")), 3);
	assert_true(rule_has_port(np, 9200));
	assert_true(rule_has_port(np, 5601));
	assert_false(rule_has_port(np, 9300));
	json_decref(objs);

	/* Unconfigured: every address, to the HTTP ports only. */
	objs = render(base_spec, NULL);
	np = find(objs, "NetworkPolicy", RENDER_NETPOL_CONTROL);
	assert_string_equal(str_at(np, "spec.ingress.0.from.0.ipBlock.cidr"), "0.0.0.0/0");
	assert_string_equal(str_at(np, "spec.ingress.0.from.1.ipBlock.cidr"), "::/0");
	assert_false(rule_has_port(np, 9300));
	json_decref(objs);
}

static void test_tenant_sources_admitted(void **state)
{
	json_t *objs = render("{\"name\": \"logs\", \"network\": {\"allow\": [{\"cidr\": "
			      "\"10.1.0.0/16\"}, {\"namespace\": \"frontend\"}]}}",
			      NULL);
	json_t *np = find(objs, "NetworkPolicy", RENDER_NETPOL_TENANT);

	assert_non_null(np);
	assert_string_equal(str_at(np, "spec.ingress.0.from.0.ipBlock.cidr"), "10.1.0.0/16");
	assert_string_equal(json_string_value(json_object_get(
				    at(np, "spec.ingress.0.from.1.namespaceSelector.matchLabels"),
				    "kubernetes.io/metadata.name")),
			    "frontend");
	assert_true(rule_has_port(np, 9200));
	assert_true(rule_has_port(np, 5601));
	assert_false(rule_has_port(np, 9300));
	assert_true(policy_selects(
		np, at(find(objs, "StatefulSet", "es-client"), "spec.template.metadata.labels")));
	/* Applied right after the quota, before any workload. */
	assert_string_equal(str_at(json_array_get(objs, 5), "metadata.name"), RENDER_NETPOL_TENANT);
	json_decref(objs);
}

static void test_node_port_on_request(void **state)
{
	json_t *objs = render("{\"name\": \"logs\", \"kibana\": {\"replicas\": 1}}", NULL);

	assert_string_equal(str_at(find(objs, "Service", RENDER_HTTP_SERVICE), "spec.type"),
			    "ClusterIP");
	assert_string_equal(str_at(find(objs, "Service", RENDER_KIBANA_NAME), "spec.type"),
			    "ClusterIP");
	json_decref(objs);
	objs = render("{\"name\": \"logs\", \"kibana\": {\"replicas\": 1}, \"network\": "
		      "{\"service_type\": \"NodePort\"}}",
		      NULL);
	assert_string_equal(str_at(find(objs, "Service", RENDER_HTTP_SERVICE), "spec.type"),
			    "NodePort");
	assert_string_equal(str_at(find(objs, "Service", RENDER_KIBANA_NAME), "spec.type"),
			    "NodePort");
	json_decref(objs);
}

/* Without clients, the HTTP Service goes to the data nodes. */
static void test_http_service_without_clients(void **state)
{
	json_t *objs = render("{\"name\": \"logs\", \"clients\": {\"replicas\": 0}}", NULL);

	assert_true(
		selects(at(find(objs, "Service", RENDER_HTTP_SERVICE), "spec.selector"),
			at(find(objs, "StatefulSet", "es-data"), "spec.template.metadata.labels")));
	assert_string_equal(json_string_value(json_object_get(
				    at(find(objs, "Service", RENDER_HTTP_SERVICE), "spec.selector"),
				    RENDER_LABEL_ROLE)),
			    "data");
	assert_int_equal(
		json_integer_value(at(find(objs, "StatefulSet", "es-client"), "spec.replicas")), 0);
	json_decref(objs);
}

/* Kibana only when asked for, of the cluster's version, wired to es-http. */
static void test_kibana(void **state)
{
	static const struct {
		const char *version, *image, *env;
	} cases[] = {
		{"2.4.6", "kibana:4.6.6", "ELASTICSEARCH_URL"},
		{"6.8.23", "docker.elastic.co/kibana/kibana:6.8.23", "ELASTICSEARCH_URL"},
		{"7.17.10", "docker.elastic.co/kibana/kibana:7.17.10", "ELASTICSEARCH_HOSTS"},
		{"8.17.0", "docker.elastic.co/kibana/kibana:8.17.0", "ELASTICSEARCH_HOSTS"},
		{"9.5.2", "docker.elastic.co/kibana/kibana:9.5.2", "ELASTICSEARCH_HOSTS"},
	};
	json_t *none = render(base_spec, NULL);

	assert_null(render_find(none, "Deployment", RENDER_KIBANA_NAME));
	assert_null(render_find(none, "Service", RENDER_KIBANA_NAME));
	json_decref(none);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *spec = xasprintf("{\"name\": \"logs\", \"version\": \"%s\","
				       " \"kibana\": {\"replicas\": 2}}",
				       cases[i].version);
		json_t *objs = render(spec, NULL);
		json_t *d = find(objs, "Deployment", RENDER_KIBANA_NAME);
		json_t *svc = find(objs, "Service", RENDER_KIBANA_NAME);

		assert_non_null(d);
		assert_non_null(svc);
		assert_int_equal(json_integer_value(at(d, "spec.replicas")), 2);
		assert_string_equal(str_at(d, "spec.template.spec.containers.0.image"),
				    cases[i].image);
		assert_string_equal(str_at(d, "spec.template.spec.containers.0.env.0.name"),
				    cases[i].env);
		assert_string_equal(str_at(d, "spec.template.spec.containers.0.env.0.value"),
				    "http://es-http:9200");
		/* The Service finds the pods, and only them. */
		assert_true(
			selects(at(svc, "spec.selector"), at(d, "spec.template.metadata.labels")));
		assert_false(
			selects(at(svc, "spec.selector"), at(find(objs, "StatefulSet", "es-client"),
							     "spec.template.metadata.labels")));
		assert_int_equal(json_integer_value(at(svc, "spec.ports.0.port")),
				 RENDER_KIBANA_PORT);
		/* It rolls within the quota: one pod down, none more. */
		assert_int_equal(json_integer_value(at(d, "spec.strategy.rollingUpdate.maxSurge")),
				 0);
		assert_int_equal(
			json_integer_value(at(d, "spec.strategy.rollingUpdate.maxUnavailable")), 1);
		json_decref(objs);
		free(spec);
	}
}

/* --- the namespace's quota ------------------------------------------------- */

struct usage {
	int64_t pods, cpu_requests, cpu_limits, memory_requests, memory_limits;
};

static int64_t cpu_of(json_t *v)
{
	int64_t m = 0;

	if (v && !spec_parse_cpu(json_string_value(v), &m))
		fail_msg("not a CPU quantity");
	return m;
}

static int64_t bytes_of(json_t *v)
{
	int64_t b = 0;

	if (v && !spec_parse_bytes(json_string_value(v), &b))
		fail_msg("not a memory quantity");
	return b;
}

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

/* n pods of a pod spec, counted as the quota counts them: the containers'
 * sum, or an init container's when larger. */
static void add_pod_spec(struct usage *u, int64_t n, json_t *ps)
{
	int64_t sum[4] = {0}, init[4] = {0};
	const char *const paths[4] = {"resources.requests.cpu", "resources.limits.cpu",
				      "resources.requests.memory", "resources.limits.memory"};
	size_t i;
	json_t *c;

	json_array_foreach (json_object_get(ps, "containers"), i, c) {
		for (int k = 0; k < 4; k++) {
			if (!at(c, paths[k]))
				fail_msg("a container without %s", paths[k]);
			sum[k] += k < 2 ? cpu_of(at(c, paths[k])) : bytes_of(at(c, paths[k]));
		}
	}
	json_array_foreach (json_object_get(ps, "initContainers"), i, c) {
		for (int k = 0; k < 4; k++) {
			if (!at(c, paths[k]))
				fail_msg("an init container without %s", paths[k]);
			init[k] = max64(init[k], k < 2 ? cpu_of(at(c, paths[k]))
						       : bytes_of(at(c, paths[k])));
		}
	}
	u->pods += n;
	u->cpu_requests += n * max64(sum[0], init[0]);
	u->cpu_limits += n * max64(sum[1], init[1]);
	u->memory_requests += n * max64(sum[2], init[2]);
	u->memory_limits += n * max64(sum[3], init[3]);
}

/* What the rendered workloads' pods ask for, all replicas together. */
static struct usage workload_usage(json_t *objs)
{
	struct usage u = {0};
	size_t i;
	json_t *o;

	json_array_foreach (objs, i, o) {
		const char *kind = str_at(o, "kind");

		if (strcmp(kind, "StatefulSet") == 0 || strcmp(kind, "Deployment") == 0)
			add_pod_spec(&u, json_integer_value(at(o, "spec.replicas")),
				     at(o, "spec.template.spec"));
	}
	return u;
}

static void assert_hard(json_t *quota, const char *pods, const char *cpu_requests,
			const char *cpu_limits, const char *memory_requests,
			const char *memory_limits)
{
	json_t *hard = at(quota, "spec.hard");

	assert_int_equal(json_object_size(hard), 5);
	assert_string_equal(json_string_value(json_object_get(hard, "pods")), pods);
	assert_string_equal(json_string_value(json_object_get(hard, "requests.cpu")), cpu_requests);
	assert_string_equal(json_string_value(json_object_get(hard, "limits.cpu")), cpu_limits);
	assert_string_equal(json_string_value(json_object_get(hard, "requests.memory")),
			    memory_requests);
	assert_string_equal(json_string_value(json_object_get(hard, "limits.memory")),
			    memory_limits);
}

/* The quota is exactly what the workloads' pods ask for, in the form the
 * API server writes back. */
static void test_quota_sums(void **state)
{
	static const struct {
		const char *spec;
		const char *pods, *cpu_requests, *cpu_limits, *memory_requests, *memory_limits;
	} cases[] = {
		/* The defaults: 3 masters (1, 2Gi), 3 data (2, 8Gi), 2 clients (1, 2Gi). */
		{"{\"name\": \"logs\"}", "8", "11", "11", "34Gi", "34Gi"},
		/* Kibana asks 500m and 1Gi, and may use 1 CPU. */
		{"{\"name\": \"logs\", \"masters\": {\"replicas\": 1, \"cpu\": \"500m\","
		 " \"memory\": \"1Gi\"}, \"data\": {\"replicas\": 2, \"cpu\": \"1500m\","
		 " \"memory\": \"3Gi\"}, \"clients\": {\"replicas\": 0},"
		 " \"kibana\": {\"replicas\": 2}}",
		 "5", "4500m", "5500m", "9Gi", "9Gi"},
		/* Decimal memory stays decimal; fractions of a core are millicores. */
		{"{\"name\": \"logs\", \"masters\": {\"replicas\": 1, \"cpu\": \"0.25\","
		 " \"memory\": \"1G\", \"heap\": \"256m\"}, \"data\": {\"replicas\": 1,"
		 " \"memory\": \"1500M\", \"heap\": \"512m\"}, \"clients\": {\"replicas\": 0}}",
		 "2", "2250m", "2250m", "2500M", "2500M"},
		/* A thousand pods is "1k", as Kubernetes writes it. */
		{"{\"name\": \"logs\", \"masters\": {\"replicas\": 1}, \"data\": {\"replicas\": "
		 "999},"
		 " \"clients\": {\"replicas\": 0}}",
		 "1k", "1999", "1999", "7994Gi", "7994Gi"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		json_t *objs = render(cases[i].spec, NULL);
		json_t *quota = find(objs, "ResourceQuota", RENDER_QUOTA_NAME);
		struct usage want = workload_usage(objs);

		assert_string_equal(str_at(quota, "apiVersion"), "v1");
		assert_string_equal(str_at(quota, "metadata.namespace"), NS);
		assert_hard(quota, cases[i].pods, cases[i].cpu_requests, cases[i].cpu_limits,
			    cases[i].memory_requests, cases[i].memory_limits);
		/* Every pod of every workload, counted from the manifests themselves. */
		assert_int_equal(cpu_of(at(quota, "spec.hard.pods")) / 1000, want.pods);
		assert_int_equal(cpu_of(json_object_get(at(quota, "spec.hard"), "requests.cpu")),
				 want.cpu_requests);
		assert_int_equal(cpu_of(json_object_get(at(quota, "spec.hard"), "limits.cpu")),
				 want.cpu_limits);
		assert_int_equal(
			bytes_of(json_object_get(at(quota, "spec.hard"), "requests.memory")),
			want.memory_requests);
		assert_int_equal(bytes_of(json_object_get(at(quota, "spec.hard"), "limits.memory")),
				 want.memory_limits);
		json_decref(objs);
	}
}

/* Room for the wipe pods of a delete: exactly theirs on top of the spec's. */
static void test_quota_with_wipe_pods(void **state)
{
	struct render_opts opts = {.tenant = "acme"};
	json_t *doc = json_loads("{\"name\": \"logs\", \"kibana\": {\"replicas\": 1}}", 0, NULL);
	struct spec spec;
	struct spec_error serr;
	struct usage wipe = {0};

	assert_true(spec_parse(doc, &spec, &serr));
	json_t *plain = render_quota(&spec, &opts, 0);
	json_t *roomy = render_quota(&spec, &opts, 3);
	json_t *pod = render_wipe_pod(&spec, &opts, "node-1", 0);

	assert_hard(plain, "9", "11500m", "12", "35Gi", "35Gi");
	/* A wipe pod gives what the quota constrains, and three of them fit. */
	add_pod_spec(&wipe, 3, at(pod, "spec"));
	assert_int_equal(wipe.pods, 3);
	assert_int_equal(cpu_of(json_object_get(at(roomy, "spec.hard"), "requests.cpu")),
			 11500 + wipe.cpu_requests);
	assert_int_equal(cpu_of(json_object_get(at(roomy, "spec.hard"), "limits.cpu")),
			 12000 + wipe.cpu_limits);
	assert_int_equal(bytes_of(json_object_get(at(roomy, "spec.hard"), "requests.memory")),
			 ((int64_t)35 << 30) + wipe.memory_requests);
	assert_int_equal(bytes_of(json_object_get(at(roomy, "spec.hard"), "limits.memory")),
			 ((int64_t)35 << 30) + wipe.memory_limits);
	assert_string_equal(json_string_value(json_object_get(at(roomy, "spec.hard"), "pods")),
			    "12");
	assert_string_equal(str_at(roomy, "metadata.name"), RENDER_QUOTA_NAME);
	json_decref(pod);
	json_decref(roomy);
	json_decref(plain);
	spec_free(&spec);
	json_decref(doc);
}

/* Raised, never lowered: each key the larger of the two. */
static void test_quota_at_least(void **state)
{
	json_t *objs = render("{\"name\": \"logs\"}", NULL);
	json_t *quota = find(objs, "ResourceQuota", RENDER_QUOTA_NAME);
	json_t *live = json_pack("{s:s, s:s, s:s, s:s, s:s}", "pods", "20", "requests.cpu",
				 "10500m", "limits.cpu", "12", "limits.memory", "36864Mi",
				 "requests.memory", "lots");

	render_quota_at_least(quota, live);
	assert_hard(quota, "20", "11", "12", "34Gi", "36864Mi");
	json_decref(live);
	json_decref(objs);
}

static void test_host_paths(void **state)
{
	struct render_opts opts = {.storage_root = "/mnt/es"};
	struct render_opts legacy = {.host_path_data = true};
	json_t *objs = render(base_spec, NULL);
	json_t *old = render(base_spec, &legacy);
	json_t *moved;

	/* The plugins are installed at every start into an emptyDir: no
	 * hostPath keeps the namespace from baseline. */
	for (int r = 0; r < ES_ROLE_COUNT; r++)
		assert_null(host_path(objs, r, "plugins"));
	/* The data paths are claims (test_data_claims_and_volumes), but in
	 * StatefulSets created before them. */
	for (int r = 0; r < ES_ROLE_COUNT; r++)
		assert_null(host_path(objs, r, "data"));
	assert_string_equal(host_path(old, ES_ROLE_DATA, "data"), "/es/" NS "/data/data");
	/* Masters keep the cluster state on the host; clients keep nothing. */
	assert_string_equal(host_path(old, ES_ROLE_MASTER, "data"), "/es/" NS "/master/data");
	assert_null(host_path(old, ES_ROLE_CLIENT, "data"));
	assert_null(at(find(old, "StatefulSet", "es-data"), "spec.volumeClaimTemplates"));

	legacy.storage_root = "/mnt/es";
	moved = render(base_spec, &legacy);
	assert_string_equal(host_path(moved, ES_ROLE_DATA, "data"), "/mnt/es/" NS "/data/data");
	json_decref(moved);
	moved = render(base_spec, &opts);
	assert_null(host_path(moved, ES_ROLE_DATA, "plugins"));
	json_decref(moved);
	json_decref(old);
	json_decref(objs);
}

static json_t *volumes(const char *spec_json, struct render_opts *opts, const char *const *hosts)
{
	struct spec spec;
	struct spec_error serr;
	json_error_t jerr;
	json_t *doc = json_loads(spec_json, 0, &jerr);
	json_t *out = NULL;
	char err[256];

	if (!opts->tenant)
		opts->tenant = "acme";
	if (!doc || !spec_parse(doc, &spec, &serr))
		fail_msg("bad test spec");
	if (!render_volumes(&spec, opts, hosts, &out, err, sizeof(err)))
		fail_msg("render_volumes failed: %s", err);
	spec_free(&spec);
	json_decref(doc);
	return out;
}

/*
 * Masters and data nodes claim their data path from the cluster's own
 * StorageClass, and find one PersistentVolume per host over the same
 * folder as before, pinned to that host: what keeps a restarted pod on
 * its host.
 */
static void test_data_claims_and_volumes(void **state)
{
	static const char spec_json[] = "{\"name\": \"logs\", \"version\": \"7.17.10\","
					" \"data\": {\"replicas\": 2, \"disk\": \"50Gi\"}}";
	static const char *const hosts[] = {"node-1", "node-2", NULL};
	struct render_opts opts = {0};
	json_t *objs = render(spec_json, NULL);
	json_t *vols = volumes(spec_json, &opts, hosts);
	json_t *tmpl, *sc, *pv;

	/* The claim templates: data, of the class, selecting the volumes of
	 * the tenant, cluster and role, for the disk (masters: 1Gi). */
	tmpl = at(find(objs, "StatefulSet", "es-data"), "spec.volumeClaimTemplates.0");
	assert_non_null(tmpl);
	assert_string_equal(str_at(tmpl, "metadata.name"), "data");
	assert_string_equal(str_at(tmpl, "spec.storageClassName"), NS);
	assert_string_equal(str_at(tmpl, "spec.accessModes.0"), "ReadWriteOnce");
	assert_string_equal(str_at(tmpl, "spec.resources.requests.storage"), "50Gi");
	assert_string_equal(json_string_value(json_object_get(at(tmpl, "spec.selector.matchLabels"),
							      RENDER_LABEL_TENANT)),
			    "acme");
	assert_string_equal(json_string_value(json_object_get(at(tmpl, "spec.selector.matchLabels"),
							      RENDER_LABEL_ROLE)),
			    "data");
	tmpl = at(find(objs, "StatefulSet", "es-master"), "spec.volumeClaimTemplates.0");
	assert_string_equal(str_at(tmpl, "spec.resources.requests.storage"), "1Gi");
	assert_null(at(find(objs, "StatefulSet", "es-client"), "spec.volumeClaimTemplates"));
	/* The mount stays where it was. */
	assert_non_null(container(objs, ES_ROLE_DATA, "containers", "elasticsearch"));

	/* The class, then a volume per host and role. */
	assert_int_equal(json_array_size(vols), 1 + 2 * 2);
	sc = json_array_get(vols, 0);
	assert_string_equal(str_at(sc, "kind"), "StorageClass");
	assert_string_equal(str_at(sc, "metadata.name"), NS);
	assert_null(at(sc, "metadata.namespace"));
	assert_string_equal(str_at(sc, "provisioner"), "kubernetes.io/no-provisioner");
	assert_string_equal(str_at(sc, "volumeBindingMode"), "WaitForFirstConsumer");
	assert_string_equal(str_at(sc, "reclaimPolicy"), "Retain");
	pv = find(vols, "PersistentVolume", NS "-data-node-2");
	assert_non_null(pv);
	assert_null(at(pv, "metadata.namespace"));
	assert_string_equal(str_at(pv, "spec.hostPath.path"), "/es/" NS "/data/data");
	assert_string_equal(str_at(pv, "spec.hostPath.type"), "DirectoryOrCreate");
	assert_string_equal(str_at(pv, "spec.capacity.storage"), "50Gi");
	assert_string_equal(str_at(pv, "spec.storageClassName"), NS);
	assert_string_equal(str_at(pv, "spec.persistentVolumeReclaimPolicy"), "Retain");
	assert_string_equal(
		str_at(pv, "spec.nodeAffinity.required.nodeSelectorTerms.0.matchExpressions.0.key"),
		RENDER_HOST_LABEL);
	assert_string_equal(str_at(pv, "spec.nodeAffinity.required.nodeSelectorTerms.0."
				       "matchExpressions.0.values.0"),
			    "node-2");
	/* The claims' selector picks it: the volume has those labels. */
	assert_true(selects(at(find(objs, "StatefulSet", "es-data"),
			       "spec.volumeClaimTemplates.0.spec.selector.matchLabels"),
			    at(pv, "metadata.labels")));
	pv = find(vols, "PersistentVolume", NS "-master-node-1");
	assert_string_equal(str_at(pv, "spec.hostPath.path"), "/es/" NS "/master/data");
	json_decref(vols);
	json_decref(objs);
}

static const char *topology_key(json_t *objs, enum es_role role)
{
	return str_at(pod_spec(objs, role),
		      "affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution.0."
		      "topologyKey");
}

static void test_anti_affinity_per_placement(void **state)
{
	struct render_opts custom = {.rack_label = "failure-domain.example.com/rack"};
	json_t *host = render("{\"name\": \"logs\", \"placement\": {\"spread\": \"host\"}}", NULL);
	json_t *rack = render("{\"name\": \"logs\", \"placement\": {\"spread\": \"rack\"}}", NULL);
	json_t *rack2 =
		render("{\"name\": \"logs\", \"placement\": {\"spread\": \"rack\"}}", &custom);

	for (int r = 0; r < ES_ROLE_COUNT; r++) {
		assert_string_equal(topology_key(host, r), "kubernetes.io/hostname");
		assert_string_equal(topology_key(rack, r), RENDER_RACK_LABEL_DEFAULT);
		assert_string_equal(topology_key(rack2, r), "failure-domain.example.com/rack");
	}
	json_decref(host);
	json_decref(rack);
	json_decref(rack2);
}

static void test_discovery_per_version(void **state)
{
	static const struct {
		const char *version;
		const char *key;
		bool zen1;
	} cases[] = {
		{"2.4.6", "discovery.zen.ping.unicast.hosts:\n- es-${NAMESPACE}\n", true},
		{"5.6.16", "discovery.zen.ping.unicast.hosts:\n- es-${NAMESPACE}\n", true},
		{"6.8.23", "discovery.zen.ping.unicast.hosts:\n- es-${NAMESPACE}\n", true},
		{"7.17.10", "discovery.seed_hosts:\n- es-${NAMESPACE}\n", false},
		{"8.17.0", "discovery.seed_hosts:\n- es-${NAMESPACE}\n", false},
		{"9.5.2", "discovery.seed_hosts:\n- es-${NAMESPACE}\n", false},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *spec = xasprintf("{\"name\": \"logs\", \"version\": \"%s\","
				       " \"masters\": {\"replicas\": 5}}",
				       cases[i].version);
		json_t *objs = render(spec, NULL);

		for (int r = 0; r < ES_ROLE_COUNT; r++) {
			const char *yml = yml_of(objs, r);

			if (!strstr(yml, cases[i].key))
				fail_msg("%s %s: no \"%s\" in\n%s", cases[i].version,
					 es_role_name(r), cases[i].key, yml);
			assert_non_null(strstr(yml, "cluster.name: elasticsearch-${NAMESPACE}\n"));
			assert_non_null(strstr(yml, "node.name: ${POD_NAME}-${NAMESPACE}\n"));
			assert_non_null(strstr(yml, "network.host: ${POD_IP}\n"));
			/* zen1: a quorum of 5 masters is 3; zen2 has no such setting. */
			if (cases[i].zen1)
				assert_non_null(
					strstr(yml, "discovery.zen.minimum_master_nodes: 3\n"));
			else
				assert_null(strstr(yml, "minimum_master_nodes"));
			/* Without the masters named (render_opts), no node is
			 * told to bootstrap: only the first formation is. */
			assert_null(strstr(yml, "initial_master_nodes"));
		}
		json_decref(objs);
		free(spec);
	}
}

static void test_initial_master_nodes_first_boot_only(void **state)
{
	const char *names[] = {"es-master-a-" NS, "es-master-b-" NS, "es-master-c-" NS, NULL};
	struct render_opts opts = {.initial_master_nodes = names};
	struct render_opts opts6 = {.initial_master_nodes = names};
	json_t *objs = render("{\"name\": \"logs\", \"version\": \"7.17.10\"}", &opts);
	json_t *zen1 = render("{\"name\": \"logs\", \"version\": \"6.8.23\"}", &opts6);

	assert_non_null(strstr(yml_of(objs, ES_ROLE_MASTER),
			       "cluster.initial_master_nodes:\n- es-master-a-" NS
			       "\n- es-master-b-" NS "\n- es-master-c-" NS "\n"));
	/* Master-eligible nodes only. */
	assert_null(strstr(yml_of(objs, ES_ROLE_DATA), "initial_master_nodes"));
	assert_null(strstr(yml_of(objs, ES_ROLE_CLIENT), "initial_master_nodes"));
	/* zen1 has no such thing. */
	assert_null(strstr(yml_of(zen1, ES_ROLE_MASTER), "initial_master_nodes"));
	json_decref(objs);
	json_decref(zen1);
}

static void test_roles_and_security_per_version(void **state)
{
	json_t *v2 = render("{\"name\": \"logs\", \"version\": \"2.4.6\"}", NULL);
	json_t *v7 = render("{\"name\": \"logs\", \"version\": \"7.17.10\"}", NULL);
	json_t *v8 = render("{\"name\": \"logs\", \"version\": \"8.17.0\"}", NULL);

	assert_non_null(strstr(yml_of(v2, ES_ROLE_DATA), "node.master: false\nnode.data: true\n"));
	assert_null(strstr(yml_of(v2, ES_ROLE_DATA), "node.ingest"));
	assert_non_null(strstr(yml_of(v7, ES_ROLE_MASTER), "node.roles:\n- master\n"));
	assert_non_null(strstr(yml_of(v8, ES_ROLE_CLIENT), "node.roles:\n- ingest\n"));
	/* Security off on purpose where it would otherwise be on. */
	for (int r = 0; r < ES_ROLE_COUNT; r++) {
		assert_non_null(strstr(yml_of(v8, r), "xpack.security.enabled: false\n"));
		assert_null(strstr(yml_of(v7, r), "xpack.security"));
	}
	json_decref(v2);
	json_decref(v7);
	json_decref(v8);
}

static const struct render_security test_security = {
	.ca_crt = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n",
	.tls_crt = "-----BEGIN CERTIFICATE-----\nNODE\n-----END CERTIFICATE-----\n",
	.tls_key = "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n",
	.elastic_password = "elastic-pw",
	.kibana_password = "kibana-pw",
};

/*
 * esaas's own user: its password in the Secret beside elastic's once the
 * cluster's security has one (none for a cluster secured before esaas had a
 * user); esaasd calls as that user only once the record says it exists,
 * as elastic before, and never without a CA and elastic's password.
 */
static void test_esaas_user_password_and_credentials(void **state)
{
	struct render_security with = test_security;
	with.esaas_password = "esaas-pw";
	const struct render_security *secs[] = {&test_security, &with};
	for (size_t i = 0; i < ARRAY_SIZE(secs); i++) {
		struct render_opts o = {.security = secs[i]};
		json_t *objs = render("{\"name\": \"logs\", \"version\": \"7.17.10\"}", &o);
		json_t *data = json_object_get(render_find(objs, "Secret", RENDER_SECURITY_SECRET),
					       "data");
		assert_string_equal(json_string_value(json_object_get(data, "elastic")),
				    "ZWxhc3RpYy1wdw==");
		if (i == 0)
			assert_null(json_object_get(data, ES_ESAAS_USER));
		else /* "esaas-pw" */
			assert_string_equal(json_string_value(json_object_get(data, ES_ESAAS_USER)),
					    "ZXNhYXMtcHc=");
		json_decref(objs);
	}

	struct es_credentials cred;
	json_t *sec = json_pack("{s:s, s:s, s:s}", "ca_crt", "CA", "elastic", "elastic-pw",
				ES_ESAAS_USER, "esaas-pw");
	assert_true(es_security_credentials(sec, &cred));
	assert_string_equal(cred.user, "elastic");
	assert_string_equal(cred.password, "elastic-pw");
	assert_string_equal(cred.ca_pem, "CA");
	json_object_set_new(sec, "esaas_user", json_true());
	assert_true(es_security_credentials(sec, &cred));
	assert_string_equal(cred.user, ES_ESAAS_USER);
	assert_string_equal(cred.password, "esaas-pw");
	/* The flag without a password: elastic still. */
	json_object_del(sec, ES_ESAAS_USER);
	assert_true(es_security_credentials(sec, &cred));
	assert_string_equal(cred.user, "elastic");
	json_object_del(sec, "ca_crt");
	assert_false(es_security_credentials(sec, &cred));
	assert_false(es_security_credentials(NULL, &cred));
	json_decref(sec);
}

static const char *secret_key_ref(json_t *c, const char *name)
{
	size_t i;
	json_t *e;
	json_array_foreach (json_object_get(c, "env"), i, e) {
		if (!strcmp(json_string_value(json_object_get(e, "name")), name)) {
			assert_string_equal(str_at(e, "valueFrom.secretKeyRef.name"),
					    RENDER_SECURITY_SECRET);
			return str_at(e, "valueFrom.secretKeyRef.key");
		}
	}
	return NULL;
}

/*
 * With a cluster's security, 6.8+ of the default distribution get users,
 * TLS on transport (which the TLS bootstrap check requires) and on HTTP
 * from the Secret es-security, the elastic password as the bootstrap
 * password, and Kibana its user and the CA; 2.x-6.7 and the -oss images,
 * whose free licence has no security, are rendered as without it.
 */
static void test_security_for_the_versions_that_have_it(void **state)
{
	static const struct {
		const char *version;
		bool secured;
		const char *kibana_user;
	} cases[] = {{"2.4.6", false, NULL},
		     {"5.6.16", false, NULL},
		     {"6.7.2", false, NULL},
		     {"6.8.23", true, "kibana"},
		     {"7.17.10", true, "kibana_system"},
		     {"8.17.0", true, "kibana_system"},
		     {"9.5.2", true, "kibana_system"}};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *json = xasprintf("{\"name\": \"logs\", \"version\": \"%s\", \"clients\":"
				       " {\"replicas\": 1}, \"kibana\": {\"replicas\": 1}}",
				       cases[i].version);
		struct render_opts o = {.security = &test_security};
		json_t *objs = render(json, &o);
		json_t *secret = render_find(objs, "Secret", RENDER_SECURITY_SECRET);
		json_t *kibana = at(find(objs, "Deployment", RENDER_KIBANA_NAME),
				    "spec.template.spec.containers.0");

		if (!cases[i].secured) {
			assert_null(secret);
			for (int r = 0; r < ES_ROLE_COUNT; r++) {
				assert_null(strstr(yml_of(objs, r), "xpack.security"));
				assert_null(secret_key_ref(
					container(objs, r, "containers", "elasticsearch"),
					"ELASTIC_PASSWORD"));
			}
			assert_null(secret_key_ref(kibana, "ELASTICSEARCH_PASSWORD"));
			json_decref(objs);
			free(json);
			continue;
		}
		assert_non_null(secret);
		assert_string_equal(str_at(secret, "metadata.namespace"), NS);
		/* ZWxhc3RpYy1wdw== is "elastic-pw". */
		assert_string_equal(str_at(secret, "data.elastic"), "ZWxhc3RpYy1wdw==");
		assert_non_null(json_object_get(json_object_get(secret, "data"), "tls.key"));
		assert_non_null(json_object_get(json_object_get(secret, "data"), "ca.crt"));
		for (int r = 0; r < ES_ROLE_COUNT; r++) {
			const char *yml = yml_of(objs, r);
			json_t *c = container(objs, r, "containers", "elasticsearch");
			assert_non_null(strstr(yml, "xpack.security.enabled: true\n"));
			assert_non_null(
				strstr(yml, "xpack.security.transport.ssl.enabled: true\n"));
			assert_non_null(strstr(yml,
					       "xpack.security.transport.ssl.verification_mode: "
					       "certificate\n"));
			assert_non_null(strstr(yml, "xpack.security.http.ssl.enabled: true\n"));
			assert_non_null(strstr(
				yml, "xpack.security.http.ssl.certificate: certs/tls.crt\n"));
			assert_non_null(
				strstr(yml, "xpack.security.transport.ssl.key: certs/tls.key\n"));
			assert_string_equal(secret_key_ref(c, "ELASTIC_PASSWORD"), "elastic");
			json_t *m, *certs = NULL;
			size_t k;
			json_array_foreach (json_object_get(c, "volumeMounts"), k, m)
				if (!strcmp(str_at(m, "name"), "certs"))
					certs = m;
			assert_non_null(certs);
			assert_string_equal(str_at(certs, "mountPath"),
					    "/usr/share/elasticsearch/config/certs");
		}
		assert_string_equal(env_value(kibana, "ELASTICSEARCH_USERNAME"),
				    cases[i].kibana_user);
		assert_string_equal(secret_key_ref(kibana, "ELASTICSEARCH_PASSWORD"),
				    "kibana_system");
		assert_string_equal(env_value(kibana, "ELASTICSEARCH_SSL_CERTIFICATEAUTHORITIES"),
				    "/usr/share/kibana/config/certs/ca.crt");
		const char *hosts = env_value(kibana, "ELASTICSEARCH_HOSTS")
					    ? env_value(kibana, "ELASTICSEARCH_HOSTS")
					    : env_value(kibana, "ELASTICSEARCH_URL");
		assert_string_equal(hosts, "https://es-http:9200");
		/* Kibana mounts the CA alone, never the nodes' key. */
		json_t *kvol = at(find(objs, "Deployment", RENDER_KIBANA_NAME),
				  "spec.template.spec.volumes.0.secret.items");
		assert_int_equal(json_array_size(kvol), 1);
		assert_string_equal(str_at(kvol, "0.key"), "ca.crt");
		json_decref(objs);
		free(json);
	}
}

/*
 * Object storage: for 7.3 and later with the tenant's keys, the Secret of
 * the key pair (the cluster's labels on it), an init container of the
 * node's own image that makes the keystore from it as the non-root user,
 * the keystore mounted as config/elasticsearch.keystore, the client's
 * settings in elasticsearch.yml, and repository-s3 installed where it is a
 * plugin (before 8.0).  Older versions, and a tenant without keys, get
 * none of it; the repository's body names the bucket, the tenant's and
 * cluster's prefix and the client.
 */
static void test_s3_keystore_for_the_versions_that_have_it(void **state)
{
	(void)state;
	static const struct {
		const char *version;
		bool on, plugin;
	} cases[] = {{"6.8.23", false, false},
		     {"7.2.1", false, false},
		     {"7.17.10", true, true},
		     {"8.17.0", true, false}};
	struct render_s3 s3 = {.bucket = "snaps",
			       .endpoint = "minio.storage.svc:9000",
			       .protocol = "http",
			       .path_style_access = true,
			       .base_path = "esaas",
			       .access_key = "AKACME",
			       .secret_key = "s3cr3t"};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *json =
			xasprintf("{\"name\": \"logs\", \"version\": \"%s\"}", cases[i].version);
		struct render_opts o = {.s3 = &s3, .cluster_id = 7};
		json_t *objs = render(json, &o);
		json_t *secret = render_find(objs, "Secret", RENDER_S3_SECRET);
		assert_true(render_snapshots_enabled(&o));
		for (int r = 0; r < ES_ROLE_COUNT; r++) {
			const char *yml = yml_of(objs, r);
			json_t *ks = container(objs, r, "initContainers", "keystore");
			json_t *plugins = container(objs, r, "initContainers", "install-plugins");
			const char *list = env_value(plugins, "ES_PLUGINS");
			assert_null(strstr(yml, "path.repo"));
			if (!cases[i].on) {
				assert_null(ks);
				assert_null(strstr(yml, "s3.client"));
				assert_null(strstr(list, "repository-s3"));
				continue;
			}
			assert_non_null(strstr(yml, "s3.client.esaas.endpoint: "
						    "minio.storage.svc:9000\n"));
			assert_non_null(strstr(yml, "s3.client.esaas.protocol: http\n"));
			assert_non_null(strstr(yml, "s3.client.esaas.path_style_access: true\n"));
			assert_non_null(ks);
			assert_string_equal(
				str_at(ks, "image"),
				str_at(container(objs, r, "containers", "elasticsearch"), "image"));
			assert_int_equal(json_integer_value(at(ks, "securityContext.runAsUser")),
					 1000);
			assert_true(json_is_true(at(ks, "securityContext.runAsNonRoot")));
			const char *script = str_at(ks, "command.2");
			assert_non_null(strstr(script, "bin/elasticsearch-keystore create\n"));
			assert_non_null(strstr(script, "bin/elasticsearch-keystore add --stdin "
						       "s3.client.esaas.access_key < "));
			assert_non_null(strstr(script, "s3.client.esaas.secret_key < "));
			/* The node reads the keystore the init container made. */
			json_t *c = container(objs, r, "containers", "elasticsearch");
			json_t *m, *mount = NULL;
			size_t k;
			json_array_foreach (json_object_get(c, "volumeMounts"), k, m)
				if (!strcmp(str_at(m, "name"), "keystore"))
					mount = m;
			assert_non_null(mount);
			assert_string_equal(
				str_at(mount, "mountPath"),
				"/usr/share/elasticsearch/config/elasticsearch.keystore");
			assert_string_equal(str_at(mount, "subPath"), "elasticsearch.keystore");
			assert_int_equal(cases[i].plugin, strstr(list, "repository-s3") != NULL);
		}
		if (!cases[i].on) {
			assert_null(secret);
		} else {
			assert_non_null(secret);
			/* QUtBQ01F is "AKACME". */
			assert_string_equal(str_at(secret, "data.access_key"), "QUtBQ01F");
			json_t *l = at(secret, "metadata.labels");
			assert_string_equal(
				json_string_value(json_object_get(l, RENDER_LABEL_TENANT)), "acme");
			assert_string_equal(
				json_string_value(json_object_get(l, RENDER_LABEL_CLUSTER_ID)),
				"7");
		}
		json_decref(objs);
		free(json);
	}

	/* A tenant without keys: no Secret, no keystore. */
	s3.access_key = s3.secret_key = NULL;
	struct render_opts o = {.s3 = &s3};
	json_t *objs = render("{\"name\": \"logs\", \"version\": \"8.17.0\"}", &o);
	assert_null(render_find(objs, "Secret", RENDER_S3_SECRET));
	assert_null(container(objs, ES_ROLE_DATA, "initContainers", "keystore"));
	json_decref(objs);

	/* The repository: the tenant's prefix, the cluster's folder in it. */
	s3.access_key = "AKACME";
	json_t *repo = render_s3_repository(&s3, "acme", "es-acme-logs", true);
	assert_string_equal(str_at(repo, "type"), "s3");
	assert_string_equal(str_at(repo, "settings.bucket"), "snaps");
	assert_string_equal(str_at(repo, "settings.base_path"), "esaas/acme/es-acme-logs");
	assert_string_equal(str_at(repo, "settings.client"), "esaas");
	assert_true(json_is_true(at(repo, "settings.readonly")));
	json_decref(repo);
}

/* With security, the keystore holds the bootstrap password too: the
 * images' entrypoint would otherwise write it through the one-file mount. */
static void test_s3_keystore_with_security(void **state)
{
	(void)state;
	struct render_s3 s3 = {
		.bucket = "snaps", .base_path = "esaas", .access_key = "a", .secret_key = "b"};
	struct render_opts o = {.s3 = &s3, .security = &test_security};
	json_t *objs = render("{\"name\": \"logs\", \"version\": \"7.17.10\"}", &o);
	json_t *ks = container(objs, ES_ROLE_MASTER, "initContainers", "keystore");
	assert_non_null(ks);
	assert_non_null(strstr(str_at(ks, "command.2"), "add --stdin bootstrap.password"));
	assert_string_equal(secret_key_ref(ks, "ELASTIC_PASSWORD"), "elastic");
	/* Without an endpoint: AWS's, no client settings but the keys. */
	assert_null(strstr(yml_of(objs, ES_ROLE_MASTER), "s3.client"));
	json_decref(objs);
}

static void test_user_config_merged(void **state)
{
	json_t *objs = render(base_spec, NULL);

	/* Quoted: a bare 4096 would be a number, the spec sent a string. */
	for (int r = 0; r < ES_ROLE_COUNT; r++)
		assert_non_null(
			strstr(yml_of(objs, r), "indices.query.bool.max_clause_count: \"4096\"\n"));
	json_decref(objs);
}

static void test_plugin_init_container_per_version(void **state)
{
	static const struct {
		const char *version;
		const char *plugin;
		const char *command;
	} cases[] = {
		{"2.4.6", "analysis-icu", "bin/plugin install \"$repo/$p-2.4.6.zip\""},
		{"5.6.16", "analysis-icu",
		 "bin/elasticsearch-plugin install --batch \"$repo/$p-5.6.16.zip\""},
		{"6.8.23", "analysis-icu",
		 "bin/elasticsearch-plugin install --batch \"$repo/$p-6.8.23.zip\""},
		{"7.17.10", "analysis-icu",
		 "bin/elasticsearch-plugin install --batch \"$repo/$p-7.17.10.zip\""},
		{"8.17.0", "analysis-icu",
		 "bin/elasticsearch-plugin install --batch \"$repo/$p-8.17.0.zip\""},
		/* A plugin is built for one exact release, 9.x's as any. */
		{"9.5.2", "analysis-icu",
		 "bin/elasticsearch-plugin install --batch \"$repo/$p-9.5.2.zip\""},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *spec = xasprintf("{\"name\": \"logs\", \"version\": \"%s\", \"plugins\": "
				       "[\"%s\", \"analysis-phonetic\"]}",
				       cases[i].version, cases[i].plugin);
		struct render_opts opts = {.plugin_repo_url = "http://plugins.local/it's/"};
		json_t *objs = render(spec, &opts);

		for (int r = 0; r < ES_ROLE_COUNT; r++) {
			json_t *c = container(objs, r, "initContainers", "install-plugins");
			json_t *cmd = json_object_get(c, "command");
			const char *script;
			char *want;

			assert_non_null(c);
			assert_string_equal(str_at(cmd, "0"), "sh");
			assert_string_equal(str_at(cmd, "1"), "-c");
			script = str_at(cmd, "2");
			if (!strstr(script, cases[i].command))
				fail_msg("%s: no \"%s\" in\n%s", cases[i].version, cases[i].command,
					 script);
			/* The repository, quoted for sh, without its trailing slash
			 * doubled into the URL. */
			assert_non_null(strstr(script, "repo='http://plugins.local/it'\\''s'\n"));
			/* The plugin list is the container's ES_PLUGINS. */
			assert_int_equal(json_array_size(cmd), 3);
			assert_string_equal(str_at(c, "env.0.name"), "ES_PLUGINS");
			want = xasprintf("%s analysis-phonetic", cases[i].plugin);
			assert_string_equal(str_at(c, "env.0.value"), want);
			free(want);
			assert_non_null(strstr(script, "for p in $ES_PLUGINS; do\n"));
			assert_string_equal(str_at(c, "volumeMounts.0.mountPath"),
					    "/usr/share/elasticsearch/plugins");
			/* As the image's own user from 5.0; 2.x's image is root. */
			if (strcmp(cases[i].version, "5") >= 0)
				assert_int_equal(
					json_integer_value(at(c, "securityContext.runAsUser")),
					RENDER_ES_UID);
			else
				assert_null(at(c, "securityContext.runAsUser"));
			assert_true(
				json_is_false(at(c, "securityContext.allowPrivilegeEscalation")));
		}
		json_decref(objs);
		free(spec);
	}
}

static void test_es_container(void **state)
{
	json_t *objs = render(
		"{\"name\": \"logs\", \"data\": {\"memory\": \"8Gi\", \"cpu\": \"1500m\"}}", NULL);
	json_t *old = render("{\"name\": \"logs\", \"version\": \"2.4.6\"}", NULL);
	json_t *c = container(objs, ES_ROLE_DATA, "containers", "elasticsearch");
	json_t *c2 = container(old, ES_ROLE_DATA, "containers", "elasticsearch");

	assert_string_equal(str_at(c, "image"),
			    "docker.elastic.co/elasticsearch/elasticsearch:7.17.10");
	assert_string_equal(env_value(c, "POD_NAME"), "metadata.name");
	assert_string_equal(env_value(c, "POD_IP"), "status.podIP");
	assert_string_equal(env_value(c, "NAMESPACE"), "metadata.namespace");
	assert_string_equal(env_value(c, "ES_JAVA_OPTS"), "-Xms4g -Xmx4g");
	assert_null(env_value(c, "ES_HEAP_SIZE"));
	assert_string_equal(str_at(c, "resources.requests.cpu"), "1500m");
	assert_string_equal(str_at(c, "resources.limits.memory"), "8Gi");
	assert_int_equal(json_integer_value(at(c, "readinessProbe.tcpSocket.port")), 9200);
	assert_string_equal(str_at(c, "volumeMounts.0.subPath"), "elasticsearch.yml");
	assert_string_equal(str_at(c, "volumeMounts.2.mountPath"), "/usr/share/elasticsearch/data");

	assert_string_equal(str_at(c2, "image"), "elasticsearch:2.4.6");
	assert_string_equal(env_value(c2, "ES_HEAP_SIZE"), "4g");
	json_decref(objs);
	json_decref(old);
}

static void test_image_choice(void **state)
{
	struct render_opts mirror = {.image_registry = "registry.local:5000"};
	struct render_opts pinned = {.image_registry = "registry.local:5000",
				     .allowed_images = "8.17.0=registry.local:5000/es@sha256:0123, "
						       "7.17.10=own/es:7.17.10-icu, "
						       "9.5.2=registry.local:5000/es@sha256:0952"};
	struct render_opts pinned2 = pinned;
	json_t *a = render("{\"name\": \"logs\", \"version\": \"8.17.0\"}", &mirror);
	json_t *b = render("{\"name\": \"logs\", \"image\": \"own/es:7.17.10-icu\"}", &pinned);
	json_t *p = render("{\"name\": \"logs\", \"version\": \"8.17.0\"}", &pinned2);
	json_t *a9 = render("{\"name\": \"logs\", \"version\": \"9.5.2\"}", &mirror);
	json_t *p9 = render("{\"name\": \"logs\", \"version\": \"9.5.2\"}", &pinned2);

	for (int r = 0; r < ES_ROLE_COUNT; r++) {
		assert_string_equal(str_at(container(a, r, "containers", "elasticsearch"), "image"),
				    "registry.local:5000/elasticsearch/elasticsearch:8.17.0");
		/* The spec's own image, when the allow-list pins it to the
		 * version, init containers of the Elasticsearch image included. */
		assert_string_equal(str_at(container(b, r, "containers", "elasticsearch"), "image"),
				    "own/es:7.17.10-icu");
		assert_string_equal(
			str_at(container(b, r, "initContainers", "install-plugins"), "image"),
			"own/es:7.17.10-icu");
		/* A pinned version runs its pinned image, spec or no. */
		assert_string_equal(str_at(container(p, r, "containers", "elasticsearch"), "image"),
				    "registry.local:5000/es@sha256:0123");
		/* 9.x the same way: the mirror's path, or its own pin. */
		assert_string_equal(
			str_at(container(a9, r, "containers", "elasticsearch"), "image"),
			"registry.local:5000/elasticsearch/elasticsearch:9.5.2");
		assert_string_equal(
			str_at(container(p9, r, "containers", "elasticsearch"), "image"),
			"registry.local:5000/es@sha256:0952");
	}
	json_decref(a);
	json_decref(b);
	json_decref(p);
	json_decref(a9);
	json_decref(p9);
}

/* A spec's own image off the allow-list renders nothing, naming the field. */
static void test_image_off_the_allow_list_is_refused(void **state)
{
	static const char *const lists[] = {NULL, "7.17.10=own/es:7.17.10",
					    "6.8.23=evil/es:1, 7.17.10=own/es:7.17.10"};
	json_t *doc = json_loads("{\"name\": \"logs\", \"version\": \"7.17.10\", \"image\":"
				 " \"evil/es:1\"}",
				 0, NULL);
	struct spec spec;
	struct spec_error serr;
	char err[256];

	assert_true(spec_parse(doc, &spec, &serr));
	for (size_t i = 0; i < ARRAY_SIZE(lists); i++) {
		struct render_opts o = {.tenant = "acme",
					.plugin_repo_url = "http://plugins.local/es",
					.allowed_images = lists[i]};
		json_t *out = NULL;

		assert_false(render_cluster(&spec, &o, &out, err, sizeof(err)));
		assert_null(out);
		if (strncmp(err, "image: evil/es:1 is not on the operator's allow-list", 52) != 0)
			fail_msg("%s", err);
		assert_false(spec_check_image(&spec, lists[i], &serr));
		assert_string_equal(serr.field, "image");
	}
	spec_free(&spec);
	json_decref(doc);
}

static void test_prepare_container(void **state)
{
	struct render_opts tuned = {.tune_hosts = true, .utility_image = "tools/busybox@sha256:ab"};
	struct render_opts own = {.utility_image = "tools/busybox@sha256:ab"};
	json_t *objs = render(base_spec, &own);
	json_t *t = render(base_spec, &tuned);
	json_t *p;

	/* Every role that keeps data gives its folder to uid 1000, from
	 * esaas's utility image, root with CHOWN alone; clients keep none. */
	for (int r = 0; r < ES_ROLE_COUNT; r++) {
		for (int tuned_hosts = 0; tuned_hosts <= 1; tuned_hosts++) {
			p = container(tuned_hosts ? t : objs, r, "initContainers", "prepare");
			if (r == ES_ROLE_CLIENT) {
				assert_null(p);
				continue;
			}
			assert_string_equal(str_at(p, "image"), "tools/busybox@sha256:ab");
			assert_string_equal(
				str_at(p, "command.2"),
				"set -eu\nchown 1000:0 /usr/share/elasticsearch/data\n");
			assert_string_equal(str_at(p, "volumeMounts.0.mountPath"),
					    "/usr/share/elasticsearch/data");
			assert_null(at(p, "securityContext.privileged"));
			assert_true(
				json_is_false(at(p, "securityContext.allowPrivilegeEscalation")));
			assert_string_equal(str_at(p, "securityContext.capabilities.drop.0"),
					    "ALL");
			assert_string_equal(str_at(p, "securityContext.capabilities.add.0"),
					    "CHOWN");
			assert_null(at(p, "securityContext.capabilities.add.1"));
		}
		/* vm.max_map_count only with tune_hosts, privileged, of the
		 * utility image; by default the hosts are tuned beforehand. */
		assert_null(container(objs, r, "initContainers", "sysctl"));
		p = container(t, r, "initContainers", "sysctl");
		assert_string_equal(str_at(p, "image"), "tools/busybox@sha256:ab");
		assert_true(json_is_true(at(p, "securityContext.privileged")));
		assert_non_null(strstr(str_at(p, "command.2"), "max_map_count"));
	}
	assert_string_equal(json_string_value(json_object_get(
				    at(find(objs, "Namespace", NS), "metadata.labels"),
				    "pod-security.kubernetes.io/enforce")),
			    "baseline");
	assert_string_equal(
		json_string_value(json_object_get(at(find(t, "Namespace", NS), "metadata.labels"),
						  "pod-security.kubernetes.io/enforce")),
		"privileged");
	json_decref(objs);
	json_decref(t);
}

/*
 * The tenant's version decides the Elasticsearch (and Kibana) image, which
 * runs whatever the tenant installs: over every version, no container of
 * any pod esaas renders is privileged, none of those images runs as root
 * (2.x's, whose entrypoint starts as root, aside), and what does run as
 * root is esaas's utility image, with no privilege to gain.  No pod
 * template mounts a hostPath, so the namespace can be baseline.
 */
static void check_pod(json_t *pod_spec, const char *what, int major, const char *utility)
{
	static const char *const lists[] = {"initContainers", "containers"};
	size_t i;
	json_t *c, *v;

	json_array_foreach (json_object_get(pod_spec, "volumes"), i, v)
		if (json_object_get(v, "hostPath") && strcmp(what, "wipe") != 0)
			fail_msg("%s: volume %s is a hostPath", what, str_at(v, "name"));
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		json_array_foreach (json_object_get(pod_spec, lists[l]), i, c) {
			const char *image = str_at(c, "image");
			json_t *uid = at(c, "securityContext.runAsUser");
			bool ours = strcmp(image, utility) == 0;

			if (json_is_true(at(c, "securityContext.privileged")))
				fail_msg("%s: container %s is privileged", what, str_at(c, "name"));
			if (!json_is_false(at(c, "securityContext.allowPrivilegeEscalation")))
				fail_msg("%s: container %s may escalate", what, str_at(c, "name"));
			if (ours) {
				assert_string_equal(
					str_at(c, "securityContext.capabilities.drop.0"), "ALL");
				continue;
			}
			if (major < 5) {
				/* 2.x: the image's entrypoint is root, then steps down. */
				assert_null(uid);
				continue;
			}
			if (json_integer_value(uid) != RENDER_ES_UID ||
			    !json_is_true(at(c, "securityContext.runAsNonRoot")))
				fail_msg("%s: container %s of %s does not run as uid 1000", what,
					 str_at(c, "name"), image);
			assert_string_equal(str_at(c, "securityContext.capabilities.drop.0"),
					    "ALL");
			assert_string_equal(str_at(c, "securityContext.seccompProfile.type"),
					    "RuntimeDefault");
		}
	}
}

static void test_no_tenant_image_runs_privileged_or_as_root(void **state)
{
	static const char *const versions[] = {"2.4.6",	  "5.6.16", "6.8.23",
					       "7.17.10", "8.17.0", "9.5.2"};
	const char *utility = "registry.local/busybox@sha256:ab";

	for (size_t i = 0; i < ARRAY_SIZE(versions); i++) {
		char *json = xasprintf("{\"name\": \"logs\", \"version\": \"%s\", \"plugins\":"
				       " [\"analysis-icu\"], \"clients\": {\"replicas\": 1},"
				       " \"kibana\": {\"replicas\": 1}}",
				       versions[i]);
		struct render_opts o = {.utility_image = utility};
		json_t *objs = render(json, &o);
		struct spec spec;
		struct spec_error serr;
		json_t *doc = json_loads(json, 0, NULL);
		int major = (int)strtol(versions[i], NULL, 10);

		for (int r = 0; r < ES_ROLE_COUNT; r++)
			check_pod(pod_spec(objs, r), versions[i], major, utility);
		check_pod(at(find(objs, "Deployment", RENDER_KIBANA_NAME), "spec.template.spec"),
			  "kibana", major, utility);
		assert_true(spec_parse(doc, &spec, &serr));
		json_t *wipe = render_wipe_pod(&spec, &o, "node-1", 0);
		check_pod(at(wipe, "spec"), "wipe", major, utility);
		assert_string_equal(str_at(wipe, "spec.containers.0.image"), utility);
		/* From 5.0 the wipe is Elasticsearch's own user, with no
		 * capability, emptying the data folders; 2.x's is root with
		 * CAP_DAC_OVERRIDE alone. */
		json_t *wc = at(wipe, "spec.containers.0");
		const char *script = str_at(wc, "command.2");
		if (major >= 5) {
			assert_int_equal(json_integer_value(at(wc, "securityContext.runAsUser")),
					 RENDER_ES_UID);
			assert_true(json_is_true(at(wc, "securityContext.runAsNonRoot")));
			assert_null(at(wc, "securityContext.capabilities.add"));
			assert_non_null(strstr(script, "find /target -mindepth 3 -maxdepth 3"));
		} else {
			assert_int_equal(json_integer_value(at(wc, "securityContext.runAsUser")),
					 0);
			assert_string_equal(str_at(wc, "securityContext.capabilities.add.0"),
					    "DAC_OVERRIDE");
			assert_non_null(strstr(script, "find /target -mindepth 1 -maxdepth 1"));
		}
		json_decref(wipe);
		spec_free(&spec);
		json_decref(doc);
		assert_string_equal(json_string_value(json_object_get(
					    at(find(objs, "Namespace", NS), "metadata.labels"),
					    "pod-security.kubernetes.io/enforce")),
				    "baseline");
		json_decref(objs);
		free(json);
	}
}

static void test_refusals(void **state)
{
	static const struct {
		struct render_opts opts;
		const char *spec;
		const char *message;
	} cases[] = {
		{{.tenant = "Acme"}, "{\"name\": \"logs\"}", "not a DNS-1123 label"},
		{{.tenant = ""}, "{\"name\": \"logs\"}", "not a DNS-1123 label"},
		{{.tenant = "acme",
		  .ns = "es-a234567890123456789012345678901234567890-0123456789abcdef01"},
		 "{\"name\": \"logs\"}",
		 "at most 60 fit"},
		{{.tenant = "acme"},
		 "{\"name\": \"logs\", \"plugins\": [\"analysis-icu\"]}",
		 "no plugin repository URL"},
		{{.tenant = "acme", .rack_label = "bad label"},
		 "{\"name\": \"logs\"}",
		 "not a valid label key"},
		{{.tenant = "acme", .storage_root = "es"},
		 "{\"name\": \"logs\"}",
		 "not an absolute path"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		json_t *doc = json_loads(cases[i].spec, 0, NULL);
		struct spec spec;
		struct spec_error serr;
		json_t *out = NULL;
		char err[256] = "";

		assert_true(spec_parse(doc, &spec, &serr));
		if (render_cluster(&spec, &cases[i].opts, &out, err, sizeof(err)))
			fail_msg("case %zu rendered", i);
		if (!strstr(err, cases[i].message))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].message);
		assert_null(out);
		spec_free(&spec);
		json_decref(doc);
	}
}

static void test_names(void **state)
{
	char *s;

	s = render_namespace("acme", "logs");
	assert_string_equal(s, NS);
	free(s);
	s = render_headless_service(NS);
	assert_string_equal(s, "es-" NS);
	free(s);
	s = render_selector("logs", ES_ROLE_DATA);
	assert_string_equal(s, "esaas.io/cluster=logs,esaas.io/role=data");
	free(s);
	s = render_node_name("es-data-0", NS);
	assert_string_equal(s, "es-data-0-" NS);
	free(s);
	assert_string_equal(render_workload_kind(ES_ROLE_DATA), "StatefulSet");
	assert_string_equal(render_workload_kind(ES_ROLE_MASTER), "StatefulSet");
	assert_string_equal(render_workload_kind(ES_ROLE_CLIENT), "StatefulSet");
	assert_string_equal(render_config_name(ES_ROLE_CLIENT), "es-client-config");
}

/* Two pairs whose names sort together have the same namespace. */
struct ns_pair {
	char *ns;
	const char *tenant, *cluster;
};

static int ns_pair_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ns_pair *)a)->ns, ((const struct ns_pair *)b)->ns);
}

/*
 * Every valid pair gets a namespace of its own that fits: the masters'
 * Service, es-<namespace>, is a DNS label.  All the labels of up to four
 * characters over 'a', '0' and '-' (where the readable form's ambiguity
 * lives), with names that look like the hashed form's end, are tried
 * against each other.
 */
static void test_namespace_names_fit_and_are_unambiguous(void **state)
{
	static const char *const extra[] = {
		"0123456789",
		"x-0123456789",
		"a-b-c",
		"b-c",
		"c",
		"a-b",
		"logs",
		"a234567890123456789012345678901234567890",
		"a-34567890123456789012345678901234567890",
	};
	const char *alphabet = "a0-";
	char **labels = NULL;
	size_t nlabels = 0;
	char buf[8];

	for (int len = 1; len <= 4; len++) {
		int total = 1;
		for (int i = 0; i < len; i++)
			total *= 3;
		for (int k = 0; k < total; k++) {
			int v = k;
			for (int i = 0; i < len; i++, v /= 3)
				buf[i] = alphabet[v % 3];
			buf[len] = '\0';
			if (!spec_is_dns_label(buf, SPEC_NAME_MAX))
				continue;
			labels = realloc(labels, (nlabels + 1) * sizeof(*labels));
			labels[nlabels++] = strdup(buf);
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(extra); i++) {
		labels = realloc(labels, (nlabels + 1) * sizeof(*labels));
		labels[nlabels++] = strdup(extra[i]);
	}
	size_t n = nlabels * nlabels;
	struct ns_pair *pairs = calloc(n, sizeof(*pairs));
	for (size_t t = 0; t < nlabels; t++) {
		for (size_t c = 0; c < nlabels; c++) {
			struct ns_pair *p = &pairs[t * nlabels + c];
			p->tenant = labels[t];
			p->cluster = labels[c];
			p->ns = render_namespace(p->tenant, p->cluster);
			char *svc = render_headless_service(p->ns);
			if (!spec_is_dns_label(svc, SPEC_DNS_LABEL_MAX))
				fail_msg("%s/%s: %s does not fit", p->tenant, p->cluster, svc);
			free(svc);
		}
	}
	qsort(pairs, n, sizeof(*pairs), ns_pair_cmp);
	for (size_t i = 1; i < n; i++)
		if (strcmp(pairs[i - 1].ns, pairs[i].ns) == 0)
			fail_msg("%s/%s and %s/%s both get %s", pairs[i - 1].tenant,
				 pairs[i - 1].cluster, pairs[i].tenant, pairs[i].cluster,
				 pairs[i].ns);
	for (size_t i = 0; i < n; i++)
		free(pairs[i].ns);
	free(pairs);
	for (size_t i = 0; i < nlabels; i++)
		free(labels[i]);
	free(labels);

	/* The forms, fixed: a cluster keeps the namespace it was given, so the
	 * function may never change what it gives.  es-<tenant>-<cluster> where
	 * it reads one way; else the cluster and SHA-256("<tenant>/<cluster>"). */
	static const char *const fixed[][3] = {
		{"acme", "logs", "es-acme-logs"},
		{"default", "logs", "es-default-logs"},
		{"a", "b-c", "es-a-b-c"},
		{"a-b", "c", "es-c-4e84717d75"},
		{"acme", "x-0123456789", "es-x-0123456789-303709887e"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++) {
		char *ns = render_namespace(fixed[i][0], fixed[i][1]);
		assert_string_equal(ns, fixed[i][2]);
		free(ns);
	}
	/* Both names at their limit: the hashed form, 54 characters. */
	char *ns = render_namespace("t234567890123456789012345678901234567890",
				    "c234567890123456789012345678901234567890");
	assert_int_equal(strlen(ns), 54);
	assert_true(strncmp(ns, "es-c234567890123456789012345678901234567890-", 44) == 0);
	free(ns);
}

static json_t *ns_object(const char *labels_json)
{
	json_t *o = json_pack("{s:{s:s, s:o}}", "metadata", "name", "es-acme-logs", "labels",
			      json_loads(labels_json, 0, NULL));
	assert_non_null(json_object_get(json_object_get(o, "metadata"), "labels"));
	return o;
}

/* Whose a live namespace is: the id label decides; without it, esaas's
 * labels of this tenant and cluster make it this cluster's to adopt. */
static void test_namespace_owner(void **state)
{
	static const struct {
		const char *labels;
		int64_t id;
		enum render_ns_owner owner;
		const char *why;
	} cases[] = {
		{"{\"esaas.io/cluster-id\": \"7\"}", 7, RENDER_NS_OURS, NULL},
		{"{\"esaas.io/cluster-id\": \"8\", \"esaas.io/tenant\": \"acme\","
		 " \"esaas.io/cluster\": \"logs\"}",
		 7, RENDER_NS_OTHER,
		 "namespace es-acme-logs belongs to another cluster (esaas.io/cluster-id=8, this "
		 "cluster's is 7)"},
		{"{\"esaas.io/cluster-id\": \"7\"}", 0, RENDER_NS_OTHER, "esaas.io/cluster-id=7"},
		{"{\"app.kubernetes.io/managed-by\": \"esaas\", \"esaas.io/tenant\": \"acme\","
		 " \"esaas.io/cluster\": \"logs\"}",
		 7, RENDER_NS_ADOPT, NULL},
		{"{\"app.kubernetes.io/managed-by\": \"esaas\", \"esaas.io/tenant\": \"acme\","
		 " \"esaas.io/cluster\": \"logs\"}",
		 0, RENDER_NS_ADOPT, NULL},
		{"{\"app.kubernetes.io/managed-by\": \"esaas\", \"esaas.io/tenant\": \"acme-x\","
		 " \"esaas.io/cluster\": \"logs\"}",
		 7, RENDER_NS_OTHER, "labels name another cluster"},
		{"{\"esaas.io/tenant\": \"acme\", \"esaas.io/cluster\": \"logs\"}", 7,
		 RENDER_NS_OTHER, "esaas does not manage it"},
		{"{}", 7, RENDER_NS_OTHER, "namespace es-acme-logs is not this cluster's"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		json_t *o = ns_object(cases[i].labels);
		char why[512] = "";
		enum render_ns_owner got =
			render_namespace_owner(o, "acme", "logs", cases[i].id, why, sizeof(why));
		if (got != cases[i].owner)
			fail_msg("case %zu: owner %d, not %d", i, got, cases[i].owner);
		if (cases[i].why && !strstr(why, cases[i].why))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, why, cases[i].why);
		if (cases[i].owner == RENDER_NS_OTHER && !strstr(why, "nothing was applied"))
			fail_msg("case %zu: \"%s\" does not say nothing was done", i, why);
		json_decref(o);
	}
}

/* The cluster's id is on every object esaas applies, in the stored
 * namespace; never in a pod template or a claim template, which would
 * change (or cannot change on) the workloads of clusters made before it. */
static void test_objects_carry_the_cluster_id_in_the_stored_namespace(void **state)
{
	static const char spec_json[] = "{\"name\": \"logs\", \"version\": \"7.17.10\","
					" \"kibana\": {\"replicas\": 1}}";
	static const char *const hosts[] = {"node-1", NULL};
	struct render_opts opts = {.ns = "es-stored-ns", .cluster_id = 42};
	json_t *objs = render(spec_json, &opts);
	json_t *vols = volumes(spec_json, &opts, hosts);
	size_t i;
	json_t *o;

	assert_non_null(find(objs, "Namespace", "es-stored-ns"));
	assert_non_null(find(objs, "Service", "es-es-stored-ns"));
	json_array_extend(vols, objs);
	json_array_foreach (vols, i, o) {
		const char *kind = str_at(o, "kind");
		const char *ns = json_string_value(at(o, "metadata.namespace"));
		if (strcmp(kind, "Namespace") != 0 && strcmp(kind, "StorageClass") != 0 &&
		    strcmp(kind, "PersistentVolume") != 0 &&
		    (!ns || strcmp(ns, "es-stored-ns") != 0))
			fail_msg("%s %s is in %s", kind, str_at(o, "metadata.name"),
				 ns ? ns : "none");
		const char *id = json_string_value(
			json_object_get(at(o, "metadata.labels"), RENDER_LABEL_CLUSTER_ID));
		if (!id || strcmp(id, "42") != 0)
			fail_msg("%s %s has no cluster id", kind, str_at(o, "metadata.name"));
		json_t *tmpl = at(o, "spec.template.metadata.labels");
		if (tmpl && json_object_get(tmpl, RENDER_LABEL_CLUSTER_ID))
			fail_msg("%s %s: the pod template has the id", kind,
				 str_at(o, "metadata.name"));
		json_t *claim = at(o, "spec.volumeClaimTemplates.0.metadata.labels");
		if (claim && json_object_get(claim, RENDER_LABEL_CLUSTER_ID))
			fail_msg("%s %s: the claim template has the id", kind,
				 str_at(o, "metadata.name"));
	}
	assert_string_equal(str_at(find(vols, "PersistentVolume", "es-stored-ns-data-node-1"),
				   "spec.hostPath.path"),
			    "/es/es-stored-ns/data/data");

	struct spec spec;
	struct spec_error serr;
	json_t *doc = json_loads(spec_json, 0, NULL);
	assert_true(spec_parse(doc, &spec, &serr));
	json_t *wipe = render_wipe_pod(&spec, &opts, "node-1", 0);
	assert_string_equal(str_at(wipe, "metadata.namespace"), "es-stored-ns");
	assert_string_equal(json_string_value(json_object_get(at(wipe, "metadata.labels"),
							      RENDER_LABEL_CLUSTER_ID)),
			    "42");
	json_decref(wipe);
	spec_free(&spec);
	json_decref(doc);
	json_decref(vols);
	json_decref(objs);
}

/* --- YAML: read back with libyaml, it is the same objects ------------------ */

static bool plain_integer(const char *s)
{
	size_t i = s[0] == '-' ? 1 : 0;

	if (!s[i])
		return false;
	for (; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return true;
}

/* A YAML node as JSON, resolving plain scalars as YAML's core schema
 * does for the values esaas writes. */
static json_t *to_json(yaml_document_t *doc, yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE: {
		const char *s = (const char *)n->data.scalar.value;

		if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
			return json_string(s);
		if (strcmp(s, "true") == 0)
			return json_true();
		if (strcmp(s, "false") == 0)
			return json_false();
		if (strcmp(s, "null") == 0)
			return json_null();
		if (plain_integer(s))
			return json_integer(strtoll(s, NULL, 10));
		return json_string(s);
	}
	case YAML_SEQUENCE_NODE: {
		json_t *a = json_array();
		for (yaml_node_item_t *it = n->data.sequence.items.start;
		     it < n->data.sequence.items.top; it++)
			json_array_append_new(a, to_json(doc, yaml_document_get_node(doc, *it)));
		return a;
	}
	case YAML_MAPPING_NODE: {
		json_t *o = json_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);
			json_object_set_new(o, (const char *)k->data.scalar.value,
					    to_json(doc, yaml_document_get_node(doc, p->value)));
		}
		return o;
	}
	case YAML_NO_NODE:
		break;
	}
	return NULL;
}

static json_t *read_yaml_stream(const char *text)
{
	yaml_parser_t parser;
	json_t *docs = json_array();

	assert_true(yaml_parser_initialize(&parser));
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
	for (;;) {
		yaml_document_t doc;
		yaml_node_t *root;

		if (!yaml_parser_load(&parser, &doc))
			fail_msg("YAML does not parse: %s", parser.problem);
		root = yaml_document_get_root_node(&doc);
		if (!root) {
			yaml_document_delete(&doc);
			break;
		}
		json_array_append_new(docs, to_json(&doc, root));
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	return docs;
}

static void test_yaml_reads_back_as_the_objects(void **state)
{
	static const char *const specs[] = {
		base_spec,
		"{\"name\": \"x\", \"version\": \"2.4.6\", \"placement\": {\"spread\": \"rack\"},"
		" \"config\": {\"threadpool.index.queue_size\": 200, \"action.auto_create_index\": "
		"\"yes\","
		" \"gateway.recover_after_time\": \"5m\", \"http.max_content_length\": \"*\","
		" \"http.compression\": \"true\", \"logger.org.elasticsearch\": \"null\","
		" \"cluster.routing.allocation.awareness.attributes\": \"\","
		" \"indices.breaker.total.limit\": \"70%\","
		" \"gateway.expected_nodes\": \"0x1f\", \"gateway.expected_data_nodes\": \"1e3\"}}",
		"{\"name\": \"y\", \"version\": \"8.17.0\", \"clients\": {\"replicas\": 0}}",
	};

	for (size_t i = 0; i < ARRAY_SIZE(specs); i++) {
		json_t *objs = render(specs[i], NULL);
		json_t *back, *cm_back;
		char *yaml = NULL;
		size_t docs = 0;

		assert_true(render_to_yaml(objs, &yaml));
		assert_memory_equal(yaml, "---\n", 4);
		for (const char *p = yaml; (p = strstr(p, "---\n")); p += 4) {
			if (p == yaml || p[-1] == '\n')
				docs++;
		}
		assert_int_equal(docs, json_array_size(objs));
		back = read_yaml_stream(yaml);
		if (!json_equal(objs, back)) {
			char *want = json_dumps(objs, JSON_INDENT(1));
			char *got = json_dumps(back, JSON_INDENT(1));
			fail_msg("spec %zu: YAML reads back differently:\n%s\nwant\n%s", i, got,
				 want);
		}
		/* The elasticsearch.yml inside reads back as its settings too. */
		cm_back = read_yaml_stream(yml_of(objs, ES_ROLE_DATA));
		assert_true(json_is_object(json_array_get(cm_back, 0)));
		assert_string_equal(json_string_value(json_object_get(json_array_get(cm_back, 0),
								      "cluster.name")),
				    "elasticsearch-${NAMESPACE}");
		json_decref(cm_back);
		json_decref(back);
		json_decref(objs);
		free(yaml);
	}
}

static void test_yaml_quotes_what_would_change_type(void **state)
{
	json_t *objs = json_pack("[{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:b, s:n, s:s, s:f}]", "a",
				 "yes", "b", "4096", "c", "", "d", "~", "e", "1e3", "f", "-c", "g",
				 5, "h", 1, "i", "j", "plain text", "k", 1.5);
	json_t *back;
	char *yaml = NULL;

	assert_true(render_to_yaml(objs, &yaml));
	assert_non_null(strstr(yaml, "a: \"yes\"\n"));
	assert_non_null(strstr(yaml, "b: \"4096\"\n"));
	assert_non_null(strstr(yaml, "c: \"\"\n"));
	assert_non_null(strstr(yaml, "d: \"~\"\n"));
	assert_non_null(strstr(yaml, "e: \"1e3\"\n"));
	assert_non_null(strstr(yaml, "f: -c\n"));
	assert_non_null(strstr(yaml, "g: 5\n"));
	assert_non_null(strstr(yaml, "h: true\n"));
	assert_non_null(strstr(yaml, "i: null\n"));
	assert_non_null(strstr(yaml, "j: plain text\n"));
	assert_non_null(strstr(yaml, "k: 1.5\n"));
	back = read_yaml_stream(yaml);
	json_decref(back);
	json_decref(objs);
	free(yaml);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_objects_in_order),
		cmocka_unit_test(test_labels_everywhere),
		cmocka_unit_test(test_namespace_is_default_deny),
		cmocka_unit_test(test_control_policy_admits_what_esaas_calls_from),
		cmocka_unit_test(test_tenant_sources_admitted),
		cmocka_unit_test(test_node_port_on_request),
		cmocka_unit_test(test_selectors_match_template_labels),
		cmocka_unit_test(test_services),
		cmocka_unit_test(test_http_service_without_clients),
		cmocka_unit_test(test_host_paths),
		cmocka_unit_test(test_data_claims_and_volumes),
		cmocka_unit_test(test_kibana),
		cmocka_unit_test(test_quota_sums),
		cmocka_unit_test(test_quota_with_wipe_pods),
		cmocka_unit_test(test_quota_at_least),
		cmocka_unit_test(test_anti_affinity_per_placement),
		cmocka_unit_test(test_discovery_per_version),
		cmocka_unit_test(test_initial_master_nodes_first_boot_only),
		cmocka_unit_test(test_roles_and_security_per_version),
		cmocka_unit_test(test_user_config_merged),
		cmocka_unit_test(test_plugin_init_container_per_version),
		cmocka_unit_test(test_es_container),
		cmocka_unit_test(test_image_choice),
		cmocka_unit_test(test_prepare_container),
		cmocka_unit_test(test_image_off_the_allow_list_is_refused),
		cmocka_unit_test(test_no_tenant_image_runs_privileged_or_as_root),
		cmocka_unit_test(test_security_for_the_versions_that_have_it),
		cmocka_unit_test(test_esaas_user_password_and_credentials),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_namespace_names_fit_and_are_unambiguous),
		cmocka_unit_test(test_namespace_owner),
		cmocka_unit_test(test_objects_carry_the_cluster_id_in_the_stored_namespace),
		cmocka_unit_test(test_yaml_reads_back_as_the_objects),
		cmocka_unit_test(test_yaml_quotes_what_would_change_type),
		cmocka_unit_test(test_s3_keystore_for_the_versions_that_have_it),
		cmocka_unit_test(test_s3_keystore_with_security),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
