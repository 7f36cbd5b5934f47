/*
 * The hostile tenant: every attack of the security review
 * (docs/operations.md, "Network isolation"; issue 14), tried as a member of
 * one tenant would try it against another tenant's cluster on the same
 * fleet, each refused or contained, and nothing of the other tenant changed.
 *
 * Two tenants share one esaasd and one esaas-sim: "acme", the victim, with
 * the cluster "prod-logs", and "acme-prod", whose cluster "logs" is the pair
 * that made the same namespace as acme's before namespaces were unambiguous
 * (es-acme-prod-logs).  Both clusters are built once for the program;
 * every test attacks them as acme-prod's member and checks acme's cluster,
 * jobs and events against what they were before.
 *
 * A flood of bogus tokens is test_edge's (test_flood_leaves_jobs_and_leases).
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
#include <libpq-fe.h>

#include "common/util.h"
#include "tests/integration/harness.h"
#include "common/json.h"

#define VICTIM "acme"
#define VICTIM_CLUSTER "prod-logs"
#define ATTACKER "acme-prod"
#define ATTACKER_CLUSTER "logs"

static const char SIM_CONFIG[] =
	"tick_ms: 20\n"
	"nodes:\n  count: 4\n"
	"elasticsearch:\n  relocation_ms: 200\n  recovery_ms: 50\n  no_master_wait_ms: 500\n";

static const char SMALL[] = "\"version\": \"7.17.10\", \"masters\": {\"replicas\": 1},"
			    " \"data\": {\"replicas\": 1}, \"clients\": {\"replicas\": 0}";

/* The fleet both tenants share, built once (group_setup). */
static struct world {
	struct pg pg;
	char dburl[600];
	struct sim sim;
	struct esaasd d;
	PGconn *sql;
	char *attacker;	      /* a member token of acme-prod */
	char victim_ns[64];   /* prod-logs' namespace */
	char attacker_ns[64]; /* logs' namespace */
	char victim_job[24];  /* the create of prod-logs */
} w;

/* --- requests ----------------------------------------------------------------------- */

static long call_as(const char *token, const char *method, const char *path, const char *body,
		    struct http_resp *r)
{
	char auth[512];
	const char *h[] = {auth, NULL};

	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	if (!http_call(&w.d, method, path, body, h, r))
		fail_msg("%s %s: no answer", method, path);
	return r->status;
}

/* As the harness's admin; the answer's body, or NULL unless want. */
static json_t *admin(const char *method, const char *path, const char *body, long want)
{
	struct http_resp r;

	if (!http_call(&w.d, method, path, body, NULL, &r) || r.status != want) {
		http_resp_free(&r);
		return NULL;
	}
	json_t *b = json_incref(r.body);
	http_resp_free(&r);
	return b;
}

static char *token_new(const char *tenant, const char *role)
{
	char *body = xasprintf("{\"tenant\": \"%s\", \"role\": \"%s\"}", tenant, role);
	json_t *t = admin("POST", "/api/v1/tokens", body, 201);
	char *secret = t ? xstrdup(json_string_value(json_object_get(t, "token"))) : NULL;

	json_decref(t);
	free(body);
	return secret;
}

/* The create of name as token's tenant; its job id, 0 when refused. */
static int64_t create_as(const char *token, const char *name)
{
	struct http_resp r;
	char *body = xasprintf("{\"name\": \"%s\", %s}", name, SMALL);
	int64_t id = 0;

	if (call_as(token, "POST", "/api/v1/clusters", body, &r) == 202)
		id = json_integer_value(json_object_get(r.body, "id"));
	else
		fprintf(stderr, "create %s: %ld %s\n", name, r.status, r.raw);
	http_resp_free(&r);
	free(body);
	return id;
}

static bool stored_namespace(const char *tenant, const char *name, char *out, size_t len)
{
	const char *p[] = {tenant, name};
	PGresult *res =
		PQexecParams(w.sql,
			     "SELECT namespace FROM clusters WHERE tenant_id = $1 AND name = "
			     "$2 AND deleted_at IS NULL",
			     2, NULL, p, NULL, NULL, 0);
	bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
		  !PQgetisnull(res, 0, 0);

	if (ok)
		snprintf(out, len, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return ok;
}

static int group_setup(void **state)
{
	if (!pg_start(&w.pg) || !pg_new_database(&w.pg, w.dburl, sizeof(w.dburl)) ||
	    !sim_start(&w.sim, w.pg.dir, SIM_CONFIG))
		return -1;
	struct esaasd_opts o = {
		.kubeconfig = w.sim.kubeconfig, .retry_base_ms = 100, .retry_cap_ms = 500};
	if (!esaasd_start(&w.d, w.pg.dir, w.dburl, &o) || !(w.sql = sql_connect(w.dburl)))
		return -1;
	json_t *t1 = admin("PUT", "/api/v1/tenants/" VICTIM, NULL, 201);
	json_t *t2 = admin("PUT", "/api/v1/tenants/" ATTACKER, NULL, 201);
	bool tenants = t1 && t2;
	json_decref(t1);
	json_decref(t2);
	char *victim = token_new(VICTIM, "member");
	w.attacker = token_new(ATTACKER, "member");
	if (!tenants || !victim || !w.attacker)
		return -1;
	int64_t vid = create_as(victim, VICTIM_CLUSTER);
	int64_t aid = create_as(w.attacker, ATTACKER_CLUSTER);
	free(victim);
	snprintf(w.victim_job, sizeof(w.victim_job), "%lld", (long long)vid);
	if (vid <= 0 || aid <= 0 || !job_succeeded(&w.d, vid, 240000) ||
	    !job_succeeded(&w.d, aid, 240000))
		return -1;
	if (!stored_namespace(VICTIM, VICTIM_CLUSTER, w.victim_ns, sizeof(w.victim_ns)) ||
	    !stored_namespace(ATTACKER, ATTACKER_CLUSTER, w.attacker_ns, sizeof(w.attacker_ns)))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	int rc = w.d.pid > 0 ? esaasd_stop(&w.d, SIGTERM, true) : 0;
	int src = sim_stop(&w.sim);

	if (w.sql)
		PQfinish(w.sql);
	free(w.attacker);
	pg_finish(&w.pg);
	return rc == 0 && src == 0 ? 0 : -1;
}

/* --- what the victim has ------------------------------------------------------------ */

/* A Kubernetes list's items as "name labels spec" lines, in the server's
 * order, appended to *acc. */
static void append_items(struct sim *sim, const char *path, char **acc)
{
	struct http_resp r;
	size_t i;
	json_t *it;

	if (!sim_call(sim, "GET", path, NULL, &r) || r.status != 200)
		fail_msg("GET %s: %ld", path, r.status);
	json_array_foreach (json_object_get(r.body, "items"), i, it) {
		json_t *meta = json_object_get(it, "metadata");
		char *spec = json_dumps(json_object_get(it, "spec"), JSON_SORT_KEYS | JSON_COMPACT);
		char *labels =
			json_dumps(json_object_get(meta, "labels"), JSON_SORT_KEYS | JSON_COMPACT);
		char *next = xasprintf("%s%s %s %s\n", *acc,
				       json_string_value(json_object_get(meta, "name")),
				       labels ? labels : "-", spec ? spec : "-");
		free(*acc);
		*acc = next;
		free(spec);
		free(labels);
	}
	http_resp_free(&r);
}

/*
 * Everything of acme's that an attack could change: its cluster's row
 * (spec, target spec, namespace), its jobs and their events, and the
 * objects of its namespace as Kubernetes has them (their specs and labels;
 * statuses move by themselves).  The caller frees it.
 */
static char *victim_snapshot(void)
{
	const char *p[] = {VICTIM};
	PGresult *res = PQexecParams(
		w.sql,
		"SELECT (SELECT string_agg(name || ' ' || spec::text || ' ' || "
		"coalesce(namespace, '-'), ';' ORDER BY id) FROM clusters WHERE tenant_id = $1), "
		"(SELECT string_agg(id || ' ' || kind || ' ' || status || ' ' || state, ';' ORDER "
		"BY id) FROM jobs WHERE tenant_id = $1), "
		"(SELECT count(*) FROM job_events e JOIN jobs j ON j.id = e.job_id WHERE "
		"j.tenant_id = $1)",
		1, NULL, p, NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		fail_msg("reading acme's rows: %s", PQerrorMessage(w.sql));
	char *acc = xasprintf("clusters %s\njobs %s\nevents %s\n", PQgetvalue(res, 0, 0),
			      PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
	PQclear(res);
	/* The collections of acme's namespace, each "<prefix><namespace>/<plural>". */
	static const char *const lists[][2] = {
		{"/api/v1/namespaces/", "services"},
		{"/api/v1/namespaces/", "configmaps"},
		{"/api/v1/namespaces/", "resourcequotas"},
		{"/apis/apps/v1/namespaces/", "statefulsets"},
		{"/apis/policy/v1/namespaces/", "poddisruptionbudgets"},
		{"/apis/networking.k8s.io/v1/namespaces/", "networkpolicies"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(lists); i++) {
		char *list = xasprintf("%s%s/%s", lists[i][0], w.victim_ns, lists[i][1]);

		append_items(&w.sim, list, &acc);
		free(list);
	}
	struct http_resp r;
	char path[256];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s", w.victim_ns);
	assert_true(sim_call(&w.sim, "GET", path, NULL, &r));
	assert_int_equal(r.status, 200);
	char *labels = json_dumps(json_object_get(json_object_get(r.body, "metadata"), "labels"),
				  JSON_SORT_KEYS | JSON_COMPACT);
	char *next = xasprintf("%snamespace %s\n", acc, labels);
	free(labels);
	free(acc);
	http_resp_free(&r);
	return next;
}

static void expect_unchanged(const char *before)
{
	char *after = victim_snapshot();

	if (strcmp(before, after) != 0)
		fail_msg("acme's cluster changed.\nbefore:\n%s\nafter:\n%s", before, after);
	free(after);
}

/* A 422 whose error names field (its "field") and says why. */
static void expect_refused(const char *method, const char *path, const char *body,
			   const char *field)
{
	struct http_resp r;
	long st = call_as(w.attacker, method, path, body, &r);
	json_t *e = json_object_get(r.body, "error");
	const char *f = json_string_value(json_object_get(e, "field"));
	const char *m = json_string_value(json_object_get(e, "message"));

	if (st != 422 || !f || strcmp(f, field) != 0 || !m || !m[0])
		fail_msg("%s %s %s: %ld, expected 422 naming %s: %s", method, path, body, st, field,
			 r.raw);
	http_resp_free(&r);
}

/* --- another tenant's cluster, by name and by id, through every route -------------- */

struct attack {
	const char *method;
	const char *pattern; /* the route, as GET /api/v1 lists it */
	const char *path;    /* {job} is acme's create */
	const char *body;
	long want;
};

#define VC "/api/v1/clusters/" VICTIM_CLUSTER

static const struct attack attacks[] = {
	{"GET", "/api/v1/clusters", "/api/v1/clusters?tenant=" VICTIM, NULL, 404},
	{"POST", "/api/v1/clusters", "/api/v1/clusters?tenant=" VICTIM,
	 "{\"name\": \"" VICTIM_CLUSTER "\"}", 404},
	{"GET", "/api/v1/clusters/{name}", VC, NULL, 404},
	{"GET", "/api/v1/clusters/{name}", VC "?tenant=" VICTIM, NULL, 404},
	{"GET", "/api/v1/clusters/{name}/health-history", VC "/health-history?tenant=" VICTIM, NULL,
	 404},
	{"GET", "/api/v1/clusters/{name}/nodes", VC "/nodes?tenant=" VICTIM, NULL, 404},
	{"GET", "/api/v1/clusters/{name}/nodes", VC "/nodes", NULL, 404},
	{"GET", "/api/v1/clusters/{name}/credentials", VC "/credentials?tenant=" VICTIM, NULL, 404},
	{"GET", "/api/v1/clusters/{name}/credentials", VC "/credentials", NULL, 404},
	{"DELETE", "/api/v1/clusters/{name}", VC "?dry_run=true&tenant=" VICTIM, NULL, 404},
	{"POST", "/api/v1/clusters/{name}/scale", VC "/scale?dry_run=true&tenant=" VICTIM,
	 "{\"role\": \"data\", \"replicas\": 2}", 404},
	{"DELETE", "/api/v1/clusters/{name}", VC "?wipe_data=true", NULL, 404},
	{"DELETE", "/api/v1/clusters/{name}", VC "?tenant=" VICTIM "&wipe_data=true", NULL, 404},
	{"POST", "/api/v1/clusters/{name}/scale", VC "/scale?tenant=" VICTIM,
	 "{\"role\": \"data\", \"replicas\": 2}", 404},
	{"POST", "/api/v1/clusters/{name}/restart", VC "/restart?tenant=" VICTIM, "{}", 404},
	{"POST", "/api/v1/clusters/{name}/upgrade", VC "/upgrade?tenant=" VICTIM,
	 "{\"version\": \"7.17.10\"}", 404},
	{"POST", "/api/v1/clusters/{name}/secure", VC "/secure?tenant=" VICTIM, NULL, 404},
	{"POST", "/api/v1/clusters/{name}/secure", VC "/secure", NULL, 404},
	{"PATCH", "/api/v1/clusters/{name}/config", VC "/config?tenant=" VICTIM,
	 "{\"settings\": {\"search.max_buckets\": 1}}", 404},
	{"POST", "/api/v1/clusters/{name}/plugins", VC "/plugins?tenant=" VICTIM,
	 "{\"name\": \"analysis-icu\"}", 404},
	{"DELETE", "/api/v1/clusters/{name}/plugins/{plugin}",
	 VC "/plugins/analysis-icu?tenant=" VICTIM, NULL, 404},
	{"POST", "/api/v1/clusters/{name}/kibana", VC "/kibana?tenant=" VICTIM, "{\"replicas\": 1}",
	 404},
	{"POST", "/api/v1/clusters/{name}/pause", VC "/pause?tenant=" VICTIM,
	 "{\"reason\": \"hostile\"}", 404},
	{"POST", "/api/v1/clusters/{name}/pause", VC "/pause", "{\"reason\": \"hostile\"}", 404},
	{"POST", "/api/v1/clusters/{name}/resume", VC "/resume?tenant=" VICTIM,
	 "{\"reason\": \"hostile\"}", 404},
	{"POST", "/api/v1/clusters/{name}/resume", VC "/resume", "{\"reason\": \"hostile\"}", 404},
	{"GET", "/api/v1/clusters/{name}/snapshots", VC "/snapshots?tenant=" VICTIM, NULL, 404},
	{"GET", "/api/v1/clusters/{name}/snapshots", VC "/snapshots", NULL, 404},
	{"POST", "/api/v1/clusters/{name}/snapshots", VC "/snapshots?tenant=" VICTIM, "{}", 404},
	{"POST", "/api/v1/clusters/{name}/snapshots", VC "/snapshots?dry_run=true", "{}", 404},
	{"POST", "/api/v1/clusters/{name}/restore", VC "/restore?tenant=" VICTIM,
	 "{\"snapshot\": \"s\"}", 404},
	/* A clone of the victim's cluster into the attacker's tenant. */
	{"POST", "/api/v1/clusters", "/api/v1/clusters",
	 "{\"name\": \"stolen\", \"restore\": {\"cluster\": \"" VICTIM_CLUSTER
	 "\", \"snapshot\": \"s\"}}",
	 404},
	{"PUT", "/api/v1/clusters/{name}/maintenance", VC "/maintenance?tenant=" VICTIM,
	 "{\"time_zone\": \"UTC\", \"windows\": []}", 404},
	{"PUT", "/api/v1/clusters/{name}/maintenance", VC "/maintenance",
	 "{\"time_zone\": \"UTC\", \"windows\": []}", 404},
	{"DELETE", "/api/v1/clusters/{name}/maintenance", VC "/maintenance?tenant=" VICTIM, NULL,
	 404},
	{"POST", "/api/v1/clusters/{name}/restart", VC "/restart?tenant=" VICTIM,
	 "{\"urgent\": {\"reason\": \"hostile\"}}", 404},
	{"GET", "/api/v1/jobs", "/api/v1/jobs?tenant=" VICTIM, NULL, 404},
	{"POST", "/api/v1/jobs", "/api/v1/jobs?tenant=" VICTIM,
	 "{\"kind\": \"restart\", \"cluster\": \"" VICTIM_CLUSTER "\", \"params\": {}}", 404},
	{"GET", "/api/v1/jobs/{id}", "/api/v1/jobs/{job}", NULL, 404},
	{"GET", "/api/v1/jobs/{id}/events", "/api/v1/jobs/{job}/events", NULL, 404},
	{"POST", "/api/v1/jobs/{id}/cancel", "/api/v1/jobs/{job}/cancel",
	 "{\"reason\": \"hostile\"}", 404},
	{"POST", "/api/v1/jobs/{id}/replay", "/api/v1/jobs/{job}/replay",
	 "{\"reason\": \"hostile\"}", 403},
	{"GET", "/api/v1/tenants/{tenant}", "/api/v1/tenants/" VICTIM, NULL, 404},
	{"GET", "/api/v1/tenants/{tenant}/usage", "/api/v1/tenants/" VICTIM "/usage", NULL, 404},
	{"PUT", "/api/v1/tenants/{tenant}", "/api/v1/tenants/" VICTIM, "{}", 403},
	{"PUT", "/api/v1/tenants/{tenant}/quota", "/api/v1/tenants/" VICTIM "/quota",
	 "{\"nodes\": 1}", 403},
	{"PUT", "/api/v1/tenants/{tenant}/maintenance", "/api/v1/tenants/" VICTIM "/maintenance",
	 "{\"time_zone\": \"UTC\", \"windows\": []}", 403},
	{"DELETE", "/api/v1/tenants/{tenant}/maintenance", "/api/v1/tenants/" VICTIM "/maintenance",
	 NULL, 403},
	{"POST", "/api/v1/tokens", "/api/v1/tokens",
	 "{\"tenant\": \"" VICTIM "\", \"role\": "
	 "\"member\"}",
	 403},
	{"GET", "/api/v1/tokens", "/api/v1/tokens?tenant=" VICTIM, NULL, 403},
	{"DELETE", "/api/v1/tokens/{id}", "/api/v1/tokens/0123456789ab", NULL, 403},
	{"GET", "/api/v1/tenants", "/api/v1/tenants", NULL, 403},
};

/* The routes that name a cluster, a job, a tenant or a token: each has an
 * attack above, so that a route added later is attacked too. */
static void expect_every_route_attacked(void)
{
	json_t *j = admin("GET", "/api/v1", NULL, 200);
	size_t i;
	json_t *route;

	assert_non_null(j);
	json_array_foreach (json_object_get(j, "routes"), i, route) {
		const char *m = json_string_value(json_object_get(route, "method"));
		const char *p = json_string_value(json_object_get(route, "path"));
		bool attacked = false;

		if (strncmp(p, "/api/v1/clusters", 16) != 0 &&
		    strncmp(p, "/api/v1/jobs", 12) != 0 &&
		    strncmp(p, "/api/v1/tenants/", 16) != 0 &&
		    strncmp(p, "/api/v1/tokens", 14) != 0)
			continue;
		for (size_t k = 0; k < ARRAY_SIZE(attacks); k++)
			attacked |= strcmp(attacks[k].method, m) == 0 &&
				    strcmp(attacks[k].pattern, p) == 0;
		if (!attacked)
			fail_msg("%s %s is not attacked by this test", m, p);
	}
	json_decref(j);
}

static void test_hostile_member_cannot_touch_another_tenants_cluster(void **state)
{
	char *before = victim_snapshot();

	expect_every_route_attacked();
	for (size_t k = 0; k < ARRAY_SIZE(attacks); k++) {
		const struct attack *a = &attacks[k];
		char *path = xstrdup(a->path);
		char *at = strstr(path, "{job}");
		struct http_resp r;

		if (at) {
			*at = '\0';
			char *full = xasprintf("%s%s%s", path, w.victim_job, at + 5);
			free(path);
			path = full;
		}
		long st = call_as(w.attacker, a->method, path, a->body, &r);
		if (st != a->want)
			fail_msg("%s %s as %s's member: %ld, expected %ld: %s", a->method, path,
				 ATTACKER, st, a->want, r.raw);
		/* Another tenant's cluster reads as one that exists nowhere. */
		if (st == 404 && r.raw && (strstr(r.raw, w.victim_ns) || strstr(r.raw, "ready")))
			fail_msg("%s %s: the 404 tells of acme's cluster: %s", a->method, path,
				 r.raw);
		http_resp_free(&r);
		free(path);
	}
	expect_unchanged(before);
	free(before);
}

/* --- what a spec may not ask for ------------------------------------------------------- */

/* Settings that reach outside the cluster or change its security: refused
 * at create and at a config update of the attacker's own cluster, naming
 * the key. */
static void test_hostile_settings_that_reach_outside_are_refused(void **state)
{
	char *before = victim_snapshot();
	char target[128];
	snprintf(target, sizeof(target), "es-http.%s.svc:9200", w.victim_ns);
	const struct {
		const char *key;
		const char *value; /* JSON */
	} outside[] = {
		{"reindex.remote.whitelist", NULL}, /* the victim's HTTP Service */
		{"http.cors.enabled", "true"},
		{"http.cors.allow-origin", "\"*\""},
		{"cluster.remote.victim.seeds", NULL},
		{"network.host", "\"0.0.0.0\""},
		{"path.data", "\"/es\""},
		{"path.repo", "\"/\""},
		{"xpack.security.enabled", "false"},
		{"xpack.monitoring.exporters.out.host", NULL},
	};

	for (size_t i = 0; i < ARRAY_SIZE(outside); i++) {
		char *value =
			outside[i].value ? xstrdup(outside[i].value) : xasprintf("\"%s\"", target);
		char *create = xasprintf("{\"name\": \"reach\", %s, \"config\": {\"%s\": %s}}",
					 SMALL, outside[i].key, value);
		char *update = xasprintf("{\"settings\": {\"%s\": %s}}", outside[i].key, value);
		char *cfield = xasprintf("config.%s", outside[i].key);
		char *sfield = xasprintf("settings.%s", outside[i].key);

		expect_refused("POST", "/api/v1/clusters", create, cfield);
		expect_refused("PATCH", "/api/v1/clusters/" ATTACKER_CLUSTER "/config", update,
			       sfield);
		free(value);
		free(create);
		free(update);
		free(cfield);
		free(sfield);
	}
	/* No cluster was made for any of them. */
	assert_int_equal(
		sql_int(w.sql, "SELECT count(*) FROM clusters WHERE name = 'reach'", 0, NULL), 0);
	expect_unchanged(before);
	free(before);
}

/* An image of the tenant's choosing would run as the cluster's nodes. */
static void test_hostile_image_not_allowed(void **state)
{
	char *before = victim_snapshot();
	char *spec = xasprintf("{\"name\": \"evil\", %s, \"image\": \"evil/es:1\"}", SMALL);

	expect_refused("POST", "/api/v1/clusters", spec, "image");
	free(spec);
	/* Not even the version's own image by another name. */
	spec = xasprintf("{\"name\": \"evil\", %s, \"image\": "
			 "\"docker.elastic.co/elasticsearch/elasticsearch:7.17.10\"}",
			 SMALL);
	expect_refused("POST", "/api/v1/clusters", spec, "image");
	free(spec);
	assert_int_equal(
		sql_int(w.sql, "SELECT count(*) FROM clusters WHERE name = 'evil'", 0, NULL), 0);
	expect_unchanged(before);
	free(before);
}

/* What would run a pod privileged, on the host, or open it up: no field of
 * the spec says so, and the ones that come close are checked. */
static void test_hostile_privileged_settings_refused(void **state)
{
	char *before = victim_snapshot();
	const struct {
		const char *extra; /* after SMALL */
		const char *field;
	} bad[] = {
		{"\"privileged\": true", "privileged"},
		{"\"securityContext\": {\"privileged\": true}", "securityContext"},
		{"\"hostNetwork\": true", "hostNetwork"},
		{"\"data\": {\"replicas\": 1, \"privileged\": true}", "data.privileged"},
		{"\"data\": {\"replicas\": 1, \"hostPath\": \"/\"}", "data.hostPath"},
		{"\"config\": {\"node.name\": \"x\"}", "config.node.name"},
		{"\"network\": {\"service_type\": \"LoadBalancer\"}", "network.service_type"},
		{"\"network\": {\"allow\": [{\"cidr\": \"0.0.0.1/0\"}]}", "network.allow[0].cidr"},
		{"\"network\": {\"allow\": [{\"namespace\": \"kube_system\"}]}",
		 "network.allow[0].namespace"},
		{"\"network\": {\"allow\": [{\"pod\": \"es-data-0\"}]}", "network.allow[0].pod"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		/* The later "data" or "config" key replaces SMALL's: duplicate
		 * keys are refused, so the spec is written whole. */
		char *spec =
			strstr(bad[i].extra, "\"data\"")
				? xasprintf("{\"name\": \"priv\", \"version\": \"7.17.10\", "
					    "\"masters\": {\"replicas\": 1}, %s}",
					    bad[i].extra)
				: xasprintf("{\"name\": \"priv\", %s, %s}", SMALL, bad[i].extra);

		expect_refused("POST", "/api/v1/clusters", spec, bad[i].field);
		free(spec);
	}
	assert_int_equal(
		sql_int(w.sql, "SELECT count(*) FROM clusters WHERE name = 'priv'", 0, NULL), 0);
	expect_unchanged(before);
	free(before);
}

/* --- the namespace ------------------------------------------------------------------- */

/*
 * acme-prod's "logs" and acme's "prod-logs" were both es-acme-prod-logs
 * once: the second create forced its objects over the first's.  Now the
 * pair that cannot be read one way gets a name of its own, and acme's
 * namespace is still acme's, labelled with its cluster's id.
 */
static void test_hostile_namespace_collision_name_is_contained(void **state)
{
	char *before = victim_snapshot();
	struct http_resp r;
	char path[128];

	assert_string_equal(w.victim_ns, "es-" VICTIM "-" VICTIM_CLUSTER);
	assert_string_not_equal(w.attacker_ns, w.victim_ns);
	assert_int_equal(strncmp(w.attacker_ns, "es-" ATTACKER_CLUSTER "-", 8), 0);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s", w.victim_ns);
	assert_true(sim_call(&w.sim, "GET", path, NULL, &r));
	json_t *labels = json_object_get(json_object_get(r.body, "metadata"), "labels");
	assert_string_equal(json_string_value(json_object_get(labels, "esaas.io/tenant")), VICTIM);
	assert_string_equal(json_string_value(json_object_get(labels, "esaas.io/cluster")),
			    VICTIM_CLUSTER);
	http_resp_free(&r);
	/* A second cluster of the colliding pair's other spelling, and one of
	 * the victim's very name: each in a namespace of its own. */
	int64_t id = create_as(w.attacker, VICTIM_CLUSTER);
	char ns[64];
	assert_true(id > 0);
	assert_true(stored_namespace(ATTACKER, VICTIM_CLUSTER, ns, sizeof(ns)));
	assert_string_not_equal(ns, w.victim_ns);
	assert_string_not_equal(ns, w.attacker_ns);
	json_decref(wait_job_done(&w.d, id, 240000));
	expect_unchanged(before);
	free(before);
}

/* --- the network --------------------------------------------------------------------- */

static bool pod_connects(const char *from_ns, const char *pod, const char *to_ns, const char *svc,
			 int port, char *error, size_t errlen)
{
	struct http_resp r;
	char *body = xasprintf("{\"from\": {\"namespace\": \"%s\", \"pod\": \"%s\"}, \"to\": "
			       "{\"namespace\": \"%s\", \"service\": \"%s\", \"port\": %d}}",
			       from_ns, pod, to_ns, svc, port);

	assert_true(sim_call(&w.sim, "POST", "/_sim/connect", body, &r));
	assert_int_equal(r.status, 200);
	bool ok = json_is_true(json_object_get(r.body, "connected"));
	snprintf(error, errlen, "%s",
		 json_string_value(json_object_get(r.body, "error"))
			 ? json_string_value(json_object_get(r.body, "error"))
			 : "");
	http_resp_free(&r);
	free(body);
	return ok;
}

/*
 * A pod of acme-prod's cluster (whose code a tenant influences: its
 * plugins, its scripts) opens connections to acme's Elasticsearch, HTTP
 * and transport: the default-deny policy of acme's namespace drops them.
 * acme's own pods and esaas (the API server's service proxy) still get
 * through, so the test would see a policy that drops everything.
 */
static void test_hostile_pod_cannot_reach_another_clusters_elasticsearch(void **state)
{
	char *before = victim_snapshot();
	char err[256];
	char headless[80];
	struct http_resp r;

	snprintf(headless, sizeof(headless), "es-%s", w.victim_ns);
	assert_false(pod_connects(w.attacker_ns, "es-data-0", w.victim_ns, "es-http", 9200, err,
				  sizeof(err)));
	assert_non_null(strstr(err, "i/o timeout"));
	assert_false(pod_connects(w.attacker_ns, "es-master-0", w.victim_ns, headless, 9300, err,
				  sizeof(err)));
	assert_non_null(strstr(err, "i/o timeout"));
	assert_false(pod_connects(w.attacker_ns, "es-master-0", w.victim_ns, headless, 9200, err,
				  sizeof(err)));
	/* acme's pods reach each other; acme-prod's their own. */
	assert_true(pod_connects(w.victim_ns, "es-data-0", w.victim_ns, "es-http", 9200, err,
				 sizeof(err)));
	assert_true(pod_connects(w.victim_ns, "es-data-0", w.victim_ns, headless, 9300, err,
				 sizeof(err)));
	assert_true(pod_connects(w.attacker_ns, "es-data-0", w.attacker_ns, "es-http", 9200, err,
				 sizeof(err)));
	/* esaas, through the service proxy, reaches acme's. */
	char path[256];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/services/es-http:9200/proxy/",
		 w.victim_ns);
	assert_true(sim_call(&w.sim, "GET", path, NULL, &r));
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	/* The HTTP Service has no node port to go round the policies by. */
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/services/es-http", w.victim_ns);
	assert_true(sim_call(&w.sim, "GET", path, NULL, &r));
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(r.body, "spec"), "type")),
		"ClusterIP");
	http_resp_free(&r);
	expect_unchanged(before);
	free(before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile_member_cannot_touch_another_tenants_cluster),
		cmocka_unit_test(test_hostile_settings_that_reach_outside_are_refused),
		cmocka_unit_test(test_hostile_image_not_allowed),
		cmocka_unit_test(test_hostile_privileged_settings_refused),
		cmocka_unit_test(test_hostile_pod_cannot_reach_another_clusters_elasticsearch),
		cmocka_unit_test(test_hostile_namespace_collision_name_is_contained),
	};
	return harness_run_group(tests, group_setup, group_teardown);
}
