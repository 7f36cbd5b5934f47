/*
 * The cluster spec: parsing, defaults and validation.
 *
 * Every check fails with the field it is about and what was sent, because
 * the message goes back to a person as a 422 and should be enough to fix
 * the request without reading this file.
 */
#include "kube/spec.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a role gets when the spec leaves it, or a field of it, out. */
struct role_defaults {
	int replicas;
	const char *cpu;
	const char *memory;
	const char *disk; /* NULL: the role has no data disk */
};

static const struct role_defaults role_defaults[ES_ROLE_COUNT] = {
	[ES_ROLE_MASTER] = {3, "1", "2Gi", NULL},
	[ES_ROLE_DATA] = {3, "2", "8Gi", "100Gi"},
	[ES_ROLE_CLIENT] = {2, "1", "2Gi", NULL},
};

static const char *const top_fields[] = {
	"name",	  "version",   "image",	 "masters", "data",	 "clients", "plugins",
	"config", "placement", "kibana", "network", "snapshots", NULL,
};
static const char *const node_fields[] = {"replicas", "cpu", "memory", "heap", NULL};
static const char *const data_fields[] = {"replicas", "cpu", "memory", "heap", "disk", NULL};
static const char *const placement_fields[] = {"spread", NULL};
static const char *const kibana_fields[] = {"replicas", NULL};
static const char *const snapshots_fields[] = {"every", "keep", NULL};
static const char *const network_fields[] = {"service_type", "allow", NULL};
static const char *const peer_fields[] = {"cidr", "namespace", NULL};

/*
 * The plugins esaas knows, and the versions that install them as plugins:
 * from since (inclusive) to until (exclusive; 0.0 for "still a plugin").
 * Past until, a plugin was either dropped or built into Elasticsearch as a
 * module; gone says which.  The plugin repository has the final word: the
 * plugin workflows check the file is there before they touch a cluster.
 */
struct plugin_info {
	const char *name;
	int since_major, since_minor;
	int until_major, until_minor;
	const char *gone; /* past until: "was removed" or "is built in (a module)" */
};

#define REMOVED "was removed"
#define BUILT_IN "is built in as a module and needs no install"

static const struct plugin_info plugins[] = {
	{"analysis-icu", 2, 0, 0, 0, NULL},
	{"analysis-kuromoji", 2, 0, 0, 0, NULL},
	{"analysis-nori", 6, 4, 0, 0, NULL},
	{"analysis-phonetic", 2, 0, 0, 0, NULL},
	{"analysis-smartcn", 2, 0, 0, 0, NULL},
	{"analysis-stempel", 2, 0, 0, 0, NULL},
	{"analysis-ukrainian", 5, 3, 0, 0, NULL},
	{"cloud-aws", 2, 0, 5, 0, "was split into discovery-ec2 and repository-s3"},
	{"cloud-azure", 2, 0, 5, 0, "was split into discovery-azure-classic and repository-azure"},
	{"cloud-gce", 2, 0, 5, 0, "was renamed discovery-gce"},
	{"delete-by-query", 2, 0, 5, 0, BUILT_IN},
	{"discovery-azure-classic", 5, 0, 8, 0, REMOVED},
	{"discovery-ec2", 5, 0, 0, 0, NULL},
	{"discovery-gce", 5, 0, 0, 0, NULL},
	{"ingest-attachment", 5, 0, 8, 4, BUILT_IN},
	{"ingest-geoip", 5, 0, 6, 7, BUILT_IN},
	{"ingest-user-agent", 5, 0, 6, 7, BUILT_IN},
	{"lang-javascript", 2, 0, 6, 0, REMOVED},
	{"lang-python", 2, 0, 6, 0, REMOVED},
	{"mapper-annotated-text", 6, 5, 0, 0, NULL},
	{"mapper-attachments", 2, 0, 6, 0, "was removed; use ingest-attachment"},
	{"mapper-murmur3", 2, 0, 0, 0, NULL},
	{"mapper-size", 2, 0, 0, 0, NULL},
	{"repository-azure", 5, 0, 8, 0, BUILT_IN},
	{"repository-gcs", 5, 0, 8, 0, BUILT_IN},
	{"repository-hdfs", 2, 0, 0, 0, NULL},
	{"repository-s3", 5, 0, 8, 0, BUILT_IN},
	{"store-smb", 2, 0, 0, 0, NULL},
};

/*
 * Settings a spec's config (or a config update) may set.  The first match
 * wins, so esaas's own keys come first: they would break discovery, the
 * data paths, or the settings that restarts and drains toggle and restore.
 * "x.*" matches every key below x.  From 5.0 a node refuses to start with
 * a setting it does not know, so a setting names the versions that have
 * it: since (inclusive) to until (exclusive; 0.0 for "still there").
 */
struct setting {
	const char *pattern;
	enum spec_setting_kind kind;
	int since_major, since_minor;
	int until_major, until_minor;
};

#define OWNED SPEC_SETTING_OWNED, 0, 0, 0, 0
#define STATIC SPEC_SETTING_STATIC
#define DYNAMIC SPEC_SETTING_DYNAMIC

static const struct setting settings[] = {
	{"cluster.name", OWNED},
	{"cluster.initial_master_nodes", OWNED},
	{"cluster.routing.allocation.enable", OWNED},
	{"cluster.routing.allocation.exclude.*", OWNED},
	{"node.*", OWNED},
	{"network.*", OWNED},
	{"discovery.*", OWNED},
	{"path.*", OWNED},
	{"transport.*", OWNED},
	{"bootstrap.*", OWNED},
	{"xpack.security.*", OWNED},
	{"http.port", OWNED},
	{"http.host", OWNED},
	{"http.bind_host", OWNED},
	{"http.publish_host", OWNED},
	{"http.publish_port", OWNED},

	{"indices.query.bool.max_clause_count", STATIC, 5, 0, 0, 0},
	{"indices.memory.index_buffer_size", STATIC, 2, 0, 0, 0},
	{"indices.memory.min_index_buffer_size", STATIC, 2, 0, 0, 0},
	{"indices.memory.max_index_buffer_size", STATIC, 2, 0, 0, 0},
	{"indices.fielddata.cache.size", STATIC, 2, 0, 0, 0},
	{"indices.queries.cache.size", STATIC, 2, 0, 0, 0},
	{"indices.requests.cache.size", STATIC, 2, 0, 0, 0},
	/*
	 * Keys a wildcard below would admit in versions that no longer have
	 * them, listed first since the first match wins.  The bulk thread
	 * pool was renamed write in 6.3 and both bulk and index were removed
	 * in 7.0
	 * (https://www.elastic.co/guide/en/elasticsearch/reference/7.0/breaking-changes-7.0.html,
	 * "Thread pool changes"); the node-count gateway settings were
	 * removed in 8.0
	 * (https://www.elastic.co/guide/en/elasticsearch/reference/8.0/migrating-8.0.html,
	 * "gateway.expected_nodes ... removed"); the breaker type and the
	 * real memory breaker are static under the dynamic breakers
	 * (https://www.elastic.co/guide/en/elasticsearch/reference/7.17/circuit-breaker.html).
	 */
	{"thread_pool.bulk.*", STATIC, 5, 0, 7, 0},
	{"thread_pool.index.*", STATIC, 5, 0, 7, 0},
	{"thread_pool.write.*", STATIC, 6, 3, 0, 0},
	{"gateway.expected_nodes", STATIC, 2, 0, 8, 0},
	{"gateway.expected_master_nodes", STATIC, 2, 0, 8, 0},
	{"gateway.recover_after_nodes", STATIC, 2, 0, 8, 0},
	{"gateway.recover_after_master_nodes", STATIC, 2, 0, 8, 0},
	{"indices.breaker.type", STATIC, 2, 0, 0, 0},
	{"indices.breaker.total.use_real_memory", STATIC, 7, 0, 0, 0},
	{"threadpool.*", STATIC, 2, 0, 5, 0},
	{"thread_pool.*", STATIC, 5, 0, 0, 0},
	{"http.max_content_length", STATIC, 2, 0, 0, 0},
	{"http.max_initial_line_length", STATIC, 2, 0, 0, 0},
	{"http.max_header_size", STATIC, 2, 0, 0, 0},
	{"http.compression", STATIC, 2, 0, 0, 0},
	{"script.allowed_types", STATIC, 6, 0, 0, 0},
	{"script.allowed_contexts", STATIC, 6, 0, 0, 0},
	{"gateway.*", STATIC, 2, 0, 0, 0},

	/* Added in 7.14, removed in 9.0
	 * (https://github.com/elastic/elasticsearch/pull/114207; 9.0.0 in
	 * docs/release-notes/breaking-changes.md, "Allocation"); before the
	 * wildcard, which would admit it on 9.x. */
	{"cluster.routing.allocation.disk.watermark.enable_for_single_data_node", DYNAMIC, 7, 14, 9,
	 0},
	{"cluster.routing.allocation.*", DYNAMIC, 2, 0, 0, 0},
	{"cluster.routing.rebalance.enable", DYNAMIC, 2, 0, 0, 0},
	{"cluster.routing.use_adaptive_replica_selection", DYNAMIC, 6, 1, 0, 0},
	{"cluster.max_shards_per_node", DYNAMIC, 6, 5, 0, 0},
	{"cluster.info.update.interval", DYNAMIC, 2, 0, 0, 0},
	{"cluster.blocks.read_only", DYNAMIC, 2, 0, 0, 0},
	{"cluster.blocks.read_only_allow_delete", DYNAMIC, 6, 0, 0, 0},
	{"cluster.indices.close.enable", DYNAMIC, 5, 0, 0, 0},
	{"action.destructive_requires_name", DYNAMIC, 2, 0, 0, 0},
	{"action.auto_create_index", DYNAMIC, 2, 0, 0, 0},
	{"search.max_buckets", DYNAMIC, 6, 2, 0, 0},
	{"search.default_search_timeout", DYNAMIC, 2, 0, 0, 0},
	{"search.max_open_scroll_context", DYNAMIC, 7, 0, 0, 0},
	{"search.allow_expensive_queries", DYNAMIC, 7, 7, 0, 0},
	{"indices.breaker.*", DYNAMIC, 2, 0, 0, 0},
	{"indices.recovery.max_bytes_per_sec", DYNAMIC, 2, 0, 0, 0},
	{"script.max_compilations_rate", DYNAMIC, 6, 0, 0, 0},
	{"logger.*", DYNAMIC, 2, 0, 0, 0},
};

#undef OWNED
#undef STATIC
#undef DYNAMIC

/* A setting's value longer than this is a mistake, not a setting. */
#define SETTING_VALUE_MAX 1024
#define IMAGE_MAX 255

static bool fail(struct spec_error *err, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool fail(struct spec_error *err, const char *field, const char *fmt, ...)
{
	va_list ap;

	str_copy_trunc(err->field, field, sizeof(err->field));
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return false;
}

/* "section.key", or key alone at the top level; truncated to fit. */
static void join_field(char *buf, size_t len, const char *section, const char *key)
{
	if (section && section[0])
		snprintf(buf, len, "%s.%s", section, key);
	else
		snprintf(buf, len, "%s", key);
}

const char *spec_section_name(enum es_role role)
{
	switch (role) {
	case ES_ROLE_MASTER:
		return "masters";
	case ES_ROLE_DATA:
		return "data";
	case ES_ROLE_CLIENT:
		return "clients";
	}
	return "unknown";
}

bool spec_section_parse(const char *name, enum es_role *role)
{
	for (int r = 0; name && r < ES_ROLE_COUNT; r++)
		if (strcmp(name, spec_section_name((enum es_role)r)) == 0) {
			*role = (enum es_role)r;
			return true;
		}
	return false;
}

const char *spec_spread_name(enum spec_spread spread)
{
	return spread == SPEC_SPREAD_RACK ? "rack" : "host";
}

bool spec_is_dns_label(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (max > SPEC_DNS_LABEL_MAX)
		max = SPEC_DNS_LABEL_MAX;
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && !(c == '-' && i > 0 && i < n - 1))
			return false;
	}
	return true;
}

static bool only_fields(json_t *obj, const char *section, const char *const *allowed,
			struct spec_error *err)
{
	const char *key;
	json_t *value;

	json_object_foreach (obj, key, value) {
		bool known = false;
		char field[128];
		char list[192] = "";
		size_t used = 0;

		for (size_t i = 0; allowed[i] && !known; i++)
			known = strcmp(key, allowed[i]) == 0;
		if (known)
			continue;
		for (size_t i = 0; allowed[i]; i++) {
			int n = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
					 allowed[i]);
			if (n < 0 || (size_t)n >= sizeof(list) - used)
				break;
			used += (size_t)n;
		}
		join_field(field, sizeof(field), section, key);
		return fail(err, field, "unknown field; expected one of: %s", list);
	}
	return true;
}

/* The value of a JSON string with no NUL inside it, else NULL: "a\u0000b"
 * must not pass as "a". */
static const char *string_value(json_t *v)
{
	const char *s = json_string_value(v);

	if (!s || strlen(s) != json_string_length(v))
		return NULL;
	return s;
}

/* --- quantities ---------------------------------------------------------- */

typedef unsigned __int128 u128;

struct suffix {
	const char *text;
	int pow10;
	int pow2;
};

static const struct suffix suffixes[] = {
	{"n", -9, 0},  {"u", -6, 0},  {"m", -3, 0},  {"", 0, 0},    {"k", 3, 0},   {"M", 6, 0},
	{"G", 9, 0},   {"T", 12, 0},  {"P", 15, 0},  {"E", 18, 0},  {"Ki", 0, 10}, {"Mi", 0, 20},
	{"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50}, {"Ei", 0, 60},
};

static bool mul_u128(u128 *x, u128 m)
{
	if (m != 0 && *x > ~(u128)0 / m)
		return false;
	*x *= m;
	return true;
}

static bool pow10_u128(int n, u128 *out)
{
	u128 v = 1;

	for (int i = 0; i < n; i++) {
		if (!mul_u128(&v, 10))
			return false;
	}
	*out = v;
	return true;
}

/*
 * A quantity in units of 10^-scale (scale 3: thousandths, 0: whole units),
 * rounded up, and the power of ten of its suffix (negative for m, u, n and
 * negative exponents).
 */
static bool parse_quantity(const char *s, int scale, int64_t *out, int *pow10_out)
{
	u128 q = 0, num, den = 1, factor;
	int int_digits = 0, frac_digits = 0, pow10 = 0, pow2 = 0, p;
	bool found = false;

	if (!s)
		return false;
	while (*s >= '0' && *s <= '9') {
		if (++int_digits > 18)
			return false;
		q = q * 10 + (u128)(*s++ - '0');
	}
	if (int_digits == 0)
		return false;
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9') {
			if (++frac_digits > 9)
				return false;
			q = q * 10 + (u128)(*s++ - '0');
		}
		if (frac_digits == 0)
			return false;
	}
	if ((s[0] == 'e' || s[0] == 'E') &&
	    ((s[1] >= '0' && s[1] <= '9') || s[1] == '-' || s[1] == '+')) {
		int exp_digits = 0, sign = 1, e = 0;

		s++;
		if (*s == '-' || *s == '+')
			sign = *s++ == '-' ? -1 : 1;
		while (*s >= '0' && *s <= '9') {
			if (++exp_digits > 2)
				return false;
			e = e * 10 + (*s++ - '0');
		}
		if (exp_digits == 0 || *s != '\0' || e * sign < -9 || e * sign > 18)
			return false;
		pow10 = e * sign;
		found = true;
	} else {
		for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
			if (strcmp(s, suffixes[i].text) == 0) {
				pow10 = suffixes[i].pow10;
				pow2 = suffixes[i].pow2;
				found = true;
				break;
			}
		}
	}
	if (!found)
		return false;

	/* value = q * 10^(pow10 - frac_digits) * 2^pow2, times 10^scale. */
	num = q;
	if (!mul_u128(&num, (u128)1 << pow2))
		return false;
	p = pow10 + scale - frac_digits;
	if (p >= 0) {
		if (!pow10_u128(p, &factor) || !mul_u128(&num, factor))
			return false;
	} else if (!pow10_u128(-p, &den)) {
		return false;
	}
	num = (num + den - 1) / den;
	if (num > (u128)INT64_MAX)
		return false;
	*out = (int64_t)num;
	*pow10_out = pow10;
	return true;
}

bool spec_parse_cpu(const char *s, int64_t *millicores)
{
	int pow10;

	return parse_quantity(s, 3, millicores, &pow10);
}

bool spec_parse_bytes(const char *s, int64_t *bytes)
{
	int64_t value;
	int pow10;

	if (!parse_quantity(s, 0, &value, &pow10) || pow10 < 0)
		return false;
	*bytes = value;
	return true;
}

bool spec_parse_heap(const char *s, int64_t *bytes)
{
	int64_t n = 0;
	int digits = 0, shift;

	if (!s || s[0] < '1' || s[0] > '9')
		return false;
	while (*s >= '0' && *s <= '9') {
		if (++digits > 15)
			return false;
		n = n * 10 + (*s++ - '0');
	}
	switch (*s) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	default:
		return false;
	}
	if (s[1] != '\0' || n > (INT64_MAX >> shift))
		return false;
	*bytes = n << shift;
	return true;
}

char *spec_format_heap(int64_t bytes)
{
	const int64_t gib = (int64_t)1 << 30, mib = (int64_t)1 << 20;

	if (bytes >= gib && bytes % gib == 0)
		return xasprintf("%lldg", (long long)(bytes / gib));
	return xasprintf("%lldm", (long long)(bytes / mib));
}

/* --- shared rules ------------------------------------------------------- */

bool spec_check_replicas(enum es_role role, json_int_t replicas, const char *field,
			 struct spec_error *err)
{
	long long n = (long long)replicas;

	switch (role) {
	case ES_ROLE_MASTER:
		if (n < 1)
			return fail(err, field, "must be at least 1 (got %lld)", n);
		if (n % 2 == 0)
			return fail(err, field, "must be odd so that a quorum exists (got %lld)",
				    n);
		break;
	case ES_ROLE_DATA:
		if (n < 1)
			return fail(err, field, "must be at least 1 (got %lld)", n);
		break;
	case ES_ROLE_CLIENT:
		if (n < 0)
			return fail(err, field, "must be at least 0 (got %lld)", n);
		break;
	}
	if (n > SPEC_REPLICAS_MAX)
		return fail(err, field, "must be at most %d (got %lld)", SPEC_REPLICAS_MAX, n);
	return true;
}

static bool version_before(const struct es_version *v, int major, int minor)
{
	return !es_version_at_least(v, major, minor, 0);
}

json_t *spec_plugins_of(const struct es_version *v)
{
	json_t *list = json_array();

	for (size_t i = 0; i < ARRAY_SIZE(plugins); i++) {
		const struct plugin_info *p = &plugins[i];

		if (!version_before(v, p->since_major, p->since_minor) &&
		    (!p->until_major || version_before(v, p->until_major, p->until_minor)))
			json_array_append_new(list, json_string(p->name));
	}
	return list;
}

bool spec_check_plugin(const char *name, const struct es_version *v, const char *field,
		       struct spec_error *err)
{
	char ver[ES_VERSION_BUFSIZE];

	es_version_format(v, ver, sizeof(ver));
	for (size_t i = 0; i < ARRAY_SIZE(plugins); i++) {
		const struct plugin_info *p = &plugins[i];

		if (strcmp(name, p->name) != 0)
			continue;
		if (version_before(v, p->since_major, p->since_minor))
			return fail(err, field,
				    "%s is not available before Elasticsearch %d.%d (got %s)", name,
				    p->since_major, p->since_minor, ver);
		if (p->until_major && !version_before(v, p->until_major, p->until_minor))
			return fail(err, field, "%s %s from Elasticsearch %d.%d (got %s)", name,
				    p->gone, p->until_major, p->until_minor, ver);
		return true;
	}
	return fail(err, field, "\"%.64s\" is not a plugin esaas knows", name);
}

static bool pattern_matches(const char *pattern, const char *key)
{
	size_t n = strlen(pattern);

	if (n >= 2 && pattern[n - 1] == '*' && pattern[n - 2] == '.')
		return strncmp(key, pattern, n - 1) == 0 && key[n - 1] != '\0';
	return strcmp(pattern, key) == 0;
}

static const struct setting *find_setting(const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(settings); i++) {
		if (pattern_matches(settings[i].pattern, key))
			return &settings[i];
	}
	return NULL;
}

enum spec_setting_kind spec_setting_kind(const char *key)
{
	const struct setting *s = find_setting(key);

	return s ? s->kind : SPEC_SETTING_UNKNOWN;
}

static bool check_setting_value(json_t *value, const char *field, bool allow_null,
				struct spec_error *err)
{
	const char *s;
	size_t len;

	switch (json_typeof(value)) {
	case JSON_INTEGER:
	case JSON_REAL:
	case JSON_TRUE:
	case JSON_FALSE:
		return true;
	case JSON_NULL:
		if (allow_null)
			return true;
		return fail(err, field, "must be a string, number or boolean, not null");
	case JSON_STRING:
		s = json_string_value(value);
		len = json_string_length(value);
		if (len > SETTING_VALUE_MAX)
			return fail(err, field, "is %zu bytes long; at most %d are allowed", len,
				    SETTING_VALUE_MAX);
		for (size_t i = 0; i < len; i++) {
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
				return fail(err, field, "must not contain control characters");
		}
		return true;
	case JSON_OBJECT:
	case JSON_ARRAY:
		break;
	}
	return fail(err, field,
		    "must be a string, number or boolean (a list is written as a comma-separated "
		    "string)");
}

/*
 * Settings that open the cluster to the outside or change who may reach
 * it: browsers of other origins (http.cors), reindexing from other hosts,
 * connections to remote clusters (which could be another tenant's), data
 * sent out by monitoring exporters, watcher notifications and its HTTP
 * client, URL repositories, GeoIP downloads, and security itself.  A
 * tenant cannot set them; esaas would set them for its own reasons.
 */
static const char *const fenced_settings[] = {
	"http.cors.*",
	"reindex.remote.*",
	"cluster.remote.*",
	"search.remote.*",
	"xpack.monitoring.exporters.*",
	"xpack.notification.*",
	"xpack.http.*",
	"repositories.url.*",
	"ingest.geoip.downloader.*",
	"xpack.security.*",
	"xpack.ssl.*",
};

static bool fenced(const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(fenced_settings); i++) {
		if (pattern_matches(fenced_settings[i], key))
			return true;
	}
	return false;
}

bool spec_check_settings(json_t *obj, const struct es_version *v, const char *field,
			 bool allow_null, struct spec_error *err)
{
	char ver[ES_VERSION_BUFSIZE];
	const char *key;
	json_t *value;

	if (!json_is_object(obj))
		return fail(err, field, "must be an object of setting names and values");
	es_version_format(v, ver, sizeof(ver));
	json_object_foreach (obj, key, value) {
		const struct setting *s = find_setting(key);
		char f[128];

		join_field(f, sizeof(f), field, key);
		if (fenced(key))
			return fail(err, f,
				    "is managed by esaas: it opens the cluster to the outside or "
				    "changes its security");
		if (!s)
			return fail(
				err, f,
				"is not a setting esaas knows: only settings known to be static "
				"or dynamic can be set");
		if (s->kind == SPEC_SETTING_OWNED)
			return fail(err, f, "is managed by esaas and cannot be set");
		if (version_before(v, s->since_major, s->since_minor))
			return fail(
				err, f,
				"is not a setting of Elasticsearch %s: it exists from %d.%d, and "
				"a node refuses to start with a setting it does not know",
				ver, s->since_major, s->since_minor);
		if (s->until_major && !version_before(v, s->until_major, s->until_minor))
			return fail(err, f,
				    "is not a setting of Elasticsearch %s: it was removed in %d.%d",
				    ver, s->until_major, s->until_minor);
		if (!check_setting_value(value, f, allow_null, err))
			return false;
	}
	return true;
}

/* --- parsing ------------------------------------------------------------ */

/* A quantity field: a string, or a non-negative integer taken as its
 * decimal text.  *text is allocated on success. */
static bool quantity_text(json_t *v, const char *field, const char *example, char **text,
			  struct spec_error *err)
{
	if (string_value(v)) {
		*text = xstrdup(string_value(v));
		return true;
	}
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*text = xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return true;
	}
	return fail(err, field, "must be a Kubernetes quantity such as \"%s\"", example);
}

static bool parse_nodes(json_t *section, enum es_role role, struct spec_nodes *n,
			struct spec_error *err)
{
	const struct role_defaults *d = &role_defaults[role];
	const char *name = spec_section_name(role);
	char field[64];
	json_t *v;

	n->replicas = d->replicas;
	n->cpu = xstrdup(d->cpu);
	n->memory = xstrdup(d->memory);
	n->disk = d->disk ? xstrdup(d->disk) : NULL;

	if (section) {
		if (!json_is_object(section))
			return fail(err, name, "must be an object");
		if (role != ES_ROLE_DATA && json_object_get(section, "disk")) {
			join_field(field, sizeof(field), name, "disk");
			return fail(err, field,
				    "only data nodes have a data disk; %s keep just their plugins "
				    "on the host",
				    name);
		}
		if (!only_fields(section, name, d->disk ? data_fields : node_fields, err))
			return false;

		if ((v = json_object_get(section, "replicas"))) {
			join_field(field, sizeof(field), name, "replicas");
			if (!json_is_integer(v))
				return fail(err, field, "must be an integer");
			if (!spec_check_replicas(role, json_integer_value(v), field, err))
				return false;
			n->replicas = (int)json_integer_value(v);
		}
		if ((v = json_object_get(section, "cpu"))) {
			join_field(field, sizeof(field), name, "cpu");
			free(n->cpu);
			n->cpu = NULL;
			if (!quantity_text(v, field, "500m", &n->cpu, err))
				return false;
		}
		if ((v = json_object_get(section, "memory"))) {
			join_field(field, sizeof(field), name, "memory");
			free(n->memory);
			n->memory = NULL;
			if (!quantity_text(v, field, "2Gi", &n->memory, err))
				return false;
		}
		if ((v = json_object_get(section, "disk"))) {
			join_field(field, sizeof(field), name, "disk");
			free(n->disk);
			n->disk = NULL;
			if (!quantity_text(v, field, "100Gi", &n->disk, err))
				return false;
		}
		if ((v = json_object_get(section, "heap"))) {
			join_field(field, sizeof(field), name, "heap");
			if (!string_value(v))
				return fail(err, field,
					    "must be a JVM heap size such as \"1g\" or \"512m\"");
			n->heap = xstrdup(string_value(v));
		}
	}

	join_field(field, sizeof(field), name, "cpu");
	if (!spec_parse_cpu(n->cpu, &n->cpu_millis))
		return fail(
			err, field,
			"must be a Kubernetes quantity such as \"500m\" or \"2\" (got \"%.40s\")",
			n->cpu);
	if (n->cpu_millis < 1)
		return fail(err, field, "must be at least 1m (got \"%.40s\")", n->cpu);

	join_field(field, sizeof(field), name, "memory");
	if (!spec_parse_bytes(n->memory, &n->memory_bytes))
		return fail(err, field,
			    "must be a Kubernetes quantity of bytes such as \"2Gi\" or \"512Mi\" "
			    "(got \"%.40s\")",
			    n->memory);
	if (n->memory_bytes < SPEC_MEMORY_MIN)
		return fail(err, field,
			    "must be at least 256Mi for Elasticsearch to start (got \"%.40s\")",
			    n->memory);

	if (n->disk) {
		join_field(field, sizeof(field), name, "disk");
		if (!spec_parse_bytes(n->disk, &n->disk_bytes))
			return fail(err, field,
				    "must be a Kubernetes quantity of bytes such as \"100Gi\" "
				    "(got \"%.40s\")",
				    n->disk);
		if (n->disk_bytes < 1)
			return fail(err, field, "must be more than 0 (got \"%.40s\")", n->disk);
	}

	join_field(field, sizeof(field), name, "heap");
	if (n->heap) {
		char *lower;

		if (!spec_parse_heap(n->heap, &n->heap_bytes))
			return fail(err, field,
				    "must be a JVM heap size such as \"1g\" or \"512m\" (got "
				    "\"%.40s\")",
				    n->heap);
		/* One spelling, as the JVM prints it: "1G" is stored "1g". */
		lower = n->heap;
		for (char *c = lower; *c; c++) {
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		}
		if (n->heap_bytes > n->memory_bytes / 2) {
			char *half = spec_format_heap(n->memory_bytes / 2);
			bool r = fail(err, field,
				      "must not exceed half the memory, %s of %s: the rest is the "
				      "filesystem cache's (got \"%s\")",
				      half, n->memory, n->heap);

			free(half);
			return r;
		}
	} else {
		n->heap = spec_format_heap(n->memory_bytes / 2);
		if (!spec_parse_heap(n->heap, &n->heap_bytes))
			return fail(err, field, "cannot be derived from the memory \"%.40s\"",
				    n->memory);
	}
	return true;
}

/* Docker image references: registry, path, tag and digest characters. */
static bool valid_image(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > IMAGE_MAX || s[0] == '-' || s[0] == '/' || s[0] == ':' || s[0] == '@')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("._-/:@", c)))
			return false;
	}
	return true;
}

static bool parse_plugins(json_t *list, struct spec *s, struct spec_error *err)
{
	size_t i;
	json_t *v;

	if (!list)
		return true;
	if (!json_is_array(list))
		return fail(err, "plugins", "must be a list of plugin names");
	s->plugins = xcalloc(json_array_size(list), sizeof(char *));
	json_array_foreach (list, i, v) {
		char field[32];

		snprintf(field, sizeof(field), "plugins[%zu]", i);
		if (!string_value(v))
			return fail(err, field, "must be a plugin name such as \"analysis-icu\"");
		if (!spec_check_plugin(string_value(v), &s->version, field, err))
			return false;
		for (size_t j = 0; j < s->nplugins; j++) {
			if (strcmp(s->plugins[j], string_value(v)) == 0)
				return fail(err, field, "%s is listed twice", s->plugins[j]);
		}
		s->plugins[s->nplugins++] = xstrdup(string_value(v));
	}
	return true;
}

static bool parse_placement(json_t *obj, struct spec *s, struct spec_error *err)
{
	json_t *v;
	const char *spread;

	s->spread = SPEC_SPREAD_HOST;
	if (!obj)
		return true;
	if (!json_is_object(obj))
		return fail(err, "placement", "must be an object such as {\"spread\": \"host\"}");
	if (!only_fields(obj, "placement", placement_fields, err))
		return false;
	if (!(v = json_object_get(obj, "spread")))
		return true;
	spread = string_value(v);
	if (spread && strcmp(spread, "host") == 0)
		s->spread = SPEC_SPREAD_HOST;
	else if (spread && strcmp(spread, "rack") == 0)
		s->spread = SPEC_SPREAD_RACK;
	else
		return fail(err, "placement.spread", "must be \"host\" or \"rack\"");
	return true;
}

/* {"replicas": N}: a Kibana of the cluster's version next to it; 0 or left
 * out, none. */
static bool parse_kibana(json_t *obj, struct spec *s, struct spec_error *err)
{
	json_t *v;

	s->kibana_replicas = 0;
	if (!obj)
		return true;
	if (!json_is_object(obj))
		return fail(err, "kibana", "must be an object such as {\"replicas\": 1}");
	if (!only_fields(obj, "kibana", kibana_fields, err))
		return false;
	if (!(v = json_object_get(obj, "replicas")))
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > SPEC_KIBANA_REPLICAS_MAX)
		return fail(err, "kibana.replicas", "must be an integer from 0 to %d",
			    SPEC_KIBANA_REPLICAS_MAX);
	s->kibana_replicas = (int)json_integer_value(v);
	return true;
}

/* {"every": "6h", "keep": 28}: every N minutes, hours or days ("30m",
 * "6h", "1d", up to 365 days), keeping 1 to SPEC_SNAPSHOTS_KEEP_MAX; either
 * may be left out, not both. */
static bool parse_snapshots(json_t *obj, struct spec *s, struct spec_error *err)
{
	json_t *every, *keep;

	s->snapshots_every_s = 0;
	s->snapshots_keep = 0;
	if (!obj)
		return true;
	if (!json_is_object(obj))
		return fail(err, "snapshots",
			    "must be an object such as {\"every\": \"6h\", "
			    "\"keep\": 28}");
	if (!only_fields(obj, "snapshots", snapshots_fields, err))
		return false;
	every = json_object_get(obj, "every");
	keep = json_object_get(obj, "keep");
	if (!every && !keep)
		return fail(err, "snapshots", "names every, keep or both");
	if (every) {
		const char *t = json_string_value(every);
		size_t n = t ? strspn(t, "0123456789") : 0;
		int64_t count = 0;
		char unit = t && n > 0 ? t[n] : '\0';
		bool ok = n > 0 && n <= 6 && t[0] != '0' && strchr("mhd", unit) && unit &&
			  t[n + 1] == '\0';
		for (size_t i = 0; ok && i < n; i++)
			count = count * 10 + (t[i] - '0');
		count *= unit == 'm' ? 60 : unit == 'h' ? 3600 : 86400;
		if (!ok || count > SPEC_SNAPSHOTS_EVERY_MAX_S)
			return fail(err, "snapshots.every",
				    "must be a period such as \"30m\", \"6h\" or \"1d\" (minutes, "
				    "hours or days, at most 365 days)");
		s->snapshots_every_s = count;
	}
	if (keep) {
		if (!json_is_integer(keep) || json_integer_value(keep) < 1 ||
		    json_integer_value(keep) > SPEC_SNAPSHOTS_KEEP_MAX)
			return fail(err, "snapshots.keep", "must be an integer from 1 to %d",
				    SPEC_SNAPSHOTS_KEEP_MAX);
		s->snapshots_keep = (int)json_integer_value(keep);
	}
	return true;
}

/* The period in its largest whole unit: "1d", "6h", "90m". */
static json_t *snapshots_every_json(int64_t s)
{
	char buf[32];
	if (s % 86400 == 0)
		snprintf(buf, sizeof(buf), "%lldd", (long long)(s / 86400));
	else if (s % 3600 == 0)
		snprintf(buf, sizeof(buf), "%lldh", (long long)(s / 3600));
	else
		snprintf(buf, sizeof(buf), "%lldm", (long long)(s / 60));
	return json_string(buf);
}

/* An IPv4 or IPv6 network as NetworkPolicy's ipBlock takes it, in its
 * canonical form: "10.1.0.0/16", no host bits set (the API server accepts
 * "10.1.2.3/16" but means 10.1.0.0/16; asking for the canonical form keeps
 * a tenant from believing it admitted one address). */
bool spec_is_cidr(const char *s)
{
	unsigned char addr[16];
	char host[64];
	const char *slash = strchr(s, '/');
	int64_t bits;
	int family;
	size_t len;

	if (!slash || (size_t)(slash - s) >= sizeof(host))
		return false;
	memcpy(host, s, (size_t)(slash - s));
	host[slash - s] = '\0';
	family = strchr(host, ':') ? AF_INET6 : AF_INET;
	len = family == AF_INET6 ? 16 : 4;
	if (inet_pton(family, host, addr) != 1 ||
	    !parse_int64(slash + 1, 0, (int64_t)len * 8, &bits))
		return false;
	for (size_t i = 0; i < len; i++) {
		int64_t keep = bits - (int64_t)i * 8;
		unsigned char mask = keep >= 8	 ? 0xff
				     : keep <= 0 ? 0
						 : (unsigned char)(0xff << (8 - keep));

		if (addr[i] & (unsigned char)~mask)
			return false;
	}
	return true;
}

bool spec_list_next(const char **list, char *buf, size_t len)
{
	const char *p = *list;
	const char *end;
	size_t n;

	while (*p == ' ' || *p == ',')
		p++;
	if (!*p)
		return false;
	end = strchr(p, ',');
	if (!end)
		end = p + strlen(p);
	*list = end;
	while (end > p && end[-1] == ' ')
		end--;
	n = (size_t)(end - p);
	if (n >= len)
		n = len - 1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return true;
}

bool spec_cidr_list_valid(const char *list, char *err, size_t errlen)
{
	char entry[64];
	size_t n = 0;

	for (const char *c = list; *c; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			snprintf(err, errlen, "must not contain control characters");
			return false;
		}
	}
	while (spec_list_next(&list, entry, sizeof(entry))) {
		if (!spec_is_cidr(entry)) {
			snprintf(err, errlen,
				 "\"%.64s\" is not a network in CIDR form with no host bits set "
				 "(\"10.0.0.0/24\", \"192.168.1.10/32\")",
				 entry);
			return false;
		}
		n++;
	}
	if (n == 0) {
		snprintf(err, errlen, "expected one or more CIDRs separated by commas");
		return false;
	}
	return true;
}

/* One entry of network.allow: exactly one of cidr and namespace. */
static bool parse_peer(json_t *obj, size_t i, struct spec_peer *p, struct spec_error *err)
{
	char field[64];
	json_t *cidr, *ns;
	const char *v;

	snprintf(field, sizeof(field), "network.allow[%zu]", i);
	if (!json_is_object(obj))
		return fail(err, field,
			    "must be an object such as {\"cidr\": \"10.1.0.0/16\"} or "
			    "{\"namespace\": \"frontend\"}");
	if (!only_fields(obj, field, peer_fields, err))
		return false;
	cidr = json_object_get(obj, "cidr");
	ns = json_object_get(obj, "namespace");
	if (!cidr == !ns)
		return fail(err, field, "must have exactly one of \"cidr\" and \"namespace\"");
	if (cidr) {
		snprintf(field, sizeof(field), "network.allow[%zu].cidr", i);
		v = string_value(cidr);
		if (!v || !spec_is_cidr(v))
			return fail(err, field,
				    "must be a network in CIDR form with no host bits set, such as "
				    "\"10.1.0.0/16\" or \"fd00::/64\" (got %s%.64s%s)",
				    v ? "\"" : "", v ? v : "not a string", v ? "\"" : "");
		p->kind = SPEC_PEER_CIDR;
	} else {
		snprintf(field, sizeof(field), "network.allow[%zu].namespace", i);
		v = string_value(ns);
		if (!v || !spec_is_dns_label(v, SPEC_DNS_LABEL_MAX))
			return fail(err, field,
				    "must be a namespace's name: a DNS-1123 label of lower-case "
				    "letters, digits and '-' (got %s%.64s%s)",
				    v ? "\"" : "", v ? v : "not a string", v ? "\"" : "");
		p->kind = SPEC_PEER_NAMESPACE;
	}
	p->value = xstrdup(v);
	return true;
}

/*
 * {"service_type": "ClusterIP" | "NodePort", "allow": [peer, ...]}: the
 * Services are ClusterIP unless NodePort is asked for; besides esaas and the
 * cluster's own pods, only the peers listed reach its HTTP port and
 * Kibana's (kube/render_netpol.c).
 */
static bool parse_network(json_t *obj, struct spec *s, struct spec_error *err)
{
	json_t *v;
	const char *type;

	if (!obj)
		return true;
	if (!json_is_object(obj))
		return fail(err, "network",
			    "must be an object such as {\"allow\": [{\"cidr\": "
			    "\"10.1.0.0/16\"}]}");
	if (!only_fields(obj, "network", network_fields, err))
		return false;
	if ((v = json_object_get(obj, "service_type"))) {
		type = string_value(v);
		if (type && strcmp(type, "NodePort") == 0)
			s->network.node_port = true;
		else if (!type || strcmp(type, "ClusterIP") != 0)
			return fail(err, "network.service_type",
				    "must be \"ClusterIP\" or \"NodePort\"");
	}
	if (!(v = json_object_get(obj, "allow")))
		return true;
	if (!json_is_array(v))
		return fail(err, "network.allow",
			    "must be a list of {\"cidr\": ...} and {\"namespace\": ...}");
	if (json_array_size(v) > SPEC_NETWORK_ALLOW_MAX)
		return fail(err, "network.allow", "must have at most %d entries (got %zu)",
			    SPEC_NETWORK_ALLOW_MAX, json_array_size(v));
	s->network.allow = xcalloc(json_array_size(v) + 1, sizeof(*s->network.allow));
	for (size_t i = 0; i < json_array_size(v); i++) {
		if (!parse_peer(json_array_get(v, i), i, &s->network.allow[i], err))
			return false;
		s->network.nallow++;
	}
	return true;
}

static bool parse_name(json_t *v, struct spec *s, struct spec_error *err)
{
	const char *name;

	if (!v)
		return fail(err, "name", "is required");
	if (!(name = string_value(v)))
		return fail(err, "name", "must be a string");
	if (strlen(name) > SPEC_NAME_MAX)
		return fail(err, "name", "must be at most %d characters (got %zu)", SPEC_NAME_MAX,
			    strlen(name));
	if (!spec_is_dns_label(name, SPEC_NAME_MAX))
		return fail(
			err, "name",
			"must be a DNS-1123 label: lower-case letters, digits and '-', starting "
			"and ending with a letter or digit (got \"%.40s\")",
			name);
	s->name = xstrdup(name);
	return true;
}

static bool parse_version(json_t *v, struct spec *s, struct spec_error *err)
{
	const char *text = ES_VERSION_DEFAULT;
	char why[160];

	if (v) {
		if (!(text = string_value(v)))
			return fail(err, "version", "must be a string such as \"%s\"",
				    ES_VERSION_DEFAULT);
	}
	if (!es_version_parse(text, &s->version))
		return fail(err, "version",
			    "must be MAJOR.MINOR.PATCH such as \"%s\" (got \"%.32s\")",
			    ES_VERSION_DEFAULT, text);
	if (!es_version_supported(&s->version, why, sizeof(why)))
		return fail(err, "version", "%s", why);
	return true;
}

bool spec_parse(json_t *json, struct spec *out, struct spec_error *err)
{
	struct spec s;
	json_t *v;

	memset(&s, 0, sizeof(s));
	memset(out, 0, sizeof(*out));
	memset(err, 0, sizeof(*err));

	if (!json_is_object(json)) {
		fail(err, "", "the cluster spec must be a JSON object");
		goto failed;
	}
	if (!only_fields(json, NULL, top_fields, err))
		goto failed;
	if (!parse_name(json_object_get(json, "name"), &s, err))
		goto failed;
	if (!parse_version(json_object_get(json, "version"), &s, err))
		goto failed;
	if ((v = json_object_get(json, "image"))) {
		if (!string_value(v) || !valid_image(string_value(v))) {
			fail(err, "image",
			     "must be an image reference such as "
			     "\"docker.elastic.co/elasticsearch/elasticsearch:7.17.10\"");
			goto failed;
		}
		s.image = xstrdup(json_string_value(v));
	}
	for (int r = 0; r < ES_ROLE_COUNT; r++) {
		if (!parse_nodes(json_object_get(json, spec_section_name(r)), r, &s.nodes[r], err))
			goto failed;
	}
	if (!parse_plugins(json_object_get(json, "plugins"), &s, err))
		goto failed;
	if ((v = json_object_get(json, "config"))) {
		if (!spec_check_settings(v, &s.version, "config", false, err))
			goto failed;
		s.config = json_deep_copy(v);
	} else {
		s.config = json_object();
	}
	if (!parse_placement(json_object_get(json, "placement"), &s, err))
		goto failed;
	if (!parse_kibana(json_object_get(json, "kibana"), &s, err))
		goto failed;
	if (!parse_network(json_object_get(json, "network"), &s, err))
		goto failed;
	if (!parse_snapshots(json_object_get(json, "snapshots"), &s, err))
		goto failed;

	*out = s;
	return true;

failed:
	spec_free(&s);
	return false;
}

void spec_free(struct spec *spec)
{
	if (!spec)
		return;
	free(spec->name);
	free(spec->image);
	for (int r = 0; r < ES_ROLE_COUNT; r++) {
		free(spec->nodes[r].cpu);
		free(spec->nodes[r].memory);
		free(spec->nodes[r].heap);
		free(spec->nodes[r].disk);
	}
	for (size_t i = 0; i < spec->nplugins; i++)
		free(spec->plugins[i]);
	free(spec->plugins);
	json_decref(spec->config);
	for (size_t i = 0; i < spec->network.nallow; i++)
		free(spec->network.allow[i].value);
	free(spec->network.allow);
	memset(spec, 0, sizeof(*spec));
}

json_t *spec_to_json(const struct spec *spec)
{
	json_t *obj = json_object();
	json_t *plugin_list = json_array();
	char ver[ES_VERSION_BUFSIZE];

	es_version_format(&spec->version, ver, sizeof(ver));
	json_object_set_new(obj, "name", json_string(spec->name));
	json_object_set_new(obj, "version", json_string(ver));
	if (spec->image)
		json_object_set_new(obj, "image", json_string(spec->image));
	for (int r = 0; r < ES_ROLE_COUNT; r++) {
		const struct spec_nodes *n = &spec->nodes[r];
		json_t *section = json_object();

		json_object_set_new(section, "replicas", json_integer(n->replicas));
		json_object_set_new(section, "cpu", json_string(n->cpu));
		json_object_set_new(section, "memory", json_string(n->memory));
		json_object_set_new(section, "heap", json_string(n->heap));
		if (n->disk)
			json_object_set_new(section, "disk", json_string(n->disk));
		json_object_set_new(obj, spec_section_name(r), section);
	}
	for (size_t i = 0; i < spec->nplugins; i++)
		json_array_append_new(plugin_list, json_string(spec->plugins[i]));
	json_object_set_new(obj, "plugins", plugin_list);
	json_object_set_new(obj, "config",
			    spec->config ? json_deep_copy(spec->config) : json_object());
	json_object_set_new(obj, "placement",
			    json_pack("{s:s}", "spread", spec_spread_name(spec->spread)));
	if (spec->kibana_replicas > 0)
		json_object_set_new(obj, "kibana",
				    json_pack("{s:i}", "replicas", spec->kibana_replicas));
	if (spec->snapshots_every_s > 0 || spec->snapshots_keep > 0) {
		json_t *snap = json_object();
		if (spec->snapshots_every_s > 0)
			json_object_set_new(snap, "every",
					    snapshots_every_json(spec->snapshots_every_s));
		if (spec->snapshots_keep > 0)
			json_object_set_new(snap, "keep", json_integer(spec->snapshots_keep));
		json_object_set_new(obj, "snapshots", snap);
	}
	/* Only when not the defaults, so that the specs stored before it
	 * read the same. */
	if (spec->network.node_port || spec->network.nallow > 0) {
		json_t *net = json_object();
		json_t *allow = json_array();

		json_object_set_new(
			net, "service_type",
			json_string(spec->network.node_port ? "NodePort" : "ClusterIP"));
		for (size_t i = 0; i < spec->network.nallow; i++)
			json_array_append_new(
				allow, json_pack("{s:s}",
						 spec->network.allow[i].kind == SPEC_PEER_CIDR
							 ? "cidr"
							 : "namespace",
						 spec->network.allow[i].value));
		json_object_set_new(net, "allow", allow);
		json_object_set_new(obj, "network", net);
	}
	return obj;
}

/* --- the operator's images --------------------------------------------------- */

/*
 * The next "version=image" of list: the version and the image, spaces
 * trimmed, and *list moved past the comma.  *ok false when the entry is
 * not that shape.  false at the end of the list.
 */
static bool image_entry(const char **list, const char **version, size_t *vlen, const char **image,
			size_t *ilen, bool *ok)
{
	const char *p = *list + strspn(*list, " ");
	size_t n = strcspn(p, ",");
	const char *eq = memchr(p, '=', n);

	if (!*p)
		return false;
	*list = p[n] ? p + n + 1 : p + n;
	*ok = false;
	if (!eq)
		return true;
	*version = p;
	*vlen = (size_t)(eq - p);
	while (*vlen > 0 && p[*vlen - 1] == ' ')
		(*vlen)--;
	*image = eq + 1 + strspn(eq + 1, " ");
	*ilen = n - (size_t)(*image - p);
	while (*ilen > 0 && (*image)[*ilen - 1] == ' ')
		(*ilen)--;
	if (*vlen == 0 || *ilen == 0 || *ilen > IMAGE_MAX)
		return true;
	for (size_t i = 0; i < *vlen; i++)
		if (!(((*version)[i] >= '0' && (*version)[i] <= '9') || (*version)[i] == '.'))
			return true;
	char img[IMAGE_MAX + 1];

	memcpy(img, *image, *ilen);
	img[*ilen] = '\0';
	*ok = valid_image(img);
	return true;
}

bool spec_allowed_images_valid(const char *list, char *err, size_t errlen)
{
	const char *item = list, *version, *image;
	size_t vlen, ilen;
	bool ok;

	while (image_entry(&list, &version, &vlen, &image, &ilen, &ok)) {
		if (!ok) {
			size_t n = strcspn(item + strspn(item, " "), ",");

			snprintf(err, errlen,
				 "expected version=image entries separated by commas, such as "
				 "\"7.17.10=registry.example.com/elasticsearch@sha256:...\"; got "
				 "\"%.*s\"",
				 (int)(n > 80 ? 80 : n), item + strspn(item, " "));
			return false;
		}
		item = list;
	}
	return true;
}

char *spec_allowed_image(const char *list, const struct es_version *v)
{
	char want[ES_VERSION_BUFSIZE];
	const char *version, *image;
	size_t vlen, ilen;
	bool ok;

	es_version_format(v, want, sizeof(want));
	while (list && image_entry(&list, &version, &vlen, &image, &ilen, &ok))
		if (ok && vlen == strlen(want) && memcmp(version, want, vlen) == 0)
			return xstrndup(image, ilen);
	return NULL;
}

bool spec_check_image(const struct spec *spec, const char *list, struct spec_error *err)
{
	char version[ES_VERSION_BUFSIZE];
	char *pinned;
	bool ok;

	if (!spec->image)
		return true;
	pinned = spec_allowed_image(list, &spec->version);
	ok = pinned && strcmp(pinned, spec->image) == 0;
	es_version_format(&spec->version, version, sizeof(version));
	if (!ok)
		fail(err, "image",
		     "%.80s is not on the operator's allow-list for version %s "
		     "(kubernetes.allowed_images %s%.80s); leave image out to run the "
		     "version's own image",
		     spec->image, version, pinned ? "pins " : "names no image for it",
		     pinned ? pinned : "");
	free(pinned);
	return ok;
}
