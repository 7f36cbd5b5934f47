/*
 * esaas-sim from the outside: one simulator process for the whole run
 * (a free port, a temporary kubeconfig), driven over HTTP with libcurl as
 * esaasd would drive a real cluster.  Each test works in its own
 * namespace.
 *
 * The binary is $ESAAS_SIM, else $ESAAS_BUILDDIR/esaas-sim, else
 * ./esaas-sim.  The schema checks read $ESAAS_SRCDIR/tests/reference (the
 * tree's copy of the Kubernetes schemas) and need python3 with jsonschema;
 * either missing is a failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdbool.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

struct sim {
	pid_t pid;
	char dir[256];
	char kubeconfig[512];
	char server[256];
	char token[128];
};

static struct sim sim;

struct resp {
	long code;
	char *body;
	size_t len;
	json_t *json;
	char headers[4096];
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static size_t body_cb(char *data, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = size * n;
	r->body = realloc(r->body, r->len + len + 1);
	memcpy(r->body + r->len, data, len);
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

static size_t header_cb(char *data, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = size * n, have = strlen(r->headers);
	if (have + len + 1 < sizeof(r->headers)) {
		memcpy(r->headers + have, data, len);
		r->headers[have + len] = '\0';
	}
	return len;
}

static void resp_free(struct resp *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

/* One request; content_type NULL means application/json when there is a
 * body.  timeout_ms 0: 10 s.  Returns false on a transport error. */
static bool request(const char *method, const char *path, const char *content_type,
		    const char *body, bool auth, int timeout_ms, struct resp *r)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	char url[2048], line[256];
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "%s%s", sim.server, path);
	if (auth) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s", sim.token);
		hdrs = curl_slist_append(hdrs, line);
	}
	if (body) {
		snprintf(line, sizeof(line), "Content-Type: %s",
			 content_type ? content_type : "application/json");
		hdrs = curl_slist_append(hdrs, line);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(timeout_ms ? timeout_ms : 10000));
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->code);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	if (r->body)
		r->json = json_loads(r->body, JSON_DECODE_ANY, NULL);
	return rc == CURLE_OK;
}

/* Shorthands: the request must get through. */
static long call(const char *method, const char *path, const char *body, struct resp *r)
{
	assert_true(request(method, path, NULL, body, true, 0, r));
	return r->code;
}

static long apply(const char *path, const char *yaml, struct resp *r)
{
	char full[1024];
	snprintf(full, sizeof(full), "%s?fieldManager=esaas&force=true", path);
	assert_true(request("PATCH", full, "application/apply-patch+yaml", yaml, true, 0, r));
	return r->code;
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

static void make_namespace(const char *ns)
{
	struct resp r;
	char path[256], body[256];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s", ns);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
		 ns);
	assert_int_equal(apply(path, body, &r), 201);
	resp_free(&r);
}

/* Poll GET path until pred holds or timeout; the last response is kept. */
typedef bool (*pred_fn)(struct resp *r, const void *arg);

static bool wait_until(const char *path, pred_fn pred, const void *arg, int timeout_ms,
		       struct resp *r)
{
	int64_t end = now_ms() + timeout_ms;
	for (;;) {
		call("GET", path, NULL, r);
		if (pred(r, arg))
			return true;
		if (now_ms() > end)
			return false;
		resp_free(r);
		sleep_ms(30);
	}
}

/* --- the simulator process ---------------------------------------------------- */

static const char SIM_CONFIG[] = "tick_ms: 10\n"
				 "nodes:\n"
				 "  count: 4\n"
				 "  hostname_prefix: worker\n"
				 "  rack_label: topology.kubernetes.io/zone\n"
				 "  racks: [rack-a, rack-b]\n"
				 "  cpu: \"8\"\n"
				 "  memory: 16Gi\n"
				 "pods:\n"
				 "  ready_delay_ms: 50\n"
				 "elasticsearch:\n"
				 "  relocation_ms: 200\n"
				 "  recovery_ms: 50\n"
				 "  node_left_delay_ms: 300\n"
				 "  no_master_wait_ms: 500\n";

static const char *sim_binary(char *buf, size_t len)
{
	const char *env = getenv("ESAAS_SIM");
	if (env)
		return env;
	env = getenv("ESAAS_BUILDDIR");
	snprintf(buf, len, "%s/esaas-sim", env ? env : ".");
	return buf;
}

static bool read_kubeconfig(void)
{
	FILE *f = fopen(sim.kubeconfig, "r");
	char line[512];
	if (!f)
		return false;
	sim.server[0] = sim.token[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		char *p;
		line[strcspn(line, "\n")] = '\0';
		if ((p = strstr(line, "server: ")))
			snprintf(sim.server, sizeof(sim.server), "%s", p + 8);
		if ((p = strstr(line, "token: ")))
			snprintf(sim.token, sizeof(sim.token), "%s", p + 7);
	}
	fclose(f);
	return sim.server[0] && sim.token[0];
}

static int start_sim(void **state)
{
	char bin[600], config[600], log[600];
	snprintf(sim.dir, sizeof(sim.dir), "/tmp/esaas-sim-test.XXXXXX");
	if (!mkdtemp(sim.dir))
		return -1;
	snprintf(config, sizeof(config), "%s/sim.yaml", sim.dir);
	snprintf(log, sizeof(log), "%s/sim.log", sim.dir);
	snprintf(sim.kubeconfig, sizeof(sim.kubeconfig), "%s/kubeconfig", sim.dir);
	FILE *f = fopen(config, "w");
	if (!f)
		return -1;
	fputs(SIM_CONFIG, f);
	fclose(f);
	const char *binary = sim_binary(bin, sizeof(bin));
	sim.pid = fork();
	if (sim.pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(binary, binary, "--listen", "127.0.0.1:0", "--kubeconfig-out", sim.kubeconfig,
		      "--config", config, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		if (read_kubeconfig())
			return 0;
		if (waitpid(sim.pid, NULL, WNOHANG) == sim.pid) {
			fprintf(stderr, "esaas-sim (%s) exited; see %s\n", binary, log);
			return -1;
		}
		sleep_ms(10);
	}
	return -1;
}

static int stop_sim(void **state)
{
	int status = 0;
	char cmd[600];
	if (sim.pid > 0) {
		kill(sim.pid, SIGTERM);
		waitpid(sim.pid, &status, 0);
	}
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		fprintf(stderr, "esaas-sim did not stop cleanly (status %d); log in %s\n", status,
			sim.dir);
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sim.dir);
	if (system(cmd) != 0)
		return -1;
	return 0;
}

/* --- Kubernetes API ---------------------------------------------------------------- */

static void test_auth(void **state)
{
	struct resp r;
	assert_true(request("GET", "/api/v1/namespaces", NULL, NULL, false, 0, &r));
	assert_int_equal(r.code, 401);
	json_t *want = json_loads("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
				  "\"status\":\"Failure\",\"message\":\"Unauthorized\","
				  "\"reason\":\"Unauthorized\",\"details\":{},\"code\":401}",
				  0, NULL);
	assert_true(json_equal(want, r.json));
	json_decref(want);
	resp_free(&r);
	assert_true(request("GET", "/version", NULL, NULL, false, 0, &r));
	assert_int_equal(r.code, 200);
	assert_string_equal(jstr(r.json, "gitVersion"), "v1.29.0");
	resp_free(&r);
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
	struct resp r;
	assert_int_equal(call("GET", "/api", NULL, &r), 200);
	assert_string_equal(jstr(r.json, "kind"), "APIVersions");
	assert_string_equal(jstr(r.json, "versions.0"), "v1");
	resp_free(&r);
	assert_int_equal(call("GET", "/api/v1", NULL, &r), 200);
	assert_string_equal(jstr(r.json, "kind"), "APIResourceList");
	assert_true(has_resource(r.json, "pods", "Pod"));
	assert_true(has_resource(r.json, "namespaces", "Namespace"));
	assert_true(has_resource(r.json, "resourcequotas", "ResourceQuota"));
	resp_free(&r);
	assert_int_equal(call("GET", "/apis", NULL, &r), 200);
	assert_string_equal(jstr(r.json, "kind"), "APIGroupList");
	assert_string_equal(jstr(r.json, "groups.0.preferredVersion.groupVersion"), "apps/v1");
	resp_free(&r);
	assert_int_equal(call("GET", "/apis/apps/v1", NULL, &r), 200);
	assert_true(has_resource(r.json, "statefulsets", "StatefulSet"));
	assert_true(has_resource(r.json, "statefulsets/scale", "Scale"));
	assert_true(has_resource(r.json, "deployments/scale", "Scale"));
	resp_free(&r);
	assert_int_equal(call("GET", "/apis/policy/v1", NULL, &r), 200);
	assert_true(has_resource(r.json, "poddisruptionbudgets", "PodDisruptionBudget"));
	resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/nodes", NULL, &r), 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 4);
	json_t *labels = jget(r.json, "items.1.metadata.labels");
	assert_string_equal(
		json_string_value(json_object_get(labels, "topology.kubernetes.io/zone")),
		"rack-b");
	resp_free(&r);
	assert_int_equal(call("GET", "/apis/nope/v1/things", NULL, &r), 404);
	assert_string_equal(jstr(r.json, "message"),
			    "the server could not find the requested resource");
	resp_free(&r);
}

static size_t list_count(const char *path)
{
	struct resp r;
	assert_int_equal(call("GET", path, NULL, &r), 200);
	size_t n = json_array_size(json_object_get(r.json, "items"));
	resp_free(&r);
	return n;
}

static void test_crud_and_conflicts(void **state)
{
	struct resp r;
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
		assert_non_null(jstr(r.json, "metadata.uid"));
		assert_non_null(jstr(r.json, "metadata.creationTimestamp"));
		assert_string_equal(jstr(r.json, "kind"), "ConfigMap");
		resp_free(&r);
	}
	/* AlreadyExists */
	assert_int_equal(call("POST", base, cms[0], &r), 409);
	json_t *want = json_loads(
		"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
		"\"status\":\"Failure\",\"message\":\"configmaps \\\"a\\\" already exists\","
		"\"reason\":\"AlreadyExists\",\"details\":{\"name\":\"a\",\"kind\":\"configmaps\"},"
		"\"code\":409}",
		0, NULL);
	assert_true(json_equal(want, r.json));
	json_decref(want);
	resp_free(&r);

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
	assert_string_equal(jstr(r.json, "kind"), "ConfigMapList");
	assert_string_equal(jstr(r.json, "apiVersion"), "v1");
	assert_non_null(jstr(r.json, "metadata.resourceVersion"));
	resp_free(&r);

	/* Update with a stale resourceVersion */
	assert_int_equal(call("GET", "/api/v1/namespaces/crud/configmaps/a", NULL, &r), 200);
	char rv[32], uid[64];
	snprintf(rv, sizeof(rv), "%s", jstr(r.json, "metadata.resourceVersion"));
	snprintf(uid, sizeof(uid), "%s", jstr(r.json, "metadata.uid"));
	resp_free(&r);
	char body[512];
	snprintf(
		body, sizeof(body),
		"{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"%s\"},\"data\":{\"k\":\"9\"}}",
		rv);
	assert_int_equal(call("PUT", "/api/v1/namespaces/crud/configmaps/a", body, &r), 200);
	assert_string_not_equal(jstr(r.json, "metadata.resourceVersion"), rv);
	assert_string_equal(jstr(r.json, "metadata.uid"), uid);
	resp_free(&r);
	assert_int_equal(call("PUT", "/api/v1/namespaces/crud/configmaps/a", body, &r), 409);
	assert_string_equal(jstr(r.json, "reason"), "Conflict");
	assert_string_equal(
		jstr(r.json, "message"),
		"Operation cannot be fulfilled on configmaps \"a\": the object has been "
		"modified; please apply your changes to the latest version and try again");
	resp_free(&r);

	/* Server-side apply: create, no-op, and a manager dropping a label */
	const char *applied = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\n  labels:\n"
			      "    one: \"1\"\n    two: \"2\"\ndata:\n  elasticsearch.yml: |\n"
			      "    cluster.name: x\n";
	assert_int_equal(apply("/api/v1/namespaces/crud/configmaps/d", applied, &r), 201);
	snprintf(rv, sizeof(rv), "%s", jstr(r.json, "metadata.resourceVersion"));
	assert_string_equal(
		json_string_value(json_object_get(jget(r.json, "data"), "elasticsearch.yml")),
		"cluster.name: x\n");
	resp_free(&r);
	assert_int_equal(apply("/api/v1/namespaces/crud/configmaps/d", applied, &r), 200);
	assert_string_equal(jstr(r.json, "metadata.resourceVersion"), rv);
	resp_free(&r);
	const char *fewer =
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"d\","
		"\"labels\":{\"one\":\"1\"}},\"data\":{\"elasticsearch.yml\":\"y\"}}";
	assert_int_equal(apply("/api/v1/namespaces/crud/configmaps/d", fewer, &r), 200);
	assert_null(jstr(r.json, "metadata.labels.two"));
	assert_string_equal(jstr(r.json, "metadata.labels.one"), "1");
	assert_string_not_equal(jstr(r.json, "metadata.resourceVersion"), rv);
	resp_free(&r);

	/* Delete with a uid precondition */
	assert_int_equal(call("DELETE", "/api/v1/namespaces/crud/configmaps/a",
			      "{\"preconditions\":{\"uid\":\"not-the-uid\"}}", &r),
			 409);
	char msg[512];
	snprintf(msg, sizeof(msg),
		 "Operation cannot be fulfilled on configmaps \"a\": Precondition "
		 "failed: UID in precondition: not-the-uid, UID in object meta: %s",
		 uid);
	assert_string_equal(jstr(r.json, "message"), msg);
	resp_free(&r);
	snprintf(body, sizeof(body),
		 "{\"propagationPolicy\":\"Background\",\"preconditions\":{\"uid\":\"%s\"}}", uid);
	assert_int_equal(call("DELETE", "/api/v1/namespaces/crud/configmaps/a", body, &r), 200);
	assert_string_equal(jstr(r.json, "status"), "Success");
	assert_string_equal(jstr(r.json, "details.uid"), uid);
	resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/crud/configmaps/a", NULL, &r), 404);
	want = json_loads(
		"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
		"\"Failure\",\"message\":\"configmaps \\\"a\\\" not found\",\"reason\":"
		"\"NotFound\",\"details\":{\"name\":\"a\",\"kind\":\"configmaps\"},\"code\":404}",
		0, NULL);
	assert_true(json_equal(want, r.json));
	json_decref(want);
	resp_free(&r);
	assert_int_equal(call("DELETE", "/api/v1/namespaces/crud/configmaps/a", NULL, &r), 404);
	resp_free(&r);
	assert_int_equal(call("GET", "/apis/apps/v1/namespaces/crud/statefulsets/none", NULL, &r),
			 404);
	assert_string_equal(jstr(r.json, "message"), "statefulsets.apps \"none\" not found");
	assert_string_equal(jstr(r.json, "details.group"), "apps");
	resp_free(&r);
	/* Into a namespace that does not exist */
	assert_int_equal(call("POST", "/api/v1/namespaces/nowhere/configmaps", cms[0], &r), 404);
	assert_string_equal(jstr(r.json, "message"), "namespaces \"nowhere\" not found");
	resp_free(&r);
}

static const char STS_TEMPLATE[] =
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"%s\"},"
	"\"spec\":{\"replicas\":%d,\"serviceName\":\"%s\",\"selector\":{\"matchLabels\":"
	"{\"app\":\"%s\",\"esaas.io/role\":\"%s\"}},\"template\":{\"metadata\":{\"labels\":"
	"{\"app\":\"%s\",\"esaas.io/role\":\"%s\"}},\"spec\":{%s\"containers\":[{\"name\":\"es\","
	"\"image\":\"docker.elastic.co/elasticsearch/elasticsearch:%s\",\"resources\":"
	"{\"requests\":{\"cpu\":\"500m\",\"memory\":\"1Gi\"}}}]}}}}";

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
	snprintf(buf, sizeof(buf), STS_TEMPLATE, name, replicas, app, app, role, app, role, anti,
		 version);
	return buf;
}

static void test_invalid(void **state)
{
	struct resp r;
	make_namespace("invalid");
	assert_int_equal(call("POST", "/api/v1/namespaces/invalid/pods",
			      "{\"metadata\":{},\"spec\":{\"containers\":[{\"name\":\"c\","
			      "\"image\":\"x:1\"}]}}",
			      &r),
			 422);
	assert_string_equal(jstr(r.json, "reason"), "Invalid");
	assert_string_equal(jstr(r.json, "message"), "Pod \"\" is invalid: metadata.name: Required "
						     "value: name or generateName is required");
	assert_string_equal(jstr(r.json, "details.causes.0.field"), "metadata.name");
	assert_string_equal(jstr(r.json, "details.causes.0.reason"), "FieldValueRequired");
	assert_int_equal(jint(r.json, "code"), 422);
	resp_free(&r);
	assert_int_equal(call("POST", "/api/v1/namespaces/invalid/configmaps",
			      "{\"metadata\":{\"name\":\"Bad_Name\"}}", &r),
			 422);
	assert_non_null(strstr(jstr(r.json, "message"),
			       "ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: "
			       "\"Bad_Name\": a lowercase RFC 1123 subdomain"));
	resp_free(&r);
	assert_int_equal(
		call("POST", "/api/v1/namespaces/invalid/services",
		     "{\"metadata\":{\"name\":\"9svc\"},\"spec\":{\"ports\":[{\"port\":80}]}}", &r),
		422);
	assert_non_null(strstr(jstr(r.json, "message"), "a DNS-1035 label"));
	resp_free(&r);
	/* A StatefulSet whose selector does not match its template */
	char *sts = workload("es-data", 1, "es", "data", NULL, "7.17.10");
	char *bad = strdup(sts);
	char *at = strstr(bad, "\"labels\":{\"app\":\"es\"");
	at[17] = 'X';
	assert_int_equal(call("POST", "/apis/apps/v1/namespaces/invalid/statefulsets", bad, &r),
			 422);
	assert_string_equal(jstr(r.json, "details.kind"), "StatefulSet");
	assert_string_equal(jstr(r.json, "details.group"), "apps");
	assert_string_equal(jstr(r.json, "details.causes.0.field"),
			    "spec.template.metadata.labels");
	free(bad);
	resp_free(&r);
	/* Apply needs a field manager */
	assert_true(request("PATCH", "/api/v1/namespaces/invalid/configmaps/x",
			    "application/apply-patch+yaml",
			    "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\"}", true, 0, &r));
	assert_int_equal(r.code, 422);
	assert_string_equal(jstr(r.json, "details.kind"), "PatchOptions");
	resp_free(&r);
	/* A wrong apiVersion */
	assert_int_equal(apply("/api/v1/namespaces/invalid/configmaps/x",
			       "{\"apiVersion\":\"apps/"
			       "v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"}}",
			       &r),
			 400);
	assert_string_equal(jstr(r.json, "reason"), "BadRequest");
	resp_free(&r);
	/* A StatefulSet field that may not change */
	assert_int_equal(apply("/apis/apps/v1/namespaces/invalid/statefulsets/es-data", sts, &r),
			 201);
	resp_free(&r);
	char *moved = strdup(sts);
	char *svc = strstr(moved, "\"serviceName\":\"es\"");
	svc[15] = 'X';
	assert_int_equal(apply("/apis/apps/v1/namespaces/invalid/statefulsets/es-data", moved, &r),
			 422);
	assert_string_equal(jstr(r.json, "details.causes.0.reason"), "FieldValueForbidden");
	free(moved);
	resp_free(&r);
}

static bool ready_replicas_is(struct resp *r, const void *arg)
{
	return r->code == 200 && jint(r->json, "status.readyReplicas") == *(const int *)arg;
}

static void test_statefulset(void **state)
{
	struct resp r;
	const char *path = "/apis/apps/v1/namespaces/sts/statefulsets/es-data";
	int three = 3, two = 2;
	make_namespace("sts");
	assert_int_equal(
		apply(path,
		      workload("es-data", 3, "es", "data", "kubernetes.io/hostname", "7.17.10"),
		      &r),
		201);
	assert_int_equal(jint(r.json, "metadata.generation"), 1);
	assert_string_equal(jstr(r.json, "spec.podManagementPolicy"), "OrderedReady");
	resp_free(&r);
	/* One at a time, in order: es-data-1 never exists before es-data-0 is ready. */
	assert_true(wait_until(path, ready_replicas_is, &three, 5000, &r));
	assert_int_equal(jint(r.json, "status.observedGeneration"), 1);
	assert_non_null(jstr(r.json, "status.updateRevision"));
	resp_free(&r);
	assert_int_equal(
		call("GET", "/api/v1/namespaces/sts/pods?labelSelector=app%3Des", NULL, &r), 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 3);
	const char *nodes[3];
	for (int i = 0; i < 3; i++) {
		char name[32];
		snprintf(name, sizeof(name), "es-data-%d", i);
		assert_string_equal(
			jstr(json_array_get(json_object_get(r.json, "items"), (size_t)i),
			     "metadata.name"),
			name);
		json_t *pod = json_array_get(json_object_get(r.json, "items"), (size_t)i);
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
	resp_free(&r);

	/* The scale subresource */
	assert_int_equal(
		call("GET", "/apis/apps/v1/namespaces/sts/statefulsets/es-data/scale", NULL, &r),
		200);
	assert_string_equal(jstr(r.json, "kind"), "Scale");
	assert_string_equal(jstr(r.json, "apiVersion"), "autoscaling/v1");
	assert_int_equal(jint(r.json, "spec.replicas"), 3);
	assert_string_equal(jstr(r.json, "status.selector"), "app=es,esaas.io/role=data");
	resp_free(&r);
	assert_int_equal(call("PUT", "/apis/apps/v1/namespaces/sts/statefulsets/es-data/scale",
			      "{\"apiVersion\":\"autoscaling/"
			      "v1\",\"kind\":\"Scale\",\"metadata\":{\"name\":\"es-data\"},"
			      "\"spec\":{\"replicas\":2}}",
			      &r),
			 200);
	resp_free(&r);
	assert_true(wait_until(path, ready_replicas_is, &two, 5000, &r));
	assert_int_equal(jint(r.json, "metadata.generation"), 2);
	resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/sts/pods/es-data-2", NULL, &r), 404);
	resp_free(&r);

	/* A deleted pod comes back under its name with a new uid. */
	assert_int_equal(call("GET", "/api/v1/namespaces/sts/pods/es-data-1", NULL, &r), 200);
	char uid[64];
	snprintf(uid, sizeof(uid), "%s", jstr(r.json, "metadata.uid"));
	resp_free(&r);
	char body[256];
	snprintf(body, sizeof(body), "{\"preconditions\":{\"uid\":\"%s\"}}", uid);
	assert_int_equal(call("DELETE", "/api/v1/namespaces/sts/pods/es-data-1", body, &r), 200);
	resp_free(&r);
	/* A second delete with the same precondition must not touch the replacement. */
	int64_t end = now_ms() + 5000;
	for (;;) {
		call("GET", "/api/v1/namespaces/sts/pods/es-data-1", NULL, &r);
		if (r.code == 200 && strcmp(jstr(r.json, "metadata.uid"), uid) != 0)
			break;
		resp_free(&r);
		assert_true(now_ms() < end);
		sleep_ms(20);
	}
	resp_free(&r);
	assert_int_equal(call("DELETE", "/api/v1/namespaces/sts/pods/es-data-1", body, &r), 409);
	resp_free(&r);
	assert_true(wait_until(path, ready_replicas_is, &two, 5000, &r));
	resp_free(&r);
}

static bool pod_pending_with(struct resp *r, const void *arg)
{
	const char *msg = jstr(r->json, "status.conditions.0.message");
	return r->code == 200 && msg && strstr(msg, (const char *)arg) &&
	       !strcmp(jstr(r->json, "status.conditions.0.reason"), "Unschedulable");
}

static void test_anti_affinity(void **state)
{
	struct resp r;
	int four = 4, two = 2;
	make_namespace("anti");
	/* Four nodes: the fifth data pod fits nowhere. */
	assert_int_equal(
		apply("/apis/apps/v1/namespaces/anti/statefulsets/host",
		      workload("host", 5, "h", "data", "kubernetes.io/hostname", "7.17.10"), &r),
		201);
	resp_free(&r);
	assert_true(wait_until("/apis/apps/v1/namespaces/anti/statefulsets/host", ready_replicas_is,
			       &four, 5000, &r));
	resp_free(&r);
	assert_true(wait_until(
		"/api/v1/namespaces/anti/pods/host-4", pod_pending_with,
		"0/4 nodes are available: 4 node(s) didn't match pod anti-affinity rules.", 5000,
		&r));
	assert_string_equal(jstr(r.json, "status.phase"), "Pending");
	assert_string_equal(jstr(r.json, "status.conditions.0.type"), "PodScheduled");
	assert_string_equal(jstr(r.json, "status.conditions.0.status"), "False");
	resp_free(&r);
	/* Two racks: the third master fits nowhere. */
	assert_int_equal(
		apply("/apis/apps/v1/namespaces/anti/statefulsets/rack",
		      workload("rack", 3, "r", "master", "topology.kubernetes.io/zone", "7.17.10"),
		      &r),
		201);
	resp_free(&r);
	assert_true(wait_until("/apis/apps/v1/namespaces/anti/statefulsets/rack", ready_replicas_is,
			       &two, 5000, &r));
	resp_free(&r);
	assert_true(wait_until(
		"/api/v1/namespaces/anti/pods/rack-2", pod_pending_with,
		"0/4 nodes are available: 4 node(s) didn't match pod anti-affinity rules.", 5000,
		&r));
	resp_free(&r);
}

static bool gone(struct resp *r, const void *arg)
{
	return r->code == 404;
}

static void test_namespace_deletion(void **state)
{
	struct resp r;
	int one = 1;
	make_namespace("doomed");
	assert_int_equal(apply("/apis/apps/v1/namespaces/doomed/statefulsets/x",
			       workload("x", 1, "x", "data", NULL, "7.17.10"), &r),
			 201);
	resp_free(&r);
	assert_true(wait_until("/apis/apps/v1/namespaces/doomed/statefulsets/x", ready_replicas_is,
			       &one, 5000, &r));
	resp_free(&r);
	assert_int_equal(call("DELETE", "/api/v1/namespaces/doomed",
			      "{\"propagationPolicy\":\"Foreground\"}", &r),
			 200);
	assert_string_equal(jstr(r.json, "status.phase"), "Terminating");
	resp_free(&r);
	assert_true(wait_until("/api/v1/namespaces/doomed", gone, NULL, 5000, &r));
	resp_free(&r);
	assert_int_equal(list_count("/api/v1/namespaces/doomed/pods"), 0);
}

/* --- Elasticsearch ---------------------------------------------------------------- */

static const char SERVICE[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"es-%s\"},\"spec\":"
	"{\"clusterIP\":\"None\",\"selector\":{\"app\":\"es\"},\"ports\":[{\"name\":\"http\","
	"\"port\":9200}]}}";

/* The ConfigMap that names the masters a zen2 cluster forms from. */
static void bootstrap_config(const char *ns, const char *masters)
{
	struct resp r;
	char path[256], body[1024];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/es-master-config", ns);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
		 "\"es-master-config\"},\"data\":{\"elasticsearch.yml\":"
		 "\"cluster.initial_master_nodes:\\n- %s\\n\"}}",
		 masters);
	int code = apply(path, body, &r);
	assert_true(code == 201 || code == 200);
	resp_free(&r);
}

/* A cluster in ns: one master StatefulSet and a data StatefulSet. */
static void make_cluster(const char *ns, int data, const char *version)
{
	struct resp r;
	char path[256], body[1024];
	make_namespace(ns);
	snprintf(body, sizeof(body), "es-master-0-%s", ns);
	bootstrap_config(ns, body);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/services/es-%s", ns, ns);
	snprintf(body, sizeof(body), SERVICE, ns);
	assert_int_equal(apply(path, body, &r), 201);
	resp_free(&r);
	snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/statefulsets/es-master", ns);
	assert_int_equal(apply(path, workload("es-master", 1, "es", "master", NULL, version), &r),
			 201);
	resp_free(&r);
	snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/statefulsets/es-data", ns);
	assert_int_equal(
		apply(path,
		      workload("es-data", data, "es", "data", "kubernetes.io/hostname", version),
		      &r),
		201);
	resp_free(&r);
}

static char *es_path(const char *ns, const char *rest)
{
	static char buf[1024];
	snprintf(buf, sizeof(buf), "/api/v1/namespaces/%s/services/es-%s:9200/proxy%s", ns, ns,
		 rest);
	return buf;
}

static bool ok_200(struct resp *r, const void *arg)
{
	return r->code == 200;
}

static void es_wait_green(const char *ns, int nodes)
{
	struct resp r;
	char q[256];
	snprintf(q, sizeof(q),
		 "/_cluster/health?wait_for_status=green&wait_for_nodes=%d&timeout=5s", nodes);
	assert_true(wait_until(es_path(ns, q), ok_200, NULL, 10000, &r));
	assert_string_equal(jstr(r.json, "status"), "green");
	assert_false(json_is_true(json_object_get(r.json, "timed_out")));
	assert_int_equal(jint(r.json, "number_of_nodes"), nodes);
	resp_free(&r);
}

/* zen2 forms a new cluster only from the masters named in advance. */
static void test_es_zen2_needs_initial_masters(void **state)
{
	struct resp r;
	char path[256], body[1024];
	make_namespace("esb");
	snprintf(path, sizeof(path), "/api/v1/namespaces/esb/services/es-esb");
	snprintf(body, sizeof(body), SERVICE, "esb");
	assert_int_equal(apply(path, body, &r), 201);
	resp_free(&r);
	/* Named, but not a pod that exists: no quorum of the named. */
	bootstrap_config("esb", "es-master-7-esb");
	assert_int_equal(apply("/apis/apps/v1/namespaces/esb/statefulsets/es-master",
			       workload("es-master", 1, "es", "master", NULL, "7.17.10"), &r),
			 201);
	resp_free(&r);
	/* The node answers, but there is no master, and it stays so. */
	assert_true(wait_until(es_path("esb", "/"), ok_200, NULL, 10000, &r));
	resp_free(&r);
	assert_int_equal(call("GET",
			      es_path("esb", "/_cluster/health?wait_for_status=green&timeout=1s"),
			      NULL, &r),
			 503);
	assert_string_equal(jstr(r.json, "error.type"), "master_not_discovered_exception");
	resp_free(&r);
	/* Named right: it forms. */
	bootstrap_config("esb", "es-master-0-esb");
	assert_true(wait_until(es_path("esb", "/_cluster/health?wait_for_status=green&timeout=1s"),
			       ok_200, NULL, 10000, &r));
	resp_free(&r);
}

static void test_es_health_through_proxy(void **state)
{
	struct resp r;
	make_cluster("esg", 3, "7.17.10");
	/* No ready endpoint yet: the proxy answers 503 like the real one. */
	assert_int_equal(call("GET", es_path("esg", "/"), NULL, &r), 503);
	assert_string_equal(jstr(r.json, "kind"), "Status");
	resp_free(&r);
	es_wait_green("esg", 4);
	assert_int_equal(call("GET", es_path("esg", "/"), NULL, &r), 200);
	assert_string_equal(jstr(r.json, "version.number"), "7.17.10");
	assert_string_equal(jstr(r.json, "cluster_name"), "elasticsearch-esg");
	assert_string_not_equal(jstr(r.json, "cluster_uuid"), "_na_");
	assert_string_equal(jstr(r.json, "tagline"), "You Know, for Search");
	resp_free(&r);
	assert_int_equal(call("PUT", es_path("esg", "/logs"),
			      "{\"settings\":{\"number_of_shards\":3,\"number_of_replicas\":1}}",
			      &r),
			 200);
	assert_true(json_is_true(json_object_get(r.json, "acknowledged")));
	resp_free(&r);
	assert_int_equal(call("PUT", es_path("esg", "/logs"), "{}", &r), 400);
	assert_string_equal(jstr(r.json, "error.type"), "resource_already_exists_exception");
	resp_free(&r);
	es_wait_green("esg", 4);
	assert_int_equal(
		call("GET",
		     es_path("esg", "/_cat/shards?format=json&h=index,shard,prirep,state,node"),
		     NULL, &r),
		200);
	assert_int_equal(json_array_size(r.json), 6);
	assert_string_equal(jstr(r.json, "0.state"), "STARTED");
	resp_free(&r);
	assert_int_equal(call("GET",
			      es_path("esg", "/_cat/nodes?format=json&h=name,node.role,master"),
			      NULL, &r),
			 200);
	assert_int_equal(json_array_size(r.json), 4);
	resp_free(&r);
	/* A health wait that cannot be met answers 408 with timed_out. */
	assert_int_equal(call("GET",
			      es_path("esg", "/_cluster/health?wait_for_nodes=9&timeout=200ms"),
			      NULL, &r),
			 408);
	assert_true(json_is_true(json_object_get(r.json, "timed_out")));
	resp_free(&r);
	/* Synced flush on 7.17: works, with the deprecation warning. */
	assert_int_equal(call("POST", es_path("esg", "/_flush/synced"), NULL, &r), 200);
	assert_non_null(strstr(r.headers, "Synced flush is deprecated"));
	resp_free(&r);
	/* Settings: persistent, flat and nested, null resets. */
	assert_int_equal(
		call("PUT", es_path("esg", "/_cluster/settings"),
		     "{\"persistent\":{\"cluster.routing.allocation.enable\":\"primaries\"}}", &r),
		200);
	assert_string_equal(jstr(r.json, "persistent.cluster.routing.allocation.enable"),
			    "primaries");
	resp_free(&r);
	assert_int_equal(call("PUT", es_path("esg", "/_cluster/settings"),
			      "{\"persistent\":{\"cluster.routing.allocation.enable\":null}}", &r),
			 200);
	resp_free(&r);
	assert_int_equal(
		call("GET", es_path("esg", "/_cluster/settings?flat_settings=true"), NULL, &r),
		200);
	assert_int_equal(json_object_size(json_object_get(r.json, "persistent")), 0);
	resp_free(&r);
	assert_int_equal(call("PUT", es_path("esg", "/_cluster/settings"),
			      "{\"persistent\":{\"indices.query.bool.max_clause_count\":\"4096\"}}",
			      &r),
			 400);
	assert_non_null(strstr(jstr(r.json, "error.reason"), "not dynamically updateable"));
	resp_free(&r);
}

static bool nothing_on(struct resp *r, const void *arg)
{
	size_t i;
	json_t *row;
	if (r->code != 200)
		return false;
	json_array_foreach (r->json, i, row) {
		const char *node = jstr(row, "node");
		if (!node || strstr(node, (const char *)arg) ||
		    strcmp(jstr(row, "state"), "STARTED"))
			return false;
	}
	return true;
}

static void test_es_exclusion_relocates(void **state)
{
	struct resp r;
	make_cluster("esx", 3, "7.17.10");
	es_wait_green("esx", 4);
	assert_int_equal(
		call("PUT", es_path("esx", "/data"),
		     "{\"settings\":{\"index\":{\"number_of_shards\":4,\"number_of_replicas\":0}}}",
		     &r),
		200);
	resp_free(&r);
	es_wait_green("esx", 4);
	assert_int_equal(call("PUT", es_path("esx", "/_cluster/settings"),
			      "{\"persistent\":{\"cluster\":{\"routing\":{\"allocation\":{"
			      "\"exclude\":{\"_name\":\"es-data-2-esx\"}}}}}}",
			      &r),
			 200);
	resp_free(&r);
	/* Relocation takes time: right after, something is still moving or still there. */
	assert_int_equal(call("GET", es_path("esx", "/_cat/shards?format=json"), NULL, &r), 200);
	bool moving = false;
	size_t i;
	json_t *row;
	json_array_foreach (r.json, i, row) {
		if (!strcmp(jstr(row, "state"), "RELOCATING") ||
		    strstr(jstr(row, "node"), "es-data-2-esx"))
			moving = true;
	}
	resp_free(&r);
	assert_true(moving);
	assert_true(wait_until(
		es_path("esx", "/_cat/shards?format=json&h=index,shard,prirep,state,node"),
		nothing_on, "es-data-2-esx", 10000, &r));
	resp_free(&r);
	es_wait_green("esx", 4);
	/* Nothing lost. */
	assert_int_equal(call("GET", "/_sim/state", NULL, &r), 200);
	json_t *lost;
	json_array_foreach (json_object_get(r.json, "lost_shards"), i, lost)
		assert_string_not_equal(jstr(lost, "cluster"), "esx");
	resp_free(&r);
}

static bool health_is(struct resp *r, const void *arg)
{
	return (r->code == 200 || r->code == 408) &&
	       !strcmp(jstr(r->json, "status"), (const char *)arg);
}

static void test_es_lost_shard(void **state)
{
	struct resp r;
	make_cluster("esl", 2, "7.17.10");
	es_wait_green("esl", 3);
	assert_int_equal(call("PUT", es_path("esl", "/solo"),
			      "{\"settings\":{\"number_of_shards\":1,\"number_of_replicas\":0}}",
			      &r),
			 200);
	resp_free(&r);
	es_wait_green("esl", 3);
	assert_int_equal(call("GET", es_path("esl", "/_cat/shards/solo?format=json"), NULL, &r),
			 200);
	char node[128], pod[128];
	snprintf(node, sizeof(node), "%s", jstr(r.json, "0.node"));
	resp_free(&r);
	/* es-data-N-esl runs in pod es-data-N */
	snprintf(pod, sizeof(pod), "%.*s", (int)(strlen(node) - strlen("-esl")), node);
	char path[256];
	snprintf(path, sizeof(path), "/api/v1/namespaces/esl/pods/%s", pod);
	assert_int_equal(call("DELETE", path, NULL, &r), 200);
	resp_free(&r);
	assert_int_equal(call("GET", "/_sim/state", NULL, &r), 200);
	size_t i;
	json_t *e;
	bool lost = false, deleted = false;
	json_array_foreach (json_object_get(r.json, "lost_shards"), i, e) {
		if (!strcmp(jstr(e, "cluster"), "esl") && !strcmp(jstr(e, "index"), "solo") &&
		    !strcmp(jstr(e, "node"), node))
			lost = true;
	}
	json_array_foreach (json_object_get(r.json, "pod_deletions"), i, e) {
		if (!strcmp(jstr(e, "namespace"), "esl") && !strcmp(jstr(e, "name"), pod) &&
		    !strcmp(jstr(e, "by"), "api"))
			deleted = true;
	}
	assert_true(deleted);
	resp_free(&r);
	/* The node left at once (no grace period configured): red, and recorded. */
	assert_true(wait_until(es_path("esl", "/_cluster/health?timeout=0s"), health_is, "red",
			       5000, &r));
	resp_free(&r);
	assert_int_equal(call("GET", "/_sim/state", NULL, &r), 200);
	lost = false;
	json_array_foreach (json_object_get(r.json, "lost_shards"), i, e) {
		if (!strcmp(jstr(e, "cluster"), "esl") && !strcmp(jstr(e, "index"), "solo"))
			lost = true;
	}
	assert_true(lost);
	assert_string_equal(jstr(r.json, "clusters.esl.status"), "red");
	/* The mutating requests are on record. */
	bool recorded = false;
	json_array_foreach (json_object_get(r.json, "requests"), i, e) {
		if (!strcmp(jstr(e, "verb"), "DELETE") && !strcmp(jstr(e, "path"), path))
			recorded = true;
	}
	assert_true(recorded);
	resp_free(&r);
}

static void test_es_8x_has_no_synced_flush(void **state)
{
	struct resp r;
	make_cluster("es8", 1, "8.17.0");
	es_wait_green("es8", 2);
	assert_int_equal(call("POST", es_path("es8", "/_flush/synced"), NULL, &r), 400);
	assert_string_equal(jstr(r.json, "error"),
			    "no handler found for uri [/_flush/synced] and method [POST]");
	resp_free(&r);
	assert_int_equal(call("POST", es_path("es8", "/_flush"), NULL, &r), 200);
	assert_non_null(json_object_get(r.json, "_shards"));
	resp_free(&r);
	assert_int_equal(call("GET", es_path("es8", "/_cluster/health"), NULL, &r), 200);
	assert_non_null(json_object_get(r.json, "unassigned_primary_shards"));
	resp_free(&r);
	assert_int_equal(
		call("POST",
		     es_path("es8",
			     "/_cluster/voting_config_exclusions?node_names=es-master-0-es8"),
		     NULL, &r),
		200);
	resp_free(&r);
	assert_int_equal(call("POST",
			      es_path("es8", "/_cluster/voting_config_exclusions/es-master-0-es8"),
			      NULL, &r),
			 400);
	resp_free(&r);
	assert_int_equal(
		call("DELETE",
		     es_path("es8", "/_cluster/voting_config_exclusions?wait_for_removal=false"),
		     NULL, &r),
		200);
	resp_free(&r);
}

/* --- faults --------------------------------------------------------------------------- */

static void test_faults(void **state)
{
	struct resp r;
	make_namespace("faulty");
	assert_int_equal(call("POST", "/_sim/faults",
			      "{\"rules\":[{\"path\":\"/api/v1/namespaces/faulty/"
			      "configmaps*\",\"status\":503,\"rate\":1.0},"
			      "{\"path\":\"/api/v1/namespaces/faulty/"
			      "secrets\",\"status\":429,\"retry_after\":2},"
			      "{\"path\":\"/api/v1/namespaces/faulty/pods/hang\",\"hang\":true}]}",
			      &r),
			 200);
	resp_free(&r);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(call("GET", "/api/v1/namespaces/faulty/configmaps", NULL, &r),
				 503);
		assert_string_equal(jstr(r.json, "kind"), "Status");
		assert_string_equal(jstr(r.json, "reason"), "ServiceUnavailable");
		resp_free(&r);
	}
	assert_int_equal(call("GET", "/api/v1/namespaces/faulty/secrets", NULL, &r), 429);
	assert_string_equal(jstr(r.json, "reason"), "TooManyRequests");
	assert_non_null(strcasestr(r.headers, "Retry-After: 2"));
	resp_free(&r);
	/* A hung request: the client gives up; others are still served. */
	int64_t t0 = now_ms();
	assert_false(
		request("GET", "/api/v1/namespaces/faulty/pods/hang", NULL, NULL, true, 300, &r));
	assert_true(now_ms() - t0 >= 250);
	resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/faulty", NULL, &r), 200);
	resp_free(&r);
	assert_int_equal(call("DELETE", "/_sim/faults", NULL, &r), 200);
	resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/faulty/configmaps", NULL, &r), 200);
	resp_free(&r);
	/* A partial rate: some fail, some pass. */
	assert_int_equal(call("POST", "/_sim/faults",
			      "{\"path\":\"/api/v1/namespaces/faulty/"
			      "configmaps\",\"status\":500,\"rate\":0.5}",
			      &r),
			 200);
	resp_free(&r);
	int fails = 0;
	for (int i = 0; i < 60; i++) {
		call("GET", "/api/v1/namespaces/faulty/configmaps", NULL, &r);
		fails += r.code == 500;
		resp_free(&r);
	}
	assert_true(fails > 5 && fails < 55);
	assert_int_equal(call("DELETE", "/_sim/faults", NULL, &r), 200);
	resp_free(&r);
	/* An unschedulable node: a new pod avoids it. */
	assert_int_equal(call("POST", "/_sim/faults",
			      "{\"unschedulable_nodes\":[\"worker-0\",\"worker-1\",\"worker-2\","
			      "\"worker-3\"]}",
			      &r),
			 200);
	resp_free(&r);
	assert_int_equal(call("POST", "/api/v1/namespaces/faulty/pods",
			      "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":"
			      "\"c\",\"image\":\"busybox:1\"}]}}",
			      &r),
			 201);
	resp_free(&r);
	assert_true(wait_until("/api/v1/namespaces/faulty/pods/p", pod_pending_with,
			       "4 node(s) were unschedulable", 5000, &r));
	resp_free(&r);
	assert_int_equal(call("DELETE", "/_sim/faults", NULL, &r), 200);
	resp_free(&r);
}

/* --- resource quotas ------------------------------------------------------------------ */

static const char QUOTA[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"ResourceQuota\",\"metadata\":{\"name\":\"compute\"},"
	"\"spec\":{\"hard\":{\"pods\":\"%d\",\"requests.cpu\":\"1\",\"requests.memory\":\"2Gi\","
	"\"limits.cpu\":\"2\",\"limits.memory\":\"4096Mi\"}}}";

static const char QUOTA_PATH[] = "/api/v1/namespaces/quota/resourcequotas/compute";

/* A quota entry of status (hard or used); its keys hold dots. */
static const char *quota_entry(json_t *quota, const char *which, const char *key)
{
	return json_string_value(json_object_get(jget(quota, which), key));
}

/* status.hard.pods and status.used.pods are "hard/used". */
static bool quota_pods_are(struct resp *r, const void *arg)
{
	char seen[64];
	const char *hard = quota_entry(r->json, "status.hard", "pods");
	const char *used = quota_entry(r->json, "status.used", "pods");
	snprintf(seen, sizeof(seen), "%s/%s", hard ? hard : "", used ? used : "");
	return r->code == 200 && !strcmp(seen, (const char *)arg);
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
static bool event_with(struct resp *r, const void *arg)
{
	size_t i;
	json_t *e;
	if (r->code != 200)
		return false;
	json_array_foreach (json_object_get(r->json, "items"), i, e) {
		const char *msg = jstr(e, "message");
		if (msg && strstr(msg, (const char *)arg) &&
		    !strcmp(jstr(e, "reason"), "FailedCreate") &&
		    !strcmp(jstr(e, "type"), "Warning"))
			return true;
	}
	return false;
}

static bool replica_failure(struct resp *r, const void *arg)
{
	size_t i;
	json_t *c;
	if (r->code != 200)
		return false;
	json_array_foreach (jget(r->json, "status.conditions"), i, c) {
		if (!strcmp(jstr(c, "type"), "ReplicaFailure") &&
		    !strcmp(jstr(c, "status"), "True") &&
		    !strcmp(jstr(c, "reason"), "FailedCreate") &&
		    strstr(jstr(c, "message"), (const char *)arg))
			return true;
	}
	return false;
}

static void test_resource_quota(void **state)
{
	struct resp r;
	char body[2048];
	int two = 2, three = 3;
	make_namespace("quota");
	snprintf(body, sizeof(body), QUOTA, 3);
	assert_int_equal(apply(QUOTA_PATH, body, &r), 201);
	/* Written back in canonical form. */
	assert_string_equal(quota_entry(r.json, "spec.hard", "limits.memory"), "4Gi");
	resp_free(&r);
	/* The quota controller fills status: hard as in spec, nothing used yet. */
	assert_true(wait_until(QUOTA_PATH, quota_pods_are, "3/0", 5000, &r));
	assert_string_equal(quota_entry(r.json, "status.used", "requests.cpu"), "0");
	assert_string_equal(quota_entry(r.json, "status.hard", "limits.memory"), "4Gi");
	resp_free(&r);

	/* A pod that leaves out what the quota constrains. */
	assert_int_equal(call("POST", "/api/v1/namespaces/quota/pods", one_pod("bare", NULL), &r),
			 403);
	assert_string_equal(jstr(r.json, "reason"), "Forbidden");
	assert_string_equal(jstr(r.json, "message"),
			    "pods \"bare\" is forbidden: failed quota: compute: must specify "
			    "limits.cpu,limits.memory,requests.cpu,requests.memory");
	assert_string_equal(jstr(r.json, "details.name"), "bare");
	assert_string_equal(jstr(r.json, "details.kind"), "pods");
	assert_int_equal(jint(r.json, "code"), 403);
	resp_free(&r);
	assert_int_equal(
		call("POST", "/api/v1/namespaces/quota/pods",
		     one_pod("half", "{\"requests\":{\"cpu\":\"100m\",\"memory\":\"64Mi\"}}"), &r),
		403);
	assert_string_equal(jstr(r.json, "message"),
			    "pods \"half\" is forbidden: failed quota: compute: must specify "
			    "limits.cpu,limits.memory");
	resp_free(&r);
	/* Limits alone: the requests default to them, and the quota counts it at once. */
	assert_int_equal(
		call("POST", "/api/v1/namespaces/quota/pods",
		     one_pod("small", "{\"limits\":{\"cpu\":\"500m\",\"memory\":\"1Gi\"}}"), &r),
		201);
	assert_string_equal(jstr(r.json, "spec.containers.0.resources.requests.cpu"), "500m");
	resp_free(&r);
	assert_int_equal(call("GET", QUOTA_PATH, NULL, &r), 200);
	assert_string_equal(quota_entry(r.json, "status.used", "pods"), "1");
	assert_string_equal(quota_entry(r.json, "status.used", "requests.cpu"), "500m");
	assert_string_equal(quota_entry(r.json, "status.used", "limits.memory"), "1Gi");
	resp_free(&r);
	/* One that would go past it: refused, saying by how much. */
	assert_int_equal(
		call("POST", "/api/v1/namespaces/quota/pods",
		     one_pod("big", "{\"requests\":{\"cpu\":\"600m\",\"memory\":\"512Mi\"},"
				    "\"limits\":{\"cpu\":\"600m\",\"memory\":\"512Mi\"}}"),
		     &r),
		403);
	assert_string_equal(jstr(r.json, "reason"), "Forbidden");
	assert_string_equal(jstr(r.json, "message"),
			    "pods \"big\" is forbidden: exceeded quota: compute, requested: "
			    "requests.cpu=600m, used: requests.cpu=500m, limited: requests.cpu=1");
	assert_int_equal(jint(r.json, "code"), 403);
	resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/quota/pods/big", NULL, &r), 404);
	resp_free(&r);

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
	resp_free(&r);
	assert_true(wait_until(sts_path, ready_replicas_is, &two, 5000, &r));
	resp_free(&r);
	assert_true(
		wait_until("/api/v1/namespaces/quota/events", event_with,
			   "create Pod web-2 in StatefulSet web failed error: pods \"web-2\" is "
			   "forbidden: exceeded quota: compute, requested: pods=1, used: pods=3, "
			   "limited: pods=3",
			   5000, &r));
	resp_free(&r);
	assert_int_equal(call("GET", "/api/v1/namespaces/quota/pods/web-2", NULL, &r), 404);
	resp_free(&r);
	assert_true(wait_until(QUOTA_PATH, quota_pods_are, "3/3", 5000, &r));
	assert_string_equal(quota_entry(r.json, "status.used", "requests.cpu"), "700m");
	assert_string_equal(quota_entry(r.json, "status.used", "requests.memory"), "1536Mi");
	resp_free(&r);
	snprintf(body, sizeof(body), QUOTA, 4);
	assert_int_equal(apply(QUOTA_PATH, body, &r), 200);
	resp_free(&r);
	assert_true(wait_until(sts_path, ready_replicas_is, &three, 5000, &r));
	resp_free(&r);
	assert_true(wait_until(QUOTA_PATH, quota_pods_are, "4/4", 5000, &r));
	resp_free(&r);

	/* A Deployment's pod that does not fit: the ReplicaFailure condition. */
	const char *dep_path = "/apis/apps/v1/namespaces/quota/deployments/dep";
	assert_int_equal(
		apply(dep_path,
		      "{\"apiVersion\":\"apps/"
		      "v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"dep\"},"
		      "\"spec\":{\"replicas\":1,\"selector\":{\"matchLabels\":{\"app\":\"dep\"}},"
		      "\"template\":{\"metadata\":{\"labels\":{\"app\":\"dep\"}},\"spec\":{"
		      "\"containers\":"
		      "[{\"name\":\"dep\",\"image\":\"nginx:1\",\"resources\":{\"limits\":"
		      "{\"cpu\":\"100m\",\"memory\":\"128Mi\"}}}]}}}}",
		      &r),
		201);
	resp_free(&r);
	assert_true(wait_until(dep_path, replica_failure,
			       "\" is forbidden: exceeded quota: compute, requested: pods=1, used: "
			       "pods=4, limited: pods=4",
			       5000, &r));
	const char *why = NULL;
	size_t i;
	json_t *c;
	json_array_foreach (jget(r.json, "status.conditions"), i, c)
		if (!strcmp(jstr(c, "type"), "ReplicaFailure"))
			why = jstr(c, "message");
	assert_non_null(why);
	assert_true(!strncmp(why, "pods \"dep-", 10));
	resp_free(&r);
	assert_true(wait_until("/api/v1/namespaces/quota/events", event_with,
			       "Error creating: pods \"dep-", 5000, &r));
	resp_free(&r);
	/* Room again: the pod comes and the condition goes. */
	assert_int_equal(call("DELETE", "/api/v1/namespaces/quota/pods/small", NULL, &r), 200);
	resp_free(&r);
	int one = 1;
	assert_true(wait_until(dep_path, ready_replicas_is, &one, 5000, &r));
	assert_false(replica_failure(&r, ""));
	resp_free(&r);

	/* A quota that is not one. */
	assert_int_equal(apply("/api/v1/namespaces/quota/resourcequotas/bad",
			       "{\"apiVersion\":\"v1\",\"kind\":\"ResourceQuota\",\"metadata\":{"
			       "\"name\":\"bad\"},"
			       "\"spec\":{\"hard\":{\"pods\":\"lots\"}}}",
			       &r),
			 422);
	assert_string_equal(jstr(r.json, "details.causes.0.field"), "spec.hard[pods]");
	resp_free(&r);
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

static void test_schemas(void **state)
{
	char ref[512], schema_dir[600], cmd[4096];
	struct resp r;
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
	static const struct {
		const char *path;
		const char *schema;
	} docs[] = {
		{"/api/v1/namespaces/sts/pods/es-data-0", "pod-v1.json"},
		{"/api/v1/namespaces/sts/pods", "podlist-v1.json"},
		{"/apis/apps/v1/namespaces/sts/statefulsets/es-data", "statefulset-apps-v1.json"},
		{"/apis/apps/v1/namespaces/sts/statefulsets", "statefulsetlist-apps-v1.json"},
		{"/apis/apps/v1/namespaces/sts/statefulsets/es-data/scale",
		 "scale-autoscaling-v1.json"},
		{"/api/v1/namespaces/nowhere", "status-meta-v1.json"},
		{"/api/v1/namespaces/anti/pods/host-4", "pod-v1.json"},
		{"/api/v1/namespaces/esg/services/es-esg", "service-v1.json"},
		{"/api/v1/namespaces/crud/configmaps/d", "configmap-v1.json"},
		{"/api/v1/namespaces", "namespacelist-v1.json"},
		{"/api/v1/namespaces/quota/resourcequotas/compute", "resourcequota-v1.json"},
		{"/apis/apps/v1/namespaces/quota/deployments/dep", "deployment-apps-v1.json"},
	};
	char *args = NULL;
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		char name[32];
		call("GET", docs[i].path, NULL, &r);
		snprintf(name, sizeof(name), "doc%zu.json", i);
		save(name, r.body);
		resp_free(&r);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_discovery),
		cmocka_unit_test(test_crud_and_conflicts),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_statefulset),
		cmocka_unit_test(test_anti_affinity),
		cmocka_unit_test(test_namespace_deletion),
		cmocka_unit_test(test_es_zen2_needs_initial_masters),
		cmocka_unit_test(test_es_health_through_proxy),
		cmocka_unit_test(test_es_exclusion_relocates),
		cmocka_unit_test(test_es_lost_shard),
		cmocka_unit_test(test_es_8x_has_no_synced_flush),
		cmocka_unit_test(test_faults),
		cmocka_unit_test(test_resource_quota),
		cmocka_unit_test(test_schemas),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, start_sim, stop_sim);
	curl_global_cleanup();
	return rc;
}
