#include "sim/selector.h"
#include "common/json.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static void add_req(struct selector *sel, const char *key, size_t keylen, enum selector_op op)
{
	sel->reqs = xrealloc(sel->reqs, (sel->n + 1) * sizeof(*sel->reqs));
	struct selector_req *r = &sel->reqs[sel->n++];
	r->key = xstrndup(key, keylen);
	r->op = op;
	r->values = NULL;
	r->nvalues = 0;
}

static void add_value(struct selector *sel, const char *v, size_t len)
{
	struct selector_req *r = &sel->reqs[sel->n - 1];
	r->values = xrealloc(r->values, (r->nvalues + 1) * sizeof(*r->values));
	r->values[r->nvalues++] = xstrndup(v, len);
}

static bool is_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' || c == '/';
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static bool fail(char **err, const char *what, const char *at)
{
	*err = xasprintf("unable to parse requirement: %s at \"%s\"", what, at);
	return false;
}

/* Parse "(a, b, c)" into the last requirement. */
static bool parse_set(struct selector *sel, const char **pp, char **err)
{
	const char *p = skip_ws(*pp);
	if (*p != '(')
		return fail(err, "found '(' expected", p);
	p++;
	for (;;) {
		p = skip_ws(p);
		const char *v = p;
		while (is_name_char(*p))
			p++;
		if (p > v)
			add_value(sel, v, (size_t)(p - v));
		p = skip_ws(p);
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == ')') {
			p++;
			break;
		}
		return fail(err, "expected ',' or ')'", p);
	}
	*pp = p;
	return true;
}

bool selector_parse(const char *s, struct selector *out, char **err)
{
	const char *p = s;
	memset(out, 0, sizeof(*out));
	*err = NULL;
	p = skip_ws(p);
	if (!*p)
		return true;
	for (;;) {
		p = skip_ws(p);
		bool negate = false;
		if (*p == '!') {
			negate = true;
			p = skip_ws(p + 1);
		}
		const char *key = p;
		while (is_name_char(*p))
			p++;
		size_t keylen = (size_t)(p - key);
		if (keylen == 0) {
			fail(err, "key expected", key);
			goto failed;
		}
		p = skip_ws(p);
		if (negate) {
			add_req(out, key, keylen, SELECTOR_NOTEXISTS);
		} else if (*p == ',' || *p == '\0') {
			add_req(out, key, keylen, SELECTOR_EXISTS);
		} else if (p[0] == '!' && p[1] == '=') {
			add_req(out, key, keylen, SELECTOR_NEQ);
			p += 2;
		} else if (p[0] == '=' && p[1] == '=') {
			add_req(out, key, keylen, SELECTOR_EQ);
			p += 2;
		} else if (p[0] == '=') {
			add_req(out, key, keylen, SELECTOR_EQ);
			p += 1;
		} else if (!strncmp(p, "in", 2) && (p[2] == ' ' || p[2] == '(')) {
			add_req(out, key, keylen, SELECTOR_IN);
			p += 2;
			if (!parse_set(out, &p, err))
				goto failed;
		} else if (!strncmp(p, "notin", 5) && (p[5] == ' ' || p[5] == '(')) {
			add_req(out, key, keylen, SELECTOR_NOTIN);
			p += 5;
			if (!parse_set(out, &p, err))
				goto failed;
		} else {
			fail(err, "found unexpected operator", p);
			goto failed;
		}
		enum selector_op op = out->reqs[out->n - 1].op;
		if (op == SELECTOR_EQ || op == SELECTOR_NEQ) {
			p = skip_ws(p);
			const char *v = p;
			while (is_name_char(*p))
				p++;
			add_value(out, v, (size_t)(p - v));
		}
		p = skip_ws(p);
		if (*p == '\0')
			return true;
		if (*p != ',') {
			fail(err, "found unexpected character", p);
			goto failed;
		}
		p++;
	}
failed:
	selector_free(out);
	return false;
}

bool selector_from_json(const json_t *ls, struct selector *out, char **err)
{
	memset(out, 0, sizeof(*out));
	*err = NULL;
	if (!ls || json_is_null(ls)) {
		out->nothing = true;
		return true;
	}
	if (!json_is_object(ls)) {
		*err = xstrdup("labelSelector must be an object");
		return false;
	}
	const char *k;
	json_t *v;
	json_t *ml = json_object_get(ls, "matchLabels");
	json_object_foreach (ml, k, v) {
		add_req(out, k, strlen(k), SELECTOR_EQ);
		add_value(out, json_is_string(v) ? json_string_value(v) : "",
			  json_is_string(v) ? json_string_length(v) : 0);
	}
	size_t i;
	json_t *e;
	json_array_foreach (json_object_get(ls, "matchExpressions"), i, e) {
		const char *key = json_str(e, "key");
		const char *op = json_str(e, "operator");
		enum selector_op o;
		if (!key || !op)
			goto bad;
		if (!strcmp(op, "In"))
			o = SELECTOR_IN;
		else if (!strcmp(op, "NotIn"))
			o = SELECTOR_NOTIN;
		else if (!strcmp(op, "Exists"))
			o = SELECTOR_EXISTS;
		else if (!strcmp(op, "DoesNotExist"))
			o = SELECTOR_NOTEXISTS;
		else
			goto bad;
		add_req(out, key, strlen(key), o);
		size_t j;
		json_t *val;
		json_array_foreach (json_object_get(e, "values"), j, val) {
			if (json_is_string(val))
				add_value(out, json_string_value(val), json_string_length(val));
		}
	}
	return true;
bad:
	*err = xstrdup("matchExpressions: key and a known operator are required");
	selector_free(out);
	return false;
}

static bool in_values(const struct selector_req *r, const char *v)
{
	for (size_t i = 0; i < r->nvalues; i++) {
		if (!strcmp(r->values[i], v))
			return true;
	}
	return false;
}

bool selector_matches(const struct selector *sel, const json_t *labels)
{
	if (sel->nothing)
		return false;
	for (size_t i = 0; i < sel->n; i++) {
		const struct selector_req *r = &sel->reqs[i];
		const char *v = json_str(labels, r->key);
		switch (r->op) {
		case SELECTOR_EQ:
		case SELECTOR_IN:
			if (!v || !in_values(r, v))
				return false;
			break;
		case SELECTOR_NEQ:
		case SELECTOR_NOTIN:
			if (v && in_values(r, v))
				return false;
			break;
		case SELECTOR_EXISTS:
			if (!v)
				return false;
			break;
		case SELECTOR_NOTEXISTS:
			if (v)
				return false;
			break;
		}
	}
	return true;
}

void selector_free(struct selector *sel)
{
	for (size_t i = 0; i < sel->n; i++) {
		free(sel->reqs[i].key);
		for (size_t j = 0; j < sel->reqs[i].nvalues; j++)
			free(sel->reqs[i].values[j]);
		free(sel->reqs[i].values);
	}
	free(sel->reqs);
	memset(sel, 0, sizeof(*sel));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *selector_string(const json_t *match_labels)
{
	size_t n = json_object_size(match_labels), i = 0;
	const char **keys = xcalloc(n ? n : 1, sizeof(*keys));
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)match_labels, k, v)
		keys[i++] = k;
	qsort(keys, n, sizeof(*keys), cmp_str);
	char *out = xstrdup("");
	for (i = 0; i < n; i++) {
		const char *val = json_str(match_labels, keys[i]);
		char *next = xasprintf("%s%s%s=%s", out, i ? "," : "", keys[i], val ? val : "");
		free(out);
		out = next;
	}
	free(keys);
	return out;
}
