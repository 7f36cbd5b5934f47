/*
 * Disk headroom: the low watermark in force and each data node's usage
 * against it (es/disk.h).
 */
#include "es/disk.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/json.h"

#define KEY_ENABLED "cluster.routing.allocation.disk.threshold_enabled"
#define KEY_LOW "cluster.routing.allocation.disk.watermark.low"
#define KEY_HIGH "cluster.routing.allocation.disk.watermark.high"
#define KEY_FLOOD "cluster.routing.allocation.disk.watermark.flood_stage"
#define KEY_HEADROOM "cluster.routing.allocation.disk.watermark.low.max_headroom"
#define KEY_HIGH_HEADROOM "cluster.routing.allocation.disk.watermark.high.max_headroom"
#define KEY_SINGLE "cluster.routing.allocation.disk.watermark.enable_for_single_data_node"

const char *es_disk_settings_path(const struct es_version *v)
{
	return es_has_settings_defaults(v)
		       ? "/_cluster/settings?include_defaults=true&flat_settings=true"
		       : "/_cluster/settings?flat_settings=true";
}

/* ByteSizeValue: a number and a unit (b, kb, mb, gb, tb, pb, in any case;
 * powers of 1024), or a bare 0 or -1. */
static bool parse_size(const char *s, int64_t *out)
{
	static const char *const units[] = {"b", "kb", "mb", "gb", "tb", "pb"};
	char *end;
	double n;

	if (!s || !*s)
		return false;
	n = strtod(s, &end);
	if (end == s || n < -1 || n > 1e18)
		return false;
	if (!*end) {
		if (n != 0 && n != -1)
			return false;
		*out = (int64_t)n;
		return true;
	}
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		double bytes = n * (double)(1LL << (10 * u));
		if (strcasecmp(end, units[u]) == 0 && n >= 0 && bytes < 9e18) {
			*out = (int64_t)bytes;
			return true;
		}
	}
	return false;
}

bool es_disk_watermark_parse(const char *value, struct es_disk_watermark *out)
{
	char *end;
	double d;

	if (!value || !*value)
		return false;
	str_copy_trunc(out->value, value, sizeof(out->value));
	d = strtod(value, &end);
	if (end != value && end[0] == '%' && end[1] == '\0' && d >= 0 && d <= 100) {
		out->absolute = false;
		out->percent = d;
		return true;
	}
	/* A ratio: "0.85" (RatioValue). */
	if (end != value && *end == '\0' && d >= 0 && d <= 1) {
		out->absolute = false;
		out->percent = d * 100;
		return true;
	}
	if (parse_size(value, &out->bytes) && out->bytes >= 0) {
		out->absolute = true;
		return true;
	}
	return false;
}

/* The value in force: transient, persistent, the answer's defaults. */
static const char *in_force(json_t *settings, const char *key)
{
	static const char *const scopes[] = {"transient", "persistent", "defaults"};
	for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
		json_t *v = json_object_get(json_object_get(settings, scopes[i]), key);
		if (json_is_string(v))
			return json_string_value(v);
		if (json_is_boolean(v))
			return json_is_true(v) ? "true" : "false";
	}
	return NULL;
}

/* Set by a person: in transient or persistent. */
static bool set_by_api(json_t *settings, const char *key)
{
	return json_object_get(json_object_get(settings, "transient"), key) ||
	       json_object_get(json_object_get(settings, "persistent"), key);
}

/* One watermark (key, its max_headroom key, their defaults) in force. */
static bool watermark_of(const struct es_version *v, json_t *settings, int data_nodes,
			 const char *key, const char *key_headroom, const char *dflt,
			 const char *dflt_headroom, struct es_disk_watermark *out, char *why,
			 size_t whylen)
{
	const char *enabled = in_force(settings, KEY_ENABLED);
	const char *value = in_force(settings, key);

	memset(out, 0, sizeof(*out));
	out->headroom = -1;
	if (!es_disk_watermark_parse(value ? value : dflt, out)) {
		snprintf(why, whylen, "%s is %s, neither a percentage nor a size", key, value);
		return false;
	}
	out->key = key;
	out->enabled = true;
	if (enabled && strcmp(enabled, "false") == 0) {
		out->enabled = false;
		out->why_off = "the disk threshold decider is off (" KEY_ENABLED ": false)";
	} else if (data_nodes <= 1 && es_disk_single_node(v) != ES_DISK_SINGLE_NODE_ALWAYS) {
		const char *single = in_force(settings, KEY_SINGLE);
		if (es_disk_single_node(v) == ES_DISK_SINGLE_NODE_NEVER || !single ||
		    strcmp(single, "true") != 0) {
			out->enabled = false;
			out->why_off = "Elasticsearch before 8.0 leaves the disk of a single data "
				       "node out of allocation";
		}
	}
	if (!es_has_disk_max_headroom(v) || out->absolute)
		return true;
	/* 8.5+: set by a person, else -1 once a watermark is set (by the
	 * API here; the defaults answered already say so for the node's
	 * elasticsearch.yml), else 200gb. */
	const char *headroom = NULL;
	if (set_by_api(settings, key_headroom))
		headroom = in_force(settings, key_headroom);
	else if (set_by_api(settings, KEY_LOW) || set_by_api(settings, KEY_HIGH) ||
		 set_by_api(settings, KEY_FLOOD))
		headroom = "-1";
	else
		headroom = in_force(settings, key_headroom);
	if (!headroom)
		headroom = dflt_headroom;
	if (!parse_size(headroom, &out->headroom) || out->headroom < -1) {
		snprintf(why, whylen, "%s is %s, not a size", key_headroom, headroom);
		return false;
	}
	str_copy_trunc(out->headroom_value, headroom, sizeof(out->headroom_value));
	return true;
}

bool es_disk_watermark(const struct es_version *v, json_t *settings, int data_nodes,
		       struct es_disk_watermark *out, char *why, size_t whylen)
{
	return watermark_of(v, settings, data_nodes, KEY_LOW, KEY_HEADROOM, "85%", "200gb", out,
			    why, whylen);
}

bool es_disk_watermark_high(const struct es_version *v, json_t *settings, int data_nodes,
			    struct es_disk_watermark *out, char *why, size_t whylen)
{
	return watermark_of(v, settings, data_nodes, KEY_HIGH, KEY_HIGH_HEADROOM, "90%", "150gb",
			    out, why, whylen);
}

int64_t es_disk_free_needed(const struct es_disk_watermark *w, int64_t total)
{
	if (w->absolute)
		return w->bytes;
	/* What may be used, rounded up (RelativeByteSizeValue.calculateValue),
	 * at least total - max_headroom. */
	int64_t used = (int64_t)ceil(w->percent / 100.0 * (double)total);
	if (w->headroom >= 0 && total - w->headroom > used)
		used = total - w->headroom;
	return used < total ? total - used : 0;
}

void es_disk_human(int64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = {"b", "kb", "mb", "gb", "tb", "pb"};
	size_t u = 0;

	while (u + 1 < sizeof(units) / sizeof(units[0]) && bytes >= (1LL << (10 * (u + 1))))
		u++;
	double v = round((double)bytes / (double)(1LL << (10 * u)) * 10) / 10;
	snprintf(buf, len, v == floor(v) ? "%.0f%s" : "%.1f%s", v, units[u]);
}

void es_disk_describe(const struct es_disk_watermark *w, int64_t total, char *buf, size_t len)
{
	char need[32];

	const char *key = w->key ? w->key : KEY_LOW;

	es_disk_human(es_disk_free_needed(w, total), need, sizeof(need));
	if (w->absolute)
		snprintf(buf, len, "%s=%s, %s free at least", key, w->value, need);
	else if (w->headroom >= 0 &&
		 total - w->headroom > (int64_t)ceil(w->percent / 100.0 * (double)total))
		snprintf(buf, len, "%s=%s capped by max_headroom=%s, %s free at least", key,
			 w->value, w->headroom_value, need);
	else
		snprintf(buf, len, "%s=%s, %s free at least", key, w->value, need);
}

static bool row_bytes(json_t *row, const char *col, int64_t *out)
{
	json_t *v = json_object_get(row, col);
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return *out >= 0;
	}
	return json_is_string(v) && parse_int64(json_string_value(v), 0, INT64_MAX, out);
}

static bool is_node_row(json_t *row)
{
	const char *node = json_str(row, "node");
	return node && strcmp(node, "UNASSIGNED") != 0;
}

int es_disk_data_nodes(json_t *rows)
{
	size_t i;
	json_t *row;
	int n = 0;
	json_array_foreach (rows, i, row)
		n += is_node_row(row);
	return n;
}

static bool listed(json_t *only, const char *node)
{
	size_t i;
	json_t *v;
	if (!only)
		return true;
	json_array_foreach (only, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), node) == 0)
			return true;
	return false;
}

void es_disk_check(const struct es_disk_watermark *w, json_t *rows, json_t *only, json_t **above,
		   json_t **near, json_t **unreported)
{
	size_t i;
	json_t *row;

	*above = json_array();
	*near = json_array();
	*unreported = json_array();
	json_array_foreach (rows, i, row) {
		const char *node = json_str(row, "node");
		int64_t used, avail, total;
		if (!is_node_row(row) || !listed(only, node))
			continue;
		if (!row_bytes(row, "disk.used", &used) || !row_bytes(row, "disk.avail", &avail) ||
		    !row_bytes(row, "disk.total", &total) || total <= 0) {
			json_array_append_new(*unreported, json_string(node));
			continue;
		}
		int64_t need = es_disk_free_needed(w, total);
		char fr[32], tot[32], mark[200];
		es_disk_human(avail, fr, sizeof(fr));
		es_disk_human(total, tot, sizeof(tot));
		es_disk_describe(w, total, mark, sizeof(mark));
		char *line = xasprintf("%s: %.1f%% used, %s free of %s (the low watermark: %s)",
				       node, 100.0 * (double)used / (double)total, fr, tot, mark);
		if (avail < need)
			json_array_append_new(*above, json_string(line));
		else if (avail < need + total / 100 * ES_DISK_MARGIN_PERCENT)
			json_array_append_new(*near, json_string(line));
		free(line);
	}
}

void es_disk_drain(const struct es_disk_watermark *low, const struct es_disk_watermark *high,
		   json_t *rows, json_t *leaving, struct es_disk_drain *out)
{
	size_t i;
	json_t *row;

	memset(out, 0, sizeof(*out));
	json_array_foreach (rows, i, row) {
		const char *node = json_str(row, "node");
		int64_t indices, avail, total;
		if (!is_node_row(row))
			continue;
		bool goes = listed(leaving, node);
		if (!goes)
			out->others++;
		if (goes) {
			if (row_bytes(row, "disk.indices", &indices))
				out->moving += indices;
			else
				out->unreported++;
			continue;
		}
		if (!row_bytes(row, "disk.avail", &avail) ||
		    !row_bytes(row, "disk.total", &total) || total <= 0) {
			out->unreported++;
			continue;
		}
		/* Above the low watermark a node takes no shard that moves. */
		if (avail < es_disk_free_needed(low, total))
			continue;
		out->takers++;
		int64_t room = avail - es_disk_free_needed(high, total);
		if (room > 0)
			out->room += room;
		if (out->example_total == 0)
			out->example_total = total;
	}
}
