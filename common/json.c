#include "common/json.h"
#include "common/util.h"

#include <stdio.h>
#include <string.h>

const char *json_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* The longest cut of s to at most max bytes that ends on a character. */
static size_t utf8_prefix(const char *s, size_t max)
{
	size_t n = max;

	/* Back over continuation bytes (10xxxxxx) to a character's start. */
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

char *json_text_cut(const char *s, size_t max)
{
	size_t len = strlen(s);
	char note[64];

	if (len <= max)
		return xstrdup(s);
	int nl = snprintf(note, sizeof(note), "...[cut: %zu bytes in all]", len);
	size_t keep = max > (size_t)nl ? utf8_prefix(s, max - (size_t)nl) : 0;

	return xasprintf("%.*s%s", (int)keep, s, note);
}

static size_t dumped_size(const json_t *doc)
{
	return json_dumpb(doc, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* The longest string value in doc, and where it sits (its parent and key or index). */
struct longest {
	json_t *parent;
	const char *key;
	size_t index;
	size_t len;
};

static void find_longest(json_t *doc, struct longest *l)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_object(doc)) {
		json_object_foreach (doc, key, v) {
			if (json_is_string(v) && json_string_length(v) > l->len)
				*l = (struct longest){doc, key, 0, json_string_length(v)};
			else
				find_longest(v, l);
		}
	} else if (json_is_array(doc)) {
		json_array_foreach (doc, i, v) {
			if (json_is_string(v) && json_string_length(v) > l->len)
				*l = (struct longest){doc, NULL, i, json_string_length(v)};
			else
				find_longest(v, l);
		}
	}
}

/* Strings this short are left whole: cutting them would say nothing. */
#define BOUND_MIN_STRING 128

json_t *json_bound(json_t *doc, size_t max)
{
	size_t size = dumped_size(doc);

	if (size <= max)
		return json_incref(doc);
	json_t *out = json_deep_copy(doc);

	while (out && size > max) {
		struct longest l = {0};

		find_longest(out, &l);
		if (!l.parent || l.len <= BOUND_MIN_STRING)
			break;
		json_t *v = l.key ? json_object_get(l.parent, l.key)
				  : json_array_get(l.parent, l.index);
		size_t excess = size - max;
		/* Escapes may leave it too long still: the next round cuts again. */
		size_t want = l.len > excess + BOUND_MIN_STRING ? l.len - excess : BOUND_MIN_STRING;
		char *cut = json_text_cut(json_string_value(v), want);
		json_t *nv = json_string(cut);

		free(cut);
		if (!nv)
			break;
		if (l.key)
			json_object_set_new(l.parent, l.key, nv);
		else
			json_array_set_new(l.parent, l.index, nv);
		size_t next = dumped_size(out);

		if (next >= size)
			break; /* the note made it no shorter: nothing more to gain */
		size = next;
	}
	if (out && size <= max)
		return out;
	json_decref(out);
	/* The whole document as text, cut, in a string: still valid JSON. */
	char *text = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
	/* Escaping a document's quotes doubles them at worst. */
	char *cut = json_text_cut(text ? text : "", max / 3);
	json_t *wrap = json_pack("{s:s}", "cut", cut);

	free(cut);
	free(text);
	return wrap;
}
