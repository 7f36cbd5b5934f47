/*
 * Parsing kubeconfig files: the YAML nodes of a document read with
 * libyaml's document API, and one file's clusters, users and contexts
 * copied into the merged table, first definition of a name winning.
 */
#include "kube/kubeconfig_internal.h"
#include "common/util.h"

#include <errno.h>
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
