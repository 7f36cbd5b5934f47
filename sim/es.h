/*
 * The Elasticsearch clusters: one per namespace, made of the namespace's
 * running Elasticsearch pods, reached through the API server's service
 * proxy.  Shards are allocated over the data nodes and move in time.
 */
#ifndef SIM_ES_H
#define SIM_ES_H

#include <stdbool.h>
#include <jansson.h>

struct event_base;
struct call;
struct store_obj;

void sim_es_init(struct event_base *base);
void sim_es_free(void);
/* Move the clusters on: membership from pods, allocation, waits. */
void sim_es_tick(void);
/* Answer an Elasticsearch request that arrived through the proxy of the
 * Service svc in ns, on the node that runs in pod (the chosen endpoint).
 * path starts with '/'. */
void sim_es_proxy(struct call *c, const char *ns, const char *pod, const char *path, bool https);
/* Answer a request made straight to the HTTP port of pod's node in ns
 * (not through the API server, so with its Authorization header,
 * authorization, which may be NULL).  path starts with '/'. */
void sim_es_direct(struct call *c, const char *ns, const char *pod, const char *path,
		   const char *authorization);
/* The certificate and key (PEM) the HTTP layer of the namespace's nodes
 * presents (xpack.security.http.ssl.*, from the Secret mounted where its
 * elasticsearch.yml says): false when no node has TLS on HTTP.  The caller
 * frees both. */
bool sim_es_http_tls(const char *ns, char **cert_pem, char **key_pem);
/* Does the namespace's Elasticsearch answer (a master elected)?  Kibana
 * becomes ready only then. */
bool sim_es_available(const char *ns);
/* The status a GET of path on the pod's node answers with (0: HTTP not
 * open), for an httpGet probe. */
int sim_es_probe_status(const struct store_obj *pod, const char *path);
/* Why the Elasticsearch node of pod (major version major) exits at start
 * on its elasticsearch.yml (the ConfigMap it mounts), or NULL; the caller
 * frees the message. */
char *sim_es_config_refused(const json_t *pod, int major);
/*
 * The init container that installs plugins (`bin/elasticsearch-plugin
 * install`, its archives fetched from their URLs) for pod on host: started
 * at the first call, RUNNING while it downloads, then DONE (the plugins
 * folder holds what it installed; also when no init container installs
 * any) or FAILED once, with the container's name, what the command printed
 * and its exit code (the caller frees both strings).  The next call after a
 * FAILED starts it again.
 */
enum sim_init {
	SIM_INIT_RUNNING,
	SIM_INIT_DONE,
	SIM_INIT_FAILED
};
enum sim_init sim_es_plugin_installs(const json_t *pod, const char *host, char **container,
				     char **message, int *exit_code);
/* The init containers' scripts as the plugin installs read them: a
 * script's statements, each an array of raw words (split at newlines, ';',
 * '&&', '||' and '|'), and a statement's words expanded with vars ({"NAME":
 * "value"}), quotes removed.  New references. */
json_t *sim_es_sh_statements(const char *text);
json_t *sim_es_sh_words(const json_t *raw, const json_t *vars);
/* {"<namespace>": {"status": ..., nodes, shards...}}: new reference. */
json_t *sim_es_state(void);
/* What deleting pod costs its cluster now, for GET /_sim/state's
 * pod_deletions: {"initializing": n, "relocating": n, "sole_primaries":
 * ["index/shard", ...]} (primaries on the pod's node with no other started
 * copy), or NULL when the pod is no node of a cluster.  New reference. */
json_t *sim_es_pod_cost(const char *ns, const char *pod);

#endif
