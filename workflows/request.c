/* The operations' request checks: what they share. */
#include "workflows/request.h"
#include "es/disk.h"
#include "common/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool wf_request_fields(json_t *obj, const char *const *known, struct wf_refusal *why)
{
	const char *key;
	json_t *value;

	json_object_foreach (obj, key, value) {
		size_t i, len = 1;
		for (i = 0; known[i]; i++)
			if (strcmp(known[i], key) == 0)
				break;
		if (known[i])
			continue;
		for (i = 0; known[i]; i++)
			len += strlen(known[i]) + 2;
		char *list = xcalloc(1, len);
		size_t used = 0;
		for (i = 0; known[i]; i++)
			used += (size_t)snprintf(list + used, len - used, "%s%s", i ? ", " : "",
						 known[i]);
		wf_refuse(why, 422, "invalid", key, "unknown field \"%s\"; known: %s", key, list);
		free(list);
		return false;
	}
	return true;
}

bool wf_request_allow_yellow(json_t *body, struct wf_refusal *why)
{
	json_t *v = json_object_get(body, "allow_yellow");

	if (v && !json_is_boolean(v))
		return wf_refuse(why, 422, "invalid", "allow_yellow",
				 "allow_yellow must be true or false");
	return true;
}

bool wf_record_spec(json_t *record, struct spec *spec, struct wf_refusal *why)
{
	struct spec_error serr;

	if (!spec_parse(record, spec, &serr))
		return wf_refuse(why, 409, "conflict", NULL, "the stored spec is invalid: %s: %s",
				 serr.field, serr.message);
	return true;
}

void wf_warn_places(json_t *params, json_t *spec_json, const char *only, int places)
{
	struct spec spec;
	struct spec_error serr;

	if (places < 0 || !spec_parse(spec_json, &spec, &serr))
		return;
	bool rack = spec.spread == SPEC_SPREAD_RACK;
	for (int role = 0; role < ES_ROLE_COUNT; role++) {
		const char *name = spec_section_name((enum es_role)role);
		int asked = spec.nodes[role].replicas;
		if ((only && strcmp(only, name) != 0) || asked <= places)
			continue;
		/* The pods' required anti-affinity (kube/render.c): one per host, or rack. */
		wf_warnf(params, "%s need one %s each: %d %s, %d asked",
			 role == ES_ROLE_DATA ? "data nodes" : name, rack ? "rack" : "host", places,
			 rack ? "racks with schedulable nodes" : "schedulable nodes", asked);
		/* The same text under "placement_warnings": a preview's gate. */
		json_t *placement = json_object_get(params, "placement_warnings");
		if (!json_is_array(placement)) {
			placement = json_array();
			json_object_set_new(params, "placement_warnings", placement);
		}
		json_t *warnings = json_object_get(params, "warnings");
		json_array_append(placement,
				  json_array_get(warnings, json_array_size(warnings) - 1));
	}
	spec_free(&spec);
}

bool wf_always_disruptive(const json_t *params)
{
	(void)params;
	return true;
}

void wf_warnf(json_t *params, const char *fmt, ...)
{
	json_t *w = json_object_get(params, "warnings");
	va_list ap;

	if (!json_is_array(w)) {
		w = json_array();
		json_object_set_new(params, "warnings", w);
	}
	va_start(ap, fmt);
	char *text = xvasprintf(fmt, ap);
	va_end(ap);
	json_array_append_new(w, json_string(text));
	free(text);
}

struct wf_precheck *wf_precheck_new(void *env, const char *tenant, const char *ns, json_t *params,
				    void (*done)(void *arg, const struct wf_refusal *why),
				    void *arg)
{
	struct wf_precheck *p = xcalloc(1, sizeof(*p));
	p->done = done;
	p->arg = arg;
	p->env = env;
	p->tenant = xstrdup(tenant ? tenant : "");
	p->ns = ns ? xstrdup(ns) : NULL;
	p->params = json_incref(params);
	return p;
}

void wf_precheck_free(struct wf_precheck *p)
{
	free(p->tenant);
	free(p->ns);
	json_decref(p->params);
	free(p);
}

void wf_precheck_end(struct wf_precheck *p, const struct wf_refusal *why)
{
	p->done(p->arg, why && why->status ? why : NULL);
	wf_precheck_free(p);
}

char *wf_joined(json_t *lines)
{
	char *all = NULL;
	size_t i;
	json_t *line;
	json_array_foreach (lines, i, line) {
		char *more = xasprintf("%s%s%s", all ? all : "", all ? "; " : "",
				       json_string_value(line));
		free(all);
		all = more;
	}
	return all ? all : xstrdup("");
}

bool wf_disk_headroom(json_t *report, const char *error, const char *what, const char *field,
		      bool must_read, json_t *params, struct wf_refusal *why)
{
	size_t i;
	json_t *v;

	if (!report) {
		if (must_read)
			return wf_refuse(why, 503, "unavailable", NULL,
					 "cannot read the data nodes' disk usage before %s: %s; "
					 "retry",
					 what, error ? error : "no answer");
		wf_warnf(params,
			 "the data nodes' disk usage could not be read (%s): their "
			 "headroom under the low disk watermark is not checked",
			 error ? error : "no answer");
		return true;
	}
	json_t *above = json_object_get(report, "above");
	if (json_array_size(above) > 0) {
		char *all = wf_joined(above);
		size_t n = json_array_size(above);
		wf_refuse(
			why, 422, "invalid", field,
			"%s would stall: %zu data node%s above the low disk watermark, where "
			"Elasticsearch allocates no replica, not even the ones the node holds, so "
			"after %s restart the cluster would stay yellow: %s; free disk space on "
			"%s (delete or shrink indices, or add data nodes) first",
			what, n, n == 1 ? " is" : "s are", n == 1 ? "its" : "their", all,
			n == 1 ? "it" : "them");
		free(all);
		return false;
	}
	json_array_foreach (json_object_get(report, "near"), i, v)
		wf_warnf(params,
			 "%s: within %d%% of its disk of the low disk watermark; "
			 "should it pass it, the node's replicas would stay "
			 "unassigned after its restart",
			 json_string_value(v), ES_DISK_MARGIN_PERCENT);
	json_array_foreach (json_object_get(report, "unreported"), i, v)
		wf_warnf(params,
			 "Elasticsearch does not report the disk usage of %s yet: "
			 "its headroom under the low disk watermark is not checked",
			 json_string_value(v));
	return true;
}
