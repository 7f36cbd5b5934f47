/*
 * The workflows as graphs, for the job viewer and esaasctl: every state
 * with its next state, its branches, deadline, attempts, whether on-call
 * may replay from it and whether it belongs to the cleanup chain.
 * GET /api/v1/workflows and GET /api/v1/workflows/{kind}.
 */
#include "api/auth.h"
#include "api/routes.h"
#include "common/util.h"
#include "engine/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *api_known_kinds(const struct wf_registry *reg)
{
	size_t len = 1;
	int count = reg ? reg->count : 0;

	for (int i = 0; i < count; i++)
		len += strlen(reg->items[i]->kind) + 2;

	char *out = xmalloc(len);
	size_t used = 0;
	out[0] = '\0';
	for (int i = 0; i < count; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%s", i ? ", " : "",
					 reg->items[i]->kind);
	return out;
}

/* --- Workflows as graphs. --- */

json_t *api_workflow_replay_states(const struct workflow *wf)
{
	json_t *states = json_array();

	for (int i = 0; i < wf->nstates; i++) {
		if (workflow_replay_allowed(wf, wf->states[i].name))
			json_array_append_new(states, json_string(wf->states[i].name));
	}
	return states;
}

/* The states outside the cleanup chain, where a replay's default may lie. */
json_t *api_workflow_main_states(const struct workflow *wf)
{
	json_t *states = json_array();

	for (int i = 0; i < wf->nstates; i++) {
		if (!workflow_in_cleanup(wf, wf->states[i].name))
			json_array_append_new(states, json_string(wf->states[i].name));
	}
	return states;
}

json_t *api_workflow_json(const struct workflow *wf)
{
	json_t *states = json_array();

	for (int i = 0; i < wf->nstates; i++) {
		const struct wf_state *st = &wf->states[i];
		json_t *branches = json_array();

		for (int b = 0; b < st->nbranches; b++)
			json_array_append_new(branches, json_pack("{s:s, s:s}", "label",
								  st->branches[b].label, "to",
								  st->branches[b].to));
		json_array_append_new(
			states,
			json_pack("{s:s, s:o, s:o, s:i, s:i, s:b, s:b, s:b}", "name", st->name,
				  "next", st->next ? json_string(st->next) : json_null(),
				  "branches", branches, "deadline_s", st->deadline_s,
				  "max_attempts", st->max_attempts, "replay_safe",
				  workflow_replay_allowed(wf, st->name), "pause_safe",
				  st->pause_safe, "cleanup", workflow_in_cleanup(wf, st->name)));
	}
	return json_pack("{s:s, s:s, s:o, s:o}", "kind", wf->kind, "start", wf->states[0].name,
			 "cleanup", wf->cleanup ? json_string(wf->cleanup) : json_null(), "states",
			 states);
}

/* --- GET /api/v1/workflows, GET /api/v1/workflows/{kind} --- */

static void workflows_list_cb(struct http_req *req, void *arg)
{
	struct api *api = arg;
	json_t *list = json_array();
	int count = api->reg ? api->reg->count : 0;

	for (int i = 0; i < count; i++)
		json_array_append_new(list, api_workflow_json(api->reg->items[i]));
	http_reply_json(req, 200, json_pack("{s:o}", "workflows", list));
}

static void workflows_get_cb(struct http_req *req, void *arg)
{
	struct api *api = arg;
	const char *kind = http_req_param(req, "kind");
	const struct workflow *wf = api->reg && kind ? wf_registry_find(api->reg, kind) : NULL;

	if (!wf) {
		char *known = api_known_kinds(api->reg);

		http_reply_error(req, 404, "not_found", NULL,
				 "no workflow named \"%.64s\"; known kinds: %s", kind ? kind : "",
				 known[0] ? known : "none");
		free(known);
		return;
	}
	http_reply_json(req, 200, api_workflow_json(wf));
}

void api_workflows_add_routes(struct api *api)
{
	api_route(api, "GET", "/api/v1/workflows", ACCESS_ANY, workflows_list_cb);
	api_route(api, "GET", "/api/v1/workflows/{kind}", ACCESS_ANY, workflows_get_cb);
}
