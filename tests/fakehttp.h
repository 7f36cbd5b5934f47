/*
 * A fake HTTP server for tests, on libevent's evhttp, bound to a free
 * port of 127.0.0.1.  It runs on the test's own event loop, or on a
 * thread of its own for a test that blocks while another process calls
 * it.  Each request is recorded (method, URI, headers, body, when) and
 * then given to the test's handler, which answers it as evhttp lets it
 * (at once, later, never, in chunks).
 */
#ifndef ESAAS_TESTS_FAKEHTTP_H
#define ESAAS_TESTS_FAKEHTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>

struct fakehttp;

/* A request received, as recorded before the handler saw it. */
struct fakehttp_hit {
	char method[16];
	char *uri;
	char *body; /* NUL-terminated copy */
	size_t body_len;
	char **headers; /* name, value, name, value, ..., NULL */
	int64_t at_ms;	/* monotonic */
};

/* index: the request's place in the record (0 for the first). */
typedef void (*fakehttp_handler)(struct evhttp_request *req, int index, void *arg);

/* Serve on base, turned by the test. */
struct fakehttp *fakehttp_start(struct event_base *base, fakehttp_handler cb, void *arg);
/* Serve on a loop of its own, in a thread of its own. */
struct fakehttp *fakehttp_start_thread(fakehttp_handler cb, void *arg);
/* Stop (joining its thread) and free, the record with it. */
void fakehttp_stop(struct fakehttp *f);

int fakehttp_port(const struct fakehttp *f);
/* "http://127.0.0.1:PORT" followed by path (allocated). */
char *fakehttp_url(const struct fakehttp *f, const char *path);
/* The server itself, e.g. to allow more methods. */
struct evhttp *fakehttp_evhttp(struct fakehttp *f);

/* Requests received so far. */
int fakehttp_count(struct fakehttp *f);
/* Wait until n were received (a thread's server only); false after timeout_ms. */
bool fakehttp_wait(struct fakehttp *f, int n, int timeout_ms);
/* Request i, i < fakehttp_count(): never written again. */
const struct fakehttp_hit *fakehttp_hit(struct fakehttp *f, int i);
/* A header of a request (the first of that name, any case), or NULL. */
const char *fakehttp_header(const struct fakehttp_hit *h, const char *name);

/* Answer status with body (NULL: none) and a Content-Type (NULL: none). */
void fakehttp_reply(struct evhttp_request *req, int status, const char *content_type,
		    const char *body);

#endif
