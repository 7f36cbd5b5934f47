/*
 * esaasctl's HTTP: libcurl's easy interface, one handle kept for the whole
 * run so that a watch reuses its connection, and the one place where an
 * answer that is not a success becomes a line on stderr.  A 401 also says
 * which token was refused and where a token goes, since that is what
 * whoever reads it has to fix.
 */
#include "config.h"
#include "cli/ctl.h"
#include "common/json.h"

#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#define CONNECT_TIMEOUT_MS 5000L
/* A job list of 500 jobs with their params is far below this. */
#define REPLY_MAX_BYTES (64u << 20)

struct ctl_http {
	CURL *curl;
	char *base;	    /* the server's URL, without a trailing '/' */
	char *shown;	    /* the same without user information, for messages */
	char *auth;	    /* "Authorization: Bearer ..." or NULL */
	char *tenant_query; /* "tenant=..." or NULL */
	enum ctl_source token_from;
	char *config_file; /* the config file esaasctl reads, or NULL */
	char *ca_file;	   /* the CAs for esaasd's certificate, or NULL: the system's */
	long timeout_ms;
};

struct body_buf {
	char *p;
	size_t n;
	bool too_big;
};

/* The URL without any "user:password@": messages end up in terminals and tickets. */
static char *url_for_messages(const char *url)
{
	const char *sep = strstr(url, "://");
	const char *auth, *at;
	size_t n;

	if (!sep)
		return ctl_printable(url);
	auth = sep + 3;
	n = strcspn(auth, "/?#");
	at = memrchr(auth, '@', n);
	if (!at)
		return ctl_printable(url);
	char *cut = xasprintf("%.*s%s", (int)(auth - url), url, at + 1);
	char *shown = ctl_printable(cut);

	free(cut);
	return shown;
}

struct ctl_http *ctl_http_new(const struct ctl_config *cfg, const char *tenant, long timeout_ms)
{
	struct ctl_http *h = xcalloc(1, sizeof(*h));

	h->curl = curl_easy_init();
	if (!h->curl) {
		free(h);
		return NULL;
	}
	h->base = xstrdup(cfg->url);
	h->shown = url_for_messages(cfg->url);
	h->timeout_ms = timeout_ms;
	if (cfg->token)
		h->auth = xasprintf("Authorization: Bearer %s", cfg->token);
	h->token_from = cfg->token_from;
	h->config_file = cfg->file ? xstrdup(cfg->file) : NULL;
	h->ca_file = cfg->ca_file ? xstrdup(cfg->ca_file) : NULL;
	if (tenant) {
		char *t = ctl_http_escape(tenant);

		h->tenant_query = xasprintf("tenant=%s", t);
		free(t);
	}
	return h;
}

void ctl_http_free(struct ctl_http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	if (h->auth)
		explicit_bzero(h->auth, strlen(h->auth));
	free(h->auth);
	free(h->tenant_query);
	free(h->config_file);
	free(h->ca_file);
	free(h->base);
	free(h->shown);
	free(h);
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct body_buf *b = arg;
	size_t n = size * nmemb;

	if (b->n + n > REPLY_MAX_BYTES) {
		b->too_big = true;
		return 0;
	}
	b->p = xrealloc(b->p, b->n + n + 1);
	memcpy(b->p + b->n, data, n);
	b->n += n;
	b->p[b->n] = '\0';
	return n;
}

bool ctl_http_try(struct ctl_http *h, const char *method, const char *path, json_t *body,
		  struct ctl_reply *out, char **why)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct body_buf b = {0};
	struct curl_slist *headers = NULL;
	char *url = h->tenant_query ? xasprintf("%s%s%c%s", h->base, path,
						strchr(path, '?') ? '&' : '?', h->tenant_query)
				    : xasprintf("%s%s", h->base, path);
	char *text = NULL;
	CURLcode rc;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	curl_easy_reset(h->curl);
	headers = curl_slist_append(headers, "Accept: application/json");
	if (body)
		headers = curl_slist_append(headers, "Content-Type: application/json");
	if (h->auth)
		headers = curl_slist_append(headers, h->auth);
	curl_easy_setopt(h->curl, CURLOPT_URL, url);
	curl_easy_setopt(h->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h->curl, CURLOPT_USERAGENT, "esaasctl/" PACKAGE_VERSION);
	curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, h->timeout_ms);
	curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	if (h->ca_file)
		curl_easy_setopt(h->curl, CURLOPT_CAINFO, h->ca_file);
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, text);
	} else if (strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0 ||
		   strcmp(method, "PUT") == 0) {
		curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, "");
	}
	rc = curl_easy_perform(h->curl);
	curl_slist_free_all(headers);
	free(text);
	free(url);
	if (rc != CURLE_OK) {
		if (b.too_big)
			*why = xasprintf("the answer is larger than %u MiB", REPLY_MAX_BYTES >> 20);
		else
			*why = ctl_printable(errbuf[0] ? errbuf : curl_easy_strerror(rc));
		free(b.p);
		return false;
	}
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &out->status);
	out->http = h;
	out->raw = b.p ? b.p : xstrdup("");
	out->body = json_loads(out->raw, 0, NULL);
	return true;
}

bool ctl_http_call(struct ctl_http *h, const char *method, const char *path, json_t *body,
		   struct ctl_reply *out)
{
	char *why;

	if (ctl_http_try(h, method, path, body, out, &why))
		return true;
	ctl_http_report_unreachable(h, why);
	free(why);
	return false;
}

void ctl_http_report_unreachable(const struct ctl_http *h, const char *why)
{
	fprintf(stderr, "esaasctl: cannot reach esaasd at %s: %s\n", h->shown, why);
}

void ctl_reply_free(struct ctl_reply *r)
{
	json_decref(r->body);
	free(r->raw);
	memset(r, 0, sizeof(*r));
}

char *ctl_http_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(s);
	char *out = xmalloc(len * 3 + 1), *p = out;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		/* RFC 3986's unreserved characters go as they are. */
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			*p++ = (char)c;
		} else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	*p = '\0';
	return out;
}

/* Does message already start with "field:"? The API sometimes says it itself. */
static bool names_field(const char *message, const char *field)
{
	size_t n = strlen(field);

	return strncmp(message, field, n) == 0 && message[n] == ':';
}

/*
 * 401: the credential is what to fix.  Its source is named, never the
 * token itself.
 */
static void report_unauthorized(const struct ctl_reply *r, const char *message)
{
	const struct ctl_http *h = r->http;
	const char *file = h && h->config_file ? h->config_file : "~/.config/esaas/config.yaml";
	enum ctl_source from = h ? h->token_from : CTL_SOURCE_NONE;
	char *m = ctl_printable(message ? message : "no reason given");
	char *f = ctl_printable(file);

	if (from == CTL_SOURCE_NONE) {
		fprintf(stderr,
			"esaasctl: 401 unauthorized: esaasd needs a credential and none was given; "
			"set ESAAS_TOKEN or --token, or token: in %s\n",
			f);
	} else {
		fprintf(stderr,
			"esaasctl: 401 unauthorized: esaasd refused the credential from %s: "
			"%s; set ESAAS_TOKEN or --token, or token: in %s\n",
			from == CTL_SOURCE_FLAG	 ? "--token"
			: from == CTL_SOURCE_ENV ? "ESAAS_TOKEN"
						 : f,
			m, f);
	}
	free(m);
	free(f);
}

int ctl_report_error(const struct ctl_reply *r)
{
	json_t *e = json_object_get(r->body, "error");
	const char *code = json_str(e, "code");
	const char *field = json_str(e, "field");
	const char *message = json_str(e, "message");

	if (r->status == 401 && (!code || strcmp(code, "unauthorized") == 0)) {
		report_unauthorized(r, message);
		return CTL_EXIT_API;
	}
	if (code && message) {
		char *c = ctl_printable(code);
		char *m = ctl_printable(message);

		if (field && *field && !names_field(message, field)) {
			char *f = ctl_printable(field);

			fprintf(stderr, "esaasctl: %ld %s: %s: %s\n", r->status, c, f, m);
			free(f);
		} else {
			fprintf(stderr, "esaasctl: %ld %s: %s\n", r->status, c, m);
		}
		free(c);
		free(m);
		return CTL_EXIT_API;
	}
	/* Not esaasd's error shape: a proxy in between, or not esaasd at all. */
	char *raw = ctl_printable(r->raw);
	size_t len = strlen(raw);

	while (len > 0 && raw[len - 1] == ' ')
		raw[--len] = '\0';
	fprintf(stderr, "esaasctl: %ld: %.200s%s\n", r->status,
		len ? raw : "the server answered without an error message", len > 200 ? "..." : "");
	free(raw);
	return CTL_EXIT_API;
}
