/*
 * The folders on the simulated Kubernetes nodes' disks: what hostPath
 * volumes (and the PersistentVolumes over them) mount.  A folder exists per
 * node and path, outlives the pods that mounted it, and has an owner and a
 * mode, which decide whether a container's user may write it.  It also
 * holds what Elasticsearch keeps in its data path that matters to where a
 * node may go: its node id and the UUID of the cluster it joined.
 */
#ifndef SIM_HOSTFS_H
#define SIM_HOSTFS_H

#include <stdbool.h>
#include <jansson.h>

struct hostdir {
	char *host;
	char *path;
	int uid;
	int gid;
	int mode;
	char *node_id;	    /* Elasticsearch's node id, once a node started here */
	char *cluster_uuid; /* the cluster that node joined */
	char *es_version;   /* the version of the last node that ran over it */
	/* The indices with a shard copy here: name -> {"uuid", "shards",
	 * "replicas", "analysis"?, "mappings"?, "copies": [shard, ...]};
	 * owned, NULL when none. */
	json_t *indices;
	json_t *plugins; /* a plugins folder: {"name": "Elasticsearch version"} */
	struct hostdir *next;
};

void hostfs_free(void);
/* The folder, or NULL when the node has none at that path. */
struct hostdir *hostfs_find(const char *host, const char *path);
/* hostPath type DirectoryOrCreate: the folder, made root:root 0755 when it
 * was not there. */
struct hostdir *hostfs_make(const char *host, const char *path);
/*
 * `rm -rf` of what is in path at min_depth and below (find's -mindepth: 1,
 * everything in it; 3, what is in the folders two levels down, those
 * folders and the ones above them staying), by a process that may write the folders for which
 * may_write(d, arg) holds: what is in a folder it may write goes, a folder
 * below path goes once it is empty and the folder holding it may be
 * written, the rest stays (rm goes on past what it cannot remove).  False
 * when something stayed, with *denied (to free) the first folder that kept
 * it.  Folders between two known ones count as root:root 0755.
 */
bool hostfs_remove_below(const char *host, const char *path, int min_depth,
			 bool (*may_write)(const struct hostdir *d, void *arg), void *arg,
			 char **denied);
void hostfs_set_identity(struct hostdir *d, const char *node_id, const char *cluster_uuid);
void hostfs_set_version(struct hostdir *d, const char *es_version);
/* A copy of shard of the index described by meta ({"uuid", "shards",
 * "replicas", "analysis"?, "mappings"?}, copied) is written in the folder. */
void hostfs_add_copy(struct hostdir *d, const char *index, const json_t *meta, int shard);
/* The index's folder is deleted from d (only the one with that uuid, when
 * uuid is not NULL). */
void hostfs_drop_index(struct hostdir *d, const char *index, const char *uuid);

/*
 * The host path of the folder a container's mount at mount_path is on: a
 * hostPath volume, or a PersistentVolumeClaim bound to a hostPath or local
 * PersistentVolume; NULL when the mount is none of these.  Borrowed from
 * the pod or the volume.  The folder is not made.
 */
const char *hostfs_mount_path(const json_t *pod, const json_t *container, const char *mount_path);

/* [{host, path, owner "uid:gid", mode "0755", node_id, cluster_uuid,
 * indices: [name, ...], plugins}]. */
json_t *hostfs_json(void);

#endif
