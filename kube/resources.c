#include "kube/resources.h"

#include <string.h>

/*
 * apply is PATCH, and an apply that creates the object is also authorized
 * as "create" (kube-apiserver: handlers/patch.go, createAuthorizerAttributes),
 * so every kind esaas applies has both; the service proxy is "get create
 * update patch delete" on services/proxy because Elasticsearch calls use
 * every method.
 */
const struct kube_resource kube_resources[] = {
	{"Namespace", "v1", "namespaces", false, "get list create patch delete"},
	{"ConfigMap", "v1", "configmaps", true, "get list create patch delete"},
	/* A cluster's certificates and its users' passwords (security, 6.8+). */
	{"Secret", "v1", "secrets", true, "get list create patch delete"},
	{"Service", "v1", "services", true, "get list create patch delete"},
	{"Service", "v1", "services/proxy", true, "get create update patch delete"},
	/* watch: the waits wake on the pods and EndpointSlices of a
	 * cluster's namespace (kube/watch.h). */
	{"Pod", "v1", "pods", true, "get list watch create delete"},
	{"ResourceQuota", "v1", "resourcequotas", true, "get list create patch delete"},
	{"StatefulSet", "apps/v1", "statefulsets", true, "get list create patch delete"},
	{"StatefulSet", "apps/v1", "statefulsets/scale", true, "get patch"},
	{"Deployment", "apps/v1", "deployments", true, "get list create patch delete"},
	{"Deployment", "apps/v1", "deployments/scale", true, "get patch"},
	{"PodDisruptionBudget", "policy/v1", "poddisruptionbudgets", true,
	 "get list create patch delete"},
	/* Applied only: they go with their namespace (kube/render_netpol.c). */
	{"NetworkPolicy", "networking.k8s.io/v1", "networkpolicies", true, "create patch"},
	/* The nodes: room for a create or a scale (read before either), and
	 * where to put the data volumes: a StorageClass and the
	 * PersistentVolumes (cluster-scoped) per cluster; the claims are the
	 * StatefulSets' (read only, to tell why a pod waits). */
	{"Node", "v1", "nodes", false, "list"},
	{"StorageClass", "storage.k8s.io/v1", "storageclasses", false,
	 "get list create patch delete"},
	{"PersistentVolume", "v1", "persistentvolumes", false, "get list create patch delete"},
	{"PersistentVolumeClaim", "v1", "persistentvolumeclaims", true, "get list"},
	/* Whether a Service has an endpoint yet, before a wait asks
	 * Elasticsearch through it (watched only, kube/watch.h). */
	{"EndpointSlice", "discovery.k8s.io/v1", "endpointslices", true, "watch"},
	/* Why a workload made no pod: its FailedCreate events (a quota, Pod
	 * Security). */
	{"Event", "v1", "events", true, "list"},
};

const int kube_resources_count = sizeof(kube_resources) / sizeof(kube_resources[0]);

const struct kube_resource *kube_resource_find(const char *api_version, const char *kind)
{
	if (!api_version || !kind)
		return NULL;
	for (int i = 0; i < kube_resources_count; i++) {
		const struct kube_resource *r = &kube_resources[i];
		if (strcmp(r->kind, kind) == 0 && strcmp(r->api_version, api_version) == 0 &&
		    !strchr(r->plural, '/'))
			return r;
	}
	return NULL;
}

const char *kube_resource_prefix(const struct kube_resource *r)
{
	return strcmp(r->api_version, "v1") == 0 ? "/api" : "/apis";
}
