/*
 * The disks under Elasticsearch's data paths, and what Elasticsearch does
 * about them.
 *
 * A data path is a hostPath folder (or a local PersistentVolume over one)
 * on a Kubernetes node: all the folders of one node share its filesystem,
 * of nodes.disk bytes (sim/simconf.h) unless PUT /_sim/nodes/{name}/disk
 * says otherwise.  What is used on it is the files of the shard copies on
 * that node, of every cluster (sim/es.c counts them), and the other files
 * a test puts there with the same request ({"other_bytes": N}).
 *
 * Elasticsearch reads that usage per node (ClusterInfo, from the nodes'
 * fs stats) and its disk threshold decider refuses to allocate a copy to a
 * node above the low watermark
 * (https://www.elastic.co/guide/en/elasticsearch/reference/7.17/modules-cluster.html#disk-based-shard-allocation,
 * DiskThresholdDecider and DiskThresholdSettings in elastic/elasticsearch).
 * This module holds the watermarks' arithmetic and the decider's words;
 * sim/es.c asks it about each node.
 */
#ifndef SIM_ESDISK_H
#define SIM_ESDISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "common/util.h"

/* One node's filesystem, as the fs stats give it; avail is also free:
 * the simulated filesystems keep no blocks for root. */
struct esdisk_usage {
	int64_t total;
	int64_t used;
	int64_t avail;
};

/* The other files on a host's disk and its size (-1: leave as it is);
 * false with *err when a value is negative. */
bool esdisk_set_host(const char *host, int64_t other, int64_t total, char **err) MUST_CHECK;
int64_t esdisk_other(const char *host);
int64_t esdisk_total(const char *host);
/* {"host": {"total_bytes", "other_bytes"}} of the hosts a request set. */
json_t *esdisk_json(void);
void esdisk_free(void);

/* A cluster setting's value (transient, persistent, elasticsearch.yml), or NULL. */
typedef const char *(*esdisk_setting_fn)(void *arg, const char *key);

/* One watermark as DiskThresholdSettings holds it. */
struct esdisk_mark {
	const char *key;	  /* cluster.routing.allocation.disk.watermark.low, ... */
	const char *headroom_key; /* its max_headroom setting (8.5+), or NULL */
	char raw[64];		  /* the value, as written */
	bool absolute;		  /* bytes that must stay free, not a share of the disk */
	double percent;		  /* of the disk that may be used, when not absolute */
	int64_t bytes;		  /* when absolute */
	int64_t headroom;	  /* bytes: the most free space it asks for; -1: no cap */
	char headroom_raw[32];
};

struct esdisk_marks {
	bool enabled;	       /* cluster.routing.allocation.disk.threshold_enabled */
	bool single_data_node; /* decides with a single data node too (8.0+, or 7.x's
				   enable_for_single_data_node) */
	struct esdisk_mark low, high, flood;
};

/* The watermarks in force on a cluster of version vcode (70100 for 7.1.0). */
void esdisk_marks(int vcode, esdisk_setting_fn get, void *arg, struct esdisk_marks *m);
/* Bytes the watermark wants free on a disk of total bytes. */
int64_t esdisk_free_needed(const struct esdisk_mark *m, int64_t total);

/*
 * The disk threshold decider's NO for a copy on a node with usage u, or
 * NULL when it says YES (newly allocated).  new_primary: a primary of a
 * new index (an empty store), which the low watermark does not stop;
 * adds: the bytes the copy would bring to the node (0 when its files are
 * there already).  A primary with a copy on disk is not asked: the
 * primary allocator forces it (AllocationDecider.canForceAllocatePrimary).
 */
char *esdisk_refusal(int vcode, const struct esdisk_marks *m, const struct esdisk_usage *u,
		     int data_nodes, bool new_primary, int64_t adds);

/* The disk settings' defaults (GET _cluster/settings?include_defaults),
 * flat; get reads the answering node's own settings, which decide the
 * max_headroom defaults (-1 once a watermark is set there). */
void esdisk_defaults(json_t *flat, int vcode, esdisk_setting_fn get, void *arg);

/* ByteSizeValue's text: "225b", "1.5kb", "80gb". */
void esdisk_human(int64_t bytes, char *buf, size_t n);
/* bytes in the _cat APIs' bytes= unit (b, k or kb, m or mb, g or gb, t or
 * tb, p or pb; human without one); false for another unit. */
bool esdisk_cat_bytes(int64_t bytes, const char *unit, char *buf, size_t n) MUST_CHECK;

#endif
