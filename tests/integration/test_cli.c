/*
 * esaasctl end to end: the built binary run as on-call runs it, against
 * esaasd-test with esaas-sim as its Kubernetes, checking what it prints
 * and how it exits.  Every run carries the harness's admin token in
 * ESAAS_TOKEN unless a test says otherwise.  A small fake server in this
 * process stands in for esaasd where the test needs to see the request
 * itself (the token).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <libpq-fe.h>

#include "common/util.h"
#include "tests/integration/harness.h"

/* A hung esaasctl is killed (SIGALRM) rather than hanging the test run. */
#define CTL_TIMEOUT_S 120

static const char SIM_CONFIG[] =
	"tick_ms: 20\n"
	"nodes:\n  count: 4\n  racks: [rack-a, rack-b]\n"
	"elasticsearch:\n  relocation_ms: 200\n  recovery_ms: 50\n  no_master_wait_ms: 500\n"
	"  indices:\n    - {name: logs, shards: 2, replicas: 1}\n"
	/* Cluster "doomed" is refused its namespace: its create fails at once. */
	"faults:\n  - {path: \"/api/v1/namespaces/es-default-doomed*\", status: 403}\n";

static const char *const PLUGIN_FILES[] = {"analysis-icu-7.17.10.zip", NULL};

struct world {
	struct pg pg;
	char dburl[600];
	struct sim sim;
	struct repo repo;
	struct esaasd d;
	char home[300];	     /* an empty HOME, so that no one's config file is read */
	char url_env[128];   /* ESAAS_URL=... */
	char home_env[320];  /* HOME=... */
	char token_env[200]; /* ESAAS_TOKEN=<an admin token of tenant default> */
};

static struct world *W;

static int group_setup(void **state)
{
	struct world *w = xcalloc(1, sizeof(*w));

	W = w;
	if (!pg_start(&w->pg) || !pg_new_database(&w->pg, w->dburl, sizeof(w->dburl)))
		return -1;
	if (!sim_start(&w->sim, w->pg.dir, SIM_CONFIG))
		return -1;
	if (!repo_start(&w->repo, w->pg.dir, PLUGIN_FILES))
		return -1;
	struct esaasd_opts o = {
		.kubeconfig = w->sim.kubeconfig,
		.plugin_repository = w->repo.url,
		.retry_base_ms = 100,
		.retry_cap_ms = 500,
	};
	if (!esaasd_start(&w->d, w->pg.dir, w->dburl, &o))
		return -1;
	snprintf(w->home, sizeof(w->home), "%s/home", w->pg.dir);
	if (mkdir(w->home, 0700) != 0)
		return -1;
	snprintf(w->url_env, sizeof(w->url_env), "ESAAS_URL=%s", w->d.base);
	snprintf(w->home_env, sizeof(w->home_env), "HOME=%s", w->home);
	if (!harness_token(&w->d))
		return -1;
	snprintf(w->token_env, sizeof(w->token_env), "ESAAS_TOKEN=%s", harness_token(&w->d));
	*state = w;
	return 0;
}

static int group_teardown(void **state)
{
	struct world *w = W;
	int rc = 0;

	if (!w)
		return 0;
	if (w->d.pid > 0 && esaasd_stop(&w->d, SIGTERM, true) != 0) {
		fprintf(stderr, "esaasd did not stop cleanly; see %s\n", w->d.log);
		rc = -1;
	}
	if (sim_stop(&w->sim) != 0) {
		fprintf(stderr, "esaas-sim did not stop cleanly; see %s\n", w->sim.log);
		rc = -1;
	}
	repo_stop(&w->repo);
	pg_finish(&w->pg);
	free(w);
	W = NULL;
	return rc;
}

/* --- running esaasctl ------------------------------------------------------------ */

struct run {
	int status; /* the exit status; -N when killed by signal N */
	char *out;
	char *err;
};

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return xstrdup("");
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		buf = xrealloc(buf, len + n + 1);
		memcpy(buf + len, chunk, n);
		len += n;
	}
	fclose(f);
	if (!buf)
		return xstrdup("");
	buf[len] = '\0';
	return buf;
}

/*
 * Start esaasctl with argv (without the program) and exactly env (plus
 * PATH); stdout and stderr go to files read by ctl_wait().
 */
static pid_t ctl_spawn(const char *const *env, const char *const *args, const char *stdin_text)
{
	static int counter;
	char bin[512], in[400];
	const char *argv[64];
	const char *envp[32];
	int n = 0, e = 0;

	snprintf(bin, sizeof(bin), "%s/esaasctl", harness_builddir());
	argv[n++] = bin;
	for (int i = 0; args[i] && n < 62; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	envp[e++] = "PATH=/usr/bin:/bin";
	for (int i = 0; env && env[i] && e < 30; i++)
		envp[e++] = env[i];
	envp[e] = NULL;
	snprintf(in, sizeof(in), "%s/ctl-stdin-%d", W->pg.dir, ++counter);
	FILE *f = fopen(in, "w");
	assert_non_null(f);
	fputs(stdin_text ? stdin_text : "", f);
	fclose(f);

	char out[400], err[400];
	snprintf(out, sizeof(out), "%s/ctl-out", W->pg.dir);
	snprintf(err, sizeof(err), "%s/ctl-err", W->pg.dir);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fi = open(in, O_RDONLY);
		int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fi < 0 || fo < 0 || fe < 0)
			_exit(126);
		dup2(fi, 0);
		dup2(fo, 1);
		dup2(fe, 2);
		/* The alarm survives exec: a hung esaasctl dies of SIGALRM. */
		alarm(CTL_TIMEOUT_S);
		execve(bin, (char *const *)argv, (char *const *)envp);
		_exit(127);
	}
	return pid;
}

static void ctl_wait(pid_t pid, struct run *r)
{
	char path[400];
	int st;

	memset(r, 0, sizeof(*r));
	while (waitpid(pid, &st, 0) != pid) {
		if (errno != EINTR)
			fail_msg("waitpid: %s", strerror(errno));
	}
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
	snprintf(path, sizeof(path), "%s/ctl-out", W->pg.dir);
	r->out = slurp(path);
	snprintf(path, sizeof(path), "%s/ctl-err", W->pg.dir);
	r->err = slurp(path);
}

static void ctl_argv(struct run *r, const char *const *env, const char *stdin_text,
		     const char *const *args)
{
	const char *def[] = {W->url_env, W->home_env, W->token_env, NULL};

	ctl_wait(ctl_spawn(env ? env : def, args, stdin_text), r);
}

/* Run esaasctl with the default environment: ESAAS_URL is the test's esaasd,
 * ESAAS_TOKEN its admin token. */
#define CTL(r, ...)                                     \
	do {                                            \
		const char *a_[] = {__VA_ARGS__, NULL}; \
		ctl_argv((r), NULL, NULL, a_);          \
	} while (0)

/* The same, with an exact environment. */
#define CTL_ENV(r, env, ...)                            \
	do {                                            \
		const char *a_[] = {__VA_ARGS__, NULL}; \
		ctl_argv((r), (env), NULL, a_);         \
	} while (0)

static void expect_exit(const struct run *r, int want)
{
	if (r->status != want)
		fail_msg("esaasctl exited %d, expected %d\n--- stdout:\n%s--- stderr:\n%s",
			 r->status, want, r->out, r->err);
}

static void expect_in(const char *text, const char *what)
{
	if (!strstr(text, what))
		fail_msg("expected \"%s\" in:\n%s", what, text);
}

static int count_of(const char *text, const char *what)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

static int count_lines(const char *text)
{
	return count_of(text, "\n");
}

static json_t *parse_json(const char *text)
{
	json_error_t jerr;
	json_t *v = json_loads(text, 0, &jerr);

	if (!v)
		fail_msg("not JSON (%s):\n%s", jerr.text, text);
	return v;
}

/* "job 42: create of logs, queued" → 42 */
static int64_t job_id_in(const char *out)
{
	const char *p = strstr(out, "job ");
	long long id = 0;

	if (!p || sscanf(p, "job %lld", &id) != 1)
		fail_msg("no job id in:\n%s", out);
	return id;
}

static size_t events_of(int64_t id)
{
	char path[64];
	struct http_resp r;
	size_t n;

	snprintf(path, sizeof(path), "/api/v1/jobs/%lld/events", (long long)id);
	assert_true(http_call(&W->d, "GET", path, NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	n = json_array_size(json_object_get(r.body, "events"));
	http_resp_free(&r);
	return n;
}

/* The most polls one event of the job counts. */
static long long most_polls_of(int64_t id)
{
	char path[64];
	struct http_resp r;
	long long most = 0;
	size_t i;
	json_t *ev;

	snprintf(path, sizeof(path), "/api/v1/jobs/%lld/events", (long long)id);
	assert_true(http_call(&W->d, "GET", path, NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	json_array_foreach (json_object_get(r.body, "events"), i, ev) {
		long long n = json_integer_value(json_object_get(ev, "polls"));

		if (n > most)
			most = n;
	}
	http_resp_free(&r);
	return most;
}

/* The events a watch prints for people: all but a wait that saw just what
 * the wait before it saw (same state, same message). */
static size_t printed_events_of(int64_t id, size_t *repeats)
{
	char path[64];
	struct http_resp r;
	size_t n = 0, i;
	json_t *ev, *prev = NULL;

	*repeats = 0;
	snprintf(path, sizeof(path), "/api/v1/jobs/%lld/events", (long long)id);
	assert_true(http_call(&W->d, "GET", path, NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	json_t *wait = json_string("wait");
	json_array_foreach (json_object_get(r.body, "events"), i, ev) {
		if (prev && json_equal(json_object_get(ev, "outcome"), wait) &&
		    json_equal(json_object_get(prev, "outcome"), wait) &&
		    json_equal(json_object_get(ev, "to_state"),
			       json_object_get(prev, "to_state")) &&
		    json_equal(json_object_get(ev, "detail"), json_object_get(prev, "detail"))) {
			(*repeats)++;
		} else {
			n++;
		}
		prev = ev;
	}
	json_decref(wait);
	http_resp_free(&r);
	return n;
}

/* --- the tests ---------------------------------------------------------------------- */

static void test_help_and_usage_errors(void **state)
{
	static const char *const commands[][2] = {
		{"jobs", "list"},      {"jobs", "show"},     {"jobs", "events"},
		{"jobs", "watch"},     {"jobs", "replay"},   {"jobs", "cancel"},
		{"clusters", "list"},  {"clusters", "show"}, {"create", NULL},
		{"scale", NULL},       {"restart", NULL},    {"plugin", "install"},
		{"plugin", "remove"},  {"config", "set"},    {"delete", NULL},
		{"render", NULL},      {"whoami", NULL},     {"tenants", "list"},
		{"tenants", "create"}, {"tenants", "show"},  {"quota", "set"},
		{"tokens", "create"},  {"tokens", "list"},   {"tokens", "revoke"},
	};
	struct run r;

	CTL(&r, "--help");
	expect_exit(&r, 0);
	expect_in(r.out, "Usage: esaasctl");
	expect_in(r.out, "jobs watch");
	run_free(&r);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (commands[i][1])
			CTL(&r, commands[i][0], commands[i][1], "--help");
		else
			CTL(&r, commands[i][0], "--help");
		expect_exit(&r, 0);
		expect_in(r.out, "Usage: esaasctl ");
		run_free(&r);
	}
	/* A group's commands; then "-h" after other arguments. */
	CTL(&r, "jobs", "--help");
	expect_exit(&r, 0);
	expect_in(r.out, "replay");
	run_free(&r);
	CTL(&r, "tokens", "--help");
	expect_exit(&r, 0);
	expect_in(r.out, "revoke");
	run_free(&r);
	CTL(&r, "quota", "set", "--help");
	expect_exit(&r, 0);
	expect_in(r.out, "--memory BYTES");
	expect_in(r.out, "none");
	run_free(&r);
	CTL(&r, "scale", "logs", "-h");
	expect_exit(&r, 0);
	expect_in(r.out, "--replicas N");
	run_free(&r);

	/* Usage errors: 2, naming what is wrong, and nothing sent. */
	CTL(&r, "jobs", "list", "--bogus", "x");
	expect_exit(&r, 2);
	expect_in(r.err, "unknown flag --bogus");
	run_free(&r);
	CTL(&r, "--bogus", "jobs", "list");
	expect_exit(&r, 2);
	expect_in(r.err, "--bogus");
	run_free(&r);
	CTL(&r, "jobs", "frob");
	expect_exit(&r, 2);
	expect_in(r.err, "unknown command \"jobs frob\"");
	run_free(&r);
	CTL(&r, "frob");
	expect_exit(&r, 2);
	run_free(&r);
	const char *nothing[] = {NULL};
	ctl_argv(&r, NULL, NULL, nothing);
	expect_exit(&r, 2);
	run_free(&r);
	CTL(&r, "jobs", "show");
	expect_exit(&r, 2);
	run_free(&r);
	CTL(&r, "jobs", "show", "abc");
	expect_exit(&r, 2);
	expect_in(r.err, "not a job id");
	run_free(&r);
	CTL(&r, "jobs", "show", "1", "2");
	expect_exit(&r, 2);
	run_free(&r);
	CTL(&r, "scale", "logs", "--role", "data", "--replicas", "many");
	expect_exit(&r, 2);
	expect_in(r.err, "--replicas");
	run_free(&r);
	CTL(&r, "jobs", "cancel", "1");
	expect_exit(&r, 2);
	expect_in(r.err, "--reason");
	run_free(&r);
	CTL(&r, "jobs", "list", "-o", "yaml");
	expect_exit(&r, 2);
	expect_in(r.err, "--output");
	run_free(&r);
	CTL(&r, "restart", "logs", "--role", "data", "--node", "es-data-0");
	expect_exit(&r, 2);
	run_free(&r);
	CTL(&r, "config", "set", "logs", "novalue");
	expect_exit(&r, 2);
	expect_in(r.err, "key=value");
	run_free(&r);
	CTL(&r, "--version");
	expect_exit(&r, 0);
	expect_in(r.out, "esaasctl ");
	run_free(&r);
}

static void test_unreachable_server(void **state)
{
	/* A port that was free a moment ago: nothing listens there. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	char url[64], want[128];
	struct run r;

	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(a.sin_port));
	snprintf(want, sizeof(want), "cannot reach esaasd at %s: ", url);
	CTL(&r, "--url", url, "clusters", "list");
	expect_exit(&r, 1);
	expect_in(r.err, want);
	assert_string_equal(r.out, "");
	run_free(&r);
	/* The same through the environment, and for a watch. */
	char env_url[80];
	const char *env[] = {env_url, W->home_env, NULL};
	snprintf(env_url, sizeof(env_url), "ESAAS_URL=%s", url);
	CTL_ENV(&r, env, "jobs", "show", "1");
	expect_exit(&r, 1);
	expect_in(r.err, want);
	run_free(&r);
}

/* --- a fake esaasd that answers once and keeps the request ---------------------- */

struct fake {
	int fd;
	char url[64];
};

static void fake_listen(struct fake *f)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);

	f->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(f->fd >= 0);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(f->fd, 4), 0);
	assert_int_equal(getsockname(f->fd, (struct sockaddr *)&a, &l), 0);
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", ntohs(a.sin_port));
}

/* Accept one request, answer status and body, return the request's head (allocated). */
static char *fake_answer(struct fake *f, int status, const char *body)
{
	struct pollfd p = {.fd = f->fd, .events = POLLIN};
	char head[8192];
	size_t len = 0;

	if (poll(&p, 1, 20000) != 1)
		fail_msg("esaasctl did not connect to the fake server");
	int c = accept(f->fd, NULL, NULL);
	assert_true(c >= 0);
	while (len < sizeof(head) - 1) {
		struct pollfd q = {.fd = c, .events = POLLIN};
		if (poll(&q, 1, 20000) != 1)
			fail_msg("esaasctl sent no request");
		ssize_t n = read(c, head + len, sizeof(head) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		head[len] = '\0';
		if (strstr(head, "\r\n\r\n"))
			break;
	}
	head[len] = '\0';
	char *reply = xasprintf("HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
				"Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
				status, strlen(body), body);
	assert_int_equal(write(c, reply, strlen(reply)), (ssize_t)strlen(reply));
	free(reply);
	close(c);
	return xstrdup(head);
}

/* The Authorization header of a request head, or "" (static). */
static const char *auth_of(const char *head)
{
	static char v[256];
	const char *p = strcasestr(head, "\r\nAuthorization: ");

	v[0] = '\0';
	if (p)
		snprintf(v, sizeof(v), "%.*s", (int)strcspn(p + 17, "\r\n"), p + 17);
	return v;
}

static void write_config(const char *dir, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/esaas", dir);
	mkdir(dir, 0700);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/esaas/config.yaml", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static const char EMPTY_LIST[] = "{\"clusters\": []}";

/* Run "clusters list" against the fake server; the Authorization it sent (static). */
static const char *auth_sent(struct fake *f, const char *const *env, const char *const *args,
			     struct run *r)
{
	pid_t pid = ctl_spawn(env, args, NULL);
	char *head = fake_answer(f, 200, EMPTY_LIST);
	const char *auth = auth_of(head);

	ctl_wait(pid, r);
	expect_in(head, "GET /api/v1/clusters HTTP/1.1");
	free(head);
	return auth;
}

static void test_config_file_env_and_flags(void **state)
{
	struct fake f;
	struct run r;
	char xdg[320], xdg_env[340], home2[320], home2_env[340], text[400];
	char url_env[96], dead_env[96];

	fake_listen(&f);
	snprintf(xdg, sizeof(xdg), "%s/xdg", W->pg.dir);
	snprintf(xdg_env, sizeof(xdg_env), "XDG_CONFIG_HOME=%s", xdg);
	snprintf(home2, sizeof(home2), "%s/home2", W->pg.dir);
	snprintf(home2_env, sizeof(home2_env), "HOME=%s", home2);
	snprintf(url_env, sizeof(url_env), "ESAAS_URL=%s", f.url);
	snprintf(dead_env, sizeof(dead_env), "ESAAS_URL=http://127.0.0.1:1");

	/* The file alone: its URL and its token. */
	snprintf(text, sizeof(text), "url: %s\ntoken: file-token\n", f.url);
	write_config(xdg, text);
	{
		const char *env[] = {xdg_env, W->home_env, NULL};
		const char *args[] = {"clusters", "list", NULL};
		assert_string_equal(auth_sent(&f, env, args, &r), "Bearer file-token");
		expect_exit(&r, 0);
		run_free(&r);
	}
	/* The environment beats the file. */
	snprintf(text, sizeof(text), "url: http://127.0.0.1:1\ntoken: file-token\n");
	write_config(xdg, text);
	{
		const char *env[] = {xdg_env, url_env, "ESAAS_TOKEN=env-token", NULL};
		const char *args[] = {"clusters", "list", NULL};
		assert_string_equal(auth_sent(&f, env, args, &r), "Bearer env-token");
		expect_exit(&r, 0);
		run_free(&r);
	}
	/* Flags beat the environment (which points nowhere), after the command or before it. */
	{
		const char *env[] = {xdg_env, dead_env, "ESAAS_TOKEN=env-token", NULL};
		const char *args[] = {"clusters", "list",	"--url", f.url,
				      "--token",  "flag-token", NULL};
		assert_string_equal(auth_sent(&f, env, args, &r), "Bearer flag-token");
		expect_exit(&r, 0);
		run_free(&r);
		const char *before[] = {"--url", f.url, "clusters", "list", NULL};
		assert_string_equal(auth_sent(&f, env, before, &r), "Bearer env-token");
		expect_exit(&r, 0);
		run_free(&r);
	}
	/* Without XDG_CONFIG_HOME, ~/.config; without any token, no Authorization at all. */
	snprintf(text, sizeof(text), "%s/.config", home2);
	mkdir(home2, 0700);
	{
		char body[128];
		snprintf(body, sizeof(body), "url: %s\n", f.url);
		write_config(text, body);
		const char *env[] = {home2_env, NULL};
		const char *args[] = {"clusters", "list", NULL};
		assert_string_equal(auth_sent(&f, env, args, &r), "");
		expect_exit(&r, 0);
		expect_in(r.err, "no clusters");
		run_free(&r);
	}
	/* The server's refusal is shown, the token never. */
	{
		const char *env[] = {url_env, "ESAAS_TOKEN=s3cr3t-value", W->home_env, NULL};
		const char *args[] = {"clusters", "show", "logs", NULL};
		pid_t pid = ctl_spawn(env, args, NULL);
		char *head = fake_answer(&f, 401,
					 "{\"error\": {\"code\": \"unauthorized\", \"message\":"
					 " \"the token is not valid\", \"field\": null}}");
		ctl_wait(pid, &r);
		assert_string_equal(auth_of(head), "Bearer s3cr3t-value");
		free(head);
		expect_exit(&r, 1);
		expect_in(r.err,
			  "esaasctl: 401 unauthorized: esaasd refused the credential from "
			  "ESAAS_TOKEN: the token is not valid; set ESAAS_TOKEN or --token, or "
			  "token: in ");
		assert_null(strstr(r.err, "s3cr3t"));
		assert_null(strstr(r.out, "s3cr3t"));
		run_free(&r);
	}
	/* A broken config file is a usage error naming the file. */
	write_config(xdg, "url: [1, 2]\ntoken: s3cr3t-value\n");
	{
		const char *env[] = {xdg_env, NULL};
		CTL_ENV(&r, env, "clusters", "list");
		expect_exit(&r, 2);
		expect_in(r.err, "config.yaml");
		assert_null(strstr(r.err, "s3cr3t"));
		run_free(&r);
	}
	close(f.fd);
}

/* A whole cluster's life through esaasctl alone. */
static void test_cluster_lifecycle(void **state)
{
	struct run r;
	char id[24];

	/* Created from flags, followed to its end. */
	CTL(&r, "create", "logs", "--version", "7.17.10", "--masters", "1", "--data", "2",
	    "--clients", "0", "--wait");
	expect_exit(&r, 0);
	int64_t create = job_id_in(r.out);
	expect_in(r.out, "create of logs, queued");
	expect_in(r.out, "-> wait_pods_ready");
	expect_in(r.out, "succeeded");
	/* One line per event, none twice (but waits that saw nothing new): the
	 * job line, the events, the last line. */
	size_t repeats;
	assert_int_equal(count_lines(r.out), (int)printed_events_of(create, &repeats) + 2);
	assert_int_equal(count_of(r.out, "submitted/1"), 1);
	run_free(&r);

	CTL(&r, "clusters", "list");
	expect_exit(&r, 0);
	expect_in(r.out, "NAME");
	expect_in(r.out, "logs");
	expect_in(r.out, "7.17.10");
	run_free(&r);
	CTL(&r, "clusters", "show", "logs");
	expect_exit(&r, 0);
	expect_in(r.out, "Phase:");
	expect_in(r.out, "ready");
	expect_in(r.out, "es-http.es-default-logs:9200");
	expect_in(r.out, "Recent jobs:");
	run_free(&r);
	CTL(&r, "clusters", "show", "logs", "-o", "json");
	expect_exit(&r, 0);
	json_t *c = parse_json(r.out);
	assert_string_equal(json_string_value(json_object_get(c, "name")), "logs");
	json_decref(c);
	run_free(&r);
	CTL(&r, "-o", "json", "clusters", "list");
	expect_exit(&r, 0);
	c = parse_json(r.out);
	assert_int_equal(json_array_size(json_object_get(c, "clusters")), 1);
	json_decref(c);
	run_free(&r);
	CTL(&r, "clusters", "show", "nosuch");
	expect_exit(&r, 1);
	expect_in(r.err, "esaasctl: 404 not_found: cluster nosuch not found");
	run_free(&r);

	/* The job, its history, and the list with its filters. */
	snprintf(id, sizeof(id), "%lld", (long long)create);
	CTL(&r, "jobs", "show", id);
	expect_exit(&r, 0);
	expect_in(r.out, "Status:");
	expect_in(r.out, "succeeded");
	expect_in(r.out, "Took:");
	assert_null(strstr(r.out, "Error:"));
	run_free(&r);
	CTL(&r, "jobs", "events", id);
	expect_exit(&r, 0);
	expect_in(r.out, "OUTCOME");
	expect_in(r.out, "submitted");
	/* The header and one line per event. */
	assert_int_equal(count_lines(r.out), (int)events_of(create) + 1);
	run_free(&r);
	CTL(&r, "jobs", "events", id, "-o", "json");
	expect_exit(&r, 0);
	c = parse_json(r.out);
	assert_int_equal(json_array_size(json_object_get(c, "events")), events_of(create));
	json_decref(c);
	run_free(&r);
	CTL(&r, "jobs", "list", "--cluster", "logs");
	expect_exit(&r, 0);
	expect_in(r.out, "KIND");
	expect_in(r.out, id);
	run_free(&r);
	CTL(&r, "jobs", "list", "--kind", "create", "--status", "succeeded", "-o", "json");
	expect_exit(&r, 0);
	c = parse_json(r.out);
	assert_int_equal(json_array_size(json_object_get(c, "jobs")), 1);
	json_decref(c);
	run_free(&r);
	CTL(&r, "jobs", "list", "--status", "failed", "--cluster", "logs");
	expect_exit(&r, 0);
	assert_string_equal(r.out, "");
	expect_in(r.err, "no jobs");
	run_free(&r);
	CTL(&r, "jobs", "list", "--status", "broken");
	expect_exit(&r, 1);
	expect_in(r.err, "esaasctl: 422 invalid: status:");
	run_free(&r);

	/* Operations, each followed to its end. */
	CTL(&r, "scale", "logs", "--role", "data", "--replicas", "3", "--wait");
	expect_exit(&r, 0);
	expect_in(r.out, "scale of logs");
	run_free(&r);
	/* What the nodes cannot place is said at once; cancelled, it goes back. */
	CTL(&r, "scale", "logs", "--role", "data", "--replicas", "5");
	expect_exit(&r, 0);
	expect_in(r.err, "esaasctl: warning: data nodes need one host each: 4 schedulable nodes, "
			 "5 asked");
	long long pending = 0;
	assert_int_equal(sscanf(r.out, "job %lld:", &pending), 1);
	run_free(&r);
	char pending_id[24];
	snprintf(pending_id, sizeof(pending_id), "%lld", pending);
	CTL(&r, "jobs", "cancel", pending_id, "--reason", "no room", "--wait");
	expect_exit(&r, 3); /* ended cancelled: not a success */
	expect_in(r.out, "cancelled");
	run_free(&r);
	CTL(&r, "scale", "logs", "--role", "data", "--replicas", "0");
	expect_exit(&r, 1);
	expect_in(r.err, "esaasctl: 422 invalid: replicas: ");
	run_free(&r);
	CTL(&r, "scale", "logs", "--role", "nodes", "--replicas", "3");
	expect_exit(&r, 1);
	expect_in(r.err, "422 invalid: role: ");
	run_free(&r);
	CTL(&r, "restart", "logs", "--node", "es-data-0", "--wait");
	expect_exit(&r, 0);
	expect_in(r.out, "restart of logs");
	run_free(&r);
	CTL(&r, "config", "set", "logs", "search.max_buckets=20000", "--wait");
	expect_exit(&r, 0);
	expect_in(r.out, "config_update of logs");
	run_free(&r);
	CTL(&r, "plugin", "install", "logs", "analysis-icu", "--wait");
	expect_exit(&r, 0);
	expect_in(r.out, "plugin_install of logs");
	run_free(&r);
	CTL(&r, "plugin", "install", "logs", "analysis-icu");
	expect_exit(&r, 1);
	expect_in(r.err, "409 conflict: name: plugin analysis-icu is already installed");
	run_free(&r);
	CTL(&r, "clusters", "show", "logs");
	expect_in(r.out, "Plugins:      analysis-icu");
	run_free(&r);
	CTL(&r, "plugin", "remove", "logs", "analysis-icu", "--allow-yellow", "--wait");
	expect_exit(&r, 0);
	expect_in(r.out, "plugin_remove of logs");
	run_free(&r);
	CTL(&r, "plugin", "remove", "logs", "analysis-icu");
	expect_exit(&r, 1);
	expect_in(r.err, "404 not_found");
	run_free(&r);
	CTL(&r, "config", "set", "logs", "cluster.name=mine");
	expect_exit(&r, 1);
	expect_in(r.err, "cluster.name");
	run_free(&r);
	CTL(&r, "clusters", "show", "logs", "-o", "json");
	c = parse_json(r.out);
	json_t *spec = json_object_get(c, "spec");
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(spec, "data"), "replicas")), 3);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(spec, "config"),
							    "search.max_buckets")),
			 20000);
	json_decref(c);
	run_free(&r);
	/* Without --wait: the job, and how to follow it. */
	CTL(&r, "delete", "logs");
	expect_exit(&r, 0);
	expect_in(r.out, "delete of logs");
	expect_in(r.out, "esaasctl jobs watch");
	int64_t del = job_id_in(r.out);
	run_free(&r);
	snprintf(id, sizeof(id), "%lld", (long long)del);
	CTL(&r, "jobs", "watch", id);
	expect_exit(&r, 0);
	expect_in(r.out, "succeeded");
	run_free(&r);
	CTL(&r, "clusters", "show", "logs");
	expect_exit(&r, 1);
	expect_in(r.err, "404 not_found");
	run_free(&r);
}

/* A create that cannot succeed: --wait exits 3 and says why; so do show and watch. */
static void test_failed_create_exits_3(void **state)
{
	struct run r;
	char id[24];

	/* From a YAML spec on standard input. */
	const char *args[] = {"create", "-f", "-", "--wait", NULL};
	ctl_argv(&r, NULL,
		 "name: doomed\nmasters: {replicas: 1}\ndata:\n  replicas: 1\nclients: {replicas: "
		 "0}\n",
		 args);
	expect_exit(&r, 3);
	expect_in(r.out, "create of doomed");
	expect_in(r.out, "failed");
	expect_in(r.out, "403");
	int64_t job = job_id_in(r.out);
	run_free(&r);
	snprintf(id, sizeof(id), "%lld", (long long)job);
	CTL(&r, "jobs", "show", id);
	expect_exit(&r, 0);
	expect_in(r.out, "Failed state:");
	expect_in(r.out, "Error:");
	expect_in(r.out, "esaasctl jobs replay");
	run_free(&r);
	CTL(&r, "jobs", "list", "--status", "failed");
	expect_exit(&r, 0);
	expect_in(r.out, "doomed");
	expect_in(r.out, "apply_namespace");
	run_free(&r);
	/* Watching a job that has ended prints its history and ends at once. */
	CTL(&r, "jobs", "watch", id);
	expect_exit(&r, 3);
	expect_in(r.out, "-> ");
	run_free(&r);
	/* A spec the API refuses names the field. */
	const char *bad[] = {"create", "-f", "-", NULL};
	ctl_argv(&r, NULL, "{\"name\": \"odd\", \"masters\": {\"replicas\": 2}}", bad);
	expect_exit(&r, 1);
	expect_in(r.err, "esaasctl: 422 invalid: masters.replicas");
	run_free(&r);
	/* One that is not even YAML is refused before anything is sent. */
	ctl_argv(&r, NULL, "name: [unclosed\n", bad);
	expect_exit(&r, 2);
	expect_in(r.err, "YAML");
	run_free(&r);
}

/* clusters credentials: a cluster without security says why (409); one with
 * it shows its user and password, and --ca-out writes its CA. */
static void test_cluster_credentials(void **state)
{
	struct run r;
	static const char security[] =
		"{\"ca_crt\": \"-----BEGIN CERTIFICATE-----\\nCA\\n-----END CERTIFICATE-----\\n\","
		" \"ca_key\": \"K\", \"tls_crt\": \"C\", \"tls_key\": \"K\","
		" \"elastic\": \"s3cret-from-esaas\", \"kibana_system\": \"k\"}";
	const char *p[] = {security};
	char *ca = xasprintf("%s/ca.crt", W->home);

	/* Its namespace is refused (SIM_CONFIG): the create fails at once. */
	CTL(&r, "create", "doomed-vault", "--version", "7.17.10");
	expect_exit(&r, 0);
	run_free(&r);
	CTL(&r, "clusters", "credentials", "doomed-vault");
	expect_exit(&r, 1);
	expect_in(r.err, "409");
	expect_in(r.err, "has no Elasticsearch security");
	run_free(&r);

	PGconn *sql = PQconnectdb(W->dburl);
	assert_int_equal(PQstatus(sql), CONNECTION_OK);
	PGresult *res = PQexecParams(sql,
				     "UPDATE clusters SET es_security = $1::jsonb"
				     " WHERE name = 'doomed-vault' AND deleted_at IS NULL",
				     1, NULL, p, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	assert_string_equal(PQcmdTuples(res), "1");
	PQclear(res);
	PQfinish(sql);

	CTL(&r, "clusters", "credentials", "doomed-vault", "--ca-out", ca);
	expect_exit(&r, 0);
	expect_in(r.out, "Username:");
	expect_in(r.out, "elastic");
	expect_in(r.out, "s3cret-from-esaas");
	run_free(&r);
	FILE *f = fopen(ca, "r");
	char buf[256] = "";
	assert_non_null(f);
	assert_true(fread(buf, 1, sizeof(buf) - 1, f) > 0);
	fclose(f);
	assert_string_equal(buf, "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n");
	free(ca);
}

/* Watching a test job: one line per transition, and -o json gives JSON lines. */
static void test_watch_test_workflow(void **state)
{
	struct run r;
	char id[24];

	int64_t job = submit_job(&W->d, "test", "watched",
				 "{\"plan\": {\"work\": [\"wait:50\", \"poll:50\", \"poll:50\", "
				 "\"poll:50\", \"retry\","
				 " \"next\"]}}");
	assert_true(job > 0);
	snprintf(id, sizeof(id), "%lld", (long long)job);
	CTL(&r, "jobs", "watch", id);
	expect_exit(&r, 0);
	expect_in(r.out, "work");
	expect_in(r.out, "wait/1");
	expect_in(r.out, "retry/");
	/* Every event once, but the waits that repeat the one before, and the
	 * last line; three identical waits in a row are one event that counts
	 * them, shown once. */
	size_t repeats;
	assert_int_equal(count_lines(r.out), (int)printed_events_of(job, &repeats) + 1);
	assert_int_equal(repeats, 0);
	assert_int_equal(most_polls_of(job), 3);
	run_free(&r);
	CTL(&r, "jobs", "events", id);
	expect_exit(&r, 0);
	expect_in(r.out, "work: 2 of 3 ready (3 polls, the last at ");
	run_free(&r);
	CTL(&r, "jobs", "watch", id, "-o", "json");
	expect_exit(&r, 0);
	int64_t last = 0;
	int lines = 0;
	for (char *line = r.out, *end; *line; line = end + 1) {
		end = strchr(line, '\n');
		assert_non_null(end);
		*end = '\0';
		json_t *ev = parse_json(line);
		int64_t eid = json_integer_value(json_object_get(ev, "id"));
		assert_true(eid > last);
		last = eid;
		lines++;
		json_decref(ev);
	}
	assert_int_equal(lines, (int)events_of(job));
	run_free(&r);

	/* A test job that fails: the watch exits 3 with the error. */
	job = submit_job(&W->d, "test", "watched", "{\"plan\": {\"work\": [\"fail\"]}}");
	snprintf(id, sizeof(id), "%lld", (long long)job);
	CTL(&r, "jobs", "watch", id);
	expect_exit(&r, 3);
	expect_in(r.out, "failed");
	expect_in(r.out, "simulated permanent error");
	run_free(&r);
	CTL(&r, "jobs", "watch", "999999");
	expect_exit(&r, 1);
	expect_in(r.err, "404 not_found");
	run_free(&r);
}

static void test_cancel(void **state)
{
	struct run r;
	char id[24];

	int64_t job =
		submit_job(&W->d, "test", "cancelled", "{\"plan\": {\"work\": [\"wait:60000\"]}}");
	assert_true(job > 0);
	json_t *j = wait_job_status(&W->d, job, "waiting", 20000);
	assert_non_null(j);
	json_decref(j);
	snprintf(id, sizeof(id), "%lld", (long long)job);
	CTL(&r, "jobs", "cancel", id, "--reason", "not needed after all", "--wait");
	/* A waited-for job that ends cancelled did not succeed: 3. */
	expect_exit(&r, 3);
	expect_in(r.out, "cancelled");
	run_free(&r);
	CTL(&r, "jobs", "events", id);
	expect_in(r.out, "not needed after all");
	run_free(&r);
	/* Once it has ended, a cancel is refused as a conflict. */
	CTL(&r, "jobs", "cancel", id, "--reason", "again");
	expect_exit(&r, 1);
	expect_in(r.err, "esaasctl: 409 conflict: ");
	run_free(&r);
}

static void test_replay(void **state)
{
	struct run r;
	char id[24];

	/* The first run of "work" fails, the second goes on. */
	int64_t job = submit_job(&W->d, "test", "replayed",
				 "{\"plan\": {\"work\": [\"fail\", \"next\"]}}");
	json_t *j = wait_job_done(&W->d, job, 20000);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "failed");
	json_decref(j);
	snprintf(id, sizeof(id), "%lld", (long long)job);
	CTL(&r, "jobs", "replay", id, "--reason", "fixed the cause", "--wait");
	expect_exit(&r, 0);
	expect_in(r.out, "replay/1");
	expect_in(r.out, "succeeded");
	/* Only what the replay caused is shown, not the run before it. */
	assert_null(strstr(r.out, "submitted/1"));
	assert_null(strstr(r.out, "prepare -> work"));
	run_free(&r);
	CTL(&r, "jobs", "events", id);
	expect_in(r.out, "fixed the cause");
	run_free(&r);
	/* A job that succeeded has nothing to replay; a state that is not its own is refused. */
	CTL(&r, "jobs", "replay", id, "--reason", "again");
	expect_exit(&r, 1);
	expect_in(r.err, "esaasctl: 409 ");
	run_free(&r);
	job = submit_job(&W->d, "test", "replayed", "{\"plan\": {\"work\": [\"fail\"]}}");
	j = wait_job_done(&W->d, job, 20000);
	json_decref(j);
	snprintf(id, sizeof(id), "%lld", (long long)job);
	CTL(&r, "jobs", "replay", id, "--from", "nosuch", "--reason", "try");
	expect_exit(&r, 1);
	expect_in(r.err, "from_state");
	run_free(&r);
}

/* --- credentials, tenants, quotas and tokens ---------------------------------------- */

/* Each way esaasd refuses a credential: exit 1, the reason, what to do, never the token. */
static void test_credentials_refused(void **state)
{
	struct run r;
	char xdg[320], xdg_env[340], file[400], text[200];
	char unknown[128];

	/* Of the shape of an esaas token (a 43-character secret), but made by no one. */
	snprintf(unknown, sizeof(unknown), "ESAAS_TOKEN=esaas_0123456789ab_s3cr3t%037d", 0);

	{
		const char *env[] = {W->url_env, W->home_env, NULL};
		CTL_ENV(&r, env, "clusters", "list");
		expect_exit(&r, 1);
		expect_in(r.err, "esaasctl: 401 unauthorized: esaasd needs a credential and none "
				 "was given; set ESAAS_TOKEN or --token, or token: in ");
		expect_in(r.err, "/.config/esaas/config.yaml");
		assert_string_equal(r.out, "");
		run_free(&r);
	}
	{
		const char *env[] = {W->url_env, W->home_env, "ESAAS_TOKEN=s3cr3t-value", NULL};
		CTL_ENV(&r, env, "jobs", "list");
		expect_exit(&r, 1);
		expect_in(r.err, "esaasd refused the credential from ESAAS_TOKEN: the bearer token "
				 "is not valid: ");
		assert_null(strstr(r.err, "s3cr3t"));
		run_free(&r);
	}
	{
		const char *env[] = {W->url_env, W->home_env, unknown, NULL};
		CTL_ENV(&r, env, "whoami");
		expect_exit(&r, 1);
		expect_in(r.err, "refused the credential from ESAAS_TOKEN: the bearer token is not "
				 "valid: unknown token");
		assert_null(strstr(r.err, "s3cr3t"));
		run_free(&r);
	}
	/* The flag beats a good token in the environment, and is named. */
	CTL(&r, "whoami", "--token", "esaas_0123456789ab_nope");
	expect_exit(&r, 1);
	expect_in(r.err, "refused the credential from --token: ");
	run_free(&r);
	/* From the config file: the message names the file. */
	snprintf(xdg, sizeof(xdg), "%s/xdg-refused", W->pg.dir);
	snprintf(xdg_env, sizeof(xdg_env), "XDG_CONFIG_HOME=%s", xdg);
	snprintf(file, sizeof(file), "%s/esaas/config.yaml", xdg);
	snprintf(text, sizeof(text), "token: s3cr3t-in-file\n");
	write_config(xdg, text);
	{
		const char *env[] = {W->url_env, xdg_env, NULL};
		char want[512];
		CTL_ENV(&r, env, "clusters", "list");
		expect_exit(&r, 1);
		snprintf(want, sizeof(want), "refused the credential from %s: ", file);
		expect_in(r.err, want);
		snprintf(want, sizeof(want), "or token: in %s\n", file);
		expect_in(r.err, want);
		assert_null(strstr(r.err, "s3cr3t"));
		run_free(&r);
	}
	/* The probes need nothing; the admin token works. */
	CTL(&r, "whoami");
	expect_exit(&r, 0);
	expect_in(r.out, "Role:");
	expect_in(r.out, "admin");
	expect_in(r.out, "Tenant:");
	expect_in(r.out, "default");
	expect_in(r.out, "ESAAS_TOKEN");
	run_free(&r);
}

/* The line of text that starts with the word first: its other words, one space apart, are want. */
static void expect_words(const char *text, const char *first, const char *want)
{
	size_t n = strlen(first);

	for (const char *line = text; *line;) {
		size_t len = strcspn(line, "\n");

		if (len > n && strncmp(line, first, n) == 0 && line[n] == ' ') {
			char words[256];
			size_t w = 0;

			for (size_t i = n; i < len && w + 2 < sizeof(words); i++) {
				if (line[i] != ' ')
					words[w++] = line[i];
				else if (w > 0 && words[w - 1] != ' ')
					words[w++] = ' ';
			}
			while (w > 0 && words[w - 1] == ' ')
				w--;
			words[w] = '\0';
			if (strcmp(words, want) != 0)
				fail_msg("the line of %s reads \"%s\", expected \"%s\":\n%s", first,
					 words, want, text);
			return;
		}
		line += len + (line[len] == '\n');
	}
	fail_msg("no line starts with %s in:\n%s", first, text);
}

/* Everything before the first newline of text (the token's line). */
static char *first_line(const char *text)
{
	return xstrndup(text, strcspn(text, "\n"));
}

static size_t jobs_listed(void)
{
	struct http_resp r;
	assert_true(http_call(&W->d, "GET", "/api/v1/jobs?limit=500", NULL, NULL, &r));
	assert_int_equal(r.status, 200);
	size_t n = json_array_size(json_object_get(r.body, "jobs"));
	http_resp_free(&r);
	return n;
}

/* --dry-run: the plan printed, nothing queued; a refusal as without it. */
static void test_dry_run_prints_the_plan(void **state)
{
	struct run r;
	size_t jobs = jobs_listed();

	CTL(&r, "create", "dry", "--version", "7.17.10", "--masters", "1", "--data", "2",
	    "--dry-run");
	expect_exit(&r, 0);
	expect_in(r.out, "Preview of create on cluster dry: nothing was changed or queued.");
	expect_in(r.out, "States:   apply_namespace -> apply_quota");
	expect_in(r.out, "1. create es-master-0 (master)");
	expect_in(r.out, "3. create es-data-1 (data)");
	expect_in(r.out, "Estimate: ");
	run_free(&r);
	CTL(&r, "-o", "json", "create", "dry", "--version", "7.17.10", "--dry-run");
	expect_exit(&r, 0);
	json_t *plan = parse_json(r.out);
	assert_true(json_is_true(json_object_get(plan, "dry_run")));
	assert_true(json_is_array(json_object_get(plan, "states")));
	json_decref(plan);
	run_free(&r);
	CTL(&r, "restart", "nosuch-dry", "--dry-run");
	expect_exit(&r, 1);
	expect_in(r.err, "404 not_found: cluster nosuch-dry not found");
	run_free(&r);
	CTL(&r, "create", "dry", "--version", "7.17.10", "--masters", "2", "--dry-run");
	expect_exit(&r, 1);
	expect_in(r.err, "422 invalid");
	run_free(&r);
	assert_int_equal(jobs_listed(), jobs);
	struct http_resp h;
	assert_true(http_call(&W->d, "GET", "/api/v1/clusters/dry", NULL, NULL, &h));
	assert_int_equal(h.status, 404);
	http_resp_free(&h);
}

static void test_tenants_tokens_quotas(void **state)
{
	struct run r;
	json_t *v;
	char member_env[200], id[32];

	/* A tenant, once. */
	CTL(&r, "tenants", "create", "search");
	expect_exit(&r, 0);
	expect_in(r.out, "tenant search created");
	run_free(&r);
	CTL(&r, "tenants", "create", "search");
	expect_exit(&r, 0);
	expect_in(r.out, "tenant search exists already");
	run_free(&r);
	CTL(&r, "tenants", "create", "Not_A_Label");
	expect_exit(&r, 1);
	expect_in(r.err, "esaasctl: 422 invalid: tenant");
	run_free(&r);

	/* Its quota: only the limits given change. */
	CTL(&r, "quota", "set", "search", "--clusters", "2", "--nodes", "3", "--memory", "56Gi");
	expect_exit(&r, 0);
	expect_in(r.out, "Tenant:");
	expect_in(r.out, "RESOURCE");
	expect_in(r.out, "56Gi");
	run_free(&r);
	CTL(&r, "quota", "set", "search", "--cpu", "8", "--disk", "2Ti", "-o", "json");
	expect_exit(&r, 0);
	v = parse_json(r.out);
	json_t *q = json_object_get(v, "quota");
	assert_int_equal(json_integer_value(json_object_get(q, "clusters")), 2);
	assert_int_equal(json_integer_value(json_object_get(q, "nodes")), 3);
	assert_int_equal(json_integer_value(json_object_get(q, "cpu_millis")), 8000);
	assert_int_equal(json_integer_value(json_object_get(q, "memory_bytes")), 56LL << 30);
	assert_int_equal(json_integer_value(json_object_get(q, "disk_bytes")), 2LL << 40);
	json_decref(v);
	run_free(&r);
	CTL(&r, "quota", "set", "search", "--disk", "none", "-o", "json");
	expect_exit(&r, 0);
	v = parse_json(r.out);
	q = json_object_get(v, "quota");
	assert_true(json_is_null(json_object_get(q, "disk_bytes")));
	assert_int_equal(json_integer_value(json_object_get(q, "cpu_millis")), 8000);
	assert_int_equal(json_integer_value(json_object_get(q, "clusters")), 2);
	json_decref(v);
	run_free(&r);
	CTL(&r, "quota", "set", "search");
	expect_exit(&r, 2);
	expect_in(r.err, "which limits?");
	run_free(&r);
	CTL(&r, "quota", "set", "search", "--clusters", "many");
	expect_exit(&r, 2);
	expect_in(r.err, "--clusters");
	run_free(&r);
	CTL(&r, "quota", "set", "search", "--memory", "lots");
	expect_exit(&r, 1);
	expect_in(r.err, "esaasctl: 422 invalid: memory");
	run_free(&r);
	CTL(&r, "quota", "set", "nosuch", "--clusters", "1");
	expect_exit(&r, 1);
	expect_in(r.err, "404 not_found");
	run_free(&r);

	/* A member token of it: the secret alone on stdout, the id on stderr. */
	CTL(&r, "tokens", "create", "--role", "member");
	expect_exit(&r, 2);
	expect_in(r.err, "--tenant and --role");
	run_free(&r);
	CTL(&r, "tokens", "create", "--tenant", "search", "--role", "member", "--expires", "5x");
	expect_exit(&r, 2);
	expect_in(r.err, "--expires");
	run_free(&r);
	CTL(&r, "tokens", "create", "--tenant", "search", "--role", "boss");
	expect_exit(&r, 1);
	expect_in(r.err, "422 invalid: role");
	run_free(&r);
	CTL(&r, "tokens", "create", "--tenant", "search", "--role", "member", "--description",
	    "search team CI", "--expires", "30d");
	expect_exit(&r, 0);
	assert_int_equal(count_lines(r.out), 1);
	char *secret = first_line(r.out);
	assert_true(strncmp(secret, "esaas_", 6) == 0);
	snprintf(id, sizeof(id), "%.12s", secret + 6);
	expect_in(r.err, id);
	expect_in(r.err, "member of tenant search, expires ");
	expect_in(r.err, "shown this once");
	run_free(&r);
	snprintf(member_env, sizeof(member_env), "ESAAS_TOKEN=%s", secret);
	const char *member[] = {W->url_env, W->home_env, member_env, NULL};

	CTL_ENV(&r, member, "whoami");
	expect_exit(&r, 0);
	expect_in(r.out, "token:");
	expect_in(r.out, id);
	expect_in(r.out, "search");
	expect_in(r.out, "member");
	run_free(&r);
	CTL_ENV(&r, member, "whoami", "-o", "json");
	expect_exit(&r, 0);
	v = parse_json(r.out);
	assert_string_equal(json_string_value(json_object_get(v, "tenant")), "search");
	assert_string_equal(json_string_value(json_object_get(v, "role")), "member");
	json_decref(v);
	run_free(&r);

	/* Listed with its description, never its secret. */
	CTL(&r, "tokens", "list", "--tenant", "search");
	expect_exit(&r, 0);
	expect_in(r.out, "LAST USED");
	expect_in(r.out, id);
	expect_in(r.out, "search team CI");
	expect_in(r.out, "member");
	expect_in(r.out, "in 29d");
	assert_null(strstr(r.out, secret + 19));
	assert_null(strstr(r.err, secret + 19));
	run_free(&r);
	CTL(&r, "tokens", "list", "-o", "json");
	expect_exit(&r, 0);
	assert_null(strstr(r.out, secret + 19));
	v = parse_json(r.out);
	assert_true(json_array_size(json_object_get(v, "tokens")) >= 2);
	json_decref(v);
	run_free(&r);

	/* The member: its own tenant's quota, no one else's, and no admin's commands. */
	CTL_ENV(&r, member, "tenants", "show");
	expect_exit(&r, 0);
	expect_in(r.out, "search");
	expect_in(r.out, "cpu (cores)");
	expect_in(r.out, "56Gi");
	run_free(&r);
	CTL_ENV(&r, member, "tokens", "list");
	expect_exit(&r, 1);
	expect_in(r.err, "esaasctl: 403 forbidden: role member may not ");
	run_free(&r);
	CTL_ENV(&r, member, "clusters", "list", "--tenant", "default");
	expect_exit(&r, 1);
	expect_in(r.err, "404 not_found");
	run_free(&r);

	/* Within the quota, then past it: 429, and the usage shows. */
	CTL_ENV(&r, member, "create", "s1", "--version", "7.17.10", "--masters", "1", "--data", "2",
		"--clients", "0", "--wait");
	expect_exit(&r, 0);
	expect_in(r.out, "create of s1");
	run_free(&r);
	CTL_ENV(&r, member, "create", "s2", "--version", "7.17.10", "--masters", "1", "--data", "1",
		"--clients", "0");
	expect_exit(&r, 1);
	expect_in(r.err, "esaasctl: 429 quota_exceeded: quota exceeded: nodes: ");
	run_free(&r);
	CTL(&r, "tenants", "show", "search");
	expect_exit(&r, 0);
	/* used, limit, left */
	expect_words(r.out, "clusters", "1 2 1");
	expect_words(r.out, "nodes", "3 3 0");
	expect_words(r.out, "disk", "200Gi none -");
	run_free(&r);
	CTL(&r, "tenants", "show", "search", "-o", "json");
	v = parse_json(r.out);
	json_t *u = json_object_get(v, "usage");
	assert_int_equal(json_integer_value(json_object_get(u, "clusters")), 1);
	assert_int_equal(json_integer_value(json_object_get(u, "nodes")), 3);
	json_decref(v);
	run_free(&r);
	CTL(&r, "tenants", "list");
	expect_exit(&r, 0);
	expect_in(r.out, "TENANT");
	expect_in(r.out, "default");
	expect_in(r.out, "1 of 2");
	run_free(&r);

	/* --tenant addresses a tenant: admin lists see every tenant without it. */
	CTL(&r, "clusters", "list", "--tenant", "search", "-o", "json");
	expect_exit(&r, 0);
	v = parse_json(r.out);
	assert_int_equal(json_array_size(json_object_get(v, "clusters")), 1);
	json_decref(v);
	run_free(&r);
	CTL(&r, "--tenant", "search", "jobs", "list");
	expect_exit(&r, 0);
	expect_in(r.out, "s1");
	run_free(&r);
	CTL(&r, "clusters", "show", "s1");
	expect_exit(&r, 1);
	expect_in(r.err, "404 not_found");
	run_free(&r);
	CTL(&r, "clusters", "show", "s1", "--tenant", "search");
	expect_exit(&r, 0);
	expect_in(r.out, "search");
	run_free(&r);

	/* Revoked: refused from the next request on. */
	CTL(&r, "tokens", "revoke", secret);
	expect_exit(&r, 2);
	expect_in(r.err, "not the token itself");
	run_free(&r);
	CTL(&r, "tokens", "revoke", id);
	expect_exit(&r, 0);
	expect_in(r.out, "is revoked");
	run_free(&r);
	CTL_ENV(&r, member, "whoami");
	expect_exit(&r, 1);
	expect_in(r.err, "esaasctl: 401 unauthorized: esaasd refused the credential from "
			 "ESAAS_TOKEN: the bearer token is not valid: the token was revoked; set "
			 "ESAAS_TOKEN or --token, or token: in ");
	assert_null(strstr(r.err, secret + 19));
	run_free(&r);
	CTL_ENV(&r, member, "delete", "s1");
	expect_exit(&r, 1);
	expect_in(r.err, "401 unauthorized");
	run_free(&r);
	CTL(&r, "tokens", "list", "--tenant", "search", "-o", "json");
	v = parse_json(r.out);
	json_t *tokens = json_object_get(v, "tokens");
	assert_int_equal(json_array_size(tokens), 1);
	assert_true(json_is_string(json_object_get(json_array_get(tokens, 0), "revoked_at")));
	json_decref(v);
	run_free(&r);
	CTL(&r, "tokens", "revoke", "ffffffffffff");
	expect_exit(&r, 1);
	expect_in(r.err, "404 not_found");
	run_free(&r);
	free(secret);

	/* Gone at the end, for the tests that count clusters. */
	CTL(&r, "delete", "s1", "--tenant", "search", "--wait");
	expect_exit(&r, 0);
	run_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_and_usage_errors),
		cmocka_unit_test(test_unreachable_server),
		cmocka_unit_test(test_config_file_env_and_flags),
		cmocka_unit_test(test_cluster_lifecycle),
		cmocka_unit_test(test_failed_create_exits_3),
		cmocka_unit_test(test_cluster_credentials),
		cmocka_unit_test(test_watch_test_workflow),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_credentials_refused),
		cmocka_unit_test(test_tenants_tokens_quotas),
		cmocka_unit_test(test_dry_run_prints_the_plan),
	};
	/* ESAAS_TEST_FILTER=test_tenants* runs a subset. */
	const char *filter = getenv("ESAAS_TEST_FILTER");
	if (filter && *filter)
		cmocka_set_test_filter(filter);
	return harness_run_group(tests, group_setup, group_teardown);
}
