/*
 * kube/kubeconfig.c: the real fixtures of the Kubernetes JavaScript client
 * (tests/reference/kubeconfig/), and small files of our own
 * for merging, relative paths, refusals and the in-cluster service account.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/httpc.h"
#include "common/util.h"
#include "kube/client.h"
#include "kube/exec.h"
#include "kube/kubeconfig.h"

static char *fixtures; /* the fixture folder */
static char *tmp;      /* our own files */

static const char *const env_names[] = {"KUBECONFIG", "HOME", "KUBERNETES_SERVICE_HOST",
					"KUBERNETES_SERVICE_PORT"};
static char *env_saved[ARRAY_SIZE(env_names)];

/* The source tree: $ESAAS_SRCDIR, else $srcdir (as make check sets it), else ".". */
static const char *source_dir(void)
{
	const char *s = getenv("ESAAS_SRCDIR");

	if (s && s[0])
		return s;
	s = getenv("srcdir");
	return s && s[0] ? s : ".";
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	/* The fixtures ship with the tree (tests/reference/README.md). */
	fixtures = xasprintf("%s/tests/reference/kubeconfig/kubernetes-client-javascript/testdata",
			     source_dir());
	if (access(fixtures, R_OK) != 0) {
		print_error("kubeconfig fixtures not found at %s (set ESAAS_SRCDIR to the source "
			    "tree)\n",
			    fixtures);
		return -1;
	}
	tmp = xstrdup("/tmp/esaas-kubeconfig-XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	/* Tests set what they need; nothing leaks in from the caller's shell. */
	for (size_t i = 0; i < ARRAY_SIZE(env_names); i++) {
		const char *v = getenv(env_names[i]);

		env_saved[i] = v ? xstrdup(v) : NULL;
	}
	return 0;
}

static int teardown(void **state)
{
	if (tmp)
		nftw(tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(tmp);
	free(fixtures);
	for (size_t i = 0; i < ARRAY_SIZE(env_names); i++) {
		if (env_saved[i])
			setenv(env_names[i], env_saved[i], 1);
		free(env_saved[i]);
	}
	return 0;
}

/* Each test starts with none of the variables set. */
static int clear_env(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(env_names); i++)
		unsetenv(env_names[i]);
	return 0;
}

/* tmp/name, with folders made as needed; returns the path (caller frees). */
static char *put_file(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", tmp, name);
	FILE *f;

	for (char *p = path + strlen(tmp) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			fail_msg("mkdir %s: %s", path, strerror(errno));
		*p = '/';
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static char *fixture(const char *name)
{
	return xasprintf("%s/%s", fixtures, name);
}

/* Load one file (no merging), expecting success. */
static void load_ok(const char *path, const char *context, struct kube_conn *c)
{
	struct kube_conn_opts o = {.kubeconfig = path, .context = context};
	char err[512];

	if (!kube_conn_load(&o, c, err, sizeof(err)))
		fail_msg("%s: %s", path, err);
}

/* Load one file, expecting exactly err, where "@" stands for the path. */
static void load_fails(const char *path, const char *context, const char *want)
{
	struct kube_conn_opts o = {.kubeconfig = path, .context = context};
	struct kube_conn c;
	char err[512];
	char *expect;
	const char *at = strchr(want, '@');

	if (kube_conn_load(&o, &c, err, sizeof(err)))
		fail_msg("%s (context %s) loaded", path, context ? context : "current");
	expect = at ? xasprintf("%.*s%s%s", (int)(at - want), want, path, at + 1) : xstrdup(want);
	if (strcmp(err, expect) != 0)
		fail_msg("got      %s\nexpected %s", err, expect);
	free(expect);
	/* Zeroed on failure; freeing is harmless. */
	assert_null(c.server);
	kube_conn_free(&c);
}

/* --- the JavaScript client's fixtures ----------------------------------------- */

static void test_fixture_current_context(void **state)
{
	char *path = fixture("kubeconfig.yaml");
	struct kube_conn c;

	load_ok(path, NULL, &c);
	assert_string_equal(c.context, "context2");
	assert_string_equal(c.server, "http://example2.com");
	assert_string_equal(c.ca_pem, "CADATA2");
	assert_true(c.insecure);
	assert_string_equal(c.client_cert_pem, "USER2_CADATA");
	assert_string_equal(c.client_key_pem, "USER2_CKDATA");
	assert_null(c.token);
	assert_null(c.token_file);
	assert_null(c.proxy_url);
	assert_string_equal(c.namespace, "namespace2");
	assert_non_null(strstr(c.origin, path));
	assert_non_null(strstr(c.origin, "context2"));
	kube_conn_free(&c);
	free(path);
}

static void test_fixture_named_context(void **state)
{
	char *path = fixture("kubeconfig.yaml");
	struct kube_conn c;

	load_ok(path, "context1", &c);
	assert_string_equal(c.context, "context1");
	assert_string_equal(c.server, "http://example.com");
	assert_string_equal(c.ca_pem, "CADATA");
	assert_false(c.insecure);
	assert_string_equal(c.client_cert_pem, "USER_CADATA");
	assert_string_equal(c.client_key_pem, "USER_CKDATA");
	assert_string_equal(c.proxy_url, "socks5://localhost:1181");
	/* No namespace in the context: the default one. */
	assert_string_equal(c.namespace, "default");
	kube_conn_free(&c);
	free(path);
}

static void test_fixture_basic_auth_refused(void **state)
{
	char *path = fixture("kubeconfig.yaml");

	load_fails(path, "passwd",
		   "kubeconfig @: user \"user3\": username/password authentication is not "
		   "supported (the API server dropped it in 1.19)");
	load_fails(path, "nope", "kubeconfig @: context \"nope\" not found");
	free(path);
}

/* A user with an empty body, and a context with no user at all. */
static void test_fixture_empty_user(void **state)
{
	char *path = fixture("empty-user-kubeconfig.yaml");
	struct kube_conn c;

	load_ok(path, NULL, &c);
	assert_string_equal(c.context, "context2");
	assert_string_equal(c.server, "http://example2.com");
	assert_null(c.client_cert_pem);
	assert_null(c.token);
	kube_conn_free(&c);

	/* Trailing spaces after plain values are not part of them. */
	load_ok(path, "context1", &c);
	assert_string_equal(c.server, "http://example.com");
	assert_string_equal(c.ca_pem, "CADATA");
	assert_null(c.client_cert_pem);
	assert_null(c.client_key_pem);
	assert_null(c.token);
	kube_conn_free(&c);
	free(path);
}

static void test_fixture_second_file(void **state)
{
	char *path = fixture("kubeconfig-2.yaml");
	struct kube_conn c;

	load_ok(path, NULL, &c);
	assert_string_equal(c.context, "contextA");
	assert_string_equal(c.server, "http://example2.com");
	assert_string_equal(c.ca_pem, "CADAT@");
	assert_string_equal(c.client_cert_pem, "]SER_CADATA");
	assert_string_equal(c.client_key_pem, "]SER_CKDATA");
	kube_conn_free(&c);
	free(path);
}

/* Its current-context names a context it does not have. */
static void test_fixture_dupe_cluster_alone(void **state)
{
	char *path = fixture("kubeconfig-dupe-cluster.yaml");

	load_fails(path, NULL, "kubeconfig @: context \"context2\" not found");
	free(path);
}

static void test_fixture_merge(void **state)
{
	char *main_file = fixture("kubeconfig.yaml");
	char *dupe = fixture("kubeconfig-dupe-cluster.yaml");
	char *second = fixture("kubeconfig-2.yaml");
	char *list;
	struct kube_conn c;
	char err[512];

	/* The dupe file's current-context comes first and names the main file's context. */
	list = xasprintf("%s:%s", dupe, main_file);
	setenv("KUBECONFIG", list, 1);
	if (!kube_conn_load(NULL, &c, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(c.context, "context2");
	assert_string_equal(c.namespace, "namespace2");
	assert_string_equal(c.client_cert_pem, "USER2_CADATA");
	assert_non_null(strstr(c.origin, list));
	kube_conn_free(&c);
	/* cluster1 is in both: the dupe file's, first, wins (same values here). */
	struct kube_conn_opts o = {.context = "context1"};
	if (!kube_conn_load(&o, &c, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(c.server, "http://example.com");
	assert_string_equal(c.ca_pem, "CADATA");
	kube_conn_free(&c);
	free(list);

	/* kubeconfig-2 first: its current-context wins, the main file adds its contexts. */
	list = xasprintf("%s:%s", second, main_file);
	setenv("KUBECONFIG", list, 1);
	if (!kube_conn_load(NULL, &c, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(c.context, "contextA");
	kube_conn_free(&c);
	o.context = "context2";
	if (!kube_conn_load(&o, &c, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(c.server, "http://example2.com");
	assert_string_equal(c.ca_pem, "CADATA2");
	kube_conn_free(&c);
	free(list);

	free(main_file);
	free(dupe);
	free(second);
}

/* Four-space list indentation, proxies, and one bad scheme. */
static void test_fixture_proxy_url(void **state)
{
	char *path = fixture("kubeconfig-proxy-url.yaml");
	struct kube_conn c;

	load_ok(path, NULL, &c);
	assert_string_equal(c.server, "http://example1.com");
	assert_string_equal(c.proxy_url, "socks5://example:1187");
	kube_conn_free(&c);
	load_ok(path, "contextB", &c);
	assert_string_equal(c.server, "https://example2.com");
	assert_string_equal(c.proxy_url, "http://example:9443");
	assert_false(c.insecure);
	kube_conn_free(&c);
	load_ok(path, "contextE", &c);
	assert_true(c.insecure);
	assert_null(c.proxy_url);
	kube_conn_free(&c);
	load_fails(path, "contextD",
		   "kubeconfig @: cluster \"clusterD\": server \"htto://exampleerror.com\" is not "
		   "an http:// or https:// URL");
	free(path);
}

static void test_fixture_tls_server_name(void **state)
{
	char *path = fixture("tls-server-name-kubeconfig.yaml");
	struct kube_conn c;

	load_ok(path, NULL, &c);
	assert_string_equal(c.context, "context");
	assert_string_equal(c.tls_server_name, "kube.example2.com");
	assert_true(c.insecure);
	kube_conn_free(&c);
	free(path);
}

/* --- our own files -------------------------------------------------------------- */

#define CLUSTER_OK     \
	"clusters:\n"  \
	"- name: c\n"  \
	"  cluster:\n" \
	"    server: https://10.0.0.1:6443/\n"

static void test_missing_context(void **state)
{
	char *path = put_file("missing-context",
			      CLUSTER_OK "contexts:\n- name: a\n  context: {cluster: c}\n"
					 "- name: b\n  context: {cluster: c}\n");

	load_fails(path, "prod", "kubeconfig @: context \"prod\" not found");
	load_fails(path, NULL,
		   "kubeconfig @: no current-context set; name one of the contexts (a, b)");
	free(path);

	path = put_file("empty", "");
	load_fails(path, NULL,
		   "kubeconfig @: no current-context set; name one of the contexts (there are "
		   "none)");
	free(path);
}

static void test_missing_cluster_and_user(void **state)
{
	char *path = put_file("dangling",
			      CLUSTER_OK "contexts:\n"
					 "- name: no-cluster\n  context: {cluster: gone}\n"
					 "- name: no-user\n  context: {cluster: c, user: gone}\n"
					 "- name: nothing\n  context: {}\n");

	load_fails(path, "no-cluster",
		   "kubeconfig @: context \"no-cluster\": cluster \"gone\" not found");
	load_fails(path, "no-user", "kubeconfig @: context \"no-user\": user \"gone\" not found");
	load_fails(path, "nothing", "kubeconfig @: context \"nothing\" names no cluster");
	free(path);
}

/* A name may hold any character; the error names it with escapes, on one line. */
static void test_error_with_control_characters_stays_one_line(void **state)
{
	char *path =
		put_file("control-chars", CLUSTER_OK
			 "contexts:\n"
			 "- name: \"aks\"\n  context: {cluster: c, user: \"ak\\ns\\tx\\x01\"}\n");

	load_fails(path, "aks",
		   "kubeconfig @: context \"aks\": user \"ak\\ns\\tx\\x01\" not found");
	free(path);
}

static void test_bad_base64(void **state)
{
	char *path = put_file("bad-base64", "clusters:\n"
					    "- name: c\n"
					    "  cluster:\n"
					    "    server: https://k\n"
					    "    certificate-authority-data: Q0FE!VRB\n"
					    "users:\n"
					    "- name: u\n"
					    "  user:\n"
					    "    client-certificate-data: Q0FEQVRB\n"
					    "    client-key-data: Q0FEQVR\n"
					    "contexts:\n"
					    "- name: ca\n  context: {cluster: c}\n"
					    "- name: key\n  context: {cluster: ok, user: u}\n"
					    "- name: ok\n  context: {cluster: ok}\n"
					    "current-context: ok\n");
	char *ok =
		put_file("ok-cluster", "clusters:\n- name: ok\n  cluster: {server: https://k}\n");
	char *list = xasprintf("%s:%s", path, ok);
	struct kube_conn c;
	char err[512];

	load_fails(path, "ca",
		   "kubeconfig @: cluster \"c\": certificate-authority-data is not valid base64 "
		   "(at byte 4)");
	/* The broken cluster is not the chosen one: no error. */
	setenv("KUBECONFIG", list, 1);
	if (!kube_conn_load(NULL, &c, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(c.server, "https://k");
	kube_conn_free(&c);
	struct kube_conn_opts o = {.context = "key"};
	assert_false(kube_conn_load(&o, &c, err, sizeof(err)));
	char *want = xasprintf("kubeconfig %s: user \"u\": client-key-data is not valid base64 "
			       "(at byte 7)",
			       path);
	assert_string_equal(err, want);
	free(want);
	free(list);
	free(ok);
	free(path);
}

static void test_plugins_refused(void **state)
{
	char *path = put_file("plugins",
			      CLUSTER_OK "users:\n"
					 "- name: eks\n"
					 "  user:\n"
					 "    exec:\n"
					 "      apiVersion: client.authentication.k8s.io/v1\n"
					 "      command: aws\n"
					 "      args: [eks, get-token]\n"
					 "- name: gke\n"
					 "  user:\n"
					 "    auth-provider:\n"
					 "      name: gcp\n"
					 "- name: admin-as\n"
					 "  user:\n"
					 "    token: abc\n"
					 "    as: someone\n"
					 "- name: plain\n"
					 "  user:\n"
					 "    token: abc\n"
					 "contexts:\n"
					 "- {name: eks, context: {cluster: c, user: eks}}\n"
					 "- {name: gke, context: {cluster: c, user: gke}}\n"
					 "- {name: as, context: {cluster: c, user: admin-as}}\n"
					 "- {name: plain, context: {cluster: c, user: plain}}\n");
	struct kube_conn c;

	/* v1 wants interactiveMode (client-go's validation); v1beta1 defaults it. */
	load_fails(path, "eks",
		   "kubeconfig @:9: user \"eks\": exec: interactiveMode: missing (Never or "
		   "IfAvailable; required with client.authentication.k8s.io/v1)");
	load_fails(path, "gke",
		   "kubeconfig @: user \"gke\": auth-provider plugins are not supported (use a "
		   "token or a client certificate)");
	load_fails(path, "as",
		   "kubeconfig @: user \"admin-as\": impersonation (as, as-groups, ...) is not "
		   "supported");
	/* Users nobody asked for may have plugins. */
	load_ok(path, "plain", &c);
	assert_string_equal(c.token, "abc");
	/* The trailing '/' of the server is dropped, so paths can be appended. */
	assert_string_equal(c.server, "https://10.0.0.1:6443");
	kube_conn_free(&c);
	free(path);
}

/* Paths in a kubeconfig are relative to the file's folder, not to the working directory. */
static void test_relative_paths(void **state)
{
	char *ca = put_file("rel/certs/ca.crt", "-----BEGIN CERTIFICATE-----\nCA\n");
	char *crt = put_file("rel/certs/client.crt", "CLIENT CERT\n");
	char *key = put_file("elsewhere/client.key", "CLIENT KEY\n");
	char *tok = put_file("rel/token", "  tok-from-file\n");
	char *text = xasprintf("clusters:\n"
			       "- name: c\n"
			       "  cluster:\n"
			       "    server: https://k:6443\n"
			       "    certificate-authority: certs/ca.crt\n"
			       "users:\n"
			       "- name: u\n"
			       "  user:\n"
			       "    client-certificate: certs/client.crt\n"
			       "    client-key: %s\n"
			       "    tokenFile: token\n"
			       "contexts:\n"
			       "- {name: x, context: {cluster: c, user: u, namespace: ns}}\n"
			       "current-context: x\n",
			       key);
	char *path = put_file("rel/config", text);
	char cwd[PATH_MAX];
	struct kube_conn c;

	load_ok(path, NULL, &c);
	assert_string_equal(c.ca_pem, "-----BEGIN CERTIFICATE-----\nCA\n");
	assert_string_equal(c.client_cert_pem, "CLIENT CERT\n");
	assert_string_equal(c.client_key_pem, "CLIENT KEY\n");
	assert_string_equal(c.token, "tok-from-file");
	assert_string_equal(c.token_file, tok);
	assert_string_equal(c.namespace, "ns");
	kube_conn_free(&c);

	/* A relative kubeconfig path: its files are found next to it still. */
	struct kube_conn_opts rel = {.kubeconfig = "rel/config"};
	char err[512];
	bool ok;

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmp), 0);
	ok = kube_conn_load(&rel, &c, err, sizeof(err));
	/* Back before anything can fail, so the other tests run where they started. */
	assert_int_equal(chdir(cwd), 0);
	if (!ok)
		fail_msg("%s", err);
	assert_string_equal(c.client_cert_pem, "CLIENT CERT\n");
	assert_string_equal(c.token_file, "rel/token");
	kube_conn_free(&c);

	/* A missing file is named as resolved. */
	assert_int_equal(unlink(ca), 0);
	char *want = xasprintf("kubeconfig @: cluster \"c\": certificate-authority %s/rel/certs/"
			       "ca.crt: cannot read: No such file or directory",
			       tmp);
	load_fails(path, NULL, want);
	free(want);

	free(ca);
	free(crt);
	free(key);
	free(tok);
	free(text);
	free(path);
}

/* Inline data wins over a file given too; the file is then never read. */
static void test_data_wins_over_file(void **state)
{
	char *path = put_file("both", "clusters:\n"
				      "- name: c\n"
				      "  cluster:\n"
				      "    server: https://k\n"
				      "    certificate-authority: /nonexistent/ca.crt\n"
				      "    certificate-authority-data: Q0FEQVRB\n"
				      "contexts: [{name: x, context: {cluster: c}}]\n"
				      "current-context: x\n");
	struct kube_conn c;

	load_ok(path, NULL, &c);
	assert_string_equal(c.ca_pem, "CADATA");
	kube_conn_free(&c);
	free(path);
}

static void test_certificate_needs_key(void **state)
{
	char *path = put_file("no-key", CLUSTER_OK "users:\n"
						   "- name: u\n"
						   "  user:\n"
						   "    client-certificate-data: Q0FEQVRB\n"
						   "- name: v\n"
						   "  user:\n"
						   "    client-key-data: Q0FEQVRB\n"
						   "contexts:\n"
						   "- {name: u, context: {cluster: c, user: u}}\n"
						   "- {name: v, context: {cluster: c, user: v}}\n");

	load_fails(path, "u", "kubeconfig @: user \"u\": client-certificate without client-key");
	load_fails(path, "v", "kubeconfig @: user \"v\": client-key without client-certificate");
	free(path);
}

/* KUBECONFIG: the first file to define a name wins whole; current-context from the first setter. */
static void test_kubeconfig_list(void **state)
{
	char *a = put_file("list/a", "clusters:\n"
				     "- name: shared\n"
				     "  cluster: {server: https://from-a}\n"
				     "contexts:\n"
				     "- name: ctx\n"
				     "  context: {cluster: shared, user: u}\n");
	char *b = put_file("list/b", "clusters:\n"
				     "- name: shared\n"
				     "  cluster:\n"
				     "    server: https://from-b\n"
				     "    insecure-skip-tls-verify: true\n"
				     "users:\n"
				     "- name: u\n"
				     "  user: {token: from-b}\n"
				     "contexts:\n"
				     "- name: ctx\n"
				     "  context: {cluster: other, namespace: b}\n"
				     "current-context: ctx\n");
	char *c3 = put_file("list/c", "current-context: later\n");
	/* Empty entries and a file that does not exist are skipped. */
	char *list = xasprintf(":%s/list/missing:%s::%s:%s:", tmp, a, b, c3);
	struct kube_conn c;
	char err[512];

	setenv("KUBECONFIG", list, 1);
	if (!kube_conn_load(NULL, &c, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(c.context, "ctx");
	assert_string_equal(c.server, "https://from-a");
	/* Not even the keys a's "shared" lacks come from b's. */
	assert_false(c.insecure);
	assert_string_equal(c.token, "from-b");
	assert_string_equal(c.namespace, "default");
	kube_conn_free(&c);
	free(list);

	/* The other way round. */
	list = xasprintf("%s:%s", b, a);
	setenv("KUBECONFIG", list, 1);
	assert_false(kube_conn_load(NULL, &c, err, sizeof(err)));
	char *want = xasprintf("kubeconfig %s: context \"ctx\": cluster \"other\" not found", list);
	assert_string_equal(err, want);
	free(want);
	free(list);

	/* An explicit file is read alone, whatever KUBECONFIG says. */
	struct kube_conn_opts o = {.kubeconfig = a, .context = "ctx"};
	assert_false(kube_conn_load(&o, &c, err, sizeof(err)));
	want = xasprintf("kubeconfig %s: context \"ctx\": user \"u\" not found", a);
	assert_string_equal(err, want);
	free(want);

	list = xasprintf("%s/nothing:%s/nothing-either", tmp, tmp);
	setenv("KUBECONFIG", list, 1);
	assert_false(kube_conn_load(NULL, &c, err, sizeof(err)));
	want = xasprintf("kubeconfig %s: none of the files in KUBECONFIG exists", list);
	assert_string_equal(err, want);
	free(want);
	free(list);

	free(a);
	free(b);
	free(c3);
}

static void test_malformed_files(void **state)
{
	struct {
		const char *text;
		const char *want;
	} cases[] = {
		{"clusters: [\n", "kubeconfig @: line 2: did not find expected node content "
				  "while parsing a flow node"},
		{"- a\n- b\n", "kubeconfig @:1: expected a mapping (apiVersion, clusters, ...)"},
		{"clusters: {a: b}\n", "kubeconfig @:1: clusters: expected a list"},
		{"clusters:\n- just-a-string\n",
		 "kubeconfig @:2: clusters[0]: expected a mapping with name and cluster"},
		{"users:\n- user: {}\n", "kubeconfig @:2: users[0]: no name"},
		{"clusters:\n- name: c\n  cluster: [a]\n",
		 "kubeconfig @:3: cluster \"c\": cluster: expected a mapping"},
		{"clusters:\n- name: c\n  cluster:\n    server: [a]\n",
		 "kubeconfig @:4: cluster \"c\": server: expected a string"},
		{"clusters:\n- name: c\n  cluster:\n    insecure-skip-tls-verify: maybe\n",
		 "kubeconfig @:4: cluster \"c\": insecure-skip-tls-verify: expected true or false"},
		{"clusters:\n- name: c\n  cluster:\n    insecure-skip-tls-verify: \"true\"\n",
		 "kubeconfig @:4: cluster \"c\": insecure-skip-tls-verify: expected true or false"},
		{"contexts:\n- name: x\n- name: x\n",
		 "kubeconfig @:3: context \"x\" is defined twice"},
		{"current-context: [x]\n", "kubeconfig @:1: current-context: expected a string"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char name[32];
		char *path;

		snprintf(name, sizeof(name), "malformed-%zu", i);
		path = put_file(name, cases[i].text);
		load_fails(path, "x", cases[i].want);
		free(path);
	}
}

static void test_token_file_and_reload(void **state)
{
	char *tok = put_file("rot/token", "first\n");
	char *path = put_file("rot/config",
			      CLUSTER_OK "users:\n"
					 "- name: u\n"
					 "  user:\n"
					 "    token: inline\n"
					 "    tokenFile: token\n"
					 "- name: gone\n"
					 "  user:\n"
					 "    tokenFile: no-such-token\n"
					 "- name: fallback\n"
					 "  user:\n"
					 "    token: inline\n"
					 "    tokenFile: no-such-token\n"
					 "contexts:\n"
					 "- {name: u, context: {cluster: c, user: u}}\n"
					 "- {name: gone, context: {cluster: c, user: gone}}\n"
					 "- {name: fb, context: {cluster: c, user: fallback}}\n");
	struct kube_conn c;
	char err[256];

	/* The file wins over the inline token. */
	load_ok(path, "u", &c);
	assert_string_equal(c.token, "first");
	free(put_file("rot/token", "second\n"));
	assert_true(kube_conn_reload_token(&c, err, sizeof(err)));
	assert_string_equal(c.token, "second");
	/* A failed reload keeps the old token. */
	assert_int_equal(unlink(tok), 0);
	assert_false(kube_conn_reload_token(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "No such file or directory"));
	assert_string_equal(c.token, "second");
	kube_conn_free(&c);

	char *want = xasprintf("kubeconfig @: user \"gone\": tokenFile %s/rot/no-such-token: "
			       "cannot read: No such file or directory",
			       tmp);
	load_fails(path, "gone", want);
	free(want);
	/* Unreadable with an inline token to fall back on. */
	load_ok(path, "fb", &c);
	assert_string_equal(c.token, "inline");
	kube_conn_free(&c);

	/* Nothing to reload. */
	struct kube_conn none = {0};
	assert_true(kube_conn_reload_token(&none, err, sizeof(err)));
	free(tok);
	free(path);
}

static void test_tls_server_name_needs_insecure(void **state)
{
	char *path = put_file("sni", "clusters:\n"
				     "- name: c\n"
				     "  cluster:\n"
				     "    server: https://10.0.0.1\n"
				     "    tls-server-name: kubernetes\n"
				     "contexts: [{name: x, context: {cluster: c}}]\n");

	load_fails(path, "x",
		   "kubeconfig @: cluster \"c\": tls-server-name is not supported (the "
		   "certificate is checked against the server's host name)");
	free(path);
}

static void test_to_tls(void **state)
{
	struct kube_conn c = {
		.ca_pem = "CA",
		.client_cert_pem = "CERT",
		.client_key_pem = "KEY",
		.insecure = true,
	};
	struct httpc_tls tls = {.ca_file = "/stale"};

	kube_conn_to_tls(&c, &tls);
	assert_string_equal(tls.ca_pem, "CA");
	assert_null(tls.ca_file);
	assert_string_equal(tls.client_cert_pem, "CERT");
	assert_string_equal(tls.client_key_pem, "KEY");
	assert_true(tls.insecure_skip_verify);
}

/* --- in-cluster ----------------------------------------------------------------- */

static void test_in_cluster(void **state)
{
	char *sa = xasprintf("%s/sa", tmp);
	char *tok = put_file("sa/token", "eyJhbGciOi.token\n");
	char *ca = put_file("sa/ca.crt", "-----BEGIN CERTIFICATE-----\nSA\n");
	char *ns = put_file("sa/namespace", "esaas-system\n");
	struct kube_conn_opts o = {.source = KUBE_SOURCE_IN_CLUSTER, .sa_dir = sa};
	struct kube_conn c;
	char err[512];

	assert_false(kube_conn_load(&o, &c, err, sizeof(err)));
	assert_string_equal(err, "in-cluster: KUBERNETES_SERVICE_HOST and "
				 "KUBERNETES_SERVICE_PORT must both be set");

	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	if (!kube_conn_load(&o, &c, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(c.server, "https://10.96.0.1:443");
	assert_string_equal(c.token, "eyJhbGciOi.token");
	assert_string_equal(c.token_file, tok);
	assert_string_equal(c.ca_pem, "-----BEGIN CERTIFICATE-----\nSA\n");
	assert_string_equal(c.namespace, "esaas-system");
	assert_false(c.insecure);
	assert_null(c.context);
	assert_non_null(strstr(c.origin, "in-cluster"));
	kube_conn_free(&c);

	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
	assert_int_equal(unlink(ns), 0);
	if (!kube_conn_load(&o, &c, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(c.server, "https://[fd00::1]:6443");
	assert_string_equal(c.namespace, "default");
	kube_conn_free(&c);

	setenv("KUBERNETES_SERVICE_PORT", "https", 1);
	assert_false(kube_conn_load(&o, &c, err, sizeof(err)));
	assert_string_equal(err, "in-cluster: KUBERNETES_SERVICE_PORT \"https\" is not a port");
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);

	assert_int_equal(unlink(ca), 0);
	assert_false(kube_conn_load(&o, &c, err, sizeof(err)));
	char *want = xasprintf("in-cluster: service account CA %s/ca.crt: cannot read: No such "
			       "file or directory",
			       sa);
	assert_string_equal(err, want);
	free(want);

	assert_int_equal(unlink(tok), 0);
	assert_false(kube_conn_load(&o, &c, err, sizeof(err)));
	want = xasprintf("in-cluster: service account token %s/token: cannot read: No such file "
			 "or directory",
			 sa);
	assert_string_equal(err, want);
	free(want);
	assert_null(c.server);

	free(sa);
	free(tok);
	free(ca);
	free(ns);
}

/* AUTO: KUBECONFIG, then ~/.kube/config, then in-cluster. */
static void test_auto_order(void **state)
{
	char *home = xasprintf("%s/home", tmp);
	char *cfg = put_file("home/.kube/config",
			     CLUSTER_OK "contexts: [{name: h, context: {cluster: c}}]\n"
					"current-context: h\n");
	char *sa = xasprintf("%s/auto-sa", tmp);
	char *tok = put_file("auto-sa/token", "t\n");
	char *ca = put_file("auto-sa/ca.crt", "CA\n");
	struct kube_conn_opts o = {.sa_dir = sa};
	struct kube_conn c;
	char err[512];

	setenv("HOME", home, 1);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	if (!kube_conn_load(&o, &c, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(c.context, "h");
	kube_conn_free(&c);

	/* No kubeconfig anywhere: in-cluster. */
	assert_int_equal(unlink(cfg), 0);
	if (!kube_conn_load(&o, &c, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(c.server, "https://10.96.0.1:443");
	kube_conn_free(&c);

	/* Unless only kubeconfigs are wanted. */
	o.source = KUBE_SOURCE_KUBECONFIG;
	assert_false(kube_conn_load(&o, &c, err, sizeof(err)));
	char *want = xasprintf("kubeconfig %s/.kube/config: does not exist, KUBECONFIG is not set",
			       home);
	assert_string_equal(err, want);
	free(want);

	o.source = KUBE_SOURCE_AUTO;
	unsetenv("KUBERNETES_SERVICE_HOST");
	assert_false(kube_conn_load(&o, &c, err, sizeof(err)));
	want = xasprintf("kubeconfig %s/.kube/config: does not exist, KUBECONFIG is not set, and "
			 "not in a cluster (no KUBERNETES_SERVICE_HOST)",
			 home);
	assert_string_equal(err, want);
	free(want);

	free(home);
	free(cfg);
	free(sa);
	free(tok);
	free(ca);
}

/* The API server's Warning headers (299 - "text"), one or several a line,
 * quotes and backslashes escaped, a date after the text ignored. */
static void test_warning_headers(void **state)
{
	const char *none[] = {"Content-Type: application/json", NULL};
	assert_null(kube_warnings_parse(none));
	assert_null(kube_warnings_parse(NULL));
	const char *h[] = {
		"Content-Type: application/json",
		"Warning: 299 - \"unknown field \\\"spec.foo\\\"\"",
		"warning: 299 - \"a\\\\b\", 299 kube \"second\" \"Sat, 01 Jan 2000 00:00:00 GMT\"",
		"Warning: garbage",
		NULL,
	};
	char **w = kube_warnings_parse(h);
	assert_non_null(w);
	assert_string_equal(w[0], "unknown field \"spec.foo\"");
	assert_string_equal(w[1], "a\\b");
	assert_string_equal(w[2], "second");
	assert_null(w[3]);
	free(w);
}

/* --- exec credential plugins ------------------------------------------------------ */

static void test_exec_plugin_parsed(void **state)
{
	char *path =
		put_file("exec/config", "clusters:\n"
					"- name: c\n"
					"  cluster:\n"
					"    server: https://10.0.0.1:6443\n"
					"    certificate-authority-data: Q0EK\n"
					"    tls-server-name: api.example\n"
					"    insecure-skip-tls-verify: true\n"
					"users:\n"
					"- name: eks\n"
					"  user:\n"
					"    exec:\n"
					"      apiVersion: client.authentication.k8s.io/v1\n"
					"      command: aws\n"
					"      args: [--region, eu-west-1, eks, get-token]\n"
					"      env:\n"
					"      - {name: AWS_PROFILE, value: prod}\n"
					"      - {name: EMPTY, value: \"\"}\n"
					"      installHint: install the AWS CLI\n"
					"      provideClusterInfo: true\n"
					"      interactiveMode: Never\n"
					"- name: local\n"
					"  user:\n"
					"    exec:\n"
					"      apiVersion: client.authentication.k8s.io/v1beta1\n"
					"      command: ./bin/get-token\n"
					"contexts:\n"
					"- {name: eks, context: {cluster: c, user: eks}}\n"
					"- {name: local, context: {cluster: c, user: local}}\n"
					"current-context: eks\n");
	struct kube_conn c;
	char *want, *info;
	json_t *doc;

	load_ok(path, NULL, &c);
	assert_non_null(c.exec);
	assert_null(c.token);
	assert_string_equal(c.exec->api_version, KUBE_EXEC_V1);
	assert_string_equal(c.exec->command, "aws");
	assert_int_equal(c.exec->nargs, 4);
	assert_string_equal(c.exec->args[0], "--region");
	assert_string_equal(c.exec->args[3], "get-token");
	assert_int_equal(c.exec->nenv, 2);
	assert_string_equal(c.exec->env[0], "AWS_PROFILE=prod");
	assert_string_equal(c.exec->env[1], "EMPTY=");
	assert_string_equal(c.exec->install_hint, "install the AWS CLI");
	assert_true(c.exec->provide_cluster_info);
	assert_string_equal(c.exec->user, "eks");

	/* KUBERNETES_EXEC_INFO, as kubectl sets it: never interactive, the cluster. */
	info = kube_exec_info(&c);
	doc = json_loads(info, 0, NULL);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "kind")), "ExecCredential");
	assert_string_equal(json_string_value(json_object_get(doc, "apiVersion")), KUBE_EXEC_V1);
	json_t *spec = json_object_get(doc, "spec");
	assert_true(json_is_false(json_object_get(spec, "interactive")));
	json_t *cl = json_object_get(spec, "cluster");
	assert_string_equal(json_string_value(json_object_get(cl, "server")),
			    "https://10.0.0.1:6443");
	assert_string_equal(json_string_value(json_object_get(cl, "certificate-authority-data")),
			    "Q0EK");
	assert_string_equal(json_string_value(json_object_get(cl, "tls-server-name")),
			    "api.example");
	assert_true(json_is_true(json_object_get(cl, "insecure-skip-tls-verify")));
	json_decref(doc);
	free(info);
	kube_conn_free(&c);

	/* v1beta1 needs no interactiveMode; a command with a '/' is the file's folder's. */
	load_ok(path, "local", &c);
	want = xasprintf("%s/exec/./bin/get-token", tmp);
	assert_string_equal(c.exec->command, want);
	assert_int_equal(c.exec->nargs, 0);
	assert_false(c.exec->provide_cluster_info);
	info = kube_exec_info(&c);
	doc = json_loads(info, 0, NULL);
	assert_null(json_object_get(json_object_get(doc, "spec"), "cluster"));
	assert_string_equal(json_string_value(json_object_get(doc, "apiVersion")),
			    KUBE_EXEC_V1BETA1);
	json_decref(doc);
	free(info);
	free(want);
	kube_conn_free(&c);
	free(path);
}

static void test_exec_plugin_refusals(void **state)
{
	char *path = put_file("exec/refused", CLUSTER_OK
			      "users:\n"
			      "- name: always\n"
			      "  user:\n"
			      "    exec:\n"
			      "      apiVersion: client.authentication.k8s.io/v1\n"
			      "      command: kubelogin\n"
			      "      interactiveMode: Always\n"
			      "- name: odd-mode\n"
			      "  user:\n"
			      "    exec:\n"
			      "      apiVersion: client.authentication.k8s.io/v1\n"
			      "      command: kubelogin\n"
			      "      interactiveMode: Sometimes\n"
			      "- name: alpha\n"
			      "  user:\n"
			      "    exec:\n"
			      "      apiVersion: client.authentication.k8s.io/v1alpha1\n"
			      "      command: old\n"
			      "- name: no-command\n"
			      "  user:\n"
			      "    exec:\n"
			      "      apiVersion: client.authentication.k8s.io/v1beta1\n"
			      "- name: no-version\n"
			      "  user:\n"
			      "    exec: {command: aws}\n"
			      "- name: both\n"
			      "  user:\n"
			      "    token: abc\n"
			      "    exec:\n"
			      "      apiVersion: client.authentication.k8s.io/v1beta1\n"
			      "      command: aws\n"
			      "- name: empty\n"
			      "  user: {exec: {}}\n"
			      "- name: ok\n"
			      "  user: {token: abc}\n"
			      "contexts:\n"
			      "- {name: always, context: {cluster: c, user: always}}\n"
			      "- {name: odd-mode, context: {cluster: c, user: odd-mode}}\n"
			      "- {name: alpha, context: {cluster: c, user: alpha}}\n"
			      "- {name: no-command, context: {cluster: c, user: no-command}}\n"
			      "- {name: no-version, context: {cluster: c, user: no-version}}\n"
			      "- {name: both, context: {cluster: c, user: both}}\n"
			      "- {name: empty, context: {cluster: c, user: empty}}\n"
			      "- {name: ok, context: {cluster: c, user: ok}}\n");
	struct kube_conn c;

	load_fails(path, "always",
		   "kubeconfig @:11: user \"always\": exec: interactiveMode: Always is not "
		   "supported (esaasd never prompts: use Never or IfAvailable)");
	load_fails(path, "odd-mode",
		   "kubeconfig @:17: user \"odd-mode\": exec: interactiveMode: \"Sometimes\" is "
		   "not Never, IfAvailable or Always");
	load_fails(path, "alpha",
		   "kubeconfig @:21: user \"alpha\": exec: apiVersion: "
		   "\"client.authentication.k8s.io/v1alpha1\" is not supported "
		   "(client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1)");
	load_fails(path, "no-command",
		   "kubeconfig @:26: user \"no-command\": exec: command: missing");
	load_fails(path, "no-version",
		   "kubeconfig @:29: user \"no-version\": exec: apiVersion: missing "
		   "(client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1)");
	load_fails(path, "both",
		   "kubeconfig @: user \"both\": exec together with token, tokenFile or a client "
		   "certificate: keep one way to authenticate");
	load_fails(path, "empty",
		   "kubeconfig @:37: user \"empty\": exec: apiVersion: missing "
		   "(client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1)");
	/* Users nobody asked for may hold what esaasd cannot use. */
	load_ok(path, "ok", &c);
	assert_null(c.exec);
	kube_conn_free(&c);
	free(path);

	/* The shape of the section is checked wherever it is. */
	path = put_file("exec/shape", CLUSTER_OK "users:\n"
						 "- name: a\n"
						 "  user:\n"
						 "    exec:\n"
						 "      command: aws\n"
						 "      args: eks\n");
	load_fails(path, NULL,
		   "kubeconfig @:10: user \"a\": exec: args: expected a list of strings");
	free(path);
	path = put_file("exec/env", CLUSTER_OK "users:\n"
					       "- name: a\n"
					       "  user:\n"
					       "    exec:\n"
					       "      command: aws\n"
					       "      env:\n"
					       "      - {name: AWS_PROFILE}\n");
	load_fails(path, NULL, "kubeconfig @:11: user \"a\": exec: env[0]: value: missing");
	free(path);
	path = put_file("exec/args", CLUSTER_OK "users:\n"
						"- name: a\n"
						"  user:\n"
						"    exec:\n"
						"      command: aws\n"
						"      args: [eks, {a: b}]\n");
	load_fails(path, NULL, "kubeconfig @:10: user \"a\": exec: args[1]: expected a string");
	free(path);
}

static void test_exec_credential_parsed(void **state)
{
	struct kube_exec_cred cred;
	char err[256];
	int64_t ms;
	const char *token_v1 =
		"{\"kind\": \"ExecCredential\", \"apiVersion\": "
		"\"client.authentication.k8s.io/v1\","
		" \"spec\": {\"interactive\": false}, \"status\": {\"token\": \"k8s-aws-v1.abc\","
		" \"expirationTimestamp\": \"2026-12-07T11:19:04Z\"}}";

	assert_true(kube_exec_parse_credential(KUBE_EXEC_V1, token_v1, strlen(token_v1), &cred, err,
					       sizeof(err)));
	assert_string_equal(cred.token, "k8s-aws-v1.abc");
	assert_null(cred.client_cert_pem);
	assert_int_equal(cred.expires_wall_ms, 1796642344000LL);
	kube_exec_cred_free(&cred);

	/* The version must be the configured one (client-go refuses another). */
	assert_false(kube_exec_parse_credential(KUBE_EXEC_V1BETA1, token_v1, strlen(token_v1),
						&cred, err, sizeof(err)));
	assert_string_equal(err, "apiVersion: the kubeconfig says "
				 "client.authentication.k8s.io/v1beta1, the plugin returned "
				 "client.authentication.k8s.io/v1");

	static const struct {
		const char *text, *err;
	} bad[] = {
		{"not json", "output is not a JSON object: "},
		{"{\"kind\": \"Status\"}", "kind: expected ExecCredential, got Status"},
		{"{\"kind\": \"ExecCredential\", \"apiVersion\": "
		 "\"client.authentication.k8s.io/v1\"}",
		 "status: missing"},
		{"{\"kind\": \"ExecCredential\", \"apiVersion\": "
		 "\"client.authentication.k8s.io/v1\","
		 " \"status\": {}}",
		 "status: expected a token or clientCertificateData and clientKeyData"},
		{"{\"kind\": \"ExecCredential\", \"apiVersion\": "
		 "\"client.authentication.k8s.io/v1\","
		 " \"status\": {\"clientCertificateData\": \"CERT\"}}",
		 "status: clientCertificateData without clientKeyData"},
		{"{\"kind\": \"ExecCredential\", \"apiVersion\": "
		 "\"client.authentication.k8s.io/v1\","
		 " \"status\": {\"token\": 7}}",
		 "status.token: expected a string"},
		{"{\"kind\": \"ExecCredential\", \"apiVersion\": "
		 "\"client.authentication.k8s.io/v1\","
		 " \"status\": {\"token\": \"t\", \"expirationTimestamp\": \"tomorrow\"}}",
		 "status.expirationTimestamp: expected an RFC 3339 time"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (kube_exec_parse_credential(KUBE_EXEC_V1, bad[i].text, strlen(bad[i].text),
					       &cred, err, sizeof(err)))
			fail_msg("%s: parsed", bad[i].text);
		if (strncmp(err, bad[i].err, strlen(bad[i].err)) != 0)
			fail_msg("%s:\ngot      %s\nexpected %s", bad[i].text, err, bad[i].err);
	}

	/* A client certificate, no expiry: kept until a 401. */
	const char *cert = "{\"kind\": \"ExecCredential\", \"apiVersion\": "
			   "\"client.authentication.k8s.io/v1beta1\", \"status\": "
			   "{\"clientCertificateData\": \"CERT\", \"clientKeyData\": \"KEY\"}}";
	assert_true(kube_exec_parse_credential(KUBE_EXEC_V1BETA1, cert, strlen(cert), &cred, err,
					       sizeof(err)));
	assert_null(cred.token);
	assert_string_equal(cred.client_cert_pem, "CERT");
	assert_string_equal(cred.client_key_pem, "KEY");
	assert_int_equal(cred.expires_wall_ms, 0);
	kube_exec_cred_free(&cred);

	/* RFC 3339: fractions, offsets, lower case. */
	assert_true(kube_exec_parse_time("1970-01-01T00:00:00Z", &ms));
	assert_int_equal(ms, 0);
	assert_true(kube_exec_parse_time("2026-12-07T11:19:04.123456789Z", &ms));
	assert_int_equal(ms, 1796642344123LL);
	assert_true(kube_exec_parse_time("2026-12-07T12:19:04.5+01:00", &ms));
	assert_int_equal(ms, 1796642344500LL);
	assert_true(kube_exec_parse_time("2026-12-07t10:49:04-00:30", &ms));
	assert_int_equal(ms, 1796642344000LL);
	static const char *const not_times[] = {
		"",
		"2026-12-07",
		"2026-12-07T11:19:04",
		"2026-13-07T11:19:04Z",
		"2026-12-07T25:19:04Z",
		"2026-12-07T11:19:04.Z",
		"2026-12-07T11:19:04Z junk",
		"2026-12-07 11:19:04Z",
		"2026-02-30T00:00:00Z",
	};
	for (size_t i = 0; i < ARRAY_SIZE(not_times); i++) {
		if (kube_exec_parse_time(not_times[i], &ms))
			fail_msg("\"%s\" parsed", not_times[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_fixture_current_context, clear_env),
		cmocka_unit_test_setup(test_fixture_named_context, clear_env),
		cmocka_unit_test_setup(test_fixture_basic_auth_refused, clear_env),
		cmocka_unit_test_setup(test_fixture_empty_user, clear_env),
		cmocka_unit_test_setup(test_fixture_second_file, clear_env),
		cmocka_unit_test_setup(test_fixture_dupe_cluster_alone, clear_env),
		cmocka_unit_test_setup(test_fixture_merge, clear_env),
		cmocka_unit_test_setup(test_fixture_proxy_url, clear_env),
		cmocka_unit_test_setup(test_fixture_tls_server_name, clear_env),
		cmocka_unit_test_setup(test_missing_context, clear_env),
		cmocka_unit_test_setup(test_missing_cluster_and_user, clear_env),
		cmocka_unit_test_setup(test_error_with_control_characters_stays_one_line,
				       clear_env),
		cmocka_unit_test_setup(test_bad_base64, clear_env),
		cmocka_unit_test_setup(test_plugins_refused, clear_env),
		cmocka_unit_test_setup(test_exec_plugin_parsed, clear_env),
		cmocka_unit_test_setup(test_exec_plugin_refusals, clear_env),
		cmocka_unit_test(test_exec_credential_parsed),
		cmocka_unit_test_setup(test_relative_paths, clear_env),
		cmocka_unit_test_setup(test_data_wins_over_file, clear_env),
		cmocka_unit_test_setup(test_certificate_needs_key, clear_env),
		cmocka_unit_test_setup(test_kubeconfig_list, clear_env),
		cmocka_unit_test_setup(test_malformed_files, clear_env),
		cmocka_unit_test_setup(test_token_file_and_reload, clear_env),
		cmocka_unit_test(test_warning_headers),
		cmocka_unit_test_setup(test_tls_server_name_needs_insecure, clear_env),
		cmocka_unit_test_setup(test_to_tls, clear_env),
		cmocka_unit_test_setup(test_in_cluster, clear_env),
		cmocka_unit_test_setup(test_auto_order, clear_env),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
