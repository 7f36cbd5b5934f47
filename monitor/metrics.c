/*
 * The health sweep's metrics: each watched cluster's health, nodes,
 * unassigned shards and age of its last read, and the replica's own
 * figures (clusters watched, shards held, lag, reads in flight, reads,
 * changes, takeovers).
 */
#include "monitor/sweep_internal.h"
#include "common/metrics.h"
#include "common/util.h"

#include <math.h>

#define TEXT_OF(x) #x
#define TEXT(x) TEXT_OF(x)
#define SHARDS_TEXT TEXT(HEALTH_SHARDS)

/* --- metrics ------------------------------------------------------------------------------ */

enum figure {
	FIG_STATUS,
	FIG_NODES,
	FIG_UNASSIGNED,
	FIG_AGE,
	FIG_WATCHED,
	FIG_SHARDS,
	FIG_SWEEPING,
	FIG_LAG,
	FIG_READS,
};

/* The collectors' argument: the sweep and which figure. */
struct figure_arg {
	struct sweep *s;
	enum figure fig;
};

static struct figure_arg figure_args[FIG_READS + 1];

static void cluster_figure(struct metrics_sink *sink, const struct sweep *s, enum figure fig)
{
	int64_t now = now_wall_ms();

	for (size_t i = 0; i < s->ntargets; i++) {
		const struct target *t = s->targets[i];
		const char *v[] = {t->tenant, t->name, NULL};

		switch (fig) {
		case FIG_STATUS:
			if (t->health == HEALTH_UNKNOWN)
				break;
			for (size_t h = HEALTH_GREEN; h < ARRAY_SIZE(sweep_health_names); h++) {
				v[2] = sweep_health_names[h];
				metrics_sink_sample(sink, v, t->health == (enum health)h ? 1 : 0);
			}
			break;
		case FIG_NODES:
			if (t->nodes >= 0)
				metrics_sink_sample(sink, v, t->nodes);
			break;
		case FIG_UNASSIGNED:
			if (t->unassigned >= 0)
				metrics_sink_sample(sink, v, t->unassigned);
			break;
		default:
			metrics_sink_sample(sink, v,
					    t->observed_ms ? (double)(now - t->observed_ms) / 1000.0
							   : INFINITY);
			break;
		}
	}
}

static void figure_cb(struct metrics_sink *sink, void *arg)
{
	const struct figure_arg *a = arg;
	const struct sweep *s = a->s;
	int held = 0;
	double v = 0;

	for (int i = 0; i < HEALTH_SHARDS; i++)
		held += s->shards[i].held;
	switch (a->fig) {
	case FIG_STATUS:
	case FIG_NODES:
	case FIG_UNASSIGNED:
	case FIG_AGE:
		cluster_figure(sink, s, a->fig);
		return;
	case FIG_WATCHED:
		v = (double)s->ntargets;
		break;
	case FIG_SHARDS:
		v = held;
		break;
	case FIG_SWEEPING:
		v = held > 0 && !s->stopping;
		break;
	case FIG_LAG:
		if (s->nheap > 0 && s->heap[0]->due_mono < now_mono_ms())
			v = (double)(now_mono_ms() - s->heap[0]->due_mono) / 1000.0;
		break;
	case FIG_READS:
		v = s->reads;
		break;
	}
	metrics_sink_sample(sink, NULL, v);
}

/*
 * A cluster's health is one series per status, 1 for the current one and
 * 0 for the others (the convention of kube-state-metrics and of the
 * Elasticsearch exporter), so that a query selects a status by label
 * rather than by a number with a meaning to remember.  A cluster's series
 * come from the replica that sweeps it.
 */
void sweep_metrics_setup(struct sweep *s)
{
	static const char *const tcs[] = {"tenant", "cluster", "status", NULL};
	static const char *const tc[] = {"tenant", "cluster", NULL};
	static const char *const result[] = {"result", NULL};
	static const struct {
		const char *name, *help;
		const char *const *labels;
	} figures[] = {
		[FIG_STATUS] = {"esaas_cluster_health_status",
				"A cluster's health at its last check: 1 for the status it has "
				"(green, yellow, red or unreachable), 0 for the others.",
				tcs},
		[FIG_NODES] = {"esaas_cluster_nodes",
			       "Nodes in the cluster at its last successful health read.", tc},
		[FIG_UNASSIGNED] =
			{"esaas_cluster_unassigned_shards",
			 "Unassigned shards at the cluster's last successful health read.", tc},
		[FIG_AGE] = {"esaas_cluster_health_read_age_seconds",
			     "Seconds since the cluster's last successful health read (+Inf: "
			     "never).",
			     tc},
		[FIG_WATCHED] = {"esaas_health_clusters_watched", "Clusters this replica sweeps.",
				 NULL},
		[FIG_SHARDS] =
			{"esaas_health_shards_owned",
			 "Shards of the clusters whose lease this replica holds; every shard "
			 "is swept when the replicas hold " SHARDS_TEXT " together.",
			 NULL},
		[FIG_SWEEPING] = {"esaas_health_sweeping",
				  "1 while this replica sweeps at least one shard of the clusters.",
				  NULL},
		[FIG_LAG] = {"esaas_health_sweep_lag_seconds",
			     "How far behind its due time the most overdue health read is.", NULL},
		[FIG_READS] = {"esaas_health_reads_in_flight", "Health reads running now.", NULL},
	};
	struct metrics *reg = metrics_default();

	for (size_t i = 0; i < ARRAY_SIZE(figures); i++) {
		figure_args[i].s = s;
		figure_args[i].fig = (enum figure)i;
		s->collectors[i] =
			metrics_collector(reg, METRIC_GAUGE, figures[i].name, figures[i].help,
					  figures[i].labels, figure_cb, &figure_args[i]);
	}
	struct metric *reads = metrics_counter(reg, "esaas_health_reads_total",
					       "Cluster health reads ended, by result (ok, or "
					       "unreachable: no usable answer).",
					       result);
	const char *ok[] = {"ok"}, *failed[] = {"unreachable"};

	s->reads_ok = metrics_series(reads, ok);
	s->reads_failed = metrics_series(reads, failed);
	s->changes = metrics_series(
		metrics_counter(reg, "esaas_health_changes_total",
				"Changes of cluster health appended to the history.", NULL),
		NULL);
	s->takeovers = metrics_series(
		metrics_counter(reg, "esaas_health_shard_takeovers_total",
				"Shards this replica claimed after another replica's lease on "
				"them expired.",
				NULL),
		NULL);
}
