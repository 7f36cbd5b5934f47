/*
 * The integration harness: a private PostgreSQL (tests/pg.sh), esaasd-test
 * processes started for real, and a small HTTP and SQL client to drive and
 * inspect them.  Waiting is always for a condition, with a deadline.
 */
#ifndef ESAAS_HARNESS_H
#define ESAAS_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include <libpq-fe.h>

struct pg {
	char dir[256];
	char url[512]; /* the server's "postgres" database */
};

/* Start (or stop, restart, remove) the private server. */
bool pg_start(struct pg *pg);
bool pg_ctl(struct pg *pg, const char *verb); /* "stop", "restart", "start" */
void pg_destroy(struct pg *pg);
/* At the end of a test program: remove the server, or with ESAAS_TEST_KEEP=1
 * stop it and keep its folder (and the esaasd logs in it) to read. */
void pg_finish(struct pg *pg);
/* A fresh database on the server; returns its URL (static buffer per call: copy it). */
const char *pg_new_database(struct pg *pg, char *url, size_t len);

struct esaasd {
	pid_t pid;
	int port;
	char base[64]; /* http://127.0.0.1:PORT */
	int metrics_port;
	char metrics_base[64]; /* http://127.0.0.1:METRICS_PORT, metrics.listen */
	char config[512];
	char log[512];
	char dburl[600]; /* its database, for harness_token() */
};

/* The address esaas-sim's service proxy dials pods from (its
 * network.control_plane_ip, 172.18.0.2 by default), which the clusters'
 * NetworkPolicies admit through kubernetes.api_server_cidrs. */
#define HARNESS_CONTROL_PLANE_CIDR "172.18.0.2/32"

/* Extra YAML is appended to the generated config (e.g. "engine:\n  lease_seconds: 2\n"),
 * which must not repeat the sections the harness writes unless given as full override via
 * the engine_* arguments below. */
struct esaasd_opts {
	int workers;		/* 0: 16 */
	int lease_s;		/* 0: 30 */
	int heartbeat_s;	/* 0: 10 */
	int poll_s;		/* 0: 5 */
	int grace_s;		/* 0: 2 */
	int retry_base_ms;	/* 0: 20 */
	int retry_cap_ms;	/* 0: 200 */
	int retry_max_attempts; /* 0: 5 */
	bool json_logs;		/* log.format: json */
	const char *log_file;	/* log.file (else stderr, into esaasd->log) */
	const char *log_level;	/* NULL: debug */
	const char *kubeconfig; /* kubernetes.kubeconfig, e.g. esaas-sim's */
	int deadline_percent;	/* engine.deadline_percent (0: 100) */
	int wait_poll_ms;	/* engine.wait_poll_ms (0: 100, quicker than esaasd's default) */
	const char *plugin_repository; /* kubernetes.plugin_repository */
	int unschedulable_timeout_s;   /* kubernetes.unschedulable_timeout_seconds (0: default) */
	bool no_watch;		       /* kubernetes.watch: false (the waits only poll) */
	const char *extra_yaml;	 /* appended as is: whole sections the harness does not write */
	const char *engine_yaml; /* more keys of the engine section, "  key: value\n" lines */
	const char *kube_yaml;	 /* more keys of the kubernetes section, the same way */
};

/* Start esaasd-test against dburl; waits until /readyz answers 200. */
bool esaasd_start(struct esaasd *d, const char *tmpdir, const char *dburl,
		  const struct esaasd_opts *o);
/* The two halves of esaasd_start: fork and exec, then wait for /readyz. */
bool esaasd_spawn(struct esaasd *d, const char *tmpdir, const char *dburl,
		  const struct esaasd_opts *o);
bool esaasd_wait_ready(struct esaasd *d);
/* Send sig; with wait, reap and return the exit status (-N: killed by signal N). */
int esaasd_stop(struct esaasd *d, int sig, bool wait);
/*
 * SIGTERM each of the n daemons still running and reap it; each that does
 * not exit 0 is reported on stderr with its log.  0 when all did, else -1
 * (a teardown's answer, so that a sanitizer's report at exit fails).
 */
int esaasd_stop_all(struct esaasd *d, int n);
/* Has the process exited? Returns its wait status or -1 if still running. */
int esaasd_poll_exit(struct esaasd *d);

struct http_resp {
	long status;
	json_t *body; /* NULL if not JSON */
	char *raw;
	char location[256];
	char allow[128];
	char content_type[128];
	char *headers; /* every header line of the answer, as received */
};

/*
 * An admin API token of tenant "default" in d's database, made once per
 * database with "esaasd --bootstrap-admin" (as a person installing esaas
 * would) and kept for the rest of the program.  NULL if that fails.
 */
const char *harness_token(const struct esaasd *d);

/*
 * What esaasd records as the actor of a request made with harness_token(d):
 * "token:<id>", and " (<as>)" after it when an X-Esaas-Actor header said
 * as.  Static buffer per call: copy it.
 */
const char *harness_actor(const struct esaasd *d, const char *as);

/* method, url path (appended to d->base), optional JSON body text, optional
 * extra header lines (NULL-terminated list).  Requests to /api/ carry
 * the token that harness_token(d) made (esaasd_wait_ready() makes it)
 * unless headers has an Authorization line of its own ("Authorization:"
 * alone sends none). */
bool http_call(const struct esaasd *d, const char *method, const char *path, const char *body,
	       const char *const *headers, struct http_resp *out);
/* The request http_call() and sim_call() make, to any server: path is
 * appended to base ("http://127.0.0.1:PORT"; an https:// base of a
 * simulator that sim_start() started is verified with its CA); a body is sent as
 * application/json unless headers has a Content-Type line; timeout_ms 0
 * is 10 s.  False when no answer came (out is then empty). */
/* Verify https:// requests to base ("https://127.0.0.1:PORT") with ca_file. */
void harness_trust_ca(const char *base, const char *ca_file);
/* GET /metrics from d's metrics listener (metrics.listen). */
bool metrics_get(const struct esaasd *d, struct http_resp *out);
bool http_request(const char *base, const char *method, const char *path, const char *body,
		  const char *const *headers, int timeout_ms, struct http_resp *out);
/* Why the last http_request() that got no answer got none (curl's words). */
const char *http_last_error(void);
void http_resp_free(struct http_resp *r);

/* Submit a test job; returns its id or 0. */
int64_t submit_job(const struct esaasd *d, const char *kind, const char *cluster,
		   const char *params_json);
/* Wait for a terminal status; returns the job (caller decrefs) or NULL on timeout. */
json_t *wait_job_done(const struct esaasd *d, int64_t id, int timeout_ms);
/* Wait until the job's status is one of the '|'-separated list. */
json_t *wait_job_status(const struct esaasd *d, int64_t id, const char *statuses, int timeout_ms);

/* SQL helpers on a direct connection (for inspecting, never for driving). */
PGconn *sql_connect(const char *url);
/* First column of the first row as an integer (-1 on error or no row). */
long long sql_int(PGconn *c, const char *sql, int nparams, const char *const *params);

/*
 * esaas-sim, started with config_yaml in its own folder under dir, over
 * HTTPS, with the RBAC objects of deploy/kubernetes/ (clusterrole.yaml,
 * clusterrolebinding.yaml): its kubeconfig's current context is esaasd's
 * ServiceAccount, allowed what the shipped ClusterRole allows, as esaasd
 * is in a cluster.  The harness itself (sim_call(), token) is the admin.
 */
struct sim {
	pid_t pid;
	char dir[256];
	char kubeconfig[300];
	char log[300];
	char ca[300];	    /* the CA of its kubeconfig, as a PEM file */
	char server[256];   /* from its kubeconfig: the API's URL */
	char token[256];    /* the admin's bearer token (kubernetes-admin) */
	char sa_token[256]; /* esaasd's ServiceAccount's (the current context's) */
	/* With serviceaccounts.token_life_ms: the file its token rotates in
	 * (sa_token is the first); else "". */
	char sa_token_file[600];
	/* Its pod network (esaas-sim --pod-network): es-http.NS.svc:9200 over
	 * TLS, reached by connecting to 127.0.0.1 at this port. */
	int podnet_port;
};
/* The configuration gets "seed: $ESAAS_SIM_SEED" (else 1) as its first line,
 * unless config_yaml starts with a seed of its own. */
bool sim_start(struct sim *s, const char *dir, const char *config_yaml);
/* The same with other RBAC files (NULL-terminated paths) instead of the
 * shipped ones; sa_token is then the first ServiceAccount's that they bind. */
bool sim_start_rbac(struct sim *s, const char *dir, const char *config_yaml,
		    const char *const *rbac_files);
/* SIGTERM and reap; the exit status (0 when clean). */
int sim_stop(struct sim *s);
/* On stderr: whether esaas-sim's process is there, and its log's end. */
void sim_tell_why_silent(const struct sim *s);

void msleep(int ms);
int64_t harness_now_ms(void);
/* A port of 10000-19999 that nothing listens on and no other test program
 * running beside this one has just picked, for a server started next. */
int harness_free_port(void);
const char *harness_srcdir(void);
const char *harness_builddir(void);

/*
 * The plugin repository: a static HTTP server of plugin files (nginx from
 * Debian, or $ESAAS_NGINX) on loopback, serving dir/repo-N/files under
 * url ("http://127.0.0.1:PORT/es-plugins").  Its access log shows what was
 * asked.
 */
struct repo {
	pid_t pid;
	int port;
	char dir[256];
	char url[64];
	char access_log[300];
};
/* Start it with the given files (NULL-terminated names, or NULL). */
bool repo_start(struct repo *r, const char *dir, const char *const *files);
/* Put one more file in it. */
bool repo_add(struct repo *r, const char *file);
/* Take one away. */
bool repo_remove(struct repo *r, const char *file);
int repo_stop(struct repo *r);

/* A cluster operation (method, path, JSON body): the job's id when the API
 * answers 202, else 0 (the status in *status, or printed when status is NULL). */
int64_t api_op(const struct esaasd *d, const char *method, const char *path, const char *body,
	       long *status);
/* POST /api/v1/clusters: the create job's id, or 0. */
int64_t post_cluster(const struct esaasd *d, const char *spec);
/* Wait for the job to end; true if it succeeded (else why is printed). */
bool job_succeeded(const struct esaasd *d, int64_t id, int timeout_ms);
/* The states the job left forward, in order, space-separated (free it). */
char *job_trail(PGconn *sql, int64_t id);
/* A request to the simulator, with the admin's token. */
bool sim_call(const struct sim *s, const char *method, const char *path, const char *body,
	      struct http_resp *out);
/* The simulator's record (GET /_sim/state), or NULL. */
json_t *sim_record(const struct sim *s);
/* Files other than shards, of other_bytes (a size: "90gb"), on a Kubernetes
 * node's disk (PUT /_sim/nodes/{host}/disk; 100Gi by default). */
bool sim_other_files(const struct sim *s, const char *host, const char *other_bytes);
/*
 * Every request esaasd (the ServiceAccount of deploy/kubernetes/) sent to a
 * simulated Elasticsearch node of 7.17 or 8.x is one that the version's
 * REST specification accepts: path, method and query parameters
 * (tests/sim/es_spec.py against tests/reference/es-api).  False, with each
 * disagreement on stderr, when one is not or the check cannot run.
 */
bool sim_es_requests_in_spec(const struct sim *s);
/*
 * Nothing half-done in the default tenant's cluster name: no allocation
 * setting left other than all, no voting exclusion, green, and every one
 * of its pods there and Ready (a cmocka failure otherwise).
 */
void sim_expect_settled(const struct sim *s, const char *name, int pods);

/*
 * Run esaasctl with args (shell words, quoted by the caller) as on-call
 * runs it against d, with the harness's admin token and HOME=home (no
 * config file read).  Its exit status; its output in *out (free it).
 */
int harness_ctl(const struct esaasd *d, const char *home, const char *args, char **out);

/*
 * Start esaasd-test as a manifest starts esaasd: "-c config", a file the
 * caller wrote, with env (NULL-terminated "NAME=value" strings) added to
 * the environment, the way a Deployment passes its Secret and overrides.
 * ESAAS_LISTEN is set to a free port of 127.0.0.1, since the replicas of
 * a test share one address where pods have one each.  Its output goes to
 * tmpdir/replica-N.log; wait for it with esaasd_wait_ready().
 */
bool esaasd_spawn_env(struct esaasd *d, const char *tmpdir, const char *config,
		      const char *const *env);

/*
 * Raw requests from another loopback address (127.0.0.<from>), one
 * connection each, "Connection: close", driven by the caller's poll():
 * for what esaasd sees of strangers (per-address limits), and floods.
 */
/* A well-formed esaas token that no one made. */
#define BOGUS_TOKEN "esaas_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

struct raw {
	int fd;
	char out[1024];
	size_t out_len, out_off;
	char in[8192];
	size_t in_len;
	bool done;
};

/* Connect and queue "GET path" (with token as its bearer, unless NULL); false if no socket. */
bool raw_start(struct raw *r, const struct esaasd *d, int from, const char *path,
	       const char *token);
/* poll() events to wait for, and a step once they came; true when the answer is in. */
short raw_events(const struct raw *r);
bool raw_step(struct raw *r, short revents);
int raw_status(const struct raw *r); /* 0: no status line */
void raw_close(struct raw *r);
/* One request, waited for (10 s at most): its status, 0 for none; answer gets the text. */
int raw_call(const struct esaasd *d, int from, const char *path, const char *token, char *answer,
	     size_t len);

/*
 * A flood, from a child process, for ms: per_second requests a second, 32
 * at a time, each a new connection; every other one /readyz, the others
 * bogus tokens from addresses that change every 50 requests.  The counts
 * of its answers come back from flood_finish(), which waits for its end.
 */
struct flood_counts {
	long sent, ok, unauthorized, limited, busy, other;
};
struct flood;
struct flood *flood_start(const struct esaasd *d, int ms, int per_second);
bool flood_finish(struct flood *f, struct flood_counts *out);

/*
 * Run a program's tests as cmocka_run_group_tests_name() does, or, with
 * ESAAS_TEST_SHARD=i/n in the environment, only those whose index modulo
 * n is i: tests/run-integration.sh starts a long program's shards side by
 * side, each with its own PostgreSQL, simulator and esaasd.  Tests must
 * not depend on one another.  A malformed ESAAS_TEST_SHARD fails.
 */
struct CMUnitTest;
int harness_run_tests(const char *name, const struct CMUnitTest *tests, size_t n,
		      int (*setup)(void **), int (*teardown)(void **));
#define harness_run_group(tests, setup, teardown) \
	harness_run_tests(#tests, tests, sizeof(tests) / sizeof((tests)[0]), setup, teardown)

#endif
