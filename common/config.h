/*
 * esaasd's configuration: a YAML file, then ESAAS_* environment overrides.
 *
 * Every key has a default, so an empty file is a valid configuration.  Keys
 * are nested one level (section.key); the environment variable of a key is
 * its path upper-cased with '.' turned into '_' and ESAAS_ in front:
 * database.url is ESAAS_DATABASE_URL, listen is ESAAS_LISTEN.
 */
#ifndef ESAAS_CONFIG_H
#define ESAAS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include "common/log.h"

struct config {
	char *listen; /* listen: "127.0.0.1:8080" (host:port) */
	/* metrics.listen: "127.0.0.1:9464", GET /metrics alone, never on listen */
	char *metrics_listen;
	/* tls.cert_file, tls.key_file: PEM files (the certificate, then its
	 * chain; the private key) for HTTPS on listen, read at start and again
	 * on SIGHUP; both NULL: plain HTTP.  Never for metrics.listen. */
	char *tls_cert_file;
	char *tls_key_file;
	/* tls.reload_check_seconds: 60; how often both files are looked at
	 * (stat, through symlinks) and read again when they changed, as a
	 * Secret volume's are renewed in place; 0: only on SIGHUP */
	int tls_reload_check_s;

	/* auth.platform_tenants: "default"; tenants whose admin and oncall act
	 * on every tenant (a comma-separated list) */
	char *auth_platform_tenants;
	int auth_failures_max;	    /* auth.failures_max: 20 refused credentials per address... */
	int auth_failures_window_s; /* auth.failures_window_seconds: 60 ...in this long, then 429 */

	char *database_url;   /* database.url: libpq conninfo or URI */
	int db_pool_size;     /* database.pool_size: 1..64, default 4, the engine's and sweep's */
	int db_api_pool_size; /* database.api_pool_size: 2, the API's own connections */
	int db_startup_timeout_s; /* database.startup_timeout_seconds: 60 */

	int workers;	      /* engine.workers: jobs run at once, 1..10000, default 64 */
	int lease_s;	      /* engine.lease_seconds: 30 */
	int heartbeat_s;      /* engine.heartbeat_seconds: 10, must be < lease */
	int poll_s;	      /* engine.poll_seconds: safety poll, 5 */
	int shutdown_grace_s; /* engine.shutdown_grace_seconds: 20 */
	int deadline_percent; /* engine.deadline_percent: 100; scales every state's deadline */
	int wait_poll_ms;     /* engine.wait_poll_ms: 2000; how often a waiting state looks again */
	int events_retention_days;   /* engine.events_retention_days: 90; 0 keeps them */
	int events_prune_interval_s; /* engine.events_prune_interval_seconds: 3600 */
	int events_prune_batch;	     /* engine.events_prune_batch: 1000 events a statement */
	int detail_max_bytes;	     /* engine.detail_max_bytes: 8192, a stored observation */

	int retry_base_ms;	/* retry.base_ms: 500 */
	int retry_cap_ms;	/* retry.cap_ms: 60000, >= base */
	int retry_max_attempts; /* retry.max_attempts: 5 */

	enum log_level log_level;   /* log.level: debug|info|warn|error */
	enum log_format log_format; /* log.format: text|json */
	char *log_file;		    /* log.file: NULL = stderr */

	int http_max_body_bytes;   /* http.max_body_bytes: 1048576 */
	int http_max_header_bytes; /* http.max_header_bytes: 16384 */
	int http_max_connections;  /* http.max_connections: 1024 open at once, then refused */
	int http_db_queue_limit;   /* http.db_queue_limit: 128 API statements waiting, then 503 */
	int http_timeout_s;	   /* http.request_timeout_seconds: 30 */
	char *http_ui_dir;	   /* http.ui_dir: the job viewer's files, $(pkgdatadir)/ui */

	/* kubernetes.kubeconfig: NULL = $KUBECONFIG, ~/.kube/config, then in-cluster */
	char *kube_kubeconfig;
	char *kube_context;	      /* kubernetes.context: NULL = the current context */
	char *kube_image_registry;    /* kubernetes.image_registry: NULL = each version's default */
	char *kube_plugin_repository; /* kubernetes.plugin_repository: the plugins' HTTP server */
	char *kube_rack_label;	      /* kubernetes.rack_label: the node label of racks */
	/* kubernetes.allowed_images: "version=image, ...", the image each listed
	 * version runs, which is also the only image a spec may name for it;
	 * NULL: every version its default image, and no spec may name one */
	char *kube_allowed_images;
	char *kube_utility_image; /* kubernetes.utility_image: esaas's own init and wipe image */
	bool kube_tune_hosts;	  /* kubernetes.tune_hosts: false; true raises vm.max_map_count
			       * from a privileged init container of the utility image */
	/* Who reaches the clusters' HTTP port besides their own pods, in their
	 * NetworkPolicies (kube/render_netpol.c).  kubernetes.api_server_cidrs:
	 * "CIDR, CIDR", the addresses the API server's service proxy dials pods
	 * from (its nodes'); kubernetes.esaasd_namespace: esaasd's namespace when
	 * it runs in the cluster and calls Elasticsearch directly
	 * (elasticsearch.url).  Both NULL: the HTTP port is open to every
	 * address, and esaasd warns at start. */
	char *kube_api_server_cidrs;
	char *kube_esaasd_namespace;
	bool kube_watch; /* kubernetes.watch: true; waits wake on the namespace's watch
			  * (kube/watch.h), false: they only poll */
	int kube_unschedulable_timeout_s; /* kubernetes.unschedulable_timeout_seconds: how long
					   * a scale waits on a pod the scheduler cannot place */
	int kube_apply_concurrency;	  /* kubernetes.apply_concurrency: 8; objects of one kind
				     * applied at once by one step (states/apply.c) */
	int kube_image_pull_timeout_s;	  /* kubernetes.image_pull_timeout_seconds: how long a
					* wait goes on while the registry refuses a pod's image */

	/* elasticsearch.url: NULL = through the API server's service proxy; else a
	 * template with {namespace} and {service}, e.g. http://{service}.{namespace}.svc:9200 */
	char *es_url_template;
	/* elasticsearch.security: false; true gives every new cluster of 6.8+
	 * (default distribution) users, passwords and TLS (kube/render_security.c),
	 * and needs elasticsearch.url: the service proxy cannot carry the
	 * credentials. */
	bool es_security;
	/* elasticsearch.connect_to: NULL; "HOST:PORT" where direct requests
	 * connect, whatever host elasticsearch.url names (which still names the
	 * server: Host, TLS server name, certificate), as curl --connect-to. */
	char *es_connect_to;

	/* snapshots.nfs_server and snapshots.nfs_path: the NFS export of the
	 * clusters' snapshot repositories (kube/render.h); both NULL: none. */
	char *snapshots_nfs_server;
	char *snapshots_nfs_path;
	/* snapshots.s3_*: an S3 bucket (or an S3-compatible store's, through
	 * s3_endpoint) instead, one prefix per tenant (kube/render.h,
	 * struct render_s3); never with snapshots.nfs_*.  s3_bucket NULL: none. */
	char *snapshots_s3_bucket;
	char *snapshots_s3_endpoint;	    /* snapshots.s3_endpoint: NULL = AWS's own */
	bool snapshots_s3_path_style;	    /* snapshots.s3_path_style_access: false */
	char *snapshots_s3_base_path;	    /* snapshots.s3_base_path: "esaas" */
	char *snapshots_s3_credentials_dir; /* snapshots.s3_credentials_dir: each tenant's keys */
	/* snapshots.schedule_interval_seconds: 60, how often the clusters'
	 * snapshot schedules are looked at (engine/prune.c). */
	int snapshots_schedule_interval_s;

	/* The health sweep of every ready cluster (monitor/sweep.h). */
	bool monitor_enabled;	    /* monitor.enabled: true */
	int monitor_interval_s;	    /* monitor.interval_seconds: 10, each cluster read once per */
	int monitor_jitter_percent; /* monitor.jitter_percent: 10, the interval give or take */
	int monitor_concurrency;    /* monitor.concurrency: 64 reads at once */
	int monitor_timeout_ms;	    /* monitor.timeout_ms: 5000 per request */
	int monitor_lease_s;	    /* monitor.lease_seconds: 30, a replica's hold on its share */

	/* Webhooks (common/webhook.h): off while webhook.url is unset. */
	char *webhook_url;	     /* webhook.url: NULL = no webhooks */
	char *webhook_bearer_token;  /* webhook.bearer_token: NULL = no Authorization header */
	char *webhook_esaasd_url;    /* webhook.esaasd_url: esaasd's address, for links to jobs */
	bool webhook_job_failed;     /* webhook.job_failed: true, post when a job fails */
	bool webhook_health_changed; /* webhook.cluster_health_changed: true, post on a change */
	int webhook_timeout_ms;	     /* webhook.timeout_ms: 5000 per attempt */
	int webhook_max_attempts;    /* webhook.max_attempts: 5, the first included */
	int webhook_backoff_base_ms; /* webhook.backoff_base_ms: 1000 */
	int webhook_backoff_cap_ms;  /* webhook.backoff_cap_ms: 60000, >= base */
	int webhook_queue_limit; /* webhook.queue_limit: 1000 events waiting, then the oldest go */
	int webhook_max_body_bytes; /* webhook.max_body_bytes: 65536; longer texts are cut */

	/* OpenID Connect bearer tokens (common/jwt.h): accepted once issuer,
	 * audience and jwks_url are all set; esaas's own tokens always are. */
	char *oidc_issuer;	 /* oidc.issuer: "iss" must equal it */
	char *oidc_audience;	 /* oidc.audience: "aud" must hold it */
	char *oidc_jwks_url;	 /* oidc.jwks_url: where the provider's keys are */
	char *oidc_tenant_claim; /* oidc.tenant_claim: "esaas_tenant" */
	char *oidc_role_claim;	 /* oidc.role_claim: "esaas_role" */
	int oidc_leeway_s;	 /* oidc.leeway_seconds: 60, clock skew on exp and nbf */
	int oidc_refresh_min_s; /* oidc.refresh_min_seconds: 60, between fetches for unknown kids */
	int oidc_refresh_s;	/* oidc.refresh_seconds: 3600, the keys fetched again anyway */
	bool oidc_allow_insecure_jwks; /* oidc.allow_insecure_jwks: false, jwks_url is https */
	char *oidc_role_map;  /* oidc.role_map: "group=role, ..."; NULL: the claim names the role */
	char *oidc_client_id; /* oidc.client_id: the portal's client at the provider; NULL: none */
};

/* Fill cfg with the defaults (all strings allocated). */
void config_defaults(struct config *cfg);

/*
 * Load path (NULL: defaults only), then apply ESAAS_* variables from envp
 * (NULL: the process environment).  On error returns false and writes into
 * err one line "FILE:LINE:COLUMN: key: what is wrong" (for environment
 * variables "ESAAS_X: what is wrong"); cfg then holds defaults and must
 * still be freed with config_free().
 */
bool config_load(struct config *cfg, const char *path, char *const *envp, char *err,
		 size_t errlen) MUST_CHECK;

void config_free(struct config *cfg);

/*
 * auth.platform_tenants: "a, b", tenants' names separated by commas.  false
 * with err saying what is wrong when one is not a tenant's name.
 */
bool config_tenant_list_valid(const char *list, char *err, size_t errlen) MUST_CHECK;
bool config_tenant_in_list(const char *list, const char *tenant);
/*
 * oidc.role_map: "group=role, group=role", a value of the role claim and
 * the role (viewer, member, oncall, admin) it grants.  Lookup gives the
 * role (enum token_role) of value, or -1 when the map does not name it.
 */
bool config_role_map_valid(const char *map, char *err, size_t errlen) MUST_CHECK;
int config_role_map_lookup(const char *map, const char *value);

/*
 * The S3 key pair of tenant, from snapshots.s3_credentials_dir: the files
 * <tenant>.access_key and <tenant>.secret_key, each one line (a final
 * newline is dropped), as one Secret mounted there holds them.  Both are
 * the caller's.  false when the tenant has none (both files missing: why
 * says so) or they are unreadable or malformed (why names the file).
 */
/*
 * snapshots.s3_endpoint "http://minio:9000": the host and port (a pointer
 * into url) and *protocol "http" or "https"; NULL when url is not one.
 */
const char *config_s3_endpoint_host(const char *url, const char **protocol);

bool config_s3_keys(const struct config *cfg, const char *tenant, char **access_key,
		    char **secret_key, char *why, size_t whylen) MUST_CHECK;

#endif
