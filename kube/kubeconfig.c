/*
 * kubeconfig files and the in-cluster service account.
 *
 * Each file is loaded whole with libyaml's document API (a kubeconfig is
 * small, and its lists are easier to walk as a tree), then its clusters,
 * users and contexts are copied into one merged table, first definition
 * of a name winning.  Only the entries the chosen context names are then
 * checked and turned into a struct kube_conn, so a file may hold users
 * with exec plugins as long as we are not asked to be them.
 */
#include "kube/kubeconfig.h"
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

struct kc_cluster {
	char *name;
	const char *file; /* in kc->files */
	char *server;
	char *ca_file;
	char *ca_data;
	bool insecure;
	char *tls_server_name;
	char *proxy_url;
};

struct kc_user {
	char *name;
	const char *file;
	char *cert_file;
	char *cert_data;
	char *key_file;
	char *key_data;
	char *token;
	char *token_file;
	bool exec;
	bool auth_provider;
	bool basic;
	bool impersonate;
};

struct kc_context {
	char *name;
	const char *file;
	char *cluster;
	char *user;
	char *namespace;
};

/* The merged view of every file read. */
struct kc {
	const char *shown; /* the file or list, for messages about the whole */
	char **files;
	size_t nfiles;
	struct kc_cluster *clusters;
	size_t nclusters;
	struct kc_user *users;
	size_t nusers;
	struct kc_context *contexts;
	size_t ncontexts;
	char *current_context;
	char *err;
	size_t errlen;
};

/* One file being parsed. */
struct kc_file {
	struct kc *kc;
	const char *path;
	yaml_document_t doc;
};

/* --- errors ----------------------------------------------------------------- */

/* "kubeconfig FILE[:LINE]: message".  Returns false. */
static bool __attribute__((format(printf, 5, 6)))
fail(char *err, size_t errlen, const char *file, const yaml_node_t *at, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (err && errlen) {
		if (at)
			snprintf(err, errlen, "kubeconfig %s:%zu: %s", file,
				 at->start_mark.line + 1, msg);
		else
			snprintf(err, errlen, "kubeconfig %s: %s", file, msg);
	}
	free(msg);
	return false;
}

#define kc_fail(kc, file, at, ...) fail((kc)->err, (kc)->errlen, (file), (at), __VA_ARGS__)

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
static char *read_text(const char *path, size_t *lenp, char *why, size_t whylen)
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
static char *trim(char *s)
{
	size_t len = strlen(s);
	size_t start = strspn(s, " \t\r\n");

	while (len > start && strchr(" \t\r\n", s[len - 1]))
		len--;
	memmove(s, s + start, len - start);
	s[len - start] = '\0';
	return s;
}

/* --- YAML nodes -------------------------------------------------------------- */

static bool is_null(const yaml_node_t *n)
{
	const char *v;

	if (!n)
		return true;
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = (const char *)n->data.scalar.value;
	return !v[0] || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

/* Something is set: not absent, not null, not an empty list or mapping. */
static bool is_set(const yaml_node_t *n)
{
	if (is_null(n))
		return false;
	if (n->type == YAML_SEQUENCE_NODE)
		return n->data.sequence.items.top > n->data.sequence.items.start;
	if (n->type == YAML_MAPPING_NODE)
		return n->data.mapping.pairs.top > n->data.mapping.pairs.start;
	return true;
}

static bool scalar_is(const yaml_node_t *n, const char *s)
{
	return n && n->type == YAML_SCALAR_NODE &&
	       strcmp((const char *)n->data.scalar.value, s) == 0;
}

/* The value of key in map, or NULL. */
static yaml_node_t *map_get(struct kc_file *f, const yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		if (scalar_is(yaml_document_get_node(&f->doc, p->key), key))
			return yaml_document_get_node(&f->doc, p->value);
	}
	return NULL;
}

/* A string value (NULL when absent or null); what (or NULL) names the entry for errors. */
static bool get_string(struct kc_file *f, const yaml_node_t *map, const char *what, const char *key,
		       char **out)
{
	yaml_node_t *n = map_get(f, map, key);

	*out = NULL;
	if (is_null(n))
		return true;
	if (n->type != YAML_SCALAR_NODE)
		return kc_fail(f->kc, f->path, n, "%s%s%s: expected a string", what ? what : "",
			       what ? ": " : "", key);
	*out = xstrdup((const char *)n->data.scalar.value);
	return true;
}

static bool get_bool(struct kc_file *f, const yaml_node_t *map, const char *what, const char *key,
		     bool *out)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes",
					  "YES",  "on",	  "On",	  "ON"};
	static const char *const no[] = {"false", "False", "FALSE", "no", "No",
					 "NO",	  "off",   "Off",   "OFF"};
	yaml_node_t *n = map_get(f, map, key);

	*out = false;
	if (is_null(n))
		return true;
	if (n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
			if (scalar_is(n, yes[i])) {
				*out = true;
				return true;
			}
			if (scalar_is(n, no[i]))
				return true;
		}
	}
	return kc_fail(f->kc, f->path, n, "%s: %s: expected true or false", what, key);
}

/* --- one file into the merged table ----------------------------------------- */

enum kind {
	K_CLUSTER,
	K_USER,
	K_CONTEXT
};

static const char *const kind_list[] = {"clusters", "users", "contexts"};
static const char *const kind_body[] = {"cluster", "user", "context"};

/* Where name already is in the table: -1 if nowhere. */
static ssize_t find(const struct kc *kc, enum kind k, const char *name)
{
	switch (k) {
	case K_CLUSTER:
		for (size_t i = 0; i < kc->nclusters; i++)
			if (!strcmp(kc->clusters[i].name, name))
				return (ssize_t)i;
		break;
	case K_USER:
		for (size_t i = 0; i < kc->nusers; i++)
			if (!strcmp(kc->users[i].name, name))
				return (ssize_t)i;
		break;
	case K_CONTEXT:
		for (size_t i = 0; i < kc->ncontexts; i++)
			if (!strcmp(kc->contexts[i].name, name))
				return (ssize_t)i;
		break;
	}
	return -1;
}

static const char *file_of(const struct kc *kc, enum kind k, size_t i)
{
	switch (k) {
	case K_CLUSTER:
		return kc->clusters[i].file;
	case K_USER:
		return kc->users[i].file;
	case K_CONTEXT:
		return kc->contexts[i].file;
	}
	return NULL;
}

static void cluster_free(struct kc_cluster *c)
{
	free(c->name);
	free(c->server);
	free(c->ca_file);
	free(c->ca_data);
	free(c->tls_server_name);
	free(c->proxy_url);
}

static void user_free(struct kc_user *u)
{
	free(u->name);
	free(u->cert_file);
	free(u->cert_data);
	free(u->key_file);
	free(u->key_data);
	free(u->token);
	free(u->token_file);
}

static void context_free(struct kc_context *c)
{
	free(c->name);
	free(c->cluster);
	free(c->user);
	free(c->namespace);
}

static bool parse_cluster(struct kc_file *f, const yaml_node_t *body, const char *what,
			  struct kc_cluster *c)
{
	return get_string(f, body, what, "server", &c->server) &&
	       get_string(f, body, what, "certificate-authority", &c->ca_file) &&
	       get_string(f, body, what, "certificate-authority-data", &c->ca_data) &&
	       get_bool(f, body, what, "insecure-skip-tls-verify", &c->insecure) &&
	       get_string(f, body, what, "tls-server-name", &c->tls_server_name) &&
	       get_string(f, body, what, "proxy-url", &c->proxy_url);
}

static bool parse_user(struct kc_file *f, const yaml_node_t *body, const char *what,
		       struct kc_user *u)
{
	if (!get_string(f, body, what, "client-certificate", &u->cert_file) ||
	    !get_string(f, body, what, "client-certificate-data", &u->cert_data) ||
	    !get_string(f, body, what, "client-key", &u->key_file) ||
	    !get_string(f, body, what, "client-key-data", &u->key_data) ||
	    !get_string(f, body, what, "token", &u->token) ||
	    !get_string(f, body, what, "tokenFile", &u->token_file))
		return false;
	u->exec = is_set(map_get(f, body, "exec"));
	u->auth_provider = is_set(map_get(f, body, "auth-provider"));
	u->basic = is_set(map_get(f, body, "username")) || is_set(map_get(f, body, "password"));
	u->impersonate = is_set(map_get(f, body, "as")) || is_set(map_get(f, body, "as-uid")) ||
			 is_set(map_get(f, body, "as-groups")) ||
			 is_set(map_get(f, body, "as-user-extra"));
	return true;
}

static bool parse_context(struct kc_file *f, const yaml_node_t *body, const char *what,
			  struct kc_context *c)
{
	return get_string(f, body, what, "cluster", &c->cluster) &&
	       get_string(f, body, what, "user", &c->user) &&
	       get_string(f, body, what, "namespace", &c->namespace);
}

/* One entry of clusters:, users: or contexts:, added unless an earlier file named it. */
static bool parse_entry(struct kc_file *f, enum kind k, size_t index, const yaml_node_t *item)
{
	struct kc *kc = f->kc;
	const yaml_node_t *body;
	char *name = NULL;
	char *what = NULL;
	char *where = xasprintf("%s[%zu]", kind_list[k], index);
	ssize_t prev;
	bool ok = false;

	if (!item || item->type != YAML_MAPPING_NODE) {
		kc_fail(kc, f->path, item, "%s: expected a mapping with name and %s", where,
			kind_body[k]);
		goto out;
	}
	if (!get_string(f, item, where, "name", &name))
		goto out;
	if (!name || !name[0]) {
		kc_fail(kc, f->path, item, "%s: no name", where);
		goto out;
	}
	what = xasprintf("%s \"%s\"", kind_body[k], name);
	prev = find(kc, k, name);
	if (prev >= 0 && file_of(kc, k, (size_t)prev) == f->path) {
		kc_fail(kc, f->path, item, "%s is defined twice", what);
		goto out;
	}
	body = map_get(f, item, kind_body[k]);
	if (!is_null(body) && body->type != YAML_MAPPING_NODE) {
		kc_fail(kc, f->path, body, "%s: %s: expected a mapping", what, kind_body[k]);
		goto out;
	}
	if (is_null(body))
		body = NULL;

	/*
	 * A name an earlier file defined is still parsed, so that a broken
	 * entry is an error wherever it is, and then dropped: the first wins.
	 */
	switch (k) {
	case K_CLUSTER: {
		struct kc_cluster c = {.name = name, .file = f->path};

		name = NULL;
		ok = parse_cluster(f, body, what, &c);
		if (ok && prev < 0) {
			kc->clusters = xrealloc(kc->clusters, (kc->nclusters + 1) * sizeof(c));
			kc->clusters[kc->nclusters++] = c;
		} else {
			cluster_free(&c);
		}
		break;
	}
	case K_USER: {
		struct kc_user u = {.name = name, .file = f->path};

		name = NULL;
		ok = parse_user(f, body, what, &u);
		if (ok && prev < 0) {
			kc->users = xrealloc(kc->users, (kc->nusers + 1) * sizeof(u));
			kc->users[kc->nusers++] = u;
		} else {
			user_free(&u);
		}
		break;
	}
	case K_CONTEXT: {
		struct kc_context c = {.name = name, .file = f->path};

		name = NULL;
		ok = parse_context(f, body, what, &c);
		if (ok && prev < 0) {
			kc->contexts = xrealloc(kc->contexts, (kc->ncontexts + 1) * sizeof(c));
			kc->contexts[kc->ncontexts++] = c;
		} else {
			context_free(&c);
		}
		break;
	}
	}
out:
	free(name);
	free(what);
	free(where);
	return ok;
}

static bool parse_list(struct kc_file *f, enum kind k, const yaml_node_t *list)
{
	size_t i = 0;

	if (is_null(list))
		return true;
	if (list->type != YAML_SEQUENCE_NODE)
		return kc_fail(f->kc, f->path, list, "%s: expected a list", kind_list[k]);
	for (yaml_node_item_t *it = list->data.sequence.items.start;
	     it < list->data.sequence.items.top; it++, i++) {
		if (!parse_entry(f, k, i, yaml_document_get_node(&f->doc, *it)))
			return false;
	}
	return true;
}

static bool parse_doc(struct kc_file *f)
{
	struct kc *kc = f->kc;
	yaml_node_t *root = yaml_document_get_root_node(&f->doc);
	char *current = NULL;

	/* An empty file is an empty configuration, as for kubectl. */
	if (is_null(root))
		return true;
	if (root->type != YAML_MAPPING_NODE)
		return kc_fail(kc, f->path, root, "expected a mapping (apiVersion, clusters, ...)");
	if (!parse_list(f, K_CLUSTER, map_get(f, root, "clusters")) ||
	    !parse_list(f, K_USER, map_get(f, root, "users")) ||
	    !parse_list(f, K_CONTEXT, map_get(f, root, "contexts")) ||
	    !get_string(f, root, NULL, "current-context", &current))
		return false;
	/* The first file to set it wins; "" sets nothing. */
	if (current && current[0] && !kc->current_context)
		kc->current_context = current;
	else
		free(current);
	return true;
}

/*
 * Read path into kc.  A file that does not exist sets *missing and is
 * not an error here: the caller knows whether that is allowed.
 */
static bool parse_file(struct kc *kc, const char *path, bool *missing)
{
	struct kc_file f = {.kc = kc};
	yaml_parser_t parser;
	char why[256];
	char *text;
	size_t len;
	bool ok;

	*missing = false;
	text = read_text(path, &len, why, sizeof(why));
	if (!text) {
		if (errno == ENOENT) {
			*missing = true;
			return true;
		}
		return kc_fail(kc, path, NULL, "cannot read: %s", why);
	}
	kc->files = xrealloc(kc->files, (kc->nfiles + 1) * sizeof(*kc->files));
	kc->files[kc->nfiles++] = xstrdup(path);
	f.path = kc->files[kc->nfiles - 1];

	if (!yaml_parser_initialize(&parser)) {
		free(text);
		return kc_fail(kc, path, NULL, "cannot set up the YAML parser");
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &f.doc)) {
		kc_fail(kc, path, NULL, "line %zu: %s %s", parser.problem_mark.line + 1,
			parser.problem ? parser.problem : "cannot parse",
			parser.context ? parser.context : "");
		if (kc->err)
			trim(kc->err);
		yaml_parser_delete(&parser);
		free(text);
		return false;
	}
	ok = parse_doc(&f);
	yaml_document_delete(&f.doc);
	yaml_parser_delete(&parser);
	free(text);
	return ok;
}

static void kc_free(struct kc *kc)
{
	for (size_t i = 0; i < kc->nclusters; i++)
		cluster_free(&kc->clusters[i]);
	for (size_t i = 0; i < kc->nusers; i++)
		user_free(&kc->users[i]);
	for (size_t i = 0; i < kc->ncontexts; i++)
		context_free(&kc->contexts[i]);
	for (size_t i = 0; i < kc->nfiles; i++)
		free(kc->files[i]);
	free(kc->clusters);
	free(kc->users);
	free(kc->contexts);
	free(kc->files);
	free(kc->current_context);
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

		*out = read_text(full, NULL, why, sizeof(why));
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
	char *t = read_text(path, NULL, why, whylen);

	if (!t)
		return false;
	trim(t);
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
		kc_fail(kc, u->file, NULL, "%s: exec credential plugins are not supported", what);
		goto out;
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
	i = find(kc, K_CONTEXT, name);
	if (i < 0)
		return kc_fail(kc, kc->shown, NULL, "context \"%s\" not found", name);
	ctx = &kc->contexts[i];
	if (!ctx->cluster || !ctx->cluster[0])
		return kc_fail(kc, ctx->file, NULL, "context \"%s\" names no cluster", name);
	i = find(kc, K_CLUSTER, ctx->cluster);
	if (i < 0)
		return kc_fail(kc, kc->shown, NULL, "context \"%s\": cluster \"%s\" not found",
			       name, ctx->cluster);
	if (!use_cluster(kc, &kc->clusters[i], conn))
		return false;
	/* No user: anonymous, or whatever the proxy in front of the server does. */
	if (ctx->user && ctx->user[0]) {
		i = find(kc, K_USER, ctx->user);
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
		if (!parse_file(&kc, paths, &missing))
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
			if (p[0] && !parse_file(&kc, p, &missing)) {
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
	conn->ca_pem = read_text(path, NULL, why, sizeof(why));
	if (!conn->ca_pem) {
		fail_in_cluster(err, errlen, "service account CA %s: cannot read: %s", path, why);
		goto out;
	}
	free(path);
	path = xasprintf("%s/namespace", dir);
	conn->namespace = read_text(path, NULL, why, sizeof(why));
	if (conn->namespace && !trim(conn->namespace)[0]) {
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
	fail(err, errlen, home_config ? home_config : "~/.kube/config", NULL,
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
