/*
 * kubeconfig files and the in-cluster service account.
 *
 * Each file is loaded whole with libyaml's document API (a kubeconfig is
 * small, and its lists are easier to walk as a tree), then its clusters,
 * users and contexts are copied into one merged table, first definition
 * of a name winning.  Only the entries the chosen context names are then
 * checked and turned into a struct kube_conn, so a file may hold users
 * with interactive exec plugins as long as we are not asked to be them.
 *
 * This file: errors, files, from the chosen context to a connection, the
 * in-cluster service account and the API; kubeconfig_parse.c: the YAML
 * nodes and one file into the merged table; what they share in
 * kubeconfig_internal.h.
 */
#include "kube/kubeconfig_internal.h"
#include "common/base64.h"
#include "common/httpc.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

/* A kubeconfig, a certificate or a token bigger than this is not one. */
#define KC_MAX_BYTES (4 * 1024 * 1024)

/* --- errors ----------------------------------------------------------------- */

/*
 * A message quotes names from the file (a context, a user, a server), which may
 * hold any byte: control characters are written as escapes so that the error
 * stays one line in a log or on a terminal.
 */
static char *one_line(const char *s)
{
	size_t n = 0;
	const unsigned char *p;
	char *out, *o;

	for (p = (const unsigned char *)s; *p; p++)
		n += (*p < 0x20 || *p == 0x7f) ? 4 : 1;
	out = o = xmalloc(n + 1);
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '\n' || *p == '\r' || *p == '\t') {
			*o++ = '\\';
			*o++ = *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't';
		} else if (*p < 0x20 || *p == 0x7f) {
			snprintf(o, 5, "\\x%02x", *p);
			o += 4;
		} else {
			*o++ = (char)*p;
		}
	}
	*o = '\0';
	return out;
}

/* "kubeconfig FILE[:LINE]: message", on one line.  Returns false. */
bool __attribute__((format(printf, 5, 6)))
kubeconfig_fail(char *err, size_t errlen, const char *file, const yaml_node_t *at, const char *fmt,
		...)
{
	va_list ap;
	char *raw, *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (at)
		raw = xasprintf("kubeconfig %s:%zu: %s", file, at->start_mark.line + 1, msg);
	else
		raw = xasprintf("kubeconfig %s: %s", file, msg);
	free(msg);
	msg = one_line(raw);
	free(raw);
	if (err && errlen)
		str_copy_trunc(err, msg, errlen);
	free(msg);
	return false;
}

/* "in-cluster: message".  Returns false. */
static bool __attribute__((format(printf, 3, 4)))
fail_in_cluster(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (err && errlen)
		snprintf(err, errlen, "in-cluster: %s", msg);
	free(msg);
	return false;
}

/* --- files ------------------------------------------------------------------ */

/*
 * The whole of path as a C string.  NULL with *why (and errno kept, so a
 * caller can tell ENOENT) on failure; text with a NUL byte in it is
 * refused, since everything read here is text.
 */
char *kubeconfig_read_text(const char *path, size_t *lenp, char *why, size_t whylen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf;
	size_t len = 0;
	int saved;

	if (fd < 0) {
		saved = errno;
		snprintf(why, whylen, "%s", strerror(errno));
		errno = saved;
		return NULL;
	}
	buf = xmalloc(KC_MAX_BYTES + 1);
	for (;;) {
		ssize_t n = read(fd, buf + len, KC_MAX_BYTES + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			saved = errno;
			snprintf(why, whylen, "%s", strerror(errno));
			goto failed;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > KC_MAX_BYTES) {
			saved = EFBIG;
			snprintf(why, whylen, "larger than %d bytes", KC_MAX_BYTES);
			goto failed;
		}
	}
	close(fd);
	if (memchr(buf, '\0', len)) {
		free(buf);
		snprintf(why, whylen, "not text (has a NUL byte)");
		errno = EINVAL;
		return NULL;
	}
	buf[len] = '\0';
	if (lenp)
		*lenp = len;
	return xrealloc(buf, len + 1);

failed:
	close(fd);
	free(buf);
	errno = saved;
	return NULL;
}

/* path as seen from the folder of file: kubeconfig paths are relative to their file. */
static char *resolve_path(const char *file, const char *path)
{
	const char *slash = strrchr(file, '/');

	if (path[0] == '/' || !slash)
		return xstrdup(path);
	return xasprintf("%.*s/%s", (int)(slash - file), file, path);
}

/* A token as written in a file: the surrounding whitespace is not part of it. */
char *kubeconfig_trim(char *s)
{
	size_t len = strlen(s);
	size_t start = strspn(s, " \t\r\n");

	while (len > start && strchr(" \t\r\n", s[len - 1]))
		len--;
	memmove(s, s + start, len - start);
	s[len - start] = '\0';
	return s;
}

/* --- from the chosen context to a connection --------------------------------- */

/*
 * A PEM (or other text) value given inline as base64 or as a file: data
 * wins.  field is the key, for messages.  *out stays NULL if neither.
 */
static bool load_blob(struct kc *kc, const char *file, const char *what, const char *field,
		      const char *data, const char *path, char **out)
{
	char why[256];

	*out = NULL;
	if (data) {
		unsigned char *bytes;
		size_t len, pos;

		if (!base64_decode(data, strlen(data), &bytes, &len, &pos))
			return kc_fail(kc, file, NULL,
				       "%s: %s-data is not valid base64 (at byte %zu)", what, field,
				       pos);
		if (memchr(bytes, '\0', len)) {
			free(bytes);
			return kc_fail(kc, file, NULL, "%s: %s-data is not PEM text", what, field);
		}
		*out = (char *)bytes;
		return true;
	}
	if (path) {
		char *full = resolve_path(file, path);

		*out = kubeconfig_read_text(full, NULL, why, sizeof(why));
		if (!*out) {
			kc_fail(kc, file, NULL, "%s: %s %s: cannot read: %s", what, field, full,
				why);
			free(full);
			return false;
		}
		free(full);
	}
	return true;
}

static bool url_is_http(const char *s)
{
	return (!strncmp(s, "https://", 8) && s[8]) || (!strncmp(s, "http://", 7) && s[7]);
}

static char *strip_slashes(char *s)
{
	size_t len = strlen(s);

	while (len > 0 && s[len - 1] == '/')
		s[--len] = '\0';
	return s;
}

static bool use_cluster(struct kc *kc, const struct kc_cluster *c, struct kube_conn *conn)
{
	char *what = xasprintf("cluster \"%s\"", c->name);
	bool ok = false;

	if (!c->server || !c->server[0]) {
		kc_fail(kc, c->file, NULL, "%s: no server", what);
		goto out;
	}
	if (!url_is_http(c->server)) {
		kc_fail(kc, c->file, NULL, "%s: server \"%s\" is not an http:// or https:// URL",
			what, c->server);
		goto out;
	}
	if (c->tls_server_name && !c->insecure) {
		kc_fail(kc, c->file, NULL,
			"%s: tls-server-name is not supported (the certificate is checked against "
			"the server's host name)",
			what);
		goto out;
	}
	if (!load_blob(kc, c->file, what, "certificate-authority", c->ca_data, c->ca_file,
		       &conn->ca_pem))
		goto out;
	conn->server = strip_slashes(xstrdup(c->server));
	conn->insecure = c->insecure;
	conn->tls_server_name = c->tls_server_name ? xstrdup(c->tls_server_name) : NULL;
	conn->proxy_url = c->proxy_url ? xstrdup(c->proxy_url) : NULL;
	ok = true;
out:
	free(what);
	return ok;
}

static bool read_token(const char *path, char **out, char *why, size_t whylen)
{
	char *t = kubeconfig_read_text(path, NULL, why, whylen);

	if (!t)
		return false;
	kubeconfig_trim(t);
	if (!t[0]) {
		free(t);
		snprintf(why, whylen, "empty");
		return false;
	}
	*out = t;
	return true;
}

static bool use_user(struct kc *kc, const struct kc_user *u, struct kube_conn *conn)
{
	char *what = xasprintf("user \"%s\"", u->name);
	char why[256];
	bool ok = false;

	if (u->exec) {
		if (u->exec_problem) {
			if (kc->err && kc->errlen)
				snprintf(kc->err, kc->errlen, "%s", u->exec_problem);
			goto out;
		}
		if (u->token || u->token_file || u->cert_data || u->cert_file || u->key_data ||
		    u->key_file) {
			kc_fail(kc, u->file, NULL,
				"%s: exec together with token, tokenFile or a client certificate: "
				"keep one way to authenticate",
				what);
			goto out;
		}
	}
	if (u->auth_provider) {
		kc_fail(kc, u->file, NULL,
			"%s: auth-provider plugins are not supported (use a token or a client "
			"certificate)",
			what);
		goto out;
	}
	if (u->basic) {
		kc_fail(kc, u->file, NULL,
			"%s: username/password authentication is not supported (the API server "
			"dropped it in 1.19)",
			what);
		goto out;
	}
	if (u->impersonate) {
		kc_fail(kc, u->file, NULL,
			"%s: impersonation (as, as-groups, ...) is not supported", what);
		goto out;
	}
	if (!load_blob(kc, u->file, what, "client-certificate", u->cert_data, u->cert_file,
		       &conn->client_cert_pem) ||
	    !load_blob(kc, u->file, what, "client-key", u->key_data, u->key_file,
		       &conn->client_key_pem))
		goto out;
	if (!conn->client_cert_pem != !conn->client_key_pem) {
		kc_fail(kc, u->file, NULL, "%s: %s without %s", what,
			conn->client_cert_pem ? "client-certificate" : "client-key",
			conn->client_cert_pem ? "client-key" : "client-certificate");
		goto out;
	}
	if (u->token_file) {
		conn->token_file = resolve_path(u->file, u->token_file);
		/* The file wins over token; token is the fallback while it cannot be read. */
		if (!read_token(conn->token_file, &conn->token, why, sizeof(why))) {
			if (!u->token) {
				kc_fail(kc, u->file, NULL, "%s: tokenFile %s: cannot read: %s",
					what, conn->token_file, why);
				goto out;
			}
			conn->token = xstrdup(u->token);
		}
	} else if (u->token) {
		conn->token = xstrdup(u->token);
	}
	if (u->exec) {
		conn->exec = kube_exec_conf_dup(u->exec);
		/* As kubectl: a command with a path in it is relative to the file. */
		if (strchr(conn->exec->command, '/')) {
			char *full = resolve_path(u->file, conn->exec->command);

			free(conn->exec->command);
			conn->exec->command = full;
		}
	}
	ok = true;
out:
	free(what);
	return ok;
}

/* "a, b, c" of the contexts defined, for a hint. */
static char *context_names(const struct kc *kc)
{
	char *s = xstrdup("");

	for (size_t i = 0; i < kc->ncontexts && i < 10; i++) {
		char *next = xasprintf("%s%s%s", s, i ? ", " : "", kc->contexts[i].name);

		free(s);
		s = next;
	}
	return s;
}

static bool resolve(struct kc *kc, const char *want, struct kube_conn *conn)
{
	const char *name = want ? want : kc->current_context;
	const struct kc_context *ctx;
	ssize_t i;

	if (!name || !name[0]) {
		char *names = context_names(kc);

		kc_fail(kc, kc->shown, NULL,
			"no current-context set; name one of the contexts (%s)",
			kc->ncontexts ? names : "there are none");
		free(names);
		return false;
	}
	i = kubeconfig_find(kc, K_CONTEXT, name);
	if (i < 0)
		return kc_fail(kc, kc->shown, NULL, "context \"%s\" not found", name);
	ctx = &kc->contexts[i];
	if (!ctx->cluster || !ctx->cluster[0])
		return kc_fail(kc, ctx->file, NULL, "context \"%s\" names no cluster", name);
	i = kubeconfig_find(kc, K_CLUSTER, ctx->cluster);
	if (i < 0)
		return kc_fail(kc, kc->shown, NULL, "context \"%s\": cluster \"%s\" not found",
			       name, ctx->cluster);
	if (!use_cluster(kc, &kc->clusters[i], conn))
		return false;
	/* No user: anonymous, or whatever the proxy in front of the server does. */
	if (ctx->user && ctx->user[0]) {
		i = kubeconfig_find(kc, K_USER, ctx->user);
		if (i < 0)
			return kc_fail(kc, kc->shown, NULL, "context \"%s\": user \"%s\" not found",
				       name, ctx->user);
		if (!use_user(kc, &kc->users[i], conn))
			return false;
	}
	conn->namespace = xstrdup(ctx->namespace && ctx->namespace[0] ? ctx->namespace : "default");
	conn->context = xstrdup(name);
	return true;
}

/* paths: one file (single) or a colon-separated list; shown in messages as given. */
static bool load_kubeconfig(const char *paths, bool single, const char *context,
			    struct kube_conn *conn, char *err, size_t errlen)
{
	struct kc kc = {.shown = paths, .err = err, .errlen = errlen};
	bool ok = false;
	bool missing;

	if (single) {
		if (!kubeconfig_parse_file(&kc, paths, &missing))
			goto out;
		if (missing) {
			kc_fail(&kc, paths, NULL, "cannot read: %s", strerror(ENOENT));
			goto out;
		}
	} else {
		char *list = xstrdup(paths);
		char *p = list;

		while (p) {
			char *colon = strchr(p, ':');

			if (colon)
				*colon = '\0';
			if (p[0] && !kubeconfig_parse_file(&kc, p, &missing)) {
				free(list);
				goto out;
			}
			p = colon ? colon + 1 : NULL;
		}
		free(list);
		if (kc.nfiles == 0) {
			kc_fail(&kc, paths, NULL, "none of the files in KUBECONFIG exists");
			goto out;
		}
	}
	if (!resolve(&kc, context, conn))
		goto out;
	conn->origin = xasprintf("kubeconfig %s, context %s", paths, conn->context);
	ok = true;
out:
	kc_free(&kc);
	return ok;
}

/* --- in-cluster ------------------------------------------------------------- */

static bool load_in_cluster(const char *dir, struct kube_conn *conn, char *err, size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	char *path = NULL;
	char why[256];
	int portnum;
	bool ok = false;

	if (!host || !host[0] || !port || !port[0])
		return fail_in_cluster(
			err, errlen,
			"KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set");
	if (!parse_int(port, 1, 65535, &portnum))
		return fail_in_cluster(err, errlen, "KUBERNETES_SERVICE_PORT \"%s\" is not a port",
				       port);
	/* An IPv6 address goes in brackets. */
	if (strchr(host, ':'))
		conn->server = xasprintf("https://[%s]:%d", host, portnum);
	else
		conn->server = xasprintf("https://%s:%d", host, portnum);

	path = xasprintf("%s/token", dir);
	if (!read_token(path, &conn->token, why, sizeof(why))) {
		fail_in_cluster(err, errlen, "service account token %s: cannot read: %s", path,
				why);
		goto out;
	}
	conn->token_file = path;
	path = xasprintf("%s/ca.crt", dir);
	conn->ca_pem = kubeconfig_read_text(path, NULL, why, sizeof(why));
	if (!conn->ca_pem) {
		fail_in_cluster(err, errlen, "service account CA %s: cannot read: %s", path, why);
		goto out;
	}
	free(path);
	path = xasprintf("%s/namespace", dir);
	conn->namespace = kubeconfig_read_text(path, NULL, why, sizeof(why));
	if (conn->namespace && !kubeconfig_trim(conn->namespace)[0]) {
		free(conn->namespace);
		conn->namespace = NULL;
	}
	if (!conn->namespace)
		conn->namespace = xstrdup("default");
	conn->origin = xasprintf("in-cluster, service account %s", dir);
	ok = true;
out:
	free(path);
	return ok;
}

/* --- the API ------------------------------------------------------------------ */

static char **strings_dup(char *const *v, size_t n)
{
	char **out = xcalloc(n + 1, sizeof(char *));

	for (size_t i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

static void strings_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

struct kube_exec_conf *kube_exec_conf_dup(const struct kube_exec_conf *e)
{
	struct kube_exec_conf *d;

	if (!e)
		return NULL;
	d = xcalloc(1, sizeof(*d));
	d->api_version = e->api_version ? xstrdup(e->api_version) : NULL;
	d->command = e->command ? xstrdup(e->command) : NULL;
	d->args = strings_dup(e->args, e->nargs);
	d->nargs = e->nargs;
	d->env = strings_dup(e->env, e->nenv);
	d->nenv = e->nenv;
	d->install_hint = e->install_hint ? xstrdup(e->install_hint) : NULL;
	d->provide_cluster_info = e->provide_cluster_info;
	d->user = e->user ? xstrdup(e->user) : NULL;
	return d;
}

void kube_exec_conf_free(struct kube_exec_conf *e)
{
	if (!e)
		return;
	free(e->api_version);
	free(e->command);
	strings_free(e->args, e->nargs);
	strings_free(e->env, e->nenv);
	free(e->install_hint);
	free(e->user);
	free(e);
}

void kube_conn_free(struct kube_conn *conn)
{
	if (!conn)
		return;
	free(conn->server);
	free(conn->ca_pem);
	free(conn->client_cert_pem);
	free(conn->client_key_pem);
	free(conn->token);
	free(conn->token_file);
	kube_exec_conf_free(conn->exec);
	free(conn->tls_server_name);
	free(conn->proxy_url);
	free(conn->namespace);
	free(conn->context);
	free(conn->origin);
	memset(conn, 0, sizeof(*conn));
}

bool kube_conn_load(const struct kube_conn_opts *opts, struct kube_conn *conn, char *err,
		    size_t errlen)
{
	static const struct kube_conn_opts defaults = {0};
	const char *env = getenv("KUBECONFIG");
	const char *home = getenv("HOME");
	char *home_config = NULL;
	bool ok = false;

	if (!opts)
		opts = &defaults;
	memset(conn, 0, sizeof(*conn));
	if (err && errlen)
		err[0] = '\0';

	if (opts->source == KUBE_SOURCE_IN_CLUSTER) {
		ok = load_in_cluster(opts->sa_dir ? opts->sa_dir : KUBE_SA_DIR, conn, err, errlen);
		goto out;
	}
	if (opts->kubeconfig) {
		ok = load_kubeconfig(opts->kubeconfig, true, opts->context, conn, err, errlen);
		goto out;
	}
	if (env && env[0]) {
		ok = load_kubeconfig(env, false, opts->context, conn, err, errlen);
		goto out;
	}
	if (home && home[0]) {
		home_config = xasprintf("%s/.kube/config", home);
		if (access(home_config, F_OK) == 0) {
			ok = load_kubeconfig(home_config, true, opts->context, conn, err, errlen);
			goto out;
		}
	}
	if (opts->source == KUBE_SOURCE_AUTO && getenv("KUBERNETES_SERVICE_HOST")) {
		ok = load_in_cluster(opts->sa_dir ? opts->sa_dir : KUBE_SA_DIR, conn, err, errlen);
		goto out;
	}
	kubeconfig_fail(err, errlen, home_config ? home_config : "~/.kube/config", NULL,
			"does not exist, KUBECONFIG is not set%s",
			opts->source == KUBE_SOURCE_AUTO
				? ", and not in a cluster (no KUBERNETES_SERVICE_HOST)"
				: "");
out:
	free(home_config);
	if (!ok)
		kube_conn_free(conn);
	return ok;
}

bool kube_conn_reload_token(struct kube_conn *conn, char *err, size_t errlen)
{
	char why[256];
	char *token;

	if (!conn->token_file)
		return true;
	if (!read_token(conn->token_file, &token, why, sizeof(why))) {
		if (err && errlen)
			snprintf(err, errlen, "token file %s: cannot read: %s", conn->token_file,
				 why);
		return false;
	}
	free(conn->token);
	conn->token = token;
	return true;
}

void kube_conn_to_tls(const struct kube_conn *conn, struct httpc_tls *tls)
{
	memset(tls, 0, sizeof(*tls));
	tls->ca_pem = conn->ca_pem;
	tls->client_cert_pem = conn->client_cert_pem;
	tls->client_key_pem = conn->client_key_pem;
	tls->insecure_skip_verify = conn->insecure;
}
