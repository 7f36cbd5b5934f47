/*
 * config_load() on arbitrary bytes: the YAML file and ESAAS_* variables.
 *
 * The input is the configuration file, up to a line "#%env" if there is
 * one; each line after it is an environment entry, given as "ESAAS_<line>"
 * ("DATABASE_POOL_SIZE=8" is ESAAS_DATABASE_POOL_SIZE=8).  The marker is a
 * YAML comment, so the file part of a seed stays a valid file on its own.
 * The file is written to a memfd and loaded through /proc/self/fd/N.
 *
 * Besides crashes and leaks, the contract of config.h is checked: success
 * leaves err empty and the cross-key rules hold; failure writes one
 * non-empty line that starts with the file or the variable at fault, and
 * leaves cfg holding the defaults.
 */
#include "common/config.h"
#include "common/util.h"
#include "fuzz/support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ENV_MARKER "\n#%env\n"
#define ENV_MAX 16
#define ERR_SIZE 1024 /* as esaasd's */

static int file_fd = -1;
static char file_path[64];
static struct config defaults;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	support_init();
	file_fd = memfd_create("esaasd.yaml", MFD_CLOEXEC);
	if (file_fd < 0) {
		perror("memfd_create");
		abort();
	}
	snprintf(file_path, sizeof(file_path), "/proc/self/fd/%d", file_fd);
	config_defaults(&defaults);
	return 0;
}

static void write_file(const uint8_t *data, size_t len)
{
	size_t done = 0;

	if (ftruncate(file_fd, 0) != 0)
		abort();
	while (done < len) {
		ssize_t n = pwrite(file_fd, data + done, len - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			abort();
		done += (size_t)n;
	}
}

/* The lines of data, as "ESAAS_<line>"; NULL-terminated, at most ENV_MAX of them. */
static char **make_env(const uint8_t *data, size_t len)
{
	char **env = xcalloc(ENV_MAX + 3, sizeof(*env));
	size_t n = 0, start = 0;

	/* Entries that are not ours must be passed over. */
	env[n++] = xstrdup("PATH=/usr/bin:/bin");
	env[n++] = xstrdup("ESAAS_NO_SUCH_KEY=1");
	while (start < len && n < ENV_MAX + 2) {
		const uint8_t *nl = memchr(data + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - data) : len;

		env[n++] = xasprintf("ESAAS_%.*s", (int)(end - start), (const char *)data + start);
		start = end + 1;
	}
	return env;
}

static void free_env(char **env)
{
	for (char **p = env; *p; p++)
		free(*p);
	free(env);
}

static bool same_string(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Every field of struct config, so that a failed load can be compared with the defaults. */
static bool same_config(const struct config *a, const struct config *b)
{
	return same_string(a->listen, b->listen) && same_string(a->database_url, b->database_url) &&
	       a->db_pool_size == b->db_pool_size &&
	       a->db_startup_timeout_s == b->db_startup_timeout_s && a->workers == b->workers &&
	       a->lease_s == b->lease_s && a->heartbeat_s == b->heartbeat_s &&
	       a->poll_s == b->poll_s && a->shutdown_grace_s == b->shutdown_grace_s &&
	       a->retry_base_ms == b->retry_base_ms && a->retry_cap_ms == b->retry_cap_ms &&
	       a->retry_max_attempts == b->retry_max_attempts && a->log_level == b->log_level &&
	       a->log_format == b->log_format && same_string(a->log_file, b->log_file) &&
	       a->http_max_body_bytes == b->http_max_body_bytes &&
	       a->http_max_header_bytes == b->http_max_header_bytes &&
	       a->http_timeout_s == b->http_timeout_s;
}

static void check_loaded(const struct config *cfg)
{
	support_expect(cfg->listen && strchr(cfg->listen, ':'), "listen \"%s\" is not host:port",
		       cfg->listen ? cfg->listen : "(null)");
	support_expect(cfg->database_url && cfg->database_url[0], "database.url is empty");
	support_expect(cfg->heartbeat_s < cfg->lease_s, "heartbeat %d not below lease %d",
		       cfg->heartbeat_s, cfg->lease_s);
	support_expect(cfg->retry_cap_ms >= cfg->retry_base_ms, "retry cap %d below base %d",
		       cfg->retry_cap_ms, cfg->retry_base_ms);
	support_expect(cfg->log_level >= LOG_DEBUG && cfg->log_level <= LOG_ERROR, "log level %d",
		       (int)cfg->log_level);
	support_expect(cfg->db_pool_size >= 1 && cfg->workers >= 1 &&
			       cfg->http_max_body_bytes >= 1024 &&
			       cfg->http_max_header_bytes >= 1024 && cfg->http_timeout_s >= 1,
		       "a value below its minimum was accepted");
	support_expect(!cfg->log_file || cfg->log_file[0], "log.file is empty, not NULL");
}

static void check_failed(const struct config *cfg, const char *err)
{
	size_t plen = strlen(file_path);

	support_expect(err[0] != '\0', "config_load failed without a message");
	support_expect(!strchr(err, '\n') && !strchr(err, '\r'), "the error is not one line: %s",
		       err);
	support_expect((strncmp(err, file_path, plen) == 0 && err[plen] == ':') ||
			       strncmp(err, "ESAAS_", 6) == 0,
		       "the error names neither the file nor a variable: %s", err);
	support_expect(same_config(cfg, &defaults), "a failed load left non-default values: %s",
		       err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *marker = memmem(data, size, ENV_MARKER, strlen(ENV_MARKER));
	size_t file_len = marker ? (size_t)(marker - data) : size;
	char **env = NULL;
	struct config cfg;
	char *err = xmalloc(ERR_SIZE); /* on the heap, so that ASan sees an overrun */

	write_file(data, file_len);
	if (marker) {
		size_t skip = file_len + strlen(ENV_MARKER);

		env = make_env(data + skip, size - skip);
	} else {
		/* NULL would mean the process environment: pass an empty one. */
		env = xcalloc(1, sizeof(*env));
	}

	memset(&cfg, 0, sizeof(cfg));
	if (config_load(&cfg, file_path, env, err, ERR_SIZE))
		check_loaded(&cfg);
	else
		check_failed(&cfg, err);
	config_free(&cfg);

	free_env(env);
	free(err);
	return 0;
}
