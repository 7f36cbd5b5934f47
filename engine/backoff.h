/* Capped exponential backoff with full jitter. */
#ifndef ESAAS_BACKOFF_H
#define ESAAS_BACKOFF_H

#include <stdint.h>

struct backoff_policy {
	int64_t base_ms;
	int64_t cap_ms;
	int max_attempts;
};

/* The ceiling for the given attempt (1-based): min(cap, base * 2^(attempt-1)). */
int64_t backoff_ceiling(const struct backoff_policy *p, int attempt);
/* A delay drawn uniformly from [0, ceiling]. */
int64_t backoff_delay(const struct backoff_policy *p, int attempt);

#endif
