/*
 * Configuration: one table of keys drives the defaults, the YAML file and
 * the ESAAS_* environment, so that a key is checked the same way wherever
 * it comes from.
 *
 * The file is read with libyaml's event API rather than its document API:
 * events keep the position of every key and value for error messages, show
 * anchors and aliases (which we refuse) instead of resolving them, and let
 * us stop at the first node that is out of place without building a tree.
 *
 * Typing rules, the same in every section:
 *  - an integer is a plain (unquoted) scalar: "5" in quotes is a string, and
 *    an integer key refuses it rather than guess what was meant;
 *  - a string is any scalar, quoted or not;
 *  - a boolean is true or false, unquoted like an integer;
 *  - a section left empty ("engine:" with every key commented out) is null
 *    in YAML and means "all defaults";
 *  - log.file empty or null means stderr; other strings must not be empty;
 *  - explicit tags (!!int, !!str) are refused: they add nothing here.
 */
#include <stddef.h>

#include "common/config.h"
#include "common/token.h"
#include "common/util.h"
#include "kube/spec.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

enum key_type {
	KEY_INT,
	KEY_STRING,	/* must not be empty */
	KEY_OPT_STRING, /* empty or null: NULL */
	KEY_LISTEN,	/* host:port */
	KEY_LOG_LEVEL,
	KEY_LOG_FORMAT,
	KEY_BOOL, /* true or false */
};

struct key {
	const char *path; /* "section.name", or "name" at the top level */
	enum key_type type;
	size_t offset;	 /* of the field in struct config */
	int min, max;	 /* KEY_INT only, both inclusive */
	const char *def; /* the default, written as in the file */
};

#define FIELD(f) offsetof(struct config, f)

/*
 * Where `make install` puts the job viewer's files: the build passes it;
 * builds of their own (fuzz/) fall back on the usual prefix.
 */
/*
 * elasticsearch.security when the file and the environment leave it out:
 * on wherever esaasd can reach a secured cluster, that is with
 * elasticsearch.url (check_values()); this literal is only the value the
 * key has until then.
 */
#define ES_SECURITY_DEFAULT "false"

#ifndef ESAAS_UI_DIR
#define ESAAS_UI_DIR "/usr/local/share/esaas/ui"
#endif

static const struct key keys[] = {
	{"listen", KEY_LISTEN, FIELD(listen), 0, 0, "127.0.0.1:8080"},

	{"database.url", KEY_STRING, FIELD(database_url), 0, 0, "dbname=esaas"},
	{"database.pool_size", KEY_INT, FIELD(db_pool_size), 1, 64, "4"},
	{"database.api_pool_size", KEY_INT, FIELD(db_api_pool_size), 1, 64, "2"},
	{"database.startup_timeout_seconds", KEY_INT, FIELD(db_startup_timeout_s), 1, 3600, "60"},

	{"engine.workers", KEY_INT, FIELD(workers), 1, 10000, "64"},
	{"engine.lease_seconds", KEY_INT, FIELD(lease_s), 2, 3600, "30"},
	{"engine.heartbeat_seconds", KEY_INT, FIELD(heartbeat_s), 1, 3600, "10"},
	{"engine.poll_seconds", KEY_INT, FIELD(poll_s), 1, 3600, "5"},
	{"engine.shutdown_grace_seconds", KEY_INT, FIELD(shutdown_grace_s), 0, 3600, "20"},
	{"engine.deadline_percent", KEY_INT, FIELD(deadline_percent), 1, 10000, "100"},
	{"engine.wait_poll_ms", KEY_INT, FIELD(wait_poll_ms), 10, 60000, "2000"},
	{"engine.events_retention_days", KEY_INT, FIELD(events_retention_days), 0, 36500, "90"},
	{"engine.events_prune_interval_seconds", KEY_INT, FIELD(events_prune_interval_s), 1, 86400,
	 "3600"},
	{"engine.events_prune_batch", KEY_INT, FIELD(events_prune_batch), 10, 100000, "1000"},
	{"engine.detail_max_bytes", KEY_INT, FIELD(detail_max_bytes), 512, 1048576, "8192"},

	{"retry.base_ms", KEY_INT, FIELD(retry_base_ms), 1, 3600000, "500"},
	{"retry.cap_ms", KEY_INT, FIELD(retry_cap_ms), 1, 86400000, "60000"},
	{"retry.max_attempts", KEY_INT, FIELD(retry_max_attempts), 1, 1000, "5"},

	{"log.level", KEY_LOG_LEVEL, FIELD(log_level), 0, 0, "info"},
	{"log.format", KEY_LOG_FORMAT, FIELD(log_format), 0, 0, "text"},
	{"log.file", KEY_OPT_STRING, FIELD(log_file), 0, 0, NULL},

	{"http.max_body_bytes", KEY_INT, FIELD(http_max_body_bytes), 1024, 1073741824, "1048576"},
	{"http.max_header_bytes", KEY_INT, FIELD(http_max_header_bytes), 1024, 1048576, "16384"},
	{"http.request_timeout_seconds", KEY_INT, FIELD(http_timeout_s), 1, 3600, "30"},
	{"http.ui_dir", KEY_STRING, FIELD(http_ui_dir), 0, 0, ESAAS_UI_DIR},
	{"http.max_connections", KEY_INT, FIELD(http_max_connections), 1, 1000000, "1024"},
	{"http.db_queue_limit", KEY_INT, FIELD(http_db_queue_limit), 1, 1000000, "128"},

	{"kubernetes.kubeconfig", KEY_OPT_STRING, FIELD(kube_kubeconfig), 0, 0, NULL},
	{"kubernetes.context", KEY_OPT_STRING, FIELD(kube_context), 0, 0, NULL},
	{"kubernetes.image_registry", KEY_OPT_STRING, FIELD(kube_image_registry), 0, 0, NULL},
	{"kubernetes.plugin_repository", KEY_STRING, FIELD(kube_plugin_repository), 0, 0,
	 "http://esaas-plugins.esaas-system.svc:8080"},
	{"kubernetes.unschedulable_timeout_seconds", KEY_INT, FIELD(kube_unschedulable_timeout_s),
	 1, 86400, "300"},
	{"kubernetes.apply_concurrency", KEY_INT, FIELD(kube_apply_concurrency), 1, 32, "8"},
	{"kubernetes.image_pull_timeout_seconds", KEY_INT, FIELD(kube_image_pull_timeout_s), 1,
	 86400, "300"},
	{"kubernetes.rack_label", KEY_STRING, FIELD(kube_rack_label), 0, 0,
	 "topology.esaas.io/rack"},
	{"kubernetes.allowed_images", KEY_OPT_STRING, FIELD(kube_allowed_images), 0, 0, NULL},
	{"kubernetes.utility_image", KEY_STRING, FIELD(kube_utility_image), 0, 0, "busybox:1.36.1"},
	{"kubernetes.tune_hosts", KEY_BOOL, FIELD(kube_tune_hosts), 0, 0, "false"},
	{"kubernetes.api_server_cidrs", KEY_OPT_STRING, FIELD(kube_api_server_cidrs), 0, 0, NULL},
	{"kubernetes.esaasd_namespace", KEY_OPT_STRING, FIELD(kube_esaasd_namespace), 0, 0, NULL},
	{"kubernetes.watch", KEY_BOOL, FIELD(kube_watch), 0, 0, "true"},

	{"elasticsearch.url", KEY_OPT_STRING, FIELD(es_url_template), 0, 0, NULL},
	{"elasticsearch.security", KEY_BOOL, FIELD(es_security), 0, 0, ES_SECURITY_DEFAULT},
	{"elasticsearch.connect_to", KEY_OPT_STRING, FIELD(es_connect_to), 0, 0, NULL},

	{"snapshots.nfs_server", KEY_OPT_STRING, FIELD(snapshots_nfs_server), 0, 0, NULL},
	{"snapshots.nfs_path", KEY_OPT_STRING, FIELD(snapshots_nfs_path), 0, 0, NULL},
	{"snapshots.s3_bucket", KEY_OPT_STRING, FIELD(snapshots_s3_bucket), 0, 0, NULL},
	{"snapshots.s3_endpoint", KEY_OPT_STRING, FIELD(snapshots_s3_endpoint), 0, 0, NULL},
	{"snapshots.s3_path_style_access", KEY_BOOL, FIELD(snapshots_s3_path_style), 0, 0, "false"},
	{"snapshots.s3_base_path", KEY_STRING, FIELD(snapshots_s3_base_path), 0, 0, "esaas"},
	{"snapshots.s3_credentials_dir", KEY_OPT_STRING, FIELD(snapshots_s3_credentials_dir), 0, 0,
	 NULL},
	{"snapshots.schedule_interval_seconds", KEY_INT, FIELD(snapshots_schedule_interval_s), 1,
	 86400, "60"},

	{"monitor.enabled", KEY_BOOL, FIELD(monitor_enabled), 0, 0, "true"},
	{"monitor.interval_seconds", KEY_INT, FIELD(monitor_interval_s), 1, 86400, "10"},
	{"monitor.jitter_percent", KEY_INT, FIELD(monitor_jitter_percent), 0, 50, "10"},
	{"monitor.concurrency", KEY_INT, FIELD(monitor_concurrency), 1, 10000, "64"},
	{"monitor.timeout_ms", KEY_INT, FIELD(monitor_timeout_ms), 100, 600000, "5000"},
	{"monitor.lease_seconds", KEY_INT, FIELD(monitor_lease_s), 2, 3600, "30"},

	{"webhook.url", KEY_OPT_STRING, FIELD(webhook_url), 0, 0, NULL},
	{"webhook.bearer_token", KEY_OPT_STRING, FIELD(webhook_bearer_token), 0, 0, NULL},
	{"webhook.esaasd_url", KEY_OPT_STRING, FIELD(webhook_esaasd_url), 0, 0, NULL},
	{"webhook.job_failed", KEY_BOOL, FIELD(webhook_job_failed), 0, 0, "true"},
	{"webhook.cluster_health_changed", KEY_BOOL, FIELD(webhook_health_changed), 0, 0, "true"},
	{"webhook.timeout_ms", KEY_INT, FIELD(webhook_timeout_ms), 100, 600000, "5000"},
	{"webhook.max_attempts", KEY_INT, FIELD(webhook_max_attempts), 1, 100, "5"},
	{"webhook.backoff_base_ms", KEY_INT, FIELD(webhook_backoff_base_ms), 1, 3600000, "1000"},
	{"webhook.backoff_cap_ms", KEY_INT, FIELD(webhook_backoff_cap_ms), 1, 86400000, "60000"},
	{"webhook.queue_limit", KEY_INT, FIELD(webhook_queue_limit), 1, 1000000, "1000"},
	{"webhook.max_body_bytes", KEY_INT, FIELD(webhook_max_body_bytes), 1024, 16777216, "65536"},

	{"oidc.issuer", KEY_OPT_STRING, FIELD(oidc_issuer), 0, 0, NULL},
	{"oidc.audience", KEY_OPT_STRING, FIELD(oidc_audience), 0, 0, NULL},
	{"oidc.jwks_url", KEY_OPT_STRING, FIELD(oidc_jwks_url), 0, 0, NULL},
	{"oidc.tenant_claim", KEY_STRING, FIELD(oidc_tenant_claim), 0, 0, "esaas_tenant"},
	{"oidc.role_claim", KEY_STRING, FIELD(oidc_role_claim), 0, 0, "esaas_role"},
	{"oidc.leeway_seconds", KEY_INT, FIELD(oidc_leeway_s), 0, 600, "60"},
	{"oidc.refresh_min_seconds", KEY_INT, FIELD(oidc_refresh_min_s), 1, 86400, "60"},
	{"oidc.refresh_seconds", KEY_INT, FIELD(oidc_refresh_s), 60, 604800, "3600"},
	{"oidc.allow_insecure_jwks", KEY_BOOL, FIELD(oidc_allow_insecure_jwks), 0, 0, "false"},
	{"oidc.role_map", KEY_OPT_STRING, FIELD(oidc_role_map), 0, 0, NULL},
	{"oidc.client_id", KEY_OPT_STRING, FIELD(oidc_client_id), 0, 0, NULL},

	{"metrics.listen", KEY_LISTEN, FIELD(metrics_listen), 0, 0, "127.0.0.1:9464"},

	{"tls.cert_file", KEY_OPT_STRING, FIELD(tls_cert_file), 0, 0, NULL},
	{"tls.key_file", KEY_OPT_STRING, FIELD(tls_key_file), 0, 0, NULL},
	{"tls.reload_check_seconds", KEY_INT, FIELD(tls_reload_check_s), 0, 86400, "60"},

	{"auth.platform_tenants", KEY_STRING, FIELD(auth_platform_tenants), 0, 0, "default"},
	{"auth.failures_max", KEY_INT, FIELD(auth_failures_max), 1, 1000000, "20"},
	{"auth.failures_window_seconds", KEY_INT, FIELD(auth_failures_window_s), 1, 86400, "60"},
};

#define NKEYS ARRAY_SIZE(keys)

/* Checks between two keys, made once the file and the environment are in. */
enum rule_kind {
	RULE_LESS_THAN, /* path < other */
	RULE_AT_LEAST,	/* path >= other */
};

struct rule {
	const char *path;
	enum rule_kind kind;
	const char *other;
};

static const struct rule rules[] = {
	/* A heartbeat must land before the lease it renews runs out. */
	{"engine.heartbeat_seconds", RULE_LESS_THAN, "engine.lease_seconds"},
	{"retry.cap_ms", RULE_AT_LEAST, "retry.base_ms"},
	{"webhook.backoff_cap_ms", RULE_AT_LEAST, "webhook.backoff_base_ms"},
	/* A scheduled refresh no more often than an unknown kid may cause one. */
	{"oidc.refresh_seconds", RULE_AT_LEAST, "oidc.refresh_min_seconds"},
};

enum origin_kind {
	FROM_DEFAULT,
	FROM_FILE,
	FROM_ENV
};

struct origin {
	enum origin_kind from;
	yaml_mark_t key_mark;
	yaml_mark_t value_mark;
};

struct loader {
	struct config *cfg;
	const char *file;
	const unsigned char *text; /* the whole file; owned by load_file() */
	size_t text_len;
	yaml_parser_t parser;
	struct origin origin[NKEYS];
	/* By the index of a section's first key: where it was opened. */
	bool section_seen[NKEYS];
	yaml_mark_t section_mark[NKEYS];
	char *err;
	size_t errlen;
};

/* A configuration file larger than this is not a configuration file. */
#define CONFIG_MAX_BYTES (1024 * 1024)
/* Values longer than this are cut in error messages. */
#define SHOW_CUT 64
#define SHOW_SIZE (SHOW_CUT * 4 + 8)
/* "expected <description>, got <value>" */
#define WHY_SIZE (SHOW_SIZE + 192)
#define ENV_NAME_SIZE 64

extern char **environ;

/* --- the table ------------------------------------------------------------ */

static void *field(struct config *cfg, const struct key *k)
{
	return (char *)cfg + k->offset;
}

static bool key_is_string(const struct key *k)
{
	return k->type == KEY_STRING || k->type == KEY_OPT_STRING || k->type == KEY_LISTEN;
}

static int key_index(const char *path)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].path, path) == 0)
			return (int)i;
	}
	return -1;
}

/* Length of the path's first component: the section, or the whole name. */
static size_t head_len(const char *path)
{
	return strcspn(path, ".");
}

static bool is_top_level(const struct key *k)
{
	return k->path[head_len(k->path)] == '\0';
}

/* The key named exactly name (of len bytes) inside section, or -1. */
static int key_find(const char *section, const char *name, size_t len)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const char *p = keys[i].path;

		if (section) {
			size_t slen = strlen(section);
			if (strncmp(p, section, slen) != 0 || p[slen] != '.')
				continue;
			p += slen + 1;
		} else if (!is_top_level(&keys[i])) {
			continue;
		}
		if (strlen(p) == len && memcmp(p, name, len) == 0)
			return (int)i;
	}
	return -1;
}

/* The index of the first key of the section named name, or -1. */
static int section_find(const char *name, size_t len)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (!is_top_level(&keys[i]) && head_len(keys[i].path) == len &&
		    memcmp(keys[i].path, name, len) == 0)
			return (int)i;
	}
	return -1;
}

static void env_name(const struct key *k, char *buf, size_t size)
{
	size_t n = str_copy_trunc(buf, "ESAAS_", size);

	for (const char *p = k->path; *p && n + 1 < size; p++, n++) {
		char c = *p;

		if (c == '.')
			c = '_';
		else if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		buf[n] = c;
	}
	buf[n < size ? n : size - 1] = '\0';
}

/* --- showing values in error messages ------------------------------------ */

static size_t put(char *buf, size_t size, size_t n, const char *s)
{
	if (n < size)
		n += str_copy_trunc(buf + n, s, size - n);
	return n;
}

/* Errors are one line: control characters are escaped, long values cut. */
static void show(char *buf, size_t size, const char *s, size_t len, bool quoted)
{
	size_t n = 0;

	buf[0] = '\0';
	if (quoted)
		n = put(buf, size, n, "\"");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char one[8];

		/* Cut on a character boundary, never inside a UTF-8 sequence. */
		if (i >= SHOW_CUT && (c & 0xc0) != 0x80) {
			n = put(buf, size, n, "...");
			break;
		}
		if (c == '\n')
			str_copy_trunc(one, "\\n", sizeof(one));
		else if (c == '\t')
			str_copy_trunc(one, "\\t", sizeof(one));
		else if (c < 0x20 || c == 0x7f)
			snprintf(one, sizeof(one), "\\x%02x", c);
		else if (quoted && (c == '"' || c == '\\'))
			snprintf(one, sizeof(one), "\\%c", c);
		else
			snprintf(one, sizeof(one), "%c", c);
		n = put(buf, size, n, one);
	}
	if (quoted)
		put(buf, size, n, "\"");
}

/* "got" part of a message: an integer as it is, anything else quoted. */
static void show_got(char *buf, size_t size, const char *s, size_t len)
{
	int64_t v;
	bool integer = strlen(s) == len && parse_int64(s, INT64_MIN, INT64_MAX, &v);

	show(buf, size, s, len, !integer);
}

static void describe(const struct key *k, char *buf, size_t size)
{
	switch (k->type) {
	case KEY_INT:
		snprintf(buf, size, "an integer between %d and %d", k->min, k->max);
		break;
	case KEY_STRING:
		str_copy_trunc(buf, "a non-empty string", size);
		break;
	case KEY_OPT_STRING:
		str_copy_trunc(buf, "a string", size);
		break;
	case KEY_LISTEN:
		str_copy_trunc(buf, "host:port with a port between 1 and 65535", size);
		break;
	case KEY_LOG_LEVEL:
		str_copy_trunc(buf, "one of debug, info, warn, error", size);
		break;
	case KEY_LOG_FORMAT:
		str_copy_trunc(buf, "one of text, json", size);
		break;
	case KEY_BOOL:
		str_copy_trunc(buf, "true or false", size);
		break;
	}
}

/* --- setting a key from text: shared by defaults, file and environment --- */

static bool listen_valid(const char *s)
{
	const char *colon = strrchr(s, ':');
	int port;

	if (!colon || colon == s)
		return false;
	size_t hostlen = (size_t)(colon - s);
	if (s[0] == '[') {
		/* An IPv6 address needs its brackets: "[::1]:8080". */
		if (hostlen < 3 || s[hostlen - 1] != ']')
			return false;
	} else {
		for (size_t i = 0; i < hostlen; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c <= ' ' || c == ':' || c == '[' || c == ']' || c == '/')
				return false;
		}
	}
	return parse_int(colon + 1, 1, 65535, &port);
}

/*
 * Set key k of cfg from text (NULL only for KEY_OPT_STRING).  On a bad value
 * returns false and writes the reason ("expected ..., got ...") into why.
 */
static bool key_set(struct config *cfg, const struct key *k, const char *text, char *why,
		    size_t whylen)
{
	void *dst = field(cfg, k);
	bool ok = true;

	switch (k->type) {
	case KEY_INT:
		ok = text && parse_int(text, k->min, k->max, dst);
		break;
	case KEY_STRING:
	case KEY_LISTEN:
		ok = text && *text && (k->type != KEY_LISTEN || listen_valid(text));
		if (ok) {
			free(*(char **)dst);
			*(char **)dst = xstrdup(text);
		}
		break;
	case KEY_OPT_STRING:
		free(*(char **)dst);
		*(char **)dst = text && *text ? xstrdup(text) : NULL;
		break;
	case KEY_LOG_LEVEL:
		ok = text && log_parse_level(text, dst);
		break;
	case KEY_LOG_FORMAT:
		ok = text && log_parse_format(text, dst);
		break;
	case KEY_BOOL:
		ok = text && (strcmp(text, "true") == 0 || strcmp(text, "false") == 0);
		if (ok)
			*(bool *)dst = strcmp(text, "true") == 0;
		break;
	}
	if (!ok) {
		char expected[128], got[SHOW_SIZE];

		describe(k, expected, sizeof(expected));
		if (text)
			show_got(got, sizeof(got), text, strlen(text));
		else
			str_copy_trunc(got, "null", sizeof(got));
		snprintf(why, whylen, "expected %s, got %s", expected, got);
	}
	return ok;
}

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < NKEYS; i++) {
		char why[WHY_SIZE];

		/* A default the parser refuses is a bug in the table above. */
		if (!key_set(cfg, &keys[i], keys[i].def, why, sizeof(why))) {
			fprintf(stderr, "esaas: bad default for %s: %s\n", keys[i].path, why);
			abort();
		}
	}
}

void config_free(struct config *cfg)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (key_is_string(&keys[i])) {
			char **s = field(cfg, &keys[i]);
			free(*s);
			*s = NULL;
		}
	}
}

/* --- error lines ---------------------------------------------------------- */

/* "FILE:LINE:COLUMN: path: message"; path may be NULL.  Returns false. */
static bool __attribute__((format(printf, 4, 5)))
fail_at(struct loader *ld, const yaml_mark_t *mark, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (ld->err && ld->errlen)
		snprintf(ld->err, ld->errlen, "%s:%zu:%zu: %s%s%s", ld->file, mark->line + 1,
			 mark->column + 1, path ? path : "", path ? ": " : "", msg);
	free(msg);
	return false;
}

/* "NAME: message", NAME being a file or a variable.  Returns false. */
static bool __attribute__((format(printf, 3, 4)))
fail_named(struct loader *ld, const char *name, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (ld->err && ld->errlen)
		snprintf(ld->err, ld->errlen, "%s: %s", name, msg);
	free(msg);
	return false;
}

/* Report against wherever key ki was last set: its value in the file or its variable. */
static bool fail_key(struct loader *ld, size_t ki, const char *msg)
{
	char name[ENV_NAME_SIZE];

	if (ld->origin[ki].from == FROM_FILE)
		return fail_at(ld, &ld->origin[ki].value_mark, keys[ki].path, "%s", msg);
	env_name(&keys[ki], name, sizeof(name));
	return fail_named(ld, name, "%s", msg);
}

/* --- reading the file ----------------------------------------------------- */

static bool read_file(struct loader *ld, unsigned char **out, size_t *outlen)
{
	int fd = open(ld->file, O_RDONLY | O_CLOEXEC);
	unsigned char *buf = NULL;
	size_t len = 0;

	if (fd < 0)
		return fail_named(ld, ld->file, "cannot open: %s", strerror(errno));
	buf = xmalloc(CONFIG_MAX_BYTES + 1);
	for (;;) {
		ssize_t n = read(fd, buf + len, CONFIG_MAX_BYTES + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fail_named(ld, ld->file, "cannot read: %s", strerror(errno));
			goto failed;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CONFIG_MAX_BYTES) {
			fail_named(ld, ld->file, "cannot read: larger than %d bytes",
				   CONFIG_MAX_BYTES);
			goto failed;
		}
	}
	close(fd);
	*out = buf;
	*outlen = len;
	return true;

failed:
	close(fd);
	free(buf);
	return false;
}

/* libyaml gives reader errors (bad encoding) as a byte offset only. */
static yaml_mark_t mark_of_offset(const struct loader *ld, size_t offset)
{
	yaml_mark_t m = {.index = offset};

	for (size_t i = 0; i < offset && i < ld->text_len; i++) {
		if (ld->text[i] == '\n') {
			m.line++;
			m.column = 0;
		} else if ((ld->text[i] & 0xc0) != 0x80) {
			/* Columns count characters, as libyaml's own marks do. */
			m.column++;
		}
	}
	return m;
}

/* The next event into ev, which the caller must delete; false on a syntax error. */
static bool next_event(struct loader *ld, yaml_event_t *ev)
{
	yaml_parser_t *p = &ld->parser;

	if (yaml_parser_parse(p, ev))
		return true;

	const char *problem = p->problem ? p->problem : "cannot parse";
	yaml_mark_t mark = p->problem_mark;

	if (p->error == YAML_MEMORY_ERROR)
		problem = "out of memory";
	else if (p->error == YAML_READER_ERROR)
		mark = mark_of_offset(ld, p->problem_offset);
	return fail_at(ld, &mark, NULL, "syntax error: %s", problem);
}

static bool is_null(const yaml_event_t *ev)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
	const char *v = (const char *)ev->data.scalar.value;

	if (ev->type != YAML_SCALAR_EVENT || ev->data.scalar.tag ||
	    ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(nulls); i++) {
		if (strcmp(v, nulls[i]) == 0)
			return true;
	}
	return false;
}

static const yaml_char_t *anchor_of(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return ev->data.scalar.anchor;
	case YAML_MAPPING_START_EVENT:
		return ev->data.mapping_start.anchor;
	case YAML_SEQUENCE_START_EVENT:
		return ev->data.sequence_start.anchor;
	default:
		return NULL;
	}
}

static const yaml_char_t *tag_of(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return ev->data.scalar.tag;
	case YAML_MAPPING_START_EVENT:
		return ev->data.mapping_start.tag;
	case YAML_SEQUENCE_START_EVENT:
		return ev->data.sequence_start.tag;
	default:
		return NULL;
	}
}

/* Refuse what this format has no use for: anchors, aliases and tags. */
static bool check_plain_node(struct loader *ld, const yaml_event_t *ev, const char *path)
{
	if (ev->type == YAML_ALIAS_EVENT || anchor_of(ev))
		return fail_at(ld, &ev->start_mark, path, "anchors and aliases are not supported");
	if (tag_of(ev))
		return fail_at(ld, &ev->start_mark, path, "explicit tags (%s) are not supported",
			       (const char *)tag_of(ev));
	return true;
}

/* What a node is, for "got ..." when its kind is wrong. */
static void show_node(const yaml_event_t *ev, char *buf, size_t size)
{
	if (ev->type == YAML_MAPPING_START_EVENT)
		str_copy_trunc(buf, "a mapping", size);
	else if (ev->type == YAML_SEQUENCE_START_EVENT)
		str_copy_trunc(buf, "a sequence", size);
	else if (is_null(ev))
		str_copy_trunc(buf, "null", size);
	else
		show_got(buf, size, (const char *)ev->data.scalar.value, ev->data.scalar.length);
}

/* The value of key ki, whose event is ev. */
static bool parse_value(struct loader *ld, size_t ki, const yaml_event_t *ev)
{
	const struct key *k = &keys[ki];
	char expected[128], got[SHOW_SIZE], why[WHY_SIZE];

	if (!check_plain_node(ld, ev, k->path))
		return false;
	describe(k, expected, sizeof(expected));
	if (ev->type != YAML_SCALAR_EVENT || (is_null(ev) && k->type != KEY_OPT_STRING)) {
		show_node(ev, got, sizeof(got));
		return fail_at(ld, &ev->start_mark, k->path, "expected %s, got %s", expected, got);
	}

	const char *text = (const char *)ev->data.scalar.value;
	if (memchr(text, '\0', ev->data.scalar.length))
		return fail_at(ld, &ev->start_mark, k->path,
			       "expected %s, got a string with a NUL byte", expected);
	if ((k->type == KEY_INT || k->type == KEY_BOOL) &&
	    ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
		show(got, sizeof(got), text, ev->data.scalar.length, true);
		return fail_at(ld, &ev->start_mark, k->path,
			       "expected %s, got the quoted string %s", expected, got);
	}
	if (!key_set(ld->cfg, k, is_null(ev) ? NULL : text, why, sizeof(why)))
		return fail_at(ld, &ev->start_mark, k->path, "%s", why);
	ld->origin[ki].value_mark = ev->start_mark;
	return true;
}

/* Levenshtein distance; SIZE_MAX for names too long to be a typo of ours. */
static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
	size_t row[SHOW_CUT + 1];

	if (la > SHOW_CUT || lb > SHOW_CUT)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* "(did you mean engine.workers?)", or else the list of what the section holds. */
static void unknown_key_hint(const char *section, const char *name, size_t len, char *buf,
			     size_t size)
{
	char known[512] = "";
	size_t n = 0, best = SIZE_MAX;
	const char *best_name = NULL, *prev = NULL;
	size_t best_len = 0, prev_len = 0;

	for (size_t i = 0; i < NKEYS; i++) {
		const char *cand = keys[i].path;
		size_t clen;

		if (section) {
			size_t slen = strlen(section);
			if (strncmp(cand, section, slen) != 0 || cand[slen] != '.')
				continue;
			cand += slen + 1;
			clen = strlen(cand);
		} else {
			clen = head_len(cand);
			if (prev && prev_len == clen && memcmp(prev, cand, clen) == 0)
				continue;
		}
		prev = cand;
		prev_len = clen;

		size_t d = edit_distance(name, len, cand, clen);
		if (d < best) {
			best = d;
			best_name = cand;
			best_len = clen;
		}
		if (n)
			n = put(known, sizeof(known), n, ", ");
		if (n + clen + 1 < sizeof(known)) {
			memcpy(known + n, cand, clen);
			n += clen;
			known[n] = '\0';
		}
	}
	/* Two edits catch most typos without suggesting unrelated keys. */
	if (best_name && best <= 2 && best < len)
		snprintf(buf, size, " (did you mean %s%s%.*s?)", section ? section : "",
			 section ? "." : "", (int)best_len, best_name);
	else
		snprintf(buf, size, " (known keys: %s)", known);
}

static bool unknown_key(struct loader *ld, const char *section, const yaml_event_t *key)
{
	const char *name = (const char *)key->data.scalar.value;
	size_t len = key->data.scalar.length;
	char shown[SHOW_SIZE], hint[640];

	show(shown, sizeof(shown), name, len, false);
	unknown_key_hint(section, name, len, hint, sizeof(hint));
	if (section)
		return fail_at(ld, &key->start_mark, NULL, "%s.%s: unknown key%s", section, shown,
			       hint);
	return fail_at(ld, &key->start_mark, NULL, "%s: unknown key%s", shown, hint);
}

static bool parse_mapping(struct loader *ld, const char *section);

/* The value of a section's key, whose first key is keys[si]. */
static bool parse_section(struct loader *ld, size_t si, const yaml_event_t *ev)
{
	char section[ENV_NAME_SIZE], got[SHOW_SIZE];

	snprintf(section, sizeof(section), "%.*s", (int)head_len(keys[si].path), keys[si].path);
	if (!check_plain_node(ld, ev, section))
		return false;
	if (ev->type == YAML_MAPPING_START_EVENT)
		return parse_mapping(ld, section);
	if (is_null(ev))
		return true;
	show_node(ev, got, sizeof(got));
	return fail_at(ld, &ev->start_mark, section, "expected a mapping, got %s", got);
}

/* One "key: value" of the mapping of section (NULL: the top level). */
static bool parse_entry(struct loader *ld, const char *section, const yaml_event_t *key)
{
	const char *name = (const char *)key->data.scalar.value;
	size_t len = key->data.scalar.length;
	int ki = -1, si = -1;
	yaml_event_t value;
	bool ok;

	if (!check_plain_node(ld, key, section))
		return false;
	if (key->type != YAML_SCALAR_EVENT)
		return fail_at(ld, &key->start_mark, section, "keys must be scalars");

	ki = key_find(section, name, len);
	if (ki < 0 && !section)
		si = section_find(name, len);
	if (ki < 0 && si < 0)
		return unknown_key(ld, section, key);

	const char *path = ki >= 0 ? keys[ki].path : NULL;
	yaml_mark_t *first = NULL;
	if (ki >= 0 && ld->origin[ki].from == FROM_FILE)
		first = &ld->origin[ki].key_mark;
	else if (si >= 0 && ld->section_seen[si])
		first = &ld->section_mark[si];
	if (first) {
		char shown[SHOW_SIZE];

		show(shown, sizeof(shown), name, len, false);
		return fail_at(ld, &key->start_mark, path ? path : shown,
			       "duplicate key (first at line %zu)", first->line + 1);
	}
	if (ki >= 0) {
		ld->origin[ki].from = FROM_FILE;
		ld->origin[ki].key_mark = key->start_mark;
	} else {
		ld->section_seen[si] = true;
		ld->section_mark[si] = key->start_mark;
	}

	if (!next_event(ld, &value))
		return false;
	if (ki >= 0)
		ok = parse_value(ld, (size_t)ki, &value);
	else
		ok = parse_section(ld, (size_t)si, &value);
	yaml_event_delete(&value);
	return ok;
}

/* The entries of a mapping whose start event was just read, up to its end. */
static bool parse_mapping(struct loader *ld, const char *section)
{
	for (;;) {
		yaml_event_t key;
		bool ok;

		if (!next_event(ld, &key))
			return false;
		if (key.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&key);
			return true;
		}
		ok = parse_entry(ld, section, &key);
		yaml_event_delete(&key);
		if (!ok)
			return false;
	}
}

/* The root node of the document, whose first event is ev. */
static bool parse_root(struct loader *ld, const yaml_event_t *ev)
{
	char got[SHOW_SIZE];

	if (!check_plain_node(ld, ev, NULL))
		return false;
	if (ev->type == YAML_MAPPING_START_EVENT)
		return parse_mapping(ld, NULL);
	/* "---" alone is an empty document: all defaults, like an empty file. */
	if (is_null(ev))
		return true;
	show_node(ev, got, sizeof(got));
	return fail_at(ld, &ev->start_mark, NULL,
		       "expected a mapping of settings at the top level, got %s", got);
}

/* Read the stream: nothing, or exactly one document. */
static bool parse_stream(struct loader *ld)
{
	yaml_event_t ev;
	bool ok = true;
	int documents = 0;

	while (ok) {
		if (!next_event(ld, &ev))
			return false;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			yaml_event_delete(&ev);
			return true;
		case YAML_DOCUMENT_START_EVENT:
			if (++documents > 1) {
				ok = fail_at(ld, &ev.start_mark, NULL,
					     "only one YAML document is allowed");
				break;
			}
			yaml_event_delete(&ev);
			if (!next_event(ld, &ev))
				return false;
			ok = parse_root(ld, &ev);
			break;
		default:
			/* Stream start and document end carry nothing. */
			break;
		}
		yaml_event_delete(&ev);
	}
	return false;
}

static bool load_file(struct loader *ld)
{
	unsigned char *text = NULL;
	size_t len = 0;
	bool ok;

	if (!read_file(ld, &text, &len))
		return false;
	ld->text = text;
	ld->text_len = len;
	if (!yaml_parser_initialize(&ld->parser)) {
		free(text);
		return fail_named(ld, ld->file, "cannot start the YAML parser");
	}
	yaml_parser_set_input_string(&ld->parser, text, len);
	ok = parse_stream(ld);
	yaml_parser_delete(&ld->parser);
	free(text);
	ld->text = NULL;
	return ok;
}

/* --- environment and cross checks ---------------------------------------- */

static bool apply_env(struct loader *ld, char *const *envp)
{
	/* clearenv() leaves environ NULL. */
	if (!envp)
		return true;
	for (; *envp; envp++) {
		const char *entry = *envp;
		const char *eq = strchr(entry, '=');
		char name[ENV_NAME_SIZE], why[WHY_SIZE];

		/* Other tools share the prefix: only our own keys are looked at. */
		if (!eq || strncmp(entry, "ESAAS_", 6) != 0)
			continue;
		for (size_t i = 0; i < NKEYS; i++) {
			env_name(&keys[i], name, sizeof(name));
			if (strlen(name) != (size_t)(eq - entry) ||
			    memcmp(name, entry, (size_t)(eq - entry)) != 0)
				continue;
			if (!key_set(ld->cfg, &keys[i], eq + 1, why, sizeof(why)))
				return fail_named(ld, name, "%s", why);
			ld->origin[i].from = FROM_ENV;
			break;
		}
	}
	return true;
}

static int int_value(struct loader *ld, size_t ki)
{
	return *(int *)field(ld->cfg, &keys[ki]);
}

static bool check_rules(struct loader *ld)
{
	for (size_t r = 0; r < ARRAY_SIZE(rules); r++) {
		const struct rule *rule = &rules[r];
		int ki = key_index(rule->path), oi = key_index(rule->other);
		char msg[256];

		if (ki < 0 || oi < 0)
			abort();
		int v = int_value(ld, (size_t)ki), o = int_value(ld, (size_t)oi);
		bool less = rule->kind == RULE_LESS_THAN;

		if (less ? v < o : v >= o)
			continue;
		/* Blame the key the rule is about, unless only the other one was set. */
		if (ld->origin[ki].from != FROM_DEFAULT || ld->origin[oi].from == FROM_DEFAULT) {
			snprintf(msg, sizeof(msg), "must be %s %s (%d), got %d",
				 less ? "less than" : "at least", rule->other, o, v);
			return fail_key(ld, (size_t)ki, msg);
		}
		snprintf(msg, sizeof(msg), "must be %s %s (%d), got %d",
			 less ? "greater than" : "at most", rule->path, v, o);
		return fail_key(ld, (size_t)oi, msg);
	}
	return true;
}

/* --- lists in one string: "a, b" and "group=role, group=role" --------------- */

/*
 * The next item of a comma-separated list, spaces around it left out:
 * *item and *len, and *s moved past it.  False at the end of the list.
 */
static bool list_next(const char **s, const char **item, size_t *len)
{
	const char *p = *s;

	if (!*p)
		return false;
	p += strspn(p, " ");
	size_t n = strcspn(p, ",");

	*item = p;
	*s = p[n] ? p + n + 1 : p + n;
	while (n > 0 && p[n - 1] == ' ')
		n--;
	*len = n;
	return true;
}

static bool dns_label(const char *s, size_t n)
{
	if (n == 0 || n > 40 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

bool config_tenant_list_valid(const char *list, char *err, size_t errlen)
{
	const char *item;
	size_t n;

	while (list_next(&list, &item, &n)) {
		if (!dns_label(item, n)) {
			snprintf(err, errlen,
				 "expected tenants' names separated by commas (DNS-1123 labels "
				 "of at most 40 characters), got \"%.*s\"",
				 (int)(n > 64 ? 64 : n), item);
			return false;
		}
	}
	return true;
}

bool config_tenant_in_list(const char *list, const char *tenant)
{
	const char *item;
	size_t n;

	while (list && list_next(&list, &item, &n))
		if (n == strlen(tenant) && memcmp(item, tenant, n) == 0)
			return true;
	return false;
}

/* Split "group=role" of a role map; false if it is not that shape. */
static bool role_entry(const char *item, size_t n, size_t *group_len, enum token_role *role)
{
	const char *eq = memchr(item, '=', n);
	char name[16];

	if (!eq || eq == item)
		return false;
	*group_len = (size_t)(eq - item);
	while (*group_len > 0 && item[*group_len - 1] == ' ')
		(*group_len)--;
	const char *r = eq + 1;
	size_t rn = n - (size_t)(r - item);

	while (rn > 0 && *r == ' ') {
		r++;
		rn--;
	}
	if (*group_len == 0 || rn == 0 || rn >= sizeof(name) || memchr(r, '=', rn))
		return false;
	memcpy(name, r, rn);
	name[rn] = '\0';
	return token_role_parse(name, role);
}

bool config_role_map_valid(const char *map, char *err, size_t errlen)
{
	const char *item;
	size_t n, group_len;
	enum token_role role;

	while (list_next(&map, &item, &n)) {
		if (!role_entry(item, n, &group_len, &role)) {
			snprintf(err, errlen,
				 "expected group=role entries separated by commas, each role "
				 "one of viewer, member, oncall, admin; got \"%.*s\"",
				 (int)(n > 64 ? 64 : n), item);
			return false;
		}
	}
	return true;
}

int config_role_map_lookup(const char *map, const char *value)
{
	const char *item;
	size_t n, group_len;
	enum token_role role;

	while (map && list_next(&map, &item, &n))
		if (role_entry(item, n, &group_len, &role) && group_len == strlen(value) &&
		    memcmp(item, value, group_len) == 0)
			return (int)role;
	return -1;
}

/* Checks of one key's value that its type cannot make. */
/* An S3 bucket's name as AWS allows it: 3 to 63 lowercase letters,
 * digits, '.' and '-', a letter or digit at each end
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html). */
static bool s3_bucket_valid(const char *b)
{
	size_t n = strlen(b);

	if (n < 3 || n > 63 || !isalnum((unsigned char)b[0]) || !isalnum((unsigned char)b[n - 1]))
		return false;
	for (const char *p = b; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' ||
		      *p == '-'))
			return false;
	return true;
}

/* Folders of a key: letters, digits, '.', '_', '-', separated by single
 * '/', none of them "." or "..", none at either end. */
static bool s3_base_path_valid(const char *p)
{
	const char *seg = p;

	if (!*p || *p == '/')
		return false;
	for (const char *c = p;; c++) {
		if (*c == '/' || !*c) {
			size_t n = (size_t)(c - seg);
			if (n == 0 || (n == 1 && seg[0] == '.') ||
			    (n == 2 && seg[0] == '.' && seg[1] == '.'))
				return false;
			if (!*c)
				return true;
			seg = c + 1;
			continue;
		}
		if (!isalnum((unsigned char)*c) && *c != '.' && *c != '_' && *c != '-')
			return false;
	}
}

const char *config_s3_endpoint_host(const char *url, const char **protocol)
{
	static const char *const schemes[] = {"http", "https"};

	for (size_t i = 0; url && i < ARRAY_SIZE(schemes); i++) {
		size_t n = strlen(schemes[i]);
		if (strncasecmp(url, schemes[i], n) == 0 && strncmp(url + n, "://", 3) == 0) {
			const char *host = url + n + 3;
			if (!*host || strpbrk(host, "/?#@ \t"))
				return NULL;
			*protocol = schemes[i];
			return host;
		}
	}
	return NULL;
}

/* Object storage: one kind of repository, a valid bucket, endpoint and
 * prefix, and the folder of the tenants' keys. */
static bool check_s3(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	const char *protocol;

	if (!cfg->snapshots_s3_bucket)
		return true;
	if (cfg->snapshots_nfs_server || cfg->snapshots_nfs_path)
		return fail_key(ld, (size_t)key_index("snapshots.s3_bucket"),
				"is set with snapshots.nfs_server or snapshots.nfs_path: the "
				"clusters' repositories are on one storage, NFS or S3; unset one");
	if (!s3_bucket_valid(cfg->snapshots_s3_bucket))
		return fail_key(ld, (size_t)key_index("snapshots.s3_bucket"),
				"expected a bucket's name: 3 to 63 lowercase letters, digits, "
				"'.' and '-', a letter or digit at each end");
	if (cfg->snapshots_s3_endpoint &&
	    !config_s3_endpoint_host(cfg->snapshots_s3_endpoint, &protocol))
		return fail_key(ld, (size_t)key_index("snapshots.s3_endpoint"),
				"expected http://HOST[:PORT] or https://HOST[:PORT], without a "
				"path (the store's address, e.g. http://minio.storage.svc:9000)");
	if (!s3_base_path_valid(cfg->snapshots_s3_base_path))
		return fail_key(ld, (size_t)key_index("snapshots.s3_base_path"),
				"expected folders of letters, digits, '.', '_' and '-' separated "
				"by single '/', with none at either end (e.g. esaas or "
				"prod/esaas)");
	if (!cfg->snapshots_s3_credentials_dir)
		return fail_key(ld, (size_t)key_index("snapshots.s3_bucket"),
				"needs snapshots.s3_credentials_dir too: each tenant's clusters "
				"use the tenant's own key pair, read from that folder "
				"(<tenant>.access_key and <tenant>.secret_key)");
	return true;
}

/* One line of a key file, its final newline dropped; NULL with why. */
static char *read_key_file(const char *path, bool *missing, char *why, size_t whylen)
{
	char buf[1025];
	size_t n = 0;
	FILE *f = fopen(path, "r");

	*missing = false;
	if (!f) {
		*missing = errno == ENOENT;
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	bool long_file = n == sizeof(buf) - 1 && fgetc(f) != EOF;
	bool failed = ferror(f);
	fclose(f);
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	if (failed || long_file || n == 0 || strlen(buf) != n) {
		snprintf(why, whylen, "%s: %s", path,
			 failed ? "cannot be read"
				: "expected one line of at most 1024 characters");
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f) {
			snprintf(why, whylen, "%s: expected one line without control characters",
				 path);
			return NULL;
		}
	return xstrdup(buf);
}

bool config_s3_keys(const struct config *cfg, const char *tenant, char **access_key,
		    char **secret_key, char *why, size_t whylen)
{
	const char *dir = cfg->snapshots_s3_credentials_dir;
	bool missing_a = false, missing_s = false;

	*access_key = *secret_key = NULL;
	if (!dir || !tenant || !*tenant || strchr(tenant, '/') || tenant[0] == '.') {
		snprintf(why, whylen, "no key pair can be read for tenant %s",
			 tenant ? tenant : "(none)");
		return false;
	}
	char *a_path = xasprintf("%s/%s.access_key", dir, tenant);
	char *s_path = xasprintf("%s/%s.secret_key", dir, tenant);
	char a_why[512] = "", s_why[512] = "";

	*access_key = read_key_file(a_path, &missing_a, a_why, sizeof(a_why));
	*secret_key = read_key_file(s_path, &missing_s, s_why, sizeof(s_why));
	if (!*access_key || !*secret_key) {
		if (missing_a && missing_s)
			snprintf(why, whylen,
				 "tenant %s has no S3 key pair: %s and %s are not there "
				 "(snapshots.s3_credentials_dir)",
				 tenant, a_path, s_path);
		else
			snprintf(why, whylen, "tenant %s's S3 key pair: %s", tenant,
				 *access_key ? s_why : a_why);
		free(*access_key);
		free(*secret_key);
		*access_key = *secret_key = NULL;
	}
	free(a_path);
	free(s_path);
	return *access_key != NULL;
}

static bool check_values(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	char msg[256];

	if (strcmp(cfg->metrics_listen, cfg->listen) == 0)
		return fail_key(ld, (size_t)key_index("metrics.listen"),
				"must differ from listen: /metrics has a listener of its own, "
				"never the API's");
	if (cfg->oidc_jwks_url && !cfg->oidc_allow_insecure_jwks &&
	    strncasecmp(cfg->oidc_jwks_url, "https://", 8) != 0)
		return fail_key(ld, (size_t)key_index("oidc.jwks_url"),
				"expected an https:// URL: keys fetched in clear can be replaced "
				"on the way (set oidc.allow_insecure_jwks: true to allow http)");
	/* Named at the key that is set: the file has a line for it. */
	if (cfg->tls_cert_file && !cfg->tls_key_file)
		return fail_key(
			ld, (size_t)key_index("tls.cert_file"),
			"needs tls.key_file too: HTTPS needs the certificate's private key");
	if (cfg->tls_key_file && !cfg->tls_cert_file)
		return fail_key(ld, (size_t)key_index("tls.key_file"),
				"needs tls.cert_file too: HTTPS needs the key's certificate");
	/* The API server removes the Authorization header of every request
	 * it authenticates, so its service proxy never hands Elasticsearch
	 * the credentials a secured cluster asks for: unless it is said,
	 * security is on exactly where esaasd reaches the clusters directly. */
	if (ld->origin[key_index("elasticsearch.security")].from == FROM_DEFAULT)
		cfg->es_security = cfg->es_url_template != NULL;
	if (cfg->es_security && !cfg->es_url_template)
		return fail_key(ld, (size_t)key_index("elasticsearch.security"),
				"needs elasticsearch.url: a secured cluster is reached directly "
				"(https://{service}.{namespace}.svc:9200), since the API server's "
				"service proxy does not pass on Elasticsearch's credentials");
	if (!config_tenant_list_valid(cfg->auth_platform_tenants, msg, sizeof(msg)))
		return fail_key(ld, (size_t)key_index("auth.platform_tenants"), msg);
	if (cfg->oidc_role_map && !config_role_map_valid(cfg->oidc_role_map, msg, sizeof(msg)))
		return fail_key(ld, (size_t)key_index("oidc.role_map"), msg);
	/* Roles come from the provider's values through pairs an operator
	 * wrote, never by a value's name: OpenID Connect on (the three keys
	 * of api/auth.c) without a map would refuse every token. */
	if (cfg->oidc_issuer && cfg->oidc_audience && cfg->oidc_jwks_url && !cfg->oidc_role_map)
		return fail_key(ld, (size_t)key_index("oidc.jwks_url"),
				"needs oidc.role_map too: the values of oidc.role_claim become "
				"roles only through the group=role pairs written there "
				"(\"esaas-sre=oncall, team-search=member\"; \"admin=admin\" "
				"for a provider that sends the role's name)");
	if (cfg->kube_allowed_images &&
	    !spec_allowed_images_valid(cfg->kube_allowed_images, msg, sizeof(msg)))
		return fail_key(ld, (size_t)key_index("kubernetes.allowed_images"), msg);
	if (cfg->kube_api_server_cidrs &&
	    !spec_cidr_list_valid(cfg->kube_api_server_cidrs, msg, sizeof(msg)))
		return fail_key(ld, (size_t)key_index("kubernetes.api_server_cidrs"), msg);
	if (cfg->kube_esaasd_namespace &&
	    !spec_is_dns_label(cfg->kube_esaasd_namespace, SPEC_DNS_LABEL_MAX))
		return fail_key(ld, (size_t)key_index("kubernetes.esaasd_namespace"),
				"expected a namespace's name (a DNS-1123 label)");
	return check_s3(ld);
}

bool config_load(struct config *cfg, const char *path, char *const *envp, char *err, size_t errlen)
{
	struct loader ld = {
		.cfg = cfg,
		.file = path,
		.err = err,
		.errlen = errlen,
	};
	bool ok;

	if (err && errlen)
		err[0] = '\0';
	config_defaults(cfg);
	ok = (!path || load_file(&ld)) && apply_env(&ld, envp ? envp : environ) &&
	     check_rules(&ld) && check_values(&ld);
	if (!ok) {
		config_free(cfg);
		config_defaults(cfg);
	}
	return ok;
}
