/*
 * The Kubernetes objects of a cluster, rendered from its spec: the shape of
 * DESIGN.md ("The Kubernetes shape of a cluster").
 *
 *   Namespace              es-<tenant>-<cluster>, or es-<cluster>-<hash>
 *                          (render_namespace()); the one stored with the
 *                          cluster once it exists (render_opts.ns)
 *   ResourceQuota          esaas-quota: what the spec's pods ask for, summed
 *   NetworkPolicy          esaas-default-deny, esaas-cluster, esaas-control,
 *                          esaas-tenant: who reaches the pods
 *                          (kube/render_netpol.c)
 *   ConfigMap              es-master-config, es-data-config, es-client-config
 *                          (elasticsearch.yml of each role)
 *   Service                es-<namespace>: headless, the masters, 9300 and 9200
 *   Service                es-http: 9200, the clients (the data nodes when
 *                          there are no clients); ClusterIP, NodePort when
 *                          the spec's network.service_type asks for it
 *   StatefulSet            es-master, es-data, es-client
 *   PodDisruptionBudget    es-master, es-data, es-client (maxUnavailable 1; 0 for
 *                          a role of one node, and while the health sweep holds
 *                          them)
 *   Service, Deployment    kibana (5601, typed as es-http), when the spec
 *                          asks for one
 *
 * in that order, which is also the order a create applies them in.
 *
 * The quota holds the namespace to the spec, so that no workload grows
 * past it behind esaas's back: a workflow that grows the cluster raises
 * it first, one that shrinks it lowers it after.  Nothing esaas runs
 * needs more than the spec: every role rolls one pod at a time, the pod
 * gone before its replacement comes (StatefulSets recreate a pod under
 * its name; Kibana's Deployment rolls without a surge pod), and a delete
 * that wipes the hosts makes room for its wipe pods first.
 *
 * Nodes restart only when esaas deletes them: the StatefulSets are
 * OnDelete, so a changed template (a plugin added) waits for the safe
 * rolling restart.  elasticsearch.yml lives in the ConfigMaps, which pods
 * read when they start, so a settings change restarts nothing by itself.
 *
 * DESIGN.md's original shape has Deployments for masters and clients.
 * They are StatefulSets here, for three reasons: zen2 (7.x and later) forms
 * a new cluster only from masters named in advance in
 * cluster.initial_master_nodes, which needs stable pod names; a Deployment
 * rolls a changed template by itself, deleting the next master as soon as
 * its replacement listens, before it has joined, which can cost the
 * cluster its quorum; and removing one chosen master (the one excluded
 * from voting) needs a scale-down that removes a known pod.  Masters also
 * keep their cluster state on the host, under <root>/<namespace>/master/data.
 */
#ifndef ESAAS_KUBE_RENDER_H
#define ESAAS_KUBE_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "common/util.h"
#include "es/version.h"
#include "kube/spec.h"

#define RENDER_RACK_LABEL_DEFAULT "topology.esaas.io/rack"
#define RENDER_HOST_LABEL "kubernetes.io/hostname"
#define RENDER_STORAGE_ROOT_DEFAULT "/es"
#define RENDER_HTTP_SERVICE "es-http"
#define RENDER_HTTP_PORT 9200
/* How often the kubelet probes whether a pod is ready (seconds). */
#define RENDER_PROBE_PERIOD_S 2
#define RENDER_TRANSPORT_PORT 9300
/* The utility image when kubernetes.utility_image is not set; operators pin
 * it by digest (docs/operations.md). */
#define RENDER_UTILITY_IMAGE_DEFAULT "busybox:1.36.1"
/* Elasticsearch's user in its images from 5.0 (2.x's run as root and step
 * down in their entrypoint). */
#define RENDER_ES_UID 1000

/* The labels every object carries; selectors use cluster and role only,
 * since a selector cannot change once a workload exists. */
#define RENDER_LABEL_CLUSTER "esaas.io/cluster"
#define RENDER_LABEL_ROLE "esaas.io/role"
/* The Elasticsearch version a pod runs (its template's). */
#define RENDER_LABEL_VERSION "app.kubernetes.io/version"
#define RENDER_LABEL_TENANT "esaas.io/tenant"
/* The cluster's id (its row in the database): on every object esaas
 * applies but pod templates and claim templates (render.c). */
#define RENDER_LABEL_CLUSTER_ID "esaas.io/cluster-id"

/* esaasd's side of rendering: its configuration and the tenant. */
/*
 * A cluster's Elasticsearch security, made once when it is created
 * (common/pki.h for the certificates) and kept with it: PEM and passwords.
 * Rendered into the Secret RENDER_SECURITY_SECRET, which the pods mount
 * and read their passwords from (kube/render_security.c).
 */
struct render_security {
	const char *ca_crt;	      /* the cluster's CA */
	const char *tls_crt;	      /* the nodes' certificate, signed by the CA */
	const char *tls_key;	      /* its key */
	const char *elastic_password; /* the elastic user's */
	const char *kibana_password;  /* kibana_system's (kibana before 7.8) */
	/* esaas's own user's (ES_ESAAS_USER), or NULL for a cluster secured
	 * before esaas had one until a job makes it (states/security.c) */
	const char *esaas_password;
};

#define RENDER_SECURITY_SECRET "es-security"

/*
 * Snapshots on object storage (snapshots.s3_*, common/config.h): the
 * cluster's repository is an s3 one, in the bucket, under
 * <base_path>/<tenant>/<namespace>, through the client RENDER_S3_CLIENT,
 * whose settings elasticsearch.yml has and whose keys the Elasticsearch
 * keystore holds (kube/render_s3.c).  The keys are the tenant's own: the
 * storage's policy gives each tenant's key its prefix alone, since every
 * tenant may register repositories with them (docs/operations.md).
 */
struct render_s3 {
	const char *bucket;
	const char *endpoint; /* host[:port]; NULL: AWS's own endpoints */
	const char *protocol; /* "http" or "https"; NULL: https */
	bool path_style_access;
	const char *base_path; /* the tenants' prefixes' parent, e.g. "esaas" */
	/* The tenant's key pair; NULL: it has none, and its clusters no
	 * keystore (snapshots are refused, naming what is missing). */
	const char *access_key;
	const char *secret_key;
};

#define RENDER_S3_CLIENT "esaas"
/* The Secret of a cluster's key pair, which its keystore is made from. */
#define RENDER_S3_SECRET "es-s3-credentials"

/* Repositories of type s3 through keystore client settings: from 7.3
 * (7.0-7.2 force path-style access and have no setting for it; 2.x has
 * the cloud-aws plugin's settings, 5.x-6.x other client rules).  The
 * plugin repository-s3 before 8.0, a module from 8.0. */
bool render_s3_supported(const struct es_version *v);
/* "<base_path>/<tenant>/<ns>"; the caller frees it. */
char *render_s3_base_path(const struct render_s3 *s3, const char *tenant, const char *ns);
/* The body of PUT _snapshot/<repo> for the cluster ns of tenant (readonly
 * for a restore's source); the caller owns it. */
json_t *render_s3_repository(const struct render_s3 *s3, const char *tenant, const char *ns,
			     bool readonly);

struct render_opts {
	const char *tenant; /* required: a DNS-1123 label */
	/* The cluster's namespace as stored with it; NULL: render_namespace(). */
	const char *ns;
	int64_t cluster_id;	     /* its id, labelled on its objects; 0: none */
	const char *image_registry;  /* NULL: the version's own registry */
	const char *plugin_repo_url; /* required when the spec lists plugins */
	const char *rack_label;	     /* NULL: RENDER_RACK_LABEL_DEFAULT */
	const char *storage_root;    /* NULL: RENDER_STORAGE_ROOT_DEFAULT */
	/*
	 * zen2 versions' first boot: the node names (render_node_name()) of
	 * the masters that bootstrap the cluster, NULL-terminated.  NULL
	 * renders none, as every later render must once the cluster has
	 * formed.  Ignored on zen1 versions.
	 */
	const char *const *initial_master_nodes;
	/*
	 * kubernetes.allowed_images: "version=image, ..." (common/config.h).
	 * A listed version runs its image; a spec's own image must be that
	 * one, or rendering fails.  NULL: the version's default image, and a
	 * spec may name none.
	 */
	const char *allowed_images;
	/* esaas's own image for the steps that need root or the host (the
	 * data folder's owner, vm.max_map_count, the wipe); never the
	 * tenant's.  NULL: RENDER_UTILITY_IMAGE_DEFAULT. */
	const char *utility_image;
	/* kubernetes.tune_hosts: a privileged init container of the utility
	 * image raises vm.max_map_count, and the namespace must then admit
	 * privileged pods.  false: the hosts are tuned beforehand (a node
	 * prerequisite, docs/operations.md). */
	bool tune_hosts;
	/* The namespace's Pod Security level as the wipe pods need it: they
	 * mount the hosts' folders (render_namespace_level()). */
	bool wiping;
	/*
	 * The data path a hostPath volume of the pod template, as clusters
	 * created before the claims had it: their StatefulSets keep it, since
	 * volumeClaimTemplates cannot be added to an existing StatefulSet.
	 * false: a claim template per role that keeps data (render_volumes()).
	 */
	bool host_path_data;
	/* Who calls Elasticsearch for esaas, admitted by the esaas-control
	 * NetworkPolicy (kube/render_netpol.c): kubernetes.api_server_cidrs
	 * ("CIDR, CIDR", the service proxy's source) and
	 * kubernetes.esaasd_namespace.  Both NULL: every address. */
	const char *api_server_cidrs;
	const char *esaasd_namespace;
	/*
	 * Security for versions whose free licence has it (6.8+ of the
	 * default distribution, render_security_applies()): users with
	 * passwords, TLS on HTTP and transport.  NULL, or another version:
	 * none, as clusters had before (8.x then says so in its
	 * elasticsearch.yml, since it turns security on by itself).
	 */
	const struct render_security *security;
	/*
	 * snapshots.nfs_server and snapshots.nfs_path: the NFS export that
	 * holds the snapshot repositories.  Every Elasticsearch pod mounts
	 * its tenant's folder of it (subPath: the tenant, made by the kubelet
	 * when missing) at RENDER_SNAPSHOTS_DIR, which elasticsearch.yml lists
	 * in path.repo; each cluster's repository is the folder named as its
	 * namespace in there (render_snapshot_location()).  Either NULL: none.
	 */
	const char *snapshots_nfs_server;
	const char *snapshots_nfs_path;
	/* Or object storage (never both, common/config.c): NULL, none. */
	const struct render_s3 *s3;
};

/* Where the pods mount their tenant's snapshot folder (path.repo). */
#define RENDER_SNAPSHOTS_DIR "/usr/share/elasticsearch/snapshots"
/* The repository esaas registers in each cluster for its own snapshots,
 * and the prefix of the read-only one a restore registers for its source. */
#define RENDER_SNAPSHOT_REPO "esaas"
#define RENDER_RESTORE_REPO "esaas-restore"
/* Do the options configure the clusters' repositories (an NFS folder or a
 * bucket)? */
bool render_snapshots_enabled(const struct render_opts *opts);

/* Whether version v of image has security in its free licence: 6.8+ of
 * the default distribution (not the -oss images; 2.x-6.7 have none). */
bool render_security_applies(const struct es_version *v, const char *image);

/*
 * Every object of the cluster, as a JSON array in the order above.  On
 * failure (a tenant or option that cannot make valid names) err says why
 * and *out is untouched.  The caller owns *out.
 */
bool render_cluster(const struct spec *spec, const struct render_opts *opts, json_t **out,
		    char *err, size_t errlen) MUST_CHECK;

/*
 * The cluster's data volumes: its StorageClass (named as the namespace; no
 * provisioner, WaitForFirstConsumer, Retain), then for masters and data
 * nodes one hostPath PersistentVolume per host of hosts (the values of the
 * nodes' kubernetes.io/hostname label, NULL-terminated), over
 * <root>/<namespace>/<role>/data and pinned to that host by node affinity.
 * The claim templates of render_cluster() bind to them.  Cluster-scoped
 * objects: every one carries the tenant and cluster labels.  The caller
 * owns *out.
 */
bool render_volumes(const struct spec *spec, const struct render_opts *opts,
		    const char *const *hosts, json_t **out, char *err, size_t errlen) MUST_CHECK;

/* A PersistentVolume's name: "<namespace>-<role>-<host>", the host hashed
 * when that would be too long; the caller frees it. */
char *render_volume_name(const char *ns, enum es_role role, const char *host);

/*
 * The objects as a YAML stream, each document opened by "---", like
 * `helm template` prints it.  *out is NUL-terminated and the caller's.
 */
bool render_to_yaml(json_t *objects, char **out) MUST_CHECK;

/* The object of that kind and name in a render_cluster() array, or NULL;
 * borrowed. */
json_t *render_find(json_t *objects, const char *kind, const char *name);

/* The namespace's NetworkPolicies (kube/render_netpol.c). */
#define RENDER_NETPOL_DENY "esaas-default-deny"
#define RENDER_NETPOL_CLUSTER "esaas-cluster"
#define RENDER_NETPOL_CONTROL "esaas-control"
#define RENDER_NETPOL_TENANT "esaas-tenant"

/* The namespace's ResourceQuota. */
#define RENDER_QUOTA_NAME "esaas-quota"

/*
 * The ResourceQuota of the spec's namespace, as render_cluster() has it:
 * spec.hard is pods, requests.cpu, requests.memory, limits.cpu and
 * limits.memory of every pod the spec makes (each role's replicas, Kibana's),
 * plus wipe_pods pods of render_wipe_pod() (0 but for a delete that wipes
 * the hosts).  The caller owns it.
 */
json_t *render_quota(const struct spec *spec, const struct render_opts *opts, int wipe_pods);

/*
 * Raise a rendered quota's spec.hard to at least hard (a live quota's
 * spec.hard), key by key: what a workflow applies before it grows the
 * cluster, whose current size it may not know.  Values of hard that are
 * not quantities are ignored.
 */
void render_quota_at_least(json_t *quota, json_t *hard);

/*
 * A role's PodDisruptionBudget, as render_cluster() has it (maxUnavailable
 * 1, 0 for a role of one node); with hold, maxUnavailable 0 whatever the
 * role's size.  The caller owns it.
 */
json_t *render_disruption_budget(const struct spec *spec, const struct render_opts *opts,
				 enum es_role role, bool hold);

/* --- names, for the workflows that act on what was rendered ------------- */

/*
 * The namespace of a new cluster: "es-<tenant>-<cluster>" where that reads
 * one way only, else "es-<cluster>-<10 hex digits of a hash of the pair>";
 * never the same for two pairs, at most 60 characters for every valid pair
 * (render.c says how).  A cluster keeps the namespace stored with it: the
 * caller frees it.
 */
char *render_namespace(const char *tenant, const char *cluster);

/* opts->ns when set, else render_namespace() of the tenant and the spec's
 * name; the caller frees it. */
char *render_cluster_namespace(const struct spec *spec, const struct render_opts *opts);

/*
 * The image the spec's nodes run: the one kubernetes.allowed_images pins for
 * its version, else the version's default (with the registry mirror).  A
 * spec's own image must be the pinned one: otherwise NULL, and err names
 * the field "image" and why.  The caller frees it.
 */
char *render_image(const struct spec *spec, const struct render_opts *opts, char *err,
		   size_t errlen);

/*
 * The Pod Security level (https://kubernetes.io/docs/concepts/security/
 * pod-security-standards/) the namespace is labelled to enforce:
 * "baseline" for the pods esaas renders, "privileged" where something the
 * options ask for needs it (tune_hosts, host_path_data, wiping).
 */
const char *render_namespace_level(const struct render_opts *opts);

/* Whose a live Namespace object is, as far as esaas is concerned. */
enum render_ns_owner {
	RENDER_NS_OURS,	 /* labelled with the cluster's id */
	RENDER_NS_ADOPT, /* made before the id label, for this tenant's cluster */
	RENDER_NS_OTHER, /* another cluster's, or not esaas's */
};

/*
 * Whose the namespace object ns (a Namespace as the API server returns it)
 * is, for the cluster name of tenant with id cluster_id (0: a job without
 * a cluster row, which owns only what has no id).  For RENDER_NS_OTHER,
 * why says what its labels say, naming the namespace.
 */
enum render_ns_owner render_namespace_owner(json_t *ns, const char *tenant, const char *cluster,
					    int64_t cluster_id, char *why, size_t whylen);

/* The masters' headless Service, "es-<namespace>"; the caller frees it. */
char *render_headless_service(const char *ns);

/* Kibana, when the spec asks for it: Deployment and NodePort Service. */
#define RENDER_KIBANA_NAME "kibana"
#define RENDER_KIBANA_ROLE "kibana"
#define RENDER_KIBANA_PORT 5601

/* "es-master", "es-data", "es-client": a role's workload and its PDB. */
const char *render_workload_name(enum es_role role);

/* "StatefulSet", for every role (see above). */
const char *render_workload_kind(enum es_role role);

/* "es-master-config" and so on. */
const char *render_config_name(enum es_role role);

/* The label selector of a role's pods, "esaas.io/cluster=logs,esaas.io/role=data";
 * the caller frees it. */
char *render_selector(const char *cluster, enum es_role role);

/* The Elasticsearch node name of a pod, "<pod>-<namespace>" (node.name is
 * ${POD_NAME}-${NAMESPACE}); the caller frees it. */
char *render_node_name(const char *pod, const char *ns);

/*
 * The pod that wipes a deleted cluster's data from one host: pinned to the
 * host (nodeName), it mounts <storage root>/<namespace> and removes what is
 * inside.  index makes its name (esaas-wipe-<index>) unique in the
 * namespace.  It asks for a little CPU and memory, with limits, as the
 * namespace's quota requires of every pod; render_quota() with wipe_pods
 * makes room for it.
 */
json_t *render_wipe_pod(const struct spec *spec, const struct render_opts *opts, const char *host,
			int index);

#endif
