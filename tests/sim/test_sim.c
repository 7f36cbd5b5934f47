/*
 * esaas-sim from the outside: one simulator process for the whole run
 * (a free port, a temporary kubeconfig), driven over HTTP with libcurl as
 * esaasd would drive a real cluster.  Each test works in its own
 * namespace.
 *
 * The simulator is started, and called, by the integration harness
 * (tests/integration/harness.h): the binary is $ESAAS_BUILDDIR/esaas-sim,
 * else ./esaas-sim.  The schema checks read $ESAAS_SRCDIR/tests/reference (the
 * tree's copy of the Kubernetes schemas) and need python3 with jsonschema;
 * either missing is a failure.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>

#include "common/base64.h"
#include "common/pki.h"
#include "common/util.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"
#include "tests/integration/harness.h"

static struct sim sim;
static char tmpdir[64];

/* One request; content_type NULL means application/json when there is a
 * body.  timeout_ms 0: 10 s.  Returns false on a transport error. */
static bool request(const char *method, const char *path, const char *content_type,
		    const char *body, bool auth, int timeout_ms, struct http_resp *r)
{
	char auth_line[300], type_line[256];
	const char *headers[3] = {NULL};
	int n = 0;

	if (auth) {
		snprintf(auth_line, sizeof(auth_line), "Authorization: Bearer %s", sim.token);
		headers[n++] = auth_line;
	}
	if (body && content_type) {
		snprintf(type_line, sizeof(type_line), "Content-Type: %s", content_type);
		headers[n++] = type_line;
	}
	return http_request(sim.server, method, path, body, headers, timeout_ms, r);
}

/* Shorthands: the request must get through. */
static long call(const char *method, const char *path, const char *body, struct http_resp *r)
{
	assert_true(request(method, path, NULL, body, true, 0, r));
	return r->status;
}

static long apply(const char *path, const char *yaml, struct http_resp *r)
{
	char full[1024];
	snprintf(full, sizeof(full), "%s?fieldManager=esaas&force=true", path);
	assert_true(request("PATCH", full, "application/apply-patch+yaml", yaml, true, 0, r));
	return r->status;
}

/* Walk "a.b.0.c" (array indexes are numbers). */
static json_t *jget(json_t *root, const char *path)
{
	json_t *at = root;
	const char *p = path;
	while (at && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		char key[128];
		snprintf(key, sizeof(key), "%.*s", (int)n, p);
		if (json_is_array(at))
			at = json_array_get(at, (size_t)strtol(key, NULL, 10));
		else
			at = json_object_get(at, key);
		p = dot ? dot + 1 : p + n;
	}
	return at;
}

static const char *jstr(json_t *root, const char *path)
{
	return json_string_value(jget(root, path));
}

static json_int_t jint(json_t *root, const char *path)
{
	return json_integer_value(jget(root, path));
}

/* The whole of a small file, or NULL. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = xcalloc(1, 65536);
	size_t n = f ? fread(buf, 1, 65535, f) : 0;

	if (f)
		fclose(f);
	if (!f || n == 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void make_namespace(const char *ns)
{
	struct http_resp r;
	char path[256], body[256];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s", ns);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
		 ns);
	assert_int_equal(apply(path, body, &r), 201);
	http_resp_free(&r);
}

/* Poll GET path until pred holds or timeout; the last response is kept. */
typedef bool (*pred_fn)(struct http_resp *r, const void *arg);

static bool wait_until(const char *path, pred_fn pred, const void *arg, int timeout_ms,
		       struct http_resp *r)
{
	int64_t end = harness_now_ms() + timeout_ms;
	for (;;) {
		call("GET", path, NULL, r);
		if (pred(r, arg))
			return true;
		if (harness_now_ms() > end)
			return false;
		http_resp_free(r);
		msleep(30);
	}
}

/* --- the simulator process ---------------------------------------------------- */

static const char SIM_CONFIG[] = "tick_ms: 10\n"
				 "nodes:\n"
				 "  count: 4\n"
				 "  hostname_prefix: worker\n"
				 "  rack_label: topology.kubernetes.io/zone\n"
				 "  racks: [rack-a, rack-b]\n"
				 /* Room for every test's clusters, which stay to the
				  * end: about a hundred pods of 500m and 1Gi. */
				 "  cpu: \"32\"\n"
				 "  memory: 64Gi\n"
				 "pods:\n"
				 "  ready_delay_ms: 50\n"
				 "  gc_quarantine_ms: 1500\n"
				 /* Pulls at once, but for the tests of pulls. */
				 "images:\n"
				 "  pull_ms: 0\n"
				 "network:\n"
				 "  proxy_dial_timeout_ms: 300\n"
				 "elasticsearch:\n"
				 "  relocation_ms: 200\n"
				 "  recovery_ms: 50\n"
				 "  node_left_delay_ms: 300\n"
				 "  no_master_wait_ms: 500\n"
				 /* Shortened: a node left without a master answers
				  * soon (test_es_http_opens_after_initial_state_timeout
				  * has the real 30 s). */
				 "  initial_state_timeout_ms: 1000\n";

/* The pod network's other clients (pod_network.others): a pod of
 * namespace apps labelled app=web, and an address outside the pod network;
 * each connects at its own port. */
static int podnet_apps_port, podnet_outside_port;

static int start_sim(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/esaas-sim-test.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	podnet_apps_port = harness_free_port();
	podnet_outside_port = harness_free_port();
	char *config =
		xasprintf("%spod_network:\n  others:\n"
			  "    - {listen: \"127.0.0.1:%d\", namespace: apps, labels: {app: web},"
			  " ip: 10.244.254.7}\n"
			  "    - {listen: \"127.0.0.1:%d\", ip: 192.168.7.9}\n",
			  SIM_CONFIG, podnet_apps_port, podnet_outside_port);
	bool ok = sim_start(&sim, tmpdir, config);
	free(config);
	return ok ? 0 : -1;
}

static int stop_sim(void **state)
{
	char cmd[128];
	int status = sim_stop(&sim);
	if (status != 0) {
		fprintf(stderr, "esaas-sim did not stop cleanly (status %d); log in %s\n", status,
			sim.log);
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		return -1;
	return 0;
}

/* --- Kubernetes API ---------------------------------------------------------------- */

static void test_auth(void **state)
{
	struct http_resp r;
	assert_true(request("GET", "/api/v1/namespaces", NULL, NULL, false, 0, &r));
	assert_int_equal(r.status, 401);
	json_t *want = json_loads("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
				  "\"status\":\"Failure\",\"message\":\"Unauthorized\","
				  "\"reason\":\"Unauthorized\",\"details\":{},\"code\":401}",
				  0, NULL);
	assert_true(json_equal(want, r.body));
	json_decref(want);
	http_resp_free(&r);
	assert_true(request("GET", "/version", NULL, NULL, false, 0, &r));
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.body, "gitVersion"), "v1.29.0");
	http_resp_free(&r);
}

/* A request with a token of its own to another simulator. */
static long call_with(const struct sim *on, const char *token, const char *path,
		      struct http_resp *r)
{
	char auth_line[300];
	snprintf(auth_line, sizeof(auth_line), "Authorization: Bearer %s", token);
	const char *headers[] = {auth_line, NULL};
	assert_true(http_request(on->server, "GET", path, NULL, headers, 0, r));
	return r->status;
}

/* The token in a file, or "" (a static buffer). */
static const char *token_in(const char *path)
{
	static char tok[256];
	tok[0] = '\0';
	FILE *f = fopen(path, "r");
	if (f) {
		if (!fgets(tok, sizeof(tok), f))
			tok[0] = '\0';
		fclose(f);
	}
	return tok;
}

/*
 * Bound service-account tokens: the kubeconfig names the file; the token
 * there is replaced at 80% of its life, the old one still works until it
 * ends, and then it is refused with the authenticator's plain 401.
 */
static void test_expired_service_account_token_is_401(void **state)
{
	(void)state;
	struct sim bound;
	struct http_resp r;
	char config[sizeof(SIM_CONFIG) + 64];
	snprintf(config, sizeof(config), "%sserviceaccounts:\n  token_life_ms: 1500\n", SIM_CONFIG);
	assert_true(sim_start(&bound, tmpdir, config));
	assert_true(bound.sa_token_file[0] != '\0');
	char first[256];
	snprintf(first, sizeof(first), "%s", bound.sa_token);
	assert_string_equal(token_in(bound.sa_token_file), first);
	assert_int_equal(call_with(&bound, first, "/api/v1/namespaces/default/pods", &r), 200);
	http_resp_free(&r);
	/* Replaced after some 1.2 s, and the first one still good. */
	int64_t start = harness_now_ms();
	while (!strcmp(token_in(bound.sa_token_file), first) && harness_now_ms() - start < 5000)
		msleep(20);
	char second[256];
	snprintf(second, sizeof(second), "%s", token_in(bound.sa_token_file));
	assert_true(second[0] && strcmp(second, first) != 0);
	assert_true(harness_now_ms() - start < 1500);
	assert_int_equal(call_with(&bound, first, "/api/v1/namespaces/default/pods", &r), 200);
	http_resp_free(&r);
	/* Once it has ended: refused, the new one taken. */
	long status;
	do {
		msleep(50);
		status = call_with(&bound, first, "/api/v1/namespaces/default/pods", &r);
		if (status == 200)
			http_resp_free(&r);
	} while (status == 200 && harness_now_ms() - start < 5000);
	assert_int_equal(status, 401);
	json_t *want = json_loads("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
				  "\"status\":\"Failure\",\"message\":\"Unauthorized\","
				  "\"reason\":\"Unauthorized\",\"details\":{},\"code\":401}",
				  0, NULL);
	assert_true(json_equal(want, r.body));
	json_decref(want);
	http_resp_free(&r);
	assert_int_equal(call_with(&bound, token_in(bound.sa_token_file),
				   "/api/v1/namespaces/default/pods", &r),
			 200);
	http_resp_free(&r);
	/* The record counts both. */
	json_t *rec = sim_record(&bound);
	assert_non_null(rec);
	assert_true(jint(rec, "service_account_tokens.rotations") >= 1);
	assert_true(jint(rec, "service_account_tokens.expired_refused") >= 1);
	json_decref(rec);
	assert_int_equal(sim_stop(&bound), 0);
}

static bool has_resource(json_t *list, const char *name, const char *kind)
{
	size_t i;
	json_t *res;
	json_array_foreach (json_object_get(list, "resources"), i, res) {
		if (!strcmp(jstr(res, "name"), name) && !strcmp(jstr(res, "kind"), kind))
			return true;
	}
	return false;
}

static void test_discovery(void **state)
{
	struct http_resp r;
	assert_int_equal(call("GET", "/api", NULL, &r), 200);
	assert_string_equal(jstr(r.body, "kind"), "APIVersions");
	assert_string_equal(jstr(r.body, "versions.0"), "v1");
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1", NULL, &r), 200);
	assert_string_equal(jstr(r.body, "kind"), "APIResourceList");
	assert_true(has_resource(r.body, "pods", "Pod"));
	assert_true(has_resource(r.body, "namespaces", "Namespace"));
	assert_true(has_resource(r.body, "resourcequotas", "ResourceQuota"));
	http_resp_free(&r);
	assert_int_equal(call("GET", "/apis", NULL, &r), 200);
	assert_string_equal(jstr(r.body, "kind"), "APIGroupList");
	assert_string_equal(jstr(r.body, "groups.0.preferredVersion.groupVersion"), "apps/v1");
	http_resp_free(&r);
	assert_int_equal(call("GET", "/apis/apps/v1", NULL, &r), 200);
	assert_true(has_resource(r.body, "statefulsets", "StatefulSet"));
	assert_true(has_resource(r.body, "statefulsets/scale", "Scale"));
	assert_true(has_resource(r.body, "deployments/scale", "Scale"));
	http_resp_free(&r);
	assert_int_equal(call("GET", "/apis/policy/v1", NULL, &r), 200);
	assert_true(has_resource(r.body, "poddisruptionbudgets", "PodDisruptionBudget"));
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/nodes", NULL, &r), 200);
	assert_int_equal(json_array_size(json_object_get(r.body, "items")), 4);
	json_t *labels = jget(r.body, "items.1.metadata.labels");
	assert_string_equal(
		json_string_value(json_object_get(labels, "topology.kubernetes.io/zone")),
		"rack-b");
	http_resp_free(&r);
	assert_int_equal(call("GET", "/apis/nope/v1/things", NULL, &r), 404);
	assert_string_equal(jstr(r.body, "message"),
			    "the server could not find the requested resource");
	http_resp_free(&r);
}

static size_t list_count(const char *path)
{
	struct http_resp r;
	assert_int_equal(call("GET", path, NULL, &r), 200);
	size_t n = json_array_size(json_object_get(r.body, "items"));
	http_resp_free(&r);
	return n;
}

static void test_crud_and_conflicts(void **state)
{
	struct http_resp r;
	make_namespace("crud");
	const char *base = "/api/v1/namespaces/crud/configmaps";
	static const char *cms[] = {
		"{\"metadata\":{\"name\":\"a\",\"labels\":{\"tier\":\"web\",\"env\":\"prod\"}},"
		"\"data\":{\"k\":\"1\"}}",
		"{\"metadata\":{\"name\":\"b\",\"labels\":{\"tier\":\"db\",\"env\":\"prod\"}},"
		"\"data\":{\"k\":\"2\"}}",
		"{\"metadata\":{\"name\":\"c\",\"labels\":{\"tier\":\"cache\"}},\"data\":{\"k\":"
		"\"3\"}}",
	};
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(call("POST", base, cms[i], &r), 201);
		assert_non_null(jstr(r.body, "metadata.uid"));
		assert_non_null(jstr(r.body, "metadata.creationTimestamp"));
		assert_string_equal(jstr(r.body, "kind"), "ConfigMap");
		http_resp_free(&r);
	}
	/* AlreadyExists */
	assert_int_equal(call("POST", base, cms[0], &r), 409);
	json_t *want = json_loads(
		"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
		"\"status\":\"Failure\",\"message\":\"configmaps \\\"a\\\" already exists\","
		"\"reason\":\"AlreadyExists\",\"details\":{\"name\":\"a\",\"kind\":\"configmaps\"},"
		"\"code\":409}",
		0, NULL);
	assert_true(json_equal(want, r.body));
	json_decref(want);
	http_resp_free(&r);

	/* Label selectors */
	static const struct {
		const char *q;
		size_t n;
	} sels[] = {
		{"tier%3Dweb", 1},
		{"env%3Dprod", 2},
		{"env!%3Dprod", 1},
		{"tier%20in%20(web,db)", 2},
		{"tier%20notin%20(web)", 2},
		{"env", 2},
		{"!env", 1},
		{"env%3Dprod,tier!%3Dweb", 1},
		{"", 3},
	};
	for (size_t i = 0; i < sizeof(sels) / sizeof(sels[0]); i++) {
		char path[256];
		snprintf(path, sizeof(path), "%s?labelSelector=%s", base, sels[i].q);
		assert_int_equal(list_count(path), sels[i].n);
	}
	assert_int_equal(call("GET", base, NULL, &r), 200);
	assert_string_equal(jstr(r.body, "kind"), "ConfigMapList");
	assert_string_equal(jstr(r.body, "apiVersion"), "v1");
	assert_non_null(jstr(r.body, "metadata.resourceVersion"));
	http_resp_free(&r);

	/* Update with a stale resourceVersion */
	assert_int_equal(call("GET", "/api/v1/namespaces/crud/configmaps/a", NULL, &r), 200);
	char rv[32], uid[64];
	snprintf(rv, sizeof(rv), "%s", jstr(r.body, "metadata.resourceVersion"));
	snprintf(uid, sizeof(uid), "%s", jstr(r.body, "metadata.uid"));
	http_resp_free(&r);
	char body[512];
	snprintf(
		body, sizeof(body),
		"{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"%s\"},\"data\":{\"k\":\"9\"}}",
		rv);
	assert_int_equal(call("PUT", "/api/v1/namespaces/crud/configmaps/a", body, &r), 200);
	assert_string_not_equal(jstr(r.body, "metadata.resourceVersion"), rv);
	assert_string_equal(jstr(r.body, "metadata.uid"), uid);
	http_resp_free(&r);
	assert_int_equal(call("PUT", "/api/v1/namespaces/crud/configmaps/a", body, &r), 409);
	assert_string_equal(jstr(r.body, "reason"), "Conflict");
	assert_string_equal(
		jstr(r.body, "message"),
		"Operation cannot be fulfilled on configmaps \"a\": the object has been "
		"modified; please apply your changes to the latest version and try again");
	http_resp_free(&r);

	/* Server-side apply: create, no-op, and a manager dropping a label */
	const char *applied = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\n  labels:\n"
			      "    one: \"1\"\n    two: \"2\"\ndata:\n  elasticsearch.yml: |\n"
			      "    cluster.name: x\n";
	assert_int_equal(apply("/api/v1/namespaces/crud/configmaps/d", applied, &r), 201);
	snprintf(rv, sizeof(rv), "%s", jstr(r.body, "metadata.resourceVersion"));
	assert_string_equal(
		json_string_value(json_object_get(jget(r.body, "data"), "elasticsearch.yml")),
		"cluster.name: x\n");
	http_resp_free(&r);
	assert_int_equal(apply("/api/v1/namespaces/crud/configmaps/d", applied, &r), 200);
	assert_string_equal(jstr(r.body, "metadata.resourceVersion"), rv);
	http_resp_free(&r);
	const char *fewer =
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"d\","
		"\"labels\":{\"one\":\"1\"}},\"data\":{\"elasticsearch.yml\":\"y\"}}";
	assert_int_equal(apply("/api/v1/namespaces/crud/configmaps/d", fewer, &r), 200);
	assert_null(jstr(r.body, "metadata.labels.two"));
	assert_string_equal(jstr(r.body, "metadata.labels.one"), "1");
	assert_string_not_equal(jstr(r.body, "metadata.resourceVersion"), rv);
	http_resp_free(&r);

	/* Delete with a uid precondition */
	assert_int_equal(call("DELETE", "/api/v1/namespaces/crud/configmaps/a",
			      "{\"preconditions\":{\"uid\":\"not-the-uid\"}}", &r),
			 409);
	char msg[512];
	snprintf(msg, sizeof(msg),
		 "Operation cannot be fulfilled on configmaps \"a\": Precondition "
		 "failed: UID in precondition: not-the-uid, UID in object meta: %s",
		 uid);
	assert_string_equal(jstr(r.body, "message"), msg);
	http_resp_free(&r);
	snprintf(body, sizeof(body),
		 "{\"propagationPolicy\":\"Background\",\"preconditions\":{\"uid\":\"%s\"}}", uid);
	assert_int_equal(call("DELETE", "/api/v1/namespaces/crud/configmaps/a", body, &r), 200);
	assert_string_equal(jstr(r.body, "status"), "Success");
	assert_string_equal(jstr(r.body, "details.uid"), uid);
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/crud/configmaps/a", NULL, &r), 404);
	want = json_loads(
		"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
		"\"Failure\",\"message\":\"configmaps \\\"a\\\" not found\",\"reason\":"
		"\"NotFound\",\"details\":{\"name\":\"a\",\"kind\":\"configmaps\"},\"code\":404}",
		0, NULL);
	assert_true(json_equal(want, r.body));
	json_decref(want);
	http_resp_free(&r);
	assert_int_equal(call("DELETE", "/api/v1/namespaces/crud/configmaps/a", NULL, &r), 404);
	http_resp_free(&r);
	assert_int_equal(call("GET", "/apis/apps/v1/namespaces/crud/statefulsets/none", NULL, &r),
			 404);
	assert_string_equal(jstr(r.body, "message"), "statefulsets.apps \"none\" not found");
	assert_string_equal(jstr(r.body, "details.group"), "apps");
	http_resp_free(&r);
	/* Into a namespace that does not exist */
	assert_int_equal(call("POST", "/api/v1/namespaces/nowhere/configmaps", cms[0], &r), 404);
	assert_string_equal(jstr(r.body, "message"), "namespaces \"nowhere\" not found");
	http_resp_free(&r);
}

static const char STS_TEMPLATE[] =
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"%s\"},"
	"\"spec\":{\"replicas\":%d,\"serviceName\":\"%s\",\"selector\":{\"matchLabels\":"
	"{\"app\":\"%s\",\"esaas.io/role\":\"%s\"}},\"template\":{\"metadata\":{\"labels\":"
	"{\"app\":\"%s\",\"esaas.io/role\":\"%s\"}},\"spec\":{%s\"containers\":[{\"name\":\"es\","
	"\"image\":\"%s%s\",\"env\":[%s],"
	"\"resources\":{\"requests\":{\"cpu\":\"500m\",\"memory\":\"1Gi\"}}}]}}}}";

static const char ANTI[] =
	"\"affinity\":{\"podAntiAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
	"[{\"topologyKey\":\"%s\",\"labelSelector\":{\"matchLabels\":{\"app\":\"%s\","
	"\"esaas.io/role\":\"%s\"}}}]}},";

static char *workload(const char *name, int replicas, const char *app, const char *role,
		      const char *topology, const char *version)
{
	static char buf[4096];
	char anti[1024] = "";
	if (topology)
		snprintf(anti, sizeof(anti), ANTI, topology, app, role);
	/* 8.x and 9.x turn security on by themselves: these clusters test
	 * other things, and turn it off as the Docker image allows (a setting
	 * as a variable). */
	/* Elastic's registry has 5.0 and later; 2.x is Docker Hub's; "oss:V"
	 * is V's -oss image (6.0 to 7.10). */
	bool oss = !strncmp(version, "oss:", 4);
	if (oss)
		version += 4;
	snprintf(buf, sizeof(buf), STS_TEMPLATE, name, replicas, app, app, role, app, role, anti,
		 !strncmp(version, "2.", 2) ? "elasticsearch:"
		 : oss			    ? "docker.elastic.co/elasticsearch/elasticsearch-oss:"
					    : "docker.elastic.co/elasticsearch/elasticsearch:",
		 version,
		 strtol(version, NULL, 10) >= 8
			 ? "{\"name\":\"xpack.security.enabled\",\"value\":\"false\"}"
			 : "");
	return buf;
}

static long call_as(const char *token, const char *method, const char *path,
		    const char *content_type, const char *body, struct http_resp *r);

/* How many "Warning:" header lines the answer has, and whether one is want. */
static int warnings_in(const struct http_resp *r, const char *want, bool *found)
{
	int n = 0;
	*found = false;
	for (const char *p = r->headers; p && (p = strstr(p, "Warning: ")); p++) {
		n++;
		size_t len = strcspn(p + 9, "\r\n");
		if (want && strlen(want) == len && !strncmp(p + 9, want, len))
			*found = true;
	}
	return n;
}

/*
 * Fields the kind's schema does not have: a JSON body (create, update,
 * merge patch) has them dropped, with a warning each under the default
 * fieldValidation=Warn, refused under Strict, silently under Ignore; a
 * server-side apply cannot be made a typed object of them, whatever the
 * parameter: a 500 naming each.
 */
static void test_unknown_fields(void **state)
{
	struct http_resp r;
	bool found;
	make_namespace("uf");
#define UNKNOWN_CM                                                                              \
	"{\"metadata\":{\"name\":\"%s\",\"colour\":\"red\"},\"data\":{\"k\":\"1\"},\"extra\":{" \
	"\"a\":1}}"
	char body[512];
	json_t *rec = sim_record(&sim);
	size_t warned_before = json_array_size(json_object_get(rec, "warnings"));
	json_decref(rec);
	/* Warn, the default. */
	snprintf(body, sizeof(body), UNKNOWN_CM, "a");
	assert_int_equal(call("POST", "/api/v1/namespaces/uf/configmaps", body, &r), 201);
	assert_int_equal(warnings_in(&r, "299 - \"unknown field \\\"metadata.colour\\\"\"", &found),
			 2);
	assert_true(found);
	warnings_in(&r, "299 - \"unknown field \\\"extra\\\"\"", &found);
	assert_true(found);
	assert_null(jget(r.body, "extra"));
	assert_null(jget(r.body, "metadata.colour"));
	assert_string_equal(jstr(r.body, "data.k"), "1");
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/uf/configmaps/a", NULL, &r), 200);
	assert_null(jget(r.body, "extra"));
	http_resp_free(&r);
	/* Deep in a pod template, named by index. */
	char *sts = xstrdup(workload("w", 0, "w", "data", NULL, "7.17.10"));
	char *at = strstr(sts, "\"image\"");
	char *bad = xasprintf("%.*s\"bogus\":true,%s", (int)(at - sts), sts, at);
	assert_int_equal(call("POST", "/apis/apps/v1/namespaces/uf/statefulsets", bad, &r), 201);
	assert_int_equal(warnings_in(&r,
				     "299 - \"unknown field "
				     "\\\"spec.template.spec.containers[0].bogus\\\"\"",
				     &found),
			 1);
	assert_true(found);
	assert_null(jget(r.body, "spec.template.spec.containers.0.bogus"));
	http_resp_free(&r);
	/* Strict: refused, naming each. */
	snprintf(body, sizeof(body), UNKNOWN_CM, "b");
	assert_int_equal(
		call("POST", "/api/v1/namespaces/uf/configmaps?fieldValidation=Strict", body, &r),
		400);
	assert_string_equal(jstr(r.body, "reason"), "BadRequest");
	assert_string_equal(jstr(r.body, "message"),
			    "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict "
			    "decoding error: unknown field \"metadata.colour\", unknown field "
			    "\"extra\"");
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/uf/configmaps/b", NULL, &r), 404);
	http_resp_free(&r);
	/* Ignore: dropped, said nothing. */
	assert_int_equal(
		call("POST", "/api/v1/namespaces/uf/configmaps?fieldValidation=Ignore", body, &r),
		201);
	assert_int_equal(warnings_in(&r, NULL, &found), 0);
	assert_null(jget(r.body, "extra"));
	http_resp_free(&r);
	/* Nothing else is a mode. */
	assert_int_equal(
		call("POST", "/api/v1/namespaces/uf/configmaps?fieldValidation=warn", body, &r),
		422);
	assert_string_equal(jstr(r.body, "message"),
			    "CreateOptions.meta.k8s.io \"\" is invalid: fieldValidation: "
			    "Unsupported value: \"warn\": supported values: \"\", \"Ignore\", "
			    "\"Strict\", \"Warn\"");
	http_resp_free(&r);
	/* A merge patch: the patched object is decoded the same way. */
	assert_int_equal(call_as(sim.token, "PATCH", "/api/v1/namespaces/uf/configmaps/a",
				 "application/merge-patch+json", "{\"spec\":{\"x\":1}}", &r),
			 200);
	warnings_in(&r, "299 - \"unknown field \\\"spec\\\"\"", &found);
	assert_true(found);
	assert_null(jget(r.body, "spec"));
	http_resp_free(&r);
	/* Server-side apply: no typed object with them, under any mode. */
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\","
		 "\"namespace\":\"uf\"},\"data\":{\"k\":\"1\"},\"extra\":1}");
	assert_int_equal(apply("/api/v1/namespaces/uf/configmaps/c", body, &r), 500);
	assert_null(jget(r.body, "reason"));
	assert_string_equal(jstr(r.body, "message"),
			    "failed to create typed patch object (uf/c; /v1, Kind=ConfigMap): "
			    ".extra: field not declared in schema");
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/uf/configmaps/c", NULL, &r), 404);
	http_resp_free(&r);
	at = strstr(bad, "\"metadata\":{\"name\":\"w\"}");
	char *applied =
		xasprintf("%.*s\"metadata\":{\"name\":\"w\",\"namespace\":\"uf\",\"x\":1}%s",
			  (int)(at - bad), bad, at + strlen("\"metadata\":{\"name\":\"w\"}"));
	assert_int_equal(apply("/apis/apps/v1/namespaces/uf/statefulsets/w", applied, &r), 500);
	assert_string_equal(
		jstr(r.body, "message"),
		"failed to create typed patch object (uf/w; apps/v1, Kind=StatefulSet): "
		"errors:\n  .metadata.x: field not declared in schema\n"
		"  .spec.template.spec.containers[name=\"es\"].bogus: field not declared "
		"in schema");
	http_resp_free(&r);
	free(applied);
	free(bad);
	free(sts);
	/* The record holds each warning sent. */
	rec = sim_record(&sim);
	assert_int_equal(json_array_size(json_object_get(rec, "warnings")) - warned_before, 4);
	json_decref(rec);
}

/* An apply by manager (force or not) of a Deployment "web" in ns "ssa". */
static long apply_as(const char *manager, bool force, const char *yaml, struct http_resp *r)
{
	char path[256];
	snprintf(path, sizeof(path),
		 "/apis/apps/v1/namespaces/ssa/deployments/web?fieldManager=%s%s", manager,
		 force ? "&force=true" : "");
	assert_true(request("PATCH", path, "application/apply-patch+yaml", yaml, true, 0, r));
	return r->status;
}

/* The fieldsV1 of manager's entry with operation op, or NULL. */
static json_t *fields_of(json_t *obj, const char *manager, const char *op)
{
	size_t i;
	json_t *e;
	json_array_foreach (jget(obj, "metadata.managedFields"), i, e) {
		if (!strcmp(jstr(e, "manager"), manager) && !strcmp(jstr(e, "operation"), op))
			return json_object_get(e, "fieldsV1");
	}
	return NULL;
}

static char *web(const char *replicas, const char *image, const char *env)
{
	return xasprintf("{\"apiVersion\":\"apps/"
			 "v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"},"
			 "\"spec\":{%s\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
			 "\"template\":{\"metadata\":"
			 "{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":"
			 "\"web\",\"image\":"
			 "\"%s\",\"env\":[%s]}]}}}}",
			 replicas, image, env);
}

/*
 * Server-side apply keeps each manager's fields in metadata.managedFields,
 * merges containers and env by name, answers a change of another
 * manager's field with 409 naming it and the field, lets a manager co-own
 * a field by applying its value, and drops a field only when no manager
 * is left for it.
 */
static void test_apply_owns_fields_per_manager_and_merges_lists_by_key(void **state)
{
	(void)state;
	struct http_resp r;
	make_namespace("ssa");
	char *y = web("\"replicas\":2,", "nginx:1", "{\"name\":\"A\",\"value\":\"1\"}");
	assert_int_equal(apply_as("mgr-a", false, y, &r), 201);
	free(y);
	json_t *a = fields_of(r.body, "mgr-a", "Apply");
	assert_non_null(a);
	assert_non_null(jget(a, "f:spec.f:replicas"));
	assert_non_null(
		jget(a, "f:spec.f:template.f:spec.f:containers.k:{\"name\":\"web\"}.f:image"));
	/* The server's defaults are no one's. */
	assert_null(jget(a, "f:spec.f:strategy"));
	http_resp_free(&r);

	/* Another manager changing the image: refused, naming the owner. */
	y = web("\"replicas\":2,", "nginx:2", "{\"name\":\"B\",\"value\":\"2\"}");
	assert_int_equal(apply_as("mgr-b", false, y, &r), 409);
	free(y);
	assert_string_equal(jstr(r.body, "reason"), "Conflict");
	assert_string_equal(jstr(r.body, "message"),
			    "Apply failed with 1 conflict: conflict with \"mgr-a\": "
			    ".spec.template.spec.containers[name=\"web\"].image");
	assert_string_equal(jstr(r.body, "details.causes.0.reason"), "FieldManagerConflict");
	assert_string_equal(jstr(r.body, "details.causes.0.message"), "conflict with \"mgr-a\"");
	assert_string_equal(jstr(r.body, "details.causes.0.field"),
			    ".spec.template.spec.containers[name=\"web\"].image");
	http_resp_free(&r);

	/* The same values co-own; env is merged by name. */
	y = web("\"replicas\":2,", "nginx:1", "{\"name\":\"B\",\"value\":\"2\"}");
	assert_int_equal(apply_as("mgr-b", false, y, &r), 200);
	free(y);
	assert_string_equal(jstr(r.body, "spec.template.spec.containers.0.env.0.name"), "A");
	assert_string_equal(jstr(r.body, "spec.template.spec.containers.0.env.1.name"), "B");
	assert_non_null(jget(fields_of(r.body, "mgr-b", "Apply"), "f:spec.f:replicas"));
	assert_non_null(jget(fields_of(r.body, "mgr-a", "Apply"), "f:spec.f:replicas"));
	http_resp_free(&r);

	/* mgr-a lets go of env A and of replicas: A goes, replicas stays
	 * (mgr-b has it). */
	y = web("", "nginx:1", "");
	assert_int_equal(apply_as("mgr-a", false, y, &r), 200);
	free(y);
	assert_int_equal(jint(r.body, "spec.replicas"), 2);
	assert_int_equal(json_array_size(jget(r.body, "spec.template.spec.containers.0.env")), 1);
	assert_string_equal(jstr(r.body, "spec.template.spec.containers.0.env.0.name"), "B");
	http_resp_free(&r);

	/* Forced, the image changes hands. */
	y = web("\"replicas\":2,", "nginx:3", "{\"name\":\"B\",\"value\":\"2\"}");
	assert_int_equal(apply_as("mgr-b", true, y, &r), 200);
	free(y);
	assert_string_equal(jstr(r.body, "spec.template.spec.containers.0.image"), "nginx:3");
	assert_null(jget(fields_of(r.body, "mgr-a", "Apply"),
			 "f:spec.f:template.f:spec.f:containers.k:{\"name\":\"web\"}.f:image"));
	http_resp_free(&r);

	/* An update takes the fields it changes: the scale subresource, by
	 * its fieldManager. */
	const char *ha[] = {"Content-Type: application/merge-patch+json", NULL};
	char auth[300];
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", sim.token);
	const char *h[] = {auth, ha[0], NULL};
	assert_true(http_request(sim.server, "PATCH",
				 "/apis/apps/v1/namespaces/ssa/deployments/web/scale?fieldManager="
				 "scaler",
				 "{\"spec\":{\"replicas\":4}}", h, 0, &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	assert_int_equal(call("GET", "/apis/apps/v1/namespaces/ssa/deployments/web", NULL, &r),
			 200);
	assert_null(jget(fields_of(r.body, "mgr-b", "Apply"), "f:spec.f:replicas"));
	size_t i;
	json_t *e;
	bool scaler = false;
	json_array_foreach (jget(r.body, "metadata.managedFields"), i, e) {
		if (!strcmp(jstr(e, "manager"), "scaler")) {
			assert_string_equal(jstr(e, "operation"), "Update");
			assert_string_equal(jstr(e, "subresource"), "scale");
			assert_non_null(jget(e, "fieldsV1.f:spec.f:replicas"));
			scaler = true;
		}
	}
	assert_true(scaler);
	http_resp_free(&r);
	/* Now mgr-b's replicas conflict with it. */
	y = web("\"replicas\":2,", "nginx:3", "{\"name\":\"B\",\"value\":\"2\"}");
	assert_int_equal(apply_as("mgr-b", false, y, &r), 409);
	free(y);
	assert_non_null(
		strstr(jstr(r.body, "message"),
		       "conflict with \"scaler\" with subresource \"scale\" using apps/v1 at "));
	http_resp_free(&r);
	/* kubectl shows the same. */
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "kubectl --kubeconfig '%s' --context admin -n ssa get deployment web "
		 "--show-managed-fields -o jsonpath='{.metadata.managedFields[*].manager}' | "
		 "grep -qx 'mgr-a mgr-b scaler'",
		 sim.kubeconfig);
	assert_int_equal(system(cmd), 0);
}

static void test_invalid(void **state)
{
	struct http_resp r;
	make_namespace("invalid");
	assert_int_equal(call("POST", "/api/v1/namespaces/invalid/pods",
			      "{\"metadata\":{},\"spec\":{\"containers\":[{\"name\":\"c\","
			      "\"image\":\"x:1\"}]}}",
			      &r),
			 422);
	assert_string_equal(jstr(r.body, "reason"), "Invalid");
	assert_string_equal(jstr(r.body, "message"), "Pod \"\" is invalid: metadata.name: Required "
						     "value: name or generateName is required");
	assert_string_equal(jstr(r.body, "details.causes.0.field"), "metadata.name");
	assert_string_equal(jstr(r.body, "details.causes.0.reason"), "FieldValueRequired");
	assert_int_equal(jint(r.body, "code"), 422);
	http_resp_free(&r);
	assert_int_equal(call("POST", "/api/v1/namespaces/invalid/configmaps",
			      "{\"metadata\":{\"name\":\"Bad_Name\"}}", &r),
			 422);
	assert_non_null(strstr(jstr(r.body, "message"),
			       "ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: "
			       "\"Bad_Name\": a lowercase RFC 1123 subdomain"));
	http_resp_free(&r);
	assert_int_equal(
		call("POST", "/api/v1/namespaces/invalid/services",
		     "{\"metadata\":{\"name\":\"9svc\"},\"spec\":{\"ports\":[{\"port\":80}]}}", &r),
		422);
	assert_non_null(strstr(jstr(r.body, "message"), "a DNS-1035 label"));
	http_resp_free(&r);
	/* A StatefulSet whose selector does not match its template */
	char *sts = workload("es-data", 1, "es", "data", NULL, "7.17.10");
	char *bad = strdup(sts);
	char *at = strstr(bad, "\"labels\":{\"app\":\"es\"");
	at[17] = 'X';
	assert_int_equal(call("POST", "/apis/apps/v1/namespaces/invalid/statefulsets", bad, &r),
			 422);
	assert_string_equal(jstr(r.body, "details.kind"), "StatefulSet");
	assert_string_equal(jstr(r.body, "details.group"), "apps");
	assert_string_equal(jstr(r.body, "details.causes.0.field"),
			    "spec.template.metadata.labels");
	free(bad);
	http_resp_free(&r);
	/* Apply needs a field manager */
	assert_true(request("PATCH", "/api/v1/namespaces/invalid/configmaps/x",
			    "application/apply-patch+yaml",
			    "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\"}", true, 0, &r));
	assert_int_equal(r.status, 422);
	assert_string_equal(jstr(r.body, "details.kind"), "PatchOptions");
	http_resp_free(&r);
	/* A wrong apiVersion */
	assert_int_equal(apply("/api/v1/namespaces/invalid/configmaps/x",
			       "{\"apiVersion\":\"apps/"
			       "v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"}}",
			       &r),
			 400);
	assert_string_equal(jstr(r.body, "reason"), "BadRequest");
	http_resp_free(&r);
	/* A StatefulSet field that may not change */
	assert_int_equal(apply("/apis/apps/v1/namespaces/invalid/statefulsets/es-data", sts, &r),
			 201);
	http_resp_free(&r);
	char *moved = strdup(sts);
	char *svc = strstr(moved, "\"serviceName\":\"es\"");
	svc[15] = 'X';
	assert_int_equal(apply("/apis/apps/v1/namespaces/invalid/statefulsets/es-data", moved, &r),
			 422);
	assert_string_equal(jstr(r.body, "details.causes.0.reason"), "FieldValueForbidden");
	free(moved);
	http_resp_free(&r);
}

static bool ready_replicas_is(struct http_resp *r, const void *arg)
{
	return r->status == 200 && jint(r->body, "status.readyReplicas") == *(const int *)arg;
}

static bool gone(struct http_resp *r, const void *arg)
{
	return r->status == 404;
}

static void test_statefulset(void **state)
{
	struct http_resp r;
	const char *path = "/apis/apps/v1/namespaces/sts/statefulsets/es-data";
	int three = 3, two = 2;
	make_namespace("sts");
	assert_int_equal(
		apply(path,
		      workload("es-data", 3, "es", "data", "kubernetes.io/hostname", "7.17.10"),
		      &r),
		201);
	assert_int_equal(jint(r.body, "metadata.generation"), 1);
	assert_string_equal(jstr(r.body, "spec.podManagementPolicy"), "OrderedReady");
	http_resp_free(&r);
	/* One at a time, in order: es-data-1 never exists before es-data-0 is ready. */
	assert_true(wait_until(path, ready_replicas_is, &three, 30000, &r));
	assert_int_equal(jint(r.body, "status.observedGeneration"), 1);
	assert_non_null(jstr(r.body, "status.updateRevision"));
	http_resp_free(&r);
	assert_int_equal(
		call("GET", "/api/v1/namespaces/sts/pods?labelSelector=app%3Des", NULL, &r), 200);
	assert_int_equal(json_array_size(json_object_get(r.body, "items")), 3);
	const char *nodes[3];
	for (int i = 0; i < 3; i++) {
		char name[32];
		snprintf(name, sizeof(name), "es-data-%d", i);
		assert_string_equal(
			jstr(json_array_get(json_object_get(r.body, "items"), (size_t)i),
			     "metadata.name"),
			name);
		json_t *pod = json_array_get(json_object_get(r.body, "items"), (size_t)i);
		assert_string_equal(jstr(pod, "status.phase"), "Running");
		assert_non_null(jstr(pod, "status.podIP"));
		assert_true(json_is_true(json_object_get(
			json_array_get(json_object_get(json_object_get(pod, "status"),
						       "containerStatuses"),
				       0),
			"ready")));
		nodes[i] = jstr(pod, "spec.nodeName");
	}
	assert_string_not_equal(nodes[0], nodes[1]);
	assert_string_not_equal(nodes[1], nodes[2]);
	assert_string_not_equal(nodes[0], nodes[2]);
	http_resp_free(&r);

	/* The scale subresource */
	assert_int_equal(
		call("GET", "/apis/apps/v1/namespaces/sts/statefulsets/es-data/scale", NULL, &r),
		200);
	assert_string_equal(jstr(r.body, "kind"), "Scale");
	assert_string_equal(jstr(r.body, "apiVersion"), "autoscaling/v1");
	assert_int_equal(jint(r.body, "spec.replicas"), 3);
	assert_string_equal(jstr(r.body, "status.selector"), "app=es,esaas.io/role=data");
	http_resp_free(&r);
	assert_int_equal(call("PUT", "/apis/apps/v1/namespaces/sts/statefulsets/es-data/scale",
			      "{\"apiVersion\":\"autoscaling/"
			      "v1\",\"kind\":\"Scale\",\"metadata\":{\"name\":\"es-data\"},"
			      "\"spec\":{\"replicas\":2}}",
			      &r),
			 200);
	http_resp_free(&r);
	assert_true(wait_until(path, ready_replicas_is, &two, 30000, &r));
	assert_int_equal(jint(r.body, "metadata.generation"), 2);
	http_resp_free(&r);
	/* The removed pod is not ready at once, and gone once it has exited. */
	assert_true(wait_until("/api/v1/namespaces/sts/pods/es-data-2", gone, NULL, 30000, &r));
	http_resp_free(&r);

	/* A deleted pod comes back under its name with a new uid. */
	assert_int_equal(call("GET", "/api/v1/namespaces/sts/pods/es-data-1", NULL, &r), 200);
	char uid[64];
	snprintf(uid, sizeof(uid), "%s", jstr(r.body, "metadata.uid"));
	http_resp_free(&r);
	char body[256];
	snprintf(body, sizeof(body), "{\"preconditions\":{\"uid\":\"%s\"}}", uid);
	assert_int_equal(call("DELETE", "/api/v1/namespaces/sts/pods/es-data-1", body, &r), 200);
	http_resp_free(&r);
	/* A second delete with the same precondition must not touch the replacement. */
	int64_t end = harness_now_ms() + 5000;
	for (;;) {
		call("GET", "/api/v1/namespaces/sts/pods/es-data-1", NULL, &r);
		if (r.status == 200 && strcmp(jstr(r.body, "metadata.uid"), uid) != 0)
			break;
		http_resp_free(&r);
		assert_true(harness_now_ms() < end);
		msleep(20);
	}
	http_resp_free(&r);
	assert_int_equal(call("DELETE", "/api/v1/namespaces/sts/pods/es-data-1", body, &r), 409);
	http_resp_free(&r);
	assert_true(wait_until(path, ready_replicas_is, &two, 30000, &r));
	http_resp_free(&r);
}

static bool updated_replicas_is(struct http_resp *r, const void *arg)
{
	return r->status == 200 && jint(r->body, "status.updatedReplicas") == *(const int *)arg &&
	       jint(r->body, "status.readyReplicas") == *(const int *)arg;
}

/* Under OnDelete the controller never completes a rolling update: pods
 * replaced by hand come at updateRevision, currentRevision stays. */
static void test_statefulset_on_delete_keeps_current_revision(void **state)
{
	struct http_resp r;
	int one = 1;
	const char *path = "/apis/apps/v1/namespaces/ondel/statefulsets/od";
	make_namespace("ondel");
	char *body = xstrdup(workload("od", 1, "od", "data", NULL, "7.17.10"));
	char *spec = strstr(body, "\"spec\":{\"replicas\"");
	assert_non_null(spec);
	char *with = xasprintf("%.*s\"spec\":{\"updateStrategy\":{\"type\":\"OnDelete\"},%s",
			       (int)(spec - body), body, spec + strlen("\"spec\":{"));
	assert_int_equal(apply(path, with, &r), 201);
	http_resp_free(&r);
	assert_true(wait_until(path, ready_replicas_is, &one, 30000, &r));
	char old_rev[64];
	snprintf(old_rev, sizeof(old_rev), "%s", jstr(r.body, "status.currentRevision"));
	http_resp_free(&r);
	char *newer = xstrdup(with);
	char *v = strstr(newer, "7.17.10");
	memcpy(v, "7.17.11", 7);
	assert_int_equal(apply(path, newer, &r), 200);
	http_resp_free(&r);
	assert_int_equal(call("DELETE", "/api/v1/namespaces/ondel/pods/od-0", NULL, &r), 200);
	http_resp_free(&r);
	assert_true(wait_until(path, updated_replicas_is, &one, 30000, &r));
	assert_string_not_equal(jstr(r.body, "status.updateRevision"), old_rev);
	assert_string_equal(jstr(r.body, "status.currentRevision"), old_rev);
	assert_int_equal(jint(r.body, "status.currentReplicas"), 0);
	http_resp_free(&r);
	free(newer);
	free(with);
	free(body);
}

static bool pod_pending_with(struct http_resp *r, const void *arg)
{
	const char *msg = jstr(r->body, "status.conditions.0.message");
	return r->status == 200 && msg && strstr(msg, (const char *)arg) &&
	       !strcmp(jstr(r->body, "status.conditions.0.reason"), "Unschedulable");
}

static void test_anti_affinity(void **state)
{
	struct http_resp r;
	int four = 4, two = 2;
	make_namespace("anti");
	/* Four nodes: the fifth data pod fits nowhere. */
	assert_int_equal(
		apply("/apis/apps/v1/namespaces/anti/statefulsets/host",
		      workload("host", 5, "h", "data", "kubernetes.io/hostname", "7.17.10"), &r),
		201);
	http_resp_free(&r);
	assert_true(wait_until("/apis/apps/v1/namespaces/anti/statefulsets/host", ready_replicas_is,
			       &four, 30000, &r));
	http_resp_free(&r);
	assert_true(wait_until(
		"/api/v1/namespaces/anti/pods/host-4", pod_pending_with,
		"0/4 nodes are available: 4 node(s) didn't match pod anti-affinity rules.", 30000,
		&r));
	assert_string_equal(jstr(r.body, "status.phase"), "Pending");
	assert_string_equal(jstr(r.body, "status.conditions.0.type"), "PodScheduled");
	assert_string_equal(jstr(r.body, "status.conditions.0.status"), "False");
	http_resp_free(&r);
	/* Two racks: the third master fits nowhere. */
	assert_int_equal(
		apply("/apis/apps/v1/namespaces/anti/statefulsets/rack",
		      workload("rack", 3, "r", "master", "topology.kubernetes.io/zone", "7.17.10"),
		      &r),
		201);
	http_resp_free(&r);
	assert_true(wait_until("/apis/apps/v1/namespaces/anti/statefulsets/rack", ready_replicas_is,
			       &two, 30000, &r));
	http_resp_free(&r);
	assert_true(wait_until(
		"/api/v1/namespaces/anti/pods/rack-2", pod_pending_with,
		"0/4 nodes are available: 4 node(s) didn't match pod anti-affinity rules.", 30000,
		&r));
	http_resp_free(&r);
}

static bool terminating_or_gone(struct http_resp *r, const void *arg)
{
	return r->status == 404 ||
	       (r->status == 200 && jstr(r->body, "metadata.deletionTimestamp"));
}

static void delete_with(const char *path, const char *policy, struct http_resp *r)
{
	char body[128];
	snprintf(body, sizeof(body), "{\"propagationPolicy\":\"%s\"}", policy);
	assert_int_equal(call("DELETE", path, body, r), 200);
}

/* A ConfigMap in ns gc, with ownerReferences to the given (uid) owners. */
static const char *config_map(const char *name, const char *owners_json, struct http_resp *r)
{
	char path[256], body[1024];
	snprintf(path, sizeof(path), "/api/v1/namespaces/gc/configmaps/%s", name);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\","
		 "\"ownerReferences\":%s}}",
		 name, owners_json);
	assert_int_equal(apply(path, body, r), 201);
	return jstr(r->body, "metadata.uid");
}

static char *owner_ref(const char *name, const char *uid)
{
	return xasprintf("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"%s\",\"uid\":"
			 "\"%s\",\"blockOwnerDeletion\":true}",
			 name, uid);
}

/* The garbage collector as the real one (pkg/controller/garbagecollector):
 * Foreground keeps the owner, with its foregroundDeletion finalizer, until
 * its blocking dependents are gone from storage; Background deletes the
 * owner at once and the dependents after; Orphan lets the dependents go
 * and keeps them; any kind may own any other, and a dependent with an owner
 * left loses only the dangling reference. */
static void test_garbage_collector_propagates_as_the_real_one(void **state)
{
	struct http_resp r;
	int two = 2, one = 1;
	make_namespace("gc");
	const char *fg = "/apis/apps/v1/namespaces/gc/statefulsets/fg";
	assert_int_equal(apply(fg, workload("fg", 2, "fg", "data", NULL, "7.17.10"), &r), 201);
	http_resp_free(&r);
	assert_true(wait_until(fg, ready_replicas_is, &two, 30000, &r));
	http_resp_free(&r);
	delete_with(fg, "Foreground", &r);
	assert_string_equal(jstr(r.body, "metadata.finalizers.0"), "foregroundDeletion");
	assert_non_null(jstr(r.body, "metadata.deletionTimestamp"));
	http_resp_free(&r);
	/* The pods take pods.terminate_ms (2 s) to go; the owner waits. */
	assert_true(wait_until("/api/v1/namespaces/gc/pods/fg-1", terminating_or_gone, NULL, 30000,
			       &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	assert_int_equal(call("GET", fg, NULL, &r), 200);
	assert_string_equal(jstr(r.body, "metadata.finalizers.0"), "foregroundDeletion");
	http_resp_free(&r);
	assert_true(wait_until(fg, gone, NULL, 30000, &r));
	http_resp_free(&r);
	assert_int_equal(list_count("/api/v1/namespaces/gc/pods?labelSelector=app%3Dfg"), 0);

	const char *bg = "/apis/apps/v1/namespaces/gc/statefulsets/bg";
	assert_int_equal(apply(bg, workload("bg", 1, "bg", "data", NULL, "7.17.10"), &r), 201);
	http_resp_free(&r);
	assert_true(wait_until(bg, ready_replicas_is, &one, 30000, &r));
	http_resp_free(&r);
	delete_with(bg, "Background", &r);
	assert_string_equal(jstr(r.body, "status"), "Success");
	http_resp_free(&r);
	assert_int_equal(call("GET", bg, NULL, &r), 404);
	http_resp_free(&r);
	assert_true(wait_until("/api/v1/namespaces/gc/pods/bg-0", terminating_or_gone, NULL, 30000,
			       &r));
	http_resp_free(&r);

	const char *orph = "/apis/apps/v1/namespaces/gc/statefulsets/or";
	assert_int_equal(apply(orph, workload("or", 1, "or", "data", NULL, "7.17.10"), &r), 201);
	http_resp_free(&r);
	assert_true(wait_until(orph, ready_replicas_is, &one, 30000, &r));
	http_resp_free(&r);
	delete_with(orph, "Orphan", &r);
	assert_string_equal(jstr(r.body, "metadata.finalizers.0"), "orphan");
	http_resp_free(&r);
	assert_true(wait_until(orph, gone, NULL, 30000, &r));
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/gc/pods/or-0", NULL, &r), 200);
	assert_null(jstr(r.body, "metadata.deletionTimestamp"));
	assert_null(jget(r.body, "metadata.ownerReferences"));
	http_resp_free(&r);

	/* ConfigMaps owning ConfigMaps. */
	char parent[64], other[64];
	snprintf(parent, sizeof(parent), "%s", config_map("parent", "[]", &r));
	http_resp_free(&r);
	snprintf(other, sizeof(other), "%s", config_map("other", "[]", &r));
	http_resp_free(&r);
	char *pref = owner_ref("parent", parent), *oref = owner_ref("other", other);
	char *refs = xasprintf("[%s]", pref), *both = xasprintf("[%s,%s]", pref, oref);
	config_map("child", refs, &r);
	http_resp_free(&r);
	config_map("shared", both, &r);
	http_resp_free(&r);
	free(pref);
	free(oref);
	free(refs);
	free(both);
	delete_with("/api/v1/namespaces/gc/configmaps/parent", "Background", &r);
	http_resp_free(&r);
	assert_true(wait_until("/api/v1/namespaces/gc/configmaps/child", gone, NULL, 30000, &r));
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/gc/configmaps/shared", NULL, &r), 200);
	assert_int_equal(json_array_size(jget(r.body, "metadata.ownerReferences")), 1);
	assert_string_equal(jstr(r.body, "metadata.ownerReferences.0.name"), "other");
	http_resp_free(&r);
	/* Foreground on a ConfigMap: its dependent goes, then it does. */
	delete_with("/api/v1/namespaces/gc/configmaps/other", "Foreground", &r);
	assert_string_equal(jstr(r.body, "metadata.finalizers.0"), "foregroundDeletion");
	http_resp_free(&r);
	assert_true(wait_until("/api/v1/namespaces/gc/configmaps/other", gone, NULL, 30000, &r));
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/gc/configmaps/shared", NULL, &r), 404);
	http_resp_free(&r);
}

static void test_namespace_terminates_its_content_then_goes(void **state)
{
	struct http_resp r;
	int one = 1;
	make_namespace("doomed");
	assert_int_equal(apply("/apis/apps/v1/namespaces/doomed/statefulsets/x",
			       workload("x", 1, "x", "data", NULL, "7.17.10"), &r),
			 201);
	http_resp_free(&r);
	assert_true(wait_until("/apis/apps/v1/namespaces/doomed/statefulsets/x", ready_replicas_is,
			       &one, 30000, &r));
	http_resp_free(&r);
	assert_int_equal(call("DELETE", "/api/v1/namespaces/doomed",
			      "{\"propagationPolicy\":\"Foreground\"}", &r),
			 200);
	assert_string_equal(jstr(r.body, "status.phase"), "Terminating");
	http_resp_free(&r);
	/* While its pods take their time to go, the namespace is Terminating
	 * with its finalizer, and a second DELETE is a conflict. */
	assert_int_equal(call("GET", "/api/v1/namespaces/doomed/pods/x-0", NULL, &r), 200);
	assert_non_null(jstr(r.body, "metadata.deletionTimestamp"));
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/doomed", NULL, &r), 200);
	assert_string_equal(jstr(r.body, "spec.finalizers.0"), "kubernetes");
	http_resp_free(&r);
	assert_int_equal(call("DELETE", "/api/v1/namespaces/doomed", NULL, &r), 409);
	assert_string_equal(jstr(r.body, "reason"), "Conflict");
	assert_string_equal(
		jstr(r.body, "message"),
		"Operation cannot be fulfilled on namespaces \"doomed\": The system is "
		"ensuring all content is removed from this namespace.  Upon completion, "
		"this namespace will automatically be purged by the system.");
	http_resp_free(&r);
	/* The controller comes back for it 16 s after (the pods' default grace
	 * of 30 s, halved, plus one). */
	assert_true(wait_until("/api/v1/namespaces/doomed", gone, NULL, 30000, &r));
	http_resp_free(&r);
	assert_int_equal(list_count("/api/v1/namespaces/doomed/pods"), 0);
}

/* The namespace's condition of type, or NULL. */
static json_t *ns_condition(json_t *ns, const char *type)
{
	size_t i;
	json_t *c;
	json_array_foreach (jget(ns, "status.conditions"), i, c) {
		if (!strcmp(jstr(c, "type"), type))
			return c;
	}
	return NULL;
}

static bool content_remaining(struct http_resp *r, const void *arg)
{
	json_t *c = r->status == 200 ? ns_condition(r->body, "NamespaceContentRemaining") : NULL;
	return c && !strcmp(jstr(c, "message"), (const char *)arg);
}

/*
 * The namespace controller at work: each sync writes the deleter's five
 * conditions (what content remains, which finalizers hold it), and with
 * content left it comes back after half the longest grace of its pods
 * plus a second (15 s when finalizers hold content), not when the content
 * goes.
 */
static void test_namespace_deletion_reports_its_conditions_and_waits_its_estimate(void **state)
{
	struct http_resp r;
	const char *ns = "/api/v1/namespaces/nscond";
	make_namespace("nscond");
	assert_int_equal(call("POST", "/api/v1/namespaces/nscond/pods",
			      "{\"metadata\":{\"name\":\"slow\"},\"spec\":{"
			      "\"terminationGracePeriodSeconds\":10,"
			      "\"containers\":[{\"name\":\"c\",\"image\":\"x:1\"}]}}",
			      &r),
			 201);
	http_resp_free(&r);
	assert_int_equal(call("POST", "/api/v1/namespaces/nscond/configmaps",
			      "{\"metadata\":{\"name\":\"held\",\"finalizers\":["
			      "\"example.com/hold\"]}}",
			      &r),
			 201);
	http_resp_free(&r);
	time_t deleted_at = time(NULL);
	assert_int_equal(call("DELETE", ns, NULL, &r), 200);
	http_resp_free(&r);
	assert_true(wait_until(ns, content_remaining,
			       "Some resources are remaining: configmaps. has 1 resource "
			       "instances, pods. has 1 resource instances",
			       30000, &r));
	json_t *c = ns_condition(r.body, "NamespaceContentRemaining");
	assert_string_equal(jstr(c, "status"), "True");
	assert_string_equal(jstr(c, "reason"), "SomeResourcesRemain");
	c = ns_condition(r.body, "NamespaceFinalizersRemaining");
	assert_non_null(c);
	assert_string_equal(jstr(c, "status"), "True");
	assert_string_equal(jstr(c, "reason"), "SomeFinalizersRemain");
	assert_string_equal(jstr(c, "message"),
			    "Some content in the namespace has finalizers remaining: "
			    "example.com/hold in 1 resource instances");
	static const char *const ok[][2] = {
		{"NamespaceDeletionDiscoveryFailure", "ResourcesDiscovered"},
		{"NamespaceDeletionGroupVersionParsingFailure", "ParsedGroupVersions"},
		{"NamespaceDeletionContentFailure", "ContentDeleted"},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		c = ns_condition(r.body, ok[i][0]);
		assert_non_null(c);
		assert_string_equal(jstr(c, "status"), "False");
		assert_string_equal(jstr(c, "reason"), ok[i][1]);
	}
	assert_int_equal(json_array_size(jget(r.body, "status.conditions")), 5);
	http_resp_free(&r);
	/* The configmap waits for its finalizer; the pod goes when its
	 * containers have exited, well within its grace. */
	assert_int_equal(call("GET", "/api/v1/namespaces/nscond/configmaps/held", NULL, &r), 200);
	assert_non_null(jstr(r.body, "metadata.deletionTimestamp"));
	http_resp_free(&r);
	assert_true(wait_until("/api/v1/namespaces/nscond/pods/slow", gone, NULL, 30000, &r));
	http_resp_free(&r);
	assert_int_equal(call_as(sim.token, "PATCH", "/api/v1/namespaces/nscond/configmaps/held",
				 "application/merge-patch+json",
				 "{\"metadata\":{\"finalizers\":null}}", &r),
			 200);
	http_resp_free(&r);
	assert_true(wait_until("/api/v1/namespaces/nscond/configmaps/held", gone, NULL, 30000, &r));
	http_resp_free(&r);
	/* Nothing is left, but nobody has looked yet: the namespace stays,
	 * its conditions as last written, until the controller comes back
	 * (the finalizers' 15 s estimate: 8 s). */
	if (time(NULL) - deleted_at < 7) {
		assert_int_equal(call("GET", ns, NULL, &r), 200);
		c = ns_condition(r.body, "NamespaceContentRemaining");
		assert_string_equal(jstr(c, "status"), "True");
		http_resp_free(&r);
	}
	assert_true(wait_until(ns, gone, NULL, 30000, &r));
	http_resp_free(&r);
	assert_true(time(NULL) - deleted_at >= 7);
}

/* Seconds from now to an RFC 3339 time ("2026-01-02T03:04:05Z"). */
static long seconds_until(const char *ts)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	assert_non_null(ts);
	assert_non_null(strptime(ts, "%Y-%m-%dT%H:%M:%SZ", &tm));
	return (long)(timegm(&tm) - time(NULL));
}

/*
 * A graceful delete stamps the time the pod may be killed at: now plus the
 * grace (the pod's terminationGracePeriodSeconds, or the DeleteOptions'),
 * which a later delete may only shorten.  The pod still goes when its
 * containers exit, long before.
 */
static void test_deletion_timestamp_is_now_plus_the_grace(void **state)
{
	struct http_resp r;
	make_namespace("grace");
	char body[512];
	snprintf(body, sizeof(body),
		 "{\"metadata\":{\"name\":\"slow\"},\"spec\":{"
		 "\"terminationGracePeriodSeconds\":120,"
		 "\"containers\":[{\"name\":\"c\",\"image\":\"x:1\"}]}}");
	assert_int_equal(call("POST", "/api/v1/namespaces/grace/pods", body, &r), 201);
	http_resp_free(&r);
	assert_int_equal(call("DELETE", "/api/v1/namespaces/grace/pods/slow", NULL, &r), 200);
	assert_int_equal(jint(r.body, "metadata.deletionGracePeriodSeconds"), 120);
	long left = seconds_until(jstr(r.body, "metadata.deletionTimestamp"));
	assert_true(left >= 115 && left <= 121);
	http_resp_free(&r);
	/* A shorter grace moves it earlier; a longer one changes nothing. */
	assert_int_equal(call("DELETE", "/api/v1/namespaces/grace/pods/slow",
			      "{\"gracePeriodSeconds\":60}", &r),
			 200);
	assert_int_equal(jint(r.body, "metadata.deletionGracePeriodSeconds"), 60);
	left = seconds_until(jstr(r.body, "metadata.deletionTimestamp"));
	assert_true(left >= 55 && left <= 61);
	http_resp_free(&r);
	assert_int_equal(call("DELETE", "/api/v1/namespaces/grace/pods/slow",
			      "{\"gracePeriodSeconds\":90}", &r),
			 200);
	assert_int_equal(jint(r.body, "metadata.deletionGracePeriodSeconds"), 60);
	http_resp_free(&r);
	/* Without terminationGracePeriodSeconds the default, 30 s. */
	snprintf(body, sizeof(body),
		 "{\"metadata\":{\"name\":\"plain\"},\"spec\":{\"containers\":[{\"name\":\"c\","
		 "\"image\":\"x:1\"}]}}");
	assert_int_equal(call("POST", "/api/v1/namespaces/grace/pods", body, &r), 201);
	http_resp_free(&r);
	assert_int_equal(call("DELETE", "/api/v1/namespaces/grace/pods/plain", NULL, &r), 200);
	assert_int_equal(jint(r.body, "metadata.deletionGracePeriodSeconds"), 30);
	left = seconds_until(jstr(r.body, "metadata.deletionTimestamp"));
	assert_true(left >= 25 && left <= 31);
	http_resp_free(&r);
	/* Both still go once their containers exit (pods.terminate_ms). */
	assert_true(wait_until("/api/v1/namespaces/grace/pods/slow", gone, NULL, 30000, &r));
	http_resp_free(&r);
	assert_true(wait_until("/api/v1/namespaces/grace/pods/plain", gone, NULL, 30000, &r));
	http_resp_free(&r);
}

static char *list_rv(const char *path);
static json_int_t open_watches(void);
static void wait_watch_opened(json_int_t before);
static json_t *curl_watch_lines(const char *rcfile, const char *out);
static bool pod_ready(struct http_resp *r, const void *arg);

/*
 * A deleted pod stays Ready while its containers stop (the kubelet goes on
 * probing it; the endpoints mark it terminating), then the kubelet writes
 * its terminal phase, its containers terminated, before it is deleted for
 * good: a watch sees that MODIFIED, then the DELETED.
 */
static void test_deleted_pod_ends_in_a_terminal_phase_before_it_goes(void **state)
{
	(void)state;
	struct http_resp r;
	char cmd[4096], out[256], rcfile[256];
	make_namespace("ending");
	assert_int_equal(call("POST", "/api/v1/namespaces/ending/pods",
			      "{\"metadata\":{\"name\":\"last\"},\"spec\":{\"containers\":[{"
			      "\"name\":\"c\",\"image\":\"busybox:1.36\"}]}}",
			      &r),
			 201);
	http_resp_free(&r);
	assert_true(wait_until("/api/v1/namespaces/ending/pods/last", pod_ready, NULL, 30000, &r));
	http_resp_free(&r);
	char *rv = list_rv("/api/v1/namespaces/ending/pods");
	snprintf(out, sizeof(out), "%s/ending.out", tmpdir);
	snprintf(rcfile, sizeof(rcfile), "%s/ending.rc", tmpdir);
	json_int_t before = open_watches();
	snprintf(cmd, sizeof(cmd),
		 "(curl -sSN --max-time 30 --cacert '%s' -H 'Authorization: Bearer %s' "
		 "'%s/api/v1/namespaces/ending/pods?watch=1&resourceVersion=%s"
		 "&timeoutSeconds=6' >'%s'; echo $? >'%s.tmp'; mv '%s.tmp' '%s') &",
		 sim.ca, sim.token, sim.server, rv, out, rcfile, rcfile, rcfile);
	assert_int_equal(system(cmd), 0);
	free(rv);
	wait_watch_opened(before);
	assert_int_equal(call("DELETE", "/api/v1/namespaces/ending/pods/last", NULL, &r), 200);
	assert_non_null(jstr(r.body, "metadata.deletionTimestamp"));
	assert_true(pod_ready(&r, NULL));
	http_resp_free(&r);
	json_t *lines = curl_watch_lines(rcfile, out);
	size_t i, terminal = 0, deleted = 0;
	json_t *ev;
	json_array_foreach (lines, i, ev) {
		const char *phase = jstr(ev, "object.status.phase");
		if (!strcmp(jstr(ev, "type"), "MODIFIED") && phase && !strcmp(phase, "Succeeded") &&
		    !terminal)
			terminal = i + 1;
		if (!strcmp(jstr(ev, "type"), "DELETED"))
			deleted = i + 1;
	}
	if (!terminal || !deleted || terminal > deleted)
		fail_msg("no MODIFIED in phase Succeeded before the DELETED: %s",
			 json_dumps(lines, JSON_COMPACT));
	json_t *last = json_object_get(json_array_get(lines, deleted - 1), "object");
	json_t *cs = json_array_get(jget(last, "status.containerStatuses"), 0);
	assert_int_equal(jint(cs, "state.terminated.exitCode"), 0);
	assert_false(pod_ready(&(struct http_resp){.status = 200, .body = last}, NULL));
	json_decref(lines);
}

/* --- Elasticsearch ---------------------------------------------------------------- */

static const char SERVICE[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"es-%s\"},\"spec\":"
	"{\"clusterIP\":\"None\",\"selector\":{\"app\":\"es\"},\"ports\":[{\"name\":\"http\","
	"\"port\":9200}]}}";

/* The ConfigMap that names the masters a zen2 cluster forms from. */
static void bootstrap_config(const char *ns, const char *masters)
{
	struct http_resp r;
	char path[256], body[1024];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/es-master-config", ns);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
		 "\"es-master-config\"},\"data\":{\"elasticsearch.yml\":"
		 "\"cluster.initial_master_nodes:\\n- %s\\n\"}}",
		 masters);
	int code = apply(path, body, &r);
	assert_true(code == 201 || code == 200);
	http_resp_free(&r);
}

/* A cluster in ns: one master StatefulSet and a data StatefulSet. */
/* A namespace with the Service of its nodes (SERVICE). */
static void make_es_namespace(const char *ns)
{
	struct http_resp r;
	char url[256];
	make_namespace(ns);
	snprintf(url, sizeof(url), "/api/v1/namespaces/%s/services/es-%s", ns, ns);
	char *body = xasprintf(SERVICE, ns);
	assert_int_equal(apply(url, body, &r), 201);
	http_resp_free(&r);
	free(body);
}

static void make_cluster(const char *ns, int data, const char *version)
{
	struct http_resp r;
	char path[256], body[1024];
	make_namespace(ns);
	snprintf(body, sizeof(body), "es-master-0-%s", ns);
	bootstrap_config(ns, body);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/services/es-%s", ns, ns);
	snprintf(body, sizeof(body), SERVICE, ns);
	assert_int_equal(apply(path, body, &r), 201);
	http_resp_free(&r);
	snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/statefulsets/es-master", ns);
	assert_int_equal(apply(path, workload("es-master", 1, "es", "master", NULL, version), &r),
			 201);
	http_resp_free(&r);
	snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/statefulsets/es-data", ns);
	assert_int_equal(
		apply(path,
		      workload("es-data", data, "es", "data", "kubernetes.io/hostname", version),
		      &r),
		201);
	http_resp_free(&r);
}

static char *es_path(const char *ns, const char *rest)
{
	static char buf[1024];
	snprintf(buf, sizeof(buf), "/api/v1/namespaces/%s/services/es-%s:9200/proxy%s", ns, ns,
		 rest);
	return buf;
}

static bool ok_200(struct http_resp *r, const void *arg)
{
	return r->status == 200;
}

static void es_wait_green(const char *ns, int nodes)
{
	struct http_resp r;
	char q[256];
	snprintf(q, sizeof(q),
		 "/_cluster/health?wait_for_status=green&wait_for_nodes=%d&timeout=5s", nodes);
	/* Its pods pass their readiness probes, then the endpoints follow. */
	assert_true(wait_until(es_path(ns, q), ok_200, NULL, 60000, &r));
	assert_string_equal(jstr(r.body, "status"), "green");
	assert_false(json_is_true(json_object_get(r.body, "timed_out")));
	assert_int_equal(jint(r.body, "number_of_nodes"), nodes);
	http_resp_free(&r);
}

/* zen2 forms a new cluster only from the masters named in advance. */
static void test_es_zen2_needs_initial_masters(void **state)
{
	struct http_resp r;
	char path[256], body[1024];
	make_namespace("esb");
	snprintf(path, sizeof(path), "/api/v1/namespaces/esb/services/es-esb");
	snprintf(body, sizeof(body), SERVICE, "esb");
	assert_int_equal(apply(path, body, &r), 201);
	http_resp_free(&r);
	/* Named, but not a pod that exists: no quorum of the named. */
	bootstrap_config("esb", "es-master-7-esb");
	assert_int_equal(apply("/apis/apps/v1/namespaces/esb/statefulsets/es-master",
			       workload("es-master", 1, "es", "master", NULL, "7.17.10"), &r),
			 201);
	http_resp_free(&r);
	/* The node answers, but there is no master, and it stays so. */
	assert_true(wait_until(es_path("esb", "/"), ok_200, NULL, 30000, &r));
	http_resp_free(&r);
	assert_int_equal(call("GET",
			      es_path("esb", "/_cluster/health?wait_for_status=green&timeout=1s"),
			      NULL, &r),
			 503);
	assert_string_equal(jstr(r.body, "error.type"), "master_not_discovered_exception");
	http_resp_free(&r);
	/* Named right: it forms. */
	bootstrap_config("esb", "es-master-0-esb");
	assert_true(wait_until(es_path("esb", "/_cluster/health?wait_for_status=green&timeout=1s"),
			       ok_200, NULL, 30000, &r));
	http_resp_free(&r);
}

static bool status_is(struct http_resp *r, const void *arg)
{
	return r->status == 200 && jstr(r->body, "status") &&
	       !strcmp(jstr(r->body, "status"), (const char *)arg);
}

/* Two master and data nodes whose elasticsearch.yml (ConfigMap es-file,
 * mounted) holds the given lines besides the bootstrap list. */
static void make_cluster_with_file(const char *ns, const char *lines)
{
	struct http_resp r;
	char path[256], body[2048];
	make_namespace(ns);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/es-file", ns);
	snprintf(
		body, sizeof(body),
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"es-file\"},"
		"\"data\":{\"elasticsearch.yml\":\"cluster.initial_master_nodes:\\n- "
		"es-0-%s\\n%s\"}"
		"}",
		ns, lines);
	assert_int_equal(apply(path, body, &r), 201);
	http_resp_free(&r);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/services/es-%s", ns, ns);
	snprintf(body, sizeof(body), SERVICE, ns);
	assert_int_equal(apply(path, body, &r), 201);
	http_resp_free(&r);
	snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/statefulsets/es", ns);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"metadata\":{\"name\":"
		 "\"es\"},\"spec\":{\"replicas\":2,\"serviceName\":\"es\",\"podManagementPolicy\":"
		 "\"Parallel\",\"selector\":{\"matchLabels\":{\"app\":\"es\"}},\"template\":{"
		 "\"metadata\":{\"labels\":{\"app\":\"es\"}},\"spec\":{\"volumes\":[{\"name\":"
		 "\"config\",\"configMap\":{\"name\":\"es-file\"}}],\"containers\":[{\"name\":"
		 "\"es\",\"image\":\"docker.elastic.co/elasticsearch/elasticsearch:7.17.10\","
		 "\"volumeMounts\":[{\"name\":\"config\",\"mountPath\":\"/usr/share/"
		 "elasticsearch/config/elasticsearch.yml\",\"subPath\":\"elasticsearch.yml\"}]}]}}}"
		 "}");
	assert_int_equal(apply(path, body, &r), 201);
	http_resp_free(&r);
}

/* elasticsearch.yml is the lowest layer: the elected master's deciders
 * take its value where neither persistent nor transient settings have
 * one, and GET _cluster/settings?include_defaults shows it under
 * "defaults" (ClusterSettings.diff against the node's settings). */
static void test_es_settings_file_is_the_lowest_layer(void **state)
{
	struct http_resp r;
	make_cluster_with_file("e7", "cluster.routing.allocation.enable: primaries\\n");
	es_wait_green("e7", 2);
	assert_int_equal(call("PUT", es_path("e7", "/e7idx"),
			      "{\"settings\":{\"number_of_shards\":1,\"number_of_replicas\":1}}",
			      &r),
			 200);
	http_resp_free(&r);
	/* The primary is allocated, the replica is held back by the file. */
	assert_true(wait_until(es_path("e7", "/_cluster/health"), status_is, "yellow", 30000, &r));
	http_resp_free(&r);
	int64_t until = harness_now_ms() + 500;
	while (harness_now_ms() < until) {
		assert_int_equal(call("GET", es_path("e7", "/_cluster/health"), NULL, &r), 200);
		assert_string_equal(jstr(r.body, "status"), "yellow");
		assert_int_equal(jint(r.body, "unassigned_shards"), 1);
		http_resp_free(&r);
		msleep(50);
	}
	const char *all = "/_cluster/settings?include_defaults=true&flat_settings=true";
	assert_int_equal(call("GET", es_path("e7", all), NULL, &r), 200);
	json_t *defaults = json_object_get(r.body, "defaults");
	assert_string_equal(
		json_string_value(json_object_get(defaults, "cluster.routing.allocation.enable")),
		"primaries");
	assert_int_equal(json_object_size(json_object_get(r.body, "persistent")), 0);
	http_resp_free(&r);
	/* Persistent over the file. */
	assert_int_equal(call("PUT", es_path("e7", "/_cluster/settings"),
			      "{\"persistent\":{\"cluster.routing.allocation.enable\":\"all\"}}",
			      &r),
			 200);
	http_resp_free(&r);
	es_wait_green("e7", 2);
	assert_int_equal(call("GET", es_path("e7", all), NULL, &r), 200);
	assert_null(json_object_get(json_object_get(r.body, "defaults"),
				    "cluster.routing.allocation.enable"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(r.body, "persistent"),
							      "cluster.routing.allocation.enable")),
			    "all");
	http_resp_free(&r);
	/* A reset falls back to the file, not to the built-in default. */
	assert_int_equal(call("PUT", es_path("e7", "/_cluster/settings"),
			      "{\"persistent\":{\"cluster.routing.allocation.enable\":null}}", &r),
			 200);
	http_resp_free(&r);
	assert_int_equal(call("GET", es_path("e7", all), NULL, &r), 200);
	assert_string_equal(json_string_value(json_object_get(json_object_get(r.body, "defaults"),
							      "cluster.routing.allocation.enable")),
			    "primaries");
	http_resp_free(&r);
}

/* 2.x skips a null while it reads the settings (XContentSettingsLoader),
 * so nulls reset nothing, and a request of nulls only is refused as
 * empty: "Validation Failed: 1: no settings to update;". */
static void test_es_2x_null_in_cluster_settings(void **state)
{
	struct http_resp r;
	make_cluster("two", 1, "2.4.6");
	es_wait_green("two", 2);
	assert_int_equal(
		call("PUT", es_path("two", "/_cluster/settings"),
		     "{\"persistent\":{\"cluster.routing.allocation.enable\":\"primaries\","
		     "\"cluster.routing.allocation.exclude._name\":null}}",
		     &r),
		200);
	assert_true(json_is_true(json_object_get(r.body, "acknowledged")));
	assert_string_equal(jstr(r.body, "persistent.cluster.routing.allocation.enable"),
			    "primaries");
	assert_null(jget(r.body, "persistent.cluster.routing.allocation.exclude"));
	http_resp_free(&r);
	assert_int_equal(call("PUT", es_path("two", "/_cluster/settings"),
			      "{\"persistent\":{\"cluster.routing.allocation.enable\":null}}", &r),
			 400);
	assert_int_equal(jint(r.body, "status"), 400);
	assert_string_equal(jstr(r.body, "error.type"), "action_request_validation_exception");
	assert_string_equal(jstr(r.body, "error.reason"),
			    "Validation Failed: 1: no settings to update;");
	assert_string_equal(jstr(r.body, "error.root_cause.0.type"),
			    "action_request_validation_exception");
	http_resp_free(&r);
	assert_int_equal(call("GET", es_path("two", "/_cluster/settings"), NULL, &r), 200);
	assert_string_equal(jstr(r.body, "persistent.cluster.routing.allocation.enable"),
			    "primaries");
	http_resp_free(&r);
	/* No defaults before 5.0: the parameter is ignored, as any unknown one. */
	assert_int_equal(call("GET",
			      es_path("two", "/_cluster/settings?include_defaults=true"
					     "&flat_settings=true"),
			      NULL, &r),
			 200);
	assert_null(json_object_get(r.body, "defaults"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(r.body, "persistent"),
							      "cluster.routing.allocation.enable")),
			    "primaries");
	http_resp_free(&r);
}

/* 2.x applies exactly the cluster settings its ClusterModule registers as
 * dynamic (and "logger."), when their validator accepts the value, and
 * leaves every other key out of the update and of the echo, with a 200:
 * a key that came later, a static key, a bad boolean, a
 * minimum_master_nodes above the masters there. */
static void test_es_2x_applies_only_its_registered_dynamic_settings(void **state)
{
	struct http_resp r;
	make_cluster("two-reg", 1, "2.4.6");
	es_wait_green("two-reg", 2);
	assert_int_equal(call("PUT", es_path("two-reg", "/_cluster/settings?flat_settings=true"),
			      "{\"persistent\":{\"threadpool.search.size\":\"10\","
			      "\"cluster.routing.allocation.disk.watermark.flood_stage\":\"95%\","
			      "\"discovery.zen.ping.unicast.hosts\":\"es-0\","
			      "\"cluster.routing.allocation.disk.threshold_enabled\":\"maybe\","
			      "\"cluster.routing.allocation.disk.include_relocations\":\"off\","
			      "\"discovery.zen.minimum_master_nodes\":5,"
			      "\"indices.recovery.max_bytes_per_sec\":\"50mb\","
			      "\"indices.recovery.concurrent_streams\":\"0\","
			      "\"logger.discovery\":\"DEBUG\","
			      "\"search.allow_expensive_queries\":\"true\"}}",
			      &r),
			 200);
	json_t *echo = json_object_get(r.body, "persistent");
	const char *applied[] = {"threadpool.search.size",
				 "cluster.routing.allocation.disk.include_relocations",
				 "indices.recovery.max_bytes_per_sec", "logger.discovery"};
	for (size_t i = 0; i < ARRAY_SIZE(applied); i++)
		if (!json_object_get(echo, applied[i]))
			fail_msg("2.x applies %s, the echo leaves it out", applied[i]);
	if (json_object_size(echo) != ARRAY_SIZE(applied)) {
		char *text = json_dumps(echo, JSON_SORT_KEYS);
		fail_msg("2.x echoes only what it applied, not %s", text);
	}
	http_resp_free(&r);
	assert_int_equal(
		call("GET", es_path("two-reg", "/_cluster/settings?flat_settings=true"), NULL, &r),
		200);
	assert_int_equal(json_object_size(json_object_get(r.body, "persistent")),
			 ARRAY_SIZE(applied));
	http_resp_free(&r);
}

static void expect_setting(const char *ns, const char *scope, const char *key, const char *value,
			   long status, const char *reason)
{
	struct http_resp r;
	char body[512];
	snprintf(body, sizeof(body), "{\"%s\":{\"%s\":%s}}", scope, key, value);
	assert_int_equal(call("PUT", es_path(ns, "/_cluster/settings"), body, &r), status);
	if (reason) {
		const char *said = jstr(r.body, "error.reason");
		assert_non_null(said);
		assert_string_equal(said, reason);
	}
	http_resp_free(&r);
}

/* PUT _cluster/settings knows the dynamic settings of the node's version
 * one by one: a key it does not know, under a known prefix too, is refused
 * "not recognized"; an affix setting takes any name in its place; a key
 * 9.0 removed is refused there. */
static void test_es_unknown_cluster_setting_is_not_recognized(void **state)
{
	make_cluster("catalog", 1, "7.17.10");
	es_wait_green("catalog", 2);
	expect_setting("catalog", "persistent", "cluster.routing.allocation.bogus", "\"x\"", 400,
		       "persistent setting [cluster.routing.allocation.bogus], not recognized");
	expect_setting("catalog", "transient", "indices.recovery.bogus", "1", 400,
		       "transient setting [indices.recovery.bogus], not recognized");
	expect_setting("catalog", "persistent", "search.max_bucketsx", "10", 400,
		       "persistent setting [search.max_bucketsx], not recognized");
	/* Came in 8.6. */
	expect_setting("catalog", "persistent", "cluster.routing.allocation.balance.disk_usage",
		       "\"1.0\"", 400,
		       "persistent setting [cluster.routing.allocation.balance.disk_usage], not "
		       "recognized");
	expect_setting("catalog", "persistent",
		       "cluster.routing.allocation.awareness.force.zone.values", "\"a,b\"", 200,
		       NULL);
	expect_setting("catalog", "persistent",
		       "cluster.routing.allocation.disk.include_relocations", "\"true\"", 200,
		       NULL);
	expect_setting("catalog", "transient", "logger.org.elasticsearch.discovery", "\"DEBUG\"",
		       200, NULL);
	expect_setting("catalog", "persistent", "indices.fielddata.cache.size", "\"10%\"", 400,
		       "persistent setting [indices.fielddata.cache.size], not dynamically "
		       "updateable");
	/* From 7.14 to 8.x; 9.0 removed it (elastic/elasticsearch#114207). */
	expect_setting("catalog", "persistent",
		       "cluster.routing.allocation.disk.watermark.enable_for_single_data_node",
		       "\"true\"", 200, NULL);
	make_cluster("catalog9", 1, "9.5.2");
	es_wait_green("catalog9", 2);
	expect_setting("catalog9", "persistent",
		       "cluster.routing.allocation.disk.watermark.enable_for_single_data_node",
		       "\"true\"", 400,
		       "persistent setting "
		       "[cluster.routing.allocation.disk.watermark.enable_for_single_data_node], "
		       "not recognized");
	expect_setting("catalog9", "persistent", "cluster.routing.allocation.disk.watermark.low",
		       "\"80%\"", 200, NULL);
}

static bool first_pod_ready(struct http_resp *r, const void *arg)
{
	if (r->status != 200)
		return false;
	size_t i;
	json_t *pod;
	json_array_foreach (json_object_get(r->body, "items"), i, pod) {
		size_t j;
		json_t *c;
		json_array_foreach (json_object_get(json_object_get(pod, "status"), "conditions"),
				    j, c) {
			if (!strcmp(json_string_value(json_object_get(c, "type")), "Ready") &&
			    !strcmp(json_string_value(json_object_get(c, "status")), "True"))
				return true;
		}
	}
	return false;
}

static bool pod_running(struct http_resp *r, const void *arg)
{
	return r->status == 200 && jstr(r->body, "status.podIP") &&
	       !strcmp(jstr(r->body, "status.phase"), "Running");
}

/* A simulator of its own for a test that needs an empty cluster: in
 * tmpdir/name, with config. */
static void start_own_sim(struct sim *s, const char *name, const char *config)
{
	char dir[300];
	snprintf(dir, sizeof(dir), "%s/%s", tmpdir, name);
	mkdir(dir, 0755);
	assert_true(sim_start(s, dir, config));
}

static long own_call(const struct sim *s, const char *method, const char *path, const char *body,
		     struct http_resp *r)
{
	assert_true(sim_call(s, method, path, body, r));
	return r->status;
}

static const char NODE_PORT_SVC[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"%s\"},\"spec\":"
	"{\"type\":\"NodePort\",\"selector\":{\"app\":\"es\"},\"ports\":[%s]}}";

static long apply_node_port_service(const char *ns, const char *name, const char *ports,
				    struct http_resp *r)
{
	char path[256], body[1024];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/services/%s", ns, name);
	snprintf(body, sizeof(body), NODE_PORT_SVC, name, ports);
	return apply(path, body, r);
}

/* NodePorts are one range for the whole cluster: a port another namespace
 * holds is refused, a free one is drawn from the upper band; a port sent
 * again without its nodePort keeps the one of its name, wherever it now
 * is in the list (pkg/registry/core/service/storage/storage.go,
 * patchAllocatedValues). */
static void test_node_ports_are_unique_across_namespaces_and_kept_by_name(void **state)
{
	struct http_resp r;
	char ports[256], want[256];
	make_namespace("np-a");
	make_namespace("np-b");
	assert_int_equal(apply_node_port_service("np-a", "es",
						 "{\"name\":\"http\",\"port\":9200},"
						 "{\"name\":\"transport\",\"port\":9300}",
						 &r),
			 201);
	json_int_t http = jint(r.body, "spec.ports.0.nodePort");
	json_int_t transport = jint(r.body, "spec.ports.1.nodePort");
	const char *ip = jstr(r.body, "spec.clusterIP");
	char cluster_ip[64];
	snprintf(cluster_ip, sizeof(cluster_ip), "%s", ip ? ip : "");
	http_resp_free(&r);
	/* The lowest 86 ports are left for those asked for by number. */
	assert_true(http >= 30086 && http <= 32767);
	assert_true(transport >= 30086 && transport <= 32767);
	assert_true(http != transport);

	snprintf(ports, sizeof(ports), "{\"name\":\"http\",\"port\":9200,\"nodePort\":%lld}",
		 (long long)http);
	assert_int_equal(apply_node_port_service("np-b", "es", ports, &r), 422);
	snprintf(want, sizeof(want),
		 "Service \"es\" is invalid: spec.ports[0].nodePort: Invalid value: %lld: "
		 "provided port is already allocated",
		 (long long)http);
	assert_string_equal(jstr(r.body, "message"), want);
	assert_string_equal(jstr(r.body, "details.causes.0.field"), "spec.ports[0].nodePort");
	http_resp_free(&r);
	assert_int_equal(
		apply_node_port_service("np-b", "es",
					"{\"name\":\"http\",\"port\":9200,\"nodePort\":29999}", &r),
		422);
	assert_string_equal(jstr(r.body, "message"),
			    "Service \"es\" is invalid: spec.ports[0].nodePort: Invalid value: "
			    "29999: provided port is not in the valid range. The range of valid "
			    "ports is 30000-32767");
	http_resp_free(&r);
	assert_int_equal(
		apply_node_port_service("np-b", "es",
					"{\"name\":\"http\",\"port\":9200,\"nodePort\":30001}", &r),
		201);
	assert_int_equal(jint(r.body, "spec.ports.0.nodePort"), 30001);
	http_resp_free(&r);

	/* The same ports in the other order, without their nodePorts. */
	assert_int_equal(apply_node_port_service("np-a", "es",
						 "{\"name\":\"transport\",\"port\":9300},"
						 "{\"name\":\"http\",\"port\":9200}",
						 &r),
			 200);
	assert_string_equal(jstr(r.body, "spec.ports.0.name"), "transport");
	assert_int_equal(jint(r.body, "spec.ports.0.nodePort"), transport);
	assert_int_equal(jint(r.body, "spec.ports.1.nodePort"), http);
	assert_string_equal(jstr(r.body, "spec.clusterIP"), cluster_ip);
	http_resp_free(&r);
	/* Apply merges the ports by port and protocol: one renamed is the
	 * same item, whose nodePort no manager owns, so it stays. */
	assert_int_equal(apply_node_port_service("np-a", "es",
						 "{\"name\":\"transport\",\"port\":9300},"
						 "{\"name\":\"rest\",\"port\":9200}",
						 &r),
			 200);
	assert_int_equal(jint(r.body, "spec.ports.0.nodePort"), transport);
	assert_string_equal(jstr(r.body, "spec.ports.1.name"), "rest");
	assert_int_equal(jint(r.body, "spec.ports.1.nodePort"), http);
	http_resp_free(&r);
	/* Another port number and name is a new port: it gets a new nodePort. */
	assert_int_equal(apply_node_port_service("np-a", "es",
						 "{\"name\":\"transport\",\"port\":9300},"
						 "{\"name\":\"other\",\"port\":9201}",
						 &r),
			 200);
	assert_int_equal(json_array_size(jget(r.body, "spec.ports")), 2);
	assert_int_equal(jint(r.body, "spec.ports.0.nodePort"), transport);
	assert_int_equal(jint(r.body, "spec.ports.1.port"), 9201);
	assert_true(jint(r.body, "spec.ports.1.nodePort") != http);
	http_resp_free(&r);
}

static bool scheduled(struct http_resp *r, const void *arg)
{
	return r->status == 200 && jstr(r->body, "spec.nodeName");
}

/* The scheduler takes the best-scored node, and among nodes that score
 * the same one at random (pkg/scheduler/schedule_one.go, selectHost). */
static void test_scheduler_picks_at_random_among_the_best_nodes(void **state)
{
	struct sim own;
	struct http_resp r;
	start_own_sim(&own, "pick",
		      "tick_ms: 10\nnodes: {count: 3, hostname_prefix: w, cpu: \"8\", memory: "
		      "16Gi}\npods: {ready_delay_ms: 10}\nimages: {pull_ms: 0}\n");
	/* w-2 is busy: half its cpu is asked for. */
	assert_int_equal(own_call(&own, "POST", "/api/v1/namespaces/default/pods",
				  "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":"
				  "\"busy\"},\"spec\":{\"nodeName\":\"w-2\",\"containers\":[{"
				  "\"name\":\"c\",\"image\":\"busybox\",\"resources\":{"
				  "\"requests\":{\"cpu\":\"4\",\"memory\":\"1Gi\"}}}]}}",
				  &r),
			 201);
	http_resp_free(&r);
	int seen[3] = {0, 0, 0};
	for (int i = 0; i < 24; i++) {
		assert_int_equal(own_call(&own, "POST", "/api/v1/namespaces/default/pods",
					  "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{"
					  "\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":"
					  "\"c\",\"image\":\"busybox\"}]}}",
					  &r),
				 201);
		http_resp_free(&r);
		int64_t end = harness_now_ms() + 5000;
		for (;;) {
			own_call(&own, "GET", "/api/v1/namespaces/default/pods/p", NULL, &r);
			if (scheduled(&r, NULL) || harness_now_ms() > end)
				break;
			http_resp_free(&r);
			msleep(10);
		}
		assert_true(scheduled(&r, NULL));
		const char *node = jstr(r.body, "spec.nodeName");
		assert_true(!strcmp(node, "w-0") || !strcmp(node, "w-1") || !strcmp(node, "w-2"));
		seen[node[2] - '0']++;
		http_resp_free(&r);
		assert_int_equal(own_call(&own, "DELETE",
					  "/api/v1/namespaces/default/pods/p?gracePeriodSeconds=0",
					  NULL, &r),
				 200);
		http_resp_free(&r);
		assert_int_equal(
			own_call(&own, "GET", "/api/v1/namespaces/default/pods/p", NULL, &r), 404);
		http_resp_free(&r);
	}
	/* Both idle nodes were chosen (one of them every time has odds of
	 * 2 in 2^24), the busy one never. */
	assert_true(seen[0] > 0);
	assert_true(seen[1] > 0);
	assert_int_equal(seen[2], 0);
	assert_int_equal(sim_stop(&own), 0);
}

static bool pod_gone_or_pending(struct http_resp *r, const void *arg)
{
	return r->status == 404 || (r->status == 200 && jstr(r->body, "status.podIP"));
}

/* A pod bound by nodeName to a node that does not exist never runs; the
 * pod garbage collector deletes it once the node has stayed missing for
 * its quarantine (pkg/controller/podgc/gc_controller.go, gcOrphaned).
 * Bound to a node that exists, it runs there. */
/* Running, or already done: a pod that was started on its node. */
static bool pod_ran(struct http_resp *r, const void *arg)
{
	const char *phase = r->status == 200 ? jstr(r->body, "status.phase") : NULL;
	(void)arg;
	return phase && (!strcmp(phase, "Running") || !strcmp(phase, "Succeeded"));
}

static void test_pod_pinned_to_a_missing_node_never_runs_and_is_collected(void **state)
{
	struct http_resp r;
	make_namespace("pinned");
	int64_t created = harness_now_ms();
	assert_int_equal(call("POST", "/api/v1/namespaces/pinned/pods",
			      "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":"
			      "\"lost\"},\"spec\":{\"nodeName\":\"worker-9\",\"restartPolicy\":"
			      "\"Never\",\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}",
			      &r),
			 201);
	http_resp_free(&r);
	assert_int_equal(call("POST", "/api/v1/namespaces/pinned/pods",
			      "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":"
			      "\"here\"},\"spec\":{\"nodeName\":\"worker-2\",\"restartPolicy\":"
			      "\"Never\",\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}",
			      &r),
			 201);
	http_resp_free(&r);
	/* A one-shot pod: it runs there, and may be done by the time it is seen. */
	assert_true(wait_until("/api/v1/namespaces/pinned/pods/here", pod_ran, NULL, 30000, &r));
	assert_string_equal(jstr(r.body, "spec.nodeName"), "worker-2");
	http_resp_free(&r);
	/* The lost pod is never given an address: it is Pending until it goes. */
	assert_true(wait_until("/api/v1/namespaces/pinned/pods/lost", pod_gone_or_pending, NULL,
			       30000, &r));
	assert_int_equal(r.status, 404);
	http_resp_free(&r);
	/* Not before the quarantine (1.5 s in this simulator's configuration). */
	assert_true(harness_now_ms() - created >= 1500);
	json_t *rec = sim_record(&sim);
	assert_non_null(rec);
	char *text = json_dumps(rec, 0);
	assert_non_null(strstr(text, "pod-garbage-collector"));
	free(text);
	json_decref(rec);
}

static long apply_policy(const char *ns, const char *name, const char *spec, struct http_resp *r)
{
	char path[256], body[2048];
	snprintf(path, sizeof(path), "/apis/networking.k8s.io/v1/namespaces/%s/networkpolicies/%s",
		 ns, name);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\","
		 "\"metadata\":{\"name\":\"%s\"},\"spec\":%s}",
		 name, spec);
	return apply(path, body, r);
}

/* What a connection from pod (namespace/name) to a Service port comes to
 * (POST /_sim/connect): the answer's body, which the caller frees. */
static json_t *connect_from(const char *ns, const char *pod, const char *to_ns, const char *svc,
			    int port)
{
	struct http_resp r;
	char body[512];
	snprintf(body, sizeof(body),
		 "{\"from\":{\"namespace\":\"%s\",\"pod\":\"%s\"},\"to\":{\"namespace\":"
		 "\"%s\",\"service\":\"%s\",\"port\":%d}}",
		 ns, pod, to_ns, svc, port);
	assert_int_equal(call("POST", "/_sim/connect", body, &r), 200);
	json_t *answer = json_incref(r.body);
	http_resp_free(&r);
	return answer;
}

static bool connects(const char *ns, const char *pod, const char *to_ns, const char *svc, int port,
		     const char *error)
{
	json_t *a = connect_from(ns, pod, to_ns, svc, port);
	bool ok = json_is_true(json_object_get(a, "connected"));
	if (error) {
		const char *e = json_string_value(json_object_get(a, "error"));
		if (!e || !strstr(e, error))
			fail_msg("connection error \"%s\", want \"%s\"", e ? e : "(none)", error);
	}
	json_decref(a);
	return ok;
}

/* A pod's own connections to another namespace's Service are decided by
 * the target pods' ingress NetworkPolicies, from the pod's address,
 * namespace and labels: what keeps one tenant's pods from another's
 * Elasticsearch. */
static void test_pod_connections_follow_network_policy(void **state)
{
	struct http_resp r;
	make_cluster("pca", 1, "7.17.10");
	make_cluster("pcb", 1, "7.17.10");
	es_wait_green("pca", 2);
	es_wait_green("pcb", 2);
	/* A Service with a cluster IP, as es-http. */
	assert_int_equal(apply("/api/v1/namespaces/pcb/services/http",
			       "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
			       "\"http\"},\"spec\":{\"selector\":{\"app\":\"es\"},\"ports\":[{"
			       "\"name\":\"http\",\"port\":9200}]}}",
			       &r),
			 201);
	http_resp_free(&r);
	/* No policy: every pod reaches every Service. */
	assert_true(connects("pca", "es-master-0", "pcb", "es-pcb", 9200, NULL));
	assert_true(connects("pca", "es-master-0", "pcb", "http", 9200, NULL));
	/* No such Service, no such Service port: refused at once. */
	assert_false(connects("pca", "es-master-0", "pcb", "es-nope", 9200, "no such host"));
	assert_false(connects("pca", "es-master-0", "pcb", "http", 9300, "connection refused"));
	/* Default-deny in pcb: dropped, from either namespace. */
	assert_int_equal(apply_policy("pcb", "deny",
				      "{\"podSelector\":{},\"policyTypes\":[\"Ingress\"]}", &r),
			 201);
	http_resp_free(&r);
	assert_false(connects("pca", "es-master-0", "pcb", "http", 9200, ":9200: i/o timeout"));
	assert_false(connects("pca", "es-master-0", "pcb", "es-pcb", 9200, "i/o timeout"));
	assert_false(connects("pcb", "es-data-0", "pcb", "http", 9200, "i/o timeout"));
	/* The namespace's own pods admitted; pca's still dropped. */
	assert_int_equal(
		apply_policy("pcb", "own",
			     "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"podSelector\":{"
			     "\"matchLabels\":{\"app\":\"es\"}}}]}]}",
			     &r),
		201);
	http_resp_free(&r);
	assert_true(connects("pcb", "es-data-0", "pcb", "http", 9200, NULL));
	assert_false(connects("pca", "es-master-0", "pcb", "http", 9200, "i/o timeout"));
	/* pca admitted by name, on 9200 only. */
	assert_int_equal(apply_policy("pcb", "from-pca",
				      "{\"podSelector\":{},\"ingress\":[{\"from\":[{"
				      "\"namespaceSelector\":{\"matchLabels\":{\"kubernetes.io/"
				      "metadata.name\":\"pca\"}}}],\"ports\":[{\"port\":9200}]}]}",
				      &r),
			 201);
	http_resp_free(&r);
	assert_true(connects("pca", "es-master-0", "pcb", "http", 9200, NULL));
	assert_false(connects("pca", "es-master-0", "pcb", "es-pcb", 9300, "i/o timeout"));
	/* A source that is no pod of the simulator: 400. */
	assert_int_equal(call("POST", "/_sim/connect",
			      "{\"from\":{\"namespace\":\"pca\",\"pod\":\"nope\"},\"to\":{"
			      "\"namespace\":\"pcb\",\"service\":\"es-pcb\",\"port\":9200}}",
			      &r),
			 400);
	http_resp_free(&r);
}

/* The service proxy dials the pod from the control plane's address
 * (network.control_plane_ip, 172.18.0.2 by default): an ingress
 * NetworkPolicy that selects the pod and admits no such source drops the
 * dial, which ends in the dialer's timeout (300 ms in this simulator's
 * configuration). */
static void test_network_policy_decides_what_the_proxy_reaches(void **state)
{
	struct http_resp r;
	make_cluster("fw", 1, "7.17.10");
	es_wait_green("fw", 2);
	/* Every Elasticsearch pod isolated, nothing admitted. */
	assert_int_equal(
		apply_policy("fw", "deny",
			     "{\"podSelector\":{\"matchLabels\":{\"app\":\"es\"}},\"policyTypes\":"
			     "[\"Ingress\"]}",
			     &r),
		201);
	http_resp_free(&r);
	/* Whichever pod the proxy picked, its dial is dropped. */
	assert_int_equal(call("GET", es_path("fw", "/"), NULL, &r), 503);
	assert_non_null(
		strstr(jstr(r.body, "message"), "error trying to reach service: dial tcp "));
	assert_non_null(strstr(jstr(r.body, "message"), ":9200: i/o timeout"));
	http_resp_free(&r);
	/* Pods of the namespace and of labelled namespaces: not the control
	 * plane, which is no pod. */
	assert_int_equal(
		apply_policy("fw", "pods",
			     "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"podSelector\":{}},"
			     "{\"namespaceSelector\":{}}]}]}",
			     &r),
		201);
	http_resp_free(&r);
	assert_int_equal(call("GET", es_path("fw", "/"), NULL, &r), 503);
	http_resp_free(&r);
	/* The control plane's network, but its own /24 excepted. */
	assert_int_equal(apply_policy("fw", "cp",
				      "{\"podSelector\":{\"matchLabels\":{\"app\":\"es\"}},"
				      "\"ingress\":[{\"from\":[{\"ipBlock\":{\"cidr\":\"172.18.0.0/"
				      "16\",\"except\":[\"172.18.0.0/24\"]}}],\"ports\":[{\"port\":"
				      "9200}]}]}",
				      &r),
			 201);
	http_resp_free(&r);
	assert_int_equal(call("GET", es_path("fw", "/"), NULL, &r), 503);
	http_resp_free(&r);
	/* Another /24 excepted: admitted, policies add up. */
	assert_int_equal(apply_policy("fw", "cp",
				      "{\"podSelector\":{\"matchLabels\":{\"app\":\"es\"}},"
				      "\"ingress\":[{\"from\":[{\"ipBlock\":{\"cidr\":\"172.18.0.0/"
				      "16\",\"except\":[\"172.18.1.0/24\"]}}],\"ports\":[{\"port\":"
				      "9200}]}]}",
				      &r),
			 200);
	http_resp_free(&r);
	assert_int_equal(call("GET", es_path("fw", "/"), NULL, &r), 200);
	http_resp_free(&r);
	/* The right source on another port range, or on a named port the pod
	 * does not have: dropped. */
	assert_int_equal(apply_policy("fw", "cp",
				      "{\"podSelector\":{\"matchLabels\":{\"app\":\"es\"}},"
				      "\"ingress\":[{\"from\":[{\"ipBlock\":{\"cidr\":\"172.18.0.0/"
				      "16\"}}],\"ports\":[{\"port\":9300,\"endPort\":9400},{"
				      "\"port\":\"http\"}]}]}",
				      &r),
			 200);
	http_resp_free(&r);
	assert_int_equal(call("GET", es_path("fw", "/"), NULL, &r), 503);
	http_resp_free(&r);
	assert_int_equal(apply_policy("fw", "cp",
				      "{\"podSelector\":{\"matchLabels\":{\"app\":\"es\"}},"
				      "\"ingress\":[{\"from\":[{\"ipBlock\":{\"cidr\":\"172.18.0.0/"
				      "16\"}}],\"ports\":[{\"port\":9100,\"endPort\":9300}]}]}",
				      &r),
			 200);
	http_resp_free(&r);
	assert_int_equal(call("GET", es_path("fw", "/"), NULL, &r), 200);
	http_resp_free(&r);
	/* Egress-only policies isolate nothing for ingress. */
	const char *names[] = {"deny", "pods", "cp"};
	for (size_t i = 0; i < 3; i++) {
		char path[256];
		snprintf(path, sizeof(path),
			 "/apis/networking.k8s.io/v1/namespaces/fw/networkpolicies/%s", names[i]);
		assert_int_equal(call("DELETE", path, NULL, &r), 200);
		http_resp_free(&r);
	}
	assert_int_equal(
		apply_policy("fw", "out", "{\"podSelector\":{},\"policyTypes\":[\"Egress\"]}", &r),
		201);
	http_resp_free(&r);
	assert_int_equal(call("GET", es_path("fw", "/"), NULL, &r), 200);
	http_resp_free(&r);

	/* What the API server refuses, naming the field. */
	assert_int_equal(
		apply_policy("fw", "bad",
			     "{\"podSelector\":{},\"policyTypes\":[\"Sideways\"],"
			     "\"ingress\":[{\"from\":[{\"ipBlock\":{\"cidr\":\"10.0.0.0/8\"},"
			     "\"podSelector\":{}},{}]}]}",
			     &r),
		422);
	assert_string_equal(
		jstr(r.body, "message"),
		"NetworkPolicy.networking.k8s.io \"bad\" is invalid: [spec.policyTypes[0]: "
		"Unsupported value: \"Sideways\": supported values: \"Egress\", \"Ingress\", "
		"spec.ingress[0].from[0]: Forbidden: may not specify both ipBlock and another "
		"peer, "
		"spec.ingress[0].from[1]: Required value: must specify a peer]");
	http_resp_free(&r);
	assert_int_equal(
		apply_policy("fw", "bad",
			     "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"ipBlock\":{"
			     "\"cidr\":\"10.0.0.0/8\",\"except\":[\"192.168.0.0/16\"]}}]}]}",
			     &r),
		422);
	assert_string_equal(jstr(r.body, "details.causes.0.field"),
			    "spec.ingress[0].from[0].ipBlock.except[0]");
	http_resp_free(&r);
}

/* At the real dialer's timeout: Go's default net.Dialer gives up after
 * 30 s (cmd/kube-apiserver/app/server.go, CreateProxyTransport, with
 * utilnet.SetTransportDefaults). */
static void test_service_proxy_dial_times_out_after_30s_when_dropped(void **state)
{
	struct sim own;
	struct http_resp r;
	start_own_sim(&own, "dial",
		      "tick_ms: 20\npods: {ready_delay_ms: 20}\nimages: {pull_ms: 0}\n");
	assert_int_equal(own_call(&own, "POST", "/api/v1/namespaces/default/pods",
				  "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":"
				  "\"web\",\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":"
				  "[{\"name\":\"c\",\"image\":\"nginx\",\"ports\":[{\"name\":"
				  "\"web\",\"containerPort\":8080}]}]}}",
				  &r),
			 201);
	http_resp_free(&r);
	assert_int_equal(own_call(&own, "POST", "/api/v1/namespaces/default/services",
				  "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{"
				  "\"name\":\"web\"},\"spec\":{\"publishNotReadyAddresses\":true,"
				  "\"selector\":{\"app\":\"web\"},\"ports\":[{\"port\":80,"
				  "\"targetPort\":\"web\"}]}}",
				  &r),
			 201);
	http_resp_free(&r);
	assert_int_equal(own_call(&own, "POST",
				  "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies",
				  "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":"
				  "\"NetworkPolicy\",\"metadata\":{\"name\":\"deny\"},\"spec\":{"
				  "\"podSelector\":{}}}",
				  &r),
			 201);
	http_resp_free(&r);
	char ip[64] = "";
	int64_t end = harness_now_ms() + 5000;
	while (!ip[0] && harness_now_ms() < end) {
		own_call(&own, "GET", "/api/v1/namespaces/default/pods/web", NULL, &r);
		if (jstr(r.body, "status.podIP"))
			snprintf(ip, sizeof(ip), "%s", jstr(r.body, "status.podIP"));
		http_resp_free(&r);
		msleep(20);
	}
	assert_true(ip[0]);
	char auth[300];
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", own.token);
	const char *h[] = {auth, NULL};
	int64_t t0 = harness_now_ms();
	assert_true(http_request(own.server, "GET",
				 "/api/v1/namespaces/default/services/web:80/proxy/", NULL, h,
				 45000, &r));
	int64_t took = harness_now_ms() - t0;
	assert_int_equal(r.status, 503);
	char want[256];
	/* The dial goes to the named target port. */
	snprintf(want, sizeof(want), "error trying to reach service: dial tcp %s:8080: i/o timeout",
		 ip);
	assert_string_equal(jstr(r.body, "message"), want);
	http_resp_free(&r);
	assert_true(took >= 30000 && took < 32000);
	assert_int_equal(sim_stop(&own), 0);
}

/* Endpoints follow readiness a moment late: just after a pod turns Ready
 * the proxy still has none; a not-ready pod published anyway
 * (publishNotReadyAddresses) refuses the connection. */
static json_t *watch_lines(const char *text);

static void test_service_proxy_waits_for_endpoints(void **state)
{
	struct http_resp r;
	make_cluster("lag", 1, "7.17.10");
	assert_true(wait_until("/api/v1/namespaces/lag/pods", first_pod_ready, NULL, 30000, &r));
	http_resp_free(&r);
	assert_int_equal(call("GET", es_path("lag", "/"), NULL, &r), 503);
	assert_string_equal(jstr(r.body, "message"),
			    "no endpoints available for service \"es-lag\"");
	http_resp_free(&r);
	/* The proxy's own answer is in the record, for the tests that count
	 * requests made before a Service had an endpoint. */
	assert_int_equal(call("GET", "/_sim/state", NULL, &r), 200);
	json_t *errs = json_object_get(r.body, "proxy_errors");
	json_t *last = json_array_get(errs, json_array_size(errs) - 1);
	assert_non_null(last);
	assert_int_equal(jint(last, "status"), 503);
	assert_non_null(strstr(jstr(last, "path"), "/services/es-lag:9200/proxy"));
	assert_string_equal(jstr(last, "message"), "no endpoints available for service \"es-lag\"");
	http_resp_free(&r);
	assert_true(wait_until(es_path("lag", "/"), ok_200, NULL, 30000, &r));
	http_resp_free(&r);
	/* What esaasd's watch of the namespace's EndpointSlices reads: the
	 * Service's slice, by its label, with the pod as a ready endpoint,
	 * listed as ADDED by a watch without a resourceVersion. */
	assert_true(request("GET",
			    "/apis/discovery.k8s.io/v1/namespaces/lag/endpointslices?watch=1"
			    "&timeoutSeconds=1",
			    NULL, NULL, true, 10000, &r));
	assert_int_equal(r.status, 200);
	json_t *lines = watch_lines(r.raw);
	bool ready = false;
	size_t i;
	json_t *ev;
	json_array_foreach (lines, i, ev) {
		json_t *slice = json_object_get(ev, "object");
		const char *svc = json_string_value(json_object_get(jget(slice, "metadata.labels"),
								    "kubernetes.io/service-name"));
		size_t k;
		json_t *endpoint;
		if (!strcmp(jstr(ev, "type"), "ADDED") && svc && !strcmp(svc, "es-lag"))
			json_array_foreach (json_object_get(slice, "endpoints"), k, endpoint)
				if (json_is_true(jget(endpoint, "conditions.ready")))
					ready = true;
	}
	if (!ready)
		fail_msg("no ADDED EndpointSlice of es-lag with a ready endpoint: %s", r.raw);
	json_decref(lines);
	http_resp_free(&r);

	/* Kibana without its Elasticsearch runs, its port refused. */
	make_namespace("refused");
	assert_int_equal(apply("/apis/apps/v1/namespaces/refused/statefulsets/kb",
			       workload("kb", 1, "kb", "kibana", NULL, "7.17.10"), &r),
			 201);
	http_resp_free(&r);
	assert_int_equal(
		apply("/api/v1/namespaces/refused/services/kb",
		      "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
		      "\"kb\"},\"spec\":{\"clusterIP\":\"None\",\"publishNotReadyAddresses\":"
		      "true,\"selector\":{\"app\":\"kb\"},\"ports\":[{\"name\":\"http\","
		      "\"port\":9200}]}}",
		      &r),
		201);
	http_resp_free(&r);
	assert_true(
		wait_until("/api/v1/namespaces/refused/pods/kb-0", pod_running, NULL, 30000, &r));
	char want[256];
	snprintf(want, sizeof(want),
		 "error trying to reach service: dial tcp %s:9200: connect: connection refused",
		 jstr(r.body, "status.podIP"));
	http_resp_free(&r);
	assert_int_equal(
		call("GET", "/api/v1/namespaces/refused/services/kb:9200/proxy/", NULL, &r), 503);
	assert_string_equal(jstr(r.body, "reason"), "ServiceUnavailable");
	assert_string_equal(jstr(r.body, "message"), want);
	http_resp_free(&r);
}

/* An Elasticsearch pod with a tcpSocket readiness probe on its HTTP port:
 * probe is the rest of the probe object (timings). */
static const char PROBED_POD[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\",\"labels\":"
	"{\"app\":\"es\"}},\"spec\":{\"containers\":[{\"name\":\"es\",\"image\":"
	"\"docker.elastic.co/elasticsearch/elasticsearch:7.17.10\",\"ports\":[{\"name\":"
	"\"http\",\"containerPort\":9200}],\"readinessProbe\":{\"tcpSocket\":{\"port\":"
	"\"http\"}%s}}]}}";

static int64_t ts_seconds(const char *ts)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	assert_non_null(ts);
	assert_int_equal(sscanf(ts, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
				&tm.tm_hour, &tm.tm_min, &tm.tm_sec),
			 6);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

/* Seconds from a Ready pod's start to its Ready transition. */
static int64_t seconds_to_ready(json_t *pod)
{
	size_t i;
	json_t *c;

	json_array_foreach (jget(pod, "status.conditions"), i, c) {
		if (!strcmp(jstr(c, "type"), "Ready")) {
			assert_string_equal(jstr(c, "status"), "True");
			return ts_seconds(jstr(c, "lastTransitionTime")) -
			       ts_seconds(jstr(pod, "status.startTime"));
		}
	}
	fail_msg("no Ready condition");
	return -1;
}

static bool pod_ready(struct http_resp *r, const void *arg)
{
	size_t i;
	json_t *c;

	json_array_foreach (jget(r->body, "status.conditions"), i, c) {
		if (r->status == 200 && !strcmp(jstr(c, "type"), "Ready") &&
		    !strcmp(jstr(c, "status"), "True"))
			return true;
	}
	return false;
}

static bool node_listed(struct http_resp *r, const void *arg)
{
	return r->status == 200 && r->raw && strstr(r->raw, arg);
}

static bool message_is(struct http_resp *r, const void *arg)
{
	return r->body && jstr(r->body, "message") && !strcmp(jstr(r->body, "message"), arg);
}

/* The kubelet probes as the pod says: nothing before initialDelaySeconds,
 * then every periodSeconds; the node has joined the cluster (it runs)
 * before its probe makes it Ready. */
static void test_readiness_follows_the_probe(void **state)
{
	struct http_resp r;
	char body[1024];

	make_cluster("probe", 1, "7.17.10");
	es_wait_green("probe", 2);
	snprintf(body, sizeof(body), PROBED_POD, "late",
		 ",\"initialDelaySeconds\":3,\"periodSeconds\":1");
	assert_int_equal(call("POST", "/api/v1/namespaces/probe/pods", body, &r), 201);
	http_resp_free(&r);
	assert_true(wait_until(es_path("probe", "/_cat/nodes?h=name"), node_listed, "late-probe",
			       30000, &r));
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/probe/pods/late", NULL, &r), 200);
	assert_false(pod_ready(&r, NULL));
	http_resp_free(&r);
	assert_true(wait_until("/api/v1/namespaces/probe/pods/late", pod_ready, NULL, 30000, &r));
	int64_t s = seconds_to_ready(r.body);
	assert_true(s >= 2 && s <= 5);
	http_resp_free(&r);
}

/* A node that finds no master opens HTTP after discovery.initial_state_timeout,
 * 30 s by default: its TCP probe passes then, and it answers what needs a
 * master with master_not_discovered_exception. */
static void test_es_http_opens_after_initial_state_timeout(void **state)
{
	struct sim own;
	struct http_resp r;
	char body[1024];
	int64_t end;

	start_own_sim(&own, "alone",
		      "tick_ms: 20\npods: {ready_delay_ms: 20}\nimages: {pull_ms: 0}\n");
	assert_int_equal(own_call(&own, "POST", "/api/v1/namespaces",
				  "{\"metadata\":{\"name\":\"alone\"}}", &r),
			 201);
	http_resp_free(&r);
	snprintf(body, sizeof(body), SERVICE, "alone");
	assert_int_equal(own_call(&own, "POST", "/api/v1/namespaces/alone/services", body, &r),
			 201);
	http_resp_free(&r);
	/* No cluster.initial_master_nodes: a new zen2 cluster never forms. */
	snprintf(body, sizeof(body), PROBED_POD, "lone", ",\"periodSeconds\":1");
	assert_int_equal(own_call(&own, "POST", "/api/v1/namespaces/alone/pods", body, &r), 201);
	http_resp_free(&r);
	end = harness_now_ms() + 45000;
	for (;;) {
		own_call(&own, "GET", "/api/v1/namespaces/alone/pods/lone", NULL, &r);
		if (pod_ready(&r, NULL) || harness_now_ms() > end)
			break;
		http_resp_free(&r);
		msleep(100);
	}
	assert_true(pod_ready(&r, NULL));
	int64_t s = seconds_to_ready(r.body);
	assert_true(s >= 29 && s <= 32);
	http_resp_free(&r);
	end = harness_now_ms() + 5000;
	while (own_call(&own, "GET", "/api/v1/namespaces/alone/services/es-alone:9200/proxy/", NULL,
			&r) != 200 &&
	       harness_now_ms() < end) {
		http_resp_free(&r);
		msleep(100);
	}
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.body, "cluster_uuid"), "_na_");
	http_resp_free(&r);
	assert_int_equal(own_call(&own, "GET",
				  "/api/v1/namespaces/alone/services/es-alone:9200/proxy/"
				  "_cluster/health?timeout=1s",
				  NULL, &r),
			 503);
	assert_string_equal(jstr(r.body, "error.type"), "master_not_discovered_exception");
	http_resp_free(&r);
	assert_int_equal(sim_stop(&own), 0);
}

/* A pod that starts terminating stays an endpoint for as long as a new
 * one takes to become one: meanwhile the proxy dials it, and its stopped
 * Elasticsearch refuses. */
static void test_terminating_pod_leaves_the_endpoints_late(void **state)
{
	struct http_resp r;
	char path[256], body[1024], want[256];

	make_namespace("leave");
	bootstrap_config("leave", "es-master-0-leave");
	snprintf(body, sizeof(body), SERVICE, "leave");
	assert_int_equal(apply("/api/v1/namespaces/leave/services/es-leave", body, &r), 201);
	http_resp_free(&r);
	snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/leave/statefulsets/es-master");
	assert_int_equal(apply(path, workload("es-master", 1, "es", "master", NULL, "7.17.10"), &r),
			 201);
	http_resp_free(&r);
	assert_true(wait_until(es_path("leave", "/"), ok_200, NULL, 30000, &r));
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/leave/pods/es-master-0", NULL, &r), 200);
	snprintf(want, sizeof(want),
		 "error trying to reach service: dial tcp %s:9200: connect: connection refused",
		 jstr(r.body, "status.podIP"));
	http_resp_free(&r);
	assert_int_equal(call("DELETE", "/api/v1/namespaces/leave/pods/es-master-0", NULL, &r),
			 200);
	http_resp_free(&r);
	assert_int_equal(call("GET", es_path("leave", "/"), NULL, &r), 503);
	assert_string_equal(jstr(r.body, "message"), want);
	http_resp_free(&r);
	assert_true(wait_until(es_path("leave", "/"), message_is,
			       "no endpoints available for service \"es-leave\"", 30000, &r));
	http_resp_free(&r);
}

/*
 * The health long-poll as Elasticsearch answers it (RestClusterHealthAction):
 * at once when every wait_for_* holds, else at the timeout with 408 and
 * "timed_out": true over the health as it is then.
 */
static void test_es_health_long_poll_answers_at_its_timeout_with_408(void **state)
{
	(void)state;
	struct http_resp r;
	make_cluster("eslp", 1, "7.17.10");
	es_wait_green("eslp", 2);
	assert_int_equal(call("GET",
			      es_path("eslp", "/_cluster/health?wait_for_status=green"
					      "&wait_for_no_relocating_shards=true"
					      "&wait_for_no_initializing_shards=true&timeout=1s"),
			      NULL, &r),
			 200);
	assert_false(json_is_true(json_object_get(r.body, "timed_out")));
	http_resp_free(&r);
	assert_int_equal(call("GET",
			      es_path("eslp", "/_cluster/health?wait_for_nodes=%3E%3D5&timeout=1s"),
			      NULL, &r),
			 408);
	assert_true(json_is_true(json_object_get(r.body, "timed_out")));
	assert_string_equal(jstr(r.body, "status"), "green");
	assert_int_equal(jint(r.body, "number_of_nodes"), 2);
	http_resp_free(&r);
}

static void test_es_health_through_proxy(void **state)
{
	struct http_resp r;
	make_cluster("esg", 3, "7.17.10");
	/* No ready endpoint yet: the proxy answers 503 like the real one. */
	assert_int_equal(call("GET", es_path("esg", "/"), NULL, &r), 503);
	assert_string_equal(jstr(r.body, "kind"), "Status");
	http_resp_free(&r);
	es_wait_green("esg", 4);
	assert_int_equal(call("GET", es_path("esg", "/"), NULL, &r), 200);
	assert_string_equal(jstr(r.body, "version.number"), "7.17.10");
	assert_string_equal(jstr(r.body, "cluster_name"), "elasticsearch-esg");
	assert_string_not_equal(jstr(r.body, "cluster_uuid"), "_na_");
	assert_string_equal(jstr(r.body, "tagline"), "You Know, for Search");
	http_resp_free(&r);
	assert_int_equal(call("PUT", es_path("esg", "/logs"),
			      "{\"settings\":{\"number_of_shards\":3,\"number_of_replicas\":1}}",
			      &r),
			 200);
	assert_true(json_is_true(json_object_get(r.body, "acknowledged")));
	http_resp_free(&r);
	assert_int_equal(call("PUT", es_path("esg", "/logs"), "{}", &r), 400);
	assert_string_equal(jstr(r.body, "error.type"), "resource_already_exists_exception");
	http_resp_free(&r);
	es_wait_green("esg", 4);
	assert_int_equal(
		call("GET",
		     es_path("esg", "/_cat/shards?format=json&h=index,shard,prirep,state,node"),
		     NULL, &r),
		200);
	assert_int_equal(json_array_size(r.body), 6);
	assert_string_equal(jstr(r.body, "0.state"), "STARTED");
	http_resp_free(&r);
	assert_int_equal(call("GET",
			      es_path("esg", "/_cat/nodes?format=json&h=name,node.role,master"),
			      NULL, &r),
			 200);
	assert_int_equal(json_array_size(r.body), 4);
	http_resp_free(&r);
	/* A health wait that cannot be met answers 408 with timed_out. */
	assert_int_equal(call("GET",
			      es_path("esg", "/_cluster/health?wait_for_nodes=9&timeout=200ms"),
			      NULL, &r),
			 408);
	assert_true(json_is_true(json_object_get(r.body, "timed_out")));
	http_resp_free(&r);
	/* Synced flush on 7.17: works, with the deprecation warning. */
	assert_int_equal(call("POST", es_path("esg", "/_flush/synced"), NULL, &r), 200);
	assert_non_null(strstr(r.headers, "Synced flush is deprecated"));
	http_resp_free(&r);
	/* Settings: persistent, flat and nested, null resets. */
	assert_int_equal(
		call("PUT", es_path("esg", "/_cluster/settings"),
		     "{\"persistent\":{\"cluster.routing.allocation.enable\":\"primaries\"}}", &r),
		200);
	assert_string_equal(jstr(r.body, "persistent.cluster.routing.allocation.enable"),
			    "primaries");
	http_resp_free(&r);
	assert_int_equal(call("PUT", es_path("esg", "/_cluster/settings"),
			      "{\"persistent\":{\"cluster.routing.allocation.enable\":null}}", &r),
			 200);
	http_resp_free(&r);
	assert_int_equal(
		call("GET", es_path("esg", "/_cluster/settings?flat_settings=true"), NULL, &r),
		200);
	assert_int_equal(json_object_size(json_object_get(r.body, "persistent")), 0);
	http_resp_free(&r);
	assert_int_equal(call("PUT", es_path("esg", "/_cluster/settings"),
			      "{\"persistent\":{\"indices.query.bool.max_clause_count\":\"4096\"}}",
			      &r),
			 400);
	assert_non_null(strstr(jstr(r.body, "error.reason"), "not dynamically updateable"));
	http_resp_free(&r);
}

static bool nothing_on(struct http_resp *r, const void *arg)
{
	size_t i;
	json_t *row;
	if (r->status != 200)
		return false;
	json_array_foreach (r->body, i, row) {
		const char *node = jstr(row, "node");
		if (!node || strstr(node, (const char *)arg) ||
		    strcmp(jstr(row, "state"), "STARTED"))
			return false;
	}
	return true;
}

static void test_es_exclusion_relocates(void **state)
{
	struct http_resp r;
	make_cluster("esx", 3, "7.17.10");
	es_wait_green("esx", 4);
	assert_int_equal(
		call("PUT", es_path("esx", "/data"),
		     "{\"settings\":{\"index\":{\"number_of_shards\":4,\"number_of_replicas\":0}}}",
		     &r),
		200);
	http_resp_free(&r);
	es_wait_green("esx", 4);
	/* Four shards on three nodes: the excluded one holds some. */
	assert_int_equal(call("GET", es_path("esx", "/_cat/shards?format=json"), NULL, &r), 200);
	bool held = false;
	size_t i;
	json_t *row;
	json_array_foreach (r.body, i, row) {
		if (jstr(row, "node") && strstr(jstr(row, "node"), "es-data-2-esx"))
			held = true;
	}
	http_resp_free(&r);
	assert_true(held);
	int64_t began = harness_now_ms();
	assert_int_equal(call("PUT", es_path("esx", "/_cluster/settings"),
			      "{\"persistent\":{\"cluster\":{\"routing\":{\"allocation\":{"
			      "\"exclude\":{\"_name\":\"es-data-2-esx\"}}}}}}",
			      &r),
			 200);
	http_resp_free(&r);
	assert_true(wait_until(
		es_path("esx", "/_cat/shards?format=json&h=index,shard,prirep,state,node"),
		nothing_on, "es-data-2-esx", 30000, &r));
	http_resp_free(&r);
	/* Relocation takes time: at least elasticsearch.relocation_ms (200). */
	assert_true(harness_now_ms() - began >= 200);
	es_wait_green("esx", 4);
	/* Nothing lost. */
	assert_int_equal(call("GET", "/_sim/state", NULL, &r), 200);
	json_t *lost;
	json_array_foreach (json_object_get(r.body, "lost_shards"), i, lost)
		assert_string_not_equal(jstr(lost, "cluster"), "esx");
	http_resp_free(&r);
}

/* A shard_size that is no size stops the simulator, naming the field. */
static void test_sim_config_names_a_bad_shard_size(void **state)
{
	struct sim bad;
	char dir[300];
	snprintf(dir, sizeof(dir), "%s/badsize", tmpdir);
	mkdir(dir, 0755);
	assert_false(sim_start(&bad, dir,
			       "elasticsearch:\n  indices:\n    - {name: a}\n"
			       "    - {name: b, shard_size: lots}\n"));
	char *log = slurp(bad.log);
	assert_non_null(log);
	assert_non_null(strstr(log, "elasticsearch.indices[1].shard_size: a size such as "
				    "\"500mb\" is expected"));
	free(log);
}

/* A relocation copies the copy's files at indices.recovery.max_bytes_per_sec,
 * and a node sends and receives node_concurrent_recoveries at most: with 1,
 * the copies leaving an excluded node go one after the other, each taking
 * its size over the rate (8 MiB, relocation_ms 200 at 40mb/s, at 8mb/s:
 * 1 s). */
static void test_es_recovery_takes_size_over_rate_one_at_a_time(void **state)
{
	struct http_resp r;
	make_cluster("recov", 2, "7.17.10");
	es_wait_green("recov", 3);
	assert_int_equal(
		call("PUT", es_path("recov", "/data"),
		     "{\"settings\":{\"index\":{\"number_of_shards\":4,\"number_of_replicas\":0}}}",
		     &r),
		200);
	http_resp_free(&r);
	es_wait_green("recov", 3);
	assert_int_equal(call("PUT", es_path("recov", "/_cluster/settings"),
			      "{\"transient\":{\"indices.recovery.max_bytes_per_sec\":\"8mb\","
			      "\"cluster.routing.allocation.node_concurrent_recoveries\":1}}",
			      &r),
			 200);
	http_resp_free(&r);
	/* Two copies on each data node (the balance): exclude one. */
	int64_t start = harness_now_ms();
	assert_int_equal(call("PUT", es_path("recov", "/_cluster/settings"),
			      "{\"transient\":{\"cluster.routing.allocation.exclude._name\":"
			      "\"es-data-1-recov\"}}",
			      &r),
			 200);
	http_resp_free(&r);
	int most = 0, seen = 0;
	bool done = false;
	while (!done && harness_now_ms() - start < 15000) {
		assert_int_equal(call("GET",
				      es_path("recov", "/_cat/shards?format=json&h=index,shard,"
						       "prirep,state,node"),
				      NULL, &r),
				 200);
		int relocating = 0;
		size_t i;
		json_t *row;
		json_array_foreach (r.body, i, row) {
			if (!strcmp(jstr(row, "state"), "RELOCATING"))
				relocating++;
		}
		done = nothing_on(&r, "es-data-1-recov");
		http_resp_free(&r);
		most = relocating > most ? relocating : most;
		seen += relocating > 0;
		if (!done)
			msleep(50);
	}
	int64_t took = harness_now_ms() - start;
	assert_true(done);
	assert_true(seen > 0);
	assert_int_equal(most, 1);
	assert_true(took >= 1900);
	es_wait_green("recov", 3);
}

static bool failed_five_times(struct http_resp *r, const void *arg)
{
	return r->status == 200 &&
	       jint(r->body, "unassigned_info.failed_allocation_attempts") == 5 &&
	       jstr(r->body, "node_allocation_decisions.0.deciders.0.decider") &&
	       !strcmp(jstr(r->body, "node_allocation_decisions.0.deciders.0.decider"),
		       "max_retry");
}

/* A copy placed on a node without the plugin its analysis needs fails
 * there, is tried index.allocation.max_retries (5) times, then stays
 * unassigned, ALLOCATION_FAILED, the max_retry decider saying no;
 * _cluster/reroute?retry_failed=true tries it again. */
static void test_es_allocation_fails_five_times_without_the_plugin(void **state)
{
	struct http_resp r;
	const char *explain = "{\"index\":\"words\",\"shard\":0,\"primary\":true}";
	make_cluster("nofit", 1, "7.17.10");
	es_wait_green("nofit", 2);
	assert_int_equal(call("PUT", es_path("nofit", "/words?timeout=1s"),
			      "{\"settings\":{\"index\":{\"number_of_shards\":1,"
			      "\"number_of_replicas\":0,\"analysis\":{\"analyzer\":{\"a\":"
			      "{\"tokenizer\":\"icu_tokenizer\"}}}}}}",
			      &r),
			 200);
	http_resp_free(&r);
	int64_t end = harness_now_ms() + 10000;
	bool five = false;
	while (!five && harness_now_ms() < end) {
		assert_true(request("POST", es_path("nofit", "/_cluster/allocation/explain"), NULL,
				    explain, true, 0, &r));
		five = failed_five_times(&r, NULL);
		if (!five) {
			http_resp_free(&r);
			msleep(20);
		}
	}
	assert_true(five);
	assert_string_equal(jstr(r.body, "unassigned_info.reason"), "ALLOCATION_FAILED");
	assert_string_equal(jstr(r.body, "unassigned_info.last_allocation_status"), "no");
	assert_string_equal(jstr(r.body, "can_allocate"), "no");
	const char *details = jstr(r.body, "unassigned_info.details");
	assert_non_null(details);
	assert_non_null(strstr(details, "failed to create index, failure IllegalArgumentException["
					"Custom Analyzer [a] failed to find tokenizer under name "
					"[icu_tokenizer]]"));
	const char *said = jstr(r.body, "node_allocation_decisions.0.deciders.0.explanation");
	assert_non_null(said);
	assert_non_null(strstr(said, "shard has exceeded the maximum number of retries [5] on "
				     "failed allocation attempts - manually call "
				     "[/_cluster/reroute?retry_failed=true] to retry"));
	char *at = xstrdup(jstr(r.body, "unassigned_info.at"));
	http_resp_free(&r);
	/* No more attempts by themselves. */
	msleep(300);
	assert_true(request("POST", es_path("nofit", "/_cluster/allocation/explain"), NULL, explain,
			    true, 0, &r));
	assert_int_equal(jint(r.body, "unassigned_info.failed_allocation_attempts"), 5);
	assert_string_equal(jstr(r.body, "unassigned_info.at"), at);
	http_resp_free(&r);
	assert_int_equal(call("GET", es_path("nofit", "/_cat/shards/words?format=json&h=state,ur"),
			      NULL, &r),
			 200);
	assert_string_equal(jstr(r.body, "0.state"), "UNASSIGNED");
	const char *ur =
		json_string_value(json_object_get(json_array_get(r.body, 0), "unassigned.reason"));
	assert_non_null(ur);
	assert_string_equal(ur, "ALLOCATION_FAILED");
	http_resp_free(&r);
	/* retry_failed: tried (and failed) again. */
	assert_int_equal(
		call("POST", es_path("nofit", "/_cluster/reroute?retry_failed=true"), NULL, &r),
		200);
	http_resp_free(&r);
	end = harness_now_ms() + 10000;
	bool again = false;
	while (!again && harness_now_ms() < end) {
		assert_true(request("POST", es_path("nofit", "/_cluster/allocation/explain"), NULL,
				    explain, true, 0, &r));
		again = failed_five_times(&r, NULL) &&
			strcmp(jstr(r.body, "unassigned_info.at"), at) != 0;
		http_resp_free(&r);
		if (!again)
			msleep(20);
	}
	assert_true(again);
	free(at);
}

static bool health_is(struct http_resp *r, const void *arg)
{
	return (r->status == 200 || r->status == 408) &&
	       !strcmp(jstr(r->body, "status"), (const char *)arg);
}

static void test_es_lost_shard(void **state)
{
	struct http_resp r;
	make_cluster("esl", 2, "7.17.10");
	es_wait_green("esl", 3);
	assert_int_equal(call("PUT", es_path("esl", "/solo"),
			      "{\"settings\":{\"number_of_shards\":1,\"number_of_replicas\":0}}",
			      &r),
			 200);
	http_resp_free(&r);
	es_wait_green("esl", 3);
	assert_int_equal(call("GET", es_path("esl", "/_cat/shards/solo?format=json"), NULL, &r),
			 200);
	char node[128], pod[128];
	snprintf(node, sizeof(node), "%s", jstr(r.body, "0.node"));
	http_resp_free(&r);
	/* es-data-N-esl runs in pod es-data-N */
	snprintf(pod, sizeof(pod), "%.*s", (int)(strlen(node) - strlen("-esl")), node);
	char path[256];
	snprintf(path, sizeof(path), "/api/v1/namespaces/esl/pods/%s", pod);
	assert_int_equal(call("DELETE", path, NULL, &r), 200);
	http_resp_free(&r);
	assert_int_equal(call("GET", "/_sim/state", NULL, &r), 200);
	size_t i;
	json_t *e;
	bool lost = false, deleted = false;
	json_array_foreach (json_object_get(r.body, "lost_shards"), i, e) {
		if (!strcmp(jstr(e, "cluster"), "esl") && !strcmp(jstr(e, "index"), "solo") &&
		    !strcmp(jstr(e, "node"), node))
			lost = true;
	}
	json_array_foreach (json_object_get(r.body, "pod_deletions"), i, e) {
		if (!strcmp(jstr(e, "namespace"), "esl") && !strcmp(jstr(e, "name"), pod) &&
		    !strcmp(jstr(e, "by"), "api"))
			deleted = true;
	}
	assert_true(deleted);
	http_resp_free(&r);
	/* The node left at once (no grace period configured): red, and recorded. */
	assert_true(wait_until(es_path("esl", "/_cluster/health?timeout=0s"), health_is, "red",
			       30000, &r));
	http_resp_free(&r);
	assert_int_equal(call("GET", "/_sim/state", NULL, &r), 200);
	lost = false;
	json_array_foreach (json_object_get(r.body, "lost_shards"), i, e) {
		if (!strcmp(jstr(e, "cluster"), "esl") && !strcmp(jstr(e, "index"), "solo"))
			lost = true;
	}
	assert_true(lost);
	assert_string_equal(jstr(r.body, "clusters.esl.status"), "red");
	/* The mutating requests are on record. */
	bool recorded = false;
	json_array_foreach (json_object_get(r.body, "requests"), i, e) {
		if (!strcmp(jstr(e, "verb"), "DELETE") && !strcmp(jstr(e, "path"), path))
			recorded = true;
	}
	assert_true(recorded);
	http_resp_free(&r);
}

static void test_es_8x_has_no_synced_flush(void **state)
{
	struct http_resp r;
	make_cluster("es8", 1, "8.17.0");
	es_wait_green("es8", 2);
	assert_int_equal(call("POST", es_path("es8", "/_flush/synced"), NULL, &r), 400);
	assert_string_equal(jstr(r.body, "error"),
			    "no handler found for uri [/_flush/synced] and method [POST]");
	http_resp_free(&r);
	assert_int_equal(call("POST", es_path("es8", "/_flush"), NULL, &r), 200);
	assert_non_null(json_object_get(r.body, "_shards"));
	http_resp_free(&r);
	assert_int_equal(call("GET", es_path("es8", "/_cluster/health"), NULL, &r), 200);
	assert_non_null(json_object_get(r.body, "unassigned_primary_shards"));
	http_resp_free(&r);
	assert_int_equal(
		call("POST",
		     es_path("es8",
			     "/_cluster/voting_config_exclusions?node_names=es-master-0-es8"),
		     NULL, &r),
		200);
	http_resp_free(&r);
	assert_int_equal(call("POST",
			      es_path("es8", "/_cluster/voting_config_exclusions/es-master-0-es8"),
			      NULL, &r),
			 400);
	http_resp_free(&r);
	assert_int_equal(
		call("DELETE",
		     es_path("es8", "/_cluster/voting_config_exclusions?wait_for_removal=false"),
		     NULL, &r),
		200);
	http_resp_free(&r);
}

/* A cluster of two nodes of version in ns whose elasticsearch.yml has lines,
 * the elastic user's bootstrap password in ELASTIC_PASSWORD from the Secret
 * es-elastic ("s3cret-pw"); with certs, the Secret es-certs (which the
 * caller made, with the namespace) mounted in config/certs. */
static void make_secured_cluster(const char *ns, const char *version, const char *lines, bool certs)
{
	struct http_resp r;
	char path[256], body[4096];
	if (!certs)
		make_namespace(ns);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/es-elastic", ns);
	assert_int_equal(apply(path,
			       "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{"
			       "\"name\":\"es-elastic\"},\"data\":{\"password\":\"czNjcmV0LXB3\"}}",
			       &r),
			 201);
	http_resp_free(&r);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/es-file", ns);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
		 "\"es-file\"},\"data\":{\"elasticsearch.yml\":\"cluster.initial_master_nodes:\\n- "
		 "es-0-%s\\nnetwork.host: 10.0.0.1\\n%s\"}}",
		 ns, lines);
	assert_int_equal(apply(path, body, &r), 201);
	http_resp_free(&r);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/services/es-%s", ns, ns);
	snprintf(body, sizeof(body), SERVICE, ns);
	assert_int_equal(apply(path, body, &r), 201);
	http_resp_free(&r);
	snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/statefulsets/es", ns);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"metadata\":{\"name\":"
		 "\"es\"},\"spec\":{\"replicas\":2,\"serviceName\":\"es\",\"podManagementPolicy\":"
		 "\"Parallel\",\"selector\":{\"matchLabels\":{\"app\":\"es\"}},\"template\":{"
		 "\"metadata\":{\"labels\":{\"app\":\"es\"}},\"spec\":{\"volumes\":[{\"name\":"
		 "\"config\",\"configMap\":{\"name\":\"es-file\"}}%s],\"containers\":[{\"name\":"
		 "\"es\",\"image\":\"docker.elastic.co/elasticsearch/elasticsearch:%s\","
		 "\"env\":[{\"name\":\"ELASTIC_PASSWORD\",\"valueFrom\":{\"secretKeyRef\":{"
		 "\"name\":\"es-elastic\",\"key\":\"password\"}}}],"
		 "\"volumeMounts\":[{\"name\":\"config\",\"mountPath\":\"/usr/share/"
		 "elasticsearch/config/"
		 "elasticsearch.yml\",\"subPath\":\"elasticsearch.yml\"}%s]}]}}}"
		 "}",
		 certs ? ",{\"name\":\"certs\",\"secret\":{\"secretName\":\"es-certs\"}}" : "",
		 version,
		 certs ? ",{\"name\":\"certs\",\"mountPath\":\"/usr/share/elasticsearch/config/"
			 "certs\",\"readOnly\":true}"
		       : "");
	assert_int_equal(apply(path, body, &r), 201);
	http_resp_free(&r);
}

static bool crash_looping(struct http_resp *r, const void *arg);

static bool status_401(struct http_resp *r, const void *arg)
{
	return r->status == 401;
}

/* GET path on the node of pod es-0 in ns straight to its port, with the
 * Authorization header authorization (NULL: none). */
static long es_direct(const char *ns, const char *method, const char *path,
		      const char *authorization, const char *body, struct http_resp *r)
{
	char full[512], auth_line[300], es_line[300];
	const char *headers[4] = {NULL};
	int n = 0;
	snprintf(full, sizeof(full), "/_sim/pods/%s/es-0/es%s", ns, path);
	snprintf(auth_line, sizeof(auth_line), "Authorization: Bearer %s", sim.token);
	headers[n++] = auth_line;
	if (authorization) {
		snprintf(es_line, sizeof(es_line), "X-Es-Authorization: %s", authorization);
		headers[n++] = es_line;
	}
	if (body)
		headers[n++] = "Content-Type: application/json";
	assert_true(http_request(sim.server, method, full, body, headers, 0, r));
	return r->status;
}

static void assert_security_401(struct http_resp *r, const char *reason)
{
	assert_int_equal(r->status, 401);
	assert_string_equal(jstr(r->body, "error.type"), "security_exception");
	assert_string_equal(jstr(r->body, "error.reason"), reason);
	assert_string_equal(jstr(r->body, "error.root_cause.0.type"), "security_exception");
	assert_string_equal(jstr(r->body, "error.root_cause.0.reason"), reason);
	assert_int_equal(jint(r->body, "status"), 401);
	assert_non_null(
		strstr(r->headers, "WWW-Authenticate: Basic realm=\"security\" charset=\"UTF-8\""));
}

/*
 * A node with security on (xpack.security.enabled: true from 6.8; by
 * default from 8.0) answers a request without credentials with the 401
 * security_exception and the Basic challenge, and one with a wrong password
 * with "unable to authenticate user"; the elastic user's password is the
 * bootstrap password of ELASTIC_PASSWORD until it is changed, the other
 * reserved users have none until one is set.  Through the service proxy a
 * node never sees credentials: the API server removes the Authorization
 * header once it has authenticated the request.
 */
static void test_es_security_answers_401_without_credentials(void **state)
{
	struct http_resp r;
	static const char *const clusters[][2] = {
		{"sec7", "xpack.security.enabled: true\\nxpack.security.transport.ssl.enabled: "
			 "true\\nxpack.security.transport.ssl.key: certs/tls.key\\n"
			 "xpack.security.transport.ssl.certificate: certs/tls.crt\\n"},
		{"sec8", ""}};
	static const char *const versions[] = {"7.17.10", "8.17.0"};
	for (size_t i = 0; i < ARRAY_SIZE(versions); i++) {
		const char *ns = clusters[i][0];
		make_secured_cluster(ns, versions[i], clusters[i][1], false);
		assert_true(
			wait_until(es_path(ns, "/_cluster/health"), status_401, NULL, 60000, &r));
		assert_security_401(
			&r,
			"missing authentication credentials for REST request [/_cluster/health]");
		http_resp_free(&r);

		es_direct(ns, "GET", "/_cluster/health?local=false", NULL, NULL, &r);
		assert_security_401(&r, "missing authentication credentials for REST request "
					"[/_cluster/health?local=false]");
		http_resp_free(&r);
		/* elastic:wrong */
		es_direct(ns, "GET", "/", "Basic ZWxhc3RpYzp3cm9uZw==", NULL, &r);
		assert_security_401(&r,
				    "unable to authenticate user [elastic] for REST request [/]");
		http_resp_free(&r);
		/* elastic:s3cret-pw, the bootstrap password */
		assert_int_equal(
			es_direct(ns, "GET", "/", "Basic ZWxhc3RpYzpzM2NyZXQtcHc=", NULL, &r), 200);
		assert_string_equal(jstr(r.body, "version.number"), versions[i]);
		http_resp_free(&r);
		/* kibana_system:kibana-pw, before and after elastic sets it */
		es_direct(ns, "GET", "/", "Basic a2liYW5hX3N5c3RlbTpraWJhbmEtcHc=", NULL, &r);
		assert_security_401(
			&r, "unable to authenticate user [kibana_system] for REST request [/]");
		http_resp_free(&r);
		assert_int_equal(es_direct(ns, "POST", "/_security/user/kibana_system/_password",
					   "Basic ZWxhc3RpYzpzM2NyZXQtcHc=",
					   "{\"password\":\"kibana-pw\"}", &r),
				 200);
		http_resp_free(&r);
		assert_int_equal(es_direct(ns, "GET", "/",
					   "Basic a2liYW5hX3N5c3RlbTpraWJhbmEtcHc=", NULL, &r),
				 200);
		http_resp_free(&r);
	}
	/* 8.x challenges for bearer tokens and API keys too. */
	es_direct("sec8", "GET", "/", NULL, NULL, &r);
	assert_non_null(strstr(r.headers, "WWW-Authenticate: ApiKey"));
	http_resp_free(&r);
}

/*
 * The native realm: elastic creates a user with the create or update users
 * API ({"created": true}, false on an update; 6.x wraps it in "user" too,
 * on its _xpack path), which then authenticates with Basic credentials; a
 * user with the superuser role may do anything, one without a role that
 * grants the action gets the 403 security_exception, a wrong password the
 * 401.  The simulator counts who authenticated each cluster's requests.
 */
static void test_es_security_native_users(void **state)
{
	struct http_resp r;
	static const char *const versions[] = {"7.17.10", "6.8.23"};
	static const char *const paths[] = {"/_security/user/", "/_xpack/security/user/"};
	static const char *const elastic = "Basic ZWxhc3RpYzpzM2NyZXQtcHc=";
	static const char *const esaas = "Basic ZXNhYXM6ZXNhYXMtcHctMQ==";  /* esaas:esaas-pw-1 */
	static const char *const nobody = "Basic bm9ib2R5Om5vYm9keS1wdw=="; /* nobody:nobody-pw */
	static const char *const wrong = "Basic ZXNhYXM6d3JvbmctcHc=";	    /* esaas:wrong-pw */
	char path[128], ns[16];

	for (size_t i = 0; i < ARRAY_SIZE(versions); i++) {
		snprintf(ns, sizeof(ns), "users%zu", i);
		make_secured_cluster(
			ns, versions[i],
			"xpack.security.enabled: true\\nxpack.security.transport.ssl.enabled: "
			"true\\nxpack.security.transport.ssl.key: certs/tls.key\\n"
			"xpack.security.transport.ssl.certificate: certs/tls.crt\\n",
			false);
		assert_true(wait_until(es_path(ns, "/"), status_401, NULL, 60000, &r));
		http_resp_free(&r);
		/* Not a user yet. */
		es_direct(ns, "GET", "/", esaas, NULL, &r);
		assert_security_401(&r, "unable to authenticate user [esaas] for REST request [/]");
		http_resp_free(&r);

		snprintf(path, sizeof(path), "%sesaas", paths[i]);
		assert_int_equal(
			es_direct(ns, "PUT", path, elastic,
				  "{\"password\":\"esaas-pw-1\",\"roles\":[\"superuser\"]}", &r),
			200);
		assert_true(json_is_true(jget(r.body, "created")));
		if (i == 1)
			assert_true(json_is_true(jget(r.body, "user.created")));
		else
			assert_null(jget(r.body, "user"));
		http_resp_free(&r);
		/* Again, the same: an update. */
		assert_int_equal(
			es_direct(ns, "POST", path, elastic,
				  "{\"password\":\"esaas-pw-1\",\"roles\":[\"superuser\"]}", &r),
			200);
		assert_true(json_is_false(jget(r.body, "created")));
		http_resp_free(&r);
		assert_int_equal(es_direct(ns, "GET", "/_cluster/health", esaas, NULL, &r), 200);
		http_resp_free(&r);
		es_direct(ns, "GET", "/", wrong, NULL, &r);
		assert_security_401(&r, "unable to authenticate user [esaas] for REST request [/]");
		http_resp_free(&r);

		/* A user without a role: authenticated, then refused. */
		snprintf(path, sizeof(path), "%snobody", paths[i]);
		assert_int_equal(es_direct(ns, "PUT", path, esaas,
					   "{\"password\":\"nobody-pw\",\"roles\":[]}", &r),
				 200);
		http_resp_free(&r);
		es_direct(ns, "GET", "/_cluster/health", nobody, NULL, &r);
		assert_int_equal(r.status, 403);
		assert_string_equal(jstr(r.body, "error.type"), "security_exception");
		assert_string_equal(
			jstr(r.body, "error.reason"),
			i == 0 ? "action [cluster:monitor/health] is unauthorized for user "
				 "[nobody] "
				 "with roles [], this action is granted by the cluster privileges "
				 "[monitor,manage,all]"
			       : "action [cluster:monitor/health] is unauthorized for user "
				 "[nobody]");
		assert_int_equal(jint(r.body, "status"), 403);
		http_resp_free(&r);

		/* Bad input changes nothing. */
		snprintf(path, sizeof(path), "%selastic", paths[i]);
		es_direct(ns, "PUT", path, elastic, "{\"password\":\"another\",\"roles\":[]}", &r);
		assert_int_equal(r.status, 400);
		assert_non_null(strstr(jstr(r.body, "error.reason"),
				       "user [elastic] is reserved and only the password"));
		http_resp_free(&r);
		snprintf(path, sizeof(path), "%sshort", paths[i]);
		es_direct(ns, "PUT", path, elastic, "{\"password\":\"abc\",\"roles\":[]}", &r);
		assert_int_equal(r.status, 400);
		http_resp_free(&r);
		es_direct(ns, "PUT", path, elastic, "{\"password\":\"abcdefg\"}", &r);
		assert_int_equal(r.status, 400);
		assert_string_equal(jstr(r.body, "error.reason"),
				    "Validation Failed: 1: roles are missing;");
		http_resp_free(&r);
		es_direct(ns, "GET", "/", "Basic c2hvcnQ6YWJjZGVmZw==", NULL,
			  &r); /* short:abcdefg */
		assert_int_equal(r.status, 401);
		http_resp_free(&r);

		assert_int_equal(call("GET", "/_sim/state", NULL, &r), 200);
		char key[64];
		snprintf(key, sizeof(key), "clusters.%s.authenticated.esaas", ns);
		assert_int_equal(jint(r.body, key), 2); /* the health read and the PUT */
		snprintf(key, sizeof(key), "clusters.%s.authenticated.elastic", ns);
		assert_int_equal(jint(r.body, key), 5);
		snprintf(key, sizeof(key), "clusters.%s.authenticated.nobody", ns);
		assert_int_equal(jint(r.body, key), 1); /* authenticated, then refused */
		http_resp_free(&r);
	}
}

/* Security turned on in elasticsearch.yml of a node bound beyond loopback
 * without TLS on its transport layer fails the TLS bootstrap check: the
 * node exits at start and its container crash-loops. */
static void test_es_security_without_transport_tls_fails_the_bootstrap_check(void **state)
{
	struct http_resp r;
	make_secured_cluster("sectls", "7.17.10", "xpack.security.enabled: true\\n", false);
	assert_true(
		wait_until("/api/v1/namespaces/sectls/pods/es-0", crash_looping, NULL, 30000, &r));
	http_resp_free(&r);
	/* With it off, the same cluster answers without credentials. */
	make_secured_cluster("secoff", "7.17.10", "xpack.security.enabled: false\\n", false);
	assert_true(wait_until(es_path("secoff", "/"), ok_200, NULL, 60000, &r));
	http_resp_free(&r);
}

/* The s3 client's settings in elasticsearch.yml: unknown to a 7.x node
 * without the repository-s3 plugin, which exits at start; known to 8.x,
 * where s3 is a module. */
static void test_es_s3_client_settings_need_the_plugin_before_8(void **state)
{
	struct http_resp r;
	make_secured_cluster(
		"s3plug7", "7.17.10",
		"xpack.security.enabled: false\\ns3.client.esaas.endpoint: minio:9000\\n", false);
	assert_true(
		wait_until("/api/v1/namespaces/s3plug7/pods/es-0", crash_looping, NULL, 15000, &r));
	http_resp_free(&r);
	make_secured_cluster(
		"s3plug8", "8.17.0",
		"xpack.security.enabled: false\\ns3.client.esaas.endpoint: minio:9000\\n", false);
	assert_true(wait_until(es_path("s3plug8", "/"), ok_200, NULL, 60000, &r));
	http_resp_free(&r);
}

struct curl_answer {
	char buf[8192];
	size_t len;
	char error[CURL_ERROR_SIZE];
};

static size_t curl_collect(char *p, size_t size, size_t n, void *arg)
{
	struct curl_answer *a = arg;
	size_t take = size * n;
	if (take > sizeof(a->buf) - 1 - a->len)
		take = sizeof(a->buf) - 1 - a->len;
	memcpy(a->buf + a->len, p, take);
	a->len += take;
	a->buf[a->len] = '\0';
	return size * n;
}

/* GET url on the simulator's pod network, trusting ca_pem, as user:password
 * (NULL: no credentials); the HTTP status, or -CURLcode. */
static long podnet_get_from(int port, long timeout_s, const char *url, const char *ca_pem,
			    const char *userpwd, struct curl_answer *a);

static long podnet_get(const char *url, const char *ca_pem, const char *userpwd,
		       struct curl_answer *a)
{
	return podnet_get_from(sim.podnet_port, 10, url, ca_pem, userpwd, a);
}

/* The same as the client of the pod network listening at port, giving up
 * after timeout_s; a.error has libcurl's message of a failure. */
static long podnet_get_from(int port, long timeout_s, const char *url, const char *ca_pem,
			    const char *userpwd, struct curl_answer *a)
{
	CURL *h = curl_easy_init();
	char connect_to[64];
	struct curl_slist *to = NULL;
	struct curl_blob blob = {
		.data = (void *)ca_pem, .len = strlen(ca_pem), .flags = CURL_BLOB_COPY};
	long status = 0;
	snprintf(connect_to, sizeof(connect_to), "::127.0.0.1:%d", port);
	to = curl_slist_append(to, connect_to);
	memset(a, 0, sizeof(*a));
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CONNECT_TO, to);
	curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, curl_collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, a->error);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
	if (userpwd)
		curl_easy_setopt(h, CURLOPT_USERPWD, userpwd);
	CURLcode rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	else
		status = -(long)rc;
	curl_slist_free_all(to);
	curl_easy_cleanup(h);
	return status;
}

static void put_secret(const char *ns, const char *name, const char *const *kv)
{
	json_t *data = json_object();
	for (size_t i = 0; kv[i]; i += 2) {
		char *b64 = base64_encode(kv[i + 1], strlen(kv[i + 1]));
		json_object_set_new(data, kv[i], json_string(b64));
		free(b64);
	}
	json_t *body = json_pack("{s:s, s:s, s:{s:s}, s:o}", "apiVersion", "v1", "kind", "Secret",
				 "metadata", "name", name, "data", data);
	char *text = json_dumps(body, JSON_COMPACT);
	char path[256];
	struct http_resp r;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/%s", ns, name);
	assert_int_equal(apply(path, text, &r), 201);
	http_resp_free(&r);
	free(text);
	json_decref(body);
}

static const char *cause_for(json_t *body, const char *field);

/*
 * A Secret as the API server keeps it: stringData folded into data as
 * base64 and gone, an empty type Opaque; a TLS Secret needs its two keys;
 * bad keys are refused; an immutable Secret keeps its data and stays
 * immutable, and no Secret changes its type.
 */
static void test_secret_string_data_types_and_immutability(void **state)
{
	struct http_resp r;
	make_namespace("secrets");
	assert_int_equal(call("POST", "/api/v1/namespaces/secrets/secrets",
			      "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":"
			      "\"creds\"},\"data\":{\"user\":\"ZWxhc3RpYw==\"},\"stringData\":"
			      "{\"password\":\"s3cret\",\"user\":\"kibana\"},\"immutable\":true}",
			      &r),
			 201);
	assert_null(json_object_get(r.body, "stringData"));
	json_t *data = json_object_get(r.body, "data");
	/* base64("s3cret"), base64("kibana"): stringData wins over data. */
	assert_string_equal(jstr(data, "password"), "czNjcmV0");
	assert_string_equal(jstr(data, "user"), "a2liYW5h");
	assert_string_equal(jstr(r.body, "type"), "Opaque");
	http_resp_free(&r);

	assert_int_equal(call("PUT", "/api/v1/namespaces/secrets/secrets/creds",
			      "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":"
			      "\"creds\"},\"data\":{\"user\":\"b3RoZXI=\"},\"immutable\":true}",
			      &r),
			 422);
	assert_string_equal(cause_for(r.body, "data"),
			    "Forbidden: field is immutable when `immutable` is set");
	http_resp_free(&r);
	assert_int_equal(call_as(sim.token, "PATCH", "/api/v1/namespaces/secrets/secrets/creds",
				 "application/merge-patch+json", "{\"immutable\":false}", &r),
			 422);
	assert_string_equal(cause_for(r.body, "immutable"),
			    "Forbidden: field is immutable when `immutable` is set");
	http_resp_free(&r);
	assert_int_equal(call_as(sim.token, "PATCH", "/api/v1/namespaces/secrets/secrets/creds",
				 "application/merge-patch+json",
				 "{\"type\":\"kubernetes.io/basic-auth\"}", &r),
			 422);
	assert_non_null(strstr(cause_for(r.body, "type"), "field is immutable"));
	http_resp_free(&r);

	assert_int_equal(
		call("POST", "/api/v1/namespaces/secrets/secrets",
		     "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":"
		     "\"cert\"},\"type\":\"kubernetes.io/tls\",\"stringData\":{\"tls.crt\":"
		     "\"x\",\"bad/key\":\"y\"}}",
		     &r),
		422);
	assert_string_equal(cause_for(r.body, "data[tls.key]"), "Required value");
	assert_null(cause_for(r.body, "data[tls.crt]"));
	assert_non_null(strstr(cause_for(r.body, "data[bad/key]"), "a valid config key"));
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/secrets/secrets/cert", NULL, &r), 404);
	http_resp_free(&r);
}

static const char SECRET_POD[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\"},\"spec\":{"
	"\"containers\":[{\"name\":\"app\",\"image\":\"busybox:1.36\"%s}]%s}}";

/* The message of the pod's Warning event of that reason, or NULL. */
static char *pod_event(const char *ns, const char *pod, const char *reason)
{
	struct http_resp r;
	char path[256];
	char *out = NULL;
	size_t i;
	json_t *e;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", ns);
	assert_int_equal(call("GET", path, NULL, &r), 200);
	json_array_foreach (json_object_get(r.body, "items"), i, e) {
		json_t *about = json_object_get(e, "involvedObject");
		if (!strcmp(jstr(about, "name"), pod) && !strcmp(jstr(e, "reason"), reason)) {
			free(out);
			out = xstrdup(jstr(e, "message"));
		}
	}
	http_resp_free(&r);
	return out;
}

/*
 * The kubelet starts no pod whose Secret is missing: a secret volume
 * fails its mount (FailedMount, the pod Pending with no IP) until the
 * Secret is there; a variable from a key the Secret lacks leaves the
 * container in CreateContainerConfigError until the key is added.  An
 * optional reference may be missing.
 */
static void test_pod_waits_for_the_secrets_it_names(void **state)
{
	struct http_resp r;
	char body[1024];
	make_namespace("needs");
	const char *user[] = {"user", "elastic", NULL};
	put_secret("needs", "creds", user);
	snprintf(body, sizeof(body), SECRET_POD, "mounts",
		 ",\"volumeMounts\":[{\"name\":\"certs\",\"mountPath\":\"/certs\"}]",
		 ",\"volumes\":[{\"name\":\"certs\",\"secret\":{\"secretName\":\"tls\"}},"
		 "{\"name\":\"extra\",\"secret\":{\"secretName\":\"nope\",\"optional\":true}}]");
	assert_int_equal(call("POST", "/api/v1/namespaces/needs/pods", body, &r), 201);
	http_resp_free(&r);
	snprintf(body, sizeof(body), SECRET_POD, "env",
		 ",\"env\":[{\"name\":\"PASSWORD\",\"valueFrom\":{\"secretKeyRef\":{\"name\":"
		 "\"creds\",\"key\":\"password\"}}},{\"name\":\"MAYBE\",\"valueFrom\":{"
		 "\"secretKeyRef\":{\"name\":\"none\",\"key\":\"x\",\"optional\":true}}}]",
		 "");
	assert_int_equal(call("POST", "/api/v1/namespaces/needs/pods", body, &r), 201);
	http_resp_free(&r);

	/* The mount fails, said as the kubelet says it. */
	char *said = NULL;
	for (int64_t end = harness_now_ms() + 5000; !said && harness_now_ms() < end; msleep(30))
		said = pod_event("needs", "mounts", "FailedMount");
	assert_non_null(said);
	assert_string_equal(said, "MountVolume.SetUp failed for volume \"certs\" : secret \"tls\" "
				  "not found");
	free(said);
	/* The variable's key is missing. */
	assert_true(wait_until("/api/v1/namespaces/needs/pods/env", node_listed,
			       "CreateContainerConfigError", 30000, &r));
	json_t *cs = json_array_get(
		json_object_get(json_object_get(r.body, "status"), "containerStatuses"), 0);
	json_t *waiting = json_object_get(json_object_get(cs, "state"), "waiting");
	assert_string_equal(jstr(waiting, "message"),
			    "couldn't find key password in Secret needs/creds");
	assert_string_equal(jstr(json_object_get(r.body, "status"), "phase"), "Pending");
	http_resp_free(&r);
	said = pod_event("needs", "env", "Failed");
	assert_non_null(said);
	assert_string_equal(said, "Error: couldn't find key password in Secret needs/creds");
	free(said);

	/* Neither starts while they wait. */
	assert_int_equal(call("GET", "/api/v1/namespaces/needs/pods/mounts", NULL, &r), 200);
	assert_string_equal(jstr(json_object_get(r.body, "status"), "phase"), "Pending");
	assert_null(jstr(json_object_get(r.body, "status"), "podIP"));
	http_resp_free(&r);

	/* Once there, both start: the mount within its back-off, the
	 * container at the pod worker's next try (10 s). */
	const char *tls[] = {"tls.crt", "c", "tls.key", "k", NULL};
	put_secret("needs", "tls", tls);
	assert_int_equal(call_as(sim.token, "PATCH", "/api/v1/namespaces/needs/secrets/creds",
				 "application/merge-patch+json",
				 "{\"data\":{\"password\":\"czNjcmV0\"}}", &r),
			 200);
	http_resp_free(&r);
	assert_true(
		wait_until("/api/v1/namespaces/needs/pods/mounts", pod_running, NULL, 30000, &r));
	http_resp_free(&r);
	assert_true(wait_until("/api/v1/namespaces/needs/pods/env", pod_running, NULL, 30000, &r));
	http_resp_free(&r);
}

static const char IMAGE_POD[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\"},\"spec\":{"
	"\"containers\":[{\"name\":\"c\",\"image\":\"%s\"%s}]}}";

/* The pod's event of that reason whose message starts with prefix (a copy),
 * or NULL; on the simulator s. */
static json_t *event_about(const struct sim *s, const char *ns, const char *pod, const char *reason,
			   const char *prefix)
{
	struct http_resp r;
	char path[256];
	json_t *out = NULL;
	size_t i;
	json_t *e;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", ns);
	assert_int_equal(own_call(s, "GET", path, NULL, &r), 200);
	json_array_foreach (json_object_get(r.body, "items"), i, e) {
		const char *msg = jstr(e, "message");
		if (!strcmp(jstr(e, "involvedObject.name"), pod) &&
		    !strcmp(jstr(e, "reason"), reason) && msg &&
		    !strncmp(msg, prefix, strlen(prefix))) {
			json_decref(out);
			out = json_deep_copy(e);
		}
	}
	http_resp_free(&r);
	return out;
}

/* The pod's first container's waiting state, or NULL: arg is its reason. */
static bool waiting_for(struct http_resp *r, const void *arg)
{
	json_t *cs = json_array_get(jget(r->body, "status.containerStatuses"), 0);
	const char *reason = jstr(cs, "state.waiting.reason");
	return r->status == 200 && reason && !strcmp(reason, arg);
}

static bool own_wait_until(const struct sim *s, const char *path, pred_fn pred, const void *arg,
			   int timeout_ms, struct http_resp *r)
{
	int64_t end = harness_now_ms() + timeout_ms;
	for (;;) {
		own_call(s, "GET", path, NULL, r);
		if (pred(r, arg))
			return true;
		if (harness_now_ms() > end)
			return false;
		http_resp_free(r);
		msleep(10);
	}
}

/*
 * The kubelet pulls a container's image before it makes the container:
 * the pod is Pending, its container waiting in ContainerCreating, until the
 * image is there and the container runs.  A node pulls one image at a time
 * and keeps what it pulled: a later pod of the same image (IfNotPresent,
 * the default for a tag other than latest) starts without a pull; Always
 * (the default for latest) pulls again; Never without the image is
 * ErrImageNeverPull, and a reference that does not parse InvalidImageName.
 */
static void test_images_are_pulled_once_per_node_one_at_a_time(void **state)
{
	struct sim own;
	struct http_resp r;
	char body[512];
	static const char *const first[][2] = {{"a", "busybox:1.36.1"}, {"b", "nginx:1.27"}};
	start_own_sim(&own, "pulls",
		      "tick_ms: 10\nnodes: {count: 1}\npods: {ready_delay_ms: 50}\n"
		      "images: {pull_ms: 3000}\n");
	for (size_t i = 0; i < 2; i++) {
		snprintf(body, sizeof(body), IMAGE_POD, first[i][0], first[i][1], "");
		assert_int_equal(
			own_call(&own, "POST", "/api/v1/namespaces/default/pods", body, &r), 201);
		assert_string_equal(jstr(r.body, "spec.containers.0.imagePullPolicy"),
				    "IfNotPresent");
		http_resp_free(&r);
	}
	/* While its image comes: Pending, with an IP, the container waiting. */
	assert_true(own_wait_until(&own, "/api/v1/namespaces/default/pods/a", waiting_for,
				   "ContainerCreating", 30000, &r));
	assert_string_equal(jstr(r.body, "status.phase"), "Pending");
	assert_non_null(jstr(r.body, "status.podIP"));
	http_resp_free(&r);
	json_t *e = event_about(&own, "default", "a", "Pulling", "Pulling image");
	assert_non_null(e);
	assert_string_equal(jstr(e, "message"), "Pulling image \"busybox:1.36.1\"");
	assert_string_equal(jstr(e, "type"), "Normal");
	json_decref(e);
	assert_true(own_wait_until(&own, "/api/v1/namespaces/default/pods/a", pod_running, NULL,
				   30000, &r));
	http_resp_free(&r);
	e = event_about(&own, "default", "a", "Pulled", "Successfully");
	assert_non_null(e);
	/* The time including waiting is the kubelet's, a tick later. */
	assert_non_null(strstr(jstr(e, "message"),
			       "Successfully pulled image \"busybox:1.36.1\" in 3s (3"));
	json_decref(e);
	assert_true(own_wait_until(&own, "/api/v1/namespaces/default/pods/b", pod_running, NULL,
				   30000, &r));
	http_resp_free(&r);
	/* b's pull waited for a's: one at a time.  b asked for its image
	 * moments after a did, so its time including waiting is near twice
	 * a pull's (above one and a half, should b have asked 1.5 s late). */
	e = event_about(&own, "default", "b", "Pulled", "Successfully");
	assert_non_null(e);
	const char *waited = strstr(jstr(e, "message"), "\"nginx:1.27\" in 3s (");
	assert_non_null(waited);
	assert_true(strtod(waited + strlen("\"nginx:1.27\" in 3s ("), NULL) >= 4.5);
	json_decref(e);

	/* The node keeps it: no pull. */
	snprintf(body, sizeof(body), IMAGE_POD, "c", "busybox:1.36.1", "");
	assert_int_equal(own_call(&own, "POST", "/api/v1/namespaces/default/pods", body, &r), 201);
	http_resp_free(&r);
	assert_true(own_wait_until(&own, "/api/v1/namespaces/default/pods/c", pod_running, NULL,
				   30000, &r));
	http_resp_free(&r);
	e = event_about(&own, "default", "c", "Pulled", "Container image");
	assert_non_null(e);
	assert_string_equal(jstr(e, "message"),
			    "Container image \"busybox:1.36.1\" already present on machine");
	json_decref(e);
	assert_null(event_about(&own, "default", "c", "Pulling", ""));

	/* latest is pulled Always. */
	snprintf(body, sizeof(body), IMAGE_POD, "d", "busybox", "");
	assert_int_equal(own_call(&own, "POST", "/api/v1/namespaces/default/pods", body, &r), 201);
	assert_string_equal(jstr(r.body, "spec.containers.0.imagePullPolicy"), "Always");
	http_resp_free(&r);
	assert_true(own_wait_until(&own, "/api/v1/namespaces/default/pods/d", pod_running, NULL,
				   30000, &r));
	http_resp_free(&r);
	e = event_about(&own, "default", "d", "Pulling", "");
	assert_non_null(e);
	assert_string_equal(jstr(e, "message"), "Pulling image \"busybox\"");
	json_decref(e);

	/* Never, and not there. */
	snprintf(body, sizeof(body), IMAGE_POD, "never", "nginx:1.25",
		 ",\"imagePullPolicy\":\"Never\"");
	assert_int_equal(own_call(&own, "POST", "/api/v1/namespaces/default/pods", body, &r), 201);
	http_resp_free(&r);
	assert_true(own_wait_until(&own, "/api/v1/namespaces/default/pods/never", waiting_for,
				   "ErrImageNeverPull", 30000, &r));
	assert_string_equal(jstr(r.body, "status.phase"), "Pending");
	assert_string_equal(
		jstr(json_array_get(jget(r.body, "status.containerStatuses"), 0),
		     "state.waiting.message"),
		"Container image \"nginx:1.25\" is not present with pull policy of Never");
	http_resp_free(&r);

	/* A name no registry takes. */
	snprintf(body, sizeof(body), IMAGE_POD, "upper", "Busybox:1.36", "");
	assert_int_equal(own_call(&own, "POST", "/api/v1/namespaces/default/pods", body, &r), 201);
	http_resp_free(&r);
	assert_true(own_wait_until(&own, "/api/v1/namespaces/default/pods/upper", waiting_for,
				   "InvalidImageName", 30000, &r));
	assert_string_equal(
		jstr(json_array_get(jget(r.body, "status.containerStatuses"), 0),
		     "state.waiting.message"),
		"Failed to apply default image tag \"Busybox:1.36\": couldn't parse image "
		"reference \"Busybox:1.36\": invalid reference format: repository name must be "
		"lowercase");
	http_resp_free(&r);
	e = event_about(&own, "default", "upper", "InspectFailed", "Failed to apply");
	assert_non_null(e);
	assert_string_equal(jstr(e, "type"), "Warning");
	json_decref(e);
	assert_int_equal(sim_stop(&own), 0);
}

/* The event is pod missing's "Failed to pull image ...". */
static bool is_pull_failure(json_t *e)
{
	const char *name = jstr(e, "involvedObject.name"), *msg = jstr(e, "message");
	return name && msg && !strcmp(name, "missing") && !strncmp(msg, "Failed to pull image", 20);
}

/* The pod's Failed event "Failed to pull image ..." has come count times. */
static bool pull_failed_times(struct http_resp *r, const void *arg)
{
	size_t i;
	json_t *e;
	json_array_foreach (json_object_get(r->body, "items"), i, e) {
		if (is_pull_failure(e))
			return jint(e, "count") >= *(const int *)arg;
	}
	return false;
}

/*
 * An image the registry does not have: the pull fails with containerd's
 * NotFound, the container waits in ErrImagePull, then in ImagePullBackOff
 * ("Back-off pulling image") while the kubelet's back-off runs, 10 s
 * doubling; a repository that is not there is refused by the registry's
 * authorisation.  The times come from the events the kubelet wrote.
 */
static void test_missing_image_fails_its_pull_and_backs_off_doubling(void **state)
{
	struct http_resp r;
	char body[512];
	make_namespace("pulls");
	snprintf(body, sizeof(body), IMAGE_POD, "missing", "busybox:0.0-missing", "");
	assert_int_equal(call("POST", "/api/v1/namespaces/pulls/pods", body, &r), 201);
	http_resp_free(&r);
	snprintf(body, sizeof(body), IMAGE_POD, "nobody", "example/nothing-here:1", "");
	assert_int_equal(call("POST", "/api/v1/namespaces/pulls/pods", body, &r), 201);
	http_resp_free(&r);

	/* The kubelet pulls one image at a time per node, and a failed pull
	 * shows as ErrImagePull until its back-off: under load the first
	 * window can pass unseen, the next attempt comes within 30 s. */
	assert_true(wait_until("/api/v1/namespaces/pulls/pods/missing", waiting_for, "ErrImagePull",
			       30000, &r));
	assert_string_equal(jstr(r.body, "status.phase"), "Pending");
	assert_string_equal(
		jstr(json_array_get(jget(r.body, "status.containerStatuses"), 0),
		     "state.waiting.message"),
		"rpc error: code = NotFound desc = failed to pull and unpack image "
		"\"docker.io/library/busybox:0.0-missing\": failed to resolve reference "
		"\"docker.io/library/busybox:0.0-missing\": docker.io/library/busybox:0.0-missing: "
		"not found");
	http_resp_free(&r);
	char *said = pod_event("pulls", "missing", "Failed");
	assert_non_null(said);
	free(said);
	assert_true(wait_until("/api/v1/namespaces/pulls/pods/nobody", waiting_for, "ErrImagePull",
			       30000, &r));
	assert_non_null(strstr(jstr(json_array_get(jget(r.body, "status.containerStatuses"), 0),
				    "state.waiting.message"),
			       "pull access denied, repository does not exist or may require "
			       "authorization"));
	http_resp_free(&r);

	/* The back-off, as the status says it... */
	assert_true(wait_until("/api/v1/namespaces/pulls/pods/missing", waiting_for,
			       "ImagePullBackOff", 30000, &r));
	assert_string_equal(jstr(json_array_get(jget(r.body, "status.containerStatuses"), 0),
				 "state.waiting.message"),
			    "Back-off pulling image \"busybox:0.0-missing\"");
	http_resp_free(&r);
	said = pod_event("pulls", "missing", "BackOff");
	assert_non_null(said);
	assert_string_equal(said, "Back-off pulling image \"busybox:0.0-missing\"");
	free(said);

	/* ... and its times: three pulls are 10 s then 20 s apart at least,
	 * the pod worker's syncs (10 to 15 s apart) adding at most 15 s. */
	int three = 3;
	assert_true(wait_until("/api/v1/namespaces/pulls/events", pull_failed_times, &three, 60000,
			       &r));
	size_t i;
	json_t *e;
	json_array_foreach (json_object_get(r.body, "items"), i, e) {
		if (!is_pull_failure(e))
			continue;
		int64_t span = ts_seconds(jstr(e, "lastTimestamp")) -
			       ts_seconds(jstr(e, "firstTimestamp"));
		assert_true(span >= 29);
		assert_true(span <= 46);
	}
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/pulls/pods/missing", NULL, &r), 200);
	assert_string_equal(jstr(r.body, "status.phase"), "Pending");
	http_resp_free(&r);
}

/*
 * A node with TLS on HTTP serves it with the certificate its
 * elasticsearch.yml names, from the Secret mounted there: a client inside
 * the cluster (the pod network) reaches the Service by name, checks the
 * certificate against the cluster's CA, and signs in; another CA's client
 * refuses the certificate, and a namespace without TLS has none to give.
 */
static void test_es_pod_network_serves_https_with_the_nodes_certificate(void **state)
{
	struct pki_pair ca, node, other;
	char err[256];
	struct curl_answer a;
	struct http_resp r;
	const char *names[] = {"es-podn.podn.svc", "*.podn.svc"};
	assert_true(pki_make_ca("podn CA", 30, &ca, err, sizeof(err)));
	assert_true(pki_make_ca("other CA", 30, &other, err, sizeof(err)));
	assert_true(pki_make_cert(&ca, "podn", names, 2, 30, &node, err, sizeof(err)));
	make_namespace("podn");
	const char *files[] = {"tls.crt", node.cert_pem, "tls.key", node.key_pem,
			       "ca.crt",  ca.cert_pem,	 NULL};
	put_secret("podn", "es-certs", files);
	make_secured_cluster("podn", "7.17.10",
			     "xpack.security.enabled: true\\n"
			     "xpack.security.transport.ssl.enabled: true\\n"
			     "xpack.security.transport.ssl.key: certs/tls.key\\n"
			     "xpack.security.transport.ssl.certificate: certs/tls.crt\\n"
			     "xpack.security.http.ssl.enabled: true\\n"
			     "xpack.security.http.ssl.key: certs/tls.key\\n"
			     "xpack.security.http.ssl.certificate: certs/tls.crt\\n",
			     true);
	/* Through the service proxy over TLS (the https: scheme): up, and no
	 * credentials get through; in plain HTTP the node closes the
	 * connection, which the proxy answers with its 503. */
	assert_true(wait_until("/api/v1/namespaces/podn/services/https:es-podn:9200/proxy/",
			       status_401, NULL, 60000, &r));
	http_resp_free(&r);
	assert_int_equal(call("GET", es_path("podn", "/"), NULL, &r), 503);
	assert_string_equal(jstr(r.body, "message"), "error trying to reach service: EOF");
	http_resp_free(&r);

	assert_int_equal(
		podnet_get("https://es-podn.podn.svc:9200/", ca.cert_pem, "elastic:s3cret-pw", &a),
		200);
	assert_non_null(strstr(a.buf, "\"number\":\"7.17.10\""));
	assert_int_equal(
		podnet_get("https://es-podn.podn.svc:9200/_cluster/health", ca.cert_pem, NULL, &a),
		401);
	assert_non_null(strstr(a.buf, "missing authentication credentials for REST request "
				      "[/_cluster/health]"));
	/* Another CA does not vouch for the nodes. */
	assert_int_equal(podnet_get("https://es-podn.podn.svc:9200/", other.cert_pem,
				    "elastic:s3cret-pw", &a),
			 -(long)CURLE_PEER_FAILED_VERIFICATION);
	/* Plain HTTP to a node with TLS on HTTP: closed, unanswered. */
	assert_int_equal(podnet_get("http://es-podn.podn.svc:9200/", ca.cert_pem, NULL, &a),
			 -(long)CURLE_GOT_NOTHING);
	/* A namespace whose nodes have no TLS on HTTP: no certificate, and
	 * plain HTTP on the same port answered. */
	make_secured_cluster("podp", "7.17.10", "xpack.security.enabled: false\\n", false);
	assert_true(wait_until(es_path("podp", "/"), ok_200, NULL, 60000, &r));
	http_resp_free(&r);
	assert_true(podnet_get("https://es-podp.podp.svc:9200/", ca.cert_pem, NULL, &a) < 0);
	assert_int_equal(podnet_get("http://es-podp.podp.svc:9200/", ca.cert_pem, NULL, &a), 200);
	assert_non_null(strstr(a.buf, "\"number\":\"7.17.10\""));
	/* and the proxy's TLS handshake with its plain port fails. */
	assert_int_equal(
		call("GET", "/api/v1/namespaces/podp/services/https:es-podp:9200/proxy/", NULL, &r),
		503);
	assert_string_equal(jstr(r.body, "message"),
			    "error trying to reach service: tls: first record does not look like "
			    "a TLS handshake");
	http_resp_free(&r);
	pki_pair_free(&ca);
	pki_pair_free(&node);
	pki_pair_free(&other);
}

/*
 * The pod network applies NetworkPolicy as a network plugin that enforces
 * it does: a connection that no policy of the pod it reaches admits is
 * dropped, so the client hears nothing and gives up at its own timeout in
 * its connect phase (not a refusal); one that a policy admits gets through.
 * Each client is who the configuration says connects at its port: esaasd's
 * pod (esaas-system), a pod of namespace apps, an address outside.
 */
static void test_pod_network_drops_what_network_policy_does_not_admit(void **state)
{
	struct pki_pair ca, node;
	char err[256];
	struct curl_answer a;
	struct http_resp r;
	const char *names[] = {"es-podf.podf.svc", "*.podf.svc"};
	const char *url = "https://es-podf.podf.svc:9200/";
	assert_true(pki_make_ca("podf CA", 30, &ca, err, sizeof(err)));
	assert_true(pki_make_cert(&ca, "podf", names, 2, 30, &node, err, sizeof(err)));
	make_namespace("podf");
	const char *files[] = {"tls.crt", node.cert_pem, "tls.key", node.key_pem,
			       "ca.crt",  ca.cert_pem,	 NULL};
	put_secret("podf", "es-certs", files);
	make_secured_cluster("podf", "7.17.10",
			     "xpack.security.enabled: true\\n"
			     "xpack.security.transport.ssl.enabled: true\\n"
			     "xpack.security.transport.ssl.key: certs/tls.key\\n"
			     "xpack.security.transport.ssl.certificate: certs/tls.crt\\n"
			     "xpack.security.http.ssl.enabled: true\\n"
			     "xpack.security.http.ssl.key: certs/tls.key\\n"
			     "xpack.security.http.ssl.certificate: certs/tls.crt\\n",
			     true);
	assert_true(wait_until("/api/v1/namespaces/podf/services/https:es-podf:9200/proxy/",
			       status_401, NULL, 60000, &r));
	http_resp_free(&r);
	/* No policy selects the pods: every client gets through. */
	assert_int_equal(podnet_get_from(podnet_outside_port, 10, url, ca.cert_pem, NULL, &a), 401);

	/* Only apps's web pods, and addresses of 192.168.7.0/24. */
	assert_int_equal(apply_policy("podf", "only-web",
				      "{\"podSelector\":{},\"ingress\":[{\"from\":[{"
				      "\"namespaceSelector\":{\"matchLabels\":{"
				      "\"kubernetes.io/metadata.name\":\"apps\"}},"
				      "\"podSelector\":{\"matchLabels\":{\"app\":\"web\"}}}],"
				      "\"ports\":[{\"port\":9200}]}]}",
				      &r),
			 201);
	http_resp_free(&r);
	assert_int_equal(podnet_get_from(podnet_apps_port, 10, url, ca.cert_pem, NULL, &a), 401);
	/* esaasd's pod is another namespace's: dropped, a timeout in the
	 * connect phase (the wait is the client's 2 s, nothing is slept). */
	assert_int_equal(podnet_get_from(sim.podnet_port, 2, url, ca.cert_pem, NULL, &a),
			 -(long)CURLE_OPERATION_TIMEDOUT);
	assert_non_null(strstr(a.error, "Connection timed out after"));
	assert_int_equal(a.len, 0);
	assert_int_equal(podnet_get_from(podnet_outside_port, 2, url, ca.cert_pem, NULL, &a),
			 -(long)CURLE_OPERATION_TIMEDOUT);
	assert_int_equal(apply_policy("podf", "outside",
				      "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"ipBlock\":{"
				      "\"cidr\":\"192.168.7.0/24\"}}]}]}",
				      &r),
			 201);
	http_resp_free(&r);
	assert_int_equal(podnet_get_from(podnet_outside_port, 10, url, ca.cert_pem, NULL, &a), 401);
	/* A port no rule lists is dropped too, from the namespace it admits. */
	assert_int_equal(apply_policy("podf", "only-web",
				      "{\"podSelector\":{},\"ingress\":[{\"from\":[{"
				      "\"namespaceSelector\":{\"matchLabels\":{"
				      "\"kubernetes.io/metadata.name\":\"apps\"}}}],"
				      "\"ports\":[{\"port\":9300}]}]}",
				      &r),
			 200);
	http_resp_free(&r);
	assert_int_equal(podnet_get_from(podnet_apps_port, 2, url, ca.cert_pem, NULL, &a),
			 -(long)CURLE_OPERATION_TIMEDOUT);
	pki_pair_free(&ca);
	pki_pair_free(&node);
}

/* A 7.17 or 8.x node parses its query parameters by its REST API's
 * specification before anything else (BaseRestHandler): a name the API does
 * not take, or a value the handler cannot parse, is a 400
 * illegal_argument_exception, with the names more than half similar
 * suggested.  Versions without a specification here take everything. */
static void test_es_unknown_query_parameter_is_a_400(void **state)
{
	static const struct {
		const char *ns, *path;
		long status;
		const char *reason; /* of the 400 */
	} reqs[] = {
		{"q8", "/_cat/nodes?format=json&local=true", 400,
		 "request [/_cat/nodes] contains unrecognized parameter: [local]"},
		{"q7", "/_cat/nodes?format=json&local=true", 200, NULL},
		{"q7", "/_cat/nodes?locl=true", 400,
		 "request [/_cat/nodes] contains unrecognized parameter: [locl] -> did you mean "
		 "[local]?"},
		{"q8", "/_cat/nodes?fromat=json&zzz=1", 400,
		 "request [/_cat/nodes] contains unrecognized parameters: [fromat] -> did you mean "
		 "[format]?, [zzz]"},
		{"q8", "/_cluster/health?wait_for_staus=green", 400,
		 "request [/_cluster/health] contains unrecognized parameter: [wait_for_staus] -> "
		 "did you mean any of [wait_for_status, wait_for_nodes, wait_for_events, "
		 "wait_for_active_shards]?"},
		{"q8", "/_cluster/health?wait_for_status=blue", 400,
		 "unknown cluster health status [blue]"},
		{"q8", "/_cluster/health?wait_for_status=GREEN&timeout=1s", 200, NULL},
		{"q7", "/_cluster/health?wait_for_events=soon", 400,
		 "No enum constant org.elasticsearch.common.Priority.SOON"},
		{"q8", "/_cat/indices?expand_wildcards=open,shut", 400,
		 "No valid expand wildcard value [shut]"},
		{"q8", "/_cat/nodes?v=yes", 400,
		 "Failed to parse value [yes] as only [true] or [false] are allowed."},
		{"q8", "/_cat/nodes?v&pretty&filter_path=x", 200, NULL},
		/* A bad parameter is refused before the method is looked at only
		 * where the path and method are an API's. */
		{"q8", "/_flush/synced?local=true", 400,
		 "no handler found for uri [/_flush/synced?local=true] and method [GET]"},
		{"q6", "/_cat/nodes?format=json&local=true&bogus=1", 200, NULL},
	};
	make_cluster("q8", 1, "8.17.0");
	make_cluster("q7", 1, "7.17.10");
	make_cluster("q6", 1, "6.8.23");
	es_wait_green("q8", 2);
	es_wait_green("q7", 2);
	es_wait_green("q6", 2);
	for (size_t i = 0; i < ARRAY_SIZE(reqs); i++) {
		struct http_resp r;
		long st = call("GET", es_path(reqs[i].ns, reqs[i].path), NULL, &r);
		if (st != reqs[i].status)
			fail_msg("GET %s on %s: %ld, not %ld", reqs[i].path, reqs[i].ns, st,
				 reqs[i].status);
		if (reqs[i].reason && json_is_object(json_object_get(r.body, "error"))) {
			assert_string_equal(jstr(r.body, "error.type"),
					    "illegal_argument_exception");
			assert_string_equal(jstr(r.body, "error.root_cause.0.type"),
					    "illegal_argument_exception");
			assert_string_equal(jstr(r.body, "error.reason"), reqs[i].reason);
			assert_int_equal(json_integer_value(json_object_get(r.body, "status")),
					 400);
		} else if (reqs[i].reason) {
			assert_string_equal(jstr(r.body, "error"), reqs[i].reason);
		}
		http_resp_free(&r);
	}
	/* A parameter without a value is on (RestRequest.paramAsBoolean):
	 * ?v gives the header line, as curl users type it. */
	struct http_resp r;
	assert_int_equal(call("GET", es_path("q8", "/_cat/nodes?v"), NULL, &r), 200);
	if (strncmp(r.raw, "ip ", 3) != 0)
		fail_msg("_cat/nodes?v has no header line: %s", r.raw);
	http_resp_free(&r);
}

/* --- snapshots and restores ------------------------------------------------------- */

/*
 * A cluster of replicas master-and-data nodes of version in ns, each pod
 * mounting the volume volume_json (a pod volume named "snaps") at
 * /mnt/snaps, with path.repo set to repo (NULL: not set).
 */
static void make_repo_cluster(const char *ns, const char *version, int replicas, const char *repo,
			      const char *volume_json)
{
	struct http_resp r;
	char path[256], body[4096], lines[256];
	snprintf(lines, sizeof(lines), "%s%s%s", repo ? "path.repo: " : "", repo ? repo : "",
		 repo ? "\\n" : "");
	make_namespace(ns);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/es-file", ns);
	snprintf(
		body, sizeof(body),
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"es-file\"},"
		"\"data\":{\"elasticsearch.yml\":\"cluster.initial_master_nodes:\\n- "
		"es-0-%s\\n%s\"}}",
		ns, lines);
	assert_int_equal(apply(path, body, &r), 201);
	http_resp_free(&r);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/services/es-%s", ns, ns);
	snprintf(body, sizeof(body), SERVICE, ns);
	assert_int_equal(apply(path, body, &r), 201);
	http_resp_free(&r);
	snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/statefulsets/es", ns);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"metadata\":{\"name\":"
		 "\"es\"},\"spec\":{\"replicas\":%d,\"serviceName\":\"es\",\"podManagementPolicy\":"
		 "\"Parallel\",\"selector\":{\"matchLabels\":{\"app\":\"es\"}},\"template\":{"
		 "\"metadata\":{\"labels\":{\"app\":\"es\"}},\"spec\":{\"volumes\":[{\"name\":"
		 "\"config\",\"configMap\":{\"name\":\"es-file\"}},%s],\"containers\":[{\"name\":"
		 "\"es\",\"image\":\"docker.elastic.co/elasticsearch/"
		 "elasticsearch:%s\",\"env\":[%s],"
		 "\"volumeMounts\":[{\"name\":\"config\",\"mountPath\":\"/usr/share/"
		 "elasticsearch/config/elasticsearch.yml\",\"subPath\":\"elasticsearch.yml\"},"
		 "{\"name\":\"snaps\",\"mountPath\":\"/mnt/snaps\"}],\"resources\":{\"requests\":"
		 "{\"cpu\":\"500m\",\"memory\":\"1Gi\"}}}]}}}}",
		 replicas, volume_json, version,
		 strtol(version, NULL, 10) >= 8
			 ? "{\"name\":\"xpack.security.enabled\",\"value\":\"false\"}"
			 : "");
	assert_int_equal(apply(path, body, &r), 201);
	http_resp_free(&r);
}

#define NFS_VOLUME(export) \
	"{\"name\":\"snaps\",\"nfs\":{\"server\":\"nfs.storage.svc\",\"path\":\"" export "\"}}"

static long es_call(const char *ns, const char *method, const char *rest, const char *body,
		    struct http_resp *r)
{
	return call(method, es_path(ns, rest), body, r);
}

static void es_ok(const char *ns, const char *method, const char *rest, const char *body)
{
	struct http_resp r;
	long code = es_call(ns, method, rest, body, &r);
	if (code != 200 && code != 201)
		fprintf(stderr, "%s %s: %ld %s\n", method, rest, code, r.raw ? r.raw : "");
	assert_true(code == 200 || code == 201);
	http_resp_free(&r);
}

static const char *root_reason(struct http_resp *r)
{
	return jstr(json_array_get(jget(r->body, "error.root_cause"), 0), "reason");
}

static json_int_t es_count(const char *ns, const char *index)
{
	struct http_resp r;
	char rest[128];
	snprintf(rest, sizeof(rest), "/%s/_count", index);
	assert_int_equal(es_call(ns, "GET", rest, NULL, &r), 200);
	json_int_t n = jint(r.body, "count");
	http_resp_free(&r);
	return n;
}

/* An fs repository's location must be under path.repo, a node setting,
 * and every node must see the one folder: a volume each pod has for
 * itself fails the verification, one NFS export mounted by all passes. */
static void test_es_fs_repository_needs_path_repo_and_a_shared_folder(void **state)
{
	struct http_resp r;
	make_repo_cluster("repo-none", "7.17.10", 2, NULL, NFS_VOLUME("/exports/none"));
	make_repo_cluster("repo-own", "7.17.10", 2, "/mnt/snaps",
			  "{\"name\":\"snaps\",\"emptyDir\":{}}");
	make_repo_cluster("repo-nfs", "7.17.10", 2, "/mnt/snaps", NFS_VOLUME("/exports/nfs"));
	es_wait_green("repo-none", 2);
	es_wait_green("repo-own", 2);
	es_wait_green("repo-nfs", 2);
	const char *reg = "{\"type\":\"fs\",\"settings\":{\"location\":\"/mnt/snaps/r\"}}";

	assert_int_equal(es_call("repo-none", "PUT", "/_snapshot/r", reg, &r), 500);
	assert_string_equal(jstr(r.body, "error.type"), "repository_exception");
	assert_string_equal(jstr(r.body, "error.reason"), "[r] failed to create repository");
	assert_string_equal(root_reason(&r),
			    "[r] location [/mnt/snaps/r] doesn't match any of the locations "
			    "specified by path.repo because this setting is empty");
	http_resp_free(&r);
	assert_int_equal(es_call("repo-nfs", "PUT", "/_snapshot/r",
				 "{\"type\":\"fs\",\"settings\":{\"location\":\"/tmp/r\"}}", &r),
			 500);
	assert_string_equal(root_reason(&r), "[r] location [/tmp/r] doesn't match any of the "
					     "locations specified by path.repo");
	http_resp_free(&r);

	/* Each pod's own folder: the master's file is not on the other node. */
	assert_int_equal(es_call("repo-own", "PUT", "/_snapshot/r", reg, &r), 500);
	assert_string_equal(jstr(r.body, "error.type"), "repository_verification_exception");
	assert_non_null(strstr(jstr(r.body, "error.reason"), "internal:admin/repository/verify"));
	http_resp_free(&r);
	/* Registered all the same: it was in the cluster state before. */
	assert_int_equal(es_call("repo-own", "GET", "/_snapshot/r", NULL, &r), 200);
	assert_string_equal(jstr(r.body, "r.type"), "fs");
	http_resp_free(&r);

	assert_int_equal(es_call("repo-nfs", "PUT", "/_snapshot/r", reg, &r), 200);
	assert_true(json_is_true(jget(r.body, "acknowledged")));
	http_resp_free(&r);
	assert_int_equal(es_call("repo-nfs", "GET", "/_snapshot/other", NULL, &r), 404);
	assert_string_equal(jstr(r.body, "error.type"), "repository_missing_exception");
	http_resp_free(&r);
}

static bool index_green(struct http_resp *r, const void *arg)
{
	return r->status == 200 && jstr(r->body, "status") &&
	       !strcmp(jstr(r->body, "status"), "green");
}

static bool index_red(struct http_resp *r, const void *arg)
{
	(void)arg;
	return r->status == 200 && jstr(r->body, "status") &&
	       !strcmp(jstr(r->body, "status"), "red");
}

/* The simulator holds a request of the namespace (arg). */
static bool holds_a_request(struct http_resp *r, const void *arg)
{
	char path[128];
	snprintf(path, sizeof(path), "clusters.%s.held_requests", (const char *)arg);
	return r->status == 200 && jint(r->body, path) >= 1;
}

/* An index of ns with these shards and replicas, the cluster green again. */
static void es_index(const char *ns, int nodes, const char *index, int shards, int replicas)
{
	char path[128], body[128];
	snprintf(path, sizeof(path), "/%s", index);
	snprintf(body, sizeof(body),
		 "{\"settings\":{\"index\":{\"number_of_shards\":%d,\"number_of_replicas\":%d}}}",
		 shards, replicas);
	es_ok(ns, "PUT", path, body);
	es_wait_green(ns, nodes);
}

/*
 * A document for a shard whose primary is not active waits for it, for
 * the request's timeout (1m by default), then is the 503
 * unavailable_shards_exception naming the timeout and the request; one
 * still held when its primary starts is written.
 */
static void test_es_write_to_an_unavailable_shard_waits_for_its_primary(void **state)
{
	(void)state;
	struct http_resp r;
	make_cluster("nowrite", 1, "7.17.10");
	es_wait_green("nowrite", 2);
	es_index("nowrite", 2, "one", 1, 0);
	es_ok("nowrite", "POST", "/one/_doc", "{\"n\":1}");
	assert_int_equal(call("DELETE", "/api/v1/namespaces/nowrite/pods/es-data-0", NULL, &r),
			 200);
	http_resp_free(&r);
	assert_true(
		wait_until(es_path("nowrite", "/_cluster/health/one"), index_red, NULL, 60000, &r));
	http_resp_free(&r);
	/* The Service still lists the gone pod a moment (its endpoints lag):
	 * until the proxy reaches a node, its own 503 Status. */
	int64_t start, took;
	for (int i = 0;; i++) {
		start = harness_now_ms();
		assert_int_equal(
			es_call("nowrite", "POST", "/one/_doc?timeout=1s", "{\"n\":2}", &r), 503);
		took = harness_now_ms() - start;
		if (!jstr(r.body, "kind"))
			break;
		if (i > 400)
			fail_msg("the proxy never reached a node: %s", r.raw);
		http_resp_free(&r);
		msleep(25);
	}
	assert_string_equal(jstr(r.body, "error.type"), "unavailable_shards_exception");
	assert_non_null(strstr(jstr(r.body, "error.reason"),
			       "[one][0] primary shard is not active Timeout: [1s], request: "
			       "[BulkShardRequest [[one][0]] containing [index {[one][_doc]["));
	http_resp_free(&r);
	assert_true(took >= 1000);
	assert_int_equal(es_count("nowrite", "one"), 0); /* its shard answers no count */

	/* A primary that allocation holds back: a document sent meanwhile
	 * (curl, in the background, with the default minute) is held, then
	 * written once the primary starts. */
	es_ok("nowrite", "PUT", "/_cluster/settings",
	      "{\"transient\":{\"cluster.routing.allocation.enable\":\"none\"}}");
	assert_int_equal(es_call("nowrite", "PUT", "/later?timeout=1s",
				 "{\"settings\":{\"index\":{\"number_of_shards\":1,"
				 "\"number_of_replicas\":0}}}",
				 &r),
			 200);
	assert_false(json_is_true(json_object_get(r.body, "shards_acknowledged")));
	http_resp_free(&r);
	char cmd[4096], out[256], rcfile[256];
	snprintf(out, sizeof(out), "%s/doc.out", tmpdir);
	snprintf(rcfile, sizeof(rcfile), "%s/doc.rc", tmpdir);
	snprintf(cmd, sizeof(cmd),
		 "(curl -sS --max-time 60 --cacert '%s' -H 'Authorization: Bearer %s' "
		 "-H 'Content-Type: application/json' -d '{\"n\":3}' '%s%s' >'%s'; "
		 "echo $? >'%s.tmp'; mv '%s.tmp' '%s') &",
		 sim.ca, sim.token, sim.server, es_path("nowrite", "/later/_doc"), out, rcfile,
		 rcfile, rcfile);
	assert_int_equal(system(cmd), 0);
	assert_true(wait_until("/_sim/state", holds_a_request, "nowrite", 30000, &r));
	http_resp_free(&r);
	es_ok("nowrite", "PUT", "/_cluster/settings",
	      "{\"transient\":{\"cluster.routing.allocation.enable\":null}}");
	char *rc = NULL;
	for (int i = 0; !(rc = slurp(rcfile)); i++) {
		if (i > 1500)
			fail_msg("the held document was never answered");
		msleep(20);
	}
	assert_string_equal(rc, "0\n");
	free(rc);
	char *text = slurp(out);
	json_t *answer = json_loads(text ? text : "", 0, NULL);
	if (!answer || !jstr(answer, "result") || strcmp(jstr(answer, "result"), "created"))
		fail_msg("the held document's answer: %s", text ? text : "(none)");
	json_decref(answer);
	free(text);
	assert_int_equal(es_count("nowrite", "later"), 1);
}

/* --- disk usage and the watermarks ------------------------------------------------- */

/* The Kubernetes node a pod of ns runs on (newly allocated). */
static char *host_of(const char *ns, const char *pod)
{
	struct http_resp r;
	char path[256];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, pod);
	assert_int_equal(call("GET", path, NULL, &r), 200);
	char *host = xstrdup(jstr(r.body, "spec.nodeName"));
	http_resp_free(&r);
	return host;
}

/* Other files of `other` (a size) on a Kubernetes node's disk. */
static void put_other_files(const char *host, const char *other)
{
	struct http_resp r;
	char path[256], body[128];
	snprintf(path, sizeof(path), "/_sim/nodes/%s/disk", host);
	snprintf(body, sizeof(body), "{\"other_bytes\":\"%s\"}", other);
	assert_int_equal(call("PUT", path, body, &r), 200);
	http_resp_free(&r);
}

/* The names of the Kubernetes nodes (a new array). */
static json_t *all_hosts(void)
{
	struct http_resp r;
	size_t i;
	json_t *n, *names = json_array();
	assert_int_equal(call("GET", "/api/v1/nodes", NULL, &r), 200);
	json_array_foreach (json_object_get(r.body, "items"), i, n)
		json_array_append_new(names, json_string(jstr(n, "metadata.name")));
	http_resp_free(&r);
	return names;
}

/* The node named name in a _nodes/stats answer. */
static json_t *stats_of(json_t *answer, const char *name)
{
	const char *id;
	json_t *n;
	json_object_foreach (json_object_get(answer, "nodes"), id, n) {
		if (!strcmp(jstr(n, "name"), name))
			return n;
	}
	return NULL;
}

static json_t *row_of(json_t *rows, const char *node)
{
	size_t i;
	json_t *row;
	json_array_foreach (rows, i, row) {
		if (jstr(row, "node") && !strcmp(jstr(row, "node"), node))
			return row;
	}
	return NULL;
}

static long long row_num(json_t *row, const char *col)
{
	const char *v = json_string_value(json_object_get(row, col));
	assert_non_null(v);
	return strtoll(v, NULL, 10);
}

/*
 * Each node's data path is on its Kubernetes node's filesystem (100Gi by
 * default): _nodes/stats/fs and _cat/allocation report its total, what the
 * shard copies and the other files there use, and what is left; the
 * watermarks' defaults are among the cluster settings' defaults.
 */
static void test_es_disk_usage_is_reported_per_node(void **state)
{
	(void)state;
	struct http_resp r;
	const long long total = 100LL << 30;
	make_cluster("esdu", 2, "7.17.10");
	es_wait_green("esdu", 3);
	es_index("esdu", 3, "fill", 2, 1);
	char *host = host_of("esdu", "es-data-0");

	assert_int_equal(es_call("esdu", "GET", "/_nodes/stats/fs", NULL, &r), 200);
	json_t *n = stats_of(r.body, "es-data-0-esdu");
	assert_non_null(n);
	assert_int_equal(jint(n, "fs.total.total_in_bytes"), total);
	long long avail = jint(n, "fs.total.available_in_bytes");
	/* Two copies of 8mb (relocation_ms 200 at 40mb/s) at least. */
	assert_true(avail <= total - 2 * (8LL << 20));
	assert_int_equal(jint(n, "fs.total.free_in_bytes"), avail);
	http_resp_free(&r);

	put_other_files(host, "50gb");
	assert_int_equal(es_call("esdu", "GET", "/_nodes/es-data-0-esdu/stats/fs", NULL, &r), 200);
	assert_int_equal(jint(r.body, "_nodes.total"), 1);
	n = stats_of(r.body, "es-data-0-esdu");
	assert_non_null(n);
	assert_int_equal(jint(n, "fs.total.available_in_bytes"), avail - (50LL << 30));
	http_resp_free(&r);

	assert_int_equal(es_call("esdu", "GET", "/_cat/allocation?format=json&bytes=b", NULL, &r),
			 200);
	json_t *row = row_of(r.body, "es-data-0-esdu");
	assert_non_null(row);
	assert_int_equal(row_num(row, "shards"), 2);
	assert_int_equal(row_num(row, "disk.total"), total);
	assert_int_equal(row_num(row, "disk.avail"), avail - (50LL << 30));
	assert_int_equal(row_num(row, "disk.used") + row_num(row, "disk.avail"), total);
	assert_int_equal(row_num(row, "disk.percent"), row_num(row, "disk.used") * 100 / total);
	assert_true(row_num(row, "disk.indices") >= 2 * (8LL << 20));
	/* Data nodes only: the master has no row. */
	assert_null(row_of(r.body, "es-master-0-esdu"));
	http_resp_free(&r);
	assert_int_equal(es_call("esdu", "GET", "/_cat/allocation?v=true", NULL, &r), 200);
	assert_non_null(strstr(r.raw, "disk.percent"));
	assert_non_null(strstr(r.raw, "100gb"));
	http_resp_free(&r);

	assert_int_equal(es_call("esdu", "GET",
				 "/_cluster/settings?include_defaults=true&flat_settings=true",
				 NULL, &r),
			 200);
	json_t *defaults = json_object_get(r.body, "defaults");
	assert_string_equal(json_string_value(json_object_get(
				    defaults, "cluster.routing.allocation.disk.watermark.low")),
			    "85%");
	assert_string_equal(
		json_string_value(json_object_get(
			defaults, "cluster.routing.allocation.disk.watermark.flood_stage")),
		"95%");
	http_resp_free(&r);
	put_other_files(host, "0");
	free(host);
}

static bool replica_refused_for_disk(const char *ns, const char *node, char **said)
{
	struct http_resp r;
	size_t i;
	json_t *d;
	bool found = false;
	assert_true(request("POST", es_path(ns, "/_cluster/allocation/explain"), NULL,
			    "{\"index\":\"logs\",\"shard\":0,\"primary\":false}", true, 0, &r));
	if (r.status == 200 && jstr(r.body, "can_allocate") &&
	    !strcmp(jstr(r.body, "can_allocate"), "no")) {
		json_array_foreach (jget(r.body, "node_allocation_decisions"), i, d) {
			if (strcmp(jstr(d, "node_name"), node) != 0)
				continue;
			size_t k;
			json_t *dec;
			json_array_foreach (json_object_get(d, "deciders"), k, dec) {
				if (!strcmp(jstr(dec, "decider"), "disk_threshold") &&
				    !strcmp(jstr(dec, "decision"), "NO")) {
					*said = xstrdup(jstr(dec, "explanation"));
					found = true;
				}
			}
		}
	}
	http_resp_free(&r);
	return found;
}

/* The replica of index logs (one shard, a copy on each of the cluster's
 * data_nodes) of a cluster of version in ns, after the node es-data-1
 * restarted with every host's disk 88% used: its decider's NO, in the
 * version's words, which want holds; then room again, green. */
static void replica_kept_off_a_full_disk(const char *ns, const char *version, int data_nodes,
					 const char *want)
{
	struct http_resp r;
	char node[64], pods[128];
	make_cluster(ns, 2, version);
	es_wait_green(ns, 3);
	es_index(ns, 3, "logs", 1, data_nodes - 1);
	/* 88% of every Kubernetes node's disk, wherever the pod comes back:
	 * above the low watermark (85%), under the high one (90%). */
	json_t *hosts = all_hosts();
	size_t i;
	json_t *h;
	json_array_foreach (hosts, i, h)
		put_other_files(json_string_value(h), "88gb");
	snprintf(pods, sizeof(pods), "/api/v1/namespaces/%s/pods/es-data-1", ns);
	assert_int_equal(call("DELETE", pods, NULL, &r), 200);
	http_resp_free(&r);
	/* The node leaves, comes back, and its replica waits. */
	snprintf(node, sizeof(node), "es-data-1-%s", ns);
	char *said = NULL;
	int64_t end = harness_now_ms() + 30000;
	while (!replica_refused_for_disk(ns, node, &said) && harness_now_ms() < end)
		msleep(50);
	if (!said) {
		assert_true(request("POST", es_path(ns, "/_cluster/allocation/explain"), NULL,
				    "{\"index\":\"logs\",\"shard\":0,\"primary\":false}", true, 0,
				    &r));
		fail_msg("%s: the replica is not held back for its disk: %s", version, r.raw);
	}
	if (!strstr(said, want))
		fail_msg("%s: \"%s\" does not say \"%s\"", version, said, want);
	free(said);
	assert_int_equal(es_call(ns, "GET", "/_cluster/health", NULL, &r), 200);
	assert_string_equal(jstr(r.body, "status"), "yellow");
	assert_int_equal(jint(r.body, "number_of_data_nodes"), data_nodes);
	assert_int_equal(jint(r.body, "unassigned_shards"), 1);
	http_resp_free(&r);
	/* Room again: the replica is allocated. */
	json_array_foreach (hosts, i, h)
		put_other_files(json_string_value(h), "0");
	json_decref(hosts);
	es_wait_green(ns, 3);
}

/*
 * A node above the low watermark takes no replica, not even the one whose
 * files its disk holds: after it restarts, its copy stays unassigned and
 * the cluster yellow, the allocation explanation saying why in the
 * decider's words (8.5+ with the used share and the max_headroom that may
 * decide); once the disk has room again the replica comes back.
 */
static void test_es_replica_stays_off_a_node_above_the_low_watermark(void **state)
{
	(void)state;
	/* 7.17: the master is no data node; 8.x: it has every role. */
	replica_kept_off_a_full_disk(
		"eswm", "7.17.10", 2,
		"the node is above the low watermark cluster setting "
		"[cluster.routing.allocation.disk.watermark.low=85%], using "
		"more disk space than the maximum allowed [85.0%], actual free: "
		"[");
	replica_kept_off_a_full_disk(
		"eswm8", "8.17.0", 3,
		"the node is above the low watermark cluster setting "
		"[cluster.routing.allocation.disk.watermark.low=85%], having "
		"less than the minimum required [15gb] free space, actual free: "
		"[");
}

/*
 * The deprecation info API is X-Pack's: a default distribution's node
 * answers it, an -oss image's has no handler for it (400 "no handler
 * found"), as for any path it does not serve.
 */
static void test_es_deprecation_api_is_x_pack_only(void **state)
{
	(void)state;
	struct http_resp r;
	make_cluster("ossdep", 1, "oss:7.10.2");
	make_cluster("xdep", 1, "7.10.2");
	es_wait_green("ossdep", 2);
	es_wait_green("xdep", 2);
	assert_int_equal(es_call("ossdep", "GET", "/_migration/deprecations", NULL, &r), 400);
	assert_string_equal(jstr(r.body, "error"),
			    "no handler found for uri [/_migration/deprecations] and method [GET]");
	http_resp_free(&r);
	assert_int_equal(es_call("xdep", "GET", "/_migration/deprecations", NULL, &r), 200);
	assert_true(json_is_array(json_object_get(r.body, "cluster_settings")));
	assert_true(json_is_object(json_object_get(r.body, "index_settings")));
	http_resp_free(&r);
}

/* A snapshot keeps each shard's documents; a restore refuses an open
 * index of the same name, restores under a new name, and another cluster
 * mounting the same export restores it from a read-only repository. */
static void test_es_snapshot_and_restore_keep_document_counts(void **state)
{
	struct http_resp r;
	make_repo_cluster("snap-a", "7.17.10", 2, "/mnt/snaps", NFS_VOLUME("/exports/shared"));
	make_repo_cluster("snap-b", "7.17.10", 2, "/mnt/snaps", NFS_VOLUME("/exports/shared"));
	es_wait_green("snap-a", 2);
	es_wait_green("snap-b", 2);
	es_ok("snap-a", "PUT", "/logs",
	      "{\"settings\":{\"number_of_shards\":2,\"number_of_replicas\":1}}");
	for (int i = 0; i < 5; i++)
		es_ok("snap-a", "POST", "/logs/_doc", "{\"m\":1}");
	assert_int_equal(es_count("snap-a", "logs"), 5);
	/* A location relative to path.repo. */
	es_ok("snap-a", "PUT", "/_snapshot/r",
	      "{\"type\":\"fs\",\"settings\":{\"location\":\"a\"}}");
	assert_int_equal(es_call("snap-a", "PUT", "/_snapshot/r/Bad", "{}", &r), 400);
	assert_string_equal(jstr(r.body, "error.type"), "invalid_snapshot_name_exception");
	http_resp_free(&r);
	assert_int_equal(es_call("snap-a", "PUT", "/_snapshot/r/s1?wait_for_completion=true",
				 "{\"indices\":\"logs\",\"metadata\":{\"by\":\"test\"}}", &r),
			 200);
	assert_string_equal(jstr(r.body, "snapshot.state"), "SUCCESS");
	/* 7.3+ keeps the user's metadata with it. */
	assert_string_equal(jstr(r.body, "snapshot.metadata.by"), "test");
	assert_int_equal(jint(r.body, "snapshot.shards.total"), 2);
	assert_int_equal(jint(r.body, "snapshot.shards.successful"), 2);
	http_resp_free(&r);
	/* Indexed after the snapshot: not in it. */
	es_ok("snap-a", "POST", "/logs/_doc", "{\"m\":2}");
	assert_int_equal(es_call("snap-a", "GET", "/_snapshot/r/_all", NULL, &r), 200);
	assert_int_equal(json_array_size(jget(r.body, "snapshots")), 1);
	assert_int_equal(jint(r.body, "total"), 1);
	assert_string_equal(jstr(json_array_get(jget(r.body, "snapshots"), 0), "snapshot"), "s1");
	http_resp_free(&r);
	assert_int_equal(es_call("snap-a", "GET", "/_snapshot/r/s1/_status", NULL, &r), 200);
	json_t *st1 = json_array_get(jget(r.body, "snapshots"), 0);
	json_int_t whole = jint(st1, "stats.total.size_in_bytes");
	assert_true(whole > 0);
	/* The first snapshot copies every file. */
	assert_int_equal(jint(st1, "stats.incremental.size_in_bytes"), whole);
	assert_int_equal(jint(st1, "stats.incremental.file_count"), 2);
	http_resp_free(&r);
	/* Incremental: the shard written to since s1 is copied again, the
	 * other is in the repository already; then nothing is new. */
	es_ok("snap-a", "PUT", "/_snapshot/r/s2?wait_for_completion=true",
	      "{\"indices\":\"logs\"}");
	es_ok("snap-a", "PUT", "/_snapshot/r/s3?wait_for_completion=true",
	      "{\"indices\":\"logs\"}");
	assert_int_equal(es_call("snap-a", "GET", "/_snapshot/r/s2,s3/_status", NULL, &r), 200);
	for (size_t i = 0; i < 2; i++) {
		json_t *st = json_array_get(jget(r.body, "snapshots"), i);
		bool second = !strcmp(jstr(st, "snapshot"), "s2");
		assert_int_equal(jint(st, "stats.total.size_in_bytes"), whole);
		assert_int_equal(jint(st, "stats.incremental.size_in_bytes"),
				 second ? whole / 2 : 0);
		assert_int_equal(jint(st, "stats.incremental.file_count"), second ? 1 : 0);
	}
	http_resp_free(&r);
	es_ok("snap-a", "DELETE", "/_snapshot/r/s2", NULL);
	es_ok("snap-a", "DELETE", "/_snapshot/r/s3", NULL);
	assert_int_equal(es_call("snap-a", "GET", "/_snapshot/r/nope", NULL, &r), 404);
	assert_string_equal(jstr(r.body, "error.type"), "snapshot_missing_exception");
	http_resp_free(&r);

	assert_int_equal(es_call("snap-a", "POST", "/_snapshot/r/s1/_restore", "{}", &r), 500);
	assert_string_equal(jstr(r.body, "error.type"), "snapshot_restore_exception");
	assert_non_null(strstr(jstr(r.body, "error.reason"),
			       "cannot restore index [logs] because an open index with same name "
			       "already exists in the cluster"));
	http_resp_free(&r);
	assert_int_equal(es_call("snap-a", "POST",
				 "/_snapshot/r/s1/_restore?wait_for_completion=true",
				 "{\"indices\":\"logs\",\"rename_pattern\":\"(.+)\","
				 "\"rename_replacement\":\"restored-$1\"}",
				 &r),
			 200);
	assert_string_equal(json_string_value(json_array_get(jget(r.body, "snapshot.indices"), 0)),
			    "restored-logs");
	http_resp_free(&r);
	assert_int_equal(es_count("snap-a", "restored-logs"), 5);
	/* Its primaries recovered from the snapshot, which the recovery API names. */
	assert_int_equal(es_call("snap-a", "GET", "/restored-logs/_recovery", NULL, &r), 200);
	{
		json_t *sh = jget(r.body, "restored-logs.shards");
		bool from_snapshot = false;
		for (size_t i = 0; i < json_array_size(sh); i++) {
			json_t *one = json_array_get(sh, i);
			if (json_is_true(json_object_get(one, "primary")) &&
			    !strcmp(jstr(one, "type"), "SNAPSHOT") &&
			    !strcmp(jstr(one, "source.index"), "logs") &&
			    !strcmp(jstr(one, "source.snapshot"), "s1"))
				from_snapshot = true;
		}
		assert_true(from_snapshot);
	}
	http_resp_free(&r);
	assert_int_equal(es_count("snap-a", "logs"), 6);
	assert_true(wait_until(es_path("snap-a", "/_cluster/health/restored-logs"), index_green,
			       NULL, 30000, &r));
	http_resp_free(&r);

	/* The other cluster, read-only on the same folder. */
	es_ok("snap-b", "PUT", "/_snapshot/src",
	      "{\"type\":\"fs\",\"settings\":{\"location\":\"a\",\"readonly\":true}}");
	assert_int_equal(es_call("snap-b", "PUT", "/_snapshot/src/s2", "{}", &r), 500);
	assert_non_null(strstr(root_reason(&r), "cannot create snapshot in a readonly repository"));
	http_resp_free(&r);
	assert_int_equal(es_call("snap-b", "POST", "/_snapshot/src/s1/_restore", "{}", &r), 200);
	assert_true(json_is_true(jget(r.body, "accepted")));
	http_resp_free(&r);
	/* Red while the primaries copy their files, then green. */
	assert_true(wait_until(es_path("snap-b", "/_cluster/health/logs"), index_green, NULL, 30000,
			       &r));
	http_resp_free(&r);
	assert_int_equal(es_count("snap-b", "logs"), 5);

	es_ok("snap-a", "DELETE", "/_snapshot/r/s1", NULL);
	assert_int_equal(es_call("snap-a", "GET", "/_snapshot/r/s1", NULL, &r), 404);
	http_resp_free(&r);
}

static bool snapshot_state_is(struct http_resp *r, const void *arg)
{
	return r->status == 200 &&
	       !strcmp(jstr(json_array_get(jget(r->body, "snapshots"), 0), "state") ?: "",
		       (const char *)arg);
}

/* The one recovery of `shards` whose copy is (or is not) a primary. */
static json_t *recovery_of_copy(json_t *shards, bool primary)
{
	json_t *found = NULL;
	size_t i;
	json_t *one;
	json_array_foreach (shards, i, one) {
		if (json_is_true(json_object_get(one, "primary")) == primary) {
			if (found)
				fail_msg("two recoveries of one copy: %s", json_dumps(shards, 0));
			found = one;
		}
	}
	if (!found)
		fail_msg("no recovery of the %s", primary ? "primary" : "replica");
	return found;
}

/* The index's one primary came back from the files on its node. */
static bool recovered_from_its_store(struct http_resp *r, const void *arg)
{
	(void)arg;
	json_t *one = json_array_get(jget(r->body, "solo.shards"), 0);
	return r->status == 200 && one && jstr(one, "type") &&
	       !strcmp(jstr(one, "type"), "EXISTING_STORE") && !strcmp(jstr(one, "stage"), "DONE");
}

/*
 * GET _recovery reports each copy's last recovery as the version names
 * it: a new index's primary from an empty store (no source from 6.0,
 * its own node before), the replica from the primary's node (PEER;
 * REPLICA in 5.x); while a copy moves, its target's recovery from the
 * node it leaves, alone under active_only; once moved, the move is the
 * copy's last recovery.
 */
static void test_es_recovery_api_reports_each_copys_last_recovery(void **state)
{
	(void)state;
	struct http_resp r, fault_resp;
	make_cluster("lastrec", 3, "7.17.10");
	es_wait_green("lastrec", 4);
	es_index("lastrec", 4, "idx", 1, 1);
	assert_int_equal(es_call("lastrec", "GET", "/idx/_recovery", NULL, &r), 200);
	json_t *shards = jget(r.body, "idx.shards");
	assert_int_equal(json_array_size(shards), 2);
	json_t *p = recovery_of_copy(shards, true), *rep = recovery_of_copy(shards, false);
	assert_string_equal(jstr(p, "type"), "EMPTY_STORE");
	assert_string_equal(jstr(p, "stage"), "DONE");
	assert_int_equal(json_object_size(json_object_get(p, "source")), 0);
	char primary_node[128], replica_node[128];
	snprintf(primary_node, sizeof(primary_node), "%s", jstr(p, "target.name"));
	snprintf(replica_node, sizeof(replica_node), "%s", jstr(rep, "target.name"));
	assert_string_equal(jstr(rep, "type"), "PEER");
	assert_string_equal(jstr(rep, "stage"), "DONE");
	assert_string_equal(jstr(rep, "source.name"), primary_node);
	assert_non_null(strstr(jstr(rep, "target.transport_address"), ":9300"));
	assert_true(jint(rep, "stop_time_in_millis") >= jint(rep, "start_time_in_millis"));
	http_resp_free(&r);

	/* The replica moves off its node, slowly enough to be seen moving. */
	es_ok("lastrec", "PUT", "/_cluster/settings",
	      "{\"transient\":{\"indices.recovery.max_bytes_per_sec\":\"1mb\"}}");
	char body[256];
	snprintf(body, sizeof(body),
		 "{\"transient\":{\"cluster.routing.allocation.exclude._name\":\"%s\"}}",
		 replica_node);
	es_ok("lastrec", "PUT", "/_cluster/settings", body);
	bool seen_moving = false;
	for (int i = 0; i < 400 && !seen_moving; i++) {
		assert_int_equal(es_call("lastrec", "GET", "/_recovery?active_only=true", NULL, &r),
				 200);
		json_t *active = jget(r.body, "idx.shards");
		if (json_array_size(active) > 0) {
			assert_int_equal(json_array_size(active), 1);
			json_t *m = json_array_get(active, 0);
			assert_string_equal(jstr(m, "type"), "PEER");
			assert_false(json_is_true(json_object_get(m, "primary")));
			assert_string_equal(jstr(m, "source.name"), replica_node);
			assert_string_not_equal(jstr(m, "target.name"), replica_node);
			assert_string_not_equal(jstr(m, "target.name"), primary_node);
			assert_null(json_object_get(m, "stop_time_in_millis"));
			seen_moving = true;
		}
		http_resp_free(&r);
		if (!seen_moving)
			msleep(25);
	}
	assert_true(seen_moving);
	/* Both the moving copy's last recovery and its target's, meanwhile. */
	assert_int_equal(es_call("lastrec", "GET", "/idx/_recovery", NULL, &r), 200);
	size_t during = json_array_size(jget(r.body, "idx.shards"));
	http_resp_free(&r);
	assert_true(during == 3 || during == 2); /* 2 if the move ended in between */
	assert_true(wait_until(es_path("lastrec", "/_cat/shards?format=json&h=index,shard,prirep,"
						  "state,node"),
			       nothing_on, replica_node, 30000, &r));
	http_resp_free(&r);
	assert_int_equal(es_call("lastrec", "GET", "/idx/_recovery", NULL, &r), 200);
	shards = jget(r.body, "idx.shards");
	assert_int_equal(json_array_size(shards), 2);
	rep = recovery_of_copy(shards, false);
	assert_string_equal(jstr(rep, "type"), "PEER");
	assert_string_equal(jstr(rep, "stage"), "DONE");
	assert_string_equal(jstr(rep, "source.name"), replica_node);
	assert_true(jint(rep, "index.size.recovered_in_bytes") > 0);
	assert_int_equal(jint(rep, "index.size.recovered_in_bytes"),
			 jint(rep, "index.size.total_in_bytes"));
	assert_string_equal(jstr(rep, "index.size.percent"), "100.0%");
	assert_string_equal(jstr(recovery_of_copy(shards, true), "type"), "EMPTY_STORE");
	http_resp_free(&r);
	/* Nothing moves any more. */
	assert_int_equal(es_call("lastrec", "GET", "/_recovery?active_only=true", NULL, &r), 200);
	assert_null(json_object_get(r.body, "idx"));
	http_resp_free(&r);

	/* A primary without a replica whose node restarts recovers from the
	 * files on its disk. */
	es_index("lastrec", 4, "solo", 1, 0);
	assert_int_equal(es_call("lastrec", "GET", "/solo/_recovery", NULL, &r), 200);
	char solo_node[128], pod_path[256];
	snprintf(solo_node, sizeof(solo_node), "%s",
		 jstr(recovery_of_copy(jget(r.body, "solo.shards"), true), "target.name"));
	http_resp_free(&r);
	/* The node is "<pod>-<namespace>". */
	size_t pod_len = strlen(solo_node) - strlen("-lastrec");
	snprintf(pod_path, sizeof(pod_path), "/api/v1/namespaces/lastrec/pods/%.*s", (int)pod_len,
		 solo_node);
	/* Its successor must come back to the same host, where the files
	 * are (these pods have no volume that pins them): every other node
	 * is unschedulable until it has. */
	assert_int_equal(call("GET", pod_path, NULL, &r), 200);
	char host[64];
	snprintf(host, sizeof(host), "%s", jstr(r.body, "spec.nodeName"));
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/nodes", NULL, &r), 200);
	json_t *others = json_array();
	size_t k;
	json_t *node;
	json_array_foreach (json_object_get(r.body, "items"), k, node)
		if (strcmp(jstr(node, "metadata.name"), host))
			json_array_append_new(others, json_string(jstr(node, "metadata.name")));
	http_resp_free(&r);
	json_t *fault = json_pack("{s:o}", "unschedulable_nodes", others);
	char *fault_text = json_dumps(fault, JSON_COMPACT);
	assert_int_equal(call("POST", "/_sim/faults", fault_text, &r), 200);
	http_resp_free(&r);
	free(fault_text);
	json_decref(fault);
	assert_int_equal(call("DELETE", pod_path, NULL, &r), 200);
	http_resp_free(&r);
	assert_true(wait_until(es_path("lastrec", "/solo/_recovery"), recovered_from_its_store,
			       NULL, 60000, &r));
	assert_int_equal(call("DELETE", "/_sim/faults", NULL, &fault_resp), 200);
	http_resp_free(&fault_resp);
	p = recovery_of_copy(jget(r.body, "solo.shards"), true);
	assert_string_equal(jstr(p, "type"), "EXISTING_STORE");
	assert_string_equal(jstr(p, "target.name"), solo_node);
	assert_true(jint(p, "index.size.reused_in_bytes") > 0);
	assert_int_equal(jint(p, "index.size.reused_in_bytes"),
			 jint(p, "index.size.total_in_bytes"));
	http_resp_free(&r);

	/* 5.x's names: a store's source is its own node, a replica's kind
	 * REPLICA. */
	make_cluster("lastrec5", 2, "5.6.16");
	es_wait_green("lastrec5", 3);
	es_index("lastrec5", 3, "idx", 1, 1);
	assert_int_equal(es_call("lastrec5", "GET", "/idx/_recovery", NULL, &r), 200);
	shards = jget(r.body, "idx.shards");
	p = recovery_of_copy(shards, true);
	assert_string_equal(jstr(p, "type"), "STORE");
	assert_string_equal(jstr(p, "source.name"), jstr(p, "target.name"));
	rep = recovery_of_copy(shards, false);
	assert_string_equal(jstr(rep, "type"), "REPLICA");
	assert_string_equal(jstr(rep, "source.name"), jstr(p, "target.name"));
	http_resp_free(&r);
}

/* Before 7.9 a cluster runs one snapshot at a time; from 7.9 several. */
static void test_es_snapshots_run_one_at_a_time_before_7_9(void **state)
{
	struct http_resp r;
	static const char *const versions[] = {"6.8.23", "7.17.10"};
	static const char *const names[] = {"conc-6", "conc-7"};
	for (int i = 0; i < 2; i++)
		make_repo_cluster(names[i], versions[i], 2, "/mnt/snaps",
				  NFS_VOLUME("/exports/conc"));
	for (int i = 0; i < 2; i++) {
		char reg[256];
		es_wait_green(names[i], 2);
		es_ok(names[i], "PUT", "/big", "{\"settings\":{\"number_of_replicas\":0}}");
		/* Slow: a shard's files take hours at a kilobyte a second. */
		snprintf(reg, sizeof(reg),
			 "{\"type\":\"fs\",\"settings\":{\"location\":\"%s\","
			 "\"max_snapshot_bytes_per_sec\":\"1kb\"}}",
			 names[i]);
		es_ok(names[i], "PUT", "/_snapshot/r", reg);
		assert_int_equal(es_call(names[i], "PUT", "/_snapshot/r/one", "{}", &r), 200);
		assert_true(json_is_true(jget(r.body, "accepted")));
		http_resp_free(&r);
		assert_true(wait_until(es_path(names[i], "/_snapshot/r/one"), snapshot_state_is,
				       "IN_PROGRESS", 30000, &r));
		/* The 7.15+ answer counts them; 6.8's has no total. */
		assert_true((jget(r.body, "total") != NULL) == (i == 1));
		http_resp_free(&r);
		long code = es_call(names[i], "PUT", "/_snapshot/r/two", "{}", &r);
		if (i == 0) {
			assert_int_equal(code, 503);
			assert_string_equal(jstr(r.body, "error.type"),
					    "concurrent_snapshot_execution_exception");
			assert_string_equal(jstr(r.body, "error.reason"),
					    "[r:two] a snapshot is already running");
		} else {
			assert_int_equal(code, 200);
		}
		http_resp_free(&r);
		/* Deleting a running snapshot aborts it. */
		es_ok(names[i], "DELETE", "/_snapshot/r/one", NULL);
		if (i == 1)
			es_ok(names[i], "DELETE", "/_snapshot/r/two", NULL);
		assert_int_equal(es_call(names[i], "GET", "/_snapshot/r/_all", NULL, &r), 200);
		assert_int_equal(json_array_size(jget(r.body, "snapshots")), 0);
		http_resp_free(&r);
	}
}

/* A snapshot restores into its own major or the next one only, never
 * into an older version. */
static void test_es_restore_follows_version_compatibility(void **state)
{
	struct http_resp r;
	make_repo_cluster("compat-6", "6.8.23", 2, "/mnt/snaps", NFS_VOLUME("/exports/compat"));
	make_repo_cluster("compat-7", "7.17.10", 2, "/mnt/snaps", NFS_VOLUME("/exports/compat"));
	make_repo_cluster("compat-8", "8.17.0", 2, "/mnt/snaps", NFS_VOLUME("/exports/compat"));
	es_wait_green("compat-6", 2);
	es_wait_green("compat-7", 2);
	es_wait_green("compat-8", 2);
	es_ok("compat-6", "PUT", "/old", "{}");
	es_ok("compat-6", "POST", "/old/doc", "{\"m\":1}");
	es_ok("compat-6", "PUT", "/_snapshot/r",
	      "{\"type\":\"fs\",\"settings\":{\"location\":\"six\"}}");
	es_ok("compat-6", "PUT", "/_snapshot/r/s6?wait_for_completion=true", "{}");
	es_ok("compat-7", "PUT", "/_snapshot/r",
	      "{\"type\":\"fs\",\"settings\":{\"location\":\"seven\"}}");
	es_ok("compat-7", "PUT", "/new", "{}");
	es_ok("compat-7", "PUT", "/_snapshot/r/s7?wait_for_completion=true", "{}");
	es_ok("compat-7", "PUT", "/_snapshot/six",
	      "{\"type\":\"fs\",\"settings\":{\"location\":\"six\",\"readonly\":true}}");
	es_ok("compat-8", "PUT", "/_snapshot/six",
	      "{\"type\":\"fs\",\"settings\":{\"location\":\"six\",\"readonly\":true}}");
	es_ok("compat-6", "PUT", "/_snapshot/seven",
	      "{\"type\":\"fs\",\"settings\":{\"location\":\"seven\",\"readonly\":true}}");

	/* 6.8 into 7.17: the next major. */
	assert_int_equal(es_call("compat-7", "POST",
				 "/_snapshot/six/s6/_restore?wait_for_completion=true", "{}", &r),
			 200);
	http_resp_free(&r);
	assert_int_equal(es_count("compat-7", "old"), 1);
	/* 6.8 into 8.17: two majors on. */
	assert_int_equal(es_call("compat-8", "POST", "/_snapshot/six/s6/_restore", "{}", &r), 500);
	assert_string_equal(jstr(r.body, "error.type"), "illegal_state_exception");
	assert_non_null(strstr(jstr(r.body, "error.reason"),
			       "but the minimum compatible version is [7.0.0]"));
	http_resp_free(&r);
	/* 7.17 into 6.8: older. */
	assert_int_equal(es_call("compat-6", "POST", "/_snapshot/seven/s7/_restore", "{}", &r),
			 500);
	assert_string_equal(jstr(r.body, "error.type"), "snapshot_restore_exception");
	assert_non_null(
		strstr(jstr(r.body, "error.reason"),
		       "the snapshot was created with Elasticsearch version [7.17.10] which "
		       "is higher than the version of this node [6.8.23]"));
	http_resp_free(&r);
}

/*
 * 9.x reads an index created in 7.x only once 8.18+ has marked it
 * read-only: a node of 9.x over an unmarked one stops, naming it; the add
 * index block API on 7.17 blocks writes without the mark, on 8.19 adds it,
 * and the deprecation info API turns the index's critical issue into a
 * warning; the 9.x node then starts and joins, and says what it reads and
 * talks to.
 */
static void version_node(const char *ns, const char *name, const char *version);

static void test_es_9x_reads_7x_indices_only_marked_read_only(void **state)
{
	struct http_resp r;
	make_repo_cluster("ro-7", "7.17.10", 2, "/mnt/snaps", NFS_VOLUME("/exports/ro"));
	make_repo_cluster("ro-8", "8.19.20", 2, "/mnt/snaps", NFS_VOLUME("/exports/ro"));
	es_wait_green("ro-7", 2);
	es_wait_green("ro-8", 2);
	es_ok("ro-7", "PUT", "/old", "{}");
	es_ok("ro-7", "PUT", "/_snapshot/r",
	      "{\"type\":\"fs\",\"settings\":{\"location\":\"seven\"}}");
	es_ok("ro-7", "PUT", "/_snapshot/r/s7?wait_for_completion=true", "{}");
	/* 7.17 blocks writes, without the mark 9.x needs. */
	assert_int_equal(es_call("ro-7", "PUT", "/old/_block/write", NULL, &r), 200);
	assert_true(json_is_true(jget(r.body, "acknowledged")));
	assert_string_equal(jstr(r.body, "indices.0.name"), "old");
	http_resp_free(&r);
	assert_int_equal(es_call("ro-7", "GET", "/old/_settings", NULL, &r), 200);
	assert_string_equal(jstr(r.body, "old.settings.index.blocks.write"), "true");
	assert_null(jget(r.body, "old.settings.index.verified_read_only"));
	http_resp_free(&r);
	/* A write to it is refused. */
	assert_int_equal(es_call("ro-7", "POST", "/old/_doc", "{\"a\":1}", &r), 403);
	assert_string_equal(jstr(r.body, "error.type"), "cluster_block_exception");
	assert_string_equal(jstr(r.body, "error.reason"),
			    "index [old] blocked by: [FORBIDDEN/8/index write (api)];");
	http_resp_free(&r);
	assert_int_equal(es_call("ro-7", "PUT", "/old/_block/everything", NULL, &r), 400);
	assert_string_equal(jstr(r.body, "error.type"), "illegal_argument_exception");
	http_resp_free(&r);
	assert_int_equal(es_call("ro-7", "PUT", "/nosuch/_block/write", NULL, &r), 404);
	http_resp_free(&r);

	/* The 7.17 index restored into 8.19 (the next major) keeps its version. */
	es_ok("ro-8", "PUT", "/_snapshot/seven",
	      "{\"type\":\"fs\",\"settings\":{\"location\":\"seven\",\"readonly\":true}}");
	assert_int_equal(es_call("ro-8", "POST",
				 "/_snapshot/seven/s7/_restore?wait_for_completion=true", "{}", &r),
			 200);
	http_resp_free(&r);
	assert_int_equal(es_call("ro-8", "GET", "/_migration/deprecations", NULL, &r), 200);
	assert_string_equal(jstr(r.body, "index_settings.old.0.level"), "critical");
	assert_string_equal(jstr(r.body, "index_settings.old.0.message"),
			    "Old index with a compatibility version < 8.0");
	assert_string_equal(jstr(r.body, "index_settings.old.0.details"),
			    "This index has version: 7.17.10");
	http_resp_free(&r);

	/* A 9.x node stops over it, saying what it needs. */
	version_node("ro-8", "es-9", "9.5.2");
	assert_true(
		wait_until("/api/v1/namespaces/ro-8/pods/es-9", crash_looping, NULL, 30000, &r));
	http_resp_free(&r);
	char *log = slurp(sim.log);
	assert_non_null(log);
	const char *said = strstr(log, "pod ro-8/es-9 on ");
	if (!said || !strstr(said, "The index [old/") ||
	    !strstr(said, "created in version [7.17.10] with current compatibility version "
			  "[7.17.10] must be marked as read-only using the setting "
			  "[index.blocks.write] set to [true] before upgrading to 9.5.2."))
		fail_msg("es-9 did not say why it stopped: %.300s", said ? said : "(nothing)");
	free(log);

	/* 8.19 marks it; the deprecation is a warning now. */
	es_ok("ro-8", "PUT", "/old/_block/write", NULL);
	assert_int_equal(es_call("ro-8", "GET", "/old/_settings", NULL, &r), 200);
	assert_string_equal(jstr(r.body, "old.settings.index.verified_read_only"), "true");
	http_resp_free(&r);
	assert_int_equal(es_call("ro-8", "GET", "/_migration/deprecations", NULL, &r), 200);
	assert_string_equal(jstr(r.body, "index_settings.old.0.level"), "warning");
	assert_string_equal(jstr(r.body, "index_settings.old.0.message"),
			    "Old index with a compatibility version < 8.0 has been ignored");
	http_resp_free(&r);

	/* Restarted after its back-off, the 9.x node starts and joins. */
	assert_true(wait_until("/api/v1/namespaces/ro-8/pods/es-9", pod_ready, NULL, 60000, &r));
	http_resp_free(&r);
	assert_int_equal(es_call("ro-8", "GET", "/_nodes", NULL, &r), 200);
	int nine = 0;
	const char *id;
	json_t *n;
	json_object_foreach (json_object_get(r.body, "nodes"), id, n)
		if (!strcmp(jstr(n, "version"), "9.5.2")) {
			nine++;
			assert_string_equal(jstr(n, "name"), "es-9-ro-8");
		}
	assert_int_equal(nine, 1);
	http_resp_free(&r);
}

/* An index keeps the mappings it was created with, and the get index API
 * (GET /{index}, GET /_all, a pattern) answers them with its aliases and
 * settings; a missing name is a 404, a pattern matching nothing {}. */
static void test_es_index_keeps_its_mappings(void **state)
{
	struct http_resp r;
	make_cluster("maps", 1, "7.17.10");
	es_wait_green("maps", 2);
	assert_int_equal(
		call("PUT", es_path("maps", "/titles"),
		     "{\"settings\":{\"number_of_replicas\":0},\"mappings\":{\"properties\":"
		     "{\"title\":{\"type\":\"text\",\"analyzer\":\"english\"}}}}",
		     &r),
		200);
	http_resp_free(&r);
	const char *paths[] = {"/titles", "/_all", "/tit*"};
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		assert_int_equal(call("GET", es_path("maps", paths[i]), NULL, &r), 200);
		assert_string_equal(jstr(r.body, "titles.mappings.properties.title.analyzer"),
				    "english");
		assert_true(json_is_object(jget(r.body, "titles.aliases")));
		assert_string_equal(jstr(r.body, "titles.settings.index.number_of_replicas"), "0");
		http_resp_free(&r);
	}
	assert_int_equal(call("GET", es_path("maps", "/nothing"), NULL, &r), 404);
	assert_string_equal(jstr(r.body, "error.type"), "index_not_found_exception");
	http_resp_free(&r);
	assert_int_equal(call("GET", es_path("maps", "/nothing*"), NULL, &r), 200);
	assert_int_equal(json_object_size(r.body), 0);
	http_resp_free(&r);
}

/* --- files on the node: hostPath folders, init containers' chown, the image's user ---- */

static char *es_pod(const char *name, const char *path, const char *init_user)
{
	return xasprintf(
		"{\"metadata\":{\"name\":\"%s\"},\"spec\":{\"nodeSelector\":"
		"{\"kubernetes.io/hostname\":\"worker-0\"},%s%s%s\"containers\":[{\"name\":"
		"\"elasticsearch\",\"image\":\"docker.elastic.co/elasticsearch/"
		"elasticsearch:7.17.10\","
		"\"volumeMounts\":[{\"name\":\"data\",\"mountPath\":\"/usr/share/elasticsearch/"
		"data\"}]}],"
		"\"volumes\":[{\"name\":\"data\",\"hostPath\":{\"path\":\"%s\",\"type\":"
		"\"DirectoryOrCreate\"}}]}}",
		name, init_user ? "\"initContainers\":[{\"name\":\"prepare\",\"image\":" : "",
		init_user
			? "\"docker.elastic.co/elasticsearch/elasticsearch:7.17.10\",\"command\":"
			  "[\"sh\",\"-c\",\"set -eu\\nchown 1000:0 "
			  "/usr/share/elasticsearch/data\\n\"],"
			  "\"volumeMounts\":[{\"name\":\"data\",\"mountPath\":"
			  "\"/usr/share/elasticsearch/data\"}],\"securityContext\":{\"runAsUser\":"
			: "",
		init_user ? init_user : "", path);
}

/* A one-node cluster of version on worker-0 whose data path is the host
 * folder path, its folder made writable by an init container. */
static void folder_node(const char *ns, const char *version, const char *path)
{
	struct http_resp r;
	char url[256];
	make_namespace(ns);
	snprintf(url, sizeof(url), "/api/v1/namespaces/%s/services/es-%s", ns, ns);
	char *body = xasprintf(SERVICE, ns);
	assert_int_equal(apply(url, body, &r), 201);
	http_resp_free(&r);
	free(body);
	body = xasprintf(
		"{\"metadata\":{\"name\":\"es-0\",\"labels\":{\"app\":\"es\"}},\"spec\":"
		"{\"nodeSelector\":{\"kubernetes.io/hostname\":\"worker-0\"},"
		"\"initContainers\":[{\"name\":\"prepare\",\"image\":\"docker.elastic.co/"
		"elasticsearch/elasticsearch:%s\",\"command\":[\"sh\",\"-c\",\"set -eu\\nchown "
		"1000:0 "
		"/usr/share/elasticsearch/data\\n\"],\"volumeMounts\":[{\"name\":\"data\","
		"\"mountPath\":\"/usr/share/elasticsearch/data\"}],\"securityContext\":"
		"{\"runAsUser\":0}}],"
		"\"containers\":[{\"name\":\"elasticsearch\",\"image\":\"docker.elastic.co/"
		"elasticsearch/elasticsearch:%s\",\"volumeMounts\":[{\"name\":\"data\","
		"\"mountPath\":\"/usr/share/elasticsearch/data\"}]}],"
		"\"volumes\":[{\"name\":\"data\",\"hostPath\":{\"path\":\"%s\",\"type\":"
		"\"DirectoryOrCreate\"}}]}}",
		version, version, path);
	snprintf(url, sizeof(url), "/api/v1/namespaces/%s/pods", ns);
	assert_int_equal(call("POST", url, body, &r), 201);
	http_resp_free(&r);
	free(body);
}

static bool pod_gone(struct http_resp *r, const void *arg)
{
	return r->status == 404;
}

/*
 * A node of 6.x that starts over the data path of another cluster's node
 * brings that cluster's indices along: the master imports them as
 * dangling, their shards from the copies in the folder (no peer has
 * them), their mappings as they were.
 */
static void test_es_6x_imports_another_clusters_indices_as_dangling(void **state)
{
	struct http_resp r;
	folder_node("dang-a", "6.8.23", "/es/fs/dangling");
	es_wait_green("dang-a", 1);
	assert_int_equal(
		call("PUT", es_path("dang-a", "/old"),
		     "{\"settings\":{\"number_of_shards\":2,\"number_of_replicas\":0},"
		     "\"mappings\":{\"_doc\":{\"properties\":{\"t\":{\"type\":\"text\"}}}}}",
		     &r),
		200);
	http_resp_free(&r);
	es_wait_green("dang-a", 1);
	assert_int_equal(call("GET", es_path("dang-a", "/old"), NULL, &r), 200);
	char uuid[64];
	snprintf(uuid, sizeof(uuid), "%s", jstr(r.body, "old.settings.index.uuid"));
	http_resp_free(&r);
	assert_int_equal(call("DELETE", "/api/v1/namespaces/dang-a/pods/es-0", NULL, &r), 200);
	http_resp_free(&r);
	assert_true(wait_until("/api/v1/namespaces/dang-a/pods/es-0", pod_gone, NULL, 30000, &r));
	http_resp_free(&r);

	folder_node("dang-b", "6.8.23", "/es/fs/dangling");
	assert_true(wait_until(es_path("dang-b", "/old"), ok_200, NULL, 30000, &r));
	assert_string_equal(jstr(r.body, "old.settings.index.uuid"), uuid);
	assert_string_equal(jstr(r.body, "old.settings.index.number_of_shards"), "2");
	assert_string_equal(jstr(r.body, "old.mappings._doc.properties.t.type"), "text");
	http_resp_free(&r);
	/* Both shards come back from the folder. */
	es_wait_green("dang-b", 1);

	/* Deleted, it leaves the folder too. */
	assert_int_equal(call("DELETE", es_path("dang-b", "/old"), NULL, &r), 200);
	http_resp_free(&r);
	assert_int_equal(call("GET", "/_sim/state", NULL, &r), 200);
	bool in_folder = false, seen = false;
	size_t i, k;
	json_t *d, *ix;
	json_array_foreach (json_object_get(r.body, "host_paths"), i, d) {
		if (strcmp(jstr(d, "path"), "/es/fs/dangling") != 0)
			continue;
		seen = true;
		json_array_foreach (json_object_get(d, "indices"), k, ix)
			in_folder = in_folder || !strcmp(json_string_value(ix), "old");
	}
	http_resp_free(&r);
	assert_true(seen);
	assert_false(in_folder);
}

static bool crash_looping(struct http_resp *r, const void *arg);

/* A bare node of version in ns (behind its Service es-<ns>), Ready once
 * it sees a master. */
static void version_node(const char *ns, const char *name, const char *version)
{
	struct http_resp r;
	char url[256];
	char *body = xasprintf(
		"{\"metadata\":{\"name\":\"%s\",\"labels\":{\"app\":\"es\"}},\"spec\":"
		"{\"containers\":[{\"name\":\"elasticsearch\",\"image\":\"docker.elastic.co/"
		"elasticsearch/elasticsearch:%s\",\"readinessProbe\":{\"httpGet\":{\"path\":"
		"\"/_cluster/health?local=true\",\"port\":9200}}}]}}",
		name, version);
	snprintf(url, sizeof(url), "/api/v1/namespaces/%s/pods", ns);
	assert_int_equal(call("POST", url, body, &r), 201);
	http_resp_free(&r);
	free(body);
}

static void delete_node(const char *ns, const char *name)
{
	struct http_resp r;
	char url[256];
	snprintf(url, sizeof(url), "/api/v1/namespaces/%s/pods/%s", ns, name);
	assert_int_equal(call("DELETE", url, NULL, &r), 200);
	http_resp_free(&r);
	assert_true(wait_until(url, pod_gone, NULL, 30000, &r));
	http_resp_free(&r);
}

/* The health of ns, waiting up to timeout for status and nodes: 200 when
 * they came, 408 when they did not. */
static long health_within(const char *ns, const char *index, const char *status, int nodes,
			  const char *timeout, struct http_resp *r)
{
	char q[256];
	snprintf(q, sizeof(q),
		 "/_cluster/health%s%s?wait_for_status=%s&wait_for_nodes=%d&timeout=%s",
		 index ? "/" : "", index ? index : "", status, nodes, timeout);
	return call("GET", es_path(ns, q), NULL, r);
}

/* A node of version on host whose data path is the host folder path,
 * made writable by an init container; data-only unless master; env, more
 * settings as ",{\"name\": ..., \"value\": ...}" entries. */
static void folder_role_node_env(const char *ns, const char *name, const char *version,
				 const char *host, const char *path, bool master, const char *env)
{
	struct http_resp r;
	char url[256];
	char *body = xasprintf(
		"{\"metadata\":{\"name\":\"%s\",\"labels\":{\"app\":\"es\"}},\"spec\":"
		"{\"nodeSelector\":{\"kubernetes.io/hostname\":\"%s\"},"
		"\"initContainers\":[{\"name\":\"prepare\",\"image\":\"docker.elastic.co/"
		"elasticsearch/elasticsearch:%s\",\"command\":[\"sh\",\"-c\",\"set -eu\\nchown "
		"1000:0 /usr/share/elasticsearch/data\\n\"],\"volumeMounts\":[{\"name\":\"data\","
		"\"mountPath\":\"/usr/share/elasticsearch/data\"}],\"securityContext\":"
		"{\"runAsUser\":0}}],"
		"\"containers\":[{\"name\":\"elasticsearch\",\"image\":\"docker.elastic.co/"
		"elasticsearch/elasticsearch:%s\",\"env\":[{\"name\":\"node.master\",\"value\":"
		"\"%s\"}%s],\"volumeMounts\":[{\"name\":\"data\","
		"\"mountPath\":\"/usr/share/elasticsearch/data\"}]}],"
		"\"volumes\":[{\"name\":\"data\",\"hostPath\":{\"path\":\"%s\",\"type\":"
		"\"DirectoryOrCreate\"}}]}}",
		name, host, version, version, master ? "true" : "false", env, path);
	snprintf(url, sizeof(url), "/api/v1/namespaces/%s/pods", ns);
	assert_int_equal(call("POST", url, body, &r), 201);
	http_resp_free(&r);
	free(body);
}

static void folder_role_node(const char *ns, const char *name, const char *version,
			     const char *host, const char *path, bool master)
{
	folder_role_node_env(ns, name, version, host, path, master, "");
}

/* Whether the host folder path on host holds a folder of the index. */
static bool folder_holds(const char *host, const char *path, const char *index)
{
	struct http_resp r;
	bool found = false;
	size_t i, k;
	json_t *d, *ix;
	assert_int_equal(call("GET", "/_sim/state", NULL, &r), 200);
	json_array_foreach (json_object_get(r.body, "host_paths"), i, d) {
		if (strcmp(jstr(d, "host"), host) != 0 || strcmp(jstr(d, "path"), path) != 0)
			continue;
		json_array_foreach (json_object_get(d, "indices"), k, ix)
			found |= !strcmp(json_string_value(ix), index);
	}
	http_resp_free(&r);
	return found;
}

/* An index on es-1 only, which es-0 keeps none of. */
static void index_on_es_1(const char *ns, const char *index)
{
	char path[128];
	snprintf(path, sizeof(path), "/%s", index);
	es_ok(ns, "PUT", path, "{\"settings\":{\"number_of_shards\":1,\"number_of_replicas\":0}}");
}

/*
 * 5.0's index graveyard: an index deleted while a node is away goes from
 * that node's folder when it comes back; once the deletion has left the
 * graveyard (cluster.indices.tombstones.size of them are kept), the
 * index is a dangling one: from 7.9 not imported without
 * gateway.auto_import_dangling_indices, and listed by GET /_dangling with
 * the nodes that hold it.
 */
static void test_es_graveyard_and_dangling_indices(void **state)
{
	(void)state;
	struct http_resp r;
	make_es_namespace("e17");
	bootstrap_config("e17", "es-0-e17");
	folder_role_node_env("e17", "es-0", "7.17.10", "worker-0", "/es/e17/0", true,
			     ",{\"name\":\"cluster.indices.tombstones.size\",\"value\":\"1\"}");
	folder_role_node("e17", "es-1", "7.17.10", "worker-1", "/es/e17/1", false);
	es_wait_green("e17", 2);
	es_ok("e17", "PUT", "/_cluster/settings",
	      "{\"transient\":{\"cluster.routing.allocation.exclude._name\":\"es-0-e17\"}}");
	index_on_es_1("e17", "gone");
	index_on_es_1("e17", "keep");
	es_wait_green("e17", 2);
	assert_true(folder_holds("worker-1", "/es/e17/1", "gone"));
	es_ok("e17", "PUT", "/_cluster/settings",
	      "{\"transient\":{\"cluster.routing.allocation.exclude._name\":null}}");

	/* Deleted while es-1 is away: its folder keeps it until it is back. */
	delete_node("e17", "es-1");
	es_ok("e17", "DELETE", "/gone", NULL);
	assert_true(folder_holds("worker-1", "/es/e17/1", "gone"));
	folder_role_node("e17", "es-1", "7.17.10", "worker-1", "/es/e17/1", false);
	es_wait_green("e17", 2);
	assert_false(folder_holds("worker-1", "/es/e17/1", "gone"));
	assert_int_equal(es_call("e17", "GET", "/_dangling", NULL, &r), 200);
	assert_int_equal(json_array_size(json_object_get(r.body, "dangling_indices")), 0);
	http_resp_free(&r);
	assert_int_equal(es_call("e17", "GET", "/_nodes/es-1-e17", NULL, &r), 200);
	char es1_id[64] = "";
	const char *id;
	json_t *nd;
	json_object_foreach (json_object_get(r.body, "nodes"), id, nd)
		snprintf(es1_id, sizeof(es1_id), "%s", id);
	http_resp_free(&r);
	assert_true(es1_id[0]);

	/* Away again; keep deleted, then another index: keep's tombstone is
	 * out of the graveyard, and keep comes back dangling. */
	delete_node("e17", "es-1");
	es_ok("e17", "PUT", "/other",
	      "{\"settings\":{\"number_of_shards\":1,\"number_of_replicas\":0}}");
	es_ok("e17", "DELETE", "/keep", NULL);
	es_ok("e17", "DELETE", "/other", NULL);
	folder_role_node("e17", "es-1", "7.17.10", "worker-1", "/es/e17/1", false);
	es_wait_green("e17", 2);
	assert_true(folder_holds("worker-1", "/es/e17/1", "keep"));
	assert_int_equal(es_call("e17", "GET", "/keep", NULL, &r), 404);
	http_resp_free(&r);
	assert_int_equal(es_call("e17", "GET", "/_dangling", NULL, &r), 200);
	json_t *list = json_object_get(r.body, "dangling_indices");
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(jstr(list, "0.index_name"), "keep");
	assert_string_equal(jstr(list, "0.node_ids.0"), es1_id);
	assert_true(jint(list, "0.creation_date_millis") > 0);
	http_resp_free(&r);
}

static bool log_says(const char *want)
{
	char *log = slurp(sim.log);
	bool found = log && strstr(log, want);
	free(log);
	return found;
}

static bool running_unrestarted(struct http_resp *r, const void *arg)
{
	(void)arg;
	return r->status == 200 && jget(r->body, "status.containerStatuses.0.state.running") &&
	       jint(r->body, "status.containerStatuses.0.restartCount") == 0;
}

/*
 * What a node upgraded past an index's version finds on its disk: a
 * data-only node that 6.8 ran keeps the metadata of the indices it held
 * only, so without a copy of a 5.x index it starts, and the master refuses
 * its join ("index [...] version not supported: 5.6.16 minimum compatible
 * index version is: 6.0.0-beta1"); with one, it stops at start, naming
 * the index.
 */
static void test_es_upgraded_data_node_reads_only_the_metadata_on_its_disk(void **state)
{
	(void)state;
	struct http_resp r;
	make_es_namespace("e35");
	folder_role_node("e35", "es-m", "5.6.16", "worker-0", "/es/e35/m", true);
	folder_role_node("e35", "es-a", "6.8.23", "worker-1", "/es/e35/a", false);
	folder_role_node("e35", "es-b", "6.8.23", "worker-2", "/es/e35/b", false);
	es_wait_green("e35", 3);
	/* Made while a 5.6 node is in the cluster: a 5.6.16 index, on es-a. */
	es_ok("e35", "PUT", "/_cluster/settings",
	      "{\"transient\":{\"cluster.routing.allocation.exclude._name\":"
	      "\"es-m-e35,es-b-e35\"}}");
	es_ok("e35", "PUT", "/five",
	      "{\"settings\":{\"number_of_shards\":1,\"number_of_replicas\":0}}");
	es_wait_green("e35", 3);
	assert_int_equal(es_call("e35", "GET", "/five", NULL, &r), 200);
	assert_string_equal(jstr(r.body, "five.settings.index.version.created"), "5061699");
	char uuid[64];
	snprintf(uuid, sizeof(uuid), "%s", jstr(r.body, "five.settings.index.uuid"));
	http_resp_free(&r);
	/* The master to 6.8, over its folder. */
	delete_node("e35", "es-m");
	folder_role_node("e35", "es-m", "6.8.23", "worker-0", "/es/e35/m", true);
	es_wait_green("e35", 3);

	/* es-b, with no copy of it, to 7.17: it runs, and stays out. */
	delete_node("e35", "es-b");
	folder_role_node("e35", "es-b", "7.17.10", "worker-2", "/es/e35/b", false);
	char want[256];
	snprintf(want, sizeof(want),
		 "node es-b-e35 failed to join: index [five/%s] version not supported: 5.6.16 "
		 "minimum compatible index version is: 6.0.0-beta1",
		 uuid);
	for (int i = 0; !log_says(want); i++) {
		if (i > 1000)
			fail_msg("no join refusal for es-b: %s", want);
		msleep(20);
	}
	assert_true(wait_until("/api/v1/namespaces/e35/pods/es-b", running_unrestarted, NULL, 30000,
			       &r));
	http_resp_free(&r);
	assert_int_equal(call("GET", "/_sim/state", NULL, &r), 200);
	json_t *nodes = jget(r.body, "clusters.e35.nodes");
	for (size_t i = 0; i < json_array_size(nodes); i++)
		assert_string_not_equal(json_string_value(json_array_get(nodes, i)), "es-b-e35");
	http_resp_free(&r);

	/* es-a, which holds it, to 7.17: it stops at start, naming it. */
	delete_node("e35", "es-a");
	folder_role_node("e35", "es-a", "7.17.10", "worker-1", "/es/e35/a", false);
	assert_true(wait_until("/api/v1/namespaces/e35/pods/es-a", crash_looping, NULL, 30000, &r));
	http_resp_free(&r);
	snprintf(want, sizeof(want),
		 "The index [five/%s] was created with version [5.6.16] but the minimum "
		 "compatible version is [6.0.0-beta1]",
		 uuid);
	assert_true(log_says(want));
}

/*
 * Transport versions order releases by when they came out: 8.19 came out
 * after 9.0, so a 9.0 node may not join a cluster of 8.19 nodes, though
 * the two talk (8.18+ with 9.x) and 9.0 is the higher number.
 */
static void test_es_9_0_node_stays_out_of_an_8_19_cluster(void **state)
{
	(void)state;
	struct http_resp r;
	make_cluster("t90", 1, "8.19.20");
	es_wait_green("t90", 2);
	assert_int_equal(apply("/apis/apps/v1/namespaces/t90/statefulsets/es-nine",
			       workload("es-nine", 1, "es", "data", NULL, "9.0.8"), &r),
			 201);
	http_resp_free(&r);
	const char *want = "node es-nine-0-t90 failed to join: node with transport version "
			   "[9.0.8] may not join a cluster with minimum transport version "
			   "[8.19.20]";
	for (int i = 0; !log_says(want); i++) {
		if (i > 1500)
			fail_msg("no join refusal: %s", want);
		msleep(20);
	}
	assert_int_equal(call("GET", "/_sim/state", NULL, &r), 200);
	json_t *nodes = jget(r.body, "clusters.t90.nodes");
	assert_int_equal(json_array_size(nodes), 2);
	for (size_t i = 0; i < json_array_size(nodes); i++)
		assert_string_not_equal(json_string_value(json_array_get(nodes, i)),
					"es-nine-0-t90");
	http_resp_free(&r);
}

/* The cluster's voting configuration in GET /_sim/state has n entries. */
static bool voting_config_of_two(struct http_resp *r, const void *arg)
{
	char path[128];
	snprintf(path, sizeof(path), "clusters.%s.voting_config", (const char *)arg);
	return r->status == 200 && json_array_size(jget(r->body, path)) == 2;
}

/*
 * The last zen1 master-eligible node gone, the 7.x ones take the
 * master-eligible nodes they find as the first voting configuration only
 * once those are as many as discovery.zen.minimum_master_nodes (they
 * look every bwc_ping_timeout, 3 s).
 */
static void test_es_upgrade_bootstrap_waits_for_minimum_master_nodes(void **state)
{
	(void)state;
	struct http_resp r;
	make_es_namespace("zenup");
	version_node("zenup", "es-0", "6.8.23");
	version_node("zenup", "es-1", "6.8.23");
	version_node("zenup", "es-2", "7.17.10");
	es_wait_green("zenup", 3);
	assert_int_equal(call("PUT", es_path("zenup", "/_cluster/settings"),
			      "{\"persistent\":{\"discovery.zen.minimum_master_nodes\":2}}", &r),
			 200);
	http_resp_free(&r);
	delete_node("zenup", "es-0");
	delete_node("zenup", "es-1");
	/* One 7.x master-eligible node of the two the setting asks for: no
	 * master, however long it looks. */
	assert_int_equal(call("GET", es_path("zenup", "/_cluster/health?timeout=4s"), NULL, &r),
			 503);
	assert_string_equal(jstr(r.body, "error.type"), "master_not_discovered_exception");
	http_resp_free(&r);
	/* A second one: at the next look, the two are the voting
	 * configuration. */
	version_node("zenup", "es-3", "7.17.10");
	assert_true(
		wait_until(es_path("zenup", "/_cat/master?format=json"), ok_200, NULL, 30000, &r));
	http_resp_free(&r);
	assert_true(wait_until("/_sim/state", voting_config_of_two, "zenup", 30000, &r));
	json_t *voters = jget(r.body, "clusters.zenup.voting_config");
	bool two = false, three = false;
	for (size_t i = 0; i < json_array_size(voters); i++) {
		const char *v = json_string_value(json_array_get(voters, i));
		two |= v && !strcmp(v, "es-2-zenup");
		three |= v && !strcmp(v, "es-3-zenup");
	}
	assert_true(two && three);
	http_resp_free(&r);
}

/*
 * A cluster of two versions, as a rolling upgrade makes one: a newer node
 * joins older ones; an index remembers the version that created it; no
 * replica goes to a node older than its primary's; once the last node of
 * the old version has left (and zen1 with it: the 7.x masters elect among
 * themselves), an old node no longer joins; a node of a version that
 * cannot read an index refuses to start, saying which.
 */
static void test_es_mixed_versions_as_elasticsearch_runs_them(void **state)
{
	struct http_resp r;
	make_es_namespace("mixv");
	version_node("mixv", "es-0", "6.8.23");
	version_node("mixv", "es-1", "6.8.23");
	es_wait_green("mixv", 2);
	assert_int_equal(call("PUT", es_path("mixv", "/six"),
			      "{\"settings\":{\"number_of_shards\":1,\"number_of_replicas\":1}}",
			      &r),
			 200);
	http_resp_free(&r);
	es_wait_green("mixv", 2);
	assert_int_equal(call("GET", es_path("mixv", "/six"), NULL, &r), 200);
	assert_string_equal(jstr(r.body, "six.settings.index.version.created"), "6082399");
	http_resp_free(&r);

	/* A 7.17 node joins the 6.8 nodes; each says its own version. */
	version_node("mixv", "es-2", "7.17.10");
	es_wait_green("mixv", 3);
	assert_int_equal(call("GET", es_path("mixv", "/_nodes"), NULL, &r), 200);
	int newer = 0;
	const char *id;
	json_t *n;
	json_object_foreach (json_object_get(r.body, "nodes"), id, n)
		newer += !strcmp(jstr(n, "version"), "7.17.10");
	assert_int_equal(newer, 1);
	http_resp_free(&r);

	/* A primary on the 7.17 node: its replica has only 6.8 nodes to go
	 * to, and goes to none of them. */
	assert_int_equal(call("PUT", es_path("mixv", "/_cluster/settings"),
			      "{\"persistent\":{\"cluster.routing.allocation.exclude._name\":"
			      "\"es-0-mixv,es-1-mixv\"}}",
			      &r),
			 200);
	http_resp_free(&r);
	assert_int_equal(call("PUT", es_path("mixv", "/seven"),
			      "{\"settings\":{\"number_of_shards\":1,\"number_of_replicas\":1}}",
			      &r),
			 200);
	http_resp_free(&r);
	assert_int_equal(health_within("mixv", "seven", "yellow", 3, "10s", &r), 200);
	http_resp_free(&r);
	assert_int_equal(
		call("PUT", es_path("mixv", "/_cluster/settings"),
		     "{\"persistent\":{\"cluster.routing.allocation.exclude._name\":null}}", &r),
		200);
	http_resp_free(&r);
	assert_int_equal(health_within("mixv", "seven", "green", 3, "2s", &r), 408);
	assert_string_equal(jstr(r.body, "status"), "yellow");
	assert_int_equal(jint(r.body, "unassigned_shards"), 1);
	http_resp_free(&r);

	/* The 6.8 nodes leave: the 7.17 node elects itself, with no
	 * cluster.initial_master_nodes, and a 6.8 node no longer joins. */
	delete_node("mixv", "es-0");
	delete_node("mixv", "es-1");
	assert_true(
		wait_until(es_path("mixv", "/_cat/master?format=json"), ok_200, NULL, 30000, &r));
	assert_string_equal(jstr(r.body, "0.node"), "es-2-mixv");
	http_resp_free(&r);
	version_node("mixv", "es-0", "6.8.23");
	version_node("mixv", "es-1", "7.17.10");
	assert_int_equal(health_within("mixv", NULL, "yellow", 2, "20s", &r), 200);
	http_resp_free(&r);
	assert_int_equal(health_within("mixv", NULL, "yellow", 3, "2s", &r), 408);
	assert_int_equal(jint(r.body, "number_of_nodes"), 2);
	http_resp_free(&r);
	char *log = slurp(sim.log);
	assert_non_null(log);
	assert_non_null(strstr(log, "node es-0-mixv failed to join: node version [6.8.23] may not "
				    "join a cluster comprising only nodes of version [7.17.10] or "
				    "greater"));
	free(log);

	/* 8.x cannot read the index 6.8 created: the node stops, naming it. */
	version_node("mixv", "es-8", "8.17.0");
	assert_true(
		wait_until("/api/v1/namespaces/mixv/pods/es-8", crash_looping, NULL, 30000, &r));
	http_resp_free(&r);
	/* What it logs as it exits (the kubelet keeps no message of it). */
	log = slurp(sim.log);
	assert_non_null(log);
	const char *said = strstr(log, "pod mixv/es-8 on ");
	if (!said || !strstr(said, "The index [six/") ||
	    !strstr(said, "has current compatibility version [6.8.23] but the minimum "
			  "compatible version is [7.0.0]. It should be re-indexed in "
			  "Elasticsearch 7.x before upgrading to 8.17.0."))
		fail_msg("es-8 did not say why it stopped: %.300s", said ? said : "(nothing)");
	free(log);
}

static bool crash_looping(struct http_resp *r, const void *arg)
{
	const char *why = jstr(r->body, "status.containerStatuses.0.state.waiting.reason");
	return r->status == 200 && why && !strcmp(why, "CrashLoopBackOff");
}

/* The owner and mode of a folder on worker-0, "uid:gid mode", from /_sim/state. */
static char *folder(const char *path)
{
	struct http_resp r;
	char *out = NULL;
	size_t i;
	json_t *d;
	assert_int_equal(call("GET", "/_sim/state", NULL, &r), 200);
	json_array_foreach (json_object_get(r.body, "host_paths"), i, d) {
		if (!strcmp(jstr(d, "host"), "worker-0") && !strcmp(jstr(d, "path"), path))
			out = xasprintf("%s %s", jstr(d, "owner"), jstr(d, "mode"));
	}
	http_resp_free(&r);
	return out ? out : xstrdup("none");
}

static void test_host_folders_and_the_image_user(void **state)
{
	struct http_resp r;
	char *body, *f;
	make_namespace("fs");
	/* No chown: the kubelet's root:root 0755 folder, which uid 1000 cannot
	 * write; the container crash-loops and never becomes ready. */
	body = es_pod("bare", "/es/fs/bare", NULL);
	assert_int_equal(call("POST", "/api/v1/namespaces/fs/pods", body, &r), 201);
	http_resp_free(&r);
	free(body);
	assert_true(wait_until("/api/v1/namespaces/fs/pods/bare", crash_looping, NULL, 30000, &r));
	assert_int_equal(jint(r.body, "status.containerStatuses.0.restartCount"), 1);
	assert_non_null(strstr(jstr(r.body, "status.containerStatuses.0.state.waiting.message"),
			       "back-off 10s restarting failed container=elasticsearch"));
	assert_int_equal(jint(r.body, "status.containerStatuses.0.lastState.terminated.exitCode"),
			 1);
	assert_false(json_is_true(jget(r.body, "status.containerStatuses.0.ready")));
	http_resp_free(&r);
	f = folder("/es/fs/bare");
	assert_string_equal(f, "0:0 0755");
	free(f);
	/* A root init container's chown gives it to uid 1000: ready. */
	body = es_pod("chowned", "/es/fs/chowned", "0}}],");
	assert_int_equal(call("POST", "/api/v1/namespaces/fs/pods", body, &r), 201);
	http_resp_free(&r);
	free(body);
	assert_true(wait_until("/api/v1/namespaces/fs/pods/chowned", pod_ready, NULL, 30000, &r));
	http_resp_free(&r);
	f = folder("/es/fs/chowned");
	assert_string_equal(f, "1000:0 0755");
	free(f);
	/* The same chown as the image's user (1000) is not permitted. */
	body = es_pod("nonroot", "/es/fs/nonroot", "1000}}],");
	assert_int_equal(call("POST", "/api/v1/namespaces/fs/pods", body, &r), 201);
	http_resp_free(&r);
	free(body);
	assert_true(
		wait_until("/api/v1/namespaces/fs/pods/nonroot", crash_looping, NULL, 30000, &r));
	http_resp_free(&r);
	/* The folders outlive the pods. */
	assert_int_equal(call("DELETE", "/api/v1/namespaces/fs/pods/chowned", NULL, &r), 200);
	http_resp_free(&r);
	msleep(200);
	f = folder("/es/fs/chowned");
	assert_string_equal(f, "1000:0 0755");
	free(f);
}

/* Elasticsearch locks its data path as it starts: an unwritable folder
 * stops it whatever the image is called (one built on Elastic's keeps uid
 * 1000, and a tag that is no version counts as a current one). */
static void test_es_unwritable_data_path_fails_any_image(void **state)
{
	struct sim own;
	struct http_resp r;
	static const char *const images[] = {"registry.example.com:5000/search/node:7.17.10",
					     "registry.example.com/search:latest"};
	/* Images of the operator's registry, which the simulated one has. */
	start_own_sim(&own, "start",
		      "tick_ms: 10\npods: {ready_delay_ms: 50}\nimages: {pull_ms: 0, extra: "
		      "[\"registry.example.com:5000/search/node:7.17.10\", "
		      "\"registry.example.com/search:latest\"]}\n");
	assert_int_equal(own_call(&own, "POST", "/api/v1/namespaces",
				  "{\"metadata\":{\"name\":\"lock\"}}", &r),
			 201);
	http_resp_free(&r);
	for (size_t i = 0; i < ARRAY_SIZE(images); i++) {
		char name[16], folder[64], path[128];
		snprintf(name, sizeof(name), "custom-%zu", i);
		snprintf(folder, sizeof(folder), "/es/lock/%s", name);
		json_t *pod = json_pack(
			"{s:{s:s}, s:{s:[{s:s, s:s, s:[{s:s, s:s}]}], s:[{s:s, s:{s:s, s:s}}]}}",
			"metadata", "name", name, "spec", "containers", "name", "search", "image",
			images[i], "volumeMounts", "name", "data", "mountPath",
			"/usr/share/elasticsearch/data", "volumes", "name", "data", "hostPath",
			"path", folder, "type", "DirectoryOrCreate");
		char *body = json_dumps(pod, JSON_COMPACT);
		json_decref(pod);
		int64_t start = harness_now_ms();
		assert_int_equal(own_call(&own, "POST", "/api/v1/namespaces/lock/pods", body, &r),
				 201);
		http_resp_free(&r);
		free(body);
		snprintf(path, sizeof(path), "/api/v1/namespaces/lock/pods/%s", name);
		bool looping = false;
		while (!looping && harness_now_ms() - start < 3000) {
			assert_int_equal(own_call(&own, "GET", path, NULL, &r), 200);
			looping = crash_looping(&r, NULL);
			http_resp_free(&r);
			if (!looping)
				msleep(20);
		}
		assert_true(looping);
	}
	assert_int_equal(sim_stop(&own), 0);
}

/* --- plugins: the init container's installs ------------------------------------------- */

/* A master pod of ns whose root init container installs $ES_PLUGINS from
 * repo (as kube/render.c's script does) into a hostPath plugins folder. */
static char *plugin_pod(const char *ns, const char *repo, const char *plugins)
{
	char *script =
		xasprintf("set -eu\ncd /usr/share/elasticsearch\nrepo='%s'\n"
			  "for p in $ES_PLUGINS; do\n"
			  "    echo \"installing plugin $p\"\n"
			  "    bin/elasticsearch-plugin install --batch \"$repo/$p-7.17.10.zip\"\n"
			  "done\n",
			  repo);
	char *folder = xasprintf("/es/%s/plugins", ns);
	const char *image = "docker.elastic.co/elasticsearch/elasticsearch:7.17.10";
	json_t *mount = json_pack("[{s:s, s:s}]", "name", "plugins", "mountPath",
				  "/usr/share/elasticsearch/plugins");
	json_t *pod = json_pack(
		"{s:{s:s, s:{s:s, s:s}}, s:{s:[{s:s, s:s, s:[s,s,s], s:[{s:s, s:s}], s:{s:i}, "
		"s:s, s:O}], s:[{s:s, s:s, s:O}], s:[{s:s, s:{s:s, s:s}}]}}",
		"metadata", "name", "es-master-0", "labels", "app", "es", "esaas.io/role", "master",
		"spec", "initContainers", "name", "install-plugins", "image", image, "command",
		"sh", "-c", script, "env", "name", "ES_PLUGINS", "value", plugins,
		"securityContext", "runAsUser", 0, "terminationMessagePolicy",
		"FallbackToLogsOnError", "volumeMounts", mount, "containers", "name",
		"elasticsearch", "image", image, "volumeMounts", mount, "volumes", "name",
		"plugins", "hostPath", "path", folder, "type", "DirectoryOrCreate");
	char *out = json_dumps(pod, JSON_COMPACT);
	json_decref(pod);
	json_decref(mount);
	free(script);
	free(folder);
	return out;
}

static bool init_crash_looping(struct http_resp *r, const void *arg)
{
	const char *why = jstr(r->body, "status.initContainerStatuses.0.state.waiting.reason");
	return r->status == 200 && why && !strcmp(why, "CrashLoopBackOff");
}

static void plugin_cluster(const char *ns, const char *repo, const char *plugins)
{
	struct http_resp r;
	char path[256], body[1024];
	char *pod;

	make_namespace(ns);
	snprintf(body, sizeof(body), "es-master-0-%s", ns);
	bootstrap_config(ns, body);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/services/es-%s", ns, ns);
	snprintf(body, sizeof(body), SERVICE, ns);
	assert_int_equal(apply(path, body, &r), 201);
	http_resp_free(&r);
	pod = plugin_pod(ns, repo, plugins);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
	assert_int_equal(call("POST", path, pod, &r), 201);
	http_resp_free(&r);
	free(pod);
}

/* The init container downloads each archive from the repository: one that
 * answers 404 fails it (Init:Error, then Init:CrashLoopBackOff) with what
 * elasticsearch-plugin prints; once the archive is there, its restart after
 * the back-off installs it, and the node has what was installed. */
static void test_es_plugins_are_downloaded_by_the_init_container(void **state)
{
	struct http_resp r;
	struct repo repo;
	static const char *const files[] = {"analysis-icu-7.17.10.zip", NULL};
	char want[512], log_path[300];
	const char *pod_path = "/api/v1/namespaces/plug/pods/es-master-0";

	assert_true(repo_start(&repo, tmpdir, files));
	plugin_cluster("plug", repo.url, "analysis-icu analysis-phonetic");
	assert_true(wait_until(pod_path, init_crash_looping, NULL, 30000, &r));
	assert_string_equal(jstr(r.body, "status.phase"), "Pending");
	assert_string_equal(jstr(r.body, "status.conditions.0.type"), "Initialized");
	assert_string_equal(jstr(r.body, "status.conditions.0.status"), "False");
	assert_string_equal(jstr(r.body, "status.conditions.0.reason"), "ContainersNotInitialized");
	assert_int_equal(
		jint(r.body, "status.initContainerStatuses.0.lastState.terminated.exitCode"), 1);
	assert_string_equal(
		jstr(r.body, "status.initContainerStatuses.0.lastState.terminated.reason"),
		"Error");
	snprintf(want, sizeof(want), "-> Downloading %s/analysis-phonetic-7.17.10.zip\n", repo.url);
	const char *printed =
		jstr(r.body, "status.initContainerStatuses.0.lastState.terminated.message");
	assert_non_null(printed);
	assert_non_null(strstr(printed, want));
	snprintf(want, sizeof(want),
		 "Exception in thread \"main\" java.io.FileNotFoundException: "
		 "%s/analysis-phonetic-7.17.10.zip",
		 repo.url);
	assert_non_null(strstr(printed, want));
	assert_non_null(strstr(jstr(r.body, "status.initContainerStatuses.0.state.waiting.message"),
			       "back-off 10s restarting failed container=install-plugins"));
	assert_string_equal(jstr(r.body, "status.containerStatuses.0.state.waiting.reason"),
			    "PodInitializing");
	http_resp_free(&r);
	/* The repository saw both downloads, the second one missing. */
	snprintf(log_path, sizeof(log_path), "%s", repo.access_log);
	char *log = slurp(log_path);
	assert_non_null(log);
	assert_non_null(strstr(log, "GET /es-plugins/analysis-icu-7.17.10.zip HTTP/1.1\" 200"));
	assert_non_null(
		strstr(log, "GET /es-plugins/analysis-phonetic-7.17.10.zip HTTP/1.1\" 404"));
	free(log);

	/* The archive published: the restart after the 10 s back-off installs it. */
	assert_true(repo_add(&repo, "analysis-phonetic-7.17.10.zip"));
	assert_true(wait_until(pod_path, pod_ready, NULL, 30000, &r));
	assert_int_equal(jint(r.body, "status.initContainerStatuses.0.restartCount"), 1);
	assert_string_equal(jstr(r.body, "status.initContainerStatuses.0.state.terminated.reason"),
			    "Completed");
	http_resp_free(&r);
	assert_true(wait_until(es_path("plug", "/_cat/plugins?format=json&h=component"), ok_200,
			       NULL, 30000, &r));
	assert_int_equal(json_array_size(r.body), 2);
	assert_string_equal(jstr(r.body, "0.component"), "analysis-icu");
	assert_string_equal(jstr(r.body, "1.component"), "analysis-phonetic");
	http_resp_free(&r);
	repo_stop(&repo);

	/* A repository that cannot be reached: the connection refused. */
	plugin_cluster("plug-down", "http://127.0.0.1:1/es-plugins", "analysis-icu");
	assert_true(wait_until("/api/v1/namespaces/plug-down/pods/es-master-0", init_crash_looping,
			       NULL, 30000, &r));
	printed = jstr(r.body, "status.initContainerStatuses.0.lastState.terminated.message");
	assert_non_null(printed);
	assert_non_null(strstr(
		printed,
		"Exception in thread \"main\" java.net.ConnectException: Connection refused"));
	http_resp_free(&r);
}

/* --- faults --------------------------------------------------------------------------- */

static void test_faults(void **state)
{
	struct http_resp r;
	make_namespace("faulty");
	assert_int_equal(call("POST", "/_sim/faults",
			      "{\"rules\":[{\"path\":\"/api/v1/namespaces/faulty/"
			      "configmaps*\",\"status\":503,\"rate\":1.0},"
			      "{\"path\":\"/api/v1/namespaces/faulty/"
			      "secrets\",\"status\":429,\"retry_after\":2},"
			      "{\"path\":\"/api/v1/namespaces/faulty/pods/hang\",\"hang\":true}]}",
			      &r),
			 200);
	http_resp_free(&r);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(call("GET", "/api/v1/namespaces/faulty/configmaps", NULL, &r),
				 503);
		assert_string_equal(jstr(r.body, "kind"), "Status");
		assert_string_equal(jstr(r.body, "reason"), "ServiceUnavailable");
		http_resp_free(&r);
	}
	/* As the API server's max-in-flight and priority-and-fairness filters
	 * answer: plain text. */
	assert_int_equal(call("GET", "/api/v1/namespaces/faulty/secrets", NULL, &r), 429);
	assert_null(r.body);
	assert_string_equal(r.raw, "Too many requests, please try again later.\n");
	assert_non_null(strcasestr(r.headers, "Content-Type: text/plain"));
	assert_non_null(strcasestr(r.headers, "Retry-After: 2"));
	http_resp_free(&r);
	/* A hung request: the client gives up; others are still served. */
	int64_t t0 = harness_now_ms();
	assert_false(
		request("GET", "/api/v1/namespaces/faulty/pods/hang", NULL, NULL, true, 300, &r));
	assert_true(harness_now_ms() - t0 >= 250);
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/faulty", NULL, &r), 200);
	http_resp_free(&r);
	assert_int_equal(call("DELETE", "/_sim/faults", NULL, &r), 200);
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/faulty/configmaps", NULL, &r), 200);
	http_resp_free(&r);
	/* A partial rate: some fail, some pass. */
	assert_int_equal(call("POST", "/_sim/faults",
			      "{\"path\":\"/api/v1/namespaces/faulty/"
			      "configmaps\",\"status\":500,\"rate\":0.5}",
			      &r),
			 200);
	http_resp_free(&r);
	int fails = 0;
	for (int i = 0; i < 60; i++) {
		call("GET", "/api/v1/namespaces/faulty/configmaps", NULL, &r);
		fails += r.status == 500;
		http_resp_free(&r);
	}
	assert_true(fails > 5 && fails < 55);
	assert_int_equal(call("DELETE", "/_sim/faults", NULL, &r), 200);
	http_resp_free(&r);
	/* An unschedulable node: a new pod avoids it. */
	assert_int_equal(call("POST", "/_sim/faults",
			      "{\"unschedulable_nodes\":[\"worker-0\",\"worker-1\",\"worker-2\","
			      "\"worker-3\"]}",
			      &r),
			 200);
	http_resp_free(&r);
	assert_int_equal(call("POST", "/api/v1/namespaces/faulty/pods",
			      "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":"
			      "\"c\",\"image\":\"busybox:1\"}]}}",
			      &r),
			 201);
	http_resp_free(&r);
	assert_true(wait_until("/api/v1/namespaces/faulty/pods/p", pod_pending_with,
			       "4 node(s) were unschedulable", 30000, &r));
	http_resp_free(&r);
	assert_int_equal(call("DELETE", "/_sim/faults", NULL, &r), 200);
	http_resp_free(&r);
}

/* The hits of a rate-based fault over 40 requests, as a string of 0 and 1,
 * from a simulator of its own started with this seed; its log must name it. */
static void fault_pattern(const char *seed, char *out)
{
	struct sim other;
	struct http_resp r;
	char config[128], auth[300], logged[64];
	snprintf(config, sizeof(config), "seed: %s\ntick_ms: 10\n", seed);
	assert_true(sim_start(&other, tmpdir, config));
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", other.token);
	const char *h[] = {auth, NULL};
	assert_true(http_request(other.server, "POST", "/_sim/faults",
				 "{\"path\":\"/api/v1/namespaces\",\"status\":500,\"rate\":0.5}", h,
				 0, &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	for (int i = 0; i < 40; i++) {
		assert_true(
			http_request(other.server, "GET", "/api/v1/namespaces", NULL, h, 0, &r));
		out[i] = r.status == 500 ? '1' : '0';
		http_resp_free(&r);
	}
	out[40] = '\0';
	assert_int_equal(sim_stop(&other), 0);
	FILE *f = fopen(other.log, "r");
	assert_non_null(f);
	char line[512];
	bool found = false;
	snprintf(logged, sizeof(logged), "seed %s (from the configuration)", seed);
	while (fgets(line, sizeof(line), f))
		found = found || strstr(line, logged);
	fclose(f);
	assert_true(found);
}

/* A failure under rate-based faults can be repeated: the same seed hits the
 * same requests, another seed others. */
static void test_fault_rates_repeat_with_the_seed(void **state)
{
	char a[41], b[41], c[41];
	fault_pattern("7", a);
	fault_pattern("7", b);
	fault_pattern("8", c);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_non_null(strchr(a, '0'));
	assert_non_null(strchr(a, '1'));
}

/* --- resource quotas ------------------------------------------------------------------ */

static const char QUOTA[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"ResourceQuota\",\"metadata\":{\"name\":\"compute\"},"
	"\"spec\":{\"hard\":{\"pods\":\"%d\",\"requests.cpu\":\"1\",\"requests.memory\":\"2Gi\","
	"\"limits.cpu\":\"2\",\"limits.memory\":\"4096Mi\"}}}";

/* A Deployment of one nginx pod with limits (what a quota asks). */
static const char DEPLOYMENT_DEP[] =
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"dep\"},"
	"\"spec\":{\"replicas\":1,\"selector\":{\"matchLabels\":{\"app\":\"dep\"}},"
	"\"template\":{\"metadata\":{\"labels\":{\"app\":\"dep\"}},\"spec\":{\"containers\":"
	"[{\"name\":\"dep\",\"image\":\"nginx:1\",\"resources\":{\"limits\":"
	"{\"cpu\":\"100m\",\"memory\":\"128Mi\"}}}]}}}}";

static const char QUOTA_PATH[] = "/api/v1/namespaces/quota/resourcequotas/compute";

/* A quota entry of status (hard or used); its keys hold dots. */
static const char *quota_entry(json_t *quota, const char *which, const char *key)
{
	return json_string_value(json_object_get(jget(quota, which), key));
}

/* status.hard.pods and status.used.pods are "hard/used". */
static bool quota_pods_are(struct http_resp *r, const void *arg)
{
	char seen[64];
	const char *hard = quota_entry(r->body, "status.hard", "pods");
	const char *used = quota_entry(r->body, "status.used", "pods");
	snprintf(seen, sizeof(seen), "%s/%s", hard ? hard : "", used ? used : "");
	return r->status == 200 && !strcmp(seen, (const char *)arg);
}

static char *one_pod(const char *name, const char *resources)
{
	static char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\"},\"spec\":{\"containers\":[{\"name\":\"c\","
		 "\"image\":\"busybox:1\"%s%s}]}}",
		 name, resources ? ",\"resources\":" : "", resources ? resources : "");
	return buf;
}

/* The events of the namespace whose message has all of want. */
static bool event_with(struct http_resp *r, const void *arg)
{
	size_t i;
	json_t *e;
	if (r->status != 200)
		return false;
	json_array_foreach (json_object_get(r->body, "items"), i, e) {
		const char *msg = jstr(e, "message");
		if (msg && strstr(msg, (const char *)arg) &&
		    !strcmp(jstr(e, "reason"), "FailedCreate") &&
		    !strcmp(jstr(e, "type"), "Warning"))
			return true;
	}
	return false;
}

static bool replica_failure(struct http_resp *r, const void *arg)
{
	size_t i;
	json_t *c;
	if (r->status != 200)
		return false;
	json_array_foreach (jget(r->body, "status.conditions"), i, c) {
		if (!strcmp(jstr(c, "type"), "ReplicaFailure") &&
		    !strcmp(jstr(c, "status"), "True") &&
		    !strcmp(jstr(c, "reason"), "FailedCreate") &&
		    strstr(jstr(c, "message"), (const char *)arg))
			return true;
	}
	return false;
}

/* A pod in ns called name with the spec's extra fields (inside spec) and
 * the container's (inside its one container, "c"). */
static char *psa_pod(const char *name, const char *spec_extra, const char *container_extra)
{
	return xasprintf("{\"metadata\":{\"name\":\"%s\"},\"spec\":{%s%s\"containers\":[{"
			 "\"name\":\"c\",\"image\":\"x:1\"%s%s}]}}",
			 name, spec_extra, *spec_extra ? "," : "", *container_extra ? "," : "",
			 container_extra);
}

/* A namespace whose enforce level and version are these, made or relabelled. */
static void psa_namespace(const char *name, const char *level, const char *version)
{
	struct http_resp r;
	char path[128];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s", name);
	char *body = xasprintf("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{"
			       "\"name\":\"%s\",\"labels\":{"
			       "\"pod-security.kubernetes.io/enforce\":\"%s\","
			       "\"pod-security.kubernetes.io/enforce-version\":\"%s\"}}}",
			       name, level, version);
	long code = apply(path, body, &r);
	free(body);
	assert_true(code == 200 || code == 201);
	http_resp_free(&r);
}

/* POST of the pod p (freed) to ns: its status, and the refusal's message
 * in why (to free) when there is one. */
static long psa_post(const char *ns, char *p, char **why)
{
	struct http_resp r;
	char path[128];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
	long code = call("POST", path, p, &r);
	free(p);
	*why = jstr(r.body, "message") ? xstrdup(jstr(r.body, "message")) : NULL;
	http_resp_free(&r);
	return code;
}

/*
 * The policy's version decides which checks run, each from the version it
 * came in: restricted's runAsUser from 1.23, the sysctls 1.29 allows and
 * 1.28 did not, a Windows pod spared the Linux-only restricted checks from
 * 1.25, and before 1.19 the seccomp annotations instead of the fields.
 */
static void test_pod_security_checks_by_policy_version(void **state)
{
	(void)state;
	char *why = NULL;
	const char *rest = "\"securityContext\":{\"runAsNonRoot\":true,\"seccompProfile\":{"
			   "\"type\":\"RuntimeDefault\"}}";
	const char *rest_c = "\"securityContext\":{\"allowPrivilegeEscalation\":false,"
			     "\"capabilities\":{\"drop\":[\"ALL\"]},\"runAsUser\":0}";
	psa_namespace("psav", "restricted", "v1.22");
	assert_int_equal(psa_post("psav", psa_pod("root-22", rest, rest_c), &why), 201);
	free(why);
	psa_namespace("psav", "restricted", "v1.23");
	assert_int_equal(psa_post("psav", psa_pod("root-23", rest, rest_c), &why), 403);
	assert_string_equal(why, "pods \"root-23\" is forbidden: violates PodSecurity "
				 "\"restricted:v1.23\": runAsUser=0 (container \"c\" must not set "
				 "runAsUser=0)");
	free(why);

	const char *keepalive = "\"securityContext\":{\"sysctls\":[{\"name\":"
				"\"net.ipv4.tcp_keepalive_time\",\"value\":\"60\"}]}";
	psa_namespace("psas", "baseline", "v1.28");
	assert_int_equal(psa_post("psas", psa_pod("ka-28", keepalive, ""), &why), 403);
	assert_string_equal(why, "pods \"ka-28\" is forbidden: violates PodSecurity "
				 "\"baseline:v1.28\": forbidden sysctls "
				 "(net.ipv4.tcp_keepalive_time)");
	free(why);
	psa_namespace("psas", "baseline", "v1.29");
	assert_int_equal(psa_post("psas", psa_pod("ka-29", keepalive, ""), &why), 201);
	free(why);

	/* Windows, nothing but runAsNonRoot: spared from 1.25 on. */
	const char *windows = "\"os\":{\"name\":\"windows\"},\"securityContext\":{"
			      "\"runAsNonRoot\":true}";
	psa_namespace("psaw", "restricted", "latest");
	assert_int_equal(psa_post("psaw", psa_pod("win", windows, ""), &why), 201);
	free(why);
	psa_namespace("psaw", "restricted", "v1.24");
	assert_int_equal(psa_post("psaw", psa_pod("win-24", windows, ""), &why), 403);
	assert_non_null(strstr(why, "allowPrivilegeEscalation != false"));
	free(why);

	/* 1.18: the annotations, not the field. */
	psa_namespace("psaa", "baseline", "v1.18");
	char *p =
		xasprintf("{\"metadata\":{\"name\":\"ann\",\"annotations\":{"
			  "\"seccomp.security.alpha.kubernetes.io/pod\":\"unconfined\"}},"
			  "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x:1\","
			  "\"securityContext\":{\"seccompProfile\":{\"type\":\"Unconfined\"}}}]}}");
	assert_int_equal(psa_post("psaa", p, &why), 403);
	assert_string_equal(why, "pods \"ann\" is forbidden: violates PodSecurity "
				 "\"baseline:v1.18\": seccompProfile (forbidden annotation "
				 "seccomp.security.alpha.kubernetes.io/pod=\"unconfined\")");
	free(why);
	psa_namespace("psaa", "baseline", "v1.19");
	p = xasprintf("{\"metadata\":{\"name\":\"ann-19\",\"annotations\":{"
		      "\"seccomp.security.alpha.kubernetes.io/pod\":\"unconfined\"}},"
		      "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x:1\"}]}}");
	assert_int_equal(psa_post("psaa", p, &why), 201);
	free(why);
}

/*
 * Baseline also refuses an AppArmor profile other than the runtime's or a
 * node's, and SELinux options beyond the container types (the pod's and
 * the containers', said together); procMount never reaches it, since 1.29
 * drops the field on write.
 */
static void test_pod_security_app_armor_selinux_and_proc_mount(void **state)
{
	struct http_resp r;
	assert_int_equal(apply("/api/v1/namespaces/psa-more",
			       "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{"
			       "\"name\":\"psa-more\",\"labels\":{"
			       "\"pod-security.kubernetes.io/enforce\":\"baseline\"}}}",
			       &r),
			 201);
	http_resp_free(&r);
	const char *pods = "/api/v1/namespaces/psa-more/pods";
	assert_int_equal(
		call("POST", pods,
		     "{\"metadata\":{\"name\":\"armor\",\"annotations\":{"
		     "\"container.apparmor.security.beta.kubernetes.io/c\":\"unconfined\","
		     "\"container.apparmor.security.beta.kubernetes.io/d\":\"localhost/mine\"}},"
		     "\"spec\":{\"securityContext\":{\"seLinuxOptions\":{\"type\":\"spc_t\"}},"
		     "\"containers\":[{\"name\":\"c\",\"image\":\"x:1\",\"securityContext\":{"
		     "\"seLinuxOptions\":{\"user\":\"system_u\",\"type\":\"container_t\"}}},"
		     "{\"name\":\"d\",\"image\":\"x:1\"}]}}",
		     &r),
		403);
	assert_string_equal(
		jstr(r.body, "message"),
		"pods \"armor\" is forbidden: violates PodSecurity \"baseline:latest\": "
		"forbidden AppArmor profile "
		"(container.apparmor.security.beta.kubernetes.io/c=\"unconfined\"), "
		"seLinuxOptions (pod and container \"c\" set forbidden "
		"securityContext.seLinuxOptions: type \"spc_t\"; user may not be set)");
	http_resp_free(&r);
	/* The allowed forms pass; procMount is gone from what is stored. */
	assert_int_equal(
		call("POST", pods,
		     "{\"metadata\":{\"name\":\"fine\",\"annotations\":{"
		     "\"container.apparmor.security.beta.kubernetes.io/c\":\"runtime/default\"}},"
		     "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x:1\","
		     "\"securityContext\":{\"procMount\":\"Unmasked\",\"seLinuxOptions\":{"
		     "\"type\":\"container_init_t\"}}}]}}",
		     &r),
		201);
	assert_null(jget(r.body, "spec.containers.0.securityContext.procMount"));
	assert_string_equal(jstr(r.body, "spec.containers.0.securityContext.seLinuxOptions.type"),
			    "container_init_t");
	http_resp_free(&r);
	assert_int_equal(call("POST", pods,
			      "{\"metadata\":{\"name\":\"also\"},\"spec\":{\"containers\":[{"
			      "\"name\":\"c\",\"image\":\"x:1\"}]}}",
			      &r),
			 201);
	http_resp_free(&r);

	/* Tightened to restricted: the pods already there that it would
	 * refuse are named in warnings, grouped by their reasons. */
	bool found;
	assert_int_equal(call_as(sim.token, "PATCH", "/api/v1/namespaces/psa-more",
				 "application/merge-patch+json",
				 "{\"metadata\":{\"labels\":{"
				 "\"pod-security.kubernetes.io/enforce\":\"restricted\"}}}",
				 &r),
			 200);
	assert_int_equal(
		warnings_in(&r,
			    "299 - \"existing pods in namespace \\\"psa-more\\\" violate the "
			    "new PodSecurity enforce level \\\"restricted:latest\\\"\"",
			    &found),
		2);
	assert_true(found);
	warnings_in(&r,
		    "299 - \"also (and 1 other pods): allowPrivilegeEscalation != false, "
		    "unrestricted capabilities, runAsNonRoot != true, seccompProfile\"",
		    &found);
	assert_true(found);
	http_resp_free(&r);
	/* Relaxed again at the same version: nothing to say. */
	assert_int_equal(call_as(sim.token, "PATCH", "/api/v1/namespaces/psa-more",
				 "application/merge-patch+json",
				 "{\"metadata\":{\"labels\":{"
				 "\"pod-security.kubernetes.io/enforce\":\"baseline\"}}}",
				 &r),
			 200);
	assert_int_equal(warnings_in(&r, NULL, &found), 0);
	http_resp_free(&r);
}

/*
 * Pod Security admission: the namespace's enforce label refuses a pod that
 * violates its level with the admission's 403, its warn label answers a
 * warning for a pod or a workload that would violate it, and a workload
 * whose pods are refused records FailedCreate and makes none.
 */
static void test_pod_security_levels(void **state)
{
	struct http_resp r;
	bool found;
	assert_int_equal(apply("/api/v1/namespaces/psa",
			       "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{"
			       "\"name\":\"psa\",\"labels\":{"
			       "\"pod-security.kubernetes.io/enforce\":\"baseline\","
			       "\"pod-security.kubernetes.io/warn\":\"restricted\","
			       "\"pod-security.kubernetes.io/warn-version\":\"v1.29\"}}}",
			       &r),
			 201);
	http_resp_free(&r);
	const char *pods = "/api/v1/namespaces/psa/pods";
	/* Baseline refuses privileged containers... */
	char *p = psa_pod("priv", "", "\"securityContext\":{\"privileged\":true}");
	assert_int_equal(call("POST", pods, p, &r), 403);
	free(p);
	assert_string_equal(jstr(r.body, "reason"), "Forbidden");
	assert_string_equal(jstr(r.body, "message"),
			    "pods \"priv\" is forbidden: violates PodSecurity \"baseline:latest\": "
			    "privileged (container \"c\" must not set "
			    "securityContext.privileged=true)");
	http_resp_free(&r);
	/* ... and the host's namespaces, paths and ports, capabilities beyond
	 * the default, unsafe sysctls: each named, in the checks' order. */
	p = psa_pod("host",
		    "\"hostNetwork\":true,\"hostPID\":true,\"volumes\":[{\"name\":\"h\","
		    "\"hostPath\":{\"path\":\"/x\"}}],\"securityContext\":{\"sysctls\":[{\"name\":"
		    "\"vm.max_map_count\",\"value\":\"262144\"}]}",
		    "\"ports\":[{\"containerPort\":9200,\"hostPort\":9200}],\"securityContext\":{"
		    "\"capabilities\":{\"add\":[\"SYS_ADMIN\",\"CHOWN\"]}}");
	assert_int_equal(call("POST", pods, p, &r), 403);
	free(p);
	assert_string_equal(
		jstr(r.body, "message"),
		"pods \"host\" is forbidden: violates PodSecurity \"baseline:latest\": "
		"non-default capabilities (container \"c\" must not include \"SYS_ADMIN\" in "
		"securityContext.capabilities.add), host namespaces (hostNetwork=true, "
		"hostPID=true), hostPath volumes (volume \"h\"), hostPort (container \"c\" uses "
		"hostPort 9200), forbidden sysctls (vm.max_map_count)");
	http_resp_free(&r);
	/* A pod baseline takes, but restricted would not: admitted, warned. */
	p = psa_pod("plain", "", "");
	assert_int_equal(call("POST", pods, p, &r), 201);
	free(p);
	assert_int_equal(
		warnings_in(
			&r,
			"299 - \"would violate PodSecurity \\\"restricted:v1.29\\\": "
			"allowPrivilegeEscalation != false (container \\\"c\\\" must set "
			"securityContext.allowPrivilegeEscalation=false), unrestricted "
			"capabilities (container \\\"c\\\" must set "
			"securityContext.capabilities.drop=[\\\"ALL\\\"]), runAsNonRoot != true "
			"(pod or container \\\"c\\\" must set securityContext.runAsNonRoot=true), "
			"seccompProfile (pod or container \\\"c\\\" must set "
			"securityContext.seccompProfile.type to \\\"RuntimeDefault\\\" or "
			"\\\"Localhost\\\")\"",
			&found),
		1);
	assert_true(found);
	http_resp_free(&r);
	/* One restricted takes: no warning. */
	p = psa_pod("tight",
		    "\"securityContext\":{\"runAsNonRoot\":true,\"seccompProfile\":{\"type\":"
		    "\"RuntimeDefault\"}}",
		    "\"securityContext\":{\"allowPrivilegeEscalation\":false,\"capabilities\":{"
		    "\"drop\":[\"ALL\"]}}");
	assert_int_equal(call("POST", pods, p, &r), 201);
	free(p);
	assert_int_equal(warnings_in(&r, NULL, &found), 0);
	http_resp_free(&r);
	/* A workload is only warned of; its pods are refused, each attempt a
	 * FailedCreate event, and none is made. */
	char *sts = xstrdup(workload("root", 1, "root", "data", NULL, "7.17.10"));
	char *at = strstr(sts, "\"containers\"");
	char *priv = xasprintf("%.*s\"initContainers\":[{\"name\":\"prepare\","
			       "\"image\":\"busybox:1.36\","
			       "\"securityContext\":{\"privileged\":true}}],%s",
			       (int)(at - sts), sts, at);
	assert_int_equal(apply("/apis/apps/v1/namespaces/psa/statefulsets/root", priv, &r), 201);
	assert_int_equal(warnings_in(&r, NULL, &found), 1);
	assert_non_null(strstr(r.headers, "would violate PodSecurity \\\"restricted:v1.29\\\": "
					  "allowPrivilegeEscalation != false (containers "
					  "\\\"prepare\\\", \\\"es\\\" must set"));
	assert_non_null(strstr(r.headers, "privileged (container \\\"prepare\\\" must not set "
					  "securityContext.privileged=true)"));
	http_resp_free(&r);
	assert_true(
		wait_until("/api/v1/namespaces/psa/events", event_with,
			   "create Pod root-0 in StatefulSet root failed error: pods \"root-0\" "
			   "is forbidden: violates PodSecurity \"baseline:latest\": privileged "
			   "(container \"prepare\" must not set securityContext.privileged=true)",
			   30000, &r));
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/psa/pods/root-0", NULL, &r), 404);
	http_resp_free(&r);
	free(priv);
	free(sts);
	/* privileged (and no label) takes anything. */
	assert_int_equal(
		call_as(sim.token, "PATCH", "/api/v1/namespaces/psa",
			"application/merge-patch+json",
			"{\"metadata\":{\"labels\":{\"pod-security.kubernetes.io/enforce\":"
			"\"privileged\"}}}",
			&r),
		200);
	http_resp_free(&r);
	p = psa_pod("priv", "", "\"securityContext\":{\"privileged\":true}");
	assert_int_equal(call("POST", pods, p, &r), 201);
	free(p);
	http_resp_free(&r);
	int one = 1;
	assert_true(wait_until("/apis/apps/v1/namespaces/psa/statefulsets/root", ready_replicas_is,
			       &one, 30000, &r));
	http_resp_free(&r);
}

static void test_resource_quota(void **state)
{
	struct http_resp r;
	char body[2048];
	int two = 2, three = 3;
	make_namespace("quota");
	snprintf(body, sizeof(body), QUOTA, 3);
	assert_int_equal(apply(QUOTA_PATH, body, &r), 201);
	/* Written back in canonical form. */
	assert_string_equal(quota_entry(r.body, "spec.hard", "limits.memory"), "4Gi");
	http_resp_free(&r);
	/* The quota controller fills status: hard as in spec, nothing used yet. */
	assert_true(wait_until(QUOTA_PATH, quota_pods_are, "3/0", 30000, &r));
	assert_string_equal(quota_entry(r.body, "status.used", "requests.cpu"), "0");
	assert_string_equal(quota_entry(r.body, "status.hard", "limits.memory"), "4Gi");
	http_resp_free(&r);

	/* A pod that leaves out what the quota constrains. */
	assert_int_equal(call("POST", "/api/v1/namespaces/quota/pods", one_pod("bare", NULL), &r),
			 403);
	assert_string_equal(jstr(r.body, "reason"), "Forbidden");
	assert_string_equal(jstr(r.body, "message"),
			    "pods \"bare\" is forbidden: failed quota: compute: must specify "
			    "limits.cpu,limits.memory,requests.cpu,requests.memory");
	assert_string_equal(jstr(r.body, "details.name"), "bare");
	assert_string_equal(jstr(r.body, "details.kind"), "pods");
	assert_int_equal(jint(r.body, "code"), 403);
	http_resp_free(&r);
	assert_int_equal(
		call("POST", "/api/v1/namespaces/quota/pods",
		     one_pod("half", "{\"requests\":{\"cpu\":\"100m\",\"memory\":\"64Mi\"}}"), &r),
		403);
	assert_string_equal(jstr(r.body, "message"),
			    "pods \"half\" is forbidden: failed quota: compute: must specify "
			    "limits.cpu,limits.memory");
	http_resp_free(&r);
	/* Limits alone: the requests default to them, and the quota counts it at once. */
	assert_int_equal(
		call("POST", "/api/v1/namespaces/quota/pods",
		     one_pod("small", "{\"limits\":{\"cpu\":\"500m\",\"memory\":\"1Gi\"}}"), &r),
		201);
	assert_string_equal(jstr(r.body, "spec.containers.0.resources.requests.cpu"), "500m");
	http_resp_free(&r);
	assert_int_equal(call("GET", QUOTA_PATH, NULL, &r), 200);
	assert_string_equal(quota_entry(r.body, "status.used", "pods"), "1");
	assert_string_equal(quota_entry(r.body, "status.used", "requests.cpu"), "500m");
	assert_string_equal(quota_entry(r.body, "status.used", "limits.memory"), "1Gi");
	http_resp_free(&r);
	/* One that would go past it: refused, saying by how much. */
	assert_int_equal(
		call("POST", "/api/v1/namespaces/quota/pods",
		     one_pod("big", "{\"requests\":{\"cpu\":\"600m\",\"memory\":\"512Mi\"},"
				    "\"limits\":{\"cpu\":\"600m\",\"memory\":\"512Mi\"}}"),
		     &r),
		403);
	assert_string_equal(jstr(r.body, "reason"), "Forbidden");
	assert_string_equal(jstr(r.body, "message"),
			    "pods \"big\" is forbidden: exceeded quota: compute, requested: "
			    "requests.cpu=600m, used: requests.cpu=500m, limited: requests.cpu=1");
	assert_int_equal(jint(r.body, "code"), 403);
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/quota/pods/big", NULL, &r), 404);
	http_resp_free(&r);

	/* A StatefulSet's third pod does not fit: not created, a FailedCreate
	 * event says why, and it comes once the quota is raised. */
	const char *sts_path = "/apis/apps/v1/namespaces/quota/statefulsets/web";
	assert_int_equal(
		apply(sts_path,
		      "{\"apiVersion\":\"apps/"
		      "v1\",\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"web\"},"
		      "\"spec\":{\"replicas\":3,\"serviceName\":\"web\",\"podManagementPolicy\":"
		      "\"Parallel\","
		      "\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":"
		      "{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"web\","
		      "\"image\":\"nginx:1\",\"resources\":{\"requests\":{\"cpu\":\"100m\","
		      "\"memory\":\"256Mi\"},"
		      "\"limits\":{\"cpu\":\"100m\",\"memory\":\"256Mi\"}}}]}}}}",
		      &r),
		201);
	http_resp_free(&r);
	assert_true(wait_until(sts_path, ready_replicas_is, &two, 30000, &r));
	http_resp_free(&r);
	assert_true(
		wait_until("/api/v1/namespaces/quota/events", event_with,
			   "create Pod web-2 in StatefulSet web failed error: pods \"web-2\" is "
			   "forbidden: exceeded quota: compute, requested: pods=1, used: pods=3, "
			   "limited: pods=3",
			   30000, &r));
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/quota/pods/web-2", NULL, &r), 404);
	http_resp_free(&r);
	assert_true(wait_until(QUOTA_PATH, quota_pods_are, "3/3", 30000, &r));
	assert_string_equal(quota_entry(r.body, "status.used", "requests.cpu"), "700m");
	assert_string_equal(quota_entry(r.body, "status.used", "requests.memory"), "1536Mi");
	http_resp_free(&r);
	snprintf(body, sizeof(body), QUOTA, 4);
	assert_int_equal(apply(QUOTA_PATH, body, &r), 200);
	http_resp_free(&r);
	assert_true(wait_until(sts_path, ready_replicas_is, &three, 30000, &r));
	http_resp_free(&r);
	assert_true(wait_until(QUOTA_PATH, quota_pods_are, "4/4", 30000, &r));
	http_resp_free(&r);

	/* A Deployment's pod that does not fit: the ReplicaFailure condition. */
	const char *dep_path = "/apis/apps/v1/namespaces/quota/deployments/dep";
	assert_int_equal(apply(dep_path, DEPLOYMENT_DEP, &r), 201);
	http_resp_free(&r);
	assert_true(wait_until(dep_path, replica_failure,
			       "\" is forbidden: exceeded quota: compute, requested: pods=1, used: "
			       "pods=4, limited: pods=4",
			       30000, &r));
	const char *why = NULL;
	size_t i;
	json_t *c;
	json_array_foreach (jget(r.body, "status.conditions"), i, c)
		if (!strcmp(jstr(c, "type"), "ReplicaFailure"))
			why = jstr(c, "message");
	assert_non_null(why);
	assert_true(!strncmp(why, "pods \"dep-", 10));
	http_resp_free(&r);
	assert_true(wait_until("/api/v1/namespaces/quota/events", event_with,
			       "Error creating: pods \"dep-", 30000, &r));
	http_resp_free(&r);
	/* Room again: the pod comes and the condition goes. */
	assert_int_equal(call("DELETE", "/api/v1/namespaces/quota/pods/small", NULL, &r), 200);
	http_resp_free(&r);
	int one = 1;
	assert_true(wait_until(dep_path, ready_replicas_is, &one, 30000, &r));
	assert_false(replica_failure(&r, ""));
	http_resp_free(&r);

	/* A quota that is not one. */
	assert_int_equal(apply("/api/v1/namespaces/quota/resourcequotas/bad",
			       "{\"apiVersion\":\"v1\",\"kind\":\"ResourceQuota\",\"metadata\":{"
			       "\"name\":\"bad\"},"
			       "\"spec\":{\"hard\":{\"pods\":\"lots\"}}}",
			       &r),
			 422);
	assert_string_equal(jstr(r.body, "details.causes.0.field"), "spec.hard[pods]");
	http_resp_free(&r);
}

/*
 * The quota controller recounts status.used only when asked to (a pod that
 * stops counting or goes, a spec it has not seen, its resync); admission
 * charges each pod it lets in against status.used as it stands, and that
 * charge stays even when the create then fails on a name that exists.
 */
static void test_quota_charges_admission_until_the_controller_recounts(void **state)
{
	struct http_resp r;
	const char *path = "/api/v1/namespaces/quotalag/resourcequotas/count";
	const char *pods = "/api/v1/namespaces/quotalag/pods";
	make_namespace("quotalag");
	assert_int_equal(apply(path,
			       "{\"apiVersion\":\"v1\",\"kind\":\"ResourceQuota\",\"metadata\":{"
			       "\"name\":\"count\"},\"spec\":{\"hard\":{\"pods\":\"2\"}}}",
			       &r),
			 201);
	http_resp_free(&r);
	assert_true(wait_until(path, quota_pods_are, "2/0", 30000, &r));
	http_resp_free(&r);
	assert_int_equal(call("POST", pods, one_pod("a", NULL), &r), 201);
	http_resp_free(&r);
	assert_int_equal(call("GET", path, NULL, &r), 200);
	assert_string_equal(quota_entry(r.body, "status.used", "pods"), "1");
	http_resp_free(&r);
	/* Admission comes before the name's check: charged, then 409. */
	assert_int_equal(call("POST", pods, one_pod("a", NULL), &r), 409);
	http_resp_free(&r);
	assert_int_equal(call("GET", path, NULL, &r), 200);
	assert_string_equal(quota_entry(r.body, "status.used", "pods"), "2");
	http_resp_free(&r);
	/* No event recounts it: one pod stored, yet the next is refused by
	 * what admission wrote, for as long as the controller leaves it. */
	assert_int_equal(call("POST", pods, one_pod("b", NULL), &r), 403);
	assert_string_equal(jstr(r.body, "message"),
			    "pods \"b\" is forbidden: exceeded quota: count, requested: pods=1, "
			    "used: pods=2, limited: pods=2");
	http_resp_free(&r);
	assert_false(wait_until(path, quota_pods_are, "2/1", 300, &r));
	http_resp_free(&r);
	/* A pod deleted is an event: the namespace's quotas are recounted. */
	assert_int_equal(
		call("DELETE", "/api/v1/namespaces/quotalag/pods/a?gracePeriodSeconds=0", NULL, &r),
		200);
	http_resp_free(&r);
	assert_true(wait_until(path, quota_pods_are, "2/0", 30000, &r));
	http_resp_free(&r);
	assert_int_equal(call("POST", pods, one_pod("b", NULL), &r), 201);
	http_resp_free(&r);
	assert_int_equal(call("POST", pods, one_pod("c", NULL), &r), 201);
	http_resp_free(&r);
	assert_true(wait_until(path, quota_pods_are, "2/2", 30000, &r));
	http_resp_free(&r);
	/* A terminating pod is still charged within its grace: the next one
	 * is refused until the pod is gone. */
	assert_int_equal(call("DELETE", "/api/v1/namespaces/quotalag/pods/b", NULL, &r), 200);
	assert_non_null(jstr(r.body, "metadata.deletionTimestamp"));
	http_resp_free(&r);
	assert_int_equal(call("POST", pods, one_pod("d", NULL), &r), 403);
	http_resp_free(&r);
	assert_true(wait_until(path, quota_pods_are, "2/1", 30000, &r));
	http_resp_free(&r);
	assert_int_equal(call("POST", pods, one_pod("d", NULL), &r), 201);
	http_resp_free(&r);
}

/* --- the official schemas --------------------------------------------------------- */

static const char *reference_dir(char *buf, size_t len)
{
	const char *env = getenv("ESAAS_SRCDIR");
	snprintf(buf, len, "%s/tests/reference", env ? env : ".");
	return buf;
}

static void save(const char *name, const char *body)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/%s", sim.dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(body, f);
	fclose(f);
}

static bool pod_on_a_node(struct http_resp *r, const void *arg);

static void test_schemas(void **state)
{
	char ref[512], schema_dir[600], cmd[4096];
	struct http_resp r;
	struct stat st;
	snprintf(schema_dir, sizeof(schema_dir), "%s/k8s-schema/v1.29.0-standalone-strict",
		 reference_dir(ref, sizeof(ref)));
	/* The image's python3 first, then Debian's (python3-jsonschema), as tests/schema does. */
	const char *python = NULL;
	static const char *const pythons[] = {"python3", "/usr/bin/python3"};
	for (size_t i = 0; i < sizeof(pythons) / sizeof(pythons[0]) && !python; i++) {
		snprintf(cmd, sizeof(cmd), "%s -c 'import jsonschema' 2>/dev/null", pythons[i]);
		if (system(cmd) == 0)
			python = pythons[i];
	}
	if (stat(schema_dir, &st) != 0)
		fail_msg("no schemas in %s (set ESAAS_SRCDIR to the source tree)", schema_dir);
	if (!python)
		fail_msg("no python3 with the jsonschema module (apt-get install "
			 "python3-jsonschema)");
	/* Objects of its own, each in the state whose fields are checked: a
	 * cluster's StatefulSets, Service and running pods; a pod that cannot
	 * be scheduled (its conditions); a ConfigMap; a quota in use and a
	 * Deployment it refuses (the ReplicaFailure condition). */
	make_cluster("schemas", 1, "7.17.10");
	assert_true(wait_until("/api/v1/namespaces/schemas/pods/es-data-0", pod_on_a_node, NULL,
			       30000, &r));
	http_resp_free(&r);
	assert_int_equal(
		apply("/apis/apps/v1/namespaces/schemas/statefulsets/host",
		      workload("host", 5, "h", "data", "kubernetes.io/hostname", "7.17.10"), &r),
		201);
	http_resp_free(&r);
	assert_true(wait_until("/api/v1/namespaces/schemas/pods/host-4", pod_pending_with,
			       "didn't match pod anti-affinity rules", 30000, &r));
	http_resp_free(&r);
	assert_int_equal(call("POST", "/api/v1/namespaces/schemas/configmaps",
			      "{\"metadata\":{\"name\":\"d\",\"labels\":{\"tier\":\"web\"}},"
			      "\"data\":{\"k\":\"1\"}}",
			      &r),
			 201);
	http_resp_free(&r);
	make_namespace("schemas-quota");
	snprintf(cmd, sizeof(cmd), QUOTA, 0);
	assert_int_equal(apply("/api/v1/namespaces/schemas-quota/resourcequotas/compute", cmd, &r),
			 201);
	http_resp_free(&r);
	assert_true(wait_until("/api/v1/namespaces/schemas-quota/resourcequotas/compute",
			       quota_pods_are, "0/0", 30000, &r));
	http_resp_free(&r);
	assert_int_equal(
		apply("/apis/apps/v1/namespaces/schemas-quota/deployments/dep", DEPLOYMENT_DEP, &r),
		201);
	http_resp_free(&r);
	assert_true(wait_until("/apis/apps/v1/namespaces/schemas-quota/deployments/dep",
			       replica_failure, "exceeded quota: compute", 30000, &r));
	http_resp_free(&r);

	static const struct {
		const char *path;
		const char *schema;
	} docs[] = {
		{"/api/v1/namespaces/schemas/pods/es-data-0", "pod-v1.json"},
		{"/api/v1/namespaces/schemas/pods", "podlist-v1.json"},
		{"/apis/apps/v1/namespaces/schemas/statefulsets/es-data",
		 "statefulset-apps-v1.json"},
		{"/apis/apps/v1/namespaces/schemas/statefulsets", "statefulsetlist-apps-v1.json"},
		{"/apis/apps/v1/namespaces/schemas/statefulsets/es-data/scale",
		 "scale-autoscaling-v1.json"},
		{"/api/v1/namespaces/nowhere", "status-meta-v1.json"},
		{"/api/v1/namespaces/schemas/pods/host-4", "pod-v1.json"},
		{"/api/v1/namespaces/schemas/services/es-schemas", "service-v1.json"},
		{"/api/v1/namespaces/schemas/configmaps/d", "configmap-v1.json"},
		{"/api/v1/namespaces", "namespacelist-v1.json"},
		{"/api/v1/namespaces/schemas-quota/resourcequotas/compute",
		 "resourcequota-v1.json"},
		{"/apis/apps/v1/namespaces/schemas-quota/deployments/dep",
		 "deployment-apps-v1.json"},
	};
	char *args = NULL;
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		char name[32];
		call("GET", docs[i].path, NULL, &r);
		snprintf(name, sizeof(name), "doc%zu.json", i);
		save(name, r.raw);
		http_resp_free(&r);
		char *next;
		if (asprintf(&next, "%s %s/%s %s/%s", args ? args : "", sim.dir, name, schema_dir,
			     docs[i].schema) < 0)
			fail();
		free(args);
		args = next;
	}
	save("validate.py",
	     "import json, sys, jsonschema\n"
	     "bad = 0\n"
	     "a = sys.argv[1:]\n"
	     "for doc, schema in zip(a[0::2], a[1::2]):\n"
	     "    s = json.load(open(schema)); s.pop('$schema', None)\n"
	     "    for e in jsonschema.Draft4Validator(s).iter_errors(json.load(open(doc))):\n"
	     "        bad += 1; print(doc, schema, list(e.path), e.message[:200])\n"
	     "sys.exit(1 if bad else 0)\n");
	snprintf(cmd, sizeof(cmd), "%s %s/validate.py%s", python, sim.dir, args);
	free(args);
	assert_int_equal(system(cmd), 0);
}

/* The python that has jsonschema, or a failure naming the package. */
static const char *python_with_jsonschema(void)
{
	char cmd[256];
	static const char *const pythons[] = {"python3", "/usr/bin/python3"};
	for (size_t i = 0; i < sizeof(pythons) / sizeof(pythons[0]); i++) {
		snprintf(cmd, sizeof(cmd), "%s -c 'import jsonschema' 2>/dev/null", pythons[i]);
		if (system(cmd) == 0)
			return pythons[i];
	}
	fail_msg("no python3 with the jsonschema module (apt-get install python3-jsonschema)");
	return NULL;
}

/* One answer of a simulated node, saved for tests/sim/es_spec.py and listed
 * in its manifest; it must be a 200. */
static void spec_answer(json_t *manifest, const char *ns, const char *version, const char *method,
			const char *path, const char *body)
{
	struct http_resp r;
	char name[64], file[600];
	assert_true(request(method, es_path(ns, path), NULL, body, true, 0, &r));
	if (r.status != 200)
		fail_msg("%s %s on %s: %ld %s", method, path, version, r.status, r.raw);
	snprintf(name, sizeof(name), "es-%zu.json", json_array_size(manifest));
	save(name, r.raw && *r.raw ? r.raw : "null");
	http_resp_free(&r);
	snprintf(file, sizeof(file), "%s/%s", sim.dir, name);
	char *bare = xstrdup(path);
	bare[strcspn(bare, "?")] = '\0';
	json_array_append_new(manifest,
			      json_pack("{s:s, s:s, s:s, s:i, s:s}", "version", version, "method",
					method, "path", bare, "status", 200, "file", file));
	free(bare);
}

/* What the simulated 7.17 and 8.17 nodes answer to every API esaas calls
 * matches the response schemas of Elasticsearch's OpenAPI document
 * (tests/reference/es-api). */
static void test_es_responses_match_the_spec(void **state)
{
	static const struct {
		const char *ns, *version;
	} clusters[] = {{"spec7", "7.17.10"}, {"spec8", "8.17.0"}};
	json_t *manifest = json_array();
	char ref[512], cmd[2048], node_path[256], id[64];
	struct http_resp r;
	const char *python = python_with_jsonschema();
	for (size_t i = 0; i < ARRAY_SIZE(clusters); i++) {
		const char *ns = clusters[i].ns, *v = clusters[i].version;
		make_cluster(ns, 2, v);
		es_wait_green(ns, 3);
		spec_answer(manifest, ns, v, "PUT", "/logs",
			    "{\"settings\":{\"number_of_shards\":2,\"number_of_replicas\":1}}");
		es_wait_green(ns, 3);
		spec_answer(manifest, ns, v, "GET", "/", NULL);
		spec_answer(manifest, ns, v, "GET", "/_cluster/health", NULL);
		spec_answer(manifest, ns, v, "GET", "/_cluster/health?wait_for_status=green", NULL);
		spec_answer(manifest, ns, v, "PUT", "/_cluster/settings",
			    "{\"persistent\":{\"cluster.routing.allocation.enable\":\"primaries\"},"
			    "\"transient\":{\"cluster.routing.allocation.exclude._name\":\"x\"}}");
		spec_answer(manifest, ns, v, "GET", "/_cluster/settings", NULL);
		spec_answer(manifest, ns, v, "PUT", "/_cluster/settings",
			    "{\"persistent\":{\"cluster.routing.allocation.enable\":null},"
			    "\"transient\":{\"cluster.routing.allocation.exclude._name\":null}}");
		spec_answer(manifest, ns, v, "GET", "/_cat/nodes?format=json", NULL);
		spec_answer(manifest, ns, v, "GET",
			    "/_cat/nodes?format=json&h=name,ip,node.role,master,heap.percent",
			    NULL);
		spec_answer(manifest, ns, v, "GET", "/_cat/shards?format=json", NULL);
		spec_answer(manifest, ns, v, "GET", "/_cat/indices?format=json", NULL);
		spec_answer(manifest, ns, v, "GET", "/_cat/plugins?format=json", NULL);
		spec_answer(manifest, ns, v, "GET", "/_cat/master?format=json", NULL);
		spec_answer(manifest, ns, v, "GET", "/_cat/health?format=json", NULL);
		spec_answer(manifest, ns, v, "GET", "/_nodes", NULL);
		spec_answer(manifest, ns, v, "GET", "/_all/_settings", NULL);
		spec_answer(manifest, ns, v, "POST", "/_flush", NULL);
		snprintf(node_path, sizeof(node_path),
			 "/_cluster/voting_config_exclusions?node_names=es-data-0-%s", ns);
		spec_answer(manifest, ns, v, "POST", node_path, NULL);
		spec_answer(manifest, ns, v, "DELETE",
			    "/_cluster/voting_config_exclusions?wait_for_removal=false", NULL);
		/* The node shutdown API, by the data node's id. */
		snprintf(node_path, sizeof(node_path),
			 "/_cat/nodes?format=json&h=id,name&full_id=true");
		assert_int_equal(call("GET", es_path(ns, node_path), NULL, &r), 200);
		snprintf(id, sizeof(id), "%s", jstr(r.body, "0.id"));
		http_resp_free(&r);
		snprintf(node_path, sizeof(node_path), "/_nodes/%s/shutdown", id);
		spec_answer(manifest, ns, v, "PUT", node_path,
			    "{\"type\":\"restart\",\"reason\":\"spec\"}");
		spec_answer(manifest, ns, v, "GET", node_path, NULL);
		spec_answer(manifest, ns, v, "DELETE", node_path, NULL);
		/* A replica that cannot be placed, for the allocation explanation. */
		spec_answer(manifest, ns, v, "PUT", "/wide",
			    "{\"settings\":{\"number_of_shards\":1,\"number_of_replicas\":5}}");
		spec_answer(manifest, ns, v, "POST", "/_cluster/allocation/explain", NULL);
		spec_answer(manifest, ns, v, "DELETE", "/wide", NULL);
	}
	char *text = json_dumps(manifest, JSON_INDENT(1));
	save("es-manifest.json", text);
	free(text);
	json_decref(manifest);
	snprintf(cmd, sizeof(cmd),
		 "%s %s/../sim/es_spec.py responses %s/es-api %s/es-manifest.json", python,
		 reference_dir(ref, sizeof(ref)), ref, sim.dir);
	assert_int_equal(system(cmd), 0);
}

/* The check of esaasd's requests (sim_es_requests_in_spec, run after every
 * end-to-end test) refuses what the version's REST specification does not
 * have: a parameter 8.x dropped, an API 8.x removed, a misspelt parameter
 * and a bad value; it takes what the specification has. */
static void test_es_request_check_follows_the_rest_spec(void **state)
{
	static const struct {
		const char *ns, *method, *path;
		bool in_spec;
	} reqs[] = {
		{"reqspec8", "GET", "/_cat/nodes?format=json&h=name,node.role&local=true", false},
		{"reqspec8", "POST", "/_flush/synced", false},
		{"reqspec8", "GET", "/_cluster/health?wait_for_staus=green", false},
		{"reqspec8", "GET", "/_cluster/health?wait_for_status=blue", false},
		{"reqspec7", "GET", "/_cat/nodes?format=json&h=name,node.role&local=true", true},
		{"reqspec7", "POST", "/_flush/synced", true},
		{"reqspec8", "GET", "/_cluster/health?wait_for_status=green&timeout=1s", true},
		{"reqspec8", "DELETE", "/_cluster/voting_config_exclusions?wait_for_removal=false",
		 true},
	};
	char auth[300];
	/* Clusters of its own: the check looks at the version. */
	make_cluster("reqspec7", 1, "7.17.10");
	make_cluster("reqspec8", 1, "8.17.0");
	es_wait_green("reqspec7", 2);
	es_wait_green("reqspec8", 2);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", sim.sa_token);
	const char *h[] = {auth, NULL};
	struct http_resp r;
	for (size_t i = 0; i < ARRAY_SIZE(reqs); i++) {
		assert_int_equal(call("DELETE", "/_sim/state", NULL, &r), 200);
		http_resp_free(&r);
		/* Sent as esaasd would send it; the answer does not matter here. */
		assert_true(http_request(sim.server, reqs[i].method,
					 es_path(reqs[i].ns, reqs[i].path), NULL, h, 0, &r));
		http_resp_free(&r);
		if (sim_es_requests_in_spec(&sim) != reqs[i].in_spec)
			fail_msg("%s %s to %s: %s the specification, the check says otherwise",
				 reqs[i].method, reqs[i].path, reqs[i].ns,
				 reqs[i].in_spec ? "in" : "not in");
	}
	assert_int_equal(call("DELETE", "/_sim/state", NULL, &r), 200);
	http_resp_free(&r);
}

/* --- transport and authorization ---------------------------------------------------- */

/* One request with another token (NULL: none). */
static long call_as(const char *token, const char *method, const char *path,
		    const char *content_type, const char *body, struct http_resp *r)
{
	char auth_line[300], type_line[256];
	const char *headers[3] = {NULL};
	int n = 0;
	if (token) {
		snprintf(auth_line, sizeof(auth_line), "Authorization: Bearer %s", token);
		headers[n++] = auth_line;
	}
	if (body) {
		snprintf(type_line, sizeof(type_line), "Content-Type: %s",
			 content_type ? content_type : "application/json");
		headers[n++] = type_line;
	}
	assert_true(http_request(sim.server, method, path, body, headers, 0, r));
	return r->status;
}

/* The 403 Status, exactly as the API server's authorization filter writes it. */
static void assert_forbidden(struct http_resp *r, const char *message, const char *name,
			     const char *group, const char *kind)
{
	assert_int_equal(r->status, 403);
	json_t *want = json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:{}, s:i}", "kind", "Status",
				 "apiVersion", "v1", "metadata", "status", "Failure", "message",
				 message, "reason", "Forbidden", "details", "code", 403);
	json_t *d = json_object_get(want, "details");
	if (name)
		json_object_set_new(d, "name", json_string(name));
	if (group)
		json_object_set_new(d, "group", json_string(group));
	if (kind)
		json_object_set_new(d, "kind", json_string(kind));
	if (!json_equal(want, r->body)) {
		char *a = json_dumps(want, JSON_SORT_KEYS),
		     *b = json_dumps(r->body, JSON_SORT_KEYS);
		fprintf(stderr, "want %s\n got %s\n", a, b ? b : r->raw);
		free(a);
		free(b);
	}
	assert_true(json_equal(want, r->body));
	json_decref(want);
}

static void test_https_with_the_written_ca(void **state)
{
	(void)state;
	struct http_resp r;
	char cmd[1024];
	/* The kubeconfig says https and carries the CA. */
	assert_true(!strncmp(sim.server, "https://", 8));
	/* kubectl, with the kubeconfig as written: esaasd's service account may list namespaces. */
	snprintf(cmd, sizeof(cmd),
		 "kubectl --kubeconfig '%s' get namespaces -o name >'%s/ns.out' 2>&1",
		 sim.kubeconfig, sim.dir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "grep -qx namespace/kube-system '%s/ns.out'", sim.dir);
	assert_int_equal(system(cmd), 0);
	/* And the admin context may do what it may not. */
	snprintf(cmd, sizeof(cmd),
		 "kubectl --kubeconfig '%s' --context admin get nodes -o name | grep -q node/",
		 sim.kubeconfig);
	assert_int_equal(system(cmd), 0);
	/* curl with the CA of the kubeconfig. */
	snprintf(cmd, sizeof(cmd),
		 "curl -fsS --cacert '%s' -H 'Authorization: Bearer %s' '%s/version' >/dev/null",
		 sim.ca, sim.token, sim.server);
	assert_int_equal(system(cmd), 0);
	/* Without it, the certificate is not trusted. */
	snprintf(cmd, sizeof(cmd), "curl -fsS --cacert /dev/null '%s/version' >/dev/null 2>&1",
		 sim.server);
	assert_int_not_equal(system(cmd), 0);
	/* Plain HTTP to the same port is no API: Go's HTTP server answers it
	 * in HTTP/1.0 and closes. */
	char plain[300];
	snprintf(plain, sizeof(plain), "http://%.200s", sim.server + 8);
	char auth[300];
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", sim.token);
	const char *h[] = {auth, NULL};
	bool answered = http_request(plain, "GET", "/api/v1/namespaces", NULL, h, 2000, &r);
	assert_true(!answered || r.status != 200);
	http_resp_free(&r);
	snprintf(cmd, sizeof(cmd),
		 "curl -sS -i -X POST -d '{}' '%s/api/v1/namespaces' >'%s/plain.out'", plain,
		 sim.dir);
	assert_int_equal(system(cmd), 0);
	static const char want[] =
		"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";
	char got[256] = "";
	snprintf(cmd, sizeof(cmd), "%s/plain.out", sim.dir);
	FILE *f = fopen(cmd, "r");
	assert_non_null(f);
	size_t n = fread(got, 1, sizeof(got) - 1, f);
	fclose(f);
	got[n] = '\0';
	assert_string_equal(got, want);
}

/* The PEM files of a kubeconfig's user's client certificate and key. */
static void client_cert_files(const char *kubeconfig, const char *user, const char *out_prefix)
{
	char cmd[1024];
	static const char *const fields[][2] = {{"client-certificate-data", "crt"},
						{"client-key-data", "key"}};
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		snprintf(cmd, sizeof(cmd),
			 "kubectl config view --raw --kubeconfig '%s' "
			 "-o jsonpath='{.users[?(@.name==\"%s\")].user.%s}' | base64 -d >'%s.%s' "
			 "&& test -s '%s.%s'",
			 kubeconfig, user, fields[i][0], out_prefix, fields[i][1], out_prefix,
			 fields[i][1]);
		assert_int_equal(system(cmd), 0);
	}
}

/* curl with a client certificate (prefix.crt, prefix.key) and maybe a
 * token: the HTTP status. */
static int curl_with_cert(const char *prefix, const char *token, const char *path)
{
	char cmd[1600], out[300];
	snprintf(out, sizeof(out), "%s.status", prefix);
	snprintf(cmd, sizeof(cmd),
		 "curl -sS -o /dev/null -w '%%{http_code}' --cacert '%s' --cert '%s.crt' "
		 "--key '%s.key' %s%s%s '%s%s' >'%s'",
		 sim.ca, prefix, prefix, token ? "-H 'Authorization: Bearer " : "",
		 token ? token : "", token ? "'" : "", sim.server, path, out);
	if (system(cmd) != 0)
		return -1;
	FILE *f = fopen(out, "r");
	int status = -1;
	if (f) {
		if (fscanf(f, "%d", &status) != 1)
			status = -1;
		fclose(f);
	}
	return status;
}

/*
 * The admin-cert context authenticates by its client certificate alone,
 * as kubeadm's admin.conf does: CN kubernetes-admin, O system:masters,
 * which cluster-admin and the /_sim/ paths need.  A certificate of another
 * CA authenticates no one: a 401 without a token, the token's user with
 * one (the x509 authenticator's error does not stop the union).
 */
static void test_client_certificates_authenticate_as_their_subject(void **state)
{
	(void)state;
	char cmd[1024], prefix[300], other_prefix[400], dir[300];
	snprintf(cmd, sizeof(cmd),
		 "kubectl --kubeconfig '%s' --context admin-cert get nodes -o name | grep -q node/",
		 sim.kubeconfig);
	assert_int_equal(system(cmd), 0);
	snprintf(prefix, sizeof(prefix), "%s/admin-cert", sim.dir);
	client_cert_files(sim.kubeconfig, "admin-cert", prefix);
	snprintf(cmd, sizeof(cmd),
		 "openssl x509 -noout -subject -in '%s.crt' | grep -q "
		 "'O = system:masters, CN = kubernetes-admin'",
		 prefix);
	assert_int_equal(system(cmd), 0);
	/* No token: the certificate is the user, system:masters its group. */
	assert_int_equal(curl_with_cert(prefix, NULL, "/api/v1/nodes"), 200);
	assert_int_equal(curl_with_cert(prefix, NULL, "/_sim/state"), 200);

	/* Another simulator's CA issued this one. */
	struct sim other;
	snprintf(dir, sizeof(dir), "%s/other-ca", tmpdir);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_true(sim_start(&other, dir, ""));
	snprintf(other_prefix, sizeof(other_prefix), "%s/foreign", dir);
	client_cert_files(other.kubeconfig, "admin-cert", other_prefix);
	assert_int_equal(sim_stop(&other), 0);
	assert_int_equal(curl_with_cert(other_prefix, NULL, "/api/v1/nodes"), 401);
	assert_int_equal(curl_with_cert(other_prefix, NULL, "/version"), 401);
	assert_int_equal(curl_with_cert(other_prefix, sim.sa_token, "/api/v1/namespaces"), 200);
	/* /_sim/ is the admin's alone: the token decided, not the foreign
	 * certificate's system:masters. */
	assert_int_equal(curl_with_cert(other_prefix, sim.sa_token, "/_sim/state"), 403);
}

struct kube_answer {
	bool done;
	long status;
	enum httpc_class klass;
	char message[512];
};

static void kube_cb(void *arg, const struct kube_result *res)
{
	struct kube_answer *a = arg;
	a->done = true;
	a->status = res->status;
	a->klass = res->klass;
	snprintf(a->message, sizeof(a->message), "%s", res->message ? res->message : "");
}

/* esaas's Kubernetes client, with a kubeconfig whose CA did not sign the
 * server's certificate (another simulator's): no request gets through. */
static void test_esaas_refuses_a_certificate_of_another_ca(void **state)
{
	(void)state;
	struct sim other;
	char dir[300], path[600], cmd[1600];
	snprintf(dir, sizeof(dir), "%s/other", tmpdir);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_true(sim_start(&other, dir, ""));
	/* This simulator's kubeconfig with the other one's server in it. */
	snprintf(path, sizeof(path), "%s/mixed-kubeconfig", dir);
	snprintf(cmd, sizeof(cmd), "sed 's|server: .*|server: %s|' '%s' >'%s'", other.server,
		 sim.kubeconfig, path);
	assert_int_equal(system(cmd), 0);
	struct kube_conn_opts o = {.source = KUBE_SOURCE_KUBECONFIG, .kubeconfig = path};
	struct kube_conn conn;
	char err[512];
	assert_true(kube_conn_load(&o, &conn, err, sizeof(err)));
	assert_false(conn.insecure);
	struct event_base *base = event_base_new();
	struct httpc *h = httpc_new(base);
	struct kube *k = kube_new(h, &conn);
	struct kube_answer a = {0};
	kube_get(k, "/api/v1/namespaces/default", kube_cb, &a);
	int64_t deadline = harness_now_ms() + 10000;
	while (!a.done && harness_now_ms() < deadline)
		event_base_loop(base, EVLOOP_ONCE);
	assert_true(a.done);
	assert_int_equal(a.status, 0);
	assert_non_null(strstr(a.message, "certificate"));
	/* With its own kubeconfig, the same call works. */
	struct kube_conn good;
	o.kubeconfig = other.kubeconfig;
	assert_true(kube_conn_load(&o, &good, err, sizeof(err)));
	struct kube *k2 = kube_new(h, &good);
	memset(&a, 0, sizeof(a));
	kube_get(k2, "/api/v1/namespaces/default", kube_cb, &a);
	deadline = harness_now_ms() + 10000;
	while (!a.done && harness_now_ms() < deadline)
		event_base_loop(base, EVLOOP_ONCE);
	assert_true(a.done);
	assert_int_equal(a.status, 200);
	kube_free(k2);
	kube_free(k);
	httpc_free(h);
	event_base_free(base);
	kube_conn_free(&good);
	kube_conn_free(&conn);
	assert_int_equal(sim_stop(&other), 0);
}

static void test_request_without_the_verb_is_forbidden(void **state)
{
	(void)state;
	struct http_resp r;
	make_namespace("es-x");
	/* Cluster scope: the shipped role lists nodes, and does nothing else to them. */
	call_as(sim.sa_token, "DELETE", "/api/v1/nodes/node-0", NULL, NULL, &r);
	assert_forbidden(&r,
			 "nodes \"node-0\" is forbidden: User "
			 "\"system:serviceaccount:esaas-system:esaasd\" cannot delete resource "
			 "\"nodes\" in API group \"\" at the cluster scope",
			 "node-0", NULL, "nodes");
	http_resp_free(&r);
	/* In a namespace, with a group: no update of statefulsets. */
	call_as(sim.sa_token, "PUT", "/apis/apps/v1/namespaces/es-x/statefulsets/data", NULL,
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\"}", &r);
	assert_forbidden(&r,
			 "statefulsets.apps \"data\" is forbidden: User "
			 "\"system:serviceaccount:esaas-system:esaasd\" cannot update resource "
			 "\"statefulsets\" in API group \"apps\" in the namespace \"es-x\"",
			 "data", "apps", "statefulsets");
	http_resp_free(&r);
	/* A namespace's own path has it as its namespace (requestinfo.go). */
	call_as(sim.sa_token, "PUT", "/api/v1/namespaces/es-x", NULL, "{}", &r);
	assert_forbidden(&r,
			 "namespaces \"es-x\" is forbidden: User "
			 "\"system:serviceaccount:esaas-system:esaasd\" cannot update resource "
			 "\"namespaces\" in API group \"\" in the namespace \"es-x\"",
			 "es-x", NULL, "namespaces");
	http_resp_free(&r);
	/* deletecollection is not delete; watch is not list. */
	call_as(sim.sa_token, "DELETE", "/api/v1/namespaces/es-x/configmaps", NULL, NULL, &r);
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(jstr(r.body, "message"), "cannot deletecollection resource"));
	http_resp_free(&r);
	/* (The role lists configmaps; it watches only pods and endpointslices.) */
	call_as(sim.sa_token, "GET", "/api/v1/namespaces/es-x/configmaps?watch=1", NULL, NULL, &r);
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(jstr(r.body, "message"), "cannot watch resource \"configmaps\""));
	http_resp_free(&r);
	/* What it has, it may; discovery is everyone's; /_sim/ is the admin's. */
	assert_int_equal(
		call_as(sim.sa_token, "GET", "/api/v1/namespaces/es-x/pods", NULL, NULL, &r), 200);
	http_resp_free(&r);
	assert_int_equal(call_as(sim.sa_token, "GET", "/apis/apps/v1", NULL, NULL, &r), 200);
	http_resp_free(&r);
	call_as(sim.sa_token, "GET", "/_sim/state", NULL, NULL, &r);
	assert_forbidden(&r,
			 "forbidden: User \"system:serviceaccount:esaas-system:esaasd\" cannot get "
			 "path \"/_sim/state\"",
			 NULL, NULL, NULL);
	http_resp_free(&r);
	/* A token that is no one's is a 401, not a 403. */
	assert_int_equal(call_as("not-a-token", "GET", "/api/v1/namespaces", NULL, NULL, &r), 401);
	http_resp_free(&r);
}

/* A simulator of its own with a role that has patch but no create on
 * configmaps, and only get on services/proxy. */
static const char LIMITED_ROLE[] =
	"apiVersion: rbac.authorization.k8s.io/v1\n"
	"kind: ClusterRole\n"
	"metadata: {name: limited}\n"
	"rules:\n"
	"  - {apiGroups: [\"\"], resources: [configmaps], verbs: [get, patch]}\n"
	"  - {apiGroups: [\"\"], resources: [services/proxy], verbs: [get]}\n";
static const char LIMITED_BINDING[] =
	"apiVersion: rbac.authorization.k8s.io/v1\n"
	"kind: ClusterRoleBinding\n"
	"metadata: {name: limited}\n"
	"roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: limited}\n"
	"subjects: [{kind: ServiceAccount, name: tester, namespace: t}]\n";

static void start_limited(struct sim *s)
{
	char dir[300], role[400], binding[400];
	snprintf(dir, sizeof(dir), "%s/limited", tmpdir);
	mkdir(dir, 0755);
	snprintf(role, sizeof(role), "%s/role.yaml", dir);
	snprintf(binding, sizeof(binding), "%s/binding.yaml", dir);
	FILE *f = fopen(role, "w");
	assert_non_null(f);
	fputs(LIMITED_ROLE, f);
	fclose(f);
	f = fopen(binding, "w");
	assert_non_null(f);
	fputs(LIMITED_BINDING, f);
	fclose(f);
	const char *files[] = {role, binding, NULL};
	assert_true(sim_start_rbac(s, dir, "", files));
}

static void test_apply_create_needs_create_verb(void **state)
{
	(void)state;
	struct sim lim;
	struct http_resp r;
	start_limited(&lim);
	const char *cm =
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"},"
		"\"data\":{\"a\":\"1\"}}";
	const char *path = "/api/v1/namespaces/default/configmaps/c?fieldManager=esaas&force=true";
	char auth[300];
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", lim.sa_token);
	const char *h[] = {auth, "Content-Type: application/apply-patch+yaml", NULL};
	/* Apply that would create: patch is not enough.  The refusal is the one of
	 * handlers/update.go withAuthorization: NewForbidden with RBAC's (empty) reason. */
	assert_true(http_request(lim.server, "PATCH", path, cm, h, 0, &r));
	assert_forbidden(&r, "configmaps \"c\" is forbidden: ", "c", NULL, "configmaps");
	http_resp_free(&r);
	/* Nothing was made. */
	assert_true(sim_call(&lim, "GET", "/api/v1/namespaces/default/configmaps/c", NULL, &r));
	assert_int_equal(r.status, 404);
	http_resp_free(&r);
	/* Made by the admin, the same apply updates it with patch alone. */
	char admin[300];
	snprintf(admin, sizeof(admin), "Authorization: Bearer %s", lim.token);
	const char *ha[] = {admin, "Content-Type: application/apply-patch+yaml", NULL};
	assert_true(http_request(lim.server, "PATCH", path, cm, ha, 0, &r));
	assert_int_equal(r.status, 201);
	http_resp_free(&r);
	const char *cm2 =
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"},"
		"\"data\":{\"a\":\"2\"}}";
	assert_true(http_request(lim.server, "PATCH", path, cm2, h, 0, &r));
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.body, "data.a"), "2");
	http_resp_free(&r);
	assert_int_equal(sim_stop(&lim), 0);
}

static void test_service_proxy_verbs_are_get_create_update_delete(void **state)
{
	(void)state;
	struct sim lim;
	struct http_resp r;
	start_limited(&lim);
	char auth[300];
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", lim.sa_token);
	const char *h[] = {auth, NULL};
	const char *path = "/api/v1/namespaces/default/services/es:9200/proxy/_cluster/health";
	/* GET is get, which the role has: past authorization (no such service). */
	assert_true(http_request(lim.server, "GET", path, NULL, h, 0, &r));
	assert_int_equal(r.status, 404);
	http_resp_free(&r);
	static const struct {
		const char *method, *verb;
	} m[] = {{"POST", "create"}, {"PUT", "update"}, {"DELETE", "delete"}, {"PATCH", "patch"}};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		char msg[512];
		assert_true(http_request(lim.server, m[i].method, path, i == 3 ? "{}" : NULL, h, 0,
					 &r));
		snprintf(msg, sizeof(msg),
			 "services \"es:9200\" is forbidden: User "
			 "\"system:serviceaccount:t:tester\" "
			 "cannot %s resource \"services/proxy\" in API group \"\" in the namespace "
			 "\"default\"",
			 m[i].verb);
		assert_forbidden(&r, msg, "es:9200", NULL, "services");
		http_resp_free(&r);
	}
	assert_int_equal(sim_stop(&lim), 0);
}

/* --- voluntary disruptions ------------------------------------------------------------- */

static bool budget_is(struct http_resp *r, const void *arg)
{
	const int *want = arg; /* expected, healthy, desired, allowed, observedGeneration */
	return r->status == 200 && jint(r->body, "status.expectedPods") == want[0] &&
	       jint(r->body, "status.currentHealthy") == want[1] &&
	       jint(r->body, "status.desiredHealthy") == want[2] &&
	       jint(r->body, "status.disruptionsAllowed") == want[3] &&
	       jint(r->body, "status.observedGeneration") == want[4];
}

static long evict(const char *ns, const char *pod, const char *name_in_body, struct http_resp *r)
{
	char path[256], body[256];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/eviction", ns, pod);
	snprintf(
		body, sizeof(body),
		"{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":\"%s\","
		"\"namespace\":\"%s\"}}",
		name_in_body, ns);
	return call("POST", path, body, r);
}

static void apply_budget(const char *ns, const char *app, int max_unavailable)
{
	char path[256], body[512];
	struct http_resp r;
	snprintf(path, sizeof(path), "/apis/policy/v1/namespaces/%s/poddisruptionbudgets/%s", ns,
		 app);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"policy/v1\",\"kind\":\"PodDisruptionBudget\",\"metadata\":"
		 "{\"name\":\"%s\"},\"spec\":{\"maxUnavailable\":%d,\"selector\":{\"matchLabels\":"
		 "{\"app\":\"%s\"}}}}",
		 app, max_unavailable, app);
	long st = apply(path, body, &r);
	assert_true(st == 200 || st == 201);
	http_resp_free(&r);
}

/* The node a pod runs on, copied into out. */
static void node_of(const char *ns, const char *pod, char *out, size_t len)
{
	char path[256];
	struct http_resp r;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, pod);
	assert_int_equal(call("GET", path, NULL, &r), 200);
	snprintf(out, len, "%s", jstr(r.body, "spec.nodeName"));
	http_resp_free(&r);
}

/* --- Deployments and ReplicaSets ------------------------------------------------------- */

static char *rolling_deployment(const char *name, int replicas, const char *strategy,
				const char *version)
{
	return xasprintf("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{"
			 "\"name\":\"%s\"},\"spec\":{\"replicas\":%d,%s\"selector\":{"
			 "\"matchLabels\":{\"app\":\"%s\"}},\"template\":{\"metadata\":{"
			 "\"labels\":{\"app\":\"%s\"},\"annotations\":{\"v\":\"%s\"}},\"spec\":{"
			 "\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1\"}]}}}}",
			 name, replicas, strategy, name, name, version);
}

/* The non-terminating pods of app in ns, and how many of them are Ready
 * and of which pod-template-hash. */
struct pod_census {
	int live, ready, hashes;
};

static void pod_census(const char *ns, const char *app, struct pod_census *c)
{
	struct http_resp r;
	char path[256];
	json_t *seen = json_object();
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods?labelSelector=app%%3D%s", ns, app);
	memset(c, 0, sizeof(*c));
	assert_int_equal(call("GET", path, NULL, &r), 200);
	size_t i;
	json_t *p;
	json_array_foreach (json_object_get(r.body, "items"), i, p) {
		if (jget(p, "metadata.deletionTimestamp"))
			continue;
		c->live++;
		json_object_set_new(seen, jstr(p, "metadata.labels.pod-template-hash"),
				    json_true());
		size_t j;
		json_t *cond;
		json_array_foreach (jget(p, "status.conditions"), j, cond) {
			if (!strcmp(jstr(cond, "type"), "Ready") &&
			    !strcmp(jstr(cond, "status"), "True"))
				c->ready++;
		}
	}
	c->hashes = (int)json_object_size(seen);
	json_decref(seen);
	http_resp_free(&r);
}

static bool progressing_is(struct http_resp *r, const void *arg)
{
	size_t i;
	json_t *c;
	if (r->status != 200)
		return false;
	json_array_foreach (jget(r->body, "status.conditions"), i, c) {
		if (!strcmp(jstr(c, "type"), "Progressing") &&
		    !strcmp(jstr(c, "reason"), (const char *)arg))
			return true;
	}
	return false;
}

/* A Deployment's or ReplicaSet's revision annotation ("" when none). */
static const char *revision(json_t *obj)
{
	const char *v = json_string_value(json_object_get(jget(obj, "metadata.annotations"),
							  "deployment.kubernetes.io/revision"));
	return v ? v : "";
}

/* kubectl's exit status, its output in out (of size len). */
static int kubectl(const char *args, char *out, size_t len)
{
	char cmd[1024], file[128];
	snprintf(file, sizeof(file), "%s/kubectl.out", tmpdir);
	snprintf(cmd, sizeof(cmd), "kubectl --kubeconfig '%s' --context admin %s >'%s' 2>&1",
		 sim.kubeconfig, args, file);
	int rc = system(cmd);
	FILE *f = fopen(file, "r");
	assert_non_null(f);
	size_t n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	fclose(f);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/*
 * A Deployment's rollout: a ReplicaSet per template, named with its
 * pod-template-hash and owning the pods; the new one scaled up within
 * maxSurge, the old one down within maxUnavailable; the Progressing and
 * Available conditions, observedGeneration and the revision; kubectl
 * rollout status follows it to the end.
 */
static void test_deployment_rolls_out_through_replica_sets(void **state)
{
	struct http_resp r;
	const char *path = "/apis/apps/v1/namespaces/roll/deployments/web";
	const char *strategy = "\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{"
			       "\"maxSurge\":1,\"maxUnavailable\":0}},";
	char out[4096];
	int three = 3;
	make_namespace("roll");
	char *d = rolling_deployment("web", 3, strategy, "1");
	assert_int_equal(apply(path, d, &r), 201);
	free(d);
	http_resp_free(&r);
	assert_true(wait_until(path, progressing_is, "NewReplicaSetAvailable", 30000, &r));
	assert_int_equal(jint(r.body, "status.observedGeneration"), 1);
	assert_int_equal(jint(r.body, "status.availableReplicas"), 3);
	assert_string_equal(revision(r.body), "1");
	http_resp_free(&r);
	assert_int_equal(
		kubectl("-n roll rollout status deployment/web --timeout=20s", out, sizeof(out)),
		0);
	assert_non_null(strstr(out, "deployment \"web\" successfully rolled out"));

	/* One ReplicaSet, controlled by the Deployment, owning the pods. */
	assert_int_equal(call("GET", "/apis/apps/v1/namespaces/roll/replicasets", NULL, &r), 200);
	assert_int_equal(json_array_size(json_object_get(r.body, "items")), 1);
	json_t *rs = json_array_get(json_object_get(r.body, "items"), 0);
	char *first = xasprintf("web-%s", jstr(rs, "metadata.labels.pod-template-hash"));
	assert_string_equal(jstr(rs, "metadata.name"), first);
	assert_string_equal(jstr(rs, "metadata.ownerReferences.0.kind"), "Deployment");
	assert_int_equal(jint(rs, "spec.replicas"), 3);
	assert_int_equal(jint(rs, "status.readyReplicas"), 3);
	char *rs_uid = xstrdup(jstr(rs, "metadata.uid"));
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/roll/pods", NULL, &r), 200);
	json_t *pod = json_array_get(json_object_get(r.body, "items"), 0);
	assert_string_equal(jstr(pod, "metadata.ownerReferences.0.kind"), "ReplicaSet");
	assert_string_equal(jstr(pod, "metadata.ownerReferences.0.name"), first);
	assert_string_equal(jstr(pod, "metadata.ownerReferences.0.uid"), rs_uid);
	assert_int_equal(strncmp(jstr(pod, "metadata.name"), first, strlen(first)), 0);
	http_resp_free(&r);
	free(rs_uid);

	/* A new template: never more than replicas + maxSurge pods, never
	 * fewer Ready than replicas - maxUnavailable, both hashes seen. */
	d = rolling_deployment("web", 3, strategy, "2");
	assert_int_equal(apply(path, d, &r), 200);
	free(d);
	http_resp_free(&r);
	bool both = false, done = false;
	for (int i = 0; i < 1000 && !done; i++) {
		struct pod_census c;
		pod_census("roll", "web", &c);
		if (c.live > 4 || c.ready < 3)
			fail_msg("rollout out of bounds: %d live, %d ready", c.live, c.ready);
		both |= c.hashes == 2;
		assert_int_equal(call("GET", path, NULL, &r), 200);
		done = progressing_is(&r, "NewReplicaSetAvailable") &&
		       jint(r.body, "status.observedGeneration") == 2 &&
		       jint(r.body, "status.updatedReplicas") == 3 &&
		       jint(r.body, "status.replicas") == 3;
		if (!done && !both && c.hashes == 1 && i > 100)
			fail_msg("the rollout did not start");
		http_resp_free(&r);
		if (!done)
			usleep(10 * 1000); /* polling: the bounds hold at every look */
	}
	assert_true(done);
	assert_true(both);
	assert_int_equal(
		kubectl("-n roll rollout status deployment/web --timeout=20s", out, sizeof(out)),
		0);
	assert_non_null(strstr(out, "successfully rolled out"));
	assert_true(wait_until(path, ready_replicas_is, &three, 30000, &r));
	assert_string_equal(revision(r.body), "2");
	http_resp_free(&r);
	/* The old ReplicaSet stays, scaled to nothing, for a rollback. */
	char *old_path = xasprintf("/apis/apps/v1/namespaces/roll/replicasets/%s", first);
	assert_int_equal(call("GET", old_path, NULL, &r), 200);
	assert_int_equal(jint(r.body, "spec.replicas"), 0);
	http_resp_free(&r);
	free(old_path);
	free(first);
}

/*
 * A Deployment that makes no progress for progressDeadlineSeconds gets
 * Progressing False, ProgressDeadlineExceeded, and kubectl rollout status
 * gives up on it.
 */
static void test_deployment_progress_deadline_exceeded(void **state)
{
	struct http_resp r;
	const char *path = "/apis/apps/v1/namespaces/stuck/deployments/web";
	char out[4096];
	make_namespace("stuck");
	/* No pod may be made: the ReplicaSet cannot progress. */
	assert_int_equal(apply("/api/v1/namespaces/stuck/resourcequotas/none",
			       "{\"apiVersion\":\"v1\",\"kind\":\"ResourceQuota\",\"metadata\":{"
			       "\"name\":\"none\"},\"spec\":{\"hard\":{\"pods\":\"0\"}}}",
			       &r),
			 201);
	http_resp_free(&r);
	assert_true(wait_until("/api/v1/namespaces/stuck/resourcequotas/none", quota_pods_are,
			       "0/0", 30000, &r));
	http_resp_free(&r);
	char *d = rolling_deployment("web", 1, "\"progressDeadlineSeconds\":2,", "1");
	assert_int_equal(apply(path, d, &r), 201);
	free(d);
	http_resp_free(&r);
	assert_true(wait_until(path, progressing_is, "NewReplicaSetCreated", 30000, &r));
	http_resp_free(&r);
	assert_true(wait_until(path, progressing_is, "ProgressDeadlineExceeded", 30000, &r));
	size_t i;
	json_t *c;
	json_array_foreach (jget(r.body, "status.conditions"), i, c) {
		if (!strcmp(jstr(c, "type"), "Progressing")) {
			assert_string_equal(jstr(c, "status"), "False");
			assert_non_null(strstr(jstr(c, "message"), "has timed out progressing."));
		}
	}
	assert_true(replica_failure(&r, "exceeded quota: none"));
	http_resp_free(&r);
	assert_int_equal(
		kubectl("-n stuck rollout status deployment/web --timeout=20s", out, sizeof(out)),
		1);
	assert_non_null(strstr(out, "deployment \"web\" exceeded its progress deadline"));
}

/*
 * The disruption controller finds a pod's scale through its ReplicaSet: a
 * ReplicaSet of its own counts its replicas; one a Deployment controls
 * counts the Deployment's, once for all its ReplicaSets.
 */
static void test_disruption_budget_counts_through_replica_sets(void **state)
{
	struct http_resp r;
	make_namespace("pdbrs");
	/* A Deployment whose name a bare ReplicaSet's name starts with. */
	char *d = rolling_deployment("solo", 4, "", "1");
	assert_int_equal(apply("/apis/apps/v1/namespaces/pdbrs/deployments/solo", d, &r), 201);
	free(d);
	http_resp_free(&r);
	assert_int_equal(
		apply("/apis/apps/v1/namespaces/pdbrs/replicasets/solo-own",
		      "{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"metadata\":{\"name\":"
		      "\"solo-own\"},\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{"
		      "\"app\":\"own\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"own\"}},"
		      "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1\"}]}}}}",
		      &r),
		201);
	http_resp_free(&r);
	apply_budget("pdbrs", "own", 1);
	const int own[] = {2, 2, 1, 1, 1};
	assert_true(wait_until("/apis/policy/v1/namespaces/pdbrs/poddisruptionbudgets/own",
			       budget_is, own, 30000, &r));
	http_resp_free(&r);
	apply_budget("pdbrs", "solo", 1);
	const int solo[] = {4, 4, 3, 1, 1};
	assert_true(wait_until("/apis/policy/v1/namespaces/pdbrs/poddisruptionbudgets/solo",
			       budget_is, solo, 30000, &r));
	http_resp_free(&r);
	/* Mid-rollout, two ReplicaSets: the Deployment still counts once. */
	d = rolling_deployment("solo", 4, "", "2");
	assert_int_equal(apply("/apis/apps/v1/namespaces/pdbrs/deployments/solo", d, &r), 200);
	free(d);
	http_resp_free(&r);
	bool seen_two = false;
	for (int i = 0; i < 500 && !seen_two; i++) {
		struct pod_census c;
		pod_census("pdbrs", "solo", &c);
		assert_int_equal(call("GET",
				      "/apis/policy/v1/namespaces/pdbrs/poddisruptionbudgets/solo",
				      NULL, &r),
				 200);
		assert_int_equal(jint(r.body, "status.expectedPods"), 4);
		http_resp_free(&r);
		seen_two = c.hashes == 2;
		if (!seen_two)
			usleep(10 * 1000); /* polling: the count holds at every look */
	}
	assert_true(seen_two);
}

/*
 * The disruption controller's status follows the pods' health and the
 * StatefulSet's scale; an eviction takes a disruption the budget allows
 * (201, the pod deleted with its grace period) and is refused with 429 and
 * the DisruptionBudget cause when none is left; kubectl drain cordons the
 * node, retries the refusal until its timeout, and evicts once allowed.
 */
static void test_eviction_honours_the_disruption_budget(void **state)
{
	(void)state;
	struct http_resp r;
	const char *ns = "evict";
	const char *sts = "/apis/apps/v1/namespaces/evict/statefulsets/drain";
	const char *pdb = "/apis/policy/v1/namespaces/evict/poddisruptionbudgets/drain";
	int three = 3;
	make_namespace(ns);
	assert_int_equal(
		apply(sts,
		      workload("drain", 3, "drain", "data", "kubernetes.io/hostname", "7.17.10"),
		      &r),
		201);
	http_resp_free(&r);
	assert_true(wait_until(sts, ready_replicas_is, &three, 30000, &r));
	http_resp_free(&r);
	apply_budget(ns, "drain", 1);
	const int all_there[] = {3, 3, 2, 1, 1};
	assert_true(wait_until(pdb, budget_is, all_there, 30000, &r));
	assert_string_equal(jstr(r.body, "status.conditions.0.type"), "DisruptionAllowed");
	assert_string_equal(jstr(r.body, "status.conditions.0.status"), "True");
	http_resp_free(&r);

	/* The name in the body must be the pod's. */
	assert_int_equal(evict(ns, "drain-0", "drain-1", &r), 400);
	assert_string_equal(jstr(r.body, "message"),
			    "name in URL does not match name in Eviction object");
	http_resp_free(&r);
	/* One disruption allowed: taken at once, the pod on its way out. */
	assert_int_equal(evict(ns, "drain-0", "drain-0", &r), 201);
	assert_string_equal(jstr(r.body, "kind"), "Status");
	assert_string_equal(jstr(r.body, "status"), "Success");
	http_resp_free(&r);
	assert_int_equal(call("GET", pdb, NULL, &r), 200);
	assert_int_equal(jint(r.body, "status.disruptionsAllowed"), 0);
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/evict/pods/drain-0", NULL, &r), 200);
	assert_non_null(jstr(r.body, "metadata.deletionTimestamp"));
	http_resp_free(&r);
	/* None left: the next one is refused, as the API server says it. */
	assert_int_equal(evict(ns, "drain-1", "drain-1", &r), 429);
	assert_string_equal(jstr(r.body, "reason"), "TooManyRequests");
	assert_string_equal(jstr(r.body, "message"),
			    "Cannot evict pod as it would violate the pod's disruption budget.");
	assert_string_equal(jstr(r.body, "details.causes.0.reason"), "DisruptionBudget");
	assert_string_equal(jstr(r.body, "details.causes.0.message"),
			    "The disruption budget drain needs 2 healthy pods and has 2 currently");
	assert_int_equal(jint(r.body, "code"), 429);
	http_resp_free(&r);
	/* While drain-0 is away, the scale still expects three. */
	const int one_away[] = {3, 2, 2, 0, 1};
	assert_true(wait_until(pdb, budget_is, one_away, 30000, &r));
	http_resp_free(&r);
	assert_true(wait_until(pdb, budget_is, all_there, 30000, &r));
	http_resp_free(&r);

	/* kubectl drain: the budget at 0 holds it back until its timeout. */
	char node[64], cmd[1024], out[300];
	node_of(ns, "drain-1", node, sizeof(node));
	snprintf(out, sizeof(out), "%s/drain.out", sim.dir);
	apply_budget(ns, "drain", 0);
	const int none_allowed[] = {3, 3, 3, 0, 2};
	assert_true(wait_until(pdb, budget_is, none_allowed, 30000, &r));
	http_resp_free(&r);
	snprintf(cmd, sizeof(cmd),
		 "kubectl --kubeconfig '%s' --context admin drain '%s' --pod-selector=app=drain "
		 "--timeout=3s >'%s' 2>&1",
		 sim.kubeconfig, node, out);
	assert_int_not_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd),
		 "grep -q \"Cannot evict pod as it would violate the pod's disruption budget\" "
		 "'%s'",
		 out);
	if (system(cmd) != 0) {
		snprintf(cmd, sizeof(cmd), "cat '%s' >&2", out);
		(void)!system(cmd);
		fail_msg("kubectl drain did not report the budget's refusal");
	}
	char path[256];
	snprintf(path, sizeof(path), "/api/v1/nodes/%s", node);
	assert_int_equal(call("GET", path, NULL, &r), 200);
	assert_true(json_is_true(jget(r.body, "spec.unschedulable")));
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/evict/pods/drain-1", NULL, &r), 200);
	assert_null(jstr(r.body, "metadata.deletionTimestamp"));
	char uid[64];
	snprintf(uid, sizeof(uid), "%s", jstr(r.body, "metadata.uid"));
	http_resp_free(&r);

	/* The budget back at 1: the drain evicts drain-1, which comes back on
	 * another node (this one is cordoned). */
	apply_budget(ns, "drain", 1);
	const int again[] = {3, 3, 2, 1, 3};
	assert_true(wait_until(pdb, budget_is, again, 30000, &r));
	http_resp_free(&r);
	snprintf(cmd, sizeof(cmd),
		 "kubectl --kubeconfig '%s' --context admin drain '%s' --pod-selector=app=drain "
		 "--timeout=30s >'%s' 2>&1",
		 sim.kubeconfig, node, out);
	if (system(cmd) != 0) {
		snprintf(cmd, sizeof(cmd), "cat '%s' >&2", out);
		(void)!system(cmd);
		fail_msg("kubectl drain failed");
	}
	snprintf(cmd, sizeof(cmd), "grep -q 'pod/drain-1 evicted' '%s'", out);
	assert_int_equal(system(cmd), 0);
	assert_true(wait_until(sts, ready_replicas_is, &three, 30000, &r));
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/evict/pods/drain-1", NULL, &r), 200);
	assert_string_not_equal(jstr(r.body, "metadata.uid"), uid);
	assert_string_not_equal(jstr(r.body, "spec.nodeName"), node);
	http_resp_free(&r);
	snprintf(cmd, sizeof(cmd),
		 "kubectl --kubeconfig '%s' --context admin uncordon '%s' >'%s' 2>&1",
		 sim.kubeconfig, node, out);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(call("GET", path, NULL, &r), 200);
	assert_null(jget(r.body, "spec.unschedulable"));
	http_resp_free(&r);
}

/* --- watches ------------------------------------------------------------------------ */

static long cm_apply(const char *ns, const char *name, const char *labels_json, struct http_resp *r)
{
	char path[256], body[512];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s", ns, name);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\","
		 "\"labels\":%s}}",
		 name, labels_json);
	return apply(path, body, r);
}

/* The resourceVersion of a list of path. */
static char *list_rv(const char *path)
{
	struct http_resp r;
	assert_int_equal(call("GET", path, NULL, &r), 200);
	char *rv = xstrdup(jstr(r.body, "metadata.resourceVersion"));
	http_resp_free(&r);
	return rv;
}

static json_int_t open_watches(void)
{
	struct http_resp r;
	assert_int_equal(call("GET", "/_sim/state", NULL, &r), 200);
	json_int_t n = jint(r.body, "watches.open");
	http_resp_free(&r);
	return n;
}

/* The lines of a watch stream, parsed; an array. */
static json_t *watch_lines(const char *text)
{
	json_t *lines = json_array();
	const char *p = text;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		json_t *ev = json_loadb(p, n, 0, NULL);
		if (ev)
			json_array_append_new(lines, ev);
		else if (n > 0)
			fail_msg("a watch line is not JSON: %.*s", (int)n, p);
		p = nl ? nl + 1 : NULL;
	}
	return lines;
}

/* A watch event an event_pred accepts. */
typedef bool (*event_pred)(json_t *ev, const void *arg);

/* The resourceVersion of a list (a collection's GET), to watch from. */
static void list_resource_version(const char *path, char *rv, size_t n)
{
	struct http_resp r;
	assert_int_equal(call("GET", path, NULL, &r), 200);
	assert_non_null(jstr(r.body, "metadata.resourceVersion"));
	snprintf(rv, n, "%s", jstr(r.body, "metadata.resourceVersion"));
	http_resp_free(&r);
}

/*
 * The first event of a collection after resourceVersion rv that pred
 * accepts, watched a second at a time, each watch going on from the last
 * event's resourceVersion: nothing is missed however late the test looks,
 * as a state that lasts only a moment would be by polling.  A new
 * reference, or NULL after timeout_ms.
 */
static json_t *watch_for(const char *path, const char *rv, event_pred pred, const void *arg,
			 int timeout_ms)
{
	char from[64];
	int64_t end = harness_now_ms() + timeout_ms;
	json_t *found = NULL;

	snprintf(from, sizeof(from), "%s", rv);
	while (!found && harness_now_ms() < end) {
		struct http_resp r;
		char *p = xasprintf("%s%swatch=1&resourceVersion=%s&timeoutSeconds=1", path,
				    strchr(path, '?') ? "&" : "?", from);
		bool answered = request("GET", p, NULL, NULL, true, 10000, &r);
		free(p);
		if (!answered) {
			/* Said, and asked again from the same resourceVersion:
			 * nothing is lost; the deadline bounds the retries. */
			print_message("watch of %s from %s: no answer (%s); again\n", path, from,
				      http_last_error());
			continue;
		}
		assert_int_equal(r.status, 200);
		json_t *lines = watch_lines(r.raw);
		size_t i;
		json_t *ev;
		json_array_foreach (lines, i, ev) {
			const char *type = jstr(ev, "type");
			const char *at = jstr(ev, "object.metadata.resourceVersion");
			if (type && !strcmp(type, "ERROR"))
				fail_msg("watch of %s from %s: %s", path, from, r.raw);
			if (at)
				snprintf(from, sizeof(from), "%s", at);
			if (type && strcmp(type, "BOOKMARK") && pred(ev, arg)) {
				found = json_incref(ev);
				break;
			}
		}
		json_decref(lines);
		http_resp_free(&r);
	}
	return found;
}

/* The resourceVersion of a watch event's object, as a number: the
 * simulator's, like etcd's, rise with each write of any object. */
static long long event_rv(json_t *ev)
{
	int64_t v = 0;
	const char *rv = jstr(ev, "object.metadata.resourceVersion");
	assert_non_null(rv);
	assert_true(parse_int64(rv, 1, INT64_MAX, &v));
	return (long long)v;
}

/* Until one more watch is open than before: curl's, started in the
 * background. */
static void wait_watch_opened(json_int_t before)
{
	for (int i = 0; open_watches() == before; i++) {
		if (i > 500)
			fail_msg("curl's watch never opened");
		msleep(10);
	}
}

/* The events of a watch curl ran in the background, once it has ended:
 * its exit status in rcfile (0: the server ended the stream; a client
 * timeout would be 28), its stream in out. */
static json_t *curl_watch_lines(const char *rcfile, const char *out)
{
	char *rc = NULL;
	for (int i = 0; !(rc = slurp(rcfile)); i++) {
		if (i > 1000)
			fail_msg("curl's watch did not end at its timeoutSeconds");
		msleep(20);
	}
	assert_string_equal(rc, "0\n");
	free(rc);
	char *text = slurp(out);
	assert_non_null(text);
	json_t *lines = watch_lines(text);
	free(text);
	return lines;
}

/*
 * ?watch=1 from a list's resourceVersion, seen with curl: a chunked
 * stream of JSON lines, ADDED, MODIFIED and DELETED as the label selector
 * sees them (an object that starts matching is ADDED, one that stops is
 * DELETED), resourceVersions rising, and a clean end at timeoutSeconds.
 */
static void test_watch_streams_events_after_the_resource_version(void **state)
{
	(void)state;
	struct http_resp r;
	char cmd[4096], out[256], hdr[256], rcfile[256];
	make_namespace("watch");
	char *rv = list_rv("/api/v1/namespaces/watch/configmaps");
	assert_int_equal(cm_apply("watch", "a", "{\"app\":\"w\"}", &r), 201);
	http_resp_free(&r);
	snprintf(out, sizeof(out), "%s/watch.out", tmpdir);
	snprintf(hdr, sizeof(hdr), "%s/watch.hdr", tmpdir);
	snprintf(rcfile, sizeof(rcfile), "%s/watch.rc", tmpdir);
	json_int_t before = open_watches();
	snprintf(cmd, sizeof(cmd),
		 "(curl -sSN --max-time 30 --cacert '%s' -H 'Authorization: Bearer %s' -D '%s' "
		 "'%s/api/v1/namespaces/watch/configmaps?watch=1&resourceVersion=%s"
		 "&labelSelector=app%%3Dw&timeoutSeconds=10' >'%s'; echo $? >'%s.tmp'; "
		 "mv '%s.tmp' '%s') &",
		 sim.ca, sim.token, hdr, sim.server, rv, out, rcfile, rcfile, rcfile);
	assert_int_equal(system(cmd), 0);
	free(rv);
	/* The rest while the stream is open, so that it is live, not replayed. */
	wait_watch_opened(before);
	assert_int_equal(cm_apply("watch", "a", "{\"app\":\"w\",\"more\":\"1\"}", &r), 200);
	http_resp_free(&r);
	assert_int_equal(cm_apply("watch", "b", "{\"app\":\"other\"}", &r), 201);
	http_resp_free(&r);
	assert_int_equal(cm_apply("watch", "b", "{\"app\":\"w\"}", &r), 200);
	http_resp_free(&r);
	assert_int_equal(cm_apply("watch", "a", "{\"app\":\"gone\"}", &r), 200);
	http_resp_free(&r);
	assert_int_equal(call("DELETE", "/api/v1/namespaces/watch/configmaps/b", NULL, &r), 200);
	http_resp_free(&r);
	json_t *lines = curl_watch_lines(rcfile, out);
	char *headers = slurp(hdr);
	assert_non_null(headers);
	assert_non_null(strcasestr(headers, "Transfer-Encoding: chunked"));
	assert_non_null(strcasestr(headers, "Content-Type: application/json"));
	free(headers);
	static const char *const want[][2] = {{"ADDED", "a"},
					      {"MODIFIED", "a"},
					      {"ADDED", "b"},
					      {"DELETED", "a"},
					      {"DELETED", "b"}};
	if (json_array_size(lines) != ARRAY_SIZE(want)) {
		char *seen = json_dumps(lines, JSON_COMPACT);
		fail_msg("%zu events expected, saw %s", ARRAY_SIZE(want), seen);
	}
	long long last = 0;
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		json_t *ev = json_array_get(lines, i);
		assert_string_equal(jstr(ev, "type"), want[i][0]);
		assert_string_equal(jstr(ev, "object.metadata.name"), want[i][1]);
		assert_string_equal(jstr(ev, "object.kind"), "ConfigMap");
		long long v = strtoll(jstr(ev, "object.metadata.resourceVersion"), NULL, 10);
		assert_true(v > last);
		last = v;
	}
	json_decref(lines);
}

/*
 * Bookmarks 2 s before the deadline when asked for; a resourceVersion the
 * window no longer covers is one ERROR event with the 410 Expired Status
 * in a 200 stream (cacher.go), including after a compaction that ends the
 * open streams.
 */
static void test_watch_bookmarks_and_too_old_resource_version(void **state)
{
	(void)state;
	struct http_resp r;
	char path[256];
	make_namespace("watch-old");
	char *rv = list_rv("/api/v1/namespaces/watch-old/pods");
	snprintf(path, sizeof(path),
		 "/api/v1/namespaces/watch-old/pods?watch=1&resourceVersion=%s"
		 "&allowWatchBookmarks=true&timeoutSeconds=3",
		 rv);
	assert_true(request("GET", path, NULL, NULL, true, 10000, &r));
	assert_int_equal(r.status, 200);
	json_t *lines = watch_lines(r.raw);
	if (json_array_size(lines) != 1)
		fail_msg("one bookmark expected: %s", r.raw);
	assert_string_equal(jstr(lines, "0.type"), "BOOKMARK");
	assert_string_equal(jstr(lines, "0.object.kind"), "Pod");
	assert_non_null(jstr(lines, "0.object.metadata.resourceVersion"));
	json_decref(lines);
	http_resp_free(&r);
	/* Without allowWatchBookmarks, nothing at all. */
	snprintf(path, sizeof(path),
		 "/api/v1/namespaces/watch-old/pods?watch=1&resourceVersion=%s&timeoutSeconds=3",
		 rv);
	assert_true(request("GET", path, NULL, NULL, true, 10000, &r));
	assert_int_equal(r.status, 200);
	assert_string_equal(r.raw, "");
	http_resp_free(&r);

	assert_true(request("GET", "/api/v1/namespaces/watch-old/pods?watch=1&resourceVersion=1",
			    NULL, NULL, true, 10000, &r));
	assert_int_equal(r.status, 200);
	lines = watch_lines(r.raw);
	assert_int_equal(json_array_size(lines), 1);
	assert_string_equal(jstr(lines, "0.type"), "ERROR");
	assert_string_equal(jstr(lines, "0.object.kind"), "Status");
	assert_int_equal(jint(lines, "0.object.code"), 410);
	assert_string_equal(jstr(lines, "0.object.reason"), "Expired");
	assert_int_equal(
		strncmp(jstr(lines, "0.object.message"), "too old resource version: 1 (", 29), 0);
	json_decref(lines);
	http_resp_free(&r);

	/* A write, then a compaction: the rv that was good is now too old. */
	assert_int_equal(cm_apply("watch-old", "later", "{}", &r), 201);
	http_resp_free(&r);
	assert_int_equal(call("POST", "/_sim/watches/close?compact=true", "{}", &r), 200);
	http_resp_free(&r);
	snprintf(path, sizeof(path),
		 "/api/v1/namespaces/watch-old/pods?watch=1&resourceVersion=%s&timeoutSeconds=5",
		 rv);
	assert_true(request("GET", path, NULL, NULL, true, 10000, &r));
	assert_int_equal(r.status, 200);
	lines = watch_lines(r.raw);
	assert_string_equal(jstr(lines, "0.type"), "ERROR");
	assert_int_equal(jint(lines, "0.object.code"), 410);
	json_decref(lines);
	http_resp_free(&r);
	free(rv);
}

/* kubectl get -w prints the events it watches; kubectl rollout status
 * follows a StatefulSet through its watch to the end. */
static void test_watch_kubectl_get_w_and_rollout_status(void **state)
{
	(void)state;
	struct http_resp r;
	char cmd[1024], file[256], out[4096];
	make_namespace("watch-k");
	snprintf(file, sizeof(file), "%s/kubectl-w.out", tmpdir);
	json_int_t before = open_watches();
	snprintf(
		cmd, sizeof(cmd),
		"timeout 30 kubectl --kubeconfig '%s' --context admin -n watch-k get configmaps -w "
		"--output-watch-events >'%s' 2>&1 &",
		sim.kubeconfig, file);
	assert_int_equal(system(cmd), 0);
	for (int i = 0; open_watches() == before; i++) {
		if (i > 1000)
			fail_msg("kubectl get -w never opened its watch");
		msleep(10);
	}
	assert_int_equal(cm_apply("watch-k", "seen", "{\"a\":\"b\"}", &r), 201);
	http_resp_free(&r);
	assert_int_equal(call("DELETE", "/api/v1/namespaces/watch-k/configmaps/seen", NULL, &r),
			 200);
	http_resp_free(&r);
	/* kubectl prints each event as it comes; under load that can take
	 * seconds, so it may watch for 30 s. */
	char *text = NULL;
	for (int i = 0; i < 1500; i++) {
		free(text);
		text = slurp(file);
		if (text && strstr(text, "DELETED"))
			break;
		msleep(20);
	}
	assert_non_null(text);
	assert_non_null(strstr(text, "ADDED"));
	assert_non_null(strstr(text, "DELETED"));
	assert_non_null(strstr(text, "seen"));
	free(text);

	char *sts = workload("kw", 2, "kw", "data", NULL, "8.17.0");
	assert_int_equal(apply("/apis/apps/v1/namespaces/watch-k/statefulsets/kw", sts, &r), 201);
	http_resp_free(&r);
	assert_int_equal(
		kubectl("-n watch-k rollout status statefulset/kw --timeout=30s", out, sizeof(out)),
		0);
	assert_non_null(strstr(out, "roll out complete"));
}

/* --- the simulator's fidelity ----------------------------------------------- */

static bool ready_address_is(struct http_resp *r, const void *arg)
{
	const char *name = jstr(r->body, "subsets.0.addresses.0.targetRef.name");
	return r->status == 200 && name && !strcmp(name, arg);
}

static bool status_is_404(struct http_resp *r, const void *arg)
{
	return r->status == 404;
}

/* An EndpointSlice event with the pod arg as a terminating endpoint. */
static bool slice_endpoint_terminating(json_t *ev, const void *arg)
{
	size_t i;
	json_t *endpoint;
	json_array_foreach (jget(ev, "object.endpoints"), i, endpoint) {
		const char *pod = jstr(endpoint, "targetRef.name");
		if (pod && !strcmp(pod, arg) &&
		    json_is_true(jget(endpoint, "conditions.terminating")))
			return true;
	}
	return false;
}

/* An Endpoints event of the Service arg with no address. */
static bool endpoints_emptied(json_t *ev, const void *arg)
{
	const char *name = jstr(ev, "object.metadata.name");
	return name && !strcmp(name, arg) && !strcmp(jstr(ev, "type"), "MODIFIED") &&
	       !json_array_size(jget(ev, "object.subsets"));
}

/*
 * The endpoint controllers write an Endpoints object and an EndpointSlice
 * for a Service with a selector: a pod that turns Ready is a ready address,
 * one that starts terminating leaves the Endpoints and stays in the slice as
 * terminating, not ready; kubectl lists both.
 */
static void test_endpoints_and_slices_follow_readiness_and_termination(void **state)
{
	struct http_resp r;
	char out[4096];
	const char *slices = "/apis/discovery.k8s.io/v1/namespaces/epsl/endpointslices"
			     "?labelSelector=kubernetes.io%2Fservice-name%3Des-epsl";
	char body[1024];

	make_namespace("epsl");
	bootstrap_config("epsl", "es-master-0-epsl");
	snprintf(body, sizeof(body), SERVICE, "epsl");
	assert_int_equal(apply("/api/v1/namespaces/epsl/services/es-epsl", body, &r), 201);
	http_resp_free(&r);
	/* No pod yet: the Endpoints have no subsets, the one slice no endpoint. */
	assert_true(
		wait_until("/api/v1/namespaces/epsl/endpoints/es-epsl", ok_200, NULL, 30000, &r));
	assert_null(json_object_get(r.body, "subsets"));
	assert_non_null(
		json_object_get(jget(r.body, "metadata.labels"), "service.kubernetes.io/headless"));
	http_resp_free(&r);
	assert_int_equal(call("GET", slices, NULL, &r), 200);
	assert_int_equal(json_array_size(json_object_get(r.body, "items")), 1);
	assert_true(json_is_null(jget(r.body, "items.0.endpoints")));
	http_resp_free(&r);

	assert_int_equal(apply("/apis/apps/v1/namespaces/epsl/statefulsets/es-master",
			       workload("es-master", 1, "es", "master", NULL, "7.17.10"), &r),
			 201);
	http_resp_free(&r);
	assert_true(wait_until("/api/v1/namespaces/epsl/endpoints/es-epsl", ready_address_is,
			       "es-master-0", 30000, &r));
	assert_string_equal(jstr(r.body, "subsets.0.ports.0.name"), "http");
	assert_int_equal(jint(r.body, "subsets.0.ports.0.port"), 9200);
	assert_string_equal(jstr(r.body, "subsets.0.ports.0.protocol"), "TCP");
	/* The pods' subdomain is the StatefulSet's serviceName ("es"), not
	 * this Service: no hostname. */
	assert_null(jstr(r.body, "subsets.0.addresses.0.hostname"));
	assert_non_null(jstr(r.body, "subsets.0.addresses.0.nodeName"));
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/epsl/pods/es-master-0", NULL, &r), 200);
	char ip[64];
	snprintf(ip, sizeof(ip), "%s", jstr(r.body, "status.podIP"));
	http_resp_free(&r);
	assert_int_equal(call("GET", slices, NULL, &r), 200);
	assert_int_equal(json_array_size(json_object_get(r.body, "items")), 1);
	assert_string_equal(jstr(r.body, "items.0.addressType"), "IPv4");
	assert_string_equal(jstr(r.body, "items.0.metadata.generateName"), "es-epsl-");
	assert_string_equal(jstr(r.body, "items.0.metadata.ownerReferences.0.kind"), "Service");
	assert_string_equal(
		json_string_value(json_object_get(jget(r.body, "items.0.metadata.labels"),
						  "endpointslice.kubernetes.io/managed-by")),
		"endpointslice-controller.k8s.io");
	assert_string_equal(jstr(r.body, "items.0.endpoints.0.addresses.0"), ip);
	assert_string_equal(jstr(r.body, "items.0.endpoints.0.targetRef.name"), "es-master-0");
	assert_true(json_is_true(jget(r.body, "items.0.endpoints.0.conditions.ready")));
	assert_true(json_is_true(jget(r.body, "items.0.endpoints.0.conditions.serving")));
	assert_true(json_is_false(jget(r.body, "items.0.endpoints.0.conditions.terminating")));
	assert_int_equal(jint(r.body, "items.0.ports.0.port"), 9200);
	http_resp_free(&r);

	assert_int_equal(kubectl("get endpoints -n epsl es-epsl "
				 "-o jsonpath='{.subsets[0].addresses[0].ip}'",
				 out, sizeof(out)),
			 0);
	assert_string_equal(out, ip);
	assert_int_equal(kubectl("get endpointslices -n epsl "
				 "-o jsonpath='{.items[0].endpoints[0].conditions.ready}'",
				 out, sizeof(out)),
			 0);
	assert_string_equal(out, "true");

	/* Terminating (the pod's 2 s to go): out of the Endpoints, kept in
	 * the slice as terminating and not ready.  Seen through watches from
	 * before the deletion, as the state lasts only until the pod is gone
	 * and its successor ready. */
	char slices_rv[64], endpoints_rv[64];
	list_resource_version(slices, slices_rv, sizeof(slices_rv));
	list_resource_version("/api/v1/namespaces/epsl/endpoints", endpoints_rv,
			      sizeof(endpoints_rv));
	assert_int_equal(call("DELETE", "/api/v1/namespaces/epsl/pods/es-master-0", NULL, &r), 200);
	http_resp_free(&r);
	json_t *ev = watch_for(slices, slices_rv, slice_endpoint_terminating, "es-master-0", 30000);
	if (!ev)
		fail_msg("no EndpointSlice event with es-master-0 terminating");
	json_t *gone = NULL, *endpoint;
	size_t k;
	json_array_foreach (jget(ev, "object.endpoints"), k, endpoint)
		if (!strcmp(jstr(endpoint, "targetRef.name"), "es-master-0"))
			gone = endpoint;
	assert_non_null(gone);
	assert_true(json_is_false(jget(gone, "conditions.ready")));
	assert_true(json_is_false(jget(gone, "conditions.serving")));
	json_decref(ev);
	ev = watch_for("/api/v1/namespaces/epsl/endpoints", endpoints_rv, endpoints_emptied,
		       "es-epsl", 30000);
	if (!ev)
		fail_msg("no Endpoints event of es-epsl without es-master-0's address");
	assert_null(jget(ev, "object.subsets"));
	json_decref(ev);

	/* The Service gone, its Endpoints and slices go too. */
	assert_int_equal(
		call("DELETE", "/apis/apps/v1/namespaces/epsl/statefulsets/es-master", NULL, &r),
		200);
	http_resp_free(&r);
	assert_int_equal(call("DELETE", "/api/v1/namespaces/epsl/services/es-epsl", NULL, &r), 200);
	http_resp_free(&r);
	assert_true(wait_until("/api/v1/namespaces/epsl/endpoints/es-epsl", status_is_404, NULL,
			       30000, &r));
	http_resp_free(&r);
	assert_int_equal(call("GET", slices, NULL, &r), 200);
	assert_int_equal(json_array_size(json_object_get(r.body, "items")), 0);
	http_resp_free(&r);
}

/* How many master-eligible nodes _cat/nodes lists (the cluster state's). */
static int listed_masters(const char *ns)
{
	struct http_resp r;
	int m = 0;
	size_t i;
	json_t *row;
	if (call("GET", es_path(ns, "/_cat/nodes?format=json&h=name,node.role"), NULL, &r) != 200) {
		http_resp_free(&r);
		return -1;
	}
	json_array_foreach (r.body, i, row) {
		const char *role = json_string_value(json_object_get(row, "node.role"));
		if (role && strchr(role, 'm'))
			m++;
	}
	http_resp_free(&r);
	return m;
}

struct masters_want {
	const char *ns;
	int want;
};

static bool masters_listed(struct http_resp *r, const void *arg)
{
	const struct masters_want *m = arg;
	return r->status == 200 && listed_masters(m->ns) == m->want;
}

/* Through the service proxy, whose endpoints follow the pods a second late
 * (K35): a master that just left may still be dialed, and answer 503, as a
 * real client sees it; the client tries again. */
static long put_min_masters(const char *ns, int n, struct http_resp *r)
{
	char body[128];
	snprintf(body, sizeof(body), "{\"persistent\":{\"discovery.zen.minimum_master_nodes\":%d}}",
		 n);
	long st = call("PUT", es_path(ns, "/_cluster/settings"), body, r);
	for (int i = 0; st == 503 && i < 100; i++) {
		http_resp_free(r);
		msleep(100);
		st = call("PUT", es_path(ns, "/_cluster/settings"), body, r);
	}
	return st;
}

/*
 * zen1 validates minimum_master_nodes against the master-eligible nodes of
 * the elected master's cluster state: the number `_cat/nodes` lists, which
 * follows the masters as they join and leave.
 */
static void test_es_zen1_min_masters_counts_the_cluster_state(void **state)
{
	struct http_resp r;
	struct masters_want arg = {"zq", 3};

	make_cluster("zq", 1, "6.8.23");
	assert_int_equal(apply("/apis/apps/v1/namespaces/zq/statefulsets/es-master",
			       workload("es-master", 3, "es", "master", NULL, "6.8.23"), &r),
			 200);
	http_resp_free(&r);
	assert_true(wait_until("/api/v1/namespaces/zq/services/es-zq", masters_listed, &arg, 30000,
			       &r));
	http_resp_free(&r);
	assert_int_equal(put_min_masters("zq", 4, &r), 400);
	assert_string_equal(jstr(r.body, "error.type"), "illegal_argument_exception");
	assert_string_equal(jstr(r.body, "error.reason"),
			    "cannot set discovery.zen.minimum_master_nodes to more than the "
			    "current master nodes count [3]");
	http_resp_free(&r);
	assert_int_equal(put_min_masters("zq", 2, &r), 200);
	http_resp_free(&r);

	/* A master leaves the cluster state: the count follows it. */
	assert_int_equal(apply("/apis/apps/v1/namespaces/zq/statefulsets/es-master",
			       workload("es-master", 2, "es", "master", NULL, "6.8.23"), &r),
			 200);
	http_resp_free(&r);
	arg.want = 2;
	assert_true(wait_until("/api/v1/namespaces/zq/services/es-zq", masters_listed, &arg, 30000,
			       &r));
	http_resp_free(&r);
	assert_int_equal(put_min_masters("zq", 3, &r), 400);
	assert_string_equal(jstr(r.body, "error.reason"),
			    "cannot set discovery.zen.minimum_master_nodes to more than the "
			    "current master nodes count [2]");
	http_resp_free(&r);
	assert_int_equal(put_min_masters("zq", 2, &r), 200);
	http_resp_free(&r);
}

static bool phase_ended(struct http_resp *r, const void *arg)
{
	const char *phase = jstr(r->body, "status.phase");
	return r->status == 200 && phase &&
	       (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"));
}

/* A one-shot pod on worker-0 with host folder `dir` at mount; script run
 * by `sh -c` as uid; its phase once ended, with the response in r. */
static const char *one_shot(const char *ns, const char *name, const char *dir, const char *mount,
			    const char *script, int uid, struct http_resp *r)
{
	char path[256];
	json_t *pod = json_pack(
		"{s:{s:s}, s:{s:s, s:s, s:[{s:s, s:s, s:[s,s,s], s:{s:i}, s:[{s:s, s:s}]}], "
		"s:[{s:s, s:{s:s, s:s}}]}}",
		"metadata", "name", name, "spec", "nodeName", "worker-0", "restartPolicy", "Never",
		"containers", "name", "run", "image", "busybox:1.36", "command", "sh", "-c", script,
		"securityContext", "runAsUser", uid, "volumeMounts", "name", "dir", "mountPath",
		mount, "volumes", "name", "dir", "hostPath", "path", dir, "type",
		"DirectoryOrCreate");
	char *body = json_dumps(pod, JSON_COMPACT);
	json_decref(pod);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
	assert_int_equal(call("POST", path, body, r), 201);
	http_resp_free(r);
	free(body);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, name);
	assert_true(wait_until(path, phase_ended, NULL, 5000, r));
	return jstr(r->body, "status.phase");
}

/*
 * A one-shot pod whose `rm -rf` cannot remove what is in its folder (here a
 * folder below one its uid may not write) ends Failed, its container
 * terminated with exit code 1 and reason Error, and the folder stays; the
 * same command as root removes it and ends Succeeded.
 */
static void test_one_shot_rm_that_cannot_remove_fails_with_its_exit_code(void **state)
{
	struct http_resp r;
	const char *wipe = "set -e\nfind /target -mindepth 1 -maxdepth 1 -exec rm -rf {} +\n";
	char *f;

	make_namespace("k34");
	assert_string_equal(one_shot("k34", "maker", "/es/k34/sub", "/data", "true", 0, &r),
			    "Succeeded");
	http_resp_free(&r);
	f = folder("/es/k34/sub");
	assert_string_equal(f, "0:0 0755");
	free(f);

	/* uid 1000 may not write the root:root 0755 folder that holds sub. */
	assert_string_equal(one_shot("k34", "wipe-user", "/es/k34", "/target", wipe, 1000, &r),
			    "Failed");
	assert_int_equal(jint(r.body, "status.containerStatuses.0.state.terminated.exitCode"), 1);
	assert_string_equal(jstr(r.body, "status.containerStatuses.0.state.terminated.reason"),
			    "Error");
	http_resp_free(&r);
	f = folder("/es/k34/sub");
	assert_string_equal(f, "0:0 0755");
	free(f);

	assert_string_equal(one_shot("k34", "wipe-root", "/es/k34", "/target", wipe, 0, &r),
			    "Succeeded");
	assert_int_equal(jint(r.body, "status.containerStatuses.0.state.terminated.exitCode"), 0);
	assert_string_equal(jstr(r.body, "status.containerStatuses.0.state.terminated.reason"),
			    "Completed");
	http_resp_free(&r);
	f = folder("/es/k34/sub");
	assert_string_equal(f, "none");
	free(f);
	f = folder("/es/k34");
	assert_string_equal(f, "0:0 0755");
	free(f);
}

static bool claim_bound(struct http_resp *r, const void *arg)
{
	return r->status == 200 && jstr(r->body, "status.phase") &&
	       !strcmp(jstr(r->body, "status.phase"), "Bound");
}

static bool pod_on_a_node(struct http_resp *r, const void *arg)
{
	return r->status == 200 && jstr(r->body, "spec.nodeName");
}

/* A watch event of the claim arg, Bound. */
static bool claim_event_bound(json_t *ev, const void *arg)
{
	const char *name = jstr(ev, "object.metadata.name");
	const char *phase = jstr(ev, "object.status.phase");
	return name && !strcmp(name, arg) && phase && !strcmp(phase, "Bound");
}

/* A watch event of the pod arg, bound to a node. */
static bool pod_event_bound(json_t *ev, const void *arg)
{
	const char *name = jstr(ev, "object.metadata.name");
	return name && !strcmp(name, arg) && jstr(ev, "object.spec.nodeName");
}

/*
 * WaitForFirstConsumer with a volume that exists: the claim stays Pending
 * until a pod uses it; the scheduler then writes the claim into the chosen
 * volume's claimRef, the PV controller binds the volume and the claim
 * (Bound both, the claim's volumeName), and only then, at the scheduler's
 * next poll a second later, is the pod bound to the volume's node.  No
 * selected-node annotation: that is for claims to provision.
 */
static void test_claim_binds_in_two_steps_before_the_pod_is_bound(void **state)
{
	struct http_resp r;
	make_namespace("k43");
	assert_int_equal(apply("/apis/storage.k8s.io/v1/storageclasses/k43-local",
			       "{\"apiVersion\":\"storage.k8s.io/v1\",\"kind\":\"StorageClass\","
			       "\"metadata\":{\"name\":\"k43-local\"},\"provisioner\":"
			       "\"kubernetes.io/"
			       "no-provisioner\",\"volumeBindingMode\":\"WaitForFirstConsumer\"}",
			       &r),
			 201);
	http_resp_free(&r);
	assert_int_equal(
		apply("/api/v1/persistentvolumes/k43-pv",
		      "{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolume\",\"metadata\":{\"name\":"
		      "\"k43-pv\"},\"spec\":{\"capacity\":{\"storage\":\"1Gi\"},\"accessModes\":["
		      "\"ReadWriteOnce\"],\"storageClassName\":\"k43-local\","
		      "\"persistentVolumeReclaimPolicy\":\"Retain\",\"local\":{\"path\":\"/es/"
		      "k43\"},"
		      "\"nodeAffinity\":{\"required\":{\"nodeSelectorTerms\":[{"
		      "\"matchExpressions\":[{"
		      "\"key\":\"kubernetes.io/hostname\",\"operator\":\"In\",\"values\":["
		      "\"worker-1\"]}]}]}}}}",
		      &r),
		201);
	http_resp_free(&r);
	assert_int_equal(
		apply("/api/v1/namespaces/k43/persistentvolumeclaims/data",
		      "{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolumeClaim\",\"metadata\":{"
		      "\"name\":\"data\"},\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],"
		      "\"storageClassName\":\"k43-local\",\"resources\":{\"requests\":{\"storage\":"
		      "\"1Gi\"}}}}",
		      &r),
		201);
	http_resp_free(&r);
	msleep(100);
	assert_int_equal(
		call("GET", "/api/v1/namespaces/k43/persistentvolumeclaims/data", NULL, &r), 200);
	assert_string_equal(jstr(r.body, "status.phase"), "Pending");
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/persistentvolumes/k43-pv", NULL, &r), 200);
	assert_string_equal(jstr(r.body, "status.phase"), "Available");
	assert_null(jget(r.body, "spec.claimRef"));
	http_resp_free(&r);

	char rv[64];
	list_resource_version("/api/v1/namespaces/k43/pods", rv, sizeof(rv));
	assert_int_equal(
		call("POST", "/api/v1/namespaces/k43/pods",
		     "{\"metadata\":{\"name\":\"user\"},\"spec\":{\"containers\":[{"
		     "\"name\":\"c\",\"image\":\"busybox:1.36\",\"volumeMounts\":[{"
		     "\"name\":\"d\",\"mountPath\":\"/d\"}]}],\"volumes\":[{\"name\":\"d\","
		     "\"persistentVolumeClaim\":{\"claimName\":\"data\"}}]}}",
		     &r),
		201);
	http_resp_free(&r);
	assert_true(wait_until("/api/v1/namespaces/k43/persistentvolumeclaims/data", claim_bound,
			       NULL, 30000, &r));
	assert_string_equal(jstr(r.body, "spec.volumeName"), "k43-pv");
	json_t *ann = jget(r.body, "metadata.annotations");
	assert_string_equal(
		json_string_value(json_object_get(ann, "pv.kubernetes.io/bind-completed")), "yes");
	assert_null(json_object_get(ann, "volume.kubernetes.io/selected-node"));
	assert_string_equal(jstr(r.body, "status.capacity.storage"), "1Gi");
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/persistentvolumes/k43-pv", NULL, &r), 200);
	assert_string_equal(jstr(r.body, "status.phase"), "Bound");
	assert_string_equal(jstr(r.body, "spec.claimRef.name"), "data");
	assert_string_equal(jstr(r.body, "spec.claimRef.namespace"), "k43");
	assert_string_equal(
		json_string_value(json_object_get(jget(r.body, "metadata.annotations"),
						  "pv.kubernetes.io/bound-by-controller")),
		"yes");
	http_resp_free(&r);
	assert_true(wait_until("/api/v1/namespaces/k43/pods/user", pod_on_a_node, NULL, 30000, &r));
	assert_string_equal(jstr(r.body, "spec.nodeName"), "worker-1");
	http_resp_free(&r);
	/* The claim was Bound before the pod was bound (the scheduler waits
	 * for the PV controller, then binds at its next poll), in the order
	 * of their writes as watches from before the pod replay them. */
	json_t *claim = watch_for("/api/v1/namespaces/k43/persistentvolumeclaims", rv,
				  claim_event_bound, "data", 10000);
	json_t *pod = watch_for("/api/v1/namespaces/k43/pods", rv, pod_event_bound, "user", 10000);
	assert_non_null(claim);
	assert_non_null(pod);
	if (event_rv(claim) >= event_rv(pod))
		fail_msg("the pod was bound (resourceVersion %lld) before its claim (%lld)",
			 event_rv(pod), event_rv(claim));
	json_decref(claim);
	json_decref(pod);
}

static long evict_k46(const char *query, const char *delete_options, struct http_resp *r)
{
	char path[256], body[512];
	snprintf(path, sizeof(path), "/api/v1/namespaces/k46/pods/target/eviction%s", query);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":"
		 "\"target\"}%s%s}",
		 delete_options ? ",\"deleteOptions\":" : "", delete_options ? delete_options : "");
	return call("POST", path, body, r);
}

/*
 * A server-side dry run of an eviction goes through the server's checks of
 * its options: the request's dryRun (CreateOptions), the same list in the
 * body's deleteOptions or none, and the delete options as the pod's delete
 * validates them; a valid dry run changes nothing.
 */
static void test_eviction_dry_run_checks_its_options(void **state)
{
	struct http_resp r;
	make_namespace("k46");
	assert_int_equal(call("POST", "/api/v1/namespaces/k46/pods",
			      "{\"metadata\":{\"name\":\"target\"},\"spec\":{\"containers\":[{"
			      "\"name\":\"c\",\"image\":\"busybox:1.36\"}]}}",
			      &r),
			 201);
	http_resp_free(&r);

	assert_int_equal(evict_k46("?dryRun=Yes", NULL, &r), 422);
	assert_string_equal(jstr(r.body, "message"),
			    "CreateOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: "
			    "[]string{\"Yes\"}: supported values: \"All\"");
	assert_string_equal(jstr(r.body, "reason"), "Invalid");
	assert_string_equal(jstr(r.body, "details.kind"), "CreateOptions");
	assert_string_equal(jstr(r.body, "details.causes.0.field"), "dryRun");
	assert_string_equal(jstr(r.body, "details.causes.0.reason"), "FieldValueNotSupported");
	http_resp_free(&r);

	assert_int_equal(evict_k46("?dryRun=All", "{\"dryRun\":[\"Yes\"]}", &r), 500);
	assert_string_equal(jstr(r.body, "message"),
			    "Non-matching dry-run options in request and content: [All] and [Yes]");
	assert_null(jget(r.body, "reason"));
	http_resp_free(&r);

	assert_int_equal(evict_k46("", "{\"dryRun\":[\"Yes\"]}", &r), 422);
	assert_string_equal(jstr(r.body, "message"),
			    "DeleteOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: "
			    "[]string{\"Yes\"}: supported values: \"All\"");
	http_resp_free(&r);

	assert_int_equal(evict_k46("?dryRun=All", "{\"propagationPolicy\":\"Sideways\"}", &r), 422);
	assert_string_equal(jstr(r.body, "message"),
			    "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: "
			    "Unsupported value: \"Sideways\": supported values: \"Foreground\", "
			    "\"Background\", \"Orphan\", \"nil\"");
	http_resp_free(&r);

	assert_int_equal(evict_k46("?dryRun=All", "{\"dryRun\":[\"All\"]}", &r), 201);
	assert_string_equal(jstr(r.body, "status"), "Success");
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/k46/pods/target", NULL, &r), 200);
	assert_null(jget(r.body, "metadata.deletionTimestamp"));
	http_resp_free(&r);
}

static bool has_failed_create(struct http_resp *r, const void *arg)
{
	size_t i;
	json_t *ev;
	json_array_foreach (json_object_get(r->body, "items"), i, ev) {
		const char *m = json_string_value(json_object_get(ev, "message"));
		if (m && !strcmp(m, arg))
			return true;
	}
	return false;
}

/* The cause for field in a 422's details, or NULL. */
static const char *cause_for(json_t *body, const char *field)
{
	size_t i;
	json_t *c;
	json_array_foreach (jget(body, "details.causes"), i, c) {
		const char *f = json_string_value(json_object_get(c, "field"));
		if (f && !strcmp(f, field))
			return json_string_value(json_object_get(c, "message"));
	}
	return NULL;
}

/*
 * The pod spec fields esaas renders are validated as validation.go does:
 * volume sources, mounts naming a volume, unique mount paths, requests no
 * more than limits, one probe handler, probe ports and thresholds,
 * runAsUser's range, probes on init containers, the anti-affinity's
 * topologyKey; each cause names its field with the real message.
 */
static void test_pod_spec_validation_names_each_field(void **state)
{
	struct http_resp r;
	make_namespace("k11");
	const char *pod =
		"{\"metadata\":{\"name\":\"bad\"},\"spec\":{"
		"\"volumes\":[{\"name\":\"data\",\"hostPath\":{\"path\":\"/es/"
		"k11\"},\"emptyDir\":{}},"
		"{\"name\":\"none\"},{\"name\":\"data\",\"emptyDir\":{}}],"
		"\"initContainers\":[{\"name\":\"init\",\"image\":\"busybox:1.36\","
		"\"readinessProbe\":{\"exec\":{\"command\":[\"true\"]}}}],"
		"\"containers\":[{\"name\":\"es\",\"image\":\"elasticsearch:7.17.10\","
		"\"volumeMounts\":[{\"name\":\"missing\",\"mountPath\":\"/d\"},{\"name\":\"data\","
		"\"mountPath\":\"/d\"}],"
		"\"resources\":{\"requests\":{\"cpu\":\"2\",\"memory\":\"1Gi\"},\"limits\":{"
		"\"cpu\":"
		"\"1\",\"memory\":\"2Gi\"}},"
		"\"readinessProbe\":{\"tcpSocket\":{\"port\":9200},\"httpGet\":{\"port\":0},"
		"\"periodSeconds\":-1},"
		"\"livenessProbe\":{\"tcpSocket\":{\"port\":\"http\"},\"successThreshold\":2},"
		"\"securityContext\":{\"runAsUser\":-1}}],"
		"\"affinity\":{\"podAntiAffinity\":{"
		"\"requiredDuringSchedulingIgnoredDuringExecution\":"
		"[{\"labelSelector\":{\"matchLabels\":{\"app\":\"es\"}}}]}}}}";
	assert_int_equal(call("POST", "/api/v1/namespaces/k11/pods", pod, &r), 422);
	assert_string_equal(jstr(r.body, "reason"), "Invalid");
	assert_string_equal(cause_for(r.body, "spec.volumes[0].emptyDir"),
			    "Forbidden: may not specify more than 1 volume type");
	assert_string_equal(cause_for(r.body, "spec.volumes[1]"),
			    "Required value: must specify a volume type");
	assert_string_equal(cause_for(r.body, "spec.volumes[2].name"), "Duplicate value: \"data\"");
	assert_string_equal(cause_for(r.body, "spec.containers[0].volumeMounts[0].name"),
			    "Not found: \"missing\"");
	assert_string_equal(cause_for(r.body, "spec.containers[0].volumeMounts[1].mountPath"),
			    "Invalid value: \"/d\": must be unique");
	assert_string_equal(cause_for(r.body, "spec.containers[0].resources.requests"),
			    "Invalid value: \"2\": must be less than or equal to cpu limit of 1");
	/* Handlers counted in validateHandler's order: exec, httpGet, tcpSocket. */
	assert_string_equal(cause_for(r.body, "spec.containers[0].readinessProbe.tcpSocket"),
			    "Forbidden: may not specify more than 1 handler type");
	assert_string_equal(cause_for(r.body, "spec.containers[0].readinessProbe.httpGet.port"),
			    "Invalid value: 0: must be between 1 and 65535, inclusive");
	assert_string_equal(cause_for(r.body, "spec.containers[0].readinessProbe.periodSeconds"),
			    "Invalid value: -1: must be greater than or equal to 0");
	assert_string_equal(cause_for(r.body, "spec.containers[0].livenessProbe.successThreshold"),
			    "Invalid value: 2: must be 1");
	assert_string_equal(cause_for(r.body, "spec.containers[0].securityContext.runAsUser"),
			    "Invalid value: -1: must be between 0 and 2147483647, inclusive");
	assert_string_equal(
		cause_for(r.body, "spec.initContainers[0].readinessProbe"),
		"Forbidden: may not be set for init containers without restartPolicy=Always");
	assert_string_equal(cause_for(r.body, "spec.affinity.podAntiAffinity."
					      "requiredDuringSchedulingIgnoredDuringExecution[0]."
					      "topologyKey"),
			    "Required value: can not be empty");
	assert_non_null(strstr(jstr(r.body, "message"),
			       "Pod \"bad\" is invalid: [spec.volumes[0].emptyDir: Forbidden: may "
			       "not specify more than 1 volume type"));
	http_resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/k11/pods/bad", NULL, &r), 404);
	http_resp_free(&r);

	/* A StatefulSet's template is not validated as a pod spec (its mounts
	 * may name claim templates): the pod the controller posts is, and
	 * its refusal is a FailedCreate event. */
	char body[1024];
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"metadata\":{\"name\":"
		 "\"bad\"},\"spec\":{\"serviceName\":\"x\",\"selector\":{\"matchLabels\":{\"a\":"
		 "\"b\"}},\"template\":{\"metadata\":{\"labels\":{\"a\":\"b\"}},\"spec\":{"
		 "\"containers\":[{\"name\":\"c\",\"image\":\"busybox:1.36\",\"volumeMounts\":[{"
		 "\"name\":\"data\",\"mountPath\":\"/d\"}],\"resources\":{"
		 "\"requests\":{\"memory\":\"2Gi\"},\"limits\":{\"memory\":\"1Gi\"}}}]}},"
		 "\"volumeClaimTemplates\":[{\"metadata\":{\"name\":\"data\"},\"spec\":{"
		 "\"accessModes\":[\"ReadWriteOnce\"],\"resources\":{\"requests\":{\"storage\":"
		 "\"1Gi\"}}}}]}}");
	assert_int_equal(apply("/apis/apps/v1/namespaces/k11/statefulsets/bad", body, &r), 201);
	http_resp_free(&r);
	assert_true(wait_until(
		"/api/v1/namespaces/k11/events", has_failed_create,
		"create Pod bad-0 in StatefulSet bad failed error: Pod \"bad-0\" is "
		"invalid: spec.containers[0].resources.requests: Invalid value: \"2Gi\": "
		"must be less than or equal to memory limit of 1Gi",
		30000, &r));
	http_resp_free(&r);
}

static bool ssar_allowed(const char *token, const char *attrs, struct http_resp *r)
{
	char body[512];
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SelfSubjectAccessReview\","
		 "\"spec\":{%s}}",
		 attrs);
	assert_int_equal(call_as(token, "POST",
				 "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", NULL,
				 body, r),
			 201);
	return json_is_true(jget(r->body, "status.allowed"));
}

/*
 * RBAC objects are served by the API (the bootstrap roles with their
 * label, the shipped role), a role bound at run time grants at once, an
 * aggregated ClusterRole gets the rules of the roles its selector matches,
 * and the reviews answer as the authorizer decides: kubectl auth can-i.
 */
static void test_rbac_is_served_reviewed_and_aggregated(void **state)
{
	struct http_resp r;
	char out[8192];
	make_namespace("k4");

	assert_int_equal(call("GET",
			      "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:basic-user",
			      NULL, &r),
			 200);
	assert_string_equal(json_string_value(json_object_get(jget(r.body, "metadata.labels"),
							      "kubernetes.io/bootstrapping")),
			    "rbac-defaults");
	http_resp_free(&r);
	assert_int_equal(call("GET",
			      "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/esaasd", NULL,
			      &r),
			 200);
	assert_string_equal(jstr(r.body, "subjects.0.name"), "esaasd");
	http_resp_free(&r);

	/* What the shipped role has, with the authorizer's reason. */
	assert_true(ssar_allowed(sim.sa_token,
				 "\"resourceAttributes\":{\"namespace\":\"k4\",\"verb\":\"get\","
				 "\"resource\":\"pods\"}",
				 &r));
	assert_string_equal(jstr(r.body, "status.reason"),
			    "RBAC: allowed by ClusterRoleBinding \"esaasd\" of ClusterRole "
			    "\"esaasd\" to ServiceAccount \"esaas-system/esaasd\"");
	assert_string_equal(jstr(r.body, "kind"), "SelfSubjectAccessReview");
	http_resp_free(&r);
	/* What it has not: no reason. */
	assert_false(ssar_allowed(sim.sa_token,
				  "\"resourceAttributes\":{\"verb\":\"delete\",\"resource\":"
				  "\"nodes\"}",
				  &r));
	assert_null(jget(r.body, "status.reason"));
	http_resp_free(&r);
	assert_false(ssar_allowed(sim.sa_token,
				  "\"resourceAttributes\":{\"namespace\":\"k4\",\"verb\":\"get\","
				  "\"group\":\"example.com\",\"resource\":\"widgets\"}",
				  &r));
	http_resp_free(&r);

	/* An aggregated ClusterRole, bound to the service account in k4 at
	 * run time: it gets the rules of the role its selector matches. */
	assert_int_equal(
		apply("/apis/rbac.authorization.k8s.io/v1/clusterroles/k4-aggregate",
		      "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\","
		      "\"metadata\":{\"name\":\"k4-aggregate\"},\"aggregationRule\":{"
		      "\"clusterRoleSelectors\":[{\"matchLabels\":{\"k4/aggregate\":\"true\"}}]},"
		      "\"rules\":[]}",
		      &r),
		201);
	http_resp_free(&r);
	assert_int_equal(
		apply("/apis/rbac.authorization.k8s.io/v1/namespaces/k4/rolebindings/k4-widgets",
		      "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\","
		      "\"metadata\":{\"name\":\"k4-widgets\"},\"roleRef\":{\"apiGroup\":"
		      "\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":"
		      "\"k4-aggregate\"},\"subjects\":[{\"kind\":\"ServiceAccount\",\"name\":"
		      "\"esaasd\",\"namespace\":\"esaas-system\"}]}",
		      &r),
		201);
	http_resp_free(&r);
	assert_int_equal(
		apply("/apis/rbac.authorization.k8s.io/v1/clusterroles/k4-widget-reader",
		      "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\","
		      "\"metadata\":{\"name\":\"k4-widget-reader\",\"labels\":{\"k4/aggregate\":"
		      "\"true\"}},\"rules\":[{\"apiGroups\":[\"example.com\"],\"resources\":["
		      "\"widgets\"],\"verbs\":[\"get\"]},{\"apiGroups\":[\"\"],\"resources\":"
		      "[\"configmaps\"],\"verbs\":[\"deletecollection\"]}]}",
		      &r),
		201);
	http_resp_free(&r);
	int64_t end = harness_now_ms() + 5000;
	bool allowed = false;
	while (!allowed && harness_now_ms() < end) {
		allowed = ssar_allowed(
			sim.sa_token,
			"\"resourceAttributes\":{\"namespace\":\"k4\",\"verb\":\"get\","
			"\"group\":\"example.com\",\"resource\":\"widgets\"}",
			&r);
		if (allowed)
			assert_string_equal(jstr(r.body, "status.reason"),
					    "RBAC: allowed by RoleBinding \"k4-widgets/k4\" of "
					    "ClusterRole \"k4-aggregate\" to ServiceAccount "
					    "\"esaas-system/esaasd\"");
		http_resp_free(&r);
		if (!allowed)
			msleep(30);
	}
	assert_true(allowed);
	assert_int_equal(call("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/k4-aggregate",
			      NULL, &r),
			 200);
	assert_string_equal(jstr(r.body, "rules.0.resources.0"), "widgets");
	http_resp_free(&r);
	/* Only in k4. */
	assert_false(ssar_allowed(sim.sa_token,
				  "\"resourceAttributes\":{\"namespace\":\"default\",\"verb\":"
				  "\"get\",\"group\":\"example.com\",\"resource\":\"widgets\"}",
				  &r));
	http_resp_free(&r);

	/* The rules review lists what k4 grants. */
	assert_int_equal(call_as(sim.sa_token, "POST",
				 "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", NULL,
				 "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":"
				 "\"SelfSubjectRulesReview\",\"spec\":{\"namespace\":\"k4\"}}",
				 &r),
			 201);
	assert_non_null(strstr(r.raw, "\"widgets\""));
	assert_true(json_is_false(jget(r.body, "status.incomplete")));
	http_resp_free(&r);

	/* Allowed to create Roles in k4, the account may grant only what it
	 * holds (no escalate verb): the rest is named in the 403. */
	assert_int_equal(
		apply("/apis/rbac.authorization.k8s.io/v1/namespaces/k4/roles/role-writer",
		      "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"Role\","
		      "\"metadata\":{\"name\":\"role-writer\"},\"rules\":[{\"apiGroups\":["
		      "\"rbac.authorization.k8s.io\"],\"resources\":[\"roles\"],\"verbs\":["
		      "\"create\"]}]}",
		      &r),
		201);
	http_resp_free(&r);
	assert_int_equal(
		apply("/apis/rbac.authorization.k8s.io/v1/namespaces/k4/rolebindings/role-writer",
		      "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\","
		      "\"metadata\":{\"name\":\"role-writer\"},\"roleRef\":{\"apiGroup\":"
		      "\"rbac.authorization.k8s.io\",\"kind\":\"Role\",\"name\":\"role-writer\"},"
		      "\"subjects\":[{\"kind\":\"ServiceAccount\",\"name\":\"esaasd\","
		      "\"namespace\":\"esaas-system\"}]}",
		      &r),
		201);
	http_resp_free(&r);
	call_as(sim.sa_token, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/k4/roles",
		NULL,
		"{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"Role\",\"metadata\":"
		"{\"name\":\"more\"},\"rules\":[{\"apiGroups\":[\"\"],\"resources\":[\"pods\"],"
		"\"verbs\":[\"get\"]},{\"apiGroups\":[\"\"],\"resources\":[\"secrets\"],"
		"\"verbs\":[\"watch\"]}]}",
		&r);
	assert_int_equal(r.status, 403);
	assert_string_equal(
		jstr(r.body, "message"),
		"roles.rbac.authorization.k8s.io \"more\" is forbidden: user "
		"\"system:serviceaccount:esaas-system:esaasd\" (groups=["
		"\"system:serviceaccounts\" \"system:serviceaccounts:esaas-system\" "
		"\"system:authenticated\"]) is attempting to grant RBAC permissions not "
		"currently held:\n{APIGroups:[\"\"], Resources:[\"secrets\"], "
		"Verbs:[\"watch\"]}");
	http_resp_free(&r);
	call_as(sim.sa_token, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/k4/roles",
		NULL,
		"{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"Role\",\"metadata\":"
		"{\"name\":\"held\"},\"rules\":[{\"apiGroups\":[\"\"],\"resources\":[\"pods\"],"
		"\"verbs\":[\"get\"]}]}",
		&r);
	assert_int_equal(r.status, 201);
	http_resp_free(&r);

	/* kubectl auth can-i, as the admin (system:masters) and as the account. */
	assert_int_equal(kubectl("auth can-i delete nodes", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "yes"));
	/* The later --context wins: the account's. */
	assert_int_equal(
		kubectl("auth can-i delete nodes --context esaas-system/esaasd", out, sizeof(out)),
		1);
	assert_non_null(strstr(out, "no"));
	assert_int_equal(kubectl("auth can-i deletecollection configmaps -n k4 --context "
				 "esaas-system/esaasd",
				 out, sizeof(out)),
			 0);
	assert_non_null(strstr(out, "yes"));
	assert_int_equal(kubectl("get clusterroles k4-aggregate -o jsonpath={.rules[0].verbs[0]}",
				 out, sizeof(out)),
			 0);
	assert_string_equal(out, "get");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_expired_service_account_token_is_401),
		cmocka_unit_test(test_https_with_the_written_ca),
		cmocka_unit_test(test_esaas_refuses_a_certificate_of_another_ca),
		cmocka_unit_test(test_client_certificates_authenticate_as_their_subject),
		cmocka_unit_test(test_request_without_the_verb_is_forbidden),
		cmocka_unit_test(test_apply_create_needs_create_verb),
		cmocka_unit_test(test_service_proxy_verbs_are_get_create_update_delete),
		cmocka_unit_test(test_discovery),
		cmocka_unit_test(test_crud_and_conflicts),
		cmocka_unit_test(test_apply_owns_fields_per_manager_and_merges_lists_by_key),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_unknown_fields),
		cmocka_unit_test(test_statefulset),
		cmocka_unit_test(test_statefulset_on_delete_keeps_current_revision),
		cmocka_unit_test(test_anti_affinity),
		cmocka_unit_test(test_node_ports_are_unique_across_namespaces_and_kept_by_name),
		cmocka_unit_test(test_scheduler_picks_at_random_among_the_best_nodes),
		cmocka_unit_test(test_pod_pinned_to_a_missing_node_never_runs_and_is_collected),
		cmocka_unit_test(test_namespace_terminates_its_content_then_goes),
		cmocka_unit_test(
			test_namespace_deletion_reports_its_conditions_and_waits_its_estimate),
		cmocka_unit_test(test_garbage_collector_propagates_as_the_real_one),
		cmocka_unit_test(test_deletion_timestamp_is_now_plus_the_grace),
		cmocka_unit_test(test_deleted_pod_ends_in_a_terminal_phase_before_it_goes),
		cmocka_unit_test(test_es_zen2_needs_initial_masters),
		cmocka_unit_test(test_readiness_follows_the_probe),
		cmocka_unit_test(test_secret_string_data_types_and_immutability),
		cmocka_unit_test(test_pod_waits_for_the_secrets_it_names),
		cmocka_unit_test(test_es_http_opens_after_initial_state_timeout),
		cmocka_unit_test(test_terminating_pod_leaves_the_endpoints_late),
		cmocka_unit_test(test_es_health_through_proxy),
		cmocka_unit_test(test_service_proxy_waits_for_endpoints),
		cmocka_unit_test(test_network_policy_decides_what_the_proxy_reaches),
		cmocka_unit_test(test_pod_connections_follow_network_policy),
		cmocka_unit_test(test_service_proxy_dial_times_out_after_30s_when_dropped),
		cmocka_unit_test(test_es_exclusion_relocates),
		cmocka_unit_test(test_es_recovery_takes_size_over_rate_one_at_a_time),
		cmocka_unit_test(test_sim_config_names_a_bad_shard_size),
		cmocka_unit_test(test_es_allocation_fails_five_times_without_the_plugin),
		cmocka_unit_test(test_es_lost_shard),
		cmocka_unit_test(test_es_disk_usage_is_reported_per_node),
		cmocka_unit_test(test_es_replica_stays_off_a_node_above_the_low_watermark),
		cmocka_unit_test(test_es_8x_has_no_synced_flush),
		cmocka_unit_test(test_es_security_answers_401_without_credentials),
		cmocka_unit_test(test_es_security_native_users),
		cmocka_unit_test(test_es_security_without_transport_tls_fails_the_bootstrap_check),
		cmocka_unit_test(test_es_s3_client_settings_need_the_plugin_before_8),
		cmocka_unit_test(test_images_are_pulled_once_per_node_one_at_a_time),
		cmocka_unit_test(test_missing_image_fails_its_pull_and_backs_off_doubling),
		cmocka_unit_test(test_es_pod_network_serves_https_with_the_nodes_certificate),
		cmocka_unit_test(test_pod_network_drops_what_network_policy_does_not_admit),
		cmocka_unit_test(test_es_unknown_query_parameter_is_a_400),
		cmocka_unit_test(test_es_index_keeps_its_mappings),
		cmocka_unit_test(test_es_fs_repository_needs_path_repo_and_a_shared_folder),
		cmocka_unit_test(test_es_write_to_an_unavailable_shard_waits_for_its_primary),
		cmocka_unit_test(test_es_deprecation_api_is_x_pack_only),
		cmocka_unit_test(test_es_snapshot_and_restore_keep_document_counts),
		cmocka_unit_test(test_es_recovery_api_reports_each_copys_last_recovery),
		cmocka_unit_test(test_es_snapshots_run_one_at_a_time_before_7_9),
		cmocka_unit_test(test_es_restore_follows_version_compatibility),
		cmocka_unit_test(test_es_9x_reads_7x_indices_only_marked_read_only),
		cmocka_unit_test(test_es_6x_imports_another_clusters_indices_as_dangling),
		cmocka_unit_test(test_es_mixed_versions_as_elasticsearch_runs_them),
		cmocka_unit_test(test_es_upgrade_bootstrap_waits_for_minimum_master_nodes),
		cmocka_unit_test(test_es_upgraded_data_node_reads_only_the_metadata_on_its_disk),
		cmocka_unit_test(test_es_graveyard_and_dangling_indices),
		cmocka_unit_test(test_es_9_0_node_stays_out_of_an_8_19_cluster),
		cmocka_unit_test(test_es_2x_applies_only_its_registered_dynamic_settings),
		cmocka_unit_test(test_es_settings_file_is_the_lowest_layer),
		cmocka_unit_test(test_es_2x_null_in_cluster_settings),
		cmocka_unit_test(test_es_unknown_cluster_setting_is_not_recognized),
		cmocka_unit_test(test_faults),
		cmocka_unit_test(test_fault_rates_repeat_with_the_seed),
		cmocka_unit_test(test_host_folders_and_the_image_user),
		cmocka_unit_test(test_es_unwritable_data_path_fails_any_image),
		cmocka_unit_test(test_es_plugins_are_downloaded_by_the_init_container),
		cmocka_unit_test(test_resource_quota),
		cmocka_unit_test(test_quota_charges_admission_until_the_controller_recounts),
		cmocka_unit_test(test_pod_security_levels),
		cmocka_unit_test(test_pod_security_checks_by_policy_version),
		cmocka_unit_test(test_pod_security_app_armor_selinux_and_proc_mount),
		cmocka_unit_test(test_schemas),
		cmocka_unit_test(test_eviction_honours_the_disruption_budget),
		cmocka_unit_test(test_deployment_rolls_out_through_replica_sets),
		cmocka_unit_test(test_deployment_progress_deadline_exceeded),
		cmocka_unit_test(test_disruption_budget_counts_through_replica_sets),
		cmocka_unit_test(test_es_responses_match_the_spec),
		cmocka_unit_test(test_es_request_check_follows_the_rest_spec),
		cmocka_unit_test(test_es_health_long_poll_answers_at_its_timeout_with_408),
		cmocka_unit_test(test_watch_streams_events_after_the_resource_version),
		cmocka_unit_test(test_watch_bookmarks_and_too_old_resource_version),
		cmocka_unit_test(test_watch_kubectl_get_w_and_rollout_status),
		cmocka_unit_test(test_endpoints_and_slices_follow_readiness_and_termination),
		cmocka_unit_test(test_es_zen1_min_masters_counts_the_cluster_state),
		cmocka_unit_test(test_one_shot_rm_that_cannot_remove_fails_with_its_exit_code),
		cmocka_unit_test(test_claim_binds_in_two_steps_before_the_pod_is_bound),
		cmocka_unit_test(test_eviction_dry_run_checks_its_options),
		cmocka_unit_test(test_pod_spec_validation_names_each_field),
		cmocka_unit_test(test_rbac_is_served_reviewed_and_aggregated),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	/* ESAAS_TEST_FILTER=test_name (a glob) runs some tests only. */
	if (getenv("ESAAS_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ESAAS_TEST_FILTER"));
	int rc = harness_run_group(tests, start_sim, stop_sim);
	curl_global_cleanup();
	return rc;
}
