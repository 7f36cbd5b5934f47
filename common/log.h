/*
 * Logging: one line per event, text for people or JSON lines for machines.
 *
 * log_*() take printf-style arguments; the job variants add the job's id,
 * cluster, state and attempt as fields so that every line about a job can be
 * found with one grep.
 */
#ifndef ESAAS_LOG_H
#define ESAAS_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "common/util.h"

enum log_level {
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR
};
enum log_format {
	LOG_FORMAT_TEXT,
	LOG_FORMAT_JSON
};

/* Context fields printed with a line; any may be NULL/0 (then left out). */
struct log_ctx {
	int64_t job_id;
	const char *cluster;
	const char *state;
	int attempt;
	const char *tenant;
};

bool log_parse_level(const char *s, enum log_level *out);
bool log_parse_format(const char *s, enum log_format *out);

/* path NULL logs to stderr.  Returns false (and keeps stderr) if the file
 * cannot be opened. */
bool log_setup(enum log_level level, enum log_format format, const char *path) MUST_CHECK;
/* Reopen the log file (after rotation); called on SIGHUP. */
void log_reopen(void);
void log_close(void);
bool log_enabled(enum log_level level);

void log_write(enum log_level level, const struct log_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_debug(...)                                           \
	do {                                                     \
		if (log_enabled(LOG_DEBUG))                      \
			log_write(LOG_DEBUG, NULL, __VA_ARGS__); \
	} while (0)
#define log_info(...) log_write(LOG_INFO, NULL, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, NULL, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, NULL, __VA_ARGS__)

#define jlog_debug(ctx, ...)                                      \
	do {                                                      \
		if (log_enabled(LOG_DEBUG))                       \
			log_write(LOG_DEBUG, (ctx), __VA_ARGS__); \
	} while (0)
#define jlog_info(ctx, ...) log_write(LOG_INFO, (ctx), __VA_ARGS__)
#define jlog_warn(ctx, ...) log_write(LOG_WARN, (ctx), __VA_ARGS__)
#define jlog_error(ctx, ...) log_write(LOG_ERROR, (ctx), __VA_ARGS__)

#endif
