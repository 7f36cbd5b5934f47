/*
 * The Kubernetes API client: server-side apply, get, list, delete and
 * scale, asynchronously over the project's HTTP client.
 *
 * Every call ends in one callback with a struct kube_result.  A failed call
 * carries the API server's Status message ("statefulsets.apps \"es-data\" not
 * found") so that a job's error says what Kubernetes said.  Which calls the
 * client can make at all is the table in kube/resources.c: the RBAC rules
 * of esaas's own deployment are checked against it.
 */
#ifndef ESAAS_KUBE_CLIENT_H
#define ESAAS_KUBE_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "common/httpc.h"
#include "kube/kubeconfig.h"

struct kube;
struct kube_call;

struct kube_result {
	long status;		/* HTTP status, 0 when none arrived */
	enum httpc_class klass; /* HTTPC_OK, _TRANSIENT or _PERMANENT */
	json_t *body;		/* the parsed answer (any JSON), or NULL; borrowed */
	const char *message;	/* on failure: the Status message or the transport error */
	const char *reason;	/* on failure: the Status reason (NotFound, Conflict, ...) or "" */
	int64_t retry_after_ms; /* -1 when the server said nothing */
	/* The texts of the answer's Warning headers (RFC 7234 section 5.5;
	 * the API server's "299 - \"unknown field ...\""), NULL-terminated;
	 * borrowed.  Each is logged already. */
	const char *const *warnings;
};

typedef void (*kube_done_cb)(void *arg, const struct kube_result *r);

/* conn is copied; h must outlive the client. */
struct kube *kube_new(struct httpc *h, const struct kube_conn *conn);
void kube_free(struct kube *k);
const char *kube_server(const struct kube *k);
/*
 * How long a token read from a file (tokenFile, the in-cluster token) is
 * used before the file is read again: a minute by default, as client-go's
 * cached token source (staging/src/k8s.io/client-go/transport/
 * token_source.go); a 401 reads it again at once.
 */
#define KUBE_TOKEN_REREAD_MS 60000
void kube_set_token_reread_ms(struct kube *k, int64_t ms);
/*
 * With an exec credential plugin (kube/exec.h): its credential is kept
 * until its expirationTimestamp (or a 401), calls that need a new one
 * wait for the one run of the plugin, and a call answered 401 runs it
 * again (unless another call's 401 did) and is sent once more.  A plugin
 * that fails fails the calls that waited for it with its error.  A run
 * longer than ms (KUBE_EXEC_TIMEOUT_MS by default) is killed.
 */
void kube_set_exec_timeout_ms(struct kube *k, int64_t ms);

/* The texts of the Warning headers of an answer ("Name: value" lines,
 * NULL-terminated): a NULL-terminated array of strings, one allocation
 * to free, or NULL when there are none. */
char **kube_warnings_parse(const char *const *headers);

/* The REST path of an object ("/apis/apps/v1/namespaces/ns/statefulsets/x"),
 * from its apiVersion, kind, namespace and name; NULL if the kind is unknown. */
char *kube_object_path(json_t *obj);
/* The collection path of a kind in a namespace (NULL namespace for cluster scope). */
char *kube_collection_path(const char *api_version, const char *kind, const char *ns);

/* Create or update obj with server-side apply (fieldManager=esaas, force).
 * NULL, and no callback, when obj has no known kind or no name. */
struct kube_call *kube_apply(struct kube *k, json_t *obj, kube_done_cb cb, void *arg);
struct kube_call *kube_get(struct kube *k, const char *path, kube_done_cb cb, void *arg);
/* label_selector may be NULL. */
struct kube_call *kube_list(struct kube *k, const char *path, const char *label_selector,
			    kube_done_cb cb, void *arg);
/*
 * propagation: "Foreground", "Background", "Orphan" or NULL; uid: when set,
 * the delete only happens if the object still has that uid, so a pod
 * recorded for deletion never takes its replacement with it.
 */
struct kube_call *kube_delete(struct kube *k, const char *path, const char *propagation,
			      const char *uid, kube_done_cb cb, void *arg);
/* Set spec.replicas through the scale subresource of path (a Deployment or StatefulSet). */
struct kube_call *kube_scale(struct kube *k, const char *path, int replicas, kube_done_cb cb,
			     void *arg);
/* An arbitrary request (the service proxy to Elasticsearch goes through here). */
struct kube_call *kube_request(struct kube *k, const char *method, const char *path,
			       const char *content_type, const char *body, kube_done_cb cb,
			       void *arg);
/*
 * The same with the reply capped at max_body bytes (what the cap is for,
 * "an Elasticsearch cluster health", goes into the error).  The other
 * calls cap theirs at KUBE_MAX_OBJECT_BYTES, a list's at
 * KUBE_MAX_LIST_BYTES; a reply past its cap fails the call (permanently)
 * with an error that names the cap, and is not read further.
 */
struct kube_call *kube_request_capped(struct kube *k, const char *method, const char *path,
				      const char *content_type, const char *body, size_t max_body,
				      const char *max_body_for, kube_done_cb cb, void *arg);
/* An object is at most about 1.5 MiB (etcd's request limit); a list of a
 * namespace's pods or a cluster's nodes, hundreds of them. */
#define KUBE_MAX_OBJECT_BYTES ((size_t)2 * 1024 * 1024)
#define KUBE_MAX_LIST_BYTES ((size_t)16 * 1024 * 1024)

/*
 * A watch: GET path (a collection with ?watch=1 and its options), whose
 * events, {"type": ..., "object": ...} (borrowed), go to on_event as they
 * arrive; cb then runs once at the end of the stream (the server's
 * timeout, an error answer such as a 410, or timeout_ms).  on_event must
 * not cancel the call.
 */
typedef void (*kube_event_cb)(void *arg, json_t *event);
struct kube_call *kube_watch(struct kube *k, const char *path, long timeout_ms,
			     kube_event_cb on_event, kube_done_cb cb, void *arg);

/* The callback will not run. */
void kube_cancel(struct kube_call *call);

#endif
