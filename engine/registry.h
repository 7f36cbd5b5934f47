/* The workflows a daemon can run, looked up by kind. */
#ifndef ESAAS_REGISTRY_H
#define ESAAS_REGISTRY_H

#include <stdbool.h>
#include "engine/fsm.h"
#include "common/util.h"

#define WF_REGISTRY_MAX 32

struct wf_registry {
	const struct workflow *items[WF_REGISTRY_MAX];
	int count;
};

/* Add wf; false if the registry is full, the kind is taken, or the table
 * is malformed (unknown next state, duplicate state name). */
bool wf_registry_add(struct wf_registry *reg, const struct workflow *wf, char *err,
		     size_t errlen) MUST_CHECK;
const struct workflow *wf_registry_find(const struct wf_registry *reg, const char *kind);

/*
 * Is name a state of wf's cleanup chain: wf->cleanup and the states its
 * .next leads to?  The rest is the main workflow.
 */
bool workflow_in_cleanup(const struct workflow *wf, const char *name);
/*
 * May a replay start at name: a state of the main workflow marked
 * replay_safe.  A cleanup state never is, whatever its flag says: a replay
 * runs the operation again, and the cleanup follows only if it fails.
 */
bool workflow_replay_allowed(const struct workflow *wf, const char *name);

#endif
