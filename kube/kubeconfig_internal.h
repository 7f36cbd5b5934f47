/*
 * What kube/kubeconfig.c and kube/kubeconfig_parse.c share, and nothing
 * else includes: the merged table of every file read, the one error
 * message shape, and the functions one calls in the other.  The public
 * contract is kube/kubeconfig.h.
 */
#ifndef ESAAS_KUBE_KUBECONFIG_INTERNAL_H
#define ESAAS_KUBE_KUBECONFIG_INTERNAL_H

#include "kube/kubeconfig.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <yaml.h>

struct kc_cluster {
	char *name;
	const char *file; /* in kc->files */
	char *server;
	char *ca_file;
	char *ca_data;
	bool insecure;
	char *tls_server_name;
	char *proxy_url;
};

struct kc_user {
	char *name;
	const char *file;
	char *cert_file;
	char *cert_data;
	char *key_file;
	char *key_data;
	char *token;
	char *token_file;
	struct kube_exec_conf *exec;
	/* Why exec cannot be used ("kubeconfig F:L: ..."), said only if this
	 * user is the one used (as client-go validates the used user only). */
	char *exec_problem;
	bool auth_provider;
	bool basic;
	bool impersonate;
};

struct kc_context {
	char *name;
	const char *file;
	char *cluster;
	char *user;
	char *namespace;
};

/* The merged view of every file read. */
struct kc {
	const char *shown; /* the file or list, for messages about the whole */
	char **files;
	size_t nfiles;
	struct kc_cluster *clusters;
	size_t nclusters;
	struct kc_user *users;
	size_t nusers;
	struct kc_context *contexts;
	size_t ncontexts;
	char *current_context;
	char *err;
	size_t errlen;
};

/* One file being parsed. */
struct kc_file {
	struct kc *kc;
	const char *path;
	yaml_document_t doc;
};

enum kind {
	K_CLUSTER,
	K_USER,
	K_CONTEXT
};

/* "kubeconfig FILE[:LINE]: message".  Returns false. */
bool __attribute__((format(printf, 5, 6)))
kubeconfig_fail(char *err, size_t errlen, const char *file, const yaml_node_t *at, const char *fmt,
		...);

#define kc_fail(kc, file, at, ...) \
	kubeconfig_fail((kc)->err, (kc)->errlen, (file), (at), __VA_ARGS__)

/* kubeconfig.c */
char *kubeconfig_read_text(const char *path, size_t *lenp, char *why, size_t whylen);
char *kubeconfig_trim(char *s);

/* kubeconfig_parse.c */
ssize_t kubeconfig_find(const struct kc *kc, enum kind k, const char *name);
bool kubeconfig_parse_file(struct kc *kc, const char *path, bool *missing);
void kc_free(struct kc *kc);

#endif
