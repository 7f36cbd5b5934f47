/*
 * Maintenance windows (docs/operations.md, "Maintenance windows"):
 *
 *   PUT    /api/v1/clusters/{name}/maintenance   a cluster's own windows
 *   DELETE /api/v1/clusters/{name}/maintenance   back to its tenant's
 *   PUT    /api/v1/tenants/{tenant}/maintenance  the tenant's default (admin)
 *   DELETE /api/v1/tenants/{tenant}/maintenance
 *
 * The body: {"time_zone": "Europe/Berlin", "windows": [{"day": "sat",
 * "start": "02:00", "duration": "4h"}, ...]}.  The shape is checked here,
 * each fault named by its field (422); the time zone by PostgreSQL, which
 * knows the zones and their rules.  Where the windows stand (open, next
 * opening) is computed there too (0013_windows.sql); the cluster's and the
 * job's JSON carry it.
 *
 * And "urgent": {"reason": "..."} in the body of a disruptive operation
 * lets it run outside the windows (api_take_urgent()).
 */
#include "api/auth.h"
#include "api/routes.h"
#include "common/json.h"
#include "common/util.h"
#include "kube/spec.h"
#include "storage/maintenance.h"

#include <stdlib.h>
#include <string.h>

static const char *const day_names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun", NULL};

/* "HH:MM", 00:00 to 23:59. */
static bool start_valid(const char *s)
{
	int h, m;

	if (!s || strlen(s) != 5 || s[2] != ':')
		return false;
	for (int i = 0; i < 5; i++)
		if (i != 2 && (s[i] < '0' || s[i] > '9'))
			return false;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	return h < 24 && m < 60;
}

/* "4h", "90m", "1h30m": minutes in *out. */
static bool duration_parse(const char *s, int *out)
{
	int total = 0, parts = 0;
	bool hours_seen = false;

	if (!s || !*s)
		return false;
	while (*s) {
		int v = 0, digits = 0;

		while (*s >= '0' && *s <= '9' && digits < 5) {
			v = v * 10 + (*s++ - '0');
			digits++;
		}
		if (digits == 0)
			return false;
		if (*s == 'h' && !hours_seen && parts == 0) {
			total += v * 60;
			hours_seen = true;
		} else if (*s == 'm') {
			total += v;
			if (s[1])
				return false;
		} else {
			return false;
		}
		s++;
		parts++;
	}
	*out = total;
	return true;
}

/* "windows[2].day" */
static const char *sub_field(char *buf, size_t len, const char *field, const char *key)
{
	snprintf(buf, len, "%s.%s", field, key);
	return buf;
}

bool api_maintenance_check(json_t *m, struct http_error *err)
{
	static const char *const fields[] = {"time_zone", "windows", NULL};
	static const char *const window_fields[] = {"day", "start", "duration", NULL};
	json_t *tz = json_object_get(m, "time_zone");
	json_t *windows = json_object_get(m, "windows");
	size_t i;
	json_t *w;

	if (!json_is_object(m))
		return http_error_set(err, 422, "invalid", NULL,
				      "the body must be an object: {\"time_zone\", \"windows\"}");
	if (!http_json_check_fields(m, fields, err))
		return false;
	if (!json_is_string(tz) || json_string_length(tz) < 1 || json_string_length(tz) > 64)
		return http_error_set(err, 422, "invalid", "time_zone",
				      "time_zone is required: a time zone name such as "
				      "\"Europe/Berlin\" or \"UTC\"");
	if (!json_is_array(windows) || json_array_size(windows) > MAINTENANCE_WINDOWS_MAX)
		return http_error_set(
			err, 422, "invalid", "windows",
			"windows must be a list of at most %d windows, each "
			"{\"day\", \"start\", \"duration\"} ([] for no window: nothing "
			"is held)",
			MAINTENANCE_WINDOWS_MAX);
	json_array_foreach (windows, i, w) {
		char field[32], sub[48];
		const char *day = json_str(w, "day");
		int minutes = 0;
		bool known = false;

		snprintf(field, sizeof(field), "windows[%zu]", i);
		if (!json_is_object(w))
			return http_error_set(err, 422, "invalid", field,
					      "%s must be an object: {\"day\", \"start\", "
					      "\"duration\"}",
					      field);
		if (!http_json_check_fields(w, window_fields, err))
			return http_error_set(err, 422, "invalid", field,
					      "%s may hold only day, start and duration", field);
		for (int d = 0; day && day_names[d]; d++)
			known = known || strcmp(day, day_names[d]) == 0;
		if (!known)
			return http_error_set(
				err, 422, "invalid", sub_field(sub, sizeof(sub), field, "day"),
				"%s.day must be one of mon, tue, wed, thu, fri, sat, sun", field);
		if (!start_valid(json_str(w, "start")))
			return http_error_set(
				err, 422, "invalid", sub_field(sub, sizeof(sub), field, "start"),
				"%s.start must be a local time HH:MM from 00:00 to 23:59", field);
		if (!duration_parse(json_str(w, "duration"), &minutes) ||
		    minutes < MAINTENANCE_MINUTES_MIN || minutes > MAINTENANCE_MINUTES_MAX)
			return http_error_set(
				err, 422, "invalid", sub_field(sub, sizeof(sub), field, "duration"),
				"%s.duration must be a duration such as \"4h\", \"90m\" or "
				"\"1h30m\", from %dm to %dh",
				field, MAINTENANCE_MINUTES_MIN, MAINTENANCE_MINUTES_MAX / 60);
	}
	return true;
}

bool api_take_urgent(json_t *body, char **reason, struct http_error *err)
{
	json_t *urgent = json_object_get(body, "urgent");
	const char *text = NULL;

	*reason = NULL;
	if (!urgent)
		return true;
	if (!json_is_object(urgent))
		return http_error_set(
			err, 422, "invalid", "urgent",
			"urgent must be an object: {\"reason\": \"why this cannot wait "
			"for the maintenance window\"}");
	if (!api_jobs_check_cancel(urgent, &text, err)) {
		char *field = xasprintf("urgent.%s", err->field ? err->field : "reason");
		char *msg = xasprintf("urgent.%s", err->message ? err->message : "");
		http_error_set(err, 422, "invalid", field, "%s", msg);
		free(field);
		free(msg);
		return false;
	}
	*reason = xstrdup(text);
	json_object_del(body, "urgent");
	return true;
}

/* --- the routes ---------------------------------------------------------------- */

struct maintenance_call {
	struct http_req *req;
	char *what; /* "cluster NAME" or "tenant NAME" */
};

static void set_done_cb(void *arg, const struct db_error *err, json_t *answer)
{
	struct maintenance_call *c = arg;

	if (err && err->kind == DB_ERR_QUERY && strcmp(err->sqlstate, MAINTENANCE_TZ_SQLSTATE) == 0)
		http_reply_error(c->req, 422, "invalid", "time_zone", "%s", err->message);
	else if (err)
		api_reply_db_error(c->req, err);
	else if (!answer)
		http_reply_error(c->req, 404, "not_found", NULL, "%s not found", c->what);
	else
		http_reply_json(c->req, 200, json_incref(answer));
	free(c->what);
	free(c);
}

/* PUT (windows in the body) or DELETE (none: back to the default). */
static void maintenance_route(struct http_req *req, struct api *api, bool tenant_default)
{
	static const char *const no_fields[] = {NULL};
	const char *name = http_req_param(req, tenant_default ? "tenant" : "name");
	bool clear = strcmp(http_req_method(req), "DELETE") == 0;
	struct http_error err = {0};
	char *actor = NULL;
	json_t *body = NULL;

	if (!tenant_default && (!name || !spec_is_dns_label(name, SPEC_DNS_LABEL_MAX))) {
		http_reply_error(req, 404, "not_found", NULL, "cluster %.64s not found",
				 name ? name : "");
		return;
	}
	if (api_request_actor(req, &actor, &err) && (body = http_req_json(req, clear, &err)) &&
	    (clear ? http_json_check_fields(body, no_fields, &err)
		   : api_maintenance_check(body, &err)) &&
	    api_database_ok(api, &err)) {
		struct maintenance_call *c = xcalloc(1, sizeof(*c));

		c->req = req;
		c->what = xasprintf("%s %.64s", tenant_default ? "tenant" : "cluster", name);
		storage_maintenance_set(api->db, tenant_default ? name : api_tenant(req),
					tenant_default ? NULL : name, actor, clear ? NULL : body,
					set_done_cb, c);
	} else {
		http_reply_failure(req, &err);
	}
	free(actor);
	json_decref(body);
}

static void cluster_maintenance_cb(struct http_req *req, void *arg)
{
	maintenance_route(req, arg, false);
}

static void tenant_maintenance_cb(struct http_req *req, void *arg)
{
	maintenance_route(req, arg, true);
}

void api_maintenance_add_routes(struct api *api)
{
	api_route(api, "PUT", "/api/v1/clusters/{name}/maintenance", ACCESS_OPERATE,
		  cluster_maintenance_cb);
	api_route(api, "DELETE", "/api/v1/clusters/{name}/maintenance", ACCESS_OPERATE,
		  cluster_maintenance_cb);
	api_route(api, "PUT", "/api/v1/tenants/{tenant}/maintenance", ACCESS_ADMIN,
		  tenant_maintenance_cb);
	api_route(api, "DELETE", "/api/v1/tenants/{tenant}/maintenance", ACCESS_ADMIN,
		  tenant_maintenance_cb);
}
