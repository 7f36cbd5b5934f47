#include "sim/netpol.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "sim/apiserver.h"
#include "sim/selector.h"
#include "sim/store.h"

static const json_t *meta(const json_t *o)
{
	return json_object_get(o, "metadata");
}

/* An object selector, as the API takes it: absent or {} selects all. */
static bool selects(const json_t *ls, const json_t *labels)
{
	struct selector sel;
	char *err = NULL;
	if (!ls || json_is_null(ls))
		return true;
	if (!selector_from_json(ls, &sel, &err)) {
		free(err);
		return false;
	}
	bool ok = selector_matches(&sel, labels);
	selector_free(&sel);
	return ok;
}

/* policyTypes, defaulted as the API server does: Ingress always, Egress
 * when there are egress rules (pkg/apis/networking/v1/defaults.go). */
static bool has_ingress_type(const json_t *spec)
{
	json_t *types = json_object_get(spec, "policyTypes");
	size_t i;
	json_t *t;
	if (json_array_size(types) == 0)
		return true;
	json_array_foreach (types, i, t) {
		if (json_is_string(t) && !strcmp(json_string_value(t), "Ingress"))
			return true;
	}
	return false;
}

/* A CIDR of either family, as Go's net.ParseCIDR reads it (IPv4 or IPv6:
 * the API server validates ipBlock with it, so "::/0" is as good as
 * "0.0.0.0/0"), its address masked to its prefix. */
struct cidr {
	int family;
	unsigned char addr[16];
	int bits;
};

static int addr_len(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

static void mask_bits(unsigned char *a, int len, int bits)
{
	for (int i = 0; i < len; i++) {
		int keep = bits - i * 8;
		a[i] &= keep >= 8 ? 0xff : keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));
	}
}

static bool parse_ip(const char *s, int *family, unsigned char *out)
{
	*family = s && strchr(s, ':') ? AF_INET6 : AF_INET;
	return s && inet_pton(*family, s, out) == 1;
}

static bool parse_cidr(const char *s, struct cidr *c)
{
	char addr[64];
	const char *slash = s ? strchr(s, '/') : NULL;
	int64_t bits;
	memset(c, 0, sizeof(*c));
	if (!slash || (size_t)(slash - s) >= sizeof(addr))
		return false;
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	if (!parse_ip(addr, &c->family, c->addr) ||
	    !parse_int64(slash + 1, 0, addr_len(c->family) * 8, &bits))
		return false;
	c->bits = (int)bits;
	mask_bits(c->addr, addr_len(c->family), c->bits);
	return true;
}

/* Is the address (of family) within c? */
static bool cidr_holds(const struct cidr *c, int family, const unsigned char *a)
{
	unsigned char m[16];
	if (family != c->family)
		return false;
	memcpy(m, a, (size_t)addr_len(family));
	mask_bits(m, addr_len(family), c->bits);
	return memcmp(m, c->addr, (size_t)addr_len(family)) == 0;
}

static bool in_cidr(const char *ip, const char *cidr)
{
	unsigned char a[16];
	int family;
	struct cidr c;
	if (!parse_ip(ip, &family, a) || !parse_cidr(cidr, &c))
		return false;
	return cidr_holds(&c, family, a);
}

static bool ip_block_admits(const json_t *block, const char *ip)
{
	if (!in_cidr(ip, json_str(block, "cidr")))
		return false;
	size_t i;
	json_t *ex;
	json_array_foreach (json_object_get(block, "except"), i, ex) {
		if (in_cidr(ip, json_string_value(ex)))
			return false;
	}
	return true;
}

/* A namespace's labels; for a client the configuration places in a
 * namespace that is not stored, the one label the API server gives every
 * namespace (kubernetes.io/metadata.name), owned by the caller either way. */
static json_t *namespace_labels(const char *ns)
{
	struct store_obj *o = store_get(store_kind_by_plural("namespaces"), "", ns);
	if (!o)
		return json_pack("{s:s}", "kubernetes.io/metadata.name", ns);
	return json_incref(json_object_get(meta(o->body), "labels"));
}

/* A NetworkPolicyPeer of a policy in policy_ns. */
static bool peer_admits(const json_t *peer, const char *policy_ns, const struct netpol_source *src)
{
	json_t *block = json_object_get(peer, "ipBlock");
	json_t *pods = json_object_get(peer, "podSelector");
	json_t *nss = json_object_get(peer, "namespaceSelector");
	if (block)
		return ip_block_admits(block, src->ip);
	/* Selectors pick pods; a source outside the pod network is none. */
	if (!src->ns)
		return false;
	if (nss) {
		json_t *labels = namespace_labels(src->ns);
		bool in = selects(nss, labels);
		json_decref(labels);
		if (!in)
			return false;
	} else if (strcmp(src->ns, policy_ns) != 0) {
		return false;
	}
	return !pods || selects(pods, src->labels);
}

/* The number of the container port named name on pod, or -1. */
static int64_t named_port(const json_t *pod, const char *name)
{
	size_t i, j;
	json_t *c, *p;
	json_array_foreach (json_object_get(json_object_get(pod, "spec"), "containers"), i, c) {
		json_array_foreach (json_object_get(c, "ports"), j, p) {
			const char *pn = json_str(p, "name");
			const char *proto = json_str(p, "protocol");
			if (pn && !strcmp(pn, name) && (!proto || !strcmp(proto, "TCP")))
				return json_integer_value(json_object_get(p, "containerPort"));
		}
	}
	return -1;
}

static bool port_admits(const json_t *np, const json_t *pod, int port)
{
	const char *proto = json_str(np, "protocol");
	json_t *p = json_object_get(np, "port");
	json_t *end = json_object_get(np, "endPort");
	if (proto && strcmp(proto, "TCP") != 0)
		return false;
	if (!p)
		return true;
	if (json_is_string(p))
		return named_port(pod, json_string_value(p)) == port;
	if (json_is_integer(end))
		return port >= json_integer_value(p) && port <= json_integer_value(end);
	return json_integer_value(p) == port;
}

static bool rule_admits(const json_t *rule, const char *policy_ns, const json_t *pod,
			const struct netpol_source *src, int port)
{
	json_t *ports = json_object_get(rule, "ports");
	json_t *from = json_object_get(rule, "from");
	size_t i;
	json_t *x;
	bool port_ok = json_array_size(ports) == 0;
	json_array_foreach (ports, i, x) {
		if (port_admits(x, pod, port))
			port_ok = true;
	}
	if (!port_ok)
		return false;
	if (json_array_size(from) == 0)
		return true;
	json_array_foreach (from, i, x) {
		if (peer_admits(x, policy_ns, src))
			return true;
	}
	return false;
}

bool netpol_admits(const json_t *pod, const struct netpol_source *src, int port)
{
	const char *ns = json_str(meta(pod), "namespace");
	const json_t *labels = json_object_get(meta(pod), "labels");
	size_t n;
	bool isolated = false, admitted = false;
	if (!ns)
		return true;
	struct store_obj **pols = store_list(store_kind_by_plural("networkpolicies"), ns, &n);
	for (size_t i = 0; i < n && !admitted; i++) {
		json_t *spec = json_object_get(pols[i]->body, "spec");
		if (!has_ingress_type(spec) ||
		    !selects(json_object_get(spec, "podSelector"), labels))
			continue;
		isolated = true;
		size_t j;
		json_t *rule;
		json_array_foreach (json_object_get(spec, "ingress"), j, rule) {
			if (rule_admits(rule, ns, pod, src, port))
				admitted = true;
		}
	}
	free(pols);
	return !isolated || admitted;
}

/* --- validation (pkg/apis/networking/validation/validation.go) ------------------- */

static void check_selector(const json_t *ls, const char *field, json_t *causes)
{
	struct selector sel;
	char *err = NULL;
	if (!ls || json_is_null(ls))
		return;
	if (!json_is_object(ls)) {
		apiserver_cause(causes, "FieldValueInvalid", field,
				"Invalid value: a label selector");
		return;
	}
	if (!selector_from_json(ls, &sel, &err)) {
		apiserver_cause(causes, "FieldValueInvalid", field, "Invalid value: %s", err);
		free(err);
		return;
	}
	selector_free(&sel);
}

static void check_ip_block(const json_t *block, const char *field, json_t *causes)
{
	const char *cidr = json_str(block, "cidr");
	struct cidr net, ex_net;
	char *f = xasprintf("%s.cidr", field);
	if (!cidr || !*cidr) {
		apiserver_cause(causes, "FieldValueRequired", f, "Required value");
	} else if (!parse_cidr(cidr, &net)) {
		apiserver_cause(
			causes, "FieldValueInvalid", f,
			"Invalid value: \"%s\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or "
			"2001:db8::/64)",
			cidr);
		cidr = NULL;
	}
	free(f);
	size_t i;
	json_t *ex;
	json_array_foreach (json_object_get(block, "except"), i, ex) {
		const char *e = json_string_value(ex);
		f = xasprintf("%s.except[%zu]", field, i);
		if (!e || !parse_cidr(e, &ex_net))
			apiserver_cause(causes, "FieldValueInvalid", f,
					"Invalid value: \"%s\": must be a valid CIDR value, (e.g. "
					"10.9.8.0/24 or 2001:db8::/64)",
					e ? e : "");
		else if (cidr &&
			 (ex_net.bits <= net.bits || !cidr_holds(&net, ex_net.family, ex_net.addr)))
			apiserver_cause(causes, "FieldValueInvalid", f,
					"Invalid value: \"%s\": must be a strict subset of `cidr`",
					e);
		free(f);
	}
}

void netpol_validate(const json_t *obj, json_t *causes)
{
	json_t *spec = json_object_get(obj, "spec");
	size_t i, j;
	json_t *v, *rule;
	check_selector(json_object_get(spec, "podSelector"), "spec.podSelector", causes);
	json_array_foreach (json_object_get(spec, "policyTypes"), i, v) {
		const char *t = json_string_value(v);
		if (!t || (strcmp(t, "Ingress") != 0 && strcmp(t, "Egress") != 0)) {
			char *f = xasprintf("spec.policyTypes[%zu]", i);
			apiserver_cause(causes, "FieldValueNotSupported", f,
					"Unsupported value: \"%s\": supported values: \"Egress\", "
					"\"Ingress\"",
					t ? t : "");
			free(f);
		}
	}
	json_array_foreach (json_object_get(spec, "ingress"), i, rule) {
		json_array_foreach (json_object_get(rule, "ports"), j, v) {
			json_t *p = json_object_get(v, "port");
			json_t *end = json_object_get(v, "endPort");
			const char *proto = json_str(v, "protocol");
			char *f = xasprintf("spec.ingress[%zu].ports[%zu]", i, j);
			if (proto && strcmp(proto, "TCP") && strcmp(proto, "UDP") &&
			    strcmp(proto, "SCTP")) {
				char *pf = xasprintf("%s.protocol", f);
				apiserver_cause(
					causes, "FieldValueNotSupported", pf,
					"Unsupported value: \"%s\": supported values: \"SCTP\", "
					"\"TCP\", \"UDP\"",
					proto);
				free(pf);
			}
			if (json_is_integer(p) &&
			    (json_integer_value(p) < 1 || json_integer_value(p) > 65535)) {
				char *pf = xasprintf("%s.port", f);
				apiserver_cause(causes, "FieldValueInvalid", pf,
						"Invalid value: %lld: must be between 1 and 65535, "
						"inclusive",
						(long long)json_integer_value(p));
				free(pf);
			}
			if (end && !json_is_integer(p)) {
				char *pf = xasprintf("%s.endPort", f);
				apiserver_cause(
					causes, "FieldValueInvalid", pf,
					"Invalid value: %lld: may not be specified when `port` is "
					"non-numeric",
					(long long)json_integer_value(end));
				free(pf);
			} else if (json_is_integer(end) &&
				   json_integer_value(end) < json_integer_value(p)) {
				char *pf = xasprintf("%s.endPort", f);
				apiserver_cause(
					causes, "FieldValueInvalid", pf,
					"Invalid value: %lld: must be greater than or equal to "
					"`port`",
					(long long)json_integer_value(end));
				free(pf);
			}
			free(f);
		}
		json_array_foreach (json_object_get(rule, "from"), j, v) {
			char *f = xasprintf("spec.ingress[%zu].from[%zu]", i, j);
			json_t *block = json_object_get(v, "ipBlock");
			json_t *pods = json_object_get(v, "podSelector");
			json_t *nss = json_object_get(v, "namespaceSelector");
			if (!block && !pods && !nss)
				apiserver_cause(causes, "FieldValueRequired", f,
						"Required value: must specify a peer");
			else if (block && (pods || nss))
				apiserver_cause(
					causes, "FieldValueForbidden", f,
					"Forbidden: may not specify both ipBlock and another peer");
			if (block) {
				char *bf = xasprintf("%s.ipBlock", f);
				check_ip_block(block, bf, causes);
				free(bf);
			}
			char *sf = xasprintf("%s.podSelector", f);
			check_selector(pods, sf, causes);
			free(sf);
			sf = xasprintf("%s.namespaceSelector", f);
			check_selector(nss, sf, causes);
			free(sf);
			free(f);
		}
	}
}
