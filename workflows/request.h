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

#endif
