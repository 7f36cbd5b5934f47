/* Secrets and ConfigMaps as the API server keeps them (sim/configdata.h). */
#include "sim/configdata.h"

#include <string.h>

#include "common/base64.h"
#include "common/util.h"
#include "sim/apiserver.h"
#include "sim/store.h"

/* core.MaxSecretSize and the ConfigMap's limit alike: 1 MiB of values. */
#define MAX_DATA_BYTES (1024 * 1024)

void configdata_secret_defaults(json_t *secret)
{
	json_t *strings = json_object_get(secret, "stringData");
	const char *key;
	json_t *v;

	if (json_is_object(strings) && json_object_size(strings) > 0) {
		json_t *data = json_object_get(secret, "data");
		if (!json_is_object(data)) {
			data = json_object();
			json_object_set_new(secret, "data", data);
		}
		json_object_foreach (strings, key, v) {
			if (!json_is_string(v))
				continue;
			char *b64 = base64_encode(json_string_value(v), json_string_length(v));
			json_object_set_new(data, key, json_string(b64));
			free(b64);
		}
	}
	json_object_del(secret, "stringData");
	const char *type = json_string_value(json_object_get(secret, "type"));
	if (!type || !*type)
		json_object_set_new(secret, "type", json_string("Opaque"));
}

/* validation.IsConfigMapKey: [-._a-zA-Z0-9]+, at most 253, not . or .. */
static const char *bad_key(const char *key)
{
	size_t n = strlen(key);
	if (n == 0)
		return "a valid config key must consist of alphanumeric characters, '-', '_' or "
		       "'.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
		       "validation is '[-._a-zA-Z0-9]+')";
	if (n > 253)
		return "must be no more than 253 characters";
	if (strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") != n)
		return "a valid config key must consist of alphanumeric characters, '-', '_' or "
		       "'.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
		       "validation is '[-._a-zA-Z0-9]+')";
	if (!strcmp(key, "."))
		return "must not be '.'";
	if (!strcmp(key, ".."))
		return "must not be '..'";
	if (!strncmp(key, "..", 2))
		return "must not start with '..'";
	return NULL;
}

/* The keys of obj's member (data or binaryData) and their bytes, counted
 * into *size; base64 values decoded when b64. */
static void check_keys(const json_t *obj, const char *member, bool b64, size_t *size,
		       json_t *causes)
{
	const char *key;
	json_t *v;
	json_object_foreach (json_object_get(obj, member), key, v) {
		char *f = xasprintf("%s[%s]", member, key);
		const char *why = bad_key(key);
		if (why)
			apiserver_cause(causes, "FieldValueInvalid", f, "Invalid value: \"%s\": %s",
					key, why);
		if (!json_is_string(v)) {
			apiserver_cause(causes, "FieldValueInvalid", f,
					"Invalid value: a string is expected");
		} else if (b64) {
			unsigned char *raw = NULL;
			size_t len = 0;
			if (base64_decode(json_string_value(v), json_string_length(v), &raw, &len,
					  NULL))
				*size += len;
			else
				/* encoding/json's []byte, before validation. */
				apiserver_cause(causes, "FieldValueInvalid", f,
						"Invalid value: illegal base64 data");
			free(raw);
		} else {
			*size += json_string_length(v);
		}
		free(f);
	}
}

static bool has_key(const json_t *obj, const char *key)
{
	return json_object_get(json_object_get(obj, "data"), key) != NULL;
}

static void require(json_t *causes, const char *key)
{
	char *f = xasprintf("data[%s]", key);
	apiserver_cause(causes, "FieldValueRequired", f, "Required value");
	free(f);
}

/* What each built-in type needs in data (ValidateSecret's switch). */
static void check_type(const json_t *secret, json_t *causes)
{
	const char *type = json_string_value(json_object_get(secret, "type"));
	if (!type)
		return;
	if (!strcmp(type, "kubernetes.io/tls")) {
		if (!has_key(secret, "tls.crt"))
			require(causes, "tls.crt");
		if (!has_key(secret, "tls.key"))
			require(causes, "tls.key");
	} else if (!strcmp(type, "kubernetes.io/basic-auth")) {
		if (!has_key(secret, "username") && !has_key(secret, "password")) {
			require(causes, "username");
			require(causes, "password");
		}
	} else if (!strcmp(type, "kubernetes.io/ssh-auth")) {
		const char *v = json_string_value(
			json_object_get(json_object_get(secret, "data"), "ssh-privatekey"));
		if (!v || !*v)
			require(causes, "ssh-privatekey");
	} else if (!strcmp(type, "kubernetes.io/dockerconfigjson")) {
		if (!has_key(secret, ".dockerconfigjson"))
			require(causes, ".dockerconfigjson");
	} else if (!strcmp(type, "kubernetes.io/dockercfg")) {
		if (!has_key(secret, ".dockercfg"))
			require(causes, ".dockercfg");
	} else if (!strcmp(type, "kubernetes.io/service-account-token")) {
		const json_t *ann =
			json_object_get(json_object_get(secret, "metadata"), "annotations");
		const char *sa = json_string_value(
			json_object_get(ann, "kubernetes.io/service-account.name"));
		if (!sa || !*sa)
			apiserver_cause(causes, "FieldValueRequired",
					"metadata.annotations[kubernetes.io/service-account.name]",
					"Required value");
	}
}

void configdata_validate(const char *plural, const json_t *obj, json_t *causes)
{
	bool secret = !strcmp(plural, "secrets");
	size_t size = 0;

	check_keys(obj, "data", secret, &size, causes);
	if (!secret) {
		check_keys(obj, "binaryData", true, &size, causes);
		/* A key in both is refused (ValidateConfigMap). */
		const char *key;
		json_t *v;
		json_object_foreach (json_object_get(obj, "binaryData"), key, v) {
			if (json_object_get(json_object_get(obj, "data"), key)) {
				char *f = xasprintf("data[%s]", key);
				apiserver_cause(
					causes, "FieldValueInvalid", f,
					"Invalid value: \"%s\": duplicate of key present in "
					"binaryData",
					key);
				free(f);
			}
		}
	}
	if (size > MAX_DATA_BYTES)
		apiserver_cause(causes, "FieldValueTooLong", secret ? "data" : "",
				"Too long: must have at most %d bytes", MAX_DATA_BYTES);
	if (secret)
		check_type(obj, causes);
}

void configdata_validate_update(const char *plural, const json_t *old, const json_t *obj,
				json_t *causes)
{
	bool secret = !strcmp(plural, "secrets");

	if (secret && !json_equal(json_object_get(old, "type"), json_object_get(obj, "type")))
		apiserver_cause(causes, "FieldValueInvalid", "type",
				"Invalid value: \"%s\": field is immutable",
				json_string_value(json_object_get(obj, "type"))
					? json_string_value(json_object_get(obj, "type"))
					: "");
	if (!json_is_true(json_object_get(old, "immutable")))
		return;
	if (!json_is_true(json_object_get(obj, "immutable")))
		apiserver_cause(causes, "FieldValueForbidden", "immutable",
				"Forbidden: field is immutable when `immutable` is set");
	if (!json_equal(json_object_get(old, "data"), json_object_get(obj, "data")) &&
	    (json_object_size(json_object_get(old, "data")) ||
	     json_object_size(json_object_get(obj, "data"))))
		apiserver_cause(causes, "FieldValueForbidden", "data",
				"Forbidden: field is immutable when `immutable` is set");
	if (!secret &&
	    !json_equal(json_object_get(old, "binaryData"), json_object_get(obj, "binaryData")) &&
	    (json_object_size(json_object_get(old, "binaryData")) ||
	     json_object_size(json_object_get(obj, "binaryData"))))
		apiserver_cause(causes, "FieldValueForbidden", "binaryData",
				"Forbidden: field is immutable when `immutable` is set");
}

/* The object a kubelet reads, by plural ("secrets" or "configmaps"). */
static const json_t *namespaced(const char *plural, const char *ns, const char *name)
{
	struct store_obj *o = name && ns ? store_get(store_kind_by_plural(plural), ns, name) : NULL;
	return o ? o->body : NULL;
}

/* Whether the Secret's or ConfigMap's data (or binaryData) holds key. */
static bool holds(const json_t *obj, const char *key)
{
	return json_object_get(json_object_get(obj, "data"), key) ||
	       json_object_get(json_object_get(obj, "binaryData"), key);
}

char *configdata_missing_volume(const json_t *pod, const char *ns, char **volume)
{
	size_t i;
	json_t *v;

	*volume = NULL;
	json_array_foreach (json_object_get(json_object_get(pod, "spec"), "volumes"), i, v) {
		const json_t *src = json_object_get(v, "secret");
		bool secret = src != NULL;
		if (!src)
			src = json_object_get(v, "configMap");
		if (!src)
			continue;
		const char *name =
			json_string_value(json_object_get(src, secret ? "secretName" : "name"));
		bool optional = json_is_true(json_object_get(src, "optional"));
		const json_t *obj = namespaced(secret ? "secrets" : "configmaps", ns, name);
		char *why = NULL;
		if (!obj) {
			if (!optional)
				why = xasprintf("%s \"%s\" not found",
						secret ? "secret" : "configmap", name ? name : "");
		} else {
			size_t j;
			json_t *item;
			json_array_foreach (json_object_get(src, "items"), j, item) {
				const char *key = json_string_value(json_object_get(item, "key"));
				if (key && !holds(obj, key) && !optional) {
					why = xasprintf(
						secret ? "references non-existent secret key: %s"
						       : "configmap references non-existent "
							 "config key: %s",
						key);
					break;
				}
			}
		}
		if (why) {
			const char *vname = json_string_value(json_object_get(v, "name"));
			*volume = xstrdup(vname ? vname : "");
			return why;
		}
	}
	return NULL;
}

/* The error of one reference (a KeyRef's name, key and optional), or NULL. */
static char *missing_ref(const json_t *ref, bool secret, const char *ns)
{
	const char *name = json_string_value(json_object_get(ref, "name"));
	const char *key = json_string_value(json_object_get(ref, "key"));
	bool optional = json_is_true(json_object_get(ref, "optional"));
	const json_t *obj = namespaced(secret ? "secrets" : "configmaps", ns, name);

	if (optional)
		return NULL;
	if (!obj)
		return xasprintf("%s \"%s\" not found", secret ? "secret" : "configmap",
				 name ? name : "");
	/* A variable reads data only, never binaryData. */
	if (key && !json_object_get(json_object_get(obj, "data"), key))
		return xasprintf("couldn't find key %s in %s %s/%s", key,
				 secret ? "Secret" : "ConfigMap", ns, name);
	return NULL;
}

char *configdata_missing_env(const json_t *pod, const char *ns, const char *list, char **container)
{
	size_t i, j;
	json_t *c, *e;

	*container = NULL;
	json_array_foreach (json_object_get(json_object_get(pod, "spec"), list), i, c) {
		char *why = NULL;
		json_array_foreach (json_object_get(c, "envFrom"), j, e) {
			const json_t *s = json_object_get(e, "secretRef");
			const json_t *m = json_object_get(e, "configMapRef");
			why = s ? missing_ref(s, true, ns) : m ? missing_ref(m, false, ns) : NULL;
			if (why)
				break;
		}
		json_array_foreach (json_object_get(c, "env"), j, e) {
			if (why)
				break;
			const json_t *from = json_object_get(e, "valueFrom");
			const json_t *s = json_object_get(from, "secretKeyRef");
			const json_t *m = json_object_get(from, "configMapKeyRef");
			why = s ? missing_ref(s, true, ns) : m ? missing_ref(m, false, ns) : NULL;
		}
		if (why) {
			const char *name = json_string_value(json_object_get(c, "name"));
			*container = xstrdup(name ? name : "");
			return why;
		}
	}
	return NULL;
}
