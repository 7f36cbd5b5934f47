/*
 * The Elasticsearch REST client.  It reaches a cluster through the
 * Kubernetes API server's service proxy
 * (/api/v1/namespaces/{ns}/services/{svc}:9200/proxy/...) by default, or
 * directly by URL.  Every call is asynchronous and ends in one callback;
 * what differs between versions comes from es/version.h.
 */
#ifndef ESAAS_ES_CLIENT_H
#define ESAAS_ES_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "common/httpc.h"
#include "es/version.h"

struct kube;
struct es;
struct es_call;

struct es_result {
	long status;
	enum httpc_class klass;
	json_t *body;	     /* the parsed answer, or NULL; borrowed */
	const char *message; /* on failure: Elasticsearch's error.reason or the transport error */
	int64_t retry_after_ms;
};

typedef void (*es_done_cb)(void *arg, const struct es_result *r);

/* Through the service proxy of k (which must outlive the client). */
struct es *es_new_proxy(struct kube *k, const char *ns, const char *service);
/* Directly, e.g. "http://10.0.0.5:9200", with a bearer token or NULL; h
 * must outlive the client. */
struct es *es_new_direct(struct httpc *h, const char *base_url, const char *bearer_token);
/* A direct client over https trusts only these PEM certificates (copied),
 * instead of the system's. */
void es_direct_trust(struct es *es, const char *ca_pem);
/* A secured cluster's user, password and CA (PEM): each request then
 * carries the user's basic credentials, and the cluster's certificate must
 * chain to the CA.  Direct mode only: the API server's service proxy
 * removes the Authorization header (config: elasticsearch.security needs
 * elasticsearch.url).  NULL: none. */
struct es_credentials {
	const char *user;
	const char *password;
	const char *ca_pem;
};
void es_use_credentials(struct es *es, const struct es_credentials *cred);
/*
 * esaas's own user of a secured cluster (a superuser of the native realm,
 * made once the cluster has formed, states/security.c): its password is
 * the security record's "esaas", and "esaas_user": true says the user
 * exists.  The tenant keeps the built-in elastic.
 */
#define ES_ESAAS_USER "esaas"
/* The credentials esaasd calls a cluster with, from its security record
 * (clusters.es_security): esaas's own user once it exists, elastic before
 * (the create's first waits, clusters secured before esaas had a user of
 * its own).  False without a usable record. */
bool es_security_credentials(const json_t *sec, struct es_credentials *cred);
/* Direct mode: connect to HOST:PORT whatever the URL names (the URL still
 * names the server for Host and the certificate's check);
 * elasticsearch.connect_to.  NULL: the URL's. */
void es_direct_connect_to(struct es *es, const char *host_port);
/*
 * The client for the cluster in namespace ns: through the service proxy of
 * k when url_template is NULL (the default), else directly at the URL the
 * template gives, with "{namespace}" and "{service}" replaced, e.g.
 * "http://{service}.{namespace}.svc:9200" for an esaasd inside the fleet.
 */
struct es *es_new_for_cluster(struct kube *k, struct httpc *h, const char *url_template,
			      const char *ns, const char *service);
/* The template with its placeholders replaced (the caller frees it). */
char *es_expand_url(const char *url_template, const char *ns, const char *service);
void es_free(struct es *es);
/* The version, once es_info has answered (or es_set_version said it). */
const struct es_version *es_known_version(const struct es *es);
void es_set_version(struct es *es, const struct es_version *v);

/*
 * The most a reply to path may hold, and what the cap is for (a static
 * string): 64 KiB for a health, 256 KiB for an allocation explanation,
 * 4 MiB for _cat listings and nodes, 1 MiB for the rest.  A bigger reply
 * fails the call, permanently, with an error naming the cap.
 */
const char *es_response_cap(const char *path, size_t *bytes);

/* path includes the query, e.g. "/_cat/nodes?format=json"; body may be NULL. */
struct es_call *es_request(struct es *es, const char *method, const char *path, json_t *body,
			   es_done_cb cb, void *arg);
void es_cancel(struct es_call *call);

/* GET /: also records the version for the calls below. */
struct es_call *es_info(struct es *es, es_done_cb cb, void *arg);
/* wait_for_status may be NULL; timeout like "30s" (NULL: none). */
struct es_call *es_health(struct es *es, const char *wait_for_status, const char *timeout,
			  bool wait_for_events, es_done_cb cb, void *arg);
/*
 * _cluster/health that Elasticsearch answers once all of w holds, or at
 * w->timeout with 408 and the health as it is then.  The waits for no
 * relocating and no initializing shards are asked only of the versions
 * that have them (es/version.h); the caller checks the answer anyway.
 */
struct es_health_wait {
	const char *status;   /* wait_for_status, or NULL */
	bool no_relocating;   /* wait_for_no_relocating_shards */
	bool no_initializing; /* wait_for_no_initializing_shards */
	const char *timeout;  /* "10s"; keep it shorter than the client's 30 s */
};
struct es_call *es_health_wait(struct es *es, const struct es_health_wait *w, es_done_cb cb,
			       void *arg);
struct es_call *es_get_settings(struct es *es, es_done_cb cb, void *arg);
/* settings: flat {"key": value|null}, written in the version's scope. */
struct es_call *es_put_settings(struct es *es, json_t *settings, es_done_cb cb, void *arg);
/* The flush before a restart: synced where the version has it (409 counts as done). */
struct es_call *es_flush(struct es *es, es_done_cb cb, void *arg);
struct es_call *es_cat_nodes(struct es *es, es_done_cb cb, void *arg);
struct es_call *es_cat_shards(struct es *es, es_done_cb cb, void *arg);
struct es_call *es_cat_plugins(struct es *es, es_done_cb cb, void *arg);
struct es_call *es_nodes_info(struct es *es, es_done_cb cb, void *arg);
/* NULL and no callback on versions without voting exclusions (zen1). */
struct es_call *es_voting_exclude(struct es *es, const char *const *names, size_t n, es_done_cb cb,
				  void *arg);
struct es_call *es_voting_clear(struct es *es, es_done_cb cb, void *arg);
/* type: "restart" or "remove"; NULL and no callback where the API does not exist. */
struct es_call *es_shutdown_put(struct es *es, const char *node_id, const char *type,
				const char *reason, es_done_cb cb, void *arg);
struct es_call *es_shutdown_delete(struct es *es, const char *node_id, es_done_cb cb, void *arg);

/*
 * How many copies of a shard the data nodes must hold: _cat/indices rows
 * (GET ES_SHARD_COPIES_PATH) give each index's replicas; the worst index
 * needs replicas + 1 data nodes to place every copy.  Hidden indices are
 * not listed by default: those that Elasticsearch manages expand and
 * shrink their replicas with the nodes (index.auto_expand_replicas).
 */
#define ES_SHARD_COPIES_PATH "/_cat/indices?format=json&h=index,rep"
struct es_shard_copies {
	char index[256]; /* the index that needs the most, "" if none */
	int copies;	 /* its replicas + 1; 0 without indices */
};
void es_shard_copies_worst(json_t *rows, struct es_shard_copies *out);

#endif
