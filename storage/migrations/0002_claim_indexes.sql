-- The claim asks two questions of every candidate: is another job of its
-- cluster in progress, and is an earlier one still queued?  Each gets an
-- index of its own, so that a claim reads a few rows, not the whole queue.

CREATE INDEX jobs_cluster_in_progress ON jobs (tenant_id, cluster)
	WHERE status IN ('running', 'waiting', 'cancelling');

CREATE INDEX jobs_cluster_queued ON jobs (tenant_id, cluster, queue_seq)
	WHERE status = 'queued';

DROP INDEX jobs_cluster_active;

-- Bursts of submissions would otherwise leave the planner without
-- statistics for a while.
ALTER TABLE jobs SET (autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 200);
