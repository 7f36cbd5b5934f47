#include "engine/registry.h"

#include "common/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct wf_state *workflow_state(const struct workflow *wf, const char *name)
{
	if (!name)
		return NULL;
	for (int i = 0; i < wf->nstates; i++)
		if (strcmp(wf->states[i].name, name) == 0)
			return &wf->states[i];
	return NULL;
}

bool wf_refuse(struct wf_refusal *why, int status, const char *code, const char *field,
	       const char *fmt, ...)
{
	va_list ap;

	why->status = status;
	why->code = code;
	snprintf(why->field, sizeof(why->field), "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(why->message, sizeof(why->message), fmt, ap);
	va_end(ap);
	return false;
}

const struct wf_branch *wf_state_branch(const struct wf_state *st, int way)
{
	if (!st || way < 0 || way >= st->nbranches || !st->branches[way].to)
		return NULL;
	return &st->branches[way];
}

bool workflow_in_cleanup(const struct workflow *wf, const char *name)
{
	const char *cur = wf->cleanup;

	if (!name)
		return false;
	/* At most nstates steps: a chain that loops must still end here. */
	for (int i = 0; cur && i < wf->nstates; i++) {
		const struct wf_state *st = workflow_state(wf, cur);

		if (!st)
			return false;
		if (strcmp(st->name, name) == 0)
			return true;
		cur = st->next;
	}
	return false;
}

bool workflow_replay_allowed(const struct workflow *wf, const char *name)
{
	const struct wf_state *st = workflow_state(wf, name);

	return st && st->replay_safe && !workflow_in_cleanup(wf, name);
}

/* Mark in seen[] every state reached from name through .next and the branches. */
static void reach(const struct workflow *wf, const char *name, bool *seen)
{
	const struct wf_state *st = workflow_state(wf, name);
	if (!st || seen[st - wf->states])
		return;
	seen[st - wf->states] = true;
	reach(wf, st->next, seen);
	for (int b = 0; b < st->nbranches; b++)
		reach(wf, st->branches[b].to, seen);
}

/* Every state is on some path from the start or from the cleanup's start. */
static bool workflow_all_reachable(const struct workflow *wf, char *err, size_t errlen)
{
	bool *seen = xcalloc((size_t)wf->nstates, sizeof(*seen));
	bool ok = true;

	reach(wf, wf->states[0].name, seen);
	reach(wf, wf->cleanup, seen);
	for (int i = 0; i < wf->nstates && ok; i++)
		if (!seen[i]) {
			snprintf(err, errlen,
				 "workflow %s: state %s is reached neither from %s nor from the "
				 "cleanup",
				 wf->kind, wf->states[i].name, wf->states[0].name);
			ok = false;
		}
	free(seen);
	return ok;
}

/* A table with a dangling name would fail a job at run time; refuse it now. */
static bool workflow_check(const struct workflow *wf, char *err, size_t errlen)
{
	if (!wf->kind || !*wf->kind || wf->nstates < 1) {
		snprintf(err, errlen, "workflow %s: no kind or no states",
			 wf->kind ? wf->kind : "?");
		return false;
	}
	for (int i = 0; i < wf->nstates; i++) {
		const struct wf_state *st = &wf->states[i];
		if (!st->name || !st->run) {
			snprintf(err, errlen, "workflow %s: state %d has no name or handler",
				 wf->kind, i);
			return false;
		}
		for (int k = 0; k < i; k++)
			if (strcmp(wf->states[k].name, st->name) == 0) {
				snprintf(err, errlen, "workflow %s: state %s appears twice",
					 wf->kind, st->name);
				return false;
			}
		if (st->next && !workflow_state(wf, st->next)) {
			snprintf(err, errlen, "workflow %s: state %s goes to unknown state %s",
				 wf->kind, st->name, st->next);
			return false;
		}
		if (st->nbranches < 0 || (st->nbranches > 0 && !st->branches)) {
			snprintf(err, errlen, "workflow %s: state %s has a bad branch count",
				 wf->kind, st->name);
			return false;
		}
		for (int b = 0; b < st->nbranches; b++) {
			const struct wf_branch *br = &st->branches[b];
			if (!br->label || !*br->label || !br->to) {
				snprintf(err, errlen,
					 "workflow %s: state %s leaves way %d of its handler "
					 "undeclared",
					 wf->kind, st->name, b);
				return false;
			}
			if (!workflow_state(wf, br->to)) {
				snprintf(err, errlen,
					 "workflow %s: state %s's way %s goes to unknown state %s",
					 wf->kind, st->name, br->label, br->to);
				return false;
			}
		}
		/* Every state has a deadline: a stuck handler must end somewhere. */
		if (st->deadline_s <= 0 || st->max_attempts < 0) {
			snprintf(err, errlen,
				 "workflow %s: state %s needs a positive deadline and a "
				 "non-negative attempt limit",
				 wf->kind, st->name);
			return false;
		}
	}
	if (wf->cleanup && !workflow_state(wf, wf->cleanup)) {
		snprintf(err, errlen, "workflow %s: unknown cleanup state %s", wf->kind,
			 wf->cleanup);
		return false;
	}
	return workflow_all_reachable(wf, err, errlen);
}

bool wf_registry_add(struct wf_registry *reg, const struct workflow *wf, char *err, size_t errlen)
{
	if (reg->count >= WF_REGISTRY_MAX) {
		snprintf(err, errlen, "workflow registry full");
		return false;
	}
	if (wf_registry_find(reg, wf->kind)) {
		snprintf(err, errlen, "workflow %s registered twice", wf->kind);
		return false;
	}
	if (!workflow_check(wf, err, errlen))
		return false;
	reg->items[reg->count++] = wf;
	return true;
}

const struct workflow *wf_registry_find(const struct wf_registry *reg, const char *kind)
{
	for (int i = 0; i < reg->count; i++)
		if (strcmp(reg->items[i]->kind, kind) == 0)
			return reg->items[i];
	return NULL;
}

json_t *wf_path(const struct workflow *wf, wf_choose_fn choose, void *arg)
{
	if (!wf || wf->nstates < 1)
		return NULL;
	int *visits = xcalloc((size_t)wf->nstates, sizeof(*visits));
	json_t *path = json_array();
	const struct wf_state *st = &wf->states[0];

	while (st) {
		int at = (int)(st - wf->states);
		if (json_array_size(path) >= WF_PATH_MAX)
			goto broken;
		json_array_append_new(path, json_string(st->name));
		int way = choose ? choose(st, visits[at], arg) : -1;
		visits[at]++;
		const char *to = st->next;
		if (way >= 0) {
			const struct wf_branch *b = wf_state_branch(st, way);
			if (!b)
				goto broken;
			to = b->to;
		}
		if (!to)
			break;
		st = workflow_state(wf, to);
		if (!st)
			goto broken;
	}
	free(visits);
	return path;

broken:
	free(visits);
	json_decref(path);
	return NULL;
}
