#include "sim/rbac.h"

#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "common/json.h"
#include "common/yamljson.h"
#include "sim/selector.h"
#include "sim/store.h"

struct account {
	char *name;
	char token[65];
	/* A bound token's life (monotonic ms; 0: never ends), and the token
	 * it replaced, still valid until its own end. */
	int64_t issued_ms, expires_ms;
	char previous[65];
	int64_t previous_expires_ms;
	char *group_names[3];
	const char *groups[4];
	struct rbac_user user;
};

static struct account admin;
static struct account **accounts;
static size_t naccounts;

/* The users that client certificates named, each kept once. */
struct cert_user {
	struct rbac_user user;
	char *name;
	char **groups; /* the certificate's, then system:authenticated; NULL-terminated */
};
static struct cert_user **cert_users;
static size_t ncert_users;
static json_t *cluster_roles;	 /* name -> ClusterRole */
static json_t *cluster_bindings; /* array of ClusterRoleBinding */
static json_t *roles;		 /* "ns/name" -> Role */
static json_t *bindings;	 /* array of RoleBinding */
static int64_t token_life_ms;	 /* of the service accounts' tokens; 0: long-lived */
static long rotations, expired_refusals;
static void (*rotation_hook)(void);

static void account_init(struct account *a, const char *name, const char *g1, const char *g2)
{
	a->name = xstrdup(name);
	rand_hex(a->token, 32);
	const char *g[] = {g1, g2, "system:authenticated"};
	size_t n = 0;
	for (size_t i = 0; i < ARRAY_SIZE(g); i++) {
		if (g[i]) {
			a->group_names[n] = xstrdup(g[i]);
			a->groups[n] = a->group_names[n];
			n++;
		}
	}
	a->groups[n] = NULL;
	a->user.name = a->name;
	a->user.groups = a->groups;
}

static void account_clear(struct account *a)
{
	free(a->name);
	for (size_t i = 0; i < ARRAY_SIZE(a->group_names); i++)
		free(a->group_names[i]);
	memset(a, 0, sizeof(*a));
}

/*
 * The bootstrap policy that applies here
 * (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go, ClusterRoles
 * and ClusterRoleBindings): cluster-admin bound to system:masters;
 * system:discovery, system:basic-user and system:public-info-viewer bound
 * to system:authenticated.
 */
static const char BOOTSTRAP[] =
	"[{\"kind\": \"ClusterRole\", \"metadata\": {\"name\": \"cluster-admin\"}, \"rules\": ["
	"  {\"apiGroups\": [\"*\"], \"resources\": [\"*\"], \"verbs\": [\"*\"]},"
	"  {\"nonResourceURLs\": [\"*\"], \"verbs\": [\"*\"]}]},"
	" {\"kind\": \"ClusterRoleBinding\", \"metadata\": {\"name\": \"cluster-admin\"},"
	"  \"roleRef\": {\"kind\": \"ClusterRole\", \"name\": \"cluster-admin\"},"
	"  \"subjects\": [{\"kind\": \"Group\", \"name\": \"system:masters\"}]},"
	" {\"kind\": \"ClusterRole\", \"metadata\": {\"name\": \"system:discovery\"}, \"rules\": ["
	"  {\"nonResourceURLs\": [\"/api\", \"/api/*\", \"/apis\", \"/apis/*\", \"/healthz\","
	"   \"/livez\", \"/openapi\", \"/openapi/*\", \"/readyz\", \"/version\", \"/version/\"],"
	"   \"verbs\": [\"get\"]}]},"
	" {\"kind\": \"ClusterRoleBinding\", \"metadata\": {\"name\": \"system:discovery\"},"
	"  \"roleRef\": {\"kind\": \"ClusterRole\", \"name\": \"system:discovery\"},"
	"  \"subjects\": [{\"kind\": \"Group\", \"name\": \"system:authenticated\"}]},"
	" {\"kind\": \"ClusterRole\", \"metadata\": {\"name\": \"system:basic-user\"}, \"rules\": ["
	"  {\"apiGroups\": [\"authorization.k8s.io\"], \"resources\": "
	"[\"selfsubjectaccessreviews\","
	"   \"selfsubjectrulesreviews\"], \"verbs\": [\"create\"]}]},"
	" {\"kind\": \"ClusterRoleBinding\", \"metadata\": {\"name\": \"system:basic-user\"},"
	"  \"roleRef\": {\"kind\": \"ClusterRole\", \"name\": \"system:basic-user\"},"
	"  \"subjects\": [{\"kind\": \"Group\", \"name\": \"system:authenticated\"}]},"
	" {\"kind\": \"ClusterRole\", \"metadata\": {\"name\": \"system:public-info-viewer\"},"
	"  \"rules\": [{\"nonResourceURLs\": [\"/healthz\", \"/livez\", \"/readyz\", \"/version\","
	"   \"/version/\"], \"verbs\": [\"get\"]}]},"
	" {\"kind\": \"ClusterRoleBinding\", \"metadata\": {\"name\": "
	"\"system:public-info-viewer\"},"
	"  \"roleRef\": {\"kind\": \"ClusterRole\", \"name\": \"system:public-info-viewer\"},"
	"  \"subjects\": [{\"kind\": \"Group\", \"name\": \"system:authenticated\"},"
	"   {\"kind\": \"Group\", \"name\": \"system:unauthenticated\"}]}]";

static void add_account(const char *ns, const char *name)
{
	char *user = xasprintf("system:serviceaccount:%s:%s", ns, name);
	for (size_t i = 0; i < naccounts; i++) {
		if (!strcmp(accounts[i]->name, user)) {
			free(user);
			return;
		}
	}
	char *nsgroup = xasprintf("system:serviceaccounts:%s", ns);
	struct account *a = xcalloc(1, sizeof(*a));
	account_init(a, user, "system:serviceaccounts", nsgroup);
	accounts = xrealloc(accounts, (naccounts + 1) * sizeof(*accounts));
	accounts[naccounts++] = a;
	free(nsgroup);
	free(user);
}

static bool add_object(json_t *obj, char **err)
{
	const char *kind = json_str(obj, "kind");
	json_t *meta = json_object_get(obj, "metadata");
	const char *name = json_str(meta, "name");
	const char *ns = json_str(meta, "namespace");
	if (!kind || !name) {
		*err = xstrdup("an object without kind or metadata.name");
		return false;
	}
	if (!strcmp(kind, "ClusterRole")) {
		json_object_set(cluster_roles, name, obj);
	} else if (!strcmp(kind, "Role") || !strcmp(kind, "RoleBinding")) {
		if (!ns) {
			*err = xasprintf("%s %s: no metadata.namespace", kind, name);
			return false;
		}
		if (!strcmp(kind, "Role")) {
			char *key = xasprintf("%s/%s", ns, name);
			json_object_set(roles, key, obj);
			free(key);
		} else {
			json_array_append(bindings, obj);
		}
	} else if (!strcmp(kind, "ClusterRoleBinding")) {
		json_array_append(cluster_bindings, obj);
	} else if (!strcmp(kind, "ServiceAccount")) {
		if (!ns) {
			*err = xasprintf("ServiceAccount %s: no metadata.namespace", name);
			return false;
		}
		add_account(ns, name);
		return true;
	} else {
		return true; /* not RBAC: ignored */
	}
	/* The subjects that are service accounts get a token. */
	size_t i;
	json_t *s;
	json_array_foreach (json_object_get(obj, "subjects"), i, s) {
		const char *sk = json_str(s, "kind"), *sn = json_str(s, "name");
		const char *sns = json_str(s, "namespace");
		if (sk && sn && !strcmp(sk, "ServiceAccount")) {
			if (!sns)
				sns = ns; /* a RoleBinding's own namespace */
			if (!sns) {
				*err = xasprintf(
					"%s %s: a ServiceAccount subject without namespace", kind,
					name);
				return false;
			}
			add_account(sns, sn);
		}
	}
	return true;
}

void rbac_init(void)
{
	json_error_t jerr;
	cluster_roles = json_object();
	cluster_bindings = json_array();
	roles = json_object();
	bindings = json_array();
	account_init(&admin, "kubernetes-admin", "system:masters", NULL);
	json_t *boot = json_loads(BOOTSTRAP, 0, &jerr);
	size_t i;
	json_t *o;
	char *err = NULL;
	json_array_foreach (boot, i, o) {
		json_t *m = json_object_get(o, "metadata");
		json_object_set_new(
			m, "labels",
			json_pack("{s:s}", "kubernetes.io/bootstrapping", "rbac-defaults"));
		json_object_set_new(
			m, "annotations",
			json_pack("{s:s}", "rbac.authorization.kubernetes.io/autoupdate", "true"));
		if (!add_object(o, &err))
			abort();
	}
	json_decref(boot);
}

void rbac_free(void)
{
	account_clear(&admin);
	for (size_t i = 0; i < naccounts; i++) {
		account_clear(accounts[i]);
		free(accounts[i]);
	}
	free(accounts);
	accounts = NULL;
	naccounts = 0;
	token_life_ms = 0;
	rotations = expired_refusals = 0;
	rotation_hook = NULL;
	for (size_t i = 0; i < ncert_users; i++) {
		free(cert_users[i]->name);
		for (size_t g = 0; cert_users[i]->groups[g]; g++)
			free(cert_users[i]->groups[g]);
		free(cert_users[i]->groups);
		free(cert_users[i]);
	}
	free(cert_users);
	cert_users = NULL;
	ncert_users = 0;
	json_decref(cluster_roles);
	json_decref(cluster_bindings);
	json_decref(roles);
	json_decref(bindings);
	cluster_roles = cluster_bindings = roles = bindings = NULL;
}

bool rbac_load_file(const char *path, char **err)
{
	json_t *doc = yamljson_load_file(path, err);
	if (!doc)
		return false;
	bool ok = true;
	const char *kind = json_str(doc, "kind");
	if (kind && !strcmp(kind, "List")) {
		size_t i;
		json_t *o;
		json_array_foreach (json_object_get(doc, "items"), i, o) {
			if (!(ok = add_object(o, err)))
				break;
		}
	} else if (json_is_object(doc)) {
		ok = add_object(doc, err);
	} else {
		*err = xstrdup("not a Kubernetes object");
		ok = false;
	}
	if (!ok) {
		char *e = xasprintf("%s: %s", path, *err);
		free(*err);
		*err = e;
	}
	json_decref(doc);
	return ok;
}

const char *rbac_admin_token(void)
{
	return admin.token;
}

size_t rbac_account_count(void)
{
	return naccounts;
}

const char *rbac_account_user(size_t i)
{
	return i < naccounts ? accounts[i]->name : NULL;
}

const char *rbac_account_token(size_t i)
{
	return i < naccounts ? accounts[i]->token : NULL;
}

static bool same_secret(const char *given, const char *token)
{
	size_t a = strlen(given), b = strlen(token);
	unsigned diff = (unsigned)(a ^ b);
	for (size_t i = 0; i < b; i++)
		diff |= (unsigned)(unsigned char)given[i < a ? i : 0] ^ (unsigned char)token[i];
	return diff == 0;
}

/*
 * A bound service-account token is a JWT with an expiry, and the
 * authenticator refuses it once past (the caller answers the usual 401)
 * (pkg/serviceaccount/claims.go, validator.Validate: "service account
 * token has expired").
 */
static bool live(const char *given, const char *token, int64_t expires_ms, bool *expired)
{
	if (!token[0] || !same_secret(given, token))
		return false;
	if (expires_ms > 0 && now_mono_ms() >= expires_ms) {
		*expired = true;
		return false;
	}
	return true;
}

const struct rbac_user *rbac_authenticate(const char *token)
{
	bool expired = false;
	if (!token || !*token)
		return NULL;
	if (same_secret(token, admin.token))
		return &admin.user;
	if (rotation_hook)
		rotation_hook();
	for (size_t i = 0; i < naccounts; i++) {
		struct account *a = accounts[i];
		if (live(token, a->token, a->expires_ms, &expired) ||
		    live(token, a->previous, a->previous_expires_ms, &expired))
			return &a->user;
	}
	if (expired)
		expired_refusals++;
	return NULL;
}

/* A new token for a, valid token_life_ms from now; the old one stays
 * valid until its own end. */
static void issue(struct account *a)
{
	int64_t now = now_mono_ms();
	memcpy(a->previous, a->token, sizeof(a->previous));
	a->previous_expires_ms = a->expires_ms;
	rand_hex(a->token, 32);
	a->issued_ms = now;
	a->expires_ms = token_life_ms > 0 ? now + token_life_ms : 0;
}

void rbac_set_token_life(int64_t ms)
{
	token_life_ms = ms;
	for (size_t i = 0; i < naccounts; i++) {
		accounts[i]->issued_ms = now_mono_ms();
		accounts[i]->expires_ms = ms > 0 ? accounts[i]->issued_ms + ms : 0;
	}
}

void rbac_set_rotation_hook(void (*hook)(void))
{
	rotation_hook = hook;
}

int64_t rbac_token_life(void)
{
	return token_life_ms;
}

/*
 * The kubelet asks for a new projected token once the one it holds is
 * older than 80% of its life (or than a day), and writes it into the pod's
 * file (pkg/kubelet/token/token_manager.go, requiresRefresh).
 */
bool rbac_rotate_tokens(void)
{
	bool any = false;
	if (token_life_ms <= 0)
		return false;
	int64_t due_after = token_life_ms * 8 / 10;
	if (due_after > 24LL * 3600 * 1000)
		due_after = 24LL * 3600 * 1000;
	for (size_t i = 0; i < naccounts; i++) {
		if (now_mono_ms() - accounts[i]->issued_ms >= due_after) {
			issue(accounts[i]);
			rotations++;
			any = true;
		}
	}
	return any;
}

json_t *rbac_tokens_json(void)
{
	return json_pack("{s:I, s:I, s:I}", "life_ms", (json_int_t)token_life_ms, "rotations",
			 (json_int_t)rotations, "expired_refused", (json_int_t)expired_refusals);
}

static bool same_groups(const struct cert_user *u, const char *const *orgs)
{
	size_t n = 0;
	for (; orgs[n]; n++) {
		if (!u->groups[n] || strcmp(u->groups[n], orgs[n]) != 0)
			return false;
	}
	return u->groups[n] && !strcmp(u->groups[n], "system:authenticated") && !u->groups[n + 1];
}

const struct rbac_user *rbac_cert_user(const char *cn, const char *const *orgs)
{
	for (size_t i = 0; i < ncert_users; i++) {
		if (!strcmp(cert_users[i]->name, cn) && same_groups(cert_users[i], orgs))
			return &cert_users[i]->user;
	}
	size_t n = 0;
	while (orgs[n])
		n++;
	struct cert_user *u = xcalloc(1, sizeof(*u));
	u->name = xstrdup(cn);
	u->groups = xcalloc(n + 2, sizeof(char *));
	for (size_t g = 0; g < n; g++)
		u->groups[g] = xstrdup(orgs[g]);
	u->groups[n] = xstrdup("system:authenticated");
	u->user.name = u->name;
	u->user.groups = (const char *const *)u->groups;
	cert_users = xrealloc(cert_users, (ncert_users + 1) * sizeof(*cert_users));
	cert_users[ncert_users++] = u;
	return &u->user;
}

/* --- rules (plugin/pkg/auth/authorizer/rbac/rbac.go, RuleAllows, and
 * staging/src/k8s.io/component-helpers/auth/rbac/validation, *Matches) --- */

static bool same_str(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

static bool has(const json_t *list, const char *value)
{
	size_t i;
	json_t *v;
	json_array_foreach (list, i, v) {
		if (json_is_string(v) && !strcmp(json_string_value(v), value))
			return true;
	}
	return false;
}

static bool verb_matches(const json_t *rule, const char *verb)
{
	const json_t *verbs = json_object_get(rule, "verbs");
	return has(verbs, "*") || has(verbs, verb);
}

static bool resource_matches(const json_t *rule, const char *combined, const char *sub)
{
	size_t i;
	json_t *v;
	json_array_foreach (json_object_get(rule, "resources"), i, v) {
		const char *r = json_string_value(v);
		if (!r)
			continue;
		if (!strcmp(r, "*") || !strcmp(r, combined))
			return true;
		/* "*" + "/" + subresource */
		if (sub && *sub && strlen(r) == strlen(sub) + 2 && !strncmp(r, "*/", 2) &&
		    !strcmp(r + 2, sub))
			return true;
	}
	return false;
}

static bool name_matches(const json_t *rule, const char *name)
{
	const json_t *names = json_object_get(rule, "resourceNames");
	if (json_array_size(names) == 0)
		return true;
	return name && has(names, name);
}

static bool url_matches(const json_t *rule, const char *path)
{
	size_t i;
	json_t *v;
	json_array_foreach (json_object_get(rule, "nonResourceURLs"), i, v) {
		const char *u = json_string_value(v);
		if (!u)
			continue;
		size_t n = strlen(u);
		if (!strcmp(u, "*") || !strcmp(u, path))
			return true;
		if (n > 0 && u[n - 1] == '*' && !strncmp(path, u, n - 1))
			return true;
	}
	return false;
}

static bool rule_allows(const json_t *rule, const struct rbac_attrs *a)
{
	if (!verb_matches(rule, a->verb))
		return false;
	if (!a->resource_request)
		return url_matches(rule, a->path);
	if (!has(json_object_get(rule, "apiGroups"), "*") &&
	    !has(json_object_get(rule, "apiGroups"), a->group ? a->group : ""))
		return false;
	char *combined = a->subresource && *a->subresource
				 ? xasprintf("%s/%s", a->resource, a->subresource)
				 : xstrdup(a->resource);
	bool ok = resource_matches(rule, combined, a->subresource) && name_matches(rule, a->name);
	free(combined);
	return ok;
}

static bool role_allows(const json_t *role, const struct rbac_attrs *a)
{
	size_t i;
	json_t *rule;
	json_array_foreach (json_object_get(role, "rules"), i, rule) {
		if (rule_allows(rule, a))
			return true;
	}
	return false;
}

/* staging/src/k8s.io/component-helpers/auth/rbac/validation, appliesToUser. */
static bool subject_is(const json_t *s, const struct rbac_user *u, const char *binding_ns)
{
	const char *kind = json_str(s, "kind"), *name = json_str(s, "name");
	if (!kind || !name)
		return false;
	if (!strcmp(kind, "User"))
		return !strcmp(name, u->name);
	if (!strcmp(kind, "Group")) {
		for (size_t i = 0; u->groups[i]; i++) {
			if (!strcmp(u->groups[i], name))
				return true;
		}
		return false;
	}
	if (!strcmp(kind, "ServiceAccount")) {
		const char *ns = json_str(s, "namespace");
		if (!ns)
			ns = binding_ns;
		char *want = xasprintf("system:serviceaccount:%s:%s", ns ? ns : "", name);
		bool is = !strcmp(want, u->name);
		free(want);
		return is;
	}
	return false;
}

static bool binding_applies(const json_t *b, const struct rbac_user *u, const char *ns)
{
	size_t i;
	json_t *s;
	json_array_foreach (json_object_get(b, "subjects"), i, s) {
		if (subject_is(s, u, ns))
			return true;
	}
	return false;
}

/* The role a binding refers to, as stored (NULL when missing). */
static const json_t *bound_role(const json_t *b, const char *binding_ns)
{
	json_t *ref = json_object_get(b, "roleRef");
	const char *rk = json_str(ref, "kind"), *rn = json_str(ref, "name");
	struct store_obj *o = NULL;
	if (!rk || !rn)
		return NULL;
	if (!strcmp(rk, "ClusterRole"))
		o = store_get(store_kind_by_plural("clusterroles"), "", rn);
	else if (!strcmp(rk, "Role") && binding_ns)
		o = store_get(store_kind_by_plural("roles"), binding_ns, rn);
	return o ? o->body : NULL;
}

/* describeSubject and the binding describers of rbac.go: how a reason
 * names what allowed the request. */
static char *describe(const json_t *b, const struct rbac_user *u, const char *binding_ns)
{
	size_t i;
	json_t *s;
	const char *bname = json_str(json_object_get(b, "metadata"), "name");
	json_t *ref = json_object_get(b, "roleRef");
	char *subject = NULL;
	json_array_foreach (json_object_get(b, "subjects"), i, s) {
		if (!subject_is(s, u, binding_ns))
			continue;
		const char *kind = json_str(s, "kind"), *name = json_str(s, "name");
		const char *sns = json_str(s, "namespace") ? json_str(s, "namespace") : binding_ns;
		subject = !strcmp(kind, "ServiceAccount")
				  ? xasprintf("%s \"%s/%s\"", kind, sns ? sns : "", name)
				  : xasprintf("%s \"%s\"", kind, name);
		break;
	}
	char *out = binding_ns ? xasprintf("RoleBinding \"%s/%s\" of %s \"%s\" to %s",
					   bname ? bname : "", binding_ns, json_str(ref, "kind"),
					   json_str(ref, "name"), subject ? subject : "")
			       : xasprintf("ClusterRoleBinding \"%s\" of %s \"%s\" to %s",
					   bname ? bname : "", json_str(ref, "kind"),
					   json_str(ref, "name"), subject ? subject : "");
	free(subject);
	return out;
}

static bool in_group(const struct rbac_user *u, const char *group)
{
	for (size_t i = 0; u && u->groups[i]; i++) {
		if (!strcmp(u->groups[i], group))
			return true;
	}
	return false;
}

bool rbac_review(const struct rbac_user *u, const struct rbac_attrs *a, char **reason)
{
	size_t i, n;
	*reason = NULL;
	/* The privileged-group authorizer ahead of RBAC allows system:masters
	 * with no reason (authorizerfactory.NewPrivilegedGroups). */
	if (in_group(u, "system:masters"))
		return true;
	struct store_obj **list = store_list(store_kind_by_plural("clusterrolebindings"), NULL, &n);
	bool allowed = false;
	for (i = 0; i < n && !allowed; i++) {
		const json_t *b = list[i]->body;
		json_t *ref = json_object_get(b, "roleRef");
		if (!same_str(json_str(ref, "kind"), "ClusterRole") || !binding_applies(b, u, NULL))
			continue;
		const json_t *role = bound_role(b, NULL);
		if (role && role_allows(role, a)) {
			char *d = describe(b, u, NULL);
			*reason = xasprintf("RBAC: allowed by %s", d);
			free(d);
			allowed = true;
		}
	}
	free(list);
	/* RoleBindings grant only in their namespace. */
	if (allowed || !a->resource_request || !a->ns || !*a->ns)
		return allowed;
	list = store_list(store_kind_by_plural("rolebindings"), a->ns, &n);
	for (i = 0; i < n && !allowed; i++) {
		const json_t *b = list[i]->body;
		if (!binding_applies(b, u, a->ns))
			continue;
		const json_t *role = bound_role(b, a->ns);
		if (role && role_allows(role, a)) {
			char *d = describe(b, u, a->ns);
			*reason = xasprintf("RBAC: allowed by %s", d);
			free(d);
			allowed = true;
		}
	}
	free(list);
	return allowed;
}

bool rbac_allows(const struct rbac_user *u, const struct rbac_attrs *a)
{
	char *reason = NULL;
	bool ok = rbac_review(u, a, &reason);
	free(reason);
	return ok;
}

/* The rules of a role as a SelfSubjectRulesReview lists them
 * (RulesFor: a ResourceRule or a NonResourceRule each). */
static void add_rules(const json_t *role, json_t *res, json_t *nonres)
{
	size_t i;
	json_t *r;
	json_array_foreach (json_object_get(role, "rules"), i, r) {
		if (json_object_get(r, "nonResourceURLs")) {
			json_array_append_new(
				nonres, json_pack("{s:O, s:O}", "verbs",
						  json_object_get(r, "verbs"), "nonResourceURLs",
						  json_object_get(r, "nonResourceURLs")));
			continue;
		}
		json_t *rr = json_pack("{s:O}", "verbs", json_object_get(r, "verbs"));
		if (json_object_get(r, "apiGroups"))
			json_object_set(rr, "apiGroups", json_object_get(r, "apiGroups"));
		if (json_object_get(r, "resources"))
			json_object_set(rr, "resources", json_object_get(r, "resources"));
		if (json_array_size(json_object_get(r, "resourceNames")) > 0)
			json_object_set(rr, "resourceNames", json_object_get(r, "resourceNames"));
		json_array_append_new(res, rr);
	}
}

json_t *rbac_rules_for(const struct rbac_user *u, const char *ns)
{
	json_t *res = json_array(), *nonres = json_array();
	size_t i, n;
	if (in_group(u, "system:masters")) {
		json_array_append_new(res, json_pack("{s:[s], s:[s], s:[s]}", "verbs", "*",
						     "apiGroups", "*", "resources", "*"));
		json_array_append_new(
			nonres, json_pack("{s:[s], s:[s]}", "verbs", "*", "nonResourceURLs", "*"));
	}
	struct store_obj **list = store_list(store_kind_by_plural("clusterrolebindings"), NULL, &n);
	for (i = 0; i < n; i++) {
		const json_t *b = list[i]->body;
		if (!same_str(json_str(json_object_get(b, "roleRef"), "kind"), "ClusterRole") ||
		    !binding_applies(b, u, NULL))
			continue;
		const json_t *role = bound_role(b, NULL);
		if (role)
			add_rules(role, res, nonres);
	}
	free(list);
	if (ns && *ns) {
		list = store_list(store_kind_by_plural("rolebindings"), ns, &n);
		for (i = 0; i < n; i++) {
			const json_t *b = list[i]->body;
			const json_t *role = binding_applies(b, u, ns) ? bound_role(b, ns) : NULL;
			if (role)
				add_rules(role, res, nonres);
		}
		free(list);
	}
	return json_pack("{s:o, s:o, s:b}", "resourceRules", res, "nonResourceRules", nonres,
			 "incomplete", 0);
}

/*
 * The ClusterRole aggregation controller
 * (pkg/controller/clusterroleaggregation/clusterroleaggregation_controller.go):
 * a ClusterRole with an aggregationRule gets the rules of every other
 * ClusterRole that one of its clusterRoleSelectors matches, in the order
 * of their names, each rule once.
 */
void rbac_aggregate(void)
{
	size_t n;
	const struct store_kind *k = store_kind_by_plural("clusterroles");
	struct store_obj **list = store_list(k, NULL, &n);
	for (size_t i = 0; i < n; i++) {
		json_t *sels = json_object_get(json_object_get(list[i]->body, "aggregationRule"),
					       "clusterRoleSelectors");
		if (!json_is_array(sels) || list[i]->gone)
			continue;
		json_t *names = json_array();
		for (size_t j = 0; j < n; j++) {
			if (j == i || list[j]->gone)
				continue;
			json_t *labels = json_object_get(json_object_get(list[j]->body, "metadata"),
							 "labels");
			size_t s;
			json_t *sel;
			bool match = false;
			json_array_foreach (sels, s, sel) {
				struct selector ls;
				char *err = NULL;
				if (!selector_from_json(sel, &ls, &err)) {
					free(err);
					continue;
				}
				match = match || selector_matches(&ls, labels);
				selector_free(&ls);
			}
			if (match)
				json_array_append_new(names, json_string(list[j]->name));
		}
		/* By name, as the controller sorts them. */
		size_t nn = json_array_size(names);
		for (size_t a = 1; a < nn; a++) {
			for (size_t b = a;
			     b > 0 && strcmp(json_string_value(json_array_get(names, b - 1)),
					     json_string_value(json_array_get(names, b))) > 0;
			     b--) {
				json_t *t = json_incref(json_array_get(names, b));
				json_array_set(names, b, json_array_get(names, b - 1));
				json_array_set_new(names, b - 1, t);
			}
		}
		json_t *rules = json_array();
		size_t x;
		json_t *nm;
		json_array_foreach (names, x, nm) {
			struct store_obj *o = store_get(k, "", json_string_value(nm));
			size_t r;
			json_t *rule;
			json_array_foreach (o ? json_object_get(o->body, "rules") : NULL, r, rule) {
				bool seen = false;
				size_t y;
				json_t *have;
				json_array_foreach (rules, y, have)
					seen = seen || json_equal(have, rule);
				if (!seen)
					json_array_append(rules, rule);
			}
		}
		json_decref(names);
		if (json_equal(rules, json_object_get(list[i]->body, "rules")) ||
		    (json_array_size(rules) == 0 && !json_object_get(list[i]->body, "rules"))) {
			json_decref(rules);
			continue;
		}
		json_t *body = json_deep_copy(list[i]->body);
		json_object_set_new(body, "rules", rules);
		store_update(list[i], body);
	}
	free(list);
}

/* Every RBAC object loaded so far, into the store, where the API serves
 * them and the authorizer reads them from then on.  The bootstrap ones
 * carry the API server's label and annotation
 * (plugin/pkg/auth/authorizer/rbac/bootstrappolicy). */
void rbac_seed_store(void)
{
	const char *key;
	json_t *o;
	size_t i;
	json_object_foreach (cluster_roles, key, o)
		store_create(store_kind_by_plural("clusterroles"), "", o);
	json_array_foreach (cluster_bindings, i, o)
		store_create(store_kind_by_plural("clusterrolebindings"), "", o);
	json_object_foreach (roles, key, o)
		store_create(store_kind_by_plural("roles"),
			     json_str(json_object_get(o, "metadata"), "namespace"), o);
	json_array_foreach (bindings, i, o)
		store_create(store_kind_by_plural("rolebindings"),
			     json_str(json_object_get(o, "metadata"), "namespace"), o);
}

char *rbac_forbidden_message(const struct rbac_user *u, const struct rbac_attrs *a)
{
	const char *user = u ? u->name : "";
	if (!a->resource_request)
		return xasprintf("User \"%s\" cannot %s path \"%s\"", user, a->verb, a->path);
	char *res = a->subresource && *a->subresource
			    ? xasprintf("%s/%s", a->resource, a->subresource)
			    : xstrdup(a->resource);
	char *msg;
	if (a->ns && *a->ns)
		msg = xasprintf("User \"%s\" cannot %s resource \"%s\" in API group \"%s\" in the "
				"namespace \"%s\"",
				user, a->verb, res, a->group ? a->group : "", a->ns);
	else
		msg = xasprintf("User \"%s\" cannot %s resource \"%s\" in API group \"%s\" at the "
				"cluster scope",
				user, a->verb, res, a->group ? a->group : "");
	free(res);
	return msg;
}

/* --- escalation (pkg/registry/rbac/validation/rule.go, ConfirmNoEscalation;
 * the policybased storages of roles and bindings) ---------------------------- */

static void append_text(char **acc, const char *text)
{
	char *next = xasprintf("%s%s", *acc ? *acc : "", text);
	free(*acc);
	*acc = next;
}

/* Go's %q of a []string: ["a" "b"]. */
static char *quoted_list(const json_t *list, const char *const *strs)
{
	char *out = xstrdup("[");
	size_t n = 0;
	size_t i;
	json_t *v;
	json_array_foreach (list, i, v) {
		char *q = xasprintf("%s\"%s\"", n++ ? " " : "", json_string_value(v));
		append_text(&out, q);
		free(q);
	}
	for (size_t j = 0; strs && strs[j]; j++) {
		char *q = xasprintf("%s\"%s\"", n++ ? " " : "", strs[j]);
		append_text(&out, q);
		free(q);
	}
	append_text(&out, "]");
	return out;
}

/* Each (group, resource, name, verb) of rule that u does not hold in ns,
 * as CompactString writes the broken-down rule, appended to *missing. */
static void missing_rights(const struct rbac_user *u, const json_t *rule, const char *ns,
			   char **missing)
{
	size_t vi, gi, ri, ni;
	json_t *verb, *group, *res, *name;
	json_t *urls = json_object_get(rule, "nonResourceURLs");
	json_t *names = json_object_get(rule, "resourceNames");
	json_array_foreach (json_object_get(rule, "verbs"), vi, verb) {
		struct rbac_attrs a = {.verb = json_string_value(verb)};
		if (urls) {
			json_array_foreach (urls, ri, res) {
				a.resource_request = false;
				a.path = json_string_value(res);
				if (rbac_allows(u, &a))
					continue;
				char *line =
					xasprintf("%s{NonResourceURLs:[\"%s\"], Verbs:[\"%s\"]}",
						  *missing ? "\n" : "", a.path, a.verb);
				append_text(missing, line);
				free(line);
			}
			continue;
		}
		json_array_foreach (json_object_get(rule, "apiGroups"), gi, group) {
			json_array_foreach (json_object_get(rule, "resources"), ri, res) {
				size_t count = json_array_size(names) ? json_array_size(names) : 1;
				for (ni = 0; ni < count; ni++) {
					name = json_array_get(names, ni);
					char *r = xstrdup(json_string_value(res));
					char *slash = strchr(r, '/');
					if (slash)
						*slash = '\0';
					a.resource_request = true;
					a.group = json_string_value(group);
					a.resource = r;
					a.subresource = slash ? slash + 1 : "";
					a.ns = ns;
					a.name = name ? json_string_value(name) : "";
					bool held = rbac_allows(u, &a);
					free(r);
					if (held)
						continue;
					char *nm = name ? xasprintf(", ResourceNames:[\"%s\"]",
								    json_string_value(name))
							: xstrdup("");
					char *line = xasprintf(
						"%s{APIGroups:[\"%s\"], Resources:[\"%s\"]%s, "
						"Verbs:[\"%s\"]}",
						*missing ? "\n" : "", json_string_value(group),
						json_string_value(res), nm, a.verb);
					append_text(missing, line);
					free(line);
					free(nm);
				}
			}
		}
	}
}

char *rbac_escalation(const struct rbac_user *u, const char *plural, const char *ns,
		      const json_t *obj)
{
	bool role = !strcmp(plural, "clusterroles") || !strcmp(plural, "roles");
	bool binding = !strcmp(plural, "clusterrolebindings") || !strcmp(plural, "rolebindings");
	if ((!role && !binding) || !u || in_group(u, "system:masters"))
		return NULL;
	const char *scope = ns && *ns ? ns : "";
	struct rbac_attrs a = {.resource_request = true,
			       .group = "rbac.authorization.k8s.io",
			       .ns = scope,
			       .subresource = ""};
	const json_t *rules = NULL;
	if (role) {
		/* RoleEscalationAuthorized: escalate on the resource. */
		a.verb = "escalate";
		a.resource = plural;
		a.name = json_str(json_object_get(obj, "metadata"), "name");
		if (rbac_allows(u, &a))
			return NULL;
		rules = json_object_get(obj, "rules");
	} else {
		/* BindingAuthorized: bind on the role referred to. */
		json_t *ref = json_object_get(obj, "roleRef");
		const char *rk = json_str(ref, "kind");
		a.verb = "bind";
		a.resource = rk && !strcmp(rk, "Role") ? "roles" : "clusterroles";
		a.ns = rk && !strcmp(rk, "Role") ? scope : "";
		a.name = json_str(ref, "name");
		if (rbac_allows(u, &a))
			return NULL;
		const json_t *r = bound_role(obj, *scope ? scope : NULL);
		rules = r ? json_object_get(r, "rules") : NULL;
	}
	char *missing = NULL;
	size_t i;
	json_t *rule;
	json_array_foreach (rules, i, rule)
		missing_rights(u, rule, scope, &missing);
	if (!missing)
		return NULL;
	char *groups = quoted_list(NULL, u->groups);
	char *msg = xasprintf("user \"%s\" (groups=%s) is attempting to grant RBAC permissions "
			      "not currently held:\n%s",
			      u->name, groups, missing);
	free(groups);
	free(missing);
	return msg;
}
