/* Small helpers used everywhere: allocation, strings, time, randomness. */
#ifndef ESAAS_UTIL_H
#define ESAAS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MUST_CHECK __attribute__((warn_unused_result))

/* Allocation that cannot fail: out of memory aborts the process, which is
 * the only sane answer for a daemon whose state lives in PostgreSQL. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* BSD strlcpy(): copy src into dst (size bytes), truncating to size-1
 * bytes and always terminating when size > 0; returns strlen(src), so a
 * result >= size means src was truncated. */
size_t str_copy_trunc(char *dst, const char *src, size_t size);

/* Strict integer parsing: the whole string, no sign surprises, in range. */
bool parse_int64(const char *s, int64_t min, int64_t max, int64_t *out) MUST_CHECK;
bool parse_int(const char *s, int min, int max, int *out) MUST_CHECK;

/* A copy of s in which every byte that is not part of valid UTF-8 is '?'. */
char *utf8_scrub(const char *s);

/* Monotonic and wall clocks in milliseconds. */
int64_t now_mono_ms(void);
int64_t now_wall_ms(void);
int64_t now_wall_us(void);

/* Uniform random integer in [0, n) from a per-process PRNG seeded from
 * getrandom(); not for secrets. */
uint64_t rand_below(uint64_t n);
/* Fill buf with 2*n hex characters of OS randomness plus a terminator;
 * n is at most 64. */
void rand_hex(char *buf, size_t n);

#endif
