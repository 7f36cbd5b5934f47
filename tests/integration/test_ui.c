/*
 * The job viewer: esaasd's /ui files and their headers, checked over HTTP
 * here, then the pages themselves in headless Chromium, one browser
 * scenario per test (tests/browser/viewer.test.mjs), against a real
 * PostgreSQL and a real esaasd-test holding the jobs each scenario needs.
 *
 * The API needs a token; the harness's admin token signs the browser in
 * through the viewer's own prompt, and a viewer token made here meets the
 * refusal of what its role may not do.
 *
 * The browser tests need node, Debian's chromium and playwright-core in
 * tests/browser/node_modules (npm ci --prefix tests/browser).  Without
 * them they skip, unless ESAAS_TEST_BROWSER=1 (dev/test's browser stage),
 * when they fail: a browser stage that tested nothing must not pass.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <curl/curl.h>

#include "common/util.h"
#include "tests/integration/harness.h"

#define SCENARIO_TIMEOUT_S 180

/* What the markup job carries; tests/browser/viewer.test.mjs expects the same. */
#define XSS_ACTOR "<script>alert(\"actor\")</script>"
#define XSS_NOTE "<script>alert(\"note\")</script><img src=x onerror=\"alert('note')\">"
#define XSS_FILE "<img src=x onerror=alert(1)>"

static struct pg pg;

/* One esaasd-test for every test: the scenarios share its jobs. */
static struct {
	char dburl[600];
	struct esaasd d;
	struct repo repo; /* the plugin repository: the clusters' plugins are checked there */
	char tmp[64];	  /* the gate files */
	char gate_file[256];
	int64_t failed_id;	/* test_gate, failed in gate while gate_file exists */
	int64_t xss_id;		/* test_gate, failed, with markup in actor, params and error */
	char viewer_token[128]; /* a viewer API token of tenant default */
	bool browser;		/* node, chromium and playwright-core are there */
	char missing[256];	/* what is not, otherwise */
} ui;

/* --- HTTP, with every header kept ------------------------------------------ */

struct reply {
	long status;
	char *head; /* the header lines as received */
	char *body;
	size_t len;
};

static size_t keep_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	char **buf = arg;
	size_t n = size * nmemb, have = *buf ? strlen(*buf) : 0;

	*buf = xrealloc(*buf, have + n + 1);
	memcpy(*buf + have, data, n);
	(*buf)[have + n] = '\0';
	return n;
}

/* method on base + path exactly as given (no ".." folding); extra header lines. */
static void fetch(const char *base, const char *method, const char *path, const char *header,
		  struct reply *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = header ? curl_slist_append(NULL, header) : NULL;
	char *url = xasprintf("%s%s", base, path);

	memset(r, 0, sizeof(*r));
	assert_non_null(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, keep_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->head);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	CURLcode rc = curl_easy_perform(c);
	if (rc != CURLE_OK)
		fprintf(stderr, "%s %s: %s\n", method, url, curl_easy_strerror(rc));
	assert_int_equal(rc, CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (!r->head)
		r->head = xstrdup("");
	if (!r->body)
		r->body = xstrdup("");
	r->len = strlen(r->body);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(url);
}

static void reply_free(struct reply *r)
{
	free(r->head);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* The value of header name in r (static buffer), or NULL. */
static const char *header(const struct reply *r, const char *name)
{
	static char value[512];
	size_t nl = strlen(name);

	for (const char *line = r->head; line && *line;) {
		const char *end = strstr(line, "\r\n");
		size_t len = end ? (size_t)(end - line) : strlen(line);

		if (len > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
			const char *v = line + nl + 1;
			while (*v == ' ')
				v++;
			snprintf(value, sizeof(value), "%.*s", (int)(len - (size_t)(v - line)), v);
			return value;
		}
		line = end ? end + 2 : line + len;
	}
	return NULL;
}

static void assert_header(const struct reply *r, const char *name, const char *want)
{
	const char *v = header(r, name);

	if (!v || strcmp(v, want) != 0)
		fail_msg("%s: \"%s\", expected \"%s\"\n%s", name, v ? v : "(none)", want, r->head);
}

/* The headers every /ui answer carries, errors included. */
static void assert_ui_headers(const struct reply *r)
{
	assert_header(r, "Content-Security-Policy",
		      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
		      "connect-src 'self'; base-uri 'none'; form-action 'none'; "
		      "frame-ancestors 'none'");
	assert_header(r, "X-Content-Type-Options", "nosniff");
	assert_header(r, "Referrer-Policy", "no-referrer");
}

static void assert_not_found(const char *base, const char *path)
{
	struct reply r;

	fetch(base, "GET", path, NULL, &r);
	if (r.status != 404)
		fail_msg("GET %s: %ld, expected 404\n%s", path, r.status, r.body);
	json_t *body = json_loads(r.body, 0, NULL);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(body, "error"), "code")),
		"not_found");
	json_decref(body);
	assert_ui_headers(&r);
	reply_free(&r);
}

/* "Authorization: Bearer <d's admin token>" (static buffer). */
static const char *auth_header(const struct esaasd *d)
{
	static char line[200];
	const char *token = harness_token(d);

	assert_non_null(token);
	snprintf(line, sizeof(line), "Authorization: Bearer %s", token);
	return line;
}

/* --- the stack ---------------------------------------------------------------- */

static void ui_dir_of_source(char *buf, size_t len)
{
	snprintf(buf, len, "%s/ui", harness_srcdir());
}

static bool start_esaasd(struct esaasd *d, const char *dburl, const char *ui_dir)
{
	struct esaasd_opts o = {.poll_s = 1, .log_level = "info", .plugin_repository = ui.repo.url};

	setenv("ESAAS_HTTP_UI_DIR", ui_dir, 1);
	return esaasd_start(d, pg.dir, dburl, &o);
}

static void stop_esaasd(struct esaasd *d)
{
	int rc = esaasd_stop(d, SIGTERM, true);

	if (rc != 0)
		fprintf(stderr, "esaasd exited with %d on SIGTERM; see %s\n", rc, d->log);
}

/* Submit through the generic API, with the actor given; returns the id or 0. */
static int64_t submit(const char *kind, const char *cluster, json_t *params, const char *actor)
{
	json_t *body =
		json_pack("{s:s, s:s, s:o}", "kind", kind, "cluster", cluster, "params", params);
	char *text = json_dumps(body, JSON_COMPACT);
	char *actor_header = actor ? xasprintf("X-Esaas-Actor: %s", actor) : NULL;
	const char *headers[] = {actor_header, NULL};
	struct http_resp r;
	int64_t id = 0;

	if (http_call(&ui.d, "POST", "/api/v1/jobs", text, headers, &r) && r.status == 202)
		id = json_integer_value(json_object_get(r.body, "id"));
	else
		fprintf(stderr, "submit %s: %ld %s\n", kind, r.status, r.raw ? r.raw : "");
	http_resp_free(&r);
	free(actor_header);
	free(text);
	json_decref(body);
	return id;
}

static bool touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0) {
		fprintf(stderr, "cannot create %s: %s\n", path, strerror(errno));
		return false;
	}
	close(fd);
	return true;
}

static int64_t failed_gate_job(const char *cluster, const char *file, json_t *extra,
			       const char *actor)
{
	json_t *params = json_pack("{s:s, s:{s:[s,s,s]}}", "gate_file", file, "plan", "settle",
				   "wait:600", "wait:600", "next");
	if (extra)
		json_object_update(params, extra);
	json_decref(extra);
	if (!touch(file))
		return 0;
	int64_t id = submit("test_gate", cluster, params, actor);
	if (!id)
		return 0;
	json_t *job = wait_job_done(&ui.d, id, 20000);
	const char *status = json_string_value(json_object_get(job, "status"));
	bool ok = status && strcmp(status, "failed") == 0;
	if (!ok)
		fprintf(stderr, "job %lld: %s, expected failed\n", (long long)id,
			status ? status : "no status");
	json_decref(job);
	return ok ? id : 0;
}

/* A viewer token of tenant default, made by the admin as a person would. */
static bool make_viewer_token(void)
{
	struct http_resp r;
	bool ok = false;

	if (http_call(&ui.d, "POST", "/api/v1/tokens",
		      "{\"tenant\": \"default\", \"role\": \"viewer\","
		      " \"description\": \"the job viewer's browser tests\"}",
		      NULL, &r) &&
	    r.status == 201 && json_is_string(json_object_get(r.body, "token"))) {
		str_copy_trunc(ui.viewer_token, json_string_value(json_object_get(r.body, "token")),
			       sizeof(ui.viewer_token));
		ok = true;
	} else {
		fprintf(stderr, "POST /api/v1/tokens: %ld %s\n", r.status, r.raw ? r.raw : "");
	}
	http_resp_free(&r);
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

/* Are node, chromium and playwright-core there?  Says what is not into ui.missing. */
static bool find_browser(void)
{
	char *pw = xasprintf("%s/tests/browser/node_modules/playwright-core/package.json",
			     harness_srcdir());
	bool ok = true;

	if (!have_command("node --version")) {
		snprintf(ui.missing, sizeof(ui.missing), "node is not installed");
		ok = false;
	} else if (access(chromium_path(), X_OK) != 0) {
		snprintf(ui.missing, sizeof(ui.missing),
			 "no browser at %s (apt-get install chromium)", chromium_path());
		ok = false;
	} else if (access(pw, R_OK) != 0) {
		snprintf(ui.missing, sizeof(ui.missing),
			 "playwright-core is not installed: npm ci --prefix tests/browser");
		ok = false;
	}
	free(pw);
	return ok;
}

static int group_setup(void **state)
{
	char dir[512];

	if (!pg_start(&pg) || !pg_new_database(&pg, ui.dburl, sizeof(ui.dburl)))
		return -1;
	ui_dir_of_source(dir, sizeof(dir));
	static const char *const files[] = {"analysis-icu-7.17.10.zip", NULL};
	if (!repo_start(&ui.repo, pg.dir, files) || !start_esaasd(&ui.d, ui.dburl, dir))
		return -1;
	str_copy_trunc(ui.tmp, "/tmp/esaas-ui-XXXXXX", sizeof(ui.tmp));
	if (!mkdtemp(ui.tmp))
		return -1;
	snprintf(ui.gate_file, sizeof(ui.gate_file), "%s/gate", ui.tmp);

	/* A failed job, and one whose every value from a person holds markup. */
	ui.failed_id = failed_gate_job("viewer", ui.gate_file, NULL, NULL);
	char *xss_file = xasprintf("%s/" XSS_FILE, ui.tmp);
	ui.xss_id = failed_gate_job("markup", xss_file, json_pack("{s:s}", "note", XSS_NOTE),
				    XSS_ACTOR);
	free(xss_file);
	if (!ui.failed_id || !ui.xss_id || !make_viewer_token())
		return -1;
	ui.browser = find_browser();
	return 0;
}

static int group_teardown(void **state)
{
	char *rm = xasprintf("rm -rf '%s'", ui.tmp);

	if (ui.d.pid > 0)
		stop_esaasd(&ui.d);
	repo_stop(&ui.repo);
	if (ui.tmp[0] && system(rm) != 0)
		fprintf(stderr, "cannot remove %s\n", ui.tmp);
	free(rm);
	pg_finish(&pg);
	return 0;
}

/* --- the files ------------------------------------------------------------------ */

static void test_index_and_files(void **state)
{
	struct reply r;
	char etag[128];

	fetch(ui.d.base, "GET", "/ui/", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_ui_headers(&r);
	assert_header(&r, "Content-Type", "text/html; charset=utf-8");
	assert_header(&r, "Cache-Control", "no-cache");
	assert_non_null(header(&r, "Last-Modified"));
	assert_non_null(header(&r, "ETag"));
	str_copy_trunc(etag, header(&r, "ETag"), sizeof(etag));
	assert_non_null(strstr(r.body, "<script type=\"module\" src=\"/ui/app.js\"></script>"));
	reply_free(&r);

	/* /ui is the same page; the page names its files from the root. */
	fetch(ui.d.base, "GET", "/ui", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_ui_headers(&r);
	assert_header(&r, "ETag", etag);
	reply_free(&r);

	/* Unchanged since the browser's copy. */
	char *if_none = xasprintf("If-None-Match: W/\"x\", %s", etag);
	fetch(ui.d.base, "GET", "/ui/", if_none, &r);
	free(if_none);
	assert_int_equal(r.status, 304);
	assert_int_equal(r.len, 0);
	assert_ui_headers(&r);
	reply_free(&r);

	static const char *const files[][2] = {
		{"/ui/app.js", "text/javascript; charset=utf-8"},
		{"/ui/job.js", "text/javascript; charset=utf-8"},
		{"/ui/style.css", "text/css; charset=utf-8"},
		{"/ui/favicon.svg", "image/svg+xml"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char *path = xasprintf("%s/%s", harness_srcdir(), files[i][0] + 1);
		struct stat st;

		assert_int_equal(stat(path, &st), 0);
		fetch(ui.d.base, "GET", files[i][0], NULL, &r);
		assert_int_equal(r.status, 200);
		assert_ui_headers(&r);
		assert_header(&r, "Content-Type", files[i][1]);
		assert_int_equal(r.len, (size_t)st.st_size);
		reply_free(&r);

		/* HEAD: the length, not the body. */
		char clen[32];
		snprintf(clen, sizeof(clen), "%lld", (long long)st.st_size);
		fetch(ui.d.base, "HEAD", files[i][0], NULL, &r);
		assert_int_equal(r.status, 200);
		assert_header(&r, "Content-Length", clen);
		assert_int_equal(r.len, 0);
		reply_free(&r);
		free(path);
	}

	/* The API keeps its own headers. */
	fetch(ui.d.base, "GET", "/api/v1/jobs", auth_header(&ui.d), &r);
	assert_int_equal(r.status, 200);
	assert_null(header(&r, "Content-Security-Policy"));
	assert_header(&r, "Cache-Control", "no-store");
	reply_free(&r);

	/* The viewer's files need no token; what they show does. */
	fetch(ui.d.base, "GET", "/api/v1/jobs", NULL, &r);
	assert_int_equal(r.status, 401);
	assert_header(&r, "WWW-Authenticate", "Bearer realm=\"esaas\"");
	reply_free(&r);
}

static void test_nothing_else_is_served(void **state)
{
	static const char *const paths[] = {
		"/ui/no-such-file.js",
		"/ui/..",
		"/ui/../configure.ac",
		"/ui/..%2fconfigure.ac",
		"/ui/..%2Fconfigure.ac",
		"/ui/%2e%2e%2fconfigure.ac",
		"/ui/%2e%2e",
		"/ui/.%2e/Makefile.am",
		"/ui/%2fetc%2fpasswd",
		"/ui/..%5cconfigure.ac",
		"/ui/%252e%252e%252fconfigure.ac",
		"/ui/.gitignore",
		"/ui/app.js~",
		"/ui/index.html.bak",
		"/ui/api/ui.c",
		"/ui/a/b.js",
	};
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		assert_not_found(ui.d.base, paths[i]);

	/* Paths that cannot be decoded never reach /ui: the router refuses them. */
	struct reply r;
	fetch(ui.d.base, "GET", "/ui/app.js%00.html", NULL, &r);
	assert_int_equal(r.status, 404);
	reply_free(&r);
	fetch(ui.d.base, "GET", "/ui/%zz.js", NULL, &r);
	assert_int_equal(r.status, 404);
	reply_free(&r);

	/* Only GET and HEAD. */
	fetch(ui.d.base, "POST", "/ui/app.js", NULL, &r);
	assert_int_equal(r.status, 405);
	reply_free(&r);
}

/* A folder of its own: what is in it but is no file to serve. */
static void test_only_regular_files_of_known_types(void **state)
{
	char dir[] = "/tmp/esaas-ui-odd-XXXXXX";
	struct esaasd d;
	char dburl[600];

	assert_non_null(mkdtemp(dir));
	char *index = xasprintf("%s/index.html", dir);
	char *fifo = xasprintf("%s/pipe.js", dir);
	char *sub = xasprintf("%s/folder.css", dir);
	char *text = xasprintf("%s/notes.txt", dir);
	char *hidden = xasprintf("%s/.hidden.js", dir);
	assert_true(touch(index) && touch(text) && touch(hidden));
	assert_int_equal(mkfifo(fifo, 0644), 0);
	assert_int_equal(mkdir(sub, 0755), 0);

	assert_non_null(pg_new_database(&pg, dburl, sizeof(dburl)));
	assert_true(start_esaasd(&d, dburl, dir));
	struct reply r;
	fetch(d.base, "GET", "/ui/", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, 0);
	reply_free(&r);
	/* A FIFO must be refused without the loop blocking in open(). */
	assert_not_found(d.base, "/ui/pipe.js");
	assert_not_found(d.base, "/ui/folder.css");
	assert_not_found(d.base, "/ui/notes.txt");
	assert_not_found(d.base, "/ui/.hidden.js");
	fetch(d.base, "GET", "/healthz", NULL, &r);
	assert_int_equal(r.status, 200);
	reply_free(&r);

	/* The folder gone while running: 404 saying so. */
	unlink(fifo);
	unlink(index);
	unlink(text);
	unlink(hidden);
	rmdir(sub);
	assert_int_equal(rmdir(dir), 0);
	fetch(d.base, "GET", "/ui/", NULL, &r);
	assert_int_equal(r.status, 404);
	assert_non_null(strstr(r.body, "the job viewer is not installed"));
	assert_ui_headers(&r);
	reply_free(&r);
	stop_esaasd(&d);
	free(index);
	free(fifo);
	free(sub);
	free(text);
	free(hidden);
}

/* esaasd starts without its viewer, says so, and /ui is a clear 404. */
static void test_missing_folder(void **state)
{
	struct esaasd d;
	char dburl[600];
	struct reply r;

	assert_non_null(pg_new_database(&pg, dburl, sizeof(dburl)));
	assert_true(start_esaasd(&d, dburl, "/nonexistent/esaas/ui"));
	fetch(d.base, "GET", "/ui/", NULL, &r);
	assert_int_equal(r.status, 404);
	assert_non_null(strstr(r.body, "the job viewer is not installed"));
	assert_ui_headers(&r);
	reply_free(&r);
	fetch(d.base, "GET", "/api/v1/jobs", auth_header(&d), &r);
	assert_int_equal(r.status, 200);
	reply_free(&r);
	stop_esaasd(&d);

	FILE *log = fopen(d.log, "r");
	assert_non_null(log);
	char line[1024];
	bool warned = false;
	while (fgets(line, sizeof(line), log))
		warned = warned ||
			 (strstr(line, "job viewer") && strstr(line, "/nonexistent/esaas/ui"));
	fclose(log);
	assert_true(warned);
}

/* --- the browser ------------------------------------------------------------------ */

static void need_browser(void)
{
	const char *required = getenv("ESAAS_TEST_BROWSER");

	if (ui.browser)
		return;
	if (required && strcmp(required, "1") == 0)
		fail_msg("ESAAS_TEST_BROWSER=1 but %s", ui.missing);
	fprintf(stderr, "skipped: %s\n", ui.missing);
	skip();
}

/* Run one scenario of viewer.test.mjs; true when it passed. */
static bool scenario(const char *name, int64_t waiting_id)
{
	char id[3][24];

	snprintf(id[0], sizeof(id[0]), "%lld", (long long)ui.failed_id);
	snprintf(id[1], sizeof(id[1]), "%lld", (long long)ui.xss_id);
	snprintf(id[2], sizeof(id[2]), "%lld", (long long)waiting_id);
	setenv("ESAAS_UI_BASE", ui.d.base, 1);
	setenv("ESAAS_UI_FAILED_JOB", id[0], 1);
	setenv("ESAAS_UI_XSS_JOB", id[1], 1);
	setenv("ESAAS_UI_WAITING_JOB", id[2], 1);
	setenv("ESAAS_UI_TOKEN", harness_token(&ui.d), 1);
	setenv("ESAAS_UI_VIEWER_TOKEN", ui.viewer_token, 1);
	setenv("ESAAS_CHROMIUM", chromium_path(), 1);
	/* Nothing may fetch a browser of its own. */
	setenv("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1", 1);
	char *cmd = xasprintf("timeout -k 5 %d node '%s/tests/browser/viewer.test.mjs' %s",
			      SCENARIO_TIMEOUT_S, harness_srcdir(), name);
	fflush(stdout);
	int st = system(cmd);
	free(cmd);
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void test_browser_failed_job(void **state)
{
	need_browser();
	assert_true(scenario("failed-job", 0));
}

static void test_browser_replay(void **state)
{
	char path[64];
	struct http_resp r;

	need_browser();
	/* The cause is fixed; on-call replays. */
	assert_int_equal(unlink(ui.gate_file), 0);
	assert_true(scenario("replay", 0));

	json_t *job = wait_job_done(&ui.d, ui.failed_id, 20000);
	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "succeeded");
	json_decref(job);
	snprintf(path, sizeof(path), "/api/v1/jobs/%lld/events", (long long)ui.failed_id);
	assert_true(http_call(&ui.d, "GET", path, NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.raw, "the gate file is removed"));
	http_resp_free(&r);
}

static void test_browser_cancel(void **state)
{
	need_browser();
	int64_t id = submit("test", "waiting",
			    json_pack("{s:{s:[s]}}", "plan", "work", "wait:1000"), NULL);
	assert_true(id > 0);
	json_t *job = wait_job_status(&ui.d, id, "waiting", 20000);
	assert_non_null(job);
	json_decref(job);

	assert_true(scenario("cancel", id));
	job = wait_job_done(&ui.d, id, 20000);
	assert_non_null(job);
	assert_string_equal(json_string_value(json_object_get(job, "status")), "cancelled");
	json_decref(job);
}

static void test_browser_escaping(void **state)
{
	need_browser();
	assert_true(scenario("escaping", 0));
}

static void test_browser_csp(void **state)
{
	need_browser();
	assert_true(scenario("csp", 0));
}

static void test_browser_keyboard(void **state)
{
	need_browser();
	assert_true(scenario("keyboard", 0));
}

static void test_browser_token(void **state)
{
	need_browser();
	assert_true(scenario("token", 0));
}

static void test_browser_forbidden(void **state)
{
	need_browser();
	assert_true(scenario("forbidden", 0));
}

static void test_browser_clusters(void **state)
{
	struct http_resp r;

	need_browser();
	assert_true(http_call(&ui.d, "POST", "/api/v1/clusters",
			      "{\"name\": \"viewer-logs\", \"version\": \"7.17.10\","
			      " \"data\": {\"replicas\": 2}, \"plugins\": [\"analysis-icu\"]}",
			      NULL, &r));
	assert_int_equal(r.status, 202);
	http_resp_free(&r);
	assert_true(scenario("clusters", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_index_and_files),
		cmocka_unit_test(test_nothing_else_is_served),
		cmocka_unit_test(test_only_regular_files_of_known_types),
		cmocka_unit_test(test_missing_folder),
		cmocka_unit_test(test_browser_csp),
		cmocka_unit_test(test_browser_keyboard),
		cmocka_unit_test(test_browser_escaping),
		cmocka_unit_test(test_browser_token),
		cmocka_unit_test(test_browser_forbidden),
		cmocka_unit_test(test_browser_clusters),
		cmocka_unit_test(test_browser_failed_job),
		/* After failed-job, which expects the job still failed. */
		cmocka_unit_test(test_browser_replay),
		cmocka_unit_test(test_browser_cancel),
	};
	/* ESAAS_TEST_FILTER=test_browser_* runs a subset. */
	const char *filter = getenv("ESAAS_TEST_FILTER");
	if (filter && *filter)
		cmocka_set_test_filter(filter);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
