/*
 * The Elasticsearch version matrix.  Each function answers one row of
 * PROCEDURES.md's table; the thresholds are written once, as constants
 * next to the question they answer.
 */
#include "es/version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int supported_majors[] = {2, 5, 6, 7, 8, 9};

static bool parse_component(const char **p, int *out)
{
	const char *s = *p;
	int v = 0;
	int digits = 0;

	if (*s < '0' || *s > '9')
		return false;
	/* "07" is refused: a version is not an octal literal, and accepting
	 * it would give two spellings of one version. */
	if (s[0] == '0' && s[1] >= '0' && s[1] <= '9')
		return false;
	while (*s >= '0' && *s <= '9') {
		if (++digits > 4)
			return false;
		v = v * 10 + (*s - '0');
		s++;
	}
	*p = s;
	*out = v;
	return true;
}

bool es_version_parse(const char *s, struct es_version *out)
{
	struct es_version v;

	if (!s)
		return false;
	if (!parse_component(&s, &v.major) || *s++ != '.')
		return false;
	if (!parse_component(&s, &v.minor) || *s++ != '.')
		return false;
	if (!parse_component(&s, &v.patch) || *s != '\0')
		return false;
	*out = v;
	return true;
}

/*
 * 8.19 is the last 8.x minor, the one every 9.1+ release upgrades from
 * (https://www.elastic.co/docs/deploy-manage/upgrade/prepare-to-upgrade,
 * "Upgrade to the latest 8.19 patch release"), so it replaces 8.17.0:
 * an 8.x cluster created on it goes to 9.x in one rolling upgrade, and
 * 7.17 rolls to it directly.  8.19.20 and 9.5.2 are current releases of
 * August 2026 (elastic/elasticsearch releases v8.19.20 and v9.5.2;
 * docs/release-notes/breaking-changes.md, "9.5.2": no breaking change).
 * Clusters on other releases of a supported major (8.17.0 among them)
 * still run and upgrade: this is only what is offered.
 */
const char *const es_offered_versions[] = {"2.4.6",   "5.6.16", "6.8.23", ES_VERSION_DEFAULT,
					   "8.19.20", "9.5.2"};
const size_t es_offered_versions_count = ARRAY_SIZE(es_offered_versions);

bool es_version_supported(const struct es_version *v, char *why, size_t whylen)
{
	char buf[ES_VERSION_BUFSIZE];

	for (size_t i = 0; i < ARRAY_SIZE(supported_majors); i++) {
		if (v->major == supported_majors[i])
			return true;
	}
	es_version_format(v, buf, sizeof(buf));
	if (why)
		snprintf(why, whylen,
			 "Elasticsearch %s is not supported: the supported major versions are "
			 "2, 5, 6, 7, 8 and 9",
			 buf);
	return false;
}

void es_version_format(const struct es_version *v, char *buf, size_t len)
{
	snprintf(buf, len, "%d.%d.%d", v->major, v->minor, v->patch);
}

int es_version_cmp(const struct es_version *a, const struct es_version *b)
{
	if (a->major != b->major)
		return a->major < b->major ? -1 : 1;
	if (a->minor != b->minor)
		return a->minor < b->minor ? -1 : 1;
	if (a->patch != b->patch)
		return a->patch < b->patch ? -1 : 1;
	return 0;
}

bool es_version_at_least(const struct es_version *v, int major, int minor, int patch)
{
	struct es_version w = {major, minor, patch};

	return es_version_cmp(v, &w) >= 0;
}

const char *es_role_name(enum es_role role)
{
	switch (role) {
	case ES_ROLE_MASTER:
		return "master";
	case ES_ROLE_DATA:
		return "data";
	case ES_ROLE_CLIENT:
		return "client";
	}
	return "unknown";
}

/* --- discovery and quorum ------------------------------------------------ */

const char *es_discovery_hosts_key(const struct es_version *v)
{
	if (v->major >= 7)
		return "discovery.seed_hosts";
	return "discovery.zen.ping.unicast.hosts";
}

enum es_coordination es_coordination(const struct es_version *v)
{
	return v->major >= 7 ? ES_ZEN2 : ES_ZEN1;
}

int es_minimum_master_nodes(int masters)
{
	return masters / 2 + 1;
}

/* Room for n more bytes and a terminator. */
static void reserve(char **buf, size_t len, size_t *cap, size_t n)
{
	if (len + n + 1 > *cap) {
		*cap = (len + n + 1) * 2;
		*buf = xrealloc(*buf, *cap);
	}
}

/* Append s, percent-encoding everything but RFC 3986's unreserved
 * characters. */
static void append_encoded(char **buf, size_t *len, size_t *cap, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';

		reserve(buf, *len, cap, 3);
		if (plain) {
			(*buf)[(*len)++] = (char)c;
		} else {
			(*buf)[(*len)++] = '%';
			(*buf)[(*len)++] = hex[c >> 4];
			(*buf)[(*len)++] = hex[c & 15];
		}
	}
	(*buf)[*len] = '\0';
}

char *es_voting_exclusions_path(const struct es_version *v, const char *const *names, size_t n)
{
	/* 7.8 added ?node_names= and deprecated the path form, which 8.0
	 * removed. */
	const char *prefix = es_version_at_least(v, 7, 8, 0)
				     ? "/_cluster/voting_config_exclusions?node_names="
				     : "/_cluster/voting_config_exclusions/";
	size_t len, cap;
	char *buf;

	if (es_coordination(v) != ES_ZEN2 || n == 0)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (!names[i] || !names[i][0] || strchr(names[i], ','))
			return NULL;
	}
	len = strlen(prefix);
	cap = len + 64;
	buf = xmalloc(cap);
	memcpy(buf, prefix, len + 1);
	for (size_t i = 0; i < n; i++) {
		if (i > 0) {
			reserve(&buf, len, &cap, 1);
			buf[len++] = ',';
		}
		append_encoded(&buf, &len, &cap, names[i]);
	}
	return buf;
}

const char *es_voting_exclusions_clear_path(const struct es_version *v)
{
	if (es_coordination(v) != ES_ZEN2)
		return NULL;
	return "/_cluster/voting_config_exclusions";
}

/* --- restarts ------------------------------------------------------------ */

const char *es_flush_path(const struct es_version *v)
{
	if (v->major >= 8)
		return "/_flush";
	return "/_flush/synced";
}

bool es_flush_conflict_ok(const struct es_version *v)
{
	return v->major < 8;
}

bool es_health_waits_for_no_relocating(const struct es_version *v)
{
	return v->major >= 5;
}

bool es_health_waits_for_no_initializing(const struct es_version *v)
{
	return es_version_at_least(v, 6, 2, 0);
}

bool es_has_node_shutdown(const struct es_version *v)
{
	return es_version_at_least(v, 7, 13, 0);
}

bool es_prefers_node_shutdown(const struct es_version *v)
{
	return es_version_at_least(v, 7, 15, 2);
}

/* --- cluster settings ---------------------------------------------------- */

const char *es_settings_scope(const struct es_version *v)
{
	return "persistent";
}

bool es_transient_settings_deprecated(const struct es_version *v)
{
	return es_version_at_least(v, 7, 16, 0);
}

bool es_has_settings_defaults(const struct es_version *v)
{
	return v->major >= 5;
}

/* --- disk watermarks --------------------------------------------------------- */

bool es_has_disk_max_headroom(const struct es_version *v)
{
	return es_version_at_least(v, 8, 5, 0);
}

enum es_disk_single_node es_disk_single_node(const struct es_version *v)
{
	/* https://www.elastic.co/guide/en/elasticsearch/reference/8.0/migrating-8.0.html
	 * ("enable_for_single_data_node" deprecated, true by default). */
	if (v->major >= 8)
		return ES_DISK_SINGLE_NODE_ALWAYS;
	return v->major == 7 ? ES_DISK_SINGLE_NODE_IF_ENABLED : ES_DISK_SINGLE_NODE_NEVER;
}

/* --- node roles ---------------------------------------------------------- */

enum es_roles_style es_roles_style(const struct es_version *v)
{
	return es_version_at_least(v, 7, 9, 0) ? ES_ROLES_LIST : ES_ROLES_FLAGS;
}

bool es_has_ingest_role(const struct es_version *v)
{
	return v->major >= 5;
}

bool es_image_has_xpack(const struct es_version *v, const char *image)
{
	return es_version_at_least(v, 6, 3, 0) && !(image && strstr(image, "-oss"));
}

void es_role_settings(const struct es_version *v, enum es_role role, bool xpack, json_t *settings)
{
	bool master = role == ES_ROLE_MASTER;
	bool data = role == ES_ROLE_DATA;
	bool ingest = role != ES_ROLE_MASTER && es_has_ingest_role(v);

	if (es_roles_style(v) == ES_ROLES_LIST) {
		/* An empty list is a coordinating-only node; a list names
		 * every role, so ml, transform and the rest stay off. */
		json_t *roles = json_array();

		if (master)
			json_array_append_new(roles, json_string("master"));
		if (data)
			json_array_append_new(roles, json_string("data"));
		if (ingest)
			json_array_append_new(roles, json_string("ingest"));
		json_object_set_new(settings, "node.roles", roles);
		return;
	}
	json_object_set_new(settings, "node.master", json_boolean(master));
	json_object_set_new(settings, "node.data", json_boolean(data));
	if (es_has_ingest_role(v))
		json_object_set_new(settings, "node.ingest", json_boolean(ingest));
	/* https://www.elastic.co/guide/en/elasticsearch/reference/7.8/modules-node.html:
	 * each is true by default, where the node knows it. */
	if (xpack && es_version_at_least(v, 6, 3, 0))
		json_object_set_new(settings, "node.ml", json_false());
	if (es_version_at_least(v, 7, 7, 0)) {
		json_object_set_new(settings, "node.remote_cluster_client", json_false());
		if (xpack)
			json_object_set_new(settings, "node.transform", json_false());
	}
}

/* --- plugins ------------------------------------------------------------- */

const char *es_plugin_install_command(const struct es_version *v)
{
	if (v->major < 5)
		return "bin/plugin install";
	return "bin/elasticsearch-plugin install --batch";
}

char *es_plugin_url(const struct es_version *v, const char *repo, const char *plugin)
{
	size_t n = strlen(repo);
	char ver[ES_VERSION_BUFSIZE];

	while (n > 0 && repo[n - 1] == '/')
		n--;
	es_version_format(v, ver, sizeof(ver));
	return xasprintf("%.*s/%s-%s.zip", (int)n, repo, plugin, ver);
}

/* --- image and JVM ------------------------------------------------------- */

char *es_default_image(const struct es_version *v, const char *registry)
{
	char ver[ES_VERSION_BUFSIZE];
	size_t n;

	es_version_format(v, ver, sizeof(ver));
	if (!registry || !registry[0]) {
		if (v->major < 5)
			return xasprintf("elasticsearch:%s", ver);
		return xasprintf("docker.elastic.co/elasticsearch/elasticsearch:%s", ver);
	}
	n = strlen(registry);
	while (n > 0 && registry[n - 1] == '/')
		n--;
	if (v->major < 5)
		return xasprintf("%.*s/elasticsearch:%s", (int)n, registry, ver);
	return xasprintf("%.*s/elasticsearch/elasticsearch:%s", (int)n, registry, ver);
}

/* Kibana 4.6 is the one that speaks to Elasticsearch 2.4; from 5 the two
 * share their version numbers. */
#define KIBANA_FOR_2X "4.6.6"

char *es_kibana_image(const struct es_version *v, const char *registry)
{
	char ver[ES_VERSION_BUFSIZE];
	size_t n;

	es_version_format(v, ver, sizeof(ver));
	if (!registry || !registry[0]) {
		if (v->major < 5)
			return xstrdup("kibana:" KIBANA_FOR_2X);
		return xasprintf("docker.elastic.co/kibana/kibana:%s", ver);
	}
	n = strlen(registry);
	while (n > 0 && registry[n - 1] == '/')
		n--;
	if (v->major < 5)
		return xasprintf("%.*s/kibana:" KIBANA_FOR_2X, (int)n, registry);
	return xasprintf("%.*s/kibana/kibana:%s", (int)n, registry, ver);
}

const char *es_kibana_hosts_env(const struct es_version *v)
{
	return v->major >= 7 ? "ELASTICSEARCH_HOSTS" : "ELASTICSEARCH_URL";
}

bool es_security_on_by_default(const struct es_version *v)
{
	return v->major >= 8;
}

const char *es_heap_size_env(const struct es_version *v)
{
	if (v->major < 5)
		return "ES_HEAP_SIZE";
	return NULL;
}

/* --- upgrades ------------------------------------------------------------ */

/* The newest offered release of a major (es_offered_versions), or NULL:
 * the one to pass through on the way to the next major. */
static const char *offered_of_major(int major)
{
	struct es_version v, best = {0, 0, 0};
	const char *found = NULL;

	for (size_t i = 0; i < es_offered_versions_count; i++)
		if (es_version_parse(es_offered_versions[i], &v) && v.major == major &&
		    (!found || es_version_cmp(&v, &best) > 0)) {
			found = es_offered_versions[i];
			best = v;
		}
	return found;
}

/*
 * The last minor of each major, the one that talks to the next major's
 * nodes (GET /'s minimum_wire_compatibility_version of the next major;
 * https://www.elastic.co/guide/en/elasticsearch/reference/7.17/setup-upgrade.html,
 * .../8.17/setup-upgrade.html, .../6.8/setup-upgrade.html; for 9.x,
 * https://www.elastic.co/docs/deploy-manage/upgrade/prepare-to-upgrade:
 * "you must first upgrade to 8.19.x").
 */
static const struct {
	int major, minor;
} last_minor[] = {{5, 6}, {6, 8}, {7, 17}, {8, 19}};

static int last_minor_of(int major)
{
	for (size_t i = 0; i < ARRAY_SIZE(last_minor); i++)
		if (last_minor[i].major == major)
			return last_minor[i].minor;
	return -1;
}

static enum es_upgrade_way refuse_via(const char *release, char *via, char *why, size_t whylen,
				      const char *from, const char *to)
{
	snprintf(via, ES_VERSION_BUFSIZE, "%s", release ? release : "");
	snprintf(why, whylen,
		 "Elasticsearch cannot upgrade from %s to %s directly: upgrade to %s first, "
		 "then to %s",
		 from, to, release ? release : "an intermediate release", to);
	return ES_UPGRADE_REFUSED;
}

enum es_upgrade_way es_upgrade_way(const struct es_version *from, const struct es_version *to,
				   char *via, char *why, size_t whylen)
{
	char f[ES_VERSION_BUFSIZE], t[ES_VERSION_BUFSIZE];

	via[0] = '\0';
	es_version_format(from, f, sizeof(f));
	es_version_format(to, t, sizeof(t));
	int cmp = es_version_cmp(from, to);
	if (cmp == 0) {
		snprintf(why, whylen, "the cluster already runs Elasticsearch %s", t);
		return ES_UPGRADE_REFUSED;
	}
	if (cmp > 0) {
		snprintf(why, whylen,
			 "Elasticsearch %s is older than the cluster's %s: a node does not start "
			 "on a data path a newer version wrote, so there is no downgrade",
			 t, f);
		return ES_UPGRADE_REFUSED;
	}
	if (from->major == to->major)
		return ES_UPGRADE_ROLLING;
	/* 2.x to 5.x: no node of one talks to the other, every node stops
	 * (https://www.elastic.co/guide/en/elasticsearch/reference/5.6/setup-upgrade.html). */
	if (from->major == 2)
		return to->major == 5 ? ES_UPGRADE_FULL_RESTART
				      : refuse_via(offered_of_major(5), via, why, whylen, f, t);
	/* 8.18.0 and 9.0.0 came out together: 9.0.x is reached from 8.18 only,
	 * not from 8.19, which came later (its nodes are newer than 9.0's), and
	 * 8.18 reaches nothing later than 9.0
	 * (https://www.elastic.co/docs/deploy-manage/upgrade/prepare-to-upgrade,
	 * "upgrading to 9.1.0 or later requires starting from 8.19.x";
	 * elastic/docs-content#1685: "the only way to upgrade to 9.0 will
	 * still be from 8.18 (and not 8.19)"). */
	if (to->major == 9 && to->minor == 0 && from->major < 9) {
		if (from->major == 8 && from->minor == 18)
			return ES_UPGRADE_ROLLING;
		if (from->major == 8 && from->minor > 18)
			snprintf(why, whylen,
				 "Elasticsearch cannot upgrade from %s to %s: 9.0 came out before "
				 "8.19, whose nodes it cannot join; upgrade to 9.1 or later (%s is "
				 "offered)",
				 f, t, offered_of_major(9) ? offered_of_major(9) : "9.1.0");
		else
			snprintf(
				why, whylen,
				"Elasticsearch cannot upgrade from %s to %s directly: 9.0 upgrades "
				"from 8.18 only; upgrade to an 8.18 release first, or to %s and "
				"then "
				"to 9.1 or later",
				f, t, offered_of_major(8) ? offered_of_major(8) : "8.19");
		return ES_UPGRADE_REFUSED;
	}
	int last = last_minor_of(from->major);
	if (last < 0 || from->minor < last)
		return refuse_via(offered_of_major(from->major), via, why, whylen, f, t);
	if (to->major == from->major + 1)
		return ES_UPGRADE_ROLLING;
	return refuse_via(offered_of_major(from->major + 1), via, why, whylen, f, t);
}

const char *es_deprecations_path(const struct es_version *v, const char *image)
{
	if (!es_image_has_xpack(v, image))
		return NULL;
	return v->major >= 7 ? "/_migration/deprecations" : "/_xpack/migration/deprecations";
}

int es_oldest_readable_major(const struct es_version *v)
{
	return v->major == 5 ? 2 : v->major - 1;
}

int es_read_only_major(const struct es_version *v)
{
	return v->major >= 9 ? v->major - 2 : -1;
}

bool es_index_readable(const struct es_version *v, int created_major, bool write_blocked,
		       bool verified)
{
	if (created_major >= es_oldest_readable_major(v))
		return true;
	return created_major == es_read_only_major(v) && write_blocked && verified;
}

bool es_version_from_id(const char *id, struct es_version *out)
{
	char *end;
	long n;

	if (!id || !*id)
		return false;
	n = strtol(id, &end, 10);
	if (*end || n < 1000000 || n > 99999999)
		return false;
	out->major = (int)(n / 1000000);
	out->minor = (int)(n / 10000 % 100);
	out->patch = (int)(n / 100 % 100);
	return true;
}
