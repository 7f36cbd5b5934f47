/*
 * Server-side apply's field ownership, as the API server keeps it in
 * metadata.managedFields (sigs.k8s.io/structured-merge-diff, used by
 * staging/src/k8s.io/apimachinery/pkg/util/managedfields).
 *
 * Each manager owns a set of fields, written as FieldsV1 ("f:spec":
 * {"f:replicas": {}}, list items by their merge keys as
 * "k:{\"name\":\"es\"}").  An apply owns exactly the fields of its
 * configuration; an update (PUT, merge patch, a create by POST) takes the
 * fields it changed from whoever owned them.  Lists that the strategic
 * schema merges by key (containers and volumes by name, container ports
 * by containerPort and protocol, ...) are merged item by item; other lists
 * are atomic.
 */
#ifndef SIM_MANAGED_H
#define SIM_MANAGED_H

#include <stdbool.h>
#include <jansson.h>

/*
 * manager applies config (a new reference is not taken) to live (NULL: the
 * object is created).  Returns the merged object, with metadata.managedFields
 * set, or NULL when a field that another manager owns would change and
 * force is false: *conflicts is then an array of {"manager": the manager as
 * the API server prints it, "field": the field's path} (free it).
 */
json_t *managed_apply(const json_t *live, const json_t *config, const char *manager,
		      const char *api_version, bool force, json_t **conflicts);

/*
 * The managedFields of obj after an update by manager (subresource: "" or
 * NULL for the main resource) turned old (NULL: a create) into obj.
 */
void managed_update(const json_t *old, json_t *obj, const char *manager, const char *api_version,
		    const char *subresource);

/* The message of the 409 for conflicts ("Apply failed with 1 conflict: ..."). Free it. */
char *managed_conflict_message(const json_t *conflicts);

#endif
