#include "tests/integration/harness.h"
#include "common/base64.h"
#include "common/util.h"

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <curl/curl.h>

const char *harness_srcdir(void)
{
	const char *s = getenv("ESAAS_SRCDIR");
	return s && *s ? s : ".";
}

const char *harness_builddir(void)
{
	const char *s = getenv("ESAAS_BUILDDIR");
	return s && *s ? s : ".";
}

void msleep(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

int64_t harness_now_ms(void)
{
	return now_mono_ms();
}

/* Run a command line and capture its first line of output. */
static bool run_capture(const char *cmd, char *out, size_t len)
{
	FILE *f = popen(cmd, "r");
	if (!f)
		return false;
	bool got = out ? fgets(out, (int)len, f) != NULL : true;
	char sink[256];
	while (fgets(sink, sizeof(sink), f))
		;
	int st = pclose(f);
	if (out && got)
		out[strcspn(out, "\r\n")] = '\0';
	return got && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

bool pg_start(struct pg *pg)
{
	str_copy_trunc(pg->dir, "/tmp/esaas-it-XXXXXX", sizeof(pg->dir));
	if (!mkdtemp(pg->dir))
		return false;
	return pg_ctl(pg, "start");
}

bool pg_ctl(struct pg *pg, const char *verb)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "%s/tests/pg.sh %s %s", harness_srcdir(), verb, pg->dir);
	if (strcmp(verb, "start") == 0)
		return run_capture(cmd, pg->url, sizeof(pg->url));
	return run_capture(cmd, NULL, 0);
}

void pg_destroy(struct pg *pg)
{
	pg_ctl(pg, "destroy");
}

void pg_finish(struct pg *pg)
{
	const char *keep = getenv("ESAAS_TEST_KEEP");
	if (keep && *keep == '1') {
		pg_ctl(pg, "stop");
		fprintf(stderr, "kept %s\n", pg->dir);
		return;
	}
	pg_destroy(pg);
}

const char *pg_new_database(struct pg *pg, char *url, size_t len)
{
	static int counter;
	char name[64];
	snprintf(name, sizeof(name), "t%d_%d", (int)getpid(), ++counter);
	PGconn *c = sql_connect(pg->url);
	if (!c)
		return NULL;
	char *ident = PQescapeIdentifier(c, name, strlen(name));
	char *sql = xasprintf("CREATE DATABASE %s", ident);
	PQfreemem(ident);
	PGresult *r = PQexecParams(c, sql, 0, NULL, NULL, NULL, NULL, 0);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "CREATE DATABASE: %s", PQresultErrorMessage(r));
	PQclear(r);
	free(sql);
	PQfinish(c);
	if (!ok)
		return NULL;
	/* The server URL ends in /postgres: swap the database name. */
	char *slash = strrchr(pg->url, '/');
	snprintf(url, len, "%.*s/%s", (int)(slash - pg->url), pg->url, name);
	return url;
}

/*
 * A port nothing listens on, for a server this test starts next.  Not one
 * the kernel hands out for port 0: those come from the ephemeral range
 * (ip_local_port_range, 32768-60999 by default), which every outgoing
 * connection of the programs running side by side also draws from, so one
 * could take it before the server binds it.  A random one of 10000-19999
 * instead, below that range and below tests/pg.sh's 20000-40000.
 *
 * Between the check here and the server's bind, another test program (they
 * run eight at a time) or this one could pick the same port.  So a port is
 * also claimed with an flock(2) on a file named after it, in a directory
 * all the programs share; the lock is held until this program has picked
 * PORT_CLAIMS more, long after the server it was for has bound it, and the
 * kernel lets go of it when the program ends, however it ends.
 */
#define PORT_CLAIMS 64

static int claim_port_lock(int port)
{
	static char dir[256];
	if (!dir[0]) {
		const char *t = getenv("TMPDIR");
		snprintf(dir, sizeof(dir), "%s/esaas-test-ports", t && *t ? t : "/tmp");
		if (mkdir(dir, 01777) == 0)
			chmod(dir, 01777);
	}
	char path[300];
	snprintf(path, sizeof(path), "%s/%d", dir, port);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0)
		return -2; /* no shared directory: the bind check alone */
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int harness_free_port(void)
{
	static int held[PORT_CLAIMS];
	static unsigned next;
	static bool init;
	if (!init) {
		for (int i = 0; i < PORT_CLAIMS; i++)
			held[i] = -1;
		init = true;
	}
	for (int attempt = 0; attempt < 500; attempt++) {
		int port = 10000 + (int)rand_below(10000);
		int lock = claim_port_lock(port);
		if (lock == -1)
			continue;
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_port = htons((uint16_t)port),
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		if (fd >= 0)
			close(fd);
		if (!ok) {
			if (lock >= 0)
				close(lock);
			continue;
		}
		if (lock >= 0) {
			unsigned slot = next++ % PORT_CLAIMS;
			if (held[slot] >= 0)
				close(held[slot]);
			held[slot] = lock;
		}
		return port;
	}
	return -1;
}

/* The simulators' servers and their CA files, for http_request(). */
static struct {
	char server[256];
	char ca[300];
} known_cas[16];

static const char *ca_for(const char *base)
{
	for (size_t i = 0; i < sizeof(known_cas) / sizeof(known_cas[0]); i++) {
		if (known_cas[i].server[0] && !strcmp(known_cas[i].server, base))
			return known_cas[i].ca;
	}
	return NULL;
}

/* The kubeconfig's certificate-authority-data into s->ca, and known. */
static bool write_ca(struct sim *s, const char *b64)
{
	unsigned char *pem = NULL;
	size_t len = 0;
	if (!base64_decode(b64, strlen(b64), &pem, &len, NULL))
		return false;
	snprintf(s->ca, sizeof(s->ca), "%s/ca.crt", s->dir);
	FILE *f = fopen(s->ca, "w");
	bool ok = f && fwrite(pem, 1, len, f) == len;
	if (f)
		ok = fclose(f) == 0 && ok;
	free(pem);
	if (!ok || !s->server[0])
		return false;
	harness_trust_ca(s->server, s->ca);
	return true;
}

void harness_trust_ca(const char *base, const char *ca_file)
{
	static size_t next;
	size_t i = next++ % (sizeof(known_cas) / sizeof(known_cas[0]));
	snprintf(known_cas[i].server, sizeof(known_cas[i].server), "%s", base);
	snprintf(known_cas[i].ca, sizeof(known_cas[i].ca), "%s", ca_file);
}

bool sim_start(struct sim *s, const char *dir, const char *config_yaml)
{
	return sim_start_rbac(s, dir, config_yaml, NULL);
}

bool sim_start_rbac(struct sim *s, const char *dir, const char *config_yaml,
		    const char *const *rbac_files)
{
	static int counter;
	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "%s/sim-%d", dir, ++counter);
	if (mkdir(s->dir, 0755) != 0)
		return false;
	char config[320], bin[512];
	snprintf(config, sizeof(config), "%s/sim.yaml", s->dir);
	snprintf(s->kubeconfig, sizeof(s->kubeconfig), "%s/kubeconfig", s->dir);
	snprintf(s->log, sizeof(s->log), "%s/sim.log", s->dir);
	snprintf(bin, sizeof(bin), "%s/esaas-sim", harness_builddir());
	FILE *f = fopen(config, "w");
	if (!f)
		return false;
	/* A fixed seed for the faults' rates and the simulated ids, so that a
	 * failure repeats: $ESAAS_SIM_SEED, else 1; a configuration's own seed
	 * wins. */
	if (!config_yaml || strncmp(config_yaml, "seed:", 5) != 0) {
		const char *seed = getenv("ESAAS_SIM_SEED");
		fprintf(f, "seed: %s\n", seed && *seed ? seed : "1");
	}
	fputs(config_yaml ? config_yaml : "", f);
	/* The images pulled as the kubelet pulls them (per node, one at a
	 * time, the pod Pending until they are there), in 1 s each instead of
	 * the simulator's default 5 s: every test's first pods on a fresh
	 * simulator would otherwise wait 10 s for nothing they check.  A
	 * configuration with an images section of its own keeps it. */
	if (!config_yaml ||
	    (strncmp(config_yaml, "images:", 7) != 0 && !strstr(config_yaml, "\nimages:")))
		fputs("images:\n  pull_ms: 1000\n", f);
	fclose(f);
	s->podnet_port = harness_free_port();
	char podnet[32];
	snprintf(podnet, sizeof(podnet), "127.0.0.1:%d", s->podnet_port);
	s->pid = fork();
	if (s->pid < 0)
		return false;
	if (s->pid == 0) {
		int fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		char role[600], binding[600];
		snprintf(role, sizeof(role), "%s/deploy/kubernetes/clusterrole.yaml",
			 harness_srcdir());
		snprintf(binding, sizeof(binding), "%s/deploy/kubernetes/clusterrolebinding.yaml",
			 harness_srcdir());
		const char *shipped[] = {role, binding, NULL};
		const char *const *files = rbac_files ? rbac_files : shipped;
		/* The API server's schemas, for its unknown fields. */
		char openapi[600];
		snprintf(openapi, sizeof(openapi), "%s/tests/reference/k8s-schema/openapi-v3/1.29",
			 harness_srcdir());
		/* Elasticsearch's REST specifications, for the query parameters. */
		char es_api[600];
		snprintf(es_api, sizeof(es_api), "%s/tests/reference/es-api", harness_srcdir());
		const char *argv[32] = {
			bin,	       "--listen", "127.0.0.1:0", "--kubeconfig-out",
			s->kubeconfig, "--config", config,	  "--openapi",
			openapi,       "--es-api", es_api,	  "--pod-network",
			podnet};
		int n = 13;
		for (int i = 0; files[i] && n < 29; i++) {
			argv[n++] = "--rbac";
			argv[n++] = files[i];
		}
		argv[n] = NULL;
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	/* The kubeconfig appears, whole, once the simulator listens. */
	int64_t deadline = harness_now_ms() + 10000;
	struct stat st;
	while (stat(s->kubeconfig, &st) != 0) {
		if (harness_now_ms() > deadline || waitpid(s->pid, NULL, WNOHANG) == s->pid) {
			fprintf(stderr, "esaas-sim did not start; see %s\n", s->log);
			return false;
		}
		msleep(5);
	}
	FILE *kc = fopen(s->kubeconfig, "r");
	char line[4096], user[256] = "";
	bool ca_ok = false;
	while (kc && fgets(line, sizeof(line), kc)) {
		line[strcspn(line, "\n")] = '\0';
		char *p = strstr(line, "server: ");
		if (p)
			snprintf(s->server, sizeof(s->server), "%.200s", p + 8);
		if (!strncmp(line, "- name: ", 8))
			snprintf(user, sizeof(user), "%.200s", line + 8);
		p = strstr(line, "tokenFile: \"");
		if (p && !s->sa_token[0] && strstr(user, "system:serviceaccount:")) {
			/* A bound token, in its file. */
			char path[600];
			snprintf(path, sizeof(path), "%s", p + 12);
			path[strcspn(path, "\"")] = '\0';
			snprintf(s->sa_token_file, sizeof(s->sa_token_file), "%s", path);
			FILE *tf = fopen(path, "r");
			if (tf && fgets(s->sa_token, sizeof(s->sa_token), tf))
				s->sa_token[strcspn(s->sa_token, "\n")] = '\0';
			if (tf)
				fclose(tf);
			continue;
		}
		p = strstr(line, "token: ");
		if (p && !strcmp(user, "\"admin\""))
			snprintf(s->token, sizeof(s->token), "%.200s", p + 7);
		else if (p && !s->sa_token[0] && strstr(user, "system:serviceaccount:"))
			snprintf(s->sa_token, sizeof(s->sa_token), "%.200s", p + 7);
		p = strstr(line, "certificate-authority-data: ");
		if (p)
			ca_ok = write_ca(s, p + 28);
	}
	if (kc)
		fclose(kc);
	if (!s->server[0] || !s->token[0] || !s->sa_token[0] || !ca_ok) {
		fprintf(stderr, "esaas-sim wrote no server, CA or tokens in %s\n", s->kubeconfig);
		return false;
	}
	return true;
}

int sim_stop(struct sim *s)
{
	if (s->pid <= 0)
		return 0;
	int st;
	kill(s->pid, SIGTERM);
	if (waitpid(s->pid, &st, 0) != s->pid)
		return -1000;
	s->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

int esaasd_stop_all(struct esaasd *d, int n)
{
	int rc = 0;

	for (int i = 0; i < n; i++) {
		int st = d[i].pid > 0 ? esaasd_stop(&d[i], SIGTERM, true) : 0;

		if (st != 0) {
			fprintf(stderr, "esaasd exited with %d on SIGTERM; see %s\n", st, d[i].log);
			rc = -1;
		}
	}
	return rc;
}

int esaasd_poll_exit(struct esaasd *d)
{
	if (d->pid <= 0)
		return 0;
	int st;
	pid_t r = waitpid(d->pid, &st, WNOHANG);
	if (r == d->pid) {
		d->pid = 0;
		return st;
	}
	return -1;
}

bool esaasd_start(struct esaasd *d, const char *tmpdir, const char *dburl,
		  const struct esaasd_opts *o)
{
	return esaasd_spawn(d, tmpdir, dburl, o) && esaasd_wait_ready(d);
}

bool esaasd_spawn(struct esaasd *d, const char *tmpdir, const char *dburl,
		  const struct esaasd_opts *o)
{
	static int counter;
	struct esaasd_opts def = {0};
	if (!o)
		o = &def;
	memset(d, 0, sizeof(*d));
	d->port = harness_free_port();
	snprintf(d->base, sizeof(d->base), "http://127.0.0.1:%d", d->port);
	d->metrics_port = harness_free_port();
	snprintf(d->metrics_base, sizeof(d->metrics_base), "http://127.0.0.1:%d", d->metrics_port);
	snprintf(d->dburl, sizeof(d->dburl), "%s", dburl);
	counter++;
	snprintf(d->config, sizeof(d->config), "%s/esaasd-%d.yaml", tmpdir, counter);
	snprintf(d->log, sizeof(d->log), "%s/esaasd-%d.log", tmpdir, counter);
	FILE *f = fopen(d->config, "w");
	if (!f)
		return false;
	fprintf(f,
		"listen: 127.0.0.1:%d\n"
		"metrics:\n  listen: 127.0.0.1:%d\n"
		"database:\n  url: \"%s\"\n  pool_size: 4\n  startup_timeout_seconds: 30\n"
		"engine:\n  workers: %d\n  lease_seconds: %d\n  heartbeat_seconds: %d\n"
		"  poll_seconds: %d\n  shutdown_grace_seconds: %d\n  deadline_percent: %d\n  "
		"wait_poll_ms: %d\n%s"
		"retry:\n  base_ms: %d\n  cap_ms: %d\n  max_attempts: %d\n"
		"log:\n  level: %s\n  format: %s\n%s%s%s"
		"%s%s%s",
		d->port, d->metrics_port, dburl, o->workers ? o->workers : 16,
		o->lease_s ? o->lease_s : 30, o->heartbeat_s ? o->heartbeat_s : 10,
		o->poll_s ? o->poll_s : 5, o->grace_s ? o->grace_s : 2,
		o->deadline_percent ? o->deadline_percent : 100,
		o->wait_poll_ms ? o->wait_poll_ms : 100, o->engine_yaml ? o->engine_yaml : "",
		o->retry_base_ms ? o->retry_base_ms : 20, o->retry_cap_ms ? o->retry_cap_ms : 200,
		o->retry_max_attempts ? o->retry_max_attempts : 5,
		o->log_level ? o->log_level : "debug", o->json_logs ? "json" : "text",
		o->log_file ? "  file: \"" : "", o->log_file ? o->log_file : "",
		o->log_file ? "\"\n" : "", o->kubeconfig ? "kubernetes:\n  kubeconfig: \"" : "",
		o->kubeconfig ? o->kubeconfig : "",
		o->kubeconfig ? "\"\n  api_server_cidrs: \"" HARNESS_CONTROL_PLANE_CIDR "\"\n"
			      : "");
	if (o->plugin_repository)
		fprintf(f, "%s  plugin_repository: \"%s\"\n", o->kubeconfig ? "" : "kubernetes:\n",
			o->plugin_repository);
	if (o->unschedulable_timeout_s)
		fprintf(f, "%s  unschedulable_timeout_seconds: %d\n",
			o->kubeconfig || o->plugin_repository ? "" : "kubernetes:\n",
			o->unschedulable_timeout_s);
	if (o->no_watch)
		fprintf(f, "%s  watch: false\n",
			o->kubeconfig || o->plugin_repository || o->unschedulable_timeout_s
				? ""
				: "kubernetes:\n");
	if (o->kube_yaml)
		fprintf(f, "%s%s",
			o->kubeconfig || o->plugin_repository || o->unschedulable_timeout_s ||
					o->no_watch
				? ""
				: "kubernetes:\n",
			o->kube_yaml);
	if (o->extra_yaml)
		fputs(o->extra_yaml, f);
	fclose(f);
	char bin[512];
	snprintf(bin, sizeof(bin), "%s/esaasd-test", harness_builddir());
	pid_t pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execl(bin, bin, "-c", d->config, (char *)NULL);
		_exit(127);
	}
	d->pid = pid;
	return true;
}

/* The last lines of a server's log, on stderr, so that a start-up that
 * failed says why in the test's own output. */
static void harness_print_tail(const char *path, int lines)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	static char ring[20][512];
	int n = 0;
	if (lines > 20)
		lines = 20;
	while (fgets(ring[n % lines], sizeof(ring[0]), f))
		n++;
	fclose(f);
	for (int i = n > lines ? n - lines : 0; i < n; i++)
		fprintf(stderr, "  | %s", ring[i % lines]);
}

bool esaasd_wait_ready(struct esaasd *d)
{
	int64_t deadline = harness_now_ms() + 30000;
	while (harness_now_ms() < deadline) {
		if (esaasd_poll_exit(d) != -1) {
			fprintf(stderr, "esaasd exited during start-up; see %s\n", d->log);
			harness_print_tail(d->log, 20);
			return false;
		}
		struct http_resp r;
		if (http_call(d, "GET", "/readyz", NULL, NULL, &r)) {
			long st = r.status;
			http_resp_free(&r);
			/* The token made now, in this process, is the one that the
			 * test's forked clients inherit. */
			if (st == 200)
				return !d->dburl[0] || harness_token(d) != NULL;
		}
		msleep(20);
	}
	fprintf(stderr, "esaasd not ready after 30s; see %s\n", d->log);
	return false;
}

int esaasd_stop(struct esaasd *d, int sig, bool wait)
{
	if (d->pid <= 0)
		return 0;
	kill(d->pid, sig);
	if (!wait)
		return 0;
	int st;
	if (waitpid(d->pid, &st, 0) != d->pid)
		return -2;
	d->pid = 0;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return WIFSIGNALED(st) ? -WTERMSIG(st) : -1000;
}

struct buf {
	char *p;
	size_t n;
};

/* The answer being received: its body and header lines. */
struct answer {
	struct http_resp *r;
	struct buf body;
	struct buf headers;
};

static void buf_add(struct buf *b, const char *data, size_t n)
{
	b->p = xrealloc(b->p, b->n + n + 1);
	memcpy(b->p + b->n, data, n);
	b->n += n;
	b->p[b->n] = '\0';
}

/*
 * TLS sessions and open connections kept between requests, as a client
 * library's connection pool keeps them: a new TLS context and handshake for
 * each request to the simulator would slow every test down.
 */
static pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *arg)
{
	(void)h, (void)access, (void)arg;
	pthread_mutex_lock(&share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *arg)
{
	(void)h, (void)arg;
	pthread_mutex_unlock(&share_locks[data]);
}

static CURLSH *share;

static void share_init(void)
{
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&share_locks[i], NULL);
	share = curl_share_init();
	if (!share)
		return;
	curl_share_setopt(share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
}

static CURLSH *curl_share(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, share_init);
	return share;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct answer *a = arg;
	buf_add(&a->body, data, size * nmemb);
	return size * nmemb;
}

static void copy_header(const char *line, size_t n, const char *name, char *dst, size_t len)
{
	size_t nl = strlen(name);
	if (n > nl + 1 && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
		const char *v = line + nl + 1;
		while (*v == ' ')
			v++;
		size_t vl = n - (size_t)(v - line);
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
			vl--;
		snprintf(dst, len, "%.*s", (int)vl, v);
	}
}

static size_t header_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct answer *a = arg;
	struct http_resp *r = a->r;
	size_t n = size * nmemb;
	buf_add(&a->headers, data, n);
	copy_header(data, n, "Location", r->location, sizeof(r->location));
	copy_header(data, n, "Allow", r->allow, sizeof(r->allow));
	copy_header(data, n, "Content-Type", r->content_type, sizeof(r->content_type));
	return n;
}

/* Tokens made by harness_token(), one per database (a test program makes
 * a database per test), kept until the program exits. */
struct harness_token {
	char dburl[600];
	char token[128];
};
static struct harness_token *tokens;
static size_t ntokens;

/* The token made for d's database, if one was. */
static const char *known_token(const struct esaasd *d)
{
	for (size_t i = 0; i < ntokens; i++) {
		if (strcmp(tokens[i].dburl, d->dburl) == 0)
			return tokens[i].token;
	}
	return NULL;
}

const char *harness_token(const struct esaasd *d)
{
	size_t i;
	char bin[512], line[128] = "";
	int fds[2];

	if (!d->dburl[0])
		return NULL;
	if (known_token(d))
		return known_token(d);
	if (pipe(fds) != 0)
		return NULL;
	snprintf(bin, sizeof(bin), "%s/esaasd-test", harness_builddir());
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return NULL;
	}
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fds[1], 1);
		if (fd >= 0)
			dup2(fd, 2);
		close(fds[0]);
		close(fds[1]);
		setenv("ESAAS_DATABASE_URL", d->dburl, 1);
		setenv("ESAAS_DATABASE_STARTUP_TIMEOUT_SECONDS", "10", 1);
		execl(bin, bin, "--bootstrap-admin", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	FILE *f = fdopen(fds[0], "r");
	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
	} else {
		close(fds[0]);
	}
	int st;
	waitpid(pid, &st, 0);
	line[strcspn(line, "\n")] = '\0';
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || strncmp(line, "esaas_", 6) != 0) {
		fprintf(stderr, "esaasd --bootstrap-admin failed for %s\n", d->dburl);
		return NULL;
	}
	tokens = xrealloc(tokens, (ntokens + 1) * sizeof(*tokens));
	i = ntokens++;
	snprintf(tokens[i].dburl, sizeof(tokens[i].dburl), "%s", d->dburl);
	snprintf(tokens[i].token, sizeof(tokens[i].token), "%s", line);
	return tokens[i].token;
}

const char *harness_actor(const struct esaasd *d, const char *as)
{
	static char buf[4][256];
	static int next;
	const char *t = harness_token(d);
	char *out = buf[next++ % 4];

	/* esaas_<12 hex>_<secret> */
	if (!t || strlen(t) < 19)
		return "(no token)";
	if (as)
		snprintf(out, sizeof(buf[0]), "token:%.12s (%s)", t + 6, as);
	else
		snprintf(out, sizeof(buf[0]), "token:%.12s", t + 6);
	return out;
}

bool metrics_get(const struct esaasd *d, struct http_resp *out)
{
	return http_request(d->metrics_base, "GET", "/metrics", NULL, NULL, 0, out);
}

bool http_call(const struct esaasd *d, const char *method, const char *path, const char *body,
	       const char *const *headers, struct http_resp *out)
{
	bool own_auth = false;
	size_t n = 0;
	for (; headers && headers[n]; n++)
		own_auth |= strncasecmp(headers[n], "Authorization:", 14) == 0;
	/* Made when d was first ready (esaasd_wait_ready()), not here: the
	 * database may be down on purpose by now. */
	const char *token = !own_auth && strncmp(path, "/api/", 5) == 0 ? known_token(d) : NULL;
	if (!token)
		return http_request(d->base, method, path, body, headers, 0, out);
	char auth[160];
	const char **h = xcalloc(n + 2, sizeof(*h));
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	h[0] = auth;
	for (size_t i = 0; i < n; i++)
		h[i + 1] = headers[i];
	bool ok = http_request(d->base, method, path, body, h, 0, out);
	free(h);
	return ok;
}

static char last_error[CURL_ERROR_SIZE + 64];

const char *http_last_error(void)
{
	return last_error;
}

bool http_request(const char *base, const char *method, const char *path, const char *body,
		  const char *const *headers, int timeout_ms, struct http_resp *out)
{
	char why[CURL_ERROR_SIZE] = "";
	memset(out, 0, sizeof(*out));
	bool own_type = false;
	for (int i = 0; headers && headers[i]; i++)
		own_type |= strncasecmp(headers[i], "Content-Type:", 13) == 0;
	CURL *c = curl_easy_init();
	if (!c)
		return false;
	char url[2048];
	snprintf(url, sizeof(url), "%s%s", base, path);
	struct answer a = {.r = out};
	struct curl_slist *h = NULL;
	if (body && !own_type)
		h = curl_slist_append(h, "Content-Type: application/json");
	for (int i = 0; headers && headers[i]; i++)
		h = curl_slist_append(h, headers[i]);
	curl_easy_setopt(c, CURLOPT_URL, url);
	if (ca_for(base)) {
		curl_easy_setopt(c, CURLOPT_CAINFO, ca_for(base));
		curl_easy_setopt(c, CURLOPT_SHARE, curl_share());
	}
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &a);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(timeout_ms > 0 ? timeout_ms : 10000));
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, why);
	CURLcode rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		snprintf(last_error, sizeof(last_error), "%s %s: %s", method, path,
			 why[0] ? why : curl_easy_strerror(rc));
		free(a.body.p);
		free(a.headers.p);
		memset(out, 0, sizeof(*out));
		return false;
	}
	out->raw = a.body.p ? a.body.p : xstrdup("");
	out->headers = a.headers.p ? a.headers.p : xstrdup("");
	out->body = json_loads(out->raw, 0, NULL);
	return true;
}

void http_resp_free(struct http_resp *r)
{
	json_decref(r->body);
	free(r->raw);
	free(r->headers);
	memset(r, 0, sizeof(*r));
}

int64_t submit_job(const struct esaasd *d, const char *kind, const char *cluster,
		   const char *params_json)
{
	char *body = xasprintf("{\"kind\": \"%s\", \"cluster\": \"%s\", \"params\": %s}", kind,
			       cluster, params_json ? params_json : "{}");
	struct http_resp r;
	int64_t id = 0;
	if (http_call(d, "POST", "/api/v1/jobs", body, NULL, &r) && r.status == 202)
		id = json_integer_value(json_object_get(r.body, "id"));
	else
		fprintf(stderr, "submit failed: %ld %s\n", r.status, r.raw ? r.raw : "");
	http_resp_free(&r);
	free(body);
	return id;
}

static bool status_in(const char *status, const char *list)
{
	size_t n = strlen(status);
	for (const char *p = list; *p;) {
		const char *bar = strchr(p, '|');
		size_t l = bar ? (size_t)(bar - p) : strlen(p);
		if (l == n && strncmp(p, status, n) == 0)
			return true;
		p += l + (bar ? 1 : 0);
	}
	return false;
}

json_t *wait_job_status(const struct esaasd *d, int64_t id, const char *statuses, int timeout_ms)
{
	char path[64];
	snprintf(path, sizeof(path), "/api/v1/jobs/%lld", (long long)id);
	int64_t deadline = harness_now_ms() + timeout_ms;
	json_t *last = NULL;
	while (harness_now_ms() < deadline) {
		struct http_resp r;
		if (http_call(d, "GET", path, NULL, NULL, &r) && r.status == 200) {
			const char *st = json_string_value(json_object_get(r.body, "status"));
			if (st && status_in(st, statuses)) {
				json_t *job = json_incref(r.body);
				http_resp_free(&r);
				json_decref(last);
				return job;
			}
			json_decref(last);
			last = json_incref(r.body);
		}
		http_resp_free(&r);
		msleep(10);
	}
	char *dump = last ? json_dumps(last, JSON_COMPACT) : NULL;
	fprintf(stderr, "job %lld not in %s after %d ms; last seen: %s\n", (long long)id, statuses,
		timeout_ms, dump ? dump : "nothing");
	free(dump);
	json_decref(last);
	return NULL;
}

json_t *wait_job_done(const struct esaasd *d, int64_t id, int timeout_ms)
{
	return wait_job_status(d, id, "succeeded|failed|cancelled", timeout_ms);
}

PGconn *sql_connect(const char *url)
{
	PGconn *c = PQconnectdb(url);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "connect %s: %s", url, PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	return c;
}

long long sql_int(PGconn *c, const char *sql, int nparams, const char *const *params)
{
	PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
	long long v = -1;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	else if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fprintf(stderr, "sql: %s", PQresultErrorMessage(r));
	PQclear(r);
	return v;
}

/* --- the plugin repository: nginx serving a folder of files ------------------------ */

static bool repo_listening(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

bool repo_add(struct repo *r, const char *file)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/files/%s", r->dir, file);
	FILE *f = fopen(path, "w");
	if (!f)
		return false;
	fputs("not a real plugin archive\n", f);
	return fclose(f) == 0;
}

bool repo_remove(struct repo *r, const char *file)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/files/%s", r->dir, file);
	return unlink(path) == 0;
}

bool repo_start(struct repo *r, const char *dir, const char *const *files)
{
	static int counter;
	memset(r, 0, sizeof(*r));
	snprintf(r->dir, sizeof(r->dir), "%s/repo-%d", dir, ++counter);
	char sub[300], conf[300];
	if (mkdir(r->dir, 0755) != 0)
		return false;
	snprintf(sub, sizeof(sub), "%s/files", r->dir);
	if (mkdir(sub, 0755) != 0)
		return false;
	snprintf(sub, sizeof(sub), "%s/tmp", r->dir);
	if (mkdir(sub, 0755) != 0)
		return false;
	for (const char *const *f = files; f && *f; f++)
		if (!repo_add(r, *f))
			return false;
	r->port = harness_free_port();
	snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%d/es-plugins", r->port);
	snprintf(r->access_log, sizeof(r->access_log), "%s/access.log", r->dir);
	snprintf(conf, sizeof(conf), "%s/nginx.conf", r->dir);
	FILE *c = fopen(conf, "w");
	if (!c)
		return false;
	/* One process, no privilege change, every path in our folder: it runs
	 * the same as root or not. */
	fprintf(c,
		"daemon off;\nmaster_process off;\nworker_processes 1;\npid %s/nginx.pid;\n"
		"error_log %s/error.log info;\nevents { worker_connections 64; }\n"
		"http {\n  access_log %s;\n  client_body_temp_path %s/tmp;\n"
		"  proxy_temp_path %s/tmp;\n  fastcgi_temp_path %s/tmp;\n  uwsgi_temp_path "
		"%s/tmp;\n"
		"  scgi_temp_path %s/tmp;\n  types { application/zip zip; }\n"
		"  default_type application/octet-stream;\n"
		"  server {\n    listen 127.0.0.1:%d;\n    location /es-plugins/ { alias "
		"%s/files/; }\n"
		"  }\n}\n",
		r->dir, r->dir, r->access_log, r->dir, r->dir, r->dir, r->dir, r->dir, r->port,
		r->dir);
	fclose(c);
	const char *bin = getenv("ESAAS_NGINX") ? getenv("ESAAS_NGINX") : "/usr/sbin/nginx";
	char elog[320];
	snprintf(elog, sizeof(elog), "%s/error.log", r->dir);
	r->pid = fork();
	if (r->pid < 0)
		return false;
	if (r->pid == 0) {
		int fd = open(elog, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execl(bin, bin, "-e", elog, "-p", r->dir, "-c", conf, (char *)NULL);
		_exit(127);
	}
	int64_t deadline = harness_now_ms() + 10000;
	while (!repo_listening(r->port)) {
		if (harness_now_ms() > deadline || waitpid(r->pid, NULL, WNOHANG) == r->pid) {
			fprintf(stderr, "nginx (%s) did not start; see %s\n", bin, elog);
			r->pid = 0;
			return false;
		}
		msleep(5);
	}
	return true;
}

int repo_stop(struct repo *r)
{
	if (r->pid <= 0)
		return 0;
	int st;
	kill(r->pid, SIGTERM);
	if (waitpid(r->pid, &st, 0) != r->pid)
		return -1000;
	r->pid = 0;
	return 0;
}

/* --- cluster operations and the simulator's record -------------------------------- */

int64_t api_op(const struct esaasd *d, const char *method, const char *path, const char *body,
	       long *status)
{
	struct http_resp r;
	int64_t id = 0;
	long st = 0;
	if (http_call(d, method, path, body, NULL, &r)) {
		st = r.status;
		if (r.status == 202)
			id = json_integer_value(json_object_get(r.body, "id"));
		else if (!status)
			fprintf(stderr, "%s %s: %ld %s\n", method, path, r.status,
				r.raw ? r.raw : "");
	}
	http_resp_free(&r);
	if (status)
		*status = st;
	return id;
}

int64_t post_cluster(const struct esaasd *d, const char *spec)
{
	return api_op(d, "POST", "/api/v1/clusters", spec, NULL);
}

bool job_succeeded(const struct esaasd *d, int64_t id, int timeout_ms)
{
	json_t *job = id > 0 ? wait_job_done(d, id, timeout_ms) : NULL;
	const char *status = json_string_value(json_object_get(job, "status"));
	bool ok = status && strcmp(status, "succeeded") == 0;
	if (!ok)
		fprintf(stderr, "job %lld: %s: %s\n", (long long)id,
			status ? status : "did not end",
			job ? json_string_value(json_object_get(job, "error")) : "");
	json_decref(job);
	return ok;
}

char *job_trail(PGconn *sql, int64_t id)
{
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	const char *q[] = {ids};
	PGresult *r = PQexecParams(
		sql,
		"SELECT coalesce(string_agg(from_state, ' ' ORDER BY id), '')"
		" FROM job_events WHERE job_id = $1 AND outcome IN ('next', 'succeeded')",
		1, NULL, q, NULL, NULL, 0);
	char *trail = xstrdup(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
				      ? PQgetvalue(r, 0, 0)
				      : "");
	PQclear(r);
	return trail;
}

bool sim_call(const struct sim *s, const char *method, const char *path, const char *body,
	      struct http_resp *out)
{
	char auth[300];
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", s->token);
	const char *h[] = {auth, NULL};
	/* 30 s: eight programs side by side on two cores can keep a busy
	 * simulator from answering within the default 10 s. */
	return http_request(s->server, method, path, body, h, 30000, out);
}

json_t *sim_record(const struct sim *s)
{
	struct http_resp r;
	json_t *body = NULL;
	if (sim_call(s, "GET", "/_sim/state", NULL, &r) && r.status == 200)
		body = json_incref(r.body);
	http_resp_free(&r);
	return body;
}

bool sim_other_files(const struct sim *s, const char *host, const char *other_bytes)
{
	char *url = xasprintf("/_sim/nodes/%s/disk", host);
	json_t *body = json_pack("{s:s}", "other_bytes", other_bytes);
	char *text = json_dumps(body, JSON_COMPACT);
	struct http_resp r;
	bool ok = sim_call(s, "PUT", url, text, &r) && r.status == 200;
	if (!ok)
		fprintf(stderr, "PUT %s: %ld %s\n", url, r.status, http_last_error());
	http_resp_free(&r);
	free(text);
	json_decref(body);
	free(url);
	return ok;
}

void sim_expect_settled(const struct sim *s, const char *name, int pods)
{
	json_t *st = sim_record(s);
	char *ns = xasprintf("es-default-%s", name);
	json_t *cl = json_object_get(json_object_get(st, "clusters"), ns);
	assert_non_null(cl);
	const char *where[] = {"transient", "persistent"};
	for (size_t i = 0; i < ARRAY_SIZE(where); i++) {
		json_t *set = json_object_get(cl, where[i]);
		json_t *v = json_object_get(set, "cluster.routing.allocation.enable");
		if (!v)
			v = json_object_get(
				json_object_get(
					json_object_get(json_object_get(set, "cluster"), "routing"),
					"allocation"),
				"enable");
		if (json_is_string(v) && strcmp(json_string_value(v), "all") != 0)
			fail_msg("%s: allocation left at %s (%s)", name, json_string_value(v),
				 where[i]);
	}
	assert_int_equal(json_array_size(json_object_get(cl, "voting_exclusions")), 0);
	assert_string_equal(json_string_value(json_object_get(cl, "status")), "green");
	json_decref(st);

	char *path = xasprintf("/api/v1/namespaces/%s/pods", ns);
	struct http_resp r;
	assert_true(sim_call(s, "GET", path, NULL, &r));
	assert_int_equal(r.status, 200);
	json_t *items = json_object_get(r.body, "items");
	assert_int_equal((int)json_array_size(items), pods);
	size_t i;
	json_t *pod;
	json_array_foreach (items, i, pod) {
		bool ready = false;
		size_t k;
		json_t *c;
		assert_null(json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp"));
		json_array_foreach (json_object_get(json_object_get(pod, "status"), "conditions"),
				    k, c)
			if (!strcmp(json_string_value(json_object_get(c, "type")), "Ready") &&
			    !strcmp(json_string_value(json_object_get(c, "status")), "True"))
				ready = true;
		if (!ready)
			fail_msg("%s: pod %s not Ready", name,
				 json_string_value(json_object_get(json_object_get(pod, "metadata"),
								   "name")));
	}
	http_resp_free(&r);
	free(path);
	free(ns);
}

int harness_ctl(const struct esaasd *d, const char *home, const char *args, char **out)
{
	char *cmd = xasprintf("env -i HOME=%s ESAAS_URL=%s ESAAS_TOKEN=%s %s/esaasctl %s 2>&1",
			      home, d->base, harness_token(d), harness_builddir(), args);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t len = 0, cap = 4096;
	char *buf = xmalloc(cap);
	size_t n;
	while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
		len += n;
		if (cap - len < 2)
			buf = xrealloc(buf, cap *= 2);
	}
	buf[len] = '\0';
	int st = pclose(p);
	free(cmd);
	*out = buf;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* esaasd's user: the ServiceAccount deploy/kubernetes/ binds its role to. */
/* esaasd through the service proxy, and as elastic on the pod network
 * (secured clusters, elasticsearch.url). */
#define ESAASD_USER "system:serviceaccount:esaas-system:esaasd,elasticsearch:elastic"

/* When esaas-sim does not answer: whether its process is still there
 * (kill 0; a crashed one is a zombie until sim_stop reaps it) and the
 * last lines of its log, on stderr. */
void sim_tell_why_silent(const struct sim *s)
{
	char path[64], state = '?', cmd[400];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)s->pid);
	FILE *f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%*d %*s %c", &state) != 1)
			state = '?';
		fclose(f);
	}
	fprintf(stderr, "esaas-sim (pid %d) %s; the end of its log (%s):\n", (int)s->pid,
		kill(s->pid, 0) != 0 ? "is gone"
		: state == 'Z'	     ? "has exited"
				     : "is running but did not answer in time",
		s->log);
	snprintf(cmd, sizeof(cmd), "tail -n 15 '%s' >&2", s->log);
	if (system(cmd) != 0)
		fprintf(stderr, "(no log)\n");
}

bool sim_es_requests_in_spec(const struct sim *s)
{
	struct http_resp r;
	char file[400], cmd[2048];
	if (s->pid <= 0)
		return true; /* never started, or stopped by the test: nothing recorded */
	if (!sim_call(s, "GET", "/_sim/state", NULL, &r) || r.status != 200) {
		fprintf(stderr, "esaas-sim's record could not be read\n");
		sim_tell_why_silent(s);
		http_resp_free(&r);
		return false;
	}
	snprintf(file, sizeof(file), "%s/es-requests.json", s->dir);
	FILE *f = fopen(file, "w");
	bool written = f && fputs(r.raw, f) >= 0;
	if (f && fclose(f) != 0)
		written = false;
	http_resp_free(&r);
	if (!written) {
		fprintf(stderr, "cannot write %s\n", file);
		return false;
	}
	snprintf(cmd, sizeof(cmd),
		 "python3 '%s/tests/sim/es_spec.py' requests '%s/tests/reference/es-api' '%s' "
		 "'" ESAASD_USER "' >&2",
		 harness_srcdir(), harness_srcdir(), file);
	return system(cmd) == 0;
}

/* --- esaasd started from a configuration file and an environment ----------------- */

extern char **environ;

/* Is entry ("NAME=value") the variable that one of env sets? */
static bool env_overridden(const char *entry, const char *const *env)
{
	size_t n = strcspn(entry, "=");

	for (const char *const *e = env; e && *e; e++) {
		if (strncmp(*e, entry, n) == 0 && (*e)[n] == '=')
			return true;
	}
	return false;
}

bool esaasd_spawn_env(struct esaasd *d, const char *tmpdir, const char *config,
		      const char *const *env)
{
	static int counter;
	size_t nenv = 0, nextra = 0, k = 0;
	char listen[64], metrics_listen[64], bin[512];

	memset(d, 0, sizeof(*d));
	d->port = harness_free_port();
	d->metrics_port = harness_free_port();
	if (d->port <= 0 || d->metrics_port <= 0)
		return false;
	snprintf(d->base, sizeof(d->base), "http://127.0.0.1:%d", d->port);
	snprintf(d->metrics_base, sizeof(d->metrics_base), "http://127.0.0.1:%d", d->metrics_port);
	snprintf(d->config, sizeof(d->config), "%s", config);
	snprintf(d->log, sizeof(d->log), "%s/replica-%d.log", tmpdir, ++counter);
	for (const char *const *e = env; e && *e; e++) {
		if (strncmp(*e, "ESAAS_DATABASE_URL=", 19) == 0)
			snprintf(d->dburl, sizeof(d->dburl), "%s", *e + 19);
	}
	snprintf(listen, sizeof(listen), "ESAAS_LISTEN=127.0.0.1:%d", d->port);
	snprintf(metrics_listen, sizeof(metrics_listen), "ESAAS_METRICS_LISTEN=127.0.0.1:%d",
		 d->metrics_port);
	snprintf(bin, sizeof(bin), "%s/esaasd-test", harness_builddir());

	/* The child's environment, built before the fork: ours, with env and listen over it. */
	const char *const listen_env[] = {listen, metrics_listen, NULL};
	for (char **e = environ; e && *e; e++)
		nenv++;
	for (const char *const *e = env; e && *e; e++)
		nextra++;
	char **child_env = xcalloc(nenv + nextra + 3, sizeof(char *));
	for (char **e = environ; e && *e; e++) {
		if (!env_overridden(*e, env) && !env_overridden(*e, listen_env))
			child_env[k++] = *e;
	}
	for (const char *const *e = env; e && *e; e++)
		child_env[k++] = (char *)*e;
	child_env[k++] = listen;
	child_env[k++] = metrics_listen;
	child_env[k] = NULL;

	pid_t pid = fork();
	if (pid < 0) {
		free(child_env);
		return false;
	}
	if (pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		char *const argv[] = {bin, "-c", d->config, NULL};
		execve(bin, argv, child_env);
		_exit(127);
	}
	free(child_env);
	d->pid = pid;
	return true;
}

/* --- raw requests from other loopback addresses ------------------------------------------ */

/* Connect from 127.0.0.<from> to esaasd's port, without waiting. */
bool raw_start(struct raw *r, const struct esaasd *d, int from, const char *path, const char *token)
{
	struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};

	memset(r, 0, sizeof(*r));
	r->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->fd < 0)
		return false;
	src.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)from);
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	dst.sin_port = htons((uint16_t)d->port);
	if (bind(r->fd, (struct sockaddr *)&src, sizeof(src)) != 0 ||
	    (connect(r->fd, (struct sockaddr *)&dst, sizeof(dst)) != 0 && errno != EINPROGRESS)) {
		close(r->fd);
		r->fd = -1;
		return false;
	}
	r->out_len = (size_t)snprintf(r->out, sizeof(r->out),
				      "GET %s HTTP/1.1\r\nHost: esaasd\r\n%s%s%sConnection: "
				      "close\r\n\r\n",
				      path, token ? "Authorization: Bearer " : "",
				      token ? token : "", token ? "\r\n" : "");
	return true;
}

/* Go on with r as poll() allows; true once the answer is in (the server closed). */
bool raw_step(struct raw *r, short revents)
{
	if ((revents & POLLOUT) && r->out_off < r->out_len) {
		ssize_t n = send(r->fd, r->out + r->out_off, r->out_len - r->out_off, MSG_NOSIGNAL);

		if (n > 0)
			r->out_off += (size_t)n;
	}
	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		ssize_t n = recv(r->fd, r->in + r->in_len, sizeof(r->in) - 1 - r->in_len, 0);

		if (n > 0) {
			r->in_len += (size_t)n;
			r->in[r->in_len] = '\0';
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			r->done = true;
		}
	}
	return r->done;
}

short raw_events(const struct raw *r)
{
	return (short)(POLLIN | (r->out_off < r->out_len ? POLLOUT : 0));
}

int raw_status(const struct raw *r)
{
	int status = 0;

	if (r->in_len > 12 && strncmp(r->in, "HTTP/1.", 7) == 0)
		status = (int)strtol(r->in + 9, NULL, 10);
	return status;
}

void raw_close(struct raw *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

/* One request, waited for (10 s at most); its status, 0 for none. */
int raw_call(const struct esaasd *d, int from, const char *path, const char *token, char *answer,
	     size_t len)
{
	struct raw r;
	int64_t deadline = harness_now_ms() + 10000;

	if (!raw_start(&r, d, from, path, token))
		return 0;
	while (!r.done && harness_now_ms() < deadline) {
		struct pollfd p = {.fd = r.fd, .events = raw_events(&r)};

		if (poll(&p, 1, 100) > 0)
			raw_step(&r, p.revents);
	}
	if (answer)
		snprintf(answer, len, "%s", r.in);
	raw_close(&r);
	return raw_status(&r);
}

/*
 * For ms, hundreds of requests a second, 32 at a time: bogus tokens from
 * rotating addresses (each worth auth.failures_max lookups before its
 * 429s) and /readyz, every one a new connection.  Runs in a child, which
 * exits with the counts written to fd.
 */
static void flood_run(const struct esaasd *d, int ms, int per_second, int fd)
{
	enum {
		K = 32
	};
	struct raw raws[K];
	struct flood_counts c = {0};
	int64_t start = harness_now_ms(), end = start + ms;

	for (int i = 0; i < K; i++)
		raws[i].fd = -1;
	while (harness_now_ms() < end) {
		struct pollfd p[K];
		int64_t elapsed = harness_now_ms() - start;

		for (int i = 0; i < K; i++) {
			if (raws[i].fd < 0 && c.sent < elapsed * per_second / 1000) {
				int from = 2 + (int)(c.sent / 50 % 250);
				bool readyz = c.sent % 2 == 0;

				if (raw_start(&raws[i], d, from,
					      readyz ? "/readyz" : "/api/v1/whoami",
					      readyz ? NULL : BOGUS_TOKEN))
					c.sent++;
			}
			p[i] = (struct pollfd){.fd = raws[i].fd, .events = raw_events(&raws[i])};
		}
		if (poll(p, K, 10) <= 0)
			continue;
		for (int i = 0; i < K; i++) {
			if (p[i].fd < 0 || !p[i].revents || !raw_step(&raws[i], p[i].revents))
				continue;
			switch (raw_status(&raws[i])) {
			case 200:
				c.ok++;
				break;
			case 401:
				c.unauthorized++;
				break;
			case 429:
				c.limited++;
				break;
			case 503:
				c.busy++;
				break;
			default:
				c.other++;
			}
			raw_close(&raws[i]);
		}
	}
	for (int i = 0; i < K; i++)
		raw_close(&raws[i]);
	if (write(fd, &c, sizeof(c)) != (ssize_t)sizeof(c))
		_exit(1);
	_exit(0);
}

struct flood {
	pid_t pid;
	int fd;
};

struct flood *flood_start(const struct esaasd *d, int ms, int per_second)
{
	int pipefd[2];

	if (pipe(pipefd) != 0)
		return NULL;
	pid_t pid = fork();

	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return NULL;
	}
	if (pid == 0) {
		close(pipefd[0]);
		flood_run(d, ms, per_second, pipefd[1]);
	}
	close(pipefd[1]);
	struct flood *f = xcalloc(1, sizeof(*f));

	f->pid = pid;
	f->fd = pipefd[0];
	return f;
}

bool flood_finish(struct flood *f, struct flood_counts *out)
{
	int st = 0;
	bool ok = waitpid(f->pid, &st, 0) == f->pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
		  read(f->fd, out, sizeof(*out)) == (ssize_t)sizeof(*out);

	close(f->fd);
	free(f);
	return ok;
}

int harness_run_tests(const char *name, const struct CMUnitTest *tests, size_t n,
		      int (*setup)(void **), int (*teardown)(void **))
{
	const char *shard = getenv("ESAAS_TEST_SHARD");
	long i = 0, of = 1;

	if (shard && *shard) {
		char *end;
		i = strtol(shard, &end, 10);
		if (*end == '/')
			of = strtol(end + 1, &end, 10);
		if (*end || of < 1 || i < 0 || i >= of) {
			fprintf(stderr, "ESAAS_TEST_SHARD: i/n with 0 <= i < n expected, not %s\n",
				shard);
			return 1;
		}
	}
	struct CMUnitTest *mine = xcalloc(n ? n : 1, sizeof(*mine));
	size_t k = 0;
	for (size_t t = 0; t < n; t++)
		if ((long)(t % (size_t)of) == i)
			mine[k++] = tests[t];
	int rc = _cmocka_run_group_tests(name, mine, k, setup, teardown);
	free(mine);
	return rc;
}
