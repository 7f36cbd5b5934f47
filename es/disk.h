/*
 * Disk headroom: the watermarks of Elasticsearch's disk threshold decider
 * and each data node's disk usage against them.
 *
 * Above the low watermark a node takes no replica, not even the one whose
 * files it still holds, so a data node that restarts there leaves its
 * replicas unassigned and the cluster yellow: a rolling restart stalls at
 * its green gate.  The rules
 * (https://www.elastic.co/guide/en/elasticsearch/reference/8.17/modules-cluster.html#disk-based-shard-allocation,
 * .../7.17/modules-cluster.html#disk-based-shard-allocation):
 *
 *   - cluster.routing.allocation.disk.watermark.low: "85%" (a share of the
 *     disk that may be used; "0.85" is the same), or bytes that must stay
 *     free ("50gb");
 *   - from 8.5, low.max_headroom caps the free space a percentage asks for
 *     (200GB by default while none of the low, high and flood_stage
 *     watermarks is set, none once one is);
 *   - cluster.routing.allocation.disk.threshold_enabled: false turns the
 *     decider off;
 *   - before 8.0 a cluster with a single data node is left alone (7.x:
 *     unless watermark.enable_for_single_data_node is true).
 *
 * Each setting is read transient over persistent over the defaults
 * GET _cluster/settings?include_defaults=true answers (5.0+: they carry
 * the elasticsearch.yml of the node that answers), then the version's
 * default.  Usage comes from _cat/allocation (ES_DISK_ALLOCATION_PATH), a
 * row per data node, every version.
 */
#ifndef ESAAS_ES_DISK_H
#define ESAAS_ES_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "common/util.h"
#include "es/version.h"

#define ES_DISK_ALLOCATION_PATH \
	"/_cat/allocation?format=json&bytes=b&h=node,disk.indices,disk.used,disk.avail,disk.total"

/* A node within this share of its disk of the low watermark is warned of. */
#define ES_DISK_MARGIN_PERCENT 5

/* A watermark in force (the low one, or the high one). */
struct es_disk_watermark {
	const char *key;     /* its setting's name (static text) */
	bool enabled;	     /* the decider is on and decides this cluster */
	const char *why_off; /* when not enabled: why (static text) */
	char value[64];	     /* the watermark's value, as set */
	bool absolute;	     /* bytes free, not a share of the disk */
	double percent;	     /* of the disk that may be used, when not absolute */
	int64_t bytes;	     /* free, when absolute */
	int64_t headroom;    /* max_headroom in bytes; -1: no cap */
	char headroom_value[32];
};

/* The settings path to read: with the defaults where the version has them. */
const char *es_disk_settings_path(const struct es_version *v);

/*
 * The low watermark in force on a cluster of version v with these cluster
 * settings (GET es_disk_settings_path(): {"persistent", "transient",
 * "defaults"?}, flat) and data_nodes data nodes.  False, with why, when a
 * value in force cannot be read.
 */
bool es_disk_watermark(const struct es_version *v, json_t *settings, int data_nodes,
		       struct es_disk_watermark *out, char *why, size_t whylen) MUST_CHECK;
/* The high watermark in force, as es_disk_watermark reads the low one:
 * 90% by default, from 8.5 high.max_headroom (150GB while none of the
 * watermarks is set). */
bool es_disk_watermark_high(const struct es_version *v, json_t *settings, int data_nodes,
			    struct es_disk_watermark *out, char *why, size_t whylen) MUST_CHECK;
/* A value of a watermark: false when it is none. */
bool es_disk_watermark_parse(const char *value, struct es_disk_watermark *out) MUST_CHECK;
/* Bytes the watermark wants free on a disk of total bytes. */
int64_t es_disk_free_needed(const struct es_disk_watermark *w, int64_t total);
/* "85%", "50gb free", or "85% (at most 200gb free, max_headroom)", for a message. */
void es_disk_describe(const struct es_disk_watermark *w, int64_t total, char *buf, size_t len);
/* 1.5gb, 200gb, 512b. */
void es_disk_human(int64_t bytes, char *buf, size_t len);

/*
 * The data nodes of _cat/allocation rows (ES_DISK_ALLOCATION_PATH) among
 * only (node names; NULL: all) against the watermark: *above, a line per
 * node above it ("es-data-1-logs: 88% used, 12gb free of 100gb"), and
 * *near, per node within ES_DISK_MARGIN_PERCENT of it, and *unreported,
 * per node whose usage Elasticsearch does not know yet; each a new array.
 */
void es_disk_check(const struct es_disk_watermark *w, json_t *rows, json_t *only, json_t **above,
		   json_t **near, json_t **unreported);
/*
 * A drain of the data nodes in leaving (node names) onto the others of the
 * rows: the bytes of shards the leaving nodes hold (disk.indices) against
 * what the others can take at most.  DiskThresholdDecider.canAllocate
 * gives a node a moving shard only while it is below the low watermark,
 * counting the shards already on their way to it, and never one that
 * would take it past the high watermark: a node takes shards until it
 * passes the low watermark, the last one at most up to the high one.
 * Without the shards' own sizes, the most a node below the low watermark
 * can take is its free space less what the high one wants free.  So
 * moving > room means the drain cannot finish; the converse need not hold
 * (smaller room when the last shards are small, and each shard must fit
 * on one node).
 */
struct es_disk_drain {
	int64_t moving;	       /* bytes of shards on the leaving nodes */
	int64_t room;	       /* what the other nodes can take */
	int takers;	       /* other nodes below the low watermark */
	int others;	       /* other data nodes */
	int unreported;	       /* nodes whose usage Elasticsearch does not know */
	int64_t example_total; /* a taker's disk, to describe the high watermark with */
};
void es_disk_drain(const struct es_disk_watermark *low, const struct es_disk_watermark *high,
		   json_t *rows, json_t *leaving, struct es_disk_drain *out);

/* Data nodes in the rows (the UNASSIGNED row left out). */
int es_disk_data_nodes(json_t *rows);

#endif
