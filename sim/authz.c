/*
 * SelfSubjectAccessReview and SelfSubjectRulesReview
 * (pkg/registry/authorization/selfsubjectaccessreview/rest.go,
 * pkg/registry/authorization/selfsubjectrulesreview/rest.go): create only,
 * nothing stored, the review sent back with its status.
 */
#include "sim/authz.h"

#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "sim/call.h"
#include "sim/rbac.h"

json_t *authz_resource_list(void)
{
	return json_pack("{s:s, s:s, s:s, s:[{s:s, s:s, s:b, s:s, s:[s]}, {s:s, s:s, s:b, s:s, "
			 "s:[s]}]}",
			 "kind", "APIResourceList", "apiVersion", "v1", "groupVersion",
			 "authorization.k8s.io/v1", "resources", "name", "selfsubjectaccessreviews",
			 "singularName", "", "namespaced", 0, "kind", "SelfSubjectAccessReview",
			 "verbs", "create", "name", "selfsubjectrulesreviews", "singularName", "",
			 "namespaced", 0, "kind", "SelfSubjectRulesReview", "verbs", "create");
}

static void reply_failure(struct call *c, int code, const char *reason, json_t *details,
			  const char *message)
{
	json_t *s = json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status",
			      "apiVersion", "v1", "metadata", "status", "Failure", "message",
			      message, "reason", reason, "code", code);
	if (details)
		json_object_set_new(s, "details", details);
	call_reply_json(c, code, s);
}

static const char *str_or_empty(const json_t *o, const char *key)
{
	const char *v = json_str(o, key);
	return v ? v : "";
}

/* The review as sent, with its kind and apiVersion, and the given status. */
static json_t *answer(json_t *review, const char *kind, json_t *status)
{
	json_t *out = json_deep_copy(review);
	json_object_set_new(out, "kind", json_string(kind));
	json_object_set_new(out, "apiVersion", json_string("authorization.k8s.io/v1"));
	if (!json_is_object(json_object_get(out, "metadata")))
		json_object_set_new(out, "metadata", json_object());
	json_object_set_new(json_object_get(out, "metadata"), "creationTimestamp", json_null());
	json_object_set_new(out, "status", status);
	return out;
}

static void access_review(struct call *c, json_t *review)
{
	json_t *spec = json_object_get(review, "spec");
	json_t *ra = json_object_get(spec, "resourceAttributes");
	json_t *na = json_object_get(spec, "nonResourceAttributes");
	/* ValidateSelfSubjectAccessReviewSpec. */
	if (!!ra == !!na) {
		reply_failure(c, 422, "Invalid",
			      json_pack("{s:s, s:s, s:[{s:s, s:s, s:s}]}", "group",
					"authorization.k8s.io", "kind", "SelfSubjectAccessReview",
					"causes", "reason", "FieldValueInvalid", "message",
					"Invalid value: \"null\": exactly one of "
					"nonResourceAttributes or resourceAttributes must be "
					"specified",
					"field", "spec.resourceAttributes"),
			      "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: "
			      "spec.resourceAttributes: Invalid value: \"null\": exactly one of "
			      "nonResourceAttributes or resourceAttributes must be specified");
		return;
	}
	struct rbac_attrs a;
	memset(&a, 0, sizeof(a));
	if (ra) {
		a.resource_request = true;
		a.verb = str_or_empty(ra, "verb");
		a.group = str_or_empty(ra, "group");
		a.resource = str_or_empty(ra, "resource");
		a.subresource = str_or_empty(ra, "subresource");
		a.ns = str_or_empty(ra, "namespace");
		a.name = str_or_empty(ra, "name");
	} else {
		a.verb = str_or_empty(na, "verb");
		a.path = str_or_empty(na, "path");
	}
	char *reason = NULL;
	bool allowed = rbac_review(c->user, &a, &reason);
	json_t *status = json_pack("{s:b}", "allowed", allowed);
	if (reason)
		json_object_set_new(status, "reason", json_string(reason));
	free(reason);
	call_reply_json(c, 201, answer(review, "SelfSubjectAccessReview", status));
}

static void rules_review(struct call *c, json_t *review)
{
	const char *ns = json_str(json_object_get(review, "spec"), "namespace");
	call_reply_json(c, 201,
			answer(review, "SelfSubjectRulesReview", rbac_rules_for(c->user, ns)));
}

bool authz_serve(struct call *c, char **segs, int nsegs)
{
	if (nsegs != 4 || strcmp(segs[0], "apis") != 0 ||
	    strcmp(segs[1], "authorization.k8s.io") != 0 || strcmp(segs[2], "v1") != 0)
		return false;
	bool access = !strcmp(segs[3], "selfsubjectaccessreviews");
	if (!access && strcmp(segs[3], "selfsubjectrulesreviews") != 0)
		return false;
	if (strcmp(c->method, "POST") != 0) {
		reply_failure(c, 405, "MethodNotAllowed", json_object(),
			      "the server does not allow this method on the requested resource");
		return true;
	}
	json_error_t jerr;
	json_t *review = c->body_len ? json_loadb(c->body, c->body_len, 0, &jerr) : NULL;
	if (!json_is_object(review)) {
		json_decref(review);
		reply_failure(c, 400, "BadRequest", NULL,
			      access ? "the body of the request is not a valid "
				       "SelfSubjectAccessReview"
				     : "the body of the request is not a valid "
				       "SelfSubjectRulesReview");
		return true;
	}
	if (access)
		access_review(c, review);
	else
		rules_review(c, review);
	json_decref(review);
	return true;
}
