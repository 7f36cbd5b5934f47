/* The operations esaasd ships, registered in one place. */
#ifndef ESAAS_WORKFLOWS_H
#define ESAAS_WORKFLOWS_H

#include <stdbool.h>
#include <stddef.h>
#include "engine/registry.h"

extern const struct workflow wf_create;
extern const struct workflow wf_delete;
extern const struct workflow wf_scale;
extern const struct workflow wf_restart;
extern const struct workflow wf_config_update;

bool workflows_register_all(struct wf_registry *reg, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
