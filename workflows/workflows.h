/* The operations esaasd ships, registered in one place. */
#ifndef ESAAS_WORKFLOWS_H
#define ESAAS_WORKFLOWS_H

#include <stdbool.h>
#include <stddef.h>
#include "engine/registry.h"
#include "common/util.h"

extern const struct workflow wf_create;
extern const struct workflow wf_delete;
extern const struct workflow wf_scale;
extern const struct workflow wf_restart;
extern const struct workflow wf_config_update;
extern const struct workflow wf_plugin_install;
extern const struct workflow wf_plugin_remove;
extern const struct workflow wf_kibana;
extern const struct workflow wf_upgrade;
extern const struct workflow wf_secure;
extern const struct workflow wf_snapshot;
extern const struct workflow wf_restore;

/*
 * Register every shipped workflow, each checked by the registry (engine/
 * registry.h: names, deadlines, every state reachable) and here against its
 * handlers: a row whose handler has ways out (states/) must map each of
 * them, and no row may declare a way its handler does not have.
 */
bool workflows_register_all(struct wf_registry *reg, char *err, size_t errlen) MUST_CHECK;

#endif
