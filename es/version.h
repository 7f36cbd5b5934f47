/*
 * The Elasticsearch version matrix: everything that differs between the
 * supported majors (2.x, 5.x, 6.x, 7.x, 8.x and 9.x) is answered here, and only
 * here.  Callers ask a question ("which discovery key?", "how do I flush
 * before a restart?") and never compare version numbers themselves.
 *
 * The answers follow PROCEDURES.md's table, row by row.
 */
#ifndef ESAAS_ES_VERSION_H
#define ESAAS_ES_VERSION_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "common/util.h"

/* What a cluster spec gets when it names no version. */
#define ES_VERSION_DEFAULT "7.17.10"

/* Enough for "%d.%d.%d" of any version es_version_parse() accepts. */
#define ES_VERSION_BUFSIZE 16

#define ES_HOME "/usr/share/elasticsearch"

/* The zen1 quorum setting and the zen2 first-boot setting. */
#define ES_MINIMUM_MASTER_NODES_KEY "discovery.zen.minimum_master_nodes"
#define ES_INITIAL_MASTER_NODES_KEY "cluster.initial_master_nodes"

struct es_version {
	int major;
	int minor;
	int patch;
};

/* The three kinds of node esaas runs: dedicated masters, data nodes, and
 * coordinating ("client") nodes that take the HTTP traffic. */
enum es_role {
	ES_ROLE_MASTER,
	ES_ROLE_DATA,
	ES_ROLE_CLIENT,
};
#define ES_ROLE_COUNT 3

/* How the cluster elects its master. */
enum es_coordination {
	ES_ZEN1, /* 2.x-6.x: discovery.zen.minimum_master_nodes */
	ES_ZEN2, /* 7.x+: voting configuration, voting exclusions */
};

/* How elasticsearch.yml states a node's roles. */
enum es_roles_style {
	ES_ROLES_FLAGS, /* node.master / node.data (/ node.ingest) booleans */
	ES_ROLES_LIST,	/* node.roles: [...] */
};

/*
 * Strict "MAJOR.MINOR.PATCH": three decimal numbers of at most four digits,
 * no sign, no leading zero (other than "0" itself), nothing before or after
 * (no "v", no "-SNAPSHOT").  A refused string leaves *out alone.
 */
bool es_version_parse(const char *s, struct es_version *out) MUST_CHECK;

/*
 * The release of each supported major that esaas offers and is tested
 * with, oldest first (what GET /api/v1/versions lists); the default is
 * one of them.
 */
extern const char *const es_offered_versions[];
extern const size_t es_offered_versions_count;

/* Whether esaas can run this version; if not, why in one sentence. */
bool es_version_supported(const struct es_version *v, char *why, size_t whylen) MUST_CHECK;

void es_version_format(const struct es_version *v, char *buf, size_t len);
int es_version_cmp(const struct es_version *a, const struct es_version *b);
bool es_version_at_least(const struct es_version *v, int major, int minor, int patch);

/* "master", "data", "client". */
const char *es_role_name(enum es_role role);

/* --- discovery and quorum ------------------------------------------------ */

/* discovery.zen.ping.unicast.hosts before 7, discovery.seed_hosts from 7. */
const char *es_discovery_hosts_key(const struct es_version *v);

enum es_coordination es_coordination(const struct es_version *v);

/* zen1's quorum for a number of master-eligible nodes: masters/2 + 1. */
int es_minimum_master_nodes(int masters);

/*
 * The path of POST that excludes the named nodes from the voting
 * configuration before they are removed: 7.0-7.7
 * "/_cluster/voting_config_exclusions/a,b", 7.8+ and 8.x
 * "/_cluster/voting_config_exclusions?node_names=a,b".  Names are
 * percent-encoded.  NULL on zen1 versions (there is nothing to exclude:
 * lower minimum_master_nodes instead), when n is 0, or when a name is
 * empty or holds a comma.  The caller frees the result.
 */
char *es_voting_exclusions_path(const struct es_version *v, const char *const *names, size_t n);

/* The path of DELETE that clears the exclusions once the pods are gone;
 * NULL on zen1 versions. */
const char *es_voting_exclusions_clear_path(const struct es_version *v);

/* --- restarts ------------------------------------------------------------ */

/* The path of POST that flushes before a node restarts: "/_flush/synced"
 * below 8 (deprecated from 7.6 but still there), "/_flush" on 8.x. */
const char *es_flush_path(const struct es_version *v);

/* A synced flush answers 409 when some shard copies had writes in flight:
 * the ordinary flush has still happened, so the restart may go on. */
bool es_flush_conflict_ok(const struct es_version *v);

/* _cluster/health waits for no relocating shard with
 * wait_for_no_relocating_shards from 5.0 (before, wait_for_relocating_shards=0:
 * https://www.elastic.co/guide/en/elasticsearch/reference/5.0/breaking_50_rest_api_changes.html),
 * and for no initializing shard with wait_for_no_initializing_shards from 6.2
 * (https://www.elastic.co/guide/en/elasticsearch/reference/6.2/cluster-health.html). */
bool es_health_waits_for_no_relocating(const struct es_version *v);
bool es_health_waits_for_no_initializing(const struct es_version *v);

/* The node shutdown API (PUT /_nodes/<id>/shutdown) exists from 7.13. */
bool es_has_node_shutdown(const struct es_version *v);

/* From 7.15.2, as elastic/cloud-on-k8s does, the shutdown API is reliable
 * enough to drive scale-downs ("type": "remove") and restarts. */
bool es_prefers_node_shutdown(const struct es_version *v);

/* --- cluster settings ---------------------------------------------------- */

/*
 * The scope esaas writes cluster settings in: "persistent" on every
 * version.  Transient settings exist on all five majors (deprecated from
 * 7.16), but they vanish on a full cluster restart and silently override a
 * persistent value, so cleanup could not trust what it restores.  Anyone
 * reading the effective value must still look at both scopes.
 */
const char *es_settings_scope(const struct es_version *v);

bool es_transient_settings_deprecated(const struct es_version *v);

/* GET _cluster/settings?include_defaults: from 5.0 (elastic/elasticsearch#16054). */
bool es_has_settings_defaults(const struct es_version *v);

/* --- disk watermarks (es/disk.h) ------------------------------------------- */

/* The watermarks' max_headroom settings: from 8.5. */
bool es_has_disk_max_headroom(const struct es_version *v);

/* Whether the disk threshold decider decides a cluster of one data node:
 * never before 7.x, on 7.x when watermark.enable_for_single_data_node is
 * true, always from 8.0. */
enum es_disk_single_node {
	ES_DISK_SINGLE_NODE_NEVER,
	ES_DISK_SINGLE_NODE_IF_ENABLED,
	ES_DISK_SINGLE_NODE_ALWAYS,
};
enum es_disk_single_node es_disk_single_node(const struct es_version *v);

/* --- node roles ---------------------------------------------------------- */

/* Booleans before 7.9, node.roles from 7.9. */
enum es_roles_style es_roles_style(const struct es_version *v);

/* node.ingest / the ingest role exists from 5.0. */
bool es_has_ingest_role(const struct es_version *v);

/*
 * The image bundles X-Pack: the default distribution from 6.3 (an image
 * whose name has "-oss" is the open-source one, without it).
 */
bool es_image_has_xpack(const struct es_version *v, const char *image);

/*
 * Add the role settings of a node of this role to settings (a JSON object
 * of elasticsearch.yml keys): masters are dedicated masters; data nodes
 * hold data and run ingest pipelines; clients coordinate and run ingest
 * pipelines.  No node has another role: before 7.9 the booleans of the
 * roles that are on by default are set false (node.ml where X-Pack is
 * bundled, xpack; node.remote_cluster_client from 7.7; node.transform from
 * 7.7 with X-Pack), since a node does not know them otherwise.
 */
void es_role_settings(const struct es_version *v, enum es_role role, bool xpack, json_t *settings);

/* --- plugins ------------------------------------------------------------- */

/* "bin/plugin install" on 2.x, "bin/elasticsearch-plugin install --batch"
 * from 5 (batch: grant the permissions a plugin asks for without a
 * prompt); run from ES_HOME, followed by the plugin's URL. */
const char *es_plugin_install_command(const struct es_version *v);

/*
 * The plugin's file in a plugin repository: "<repo>/<plugin>-<version>.zip",
 * since a plugin must be built for exactly the Elasticsearch version that
 * loads it.  A trailing '/' of repo is dropped.  The caller frees it.
 */
char *es_plugin_url(const struct es_version *v, const char *repo, const char *plugin);

/* --- upgrades ------------------------------------------------------------ */

/* How a cluster goes from one version to another. */
enum es_upgrade_way {
	ES_UPGRADE_ROLLING,	 /* one node at a time, the cluster serving */
	ES_UPGRADE_FULL_RESTART, /* every node stopped, then started on the new version */
	ES_UPGRADE_REFUSED,
};

/*
 * The way from one version to another as Elasticsearch allows it: rolling
 * within a major, and from the last minor of a major to the next major
 * (5.6 to 6.x, 6.8 to 7.x, 7.17 to 8.x, 8.19 to 9.1+; 8.18 to 9.0.x
 * only), whose nodes talk to each other;
 * 2.x to 5.x only by a full cluster restart.  Anything else is refused
 * with why in one sentence; a path that is only too long names in via
 * (ES_VERSION_BUFSIZE) the release to upgrade to first (the offered one
 * of that major), else via is "".  The same version, or an older one (no
 * node starts on a data path a newer one wrote), is refused too.
 */
enum es_upgrade_way es_upgrade_way(const struct es_version *from, const struct es_version *to,
				   char *via, char *why, size_t whylen);

/*
 * The deprecation info API, what must change before the next major: "GET
 * /_xpack/migration/deprecations" on 6.x, "/_migration/deprecations" from
 * 7.0 (X-Pack, in the default distribution from 6.3:
 * https://www.elastic.co/guide/en/elasticsearch/reference/7.17/migration-api-deprecation.html);
 * NULL where the version or the image has none.
 */
const char *es_deprecations_path(const struct es_version *v, const char *image);

/*
 * The oldest major whose indices a release reads (the major before its
 * own; 2 for 5.x): an index created by an older one must be reindexed
 * before the upgrade, or the nodes of the new version refuse to start.
 */
int es_oldest_readable_major(const struct es_version *v);

/*
 * The major, two back, whose indices a release reads only as read-only
 * indices (9.x reads 7.x indices that 8.18+ marked read-only:
 * IndexMetadataVerifier.isReadOnlySupportedVersion,
 * https://www.elastic.co/docs/deploy-manage/upgrade/prepare-to-upgrade,
 * "reindex older indices or mark them as read-only"), or -1 (before 9.x
 * none).
 */
int es_read_only_major(const struct es_version *v);

/*
 * Whether a node of release v starts over an index created by
 * created_major: one its major reads, or one of es_read_only_major() that
 * has a write block (index.blocks.write or index.blocks.read_only) and
 * the index.verified_read_only mark that 8.18+'s add index block API
 * (PUT /<index>/_block/write) sets with it; the block alone, set through
 * the index settings, is not enough.
 */
bool es_index_readable(const struct es_version *v, int created_major, bool write_blocked,
		       bool verified);

/* A release as Elasticsearch's index.version.created writes it ("7171099"
 * for 7.17.10) parsed into out; false when it is not one. */
bool es_version_from_id(const char *id, struct es_version *out) MUST_CHECK;

/* --- image and JVM ------------------------------------------------------- */

/*
 * The image of this version: "elasticsearch:<v>" (Docker Hub) for 2.x,
 * "docker.elastic.co/elasticsearch/elasticsearch:<v>" from 5.  A registry
 * (a mirror: "registry.local:5000") replaces Docker Hub or
 * docker.elastic.co and keeps the repository path.  The caller frees it.
 */
char *es_default_image(const struct es_version *v, const char *registry);

/*
 * Kibana for this version, with the same registry rules: the same version
 * from 5, Kibana 4.6 for 2.x.  The caller frees it.
 */
char *es_kibana_image(const struct es_version *v, const char *registry);

/* The variable of the Kibana image that names Elasticsearch's URL:
 * ELASTICSEARCH_HOSTS from 7, ELASTICSEARCH_URL before. */
const char *es_kibana_hosts_env(const struct es_version *v);

/* From 8.x security (TLS, passwords) is on by default; esaas writes
 * "xpack.security.enabled: false" on purpose there. */
bool es_security_on_by_default(const struct es_version *v);

/* 2.x's start script sets its own -Xms/-Xmx from ES_HEAP_SIZE, so the
 * heap must go there too; NULL from 5, where ES_JAVA_OPTS is enough. */
const char *es_heap_size_env(const struct es_version *v);

#endif
