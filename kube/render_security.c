/*
 * Elasticsearch security per cluster, for the versions whose free licence
 * has it (6.8+ and 7.1+ on the basic licence, 8.x; the -oss images and
 * 2.x-6.7 have none):
 *
 * - the built-in users authenticate every REST request; the elastic
 *   user's password is the bootstrap password, given as ELASTIC_PASSWORD
 *   from the cluster's Secret ("the bootstrap password ... is used as the
 *   elastic user's password until it is changed",
 *   https://www.elastic.co/guide/en/elasticsearch/reference/7.17/built-in-users.html);
 * - TLS on the transport layer, which the TLS bootstrap check requires of
 *   a node with security on that binds beyond loopback
 *   (https://www.elastic.co/guide/en/elasticsearch/reference/7.17/bootstrap-checks-xpack.html),
 *   with verification_mode certificate: every node presents the one
 *   certificate of the cluster's CA, whose names are the namespace's;
 * - TLS on HTTP with the same certificate, which esaas checks against the
 *   cluster's CA (https://www.elastic.co/guide/en/elasticsearch/reference/7.17/security-basic-setup-https.html).
 *
 * The certificate, its key and the CA are PEM files in config/certs, from
 * the Secret RENDER_SECURITY_SECRET, which also holds the passwords
 * (elastic's, the tenant's; kibana_system's; esaas's own user's).
 */
#include "kube/render_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/util.h"
#include "es/client.h"

#define CERTS_DIR "certs" /* under the node's config folder */
#define KIBANA_CERTS "/usr/share/kibana/config/certs"

bool render_security_applies(const struct es_version *v, const char *image)
{
	return es_version_at_least(v, 6, 8, 0) && es_image_has_xpack(v, image);
}

bool render_security_on(const struct ctx *c)
{
	return c->opts->security && render_security_applies(&c->spec->version, c->image);
}

void render_security_settings(const struct ctx *c, json_t *s)
{
	static const char *const layers[] = {"transport", "http"};

	if (!render_security_on(c)) {
		/* On purpose: without a cluster's security esaas reaches it in
		 * plain HTTP through the API server's service proxy. */
		if (es_security_on_by_default(&c->spec->version))
			json_object_set_new(s, "xpack.security.enabled", json_false());
		return;
	}
	json_object_set_new(s, "xpack.security.enabled", json_true());
	for (size_t i = 0; i < ARRAY_SIZE(layers); i++) {
		char key[128];

		snprintf(key, sizeof(key), "xpack.security.%s.ssl.enabled", layers[i]);
		json_object_set_new(s, key, json_true());
		snprintf(key, sizeof(key), "xpack.security.%s.ssl.key", layers[i]);
		json_object_set_new(s, key, json_string(CERTS_DIR "/tls.key"));
		snprintf(key, sizeof(key), "xpack.security.%s.ssl.certificate", layers[i]);
		json_object_set_new(s, key, json_string(CERTS_DIR "/tls.crt"));
		snprintf(key, sizeof(key), "xpack.security.%s.ssl.certificate_authorities",
			 layers[i]);
		json_object_set_new(s, key, json_pack("[s]", CERTS_DIR "/ca.crt"));
	}
	json_object_set_new(s, "xpack.security.transport.ssl.verification_mode",
			    json_string("certificate"));
}

static void put(json_t *data, const char *key, const char *value)
{
	char *b64 = base64_encode(value, strlen(value));

	json_object_set_new(data, key, json_string(b64));
	free(b64);
}

json_t *render_security_secret(const struct ctx *c)
{
	const struct render_security *sec = c->opts->security;
	json_t *data = json_object();
	json_t *secret =
		render_object("v1", "Secret", render_metadata(c, RENDER_SECURITY_SECRET, -1));

	put(data, "ca.crt", sec->ca_crt);
	put(data, "tls.crt", sec->tls_crt);
	put(data, "tls.key", sec->tls_key);
	put(data, "elastic", sec->elastic_password);
	put(data, "kibana_system", sec->kibana_password);
	if (sec->esaas_password)
		put(data, ES_ESAAS_USER, sec->esaas_password);
	json_object_set_new(secret, "type", json_string("Opaque"));
	json_object_set_new(secret, "data", data);
	return secret;
}

static json_t *secret_env(const char *name, const char *key)
{
	return json_pack("{s:s, s:{s:{s:s, s:s}}}", "name", name, "valueFrom", "secretKeyRef",
			 "name", RENDER_SECURITY_SECRET, "key", key);
}

/* The Secret's files a pod needs: the certificate and its key for a
 * node, the CA alone for Kibana. */
static json_t *certs_volume(bool node)
{
	json_t *items = json_pack("[{s:s, s:s}]", "key", "ca.crt", "path", "ca.crt");

	if (node) {
		json_array_append_new(items,
				      json_pack("{s:s, s:s}", "key", "tls.crt", "path", "tls.crt"));
		json_array_append_new(items,
				      json_pack("{s:s, s:s}", "key", "tls.key", "path", "tls.key"));
	}
	return json_pack("{s:s, s:{s:s, s:o}}", "name", "certs", "secret", "secretName",
			 RENDER_SECURITY_SECRET, "items", items);
}

void render_security_es_pod(const struct ctx *c, json_t *container, json_t *volumes)
{
	if (!render_security_on(c))
		return;
	json_array_append_new(json_object_get(container, "env"),
			      secret_env("ELASTIC_PASSWORD", "elastic"));
	json_array_append_new(json_object_get(container, "volumeMounts"),
			      json_pack("{s:s, s:s, s:b}", "name", "certs", "mountPath",
					ES_HOME "/config/" CERTS_DIR, "readOnly", 1));
	json_array_append_new(volumes, certs_volume(true));
}

char *render_security_es_url(const struct ctx *c)
{
	return xasprintf("%s://%s:%d", render_security_on(c) ? "https" : "http",
			 RENDER_HTTP_SERVICE, RENDER_HTTP_PORT);
}

/*
 * Kibana signs in as its built-in user, kibana_system from 7.8 (kibana
 * before; https://www.elastic.co/guide/en/elasticsearch/reference/7.17/built-in-users.html),
 * and trusts the cluster's CA; the Docker image takes its settings as
 * these variables (https://www.elastic.co/guide/en/kibana/7.17/docker.html).
 */
void render_security_kibana_pod(const struct ctx *c, json_t *container, json_t *volumes)
{
	if (!render_security_on(c))
		return;
	json_t *env = json_object_get(container, "env");
	bool system = es_version_at_least(&c->spec->version, 7, 8, 0);

	json_array_append_new(env, json_pack("{s:s, s:s}", "name", "ELASTICSEARCH_USERNAME",
					     "value", system ? "kibana_system" : "kibana"));
	json_array_append_new(env, secret_env("ELASTICSEARCH_PASSWORD", "kibana_system"));
	json_array_append_new(env, json_pack("{s:s, s:s}", "name",
					     "ELASTICSEARCH_SSL_CERTIFICATEAUTHORITIES", "value",
					     KIBANA_CERTS "/ca.crt"));
	json_object_set_new(container, "volumeMounts",
			    json_pack("[{s:s, s:s, s:b}]", "name", "certs", "mountPath",
				      KIBANA_CERTS, "readOnly", 1));
	json_array_append_new(volumes, certs_volume(false));
}
