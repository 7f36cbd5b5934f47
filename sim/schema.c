#include "sim/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/json.h"
#include "common/util.h"

/* The documents' components.schemas, merged: name -> schema. */
static json_t *schemas;
/* "group/version/Kind" -> the name of its schema. */
static json_t *by_kind;

static const char *const documents[] = {
	"api/v1.json",
	"apis/apps/v1.json",
	"apis/policy/v1.json",
	"apis/storage.k8s.io/v1.json",
};

static void index_kinds(void)
{
	const char *name;
	json_t *s;
	json_object_foreach (schemas, name, s) {
		size_t i;
		json_t *gvk;
		json_array_foreach (json_object_get(s, "x-kubernetes-group-version-kind"), i, gvk) {
			char *key = xasprintf("%s/%s/%s", json_str(gvk, "group"),
					      json_str(gvk, "version"), json_str(gvk, "kind"));
			json_object_set_new(by_kind, key, json_string(name));
			free(key);
		}
	}
}

bool schema_load(const char *dir, char **err)
{
	int read = 0;
	schema_free();
	schemas = json_object();
	by_kind = json_object();
	for (size_t i = 0; i < ARRAY_SIZE(documents); i++) {
		char *path = xasprintf("%s/%s", dir, documents[i]);
		struct stat st;
		if (stat(path, &st) != 0) {
			free(path);
			continue;
		}
		json_error_t jerr;
		json_t *doc = json_load_file(path, 0, &jerr);
		json_t *comp = json_object_get(json_object_get(doc, "components"), "schemas");
		if (!json_is_object(comp)) {
			*err = xasprintf("%s: not an OpenAPI v3 document%s%s", path,
					 doc ? "" : ": ", doc ? "" : jerr.text);
			json_decref(doc);
			free(path);
			schema_free();
			return false;
		}
		json_object_update(schemas, comp);
		json_decref(doc);
		free(path);
		read++;
	}
	if (read == 0) {
		*err = xasprintf("%s: no OpenAPI document (api/v1.json, apis/apps/v1.json, ...)",
				 dir);
		schema_free();
		return false;
	}
	index_kinds();
	return true;
}

void schema_free(void)
{
	json_decref(schemas);
	json_decref(by_kind);
	schemas = by_kind = NULL;
}

static json_t *kind_schema(const char *group, const char *version, const char *kind)
{
	if (!by_kind)
		return NULL;
	char *key = xasprintf("%s/%s/%s", group, version, kind);
	const char *name = json_str(by_kind, key);
	free(key);
	return name ? json_object_get(schemas, name) : NULL;
}

bool schema_known(const char *group, const char *version, const char *kind)
{
	return kind_schema(group, version, kind) != NULL;
}

/* Follow $ref and the single allOf the documents wrap references in. */
static json_t *resolve(json_t *s)
{
	for (int depth = 0; s && depth < 8; depth++) {
		const char *ref = json_str(s, "$ref");
		json_t *all = json_object_get(s, "allOf");
		if (ref && !strncmp(ref, "#/components/schemas/", 21))
			s = json_object_get(schemas, ref + 21);
		else if (json_array_size(all) == 1)
			s = json_array_get(all, 0);
		else
			break;
	}
	return s;
}

/* A value as structured-merge-diff writes it in a key: strings quoted. */
static char *key_value(const json_t *v)
{
	return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

/*
 * The path element of a list item, as structured-merge-diff names it: by
 * its keys in an associative list ([name="c"], [containerPort=80,
 * protocol="TCP"]; the patch merge key of the built-in types counts as
 * one), by value in a set ([="x"]), else by index ([0]).
 */
static char *item_element(json_t *list_schema, json_t *item, size_t index, enum schema_paths style)
{
	if (style == SCHEMA_PATHS_JSON)
		return xasprintf("[%zu]", index);
	json_t *keys = json_object_get(list_schema, "x-kubernetes-list-map-keys");
	const char *type = json_str(list_schema, "x-kubernetes-list-type");
	const char *strategy = json_str(list_schema, "x-kubernetes-patch-strategy");
	const char *merge_key = json_str(list_schema, "x-kubernetes-patch-merge-key");
	json_t *own = NULL;
	if (!json_array_size(keys) && merge_key && strategy && strstr(strategy, "merge"))
		keys = own = json_pack("[s]", merge_key);
	if (json_array_size(keys) && json_is_object(item)) {
		char *out = xstrdup("[");
		size_t i;
		json_t *k;
		json_array_foreach (keys, i, k) {
			json_t *v = json_object_get(item, json_string_value(k));
			if (!v)
				continue;
			char *val = key_value(v);
			char *next = xasprintf("%s%s%s=%s", out, out[1] ? "," : "",
					       json_string_value(k), val);
			free(val);
			free(out);
			out = next;
		}
		json_decref(own);
		char *done = xasprintf("%s]", out);
		free(out);
		return done;
	}
	json_decref(own);
	if (type && !strcmp(type, "set") && !json_is_object(item) && !json_is_array(item)) {
		char *val = key_value(item);
		char *out = xasprintf("[=%s]", val);
		free(val);
		return out;
	}
	return xasprintf("[%zu]", index);
}

static void walk(json_t *s, json_t *v, const char *path, enum schema_paths style, bool drop,
		 json_t *found)
{
	s = resolve(s);
	if (!s || !v)
		return;
	if (json_is_array(v)) {
		json_t *items = json_object_get(s, "items");
		size_t i;
		json_t *item;
		if (!items)
			return;
		json_array_foreach (v, i, item) {
			char *el = item_element(s, item, i, style);
			char *p = xasprintf("%s%s", path, el);
			walk(items, item, p, style, drop, found);
			free(p);
			free(el);
		}
		return;
	}
	if (!json_is_object(v) ||
	    json_is_true(json_object_get(s, "x-kubernetes-preserve-unknown-fields")))
		return;
	json_t *props = json_object_get(s, "properties");
	json_t *more = json_object_get(s, "additionalProperties");
	const char *key;
	json_t *child;
	void *tmp;
	json_object_foreach_safe (v, tmp, key, child) {
		char *p;
		if (style == SCHEMA_PATHS_SMD || *path)
			p = xasprintf("%s.%s", path, key);
		else
			p = xstrdup(key);
		json_t *ps = json_object_get(props, key);
		if (ps)
			walk(ps, child, p, style, drop, found);
		else if (json_is_object(more))
			walk(more, child, p, style, drop, found);
		else if (props && !json_is_true(more)) {
			json_array_append_new(found, json_string(p));
			if (drop)
				json_object_del(v, key);
		}
		free(p);
	}
}

json_t *schema_unknown_fields(const char *group, const char *version, const char *kind, json_t *obj,
			      enum schema_paths style, bool drop)
{
	json_t *found = json_array();
	json_t *s = kind_schema(group, version, kind);
	if (s)
		walk(s, obj, "", style, drop, found);
	return found;
}
