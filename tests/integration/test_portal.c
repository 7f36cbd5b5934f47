/*
 * The self-service portal (/ui) end to end: headless Chromium drives the
 * pages (tests/browser/portal.test.mjs, one scenario per test) against a
 * real PostgreSQL, esaas-sim, a plugin repository and esaasd-test, as a
 * person would: apply for a cluster, watch it become ready, see it, scale
 * it, restart it, install a plugin, change a setting, delete it; manage
 * tenants, quotas and tokens; and a viewer who is offered no action.
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
#include <unistd.h>

#include "common/util.h"
#include "tests/integration/harness.h"

#define SCENARIO_TIMEOUT_S 150

/* The plugin repository's archives: what the scenarios install. */
static const char *const REPO_FILES[] = {"analysis-icu-7.17.10.zip", "mapper-size-7.17.10.zip",
					 NULL};

/* The health sweep every second, so that the cluster page has a history. */
static const char MONITOR_YAML[] = "monitor:\n  interval_seconds: 1\n  jitter_percent: 10\n";

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
	static const char *const modules[] = {"playwright-core", "axe-core"};

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

static int group_setup(void **state)
{
	if (!pg_start(&pg) || !pg_new_database(&pg, portal.dburl, sizeof(portal.dburl)))
		return -1;
	if (!sim_start(&portal.sim, pg.dir, NULL) || !repo_start(&portal.repo, pg.dir, REPO_FILES))
		return -1;
	char *ui_dir = xasprintf("%s/ui", harness_srcdir());
	setenv("ESAAS_HTTP_UI_DIR", ui_dir, 1);
	free(ui_dir);
	struct esaasd_opts o = {.kubeconfig = portal.sim.kubeconfig,
				.plugin_repository = portal.repo.url,
				.poll_s = 1,
				.retry_base_ms = 50,
				.retry_cap_ms = 300,
				.log_level = "info",
				.extra_yaml = MONITOR_YAML};
	if (!esaasd_start(&portal.d, pg.dir, portal.dburl, &o))
		return -1;
	if (!make_token("viewer", portal.viewer_token, sizeof(portal.viewer_token)) ||
	    !make_token("member", portal.member_token, sizeof(portal.member_token)))
		return -1;
	snprintf(portal.shots, sizeof(portal.shots), "%s/screenshots", pg.dir);
	if (mkdir(portal.shots, 0755) != 0 && errno != EEXIST)
		return -1;
	portal.browser = find_browser();
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

/* Run one scenario of portal.test.mjs; true when it passed. */
static bool scenario(const char *name)
{
	setenv("ESAAS_UI_BASE", portal.d.base, 1);
	setenv("ESAAS_UI_TOKEN", harness_token(&portal.d), 1);
	setenv("ESAAS_UI_VIEWER_TOKEN", portal.viewer_token, 1);
	setenv("ESAAS_UI_MEMBER_TOKEN", portal.member_token, 1);
	setenv("ESAAS_UI_SCREENSHOTS", portal.shots, 1);
	setenv("ESAAS_CHROMIUM", chromium_path(), 1);
	setenv("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1", 1);
	char *cmd = xasprintf("timeout -k 5 %d node '%s/tests/browser/portal.test.mjs' %s",
			      SCENARIO_TIMEOUT_S, harness_srcdir(), name);
	fflush(stdout);
	int st = system(cmd);
	free(cmd);
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* The cluster's stored spec, or NULL when there is none. */
static json_t *cluster_spec(const char *name)
{
	char *path = xasprintf("/api/v1/clusters/%s", name);
	struct http_resp r;
	json_t *spec = NULL;

	if (http_call(&portal.d, "GET", path, NULL, NULL, &r) && r.status == 200)
		spec = json_incref(json_object_get(r.body, "spec"));
	http_resp_free(&r);
	free(path);
	return spec;
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
		json_integer_value(json_object_get(json_object_get(spec, "data"), "replicas")), 2);
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
		json_integer_value(json_object_get(json_object_get(spec, "data"), "replicas")), 3);
	json_t *plugins = json_object_get(spec, "plugins");
	assert_int_equal(json_array_size(plugins), 2);
	assert_string_equal(json_string_value(json_array_get(plugins, 1)), "mapper-size");
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
	http_resp_free(&r);
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
		/* In this order: each scenario works on what the one before left. */
		cmocka_unit_test(test_portal_apply),
		cmocka_unit_test(test_portal_cluster_page),
		cmocka_unit_test(test_portal_viewer_sees_no_actions),
		cmocka_unit_test(test_portal_member),
		cmocka_unit_test(test_portal_operate),
		cmocka_unit_test(test_portal_admin),
		cmocka_unit_test(test_portal_delete),
	};
	const char *filter = getenv("ESAAS_TEST_FILTER");
	if (filter && *filter)
		cmocka_set_test_filter(filter);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
