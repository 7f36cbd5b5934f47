/*
 * What people read: ages rather than timestamps where a glance is enough,
 * columns that line up, and nothing from the server that could move the
 * cursor or recolour the terminal.
 */
#include "cli/ctl.h"
#include "common/json.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MS_PER_MINUTE (60 * 1000LL)
#define MS_PER_HOUR (60 * MS_PER_MINUTE)
#define MS_PER_DAY (24 * MS_PER_HOUR)

void ctl_format_age(int64_t ms, char *buf, size_t len)
{
	/* A clock a little behind the server's must not show "-2s". */
	if (ms < 0)
		ms = 0;
	if (ms < MS_PER_MINUTE)
		snprintf(buf, len, "%llds", (long long)(ms / 1000));
	else if (ms < MS_PER_HOUR)
		snprintf(buf, len, "%lldm%llds", (long long)(ms / MS_PER_MINUTE),
			 (long long)(ms % MS_PER_MINUTE / 1000));
	else if (ms < MS_PER_DAY)
		snprintf(buf, len, "%lldh%lldm", (long long)(ms / MS_PER_HOUR),
			 (long long)(ms % MS_PER_HOUR / MS_PER_MINUTE));
	else
		snprintf(buf, len, "%lldd%lldh", (long long)(ms / MS_PER_DAY),
			 (long long)(ms % MS_PER_DAY / MS_PER_HOUR));
}

void ctl_format_duration(int64_t ms, char *buf, size_t len)
{
	if (ms >= 0 && ms < 1000)
		snprintf(buf, len, "%lldms", (long long)ms);
	else
		ctl_format_age(ms, buf, len);
}

#define DURATION_MAX_S (100LL * 366 * 24 * 3600)

bool ctl_parse_duration(const char *s, int64_t *seconds)
{
	int64_t total = 0;

	if (!s || !*s)
		return false;
	while (*s) {
		int64_t n = 0, unit;
		int digits = 0;

		for (; *s >= '0' && *s <= '9'; s++) {
			/* Ten digits of anything is past the limit already. */
			if (++digits > 10)
				return false;
			n = n * 10 + (*s - '0');
		}
		if (digits == 0)
			return false;
		switch (*s++) {
		case 's':
			unit = 1;
			break;
		case 'm':
			unit = 60;
			break;
		case 'h':
			unit = 3600;
			break;
		case 'd':
			unit = 24 * 3600;
			break;
		case 'w':
			unit = 7 * 24 * 3600;
			break;
		default:
			/* A bare number too: "30" could mean seconds or days. */
			return false;
		}
		total += n * unit;
		if (total > DURATION_MAX_S)
			return false;
	}
	*seconds = total;
	return true;
}

/* whole and hundredths (or thousandths) without trailing zeros: "12", "1.5", "0.25". */
static void format_decimal(int64_t whole, int64_t frac, int digits, const char *unit, char *buf,
			   size_t len)
{
	char f[8];
	int n;

	n = snprintf(f, sizeof(f), "%0*lld", digits, (long long)frac);
	while (n > 0 && f[n - 1] == '0')
		f[--n] = '\0';
	snprintf(buf, len, "%lld%s%s%s", (long long)whole, n ? "." : "", f, unit);
}

void ctl_format_cpu(int64_t millicores, char *buf, size_t len)
{
	if (millicores < 0)
		millicores = 0;
	format_decimal(millicores / 1000, millicores % 1000, 3, "", buf, len);
}

void ctl_format_bytes(int64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
	int u = -1;

	if (bytes < 0)
		bytes = 0;
	while (u + 1 < (int)ARRAY_SIZE(units) && bytes >> (10 * (u + 2)) > 0)
		u++;
	if (u < 0) {
		snprintf(buf, len, "%lld", (long long)bytes);
		return;
	}
	int64_t size = (int64_t)1 << (10 * (u + 1));
	/* Hundredths, cut: 1.999Gi reads 1.99Gi, never 2Gi.  Above Ki the
	 * bytes under a KiB are left out, so that the product fits. */
	int shift = u > 0 ? 10 : 0;
	int64_t hundredths = ((bytes % size) >> shift) * 100 / (size >> shift);

	format_decimal(bytes / size, hundredths, 2, units[u], buf, len);
}

bool ctl_parse_time(const char *s, int64_t *ms)
{
	struct tm tm;
	int year, mon, day, hour, min, sec, frac = 0, n = 0;
	time_t t;

	if (!s)
		return false;
	/* The API's one form (esaas_ts): 2024-05-01T10:02:03.123Z, always UTC. */
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &mon, &day, &hour, &min, &sec, &n) != 6)
		return false;
	s += n;
	if (*s == '.') {
		int digits = 0;

		for (s++; *s >= '0' && *s <= '9'; s++, digits++) {
			if (digits < 3)
				frac = frac * 10 + (*s - '0');
		}
		if (digits == 0)
			return false;
		for (; digits < 3; digits++)
			frac *= 10;
	}
	if (strcmp(s, "Z") != 0)
		return false;
	if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
		return false;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return false;
	*ms = (int64_t)t * 1000 + frac;
	return true;
}

void ctl_format_when(const char *ts, int64_t now_ms, char *buf, size_t len)
{
	int64_t ms;
	char age[32];

	if (!ts || !*ts) {
		snprintf(buf, len, "-");
		return;
	}
	if (!ctl_parse_time(ts, &ms)) {
		char *shown = ctl_printable(ts);

		snprintf(buf, len, "%s", shown);
		free(shown);
		return;
	}
	ctl_format_age(now_ms - ms, age, sizeof(age));
	/* To the second: the milliseconds are in -o json for whoever needs them. */
	snprintf(buf, len, "%.19sZ (%s ago)", ts, age);
}

char *ctl_printable(const char *s)
{
	char *p = xstrdup(s ? s : "");

	for (char *q = p; *q; q++) {
		unsigned char c = (unsigned char)*q;

		if (c < 0x20 || c == 0x7f)
			*q = ' ';
	}
	return p;
}

char *ctl_abbrev(const char *s, size_t max)
{
	char *p = ctl_printable(s);
	size_t cols = 0;

	if (max < 4)
		max = 4;
	for (char *q = p; *q; q++) {
		/* Count characters, not bytes, and never cut one in half. */
		if (((unsigned char)*q & 0xc0) == 0x80)
			continue;
		if (cols == max - 3) {
			size_t rest = 0;

			for (const char *r = q; *r; r++)
				rest += ((unsigned char)*r & 0xc0) != 0x80;
			if (rest > 3) {
				memcpy(q, "...", 4);
				break;
			}
		}
		cols++;
	}
	return p;
}

int ctl_print_json(json_t *v)
{
	if (json_dumpf(v, stdout, JSON_INDENT(2)) != 0 || putchar('\n') == EOF ||
	    fflush(stdout) != 0)
		return CTL_EXIT_API;
	return CTL_EXIT_OK;
}

/* --- tables ------------------------------------------------------------- */

struct ctl_table {
	size_t ncols;
	char **cells; /* row after row */
	size_t ncells;
};

struct ctl_table *ctl_table_new(size_t ncols, const char *const *headers)
{
	struct ctl_table *t = xcalloc(1, sizeof(*t));

	t->ncols = ncols;
	for (size_t i = 0; headers && i < ncols; i++)
		ctl_table_cell(t, headers[i]);
	return t;
}

void ctl_table_row(struct ctl_table *t)
{
	/* A row left short is completed, so that the next one starts in column one. */
	while (t->ncells % t->ncols != 0)
		ctl_table_cell(t, NULL);
}

void ctl_table_cell(struct ctl_table *t, const char *s)
{
	t->cells = xrealloc(t->cells, (t->ncells + 1) * sizeof(*t->cells));
	t->cells[t->ncells++] = ctl_printable(s && *s ? s : "-");
}

void ctl_table_cellf(struct ctl_table *t, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	ctl_table_cell(t, s);
	free(s);
}

/* Columns on a terminal: UTF-8 continuation bytes take none. */
static size_t display_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++) {
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	}
	return w;
}

char *ctl_table_render(const struct ctl_table *t)
{
	size_t *width = xcalloc(t->ncols, sizeof(*width));
	size_t nrows = (t->ncells + t->ncols - 1) / t->ncols;
	size_t cap = 1, used = 0;
	char *out;

	for (size_t i = 0; i < t->ncells; i++) {
		size_t w = display_width(t->cells[i]);

		if (w > width[i % t->ncols])
			width[i % t->ncols] = w;
	}
	for (size_t i = 0; i < t->ncells; i++)
		cap += strlen(t->cells[i]) + width[i % t->ncols] + 3;
	out = xmalloc(cap);
	out[0] = '\0';
	for (size_t r = 0; r < nrows; r++) {
		/* The last cell of a row is not padded: no trailing blanks. */
		size_t last = t->ncols;

		while (last > 1 && r * t->ncols + last - 1 >= t->ncells)
			last--;
		for (size_t c = 0; c < last; c++) {
			const char *cell = t->cells[r * t->ncols + c];
			size_t pad = c + 1 < last ? width[c] - display_width(cell) + 2 : 0;

			used += (size_t)snprintf(out + used, cap - used, "%s%*s", cell, (int)pad,
						 "");
		}
		used += (size_t)snprintf(out + used, cap - used, "\n");
	}
	free(width);
	return out;
}

void ctl_table_print(const struct ctl_table *t, FILE *f)
{
	char *s = ctl_table_render(t);

	fputs(s, f);
	free(s);
}

void ctl_table_free(struct ctl_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

/* --- a preview's plan ------------------------------------------------------------------ */

struct text {
	char *buf;
	size_t len, cap;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = xvasprintf(fmt, ap);
	va_end(ap);
	size_t n = strlen(s);
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->buf = xrealloc(t->buf, t->cap);
	}
	memcpy(t->buf + t->len, s, n + 1);
	t->len += n;
	free(s);
}

/* A quota's measures side by side: "pods 7 -> 6, requests.cpu 3 -> 2". */
static void quota_line(struct text *t, const char *label, json_t *q)
{
	json_t *before = json_object_get(q, "before"), *after = json_object_get(q, "after");
	const char *key;
	json_t *v;
	bool first = true;
	json_t *keys = json_is_object(after) ? after : before;

	if (!json_is_object(keys))
		return;
	text_add(t, "%-10s", label);
	json_object_foreach (keys, key, v) {
		char *b = json_dumps(json_object_get(before, key), JSON_ENCODE_ANY);
		char *a = json_dumps(json_object_get(after, key), JSON_ENCODE_ANY);
		char *pb = ctl_printable(b ? b : "none"), *pa = ctl_printable(a ? a : "none");
		char *pk = ctl_printable(key);
		text_add(t, "%s%s %s -> %s", first ? "" : ", ", pk, pb, pa);
		first = false;
		free(b);
		free(a);
		free(pb);
		free(pa);
		free(pk);
	}
	text_add(t, "\n");
}

char *ctl_format_plan(json_t *plan)
{
	struct text t = {0};
	size_t i;
	json_t *v;
	char *kind = ctl_printable(json_str(plan, "kind") ? json_str(plan, "kind") : "?");
	char *cluster = ctl_printable(json_str(plan, "cluster") ? json_str(plan, "cluster") : "?");

	text_add(&t, "Preview of %s on cluster %s: nothing was changed or queued.\n", kind,
		 cluster);
	free(kind);
	free(cluster);
	json_t *states = json_object_get(plan, "states");
	text_add(&t, "%-10s", "States:");
	if (!json_is_array(states))
		text_add(&t, "unknown");
	json_array_foreach (states, i, v) {
		char *s = ctl_printable(json_string_value(v) ? json_string_value(v) : "?");
		text_add(&t, "%s%s", i ? " -> " : "", s);
		free(s);
	}
	text_add(&t, "\n");
	json_t *pods = json_object_get(plan, "pods");
	text_add(&t, "%-10s%s", "Pods:", json_array_size(pods) ? "" : "none\n");
	json_array_foreach (pods, i, v) {
		char *name =
			ctl_printable(json_str(v, "name") ? json_str(v, "name") : "(a new pod)");
		char *role = ctl_printable(json_str(v, "role") ? json_str(v, "role") : "?");
		char *action = ctl_printable(json_str(v, "action") ? json_str(v, "action") : "?");
		text_add(&t, "%*s%zu. %s %s (%s)\n", i ? 10 : 0, "", i + 1, action, name, role);
		free(name);
		free(role);
		free(action);
	}
	json_t *shards = json_object_get(plan, "shards");
	if (json_is_object(shards)) {
		char bytes[32];
		ctl_format_bytes((int64_t)json_integer_value(json_object_get(shards, "bytes")),
				 bytes, sizeof(bytes));
		text_add(&t, "%-10s%lld shard copies, %s, move off the leaving nodes\n",
			 "Shards:", (long long)json_integer_value(json_object_get(shards, "count")),
			 bytes);
	}
	json_t *quota = json_object_get(plan, "quota");
	quota_line(&t, "Quota:", json_object_get(quota, "namespace"));
	json_t *tenant = json_object_get(quota, "tenant");
	if (json_is_object(tenant))
		quota_line(&t, "Tenant:", tenant);
	json_t *gates = json_object_get(plan, "gates");
	text_add(&t, "%-10s%s", "Gates:", json_array_size(gates) ? "" : "none\n");
	json_array_foreach (gates, i, v) {
		char *reason = ctl_printable(json_str(v, "reason") ? json_str(v, "reason") : "?");
		text_add(&t, "%*s- %s\n", i ? 10 : 0, "", reason);
		free(reason);
	}
	/* What the real request's 202 would warn of (an upgrade's snapshot not
	 * taken, its deprecations); none is printed as nothing. */
	json_t *warnings = json_object_get(plan, "warnings");
	json_array_foreach (warnings, i, v) {
		char *text = ctl_printable(json_string_value(v) ? json_string_value(v) : "?");
		text_add(&t, "%-10s- %s\n", i ? "" : "Warnings:", text);
		free(text);
	}
	json_t *est = json_object_get(plan, "estimate_seconds");
	json_t *basis = json_object_get(plan, "estimate");
	if (json_is_integer(est)) {
		char d[32];
		ctl_format_duration((int64_t)json_integer_value(est) * 1000, d, sizeof(d));
		text_add(&t, "%-10sabout %s (median of %lld similar jobs)\n", "Estimate:", d,
			 (long long)json_integer_value(json_object_get(basis, "jobs")));
	} else {
		char *why = ctl_printable(json_str(basis, "reason") ? json_str(basis, "reason")
								    : "no history");
		text_add(&t, "%-10sunknown: %s\n", "Estimate:", why);
		free(why);
	}
	return t.buf;
}
