/*
 * The kinds' OpenAPI schemas, for what the API server does with fields it
 * does not know.  A JSON body (create, update, merge patch) is decoded
 * strictly: unknown fields are dropped, and reported as the decoder names
 * them ("spec.template.spec.containers[0].foo"); a server-side apply
 * body is converted to a typed value, which refuses them, named as
 * structured-merge-diff names paths (".spec.template.spec.containers
 * [name=\"es\"].foo").
 *
 * The schemas are the API server's OpenAPI v3 documents
 * (/openapi/v3/api/v1 and /openapi/v3/apis/GROUP/VERSION), read from a
 * folder at start (esaas-sim --openapi DIR: DIR/api/v1.json,
 * DIR/apis/apps/v1.json, ...); a kind without one is taken as it comes.
 */
#ifndef SIM_SCHEMA_H
#define SIM_SCHEMA_H

#include <stdbool.h>
#include <jansson.h>

#include "common/util.h"

/* Read every document under dir that exists; false (with *err) when a
 * file is there but unreadable, or when none is. */
bool schema_load(const char *dir, char **err) MUST_CHECK;
void schema_free(void);
/* Whether the kind's schema is known. */
bool schema_known(const char *group, const char *version, const char *kind);

enum schema_paths {
	SCHEMA_PATHS_JSON, /* spec.containers[0].foo */
	SCHEMA_PATHS_SMD,  /* .spec.containers[name="c"].foo */
};

/* The fields of obj its kind's schema does not declare, in document
 * order, as a new array of path strings (empty when none, or when the kind
 * has no schema); removed from obj when drop. */
json_t *schema_unknown_fields(const char *group, const char *version, const char *kind, json_t *obj,
			      enum schema_paths style, bool drop);

#endif
