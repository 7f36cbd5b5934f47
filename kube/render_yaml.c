/*
 * JSON to YAML: objects written with libyaml as a person would write the
 * manifests (strings quoted only where YAML would read them otherwise),
 * one document or a stream of them.
 */
#include "kube/render_internal.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* --- JSON to YAML ------------------------------------------------------- */

struct out_buf {
	char *data;
	size_t len;
	size_t cap;
};

static int write_cb(void *arg, unsigned char *bytes, size_t size)
{
	struct out_buf *b = arg;

	if (b->len + size + 1 > b->cap) {
		b->cap = (b->len + size + 1) * 2;
		b->data = xrealloc(b->data, b->cap);
	}
	memcpy(b->data + b->len, bytes, size);
	b->len += size;
	b->data[b->len] = '\0';
	return 1;
}

/*
 * Whether a string, written plain, would read back as something else: a
 * number, boolean or null in YAML 1.1 or 1.2 ("4096", "yes", "off",
 * "1e3", "0x1f", "1:20", ".inf", "~", "").  Those are double-quoted; a
 * few plain strings are quoted needlessly, which is harmless.
 */
static bool needs_quotes(const char *s)
{
	static const char *const words[] = {
		"y",	"n", "yes",  "no",    "true",  "false", "on", "off",
		"null", "~", ".inf", "-.inf", "+.inf", ".nan",	"=",  "<<",
	};
	const char *numeric = "0123456789abcdefABCDEFxXoO_:.+-tTzZ ";

	if (!s[0])
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
		if (strcasecmp(s, words[i]) == 0)
			return true;
	}
	if (strchr("0123456789+-.", s[0]) && strpbrk(s, "0123456789") &&
	    strspn(s, numeric) == strlen(s))
		return true;
	return false;
}

static bool emit(yaml_emitter_t *e, yaml_event_t *ev)
{
	return yaml_emitter_emit(e, ev) == 1;
}

static bool emit_scalar(yaml_emitter_t *e, const char *text, bool is_string)
{
	yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
	int plain_implicit = 1;
	yaml_event_t ev;

	if (is_string && strchr(text, '\n')) {
		style = YAML_LITERAL_SCALAR_STYLE;
		plain_implicit = 0;
	} else if (is_string && needs_quotes(text)) {
		style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
		plain_implicit = 0;
	}
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text),
					  plain_implicit, 1, style))
		return false;
	return emit(e, &ev);
}

static bool emit_node(yaml_emitter_t *e, json_t *node)
{
	yaml_event_t ev;
	char buf[64];

	switch (json_typeof(node)) {
	case JSON_OBJECT: {
		const char *key;
		json_t *value;

		if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
							 YAML_BLOCK_MAPPING_STYLE) ||
		    !emit(e, &ev))
			return false;
		json_object_foreach (node, key, value) {
			if (!emit_scalar(e, key, true) || !emit_node(e, value))
				return false;
		}
		return yaml_mapping_end_event_initialize(&ev) && emit(e, &ev);
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *value;

		if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
							  YAML_BLOCK_SEQUENCE_STYLE) ||
		    !emit(e, &ev))
			return false;
		json_array_foreach (node, i, value) {
			if (!emit_node(e, value))
				return false;
		}
		return yaml_sequence_end_event_initialize(&ev) && emit(e, &ev);
	}
	case JSON_STRING:
		/* A NUL inside would end the scalar early: refuse it. */
		if (strlen(json_string_value(node)) != json_string_length(node))
			return false;
		return emit_scalar(e, json_string_value(node), true);
	case JSON_INTEGER:
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(node));
		return emit_scalar(e, buf, false);
	case JSON_REAL:
		snprintf(buf, sizeof(buf), "%.17g", json_real_value(node));
		if (!strpbrk(buf, ".eEni"))
			str_copy_trunc(buf + strlen(buf), ".0", sizeof(buf) - strlen(buf));
		return emit_scalar(e, buf, false);
	case JSON_TRUE:
		return emit_scalar(e, "true", false);
	case JSON_FALSE:
		return emit_scalar(e, "false", false);
	case JSON_NULL:
		return emit_scalar(e, "null", false);
	}
	return false;
}

/*
 * docs as YAML: with stream, each element of the array docs is a document
 * opened by "---"; without, docs itself is the one document, unmarked.
 */
bool render_yaml_text(json_t *docs, bool stream, char **out)
{
	struct out_buf b = {NULL, 0, 0};
	yaml_emitter_t e;
	yaml_event_t ev;
	bool ok = false;
	size_t i;
	json_t *doc;

	if (!yaml_emitter_initialize(&e))
		return false;
	yaml_emitter_set_output(&e, write_cb, &b);
	yaml_emitter_set_unicode(&e, 1);
	yaml_emitter_set_width(&e, -1);
	yaml_emitter_set_indent(&e, 2);

	if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) || !emit(&e, &ev))
		goto cleanup;
	if (stream) {
		json_array_foreach (docs, i, doc) {
			if (!yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 0) ||
			    !emit(&e, &ev) || !emit_node(&e, doc) ||
			    !yaml_document_end_event_initialize(&ev, 1) || !emit(&e, &ev))
				goto cleanup;
		}
	} else {
		if (!yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) ||
		    !emit(&e, &ev) || !emit_node(&e, docs) ||
		    !yaml_document_end_event_initialize(&ev, 1) || !emit(&e, &ev))
			goto cleanup;
	}
	if (!yaml_stream_end_event_initialize(&ev) || !emit(&e, &ev) || !yaml_emitter_flush(&e))
		goto cleanup;
	*out = b.data ? b.data : xstrdup("");
	b.data = NULL;
	ok = true;

cleanup:
	yaml_emitter_delete(&e);
	free(b.data);
	return ok;
}

bool render_to_yaml(json_t *objects, char **out)
{
	if (!json_is_array(objects))
		return false;
	return render_yaml_text(objects, true, out);
}
