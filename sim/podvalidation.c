/*
 * The API server's validation of a pod spec (pkg/apis/core/validation/
 * validation.go, ValidatePodSpec) for the parts esaas renders: volumes and
 * their sources, the containers' and init containers' names, ports,
 * volume mounts, resources, probes and securityContext, and the pod's
 * anti-affinity.  Each refusal is a cause with the field's path and the
 * message field.Error writes ("Required value", "Invalid value: ...",
 * "Duplicate value: ...", "Not found: ...", "Forbidden: ...",
 * "Unsupported value: ...").
 */
#include "sim/podvalidation.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "kube/spec.h"
#include "sim/apiserver.h"
#include "sim/controllers.h"

static const char MSG_LABEL[] =
	"a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
	"must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
	"used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

/* The volume sources the simulator knows; more than one is Forbidden at
 * the second, none is Required (validateVolumeSource). */
static const char *const volume_sources[] = {
	"hostPath",
	"emptyDir",
	"gcePersistentDisk",
	"awsElasticBlockStore",
	"gitRepo",
	"secret",
	"nfs",
	"iscsi",
	"glusterfs",
	"persistentVolumeClaim",
	"rbd",
	"flexVolume",
	"cinder",
	"cephfs",
	"flocker",
	"downwardAPI",
	"fc",
	"azureFile",
	"configMap",
	"vsphereVolume",
	"quobyte",
	"azureDisk",
	"photonPersistentDisk",
	"projected",
	"portworxVolume",
	"scaleIO",
	"storageos",
	"csi",
	"ephemeral",
};

static void check_volumes(json_t *causes, const json_t *spec, const char *prefix, json_t *names)
{
	size_t i;
	json_t *v;
	json_array_foreach (json_object_get(spec, "volumes"), i, v) {
		char *at = xasprintf("%s.volumes[%zu]", prefix, i);
		char *f = xasprintf("%s.name", at);
		const char *name = json_str(v, "name");
		if (!name || !*name)
			apiserver_cause(causes, "FieldValueRequired", f, "Required value");
		else if (json_object_get(names, name))
			apiserver_cause(causes, "FieldValueDuplicate", f, "Duplicate value: \"%s\"",
					name);
		else if (!spec_is_dns_label(name, SPEC_DNS_LABEL_MAX))
			apiserver_cause(causes, "FieldValueInvalid", f, "Invalid value: \"%s\": %s",
					name, MSG_LABEL);
		if (name && *name)
			json_object_set_new(names, name, json_true());
		free(f);
		int n = 0;
		for (size_t s = 0; s < ARRAY_SIZE(volume_sources); s++) {
			if (!json_object_get(v, volume_sources[s]))
				continue;
			if (n++ > 0) {
				f = xasprintf("%s.%s", at, volume_sources[s]);
				apiserver_cause(
					causes, "FieldForbidden", f,
					"Forbidden: may not specify more than 1 volume type");
				free(f);
			}
		}
		if (n == 0)
			apiserver_cause(causes, "FieldValueRequired", at,
					"Required value: must specify a volume type");
		json_t *hp = json_object_get(v, "hostPath");
		const char *path = json_str(hp, "path");
		if (hp && (!path || !*path)) {
			f = xasprintf("%s.hostPath.path", at);
			apiserver_cause(causes, "FieldValueRequired", f, "Required value");
			free(f);
		} else if (hp && strstr(path, "..")) {
			/* validatePathNoBacksteps: a ".." element. */
			char *copy = xstrdup(path);
			bool back = false;
			for (char *p = copy, *e; p && !back; p = e ? e + 1 : NULL) {
				e = strchr(p, '/');
				if (e)
					*e = '\0';
				back = !strcmp(p, "..");
			}
			free(copy);
			if (back) {
				f = xasprintf("%s.hostPath.path", at);
				apiserver_cause(causes, "FieldValueInvalid", f,
						"Invalid value: \"%s\": must not contain '..'",
						path);
				free(f);
			}
		}
		const char *type = json_str(hp, "type");
		static const char *const types[] = {
			"",	"BlockDevice",	"CharDevice", "Directory", "DirectoryOrCreate",
			"File", "FileOrCreate", "Socket"};
		bool known = !type;
		for (size_t t = 0; type && t < ARRAY_SIZE(types); t++)
			known = known || !strcmp(type, types[t]);
		if (!known) {
			f = xasprintf("%s.hostPath.type", at);
			apiserver_cause(
				causes, "FieldValueNotSupported", f,
				"Unsupported value: \"%s\": supported values: \"\", "
				"\"BlockDevice\", "
				"\"CharDevice\", \"Directory\", \"DirectoryOrCreate\", \"File\", "
				"\"FileOrCreate\", \"Socket\"",
				type);
			free(f);
		}
		const char *claim =
			json_str(json_object_get(v, "persistentVolumeClaim"), "claimName");
		if (json_object_get(v, "persistentVolumeClaim") && (!claim || !*claim)) {
			f = xasprintf("%s.persistentVolumeClaim.claimName", at);
			apiserver_cause(causes, "FieldValueRequired", f, "Required value");
			free(f);
		}
		free(at);
	}
}

/* ValidatePortNumOrName for a probe's or a handler's port. */
static void check_port(json_t *causes, const json_t *port, const char *field)
{
	if (json_is_integer(port)) {
		json_int_t p = json_integer_value(port);
		if (p < 1 || p > 65535)
			apiserver_cause(
				causes, "FieldValueInvalid", field,
				"Invalid value: %lld: must be between 1 and 65535, inclusive",
				(long long)p);
		return;
	}
	const char *name = json_string_value(port);
	if (!name) {
		apiserver_cause(causes, "FieldValueRequired", field, "Required value");
		return;
	}
	/* IsValidPortName (IANA_SVC_NAME). */
	size_t n = strlen(name);
	bool letter = false, ok = n > 0;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		letter = letter || (ch >= 'a' && ch <= 'z');
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
			ok = false;
	}
	if (n > 15)
		apiserver_cause(causes, "FieldValueInvalid", field,
				"Invalid value: \"%s\": must be no more than 15 characters", name);
	if (!ok)
		apiserver_cause(causes, "FieldValueInvalid", field,
				"Invalid value: \"%s\": must contain only alpha-numeric characters "
				"(a-z, 0-9), "
				"and hyphens (-)",
				name);
	if (n > 0 && !letter)
		apiserver_cause(causes, "FieldValueInvalid", field,
				"Invalid value: \"%s\": must contain at least one letter (a-z)",
				name);
}

/* validateProbe and validateHandler. */
static void check_probe(json_t *causes, const json_t *probe, const char *at, bool liveness,
			bool readiness)
{
	static const char *const handlers[] = {"exec", "httpGet", "tcpSocket", "grpc"};
	static const char *const numbers[] = {"initialDelaySeconds", "timeoutSeconds",
					      "periodSeconds", "successThreshold",
					      "failureThreshold"};
	int n = 0;
	char *f;
	for (size_t h = 0; h < ARRAY_SIZE(handlers); h++) {
		const json_t *hv = json_object_get(probe, handlers[h]);
		if (!hv)
			continue;
		if (n++ > 0) {
			f = xasprintf("%s.%s", at, handlers[h]);
			apiserver_cause(causes, "FieldForbidden", f,
					"Forbidden: may not specify more than 1 handler type");
			free(f);
			continue;
		}
		if (!strcmp(handlers[h], "tcpSocket") || !strcmp(handlers[h], "httpGet")) {
			f = xasprintf("%s.%s.port", at, handlers[h]);
			check_port(causes, json_object_get(hv, "port"), f);
			free(f);
		}
		const char *scheme = json_str(hv, "scheme");
		if (!strcmp(handlers[h], "httpGet") && scheme && strcmp(scheme, "HTTP") != 0 &&
		    strcmp(scheme, "HTTPS") != 0) {
			f = xasprintf("%s.httpGet.scheme", at);
			apiserver_cause(
				causes, "FieldValueNotSupported", f,
				"Unsupported value: \"%s\": supported values: \"HTTP\", \"HTTPS\"",
				scheme);
			free(f);
		}
	}
	if (n == 0)
		apiserver_cause(causes, "FieldValueRequired", at,
				"Required value: must specify a handler type");
	for (size_t i = 0; i < ARRAY_SIZE(numbers); i++) {
		const json_t *v = json_object_get(probe, numbers[i]);
		if (json_is_integer(v) && json_integer_value(v) < 0) {
			f = xasprintf("%s.%s", at, numbers[i]);
			apiserver_cause(causes, "FieldValueInvalid", f,
					"Invalid value: %lld: must be greater than or equal to 0",
					(long long)json_integer_value(v));
			free(f);
		}
	}
	const json_t *st = json_object_get(probe, "successThreshold");
	if (liveness && json_is_integer(st) && json_integer_value(st) != 1) {
		f = xasprintf("%s.successThreshold", at);
		apiserver_cause(causes, "FieldValueInvalid", f, "Invalid value: %lld: must be 1",
				(long long)json_integer_value(st));
		free(f);
	}
	const json_t *tg = json_object_get(probe, "terminationGracePeriodSeconds");
	if (!readiness && json_is_integer(tg) && json_integer_value(tg) <= 0) {
		f = xasprintf("%s.terminationGracePeriodSeconds", at);
		apiserver_cause(causes, "FieldValueInvalid", f,
				"Invalid value: %lld: must be greater than 0",
				(long long)json_integer_value(tg));
		free(f);
	}
	if (readiness && tg) {
		f = xasprintf("%s.terminationGracePeriodSeconds", at);
		apiserver_cause(causes, "FieldValueInvalid", f,
				"Invalid value: %lld: must not be set for readinessProbes",
				(long long)json_integer_value(tg));
		free(f);
	}
}

/* ValidateResourceRequirements: quantities not negative, a request no more
 * than its limit (cpu and memory; field the requests themselves). */
static void check_resources(json_t *causes, const json_t *res, const char *at)
{
	static const char *const which[] = {"limits", "requests"};
	for (size_t w = 0; w < ARRAY_SIZE(which); w++) {
		const char *k;
		json_t *q;
		json_object_foreach (json_object_get(res, which[w]), k, q) {
			struct quantity qq;
			if (!controllers_quantity_parse(q, &qq) || qq.milli >= 0)
				continue;
			char *f = xasprintf("%s.%s[%s]", at, which[w], k);
			char *s = controllers_quantity_format(qq);
			apiserver_cause(causes, "FieldValueInvalid", f,
					"Invalid value: \"%s\": must be greater than or equal to 0",
					s);
			free(s);
			free(f);
		}
	}
	const char *k;
	json_t *req;
	json_object_foreach (json_object_get(res, "requests"), k, req) {
		struct quantity r, l;
		json_t *lim = json_object_get(json_object_get(res, "limits"), k);
		if (!lim || !controllers_quantity_parse(req, &r) ||
		    !controllers_quantity_parse(lim, &l) || r.milli <= l.milli)
			continue;
		char *f = xasprintf("%s.requests", at);
		char *rs = controllers_quantity_format(r), *ls = controllers_quantity_format(l);
		apiserver_cause(
			causes, "FieldValueInvalid", f,
			"Invalid value: \"%s\": must be less than or equal to %s limit of %s", rs,
			k, ls);
		free(rs);
		free(ls);
		free(f);
	}
}

static void check_security_context(json_t *causes, const json_t *sc, const char *at)
{
	static const char *const ids[] = {"runAsUser", "runAsGroup"};
	for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
		const json_t *v = json_object_get(sc, ids[i]);
		if (json_is_integer(v) &&
		    (json_integer_value(v) < 0 || json_integer_value(v) > 2147483647)) {
			char *f = xasprintf("%s.%s", at, ids[i]);
			apiserver_cause(
				causes, "FieldValueInvalid", f,
				"Invalid value: %lld: must be between 0 and 2147483647, inclusive",
				(long long)json_integer_value(v));
			free(f);
		}
	}
}

static void check_containers_of(json_t *causes, const json_t *spec, const char *prefix,
				const char *list, const json_t *volumes, json_t *names)
{
	bool init = !strcmp(list, "initContainers");
	size_t i;
	json_t *c;
	json_array_foreach (json_object_get(spec, list), i, c) {
		char *at = xasprintf("%s.%s[%zu]", prefix, list, i);
		char *f = xasprintf("%s.name", at);
		const char *name = json_str(c, "name");
		/* The containers' names and images: check_containers (apiserver.c)
		 * for the containers, here for the init containers. */
		if (init && (!name || !*name))
			apiserver_cause(causes, "FieldValueRequired", f, "Required value");
		else if (init && !spec_is_dns_label(name, SPEC_DNS_LABEL_MAX))
			apiserver_cause(causes, "FieldValueInvalid", f, "Invalid value: \"%s\": %s",
					name, MSG_LABEL);
		if (name && *name && json_object_get(names, name))
			apiserver_cause(causes, "FieldValueDuplicate", f, "Duplicate value: \"%s\"",
					name);
		if (name && *name)
			json_object_set_new(names, name, json_true());
		free(f);
		const char *image = json_str(c, "image");
		if (init && (!image || !*image)) {
			f = xasprintf("%s.image", at);
			apiserver_cause(causes, "FieldValueRequired", f, "Required value");
			free(f);
		}
		size_t j;
		json_t *p;
		json_array_foreach (json_object_get(c, "ports"), j, p) {
			json_t *cp = json_object_get(p, "containerPort");
			json_int_t n = json_integer_value(cp);
			if (n < 1 || n > 65535) {
				f = xasprintf("%s.ports[%zu].containerPort", at, j);
				apiserver_cause(causes, "FieldValueInvalid", f,
						"Invalid value: %lld: must be between 1 and 65535, "
						"inclusive",
						(long long)n);
				free(f);
			}
		}
		json_t *paths = json_object();
		json_t *m;
		json_array_foreach (json_object_get(c, "volumeMounts"), j, m) {
			const char *vn = json_str(m, "name");
			const char *mp = json_str(m, "mountPath");
			f = xasprintf("%s.volumeMounts[%zu].name", at, j);
			if (!vn || !*vn)
				apiserver_cause(causes, "FieldValueRequired", f, "Required value");
			else if (!json_object_get(volumes, vn))
				apiserver_cause(causes, "FieldValueNotFound", f,
						"Not found: \"%s\"", vn);
			free(f);
			f = xasprintf("%s.volumeMounts[%zu].mountPath", at, j);
			if (!mp || !*mp)
				apiserver_cause(causes, "FieldValueRequired", f, "Required value");
			else if (json_object_get(paths, mp))
				apiserver_cause(causes, "FieldValueInvalid", f,
						"Invalid value: \"%s\": must be unique", mp);
			if (mp && *mp)
				json_object_set_new(paths, mp, json_true());
			free(f);
		}
		json_decref(paths);
		static const char *const probes[] = {"livenessProbe", "readinessProbe",
						     "startupProbe"};
		for (size_t k = 0; k < ARRAY_SIZE(probes); k++) {
			const json_t *probe = json_object_get(c, probes[k]);
			if (!probe)
				continue;
			f = xasprintf("%s.%s", at, probes[k]);
			if (init)
				apiserver_cause(
					causes, "FieldForbidden", f,
					"Forbidden: may not be set for init containers without "
					"restartPolicy=Always");
			else
				check_probe(causes, probe, f, k != 1, k == 1);
			free(f);
		}
		f = xasprintf("%s.resources", at);
		check_resources(causes, json_object_get(c, "resources"), f);
		free(f);
		f = xasprintf("%s.securityContext", at);
		check_security_context(causes, json_object_get(c, "securityContext"), f);
		free(f);
		free(at);
	}
}

/* validatePodAntiAffinity / validatePodAffinity: every term's topologyKey,
 * the preferred terms' weights. */
static void check_affinity(json_t *causes, const json_t *spec, const char *prefix)
{
	static const char *const kinds[] = {"podAffinity", "podAntiAffinity"};
	const json_t *aff = json_object_get(spec, "affinity");
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		const json_t *a = json_object_get(aff, kinds[k]);
		size_t i;
		json_t *t;
		json_array_foreach (
			json_object_get(a, "requiredDuringSchedulingIgnoredDuringExecution"), i,
			t) {
			const char *key = json_str(t, "topologyKey");
			if (!key || !*key) {
				char *f = xasprintf("%s.affinity.%s."
						    "requiredDuringSchedulingIgnoredDuringExecution"
						    "[%zu].topologyKey",
						    prefix, kinds[k], i);
				apiserver_cause(causes, "FieldValueRequired", f,
						"Required value: can not be empty");
				free(f);
			}
		}
		json_array_foreach (
			json_object_get(a, "preferredDuringSchedulingIgnoredDuringExecution"), i,
			t) {
			json_int_t w = json_integer_value(json_object_get(t, "weight"));
			const char *key =
				json_str(json_object_get(t, "podAffinityTerm"), "topologyKey");
			char *base =
				xasprintf("%s.affinity.%s."
					  "preferredDuringSchedulingIgnoredDuringExecution[%zu]",
					  prefix, kinds[k], i);
			if (w < 1 || w > 100) {
				char *f = xasprintf("%s.weight", base);
				apiserver_cause(causes, "FieldValueInvalid", f,
						"Invalid value: %lld: must be in the range 1-100",
						(long long)w);
				free(f);
			}
			if (!key || !*key) {
				char *f = xasprintf("%s.podAffinityTerm.topologyKey", base);
				apiserver_cause(causes, "FieldValueRequired", f,
						"Required value: can not be empty");
				free(f);
			}
			free(base);
		}
	}
}

void podvalidation_check(json_t *causes, const json_t *spec, const char *prefix)
{
	json_t *volumes = json_object(), *names = json_object();
	char *f;
	check_volumes(causes, spec, prefix, volumes);
	check_containers_of(causes, spec, prefix, "containers", volumes, names);
	check_containers_of(causes, spec, prefix, "initContainers", volumes, names);
	f = xasprintf("%s.securityContext", prefix);
	check_security_context(causes, json_object_get(spec, "securityContext"), f);
	free(f);
	const json_t *grace = json_object_get(spec, "terminationGracePeriodSeconds");
	if (json_is_integer(grace) && json_integer_value(grace) < 0) {
		f = xasprintf("%s.terminationGracePeriodSeconds", prefix);
		apiserver_cause(causes, "FieldValueInvalid", f,
				"Invalid value: %lld: must be greater than or equal to 0",
				(long long)json_integer_value(grace));
		free(f);
	}
	check_affinity(causes, spec, prefix);
	json_decref(volumes);
	json_decref(names);
}

char *podvalidation_pod_refusal(const char *name, const json_t *spec)
{
	json_t *causes = json_array();
	podvalidation_check(causes, spec, "spec");
	if (json_array_size(causes) == 0) {
		json_decref(causes);
		return NULL;
	}
	char *list = xstrdup("");
	size_t i;
	json_t *e;
	json_array_foreach (causes, i, e) {
		char *next = xasprintf("%s%s%s: %s", list, i ? ", " : "", json_str(e, "field"),
				       json_str(e, "message"));
		free(list);
		list = next;
	}
	bool many = json_array_size(causes) > 1;
	char *msg = xasprintf("Pod \"%s\" is invalid: %s%s%s", name, many ? "[" : "", list,
			      many ? "]" : "");
	free(list);
	json_decref(causes);
	return msg;
}
