/*
 * What the states of the cluster workflows work with: the Kubernetes API,
 * the HTTP client, and esaasd's configuration.  esaasd builds one and the
 * engine hands it to every handler (step_env).
 */
#ifndef ESAAS_STATES_ENV_H
#define ESAAS_STATES_ENV_H

struct kube;
struct httpc;
struct config;

struct wf_env {
	struct kube *kube; /* NULL when no Kubernetes connection is configured */
	struct httpc *http;
	const struct config *cfg;
};

#endif
