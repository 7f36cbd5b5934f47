/*
 * The cluster spec: what a user asks for (DESIGN.md, "A cluster spec"),
 * parsed from JSON, completed with defaults and checked field by field.
 *
 *   {"name": "logs", "version": "7.17.10",
 *    "masters": {"replicas": 3, "cpu": "1", "memory": "2Gi"},
 *    "data":    {"replicas": 3, "cpu": "2", "memory": "8Gi", "disk": "100Gi"},
 *    "clients": {"replicas": 2, "cpu": "1", "memory": "2Gi", "heap": "1g"},
 *    "plugins": ["analysis-icu"],
 *    "config":  {"indices.query.bool.max_clause_count": "4096"},
 *    "placement": {"spread": "host"},
 *    "network": {"service_type": "ClusterIP",
 *                "allow": [{"cidr": "10.1.0.0/16"}, {"namespace": "frontend"}]}}
 *
 * Only "name" is required.  An error names the field it is about, in the
 * dotted form the API reports ("masters.replicas", "plugins[1]",
 * "config.cluster.name"), and says what was wrong with what was sent.
 */
#ifndef ESAAS_KUBE_SPEC_H
#define ESAAS_KUBE_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "common/util.h"
#include "es/version.h"

/* Short enough that "es-<tenant>-<name>" and the names derived from it fit
 * Kubernetes' 63-character limits. */
#define SPEC_NAME_MAX 40
#define SPEC_REPLICAS_MAX 1000
#define SPEC_MEMORY_MIN ((int64_t)256 << 20) /* 256Mi */
#define SPEC_KIBANA_REPLICAS_MAX 10

struct spec_error {
	char field[128];
	char message[256];
};

/* Which failure domain no two nodes of one role may share. */
enum spec_spread {
	SPEC_SPREAD_HOST, /* kubernetes.io/hostname */
	SPEC_SPREAD_RACK, /* the rack label of esaasd's configuration */
};

/* The nodes of one role. */
struct spec_nodes {
	int replicas;
	char *cpu; /* as sent, a Kubernetes quantity: "500m", "2" */
	int64_t cpu_millis;
	char *memory; /* a Kubernetes quantity: "2Gi" */
	int64_t memory_bytes;
	char *heap; /* the JVM's form, lower case: "1g", "512m" */
	int64_t heap_bytes;
	char *disk; /* data nodes only; NULL for masters and clients */
	int64_t disk_bytes;
};

/* How the cluster is reached ("network"): who besides esaas and the
 * cluster's own pods may open its HTTP port (and Kibana's), and whether its
 * Services are NodePorts.  kube/render_netpol.c turns it into the
 * namespace's NetworkPolicies. */
#define SPEC_NETWORK_ALLOW_MAX 32

enum spec_peer_kind {
	SPEC_PEER_CIDR,	     /* {"cidr": "10.1.0.0/16"}: addresses, as an ipBlock */
	SPEC_PEER_NAMESPACE, /* {"namespace": "frontend"}: every pod of that namespace */
};

struct spec_peer {
	enum spec_peer_kind kind;
	char *value; /* the CIDR, or the namespace's name */
};

struct spec_network {
	bool node_port; /* "service_type": "NodePort"; false: ClusterIP, the default */
	struct spec_peer *allow;
	size_t nallow;
};

struct spec {
	char *name;
	struct es_version version;
	char *image; /* NULL: the version's image; else only one kubernetes.allowed_images pins */
	struct spec_nodes nodes[ES_ROLE_COUNT]; /* indexed by enum es_role */
	char **plugins;				/* known names, no duplicates, in the order sent */
	size_t nplugins;
	json_t *config; /* setting key -> string, number or boolean */
	enum spec_spread spread;
	int kibana_replicas; /* 0: no Kibana */
	struct spec_network network;
	/* "snapshots": {"every": "6h", "keep": 28}: a snapshot every so often
	 * (seconds; 0: none), the repository keeping the newest keep (0: all). */
	int64_t snapshots_every_s;
	int snapshots_keep;
};

/* The most snapshots a schedule keeps, and its longest period (365 days). */
#define SPEC_SNAPSHOTS_KEEP_MAX 1000
#define SPEC_SNAPSHOTS_EVERY_MAX_S (365LL * 86400)

/*
 * Parse and check a spec.  On success *out owns everything and is freed
 * with spec_free().  On failure err says what is wrong and *out is left
 * zeroed (spec_free() on it is harmless).
 */
bool spec_parse(json_t *json, struct spec *out, struct spec_error *err) MUST_CHECK;
void spec_free(struct spec *spec);

/* The normalised spec, every default filled in: what is stored as the
 * cluster's desired state.  spec_parse() of it gives the same spec. */
json_t *spec_to_json(const struct spec *spec);

/* The spec's section of a role: "masters", "data", "clients". */
const char *spec_section_name(enum es_role role);
/* The role of a section's name ("masters", "data", "clients"); false for
 * any other name, NULL included. */
bool spec_section_parse(const char *name, enum es_role *role);
const char *spec_spread_name(enum spec_spread spread);

/* The longest label RFC 1123 allows: a Kubernetes name, a namespace. */
#define SPEC_DNS_LABEL_MAX 63

/*
 * Whether s is an RFC 1123 DNS label (the names Kubernetes calls
 * DNS-1123 labels): 1 to max characters, max at most SPEC_DNS_LABEL_MAX
 * (63), of lower-case letters, digits and '-', beginning and ending with a
 * letter or digit.  A smaller max leaves room for what names derive from s
 * (SPEC_NAME_MAX).  NULL is not a label.  The one check of DNS labels in
 * the tree: the API's checks of names call it too.
 */
bool spec_is_dns_label(const char *s, size_t max);

/* Whether s is an IPv4 or IPv6 network in CIDR form with no host bits set
 * ("10.1.0.0/16", "fd00::/64"): what a NetworkPolicy's ipBlock takes.  The
 * one check of CIDRs in the tree (the spec's network.allow,
 * kubernetes.api_server_cidrs). */
bool spec_is_cidr(const char *s);
/* The next entry of a comma-separated list, spaces trimmed, into buf
 * (truncated to len); *list moved past it.  false at the end. */
bool spec_list_next(const char **list, char *buf, size_t len);
/* "CIDR, CIDR, ...", each spec_is_cidr(), at least one; else err says which
 * entry is not. */
bool spec_cidr_list_valid(const char *list, char *err, size_t errlen) MUST_CHECK;

/* --- quantities ---------------------------------------------------------- */

/*
 * A Kubernetes quantity: digits with an optional fraction, then a suffix
 * (n u m "" k M G T P E, Ki Mi Gi Ti Pi Ei, or an exponent e3).  CPU in
 * millicores, rounded up as Kubernetes does ("0.5" is 500, "100m" is 100).
 */
bool spec_parse_cpu(const char *s, int64_t *millicores) MUST_CHECK;

/* The same grammar in bytes, rounded up; the sub-unit suffixes (m, u, n)
 * are refused, since "512m" of memory is half a byte, never 512Mi. */
bool spec_parse_bytes(const char *s, int64_t *bytes) MUST_CHECK;

/* A JVM heap size as -Xmx takes it: digits and k, m or g ("1g", "512m"). */
bool spec_parse_heap(const char *s, int64_t *bytes) MUST_CHECK;

/* bytes in the JVM's form: whole gibibytes as "Ng", else mebibytes
 * (rounded down) as "Nm".  The caller frees it. */
char *spec_format_heap(int64_t bytes);

/* --- the rules the operations share ------------------------------------ */

/* A role's replica count: masters odd and at least 1, data at least 1,
 * clients at least 0, none above SPEC_REPLICAS_MAX. */
bool spec_check_replicas(enum es_role role, json_int_t replicas, const char *field,
			 struct spec_error *err) MUST_CHECK;

/* A plugin name esaas knows, and one that this version installs as a
 * plugin (not one it has dropped or built in). */
bool spec_check_plugin(const char *name, const struct es_version *v, const char *field,
		       struct spec_error *err) MUST_CHECK;

/* The names of the plugins this version installs as plugins, in the
 * order spec_check_plugin() knows them: a new JSON array. */
json_t *spec_plugins_of(const struct es_version *v);

enum spec_setting_kind {
	SPEC_SETTING_UNKNOWN,
	SPEC_SETTING_OWNED,   /* esaas writes it: cluster.name, node.*, discovery.* ... */
	SPEC_SETTING_STATIC,  /* elasticsearch.yml, takes a rolling restart */
	SPEC_SETTING_DYNAMIC, /* the cluster settings API, no restart */
};

enum spec_setting_kind spec_setting_kind(const char *key);

/*
 * An object of settings (a spec's "config", or a config update's
 * "settings"): every key known, not owned by esaas, and a setting of this
 * version; every value a string, number or boolean; with allow_null, null
 * too (a config update resetting a setting).  field is the object's own
 * field name.
 */
bool spec_check_settings(json_t *settings, const struct es_version *v, const char *field,
			 bool allow_null, struct spec_error *err) MUST_CHECK;

/*
 * The operator's image allow-list, kubernetes.allowed_images: "version=image,
 * version=image", each version as a spec writes it ("7.17.10"), each image
 * a reference (pinned by digest, ideally).  Tenants choose a version; the
 * operator chooses what runs it.
 */
bool spec_allowed_images_valid(const char *list, char *err, size_t errlen) MUST_CHECK;
/* The image list pins for version, or NULL (list NULL included); the
 * caller frees it. */
char *spec_allowed_image(const char *list, const struct es_version *v);
/* A spec's own image is the one list pins for its version, or it names none;
 * otherwise err names "image" and says what the list holds. */
bool spec_check_image(const struct spec *spec, const char *list, struct spec_error *err) MUST_CHECK;

#endif
