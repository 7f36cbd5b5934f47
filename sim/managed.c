#include "sim/managed.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "sim/store.h"

/*
 * Lists merged item by item, by the keys the 1.29 schema gives them
 * (x-kubernetes-list-map-keys; the strategic merge keys of
 * staging/src/k8s.io/api/core/v1/types.go).  "ports" is a container's
 * (containerPort, protocol) or a Service's (port, protocol); protocol, when
 * left out, is its default TCP, as the schema's default fills a missing key.
 */
struct list_keys {
	const char *field;
	const char *keys[2];
};

static const struct list_keys LIST_KEYS[] = {
	{"containers", {"name", NULL}},
	{"initContainers", {"name", NULL}},
	{"ephemeralContainers", {"name", NULL}},
	{"env", {"name", NULL}},
	{"volumes", {"name", NULL}},
	{"volumeMounts", {"mountPath", NULL}},
	{"volumeDevices", {"devicePath", NULL}},
	{"imagePullSecrets", {"name", NULL}},
	{"hostAliases", {"ip", NULL}},
	{"ownerReferences", {"uid", NULL}},
	{"conditions", {"type", NULL}},
};

/* Fields whose value is a map of free keys: the map itself is a member of
 * the set too ("." in FieldsV1). */
static const char *const MAP_FIELDS[] = {"labels",   "annotations", "matchLabels", "nodeSelector",
					 "data",     "binaryData",  "stringData",  "limits",
					 "requests", "capacity",    "parameters"};

static bool is_map_field(const char *field)
{
	for (size_t i = 0; field && i < ARRAY_SIZE(MAP_FIELDS); i++) {
		if (!strcmp(field, MAP_FIELDS[i]))
			return true;
	}
	return false;
}

/* The keys of item in a list of field; false when it is no keyed list. */
static bool item_keys(const char *field, const json_t *item, const char *keys[2])
{
	if (!field || !json_is_object(item))
		return false;
	if (!strcmp(field, "ports")) {
		keys[0] = json_object_get(item, "containerPort") ? "containerPort" : "port";
		keys[1] = "protocol";
		return json_object_get(item, keys[0]) != NULL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(LIST_KEYS); i++) {
		if (!strcmp(field, LIST_KEYS[i].field)) {
			keys[0] = LIST_KEYS[i].keys[0];
			keys[1] = LIST_KEYS[i].keys[1];
			return json_object_get(item, keys[0]) != NULL;
		}
	}
	return false;
}

static bool keyed_field(const char *field)
{
	for (size_t i = 0; field && i < ARRAY_SIZE(LIST_KEYS); i++) {
		if (!strcmp(field, LIST_KEYS[i].field))
			return true;
	}
	return field && !strcmp(field, "ports");
}

/* A list merged by key (an empty one of a keyed field too). */
static bool keyed_list(const char *field, const json_t *v)
{
	size_t i;
	json_t *item;
	const char *keys[2];
	if (!json_is_array(v) || !keyed_field(field))
		return false;
	json_array_foreach (v, i, item) {
		if (!item_keys(field, item, keys))
			return false;
	}
	return true;
}

static json_t *key_value(const json_t *item, const char *key)
{
	json_t *v = json_object_get(item, key);
	if (!v && !strcmp(key, "protocol"))
		return json_string("TCP");
	return v ? json_incref(v) : json_null();
}

/* "k:{...}" of a list item: its keys as compact JSON, sorted. */
static char *item_name(const char *field, const json_t *item)
{
	const char *keys[2];
	if (!item_keys(field, item, keys))
		return NULL;
	json_t *k = json_object();
	for (size_t i = 0; i < 2 && keys[i]; i++)
		json_object_set_new(k, keys[i], key_value(item, keys[i]));
	char *dump = json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS);
	char *name = xasprintf("k:%s", dump);
	free(dump);
	json_decref(k);
	return name;
}

/* The item of list whose keys are name's ("k:{...}"), or NULL. */
static json_t *find_item(const char *field, const json_t *list, const char *name)
{
	size_t i;
	json_t *item;
	json_array_foreach (list, i, item) {
		char *n = item_name(field, item);
		bool same = n && !strcmp(n, name);
		free(n);
		if (same)
			return item;
	}
	return NULL;
}

/* The value under a set member of v (the value of field). */
static json_t *child(const json_t *v, const char *field, const char *member)
{
	if (!v)
		return NULL;
	if (!strncmp(member, "f:", 2))
		return json_is_object(v) ? json_object_get(v, member + 2) : NULL;
	if (!strncmp(member, "k:", 2))
		return json_is_array(v) ? find_item(field, v, member) : NULL;
	return NULL;
}

/* The field name a member names ("f:spec" -> "spec"); NULL for items. */
static const char *member_field(const char *member)
{
	return !strncmp(member, "f:", 2) ? member + 2 : NULL;
}

/* --- the set of a value ------------------------------------------------------------- */

static json_t *set_of_object(const json_t *obj, int depth);

static json_t *set_of_value(const char *field, const json_t *v, int depth)
{
	if (json_is_object(v) && json_object_size(v) > 0) {
		json_t *s = set_of_object(v, depth + 1);
		if (is_map_field(field))
			json_object_set_new(s, ".", json_object());
		return s;
	}
	if (keyed_list(field, v) && json_array_size(v) > 0) {
		json_t *s = json_object();
		size_t i;
		json_t *item;
		json_array_foreach (v, i, item) {
			char *name = item_name(field, item);
			json_t *is = set_of_object(item, depth + 1);
			json_object_set_new(is, ".", json_object());
			json_object_set_new(s, name, is);
			free(name);
		}
		return s;
	}
	return json_object(); /* a scalar, an atomic list, an empty map: one leaf */
}

/* What no manager owns: the object's identity, what the store keeps, and
 * the status, which the main resource's writes reset
 * (managedfields/internal/stripmeta.go; the strategies' GetResetFields). */
static bool ignored(const char *key, int depth, bool in_meta)
{
	static const char *const top[] = {"apiVersion", "kind", "status"};
	static const char *const meta[] = {"name",
					   "namespace",
					   "uid",
					   "resourceVersion",
					   "generation",
					   "creationTimestamp",
					   "deletionTimestamp",
					   "deletionGracePeriodSeconds",
					   "managedFields",
					   "selfLink"};
	if (depth == 0) {
		for (size_t i = 0; i < ARRAY_SIZE(top); i++) {
			if (!strcmp(key, top[i]))
				return true;
		}
	}
	if (in_meta) {
		for (size_t i = 0; i < ARRAY_SIZE(meta); i++) {
			if (!strcmp(key, meta[i]))
				return true;
		}
	}
	return false;
}

static json_t *set_of_object(const json_t *obj, int depth)
{
	json_t *s = json_object();
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)obj, k, v) {
		if (ignored(k, depth, false))
			continue;
		json_t *cs;
		if (depth == 0 && !strcmp(k, "metadata") && json_is_object(v)) {
			cs = json_object();
			const char *mk;
			json_t *mv;
			json_object_foreach (v, mk, mv) {
				if (ignored(mk, 1, true))
					continue;
				char *m = xasprintf("f:%s", mk);
				json_object_set_new(cs, m, set_of_value(mk, mv, depth + 1));
				free(m);
			}
			if (json_object_size(cs) == 0) {
				json_decref(cs);
				continue;
			}
		} else {
			cs = set_of_value(k, v, depth);
		}
		char *m = xasprintf("f:%s", k);
		json_object_set_new(s, m, cs);
		free(m);
	}
	return s;
}

/* --- operations on sets --------------------------------------------------------------- */

static bool is_leaf(const json_t *node)
{
	return json_object_size(node) == 0;
}

/* Has the node its own path as a member: a leaf, or "." under it? */
static bool has_self(const json_t *node)
{
	return is_leaf(node) || json_object_get(node, ".");
}

/* a minus b: the members of a that b does not have (a new set).  A leaf
 * is the member itself, "." under a node the node itself, the other
 * children members under it. */
static json_t *set_minus(const json_t *a, const json_t *b)
{
	json_t *out = json_object();
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)a, k, v) {
		json_t *bv = b ? json_object_get(b, k) : NULL;
		if (!bv) {
			json_object_set_new(out, k, json_deep_copy(v));
		} else if (!is_leaf(v)) {
			json_t *self = json_pack("{s:{}}", ".");
			json_t *rest = set_minus(v, is_leaf(bv) ? self : bv);
			json_decref(self);
			if (json_object_size(rest) > 0)
				json_object_set_new(out, k, rest);
			else
				json_decref(rest);
		}
	}
	return out;
}

/* a gets every member of b. */
static void set_union(json_t *a, const json_t *b)
{
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)b, k, v) {
		json_t *av = json_object_get(a, k);
		if (!av)
			json_object_set_new(a, k, json_deep_copy(v));
		else
			set_union(av, v);
	}
}

/* Take b's members out of a, in place; members left empty go. */
static void set_subtract(json_t *a, const json_t *b)
{
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach_safe (a, tmp, k, v) {
		json_t *bv = json_object_get(b, k);
		if (!bv)
			continue;
		if (is_leaf(v)) {
			json_object_del(a, k);
			continue;
		}
		if (is_leaf(bv))
			json_object_del(v, ".");
		else
			set_subtract(v, bv);
		if (json_object_size(v) == 0)
			json_object_del(a, k);
	}
}

/* The members of s (the set of now) whose value differs in then: what a
 * write changed. */
static json_t *set_changed(const json_t *s, const char *field, const json_t *now,
			   const json_t *then)
{
	json_t *out = json_object();
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)s, k, v) {
		if (!strcmp(k, ".")) {
			if (!then)
				json_object_set_new(out, k, json_object());
			continue;
		}
		const char *f = member_field(k) ? member_field(k) : field;
		json_t *n = child(now, field, k), *t = child(then, field, k);
		if (is_leaf(v)) {
			if (!t || !json_equal(n, t))
				json_object_set_new(out, k, json_object());
			continue;
		}
		json_t *c = set_changed(v, f, n, t);
		if (json_object_size(c) > 0)
			json_object_set_new(out, k, c);
		else
			json_decref(c);
	}
	return out;
}

/* --- conflicts ------------------------------------------------------------------------- */

/* The path of a member as fieldpath prints it: ".spec.replicas",
 * "[name=\"es\"]". */
static char *path_add(const char *path, const char *member)
{
	if (!strncmp(member, "f:", 2))
		return xasprintf("%s.%s", path, member + 2);
	json_t *k = json_loads(member + 2, 0, NULL);
	char *out = xasprintf("%s[", path);
	const char *key;
	json_t *v;
	bool first = true;
	json_object_foreach (k, key, v) {
		char *val = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		char *next = xasprintf("%s%s%s=%s", out, first ? "" : ",", key, val);
		free(val);
		free(out);
		out = next;
		first = false;
	}
	json_decref(k);
	char *done = xasprintf("%s]", out);
	free(out);
	return done;
}

/* The members that both mine and theirs have, whose applied value (in
 * cfg) differs from the live one: into out as paths, or, with take, out of
 * theirs. */
static void collide(const json_t *mine, json_t *theirs, const char *field, const json_t *cfg,
		    const json_t *live, const char *path, const char *who, json_t *out, bool take)
{
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)mine, k, v) {
		json_t *tv = json_object_get(theirs, k);
		if (!tv || !strcmp(k, "."))
			continue;
		const char *f = member_field(k) ? member_field(k) : field;
		json_t *cv = child(cfg, field, k), *lv = child(live, field, k);
		char *p = path_add(path, k);
		if (is_leaf(v) && is_leaf(tv)) {
			if (lv && !json_equal(cv, lv)) {
				if (take)
					json_object_del(theirs, k);
				else
					json_array_append_new(out,
							      json_pack("{s:s, s:s}", "manager",
									who, "field", p));
			}
		} else if (!is_leaf(v) && !is_leaf(tv)) {
			collide(v, tv, f, cv, lv, p, who, out, take);
			if (take && json_object_size(tv) == 0)
				json_object_del(theirs, k);
		}
		free(p);
	}
}

/* The manager as conflicts print it (internal/conflict.go, printManager). */
static char *print_manager(const json_t *entry)
{
	const char *name = json_string_value(json_object_get(entry, "manager"));
	const char *op = json_string_value(json_object_get(entry, "operation"));
	const char *sub = json_string_value(json_object_get(entry, "subresource"));
	char *s = xasprintf("\"%s\"", name ? name : "");
	if (sub && *sub) {
		char *n = xasprintf("%s with subresource \"%s\"", s, sub);
		free(s);
		s = n;
	}
	if (op && !strcmp(op, "Update")) {
		const char *av = json_string_value(json_object_get(entry, "apiVersion"));
		const char *t = json_string_value(json_object_get(entry, "time"));
		char *n = t ? xasprintf("%s using %s at %s", s, av ? av : "", t)
			    : xasprintf("%s using %s", s, av ? av : "");
		free(s);
		s = n;
	}
	return s;
}

char *managed_conflict_message(const json_t *conflicts)
{
	size_t n = json_array_size(conflicts);
	if (n == 1) {
		json_t *c = json_array_get(conflicts, 0);
		return xasprintf("Apply failed with 1 conflict: conflict with %s: %s",
				 json_string_value(json_object_get(c, "manager")),
				 json_string_value(json_object_get(c, "field")));
	}
	/* By manager, the managers sorted. */
	json_t *by = json_object();
	size_t i;
	json_t *c;
	json_array_foreach (conflicts, i, c) {
		const char *m = json_string_value(json_object_get(c, "manager"));
		json_t *list = json_object_get(by, m);
		if (!list) {
			list = json_array();
			json_object_set_new(by, m, list);
		}
		json_array_append(list, json_object_get(c, "field"));
	}
	const char **names = xcalloc(json_object_size(by) + 1, sizeof(char *));
	size_t nn = 0;
	const char *m;
	json_t *list;
	json_object_foreach (by, m, list)
		names[nn++] = m;
	for (size_t a = 1; a < nn; a++) {
		for (size_t b = a; b > 0 && strcmp(names[b - 1], names[b]) > 0; b--) {
			const char *t = names[b];
			names[b] = names[b - 1];
			names[b - 1] = t;
		}
	}
	char *msg = xasprintf("Apply failed with %zu conflicts: ", n);
	for (size_t a = 0; a < nn; a++) {
		char *next = xasprintf("%s%sconflicts with %s:", msg, a ? "\n" : "", names[a]);
		free(msg);
		msg = next;
		json_t *f;
		json_array_foreach (json_object_get(by, names[a]), i, f) {
			next = xasprintf("%s\n- %s", msg, json_string_value(f));
			free(msg);
			msg = next;
		}
	}
	free(names);
	json_decref(by);
	return msg;
}

/* --- the object ---------------------------------------------------------------------- */

static void merge_into(json_t *dst, const json_t *cfg);

/* Take the members of s (and what is under them) out of obj. */
static void remove_fields(json_t *obj, const char *field, const json_t *s)
{
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)s, k, v) {
		if (!strcmp(k, "."))
			continue;
		json_t *cv = child(obj, field, k);
		if (!cv)
			continue;
		bool whole = has_self(v);
		if (!whole) {
			remove_fields(cv, member_field(k) ? member_field(k) : field, v);
			continue;
		}
		if (member_field(k)) {
			json_object_del(obj, member_field(k));
		} else {
			size_t i;
			json_t *item;
			json_array_foreach (obj, i, item) {
				if (item == cv) {
					json_array_remove(obj, i);
					break;
				}
			}
		}
	}
}

/*
 * A keyed list: live's items merged with cfg's.  The items both have come
 * in cfg's order; an item only live has keeps its place among them; an
 * item only cfg has comes where cfg has it (structured-merge-diff,
 * typed/merge.go, visitListItems).
 */
static json_t *merge_list(const char *field, const json_t *live, const json_t *cfg)
{
	size_t nl = json_array_size(live), nr = json_array_size(cfg);
	char **ln = xcalloc(nl + 1, sizeof(char *)), **rn = xcalloc(nr + 1, sizeof(char *));
	bool *in_r = xcalloc(nl + 1, sizeof(bool)), *in_l = xcalloc(nr + 1, sizeof(bool));
	bool *merged = xcalloc(nl + 1, sizeof(bool)); /* live items done */
	size_t *shared = xcalloc(nr + 1, sizeof(size_t)), nshared = 0, next = 0;
	size_t *l_of_r = xcalloc(nr + 1, sizeof(size_t));
	for (size_t i = 0; i < nl; i++)
		ln[i] = item_name(field, json_array_get(live, i));
	for (size_t j = 0; j < nr; j++) {
		rn[j] = item_name(field, json_array_get(cfg, j));
		for (size_t i = 0; i < nl; i++) {
			if (!strcmp(ln[i], rn[j])) {
				in_l[j] = in_r[i] = true;
				l_of_r[j] = i;
				shared[nshared++] = j;
				break;
			}
		}
	}
	json_t *out = json_array();
	size_t li = 0, ri = 0;
	while (li < nl || ri < nr) {
		if (li < nl && ri < nr) {
			if (in_l[ri] && l_of_r[ri] == li) {
				json_t *item = json_deep_copy(json_array_get(live, li));
				merge_into(item, json_array_get(cfg, ri));
				json_array_append_new(out, item);
				merged[li] = true;
				if (next < nshared && shared[next] == ri)
					next++;
				li++;
				ri++;
				continue;
			}
			/* A shared item that comes later in cfg's order. */
			if (in_r[li] && !merged[li] && next < nshared &&
			    l_of_r[shared[next]] != li) {
				li++;
				continue;
			}
		}
		if (li < nl && (!in_r[li] || merged[li])) {
			if (!in_r[li])
				json_array_append(out, json_array_get(live, li));
			li++;
			continue;
		}
		if (ri < nr) {
			json_t *item = in_l[ri] ? json_deep_copy(json_array_get(live, l_of_r[ri]))
						: json_object();
			merge_into(item, json_array_get(cfg, ri));
			json_array_append_new(out, item);
			if (in_l[ri])
				merged[l_of_r[ri]] = true;
			if (next < nshared && shared[next] == ri)
				next++;
			ri++;
			continue;
		}
		li++; /* a shared item left behind, merged where cfg had it */
	}
	for (size_t i = 0; i < nl; i++)
		free(ln[i]);
	for (size_t j = 0; j < nr; j++)
		free(rn[j]);
	free(ln);
	free(rn);
	free(in_r);
	free(in_l);
	free(merged);
	free(shared);
	free(l_of_r);
	return out;
}

/* cfg into dst: maps by key, keyed lists by item, anything else replaced. */
static void merge_into(json_t *dst, const json_t *cfg)
{
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)cfg, k, v) {
		json_t *d = json_object_get(dst, k);
		if (json_is_object(v) && json_is_object(d)) {
			merge_into(d, v);
		} else if (keyed_list(k, v) && json_is_array(d) && keyed_list(k, d)) {
			json_object_set_new(dst, k, merge_list(k, d, v));
		} else {
			json_object_set_new(dst, k, json_deep_copy(v));
		}
	}
}

static json_t *entries_of(const json_t *obj)
{
	json_t *mf = json_object_get(json_object_get(obj, "metadata"), "managedFields");
	return json_is_array(mf) ? json_deep_copy(mf) : json_array();
}

static bool same_str(const json_t *e, const char *key, const char *want)
{
	const char *have = json_string_value(json_object_get(e, key));
	return !strcmp(have ? have : "", want ? want : "");
}

static bool same_entry(const json_t *e, const char *manager, const char *op, const char *sub)
{
	return same_str(e, "manager", manager) && same_str(e, "operation", op) &&
	       same_str(e, "subresource", sub);
}

/* The entry of manager (its set replaced by s, stolen), made when missing;
 * entries whose set is empty go. */
static void put_entry(json_t *entries, const char *manager, const char *op, const char *sub,
		      const char *api_version, json_t *s)
{
	char ts[32];
	store_timestamp(ts, sizeof(ts), now_wall_ms());
	json_t *e = NULL;
	size_t i;
	json_t *x;
	json_array_foreach (entries, i, x) {
		if (same_entry(x, manager, op, sub)) {
			e = x;
			break;
		}
	}
	if (!e) {
		e = json_object();
		json_array_append_new(entries, e);
	}
	json_object_set_new(e, "manager", json_string(manager));
	json_object_set_new(e, "operation", json_string(op));
	json_object_set_new(e, "apiVersion", json_string(api_version));
	json_object_set_new(e, "time", json_string(ts));
	json_object_set_new(e, "fieldsType", json_string("FieldsV1"));
	json_object_set_new(e, "fieldsV1", s);
	if (sub && *sub)
		json_object_set_new(e, "subresource", json_string(sub));
}

static void prune_entries(json_t *entries)
{
	for (size_t i = json_array_size(entries); i-- > 0;) {
		json_t *s = json_object_get(json_array_get(entries, i), "fieldsV1");
		if (json_object_size(s) == 0)
			json_array_remove(entries, i);
	}
}

static void set_entries(json_t *obj, json_t *entries)
{
	json_t *meta = json_object_get(obj, "metadata");
	if (!json_is_object(meta)) {
		meta = json_object();
		json_object_set_new(obj, "metadata", meta);
	}
	prune_entries(entries);
	if (json_array_size(entries) > 0)
		json_object_set_new(meta, "managedFields", entries);
	else {
		json_object_del(meta, "managedFields");
		json_decref(entries);
	}
}

json_t *managed_apply(const json_t *live, const json_t *config, const char *manager,
		      const char *api_version, bool force, json_t **conflicts)
{
	json_t *entries = entries_of(live);
	json_t *mine = set_of_object(config, 0);
	*conflicts = NULL;

	/* Another manager's field that this apply would change. */
	json_t *found = json_array();
	size_t i;
	json_t *e;
	json_array_foreach (entries, i, e) {
		if (same_entry(e, manager, "Apply", NULL))
			continue;
		char *who = print_manager(e);
		collide(mine, json_object_get(e, "fieldsV1"), NULL, config, live, "", who, found,
			force);
		free(who);
	}
	if (json_array_size(found) > 0) {
		*conflicts = found;
		json_decref(mine);
		json_decref(entries);
		return NULL;
	}
	json_decref(found);

	/* What this manager applied before and no longer does, unless another
	 * one owns it too, goes; then the configuration is merged in. */
	json_t *obj = live ? json_deep_copy(live) : json_object();
	json_t *before = NULL, *others = json_object();
	json_array_foreach (entries, i, e) {
		if (same_entry(e, manager, "Apply", NULL))
			before = json_object_get(e, "fieldsV1");
		else
			set_union(others, json_object_get(e, "fieldsV1"));
	}
	if (before) {
		json_t *dropped = set_minus(before, mine);
		json_t *gone = set_minus(dropped, others);
		remove_fields(obj, NULL, gone);
		json_decref(gone);
		json_decref(dropped);
	}
	json_decref(others);
	merge_into(obj, config);
	put_entry(entries, manager, "Apply", NULL, api_version, mine);
	set_entries(obj, entries);
	return obj;
}

void managed_update(const json_t *old, json_t *obj, const char *manager, const char *api_version,
		    const char *subresource)
{
	json_t *entries = entries_of(old);
	json_t *now = set_of_object(obj, 0);
	json_t *changed = set_changed(now, NULL, obj, old);
	/* Fields that went are no one's; changed ones are the writer's alone. */
	json_t *then = old ? set_of_object(old, 0) : json_object();
	json_t *removed = set_minus(then, now);
	size_t i;
	json_t *e;
	json_array_foreach (entries, i, e) {
		json_t *s = json_object_get(e, "fieldsV1");
		set_subtract(s, removed);
		if (!same_entry(e, manager, "Update", subresource))
			set_subtract(s, changed);
	}
	json_t *mine = NULL;
	json_array_foreach (entries, i, e) {
		if (same_entry(e, manager, "Update", subresource))
			mine = json_deep_copy(json_object_get(e, "fieldsV1"));
	}
	if (!mine)
		mine = json_object();
	set_union(mine, changed);
	/* A write that changes nothing leaves the writer's entry (and its
	 * time) as it was. */
	if (json_object_size(changed) > 0)
		put_entry(entries, manager, "Update", subresource, api_version, mine);
	else
		json_decref(mine);
	set_entries(obj, entries);
	json_decref(changed);
	json_decref(removed);
	json_decref(then);
	json_decref(now);
}
