/*
 * Pod Security admission: the levels privileged, baseline and restricted
 * that a namespace's labels pod-security.kubernetes.io/enforce, warn and
 * audit (each with its -version) ask of its pods
 * (https://kubernetes.io/docs/concepts/security/pod-security-standards/;
 * staging/src/k8s.io/pod-security-admission/).  enforce refuses a pod
 * that violates its level; warn answers a Warning for a pod, or a
 * workload whose template, would violate its level.  Unlabelled, a
 * namespace is privileged (the admission's default configuration).
 *
 * The checks are those of the latest version whatever the -version label
 * says (which only names the level in messages): AppArmor annotations,
 * privileged containers, host namespaces, hostPath volumes, host ports,
 * capabilities, SELinux options, seccomp profiles, sysctls and Windows
 * host processes for baseline; for restricted also
 * allowPrivilegeEscalation, runAsNonRoot, runAsUser=0, dropping ALL
 * capabilities, the RuntimeDefault or Localhost seccomp profile, and the
 * volume types.  procMount is dropped on write in 1.29 (its feature is
 * off), so its check never has anything to see.
 */
#ifndef SIM_PODSECURITY_H
#define SIM_PODSECURITY_H

#include <jansson.h>

/*
 * Admission of a pod (metadata and spec in pod) in namespace ns: NULL
 * when its enforce level takes it, else why not, as the API server says it
 * after "pods \"x\" is forbidden: " ("violates PodSecurity
 * \"baseline:latest\": privileged (container \"c\" must not set
 * securityContext.privileged=true), ...").  When warning is not NULL and
 * the pod is admitted, it is set to the warn level's "would violate
 * PodSecurity ..." or NULL.  The caller frees both.
 */
char *podsecurity_admit_pod(const char *ns, const json_t *pod, char **warning);

/* The warning for a workload (anything with spec.template) in ns whose
 * pod template would violate the warn level, or NULL; the caller frees it. */
char *podsecurity_workload_warning(const char *ns, const json_t *workload);

/* The evaluation itself: the violations of a pod spec (with its metadata)
 * at level "baseline" or "restricted" of the policy version v1.<minor>,
 * "reason (detail), ...", or NULL when none (always at "privileged"); the
 * caller frees it. */
char *podsecurity_violations(const char *level, int minor, const json_t *meta, const json_t *spec);

/*
 * When a namespace's labels change its enforce level to a stricter one (or
 * another version), the pods already there that it would refuse, as the
 * admission's warnings to the namespace's update: the line "existing pods
 * in namespace ... violate the new PodSecurity enforce level ...", then
 * one per distinct set of reasons ("pod: reasons", "pod (and N other
 * pods): reasons"), sorted; NULL when none.  A NULL-terminated array, the
 * caller frees each string and the array.
 */
char **podsecurity_namespace_warnings(const char *ns, const json_t *old_labels,
				      const json_t *new_labels);

#endif
