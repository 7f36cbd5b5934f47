/*
 * Container images: the registry the simulated nodes pull from, what each
 * node holds once it has pulled, and the kubelet's back-off per pod and
 * image (pkg/kubelet/images/image_manager.go).
 *
 * The registry has the images esaas runs: Elasticsearch and Kibana of
 * every version esaas knows, under their official names
 * (docker.elastic.co/elasticsearch/elasticsearch:X.Y.Z, the -oss ones,
 * Docker Hub's elasticsearch and kibana), busybox and nginx of their
 * published tags, and the images the configuration adds (images.extra).
 * A reference is read as containerd reads it (github.com/distribution/
 * reference: a name without a domain is docker.io's, a one-part one in
 * library/, no tag is :latest).
 */
#ifndef SIM_IMAGES_H
#define SIM_IMAGES_H

#include <stdbool.h>
#include <stdint.h>

/* A reference as the kubelet hands it to the runtime, fully qualified
 * ("docker.io/library/busybox:1.36"); NULL when it does not parse, with
 * *err the reference parser's complaint ("invalid reference format"). */
char *images_normalize(const char *ref, const char **err);

/* The pull policy the API server gives a container without one
 * (pkg/apis/core/v1/defaults.go, SetDefaults_Container): Always for the
 * tag latest, written or implied, else IfNotPresent. */
const char *images_default_pull_policy(const char *ref);

/* Whether the registry has the image (normalized); if not, *why is
 * containerd's error as the kubelet reports it, owned by the caller. */
bool images_registry_has(const char *normalized, char **why);

/* The node holds the image, pulled, at now. */
bool images_present(const char *node, const char *normalized, int64_t now);
/* A pull of the image onto the node, asked at now: when it ends, and in
 * *took how long the pull itself takes.  Pulls on a node run one at a
 * time (the kubelet's serializeImagePulls, true by default), each
 * images.pull_ms long, the rest of the time waiting in line; an image the
 * node is already pulling ends with that pull. */
int64_t images_pull(const char *node, const char *normalized, int64_t now, int64_t *took);

/* The image manager's back-off, per pod and image (flowcontrol.Backoff
 * from 10 s doubling to 5 min, forgotten after 10 min without a failure):
 * whether a pull must wait, and a failed pull counted. */
bool images_in_backoff(const char *pod_uid, const char *image, int64_t now);
void images_backoff_next(const char *pod_uid, const char *image, int64_t now);

void images_free(void);

#endif
