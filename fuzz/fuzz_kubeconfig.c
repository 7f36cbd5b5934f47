/*
 * kube_conn_load() on an arbitrary kubeconfig, and the ExecCredential a
 * credential plugin prints.
 *
 * The input is the kubeconfig, up to a line "#%credential" if there is
 * one; what follows it is a plugin's standard output, read as the
 * ExecCredential of the kubeconfig's exec apiVersion (v1 when it has
 * none).  The marker is a YAML comment, so the file part of a seed stays
 * a valid file on its own.  The file is written to a memfd and loaded
 * through /proc/self/fd/N, with its current context.
 *
 * Besides crashes and leaks, the contract of kubeconfig.h and exec.h is
 * checked: success gives a server and a namespace, and an exec section a
 * command and a known apiVersion whose KUBERNETES_EXEC_INFO is JSON;
 * failure writes one line that starts with the file and leaves conn
 * zeroed; a credential parsed has a token or both halves of a
 * certificate, one refused says why.
 */
#include "common/util.h"
#include "fuzz/support.h"
#include "kube/exec.h"
#include "kube/kubeconfig.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CRED_MARKER "\n#%credential\n"
#define ERR_SIZE 512 /* as esaasd's */

static int file_fd = -1;
static char file_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	support_init();
	file_fd = memfd_create("kubeconfig", MFD_CLOEXEC);
	if (file_fd < 0) {
		perror("memfd_create");
		abort();
	}
	snprintf(file_path, sizeof(file_path), "/proc/self/fd/%d", file_fd);
	/* Neither the environment nor the home folder may add files. */
	unsetenv("KUBECONFIG");
	return 0;
}

static void write_file(const uint8_t *data, size_t len)
{
	size_t done = 0;

	if (ftruncate(file_fd, 0) != 0)
		abort();
	while (done < len) {
		ssize_t n = pwrite(file_fd, data + done, len - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			abort();
		done += (size_t)n;
	}
}

static void check_loaded(const struct kube_conn *c)
{
	support_expect(c->server && c->server[0], "loaded without a server");
	support_expect(c->namespace && c->namespace[0], "loaded without a namespace");
	support_expect(!c->client_cert_pem == !c->client_key_pem,
		       "a client certificate without its key");
	if (c->exec) {
		char *info;
		json_t *doc;

		support_expect(c->exec->command && c->exec->command[0], "exec without a command");
		support_expect(!strcmp(c->exec->api_version, KUBE_EXEC_V1) ||
				       !strcmp(c->exec->api_version, KUBE_EXEC_V1BETA1),
			       "exec apiVersion %s accepted", c->exec->api_version);
		support_expect(!c->token && !c->token_file && !c->client_cert_pem,
			       "exec beside another credential");
		for (size_t i = 0; i < c->exec->nenv; i++)
			support_expect(strchr(c->exec->env[i], '=') != c->exec->env[i] &&
					       strchr(c->exec->env[i], '='),
				       "exec env entry \"%s\" is not NAME=value", c->exec->env[i]);
		info = kube_exec_info(c);
		doc = info ? json_loads(info, 0, NULL) : NULL;
		support_expect(doc != NULL, "KUBERNETES_EXEC_INFO is not JSON: %s",
			       info ? info : "(null)");
		json_decref(doc);
		free(info);
	}
}

static void check_failed(const struct kube_conn *c, const char *err)
{
	static const struct kube_conn zero;
	char *prefix = xasprintf("kubeconfig %s", file_path);

	support_expect(err[0] != '\0', "kube_conn_load failed without a message");
	support_expect(!strchr(err, '\n') && !strchr(err, '\r'), "the error is not one line: %s",
		       err);
	support_expect(strncmp(err, prefix, strlen(prefix)) == 0,
		       "the error does not name the file: %s", err);
	support_expect(memcmp(c, &zero, sizeof(zero)) == 0, "a failed load left values: %s", err);
	free(prefix);
}

static void check_credential(const char *api_version, const uint8_t *data, size_t len)
{
	struct kube_exec_cred cred;
	char err[256];

	if (kube_exec_parse_credential(api_version, (const char *)data, len, &cred, err,
				       sizeof(err))) {
		support_expect(cred.token || (cred.client_cert_pem && cred.client_key_pem),
			       "a credential with neither a token nor a certificate and key");
		support_expect(!cred.client_cert_pem == !cred.client_key_pem,
			       "a certificate without its key");
		kube_exec_cred_free(&cred);
	} else {
		support_expect(err[0] != '\0', "a credential refused without a reason");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *marker = memmem(data, size, CRED_MARKER, strlen(CRED_MARKER));
	size_t file_len = marker ? (size_t)(marker - data) : size;
	struct kube_conn_opts o = {.source = KUBE_SOURCE_KUBECONFIG, .kubeconfig = file_path};
	struct kube_conn conn;
	char *err = xmalloc(ERR_SIZE); /* on the heap, so that ASan sees an overrun */
	char *api_version;

	write_file(data, file_len);
	if (kube_conn_load(&o, &conn, err, ERR_SIZE))
		check_loaded(&conn);
	else
		check_failed(&conn, err);
	api_version = xstrdup(conn.exec ? conn.exec->api_version : KUBE_EXEC_V1);
	kube_conn_free(&conn);
	if (marker) {
		size_t skip = file_len + strlen(CRED_MARKER);

		check_credential(api_version, data + skip, size - skip);
	}
	free(api_version);
	free(err);
	return 0;
}
