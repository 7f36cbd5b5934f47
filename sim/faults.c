#include "sim/faults.h"
#include "common/json.h"
#include "sim/simconf.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

static json_t *rules;	      /* array of rule objects (with "hits") */
static json_t *unschedulable; /* array of node names */
static json_t *red;	      /* array of namespaces */

void faults_init(void)
{
	rules = json_array();
	unschedulable = json_array();
	red = json_array();
}

void faults_free(void)
{
	json_decref(rules);
	json_decref(unschedulable);
	json_decref(red);
	rules = unschedulable = red = NULL;
}

void faults_clear(void)
{
	json_array_clear(rules);
	json_array_clear(unschedulable);
	json_array_clear(red);
}

static bool add_rule(const json_t *r, char **err)
{
	json_t *v;
	if (!json_is_object(r)) {
		*err = xstrdup("a fault rule must be an object");
		return false;
	}
	if ((v = json_object_get(r, "path")) && !json_is_string(v)) {
		*err = xstrdup("path: a string is expected");
		return false;
	}
	if ((v = json_object_get(r, "except")) && !json_is_string(v)) {
		*err = xstrdup("except: a string is expected");
		return false;
	}
	if ((v = json_object_get(r, "query")) && !json_is_string(v)) {
		*err = xstrdup("query: a string is expected");
		return false;
	}
	if ((v = json_object_get(r, "method")) && !json_is_string(v)) {
		*err = xstrdup("method: a string is expected");
		return false;
	}
	if ((v = json_object_get(r, "rate")) &&
	    (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1)) {
		*err = xstrdup("rate: a number from 0 to 1 is expected");
		return false;
	}
	if ((v = json_object_get(r, "status")) &&
	    (!json_is_integer(v) ||
	     (json_integer_value(v) != 0 &&
	      (json_integer_value(v) < 400 || json_integer_value(v) > 599)))) {
		*err = xstrdup("status: 0 or an HTTP error status (400-599) is expected");
		return false;
	}
	const char *ints[] = {"latency_ms", "retry_after", "count"};
	for (size_t i = 0; i < ARRAY_SIZE(ints); i++) {
		if ((v = json_object_get(r, ints[i])) &&
		    (!json_is_integer(v) || json_integer_value(v) < 0)) {
			*err = xasprintf("%s: a non-negative integer is expected", ints[i]);
			return false;
		}
	}
	if ((v = json_object_get(r, "hang")) && !json_is_boolean(v)) {
		*err = xstrdup("hang: a boolean is expected");
		return false;
	}
	json_t *copy = json_deep_copy(r);
	json_object_set_new(copy, "hits", json_integer(0));
	json_array_append_new(rules, copy);
	return true;
}

static bool add_names(json_t *dst, const json_t *src, const char *what, char **err)
{
	size_t i;
	json_t *v;
	if (!src)
		return true;
	if (!json_is_array(src)) {
		*err = xasprintf("%s: a list of names is expected", what);
		return false;
	}
	json_array_foreach (src, i, v) {
		if (!json_is_string(v)) {
			*err = xasprintf("%s: a list of names is expected", what);
			return false;
		}
		json_array_append(dst, v);
	}
	return true;
}

bool faults_add(const json_t *body, char **err)
{
	size_t i;
	json_t *r;
	*err = NULL;
	if (json_is_array(body)) {
		json_array_foreach (body, i, r) {
			if (!add_rule(r, err))
				return false;
		}
		return true;
	}
	if (!json_is_object(body)) {
		*err = xstrdup("a rule, a list of rules or {\"rules\": [...]} is expected");
		return false;
	}
	if (!json_object_get(body, "rules") && !json_object_get(body, "unschedulable_nodes") &&
	    !json_object_get(body, "red_clusters"))
		return add_rule(body, err);
	json_array_foreach (json_object_get(body, "rules"), i, r) {
		if (!add_rule(r, err))
			return false;
	}
	return add_names(unschedulable, json_object_get(body, "unschedulable_nodes"),
			 "unschedulable_nodes", err) &&
	       add_names(red, json_object_get(body, "red_clusters"), "red_clusters", err);
}

json_t *faults_json(void)
{
	return json_pack("{s:O, s:O, s:O}", "rules", rules, "unschedulable_nodes", unschedulable,
			 "red_clusters", red);
}

void faults_check(const char *method, const char *path, const char *query, struct faults_hit *hit)
{
	size_t i;
	json_t *r;
	memset(hit, 0, sizeof(*hit));
	json_array_foreach (rules, i, r) {
		const char *pat = json_str(r, "path");
		const char *except = json_str(r, "except");
		const char *m = json_str(r, "method");
		const char *q = json_str(r, "query");
		json_t *rate = json_object_get(r, "rate");
		json_t *count = json_object_get(r, "count");
		json_int_t hits = json_integer_value(json_object_get(r, "hits"));
		if (pat && fnmatch(pat, path, 0) != 0)
			continue;
		if (except && fnmatch(except, path, 0) == 0)
			continue;
		if (m && strcasecmp(m, method) != 0)
			continue;
		if (q && fnmatch(q, query ? query : "", 0) != 0)
			continue;
		if (count && hits >= json_integer_value(count))
			continue;
		if (rate &&
		    simconf_rand_below(1000000) >= (uint64_t)(json_number_value(rate) * 1000000))
			continue;
		json_object_set_new(r, "hits", json_integer(hits + 1));
		hit->latency_ms += (int)json_integer_value(json_object_get(r, "latency_ms"));
		if (json_is_true(json_object_get(r, "hang")))
			hit->hang = true;
		json_t *st = json_object_get(r, "status");
		if (hit->status == 0) {
			if (st)
				hit->status = (int)json_integer_value(st);
			else if (!json_object_get(r, "latency_ms") && !hit->hang)
				hit->status = 503;
			if (hit->status) {
				hit->retry_after =
					(int)json_integer_value(json_object_get(r, "retry_after"));
				const char *msg = json_str(r, "message");
				free(hit->message);
				hit->message = msg ? xstrdup(msg) : NULL;
			}
		}
	}
}

static bool in_list(const json_t *list, const char *name)
{
	size_t i;
	json_t *v;
	json_array_foreach (list, i, v) {
		if (!strcmp(json_string_value(v), name))
			return true;
	}
	return false;
}

bool faults_node_unschedulable(const char *node)
{
	return in_list(unschedulable, node);
}

bool faults_cluster_red(const char *ns)
{
	return in_list(red, ns);
}
