/*
 * The Elasticsearch clusters.  A cluster is the set of running Elasticsearch
 * pods of a namespace; a node is named <pod>-<namespace>.  The model keeps
 * what esaas's procedures depend on: a master exists only with a quorum,
 * shards are allocated over data nodes under the allocation settings,
 * copies relocate and recover in time, a node that leaves takes its copies
 * with it (and a primary without another copy is lost), and what a node
 * held stays on its host's disk for when it comes back.
 */
#include "sim/es.h"

#include <ctype.h>
#include <fnmatch.h>
#include <regex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/http.h>

#include "common/base64.h"
#include "common/httpc.h"
#include "common/log.h"
#include "common/util.h"
#include "sim/call.h"
#include "sim/controllers.h"
#include "sim/esdisk.h"
#include "sim/esspec.h"
#include "sim/faults.h"
#include "sim/hostfs.h"
#include "sim/rbac.h"
#include "sim/s3.h"
#include "sim/record.h"
#include "sim/simconf.h"
#include "sim/store.h"
#include "common/yamljson.h"
#include "common/json.h"

enum {
	ROLE_MASTER = 1,
	ROLE_DATA = 2,
	ROLE_INGEST = 4,
	ROLE_ML = 8,
	ROLE_TRANSFORM = 16,
	ROLE_REMOTE = 32 /* remote_cluster_client */
};

enum copy_state {
	COPY_UNASSIGNED,
	COPY_INITIALIZING,
	COPY_STARTED,
	COPY_RELOCATING
};

static const char *const copy_state_names[] = {"UNASSIGNED", "INITIALIZING", "STARTED",
					       "RELOCATING"};

struct es_node {
	char *name; /* <pod>-<namespace> */
	char *pod;
	char *id;
	char *ip;
	char *host; /* the Kubernetes node */
	char *version;
	unsigned roles;
	json_t *plugins; /* names */
	bool present;
	bool was_present;	  /* last tick */
	char *datadir;		  /* the host folder of its data path, or NULL */
	bool refused;		  /* its folder is another cluster's: said once */
	bool join_refused;	  /* its version may not join: said once */
	char *pod_uid;		  /* the pod it runs in: a new one is a restart */
	json_t *file;		  /* its elasticsearch.yml as read at start, flat */
	json_t *keystore;	  /* its keystore as read at start (sim/s3.h), or NULL */
	bool security;		  /* authenticates REST requests (security_on) */
	char *bootstrap_password; /* its pod's ELASTIC_PASSWORD, or NULL */
	bool xpack;		  /* its image is the default distribution, 6.3+ */
};

/*
 * A copy's last recovery, as GET _recovery reports it (RecoveryState):
 * its kind, the node it copied from (a peer's), when it began and ended,
 * and the size of its files, of which `reused` were on the node already.
 */
enum recovery_kind {
	REC_NONE,
	REC_EMPTY_STORE,     /* a new index's primary */
	REC_EXISTING_STORE,  /* a primary from the files on its node's disk */
	REC_PEER_REPLICA,    /* a replica from its primary */
	REC_PEER_RELOCATION, /* a copy moved from another node */
	REC_SNAPSHOT,	     /* a restored primary from the repository */
};

struct es_recovery {
	enum recovery_kind kind;
	char *from; /* a peer recovery's source node */
	int64_t start_ms, stop_ms;
	int64_t bytes, reused;
};

struct es_copy {
	bool primary;
	enum copy_state state;
	char *node;	 /* where it is (or initialises); NULL when unassigned */
	char *target;	 /* relocation target */
	int64_t done_at; /* not started before (a recovery's fixed steps) */
	int64_t delayed_until;
	bool peer;	       /* recovering from the primary's node (or relocating) */
	int64_t bytes_left;    /* of its files still to copy */
	int64_t moved_at;      /* when bytes_left was last brought down */
	const char *reason;    /* unassigned.reason */
	int64_t unassigned_at; /* wall clock, for unassigned_info.at */
	int failed_attempts;   /* allocations that failed on the node since the last success */
	char *failure;	       /* unassigned_info.details of the last one */
	char *failed_node;     /* its node's id */
	bool from_disk;
	bool snapshot;		  /* a restored primary copying its files from the repository */
	struct es_recovery rec;	  /* its last recovery */
	struct es_recovery reloc; /* its relocation target's, while it relocates */
};

static void recovery_begin(struct es_recovery *r, enum recovery_kind kind, const char *from,
			   int64_t bytes, int64_t reused)
{
	free(r->from);
	r->kind = kind;
	r->from = from ? xstrdup(from) : NULL;
	r->start_ms = now_wall_ms();
	r->stop_ms = 0;
	r->bytes = bytes;
	r->reused = reused;
}

static void recovery_clear(struct es_recovery *r)
{
	free(r->from);
	memset(r, 0, sizeof(*r));
}

struct es_shard {
	struct es_copy *copies; /* copies[0] is created primary; any may be primary later */
	int ncopies;
	bool ever_started;
	bool lost;
	int64_t docs;	/* documents indexed into it */
	bool restoring; /* its primary recovers from a snapshot until it first starts */
};

struct es_index {
	char *name;
	char *uuid;
	int nshards;
	int nreplicas;
	int64_t shard_bytes; /* the size of a copy's files */
	struct es_shard *shards;
	int64_t created_ms;
	char *created_version;	 /* index.version.created, as a release ("6.8.23"), kept through a
				* restore */
	json_t *analysis;	 /* settings.index.analysis as created, or NULL */
	json_t *mappings;	 /* as created, or NULL */
	json_t *restored_from;	 /* a restored index's primaries' recovery source, or NULL */
	int64_t next_doc;	 /* documents routed so far */
	bool write_block;	 /* index.blocks.write (or read_only) */
	bool read_only_block;	 /* index.blocks.read_only */
	bool verified_read_only; /* index.verified_read_only, set with the block from 8.18 */
};

/* A shard copy that stays on a host's disk after its node left. */
struct es_disk {
	char *node;
	char *host;
	char *index;
	int shard;
};

enum wait_kind {
	WAIT_HEALTH,
	WAIT_MASTER,
	WAIT_VOTING_CLEAR,
	WAIT_INDEX_ACTIVE,
	WAIT_SNAPSHOT, /* a snapshot's wait_for_completion */
	WAIT_RESTORE,  /* a restore's wait_for_completion */
	WAIT_DOC       /* a document for a shard whose primary is not active */
};

struct es_wait {
	enum wait_kind kind;
	struct call *c;
	char *ns;
	char *node; /* the answering node's pod */
	char *path;
	char *index;	/* WAIT_INDEX_ACTIVE; WAIT_SNAPSHOT: the snapshot's uuid */
	json_t *answer; /* WAIT_RESTORE: the restored indices and the snapshot's name;
			   WAIT_DOC: the document's shard, type, id, source and timeout */
	int64_t deadline;
	struct es_wait *next;
};

struct es_cluster {
	char *ns;
	char *name;
	char *uuid;
	char *master; /* elected master's node name, or NULL */
	struct es_node **nodes;
	size_t nnodes;
	struct es_index **indices;
	size_t nindices;
	struct es_disk *disks;
	size_t ndisks;
	json_t *persistent;    /* flat */
	json_t *transient;     /* flat */
	json_t *voting_config; /* node names */
	bool warned_bootstrap;
	bool zen1_formed;	   /* elected a master under zen1 (2.x-6.x masters) */
	int64_t zen1_next_look;	   /* the 7.x nodes' next look for zen1 masters, or 0 */
	json_t *graveyard;	   /* 5.0+: [{"name", "uuid"}], the latest deletions */
	json_t *voting_exclusions; /* [{node_id, node_name}] */
	json_t *shutdowns;	   /* node_id -> {type, reason, started} */
	json_t *passwords;	   /* the security index: user -> password */
	json_t *users;		   /* native users: name -> {password, roles, full_name} */
	json_t *authenticated;	   /* user -> REST requests it authenticated, for tests */
	bool seeded;
	bool alive;	   /* seen in this tick */
	long health_reads; /* GET _cluster/health answered, for tests that count */
	json_t *repos;	   /* the snapshot repositories: name -> {"type", "settings"} */
	json_t *running;   /* the snapshots in progress (SnapshotsInProgress) */
	/* A second cluster, with its own UUID, that new masters bootstrapped
	 * in this namespace (form_alongside); not on the list of clusters. */
	struct es_cluster *alongside;
	struct es_cluster *next;
};

static struct es_cluster *clusters;
static struct es_wait *waits;

static void dispatch(struct es_cluster *cl, struct call *c, const char *pod, const char *path,
		     const char *es_user);
static int64_t docs_of(struct es_index *ix, int *failed);
static json_t *running_snapshot_by_uuid(struct es_cluster *cl, const char *uuid);
static bool doc_wait_step(struct es_cluster *cl, struct es_wait *w, bool expired);
static json_t *finished_by_uuid(const char *uuid);
static json_t *snapshot_info(const json_t *rec, int vcode);
static void snapshots_tick(struct es_cluster *cl, int64_t now);

/* --- small helpers ------------------------------------------------------------- */

static void random_id(char *buf, size_t n)
{
	static const char chars[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	for (size_t i = 0; i < n; i++)
		buf[i] = chars[simconf_rand_below(64)];
	buf[n] = '\0';
}

static int version_major(const char *v)
{
	int major = 0;
	for (const char *p = v; p && *p >= '0' && *p <= '9'; p++)
		major = major * 10 + (*p - '0');
	return major;
}

/* 7.17.10 -> 71710-ish ordering: major*10000 + minor*100 + patch. */
static int version_code(const char *v)
{
	int parts[3] = {0, 0, 0}, i = 0;
	for (const char *p = v; p && *p && i < 3; p++) {
		if (*p >= '0' && *p <= '9')
			parts[i] = parts[i] * 10 + (*p - '0');
		else if (*p == '.')
			i++;
		else
			break;
	}
	return parts[0] * 10000 + parts[1] * 100 + parts[2];
}

static struct es_node *node_by_name(struct es_cluster *cl, const char *name)
{
	for (size_t i = 0; name && i < cl->nnodes; i++) {
		if (!strcmp(cl->nodes[i]->name, name))
			return cl->nodes[i];
	}
	return NULL;
}

static struct es_node *node_by_pod(struct es_cluster *cl, const char *pod)
{
	for (size_t i = 0; pod && i < cl->nnodes; i++) {
		if (!strcmp(cl->nodes[i]->pod, pod))
			return cl->nodes[i];
	}
	return NULL;
}

static struct es_node *node_by_id(struct es_cluster *cl, const char *id)
{
	for (size_t i = 0; id && i < cl->nnodes; i++) {
		if (!strcmp(cl->nodes[i]->id, id))
			return cl->nodes[i];
	}
	return NULL;
}

static bool present(struct es_cluster *cl, const char *name)
{
	struct es_node *n = node_by_name(cl, name);
	return n && n->present;
}

/* The version the cluster answers with: its oldest present node's. */
static const char *cluster_version(struct es_cluster *cl)
{
	const char *v = NULL;
	for (size_t i = 0; i < cl->nnodes; i++) {
		if (cl->nodes[i]->present &&
		    (!v || version_code(cl->nodes[i]->version) < version_code(v)))
			v = cl->nodes[i]->version;
	}
	if (!v && cl->nnodes)
		v = cl->nodes[0]->version;
	return v ? v : "7.17.0";
}

/* A cluster setting's value: transient over persistent over the
 * elasticsearch.yml the elected master read at start, as Elasticsearch
 * applies them: the master's deciders take the node's own settings where
 * the cluster state has none
 * (https://www.elastic.co/guide/en/elasticsearch/reference/7.17/cluster-update-settings.html,
 * "Order of precedence"). */
static const char *setting(struct es_cluster *cl, const char *key)
{
	const char *v = json_str(cl->transient, key);
	if (!v)
		v = json_str(cl->persistent, key);
	if (!v && cl->master) {
		struct es_node *m = node_by_name(cl, cl->master);
		v = m ? json_str(m->file, key) : NULL;
	}
	return v;
}

/* --- replies ------------------------------------------------------------------- */

static void sim_es_error(struct call *c, int status, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void sim_es_error(struct call *c, int status, const char *type, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *reason = xvasprintf(fmt, ap);
	va_end(ap);
	call_reply_json(c, status,
			json_pack("{s:{s:[{s:s, s:s}], s:s, s:s}, s:i}", "error", "root_cause",
				  "type", type, "reason", reason, "type", type, "reason", reason,
				  "status", status));
	free(reason);
}

static void no_handler(struct call *c)
{
	const char *path = c->proxy_path ? c->proxy_path : c->path;
	char *uri = c->query_raw ? xasprintf("%s?%s", path, c->query_raw) : xstrdup(path);
	char *msg = xasprintf("no handler found for uri [%s] and method [%s]", uri, c->method);
	call_reply_json(c, 400, json_pack("{s:s}", "error", msg));
	free(msg);
	free(uri);
}

static void bad_method(struct call *c, const char *allowed)
{
	const char *path = c->proxy_path ? c->proxy_path : c->path;
	char *uri = c->query_raw ? xasprintf("%s?%s", path, c->query_raw) : xstrdup(path);
	char *msg = xasprintf("Incorrect HTTP method for uri [%s] and method [%s], allowed: [%s]",
			      uri, c->method, allowed);
	call_add_header(c, "Allow", allowed);
	call_reply_json(c, 405, json_pack("{s:s, s:i}", "error", msg, "status", 405));
	free(msg);
	free(uri);
}

static void index_not_found(struct call *c, const char *index)
{
	char *reason = xasprintf("no such index [%s]", index);
	json_t *cause =
		json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", "index_not_found_exception",
			  "reason", reason, "resource.type", "index_or_alias", "resource.id", index,
			  "index_uuid", "_na_", "index", index);
	json_t *err = json_deep_copy(cause);
	json_object_set_new(err, "root_cause", json_pack("[o]", cause));
	call_reply_json(c, 404, json_pack("{s:o, s:i}", "error", err, "status", 404));
	free(reason);
}

static void warn_header(struct es_cluster *cl, struct call *c, const char *msg)
{
	char *v = xasprintf("299 Elasticsearch-%s-b4c4d8f6 \"%s\"", cluster_version(cl), msg);
	call_add_header(c, "Warning", v);
	free(v);
}

/* --- nodes from pods --------------------------------------------------------- */

static bool is_es_pod(const json_t *pod, const char **image)
{
	size_t i;
	json_t *ct;
	/* A container that runs its image's own entrypoint: one whose command
	 * is given (a shell script in the Elasticsearch image) is no node. */
	json_array_foreach (json_object_get(json_object_get(pod, "spec"), "containers"), i, ct) {
		const char *img = json_str(ct, "image");
		if (img && strstr(img, "elasticsearch") && !json_object_get(ct, "command")) {
			*image = img;
			return true;
		}
	}
	const char *role = json_str(json_object_get(json_object_get(pod, "metadata"), "labels"),
				    "esaas.io/role");
	json_t *first =
		json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"), 0);
	if (role && strcmp(role, "kibana") != 0 && first && !json_object_get(first, "command")) {
		*image = json_str(first, "image");
		return true;
	}
	return false;
}

/* The default distribution bundles X-Pack from 6.3; the -oss images do not. */
static bool default_distribution(const char *image, const char *version)
{
	return version_code(version) >= 60300 && !(image && strstr(image, "-oss"));
}

/* A boolean of a flat elasticsearch.yml (values as strings), else dflt. */
static bool file_bool(const json_t *file, const char *key, bool dflt)
{
	const char *v = json_str(file, key);
	return v ? strcmp(v, "true") == 0 : dflt;
}

/*
 * Whether a node authenticates REST requests.  Security is free from 6.8
 * and 7.1 (the basic licence; the 6.3-6.7 default distribution has it only
 * under a paid licence, which no simulated cluster has): on where
 * elasticsearch.yml says xpack.security.enabled: true, and from 8.0 unless
 * it says false, as 8.x turns it on by itself
 * (https://www.elastic.co/guide/en/elasticsearch/reference/6.8/security-settings.html;
 * https://www.elastic.co/guide/en/elasticsearch/reference/8.0/configuring-stack-security.html).
 * The -oss images have no security at all.
 */
static bool security_on(const json_t *file, const char *version, const char *image)
{
	int code = version_code(version);
	if (code < 60800 || !default_distribution(image, version))
		return false;
	return file_bool(file, "xpack.security.enabled", code >= 80000);
}

/* The literal value of variable name in the Elasticsearch container of pod
 * (the one running image), or NULL; the caller frees it.  A value taken
 * from a Secret (valueFrom.secretKeyRef) is read from the Secret, as the
 * kubelet does when it starts the container. */
static char *pod_env(const json_t *pod, const char *image, const char *name)
{
	const char *ns = json_str(json_object_get(pod, "metadata"), "namespace");
	size_t i, j;
	json_t *ct, *e;
	json_array_foreach (json_object_get(json_object_get(pod, "spec"), "containers"), i, ct) {
		if (!image || !json_str(ct, "image") || strcmp(json_str(ct, "image"), image) != 0)
			continue;
		json_array_foreach (json_object_get(ct, "env"), j, e) {
			if (!json_str(e, "name") || strcmp(json_str(e, "name"), name) != 0)
				continue;
			if (json_str(e, "value"))
				return xstrdup(json_str(e, "value"));
			json_t *ref =
				json_object_get(json_object_get(e, "valueFrom"), "secretKeyRef");
			return store_secret_value(ns, json_str(ref, "name"), json_str(ref, "key"));
		}
	}
	return NULL;
}

static json_t *config_file_settings(const json_t *pod);

/* The settings a node starts with: its elasticsearch.yml, then the
 * variables of its container named as settings (with a dot), which the
 * Docker image passes to Elasticsearch as -E options over the file
 * (https://www.elastic.co/guide/en/elasticsearch/reference/7.17/docker.html#docker-configuration-methods).
 * Flat, values as strings; a new reference. */
static json_t *node_settings(const json_t *pod, const char *image)
{
	json_t *s = config_file_settings(pod);
	size_t i, j;
	json_t *ct, *e;
	json_array_foreach (json_object_get(json_object_get(pod, "spec"), "containers"), i, ct) {
		if (!image || !json_str(ct, "image") || strcmp(json_str(ct, "image"), image) != 0)
			continue;
		json_array_foreach (json_object_get(ct, "env"), j, e) {
			const char *name = json_str(e, "name");
			if (name && strchr(name, '.') && json_str(e, "value"))
				json_object_set_new(s, name, json_string(json_str(e, "value")));
		}
	}
	return s;
}

/*
 * A node's roles from the elasticsearch.yml it read at start, as each
 * version reads them.  From 7.9 `node.roles` names every role the node
 * has, and a node without it has them all
 * (https://www.elastic.co/guide/en/elasticsearch/reference/7.9/modules-node.html).
 * Before, one boolean per role, each true by default: node.master and
 * node.data; node.ingest from 5.0; node.ml from 6.3 in the default
 * distribution; node.remote_cluster_client from 7.7; node.transform from 7.7
 * in the default distribution, following node.data ("All data nodes are
 * also transform nodes", .../reference/7.8/modules-node.html).
 */
static unsigned roles_from_file(const json_t *file, const char *version, const char *image);

/*
 * A pod's roles: from the elasticsearch.yml it read (file, flat), else,
 * for a pod given no elasticsearch.yml at all (the simulator's own tests
 * make such pods), from its esaas.io/role label.
 */
static unsigned roles_of(const json_t *pod, const json_t *file, const char *version,
			 const char *image)
{
	if (json_object_size(file) > 0)
		return roles_from_file(file, version, image);
	const char *role = json_str(json_object_get(json_object_get(pod, "metadata"), "labels"),
				    "esaas.io/role");
	if (!role)
		return ROLE_MASTER | ROLE_DATA | ROLE_INGEST;
	if (!strcmp(role, "master"))
		return ROLE_MASTER;
	if (!strcmp(role, "data"))
		return ROLE_DATA;
	return 0; /* client: coordinating only */
}

static unsigned roles_from_file(const json_t *file, const char *version, const char *image)
{
	int code = version_code(version);
	bool xpack = default_distribution(image, version);
	unsigned r = 0;

	/* From 7.9 node.roles; the legacy node.master, node.data, ... still
	 * decide a 7.x node's roles when node.roles is not set (deprecated,
	 * removed in 8.0; reference/7.17/modules-node.html). */
	const char *roles_list = json_str(file, "node.roles");
	if (code >= 80000 || (code >= 70900 && roles_list)) {
		const char *list = roles_list;
		static const struct {
			const char *name;
			unsigned role;
		} names[] = {{"master", ROLE_MASTER},	    {"data", ROLE_DATA},
			     {"ingest", ROLE_INGEST},	    {"ml", ROLE_ML},
			     {"transform", ROLE_TRANSFORM}, {"remote_cluster_client", ROLE_REMOTE}};
		if (!list)
			return ROLE_MASTER | ROLE_DATA | ROLE_INGEST | ROLE_REMOTE |
			       (xpack ? ROLE_ML | ROLE_TRANSFORM : 0);
		for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
			size_t n = strlen(names[i].name);
			for (const char *p = list; (p = strstr(p, names[i].name)); p += n)
				if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
					r |= names[i].role;
		}
		return r;
	}
	if (file_bool(file, "node.master", true))
		r |= ROLE_MASTER;
	if (file_bool(file, "node.data", true))
		r |= ROLE_DATA;
	if (code >= 50000 && file_bool(file, "node.ingest", true))
		r |= ROLE_INGEST;
	if (xpack && file_bool(file, "node.ml", true))
		r |= ROLE_ML;
	if (code >= 70700 && file_bool(file, "node.remote_cluster_client", true))
		r |= ROLE_REMOTE;
	if (xpack && code >= 70700 && file_bool(file, "node.transform", (r & ROLE_DATA) != 0))
		r |= ROLE_TRANSFORM;
	return r;
}

/* --- plugins: what the init containers install ---------------------------------- */

/*
 * An init container that runs `bin/elasticsearch-plugin install` (`bin/plugin
 * install` on 2.x) downloads each archive it names and unpacks it into the
 * plugins folder (https://www.elastic.co/guide/en/elasticsearch/plugins/
 * current/plugin-management-custom-url.html); a node loads what that folder
 * holds when it starts, and `_cat/plugins` lists it
 * (https://www.elastic.co/guide/en/elasticsearch/plugins/current/listing-removing-updating.html).
 * The simulator reads the container's shell script far enough for that: its
 * variable assignments, its environment, `for NAME in WORDS; do ... done`
 * loops, and the install commands, whose arguments it expands; then it
 * fetches every http(s) archive for real.  A plugin named without a URL
 * comes from Elastic's own download site and is taken as installed, as is
 * a file: URL; a plugin's name is the archive's, without the version.  A
 * plugin the folder already holds at the same version is kept without a
 * download when the script checks plugin-descriptor.properties first (as
 * kube/render.c's does); the folder ends holding what the script installed
 * or kept, its other plugins removed.
 */
struct plugin_install {
	char *pod_uid;
	char *container;   /* the init container that installs */
	char *cli_version; /* its image's Elasticsearch version */
	char *host;
	char *folder; /* the host folder of the plugins mount, or NULL */
	json_t *todo; /* [{"name", "version", "url"}]: url null when not fetched */
	size_t next;
	json_t *installed;     /* {"name": "version"} */
	bool checks_installed; /* the script keeps a plugin installed at its version */
	enum sim_init state;
	char *message; /* what the install command printed when it failed */
	int exit_code;
	struct httpc_call *call;
	struct plugin_install *next_install;
};

static struct plugin_install *installs;
static struct event_base *es_base;
static struct httpc *plugin_http;
/* Pods whose plugins folder is not on a host folder: uid -> {"name": version}. */
static json_t *pod_plugins;

static void install_free(struct plugin_install *in)
{
	httpc_cancel(in->call);
	free(in->pod_uid);
	free(in->container);
	free(in->cli_version);
	free(in->host);
	free(in->folder);
	json_decref(in->todo);
	json_decref(in->installed);
	free(in->message);
	free(in);
}

/* Split a script into statements of raw words (quotes kept): at newlines,
 * ';', '&&', '||' and '|'; '#' starts a comment. */
static json_t *sh_statements(const char *text)
{
	json_t *out = json_array(), *cur = json_array();
	size_t len = strlen(text);
	char *word = xcalloc(1, len + 1);
	size_t w = 0;
	bool in_word = false;

	for (size_t i = 0; i <= len; i++) {
		char ch = text[i];
		bool breaks = ch == '\0' || ch == '\n' || ch == ';' || ch == '&' || ch == '|';

		if (ch == '#' && !in_word) {
			while (text[i + 1] && text[i + 1] != '\n')
				i++;
			continue;
		}
		if (ch == '\'' || ch == '"') {
			char q = ch;
			word[w++] = ch;
			while (text[i + 1] && text[i + 1] != q) {
				if (q == '"' && text[i + 1] == '\\' && text[i + 2])
					word[w++] = text[++i];
				word[w++] = text[++i];
			}
			if (text[i + 1])
				word[w++] = text[++i];
			in_word = true;
			continue;
		}
		if (ch == '\\' && text[i + 1]) {
			word[w++] = ch;
			word[w++] = text[++i];
			in_word = true;
			continue;
		}
		if (breaks || ch == ' ' || ch == '\t') {
			if (in_word) {
				word[w] = '\0';
				json_array_append_new(cur, json_string(word));
				w = 0;
				in_word = false;
			}
			if (breaks && json_array_size(cur) > 0) {
				json_array_append(out, cur);
				json_decref(cur);
				cur = json_array();
			}
			continue;
		}
		word[w++] = ch;
		in_word = true;
	}
	json_decref(cur);
	free(word);
	return out;
}

/* Append s (n bytes) to the last word of words, making one when start. */
static void word_append(json_t *words, bool *start, const char *s, size_t n)
{
	size_t last = json_array_size(words);
	char *joined;

	if (*start || last == 0) {
		json_array_append_new(words, json_stringn(s, n));
		*start = false;
		return;
	}
	joined = xasprintf("%s%.*s", json_string_value(json_array_get(words, last - 1)), (int)n, s);
	json_array_set_new(words, last - 1, json_string(joined));
	free(joined);
}

/* The value of $NAME or ${NAME} at *p (moved past it); "" when unset. */
static const char *sh_variable(const char **p, const json_t *vars)
{
	const char *s = *p + 1;
	char name[128];
	size_t n = 0;
	bool braced = *s == '{';

	if (braced)
		s++;
	while ((isalnum((unsigned char)s[n]) || s[n] == '_') && n < sizeof(name) - 1)
		n++;
	memcpy(name, s, n);
	name[n] = '\0';
	s += n;
	if (braced) {
		while (*s && *s != '}')
			s++;
		if (*s)
			s++;
	}
	*p = s;
	return json_str(vars, name) ? json_str(vars, name) : "";
}

/* A raw word's expansion: quotes removed, variables replaced, unquoted
 * ones split at blanks.  Appends to out. */
static void sh_expand(const char *raw, const json_t *vars, json_t *out)
{
	json_t *words = json_array();
	bool start = true;
	char quote = 0;

	for (const char *p = raw; *p;) {
		if (!quote && (*p == '\'' || *p == '"')) {
			quote = *p++;
			if (start)
				word_append(words, &start, "", 0);
			continue;
		}
		if (quote && *p == quote) {
			quote = 0;
			p++;
			continue;
		}
		if (quote == '\'') {
			word_append(words, &start, p++, 1);
			continue;
		}
		if (*p == '\\' && p[1]) {
			word_append(words, &start, p + 1, 1);
			p += 2;
			continue;
		}
		if (*p == '$' && (p[1] == '{' || isalpha((unsigned char)p[1]) || p[1] == '_')) {
			const char *v = sh_variable(&p, vars);

			if (quote) {
				word_append(words, &start, v, strlen(v));
				continue;
			}
			/* Field splitting of an unquoted expansion. */
			for (const char *q = v; *q;) {
				size_t n = strcspn(q, " \t\n");

				if (n > 0)
					word_append(words, &start, q, n);
				q += n;
				if (*q) {
					start = true;
					q += strspn(q, " \t\n");
				}
			}
			continue;
		}
		word_append(words, &start, p++, 1);
	}
	json_array_extend(out, words);
	json_decref(words);
}

static json_t *sh_expand_all(const json_t *raw, size_t from, const json_t *vars)
{
	json_t *out = json_array();
	size_t i;
	json_t *w;

	json_array_foreach (raw, i, w) {
		if (i >= from)
			sh_expand(json_string_value(w), vars, out);
	}
	return out;
}

json_t *sim_es_sh_statements(const char *text)
{
	return sh_statements(text);
}

json_t *sim_es_sh_words(const json_t *raw, const json_t *vars)
{
	return sh_expand_all(raw, 0, vars);
}

/* The archive or name an install argument names: {"name", "version", "url"}. */
static json_t *plugin_wanted(const char *arg, const char *cli_version)
{
	const char *base = strrchr(arg, '/');
	char *name = xstrdup(base ? base + 1 : arg);
	char *version = xstrdup(cli_version);
	size_t n = strlen(name);
	bool fetched = !strncmp(arg, "http://", 7) || !strncmp(arg, "https://", 8);
	json_t *out;

	if (n > 4 && !strcmp(name + n - 4, ".zip"))
		name[n - 4] = '\0';
	/* An archive analysis-icu-7.17.10 is analysis-icu for 7.17.10. */
	char *dash = strchr(arg, '/') ? strrchr(name, '-') : NULL;
	if (dash && isdigit((unsigned char)dash[1])) {
		free(version);
		version = xstrdup(dash + 1);
		*dash = '\0';
	}
	/* group:artifact:version from Maven Central (5.x, 6.x) */
	if (!strchr(arg, '/') && strchr(name, ':')) {
		char *first = strchr(name, ':'), *second = strchr(first + 1, ':');

		if (second) {
			free(version);
			version = xstrdup(second + 1);
			*second = '\0';
		}
		memmove(name, first + 1, strlen(first + 1) + 1);
	}
	out = json_pack("{s:s, s:s, s:s?}", "name", name, "version", version, "url",
			fetched ? arg : NULL);
	free(name);
	free(version);
	return out;
}

static bool is_install_cli(const char *word)
{
	size_t n = strlen(word);

	return (n >= 6 && !strcmp(word + n - 6, "plugin") &&
		(n == 6 || word[n - 7] == '/' || word[n - 7] == '-'));
}

/* Run the statements [from, to) of a script with vars, adding what the
 * install commands name to todo. */
static void sh_run(const json_t *stmts, size_t from, size_t to, json_t *vars, json_t *todo,
		   const char *cli_version)
{
	for (size_t i = from; i < to; i++) {
		const json_t *st = json_array_get(stmts, i);
		size_t k = 0;
		const char *w0;

		/* Keywords that only open or close a block. */
		while (k < json_array_size(st)) {
			const char *w = json_string_value(json_array_get(st, k));

			if (strcmp(w, "do") && strcmp(w, "then") && strcmp(w, "else") &&
			    strcmp(w, "fi") && strcmp(w, "{") && strcmp(w, "}"))
				break;
			k++;
		}
		if (k >= json_array_size(st))
			continue;
		w0 = json_string_value(json_array_get(st, k));
		if (!strcmp(w0, "for") && k + 2 < json_array_size(st) &&
		    !strcmp(json_string_value(json_array_get(st, k + 2)), "in")) {
			const char *var = json_string_value(json_array_get(st, k + 1));
			json_t *items = sh_expand_all(st, k + 3, vars);
			size_t end = i + 1;
			int depth = 1;
			size_t j;
			json_t *item;

			/* The loop's body: up to its own done. */
			for (; end < to; end++) {
				const json_t *s2 = json_array_get(stmts, end);
				const char *first = json_string_value(json_array_get(s2, 0));
				size_t m;
				json_t *x;

				json_array_foreach (s2, m, x) {
					if (!strcmp(json_string_value(x), "for") ||
					    !strcmp(json_string_value(x), "while"))
						depth++;
				}
				if (first && !strcmp(first, "done") && --depth == 0)
					break;
			}
			json_array_foreach (items, j, item) {
				json_object_set(vars, var, item);
				sh_run(stmts, i + 1, end, vars, todo, cli_version);
			}
			json_decref(items);
			i = end;
			continue;
		}
		/* NAME=value */
		const char *eq = strchr(w0, '=');
		if (eq && eq > w0 && json_array_size(st) == k + 1 && !strchr(w0, '$')) {
			json_t *v = json_array();
			char *name = xstrndup(w0, (size_t)(eq - w0));

			sh_expand(eq + 1, vars, v);
			json_object_set_new(
				vars, name,
				json_string(json_array_size(v)
						    ? json_string_value(json_array_get(v, 0))
						    : ""));
			free(name);
			json_decref(v);
			continue;
		}
		for (size_t m = k; m + 1 < json_array_size(st); m++) {
			const char *w = json_string_value(json_array_get(st, m));
			json_t *args;
			size_t a;
			json_t *arg;

			if (!is_install_cli(w) ||
			    strcmp(json_string_value(json_array_get(st, m + 1)), "install"))
				continue;
			args = sh_expand_all(st, m + 2, vars);
			json_array_foreach (args, a, arg) {
				const char *s = json_string_value(arg);

				if (s[0] == '-' || !s[0])
					continue;
				json_array_append_new(todo, plugin_wanted(s, cli_version));
			}
			json_decref(args);
			break;
		}
	}
}

/* The version of an image, from its tag; "7.17.0" without one. */
static const char *image_version(const char *image)
{
	const char *tag = image ? strrchr(image, ':') : NULL;

	return tag && tag[1] && !strchr(tag, '/') ? tag + 1 : "7.17.0";
}

/* Does a statement run the install command (in a loop or not)? */
static bool names_install(const json_t *stmts)
{
	size_t i, m;
	json_t *st, *w;

	json_array_foreach (stmts, i, st) {
		json_array_foreach (st, m, w) {
			json_t *next = json_array_get(st, m + 1);

			if (is_install_cli(json_string_value(w)) && next &&
			    !strcmp(json_string_value(next), "install"))
				return true;
		}
	}
	return false;
}

/* The first init container that installs plugins, and what it installs
 * ([] when its loop runs over nothing); NULL when none does. */
static json_t *install_plan(const json_t *pod, const json_t **container, bool *checks_installed)
{
	size_t i;
	json_t *ct;

	json_array_foreach (json_object_get(json_object_get(pod, "spec"), "initContainers"), i,
			    ct) {
		json_t *vars = json_object(), *todo = NULL, *stmts;
		char *text = xstrdup("");
		const char *keys[] = {"command", "args"};
		size_t j;
		json_t *e, *w;

		json_array_foreach (json_object_get(ct, "env"), j, e) {
			if (json_str(e, "name") && json_str(e, "value"))
				json_object_set_new(vars, json_str(e, "name"),
						    json_string(json_str(e, "value")));
		}
		/* sh -c SCRIPT reads as the script's statements. */
		for (size_t k = 0; k < 2; k++) {
			json_array_foreach (json_object_get(ct, keys[k]), j, w) {
				char *more =
					xasprintf("%s %s", text,
						  json_string_value(w) ? json_string_value(w) : "");

				free(text);
				text = more;
			}
		}
		stmts = sh_statements(text);
		if (names_install(stmts)) {
			todo = json_array();
			sh_run(stmts, 0, json_array_size(stmts), vars, todo,
			       image_version(json_str(ct, "image")));
			*checks_installed = strstr(text, "plugin-descriptor.properties") != NULL;
			*container = ct;
		}
		json_decref(stmts);
		json_decref(vars);
		free(text);
		if (todo)
			return todo;
	}
	return NULL;
}

static const char PLUGINS_MOUNT[] = "/usr/share/elasticsearch/plugins";

/* What `elasticsearch-plugin install` prints when the download fails,
 * with its exit code: an uncaught exception from 5.x (the JVM's 1; the
 * Installing, Failed installing and Rolling back lines from 7.10), 2.x's
 * "failed to download" with CliTool's IO_ERROR (74).  Java's
 * HttpURLConnection raises FileNotFoundException for a 404 or 410, an
 * IOException naming the code for the other errors.  The wording from
 * elastic/elasticsearch#15840 (2.x), the issue threads of plugin projects
 * quoting 5.x to 7.12 (e.g. alexklibisz/elastiknn#268,
 * codelibs/elasticsearch-analysis-kuromoji-ipadic-neologd#17). */
static char *install_failure(const struct plugin_install *in, const char *url,
			     const struct httpc_response *resp, int *exit_code)
{
	char *exc, *out, *host = NULL;
	const char *simple;

	if (resp->status == 404 || resp->status == 410) {
		exc = xasprintf("java.io.FileNotFoundException: %s", url);
	} else if (resp->status >= 300) {
		exc = xasprintf("java.io.IOException: Server returned HTTP response code: %ld for "
				"URL: %s",
				resp->status, url);
	} else if (resp->curl_code == 6) {
		const char *h = strstr(url, "://") ? strstr(url, "://") + 3 : url;

		host = xstrndup(h, strcspn(h, ":/"));
		exc = xasprintf("java.net.UnknownHostException: %s", host);
	} else if (resp->curl_code == 28) {
		exc = xstrdup("java.net.SocketTimeoutException: connect timed out");
	} else if (resp->curl_code == 7) {
		exc = xstrdup("java.net.ConnectException: Connection refused");
	} else {
		exc = xasprintf("java.io.IOException: %s",
				resp->error ? resp->error : "the download failed");
	}
	simple = strrchr(exc, '.') ? strrchr(exc, '.') + 1 : exc;
	if (version_code(in->cli_version) < 50000) {
		char *cls = xstrndup(simple, strcspn(simple, ":"));
		const char *detail = strchr(simple, ':') ? strchr(simple, ':') + 2 : "";

		out = xasprintf("-> Installing from %s...\nTrying %s ...\nFailed: %s[%s]; nested: "
				"%s[%s];\nERROR: failed to download out of all possible "
				"locations..., use --verbose to get detailed information",
				url, url, cls, detail, cls, detail);
		free(cls);
		*exit_code = 74;
	} else if (version_code(in->cli_version) >= 71000) {
		out = xasprintf("-> Installing %s\n-> Downloading %s\n-> Failed installing %s\n-> "
				"Rolling back %s\n-> Rolled back %s\nException in thread "
				"\"main\" %s",
				url, url, url, url, url, exc);
		*exit_code = 1;
	} else {
		out = xasprintf("-> Downloading %s\nException in thread \"main\" %s", url, exc);
		*exit_code = 1;
	}
	free(host);
	free(exc);
	return out;
}

static void install_next(struct plugin_install *in);

static void install_fetched(const struct httpc_response *resp, void *arg)
{
	struct plugin_install *in = arg;
	json_t *p = json_array_get(in->todo, in->next);

	in->call = NULL;
	if (resp->status >= 200 && resp->status < 300) {
		json_object_set(in->installed, json_str(p, "name"), json_object_get(p, "version"));
		in->next++;
		install_next(in);
	} else {
		in->state = SIM_INIT_FAILED;
		in->message = install_failure(in, json_str(p, "url"), resp, &in->exit_code);
	}
	controllers_kick();
}

/* Install the next plugins: those that need no download at once, then
 * the next download, or done. */
static void install_next(struct plugin_install *in)
{
	struct hostdir *d = in->folder ? hostfs_find(in->host, in->folder) : NULL;

	while (in->next < json_array_size(in->todo)) {
		json_t *p = json_array_get(in->todo, in->next);
		const char *name = json_str(p, "name"), *url = json_str(p, "url");
		const char *have = d ? json_str(d->plugins, name) : NULL;

		if (url &&
		    !(in->checks_installed && have && !strcmp(have, json_str(p, "version")))) {
			struct httpc_request req = {.url = url,
						    .timeout_ms = 30000,
						    .max_body = (size_t)1024 * 1024 * 1024,
						    .max_body_for = "a plugin archive"};

			in->call = httpc_send(plugin_http, &req, install_fetched, in);
			return;
		}
		json_object_set(in->installed, name, json_object_get(p, "version"));
		in->next++;
	}
	in->state = SIM_INIT_DONE;
}

/* The plugins folder after the install container ran (or failed). */
static void install_apply(const struct plugin_install *in)
{
	struct hostdir *d = in->folder ? hostfs_make(in->host, in->folder) : NULL;

	if (d) {
		json_decref(d->plugins);
		d->plugins = json_deep_copy(in->installed);
	} else {
		if (!pod_plugins)
			pod_plugins = json_object();
		json_object_set_new(pod_plugins, in->pod_uid, json_deep_copy(in->installed));
	}
}

enum sim_init sim_es_plugin_installs(const json_t *pod, const char *host, char **container,
				     char **message, int *exit_code)
{
	const char *uid = json_str(json_object_get(pod, "metadata"), "uid");
	struct plugin_install **pp = &installs, *in;
	enum sim_init state;

	while (*pp && strcmp((*pp)->pod_uid, uid ? uid : ""))
		pp = &(*pp)->next_install;
	in = *pp;
	if (!in) {
		const json_t *ct = NULL;
		bool checks = false;
		json_t *todo = install_plan(pod, &ct, &checks);
		const char *folder;

		if (!todo)
			return SIM_INIT_DONE;
		in = xcalloc(1, sizeof(*in));
		in->pod_uid = xstrdup(uid ? uid : "");
		in->container = xstrdup(json_str(ct, "name") ? json_str(ct, "name") : "");
		in->cli_version = xstrdup(image_version(json_str(ct, "image")));
		in->host = xstrdup(host);
		folder = hostfs_mount_path(pod, ct, PLUGINS_MOUNT);
		in->folder = folder ? xstrdup(folder) : NULL;
		in->todo = todo;
		in->installed = json_object();
		in->checks_installed = checks;
		in->state = SIM_INIT_RUNNING;
		if (!plugin_http)
			plugin_http = httpc_new(es_base);
		in->next_install = installs;
		installs = in;
		install_next(in);
		pp = &installs;
	}
	state = in->state;
	*container = xstrdup(in->container);
	if (state == SIM_INIT_RUNNING)
		return state;
	install_apply(in);
	*message = in->message ? xstrdup(in->message) : NULL;
	*exit_code = in->exit_code;
	*pp = in->next_install;
	install_free(in);
	return state;
}

/* The plugins a node loads: its plugins folder's. */
static json_t *plugins_of(const json_t *pod, const char *host)
{
	json_t *list = json_array(), *have = NULL, *v;
	size_t i;
	json_t *ct;
	const char *name;

	json_array_foreach (json_object_get(json_object_get(pod, "spec"), "containers"), i, ct) {
		const char *path = hostfs_mount_path(pod, ct, PLUGINS_MOUNT);
		struct hostdir *d = path ? hostfs_find(host, path) : NULL;

		if (d) {
			have = d->plugins;
			break;
		}
	}
	if (!have)
		have = json_object_get(pod_plugins,
				       json_str(json_object_get(pod, "metadata"), "uid"));
	json_object_foreach (have, name, v)
		json_array_append_new(list, json_string(name));
	return list;
}

/* --- shards ---------------------------------------------------------------------- */

static int copies_on(struct es_cluster *cl, const char *node)
{
	int n = 0;
	for (size_t i = 0; i < cl->nindices; i++) {
		struct es_index *ix = cl->indices[i];
		for (int s = 0; s < ix->nshards; s++) {
			for (int k = 0; k < ix->shards[s].ncopies; k++) {
				struct es_copy *cp = &ix->shards[s].copies[k];
				if ((cp->node && !strcmp(cp->node, node)) ||
				    (cp->target && !strcmp(cp->target, node)))
					n++;
			}
		}
	}
	return n;
}

/*
 * Recoveries and their throttling, as Elasticsearch does them
 * (https://www.elastic.co/guide/en/elasticsearch/reference/current/recovery.html,
 * modules-cluster.html#cluster-shard-allocation-settings; ThrottlingAllocationDecider):
 * a replica recovers from its primary's node and a relocation from the node
 * it leaves, copying the copy's files at indices.recovery.max_bytes_per_sec
 * (40mb) at most, a limit each node shares among the recoveries it sends
 * and receives; a node takes at most node_concurrent_incoming_recoveries
 * and sends at most node_concurrent_outgoing_recoveries at once (both from
 * node_concurrent_recoveries, 2), and recovers at most
 * node_initial_primaries_recoveries (4) primaries from its own disk.  A copy
 * over the limit is throttled: it stays unassigned (a relocation stays
 * where it is) until a recovery ends.  A primary from its node's disk or an
 * empty one, and a replica whose node's disk holds it, take recovery_ms.
 */
static bool same_name(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

static int64_t default_shard_bytes(void)
{
	/* The size that takes relocation_ms at the default 40mb a second. */
	return (int64_t)simconf_get()->relocation_ms * 40 * 1024 * 1024 / 1000;
}

static int setting_int(struct es_cluster *cl, const char *key, const char *fallback, int dflt)
{
	const char *v = setting(cl, key);
	char *end;
	long n;

	if (!v && fallback)
		v = setting(cl, fallback);
	if (!v)
		return dflt;
	n = strtol(v, &end, 10);
	return end != v && !*end && n >= 0 && n < 1000000 ? (int)n : dflt;
}

static int limit_incoming(struct es_cluster *cl)
{
	return setting_int(cl, "cluster.routing.allocation.node_concurrent_incoming_recoveries",
			   "cluster.routing.allocation.node_concurrent_recoveries", 2);
}

static int limit_outgoing(struct es_cluster *cl)
{
	return setting_int(cl, "cluster.routing.allocation.node_concurrent_outgoing_recoveries",
			   "cluster.routing.allocation.node_concurrent_recoveries", 2);
}

/* Bytes a second a node gives its recoveries; 0: no limit. */
static int64_t recovery_rate(struct es_cluster *cl)
{
	const char *v = setting(cl, "indices.recovery.max_bytes_per_sec");
	int64_t b;

	if (!v || !simconf_bytes(v, &b))
		return 40 * 1024 * 1024;
	return b > 0 ? b : 0;
}

/* The node a replica of sh would recover from: its active primary's. */
static const char *primary_node(const struct es_shard *sh)
{
	for (int k = 0; k < sh->ncopies; k++) {
		const struct es_copy *cp = &sh->copies[k];
		if (cp->primary && (cp->state == COPY_STARTED || cp->state == COPY_RELOCATING))
			return cp->node;
	}
	return NULL;
}

/* A copy's recovery: the node it recovers on and the one it copies from. */
static bool recovery_of(const struct es_shard *sh, const struct es_copy *cp, const char **to,
			const char **from)
{
	if (cp->state == COPY_RELOCATING && cp->target) {
		*to = cp->target;
		*from = cp->node;
		return true;
	}
	if (cp->state == COPY_INITIALIZING && cp->peer && cp->node) {
		*to = cp->node;
		*from = primary_node(sh);
		return true;
	}
	if (cp->state == COPY_INITIALIZING && cp->snapshot && cp->node) {
		*to = cp->node;
		*from = NULL;
		return true;
	}
	return false;
}

/* Peer recoveries into (incoming) or out of a node. */
static int recoveries(struct es_cluster *cl, const char *node, bool incoming)
{
	int n = 0;
	for (size_t i = 0; i < cl->nindices; i++) {
		struct es_index *ix = cl->indices[i];
		for (int s = 0; s < ix->nshards; s++) {
			for (int k = 0; k < ix->shards[s].ncopies; k++) {
				const char *to, *from;

				if (!recovery_of(&ix->shards[s], &ix->shards[s].copies[k], &to,
						 &from))
					continue;
				if (same_name(incoming ? to : from, node))
					n++;
			}
		}
	}
	return n;
}

/* Primaries recovering on a node from its own disk or an empty one. */
static int initial_primaries(struct es_cluster *cl, const char *node)
{
	int n = 0;
	for (size_t i = 0; i < cl->nindices; i++) {
		struct es_index *ix = cl->indices[i];
		for (int s = 0; s < ix->nshards; s++) {
			for (int k = 0; k < ix->shards[s].ncopies; k++) {
				struct es_copy *cp = &ix->shards[s].copies[k];
				if (cp->state == COPY_INITIALIZING && cp->primary && !cp->peer &&
				    !cp->snapshot && same_name(cp->node, node))
					n++;
			}
		}
	}
	return n;
}

/* Why a recovery onto node n, from source (NULL for a primary from disk),
 * must wait, or NULL; static text. */
static const char *throttling(struct es_cluster *cl, const struct es_node *n, const char *source)
{
	if (!source)
		return initial_primaries(cl, n->name) >=
				       setting_int(cl,
						   "cluster.routing.allocation.node_initial_"
						   "primaries_recoveries",
						   NULL, 4)
			       ? "primaries"
			       : NULL;
	if (recoveries(cl, n->name, true) >= limit_incoming(cl))
		return "incoming";
	if (recoveries(cl, source, false) >= limit_outgoing(cl))
		return "outgoing";
	return NULL;
}

static bool list_matches(const char *list, const char *value)
{
	if (!list || !*list || !value)
		return false;
	char *copy = xstrdup(list);
	bool hit = false;
	char *p = copy;
	while (p && !hit) {
		char *comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		while (*p == ' ')
			p++;
		if (*p && fnmatch(p, value, 0) == 0)
			hit = true;
		p = comma ? comma + 1 : NULL;
	}
	free(copy);
	return hit;
}

/* Must shards leave this node (allocation filters, a node shutdown)? */
static bool node_filtered(struct es_cluster *cl, const struct es_node *n)
{
	if (list_matches(setting(cl, "cluster.routing.allocation.exclude._name"), n->name) ||
	    list_matches(setting(cl, "cluster.routing.allocation.exclude._ip"), n->ip) ||
	    list_matches(setting(cl, "cluster.routing.allocation.exclude._host"), n->ip) ||
	    list_matches(setting(cl, "cluster.routing.allocation.exclude._host"), n->host) ||
	    list_matches(setting(cl, "cluster.routing.allocation.exclude._id"), n->id))
		return true;
	json_t *sd = json_object_get(cl->shutdowns, n->id);
	const char *type = json_str(sd, "type");
	return type && (!strcasecmp(type, "remove") || !strcasecmp(type, "replace"));
}

static bool has_copy_on(const struct es_shard *sh, const char *node)
{
	for (int k = 0; k < sh->ncopies; k++) {
		const struct es_copy *cp = &sh->copies[k];
		if ((cp->node && !strcmp(cp->node, node)) ||
		    (cp->target && !strcmp(cp->target, node)))
			return true;
	}
	return false;
}

static struct es_disk *disk_find(struct es_cluster *cl, const char *node, const char *host,
				 const char *index, int shard)
{
	for (size_t i = 0; i < cl->ndisks; i++) {
		struct es_disk *d = &cl->disks[i];
		if (!strcmp(d->index, index) && d->shard == shard &&
		    (!node || !strcmp(d->node, node)) && (!host || !strcmp(d->host, host)))
			return d;
	}
	return NULL;
}

/*
 * Where a node's shard copies are: the folder of its data path on its host
 * (what its pod mounts there), not its name, so that a node started on
 * another host, or over another folder, finds what that folder holds.  A
 * node without a host folder keeps them under its name.
 */
static const char *store_of(const struct es_node *n)
{
	return n->datadir ? n->datadir : n->name;
}

/* The index's metadata as its folder on a node's data path keeps it. */
static json_t *index_meta(const struct es_index *ix)
{
	json_t *meta =
		json_pack("{s:s, s:i, s:i, s:I}", "uuid", ix->uuid, "shards", ix->nshards,
			  "replicas", ix->nreplicas, "creation_date", (json_int_t)ix->created_ms);
	if (ix->analysis)
		json_object_set_new(meta, "analysis", json_deep_copy(ix->analysis));
	if (ix->mappings)
		json_object_set_new(meta, "mappings", json_deep_copy(ix->mappings));
	return meta;
}

static struct es_index *index_find(struct es_cluster *cl, const char *name);

/* The node's data path, when it is a folder on its host, holds the copy. */
static void folder_add_copy(struct es_cluster *cl, const struct es_node *n, const char *index,
			    int shard)
{
	struct hostdir *d = n->datadir && n->host ? hostfs_find(n->host, n->datadir) : NULL;
	struct es_index *ix = index_find(cl, index);
	if (!d || !ix)
		return;
	json_t *meta = index_meta(ix);
	hostfs_add_copy(d, index, meta, shard);
	json_decref(meta);
}

static void disk_add(struct es_cluster *cl, const struct es_node *n, const char *index, int shard)
{
	if (disk_find(cl, store_of(n), n->host, index, shard))
		return;
	cl->disks = xrealloc(cl->disks, (cl->ndisks + 1) * sizeof(*cl->disks));
	struct es_disk *d = &cl->disks[cl->ndisks++];
	d->node = xstrdup(store_of(n));
	d->host = xstrdup(n->host ? n->host : "");
	d->index = xstrdup(index);
	d->shard = shard;
	folder_add_copy(cl, n, index, shard);
}

static void disk_drop_index(struct es_cluster *cl, const char *index)
{
	size_t k = 0;
	for (size_t i = 0; i < cl->ndisks; i++) {
		if (!strcmp(cl->disks[i].index, index)) {
			free(cl->disks[i].node);
			free(cl->disks[i].host);
			free(cl->disks[i].index);
		} else {
			cl->disks[k++] = cl->disks[i];
		}
	}
	cl->ndisks = k;
}

/* The best data node for a copy of sh, or NULL; prefer a node whose disk
 * holds the shard, then the emptiest. */
/*
 * Analysis components that come from a plugin: a node without the plugin
 * cannot build the index's analyzers ("failed to find tokenizer under name
 * [icu_tokenizer]", AnalysisRegistry), so the index's shards fail there
 * (https://www.elastic.co/guide/en/elasticsearch/plugins/7.17/analysis.html;
 * the names from each plugin's page, e.g. analysis-icu.html).  The
 * allocator does not know: it places the copy, the node fails it, and the
 * master tries again, index.allocation.max_retries (5) times in all from
 * 5.0 (elastic/elasticsearch#18467; without end before), after which the
 * max_retry decider says no until POST _cluster/reroute?retry_failed=true
 * (https://www.elastic.co/guide/en/elasticsearch/reference/current/
 * cluster-reroute.html#cluster-reroute-api-query-params).
 */
static const struct {
	const char *name, *plugin;
} plugin_components[] = {
	{"icu_tokenizer", "analysis-icu"},
	{"icu_normalizer", "analysis-icu"},
	{"icu_folding", "analysis-icu"},
	{"icu_collation", "analysis-icu"},
	{"icu_transform", "analysis-icu"},
	{"icu_analyzer", "analysis-icu"},
	{"kuromoji", "analysis-kuromoji"},
	{"kuromoji_tokenizer", "analysis-kuromoji"},
	{"kuromoji_baseform", "analysis-kuromoji"},
	{"kuromoji_stemmer", "analysis-kuromoji"},
	{"smartcn", "analysis-smartcn"},
	{"smartcn_tokenizer", "analysis-smartcn"},
	{"nori", "analysis-nori"},
	{"nori_tokenizer", "analysis-nori"},
	{"phonetic", "analysis-phonetic"},
	{"polish", "analysis-stempel"},
	{"polish_stem", "analysis-stempel"},
	{"ukrainian", "analysis-ukrainian"},
};

static bool has_plugin(const struct es_node *n, const char *plugin)
{
	size_t j;
	json_t *p;

	json_array_foreach (n->plugins, j, p)
		if (!strcmp(json_string_value(p), plugin))
			return true;
	return false;
}

static bool plugin_component(const char *word, const struct es_node *n)
{
	for (size_t i = 0; word && i < ARRAY_SIZE(plugin_components); i++) {
		if (!strcmp(word, plugin_components[i].name))
			return !has_plugin(n, plugin_components[i].plugin);
	}
	return false;
}

/*
 * Why node n cannot build the index's analysis (settings.index.analysis:
 * {analyzer|tokenizer|filter|char_filter|normalizer: {name: {...}}}), as
 * AnalysisRegistry words it, or NULL when it can.  The caller frees it.
 */
static char *analysis_missing(const json_t *analysis, const struct es_node *n)
{
	static const struct {
		const char *section, *kind;
	} sections[] = {{"analyzer", "analyzer"},
			{"tokenizer", "tokenizer"},
			{"filter", "filter"},
			{"char_filter", "char_filter"},
			{"normalizer", "normalizer"}};

	for (size_t i = 0; i < ARRAY_SIZE(sections); i++) {
		const char *name;
		json_t *def;

		json_object_foreach (json_object_get(analysis, sections[i].section), name, def) {
			const char *type = json_str(def, "type");
			const char *tok = json_str(def, "tokenizer");
			static const char *const lists[] = {"filter", "char_filter"};

			if (plugin_component(type, n))
				return xasprintf("Unknown %s type [%s] for [%s]", sections[i].kind,
						 type, name);
			if (plugin_component(tok, n))
				return xasprintf("Custom Analyzer [%s] failed to find tokenizer "
						 "under name [%s]",
						 name, tok);
			for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
				size_t k;
				json_t *f;

				json_array_foreach (json_object_get(def, lists[l]), k, f) {
					if (plugin_component(json_string_value(f), n))
						return xasprintf("Custom Analyzer [%s] failed to "
								 "find %s under name [%s]",
								 name, lists[l],
								 json_string_value(f));
				}
			}
		}
	}
	return NULL;
}

/* index.allocation.max_retries: 5 from 5.0; before, no limit. */
static int max_retries(struct es_cluster *cl)
{
	return version_major(cluster_version(cl)) >= 5 ? 5 : 1 << 30;
}

/*
 * A copy just placed on a node that cannot build its index's analysis
 * fails there: unassigned again, ALLOCATION_FAILED, one more failed
 * attempt.  true when it failed.
 */
static bool copy_fails_on(struct es_cluster *cl, const struct es_index *ix, int s,
			  struct es_copy *cp, const struct es_node *n)
{
	char *why = analysis_missing(ix->analysis, n);

	if (!why)
		return false;
	free(cp->failure);
	cp->failure = xasprintf("failed shard on node [%s]: failed to create index, failure "
				"IllegalArgumentException[%s]",
				n->id, why);
	free(cp->failed_node);
	cp->failed_node = xstrdup(n->id);
	cp->failed_attempts++;
	log_info("elasticsearch %s: [%s][%d] %s, attempt %d", cl->ns, ix->name, s, cp->failure,
		 cp->failed_attempts);
	free(why);
	free(cp->node);
	free(cp->target);
	cp->node = cp->target = NULL;
	recovery_clear(&cp->reloc);
	cp->state = COPY_UNASSIGNED;
	cp->peer = false;
	cp->bytes_left = 0;
	cp->reason = "ALLOCATION_FAILED";
	cp->unassigned_at = now_wall_ms();
	cp->delayed_until = 0;
	return true;
}

/*
 * What an index's mappings need of a node's plugins: a field type a mapper
 * plugin registers, mapper-size's _size metadata field enabled, a plugin's
 * analyzer or normalizer named by a field.  A node without the plugin
 * cannot parse the mappings, and the shard does not open there ("No
 * handler for type [murmur3] declared on field [h]", MapperParsingException;
 * https://www.elastic.co/guide/en/elasticsearch/plugins/7.17/mapper.html,
 * mapper-size-usage.html, mapper-murmur3-usage.html,
 * mapper-annotated-text-usage.html).
 */
static const struct {
	const char *type;
	const char *plugin;
} plugin_field_types[] = {
	{"murmur3", "mapper-murmur3"},
	{"annotated_text", "mapper-annotated-text"},
};

static bool mappings_fit(const json_t *m, const struct es_node *n)
{
	const char *k;
	json_t *v;
	size_t i;
	if (json_is_array(m)) {
		json_array_foreach (m, i, v)
			if (!mappings_fit(v, n))
				return false;
		return true;
	}
	json_object_foreach ((json_t *)m, k, v) {
		if (!strcmp(k, "_size") && json_is_true(json_object_get(v, "enabled")) &&
		    !has_plugin(n, "mapper-size"))
			return false;
		if (json_is_string(v) &&
		    (!strcmp(k, "analyzer") || !strcmp(k, "search_analyzer") ||
		     !strcmp(k, "search_quote_analyzer") || !strcmp(k, "normalizer")) &&
		    plugin_component(json_string_value(v), n))
			return false;
		for (size_t t = 0;
		     json_is_string(v) && !strcmp(k, "type") && t < ARRAY_SIZE(plugin_field_types);
		     t++)
			if (!strcmp(json_string_value(v), plugin_field_types[t].type) &&
			    !has_plugin(n, plugin_field_types[t].plugin))
				return false;
		if ((json_is_object(v) || json_is_array(v)) && !mappings_fit(v, n))
			return false;
	}
	return true;
}

/* --- the disks' usage (sim/esdisk.h) ------------------------------------------------ */

static const char *setting_of(void *arg, const char *key)
{
	return setting(arg, key);
}

/*
 * The bytes of shard copies on a host's filesystem, of every cluster: the
 * files of each copy its folders hold (kept there after its node left, as
 * a data path keeps them), and what the recoveries onto its nodes have
 * copied so far.  Files of a copy that moved away stay counted: the
 * simulator keeps them on the disk (a node may come back to them).
 */
static int64_t host_copies_bytes(const char *host)
{
	int64_t used = 0;

	for (struct es_cluster *cl = clusters; cl; cl = cl->next) {
		for (size_t i = 0; i < cl->ndisks; i++) {
			struct es_index *ix = index_find(cl, cl->disks[i].index);
			if (ix && !strcmp(cl->disks[i].host, host))
				used += ix->shard_bytes;
		}
		for (size_t i = 0; i < cl->nindices; i++) {
			struct es_index *ix = cl->indices[i];
			for (int s = 0; s < ix->nshards; s++) {
				for (int k = 0; k < ix->shards[s].ncopies; k++) {
					struct es_copy *cp = &ix->shards[s].copies[k];
					const char *to = cp->state == COPY_RELOCATING ? cp->target
							 : cp->state == COPY_INITIALIZING ? cp->node
											  : NULL;
					struct es_node *n = to ? node_by_name(cl, to) : NULL;
					if (!n || !n->host || strcmp(n->host, host) != 0 ||
					    disk_find(cl, store_of(n), n->host, ix->name, s))
						continue;
					used += ix->shard_bytes -
						(cp->bytes_left > 0 ? cp->bytes_left : 0);
				}
			}
		}
	}
	return used;
}

/* A setting of a node's elasticsearch.yml (arg: the node, or NULL). */
static const char *file_setting_of(void *arg, const char *key)
{
	const struct es_node *n = arg;
	return n ? json_str(n->file, key) : NULL;
}

/* The filesystem of a node's data path: its host's; false without one. */
static bool node_usage(const struct es_node *n, struct esdisk_usage *u)
{
	if (!n->host)
		return false;
	u->total = esdisk_total(n->host);
	u->used = host_copies_bytes(n->host) + esdisk_other(n->host);
	if (u->used > u->total)
		u->used = u->total;
	u->avail = u->total - u->used;
	return true;
}

static int data_nodes_present(struct es_cluster *cl)
{
	int k = 0;
	for (size_t i = 0; i < cl->nnodes; i++)
		k += cl->nodes[i]->present && (cl->nodes[i]->roles & ROLE_DATA);
	return k;
}

/* The disk threshold decider's NO for a copy of shard s on node n, or NULL
 * (newly allocated); has_files: the node's disk holds the copy already. */
static char *disk_says_no(struct es_cluster *cl, const struct es_node *n, const struct es_index *ix,
			  bool new_primary, bool has_files)
{
	struct esdisk_usage u;
	struct esdisk_marks m;
	int vcode = version_code(cluster_version(cl));

	if (!node_usage(n, &u))
		return NULL;
	esdisk_marks(vcode, setting_of, cl, &m);
	return esdisk_refusal(vcode, &m, &u, data_nodes_present(cl), new_primary,
			      has_files ? 0 : ix->shard_bytes);
}

/* The node a copy of shard s goes to; source is the node a replica or a
 * relocation would copy from, NULL for a primary. */
static struct es_node *pick_node(struct es_cluster *cl, struct es_index *ix, int s, bool need_disk,
				 const char *source, bool *disk)
{
	struct es_node *best = NULL;
	int best_load = 1 << 30;
	bool best_disk = false;
	for (size_t i = 0; i < cl->nnodes; i++) {
		struct es_node *n = cl->nodes[i];
		if (!n->present || !(n->roles & ROLE_DATA) || node_filtered(cl, n))
			continue;
		if (has_copy_on(&ix->shards[s], n->name) || !mappings_fit(ix->mappings, n))
			continue;
		if (throttling(cl, n, source))
			continue;
		/* No copy recovers from a newer node onto an older one: a
		 * replica never goes below its primary's version, a relocation
		 * never to an older node (NodeVersionAllocationDecider, "cannot
		 * allocate replica shard to a node with version [x] since this is
		 * older than the primary version [y]"; why a mixed cluster is
		 * only for the time of a rolling upgrade,
		 * https://www.elastic.co/guide/en/elasticsearch/reference/7.17/rolling-upgrades.html). */
		const struct es_node *from = source ? node_by_name(cl, source) : NULL;
		if (from && version_code(n->version) < version_code(from->version))
			continue;
		bool d = disk_find(cl, store_of(n), n->host, ix->name, s) != NULL;
		if (need_disk && !d)
			continue;
		/* Above the low watermark a node takes no replica, no relocation
		 * and no restored primary; a primary whose files the node holds
		 * is forced past it (need_disk: AllocationDecider's
		 * canForceAllocatePrimary), a new one stops at the high
		 * watermark (DiskThresholdDecider.canAllocate). */
		if (!need_disk) {
			char *no = disk_says_no(cl, n, ix, !source && !ix->shards[s].restoring, d);
			bool refused = no != NULL;
			free(no);
			if (refused)
				continue;
		}
		int load = copies_on(cl, n->name);
		if ((d && !best_disk) || (d == best_disk && load < best_load)) {
			best = n;
			best_load = load;
			best_disk = d;
		}
	}
	*disk = best_disk;
	return best;
}

static void start_copy(struct es_copy *cp, const struct es_index *ix, struct es_node *n, bool disk,
		       int64_t now)
{
	cp->state = COPY_INITIALIZING;
	free(cp->node);
	cp->node = xstrdup(n->name);
	cp->from_disk = disk;
	/* A replica recovers from its primary; from an empty store or the
	 * node's own disk the files are there already. */
	cp->peer = !cp->primary;
	cp->bytes_left = (disk || cp->primary) ? 0 : ix->shard_bytes;
	cp->moved_at = now;
	cp->done_at = (disk || cp->primary) ? now + simconf_get()->recovery_ms : now;
	/* A restored primary copies its files from the repository
	 * (RecoverySource.SnapshotRecoverySource), at the node's recovery
	 * rate. */
	cp->snapshot = false;
	const struct es_shard *own = NULL;
	for (int k = 0; k < ix->nshards; k++) {
		struct es_shard *sh = &ix->shards[k];
		if (cp >= sh->copies && cp < sh->copies + sh->ncopies)
			own = sh;
		if (cp >= sh->copies && cp < sh->copies + sh->ncopies && cp->primary &&
		    sh->restoring && !disk) {
			cp->snapshot = true;
			cp->bytes_left = ix->shard_bytes;
			cp->done_at = now;
		}
	}
	/* The recovery it starts (RecoverySource: a primary from an empty
	 * store, its node's disk or the snapshot; a replica from its
	 * primary, reusing the files its node's disk holds). */
	if (cp->snapshot)
		recovery_begin(&cp->rec, REC_SNAPSHOT, NULL, ix->shard_bytes, 0);
	else if (cp->primary)
		recovery_begin(&cp->rec, disk ? REC_EXISTING_STORE : REC_EMPTY_STORE, NULL,
			       disk ? ix->shard_bytes : 0, disk ? ix->shard_bytes : 0);
	else
		recovery_begin(&cp->rec, REC_PEER_REPLICA, own ? primary_node(own) : NULL,
			       ix->shard_bytes, disk ? ix->shard_bytes : 0);
}

static void allocate(struct es_cluster *cl, int64_t now)
{
	const char *enable = setting(cl, "cluster.routing.allocation.enable");
	if (!enable)
		enable = "all";
	for (size_t i = 0; i < cl->nindices; i++) {
		struct es_index *ix = cl->indices[i];
		for (int s = 0; s < ix->nshards; s++) {
			struct es_shard *sh = &ix->shards[s];
			struct es_copy *primary = NULL;
			for (int k = 0; k < sh->ncopies; k++) {
				if (sh->copies[k].primary)
					primary = &sh->copies[k];
			}
			/* Primaries first. */
			if (primary && primary->state == COPY_UNASSIGNED &&
			    primary->failed_attempts < max_retries(cl)) {
				bool fresh = !sh->ever_started;
				bool allowed = !strcmp(enable, "all") ||
					       !strcmp(enable, "primaries") ||
					       (fresh && !strcmp(enable, "new_primaries"));
				bool disk;
				struct es_node *n =
					allowed ? pick_node(cl, ix, s, !fresh, NULL, &disk) : NULL;
				if (n && copy_fails_on(cl, ix, s, primary, n))
					n = NULL;
				if (n) {
					start_copy(primary, ix, n, disk, now);
					if (sh->lost) {
						sh->lost = false;
						record_shard_recovered(cl->ns, ix->name, s,
								       n->name);
					}
				}
			}
			bool primary_active = primary && (primary->state == COPY_STARTED ||
							  primary->state == COPY_RELOCATING);
			for (int k = 0; k < sh->ncopies; k++) {
				struct es_copy *cp = &sh->copies[k];
				if (cp->primary || cp->state != COPY_UNASSIGNED ||
				    !primary_active || cp->failed_attempts >= max_retries(cl))
					continue;
				if (strcmp(enable, "all") != 0)
					continue;
				bool disk;
				struct es_node *n =
					pick_node(cl, ix, s, false, primary_node(sh), &disk);
				if (!n)
					continue;
				/* A node-left copy waits for its node, unless another
				 * node has its data. */
				if (cp->delayed_until > now && !disk)
					continue;
				if (copy_fails_on(cl, ix, s, cp, n))
					continue;
				start_copy(cp, ix, n, disk, now);
				/* A replica whose node's disk does not hold it copies
				 * the primary's files: a peer recovery.  (One from disk
				 * replays only what it missed: not modelled as a copy.) */
				if (!disk)
					record_peer_recovery(cl->ns, ix->name, s, primary_node(sh),
							     n->name, "replica");
			}
			/* Copies on filtered nodes move away. */
			for (int k = 0; k < sh->ncopies; k++) {
				struct es_copy *cp = &sh->copies[k];
				if (cp->state != COPY_STARTED)
					continue;
				struct es_node *on = node_by_name(cl, cp->node);
				if (!on || !node_filtered(cl, on))
					continue;
				bool may = !strcmp(enable, "all") ||
					   (cp->primary && !strcmp(enable, "primaries"));
				if (!may)
					continue;
				bool disk;
				struct es_node *n = pick_node(cl, ix, s, false, cp->node, &disk);
				if (!n)
					continue;
				cp->state = COPY_RELOCATING;
				cp->target = xstrdup(n->name);
				recovery_begin(&cp->reloc, REC_PEER_RELOCATION, cp->node,
					       ix->shard_bytes, disk ? ix->shard_bytes : 0);
				record_peer_recovery(cl->ns, ix->name, s, cp->node, n->name,
						     "relocation");
				cp->bytes_left = ix->shard_bytes;
				cp->moved_at = now;
				cp->done_at = now;
			}
		}
	}
}

/* Bring a peer recovery's bytes down: its share of the rate of the node
 * it recovers on and of the node it copies from, whichever is smaller. */
static void copy_files(struct es_cluster *cl, const struct es_shard *sh, struct es_copy *cp,
		       int64_t rate, int64_t now)
{
	const char *to, *from;
	int64_t elapsed = now - cp->moved_at;

	cp->moved_at = now;
	if (cp->bytes_left <= 0 || !recovery_of(sh, cp, &to, &from))
		return;
	if (rate == 0) {
		cp->bytes_left = 0;
		return;
	}
	int in = recoveries(cl, to, true), out = from ? recoveries(cl, from, false) : 1;
	int share = in > out ? in : out;
	cp->bytes_left -= rate * elapsed / 1000 / (share > 0 ? share : 1);
}

static void progress(struct es_cluster *cl, int64_t now)
{
	int64_t rate = recovery_rate(cl);

	for (size_t i = 0; i < cl->nindices; i++) {
		struct es_index *ix = cl->indices[i];
		for (int s = 0; s < ix->nshards; s++) {
			struct es_shard *sh = &ix->shards[s];
			for (int k = 0; k < sh->ncopies; k++)
				copy_files(cl, sh, &sh->copies[k], rate, now);
			for (int k = 0; k < sh->ncopies; k++) {
				struct es_copy *cp = &sh->copies[k];
				bool ended = now >= cp->done_at && cp->bytes_left <= 0;
				if (cp->state == COPY_INITIALIZING && ended) {
					cp->peer = false;
					cp->failed_attempts = 0;
					cp->state = COPY_STARTED;
					cp->reason = NULL;
					cp->delayed_until = 0;
					cp->snapshot = false;
					sh->ever_started = true;
					sh->restoring = false;
					cp->rec.stop_ms = now_wall_ms();
				} else if (cp->state == COPY_RELOCATING && ended) {
					free(cp->node);
					cp->node = cp->target;
					cp->target = NULL;
					cp->state = COPY_STARTED;
					/* The moved copy's last recovery is the move. */
					recovery_clear(&cp->rec);
					cp->rec = cp->reloc;
					memset(&cp->reloc, 0, sizeof(cp->reloc));
					cp->rec.stop_ms = now_wall_ms();
				} else {
					continue;
				}
				struct es_node *n = node_by_name(cl, cp->node);
				if (n)
					disk_add(cl, n, ix->name, s);
			}
		}
	}
}

static void unassign(struct es_copy *cp, const char *reason, int64_t delay_until)
{
	free(cp->node);
	free(cp->target);
	cp->node = cp->target = NULL;
	recovery_clear(&cp->reloc);
	cp->state = COPY_UNASSIGNED;
	cp->peer = false;
	cp->bytes_left = 0;
	cp->reason = reason;
	cp->unassigned_at = now_wall_ms();
	cp->delayed_until = delay_until;
}

static void node_left(struct es_cluster *cl, struct es_node *n, int64_t now)
{
	int64_t delay = now + simconf_get()->node_left_delay_ms;
	log_info("elasticsearch %s: node %s left", cl->ns, n->name);
	for (size_t i = 0; i < cl->nindices; i++) {
		struct es_index *ix = cl->indices[i];
		for (int s = 0; s < ix->nshards; s++) {
			struct es_shard *sh = &ix->shards[s];
			for (int k = 0; k < sh->ncopies; k++) {
				struct es_copy *cp = &sh->copies[k];
				/* A relocation towards the node is cancelled. */
				if (cp->target && !strcmp(cp->target, n->name)) {
					free(cp->target);
					cp->target = NULL;
					cp->state = COPY_STARTED;
					recovery_clear(&cp->reloc);
				}
				if (!cp->node || strcmp(cp->node, n->name) != 0)
					continue;
				bool was_primary = cp->primary;
				bool was_active =
					cp->state == COPY_STARTED || cp->state == COPY_RELOCATING;
				unassign(cp, "NODE_LEFT", delay);
				if (!was_primary)
					continue;
				/* Promote an active replica. */
				struct es_copy *promoted = NULL;
				for (int r = 0; r < sh->ncopies; r++) {
					struct es_copy *o = &sh->copies[r];
					if (o != cp && (o->state == COPY_STARTED ||
							o->state == COPY_RELOCATING)) {
						promoted = o;
						break;
					}
				}
				if (promoted) {
					promoted->primary = true;
					cp->primary = false;
				} else if (sh->ever_started && was_active) {
					cp->delayed_until = 0;
					sh->lost = true;
					log_warn("elasticsearch %s: shard [%s][%d] lost with node "
						 "%s",
						 cl->ns, ix->name, s, n->name);
					record_lost_shard(cl->ns, ix->name, s, n->name);
				} else {
					cp->delayed_until = 0;
				}
			}
		}
	}
}

static struct es_index *index_find(struct es_cluster *cl, const char *name)
{
	for (size_t i = 0; i < cl->nindices; i++) {
		if (!strcmp(cl->indices[i]->name, name))
			return cl->indices[i];
	}
	return NULL;
}

static struct es_index *index_create(struct es_cluster *cl, const char *name, int shards,
				     int replicas)
{
	struct es_index *ix = xcalloc(1, sizeof(*ix));
	char uuid[23];
	random_id(uuid, 22);
	ix->name = xstrdup(name);
	ix->uuid = xstrdup(uuid);
	ix->nshards = shards;
	ix->nreplicas = replicas;
	ix->created_ms = now_wall_ms();
	/* The oldest version among the nodes: a mixed cluster creates
	 * indices that its oldest nodes can read (MetadataCreateIndexService,
	 * the index's version.created is the smallest non-client node's). */
	ix->created_version = xstrdup(cluster_version(cl) ? cluster_version(cl) : "");
	ix->shard_bytes = default_shard_bytes();
	ix->shards = xcalloc((size_t)shards, sizeof(*ix->shards));
	for (int s = 0; s < shards; s++) {
		ix->shards[s].ncopies = replicas + 1;
		ix->shards[s].copies = xcalloc((size_t)replicas + 1, sizeof(struct es_copy));
		for (int k = 0; k <= replicas; k++) {
			ix->shards[s].copies[k].primary = k == 0;
			ix->shards[s].copies[k].reason = "INDEX_CREATED";
			ix->shards[s].copies[k].unassigned_at = ix->created_ms;
		}
	}
	cl->indices = xrealloc(cl->indices, (cl->nindices + 1) * sizeof(*cl->indices));
	cl->indices[cl->nindices++] = ix;
	log_info("elasticsearch %s: index %s created (%d shards, %d replicas)", cl->ns, name,
		 shards, replicas);
	return ix;
}

static void index_free(struct es_index *ix)
{
	json_decref(ix->analysis);
	json_decref(ix->mappings);

	for (int s = 0; s < ix->nshards; s++) {
		for (int k = 0; k < ix->shards[s].ncopies; k++) {
			free(ix->shards[s].copies[k].node);
			free(ix->shards[s].copies[k].target);
			free(ix->shards[s].copies[k].failure);
			free(ix->shards[s].copies[k].failed_node);
			recovery_clear(&ix->shards[s].copies[k].rec);
			recovery_clear(&ix->shards[s].copies[k].reloc);
		}
		free(ix->shards[s].copies);
	}
	free(ix->shards);
	free(ix->name);
	free(ix->uuid);
	free(ix->created_version);
	json_decref(ix->restored_from);
	free(ix);
}

/* --- health ----------------------------------------------------------------------- */

struct health {
	const char *status;
	int nodes, data_nodes;
	int active_primary, active, relocating, initializing, unassigned, delayed,
		unassigned_primary;
	int total;
};

static int status_rank(const char *s)
{
	return !strcmp(s, "green") ? 0 : !strcmp(s, "yellow") ? 1 : 2;
}

static void compute_health(struct es_cluster *cl, const char *only, struct health *h)
{
	int64_t now = now_mono_ms();
	int worst = 0;
	memset(h, 0, sizeof(*h));
	for (size_t i = 0; i < cl->nnodes; i++) {
		if (!cl->nodes[i]->present)
			continue;
		h->nodes++;
		if (cl->nodes[i]->roles & ROLE_DATA)
			h->data_nodes++;
	}
	for (size_t i = 0; i < cl->nindices; i++) {
		struct es_index *ix = cl->indices[i];
		if (only && !list_matches(only, ix->name))
			continue;
		for (int s = 0; s < ix->nshards; s++) {
			struct es_shard *sh = &ix->shards[s];
			for (int k = 0; k < sh->ncopies; k++) {
				struct es_copy *cp = &sh->copies[k];
				h->total++;
				bool active =
					cp->state == COPY_STARTED || cp->state == COPY_RELOCATING;
				if (active) {
					h->active++;
					if (cp->primary)
						h->active_primary++;
				}
				if (cp->state == COPY_RELOCATING)
					h->relocating++;
				if (cp->state == COPY_INITIALIZING)
					h->initializing++;
				if (cp->state == COPY_UNASSIGNED) {
					h->unassigned++;
					if (cp->primary)
						h->unassigned_primary++;
					if (cp->delayed_until > now)
						h->delayed++;
				}
				if (active)
					continue;
				if (!cp->primary)
					worst = worst > 1 ? worst : 1;
				else if (cp->state == COPY_INITIALIZING && !sh->ever_started)
					worst = worst > 1 ? worst : 1; /* a new index: yellow */
				else
					worst = 2;
			}
		}
	}
	if (faults_cluster_red(cl->ns))
		worst = 2;
	h->status = worst == 0 ? "green" : worst == 1 ? "yellow" : "red";
}

static json_t *health_json(struct es_cluster *cl, const struct health *h, bool timed_out)
{
	json_t *o =
		json_pack("{s:s, s:s, s:b, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}",
			  "cluster_name", cl->name, "status", h->status, "timed_out", timed_out,
			  "number_of_nodes", h->nodes, "number_of_data_nodes", h->data_nodes,
			  "active_primary_shards", h->active_primary, "active_shards", h->active,
			  "relocating_shards", h->relocating, "initializing_shards",
			  h->initializing, "unassigned_shards", h->unassigned,
			  "delayed_unassigned_shards", h->delayed, "number_of_pending_tasks", 0,
			  "number_of_in_flight_fetch", 0, "task_max_waiting_in_queue_millis", 0);
	/* From 8.16 (elastic/elasticsearch#112024). */
	if (version_code(cluster_version(cl)) >= 81600)
		json_object_set_new(o, "unassigned_primary_shards",
				    json_integer(h->unassigned_primary));
	json_object_set_new(o, "active_shards_percent_as_number",
			    json_real(h->total ? 100.0 * h->active / h->total : 100.0));
	return o;
}

/* wait_for_nodes: "N", ">=N", "<=N", ">N", "<N", "ge(N)", "le(N)", "gt(N)", "lt(N)". */
static bool nodes_ok(const char *spec, int n)
{
	int want;
	if (!spec || !*spec)
		return true;
	char op[3] = "";
	const char *num = spec;
	if (!strncmp(spec, ">=", 2) || !strncmp(spec, "<=", 2)) {
		memcpy(op, spec, 2);
		num = spec + 2;
	} else if (spec[0] == '>' || spec[0] == '<') {
		op[0] = spec[0];
		num = spec + 1;
	} else if (strlen(spec) > 4 && spec[2] == '(' && spec[strlen(spec) - 1] == ')') {
		static const char *const fn[] = {"ge", ">=", "le", "<=", "gt", ">", "lt", "<"};
		for (int i = 0; i < 8; i += 2) {
			if (!strncmp(spec, fn[i], 2))
				str_copy_trunc(op, fn[i + 1], sizeof(op));
		}
		char buf[16];
		size_t len = strlen(spec) - 4;
		if (len >= sizeof(buf))
			return false;
		memcpy(buf, spec + 3, len);
		buf[len] = '\0';
		if (!parse_int(buf, 0, 100000, &want))
			return false;
		goto compare;
	}
	if (!parse_int(num, 0, 100000, &want))
		return false;
compare:
	if (!strcmp(op, ">="))
		return n >= want;
	if (!strcmp(op, "<="))
		return n <= want;
	if (!strcmp(op, ">"))
		return n > want;
	if (!strcmp(op, "<"))
		return n < want;
	return n == want;
}

static bool master_present(struct es_cluster *cl)
{
	return cl->master && present(cl, cl->master);
}

/* The node in pod has joined the cluster and sees its master: a node that
 * has not (its HTTP opened after discovery.initial_state_timeout) answers
 * what needs a master with master_not_discovered_exception. */
static bool node_sees_master(struct es_cluster *cl, const char *pod)
{
	struct es_node *n = pod ? node_by_pod(cl, pod) : NULL;

	return master_present(cl) && (!n || n->present);
}

/* Health request satisfied?  Fills *h. */
static bool health_ready(struct es_cluster *cl, struct call *c, const char *only, struct health *h)
{
	compute_health(cl, only, h);
	const char *ws = call_param(c, "wait_for_status");
	if (ws && status_rank(h->status) > status_rank(ws))
		return false;
	if (!nodes_ok(call_param(c, "wait_for_nodes"), h->nodes))
		return false;
	if (call_param_bool(c, "wait_for_no_relocating_shards", false) && h->relocating)
		return false;
	if (call_param_bool(c, "wait_for_no_initializing_shards", false) && h->initializing)
		return false;
	const char *wa = call_param(c, "wait_for_active_shards");
	int n;
	if (wa && !strcmp(wa, "all") && h->active < h->total)
		return false;
	if (wa && parse_int(wa, 0, 1000000, &n) && h->active < n)
		return false;
	/* wait_for_events: no cluster-state task is ever pending here. */
	return true;
}

/* --- waits ------------------------------------------------------------------------- */

static void park(enum wait_kind kind, struct es_cluster *cl, struct call *c, const char *pod,
		 const char *path, int64_t timeout_ms)
{
	struct es_wait *w = xcalloc(1, sizeof(*w));
	w->kind = kind;
	w->c = c;
	w->ns = xstrdup(cl->ns);
	w->node = xstrdup(pod);
	w->path = xstrdup(path);
	w->deadline = now_mono_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
	w->next = waits;
	waits = w;
	call_park(c);
}

static void wait_free(struct es_wait *w)
{
	free(w->ns);
	free(w->node);
	free(w->path);
	free(w->index);
	json_decref(w->answer);
	free(w);
}

static int64_t param_ms(struct call *c, const char *name, int64_t def)
{
	int64_t ms;
	const char *v = call_param(c, name);
	if (v && call_parse_duration_ms(v, &ms))
		return ms;
	return def;
}

static void no_master(struct call *c)
{
	call_reply_json(c, 503,
			json_pack("{s:{s:[{s:s, s:n}], s:s, s:n}, s:i}", "error", "root_cause",
				  "type", "master_not_discovered_exception", "reason", "type",
				  "master_not_discovered_exception", "reason", "status", 503));
}

static struct es_cluster *cluster_find(const char *ns)
{
	for (struct es_cluster *cl = clusters; cl; cl = cl->next) {
		if (!strcmp(cl->ns, ns))
			return cl;
	}
	return NULL;
}

static bool voting_excluded_present(struct es_cluster *cl)
{
	size_t i;
	json_t *e;
	json_array_foreach (cl->voting_exclusions, i, e) {
		if (present(cl, json_str(e, "node_name")))
			return true;
	}
	return false;
}

static bool index_active(struct es_cluster *cl, const char *name)
{
	struct es_index *ix = index_find(cl, name);
	if (!ix)
		return true;
	for (int s = 0; s < ix->nshards; s++) {
		for (int k = 0; k < ix->shards[s].ncopies; k++) {
			struct es_copy *cp = &ix->shards[s].copies[k];
			if (cp->primary && cp->state != COPY_STARTED &&
			    cp->state != COPY_RELOCATING)
				return false;
		}
	}
	return true;
}

/* Answer the waits that can be answered; true if w is done. */
static bool wait_step(struct es_wait *w, int64_t now)
{
	struct es_cluster *cl = cluster_find(w->ns);
	struct call *c = w->c;
	bool expired = now >= w->deadline;
	if (call_gone(c)) {
		call_free(c);
		return true;
	}
	if (!cl) {
		if (expired) {
			no_master(c);
			return true;
		}
		return false;
	}
	switch (w->kind) {
	case WAIT_MASTER:
		if (node_sees_master(cl, w->node)) {
			dispatch(cl, c, w->node, w->path, NULL);
			return true;
		}
		if (expired) {
			no_master(c);
			return true;
		}
		return false;
	case WAIT_HEALTH: {
		struct health h;
		const char *only = NULL;
		if (!strncmp(w->path, "/_cluster/health/", 17) && w->path[17])
			only = w->path + 17;
		if (!node_sees_master(cl, w->node)) {
			if (expired) {
				no_master(c);
				return true;
			}
			return false;
		}
		if (health_ready(cl, c, only, &h)) {
			call_reply_json(c, 200, health_json(cl, &h, false));
			return true;
		}
		if (expired) {
			call_reply_json(c, 408, health_json(cl, &h, true));
			return true;
		}
		return false;
	}
	case WAIT_VOTING_CLEAR:
		if (!voting_excluded_present(cl)) {
			json_array_clear(cl->voting_exclusions);
			call_reply_text(c, 200, NULL, "");
			return true;
		}
		if (expired) {
			sim_es_error(
				c, 500, "timeout_exception",
				"timed out waiting for removal of nodes; if nodes should not be "
				"removed, set waitForRemoval to false.");
			return true;
		}
		return false;
	case WAIT_SNAPSHOT: {
		json_t *rec = running_snapshot_by_uuid(cl, w->index);
		if (rec)
			return false;
		json_t *done = finished_by_uuid(w->index);
		if (!done) {
			/* Deleted while it ran: aborted. */
			sim_es_error(c, 500, "snapshot_exception", "[%s] Snapshot was aborted",
				     w->index);
			return true;
		}
		call_reply_json(c, 200,
				json_pack("{s:o}", "snapshot",
					  snapshot_info(done, version_code(cluster_version(cl)))));
		return true;
	}
	case WAIT_RESTORE: {
		size_t i;
		json_t *name;
		json_array_foreach (json_object_get(w->answer, "indices"), i, name) {
			if (!index_active(cl, json_string_value(name)))
				return false;
		}
		json_t *a = json_deep_copy(w->answer);
		int total = (int)json_integer_value(json_object_get(a, "total"));
		json_object_del(a, "total");
		json_object_set_new(a, "shards",
				    json_pack("{s:i, s:i, s:i}", "total", total, "failed", 0,
					      "successful", total));
		call_reply_json(c, 200, json_pack("{s:o}", "snapshot", a));
		return true;
	}
	case WAIT_DOC:
		return doc_wait_step(cl, w, expired);
	case WAIT_INDEX_ACTIVE: {
		bool active = index_active(cl, w->index);
		if (active || expired) {
			call_reply_json(c, 200,
					json_pack("{s:b, s:b, s:s}", "acknowledged", 1,
						  "shards_acknowledged", active, "index",
						  w->index));
			return true;
		}
		return false;
	}
	}
	return true;
}

static void run_waits(void)
{
	int64_t now = now_mono_ms();
	struct es_wait **pp = &waits;
	/* A dispatch from a wait may park again (at the head): take the list first. */
	struct es_wait *list = waits, *keep = NULL;
	waits = NULL;
	while (list) {
		struct es_wait *w = list;
		list = w->next;
		if (wait_step(w, now)) {
			wait_free(w);
		} else {
			w->next = keep;
			keep = w;
		}
	}
	pp = &waits;
	while (*pp)
		pp = &(*pp)->next;
	*pp = keep;
}

/* --- a node's elasticsearch.yml at start ------------------------------------------ */

/*
 * Settings a version no longer knows.  From 5.0 a node exits at start on a
 * setting it does not know: "unknown setting [x] please check that any
 * required plugins are installed, or check the breaking changes
 * documentation for removed settings" (AbstractScopedSettings.validate,
 * https://www.elastic.co/guide/en/elasticsearch/reference/5.0/breaking_50_settings_changes.html).
 * The simulator knows the removed ones only: the bulk and index thread
 * pools (7.0, breaking-changes-7.0.html "Thread pool changes"), the
 * node-count gateway settings (8.0, migrating-8.0.html).
 */
static const struct {
	const char *prefix;
	int removed_in;
} removed_settings[] = {
	{"thread_pool.bulk.", 7},
	{"thread_pool.index.", 7},
	{"gateway.expected_nodes", 8},
	{"gateway.expected_master_nodes", 8},
	{"gateway.recover_after_nodes", 8},
	{"gateway.recover_after_master_nodes", 8},
	/* The role booleans, replaced by node.roles in 7.9 and gone in 8.0
	 * (breaking-changes-8.0.html, "node.x settings removed"). */
	{"node.master", 8},
	{"node.data", 8},
	{"node.ingest", 8},
	{"node.ml", 8},
	{"node.transform", 8},
	{"node.remote_cluster_client", 8},
	/* https://github.com/elastic/elasticsearch/pull/114207 (9.0.0,
	 * "Remove cluster.routing.allocation.disk.watermark.enable_for_single_data_node"). */
	{"cluster.routing.allocation.disk.watermark.enable_for_single_data_node", 9},
};

/*
 * Role settings a node does not know before they came, or without X-Pack
 * (the -oss images, and every image before 6.3): node.ml from 6.3 with
 * X-Pack, node.transform and node.remote_cluster_client from 7.7, the
 * first with X-Pack only (reference/7.8/modules-node.html).
 */
static const struct {
	const char *key;
	int since; /* version_code() */
	bool xpack;
} introduced_settings[] = {
	{"node.ml", 60300, true},
	{"node.transform", 70700, true},
	{"node.remote_cluster_client", 70700, false},
};

/* A byte size as ByteSizeValue.parseBytesSizeValue takes it: digits, an
 * optional fraction, a unit (b, kb, mb, gb, tb, pb, any case) or -1/0. */
static bool byte_size_ok(const char *v)
{
	char *end;
	double n = strtod(v, &end);
	if (end == v || n < -1)
		return false;
	if (!*end)
		return !strcmp(v, "-1") || !strcmp(v, "0");
	static const char *const units[] = {"b",  "k", "kb", "m", "mb", "g",
					    "gb", "t", "tb", "p", "pb"};
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (!strcasecmp(end, units[i]))
			return true;
	return false;
}

/* Static byte-size settings: a value that is not one stops the node, e.g.
 * "failed to parse setting [http.max_content_length] with value [x] as a
 * size in bytes: unit is missing or unrecognized" (ByteSizeValue). */
static const char *const byte_size_settings[] = {
	"http.max_content_length",
	"http.max_initial_line_length",
	"http.max_header_size",
};

/* What a node of 5.0+ says, and exits, on a setting it does not know. */
static char *unknown_setting(const char *key)
{
	return xasprintf("java.lang.IllegalArgumentException: unknown setting [%s] please check "
			 "that any required plugins are installed, or check the breaking changes "
			 "documentation for removed settings",
			 key);
}

/* A TLS layer (transport or http) turned on without its key and
 * certificate stops the node as it loads its SSL configuration
 * (https://www.elastic.co/guide/en/elasticsearch/reference/7.17/security-settings.html#transport-tls-ssl-settings). */
static char *tls_without_keys(const json_t *file, const char *layer)
{
	char *enabled = xasprintf("xpack.security.%s.ssl.enabled", layer);
	char *keystore = xasprintf("xpack.security.%s.ssl.keystore.path", layer);
	char *key = xasprintf("xpack.security.%s.ssl.key", layer);
	char *cert = xasprintf("xpack.security.%s.ssl.certificate", layer);
	char *why = NULL;
	if (file_bool(file, enabled, false) && !json_str(file, keystore) &&
	    !(json_str(file, key) && json_str(file, cert)))
		why = xasprintf("invalid SSL configuration for xpack.security.%s.ssl - server ssl "
				"configuration requires a key and certificate, but these have not "
				"been configured; you must set either [%s], or both [%s] and [%s]",
				layer, keystore, key, cert);
	free(enabled);
	free(keystore);
	free(key);
	free(cert);
	return why;
}

/*
 * The TLS bootstrap check: a node in production mode (bound to more than
 * loopback, as every pod is) with security turned on in its
 * elasticsearch.yml must have TLS on its transport layer, from 6.8 on the
 * basic licence (https://www.elastic.co/guide/en/elasticsearch/reference/6.8/encrypting-internode-communications.html,
 * .../reference/7.17/bootstrap-checks-xpack.html); 8.x words it without
 * the licence (elastic/elasticsearch#75292).
 */
static char *tls_bootstrap_check(const json_t *pod, const char *version, const char *image)
{
	json_t *file = node_settings(pod, image);
	char *why = NULL;
	const char *host = json_str(file, "network.host");
	bool loopback = host && (!strcmp(host, "localhost") || !strncmp(host, "127.", 4) ||
				 !strcmp(host, "_local_"));
	if (security_on(file, version, image)) {
		why = tls_without_keys(file, "transport");
		if (!why)
			why = tls_without_keys(file, "http");
		if (!why && json_str(file, "xpack.security.enabled") && !loopback &&
		    !file_bool(file, "xpack.security.transport.ssl.enabled", false))
			why = xasprintf("[1] bootstrap checks failed. [1]: Transport SSL must be "
					"enabled if "
					"security is enabled%s. Please set "
					"[xpack.security.transport.ssl.enabled] to [true] or "
					"disable security "
					"by setting [xpack.security.enabled] to [false]",
					version_code(version) < 80000 ? " on a [basic] license"
								      : "");
	}
	json_decref(file);
	return why;
}

/*
 * The oldest index version a release reads: one major back, 2.x for 5.x
 * (Version.minimumIndexCompatibilityVersion; "minimum_index_compatibility_version"
 * in GET /).
 */
static const char *min_index_compat(int major)
{
	switch (major) {
	case 5:
		return "2.0.0";
	case 6:
		return "5.0.0";
	case 7:
		return "6.0.0-beta1";
	case 8:
		return "7.0.0";
	default:
		return major > 8 ? "8.0.0" : "0.0.0";
	}
}

/*
 * A node that starts over a data path whose metadata holds an index
 * created by a version it cannot read stops, before it joins: the
 * master-eligible and data nodes keep the indices' metadata on disk, and
 * loading it checks each index's version.created against the release's
 * minimum index compatibility version
 * (MetadataIndexUpgradeService.checkSupportedVersion in 7.x,
 * IndexMetadataVerifier in 8.x, with their messages;
 * https://www.elastic.co/guide/en/elasticsearch/reference/8.17/migrating-8.0.html:
 * indices created in 6.x must be reindexed before 8.0).  What metadata
 * the disk holds: a master-eligible node's, every index's; a data-only
 * node's, every index's once a 7.6 or later node wrote it (the cluster
 * state in a Lucene index, PersistedClusterStateService), before that
 * only the indices it held a copy of (GatewayMetaState's
 * getRelevantIndicesOnDataOnlyNode).  Such a node without the index on
 * its disk starts, and is refused when it joins (join_refusal).
 */
static const char *pod_data_dir(const json_t *pod);

static bool index_on_disk(const json_t *pod, unsigned roles, const struct es_index *ix)
{
	if (roles & ROLE_MASTER)
		return true;
	const char *path = pod_data_dir(pod);
	const char *host = json_str(json_object_get(pod, "spec"), "nodeName");
	struct hostdir *d = path && host ? hostfs_find(host, path) : NULL;
	/* Without a host folder the simulator keeps no files: every index. */
	if (!d)
		return true;
	if (d->es_version && version_code(d->es_version) >= 70600)
		return true;
	return json_object_get(d->indices, ix->name) != NULL;
}

static char *unreadable_index(const json_t *pod, const char *version, const char *image)
{
	struct es_cluster *cl =
		cluster_find(json_str(json_object_get(pod, "metadata"), "namespace"));
	if (!cl)
		return NULL;
	json_t *file = node_settings(pod, image);
	unsigned roles = roles_of(pod, file, version, image);
	json_decref(file);
	if (!(roles & (ROLE_MASTER | ROLE_DATA)))
		return NULL;
	const char *min = min_index_compat(version_major(version));
	for (size_t i = 0; i < cl->nindices; i++) {
		struct es_index *ix = cl->indices[i];
		if (version_code(ix->created_version) >= version_code(min) ||
		    !index_on_disk(pod, roles, ix))
			continue;
		/* From 9.0 an index two majors back is read, read-only, when 8.18+
		 * marked it so: a write block and index.verified_read_only
		 * (IndexMetadataVerifier.isReadOnlySupportedVersion, with its
		 * message when the mark is missing). */
		if (version_major(version) >= 9 &&
		    version_major(ix->created_version) == version_major(version) - 2) {
			if (ix->write_block && ix->verified_read_only)
				continue;
			return xasprintf("The index [%s/%s] created in version [%s] with current "
					 "compatibility version [%s] must be marked as read-only "
					 "using the setting [index.blocks.write] set to [true] "
					 "before upgrading to %s.",
					 ix->name, ix->uuid, ix->created_version,
					 ix->created_version, version);
		}
		if (version_major(version) >= 8)
			return xasprintf("The index [%s/%s] has current compatibility version [%s] "
					 "but the minimum compatible version is [%s]. It should be "
					 "re-indexed in Elasticsearch %d.x before upgrading to %s.",
					 ix->name, ix->uuid, ix->created_version, min,
					 version_major(min), version);
		return xasprintf("The index [%s/%s] was created with version [%s] but the minimum "
				 "compatible version is [%s]. It should be re-indexed in "
				 "Elasticsearch %d.x before upgrading to %s.",
				 ix->name, ix->uuid, ix->created_version, min, version_major(min),
				 version);
	}
	return NULL;
}

char *sim_es_config_refused(const json_t *pod, int major)
{
	const char *ns = json_str(json_object_get(pod, "metadata"), "namespace");
	const char *image = NULL;
	const char *tag = is_es_pod(pod, &image) && image ? strrchr(image, ':') : NULL;
	const char *version = tag && tag[1] ? tag + 1 : "7.17.0";
	size_t i;
	json_t *vol;
	char *why = NULL;
	json_array_foreach (json_object_get(json_object_get(pod, "spec"), "volumes"), i, vol) {
		const char *cm = json_str(json_object_get(vol, "configMap"), "name");
		struct store_obj *o =
			cm && ns ? store_get(store_kind_by_plural("configmaps"), ns, cm) : NULL;
		const char *text =
			o ? json_str(json_object_get(o->body, "data"), "elasticsearch.yml") : NULL;
		if (!text)
			continue;
		char *err = NULL;
		json_t *yml = yamljson_parse(text, strlen(text), &err);
		free(err);
		const char *k;
		json_t *v;
		json_object_foreach (yml, k, v) {
			for (size_t j = 0;
			     !why && major >= 5 && j < ARRAY_SIZE(introduced_settings); j++)
				if (!strcmp(k, introduced_settings[j].key) &&
				    (version_code(version) < introduced_settings[j].since ||
				     (introduced_settings[j].xpack &&
				      !default_distribution(image, version))))
					why = unknown_setting(k);
			for (size_t j = 0; !why && major >= 5 && j < ARRAY_SIZE(removed_settings);
			     j++)
				if (major >= removed_settings[j].removed_in &&
				    !strncmp(k, removed_settings[j].prefix,
					     strlen(removed_settings[j].prefix)))
					why = unknown_setting(k);
			/* The s3 client's settings are the repository-s3 plugin's
			 * before 8.0, a module's from 8.0 (sim/s3.h): without the
			 * plugin a node does not know them. */
			if (!why && major >= 5 && !strncmp(k, "s3.client.", 10)) {
				json_t *plugins = plugins_of(
					pod,
					json_str(json_object_get(pod, "spec"), "nodeName")
						? json_str(json_object_get(pod, "spec"), "nodeName")
						: "");
				if (!sim_s3_type_exists(version, plugins))
					why = unknown_setting(k);
				json_decref(plugins);
			}
			for (size_t j = 0; !why && j < ARRAY_SIZE(byte_size_settings); j++) {
				const char *s = json_is_string(v) ? json_string_value(v) : NULL;
				if (s && !strcmp(k, byte_size_settings[j]) && !byte_size_ok(s))
					why = xasprintf(
						"failed to parse setting [%s] with value [%s] as a "
						"size in bytes: unit is missing or unrecognized",
						k, s);
			}
		}
		json_decref(yml);
		if (why)
			break;
	}
	/* The metadata on disk is loaded (and each index checked) before the
	 * bootstrap checks run (Node.start). */
	if (!why)
		why = unreadable_index(pod, version, image);
	if (!why && major >= 6)
		why = tls_bootstrap_check(pod, version, image);
	return why;
}

static void flatten(const char *prefix, json_t *v, json_t *out);

/* The settings of a pod's elasticsearch.yml (each ConfigMap volume's),
 * flat, values as strings; a new reference. */
static json_t *config_file_settings(const json_t *pod)
{
	const char *ns = json_str(json_object_get(pod, "metadata"), "namespace");
	json_t *out = json_object();
	size_t i;
	json_t *vol;
	json_array_foreach (json_object_get(json_object_get(pod, "spec"), "volumes"), i, vol) {
		const char *cm = json_str(json_object_get(vol, "configMap"), "name");
		struct store_obj *o =
			cm && ns ? store_get(store_kind_by_plural("configmaps"), ns, cm) : NULL;
		const char *text =
			o ? json_str(json_object_get(o->body, "data"), "elasticsearch.yml") : NULL;
		if (!text)
			continue;
		char *err = NULL;
		json_t *yml = yamljson_parse(text, strlen(text), &err);
		free(err);
		if (json_is_object(yml))
			flatten("", yml, out);
		json_decref(yml);
	}
	json_object_del(out, "");
	return out;
}

/* --- membership and masters ------------------------------------------------------ */

static bool in_array(const json_t *arr, const char *s);

/* zen1's discovery.zen.minimum_master_nodes: the dynamic setting, else the
 * value in a ConfigMap's elasticsearch.yml, else 1. */
static int minimum_master_nodes(struct es_cluster *cl)
{
	int n;
	const char *v = setting(cl, "discovery.zen.minimum_master_nodes");
	if (v && parse_int(v, 1, 1000, &n))
		return n;
	size_t m;
	struct store_obj **cms = store_list(store_kind_by_plural("configmaps"), cl->ns, &m);
	int found = 1;
	for (size_t i = 0; i < m; i++) {
		const char *k;
		json_t *val;
		json_object_foreach (json_object_get(cms[i]->body, "data"), k, val) {
			const char *text = json_string_value(val);
			const char *p =
				text ? strstr(text, "discovery.zen.minimum_master_nodes:") : NULL;
			if (p) {
				p += strlen("discovery.zen.minimum_master_nodes:");
				while (*p == ' ' || *p == '"')
					p++;
				int num = 0;
				while (*p >= '0' && *p <= '9')
					num = num * 10 + (*p++ - '0');
				if (num > found)
					found = num;
			}
		}
	}
	free(cms);
	return found;
}

/*
 * zen2's cluster.initial_master_nodes: the names listed in the
 * elasticsearch.yml of the namespace's ConfigMaps (a master reads its own
 * when it starts; the union is close enough, since esaas writes it in the
 * masters' ConfigMap only).  A new zen2 cluster forms from these nodes or
 * not at all.
 */
static json_t *bootstrap_names(struct es_cluster *cl)
{
	json_t *names = json_array();
	size_t m;
	struct store_obj **cms = store_list(store_kind_by_plural("configmaps"), cl->ns, &m);
	for (size_t i = 0; i < m; i++) {
		const char *text =
			json_str(json_object_get(cms[i]->body, "data"), "elasticsearch.yml");
		if (!text || !strstr(text, "cluster.initial_master_nodes"))
			continue;
		char *err = NULL;
		json_t *yml = yamljson_parse(text, strlen(text), &err);
		free(err);
		json_t *list = json_object_get(yml, "cluster.initial_master_nodes");
		size_t k;
		json_t *v;
		if (json_is_string(list)) {
			/* The comma-separated form. */
			char *copy = xstrdup(json_string_value(list)), *save = NULL;
			for (char *t = strtok_r(copy, ", ", &save); t;
			     t = strtok_r(NULL, ", ", &save))
				if (!in_array(names, t))
					json_array_append_new(names, json_string(t));
			free(copy);
		}
		json_array_foreach (list, k, v) {
			if (json_is_string(v) && !in_array(names, json_string_value(v)))
				json_array_append(names, v);
		}
		json_decref(yml);
	}
	free(cms);
	return names;
}

static bool in_array(const json_t *arr, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach (arr, i, v) {
		if (!strcmp(json_string_value(v), s))
			return true;
	}
	return false;
}

static bool voting_excluded(struct es_cluster *cl, const char *name)
{
	size_t i;
	json_t *e;
	json_array_foreach (cl->voting_exclusions, i, e) {
		if (!strcmp(json_str(e, "node_name"), name))
			return true;
	}
	return false;
}

/* Whether a 7.x master-eligible node finds as many master-eligible nodes
 * as its discovery.zen.minimum_master_nodes asks (ElectMasterService:
 * the cluster's dynamic value, else its own file's; below 1, any). */
static bool upgrade_masters_enough(struct es_cluster *cl, int masters)
{
	const char *key = "discovery.zen.minimum_master_nodes";
	int n;
	const char *dynamic = setting(cl, key);
	for (size_t i = 0; i < cl->nnodes; i++) {
		struct es_node *node = cl->nodes[i];
		if (!node->present || !(node->roles & ROLE_MASTER))
			continue;
		const char *v = dynamic ? dynamic : json_str(node->file, key);
		if (!v || !parse_int(v, -1000, 1000, &n) || n < 1 || masters >= n)
			return true;
	}
	return false;
}

static void elect(struct es_cluster *cl)
{
	int masters = 0, voters_present = 0;
	bool zen1 = version_major(cluster_version(cl)) < 7;
	for (size_t i = 0; i < cl->nnodes; i++) {
		struct es_node *n = cl->nodes[i];
		if (n->present && (n->roles & ROLE_MASTER))
			masters++;
	}
	bool quorum;
	if (zen1) {
		quorum = masters >= minimum_master_nodes(cl) && masters > 0;
	} else if (json_array_size(cl->voting_config) == 0 && cl->zen1_formed) {
		/* A cluster that ran zen1 (a rolling upgrade from 6.8): once its
		 * last 6.x master-eligible node has gone, the 7.x ones look every
		 * discovery.zen.bwc_ping_timeout (ping_timeout's 3 s) at the
		 * master-eligible nodes they have found; when those are as many
		 * as discovery.zen.minimum_master_nodes (a node's own setting,
		 * or the cluster's dynamic one; none: any number) and none runs
		 * zen1, they are the first voting configuration, without
		 * cluster.initial_master_nodes (DiscoveryUpgradeService's
		 * JoiningRound in 7.x, hasEnoughMasterNodes;
		 * https://www.elastic.co/guide/en/elasticsearch/reference/7.17/modules-discovery-bootstrap-cluster.html:
		 * "not required ... when upgrading a cluster from 6.x"). */
		int64_t now = now_mono_ms();
		if (!cl->zen1_next_look)
			cl->zen1_next_look = now + 3000;
		quorum = false;
		if (now >= cl->zen1_next_look) {
			quorum = masters > 0 && upgrade_masters_enough(cl, masters);
			cl->zen1_next_look = now + 3000;
		}
		for (size_t i = 0; quorum && i < cl->nnodes; i++)
			if (cl->nodes[i]->present && (cl->nodes[i]->roles & ROLE_MASTER))
				json_array_append_new(cl->voting_config,
						      json_string(cl->nodes[i]->name));
	} else if (json_array_size(cl->voting_config) == 0) {
		/* First formation: only from the nodes named in
		 * cluster.initial_master_nodes, a majority of them present;
		 * they are the first voting configuration.  Without the
		 * setting a new cluster never forms, as in Elasticsearch. */
		json_t *boot = bootstrap_names(cl);
		size_t i;
		json_t *v;
		int listed_present = 0;
		json_array_foreach (boot, i, v) {
			struct es_node *n = node_by_name(cl, json_string_value(v));
			if (n && n->present && (n->roles & ROLE_MASTER))
				listed_present++;
		}
		quorum = listed_present > 0 && listed_present * 2 > (int)json_array_size(boot);
		if (quorum) {
			json_array_foreach (boot, i, v)
				json_array_append(cl->voting_config, v);
		} else if (masters > 0 && json_array_size(boot) == 0 && !cl->warned_bootstrap) {
			log_warn("elasticsearch %s: master not discovered yet: this node has not "
				 "previously joined a bootstrapped cluster, and "
				 "[cluster.initial_master_nodes] is empty on this node",
				 cl->ns);
			cl->warned_bootstrap = true;
		}
		json_decref(boot);
	} else {
		size_t i;
		json_t *v;
		json_array_foreach (cl->voting_config, i, v) {
			if (present(cl, json_string_value(v)))
				voters_present++;
		}
		quorum = voters_present * 2 > (int)json_array_size(cl->voting_config);
	}
	if (quorum && zen1)
		cl->zen1_formed = true;
	if (zen1)
		cl->zen1_next_look = 0;
	if (!quorum) {
		if (cl->master)
			log_warn("elasticsearch %s: no master (quorum lost)", cl->ns);
		free(cl->master);
		cl->master = NULL;
		return;
	}
	if (!zen1) {
		/* Joining masters become voters; departed ones leave the
		 * configuration while at least three voters remain; excluded
		 * ones leave it at once. */
		for (size_t i = 0; i < cl->nnodes; i++) {
			struct es_node *n = cl->nodes[i];
			if (n->present && (n->roles & ROLE_MASTER) &&
			    !voting_excluded(cl, n->name) && !in_array(cl->voting_config, n->name))
				json_array_append_new(cl->voting_config, json_string(n->name));
		}
		for (size_t i = json_array_size(cl->voting_config); i-- > 0;) {
			const char *name = json_string_value(json_array_get(cl->voting_config, i));
			/* The configuration never empties: the last voter stays,
			 * excluded or not, until another can take over. */
			if (json_array_size(cl->voting_config) > 1 &&
			    (voting_excluded(cl, name) ||
			     (!present(cl, name) && json_array_size(cl->voting_config) > 3)))
				json_array_remove(cl->voting_config, i);
		}
	}
	if (master_present(cl) && !voting_excluded(cl, cl->master))
		return;
	struct es_node *next = NULL;
	for (size_t i = 0; i < cl->nnodes && !next; i++) {
		struct es_node *n = cl->nodes[i];
		if (n->present && (n->roles & ROLE_MASTER) && !voting_excluded(cl, n->name))
			next = n;
	}
	if (!next && master_present(cl))
		return; /* excluded, but nobody else can be master */
	for (size_t i = 0; i < cl->nnodes && !next; i++) {
		struct es_node *n = cl->nodes[i];
		if (n->present && (n->roles & ROLE_MASTER))
			next = n;
	}
	free(cl->master);
	cl->master = next ? xstrdup(next->name) : NULL;
	if (cl->master) {
		if (!cl->uuid) {
			char uuid[23];
			random_id(uuid, 22);
			cl->uuid = xstrdup(uuid);
		}
		log_info("elasticsearch %s: %s elected master", cl->ns, cl->master);
	}
}

static struct es_cluster *cluster_new(const char *ns)
{
	struct es_cluster *cl = xcalloc(1, sizeof(*cl));
	cl->ns = xstrdup(ns);
	cl->name = xasprintf("elasticsearch-%s", ns);
	cl->persistent = json_object();
	cl->transient = json_object();
	cl->voting_config = json_array();
	cl->voting_exclusions = json_array();
	cl->graveyard = json_array();
	cl->shutdowns = json_object();
	cl->passwords = json_object();
	cl->users = json_object();
	cl->authenticated = json_object();
	cl->repos = json_object();
	cl->running = json_array();
	cl->next = clusters;
	clusters = cl;
	return cl;
}

static void node_free(struct es_node *n)
{
	free(n->name);
	free(n->pod);
	free(n->id);
	free(n->ip);
	free(n->host);
	free(n->version);
	free(n->datadir);
	free(n->pod_uid);
	free(n->bootstrap_password);
	json_decref(n->file);
	json_decref(n->keystore);
	json_decref(n->plugins);
	free(n);
}

static void cluster_free(struct es_cluster *cl)
{
	if (cl->alongside)
		cluster_free(cl->alongside);
	for (size_t i = 0; i < cl->nnodes; i++)
		node_free(cl->nodes[i]);
	free(cl->nodes);
	for (size_t i = 0; i < cl->nindices; i++)
		index_free(cl->indices[i]);
	free(cl->indices);
	for (size_t i = 0; i < cl->ndisks; i++) {
		free(cl->disks[i].node);
		free(cl->disks[i].host);
		free(cl->disks[i].index);
	}
	free(cl->disks);
	json_decref(cl->persistent);
	json_decref(cl->transient);
	json_decref(cl->voting_config);
	json_decref(cl->voting_exclusions);
	json_decref(cl->graveyard);
	json_decref(cl->shutdowns);
	json_decref(cl->passwords);
	json_decref(cl->users);
	json_decref(cl->authenticated);
	json_decref(cl->repos);
	json_decref(cl->running);
	free(cl->ns);
	free(cl->name);
	free(cl->uuid);
	free(cl->master);
	free(cl);
}

/* The host folder of the pod's data path (see store_of()), or NULL. */
static const char *pod_data_dir(const json_t *pod)
{
	size_t i;
	json_t *c;

	json_array_foreach (json_object_get(json_object_get(pod, "spec"), "containers"), i, c) {
		const char *hp = hostfs_mount_path(pod, c, "/usr/share/elasticsearch/data");

		if (hp)
			return hp;
	}
	return NULL;
}

/*
 * Dangling indices: a node that starts over a data path holding indices the
 * cluster does not have.  Up to 6.x the master imports them
 * (LocalAllocateDangledIndices, "auto importing dangled indices"),
 * whichever cluster wrote them: a node of 6.x and before does not check
 * the cluster UUID in its folder.  One with the name of an index the
 * cluster has stays out ("can not be imported as a dangling index, as
 * index with same name already exists in cluster metadata").  Its shards
 * come back from the copies in the folder; one with no copy there stays
 * unassigned.  From 7.0 a folder of another cluster keeps its node out
 * (below), and from 7.9 gateway.auto_import_dangling_indices, false by
 * default, stops the import
 * (https://www.elastic.co/guide/en/elasticsearch/reference/6.8/modules-gateway-dangling-indices.html,
 * https://www.elastic.co/guide/en/elasticsearch/reference/7.9/modules-gateway-dangling-indices.html).
 */
/* Whether the node's dangling indices are imported: always before 7.9,
 * then only with gateway.auto_import_dangling_indices (false by
 * default); the others wait for the dangling indices API. */
static bool auto_imports_dangling(const json_t *pod, const char *version)
{
	if (version_code(version) < 70900)
		return true;
	const char *image = NULL;
	if (!is_es_pod(pod, &image))
		return false;
	json_t *file = node_settings(pod, image);
	bool on = file_bool(file, "gateway.auto_import_dangling_indices", false);
	json_decref(file);
	return on;
}

static void import_dangling(struct es_cluster *cl, struct es_node *n, struct hostdir *d)
{
	const char *name;
	json_t *meta;
	json_object_foreach (d->indices, name, meta) {
		const char *uuid = json_str(meta, "uuid");
		struct es_index *have = index_find(cl, name);
		int shards = (int)json_integer_value(json_object_get(meta, "shards"));
		int replicas = (int)json_integer_value(json_object_get(meta, "replicas"));
		if (have || !uuid || shards < 1 || replicas < 0) {
			if (have && uuid && strcmp(have->uuid, uuid) != 0)
				log_warn("elasticsearch %s: [[%s/%s]] can not be imported as a "
					 "dangling index, as index with same name already exists "
					 "in cluster metadata",
					 cl->ns, name, uuid);
			continue;
		}
		struct es_index *ix = index_create(cl, name, shards, replicas);
		free(ix->uuid);
		ix->uuid = xstrdup(uuid);
		ix->analysis = json_deep_copy(json_object_get(meta, "analysis"));
		ix->mappings = json_deep_copy(json_object_get(meta, "mappings"));
		for (int s = 0; s < shards; s++) {
			ix->shards[s].ever_started = true;
			for (int k = 0; k < ix->shards[s].ncopies; k++)
				ix->shards[s].copies[k].reason = "DANGLING_INDEX_IMPORTED";
		}
		size_t i;
		json_t *sh;
		json_array_foreach (json_object_get(meta, "copies"), i, sh)
			if (json_integer_value(sh) >= 0 && json_integer_value(sh) < shards)
				disk_add(cl, n, name, (int)json_integer_value(sh));
		log_info("elasticsearch %s: auto importing dangled indices [[%s/%s]/OPEN] from "
			 "[%s]",
			 cl->ns, name, uuid, n->name);
	}
}

/*
 * What a node starting over its data path finds there.  Its node id is in
 * the folder (nodes/0/_state): an empty folder makes a new node, with a
 * new id and no shard copies; a folder another node left makes it that
 * node.  From 7.0 the folder also holds the UUID of the cluster the node
 * joined, and a node refuses to join another one: "This node previously
 * joined a cluster with UUID [...] and is now trying to join a different
 * cluster with UUID [...]" (Coordinator/JoinHelper, elastic/elasticsearch#37775,
 * https://www.elastic.co/guide/en/elasticsearch/reference/current/modules-discovery-bootstrap-cluster.html).
 * A master that finds a cluster UUID before any master was elected brings
 * that cluster back (its state is on its disk).  false when the node does
 * not join.
 */
static void graveyard_apply(struct es_cluster *cl, struct hostdir *d);

static bool node_takes_folder(struct es_cluster *cl, struct es_node *n, const json_t *pod)
{
	const char *path = pod_data_dir(pod);
	struct hostdir *d;

	free(n->datadir);
	n->datadir = path ? xstrdup(path) : NULL;
	if (!path || !n->host || !*n->host)
		return true;
	d = hostfs_make(n->host, path);
	if (n->was_present) {
		hostfs_set_version(d, n->version);
		return true;
	}
	if (d->cluster_uuid && version_major(n->version) >= 7) {
		if (!cl->uuid && !cl->master && (n->roles & ROLE_MASTER)) {
			cl->uuid = xstrdup(d->cluster_uuid);
		} else if (cl->uuid && strcmp(cl->uuid, d->cluster_uuid) != 0) {
			if (!n->refused)
				log_warn("elasticsearch %s: node %s on %s: This node previously "
					 "joined a cluster with UUID [%s] and is now trying to "
					 "join a different cluster with UUID [%s]. This is "
					 "forbidden and usually indicates an incorrect discovery "
					 "or cluster bootstrapping configuration. Note that the "
					 "cluster UUID persists across restarts and can only be "
					 "changed by deleting the contents of the node's data "
					 "path [%s]",
					 cl->ns, n->name, n->host, d->cluster_uuid, cl->uuid, path);
			n->refused = true;
			return false;
		}
	}
	n->refused = false;
	graveyard_apply(cl, d);
	if (auto_imports_dangling(pod, n->version))
		import_dangling(cl, n, d);
	if (!d->node_id || strcmp(d->node_id, n->id) != 0) {
		char id[23];
		random_id(id, 22);
		free(n->id);
		n->id = xstrdup(d->node_id ? d->node_id : id);
		if (!d->node_id)
			hostfs_set_identity(d, n->id, d->cluster_uuid);
		log_info("elasticsearch %s: node %s on %s has node id %s (%s folder)", cl->ns,
			 n->name, n->host, n->id, d->cluster_uuid ? "a used" : "an empty");
	}
	hostfs_set_version(d, n->version);
	return true;
}

/* The folders of the nodes in the cluster record its UUID. */
static void folders_joined(struct es_cluster *cl)
{
	for (size_t i = 0; cl->uuid && cl->master && i < cl->nnodes; i++) {
		struct es_node *n = cl->nodes[i];
		struct hostdir *d =
			n->present && n->datadir ? hostfs_find(n->host, n->datadir) : NULL;

		if (d && (!d->cluster_uuid || strcmp(d->cluster_uuid, cl->uuid) != 0))
			hostfs_set_identity(d, n->id, cl->uuid);
	}
}

/*
 * Whether two releases talk over the transport layer: the same major, or
 * the last minor of one major with the next (5.6 with 6.x, 6.8 with 7.x,
 * 7.17 with 8.x, 8.18 with 9.x: Version.minimumCompatibilityVersion, GET /'s
 * minimum_wire_compatibility_version); 2.x with 5.x never (a full
 * cluster restart, https://www.elastic.co/guide/en/elasticsearch/reference/5.6/restart-upgrade.html).
 */
static bool wire_compatible(const char *a, const char *b)
{
	const char *old = version_code(a) <= version_code(b) ? a : b;
	const char *young = old == a ? b : a;
	int om = version_major(old), ym = version_major(young);
	static const int last_minor[][2] = {{5, 50600}, {6, 60800}, {7, 71700}, {8, 81800}};
	if (om == ym)
		return true;
	if (ym != om + 1)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(last_minor); i++)
		if (last_minor[i][0] == om)
			return version_code(old) >= last_minor[i][1];
	return false;
}

/*
 * Why a node that was not a member may not join the nodes that were:
 * older than every one of them (JoinTaskExecutor.ensureVersionBarrier:
 * once the last node of the older version has left, the cluster runs as
 * the new version and no older node comes back, "node version [x] may not
 * join a cluster comprising only nodes of version [y] or greater"), or
 * without a transport handshake with one of them ("handshake ... failed:
 * remote node version [x] is incompatible with local node version [y]"),
 * https://www.elastic.co/guide/en/elasticsearch/reference/current/troubleshooting-upgrades.html.
 * NULL when it may.
 */
static char *join_refusal(struct es_cluster *cl, const struct es_node *node)
{
	const char *min = NULL;
	for (size_t i = 0; i < cl->nnodes; i++) {
		const struct es_node *o = cl->nodes[i];
		if (o == node || !o->was_present)
			continue;
		if (!wire_compatible(o->version, node->version))
			return xasprintf("handshake with [%s] failed: remote node version [%s] is "
					 "incompatible with local node version [%s]",
					 o->name, o->version, node->version);
		if (!min || version_code(o->version) < version_code(min))
			min = o->version;
	}
	if (min && cl->master && version_code(node->version) < version_code(min))
		return xasprintf("node version [%s] may not join a cluster comprising only nodes "
				 "of version [%s] or greater",
				 node->version, min);
	/* From 8.x the transport versions order releases by when they came
	 * out, not by number: a node whose transport version is older than
	 * every member's is kept out (ensureTransportVersionBarrier).  Of the
	 * releases here only 8.19 came out after 9.0: a 9.0 node stays out of
	 * a cluster of 8.19 nodes. */
	if (min && cl->master && version_major(node->version) == 9 &&
	    version_code(node->version) < 90100 && version_code(min) >= 81900 &&
	    version_major(min) == 8)
		return xasprintf("node with transport version [%s] may not join a cluster with "
				 "minimum transport version [%s]",
				 node->version, min);
	/* Every index of the cluster state must be one the node reads
	 * (JoinTaskExecutor.ensureIndexCompatibility; in 6.x the joining node
	 * validates the state it is sent the same way). */
	const char *compat = min_index_compat(version_major(node->version));
	for (size_t i = 0; cl->master && version_major(node->version) >= 6 && i < cl->nindices;
	     i++) {
		const struct es_index *ix = cl->indices[i];
		if (version_code(ix->created_version) > version_code(node->version))
			return xasprintf("index [%s/%s] version not supported: %s the node version "
					 "is: %s",
					 ix->name, ix->uuid, ix->created_version, node->version);
		/* 9.x takes a 7.x index that 8.18+ marked read-only (E43). */
		bool read_only_ok =
			version_major(node->version) >= 9 &&
			version_major(ix->created_version) == version_major(node->version) - 2 &&
			ix->write_block && ix->verified_read_only;
		if (version_code(ix->created_version) < version_code(compat) && !read_only_ok)
			return xasprintf("index [%s/%s] version not supported: %s minimum "
					 "compatible index version is: %s",
					 ix->name, ix->uuid, ix->created_version, compat);
	}
	return NULL;
}

static void sync_members(struct es_cluster *cl, struct store_obj **pods, size_t n, int64_t now)
{
	/* Present are the nodes of the pods whose containers run (a node
	 * outlives its pod); a node joins over the transport port whether
	 * or not its HTTP port is open or its pod Ready. */
	for (size_t i = 0; i < cl->nnodes; i++) {
		cl->nodes[i]->was_present = cl->nodes[i]->present;
		cl->nodes[i]->present = false;
	}
	for (size_t i = 0; i < n; i++) {
		const char *image;
		json_t *pod = pods[i]->body;
		if (!is_es_pod(pod, &image) || !controllers_pod_running(pods[i]))
			continue;
		/* A node of the cluster formed alongside is no member of this one. */
		if (cl->alongside && node_by_pod(cl->alongside, pods[i]->name))
			continue;
		char *name = xasprintf("%s-%s", pods[i]->name, cl->ns);
		struct es_node *node = node_by_name(cl, name);
		if (!node) {
			node = xcalloc(1, sizeof(*node));
			char id[23];
			random_id(id, 22);
			node->name = name;
			node->pod = xstrdup(pods[i]->name);
			node->id = xstrdup(id);
			node->plugins = json_array();
			cl->nodes = xrealloc(cl->nodes, (cl->nnodes + 1) * sizeof(*cl->nodes));
			cl->nodes[cl->nnodes++] = node;
		} else {
			free(name);
		}
		const char *tag = image ? strrchr(image, ':') : NULL;
		free(node->version);
		node->version = xstrdup(tag && tag[1] ? tag + 1 : "7.17.0");
		node->xpack = default_distribution(image, node->version);
		free(node->ip);
		node->ip = xstrdup(json_str(json_object_get(pod, "status"), "podIP")
					   ? json_str(json_object_get(pod, "status"), "podIP")
					   : "");
		free(node->host);
		node->host = xstrdup(json_str(json_object_get(pod, "spec"), "nodeName")
					     ? json_str(json_object_get(pod, "spec"), "nodeName")
					     : "");
		json_decref(node->plugins);
		node->plugins = plugins_of(pod, node->host);
		node->present = node_takes_folder(cl, node, pod);
		char *refusal = node->present && !node->was_present ? join_refusal(cl, node) : NULL;
		if (refusal) {
			if (!node->join_refused)
				log_warn("elasticsearch %s: node %s failed to join: %s", cl->ns,
					 node->name, refusal);
			node->join_refused = true;
			node->present = false;
			free(refusal);
		} else if (node->present) {
			node->join_refused = false;
		}
		/* A node reads its elasticsearch.yml once, when it starts: a
		 * ConfigMap changed later counts from its next pod. */
		const char *uid = json_str(json_object_get(pod, "metadata"), "uid");
		if (uid && (!node->pod_uid || strcmp(node->pod_uid, uid) != 0)) {
			free(node->pod_uid);
			node->pod_uid = xstrdup(uid);
			json_decref(node->file);
			node->file = node_settings(pod, image);
			json_decref(node->keystore);
			node->keystore = sim_s3_pod_keystore(pod);
			node->security = security_on(node->file, node->version, image);
			free(node->bootstrap_password);
			node->bootstrap_password = pod_env(pod, image, "ELASTIC_PASSWORD");
		}
		node->roles = roles_of(pod, node->file, node->version, image);
	}
	folders_joined(cl);
}

/*
 * Masters that bootstrap a second cluster.  A zen2 master-eligible node
 * with cluster.initial_master_nodes in its elasticsearch.yml and an empty
 * data folder (here: a node name this cluster has never counted as a
 * member) bootstraps a new cluster as soon as it has discovered a majority
 * of the listed nodes, unless it finds the elected master first
 * (https://www.elastic.co/guide/en/elasticsearch/reference/current/modules-discovery-bootstrap-cluster.html:
 * "If you leave cluster.initial_master_nodes in place once the cluster has
 * formed then there is a risk that a future misconfiguration may result in
 * bootstrapping a new cluster alongside your existing cluster"; ECK removes
 * the setting once the cluster has formed for this reason,
 * pkg/controller/elasticsearch/version/zen2/initial_master_nodes.go).  In
 * Elasticsearch which comes first is a race; here the new nodes win it
 * whenever they alone are a majority of the list (a 1 -> 3 masters scale
 * with the list rewritten for 3): they form a cluster with its own UUID,
 * and stay in it, since a node that has joined one cluster refuses
 * another's (its data folder holds the first one's UUID).  A new node that
 * is not part of such a majority joins the existing cluster.
 */
static void form_alongside(struct es_cluster *cl, struct store_obj **pods, size_t n, int64_t now)
{
	if (cl->alongside) {
		struct es_cluster *al = cl->alongside;
		struct store_obj **mine = xcalloc(n + 1, sizeof(*mine));
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (node_by_pod(al, pods[i]->name))
				mine[k++] = pods[i];
		sync_members(al, mine, k, now);
		free(mine);
		elect(al);
		return;
	}
	if (!cl->uuid)
		return; /* not formed yet: this is the first formation */
	json_t *boot = NULL;
	struct store_obj **fresh = xcalloc(n + 1, sizeof(*fresh));
	size_t nfresh = 0, listed = 0;
	for (size_t i = 0; i < n; i++) {
		const char *image;
		json_t *pod = pods[i]->body;
		if (!is_es_pod(pod, &image) || !controllers_pod_running(pods[i]))
			continue;
		const char *tag = image ? strrchr(image, ':') : NULL;
		json_t *file = config_file_settings(pod);
		unsigned roles = roles_of(pod, file, tag && tag[1] ? tag + 1 : "7.17.0", image);
		json_decref(file);
		if (!(roles & ROLE_MASTER))
			continue;
		if (version_major(tag && tag[1] ? tag + 1 : "7.17.0") < 7)
			continue; /* zen1 has no bootstrapping */
		char *name = xasprintf("%s-%s", pods[i]->name, cl->ns);
		bool known = node_by_name(cl, name) != NULL;
		if (!known) {
			if (!boot)
				boot = bootstrap_names(cl);
			if (in_array(boot, name)) {
				fresh[nfresh++] = pods[i];
				listed++;
			}
		}
		free(name);
	}
	if (boot && listed > 0 && listed * 2 > json_array_size(boot)) {
		struct es_cluster *al = cluster_new(cl->ns);
		clusters = al->next; /* kept by cl, off the list */
		al->next = NULL;
		al->seeded = true; /* its own empty cluster state */
		sync_members(al, fresh, nfresh, now);
		json_array_extend(al->voting_config, boot);
		elect(al);
		cl->alongside = al;
		log_warn("elasticsearch %s: %zu new master(s) with cluster.initial_master_nodes "
			 "and empty data folders bootstrapped a second cluster [%s] alongside [%s]",
			 cl->ns, nfresh, al->uuid ? al->uuid : "?", cl->uuid);
	}
	json_decref(boot);
	free(fresh);
}

/*
 * A node binds its HTTP port once it has joined a cluster with an elected
 * master, or once discovery.initial_state_timeout (30 s) has passed
 * without one: Node.start waits that long for a first cluster state,
 * logs "waited for [30s] and no initial state was set by the discovery"
 * and binds HTTP all the same
 * (https://www.elastic.co/guide/en/elasticsearch/reference/current/modules-discovery-settings.html;
 * simulator setting elasticsearch.initial_state_timeout_ms).
 * Open, it stays open while the process runs.  So a TCP readiness probe
 * passes for a node that never joined.
 */
static void open_http(struct es_cluster *cl, struct store_obj **pods, size_t n, int64_t now)
{
	int64_t wait = simconf_get()->initial_state_timeout_ms;

	for (size_t i = 0; i < n; i++) {
		const char *image;
		struct es_cluster *in = cl;

		if (pods[i]->http_open || !controllers_pod_running(pods[i]) ||
		    !is_es_pod(pods[i]->body, &image))
			continue;
		if (cl->alongside && node_by_pod(cl->alongside, pods[i]->name))
			in = cl->alongside;
		struct es_node *node = node_by_pod(in, pods[i]->name);
		bool joined = node && node->present && master_present(in);
		if (!joined && now - pods[i]->running_ms < wait)
			continue;
		pods[i]->http_open = true;
		if (!joined)
			log_info("elasticsearch %s: node %s-%s opened HTTP without a master "
				 "(discovery.initial_state_timeout %lldms)",
				 cl->ns, pods[i]->name, cl->ns, (long long)wait);
	}
}

int sim_es_probe_status(const struct store_obj *pod, const char *path)
{
	struct es_cluster *cl = cluster_find(pod->ns);

	if (!pod->http_open || !controllers_pod_running(pod))
		return 0;
	/* GET / answers without a master; the cluster-level APIs wait for
	 * one (dispatch): a probe times out long before, a failure. */
	if (!path || !strcmp(path, "/") || !cl)
		return 200;
	if (cl->alongside && node_by_pod(cl->alongside, pod->name))
		cl = cl->alongside;
	return node_sees_master(cl, pod->name) ? 200 : 503;
}

/* The membership of last tick, to see who left and who joined. */
static void membership(struct es_cluster *cl, struct store_obj **pods, size_t n, int64_t now)
{
	form_alongside(cl, pods, n, now);
	size_t count = cl->nnodes;
	bool *prev = xcalloc(count + 1, sizeof(bool));
	for (size_t i = 0; i < count; i++)
		prev[i] = cl->nodes[i]->present;
	sync_members(cl, pods, n, now);
	for (size_t i = 0; i < count; i++) {
		if (prev[i] && !cl->nodes[i]->present)
			node_left(cl, cl->nodes[i], now);
	}
	for (size_t i = 0; i < cl->nnodes; i++) {
		if ((i >= count || !prev[i]) && cl->nodes[i]->present)
			log_info("elasticsearch %s: node %s joined", cl->ns, cl->nodes[i]->name);
	}
	free(prev);
}

static void seed_indices(struct es_cluster *cl)
{
	const struct simconf *conf = simconf_get();
	size_t i;
	json_t *ix;
	bool has_data = false;
	for (size_t k = 0; k < cl->nnodes; k++) {
		if (cl->nodes[k]->present && (cl->nodes[k]->roles & ROLE_DATA))
			has_data = true;
	}
	if (cl->seeded || !has_data)
		return;
	cl->seeded = true;
	json_array_foreach (conf->indices, i, ix) {
		const char *name = json_str(ix, "name");
		if (!name || index_find(cl, name))
			continue;
		json_t *sh = json_object_get(ix, "shards"), *rep = json_object_get(ix, "replicas");
		struct es_index *made = index_create(
			cl, name, json_is_integer(sh) ? (int)json_integer_value(sh) : 1,
			json_is_integer(rep) ? (int)json_integer_value(rep) : 1);
		made->analysis = json_deep_copy(json_object_get(ix, "analysis"));
		made->mappings = json_deep_copy(json_object_get(ix, "mappings"));
		/* Checked when the configuration was read. */
		if (json_str(ix, "shard_size") &&
		    !simconf_bytes(json_str(ix, "shard_size"), &made->shard_bytes))
			made->shard_bytes = default_shard_bytes();
	}
}

void sim_es_tick(void)
{
	int64_t now = now_mono_ms();
	const struct store_kind *pods_kind = store_kind_by_plural("pods");
	const struct store_kind *ns_kind = store_kind_by_plural("namespaces");

	for (struct es_cluster *cl = clusters; cl; cl = cl->next)
		cl->alive = false;
	size_t nns;
	struct store_obj **nss = store_list(ns_kind, NULL, &nns);
	for (size_t i = 0; i < nns; i++) {
		size_t n;
		struct store_obj **pods = store_list(pods_kind, nss[i]->name, &n);
		struct es_cluster *cl = cluster_find(nss[i]->name);
		bool any = false;
		for (size_t k = 0; k < n && !any; k++) {
			const char *image;
			any = is_es_pod(pods[k]->body, &image);
		}
		if (!cl && any)
			cl = cluster_new(nss[i]->name);
		if (cl) {
			cl->alive = true;
			membership(cl, pods, n, now);
			elect(cl);
			open_http(cl, pods, n, now);
			if (cl->master) {
				seed_indices(cl);
				progress(cl, now);
				allocate(cl, now);
				snapshots_tick(cl, now);
			}
		}
		free(pods);
	}
	free(nss);
	/* A namespace that is gone takes its cluster with it. */
	struct es_cluster **pp = &clusters;
	while (*pp) {
		struct es_cluster *cl = *pp;
		if (!cl->alive) {
			*pp = cl->next;
			cluster_free(cl);
		} else {
			pp = &cl->next;
		}
	}
	run_waits();
}

/* --- settings --------------------------------------------------------------------- */

static void flatten(const char *prefix, json_t *v, json_t *out)
{
	if (json_is_object(v)) {
		const char *k;
		json_t *sub;
		json_object_foreach (v, k, sub) {
			char *key = *prefix ? xasprintf("%s.%s", prefix, k) : xstrdup(k);
			flatten(key, sub, out);
			free(key);
		}
		return;
	}
	if (json_is_null(v)) {
		json_object_set_new(out, prefix, json_null());
	} else if (json_is_string(v)) {
		json_object_set(out, prefix, v);
	} else if (json_is_array(v)) {
		/* Lists are written as comma-joined strings. */
		char *joined = xstrdup("");
		size_t i;
		json_t *e;
		json_array_foreach (v, i, e) {
			char *s = json_is_string(e) ? xstrdup(json_string_value(e))
						    : json_dumps(e, JSON_ENCODE_ANY);
			char *next = xasprintf("%s%s%s", joined, i ? "," : "", s);
			free(s);
			free(joined);
			joined = next;
		}
		json_object_set_new(out, prefix, json_string(joined));
		free(joined);
	} else {
		char *s = json_dumps(v, JSON_ENCODE_ANY);
		json_object_set_new(out, prefix, json_string(s));
		free(s);
	}
}

static json_t *nest(const json_t *flat)
{
	json_t *out = json_object();
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)flat, k, v) {
		char *copy = xstrdup(k);
		json_t *at = out;
		char *p = copy;
		for (;;) {
			char *dot = strchr(p, '.');
			if (!dot) {
				json_object_set(at, p, v);
				break;
			}
			*dot = '\0';
			json_t *next = json_object_get(at, p);
			if (!json_is_object(next)) {
				next = json_object();
				json_object_set_new(at, p, next);
			}
			at = next;
			p = dot + 1;
		}
		free(copy);
	}
	return out;
}

/*
 * The dynamic cluster settings: what PUT _cluster/settings takes, by
 * version (since inclusive, until exclusive; 0 for still there), as
 * version codes.  Elasticsearch refuses any other key with 400 "persistent
 * setting [k], not recognized" from 5.0 (its registry of built-in settings,
 * ClusterSettings.BUILT_IN_CLUSTER_SETTINGS, and the plugins'); 2.x ignores
 * it (E26).  The keys from the reference's pages of cluster-level settings,
 * each marked "(Dynamic)":
 * https://www.elastic.co/guide/en/elasticsearch/reference/7.17/modules-cluster.html
 * (shard allocation and routing, disk-based allocation, awareness,
 * filtering, miscellaneous), recovery.html, circuit-breaker.html,
 * search-settings.html, index-management-settings.html,
 * modules-discovery-settings.html, logging.html, and the breaking changes of
 * 5.0, 6.0, 7.0 and 8.0 for what came and went.  A pattern's "*" is one
 * segment of the key; a trailing ".*" is any rest (logger.<package>).
 * Families of the default distribution (xpack., indices.lifecycle.) and
 * of the modules (ingest., snapshot., persistent_tasks.) are taken whole.
 */
static const struct {
	const char *key;
	int since, until;
} dynamic_settings[] = {
	{"cluster.routing.allocation.enable", 20000, 0},
	{"cluster.routing.rebalance.enable", 20000, 0},
	{"cluster.routing.allocation.allow_rebalance", 20000, 0},
	{"cluster.routing.allocation.cluster_concurrent_rebalance", 20000, 0},
	{"cluster.routing.allocation.node_concurrent_recoveries", 20000, 0},
	{"cluster.routing.allocation.node_concurrent_incoming_recoveries", 50000, 0},
	{"cluster.routing.allocation.node_concurrent_outgoing_recoveries", 50000, 0},
	{"cluster.routing.allocation.node_initial_primaries_recoveries", 20000, 0},
	{"cluster.routing.allocation.same_shard.host", 20000, 0},
	{"cluster.routing.allocation.balance.shard", 20000, 0},
	{"cluster.routing.allocation.balance.index", 20000, 0},
	{"cluster.routing.allocation.balance.threshold", 20000, 0},
	{"cluster.routing.allocation.balance.write_load", 80600, 0},
	{"cluster.routing.allocation.balance.disk_usage", 80600, 0},
	{"cluster.routing.allocation.disk.threshold_enabled", 20000, 0},
	{"cluster.routing.allocation.disk.watermark.low", 20000, 0},
	{"cluster.routing.allocation.disk.watermark.high", 20000, 0},
	{"cluster.routing.allocation.disk.watermark.flood_stage", 60000, 0},
	{"cluster.routing.allocation.disk.watermark.flood_stage.frozen", 71000, 0},
	{"cluster.routing.allocation.disk.watermark.flood_stage.frozen.max_headroom", 71000, 0},
	{"cluster.routing.allocation.disk.watermark.low.max_headroom", 80500, 0},
	{"cluster.routing.allocation.disk.watermark.high.max_headroom", 80500, 0},
	{"cluster.routing.allocation.disk.watermark.flood_stage.max_headroom", 80500, 0},
	{"cluster.routing.allocation.disk.include_relocations", 20000, 80000},
	/* elastic/elasticsearch#114207: gone in 9.0. */
	{"cluster.routing.allocation.disk.watermark.enable_for_single_data_node", 71400, 90000},
	{"cluster.routing.allocation.disk.reroute_interval", 20000, 0},
	{"cluster.routing.allocation.total_shards_per_node", 20000, 0},
	{"cluster.routing.allocation.awareness.attributes", 20000, 0},
	{"cluster.routing.allocation.awareness.force.*.values", 20000, 0},
	{"cluster.routing.allocation.include.*", 20000, 0},
	{"cluster.routing.allocation.exclude.*", 20000, 0},
	{"cluster.routing.allocation.require.*", 20000, 0},
	{"cluster.routing.use_adaptive_replica_selection", 60100, 0},
	{"cluster.info.update.interval", 20000, 0},
	{"cluster.info.update.timeout", 20000, 0},
	{"cluster.blocks.read_only", 20000, 0},
	{"cluster.blocks.read_only_allow_delete", 60000, 0},
	{"cluster.max_shards_per_node", 60500, 0},
	{"cluster.max_shards_per_node.frozen", 71200, 0},
	{"cluster.indices.close.enable", 20000, 0},
	{"cluster.persistent_tasks.allocation.enable", 60000, 0},
	{"cluster.persistent_tasks.allocation.recheck_interval", 70000, 0},
	{"cluster.max_voting_config_exclusions", 70000, 0},
	{"cluster.auto_shrink_voting_configuration", 70000, 0},
	{"cluster.no_master_block", 70000, 0},
	{"cluster.service.slow_task_logging_threshold", 60000, 0},
	{"cluster.service.slow_master_task_logging_threshold", 70000, 0},
	{"indices.recovery.max_bytes_per_sec", 20000, 0},
	{"indices.recovery.concurrent_streams", 20000, 50000},
	{"indices.recovery.concurrent_small_file_streams", 20000, 50000},
	{"indices.recovery.file_chunk_size", 20000, 50000},
	{"indices.recovery.translog_ops", 20000, 50000},
	{"indices.recovery.translog_size", 20000, 50000},
	{"indices.recovery.compress", 20000, 50000},
	{"indices.recovery.max_concurrent_file_chunks", 70000, 0},
	{"indices.recovery.max_concurrent_operations", 71400, 0},
	{"indices.recovery.use_snapshots", 71500, 0},
	{"indices.recovery.max_concurrent_snapshot_file_downloads", 71500, 0},
	{"indices.recovery.max_concurrent_snapshot_file_downloads_per_node", 71500, 0},
	{"indices.recovery.retry_delay_state_sync", 20000, 0},
	{"indices.recovery.retry_delay_network", 20000, 0},
	{"indices.recovery.activity_timeout", 20000, 0},
	{"indices.recovery.internal_action_timeout", 20000, 0},
	{"indices.recovery.internal_action_long_timeout", 20000, 0},
	{"indices.breaker.total.limit", 20000, 0},
	{"indices.breaker.fielddata.limit", 20000, 0},
	{"indices.breaker.fielddata.overhead", 20000, 0},
	{"indices.breaker.request.limit", 20000, 0},
	{"indices.breaker.request.overhead", 20000, 0},
	{"indices.breaker.accounting.limit", 60000, 0},
	{"indices.breaker.accounting.overhead", 60000, 0},
	{"network.breaker.inflight_requests.limit", 50000, 0},
	{"network.breaker.inflight_requests.overhead", 50000, 0},
	{"indices.ttl.interval", 20000, 50000},
	{"indices.store.throttle.type", 20000, 60000},
	{"indices.store.throttle.max_bytes_per_sec", 20000, 60000},
	{"indices.mapping.dynamic_timeout", 20000, 0},
	{"indices.id_field_data.enabled", 71000, 0},
	{"action.destructive_requires_name", 20000, 0},
	{"action.auto_create_index", 20000, 0},
	{"action.search.shard_count.limit", 50400, 0},
	{"search.default_search_timeout", 20000, 0},
	{"search.default_keep_alive", 50000, 0},
	{"search.max_keep_alive", 60000, 0},
	{"search.keep_alive_interval", 50000, 0},
	{"search.low_level_cancellation", 60400, 0},
	{"search.max_buckets", 60200, 0},
	{"search.max_open_scroll_context", 60700, 0},
	{"search.default_allow_partial_results", 60000, 0},
	{"search.allow_expensive_queries", 70700, 0},
	{"search.aggs.rewrite_to_filter_by_filter", 71300, 0},
	{"search.check_ccs_compatibility", 70000, 0},
	{"search.max_async_search_response_size", 70700, 0},
	{"search.remote.*", 50000, 70000},
	{"cluster.remote.*", 60500, 0},
	{"http.max_warning_header_count", 60000, 0},
	{"http.max_warning_header_size", 60000, 0},
	{"transport.tracer.include", 20000, 0},
	{"transport.tracer.exclude", 20000, 0},
	{"logger.*", 20000, 0},
	{"xpack.*", 50000, 0},
	{"indices.lifecycle.*", 60600, 0},
	{"ingest.*", 50000, 0},
	{"script.max_compilations_per_minute", 50000, 60000},
	{"script.max_compilations_rate", 60000, 0},
	{"script.max_size_in_bytes", 60000, 0},
	{"script.context.*.max_compilations_rate", 70000, 0},
	{"script.context.*.cache_max_size", 70000, 0},
	{"script.context.*.cache_expire", 70000, 0},
	{"script.cache.max_size", 70900, 0},
	{"script.cache.expire", 70900, 0},
	{"snapshot.*", 50000, 0},
	{"persistent_tasks.*", 60000, 0},
};

/* Does key fit pattern ("*" one segment, a trailing ".*" any rest)? */
static bool setting_matches(const char *pattern, const char *key)
{
	while (*pattern && *key) {
		if (!strcmp(pattern, ".*"))
			return *key == '.' && key[1];
		if (*pattern == '*') {
			size_t n = strcspn(key, ".");
			if (n == 0)
				return false;
			pattern++;
			key += n;
			continue;
		}
		if (*pattern != *key)
			return false;
		pattern++;
		key++;
	}
	return !*pattern && !*key;
}

/* Is key a dynamic cluster setting of version code vcode? */
static bool dynamic_setting(const char *key, int vcode)
{
	for (size_t i = 0; i < ARRAY_SIZE(dynamic_settings); i++) {
		if (setting_matches(dynamic_settings[i].key, key) &&
		    vcode >= dynamic_settings[i].since &&
		    (!dynamic_settings[i].until || vcode < dynamic_settings[i].until))
			return true;
	}
	return false;
}

static const char *const static_keys[] = {
	"indices.query.bool.max_clause_count",
	"indices.fielddata.cache.size",
	"indices.queries.cache.size",
	"indices.requests.cache.size",
	"http.max_content_length",
	"http.max_initial_line_length",
	"http.max_header_size",
	"http.compression",
	"http.cors.",
	"thread_pool.",
	"threadpool.",
	"gateway.",
	"reindex.remote.",
	"script.allowed_types",
	"script.allowed_contexts",
	"node.",
	"path.",
	"network.host",
	"http.port",
	"transport.port",
	"discovery.seed_hosts",
	"discovery.zen.ping.unicast.hosts",
	"cluster.name",
	"cluster.initial_master_nodes",
	"bootstrap.",
};

/*
 * Static settings under a dynamic prefix: the settings API refuses them as
 * "not dynamically updateable" (the circuit breaker type and the real
 * memory breaker,
 * https://www.elastic.co/guide/en/elasticsearch/reference/7.17/circuit-breaker.html;
 * the indexing buffer,
 * https://www.elastic.co/guide/en/elasticsearch/reference/7.17/indexing-buffer.html,
 * both marked "(Static)").
 */
static const char *const static_under_dynamic[] = {
	"indices.breaker.type",
	"indices.breaker.total.use_real_memory",
	"indices.memory.index_buffer_size",
	"indices.memory.min_index_buffer_size",
	"indices.memory.max_index_buffer_size",
	"indices.memory.shard_inactive_time",
};

/*
 * Boolean dynamic settings: a value other than true or false is refused
 * with 400, as Booleans.parseBoolean does ("Failed to parse value [x] as
 * only [true] or [false] are allowed.", server/src/main/java/org/
 * elasticsearch/common/Booleans.java).
 */
static const char *const boolean_settings[] = {
	"action.destructive_requires_name",	 "cluster.blocks.read_only",
	"cluster.blocks.read_only_allow_delete", "cluster.indices.close.enable",
	"search.allow_expensive_queries",	 "cluster.routing.use_adaptive_replica_selection",
};

static bool known_prefix(const char *key, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!strncmp(key, list[i], strlen(list[i])))
			return true;
	}
	return false;
}

/*
 * 2.x's dynamic cluster settings: exactly those registered in
 * ClusterModule.registerBuiltinClusterSettings (2.x,
 * core/src/main/java/org/elasticsearch/cluster/ClusterModule.java), each
 * with its Validator; a key ending in "." is a group registered as
 * "prefix*".  TransportClusterUpdateSettingsAction applies a key that
 * DynamicSettings.isDynamicOrLoggingSetting knows (these, and "logger.")
 * and its validator accepts; any other it leaves out, logging "ignoring
 * persistent setting [k], not dynamically updateable" or "ignoring
 * persistent setting [k], [the validator's error]", and answers 200.
 * Plugins' registrations (cloud-aws, shield, marvel) are not modelled.
 */
enum v2_check {
	V2_ANY,
	V2_BOOL,
	V2_INT,
	V2_POSITIVE_INT,
	V2_FLOAT,
	V2_NON_NEGATIVE_FLOAT,
	V2_TIME,
	V2_BYTES,
	V2_MEMORY,
	V2_MASTER_NODES,
};

static const struct {
	const char *key;
	enum v2_check check;
} settings_2x[] = {
	{"cluster.routing.allocation.awareness.attributes", V2_ANY},
	{"cluster.routing.allocation.awareness.force.", V2_ANY},
	{"cluster.routing.allocation.balance.index", V2_FLOAT},
	{"cluster.routing.allocation.balance.shard", V2_FLOAT},
	{"cluster.routing.allocation.balance.threshold", V2_NON_NEGATIVE_FLOAT},
	{"cluster.routing.allocation.allow_rebalance", V2_ANY},
	{"cluster.routing.allocation.cluster_concurrent_rebalance", V2_INT},
	{"cluster.routing.allocation.enable", V2_ANY},
	{"cluster.routing.rebalance.enable", V2_ANY},
	{"discovery.zen.rejoin_on_master_gone", V2_BOOL},
	{"discovery.zen.no_master_block", V2_ANY},
	{"cluster.routing.allocation.include.", V2_ANY},
	{"cluster.routing.allocation.exclude.", V2_ANY},
	{"cluster.routing.allocation.require.", V2_ANY},
	{"indices.store.throttle.type", V2_ANY},
	{"indices.store.throttle.max_bytes_per_sec", V2_BYTES},
	{"indices.ttl.interval", V2_TIME},
	{"indices.mapping.dynamic_timeout", V2_TIME},
	{"cluster.blocks.read_only", V2_ANY},
	{"indices.recovery.file_chunk_size", V2_BYTES},
	{"indices.recovery.translog_ops", V2_INT},
	{"indices.recovery.translog_size", V2_BYTES},
	{"indices.recovery.compress", V2_ANY},
	{"indices.recovery.concurrent_streams", V2_POSITIVE_INT},
	{"indices.recovery.concurrent_small_file_streams", V2_POSITIVE_INT},
	{"indices.recovery.max_bytes_per_sec", V2_BYTES},
	{"indices.recovery.retry_delay_state_sync", V2_TIME},
	{"indices.recovery.retry_delay_network", V2_TIME},
	{"indices.recovery.recovery_activity_timeout", V2_TIME},
	{"indices.recovery.internal_action_timeout", V2_TIME},
	{"indices.recovery.internal_action_long_timeout", V2_TIME},
	{"indices.recovery.max_size_per_sec", V2_BYTES},
	{"threadpool.", V2_ANY},
	{"cluster.routing.allocation.node_initial_primaries_recoveries", V2_INT},
	{"cluster.routing.allocation.node_concurrent_recoveries", V2_INT},
	{"cluster.routing.allocation.disk.watermark.low", V2_ANY},
	{"cluster.routing.allocation.disk.watermark.high", V2_ANY},
	{"cluster.routing.allocation.disk.threshold_enabled", V2_BOOL},
	{"cluster.routing.allocation.disk.include_relocations", V2_BOOL},
	{"cluster.routing.allocation.disk.reroute_interval", V2_TIME},
	{"cluster.info.update.interval", V2_TIME},
	{"cluster.info.update.timeout", V2_TIME},
	{"cluster.routing.allocation.snapshot.relocation_enabled", V2_ANY},
	{"action.destructive_requires_name", V2_ANY},
	{"discovery.zen.publish_timeout", V2_TIME},
	{"discovery.zen.publish_diff.enable", V2_BOOL},
	{"discovery.zen.commit_timeout", V2_TIME},
	{"indices.breaker.total.limit", V2_MEMORY},
	{"indices.breaker.fielddata.limit", V2_MEMORY},
	{"indices.breaker.fielddata.overhead", V2_NON_NEGATIVE_FLOAT},
	{"indices.breaker.request.limit", V2_MEMORY},
	{"indices.breaker.request.overhead", V2_NON_NEGATIVE_FLOAT},
	{"cluster.service.slow_task_logging_threshold", V2_TIME},
	{"search.default_search_timeout", V2_TIME},
	{"discovery.zen.minimum_master_nodes", V2_MASTER_NODES},
	{"transport.tracer.include", V2_ANY},
	{"transport.tracer.include.", V2_ANY},
	{"transport.tracer.exclude", V2_ANY},
	{"transport.tracer.exclude.", V2_ANY},
	{"cluster.indices.close.enable", V2_BOOL},
	{"cluster.routing.allocation.total_shards_per_node", V2_INT},
	{"action.support.replication.shard.failure_timeout", V2_TIME},
	{"logger.", V2_ANY},
};

/*
 * The master-eligible nodes of the elected master's cluster state, which
 * the validators of discovery.zen.minimum_master_nodes count
 * (clusterState.nodes().getMasterNodes().size(): 2.x's
 * ElectMasterService.DISCOVERY_ZEN_MINIMUM_MASTER_NODES_VALIDATOR, 5.x-6.x
 * ZenDiscovery's settings-update validator, elastic/elasticsearch#29573).
 * The cluster state's nodes are the members that joined the elected master
 * (the nodes `_cat/nodes` lists, as cat_nodes() does): none without one.
 */
static int state_masters(struct es_cluster *cl)
{
	int masters = 0;
	if (!cl->master)
		return 0;
	for (size_t i = 0; i < cl->nnodes; i++)
		if (cl->nodes[i]->present && (cl->nodes[i]->roles & ROLE_MASTER))
			masters++;
	return masters;
}

/* Why 2.x leaves the key out of the update (newly allocated), or NULL when
 * it applies it: the validators of 2.x's cluster/settings/Validator.java. */
static char *ignored_by_2x(struct es_cluster *cl, const char *key, const json_t *value)
{
	enum v2_check check = V2_ANY;
	bool known = false;
	for (size_t i = 0; i < ARRAY_SIZE(settings_2x) && !known; i++) {
		const char *k = settings_2x[i].key;
		size_t n = strlen(k);
		known = k[n - 1] == '.' ? !strncmp(key, k, n) && key[n] : !strcmp(key, k);
		check = settings_2x[i].check;
	}
	if (!known)
		return xstrdup("not dynamically updateable");
	char *text = json_is_string(value) ? xstrdup(json_string_value(value))
					   : json_dumps(value, JSON_ENCODE_ANY);
	char *why = NULL, *end;
	int n = 0;
	int64_t ms;
	double d = 0;
	switch (check) {
	case V2_ANY:
		break;
	case V2_BOOL:
		/* Booleans.isExplicitTrue/isExplicitFalse. */
		if (strcmp(text, "true") && strcmp(text, "false") && strcmp(text, "1") &&
		    strcmp(text, "0") && strcmp(text, "on") && strcmp(text, "off") &&
		    strcmp(text, "yes") && strcmp(text, "no"))
			why = xasprintf("cannot parse value [%s] as a boolean", text);
		break;
	case V2_INT:
	case V2_POSITIVE_INT:
		if (!parse_int(text, check == V2_INT ? INT32_MIN : 1, INT32_MAX, &n))
			why = xasprintf(check == V2_INT
						? "cannot parse value [%s] as an integer"
						: "cannot parse value [%s] as a positive integer",
					text);
		break;
	case V2_FLOAT:
	case V2_NON_NEGATIVE_FLOAT:
		d = strtod(text, &end);
		if (end == text || *end || (check == V2_NON_NEGATIVE_FLOAT && d < 0))
			why = xasprintf("cannot parse value [%s] as a%s float", text,
					check == V2_FLOAT ? "" : " non-negative");
		break;
	case V2_TIME:
		/* 2.x's TimeValue also takes bare milliseconds. */
		if (!call_parse_duration_ms(text, &ms) && !parse_int64(text, 0, INT64_MAX, &ms))
			why = xasprintf("cannot parse value [%s] as a time value", text);
		break;
	case V2_BYTES:
		if (!byte_size_ok(text))
			why = xasprintf("cannot parse value [%s] as a size in bytes", text);
		break;
	case V2_MEMORY: {
		size_t len = strlen(text);
		d = strtod(text, &end);
		bool percent = len > 1 && text[len - 1] == '%' && end == text + len - 1 && d >= 0;
		if (!percent && !byte_size_ok(text))
			why = xasprintf("cannot parse value [%s] as a memory size", text);
		break;
	}
	case V2_MASTER_NODES:
		/* ElectMasterService.DISCOVERY_ZEN_MINIMUM_MASTER_NODES_VALIDATOR. */
		if (!parse_int(text, INT32_MIN, INT32_MAX, &n))
			why = xasprintf("cannot parse value [%s] as an integer", text);
		else if (n > state_masters(cl))
			why = xasprintf("cannot set discovery.zen.minimum_master_nodes to more "
					"than the current master nodes count [%d]",
					state_masters(cl));
		break;
	}
	free(text);
	return why;
}

/* Apply one scope's update; false with a reply on a refused key. */
static bool update_scope(struct es_cluster *cl, struct call *c, const char *scope, json_t *target,
			 json_t *flat, json_t *changed)
{
	const char *k;
	json_t *v;
	bool zen1 = version_major(cluster_version(cl)) < 7;
	bool v2 = version_major(cluster_version(cl)) < 5;
	int vcode = version_code(cluster_version(cl));
	void *iter_tmp;
	json_object_foreach_safe (flat, iter_tmp, k, v) {
		bool wildcard = strchr(k, '*') != NULL;
		/* 2.x applies or ignores (200 either way) by its own registry;
		 * the 400s came with the settings infrastructure of 5.0. */
		if (v2) {
			char *why = ignored_by_2x(cl, k, v);
			if (why) {
				log_warn("%s: ignoring %s setting [%s], %s%s%s", cl->ns, scope, k,
					 strcmp(why, "not dynamically updateable") ? "[" : "", why,
					 strcmp(why, "not dynamically updateable") ? "]" : "");
				json_object_del(flat, k);
			}
			free(why);
			continue;
		}
		if (wildcard && !json_is_null(v)) {
			sim_es_error(c, 400, "illegal_argument_exception",
				     "%s setting [%s], not recognized", scope, k);
			return false;
		}
		bool static_exact = false;
		for (size_t i = 0; i < ARRAY_SIZE(static_under_dynamic); i++)
			static_exact = static_exact || !strcmp(k, static_under_dynamic[i]);
		if (!wildcard &&
		    (static_exact || (known_prefix(k, static_keys, ARRAY_SIZE(static_keys)) &&
				      !dynamic_setting(k, vcode)))) {
			sim_es_error(c, 400, "illegal_argument_exception",
				     "%s setting [%s], not dynamically updateable", scope, k);
			return false;
		}
		bool zen_key = !strncmp(k, "discovery.zen.", 14);
		if (!wildcard && !dynamic_setting(k, vcode) && !(zen1 && zen_key)) {
			sim_es_error(c, 400, "illegal_argument_exception",
				     "%s setting [%s], not recognized", scope, k);
			return false;
		}
		for (size_t i = 0; i < ARRAY_SIZE(boolean_settings); i++) {
			const char *b = json_is_string(v) ? json_string_value(v) : NULL;
			if (strcmp(k, boolean_settings[i]) || !b || !strcmp(b, "true") ||
			    !strcmp(b, "false"))
				continue;
			sim_es_error(c, 400, "illegal_argument_exception",
				     "Failed to parse value [%s] as only [true] or [false] are "
				     "allowed.",
				     b);
			return false;
		}
		if (!strcmp(k, "cluster.routing.allocation.enable") && json_is_string(v)) {
			const char *s = json_string_value(v);
			if (strcmp(s, "all") && strcmp(s, "primaries") &&
			    strcmp(s, "new_primaries") && strcmp(s, "none")) {
				sim_es_error(c, 400, "illegal_argument_exception",
					     "Illegal allocation.enable value [%s]", s);
				return false;
			}
		}
	}
	json_object_foreach (flat, k, v) {
		if (json_is_null(v)) {
			const char *key;
			json_t *val;
			void *tmp;
			json_object_foreach_safe (target, tmp, key, val) {
				if (!fnmatch(k, key, 0))
					json_object_del(target, key);
			}
		} else {
			json_object_set(target, k, v);
			json_object_set(changed, k, v);
		}
	}
	return true;
}

/*
 * zen1 refuses a minimum_master_nodes above the master-eligible nodes in
 * the cluster state: "cannot set discovery.zen.minimum_master_nodes to
 * more than the current master nodes count [N]", illegal_argument_exception,
 * 400 (elastic/elasticsearch#29573, zen discovery's dynamic-setting
 * validation, 5.x-6.x), counted as state_masters() does.
 */
static bool zen1_quorum_setting_ok(struct es_cluster *cl, struct call *c, json_t *flat)
{
	json_t *v = json_object_get(flat, "discovery.zen.minimum_master_nodes");
	int want = 0;
	/* 2.x's validator makes the update ignore the key (ignored_by_2x). */
	if (!v || version_major(cluster_version(cl)) >= 7 || version_major(cluster_version(cl)) < 5)
		return true;
	if (json_is_integer(v))
		want = (int)json_integer_value(v);
	else if (!json_is_string(v) || !parse_int(json_string_value(v), 1, 1000, &want))
		return true; /* update_scope's own checks answer the rest */
	int masters = state_masters(cl);
	if (want <= masters)
		return true;
	sim_es_error(
		c, 400, "illegal_argument_exception",
		"cannot set discovery.zen.minimum_master_nodes to more than the current master "
		"nodes count [%d]",
		masters);
	return false;
}

static void put_settings(struct es_cluster *cl, struct call *c)
{
	json_error_t jerr;
	json_t *body = json_loadb(c->body, c->body_len, 0, &jerr);
	if (!json_is_object(body)) {
		json_decref(body);
		sim_es_error(c, 400, "parse_exception", "request body is required");
		return;
	}
	json_t *pflat = json_object(), *tflat = json_object();
	flatten("", json_object_get(body, "persistent"), pflat);
	flatten("", json_object_get(body, "transient"), tflat);
	json_object_del(pflat, "");
	json_object_del(tflat, "");
	if (version_major(cluster_version(cl)) < 5) {
		/* 2.x reads the body with XContentSettingsLoader, which skips a
		 * null ("ignore this"): null resets came with 5.0
		 * (elastic/elasticsearch#15278, #17996).  A request of nulls only
		 * is then empty, and ClusterUpdateSettingsRequest.validate
		 * refuses it: "no settings to update". */
		json_t *scopes[2] = {pflat, tflat};
		for (int i = 0; i < 2; i++) {
			const char *k;
			json_t *v;
			void *tmp;
			json_object_foreach_safe (scopes[i], tmp, k, v) {
				if (json_is_null(v))
					json_object_del(scopes[i], k);
			}
		}
	}
	if (json_object_size(pflat) == 0 && json_object_size(tflat) == 0) {
		json_decref(body);
		json_decref(pflat);
		json_decref(tflat);
		sim_es_error(c, 400, "action_request_validation_exception",
			     "Validation Failed: 1: no settings to update;");
		return;
	}
	if (!zen1_quorum_setting_ok(cl, c, pflat) || !zen1_quorum_setting_ok(cl, c, tflat)) {
		json_decref(body);
		json_decref(pflat);
		json_decref(tflat);
		return;
	}
	json_t *pnew = json_deep_copy(cl->persistent), *tnew = json_deep_copy(cl->transient);
	json_t *pchanged = json_object(), *tchanged = json_object();
	bool ok = update_scope(cl, c, "persistent", pnew, pflat, pchanged) &&
		  update_scope(cl, c, "transient", tnew, tflat, tchanged);
	if (ok) {
		if (json_object_size(tflat) > 0 && version_code(cluster_version(cl)) >= 71600)
			warn_header(cl, c,
				    "[transient settings removal] Updating cluster settings "
				    "through transientSettings is deprecated. Use persistent "
				    "settings instead.");
		json_decref(cl->persistent);
		json_decref(cl->transient);
		cl->persistent = pnew;
		cl->transient = tnew;
		pnew = tnew = NULL;
		bool flat = call_param_bool(c, "flat_settings", false);
		call_reply_json(c, 200,
				json_pack("{s:b, s:o, s:o}", "acknowledged", 1, "persistent",
					  flat ? json_incref(pchanged) : nest(pchanged),
					  "transient",
					  flat ? json_incref(tchanged) : nest(tchanged)));
	}
	json_decref(pnew);
	json_decref(tnew);
	json_decref(pchanged);
	json_decref(tchanged);
	json_decref(pflat);
	json_decref(tflat);
	json_decref(body);
}

/*
 * GET _cluster/settings: the persistent and transient settings; with
 * include_defaults, "defaults" holds every other setting as the answering
 * node sees it, its elasticsearch.yml's value where it sets one, else the
 * built-in default (RestClusterGetSettingsAction: ClusterSettings.diff of
 * the cluster state's settings against the node's).  The simulator's
 * defaults are the settings esaas reads, and every key of the file.
 */
static void get_settings(struct es_cluster *cl, struct call *c, const char *pod)
{
	bool flat = call_param_bool(c, "flat_settings", false);
	json_t *o =
		json_pack("{s:o, s:o}", "persistent",
			  flat ? json_deep_copy(cl->persistent) : nest(cl->persistent), "transient",
			  flat ? json_deep_copy(cl->transient) : nest(cl->transient));
	/* include_defaults came with 5.0's settings; 2.x's
	 * RestClusterGetSettingsAction reads flat_settings only and, before
	 * 5.0's strict parameters, ignores any other
	 * (https://www.elastic.co/guide/en/elasticsearch/reference/5.0/breaking_50_rest_api_changes.html). */
	if (version_code(cluster_version(cl)) >= 50000 &&
	    call_param_bool(c, "include_defaults", false)) {
		json_t *d = json_pack(
			"{s:s, s:s, s:s, s:s}", "cluster.routing.allocation.enable", "all",
			"cluster.routing.allocation.node_concurrent_recoveries", "2",
			"cluster.max_voting_config_exclusions", "10", "cluster.name", cl->name);
		struct es_node *self = pod ? node_by_pod(cl, pod) : NULL;
		/* Computed over the answering node's own settings, not the
		 * cluster's (the max_headroom defaults). */
		esdisk_defaults(d, version_code(cluster_version(cl)), file_setting_of, self);
		if (self && self->file)
			json_object_update(d, self->file);
		const char *k;
		json_t *v;
		void *tmp;
		json_object_foreach_safe (d, tmp, k, v) {
			if (json_object_get(cl->persistent, k) || json_object_get(cl->transient, k))
				json_object_del(d, k);
		}
		json_object_set_new(o, "defaults", flat ? d : nest(d));
		if (!flat)
			json_decref(d);
	}
	call_reply_json(c, 200, o);
}

/* --- cat --------------------------------------------------------------------------- */

struct cat_col {
	const char *name;
	const char *aliases; /* comma-separated */
};

/* Render rows (arrays of strings or nulls) under the columns chosen by h=. */
static void cat_reply(struct call *c, const struct cat_col *cols, size_t ncols, size_t ndefault,
		      json_t *rows)
{
	int pick[64];
	size_t npick = 0;
	const char *h = call_param(c, "h");
	if (h && *h) {
		char *copy = xstrdup(h);
		char *p = copy;
		while (p && npick < 64) {
			char *comma = strchr(p, ',');
			if (comma)
				*comma = '\0';
			for (size_t i = 0; i < ncols; i++) {
				if (!strcmp(cols[i].name, p) || list_matches(cols[i].aliases, p)) {
					pick[npick++] = (int)i;
					break;
				}
			}
			p = comma ? comma + 1 : NULL;
		}
		free(copy);
	} else {
		for (size_t i = 0; i < ndefault; i++)
			pick[npick++] = (int)i;
	}
	const char *format = call_param(c, "format");
	size_t r;
	json_t *row;
	if (format && !strcmp(format, "json")) {
		json_t *out = json_array();
		json_array_foreach (rows, r, row) {
			json_t *o = json_object();
			for (size_t i = 0; i < npick; i++) {
				const char *key = h ? NULL : cols[pick[i]].name;
				/* With h=, keys are as asked (an alias stays an alias). */
				json_object_set(o, key ? key : cols[pick[i]].name,
						json_array_get(row, (size_t)pick[i]));
			}
			json_array_append_new(out, o);
		}
		json_decref(rows);
		call_reply_json(c, 200, out);
		return;
	}
	bool header = call_param_bool(c, "v", false);
	size_t width[64] = {0};
	for (size_t i = 0; i < npick; i++) {
		if (header)
			width[i] = strlen(cols[pick[i]].name);
		json_array_foreach (rows, r, row) {
			const char *s = json_string_value(json_array_get(row, (size_t)pick[i]));
			size_t len = s ? strlen(s) : 0;
			if (len > width[i])
				width[i] = len;
		}
	}
	char *text = xstrdup("");
	for (int line = header ? -1 : 0; line < (int)json_array_size(rows); line++) {
		for (size_t i = 0; i < npick; i++) {
			const char *s = line < 0 ? cols[pick[i]].name
						 : json_string_value(json_array_get(
							   json_array_get(rows, (size_t)line),
							   (size_t)pick[i]));
			if (!s)
				s = "";
			char *next = xasprintf("%s%s%-*s", text, i ? " " : "",
					       i + 1 < npick ? (int)width[i] : 0, s);
			free(text);
			text = next;
		}
		char *next = xasprintf("%s\n", text);
		free(text);
		text = next;
	}
	json_decref(rows);
	call_reply_text(c, 200, "text/plain; charset=UTF-8", text);
	free(text);
}

/* _cat/nodes' node.role: one letter per role, in alphabetical order; a
 * node with every role of 8.x also has the data tiers (c, f, h, s, w). */
static const char *role_letters(struct es_cluster *cl, const struct es_node *n)
{
	static const struct {
		unsigned role;
		char letter;
	} letters[] = {{ROLE_DATA, 'd'},   {ROLE_INGEST, 'i'}, {ROLE_ML, 'l'},
		       {ROLE_MASTER, 'm'}, {ROLE_REMOTE, 'r'}, {ROLE_TRANSFORM, 't'}};
	static char buf[8];
	const unsigned every =
		ROLE_MASTER | ROLE_DATA | ROLE_INGEST | ROLE_ML | ROLE_TRANSFORM | ROLE_REMOTE;
	size_t k = 0;

	if (version_major(cluster_version(cl)) >= 8 && n->roles == every)
		return "cdfhilmrstw";
	for (size_t i = 0; i < ARRAY_SIZE(letters); i++)
		if (n->roles & letters[i].role)
			buf[k++] = letters[i].letter;
	buf[k] = '\0';
	return k ? buf : "-";
}

static void cat_nodes(struct es_cluster *cl, struct call *c)
{
	static const struct cat_col cols[] = {
		{"ip", "i"},
		{"heap.percent", "hp,heapPercent"},
		{"ram.percent", "rp,ramPercent"},
		{"cpu", ""},
		{"load_1m", "l"},
		{"load_5m", "l"},
		{"load_15m", "l"},
		{"node.role", "r,role,nodeRole"},
		{"master", "m"},
		{"name", "n"},
		{"id", "nodeId"},
		{"version", "v"},
		{"port", "po"},
		{"host", "h"},
	};
	bool full = call_param_bool(c, "full_id", false);
	json_t *rows = json_array();
	for (size_t i = 0; i < cl->nnodes; i++) {
		struct es_node *n = cl->nodes[i];
		if (!n->present)
			continue;
		char id[32];
		str_copy_trunc(id, n->id, full ? sizeof(id) : 5);
		json_array_append_new(
			rows, json_pack("[s,s,s,s,s,s,s,s,s,s,s,s,s,s]", n->ip, "23", "61", "2",
					"0.15", "0.20", "0.25", role_letters(cl, n),
					cl->master && !strcmp(cl->master, n->name) ? "*" : "-",
					n->name, id, n->version, "9300", n->ip));
	}
	cat_reply(c, cols, ARRAY_SIZE(cols), 10, rows);
}

static void cat_shards(struct es_cluster *cl, struct call *c, const char *only)
{
	static const struct cat_col cols[] = {
		{"index", "i,idx"}, {"shard", "s,sh"}, {"prirep", "p,pr,primaryOrReplica"},
		{"state", "st"},    {"docs", "d,dc"},  {"store", "sto"},
		{"ip", ""},	    {"node", "n"},     {"unassigned.reason", "ur"},
		{"id", ""},
	};
	json_t *rows = json_array();
	for (size_t i = 0; i < cl->nindices; i++) {
		struct es_index *ix = cl->indices[i];
		if (only && !list_matches(only, ix->name))
			continue;
		for (int s = 0; s < ix->nshards; s++) {
			for (int k = 0; k < ix->shards[s].ncopies; k++) {
				struct es_copy *cp = &ix->shards[s].copies[k];
				struct es_node *n = node_by_name(cl, cp->node);
				char shard[16];
				snprintf(shard, sizeof(shard), "%d", s);
				char *node = NULL;
				if (cp->state == COPY_RELOCATING) {
					struct es_node *t = node_by_name(cl, cp->target);
					node = xasprintf("%s -> %s %s %s", cp->node, t ? t->ip : "",
							 t ? t->id : "", cp->target);
				} else if (cp->node) {
					node = xstrdup(cp->node);
				}
				bool assigned = cp->state != COPY_UNASSIGNED;
				json_array_append_new(
					rows,
					json_pack("[s,s,s,s,o,o,o,o,o,o]", ix->name, shard,
						  cp->primary ? "p" : "r",
						  copy_state_names[cp->state],
						  assigned ? json_string("0") : json_null(),
						  assigned ? json_string("225b") : json_null(),
						  n && assigned ? json_string(n->ip) : json_null(),
						  node ? json_string(node) : json_null(),
						  cp->reason && !assigned ? json_string(cp->reason)
									  : json_null(),
						  n && assigned ? json_string(n->id)
								: json_null()));
				free(node);
			}
		}
	}
	cat_reply(c, cols, ARRAY_SIZE(cols), 8, rows);
}

static void cat_plugins(struct es_cluster *cl, struct call *c)
{
	static const struct cat_col cols[] = {
		{"name", "n"},
		{"component", "c"},
		{"version", "v"},
		{"id", ""},
	};
	json_t *rows = json_array();
	for (size_t i = 0; i < cl->nnodes; i++) {
		struct es_node *n = cl->nodes[i];
		size_t k;
		json_t *p;
		if (!n->present)
			continue;
		json_array_foreach (n->plugins, k, p)
			json_array_append_new(
				rows, json_pack("[s,O,s,s]", n->name, p, n->version, n->id));
	}
	cat_reply(c, cols, ARRAY_SIZE(cols), 3, rows);
}

static void cat_indices(struct es_cluster *cl, struct call *c, const char *only)
{
	static const struct cat_col cols[] = {
		{"health", "h"},
		{"status", "s"},
		{"index", "i,idx"},
		{"uuid", "id"},
		{"pri", "p,shards.primary"},
		{"rep", "r,shards.replica"},
		{"docs.count", "dc,docsCount"},
		{"docs.deleted", "dd"},
		{"store.size", "ss"},
		{"pri.store.size", ""},
	};
	json_t *rows = json_array();
	for (size_t i = 0; i < cl->nindices; i++) {
		struct es_index *ix = cl->indices[i];
		if (only && !list_matches(only, ix->name))
			continue;
		struct health h;
		compute_health(cl, ix->name, &h);
		char pri[16], rep[16];
		snprintf(pri, sizeof(pri), "%d", ix->nshards);
		snprintf(rep, sizeof(rep), "%d", ix->nreplicas);
		char docs[24];
		snprintf(docs, sizeof(docs), "%lld", (long long)docs_of(ix, NULL));
		json_array_append_new(rows,
				      json_pack("[s,s,s,s,s,s,s,s,s,s]", h.status, "open", ix->name,
						ix->uuid, pri, rep, docs, "0", "225b", "225b"));
	}
	cat_reply(c, cols, ARRAY_SIZE(cols), 10, rows);
}

/*
 * _cat/allocation[/{node_id}]: each data node's shards and disk, as
 * RestAllocationAction writes them (the shards on it, disk.indices the
 * store of its started copies, disk.used, disk.avail, disk.total of its
 * filesystem, disk.percent the used share, truncated), and a row
 * UNASSIGNED counting the unassigned copies
 * (https://www.elastic.co/guide/en/elasticsearch/reference/7.17/cat-allocation.html).
 */
static void cat_allocation(struct es_cluster *cl, struct call *c, const char *only)
{
	static const struct cat_col cols[] = {
		{"shards", "s"},
		{"disk.indices", "di,diskIndices"},
		{"disk.used", "du,diskUsed"},
		{"disk.avail", "da,diskAvail"},
		{"disk.total", "dt,diskTotal"},
		{"disk.percent", "dp,diskPercent"},
		{"host", "h"},
		{"ip", ""},
		{"node", "n"},
	};
	const char *unit = call_param(c, "bytes");
	char probe[32];
	if (!esdisk_cat_bytes(0, unit, probe, sizeof(probe))) {
		sim_es_error(c, 400, "illegal_argument_exception",
			     "failed to parse setting [bytes] with value [%s] as a size in bytes",
			     unit);
		return;
	}
	json_t *rows = json_array();
	int unassigned = 0;
	for (size_t i = 0; i < cl->nindices; i++) {
		struct es_index *ix = cl->indices[i];
		for (int s = 0; s < ix->nshards; s++)
			for (int k = 0; k < ix->shards[s].ncopies; k++)
				unassigned += ix->shards[s].copies[k].state == COPY_UNASSIGNED;
	}
	for (size_t i = 0; i < cl->nnodes; i++) {
		struct es_node *n = cl->nodes[i];
		struct esdisk_usage u = {0};
		if (!n->present || !(n->roles & ROLE_DATA))
			continue;
		if (only && !list_matches(only, n->name) && !list_matches(only, n->id))
			continue;
		int64_t indices = 0;
		for (size_t x = 0; x < cl->nindices; x++) {
			struct es_index *ix = cl->indices[x];
			for (int s = 0; s < ix->nshards; s++)
				for (int k = 0; k < ix->shards[s].ncopies; k++) {
					struct es_copy *cp = &ix->shards[s].copies[k];
					if (cp->state != COPY_UNASSIGNED &&
					    same_name(cp->node, n->name))
						indices += ix->shard_bytes;
				}
		}
		char shards[16], di[32], du[32], da[32], dt[32], dp[16];
		snprintf(shards, sizeof(shards), "%d", copies_on(cl, n->name));
		bool have = node_usage(n, &u);
		if (!esdisk_cat_bytes(indices, unit, di, sizeof(di)) ||
		    !esdisk_cat_bytes(u.used, unit, du, sizeof(du)) ||
		    !esdisk_cat_bytes(u.avail, unit, da, sizeof(da)) ||
		    !esdisk_cat_bytes(u.total, unit, dt, sizeof(dt)))
			continue;
		snprintf(dp, sizeof(dp), "%d", u.total > 0 ? (int)(100 * u.used / u.total) : 0);
		json_array_append_new(rows, json_pack("[s,s,o,o,o,o,s,s,s]", shards, di,
						      have ? json_string(du) : json_null(),
						      have ? json_string(da) : json_null(),
						      have ? json_string(dt) : json_null(),
						      have ? json_string(dp) : json_null(), n->ip,
						      n->ip, n->name));
	}
	if (unassigned > 0 && !only) {
		char count[16];
		snprintf(count, sizeof(count), "%d", unassigned);
		json_array_append_new(rows, json_pack("[s,n,n,n,n,n,n,n,s]", count, "UNASSIGNED"));
	}
	cat_reply(c, cols, ARRAY_SIZE(cols), ARRAY_SIZE(cols), rows);
}

/*
 * The deprecation info API (X-Pack: GET /_xpack/migration/deprecations
 * from 6.x, GET /_migration/deprecations from 7.0): what must change before
 * the next major.  Here its index check: an index created before the
 * current major is CRITICAL, the next major cannot read it
 * (IndexDeprecationChecks.oldIndicesCheck, "Index created before 7.0" in
 * 7.x; https://www.elastic.co/guide/en/elasticsearch/reference/7.17/migration-api-deprecation.html).
 * The cluster and node setting checks answer empty lists.
 */
static void deprecations(struct es_cluster *cl, struct call *c)
{
	int major = version_major(cluster_version(cl));
	json_t *indices = json_object();
	for (size_t i = 0; i < cl->nindices; i++) {
		struct es_index *ix = cl->indices[i];
		if (version_major(ix->created_version) >= major)
			continue;
		/* 9.x: no next major's rules to check against (an index of 8.x
		 * or, read-only, of 7.x is one 9.x reads); nothing reported. */
		if (major >= 9)
			continue;
		/* From 8.18 (IndexDeprecationChecker.oldIndicesCheck and
		 * ignoredOldIndicesCheck): an index 9.x will read read-only
		 * (blocked and verified) is a warning, the others critical. */
		if (version_code(cluster_version(cl)) >= 81800) {
			bool ro = ix->write_block && ix->verified_read_only;
			char *details =
				ro ? xasprintf("This read-only index has version: %s and will be "
					       "supported as read-only in 9.0",
					       ix->created_version)
				   : xasprintf("This index has version: %s", ix->created_version);
			json_object_set_new(
				indices, ix->name,
				json_pack("[{s:s, s:s, s:s, s:s, s:b, s:{s:b}}]", "level",
					  ro ? "warning" : "critical", "message",
					  ro ? "Old index with a compatibility version < 8.0 has "
					       "been ignored"
					     : "Old index with a compatibility version < 8.0",
					  "url",
					  ro ? "https://www.elastic.co/guide/en/elasticsearch/"
					       "reference/current/breaking-changes-9.0.html"
					     : "https://www.elastic.co/guide/en/elasticsearch/"
					       "reference/current/migrating-9.0.html",
					  "details", details, "resolve_during_rolling_upgrade", 0,
					  "_meta", "reindex_required", 1));
			free(details);
			continue;
		}
		char *msg = xasprintf("Index created before %d.0", major);
		char *url = xasprintf("https://www.elastic.co/guide/en/elasticsearch/reference/"
				      "master/breaking-changes-%d.0.html",
				      major + 1);
		char *details =
			xasprintf("This index was created using version: %s", ix->created_version);
		json_object_set_new(indices, ix->name,
				    json_pack("[{s:s, s:s, s:s, s:s}]", "level", "critical",
					      "message", msg, "url", url, "details", details));
		free(msg);
		free(url);
		free(details);
	}
	call_reply_json(c, 200,
			json_pack("{s:[], s:[], s:o, s:[]}", "cluster_settings", "node_settings",
				  "index_settings", indices, "ml_settings"));
}

static void cat_master(struct es_cluster *cl, struct call *c)
{
	static const struct cat_col cols[] = {
		{"id", ""},
		{"host", "h"},
		{"ip", ""},
		{"node", "n"},
	};
	json_t *rows = json_array();
	struct es_node *m = node_by_name(cl, cl->master);
	if (m)
		json_array_append_new(rows, json_pack("[s,s,s,s]", m->id, m->ip, m->ip, m->name));
	cat_reply(c, cols, ARRAY_SIZE(cols), 4, rows);
}

static void cat_health(struct es_cluster *cl, struct call *c)
{
	static const struct cat_col cols[] = {
		{"epoch", "t,time"},
		{"timestamp", "ts,hms,hhmmss"},
		{"cluster", "cl"},
		{"status", "st"},
		{"node.total", "nt,nodeTotal"},
		{"node.data", "nd,nodeData"},
		{"shards", "t,sh,shards.total"},
		{"pri", "p,shards.primary"},
		{"relo", "r,shards.relocating"},
		{"init", "i,shards.initializing"},
		{"unassign", "u,shards.unassigned"},
		{"pending_tasks", "pt"},
		{"max_task_wait_time", "mtwt"},
		{"active_shards_percent", "asp"},
	};
	struct health h;
	compute_health(cl, NULL, &h);
	char v[8][32];
	int64_t now = now_wall_ms();
	snprintf(v[0], 32, "%lld", (long long)(now / 1000));
	snprintf(v[1], 32, "%02d:%02d:%02d", (int)(now / 3600000 % 24), (int)(now / 60000 % 60),
		 (int)(now / 1000 % 60));
	snprintf(v[2], 32, "%d", h.nodes);
	snprintf(v[3], 32, "%d", h.data_nodes);
	snprintf(v[4], 32, "%d", h.active);
	snprintf(v[5], 32, "%d", h.active_primary);
	snprintf(v[6], 32, "%.1f%%", h.total ? 100.0 * h.active / h.total : 100.0);
	char relo[16], init[16], un[16];
	snprintf(relo, sizeof(relo), "%d", h.relocating);
	snprintf(init, sizeof(init), "%d", h.initializing);
	snprintf(un, sizeof(un), "%d", h.unassigned);
	json_t *rows = json_pack("[[s,s,s,s,s,s,s,s,s,s,s,s,s,s]]", v[0], v[1], cl->name, h.status,
				 v[2], v[3], v[4], v[5], relo, init, un, "0", "-", v[6]);
	cat_reply(c, cols, ARRAY_SIZE(cols), 14, rows);
}

/* --- nodes info, root --------------------------------------------------------------- */

static json_t *roles_json(struct es_cluster *cl, const struct es_node *n)
{
	static const struct {
		unsigned role;
		const char *name;
	} names[] = {{ROLE_DATA, "data"},
		     {ROLE_INGEST, "ingest"},
		     {ROLE_MASTER, "master"},
		     {ROLE_ML, "ml"},
		     {ROLE_REMOTE, "remote_cluster_client"},
		     {ROLE_TRANSFORM, "transform"}};
	json_t *r = json_array();
	(void)cl;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (n->roles & names[i].role)
			json_array_append_new(r, json_string(names[i].name));
	return r;
}

static void nodes_info(struct es_cluster *cl, struct call *c, const char *filter, const char *pod)
{
	json_t *nodes = json_object();
	int total = 0;
	for (size_t i = 0; i < cl->nnodes; i++) {
		struct es_node *n = cl->nodes[i];
		if (!n->present)
			continue;
		if (filter && strcmp(filter, "_all") != 0) {
			bool hit = list_matches(filter, n->name) || list_matches(filter, n->id) ||
				   list_matches(filter, n->ip) ||
				   (!strcmp(filter, "_local") && !strcmp(n->pod, pod)) ||
				   (!strcmp(filter, "_master") && cl->master &&
				    !strcmp(cl->master, n->name));
			if (!hit)
				continue;
		}
		total++;
		json_t *plugins = json_array();
		size_t k;
		json_t *p;
		json_array_foreach (n->plugins, k, p) {
			json_array_append_new(plugins,
					      json_pack("{s:O, s:s, s:s, s:s, s:s, s:[], s:b, s:b}",
							"name", p, "version", n->version,
							"elasticsearch_version", n->version,
							"java_version", "1.8", "description",
							"plugin", "extended_plugins",
							"has_native_controller", 0, "licensed", 0));
		}
		char *transport = xasprintf("%s:9300", n->ip);
		char *http = xasprintf("%s:9200", n->ip);
		json_object_set_new(nodes, n->id,
				    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, "
					      "s:{s:s}, s:o, s:[], s:{s:s}}",
					      "name", n->name, "transport_address", transport,
					      "host", n->ip, "ip", n->ip, "version", n->version,
					      "build_flavor", "default", "build_type", "docker",
					      "build_hash", "b4c4d8f6", "roles", roles_json(cl, n),
					      "attributes", "k8s_node_name", n->host, "plugins",
					      plugins, "modules", "http", "publish_address", http));
		/* The http section as NodeInfo's HttpInfo writes it. */
		json_t *hs = json_object_get(json_object_get(nodes, n->id), "http");
		json_object_set_new(hs, "bound_address", json_pack("[s]", http));
		json_object_set_new(hs, "max_content_length_in_bytes", json_integer(104857600));
		free(transport);
		free(http);
	}
	call_reply_json(c, 200,
			json_pack("{s:{s:i, s:i, s:i}, s:s, s:o}", "_nodes", "total", total,
				  "successful", total, "failed", 0, "cluster_name", cl->name,
				  "nodes", nodes));
}

/*
 * GET _nodes[/{node_id}]/stats[/{metric}]: the fs section of each node
 * (FsInfo: the total of its data paths and each path), the other metrics
 * left out.  Its data path's filesystem is its host's (sim/esdisk.h);
 * free_in_bytes is available_in_bytes, no blocks being kept for root
 * (https://www.elastic.co/guide/en/elasticsearch/reference/7.17/cluster-nodes-stats.html#cluster-nodes-stats-api-response-body-fs).
 */
static void nodes_stats(struct es_cluster *cl, struct call *c, const char *filter,
			const char *metric, const char *pod)
{
	bool fs = !metric || list_matches(metric, "fs") || list_matches(metric, "_all");
	json_t *nodes = json_object();
	int total = 0;
	for (size_t i = 0; i < cl->nnodes; i++) {
		struct es_node *n = cl->nodes[i];
		struct esdisk_usage u;
		if (!n->present)
			continue;
		if (filter && strcmp(filter, "_all") != 0 && !list_matches(filter, n->name) &&
		    !list_matches(filter, n->id) && !list_matches(filter, n->ip) &&
		    !(!strcmp(filter, "_local") && pod && !strcmp(n->pod, pod)))
			continue;
		total++;
		char *transport = xasprintf("%s:9300", n->ip);
		json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:o}", "timestamp",
				      (json_int_t)now_wall_ms(), "name", n->name,
				      "transport_address", transport, "host", n->ip, "ip", n->ip,
				      "roles", roles_json(cl, n));
		free(transport);
		if (fs && node_usage(n, &u)) {
			const char *dir = n->datadir ? n->datadir : "/usr/share/elasticsearch/data";
			json_object_set_new(
				o, "fs",
				json_pack("{s:I, s:{s:I, s:I, s:I}, s:[{s:s, s:s, s:s, s:I, s:I, "
					  "s:I}]}",
					  "timestamp", (json_int_t)now_wall_ms(), "total",
					  "total_in_bytes", (json_int_t)u.total, "free_in_bytes",
					  (json_int_t)u.avail, "available_in_bytes",
					  (json_int_t)u.avail, "data", "path", dir, "mount", "/",
					  "type", "ext4", "total_in_bytes", (json_int_t)u.total,
					  "free_in_bytes", (json_int_t)u.avail,
					  "available_in_bytes", (json_int_t)u.avail));
		}
		json_object_set_new(nodes, n->id, o);
	}
	call_reply_json(c, 200,
			json_pack("{s:{s:i, s:i, s:i}, s:s, s:o}", "_nodes", "total", total,
				  "successful", total, "failed", 0, "cluster_name", cl->name,
				  "nodes", nodes));
}

static void root(struct es_cluster *cl, struct call *c, const char *pod)
{
	struct es_node *n = node_by_pod(cl, pod);
	const char *version = n ? n->version : cluster_version(cl);
	int major = version_major(version);
	json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "number", version, "build_flavor",
			      "default", "build_type", "docker", "build_hash",
			      "b4c4d8f6e1e5c7f5b6bf2e9e0c3f1e1d2f9b0f2a", "build_snapshot", 0,
			      "lucene_version",
			      major >= 9   ? "10.3.2"
			      : major >= 8 ? "9.12.0"
					   : "8.11.1");
	json_object_set_new(v, "build_date", json_string("2024-01-01T00:00:00.000000000Z"));
	/* 9.x talks to 8.18+ and reads indices from 8.0 (wire_compatible,
	 * min_index_compat). */
	json_object_set_new(v, "minimum_wire_compatibility_version",
			    json_string(major >= 9   ? "8.18.0"
					: major >= 8 ? "7.17.0"
						     : "6.8.0"));
	json_object_set_new(v, "minimum_index_compatibility_version",
			    json_string(major >= 9   ? "8.0.0"
					: major >= 8 ? "7.0.0"
						     : "6.0.0-beta1"));
	if (major < 5) {
		json_object_del(v, "build_flavor");
		json_object_del(v, "build_type");
		json_object_del(v, "build_date");
		json_object_del(v, "minimum_wire_compatibility_version");
		json_object_del(v, "minimum_index_compatibility_version");
	}
	json_t *o = json_pack("{s:s, s:s}", "name", n ? n->name : pod, "cluster_name", cl->name);
	if (major >= 5)
		json_object_set_new(
			o, "cluster_uuid",
			json_string(node_sees_master(cl, pod) && cl->uuid ? cl->uuid : "_na_"));
	json_object_set_new(o, "version", v);
	json_object_set_new(o, "tagline", json_string("You Know, for Search"));
	call_reply_json(c, 200, o);
}

/* --- flush, indices ------------------------------------------------------------------ */

static void flush(struct es_cluster *cl, struct call *c, const char *only, bool synced)
{
	int total = 0, ok = 0;
	json_t *per = json_object();
	for (size_t i = 0; i < cl->nindices; i++) {
		struct es_index *ix = cl->indices[i];
		if (only && !list_matches(only, ix->name))
			continue;
		int it = 0, iok = 0;
		for (int s = 0; s < ix->nshards; s++) {
			for (int k = 0; k < ix->shards[s].ncopies; k++) {
				struct es_copy *cp = &ix->shards[s].copies[k];
				it++;
				if (cp->state == COPY_STARTED || cp->state == COPY_RELOCATING)
					iok++;
			}
		}
		total += it;
		ok += iok;
		json_object_set_new(
			per, ix->name,
			json_pack("{s:i, s:i, s:i}", "total", it, "successful", iok, "failed", 0));
	}
	if (only && !strchr(only, '*') && !strchr(only, ',') && strcmp(only, "_all") &&
	    !index_find(cl, only)) {
		json_decref(per);
		index_not_found(c, only);
		return;
	}
	json_t *o = json_pack("{s:{s:i, s:i, s:i}}", "_shards", "total", total, "successful", ok,
			      "failed", 0);
	if (synced) {
		if (version_code(cluster_version(cl)) >= 70600)
			warn_header(cl, c,
				    "Synced flush is deprecated and will be removed in 8.0. "
				    "Use flush at _/flush or /{index}/_flush instead.");
		json_object_update(o, per);
	}
	json_decref(per);
	/* A synced flush with copies missing answers 409 (partly failed). */
	call_reply_json(c, synced && ok < total ? 409 : 200, o);
}

static bool valid_index_name(const char *name)
{
	if (!*name || name[0] == '_' || name[0] == '-' || name[0] == '+' || strlen(name) > 255)
		return false;
	for (const char *p = name; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || strchr("\\/*?\"<>| ,#:", *p))
			return false;
	}
	return strcmp(name, ".") && strcmp(name, "..");
}

static void create_index(struct es_cluster *cl, struct call *c, const char *pod, const char *name)
{
	if (!valid_index_name(name)) {
		sim_es_error(
			c, 400, "invalid_index_name_exception",
			"Invalid index name [%s], must be lowercase and must not start with '_', "
			"'-' or '+'",
			name);
		return;
	}
	struct es_index *have = index_find(cl, name);
	if (have) {
		sim_es_error(c, 400, "resource_already_exists_exception",
			     "index [%s/%s] already exists", name, have->uuid);
		return;
	}
	json_t *body = c->body_len ? json_loadb(c->body, c->body_len, 0, NULL) : json_object();
	if (!json_is_object(body)) {
		json_decref(body);
		sim_es_error(c, 400, "parse_exception", "request body must be a JSON object");
		return;
	}
	json_t *flat = json_object();
	json_t *settings = json_object_get(body, "settings");
	json_t *analysis = json_object_get(settings, "analysis");
	if (!analysis)
		analysis = json_object_get(json_object_get(settings, "index"), "analysis");
	analysis = json_deep_copy(analysis);
	json_t *mappings = json_deep_copy(json_object_get(body, "mappings"));
	flatten("", settings, flat);
	json_decref(body);
	int major = version_major(cluster_version(cl));
	int shards = major >= 7 ? 1 : 5, replicas = 1;
	const char *v;
	if ((v = json_str(flat, "number_of_shards")) ||
	    (v = json_str(flat, "index.number_of_shards")))
		if (!parse_int(v, 1, 1024, &shards))
			shards = -1;
	if ((v = json_str(flat, "number_of_replicas")) ||
	    (v = json_str(flat, "index.number_of_replicas")))
		if (!parse_int(v, 0, 100, &replicas))
			replicas = -1;
	json_decref(flat);
	if (shards < 1 || replicas < 0) {
		json_decref(analysis);
		json_decref(mappings);
		sim_es_error(c, 400, "illegal_argument_exception",
			     "Failed to parse value for index.number_of_shards/number_of_replicas");
		return;
	}
	struct es_index *ix = index_create(cl, name, shards, replicas);
	ix->analysis = analysis;
	ix->mappings = mappings;
	allocate(cl, now_mono_ms());
	/* wait_for_active_shards (default 1): the primaries. */
	struct es_wait *w;
	park(WAIT_INDEX_ACTIVE, cl, c, pod, c->path, param_ms(c, "timeout", 30000));
	w = waits;
	w->index = xstrdup(name);
}

/*
 * GET /{index}/_settings (_all, a pattern or a list): each index's
 * settings, nested ({"index": {"number_of_shards": "1", "analysis": ...}})
 * https://www.elastic.co/guide/en/elasticsearch/reference/7.17/indices-get-settings.html;
 * flat_settings is not modelled.
 */
/* GET {index}/_settings, or with whole the get index API (GET {index}):
 * aliases, mappings and settings. */
static void index_settings(struct es_cluster *cl, struct call *c, const char *name, bool whole)
{
	bool all = !strcmp(name, "_all");
	json_t *out = json_object();
	for (size_t i = 0; i < cl->nindices; i++) {
		struct es_index *ix = cl->indices[i];
		if (!all && !list_matches(name, ix->name))
			continue;
		char sh[16], rep[16];
		snprintf(sh, sizeof(sh), "%d", ix->nshards);
		snprintf(rep, sizeof(rep), "%d", ix->nreplicas);
		json_t *index = json_pack("{s:s, s:s, s:s, s:s}", "number_of_shards", sh,
					  "number_of_replicas", rep, "uuid", ix->uuid,
					  "provided_name", ix->name);
		if (ix->analysis)
			json_object_set_new(index, "analysis", json_deep_copy(ix->analysis));
		if (ix->write_block)
			json_object_set_new(index, "blocks", json_pack("{s:s}", "write", "true"));
		if (ix->verified_read_only)
			json_object_set_new(index, "verified_read_only", json_string("true"));
		/* index.version.created as Version's id, major * 1000000 + minor
		 * * 10000 + revision * 100 + 99 for a release (Version.java's
		 * fromId; "7171099" for 7.17.10). */
		int code = version_code(ix->created_version);
		json_object_set_new(index, "version",
				    json_pack("{s:o}", "created",
					      json_sprintf("%d%02d%02d99", code / 10000,
							   code / 100 % 100, code % 100)));
		json_t *entry = json_pack("{s:{s:o}}", "settings", "index", index);
		if (whole) {
			json_object_set_new(entry, "aliases", json_object());
			json_object_set_new(entry, "mappings",
					    ix->mappings ? json_deep_copy(ix->mappings)
							 : json_object());
		}
		json_object_set_new(out, ix->name, entry);
	}
	if (!all && json_object_size(out) == 0 && !strchr(name, '*') && !strchr(name, ',')) {
		json_decref(out);
		index_not_found(c, name);
		return;
	}
	call_reply_json(c, 200, out);
}

/*
 * A deleted index's folder goes from the data paths of the nodes in the
 * cluster.  A node that is away keeps it: 2.x imports it again as dangling
 * when the node comes back (the deleted index returns); from 5.0 the
 * cluster state's index graveyard, the latest cluster.indices.tombstones.size
 * (500) deletions, makes the returning node delete it instead
 * (IndexGraveyard; https://www.elastic.co/guide/en/elasticsearch/reference/6.8/modules-gateway-dangling-indices.html,
 * elastic/elasticsearch#20520); one whose tombstone has gone from the
 * graveyard is a dangling index again.
 */
static int tombstones_size(struct es_cluster *cl)
{
	int n;
	for (size_t i = 0; i < cl->nnodes; i++) {
		struct es_node *m = cl->nodes[i];
		const char *v = m->present && (m->roles & ROLE_MASTER)
					? json_str(m->file, "cluster.indices.tombstones.size")
					: NULL;
		if (v && parse_int(v, 0, 1 << 20, &n))
			return n;
	}
	return 500;
}

static void folders_drop_index(struct es_cluster *cl, const struct es_index *ix)
{
	for (size_t i = 0; i < cl->nnodes; i++) {
		struct es_node *n = cl->nodes[i];
		struct hostdir *d = n->datadir && n->host ? hostfs_find(n->host, n->datadir) : NULL;
		if (d && n->present)
			hostfs_drop_index(d, ix->name, ix->uuid);
	}
	if (version_major(cluster_version(cl)) < 5)
		return;
	json_array_append_new(cl->graveyard,
			      json_pack("{s:s, s:s}", "name", ix->name, "uuid", ix->uuid));
	int keep = tombstones_size(cl);
	while ((int)json_array_size(cl->graveyard) > keep)
		json_array_remove(cl->graveyard, 0);
}

/* A node back in the cluster deletes the indices its folder holds that
 * the graveyard names. */
static void graveyard_apply(struct es_cluster *cl, struct hostdir *d)
{
	size_t i;
	json_t *t;
	json_array_foreach (cl->graveyard, i, t)
		hostfs_drop_index(d, json_str(t, "name"), json_str(t, "uuid"));
}

/*
 * The add index block API, PUT /<index>/_block/<block> (7.9+): write and
 * read_only keep the index from writes.  From 8.18 adding either also
 * marks the index index.verified_read_only, what lets 9.x read an index
 * created in 7.x (https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-indices-add-block;
 * MetadataIndexStateService.addIndexBlock, VERIFIED_READ_ONLY_SETTING).
 * A document written to a blocked index is the 403 cluster_block_exception
 * (IndexMetadata.INDEX_WRITE_BLOCK, id 8, and INDEX_READ_ONLY_BLOCK, id 5).
 * The metadata and read blocks are taken and not modelled.
 */
static void add_block(struct es_cluster *cl, struct call *c, const char *name, const char *block)
{
	static const char *const blocks[] = {"metadata", "read", "read_only", "write"};
	bool known = false;
	for (size_t i = 0; i < ARRAY_SIZE(blocks); i++)
		known |= !strcmp(block, blocks[i]);
	if (!known) {
		sim_es_error(c, 400, "illegal_argument_exception", "No block found for [%s]",
			     block);
		return;
	}
	struct es_index *ix = index_find(cl, name);
	if (!ix) {
		index_not_found(c, name);
		return;
	}
	if (!strcmp(block, "write") || !strcmp(block, "read_only")) {
		ix->write_block = true;
		ix->read_only_block |= !strcmp(block, "read_only");
		if (version_code(cluster_version(cl)) >= 81800)
			ix->verified_read_only = true;
	}
	call_reply_json(c, 200,
			json_pack("{s:b, s:b, s:[{s:s, s:b}]}", "acknowledged", 1,
				  "shards_acknowledged", 1, "indices", "name", ix->name, "blocked",
				  1));
}

static void delete_index(struct es_cluster *cl, struct call *c, const char *name)
{
	bool any = false;
	for (size_t i = 0; i < cl->nindices;) {
		if (list_matches(name, cl->indices[i]->name)) {
			folders_drop_index(cl, cl->indices[i]);
			disk_drop_index(cl, cl->indices[i]->name);
			index_free(cl->indices[i]);
			memmove(&cl->indices[i], &cl->indices[i + 1],
				(cl->nindices - i - 1) * sizeof(*cl->indices));
			cl->nindices--;
			any = true;
		} else {
			i++;
		}
	}
	if (!any && !strchr(name, '*')) {
		index_not_found(c, name);
		return;
	}
	call_reply_json(c, 200, json_pack("{s:b}", "acknowledged", 1));
}

/*
 * GET /_dangling (7.9+): the indices that the present nodes' folders hold
 * and the cluster does not, by uuid, with the nodes holding them
 * (https://www.elastic.co/guide/en/elasticsearch/reference/7.17/dangling-indices-list.html).
 * Importing and deleting them through the API are not served.
 */
static void dangling_list(struct es_cluster *cl, struct call *c)
{
	json_t *by_uuid = json_object();
	int present = 0;
	for (size_t i = 0; i < cl->nnodes; i++) {
		struct es_node *n = cl->nodes[i];
		if (!n->present)
			continue;
		present++;
		struct hostdir *d = n->datadir && n->host ? hostfs_find(n->host, n->datadir) : NULL;
		const char *name;
		json_t *meta;
		json_object_foreach (d ? d->indices : NULL, name, meta) {
			const char *uuid = json_str(meta, "uuid");
			struct es_index *have = index_find(cl, name);
			if (!uuid || (have && !strcmp(have->uuid, uuid)))
				continue;
			json_t *one = json_object_get(by_uuid, uuid);
			if (!one) {
				one = json_pack(
					"{s:s, s:s, s:I, s:[]}", "index_name", name, "index_uuid",
					uuid, "creation_date_millis",
					json_integer_value(json_object_get(meta, "creation_date")),
					"node_ids");
				json_object_set_new(by_uuid, uuid, one);
			}
			json_array_append_new(json_object_get(one, "node_ids"), json_string(n->id));
		}
	}
	json_t *list = json_array();
	const char *k;
	json_t *v;
	json_object_foreach (by_uuid, k, v)
		json_array_append(list, v);
	json_decref(by_uuid);
	call_reply_json(c, 200,
			json_pack("{s:{s:i, s:i, s:i}, s:s, s:o}", "_nodes", "total", present,
				  "successful", present, "failed", 0, "cluster_name", cl->name,
				  "dangling_indices", list));
}

/* --- voting exclusions, node shutdown ----------------------------------------------- */

static void voting_add(struct es_cluster *cl, struct call *c, const char *path_name)
{
	const char *names = path_name ? path_name : call_param(c, "node_names");
	const char *ids = path_name ? NULL : call_param(c, "node_ids");
	if ((names && ids) || (!names && !ids)) {
		sim_es_error(
			c, 400, "illegal_argument_exception",
			"Please set node identifiers correctly. One and only one of [node_name], "
			"[node_names] and [node_ids] has to be set");
		return;
	}
	json_t *add = json_array();
	char *copy = xstrdup(names ? names : ids);
	char *p = copy;
	while (p) {
		char *comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		if (*p) {
			struct es_node *n = names ? node_by_name(cl, p) : node_by_id(cl, p);
			/* The path form takes node filters, resolved against the
			 * master-eligible members of now: an absent node matches
			 * nothing (elastic/elasticsearch#47990; ?node_names=, 7.8,
			 * #50836, takes absent nodes). */
			if (path_name && (!n || !n->present || !(n->roles & ROLE_MASTER))) {
				p = comma ? comma + 1 : NULL;
				continue;
			}
			json_array_append_new(
				add, json_pack("{s:s, s:s}", "node_id",
					       n ? n->id : (names ? "_absent_" : p), "node_name",
					       n ? n->name : (names ? p : "_absent_")));
		}
		p = comma ? comma + 1 : NULL;
	}
	free(copy);
	if (path_name && json_array_size(add) == 0) {
		sim_es_error(c, 400, "illegal_argument_exception",
			     "add voting config exclusions request for [%s] matched no "
			     "master-eligible nodes",
			     path_name);
		json_decref(add);
		return;
	}
	size_t have = json_array_size(cl->voting_exclusions);
	if (have + json_array_size(add) > 10) {
		sim_es_error(
			c, 400, "illegal_argument_exception",
			"add voting config exclusions request for [%s] would add [%zu] exclusions "
			"to the existing [%zu] which would exceed the maximum of [10] set by "
			"[cluster.max_voting_config_exclusions]",
			names ? names : ids, json_array_size(add), have);
		json_decref(add);
		return;
	}
	size_t i;
	json_t *e;
	json_array_foreach (add, i, e) {
		if (!voting_excluded(cl, json_str(e, "node_name")))
			json_array_append(cl->voting_exclusions, e);
	}
	json_decref(add);
	if (path_name)
		warn_header(cl, c,
			    "POST /_cluster/voting_config_exclusions/{node_name} has been "
			    "deprecated and will be removed in a future version. Please use "
			    "POST /_cluster/voting_config_exclusions?node_ids=... or POST "
			    "/_cluster/voting_config_exclusions?node_names=... instead.");
	elect(cl);
	call_reply_text(c, 200, NULL, "");
}

static void voting_clear(struct es_cluster *cl, struct call *c, const char *pod)
{
	if (!call_param_bool(c, "wait_for_removal", true) || !voting_excluded_present(cl)) {
		json_array_clear(cl->voting_exclusions);
		call_reply_text(c, 200, NULL, "");
		return;
	}
	park(WAIT_VOTING_CLEAR, cl, c, pod, c->path, param_ms(c, "timeout", 30000));
}

static json_t *shutdown_status(struct es_cluster *cl, const char *id, json_t *sd)
{
	const char *type = json_str(sd, "type");
	struct es_node *n = node_by_id(cl, id);
	const char *status = "COMPLETE";
	const char *explanation = "no shard relocation is necessary for a node restart";
	int remaining = 0;
	if (strcasecmp(type, "restart") != 0) {
		explanation = NULL;
		remaining = n ? copies_on(cl, n->name) : 0;
		if (remaining > 0) {
			bool can_move = false;
			for (size_t i = 0; i < cl->nnodes; i++) {
				struct es_node *o = cl->nodes[i];
				if (o != n && o->present && (o->roles & ROLE_DATA) &&
				    !node_filtered(cl, o))
					can_move = true;
			}
			status = can_move ? "IN_PROGRESS" : "STALLED";
			if (!can_move)
				explanation = "shard copies cannot move: no other data node can "
					      "hold them";
		}
	}
	char *upper = xstrdup(type);
	for (char *p = upper; *p; p++)
		*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
	json_t *mig =
		json_pack("{s:s, s:i}", "status", status, "shard_migrations_remaining", remaining);
	if (explanation)
		json_object_set_new(mig, "explanation", json_string(explanation));
	json_t *o = json_pack("{s:s, s:s, s:O, s:O, s:s, s:o, s:{s:s}, s:{s:s}}", "node_id", id,
			      "type", upper, "reason", json_object_get(sd, "reason"),
			      "shutdown_startedmillis", json_object_get(sd, "started"), "status",
			      status, "shard_migration", mig, "persistent_tasks", "status",
			      "COMPLETE", "plugins", "status", "COMPLETE");
	free(upper);
	return o;
}

static void shutdown_api(struct es_cluster *cl, struct call *c, const char *id)
{
	if (!strcmp(c->method, "GET")) {
		json_t *list = json_array();
		const char *k;
		json_t *sd;
		json_object_foreach (cl->shutdowns, k, sd) {
			if (!id || list_matches(id, k))
				json_array_append_new(list, shutdown_status(cl, k, sd));
		}
		call_reply_json(c, 200, json_pack("{s:o}", "nodes", list));
		return;
	}
	if (!id) {
		bad_method(c, "GET");
		return;
	}
	if (!strcmp(c->method, "DELETE")) {
		if (!json_object_get(cl->shutdowns, id)) {
			sim_es_error(c, 404, "resource_not_found_exception",
				     "node [%s] is not currently shutting down", id);
			return;
		}
		json_object_del(cl->shutdowns, id);
		call_reply_json(c, 200, json_pack("{s:b}", "acknowledged", 1));
		return;
	}
	if (strcmp(c->method, "PUT") != 0) {
		bad_method(c, "GET,PUT,DELETE");
		return;
	}
	json_t *body = json_loadb(c->body, c->body_len, 0, NULL);
	const char *type = json_str(body, "type");
	const char *reason = json_str(body, "reason");
	if (!type || (strcasecmp(type, "restart") && strcasecmp(type, "remove") &&
		      strcasecmp(type, "replace") && strcasecmp(type, "sigterm"))) {
		json_decref(body);
		sim_es_error(
			c, 400, "action_request_validation_exception",
			"Validation Failed: 1: the type must be one of [RESTART, REMOVE, REPLACE, "
			"SIGTERM];");
		return;
	}
	if (!reason) {
		json_decref(body);
		sim_es_error(c, 400, "action_request_validation_exception",
			     "Validation Failed: 1: [reason] is required;");
		return;
	}
	json_object_set_new(cl->shutdowns, id,
			    json_pack("{s:s, s:s, s:I}", "type", type, "reason", reason, "started",
				      (json_int_t)now_wall_ms()));
	json_decref(body);
	call_reply_json(c, 200, json_pack("{s:b}", "acknowledged", 1));
}

/* --- allocation explain ----------------------------------------------------------------- */

/* "2017-01-04T18:03:28.464Z" */
static json_t *sim_es_time(int64_t wall_ms)
{
	time_t secs = (time_t)(wall_ms / 1000);
	struct tm tm;
	char buf[40], out[48];

	gmtime_r(&secs, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, sizeof(out), "%s.%03dZ", buf, (int)(wall_ms % 1000));
	return json_string(out);
}

static const char *allocation_enable(struct es_cluster *cl)
{
	const char *enable = setting(cl, "cluster.routing.allocation.enable");
	return enable ? enable : "all";
}

/* What allocate() would let this copy do, as its deciders say it. */
static bool enable_allows(struct es_cluster *cl, const struct es_shard *sh,
			  const struct es_copy *cp)
{
	const char *enable = allocation_enable(cl);
	if (!strcmp(enable, "all"))
		return true;
	if (!cp->primary)
		return false;
	return !strcmp(enable, "primaries") ||
	       (!sh->ever_started && !strcmp(enable, "new_primaries"));
}

/* Does a present node's disk hold a copy of this shard? */
static bool valid_copy_present(struct es_cluster *cl, const struct es_index *ix, int s)
{
	for (size_t i = 0; i < cl->nnodes; i++) {
		const struct es_node *n = cl->nodes[i];
		if (n->present && (n->roles & ROLE_DATA) &&
		    disk_find(cl, n->name, n->host, ix->name, s))
			return true;
	}
	return false;
}

static void decider(json_t *list, bool include_yes, const char *name, const char *decision,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void decider(json_t *list, bool include_yes, const char *name, const char *decision,
		    const char *fmt, ...)
{
	if (!include_yes && !strcmp(decision, "YES"))
		return;
	va_list ap;
	va_start(ap, fmt);
	char *why = xvasprintf(fmt, ap);
	va_end(ap);
	json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "decider", name, "decision",
					      decision, "explanation", why));
	free(why);
}

static json_t *node_json(struct es_cluster *cl, const struct es_node *n)
{
	char *addr = xasprintf("%s:9300", n->ip ? n->ip : "127.0.0.1");
	json_t *o = json_pack("{s:s, s:s, s:s, s:{}}", "node_id", n->id, "node_name", n->name,
			      "transport_address", addr, "node_attributes");
	/* From 8.11 (elastic/elasticsearch#98550). */
	if (version_code(cluster_version(cl)) >= 81100)
		json_object_set_new(o, "roles", roles_json(cl, n));
	free(addr);
	return o;
}

/* The explanation of an unassigned copy: a decision per data node. */
static void explain_unassigned(struct es_cluster *cl, json_t *out, struct es_index *ix, int s,
			       struct es_copy *cp, bool include_yes)
{
	struct es_shard *sh = &ix->shards[s];
	bool v8 = version_major(cluster_version(cl)) >= 8;
	bool no_copy = cp->primary && sh->ever_started && !valid_copy_present(cl, ix, s);
	int64_t now = now_mono_ms();
	bool delayed = !cp->primary && cp->delayed_until > now;
	int yes = 0, throttled = 0, rank = 0;
	json_t *decisions = json_array();

	for (size_t i = 0; i < cl->nnodes; i++) {
		struct es_node *n = cl->nodes[i];
		if (!n->present || !(n->roles & ROLE_DATA))
			continue;
		json_t *d = node_json(cl, n);
		json_t *deciders = json_array();
		bool no = false, throttle = false;
		if (no_copy) {
			no = true;
			json_object_set_new(d, "store", json_pack("{s:b}", "found", 0));
		} else {
			const char *enable = allocation_enable(cl);
			if (has_copy_on(sh, n->name)) {
				decider(deciders, include_yes, "same_shard", "NO",
					"a copy of this shard is already allocated to this node "
					"[[%s][%d], node[%s]]",
					ix->name, s, n->id);
				no = true;
			} else {
				decider(deciders, include_yes, "same_shard", "YES",
					"this node does not hold a copy of this shard");
			}
			if (node_filtered(cl, n)) {
				decider(deciders, include_yes, "filter", "NO",
					"node matches cluster setting "
					"[cluster.routing.allocation.exclude] filters");
				no = true;
			}
			if (!enable_allows(cl, sh, cp)) {
				decider(deciders, include_yes, "enable", "NO",
					"%s due to cluster setting "
					"[cluster.routing.allocation.enable=%s]",
					!strcmp(enable, "none") ? "no allocations are allowed"
					: cp->primary ? "non-new primary allocations are forbidden"
						      : "replica allocations are forbidden",
					enable);
				no = true;
			}
			if (cp->failed_attempts >= max_retries(cl)) {
				json_t *at = sim_es_time(cp->unassigned_at);
				decider(deciders, include_yes, "max_retry", "NO",
					"shard has exceeded the maximum number of retries [%d] on "
					"failed allocation attempts - manually call "
					"[/_cluster/reroute?retry_failed=true] to retry, "
					"[unassigned_info[[reason=ALLOCATION_FAILED], at[%s], "
					"failed_attempts[%d], delayed=false, details[%s], "
					"allocation_status[deciders_no]]]",
					max_retries(cl), json_string_value(at), cp->failed_attempts,
					cp->failure ? cp->failure : "");
				json_decref(at);
				no = true;
			} else if (cp->failed_attempts > 0) {
				decider(deciders, include_yes, "max_retry", "YES",
					"shard has failed allocating [%d] times but [%d] retries "
					"are "
					"allowed",
					cp->failed_attempts, max_retries(cl));
			}
			/* A primary with a copy on disk is forced past it. */
			if (!(cp->primary && sh->ever_started)) {
				bool files =
					disk_find(cl, store_of(n), n->host, ix->name, s) != NULL;
				char *full = disk_says_no(cl, n, ix, cp->primary && !sh->restoring,
							  files);
				struct esdisk_usage u;
				if (full) {
					decider(deciders, include_yes, "disk_threshold", "NO", "%s",
						full);
					no = true;
				} else if (include_yes && node_usage(n, &u)) {
					char fr[32], sz[32], after[32];
					int64_t adds = files ? 0 : ix->shard_bytes;
					esdisk_human(u.avail, fr, sizeof(fr));
					esdisk_human(adds, sz, sizeof(sz));
					esdisk_human(u.avail - adds, after, sizeof(after));
					decider(deciders, include_yes, "disk_threshold", "YES",
						"enough disk for shard on node, free: [%s], shard "
						"size: "
						"[%s], free after allocating shard: [%s]",
						fr, sz, after);
				}
				free(full);
			}
			const char *source = cp->primary ? NULL : primary_node(sh);
			const char *kind = no ? NULL : throttling(cl, n, source);
			struct es_node *src = source ? node_by_name(cl, source) : NULL;
			if (kind && !strcmp(kind, "incoming"))
				decider(deciders, include_yes, "throttling", "THROTTLE",
					"reached the limit of incoming shard recoveries [%d], "
					"cluster setting "
					"[cluster.routing.allocation.node_concurrent_incoming_"
					"recoveries=%d] (can also be set via "
					"[cluster.routing.allocation.node_concurrent_recoveries])",
					limit_incoming(cl), limit_incoming(cl));
			else if (kind && !strcmp(kind, "outgoing"))
				decider(deciders, include_yes, "throttling", "THROTTLE",
					"reached the limit of outgoing shard recoveries [%d] on "
					"the "
					"node [%s] which holds the primary, cluster setting "
					"[cluster.routing.allocation.node_concurrent_outgoing_"
					"recoveries=%d] (can also be set via "
					"[cluster.routing.allocation.node_concurrent_recoveries])",
					limit_outgoing(cl), src ? src->id : "", limit_outgoing(cl));
			else if (kind)
				decider(deciders, include_yes, "throttling", "THROTTLE",
					"reached the limit of ongoing initial primary recoveries "
					"[%d], cluster setting "
					"[cluster.routing.allocation.node_initial_primaries_"
					"recoveries=%d]",
					setting_int(cl,
						    "cluster.routing.allocation.node_initial_"
						    "primaries_recoveries",
						    NULL, 4),
					setting_int(cl,
						    "cluster.routing.allocation.node_initial_"
						    "primaries_recoveries",
						    NULL, 4));
			throttle = kind != NULL;
		}
		yes += !no && !throttle;
		throttled += throttle;
		json_object_set_new(d, "node_decision",
				    json_string(no	   ? "no"
						: throttle ? "throttled"
							   : "yes"));
		json_object_set_new(d, "weight_ranking", json_integer(++rank));
		if (json_array_size(deciders) > 0 || include_yes)
			json_object_set_new(d, "deciders", deciders);
		else
			json_decref(deciders);
		json_array_append_new(decisions, d);
	}

	const char *can, *why;
	char *delay_text = NULL;
	if (no_copy) {
		can = "no_valid_shard_copy";
		why = v8 ? "Elasticsearch can't allocate this shard because there are no copies of "
			   "its "
			   "data in the cluster. Elasticsearch will allocate this shard when a "
			   "node holding "
			   "a good copy of its data joins the cluster. If no such node is "
			   "available, "
			   "restore this index from a recent snapshot."
			 : "cannot allocate because a previous copy of the primary shard existed "
			   "but can "
			   "no longer be found on the nodes in the cluster";
	} else if (delayed && yes > 0) {
		can = "allocation_delayed";
		delay_text =
			xasprintf("cannot allocate because the cluster is still waiting %llds for "
				  "the departed node holding a replica to rejoin, despite being "
				  "allowed to allocate the shard to at least one other node",
				  (long long)((cp->delayed_until - now + 999) / 1000));
		why = delay_text;
	} else if (yes > 0) {
		can = "yes";
		why = v8 ? "Elasticsearch can allocate the shard." : "can allocate the shard";
	} else if (throttled > 0) {
		can = "throttled";
		why = v8 ? "Elasticsearch is currently busy with other activities. It expects to "
			   "be able "
			   "to allocate this shard when those activities finish. Please wait."
			 : "allocation temporarily throttled";
	} else {
		can = "no";
		why = v8 ? "Elasticsearch isn't allowed to allocate this shard to any of the nodes "
			   "in the "
			   "cluster. Choose a node to which you expect this shard to be allocated, "
			   "find "
			   "this node in the node-by-node explanation, and address the reasons "
			   "which "
			   "prevent Elasticsearch from allocating this shard there."
			 : "cannot allocate because allocation is not permitted to any of the "
			   "nodes";
	}
	json_t *info =
		json_pack("{s:s, s:o, s:s}", "reason", cp->reason ? cp->reason : "NODE_LEFT", "at",
			  sim_es_time(cp->unassigned_at ? cp->unassigned_at : now_wall_ms()),
			  "last_allocation_status",
			  no_copy				   ? "no_valid_shard_copy"
			  : cp->failed_attempts >= max_retries(cl) ? "no"
								   : "no_attempt");
	if (cp->failed_attempts > 0) {
		json_object_set_new(info, "failed_allocation_attempts",
				    json_integer(cp->failed_attempts));
		json_object_set_new(info, "details", json_string(cp->failure ? cp->failure : ""));
	}
	if (delayed)
		json_object_set_new(info, "delayed", json_true());
	json_object_set_new(out, "current_state", json_string("unassigned"));
	json_object_set_new(out, "unassigned_info", info);
	json_object_set_new(out, "can_allocate", json_string(can));
	json_object_set_new(out, "allocate_explanation", json_string(why));
	json_object_set_new(out, "node_allocation_decisions", decisions);
	free(delay_text);
}

static void explain_assigned(struct es_cluster *cl, json_t *out, struct es_copy *cp)
{
	struct es_node *n = node_by_name(cl, cp->node);
	char *addr = xasprintf("%s:9300", n && n->ip ? n->ip : "127.0.0.1");
	bool filtered = n && node_filtered(cl, n);
	json_object_set_new(out, "current_state",
			    json_string(cp->state == COPY_STARTED      ? "started"
					: cp->state == COPY_RELOCATING ? "relocating"
								       : "initializing"));
	json_object_set_new(out, "current_node",
			    json_pack("{s:s, s:s, s:s, s:{}, s:i}", "id", n ? n->id : "", "name",
				      cp->node, "transport_address", addr, "attributes",
				      "weight_ranking", 1));
	free(addr);
	json_object_set_new(out, "can_remain_on_current_node",
			    json_string(filtered ? "no" : "yes"));
	if (filtered) {
		json_object_set_new(out, "can_remain_decisions",
				    json_pack("[{s:s, s:s, s:s}]", "decider", "filter", "decision",
					      "NO", "explanation",
					      "node matches cluster setting "
					      "[cluster.routing.allocation.exclude] filters"));
		json_object_set_new(out, "can_move_to_other_node", json_string("yes"));
		json_object_set_new(out, "move_explanation",
				    json_string("can move the shard to another node because it "
						"cannot remain on its current node"));
	} else {
		json_object_set_new(out, "can_rebalance_cluster", json_string("yes"));
		json_object_set_new(out, "can_rebalance_to_other_node", json_string("no"));
		json_object_set_new(
			out, "rebalance_explanation",
			json_string("cannot rebalance as no target node exists that can both "
				    "allocate this shard and improve the cluster balance"));
	}
}

/*
 * POST /_cluster/reroute: with retry_failed, the copies that failed
 * index.allocation.max_retries times are tried again, their count of
 * failed attempts reset
 * (https://www.elastic.co/guide/en/elasticsearch/reference/current/cluster-reroute.html).
 * Explicit commands in the body are not modelled.
 */
static void reroute(struct es_cluster *cl, struct call *c)
{
	if (call_param_bool(c, "retry_failed", false)) {
		for (size_t i = 0; i < cl->nindices; i++) {
			struct es_index *ix = cl->indices[i];
			for (int s = 0; s < ix->nshards; s++) {
				for (int k = 0; k < ix->shards[s].ncopies; k++) {
					struct es_copy *cp = &ix->shards[s].copies[k];
					if (cp->state == COPY_UNASSIGNED)
						cp->failed_attempts = 0;
				}
			}
		}
	}
	call_reply_json(c, 200, json_pack("{s:b}", "acknowledged", 1));
}

/*
 * GET|POST /_cluster/allocation/explain, with {"index", "shard", "primary"}
 * (and optionally "current_node"), or no body: the first unassigned copy.
 */
static void allocation_explain(struct es_cluster *cl, struct call *c)
{
	bool include_yes = call_param_bool(c, "include_yes_decisions", false);
	json_t *body = c->body_len ? json_loadb(c->body, c->body_len, 0, NULL) : NULL;
	struct es_index *ix = NULL;
	struct es_copy *cp = NULL;
	int s = 0;

	if (c->body_len && !json_is_object(body)) {
		json_decref(body);
		sim_es_error(c, 400, "parse_exception", "request body must be a JSON object");
		return;
	}
	if (json_object_size(body) == 0) {
		for (size_t i = 0; i < cl->nindices && !cp; i++) {
			for (int k = 0; k < cl->indices[i]->nshards && !cp; k++) {
				struct es_shard *sh = &cl->indices[i]->shards[k];
				for (int r = 0; r < sh->ncopies && !cp; r++) {
					if (sh->copies[r].state == COPY_UNASSIGNED) {
						ix = cl->indices[i];
						s = k;
						cp = &sh->copies[r];
					}
				}
			}
		}
		json_decref(body);
		if (!cp) {
			if (version_major(cluster_version(cl)) >= 8)
				sim_es_error(
					c, 400, "illegal_argument_exception",
					"No shard was specified in the request which means the "
					"response should "
					"explain a randomly-chosen unassigned shard, but there "
					"are no unassigned "
					"shards in this cluster. To explain the allocation of an "
					"assigned shard you "
					"must specify the target shard in the request.");
			else
				sim_es_error(
					c, 400, "illegal_argument_exception",
					"unable to find any unassigned shards to explain "
					"[ClusterAllocationExplainRequest[useAnyUnassignedShard="
					"true,"
					"includeYesDecisions?=%s]",
					include_yes ? "true" : "false");
			return;
		}
	} else {
		const char *index = json_str(body, "index");
		json_t *shard = json_object_get(body, "shard");
		json_t *primary = json_object_get(body, "primary");
		const char *current = json_str(body, "current_node");
		if (!index || !json_is_integer(shard) || !json_is_boolean(primary)) {
			json_decref(body);
			sim_es_error(c, 400, "illegal_argument_exception",
				     "index, shard, and primary must be specified in the explain "
				     "request");
			return;
		}
		ix = index_find(cl, index);
		if (!ix) {
			index_not_found(c, index);
			json_decref(body);
			return;
		}
		s = (int)json_integer_value(shard);
		if (s < 0 || s >= ix->nshards) {
			sim_es_error(c, 404, "shard_not_found_exception", "no such shard");
			json_decref(body);
			return;
		}
		struct es_shard *sh = &ix->shards[s];
		for (int r = 0; r < sh->ncopies && !cp; r++) {
			struct es_copy *x = &sh->copies[r];
			if (x->primary != json_is_true(primary))
				continue;
			if (current &&
			    (!x->node || (strcmp(x->node, current) != 0 &&
					  !(node_by_name(cl, x->node) &&
					    !strcmp(node_by_name(cl, x->node)->id, current)))))
				continue;
			cp = x;
		}
		/* A replica named by no node: an unassigned one if there is
		 * one, else a started one over one initialising or relocating
		 * (TransportClusterAllocationExplainAction.findShardToExplain). */
		for (int r = 0; r < sh->ncopies && cp && !cp->primary && !current; r++) {
			struct es_copy *x = &sh->copies[r];
			if (x->primary || cp->state == COPY_UNASSIGNED)
				continue;
			if (x->state == COPY_UNASSIGNED ||
			    (x->state == COPY_STARTED && cp->state != COPY_STARTED))
				cp = x;
		}
		json_decref(body);
		if (!cp) {
			sim_es_error(c, 400, "illegal_argument_exception",
				     "unable to find a shard assigned to node [%s]",
				     current ? current : "");
			return;
		}
	}
	json_t *out =
		json_pack("{s:s, s:i, s:b}", "index", ix->name, "shard", s, "primary", cp->primary);
	if (cp->state == COPY_UNASSIGNED)
		explain_unassigned(cl, out, ix, s, cp, include_yes);
	else
		explain_assigned(cl, out, cp);
	call_reply_json(c, 200, out);
}

/* --- routing ----------------------------------------------------------------------- */

static bool is(const char *a, const char *b)
{
	return a && !strcmp(a, b);
}

/* --- security ---------------------------------------------------------------------- */

/* The reserved users of the native realm
 * (https://www.elastic.co/guide/en/elasticsearch/reference/7.17/built-in-users.html):
 * kibana_system from 7.8, kibana before it. */
static bool reserved_user(const char *name, int vcode)
{
	static const char *const always[] = {"elastic", "logstash_system", "beats_system",
					     "apm_system", "remote_monitoring_user"};
	for (size_t i = 0; i < ARRAY_SIZE(always); i++)
		if (!strcmp(name, always[i]))
			return true;
	if (!strcmp(name, "kibana"))
		return true;
	return vcode >= 70800 && !strcmp(name, "kibana_system");
}

/* A user's password: the one set through the API (in the security
 * index), else for elastic the bootstrap password of the node that
 * answers (ELASTIC_PASSWORD in the Docker image, "the bootstrap password
 * is used as the elastic user's password until it is changed",
 * https://www.elastic.co/guide/en/elasticsearch/reference/7.17/built-in-users.html#bootstrap-elastic-passwords);
 * the other reserved users have none until one is set. */
static const char *user_password(struct es_cluster *cl, const struct es_node *n, const char *user)
{
	const char *set = json_str(cl->passwords, user);
	if (set)
		return set;
	return !strcmp(user, "elastic") && n ? n->bootstrap_password : NULL;
}

static void security_error(struct call *c, int vcode, const char *reason)
{
	/* The WWW-Authenticate challenges of the realms and token services on
	 * by default: basic only before 8.0; 8.x adds the bearer token service
	 * and API keys (elastic/elasticsearch#75292 for security on by default). */
	json_t *challenge =
		vcode >= 80000 ? json_pack("[s,s,s]", "Basic realm=\"security\" charset=\"UTF-8\"",
					   "Bearer realm=\"security\"", "ApiKey")
			       : json_string("Basic realm=\"security\" charset=\"UTF-8\"");
	json_t *cause = json_pack("{s:s, s:s, s:{s:O}}", "type", "security_exception", "reason",
				  reason, "header", "WWW-Authenticate", challenge);
	json_t *err = json_deep_copy(cause);
	json_object_set_new(err, "root_cause", json_pack("[o]", cause));
	if (json_is_array(challenge)) {
		size_t i;
		json_t *v;
		json_array_foreach (challenge, i, v)
			call_add_header(c, "WWW-Authenticate", json_string_value(v));
	} else {
		call_add_header(c, "WWW-Authenticate", json_string_value(challenge));
	}
	json_decref(challenge);
	call_reply_json(c, 401, json_pack("{s:o, s:i}", "error", err, "status", 401));
}

/* --- native users ------------------------------------------------------------------ */

/* Whether a native user has the role. */
static bool user_has_role(const json_t *user, const char *role)
{
	size_t i;
	json_t *r;
	json_array_foreach (json_object_get(user, "roles"), i, r)
		if (is(json_string_value(r), role))
			return true;
	return false;
}

/*
 * The action a REST request runs, as the authorization names it, with the
 * privileges that grant it (NULL: not known here), for the requests whose
 * action the simulator knows; the others are named as the document APIs'
 * (the transport actions of RestMainAction, RestClusterHealthAction,
 * RestClusterGetSettingsAction, ... in the Elasticsearch source).
 */
static const char *rest_action(const char *m, const char *path, const char **granted_by)
{
	static const struct {
		const char *method, *prefix, *action, *granted_by;
	} known[] = {
		{"PUT", "/_cluster/settings", "cluster:admin/settings/update",
		 "cluster privileges [manage,all]"},
		{NULL, "/_cluster/health", "cluster:monitor/health",
		 "cluster privileges [monitor,manage,all]"},
		{NULL, "/_cluster/settings", "cluster:monitor/state",
		 "cluster privileges [monitor,manage,all]"},
		{NULL, "/_cluster/state", "cluster:monitor/state",
		 "cluster privileges [monitor,manage,all]"},
		{NULL, "/_nodes/stats", "cluster:monitor/nodes/stats",
		 "cluster privileges [monitor,manage,all]"},
		{NULL, "/_nodes", "cluster:monitor/nodes/info",
		 "cluster privileges [monitor,manage,all]"},
		{NULL, "/_security/user", "cluster:admin/xpack/security/user/put",
		 "cluster privileges [manage_security,all]"},
		{NULL, "/_xpack/security/user", "cluster:admin/xpack/security/user/put",
		 "cluster privileges [manage_security,all]"},
	};
	*granted_by = NULL;
	if (!strcmp(path, "/") || !*path) {
		*granted_by = "cluster privileges [monitor,manage,all]";
		return "cluster:monitor/main";
	}
	for (size_t i = 0; i < ARRAY_SIZE(known); i++) {
		size_t len = strlen(known[i].prefix);
		if ((!known[i].method || is(m, known[i].method)) &&
		    !strncmp(path, known[i].prefix, len) && (!path[len] || path[len] == '/')) {
			*granted_by = known[i].granted_by;
			if (strstr(path, "/_password"))
				return "cluster:admin/xpack/security/user/change_password";
			return known[i].action;
		}
	}
	return is(m, "GET") || is(m, "HEAD") ? "indices:data/read/get" : "indices:data/write/index";
}

/*
 * Authorization of an authenticated request
 * (https://www.elastic.co/guide/en/elasticsearch/reference/7.17/authorization.html):
 * elastic and a native user with the superuser role may do anything
 * (https://www.elastic.co/guide/en/elasticsearch/reference/7.17/built-in-roles.html);
 * a native user without a role that grants the action is refused with a
 * 403 security_exception, "action [...] is unauthorized for user [...]"
 * (elastic/elasticsearch#44984), to which 7.16 adds the user's roles and
 * the privileges that would grant it, 8.0 calling them effective roles.
 * The simulator knows no role but superuser; the other reserved users keep
 * the access they had before.  False: the 403 is answered.
 */
static bool authorize(struct es_cluster *cl, struct call *c, const char *path, const char *name,
		      int vcode)
{
	json_t *user = json_object_get(cl->users, name);
	if (!user || user_has_role(user, "superuser"))
		return true;
	const char *granted_by;
	const char *action = rest_action(c->method, path, &granted_by);
	char *roles = xstrdup("");
	size_t i;
	json_t *r;
	json_array_foreach (json_object_get(user, "roles"), i, r) {
		char *more = xasprintf("%s%s%s", roles, i ? "," : "", json_string_value(r));
		free(roles);
		roles = more;
	}
	char *detail =
		vcode < 71600
			? xstrdup("")
			: xasprintf(" with %sroles [%s]%s%s", vcode >= 80000 ? "effective " : "",
				    roles, granted_by ? ", this action is granted by the " : "",
				    granted_by ? granted_by : "");
	sim_es_error(c, 403, "security_exception", "action [%s] is unauthorized for user [%s]%s",
		     action, name, detail);
	free(detail);
	free(roles);
	return false;
}

/*
 * PUT|POST /_security/user/{name} (/_xpack/security/user/{name} on 6.x and,
 * deprecated, 7.x): creates a native user or updates it, password (at
 * least 6 characters; required for a new user) and roles (required)
 * (https://www.elastic.co/guide/en/elasticsearch/reference/7.17/security-api-put-user.html).
 * The answer says whether it was created, {"created": true}; 6.x also
 * wraps it in "user"
 * (https://www.elastic.co/guide/en/elasticsearch/reference/6.8/security-api-put-user.html).
 * A reserved user is refused: only its password can be changed.
 */
static void put_user(struct es_cluster *cl, struct call *c, const char *who, const char *name,
		     int vcode)
{
	json_error_t jerr;
	json_t *body = c->body ? json_loads(c->body, 0, &jerr) : NULL;
	json_t *existing = json_object_get(cl->users, name);
	const char *pw = json_str(body, "password");
	json_t *roles = json_object_get(body, "roles");
	size_t i;
	json_t *r;
	bool roles_ok = json_is_array(roles);
	json_array_foreach (roles, i, r)
		roles_ok = roles_ok && json_is_string(r);

	if (!who) {
		sim_es_error(c, 500, "illegal_state_exception", "security is not enabled");
	} else if (!json_is_object(body)) {
		sim_es_error(c, 400, "parse_exception", "request body is required");
	} else if (reserved_user(name, vcode)) {
		sim_es_error(c, 400, "action_request_validation_exception",
			     "Validation Failed: 1: user [%s] is reserved and only the password "
			     "can be changed;",
			     name);
	} else if (!roles_ok) {
		sim_es_error(c, 400, "action_request_validation_exception",
			     "Validation Failed: 1: roles are missing;");
	} else if (!pw && !existing) {
		sim_es_error(c, 400, "action_request_validation_exception",
			     "Validation Failed: 1: password must be specified unless you are "
			     "updating an existing user;");
	} else if (pw && strlen(pw) < 6) {
		sim_es_error(
			c, 400, "action_request_validation_exception",
			"Validation Failed: 1: passwords must be at least [6] characters long;");
	} else {
		json_t *u = json_pack("{s:s?, s:O, s:O?}", "password",
				      pw ? pw : json_str(existing, "password"), "roles", roles,
				      "full_name", json_object_get(body, "full_name"));
		json_object_set_new(cl->users, name, u);
		json_t *out = json_pack("{s:b}", "created", existing == NULL);
		if (vcode < 70000)
			json_object_set_new(out, "user", json_pack("{s:b}", "created", !existing));
		call_reply_json(c, 200, out);
	}
	json_decref(body);
}

/*
 * Authenticate a REST request on a node with security on
 * (https://www.elastic.co/guide/en/elasticsearch/reference/7.17/http-clients.html:
 * basic authentication on every request).  authorization is the request's
 * Authorization header as it reached the node, NULL without one.  Answers
 * the 401 and returns false when it fails, the 403 when the user may not
 * (authorize()); *user is the authenticated user's name (static or the
 * call's), NULL on a node without security.  Each authentication is
 * counted per user, for tests.
 */
static bool authenticate(struct es_cluster *cl, struct call *c, const char *pod, const char *path,
			 const char *authorization, char **user)
{
	struct es_node *n = node_by_pod(cl, pod);
	*user = NULL;
	if (!n || !n->security)
		return true;
	int vcode = version_code(n->version);
	char *uri = c->query_raw && *c->query_raw ? xasprintf("%s?%s", path, c->query_raw)
						  : xstrdup(path);
	unsigned char *raw = NULL;
	size_t len = 0;
	if (!authorization || strncasecmp(authorization, "Basic ", 6) != 0 ||
	    !base64_decode(authorization + 6, strlen(authorization + 6), &raw, &len, NULL) ||
	    !memchr(raw, ':', len)) {
		char *reason =
			xasprintf("missing authentication credentials for REST request [%s]", uri);
		security_error(c, vcode, reason);
		free(reason);
		free(raw);
		free(uri);
		return false;
	}
	char *colon = memchr(raw, ':', len);
	*colon = '\0';
	const char *name = (const char *)raw, *given = colon + 1;
	const char *want = reserved_user(name, vcode)
				   ? user_password(cl, n, name)
				   : json_str(json_object_get(cl->users, name), "password");
	if (!want || strcmp(want, given) != 0) {
		char *reason = xasprintf("unable to authenticate user [%s] for REST request [%s]",
					 name, uri);
		security_error(c, vcode, reason);
		free(reason);
		free(raw);
		free(uri);
		return false;
	}
	json_t *count = json_object_get(cl->authenticated, name);
	json_object_set_new(cl->authenticated, name, json_integer(json_integer_value(count) + 1));
	bool allowed = authorize(cl, c, path, name, vcode);
	if (allowed)
		*user = xstrdup(name);
	free(raw);
	free(uri);
	return allowed;
}

/* PUT|POST /_security/user/{name}/_password (/_xpack/security/... on 6.x):
 * a superuser (elastic) sets any reserved user's password, a user its own
 * (https://www.elastic.co/guide/en/elasticsearch/reference/7.17/security-api-change-password.html). */
static void change_password(struct es_cluster *cl, struct call *c, const char *who,
			    const char *name, int vcode)
{
	json_error_t jerr;
	json_t *body = c->body ? json_loads(c->body, 0, &jerr) : NULL;
	const char *pw = json_str(body, "password");
	if (!who) {
		sim_es_error(c, 500, "illegal_state_exception", "security is not enabled");
	} else if (!pw || strlen(pw) < 6) {
		sim_es_error(
			c, 400, "action_request_validation_exception",
			"Validation Failed: 1: passwords must be at least [6] characters long;");
	} else if (strcmp(who, "elastic") != 0 && strcmp(who, name) != 0 &&
		   !user_has_role(json_object_get(cl->users, who), "superuser")) {
		sim_es_error(c, 403, "security_exception",
			     "action [cluster:admin/xpack/security/user/change_password] is "
			     "unauthorized for user [%s]",
			     who);
	} else if (json_object_get(cl->users, name)) {
		json_object_set_new(json_object_get(cl->users, name), "password", json_string(pw));
		call_reply_json(c, 200, json_object());
	} else if (!reserved_user(name, vcode)) {
		sim_es_error(c, 404, "validation_exception",
			     "Validation Failed: 1: user must exist in order to change password;");
	} else {
		json_object_set_new(cl->passwords, name, json_string(pw));
		call_reply_json(c, 200, json_object());
	}
	json_decref(body);
}

/* --- documents ---------------------------------------------------------------------- */

/* The document written to its shard: the answer of the index API. */
static void doc_written(struct es_cluster *cl, struct call *c, struct es_index *ix, int s,
			const char *type, const char *id)
{
	int vcode = version_code(cluster_version(cl));
	ix->shards[s].docs++;
	json_t *out = json_pack("{s:s, s:s, s:i, s:{s:i, s:i, s:i}}", "_index", ix->name, "_id", id,
				"_version", 1, "_shards", "total", ix->nreplicas + 1, "successful",
				1, "failed", 0);
	if (vcode < 80000)
		json_object_set_new(out, "_type", json_string(type));
	if (vcode >= 50000)
		json_object_set_new(out, "result", json_string("created"));
	else
		json_object_set_new(out, "created", json_true());
	call_reply_json(c, 201, out);
}

/* A parked document: written once its shard's primary is active, or the
 * 503 once its timeout is over. */
static bool doc_wait_step(struct es_cluster *cl, struct es_wait *w, bool expired)
{
	struct es_index *ix = index_find(cl, w->index);
	int s = (int)json_integer_value(json_object_get(w->answer, "shard"));
	const char *type = json_str(w->answer, "type"), *id = json_str(w->answer, "id");
	if (ix && s < ix->nshards && primary_node(&ix->shards[s])) {
		doc_written(cl, w->c, ix, s, type, id);
		return true;
	}
	if (!ix) {
		index_not_found(w->c, w->index);
		return true;
	}
	if (!expired)
		return false;
	/* TransportReplicationAction's retry ends with the shard's request
	 * named (BulkShardRequest.toString, IndexRequest.toString). */
	sim_es_error(w->c, 503, "unavailable_shards_exception",
		     "[%s][%d] primary shard is not active Timeout: [%s], request: "
		     "[BulkShardRequest [[%s][%d]] containing [index {[%s][%s][%s], source[%s]}]]",
		     w->index, s, json_str(w->answer, "timeout"), w->index, s, w->index, type, id,
		     json_str(w->answer, "source"));
	return true;
}

/*
 * Indexing one document: POST /{index}/_doc (6.x, where _doc is a type
 * name, and later) or POST /{index}/{type} (before 8.0); the index is
 * created with the defaults when it is missing (action.auto_create_index,
 * https://www.elastic.co/guide/en/elasticsearch/reference/7.17/docs-index_.html).
 * The document goes to a shard by its routing (round-robin over the
 * generated ids here).  A shard whose primary is not active holds the
 * request until it is, for `timeout` (1m by default: "the period the
 * request waits for ... unavailable shards"), then answers 503
 * unavailable_shards_exception.  Only the count is kept.
 */
static void index_doc(struct es_cluster *cl, struct call *c, const char *pod, const char *name,
		      const char *type)
{
	int vcode = version_code(cluster_version(cl));
	struct es_index *ix = index_find(cl, name);
	if (!valid_index_name(name)) {
		sim_es_error(c, 400, "invalid_index_name_exception",
			     "Invalid index name [%s], must be lowercase", name);
		return;
	}
	if (!ix) {
		ix = index_create(cl, name, vcode >= 70000 ? 1 : 5, 1);
		allocate(cl, now_mono_ms());
	}
	if (ix->write_block) {
		sim_es_error(c, 403, "cluster_block_exception", "index [%s] blocked by: [%s];",
			     ix->name,
			     ix->read_only_block ? "FORBIDDEN/5/index read-only (api)"
						 : "FORBIDDEN/8/index write (api)");
		return;
	}
	int s = (int)(ix->next_doc % ix->nshards);
	ix->next_doc++;
	char id[21];
	random_id(id, 20);
	if (primary_node(&ix->shards[s])) {
		doc_written(cl, c, ix, s, type, id);
		return;
	}
	const char *timeout = call_param(c, "timeout");
	park(WAIT_DOC, cl, c, pod, c->path, param_ms(c, "timeout", 60000));
	waits->index = xstrdup(name);
	waits->answer =
		json_pack("{s:i, s:s, s:s, s:s, s:s}", "shard", s, "type", type, "id", id,
			  "timeout", timeout ? timeout : "1m", "source", c->body ? c->body : "");
}

/* Documents of the shards whose primary is started, and how many shards
 * could not answer. */
static int64_t docs_of(struct es_index *ix, int *failed)
{
	int64_t n = 0;
	for (int s = 0; s < ix->nshards; s++) {
		if (primary_node(&ix->shards[s]))
			n += ix->shards[s].docs;
		else if (failed)
			(*failed)++;
	}
	return n;
}

/*
 * GET /{index}/_count (or /_count): the documents of the shards that
 * answer; a shard without a started primary is a failure in _shards
 * (https://www.elastic.co/guide/en/elasticsearch/reference/7.17/search-count.html).
 */
static void count_docs(struct es_cluster *cl, struct call *c, const char *only)
{
	int64_t n = 0;
	int total = 0, failed = 0;
	bool any = false;
	for (size_t i = 0; i < cl->nindices; i++) {
		struct es_index *ix = cl->indices[i];
		if (only && !list_matches(only, ix->name))
			continue;
		any = true;
		n += docs_of(ix, &failed);
		total += ix->nshards;
	}
	if (only && !any && !strchr(only, '*') && !strchr(only, ',')) {
		index_not_found(c, only);
		return;
	}
	call_reply_json(c, 200,
			json_pack("{s:I, s:{s:i, s:i, s:i, s:i}}", "count", (json_int_t)n,
				  "_shards", "total", total, "successful", total - failed,
				  "skipped", 0, "failed", failed));
}

/* --- snapshot repositories ----------------------------------------------------------- */

/*
 * What the shared folders hold: one entry per folder as the storage that
 * serves it names it (an NFS export's server and path, or a node's own
 * disk), each {"snapshots": [...]} of the fs repositories written there.
 * It outlives the clusters, as the storage outlives them: a cluster made
 * later that mounts the same export reads what an earlier one wrote.
 */
static json_t *shared_folders;

/* The path with "//", "/./" and "/../" taken out. */
static char *normalize_path(const char *p)
{
	char **parts = NULL;
	size_t n = 0;
	char *copy = xstrdup(p), *save = NULL;
	for (char *t = strtok_r(copy, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (!strcmp(t, "."))
			continue;
		if (!strcmp(t, "..")) {
			if (n)
				n--;
			continue;
		}
		parts = xrealloc(parts, (n + 1) * sizeof(*parts));
		parts[n++] = t;
	}
	char *out = xstrdup("");
	for (size_t i = 0; i < n; i++) {
		char *next = xasprintf("%s/%s", out, parts[i]);
		free(out);
		out = next;
	}
	if (!*out) {
		free(out);
		out = xstrdup("/");
	}
	free(parts);
	free(copy);
	return out;
}

/* Is path at or under dir (both normalised)? */
static bool path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (!strcmp(dir, "/"))
		return true;
	return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

/*
 * The folder location names on node n, as the storage behind it knows it
 * ("nfs://server/export/sub" for an NFS volume, whatever pod mounts it;
 * "node://<pod uid>/<path>" for the container's own or a node-local
 * volume), or NULL with *err set as FsRepository says it: the location,
 * absolute or relative to the first entry, must be under an entry of
 * path.repo, a static node setting
 * (https://www.elastic.co/guide/en/elasticsearch/reference/7.17/snapshots-filesystem-repository.html,
 * 6.8 and 2.4 modules-snapshots.html, "Shared File System Repository";
 * FsRepository.java: "location [x] doesn't match any of the locations
 * specified by path.repo[ because this setting is empty]").
 */
static char *node_folder(struct es_cluster *cl, const struct es_node *n, const char *location,
			 char **err)
{
	const char *repo = json_str(n->file, "path.repo");
	char *found = NULL;
	if (!repo || !*repo) {
		*err = xasprintf("location [%s] doesn't match any of the locations specified by "
				 "path.repo because this setting is empty",
				 location);
		return NULL;
	}
	char *dirs = xstrdup(repo), *save = NULL;
	for (char *d = strtok_r(dirs, ",", &save); d && !found; d = strtok_r(NULL, ",", &save)) {
		while (*d == ' ')
			d++;
		char *root = normalize_path(d);
		char *full = location[0] == '/' ? normalize_path(location) : NULL;
		if (!full) {
			char *joined = xasprintf("%s/%s", root, location);
			full = normalize_path(joined);
			free(joined);
		}
		if (path_under(full, root))
			found = full;
		else
			free(full);
		free(root);
	}
	free(dirs);
	if (!found) {
		*err = xasprintf("location [%s] doesn't match any of the locations specified by "
				 "path.repo",
				 location);
		return NULL;
	}
	/* The mount of the pod's containers that holds it, the deepest one. */
	struct store_obj *pod = store_get(store_kind_by_plural("pods"), cl->ns, n->pod);
	const json_t *spec = pod ? json_object_get(pod->body, "spec") : NULL;
	const json_t *volume = NULL;
	const char *at_best = NULL, *sub_best = NULL;
	size_t i, j;
	json_t *ct, *m, *v;
	json_array_foreach (json_object_get(spec, "containers"), i, ct) {
		json_array_foreach (json_object_get(ct, "volumeMounts"), j, m) {
			const char *at = json_str(m, "mountPath");
			char *nat = at ? normalize_path(at) : NULL;
			if (nat && path_under(found, nat) &&
			    (!at_best || strlen(nat) > strlen(at_best))) {
				size_t k;
				json_array_foreach (json_object_get(spec, "volumes"), k, v) {
					if (json_str(v, "name") && json_str(m, "name") &&
					    !strcmp(json_str(v, "name"), json_str(m, "name"))) {
						volume = v;
						at_best = at;
						sub_best = json_str(m, "subPath");
					}
				}
			}
			free(nat);
		}
	}
	char *id;
	const json_t *nfs = json_object_get(volume, "nfs");
	if (nfs && json_str(nfs, "server") && json_str(nfs, "path")) {
		char *nat = normalize_path(at_best);
		const char *rest = found + (strcmp(nat, "/") ? strlen(nat) : 0);
		char *joined = xasprintf("%s/%s/%s", json_str(nfs, "path"),
					 sub_best ? sub_best : "", rest);
		char *np = normalize_path(joined);
		id = xasprintf("nfs://%s%s", json_str(nfs, "server"), np);
		free(np);
		free(joined);
		free(nat);
	} else {
		id = xasprintf("node://%s%s", n->pod_uid ? n->pod_uid : n->name, found);
	}
	free(found);
	return id;
}

/* The snapshots a shared folder holds (borrowed; made when missing). */
static json_t *folder_snapshots(const char *folder)
{
	if (!shared_folders)
		shared_folders = json_object();
	json_t *f = json_object_get(shared_folders, folder);
	if (!f) {
		f = json_pack("{s:[]}", "snapshots");
		json_object_set_new(shared_folders, folder, f);
	}
	return json_object_get(f, "snapshots");
}

/* A repository error as RepositoriesService answers: 500 with the cause
 * under "failed to create repository". */
static void repository_failed(struct call *c, const char *repo, const char *why)
{
	char *reason = xasprintf("[%s] %s", repo, why);
	char *outer = xasprintf("[%s] failed to create repository", repo);
	call_reply_json(c, 500,
			json_pack("{s:{s:[{s:s, s:s}], s:s, s:s, s:{s:s, s:s}}, s:i}", "error",
				  "root_cause", "type", "repository_exception", "reason", reason,
				  "type", "repository_exception", "reason", outer, "caused_by",
				  "type", "repository_exception", "reason", reason, "status", 500));
	free(reason);
	free(outer);
}

static struct es_node *master_node(struct es_cluster *cl)
{
	return cl->master ? node_by_name(cl, cl->master) : NULL;
}

/* Where a repository of type and settings is for node n: a shared folder
 * of path.repo (fs), or a bucket's prefix as n's s3 client reaches it. */
static char *repo_node_folder(struct es_cluster *cl, const struct es_node *n, const char *type,
			      const json_t *settings, char **err)
{
	if (type && !strcmp(type, "s3"))
		return sim_s3_folder(settings, n->file, n->keystore, err);
	return node_folder(cl, n, json_str(settings, "location"), err);
}

/* The folder of repository name as the elected master sees it, or NULL
 * (the caller answers): the caller frees it. */
static char *repo_folder(struct es_cluster *cl, const char *name, char **err)
{
	json_t *r = json_object_get(cl->repos, name);
	struct es_node *m = master_node(cl);
	if (!r || !m) {
		*err = NULL;
		return NULL;
	}
	return repo_node_folder(cl, m, json_str(r, "type"), json_object_get(r, "settings"), err);
}

static bool repo_readonly(struct es_cluster *cl, const char *name)
{
	json_t *st = json_object_get(json_object_get(cl->repos, name), "settings");
	json_t *ro = json_object_get(st, "readonly");
	return json_is_true(ro) || (json_is_string(ro) && !strcmp(json_string_value(ro), "true"));
}

static void repository_missing(struct call *c, const char *name)
{
	sim_es_error(c, 404, "repository_missing_exception", "[%s] missing", name);
}

/*
 * An s3 repository whose verification failed on the master: what
 * BlobStoreRepository.startVerification throws ("path <base path> is not
 * accessible on master node", the base path printed as BlobPath prints
 * it, each element in brackets), caused by the SDK's exception as the
 * upload of master.dat met it.
 */
static void s3_verification_failed(struct call *c, const char *repo, const json_t *settings,
				   const char *why)
{
	const char *base = json_str(settings, "base_path") ? json_str(settings, "base_path") : "";
	char *printed = xstrdup("");
	char *copy = xstrdup(base), *save = NULL;
	for (char *t = strtok_r(copy, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		char *more = xasprintf("%s[%s]", printed, t);
		free(printed);
		printed = more;
	}
	free(copy);
	char *reason = xasprintf("[%s] path %s is not accessible on master node", repo, printed);
	json_t *cause;
	if (strstr(why, "(Service: Amazon S3;") || strstr(why, "Unable to"))
		cause = json_pack(
			"{s:s, s:s, s:{s:s, s:s}}", "type", "i_o_exception", "reason",
			"Unable to upload object [tests/master.dat] using a single upload",
			"caused_by", "type",
			strstr(why, "(Service: Amazon S3;") ? "amazon_s3_exception"
							    : "sdk_client_exception",
			"reason", why);
	else
		cause = json_pack("{s:s, s:s}", "type", "illegal_argument_exception", "reason",
				  why);
	call_reply_json(c, 500,
			json_pack("{s:{s:[{s:s, s:s}], s:s, s:s, s:o}, s:i}", "error", "root_cause",
				  "type", "repository_verification_exception", "reason", reason,
				  "type", "repository_verification_exception", "reason", reason,
				  "caused_by", cause, "status", 500));
	free(reason);
	free(printed);
}

/*
 * PUT/POST _snapshot/{repo} {"type": "fs", "settings": {"location", "readonly"?}}:
 * the master makes it, then, unless it is read-only or ?verify=false,
 * writes a file into its folder that every master-eligible and data node
 * must read back (https://www.elastic.co/guide/en/elasticsearch/reference/7.17/snapshots-register-repository.html,
 * "Verify a repository"): a node whose location is another folder (not
 * the same shared storage) fails it with repository_verification_exception.
 * The repository stays registered when verification fails: it was put in
 * the cluster state before (RepositoriesService.registerRepository).
 *
 * {"type": "s3", "settings": {"bucket", "base_path"?, "client"?, "readonly"?}}
 * exists where the master has the type (sim/s3.h); it is made without a
 * word to the store, which its verification then writes to and reads from
 * with each node's client (sim_s3_folder()).
 */
static void put_repo(struct es_cluster *cl, struct call *c, const char *name)
{
	json_t *body = c->body_len ? json_loadb(c->body, c->body_len, 0, NULL) : NULL;
	const char *type = json_str(body, "type");
	json_t *settings = json_object_get(body, "settings");
	const char *location = json_str(settings, "location");
	char *err = NULL;
	if (!json_is_object(body) || !type) {
		json_decref(body);
		sim_es_error(c, 400, "action_request_validation_exception",
			     "Validation Failed: 1: type is missing;");
		return;
	}
	struct es_node *m = master_node(cl);
	bool s3 = !strcmp(type, "s3") && m && sim_s3_type_exists(m->version, m->plugins);
	if (strcmp(type, "fs") != 0 && !s3) {
		char *why = xasprintf("repository type [%s] does not exist", type);
		repository_failed(c, name, why);
		free(why);
		json_decref(body);
		return;
	}
	if (!s3 && !location) {
		repository_failed(c, name, "missing location");
		json_decref(body);
		return;
	}
	if (s3 && !json_str(settings, "bucket")) {
		repository_failed(c, name, "No bucket defined for s3 repository");
		json_decref(body);
		return;
	}
	char *mine = m && !s3 ? node_folder(cl, m, location, &err) : NULL;
	if (!s3 && !mine) {
		repository_failed(c, name, err ? err : "no master");
		free(err);
		json_decref(body);
		return;
	}
	json_t *flat = json_object();
	flatten("", settings, flat);
	json_object_set_new(
		cl->repos, name,
		json_pack("{s:s, s:o}", "type", type, "settings", json_deep_copy(flat)));
	json_decref(body);
	if (!repo_readonly(cl, name) && call_param_bool(c, "verify", true)) {
		if (s3 && !(mine = sim_s3_folder(flat, m->file, m->keystore, &err))) {
			s3_verification_failed(c, name, flat, err ? err : "");
			free(err);
			json_decref(flat);
			return;
		}
		for (size_t i = 0; i < cl->nnodes; i++) {
			struct es_node *n = cl->nodes[i];
			if (!n->present || !(n->roles & (ROLE_MASTER | ROLE_DATA)))
				continue;
			char *nerr = NULL;
			char *theirs = repo_node_folder(cl, n, s3 ? "s3" : "fs", flat, &nerr);
			bool same = theirs && !strcmp(theirs, mine);
			free(theirs);
			if (same) {
				free(nerr);
				continue;
			}
			sim_es_error(
				c, 500, "repository_verification_exception",
				"[%s] [[%s, 'RemoteTransportException[[%s][%s:9300]"
				"[internal:admin/repository/verify]]; nested: "
				"RepositoryVerificationException[[%s] %s];']]",
				name, n->id, n->name, n->ip ? n->ip : "", name,
				nerr ? nerr
				     : "a file written by master to the store cannot be accessed "
				       "on "
				       "the node. This might indicate that the store is not shared "
				       "between this node and the master node or that permissions "
				       "on "
				       "the store don't allow reading files written by the master "
				       "node");
			free(nerr);
			free(mine);
			json_decref(flat);
			return;
		}
	}
	free(mine);
	json_decref(flat);
	call_reply_json(c, 200, json_pack("{s:b}", "acknowledged", 1));
}

/* GET _snapshot[/{repo}] (a name, a list, _all or a pattern). */
static void get_repos(struct es_cluster *cl, struct call *c, const char *only)
{
	json_t *out = json_object();
	const char *k;
	json_t *v;
	json_object_foreach (cl->repos, k, v) {
		if (!only || !strcmp(only, "_all") || list_matches(only, k))
			json_object_set(out, k, v);
	}
	if (only && strcmp(only, "_all") && !strchr(only, '*') && json_object_size(out) == 0) {
		json_decref(out);
		repository_missing(c, only);
		return;
	}
	call_reply_json(c, 200, out);
}

static void delete_repo(struct es_cluster *cl, struct call *c, const char *name)
{
	if (!json_object_get(cl->repos, name)) {
		repository_missing(c, name);
		return;
	}
	json_object_del(cl->repos, name);
	call_reply_json(c, 200, json_pack("{s:b}", "acknowledged", 1));
}

/* --- snapshots ----------------------------------------------------------------------- */

/*
 * A snapshot's answer as GET _snapshot and the create API give it, by
 * version (get-snapshot-api.html of each): uuid from 5.0 (SnapshotId
 * gained it), include_global_state from 6.x, data_streams from 7.9 and
 * feature_states from 7.12; a FAILED one has its reason.
 */
static json_t *snapshot_info(const json_t *rec, int vcode)
{
	json_t *indices = json_array();
	size_t i;
	json_t *ix;
	int total = 0, failed = 0;
	json_array_foreach (json_object_get(rec, "indices"), i, ix) {
		json_array_append_new(indices, json_string(json_str(ix, "name")));
		total += (int)json_integer_value(json_object_get(ix, "nshards"));
	}
	failed = (int)json_array_size(json_object_get(rec, "failures"));
	const char *state = json_str(rec, "state");
	bool running = !strcmp(state, "IN_PROGRESS");
	const char *v = json_str(rec, "version");
	json_t *out = json_pack("{s:s, s:i, s:s, s:o, s:s}", "snapshot", json_str(rec, "snapshot"),
				"version_id", version_code(v) * 100 + 99, "version", v, "indices",
				indices, "state", state);
	if (vcode >= 50000)
		json_object_set_new(out, "uuid", json_string(json_str(rec, "uuid")));
	if (vcode >= 60000)
		json_object_set(out, "include_global_state",
				json_object_get(rec, "include_global_state"));
	if (vcode >= 70900)
		json_object_set_new(out, "data_streams", json_array());
	if (vcode >= 71200)
		json_object_set_new(out, "feature_states", json_array());
	if (json_str(rec, "reason"))
		json_object_set_new(out, "reason", json_string(json_str(rec, "reason")));
	if (json_object_get(rec, "metadata"))
		json_object_set(out, "metadata", json_object_get(rec, "metadata"));
	int64_t start = json_integer_value(json_object_get(rec, "start_ms"));
	int64_t end = json_integer_value(json_object_get(rec, "end_ms"));
	json_object_set_new(out, "start_time", sim_es_time(start));
	json_object_set_new(out, "start_time_in_millis", json_integer(start));
	json_object_set_new(out, "end_time", running ? sim_es_time(0) : sim_es_time(end));
	json_object_set_new(out, "end_time_in_millis", json_integer(running ? 0 : end));
	json_object_set_new(out, "duration_in_millis", json_integer(running ? 0 : end - start));
	json_object_set_new(out, "failures", json_deep_copy(json_object_get(rec, "failures")));
	json_object_set_new(out, "shards",
			    json_pack("{s:i, s:i, s:i}", "total", running ? 0 : total, "failed",
				      running ? 0 : failed, "successful",
				      running ? 0 : total - failed));
	return out;
}

/* The snapshot name rules of SnapshotsService.validate: 400
 * invalid_snapshot_name_exception. */
static bool snapshot_name_ok(struct call *c, const char *repo, const char *name)
{
	const char *why = NULL;
	if (!*name)
		why = "cannot be empty";
	else if (strpbrk(name, " ,#\\/*?\"<>|"))
		why = "must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?]";
	else if (name[0] == '_')
		why = "must not start with '_'";
	for (const char *p = name; !why && *p; p++) {
		if (*p >= 'A' && *p <= 'Z')
			why = "must be lowercase";
	}
	if (!why)
		return true;
	sim_es_error(c, 400, "invalid_snapshot_name_exception",
		     "[%s:%s] Invalid snapshot name [%s], %s", repo, name, name, why);
	return false;
}

static json_t *find_snapshot(json_t *list, const char *name)
{
	size_t i;
	json_t *r;
	json_array_foreach (list, i, r) {
		if (!strcmp(json_str(r, "snapshot"), name))
			return r;
	}
	return NULL;
}

static json_t *running_snapshot(struct es_cluster *cl, const char *repo, const char *name)
{
	size_t i;
	json_t *r;
	json_array_foreach (cl->running, i, r) {
		if (!strcmp(json_str(r, "repo"), repo) &&
		    (!name || !strcmp(json_str(r, "snapshot"), name)))
			return r;
	}
	return NULL;
}

/* Bytes a second a shard's snapshot writes: the repository's
 * max_snapshot_bytes_per_sec (40mb by default). */
static int64_t snapshot_rate(struct es_cluster *cl, const char *repo)
{
	const char *v = json_str(json_object_get(json_object_get(cl->repos, repo), "settings"),
				 "max_snapshot_bytes_per_sec");
	int64_t b;
	if (!v || !simconf_bytes(v, &b))
		return 40 * 1024 * 1024;
	return b;
}

static json_t *index_list(const json_t *body)
{
	json_t *ix = json_object_get(body, "indices");
	if (json_is_array(ix)) {
		char *joined = xstrdup("");
		size_t i;
		json_t *e;
		json_array_foreach (ix, i, e) {
			char *next = xasprintf("%s%s%s", joined, i ? "," : "",
					       json_is_string(e) ? json_string_value(e) : "");
			free(joined);
			joined = next;
		}
		json_t *out = json_string(joined);
		free(joined);
		return out;
	}
	return json_is_string(ix) ? json_incref(ix) : NULL;
}

/*
 * PUT/POST _snapshot/{repo}/{snap}[?wait_for_completion]: the indices
 * asked (all by default), each shard's primary copied at the repository's
 * rate.  Before 7.9 a cluster runs one snapshot at a time: a second is 503
 * concurrent_snapshot_execution_exception "a snapshot is already running"
 * (7.8 snapshot-restore docs, "Only one snapshot process can be started
 * in the cluster at any time"; concurrent from 7.9,
 * elastic/elasticsearch#56911).  An index without a started primary: from
 * 7.9 the request fails ("Indices don't have primary shards [x]"), before
 * it the snapshot ends FAILED with that reason, unless "partial": true
 * snapshots the shards there are.
 */
/*
 * Whether the repository in folder holds the files of the index's shard
 * as they are: a snapshot is incremental, a shard's files already in the
 * repository are not copied again (snapshot-restore.html, "Snapshots are
 * incremental").  The simulator keeps no segments: a shard whose
 * documents did not change since a finished snapshot of it here (the same
 * index uuid) is all there; one written to since is all new.
 */
static bool shard_in_folder(const char *folder, const struct es_index *ix, int s)
{
	size_t i, k;
	json_t *snap, *x;
	json_array_foreach (folder_snapshots(folder), i, snap) {
		const char *state = json_str(snap, "state");
		if (!state || (strcmp(state, "SUCCESS") != 0 && strcmp(state, "PARTIAL") != 0))
			continue;
		json_array_foreach (json_object_get(snap, "indices"), k, x) {
			if (strcmp(json_str(x, "uuid"), ix->uuid) != 0)
				continue;
			json_t *node = json_array_get(json_object_get(x, "nodes"), (size_t)s);
			json_t *docs = json_array_get(json_object_get(x, "docs"), (size_t)s);
			if (json_is_string(node) &&
			    json_integer_value(docs) == (json_int_t)ix->shards[s].docs)
				return true;
		}
	}
	return false;
}

static void create_snapshot(struct es_cluster *cl, struct call *c, const char *pod,
			    const char *repo, const char *name)
{
	int vcode = version_code(cluster_version(cl));
	if (!json_object_get(cl->repos, repo)) {
		repository_missing(c, repo);
		return;
	}
	if (!snapshot_name_ok(c, repo, name))
		return;
	if (repo_readonly(cl, repo)) {
		sim_es_error(c, 500, "repository_exception",
			     "[%s] cannot create snapshot in a readonly repository", repo);
		return;
	}
	char *err = NULL;
	char *folder = repo_folder(cl, repo, &err);
	if (!folder) {
		sim_es_error(c, 500, "repository_exception", "[%s] %s", repo, err ? err : "");
		free(err);
		return;
	}
	if (running_snapshot(cl, repo, name)) {
		sim_es_error(c, 400, "invalid_snapshot_name_exception",
			     "[%s:%s] Invalid snapshot name [%s], snapshot with the same name is "
			     "already in-progress",
			     repo, name, name);
		free(folder);
		return;
	}
	if (find_snapshot(folder_snapshots(folder), name)) {
		sim_es_error(c, 400, "invalid_snapshot_name_exception",
			     "[%s:%s] Invalid snapshot name [%s], snapshot with the same name "
			     "already exists",
			     repo, name, name);
		free(folder);
		return;
	}
	if (vcode < 70900 && json_array_size(cl->running) > 0) {
		sim_es_error(c, 503, "concurrent_snapshot_execution_exception",
			     "[%s:%s] a snapshot is already running", repo, name);
		free(folder);
		return;
	}
	json_t *body = c->body_len ? json_loadb(c->body, c->body_len, 0, NULL) : json_object();
	json_t *only = index_list(body);
	bool partial = json_is_true(json_object_get(body, "partial"));
	json_t *global = json_object_get(body, "include_global_state");
	const char *wanted = json_string_value(only);
	if (wanted && (!*wanted || !strcmp(wanted, "_all") || !strcmp(wanted, "*")))
		wanted = NULL;
	if (wanted && !json_is_true(json_object_get(body, "ignore_unavailable"))) {
		char *list = xstrdup(wanted), *save = NULL;
		for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (!strchr(t, '*') && !index_find(cl, t)) {
				index_not_found(c, t);
				free(list);
				json_decref(only);
				json_decref(body);
				free(folder);
				return;
			}
		}
		free(list);
	}
	char uuid[23];
	random_id(uuid, 22);
	int64_t now = now_mono_ms(), longest = 0;
	json_t *indices = json_array(), *failures = json_array(), *missing = json_array();
	for (size_t i = 0; i < cl->nindices; i++) {
		struct es_index *ix = cl->indices[i];
		if (wanted && !list_matches(wanted, ix->name))
			continue;
		json_t *docs = json_array(), *nodes = json_array(), *reused = json_array();
		bool lacks = false;
		for (int s = 0; s < ix->nshards; s++) {
			const char *on = primary_node(&ix->shards[s]);
			bool again = on && shard_in_folder(folder, ix, s);
			json_array_append_new(docs, json_integer(ix->shards[s].docs));
			json_array_append_new(nodes, on ? json_string(on) : json_null());
			json_array_append_new(reused, json_boolean(again));
			if (on && !again && ix->shard_bytes > longest)
				longest = ix->shard_bytes;
			if (!on) {
				lacks = true;
				json_array_append_new(failures,
						      json_pack("{s:s, s:s, s:i, s:s, s:s}",
								"index", ix->name, "index_uuid",
								ix->uuid, "shard_id", s, "reason",
								"primary shard is not allocated",
								"status", "INTERNAL_SERVER_ERROR"));
			}
		}
		if (lacks)
			json_array_append_new(missing, json_string(ix->name));
		json_array_append_new(
			indices,
			json_pack("{s:s, s:s, s:i, s:i, s:I, s:s, s:O?, s:O?, s:o, s:o, s:o}",
				  "name", ix->name, "uuid", ix->uuid, "nshards", ix->nshards,
				  "nreplicas", ix->nreplicas, "shard_bytes",
				  (json_int_t)ix->shard_bytes, "created_version",
				  ix->created_version, "analysis", ix->analysis, "mappings",
				  ix->mappings, "docs", docs, "nodes", nodes, "reused", reused));
	}
	json_decref(only);
	char *missing_names = NULL;
	if (json_array_size(missing) > 0 && !partial) {
		char *joined = xstrdup("");
		size_t i;
		json_t *e;
		json_array_foreach (missing, i, e) {
			char *next =
				xasprintf("%s%s%s", joined, i ? ", " : "", json_string_value(e));
			free(joined);
			joined = next;
		}
		missing_names = joined;
	}
	json_decref(missing);
	if (missing_names && vcode >= 70900) {
		sim_es_error(c, 500, "snapshot_exception",
			     "[%s:%s/%s] Indices don't have primary shards [%s]", repo, name, uuid,
			     missing_names);
		free(missing_names);
		json_decref(indices);
		json_decref(failures);
		json_decref(body);
		free(folder);
		return;
	}
	int64_t rate = snapshot_rate(cl, repo);
	int64_t takes = simconf_get()->recovery_ms + (rate > 0 ? longest * 1000 / rate : 0);
	json_t *rec =
		json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:o, s:o, s:b}",
			  "snapshot", name, "uuid", uuid, "repo", repo, "folder", folder, "version",
			  cluster_version(cl), "include_global_state",
			  global ? json_is_true(global) : 1, "start_ms", (json_int_t)now_wall_ms(),
			  "end_ms", (json_int_t)0, "end_mono", (json_int_t)(now + takes), "indices",
			  indices, "failures", failures, "partial", partial);
	json_object_set_new(rec, "state", json_string("IN_PROGRESS"));
	/* The user's metadata, kept with the snapshot, from 7.3
	 * (create-snapshot-api.html of 7.3, "metadata"). */
	if (vcode >= 70300 && json_is_object(json_object_get(body, "metadata")))
		json_object_set(rec, "metadata", json_object_get(body, "metadata"));
	if (missing_names) {
		/* Before 7.9: it ends at once, FAILED, with the reason. */
		char *reason = xasprintf("Indices don't have primary shards [%s]", missing_names);
		json_object_set_new(rec, "reason", json_string(reason));
		json_object_set_new(rec, "end_mono", json_integer(now));
		free(reason);
	}
	free(missing_names);
	free(folder);
	json_decref(body);
	json_array_append_new(cl->running, rec);
	if (call_param_bool(c, "wait_for_completion", false)) {
		park(WAIT_SNAPSHOT, cl, c, pod, c->path, 24LL * 3600 * 1000);
		waits->index = xstrdup(uuid);
		return;
	}
	call_reply_json(c, 200, json_pack("{s:b}", "accepted", 1));
}

static json_t *running_snapshot_by_uuid(struct es_cluster *cl, const char *uuid)
{
	size_t i;
	json_t *r;
	json_array_foreach (cl->running, i, r) {
		if (!strcmp(json_str(r, "uuid"), uuid))
			return r;
	}
	return NULL;
}

/* A finished snapshot by its uuid, in whichever folder. */
static json_t *finished_by_uuid(const char *uuid)
{
	const char *k;
	json_t *f;
	json_object_foreach (shared_folders, k, f) {
		size_t i;
		json_t *r;
		json_array_foreach (json_object_get(f, "snapshots"), i, r) {
			if (!strcmp(json_str(r, "uuid"), uuid))
				return r;
		}
	}
	return NULL;
}

/*
 * The snapshots in progress end: a shard whose primary's node has left
 * meanwhile is a failure ("node shutdown"), and the snapshot is PARTIAL
 * with failures, SUCCESS without (SnapshotsService.finalizeSnapshotEntry);
 * it is then written to its repository's folder.
 */
static void snapshots_tick(struct es_cluster *cl, int64_t now)
{
	for (size_t i = 0; i < json_array_size(cl->running);) {
		json_t *rec = json_array_get(cl->running, i);
		if (now < json_integer_value(json_object_get(rec, "end_mono"))) {
			i++;
			continue;
		}
		json_t *failures = json_object_get(rec, "failures");
		bool failed = json_str(rec, "reason") != NULL;
		size_t k;
		json_t *ix;
		json_array_foreach (json_object_get(rec, "indices"), k, ix) {
			json_t *nodes = json_object_get(ix, "nodes");
			for (size_t s = 0; s < json_array_size(nodes); s++) {
				const char *on = json_string_value(json_array_get(nodes, s));
				struct es_node *n = on ? node_by_name(cl, on) : NULL;
				if (!on || (n && n->present))
					continue;
				json_array_append_new(failures,
						      json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}",
								"index", json_str(ix, "name"),
								"index_uuid", json_str(ix, "uuid"),
								"shard_id", (int)s, "reason",
								"node shutdown", "node_id",
								n ? n->id : on, "status",
								"INTERNAL_SERVER_ERROR"));
				json_array_set_new(nodes, s, json_null());
			}
		}
		json_object_set_new(rec, "state",
				    json_string(failed				? "FAILED"
						: json_array_size(failures) > 0 ? "PARTIAL"
										: "SUCCESS"));
		json_object_set_new(rec, "end_ms", json_integer(now_wall_ms()));
		json_object_del(rec, "end_mono");
		json_array_append(folder_snapshots(json_str(rec, "folder")), rec);
		log_info("elasticsearch %s: snapshot %s:%s %s", cl->ns, json_str(rec, "repo"),
			 json_str(rec, "snapshot"), json_str(rec, "state"));
		json_array_remove(cl->running, i);
	}
}

/* The snapshots of a repository, finished and running, that match only
 * (_all, a name, a list, a pattern). */
static json_t *matching_snapshots(struct es_cluster *cl, const char *repo, const char *folder,
				  const char *only)
{
	json_t *out = json_array();
	bool all = !strcmp(only, "_all") || !strcmp(only, "*");
	size_t i;
	json_t *r;
	json_array_foreach (folder_snapshots(folder), i, r) {
		if (all || list_matches(only, json_str(r, "snapshot")))
			json_array_append(out, r);
	}
	json_array_foreach (cl->running, i, r) {
		if (!strcmp(json_str(r, "repo"), repo) &&
		    (all || list_matches(only, json_str(r, "snapshot"))))
			json_array_append(out, r);
	}
	return out;
}

static void snapshot_missing(struct call *c, const char *repo, const char *name)
{
	sim_es_error(c, 404, "snapshot_missing_exception", "[%s:%s] is missing", repo, name);
}

/* The first name of a list that is no pattern and matched nothing. */
static const char *unmatched_name(const json_t *found, const char *only, char *buf, size_t n)
{
	if (!strcmp(only, "_all"))
		return NULL;
	char *list = xstrdup(only), *save = NULL;
	const char *miss = NULL;
	for (char *t = strtok_r(list, ",", &save); t && !miss; t = strtok_r(NULL, ",", &save)) {
		if (strchr(t, '*'))
			continue;
		bool seen = false;
		size_t i;
		json_t *r;
		json_array_foreach (found, i, r)
			seen = seen || !strcmp(json_str(r, "snapshot"), t);
		if (!seen) {
			snprintf(buf, n, "%s", t);
			miss = buf;
		}
	}
	free(list);
	return miss;
}

/*
 * GET _snapshot/{repo}/{snap}: {"snapshots": [...]}, oldest first; from
 * 7.15 with "total" and "remaining" (the paginated get snapshots API,
 * 7.15 get-snapshot-api.html).  A name that is no pattern and is not
 * there is 404 snapshot_missing_exception, unless ignore_unavailable.
 */
static void get_snapshots(struct es_cluster *cl, struct call *c, const char *repo, const char *only)
{
	int vcode = version_code(cluster_version(cl));
	char *err = NULL;
	char *folder = repo_folder(cl, repo, &err);
	if (!json_object_get(cl->repos, repo)) {
		repository_missing(c, repo);
		return;
	}
	if (!folder) {
		sim_es_error(c, 500, "repository_exception", "[%s] %s", repo, err ? err : "");
		free(err);
		return;
	}
	json_t *found = matching_snapshots(cl, repo, folder, only);
	free(folder);
	char buf[256];
	const char *miss = unmatched_name(found, only, buf, sizeof(buf));
	if (miss && !call_param_bool(c, "ignore_unavailable", false)) {
		json_decref(found);
		snapshot_missing(c, repo, miss);
		return;
	}
	json_t *list = json_array();
	size_t i;
	json_t *r;
	json_array_foreach (found, i, r)
		json_array_append_new(list, snapshot_info(r, vcode));
	json_decref(found);
	json_t *out = json_pack("{s:o}", "snapshots", list);
	if (vcode >= 71500) {
		json_object_set_new(out, "total", json_integer((json_int_t)json_array_size(list)));
		json_object_set_new(out, "remaining", json_integer(0));
	}
	call_reply_json(c, 200, out);
}

/*
 * GET _snapshot/{repo}/{snap}/_status: the files and bytes of each
 * snapshot.  From 7.4 "stats" has "incremental" (what this snapshot
 * copied) and "total" ({file_count, size_in_bytes}); before, only what it
 * copied, as number_of_files and total_size_in_bytes
 * (snapshots-status-api / modules-snapshots.html of 7.4 and 6.8).  A
 * shard's files are its copy's bytes, one file each; a shard already in
 * the repository (shard_in_folder) copied nothing.
 */
static void snapshot_status(struct es_cluster *cl, struct call *c, const char *repo,
			    const char *only)
{
	int vcode = version_code(cluster_version(cl));
	char *err = NULL;
	char *folder = repo_folder(cl, repo, &err);
	if (!json_object_get(cl->repos, repo)) {
		repository_missing(c, repo);
		return;
	}
	if (!folder) {
		sim_es_error(c, 500, "repository_exception", "[%s] %s", repo, err ? err : "");
		free(err);
		return;
	}
	json_t *found = matching_snapshots(cl, repo, folder, only);
	free(folder);
	char buf[256];
	const char *miss = unmatched_name(found, only, buf, sizeof(buf));
	if (miss) {
		json_decref(found);
		snapshot_missing(c, repo, miss);
		return;
	}
	json_t *list = json_array();
	size_t i, k;
	json_t *r, *ix;
	json_array_foreach (found, i, r) {
		int64_t bytes = 0, files = 0, done = 0, failed = 0, total = 0;
		int64_t new_bytes = 0, new_files = 0;
		json_array_foreach (json_object_get(r, "indices"), k, ix) {
			int64_t nsh = json_integer_value(json_object_get(ix, "nshards"));
			int64_t each = json_integer_value(json_object_get(ix, "shard_bytes"));
			total += nsh;
			bytes += nsh * each;
			files += nsh;
			for (int64_t s = 0; s < nsh; s++) {
				if (json_is_true(json_array_get(json_object_get(ix, "reused"),
								(size_t)s)))
					continue;
				new_bytes += each;
				new_files++;
			}
		}
		failed = (int64_t)json_array_size(json_object_get(r, "failures"));
		bool running = !strcmp(json_str(r, "state"), "IN_PROGRESS");
		done = running ? 0 : total - failed;
		int64_t start = json_integer_value(json_object_get(r, "start_ms"));
		int64_t took = running ? now_wall_ms() - start
				       : json_integer_value(json_object_get(r, "end_ms")) - start;
		json_t *stats;
		if (vcode >= 70400)
			stats = json_pack("{s:{s:I, s:I}, s:{s:I, s:I}, s:I, s:I}", "incremental",
					  "file_count", (json_int_t)new_files, "size_in_bytes",
					  (json_int_t)new_bytes, "total", "file_count",
					  (json_int_t)files, "size_in_bytes", (json_int_t)bytes,
					  "start_time_in_millis", (json_int_t)start,
					  "time_in_millis", (json_int_t)took);
		else
			stats = json_pack(
				"{s:I, s:I, s:I, s:I, s:I, s:I}", "number_of_files",
				(json_int_t)new_files, "processed_files",
				(json_int_t)(running ? 0 : new_files), "total_size_in_bytes",
				(json_int_t)new_bytes, "processed_size_in_bytes",
				(json_int_t)(running ? 0 : new_bytes), "start_time_in_millis",
				(json_int_t)start, "time_in_millis", (json_int_t)took);
		json_t *one = json_pack(
			"{s:s, s:s, s:s, s:s, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:o}", "snapshot",
			json_str(r, "snapshot"), "repository", repo, "uuid", json_str(r, "uuid"),
			"state", running ? "STARTED" : json_str(r, "state"), "shards_stats",
			"initializing", (json_int_t)0, "started", (json_int_t)(running ? total : 0),
			"finalizing", (json_int_t)0, "done", (json_int_t)done, "failed",
			(json_int_t)failed, "total", (json_int_t)total, "stats", stats);
		json_array_append_new(list, one);
	}
	json_decref(found);
	call_reply_json(c, 200, json_pack("{s:o}", "snapshots", list));
}

/*
 * DELETE _snapshot/{repo}/{snap}: a finished snapshot leaves the folder;
 * a running one is aborted and goes (delete-snapshot-api.html, "If the
 * snapshot is in progress, the request aborts it").
 */
static void delete_snapshot(struct es_cluster *cl, struct call *c, const char *repo,
			    const char *name)
{
	char *err = NULL;
	char *folder = repo_folder(cl, repo, &err);
	if (!json_object_get(cl->repos, repo)) {
		repository_missing(c, repo);
		return;
	}
	if (!folder) {
		sim_es_error(c, 500, "repository_exception", "[%s] %s", repo, err ? err : "");
		free(err);
		return;
	}
	if (repo_readonly(cl, repo)) {
		free(folder);
		sim_es_error(c, 500, "repository_exception",
			     "[%s] cannot delete snapshot from a readonly repository", repo);
		return;
	}
	bool any = false;
	for (size_t i = 0; i < json_array_size(cl->running);) {
		json_t *r = json_array_get(cl->running, i);
		if (!strcmp(json_str(r, "repo"), repo) &&
		    list_matches(name, json_str(r, "snapshot"))) {
			json_array_remove(cl->running, i);
			any = true;
		} else {
			i++;
		}
	}
	json_t *list = folder_snapshots(folder);
	for (size_t i = 0; i < json_array_size(list);) {
		if (list_matches(name, json_str(json_array_get(list, i), "snapshot"))) {
			json_array_remove(list, i);
			any = true;
		} else {
			i++;
		}
	}
	free(folder);
	if (!any && !strchr(name, '*')) {
		snapshot_missing(c, repo, name);
		return;
	}
	call_reply_json(c, 200, json_pack("{s:b}", "acknowledged", 1));
}

/* Elasticsearch's majors in order: 5 follows 2. */
static int previous_major(int major)
{
	return major == 5 ? 2 : major - 1;
}

/* name with rename_pattern replaced by rename_replacement as Java's
 * String.replaceAll does ($1 for a group); NULL when the pattern is not
 * a regular expression. */
static char *rename_index(const char *name, const char *pattern, const char *replacement)
{
	regex_t re;
	if (regcomp(&re, pattern, REG_EXTENDED) != 0)
		return NULL;
	char *out = xstrdup("");
	const char *p = name;
	regmatch_t m[10];
	while (*p && regexec(&re, p, 10, m, p == name ? 0 : REG_NOTBOL) == 0) {
		char *pre = xstrndup(p, (size_t)m[0].rm_so);
		char *rep = xstrdup("");
		for (const char *r = replacement; *r; r++) {
			char *next;
			if (*r == '$' && r[1] >= '0' && r[1] <= '9' && m[r[1] - '0'].rm_so >= 0) {
				int g = r[1] - '0';
				next = xasprintf("%s%.*s", rep, (int)(m[g].rm_eo - m[g].rm_so),
						 p + m[g].rm_so);
				r++;
			} else {
				next = xasprintf("%s%c", rep, *r);
			}
			free(rep);
			rep = next;
		}
		char *next = xasprintf("%s%s%s", out, pre, rep);
		free(out);
		free(pre);
		free(rep);
		out = next;
		p += m[0].rm_eo > 0 ? m[0].rm_eo : 1;
		if (m[0].rm_eo == 0)
			break;
	}
	char *next = xasprintf("%s%s", out, p);
	free(out);
	regfree(&re);
	return next;
}

static void restore_error(struct call *c, const char *repo, const json_t *snap, char *what)
{
	sim_es_error(c, 500, "snapshot_restore_exception", "[%s:%s/%s] %s", repo,
		     json_str(snap, "snapshot"), json_str(snap, "uuid"), what);
	free(what);
}

/*
 * POST _snapshot/{repo}/{snap}/_restore {"indices", "rename_pattern",
 * "rename_replacement"}[?wait_for_completion]
 * (https://www.elastic.co/guide/en/elasticsearch/reference/7.17/restore-snapshot-api.html,
 * 6.8 and 2.4 modules-snapshots.html "Restore"):
 * - a snapshot made by a newer version is refused ("the snapshot was
 *   created with Elasticsearch version [x] which is higher than the
 *   version of this node [y]"), and an index made before the previous
 *   major cannot be read (snapshot-restore.html "Snapshot compatibility":
 *   a snapshot restores into the same or the next major only);
 * - an open index of the same name is refused with snapshot_restore_exception;
 * - the restored indices' primaries copy their files from the repository
 *   (red until they start), then their replicas recover from them, and
 *   each shard has the documents the snapshot took.
 */
static void restore_snapshot(struct es_cluster *cl, struct call *c, const char *pod,
			     const char *repo, const char *name)
{
	char *err = NULL;
	char *folder = repo_folder(cl, repo, &err);
	if (!json_object_get(cl->repos, repo)) {
		repository_missing(c, repo);
		return;
	}
	if (!folder) {
		sim_es_error(c, 500, "repository_exception", "[%s] %s", repo, err ? err : "");
		free(err);
		return;
	}
	json_t *snap = find_snapshot(folder_snapshots(folder), name);
	free(folder);
	if (!snap) {
		snapshot_missing(c, repo, name);
		return;
	}
	const char *here = cluster_version(cl);
	int vhere = version_code(here);
	const char *made = json_str(snap, "version");
	if (version_code(made) > vhere) {
		char *why = xasprintf("the snapshot was created with Elasticsearch version [%s] "
				      "which is higher than the version of this node [%s]",
				      made, here);
		restore_error(c, repo, snap, why);
		return;
	}
	if (!strcmp(json_str(snap, "state"), "FAILED")) {
		restore_error(c, repo, snap, xstrdup("unsupported snapshot state [FAILED]"));
		return;
	}
	json_t *body = c->body_len ? json_loadb(c->body, c->body_len, 0, NULL) : json_object();
	json_t *only = index_list(body);
	const char *wanted = json_string_value(only);
	if (wanted && (!*wanted || !strcmp(wanted, "_all") || !strcmp(wanted, "*")))
		wanted = NULL;
	const char *pattern = json_str(body, "rename_pattern");
	const char *replacement = json_str(body, "rename_replacement");
	json_t *plan = json_object(); /* new name -> snapshot index */
	json_t *froms = json_object();
	size_t i;
	json_t *ix;
	bool ok = true;
	json_array_foreach (json_object_get(snap, "indices"), i, ix) {
		const char *from = json_str(ix, "name");
		if (!ok || (wanted && !list_matches(wanted, from)))
			continue;
		char *to = pattern && replacement ? rename_index(from, pattern, replacement)
						  : xstrdup(from);
		if (!to) {
			sim_es_error(c, 400, "illegal_argument_exception",
				     "rename_pattern [%s] is not a valid regular expression",
				     pattern);
			ok = false;
			break;
		}
		int cmajor = version_major(json_str(ix, "created_version"));
		int major = version_major(here);
		if (cmajor < previous_major(major)) {
			sim_es_error(c, 500, "illegal_state_exception",
				     "The index [[%s/%s]] was created with version [%s] but the "
				     "minimum compatible version is [%d.0.0]. It should be "
				     "re-indexed in Elasticsearch %d.x before upgrading to %s.",
				     from, json_str(ix, "uuid"), json_str(ix, "created_version"),
				     previous_major(major), previous_major(major), here);
			ok = false;
		} else if (json_object_get(plan, to)) {
			restore_error(c, repo, snap,
				      xasprintf("indices [%s] and [%s] are renamed into the same "
						"index [%s]",
						json_str(froms, to), from, to));
			ok = false;
		} else if (index_find(cl, to)) {
			restore_error(c, repo, snap,
				      xasprintf("cannot restore index [%s] because an open index "
						"with same name already exists in the cluster. "
						"Either close or delete the existing index or "
						"restore the index under a different name by "
						"providing a rename pattern and replacement name",
						to));
			ok = false;
		} else {
			json_object_set(plan, to, ix);
			json_object_set_new(froms, to, json_string(from));
		}
		free(to);
	}
	json_decref(only);
	json_decref(body);
	json_decref(froms);
	if (!ok) {
		json_decref(plan);
		return;
	}
	if (wanted && json_object_size(plan) == 0 && !strchr(wanted, '*')) {
		json_decref(plan);
		index_not_found(c, wanted);
		return;
	}
	const char *to;
	json_t *names = json_array();
	int total = 0;
	char restore_uuid[23];
	random_id(restore_uuid, 22);
	json_object_foreach (plan, to, ix) {
		struct es_index *made_ix = index_create(
			cl, to, (int)json_integer_value(json_object_get(ix, "nshards")),
			(int)json_integer_value(json_object_get(ix, "nreplicas")));
		made_ix->shard_bytes = json_integer_value(json_object_get(ix, "shard_bytes"));
		free(made_ix->created_version);
		made_ix->created_version = xstrdup(json_str(ix, "created_version"));
		made_ix->analysis = json_deep_copy(json_object_get(ix, "analysis"));
		made_ix->mappings = json_deep_copy(json_object_get(ix, "mappings"));
		/* SnapshotRecoverySource (RestoreSource before 6.0): the
		 * repository, the snapshot, the version that made it and the
		 * index in it; from 6.8 (the 6.8 reference's example) also the
		 * restore's own UUID. */
		made_ix->restored_from =
			json_pack("{s:s, s:s, s:s, s:s}", "repository", repo, "snapshot", name,
				  "version", made, "index", json_str(ix, "name"));
		if (version_code(cluster_version(cl)) >= 60800)
			json_object_set_new(made_ix->restored_from, "restoreUUID",
					    json_string(restore_uuid));
		for (int s = 0; s < made_ix->nshards; s++) {
			made_ix->shards[s].docs = json_integer_value(
				json_array_get(json_object_get(ix, "docs"), (size_t)s));
			made_ix->shards[s].restoring = true;
			for (int k = 0; k < made_ix->shards[s].ncopies; k++)
				made_ix->shards[s].copies[k].reason = "NEW_INDEX_RESTORED";
		}
		total += made_ix->nshards;
		json_array_append_new(names, json_string(to));
	}
	json_decref(plan);
	allocate(cl, now_mono_ms());
	if (call_param_bool(c, "wait_for_completion", false)) {
		park(WAIT_RESTORE, cl, c, pod, c->path, 24LL * 3600 * 1000);
		waits->answer = json_pack("{s:s, s:o, s:i}", "snapshot", name, "indices", names,
					  "total", total);
		return;
	}
	json_decref(names);
	call_reply_json(c, 200, json_pack("{s:b}", "accepted", 1));
}

/* A node as a recovery names it (DiscoveryNode: id, host, transport
 * address, ip, name). */
static json_t *recovery_node(struct es_cluster *cl, const char *name)
{
	struct es_node *n = name ? node_by_name(cl, name) : NULL;
	if (!n)
		return json_pack("{s:s?}", "name", name);
	char *transport = xasprintf("%s:9300", n->ip);
	json_t *out = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", n->id, "host", n->ip,
				"transport_address", transport, "ip", n->ip, "name", n->name);
	free(transport);
	return out;
}

/* The kind's name as the version reports it: RecoverySource's types
 * from 6.0; RecoveryState.Type before (STORE, REPLICA, and a primary's
 * move RELOCATION in 2.x, PRIMARY_RELOCATION in 5.x). */
static const char *recovery_type(struct es_cluster *cl, const struct es_recovery *r, bool primary)
{
	int major = version_major(cluster_version(cl));
	switch (r->kind) {
	case REC_EMPTY_STORE:
		return major >= 6 ? "EMPTY_STORE" : "STORE";
	case REC_EXISTING_STORE:
		return major >= 6 ? "EXISTING_STORE" : "STORE";
	case REC_PEER_RELOCATION:
		if (major >= 6)
			return "PEER";
		if (!primary)
			return "REPLICA";
		return major >= 5 ? "PRIMARY_RELOCATION" : "RELOCATION";
	case REC_PEER_REPLICA:
		return major >= 6 ? "PEER" : "REPLICA";
	case REC_SNAPSHOT:
		return "SNAPSHOT";
	case REC_NONE:
		break;
	}
	return NULL;
}

static const char *percent(char *buf, size_t len, int64_t part, int64_t whole)
{
	snprintf(buf, len, "%.1f%%", whole > 0 ? 100.0 * (double)part / (double)whole : 0.0);
	return buf;
}

/* One shard copy's recovery as RecoveryState.toXContent writes it. */
static json_t *recovery_json(struct es_cluster *cl, const struct es_index *ix, int shard,
			     bool primary, const struct es_recovery *r, const char *target,
			     int64_t bytes_left)
{
	int major = version_major(cluster_version(cl));
	bool done = r->stop_ms > 0;
	int64_t now = now_wall_ms();
	int64_t to_copy = r->bytes - r->reused;
	int64_t copied = done ? to_copy : to_copy - (bytes_left > 0 ? bytes_left : 0);
	if (copied < 0)
		copied = 0;
	char pct[2][16];
	json_t *one = json_pack("{s:i, s:s, s:s, s:b, s:I, s:I}", "id", shard, "type",
				recovery_type(cl, r, primary), "stage",
				done		 ? "DONE"
				: bytes_left > 0 ? "INDEX"
						 : "TRANSLOG",
				"primary", primary, "start_time_in_millis", (json_int_t)r->start_ms,
				"total_time_in_millis",
				(json_int_t)((done ? r->stop_ms : now) - r->start_ms));
	if (done)
		json_object_set_new(one, "stop_time_in_millis", json_integer(r->stop_ms));
	/* The source: the node a peer copies from; the snapshot; nothing
	 * for a store from 6.0 (before, a store's source is its own node). */
	json_t *source;
	if (r->kind == REC_SNAPSHOT && ix->restored_from)
		source = json_incref(ix->restored_from);
	else if (r->kind == REC_PEER_REPLICA || r->kind == REC_PEER_RELOCATION)
		source = recovery_node(cl, r->from);
	else if (major < 6)
		source = recovery_node(cl, target);
	else
		source = json_object();
	json_object_set_new(one, "source", source);
	json_object_set_new(one, "target", recovery_node(cl, target));
	json_object_set_new(one, "index",
			    json_pack("{s:{s:I, s:I, s:I, s:s}, s:I, s:i, s:i}", "size",
				      "total_in_bytes", (json_int_t)r->bytes, "reused_in_bytes",
				      (json_int_t)r->reused, "recovered_in_bytes",
				      (json_int_t)copied, "percent",
				      to_copy > 0 ? percent(pct[0], sizeof(pct[0]), copied, to_copy)
						  : (r->bytes > 0 ? "100.0%" : "0.0%"),
				      "total_time_in_millis",
				      (json_int_t)((done ? r->stop_ms : now) - r->start_ms),
				      "source_throttle_time_in_millis", 0,
				      "target_throttle_time_in_millis", 0));
	json_object_set_new(one, "translog",
			    json_pack("{s:i, s:i, s:s, s:i, s:i}", "recovered", 0, "total", 0,
				      "percent", percent(pct[1], sizeof(pct[1]), 0, 0),
				      "total_on_start", 0, "total_time_in_millis", 0));
	json_object_set_new(one, "verify_index",
			    json_pack("{s:i, s:i}", "check_index_time_in_millis", 0,
				      "total_time_in_millis", 0));
	return one;
}

/*
 * GET [/{index}]/_recovery[?active_only=true]: the last recovery of each
 * shard copy there is, a relocating copy's target's as well
 * (TransportRecoveryAction over allShardsIncludingRelocationTargets;
 * https://www.elastic.co/guide/en/elasticsearch/reference/7.17/indices-recovery.html:
 * "It only reports the last recovery for each shard copy"): a new
 * index's primary from an empty store, a primary back on its node from
 * the files there (EXISTING_STORE), a replica or a moved copy from a peer
 * (PEER, its source the node it copied from), a restored primary from the
 * snapshot (SNAPSHOT, its source naming the repository, the snapshot, the
 * version and the index in it); 2.x and 5.x name the kinds STORE,
 * REPLICA, RELOCATION (PRIMARY_RELOCATION in 5.x) and SNAPSHOT.  The
 * size counters follow the copy's files; a file count is not kept.
 */
static void recovery_api(struct es_cluster *cl, struct call *c, const char *only)
{
	bool active_only = call_param_bool(c, "active_only", false);
	json_t *out = json_object();
	for (size_t i = 0; i < cl->nindices; i++) {
		struct es_index *ix = cl->indices[i];
		if (only && !list_matches(only, ix->name))
			continue;
		json_t *shards = json_array();
		for (int s = 0; s < ix->nshards; s++) {
			for (int k = 0; k < ix->shards[s].ncopies; k++) {
				struct es_copy *cp = &ix->shards[s].copies[k];
				if (cp->state == COPY_UNASSIGNED || cp->rec.kind == REC_NONE)
					continue;
				if (!active_only || cp->rec.stop_ms == 0)
					json_array_append_new(
						shards, recovery_json(cl, ix, s, cp->primary,
								      &cp->rec, cp->node,
								      cp->state == COPY_INITIALIZING
									      ? cp->bytes_left
									      : 0));
				if (cp->state == COPY_RELOCATING && cp->reloc.kind != REC_NONE)
					json_array_append_new(shards,
							      recovery_json(cl, ix, s, cp->primary,
									    &cp->reloc, cp->target,
									    cp->bytes_left));
			}
		}
		if (json_array_size(shards) || !active_only)
			json_object_set_new(out, ix->name, json_pack("{s:o}", "shards", shards));
		else
			json_decref(shards);
	}
	if (only && json_object_size(out) == 0 && !strchr(only, '*') && !strchr(only, ',') &&
	    !index_find(cl, only)) {
		json_decref(out);
		index_not_found(c, only);
		return;
	}
	call_reply_json(c, 200, out);
}

/* _snapshot/...: the repository and snapshot APIs. */
static void snapshot_api(struct es_cluster *cl, struct call *c, const char *pod, char **segs, int n)
{
	const char *m = c->method;
	bool get = is(m, "GET") || is(m, "HEAD");
	if (n == 1 && get) {
		get_repos(cl, c, NULL);
	} else if (n == 2) {
		if (get)
			get_repos(cl, c, segs[1]);
		else if (is(m, "PUT") || is(m, "POST"))
			put_repo(cl, c, segs[1]);
		else if (is(m, "DELETE"))
			delete_repo(cl, c, segs[1]);
		else
			bad_method(c, "GET,PUT,POST,DELETE");
	} else if (n == 3) {
		if (get)
			get_snapshots(cl, c, segs[1], segs[2]);
		else if (is(m, "PUT") || is(m, "POST"))
			create_snapshot(cl, c, pod, segs[1], segs[2]);
		else if (is(m, "DELETE"))
			delete_snapshot(cl, c, segs[1], segs[2]);
		else
			bad_method(c, "GET,PUT,POST,DELETE");
	} else if (n == 4 && is(segs[3], "_restore")) {
		if (is(m, "POST"))
			restore_snapshot(cl, c, pod, segs[1], segs[2]);
		else
			bad_method(c, "POST");
	} else if (n == 4 && is(segs[3], "_status")) {
		if (get)
			snapshot_status(cl, c, segs[1], segs[2]);
		else
			bad_method(c, "GET");
	} else {
		no_handler(c);
	}
}

static void dispatch(struct es_cluster *cl, struct call *c, const char *pod, const char *path,
		     const char *es_user)
{
	char *segs[8] = {0};
	int n = 0;
	char *copy = xstrdup(path);
	char *p = copy;
	while (*p && n < 8) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		char *end = strchr(p, '/');
		if (end)
			*end = '\0';
		char *dec = evhttp_uridecode(p, 0, NULL);
		segs[n++] = dec ? dec : xstrdup(p);
		p = end ? end + 1 : p + strlen(p);
	}
	const char *m = c->method;
	bool get = is(m, "GET") || is(m, "HEAD");
	const char *version = cluster_version(cl);
	/* The node that receives the request parses it, by its own version. */
	struct es_node *receiver = node_by_pod(cl, pod);
	/* Who asked: the API server's user through the proxy; on the pod
	 * network, Elasticsearch's own ("elasticsearch:elastic"). */
	char *es_who = !c->user && es_user ? xasprintf("elasticsearch:%s", es_user) : NULL;
	record_es_request(c->user ? c->user->name : es_who, receiver ? receiver->version : version,
			  m, path, c->query_raw);
	free(es_who);
	/* The handler reads its parameters before anything else
	 * (BaseRestHandler): a value it cannot parse or a name it does not
	 * know is a 400 whatever the cluster's state. */
	char *refusal =
		esspec_refusal(receiver ? receiver->version : version, m, path, c->query_raw);
	if (refusal) {
		sim_es_error(c, 400, "illegal_argument_exception", "%s", refusal);
		free(refusal);
		goto done;
	}
	int vcode = version_code(version);
	bool needs_master =
		!(n == 0) && !(n >= 1 && is(segs[0], "_cat") && n >= 2 && is(segs[1], "plugins")) &&
		!(n >= 1 && is(segs[0], "_nodes") && !(n >= 2 && is(segs[n - 1], "shutdown")));

	if (needs_master && !node_sees_master(cl, pod)) {
		int64_t t = param_ms(c,
				     is(segs[0], "_cluster") && n >= 2 && is(segs[1], "health")
					     ? "timeout"
					     : "master_timeout",
				     30000);
		int64_t cap = simconf_get()->no_master_wait_ms;
		park(WAIT_MASTER, cl, c, pod, path, t < cap ? t : cap);
		goto done;
	}
	if (n == 0) {
		if (get)
			root(cl, c, pod);
		else
			bad_method(c, "HEAD,GET");
	} else if ((vcode >= 70000 && n == 4 && is(segs[0], "_security") && is(segs[1], "user") &&
		    is(segs[3], "_password")) ||
		   (vcode < 80000 && n == 5 && is(segs[0], "_xpack") && is(segs[1], "security") &&
		    is(segs[2], "user") && is(segs[4], "_password"))) {
		if (is(m, "PUT") || is(m, "POST"))
			change_password(cl, c, es_user, segs[n - 2], vcode);
		else
			bad_method(c, "PUT,POST");
	} else if ((vcode >= 70000 && n == 3 && is(segs[0], "_security") && is(segs[1], "user")) ||
		   (vcode < 80000 && n == 4 && is(segs[0], "_xpack") && is(segs[1], "security") &&
		    is(segs[2], "user"))) {
		if (is(m, "PUT") || is(m, "POST"))
			put_user(cl, c, es_user, segs[n - 1], vcode);
		else
			bad_method(c, "PUT,POST");
	} else if (is(segs[0], "_cluster") && n >= 2 && is(segs[1], "health") && n <= 3) {
		if (!get) {
			bad_method(c, "GET");
		} else {
			struct health h;
			cl->health_reads++;
			if (n == 3 && !strchr(segs[2], '*') && !strchr(segs[2], ',') &&
			    !index_find(cl, segs[2]))
				index_not_found(c, segs[2]);
			else if (health_ready(cl, c, n == 3 ? segs[2] : NULL, &h))
				call_reply_json(c, 200, health_json(cl, &h, false));
			else
				park(WAIT_HEALTH, cl, c, pod, path, param_ms(c, "timeout", 30000));
		}
	} else if (is(segs[0], "_cluster") && n == 3 && is(segs[1], "allocation") &&
		   is(segs[2], "explain")) {
		if (get || is(m, "POST"))
			allocation_explain(cl, c);
		else
			bad_method(c, "GET,POST");
	} else if (is(segs[0], "_cluster") && n == 2 && is(segs[1], "reroute")) {
		if (is(m, "POST"))
			reroute(cl, c);
		else
			bad_method(c, "POST");
	} else if (is(segs[0], "_cluster") && n == 2 && is(segs[1], "settings")) {
		if (get)
			get_settings(cl, c, pod);
		else if (is(m, "PUT"))
			put_settings(cl, c);
		else
			bad_method(c, "GET,PUT");
	} else if (is(segs[0], "_cluster") && n >= 2 && is(segs[1], "voting_config_exclusions") &&
		   vcode >= 70000) {
		if (n == 2 && is(m, "POST") && vcode >= 70800)
			voting_add(cl, c, NULL);
		else if (n == 3 && is(m, "POST") && vcode < 80000)
			voting_add(cl, c, segs[2]);
		else if (n == 2 && is(m, "DELETE"))
			voting_clear(cl, c, pod);
		else if (n == 2)
			bad_method(c, vcode >= 70800 ? "POST,DELETE" : "DELETE");
		else
			no_handler(c);
	} else if (is(segs[0], "_flush") && n == 1) {
		if (get || is(m, "POST"))
			flush(cl, c, NULL, false);
		else
			bad_method(c, "GET,POST");
	} else if (is(segs[0], "_flush") && n == 2 && is(segs[1], "synced") && vcode < 80000) {
		if (get || is(m, "POST"))
			flush(cl, c, NULL, true);
		else
			bad_method(c, "GET,POST");
	} else if (n == 2 && is(segs[1], "_flush") && segs[0][0] != '_') {
		flush(cl, c, segs[0], false);
	} else if (n == 3 && is(segs[1], "_flush") && is(segs[2], "synced") && vcode < 80000 &&
		   segs[0][0] != '_') {
		flush(cl, c, segs[0], true);
	} else if ((vcode >= 70000 && n == 2 && is(segs[0], "_migration") &&
		    is(segs[1], "deprecations")) ||
		   (vcode >= 60000 && vcode < 80000 && n == 3 && is(segs[0], "_xpack") &&
		    is(segs[1], "migration") && is(segs[2], "deprecations"))) {
		struct es_node *answering = pod ? node_by_pod(cl, pod) : NULL;
		/* An X-Pack API: a node without X-Pack (an -oss image) has no
		 * handler for it. */
		if (answering && !answering->xpack)
			no_handler(c);
		else if (get)
			deprecations(cl, c);
		else
			bad_method(c, "GET");
	} else if (is(segs[0], "_cat") && n >= 2) {
		if (!get)
			bad_method(c, "GET");
		else if (is(segs[1], "nodes") && n == 2)
			cat_nodes(cl, c);
		else if (is(segs[1], "shards") && n <= 3)
			cat_shards(cl, c, n == 3 ? segs[2] : NULL);
		else if (is(segs[1], "plugins") && n == 2)
			cat_plugins(cl, c);
		else if (is(segs[1], "indices") && n <= 3)
			cat_indices(cl, c, n == 3 ? segs[2] : NULL);
		else if (is(segs[1], "master") && n == 2)
			cat_master(cl, c);
		else if (is(segs[1], "health") && n == 2)
			cat_health(cl, c);
		else if (is(segs[1], "allocation") && n <= 3)
			cat_allocation(cl, c, n == 3 ? segs[2] : NULL);
		else
			no_handler(c);
	} else if (is(segs[0], "_nodes") &&
		   ((n == 2 && is(segs[1], "shutdown")) || (n == 3 && is(segs[2], "shutdown")))) {
		if (vcode < 71300)
			no_handler(c);
		else
			shutdown_api(cl, c, n == 3 ? segs[1] : NULL);
	} else if (is(segs[0], "_nodes") && n >= 2 && n <= 4 &&
		   (is(segs[1], "stats") || (n >= 3 && is(segs[2], "stats")))) {
		bool first = is(segs[1], "stats");
		if (!get)
			bad_method(c, "GET");
		else if (first && n > 3)
			no_handler(c);
		else
			nodes_stats(cl, c, first ? NULL : segs[1],
				    first ? (n == 3 ? segs[2] : NULL) : (n == 4 ? segs[3] : NULL),
				    pod);
	} else if (is(segs[0], "_nodes") && n <= 3) {
		if (!get) {
			no_handler(c);
		} else {
			/* /_nodes/{node_id} or /_nodes/{metric}: a metric name is not a filter. */
			static const char *metrics[] = {"settings", "os",	    "process",
							"jvm",	    "thread_pool",  "transport",
							"http",	    "plugins",	    "ingest",
							"indices",  "aggregations", "_all"};
			const char *filter = n >= 2 ? segs[1] : NULL;
			for (size_t i = 0; filter && n == 2 && i < ARRAY_SIZE(metrics); i++) {
				if (!strcmp(filter, metrics[i]))
					filter = NULL;
			}
			nodes_info(cl, c, filter, pod);
		}
	} else if (is(segs[0], "_snapshot") && n <= 4) {
		snapshot_api(cl, c, pod, segs, n);
	} else if (n == 1 && is(segs[0], "_dangling") && vcode >= 70900) {
		if (get)
			dangling_list(cl, c);
		else
			bad_method(c, "GET");
	} else if (get && n <= 2 && is(segs[n - 1], "_recovery")) {
		recovery_api(cl, c, n == 2 ? segs[0] : NULL);
	} else if (get && n <= 2 && is(segs[n - 1], "_count")) {
		count_docs(cl, c, n == 2 ? segs[0] : NULL);
	} else if (is(m, "POST") && n == 2 && segs[0][0] != '_' &&
		   ((is(segs[1], "_doc") && vcode >= 60000) ||
		    (segs[1][0] != '_' && vcode < 80000))) {
		index_doc(cl, c, pod, segs[0], segs[1]);
	} else if (n == 3 && segs[0][0] != '_' && is(segs[1], "_block") && vcode >= 70900) {
		if (is(m, "PUT"))
			add_block(cl, c, segs[0], segs[2]);
		else
			bad_method(c, "PUT");
	} else if (get && n == 2 && is(segs[1], "_settings")) {
		index_settings(cl, c, segs[0], false);
	} else if (n == 1 && get && is(segs[0], "_all")) {
		index_settings(cl, c, segs[0], true);
	} else if (n == 1 && segs[0][0] != '_') {
		if (is(m, "PUT"))
			create_index(cl, c, pod, segs[0]);
		else if (is(m, "DELETE"))
			delete_index(cl, c, segs[0]);
		else if (get)
			index_settings(cl, c, segs[0], true);
		else
			bad_method(c, "GET,PUT,DELETE,HEAD");
	} else {
		no_handler(c);
	}
done:
	for (int i = 0; i < n; i++)
		free(segs[i]);
	free(copy);
}

/* The proxy's scheme against the node's HTTP: plain HTTP to a TLS port is
 * closed by Elasticsearch ("received plaintext http traffic on an https
 * channel, closing connection"), a TLS handshake to a plain port fails in
 * the API server's transport; either is its error responder's 503
 * (staging/src/k8s.io/apimachinery/pkg/util/proxy/upgradeaware.go).
 * Answers and returns false on a mismatch. */
static bool proxy_scheme_ok(struct es_cluster *cl, struct call *c, const char *pod, bool https)
{
	struct es_node *n = node_by_pod(cl, pod);
	bool tls = n && n->security && file_bool(n->file, "xpack.security.http.ssl.enabled", false);
	if (tls == https)
		return true;
	call_reply_json(c, 503,
			json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status",
				  "apiVersion", "v1", "metadata", "status", "Failure", "message",
				  tls ? "error trying to reach service: EOF"
				      : "error trying to reach service: tls: first record does not "
					"look like a TLS handshake",
				  "reason", "ServiceUnavailable", "code", 503));
	return false;
}

void sim_es_proxy(struct call *c, const char *ns, const char *pod, const char *path, bool https)
{
	char *user = NULL;
	struct es_cluster *cl = cluster_find(ns);
	if (!cl) {
		sim_es_tick();
		cl = cluster_find(ns);
	}
	if (!cl) {
		call_reply_json(c, 503,
				json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status",
					  "apiVersion", "v1", "metadata", "status", "Failure",
					  "message", "no endpoints available", "reason",
					  "ServiceUnavailable", "code", 503));
		return;
	}
	if (cl->alongside && node_by_pod(cl->alongside, pod)) {
		/* A node of the second cluster answers as a node of that one. */
		free(c->proxy_path);
		c->proxy_path = xstrdup(path);
		if (proxy_scheme_ok(cl->alongside, c, pod, https) &&
		    authenticate(cl->alongside, c, pod, path, NULL, &user)) {
			dispatch(cl->alongside, c, pod, path, user);
			free(user);
		}
		return;
	}
	if (!node_by_pod(cl, pod)) {
		/* Ready, but not an Elasticsearch node: the proxy cannot connect. */
		call_reply_json(c, 503,
				json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status",
					  "apiVersion", "v1", "metadata", "status", "Failure",
					  "message",
					  "error trying to reach service: dial tcp: connect: "
					  "connection refused",
					  "reason", "ServiceUnavailable", "code", 503));
		return;
	}
	free(c->proxy_path);
	c->proxy_path = xstrdup(path);
	/* The API server takes the Authorization header off every request it
	 * has authenticated, before the proxy sends it on
	 * (staging/src/k8s.io/apiserver/pkg/endpoints/filters/authentication.go,
	 * WithAuthentication: "authorization header is not required anymore"),
	 * so a node with security on never sees credentials this way. */
	if (proxy_scheme_ok(cl, c, pod, https) && authenticate(cl, c, pod, path, NULL, &user)) {
		dispatch(cl, c, pod, path, user);
		free(user);
	}
}

/* The content of a file of pod under the Elasticsearch config folder
 * (path relative to it, as elasticsearch.yml names it), read from the
 * Secret volume mounted there; NULL if none holds it.  The caller frees it. */
static char *config_file_from_secret(const json_t *pod, const char *path)
{
	const char *ns = json_str(json_object_get(pod, "metadata"), "namespace");
	char *full = path[0] == '/' ? xstrdup(path)
				    : xasprintf("/usr/share/elasticsearch/config/%s", path);
	json_t *spec = json_object_get(pod, "spec");
	char *out = NULL;
	size_t i, j, k;
	json_t *ct, *m, *v;
	json_array_foreach (json_object_get(spec, "containers"), i, ct) {
		json_array_foreach (json_object_get(ct, "volumeMounts"), j, m) {
			const char *at = json_str(m, "mountPath");
			size_t n = at ? strlen(at) : 0;
			if (out || !at || strncmp(full, at, n) != 0 || full[n] != '/')
				continue;
			const char *file = full + n + 1;
			json_array_foreach (json_object_get(spec, "volumes"), k, v) {
				const char *secret =
					json_str(json_object_get(v, "secret"), "secretName");
				if (!secret || !json_str(m, "name") ||
				    strcmp(json_str(v, "name"), json_str(m, "name")) != 0)
					continue;
				/* items map keys to paths; without them every key is a file. */
				const char *key = file;
				size_t q;
				json_t *it;
				json_t *items =
					json_object_get(json_object_get(v, "secret"), "items");
				if (json_array_size(items) > 0) {
					key = NULL;
					json_array_foreach (items, q, it)
						if (json_str(it, "path") &&
						    !strcmp(json_str(it, "path"), file))
							key = json_str(it, "key");
				}
				struct store_obj *o =
					key ? store_get(store_kind_by_plural("secrets"), ns, secret)
					    : NULL;
				const char *b64 =
					o ? json_str(json_object_get(o->body, "data"), key) : NULL;
				unsigned char *raw = NULL;
				size_t len = 0;
				if (b64 && base64_decode(b64, strlen(b64), &raw, &len, NULL))
					out = xstrndup((const char *)raw, len);
				free(raw);
			}
		}
	}
	free(full);
	return out;
}

bool sim_es_http_tls(const char *ns, char **cert_pem, char **key_pem)
{
	struct es_cluster *cl = cluster_find(ns);
	*cert_pem = *key_pem = NULL;
	for (size_t i = 0; cl && i < cl->nnodes; i++) {
		struct es_node *n = cl->nodes[i];
		const char *cert = json_str(n->file, "xpack.security.http.ssl.certificate");
		const char *key = json_str(n->file, "xpack.security.http.ssl.key");
		if (!n->present || !n->security || !cert || !key ||
		    !file_bool(n->file, "xpack.security.http.ssl.enabled", false))
			continue;
		struct store_obj *pod = store_get(store_kind_by_plural("pods"), ns, n->pod);
		if (!pod)
			continue;
		*cert_pem = config_file_from_secret(pod->body, cert);
		*key_pem = config_file_from_secret(pod->body, key);
		if (*cert_pem && *key_pem)
			return true;
		free(*cert_pem);
		free(*key_pem);
		*cert_pem = *key_pem = NULL;
	}
	return false;
}

void sim_es_direct(struct call *c, const char *ns, const char *pod, const char *path,
		   const char *authorization)
{
	char *user = NULL;
	struct es_cluster *cl = cluster_find(ns);
	struct es_node *n = cl ? node_by_pod(cl, pod) : NULL;
	if (!n || !n->present) {
		call_reply_json(c, 502,
				json_pack("{s:s}", "error",
					  "connect: connection refused (no Elasticsearch node runs "
					  "in this pod)"));
		return;
	}
	free(c->proxy_path);
	c->proxy_path = xstrdup(path);
	if (authenticate(cl, c, pod, path, authorization, &user)) {
		dispatch(cl, c, pod, path, user);
		free(user);
	}
}

json_t *sim_es_state(void)
{
	json_t *out = json_object();
	for (struct es_cluster *cl = clusters; cl; cl = cl->next) {
		struct health h;
		compute_health(cl, NULL, &h);
		json_t *o = health_json(cl, &h, false);
		json_object_del(o, "timed_out");
		json_object_set_new(o, "version", json_string(cluster_version(cl)));
		json_object_set_new(o, "master",
				    cl->master ? json_string(cl->master) : json_null());
		json_object_set_new(o, "voting_config", json_deep_copy(cl->voting_config));
		json_object_set_new(o, "voting_exclusions", json_deep_copy(cl->voting_exclusions));
		json_t *nodes = json_array();
		for (size_t i = 0; i < cl->nnodes; i++) {
			if (cl->nodes[i]->present)
				json_array_append_new(nodes, json_string(cl->nodes[i]->name));
		}
		json_object_set_new(o, "nodes", nodes);
		json_object_set_new(o, "persistent", json_deep_copy(cl->persistent));
		json_object_set_new(o, "transient", json_deep_copy(cl->transient));
		json_object_set_new(o, "health_reads", json_integer(cl->health_reads));
		/* Who authenticated its REST requests: user -> count. */
		json_object_set_new(o, "authenticated", json_deep_copy(cl->authenticated));
		/* Requests held until something happens (a health wait, a
		 * document for an unavailable shard, ...). */
		json_int_t held = 0;
		for (struct es_wait *w = waits; w; w = w->next)
			held += !strcmp(w->ns, cl->ns);
		json_object_set_new(o, "held_requests", json_integer(held));
		json_object_set_new(o, "cluster_uuid",
				    cl->uuid ? json_string(cl->uuid) : json_null());
		json_t *al = json_null();
		if (cl->alongside) {
			json_t *anodes = json_array();
			for (size_t i = 0; i < cl->alongside->nnodes; i++)
				json_array_append_new(anodes,
						      json_string(cl->alongside->nodes[i]->name));
			al = json_pack("{s:s?, s:s?, s:o}", "cluster_uuid", cl->alongside->uuid,
				       "master", cl->alongside->master, "nodes", anodes);
		}
		json_object_set_new(o, "alongside", al);
		json_object_set_new(out, cl->ns, o);
	}
	return out;
}

void sim_es_init(struct event_base *base)
{
	es_base = base;
	clusters = NULL;
	waits = NULL;
}

void sim_es_free(void)
{
	while (installs) {
		struct plugin_install *in = installs;
		installs = in->next_install;
		install_free(in);
	}
	httpc_free(plugin_http);
	plugin_http = NULL;
	json_decref(pod_plugins);
	pod_plugins = NULL;
	while (waits) {
		struct es_wait *w = waits;
		waits = w->next;
		call_free(w->c);
		wait_free(w);
	}
	while (clusters) {
		struct es_cluster *cl = clusters;
		clusters = cl->next;
		cluster_free(cl);
	}
	json_decref(shared_folders);
	shared_folders = NULL;
}

/*
 * ECK restarts a node only when no shard initializes or relocates and
 * every primary it holds has a started copy elsewhere
 * (pkg/controller/elasticsearch/driver/stateful/upgrade_predicates.go:
 * require_started_replica, if_yellow_only_restart_upgrading_nodes_with_
 * unassigned_replicas): what a deletion breaks of that is recorded.
 */
json_t *sim_es_pod_cost(const char *ns, const char *pod)
{
	struct es_cluster *cl = cluster_find(ns);
	struct es_node *n = cl ? node_by_pod(cl, pod) : NULL;
	if (!n || !n->present)
		return NULL;
	struct health h;
	compute_health(cl, NULL, &h);
	json_t *sole = json_array();
	for (size_t i = 0; i < cl->nindices; i++) {
		struct es_index *ix = cl->indices[i];
		for (int s = 0; s < ix->nshards; s++) {
			struct es_shard *sh = &ix->shards[s];
			bool here = false, elsewhere = false;
			for (int k = 0; k < sh->ncopies; k++) {
				struct es_copy *cp = &sh->copies[k];
				bool active =
					cp->state == COPY_STARTED || cp->state == COPY_RELOCATING;
				if (!active || !cp->node)
					continue;
				if (!strcmp(cp->node, n->name))
					here = here || cp->primary;
				else
					elsewhere = true;
			}
			if (here && !elsewhere)
				json_array_append_new(sole, json_sprintf("%s/%d", ix->name, s));
		}
	}
	return json_pack("{s:i, s:i, s:o}", "initializing", h.initializing, "relocating",
			 h.relocating, "sole_primaries", sole);
}

bool sim_es_available(const char *ns)
{
	struct es_cluster *cl = cluster_find(ns);
	return cl && cl->master;
}
