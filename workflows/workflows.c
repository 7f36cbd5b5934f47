#include "workflows/workflows.h"
#include "states/states.h"

#include <stddef.h>
#include <stdio.h>

/* Each operation's table, in the order people meet them. */
/* clang-format off */
static const struct workflow *const shipped[] = {
	&wf_create,
	&wf_scale,
	&wf_restart,
	&wf_config_update,
	&wf_plugin_install,
	&wf_plugin_remove,
	&wf_kibana,
	&wf_upgrade,
	&wf_secure,
	&wf_snapshot,
	&wf_restore,
	&wf_delete,
};
/* clang-format on */

/* Each row maps exactly the ways its handler has. */
static bool workflow_ways_declared(const struct workflow *wf, char *err, size_t errlen)
{
	for (int i = 0; i < wf->nstates; i++) {
		const struct wf_state *st = &wf->states[i];
		int ways = state_ways(st->run);

		if (st->nbranches != ways) {
			snprintf(err, errlen,
				 "workflow %s: state %s declares %d way(s) out, its handler has %d",
				 wf->kind, st->name, st->nbranches, ways);
			return false;
		}
	}
	return true;
}

bool workflows_register_all(struct wf_registry *reg, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(shipped) / sizeof(shipped[0]); i++)
		if (!workflow_ways_declared(shipped[i], err, errlen) ||
		    !wf_registry_add(reg, shipped[i], err, errlen))
			return false;
	return true;
}
