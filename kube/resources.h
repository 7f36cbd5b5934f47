/*
 * The kinds esaas touches, where they live in the API, and the verbs its
 * client uses on each: one table, the source of truth for the client's
 * paths and for the RBAC rules esaas needs.
 */
#ifndef ESAAS_KUBE_RESOURCES_H
#define ESAAS_KUBE_RESOURCES_H

#include <stdbool.h>

struct kube_resource {
	const char *kind;	 /* StatefulSet */
	const char *api_version; /* apps/v1 */
	const char *plural;	 /* statefulsets, or statefulsets/scale */
	bool namespaced;
	const char *verbs; /* space-separated, as RBAC spells them */
};

extern const struct kube_resource kube_resources[];
extern const int kube_resources_count;

const struct kube_resource *kube_resource_find(const char *api_version, const char *kind);
/* "/api/v1" or "/apis/apps/v1" */
const char *kube_resource_prefix(const struct kube_resource *r);

#endif
