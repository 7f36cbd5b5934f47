/*
 * esaas-sim's reading of a container's image reference (sim/images.c), as
 * its kubelet reads every pod's images: images_normalize(),
 * images_default_pull_policy() and the registry's answer for what
 * normalizes.  The input is the reference as a pod spec gives it.
 *
 * Besides crashes and leaks, the contract:
 *   - a reference that does not parse says why ("invalid reference
 *     format...", or a name too long once normalized);
 *   - one that parses is fully qualified (a domain, a path, then a tag or
 *     a digest), and reads back as itself;
 *   - the pull policy is Always or IfNotPresent;
 *   - the registry either has the image or says why not, naming it.
 */
#include "common/util.h"
#include "fuzz/support.h"
#include "sim/images.h"
#include "sim/simconf.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *err = NULL;
	(void)argc;
	(void)argv;
	support_init();
	if (!simconf_load(NULL, &err))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *ref = xstrndup((const char *)data, size);
	const char *why = NULL;
	char *n = images_normalize(ref, &why);
	const char *policy = images_default_pull_policy(ref);

	support_expect(!strcmp(policy, "Always") || !strcmp(policy, "IfNotPresent"),
		       "pull policy %s", policy);
	if (!n) {
		support_expect(why && (!strncmp(why, "invalid reference format", 24) ||
				       strstr(why, "must not be more than 255 characters")),
			       "no reason for refusing \"%s\"", ref);
	} else {
		const char *again_why = NULL;
		char *again = images_normalize(n, &again_why);
		char *missing = NULL;
		support_expect(strchr(n, '/') && (strchr(n, ':') || strchr(n, '@')),
			       "\"%s\" normalized to \"%s\"", ref, n);
		support_expect(again && !strcmp(again, n), "\"%s\" reads back as \"%s\"", n,
			       again ? again : "nothing");
		if (!images_registry_has(n, &missing))
			support_expect(missing && strstr(missing, n),
				       "no reason for not having \"%s\"", n);
		free(missing);
		free(again);
	}
	free(n);
	free(ref);
	return 0;
}
