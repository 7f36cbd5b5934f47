/*
 * YAML to JSON: the first document of a YAML stream as a jansson value.
 * Server-side apply bodies are YAML (JSON is YAML too), and so are the
 * simulator's configuration and esaasctl's spec files.
 */
#ifndef ESAAS_COMMON_YAMLJSON_H
#define ESAAS_COMMON_YAMLJSON_H

#include <stddef.h>
#include <jansson.h>

/*
 * Parse buf (len bytes).  Returns a new reference, or NULL with *err set
 * to an allocated message (the caller frees it).  An empty stream is JSON
 * null.
 */
json_t *yamljson_parse(const char *buf, size_t len, char **err);
/* The same for a file. */
json_t *yamljson_load_file(const char *path, char **err);

#endif
