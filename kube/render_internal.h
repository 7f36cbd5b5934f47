/*
 * What the files of kube/render*.c share, and nothing else includes: the
 * rendering context, the fixed pods' resources, the pieces of every object,
 * the quota and the YAML writer.  The public contract is kube/render.h.
 */
#ifndef ESAAS_KUBE_RENDER_INTERNAL_H
#define ESAAS_KUBE_RENDER_INTERNAL_H

#include "kube/render.h"

#include <stdbool.h>
#include <jansson.h>

/* What one pod's containers ask for, as the manifests write it. */
struct pod_resources {
	const char *cpu_request;
	const char *cpu_limit;
	const char *memory_request;
	const char *memory_limit;
};

extern const struct pod_resources render_kibana_resources;
extern const struct pod_resources render_wipe_resources;

struct ctx {
	const struct spec *spec;
	const struct render_opts *opts;
	char version[ES_VERSION_BUFSIZE];
	char *ns;
	char *headless;
	char *image;
	const char *utility_image;
	const char *rack_label;
	const char *storage_root;
};

json_t *render_metadata(const struct ctx *c, const char *name, int role);
json_t *render_object(const char *api_version, const char *kind, json_t *meta);

/* render_security.c: what security adds to the objects, when it is on
 * (c->opts->security for a version it applies to). */
bool render_security_on(const struct ctx *c);
void render_security_settings(const struct ctx *c, json_t *settings);
json_t *render_security_secret(const struct ctx *c);
void render_security_es_pod(const struct ctx *c, json_t *container, json_t *volumes);
void render_security_kibana_pod(const struct ctx *c, json_t *container, json_t *volumes);
/* The URL Kibana reaches Elasticsearch at: https with security. */
char *render_security_es_url(const struct ctx *c);

/* render.c, for the other files' containers */
json_t *render_es_image_context(const struct ctx *c);
json_t *render_node_resources(const struct ctx *c, enum es_role role);

/* render_s3.c: the keystore of the tenant's S3 keys, when object storage
 * is configured for a version that has it and the tenant has keys. */
bool render_s3_on(const struct ctx *c);
void render_s3_settings(const struct ctx *c, json_t *settings);
json_t *render_s3_secret(const struct ctx *c);
void render_s3_es_pod(const struct ctx *c, enum es_role role, json_t *init_containers,
		      json_t *container, json_t *volumes);
/* "repository-s3" when the version needs it as a plugin, else NULL. */
const char *render_s3_plugin(const struct ctx *c);

/* render_quota.c */
json_t *render_quota_object(const struct ctx *c, int wipe_pods);

/* render_netpol.c: the NetworkPolicies, appended to list */
void render_network_policies(const struct ctx *c, json_t *list);

/* render_yaml.c */
bool render_yaml_text(json_t *doc, bool stream, char **out);

#endif
