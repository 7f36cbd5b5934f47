#include "sim/record.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/json.h"
#include "sim/es.h"
#include "sim/hostfs.h"
#include "sim/store.h"

static json_t *requests, *deletions, *lost, *recoveries, *warnings, *proxy_errors;
static json_t *es_requests; /* "user method version path?query" -> the entry */

void record_init(void)
{
	requests = json_array();
	deletions = json_array();
	lost = json_array();
	recoveries = json_array();
	es_requests = json_object();
	warnings = json_array();
	proxy_errors = json_array();
}

void record_free(void)
{
	json_decref(requests);
	json_decref(deletions);
	json_decref(lost);
	json_decref(recoveries);
	json_decref(es_requests);
	json_decref(warnings);
	json_decref(proxy_errors);
	requests = deletions = lost = recoveries = es_requests = warnings = proxy_errors = NULL;
}

void record_clear(void)
{
	json_array_clear(requests);
	json_array_clear(deletions);
	json_array_clear(lost);
	json_array_clear(recoveries);
	json_object_clear(es_requests);
	json_array_clear(warnings);
	json_array_clear(proxy_errors);
}

static json_t *stamp(json_t *o)
{
	char ts[32];
	int64_t ms = now_wall_ms();
	store_timestamp(ts, sizeof(ts), ms);
	json_object_set_new(o, "time", json_string(ts));
	json_object_set_new(o, "time_ms", json_integer(ms));
	return o;
}

void record_request(const char *method, const char *path, const char *query)
{
	json_t *o = json_pack("{s:s, s:s}", "verb", method, "path", path);
	if (query)
		json_object_set_new(o, "query", json_string(query));
	json_array_append_new(requests, stamp(o));
}

void record_es_request(const char *user, const char *version, const char *method, const char *path,
		       const char *query)
{
	char *key = xasprintf("%s %s %s %s?%s", user ? user : "", version, method, path,
			      query ? query : "");
	json_t *e = json_object_get(es_requests, key);
	if (e) {
		json_object_set_new(
			e, "count",
			json_integer(json_integer_value(json_object_get(e, "count")) + 1));
	} else {
		e = json_pack("{s:s?, s:s, s:s, s:s, s:s?, s:i}", "user", user, "version", version,
			      "method", method, "path", path, "query", query, "count", 1);
		json_object_set_new(es_requests, key, e);
	}
	free(key);
}

void record_api_warning(const char *method, const char *path, const char *text)
{
	json_array_append_new(warnings, stamp(json_pack("{s:s, s:s, s:s}", "verb", method, "path",
							path, "text", text)));
}

void record_proxy_error(const char *method, const char *path, const char *query, int status,
			const char *message)
{
	json_t *o = json_pack("{s:s, s:s, s:i, s:s}", "verb", method, "path", path, "status",
			      status, "message", message);
	if (query)
		json_object_set_new(o, "query", json_string(query));
	json_array_append_new(proxy_errors, stamp(o));
}

void record_pod_deletion(const char *ns, const char *name, const char *uid, const char *by)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "namespace", ns, "name", name, "uid",
			      uid ? uid : "", "by", by);
	/* The shards it held and the cluster's recoveries at that moment. */
	json_t *cost = sim_es_pod_cost(ns, name);
	if (cost)
		json_object_set_new(o, "es", cost);
	json_array_append_new(deletions, stamp(o));
}

void record_lost_shard(const char *ns, const char *index, int shard, const char *node)
{
	json_array_append_new(
		lost, stamp(json_pack("{s:s, s:s, s:i, s:s, s:b}", "cluster", ns, "index", index,
				      "shard", shard, "node", node, "recovered", 0)));
}

void record_shard_recovered(const char *ns, const char *index, int shard, const char *node)
{
	size_t i;
	json_t *e;
	json_array_foreach (lost, i, e) {
		if (!strcmp(json_str(e, "cluster"), ns) && !strcmp(json_str(e, "index"), index) &&
		    json_integer_value(json_object_get(e, "shard")) == shard &&
		    !json_is_true(json_object_get(e, "recovered"))) {
			json_object_set_new(e, "recovered", json_true());
			json_object_set_new(e, "recovered_on", json_string(node));
		}
	}
}

void record_peer_recovery(const char *ns, const char *index, int shard, const char *source,
			  const char *target, const char *type)
{
	json_array_append_new(recoveries,
			      stamp(json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "cluster", ns,
					      "index", index, "shard", shard, "source_node", source,
					      "target_node", target, "type", type)));
}

json_t *record_json(void)
{
	json_t *es = json_array();
	const char *key;
	json_t *e;
	json_object_foreach (es_requests, key, e)
		json_array_append(es, e);
	return json_pack("{s:O, s:O, s:O, s:O, s:o, s:o, s:O, s:O}", "requests", requests,
			 "pod_deletions", deletions, "lost_shards", lost, "peer_recoveries",
			 recoveries, "es_requests", es, "host_paths", hostfs_json(), "warnings",
			 warnings, "proxy_errors", proxy_errors);
}
