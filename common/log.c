#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

static enum log_level min_level = LOG_INFO;
static enum log_format format = LOG_FORMAT_TEXT;
static char *file_path;
static FILE *out;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

bool log_parse_level(const char *s, enum log_level *lvl)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*lvl = (enum log_level)i;
			return true;
		}
	}
	return false;
}

bool log_parse_format(const char *s, enum log_format *fmt)
{
	if (strcmp(s, "text") == 0)
		*fmt = LOG_FORMAT_TEXT;
	else if (strcmp(s, "json") == 0)
		*fmt = LOG_FORMAT_JSON;
	else
		return false;
	return true;
}

static FILE *stream(void)
{
	return out ? out : stderr;
}

bool log_setup(enum log_level level, enum log_format fmt, const char *path)
{
	min_level = level;
	format = fmt;
	log_close();
	if (path) {
		FILE *f = fopen(path, "a");
		if (!f)
			return false;
		setvbuf(f, NULL, _IOLBF, 0);
		out = f;
		file_path = xstrdup(path);
	}
	return true;
}

void log_reopen(void)
{
	if (!file_path)
		return;
	FILE *f = fopen(file_path, "a");
	if (!f) {
		log_error("cannot reopen log file %s: %s", file_path, strerror(errno));
		return;
	}
	setvbuf(f, NULL, _IOLBF, 0);
	fclose(out);
	out = f;
}

void log_close(void)
{
	if (out)
		fclose(out);
	out = NULL;
	free(file_path);
	file_path = NULL;
}

bool log_enabled(enum log_level level)
{
	return level >= min_level;
}

static void timestamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

void log_write(enum log_level level, const struct log_ctx *ctx, const char *fmt, ...)
{
	if (level < min_level)
		return;
	char ts[40];
	timestamp(ts, sizeof(ts));
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);

	FILE *f = stream();
	if (format == LOG_FORMAT_JSON) {
		json_t *o = json_object();
		json_object_set_new(o, "time", json_string(ts));
		json_object_set_new(o, "level", json_string(level_names[level]));
		char *clean = utf8_scrub(msg);
		json_object_set_new(o, "msg", json_string(clean));
		free(clean);
		if (ctx && ctx->job_id)
			json_object_set_new(o, "job", json_integer(ctx->job_id));
		if (ctx && ctx->tenant)
			json_object_set_new(o, "tenant", json_string(ctx->tenant));
		if (ctx && ctx->cluster)
			json_object_set_new(o, "cluster", json_string(ctx->cluster));
		if (ctx && ctx->state)
			json_object_set_new(o, "state", json_string(ctx->state));
		/* json_string() refuses invalid UTF-8; never lose a line to it. */
		if (ctx && ctx->attempt)
			json_object_set_new(o, "attempt", json_integer(ctx->attempt));
		char *line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
		fprintf(f, "%s\n", line ? line : "{}");
		free(line);
		json_decref(o);
	} else {
		char prefix[256] = "";
		if (ctx && ctx->job_id)
			snprintf(prefix, sizeof(prefix),
				 "job=%lld tenant=%s cluster=%s state=%s attempt=%d ",
				 (long long)ctx->job_id, ctx->tenant ? ctx->tenant : "-",
				 ctx->cluster ? ctx->cluster : "-", ctx->state ? ctx->state : "-",
				 ctx->attempt);
		/* Keep one event on one line whatever the message holds. */
		for (char *p = msg; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		fprintf(f, "%s %-5s %s%s\n", ts, level_names[level], prefix, msg);
	}
	fflush(f);
	free(msg);
}
