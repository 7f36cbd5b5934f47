/*
 * esaasd: the daemon.  Reads its configuration, brings the schema up to
 * date, then runs the API and the job engine on one event loop until
 * SIGTERM, when it stops claiming, lets running states finish, releases its
 * leases and exits 0.
 */
#include "config.h"
#include "api/api.h"
#include "common/config.h"
#include "common/httpc.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"
#include "common/token.h"
#include "common/webhook.h"
#include "common/json.h"
#include "engine/engine.h"
#include "engine/registry.h"
#include "kube/client.h"
#include "kube/watch.h"
#include "kube/kubeconfig.h"
#include "kube/spec.h"
#include "monitor/sweep.h"
#include "states/env.h"
#include "storage/auth.h"
#include "storage/clusters.h"
#include "storage/db.h"
#include "storage/jobs.h"
#include "storage/migrate.h"
#include "workflows/workflows.h"
#ifdef ESAAS_TEST_BUILD
#include "tests/testwf/testwf.h"
#endif

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <event2/event.h>

/* What tells that a file changed: its stat(), through its symlinks. */
struct file_stamp {
	bool ok; /* false: it could not be looked at */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

struct daemon {
	struct event_base *base;
	struct api *api;
	struct engine *engine;
	struct sweep *sweep;	 /* NULL when monitor.enabled is false */
	struct webhook *webhook; /* NULL without webhook.url */
	char *job_link;		 /* webhook.esaasd_url without its trailing '/', or NULL */
	const struct config *cfg;
	int running; /* of the engine and the sweep, those not stopped yet */
	bool stopping;
	/* tls.reload_check_seconds: the timer, and the certificate's and the
	 * key's stamps when they were last read */
	struct event *tls_check;
	struct file_stamp tls_stamp[2];
	bool tls_missing; /* the last look found a file missing (logged once) */
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: esaasd [-c FILE] [--check-config | --bootstrap-admin [TENANT]]\n"
		   "Run the esaas API and job engine.\n"
		   "\n"
		   "  -c, --config FILE   read the configuration from FILE (YAML);\n"
		   "                      without it, defaults and ESAAS_* variables only\n"
		   "      --check-config  load the configuration, report, and exit\n"
		   "      --bootstrap-admin [TENANT]\n"
		   "                      bring the database schema up to date, create an\n"
		   "                      admin API token of TENANT (\"default\"; the tenant\n"
		   "                      is created if need be), print it once on standard\n"
		   "                      output, and exit; the first credential of a new\n"
		   "                      installation (esaasctl tokens makes the others)\n"
		   "  -h, --help          show this help and exit\n"
		   "  -V, --version       show the version and exit\n"
		   "\n"
		   "Every key can be overridden from the environment: database.url is\n"
		   "ESAAS_DATABASE_URL, engine.workers is ESAAS_ENGINE_WORKERS, and so on.\n"
		   "Signals: SIGTERM or SIGINT drain and stop; SIGHUP reopens the log file and\n"
		   "reads tls.cert_file and tls.key_file again (as esaasd also does by itself\n"
		   "when it sees them change, every tls.reload_check_seconds).\n");
}

/*
 * The Kubernetes API, found and reported once at start-up so that a wrong
 * kubeconfig shows at once, not at the first job.  Without one esaasd still
 * serves its API, and cluster jobs fail saying so.
 */
static struct kube *connect_kubernetes(const struct config *cfg, struct httpc *http)
{
	struct kube *k = NULL;
	struct kube_conn_opts o = {
		.source = cfg->kube_kubeconfig ? KUBE_SOURCE_KUBECONFIG : KUBE_SOURCE_AUTO,
		.kubeconfig = cfg->kube_kubeconfig,
		.context = cfg->kube_context,
	};
	struct kube_conn conn;
	char err[512];
	memset(&conn, 0, sizeof(conn));
	if (kube_conn_load(&o, &conn, err, sizeof(err))) {
		log_info("kubernetes: %s (%s%s%s)", conn.server, conn.origin ? conn.origin : "-",
			 conn.exec ? ", credential plugin " : "",
			 conn.exec ? conn.exec->command : "");
		k = kube_new(http, &conn);
		if (!cfg->kube_api_server_cidrs && !cfg->kube_esaasd_namespace)
			log_warn(
				"kubernetes: neither kubernetes.api_server_cidrs nor "
				"kubernetes.esaasd_namespace is set: the clusters' NetworkPolicies "
				"admit every address to their HTTP ports (docs/operations.md, "
				"\"Network isolation\")");
		else if (cfg->es_url_template && !cfg->kube_esaasd_namespace)
			log_warn("kubernetes: elasticsearch.url is set and "
				 "kubernetes.esaasd_namespace is not: the clusters' "
				 "NetworkPolicies admit esaasd's own calls only if "
				 "kubernetes.api_server_cidrs covers the address they come from "
				 "(docs/operations.md, \"Network isolation\")");
	} else {
		log_warn("kubernetes: %s", err);
	}
	kube_conn_free(&conn);
	return k;
}

/* A namespace's watch saw a change a waiting job may be waiting for. */
static void wake_job_cb(void *arg, int64_t job_id)
{
	engine_wake_job(arg, job_id);
}

/* A job's end is committed: a failed one is an event for the webhook. */
static void job_end_cb(void *arg, const json_t *job)
{
	struct daemon *d = arg;
	const char *status = json_str(job, "status");
	json_t *event;

	if (!status || strcmp(status, "failed") != 0)
		return;
	event = json_pack("{s:s, s:O}", "kind", "job_failed", "job", (json_t *)job);
	if (d->job_link)
		json_object_set_new(
			event, "url",
			json_sprintf("%s/ui/#/jobs/%lld", d->job_link,
				     (long long)json_integer_value(json_object_get(job, "id"))));
	webhook_post(d->webhook, event);
	json_decref(event);
}

/* A change of a cluster's health is in its history: an event for the webhook. */
static void health_change_cb(void *arg, const json_t *change)
{
	struct daemon *d = arg;
	json_t *event = json_pack("{s:s}", "kind", "cluster_health_changed");

	json_object_update(event, (json_t *)change);
	webhook_post(d->webhook, event);
	json_decref(event);
}

/* Webhooks, when webhook.url is set; false if they cannot be. */
static bool start_webhook(struct daemon *d, const struct config *cfg, struct httpc *http)
{
	struct webhook_options o = {
		.url = cfg->webhook_url,
		.bearer_token = cfg->webhook_bearer_token,
		.timeout_ms = cfg->webhook_timeout_ms,
		.max_attempts = cfg->webhook_max_attempts,
		.queue_limit = cfg->webhook_queue_limit,
		.backoff_base_ms = cfg->webhook_backoff_base_ms,
		.backoff_cap_ms = cfg->webhook_backoff_cap_ms,
		.max_body = (size_t)cfg->webhook_max_body_bytes,
	};
	char err[512];

	if (!cfg->webhook_url)
		return true;
	if (!http) {
		log_error("webhook: no HTTP client to post with");
		return false;
	}
	d->webhook = webhook_new(d->base, http, &o, err, sizeof(err));
	if (!d->webhook) {
		log_error("%s", err);
		return false;
	}
	if (cfg->webhook_esaasd_url) {
		size_t n = strlen(cfg->webhook_esaasd_url);

		while (n > 0 && cfg->webhook_esaasd_url[n - 1] == '/')
			n--;
		d->job_link = xstrndup(cfg->webhook_esaasd_url, n);
	}
	char *shown = webhook_url_for_logs(cfg->webhook_url);

	if (!cfg->webhook_job_failed && !cfg->webhook_health_changed)
		log_warn("webhook: webhook.url is set but webhook.job_failed and "
			 "webhook.cluster_health_changed are both false: nothing is posted");
	else
		log_info("webhook: posting %s%s%s to %s (its path not shown)",
			 cfg->webhook_job_failed ? "job_failed" : "",
			 cfg->webhook_job_failed && cfg->webhook_health_changed ? " and " : "",
			 cfg->webhook_health_changed ? "cluster_health_changed" : "", shown);
	free(shown);
	return true;
}

/*
 * --bootstrap-admin: the schema, then one admin token, printed once.  The
 * log goes to standard error, so that standard output is the token alone.
 */
static bool migrate_with_retry(const struct config *cfg);

static int bootstrap_admin(const struct config *cfg, const char *tenant)
{
	struct token_new tok;
	char err[1024];
	int rc = 1;

	if (!spec_is_dns_label(tenant, 40)) {
		fprintf(stderr,
			"esaasd: --bootstrap-admin: %s: expected a tenant's name (a DNS-1123 "
			"label of at most 40 characters)\n",
			tenant);
		return 2;
	}
	if (!log_setup(cfg->log_level, cfg->log_format, NULL) || !migrate_with_retry(cfg))
		return 1;
	if (!token_create(&tok)) {
		fprintf(stderr, "esaasd: cannot draw a random token\n");
		return 1;
	}
	if (storage_auth_bootstrap(cfg->database_url, tenant, &tok, err, sizeof(err))) {
		log_info("admin token %s created for tenant %s", tok.id, tenant);
		printf("%s\n", tok.token);
		fflush(stdout);
		rc = 0;
	} else {
		log_error("%s", err);
	}
	token_new_clear(&tok);
	return rc;
}

/* The engine or the sweep has stopped; the loop ends with the last. */
static void part_stopped_cb(void *arg)
{
	struct daemon *d = arg;
	if (--d->running == 0)
		event_base_loopexit(d->base, NULL);
}

static struct file_stamp stamp_of(const char *path)
{
	struct file_stamp s;
	struct stat st;

	memset(&s, 0, sizeof(s));
	if (stat(path, &st) != 0)
		return s;
	s.ok = true;
	s.dev = st.st_dev;
	s.ino = st.st_ino;
	s.size = st.st_size;
	s.mtime = st.st_mtim;
	s.ctime = st.st_ctim;
	return s;
}

static bool stamp_same(const struct file_stamp *a, const struct file_stamp *b)
{
	return a->ok == b->ok && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
	       a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static void tls_stamp_files(struct daemon *d)
{
	d->tls_stamp[0] = stamp_of(d->cfg->tls_cert_file);
	d->tls_stamp[1] = stamp_of(d->cfg->tls_key_file);
}

/*
 * A renewed certificate without a restart: the listener and the open
 * connections stay, new connections get the new pair; a bad pair leaves the
 * one served.  The stamps are taken before the files are read, so that a
 * change while they are read is seen at the next look.
 */
static void tls_reload(struct daemon *d, const char *cause)
{
	char err[768];

	tls_stamp_files(d);
	if (api_tls_load(d->api, d->cfg, err, sizeof(err)))
		log_info("HTTPS certificate reloaded (%s)", cause);
	else
		log_error("HTTPS certificate not reloaded (%s), the previous one is still "
			  "served: %s",
			  cause, err);
}

/*
 * Every tls.reload_check_seconds: a Secret volume's files change in place
 * (the kubelet writes the new ones into a new folder and swaps the ..data
 * symlink to it), and nobody sends a signal.  A file missing is taken as
 * a swap under way, and looked at again next time.
 */
static void tls_check_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct file_stamp now[2] = {stamp_of(d->cfg->tls_cert_file),
				    stamp_of(d->cfg->tls_key_file)};
	(void)fd;
	(void)what;

	if (!now[0].ok || !now[1].ok) {
		if (!d->tls_missing)
			log_warn("HTTPS certificate: cannot look at %s; the certificate served "
				 "stays, looking again every %d s",
				 !now[0].ok ? d->cfg->tls_cert_file : d->cfg->tls_key_file,
				 d->cfg->tls_reload_check_s);
		d->tls_missing = true;
		return;
	}
	d->tls_missing = false;
	if (stamp_same(&now[0], &d->tls_stamp[0]) && stamp_same(&now[1], &d->tls_stamp[1]))
		return;
	tls_reload(d, "its files changed");
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	if (sig == SIGHUP) {
		log_reopen();
		log_info("log reopened");
		if (d->cfg->tls_cert_file)
			tls_reload(d, "SIGHUP");
		return;
	}
	if (d->stopping) {
		log_warn("second signal: exiting now; running jobs resume after their leases "
			 "expire");
		event_base_loopexit(d->base, NULL);
		return;
	}
	d->stopping = true;
	log_info("received %s: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	api_set_draining(d->api);
	d->running = d->sweep ? 2 : 1;
	if (d->sweep)
		sweep_shutdown(d->sweep, part_stopped_cb, d);
	engine_shutdown(d->engine, part_stopped_cb, d);
}

/* The database may still be starting (a fresh pod, a dev stack): wait for it. */
static bool migrate_with_retry(const struct config *cfg)
{
	char err[1024];
	int64_t deadline = now_mono_ms() + (int64_t)cfg->db_startup_timeout_s * 1000;
	int delay_ms = 200;
	for (;;) {
		if (migrate_run(cfg->database_url, err, sizeof(err)))
			return true;
		if (strncmp(err, "cannot connect", 14) != 0 || now_mono_ms() >= deadline) {
			log_error("database schema: %s", err);
			return false;
		}
		log_warn("%s; retrying", err);
		struct timespec ts = {delay_ms / 1000, (long)(delay_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		delay_ms = delay_ms * 2 > 5000 ? 5000 : delay_ms * 2;
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check-config", no_argument, NULL, 'C'},
		{"bootstrap-admin", optional_argument, NULL, 'B'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *path = NULL;
	bool check_only = false;
	const char *bootstrap = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'C':
			check_only = true;
			break;
		case 'B':
			/* "--bootstrap-admin T" as well as "--bootstrap-admin=T". */
			if (!optarg && optind < argc && argv[optind][0] != '-')
				optarg = argv[optind++];
			bootstrap = optarg ? optarg : DEFAULT_TENANT;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("esaasd %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "esaasd: unexpected argument: %s\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	struct config cfg;
	memset(&cfg, 0, sizeof(cfg));
	char err[1024];
	if (!config_load(&cfg, path, NULL, err, sizeof(err))) {
		fprintf(stderr, "esaasd: %s\n", err);
		config_free(&cfg);
		return 1;
	}
	const char *bad_url = NULL;
	if (cfg.webhook_url && !webhook_url_ok(cfg.webhook_url))
		bad_url = "webhook.url";
	else if (cfg.webhook_esaasd_url && !webhook_url_ok(cfg.webhook_esaasd_url))
		bad_url = "webhook.esaasd_url";
	if (bad_url) {
		/* The value is not shown: a webhook's URL often holds its secret. */
		fprintf(stderr,
			"esaasd: %s: expected an http:// or https:// URL with a host and "
			"no spaces\n",
			bad_url);
		config_free(&cfg);
		return 1;
	}
	if (check_only) {
		printf("%s: configuration is valid\n", path ? path : "(defaults)");
		config_free(&cfg);
		return 0;
	}
	if (bootstrap) {
		int brc = bootstrap_admin(&cfg, bootstrap);

		config_free(&cfg);
		return brc;
	}
	if (!log_setup(cfg.log_level, cfg.log_format, cfg.log_file)) {
		fprintf(stderr, "esaasd: cannot open log file %s\n", cfg.log_file);
		config_free(&cfg);
		return 1;
	}

	int rc = 1;
	struct wf_registry reg = {0};
	struct daemon d = {0};
	struct db_pool *db = NULL;     /* the engine's and the sweep's */
	struct db_pool *api_db = NULL; /* the API's, its queue bounded */
	struct httpc *http = NULL;
	struct wf_env env = {.cfg = &cfg};
	struct event *sigs[4] = {0};

	if (!workflows_register_all(&reg, err, sizeof(err))) {
		log_error("%s", err);
		goto out;
	}
#ifdef ESAAS_TEST_BUILD
	if (!testwf_register(&reg, err, sizeof(err))) {
		log_error("%s", err);
		goto out;
	}
#endif
	if (!migrate_with_retry(&cfg))
		goto out;

	signal(SIGPIPE, SIG_IGN);
	d.base = event_base_new();
	d.cfg = &cfg;
	db = db_pool_new(d.base, cfg.database_url, cfg.db_pool_size);
	/*
	 * Requests from anyone who can reach the port queue for the API's own
	 * connections, at most http.db_queue_limit of them (then 503): however
	 * many arrive, the engine's claims, heartbeats and transitions do not
	 * wait behind them.
	 */
	api_db = db_pool_new(d.base, cfg.database_url, cfg.db_api_pool_size);
	db_pool_set_queue_limit(api_db, cfg.http_db_queue_limit);
	storage_clusters_warm(api_db);
	struct api_options aopt = {
		.cfg = &cfg, .db = api_db, .engine_db = db, .reg = &reg, .env = &env};
#ifdef ESAAS_TEST_BUILD
	aopt.generic_submit = true;
#endif
	http = httpc_new(d.base);
	aopt.http = http;
	if (cfg.tls_cert_file)
		tls_stamp_files(&d); /* before api_new() reads them */
	d.api = api_new(d.base, &aopt, err, sizeof(err));
	if (!d.api) {
		log_error("%s", err);
		goto out;
	}
	if (cfg.tls_cert_file && cfg.tls_reload_check_s > 0) {
		struct timeval every = {cfg.tls_reload_check_s, 0};
		d.tls_check = event_new(d.base, -1, EV_PERSIST, tls_check_cb, &d);
		event_add(d.tls_check, &every);
	}
	struct engine_options eopt = {
		.conninfo = cfg.database_url,
		.workers = cfg.workers,
		.lease_s = cfg.lease_s,
		.heartbeat_s = cfg.heartbeat_s,
		.poll_s = cfg.poll_s,
		.shutdown_grace_s = cfg.shutdown_grace_s,
		.deadline_percent = cfg.deadline_percent,
		.retry = {cfg.retry_base_ms, cfg.retry_cap_ms, cfg.retry_max_attempts},
		.events_retention_days = cfg.events_retention_days,
		.events_prune_interval_s = cfg.events_prune_interval_s,
		.events_prune_batch = cfg.events_prune_batch,
		.schedule_interval_s = cfg.snapshots_schedule_interval_s,
		.detail_max_bytes = cfg.detail_max_bytes,
	};
	env.http = http;
	env.kube = connect_kubernetes(&cfg, http);
	eopt.http = http;
	eopt.env = &env;
	if (!start_webhook(&d, &cfg, http))
		goto out;
	if (d.webhook && cfg.webhook_job_failed) {
		eopt.on_job_end = job_end_cb;
		eopt.on_job_end_arg = &d;
	}
	d.engine = engine_new(d.base, db, &reg, &eopt);
	if (env.kube && cfg.kube_watch) {
		env.watches = kube_watches_new(d.base, env.kube);
		kube_watches_set_wake(env.watches, wake_job_cb, d.engine);
	}
	if (cfg.monitor_enabled && (env.kube || cfg.es_url_template)) {
		struct sweep_options sopt = {
			.db = db,
			.http = http,
			.kube = env.kube,
			.es_url_template = cfg.es_url_template,
			.es_connect_to = cfg.es_connect_to,
			.owner = engine_owner(d.engine),
			.interval_ms = cfg.monitor_interval_s * 1000,
			.jitter_percent = cfg.monitor_jitter_percent,
			.concurrency = cfg.monitor_concurrency,
			.timeout_ms = cfg.monitor_timeout_ms,
			.lease_s = cfg.monitor_lease_s,
		};
		if (d.webhook && cfg.webhook_health_changed) {
			sopt.on_health_change = health_change_cb;
			sopt.on_health_change_arg = &d;
		}
		d.sweep = sweep_new(d.base, &sopt);
	} else if (cfg.monitor_enabled) {
		log_warn("health sweep off: no Kubernetes connection and no elasticsearch.url "
			 "to reach the clusters by");
	}

	const int signums[] = {SIGTERM, SIGINT, SIGHUP};
	for (size_t i = 0; i < ARRAY_SIZE(signums); i++) {
		sigs[i] = evsignal_new(d.base, signums[i], signal_cb, &d);
		event_add(sigs[i], NULL);
	}
	engine_start(d.engine);
	if (d.sweep)
		sweep_start(d.sweep);
	log_info("esaasd %s listening on %s", PACKAGE_VERSION, cfg.listen);
	event_base_dispatch(d.base);
	rc = 0;
	log_info("esaasd stopped");

out:
	if (d.tls_check)
		event_free(d.tls_check);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		if (sigs[i])
			event_free(sigs[i]);
	/*
	 * The API first (its pending requests are detached), then the pool,
	 * whose last callbacks may still reach the engine and the sweep, then
	 * those two, whose last commits may still post to the webhook, then
	 * the webhook; the sweep's reads use the HTTP client and Kubernetes,
	 * the webhook the HTTP client.
	 */
	api_free(d.api);
	db_pool_free(api_db);
	db_pool_free(db);
	kube_watches_free(env.watches);
	engine_free(d.engine);
	sweep_free(d.sweep);
	webhook_free(d.webhook);
	free(d.job_link);
	kube_free(env.kube);
	httpc_free(http);
	if (d.base)
		event_base_free(d.base);
	config_free(&cfg);
	metrics_default_free();
	log_close();
	libevent_global_shutdown();
	return rc;
}
