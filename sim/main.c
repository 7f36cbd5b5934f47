/*
 * esaas-sim: a Kubernetes API server with its controllers and scheduler,
 * and the Elasticsearch clusters running on it, in one process, for
 * development and tests.  esaasd talks to it through the kubeconfig it
 * writes, exactly as to a real cluster.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <event2/event.h>

#include "common/log.h"
#include "common/util.h"
#include "sim/apiserver.h"
#include "sim/podnet.h"
#include "sim/controllers.h"
#include "sim/es.h"
#include "sim/esspec.h"
#include "common/base64.h"
#include "sim/faults.h"
#include "sim/rbac.h"
#include "sim/record.h"
#include "sim/schema.h"
#include "sim/esdisk.h"
#include "sim/simconf.h"
#include "sim/store.h"
#include "sim/tls.h"
#include "sim/watch.h"

static volatile bool stopping;
static char *token_dir; /* where the bound tokens' files are, or NULL */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: esaas-sim --listen HOST:PORT --kubeconfig-out FILE [--config sim.yaml]\n"
		"                 [--rbac FILE]... [--openapi DIR] [--es-api DIR] [--plain-http]\n"
		"                 [--pod-network HOST:PORT]\n"
		"\n"
		"  --listen HOST:PORT      where to serve (PORT 0: any free port)\n"
		"  --kubeconfig-out FILE   write a kubeconfig for this simulator there\n"
		"  --pod-network HOST:PORT the cluster's network as a pod sees it, over TLS:\n"
		"                          connect here naming SERVICE.NAMESPACE.svc:PORT (TLS\n"
		"                          server name and Host) to reach the Service's pods\n"
		"                          (curl --connect-to ::HOST:PORT), as the pod the\n"
		"                          configuration's pod_network names (esaasd's in\n"
		"                          esaas-system by default); NetworkPolicy applies\n"
		"  --config FILE           nodes, timings, faults (YAML)\n"
		"  --rbac FILE             RBAC objects (ClusterRole, ClusterRoleBinding, Role,\n"
		"                          RoleBinding, ServiceAccount), one file each time;\n"
		"                          every ServiceAccount they name gets a token, and the\n"
		"                          kubeconfig's current context is the first one's\n"
		"  --openapi DIR           the kinds' OpenAPI v3 documents (DIR/api/v1.json,\n"
		"                          DIR/apis/apps/v1.json, ...): unknown fields are\n"
		"                          dropped with a warning, or refused, as the API\n"
		"                          server does; without it they are kept\n"
		"  --es-api DIR            Elasticsearch's REST specifications\n"
		"                          (DIR/7.17/_json_spec/*.json, DIR/8.17/...): a 7.17\n"
		"                          or 8.x node answers 400 to a query parameter its\n"
		"                          API does not take; without it every one is taken\n"
		"  --plain-http            serve plain HTTP, not HTTPS (real clients then send\n"
		"                          no token: for debugging with curl only)\n"
		"  --log-level LEVEL       debug, info, warn or error\n"
		"\n"
		"HTTPS with a CA made at start, written into the kubeconfig\n"
		"(certificate-authority-data).  The kubeconfig has a context \"admin\"\n"
		"(kubernetes-admin, group system:masters: everything, /_sim/ too), the same\n"
		"user by a client certificate the CA signed in \"admin-cert\", and one per\n"
		"ServiceAccount, named NAMESPACE/NAME, allowed what RBAC allows it; with\n"
		"serviceaccounts.token_life_ms in the configuration, their tokens expire\n"
		"and rotate in files beside the kubeconfig (tokenFile).\n");
}

static void put_user(FILE *f, const char *name, const char *token)
{
	fprintf(f,
		"- name: \"%s\"\n"
		"  user:\n"
		"    token: %s\n",
		name, token);
}

/* The file of the i-th service account's bound token: NS.NAME.token. */
static char *token_path(size_t i)
{
	const char *u = rbac_account_user(i) + strlen("system:serviceaccount:");
	char *p = xasprintf("%s/%s.token", token_dir, u);
	*strrchr(p, ':') = '.';
	return p;
}

/*
 * Every service account's current token into its file, replaced whole
 * (the kubelet's projected volume swaps a new directory in atomically:
 * pkg/volume/util/atomic_writer.go), so a reader never sees half of one.
 */
static bool write_tokens(void)
{
	bool ok = true;
	for (size_t i = 0; i < rbac_account_count(); i++) {
		char *path = token_path(i);
		char *tmp = xasprintf("%s.tmp", path);
		FILE *f = fopen(tmp, "w");
		if (!f || fputs(rbac_account_token(i), f) < 0 || fclose(f) != 0 ||
		    rename(tmp, path) != 0) {
			log_error("cannot write %s: %s", path, strerror(errno));
			ok = false;
		}
		free(tmp);
		free(path);
	}
	return ok;
}

/* A token is checked for rotation this often: a twentieth of its life,
 * at most a second. */
static void rotate_due(void)
{
	if (rbac_rotate_tokens()) {
		log_info("service account tokens rotated");
		(void)write_tokens();
	}
}

static void rotate_cb(evutil_socket_t fd, short what, void *arg)
{
	rotate_due();
}

/* The admin again, by a client certificate as kubeadm's admin.conf has it. */
static void put_cert_user(FILE *f, const char *name, const char *cert_pem, const char *key_pem)
{
	char *cert = base64_encode(cert_pem, strlen(cert_pem));
	char *key = base64_encode(key_pem, strlen(key_pem));
	fprintf(f,
		"- name: \"%s\"\n"
		"  user:\n"
		"    client-certificate-data: %s\n"
		"    client-key-data: %s\n",
		name, cert, key);
	free(cert);
	free(key);
}

static void put_context(FILE *f, const char *name, const char *user)
{
	fprintf(f,
		"- name: \"%s\"\n"
		"  context:\n"
		"    cluster: esaas-sim\n"
		"    user: \"%s\"\n"
		"    namespace: default\n",
		name, user);
}

/* The context of the i-th service account: NAMESPACE/NAME. */
static char *account_context(size_t i)
{
	const char *u = rbac_account_user(i) + strlen("system:serviceaccount:");
	char *ctx = xstrdup(u);
	*strchr(ctx, ':') = '/';
	return ctx;
}

static bool write_kubeconfig(const char *path, const char *host, int port, const char *ca_pem)
{
	char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	bool ipv6 = strchr(host, ':') != NULL;
	FILE *f = fopen(tmp, "w");
	if (!f) {
		log_error("cannot write %s: %s", tmp, strerror(errno));
		free(tmp);
		return false;
	}
	fchmod(fileno(f), 0600);
	fprintf(f,
		"apiVersion: v1\n"
		"kind: Config\n"
		"clusters:\n"
		"- name: esaas-sim\n"
		"  cluster:\n"
		"    server: %s://%s%s%s:%d\n",
		ca_pem ? "https" : "http", ipv6 ? "[" : "", host, ipv6 ? "]" : "", port);
	if (ca_pem) {
		char *b64 = base64_encode(ca_pem, strlen(ca_pem));
		fprintf(f, "    certificate-authority-data: %s\n", b64);
		free(b64);
	}
	static const char *const masters[] = {"system:masters", NULL};
	char *cert_key = NULL;
	char *cert = ca_pem ? sim_tls_client_cert("kubernetes-admin", masters, &cert_key) : NULL;
	if (ca_pem && !cert)
		log_warn("cannot make the admin's client certificate: the kubeconfig has no "
			 "admin-cert context");
	fputs("contexts:\n", f);
	put_context(f, "admin", "admin");
	if (cert)
		put_context(f, "admin-cert", "admin-cert");
	for (size_t i = 0; i < rbac_account_count(); i++) {
		char *ctx = account_context(i);
		put_context(f, ctx, rbac_account_user(i));
		free(ctx);
	}
	char *current = rbac_account_count() > 0 ? account_context(0) : xstrdup("admin");
	fprintf(f, "current-context: \"%s\"\n", current);
	free(current);
	fputs("users:\n", f);
	put_user(f, "admin", rbac_admin_token());
	if (cert)
		put_cert_user(f, "admin-cert", cert, cert_key);
	free(cert);
	free(cert_key);
	for (size_t i = 0; i < rbac_account_count(); i++) {
		if (token_dir) {
			char *p = token_path(i);
			fprintf(f,
				"- name: \"%s\"\n"
				"  user:\n"
				"    tokenFile: \"%s\"\n",
				rbac_account_user(i), p);
			free(p);
		} else {
			put_user(f, rbac_account_user(i), rbac_account_token(i));
		}
	}
	fputs("preferences: {}\n", f);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		log_error("cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		free(tmp);
		return false;
	}
	free(tmp);
	return true;
}

static void stop_now_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	stopping = true;
	event_base_loopbreak(arg);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	static bool signalled;
	struct event_base *base = arg;
	log_info("signal %d: stopping", (int)sig);
	if (signalled) {
		stop_now_cb(-1, 0, base);
		return;
	}
	signalled = true;
	/* Open watches end with their last chunk, and the loop runs a moment
	 * longer so that evhttp sends it and lets go of those requests, as it
	 * does of every finished one, before the server is freed. */
	watch_close_all(false);
	struct timeval flush = {0, 200000};
	if (event_base_once(base, -1, EV_TIMEOUT, stop_now_cb, base, &flush) != 0)
		stop_now_cb(-1, 0, base);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"kubeconfig-out", required_argument, NULL, 'k'},
		{"config", required_argument, NULL, 'c'},
		{"log-level", required_argument, NULL, 'v'},
		{"rbac", required_argument, NULL, 'r'},
		{"plain-http", no_argument, NULL, 'p'},
		{"openapi", required_argument, NULL, 'o'},
		{"es-api", required_argument, NULL, 'e'},
		{"pod-network", required_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *listen = NULL, *kubeconfig = NULL, *config = NULL, *level_arg = NULL;
	const char *openapi = NULL, *es_api = NULL, *podnet = NULL;
	char *host = NULL, *err = NULL;
	int port = 0, bound = 0, opt, rc = 1;
	const char **rbac_files = NULL;
	int nrbac = 0;
	bool plain = false;
	char *ca_pem = NULL;
	enum log_level level;
	struct event_base *base = NULL;
	struct event *sigterm = NULL, *sigint = NULL, *rotation = NULL;

	while ((opt = getopt_long(argc, argv, "l:k:c:v:r:o:e:n:ph", opts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			listen = optarg;
			break;
		case 'k':
			kubeconfig = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'v':
			level_arg = optarg;
			break;
		case 'r':
			rbac_files = xrealloc(rbac_files, (size_t)(nrbac + 1) * sizeof(char *));
			rbac_files[nrbac++] = optarg;
			break;
		case 'p':
			plain = true;
			break;
		case 'o':
			openapi = optarg;
			break;
		case 'e':
			es_api = optarg;
			break;
		case 'n':
			podnet = optarg;
			break;
		case 'h':
			free(rbac_files);
			usage(stdout);
			return 0;
		default:
			free(rbac_files);
			usage(stderr);
			return 2;
		}
	}
	if (!listen || !kubeconfig || optind != argc) {
		free(rbac_files);
		usage(stderr);
		return 2;
	}
	if (!simconf_split_listen(listen, &host, &port)) {
		fprintf(stderr, "esaas-sim: --listen: HOST:PORT expected, got \"%s\"\n", listen);
		free(rbac_files);
		return 2;
	}
	rbac_init();
	for (int i = 0; i < nrbac; i++) {
		if (!rbac_load_file(rbac_files[i], &err)) {
			fprintf(stderr, "esaas-sim: --rbac: %s\n", err);
			free(err);
			free(rbac_files);
			free(host);
			rbac_free();
			return 2;
		}
	}
	free(rbac_files);
	if (!simconf_load(config, &err)) {
		fprintf(stderr, "esaas-sim: %s\n", err);
		free(err);
		free(host);
		simconf_free();
		rbac_free();
		return 2;
	}
	if (!log_parse_level(level_arg ? level_arg : simconf_get()->log_level, &level))
		level = LOG_INFO;
	if (!log_setup(level, LOG_FORMAT_TEXT, NULL)) {
		fprintf(stderr, "esaas-sim: cannot set up logging\n");
		free(host);
		simconf_free();
		rbac_free();
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (openapi && !schema_load(openapi, &err)) {
		fprintf(stderr, "esaas-sim: --openapi: %s\n", err);
		free(err);
		free(host);
		simconf_free();
		rbac_free();
		return 2;
	}
	if (!openapi)
		log_warn("no --openapi: unknown fields are kept as sent");
	if (es_api && !esspec_load(es_api, &err)) {
		fprintf(stderr, "esaas-sim: --es-api: %s\n", err);
		free(err);
		free(host);
		schema_free();
		simconf_free();
		rbac_free();
		return 2;
	}
	if (!es_api)
		log_warn("no --es-api: Elasticsearch accepts every query parameter");

	store_init();
	store_set_event_cb(watch_record);
	rbac_seed_store();
	record_init();
	faults_init();
	if (simconf_get()->faults && !faults_add(simconf_get()->faults, &err)) {
		log_error("faults in %s: %s", config, err);
		free(err);
		goto cleanup;
	}
	base = event_base_new();
	if (!plain && !sim_tls_init(host, &ca_pem, &err)) {
		log_error("%s", err);
		free(err);
		goto cleanup;
	}
	if (!apiserver_start(base, host, port, !plain, &bound, &err)) {
		log_error("%s", err);
		free(err);
		goto cleanup;
	}
	if (podnet) {
		char *phost = NULL;
		int pport = 0, pbound = 0;
		bool ok = simconf_split_listen(podnet, &phost, &pport) &&
			  podnet_start(base, phost, pport, &pbound, &err);
		if (!ok) {
			log_error("--pod-network %s: %s", podnet, err ? err : "HOST:PORT expected");
			free(err);
			free(phost);
			goto cleanup;
		}
		log_info("pod network on %s:%d", phost, pbound);
		free(phost);
	}
	watch_init(base);
	controllers_init(base);
	sim_es_init(base);
	if (simconf_get()->token_life_ms > 0) {
		/* Bound tokens, in files beside the kubeconfig. */
		const char *slash = strrchr(kubeconfig, '/');
		token_dir =
			slash ? xstrndup(kubeconfig, (size_t)(slash - kubeconfig)) : xstrdup(".");
		rbac_set_token_life(simconf_get()->token_life_ms);
		if (!write_tokens())
			goto cleanup;
		rbac_set_rotation_hook(rotate_due);
		int64_t every = simconf_get()->token_life_ms / 20;
		if (every > 1000)
			every = 1000;
		if (every < 1)
			every = 1;
		struct timeval tv = {(time_t)(every / 1000), (suseconds_t)(every % 1000) * 1000};
		rotation = event_new(base, -1, EV_PERSIST, rotate_cb, NULL);
		event_add(rotation, &tv);
	}
	if (!write_kubeconfig(kubeconfig, host, bound, ca_pem))
		goto cleanup;
	sigterm = evsignal_new(base, SIGTERM, signal_cb, base);
	sigint = evsignal_new(base, SIGINT, signal_cb, base);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	log_info("esaas-sim serving %s on %s:%d (%d nodes), kubeconfig %s",
		 plain ? "plain HTTP" : "HTTPS", host, bound, simconf_get()->node_count,
		 kubeconfig);
	/* The line to look for when a run is to be repeated. */
	log_info("seed %llu (%s)", (unsigned long long)simconf_get()->seed,
		 simconf_get()->seed_given
			 ? "from the configuration"
			 : "drawn; give seed: in the configuration to repeat this run");

	/* Objects unlinked during a callback are freed between iterations. */
	while (!stopping) {
		if (event_base_loop(base, EVLOOP_ONCE) < 0)
			break;
		store_reap();
	}
	rc = 0;
cleanup:
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (rotation)
		event_free(rotation);
	free(token_dir);
	watch_free();
	apiserver_stop();
	podnet_stop();
	sim_tls_free();
	free(ca_pem);
	rbac_free();
	schema_free();
	esspec_free();
	sim_es_free();
	esdisk_free();
	controllers_free();
	store_free();
	faults_free();
	record_free();
	if (base)
		event_base_free(base);
	simconf_free();
	free(host);
	log_close();
	return rc;
}
