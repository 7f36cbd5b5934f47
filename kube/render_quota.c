/*
 * The namespace's quota: what every pod of a cluster asks for, summed and
 * written as the API server writes quantities back, and a quota raised to
 * what a live one already allows.
 */
#include "kube/render_internal.h"

#include <stdlib.h>
#include <string.h>

/* --- the namespace's quota ---------------------------------------------- */

/* What the pods of a namespace may ask for together: CPU in millicores,
 * memory in bytes. */
struct quota_sum {
	int64_t pods;
	int64_t cpu_requests, cpu_limits;
	int64_t memory_requests, memory_limits;
};

/* *total += n * each, held at INT64_MAX rather than wrapping. */
static void add_times(int64_t *total, int64_t n, int64_t each)
{
	int64_t product;

	if (__builtin_mul_overflow(n, each, &product) ||
	    __builtin_add_overflow(*total, product, total))
		*total = INT64_MAX;
}

static void add_pods(struct quota_sum *q, int n, int64_t cpu_request, int64_t cpu_limit,
		     int64_t memory_request, int64_t memory_limit)
{
	add_times(&q->pods, n, 1);
	add_times(&q->cpu_requests, n, cpu_request);
	add_times(&q->cpu_limits, n, cpu_limit);
	add_times(&q->memory_requests, n, memory_request);
	add_times(&q->memory_limits, n, memory_limit);
}

static void add_fixed_pods(struct quota_sum *q, int n, const struct pod_resources *r)
{
	int64_t cpu_request, cpu_limit, memory_request, memory_limit;

	/* render.c's own constants: they parse (the unit tests sum them). */
	if (!spec_parse_cpu(r->cpu_request, &cpu_request) ||
	    !spec_parse_cpu(r->cpu_limit, &cpu_limit) ||
	    !spec_parse_bytes(r->memory_request, &memory_request) ||
	    !spec_parse_bytes(r->memory_limit, &memory_limit))
		return;
	add_pods(q, n, cpu_request, cpu_limit, memory_request, memory_limit);
}

/* v with the largest of the suffixes (each base times the one before)
 * that leaves an integer. */
static char *format_scaled(int64_t v, int64_t base, const char *const *suffixes)
{
	int i = 0;

	while (v != 0 && v % base == 0 && suffixes[i + 1]) {
		v /= base;
		i++;
	}
	return xasprintf("%lld%s", (long long)v, suffixes[i]);
}

/*
 * Quantities as the API server writes them back (their canonical form), so
 * that a quota reads the same as it was applied: whole numbers with the
 * largest decimal suffix that keeps them whole ("8", "2k"), CPU in
 * millicores when it is not whole cores ("1500m"), bytes with a binary
 * suffix when they are whole kibibytes ("34Gi", "1000Mi").
 */
static const char *const decimal_suffixes[] = {"", "k", "M", "G", "T", "P", "E", NULL};
static const char *const binary_suffixes[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", NULL};

static char *format_count(int64_t n)
{
	return format_scaled(n, 1000, decimal_suffixes);
}

static char *format_millicores(int64_t m)
{
	if (m % 1000 != 0)
		return xasprintf("%lldm", (long long)m);
	return format_count(m / 1000);
}

static char *format_bytes(int64_t b)
{
	if (b >= 1024 && b % 1024 == 0)
		return format_scaled(b, 1024, binary_suffixes);
	return format_count(b);
}

static void set_quantity(json_t *hard, const char *key, char *value)
{
	json_object_set_new(hard, key, json_string(value));
	free(value);
}

/*
 * Every pod the spec makes, and wipe_pods wipe pods, summed.  An
 * Elasticsearch pod's limits equal its requests (resources()), and its
 * init containers ask what its main container does, so the pod counts
 * exactly its role's cpu and memory (a pod counts the larger of its
 * containers' sum and any one init container).
 */
json_t *render_quota_object(const struct ctx *c, int wipe_pods)
{
	struct quota_sum q = {0};
	json_t *hard = json_object();
	json_t *quota;

	for (int r = 0; r < ES_ROLE_COUNT; r++) {
		const struct spec_nodes *n = &c->spec->nodes[r];

		add_pods(&q, n->replicas, n->cpu_millis, n->cpu_millis, n->memory_bytes,
			 n->memory_bytes);
	}
	add_fixed_pods(&q, c->spec->kibana_replicas, &render_kibana_resources);
	add_fixed_pods(&q, wipe_pods, &render_wipe_resources);

	set_quantity(hard, "pods", format_count(q.pods));
	set_quantity(hard, "requests.cpu", format_millicores(q.cpu_requests));
	set_quantity(hard, "requests.memory", format_bytes(q.memory_requests));
	set_quantity(hard, "limits.cpu", format_millicores(q.cpu_limits));
	set_quantity(hard, "limits.memory", format_bytes(q.memory_limits));
	quota = render_object("v1", "ResourceQuota", render_metadata(c, RENDER_QUOTA_NAME, -1));
	json_object_set_new(quota, "spec", json_pack("{s:o}", "hard", hard));
	return quota;
}

json_t *render_quota(const struct spec *spec, const struct render_opts *opts, int wipe_pods)
{
	struct ctx c;
	json_t *quota;

	memset(&c, 0, sizeof(c));
	c.spec = spec;
	c.opts = opts;
	es_version_format(&spec->version, c.version, sizeof(c.version));
	c.ns = render_cluster_namespace(spec, opts);
	quota = render_quota_object(&c, wipe_pods);
	free(c.ns);
	return quota;
}

/* A quota's value in one unit per key: bytes for memory, millis else. */
static bool quota_value(const char *key, json_t *value, int64_t *out)
{
	const char *s = json_string_value(value);

	if (!s)
		return false;
	if (strstr(key, "memory"))
		return spec_parse_bytes(s, out);
	return spec_parse_cpu(s, out);
}

void render_quota_at_least(json_t *quota, json_t *hard)
{
	json_t *ours = json_object_get(json_object_get(quota, "spec"), "hard");
	const char *key;
	json_t *value;
	void *tmp;

	json_object_foreach_safe (ours, tmp, key, value) {
		json_t *live = json_object_get(hard, key);
		int64_t want, have;

		if (quota_value(key, value, &want) && quota_value(key, live, &have) && have > want)
			json_object_set(ours, key, live);
	}
}
