/*
 * Where esaasd is and how to prove who we are: --url and --token, else
 * ESAAS_URL and ESAAS_TOKEN, else the config file
 * (~/.config/esaas/config.yaml, or under $XDG_CONFIG_HOME):
 *
 *   url: https://esaas.example.com
 *   token: s3cr3t
 *   ca_file: /etc/esaas/ca.pem   # esaasd's CA, when the system does not trust it
 *
 * The token is a secret: it is read here, sent in one header, and never
 * printed, not even in an error about the file it came from.
 */
#include "cli/ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#define CONFIG_MAX_BYTES (64 * 1024)

static const char *given(const char *s)
{
	return s && *s ? s : NULL;
}

static const char *first(const char *a, const char *b, const char *c)
{
	return given(a) ? a : given(b) ? b : given(c);
}

void ctl_config_merge(const struct ctl_config_layer *flags, const struct ctl_config_layer *env,
		      const struct ctl_config_layer *file, struct ctl_config *out)
{
	const char *url = first(flags->url, env->url, file->url);
	const char *token = first(flags->token, env->token, file->token);
	const char *ca_file = first(flags->ca_file, env->ca_file, file->ca_file);
	size_t len;

	free(out->url);
	free(out->token);
	free(out->ca_file);
	out->ca_file = ca_file ? xstrdup(ca_file) : NULL;
	out->url = xstrdup(url ? url : CTL_DEFAULT_URL);
	/* Paths are appended as "/api/v1/...": one slash between them. */
	len = strlen(out->url);
	while (len > 0 && out->url[len - 1] == '/')
		out->url[--len] = '\0';
	out->token = token ? xstrdup(token) : NULL;
	out->token_from = !token		? CTL_SOURCE_NONE
			  : given(flags->token) ? CTL_SOURCE_FLAG
			  : given(env->token)	? CTL_SOURCE_ENV
						: CTL_SOURCE_FILE;
}

char *ctl_config_path(const char *xdg_config_home, const char *home)
{
	/* The XDG specification says a relative XDG_CONFIG_HOME is to be ignored. */
	if (given(xdg_config_home) && xdg_config_home[0] == '/')
		return xasprintf("%s/esaas/config.yaml", xdg_config_home);
	if (given(home))
		return xasprintf("%s/.config/esaas/config.yaml", home);
	return NULL;
}

static bool yaml_failed(yaml_parser_t *p, char *err, size_t errlen)
{
	snprintf(err, errlen, "line %zu: %s", (size_t)p->problem_mark.line + 1,
		 p->problem ? p->problem : "not valid YAML");
	return false;
}

/* Skip the value just started by ev (a scalar, or a whole sequence or mapping). */
static bool skip_value(yaml_parser_t *p, yaml_event_t *ev, char *err, size_t errlen)
{
	int depth = 0;

	for (;;) {
		if (ev->type == YAML_SEQUENCE_START_EVENT || ev->type == YAML_MAPPING_START_EVENT)
			depth++;
		else if (ev->type == YAML_SEQUENCE_END_EVENT || ev->type == YAML_MAPPING_END_EVENT)
			depth--;
		yaml_event_delete(ev);
		if (depth == 0)
			return true;
		if (!yaml_parser_parse(p, ev))
			return yaml_failed(p, err, errlen);
	}
}

bool ctl_config_parse(const char *text, size_t len, char **url, char **token, char **ca_file,
		      char *err, size_t errlen)
{
	yaml_parser_t p;
	yaml_event_t ev;
	bool ok = false, in_map = false, done = false;

	*url = NULL;
	*token = NULL;
	*ca_file = NULL;
	if (!yaml_parser_initialize(&p)) {
		snprintf(err, errlen, "cannot start the YAML parser");
		return false;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev)) {
			yaml_failed(&p, err, errlen);
			goto out;
		}
		switch (ev.type) {
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_START_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			yaml_event_delete(&ev);
			break;
		case YAML_STREAM_END_EVENT:
			/* An empty file says nothing, which is fine. */
			yaml_event_delete(&ev);
			done = true;
			break;
		case YAML_MAPPING_START_EVENT:
			yaml_event_delete(&ev);
			if (in_map) {
				snprintf(err, errlen, "line %zu: a key must be a plain word",
					 (size_t)p.mark.line + 1);
				goto out;
			}
			in_map = true;
			break;
		case YAML_MAPPING_END_EVENT:
			yaml_event_delete(&ev);
			done = true;
			break;
		case YAML_SCALAR_EVENT: {
			if (!in_map) {
				yaml_event_delete(&ev);
				snprintf(err, errlen, "expected a mapping of url: and token:");
				goto out;
			}
			char *key = xstrdup((const char *)ev.data.scalar.value);
			size_t line = (size_t)ev.start_mark.line + 1;
			char **slot = strcmp(key, "url") == 0	    ? url
				      : strcmp(key, "token") == 0   ? token
				      : strcmp(key, "ca_file") == 0 ? ca_file
								    : NULL;

			yaml_event_delete(&ev);
			if (!yaml_parser_parse(&p, &ev)) {
				free(key);
				yaml_failed(&p, err, errlen);
				goto out;
			}
			if (!slot) {
				/* A key of a later version: leave it be. */
				free(key);
				if (!skip_value(&p, &ev, err, errlen))
					goto out;
				break;
			}
			if (ev.type != YAML_SCALAR_EVENT) {
				yaml_event_delete(&ev);
				snprintf(err, errlen, "line %zu: %s must be a string", line, key);
				free(key);
				goto out;
			}
			free(key);
			free(*slot);
			/* Every scalar is text: a token of digits is still a token. */
			*slot = xstrdup((const char *)ev.data.scalar.value);
			yaml_event_delete(&ev);
			break;
		}
		case YAML_SEQUENCE_START_EVENT:
		case YAML_ALIAS_EVENT:
		default:
			yaml_event_delete(&ev);
			snprintf(err, errlen, "line %zu: expected a mapping of url: and token:",
				 (size_t)p.mark.line + 1);
			goto out;
		}
	}
	ok = true;
out:
	yaml_parser_delete(&p);
	if (!ok) {
		free(*url);
		free(*token);
		free(*ca_file);
		*url = NULL;
		*token = NULL;
		*ca_file = NULL;
	}
	return ok;
}

/* The whole file; NULL with errno ENOENT when there is none. */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;

	if (!f)
		return NULL;
	buf = xmalloc(CONFIG_MAX_BYTES + 1);
	*len = fread(buf, 1, CONFIG_MAX_BYTES + 1, f);
	if (ferror(f) || *len > CONFIG_MAX_BYTES) {
		errno = ferror(f) ? EIO : EFBIG;
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	buf[*len] = '\0';
	return buf;
}

static bool has_control(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	}
	return false;
}

static bool url_valid(const char *url)
{
	const char *host;

	if (strncmp(url, "http://", 7) == 0)
		host = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		host = url + 8;
	else
		return false;
	return *host && *host != '/';
}

bool ctl_config_load(const struct ctl_config_layer *flags, struct ctl_config *out, char *err,
		     size_t errlen)
{
	struct ctl_config_layer env = {getenv("ESAAS_URL"), getenv("ESAAS_TOKEN"),
				       getenv("ESAAS_CA_FILE")};
	struct ctl_config_layer file = {NULL, NULL, NULL};
	char *file_url = NULL, *file_token = NULL, *file_ca = NULL, *text = NULL;
	char perr[256];
	size_t len = 0;
	bool ok = false;

	memset(out, 0, sizeof(*out));
	out->file = ctl_config_path(getenv("XDG_CONFIG_HOME"), getenv("HOME"));
	if (out->file) {
		text = read_file(out->file, &len);
		if (!text && errno != ENOENT) {
			snprintf(err, errlen, "%s: %s", out->file,
				 errno == EFBIG ? "larger than 64 KiB" : strerror(errno));
			goto out;
		}
		if (text && !ctl_config_parse(text, len, &file_url, &file_token, &file_ca, perr,
					      sizeof(perr))) {
			snprintf(err, errlen, "%s: %s", out->file, perr);
			goto out;
		}
	}
	file.url = file_url;
	file.token = file_token;
	file.ca_file = file_ca;
	ctl_config_merge(flags, &env, &file, out);
	if (!url_valid(out->url)) {
		const char *from = given(flags->url) ? "--url"
				   : given(env.url)  ? "ESAAS_URL"
				   : given(file.url) ? out->file
						     : "the default URL";
		char *shown = ctl_printable(out->url);

		snprintf(err, errlen, "%s: \"%.200s\" is not an http:// or https:// URL", from,
			 shown);
		free(shown);
		goto out;
	}
	if (out->token && has_control(out->token)) {
		/* It would end the Authorization header and start another. */
		const char *from = out->token_from == CTL_SOURCE_FLAG  ? "--token"
				   : out->token_from == CTL_SOURCE_ENV ? "ESAAS_TOKEN"
								       : out->file;

		snprintf(err, errlen, "%s: the token contains control characters", from);
		goto out;
	}
	if (out->ca_file && access(out->ca_file, R_OK) != 0) {
		const char *from = given(flags->ca_file) ? "--ca-file"
				   : given(env.ca_file)	 ? "ESAAS_CA_FILE"
							 : out->file;

		snprintf(err, errlen, "%s: cannot read the CA file %.200s: %s", from, out->ca_file,
			 strerror(errno));
		goto out;
	}
	ok = true;
out:
	free(text);
	free(file_url);
	free(file_token);
	free(file_ca);
	return ok;
}

void ctl_config_free(struct ctl_config *c)
{
	free(c->url);
	free(c->token);
	free(c->ca_file);
	free(c->file);
	memset(c, 0, sizeof(*c));
}
