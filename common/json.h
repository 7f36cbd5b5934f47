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

#endif
