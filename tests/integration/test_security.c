/*
 * Elasticsearch security end to end: esaasd configured for it
 * (elasticsearch.security), reaching the clusters on the simulator's pod
 * network (elasticsearch.url, elasticsearch.connect_to), as an esaasd
 * inside the fleet reaches them, from its namespace, which the clusters'
 * NetworkPolicies admit (kubernetes.esaasd_namespace); a tenant's
 * application reaches them from the namespace its specs admit, and its
 * other cluster's pods do not.  A 7.x and an 8.x cluster are created
 * with their own CA, certificate and passwords; nobody gets in without
 * credentials, and esaas's own operations still work.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "common/base64.h"
#include "common/json.h"
#include "common/pki.h"
#include "common/util.h"
#include "tests/integration/harness.h"

static struct pg pg;

/* The pod network's clients besides esaasd's pod (esaas-system, as
 * deploy/kubernetes runs it, the --pod-network listener's): a tenant's
 * application in namespace apps, and a pod of the tenant's other cluster
 * (sec8's namespace, with its nodes' label), each at a port of its own. */
static const char SIM_CONFIG[] = "tick_ms: 20\n"
				 "nodes:\n  count: 4\n"
				 "elasticsearch:\n  relocation_ms: 200\n  recovery_ms: 50\n"
				 "  no_master_wait_ms: 500\n"
				 "  indices:\n    - {name: logs, shards: 2, replicas: 1}\n"
				 "pod_network:\n  others:\n"
				 "    - {listen: \"127.0.0.1:%d\", namespace: apps,"
				 " labels: {app: shop}, ip: 10.244.254.10}\n"
				 "    - {listen: \"127.0.0.1:%d\", namespace: es-default-sec8,"
				 " labels: {esaas.io/cluster: sec8}, ip: 10.244.254.11}\n";

struct fixture {
	char dburl[600];
	struct sim sim;
	struct esaasd d;
	PGconn *sql;
	int apps_port;	    /* the pod network, as a pod of namespace apps */
	int neighbour_port; /* as a pod of the tenant's cluster sec8 */
};

static int group_setup(void **state)
{
	return pg_start(&pg) ? 0 : -1;
}

static int group_teardown(void **state)
{
	pg_finish(&pg);
	return 0;
}

/* esaasd calling the clusters on the pod network; security as it says
 * (NULL: left out, which with elasticsearch.url is on). */
static void esaasd_up(struct fixture *f, const char *security)
{
	char *extra = xasprintf("elasticsearch:\n"
				"  url: http://{service}.{namespace}.svc:9200\n"
				"  connect_to: 127.0.0.1:%d\n%s%s%s",
				f->sim.podnet_port, security ? "  security: " : "",
				security ? security : "", security ? "\n" : "");
	/* esaasd calls the clusters from its pod: its namespace is what the
	 * clusters' NetworkPolicies must admit (deploy/kubernetes's
	 * configmap.yaml says so for elasticsearch.url). */
	struct esaasd_opts o = {.kubeconfig = f->sim.kubeconfig,
				.retry_base_ms = 100,
				.retry_cap_ms = 500,
				.kube_yaml = "  esaasd_namespace: esaas-system\n",
				.extra_yaml = extra};
	assert_true(esaasd_start(&f->d, pg.dir, f->dburl, &o));
	free(extra);
}

static struct fixture *fixture_with(const char *security)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	assert_non_null(pg_new_database(&pg, f->dburl, sizeof(f->dburl)));
	f->apps_port = harness_free_port();
	f->neighbour_port = harness_free_port();
	char *config = xasprintf(SIM_CONFIG, f->apps_port, f->neighbour_port);
	assert_true(sim_start(&f->sim, pg.dir, config));
	free(config);
	esaasd_up(f, security);
	f->sql = sql_connect(f->dburl);
	return f;
}

/* No "security: true": with elasticsearch.url, it is the default. */
static struct fixture *fixture_new(void)
{
	return fixture_with(NULL);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	if (!f)
		return 0;
	int rc = f->d.pid > 0 ? esaasd_stop(&f->d, SIGTERM, true) : 0;
	bool in_spec = sim_es_requests_in_spec(&f->sim);
	int src = sim_stop(&f->sim);
	if (rc != 0)
		fprintf(stderr, "esaasd exited with %d on SIGTERM; see %s\n", rc, f->d.log);
	if (src != 0)
		fprintf(stderr, "esaas-sim exited with %d on SIGTERM; see %s\n", src, f->sim.log);
	if (!in_spec)
		fprintf(stderr, "esaasd sent a request its version does not accept; see %s\n",
			f->sim.dir);
	PQfinish(f->sql);
	free(f);
	return rc == 0 && src == 0 && in_spec ? 0 : -1;
}

struct answer {
	char buf[16384];
	size_t len;
};

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;
	size_t take = size * n;
	if (take > sizeof(a->buf) - 1 - a->len)
		take = sizeof(a->buf) - 1 - a->len;
	memcpy(a->buf + a->len, p, take);
	a->len += take;
	a->buf[a->len] = '\0';
	return size * n;
}

/* method path (with body, or NULL) of cluster namespace ns on the pod
 * network, as the client at port (a tenant's application inside the
 * fleet): checking the certificate against ca_pem, as user:password (NULL:
 * no credentials), giving up after timeout_s.  The status, or -CURLcode. */
static long pod_request(int port, long timeout_s, const char *method, const char *ns,
			const char *path, const char *body, const char *ca_pem, const char *userpwd,
			struct answer *a)
{
	CURL *h = curl_easy_init();
	char *url = xasprintf("https://es-http.%s.svc:9200%s", ns, path);
	char *to_entry = xasprintf("::127.0.0.1:%d", port);
	struct curl_slist *to = curl_slist_append(NULL, to_entry);
	struct curl_blob blob = {
		.data = (void *)ca_pem, .len = strlen(ca_pem), .flags = CURL_BLOB_COPY};
	long status = 0;
	memset(a, 0, sizeof(*a));
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CONNECT_TO, to);
	curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	struct curl_slist *headers = NULL;
	if (body) {
		headers = curl_slist_append(NULL, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	}
	if (userpwd)
		curl_easy_setopt(h, CURLOPT_USERPWD, userpwd);
	CURLcode rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	else
		status = -(long)rc;
	curl_slist_free_all(to);
	curl_slist_free_all(headers);
	curl_easy_cleanup(h);
	free(to_entry);
	free(url);
	return status;
}

static long pod_get(int port, long timeout_s, const char *ns, const char *path, const char *ca_pem,
		    const char *userpwd, struct answer *a)
{
	return pod_request(port, timeout_s, "GET", ns, path, NULL, ca_pem, userpwd, a);
}

/* How many REST requests of cluster namespace ns user authenticated, as
 * the simulator counts them. */
static long long authenticated(const struct fixture *f, const char *ns, const char *user)
{
	struct http_resp r;
	assert_true(sim_call(&f->sim, "GET", "/_sim/state", NULL, &r));
	assert_int_equal(r.status, 200);
	json_t *cl = json_object_get(json_object_get(r.body, "clusters"), ns);
	assert_non_null(cl);
	long long n =
		json_integer_value(json_object_get(json_object_get(cl, "authenticated"), user));
	http_resp_free(&r);
	return n;
}

/* A password of the cluster's Secret es-security (the caller frees it). */
static char *secret_password(const struct fixture *f, const char *ns, const char *key)
{
	struct http_resp r;
	char *path = xasprintf("/api/v1/namespaces/%s/secrets/es-security", ns);
	assert_true(sim_call(&f->sim, "GET", path, NULL, &r));
	assert_int_equal(r.status, 200);
	const char *b64 = json_str(json_object_get(r.body, "data"), key);
	unsigned char *raw = NULL;
	size_t len = 0;
	char *out = NULL;
	if (b64) {
		assert_true(base64_decode(b64, strlen(b64), &raw, &len, NULL));
		out = xasprintf("%.*s", (int)len, (const char *)raw);
		free(raw);
	}
	http_resp_free(&r);
	free(path);
	return out;
}

/* As the tenant's application (namespace apps, which the clusters admit). */
static long tenant_get(const struct fixture *f, const char *ns, const char *path,
		       const char *ca_pem, const char *userpwd, struct answer *a)
{
	return pod_get(f->apps_port, 20, ns, path, ca_pem, userpwd, a);
}

static void expect_succeeded(const struct esaasd *d, int64_t id)
{
	assert_true(job_succeeded(d, id, 300000));
}

/* An operation's job, accepted (202) and then succeeded. */
static void operate(const struct fixture *f, const char *method, const char *path, const char *body)
{
	long status = 0;
	int64_t id = api_op(&f->d, method, path, body, &status);
	if (status != 202)
		fail_msg("%s %s: %ld", method, path, status);
	expect_succeeded(&f->d, id);
}

/*
 * A 7.x and an 8.x cluster created with security: through the API
 * server's service proxy (which drops every Authorization header) a
 * request is answered 401 by Elasticsearch; a tenant's client gets the
 * credentials and the CA through the API and is let in over TLS, the
 * certificate chaining to the cluster's own CA; esaas scales, restarts
 * and reconfigures both, and its health sweep reads them.
 */
static void test_secured_clusters_refuse_strangers_and_esaas_still_operates_them(void **state)
{
	struct fixture *f = *state = fixture_new();
	static const char *const names[] = {"sec7", "sec8"};
	static const char *const versions[] = {"7.17.10", "8.17.0"};
	int64_t ids[2];
	for (int i = 0; i < 2; i++) {
		char *spec =
			xasprintf("{\"name\": \"%s\", \"version\": \"%s\","
				  " \"masters\": {\"replicas\": 1},"
				  " \"data\": {\"replicas\": 2}, \"clients\": {\"replicas\": 0},"
				  " \"network\": {\"allow\": [{\"namespace\": \"apps\"}]}}",
				  names[i], versions[i]);
		ids[i] = post_cluster(&f->d, spec);
		assert_true(ids[i] > 0);
		free(spec);
	}
	for (int i = 0; i < 2; i++)
		expect_succeeded(&f->d, ids[i]);

	for (int i = 0; i < 2; i++) {
		struct http_resp r;
		struct answer a;
		char *ns = xasprintf("es-default-%s", names[i]);
		char *proxy = xasprintf("/api/v1/namespaces/%s/services/https:es-http:9200/proxy"
					"/_cluster/health",
					ns);
		/* Through the service proxy (over TLS to the pod, the https:
		 * scheme): Elasticsearch's own 401, since the proxy passes no
		 * credentials on. */
		assert_true(sim_call(&f->sim, "GET", proxy, NULL, &r));
		assert_int_equal(r.status, 401);
		assert_string_equal(json_str(json_object_get(r.body, "error"), "type"),
				    "security_exception");
		http_resp_free(&r);
		/* In plain HTTP the node closes the connection: no data either. */
		char *plain = xasprintf("/api/v1/namespaces/%s/services/es-http:9200/proxy/", ns);
		assert_true(sim_call(&f->sim, "GET", plain, NULL, &r));
		assert_int_equal(r.status, 503);
		assert_non_null(strstr(r.raw, "error trying to reach service: EOF"));
		http_resp_free(&r);
		free(plain);

		/* The credentials, through the API. */
		char *path = xasprintf("/api/v1/clusters/%s/credentials", names[i]);
		assert_true(http_call(&f->d, "GET", path, NULL, NULL, &r));
		assert_int_equal(r.status, 200);
		char *password = xstrdup(json_str(r.body, "password"));
		char *ca = xstrdup(json_str(r.body, "ca_crt"));
		char *want_url = xasprintf("https://es-http.%s.svc:9200", ns);
		assert_string_equal(json_str(r.body, "url"), want_url);
		http_resp_free(&r);
		/* The Secret the pods read has the same password and CA; the
		 * nodes' certificate chains to that CA and names the service. */
		char *secret_path = xasprintf("/api/v1/namespaces/%s/secrets/es-security", ns);
		assert_true(sim_call(&f->sim, "GET", secret_path, NULL, &r));
		assert_int_equal(r.status, 200);
		json_t *data = json_object_get(r.body, "data");
		unsigned char *crt = NULL;
		size_t len = 0;
		const char *b64 = json_str(data, "tls.crt");
		assert_non_null(b64);
		assert_true(base64_decode(b64, strlen(b64), &crt, &len, NULL));
		char err[256];
		char *host = xasprintf("es-http.%s.svc", ns);
		assert_true(pki_verify(ca, (const char *)crt, host, err, sizeof(err)));
		free(host);
		free(crt);
		/* Kibana's user signs in with the Secret's password, which the
		 * create set in Elasticsearch. */
		unsigned char *kpw = NULL;
		b64 = json_str(data, "kibana_system");
		assert_non_null(b64);
		assert_true(base64_decode(b64, strlen(b64), &kpw, &len, NULL));
		char *kibana = xasprintf("kibana_system:%s", (const char *)kpw);
		free(kpw);
		http_resp_free(&r);

		/* A tenant's client: nothing without credentials, in with them. */
		assert_int_equal(tenant_get(f, ns, "/_cluster/health", ca, NULL, &a), 401);
		assert_non_null(strstr(a.buf, "missing authentication credentials"));
		char *wrong = xasprintf("elastic:%s-not", password);
		assert_int_equal(tenant_get(f, ns, "/", ca, wrong, &a), 401);
		char *userpwd = xasprintf("elastic:%s", password);
		assert_int_equal(tenant_get(f, ns, "/_cluster/health", ca, userpwd, &a), 200);
		assert_non_null(strstr(a.buf, "\"status\":\"green\""));
		assert_int_equal(tenant_get(f, ns, "/", ca, kibana, &a), 200);
		/* The tenant's other cluster is not admitted: its pods'
		 * connections are dropped, and time out (the client's 3 s;
		 * nothing is slept), with the right credentials too. */
		if (i == 0)
			assert_int_equal(pod_get(f->neighbour_port, 3, ns, "/", ca, userpwd, &a),
					 -(long)CURLE_OPERATION_TIMEDOUT);
		free(kibana);
		free(wrong);
		free(userpwd);
		free(secret_path);
		free(want_url);
		free(password);
		free(ca);
		free(path);
		free(proxy);
		free(ns);
	}

	/* esaas calls as its own user, whose password only the Secret and the
	 * database hold: the credentials API gives the tenant elastic. */
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM clusters WHERE es_security->>'esaas_user' ="
				 " 'true' AND es_security->>'esaas' IS NOT NULL",
				 0, NULL),
			 2);
	struct http_resp cr;
	assert_true(http_call(&f->d, "GET", "/api/v1/clusters/sec7/credentials", NULL, NULL, &cr));
	assert_int_equal(cr.status, 200);
	char *own = secret_password(f, "es-default-sec7", "esaas");
	assert_non_null(own);
	assert_string_equal(json_str(cr.body, "username"), "elastic");
	assert_string_not_equal(json_str(cr.body, "password"), own);
	assert_null(strstr(cr.raw, own));
	assert_null(strstr(cr.raw, "esaas_user"));
	/* Nor do the create's job, its events or esaasd's log show it. */
	for (int i = 0; i < 2; i++) {
		struct http_resp jr;
		char *jp = xasprintf("/api/v1/jobs/%lld%s", (long long)ids[0], i ? "/events" : "");
		assert_true(http_call(&f->d, "GET", jp, NULL, NULL, &jr));
		assert_int_equal(jr.status, 200);
		if (i)
			assert_non_null(strstr(jr.raw, "set_kibana_password"));
		assert_null(strstr(jr.raw, own));
		http_resp_free(&jr);
		free(jp);
	}
	FILE *log = fopen(f->d.log, "r");
	assert_non_null(log);
	char line[8192];
	size_t lines = 0;
	while (fgets(line, sizeof(line), log)) {
		lines++;
		assert_null(strstr(line, own));
	}
	fclose(log);
	assert_true(lines > 0);
	char *elastic = xasprintf("elastic:%s", json_str(cr.body, "password"));
	char *ca7 = xstrdup(json_str(cr.body, "ca_crt"));
	http_resp_free(&cr);

	/* The tenant changes elastic's password: esaas is not locked out. */
	struct answer a;
	assert_int_equal(tenant_get(f, "es-default-sec7", "/", ca7, elastic, &a), 200);
	assert_int_equal(pod_request(f->apps_port, 20, "POST", "es-default-sec7",
				     "/_security/user/elastic/_password",
				     "{\"password\": \"the-tenant-s-own\"}", ca7, elastic, &a),
			 200);
	assert_int_equal(tenant_get(f, "es-default-sec7", "/", ca7, elastic, &a), 401);
	long long by_elastic = authenticated(f, "es-default-sec7", "elastic");
	long long by_esaas = authenticated(f, "es-default-sec7", "esaas");

	/* A preview reads the live cluster as the operations do: over TLS,
	 * as esaas, through the pod network; nothing it could not read. */
	struct http_resp pr;
	assert_true(http_call(&f->d, "POST", "/api/v1/clusters/sec7/restart?dry_run=true", "{}",
			      NULL, &pr));
	assert_int_equal(pr.status, 200);
	size_t gi;
	json_t *gate;
	json_array_foreach (json_object_get(pr.body, "gates"), gi, gate)
		if (!strcmp(json_str(gate, "gate"), "unread"))
			fail_msg("the preview could not read the cluster: %s",
				 json_str(gate, "reason"));
	/* Its order comes from the live nodes: the masters last. */
	assert_int_equal(json_array_size(json_object_get(pr.body, "pods")), 3);
	http_resp_free(&pr);

	/* esaas's own operations, over TLS with the cluster's credentials. */
	operate(f, "POST", "/api/v1/clusters/sec7/scale", "{\"role\": \"data\", \"replicas\": 3}");
	/* Every request of the scale came as esaas, none as elastic. */
	assert_int_equal(authenticated(f, "es-default-sec7", "elastic"), by_elastic);
	assert_true(authenticated(f, "es-default-sec7", "esaas") > by_esaas);
	free(elastic);
	free(ca7);
	free(own);
	operate(f, "PATCH", "/api/v1/clusters/sec7/config",
		"{\"settings\": {\"cluster.routing.allocation.node_concurrent_recoveries\": 3}}");
	operate(f, "POST", "/api/v1/clusters/sec8/restart", "{\"role\": \"data\"}");

	/* The health sweep reads them too. */
	int64_t until = harness_now_ms() + 60000;
	bool green = false;
	while (!green && harness_now_ms() < until) {
		struct http_resp r;
		assert_true(http_call(&f->d, "GET", "/api/v1/clusters/sec8", NULL, NULL, &r));
		const char *h = json_str(json_object_get(r.body, "health"), "status");
		green = h && !strcmp(h, "green");
		http_resp_free(&r);
		if (!green)
			msleep(200);
	}
	assert_true(green);

	/* Deleted, a cluster keeps no credentials in the database. */
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM clusters WHERE es_security IS NOT NULL", 0,
				 NULL),
			 2);
	operate(f, "DELETE", "/api/v1/clusters/sec7", NULL);
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM clusters WHERE es_security IS NOT NULL", 0,
				 NULL),
			 1);
}

/*
 * A cluster created while esaasd ran without security gets it from a
 * secure job once the operator has turned security on: every node stops
 * and starts again secured (TLS between the nodes cannot come one node at
 * a time), its index is still there, strangers get Elasticsearch's 401,
 * the tenant gets the credentials through the API, and esaas operates it
 * with them.  A second secure is refused.
 */
static void test_secure_gives_a_cluster_made_without_security_its_own(void **state)
{
	struct fixture *f = *state = fixture_with("false");
	int64_t id =
		post_cluster(&f->d, "{\"name\": \"plain\", \"version\": \"7.17.10\","
				    " \"masters\": {\"replicas\": 1},"
				    " \"data\": {\"replicas\": 2}, \"clients\": {\"replicas\": 0},"
				    " \"network\": {\"allow\": [{\"namespace\": \"apps\"}]}}");
	assert_true(id > 0);
	expect_succeeded(&f->d, id);
	const char *ns = "es-default-plain";
	struct http_resp r;
	/* An index of the tenant's, through the service proxy in plain HTTP. */
	assert_true(sim_call(&f->sim, "PUT",
			     "/api/v1/namespaces/es-default-plain/services/es-http:9200/proxy/kept",
			     "{\"settings\": {\"number_of_shards\": 2, \"number_of_replicas\": 1}}",
			     &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);

	/* Refused while esaasd could not call a secured cluster. */
	long status = 0;
	api_op(&f->d, "POST", "/api/v1/clusters/plain/secure", NULL, &status);
	assert_int_equal(status, 409);

	/* The operator turns security on (the default with elasticsearch.url). */
	assert_int_equal(esaasd_stop(&f->d, SIGTERM, true), 0);
	esaasd_up(f, NULL);
	id = api_op(&f->d, "POST", "/api/v1/clusters/plain/secure", NULL, &status);
	assert_int_equal(status, 202);
	expect_succeeded(&f->d, id);
	char *trail = job_trail(f->sql, id);
	assert_non_null(strstr(trail, "full_stop secure_switch full_wait_started"));
	free(trail);

	/* Strangers: Elasticsearch's own 401 behind the service proxy. */
	assert_true(sim_call(&f->sim, "GET",
			     "/api/v1/namespaces/es-default-plain/services/https:es-http:9200/proxy"
			     "/_cluster/health",
			     NULL, &r));
	assert_int_equal(r.status, 401);
	http_resp_free(&r);
	/* The tenant: the credentials, and the index kept. */
	assert_true(http_call(&f->d, "GET", "/api/v1/clusters/plain/credentials", NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	char *userpwd = xasprintf("elastic:%s", json_str(r.body, "password"));
	char *ca = xstrdup(json_str(r.body, "ca_crt"));
	http_resp_free(&r);
	struct answer a;
	assert_int_equal(tenant_get(f, ns, "/_cluster/health", ca, NULL, &a), 401);
	assert_int_equal(tenant_get(f, ns, "/kept/_settings", ca, userpwd, &a), 200);
	assert_non_null(strstr(a.buf, "\"number_of_shards\":\"2\""));
	/* The tenant changes elastic's password (a health read made with the
	 * record from before the user would now be refused, and not counted). */
	assert_int_equal(pod_request(f->apps_port, 20, "POST", ns,
				     "/_security/user/elastic/_password",
				     "{\"password\": \"the-tenant-s-own\"}", ca, userpwd, &a),
			 200);
	free(userpwd);
	free(ca);

	/* esaas operates it as its own user; a second secure is refused. */
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM clusters WHERE name = 'plain' AND"
				 " es_security->>'esaas_user' = 'true'",
				 0, NULL),
			 1);
	long long by_elastic = authenticated(f, ns, "elastic");
	long long by_esaas = authenticated(f, ns, "esaas");
	operate(f, "POST", "/api/v1/clusters/plain/restart", "{\"role\": \"data\"}");
	assert_int_equal(authenticated(f, ns, "elastic"), by_elastic);
	assert_true(authenticated(f, ns, "esaas") > by_esaas);
	api_op(&f->d, "POST", "/api/v1/clusters/plain/secure", NULL, &status);
	assert_int_equal(status, 409);
}

/*
 * A cluster secured before esaas had a user of its own (its record and
 * Secret without esaas's password): esaasd calls it as elastic, and a
 * secure job makes only esaas's user, restarting nothing (while the tenant
 * has changed elastic's password it cannot, and fails leaving the cluster
 * as it was); from then on esaasd calls as that user.  A second secure is
 * refused.
 */
static void test_secure_gives_a_cluster_secured_before_esaas_s_own_user_that_user(void **state)
{
	struct fixture *f = *state = fixture_new();
	const char *ns = "es-default-old";
	int64_t id =
		post_cluster(&f->d, "{\"name\": \"old\", \"version\": \"7.17.10\","
				    " \"masters\": {\"replicas\": 1},"
				    " \"data\": {\"replicas\": 2}, \"clients\": {\"replicas\": 0},"
				    " \"network\": {\"allow\": [{\"namespace\": \"apps\"}]}}");
	assert_true(id > 0);
	expect_succeeded(&f->d, id);
	/* As such a cluster's record and Secret are (its nodes keep the user
	 * the create made, as if the tenant had made one of that name: the
	 * secure's update gives it esaas's new password). */
	char *first = secret_password(f, ns, "esaas");
	assert_non_null(first);
	const char *name[] = {"old"};
	PGresult *res = PQexecParams(f->sql,
				     "UPDATE clusters SET es_security = es_security - 'esaas'"
				     " - 'esaas_user' WHERE name = $1",
				     1, NULL, name, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	struct http_resp r;
	const char *secret = "/api/v1/namespaces/es-default-old/secrets/es-security";
	assert_true(sim_call(&f->sim, "GET", secret, NULL, &r));
	assert_int_equal(r.status, 200);
	json_object_del(json_object_get(r.body, "data"), "esaas");
	char *body = json_dumps(r.body, JSON_COMPACT);
	http_resp_free(&r);
	assert_true(sim_call(&f->sim, "PUT", secret, body, &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	free(body);

	/* Until the secure, esaasd calls it as elastic. */
	long long by_elastic = authenticated(f, ns, "elastic");
	operate(f, "POST", "/api/v1/clusters/old/restart", "{\"role\": \"data\"}");
	assert_true(authenticated(f, ns, "elastic") > by_elastic);

	/* While the tenant has another password for elastic, the user cannot
	 * be made: the job fails, and its cleanup leaves the Secret as the
	 * record is, so that a secure may go again once elastic is back. */
	assert_true(http_call(&f->d, "GET", "/api/v1/clusters/old/credentials", NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	char *ca = xstrdup(json_str(r.body, "ca_crt"));
	char *elastic = xasprintf("elastic:%s", json_str(r.body, "password"));
	char *reset = xasprintf("{\"password\": \"%s\"}", json_str(r.body, "password"));
	http_resp_free(&r);
	struct answer a;
	assert_int_equal(pod_request(f->apps_port, 20, "POST", ns,
				     "/_security/user/elastic/_password",
				     "{\"password\": \"for-a-while\"}", ca, elastic, &a),
			 200);
	long status = 0;
	id = api_op(&f->d, "POST", "/api/v1/clusters/old/secure", NULL, &status);
	assert_int_equal(status, 202);
	json_t *job = wait_job_done(&f->d, id, 300000);
	assert_non_null(job);
	assert_string_equal(json_str(job, "status"), "failed");
	assert_string_equal(json_str(job, "failed_state"), "set_kibana_password");
	json_decref(job);
	char *none = secret_password(f, ns, "esaas");
	assert_null(none);
	assert_int_equal(pod_request(f->apps_port, 20, "POST", ns,
				     "/_security/user/elastic/_password", reset, ca,
				     "elastic:for-a-while", &a),
			 200);

	id = api_op(&f->d, "POST", "/api/v1/clusters/old/secure", NULL, &status);
	assert_int_equal(status, 202);
	expect_succeeded(&f->d, id);
	char *trail = job_trail(f->sql, id);
	assert_non_null(strstr(trail, "secure_make secure_user_secret set_kibana_password"));
	assert_null(strstr(trail, "full_stop"));
	free(trail);
	assert_int_equal(sql_int(f->sql,
				 "SELECT count(*) FROM clusters WHERE name = 'old' AND"
				 " es_security->>'esaas_user' = 'true'",
				 0, NULL),
			 1);
	/* A new password, in the Secret too, and the nodes take it. */
	char *made = secret_password(f, ns, "esaas");
	assert_non_null(made);
	assert_string_not_equal(made, first);
	assert_true(http_call(&f->d, "GET", "/api/v1/clusters/old/credentials", NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	assert_string_equal(json_str(r.body, "username"), "elastic");
	http_resp_free(&r);
	char *own = xasprintf("esaas:%s", made);
	assert_int_equal(tenant_get(f, ns, "/", ca, own, &a), 200);

	/* The tenant changes elastic's password: esaas goes on as itself (a
	 * health read made with the record from before the secure would now
	 * be refused, and not counted). */
	assert_int_equal(pod_request(f->apps_port, 20, "POST", ns,
				     "/_security/user/elastic/_password",
				     "{\"password\": \"the-tenant-s-own\"}", ca, elastic, &a),
			 200);
	by_elastic = authenticated(f, ns, "elastic");
	long long by_esaas = authenticated(f, ns, "esaas");
	operate(f, "POST", "/api/v1/clusters/old/restart", "{\"role\": \"data\"}");
	assert_int_equal(authenticated(f, ns, "elastic"), by_elastic);
	assert_true(authenticated(f, ns, "esaas") > by_esaas);
	api_op(&f->d, "POST", "/api/v1/clusters/old/secure", NULL, &status);
	assert_int_equal(status, 409);
	free(reset);
	free(elastic);
	free(own);
	free(ca);
	free(made);
	free(first);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(
			test_secured_clusters_refuse_strangers_and_esaas_still_operates_them,
			teardown),
		cmocka_unit_test_teardown(test_secure_gives_a_cluster_made_without_security_its_own,
					  teardown),
		cmocka_unit_test_teardown(
			test_secure_gives_a_cluster_secured_before_esaas_s_own_user_that_user,
			teardown),
	};
	if (getenv("ESAAS_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ESAAS_TEST_FILTER"));
	return harness_run_group(tests, group_setup, group_teardown);
}
