/* es/version.c: version parsing and every row of the version matrix. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "es/version.h"

static struct es_version v(const char *s)
{
	struct es_version out = {-1, -1, -1};

	if (!es_version_parse(s, &out))
		fail_msg("es_version_parse refused \"%s\"", s);
	return out;
}

/* --- parsing -------------------------------------------------------------- */

static void test_parse_accepts(void **state)
{
	struct es_version x;

	assert_true(es_version_parse("7.17.10", &x));
	assert_int_equal(x.major, 7);
	assert_int_equal(x.minor, 17);
	assert_int_equal(x.patch, 10);
	assert_true(es_version_parse("0.0.0", &x));
	assert_int_equal(x.major + x.minor + x.patch, 0);
	assert_true(es_version_parse("2.4.6", &x));
	assert_true(es_version_parse("8.17.0", &x));
	assert_int_equal(x.patch, 0);
	assert_true(es_version_parse("9999.9999.9999", &x));
	assert_int_equal(x.major, 9999);
}

static void test_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"",	    "7",	 "7.17",     "7.17.10.1", "v7.17.10",  "7.17.10-SNAPSHOT",
		"07.17.10", "7.017.10",	 "7.17.010", " 7.17.10",  "7.17.10 ",  "7..10",
		"7.17.",    ".17.10",	 "-7.17.10", "+7.17.10",  "7.17.1a",   "10000.0.0",
		"7,17,10",  "7.17.10\n", "7.-1.0",   "7.17.10.",  "seven.1.0", "7.1e1.0",
	};
	struct es_version x = {1, 2, 3};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (es_version_parse(bad[i], &x))
			fail_msg("es_version_parse accepted \"%s\"", bad[i]);
	}
	assert_false(es_version_parse(NULL, &x));
	/* A refused string leaves the output alone. */
	assert_int_equal(x.major, 1);
	assert_int_equal(x.minor, 2);
	assert_int_equal(x.patch, 3);
}

static void test_supported_majors(void **state)
{
	static const char *const yes[] = {"2.0.0",  "2.4.6",   "5.0.0",	  "5.6.16",
					  "6.8.23", "7.0.0",   "7.17.10", "8.0.0",
					  "8.17.0", "8.19.20", "9.0.0",	  "9.5.2"};
	static const char *const no[] = {"0.90.0", "1.7.6", "3.0.0", "4.0.0", "10.0.0", "10.1.2"};
	char why[200];

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		struct es_version x = v(yes[i]);
		if (!es_version_supported(&x, why, sizeof(why)))
			fail_msg("%s refused: %s", yes[i], why);
	}
	for (size_t i = 0; i < ARRAY_SIZE(no); i++) {
		struct es_version x = v(no[i]);
		why[0] = '\0';
		if (es_version_supported(&x, why, sizeof(why)))
			fail_msg("%s accepted", no[i]);
		/* The message names the version and what is supported. */
		assert_non_null(strstr(why, no[i]));
		assert_non_null(strstr(why, "2, 5, 6, 7, 8 and 9"));
	}
}

static void test_format_and_compare(void **state)
{
	struct es_version a = v("7.8.0"), b = v("7.17.10"), c = v("8.0.0");
	char buf[ES_VERSION_BUFSIZE];

	es_version_format(&b, buf, sizeof(buf));
	assert_string_equal(buf, "7.17.10");
	/* Numeric, not lexical: 7.8 < 7.17. */
	assert_true(es_version_cmp(&a, &b) < 0);
	assert_true(es_version_cmp(&b, &c) < 0);
	assert_true(es_version_cmp(&c, &a) > 0);
	assert_int_equal(es_version_cmp(&b, &b), 0);
	assert_true(es_version_at_least(&b, 7, 17, 10));
	assert_false(es_version_at_least(&b, 7, 17, 11));
	assert_true(es_version_at_least(&b, 7, 9, 0));
	assert_false(es_version_at_least(&a, 7, 9, 0));
}

/* --- the matrix, one row of PROCEDURES.md per field ------------------------ */

struct row {
	const char *version;
	const char *discovery_key;
	enum es_coordination coordination;
	const char *flush_path;
	bool flush_conflict_ok;
	enum es_roles_style roles;
	bool ingest;
	const char *plugin_command;
	bool node_shutdown;
	const char *image;
	bool security_on;
	const char *heap_env;
	bool transient_deprecated;
};

#define ZEN1_HOSTS "discovery.zen.ping.unicast.hosts"
#define SEED_HOSTS "discovery.seed_hosts"
#define OLD_PLUGIN "bin/plugin install"
#define NEW_PLUGIN "bin/elasticsearch-plugin install --batch"
#define ELASTIC "docker.elastic.co/elasticsearch/elasticsearch:"

static const struct row rows[] = {
	{"2.4.6", ZEN1_HOSTS, ES_ZEN1, "/_flush/synced", true, ES_ROLES_FLAGS, false, OLD_PLUGIN,
	 false, "elasticsearch:2.4.6", false, "ES_HEAP_SIZE", false},
	{"5.6.16", ZEN1_HOSTS, ES_ZEN1, "/_flush/synced", true, ES_ROLES_FLAGS, true, NEW_PLUGIN,
	 false, ELASTIC "5.6.16", false, NULL, false},
	{"6.8.23", ZEN1_HOSTS, ES_ZEN1, "/_flush/synced", true, ES_ROLES_FLAGS, true, NEW_PLUGIN,
	 false, ELASTIC "6.8.23", false, NULL, false},
	{"7.0.0", SEED_HOSTS, ES_ZEN2, "/_flush/synced", true, ES_ROLES_FLAGS, true, NEW_PLUGIN,
	 false, ELASTIC "7.0.0", false, NULL, false},
	{"7.8.1", SEED_HOSTS, ES_ZEN2, "/_flush/synced", true, ES_ROLES_FLAGS, true, NEW_PLUGIN,
	 false, ELASTIC "7.8.1", false, NULL, false},
	{"7.9.0", SEED_HOSTS, ES_ZEN2, "/_flush/synced", true, ES_ROLES_LIST, true, NEW_PLUGIN,
	 false, ELASTIC "7.9.0", false, NULL, false},
	{"7.13.0", SEED_HOSTS, ES_ZEN2, "/_flush/synced", true, ES_ROLES_LIST, true, NEW_PLUGIN,
	 true, ELASTIC "7.13.0", false, NULL, false},
	{"7.16.0", SEED_HOSTS, ES_ZEN2, "/_flush/synced", true, ES_ROLES_LIST, true, NEW_PLUGIN,
	 true, ELASTIC "7.16.0", false, NULL, true},
	{"7.17.10", SEED_HOSTS, ES_ZEN2, "/_flush/synced", true, ES_ROLES_LIST, true, NEW_PLUGIN,
	 true, ELASTIC "7.17.10", false, NULL, true},
	{"8.0.0", SEED_HOSTS, ES_ZEN2, "/_flush", false, ES_ROLES_LIST, true, NEW_PLUGIN, true,
	 ELASTIC "8.0.0", true, NULL, true},
	{"8.17.0", SEED_HOSTS, ES_ZEN2, "/_flush", false, ES_ROLES_LIST, true, NEW_PLUGIN, true,
	 ELASTIC "8.17.0", true, NULL, true},
	{"8.19.20", SEED_HOSTS, ES_ZEN2, "/_flush", false, ES_ROLES_LIST, true, NEW_PLUGIN, true,
	 ELASTIC "8.19.20", true, NULL, true},
	/* 9.x as 8.x: security on by default, node.roles, the same image path. */
	{"9.5.2", SEED_HOSTS, ES_ZEN2, "/_flush", false, ES_ROLES_LIST, true, NEW_PLUGIN, true,
	 ELASTIC "9.5.2", true, NULL, true},
};

static void expect_str(const char *ver, const char *what, const char *got, const char *want)
{
	if ((got == NULL) != (want == NULL) || (got && strcmp(got, want) != 0))
		fail_msg("%s: %s is \"%s\", want \"%s\"", ver, what, got ? got : "(null)",
			 want ? want : "(null)");
}

static void expect_int(const char *ver, const char *what, int got, int want)
{
	if (got != want)
		fail_msg("%s: %s is %d, want %d", ver, what, got, want);
}

static void test_matrix_rows(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		const struct row *r = &rows[i];
		const char *ver = r->version;
		struct es_version x = v(ver);
		char *image = es_default_image(&x, NULL);

		expect_str(ver, "discovery key", es_discovery_hosts_key(&x), r->discovery_key);
		expect_int(ver, "coordination", es_coordination(&x), r->coordination);
		expect_str(ver, "flush path", es_flush_path(&x), r->flush_path);
		expect_int(ver, "flush 409 ok", es_flush_conflict_ok(&x), r->flush_conflict_ok);
		expect_int(ver, "roles style", es_roles_style(&x), r->roles);
		expect_int(ver, "ingest role", es_has_ingest_role(&x), r->ingest);
		expect_str(ver, "plugin command", es_plugin_install_command(&x), r->plugin_command);
		expect_int(ver, "node shutdown", es_has_node_shutdown(&x), r->node_shutdown);
		expect_str(ver, "image", image, r->image);
		expect_int(ver, "security on", es_security_on_by_default(&x), r->security_on);
		expect_str(ver, "heap env", es_heap_size_env(&x), r->heap_env);
		/* Persistent on every version; transient deprecated from 7.16. */
		expect_str(ver, "settings scope", es_settings_scope(&x), "persistent");
		expect_int(ver, "transient deprecated", es_transient_settings_deprecated(&x),
			   r->transient_deprecated);
		/* zen2 has voting exclusions to clear; zen1 does not. */
		expect_str(ver, "clear exclusions", es_voting_exclusions_clear_path(&x),
			   r->coordination == ES_ZEN2 ? "/_cluster/voting_config_exclusions"
						      : NULL);
		free(image);
	}
}

static void test_minimum_master_nodes(void **state)
{
	assert_int_equal(es_minimum_master_nodes(1), 1);
	assert_int_equal(es_minimum_master_nodes(2), 2);
	assert_int_equal(es_minimum_master_nodes(3), 2);
	assert_int_equal(es_minimum_master_nodes(5), 3);
	assert_int_equal(es_minimum_master_nodes(7), 4);
	assert_string_equal(ES_MINIMUM_MASTER_NODES_KEY, "discovery.zen.minimum_master_nodes");
	assert_string_equal(ES_INITIAL_MASTER_NODES_KEY, "cluster.initial_master_nodes");
}

static void test_voting_exclusions_path_forms(void **state)
{
	const char *one[] = {"es-master-abc-es-acme-logs"};
	const char *two[] = {"a", "b"};
	struct es_version x;
	char *p;

	/* zen1: none, lower minimum_master_nodes instead. */
	for (size_t i = 0; i < 3; i++) {
		static const char *const zen1[] = {"2.4.6", "5.6.16", "6.8.23"};
		x = v(zen1[i]);
		assert_null(es_voting_exclusions_path(&x, one, 1));
	}
	/* 7.0-7.7: the name in the path. */
	x = v("7.0.0");
	p = es_voting_exclusions_path(&x, one, 1);
	assert_string_equal(p, "/_cluster/voting_config_exclusions/es-master-abc-es-acme-logs");
	free(p);
	x = v("7.7.1");
	p = es_voting_exclusions_path(&x, two, 2);
	assert_string_equal(p, "/_cluster/voting_config_exclusions/a,b");
	free(p);
	/* 7.8+ and 8.x: ?node_names=. */
	x = v("7.8.0");
	p = es_voting_exclusions_path(&x, one, 1);
	assert_string_equal(
		p, "/_cluster/voting_config_exclusions?node_names=es-master-abc-es-acme-logs");
	free(p);
	x = v("8.17.0");
	p = es_voting_exclusions_path(&x, two, 2);
	assert_string_equal(p, "/_cluster/voting_config_exclusions?node_names=a,b");
	free(p);
}

static void test_voting_exclusions_refuses_and_encodes(void **state)
{
	struct es_version x = v("7.17.10");
	const char *odd[] = {"node 1/é"};
	const char *comma[] = {"a,b"};
	const char *empty[] = {""};
	char *p;

	p = es_voting_exclusions_path(&x, odd, 1);
	assert_string_equal(p, "/_cluster/voting_config_exclusions?node_names=node%201%2F%C3%A9");
	free(p);
	assert_null(es_voting_exclusions_path(&x, comma, 1));
	assert_null(es_voting_exclusions_path(&x, empty, 1));
	assert_null(es_voting_exclusions_path(&x, NULL, 0));
}

static void test_node_shutdown_thresholds(void **state)
{
	struct es_version x;

	x = v("7.12.1");
	assert_false(es_has_node_shutdown(&x));
	x = v("7.13.0");
	assert_true(es_has_node_shutdown(&x));
	assert_false(es_prefers_node_shutdown(&x));
	x = v("7.15.1");
	assert_false(es_prefers_node_shutdown(&x));
	x = v("7.15.2");
	assert_true(es_prefers_node_shutdown(&x));
	x = v("8.0.0");
	assert_true(es_prefers_node_shutdown(&x));
	x = v("6.8.23");
	assert_false(es_has_node_shutdown(&x));
	assert_false(es_prefers_node_shutdown(&x));
}

/* The settings a role's elasticsearch.yml gets with the default image, as
 * JSON text. */
static char *role_settings(const char *version, enum es_role role)
{
	struct es_version x = v(version);
	json_t *s = json_object();
	char *text;
	char *image = es_default_image(&x, NULL);

	es_role_settings(&x, role, es_image_has_xpack(&x, image), s);
	free(image);
	text = json_dumps(s, JSON_COMPACT);
	json_decref(s);
	return text;
}

static void check_roles(const char *version, enum es_role role, const char *want)
{
	char *got = role_settings(version, role);

	if (strcmp(got, want) != 0)
		fail_msg("%s %s: got %s, want %s", version, es_role_name(role), got, want);
	free(got);
}

static void test_role_settings(void **state)
{
	/* 2.x: node.master and node.data only. */
	check_roles("2.4.6", ES_ROLE_MASTER, "{\"node.master\":true,\"node.data\":false}");
	check_roles("2.4.6", ES_ROLE_DATA, "{\"node.master\":false,\"node.data\":true}");
	check_roles("2.4.6", ES_ROLE_CLIENT, "{\"node.master\":false,\"node.data\":false}");
	/* 5.x to 7.8: + node.ingest; + node.ml off from 6.3 (X-Pack in the
	 * default image); + node.remote_cluster_client and node.transform off
	 * from 7.7: each is on unless said otherwise (7.8's modules-node). */
	check_roles("5.6.16", ES_ROLE_MASTER,
		    "{\"node.master\":true,\"node.data\":false,\"node.ingest\":false}");
	check_roles("6.2.4", ES_ROLE_MASTER,
		    "{\"node.master\":true,\"node.data\":false,\"node.ingest\":false}");
	check_roles("6.8.23", ES_ROLE_MASTER,
		    "{\"node.master\":true,\"node.data\":false,\"node.ingest\":false,"
		    "\"node.ml\":false}");
	check_roles("6.8.23", ES_ROLE_DATA,
		    "{\"node.master\":false,\"node.data\":true,\"node.ingest\":true,"
		    "\"node.ml\":false}");
	check_roles("7.8.1", ES_ROLE_CLIENT,
		    "{\"node.master\":false,\"node.data\":false,\"node.ingest\":true,"
		    "\"node.ml\":false,\"node.remote_cluster_client\":false,"
		    "\"node.transform\":false}");
	/* An -oss image knows neither node.ml nor node.transform. */
	{
		struct es_version x = v("7.8.1");
		json_t *s = json_object();
		char *text;

		assert_false(es_image_has_xpack(
			&x, "docker.elastic.co/elasticsearch/elasticsearch-oss:7.8.1"));
		assert_true(es_image_has_xpack(&x, NULL));
		es_role_settings(&x, ES_ROLE_MASTER, false, s);
		text = json_dumps(s, JSON_COMPACT);
		assert_string_equal(text,
				    "{\"node.master\":true,\"node.data\":false,"
				    "\"node.ingest\":false,\"node.remote_cluster_client\":false}");
		free(text);
		json_decref(s);
	}
	/* 7.9+ and 8.x: node.roles, which names every role the node has. */
	check_roles("7.9.0", ES_ROLE_MASTER, "{\"node.roles\":[\"master\"]}");
	check_roles("7.17.10", ES_ROLE_DATA, "{\"node.roles\":[\"data\",\"ingest\"]}");
	check_roles("8.17.0", ES_ROLE_CLIENT, "{\"node.roles\":[\"ingest\"]}");
	assert_string_equal(es_role_name(ES_ROLE_MASTER), "master");
	assert_string_equal(es_role_name(ES_ROLE_DATA), "data");
	assert_string_equal(es_role_name(ES_ROLE_CLIENT), "client");
}

static void test_plugin_url_carries_version(void **state)
{
	struct es_version x = v("7.17.10");
	struct es_version old = v("2.4.6");
	char *u;

	u = es_plugin_url(&x, "http://plugins.local/es", "analysis-icu");
	assert_string_equal(u, "http://plugins.local/es/analysis-icu-7.17.10.zip");
	free(u);
	/* A trailing slash is not doubled. */
	u = es_plugin_url(&old, "http://plugins.local/es//", "analysis-icu");
	assert_string_equal(u, "http://plugins.local/es/analysis-icu-2.4.6.zip");
	free(u);
}

static void test_image_registry_override(void **state)
{
	struct es_version x = v("7.17.10");
	struct es_version old = v("2.4.6");
	char *img;

	img = es_default_image(&x, "registry.local:5000/");
	assert_string_equal(img, "registry.local:5000/elasticsearch/elasticsearch:7.17.10");
	free(img);
	img = es_default_image(&old, "registry.local:5000");
	assert_string_equal(img, "registry.local:5000/elasticsearch:2.4.6");
	free(img);
	img = es_default_image(&x, "");
	assert_string_equal(img, ELASTIC "7.17.10");
	free(img);
}

/* The upgrade paths as Elasticsearch allows them, and the release a path
 * that is too long goes through first. */
static enum es_upgrade_way way(const char *from, const char *to, char *via)
{
	struct es_version f, t;
	char why[256];

	assert_true(es_version_parse(from, &f));
	assert_true(es_version_parse(to, &t));
	enum es_upgrade_way w = es_upgrade_way(&f, &t, via, why, sizeof(why));
	assert_true(w != ES_UPGRADE_REFUSED || why[0]);
	return w;
}

static void test_upgrade_paths_as_elasticsearch_allows(void **state)
{
	char via[ES_VERSION_BUFSIZE];
	(void)state;

	assert_int_equal(way("7.16.3", "7.17.10", via), ES_UPGRADE_ROLLING);
	assert_int_equal(way("5.6.16", "6.8.23", via), ES_UPGRADE_ROLLING);
	assert_int_equal(way("6.8.23", "7.17.10", via), ES_UPGRADE_ROLLING);
	assert_int_equal(way("7.17.10", "8.17.0", via), ES_UPGRADE_ROLLING);
	assert_int_equal(way("2.4.6", "5.6.16", via), ES_UPGRADE_FULL_RESTART);
	assert_string_equal(via, "");

	assert_int_equal(way("6.8.23", "8.17.0", via), ES_UPGRADE_REFUSED);
	assert_string_equal(via, "7.17.10");
	assert_int_equal(way("7.10.2", "8.17.0", via), ES_UPGRADE_REFUSED);
	assert_string_equal(via, "7.17.10");
	assert_int_equal(way("6.5.4", "7.17.10", via), ES_UPGRADE_REFUSED);
	assert_string_equal(via, "6.8.23");
	assert_int_equal(way("5.6.16", "7.17.10", via), ES_UPGRADE_REFUSED);
	assert_string_equal(via, "6.8.23");
	assert_int_equal(way("2.4.6", "6.8.23", via), ES_UPGRADE_REFUSED);
	assert_string_equal(via, "5.6.16");

	/* 9.x from the last 8.x minor only; 8.18 reaches 9.0.x and nothing
	 * later; older 8.x, and 7.17, pass through the offered 8.19. */
	assert_int_equal(way("8.19.20", "9.5.2", via), ES_UPGRADE_ROLLING);
	assert_int_equal(way("8.19.20", "9.1.0", via), ES_UPGRADE_ROLLING);
	assert_int_equal(way("8.18.3", "9.0.8", via), ES_UPGRADE_ROLLING);
	assert_int_equal(way("9.0.8", "9.5.2", via), ES_UPGRADE_ROLLING);
	assert_int_equal(way("8.17.0", "8.19.20", via), ES_UPGRADE_ROLLING);
	assert_int_equal(way("7.17.10", "8.19.20", via), ES_UPGRADE_ROLLING);
	assert_string_equal(via, "");
	assert_int_equal(way("8.18.3", "9.5.2", via), ES_UPGRADE_REFUSED);
	assert_string_equal(via, "8.19.20");
	assert_int_equal(way("8.17.0", "9.5.2", via), ES_UPGRADE_REFUSED);
	assert_string_equal(via, "8.19.20");
	assert_int_equal(way("7.17.10", "9.5.2", via), ES_UPGRADE_REFUSED);
	assert_string_equal(via, "8.19.20");
	assert_int_equal(way("6.8.23", "9.5.2", via), ES_UPGRADE_REFUSED);
	assert_string_equal(via, "7.17.10");
	/* 9.0 came out with 8.18, before 8.19: 8.19 cannot go back to it, and
	 * nothing older reaches it but through 8.18. */
	{
		struct es_version f = v("8.19.20"), t = v("9.0.8");
		char why[256];
		assert_int_equal(es_upgrade_way(&f, &t, via, why, sizeof(why)), ES_UPGRADE_REFUSED);
		assert_non_null(strstr(why, "upgrade to 9.1 or later (9.5.2 is offered)"));
		f = v("8.17.0");
		assert_int_equal(es_upgrade_way(&f, &t, via, why, sizeof(why)), ES_UPGRADE_REFUSED);
		assert_non_null(strstr(why, "upgrade to an 8.18 release first"));
		f = v("7.17.10");
		assert_int_equal(es_upgrade_way(&f, &t, via, why, sizeof(why)), ES_UPGRADE_REFUSED);
		assert_non_null(strstr(why, "9.0 upgrades from 8.18 only"));
	}
	{
		struct es_version f = v("8.17.0"), t = v("9.5.2");
		char why[256];
		assert_int_equal(es_upgrade_way(&f, &t, via, why, sizeof(why)), ES_UPGRADE_REFUSED);
		assert_non_null(strstr(why, "upgrade to 8.19.20 first, then to 9.5.2"));
	}

	/* No downgrade, and nothing to do for the same version. */
	assert_int_equal(way("7.17.10", "7.16.3", via), ES_UPGRADE_REFUSED);
	assert_string_equal(via, "");
	assert_int_equal(way("7.17.10", "7.17.10", via), ES_UPGRADE_REFUSED);
}

static void test_index_compatibility(void **state)
{
	struct es_version v;
	(void)state;

	assert_true(es_version_from_id("7171099", &v));
	assert_int_equal(v.major, 7);
	assert_int_equal(v.minor, 17);
	assert_int_equal(v.patch, 10);
	assert_true(es_version_from_id("6082399", &v));
	assert_int_equal(es_oldest_readable_major(&(struct es_version){8, 17, 0}), 7);
	assert_true(v.major < es_oldest_readable_major(&(struct es_version){8, 17, 0}));
	assert_int_equal(es_oldest_readable_major(&(struct es_version){5, 6, 16}), 2);
	/* 9.x reads 8.x indices, and 7.x ones only once blocked and verified
	 * read-only; nothing older. */
	struct es_version nine = {9, 2, 2}, eight = {8, 19, 8};
	assert_int_equal(es_oldest_readable_major(&nine), 8);
	assert_int_equal(es_read_only_major(&nine), 7);
	assert_int_equal(es_read_only_major(&eight), -1);
	assert_true(es_index_readable(&nine, 8, false, false));
	assert_true(es_index_readable(&nine, 7, true, true));
	assert_false(es_index_readable(&nine, 7, false, false));
	assert_false(es_index_readable(&nine, 7, true, false));
	assert_false(es_index_readable(&nine, 7, false, true));
	assert_false(es_index_readable(&nine, 6, true, true));
	/* Before 9.x the block changes nothing. */
	assert_false(es_index_readable(&eight, 6, true, true));
	assert_true(es_index_readable(&eight, 7, false, false));
	assert_false(es_version_from_id("", &v));
	assert_false(es_version_from_id("7.17.10", &v));
	assert_false(es_version_from_id("12", &v));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_accepts),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_supported_majors),
		cmocka_unit_test(test_format_and_compare),
		cmocka_unit_test(test_matrix_rows),
		cmocka_unit_test(test_minimum_master_nodes),
		cmocka_unit_test(test_voting_exclusions_path_forms),
		cmocka_unit_test(test_voting_exclusions_refuses_and_encodes),
		cmocka_unit_test(test_node_shutdown_thresholds),
		cmocka_unit_test(test_role_settings),
		cmocka_unit_test(test_plugin_url_carries_version),
		cmocka_unit_test(test_image_registry_override),
		cmocka_unit_test(test_upgrade_paths_as_elasticsearch_allows),
		cmocka_unit_test(test_index_compatibility),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
