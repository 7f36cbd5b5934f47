#include "sim/podnet.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "common/json.h"
#include "common/log.h"
#include "sim/apiserver.h"
#include "sim/call.h"
#include "sim/es.h"
#include "sim/netpol.h"
#include "sim/simconf.h"

static struct evhttp *http;
static SSL_CTX *ctx;

/* A listener and the client whose connections it stands for. */
struct listener {
	int port;
	struct netpol_source src;
};
static struct listener *listeners;
static size_t nlisteners;

/* "SERVICE.NAMESPACE.svc[.cluster.local][:PORT]" (or a pod's name under a
 * headless service, POD.SERVICE.NAMESPACE.svc...): the Service, the
 * namespace and the port; false for another form of name. */
static bool split_name(const char *name, char **svc, char **ns, int *port)
{
	char *copy = xstrdup(name ? name : "");
	char *colon = strchr(copy, ':');
	*port = 443;
	if (colon) {
		*colon = '\0';
		if (!parse_int(colon + 1, 1, 65535, port)) {
			free(copy);
			return false;
		}
	}
	size_t n = strlen(copy);
	static const char tail[] = ".cluster.local";
	if (n > sizeof(tail) - 1 && !strcmp(copy + n - (sizeof(tail) - 1), tail))
		copy[n - (sizeof(tail) - 1)] = '\0';
	n = strlen(copy);
	if (n < 5 || strcmp(copy + n - 4, ".svc") != 0) {
		free(copy);
		return false;
	}
	copy[n - 4] = '\0';
	char *dot = strrchr(copy, '.');
	if (!dot) {
		free(copy);
		return false;
	}
	*dot = '\0';
	*ns = xstrdup(dot + 1);
	char *svc_start = strrchr(copy, '.');
	*svc = xstrdup(svc_start ? svc_start + 1 : copy);
	free(copy);
	return true;
}

static void log_dropped(const char *ns, const char *svc, int port, const struct netpol_source *src)
{
	log_info("pod network: %s/%s%s%.0d from %s%s%s: dropped by NetworkPolicy", ns, svc,
		 port ? ":" : "", port, src->ns ? src->ns : src->ip, src->ns ? " " : "",
		 src->ns ? src->ip : "");
}

/* The client whose listener accepted the connection on fd. */
static const struct netpol_source *source_of_fd(evutil_socket_t fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return NULL;
	int port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						  : ((struct sockaddr_in *)&ss)->sin_port);
	for (size_t i = 0; i < nlisteners; i++) {
		if (listeners[i].port == port)
			return &listeners[i].src;
	}
	return NULL;
}

/*
 * The certificate of the namespace the client names (SNI): its nodes'
 * own; a namespace whose nodes have no TLS on HTTP ends the handshake.
 * Here the simulator learns which Service the connection goes to, though
 * not its port (the name has none): when the NetworkPolicies of the pod it
 * reaches drop the client on every port of the Service, as a network
 * plugin that enforces them would (sim/netpol.h), nothing the server
 * writes reaches the client: its handshake never gets an answer, as a
 * dropped SYN never does, and it gives up at its own timeout, in its
 * connect phase.  A client dropped on the port it asks for only
 * (request_cb) hears nothing after the handshake instead.
 */
static int servername_cb(SSL *ssl, int *alert, void *arg)
{
	(void)arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	char *svc = NULL, *ns = NULL, *cert_pem = NULL, *key_pem = NULL;
	int port;
	int rc = SSL_TLSEXT_ERR_ALERT_FATAL;
	*alert = SSL_AD_UNRECOGNIZED_NAME;
	if (!split_name(name, &svc, &ns, &port))
		goto done;
	const struct netpol_source *src = source_of_fd(SSL_get_fd(ssl));
	if (src && apiserver_service_drops(ns, svc, src)) {
		log_dropped(ns, svc, 0, src);
		SSL_set0_wbio(ssl, BIO_new(BIO_s_null()));
	}
	if (!sim_es_http_tls(ns, &cert_pem, &key_pem))
		goto done;
	BIO *cb = BIO_new_mem_buf(cert_pem, -1), *kb = BIO_new_mem_buf(key_pem, -1);
	X509 *cert = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
	EVP_PKEY *key = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	if (cert && key && SSL_use_certificate(ssl, cert) == 1 && SSL_use_PrivateKey(ssl, key) == 1)
		rc = SSL_TLSEXT_ERR_OK;
	else
		log_warn("pod network: %s: the nodes' certificate or key does not load", ns);
	X509_free(cert);
	EVP_PKEY_free(key);
	BIO_free(cb);
	BIO_free(kb);
done:
	free(svc);
	free(ns);
	free(cert_pem);
	free(key_pem);
	return rc;
}

static struct bufferevent *bev_cb(struct event_base *base, void *arg)
{
	(void)arg;
	SSL *ssl = SSL_new(ctx);
	if (!ssl)
		return NULL;
	struct bufferevent *bev = bufferevent_openssl_socket_new(
		base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev)
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

/* The client of the listener the request came in on. */
static const struct netpol_source *source_of(struct evhttp_request *req)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
	return bev ? source_of_fd(bufferevent_getfd(bev)) : NULL;
}

static void request_cb(struct evhttp_request *req, void *arg)
{
	(void)arg;
	const struct netpol_source *src = source_of(req);
	char *svc = NULL, *ns = NULL, *pod = NULL;
	bool dropped = false;
	int port;
	if (src && split_name(evhttp_find_header(evhttp_request_get_input_headers(req), "Host"),
			      &svc, &ns, &port))
		pod = apiserver_service_endpoint(ns, svc, port, src, &dropped);
	if (dropped) {
		/* No answer ever: the client gives up at its timeout.  The
		 * request goes with its connection when the client closes. */
		log_dropped(ns, svc, port, src);
		free(svc);
		free(ns);
		free(pod);
		return;
	}
	struct call *c = call_new(req);
	if (!src || !pod) {
		/* kube-proxy rejects a connection to a Service without a
		 * ready endpoint; here the connection is already made, so
		 * the refusal is a 502 the client cannot take for a node's. */
		call_reply_json(c, 502,
				json_pack("{s:s}", "error",
					  "connect: connection refused (no ready endpoint)"));
	} else {
		sim_es_direct(c, ns, pod, c->path, call_header(c, "Authorization"));
	}
	free(svc);
	free(ns);
	free(pod);
}

/* Listen on host:port for connections of the client src (borrowed from
 * the configuration). */
static bool podnet_listen(const char *host, int port, const json_t *src, int *bound_port,
			  char **err)
{
	struct evhttp_bound_socket *sock =
		evhttp_bind_socket_with_handle(http, host, (ev_uint16_t)port);
	if (!sock) {
		*err = xasprintf("pod network: cannot listen on %s:%d", host, port);
		return false;
	}
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &len) != 0) {
		*err = xstrdup("pod network: getsockname failed");
		return false;
	}
	*bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						     : ((struct sockaddr_in *)&ss)->sin_port);
	listeners = xrealloc(listeners, (nlisteners + 1) * sizeof(*listeners));
	listeners[nlisteners++] = (struct listener){
		.port = *bound_port,
		.src = {.ip = json_string_value(json_object_get(src, "ip")),
			.ns = json_string_value(json_object_get(src, "namespace")),
			.labels = json_object_get(src, "labels")},
	};
	return true;
}

bool podnet_start(struct event_base *base, const char *host, int port, int *bound_port, char **err)
{
	const json_t *conf = simconf_get()->pod_network;
	size_t i;
	json_t *o;

	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
		*err = xstrdup("pod network: cannot set up TLS");
		return false;
	}
	SSL_CTX_set_tlsext_servername_callback(ctx, servername_cb);
	http = evhttp_new(base);
	evhttp_set_bevcb(http, bev_cb, NULL);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
						 EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	evhttp_set_gencb(http, request_cb, NULL);
	if (!podnet_listen(host, port, conf, bound_port, err))
		return false;
	json_array_foreach (json_object_get(conf, "others"), i, o) {
		char *ohost = NULL;
		int oport = 0, obound;
		bool ok = simconf_split_listen(json_string_value(json_object_get(o, "listen")),
					       &ohost, &oport) &&
			  podnet_listen(ohost, oport, o, &obound, err);
		free(ohost);
		if (!ok)
			return false;
	}
	return true;
}

void podnet_stop(void)
{
	if (http)
		evhttp_free(http);
	http = NULL;
	free(listeners);
	listeners = NULL;
	nlisteners = 0;
	SSL_CTX_free(ctx);
	ctx = NULL;
}
