/*
 * Authentication and RBAC authorization, as the API server does them.
 *
 * Tokens: one for "kubernetes-admin" (group system:masters, as kubeadm's
 * admin.conf), and one for each ServiceAccount that the RBAC objects
 * loaded name as a subject ("system:serviceaccount:NS:NAME", groups
 * system:serviceaccounts, system:serviceaccounts:NS).  Every user is in
 * system:authenticated.
 *
 * Authorization: the bootstrap roles that matter here (cluster-admin for
 * system:masters, system:discovery and system:public-info-viewer for
 * system:authenticated) and the ClusterRoles, ClusterRoleBindings, Roles
 * and RoleBindings loaded (rbac_load_file).  A request is allowed when a
 * rule of a role bound to the user covers it
 * (plugin/pkg/auth/authorizer/rbac/rbac.go, RuleAllows).
 */
#ifndef SIM_RBAC_H
#define SIM_RBAC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "common/util.h"

struct rbac_user {
	const char *name;
	const char *const *groups; /* NULL-terminated */
};

/* What is asked, as staging/src/k8s.io/apiserver/pkg/authorization/authorizer
 * AttributesRecord has it. */
struct rbac_attrs {
	const char *verb;
	bool resource_request;
	const char *path; /* non-resource requests */
	const char *group;
	const char *resource;
	const char *subresource; /* "" or NULL: none */
	const char *ns;		 /* "" or NULL: cluster scope */
	const char *name;	 /* "" or NULL: none */
};

void rbac_init(void);
void rbac_free(void);
/* A YAML file of RBAC objects (one, or a List); ServiceAccounts are taken too.
 * On failure *err is set. */
bool rbac_load_file(const char *path, char **err) MUST_CHECK;

/* The admin's token; the service accounts with a token, in order. */
const char *rbac_admin_token(void);
size_t rbac_account_count(void);
/* The i-th: its user name and token. */
const char *rbac_account_user(size_t i);
const char *rbac_account_token(size_t i);

/*
 * Service-account tokens with a life (ms; 0, the start's default: they
 * never end), as the kubelet's projected tokens: rbac_rotate_tokens()
 * issues a new one to each account whose token is past 80% of its life
 * (true when any changed), the old one staying valid until it ends.
 */
void rbac_set_token_life(int64_t ms);
int64_t rbac_token_life(void);
bool rbac_rotate_tokens(void);
/*
 * The kubelet rotates on its own clock, whatever the API server is busy
 * with: hook (when set) runs before a token is judged, so that a token due
 * for rotation is rotated (and its file written) even when this loop was
 * too busy to run its timer in time.
 */
void rbac_set_rotation_hook(void (*hook)(void));
/* {"life_ms", "rotations", "expired_refused"}: new reference. */
json_t *rbac_tokens_json(void);

/* The user a bearer token is (an expired one is no one), or NULL. */
const struct rbac_user *rbac_authenticate(const char *token);
/* The user of a verified client certificate: its common name, its O
 * entries as groups (NULL-terminated), and system:authenticated.  It lives
 * until rbac_free(). */
const struct rbac_user *rbac_cert_user(const char *cn, const char *const *orgs);
bool rbac_allows(const struct rbac_user *u, const struct rbac_attrs *a);
/* The same decision with the authorizer's reason when allowed ("RBAC:
 * allowed by ClusterRoleBinding ..."; NULL for system:masters, which the
 * privileged-group authorizer allows); free *reason. */
bool rbac_review(const struct rbac_user *u, const struct rbac_attrs *a, char **reason);
/* A SelfSubjectRulesReview's status for u in ns: {resourceRules,
 * nonResourceRules, incomplete}, new reference. */
json_t *rbac_rules_for(const struct rbac_user *u, const char *ns);
/* After store_init(): the roles and bindings loaded become objects of the
 * store (rbac.authorization.k8s.io/v1), which the API serves and the
 * authorizer reads. */
void rbac_seed_store(void);
/* Why u may not write obj, a role or binding of kind plural in ns (""
 * for cluster scope): the permissions it would grant that u does not hold,
 * without escalate (roles) or bind (bindings) on it; NULL when allowed or
 * not RBAC.  Free it. */
char *rbac_escalation(const struct rbac_user *u, const char *plural, const char *ns,
		      const json_t *obj);
/* One sync of the ClusterRole aggregation controller. */
void rbac_aggregate(void);
/* The message of the 403 (responsewriters/errors.go, forbiddenMessage). Free it. */
char *rbac_forbidden_message(const struct rbac_user *u, const struct rbac_attrs *a);

#endif
