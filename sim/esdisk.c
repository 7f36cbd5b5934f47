/*
 * The disks under Elasticsearch's data paths: the watermarks and the disk
 * threshold decider (sim/esdisk.h).
 */
#include "sim/esdisk.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "sim/simconf.h"

#define WATERMARK "cluster.routing.allocation.disk.watermark."

/* host -> {"total_bytes"?, "other_bytes"?}: what a request set. */
static json_t *hosts;

bool esdisk_set_host(const char *host, int64_t other, int64_t total, char **err)
{
	if (other < -1 || total < -1) {
		*err = xstrdup(other < -1 ? "other_bytes: a size of 0 or more is expected"
					  : "total_bytes: a size of 0 or more is expected");
		return false;
	}
	if (!hosts)
		hosts = json_object();
	json_t *h = json_object_get(hosts, host);
	if (!h) {
		h = json_object();
		json_object_set_new(hosts, host, h);
	}
	if (other >= 0)
		json_object_set_new(h, "other_bytes", json_integer(other));
	if (total >= 0)
		json_object_set_new(h, "total_bytes", json_integer(total));
	return true;
}

int64_t esdisk_other(const char *host)
{
	json_t *v = json_object_get(json_object_get(hosts, host), "other_bytes");
	return json_is_integer(v) ? json_integer_value(v) : 0;
}

int64_t esdisk_total(const char *host)
{
	json_t *v = json_object_get(json_object_get(hosts, host), "total_bytes");
	return json_is_integer(v) ? json_integer_value(v) : simconf_get()->node_disk;
}

json_t *esdisk_json(void)
{
	return hosts ? json_deep_copy(hosts) : json_object();
}

void esdisk_free(void)
{
	json_decref(hosts);
	hosts = NULL;
}

/* --- the watermarks ------------------------------------------------------------- */

/*
 * A watermark's value (RelativeByteSizeValue; before 8.x
 * DiskThresholdSettings.thresholdPercentageFromWatermark and
 * thresholdBytesFromWatermark): "85%" or a ratio "0.85" is the share of
 * the disk that may be used, anything else bytes that must stay free.
 */
static void mark_parse(struct esdisk_mark *m, const char *v)
{
	char *end;
	double d;
	int64_t b;

	str_copy_trunc(m->raw, v, sizeof(m->raw));
	m->absolute = false;
	d = strtod(v, &end);
	if (end != v && end[0] == '%' && end[1] == '\0' && d >= 0 && d <= 100) {
		m->percent = d;
		return;
	}
	if (end != v && *end == '\0' && d >= 0 && d <= 1) {
		m->percent = d * 100;
		return;
	}
	if (simconf_bytes(v, &b) && b >= 0) {
		m->absolute = true;
		m->bytes = b;
		return;
	}
	/* A value Elasticsearch refuses cannot be in force: the default's. */
	m->percent = 85;
}

static void mark_load(struct esdisk_mark *m, int vcode, const char *stage, const char *dflt,
		      const char *dflt_headroom, bool any_set, esdisk_setting_fn get, void *arg)
{
	static char keys[3][2][96];
	int slot = stage[0] == 'l' ? 0 : stage[0] == 'h' ? 1 : 2;
	const char *v;

	snprintf(keys[slot][0], sizeof(keys[slot][0]), WATERMARK "%s", stage);
	snprintf(keys[slot][1], sizeof(keys[slot][1]), WATERMARK "%s.max_headroom", stage);
	m->key = keys[slot][0];
	v = get(arg, m->key);
	mark_parse(m, v ? v : dflt);
	m->headroom = -1;
	m->headroom_key = NULL;
	m->headroom_raw[0] = '\0';
	if (vcode < 80500)
		return;
	/* 8.5+: a percentage asks for at most max_headroom free, by default
	 * 200GB, 150GB, 100GB while none of the three watermarks is set
	 * (DiskThresholdSettings, the max_headroom settings' defaults). */
	m->headroom_key = keys[slot][1];
	v = get(arg, m->headroom_key);
	if (!v)
		v = any_set ? "-1" : dflt_headroom;
	str_copy_trunc(m->headroom_raw, v, sizeof(m->headroom_raw));
	int64_t b;
	if (simconf_bytes(v, &b) && b >= 0)
		m->headroom = b;
}

static bool truthy(const char *v, bool dflt)
{
	return v ? strcmp(v, "true") == 0 : dflt;
}

void esdisk_marks(int vcode, esdisk_setting_fn get, void *arg, struct esdisk_marks *m)
{
	bool any = get(arg, WATERMARK "low") || get(arg, WATERMARK "high") ||
		   (vcode >= 60000 && get(arg, WATERMARK "flood_stage"));

	memset(m, 0, sizeof(*m));
	m->enabled = truthy(get(arg, "cluster.routing.allocation.disk.threshold_enabled"), true);
	/* Before 8.0 a cluster of one data node is left alone, a setting of
	 * 7.x's (enable_for_single_data_node, false) asking otherwise; from
	 * 8.0 it is always decided (the 8.0 breaking changes). */
	m->single_data_node = vcode >= 80000 ||
			      (vcode >= 70000 &&
			       truthy(get(arg, WATERMARK "enable_for_single_data_node"), false));
	mark_load(&m->low, vcode, "low", "85%", "200gb", any, get, arg);
	mark_load(&m->high, vcode, "high", "90%", "150gb", any, get, arg);
	mark_load(&m->flood, vcode, "flood_stage", "95%", "100gb", any, get, arg);
}

int64_t esdisk_free_needed(const struct esdisk_mark *m, int64_t total)
{
	if (m->absolute)
		return m->bytes;
	/* RelativeByteSizeValue.calculateValue: the used bytes allowed,
	 * ceil(ratio * total), raised to total - max_headroom. */
	int64_t used = (int64_t)ceil(m->percent / 100.0 * (double)total);
	if (m->headroom >= 0 && total - m->headroom > used)
		used = total - m->headroom;
	return used < total ? total - used : 0;
}

/* --- the decider's words -------------------------------------------------------- */

void esdisk_human(int64_t bytes, char *buf, size_t n)
{
	static const char *const units[] = {"b", "kb", "mb", "gb", "tb", "pb"};
	size_t u = 0;
	double v = (double)bytes;

	while (u + 1 < sizeof(units) / sizeof(units[0]) && bytes >= (1LL << (10 * (u + 1))))
		u++;
	v = (double)bytes / (double)(1LL << (10 * u));
	/* Strings.format1Decimals: one decimal, none when it is 0. */
	double r = round(v * 10) / 10;
	if (r == floor(r))
		snprintf(buf, n, "%.0f%s", r, units[u]);
	else
		snprintf(buf, n, "%.1f%s", r, units[u]);
}

bool esdisk_cat_bytes(int64_t bytes, const char *unit, char *buf, size_t n)
{
	static const char *const units[] = {"b", "kb", "mb", "gb", "tb", "pb"};

	if (!unit || !*unit) {
		esdisk_human(bytes, buf, n);
		return true;
	}
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		/* "k" as "kb", and so on (the _cat APIs' bytes options). */
		if (strcmp(unit, units[u]) == 0 || (u > 0 && unit[0] == units[u][0] && !unit[1])) {
			snprintf(buf, n, "%lld", (long long)(bytes >> (10 * u)));
			return true;
		}
	}
	return false;
}

/* Java's Double.toString, near enough: the shortest digits that read back. */
static void java_double(double d, char *buf, size_t n)
{
	for (int p = 1; p <= 17; p++) {
		snprintf(buf, n, "%.*g", p, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (!strpbrk(buf, ".e"))
		strncat(buf, ".0", n - strlen(buf) - 1);
}

/* Strings.format1Decimals(percent, "%"). */
static void one_decimal_percent(double d, char *buf, size_t n)
{
	double r = round(d * 10) / 10;
	snprintf(buf, n, r == floor(r) ? "%.0f%%" : "%.1f%%", r);
}

/* The watermark as the 8.5+ messages name it: the setting that decides
 * on this disk (describeThreshold). */
static char *describe(const struct esdisk_mark *m, int64_t total)
{
	if (!m->absolute && m->headroom >= 0) {
		int64_t plain = (int64_t)ceil(m->percent / 100.0 * (double)total);
		if (total - m->headroom > plain)
			return xasprintf("%s=%s", m->headroom_key, m->headroom_raw);
	}
	return xasprintf("%s=%s", m->key, m->raw);
}

/* "the node is above the low watermark cluster setting [...] ...". */
static char *above(int vcode, const char *stage, const struct esdisk_mark *m,
		   const struct esdisk_usage *u)
{
	char need[32], free_b[32], used_pct[32], max_pct[32], free_pct[40];
	double used = u->total > 0 ? 100.0 * (double)(u->total - u->avail) / (double)u->total : 0;

	esdisk_human(esdisk_free_needed(m, u->total), need, sizeof(need));
	esdisk_human(u->avail, free_b, sizeof(free_b));
	if (vcode >= 80500) {
		char *what = describe(m, u->total);
		one_decimal_percent(used, used_pct, sizeof(used_pct));
		char *s =
			xasprintf("the node is above the %s watermark cluster setting [%s], having "
				  "less than the minimum required [%s] free space, actual free: "
				  "[%s], actual used: [%s]",
				  stage, what, need, free_b, used_pct);
		free(what);
		return s;
	}
	if (m->absolute)
		return xasprintf(
			"the node is above the %s watermark cluster setting [%s=%s], having "
			"less than the minimum required [%s] free space, actual free: [%s]",
			stage, m->key, m->raw, need, free_b);
	java_double(m->percent, max_pct, sizeof(max_pct));
	java_double(100.0 - used, free_pct, sizeof(free_pct));
	return xasprintf("the node is above the %s watermark cluster setting [%s=%s], using more "
			 "disk space than the maximum allowed [%s%%], actual free: [%s%%]",
			 stage, m->key, m->raw, max_pct, free_pct);
}

char *esdisk_refusal(int vcode, const struct esdisk_marks *m, const struct esdisk_usage *u,
		     int data_nodes, bool new_primary, int64_t adds)
{
	if (!m->enabled || u->total <= 0 || (data_nodes <= 1 && !m->single_data_node))
		return NULL;
	/* DiskThresholdDecider.canAllocate: above the low watermark a node
	 * takes only a new index's primary, and that only while under the
	 * high watermark. */
	if (u->avail < esdisk_free_needed(&m->low, u->total)) {
		if (!new_primary)
			return above(vcode, "low", &m->low, u);
		if (u->avail < esdisk_free_needed(&m->high, u->total))
			return above(vcode, "high", &m->high, u);
	}
	/* Then the copy itself must not take the node past the high one. */
	int64_t after = u->avail - adds;
	int64_t high = esdisk_free_needed(&m->high, u->total);
	if (adds <= 0 || after >= high)
		return NULL;
	char need[32], free_b[32], size[32];
	esdisk_human(high, need, sizeof(need));
	esdisk_human(after > 0 ? after : 0, free_b, sizeof(free_b));
	esdisk_human(adds, size, sizeof(size));
	if (vcode >= 80500) {
		char *what = describe(&m->high, u->total), used[32];
		one_decimal_percent(100.0 * (double)(u->total - after) / (double)u->total, used,
				    sizeof(used));
		char *s =
			xasprintf("allocating the shard to this node will bring the node above the "
				  "high watermark cluster setting [%s] and cause it to have less "
				  "than the minimum required [%s] of free space (free: [%s], used: "
				  "[%s], estimated shard size: [%s])",
				  what, need, free_b, used, size);
		free(what);
		return s;
	}
	return xasprintf("allocating the shard to this node will bring the node above the high "
			 "watermark cluster setting [%s=%s] and cause it to have less than the "
			 "minimum required [%s] of free space (free: [%s], estimated shard size: "
			 "[%s])",
			 m->high.key, m->high.raw, need, free_b, size);
}

void esdisk_defaults(json_t *flat, int vcode, esdisk_setting_fn get, void *arg)
{
	json_object_set_new(flat, "cluster.routing.allocation.disk.threshold_enabled",
			    json_string("true"));
	json_object_set_new(flat, WATERMARK "low", json_string("85%"));
	json_object_set_new(flat, WATERMARK "high", json_string("90%"));
	if (vcode >= 60000)
		json_object_set_new(flat, WATERMARK "flood_stage", json_string("95%"));
	if (vcode >= 71400 && vcode < 90000)
		json_object_set_new(flat, WATERMARK "enable_for_single_data_node",
				    json_string(vcode >= 80000 ? "true" : "false"));
	if (vcode >= 80500) {
		/* -1 once a watermark is set where the defaults are read. */
		bool any = get(arg, WATERMARK "low") || get(arg, WATERMARK "high") ||
			   get(arg, WATERMARK "flood_stage");
		json_object_set_new(flat, WATERMARK "low.max_headroom",
				    json_string(any ? "-1" : "200GB"));
		json_object_set_new(flat, WATERMARK "high.max_headroom",
				    json_string(any ? "-1" : "150GB"));
		json_object_set_new(flat, WATERMARK "flood_stage.max_headroom",
				    json_string(any ? "-1" : "100GB"));
	}
}
