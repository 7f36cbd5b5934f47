/*
 * Snapshot repositories on object storage: the s3 repository type
 * (https://www.elastic.co/guide/en/elasticsearch/reference/8.17/repository-s3.html,
 * and the repository-s3 plugin's pages before 8.0) through one named
 * client, RENDER_S3_CLIENT:
 *
 * - its endpoint, protocol and path-style access are node settings,
 *   s3.client.<name>.*, in elasticsearch.yml;
 * - its keys, s3.client.<name>.access_key and secret_key, are secure
 *   settings, read from the Elasticsearch keystore only
 *   (config/elasticsearch.keystore).  An init container of the node's own
 *   image makes that keystore at every start with bin/elasticsearch-keystore
 *   (create, then add --stdin, as ECK's keystore init container does) from
 *   the cluster's Secret RENDER_S3_SECRET, and leaves it in an emptyDir that
 *   the node mounts as that one file;
 * - the repository (states/snapshot.c) names the bucket, the cluster's
 *   prefix and the client.
 *
 * The keys are the tenant's own, never one pair for every tenant: the
 * tenant is the elastic superuser of its cluster, so it may register a
 * repository of its own with any bucket and prefix through that client,
 * and only the storage's policy on its key keeps it in its prefix.
 */
#include "kube/render_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/util.h"

#define S3_KEYS_DIR ES_HOME "/esaas-s3-keys"
#define KEYSTORE_DIR ES_HOME "/esaas-keystore"
#define KEYSTORE_FILE "elasticsearch.keystore"

bool render_s3_supported(const struct es_version *v)
{
	return es_version_at_least(v, 7, 3, 0);
}

char *render_s3_base_path(const struct render_s3 *s3, const char *tenant, const char *ns)
{
	return xasprintf("%s/%s/%s", s3->base_path && s3->base_path[0] ? s3->base_path : "esaas",
			 tenant, ns);
}

json_t *render_s3_repository(const struct render_s3 *s3, const char *tenant, const char *ns,
			     bool readonly)
{
	char *base = render_s3_base_path(s3, tenant, ns);
	json_t *settings = json_pack("{s:s, s:s, s:s}", "bucket", s3->bucket, "base_path", base,
				     "client", RENDER_S3_CLIENT);

	if (readonly)
		json_object_set_new(settings, "readonly", json_true());
	free(base);
	return json_pack("{s:s, s:o}", "type", "s3", "settings", settings);
}

bool render_s3_on(const struct ctx *c)
{
	const struct render_s3 *s3 = c->opts->s3;

	return s3 && s3->bucket && s3->bucket[0] && s3->access_key && s3->secret_key &&
	       render_s3_supported(&c->spec->version);
}

const char *render_s3_plugin(const struct ctx *c)
{
	if (!render_s3_on(c) || es_version_at_least(&c->spec->version, 8, 0, 0))
		return NULL;
	return "repository-s3";
}

void render_s3_settings(const struct ctx *c, json_t *s)
{
	const struct render_s3 *s3 = c->opts->s3;

	if (!render_s3_on(c))
		return;
	if (s3->endpoint)
		json_object_set_new(s, "s3.client." RENDER_S3_CLIENT ".endpoint",
				    json_string(s3->endpoint));
	if (s3->protocol)
		json_object_set_new(s, "s3.client." RENDER_S3_CLIENT ".protocol",
				    json_string(s3->protocol));
	if (s3->path_style_access)
		json_object_set_new(s, "s3.client." RENDER_S3_CLIENT ".path_style_access",
				    json_true());
}

static void put(json_t *data, const char *key, const char *value)
{
	char *b64 = base64_encode(value, strlen(value));

	json_object_set_new(data, key, json_string(b64));
	free(b64);
}

json_t *render_s3_secret(const struct ctx *c)
{
	json_t *data = json_object();
	json_t *secret = render_object("v1", "Secret", render_metadata(c, RENDER_S3_SECRET, -1));

	put(data, "access_key", c->opts->s3->access_key);
	put(data, "secret_key", c->opts->s3->secret_key);
	json_object_set_new(secret, "type", json_string("Opaque"));
	json_object_set_new(secret, "data", data);
	return secret;
}

/*
 * The keystore, made anew at every start in the init container's own
 * config folder, then copied where the node reads it.  With security on,
 * bootstrap.password goes in too: the images' entrypoint adds
 * ELASTIC_PASSWORD to the keystore when it is not listed there, which it
 * could not write through a one-file mount (it replaces the file by a
 * rename).
 */
static char *keystore_script(bool bootstrap_password)
{
	return xasprintf("set -eu\n"
			 "cd " ES_HOME "\n"
			 "rm -f config/" KEYSTORE_FILE "\n"
			 "bin/elasticsearch-keystore create\n"
			 "bin/elasticsearch-keystore add --stdin s3.client." RENDER_S3_CLIENT
			 ".access_key < " S3_KEYS_DIR "/access_key\n"
			 "bin/elasticsearch-keystore add --stdin s3.client." RENDER_S3_CLIENT
			 ".secret_key < " S3_KEYS_DIR "/secret_key\n"
			 "%s"
			 "cp config/" KEYSTORE_FILE " " KEYSTORE_DIR "/" KEYSTORE_FILE "\n",
			 bootstrap_password
				 ? "printf '%s' \"$ELASTIC_PASSWORD\" | bin/elasticsearch-keystore "
				   "add --stdin bootstrap.password\n"
				 : "");
}

void render_s3_es_pod(const struct ctx *c, enum es_role role, json_t *inits, json_t *container,
		      json_t *volumes)
{
	if (!render_s3_on(c))
		return;
	bool security = render_security_on(c);
	char *script = keystore_script(security);
	json_t *init = json_pack(
		"{s:s, s:s, s:[s, s, s], s:o, s:o, s:[{s:s, s:s, s:b}, {s:s, s:s}]}", "name",
		"keystore", "image", c->image, "command", "sh", "-c", script, "resources",
		render_node_resources(c, role), "securityContext", render_es_image_context(c),
		"volumeMounts", "name", "s3-keys", "mountPath", S3_KEYS_DIR, "readOnly", 1, "name",
		"keystore", "mountPath", KEYSTORE_DIR);

	free(script);
	if (security) {
		json_t *env = json_object_get(container, "env");
		size_t i;
		json_t *e;

		json_array_foreach (env, i, e) {
			const char *name = json_string_value(json_object_get(e, "name"));
			if (name && !strcmp(name, "ELASTIC_PASSWORD"))
				json_object_set_new(init, "env", json_pack("[O]", e));
		}
	}
	json_array_append_new(inits, init);
	json_array_append_new(json_object_get(container, "volumeMounts"),
			      json_pack("{s:s, s:s, s:s, s:b}", "name", "keystore", "mountPath",
					ES_HOME "/config/" KEYSTORE_FILE, "subPath", KEYSTORE_FILE,
					"readOnly", 1));
	json_array_append_new(volumes, json_pack("{s:s, s:{s:s}}", "name", "s3-keys", "secret",
						 "secretName", RENDER_S3_SECRET));
	json_array_append_new(volumes, json_pack("{s:s, s:{}}", "name", "keystore", "emptyDir"));
}
