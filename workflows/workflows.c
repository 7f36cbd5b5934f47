#include "workflows/workflows.h"

#include <stddef.h>

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
	&wf_delete,
};
/* clang-format on */

bool workflows_register_all(struct wf_registry *reg, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(shipped) / sizeof(shipped[0]); i++)
		if (shipped[i] && !wf_registry_add(reg, shipped[i], err, errlen))
			return false;
	return true;
}
