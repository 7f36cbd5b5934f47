/*
 * What the operations' request checks share (workflows/ only): unknown
 * fields, allow_yellow, the stored spec read back.
 */
#ifndef ESAAS_WORKFLOWS_REQUEST_H
#define ESAAS_WORKFLOWS_REQUEST_H

#include <stdbool.h>
#include <jansson.h>

#include "engine/fsm.h"
#include "kube/spec.h"

/* Every member of obj is one of known (NULL-terminated); else 422 naming it. */
bool wf_request_fields(json_t *obj, const char *const *known, struct wf_refusal *why);

/* allow_yellow, where a job restarts nodes: go on while the cluster is yellow. */
bool wf_request_allow_yellow(json_t *body, struct wf_refusal *why);

/* The stored spec parsed into spec (spec_free() it); else 409. */
bool wf_record_spec(json_t *record, struct spec *spec, struct wf_refusal *why);

/*
 * A precheck's warnings, for the 202 answer: each role of spec_json (or
 * only the role of that section name) that asks for more nodes than the
 * nodes can place (places: states_read_places) gets one in
 * params.warnings, which the API takes out of the job's parameters, and
 * the same text in params.placement_warnings (a preview's placement gates; taken
 * out too).
 */
void wf_warn_places(json_t *params, json_t *spec_json, const char *only, int places);

/*
 * A precheck (workflows/plugins.c): the file of each plugin a change
 * brings (only, or every plugin of params.spec) is in the plugin
 * repository, so that no node's init container fails on it.  A file the
 * repository does not have is a 422 naming field (NULL: the plugin's place
 * in the spec's plugins); no repository configured is a 409; one that
 * refuses the HEAD otherwise (401, 403, 405, ...) a 502; one that cannot be
 * asked now a warning in params.warnings (an install's job asks again; a
 * create's pods say why they wait).
 */
void wf_plugin_files_precheck(void *env, const char *tenant, json_t *params, const char *only,
			      const char *field,
			      void (*done)(void *arg, const struct wf_refusal *why), void *arg);

/* What a precheck made of several answers carries from one to the next:
 * the precheck's own arguments, copied. */
struct wf_precheck {
	void (*done)(void *arg, const struct wf_refusal *why);
	void *arg;
	void *env;
	char *tenant;
	char *ns;
	json_t *params;
};
struct wf_precheck *wf_precheck_new(void *env, const char *tenant, const char *ns, json_t *params,
				    void (*done)(void *arg, const struct wf_refusal *why),
				    void *arg);
/* done(arg, why), why NULL when it refuses nothing (NULL or status 0); frees p. */
void wf_precheck_end(struct wf_precheck *p, const struct wf_refusal *why);
/* Frees p without an answer: its done has been handed on. */
void wf_precheck_free(struct wf_precheck *p);

/* A warning for the 202 in params.warnings (an array made when missing),
 * which the API answers and keeps out of the job's parameters. */
void wf_warnf(json_t *params, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The strings of an array joined with "; " (newly allocated; "" when empty). */
char *wf_joined(json_t *lines);

/* A snapshot's name as Elasticsearch takes it (workflows/snapshot.c); else
 * 422 naming field. */
bool wf_snapshot_name_ok(const char *field, json_t *v, struct wf_refusal *why);
/* workflow.disruptive of a workflow whose every job restarts nodes. */
bool wf_always_disruptive(const json_t *params);

/*
 * A precheck's verdict on the disk headroom of the data nodes a job
 * restarts (states_read_disk's report, or NULL and error when it could
 * not be read): a node above the low watermark would get none of its
 * replicas back after its restart, and the job would wait for green for
 * ever: 422 naming field, each such node and its usage.  A node within
 * the margin of it, or one whose usage is not reported, is a warning in
 * params.warnings; so is an unread report, unless must_read (then 503).
 * what names the job ("the upgrade").
 */
bool wf_disk_headroom(json_t *report, const char *error, const char *what, const char *field,
		      bool must_read, json_t *params, struct wf_refusal *why);

#endif
