/*
 * Small jansson helpers shared by the daemon, esaasctl and the simulator.
 */
#ifndef ESAAS_COMMON_JSON_H
#define ESAAS_COMMON_JSON_H

#include <jansson.h>

/*
 * The string value of obj's member key, or NULL when obj is NULL or not an
 * object, the member is missing, or it is not a string.  The result is
 * borrowed from obj: valid as long as obj holds the member.
 */
const char *json_str(const json_t *obj, const char *key);

/*
 * s cut to at most max bytes (max >= 64), whole UTF-8 characters only,
 * ending with a note that says how long it was: "...[cut: 81234 bytes in
 * all]".  A new string (free it); s itself when it fits, copied.
 */
char *json_text_cut(const char *s, size_t max);

/*
 * doc made to fit in max bytes of compact JSON (max >= 256) by cutting its
 * longest strings, each with json_text_cut()'s note, so that what stays is
 * valid JSON of the same shape.  When cutting strings is not enough (a
 * long array of short items) the document becomes {"cut": "<its text,
 * cut>"}.  A new reference (doc's own when it fits).
 */
json_t *json_bound(json_t *doc, size_t max);

#endif
