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
#include "sim/controllers.h"
#include "sim/es.h"
#include "sim/faults.h"
#include "sim/record.h"
#include "sim/simconf.h"
#include "sim/store.h"

static volatile bool stopping;

static void usage(FILE *f)
{
	fprintf(f, "usage: esaas-sim --listen HOST:PORT --kubeconfig-out FILE [--config sim.yaml]\n"
		   "\n"
		   "  --listen HOST:PORT      where to serve (PORT 0: any free port)\n"
		   "  --kubeconfig-out FILE   write a kubeconfig for this simulator there\n"
		   "  --config FILE           nodes, timings, faults (YAML)\n"
		   "  --log-level LEVEL       debug, info, warn or error\n");
}

static bool split_listen(const char *s, char **host, int *port)
{
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s)
		return false;
	if (!parse_int(colon + 1, 0, 65535, port))
		return false;
	if (s[0] == '[' && colon[-1] == ']')
		*host = xstrndup(s + 1, (size_t)(colon - s - 2));
	else
		*host = xstrndup(s, (size_t)(colon - s));
	return true;
}

static bool write_kubeconfig(const char *path, const char *host, int port, const char *token)
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
		"    server: http://%s%s%s:%d\n"
		"contexts:\n"
		"- name: esaas-sim\n"
		"  context:\n"
		"    cluster: esaas-sim\n"
		"    user: esaas-sim\n"
		"    namespace: default\n"
		"current-context: esaas-sim\n"
		"users:\n"
		"- name: esaas-sim\n"
		"  user:\n"
		"    token: %s\n"
		"preferences: {}\n",
		ipv6 ? "[" : "", host, ipv6 ? "]" : "", port, token);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		log_error("cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		free(tmp);
		return false;
	}
	free(tmp);
	return true;
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;
	log_info("signal %d: stopping", (int)sig);
	stopping = true;
	event_base_loopbreak(base);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"kubeconfig-out", required_argument, NULL, 'k'},
		{"config", required_argument, NULL, 'c'},
		{"log-level", required_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *listen = NULL, *kubeconfig = NULL, *config = NULL, *level_arg = NULL;
	char *host = NULL, *err = NULL;
	int port = 0, bound = 0, opt, rc = 1;
	char token[65];
	enum log_level level;
	struct event_base *base = NULL;
	struct event *sigterm = NULL, *sigint = NULL;

	while ((opt = getopt_long(argc, argv, "l:k:c:v:h", opts, NULL)) != -1) {
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
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!listen || !kubeconfig || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (!split_listen(listen, &host, &port)) {
		fprintf(stderr, "esaas-sim: --listen: HOST:PORT expected, got \"%s\"\n", listen);
		return 2;
	}
	if (!simconf_load(config, &err)) {
		fprintf(stderr, "esaas-sim: %s\n", err);
		free(err);
		free(host);
		simconf_free();
		return 2;
	}
	if (!log_parse_level(level_arg ? level_arg : simconf_get()->log_level, &level))
		level = LOG_INFO;
	if (!log_setup(level, LOG_FORMAT_TEXT, NULL)) {
		fprintf(stderr, "esaas-sim: cannot set up logging\n");
		free(host);
		simconf_free();
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);

	store_init();
	record_init();
	faults_init();
	if (simconf_get()->faults && !faults_add(simconf_get()->faults, &err)) {
		log_error("faults in %s: %s", config, err);
		free(err);
		goto cleanup;
	}
	base = event_base_new();
	rand_hex(token, 32);
	if (!apiserver_start(base, host, port, token, &bound, &err)) {
		log_error("%s", err);
		free(err);
		goto cleanup;
	}
	controllers_init(base);
	sim_es_init(base);
	if (!write_kubeconfig(kubeconfig, host, bound, token))
		goto cleanup;
	sigterm = evsignal_new(base, SIGTERM, signal_cb, base);
	sigint = evsignal_new(base, SIGINT, signal_cb, base);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	log_info("esaas-sim serving on %s:%d (%d nodes), kubeconfig %s", host, bound,
		 simconf_get()->node_count, kubeconfig);

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
	apiserver_stop();
	sim_es_free();
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
