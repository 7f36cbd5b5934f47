/*
 * Object storage for s3 snapshot repositories: see sim/s3.h.
 *
 * Sources: the repository type and its client
 * (https://www.elastic.co/guide/en/elasticsearch/reference/8.17/repository-s3.html;
 * the repository-s3 plugin's pages before 8.0, e.g. plugins/7.17/repository-s3-client.html):
 * a repository names a bucket, a base_path and a client (default
 * "default"); the client's endpoint and protocol are node settings
 * s3.client.<name>.*, its access_key and secret_key secure settings that
 * only the keystore holds.  The keystore is made with bin/elasticsearch-keystore
 * (https://www.elastic.co/guide/en/elasticsearch/reference/8.17/elasticsearch-keystore.html:
 * create, add with --stdin/-x reading the value from standard input) and
 * read by the node from config/elasticsearch.keystore when it starts
 * (reference/8.17/secure-settings.html: changes take effect at the next
 * start, or on reload for reloadable settings).  The store answers as S3
 * does (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html:
 * InvalidAccessKeyId, SignatureDoesNotMatch, NoSuchBucket, AccessDenied),
 * and Elasticsearch reports the AWS SDK's exception text, "<message>
 * (Service: Amazon S3; Status Code: <n>; Error Code: <code>; Request ID:
 * <id>)".
 */
#include "sim/s3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/json.h"
#include "common/util.h"
#include "sim/es.h"
#include "sim/simconf.h"
#include "sim/store.h"

#define ES_HOME "/usr/share/elasticsearch"
#define KEYSTORE_PATH ES_HOME "/config/elasticsearch.keystore"
/* Where a client without an endpoint setting connects. */
#define AWS_ENDPOINT "s3.amazonaws.com"

/* --- the keystore the init containers make ----------------------------------------- */

/* path made absolute from cwd, without "//" or a final '/'. */
static char *absolute(const char *cwd, const char *path)
{
	char *joined = path[0] == '/' ? xstrdup(path) : xasprintf("%s/%s", cwd, path);
	size_t n = 0;
	for (const char *p = joined; *p; p++)
		if (!(p[0] == '/' && (p[1] == '/' || (p[1] == '\0' && n > 0))))
			joined[n++] = *p;
	joined[n] = '\0';
	if (n == 0) {
		free(joined);
		joined = xstrdup("/");
	}
	return joined;
}

/* The pod's volume named name, or NULL. */
static const json_t *volume_named(const json_t *pod, const char *name)
{
	size_t i;
	json_t *v;
	json_array_foreach (json_object_get(json_object_get(pod, "spec"), "volumes"), i, v) {
		if (name && json_str(v, "name") && !strcmp(json_str(v, "name"), name))
			return v;
	}
	return NULL;
}

/* The mount of ct that holds path, the deepest: its volume, and the path
 * inside the volume ("" for the volume's top) in *rel, to free. */
static const json_t *mount_of(const json_t *pod, const json_t *ct, const char *path, char **rel)
{
	const json_t *best = NULL;
	size_t best_len = 0;
	size_t i;
	json_t *m;
	json_array_foreach (json_object_get(ct, "volumeMounts"), i, m) {
		const char *at = json_str(m, "mountPath");
		if (!at)
			continue;
		char *nat = absolute("/", at);
		size_t n = strlen(nat);
		bool under = !strcmp(nat, "/") ||
			     (!strncmp(path, nat, n) && (path[n] == '\0' || path[n] == '/'));
		if (under && (!best || n > best_len)) {
			best = m;
			best_len = !strcmp(nat, "/") ? 0 : n;
		}
		free(nat);
	}
	if (!best)
		return NULL;
	const char *sub = json_str(best, "subPath");
	const char *rest = path + best_len;
	while (*rest == '/')
		rest++;
	*rel = sub && *sub ? (*rest ? xasprintf("%s/%s", sub, rest) : xstrdup(sub)) : xstrdup(rest);
	return volume_named(pod, json_str(best, "name"));
}

/* What a container reads at path: a file of a Secret volume (its items
 * mapping paths to keys), or NULL. */
static char *read_file(const json_t *pod, const json_t *ct, const char *path)
{
	char *rel = NULL;
	const json_t *vol = mount_of(pod, ct, path, &rel);
	const json_t *secret = json_object_get(vol, "secret");
	char *value = NULL;
	if (secret && rel) {
		const char *key = rel;
		size_t i;
		json_t *item;
		json_t *items = json_object_get(secret, "items");
		if (items) {
			key = NULL;
			json_array_foreach (items, i, item) {
				if (json_str(item, "path") && !strcmp(json_str(item, "path"), rel))
					key = json_str(item, "key");
			}
		}
		value = store_secret_value(json_str(json_object_get(pod, "metadata"), "namespace"),
					   json_str(secret, "secretName"), key);
	}
	free(rel);
	return value;
}

/* The container's environment: its values and Secret references. */
static json_t *container_env(const json_t *pod, const json_t *ct)
{
	const char *ns = json_str(json_object_get(pod, "metadata"), "namespace");
	json_t *vars = json_object();
	size_t i;
	json_t *e;
	json_array_foreach (json_object_get(ct, "env"), i, e) {
		const char *name = json_str(e, "name");
		json_t *ref = json_object_get(json_object_get(e, "valueFrom"), "secretKeyRef");
		char *value = json_str(e, "value") ? xstrdup(json_str(e, "value"))
						   : store_secret_value(ns, json_str(ref, "name"),
									json_str(ref, "key"));
		if (name && value)
			json_object_set_new(vars, name, json_string(value));
		free(value);
	}
	return vars;
}

static char *container_script(const json_t *ct)
{
	static const char *const keys[] = {"command", "args"};
	char *text = xstrdup("");
	for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
		size_t j;
		json_t *w;
		json_array_foreach (json_object_get(ct, keys[k]), j, w) {
			char *more = xasprintf("%s %s", text,
					       json_string_value(w) ? json_string_value(w) : "");
			free(text);
			text = more;
		}
	}
	return text;
}

static const char *word(const json_t *words, size_t i)
{
	return json_string_value(json_array_get(words, i));
}

static bool is_keystore_tool(const char *w)
{
	const char *base = w ? strrchr(w, '/') : NULL;
	base = base ? base + 1 : w;
	return base && !strcmp(base, "elasticsearch-keystore");
}

/* `elasticsearch-keystore add [-f] [--stdin|-x] NAME [< FILE]`, the value
 * from FILE or from what was piped in (stdin_text). */
static void keystore_add(json_t *ks, const json_t *pod, const json_t *ct, const char *cwd,
			 const json_t *words, const char *stdin_text)
{
	const char *name = NULL, *from = NULL;
	bool piped_value = false;
	for (size_t i = 2; i < json_array_size(words); i++) {
		const char *w = word(words, i);
		if (!strcmp(w, "<") && word(words, i + 1)) {
			from = word(words, ++i);
		} else if (!strcmp(w, "--stdin") || !strcmp(w, "-x")) {
			piped_value = true;
		} else if (w[0] != '-' && !name) {
			name = w;
		}
	}
	if (!ks || !name || !piped_value)
		return;
	char *value = NULL;
	if (from) {
		char *path = absolute(cwd, from);
		value = read_file(pod, ct, path);
		free(path);
	} else if (stdin_text) {
		value = xstrdup(stdin_text);
	}
	/* --stdin takes standard input up to its end, less a final newline. */
	size_t n = value ? strlen(value) : 0;
	if (n > 0 && value[n - 1] == '\n')
		value[n - 1] = '\0';
	if (value)
		json_object_set_new(ks, name, json_string(value));
	free(value);
}

/* What printf FORMAT ARG or echo ARGS writes, for the statement after a '|'. */
static char *printed(const json_t *words)
{
	const char *w0 = word(words, 0);
	if (!strcmp(w0, "printf") && word(words, 1))
		return xstrdup(!strcmp(word(words, 1), "%s") && word(words, 2) ? word(words, 2)
									       : word(words, 1));
	char *out = xstrdup("");
	for (size_t i = 1; i < json_array_size(words); i++) {
		char *more = xasprintf("%s%s%s", out, i > 1 ? " " : "", word(words, i));
		free(out);
		out = more;
	}
	return out;
}

/* One init container's script: the keystore it makes in its own config
 * folder, and the copies it leaves in volumes (files: "<volume>/<path>"). */
static void run_init(const json_t *pod, const json_t *ct, json_t *files)
{
	json_t *vars = container_env(pod, ct);
	char *text = container_script(ct);
	json_t *stmts = sim_es_sh_statements(text);
	char *cwd = xstrdup(ES_HOME); /* the images' working directory */
	json_t *ks = NULL;
	char *pipe_text = NULL;
	size_t i;
	json_t *raw;
	json_array_foreach (stmts, i, raw) {
		json_t *words = sim_es_sh_words(raw, vars);
		const char *w0 = word(words, 0);
		char *out = NULL;
		if (!w0) {
			json_decref(words);
			continue;
		}
		if (!strcmp(w0, "cd") && word(words, 1)) {
			char *next = absolute(cwd, word(words, 1));
			free(cwd);
			cwd = next;
		} else if (!strcmp(w0, "printf") || !strcmp(w0, "echo")) {
			out = printed(words);
		} else if (is_keystore_tool(w0) && word(words, 1) &&
			   !strcmp(word(words, 1), "create")) {
			json_decref(ks);
			ks = json_pack("{s:s}", "keystore.seed", "simulated-seed");
		} else if (is_keystore_tool(w0) && word(words, 1) &&
			   !strcmp(word(words, 1), "add")) {
			keystore_add(ks, pod, ct, cwd, words, pipe_text);
		} else if (!strcmp(w0, "rm")) {
			for (size_t k = 1; k < json_array_size(words); k++) {
				char *path = word(words, k)[0] == '-'
						     ? NULL
						     : absolute(cwd, word(words, k));
				if (path && !strcmp(path, KEYSTORE_PATH)) {
					json_decref(ks);
					ks = NULL;
				}
				free(path);
			}
		} else if (!strcmp(w0, "cp") && json_array_size(words) >= 3) {
			size_t n = json_array_size(words);
			char *src = absolute(cwd, word(words, n - 2));
			char *dst = absolute(cwd, word(words, n - 1));
			char *rel = NULL;
			const json_t *vol = mount_of(pod, ct, dst, &rel);
			if (ks && !strcmp(src, KEYSTORE_PATH) && vol && json_str(vol, "name")) {
				char *key = xasprintf("%s/%s", json_str(vol, "name"),
						      rel && *rel ? rel : "elasticsearch.keystore");
				json_object_set_new(files, key, json_deep_copy(ks));
				free(key);
			}
			free(rel);
			free(src);
			free(dst);
		}
		free(pipe_text);
		pipe_text = out;
		json_decref(words);
	}
	free(pipe_text);
	json_decref(ks);
	free(cwd);
	json_decref(stmts);
	free(text);
	json_decref(vars);
}

json_t *sim_s3_pod_keystore(const json_t *pod)
{
	const json_t *spec = json_object_get(pod, "spec");
	json_t *files = json_object();
	json_t *found = NULL;
	size_t i, j;
	json_t *ct, *m;
	json_array_foreach (json_object_get(spec, "initContainers"), i, ct)
		run_init(pod, ct, files);
	json_array_foreach (json_object_get(spec, "containers"), i, ct) {
		json_array_foreach (json_object_get(ct, "volumeMounts"), j, m) {
			char *at = json_str(m, "mountPath")
					   ? absolute("/", json_str(m, "mountPath"))
					   : NULL;
			if (at && !strcmp(at, KEYSTORE_PATH) && !found) {
				const char *sub = json_str(m, "subPath");
				char *key = xasprintf("%s/%s", json_str(m, "name"), sub ? sub : "");
				json_t *ks = json_object_get(files, key);
				if (ks)
					found = json_incref(ks);
				free(key);
			}
			free(at);
		}
	}
	json_decref(files);
	return found;
}

/* --- the repository's client and the store ----------------------------------------- */

/* The major of "7.17.10"; 0 when it is not one. */
static long major_of(const char *version)
{
	char *end = NULL;
	long major = version ? strtol(version, &end, 10) : 0;
	return end && end != version && *end == '.' && major > 0 ? major : 0;
}

bool sim_s3_type_exists(const char *version, const json_t *plugins)
{
	if (major_of(version) >= 8)
		return true;
	size_t i;
	json_t *p;
	json_array_foreach (plugins, i, p) {
		if (json_string_value(p) && !strcmp(json_string_value(p), "repository-s3"))
			return true;
	}
	return false;
}

/* "Access Denied (Service: Amazon S3; Status Code: 403; Error Code:
 * AccessDenied; Request ID: ...)". */
static char *s3_error(const char *message, int status, const char *code)
{
	unsigned long long id = (unsigned long long)simconf_rand_below(UINT64_MAX);
	return xasprintf("%s (Service: Amazon S3; Status Code: %d; Error Code: %s; Request ID: "
			 "%016llX)",
			 message, status, code, id);
}

static const char *setting(const json_t *flat, const char *client, const char *name)
{
	char *key = xasprintf("s3.client.%s.%s", client, name);
	const char *v = json_str(flat, key);
	free(key);
	return v;
}

/* Is the client named in the node's settings or keystore? */
static bool client_known(const json_t *file, const json_t *keystore, const char *client)
{
	char *prefix = xasprintf("s3.client.%s.", client);
	size_t n = strlen(prefix);
	bool known = !strcmp(client, "default");
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)file, k, v)
		known = known || !strncmp(k, prefix, n);
	json_object_foreach ((json_t *)keystore, k, v)
		known = known || !strncmp(k, prefix, n);
	free(prefix);
	return known;
}

/* The key as the store's path: no '/' at either end. */
static char *trimmed_path(const char *p)
{
	while (p && *p == '/')
		p++;
	size_t n = p ? strlen(p) : 0;
	while (n > 0 && p[n - 1] == '/')
		n--;
	return xstrndup(p ? p : "", n);
}

char *sim_s3_folder(const json_t *settings, const json_t *file, const json_t *keystore, char **err)
{
	const json_t *store = simconf_get()->object_store;
	const char *bucket = json_str(settings, "bucket");
	const char *client =
		json_str(settings, "client") ? json_str(settings, "client") : "default";
	*err = NULL;
	if (!bucket || !*bucket) {
		*err = xstrdup("No bucket defined for s3 repository");
		return NULL;
	}
	if (!client_known(file, keystore, client)) {
		*err = xasprintf("Unknown s3 client name [%s]. Existing client configs: default",
				 client);
		return NULL;
	}
	/* The endpoint, without a scheme (from 8.x it may carry one). */
	const char *endpoint = setting(file, client, "endpoint");
	if (!endpoint || !*endpoint)
		endpoint = AWS_ENDPOINT;
	if (strstr(endpoint, "://"))
		endpoint = strstr(endpoint, "://") + 3;
	const char *served = store ? json_str(store, "endpoint") : NULL;
	if (!served)
		served = AWS_ENDPOINT;
	size_t host_len = strcspn(endpoint, "/");
	if (!store || strlen(served) != host_len || strncmp(served, endpoint, host_len) != 0) {
		*err = xasprintf("Unable to execute HTTP request: %.*s: Name or service not known",
				 (int)strcspn(endpoint, ":/"), endpoint);
		return NULL;
	}
	const char *access_key = setting(keystore, client, "access_key");
	const char *secret_key = setting(keystore, client, "secret_key");
	if (!access_key || !secret_key) {
		*err = xstrdup("Unable to load AWS credentials from any provider in the chain");
		return NULL;
	}
	const json_t *key = NULL;
	size_t i;
	json_t *k;
	json_array_foreach (json_object_get(store, "keys"), i, k) {
		if (!strcmp(json_str(k, "access_key"), access_key))
			key = k;
	}
	if (!key) {
		*err = s3_error("The AWS Access Key Id you provided does not exist in our records.",
				403, "InvalidAccessKeyId");
		return NULL;
	}
	if (strcmp(json_str(key, "secret_key"), secret_key) != 0) {
		*err = s3_error("The request signature we calculated does not match the signature "
				"you provided. Check your key and signing method.",
				403, "SignatureDoesNotMatch");
		return NULL;
	}
	bool exists = false;
	json_t *b;
	json_array_foreach (json_object_get(store, "buckets"), i, b) {
		exists = exists || !strcmp(json_string_value(b), bucket);
	}
	if (!exists) {
		*err = s3_error("The specified bucket does not exist", 404, "NoSuchBucket");
		return NULL;
	}
	char *base = trimmed_path(json_str(settings, "base_path"));
	char *prefix = trimmed_path(json_str(key, "prefix"));
	size_t n = strlen(prefix);
	bool allowed =
		!strcmp(json_str(key, "bucket"), bucket) &&
		(n == 0 || (!strncmp(base, prefix, n) && (base[n] == '\0' || base[n] == '/')));
	free(prefix);
	if (!allowed) {
		free(base);
		*err = s3_error("Access Denied", 403, "AccessDenied");
		return NULL;
	}
	char *folder = xasprintf("s3://%s/%s", bucket, base);
	free(base);
	return folder;
}
