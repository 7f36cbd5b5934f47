/*
 * Where the Kubernetes API is and how to authenticate to it: from
 * kubeconfig files, as kubectl reads them, or from the service account of
 * the pod we run in.
 *
 * Which source (KUBE_SOURCE_AUTO):
 *  1. opts->kubeconfig, if given: that one file, no merging (kubectl's
 *     --kubeconfig);
 *  2. else $KUBECONFIG, a colon-separated list of files, merged;
 *  3. else ~/.kube/config, if it exists;
 *  4. else in-cluster, if KUBERNETES_SERVICE_HOST is set.
 *
 * Merging follows kubectl: empty names in the list and files that do not
 * exist are skipped, a file that cannot be parsed is an error, the first
 * file to define a cluster, user or context of a given name wins whole
 * (later definitions of that name are ignored, even their other keys), and
 * current-context comes from the first file that sets it.  A name defined
 * twice in one file is an error.  Paths inside a file (certificate-
 * authority, client-certificate, client-key, tokenFile) are relative to
 * that file's folder.
 *
 * An exec credential plugin (users[].user.exec, as EKS, GKE and AKS
 * write them) is read into conn->exec and run later by the client
 * (kube/exec.h): apiVersion client.authentication.k8s.io/v1 or v1beta1,
 * command (resolved against the file's folder when it holds a '/', as
 * kubectl does), args, env, installHint, provideClusterInfo and
 * interactiveMode (required with v1, IfAvailable by default with v1beta1).
 * esaasd never prompts: Always is refused, the others run the plugin with
 * no standard input.  exec beside a token, tokenFile or client
 * certificate is refused rather than half used.
 *
 * What is refused, with a message naming the file and the entry:
 * auth-provider plugins, username/password (the API server
 * dropped basic authentication in 1.19), impersonation ("as"), a client
 * certificate without its key, a server that is not http(s), and
 * tls-server-name while verification is on (the HTTP client cannot set
 * the name it checks).  Unknown keys are ignored, as kubectl does.
 *
 * insecure-skip-tls-verify: true turns verification off even when the
 * cluster also gives a CA (kubectl refuses that combination; real files,
 * among them the client libraries' own fixtures, have it).  When a value
 * is given both inline (*-data) and as a file, the inline one wins.
 *
 * Files are read synchronously: they are small local files read once at
 * startup (and the token file when it is refreshed), never on the network.
 */
#ifndef ESAAS_KUBECONFIG_H
#define ESAAS_KUBECONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"

struct httpc_tls;

#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

enum kube_source {
	KUBE_SOURCE_AUTO,	/* the order above */
	KUBE_SOURCE_KUBECONFIG, /* steps 1-3 only */
	KUBE_SOURCE_IN_CLUSTER, /* step 4 only */
};

/* The exec credential plugin of a user (kubeconfig users[].user.exec). */
#define KUBE_EXEC_V1 "client.authentication.k8s.io/v1"
#define KUBE_EXEC_V1BETA1 "client.authentication.k8s.io/v1beta1"

struct kube_exec_conf {
	char *api_version; /* KUBE_EXEC_V1 or KUBE_EXEC_V1BETA1 */
	char *command;	   /* as run: PATH-searched unless it holds a '/' */
	char **args;	   /* nargs of them */
	size_t nargs;
	char **env; /* "NAME=value", nenv of them, added to esaasd's environment */
	size_t nenv;
	char *install_hint; /* or NULL */
	bool provide_cluster_info;
	char *user; /* the kubeconfig user, for messages */
};

struct kube_exec_conf *kube_exec_conf_dup(const struct kube_exec_conf *e);
void kube_exec_conf_free(struct kube_exec_conf *e);

struct kube_conn_opts {
	enum kube_source source;
	const char *kubeconfig; /* one file, no merging; NULL: $KUBECONFIG or ~/.kube/config */
	const char *context;	/* NULL: the current-context */
	const char *sa_dir;	/* in-cluster files; NULL: KUBE_SA_DIR */
};

/* Every string is owned by the struct; kube_conn_free() frees them. */
struct kube_conn {
	char *server;	       /* "https://host:port[/prefix]", no trailing '/' */
	char *ca_pem;	       /* NULL: the system's CAs */
	char *client_cert_pem; /* both or neither */
	char *client_key_pem;
	char *token;		     /* bearer token, or NULL */
	char *token_file;	     /* where the token is re-read from (it rotates), or NULL */
	struct kube_exec_conf *exec; /* the credential plugin, or NULL */
	bool insecure;		     /* insecure-skip-tls-verify */
	char *tls_server_name;	     /* only ever set with insecure */
	char *proxy_url;	     /* or NULL */
	char *namespace;	     /* the context's, or "default"; never NULL */
	char *context;		     /* the context's name; NULL in-cluster */
	char *origin;		     /* for logs: "kubeconfig /x/config, context prod" */
};

/*
 * Fill conn from opts (NULL: all defaults).  On failure returns false,
 * writes one line into err ("kubeconfig /x/config: context \"prod\" not
 * found") and leaves conn zeroed; kube_conn_free() is fine either way.
 */
bool kube_conn_load(const struct kube_conn_opts *opts, struct kube_conn *conn, char *err,
		    size_t errlen) MUST_CHECK;

void kube_conn_free(struct kube_conn *conn);

/*
 * Re-read conn->token_file into conn->token (tokens of service accounts
 * rotate: do it on a 401, or every minute).  True with nothing to do when
 * there is no token file.  On failure the old token stays.
 */
bool kube_conn_reload_token(struct kube_conn *conn, char *err, size_t errlen) MUST_CHECK;

/* Point tls at conn's CA, client certificate and key; they stay owned by conn. */
void kube_conn_to_tls(const struct kube_conn *conn, struct httpc_tls *tls);

#endif
