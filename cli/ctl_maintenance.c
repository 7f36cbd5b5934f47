/*
 * esaasctl maintenance: a cluster's maintenance windows, or a tenant's
 * default (docs/operations.md, "Maintenance windows").
 *
 *   maintenance show NAME
 *   maintenance set NAME --time-zone TZ --window "sat 02:00 4h" [--window ...]
 *   maintenance clear NAME
 *   maintenance default TENANT --time-zone TZ --window ... | --clear
 */
#include "cli/ctl.h"
#include "common/json.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *ctl_format_maintenance(json_t *m)
{
	json_t *set = json_object_get(m, "windows");
	json_t *windows = json_object_get(set, "windows");
	const char *source = json_str(m, "source");
	size_t cap = 256 + 48 * json_array_size(windows), len = 0;
	char *s = xmalloc(cap);
	size_t i;
	json_t *w;

	if (!json_is_object(set)) {
		free(s);
		return xstrdup("none: nothing is held");
	}
	len += (size_t)snprintf(s + len, cap - len, "%s:", json_str(set, "time_zone"));
	json_array_foreach (windows, i, w)
		len += (size_t)snprintf(s + len, cap - len, "%s %s %s for %s", i ? "," : "",
					json_str(w, "day"), json_str(w, "start"),
					json_str(w, "duration"));
	if (json_array_size(windows) == 0)
		len += (size_t)snprintf(s + len, cap - len, " no window (nothing is held)");
	else if (json_is_true(json_object_get(m, "open")))
		len += (size_t)snprintf(s + len, cap - len, "; open until %s",
					json_str(m, "closes_at"));
	else if (json_object_get(m, "open"))
		len += (size_t)snprintf(s + len, cap - len, "; closed, next opens at %s",
					json_str(m, "next_open"));
	if (source && strcmp(source, "tenant") == 0)
		snprintf(s + len, cap - len, " (the tenant's default)");
	return s;
}

/* --time-zone and each --window "DAY HH:MM DURATION"; NULL after a usage error. */
static json_t *windows_body(struct ctl *ctl, const struct ctl_args *a)
{
	const char *tz = ctl_args_get(a, "time-zone");
	json_t *windows = json_array();
	size_t i = 0;
	const char *v;

	if (!tz) {
		ctl_usage_error(ctl, "--time-zone is required, e.g. --time-zone Europe/Berlin");
		json_decref(windows);
		return NULL;
	}
	while ((v = ctl_args_next(a, "window", &i))) {
		char day[8], start[8], duration[16], extra[2];

		if (sscanf(v, "%7s %7s %15s %1s", day, start, duration, extra) != 3) {
			ctl_usage_error(ctl,
					"--window \"%s\": expected \"DAY HH:MM DURATION\", "
					"e.g. \"sat 02:00 4h\"",
					v);
			json_decref(windows);
			return NULL;
		}
		json_array_append_new(windows, json_pack("{s:s, s:s, s:s}", "day", day, "start",
							 start, "duration", duration));
	}
	return json_pack("{s:s, s:o}", "time_zone", tz, "windows", windows);
}

static int call(struct ctl *ctl, const char *method, char *path, json_t *body)
{
	struct ctl_reply r;
	int rc = CTL_EXIT_OK;
	bool ok = ctl_http_call(ctl->http, method, path, body, &r);

	free(path);
	json_decref(body);
	if (!ok)
		return CTL_EXIT_API;
	if (r.status < 200 || r.status > 299 || !r.body) {
		rc = ctl_report_error(&r);
	} else if (ctl->output == CTL_OUTPUT_JSON) {
		rc = ctl_print_json(r.body);
	} else {
		json_t *m = json_object_get(r.body, "maintenance");
		char *s = ctl_format_maintenance(m);
		const char *cluster = json_str(r.body, "cluster");

		if (cluster)
			printf("cluster %s: %s\n", cluster, s);
		else
			printf("tenant %s: %s\n", json_str(r.body, "tenant"), s);
		if (json_integer_value(json_object_get(r.body, "replanned")) > 0)
			printf("%lld job(s) waiting for a window were planned again\n",
			       (long long)json_integer_value(json_object_get(r.body, "replanned")));
		free(s);
	}
	ctl_reply_free(&r);
	return rc;
}

static char *path_of(const char *base, const char *name)
{
	char *n = ctl_http_escape(name);
	char *p = xasprintf("%s/%s/maintenance", base, n);

	free(n);
	return p;
}

static int maintenance_show(struct ctl *ctl, const struct ctl_args *a)
{
	char *n = ctl_http_escape(a->pos[0]);
	char *path = xasprintf("/api/v1/clusters/%s", n);
	struct ctl_reply r;
	int rc = CTL_EXIT_OK;
	bool ok = ctl_http_call(ctl->http, "GET", path, NULL, &r);

	free(n);
	free(path);
	if (!ok)
		return CTL_EXIT_API;
	if (r.status != 200 || !r.body) {
		rc = ctl_report_error(&r);
	} else if (ctl->output == CTL_OUTPUT_JSON) {
		rc = ctl_print_json(json_object_get(r.body, "maintenance"));
	} else {
		char *s = ctl_format_maintenance(json_object_get(r.body, "maintenance"));
		printf("cluster %s: %s\n", a->pos[0], s);
		free(s);
	}
	ctl_reply_free(&r);
	return rc;
}

static int maintenance_set(struct ctl *ctl, const struct ctl_args *a)
{
	json_t *body = windows_body(ctl, a);

	if (!body)
		return CTL_EXIT_USAGE;
	return call(ctl, "PUT", path_of("/api/v1/clusters", a->pos[0]), body);
}

static int maintenance_clear(struct ctl *ctl, const struct ctl_args *a)
{
	return call(ctl, "DELETE", path_of("/api/v1/clusters", a->pos[0]), NULL);
}

static int maintenance_default(struct ctl *ctl, const struct ctl_args *a)
{
	if (ctl_args_has(a, "clear"))
		return call(ctl, "DELETE", path_of("/api/v1/tenants", a->pos[0]), NULL);
	json_t *body = windows_body(ctl, a);
	if (!body)
		return CTL_EXIT_USAGE;
	return call(ctl, "PUT", path_of("/api/v1/tenants", a->pos[0]), body);
}

#define WINDOW_FLAGS                                                                             \
	{"time-zone", 0, "TZ", "the windows' time zone, e.g. Europe/Berlin or UTC"},             \
	{                                                                                        \
		"window", 0, "\"DAY HH:MM DURATION\"",                                           \
			"a weekly window, e.g. \"sat 02:00 4h\" (mon..sun; 30m to 24h); repeat " \
			"for "                                                                   \
			"more"                                                                   \
	}

static const struct ctl_flag show_flags[] = {
	{NULL, 0, NULL, NULL},
};

static const struct ctl_flag set_flags[] = {
	WINDOW_FLAGS,
	{NULL, 0, NULL, NULL},
};

static const struct ctl_flag default_flags[] = {
	WINDOW_FLAGS,
	{"clear", 0, NULL, "remove the tenant's default windows"},
	{NULL, 0, NULL, NULL},
};

const struct ctl_command ctl_maintenance_commands[] = {
	{"maintenance show", "NAME", "a cluster's maintenance windows and whether one is open",
	 NULL, show_flags, 1, 1, maintenance_show},
	{"maintenance set", "NAME --time-zone TZ --window \"DAY HH:MM DURATION\"...",
	 "set a cluster's own maintenance windows",
	 "Disruptive jobs (restarts, static settings, plugin changes) wait for a window;\n"
	 "one still running when its window closes stops at its next safe boundary and\n"
	 "goes on in the next window.  --urgent REASON on those commands skips the\n"
	 "windows.  No --window at all: no window, nothing is held.  For example:\n"
	 "  esaasctl maintenance set logs --time-zone Europe/Berlin --window \"sat 02:00 4h\"\n",
	 set_flags, 1, 1, maintenance_set},
	{"maintenance clear", "NAME", "drop a cluster's own windows: its tenant's default holds",
	 NULL, show_flags, 1, 1, maintenance_clear},
	{"maintenance default", "TENANT --time-zone TZ --window ... | --clear",
	 "set a tenant's default maintenance windows (admin)",
	 "The default holds every cluster of the tenant without windows of its own.\n",
	 default_flags, 1, 1, maintenance_default},
	{NULL, NULL, NULL, NULL, NULL, 0, 0, NULL},
};
