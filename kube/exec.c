/*
 * Running an exec credential plugin under libevent: posix_spawn with
 * standard output and standard error on pipes read as they fill, the end
 * of the process seen on a pidfd, and a deadline that kills the plugin's
 * process group.
 */
#include "kube/exec.h"
#include "common/base64.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

extern char **environ;

/* False once the kernel said it has no pidfd_open(). */
static bool pidfds = true;

/* How often the end of a plugin is looked for when the kernel gives no pidfd. */
#define EXIT_POLL_MS 20

/* What of standard error is kept: its first line goes into the error. */
#define STDERR_KEEP 4096

struct kube_exec_run {
	struct event_base *base;
	char *command; /* as the kubeconfig names it, for messages */
	char *api_version;
	char *install_hint;
	kube_exec_done_cb cb;
	void *arg;
	pid_t pid;
	int out_fd, err_fd, pid_fd;
	struct event *out_ev, *err_ev, *pid_ev, *timer;
	char *out;
	size_t out_len;
	bool out_too_long;
	char err[STDERR_KEEP + 1];
	size_t err_len;
	bool timed_out;
	int64_t timeout_ms;
	/* When the spawn itself failed: its errno, reported from the loop. */
	int spawn_errno;
};

/* --- the credential ------------------------------------------------------------ */

void kube_exec_cred_free(struct kube_exec_cred *c)
{
	if (!c)
		return;
	free(c->token);
	free(c->client_cert_pem);
	free(c->client_key_pem);
	memset(c, 0, sizeof(*c));
}

/* n digits at *pp into *out; *pp moves past them. */
static bool digits(const char **pp, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char ch = (*pp)[i];

		if (ch < '0' || ch > '9')
			return false;
		v = v * 10 + (ch - '0');
	}
	*pp += n;
	*out = v;
	return true;
}

bool kube_exec_parse_time(const char *s, int64_t *out_ms)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	struct tm tm;
	int year, mon, day, hour, min, sec, oh = 0, om = 0, sign = 0;
	int64_t ms = 0;
	time_t t;
	const char *p = s;

	memset(&tm, 0, sizeof(tm));
	if (!s || !digits(&p, 4, &year) || *p++ != '-' || !digits(&p, 2, &mon) || *p++ != '-' ||
	    !digits(&p, 2, &day) || (*p != 'T' && *p != 't'))
		return false;
	p++;
	if (!digits(&p, 2, &hour) || *p++ != ':' || !digits(&p, 2, &min) || *p++ != ':' ||
	    !digits(&p, 2, &sec))
		return false;
	if (mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1] || hour > 23 || min > 59 ||
	    sec > 60)
		return false;
	if (*p == '.') {
		int scale = 100, n = 0;

		for (p++; *p >= '0' && *p <= '9'; p++, n++) {
			ms += (*p - '0') * scale;
			scale /= 10;
		}
		if (n == 0)
			return false;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) || oh > 23 || om > 59)
			return false;
	} else {
		return false;
	}
	if (*p)
		return false;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1 && !(year == 1969 && mon == 12 && day == 31))
		return false;
	*out_ms = ((int64_t)t - (int64_t)sign * (oh * 3600 + om * 60)) * 1000 + ms;
	return true;
}

/* A *Data field: PEM text, as the plugin printed it. */
static bool get_opt_string(json_t *obj, const char *key, char **out, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_string(v)) {
		snprintf(err, errlen, "status.%s: expected a string", key);
		return false;
	}
	if (json_string_length(v) > 0)
		*out = xstrdup(json_string_value(v));
	return true;
}

/* The checks are client-go's refreshCredsLocked(), in its order. */
bool kube_exec_parse_credential(const char *api_version, const char *text, size_t len,
				struct kube_exec_cred *out, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *status;
	const char *av, *kind, *exp;
	bool ok = false;

	memset(out, 0, sizeof(*out));
	if (!doc || !json_is_object(doc)) {
		snprintf(err, errlen, "output is not a JSON object%s%s", doc ? "" : ": ",
			 doc ? "" : jerr.text);
		goto out;
	}
	av = json_string_value(json_object_get(doc, "apiVersion"));
	kind = json_string_value(json_object_get(doc, "kind"));
	if (!kind || strcmp(kind, "ExecCredential") != 0) {
		snprintf(err, errlen, "kind: expected ExecCredential, got %s",
			 kind ? kind : "none");
		goto out;
	}
	if (!av || strcmp(av, api_version) != 0) {
		snprintf(err, errlen, "apiVersion: the kubeconfig says %s, the plugin returned %s",
			 api_version, av ? av : "none");
		goto out;
	}
	status = json_object_get(doc, "status");
	if (!json_is_object(status)) {
		snprintf(err, errlen, "status: missing");
		goto out;
	}
	if (!get_opt_string(status, "token", &out->token, err, errlen) ||
	    !get_opt_string(status, "clientCertificateData", &out->client_cert_pem, err, errlen) ||
	    !get_opt_string(status, "clientKeyData", &out->client_key_pem, err, errlen))
		goto out;
	if (!out->token && !out->client_cert_pem && !out->client_key_pem) {
		snprintf(err, errlen,
			 "status: expected a token or clientCertificateData and clientKeyData");
		goto out;
	}
	if (!out->client_cert_pem != !out->client_key_pem) {
		snprintf(err, errlen, "status: %s without %s",
			 out->client_cert_pem ? "clientCertificateData" : "clientKeyData",
			 out->client_cert_pem ? "clientKeyData" : "clientCertificateData");
		goto out;
	}
	exp = json_string_value(json_object_get(status, "expirationTimestamp"));
	if (json_object_get(status, "expirationTimestamp") &&
	    !json_is_null(json_object_get(status, "expirationTimestamp")) &&
	    (!exp || !kube_exec_parse_time(exp, &out->expires_wall_ms))) {
		snprintf(err, errlen, "status.expirationTimestamp: expected an RFC 3339 time");
		goto out;
	}
	ok = true;
out:
	json_decref(doc);
	if (!ok)
		kube_exec_cred_free(out);
	return ok;
}

char *kube_exec_info(const struct kube_conn *conn)
{
	json_t *spec = json_pack("{s:b}", "interactive", 0);
	json_t *doc;
	char *text;

	if (conn->exec->provide_cluster_info) {
		/* clientauthentication's Cluster: the kubeconfig cluster's fields. */
		json_t *cluster = json_pack("{s:s}", "server", conn->server ? conn->server : "");

		if (conn->tls_server_name)
			json_object_set_new(cluster, "tls-server-name",
					    json_string(conn->tls_server_name));
		if (conn->insecure)
			json_object_set_new(cluster, "insecure-skip-tls-verify", json_true());
		if (conn->ca_pem) {
			char *b64 = base64_encode(conn->ca_pem, strlen(conn->ca_pem));

			json_object_set_new(cluster, "certificate-authority-data",
					    json_string(b64));
			free(b64);
		}
		if (conn->proxy_url)
			json_object_set_new(cluster, "proxy-url", json_string(conn->proxy_url));
		json_object_set_new(spec, "cluster", cluster);
	}
	doc = json_pack("{s:s, s:s, s:o}", "kind", "ExecCredential", "apiVersion",
			conn->exec->api_version, "spec", spec);
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return text;
}

/* --- the run ------------------------------------------------------------------- */

static void run_free(struct kube_exec_run *r)
{
	if (r->out_ev)
		event_free(r->out_ev);
	if (r->err_ev)
		event_free(r->err_ev);
	if (r->pid_ev)
		event_free(r->pid_ev);
	if (r->timer)
		event_free(r->timer);
	if (r->out_fd >= 0)
		close(r->out_fd);
	if (r->err_fd >= 0)
		close(r->err_fd);
	if (r->pid_fd >= 0)
		close(r->pid_fd);
	free(r->out);
	free(r->command);
	free(r->api_version);
	free(r->install_hint);
	free(r);
}

/* Read what is in fd now; false at its end (or an error). */
static bool drain(struct kube_exec_run *r, int fd)
{
	char buf[8192];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK;
		if (n == 0)
			return false;
		if (fd == r->out_fd) {
			if (r->out_len + (size_t)n > KUBE_EXEC_MAX_OUTPUT) {
				r->out_too_long = true;
				continue;
			}
			r->out = xrealloc(r->out, r->out_len + (size_t)n + 1);
			memcpy(r->out + r->out_len, buf, (size_t)n);
			r->out_len += (size_t)n;
			r->out[r->out_len] = '\0';
		} else {
			size_t keep = STDERR_KEEP - r->err_len;

			if ((size_t)n < keep)
				keep = (size_t)n;
			memcpy(r->err + r->err_len, buf, keep);
			r->err_len += keep;
			r->err[r->err_len] = '\0';
		}
	}
}

static void pipe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kube_exec_run *r = arg;

	(void)what;
	if (!drain(r, fd)) {
		/* At its end: stop watching it (the process may still run). */
		event_del(fd == r->out_fd ? r->out_ev : r->err_ev);
	}
}

/* The first line of standard error, or a note that there was none. */
static const char *stderr_line(struct kube_exec_run *r)
{
	char *p = r->err;

	while (*p == '\n' || *p == '\r' || *p == ' ')
		p++;
	p[strcspn(p, "\r\n")] = '\0';
	return p[0] ? p : "(nothing on standard error)";
}

static void finish(struct kube_exec_run *r, int status)
{
	struct kube_exec_cred cred;
	char why[512];
	char *msg = NULL;

	if (r->timed_out) {
		msg = xasprintf("credential plugin %s: killed after %lld ms without an answer: %s",
				r->command, (long long)r->timeout_ms, stderr_line(r));
	} else if (WIFSIGNALED(status)) {
		msg = xasprintf("credential plugin %s: killed by signal %d: %s", r->command,
				WTERMSIG(status), stderr_line(r));
	} else if (WEXITSTATUS(status) != 0) {
		msg = xasprintf("credential plugin %s: exit status %d: %s", r->command,
				WEXITSTATUS(status), stderr_line(r));
	} else if (r->out_too_long) {
		msg = xasprintf("credential plugin %s: more than %zu bytes on standard output",
				r->command, KUBE_EXEC_MAX_OUTPUT);
	} else if (!kube_exec_parse_credential(r->api_version, r->out ? r->out : "", r->out_len,
					       &cred, why, sizeof(why))) {
		msg = xasprintf("credential plugin %s: exit status 0 but no credential: %s",
				r->command, why);
	}
	if (msg) {
		r->cb(r->arg, NULL, msg, false);
		free(msg);
	} else {
		struct kube_exec_cred *c = xmalloc(sizeof(*c));

		*c = cred;
		r->cb(r->arg, c, NULL, false);
	}
	run_free(r);
}

static void exited_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kube_exec_run *r = arg;
	int status = 0;

	(void)fd;
	(void)what;
	if (waitpid(r->pid, &status, WNOHANG) == 0)
		return; /* not yet */
	/* All it wrote is in the pipes; a child it left may hold them open. */
	(void)drain(r, r->out_fd);
	(void)drain(r, r->err_fd);
	finish(r, status);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kube_exec_run *r = arg;

	(void)fd;
	(void)what;
	r->timed_out = true;
	/* Its own process group: whatever it started goes with it. */
	kill(-r->pid, SIGKILL);
	kill(r->pid, SIGKILL);
}

static void spawn_failed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kube_exec_run *r = arg;
	char *msg;

	(void)fd;
	(void)what;
	if (r->spawn_errno == ENOENT)
		msg = xasprintf("credential plugin %s: not found%s%s", r->command,
				r->install_hint ? ": " : "",
				r->install_hint ? r->install_hint : "");
	else
		msg = xasprintf("credential plugin %s: cannot run: %s", r->command,
				strerror(r->spawn_errno));
	r->cb(r->arg, NULL, msg, true);
	free(msg);
	run_free(r);
}

/*
 * esaasd's environment, less its own settings (ESAAS_DATABASE_URL holds a
 * password) and what the plugin's env sets, then that and the exec info.
 */
static char **plugin_environment(const struct kube_conn *conn, char **info_entry)
{
	const struct kube_exec_conf *e = conn->exec;
	size_t n = 0, k = 0;
	char **env;
	char *info;

	while (environ[n])
		n++;
	env = xcalloc(n + e->nenv + 2, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		size_t name_len = strcspn(environ[i], "=");
		bool replaced = strncmp(environ[i], "KUBERNETES_EXEC_INFO=", 21) == 0 ||
				strncmp(environ[i], "ESAAS_", 6) == 0;

		for (size_t j = 0; j < e->nenv && !replaced; j++)
			replaced = strncmp(environ[i], e->env[j], name_len + 1) == 0;
		if (!replaced)
			env[k++] = environ[i];
	}
	for (size_t j = 0; j < e->nenv; j++)
		env[k++] = e->env[j];
	info = kube_exec_info(conn);
	*info_entry = xasprintf("KUBERNETES_EXEC_INFO=%s", info);
	env[k++] = *info_entry;
	free(info);
	return env;
}

/*
 * The file command names, looked for in esaasd's PATH when it has no '/'
 * (as Go's exec.LookPath, which client-go's exec.Command goes through):
 * NULL with errno set when there is none to run.
 */
static char *find_command(const char *command)
{
	const char *path = getenv("PATH");
	const char *p;

	if (strchr(command, '/')) {
		if (access(command, X_OK) != 0)
			return NULL;
		return xstrdup(command);
	}
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path;; p++) {
		size_t len = strcspn(p, ":");
		char *full = xasprintf("%.*s/%s", (int)len, len ? p : ".", command);
		struct stat st;

		if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0)
			return full;
		free(full);
		p += len;
		if (!*p)
			break;
	}
	errno = ENOENT;
	return NULL;
}

static bool nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0;
}

struct kube_exec_run *kube_exec_start(struct event_base *base, const struct kube_conn *conn,
				      int64_t timeout_ms, kube_exec_done_cb cb, void *arg)
{
	const struct kube_exec_conf *e = conn->exec;
	struct kube_exec_run *r = xcalloc(1, sizeof(*r));
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t sigs;
	int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
	char **argv = xcalloc(e->nargs + 2, sizeof(char *));
	char **env;
	char *info_entry = NULL;
	char *file = NULL;
	int rc;
	struct timeval tv;

	r->base = base;
	r->command = xstrdup(e->command);
	r->api_version = xstrdup(e->api_version);
	r->install_hint = e->install_hint ? xstrdup(e->install_hint) : NULL;
	r->cb = cb;
	r->arg = arg;
	r->out_fd = r->err_fd = r->pid_fd = -1;
	r->timeout_ms = timeout_ms;

	argv[0] = e->command;
	for (size_t i = 0; i < e->nargs; i++)
		argv[i + 1] = e->args[i];
	env = plugin_environment(conn, &info_entry);
	file = find_command(e->command);
	if (!file) {
		rc = errno;
		goto failed;
	}
	if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
		rc = errno;
		for (int i = 0; i < 2; i++) {
			if (out_pipe[i] >= 0)
				close(out_pipe[i]);
			if (err_pipe[i] >= 0)
				close(err_pipe[i]);
		}
		goto failed;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setpgroup(&attr, 0);
	/* esaasd ignores SIGPIPE; the plugin gets the default of every signal. */
	sigfillset(&sigs);
	posix_spawnattr_setsigdefault(&attr, &sigs);
	sigemptyset(&sigs);
	posix_spawnattr_setsigmask(&attr, &sigs);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
						POSIX_SPAWN_SETSIGMASK);
	rc = posix_spawn(&r->pid, file, &fa, &attr, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(out_pipe[1]);
	close(err_pipe[1]);
	r->out_fd = out_pipe[0];
	r->err_fd = err_pipe[0];
	if (rc != 0)
		goto failed;
	if (pidfds) {
		r->pid_fd = (int)syscall(SYS_pidfd_open, r->pid, 0);
		pidfds = r->pid_fd >= 0 || errno != ENOSYS;
	}
	if (!nonblocking(r->out_fd) || !nonblocking(r->err_fd)) {
		rc = errno;
		kill(-r->pid, SIGKILL);
		(void)waitpid(r->pid, NULL, 0);
		goto failed;
	}
	r->out_ev = event_new(base, r->out_fd, EV_READ | EV_PERSIST, pipe_cb, r);
	r->err_ev = event_new(base, r->err_fd, EV_READ | EV_PERSIST, pipe_cb, r);
	/* Without pidfds (before Linux 5.3, under valgrind) its end is looked for. */
	r->pid_ev = r->pid_fd >= 0 ? event_new(base, r->pid_fd, EV_READ | EV_PERSIST, exited_cb, r)
				   : event_new(base, -1, EV_PERSIST, exited_cb, r);
	r->timer = evtimer_new(base, deadline_cb, r);
	event_add(r->out_ev, NULL);
	event_add(r->err_ev, NULL);
	tv.tv_sec = 0;
	tv.tv_usec = EXIT_POLL_MS * 1000;
	event_add(r->pid_ev, r->pid_fd >= 0 ? NULL : &tv);
	tv.tv_sec = (time_t)(timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
	evtimer_add(r->timer, &tv);
	log_debug("kubernetes: credential plugin %s (user \"%s\") started, pid %d", e->command,
		  e->user ? e->user : "", (int)r->pid);
	goto out;
failed:
	/* Said from the loop, as any other end of a run. */
	r->spawn_errno = rc;
	r->timer = evtimer_new(base, spawn_failed_cb, r);
	tv.tv_sec = 0;
	tv.tv_usec = 0;
	evtimer_add(r->timer, &tv);
out:
	free(file);
	free(info_entry);
	free(env);
	free(argv);
	return r;
}

void kube_exec_cancel(struct kube_exec_run *r)
{
	if (!r)
		return;
	if (r->pid > 0 && r->pid_ev) {
		kill(-r->pid, SIGKILL);
		kill(r->pid, SIGKILL);
		(void)waitpid(r->pid, NULL, 0);
	}
	run_free(r);
}
