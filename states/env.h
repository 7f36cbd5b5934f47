/*
 * What the states of the cluster workflows work with: the Kubernetes API,
 * the HTTP client, and esaasd's configuration.  esaasd builds one and the
 * engine hands it to every handler (step_env).
 */
#ifndef ESAAS_STATES_ENV_H
#define ESAAS_STATES_ENV_H

struct kube;
struct kube_watches;
struct httpc;
struct config;

struct wf_env {
	struct kube *kube; /* NULL when no Kubernetes connection is configured */
	/* The namespaces' watches the waits wake on; NULL: they poll
	 * (kubernetes.watch false, or no Kubernetes connection). */
	struct kube_watches *watches;
	struct httpc *http;
	const struct config *cfg;
};

#endif
