/*
 * Object storage for snapshot repositories of type s3: the store the
 * simulated nodes reach (object_store in the simulator's configuration:
 * its endpoint, its buckets, and key pairs each limited to a prefix of a
 * bucket, as a storage policy limits them), the Elasticsearch keystore a
 * node loads at start, as its init containers made it with
 * bin/elasticsearch-keystore, and what an s3 repository's client meets
 * when it reads or writes the store.
 */
#ifndef SIM_S3_H
#define SIM_S3_H

#include <stdbool.h>
#include <jansson.h>

/*
 * The keystore the Elasticsearch node of pod loads when it starts:
 * {"setting": "value"} as its init containers' scripts made it
 * (elasticsearch-keystore create, add --stdin, the file copied into a
 * volume the node mounts at config/elasticsearch.keystore), or NULL when it
 * has none.  New reference.
 */
json_t *sim_s3_pod_keystore(const json_t *pod);

/* Does a node of version with plugins (an array of names) know the
 * repository type s3: the module from 8.0, the plugin repository-s3 before. */
bool sim_s3_type_exists(const char *version, const json_t *plugins);

/*
 * Where an s3 repository of settings (flat, as registered) is, for a node
 * of elasticsearch.yml file (flat) and keystore: "s3://<bucket>/<base_path>",
 * which the caller frees; or NULL with *err (to free) saying what the
 * client met, as the AWS SDK words it: no such endpoint, no credentials, a
 * key the store does not know, a wrong secret, no such bucket, a prefix
 * the key may not use (AccessDenied).
 */
char *sim_s3_folder(const json_t *settings, const json_t *file, const json_t *keystore, char **err);

#endif
