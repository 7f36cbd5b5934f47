/* kube/spec.c: the cluster spec's defaults, validation and quantities. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "kube/spec.h"

#define GI ((int64_t)1 << 30)
#define MI ((int64_t)1 << 20)

static json_t *load(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_ALLOW_NUL, &jerr);

	if (!j)
		fail_msg("bad test JSON %s: %s", text, jerr.text);
	return j;
}

static void parse_ok(const char *text, struct spec *s)
{
	json_t *j = load(text);
	struct spec_error err;

	if (!spec_parse(j, s, &err))
		fail_msg("%s refused: %s: %s", text, err.field, err.message);
	json_decref(j);
}

/* --- defaults -------------------------------------------------------------- */

static void test_defaults(void **state)
{
	struct spec s;
	char ver[ES_VERSION_BUFSIZE];

	parse_ok("{\"name\": \"logs\"}", &s);
	assert_string_equal(s.name, "logs");
	es_version_format(&s.version, ver, sizeof(ver));
	assert_string_equal(ver, ES_VERSION_DEFAULT);
	assert_null(s.image);

	assert_int_equal(s.nodes[ES_ROLE_MASTER].replicas, 3);
	assert_string_equal(s.nodes[ES_ROLE_MASTER].cpu, "1");
	assert_int_equal(s.nodes[ES_ROLE_MASTER].cpu_millis, 1000);
	assert_string_equal(s.nodes[ES_ROLE_MASTER].memory, "2Gi");
	assert_true(s.nodes[ES_ROLE_MASTER].memory_bytes == 2 * GI);
	assert_string_equal(s.nodes[ES_ROLE_MASTER].heap, "1g");
	assert_true(s.nodes[ES_ROLE_MASTER].heap_bytes == GI);
	assert_null(s.nodes[ES_ROLE_MASTER].disk);

	assert_int_equal(s.nodes[ES_ROLE_DATA].replicas, 3);
	assert_string_equal(s.nodes[ES_ROLE_DATA].cpu, "2");
	assert_string_equal(s.nodes[ES_ROLE_DATA].memory, "8Gi");
	/* The heap defaults to half the memory. */
	assert_string_equal(s.nodes[ES_ROLE_DATA].heap, "4g");
	assert_string_equal(s.nodes[ES_ROLE_DATA].disk, "100Gi");
	assert_true(s.nodes[ES_ROLE_DATA].disk_bytes == 100 * GI);

	assert_int_equal(s.nodes[ES_ROLE_CLIENT].replicas, 2);
	assert_null(s.nodes[ES_ROLE_CLIENT].disk);

	assert_int_equal(s.nplugins, 0);
	assert_true(json_is_object(s.config));
	assert_int_equal(json_object_size(s.config), 0);
	assert_int_equal(s.spread, SPEC_SPREAD_HOST);
	spec_free(&s);
}

/* A role section given in part keeps the defaults of the rest. */
static void test_partial_section_keeps_defaults(void **state)
{
	struct spec s;

	parse_ok("{\"name\": \"a\", \"data\": {\"replicas\": 5}, \"clients\": {\"replicas\": 0}}",
		 &s);
	assert_int_equal(s.nodes[ES_ROLE_DATA].replicas, 5);
	assert_string_equal(s.nodes[ES_ROLE_DATA].memory, "8Gi");
	assert_string_equal(s.nodes[ES_ROLE_DATA].disk, "100Gi");
	assert_int_equal(s.nodes[ES_ROLE_CLIENT].replicas, 0);
	spec_free(&s);
}

static const char design_spec[] =
	"{\"name\": \"logs\", \"version\": \"7.17.10\","
	" \"masters\": {\"replicas\": 3, \"cpu\": \"1\", \"memory\": \"2Gi\"},"
	" \"data\": {\"replicas\": 3, \"cpu\": \"2\", \"memory\": \"8Gi\", \"disk\": \"100Gi\"},"
	" \"clients\": {\"replicas\": 2, \"cpu\": \"1\", \"memory\": \"2Gi\"},"
	" \"plugins\": [\"analysis-icu\"],"
	" \"config\": {\"indices.query.bool.max_clause_count\": \"4096\"},"
	" \"placement\": {\"spread\": \"host\"}}";

static void test_design_example_and_round_trip(void **state)
{
	struct spec s, again;
	struct spec_error err;
	json_t *j, *j2;

	parse_ok(design_spec, &s);
	assert_int_equal(s.nplugins, 1);
	assert_string_equal(s.plugins[0], "analysis-icu");
	assert_string_equal(
		json_string_value(json_object_get(s.config, "indices.query.bool.max_clause_count")),
		"4096");

	j = spec_to_json(&s);
	/* Normalised: every default written out, the heap included. */
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "data"), "heap")),
			    "4g");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(j, "placement"), "spread")),
		"host");
	assert_null(json_object_get(j, "image"));

	/* Parsing the normalised spec gives the same spec. */
	if (!spec_parse(j, &again, &err))
		fail_msg("normalised spec refused: %s: %s", err.field, err.message);
	j2 = spec_to_json(&again);
	assert_true(json_equal(j, j2));
	json_decref(j);
	json_decref(j2);
	spec_free(&again);
	spec_free(&s);
}

static void test_round_trip_of_everything(void **state)
{
	struct spec s, again;
	struct spec_error err;
	json_t *j, *j2;

	parse_ok("{\"name\": \"x1\", \"version\": \"2.4.6\", \"image\": \"mirror/es:2.4.6\","
		 " \"masters\": {\"replicas\": 1, \"cpu\": 1, \"memory\": \"1G\", \"heap\": "
		 "\"256M\"},"
		 " \"data\": {\"disk\": \"1.5Ti\"}, \"clients\": {\"replicas\": 0},"
		 " \"plugins\": [\"analysis-kuromoji\", \"mapper-attachments\"],"
		 " \"config\": {\"threadpool.index.queue_size\": 500, "
		 "\"action.destructive_requires_name\": true},"
		 " \"placement\": {\"spread\": \"rack\"}}",
		 &s);
	/* An integer quantity is kept as its text; the heap's spelling is
	 * lower-cased. */
	assert_string_equal(s.nodes[ES_ROLE_MASTER].cpu, "1");
	assert_string_equal(s.nodes[ES_ROLE_MASTER].heap, "256m");
	assert_string_equal(s.image, "mirror/es:2.4.6");
	assert_int_equal(s.spread, SPEC_SPREAD_RACK);
	j = spec_to_json(&s);
	if (!spec_parse(j, &again, &err))
		fail_msg("normalised spec refused: %s: %s", err.field, err.message);
	j2 = spec_to_json(&again);
	assert_true(json_equal(j, j2));
	assert_true(json_is_integer(
		json_object_get(json_object_get(j2, "config"), "threadpool.index.queue_size")));
	json_decref(j);
	json_decref(j2);
	spec_free(&again);
	spec_free(&s);
}

static void test_default_heap_is_half_the_memory(void **state)
{
	static const struct {
		const char *memory;
		const char *heap;
	} cases[] = {
		{"2Gi", "1g"},	   {"3Gi", "1536m"}, {"1000Mi", "500m"},
		{"300Mi", "150m"}, {"1G", "476m"},   {"64Gi", "32g"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *text = xasprintf("{\"name\": \"a\", \"data\": {\"memory\": \"%s\"}}",
				       cases[i].memory);
		struct spec s;
		int64_t heap;

		parse_ok(text, &s);
		assert_string_equal(s.nodes[ES_ROLE_DATA].heap, cases[i].heap);
		assert_true(spec_parse_heap(cases[i].heap, &heap));
		assert_true(s.nodes[ES_ROLE_DATA].heap_bytes == heap);
		assert_true(heap * 2 <= s.nodes[ES_ROLE_DATA].memory_bytes);
		spec_free(&s);
		free(text);
	}
}

static void test_heap_up_to_half_is_fine(void **state)
{
	struct spec s;

	parse_ok("{\"name\": \"a\", \"masters\": {\"memory\": \"2Gi\", \"heap\": \"1g\"}}", &s);
	assert_true(s.nodes[ES_ROLE_MASTER].heap_bytes == GI);
	spec_free(&s);
	parse_ok("{\"name\": \"a\", \"masters\": {\"memory\": \"2Gi\", \"heap\": \"1024M\"}}", &s);
	assert_string_equal(s.nodes[ES_ROLE_MASTER].heap, "1024m");
	spec_free(&s);
}

/* --- every invalid field, named ------------------------------------------ */

struct bad {
	const char *json;
	const char *field;
	const char *message; /* a part of the message */
};

static const struct bad bad_specs[] = {
	{"[]", "", "must be a JSON object"},
	{"{}", "name", "is required"},
	{"{\"name\": 5}", "name", "must be a string"},
	{"{\"name\": \"Logs\"}", "name", "DNS-1123"},
	{"{\"name\": \"-logs\"}", "name", "DNS-1123"},
	{"{\"name\": \"logs-\"}", "name", "DNS-1123"},
	{"{\"name\": \"lo_gs\"}", "name", "DNS-1123"},
	{"{\"name\": \"lo.gs\"}", "name", "DNS-1123"},
	{"{\"name\": \"\"}", "name", "DNS-1123"},
	{"{\"name\": \"lo\\u0000gs\"}", "name", "must be a string"},
	{"{\"name\": \"a234567890123456789012345678901234567890x\"}", "name",
	 "at most 40 characters (got 41)"},
	{"{\"name\": \"a\", \"nme\": 1}", "nme", "unknown field"},
	{"{\"name\": \"a\", \"version\": 7}", "version", "must be a string"},
	{"{\"name\": \"a\", \"version\": \"7.17\"}", "version", "MAJOR.MINOR.PATCH"},
	{"{\"name\": \"a\", \"version\": \"v7.17.10\"}", "version", "MAJOR.MINOR.PATCH"},
	{"{\"name\": \"a\", \"version\": \"3.0.0\"}", "version", "is not supported"},
	{"{\"name\": \"a\", \"version\": \"10.0.0\"}", "version", "is not supported"},
	{"{\"name\": \"a\", \"image\": \"\"}", "image", "image reference"},
	{"{\"name\": \"a\", \"image\": \"bad image\"}", "image", "image reference"},
	{"{\"name\": \"a\", \"masters\": []}", "masters", "must be an object"},
	{"{\"name\": \"a\", \"masters\": {\"replicas\": 2}}", "masters.replicas",
	 "must be odd so that a quorum exists (got 2)"},
	{"{\"name\": \"a\", \"masters\": {\"replicas\": 0}}", "masters.replicas",
	 "at least 1 (got 0)"},
	{"{\"name\": \"a\", \"masters\": {\"replicas\": \"3\"}}", "masters.replicas",
	 "must be an integer"},
	{"{\"name\": \"a\", \"masters\": {\"replicas\": 3.0}}", "masters.replicas",
	 "must be an integer"},
	{"{\"name\": \"a\", \"masters\": {\"replicas\": 1001}}", "masters.replicas",
	 "at most 1000"},
	{"{\"name\": \"a\", \"data\": {\"replicas\": 0}}", "data.replicas", "at least 1 (got 0)"},
	{"{\"name\": \"a\", \"clients\": {\"replicas\": -1}}", "clients.replicas",
	 "at least 0 (got -1)"},
	{"{\"name\": \"a\", \"masters\": {\"foo\": 1}}", "masters.foo", "unknown field"},
	{"{\"name\": \"a\", \"masters\": {\"disk\": \"10Gi\"}}", "masters.disk",
	 "only data nodes have a data disk"},
	{"{\"name\": \"a\", \"clients\": {\"disk\": \"10Gi\"}}", "clients.disk",
	 "only data nodes have a data disk"},
	{"{\"name\": \"a\", \"masters\": {\"cpu\": \"1x\"}}", "masters.cpu", "(got \"1x\")"},
	{"{\"name\": \"a\", \"masters\": {\"cpu\": \"0\"}}", "masters.cpu", "at least 1m"},
	{"{\"name\": \"a\", \"masters\": {\"cpu\": -1}}", "masters.cpu", "Kubernetes quantity"},
	{"{\"name\": \"a\", \"masters\": {\"cpu\": 0.5}}", "masters.cpu", "Kubernetes quantity"},
	{"{\"name\": \"a\", \"data\": {\"memory\": \"8GB\"}}", "data.memory", "(got \"8GB\")"},
	{"{\"name\": \"a\", \"data\": {\"memory\": \"512m\"}}", "data.memory", "quantity of bytes"},
	{"{\"name\": \"a\", \"data\": {\"memory\": \"128Mi\"}}", "data.memory", "at least 256Mi"},
	{"{\"name\": \"a\", \"data\": {\"memory\": \"8Gi\", \"heap\": \"5g\"}}", "data.heap",
	 "must not exceed half the memory, 4g of 8Gi"},
	{"{\"name\": \"a\", \"masters\": {\"memory\": \"2Gi\", \"heap\": \"1025m\"}}",
	 "masters.heap", "must not exceed half the memory"},
	{"{\"name\": \"a\", \"data\": {\"heap\": \"4gb\"}}", "data.heap", "JVM heap size"},
	{"{\"name\": \"a\", \"data\": {\"heap\": \"4Gi\"}}", "data.heap", "JVM heap size"},
	{"{\"name\": \"a\", \"data\": {\"heap\": 4}}", "data.heap", "JVM heap size"},
	{"{\"name\": \"a\", \"data\": {\"disk\": \"lots\"}}", "data.disk", "(got \"lots\")"},
	{"{\"name\": \"a\", \"data\": {\"disk\": \"0\"}}", "data.disk", "more than 0"},
	{"{\"name\": \"a\", \"plugins\": \"analysis-icu\"}", "plugins", "list of plugin names"},
	{"{\"name\": \"a\", \"plugins\": [\"analysis-icu\", 3]}", "plugins[1]", "plugin name"},
	{"{\"name\": \"a\", \"plugins\": [\"nope\"]}", "plugins[0]", "not a plugin esaas knows"},
	{"{\"name\": \"a\", \"plugins\": [\"analysis-icu\", \"analysis-icu\"]}", "plugins[1]",
	 "listed twice"},
	{"{\"name\": \"a\", \"version\": \"8.17.0\", \"plugins\": [\"repository-s3\"]}",
	 "plugins[0]", "is built in as a module"},
	{"{\"name\": \"a\", \"version\": \"2.4.6\", \"plugins\": [\"analysis-nori\"]}",
	 "plugins[0]", "not available before Elasticsearch 6.4"},
	{"{\"name\": \"a\", \"version\": \"7.17.10\", \"plugins\": [\"mapper-attachments\"]}",
	 "plugins[0]", "was removed"},
	{"{\"name\": \"a\", \"config\": \"x\"}", "config", "must be an object"},
	{"{\"name\": \"a\", \"config\": {\"cluster.name\": \"x\"}}", "config.cluster.name",
	 "managed by esaas"},
	{"{\"name\": \"a\", \"config\": {\"node.attr.rack\": \"r1\"}}", "config.node.attr.rack",
	 "managed by esaas"},
	{"{\"name\": \"a\", \"config\": {\"discovery.seed_hosts\": \"x\"}}",
	 "config.discovery.seed_hosts", "managed by esaas"},
	{"{\"name\": \"a\", \"config\": {\"network.host\": \"0.0.0.0\"}}", "config.network.host",
	 "managed by esaas"},
	{"{\"name\": \"a\", \"config\": {\"path.data\": \"/x\"}}", "config.path.data",
	 "managed by esaas"},
	{"{\"name\": \"a\", \"config\": {\"cluster.routing.allocation.exclude._name\": \"x\"}}",
	 "config.cluster.routing.allocation.exclude._name", "managed by esaas"},
	{"{\"name\": \"a\", \"config\": {\"cluster.routing.allocation.enable\": \"all\"}}",
	 "config.cluster.routing.allocation.enable", "managed by esaas"},
	{"{\"name\": \"a\", \"config\": {\"foo.bar\": 1}}", "config.foo.bar",
	 "not a setting esaas knows"},
	{"{\"name\": \"a\", \"config\": {\"search.max_buckets\": {\"a\": 1}}}",
	 "config.search.max_buckets", "string, number or boolean"},
	{"{\"name\": \"a\", \"config\": {\"search.max_buckets\": [1]}}",
	 "config.search.max_buckets", "string, number or boolean"},
	{"{\"name\": \"a\", \"config\": {\"search.max_buckets\": null}}",
	 "config.search.max_buckets", "not null"},
	{"{\"name\": \"a\", \"config\": {\"action.auto_create_index\": \"a\\nb\"}}",
	 "config.action.auto_create_index", "control characters"},
	{"{\"name\": \"a\", \"version\": \"5.6.16\", \"config\": {\"search.max_buckets\": 1}}",
	 "config.search.max_buckets", "exists from 6.2"},
	/* What opens the cluster to the outside or changes its security. */
	{"{\"name\": \"a\", \"version\": \"8.17.0\", \"config\": {\"reindex.remote.allowlist\": "
	 "\"h:9200\"}}",
	 "config.reindex.remote.allowlist", "opens the cluster to the outside"},
	{"{\"name\": \"a\", \"config\": {\"http.cors.enabled\": true}}", "config.http.cors.enabled",
	 "opens the cluster to the outside"},
	{"{\"name\": \"a\", \"config\": {\"cluster.remote.other.seeds\": \"es-x:9300\"}}",
	 "config.cluster.remote.other.seeds", "opens the cluster to the outside"},
	{"{\"name\": \"a\", \"config\": {\"xpack.monitoring.exporters.out.host\": \"h\"}}",
	 "config.xpack.monitoring.exporters.out.host", "opens the cluster to the outside"},
	{"{\"name\": \"a\", \"config\": {\"xpack.security.enabled\": false}}",
	 "config.xpack.security.enabled", "changes its security"},
	{"{\"name\": \"a\", \"placement\": \"host\"}", "placement", "must be an object"},
	{"{\"name\": \"a\", \"placement\": {\"spread\": \"zone\"}}", "placement.spread",
	 "\"host\" or \"rack\""},
	{"{\"name\": \"a\", \"placement\": {\"spread\": \"rack\", \"x\": 1}}", "placement.x",
	 "unknown field"},
	/* Who may reach the cluster, and how it is exposed. */
	{"{\"name\": \"a\", \"network\": []}", "network", "must be an object"},
	{"{\"name\": \"a\", \"network\": {\"deny\": []}}", "network.deny", "unknown field"},
	{"{\"name\": \"a\", \"network\": {\"service_type\": \"LoadBalancer\"}}",
	 "network.service_type", "\"ClusterIP\" or \"NodePort\""},
	{"{\"name\": \"a\", \"network\": {\"allow\": {\"cidr\": \"10.0.0.0/8\"}}}", "network.allow",
	 "must be a list"},
	{"{\"name\": \"a\", \"network\": {\"allow\": [\"10.0.0.0/8\"]}}", "network.allow[0]",
	 "must be an object"},
	{"{\"name\": \"a\", \"network\": {\"allow\": [{}]}}", "network.allow[0]", "exactly one of"},
	{"{\"name\": \"a\", \"network\": {\"allow\": [{\"cidr\": \"10.0.0.0/8\", \"namespace\": "
	 "\"b\"}]}}",
	 "network.allow[0]", "exactly one of"},
	{"{\"name\": \"a\", \"network\": {\"allow\": [{\"cidr\": \"10.0.0.0/8\"}, {\"pod\": "
	 "\"x\"}]}}",
	 "network.allow[1].pod", "unknown field"},
	{"{\"name\": \"a\", \"network\": {\"allow\": [{\"cidr\": \"10.0.0.1/8\"}]}}",
	 "network.allow[0].cidr",
	 "no host bits set, such as \"10.1.0.0/16\" or \"fd00::/64\" (got \"10.0.0.1/8\")"},
	{"{\"name\": \"a\", \"network\": {\"allow\": [{\"cidr\": \"10.0.0.0\"}]}}",
	 "network.allow[0].cidr", "CIDR form"},
	{"{\"name\": \"a\", \"network\": {\"allow\": [{\"cidr\": \"10.0.0.0/33\"}]}}",
	 "network.allow[0].cidr", "CIDR form"},
	{"{\"name\": \"a\", \"network\": {\"allow\": [{\"cidr\": \"evil.example.com/32\"}]}}",
	 "network.allow[0].cidr", "CIDR form"},
	{"{\"name\": \"a\", \"network\": {\"allow\": [{\"cidr\": 10}]}}", "network.allow[0].cidr",
	 "(got not a string)"},
	{"{\"name\": \"a\", \"network\": {\"allow\": [{\"namespace\": \"Kube_System\"}]}}",
	 "network.allow[0].namespace", "DNS-1123"},
};

static void test_invalid_fields_are_named(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_specs); i++) {
		const struct bad *b = &bad_specs[i];
		json_t *j = load(b->json);
		struct spec s;
		struct spec_error err;

		if (spec_parse(j, &s, &err))
			fail_msg("accepted %s", b->json);
		if (strcmp(err.field, b->field) != 0)
			fail_msg("%s: field \"%s\", want \"%s\" (%s)", b->json, err.field, b->field,
				 err.message);
		if (!strstr(err.message, b->message))
			fail_msg("%s: message \"%s\" lacks \"%s\"", b->json, err.message,
				 b->message);
		/* A refused spec is left empty, and freeing it is harmless. */
		assert_null(s.name);
		assert_null(s.config);
		spec_free(&s);
		json_decref(j);
	}
}

/* network: stored only when not the defaults, read back the same. */
static void test_network_round_trip(void **state)
{
	struct spec s, again;
	json_t *j;

	parse_ok("{\"name\": \"a\"}", &s);
	assert_false(s.network.node_port);
	assert_int_equal(s.network.nallow, 0);
	j = spec_to_json(&s);
	assert_null(json_object_get(j, "network"));
	json_decref(j);
	spec_free(&s);

	parse_ok("{\"name\": \"a\", \"network\": {\"service_type\": \"NodePort\", \"allow\": "
		 "[{\"cidr\": \"10.1.0.0/16\"}, {\"namespace\": \"frontend\"}, {\"cidr\": "
		 "\"fd00::/64\"}]}}",
		 &s);
	assert_true(s.network.node_port);
	assert_int_equal(s.network.nallow, 3);
	assert_int_equal(s.network.allow[0].kind, SPEC_PEER_CIDR);
	assert_string_equal(s.network.allow[1].value, "frontend");
	assert_int_equal(s.network.allow[1].kind, SPEC_PEER_NAMESPACE);
	j = spec_to_json(&s);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(j, "network"), "service_type")),
		"NodePort");
	if (!spec_parse(j, &again, &(struct spec_error){0}))
		fail_msg("the normalised spec was refused");
	assert_int_equal(again.network.nallow, 3);
	assert_string_equal(again.network.allow[2].value, "fd00::/64");
	spec_free(&again);
	json_decref(j);
	spec_free(&s);
}

static void test_cidrs(void **state)
{
	char err[128];

	assert_true(spec_is_cidr("0.0.0.0/0"));
	assert_true(spec_is_cidr("172.18.0.2/32"));
	assert_true(spec_is_cidr("::/0"));
	assert_false(spec_is_cidr("172.18.0.3/31"));
	assert_false(spec_is_cidr("fd00::1/64"));
	assert_false(spec_is_cidr("172.18.0.2"));
	assert_false(spec_is_cidr("/8"));
	assert_false(spec_is_cidr("10.0.0.0/-1"));
	assert_true(spec_cidr_list_valid("172.18.0.2/32, 10.0.0.0/28", err, sizeof(err)));
	assert_false(spec_cidr_list_valid("172.18.0.2/32, nope", err, sizeof(err)));
	assert_non_null(strstr(err, "\"nope\""));
	assert_false(spec_cidr_list_valid(" , ", err, sizeof(err)));
}

/* --- quantities ---------------------------------------------------------- */

static void test_cpu_quantities(void **state)
{
	static const struct {
		const char *s;
		int64_t millis;
	} ok[] = {
		{"500m", 500}, {"2", 2000},	 {"0.5", 500},	  {"1.2345", 1235},
		{"100u", 1},   {"1e3", 1000000}, {"1k", 1000000}, {"2000m", 2000},
		{"0", 0},      {"1E0", 1000},	 {"250000n", 1},  {"1.5e-3", 2},
	};
	static const char *const bad[] = {
		"",
		"m",
		"1x",
		"1 ",
		" 1",
		"-1",
		"+1",
		".5",
		"1.",
		"1..2",
		"1e",
		"1e100",
		"0x10",
		"1_000",
		"1.2.3",
		"1mm",
		"99999999999999999999",
		"1.0000000001",
	};
	int64_t m = -7;

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		if (!spec_parse_cpu(ok[i].s, &m) || m != ok[i].millis)
			fail_msg("cpu \"%s\": %lld, want %lld", ok[i].s, (long long)m,
				 (long long)ok[i].millis);
	}
	m = -7;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (spec_parse_cpu(bad[i], &m))
			fail_msg("cpu \"%s\" accepted", bad[i]);
	}
	assert_false(spec_parse_cpu(NULL, &m));
	assert_int_equal(m, -7);
}

static void test_byte_quantities(void **state)
{
	static const struct {
		const char *s;
		int64_t bytes;
	} ok[] = {
		{"2Gi", 2 * GI},
		{"512Mi", 512 * MI},
		{"100G", 100000000000LL},
		{"1.5Gi", 3 * GI / 2},
		{"1e9", 1000000000LL},
		{"0.5Ki", 512},
		{"1k", 1000},
		{"123", 123},
		{"1Ei", (int64_t)1 << 60},
		{"7Ei", (int64_t)7 << 60},
		{"1.5", 2}, /* rounded up, as Kubernetes does */
		{"100Gi", 100 * GI},
		{"1Ti", (int64_t)1 << 40},
	};
	static const char *const bad[] = {
		"",   "Gi",   "1GB", "1gi", "1 Gi",   "-1Gi", "1Gi ", "512m", "1u",
		"1n", "1e-3", "8Ei", "10E", "1.5.Gi", "Gi1",  "1K",   "1KiB",
	};
	int64_t b = -7;

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		if (!spec_parse_bytes(ok[i].s, &b) || b != ok[i].bytes)
			fail_msg("bytes \"%s\": %lld, want %lld", ok[i].s, (long long)b,
				 (long long)ok[i].bytes);
	}
	b = -7;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (spec_parse_bytes(bad[i], &b))
			fail_msg("bytes \"%s\" accepted", bad[i]);
	}
	assert_int_equal(b, -7);
}

static void test_heap_sizes(void **state)
{
	static const char *const bad[] = {
		"",	"0g",  "1",  "1gb", "g",   "01g",
		"1.5g", "-1g", "1t", "1Gi", " 1g", "99999999999999g",
	};
	int64_t b = -7;
	char *f;

	assert_true(spec_parse_heap("1g", &b));
	assert_true(b == GI);
	assert_true(spec_parse_heap("512m", &b));
	assert_true(b == 512 * MI);
	assert_true(spec_parse_heap("1024k", &b));
	assert_true(b == MI);
	assert_true(spec_parse_heap("2G", &b));
	assert_true(b == 2 * GI);
	b = -7;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (spec_parse_heap(bad[i], &b))
			fail_msg("heap \"%s\" accepted", bad[i]);
	}
	assert_int_equal(b, -7);

	f = spec_format_heap(GI);
	assert_string_equal(f, "1g");
	free(f);
	f = spec_format_heap(3 * GI / 2);
	assert_string_equal(f, "1536m");
	free(f);
	f = spec_format_heap(300 * MI + 5);
	assert_string_equal(f, "300m");
	free(f);
}

/* --- the shared rules ---------------------------------------------------- */

static void test_setting_kinds(void **state)
{
	static const struct {
		const char *key;
		enum spec_setting_kind kind;
	} cases[] = {
		{"indices.query.bool.max_clause_count", SPEC_SETTING_STATIC},
		{"indices.memory.index_buffer_size", SPEC_SETTING_STATIC},
		{"thread_pool.search.size", SPEC_SETTING_STATIC},
		{"thread_pool.write.queue_size", SPEC_SETTING_STATIC},
		{"cluster.routing.allocation.awareness.attributes", SPEC_SETTING_DYNAMIC},
		{"cluster.routing.allocation.disk.watermark.low", SPEC_SETTING_DYNAMIC},
		{"action.destructive_requires_name", SPEC_SETTING_DYNAMIC},
		{"search.max_buckets", SPEC_SETTING_DYNAMIC},
		{"cluster.routing.allocation.enable", SPEC_SETTING_OWNED},
		{"cluster.routing.allocation.exclude._ip", SPEC_SETTING_OWNED},
		{"cluster.name", SPEC_SETTING_OWNED},
		{"node.name", SPEC_SETTING_OWNED},
		{"network.host", SPEC_SETTING_OWNED},
		{"discovery.zen.minimum_master_nodes", SPEC_SETTING_OWNED},
		{"cluster.initial_master_nodes", SPEC_SETTING_OWNED},
		{"path.data", SPEC_SETTING_OWNED},
		{"xpack.security.enabled", SPEC_SETTING_OWNED},
		{"thread_pool", SPEC_SETTING_UNKNOWN},
		{"thread_pool.", SPEC_SETTING_UNKNOWN},
		{"search.max_bucketsx", SPEC_SETTING_UNKNOWN},
		{"", SPEC_SETTING_UNKNOWN},
		{"index.number_of_shards", SPEC_SETTING_UNKNOWN},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		if (spec_setting_kind(cases[i].key) != cases[i].kind)
			fail_msg("\"%s\": kind %d, want %d", cases[i].key,
				 spec_setting_kind(cases[i].key), cases[i].kind);
	}
}

/* A config update may reset a setting with null; a spec may not. */
static void test_settings_null_for_updates(void **state)
{
	json_t *j = load(
		"{\"search.max_buckets\": null, \"cluster.routing.rebalance.enable\": \"none\"}");
	struct es_version v;
	struct spec_error err;

	assert_true(es_version_parse("7.17.10", &v));
	assert_true(spec_check_settings(j, &v, "settings", true, &err));
	assert_false(spec_check_settings(j, &v, "settings", false, &err));
	assert_string_equal(err.field, "settings.search.max_buckets");
	json_decref(j);
}

/* Removed settings a wildcard would admit are refused, naming the key. */
static void test_removed_settings_under_wildcards(void **state)
{
	static const struct {
		const char *version, *key;
		bool ok;
	} cases[] = {
		{"6.8.23", "thread_pool.bulk.queue_size", true},
		{"7.17.10", "thread_pool.bulk.queue_size", false},
		{"7.17.10", "thread_pool.index.size", false},
		{"6.2.4", "thread_pool.write.size", false},
		{"7.17.10", "thread_pool.write.size", true},
		{"7.17.10", "gateway.expected_nodes", true},
		{"8.17.0", "gateway.expected_nodes", false},
		{"8.17.0", "gateway.recover_after_nodes", false},
		{"8.17.0", "gateway.expected_data_nodes", true},
		{"7.17.10", "indices.breaker.total.limit", true},
		/* Removed in 9.0 (elastic/elasticsearch#114207), under the
		 * cluster.routing.allocation.* wildcard. */
		{"7.13.4", "cluster.routing.allocation.disk.watermark.enable_for_single_data_node",
		 false},
		{"8.19.20", "cluster.routing.allocation.disk.watermark.enable_for_single_data_node",
		 true},
		{"9.5.2", "cluster.routing.allocation.disk.watermark.enable_for_single_data_node",
		 false},
		{"9.5.2", "cluster.routing.allocation.disk.watermark.low", true},
		{"9.5.2", "gateway.expected_nodes", false},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct es_version v;
		struct spec_error err;
		json_t *j = json_pack("{s:s}", cases[i].key, "1");
		assert_true(es_version_parse(cases[i].version, &v));
		bool ok = spec_check_settings(j, &v, "settings", true, &err);
		if (ok != cases[i].ok)
			fail_msg("%s on %s: %s", cases[i].key, cases[i].version,
				 ok ? "admitted" : err.message);
		if (!ok && !strstr(err.field, cases[i].key))
			fail_msg("%s: the field is %s", cases[i].key, err.field);
		json_decref(j);
	}
	assert_int_equal(spec_setting_kind("indices.breaker.type"), SPEC_SETTING_STATIC);
	assert_int_equal(spec_setting_kind("indices.breaker.fielddata.limit"),
			 SPEC_SETTING_DYNAMIC);
}

static void test_replicas_rule(void **state)
{
	struct spec_error err;

	assert_true(spec_check_replicas(ES_ROLE_MASTER, 1, "replicas", &err));
	assert_true(spec_check_replicas(ES_ROLE_MASTER, 5, "replicas", &err));
	assert_false(spec_check_replicas(ES_ROLE_MASTER, 4, "replicas", &err));
	assert_string_equal(err.field, "replicas");
	assert_string_equal(err.message, "must be odd so that a quorum exists (got 4)");
	assert_false(spec_check_replicas(ES_ROLE_MASTER, -1, "replicas", &err));
	assert_true(spec_check_replicas(ES_ROLE_DATA, 1, "replicas", &err));
	assert_false(spec_check_replicas(ES_ROLE_DATA, 0, "replicas", &err));
	assert_true(spec_check_replicas(ES_ROLE_CLIENT, 0, "replicas", &err));
	assert_false(spec_check_replicas(ES_ROLE_CLIENT, -1, "replicas", &err));
	assert_false(spec_check_replicas(ES_ROLE_DATA, (json_int_t)1 << 40, "replicas", &err));
}

static void test_plugins_per_version(void **state)
{
	struct es_version v2, v7, v8, v9;
	struct spec_error err;

	assert_true(es_version_parse("2.4.6", &v2));
	assert_true(es_version_parse("7.17.10", &v7));
	assert_true(es_version_parse("8.17.0", &v8));
	assert_true(es_version_parse("9.5.2", &v9));
	/* 9.0 removed no plugin esaas installs; the built-in ones stay built in. */
	assert_true(spec_check_plugin("analysis-icu", &v9, "name", &err));
	assert_true(spec_check_plugin("discovery-ec2", &v9, "name", &err));
	assert_false(spec_check_plugin("repository-s3", &v9, "name", &err));
	assert_false(spec_check_plugin("ingest-attachment", &v9, "name", &err));
	assert_true(spec_check_plugin("analysis-icu", &v2, "name", &err));
	assert_true(spec_check_plugin("analysis-icu", &v8, "name", &err));
	assert_true(spec_check_plugin("repository-s3", &v7, "name", &err));
	assert_false(spec_check_plugin("repository-s3", &v8, "name", &err));
	assert_true(spec_check_plugin("mapper-attachments", &v2, "name", &err));
	assert_false(spec_check_plugin("ingest-attachment", &v2, "name", &err));
	assert_true(spec_check_plugin("ingest-attachment", &v7, "name", &err));
	assert_false(spec_check_plugin("../../etc/passwd", &v7, "name", &err));
	assert_string_equal(err.field, "name");
}

/* The list the portal offers is exactly what spec_check_plugin() accepts. */
static void test_plugins_of_a_version(void **state)
{
	static const char *const names[] = {"analysis-icu",	 "repository-s3",
					    "ingest-attachment", "mapper-attachments",
					    "analysis-nori",	 "delete-by-query"};
	struct spec_error err;

	for (size_t i = 0; i < es_offered_versions_count; i++) {
		struct es_version v;

		assert_true(es_version_parse(es_offered_versions[i], &v));
		json_t *list = spec_plugins_of(&v);
		assert_true(json_array_size(list) > 0);
		for (size_t j = 0; j < sizeof(names) / sizeof(names[0]); j++) {
			bool listed = false;
			size_t k;
			json_t *p;

			json_array_foreach (list, k, p)
				listed = listed || strcmp(json_string_value(p), names[j]) == 0;
			assert_int_equal(listed, spec_check_plugin(names[j], &v, "name", &err));
		}
		json_decref(list);
	}

	/* Every supported major is offered once at least, 8.19 and 9.x among them. */
	static const char *const majors[] = {"2.", "5.", "6.", "7.", "8.19.", "9."};
	for (size_t m = 0; m < ARRAY_SIZE(majors); m++) {
		bool found = false;
		for (size_t i = 0; i < es_offered_versions_count; i++)
			found |= strncmp(es_offered_versions[i], majors[m], strlen(majors[m])) == 0;
		if (!found)
			fail_msg("no offered release starts with %s", majors[m]);
	}

	struct es_version v8;
	assert_true(es_version_parse("8.17.0", &v8));
	json_t *list = spec_plugins_of(&v8);
	assert_string_equal(json_string_value(json_array_get(list, 0)), "analysis-icu");
	json_decref(list);
}

static void test_dns_label(void **state)
{
	assert_true(spec_is_dns_label("a", 40));
	assert_true(spec_is_dns_label("0logs-1", 40));
	assert_false(spec_is_dns_label("abc", 2));
	assert_false(spec_is_dns_label("a--", 40));
	assert_true(spec_is_dns_label("a--b", 40));
	assert_false(spec_is_dns_label("", 40));
	assert_false(spec_is_dns_label(NULL, 40));
	assert_false(spec_is_dns_label("ABC", 40));
	assert_false(spec_is_dns_label("-a", 40));
	assert_false(spec_is_dns_label("a.b", 40));
}

/* RFC 1123: at most 63 characters, whatever max a caller gives. */
static void test_dns_label_length(void **state)
{
	char s[65];

	memset(s, 'a', 64);
	s[64] = '\0';
	assert_false(spec_is_dns_label(s, SPEC_DNS_LABEL_MAX));
	assert_false(spec_is_dns_label(s, 100));
	s[63] = '\0';
	assert_true(spec_is_dns_label(s, SPEC_DNS_LABEL_MAX));
	assert_true(spec_is_dns_label(s, 100));
	assert_false(spec_is_dns_label(s, 62));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_partial_section_keeps_defaults),
		cmocka_unit_test(test_design_example_and_round_trip),
		cmocka_unit_test(test_round_trip_of_everything),
		cmocka_unit_test(test_default_heap_is_half_the_memory),
		cmocka_unit_test(test_heap_up_to_half_is_fine),
		cmocka_unit_test(test_invalid_fields_are_named),
		cmocka_unit_test(test_network_round_trip),
		cmocka_unit_test(test_cidrs),
		cmocka_unit_test(test_cpu_quantities),
		cmocka_unit_test(test_byte_quantities),
		cmocka_unit_test(test_heap_sizes),
		cmocka_unit_test(test_setting_kinds),
		cmocka_unit_test(test_settings_null_for_updates),
		cmocka_unit_test(test_removed_settings_under_wildcards),
		cmocka_unit_test(test_replicas_rule),
		cmocka_unit_test(test_plugins_per_version),
		cmocka_unit_test(test_plugins_of_a_version),
		cmocka_unit_test(test_dns_label),
		cmocka_unit_test(test_dns_label_length),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
