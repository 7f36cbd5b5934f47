/*
 * Prometheus metrics in memory, and their text exposition.
 *
 * A family keeps its series in creation order (so that the exposition is
 * stable from one scrape to the next) and in a hash table by label values
 * (so that finding one among thousands is cheap).  A histogram series
 * counts each bucket on its own and the exposition adds them up, as the
 * format wants cumulative counts.
 */
#include "common/metrics.h"
#include "common/util.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct metric_series {
	struct metric *family;
	struct metric_series *prev, *next; /* creation order */
	struct metric_series *hnext;	   /* hash chain */
	uint64_t hash;
	char **values;
	double value;	   /* counter, gauge */
	uint64_t *buckets; /* histogram: one count per bound, then +Inf */
	double sum;
	uint64_t count;
};

struct metric {
	struct metrics *reg;
	struct metric *prev, *next; /* registration order */
	enum metric_type type;
	char *name;
	char *help;
	char **labels;
	size_t nlabels;
	double *bounds;
	size_t nbounds;
	struct metric_series *first, *last;
	struct metric_series **table;
	size_t table_size; /* a power of two */
	size_t nseries;
	metrics_collect_fn collect;
	void *collect_arg;
};

struct collect_hook {
	void (*fn)(void *arg);
	void *arg;
	struct collect_hook *next;
};

struct metrics {
	struct metric *first, *last;
	struct collect_hook *hooks;
};

/* The exposition under construction. */
struct buf {
	char *p;
	size_t len, cap;
};

struct metrics_sink {
	struct buf *b;
	struct metric *m;
};

const double metrics_latency_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
					  0.25,	 0.5,	 1,	2.5,  5,     10};
const size_t metrics_latency_nbuckets = ARRAY_SIZE(metrics_latency_buckets);

static struct metrics *default_registry;

static void __attribute__((noreturn, format(printf, 1, 2))) bug(const char *fmt, ...)
{
	va_list ap;

	fputs("esaas: metrics: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* --- names ----------------------------------------------------------------- */

static bool name_char(char c, bool first, bool colon)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (colon && c == ':') || (!first && c >= '0' && c <= '9');
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for families, [a-zA-Z_][a-zA-Z0-9_]* for labels. */
static bool name_valid(const char *s, bool colon)
{
	if (!s || !*s)
		return false;
	for (const char *p = s; *p; p++) {
		if (!name_char(*p, p == s, colon))
			return false;
	}
	return true;
}

/* --- the registry ------------------------------------------------------------ */

struct metrics *metrics_new(void)
{
	return xcalloc(1, sizeof(struct metrics));
}

static void series_free(struct metric_series *s)
{
	for (size_t i = 0; i < s->family->nlabels; i++)
		free(s->values[i]);
	free(s->values);
	free(s->buckets);
	free(s);
}

static void family_free(struct metric *m)
{
	struct metric_series *s = m->first;

	while (s) {
		struct metric_series *next = s->next;

		series_free(s);
		s = next;
	}
	for (size_t i = 0; i < m->nlabels; i++)
		free(m->labels[i]);
	free(m->labels);
	free(m->bounds);
	free(m->table);
	free(m->name);
	free(m->help);
	free(m);
}

void metrics_free(struct metrics *reg)
{
	if (!reg)
		return;
	while (reg->first) {
		struct metric *m = reg->first;

		reg->first = m->next;
		family_free(m);
	}
	while (reg->hooks) {
		struct collect_hook *h = reg->hooks;

		reg->hooks = h->next;
		free(h);
	}
	free(reg);
}

struct metrics *metrics_default(void)
{
	if (!default_registry)
		default_registry = metrics_new();
	return default_registry;
}

void metrics_default_free(void)
{
	metrics_free(default_registry);
	default_registry = NULL;
}

static size_t count_labels(const char *const *labels)
{
	size_t n = 0;

	while (labels && labels[n])
		n++;
	return n;
}

static bool same_labels(const struct metric *m, const char *const *labels)
{
	if (count_labels(labels) != m->nlabels)
		return false;
	for (size_t i = 0; i < m->nlabels; i++) {
		if (strcmp(m->labels[i], labels[i]) != 0)
			return false;
	}
	return true;
}

static struct metric *find_family(struct metrics *reg, const char *name)
{
	for (struct metric *m = reg->first; m; m = m->next) {
		if (strcmp(m->name, name) == 0)
			return m;
	}
	return NULL;
}

static struct metric_series *series_new(struct metric *m, const char *const *values, uint64_t hash);
static uint64_t values_hash(const char *const *values, size_t n);

static struct metric *family_new(struct metrics *reg, enum metric_type type, const char *name,
				 const char *help, const char *const *labels, const double *bounds,
				 size_t nbounds, bool collector)
{
	struct metric *m = find_family(reg, name);

	if (m) {
		if (collector || m->collect || m->type != type || !same_labels(m, labels) ||
		    m->nbounds != nbounds)
			bug("%s registered twice, differently", name);
		return m;
	}
	if (!name_valid(name, true))
		bug("bad metric name \"%s\"", name);
	for (size_t i = 0; labels && labels[i]; i++) {
		if (!name_valid(labels[i], false) || strncmp(labels[i], "__", 2) == 0 ||
		    (type == METRIC_HISTOGRAM && strcmp(labels[i], "le") == 0))
			bug("%s: bad label name \"%s\"", name, labels[i]);
	}
	for (size_t i = 0; i < nbounds; i++) {
		if (isnan(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
			bug("%s: bucket bounds must increase", name);
	}

	m = xcalloc(1, sizeof(*m));
	m->reg = reg;
	m->type = type;
	m->name = xstrdup(name);
	m->help = xstrdup(help ? help : "");
	m->nlabels = count_labels(labels);
	m->labels = xcalloc(m->nlabels + 1, sizeof(*m->labels));
	for (size_t i = 0; i < m->nlabels; i++)
		m->labels[i] = xstrdup(labels[i]);
	if (nbounds > 0) {
		m->bounds = xmalloc(nbounds * sizeof(*m->bounds));
		memcpy(m->bounds, bounds, nbounds * sizeof(*m->bounds));
	}
	m->nbounds = nbounds;
	m->prev = reg->last;
	if (reg->last)
		reg->last->next = m;
	else
		reg->first = m;
	reg->last = m;
	/* A family without labels has its one series at once: 0 is a value too. */
	if (m->nlabels == 0 && !collector)
		series_new(m, NULL, values_hash(NULL, 0));
	return m;
}

struct metric *metrics_counter(struct metrics *reg, const char *name, const char *help,
			       const char *const *labels)
{
	return family_new(reg, METRIC_COUNTER, name, help, labels, NULL, 0, false);
}

struct metric *metrics_gauge(struct metrics *reg, const char *name, const char *help,
			     const char *const *labels)
{
	return family_new(reg, METRIC_GAUGE, name, help, labels, NULL, 0, false);
}

struct metric *metrics_histogram(struct metrics *reg, const char *name, const char *help,
				 const char *const *labels, const double *bounds, size_t nbounds)
{
	return family_new(reg, METRIC_HISTOGRAM, name, help, labels, bounds, nbounds, false);
}

struct metric *metrics_collector(struct metrics *reg, enum metric_type type, const char *name,
				 const char *help, const char *const *labels, metrics_collect_fn fn,
				 void *arg)
{
	if (type == METRIC_HISTOGRAM)
		bug("%s: a collector writes counters or gauges", name);
	struct metric *m = family_new(reg, type, name, help, labels, NULL, 0, true);

	m->collect = fn;
	m->collect_arg = arg;
	return m;
}

void metrics_unregister(struct metric *m)
{
	struct metrics *reg;

	if (!m)
		return;
	reg = m->reg;
	if (m->prev)
		m->prev->next = m->next;
	else
		reg->first = m->next;
	if (m->next)
		m->next->prev = m->prev;
	else
		reg->last = m->prev;
	family_free(m);
}

void metrics_on_collect(struct metrics *reg, void (*fn)(void *arg), void *arg)
{
	struct collect_hook *h = xmalloc(sizeof(*h));
	struct collect_hook **tail = &reg->hooks;

	h->fn = fn;
	h->arg = arg;
	h->next = NULL;
	while (*tail)
		tail = &(*tail)->next;
	*tail = h;
}

void metrics_on_collect_remove(struct metrics *reg, void (*fn)(void *arg), void *arg)
{
	for (struct collect_hook **pp = &reg->hooks; *pp; pp = &(*pp)->next) {
		struct collect_hook *h = *pp;

		if (h->fn == fn && h->arg == arg) {
			*pp = h->next;
			free(h);
			return;
		}
	}
}

/* --- series ------------------------------------------------------------------ */

/* FNV-1a over the values, each followed by a byte no UTF-8 text holds. */
static uint64_t values_hash(const char *const *values, size_t n)
{
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < n; i++) {
		for (const unsigned char *p = (const unsigned char *)values[i]; *p; p++) {
			h ^= *p;
			h *= 1099511628211ULL;
		}
		h ^= 0xff;
		h *= 1099511628211ULL;
	}
	return h;
}

static void table_insert(struct metric *m, struct metric_series *s)
{
	size_t i = (size_t)(s->hash & (m->table_size - 1));

	s->hnext = m->table[i];
	m->table[i] = s;
}

static void table_grow(struct metric *m)
{
	m->table_size = m->table_size ? m->table_size * 2 : 16;
	free(m->table);
	m->table = xcalloc(m->table_size, sizeof(*m->table));
	for (struct metric_series *s = m->first; s; s = s->next)
		table_insert(m, s);
}

static struct metric_series *series_new(struct metric *m, const char *const *values, uint64_t hash)
{
	struct metric_series *s = xcalloc(1, sizeof(*s));

	s->family = m;
	s->hash = hash;
	s->values = xcalloc(m->nlabels + 1, sizeof(*s->values));
	for (size_t i = 0; i < m->nlabels; i++)
		s->values[i] = xstrdup(values[i]);
	if (m->type == METRIC_HISTOGRAM)
		s->buckets = xcalloc(m->nbounds + 1, sizeof(*s->buckets));
	s->prev = m->last;
	if (m->last)
		m->last->next = s;
	else
		m->first = s;
	m->last = s;
	m->nseries++;
	if (m->nseries > m->table_size)
		table_grow(m);
	else
		table_insert(m, s);
	return s;
}

struct metric_series *metrics_series(struct metric *m, const char *const *values)
{
	if (m->collect)
		bug("%s is a collector: it has no series to update", m->name);
	for (size_t i = 0; i < m->nlabels; i++) {
		if (!values || !values[i])
			bug("%s: %zu label values needed", m->name, m->nlabels);
	}
	uint64_t hash = values_hash(values, m->nlabels);

	if (m->table_size) {
		for (struct metric_series *s = m->table[hash & (m->table_size - 1)]; s;
		     s = s->hnext) {
			size_t i = 0;

			if (s->hash != hash)
				continue;
			while (i < m->nlabels && strcmp(s->values[i], values[i]) == 0)
				i++;
			if (i == m->nlabels)
				return s;
		}
	}
	return series_new(m, values, hash);
}

void metrics_series_drop(struct metric_series *s)
{
	struct metric *m;

	if (!s)
		return;
	m = s->family;
	for (struct metric_series **pp = &m->table[s->hash & (m->table_size - 1)]; *pp;
	     pp = &(*pp)->hnext) {
		if (*pp == s) {
			*pp = s->hnext;
			break;
		}
	}
	if (s->prev)
		s->prev->next = s->next;
	else
		m->first = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		m->last = s->prev;
	m->nseries--;
	series_free(s);
}

void metrics_inc(struct metric_series *s)
{
	metrics_add(s, 1);
}

void metrics_add(struct metric_series *s, double v)
{
	if (s->family->type == METRIC_HISTOGRAM)
		bug("%s: a histogram observes, it does not add", s->family->name);
	/* A counter that went down would read as a restart of the process. */
	if (s->family->type == METRIC_COUNTER && !(v >= 0))
		return;
	s->value += v;
}

void metrics_set(struct metric_series *s, double v)
{
	if (s->family->type != METRIC_GAUGE)
		bug("%s: only a gauge is set", s->family->name);
	s->value = v;
}

double metrics_value(const struct metric_series *s)
{
	return s->value;
}

void metrics_observe(struct metric_series *s, double v)
{
	struct metric *m = s->family;
	size_t i = 0;

	if (m->type != METRIC_HISTOGRAM)
		bug("%s: only a histogram observes", m->name);
	if (isnan(v))
		return;
	while (i < m->nbounds && v > m->bounds[i])
		i++;
	s->buckets[i]++;
	s->sum += v;
	s->count++;
}

/* --- the exposition ------------------------------------------------------------ */

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		while (b->len + n + 1 > b->cap)
			b->cap = b->cap ? b->cap * 2 : 4096;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* Label values escape backslash, double quote and newline; help text the first and last. */
static void buf_escaped(struct buf *b, const char *s, bool quote)
{
	const char *run = s;

	for (const char *p = s; *p; p++) {
		const char *esc = NULL;

		if (*p == '\\')
			esc = "\\\\";
		else if (*p == '\n')
			esc = "\\n";
		else if (quote && *p == '"')
			esc = "\\\"";
		if (!esc)
			continue;
		buf_add(b, run, (size_t)(p - run));
		buf_str(b, esc);
		run = p + 1;
	}
	buf_str(b, run);
}

/*
 * Integers as integers, other values in the fewest digits that read back
 * exactly, and the three specials as Prometheus spells them.
 */
static void format_double(char *out, size_t n, double v)
{
	if (isnan(v))
		str_copy_trunc(out, "NaN", n);
	else if (isinf(v))
		str_copy_trunc(out, v > 0 ? "+Inf" : "-Inf", n);
	else if (v == 0)
		str_copy_trunc(out, "0", n);
	else if (v == floor(v) && fabs(v) < 1e15)
		snprintf(out, n, "%.0f", v);
	else {
		snprintf(out, n, "%.15g", v);
		if (strtod(out, NULL) != v)
			snprintf(out, n, "%.17g", v);
	}
}

static void buf_double(struct buf *b, double v)
{
	char text[40];

	format_double(text, sizeof(text), v);
	buf_str(b, text);
}

/* name{a="x",b="y"[,le="..."]} value */
static void sample(struct buf *b, const struct metric *m, const char *suffix,
		   const char *const *values, const char *le, double v)
{
	bool braces = m->nlabels > 0 || le;

	buf_str(b, m->name);
	if (suffix)
		buf_str(b, suffix);
	if (braces)
		buf_str(b, "{");
	for (size_t i = 0; i < m->nlabels; i++) {
		if (i > 0)
			buf_str(b, ",");
		buf_str(b, m->labels[i]);
		buf_str(b, "=\"");
		buf_escaped(b, values[i], true);
		buf_str(b, "\"");
	}
	if (le) {
		if (m->nlabels > 0)
			buf_str(b, ",");
		buf_str(b, "le=\"");
		buf_str(b, le);
		buf_str(b, "\"");
	}
	if (braces)
		buf_str(b, "}");
	buf_str(b, " ");
	buf_double(b, v);
	buf_str(b, "\n");
}

static void histogram_samples(struct buf *b, const struct metric *m, const struct metric_series *s)
{
	uint64_t cumulative = 0;
	const char *const *values = (const char *const *)s->values;

	for (size_t i = 0; i <= m->nbounds; i++) {
		char le[40];

		cumulative += s->buckets[i];
		format_double(le, sizeof(le), i < m->nbounds ? m->bounds[i] : INFINITY);
		sample(b, m, "_bucket", values, le, (double)cumulative);
	}
	sample(b, m, "_sum", values, NULL, s->sum);
	sample(b, m, "_count", values, NULL, (double)s->count);
}

static const char *type_name(enum metric_type t)
{
	switch (t) {
	case METRIC_COUNTER:
		return "counter";
	case METRIC_GAUGE:
		return "gauge";
	case METRIC_HISTOGRAM:
		return "histogram";
	}
	return "untyped";
}

void metrics_sink_sample(struct metrics_sink *sink, const char *const *values, double v)
{
	for (size_t i = 0; i < sink->m->nlabels; i++) {
		if (!values || !values[i])
			bug("%s: %zu label values needed", sink->m->name, sink->m->nlabels);
	}
	sample(sink->b, sink->m, NULL, values, NULL, v);
}

char *metrics_expose(struct metrics *reg, size_t *len)
{
	struct buf b = {0};

	for (struct collect_hook *h = reg->hooks; h; h = h->next)
		h->fn(h->arg);
	buf_add(&b, "", 0);
	for (struct metric *m = reg->first; m; m = m->next) {
		buf_str(&b, "# HELP ");
		buf_str(&b, m->name);
		buf_str(&b, " ");
		buf_escaped(&b, m->help, false);
		buf_str(&b, "\n# TYPE ");
		buf_str(&b, m->name);
		buf_str(&b, " ");
		buf_str(&b, type_name(m->type));
		buf_str(&b, "\n");
		if (m->collect) {
			struct metrics_sink sink = {&b, m};

			m->collect(&sink, m->collect_arg);
			continue;
		}
		for (struct metric_series *s = m->first; s; s = s->next) {
			if (m->type == METRIC_HISTOGRAM)
				histogram_samples(&b, m, s);
			else
				sample(&b, m, NULL, (const char *const *)s->values, NULL, s->value);
		}
	}
	if (len)
		*len = b.len;
	return b.p;
}
