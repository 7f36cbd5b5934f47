/*
 * Kubernetes label selectors: the string form of ?labelSelector= and the
 * LabelSelector object (matchLabels, matchExpressions) of workloads and
 * affinity terms, with Kubernetes' matching rules (a!=b and "notin" match
 * objects that lack the label).
 */
#ifndef SIM_SELECTOR_H
#define SIM_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "common/util.h"

enum selector_op {
	SELECTOR_EQ,
	SELECTOR_NEQ,
	SELECTOR_IN,
	SELECTOR_NOTIN,
	SELECTOR_EXISTS,
	SELECTOR_NOTEXISTS,
};

struct selector_req {
	char *key;
	enum selector_op op;
	char **values;
	size_t nvalues;
};

/* The empty selector matches everything; "nothing" matches no object. */
struct selector {
	struct selector_req *reqs;
	size_t n;
	bool nothing;
};

/* Parse the string form; on failure *err is an allocated message. */
bool selector_parse(const char *s, struct selector *out, char **err) MUST_CHECK;
/* From a LabelSelector object; JSON null or NULL gives "nothing". */
bool selector_from_json(const json_t *ls, struct selector *out, char **err) MUST_CHECK;
bool selector_matches(const struct selector *sel, const json_t *labels);
void selector_free(struct selector *sel);
/* "a=b,c=d" from a matchLabels-style object, keys sorted; allocated. */
char *selector_string(const json_t *match_labels);

#endif
