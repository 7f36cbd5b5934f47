/*
 * The job viewer's static files under /ui: GET and HEAD of /ui, /ui/ (both
 * index.html) and /ui/<file>, read from one flat folder (http.ui_dir).
 *
 * Only names made of [A-Za-z0-9._-] that do not start with a dot and end in
 * a known extension are served, and only regular files: no path reaches
 * outside the folder.  Every answer, errors included, carries a
 * Content-Security-Policy that allows scripts, styles and requests from this
 * server only, so nothing the viewer shows can run as code.  Files are read
 * per request (they are small and in the page cache), so a changed file
 * shows at the next reload; ETag and Last-Modified let the browser revalidate
 * cheaply (Cache-Control: no-cache).
 */
#ifndef ESAAS_API_UI_H
#define ESAAS_API_UI_H

struct http_server;
struct api_ui;

/* Add the /ui routes to srv.  A missing dir (or NULL) is logged and /ui answers 404. */
/* issuer: the OpenID provider the portal signs in through (its origin is
 * added to connect-src), or NULL. */
struct api_ui *api_ui_new(struct http_server *srv, const char *dir, const char *issuer);
void api_ui_free(struct api_ui *ui);

#endif
