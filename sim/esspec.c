#include "sim/esspec.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "common/json.h"
#include "sim/call.h"

/* name -> API ({"url": {"paths": [...]}, "params": {...}}), by folder. */
static json_t *spec_7_17;
static json_t *spec_8_17;

static bool load_folder(const char *dir, const char *version, json_t **out, char **err)
{
	char *folder = xasprintf("%s/%s/_json_spec", dir, version);
	DIR *d = opendir(folder);
	if (!d) {
		free(folder);
		return true;
	}
	json_t *apis = json_object();
	struct dirent *e;
	bool ok = true;
	while (ok && (e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
			continue;
		char *path = xasprintf("%s/%s", folder, e->d_name);
		json_error_t jerr;
		json_t *doc = json_load_file(path, 0, &jerr);
		if (!json_is_object(doc)) {
			*err = xasprintf("%s: not a REST API specification: %s", path,
					 doc ? "not an object" : jerr.text);
			ok = false;
		} else {
			json_object_update(apis, doc);
		}
		json_decref(doc);
		free(path);
	}
	closedir(d);
	free(folder);
	if (!ok) {
		json_decref(apis);
		return false;
	}
	*out = apis;
	return true;
}

bool esspec_load(const char *dir, char **err)
{
	esspec_free();
	if (!load_folder(dir, "7.17", &spec_7_17, err) ||
	    !load_folder(dir, "8.17", &spec_8_17, err)) {
		esspec_free();
		return false;
	}
	if (!spec_7_17 && !spec_8_17) {
		*err = xasprintf("%s: neither 7.17/_json_spec nor 8.17/_json_spec is there", dir);
		return false;
	}
	return true;
}

void esspec_free(void)
{
	json_decref(spec_7_17);
	json_decref(spec_8_17);
	spec_7_17 = spec_8_17 = NULL;
}

static const json_t *spec_of(const char *version)
{
	int major = 0, minor = 0;
	if (!version || sscanf(version, "%d.%d", &major, &minor) != 2)
		return NULL;
	if (major == 7 && minor == 17)
		return spec_7_17;
	if (major == 8 && minor <= 17)
		return spec_8_17;
	return NULL;
}

/* How many of template's segments match path's, literals counted; -1 when
 * it does not match. */
static int template_match(const char *template, const char *path)
{
	int literals = 0;
	const char *t = template, *p = path;
	for (;;) {
		while (*t == '/')
			t++;
		while (*p == '/')
			p++;
		if (!*t || !*p)
			return !*t && !*p ? literals : -1;
		size_t tl = strcspn(t, "/"), pl = strcspn(p, "/");
		if (t[0] == '{') {
			/* A path part: any non-empty segment, but an index name
			 * never starts with '_' ("Index names cannot start with -,
			 * _, +", the create index API's naming rules): `_all`
			 * aside, /_recovery is an API of its own, even where its
			 * specification is not at hand. */
			if (tl == strlen("{index}") && !strncmp(t, "{index}", tl) && p[0] == '_' &&
			    !(pl == 4 && !strncmp(p, "_all", 4)))
				return -1;
		} else if (tl != pl || strncmp(t, p, tl) != 0) {
			return -1;
		} else {
			literals++;
		}
		t += tl;
		p += pl;
	}
}

static bool method_of(const json_t *methods, const char *method)
{
	size_t i;
	json_t *m;
	json_array_foreach (methods, i, m) {
		if (!strcmp(json_string_value(m), method))
			return true;
	}
	return false;
}

/* The API Elasticsearch's router picks for the path and method: the one
 * whose path has the most literal segments (a literal wins over a path
 * part), or NULL. */
static const json_t *api_for(const json_t *spec, const char *method, const char *path)
{
	const json_t *best = NULL;
	int best_literals = -1;
	const char *name;
	json_t *api;
	json_object_foreach ((json_t *)spec, name, api) {
		size_t i;
		json_t *p;
		json_array_foreach (json_object_get(json_object_get(api, "url"), "paths"), i, p) {
			int lit = template_match(json_str(p, "path"), path);
			if (lit > best_literals &&
			    method_of(json_object_get(p, "methods"), method)) {
				best = api;
				best_literals = lit;
			}
		}
	}
	return best;
}

/* Parameters every API takes: rest-api-spec/api/_common.json. */
static const char *const common_params[] = {
	"pretty", "human", "error_trace", "source", "source_content_type", "filter_path",
};

static bool is_common(const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(common_params); i++) {
		if (!strcmp(key, common_params[i]))
			return true;
	}
	return false;
}

/* The reason a handler gives for a value it cannot parse, or NULL.  Only
 * the parsers whose message is known are modelled:
 * - a health status: ClusterHealthStatus.fromString, "unknown cluster
 *   health status [x]", case-insensitive;
 * - expand_wildcards: IndicesOptions.WildcardStates.parseParameter, "No
 *   valid expand wildcard value [x]", each of a comma-separated list;
 * - wait_for_events: Priority.valueOf(value.toUpperCase()) in
 *   RestClusterHealthAction, Java's "No enum constant ...";
 * - a boolean: RestRequest.paramAsBoolean, Booleans.parseBoolean, empty
 *   meaning true.
 * Other enumerations (bytes, time, level) are rendered or read leniently
 * by the handlers and are not refused here. */
static char *bad_value(const char *key, const json_t *param, const char *value)
{
	const char *type = json_str(param, "type");
	if (type && !strcmp(type, "boolean")) {
		if (!*value || !strcmp(value, "true") || !strcmp(value, "false"))
			return NULL;
		return xasprintf(
			"Failed to parse value [%s] as only [true] or [false] are allowed.", value);
	}
	if (!type || strcmp(type, "enum") != 0)
		return NULL;
	if (!strcmp(key, "wait_for_status") || !strcmp(key, "health")) {
		if (!strcasecmp(value, "green") || !strcasecmp(value, "yellow") ||
		    !strcasecmp(value, "red"))
			return NULL;
		return xasprintf("unknown cluster health status [%s]", value);
	}
	if (!strcmp(key, "expand_wildcards")) {
		char *copy = xstrdup(value);
		char *reason = NULL;
		for (char *w = copy, *next; w && !reason; w = next) {
			next = strchr(w, ',');
			if (next)
				*next++ = '\0';
			if (strcmp(w, "open") && strcmp(w, "closed") && strcmp(w, "hidden") &&
			    strcmp(w, "none") && strcmp(w, "all"))
				reason = xasprintf("No valid expand wildcard value [%s]", w);
		}
		free(copy);
		return reason;
	}
	if (!strcmp(key, "wait_for_events")) {
		size_t i;
		json_t *o;
		json_array_foreach (json_object_get(param, "options"), i, o) {
			if (!strcasecmp(json_string_value(o), value))
				return NULL;
		}
		char *upper = xstrdup(value);
		for (char *u = upper; *u; u++) {
			if (*u >= 'a' && *u <= 'z')
				*u = (char)(*u - 'a' + 'A');
		}
		char *reason =
			xasprintf("No enum constant org.elasticsearch.common.Priority.%s", upper);
		free(upper);
		return reason;
	}
	return NULL;
}

/* Lucene's LevenshteinDistance.getDistance: 1 - edits / the longer length. */
static float similarity(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la == 0 || lb == 0)
		return la == lb ? 1.0f : 0.0f;
	size_t *prev = xcalloc(lb + 1, sizeof(size_t)), *cur = xcalloc(lb + 1, sizeof(size_t));
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
			size_t m = sub < del ? sub : del;
			cur[j] = m < ins ? m : ins;
		}
		size_t *t = prev;
		prev = cur;
		cur = t;
	}
	size_t edits = prev[lb];
	free(prev);
	free(cur);
	return 1.0f - (float)edits / (float)(la > lb ? la : lb);
}

struct scored {
	float score;
	const char *name;
};

static int scored_cmp(const void *a, const void *b)
{
	const struct scored *x = a, *y = b;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void append(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* *out (allocated) with fmt appended. */
static void append(char **out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *more = xvasprintf(fmt, ap);
	va_end(ap);
	char *s = xasprintf("%s%s", *out, more);
	free(more);
	free(*out);
	*out = s;
}

/* BaseRestHandler.unrecognized: the unknown names in order, each with the
 * known ones more than half similar ("-> did you mean [x]?", "-> did you
 * mean any of [x, y]?"). */
static char *unrecognized(const char *path, const char **bad, size_t nbad, const json_t *params)
{
	qsort(bad, nbad, sizeof(*bad), str_cmp);
	char *out = xasprintf("request [%s] contains unrecognized parameter%s: ", path,
			      nbad > 1 ? "s" : "");
	size_t nknown = json_object_size(params);
	struct scored *sc = xcalloc(nknown + 1, sizeof(*sc));
	for (size_t i = 0; i < nbad; i++) {
		size_t n = 0;
		const char *name;
		json_t *v;
		json_object_foreach ((json_t *)params, name, v) {
			float d = similarity(bad[i], name);
			if (d > 0.5f)
				sc[n++] = (struct scored){d, name};
		}
		qsort(sc, n, sizeof(*sc), scored_cmp);
		append(&out, "%s[%s]", i ? ", " : "", bad[i]);
		if (n == 1)
			append(&out, " -> did you mean [%s]?", sc[0].name);
		for (size_t k = 0; n > 1 && k < n; k++)
			append(&out, "%s%s%s", k ? ", " : " -> did you mean any of [", sc[k].name,
			       k + 1 == n ? "]?" : "");
	}
	free(sc);
	return out;
}

char *esspec_refusal(const char *version, const char *method, const char *path,
		     const char *query_raw)
{
	const json_t *spec = spec_of(version);
	if (!spec || !query_raw || !*query_raw)
		return NULL;
	const json_t *api = api_for(spec, method, path);
	if (!api)
		return NULL;
	const json_t *params = json_object_get(api, "params");
	struct evkeyvalq q;
	TAILQ_INIT(&q);
	call_parse_query(query_raw, &q);
	const char **bad = NULL;
	size_t nbad = 0;
	char *reason = NULL;
	struct evkeyval *kv;
	/* The handler parses its parameters first; what is left unread is
	 * reported after. */
	TAILQ_FOREACH (kv, &q, next) {
		const json_t *param = json_object_get(params, kv->key);
		if (param && !reason)
			reason = bad_value(kv->key, param, kv->value);
	}
	if (!reason) {
		TAILQ_FOREACH (kv, &q, next) {
			if (json_object_get(params, kv->key) || is_common(kv->key))
				continue;
			bool seen = false;
			for (size_t i = 0; i < nbad; i++)
				seen = seen || !strcmp(bad[i], kv->key);
			if (seen)
				continue;
			bad = xrealloc(bad, (nbad + 1) * sizeof(*bad));
			bad[nbad++] = kv->key;
		}
		if (nbad)
			reason = unrecognized(path, bad, nbad, params);
	}
	free(bad);
	evhttp_clear_headers(&q);
	return reason;
}
