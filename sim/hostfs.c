/*
 * The simulated nodes' folders (sim/hostfs.h).  Kept in a list: a few per
 * node and cluster.
 */
#include "sim/hostfs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "sim/store.h"

static struct hostdir *dirs;

static void dir_free(struct hostdir *d)
{
	free(d->host);
	free(d->path);
	free(d->node_id);
	free(d->cluster_uuid);
	free(d->es_version);
	json_decref(d->indices);
	json_decref(d->plugins);
	free(d);
}

void hostfs_free(void)
{
	while (dirs) {
		struct hostdir *d = dirs;
		dirs = d->next;
		dir_free(d);
	}
}

struct hostdir *hostfs_find(const char *host, const char *path)
{
	for (struct hostdir *d = dirs; d && host && path; d = d->next) {
		if (!strcmp(d->host, host) && !strcmp(d->path, path))
			return d;
	}
	return NULL;
}

/*
 * "If nothing exists at the given path, an empty directory will be created
 * there as needed with permission set to 0755, having the same group and
 * ownership with Kubelet" (root):
 * https://kubernetes.io/docs/concepts/storage/volumes/#hostpath, and
 * kubernetes#71885 on the root-owned folder a non-root container then
 * cannot write.
 */
struct hostdir *hostfs_make(const char *host, const char *path)
{
	struct hostdir *d = hostfs_find(host, path);

	if (d)
		return d;
	d = xcalloc(1, sizeof(*d));
	d->host = xstrdup(host);
	d->path = xstrdup(path);
	d->uid = 0;
	d->gid = 0;
	d->mode = 0755;
	d->next = dirs;
	dirs = d;
	return d;
}

/* d is path or below it (below only when strictly). */
static bool under(const struct hostdir *d, const char *host, const char *path, size_t n,
		  bool strictly)
{
	if (strcmp(d->host, host) != 0 || strncmp(d->path, path, n) != 0)
		return false;
	return d->path[n] == '/' || (!strictly && !d->path[n]);
}

static bool has_content(const struct hostdir *d)
{
	return d->node_id || d->cluster_uuid || json_object_size(d->indices) > 0 ||
	       json_object_size(d->plugins) > 0;
}

/* The nearest known folder holding d, at or below path; NULL when the
 * folders between are unknown (root's). */
static struct hostdir *holder(const struct hostdir *d, const char *host, const char *path, size_t n)
{
	struct hostdir *best = NULL;
	for (struct hostdir *e = dirs; e; e = e->next) {
		size_t len = strlen(e->path);
		if (e == d || !under(e, host, path, n, false) || len >= strlen(d->path) ||
		    strncmp(d->path, e->path, len) != 0 || d->path[len] != '/')
			continue;
		if (!best || len > strlen(best->path))
			best = e;
	}
	return best;
}

static bool root_may_write(bool (*may_write)(const struct hostdir *d, void *arg), void *arg)
{
	struct hostdir root = {.uid = 0, .gid = 0, .mode = 0755};
	return may_write(&root, arg);
}

/* How many folders below the one of n characters d is (0: d is it). */
static int depth_below(const struct hostdir *d, size_t n)
{
	int depth = 0;
	for (const char *p = d->path + n; *p; p++)
		depth += *p == '/' && p[1] && p[1] != '/';
	return depth;
}

bool hostfs_remove_below(const char *host, const char *path, int min_depth,
			 bool (*may_write)(const struct hostdir *d, void *arg), void *arg,
			 char **denied)
{
	size_t n = strlen(path);
	bool all = true;

	while (n > 1 && path[n - 1] == '/')
		n--;
	if (min_depth < 1)
		min_depth = 1;
	*denied = NULL;
	/* The files first: those of a folder the process may write go. */
	for (struct hostdir *d = dirs; d; d = d->next) {
		if (!under(d, host, path, n, false) || !has_content(d) ||
		    depth_below(d, n) < min_depth - 1)
			continue;
		if (!may_write(d, arg)) {
			if (!*denied)
				*denied = xstrdup(d->path);
			all = false;
			continue;
		}
		hostfs_set_identity(d, NULL, NULL);
		hostfs_set_version(d, NULL);
		json_decref(d->indices);
		d->indices = NULL;
		json_decref(d->plugins);
		d->plugins = NULL;
	}
	/* Then the folders below path, the deepest first: an empty one goes
	 * when its holder may be written. */
	for (bool removed = true; removed;) {
		removed = false;
		for (struct hostdir **pp = &dirs; *pp; pp = &(*pp)->next) {
			struct hostdir *d = *pp;
			if (!under(d, host, path, n, true) || has_content(d) ||
			    depth_below(d, n) < min_depth)
				continue;
			bool leaf = true;
			for (struct hostdir *e = dirs; e && leaf; e = e->next)
				leaf = !(e != d && !strcmp(e->host, host) &&
					 !strncmp(e->path, d->path, strlen(d->path)) &&
					 e->path[strlen(d->path)] == '/');
			if (!leaf)
				continue;
			struct hostdir *h = holder(d, host, path, n);
			if (h ? !may_write(h, arg) : !root_may_write(may_write, arg)) {
				if (!*denied)
					*denied = xstrdup(d->path);
				all = false;
				continue;
			}
			*pp = d->next;
			dir_free(d);
			removed = true;
			break;
		}
	}
	/* A folder that stayed because of what is in it was counted above;
	 * one left non-empty by a denied child is not a second failure. */
	return all;
}

void hostfs_set_identity(struct hostdir *d, const char *node_id, const char *cluster_uuid)
{
	char *id = node_id ? xstrdup(node_id) : NULL;
	char *uuid = cluster_uuid ? xstrdup(cluster_uuid) : NULL;

	free(d->node_id);
	free(d->cluster_uuid);
	d->node_id = id;
	d->cluster_uuid = uuid;
}

void hostfs_set_version(struct hostdir *d, const char *es_version)
{
	if (d->es_version && es_version && !strcmp(d->es_version, es_version))
		return;
	free(d->es_version);
	d->es_version = es_version ? xstrdup(es_version) : NULL;
}

static json_t *volume_named(const json_t *pod, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach (json_object_get(json_object_get(pod, "spec"), "volumes"), i, v) {
		if (json_str(v, "name") && !strcmp(json_str(v, "name"), name))
			return v;
	}
	return NULL;
}

/* A claim's bound PersistentVolume's path: hostPath or local. */
static const char *claim_path(const char *ns, const char *claim)
{
	const struct store_kind *pvcs = store_kind_by_plural("persistentvolumeclaims");
	const struct store_kind *pvs = store_kind_by_plural("persistentvolumes");
	struct store_obj *pvc = pvcs && claim ? store_get(pvcs, ns, claim) : NULL;
	const char *vol = pvc ? json_str(json_object_get(pvc->body, "spec"), "volumeName") : NULL;
	struct store_obj *pv = pvs && vol ? store_get(pvs, "", vol) : NULL;
	json_t *spec = pv ? json_object_get(pv->body, "spec") : NULL;

	if (!spec)
		return NULL;
	if (json_object_get(spec, "hostPath"))
		return json_str(json_object_get(spec, "hostPath"), "path");
	return json_str(json_object_get(spec, "local"), "path");
}

const char *hostfs_mount_path(const json_t *pod, const json_t *container, const char *mount_path)
{
	size_t i;
	json_t *m;

	json_array_foreach (json_object_get(container, "volumeMounts"), i, m) {
		const char *at = json_str(m, "mountPath");
		json_t *v;

		if (!at || strcmp(at, mount_path) != 0 || json_str(m, "subPath"))
			continue;
		v = volume_named(pod, json_str(m, "name") ? json_str(m, "name") : "");
		if (json_object_get(v, "hostPath"))
			return json_str(json_object_get(v, "hostPath"), "path");
		if (json_object_get(v, "persistentVolumeClaim"))
			return claim_path(
				json_str(json_object_get(pod, "metadata"), "namespace"),
				json_str(json_object_get(v, "persistentVolumeClaim"), "claimName"));
		return NULL;
	}
	return NULL;
}

void hostfs_add_copy(struct hostdir *d, const char *index, const json_t *meta, int shard)
{
	if (!d->indices)
		d->indices = json_object();
	json_t *have = json_object_get(d->indices, index);
	if (!have || !json_equal(json_object_get(have, "uuid"), json_object_get(meta, "uuid"))) {
		have = json_deep_copy(meta);
		json_object_set_new(have, "copies", json_array());
		json_object_set_new(d->indices, index, have);
	}
	json_t *copies = json_object_get(have, "copies");
	size_t i;
	json_t *v;
	json_array_foreach (copies, i, v)
		if (json_integer_value(v) == shard)
			return;
	json_array_append_new(copies, json_integer(shard));
}

void hostfs_drop_index(struct hostdir *d, const char *index, const char *uuid)
{
	json_t *have = json_object_get(d->indices, index);
	if (have && (!uuid || !strcmp(json_str(have, "uuid") ? json_str(have, "uuid") : "", uuid)))
		json_object_del(d->indices, index);
}

json_t *hostfs_json(void)
{
	json_t *out = json_array();

	for (struct hostdir *d = dirs; d; d = d->next) {
		char owner[32], mode[8];

		snprintf(owner, sizeof(owner), "%d:%d", d->uid, d->gid);
		snprintf(mode, sizeof(mode), "%04o", (unsigned)d->mode);
		json_t *names = json_array();
		const char *k;
		json_t *v;
		json_object_foreach (d->indices, k, v)
			json_array_append_new(names, json_string(k));
		json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?, s:o, s:O?}",
						     "host", d->host, "path", d->path, "owner",
						     owner, "mode", mode, "node_id", d->node_id,
						     "cluster_uuid", d->cluster_uuid, "indices",
						     names, "plugins", d->plugins));
	}
	return out;
}
