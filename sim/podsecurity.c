#include "sim/podsecurity.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "sim/simconf.h"
#include "sim/store.h"

/* --- names, sorted and quoted as the checks write them ----------------------------- */

struct names {
	char **v;
	size_t n;
	char *joined; /* what join() made last, freed with the names */
};

static void names_add(struct names *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++) {
		if (!strcmp(s->v[i], name))
			return;
	}
	s->v = xrealloc(s->v, (s->n + 1) * sizeof(char *));
	s->v[s->n++] = xstrdup(name);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void names_free(struct names *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	free(s->joined);
	memset(s, 0, sizeof(*s));
}

/* "a", "b" (policy/helpers.go, joinQuote); sorted when asked, as a set's
 * List().  Owned by s. */
static const char *join(struct names *s, bool quote, bool sorted)
{
	if (sorted && s->n > 1)
		qsort(s->v, s->n, sizeof(char *), cmp_str);
	char *out = xstrdup("");
	for (size_t i = 0; i < s->n; i++) {
		char *next = xasprintf("%s%s%s%s%s", out, i ? ", " : "", quote ? "\"" : "", s->v[i],
				       quote ? "\"" : "");
		free(out);
		out = next;
	}
	free(s->joined);
	s->joined = out;
	return out;
}

static const char *plural(const struct names *s, const char *one, const char *more)
{
	return s->n == 1 ? one : more;
}

/* --- the checks (staging/src/k8s.io/pod-security-admission/policy/check_*.go) ------- */

/* Whether fail() writes the reasons only, as the warnings about a
 * namespace's existing pods do; set for one evaluation at a time. */
static bool reasons_only;

/* A failed check: "reason (detail)" appended to *out. */
static void fail(char **out, const char *reason, char *detail)
{
	char *next = reasons_only ? xasprintf("%s%s%s", *out ? *out : "", *out ? ", " : "", reason)
				  : xasprintf("%s%s%s (%s)", *out ? *out : "", *out ? ", " : "",
					      reason, detail);
	free(*out);
	free(detail);
	*out = next;
}

/* Append "; part" to *detail. */
static void part(char **detail, char *p)
{
	char *next = xasprintf("%s%s%s", *detail ? *detail : "", *detail ? "; " : "", p);
	free(*detail);
	free(p);
	*detail = next;
}

typedef void (*container_fn)(const json_t *c, void *arg);

/* Init containers, containers, ephemeral containers (policy/visitor.go). */
static void each_container(const json_t *spec, container_fn fn, void *arg)
{
	static const char *const lists[] = {"initContainers", "containers", "ephemeralContainers"};
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		size_t i;
		json_t *c;
		json_array_foreach (json_object_get(spec, lists[l]), i, c)
			fn(c, arg);
	}
}

static const json_t *sc_of(const json_t *c)
{
	return json_object_get(c, "securityContext");
}

static const char *cname(const json_t *c)
{
	const char *n = json_str(c, "name");
	return n ? n : "";
}

/* allowPrivilegeEscalation: restricted, every container must set it false. */
static void ape_cb(const json_t *c, void *arg)
{
	json_t *v = json_object_get(sc_of(c), "allowPrivilegeEscalation");
	if (!json_is_false(v))
		names_add(arg, cname(c));
}

static void check_allow_privilege_escalation(const json_t *spec, char **out)
{
	struct names bad = {0};
	each_container(spec, ape_cb, &bad);
	if (bad.n)
		fail(out, "allowPrivilegeEscalation != false",
		     xasprintf("%s %s must set securityContext.allowPrivilegeEscalation=false",
			       plural(&bad, "container", "containers"), join(&bad, true, false)));
	names_free(&bad);
}

struct caps {
	bool restricted;
	struct names bad, missing_drop, adding, added;
};

/*
 * appArmorProfile: baseline, a container's AppArmor annotation may only
 * name the runtime's default or a profile on the node
 * (check_appArmorProfile.go; 1.29 reads the annotations only).
 */
static void check_app_armor(const json_t *meta, char **out)
{
	static const char prefix[] = "container.apparmor.security.beta.kubernetes.io/";
	struct names bad = {0};
	const char *key;
	json_t *v;
	json_object_foreach (json_object_get(meta, "annotations"), key, v) {
		const char *val = json_string_value(v);
		if (strncmp(key, prefix, sizeof(prefix) - 1) != 0 || !val)
			continue;
		if (!*val || !strcmp(val, "runtime/default") || !strncmp(val, "localhost/", 10))
			continue;
		char *entry = xasprintf("%s=\"%s\"", key, val);
		names_add(&bad, entry);
		free(entry);
	}
	if (bad.n)
		fail(out, plural(&bad, "forbidden AppArmor profile", "forbidden AppArmor profiles"),
		     xstrdup(join(&bad, false, true)));
	names_free(&bad);
}

static bool has_string(const json_t *list, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach (list, i, v) {
		if (json_is_string(v) && !strcmp(json_string_value(v), s))
			return true;
	}
	return false;
}

static void caps_cb(const json_t *c, void *arg)
{
	static const char *const baseline[] = {
		"AUDIT_WRITE", "CHOWN",	 "DAC_OVERRIDE",     "FOWNER",	"FSETID",
		"KILL",	       "MKNOD",	 "NET_BIND_SERVICE", "SETFCAP", "SETGID",
		"SETPCAP",     "SETUID", "SYS_CHROOT"};
	struct caps *k = arg;
	const json_t *caps = json_object_get(sc_of(c), "capabilities");
	if (k->restricted && !has_string(json_object_get(caps, "drop"), "ALL"))
		names_add(&k->missing_drop, cname(c));
	size_t i;
	json_t *v;
	bool bad = false;
	json_array_foreach (json_object_get(caps, "add"), i, v) {
		const char *cap = json_string_value(v);
		bool allowed = false;
		if (!cap)
			continue;
		if (k->restricted) {
			allowed = !strcmp(cap, "NET_BIND_SERVICE");
		} else {
			for (size_t j = 0; j < ARRAY_SIZE(baseline); j++)
				allowed = allowed || !strcmp(cap, baseline[j]);
		}
		if (!allowed) {
			bad = true;
			names_add(&k->added, cap);
		}
	}
	if (bad)
		names_add(&k->adding, cname(c));
}

static void check_capabilities(const json_t *spec, bool restricted, char **out)
{
	struct caps k = {.restricted = restricted};
	each_container(spec, caps_cb, &k);
	char *detail = NULL;
	if (k.missing_drop.n)
		part(&detail,
		     xasprintf("%s %s must set securityContext.capabilities.drop=[\"ALL\"]",
			       plural(&k.missing_drop, "container", "containers"),
			       join(&k.missing_drop, true, false)));
	if (k.adding.n)
		part(&detail, xasprintf("%s %s must not include %s in "
					"securityContext.capabilities.add",
					plural(&k.adding, "container", "containers"),
					join(&k.adding, true, false), join(&k.added, true, true)));
	if (detail)
		fail(out, restricted ? "unrestricted capabilities" : "non-default capabilities",
		     detail);
	names_free(&k.missing_drop);
	names_free(&k.adding);
	names_free(&k.added);
}

static void check_host_namespaces(const json_t *spec, char **out)
{
	struct names bad = {0};
	if (json_is_true(json_object_get(spec, "hostNetwork")))
		names_add(&bad, "hostNetwork=true");
	if (json_is_true(json_object_get(spec, "hostPID")))
		names_add(&bad, "hostPID=true");
	if (json_is_true(json_object_get(spec, "hostIPC")))
		names_add(&bad, "hostIPC=true");
	if (bad.n)
		fail(out, "host namespaces", xstrdup(join(&bad, false, true)));
	names_free(&bad);
}

static void check_host_path_volumes(const json_t *spec, char **out)
{
	struct names bad = {0};
	size_t i;
	json_t *v;
	json_array_foreach (json_object_get(spec, "volumes"), i, v) {
		if (json_object_get(v, "hostPath"))
			names_add(&bad, json_str(v, "name") ? json_str(v, "name") : "");
	}
	if (bad.n)
		fail(out, "hostPath volumes",
		     xasprintf("%s %s", plural(&bad, "volume", "volumes"),
			       join(&bad, true, false)));
	names_free(&bad);
}

struct ports {
	struct names bad, ports;
};

static void ports_cb(const json_t *c, void *arg)
{
	struct ports *p = arg;
	size_t i;
	json_t *port;
	bool bad = false;
	json_array_foreach (json_object_get(c, "ports"), i, port) {
		json_int_t hp = json_integer_value(json_object_get(port, "hostPort"));
		if (hp != 0) {
			char buf[24];
			snprintf(buf, sizeof(buf), "%lld", (long long)hp);
			names_add(&p->ports, buf);
			bad = true;
		}
	}
	if (bad)
		names_add(&p->bad, cname(c));
}

static void check_host_ports(const json_t *spec, char **out)
{
	struct ports p = {{0}, {0}};
	each_container(spec, ports_cb, &p);
	if (p.bad.n)
		fail(out, "hostPort",
		     xasprintf("%s %s %s %s %s", plural(&p.bad, "container", "containers"),
			       join(&p.bad, true, false), plural(&p.bad, "uses", "use"),
			       plural(&p.ports, "hostPort", "hostPorts"),
			       join(&p.ports, false, true)));
	names_free(&p.bad);
	names_free(&p.ports);
}

static void privileged_cb(const json_t *c, void *arg)
{
	if (json_is_true(json_object_get(sc_of(c), "privileged")))
		names_add(arg, cname(c));
}

static void check_privileged(const json_t *spec, char **out)
{
	struct names bad = {0};
	each_container(spec, privileged_cb, &bad);
	if (bad.n)
		fail(out, "privileged",
		     xasprintf("%s %s must not set securityContext.privileged=true",
			       plural(&bad, "container", "containers"), join(&bad, true, false)));
	names_free(&bad);
}

/* restrictedVolumes: only the volume types that give no host access. */
static void check_restricted_volumes(const json_t *spec, char **out)
{
	static const char *const allowed[] = {"name",
					      "configMap",
					      "csi",
					      "downwardAPI",
					      "emptyDir",
					      "ephemeral",
					      "persistentVolumeClaim",
					      "projected",
					      "secret"};
	struct names bad = {0}, types = {0};
	size_t i;
	json_t *v;
	json_array_foreach (json_object_get(spec, "volumes"), i, v) {
		const char *key;
		json_t *val;
		json_object_foreach (v, key, val) {
			bool ok = false;
			for (size_t j = 0; j < ARRAY_SIZE(allowed); j++)
				ok = ok || !strcmp(key, allowed[j]);
			if (!ok) {
				names_add(&bad, json_str(v, "name") ? json_str(v, "name") : "");
				names_add(&types, key);
			}
		}
	}
	if (bad.n)
		fail(out, "restricted volume types",
		     xasprintf("%s %s %s %s %s", plural(&bad, "volume", "volumes"),
			       join(&bad, true, false), plural(&bad, "uses", "use"),
			       plural(&types, "restricted volume type", "restricted volume types"),
			       join(&types, true, true)));
	names_free(&bad);
	names_free(&types);
}

struct nonroot {
	bool pod_true;
	struct names explicit_bad, implicit_bad;
};

static void nonroot_cb(const json_t *c, void *arg)
{
	struct nonroot *r = arg;
	json_t *v = json_object_get(sc_of(c), "runAsNonRoot");
	if (json_is_false(v))
		names_add(&r->explicit_bad, cname(c));
	else if (!v && !r->pod_true)
		names_add(&r->implicit_bad, cname(c));
}

static void check_run_as_non_root(const json_t *spec, char **out)
{
	json_t *pv = json_object_get(json_object_get(spec, "securityContext"), "runAsNonRoot");
	struct nonroot r = {.pod_true = json_is_true(pv)};
	each_container(spec, nonroot_cb, &r);
	char *detail = NULL;
	if (json_is_false(pv))
		part(&detail, xstrdup("pod must not set securityContext.runAsNonRoot=false"));
	if (r.explicit_bad.n)
		part(&detail, xasprintf("%s %s must not set securityContext.runAsNonRoot=false",
					plural(&r.explicit_bad, "container", "containers"),
					join(&r.explicit_bad, true, false)));
	if (r.implicit_bad.n)
		part(&detail, xasprintf("pod or %s %s must set securityContext.runAsNonRoot=true",
					plural(&r.implicit_bad, "container", "containers"),
					join(&r.implicit_bad, true, false)));
	if (detail)
		fail(out, "runAsNonRoot != true", detail);
	names_free(&r.explicit_bad);
	names_free(&r.implicit_bad);
}

static void run_as_root_cb(const json_t *c, void *arg)
{
	json_t *v = json_object_get(sc_of(c), "runAsUser");
	if (json_is_integer(v) && json_integer_value(v) == 0)
		names_add(arg, cname(c));
}

static void check_run_as_user(const json_t *spec, char **out)
{
	json_t *pv = json_object_get(json_object_get(spec, "securityContext"), "runAsUser");
	struct names bad = {0};
	each_container(spec, run_as_root_cb, &bad);
	char *detail = NULL;
	if (json_is_integer(pv) && json_integer_value(pv) == 0)
		part(&detail, xstrdup("pod must not set runAsUser=0"));
	if (bad.n)
		part(&detail,
		     xasprintf("%s %s must not set runAsUser=0",
			       plural(&bad, "container", "containers"), join(&bad, true, false)));
	if (detail)
		fail(out, "runAsUser=0", detail);
	names_free(&bad);
}

struct seccomp {
	bool restricted, pod_valid;
	struct names bad, unset;
	struct names bad_types;
};

static bool seccomp_allowed(const char *type, bool restricted)
{
	if (restricted)
		return type && (!strcmp(type, "RuntimeDefault") || !strcmp(type, "Localhost"));
	return !type || strcmp(type, "Unconfined") != 0;
}

static void seccomp_cb(const json_t *c, void *arg)
{
	struct seccomp *k = arg;
	const char *type = json_str(json_object_get(sc_of(c), "seccompProfile"), "type");
	if (type) {
		if (!seccomp_allowed(type, k->restricted)) {
			names_add(&k->bad, cname(c));
			names_add(&k->bad_types, type);
		}
	} else if (k->restricted && !k->pod_valid) {
		names_add(&k->unset, cname(c));
	}
}

static void check_seccomp(const json_t *spec, bool restricted, char **out)
{
	const char *ptype = json_str(
		json_object_get(json_object_get(spec, "securityContext"), "seccompProfile"),
		"type");
	struct seccomp k = {.restricted = restricted,
			    .pod_valid = ptype && seccomp_allowed(ptype, restricted)};
	each_container(spec, seccomp_cb, &k);
	char *detail = NULL;
	if (ptype && !seccomp_allowed(ptype, restricted))
		part(&detail,
		     xasprintf("pod must not set securityContext.seccompProfile.type to \"%s\"",
			       ptype));
	if (k.bad.n)
		part(&detail,
		     xasprintf("%s %s must not set securityContext.seccompProfile.type to %s",
			       plural(&k.bad, "container", "containers"), join(&k.bad, true, false),
			       join(&k.bad_types, true, true)));
	if (k.unset.n)
		part(&detail, xasprintf("pod or %s %s must set securityContext.seccompProfile.type "
					"to \"RuntimeDefault\" or \"Localhost\"",
					plural(&k.unset, "container", "containers"),
					join(&k.unset, true, false)));
	if (detail)
		fail(out, "seccompProfile", detail);
	names_free(&k.bad);
	names_free(&k.unset);
	names_free(&k.bad_types);
}

/*
 * Before 1.19 the baseline's seccomp check reads the alpha annotations:
 * the pod's and each container's may name only the runtime's default,
 * docker's, or a profile on the node (seccompProfileBaseline_1_0).
 */
static bool seccomp_annotation_ok(const char *v)
{
	return !strcmp(v, "runtime/default") || !strcmp(v, "docker/default") ||
	       !strncmp(v, "localhost/", 10);
}

static void seccomp_annotation_cb(const json_t *c, void *arg)
{
	void **a = arg;
	const json_t *annotations = a[0];
	char *key = xasprintf("container.seccomp.security.alpha.kubernetes.io/%s", cname(c));
	const char *v = json_str(annotations, key);
	if (v && !seccomp_annotation_ok(v)) {
		char *one = xasprintf("%s=\"%s\"", key, v);
		names_add(a[1], one);
		free(one);
	}
	free(key);
}

static void check_seccomp_annotations(const json_t *meta, const json_t *spec, char **out)
{
	const json_t *annotations = json_object_get(meta, "annotations");
	struct names bad = {0};
	const char *pod = json_str(annotations, "seccomp.security.alpha.kubernetes.io/pod");
	if (pod && !seccomp_annotation_ok(pod)) {
		char *one = xasprintf("seccomp.security.alpha.kubernetes.io/pod=\"%s\"", pod);
		names_add(&bad, one);
		free(one);
	}
	void *arg[2] = {(void *)annotations, &bad};
	each_container(spec, seccomp_annotation_cb, arg);
	if (bad.n)
		fail(out, "seccompProfile",
		     xasprintf("forbidden %s %s", plural(&bad, "annotation", "annotations"),
			       join(&bad, false, true)));
	names_free(&bad);
}

/*
 * seLinuxOptions: baseline, the pod's and each container's may name only
 * the container types, and no user or role (check_seLinuxOptions.go).
 */
struct selinux {
	struct names types, containers;
	bool user, role;
};

static bool selinux_ok(const json_t *opts, struct selinux *x)
{
	static const char *const types[] = {"", "container_t", "container_init_t",
					    "container_kvm_t"};
	bool ok = true;
	const char *type = json_str(opts, "type") ? json_str(opts, "type") : "";
	bool known = false;
	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		known = known || !strcmp(type, types[i]);
	if (!known) {
		names_add(&x->types, type);
		ok = false;
	}
	if (json_str(opts, "user") && *json_str(opts, "user")) {
		x->user = true;
		ok = false;
	}
	if (json_str(opts, "role") && *json_str(opts, "role")) {
		x->role = true;
		ok = false;
	}
	return ok;
}

static void selinux_cb(const json_t *c, void *arg)
{
	struct selinux *x = arg;
	const json_t *opts = json_object_get(sc_of(c), "seLinuxOptions");
	if (json_is_object(opts) && !selinux_ok(opts, x))
		names_add(&x->containers, cname(c));
}

static void check_selinux(const json_t *spec, char **out)
{
	struct selinux x = {0};
	const json_t *pod_opts =
		json_object_get(json_object_get(spec, "securityContext"), "seLinuxOptions");
	bool pod_bad = json_is_object(pod_opts) && !selinux_ok(pod_opts, &x);
	each_container(spec, selinux_cb, &x);
	if (pod_bad || x.containers.n) {
		char *setters = xstrdup(pod_bad ? "pod" : "");
		if (x.containers.n) {
			char *next = xasprintf("%s%s%s %s", setters, pod_bad ? " and " : "",
					       plural(&x.containers, "container", "containers"),
					       join(&x.containers, true, false));
			free(setters);
			setters = next;
		}
		char *data = xstrdup("");
		if (x.types.n) {
			char *next = xasprintf("%s %s", plural(&x.types, "type", "types"),
					       join(&x.types, true, true));
			free(data);
			data = next;
		}
		if (x.user) {
			char *next = xasprintf("%s%suser may not be set", data, *data ? "; " : "");
			free(data);
			data = next;
		}
		if (x.role) {
			char *next = xasprintf("%s%srole may not be set", data, *data ? "; " : "");
			free(data);
			data = next;
		}
		fail(out, "seLinuxOptions",
		     xasprintf("%s set forbidden securityContext.seLinuxOptions: %s", setters,
			       data));
		free(setters);
		free(data);
	}
	names_free(&x.types);
	names_free(&x.containers);
}

/* sysctls: only the namespaced ones known safe, a list that grew in 1.27
 * and 1.29 (check_sysctls.go). */
static void check_sysctls(const json_t *spec, int minor, char **out)
{
	static const struct {
		const char *name;
		int since;
	} safe[] = {
		{"kernel.shm_rmid_forced", 0},
		{"net.ipv4.ip_local_port_range", 0},
		{"net.ipv4.tcp_syncookies", 0},
		{"net.ipv4.ping_group_range", 0},
		{"net.ipv4.ip_unprivileged_port_start", 0},
		{"net.ipv4.ip_local_reserved_ports", 27},
		{"net.ipv4.tcp_keepalive_time", 29},
		{"net.ipv4.tcp_fin_timeout", 29},
		{"net.ipv4.tcp_keepalive_intvl", 29},
		{"net.ipv4.tcp_keepalive_probes", 29},
	};
	struct names bad = {0};
	size_t i;
	json_t *s;
	json_array_foreach (json_object_get(json_object_get(spec, "securityContext"), "sysctls"), i,
			    s) {
		const char *name = json_str(s, "name");
		bool ok = false;
		for (size_t j = 0; name && j < ARRAY_SIZE(safe); j++)
			ok = ok || (minor >= safe[j].since && !strcmp(name, safe[j].name));
		if (name && !ok)
			names_add(&bad, name);
	}
	if (bad.n)
		fail(out, "forbidden sysctls", xstrdup(join(&bad, false, false)));
	names_free(&bad);
}

/* windowsHostProcess: baseline, no Windows host process
 * (check_windowsHostProcess.go). */
static void host_process_cb(const json_t *c, void *arg)
{
	if (json_is_true(
		    json_object_get(json_object_get(sc_of(c), "windowsOptions"), "hostProcess")))
		names_add(arg, cname(c));
}

static void check_windows_host_process(const json_t *spec, char **out)
{
	struct names bad = {0};
	bool pod = json_is_true(json_object_get(
		json_object_get(json_object_get(spec, "securityContext"), "windowsOptions"),
		"hostProcess"));
	each_container(spec, host_process_cb, &bad);
	if (pod || bad.n) {
		char *who = xasprintf("%s%s%s%s%s", pod ? "pod" : "", pod && bad.n ? " and " : "",
				      bad.n ? plural(&bad, "container", "containers") : "",
				      bad.n ? " " : "", bad.n ? join(&bad, true, false) : "");
		fail(out, "hostProcess",
		     xasprintf("%s must not set securityContext.windowsOptions.hostProcess=true",
			       who));
		free(who);
	}
	names_free(&bad);
}

/*
 * The checks of a level at a version (its minor: a policy names v1.N),
 * in the order of their IDs, each from the version it came in; at
 * restricted, the restricted forms of capabilities (1.22), volumes and
 * seccomp (1.19) replace the baseline ones they override, and from 1.25 a
 * Windows pod (spec.os.name) skips allowPrivilegeEscalation and the
 * restricted capabilities and seccomp (policy/registry.go, the
 * MinimumVersion of each check_*.go).
 */
char *podsecurity_violations(const char *level, int minor, const json_t *meta, const json_t *spec)
{
	bool restricted = !strcmp(level, "restricted");
	const char *os = json_str(json_object_get(spec, "os"), "name");
	bool windows_exempt = restricted && minor >= 25 && os && !strcmp(os, "windows");
	char *out = NULL;
	if (!restricted && strcmp(level, "baseline") != 0)
		return NULL;
	if (restricted && minor >= 8 && !windows_exempt)
		check_allow_privilege_escalation(spec, &out);
	check_app_armor(meta, &out);
	if (!windows_exempt)
		check_capabilities(spec, restricted && minor >= 22, &out);
	check_host_namespaces(spec, &out);
	if (!restricted)
		check_host_path_volumes(spec, &out);
	check_host_ports(spec, &out);
	check_privileged(spec, &out);
	if (restricted) {
		check_restricted_volumes(spec, &out);
		check_run_as_non_root(spec, &out);
		if (minor >= 23)
			check_run_as_user(spec, &out);
	}
	check_selinux(spec, &out);
	if (minor < 19)
		check_seccomp_annotations(meta, spec, &out);
	else if (!windows_exempt)
		check_seccomp(spec, restricted, &out);
	check_sysctls(spec, minor, &out);
	check_windows_host_process(spec, &out);
	return out;
}

/* --- the namespace's policy (api/helpers.go, PolicyToEvaluate) ---------------------- */

struct mode {
	char level[16];
	char version[16];
};

static bool valid_version(const char *v)
{
	if (!strcmp(v, "latest"))
		return true;
	if (strncmp(v, "v1.", 3) != 0 || !v[3] || (v[3] == '0' && v[4]))
		return false;
	for (const char *p = v + 3; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
	}
	return true;
}

/* The mode of one label pair; an unparsable level is restricted for
 * enforce (fail closed) and privileged for warn and audit (fail open). */
static void mode_of(const json_t *labels, const char *mode, bool fail_closed, struct mode *m)
{
	char key[64];
	snprintf(key, sizeof(key), "pod-security.kubernetes.io/%s", mode);
	const char *level = json_str(labels, key);
	snprintf(key, sizeof(key), "pod-security.kubernetes.io/%s-version", mode);
	const char *version = json_str(labels, key);
	/* Unlabelled: the admission configuration's default (privileged,
	 * unless pod_security.default_enforce says otherwise for enforce). */
	const char *def = simconf_get()->pod_security_default_enforce;
	snprintf(m->level, sizeof(m->level), "%s", fail_closed && def && *def ? def : "privileged");
	snprintf(m->version, sizeof(m->version), "latest");
	if (level) {
		if (!strcmp(level, "privileged") || !strcmp(level, "baseline") ||
		    !strcmp(level, "restricted"))
			snprintf(m->level, sizeof(m->level), "%s", level);
		else if (fail_closed)
			snprintf(m->level, sizeof(m->level), "restricted");
	}
	if (version && valid_version(version))
		snprintf(m->version, sizeof(m->version), "%s", version);
}

/* The policy version's minor: latest, and a version past the server's
 * own, are this server's (1.29: LatestVersion). */
#define PSA_LATEST_MINOR 29

static int version_minor(const char *v)
{
	if (!strncmp(v, "v1.", 3)) {
		long n = strtol(v + 3, NULL, 10);
		return n < PSA_LATEST_MINOR ? (int)n : PSA_LATEST_MINOR;
	}
	return PSA_LATEST_MINOR;
}

static const json_t *ns_labels(const char *ns)
{
	struct store_obj *o = store_get(store_kind_by_plural("namespaces"), "", ns);
	return o ? json_object_get(json_object_get(o->body, "metadata"), "labels") : NULL;
}

static char *evaluate(const struct mode *m, const json_t *meta, const json_t *spec,
		      const char *prefix)
{
	char *v = podsecurity_violations(m->level, version_minor(m->version), meta, spec);
	if (!v)
		return NULL;
	char *msg = xasprintf("%s \"%s:%s\": %s", prefix, m->level, m->version, v);
	free(v);
	return msg;
}

char *podsecurity_admit_pod(const char *ns, const json_t *pod, char **warning)
{
	const json_t *labels = ns_labels(ns);
	struct mode enforce, warn;
	const json_t *meta = json_object_get(pod, "metadata");
	const json_t *spec = json_object_get(pod, "spec");
	if (warning)
		*warning = NULL;
	mode_of(labels, "enforce", true, &enforce);
	char *refusal = evaluate(&enforce, meta, spec, "violates PodSecurity");
	if (refusal || !warning)
		return refusal;
	/* No warning on a request refused anyway (admission.go, EvaluatePod). */
	mode_of(labels, "warn", false, &warn);
	*warning = evaluate(&warn, meta, spec, "would violate PodSecurity");
	return NULL;
}

char *podsecurity_workload_warning(const char *ns, const json_t *workload)
{
	const json_t *tmpl = json_object_get(json_object_get(workload, "spec"), "template");
	if (!json_is_object(tmpl))
		return NULL;
	struct mode warn;
	mode_of(ns_labels(ns), "warn", false, &warn);
	return evaluate(&warn, json_object_get(tmpl, "metadata"), json_object_get(tmpl, "spec"),
			"would violate PodSecurity");
}

/* --- a namespace's new enforce level and its pods (admission.go, ValidateNamespace) -- */

static int level_rank(const char *level)
{
	return !strcmp(level, "restricted") ? 2 : !strcmp(level, "baseline") ? 1 : 0;
}

struct pod_warning {
	char *reasons;
	const char *first; /* the smallest pod name with these reasons */
	int count;
};

static int cmp_warning(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **podsecurity_namespace_warnings(const char *ns, const json_t *old_labels,
				      const json_t *new_labels)
{
	struct mode before, after;
	mode_of(old_labels, "enforce", true, &before);
	mode_of(new_labels, "enforce", true, &after);
	/* Nothing to say when the enforce policy did not change, when it is
	 * privileged, or when only its level relaxed at the same version. */
	if ((!strcmp(before.level, after.level) && !strcmp(before.version, after.version)) ||
	    !strcmp(after.level, "privileged") ||
	    (!strcmp(before.version, after.version) &&
	     level_rank(after.level) < level_rank(before.level)))
		return NULL;
	size_t n, nw = 0;
	struct store_obj **pods = store_list(store_kind_by_plural("pods"), ns, &n);
	struct pod_warning *w = xcalloc(n ? n : 1, sizeof(*w));
	for (size_t i = 0; i < n; i++) {
		const json_t *meta = json_object_get(pods[i]->body, "metadata");
		reasons_only = true;
		char *r = podsecurity_violations(after.level, version_minor(after.version), meta,
						 json_object_get(pods[i]->body, "spec"));
		reasons_only = false;
		if (!r)
			continue;
		size_t k = 0;
		while (k < nw && strcmp(w[k].reasons, r) != 0)
			k++;
		if (k == nw) {
			w[nw].reasons = r;
			w[nw].first = pods[i]->name;
			nw++;
		} else {
			free(r);
			if (strcmp(pods[i]->name, w[k].first) < 0)
				w[k].first = pods[i]->name;
		}
		w[k].count++;
	}
	char **out = NULL;
	if (nw) {
		out = xcalloc(nw + 2, sizeof(char *));
		out[0] = xasprintf("existing pods in namespace \"%s\" violate the new PodSecurity "
				   "enforce level \"%s:%s\"",
				   ns, after.level, after.version);
		for (size_t k = 0; k < nw; k++) {
			out[k + 1] = w[k].count == 1
					     ? xasprintf("%s: %s", w[k].first, w[k].reasons)
					     : xasprintf("%s (and %d other pods): %s", w[k].first,
							 w[k].count - 1, w[k].reasons);
		}
		/* In a stable order (sort.Strings), after the first line. */
		qsort(out + 1, nw, sizeof(char *), cmp_warning);
	}
	for (size_t k = 0; k < nw; k++)
		free(w[k].reasons);
	free(w);
	free(pods);
	return out;
}
