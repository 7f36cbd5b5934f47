/*
 * The query parameters each Elasticsearch REST API takes, by version, and
 * what a node answers to one it does not know or to a value it cannot
 * parse.
 *
 * Elasticsearch's BaseRestHandler answers 400 illegal_argument_exception
 * "request [/_cat/nodes] contains unrecognized parameter: [local]" for a
 * parameter its handler did not read, and the handler itself refuses a
 * value it cannot parse (a health status, an expand_wildcards state, a
 * boolean) before anything else happens.  The parameters come from
 * Elastic's REST specification (rest-api-spec/api/, one JSON file an API), read at start
 * from a folder (esaas-sim --es-api DIR: the JSON files of
 * DIR/7.17/_json_spec and DIR/8.17/_json_spec): a 7.17.x node follows the 7.17 files, an
 * 8.0-8.17 node the 8.17 ones.  Other versions, and paths the files do
 * not have, are not checked.
 */
#ifndef SIM_ESSPEC_H
#define SIM_ESSPEC_H

#include <stdbool.h>

#include "common/util.h"

/* Read DIR/7.17 and DIR/8.17; false (with *err) when a file is there but
 * unreadable, or when neither folder holds a specification. */
bool esspec_load(const char *dir, char **err) MUST_CHECK;
void esspec_free(void);

/* The reason a node of version answers 400 illegal_argument_exception to
 * this request (newly allocated), or NULL when its specification has no
 * objection or there is none for the version or the path. */
char *esspec_refusal(const char *version, const char *method, const char *path,
		     const char *query_raw);

#endif
