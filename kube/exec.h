/*
 * Exec credential plugins (kubeconfig users[].user.exec): the command
 * EKS, GKE and AKS kubeconfigs name (aws eks get-token,
 * gke-gcloud-auth-plugin, kubelogin) run as kubectl runs it, without
 * blocking the event loop, and its ExecCredential read.
 *
 * As client-go's staging/src/k8s.io/client-go/plugin/pkg/client/auth/
 * exec/exec.go: the plugin gets esaasd's environment (less its ESAAS_*
 * settings, which hold secrets), the kubeconfig's env and
 * KUBERNETES_EXEC_INFO (an ExecCredential whose spec says
 * interactive: false, and has the cluster when provideClusterInfo), no
 * standard input, and prints an ExecCredential of the configured
 * apiVersion on standard output.  Unlike client-go, a plugin that has not
 * ended by its deadline is killed, with the processes it started.
 *
 * Caching the credential, queueing requests behind the one run and the
 * run again on a 401 are the client's (kube/client.c).
 */
#ifndef ESAAS_KUBE_EXEC_H
#define ESAAS_KUBE_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "kube/kubeconfig.h"

struct event_base;
struct kube_exec_run;

/* What a plugin gave; every string owned, NULL when not given. */
struct kube_exec_cred {
	char *token;
	char *client_cert_pem; /* both or neither */
	char *client_key_pem;
	int64_t expires_wall_ms; /* expirationTimestamp; 0: none, kept until a 401 */
};

void kube_exec_cred_free(struct kube_exec_cred *c);

/* A plugin that has not ended after this long is killed. */
#define KUBE_EXEC_TIMEOUT_MS 60000
/* Standard output past this is not a credential. */
#define KUBE_EXEC_MAX_OUTPUT ((size_t)1024 * 1024)

/*
 * An RFC 3339 date-time ("2026-12-07T11:04:35Z", with fractions of a
 * second or an offset) in ms since the epoch.  False if s is not one.
 */
bool kube_exec_parse_time(const char *s, int64_t *out_ms) MUST_CHECK;

/*
 * A plugin's standard output into *out.  False with err set ("status:
 * expected a token or clientCertificateData and clientKeyData") when it
 * is not an ExecCredential of api_version with a credential in it.
 */
bool kube_exec_parse_credential(const char *api_version, const char *text, size_t len,
				struct kube_exec_cred *out, char *err, size_t errlen) MUST_CHECK;

/* KUBERNETES_EXEC_INFO for conn's plugin (an ExecCredential, JSON); free() it. */
char *kube_exec_info(const struct kube_conn *conn);

/*
 * The end of a run: cred (the callee takes it over, and frees it with
 * kube_exec_cred_free) or, on failure, NULL and err ("credential plugin
 * aws: exit status 255: ..."), permanent when running it again cannot
 * help (not found, not executable).  The run is freed after cb returns.
 */
typedef void (*kube_exec_done_cb)(void *arg, struct kube_exec_cred *cred, const char *err,
				  bool permanent);

/*
 * Start conn's plugin (conn->exec set).  cb never runs before this
 * returns; conn need not outlive the call.
 */
struct kube_exec_run *kube_exec_start(struct event_base *base, const struct kube_conn *conn,
				      int64_t timeout_ms, kube_exec_done_cb cb, void *arg);

/* Kill the plugin and free the run; cb will not run.  Not from cb. */
void kube_exec_cancel(struct kube_exec_run *r);

#endif
