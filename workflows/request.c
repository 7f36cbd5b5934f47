/* The operations' request checks: what they share. */
#include "workflows/request.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

bool wf_request_fields(json_t *obj, const char *const *known, struct wf_refusal *why)
{
	const char *key;
	json_t *value;

	json_object_foreach (obj, key, value) {
		size_t i, len = 1;
		for (i = 0; known[i]; i++)
			if (strcmp(known[i], key) == 0)
				break;
		if (known[i])
			continue;
		for (i = 0; known[i]; i++)
			len += strlen(known[i]) + 2;
		char *list = xcalloc(1, len);
		for (i = 0; known[i]; i++) {
			if (i)
				strcat(list, ", ");
			strcat(list, known[i]);
		}
		wf_refuse(why, 422, "invalid", key, "unknown field \"%s\"; known: %s", key, list);
		free(list);
		return false;
	}
	return true;
}

bool wf_request_allow_yellow(json_t *body, struct wf_refusal *why)
{
	json_t *v = json_object_get(body, "allow_yellow");

	if (v && !json_is_boolean(v))
		return wf_refuse(why, 422, "invalid", "allow_yellow",
				 "allow_yellow must be true or false");
	return true;
}

bool wf_record_spec(json_t *record, struct spec *spec, struct wf_refusal *why)
{
	struct spec_error serr;

	if (!spec_parse(record, spec, &serr))
		return wf_refuse(why, 409, "conflict", NULL, "the stored spec is invalid: %s: %s",
				 serr.field, serr.message);
	return true;
}
