#include "tests/fakehttp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "common/util.h"
#include "api/http.h"

struct fakehttp {
	struct event_base *base;
	bool own_base;
	pthread_t thread;
	bool threaded;
	struct evhttp *http;
	int port;
	fakehttp_handler cb;
	void *arg;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct fakehttp_hit **hits;
	int nhits;
};

static struct fakehttp_hit *record(struct evhttp_request *req)
{
	struct fakehttp_hit *h = xcalloc(1, sizeof(*h));
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct evkeyvalq *headers = evhttp_request_get_input_headers(req);
	struct evkeyval *kv;
	size_t n = 0;

	snprintf(h->method, sizeof(h->method), "%s",
		 http_method_name(evhttp_request_get_command(req)));
	h->uri = xstrdup(evhttp_request_get_uri(req));
	h->body_len = evbuffer_get_length(in);
	h->body = xmalloc(h->body_len + 1);
	evbuffer_copyout(in, h->body, h->body_len);
	h->body[h->body_len] = '\0';
	TAILQ_FOREACH (kv, headers, next)
		n++;
	h->headers = xcalloc(2 * n + 1, sizeof(char *));
	n = 0;
	TAILQ_FOREACH (kv, headers, next) {
		h->headers[n++] = xstrdup(kv->key);
		h->headers[n++] = xstrdup(kv->value);
	}
	h->at_ms = now_mono_ms();
	return h;
}

static void hit_free(struct fakehttp_hit *h)
{
	for (char **p = h->headers; p && *p; p++)
		free(*p);
	free(h->headers);
	free(h->uri);
	free(h->body);
	free(h);
}

static void serve_cb(struct evhttp_request *req, void *arg)
{
	struct fakehttp *f = arg;
	struct fakehttp_hit *h = record(req);
	int index;

	pthread_mutex_lock(&f->mu);
	index = f->nhits++;
	f->hits = xrealloc(f->hits, (size_t)f->nhits * sizeof(*f->hits));
	f->hits[index] = h;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->mu);
	f->cb(req, index, f->arg);
}

static struct fakehttp *start(struct event_base *base, fakehttp_handler cb, void *arg)
{
	/* A client may hang up in the middle of an answer (one that reads up
	 * to a cap does): the write then fails with EPIPE, as a server's
	 * should, instead of the signal ending the test program. */
	signal(SIGPIPE, SIG_IGN);
	struct fakehttp *f = xcalloc(1, sizeof(*f));
	struct evhttp_bound_socket *sock;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	f->base = base;
	f->cb = cb;
	f->arg = arg;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cond, NULL);
	f->http = evhttp_new(base);
	evhttp_set_gencb(f->http, serve_cb, f);
	sock = evhttp_bind_socket_with_handle(f->http, "127.0.0.1", 0);
	if (!sock ||
	    getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&sin, &len) != 0) {
		evhttp_free(f->http);
		pthread_mutex_destroy(&f->mu);
		pthread_cond_destroy(&f->cond);
		free(f);
		return NULL;
	}
	f->port = ntohs(sin.sin_port);
	return f;
}

struct fakehttp *fakehttp_start(struct event_base *base, fakehttp_handler cb, void *arg)
{
	return start(base, cb, arg);
}

static void *thread_main(void *arg)
{
	struct fakehttp *f = arg;

	event_base_dispatch(f->base);
	return NULL;
}

struct fakehttp *fakehttp_start_thread(fakehttp_handler cb, void *arg)
{
	struct event_base *base = event_base_new();
	struct fakehttp *f = base ? start(base, cb, arg) : NULL;

	if (!f) {
		if (base)
			event_base_free(base);
		return NULL;
	}
	f->own_base = true;
	if (pthread_create(&f->thread, NULL, thread_main, f) != 0) {
		f->threaded = false;
		fakehttp_stop(f);
		return NULL;
	}
	f->threaded = true;
	return f;
}

void fakehttp_stop(struct fakehttp *f)
{
	if (!f)
		return;
	if (f->threaded) {
		event_base_loopexit(f->base, NULL);
		pthread_join(f->thread, NULL);
	}
	evhttp_free(f->http);
	if (f->own_base)
		event_base_free(f->base);
	for (int i = 0; i < f->nhits; i++)
		hit_free(f->hits[i]);
	free(f->hits);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cond);
	free(f);
}

int fakehttp_port(const struct fakehttp *f)
{
	return f->port;
}

char *fakehttp_url(const struct fakehttp *f, const char *path)
{
	return xasprintf("http://127.0.0.1:%d%s", f->port, path ? path : "");
}

struct evhttp *fakehttp_evhttp(struct fakehttp *f)
{
	return f->http;
}

int fakehttp_count(struct fakehttp *f)
{
	int n;

	pthread_mutex_lock(&f->mu);
	n = f->nhits;
	pthread_mutex_unlock(&f->mu);
	return n;
}

bool fakehttp_wait(struct fakehttp *f, int n, int timeout_ms)
{
	struct timespec until;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&f->mu);
	while (f->nhits < n) {
		if (pthread_cond_timedwait(&f->cond, &f->mu, &until) == ETIMEDOUT)
			break;
	}
	ok = f->nhits >= n;
	pthread_mutex_unlock(&f->mu);
	return ok;
}

const struct fakehttp_hit *fakehttp_hit(struct fakehttp *f, int i)
{
	const struct fakehttp_hit *h = NULL;

	pthread_mutex_lock(&f->mu);
	if (i >= 0 && i < f->nhits)
		h = f->hits[i];
	pthread_mutex_unlock(&f->mu);
	return h;
}

const char *fakehttp_header(const struct fakehttp_hit *h, const char *name)
{
	for (char **p = h->headers; p && p[0]; p += 2) {
		if (strcasecmp(p[0], name) == 0)
			return p[1];
	}
	return NULL;
}

void fakehttp_reply(struct evhttp_request *req, int status, const char *content_type,
		    const char *body)
{
	struct evbuffer *out = evbuffer_new();

	if (content_type)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
				  content_type);
	if (body)
		evbuffer_add(out, body, strlen(body));
	evhttp_send_reply(req, status, status < 400 ? "OK" : "Error", out);
	evbuffer_free(out);
}
