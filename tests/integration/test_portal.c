/*
 * The self-service portal (/ui) end to end: headless Chromium drives the
 * pages (tests/browser/portal.test.mjs, one scenario per test) against a
 * real PostgreSQL, esaas-sim, a plugin repository and esaasd-test, as a
 * person would: apply for a cluster, watch it become ready, see it, scale
 * it, restart it, install a plugin, change a setting, delete it; manage
 * tenants, quotas and tokens; and a viewer who is offered no action.
 *
 * Signing in goes through a real OpenID Connect provider too (the npm
 * oidc-provider package, tests/browser/oidc-provider.mjs, on loopback):
 * the authorization code flow with PKCE in the browser, the ID token kept
 * in the tab and renewed before it expires.
 *
 * Each scenario audits every page it shows with axe-core and keeps a
 * screenshot of each in the PostgreSQL folder's screenshots/ (kept with
 * ESAAS_TEST_KEEP=1).  Like test_ui, it needs node, Debian's chromium and
 * tests/browser/node_modules (npm ci --prefix tests/browser); without them
 * it skips, unless ESAAS_TEST_BROWSER=1, when it fails.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "tests/integration/harness.h"

#define SCENARIO_TIMEOUT_S 150

/* The plugin repository's archives: what the scenarios install. */
static const char *const REPO_FILES[] = {"analysis-icu-7.17.10.zip", "mapper-size-7.17.10.zip",
					 "analysis-icu-8.17.0.zip", "mapper-size-8.17.0.zip", NULL};

/* The health sweep every second, so that the cluster page has a history. */
static const char MONITOR_YAML[] = "monitor:\n  interval_seconds: 1\n  jitter_percent: 10\n";

/* A snapshot repository, so that the portal takes and lists snapshots. */
static const char SNAPSHOTS_YAML[] = "snapshots:\n  nfs_server: nfs.storage.svc\n"
				     "  nfs_path: /exports/esaas\n";

/* The provider's ID tokens live this long, so that a scenario sees one renewed. */
#define ID_TOKEN_SECONDS 10

static struct pg pg;

static struct {
	char dburl[600];
	struct sim sim;
	struct repo repo;
	struct esaasd d;
	char shots[300];	/* the screenshots' folder */
	char viewer_token[128]; /* tenant default */
	char member_token[128]; /* tenant default */
	bool browser;
	char missing[256];
	pid_t idp_pid; /* the OpenID provider */
	int idp_port;
	char idp_ready[300];
} portal;

static bool make_token(const char *role, char *out, size_t len)
{
	char *body = xasprintf("{\"tenant\": \"default\", \"role\": \"%s\","
			       " \"description\": \"the portal's browser tests\"}",
			       role);
	struct http_resp r;
	bool ok = false;

	if (http_call(&portal.d, "POST", "/api/v1/tokens", body, NULL, &r) && r.status == 201 &&
	    json_is_string(json_object_get(r.body, "token"))) {
		str_copy_trunc(out, json_string_value(json_object_get(r.body, "token")), len);
		ok = true;
	} else {
		fprintf(stderr, "POST /api/v1/tokens: %ld %s\n", r.status, r.raw ? r.raw : "");
	}
	http_resp_free(&r);
	free(body);
	return ok;
}

static bool have_command(const char *cmd)
{
	char *line = xasprintf("%s >/dev/null 2>&1", cmd);
	int st = system(line);

	free(line);
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static const char *chromium_path(void)
{
	const char *c = getenv("ESAAS_CHROMIUM");
	return c && *c ? c : "/usr/bin/chromium";
}

static bool find_browser(void)
{
	static const char *const modules[] = {"playwright-core", "axe-core", "oidc-provider"};

	if (!have_command("node --version")) {
		snprintf(portal.missing, sizeof(portal.missing), "node is not installed");
		return false;
	}
	if (access(chromium_path(), X_OK) != 0) {
		snprintf(portal.missing, sizeof(portal.missing),
			 "no browser at %s (apt-get install chromium)", chromium_path());
		return false;
	}
	for (size_t i = 0; i < ARRAY_SIZE(modules); i++) {
		char *pkg = xasprintf("%s/tests/browser/node_modules/%s/package.json",
				      harness_srcdir(), modules[i]);
		bool there = access(pkg, R_OK) == 0;

		free(pkg);
		if (!there) {
			snprintf(portal.missing, sizeof(portal.missing),
				 "%s is not installed: npm ci --prefix tests/browser", modules[i]);
			return false;
		}
	}
	return true;
}

/* The OpenID provider, once esaasd's address (its redirect URI) is known. */
static bool start_provider(void)
{
	char *script = xasprintf("%s/tests/browser/oidc-provider.mjs", harness_srcdir());
	char *redirect = xasprintf("%s/ui/", portal.d.base);
	char port[16], ttl[16];
	pid_t pid;

	snprintf(port, sizeof(port), "%d", portal.idp_port);
	snprintf(ttl, sizeof(ttl), "%d", ID_TOKEN_SECONDS);
	snprintf(portal.idp_ready, sizeof(portal.idp_ready), "%s/idp-ready", pg.dir);
	unlink(portal.idp_ready);
	pid = fork();
	if (pid == 0) {
		char *log = xasprintf("%s/idp.log", pg.dir);
		if (!freopen(log, "w", stdout) || !freopen(log, "a", stderr))
			_exit(127);
		execlp("node", "node", script, port, redirect, portal.idp_ready, ttl, (char *)NULL);
		_exit(127);
	}
	free(script);
	free(redirect);
	if (pid < 0)
		return false;
	portal.idp_pid = pid;
	/* Listening once it has written its ready file. */
	for (int waited = 0; waited < 30000; waited += 100) {
		int st;

		if (access(portal.idp_ready, R_OK) == 0)
			return true;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			fprintf(stderr, "the OpenID provider exited; see %s/idp.log\n", pg.dir);
			portal.idp_pid = 0;
			return false;
		}
		msleep(100);
	}
	fprintf(stderr, "the OpenID provider did not start in 30 s; see %s/idp.log\n", pg.dir);
	return false;
}

static void stop_provider(void)
{
	if (portal.idp_pid <= 0)
		return;
	kill(portal.idp_pid, SIGTERM);
	waitpid(portal.idp_pid, NULL, 0);
	portal.idp_pid = 0;
}

static int group_setup(void **state)
{
	if (!pg_start(&pg) || !pg_new_database(&pg, portal.dburl, sizeof(portal.dburl)))
		return -1;
	if (!sim_start(&portal.sim, pg.dir, NULL) || !repo_start(&portal.repo, pg.dir, REPO_FILES))
		return -1;
	char *ui_dir = xasprintf("%s/ui", harness_srcdir());
	setenv("ESAAS_HTTP_UI_DIR", ui_dir, 1);
	free(ui_dir);
	/* esaasd names the provider, which names esaasd's /ui/ as its redirect
	 * URI: the provider's port first, the provider once esaasd is up.  The
	 * keys are fetched again at once when a token comes before them. */
	portal.idp_port = harness_free_port();
	char *yaml =
		xasprintf("%s%soidc:\n  issuer: http://127.0.0.1:%d\n  audience: esaas-portal\n"
			  "  client_id: esaas-portal\n  jwks_url: http://127.0.0.1:%d/jwks\n"
			  "  allow_insecure_jwks: true\n  refresh_min_seconds: 1\n"
			  /* The provider's accounts carry the roles' names. */
			  "  role_map: \"viewer=viewer, member=member\"\n",
			  MONITOR_YAML, SNAPSHOTS_YAML, portal.idp_port, portal.idp_port);
	struct esaasd_opts o = {.kubeconfig = portal.sim.kubeconfig,
				.plugin_repository = portal.repo.url,
				.poll_s = 1,
				.retry_base_ms = 50,
				.retry_cap_ms = 300,
				.log_level = "info",
				.extra_yaml = yaml};
	bool started = esaasd_start(&portal.d, pg.dir, portal.dburl, &o);
	free(yaml);
	if (!started)
		return -1;
	if (!make_token("viewer", portal.viewer_token, sizeof(portal.viewer_token)) ||
	    !make_token("member", portal.member_token, sizeof(portal.member_token)))
		return -1;
	snprintf(portal.shots, sizeof(portal.shots), "%s/screenshots", pg.dir);
	if (mkdir(portal.shots, 0755) != 0 && errno != EEXIST)
		return -1;
	portal.browser = find_browser();
	/* Without node there is no provider: test_portal_api still runs. */
	if (portal.browser && !start_provider())
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	if (portal.d.pid > 0) {
		int rc = esaasd_stop(&portal.d, SIGTERM, true);
		if (rc != 0)
			fprintf(stderr, "esaasd exited with %d on SIGTERM; see %s\n", rc,
				portal.d.log);
	}
	if (portal.sim.pid > 0)
		sim_stop(&portal.sim);
	if (portal.repo.pid > 0)
		repo_stop(&portal.repo);
	stop_provider();
	fprintf(stderr, "screenshots in %s (kept with ESAAS_TEST_KEEP=1)\n", portal.shots);
	pg_finish(&pg);
	return 0;
}

static void need_browser(void)
{
	const char *required = getenv("ESAAS_TEST_BROWSER");

	if (portal.browser)
		return;
	if (required && strcmp(required, "1") == 0)
		fail_msg("ESAAS_TEST_BROWSER=1 but %s", portal.missing);
	fprintf(stderr, "skipped: %s\n", portal.missing);
	skip();
}

/* Run one scenario of portal.test.mjs; true when it passed.  How long it
 * took is printed, so that what a scenario adds to the browser stage is
 * seen (a measure, not a check). */
static bool scenario(const char *name)
{
	setenv("ESAAS_UI_BASE", portal.d.base, 1);
	setenv("ESAAS_UI_TOKEN", harness_token(&portal.d), 1);
	setenv("ESAAS_UI_VIEWER_TOKEN", portal.viewer_token, 1);
	setenv("ESAAS_UI_MEMBER_TOKEN", portal.member_token, 1);
	setenv("ESAAS_UI_SCREENSHOTS", portal.shots, 1);
	char idp[64];
	snprintf(idp, sizeof(idp), "http://127.0.0.1:%d", portal.idp_port);
	setenv("ESAAS_UI_ISSUER", idp, 1);
	setenv("ESAAS_CHROMIUM", chromium_path(), 1);
	setenv("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1", 1);
	char *cmd = xasprintf("timeout -k 5 %d node '%s/tests/browser/portal.test.mjs' %s",
			      SCENARIO_TIMEOUT_S, harness_srcdir(), name);
	struct timespec t0, t1;
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int st = system(cmd);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	free(cmd);
	fprintf(stderr, "scenario %s took %.1f s\n", name,
		(double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* The cluster as GET /api/v1/clusters/{name} answers it; NULL if none. */
static json_t *cluster_get(const char *name)
{
	char *path = xasprintf("/api/v1/clusters/%s", name);
	struct http_resp r;
	json_t *c = NULL;

	if (http_call(&portal.d, "GET", path, NULL, NULL, &r) && r.status == 200)
		c = json_incref(r.body);
	http_resp_free(&r);
	free(path);
	return c;
}

/* The cluster's stored spec, or NULL when there is none. */
static json_t *cluster_spec(const char *name)
{
	json_t *c = cluster_get(name);
	json_t *spec = json_incref(json_object_get(c, "spec"));

	json_decref(c);
	return spec;
}

/* GET path with the given token (NULL: none); the status, the body in *body. */
static long call_as(const char *token, const char *path, json_t **body)
{
	char *auth = token ? xasprintf("Authorization: Bearer %s", token) : NULL;
	const char *headers[] = {auth ? auth : "Authorization:", NULL};
	struct http_resp r;
	long status = 0;

	*body = NULL;
	if (http_call(&portal.d, "GET", path, NULL, headers, &r)) {
		status = r.status;
		*body = json_incref(r.body);
	}
	http_resp_free(&r);
	free(auth);
	return status;
}

/* What the portal reads besides the clusters and jobs, without a browser. */
static void test_portal_api(void **state)
{
	json_t *b;
	char want[128];

	/* How to sign in: without a credential. */
	assert_int_equal(call_as(NULL, "/api/v1/auth", &b), 200);
	json_t *oidc = json_object_get(b, "oidc");
	snprintf(want, sizeof(want), "http://127.0.0.1:%d", portal.idp_port);
	assert_string_equal(json_string_value(json_object_get(oidc, "issuer")), want);
	assert_string_equal(json_string_value(json_object_get(oidc, "client_id")), "esaas-portal");
	json_decref(b);

	/* The page may fetch from the provider, and from nowhere else. */
	struct http_resp r;
	assert_true(http_call(&portal.d, "GET", "/ui/", NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	snprintf(want, sizeof(want), "connect-src 'self' http://127.0.0.1:%d; base-uri 'none'",
		 portal.idp_port);
	assert_non_null(r.headers);
	assert_non_null(strstr(r.headers, want));
	http_resp_free(&r);

	/* What each role may do. */
	static const struct {
		const char *role, *operate, *admin;
	} roles[] = {
		{"viewer", "none", "none"}, {"member", "own", "none"}, {"admin", "all", "all"}};
	for (size_t i = 0; i < ARRAY_SIZE(roles); i++) {
		const char *token = strcmp(roles[i].role, "viewer") == 0 ? portal.viewer_token
				    : strcmp(roles[i].role, "member") == 0
					    ? portal.member_token
					    : harness_token(&portal.d);
		assert_int_equal(call_as(token, "/api/v1/me", &b), 200);
		assert_string_equal(json_string_value(json_object_get(b, "role")), roles[i].role);
		assert_string_equal(json_string_value(json_object_get(b, "tenant")), "default");
		json_t *may = json_object_get(b, "may");
		assert_string_equal(json_string_value(json_object_get(may, "operate")),
				    roles[i].operate);
		assert_string_equal(json_string_value(json_object_get(may, "admin")),
				    roles[i].admin);
		assert_string_equal(json_string_value(json_object_get(may, "read")),
				    strcmp(roles[i].role, "admin") == 0 ? "all" : "own");
		json_decref(b);
	}
	assert_int_equal(call_as(NULL, "/api/v1/me", &b), 401);
	json_decref(b);

	/* The versions offered, each with its plugins. */
	assert_int_equal(call_as(portal.viewer_token, "/api/v1/versions", &b), 200);
	assert_string_equal(json_string_value(json_object_get(b, "default")), "7.17.10");
	json_t *versions = json_object_get(b, "versions");
	assert_int_equal(json_array_size(versions), 6);
	/* The newest last: 8.19.20, then 9.5.2. */
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(versions, 4), "version")),
		"8.19.20");
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(versions, 5), "version")),
		"9.5.2");
	json_t *v5 = json_array_get(versions, 1);
	assert_string_equal(json_string_value(json_object_get(v5, "version")), "5.6.16");
	bool geoip = false;
	size_t i;
	json_t *p;
	json_array_foreach (json_object_get(v5, "plugins"), i, p)
		geoip = geoip || strcmp(json_string_value(p), "ingest-geoip") == 0;
	assert_true(geoip);
	json_decref(b);

	/* The plugin repository's list for a version: a HEAD of each file. */
	assert_int_equal(call_as(portal.viewer_token, "/api/v1/versions/7.17.10/plugins", &b), 200);
	json_t *plugins = json_object_get(b, "plugins");
	assert_int_equal(json_array_size(plugins), 2);
	assert_string_equal(json_string_value(json_array_get(plugins, 0)), "analysis-icu");
	assert_string_equal(json_string_value(json_array_get(plugins, 1)), "mapper-size");
	assert_true(json_array_size(json_object_get(b, "missing")) > 10);
	assert_string_equal(json_string_value(json_object_get(b, "repository")), portal.repo.url);
	json_decref(b);
	assert_int_equal(call_as(portal.viewer_token, "/api/v1/versions/6.8.23/plugins", &b), 200);
	assert_int_equal(json_array_size(json_object_get(b, "plugins")), 0);
	json_decref(b);
	assert_int_equal(call_as(portal.viewer_token, "/api/v1/versions/3.1.0/plugins", &b), 422);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(b, "error"), "field")),
		"version");
	json_decref(b);

	/* The pods of a cluster that does not exist: none, 404. */
	assert_int_equal(call_as(portal.viewer_token, "/api/v1/clusters/no-such/nodes", &b), 404);
	assert_string_equal(json_string_value(json_object_get(json_object_get(b, "error"), "code")),
			    "not_found");
	json_decref(b);
}

static void test_portal_apply(void **state)
{
	need_browser();
	assert_true(scenario("apply"));
	/* What the form sent is what the cluster is. */
	json_t *spec = cluster_spec("portal-logs");
	assert_non_null(spec);
	assert_string_equal(json_string_value(json_object_get(spec, "version")), "7.17.10");
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(spec, "data"), "replicas")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(spec, "plugins"), 0)),
			    "analysis-icu");
	json_decref(spec);
}

static void test_portal_cluster_page(void **state)
{
	need_browser();
	assert_true(scenario("cluster"));
}

static void test_portal_operate(void **state)
{
	need_browser();
	assert_true(scenario("operate"));
	json_t *spec = cluster_spec("portal-logs");
	assert_non_null(spec);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(spec, "data"), "replicas")), 2);
	json_t *plugins = json_object_get(spec, "plugins");
	assert_int_equal(json_array_size(plugins), 2);
	assert_string_equal(json_string_value(json_array_get(plugins, 1)), "mapper-size");
	json_decref(spec);
}

static void test_portal_windows(void **state)
{
	need_browser();
	assert_true(scenario("windows"));
	/* Cleared at the end: the cluster has no windows of its own. */
	json_t *c = cluster_get("portal-logs");
	assert_non_null(c);
	assert_true(json_is_null(json_object_get(json_object_get(c, "maintenance"), "source")));
	json_decref(c);
}

static void test_portal_snapshots(void **state)
{
	need_browser();
	assert_true(scenario("snapshots"));
	/* Previewed only: the clone was not created. */
	json_t *spec = cluster_spec("portal-copy");
	assert_null(spec);
}

static void test_portal_upgrade(void **state)
{
	need_browser();
	assert_true(scenario("upgrade"));
	json_t *spec = cluster_spec("portal-logs");
	assert_non_null(spec);
	assert_string_equal(json_string_value(json_object_get(spec, "version")), "8.17.0");
	json_decref(spec);
}

static void test_portal_viewer_sees_no_actions(void **state)
{
	need_browser();
	assert_true(scenario("viewer"));
}

static void test_portal_member(void **state)
{
	need_browser();
	assert_true(scenario("member"));
}

static void test_portal_admin(void **state)
{
	struct http_resp r;

	need_browser();
	assert_true(scenario("admin"));
	/* The quota set on the page is the tenant's. */
	assert_true(http_call(&portal.d, "GET", "/api/v1/tenants/portal-team", NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(r.body, "quota"), "clusters")),
		4);
	/* And so are the default windows. */
	json_t *m = json_object_get(r.body, "maintenance");
	assert_string_equal(json_string_value(json_object_get(m, "time_zone")), "Europe/Berlin");
	assert_int_equal(json_array_size(json_object_get(m, "windows")), 1);
	http_resp_free(&r);
}

static void test_portal_oidc_sign_in(void **state)
{
	need_browser();
	assert_true(scenario("oidc"));
}

static void test_portal_oidc_viewer_sees_no_actions(void **state)
{
	need_browser();
	assert_true(scenario("oidc-viewer"));
}

static void test_portal_delete(void **state)
{
	need_browser();
	assert_true(scenario("delete"));
	json_t *spec = cluster_spec("portal-logs");
	assert_null(spec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_portal_api),
		/* In this order: each scenario works on what the one before left. */
		cmocka_unit_test(test_portal_apply),
		cmocka_unit_test(test_portal_cluster_page),
		cmocka_unit_test(test_portal_viewer_sees_no_actions),
		cmocka_unit_test(test_portal_member),
		cmocka_unit_test(test_portal_operate),
		cmocka_unit_test(test_portal_windows),
		cmocka_unit_test(test_portal_snapshots),
		cmocka_unit_test(test_portal_upgrade),
		cmocka_unit_test(test_portal_admin),
		cmocka_unit_test(test_portal_oidc_sign_in),
		cmocka_unit_test(test_portal_oidc_viewer_sees_no_actions),
		cmocka_unit_test(test_portal_delete),
	};
	const char *filter = getenv("ESAAS_TEST_FILTER");
	if (filter && *filter)
		cmocka_set_test_filter(filter);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
