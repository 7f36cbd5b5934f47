/*
 * The Kubernetes and Elasticsearch clients against esaas-sim, reached
 * through the kubeconfig it writes, exactly as esaasd would reach a real
 * cluster.  Everything runs on one event loop; waiting is for a condition.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <event2/event.h>

#include "common/httpc.h"
#include "common/util.h"
#include "es/client.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"
#include "kube/render.h"
#include "kube/spec.h"
#include "tests/fakehttp.h"
#include "tests/integration/harness.h"

static struct {
	char dir[128];
	struct sim sim;
	struct event_base *base;
	struct httpc *http;
	struct kube *kube;
	struct kube_conn conn;
} t;

static const char SIM_CONFIG[] =
	"tick_ms: 20\n"
	"nodes:\n  count: 4\n  racks: [rack-a, rack-b]\n"
	"elasticsearch:\n  relocation_ms: 200\n  recovery_ms: 50\n  no_master_wait_ms: 500\n"
	"  indices:\n    - {name: logs, shards: 2, replicas: 1}\n";

static int setup(void **state)
{
	snprintf(t.dir, sizeof(t.dir), "/tmp/esaas-clients.XXXXXX");
	if (!mkdtemp(t.dir) || !sim_start(&t.sim, t.dir, SIM_CONFIG))
		return -1;
	struct kube_conn_opts o = {.source = KUBE_SOURCE_KUBECONFIG,
				   .kubeconfig = t.sim.kubeconfig};
	char err[512];
	if (!kube_conn_load(&o, &t.conn, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	t.base = event_base_new();
	t.http = httpc_new(t.base);
	t.kube = kube_new(t.http, &t.conn);
	return 0;
}

static int teardown(void **state)
{
	kube_free(t.kube);
	httpc_free(t.http);
	event_base_free(t.base);
	kube_conn_free(&t.conn);
	int rc = sim_stop(&t.sim);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t.dir);
	if (system(cmd) != 0)
		return -1;
	return rc == 0 ? 0 : -1;
}

/* --- one call at a time, on the loop ----------------------------------------------- */

struct answer {
	bool done;
	long status;
	enum httpc_class klass;
	json_t *body;
	char *message;
	char *reason;
	int64_t retry_after_ms;
};

static void answer_clear(struct answer *a)
{
	json_decref(a->body);
	free(a->message);
	free(a->reason);
	memset(a, 0, sizeof(*a));
}

static void kube_answer_cb(void *arg, const struct kube_result *r)
{
	struct answer *a = arg;
	a->done = true;
	a->status = r->status;
	a->klass = r->klass;
	a->body = json_incref(r->body);
	a->message = r->message ? xstrdup(r->message) : NULL;
	a->reason = xstrdup(r->reason ? r->reason : "");
	a->retry_after_ms = r->retry_after_ms;
}

static void es_answer_cb(void *arg, const struct es_result *r)
{
	struct answer *a = arg;
	a->done = true;
	a->status = r->status;
	a->klass = r->klass;
	a->body = json_incref(r->body);
	a->message = r->message ? xstrdup(r->message) : NULL;
	a->retry_after_ms = r->retry_after_ms;
}

static void wait_answer(struct answer *a)
{
	int64_t deadline = harness_now_ms() + 20000;
	while (!a->done && harness_now_ms() < deadline)
		event_base_loop(t.base, EVLOOP_ONCE);
	assert_true(a->done);
}

/* --- Kubernetes ------------------------------------------------------------------------ */

static json_t *configmap(const char *ns, const char *name, const char *value)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s}}", "apiVersion", "v1", "kind",
			 "ConfigMap", "metadata", "name", name, "namespace", ns, "labels", "app",
			 "t", "data", "k", value);
}

static void test_apply_get_list_delete(void **state)
{
	struct answer a;
	json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
			       "metadata", "name", "t1");
	memset(&a, 0, sizeof(a));
	assert_non_null(kube_apply(t.kube, ns, kube_answer_cb, &a));
	wait_answer(&a);
	assert_int_equal(a.klass, HTTPC_OK);
	answer_clear(&a);
	json_decref(ns);

	json_t *cm = configmap("t1", "one", "v1");
	assert_non_null(kube_apply(t.kube, cm, kube_answer_cb, &a));
	wait_answer(&a);
	assert_int_equal(a.klass, HTTPC_OK);
	const char *uid =
		json_string_value(json_object_get(json_object_get(a.body, "metadata"), "uid"));
	assert_non_null(uid);
	char *uid1 = xstrdup(uid);
	answer_clear(&a);

	/* Applying again updates in place: same uid, the new value. */
	json_decref(cm);
	cm = configmap("t1", "one", "v2");
	assert_non_null(kube_apply(t.kube, cm, kube_answer_cb, &a));
	wait_answer(&a);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(a.body, "metadata"), "uid")),
		uid1);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(a.body, "data"), "k")), "v2");
	answer_clear(&a);
	json_decref(cm);

	char *path = kube_collection_path("v1", "ConfigMap", "t1");
	kube_list(t.kube, path, "app=t", kube_answer_cb, &a);
	wait_answer(&a);
	assert_string_equal(json_string_value(json_object_get(a.body, "kind")), "ConfigMapList");
	assert_int_equal(json_array_size(json_object_get(a.body, "items")), 1);
	answer_clear(&a);
	kube_list(t.kube, path, "app!=t", kube_answer_cb, &a);
	wait_answer(&a);
	assert_int_equal(json_array_size(json_object_get(a.body, "items")), 0);
	answer_clear(&a);
	free(path);

	/* A delete with someone else's uid is refused, with the server's words. */
	kube_delete(t.kube, "/api/v1/namespaces/t1/configmaps/one", NULL, "not-the-uid",
		    kube_answer_cb, &a);
	wait_answer(&a);
	assert_int_equal(a.status, 409);
	assert_string_equal(a.reason, "Conflict");
	assert_non_null(strstr(a.message, "Precondition failed"));
	answer_clear(&a);
	kube_delete(t.kube, "/api/v1/namespaces/t1/configmaps/one", "Background", uid1,
		    kube_answer_cb, &a);
	wait_answer(&a);
	assert_int_equal(a.klass, HTTPC_OK);
	answer_clear(&a);
	free(uid1);

	kube_get(t.kube, "/api/v1/namespaces/t1/configmaps/one", kube_answer_cb, &a);
	wait_answer(&a);
	assert_int_equal(a.status, 404);
	assert_int_equal(a.klass, HTTPC_PERMANENT);
	assert_string_equal(a.reason, "NotFound");
	assert_non_null(strstr(a.message, "not found"));
	answer_clear(&a);
}

static void test_object_paths(void **state)
{
	json_t *sts = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "apps/v1", "kind",
				"StatefulSet", "metadata", "name", "es-data", "namespace", "n");
	char *p = kube_object_path(sts);
	assert_string_equal(p, "/apis/apps/v1/namespaces/n/statefulsets/es-data");
	free(p);
	json_decref(sts);
	json_t *odd = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v9", "kind", "Gizmo",
				"metadata", "name", "x");
	assert_null(kube_object_path(odd));
	assert_null(kube_apply(t.kube, odd, kube_answer_cb, NULL));
	json_decref(odd);
}

static void test_faults_are_classified(void **state)
{
	struct answer a = {0};
	struct http_resp r;
	/* The simulator's own endpoints are the cluster admin's (the harness). */
	assert_true(
		sim_call(&t.sim, "POST", "/_sim/faults",
			 "{\"rules\": [{\"path\": \"/api/v1/namespaces/faulty/configmaps/x\", "
			 "\"status\": 503},"
			 " {\"path\": \"/api/v1/namespaces/busy/configmaps/x\", \"status\": 429,"
			 " \"retry_after\": 3}]}",
			 &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	kube_get(t.kube, "/api/v1/namespaces/faulty/configmaps/x", kube_answer_cb, &a);
	wait_answer(&a);
	assert_int_equal(a.status, 503);
	assert_int_equal(a.klass, HTTPC_TRANSIENT);
	answer_clear(&a);
	kube_get(t.kube, "/api/v1/namespaces/busy/configmaps/x", kube_answer_cb, &a);
	wait_answer(&a);
	assert_int_equal(a.status, 429);
	assert_int_equal(a.klass, HTTPC_TRANSIENT);
	assert_int_equal(a.retry_after_ms, 3000);
	/* The API server's own words (a text/plain body), not "request failed". */
	assert_string_equal(a.message, "GET /api/v1/namespaces/busy/configmaps/x: 429 Too many "
				       "requests, please try again later.");
	answer_clear(&a);
	assert_true(sim_call(&t.sim, "DELETE", "/_sim/faults", NULL, &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
}

/* --- a rendered cluster, then Elasticsearch through the service proxy -------------------- */

static int count_ready_pods(const char *ns)
{
	struct answer a;
	char *path = kube_collection_path("v1", "Pod", ns);
	memset(&a, 0, sizeof(a));
	kube_list(t.kube, path, NULL, kube_answer_cb, &a);
	wait_answer(&a);
	free(path);
	int ready = 0;
	size_t i;
	json_t *pod;
	json_array_foreach (json_object_get(a.body, "items"), i, pod) {
		size_t k;
		json_t *c;
		json_array_foreach (json_object_get(json_object_get(pod, "status"), "conditions"),
				    k, c) {
			if (strcmp(json_string_value(json_object_get(c, "type")), "Ready") == 0 &&
			    strcmp(json_string_value(json_object_get(c, "status")), "True") == 0)
				ready++;
		}
	}
	answer_clear(&a);
	return ready;
}

static void tick(int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	event_base_loopexit(t.base, &tv);
	event_base_dispatch(t.base);
}

/* Render a cluster, apply every object, and wait until ready pods reach want. */
static char *deploy_cluster(const char *name, const char *version, int masters, int data,
			    int clients, struct spec *spec)
{
	json_t *doc = json_pack("{s:s, s:s, s:{s:i}, s:{s:i}, s:{s:i}}", "name", name, "version",
				version, "masters", "replicas", masters, "data", "replicas", data,
				"clients", "replicas", clients);
	struct spec_error serr;
	assert_true(spec_parse(doc, spec, &serr));
	json_decref(doc);
	/* A first formation: the masters are named to bootstrap (zen2), as a
	 * create names them; by default nothing is. */
	char *bns = render_namespace("acme", name);
	char **boot = xcalloc((size_t)masters + 1, sizeof(*boot));
	for (int m = 0; m < masters; m++) {
		char *pod = xasprintf("%s-%d", render_workload_name(ES_ROLE_MASTER), m);
		boot[m] = render_node_name(pod, bns);
		free(pod);
	}
	free(bns);
	struct render_opts ro = {.tenant = "acme",
				 .plugin_repo_url = "http://plugins.invalid",
				 .initial_master_nodes = (const char *const *)boot};
	json_t *objects;
	char err[256];
	assert_true(render_cluster(spec, &ro, &objects, err, sizeof(err)));
	/* The data volumes on every node, as create applies them. */
	struct answer nodes = {0};
	char *npath = kube_collection_path("v1", "Node", NULL);
	kube_list(t.kube, npath, NULL, kube_answer_cb, &nodes);
	wait_answer(&nodes);
	free(npath);
	json_t *items = json_object_get(nodes.body, "items");
	const char **hosts = xcalloc(json_array_size(items) + 1, sizeof(*hosts));
	size_t i;
	json_t *obj;
	json_array_foreach (items, i, obj)
		hosts[i] = json_string_value(
			json_object_get(json_object_get(obj, "metadata"), "name"));
	json_t *volumes;
	assert_true(render_volumes(spec, &ro, hosts, &volumes, err, sizeof(err)));
	json_array_extend(objects, volumes);
	json_decref(volumes);
	free(hosts);
	/* ro names them: freed once everything is rendered. */
	for (int m = 0; m < masters; m++)
		free(boot[m]);
	free(boot);
	answer_clear(&nodes);
	json_array_foreach (objects, i, obj) {
		struct answer a = {0};
		assert_non_null(kube_apply(t.kube, obj, kube_answer_cb, &a));
		wait_answer(&a);
		if (a.klass != HTTPC_OK)
			fail_msg("apply %s: %s", json_string_value(json_object_get(obj, "kind")),
				 a.message);
		answer_clear(&a);
	}
	json_decref(objects);
	char *ns = render_namespace("acme", name);
	int want = masters + data + clients;
	int64_t deadline = harness_now_ms() + 20000;
	while (count_ready_pods(ns) < want && harness_now_ms() < deadline)
		tick(50);
	assert_int_equal(count_ready_pods(ns), want);
	return ns;
}

/* es_info once Elasticsearch answers through the proxy: the Service has no
 * endpoints until a moment after its pods are Ready, and the proxy says so
 * with a transient 503. */
static void es_info_when_answering(struct es *es, struct answer *a)
{
	int64_t deadline = harness_now_ms() + 10000;
	for (;;) {
		es_info(es, es_answer_cb, a);
		wait_answer(a);
		if (a->klass == HTTPC_OK || harness_now_ms() > deadline)
			break;
		assert_int_equal(a->status, 503);
		assert_int_equal(a->klass, HTTPC_TRANSIENT);
		answer_clear(a);
		tick(100);
	}
}

static void test_rendered_cluster_and_elasticsearch(void **state)
{
	struct spec spec;
	char *ns = deploy_cluster("logs", "7.17.10", 3, 3, 1, &spec);

	char *svc = render_headless_service(ns);
	struct es *es = es_new_proxy(t.kube, ns, RENDER_HTTP_SERVICE);
	struct answer a = {0};
	es_info_when_answering(es, &a);
	assert_int_equal(a.klass, HTTPC_OK);
	assert_non_null(es_known_version(es));
	assert_int_equal(es_known_version(es)->major, 7);
	answer_clear(&a);

	es_health(es, "green", "10s", true, es_answer_cb, &a);
	wait_answer(&a);
	assert_int_equal(a.klass, HTTPC_OK);
	assert_string_equal(json_string_value(json_object_get(a.body, "status")), "green");
	answer_clear(&a);

	json_t *settings = json_pack("{s:s}", "cluster.routing.allocation.enable", "primaries");
	es_put_settings(es, settings, es_answer_cb, &a);
	json_decref(settings);
	wait_answer(&a);
	assert_int_equal(a.klass, HTTPC_OK);
	answer_clear(&a);
	es_get_settings(es, es_answer_cb, &a);
	wait_answer(&a);
	assert_string_equal(json_string_value(json_object_get(json_object_get(a.body, "persistent"),
							      "cluster.routing.allocation.enable")),
			    "primaries");
	answer_clear(&a);

	es_cat_nodes(es, es_answer_cb, &a);
	wait_answer(&a);
	assert_true(json_is_array(a.body));
	assert_int_equal(json_array_size(a.body), 7);
	answer_clear(&a);

	/* 7.17 still has the synced flush. */
	es_flush(es, es_answer_cb, &a);
	wait_answer(&a);
	assert_int_equal(a.klass, HTTPC_OK);
	answer_clear(&a);

	const char *names[] = {"es-master-x"};
	assert_non_null(es_voting_exclude(es, names, 1, es_answer_cb, &a));
	wait_answer(&a);
	answer_clear(&a);
	assert_non_null(es_voting_clear(es, es_answer_cb, &a));
	wait_answer(&a);
	assert_int_equal(a.klass, HTTPC_OK);
	answer_clear(&a);

	/* An Elasticsearch error keeps Elasticsearch's reason. */
	es_request(es, "DELETE", "/no-such-index", NULL, es_answer_cb, &a);
	wait_answer(&a);
	assert_int_equal(a.status, 404);
	assert_int_equal(a.klass, HTTPC_PERMANENT);
	assert_non_null(strstr(a.message, "no such index"));
	answer_clear(&a);

	/* Shards, plugins and nodes as the cat and nodes APIs list them. */
	es_cat_shards(es, es_answer_cb, &a);
	wait_answer(&a);
	assert_true(json_is_array(a.body));
	assert_int_equal(json_array_size(a.body), 4); /* logs: 2 shards x (primary + replica) */
	answer_clear(&a);
	es_cat_plugins(es, es_answer_cb, &a);
	wait_answer(&a);
	assert_int_equal(a.klass, HTTPC_OK);
	assert_true(json_is_array(a.body));
	answer_clear(&a);
	es_nodes_info(es, es_answer_cb, &a);
	wait_answer(&a);
	json_t *nodes = json_object_get(a.body, "nodes");
	assert_int_equal(json_object_size(nodes), 7);
	const char *node_id = json_object_iter_key(json_object_iter(nodes));
	char *first = xstrdup(node_id);
	answer_clear(&a);

	/* 7.17 has the node shutdown API. */
	assert_non_null(es_shutdown_put(es, first, "restart", "test", es_answer_cb, &a));
	wait_answer(&a);
	assert_int_equal(a.klass, HTTPC_OK);
	answer_clear(&a);
	assert_non_null(es_shutdown_delete(es, first, es_answer_cb, &a));
	wait_answer(&a);
	assert_int_equal(a.klass, HTTPC_OK);
	answer_clear(&a);
	free(first);

	/* The configured template, expanded per cluster. */
	char *expanded = es_expand_url("http://{service}.{namespace}.svc:9200/x/{service}", ns,
				       RENDER_HTTP_SERVICE);
	char *want = xasprintf("http://es-http.%s.svc:9200/x/es-http", ns);
	assert_string_equal(expanded, want);
	free(expanded);
	free(want);
	struct es *via_proxy = es_new_for_cluster(t.kube, t.http, NULL, ns, RENDER_HTTP_SERVICE);
	es_info(via_proxy, es_answer_cb, &a);
	wait_answer(&a);
	assert_int_equal(a.klass, HTTPC_OK);
	answer_clear(&a);
	es_free(via_proxy);

	/* Directly by URL (here the proxy's, with the token) instead of through kube. */
	char *url = xasprintf("%s/api/v1/namespaces/%s/services/%s:9200/proxy", t.conn.server, ns,
			      RENDER_HTTP_SERVICE);
	struct es *direct = es_new_direct(t.http, url, t.conn.token);
	es_direct_trust(direct, t.conn.ca_pem); /* the API server's, from the kubeconfig */
	es_health(direct, NULL, NULL, false, es_answer_cb, &a);
	wait_answer(&a);
	assert_int_equal(a.klass, HTTPC_OK);
	assert_non_null(json_object_get(a.body, "number_of_nodes"));
	answer_clear(&a);
	es_free(direct);
	free(url);

	/* Scale the data nodes through the scale subresource, the namespace's
	 * quota raised first, as the scale workflow does (else the fourth data
	 * pod is refused). */
	struct render_opts ro = {.tenant = "acme"};
	spec.nodes[ES_ROLE_DATA].replicas = 4;
	json_t *quota = render_quota(&spec, &ro, 0);
	assert_non_null(kube_apply(t.kube, quota, kube_answer_cb, &a));
	wait_answer(&a);
	assert_int_equal(a.klass, HTTPC_OK);
	answer_clear(&a);
	json_decref(quota);
	kube_scale(t.kube, "/apis/apps/v1/namespaces/es-acme-logs/statefulsets/es-data", 4,
		   kube_answer_cb, &a);
	wait_answer(&a);
	assert_int_equal(a.klass, HTTPC_OK);
	answer_clear(&a);
	int64_t deadline = harness_now_ms() + 20000;
	while (count_ready_pods(ns) < 8 && harness_now_ms() < deadline)
		tick(50);
	assert_int_equal(count_ready_pods(ns), 8);

	es_free(es);
	free(svc);
	free(ns);
	spec_free(&spec);
}

/* On 8.x the synced flush is gone: the client sends the plain one. */
static void test_flush_on_8(void **state)
{
	struct spec spec;
	char *ns = deploy_cluster("eight", "8.17.0", 1, 2, 0, &spec);
	struct es *es = es_new_proxy(t.kube, ns, RENDER_HTTP_SERVICE);
	struct answer a = {0};
	es_info_when_answering(es, &a);
	assert_int_equal(es_known_version(es)->major, 8);
	answer_clear(&a);
	es_flush(es, es_answer_cb, &a);
	wait_answer(&a);
	assert_int_equal(a.klass, HTTPC_OK);
	answer_clear(&a);
	/* And the simulator refuses the old path as 8.x does. */
	es_request(es, "POST", "/_flush/synced", NULL, es_answer_cb, &a);
	wait_answer(&a);
	assert_int_equal(a.status, 400);
	answer_clear(&a);
	es_free(es);
	free(ns);
	spec_free(&spec);
}

/* --- caps on what is read ------------------------------------------------------------ */

/* A JSON object of about n bytes: {"status": "green", "pad": "xxx..."}. */
static char *padded_json(size_t n, bool array)
{
	char *pad = xmalloc(n + 1);
	memset(pad, 'x', n);
	pad[n] = '\0';
	char *s = xasprintf(array ? "[{\"index\": \"logs\", \"pad\": \"%s\"}]"
				  : "{\"status\": \"green\", \"pad\": \"%s\"}",
			    pad);
	free(pad);
	return s;
}

/* Big answers where the caller's cap is small, and where it is large. */
static void big_replies_cb(struct evhttp_request *req, int index, void *arg)
{
	const char *uri = evhttp_request_get_uri(req);
	char *body;

	if (strstr(uri, "/_cluster/health"))
		body = padded_json(100 * 1024, false); /* a health needs kilobytes */
	else if (strstr(uri, "/_cat/shards"))
		body = padded_json(1024 * 1024, true); /* a listing may be big */
	else if (strstr(uri, "/pods/es-data-0"))
		body = padded_json(3 * 1024 * 1024, false); /* no object is that big */
	else
		body = padded_json(3 * 1024 * 1024, false); /* a list may be */
	fakehttp_reply(req, 200, "application/json", body);
	free(body);
}

/*
 * Each kind of call reads at most its cap: a reply past it fails the call,
 * permanently, with an error naming the cap; a reply within it is read,
 * even when the same size is past another kind's cap.
 */
static void test_replies_past_their_cap_fail_naming_it(void **state)
{
	struct fakehttp *fake = fakehttp_start(t.base, big_replies_cb, NULL);
	char *url = fakehttp_url(fake, "");
	struct answer a = {0};

	/* Elasticsearch reached directly. */
	struct es *es = es_new_direct(t.http, url, NULL);
	es_health(es, NULL, NULL, false, es_answer_cb, &a);
	wait_answer(&a);
	assert_int_equal(a.klass, HTTPC_PERMANENT);
	assert_null(a.body);
	assert_non_null(strstr(a.message, "/_cluster/health: response body larger than 65536 "
					  "bytes, the cap for an Elasticsearch cluster health"));
	answer_clear(&a);
	es_cat_shards(es, es_answer_cb, &a);
	wait_answer(&a);
	assert_int_equal(a.klass, HTTPC_OK);
	assert_true(json_is_array(a.body));
	answer_clear(&a);
	es_free(es);

	/* Kubernetes, and Elasticsearch through its service proxy. */
	struct kube_conn conn = {.server = url};
	struct kube *k = kube_new(t.http, &conn);
	es = es_new_proxy(k, "es-acme-logs", "es-http");
	es_health(es, NULL, NULL, false, es_answer_cb, &a);
	wait_answer(&a);
	assert_int_equal(a.klass, HTTPC_PERMANENT);
	assert_non_null(strstr(a.message, "the cap for an Elasticsearch cluster health"));
	answer_clear(&a);
	es_free(es);

	kube_get(k, "/api/v1/namespaces/es-acme-logs/pods/es-data-0", kube_answer_cb, &a);
	wait_answer(&a);
	assert_int_equal(a.klass, HTTPC_PERMANENT);
	assert_null(a.body);
	assert_non_null(strstr(a.message, "response body larger than 2097152 bytes, the cap for "
					  "a Kubernetes object"));
	answer_clear(&a);
	kube_list(k, "/api/v1/namespaces/es-acme-logs/pods", "app=es", kube_answer_cb, &a);
	wait_answer(&a);
	assert_int_equal(a.klass, HTTPC_OK);
	assert_true(json_is_object(a.body));
	answer_clear(&a);

	kube_free(k);
	free(url);
	fakehttp_stop(fake);
}

/*
 * Calls every 100 ms for 3.5 s through a kube client of the simulator's
 * kubeconfig whose tokens live 1.5 s: every one answered 200.  The record
 * says how many expired tokens reached the server.
 */
static long calls_through_rotation(const struct sim *on, int64_t reread_ms)
{
	struct kube_conn conn;
	struct kube_conn_opts o = {.source = KUBE_SOURCE_KUBECONFIG, .kubeconfig = on->kubeconfig};
	char err[512];
	assert_true(kube_conn_load(&o, &conn, err, sizeof(err)));
	assert_non_null(conn.token_file);
	struct kube *k = kube_new(t.http, &conn);
	if (reread_ms > 0)
		kube_set_token_reread_ms(k, reread_ms);
	json_t *rec = sim_record(on);
	json_int_t refused_before = json_integer_value(
		json_object_get(json_object_get(rec, "service_account_tokens"), "expired_refused"));
	json_decref(rec);
	int64_t end = harness_now_ms() + 3500;
	int calls = 0;
	while (harness_now_ms() < end) {
		struct answer a = {0};
		kube_get(k, "/api/v1/namespaces/default/configmaps", kube_answer_cb, &a);
		wait_answer(&a);
		assert_int_equal(a.status, 200);
		answer_clear(&a);
		calls++;
		msleep(100);
	}
	assert_true(calls >= 20);
	rec = sim_record(on);
	json_t *tokens = json_object_get(rec, "service_account_tokens");
	assert_true(json_integer_value(json_object_get(tokens, "rotations")) >= 2);
	long refused = (long)(json_integer_value(json_object_get(tokens, "expired_refused")) -
			      refused_before);
	json_decref(rec);
	kube_free(k);
	kube_conn_free(&conn);
	return refused;
}

/* A token file rewritten before the token expires (as the kubelet does at
 * 80% of its life) is read again periodically, and at once on a 401. */
static void test_rotating_token_file_is_read_again(void **state)
{
	struct sim bound;
	char config[sizeof(SIM_CONFIG) + 64];
	snprintf(config, sizeof(config), "%sserviceaccounts:\n  token_life_ms: 1500\n", SIM_CONFIG);
	assert_true(sim_start(&bound, t.dir, config));
	/* Read every 200 ms: never sends an expired token. */
	assert_int_equal(calls_through_rotation(&bound, 200), 0);
	/* Read every minute: an expired token is refused, read again at once
	 * on the 401, and the call goes through. */
	assert_true(calls_through_rotation(&bound, 0) >= 1);
	assert_int_equal(sim_stop(&bound), 0);
}

/* --- exec credential plugins ------------------------------------------------------------ */

/*
 * A client of the simulator whose credential comes from the plugin
 * tests/integration/exec-plugins/SCRIPT (or command, as given, when it
 * has no '.sh'), with env ("NAME=value", NULL-terminated) and the
 * variable PLUGIN_RUNS naming runs (a file under t.dir).
 */
static struct kube *exec_client(const char *script, const char *const *env, char *runs,
				size_t runs_len)
{
	struct kube_exec_conf e = {
		.api_version = (char *)KUBE_EXEC_V1,
		.user = (char *)"esaas",
		.install_hint = (char *)"esaas-no-such-plugin is a test's: nothing to install",
		.provide_cluster_info = true,
	};
	char *envs[16];
	size_t n = 0;

	snprintf(runs, runs_len, "%s/runs-%s", t.dir, script);
	unlink(runs);
	e.command = strstr(script, ".sh") ? xasprintf("%s/tests/integration/exec-plugins/%s",
						      harness_srcdir(), script)
					  : xstrdup(script);
	envs[n++] = xasprintf("PLUGIN_RUNS=%s", runs);
	for (size_t i = 0; env && env[i] && n < ARRAY_SIZE(envs); i++)
		envs[n++] = xstrdup(env[i]);
	e.env = envs;
	e.nenv = n;
	struct kube_conn conn = {.server = t.conn.server, .ca_pem = t.conn.ca_pem, .exec = &e};
	struct kube *k = kube_new(t.http, &conn);
	for (size_t i = 0; i < n; i++)
		free(envs[i]);
	free(e.command);
	return k;
}

/* How many times the plugin ran: the lines of its runs file. */
static int plugin_runs(const char *runs)
{
	FILE *f = fopen(runs, "r");
	int n = 0, ch;

	if (!f)
		return 0;
	while ((ch = fgetc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

/* A whole file, with a '\n' put first so that every line is "\nLINE\n"; NULL if unreadable. */
static char *read_file_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = xstrdup("\n");
	size_t len = 1;
	int ch;

	if (!f) {
		free(text);
		return NULL;
	}
	while ((ch = fgetc(f)) != EOF) {
		text = xrealloc(text, len + 2);
		text[len++] = (char)ch;
	}
	text[len] = '\0';
	fclose(f);
	return text;
}

struct go {
	struct answer a;
	char path[300];
};

/* The other request is answered: let the slow plugin go on. */
static void other_answered_cb(void *arg, const struct kube_result *r)
{
	struct go *g = arg;
	kube_answer_cb(&g->a, r);
	FILE *f = fopen(g->path, "w");
	assert_non_null(f);
	fclose(f);
}

/*
 * A slow plugin does not stop the loop: a request of another client is
 * answered while it runs (the plugin answers only once that request's
 * callback lets it), and the three calls that need its credential wait
 * for its one run, then go through with the token it printed.  The
 * plugin had KUBERNETES_EXEC_INFO as kubectl gives it.
 */
static void test_exec_plugin_runs_beside_the_loop_and_once_for_all_waiting(void **state)
{
	struct go go = {0};
	char token[300], info[300], runs[300];
	snprintf(go.path, sizeof(go.path), "%s/go", t.dir);
	snprintf(token, sizeof(token), "PLUGIN_TOKEN=%s", t.conn.token);
	snprintf(info, sizeof(info), "PLUGIN_INFO=%s/exec-info", t.dir);
	char *go_env = xasprintf("PLUGIN_GO=%s", go.path);
	char *env_names = xasprintf("PLUGIN_ENV=%s/exec-env", t.dir);
	const char *env[] = {token, info, go_env, env_names, NULL};
	/* esaasd's own settings hold secrets: not the plugin's business. */
	setenv("ESAAS_DATABASE_URL", "postgresql://esaas:secret@db/esaas", 1);
	struct kube *k = exec_client("slow.sh", env, runs, sizeof(runs));
	struct answer a[3] = {{0}};

	for (int i = 0; i < 3; i++)
		kube_get(k, "/api/v1/namespaces/default", kube_answer_cb, &a[i]);
	kube_get(t.kube, "/api/v1/namespaces/default", other_answered_cb, &go);
	wait_answer(&go.a);
	assert_int_equal(go.a.status, 200);
	for (int i = 0; i < 3; i++) {
		wait_answer(&a[i]);
		if (a[i].status != 200)
			fail_msg("call %d: %s", i, a[i].message ? a[i].message : "-");
		answer_clear(&a[i]);
	}
	assert_int_equal(plugin_runs(runs), 1);
	/* Kept: no expirationTimestamp, no 401. */
	kube_get(k, "/api/v1/namespaces/default", kube_answer_cb, &a[0]);
	wait_answer(&a[0]);
	assert_int_equal(a[0].status, 200);
	answer_clear(&a[0]);
	assert_int_equal(plugin_runs(runs), 1);

	json_t *exec_info = json_load_file(info + strlen("PLUGIN_INFO="), 0, NULL);
	assert_non_null(exec_info);
	assert_string_equal(json_string_value(json_object_get(exec_info, "kind")),
			    "ExecCredential");
	json_t *spec = json_object_get(exec_info, "spec");
	assert_true(json_is_false(json_object_get(spec, "interactive")));
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(spec, "cluster"), "server")),
		t.conn.server);
	json_decref(exec_info);

	/* The environment: esaasd's less ESAAS_*, and the kubeconfig's env. */
	char *names = read_file_text(env_names + strlen("PLUGIN_ENV="));
	assert_non_null(names);
	assert_non_null(strstr(names, "\nPATH\n"));
	assert_non_null(strstr(names, "\nPLUGIN_TOKEN\n"));
	assert_non_null(strstr(names, "\nKUBERNETES_EXEC_INFO\n"));
	assert_null(strstr(names, "ESAAS_"));
	free(names);
	unsetenv("ESAAS_DATABASE_URL");
	answer_clear(&go.a);
	free(go_env);
	free(env_names);
	kube_free(k);
}

/* A credential is kept until its expirationTimestamp, and the plugin runs again after it. */
static void test_exec_credential_expires_and_the_plugin_runs_again(void **state)
{
	char token[300], runs[300];
	snprintf(token, sizeof(token), "PLUGIN_TOKEN=%s", t.conn.token);
	const char *hour[] = {token, "PLUGIN_LIFE_MS=3600000", NULL};
	const char *now[] = {token, "PLUGIN_LIFE_MS=0", NULL};
	struct answer a = {0};

	struct kube *k = exec_client("credential.sh", hour, runs, sizeof(runs));
	for (int i = 0; i < 2; i++) {
		kube_get(k, "/api/v1/namespaces/default", kube_answer_cb, &a);
		wait_answer(&a);
		assert_int_equal(a.status, 200);
		answer_clear(&a);
	}
	assert_int_equal(plugin_runs(runs), 1);
	kube_free(k);

	/* Expired as soon as given: used by the calls that waited for it, then run again. */
	k = exec_client("credential.sh", now, runs, sizeof(runs));
	for (int i = 0; i < 2; i++) {
		kube_get(k, "/api/v1/namespaces/default", kube_answer_cb, &a);
		wait_answer(&a);
		assert_int_equal(a.status, 200);
		answer_clear(&a);
	}
	assert_int_equal(plugin_runs(runs), 2);
	kube_free(k);
}

/* A credential the server refuses (401) runs the plugin again, and the call is sent again. */
static void test_exec_credential_refused_runs_the_plugin_again(void **state)
{
	char token[300], runs[300];
	snprintf(token, sizeof(token), "PLUGIN_TOKEN=%s", t.conn.token);
	const char *env[] = {token, "PLUGIN_FIRST_TOKEN=revoked", NULL};
	struct answer a = {0};
	struct kube *k = exec_client("credential.sh", env, runs, sizeof(runs));

	kube_get(k, "/api/v1/namespaces/default", kube_answer_cb, &a);
	wait_answer(&a);
	assert_int_equal(a.status, 200);
	answer_clear(&a);
	assert_int_equal(plugin_runs(runs), 2);
	kube_free(k);

	/* Refused again: the plugin runs once more, and the 401 is the answer. */
	const char *bad[] = {"PLUGIN_TOKEN=revoked", NULL};
	k = exec_client("credential.sh", bad, runs, sizeof(runs));
	kube_get(k, "/api/v1/namespaces/default", kube_answer_cb, &a);
	wait_answer(&a);
	assert_int_equal(a.status, 401);
	answer_clear(&a);
	assert_int_equal(plugin_runs(runs), 2);
	kube_free(k);
}

/* A plugin that fails fails every call that waited, naming it, its exit status and stderr. */
static void test_exec_plugin_failure_names_the_plugin_and_its_stderr(void **state)
{
	char runs[300];
	struct answer a[2] = {{0}};
	struct kube *k = exec_client("failing.sh", NULL, runs, sizeof(runs));
	char *want = xasprintf("credential plugin %s/tests/integration/exec-plugins/failing.sh: "
			       "exit status 3: error: profile prod: the SSO session has expired",
			       harness_srcdir());

	for (int i = 0; i < 2; i++)
		kube_get(k, "/api/v1/namespaces/default", kube_answer_cb, &a[i]);
	for (int i = 0; i < 2; i++) {
		wait_answer(&a[i]);
		assert_int_equal(a[i].status, 0);
		assert_int_equal(a[i].klass, HTTPC_TRANSIENT);
		assert_string_equal(a[i].message, want);
		answer_clear(&a[i]);
	}
	free(want);
	kube_free(k);
}

/* A plugin that is not installed: the error says so, with the kubeconfig's installHint. */
static void test_exec_plugin_missing_shows_its_install_hint(void **state)
{
	char runs[300];
	struct answer a = {0};
	struct kube *k = exec_client("esaas-no-such-plugin", NULL, runs, sizeof(runs));

	kube_get(k, "/api/v1/namespaces/default", kube_answer_cb, &a);
	wait_answer(&a);
	assert_int_equal(a.klass, HTTPC_PERMANENT);
	assert_string_equal(a.message, "credential plugin esaas-no-such-plugin: not found: "
				       "esaas-no-such-plugin is a test's: nothing to install");
	answer_clear(&a);
	kube_free(k);
}

/* Gone: no such process, or one that is only waiting to be reaped. */
static bool process_gone(long pid)
{
	char path[64], line[256];
	FILE *f;
	bool zombie = false;

	if (kill((pid_t)pid, 0) != 0)
		return true;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return true;
	if (fgets(line, sizeof(line), f)) {
		const char *paren = strrchr(line, ')');
		zombie = paren && paren[1] == ' ' && paren[2] == 'Z';
	}
	fclose(f);
	return zombie;
}

/* A plugin that never answers is killed at the deadline, with what it started. */
static void test_exec_plugin_that_hangs_is_killed_at_its_deadline(void **state)
{
	char runs[300], pids_env[300];
	struct answer a = {0};
	snprintf(pids_env, sizeof(pids_env), "PLUGIN_PIDS=%s/hanging-pids", t.dir);
	const char *env[] = {pids_env, NULL};
	struct kube *k = exec_client("hanging.sh", env, runs, sizeof(runs));

	kube_set_exec_timeout_ms(k, 1000);
	kube_get(k, "/api/v1/namespaces/default", kube_answer_cb, &a);
	wait_answer(&a);
	assert_int_equal(a.klass, HTTPC_TRANSIENT);
	assert_non_null(strstr(a.message, "hanging.sh: killed after 1000 ms without an answer"));
	answer_clear(&a);
	kube_free(k);

	/* The plugin and the process it started are gone (reaped, or about to be). */
	FILE *f = fopen(pids_env + strlen("PLUGIN_PIDS="), "r");
	long plugin = 0, child = 0;
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld %ld", &plugin, &child), 2);
	fclose(f);
	assert_true(process_gone(plugin));
	int64_t deadline = harness_now_ms() + 10000;
	while (!process_gone(child) && harness_now_ms() < deadline)
		msleep(20);
	assert_true(process_gone(child));
}

/* A plugin that gives a client certificate: the calls are made with it. */
static void test_exec_plugin_client_certificate_is_used(void **state)
{
	struct kube_conn admin;
	struct kube_conn_opts o = {.source = KUBE_SOURCE_KUBECONFIG,
				   .kubeconfig = t.sim.kubeconfig,
				   .context = "admin-cert"};
	char err[512], runs[300], cert_env[300], key_env[300];
	struct answer a = {0};

	assert_true(kube_conn_load(&o, &admin, err, sizeof(err)));
	assert_non_null(admin.client_cert_pem);
	snprintf(cert_env, sizeof(cert_env), "PLUGIN_CERT_FILE=%s/admin.crt", t.dir);
	snprintf(key_env, sizeof(key_env), "PLUGIN_KEY_FILE=%s/admin.key", t.dir);
	FILE *f = fopen(cert_env + strlen("PLUGIN_CERT_FILE="), "w");
	assert_non_null(f);
	fputs(admin.client_cert_pem, f);
	fclose(f);
	f = fopen(key_env + strlen("PLUGIN_KEY_FILE="), "w");
	assert_non_null(f);
	fputs(admin.client_key_pem, f);
	fclose(f);
	kube_conn_free(&admin);

	/* kubernetes-admin (system:masters) by its certificate: nodes are its to list. */
	const char *env[] = {cert_env, key_env, NULL};
	struct kube *k = exec_client("credential.sh", env, runs, sizeof(runs));
	kube_get(k, "/api/v1/nodes", kube_answer_cb, &a);
	wait_answer(&a);
	if (a.status != 200)
		fail_msg("%ld: %s", a.status, a.message ? a.message : "-");
	answer_clear(&a);
	kube_free(k);

	/* Without it, the same plugin's empty credential is refused before the call. */
	k = exec_client("credential.sh", NULL, runs, sizeof(runs));
	kube_get(k, "/api/v1/nodes", kube_answer_cb, &a);
	wait_answer(&a);
	assert_int_equal(a.status, 0);
	assert_non_null(strstr(a.message, "exit status 0 but no credential: status: expected a "
					  "token or clientCertificateData and clientKeyData"));
	answer_clear(&a);
	kube_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_object_paths),
		cmocka_unit_test(test_apply_get_list_delete),
		cmocka_unit_test(test_faults_are_classified),
		cmocka_unit_test(test_rendered_cluster_and_elasticsearch),
		cmocka_unit_test(test_flush_on_8),
		cmocka_unit_test(test_replies_past_their_cap_fail_naming_it),
		cmocka_unit_test(test_rotating_token_file_is_read_again),
		cmocka_unit_test(test_exec_plugin_runs_beside_the_loop_and_once_for_all_waiting),
		cmocka_unit_test(test_exec_credential_expires_and_the_plugin_runs_again),
		cmocka_unit_test(test_exec_credential_refused_runs_the_plugin_again),
		cmocka_unit_test(test_exec_plugin_failure_names_the_plugin_and_its_stderr),
		cmocka_unit_test(test_exec_plugin_missing_shows_its_install_hint),
		cmocka_unit_test(test_exec_plugin_that_hangs_is_killed_at_its_deadline),
		cmocka_unit_test(test_exec_plugin_client_certificate_is_used),
	};
	/* ESAAS_TEST_FILTER=test_name (a glob) runs some tests only. */
	if (getenv("ESAAS_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ESAAS_TEST_FILTER"));
	return cmocka_run_group_tests(tests, setup, teardown);
}
