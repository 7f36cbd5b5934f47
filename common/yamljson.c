#include "common/yamljson.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/util.h"

#define YAMLJSON_MAX_DEPTH 64

struct anchor {
	char *name;
	json_t *value;
};

struct parser {
	yaml_parser_t yp;
	struct anchor *anchors;
	size_t nanchors;
	char *err;
};

static json_t *parse_node(struct parser *p, yaml_event_t *ev, int depth);

static bool next_event(struct parser *p, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&p->yp, ev)) {
		p->err = xasprintf("YAML error at line %zu, column %zu: %s",
				   p->yp.problem_mark.line + 1, p->yp.problem_mark.column + 1,
				   p->yp.problem ? p->yp.problem : "syntax error");
		return false;
	}
	return true;
}

static void remember(struct parser *p, const yaml_char_t *anchor, json_t *value)
{
	if (!anchor || !value)
		return;
	p->anchors = xrealloc(p->anchors, (p->nanchors + 1) * sizeof(*p->anchors));
	p->anchors[p->nanchors].name = xstrdup((const char *)anchor);
	p->anchors[p->nanchors].value = json_incref(value);
	p->nanchors++;
}

static bool all_digits(const char *s, int base)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		if (base == 10 && !(*s >= '0' && *s <= '9'))
			return false;
		if (base == 16 && !strchr("0123456789abcdefABCDEF", *s))
			return false;
		if (base == 8 && !(*s >= '0' && *s <= '7'))
			return false;
	}
	return true;
}

/* YAML 1.2 core schema resolution of a plain scalar. */
static json_t *plain_scalar(const char *s)
{
	if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	    !strcmp(s, "NULL"))
		return json_null();
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return json_true();
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return json_false();
	const char *d = (*s == '-' || *s == '+') ? s + 1 : s;
	if (all_digits(d, 10)) {
		errno = 0;
		long long v = strtoll(s, NULL, 10);
		if (!errno)
			return json_integer(v);
	}
	if (!strncmp(s, "0x", 2) && all_digits(s + 2, 16))
		return json_integer(strtoll(s + 2, NULL, 16));
	if (!strncmp(s, "0o", 2) && all_digits(s + 2, 8))
		return json_integer(strtoll(s + 2, NULL, 8));
	if (strspn(d, "0123456789.eE+-") == strlen(d) && strchr(d, '.') && d[0] != 'e' &&
	    d[0] != 'E') {
		char *end;
		double v = strtod(s, &end);
		if (*end == '\0')
			return json_real(v);
	}
	if (!strcmp(s, ".inf") || !strcmp(s, ".nan"))
		return json_string(s);
	return json_string(s);
}

static json_t *parse_scalar(yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	const char *tag = (const char *)ev->data.scalar.tag;
	if (tag && !strcmp(tag, YAML_STR_TAG))
		return json_stringn(v, ev->data.scalar.length);
	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_stringn(v, ev->data.scalar.length);
	return plain_scalar(v);
}

static json_t *parse_sequence(struct parser *p, int depth)
{
	json_t *arr = json_array();
	for (;;) {
		yaml_event_t ev;
		if (!next_event(p, &ev))
			goto failed;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return arr;
		}
		json_t *item = parse_node(p, &ev, depth + 1);
		yaml_event_delete(&ev);
		if (!item)
			goto failed;
		json_array_append_new(arr, item);
	}
failed:
	json_decref(arr);
	return NULL;
}

static json_t *parse_mapping(struct parser *p, int depth)
{
	json_t *obj = json_object();
	for (;;) {
		yaml_event_t ev;
		if (!next_event(p, &ev))
			goto failed;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return obj;
		}
		json_t *key = parse_node(p, &ev, depth + 1);
		yaml_event_delete(&ev);
		if (!key)
			goto failed;
		char *kstr;
		if (json_is_string(key))
			kstr = xstrdup(json_string_value(key));
		else if (json_is_null(key))
			kstr = xstrdup("null");
		else
			kstr = json_dumps(key, JSON_ENCODE_ANY);
		json_decref(key);
		if (!next_event(p, &ev)) {
			free(kstr);
			goto failed;
		}
		json_t *val = parse_node(p, &ev, depth + 1);
		yaml_event_delete(&ev);
		if (!val) {
			free(kstr);
			goto failed;
		}
		json_object_set_new(obj, kstr, val);
		free(kstr);
	}
failed:
	json_decref(obj);
	return NULL;
}

static json_t *parse_node(struct parser *p, yaml_event_t *ev, int depth)
{
	json_t *v = NULL;
	if (depth > YAMLJSON_MAX_DEPTH) {
		p->err = xstrdup("YAML nested too deeply");
		return NULL;
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		v = parse_scalar(ev);
		remember(p, ev->data.scalar.anchor, v);
		return v;
	case YAML_SEQUENCE_START_EVENT:
		v = parse_sequence(p, depth);
		remember(p, ev->data.sequence_start.anchor, v);
		return v;
	case YAML_MAPPING_START_EVENT:
		v = parse_mapping(p, depth);
		remember(p, ev->data.mapping_start.anchor, v);
		return v;
	case YAML_ALIAS_EVENT:
		for (size_t i = p->nanchors; i-- > 0;) {
			if (!strcmp(p->anchors[i].name, (const char *)ev->data.alias.anchor))
				return json_deep_copy(p->anchors[i].value);
		}
		p->err = xasprintf("YAML alias *%s has no anchor", ev->data.alias.anchor);
		return NULL;
	default:
		p->err = xstrdup("unexpected YAML event");
		return NULL;
	}
}

json_t *yamljson_parse(const char *buf, size_t len, char **err)
{
	struct parser p;
	json_t *result = NULL;
	bool done = false;

	memset(&p, 0, sizeof(p));
	*err = NULL;
	if (!yaml_parser_initialize(&p.yp)) {
		*err = xstrdup("cannot initialise the YAML parser");
		return NULL;
	}
	yaml_parser_set_input_string(&p.yp, (const unsigned char *)buf, len);
	while (!done) {
		yaml_event_t ev;
		if (!next_event(&p, &ev))
			break;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_START_EVENT:
			break;
		case YAML_DOCUMENT_END_EVENT:
			done = true;
			break;
		default:
			result = parse_node(&p, &ev, 0);
			if (!result)
				done = true;
			break;
		}
		yaml_event_delete(&ev);
	}
	if (!result && !p.err)
		result = json_null();
	for (size_t i = 0; i < p.nanchors; i++) {
		free(p.anchors[i].name);
		json_decref(p.anchors[i].value);
	}
	free(p.anchors);
	yaml_parser_delete(&p.yp);
	if (p.err) {
		json_decref(result);
		*err = p.err;
		return NULL;
	}
	return result;
}

json_t *yamljson_load_file(const char *path, char **err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	json_t *v;

	if (!f) {
		*err = xasprintf("%s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (len + 4096 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = xrealloc(buf, cap);
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		if (n == 0)
			break;
		len += n;
	}
	if (ferror(f)) {
		*err = xasprintf("%s: read error", path);
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	v = yamljson_parse(buf ? buf : "", len, err);
	if (!v) {
		char *e = xasprintf("%s: %s", path, *err);
		free(*err);
		*err = e;
	}
	free(buf);
	return v;
}
