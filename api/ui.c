#include "api/ui.h"
#include "api/http.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The viewer is a handful of small files: anything larger is not one of them. */
#define UI_MAX_FILE_BYTES (2 * 1024 * 1024)
#define UI_MAX_NAME_CHARS 128

struct api_ui {
	char *dir;
	char *csp; /* ui_csp, with the OpenID provider's origin in connect-src */
};

static const struct ui_type {
	const char *ext;
	const char *content_type;
} ui_types[] = {
	{".html", "text/html; charset=utf-8"},
	{".js", "text/javascript; charset=utf-8"},
	{".css", "text/css; charset=utf-8"},
	{".svg", "image/svg+xml"},
	{".ico", "image/x-icon"},
	{".png", "image/png"},
};

/*
 * Nothing but this server's own files and API: no inline script or style,
 * no eval, no plugins, no framing.  So even a value from the API that
 * found its way into the page as markup could not run.
 */
#define UI_CSP_BEFORE_CONNECT                                       \
	"default-src 'none'; script-src 'self'; style-src 'self'; " \
	"img-src 'self'; connect-src 'self'"
#define UI_CSP_AFTER_CONNECT "; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/*
 * The origin ("https://idp.example.com:8443") of an http(s) URL, when it
 * is plain enough to go into a header: letters, digits, '.', '-', ':' and
 * the brackets of an IPv6 address.  False for anything else.
 */
static bool url_origin(const char *url, char *out, size_t len)
{
	size_t scheme = strncmp(url, "https://", 8) == 0  ? 8
			: strncmp(url, "http://", 7) == 0 ? 7
							  : 0;
	size_t host = strcspn(url + scheme, "/?#");

	if (!scheme || host == 0 || scheme + host >= len)
		return false;
	for (size_t i = scheme; i < scheme + host; i++) {
		char c = url[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == ':' || c == '[' || c == ']'))
			return false;
	}
	memcpy(out, url, scheme + host);
	out[scheme + host] = '\0';
	return true;
}

/* On every /ui answer, errors included. */
static void add_security_headers(struct http_req *req, const struct api_ui *ui)
{
	http_req_add_header(req, "Content-Security-Policy", ui->csp);
	http_req_add_header(req, "X-Content-Type-Options", "nosniff");
	http_req_add_header(req, "Referrer-Policy", "no-referrer");
	http_req_add_header(req, "X-Frame-Options", "DENY");
	http_req_add_header(req, "Cross-Origin-Opener-Policy", "same-origin");
}

/*
 * A plain file name of the folder.  What could climb out of it or name
 * something else is refused: '/' and '\' (also percent-encoded, as the
 * router has decoded the segment by now), a leading dot ("..", hidden
 * files), '%' left over from double encoding, and any other character.
 */
static bool name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len < 1 || len > UI_MAX_NAME_CHARS || name[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';

		if (!ok)
			return false;
	}
	return true;
}

static const struct ui_type *type_of(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (!dot)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(ui_types); i++) {
		if (strcmp(dot, ui_types[i].ext) == 0)
			return &ui_types[i];
	}
	return NULL;
}

static bool dir_exists(const char *dir)
{
	struct stat st;

	return dir && stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

static void reply_missing(struct http_req *req, const struct api_ui *ui, const char *name)
{
	if (!dir_exists(ui->dir)) {
		http_reply_error(req, 404, "not_found", NULL,
				 "the job viewer is not installed on this server: its folder "
				 "(http.ui_dir) is missing; see the server log");
		return;
	}
	http_reply_error(req, 404, "not_found", NULL, "no such file: /ui/%.*s", UI_MAX_NAME_CHARS,
			 name);
}

/* Is etag in an If-None-Match list ("*", or tags separated by commas, weak or not)? */
static bool etag_listed(const char *list, const char *etag)
{
	size_t elen = strlen(etag);

	while (*list) {
		list += strspn(list, " \t,");
		size_t n = strcspn(list, ",");
		size_t end = n;

		while (end > 0 && (list[end - 1] == ' ' || list[end - 1] == '\t'))
			end--;
		const char *tag = list;
		if (end >= 2 && strncmp(tag, "W/", 2) == 0) {
			tag += 2;
			end -= 2;
		}
		if ((end == 1 && tag[0] == '*') || (end == elen && memcmp(tag, etag, elen) == 0))
			return true;
		list += n;
	}
	return false;
}

/* Read exactly len bytes (the size fstat() gave); false when the file changed under us. */
static bool read_whole(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

static void serve_file(struct http_req *req, const struct api_ui *ui, const char *name)
{
	const struct ui_type *type = name_ok(name) ? type_of(name) : NULL;
	bool head = strcmp(http_req_method(req), "HEAD") == 0;
	char etag[80], modified[64];
	char *path, *body = NULL;
	struct stat st;
	struct tm tm;
	int fd;

	add_security_headers(req, ui);
	if (!type || !ui->dir) {
		reply_missing(req, ui, name);
		return;
	}

	path = xasprintf("%s/%s", ui->dir, name);
	/* O_NONBLOCK: a FIFO left in the folder must not stall the loop in open(). */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			log_warn("job viewer: cannot open %s: %s", path, strerror(errno));
		free(path);
		reply_missing(req, ui, name);
		return;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		reply_missing(req, ui, name);
		goto out;
	}
	if (st.st_size > UI_MAX_FILE_BYTES) {
		log_warn("job viewer: %s is %lld bytes; files over %d bytes are not served", path,
			 (long long)st.st_size, UI_MAX_FILE_BYTES);
		http_reply_error(req, 500, "internal", NULL,
				 "internal error; the details are in the server log");
		goto out;
	}

	/* Size, modification time and inode: any change to the file changes it. */
	snprintf(etag, sizeof(etag), "\"%llx-%llx-%llx\"", (unsigned long long)st.st_size,
		 (unsigned long long)st.st_mtim.tv_sec * 1000000000ULL +
			 (unsigned long long)st.st_mtim.tv_nsec,
		 (unsigned long long)st.st_ino);
	http_req_add_header(req, "ETag", etag);
	if (gmtime_r(&st.st_mtim.tv_sec, &tm) &&
	    strftime(modified, sizeof(modified), "%a, %d %b %Y %H:%M:%S GMT", &tm) > 0)
		http_req_add_header(req, "Last-Modified", modified);
	/* Ask every time, cheaply: a new esaasd may bring new files under the same names. */
	http_req_add_header(req, "Cache-Control", "no-cache");

	const char *match = http_req_header(req, "If-None-Match");
	if (match && etag_listed(match, etag)) {
		http_reply_body(req, 304, NULL, NULL, 0);
		goto out;
	}
	if (!head) {
		body = xmalloc((size_t)st.st_size + 1);
		if (!read_whole(fd, body, (size_t)st.st_size)) {
			log_warn("job viewer: %s changed while being read", path);
			http_reply_error(req, 503, "unavailable", NULL,
					 "the file changed while being read; try again");
			goto out;
		}
	}
	http_reply_body(req, 200, type->content_type, body, (size_t)st.st_size);

out:
	free(body);
	free(path);
	close(fd);
}

static void ui_index_cb(struct http_req *req, void *arg)
{
	serve_file(req, arg, "index.html");
}

static void ui_file_cb(struct http_req *req, void *arg)
{
	const char *name = http_req_param(req, "file");

	serve_file(req, arg, name ? name : "");
}

/* The folder is flat: deeper paths name nothing, but still get the headers. */
static void ui_nested_cb(struct http_req *req, void *arg)
{
	add_security_headers(req, arg);
	http_reply_error(req, 404, "not_found", NULL, "no such file: %.200s", http_req_path(req));
}

struct api_ui *api_ui_new(struct http_server *srv, const char *dir, const char *issuer)
{
	struct api_ui *ui = xcalloc(1, sizeof(*ui));
	char origin[256];
	struct stat st;

	/* The portal fetches the provider's discovery document and tokens itself. */
	if (issuer && url_origin(issuer, origin, sizeof(origin))) {
		ui->csp = xasprintf("%s %s%s", UI_CSP_BEFORE_CONNECT, origin, UI_CSP_AFTER_CONNECT);
	} else {
		if (issuer)
			log_warn("portal: oidc.issuer %s is no plain http(s) URL; the portal signs "
				 "in with API tokens only",
				 issuer);
		ui->csp = xstrdup(UI_CSP_BEFORE_CONNECT UI_CSP_AFTER_CONNECT);
	}

	/* esaasd runs without its viewer: the API matters more than the pages. */
	ui->dir = dir ? xstrdup(dir) : NULL;
	if (!dir)
		log_warn("job viewer: no http.ui_dir; /ui answers 404");
	else if (stat(dir, &st) != 0)
		log_warn("job viewer: http.ui_dir %s: %s; /ui answers 404", dir, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		log_warn("job viewer: http.ui_dir %s is not a folder; /ui answers 404", dir);
	else
		log_info("job viewer: /ui/ serves %s", dir);

	http_server_route(srv, "GET", "/ui", ui_index_cb, ui);
	http_server_route(srv, "GET", "/ui/", ui_index_cb, ui);
	http_server_route(srv, "GET", "/ui/{file}", ui_file_cb, ui);
	http_server_route(srv, "GET", "/ui/{dir}/{file}", ui_nested_cb, ui);
	return ui;
}

void api_ui_free(struct api_ui *ui)
{
	if (!ui)
		return;
	free(ui->dir);
	free(ui->csp);
	free(ui);
}
