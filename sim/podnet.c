#include "sim/podnet.h"

#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/listener.h>
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

/*
 * A client connects to one port, and speaks TLS or plain HTTP there, as to
 * a node's port 9200 (https for a node with TLS on HTTP, http without).
 * The port is a front that reads the connection's first byte (a TLS
 * handshake begins with 0x16, a handshake record; an HTTP request with a
 * method's letter) and relays the connection to one of two servers on
 * loopback ports of their own: http_tls, which ends TLS, or http_plain.
 * Each client (a front) has a pair of them, so that the server knows the
 * client by the port it accepted on (source_of_fd()).
 */
static struct evhttp *http_tls, *http_plain;
static SSL_CTX *ctx;
static struct event_base *podnet_base;

/* A server's port and the client whose connections it stands for. */
struct listener {
	int port;
	struct netpol_source src;
};
static struct listener *listeners;
static size_t nlisteners;

/* A front: the port a client connects to, and the servers behind it. */
struct front {
	struct evconnlistener *l;
	int tls_port, plain_port;
};
static struct front *fronts;
static size_t nfronts;

/* One connection relayed, both ways: a the client's, b the server's. */
struct relay {
	struct bufferevent *a, *b;
	size_t front;
	LIST_ENTRY(relay) link;
};
static LIST_HEAD(, relay) relays = LIST_HEAD_INITIALIZER(relays);

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
	/* Plain HTTP to a node with TLS on HTTP: the node closes the
	 * connection without an answer ("received plaintext http traffic on
	 * an https channel, closing connection", Elasticsearch's
	 * SecurityNetty4HttpServerTransport). */
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
	char *cert_pem = NULL, *key_pem = NULL;
	if (pod && bev && !bufferevent_openssl_get_ssl(bev) &&
	    sim_es_http_tls(ns, &cert_pem, &key_pem)) {
		shutdown(bufferevent_getfd(bev), SHUT_RDWR);
		free(cert_pem);
		free(key_pem);
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

static void relay_free(struct relay *r)
{
	LIST_REMOVE(r, link);
	bufferevent_free(r->a);
	if (r->b)
		bufferevent_free(r->b);
	free(r);
}

static void relay_read_cb(struct bufferevent *from, void *arg)
{
	struct relay *r = arg;
	struct bufferevent *to = from == r->a ? r->b : r->a;
	bufferevent_write_buffer(to, bufferevent_get_input(from));
}

/* Once what one side said before it closed has reached the other. */
static void relay_drained_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	relay_free(arg);
}

/* One side closed: the other gets what is still on its way, then the
 * relay ends, as a connection whose peer has gone. */
static void relay_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct relay *r = arg;
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	struct bufferevent *other = bev == r->a ? r->b : r->a;
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	if (other && evbuffer_get_length(bufferevent_get_output(other)) > 0) {
		bufferevent_setcb(other, NULL, relay_drained_cb, relay_event_cb, r);
		return;
	}
	relay_free(r);
}

/* The client's first byte has come: on to the TLS server or the plain
 * one, with what the client has sent so far. */
static void sniff_cb(struct bufferevent *a, void *arg)
{
	struct relay *r = arg;
	unsigned char first = 0;
	if (evbuffer_copyout(bufferevent_get_input(a), &first, 1) != 1)
		return;
	const struct front *f = &fronts[r->front];
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)(first == 0x16 ? f->tls_port : f->plain_port)),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	r->b = bufferevent_socket_new(podnet_base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!r->b || bufferevent_socket_connect(r->b, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		relay_free(r);
		return;
	}
	bufferevent_setcb(a, relay_read_cb, NULL, relay_event_cb, r);
	bufferevent_setcb(r->b, relay_read_cb, NULL, relay_event_cb, r);
	bufferevent_setwatermark(a, EV_READ, 0, 0);
	bufferevent_enable(r->b, EV_READ | EV_WRITE);
	relay_read_cb(a, r);
}

/* The client closed before it said anything. */
static void sniff_event_cb(struct bufferevent *a, short what, void *arg)
{
	(void)a;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		relay_free(arg);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
		      void *arg)
{
	(void)l;
	(void)sa;
	(void)salen;
	struct relay *r = xcalloc(1, sizeof(*r));
	r->front = (size_t)(uintptr_t)arg;
	r->a = bufferevent_socket_new(podnet_base, fd, BEV_OPT_CLOSE_ON_FREE);
	LIST_INSERT_HEAD(&relays, r, link);
	if (!r->a) {
		evutil_closesocket(fd);
		LIST_REMOVE(r, link);
		free(r);
		return;
	}
	bufferevent_setcb(r->a, sniff_cb, NULL, sniff_event_cb, r);
	bufferevent_setwatermark(r->a, EV_READ, 1, 0);
	bufferevent_enable(r->a, EV_READ | EV_WRITE);
}

static int port_of_fd(evutil_socket_t fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
}

/* One of a front's servers, on a loopback port of its own, standing for
 * the client src: its port, or -1. */
static int serve_for(struct evhttp *http, const json_t *src)
{
	struct evhttp_bound_socket *sock = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
	int port = sock ? port_of_fd(evhttp_bound_socket_get_fd(sock)) : -1;
	if (port < 0)
		return -1;
	listeners = xrealloc(listeners, (nlisteners + 1) * sizeof(*listeners));
	listeners[nlisteners++] = (struct listener){
		.port = port,
		.src = {.ip = json_string_value(json_object_get(src, "ip")),
			.ns = json_string_value(json_object_get(src, "namespace")),
			.labels = json_object_get(src, "labels")},
	};
	return port;
}

/* Listen on host:port for connections of the client src (borrowed from
 * the configuration). */
static bool podnet_listen(const char *host, int port, const json_t *src, int *bound_port,
			  char **err)
{
	struct front f = {.tls_port = serve_for(http_tls, src),
			  .plain_port = serve_for(http_plain, src)};
	struct sockaddr_storage ss;
	int sslen = (int)sizeof(ss);
	if (f.tls_port < 0 || f.plain_port < 0 ||
	    evutil_parse_sockaddr_port(host, (struct sockaddr *)&ss, &sslen) != 0) {
		*err = xasprintf("pod network: cannot listen on %s:%d", host, port);
		return false;
	}
	if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
	f.l = evconnlistener_new_bind(podnet_base, accept_cb, (void *)(uintptr_t)nfronts,
				      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1,
				      (struct sockaddr *)&ss, sslen);
	if (!f.l) {
		*err = xasprintf("pod network: cannot listen on %s:%d", host, port);
		return false;
	}
	*bound_port = port_of_fd(evconnlistener_get_fd(f.l));
	fronts = xrealloc(fronts, (nfronts + 1) * sizeof(*fronts));
	fronts[nfronts++] = f;
	return true;
}

static struct evhttp *server_new(struct event_base *base)
{
	struct evhttp *h = evhttp_new(base);
	evhttp_set_allowed_methods(h, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
					      EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	evhttp_set_gencb(h, request_cb, NULL);
	return h;
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
	podnet_base = base;
	http_tls = server_new(base);
	evhttp_set_bevcb(http_tls, bev_cb, NULL);
	http_plain = server_new(base);
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
	while (!LIST_EMPTY(&relays))
		relay_free(LIST_FIRST(&relays));
	for (size_t i = 0; i < nfronts; i++)
		evconnlistener_free(fronts[i].l);
	free(fronts);
	fronts = NULL;
	nfronts = 0;
	if (http_tls)
		evhttp_free(http_tls);
	if (http_plain)
		evhttp_free(http_plain);
	http_tls = http_plain = NULL;
	free(listeners);
	listeners = NULL;
	nlisteners = 0;
	SSL_CTX_free(ctx);
	ctx = NULL;
}
