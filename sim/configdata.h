/*
 * Secrets and ConfigMaps as the API server keeps them: stringData folded
 * into data, the keys and size checked, the type's required keys, and what
 * `immutable` forbids (pkg/apis/core/validation/validation.go,
 * ValidateSecret, ValidateSecretUpdate, ValidateConfigMap,
 * ValidateConfigMapUpdate; pkg/apis/core/v1/conversion.go for stringData;
 * pkg/apis/core/v1/defaults.go, SetDefaults_Secret).
 */
#ifndef SIM_CONFIGDATA_H
#define SIM_CONFIGDATA_H

#include <jansson.h>

/* Before a Secret is validated and stored: its stringData, base64-encoded,
 * into data (a key in both takes stringData's value), stringData dropped;
 * an empty type is Opaque. */
void configdata_secret_defaults(json_t *secret);
/* The checks of a Secret (plural "secrets") or ConfigMap ("configmaps")
 * alone, into causes; and those of its update from old. */
void configdata_validate(const char *plural, const json_t *obj, json_t *causes);
void configdata_validate_update(const char *plural, const json_t *old, const json_t *obj,
				json_t *causes);

/*
 * What the kubelet needs from the pod's namespace before it starts a pod:
 * the first volume of pod whose Secret or ConfigMap, or a key its items
 * name, is missing (pkg/volume/secret/secret.go and
 * pkg/volume/configmap/configmap.go, SetUpAt and MakePayload; an optional
 * one may be missing): its name into *volume and the reason as the
 * kubelet words it; NULL when every volume can be mounted.  The caller
 * frees both.
 */
char *configdata_missing_volume(const json_t *pod, const char *ns, char **volume);
/*
 * The first container of the pod's list ("containers" or "initContainers")
 * whose env valueFrom.secretKeyRef / configMapKeyRef or envFrom names a
 * Secret, ConfigMap or key that is not there and not optional
 * (pkg/kubelet/kubelet_pods.go, makeEnvironmentVariables): its name into
 * *container and the error; NULL when all are there.  The caller frees both.
 */
char *configdata_missing_env(const json_t *pod, const char *ns, const char *list, char **container);

#endif
