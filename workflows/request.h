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
 * params.warnings, which the API takes out of the job's parameters.
 */
void wf_warn_places(json_t *params, json_t *spec_json, const char *only, int places);

/* A snapshot's name as Elasticsearch takes it (workflows/snapshot.c); else
 * 422 naming field. */
bool wf_snapshot_name_ok(const char *field, json_t *v, struct wf_refusal *why);
/* workflow.disruptive of a workflow whose every job restarts nodes. */
bool wf_always_disruptive(const json_t *params);

#endif
