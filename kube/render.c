/*
 * Rendering a cluster spec into Kubernetes objects: names, labels,
 * elasticsearch.yml, the init containers' scripts, pods, workloads,
 * services and budgets, the checks of esaasd's side, and the wipe pods.
 * The namespace's quota is in render_quota.c, objects into YAML in
 * render_yaml.c; what they share in render_internal.h.
 *
 * Version differences (discovery key, quorum settings, roles, plugin
 * command, image) are asked of es/version.h; this file only places the
 * answers.  Every object is built with jansson in the key order a person
 * would write it, so the YAML reads like a hand-written manifest.
 */
#include "kube/render_internal.h"
#include "common/json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>

#define NAMESPACE_MAX 60  /* so that "es-<namespace>" is a 63-character label */
#define LABEL_KEY_MAX 316 /* a 253-character prefix, '/', a 63-character name */
#define TERMINATION_GRACE_S 120

const struct pod_resources render_kibana_resources = {"500m", "1", "1Gi", "1Gi"};
/* find and rm need little; the CPU limit keeps a large folder's removal
 * from taking long. */
const struct pod_resources render_wipe_resources = {"100m", "500m", "64Mi", "128Mi"};

static const char *const config_names[ES_ROLE_COUNT] = {
	[ES_ROLE_MASTER] = "es-master-config",
	[ES_ROLE_DATA] = "es-data-config",
	[ES_ROLE_CLIENT] = "es-client-config",
};

static const char *const workload_names[ES_ROLE_COUNT] = {
	[ES_ROLE_MASTER] = "es-master",
	[ES_ROLE_DATA] = "es-data",
	[ES_ROLE_CLIENT] = "es-client",
};

/* --- names ---------------------------------------------------------------- */

/*
 * A cluster's namespace must name one (tenant, cluster) pair only: apply is
 * forced, so a namespace two pairs share is one tenant's cluster taken
 * over by the other.  "es-<tenant>-<cluster>" alone is ambiguous (tenant
 * "a" with cluster "b-c" and tenant "a-b" with "c") and too long for two
 * names near their limits.  So it is kept, for people to read, only where
 * it can be read one way: the tenant has no '-' (the first '-' after "es-"
 * ends it), the name fits, and it does not end like the other form.  Any
 * other pair gets "es-<cluster>-<h>", h the first ten hex digits of the
 * SHA-256 of "<tenant>/<cluster>" ('/' is in neither name): the cluster
 * stays readable, and two tenants' clusters of one name differ by h.  The
 * two forms never meet (only the second ends in '-' and ten hex digits),
 * and the second fits: 3 + 40 + 1 + 10 characters.  The database's
 * unique index on the stored namespace refuses the improbable clash of two
 * h (storage/migrations/0008_namespace.sql).
 */
#define NAMESPACE_HASH_HEX 10

static bool ends_like_hashed(const char *name)
{
	size_t n = strlen(name);

	if (n < NAMESPACE_HASH_HEX + 1 || name[n - NAMESPACE_HASH_HEX - 1] != '-')
		return false;
	for (const char *p = name + n - NAMESPACE_HASH_HEX; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

char *render_namespace(const char *tenant, const char *cluster)
{
	char *plain = xasprintf("es-%s-%s", tenant, cluster);

	if (!strchr(tenant, '-') && strlen(plain) <= NAMESPACE_MAX && !ends_like_hashed(plain))
		return plain;
	free(plain);

	char *pair = xasprintf("%s/%s", tenant, cluster);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1] = "";

	/* Fails only without memory, which aborts everywhere else too. */
	if (EVP_Digest(pair, strlen(pair), md, &mdlen, EVP_sha256(), NULL) != 1) {
		fprintf(stderr, "esaas: SHA-256 failed in libcrypto\n");
		abort();
	}
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	free(pair);
	return xasprintf("es-%s-%.*s", cluster, NAMESPACE_HASH_HEX, hex);
}

char *render_cluster_namespace(const struct spec *spec, const struct render_opts *opts)
{
	if (opts->ns && opts->ns[0])
		return xstrdup(opts->ns);
	return render_namespace(opts->tenant ? opts->tenant : "", spec->name);
}

char *render_headless_service(const char *ns)
{
	return xasprintf("es-%s", ns);
}

const char *render_workload_name(enum es_role role)
{
	return workload_names[role];
}

/*
 * Every role is a StatefulSet: stable pod names are the node names that
 * cluster.initial_master_nodes and voting exclusions speak of, a scale-down
 * removes the highest ordinals (the nodes a workflow drained), and the
 * OnDelete strategy lets no template change restart a node by itself.
 */
const char *render_workload_kind(enum es_role role)
{
	(void)role;
	return "StatefulSet";
}

/* Masters keep the cluster state and data nodes their shards; clients
 * keep nothing worth a host folder. */
static bool keeps_data(enum es_role role)
{
	return role != ES_ROLE_CLIENT;
}

const char *render_config_name(enum es_role role)
{
	return config_names[role];
}

char *render_selector(const char *cluster, enum es_role role)
{
	return xasprintf("%s=%s,%s=%s", RENDER_LABEL_CLUSTER, cluster, RENDER_LABEL_ROLE,
			 es_role_name(role));
}

char *render_node_name(const char *pod, const char *ns)
{
	return xasprintf("%s-%s", pod, ns);
}

json_t *render_find(json_t *objects, const char *kind, const char *name)
{
	size_t i;
	json_t *obj;

	json_array_foreach (objects, i, obj) {
		const char *k = json_str(obj, "kind");
		const char *n = json_str(json_object_get(obj, "metadata"), "name");

		if (k && n && strcmp(k, kind) == 0 && strcmp(n, name) == 0)
			return obj;
	}
	return NULL;
}

/*
 * Apply is forced, and a delete takes everything in the namespace: esaas
 * acts on a namespace only when it is the cluster's own.  The id label
 * says so; a namespace made before it existed is the cluster's when it
 * is esaas's and its tenant and cluster labels are this cluster's (a pair
 * that names one cluster).  The other tenant's names are left out of why:
 * it reaches the tenant of this job.
 */
enum render_ns_owner render_namespace_owner(json_t *ns, const char *tenant, const char *cluster,
					    int64_t cluster_id, char *why, size_t whylen)
{
	json_t *meta = json_object_get(ns, "metadata");
	json_t *l = json_object_get(meta, "labels");
	const char *name = json_str(meta, "name");
	const char *id = json_str(l, RENDER_LABEL_CLUSTER_ID);
	const char *managed = json_str(l, "app.kubernetes.io/managed-by");
	const char *t = json_str(l, RENDER_LABEL_TENANT);
	const char *c = json_str(l, RENDER_LABEL_CLUSTER);
	char mine[24];

	snprintf(mine, sizeof(mine), "%lld", (long long)cluster_id);
	if (id && cluster_id > 0 && strcmp(id, mine) == 0)
		return RENDER_NS_OURS;
	if (id) {
		snprintf(
			why, whylen,
			"namespace %s belongs to another cluster (%s=%.24s, this cluster's is %s): "
			"nothing was applied or deleted",
			name ? name : "?", RENDER_LABEL_CLUSTER_ID, id,
			cluster_id > 0 ? mine : "none");
		return RENDER_NS_OTHER;
	}
	if (managed && strcmp(managed, "esaas") == 0 && t && strcmp(t, tenant) == 0 && c &&
	    strcmp(c, cluster) == 0)
		return RENDER_NS_ADOPT;
	snprintf(why, whylen,
		 "namespace %s is not this cluster's: it has no %s label, and %s: nothing was "
		 "applied or deleted",
		 name ? name : "?", RENDER_LABEL_CLUSTER_ID,
		 !managed || strcmp(managed, "esaas") != 0
			 ? "esaas does not manage it (app.kubernetes.io/managed-by)"
			 : "its " RENDER_LABEL_TENANT " and " RENDER_LABEL_CLUSTER
			   " labels name another cluster");
	return RENDER_NS_OTHER;
}

/* --- labels ------------------------------------------------------------- */

/*
 * The objects esaas applies carry the cluster's id, by which it knows its
 * own namespace from another cluster's (render_namespace_owner()).  Pod
 * templates do not: a changed template is a new revision of every
 * workload of the clusters made before the label, for nothing.
 */
static void add_cluster_id(const struct ctx *c, json_t *l)
{
	if (c->opts->cluster_id > 0)
		json_object_set_new(l, RENDER_LABEL_CLUSTER_ID,
				    json_sprintf("%lld", (long long)c->opts->cluster_id));
}

/* The labels of the cluster's objects; role < 0 for the cluster-wide
 * ones (Namespace), pod adds the version, which may change. */
static json_t *labels(const struct ctx *c, int role, bool pod)
{
	json_t *l = json_object();

	json_object_set_new(l, "app.kubernetes.io/name", json_string("elasticsearch"));
	json_object_set_new(l, "app.kubernetes.io/instance", json_string(c->spec->name));
	if (role >= 0)
		json_object_set_new(l, "app.kubernetes.io/component",
				    json_string(es_role_name(role)));
	if (pod)
		json_object_set_new(l, RENDER_LABEL_VERSION, json_string(c->version));
	json_object_set_new(l, "app.kubernetes.io/managed-by", json_string("esaas"));
	json_object_set_new(l, RENDER_LABEL_TENANT, json_string(c->opts->tenant));
	json_object_set_new(l, RENDER_LABEL_CLUSTER, json_string(c->spec->name));
	if (role >= 0)
		json_object_set_new(l, RENDER_LABEL_ROLE, json_string(es_role_name(role)));
	if (!pod)
		add_cluster_id(c, l);
	return l;
}

static json_t *match_labels(const struct ctx *c, enum es_role role)
{
	return json_pack("{s:s, s:s}", RENDER_LABEL_CLUSTER, c->spec->name, RENDER_LABEL_ROLE,
			 es_role_name(role));
}

json_t *render_metadata(const struct ctx *c, const char *name, int role)
{
	return json_pack("{s:s, s:s, s:o}", "name", name, "namespace", c->ns, "labels",
			 labels(c, role, false));
}

json_t *render_object(const char *api_version, const char *kind, json_t *meta)
{
	return json_pack("{s:s, s:s, s:o}", "apiVersion", api_version, "kind", kind, "metadata",
			 meta);
}

/* --- elasticsearch.yml -------------------------------------------------- */

/*
 * zen2 forms a new cluster only from the master-eligible nodes named here
 * (a majority of them must meet).  Once the cluster has formed, its state
 * on the masters' disks decides and the list is ignored by those masters;
 * but new masters with empty data folders that are a majority of it would
 * bootstrap a second cluster: it is rendered only when the caller names
 * the masters (the first formation), never by default (render.h).
 */
static json_t *initial_masters(const struct ctx *c)
{
	json_t *names = json_array();

	for (const char *const *n = c->opts->initial_master_nodes; n && *n; n++)
		json_array_append_new(names, json_string(*n));
	return names;
}

/* The tenant's folder of an NFS export, which the pods mount. */
static bool nfs_enabled(const struct render_opts *opts)
{
	return opts->snapshots_nfs_server && opts->snapshots_nfs_server[0] &&
	       opts->snapshots_nfs_path && opts->snapshots_nfs_path[0];
}

bool render_snapshots_enabled(const struct render_opts *opts)
{
	return nfs_enabled(opts) || (opts->s3 && opts->s3->bucket && opts->s3->bucket[0]);
}

static json_t *es_settings(const struct ctx *c, enum es_role role)
{
	const struct es_version *v = &c->spec->version;
	json_t *s = json_object();
	const char *key;
	json_t *value;

	/* The environment is the pod's, resolved by Elasticsearch when it
	 * reads the file, so one ConfigMap serves every pod of a role. */
	json_object_set_new(s, "cluster.name", json_string("elasticsearch-${NAMESPACE}"));
	json_object_set_new(s, "node.name", json_string("${POD_NAME}-${NAMESPACE}"));
	json_object_set_new(s, "network.host", json_string("${POD_IP}"));
	json_object_set_new(s, es_discovery_hosts_key(v), json_pack("[s]", "es-${NAMESPACE}"));
	if (es_coordination(v) == ES_ZEN1) {
		json_object_set_new(s, ES_MINIMUM_MASTER_NODES_KEY,
				    json_integer(es_minimum_master_nodes(
					    c->spec->nodes[ES_ROLE_MASTER].replicas)));
	} else if (role == ES_ROLE_MASTER && c->opts->initial_master_nodes) {
		json_object_set_new(s, ES_INITIAL_MASTER_NODES_KEY, initial_masters(c));
	}
	es_role_settings(v, role, es_image_has_xpack(v, c->image), s);
	if (nfs_enabled(c->opts))
		json_object_set_new(s, "path.repo", json_pack("[s]", RENDER_SNAPSHOTS_DIR));
	render_s3_settings(c, s);
	render_security_settings(c, s);
	/* Dynamic settings are written here too: they are the nodes'
	 * defaults from the first boot, and a config update then sets them
	 * through the cluster settings API, which takes precedence. */
	json_object_foreach (c->spec->config, key, value)
		json_object_set(s, key, value);
	return s;
}

static json_t *config_map(const struct ctx *c, enum es_role role, char *err, size_t errlen)
{
	json_t *settings = es_settings(c, role);
	json_t *cm;
	char *yml;

	if (!render_yaml_text(settings, false, &yml)) {
		json_decref(settings);
		snprintf(err, errlen, "%s: elasticsearch.yml could not be written as YAML",
			 config_names[role]);
		return NULL;
	}
	json_decref(settings);
	cm = render_object("v1", "ConfigMap", render_metadata(c, config_names[role], role));
	json_object_set_new(cm, "data", json_pack("{s:s}", "elasticsearch.yml", yml));
	free(yml);
	return cm;
}

/* --- scripts of the init containers ------------------------------------ */

/* s in single quotes for sh. */
static char *sh_quote(const char *s)
{
	size_t n = 2, used = 0;
	char *q;

	for (const char *p = s; *p; p++)
		n += *p == '\'' ? 4 : 1;
	q = xmalloc(n + 1);
	q[used++] = '\'';
	for (const char *p = s; *p; p++) {
		if (*p == '\'') {
			memcpy(q + used, "'\\''", 4);
			used += 4;
		} else {
			q[used++] = *p;
		}
	}
	q[used++] = '\'';
	q[used] = '\0';
	return q;
}

/*
 * Make the plugin volume hold exactly the listed plugins, built for this
 * version: remove what is no longer listed, keep what is installed for
 * this version, (re)install the rest from the repository.  The list is
 * the container's ES_PLUGINS (names separated by spaces), so it reads
 * plainly in the pod template.  The folder is an emptyDir: a new pod
 * installs them all, and a pod whose init containers run again (its
 * sandbox made again) keeps what is there.
 */
static char *plugins_script(const struct ctx *c)
{
	const struct es_version *v = &c->spec->version;
	const char *repo = c->opts->plugin_repo_url ? c->opts->plugin_repo_url : "";
	size_t n = strlen(repo);
	char *trimmed, *quoted, *url, *script;

	/* The URL is built by the shell, "$repo/$p-<version>.zip", with the
	 * version's own pattern. */
	while (n > 0 && repo[n - 1] == '/')
		n--;
	trimmed = xstrndup(repo, n);
	quoted = sh_quote(trimmed);
	free(trimmed);
	url = es_plugin_url(v, "$repo", "$p");
	script = xasprintf("set -eu\n"
			   "cd " ES_HOME "\n"
			   "repo=%s\n"
			   "for dir in plugins/*; do\n"
			   "    [ -d \"$dir\" ] || continue\n"
			   "    name=${dir#plugins/}\n"
			   "    case \" $ES_PLUGINS \" in\n"
			   "    *\" $name \"*) ;;\n"
			   "    *)\n"
			   "        echo \"removing plugin $name: no longer listed\"\n"
			   "        rm -rf \"$dir\"\n"
			   "        ;;\n"
			   "    esac\n"
			   "done\n"
			   "for p in $ES_PLUGINS; do\n"
			   "    if grep -qxF 'elasticsearch.version=%s' "
			   "\"plugins/$p/plugin-descriptor.properties\" 2>/dev/null; then\n"
			   "        echo \"plugin $p %s is installed\"\n"
			   "        continue\n"
			   "    fi\n"
			   "    rm -rf \"plugins/$p\"\n"
			   "    echo \"installing plugin $p %s\"\n"
			   "    %s \"%s\"\n"
			   "done\n",
			   quoted, c->version, c->version, c->version, es_plugin_install_command(v),
			   url);

	free(quoted);
	free(url);
	return script;
}

/*
 * Raise vm.max_map_count where it is too low: Elasticsearch's bootstrap
 * checks refuse to start otherwise
 * (https://www.elastic.co/guide/en/elasticsearch/reference/current/vm-max-map-count.html).
 * Only with kubernetes.tune_hosts, from a privileged container of the
 * utility image: by default the hosts are tuned beforehand.
 */
static const char sysctl_script[] =
	"set -eu\n"
	"if [ \"$(cat /proc/sys/vm/max_map_count)\" -lt 262144 ]; then\n"
	"    echo 262144 > /proc/sys/vm/max_map_count\n"
	"fi\n";

/*
 * Give the data folder to the user the images run Elasticsearch as,
 * 1000:0: the kubelet creates a DirectoryOrCreate hostPath root:root 0755
 * (https://kubernetes.io/docs/concepts/storage/volumes/#hostpath), and a
 * node that cannot write its data path does not start
 * (https://www.elastic.co/guide/en/elasticsearch/reference/current/docker.html).
 * Every role that keeps data needs it: masters keep the cluster state
 * there.  Only the folder itself: what is inside is the node's already.
 *
 * securityContext.fsGroup cannot do it: the kubelet applies fsGroup only
 * through volume plugins that manage ownership, and the hostPath plugin,
 * which the data PersistentVolumes are, does not (pkg/volume/hostpath/
 * host_path.go: its mounter's SetUp only checks the path's type; the
 * local plugin's calls volume.SetVolumeOwnership, pkg/volume/local/local.go,
 * but a local volume's folder must exist before it is used, and nothing
 * would make it).  So a root container does it, of esaas's utility image,
 * never the tenant's, with the CHOWN capability alone.
 */
static const char chown_script[] = "set -eu\n"
				   "chown 1000:0 " ES_HOME "/data\n";

/* --- pods --------------------------------------------------------------- */

static json_t *field_env(const char *name, const char *path)
{
	return json_pack("{s:s, s:{s:{s:s}}}", "name", name, "valueFrom", "fieldRef", "fieldPath",
			 path);
}

static json_t *resources(const struct spec_nodes *n);

json_t *render_node_resources(const struct ctx *c, enum es_role role)
{
	return resources(&c->spec->nodes[role]);
}

static json_t *resources(const struct spec_nodes *n)
{
	/* Limits equal to requests: the Guaranteed QoS class, last to be
	 * evicted when a host runs short. */
	return json_pack("{s:{s:s, s:s}, s:{s:s, s:s}}", "requests", "cpu", n->cpu, "memory",
			 n->memory, "limits", "cpu", n->cpu, "memory", n->memory);
}

static json_t *fixed_resources(const struct pod_resources *r)
{
	return json_pack("{s:{s:s, s:s}, s:{s:s, s:s}}", "requests", "cpu", r->cpu_request,
			 "memory", r->memory_request, "limits", "cpu", r->cpu_limit, "memory",
			 r->memory_limit);
}

static json_t *volume_mount(const char *name, const char *path)
{
	return json_pack("{s:s, s:s}", "name", name, "mountPath", path);
}

static json_t *host_volume(const char *name, const char *path)
{
	return json_pack("{s:s, s:{s:s, s:s}}", "name", name, "hostPath", "path", path, "type",
			 "DirectoryOrCreate");
}

/*
 * What the restricted Pod Security level asks of a container
 * (https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted):
 * a user who is not root, no privilege escalation, every capability
 * dropped, the runtime's seccomp profile.
 */
static json_t *restricted_context(int uid)
{
	return json_pack("{s:i, s:b, s:b, s:{s:[s]}, s:{s:s}}", "runAsUser", uid, "runAsNonRoot", 1,
			 "allowPrivilegeEscalation", 0, "capabilities", "drop", "ALL",
			 "seccompProfile", "type", "RuntimeDefault");
}

/*
 * The containers of the Elasticsearch image.  From 5.0 the images run
 * Elasticsearch, and bin/elasticsearch-plugin, as their own user, 1000
 * (https://www.elastic.co/guide/en/elasticsearch/reference/current/docker.html),
 * and lose nothing under the restricted level.  2.x's images start as root
 * and step down to their elasticsearch user in the entrypoint after a chown
 * of the data path (docker-library/elasticsearch, 2.4/docker-entrypoint.sh,
 * gosu), which needs root's default capabilities; bin/plugin runs as root
 * there too.  For 2.x, then, only no escalation and the seccomp profile.
 */
json_t *render_es_image_context(const struct ctx *c)
{
	if (c->spec->version.major < 5)
		return json_pack("{s:b, s:{s:s}}", "allowPrivilegeEscalation", 0, "seccompProfile",
				 "type", "RuntimeDefault");
	return restricted_context(RENDER_ES_UID);
}

static json_t *init_containers(const struct ctx *c, enum es_role role)
{
	const struct spec *s = c->spec;
	json_t *list = json_array();
	char *script, *names;

	if (c->opts->tune_hosts)
		json_array_append_new(
			list, json_pack("{s:s, s:s, s:[s, s, s], s:o, s:{s:i, s:b}}", "name",
					"sysctl", "image", c->utility_image, "command", "sh", "-c",
					sysctl_script, "resources", resources(&s->nodes[role]),
					"securityContext", "runAsUser", 0, "privileged", 1));
	if (keeps_data(role))
		json_array_append_new(
			list,
			json_pack(
				"{s:s, s:s, s:[s, s, s], s:o, s:{s:i, s:b, s:b, s:{s:[s], s:[s]}, "
				"s:{s:s}}, s:[o]}",
				"name", "prepare", "image", c->utility_image, "command", "sh", "-c",
				chown_script, "resources", resources(&s->nodes[role]),
				"securityContext", "runAsUser", 0, "runAsNonRoot", 0,
				"allowPrivilegeEscalation", 0, "capabilities", "drop", "ALL", "add",
				"CHOWN", "seccompProfile", "type", "RuntimeDefault", "volumeMounts",
				volume_mount("data", ES_HOME "/data")));

	names = xstrdup("");
	for (size_t i = 0; i < s->nplugins; i++) {
		char *more = xasprintf("%s%s%s", names, i ? " " : "", s->plugins[i]);

		free(names);
		names = more;
	}
	/* What the repository of the cluster's snapshots needs, unasked:
	 * installed as the spec's own are, after them. */
	const char *implied = render_s3_plugin(c);
	bool listed = false;
	for (size_t i = 0; implied && i < s->nplugins; i++)
		listed = listed || strcmp(s->plugins[i], implied) == 0;
	if (implied && !listed) {
		char *more = xasprintf("%s%s%s", names, names[0] ? " " : "", implied);

		free(names);
		names = more;
	}
	script = plugins_script(c);
	json_array_append_new(
		list,
		json_pack("{s:s, s:s, s:[s, s, s], s:[{s:s, s:s}], s:o, s:o, s:[o]}", "name",
			  "install-plugins", "image", c->image, "command", "sh", "-c", script,
			  "env", "name", "ES_PLUGINS", "value", names, "resources",
			  resources(&s->nodes[role]), "securityContext", render_es_image_context(c),
			  "volumeMounts", volume_mount("plugins", ES_HOME "/plugins")));
	free(script);
	free(names);
	return list;
}

static json_t *es_container(const struct ctx *c, enum es_role role)
{
	const struct spec_nodes *n = &c->spec->nodes[role];
	const char *heap_env = es_heap_size_env(&c->spec->version);
	json_t *env = json_array();
	json_t *mounts;
	char *java_opts = xasprintf("-Xms%s -Xmx%s", n->heap, n->heap);

	json_array_append_new(env, field_env("POD_NAME", "metadata.name"));
	json_array_append_new(env, field_env("POD_IP", "status.podIP"));
	json_array_append_new(env, field_env("NAMESPACE", "metadata.namespace"));
	json_array_append_new(env,
			      json_pack("{s:s, s:s}", "name", "ES_JAVA_OPTS", "value", java_opts));
	if (heap_env)
		json_array_append_new(env,
				      json_pack("{s:s, s:s}", "name", heap_env, "value", n->heap));
	free(java_opts);

	mounts = json_pack("[{s:s, s:s, s:s, s:b}, o]", "name", "config", "mountPath",
			   ES_HOME "/config/elasticsearch.yml", "subPath", "elasticsearch.yml",
			   "readOnly", 1, volume_mount("plugins", ES_HOME "/plugins"));
	if (keeps_data(role))
		json_array_append_new(mounts, volume_mount("data", ES_HOME "/data"));
	if (nfs_enabled(c->opts))
		json_array_append_new(mounts,
				      json_pack("{s:s, s:s, s:s}", "name", "snapshots", "mountPath",
						RENDER_SNAPSHOTS_DIR, "subPath", c->opts->tenant));

	/* Ready once HTTP listens; whether the node has joined is for the
	 * workflows to ask _cat/nodes, on every version alike.  A readiness
	 * probe only says whether to send traffic (a failing one restarts
	 * nothing), so it probes from the start and often: a TCP connect every
	 * RENDER_PROBE_PERIOD_S costs nothing, and every pod a rolling restart
	 * waits for is seen ready within that time of listening, not after an
	 * initial delay plus up to a period more. */
	return json_pack("{s:s, s:s, s:o, s:[{s:s, s:i, s:s}, {s:s, s:i, s:s}], s:o, s:{s:{s:i}, "
			 "s:i, s:i}, s:o, s:o}",
			 "name", "elasticsearch", "image", c->image, "env", env, "ports", "name",
			 "http", "containerPort", RENDER_HTTP_PORT, "protocol", "TCP", "name",
			 "transport", "containerPort", RENDER_TRANSPORT_PORT, "protocol", "TCP",
			 "resources", resources(n), "readinessProbe", "tcpSocket", "port",
			 RENDER_HTTP_PORT, "periodSeconds", RENDER_PROBE_PERIOD_S,
			 "failureThreshold", 3, "securityContext", render_es_image_context(c),
			 "volumeMounts", mounts);
}

static json_t *pod_template(const struct ctx *c, enum es_role role)
{
	const char *topology =
		c->spec->spread == SPEC_SPREAD_RACK ? c->rack_label : RENDER_HOST_LABEL;
	json_t *volumes = json_array();
	json_t *affinity;
	json_t *tmpl;

	json_array_append_new(volumes, json_pack("{s:s, s:{s:s}}", "name", "config", "configMap",
						 "name", config_names[role]));
	/* The plugins of this start, installed again at every start from the
	 * repository: an emptyDir, since a hostPath keeps a namespace from the
	 * baseline Pod Security level. */
	json_array_append_new(volumes, json_pack("{s:s, s:{}}", "name", "plugins", "emptyDir"));
	/* With claims, the data volume is the StatefulSet's claim template. */
	if (keeps_data(role) && c->opts->host_path_data) {
		char *data_path =
			xasprintf("%s/%s/%s/data", c->storage_root, c->ns, es_role_name(role));

		json_array_append_new(volumes, host_volume("data", data_path));
		free(data_path);
	}

	/* The tenant's snapshot folder: an NFS export every pod of every
	 * cluster mounts is one shared folder, which an fs repository needs
	 * (https://www.elastic.co/guide/en/elasticsearch/reference/7.17/snapshots-filesystem-repository.html);
	 * the baseline Pod Security level admits nfs volumes. */
	if (nfs_enabled(c->opts))
		json_array_append_new(volumes,
				      json_pack("{s:s, s:{s:s, s:s}}", "name", "snapshots", "nfs",
						"server", c->opts->snapshots_nfs_server, "path",
						c->opts->snapshots_nfs_path));
	/* No two nodes of one role in one failure domain: required, so a
	 * pod that cannot be placed stays Pending and says why. */
	affinity = json_pack("{s:{s:[{s:{s:o}, s:s}]}}", "podAntiAffinity",
			     "requiredDuringSchedulingIgnoredDuringExecution", "labelSelector",
			     "matchLabels", match_labels(c, role), "topologyKey", topology);

	json_t *container = es_container(c, role);
	json_t *inits = init_containers(c, role);
	render_security_es_pod(c, container, volumes);
	render_s3_es_pod(c, role, inits, container, volumes);
	tmpl = json_pack("{s:{s:o}, s:{s:o, s:b, s:i, s:o, s:[o], s:o}}", "metadata", "labels",
			 labels(c, role, true), "spec", "affinity", affinity, "enableServiceLinks",
			 0, "terminationGracePeriodSeconds", TERMINATION_GRACE_S, "initContainers",
			 inits, "containers", container, "volumes", volumes);
	return tmpl;
}

/* --- the data volumes: claims, PersistentVolumes, their StorageClass ------- */

/*
 * A master's or data node's data path is a PersistentVolume over the host
 * folder <root>/<namespace>/<role>/data, one per host and role, whose node
 * affinity names the host.  The StatefulSet's claim template makes a claim
 * per pod (data-es-data-0, ...), of the cluster's StorageClass, which has
 * no provisioner and binds WaitForFirstConsumer: the scheduler binds a
 * pod's claim when it first places the pod, to a volume on the node it
 * picks, and from then on the pod may only go where its volume is ("volume
 * node affinity conflict"), so a restarted pod finds its data again.
 * Required pod anti-affinity still spreads the pods over hosts or racks.
 * https://kubernetes.io/docs/concepts/storage/storage-classes/#local,
 * https://kubernetes.io/docs/concepts/storage/persistent-volumes/#node-affinity.
 *
 * The volumes are hostPath, type DirectoryOrCreate, so that the kubelet
 * makes the folder as before (a `local` volume needs it made first).
 * reclaimPolicy Retain: Kubernetes never removes the data; a delete with
 * wipe_data empties the folders, and every delete removes the cluster's
 * volumes and class, so that a later cluster of the same name gets new,
 * unbound ones over the same folders.
 *
 * Everything is named and labelled per cluster: the class is named as the
 * namespace, es-<tenant>-<cluster>, and a volume es-<tenant>-<cluster>-
 * <role>-<host>; the claims select the tenant, the cluster and the role.
 */
#define VOLUME_NAME_MAX 253 /* a DNS-1123 subdomain */
#define MASTER_DISK "1Gi"   /* the cluster state; a hostPath enforces no size */

static const char *disk_of(const struct ctx *c, enum es_role role)
{
	const char *d = c->spec->nodes[role].disk;
	return role == ES_ROLE_DATA && d ? d : MASTER_DISK;
}

static json_t *volume_labels(const struct ctx *c, enum es_role role)
{
	return json_pack("{s:s, s:s, s:s}", RENDER_LABEL_TENANT, c->opts->tenant,
			 RENDER_LABEL_CLUSTER, c->spec->name, RENDER_LABEL_ROLE,
			 es_role_name(role));
}

static json_t *claim_template(const struct ctx *c, enum es_role role)
{
	/* Claim templates cannot change on a live StatefulSet (422): those of
	 * clusters made before the id label keep their labels as they are. */
	json_t *l = labels(c, role, false);

	json_object_del(l, RENDER_LABEL_CLUSTER_ID);
	return json_pack("{s:{s:s, s:o}, s:{s:[s], s:s, s:{s:o}, s:{s:{s:s}}}}", "metadata", "name",
			 "data", "labels", l, "spec", "accessModes", "ReadWriteOnce",
			 "storageClassName", c->ns, "selector", "matchLabels",
			 volume_labels(c, role), "resources", "requests", "storage",
			 disk_of(c, role));
}

char *render_volume_name(const char *ns, enum es_role role, const char *host)
{
	char *name = xasprintf("%s-%s-%s", ns, es_role_name(role), host);

	if (strlen(name) > VOLUME_NAME_MAX) {
		/* A host name too long to fit: its FNV-1a hash stands for it. */
		uint64_t h = 1469598103934665603ULL;

		for (const char *p = host; *p; p++) {
			h ^= (unsigned char)*p;
			h *= 1099511628211ULL;
		}
		free(name);
		name = xasprintf("%s-%s-%016llx", ns, es_role_name(role), (unsigned long long)h);
	}
	return name;
}

static json_t *persistent_volume(const struct ctx *c, enum es_role role, const char *host)
{
	char *name = render_volume_name(c->ns, role, host);
	char *path = xasprintf("%s/%s/%s/data", c->storage_root, c->ns, es_role_name(role));
	json_t *pv = render_object(
		"v1", "PersistentVolume",
		json_pack("{s:s, s:o}", "name", name, "labels", labels(c, role, false)));

	json_object_set_new(
		pv, "spec",
		json_pack("{s:{s:s}, s:s, s:[s], s:s, s:s, s:{s:s, s:s}, s:{s:{s:[{s:[{s:s, "
			  "s:s, s:[s]}]}]}}}",
			  "capacity", "storage", disk_of(c, role), "volumeMode", "Filesystem",
			  "accessModes", "ReadWriteOnce", "persistentVolumeReclaimPolicy", "Retain",
			  "storageClassName", c->ns, "hostPath", "path", path, "type",
			  "DirectoryOrCreate", "nodeAffinity", "required", "nodeSelectorTerms",
			  "matchExpressions", "key", RENDER_HOST_LABEL, "operator", "In", "values",
			  host));
	free(path);
	free(name);
	return pv;
}

static json_t *storage_class(const struct ctx *c)
{
	json_t *sc = render_object(
		"storage.k8s.io/v1", "StorageClass",
		json_pack("{s:s, s:o}", "name", c->ns, "labels", labels(c, -1, false)));

	json_object_set_new(sc, "provisioner", json_string("kubernetes.io/no-provisioner"));
	json_object_set_new(sc, "reclaimPolicy", json_string("Retain"));
	json_object_set_new(sc, "volumeBindingMode", json_string("WaitForFirstConsumer"));
	return sc;
}

/* --- workloads, services, budgets -------------------------------------- */

static json_t *stateful_set(const struct ctx *c, enum es_role role)
{
	const struct spec_nodes *n = &c->spec->nodes[role];
	json_t *meta = render_metadata(c, workload_names[role], role);
	json_t *sts;

	/* A hostPath has no size: the disk asked for is recorded, for people
	 * and for placement decisions, not enforced. */
	if (role == ES_ROLE_DATA)
		json_object_set_new(meta, "annotations",
				    json_pack("{s:s}", "esaas.io/disk", n->disk));
	sts = render_object("apps/v1", "StatefulSet", meta);
	/* Parallel: masters must start together to form a cluster.  OnDelete:
	 * a template change restarts no node by itself; the safe rolling
	 * restart deletes them one at a time. */
	json_object_set_new(sts, "spec",
			    json_pack("{s:s, s:i, s:s, s:{s:s}, s:{s:o}, s:o}", "serviceName",
				      c->headless, "replicas", n->replicas, "podManagementPolicy",
				      "Parallel", "updateStrategy", "type", "OnDelete", "selector",
				      "matchLabels", match_labels(c, role), "template",
				      pod_template(c, role)));
	if (keeps_data(role) && !c->opts->host_path_data)
		json_object_set_new(json_object_get(sts, "spec"), "volumeClaimTemplates",
				    json_pack("[o]", claim_template(c, role)));
	return sts;
}

static json_t *headless_service(const struct ctx *c)
{
	json_t *svc =
		render_object("v1", "Service", render_metadata(c, c->headless, ES_ROLE_MASTER));

	/* Not-ready addresses too: masters must find each other before any
	 * of them is ready. */
	json_object_set_new(
		svc, "spec",
		json_pack("{s:s, s:b, s:o, s:[{s:s, s:s, s:i, s:i}, {s:s, s:s, s:i, s:i}]}",
			  "clusterIP", "None", "publishNotReadyAddresses", 1, "selector",
			  match_labels(c, ES_ROLE_MASTER), "ports", "name", "transport", "protocol",
			  "TCP", "port", RENDER_TRANSPORT_PORT, "targetPort", RENDER_TRANSPORT_PORT,
			  "name", "http", "protocol", "TCP", "port", RENDER_HTTP_PORT, "targetPort",
			  RENDER_HTTP_PORT));
	return svc;
}

/*
 * A node port opens the Service on every node's address, past the
 * namespace's NetworkPolicies as far as most network plugins go (the
 * source is rewritten to the node's): only where the spec asks for it.
 */
static const char *service_type(const struct ctx *c)
{
	return c->spec->network.node_port ? "NodePort" : "ClusterIP";
}

static json_t *http_service(const struct ctx *c)
{
	/* Without clients the data nodes take the HTTP traffic, so a cluster
	 * always has an endpoint. */
	enum es_role role =
		c->spec->nodes[ES_ROLE_CLIENT].replicas > 0 ? ES_ROLE_CLIENT : ES_ROLE_DATA;
	json_t *svc = render_object("v1", "Service", render_metadata(c, RENDER_HTTP_SERVICE, role));

	json_object_set_new(svc, "spec",
			    json_pack("{s:s, s:o, s:[{s:s, s:s, s:i, s:i}]}", "type",
				      service_type(c), "selector", match_labels(c, role), "ports",
				      "name", "http", "protocol", "TCP", "port", RENDER_HTTP_PORT,
				      "targetPort", RENDER_HTTP_PORT));
	return svc;
}

/*
 * One disruption at a time per role, none for a role of a single node: a
 * drain evicting the only master or the only data node takes the cluster
 * down (ECK allows none either with a single master or data node:
 * pkg/controller/elasticsearch/pdb/reconcile_default.go,
 * allowedDisruptionsForRole).  Held, none at all: the health sweep holds
 * the budgets while the cluster is not green or a job has a node down.
 */
static json_t *disruption_budget(const struct ctx *c, enum es_role role, bool hold)
{
	json_t *pdb = render_object("policy/v1", "PodDisruptionBudget",
				    render_metadata(c, workload_names[role], role));
	int max_unavailable = hold || c->spec->nodes[role].replicas <= 1 ? 0 : 1;

	json_object_set_new(pdb, "spec",
			    json_pack("{s:i, s:{s:o}}", "maxUnavailable", max_unavailable,
				      "selector", "matchLabels", match_labels(c, role)));
	return pdb;
}

json_t *render_disruption_budget(const struct spec *spec, const struct render_opts *opts,
				 enum es_role role, bool hold)
{
	struct ctx c;
	json_t *pdb;

	memset(&c, 0, sizeof(c));
	c.spec = spec;
	c.opts = opts;
	es_version_format(&spec->version, c.version, sizeof(c.version));
	c.ns = render_namespace(opts->tenant ? opts->tenant : "", spec->name);
	pdb = disruption_budget(&c, role, hold);
	free(c.ns);
	return pdb;
}

/*
 * Kibana, when the spec asks for it: a Deployment (it keeps nothing, so it
 * may roll by itself) of the cluster's version, wired to the es-http
 * Service, and its own NodePort Service.  Ready once it listens.  It rolls
 * one pod at a time without a surge pod, so a roll needs no more than the
 * namespace's quota holds.
 */
/*
 * Kibana's images run it as their kibana user, 1000, from 5.0
 * (https://www.elastic.co/guide/en/kibana/current/docker.html); Kibana 4,
 * 2.x's, as the official image's entrypoint chooses (root stepping down
 * with gosu), so there only no escalation.
 */
static json_t *kibana_context(const struct ctx *c)
{
	return render_es_image_context(c);
}

static json_t *kibana_deployment(const struct ctx *c)
{
	char *image = es_kibana_image(&c->spec->version, c->opts->image_registry);
	char *url = render_security_es_url(c);
	json_t *lab = labels(c, -1, true);
	json_t *match = json_pack("{s:s, s:s}", RENDER_LABEL_CLUSTER, c->spec->name,
				  RENDER_LABEL_ROLE, RENDER_KIBANA_ROLE);
	json_t *d;

	json_object_set_new(lab, RENDER_LABEL_ROLE, json_string(RENDER_KIBANA_ROLE));
	json_object_set_new(lab, "app.kubernetes.io/name", json_string("kibana"));
	json_t *meta_lab = json_deep_copy(lab);
	add_cluster_id(c, meta_lab);
	d = render_object("apps/v1", "Deployment",
			  json_pack("{s:s, s:s, s:o}", "name", RENDER_KIBANA_NAME, "namespace",
				    c->ns, "labels", meta_lab));
	json_object_set_new(
		d, "spec",
		json_pack("{s:i, s:{s:o}, s:{s:s, s:{s:i, s:i}}, s:{s:{s:o}, s:{s:b, s:[{s:s, "
			  "s:s, s:[{s:s, s:s}], s:[{s:s, s:i, s:s}], s:o, s:{s:{s:i}, s:i}, "
			  "s:o}]}}}",
			  "replicas", c->spec->kibana_replicas, "selector", "matchLabels", match,
			  "strategy", "type", "RollingUpdate", "rollingUpdate", "maxSurge", 0,
			  "maxUnavailable", 1, "template", "metadata", "labels", lab, "spec",
			  "enableServiceLinks", 0, "containers", "name", "kibana", "image", image,
			  "env", "name", es_kibana_hosts_env(&c->spec->version), "value", url,
			  "ports", "name", "http", "containerPort", RENDER_KIBANA_PORT, "protocol",
			  "TCP", "resources", fixed_resources(&render_kibana_resources),
			  "readinessProbe", "tcpSocket", "port", RENDER_KIBANA_PORT,
			  "periodSeconds", RENDER_PROBE_PERIOD_S, "securityContext",
			  kibana_context(c)));
	if (render_security_on(c)) {
		json_t *pod = json_object_get(
			json_object_get(json_object_get(d, "spec"), "template"), "spec");
		json_t *volumes = json_array();
		render_security_kibana_pod(c, json_array_get(json_object_get(pod, "containers"), 0),
					   volumes);
		json_object_set_new(pod, "volumes", volumes);
	}
	free(url);
	free(image);
	return d;
}

static json_t *kibana_service(const struct ctx *c)
{
	json_t *lab = labels(c, -1, false);
	json_t *svc;

	json_object_set_new(lab, RENDER_LABEL_ROLE, json_string(RENDER_KIBANA_ROLE));
	json_object_set_new(lab, "app.kubernetes.io/name", json_string("kibana"));
	svc = render_object("v1", "Service",
			    json_pack("{s:s, s:s, s:o}", "name", RENDER_KIBANA_NAME, "namespace",
				      c->ns, "labels", lab));
	json_object_set_new(svc, "spec",
			    json_pack("{s:s, s:{s:s, s:s}, s:[{s:s, s:s, s:i, s:i}]}", "type",
				      service_type(c), "selector", RENDER_LABEL_CLUSTER,
				      c->spec->name, RENDER_LABEL_ROLE, RENDER_KIBANA_ROLE, "ports",
				      "name", "http", "protocol", "TCP", "port", RENDER_KIBANA_PORT,
				      "targetPort", RENDER_KIBANA_PORT));
	return svc;
}

/*
 * The strictest Pod Security level the pods pass
 * (https://kubernetes.io/docs/concepts/security/pod-security-standards/),
 * set explicitly, so that a cluster whose default level is stricter still
 * runs them; the version follows the API server's.  baseline: no container
 * is privileged and no pod mounts a hostPath (the data is on
 * PersistentVolumes, the plugins in an emptyDir).  What keeps them from
 * restricted is the "prepare" init container alone, root with CHOWN to
 * give the data folder to Elasticsearch's user (chown_script says why
 * fsGroup cannot); the Elasticsearch, plugin and Kibana containers of 5.0
 * and later meet restricted.  privileged where the options need it:
 * tune_hosts (a privileged sysctl container), host_path_data (clusters
 * made before the claims mount their data as hostPath), and a delete's
 * wipe pods, which mount the hosts' folders once every node has stopped.
 */
const char *render_namespace_level(const struct render_opts *opts)
{
	return opts->tune_hosts || opts->host_path_data || opts->wiping ? "privileged" : "baseline";
}

static json_t *namespace_object(const struct ctx *c)
{
	json_t *l = labels(c, -1, false);

	json_object_set_new(l, "pod-security.kubernetes.io/enforce",
			    json_string(render_namespace_level(c->opts)));
	json_object_set_new(l, "pod-security.kubernetes.io/enforce-version", json_string("latest"));
	return render_object("v1", "Namespace",
			     json_pack("{s:s, s:o}", "name", c->ns, "labels", l));
}

/* --- checks of esaasd's side ------------------------------------------- */

/*
 * Tenants choose a version, the operator its image: the image runs the
 * plugin installs and the nodes, so an image of the tenant's choosing is
 * code of the tenant's on esaas's hosts.  A spec's own image is accepted
 * only where kubernetes.allowed_images pins that very image to its version.
 */
char *render_image(const struct spec *spec, const struct render_opts *opts, char *err,
		   size_t errlen)
{
	struct spec_error serr;

	if (!spec_check_image(spec, opts->allowed_images, &serr)) {
		snprintf(err, errlen, "%s: %s", serr.field, serr.message);
		return NULL;
	}
	char *pinned = spec_allowed_image(opts->allowed_images, &spec->version);
	return pinned ? pinned : es_default_image(&spec->version, opts->image_registry);
}

static bool valid_label_key(const char *key)
{
	const char *slash = strrchr(key, '/');
	const char *name = slash ? slash + 1 : key;
	size_t n = strlen(name);

	if (strlen(key) > LABEL_KEY_MAX || n == 0 || n > 63 || (slash && slash == key))
		return false;
	for (const char *p = key; *p; p++) {
		char ch = *p;

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || strchr("-_./", ch)))
			return false;
	}
	return true;
}

static bool check_opts(const struct spec *spec, const struct render_opts *o, const char *ns,
		       char *err, size_t errlen)
{
	if (!spec_is_dns_label(o->tenant, SPEC_DNS_LABEL_MAX)) {
		snprintf(err, errlen,
			 "tenant \"%.63s\" is not a DNS-1123 label (lower-case letters, digits and "
			 "'-')",
			 o->tenant ? o->tenant : "");
		return false;
	}
	if (strlen(ns) > NAMESPACE_MAX) {
		snprintf(err, errlen,
			 "namespace %s is %zu characters long; at most %d fit, since the masters' "
			 "Service is es-<namespace>: shorten the tenant or the cluster name",
			 ns, strlen(ns), NAMESPACE_MAX);
		return false;
	}
	if (spec->nplugins > 0 && (!o->plugin_repo_url || !o->plugin_repo_url[0])) {
		snprintf(err, errlen,
			 "the spec lists plugins but no plugin repository URL is configured");
		return false;
	}
	if (o->rack_label && !valid_label_key(o->rack_label)) {
		snprintf(err, errlen, "rack label \"%.80s\" is not a valid label key",
			 o->rack_label);
		return false;
	}
	if (o->storage_root && o->storage_root[0] != '/') {
		snprintf(err, errlen, "storage root \"%.80s\" is not an absolute path",
			 o->storage_root);
		return false;
	}
	if (o->initial_master_nodes && es_coordination(&spec->version) == ES_ZEN2) {
		if (!o->initial_master_nodes[0]) {
			snprintf(err, errlen,
				 "initial master nodes are given but the list is empty");
			return false;
		}
		for (const char *const *n = o->initial_master_nodes; *n; n++) {
			if (!(*n)[0] || strchr(*n, ',')) {
				snprintf(err, errlen,
					 "initial master node name \"%.80s\" is not a node name",
					 *n);
				return false;
			}
		}
	}
	return true;
}

bool render_cluster(const struct spec *spec, const struct render_opts *opts, json_t **out,
		    char *err, size_t errlen)
{
	struct ctx c;
	json_t *list = NULL;
	bool ok = false;

	memset(&c, 0, sizeof(c));
	c.spec = spec;
	c.opts = opts;
	es_version_format(&spec->version, c.version, sizeof(c.version));
	c.ns = render_cluster_namespace(spec, opts);
	if (!check_opts(spec, opts, c.ns, err, errlen))
		goto cleanup;
	c.headless = render_headless_service(c.ns);
	c.image = render_image(spec, opts, err, errlen);
	if (!c.image)
		goto cleanup;
	c.utility_image = opts->utility_image ? opts->utility_image : RENDER_UTILITY_IMAGE_DEFAULT;
	c.rack_label = opts->rack_label ? opts->rack_label : RENDER_RACK_LABEL_DEFAULT;
	c.storage_root = opts->storage_root ? opts->storage_root : RENDER_STORAGE_ROOT_DEFAULT;

	list = json_array();
	json_array_append_new(list, namespace_object(&c));
	json_array_append_new(list, render_quota_object(&c, 0));
	render_network_policies(&c, list);
	for (int r = 0; r < ES_ROLE_COUNT; r++) {
		json_t *cm = config_map(&c, r, err, errlen);

		if (!cm)
			goto cleanup;
		json_array_append_new(list, cm);
	}
	if (render_security_on(&c))
		json_array_append_new(list, render_security_secret(&c));
	if (render_s3_on(&c))
		json_array_append_new(list, render_s3_secret(&c));
	json_array_append_new(list, headless_service(&c));
	json_array_append_new(list, http_service(&c));
	for (int r = 0; r < ES_ROLE_COUNT; r++)
		json_array_append_new(list, stateful_set(&c, r));
	for (int r = 0; r < ES_ROLE_COUNT; r++)
		json_array_append_new(list, disruption_budget(&c, r, false));
	if (spec->kibana_replicas > 0) {
		json_array_append_new(list, kibana_service(&c));
		json_array_append_new(list, kibana_deployment(&c));
	}

	*out = list;
	list = NULL;
	ok = true;

cleanup:
	json_decref(list);
	free(c.ns);
	free(c.headless);
	free(c.image);
	return ok;
}

bool render_volumes(const struct spec *spec, const struct render_opts *opts,
		    const char *const *hosts, json_t **out, char *err, size_t errlen)
{
	struct ctx c;

	memset(&c, 0, sizeof(c));
	c.spec = spec;
	c.opts = opts;
	c.ns = render_cluster_namespace(spec, opts);
	if (!check_opts(spec, opts, c.ns, err, errlen)) {
		free(c.ns);
		return false;
	}
	c.storage_root = opts->storage_root ? opts->storage_root : RENDER_STORAGE_ROOT_DEFAULT;
	*out = json_array();
	json_array_append_new(*out, storage_class(&c));
	for (int r = 0; r < ES_ROLE_COUNT; r++) {
		for (const char *const *h = hosts; keeps_data(r) && h && *h; h++)
			json_array_append_new(*out, persistent_volume(&c, r, *h));
	}
	free(c.ns);
	return true;
}

/* --- wiping a deleted cluster's data ------------------------------------------ */

/*
 * Who wipes: from 5.0 the images run Elasticsearch as uid 1000 (gid 0
 * from 7.0), and the prepare step gives each data folder to 1000:0, so
 * everything a node wrote is that user's to remove: the wipe runs as it,
 * without any capability.  2.x's entrypoint runs as root and chowns the
 * data path to its own user, whose files only root may remove: root with
 * CAP_DAC_OVERRIDE alone.
 */
static bool wipe_as_es_user(const struct spec *spec)
{
	return spec->version.major >= 5;
}

static json_t *wipe_context(const struct spec *spec)
{
	if (wipe_as_es_user(spec))
		return json_pack("{s:i, s:i, s:b, s:b, s:{s:[s]}, s:{s:s}}", "runAsUser",
				 RENDER_ES_UID, "runAsGroup", 0, "runAsNonRoot", 1,
				 "allowPrivilegeEscalation", 0, "capabilities", "drop", "ALL",
				 "seccompProfile", "type", "RuntimeDefault");
	return json_pack("{s:i, s:b, s:b, s:{s:[s], s:[s]}, s:{s:s}}", "runAsUser", 0,
			 "runAsNonRoot", 0, "allowPrivilegeEscalation", 0, "capabilities", "drop",
			 "ALL", "add", "DAC_OVERRIDE", "seccompProfile", "type", "RuntimeDefault");
}

json_t *render_wipe_pod(const struct spec *spec, const struct render_opts *opts, const char *host,
			int index)
{
	char *ns = render_cluster_namespace(spec, opts);
	const char *root = opts->storage_root ? opts->storage_root : RENDER_STORAGE_ROOT_DEFAULT;
	char *target = xasprintf("%s/%s", root, ns);
	const char *image =
		opts->utility_image ? opts->utility_image : RENDER_UTILITY_IMAGE_DEFAULT;
	char *name = xasprintf("esaas-wipe-%d", index);
	/* esaas's utility image, never the tenant's: the pod mounts the
	 * host's folder of the cluster (TARGET/ROLE/data below it).  As
	 * Elasticsearch's user, what is in each data folder goes, the
	 * folders stay (root made them); 2.x's, as root, everything below
	 * TARGET.  The pod says what it removed. */
	const char *script =
		wipe_as_es_user(spec)
			? "set -e\n"
			  "echo \"wiping $TARGET on $HOST\"\n"
			  "find /target -mindepth 3 -maxdepth 3 -print -exec rm -rf {} +\n"
			  "echo \"wiped $TARGET on $HOST\"\n"
			: "set -e\n"
			  "echo \"wiping $TARGET on $HOST\"\n"
			  "find /target -mindepth 1 -maxdepth 1 -print -exec rm -rf {} +\n"
			  "echo \"wiped $TARGET on $HOST\"\n";
	json_t *pod = json_pack(
		"{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}}, s:{s:s, s:s, s:[{s:s, s:s, s:[s, s, s], "
		"s:[{s:s, s:s}, {s:s, s:s}], s:o, s:o, s:[{s:s, s:s}]}], "
		"s:[{s:s, s:{s:s, s:s}}]}}",
		"apiVersion", "v1", "kind", "Pod", "metadata", "name", name, "namespace", ns,
		"labels", RENDER_LABEL_CLUSTER, spec->name, RENDER_LABEL_ROLE, "wipe", "spec",
		"nodeName", host, "restartPolicy", "Never", "containers", "name", "wipe", "image",
		image, "command", "sh", "-c", script, "env", "name", "TARGET", "value", target,
		"name", "HOST", "value", host, "resources", fixed_resources(&render_wipe_resources),
		"securityContext", wipe_context(spec), "volumeMounts", "name", "target",
		"mountPath", "/target", "volumes", "name", "target", "hostPath", "path", target,
		"type", "DirectoryOrCreate");
	if (opts->cluster_id > 0)
		json_object_set_new(json_object_get(json_object_get(pod, "metadata"), "labels"),
				    RENDER_LABEL_CLUSTER_ID,
				    json_sprintf("%lld", (long long)opts->cluster_id));
	free(name);
	free(target);
	free(ns);
	return pod;
}
