/*
 * The health sweep's targets: the clusters this replica watches, kept by id
 * and merged with the list read from the database, and the binary heap of
 * their due times, the most overdue first.
 */
#include "monitor/sweep_internal.h"
#include "common/log.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

/* --- the heap of due times ------------------------------------------------------- */

static void heap_set(struct sweep *s, size_t i, struct target *t)
{
	s->heap[i] = t;
	t->heap_at = i;
}

static void heap_up(struct sweep *s, size_t i)
{
	struct target *t = s->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (s->heap[parent]->due_mono <= t->due_mono)
			break;
		heap_set(s, i, s->heap[parent]);
		i = parent;
	}
	heap_set(s, i, t);
}

static void heap_down(struct sweep *s, size_t i)
{
	struct target *t = s->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= s->nheap)
			break;
		if (child + 1 < s->nheap && s->heap[child + 1]->due_mono < s->heap[child]->due_mono)
			child++;
		if (t->due_mono <= s->heap[child]->due_mono)
			break;
		heap_set(s, i, s->heap[child]);
		i = child;
	}
	heap_set(s, i, t);
}

void sweep_heap_push(struct sweep *s, struct target *t)
{
	if (s->nheap == s->heap_cap) {
		s->heap_cap = s->heap_cap ? s->heap_cap * 2 : 64;
		s->heap = xrealloc(s->heap, s->heap_cap * sizeof(*s->heap));
	}
	s->heap[s->nheap] = t;
	t->heap_at = s->nheap++;
	heap_up(s, t->heap_at);
}

void sweep_heap_remove(struct sweep *s, struct target *t)
{
	size_t i = t->heap_at;

	if (i == HEAP_NONE)
		return;
	t->heap_at = HEAP_NONE;
	if (--s->nheap == i)
		return;
	struct target *last = s->heap[s->nheap];

	heap_set(s, i, last);
	heap_down(s, i);
	heap_up(s, last->heap_at);
}

struct target *sweep_heap_pop(struct sweep *s)
{
	struct target *t = s->heap[0];

	sweep_heap_remove(s, t);
	return t;
}

/* --- targets ------------------------------------------------------------------------ */

void sweep_target_free(struct sweep *s, struct target *t)
{
	if (t->read)
		sweep_read_cancel(t->read);
	if (t->budget)
		sweep_budget_cancel(t->budget);
	sweep_heap_remove(s, t);
	free(t->spec);
	free(t->job);
	free(t->security);
	free(t->tenant);
	free(t->name);
	free(t->ns);
	free(t);
}

struct target *sweep_target_find(const struct sweep *s, int64_t id)
{
	size_t lo = 0, hi = s->ntargets;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->targets[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->ntargets && s->targets[lo]->id == id ? s->targets[lo] : NULL;
}

/* Stop watching the clusters of a shard this replica no longer holds. */
void sweep_drop_shard(struct sweep *s, int shard)
{
	size_t k = 0;

	s->shards[shard].held = false;
	for (size_t i = 0; i < s->ntargets; i++) {
		if (s->targets[i]->shard == shard)
			sweep_target_free(s, s->targets[i]);
		else
			s->targets[k++] = s->targets[i];
	}
	s->ntargets = k;
}

static void set_str(char **dst, const char *src)
{
	if (*dst && src && strcmp(*dst, src) == 0)
		return;
	free(*dst);
	*dst = src ? xstrdup(src) : NULL;
}

/*
 * The clusters of the shards held, by id, merged into the targets (also by
 * id): new ones are queued, gone ones dropped, the others keep their place
 * in the heap and what they know.
 */
void sweep_merge_targets(struct sweep *s, const struct health_target *rows, int n)
{
	struct target **merged = xcalloc(s->ntargets + (size_t)n + 1, sizeof(*merged));
	size_t i = 0, k = 0, added = 0;
	int j = 0;
	int64_t now = now_mono_ms();

	while (i < s->ntargets || j < n) {
		const struct health_target *row = j < n ? &rows[j] : NULL;
		struct target *t = i < s->ntargets ? s->targets[i] : NULL;

		if (row && !s->shards[row->shard].held) {
			/* Its shard was given up while the list was read. */
			j++;
			continue;
		}
		if (t && (!row || t->id < row->id)) {
			sweep_target_free(s, t);
			i++;
			continue;
		}
		if (t && t->id == row->id) {
			set_str(&t->tenant, row->tenant);
			set_str(&t->name, row->name);
			set_str(&t->ns, row->ns);
			set_str(&t->spec, row->spec);
			set_str(&t->job, row->job);
			set_str(&t->security, row->security);
			merged[k++] = t;
			i++;
			j++;
			continue;
		}
		t = xcalloc(1, sizeof(*t));
		t->id = row->id;
		t->shard = row->shard;
		t->tenant = xstrdup(row->tenant);
		t->name = xstrdup(row->name);
		t->ns = xstrdup(row->ns);
		set_str(&t->spec, row->spec);
		set_str(&t->job, row->job);
		set_str(&t->security, row->security);
		t->health = sweep_health_of(row->status);
		t->nodes = row->nodes;
		t->unassigned = row->unassigned;
		t->observed_ms = row->observed_ms;
		t->due_mono = now + (int64_t)rand_below((uint64_t)s->opt.interval_ms);
		t->heap_at = HEAP_NONE;
		sweep_heap_push(s, t);
		merged[k++] = t;
		added++;
		j++;
	}
	free(s->targets);
	s->targets = merged;
	s->ntargets = k;
	if (added)
		log_debug("health sweep: %zu clusters new to this replica, %zu watched", added, k);
}
