/*
 * config_load(): defaults, a full file, environment overrides, and the exact
 * line of every kind of error, position included.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "kube/spec.h"
#include "common/token.h"
#include "common/util.h"

/* An environment with nothing in it, so the caller's ESAAS_* cannot leak in. */
static char *const no_env[] = {NULL};

/* A YAML file in /tmp holding text; the caller unlinks it. */
static void write_temp(const char *text, char *path, size_t size)
{
	str_copy_trunc(path, "/tmp/esaas-config-test-XXXXXX", size);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	size_t len = strlen(text);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* The defaults as config.h documents them, written out independently of config.c. */
static void assert_defaults(const struct config *c)
{
	assert_string_equal(c->listen, "127.0.0.1:8080");
	assert_string_equal(c->database_url, "dbname=esaas");
	assert_int_equal(c->db_pool_size, 4);
	assert_int_equal(c->db_startup_timeout_s, 60);
	assert_int_equal(c->workers, 64);
	assert_int_equal(c->lease_s, 30);
	assert_int_equal(c->heartbeat_s, 10);
	assert_int_equal(c->poll_s, 5);
	assert_int_equal(c->shutdown_grace_s, 20);
	assert_int_equal(c->retry_base_ms, 500);
	assert_int_equal(c->retry_cap_ms, 60000);
	assert_int_equal(c->kube_apply_concurrency, 8);
	assert_int_equal(c->retry_max_attempts, 5);
	assert_int_equal(c->log_level, LOG_INFO);
	assert_int_equal(c->log_format, LOG_FORMAT_TEXT);
	assert_null(c->log_file);
	assert_int_equal(c->http_max_body_bytes, 1048576);
	assert_int_equal(c->http_max_header_bytes, 16384);
	assert_int_equal(c->http_timeout_s, 30);
	assert_null(c->kube_kubeconfig);
	assert_null(c->kube_context);
	assert_null(c->kube_image_registry);
	assert_string_equal(c->kube_plugin_repository,
			    "http://esaas-plugins.esaas-system.svc:8080");
	assert_string_equal(c->kube_rack_label, "topology.esaas.io/rack");
	assert_null(c->kube_allowed_images);
	assert_null(c->kube_api_server_cidrs);
	assert_null(c->kube_esaasd_namespace);
	assert_string_equal(c->kube_utility_image, "busybox:1.36.1");
	assert_false(c->kube_tune_hosts);
	assert_null(c->es_url_template);
	assert_null(c->webhook_url);
	assert_null(c->webhook_bearer_token);
	assert_null(c->webhook_esaasd_url);
	assert_true(c->webhook_job_failed);
	assert_true(c->webhook_health_changed);
	assert_int_equal(c->webhook_timeout_ms, 5000);
	assert_int_equal(c->webhook_max_attempts, 5);
	assert_int_equal(c->webhook_backoff_base_ms, 1000);
	assert_int_equal(c->webhook_backoff_cap_ms, 60000);
	assert_int_equal(c->webhook_queue_limit, 1000);
	assert_null(c->oidc_issuer);
	assert_null(c->oidc_audience);
	assert_null(c->oidc_jwks_url);
	assert_string_equal(c->oidc_tenant_claim, "esaas_tenant");
	assert_string_equal(c->oidc_role_claim, "esaas_role");
	assert_int_equal(c->oidc_leeway_s, 60);
	assert_int_equal(c->oidc_refresh_min_s, 60);
	assert_int_equal(c->oidc_refresh_s, 3600);
	assert_false(c->oidc_allow_insecure_jwks);
	assert_null(c->oidc_role_map);
	assert_string_equal(c->metrics_listen, "127.0.0.1:9464");
	assert_string_equal(c->auth_platform_tenants, "default");
	assert_int_equal(c->auth_failures_max, 20);
	assert_int_equal(c->auth_failures_window_s, 60);
	assert_int_equal(c->tls_reload_check_s, 60);
	assert_int_equal(c->http_max_connections, 1024);
	assert_int_equal(c->http_db_queue_limit, 128);
	assert_null(c->snapshots_s3_bucket);
	assert_null(c->snapshots_s3_endpoint);
	assert_false(c->snapshots_s3_path_style);
	assert_string_equal(c->snapshots_s3_base_path, "esaas");
	assert_null(c->snapshots_s3_credentials_dir);
}

/* Load text as a file with env as the environment; returns config_load's answer. */
static bool load_text(const char *text, char *const *env, struct config *c, char *path,
		      size_t pathlen, char *err, size_t errlen)
{
	write_temp(text, path, pathlen);
	bool ok = config_load(c, path, env, err, errlen);
	unlink(path);
	return ok;
}

/* The lists of auth.platform_tenants and oidc.role_map, as the API reads them. */
static void test_lists(void **state)
{
	struct config c;
	char path[64], err[512];

	assert_true(load_text(
		"oidc:\n  jwks_url: http://127.0.0.1:1/jwks\n"
		"  allow_insecure_jwks: true\n"
		"  role_map: \"/esaas/sre = oncall,esaas admins=admin , viewers=viewer\"\n"
		"auth:\n  platform_tenants: \"default,  ops\"\n",
		no_env, &c, path, sizeof(path), err, sizeof(err)));
	assert_true(config_tenant_in_list(c.auth_platform_tenants, "ops"));
	assert_true(config_tenant_in_list(c.auth_platform_tenants, "default"));
	assert_false(config_tenant_in_list(c.auth_platform_tenants, "op"));
	assert_false(config_tenant_in_list(c.auth_platform_tenants, "acme"));
	assert_int_equal(config_role_map_lookup(c.oidc_role_map, "/esaas/sre"), TOKEN_ROLE_ONCALL);
	assert_int_equal(config_role_map_lookup(c.oidc_role_map, "esaas admins"), TOKEN_ROLE_ADMIN);
	assert_int_equal(config_role_map_lookup(c.oidc_role_map, "viewers"), TOKEN_ROLE_VIEWER);
	/* Only what the map names: not a role's own name, not a prefix. */
	assert_int_equal(config_role_map_lookup(c.oidc_role_map, "admin"), -1);
	assert_int_equal(config_role_map_lookup(c.oidc_role_map, "esaas"), -1);
	assert_int_equal(config_role_map_lookup(NULL, "admin"), -1);
	config_free(&c);

	/* kubernetes.allowed_images pins an image to each version it names. */
	assert_true(load_text("kubernetes:\n  allowed_images: \"7.17.10 = mirror/es@sha256:ab12,"
			      "8.17.0=mirror/es:8.17.0\"\n",
			      no_env, &c, path, sizeof(path), err, sizeof(err)));
	struct es_version v7 = {7, 17, 10}, v8 = {8, 17, 0}, v6 = {6, 8, 23};
	char *img = spec_allowed_image(c.kube_allowed_images, &v7);
	assert_string_equal(img, "mirror/es@sha256:ab12");
	free(img);
	img = spec_allowed_image(c.kube_allowed_images, &v8);
	assert_string_equal(img, "mirror/es:8.17.0");
	free(img);
	assert_null(spec_allowed_image(c.kube_allowed_images, &v6));
	assert_null(spec_allowed_image(NULL, &v7));
	config_free(&c);

	/* Who calls Elasticsearch for esaas, for the clusters' NetworkPolicies. */
	assert_true(load_text("kubernetes:\n  api_server_cidrs: \"172.18.0.2/32, fd00::/64\"\n"
			      "  esaasd_namespace: esaas-system\n",
			      no_env, &c, path, sizeof(path), err, sizeof(err)));
	assert_string_equal(c.kube_api_server_cidrs, "172.18.0.2/32, fd00::/64");
	assert_string_equal(c.kube_esaasd_namespace, "esaas-system");
	config_free(&c);
	assert_false(load_text("kubernetes:\n  api_server_cidrs: \"172.18.0.2\"\n", no_env, &c,
			       path, sizeof(path), err, sizeof(err)));
	assert_non_null(
		strstr(err, "kubernetes.api_server_cidrs: \"172.18.0.2\" is not a network"));
	config_free(&c); /* a failed load leaves the defaults */
	/* A line break in the value is refused, on one line. */
	assert_false(load_text("kubernetes:\n  api_server_cidrs: \"10.0.0.0/8\\nengine: x\"\n",
			       no_env, &c, path, sizeof(path), err, sizeof(err)));
	assert_non_null(
		strstr(err, "kubernetes.api_server_cidrs: must not contain control characters"));
	assert_null(strchr(err, '\n'));
	config_free(&c);
	assert_false(load_text("kubernetes:\n  esaasd_namespace: Esaas\n", no_env, &c, path,
			       sizeof(path), err, sizeof(err)));
	assert_non_null(strstr(err, "kubernetes.esaasd_namespace: expected a namespace's name"));
	config_free(&c);
}

static void test_defaults_function(void **state)
{
	struct config c;

	config_defaults(&c);
	assert_defaults(&c);
	config_free(&c);
	/* Freeing twice is harmless: the pointers were cleared. */
	config_free(&c);
	assert_null(c.listen);
	assert_null(c.database_url);
}

static void test_defaults_null_path(void **state)
{
	struct config c;
	char err[256] = "untouched";

	assert_true(config_load(&c, NULL, no_env, err, sizeof(err)));
	assert_string_equal(err, "");
	assert_defaults(&c);
	config_free(&c);
}

static void test_defaults_empty_file(void **state)
{
	struct config c;
	char path[64], err[256];

	assert_true(load_text("", no_env, &c, path, sizeof(path), err, sizeof(err)));
	assert_defaults(&c);
	config_free(&c);
}

static void test_defaults_comments_only(void **state)
{
	struct config c;
	char path[64], err[256];

	assert_true(load_text("# nothing here\n\n   # nor here\n", no_env, &c, path, sizeof(path),
			      err, sizeof(err)));
	assert_defaults(&c);
	config_free(&c);
}

/* Sections whose keys are all commented out are null in YAML. */
static void test_defaults_empty_sections(void **state)
{
	struct config c;
	char path[64], err[256];

	assert_true(load_text("---\ndatabase:\nengine:\n#  workers: 3\nlog: ~\n", no_env, &c, path,
			      sizeof(path), err, sizeof(err)));
	assert_defaults(&c);
	config_free(&c);
}

static const char full_yaml[] =
	"# every key, none at its default\n"
	"listen: \"[::1]:9090\"\n"
	"database:\n"
	"  url: postgresql://esaas@db.example:5433/jobs\n"
	"  pool_size: 16\n"
	"  startup_timeout_seconds: 120\n"
	"engine:\n"
	"  workers: 200\n"
	"  lease_seconds: 45\n"
	"  heartbeat_seconds: 15\n"
	"  poll_seconds: 7\n"
	"  shutdown_grace_seconds: 0\n"
	"retry:\n"
	"  base_ms: 250\n"
	"  cap_ms: 30000\n"
	"  max_attempts: 9\n"
	"log:\n"
	"  level: debug\n"
	"  format: json\n"
	"  file: '/var/log/esaas/esaasd.log'\n"
	"http: {max_body_bytes: 2097152, max_header_bytes: 8192, request_timeout_seconds: 12}\n";

static void test_full_file(void **state)
{
	struct config c;
	char path[64], err[256];

	assert_true(load_text(full_yaml, no_env, &c, path, sizeof(path), err, sizeof(err)));
	assert_string_equal(err, "");
	assert_string_equal(c.listen, "[::1]:9090");
	assert_string_equal(c.database_url, "postgresql://esaas@db.example:5433/jobs");
	assert_int_equal(c.db_pool_size, 16);
	assert_int_equal(c.db_startup_timeout_s, 120);
	assert_int_equal(c.workers, 200);
	assert_int_equal(c.lease_s, 45);
	assert_int_equal(c.heartbeat_s, 15);
	assert_int_equal(c.poll_s, 7);
	assert_int_equal(c.shutdown_grace_s, 0);
	assert_int_equal(c.retry_base_ms, 250);
	assert_int_equal(c.retry_cap_ms, 30000);
	assert_int_equal(c.retry_max_attempts, 9);
	assert_int_equal(c.log_level, LOG_DEBUG);
	assert_int_equal(c.log_format, LOG_FORMAT_JSON);
	assert_string_equal(c.log_file, "/var/log/esaas/esaasd.log");
	assert_int_equal(c.http_max_body_bytes, 2097152);
	assert_int_equal(c.http_max_header_bytes, 8192);
	assert_int_equal(c.http_timeout_s, 12);
	config_free(&c);
}

static void test_kubernetes_section(void **state)
{
	struct config c;
	char path[64], err[256];
	char *env[] = {"ESAAS_KUBERNETES_RACK_LABEL=example.com/rack", NULL};

	assert_true(load_text("kubernetes:\n  kubeconfig: /etc/esaas/kubeconfig\n  context: prod\n"
			      "  image_registry: registry.example.com/mirror\n"
			      "  plugin_repository: http://plugins:8080\n  rack_label: ignored\n"
			      "elasticsearch:\n  url: http://{service}.{namespace}.svc:9200\n",
			      env, &c, path, sizeof(path), err, sizeof(err)));
	assert_string_equal(c.kube_kubeconfig, "/etc/esaas/kubeconfig");
	assert_string_equal(c.kube_context, "prod");
	assert_string_equal(c.kube_image_registry, "registry.example.com/mirror");
	assert_string_equal(c.kube_plugin_repository, "http://plugins:8080");
	assert_string_equal(c.kube_rack_label, "example.com/rack");
	assert_string_equal(c.es_url_template, "http://{service}.{namespace}.svc:9200");
	config_free(&c);
}

/*
 * elasticsearch.security, unless the file or the environment says it: on
 * with elasticsearch.url (esaasd reaches the clusters directly and can
 * carry their credentials), off without it (the service proxy cannot).
 */
static void test_security_default_follows_the_url(void **state)
{
	static const struct {
		const char *yaml;
		char *env;
		bool security;
	} cases[] = {
		{"elasticsearch:\n  url: http://{service}.{namespace}.svc:9200\n", NULL, true},
		{"log:\n  level: info\n", NULL, false},
		{"elasticsearch:\n  url: http://{service}.{namespace}.svc:9200\n  security: "
		 "false\n",
		 NULL, false},
		{"elasticsearch:\n  url: http://{service}.{namespace}.svc:9200\n",
		 "ESAAS_ELASTICSEARCH_SECURITY=false", false},
		{"log:\n  level: info\n",
		 "ESAAS_ELASTICSEARCH_URL=http://{service}.{namespace}.svc:9200", true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config c;
		char path[64], err[256];
		char *env[] = {cases[i].env, NULL};
		if (!load_text(cases[i].yaml, env, &c, path, sizeof(path), err, sizeof(err)))
			fail_msg("case %zu: %s", i, err);
		if (c.es_security != cases[i].security)
			fail_msg("case %zu: security %d, expected %d", i, c.es_security,
				 cases[i].security);
		config_free(&c);
	}
}

/* Object storage: the keys, their checks, and each tenant's key pair read
 * from the folder, missing and malformed ones refused naming the file. */
static void test_s3_section_and_tenant_keys(void **state)
{
	(void)state;
	struct config c;
	char path[64], err[512], why[512];
	char dir[] = "/tmp/esaas-s3-keys-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *yaml = xasprintf("snapshots:\n  s3_bucket: es-snapshots\n"
			       "  s3_endpoint: http://minio.storage.svc:9000\n"
			       "  s3_path_style_access: true\n  s3_base_path: prod/esaas\n"
			       "  s3_credentials_dir: %s\n",
			       dir);
	assert_true(load_text(yaml, no_env, &c, path, sizeof(path), err, sizeof(err)));
	free(yaml);
	assert_string_equal(c.snapshots_s3_bucket, "es-snapshots");
	assert_true(c.snapshots_s3_path_style);
	assert_string_equal(c.snapshots_s3_base_path, "prod/esaas");
	const char *protocol = NULL;
	assert_string_equal(config_s3_endpoint_host(c.snapshots_s3_endpoint, &protocol),
			    "minio.storage.svc:9000");
	assert_string_equal(protocol, "http");

	/* A tenant without keys: both files named. */
	char *ak = NULL, *sk = NULL;
	assert_false(config_s3_keys(&c, "acme", &ak, &sk, why, sizeof(why)));
	assert_null(ak);
	assert_non_null(strstr(why, "tenant acme has no S3 key pair"));
	assert_non_null(strstr(why, "acme.access_key"));

	char *a_path = xasprintf("%s/acme.access_key", dir);
	char *s_path = xasprintf("%s/acme.secret_key", dir);
	FILE *f = fopen(a_path, "w");
	assert_non_null(f);
	fputs("AKIAACME\n", f);
	fclose(f);
	/* One of the two: the missing one named. */
	assert_false(config_s3_keys(&c, "acme", &ak, &sk, why, sizeof(why)));
	assert_non_null(strstr(why, "acme.secret_key"));
	f = fopen(s_path, "w");
	assert_non_null(f);
	fputs("s3cr3t", f);
	fclose(f);
	assert_true(config_s3_keys(&c, "acme", &ak, &sk, why, sizeof(why)));
	assert_string_equal(ak, "AKIAACME");
	assert_string_equal(sk, "s3cr3t");
	free(ak);
	free(sk);
	/* Two lines are not a key. */
	f = fopen(s_path, "w");
	assert_non_null(f);
	fputs("s3cr3t\nmore\n", f);
	fclose(f);
	assert_false(config_s3_keys(&c, "acme", &ak, &sk, why, sizeof(why)));
	assert_non_null(strstr(why, "without control characters"));
	/* Names that leave the folder are no tenant's. */
	assert_false(config_s3_keys(&c, "../etc", &ak, &sk, why, sizeof(why)));
	unlink(a_path);
	unlink(s_path);
	rmdir(dir);
	free(a_path);
	free(s_path);
	config_free(&c);

	static const struct {
		const char *yaml, *expect;
	} bad[] = {
		{"snapshots:\n  s3_bucket: b1\n  s3_credentials_dir: /k\n",
		 "snapshots.s3_bucket: expected a bucket's name"},
		{"snapshots:\n  s3_bucket: Snaps\n  s3_credentials_dir: /k\n",
		 "snapshots.s3_bucket: expected a bucket's name"},
		{"snapshots:\n  s3_bucket: snaps\n",
		 "snapshots.s3_bucket: needs snapshots.s3_credentials_dir too"},
		{"snapshots:\n  s3_bucket: snaps\n  s3_credentials_dir: /k\n"
		 "  nfs_server: nfs\n  nfs_path: /e\n",
		 "snapshots.s3_bucket: is set with snapshots.nfs_server or snapshots.nfs_path"},
		{"snapshots:\n  s3_bucket: snaps\n  s3_credentials_dir: /k\n"
		 "  s3_endpoint: minio:9000\n",
		 "snapshots.s3_endpoint: expected http://HOST[:PORT] or https://HOST[:PORT]"},
		{"snapshots:\n  s3_bucket: snaps\n  s3_credentials_dir: /k\n"
		 "  s3_endpoint: http://minio:9000/path\n",
		 "snapshots.s3_endpoint: expected http://HOST[:PORT]"},
		{"snapshots:\n  s3_bucket: snaps\n  s3_credentials_dir: /k\n"
		 "  s3_base_path: /esaas\n",
		 "snapshots.s3_base_path: expected folders"},
		{"snapshots:\n  s3_bucket: snaps\n  s3_credentials_dir: /k\n"
		 "  s3_base_path: a/../b\n",
		 "snapshots.s3_base_path: expected folders"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (load_text(bad[i].yaml, no_env, &c, path, sizeof(path), err, sizeof(err)))
			fail_msg("%s: accepted", bad[i].yaml);
		if (!strstr(err, bad[i].expect))
			fail_msg("%s: %s", bad[i].yaml, err);
		config_free(&c);
	}
}

/* The token comes from the environment, as a Kubernetes Secret gives it. */
static void test_webhook_section(void **state)
{
	struct config c;
	char path[64], err[256];
	char *env[] = {"ESAAS_WEBHOOK_BEARER_TOKEN=from-a-secret", NULL};

	assert_true(load_text("webhook:\n  url: https://hooks.example.com/T0/B0/x\n"
			      "  esaasd_url: https://esaas.example.com\n"
			      "  job_failed: false\n  cluster_health_changed: true\n"
			      "  timeout_ms: 2000\n  max_attempts: 8\n  backoff_base_ms: 250\n"
			      "  backoff_cap_ms: 250\n  queue_limit: 10\n",
			      env, &c, path, sizeof(path), err, sizeof(err)));
	assert_string_equal(c.webhook_url, "https://hooks.example.com/T0/B0/x");
	assert_string_equal(c.webhook_bearer_token, "from-a-secret");
	assert_string_equal(c.webhook_esaasd_url, "https://esaas.example.com");
	assert_false(c.webhook_job_failed);
	assert_true(c.webhook_health_changed);
	assert_int_equal(c.webhook_timeout_ms, 2000);
	assert_int_equal(c.webhook_max_attempts, 8);
	assert_int_equal(c.webhook_backoff_base_ms, 250);
	assert_int_equal(c.webhook_backoff_cap_ms, 250);
	assert_int_equal(c.webhook_queue_limit, 10);
	config_free(&c);
}

static void test_env_overrides_file(void **state)
{
	char *env[] = {
		"PATH=/usr/bin",
		"ESAAS_DATABASE_URL=host=/run/postgresql dbname=other",
		"ESAAS_DATABASE_POOL_SIZE=8",
		"ESAAS_ENGINE_WORKERS=20",
		"ESAAS_LISTEN=0.0.0.0:8081",
		"ESAAS_LOG_FORMAT=json",
		"ESAAS_LOG_FILE=",
		"ESAAS_RETRY_BASE_MS=1000",
		"ESAAS_HTTP_MAX_BODY_BYTES=4096",
		/* Not keys: other tools may use the prefix. */
		"ESAAS_CONFIG=/etc/esaas/esaasd.yaml",
		"ESAAS_SOMETHING_ELSE=whatever",
		"ESAAS_ENGINE=5",
		"ESAAS_",
		NULL,
	};
	struct config c;
	char path[64], err[256];

	assert_true(load_text(full_yaml, env, &c, path, sizeof(path), err, sizeof(err)));
	assert_string_equal(c.database_url, "host=/run/postgresql dbname=other");
	assert_int_equal(c.db_pool_size, 8);
	assert_int_equal(c.workers, 20);
	assert_string_equal(c.listen, "0.0.0.0:8081");
	assert_int_equal(c.log_format, LOG_FORMAT_JSON);
	/* Empty means stderr, overriding the file's path. */
	assert_null(c.log_file);
	assert_int_equal(c.retry_base_ms, 1000);
	assert_int_equal(c.http_max_body_bytes, 4096);
	/* Untouched by the environment: still the file's. */
	assert_int_equal(c.lease_s, 45);
	assert_int_equal(c.log_level, LOG_DEBUG);
	config_free(&c);
}

/* A NULL envp means the process environment. */
static void test_env_from_environ(void **state)
{
	struct config c;
	char err[256];

	assert_int_equal(setenv("ESAAS_ENGINE_POLL_SECONDS", "7", 1), 0);
	assert_int_equal(setenv("ESAAS_LOG_LEVEL", "warn", 1), 0);
	bool ok = config_load(&c, NULL, NULL, err, sizeof(err));
	unsetenv("ESAAS_ENGINE_POLL_SECONDS");
	unsetenv("ESAAS_LOG_LEVEL");
	assert_true(ok);
	assert_int_equal(c.poll_s, 7);
	assert_int_equal(c.log_level, LOG_WARN);
	config_free(&c);
}

static void test_null_log_file_is_stderr(void **state)
{
	struct config c;
	char path[64], err[256];

	assert_true(
		load_text("log:\n  file: ~\n", no_env, &c, path, sizeof(path), err, sizeof(err)));
	assert_null(c.log_file);
	config_free(&c);
}

/* The installed sample must say what the code does: every value is the default. */
static void test_sample_config_is_defaults(void **state)
{
	const char *srcdir = getenv("srcdir");
	char *path = xasprintf("%s/deploy/esaasd.yaml", srcdir ? srcdir : ".");
	struct config c;
	char err[512];

	if (access(path, R_OK) != 0)
		fail_msg("%s is not readable: srcdir must be the source tree", path);
	bool ok = config_load(&c, path, no_env, err, sizeof(err));
	free(path);
	if (!ok)
		fail_msg("%s", err);
	assert_defaults(&c);
	config_free(&c);
}

/*
 * Errors: the file's text (or NULL for no file), the environment, and the
 * expected line.  A leading ':' in the expectation stands for the file's
 * path, which mkstemp makes up.
 */
struct error_case {
	const char *name;
	const char *yaml;
	char *env[3];
	const char *expect;
};

static const struct error_case error_cases[] = {
	{"syntax error: tab indentation",
	 "engine:\n\tworkers: 3\n",
	 {NULL},
	 ":2:1: syntax error: found character that cannot start any token"},
	{"syntax error: unclosed flow mapping",
	 "engine: {workers: 4\n",
	 {NULL},
	 ":2:1: syntax error: did not find expected ',' or '}'"},
	{"syntax error: bad indentation",
	 "engine:\n  workers: 3\n poll_seconds: 1\n",
	 {NULL},
	 ":3:2: syntax error: did not find expected key"},
	{"syntax error: invalid UTF-8",
	 "listen: \xff\n",
	 {NULL},
	 ":1:9: syntax error: invalid leading UTF-8 octet"},
	{"top level is a sequence",
	 "- listen\n- engine\n",
	 {NULL},
	 ":1:1: expected a mapping of settings at the top level, got a sequence"},
	{"top level is a scalar",
	 "\n  hello\n",
	 {NULL},
	 ":2:3: expected a mapping of settings at the top level, got \"hello\""},
	{"two documents",
	 "listen: a:1\n---\nlisten: b:2\n",
	 {NULL},
	 ":2:1: only one YAML document is allowed"},
	{"unknown top-level key",
	 "engine:\n  workers: 3\nlisen: 0.0.0.0:80\n",
	 {NULL},
	 ":3:1: lisen: unknown key (did you mean listen?)"},
	{"unknown top-level key, no suggestion",
	 "monitoring:\n  interval: x\n",
	 {NULL},
	 ":1:1: monitoring: unknown key (known keys: listen, database, engine, retry, log, http,"
	 " kubernetes, elasticsearch, snapshots, monitor, webhook, oidc, metrics, tls, auth)"},
	{"keys fetched in clear",
	 "oidc:\n  jwks_url: http://idp.example.com/jwks\n",
	 {NULL},
	 ":2:13: oidc.jwks_url: expected an https:// URL: keys fetched in clear can be replaced "
	 "on the way (set oidc.allow_insecure_jwks: true to allow http)"},
	{"OpenID Connect without a role map",
	 "oidc:\n  issuer: https://idp.example.com/\n  audience: esaas\n"
	 "  jwks_url: https://idp.example.com/jwks\n",
	 {NULL},
	 ":4:13: oidc.jwks_url: needs oidc.role_map too: the values of oidc.role_claim become "
	 "roles only through the group=role pairs written there (\"esaas-sre=oncall, "
	 "team-search=member\"; \"admin=admin\" for a provider that sends the role's name)"},
	{"a certificate without its key",
	 "tls:\n  cert_file: /etc/esaas/tls.crt\n",
	 {NULL},
	 ":2:14: tls.cert_file: needs tls.key_file too: HTTPS needs the certificate's private key"},
	{"a key without its certificate",
	 "tls:\n  key_file: /etc/esaas/tls.key\n",
	 {NULL},
	 ":2:13: tls.key_file: needs tls.cert_file too: HTTPS needs the key's certificate"},
	{"a negative certificate check interval",
	 "tls:\n  reload_check_seconds: -1\n",
	 {NULL},
	 ":2:25: tls.reload_check_seconds: expected an integer between 0 and 86400, got -1"},
	{"a certificate check interval past a day",
	 "",
	 {"ESAAS_TLS_RELOAD_CHECK_SECONDS=86401", NULL},
	 "ESAAS_TLS_RELOAD_CHECK_SECONDS: expected an integer between 0 and 86400, got 86401"},
	{"security through the service proxy",
	 "elasticsearch:\n  security: true\n",
	 {NULL},
	 ":2:13: elasticsearch.security: needs elasticsearch.url: a secured cluster is reached "
	 "directly (https://{service}.{namespace}.svc:9200), since the API server's service proxy "
	 "does not pass on Elasticsearch's credentials"},
	{"metrics on the API's listener",
	 "listen: 0.0.0.0:8080\nmetrics:\n  listen: 0.0.0.0:8080\n",
	 {NULL},
	 ":3:11: metrics.listen: must differ from listen: /metrics has a listener of its own, "
	 "never the API's"},
	{"a platform tenant that is no tenant's name",
	 "auth:\n  platform_tenants: default, Ops\n",
	 {NULL},
	 ":2:21: auth.platform_tenants: expected tenants' names separated by commas (DNS-1123 "
	 "labels of at most 40 characters), got \"Ops\""},
	{"a role map entry without a role",
	 "oidc:\n  role_map: esaas-admins=admin, everyone\n",
	 {NULL},
	 ":2:13: oidc.role_map: expected group=role entries separated by commas, each role one "
	 "of viewer, member, oncall, admin; got \"everyone\""},
	{"a role map to no role",
	 "",
	 {"ESAAS_OIDC_ROLE_MAP=sre=root", NULL},
	 "ESAAS_OIDC_ROLE_MAP: expected group=role entries separated by commas, each role one "
	 "of viewer, member, oncall, admin; got \"sre=root\""},
	{"an allowed image without its version",
	 "kubernetes:\n  allowed_images: 7.17.10=mirror/es:7.17.10, mirror/es:8.17.0\n",
	 {NULL},
	 ":2:19: kubernetes.allowed_images: expected version=image entries separated by commas, "
	 "such as \"7.17.10=registry.example.com/elasticsearch@sha256:...\"; got "
	 "\"mirror/es:8.17.0\""},
	{"boolean not true or false",
	 "monitor:\n  enabled: yes\n",
	 {NULL},
	 ":2:12: monitor.enabled: expected true or false, got \"yes\""},
	{"quoted boolean",
	 "monitor:\n  enabled: \"false\"\n",
	 {NULL},
	 ":2:12: monitor.enabled: expected true or false, got the quoted string \"false\""},
	{"unknown nested key",
	 "engine:\n  workers: 3\n  wrokers: 4\n",
	 {NULL},
	 ":3:3: engine.wrokers: unknown key (did you mean engine.workers?)"},
	{"unknown nested key, no suggestion",
	 "retry:\n  jitter: full\n",
	 {NULL},
	 ":2:3: retry.jitter: unknown key (known keys: base_ms, cap_ms, max_attempts)"},
	{"wrong type",
	 "engine:\n  workers: abc\n",
	 {NULL},
	 ":2:12: engine.workers: expected an integer between 1 and 10000, got \"abc\""},
	{"quoted integer",
	 "database:\n  pool_size: \"5\"\n",
	 {NULL},
	 ":2:14: database.pool_size: expected an integer between 1 and 64, got the quoted string "
	 "\"5\""},
	{"integer given a mapping",
	 "http:\n  max_body_bytes: {a: 1}\n",
	 {NULL},
	 ":2:19: http.max_body_bytes: expected an integer between 1024 and 1073741824, got a "
	 "mapping"},
	{"integer left empty",
	 "engine:\n  poll_seconds:\n  workers: 2\n",
	 {NULL},
	 ":2:16: engine.poll_seconds: expected an integer between 1 and 3600, got null"},
	{"string given a sequence",
	 "database:\n  url: [a, b]\n",
	 {NULL},
	 ":2:8: database.url: expected a non-empty string, got a sequence"},
	{"out of range, low",
	 "engine:\n  workers: 0\n",
	 {NULL},
	 ":2:12: engine.workers: expected an integer between 1 and 10000, got 0"},
	{"out of range, high",
	 "database: {pool_size: 65}\n",
	 {NULL},
	 ":1:23: database.pool_size: expected an integer between 1 and 64, got 65"},
	{"bad enum: level",
	 "log:\n  level: loud\n",
	 {NULL},
	 ":2:10: log.level: expected one of debug, info, warn, error, got \"loud\""},
	{"bad enum: format",
	 "log:\n  format: XML\n",
	 {NULL},
	 ":2:11: log.format: expected one of text, json, got \"XML\""},
	{"duplicate key",
	 "engine:\n  workers: 1\n  poll_seconds: 2\n  workers: 2\n",
	 {NULL},
	 ":4:3: engine.workers: duplicate key (first at line 2)"},
	{"duplicate section",
	 "engine:\n  workers: 1\nlog: {}\nengine:\n  poll_seconds: 2\n",
	 {NULL},
	 ":4:1: engine: duplicate key (first at line 1)"},
	{"section as scalar",
	 "listen: a:1\nengine: 5\n",
	 {NULL},
	 ":2:9: engine: expected a mapping, got 5"},
	{"section as sequence",
	 "log:\n  - level\n",
	 {NULL},
	 ":2:3: log: expected a mapping, got a sequence"},
	{"bad listen: no port",
	 "listen: localhost\n",
	 {NULL},
	 ":1:9: listen: expected host:port with a port between 1 and 65535, got \"localhost\""},
	{"bad listen: port 0",
	 "listen: 'localhost:0'\n",
	 {NULL},
	 ":1:9: listen: expected host:port with a port between 1 and 65535, got \"localhost:0\""},
	{"bad listen: bare IPv6",
	 "listen: \"::1:80\"\n",
	 {NULL},
	 ":1:9: listen: expected host:port with a port between 1 and 65535, got \"::1:80\""},
	{"heartbeat equals lease",
	 "engine:\n  lease_seconds: 10\n  heartbeat_seconds: 10\n",
	 {NULL},
	 ":3:22: engine.heartbeat_seconds: must be less than engine.lease_seconds (10), got 10"},
	{"lease below default heartbeat",
	 "engine:\n  lease_seconds: 5\n",
	 {NULL},
	 ":2:18: engine.lease_seconds: must be greater than engine.heartbeat_seconds (10), got 5"},
	{"cap below base",
	 "retry:\n  base_ms: 1000\n  cap_ms: 999\n",
	 {NULL},
	 ":3:11: retry.cap_ms: must be at least retry.base_ms (1000), got 999"},
	{"webhook cap below base",
	 "webhook:\n  backoff_base_ms: 5000\n  backoff_cap_ms: 1000\n",
	 {NULL},
	 ":3:19: webhook.backoff_cap_ms: must be at least webhook.backoff_base_ms (5000), got "
	 "1000"},
	{"alias",
	 "engine: &e\n  workers: 3\nhttp: *e\n",
	 {NULL},
	 ":1:9: engine: anchors and aliases are not supported"},
	{"explicit tag",
	 "engine:\n  workers: !!int 3\n",
	 {NULL},
	 ":2:12: engine.workers: explicit tags (tag:yaml.org,2002:int) are not supported"},
	{"empty string",
	 "database:\n  url: \"\"\n",
	 {NULL},
	 ":2:8: database.url: expected a non-empty string, got \"\""},
	{"control characters escaped",
	 "log:\n  level: \"a\\nb\\\"c\"\n",
	 {NULL},
	 ":2:10: log.level: expected one of debug, info, warn, error, got \"a\\nb\\\"c\""},
	{"missing file",
	 NULL,
	 {NULL},
	 "/tmp/esaas-config-test-missing.yaml: cannot open: No such file or directory"},
	{"bad env value",
	 "engine:\n  workers: 3\n",
	 {"ESAAS_ENGINE_WORKERS=x", NULL},
	 "ESAAS_ENGINE_WORKERS: expected an integer between 1 and 10000, got \"x\""},
	{"bad env value, empty string",
	 "",
	 {"ESAAS_DATABASE_URL=", NULL},
	 "ESAAS_DATABASE_URL: expected a non-empty string, got \"\""},
	{"bad env value, out of range",
	 "",
	 {"ESAAS_HTTP_MAX_HEADER_BYTES=100", NULL},
	 "ESAAS_HTTP_MAX_HEADER_BYTES: expected an integer between 1024 and 1048576, got 100"},
	{"env breaks heartbeat < lease",
	 "engine:\n  lease_seconds: 20\n",
	 {"ESAAS_ENGINE_HEARTBEAT_SECONDS=20", NULL},
	 "ESAAS_ENGINE_HEARTBEAT_SECONDS: must be less than engine.lease_seconds (20), got 20"},
	{"env cap below file base",
	 "retry:\n  base_ms: 100\n",
	 {"ESAAS_RETRY_CAP_MS=50", NULL},
	 "ESAAS_RETRY_CAP_MS: must be at least retry.base_ms (100), got 50"},
};

static void test_error_case(void **state)
{
	const struct error_case *ec = *state;
	struct config c;
	char path[64], err[512], expect[600];
	bool ok;

	memset(err, 'x', sizeof(err));
	if (ec->yaml) {
		ok = load_text(ec->yaml, ec->env, &c, path, sizeof(path), err, sizeof(err));
	} else {
		str_copy_trunc(path, "/tmp/esaas-config-test-missing.yaml", sizeof(path));
		unlink(path);
		ok = config_load(&c, path, ec->env, err, sizeof(err));
	}
	assert_false(ok);
	if (ec->expect[0] == ':')
		snprintf(expect, sizeof(expect), "%s%s", path, ec->expect);
	else
		str_copy_trunc(expect, ec->expect, sizeof(expect));
	assert_string_equal(err, expect);
	assert_null(strchr(err, '\n'));
	/* Whatever the file set before the error is gone. */
	assert_defaults(&c);
	config_free(&c);
}

/* The error line is cut to the caller's buffer and always terminated. */
static void test_error_truncated(void **state)
{
	struct config c;
	char *env[] = {"ESAAS_ENGINE_WORKERS=x", NULL};
	char err[16];

	assert_false(config_load(&c, NULL, env, err, sizeof(err)));
	assert_string_equal(err, "ESAAS_ENGINE_WO");
	config_free(&c);
	/* No buffer at all is allowed too. */
	assert_false(config_load(&c, NULL, env, NULL, 0));
	config_free(&c);
}

/* Settings made before a failing one are reset with the rest. */
static void test_failure_resets(void **state)
{
	struct config c;
	char path[64], err[256];

	assert_false(load_text("listen: 10.0.0.1:1\nlog:\n  file: /tmp/x.log\n"
			       "engine:\n  workers: 3\n  poll_seconds: -1\n",
			       no_env, &c, path, sizeof(path), err, sizeof(err)));
	assert_defaults(&c);
	config_free(&c);
}

/* Long values are cut so the error stays readable. */
static void test_long_value_cut(void **state)
{
	struct config c;
	char path[64], err[512], expect[600];
	char yaml[256] = "engine:\n  workers: ";
	size_t n = strlen(yaml);

	memset(yaml + n, 'y', 100);
	yaml[n + 100] = '\0';
	assert_false(load_text(yaml, no_env, &c, path, sizeof(path), err, sizeof(err)));
	snprintf(expect, sizeof(expect),
		 "%s:2:12: engine.workers: expected an integer between 1 and 10000, got "
		 "\"%.64s...\"",
		 path, yaml + n);
	assert_string_equal(err, expect);
	config_free(&c);
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_defaults_function),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_defaults_null_path),
		cmocka_unit_test(test_defaults_empty_file),
		cmocka_unit_test(test_defaults_comments_only),
		cmocka_unit_test(test_defaults_empty_sections),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_kubernetes_section),
		cmocka_unit_test(test_security_default_follows_the_url),
		cmocka_unit_test(test_webhook_section),
		cmocka_unit_test(test_s3_section_and_tenant_keys),
		cmocka_unit_test(test_env_overrides_file),
		cmocka_unit_test(test_env_from_environ),
		cmocka_unit_test(test_null_log_file_is_stderr),
		cmocka_unit_test(test_sample_config_is_defaults),
		cmocka_unit_test(test_error_truncated),
		cmocka_unit_test(test_failure_resets),
		cmocka_unit_test(test_long_value_cut),
	};
	/* One named test per error case, so a failure says which. */
	struct CMUnitTest tests[ARRAY_SIZE(fixed) + ARRAY_SIZE(error_cases)];

	memcpy(tests, fixed, sizeof(fixed));
	for (size_t i = 0; i < ARRAY_SIZE(error_cases); i++) {
		struct CMUnitTest t =
			cmocka_unit_test_prestate(test_error_case, (void *)&error_cases[i]);
		t.name = error_cases[i].name;
		tests[ARRAY_SIZE(fixed) + i] = t;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
