/*
 * Command lines: flags and positional arguments in any order, as people
 * type them ("esaasctl jobs show 42 -o json"), checked against the
 * command's flag table so that a typo is an error naming the flag rather
 * than a value quietly ignored.
 */
#include "cli/ctl.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const struct ctl_flag *find_long(const struct ctl_flag *const *tables, const char *name,
					size_t len)
{
	for (; *tables; tables++) {
		for (const struct ctl_flag *f = *tables; f->name; f++) {
			if (strlen(f->name) == len && strncmp(f->name, name, len) == 0)
				return f;
		}
	}
	return NULL;
}

static const struct ctl_flag *find_letter(const struct ctl_flag *const *tables, char letter)
{
	for (; *tables; tables++) {
		for (const struct ctl_flag *f = *tables; f->name; f++) {
			if (f->letter && f->letter == letter)
				return f;
		}
	}
	return NULL;
}

static void add_given(struct ctl_args *a, const struct ctl_flag *f, const char *value)
{
	a->given = xrealloc(a->given, (a->ngiven + 1) * sizeof(*a->given));
	a->given[a->ngiven].flag = f;
	a->given[a->ngiven].value = value;
	a->ngiven++;
}

static bool fail(struct ctl_args *a, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static bool fail(struct ctl_args *a, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	ctl_args_free(a);
	return false;
}

bool ctl_args_parse(const struct ctl_flag *const *tables, int argc, char **argv,
		    struct ctl_args *out, char *err, size_t errlen)
{
	bool flags_done = false;

	memset(out, 0, sizeof(*out));
	out->pos = xcalloc((size_t)argc + 1, sizeof(*out->pos));
	for (int i = 0; i < argc; i++) {
		char *arg = argv[i];
		const struct ctl_flag *f;
		const char *value = NULL;

		/* A lone "-" is standard input, a positional argument. */
		if (flags_done || arg[0] != '-' || arg[1] == '\0') {
			out->pos[out->npos++] = arg;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			flags_done = true;
			continue;
		}
		if (arg[1] == '-') {
			const char *name = arg + 2;
			const char *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);

			f = find_long(tables, name, len);
			if (!f)
				return fail(out, err, errlen, "unknown flag %s", arg);
			if (eq && !f->value)
				return fail(out, err, errlen, "flag --%s takes no value", f->name);
			if (eq)
				value = eq + 1;
		} else {
			f = find_letter(tables, arg[1]);
			if (!f)
				return fail(out, err, errlen, "unknown flag %s", arg);
			if (arg[2] && !f->value)
				return fail(out, err, errlen, "unknown flag %s", arg);
			if (arg[2])
				value = arg + 2;
		}
		if (f->value && !value) {
			if (i + 1 >= argc)
				return fail(out, err, errlen, "flag --%s needs a value", f->name);
			value = argv[++i];
		}
		add_given(out, f, value);
	}
	return true;
}

void ctl_args_free(struct ctl_args *a)
{
	free(a->given);
	free(a->pos);
	memset(a, 0, sizeof(*a));
}

const char *ctl_args_get(const struct ctl_args *a, const char *name)
{
	const char *value = NULL;

	/* The last one wins, so that a flag can override an alias or a script's default. */
	for (size_t i = 0; i < a->ngiven; i++) {
		if (strcmp(a->given[i].flag->name, name) == 0)
			value = a->given[i].value;
	}
	return value;
}

bool ctl_args_has(const struct ctl_args *a, const char *name)
{
	for (size_t i = 0; i < a->ngiven; i++) {
		if (strcmp(a->given[i].flag->name, name) == 0)
			return true;
	}
	return false;
}

const char *ctl_args_next(const struct ctl_args *a, const char *name, size_t *i)
{
	for (; *i < a->ngiven; (*i)++) {
		if (strcmp(a->given[*i].flag->name, name) == 0)
			return a->given[(*i)++].value;
	}
	return NULL;
}

static size_t flag_width(const struct ctl_flag *f)
{
	/* "-o, --output FMT" */
	return 4 + 2 + strlen(f->name) + (f->value ? 1 + strlen(f->value) : 0);
}

void ctl_args_help(FILE *f, const struct ctl_flag *flags)
{
	size_t width = 0;

	for (const struct ctl_flag *p = flags; p->name; p++) {
		if (flag_width(p) > width)
			width = flag_width(p);
	}
	for (const struct ctl_flag *p = flags; p->name; p++) {
		char left[128];

		snprintf(left, sizeof(left), "%c%c%c --%s%s%s", p->letter ? '-' : ' ',
			 p->letter ? p->letter : ' ', p->letter ? ',' : ' ', p->name,
			 p->value ? " " : "", p->value ? p->value : "");
		fprintf(f, "  %-*s  %s\n", (int)width, left, p->help);
	}
}
