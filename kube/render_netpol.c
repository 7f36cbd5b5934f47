/*
 * The namespace's NetworkPolicies: nothing reaches a cluster's pods but
 * what is listed here (https://kubernetes.io/docs/concepts/services-networking/network-policies/).
 *
 *   esaas-default-deny   every pod of the namespace, ingress, no rule: what
 *                        no other policy admits is dropped
 *   esaas-cluster        the cluster's own pods (its nodes and Kibana, by
 *                        the esaas.io/cluster label) to its transport and
 *                        HTTP ports
 *   esaas-control        esaas to the HTTP ports (Elasticsearch's, Kibana's)
 *   esaas-tenant         the sources the spec's network.allow lists, to the
 *                        same ports; only when it lists some
 *
 * Policies add up: a pod is reached by what any of them admits.  How esaas
 * reaches Elasticsearch decides esaas-control.  By default it goes through
 * the API server's service proxy, whose connections to pods come from the
 * API server itself: on a real cluster its host's address (the control
 * plane's nodes, or a managed control plane's range), never a pod, so only
 * an ipBlock can admit it: kubernetes.api_server_cidrs.  An esaasd that runs
 * in the cluster and calls Elasticsearch directly (elasticsearch.url) is a
 * pod of its namespace: kubernetes.esaasd_namespace admits that namespace
 * by the label the API server gives every namespace,
 * kubernetes.io/metadata.name.  With neither, esaas cannot know where its
 * calls come from, and the HTTP ports stay open to every address (esaasd
 * warns at start); the transport port is closed to other namespaces
 * whatever the configuration.
 *
 * Egress is left alone: Elasticsearch calls out only where its settings
 * say (reindex.remote.*, snapshots), and those are esaas's to set
 * (kube/spec.c).
 */
#include "kube/render_internal.h"

#include <string.h>

#define NAMESPACE_NAME_LABEL "kubernetes.io/metadata.name"

/* The cluster's pods: its nodes and its Kibana. */
static json_t *cluster_pods(const struct ctx *c)
{
	return json_pack("{s:{s:s}}", "matchLabels", RENDER_LABEL_CLUSTER, c->spec->name);
}

static json_t *tcp_ports(int a, int b)
{
	return json_pack("[{s:s, s:i}, {s:s, s:i}]", "protocol", "TCP", "port", a, "protocol",
			 "TCP", "port", b);
}

static json_t *policy(const struct ctx *c, const char *name, json_t *pods, json_t *ingress)
{
	json_t *np = render_object("networking.k8s.io/v1", "NetworkPolicy",
				   render_metadata(c, name, -1));
	json_t *spec = json_pack("{s:o, s:[s]}", "podSelector", pods, "policyTypes", "Ingress");

	if (ingress)
		json_object_set_new(spec, "ingress", ingress);
	json_object_set_new(np, "spec", spec);
	return np;
}

static json_t *ip_block(const char *cidr)
{
	return json_pack("{s:{s:s}}", "ipBlock", "cidr", cidr);
}

static json_t *namespace_peer(const char *ns)
{
	return json_pack("{s:{s:{s:s}}}", "namespaceSelector", "matchLabels", NAMESPACE_NAME_LABEL,
			 ns);
}

static json_t *control_peers(const struct ctx *c)
{
	json_t *from = json_array();
	const char *list = c->opts->api_server_cidrs;
	char cidr[64];

	while (list && spec_list_next(&list, cidr, sizeof(cidr)))
		json_array_append_new(from, ip_block(cidr));
	if (c->opts->esaasd_namespace && c->opts->esaasd_namespace[0])
		json_array_append_new(from, namespace_peer(c->opts->esaasd_namespace));
	if (json_array_size(from) == 0) {
		json_array_append_new(from, ip_block("0.0.0.0/0"));
		json_array_append_new(from, ip_block("::/0"));
	}
	return from;
}

static json_t *tenant_peers(const struct ctx *c)
{
	json_t *from = json_array();

	for (size_t i = 0; i < c->spec->network.nallow; i++) {
		const struct spec_peer *p = &c->spec->network.allow[i];

		json_array_append_new(from, p->kind == SPEC_PEER_CIDR ? ip_block(p->value)
								      : namespace_peer(p->value));
	}
	return from;
}

void render_network_policies(const struct ctx *c, json_t *list)
{
	json_array_append_new(list, policy(c, RENDER_NETPOL_DENY, json_object(), NULL));
	json_array_append_new(
		list,
		policy(c, RENDER_NETPOL_CLUSTER, cluster_pods(c),
		       json_pack("[{s:[{s:o}], s:o}]", "from", "podSelector", cluster_pods(c),
				 "ports", tcp_ports(RENDER_HTTP_PORT, RENDER_TRANSPORT_PORT))));
	json_array_append_new(list,
			      policy(c, RENDER_NETPOL_CONTROL, cluster_pods(c),
				     json_pack("[{s:o, s:o}]", "from", control_peers(c), "ports",
					       tcp_ports(RENDER_HTTP_PORT, RENDER_KIBANA_PORT))));
	if (c->spec->network.nallow > 0)
		json_array_append_new(
			list, policy(c, RENDER_NETPOL_TENANT, cluster_pods(c),
				     json_pack("[{s:o, s:o}]", "from", tenant_peers(c), "ports",
					       tcp_ports(RENDER_HTTP_PORT, RENDER_KIBANA_PORT))));
}
