/*
 * Parsing kubeconfig files: the YAML nodes of a document read with
 * libyaml's document API, and one file's clusters, users and contexts
 * copied into the merged table, first definition of a name winning.
 */
#include "kube/kubeconfig_internal.h"
#include "common/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

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
static const char *const kind_list[] = {"clusters", "users", "contexts"};
static const char *const kind_body[] = {"cluster", "user", "context"};

/* Where name already is in the table: -1 if nowhere. */
ssize_t kubeconfig_find(const struct kc *kc, enum kind k, const char *name)
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
	kube_exec_conf_free(u->exec);
	free(u->exec_problem);
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

/* A list of strings into *out (nothing when absent or null). */
static bool get_strings(struct kc_file *f, const yaml_node_t *map, const char *what,
			const char *key, char ***out, size_t *count)
{
	yaml_node_t *list = map_get(f, map, key);
	size_t i = 0;

	*out = NULL;
	*count = 0;
	if (is_null(list))
		return true;
	if (list->type != YAML_SEQUENCE_NODE)
		return kc_fail(f->kc, f->path, list, "%s: %s: expected a list of strings", what,
			       key);
	*out = xcalloc((size_t)(list->data.sequence.items.top - list->data.sequence.items.start) +
			       1,
		       sizeof(char *));
	for (yaml_node_item_t *it = list->data.sequence.items.start;
	     it < list->data.sequence.items.top; it++, i++) {
		yaml_node_t *n = yaml_document_get_node(&f->doc, *it);

		if (!n || n->type != YAML_SCALAR_NODE)
			return kc_fail(f->kc, f->path, n, "%s: %s[%zu]: expected a string", what,
				       key, i);
		(*out)[(*count)++] = xstrdup((const char *)n->data.scalar.value);
	}
	return true;
}

/* exec.env: a list of {name, value}, both required, into "NAME=value" strings. */
static bool get_exec_env(struct kc_file *f, const yaml_node_t *exec, const char *what,
			 struct kube_exec_conf *e)
{
	yaml_node_t *list = map_get(f, exec, "env");
	size_t i = 0;

	if (is_null(list))
		return true;
	if (list->type != YAML_SEQUENCE_NODE)
		return kc_fail(f->kc, f->path, list, "%s: env: expected a list of name and value",
			       what);
	e->env = xcalloc((size_t)(list->data.sequence.items.top - list->data.sequence.items.start) +
				 1,
			 sizeof(char *));
	for (yaml_node_item_t *it = list->data.sequence.items.start;
	     it < list->data.sequence.items.top; it++, i++) {
		yaml_node_t *n = yaml_document_get_node(&f->doc, *it);
		char *where = xasprintf("%s: env[%zu]", what, i);
		char *name = NULL, *value = NULL;
		bool ok = false;

		if (!n || n->type != YAML_MAPPING_NODE)
			kc_fail(f->kc, f->path, n, "%s: expected a mapping with name and value",
				where);
		else if (get_string(f, n, where, "name", &name) &&
			 get_string(f, n, where, "value", &value)) {
			/* client-go: both must be specified; a name with '=' or NUL cannot be one. */
			if (!name || !name[0] || strchr(name, '='))
				kc_fail(f->kc, f->path, n, "%s: name: expected a variable name",
					where);
			else if (!value)
				kc_fail(f->kc, f->path, n, "%s: value: missing", where);
			else
				ok = true;
		}
		if (ok)
			e->env[e->nenv++] = xasprintf("%s=%s", name, value);
		free(name);
		free(value);
		free(where);
		if (!ok)
			return false;
	}
	return true;
}

/* The first reason u's exec cannot be used, kept for when it is. */
static void __attribute__((format(printf, 4, 5)))
exec_problem(struct kc_file *f, struct kc_user *u, const yaml_node_t *at, const char *fmt, ...)
{
	char msg[512], full[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	kubeconfig_fail(full, sizeof(full), f->path, at, "%s", msg);
	u->exec_problem = xstrdup(full);
}

/*
 * users[].user.exec, checked as client-go's clientcmd validation does
 * (staging/src/k8s.io/client-go/tools/clientcmd/validation.go, and the
 * v1beta1 default of interactiveMode in api/v1/defaults.go).
 */
static bool parse_exec(struct kc_file *f, const yaml_node_t *exec, const char *user_what,
		       struct kc_user *u)
{
	struct kube_exec_conf *e = xcalloc(1, sizeof(*e));
	char *what = xasprintf("%s: exec", user_what);
	char *mode = NULL;
	bool ok = false;

	u->exec = e;
	e->user = xstrdup(u->name);
	if (exec->type != YAML_MAPPING_NODE) {
		kc_fail(f->kc, f->path, exec, "%s: expected a mapping (apiVersion, command, ...)",
			what);
		goto out;
	}
	if (!get_string(f, exec, what, "apiVersion", &e->api_version) ||
	    !get_string(f, exec, what, "command", &e->command) ||
	    !get_strings(f, exec, what, "args", &e->args, &e->nargs) ||
	    !get_exec_env(f, exec, what, e) ||
	    !get_string(f, exec, what, "installHint", &e->install_hint) ||
	    !get_bool(f, exec, what, "provideClusterInfo", &e->provide_cluster_info) ||
	    !get_string(f, exec, what, "interactiveMode", &mode))
		goto out;
	ok = true;
	if (!e->api_version || !e->api_version[0])
		exec_problem(f, u, exec, "%s: apiVersion: missing (%s or %s)", what, KUBE_EXEC_V1,
			     KUBE_EXEC_V1BETA1);
	else if (strcmp(e->api_version, KUBE_EXEC_V1) != 0 &&
		 strcmp(e->api_version, KUBE_EXEC_V1BETA1) != 0)
		exec_problem(f, u, map_get(f, exec, "apiVersion"),
			     "%s: apiVersion: \"%s\" is not supported (%s or %s)", what,
			     e->api_version, KUBE_EXEC_V1, KUBE_EXEC_V1BETA1);
	else if (!e->command || !e->command[0])
		exec_problem(f, u, exec, "%s: command: missing", what);
	else if ((!mode || !mode[0]) && !strcmp(e->api_version, KUBE_EXEC_V1))
		exec_problem(
			f, u, exec,
			"%s: interactiveMode: missing (Never or IfAvailable; required with %s)",
			what, KUBE_EXEC_V1);
	else if (mode && !strcmp(mode, "Always"))
		exec_problem(f, u, map_get(f, exec, "interactiveMode"),
			     "%s: interactiveMode: Always is not supported (esaasd never prompts: "
			     "use Never or IfAvailable)",
			     what);
	else if (mode && mode[0] && strcmp(mode, "Never") != 0 && strcmp(mode, "IfAvailable") != 0)
		exec_problem(f, u, map_get(f, exec, "interactiveMode"),
			     "%s: interactiveMode: \"%s\" is not Never, IfAvailable or Always",
			     what, mode);
out:
	free(mode);
	free(what);
	return ok;
}

static bool parse_user(struct kc_file *f, const yaml_node_t *body, const char *what,
		       struct kc_user *u)
{
	yaml_node_t *exec;

	if (!get_string(f, body, what, "client-certificate", &u->cert_file) ||
	    !get_string(f, body, what, "client-certificate-data", &u->cert_data) ||
	    !get_string(f, body, what, "client-key", &u->key_file) ||
	    !get_string(f, body, what, "client-key-data", &u->key_data) ||
	    !get_string(f, body, what, "token", &u->token) ||
	    !get_string(f, body, what, "tokenFile", &u->token_file))
		return false;
	exec = map_get(f, body, "exec");
	/* exec: {} is an exec section without its fields, as for client-go. */
	if (!is_null(exec) && !parse_exec(f, exec, what, u))
		return false;
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
	prev = kubeconfig_find(kc, k, name);
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
bool kubeconfig_parse_file(struct kc *kc, const char *path, bool *missing)
{
	struct kc_file f = {.kc = kc};
	yaml_parser_t parser;
	char why[256];
	char *text;
	size_t len;
	bool ok;

	*missing = false;
	text = kubeconfig_read_text(path, &len, why, sizeof(why));
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
			kubeconfig_trim(kc->err);
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

void kc_free(struct kc *kc)
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
