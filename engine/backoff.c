#include "engine/backoff.h"
#include "common/util.h"

int64_t backoff_ceiling(const struct backoff_policy *p, int attempt)
{
	if (attempt < 1)
		attempt = 1;
	int64_t ceiling = p->base_ms;
	/* Double without overflowing: stop as soon as the cap is reached. */
	for (int i = 1; i < attempt && ceiling < p->cap_ms; i++)
		ceiling *= 2;
	return ceiling < p->cap_ms ? ceiling : p->cap_ms;
}

int64_t backoff_delay(const struct backoff_policy *p, int attempt)
{
	int64_t ceiling = backoff_ceiling(p, attempt);
	return ceiling > 0 ? (int64_t)rand_below((uint64_t)ceiling + 1) : 0;
}
